//! `logseal keygen`: make an Ed25519 checkpoint signing key.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use logseal_core::SignerKey;
use rand_core::{OsRng, RngCore};

/// Make a signing key: writes NAME.key (secret) and NAME.pub, prints the verifier key.
///
/// The key files use the text forms of Go's golang.org/x/mod/sumdb/note
/// (`PRIVATE+KEY+name+id+key` and `name+id+key`), so other tools load them.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  logseal keygen --name example.com/audit --out keys/\n  \
logseal seal --key keys/example.com_audit.key app.log > sealed.ndjson"
)]
pub struct Args {
    /// Key name: the stream origin, such as `example.com/audit`.
    #[arg(long)]
    name: String,
    /// Directory to write the key files into.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Overwrite existing key files.
    #[arg(long)]
    force: bool,
}

/// File stem for a key name: `/` and other unsafe characters become `_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn run(a: Args) -> Result<ExitCode> {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    let key = SignerKey::from_seed(&a.name, seed).context("invalid --name")?;
    fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let stem = file_stem(&a.name);
    let skey = a.out.join(format!("{stem}.key"));
    let vkey = a.out.join(format!("{stem}.pub"));
    if !a.force && (skey.exists() || vkey.exists()) {
        bail!("{} exists; use --force to overwrite", skey.display());
    }
    let mut f = {
        let mut o = fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(&skey)
            .with_context(|| format!("cannot write {}", skey.display()))?
    };
    writeln!(f, "{}", key.to_private_string())?;
    fs::write(&vkey, format!("{}\n", key.verifier()))
        .with_context(|| format!("cannot write {}", vkey.display()))?;
    eprintln!("wrote {} (secret) and {}", skey.display(), vkey.display());
    println!("{}", key.verifier());
    Ok(ExitCode::SUCCESS)
}

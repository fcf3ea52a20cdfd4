//! `logseal seal`: the reference sealer.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use logseal_core::seal::{ChainState, new_epoch_id};
use logseal_core::{Input, SealConfig, Sealer, SignerKey};
use logseal_pipeline::Processor;
use rand_core::{OsRng, RngCore};

use crate::input;

/// Seal NDJSON records (files or stdin) to stdout.
///
/// Every line becomes one sealed record: the original object plus a `_logseal`
/// member, in canonical JSON. Lines that are not JSON objects are kept whole
/// inside a wrapper record and sealed in their place (never dropped). This is
/// the reference sealer: every plugin produces byte-identical output for the
/// same input and configuration.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  logseal seal --key audit.key app.ndjson > sealed.ndjson\n  \
zcat app.ndjson.gz | logseal seal --key audit.key --checkpoint-every 100 --checkpoints cps.txt > sealed.ndjson\n  \
logseal seal --key audit.key --state chain.json today.ndjson >> sealed.ndjson   # continues the chain"
)]
pub struct Args {
    /// Signing key file (`PRIVATE+KEY+...`, from `logseal keygen`).
    #[arg(long)]
    key: PathBuf,
    /// Stream name (default: the key's name).
    #[arg(long)]
    stream: Option<String>,
    /// Epoch ID of a new chain (default: the current UTC time and 32 random bits).
    #[arg(long)]
    epoch: Option<String>,
    /// Attach a signed checkpoint every N records (0: only at the end).
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: u64,
    /// Attach a signed checkpoint when the event time advanced this many
    /// seconds (needs records with a host time; 0: off).
    #[arg(long, default_value_t = 0)]
    checkpoint_interval: u64,
    /// Also append every checkpoint to this file (keep it apart from the log:
    /// it is what proves a cut-off tail).
    #[arg(long)]
    checkpoints: Option<PathBuf>,
    /// Chain state file: continue the chain it holds, and save the head there at the end.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Do not force a checkpoint onto the last record (a streaming plugin
    /// cannot know which record is last; use this to compare with one).
    #[arg(long)]
    no_final_checkpoint: bool,
    /// Score records with the anomaly engine before sealing: a preset name
    /// (ecs, ocsf, k8s-audit, cloudtrail, sshd, envoy, default) or a policy file.
    #[arg(long)]
    policy: Option<String>,
    /// Records longer than this many bytes are wrapped, not parsed.
    #[arg(long, default_value_t = logseal_core::seal::DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,
    /// Input files ("-" or none: stdin; gzip is detected).
    files: Vec<String>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let text = fs::read_to_string(&a.key)
        .with_context(|| format!("cannot read key file {}", a.key.display()))?;
    let key = SignerKey::parse(&text).with_context(|| format!("{}", a.key.display()))?;
    let stream = a.stream.clone().unwrap_or_else(|| key.name().to_string());
    let epoch = a.epoch.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        new_epoch_id(now, OsRng.next_u32())
    });
    let mut cfg = SealConfig::new(&stream, &epoch);
    cfg.checkpoint_every = a.checkpoint_every;
    cfg.checkpoint_interval_ns = a.checkpoint_interval.saturating_mul(1_000_000_000);
    cfg.max_record_bytes = a.max_record_bytes;
    let policy = match &a.policy {
        None => None,
        Some(p) => Some(load_policy(p)?),
    };
    let sealer = match a.state.as_ref().filter(|p| p.exists()) {
        Some(p) => {
            let st =
                fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            let st = ChainState::from_json(&st).with_context(|| format!("{}", p.display()))?;
            Sealer::resume(key, cfg, st)?
        }
        None => Sealer::new(key, cfg)?,
    };
    let mut sealer = Processor::new(sealer, policy);
    let mut cp_out = match &a.checkpoints {
        Some(p) => Some(BufWriter::new(
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))?,
        )),
        None => None,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let files = if a.files.is_empty() {
        vec!["-".to_string()]
    } else {
        a.files.clone()
    };

    // Hold one record back so the last one can carry the final checkpoint.
    let mut pending: Option<Vec<u8>> = None;
    let mut wrapped = 0u64;
    let mut emit = |rec: &[u8],
                    last: bool,
                    sealer: &mut Processor,
                    out: &mut dyn Write,
                    cp_out: &mut Option<BufWriter<fs::File>>|
     -> Result<()> {
        let s = sealer.process(Input {
            record: rec,
            force_checkpoint: last && !a.no_final_checkpoint,
            ..Input::default()
        });
        if let Some(why) = &s.wrapped {
            wrapped += 1;
            if wrapped <= 10 {
                eprintln!("logseal seal: record {} kept wrapped: {why}", s.seq);
            }
        }
        out.write_all(&s.line)?;
        out.write_all(b"\n")?;
        if let (Some(cp), Some(w)) = (&s.checkpoint, cp_out.as_mut()) {
            w.write_all(cp.as_bytes())?;
        }
        Ok(())
    };
    for f in &files {
        let mut src = input::open(f)?;
        input::for_each_line(&mut src, |_, line| {
            if line.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            if let Some(p) = pending.replace(line.to_vec()) {
                emit(&p, false, &mut sealer, &mut out, &mut cp_out)?;
            }
            Ok(())
        })?;
    }
    if let Some(p) = pending.take() {
        emit(&p, true, &mut sealer, &mut out, &mut cp_out)?;
    }
    out.flush().context("writing stdout")?;
    if let Some(w) = cp_out.as_mut() {
        w.flush().context("writing checkpoints")?;
    }
    if let Some(p) = &a.state {
        let tmp = p.with_extension("tmp");
        fs::write(&tmp, sealer.sealer().state().to_json() + "\n")
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, p).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if wrapped > 0 {
        eprintln!(
            "logseal seal: {wrapped} record(s) were not JSON objects and were sealed wrapped"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A preset name or a policy file.
pub fn load_policy(p: &str) -> Result<logseal_anomaly::Policy> {
    if let Some(pol) = logseal_anomaly::Policy::preset(p) {
        return Ok(pol);
    }
    let text = fs::read_to_string(p).with_context(|| {
        format!(
            "--policy {p}: not a preset ({}) and not a readable file",
            logseal_anomaly::PRESETS.join(", ")
        )
    })?;
    logseal_anomaly::Policy::parse(&text).with_context(|| format!("policy file {p}"))
}

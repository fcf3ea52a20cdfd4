//! Reading NDJSON from files or stdin, gzip or not.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;

/// A line source: name for messages, reader, and total size when known.
pub struct Source {
    pub name: String,
    pub reader: Box<dyn BufRead>,
    pub size: Option<u64>,
}

/// Open `path` ("-" is stdin). Gzip is detected by its magic bytes.
pub fn open(path: &str) -> Result<Source> {
    let (name, raw, size): (String, Box<dyn Read>, Option<u64>) = if path == "-" {
        ("<stdin>".into(), Box::new(io::stdin().lock()), None)
    } else {
        let f = File::open(Path::new(path)).with_context(|| format!("cannot open {path}"))?;
        let size = f.metadata().ok().map(|m| m.len());
        (path.to_string(), Box::new(f), size)
    };
    let mut br = BufReader::with_capacity(1 << 16, raw);
    let gz = br
        .fill_buf()
        .with_context(|| format!("cannot read {name}"))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead> = if gz {
        Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(br)))
    } else {
        Box::new(br)
    };
    Ok(Source { name, reader, size })
}

/// Call `f(file_name, line_number, line)` for every line of `files` (none:
/// stdin) that is not blank.
pub fn for_each_record(
    files: &[String],
    mut f: impl FnMut(&str, u64, &[u8]) -> Result<()>,
) -> Result<()> {
    let stdin = ["-".to_string()];
    for path in if files.is_empty() { &stdin[..] } else { files } {
        let mut src = open(path)?;
        let name = src.name.clone();
        for_each_line(&mut src, |n, line| {
            if line.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            f(&name, n, line)
        })?;
    }
    Ok(())
}

/// Call `f(line_number, line)` for every line (without `\n` or `\r\n`).
/// Returns the number of bytes read.
pub fn for_each_line(src: &mut Source, mut f: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<u64> {
    let mut buf = Vec::with_capacity(1024);
    let mut n = 0u64;
    let mut bytes = 0u64;
    loop {
        buf.clear();
        let got = src
            .reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("{}: read error after line {n}", src.name))?;
        if got == 0 {
            return Ok(bytes);
        }
        bytes += got as u64;
        n += 1;
        let mut line = buf.as_slice();
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        }
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        f(n, line)?;
    }
}

/// Read keys: each argument is a verifier key or a file of keys (one per line).
pub fn verifier_keys(args: &[String]) -> Result<Vec<logseal_core::VerifierKey>> {
    let mut keys = Vec::new();
    for a in args {
        let text = if Path::new(a).is_file() {
            std::fs::read_to_string(a).with_context(|| format!("cannot read key file {a}"))?
        } else {
            a.clone()
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let k = logseal_core::VerifierKey::parse(line)
                .with_context(|| format!("{a}: line {}: not a verifier key", i + 1))?;
            keys.push(k);
        }
    }
    Ok(keys)
}

pub use logseal_core::note::split_notes;

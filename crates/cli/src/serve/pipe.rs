//! Without Vector: NDJSON from stdin or files to stdout or a file, batch by
//! batch, so the sidecar can sit behind Fluent Bit's or Vector's `exec` and
//! `socket` stages (or `socat`). A batch is whatever arrived without waiting,
//! up to `--batch` records; it is written and flushed, then the chain head is
//! saved, so a restart continues the chain.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::backend::Backend;
use super::store::{Store, append_checkpoints};
use crate::input;

/// Pipe-mode settings.
pub struct PipeOpts {
    /// Inputs ("-" is stdin).
    pub files: Vec<String>,
    /// Output file (appended), or stdout.
    pub output: Option<PathBuf>,
    /// Records per batch at most.
    pub batch: usize,
    /// Checkpoint file from the configuration.
    pub checkpoints_file: Option<String>,
    /// Engine snapshot period.
    pub snapshot_every: Duration,
}

/// Run until the inputs end.
pub fn run(mut backend: Box<dyn Backend>, store: Store, o: PipeOpts) -> Result<()> {
    let batch = o.batch.max(1);
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(batch.saturating_mul(2));
    let files = o.files.clone();
    let reader = std::thread::spawn(move || -> Result<()> {
        for f in &files {
            let mut src = input::open(f)?;
            input::for_each_line(&mut src, |_, line| {
                if !line.iter().all(u8::is_ascii_whitespace) {
                    // The receiver only goes away on a write error.
                    let _ = tx.send(line.to_vec());
                }
                Ok(())
            })?;
        }
        Ok(())
    });
    let mut out: Box<dyn Write> = match &o.output {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 16,
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
    };
    let mut last_snapshot = Instant::now();
    let mut lines: Vec<Vec<u8>> = Vec::with_capacity(batch);
    let mut wrapped = 0usize;
    while let Ok(first) = rx.recv() {
        lines.clear();
        lines.push(first);
        while lines.len() < batch {
            match rx.try_recv() {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let done = backend.process(&refs)?;
        wrapped += done.wrapped;
        out.write_all(&done.ndjson).context("writing output")?;
        out.flush().context("writing output")?;
        store.save_head(&backend.state()?, &[], false)?;
        append_checkpoints(o.checkpoints_file.as_deref(), &done.checkpoints)?;
        if last_snapshot.elapsed() >= o.snapshot_every {
            store.save_engine(&backend.engine_snapshot()?)?;
            last_snapshot = Instant::now();
        }
    }
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("input reader panicked"))??;
    store.save_engine(&backend.engine_snapshot()?)?;
    store.save_head(&backend.state()?, &[], true)?;
    if wrapped > 0 {
        eprintln!(
            "logseal serve: {wrapped} record(s) were not JSON objects and were sealed wrapped"
        );
    }
    Ok(())
}

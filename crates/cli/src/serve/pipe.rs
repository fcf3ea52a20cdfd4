//! Without Vector: NDJSON from stdin or files to stdout or a file, batch by
//! batch, so the sidecar can sit behind Fluent Bit's or Vector's `exec` and
//! `socket` stages (or `socat`). A batch is whatever arrived without waiting,
//! up to `--batch` records; it is written and flushed, then the chain head is
//! saved, so a restart continues the chain.
//!
//! SIGTERM and SIGINT end the input as EOF does: the reader stops reading,
//! the records it read are sealed and written, then the engine and a clean
//! head are saved and the process exits 0. Found by review (27): pipe mode
//! had no signal handling, so SIGTERM (how systemd, Docker, Kubernetes and
//! Vector's `exec` stop it) killed it on the spot: the baselines learned
//! since the last `--snapshot-interval` were lost and the head was left
//! unclean, so the next start opened a new epoch.

use std::fs;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
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

/// Run until the inputs end, or SIGTERM/SIGINT.
pub fn run(mut backend: Box<dyn Backend>, store: Store, o: PipeOpts) -> Result<()> {
    let batch = o.batch.max(1);
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(batch.saturating_mul(2));
    let files = o.files.clone();
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signals(&stop)?;
    let stopping = stop.clone();
    let reader = std::thread::spawn(move || -> Result<()> {
        for f in &files {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let mut src = input::open_until(f, &stop)?;
            if !read_records(&mut src, &stop, &tx)? {
                break;
            }
        }
        // Dropping `tx` ends the loop below once it took every record sent.
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
    let stopped = stopping.load(Ordering::SeqCst);
    store.save_engine(&backend.engine_snapshot()?)?;
    store.save_head(&backend.state()?, &[], true)?;
    if wrapped > 0 {
        eprintln!(
            "logseal serve: {wrapped} record(s) were not JSON objects and were sealed wrapped"
        );
    }
    if stopped {
        eprintln!("logseal serve: stopped cleanly");
    }
    Ok(())
}

/// Send the records of `src` (its non-blank lines, without `\n` or `\r\n`)
/// to the sealing loop, until it ends or `stop` is set. False when stopped.
///
/// A record is only sent whole. When the stop comes in the middle of one
/// (part of a line read, its newline not yet), the part read is neither
/// sealed nor written: sealed, it would enter the chain as a torn record
/// wrapped "not JSON" whose rest never comes (the rest stays in the pipe,
/// as all input not read yet, and goes when the process exits). It is not
/// dropped silently either: the log says how many bytes of which input.
/// Every whole line read before the stop is sealed and written (the loop
/// takes everything sent before `tx` is dropped), and nothing is read after
/// the stop ([`input::open_until`]), so nothing taken from the input is lost
/// without a word. A last line without a newline at a real end of input
/// (not a stop) is a record, as in every other mode.
fn read_records(
    src: &mut input::Source,
    stop: &AtomicBool,
    tx: &mpsc::SyncSender<Vec<u8>>,
) -> Result<bool> {
    let mut buf = Vec::with_capacity(1024);
    let mut n = 0u64;
    loop {
        buf.clear();
        let got = match src.reader.read_until(b'\n', &mut buf) {
            Ok(got) => got,
            // A gzip stream cut by the stop ends in a read error.
            Err(e) if stop.load(Ordering::SeqCst) => {
                eprintln!(
                    "logseal serve: {}: input cut short by the stop after line {n} ({e})",
                    src.name
                );
                0
            }
            Err(e) => {
                return Err(e).with_context(|| format!("{}: read error after line {n}", src.name));
            }
        };
        let stopped = stop.load(Ordering::SeqCst);
        if got == 0 || (stopped && !buf.ends_with(b"\n")) {
            if stopped && !buf.is_empty() {
                eprintln!(
                    "logseal serve: {}: stopped in the middle of line {}: its {} byte(s) read were not sealed or written",
                    src.name,
                    n + 1,
                    buf.len()
                );
            }
            return Ok(!stopped);
        }
        n += 1;
        let line = input::line_of(&buf);
        if !line.iter().all(u8::is_ascii_whitespace) && tx.send(line.to_vec()).is_err() {
            // The receiver only goes away on a write error, reported there.
            return Ok(false);
        }
    }
}

/// SIGTERM and SIGINT set `stop`, with tokio's signal handling as in the
/// HTTP mode (`cmd/serve.rs`). The handlers are installed before the first
/// record is read, so from then on a signal never kills the process before
/// it saved its state (SIGKILL still does; the next start then opens a new
/// epoch after the saved head).
#[cfg(unix)]
fn stop_on_signals(stop: &Arc<AtomicBool>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("signal handling")?;
    let (mut term, mut int) = {
        let _in_rt = rt.enter();
        (
            signal(SignalKind::terminate()).context("SIGTERM handler")?,
            signal(SignalKind::interrupt()).context("SIGINT handler")?,
        )
    };
    let stop = stop.clone();
    std::thread::Builder::new()
        .name("logseal-signals".into())
        .spawn(move || {
            rt.block_on(async {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            });
            stop.store(true, Ordering::SeqCst);
            eprintln!("logseal serve: shutting down; sealing the records read, saving the state");
        })
        .context("signal thread")?;
    Ok(())
}

#[cfg(not(unix))]
fn stop_on_signals(_stop: &Arc<AtomicBool>) -> Result<()> {
    Ok(())
}

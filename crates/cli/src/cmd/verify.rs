//! `logseal verify`: check sealed logs for tampering.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use logseal_core::record::AddedFields;
use logseal_core::{Report, Verifier, VerifyOptions};

use crate::input;

/// Verify sealed NDJSON logs: chains, Merkle trees and signed checkpoints.
///
/// Records may come in any order, from many files, with many streams and
/// epochs interleaved. Reports modified, deleted, inserted, forked, truncated
/// and rolled-back records with file:line, stream, epoch and seq, and says
/// which records a signed checkpoint proves and which are only linked.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  logseal verify --key audit.pub sealed.ndjson\n  \
logseal verify --key 'example.com/audit+1a2b3c4d+AX...' --checkpoints cps.txt part1.ndjson.gz part2.ndjson\n  \
logseal verify --key audit.pub --time-field date --format json out/*.log\n\n\
Exit codes: 0 intact, 1 tampering found, 2 usage or input error."
)]
pub struct Args {
    /// Verifier key (`name+id+key`) or a file of them, one per line. Repeatable.
    #[arg(long = "key")]
    keys: Vec<String>,
    /// Checkpoint file(s) kept apart from the log (signed notes one after another).
    #[arg(long)]
    checkpoints: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// A member the pipeline added holding the event time in seconds (Fluent
    /// Bit's `date`); checked against the sealed time, then ignored.
    #[arg(long)]
    time_field: Option<String>,
    /// A member the pipeline added holding the tag; checked against the sealed tag.
    #[arg(long)]
    tag_field: Option<String>,
    /// Never show a progress bar.
    #[arg(long)]
    quiet: bool,
    /// Threads that parse and hash records (default: all cores). The chain
    /// checks run on one thread; results do not depend on this number.
    #[arg(long)]
    threads: Option<usize>,
    /// Sealed NDJSON files ("-" or none: stdin; gzip is detected).
    files: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let keys = input::verifier_keys(&a.keys)?;
    let no_keys = keys.is_empty();
    let mut v = Verifier::new(VerifyOptions {
        keys,
        added: AddedFields {
            time_field: a.time_field.clone(),
            tag_field: a.tag_field.clone(),
        },
    });
    let files = if a.files.is_empty() {
        vec!["-".to_string()]
    } else {
        a.files.clone()
    };
    let mut sources = Vec::new();
    for f in &files {
        sources.push(input::open(f)?);
    }
    let total: u64 = sources.iter().filter_map(|s| s.size).sum();
    let bar = if !a.quiet && std::io::stderr().is_terminal() && total > 16 << 20 {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let added = AddedFields {
        time_field: a.time_field.clone(),
        tag_field: a.tag_field.clone(),
    };
    for mut src in sources {
        let id = v.add_file(&src.name);
        if threads > 1 {
            parallel::add_source(&mut v, id, &mut src, &added, threads, bar.as_ref())?;
            continue;
        }
        let mut since = 0u64;
        input::for_each_line(&mut src, |n, line| {
            v.add_line(id, n, line);
            since += line.len() as u64 + 1;
            if since > 1 << 20 {
                if let Some(b) = &bar {
                    b.inc(since);
                }
                since = 0;
            }
            Ok(())
        })?;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for p in &a.checkpoints {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read checkpoint file {}", p.display()))?;
        let id = v.add_file(&p.display().to_string());
        for (line, note) in input::split_notes(&text) {
            v.add_checkpoint(&note, id, line);
        }
    }
    let report = v.finish();
    if report.lines == 0 && report.chains.is_empty() {
        anyhow::bail!("no records in the input ({})", files.join(", "));
    }
    match a.format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text => print!("{}", render(&report, no_keys)),
    }
    Ok(if report.intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The human-readable report.
pub fn render(r: &Report, no_keys: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let records: u64 = r.chains.iter().map(|c| c.records).sum();
    let _ = writeln!(
        s,
        "{} record(s) in {} chain(s), {} line(s) read",
        records,
        r.chains.len(),
        r.lines
    );
    for c in &r.chains {
        let mark = if c.intact { "ok " } else { "BAD" };
        let _ = write!(
            s,
            "  {mark} {} epoch {}: seq {}..{} ({} records)",
            c.stream, c.epoch, c.first_seq, c.last_seq, c.records
        );
        if c.signed_size > 0 {
            let _ = write!(
                s,
                "; seq 0..{} proven by a checkpoint signed by {}",
                c.signed_size - 1,
                c.signed_by.join(", ")
            );
        } else {
            let _ = write!(s, "; no trusted signed checkpoint");
        }
        if c.unsigned_tail > 0 {
            let _ = write!(
                s,
                "; {} record(s) only linked (not yet signed)",
                c.unsigned_tail
            );
        }
        if c.flagged > 0 {
            let _ = write!(s, "; {} flagged anomalous", c.flagged);
        }
        s.push('\n');
    }
    if !r.findings.is_empty() {
        let _ = writeln!(s, "findings:");
        for f in &r.findings {
            let loc = f
                .locations
                .iter()
                .map(|l| format!("{}:{}", l.file, l.line))
                .collect::<Vec<_>>()
                .join(", ");
            let seq = match (f.seq, f.seq_end) {
                (Some(a), Some(b)) if a != b => format!(" seq {a}..{b}"),
                (Some(a), _) => format!(" seq {a}"),
                _ => String::new(),
            };
            let chain = match (&f.stream, &f.epoch) {
                (Some(st), Some(ep)) => format!(" [{st} {ep}{seq}]"),
                _ => String::new(),
            };
            let tag = if f.kind.is_tampering() {
                "TAMPER"
            } else {
                "note  "
            };
            let _ = writeln!(
                s,
                "  {tag} {}{}{}: {}",
                f.kind.name(),
                if loc.is_empty() {
                    String::new()
                } else {
                    format!(" at {loc}")
                },
                chain,
                f.message
            );
        }
    }
    if !r.flagged.is_empty() {
        let _ = writeln!(s, "anomalies (score >= 0.5): {}", r.flagged.len());
    }
    if no_keys {
        let _ = writeln!(
            s,
            "warning: no --key given: checkpoint signatures are not trusted, so nothing is proven beyond the links"
        );
    }
    let _ = writeln!(
        s,
        "verdict: {}",
        if r.intact() {
            "INTACT"
        } else {
            "TAMPERING FOUND"
        }
    );
    s
}

mod parallel {
    //! Records are read (parsed, canonicalised, hashed) on worker threads in
    //! batches and added to the verifier in input order, so the report is
    //! the same as on one thread. Memory stays bounded: at most two batches
    //! per worker are in flight.

    use std::collections::BTreeMap;
    use std::sync::mpsc::{Receiver, sync_channel};
    use std::sync::{Arc, Mutex};

    use anyhow::Result;
    use indicatif::ProgressBar;
    use logseal_core::Verifier;
    use logseal_core::many::sha256_back_to_back;
    use logseal_core::record::{AddedFields, Reader, RecordError, SealedRecord};

    use crate::input::{self, Source};

    /// Lines per batch.
    const BATCH: usize = 2048;

    struct Batch {
        idx: u64,
        text: Vec<u8>,
        /// (line number, start, end) in `text`.
        lines: Vec<(u64, usize, usize)>,
    }

    type Read = Vec<(u64, Option<Result<SealedRecord, RecordError>>)>;

    pub fn add_source(
        v: &mut Verifier,
        file: u32,
        src: &mut Source,
        added: &AddedFields,
        threads: usize,
        bar: Option<&ProgressBar>,
    ) -> Result<()> {
        let (work_tx, work_rx) = sync_channel::<Batch>(threads * 2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Read)>(threads * 2);
        std::thread::scope(|s| -> Result<()> {
            for _ in 0..threads {
                let rx = Arc::clone(&work_rx);
                let tx = done_tx.clone();
                s.spawn(move || {
                    let mut reader = Reader::new();
                    let mut leaves = Vec::new();
                    loop {
                        let next = rx
                            .lock()
                            .map_err(|_| ())
                            .and_then(|r| r.recv().map_err(|_| ()));
                        let Ok(b) = next else { return };
                        let out = read_batch(&mut reader, &mut leaves, &b, added);
                        if tx.send((b.idx, out)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done_tx);
            let consumer = s.spawn(move || consume(v, file, done_rx));
            let mut batch = new_batch(0);
            let mut since = 0u64;
            let produced = input::for_each_line(src, |n, line| {
                let a = batch.text.len();
                batch.text.extend_from_slice(line);
                batch.lines.push((n, a, batch.text.len()));
                since += line.len() as u64 + 1;
                if batch.lines.len() == BATCH {
                    let next = new_batch(batch.idx + 1);
                    work_tx
                        .send(std::mem::replace(&mut batch, next))
                        .map_err(|_| anyhow::anyhow!("verifier worker stopped"))?;
                    if let Some(b) = bar {
                        b.inc(since);
                    }
                    since = 0;
                }
                Ok(())
            });
            if !batch.lines.is_empty() {
                let _ = work_tx.send(batch);
            }
            drop(work_tx);
            consumer
                .join()
                .map_err(|_| anyhow::anyhow!("verifier thread panicked"))?;
            produced.map(|_| ())
        })
    }

    /// Read a batch's lines, then hash their entries together
    /// ([`sha256_back_to_back`]: four interleaved SHA-256 streams on x86-64).
    fn read_batch(
        reader: &mut Reader,
        leaves: &mut Vec<u8>,
        b: &Batch,
        added: &AddedFields,
    ) -> Read {
        leaves.clear();
        let mut ends = Vec::with_capacity(b.lines.len());
        let mut out: Read = b
            .lines
            .iter()
            .map(|&(n, a, e)| {
                let line = &b.text[a..e];
                let r = (!line.iter().all(u8::is_ascii_whitespace))
                    .then(|| reader.read_unhashed(line, added, leaves));
                if let Some(Ok(_)) = r {
                    ends.push(leaves.len());
                }
                (n, r)
            })
            .collect();
        let hashes = sha256_back_to_back(leaves, &ends);
        let read = out.iter_mut().filter_map(|(_, r)| match r {
            Some(Ok(r)) => Some(r),
            _ => None,
        });
        for (r, h) in read.zip(hashes) {
            r.computed = h;
        }
        out
    }

    fn new_batch(idx: u64) -> Batch {
        Batch {
            idx,
            text: Vec::with_capacity(BATCH * 512),
            lines: Vec::with_capacity(BATCH),
        }
    }

    /// Add results in batch order.
    fn consume(v: &mut Verifier, file: u32, rx: Receiver<(u64, Read)>) {
        let mut next = 0u64;
        let mut waiting: BTreeMap<u64, Read> = BTreeMap::new();
        for (idx, read) in rx {
            waiting.insert(idx, read);
            while let Some(read) = waiting.remove(&next) {
                for (n, r) in read {
                    if let Some(r) = r {
                        v.add_record(file, n, r);
                    }
                }
                next += 1;
            }
        }
    }
}

//! `logseal prove`: an offline-checkable inclusion proof for one record.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use logseal_core::SignedCheckpoint;
use logseal_core::merkle::{self, Hash};
use logseal_core::proof::TlogProof;
use logseal_core::record::{self, AddedFields};

use crate::input;

/// Print a `c2sp.org/tlog-proof@v1` proof that record SEQ is in its chain,
/// under the newest checkpoint that covers it and matches the records.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  logseal prove --seq 41 sealed.ndjson > record41.tlog-proof\n  \
logseal prove --seq 7 --stream example.com/audit --epoch 20261123T101500Z-1a2b3c4d --checkpoints cps.txt *.ndjson"
)]
pub struct Args {
    /// Sequence number of the record.
    #[arg(long)]
    seq: u64,
    /// Stream (needed when the input has several).
    #[arg(long)]
    stream: Option<String>,
    /// Epoch (needed when the stream has several).
    #[arg(long)]
    epoch: Option<String>,
    /// Checkpoint file(s) kept apart from the log.
    #[arg(long)]
    checkpoints: Vec<PathBuf>,
    /// Verifier key(s): when given, only checkpoints they sign are used.
    #[arg(long = "key")]
    keys: Vec<String>,
    /// Sealed NDJSON files ("-" or none: stdin).
    files: Vec<String>,
}

type Chain = (BTreeMap<u64, Hash>, Vec<String>);

pub fn run(a: Args) -> Result<ExitCode> {
    let keys = input::verifier_keys(&a.keys)?;
    let mut chains: BTreeMap<(String, String), Chain> = BTreeMap::new();
    input::for_each_record(&a.files, |name, n, line| {
        let r =
            record::read(line, &AddedFields::default()).with_context(|| format!("{name}:{n}"))?;
        if r.computed != r.hash {
            bail!(
                "{name}:{n}: record seq {} does not match its seal; run `logseal verify`",
                r.seq
            );
        }
        let c = chains.entry((r.stream, r.epoch)).or_default();
        c.0.insert(r.seq, r.hash);
        c.1.extend(r.checkpoint);
        Ok(())
    })?;
    for p in &a.checkpoints {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        for (_, note) in input::split_notes(&text) {
            let cp = SignedCheckpoint::parse(&note).with_context(|| format!("{}", p.display()))?;
            if let Some((s, e)) = cp.checkpoint.origin.rsplit_once('/') {
                chains.entry((s.into(), e.into())).or_default().1.push(note);
            }
        }
    }
    let matching: Vec<_> = chains
        .iter()
        .filter(|((s, e), _)| {
            a.stream.as_ref().is_none_or(|x| x == s) && a.epoch.as_ref().is_none_or(|x| x == e)
        })
        .collect();
    let ((stream, epoch), (hashes, cps)) = match matching.as_slice() {
        [one] => *one,
        [] => bail!("no chain matches --stream/--epoch"),
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|((s, e), _)| format!("  --stream {s} --epoch {e}"))
                .collect();
            bail!(
                "the input has several chains; choose one:\n{}",
                names.join("\n")
            );
        }
    };
    let leaf = *hashes.get(&a.seq).with_context(|| {
        format!(
            "seq {} of {stream} epoch {epoch} is not in the input",
            a.seq
        )
    })?;
    // Leaves present from 0 without a gap.
    let leaves: Vec<Hash> = hashes
        .iter()
        .enumerate()
        .take_while(|(i, (seq, _))| *i as u64 == **seq)
        .map(|(_, (_, h))| *h)
        .collect();
    let mut best: Option<(u64, &String)> = None;
    for note in cps {
        let Ok(cp) = SignedCheckpoint::parse(note) else {
            continue;
        };
        let size = cp.checkpoint.size;
        if size <= a.seq || size > leaves.len() as u64 {
            continue;
        }
        if !keys.is_empty() && cp.note.verify(&keys).is_err() {
            continue;
        }
        if merkle::root(&leaves[..size as usize]) != cp.checkpoint.root {
            continue;
        }
        if best.is_none_or(|(s, _)| size > s) {
            best = Some((size, note));
        }
    }
    let Some((size, note)) = best else {
        bail!(
            "no checkpoint covers seq {} and matches the records (records present from 0: {}); \
             the record is only linked, not signed yet",
            a.seq,
            leaves.len()
        );
    };
    let proof = TlogProof {
        extra: None,
        index: a.seq,
        hashes: merkle::inclusion_proof(a.seq, &leaves[..size as usize]),
        checkpoint: note.clone(),
    };
    if !keys.is_empty() {
        proof
            .verify(&leaf, &keys)
            .context("self-check of the proof")?;
    }
    print!("{}", proof.to_text());
    Ok(ExitCode::SUCCESS)
}

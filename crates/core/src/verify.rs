//! The verifier: reads sealed records in any order (many streams and epochs
//! interleaved, several files), then reports every finding.
//!
//! Memory is bounded by one small entry per record (sequence number, two
//! hashes, location: 88 bytes), never by the records themselves.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::b64;
use crate::json::{self, Number, Value};
use crate::merkle::{CompactTree, Hash};
use crate::note::{NoteError, SignedCheckpoint, VerifierKey};
use crate::record::{self, AddedFields, RecordError, SealedRecord};
use crate::seal::{After, Lost, checkpoint_origin};

/// What a report says about a line that is not a readable sealed record.
pub fn unreadable_message(e: &RecordError) -> String {
    match e {
        RecordError::NoSeal => "a record without a seal: inserted, or never sealed".to_string(),
        e => format!("not a readable sealed record: {e}"),
    }
}

/// Verifier settings.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Keys whose checkpoint signatures are trusted.
    pub keys: Vec<VerifierKey>,
    /// Members a pipeline added beside the records.
    pub added: AddedFields,
}

/// Where something is: file (as named by the caller) and 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// File name.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// A line that is not a sealed record (not JSON, no seal, bad seal).
    Unsealed,
    /// The record's content does not hash to its stored hash.
    Modified,
    /// A field the pipeline added (time, tag) disagrees with the seal.
    AddedFieldMismatch,
    /// Sequence numbers missing between records that are present.
    Deleted,
    /// A record's `prev` is not the hash of the record before it.
    BrokenLink,
    /// Two different records claim the same sequence number.
    SeqCollision,
    /// The same record appears more than once (not tampering).
    Duplicate,
    /// A signed checkpoint covers records that are missing at the end.
    Truncated,
    /// A checkpoint's signature does not verify.
    BadSignature,
    /// A checkpoint signed by no key the verifier was given (not trusted).
    UnknownSigner,
    /// A checkpoint whose root does not match the records it covers.
    CheckpointMismatch,
    /// Two checkpoints of the same size with different roots.
    CheckpointFork,
    /// A checkpoint that is smaller than one seen before it.
    Rollback,
    /// A checkpoint that is malformed or attached to the wrong record.
    BadCheckpoint,
    /// A new epoch names a predecessor ending that the records contradict.
    HandoverMismatch,
    /// Records the sealer declared lost before delivery (not tampering).
    DeclaredLoss,
    /// Records of an epoch possibly lost in a sealer crash (not tampering).
    CrashGap,
}

impl Kind {
    /// Short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Unsealed => "unsealed",
            Kind::Modified => "modified",
            Kind::AddedFieldMismatch => "added-field-mismatch",
            Kind::Deleted => "deleted",
            Kind::BrokenLink => "broken-link",
            Kind::SeqCollision => "seq-collision",
            Kind::Duplicate => "duplicate",
            Kind::Truncated => "truncated",
            Kind::BadSignature => "bad-signature",
            Kind::UnknownSigner => "unknown-signer",
            Kind::CheckpointMismatch => "checkpoint-mismatch",
            Kind::CheckpointFork => "checkpoint-fork",
            Kind::Rollback => "rollback",
            Kind::BadCheckpoint => "bad-checkpoint",
            Kind::HandoverMismatch => "handover-mismatch",
            Kind::DeclaredLoss => "declared-loss",
            Kind::CrashGap => "crash-gap",
        }
    }

    /// Whether this kind of finding means the log was tampered with.
    pub fn is_tampering(self) -> bool {
        !matches!(
            self,
            Kind::Duplicate | Kind::UnknownSigner | Kind::DeclaredLoss | Kind::CrashGap
        )
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What.
    pub kind: Kind,
    /// Stream, when known.
    pub stream: Option<String>,
    /// Epoch, when known.
    pub epoch: Option<String>,
    /// Sequence number (or first of a range), when it applies.
    pub seq: Option<u64>,
    /// Last sequence number of a range.
    pub seq_end: Option<u64>,
    /// Where (may be several lines, or none for a gap).
    pub locations: Vec<Location>,
    /// A sentence a person can read.
    pub message: String,
}

/// Per stream-epoch summary.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainSummary {
    /// Stream.
    pub stream: String,
    /// Epoch.
    pub epoch: String,
    /// Distinct records present.
    pub records: u64,
    /// Lowest sequence number present.
    pub first_seq: u64,
    /// Highest sequence number present.
    pub last_seq: u64,
    /// Size of the largest checkpoint verified by a trusted key and matching the records.
    pub signed_size: u64,
    /// Names of the keys that signed it.
    pub signed_by: Vec<String>,
    /// Records at or above `signed_size`: linked into the chain, not signed.
    pub unsigned_tail: u64,
    /// Whether any tampering finding concerns this chain.
    pub intact: bool,
    /// Records whose anomaly verdict has a score of at least 0.5.
    pub flagged: u64,
}

/// The result of a verification.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Lines read (blank lines excluded).
    pub lines: u64,
    /// Chains, sorted by stream and epoch.
    pub chains: Vec<ChainSummary>,
    /// Findings, sorted by stream, epoch, sequence number and location.
    pub findings: Vec<Finding>,
    /// (file:line, stream, epoch, seq, score) of records scored ≥ 0.5.
    pub flagged: Vec<(Location, String, String, u64, f64)>,
}

impl Report {
    /// True when no finding is tampering.
    pub fn intact(&self) -> bool {
        !self.findings.iter().any(|f| f.kind.is_tampering())
    }

    /// The report as canonical JSON (the `--format json` output; the browser
    /// build produces the same bytes).
    pub fn to_json(&self) -> String {
        fn s(x: &str) -> Value<'_> {
            Value::Str(Cow::Borrowed(x))
        }
        fn u(x: u64) -> Value<'static> {
            Value::Num(Number::UInt(x))
        }
        fn loc(l: &Location) -> Value<'_> {
            Value::Obj(vec![
                ("file".into(), s(&l.file)),
                ("line".into(), u(l.line)),
            ])
        }
        let chains = self
            .chains
            .iter()
            .map(|c| {
                Value::Obj(vec![
                    ("stream".into(), s(&c.stream)),
                    ("epoch".into(), s(&c.epoch)),
                    ("records".into(), u(c.records)),
                    ("first_seq".into(), u(c.first_seq)),
                    ("last_seq".into(), u(c.last_seq)),
                    ("signed_size".into(), u(c.signed_size)),
                    (
                        "signed_by".into(),
                        Value::Arr(c.signed_by.iter().map(|n| s(n)).collect()),
                    ),
                    ("unsigned_tail".into(), u(c.unsigned_tail)),
                    ("intact".into(), Value::Bool(c.intact)),
                    ("flagged".into(), u(c.flagged)),
                ])
            })
            .collect();
        let findings = self
            .findings
            .iter()
            .map(|f| {
                let mut m = vec![
                    ("kind".into(), s(f.kind.name())),
                    ("tampering".into(), Value::Bool(f.kind.is_tampering())),
                    ("message".into(), s(&f.message)),
                    (
                        "locations".into(),
                        Value::Arr(f.locations.iter().map(loc).collect()),
                    ),
                ];
                if let Some(x) = &f.stream {
                    m.push(("stream".into(), s(x)));
                }
                if let Some(x) = &f.epoch {
                    m.push(("epoch".into(), s(x)));
                }
                if let Some(x) = f.seq {
                    m.push(("seq".into(), u(x)));
                }
                if let Some(x) = f.seq_end {
                    m.push(("seq_end".into(), u(x)));
                }
                Value::Obj(m)
            })
            .collect();
        let flagged = self
            .flagged
            .iter()
            .map(|(l, st, ep, seq, score)| {
                Value::Obj(vec![
                    ("location".into(), loc(l)),
                    ("stream".into(), s(st)),
                    ("epoch".into(), s(ep)),
                    ("seq".into(), u(*seq)),
                    ("score".into(), Value::Num(Number::Float(*score))),
                ])
            })
            .collect();
        let v = Value::Obj(vec![
            ("format".into(), s("logseal-verify-report/v1")),
            ("intact".into(), Value::Bool(self.intact())),
            ("lines".into(), u(self.lines)),
            ("chains".into(), Value::Arr(chains)),
            ("findings".into(), Value::Arr(findings)),
            ("flagged".into(), Value::Arr(flagged)),
        ]);
        let mut out = Vec::new();
        json::write_seal(&v, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Per-record memory: 8 + 32 + 32 + 8 + 4 + flags.
#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    hash: Hash,
    prev: Hash,
    line: u64,
    file: u32,
    has_prev: bool,
}

#[derive(Clone, Debug)]
struct SeenCheckpoint {
    size: u64,
    root: Hash,
    loc: Location,
    /// Sequence number of the record carrying it (None: from a checkpoint file).
    carrier: Option<u64>,
    /// Position among checkpoint-file checkpoints (for rollback detection).
    order: u64,
    signers: Vec<String>,
}

#[derive(Default, Debug)]
struct Chain {
    entries: Vec<Entry>,
    checkpoints: Vec<SeenCheckpoint>,
    after: Option<(After, Location)>,
    lost: Vec<Lost>,
    flagged: u64,
    early: EarlyRoots,
}

/// Merkle roots computed while records arrive, so that [`Verifier::finish`]
/// has less to do after the last one (where nothing else can run beside it).
///
/// Records usually arrive in order: seq 0, 1, 2, ... of a chain. While they
/// do, their hashes are exactly the leaves the final check would use, so the
/// root at each size where a record carries a checkpoint is the root the
/// final check would compute. Any other arrival stops this: a gap stops
/// adding leaves; a second record with a seq already seen (`k`) means the
/// final choice of leaves may differ from seq `k` on, so only roots of sizes
/// up to `k` stay usable. `finish` computes every other root as before.
#[derive(Debug)]
struct EarlyRoots {
    tree: CompactTree,
    /// Leaves not in `tree` yet (added in batches: [`CompactTree::extend`]).
    pending: Vec<Hash>,
    /// Leaves taken: seq 0..fed.
    fed: u64,
    /// (size, root) at each checkpoint-carrying record, ascending.
    roots: Vec<(u64, Hash)>,
    /// Roots of sizes above this are not usable.
    valid_until: u64,
    stopped: bool,
}

impl Default for EarlyRoots {
    fn default() -> Self {
        EarlyRoots {
            tree: CompactTree::new(),
            pending: Vec::new(),
            fed: 0,
            roots: Vec::new(),
            valid_until: u64::MAX,
            stopped: false,
        }
    }
}

impl EarlyRoots {
    fn add(&mut self, seq: u64, hash: Hash, carries_checkpoint: bool) {
        if seq < self.fed {
            self.valid_until = self.valid_until.min(seq);
            self.stopped = true;
        }
        if self.stopped || seq != self.fed {
            self.stopped = true;
            self.pending = Vec::new();
            return;
        }
        self.pending.push(hash);
        self.fed += 1;
        if self.pending.len() >= 1024 || carries_checkpoint {
            self.tree.extend(&self.pending);
            self.pending.clear();
        }
        if carries_checkpoint {
            self.roots.push((self.fed, self.tree.root()));
        }
    }

    /// The root of the first `size` leaves, if computed and still usable.
    fn root_at(&self, size: u64) -> Option<Hash> {
        if size > self.valid_until {
            return None;
        }
        self.roots
            .binary_search_by_key(&size, |r| r.0)
            .ok()
            .map(|i| self.roots[i].1)
    }
}

/// How many lines [`Verifier::add_line`] reads before hashing them together.
const BATCH: usize = 64;

/// Or how many bytes of entries, whichever comes first: huge records are
/// hashed a few at a time, and the buffer they grew is let go.
const BATCH_BYTES: usize = 1 << 20;

/// Lines read whose entry hashes are not computed yet: their leaves' input
/// (`0x00` and the entry bytes) back to back, where each ends, and what a
/// "modified" finding would name. Everything else about a line is added to
/// the verifier when it is read; only the comparison of its hashes waits
/// (findings are sorted in the report, so when it is made does not show).
#[derive(Debug, Default)]
struct Batch {
    leaves: Vec<u8>,
    ends: Vec<usize>,
    lines: Vec<Unhashed>,
    /// The lines' (stream, epoch), each once (a batch usually has one).
    keys: Vec<(String, String)>,
}

/// A line of a [`Batch`].
#[derive(Debug)]
struct Unhashed {
    /// The entry hash its seal states.
    hash: Hash,
    file: u32,
    line: u64,
    seq: u64,
    /// Index in [`Batch::keys`].
    key: usize,
}

/// Streaming verifier: feed lines with [`Verifier::add_line`], then [`Verifier::finish`].
#[derive(Debug)]
pub struct Verifier {
    opts: VerifyOptions,
    files: Vec<String>,
    chains: BTreeMap<(String, String), Chain>,
    findings: Vec<Finding>,
    flagged: Vec<(Location, String, String, u64, f64)>,
    lines: u64,
    file_checkpoints: u64,
    reader: record::Reader,
    /// Lines read by [`Verifier::add_line`] whose entry hashes are not
    /// computed yet.
    batch: Batch,
    /// Whether roots are computed as records arrive ([`EarlyRoots`]); off
    /// only in tests that check it changes nothing.
    early_roots: bool,
}

impl Verifier {
    /// A verifier with these options.
    pub fn new(opts: VerifyOptions) -> Self {
        Verifier {
            opts,
            files: Vec::new(),
            chains: BTreeMap::new(),
            findings: Vec::new(),
            flagged: Vec::new(),
            lines: 0,
            file_checkpoints: 0,
            reader: record::Reader::new(),
            batch: Batch::default(),
            early_roots: true,
        }
    }

    /// Register a file name; returns its index for [`Verifier::add_line`].
    pub fn add_file(&mut self, name: &str) -> u32 {
        self.files.push(name.to_string());
        (self.files.len() - 1) as u32
    }

    fn loc(&self, file: u32, line: u64) -> Location {
        Location {
            file: self
                .files
                .get(file as usize)
                .cloned()
                .unwrap_or_else(|| "-".to_string()),
            line,
        }
    }

    /// Read one line (without its newline) of file `file`. Blank lines are skipped.
    ///
    /// A line is added at once, but its entry hash is computed with those
    /// of the next lines, [`BATCH`] at a time ([`crate::many::sha256_many`]:
    /// natively, four interleaved SHA-256 streams), and compared then.
    pub fn add_line(&mut self, file: u32, line: u64, bytes: &[u8]) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let b = &mut self.batch;
        match self
            .reader
            .read_unhashed(bytes, &self.opts.added, &mut b.leaves)
        {
            Ok(r) => {
                b.ends.push(b.leaves.len());
                let key = match b
                    .keys
                    .iter()
                    .rposition(|k| k.0 == r.stream && k.1 == r.epoch)
                {
                    Some(k) => k,
                    None => {
                        b.keys.push((r.stream.clone(), r.epoch.clone()));
                        b.keys.len() - 1
                    }
                };
                b.lines.push(Unhashed {
                    hash: r.hash,
                    file,
                    line,
                    seq: r.seq,
                    key,
                });
                let full = b.lines.len() >= BATCH || b.leaves.len() >= BATCH_BYTES;
                self.add_record_now(file, line, Ok(r), false);
                if full {
                    self.flush_batch();
                }
            }
            Err(e) => self.add_record_now(file, line, Err(e), false),
        }
    }

    /// Hash the lines held by [`Verifier::add_line`] and compare.
    fn flush_batch(&mut self) {
        let mut b = core::mem::take(&mut self.batch);
        if !b.lines.is_empty() {
            let hashes = crate::many::sha256_back_to_back(&b.leaves, &b.ends);
            for (u, computed) in b.lines.iter().zip(hashes) {
                if computed != u.hash {
                    let (stream, epoch) = &b.keys[u.key];
                    let f = self.modified(u.file, u.line, stream, epoch, u.seq, &u.hash, &computed);
                    self.findings.push(f);
                }
            }
        }
        // Keep the buffers for the next batch (but not one a huge record
        // grew).
        b.leaves.clear();
        if b.leaves.capacity() > 2 * BATCH_BYTES {
            b.leaves = Vec::new();
        }
        b.ends.clear();
        b.lines.clear();
        b.keys.clear();
        self.batch = b;
    }

    /// The finding for a record whose content does not hash to its seal.
    #[allow(clippy::too_many_arguments)]
    fn modified(
        &self,
        file: u32,
        line: u64,
        stream: &str,
        epoch: &str,
        seq: u64,
        sealed: &Hash,
        computed: &Hash,
    ) -> Finding {
        Finding {
            kind: Kind::Modified,
            stream: Some(stream.to_string()),
            epoch: Some(epoch.to_string()),
            seq: Some(seq),
            seq_end: None,
            locations: vec![self.loc(file, line)],
            message: format!(
                "content does not match its seal: sealed hash {}, content hashes to {}",
                b64(sealed),
                b64(computed)
            ),
        }
    }

    /// Add a line already read with [`record::read`] (for callers that read
    /// lines on several threads and add them in order).
    pub fn add_record(&mut self, file: u32, line: u64, r: Result<SealedRecord, RecordError>) {
        self.add_record_now(file, line, r, true);
    }

    /// Add a line read; compare its entry hashes if `compare` (else
    /// [`Verifier::flush_batch`] does).
    fn add_record_now(
        &mut self,
        file: u32,
        line: u64,
        r: Result<SealedRecord, RecordError>,
        compare: bool,
    ) {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                self.add_unreadable(file, line, unreadable_message(&e));
                return;
            }
        };
        self.lines += 1;
        if compare && r.computed != r.hash {
            let f = self.modified(file, line, &r.stream, &r.epoch, r.seq, &r.hash, &r.computed);
            self.findings.push(f);
        }
        if let Some((field, found, sealed)) = &r.added_mismatch {
            let loc = self.loc(file, line);
            self.findings.push(Finding {
                kind: Kind::AddedFieldMismatch,
                stream: Some(r.stream.clone()),
                epoch: Some(r.epoch.clone()),
                seq: Some(r.seq),
                seq_end: None,
                locations: vec![loc],
                message: format!("{field} is {found} but the seal says {sealed}"),
            });
        }
        if let Some(score) = r.score.filter(|s| *s >= 0.5) {
            let loc = self.loc(file, line);
            self.flagged
                .push((loc, r.stream.clone(), r.epoch.clone(), r.seq, score));
        }
        let key = (r.stream, r.epoch);
        let after = r.after.map(|a| (a, self.loc(file, line)));
        if let Some(cp) = &r.checkpoint {
            let loc = self.loc(file, line);
            self.add_checkpoint_inner(cp, loc, Some(r.seq), Some(&key));
        }
        let chain = match self.chains.get_mut(&key) {
            Some(c) => c,
            None => self.chains.entry(key).or_default(),
        };
        if r.score.is_some_and(|s| s >= 0.5) {
            chain.flagged += 1;
        }
        if after.is_some() {
            chain.after = after;
        }
        if let Some(l) = r.lost {
            chain.lost.push(l);
        }
        if self.early_roots {
            chain.early.add(r.seq, r.hash, r.checkpoint.is_some());
        }
        chain.entries.push(Entry {
            seq: r.seq,
            hash: r.hash,
            prev: r.prev.unwrap_or_default(),
            has_prev: r.prev.is_some(),
            line,
            file,
        });
    }

    /// Count a line that is not a readable sealed record, with the reason
    /// ([`unreadable_message`] of its [`RecordError`]); for callers that read
    /// lines elsewhere and pass on only the message.
    pub fn add_unreadable(&mut self, file: u32, line: u64, message: String) {
        self.lines += 1;
        let loc = self.loc(file, line);
        self.findings.push(Finding {
            kind: Kind::Unsealed,
            stream: None,
            epoch: None,
            seq: None,
            seq_end: None,
            locations: vec![loc],
            message,
        });
    }

    /// Read a checkpoint from a separate checkpoint file (a signed note).
    /// Checkpoints given this way are expected in the order they were made.
    pub fn add_checkpoint(&mut self, note: &str, file: u32, line: u64) {
        let loc = self.loc(file, line);
        self.file_checkpoints += 1;
        self.add_checkpoint_inner(note, loc, None, None);
    }

    fn add_checkpoint_inner(
        &mut self,
        note: &str,
        loc: Location,
        carrier: Option<u64>,
        chain: Option<&(String, String)>,
    ) {
        let bad = |me: &mut Self, kind: Kind, msg: String, key: Option<&(String, String)>| {
            me.findings.push(Finding {
                kind,
                stream: key.map(|k| k.0.clone()),
                epoch: key.map(|k| k.1.clone()),
                seq: carrier,
                seq_end: None,
                locations: vec![loc.clone()],
                message: msg,
            });
        };
        let cp = match SignedCheckpoint::parse(note) {
            Ok(cp) => cp,
            Err(e) => return bad(self, Kind::BadCheckpoint, format!("{e}"), chain),
        };
        // Which chain: from the carrying record, or from the origin line.
        let key = match chain {
            Some(k) => {
                if cp.checkpoint.origin != checkpoint_origin(&k.0, &k.1) {
                    return bad(
                        self,
                        Kind::BadCheckpoint,
                        format!(
                            "checkpoint origin {:?} is not this record's stream/epoch",
                            cp.checkpoint.origin
                        ),
                        chain,
                    );
                }
                k.clone()
            }
            None => match cp.checkpoint.origin.rsplit_once('/') {
                Some((s, e)) => (s.to_string(), e.to_string()),
                None => {
                    return bad(
                        self,
                        Kind::BadCheckpoint,
                        format!("origin {:?} is not <stream>/<epoch>", cp.checkpoint.origin),
                        None,
                    );
                }
            },
        };
        if let Some(seq) = carrier
            && cp.checkpoint.size != seq + 1
        {
            return bad(
                self,
                Kind::BadCheckpoint,
                format!(
                    "checkpoint of size {} attached to seq {seq} (must be size {})",
                    cp.checkpoint.size,
                    seq + 1
                ),
                Some(&key),
            );
        }
        let signers = match cp.note.verify(&self.opts.keys) {
            Ok(names) => names,
            Err(NoteError::Unverified) => {
                let names: Vec<&str> = cp.note.sigs.iter().map(|s| s.name.as_str()).collect();
                bad(
                    self,
                    Kind::UnknownSigner,
                    format!(
                        "checkpoint of size {} signed by {} — no matching key given, so it proves nothing",
                        cp.checkpoint.size,
                        names.join(", ")
                    ),
                    Some(&key),
                );
                Vec::new()
            }
            Err(e) => {
                return bad(
                    self,
                    Kind::BadSignature,
                    format!("checkpoint of size {}: {e}", cp.checkpoint.size),
                    Some(&key),
                );
            }
        };
        let order = if carrier.is_none() {
            self.file_checkpoints
        } else {
            0
        };
        self.chains
            .entry(key)
            .or_default()
            .checkpoints
            .push(SeenCheckpoint {
                size: cp.checkpoint.size,
                root: cp.checkpoint.root,
                loc,
                carrier,
                order,
                signers,
            });
    }

    /// Check everything and produce the report.
    pub fn finish(mut self) -> Report {
        self.flush_batch();
        let mut summaries = Vec::new();
        let chains = core::mem::take(&mut self.chains);
        // Tails of epochs, for `after` checks: (stream, epoch) -> (seq -> hash) lookups.
        for ((stream, epoch), chain) in &chains {
            let s = self.finish_chain(stream, epoch, chain, &chains);
            summaries.push(s);
        }
        let mut findings = core::mem::take(&mut self.findings);
        findings.sort_by(|a, b| {
            (&a.stream, &a.epoch, a.seq, &a.locations, a.kind).cmp(&(
                &b.stream,
                &b.epoch,
                b.seq,
                &b.locations,
                b.kind,
            ))
        });
        for s in &mut summaries {
            s.intact = !findings.iter().any(|f| {
                f.kind.is_tampering()
                    && f.stream.as_deref() == Some(&s.stream)
                    && f.epoch.as_deref() == Some(&s.epoch)
            });
        }
        let mut flagged = core::mem::take(&mut self.flagged);
        flagged.sort_by(|a, b| (&a.1, &a.2, a.3, &a.0).cmp(&(&b.1, &b.2, b.3, &b.0)));
        Report {
            lines: self.lines,
            chains: summaries,
            findings,
            flagged,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: Kind,
        stream: &str,
        epoch: &str,
        seq: Option<u64>,
        seq_end: Option<u64>,
        locations: Vec<Location>,
        message: String,
    ) {
        self.findings.push(Finding {
            kind,
            stream: Some(stream.to_string()),
            epoch: Some(epoch.to_string()),
            seq,
            seq_end,
            locations,
            message,
        });
    }

    fn finish_chain(
        &mut self,
        stream: &str,
        epoch: &str,
        chain: &Chain,
        all: &BTreeMap<(String, String), Chain>,
    ) -> ChainSummary {
        let mut entries: Vec<&Entry> = chain.entries.iter().collect();
        entries.sort_by_key(|e| (e.seq, e.file, e.line));

        // 1. Collapse duplicates, detect collisions; `chosen` has one entry per seq.
        let mut chosen: Vec<&Entry> = Vec::with_capacity(entries.len());
        let mut i = 0;
        while i < entries.len() {
            let seq = entries[i].seq;
            let mut j = i;
            while j < entries.len() && entries[j].seq == seq {
                j += 1;
            }
            let group = &entries[i..j];
            let first = group[0];
            let distinct: Vec<&Entry> = group.iter().fold(Vec::new(), |mut acc, e| {
                if !acc.iter().any(|a: &&Entry| a.hash == e.hash) {
                    acc.push(*e);
                }
                acc
            });
            if group.len() > distinct.len() {
                let locs = group
                    .iter()
                    .filter(|e| distinct.iter().all(|d| !core::ptr::eq(*d, **e)))
                    .map(|e| self.loc(e.file, e.line))
                    .collect();
                self.push(
                    Kind::Duplicate,
                    stream,
                    epoch,
                    Some(seq),
                    None,
                    locs,
                    format!("seq {seq} appears more than once with identical content"),
                );
            }
            let pick = if distinct.len() > 1 {
                let locs = distinct.iter().map(|e| self.loc(e.file, e.line)).collect();
                self.push(
                    Kind::SeqCollision,
                    stream,
                    epoch,
                    Some(seq),
                    None,
                    locs,
                    format!(
                        "{} different records claim seq {seq}: a forged insertion or a fork",
                        distinct.len()
                    ),
                );
                // Prefer the one that links to its predecessor.
                let prev_hash = chosen.last().filter(|p| p.seq + 1 == seq).map(|p| p.hash);
                distinct
                    .iter()
                    .copied()
                    .find(|e| prev_hash.is_some_and(|h| e.has_prev && e.prev == h))
                    .unwrap_or(first)
            } else {
                first
            };
            chosen.push(pick);
            i = j;
        }

        // 2. Gaps and links.
        let declared = |from: u64, to: u64| chain.lost.iter().any(|l| l.from <= from && to <= l.to);
        let mut expected = 0u64;
        let mut prev: Option<&Entry> = None;
        for e in &chosen {
            if e.seq > expected {
                let (from, to) = (expected, e.seq - 1);
                let n = to - from + 1;
                if declared(from, to) {
                    let why = chain
                        .lost
                        .iter()
                        .find(|l| l.from <= from && to <= l.to)
                        .map(|l| l.why.clone())
                        .unwrap_or_default();
                    self.push(
                        Kind::DeclaredLoss,
                        stream,
                        epoch,
                        Some(from),
                        Some(to),
                        Vec::new(),
                        format!(
                            "{n} record(s) seq {from}..{to} declared lost by the sealer ({why})"
                        ),
                    );
                } else {
                    self.push(
                        Kind::Deleted,
                        stream,
                        epoch,
                        Some(from),
                        Some(to),
                        vec![self.loc(e.file, e.line)],
                        format!("{n} record(s) missing: seq {from}..{to} (before the record at this line)"),
                    );
                }
            }
            match prev {
                Some(p) if p.seq + 1 == e.seq && (!e.has_prev || e.prev != p.hash) => {
                    let locs = vec![self.loc(p.file, p.line), self.loc(e.file, e.line)];
                    self.push(
                        Kind::BrokenLink,
                        stream,
                        epoch,
                        Some(e.seq),
                        None,
                        locs,
                        format!(
                            "seq {} does not link to seq {}: prev {} but seq {} has hash {}",
                            e.seq,
                            p.seq,
                            if e.has_prev {
                                b64(&e.prev)
                            } else {
                                "(none)".to_string()
                            },
                            p.seq,
                            b64(&p.hash)
                        ),
                    );
                }
                _ if e.seq == 0 && e.has_prev => {
                    let locs = vec![self.loc(e.file, e.line)];
                    self.push(
                        Kind::BrokenLink,
                        stream,
                        epoch,
                        Some(0),
                        None,
                        locs,
                        "seq 0 claims a predecessor".to_string(),
                    );
                }
                _ => {}
            }
            expected = e.seq + 1;
            prev = Some(e);
        }
        let present_end = chosen.last().map_or(0, |e| e.seq + 1);

        // 3. Checkpoints: forks, rollback, roots.
        let mut cps: Vec<&SeenCheckpoint> = chain.checkpoints.iter().collect();
        cps.sort_by_key(|c| (c.size, c.loc.clone()));
        let mut by_size: BTreeMap<u64, Vec<&SeenCheckpoint>> = BTreeMap::new();
        for c in &cps {
            by_size.entry(c.size).or_default().push(c);
        }
        for (size, group) in &by_size {
            let mut roots: Vec<Hash> = group.iter().map(|c| c.root).collect();
            roots.sort_unstable();
            roots.dedup();
            if roots.len() > 1 {
                let locs = group.iter().map(|c| c.loc.clone()).collect();
                self.push(
                    Kind::CheckpointFork,
                    stream,
                    epoch,
                    Some(size.saturating_sub(1)),
                    None,
                    locs,
                    format!(
                        "{} checkpoints of size {size} with different roots: a fork",
                        roots.len()
                    ),
                );
            }
        }
        let mut file_cps: Vec<&SeenCheckpoint> = chain
            .checkpoints
            .iter()
            .filter(|c| c.carrier.is_none())
            .collect();
        file_cps.sort_by_key(|c| c.order);
        let mut high: Option<&SeenCheckpoint> = None;
        for c in file_cps {
            if let Some(h) = high
                && c.size < h.size
            {
                self.push(
                    Kind::Rollback,
                    stream,
                    epoch,
                    Some(c.size.saturating_sub(1)),
                    None,
                    vec![h.loc.clone(), c.loc.clone()],
                    format!(
                        "checkpoint of size {} comes after one of size {}: a rollback",
                        c.size, h.size
                    ),
                );
                continue;
            }
            high = Some(c);
        }
        // Contiguous prefix from seq 0: roots can be computed up to it.
        let mut contiguous = 0u64;
        for e in &chosen {
            if e.seq == contiguous {
                contiguous += 1;
            } else {
                break;
            }
        }
        let mut tree = CompactTree::new();
        let mut batch: Vec<Hash> = Vec::new();
        let mut it = chosen.iter();
        let mut signed_size = 0u64;
        let mut signed_by: Vec<String> = Vec::new();
        for (size, group) in &by_size {
            if *size > contiguous {
                continue;
            }
            let root = match chain.early.root_at(*size) {
                Some(root) => root,
                None => {
                    if tree.size() < *size {
                        batch.clear();
                        batch.extend(
                            it.by_ref()
                                .take((*size - tree.size()) as usize)
                                .map(|e| e.hash),
                        );
                        tree.extend(&batch);
                    }
                    tree.root()
                }
            };
            for c in group {
                if c.root != root {
                    let what = if signed_size > 0 {
                        format!(
                            " and is inconsistent with the verified checkpoint of size {signed_size}"
                        )
                    } else {
                        String::new()
                    };
                    self.push(
                        Kind::CheckpointMismatch,
                        stream,
                        epoch,
                        Some(size - 1),
                        None,
                        vec![c.loc.clone()],
                        format!(
                            "checkpoint of size {size} has root {} but records 0..{} hash to {}{what}",
                            b64(&c.root),
                            size - 1,
                            b64(&root)
                        ),
                    );
                } else if !c.signers.is_empty() && *size >= signed_size {
                    signed_size = *size;
                    for n in &c.signers {
                        if !signed_by.contains(n) {
                            signed_by.push(n.clone());
                        }
                    }
                }
            }
        }
        // Signed checkpoints beyond what is present: truncation.
        if let Some(c) = cps
            .iter()
            .filter(|c| !c.signers.is_empty() && c.size > present_end)
            .max_by_key(|c| c.size)
        {
            self.push(
                Kind::Truncated,
                stream,
                epoch,
                Some(present_end),
                Some(c.size - 1),
                vec![c.loc.clone()],
                format!(
                    "a signed checkpoint proves {} records, but records {}..{} are missing: the log was cut off",
                    c.size,
                    present_end,
                    c.size - 1
                ),
            );
        }

        // 4. Epoch handover.
        if let Some((a, loc)) = &chain.after {
            match all.get(&(stream.to_string(), a.epoch.clone())) {
                None => {}
                Some(p) => {
                    let at = p.entries.iter().find(|e| e.seq == a.seq);
                    let last = p.entries.iter().map(|e| e.seq).max().unwrap_or(0);
                    match at {
                        Some(e) if e.hash != a.hash => self.push(
                            Kind::HandoverMismatch,
                            stream,
                            epoch,
                            Some(0),
                            None,
                            vec![loc.clone(), self.loc(e.file, e.line)],
                            format!(
                                "this epoch says epoch {} ended at seq {} with hash {}, but that record has hash {}",
                                a.epoch,
                                a.seq,
                                b64(&a.hash),
                                b64(&e.hash)
                            ),
                        ),
                        None if last < a.seq => self.push(
                            Kind::Truncated,
                            stream,
                            &a.epoch,
                            Some(last + 1),
                            Some(a.seq),
                            vec![loc.clone()],
                            format!(
                                "epoch {epoch} says epoch {} reached seq {}, but its records end at seq {last}",
                                a.epoch, a.seq
                            ),
                        ),
                        _ => {}
                    }
                    if last > a.seq || at.is_none() {
                        self.push(
                            Kind::CrashGap,
                            stream,
                            &a.epoch,
                            Some(a.seq + 1),
                            None,
                            vec![loc.clone()],
                            format!(
                                "the sealer restarted from saved state at seq {}; records of epoch {} sealed after that and not present may have been lost in a crash",
                                a.seq, a.epoch
                            ),
                        );
                    }
                }
            }
        }

        ChainSummary {
            stream: stream.to_string(),
            epoch: epoch.to_string(),
            records: chosen.len() as u64,
            first_seq: chosen.first().map_or(0, |e| e.seq),
            last_seq: chosen.last().map_or(0, |e| e.seq),
            signed_size,
            signed_by,
            unsigned_tail: chosen.iter().filter(|e| e.seq >= signed_size).count() as u64,
            intact: true,
            flagged: chain.flagged,
        }
    }
}

/// Convenience: verify complete NDJSON texts `(name, bytes)`.
pub fn verify_texts(opts: VerifyOptions, files: &[(&str, &[u8])]) -> Report {
    let mut v = Verifier::new(opts);
    for (name, data) in files {
        let f = v.add_file(name);
        for (i, line) in data.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            v.add_line(f, i as u64 + 1, line);
        }
    }
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Input, SealConfig, Sealer, SignerKey};
    use alloc::vec;

    fn report(key: &SignerKey, lines: &[Vec<u8>], early: bool) -> String {
        let mut v = Verifier::new(VerifyOptions {
            keys: vec![key.verifier()],
            ..Default::default()
        });
        v.early_roots = early;
        let f = v.add_file("log");
        for (i, l) in lines.iter().enumerate() {
            v.add_line(f, i as u64 + 1, l);
        }
        v.finish().to_json()
    }

    /// Lines hashed a batch at a time ([`Verifier::add_line`]) report
    /// exactly as lines read and hashed one by one ([`Verifier::add_record`]
    /// of [`record::read`]): with unreadable and blank lines, tampering, and
    /// a checkpoint from a separate file between them, a record larger
    /// than a batch's bytes, in logs longer and shorter than a batch.
    #[test]
    fn batched_lines_report_as_lines_read_one_by_one() {
        let key = SignerKey::from_seed("batch.example", [4; 32]).unwrap();
        let mut cfg = SealConfig::new("batch.example/log", "b1");
        cfg.checkpoint_every = 50;
        let mut s = Sealer::new(key.clone(), cfg).unwrap();
        let mut lines: Vec<Vec<u8>> = (0..400)
            .map(|i| {
                // Record 90 is over the batch's byte limit on its own.
                let pad = if i == 90 { 3 << 20 } else { i % 150 };
                let rec = format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(pad));
                s.seal(Input {
                    record: rec.as_bytes(),
                    ..Input::default()
                })
                .line
            })
            .collect();
        let note = s.checkpoint().unwrap();
        // Modified: record 30 (in every prefix below, and in the last,
        // partial batch of the shorter ones) and record 70.
        for n in [30, 70] {
            lines[n] = String::from_utf8(lines[n].clone())
                .unwrap()
                .replace(&format!("\"n\":{n}"), &format!("\"n\":{}", n + 1))
                .into_bytes();
        }
        lines.remove(300);
        lines.insert(5, b"not json".to_vec());
        lines.insert(130, b"   ".to_vec());
        lines.insert(131, b"{\"unsealed\":true}".to_vec());
        lines.insert(200, vec![0xff, 0xfe]);
        // `batched`: `add_line`, else `add_record` of each line read alone.
        let report = |lines: &[Vec<u8>], cp_at: usize, batched: bool| {
            let mut v = Verifier::new(VerifyOptions {
                keys: vec![key.verifier()],
                ..Default::default()
            });
            let f = v.add_file("log");
            let c = v.add_file("checkpoints");
            for (i, l) in lines.iter().enumerate() {
                if i == cp_at {
                    v.add_checkpoint(&note, c, 1);
                }
                if batched {
                    v.add_line(f, i as u64 + 1, l);
                } else if !l.iter().all(u8::is_ascii_whitespace) {
                    v.add_record(f, i as u64 + 1, record::read(l, &AddedFields::default()));
                }
            }
            v.finish().to_json()
        };
        for (n, cp_at) in [
            (lines.len(), 250),
            (lines.len(), usize::MAX),
            (40, 20),
            (64, 0),
        ] {
            let a = report(&lines[..n], cp_at, true);
            let b = report(&lines[..n], cp_at, false);
            assert_eq!(a, b, "{n} lines, checkpoint at {cp_at}");
            // Not vacuous: the findings are there.
            assert!(a.contains("\"unsealed\""), "{a}");
            let modified = a.matches("\"modified\"").count();
            assert_eq!(modified, if n > 71 { 2 } else { 1 }, "{a}");
        }
    }

    /// Roots computed as records arrive change no report: in order, and
    /// after every kind of reordering, duplication, deletion and forgery.
    #[test]
    fn early_roots_change_nothing() {
        let key = SignerKey::from_seed("early.example", [3; 32]).unwrap();
        let mut cfg = SealConfig::new("early.example/log", "e1");
        cfg.checkpoint_every = 7;
        let mut s = Sealer::new(key.clone(), cfg).unwrap();
        let lines: Vec<Vec<u8>> = (0..300)
            .map(|i| {
                let rec = format!("{{\"n\":{i}}}");
                s.seal(Input {
                    record: rec.as_bytes(),
                    tag: None,
                    time_ns: None,
                    verdict: None,
                    force_checkpoint: false,
                })
                .line
            })
            .collect();
        let mut variants: Vec<(&str, Vec<Vec<u8>>)> = vec![("intact", lines.clone())];
        let mut v = lines.clone();
        v.swap(100, 250);
        variants.push(("swapped", v));
        let mut v = lines.clone();
        v.insert(290, lines[50].clone());
        variants.push(("late duplicate", v));
        let mut v = lines.clone();
        v.insert(10, lines[150].clone());
        variants.push(("early copy of a later record", v));
        let mut v = lines.clone();
        v.remove(134);
        variants.push(("deleted", v));
        let mut v = lines.clone();
        v.reverse();
        variants.push(("reversed", v));
        let mut v = lines.clone();
        let t = String::from_utf8(v[70].clone())
            .unwrap()
            .replace("\"n\":70", "\"n\":7000");
        v[70] = t.into_bytes();
        variants.push(("modified", v));
        let mut v = lines.clone();
        // A record whose stored hash was rewritten: a different leaf.
        let mut t = String::from_utf8(v[120].clone()).unwrap();
        let at = t.find("\"hash\":\"").unwrap() + 8;
        t.replace_range(at..at + 4, "AAAA");
        v[120] = t.into_bytes();
        variants.push(("forged hash", v));
        let mut v = lines.clone();
        v.truncate(200);
        v.extend(lines[201..].iter().cloned());
        v.push(lines[200].clone());
        variants.push(("moved to the end", v));
        let intact = report(&key, &lines, false);
        for (name, v) in &variants {
            let a = report(&key, v, true);
            let b = report(&key, v, false);
            assert_eq!(a, b, "{name}");
            // Order in the file is not tampering (the seal orders records);
            // every other variant has findings the intact log has not.
            let order_only = ["intact", "swapped", "reversed", "moved to the end"];
            assert_eq!(order_only.contains(name), a == intact, "{name}");
        }
        // In order, every checkpoint's root was computed early.
        let mut v = Verifier::new(VerifyOptions::default());
        let f = v.add_file("log");
        for (i, l) in lines.iter().enumerate() {
            v.add_line(f, i as u64 + 1, l);
        }
        let chain = v.chains.values().next().unwrap();
        assert_eq!(chain.early.fed, 300);
        let carriers = lines
            .iter()
            .filter(|l| l.windows(5).any(|w| w == b"\"cp\":"))
            .count();
        assert!(carriers > 40);
        assert_eq!(chain.early.roots.len(), carriers);
        let size = chain.early.roots[30].0;
        assert!(chain.early.root_at(size).is_some());
    }
}

//! The sealer: turns records into sealed records (seal format v1,
//! `docs/FORMAT.md`), one hash chain and Merkle tree per stream epoch, with
//! signed checkpoints riding inside records.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use crate::canon::{self, Canon};
use crate::json::{self, Number, Value};
use crate::merkle::{CompactTree, Hash};
use crate::note::{Checkpoint, SignedCheckpoint, SignerKey};
use crate::{b64, b64_hash};

/// The reserved member that holds the seal.
pub const SEAL_MEMBER: &str = "_logseal";
/// Member of a wrapped record holding the original text (valid UTF-8).
pub const RAW_MEMBER: &str = "_logseal_raw";
/// Member of a wrapped record holding the original bytes (invalid UTF-8), base64.
pub const RAW_B64_MEMBER: &str = "_logseal_raw_b64";
/// Member of a wrapped record saying why it was wrapped.
pub const ERROR_MEMBER: &str = "_logseal_error";
/// The member the anomaly verdict is stored under.
pub const VERDICT_MEMBER: &str = "_anomaly";
/// Seal format version written by this crate.
pub const VERSION: u64 = 1;

/// Default size limit for a record the sealer parses (bigger ones are wrapped).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

/// The checkpoint origin line of a stream epoch: `<stream>/<epoch>`.
pub fn checkpoint_origin(stream: &str, epoch: &str) -> String {
    format!("{stream}/{epoch}")
}

/// Whether `epoch` is a valid epoch ID: 1 to 64 of `[A-Za-z0-9._-]`.
pub fn valid_epoch(epoch: &str) -> bool {
    (1..=64).contains(&epoch.len())
        && epoch
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Whether `stream` is a valid stream name: 1 to 256 printable characters, no
/// whitespace (it becomes part of a checkpoint's origin line).
pub fn valid_stream(stream: &str) -> bool {
    (1..=256).contains(&stream.len())
        // Printable ASCII, the usual case, without decoding characters.
        && (stream.bytes().all(|c| c.is_ascii_graphic())
            || !stream.chars().any(|c| c.is_whitespace() || c.is_control()))
}

/// A fresh epoch ID from a wall-clock time and 32 random bits:
/// `YYYYMMDDThhmmssZ-xxxxxxxx`.
pub fn new_epoch_id(unix_secs: i64, random: u32) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{random:08x}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// How a sealer seals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealConfig {
    /// Stream identity (for example `example.com/audit`).
    pub stream: String,
    /// Epoch ID of a new chain (see [`new_epoch_id`]); ignored when resuming.
    pub epoch: String,
    /// Attach a signed checkpoint every this many records (0: never).
    pub checkpoint_every: u64,
    /// Attach a signed checkpoint to the first record whose event time is at
    /// least this many nanoseconds after the last checkpoint's (0: never).
    pub checkpoint_interval_ns: u64,
    /// Records longer than this are not parsed but wrapped (kept whole).
    pub max_record_bytes: usize,
}

impl SealConfig {
    /// A configuration with the defaults: a checkpoint every 1000 records.
    pub fn new(stream: &str, epoch: &str) -> Self {
        SealConfig {
            stream: stream.to_string(),
            epoch: epoch.to_string(),
            checkpoint_every: 1000,
            checkpoint_interval_ns: 0,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// Where a new epoch's predecessor ended (seal member `after`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct After {
    /// The previous epoch.
    pub epoch: String,
    /// Its last sequence number known to the sealer when it restarted.
    pub seq: u64,
    /// That record's entry hash.
    pub hash: Hash,
}

/// Sequence numbers the sealer itself sealed but could not deliver (seal
/// member `lost`), declared in the next record it does deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    /// First lost sequence number.
    pub from: u64,
    /// Last lost sequence number (inclusive).
    pub to: u64,
    /// Why, for example `queue-full`.
    pub why: String,
}

/// The state of a chain, enough to continue it after a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainState {
    /// Stream identity.
    pub stream: String,
    /// Epoch ID.
    pub epoch: String,
    /// The Merkle tree so far (its size is the next sequence number).
    pub tree: CompactTree,
    /// The last entry hash, if any record was sealed.
    pub head: Option<Hash>,
    /// Event time of the last checkpoint (for interval checkpoints).
    pub last_checkpoint_ns: Option<i64>,
}

impl ChainState {
    /// The next sequence number.
    pub fn next_seq(&self) -> u64 {
        self.tree.size()
    }

    /// Save as one line of JSON (`docs/FORMAT.md` §7): canonical, members
    /// `epoch`, `head`, `last_checkpoint_ns`, `peaks`, `size`, `stream`, `v`.
    /// Written directly (it is saved after every append in some hosts).
    pub fn to_json(&self) -> String {
        let peaks = self.tree.peaks();
        let mut out = Vec::with_capacity(160 + 48 * peaks.len());
        out.extend_from_slice(b"{\"epoch\":");
        json::write_string(&self.epoch, &mut out);
        if let Some(h) = &self.head {
            out.extend_from_slice(b",\"head\":\"");
            push_b64(h, &mut out);
            out.push(b'"');
        }
        if let Some(t) = self.last_checkpoint_ns {
            out.extend_from_slice(b",\"last_checkpoint_ns\":");
            json::write_int(t, &mut out);
        }
        out.extend_from_slice(b",\"peaks\":[");
        for (i, p) in peaks.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            push_b64(p, &mut out);
            out.push(b'"');
        }
        out.extend_from_slice(b"],\"size\":");
        json::write_uint(self.tree.size(), &mut out);
        out.extend_from_slice(b",\"stream\":");
        json::write_string(&self.stream, &mut out);
        out.extend_from_slice(b",\"v\":1}");
        String::from_utf8(out).unwrap_or_default()
    }

    /// [`ChainState::to_json`] through the value tree: the reference the
    /// direct writer is tested against.
    #[cfg(test)]
    fn to_json_tree(&self) -> String {
        let peaks: Vec<Value<'_>> = self
            .tree
            .peaks()
            .iter()
            .map(|p| Value::Str(Cow::Owned(b64(p))))
            .collect();
        let mut m: Vec<(Cow<'_, str>, Value<'_>)> = vec![
            ("v".into(), Value::Num(Number::Int(1))),
            ("stream".into(), Value::Str(Cow::Borrowed(&self.stream))),
            ("epoch".into(), Value::Str(Cow::Borrowed(&self.epoch))),
            ("size".into(), Value::Num(Number::UInt(self.tree.size()))),
            ("peaks".into(), Value::Arr(peaks)),
        ];
        if let Some(h) = &self.head {
            m.push(("head".into(), Value::Str(Cow::Owned(b64(h)))));
        }
        if let Some(t) = self.last_checkpoint_ns {
            m.push(("last_checkpoint_ns".into(), Value::Num(Number::Int(t))));
        }
        let mut out = Vec::new();
        json::write_seal(&Value::Obj(m), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Load what [`ChainState::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<Self, SealError> {
        // Hosts that keep the head in shared memory read it on every append:
        // exactly what `to_json` writes is read without a value tree.
        if let Some(state) = Self::from_canonical(text.trim()) {
            return Ok(state);
        }
        Self::from_json_tree(text)
    }

    /// [`ChainState::from_json`] of exactly the bytes [`ChainState::to_json`]
    /// writes (no escapes in the strings); None for anything else.
    fn from_canonical(t: &str) -> Option<Self> {
        fn take(t: &mut &str, lit: &str) -> Option<()> {
            *t = t.strip_prefix(lit)?;
            Some(())
        }
        fn string<'a>(t: &mut &'a str) -> Option<&'a str> {
            take(t, "\"")?;
            let end = t.find('"')?;
            let s = &t[..end];
            if s.bytes().any(|c| c == b'\\' || c < 0x20) {
                return None;
            }
            *t = &t[end + 1..];
            Some(s)
        }
        fn int<'a>(t: &mut &'a str) -> Option<&'a str> {
            let end = t
                .find(|c: char| !(c.is_ascii_digit() || c == '-'))
                .unwrap_or(t.len());
            let s = &t[..end];
            *t = &t[end..];
            Some(s)
        }
        let mut t = t;
        take(&mut t, "{\"epoch\":")?;
        let epoch = string(&mut t)?;
        let head = if t.starts_with(",\"head\":") {
            take(&mut t, ",\"head\":")?;
            Some(b64_hash(string(&mut t)?)?)
        } else {
            None
        };
        let last_checkpoint_ns = if t.starts_with(",\"last_checkpoint_ns\":") {
            take(&mut t, ",\"last_checkpoint_ns\":")?;
            let n = int(&mut t)?;
            // The canonical form of an i64 (no `-0`, no leading zeros).
            let v: i64 = n.parse().ok()?;
            (v.to_string() == n).then_some(v)
        } else {
            None
        };
        take(&mut t, ",\"peaks\":[")?;
        let mut peaks = Vec::new();
        while !t.starts_with(']') {
            if !peaks.is_empty() {
                take(&mut t, ",")?;
            }
            peaks.push(b64_hash(string(&mut t)?)?);
        }
        take(&mut t, "],\"size\":")?;
        let n = int(&mut t)?;
        let size: u64 = n.parse().ok()?;
        if size.to_string() != n {
            return None;
        }
        take(&mut t, ",\"stream\":")?;
        let stream = string(&mut t)?;
        take(&mut t, ",\"v\":1}")?;
        if !t.is_empty()
            || head.is_some() != (size > 0)
            || !valid_stream(stream)
            || !valid_epoch(epoch)
        {
            return None;
        }
        Some(ChainState {
            stream: stream.to_string(),
            epoch: epoch.to_string(),
            tree: CompactTree::from_parts(size, peaks)?,
            head,
            last_checkpoint_ns,
        })
    }

    /// [`ChainState::from_json`] through the value tree (any JSON form).
    fn from_json_tree(text: &str) -> Result<Self, SealError> {
        let bad = |why: &'static str| SealError::BadState(why);
        let v = json::parse_str(text.trim()).map_err(|_| bad("not JSON"))?;
        if v.get("v").and_then(Value::as_u64) != Some(1) {
            return Err(bad("unknown state version"));
        }
        let s = |k: &'static str| -> Result<String, SealError> {
            v.get(k)
                .and_then(Value::as_str)
                .map(ToString::to_string)
                .ok_or(bad(k))
        };
        let size = v.get("size").and_then(Value::as_u64).ok_or(bad("size"))?;
        let peaks = match v.get("peaks") {
            Some(Value::Arr(a)) => a
                .iter()
                .map(|p| p.as_str().and_then(b64_hash).ok_or(bad("peaks")))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(bad("peaks")),
        };
        let tree = CompactTree::from_parts(size, peaks).ok_or(bad("peaks do not match size"))?;
        let head = match v.get("head") {
            None => None,
            Some(h) => Some(h.as_str().and_then(b64_hash).ok_or(bad("head"))?),
        };
        if head.is_some() != (size > 0) {
            return Err(bad("head does not match size"));
        }
        let last_checkpoint_ns = match v.get("last_checkpoint_ns") {
            Some(Value::Num(Number::Int(t))) => Some(*t),
            None => None,
            Some(_) => return Err(bad("last_checkpoint_ns")),
        };
        let (stream, epoch) = (s("stream")?, s("epoch")?);
        if !valid_stream(&stream) || !valid_epoch(&epoch) {
            return Err(bad("invalid stream or epoch"));
        }
        Ok(ChainState {
            stream,
            epoch,
            tree,
            head,
            last_checkpoint_ns,
        })
    }
}

/// A problem with the sealer's configuration or state (records never fail:
/// see [`Sealer::seal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The stream name is empty, too long or has whitespace.
    InvalidStream,
    /// The epoch ID is not 1-64 of `[A-Za-z0-9._-]`.
    InvalidEpoch,
    /// A saved chain state is unusable; names the field.
    BadState(&'static str),
    /// A saved chain state belongs to another stream.
    StateStreamMismatch {
        /// Stream in the configuration.
        expected: String,
        /// Stream in the state.
        found: String,
    },
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::InvalidStream => {
                f.write_str("stream must be 1-256 characters without whitespace")
            }
            SealError::InvalidEpoch => f.write_str("epoch must be 1-64 of [A-Za-z0-9._-]"),
            SealError::BadState(why) => write!(f, "unusable chain state: {why}"),
            SealError::StateStreamMismatch { expected, found } => write!(
                f,
                "chain state is for stream {found:?}, configuration says {expected:?}"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SealError {}

/// One record to seal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Input<'a> {
    /// The record as received (normally a JSON object).
    pub record: &'a [u8],
    /// The host's tag or route, sealed as `tag` when given.
    pub tag: Option<&'a str>,
    /// The host's event time in nanoseconds since the Unix epoch, sealed as `time`.
    pub time_ns: Option<i64>,
    /// The anomaly verdict as a JSON object text, stored under [`VERDICT_MEMBER`].
    pub verdict: Option<&'a str>,
    /// Attach a signed checkpoint to this record whatever the schedule (for
    /// the last record of a file, so a sealed file is signed to its end).
    pub force_checkpoint: bool,
}

/// The result of sealing one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The sealed record: one line of canonical JSON, no newline.
    pub line: Vec<u8>,
    /// Its sequence number.
    pub seq: u64,
    /// Its entry hash.
    pub hash: Hash,
    /// The signed checkpoint attached to it, if any.
    pub checkpoint: Option<String>,
    /// Why the record was wrapped instead of sealed as is, if it was.
    pub wrapped: Option<String>,
}

/// A host's SHA-256 that also folds the leaf into the Merkle tree:
/// `fold(entry, lefts)` returns `(leaf, peak)` where `leaf = SHA-256(entry)`
/// (`entry` starts with the leaf prefix 0x00) and `peak` is `leaf` folded with
/// the hashes of `lefts` from the last to the first, each as
/// `SHA-256(0x01 || left || peak)` (just `leaf` when `lefts` is empty).
/// `lefts` are the tree's peaks the new leaf completes, largest first, as
/// [`crate::merkle::CompactTree::push_folded`] gives them. See
/// [`Sealer::set_sha256_fold`].
pub type Sha256Fold = fn(entry: &[u8], lefts: &[Hash]) -> (Hash, Hash);

/// Seals records of one stream epoch.
#[derive(Debug, Clone)]
pub struct Sealer {
    key: SignerKey,
    cfg: SealConfig,
    state: ChainState,
    after: Option<After>,
    lost: Option<Lost>,
    canon: Canon,
    vcanon: Canon,
    /// SHA-256 provided by the host, for entry and node hashes (see
    /// [`Sealer::set_sha256_fold`]).
    sha256: Option<Sha256Fold>,
    /// The entry's bytes after the leaf prefix 0x00 (reused per record).
    entry: Vec<u8>,
    /// Reused buffer for the seal member.
    seal_buf: Vec<u8>,
    /// `"epoch":"…",` and `"stream":"…",` as written in every seal member,
    /// and the epoch they were written for.
    names: (String, Vec<u8>, Vec<u8>),
    /// The last entry hash and its base64, the next record's `prev`.
    last_b64: Option<(Hash, [u8; 44])>,
}

impl Sealer {
    /// A new epoch (`cfg.epoch`) starting at sequence 0.
    pub fn new(key: SignerKey, cfg: SealConfig) -> Result<Self, SealError> {
        if !valid_stream(&cfg.stream) {
            return Err(SealError::InvalidStream);
        }
        if !valid_epoch(&cfg.epoch) {
            return Err(SealError::InvalidEpoch);
        }
        let state = ChainState {
            stream: cfg.stream.clone(),
            epoch: cfg.epoch.clone(),
            tree: CompactTree::new(),
            head: None,
            last_checkpoint_ns: None,
        };
        Ok(Sealer {
            key,
            cfg,
            state,
            after: None,
            lost: None,
            canon: Canon::new(),
            vcanon: Canon::new(),
            sha256: None,
            entry: Vec::new(),
            seal_buf: Vec::new(),
            names: (String::new(), Vec::new(), Vec::new()),
            last_b64: None,
        })
    }

    /// Continue a saved chain exactly where it stopped.
    pub fn resume(key: SignerKey, cfg: SealConfig, state: ChainState) -> Result<Self, SealError> {
        if state.stream != cfg.stream {
            return Err(SealError::StateStreamMismatch {
                expected: cfg.stream,
                found: state.stream,
            });
        }
        let mut s = Sealer::new(
            key,
            SealConfig {
                epoch: state.epoch.clone(),
                ..cfg
            },
        )?;
        s.state = state;
        Ok(s)
    }

    /// Compute each entry hash and its merge into the Merkle tree with one
    /// call of `fold` (see [`Sha256Fold`]) instead of this crate's own
    /// SHA-256: for a WebAssembly guest whose host computes SHA-256
    /// natively, one call per record (the `digest` import's `sha256-fold`
    /// in `wit/processor.wit`). The hashes must be exact; nothing else
    /// changes.
    pub fn set_sha256_fold(&mut self, fold: Sha256Fold) {
        self.sha256 = Some(fold);
    }

    /// Continue from `state` instead, as [`Sealer::resume`] with this sealer's
    /// key and configuration would, keeping its buffers (for hosts that
    /// follow a chain head several writers share).
    pub fn resume_at(&mut self, state: ChainState) -> Result<(), SealError> {
        if state.stream != self.cfg.stream {
            return Err(SealError::StateStreamMismatch {
                expected: self.cfg.stream.clone(),
                found: state.stream,
            });
        }
        if !valid_epoch(&state.epoch) {
            return Err(SealError::InvalidEpoch);
        }
        self.cfg.epoch.clone_from(&state.epoch);
        self.state = state;
        self.after = None;
        self.lost = None;
        Ok(())
    }

    /// A new epoch (`cfg.epoch`) whose first record names where `previous` ended.
    /// Use it when the saved state may be behind what was sealed (a crash).
    pub fn new_epoch_after(
        key: SignerKey,
        cfg: SealConfig,
        previous: &ChainState,
    ) -> Result<Self, SealError> {
        let mut s = Sealer::new(key, cfg)?;
        if let (Some(hash), Some(seq)) = (previous.head, previous.next_seq().checked_sub(1)) {
            s.after = Some(After {
                epoch: previous.epoch.clone(),
                seq,
                hash,
            });
        }
        Ok(s)
    }

    /// The chain state (save it to continue after a restart).
    pub fn state(&self) -> &ChainState {
        &self.state
    }

    /// The configuration.
    pub fn config(&self) -> &SealConfig {
        &self.cfg
    }

    /// The signing key.
    pub fn key(&self) -> &SignerKey {
        &self.key
    }

    /// Declare that the records `from..=to` of this epoch, already sealed, were
    /// lost before delivery; the next sealed record carries the declaration.
    pub fn declare_lost(&mut self, from: u64, to: u64, why: &str) {
        self.lost = Some(match self.lost.take() {
            Some(l) => Lost {
                from: l.from.min(from),
                to: l.to.max(to),
                why: l.why,
            },
            None => Lost {
                from,
                to,
                why: why.to_string(),
            },
        });
    }

    /// A signed checkpoint of the tree as it stands (`None` before the first record).
    pub fn checkpoint(&self) -> Option<String> {
        (self.state.tree.size() > 0).then(|| {
            SignedCheckpoint::sign(
                Checkpoint {
                    origin: checkpoint_origin(&self.state.stream, &self.state.epoch),
                    size: self.state.tree.size(),
                    root: self.state.tree.root(),
                    extensions: Vec::new(),
                },
                &self.key,
            )
        })
    }

    /// Seal one record. Never fails: input that is not a JSON object, cannot
    /// be parsed, is too large, or already has a seal is wrapped (kept whole,
    /// with the reason) and sealed in its place in the chain.
    pub fn seal(&mut self, input: Input<'_>) -> Sealed {
        self.seal_impl(
            input,
            None::<fn(&[(Cow<'_, str>, Value<'_>)]) -> Option<String>>,
        )
    }

    /// Like [`Sealer::seal`], but `score` sees the record's members (after
    /// wrapping, if it was wrapped) and may return a verdict (a JSON object
    /// text) to store under [`VERDICT_MEMBER`]; it overrides `input.verdict`.
    pub fn seal_with(
        &mut self,
        input: Input<'_>,
        score: impl FnOnce(&[(Cow<'_, str>, Value<'_>)]) -> Option<String>,
    ) -> Sealed {
        self.seal_impl(input, Some(score))
    }

    fn seal_impl<F>(&mut self, input: Input<'_>, score: Option<F>) -> Sealed
    where
        F: FnOnce(&[(Cow<'_, str>, Value<'_>)]) -> Option<String>,
    {
        // The one-pass canonicaliser takes every valid record; anything it
        // rejects goes through the tree parser, which names the reason.
        let mut wrapped = if input.record.len() > self.cfg.max_record_bytes {
            Some(format!(
                "record of {} bytes exceeds the limit of {} bytes",
                input.record.len(),
                self.cfg.max_record_bytes
            ))
        } else if self.canon.object(input.record).is_ok() {
            self.canon
                .find(SEAL_MEMBER)
                .map(|_| format!("record already has a {SEAL_MEMBER} member"))
        } else {
            match json::parse(input.record) {
                Ok(Value::Obj(m)) => {
                    // Unreachable in practice (both readers accept the same
                    // texts); kept correct anyway via the tree writer.
                    self.load_members(&m);
                    None
                }
                Ok(_) => Some("record is not a JSON object".to_string()),
                Err(e) => Some(e.to_string()),
            }
        };
        if let Some(why) = &wrapped {
            self.load_members(&wrap(input.record, why));
        }

        let scored = score.and_then(|score| {
            if wrapped.is_some() {
                score(&wrap(input.record, wrapped.as_deref().unwrap_or_default()))
            } else {
                match json::parse(input.record) {
                    Ok(Value::Obj(m)) => score(&m),
                    _ => score(&[]),
                }
            }
        });
        let verdict = scored.as_deref().or(input.verdict);
        if verdict.is_some() && self.canon.find(VERDICT_MEMBER).is_some() {
            let why = format!("record already has a {VERDICT_MEMBER} member");
            self.load_members(&wrap(input.record, &why));
            wrapped = Some(why);
        }
        let verdict_bytes = verdict.map(|v| {
            // The verdict is produced by our own engine; if it is ever not an
            // object it is kept as a string rather than lost.
            match self.vcanon.value(v.as_bytes()) {
                Ok(b) if b.first() == Some(&b'{') => b.to_vec(),
                _ => {
                    let mut out = Vec::with_capacity(v.len() + 2);
                    json::write_string(v, &mut out);
                    out
                }
            }
        });
        self.seal_canon(verdict_bytes.as_deref(), input, wrapped)
    }

    /// Put `members` into the canonicaliser as if they had been read.
    fn load_members(&mut self, members: &[(Cow<'_, str>, Value<'_>)]) {
        let mut text = Vec::new();
        json::write_seal(&Value::Obj(members.to_vec()), &mut text);
        // Canonical text of an object: always accepted.
        let _ = self.canon.object(&text);
    }

    /// The seal member's value as hashed, written by hand in canonical order
    /// (`after`, `cp`, `epoch`, `hash`, `lost`, `prev`, `seq`, `stream`,
    /// `tag`, `time`, `v`) without `hash` and `cp`, which the hashed bytes
    /// lack; returns the offsets in `out` where `cp` and `hash` belong in the
    /// stored line.
    fn write_seal_member(
        &self,
        m: &SealMember<'_>,
        input: &Input<'_>,
        out: &mut Vec<u8>,
    ) -> (usize, usize) {
        let SealMember { seq, lost, prev } = *m;
        out.push(b'{');
        if seq == 0
            && let Some(a) = &self.after
        {
            out.extend_from_slice(b"\"after\":{\"epoch\":");
            json::write_string(&a.epoch, out);
            out.extend_from_slice(b",\"hash\":\"");
            push_b64(&a.hash, out);
            out.extend_from_slice(b"\",\"seq\":");
            json::write_uint(a.seq, out);
            out.extend_from_slice(b"},");
        }
        let cp_at = out.len();
        out.extend_from_slice(&self.names.1);
        let hash_at = out.len();
        if let Some(l) = lost {
            out.extend_from_slice(b"\"lost\":{\"from\":");
            json::write_uint(l.from, out);
            out.extend_from_slice(b",\"to\":");
            json::write_uint(l.to, out);
            out.extend_from_slice(b",\"why\":");
            json::write_string(&l.why, out);
            out.extend_from_slice(b"},");
        }
        if let Some(prev) = prev {
            out.extend_from_slice(b"\"prev\":\"");
            match &self.last_b64 {
                Some((h, b)) if h == prev => out.extend_from_slice(b),
                _ => push_b64(prev, out),
            }
            out.extend_from_slice(b"\",");
        }
        out.extend_from_slice(b"\"seq\":");
        json::write_uint(seq, out);
        out.push(b',');
        out.extend_from_slice(&self.names.2);
        if let Some(tag) = input.tag {
            out.extend_from_slice(b"\"tag\":");
            json::write_string(tag, out);
            out.push(b',');
        }
        if let Some(t) = input.time_ns {
            out.extend_from_slice(b"\"time\":");
            json::write_int(t, out);
            out.push(b',');
        }
        out.extend_from_slice(b"\"v\":");
        json::write_uint(VERSION, out);
        out.push(b'}');
        (cp_at, hash_at)
    }

    fn seal_canon(
        &mut self,
        verdict: Option<&[u8]>,
        input: Input<'_>,
        wrapped: Option<String>,
    ) -> Sealed {
        let seq = self.state.tree.size();
        let lost = self.lost.take();

        let prev = self.state.head;
        if self.names.0 != self.state.epoch {
            let (mut e, mut st) = (b"\"epoch\":".to_vec(), b"\"stream\":".to_vec());
            json::write_string(&self.state.epoch, &mut e);
            json::write_string(&self.state.stream, &mut st);
            e.push(b',');
            st.push(b',');
            self.names = (self.state.epoch.clone(), e, st);
        }
        let mut seal = core::mem::take(&mut self.seal_buf);
        seal.clear();
        let m = SealMember {
            seq,
            lost: lost.as_ref(),
            prev: prev.as_ref(),
        };
        let (cp_at, hash_at) = self.write_seal_member(&m, &input, &mut seal);
        // The entry's bytes, once, after the leaf prefix 0x00: the stored
        // line is these bytes with `hash` (and `cp`) added to the seal.
        let mut entry = core::mem::take(&mut self.entry);
        entry.clear();
        entry.push(0);
        let seal_at = 1 + emit_record(&self.canon, verdict, &seal, |b| entry.extend_from_slice(b));
        let hash: Hash = match self.sha256 {
            None => {
                let hash = Sha256::digest(&entry).into();
                self.state.tree.push(hash);
                hash
            }
            Some(fold) => self.state.tree.push_folded(|lefts| fold(&entry, lefts)),
        };
        self.state.head = Some(hash);
        let size = self.state.tree.size();
        let by_count =
            self.cfg.checkpoint_every > 0 && size.is_multiple_of(self.cfg.checkpoint_every);
        let by_time = match (self.cfg.checkpoint_interval_ns, input.time_ns) {
            (0, _) | (_, None) => false,
            (iv, Some(t)) => match self.state.last_checkpoint_ns {
                None => {
                    // The first timed record starts the clock.
                    self.state.last_checkpoint_ns = Some(t);
                    false
                }
                Some(last) => t.saturating_sub(last) >= iv as i64,
            },
        };
        let checkpoint = (by_count || by_time || input.force_checkpoint).then(|| {
            if let Some(t) = input.time_ns {
                self.state.last_checkpoint_ns = Some(t);
            }
            self.checkpoint().unwrap_or_default()
        });

        // `"cp":...,` and `"hash":"...",` at their sorted places in the seal.
        let mut cp_member = Vec::new();
        if let Some(cp) = checkpoint.as_deref() {
            cp_member.extend_from_slice(b"\"cp\":");
            json::write_string(cp, &mut cp_member);
            cp_member.push(b',');
        }
        let hash_text = hash_b64(&hash);
        self.last_b64 = Some((hash, hash_text));
        let mut hash_member = Vec::with_capacity(54);
        hash_member.extend_from_slice(b"\"hash\":\"");
        hash_member.extend_from_slice(&hash_text);
        hash_member.extend_from_slice(b"\",");
        let (cp_at, hash_at) = (seal_at + cp_at, seal_at + hash_at);
        let mut line = Vec::with_capacity(entry.len() - 1 + cp_member.len() + hash_member.len());
        line.extend_from_slice(&entry[1..cp_at]);
        line.extend_from_slice(&cp_member);
        line.extend_from_slice(&entry[cp_at..hash_at]);
        line.extend_from_slice(&hash_member);
        line.extend_from_slice(&entry[hash_at..]);
        self.entry = entry;
        self.seal_buf = seal;

        Sealed {
            line,
            seq,
            hash,
            checkpoint,
            wrapped,
        }
    }
}

/// The fields of one record's seal member that vary per record.
#[derive(Clone, Copy)]
struct SealMember<'a> {
    seq: u64,
    lost: Option<&'a Lost>,
    prev: Option<&'a Hash>,
}

/// Append the base64 of a hash without allocating.
fn push_b64(h: &Hash, out: &mut Vec<u8>) {
    out.extend_from_slice(&hash_b64(h));
}

/// The base64 of a hash (44 characters, one `=`).
fn hash_b64(h: &Hash) -> [u8; 44] {
    use base64::Engine as _;
    let mut buf = [b'='; 44];
    // 32 bytes always fit in 44 characters.
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(h, &mut buf);
    buf
}

/// Write `{members}` with the verdict and seal members spliced in at their
/// sorted places, to `sink` in pieces.
/// Returns where the seal member's value starts in the bytes written.
fn emit_record(
    canon: &Canon,
    verdict: Option<&[u8]>,
    seal: &[u8],
    mut sink: impl FnMut(&[u8]),
) -> usize {
    let mut extras: [(&[u8], &[u8], &[u8]); 2] = [
        (
            VERDICT_MEMBER.as_bytes(),
            b"\"_anomaly\":",
            verdict.unwrap_or_default(),
        ),
        (SEAL_MEMBER.as_bytes(), b"\"_logseal\":", seal),
    ];
    let extras: &mut [(&[u8], &[u8], &[u8])] = if verdict.is_some() {
        &mut extras[..]
    } else {
        &mut extras[1..]
    };
    let seal_x = extras.len() - 1;
    let mut x = 0;
    let mut n = 1;
    let mut seal_at = 0;
    sink(b"{");
    fn put(sink: &mut impl FnMut(&[u8]), n: &mut usize, name: &[u8], value: &[u8]) {
        if *n > 1 {
            sink(b",");
            *n += 1;
        }
        sink(name);
        sink(value);
        *n += name.len() + value.len();
    }
    for i in 0..canon.len() {
        let k = canon.key(i);
        while x < extras.len() && canon::utf16_cmp_bytes(extras[x].0, k).is_lt() {
            if x == seal_x {
                seal_at = n + usize::from(n > 1) + extras[x].1.len();
            }
            put(&mut sink, &mut n, extras[x].1, extras[x].2);
            x += 1;
        }
        put(&mut sink, &mut n, b"", canon.member(i));
    }
    while x < extras.len() {
        if x == seal_x {
            seal_at = n + usize::from(n > 1) + extras[x].1.len();
        }
        put(&mut sink, &mut n, extras[x].1, extras[x].2);
        x += 1;
    }
    sink(b"}");
    seal_at
}

/// `raw` as text for a host whose plugin interface carries text only (a
/// WIT `string`): borrowed when it is valid UTF-8; otherwise the wrapper the
/// sealer itself builds for it (`docs/FORMAT.md` §5: the bytes in base64 and
/// why), which seals byte-identically to sealing `raw` directly, so nothing
/// is lost or replaced on the way in.
pub fn record_text(raw: &[u8]) -> Cow<'_, str> {
    match core::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(e) => {
            // The reason `Sealer` gives for such a record (`json::parse`).
            let why = json::JsonError::InvalidUtf8 {
                offset: e.valid_up_to(),
            };
            let mut out = Vec::new();
            json::write_jcs(&Value::Obj(wrap(raw, &why.to_string())), &mut out);
            // Member names, base64 and the reason are all ASCII.
            Cow::Owned(String::from_utf8_lossy(&out).into_owned())
        }
    }
}

/// The members of a wrapped record (`docs/FORMAT.md` §5).
fn wrap<'a>(raw: &'a [u8], why: &str) -> Vec<(Cow<'a, str>, Value<'a>)> {
    let data = match core::str::from_utf8(raw) {
        Ok(s) => (RAW_MEMBER, Value::Str(Cow::Borrowed(s))),
        Err(_) => (RAW_B64_MEMBER, Value::Str(Cow::Owned(b64(raw)))),
    };
    vec![
        (Cow::Borrowed(data.0), data.1),
        (
            Cow::Borrowed(ERROR_MEMBER),
            Value::Str(Cow::Owned(why.to_string())),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        let long = "s".repeat(257);
        for ok in ["a", "logseal.dev/audit", "é/x", "\u{1f600}", &long[1..]] {
            assert!(valid_stream(ok), "{ok:?}");
        }
        // ASCII and Unicode whitespace and controls (the ASCII fast path
        // must not let any through), empty, too long.
        for bad in [
            "",
            "a b",
            "a\u{a0}b",
            "a\tb",
            "a\nb",
            "\u{7f}",
            "a\u{85}b",
            "a\u{2003}b",
            "x\u{0}",
            &long,
        ] {
            assert!(!valid_stream(bad), "{bad:?}");
        }
    }

    #[test]
    fn host_sha256_gives_the_same_seals() {
        fn fold(entry: &[u8], lefts: &[Hash]) -> (Hash, Hash) {
            let leaf: Hash = Sha256::digest(entry).into();
            (
                leaf,
                lefts
                    .iter()
                    .rev()
                    .fold(leaf, |h, l| crate::merkle::node_hash(l, &h)),
            )
        }
        fn wrong_leaf(entry: &[u8], lefts: &[Hash]) -> (Hash, Hash) {
            ([0; 32], fold(entry, lefts).1)
        }
        fn wrong_peak(entry: &[u8], lefts: &[Hash]) -> (Hash, Hash) {
            let (leaf, peak) = fold(entry, lefts);
            (leaf, if lefts.is_empty() { peak } else { [0; 32] })
        }
        let key = SignerKey::from_seed("h.example/a", [2; 32]).unwrap();
        let mk = || {
            let mut c = SealConfig::new("h.example/a", "e1");
            c.checkpoint_every = 3;
            Sealer::new(key.clone(), c).unwrap()
        };
        let (mut own, mut folded, mut bad_leaf, mut bad_peak) = (mk(), mk(), mk(), mk());
        folded.set_sha256_fold(fold);
        bad_leaf.set_sha256_fold(wrong_leaf);
        bad_peak.set_sha256_fold(wrong_peak);
        let mut checkpoints = 0;
        for rec in [
            &b"{\"b\":1,\"a\":[2]}"[..],
            b"not json",
            b"{\"_anomaly\":1}",
            b"{}",
        ]
        .repeat(5)
        {
            let input = Input {
                record: rec,
                verdict: Some("{\"score\":0.5}"),
                ..Input::default()
            };
            let (a, b) = (own.seal(input), folded.seal(input));
            assert_eq!(a, b);
            let (c, d) = (bad_leaf.seal(input), bad_peak.seal(input));
            assert_ne!(a.line, c.line, "the host's leaf hash is the one used");
            if a.checkpoint.is_some() {
                checkpoints += 1;
                // A wrong fold changes the tree, so the signed root.
                assert_ne!(a.checkpoint, d.checkpoint, "record {}", a.seq);
            }
        }
        assert_eq!(checkpoints, 6);
        assert_eq!(own.state(), folded.state());
        assert_eq!(own.checkpoint(), folded.checkpoint());
    }

    /// A sealer that moves to another chain (`resume_at`) writes that
    /// chain's epoch and `prev`, not the ones it kept from its own: the
    /// same line as a sealer that was on that chain all along.
    #[test]
    fn resume_at_seals_like_the_other_chain() {
        let key = SignerKey::from_seed("h.example/a", [2; 32]).unwrap();
        let mk = |epoch: &str| Sealer::new(key.clone(), SealConfig::new("h.example/a", epoch));
        let (mut a, mut b) = (mk("ea").unwrap(), mk("eb-longer").unwrap());
        let rec = |i: u32| format!("{{\"i\":{i}}}");
        let seal = |s: &mut Sealer, i: u32| {
            let r = rec(i);
            s.seal(Input {
                record: r.as_bytes(),
                ..Input::default()
            })
            .line
        };
        for i in 0..3 {
            seal(&mut a, i);
            seal(&mut b, 100 + i);
        }
        a.resume_at(b.state().clone()).unwrap();
        for i in 0..3 {
            let (x, y) = (seal(&mut a, 200 + i), seal(&mut b, 200 + i));
            assert_eq!(String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
        }
        let line = String::from_utf8(seal(&mut a, 9)).unwrap();
        assert!(line.contains("\"epoch\":\"eb-longer\""), "{line}");
    }

    #[test]
    fn record_text_seals_as_the_raw_bytes() {
        let key = SignerKey::from_seed("t.example/a", [4; 32]).unwrap();
        let mk = || Sealer::new(key.clone(), SealConfig::new("t.example/a", "e1")).unwrap();
        let (mut raw, mut text) = (mk(), mk());
        for rec in [
            &b"{\"user\":\"caf\xe9\"}"[..],
            b"\xff\xfe not json",
            b"{\"a\":1}",
            b"not json",
        ] {
            let t = record_text(rec);
            assert_eq!(
                matches!(t, Cow::Borrowed(_)),
                core::str::from_utf8(rec).is_ok()
            );
            let a = raw.seal(Input {
                record: rec,
                ..Input::default()
            });
            let b = text.seal(Input {
                record: t.as_bytes(),
                ..Input::default()
            });
            assert_eq!(a.line, b.line);
        }
    }

    #[test]
    fn state_json_direct_equals_tree() {
        let key = SignerKey::from_seed("s.example/a", [1; 32]).unwrap();
        let mut cfg = SealConfig::new("s.example/a \u{e9}", "e1");
        cfg.stream = "s.example/\u{e9}\"x".to_string();
        cfg.checkpoint_interval_ns = 5;
        let mut s = Sealer::new(key, cfg).unwrap();
        for n in 0..40i64 {
            let st = s.state().clone();
            assert_eq!(st.to_json(), st.to_json_tree(), "after {n}");
            assert_eq!(ChainState::from_json(&st.to_json()).unwrap(), st);
            // The direct reader takes exactly what the tree reader takes,
            // and re-serialised states go through the tree reader.
            let j = st.to_json();
            if !st.stream.contains('"') {
                assert_eq!(ChainState::from_canonical(&j).as_ref(), Some(&st));
            }
            let v = json::parse_str(&j).unwrap();
            let mut spaced = Vec::new();
            json::write_jcs(&v, &mut spaced);
            let spaced = String::from_utf8(spaced).unwrap().replace(",\"", ", \"");
            assert_eq!(ChainState::from_canonical(&spaced), None);
            assert_eq!(ChainState::from_json(&spaced).unwrap(), st);
            for cut in [1, j.len() / 2, j.len() - 1] {
                assert_eq!(ChainState::from_canonical(&j[..cut]), None);
                assert!(ChainState::from_json(&j[..cut]).is_err());
            }
            s.seal(Input {
                record: b"{}",
                time_ns: (n % 3 != 0).then_some(n * 3 - 7),
                ..Input::default()
            });
        }
    }

    #[test]
    fn epoch_ids() {
        assert_eq!(new_epoch_id(0, 0xabc), "19700101T000000Z-00000abc");
        assert_eq!(
            new_epoch_id(1_795_439_677, 0x9f3a2b1c),
            "20261123T131437Z-9f3a2b1c"
        );
        assert!(valid_epoch(&new_epoch_id(1_795_439_677, 1)));
        assert!(!valid_epoch("a/b"));
        assert!(!valid_epoch(""));
    }
}

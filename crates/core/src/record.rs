//! Reading a stored sealed record back: its seal, and its entry hash
//! recomputed from the record alone (`docs/FORMAT.md` §4).

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use crate::b64_hash;
use crate::canon::Canon;
use crate::json::{self, JsonError, Number, Value};
use crate::merkle::Hash;
use crate::seal::{After, Lost, SEAL_MEMBER, VERSION, valid_epoch, valid_stream};

/// Why a line is not a readable sealed record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// Not JSON.
    Json(JsonError),
    /// JSON, but not an object.
    NotAnObject,
    /// No `_logseal` member.
    NoSeal,
    /// The seal has a version this verifier does not know.
    UnsupportedVersion(u64),
    /// A seal field is missing or has the wrong type; names the field.
    BadSeal(&'static str),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Json(e) => write!(f, "not JSON: {e}"),
            RecordError::NotAnObject => f.write_str("not a JSON object"),
            RecordError::NoSeal => write!(f, "no {SEAL_MEMBER} member (an unsealed record)"),
            RecordError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "seal version {v} is not supported by this verifier (it knows 1)"
                )
            }
            RecordError::BadSeal(field) => write!(f, "seal field {field:?} is missing or invalid"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecordError {}

/// Members a pipeline added beside the sealed record, to be checked against the
/// seal and removed before hashing (for example Fluent Bit's `date`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddedFields {
    /// A member holding the event time in seconds (a number), compared with the seal's `time`.
    pub time_field: Option<String>,
    /// A member holding the tag, compared with the seal's `tag`.
    pub tag_field: Option<String>,
}

/// The seal of a stored record, and what its content hashes to.
#[derive(Clone, Debug, PartialEq)]
pub struct SealedRecord {
    /// Stream.
    pub stream: String,
    /// Epoch.
    pub epoch: String,
    /// Sequence number.
    pub seq: u64,
    /// The previous entry hash, if the seal has one.
    pub prev: Option<Hash>,
    /// The entry hash stored in the seal.
    pub hash: Hash,
    /// The entry hash recomputed from the record.
    pub computed: Hash,
    /// The signed checkpoint text, if attached.
    pub checkpoint: Option<String>,
    /// Sealed tag.
    pub tag: Option<String>,
    /// Sealed event time (ns).
    pub time_ns: Option<i64>,
    /// Predecessor epoch (first record of an epoch only).
    pub after: Option<After>,
    /// Declared lost records.
    pub lost: Option<Lost>,
    /// The anomaly verdict's score, if any.
    pub score: Option<f64>,
    /// A pipeline-added field that disagrees with the seal: (field, found, sealed).
    pub added_mismatch: Option<(String, String, String)>,
}

/// Reads one member of the seal object by name.
type Get<'g, 'a> = &'g dyn Fn(&'static str) -> Option<Value<'a>>;

fn hash_field(get: Get<'_, '_>, k: &'static str) -> Result<Option<Hash>, RecordError> {
    match get(k) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(b64_hash)
            .map(Some)
            .ok_or(RecordError::BadSeal(k)),
    }
}

fn str_field(get: Get<'_, '_>, k: &'static str) -> Result<Option<String>, RecordError> {
    match get(k) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.to_string())),
        Some(_) => Err(RecordError::BadSeal(k)),
    }
}

/// The seal's own fields, read from its value.
struct SealFields {
    stream: String,
    epoch: String,
    seq: u64,
    prev: Option<Hash>,
    hash: Hash,
    checkpoint: Option<String>,
    tag: Option<String>,
    time_ns: Option<i64>,
    after: Option<After>,
    lost: Option<Lost>,
}

/// The seal's fields from the tree of its value.
fn seal_fields(seal: &Value<'_>) -> Result<SealFields, RecordError> {
    if !matches!(seal, Value::Obj(_)) {
        return Err(RecordError::BadSeal("_logseal"));
    }
    seal_fields_by(&|k| seal.get(k).cloned())
}

/// The seal's fields, members read through `get`.
fn seal_fields_by(get: Get<'_, '_>) -> Result<SealFields, RecordError> {
    match get("v").as_ref().and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => return Err(RecordError::UnsupportedVersion(other)),
        None => return Err(RecordError::BadSeal("v")),
    }
    let stream = str_field(get, "stream")?
        .filter(|s| valid_stream(s))
        .ok_or(RecordError::BadSeal("stream"))?;
    let epoch = str_field(get, "epoch")?
        .filter(|s| valid_epoch(s))
        .ok_or(RecordError::BadSeal("epoch"))?;
    let seq = get("seq")
        .as_ref()
        .and_then(Value::as_u64)
        .ok_or(RecordError::BadSeal("seq"))?;
    let prev = hash_field(get, "prev")?;
    let hash = hash_field(get, "hash")?.ok_or(RecordError::BadSeal("hash"))?;
    let checkpoint = str_field(get, "cp")?;
    let tag = str_field(get, "tag")?;
    let time_ns = match get("time") {
        None => None,
        Some(Value::Num(Number::Int(t))) => Some(t),
        Some(_) => return Err(RecordError::BadSeal("time")),
    };
    let after = match get("after") {
        None => None,
        Some(a) => Some(After {
            epoch: a
                .get("epoch")
                .and_then(Value::as_str)
                .ok_or(RecordError::BadSeal("after.epoch"))?
                .to_string(),
            seq: a
                .get("seq")
                .and_then(Value::as_u64)
                .ok_or(RecordError::BadSeal("after.seq"))?,
            hash: hash_field(&|k| a.get(k).cloned(), "hash")?
                .ok_or(RecordError::BadSeal("after.hash"))?,
        }),
    };
    let lost = match get("lost") {
        None => None,
        Some(l) => {
            let from = l.get("from").and_then(Value::as_u64);
            let to = l.get("to").and_then(Value::as_u64);
            let why = l.get("why").and_then(Value::as_str);
            match (from, to, why) {
                (Some(from), Some(to), Some(why)) if from <= to && to < seq => Some(Lost {
                    from,
                    to,
                    why: why.to_string(),
                }),
                _ => return Err(RecordError::BadSeal("lost")),
            }
        }
    };

    Ok(SealFields {
        stream,
        epoch,
        seq,
        prev,
        hash,
        checkpoint,
        tag,
        time_ns,
        after,
        lost,
    })
}

/// Whether a pipeline-added time member agrees with the sealed time; the
/// mismatch `(field, found, sealed)` if not.
fn check_time(field: &str, found: &Value<'_>, t: i64) -> Option<(String, String, String)> {
    let ok = match found {
        Value::Num(n) => {
            let secs = n.as_f64();
            let sealed = t as f64 / 1e9;
            // Pipelines print the time with microseconds.
            (secs - sealed).abs() <= 1.5e-6
        }
        _ => false,
    };
    (!ok).then(|| {
        let mut text = Vec::new();
        json::write_jcs(found, &mut text);
        (
            field.to_string(),
            String::from_utf8(text).unwrap_or_default(),
            crate::format_time_ns(t),
        )
    })
}

/// Like [`check_time`] for the tag.
fn check_tag(field: &str, found: &Value<'_>, t: &str) -> Option<(String, String, String)> {
    (found.as_str() != Some(t)).then(|| {
        let mut text = Vec::new();
        json::write_jcs(found, &mut text);
        (
            field.to_string(),
            String::from_utf8(text).unwrap_or_default(),
            t.to_string(),
        )
    })
}

fn score_of(verdict: &Value<'_>) -> Option<f64> {
    match verdict.get("score") {
        Some(Value::Num(n)) => Some(n.as_f64()),
        _ => None,
    }
}

/// Reads stored lines with reused buffers (see [`crate::canon`]); the
/// verifier keeps one.
#[derive(Clone, Debug)]
pub struct Reader {
    canon: Canon,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            canon: Canon::capturing(SEAL_MEMBER),
        }
    }
}

/// Where the pieces of a leaf's input go: a buffer ([`Reader::read_unhashed`])
/// or straight into SHA-256 ([`Reader::read`], which so never copies the
/// entry bytes out of the canonicaliser's buffer).
trait LeafSink {
    fn put(&mut self, b: &[u8]);
}

impl LeafSink for Vec<u8> {
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

impl LeafSink for Sha256 {
    fn put(&mut self, b: &[u8]) {
        self.update(b);
    }
}

/// The seal's member names; `cp` (1) and `hash` (3) are left out of the hash.
const SEAL_KEYS: [&str; 11] = [
    "after", "cp", "epoch", "hash", "lost", "prev", "seq", "stream", "tag", "time", "v",
];

/// The index of a seal member's name in [`SEAL_KEYS`] (a `match`, which
/// compiles to a length switch and a word compare, where a search of the
/// list cost 2% of a verification).
fn seal_key(k: &[u8]) -> Option<usize> {
    Some(match k {
        b"after" => 0,
        b"cp" => 1,
        b"epoch" => 2,
        b"hash" => 3,
        b"lost" => 4,
        b"prev" => 5,
        b"seq" => 6,
        b"stream" => 7,
        b"tag" => 8,
        b"time" => 9,
        b"v" => 10,
        _ => return None,
    })
}

impl Reader {
    /// A reader with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse a stored line and recompute its entry hash.
    pub fn read(&mut self, line: &[u8], added: &AddedFields) -> Result<SealedRecord, RecordError> {
        let mut h = Sha256::new();
        let mut r = self.read_to(line, added, &mut h)?;
        r.computed = h.finalize().into();
        Ok(r)
    }

    /// Like [`Reader::read`] but leaves the hashing to the caller: appends
    /// the leaf's input (`0x00` and the entry bytes) to `leaf` and leaves
    /// `computed` zero. `SHA-256(leaf)` is the entry hash; a caller with
    /// many records hashes them together ([`crate::many::sha256_many`]).
    pub fn read_unhashed(
        &mut self,
        line: &[u8],
        added: &AddedFields,
        leaf: &mut Vec<u8>,
    ) -> Result<SealedRecord, RecordError> {
        let start = leaf.len();
        let r = self.read_to(line, added, leaf);
        if r.is_err() {
            leaf.truncate(start);
        }
        r
    }

    /// Read `line`, appending the leaf's input (`0x00` and the entry bytes)
    /// to `sink`; `computed` is left zero.
    fn read_to(
        &mut self,
        line: &[u8],
        added: &AddedFields,
        sink: &mut impl LeafSink,
    ) -> Result<SealedRecord, RecordError> {
        let Some(text) = core::str::from_utf8(line)
            .ok()
            .filter(|t| self.canon.object_str(t).is_ok())
        else {
            // Not valid JSON (or not an object): the tree reader names why.
            let mut leaf = Vec::new();
            let r = read_tree_to(line, added, &mut leaf)?;
            sink.put(&leaf);
            return Ok(r);
        };
        let c = &self.canon;
        let at = c.find(SEAL_MEMBER).ok_or(RecordError::NoSeal)?;
        // The seal's members, read as written (a number's digits matter to
        // the field checks) and canonical (for the hash).
        let sc = c.nested().ok_or(RecordError::BadSeal("_logseal"))?;
        let mut slots = [usize::MAX; SEAL_KEYS.len()];
        for j in 0..sc.len() {
            if let Some(k) = seal_key(sc.key(j)) {
                slots[k] = j;
            }
        }
        let f = match plain_seal_fields(&slots, &sc, text) {
            Some(f) => f,
            None => seal_fields_by(&|k| {
                let j = *SEAL_KEYS
                    .iter()
                    .position(|x| *x == k)
                    .and_then(|k| slots.get(k))?;
                if j == usize::MAX {
                    return None;
                }
                json::parse_quick(&text[sc.input_span(j)]).ok()
            })?,
        };

        let mut added_mismatch = None;
        let mut skip = [usize::MAX; 2];
        if let (Some(field), Some(t)) = (&added.time_field, f.time_ns)
            && let Some(i) = c.find(field)
        {
            skip[0] = i;
            // The value as the pipeline printed it (canonical form rounds).
            let found = json::parse(&line[c.input_span(i)]).map_err(RecordError::Json)?;
            if let Some(m) = check_time(field, &found, t) {
                added_mismatch = Some(m);
            }
        }
        if let (Some(field), Some(t)) = (&added.tag_field, &f.tag)
            && let Some(i) = c.find(field)
        {
            skip[1] = i;
            let found = json::parse(&line[c.input_span(i)]).map_err(RecordError::Json)?;
            if let Some(m) = check_tag(field, &found, t) {
                added_mismatch = Some(m);
            }
        }
        let score = c
            .find(crate::seal::VERDICT_MEMBER)
            .and_then(|i| json::parse(c.value_of(i)).ok())
            .and_then(|v| score_of(&v));

        let mut runs = Runs {
            out: c.output(),
            sink,
            pending: None,
        };
        runs.literal(b"\0{");
        let mut first = true;
        for i in 0..c.len() {
            if skip.contains(&i) {
                continue;
            }
            if i == at {
                // The seal as hashed: without `hash` and `cp`.
                runs.literal(if first {
                    b"\"_logseal\":{"
                } else {
                    b",\"_logseal\":{"
                });
                let mut first = true;
                for j in 0..sc.len() {
                    if j == slots[1] || j == slots[3] {
                        continue;
                    }
                    runs.member(sc.member_span(j), !first);
                    first = false;
                }
                runs.literal(b"}");
            } else {
                runs.member(c.member_span(i), !first);
            }
            first = false;
        }
        runs.literal(b"}");
        Ok(SealedRecord {
            stream: f.stream,
            epoch: f.epoch,
            seq: f.seq,
            prev: f.prev,
            hash: f.hash,
            computed: [0; 32],
            checkpoint: f.checkpoint,
            tag: f.tag,
            time_ns: f.time_ns,
            after: f.after,
            lost: f.lost,
            score,
            added_mismatch,
        })
    }
}

/// The seal's fields in the usual case, read straight from the text: only
/// the members a sealer writes for a record without `after` and `lost`,
/// strings without escapes, integers of at most 18 digits, everything
/// valid. Anything else (a checkpoint, whose text has escaped newlines, an
/// unknown member, a bad value) returns `None`, and [`seal_fields_by`]
/// reads the seal and names any error; where this returns fields, they are
/// the ones `seal_fields_by` reads.
fn plain_seal_fields(
    slots: &[usize; SEAL_KEYS.len()],
    sc: &crate::canon::Nested<'_>,
    text: &str,
) -> Option<SealFields> {
    let present = slots.iter().filter(|&&j| j != usize::MAX).count();
    if present != sc.len() || slots[0] != usize::MAX || slots[4] != usize::MAX {
        return None;
    }
    /// A string without escapes: its text between the quotes.
    fn plain(t: &str) -> Option<&str> {
        let inner = t.strip_prefix('"')?.strip_suffix('"')?;
        (!inner.contains('\\')).then_some(inner)
    }
    fn uint(t: &str) -> Option<u64> {
        let b = t.as_bytes();
        let ok = (1..=18).contains(&b.len())
            && b.iter().all(u8::is_ascii_digit)
            && (b[0] != b'0' || b.len() == 1);
        ok.then(|| t.parse().ok()).flatten()
    }
    let get = |k: usize| (slots[k] != usize::MAX).then(|| &text[sc.input_span(slots[k])]);
    let hash = |t: &str| b64_hash(plain(t)?);
    // A member that may be absent: `Some(None)` if absent, `None` if bad.
    fn absent_or<T>(t: Option<&str>, read: impl Fn(&str) -> Option<T>) -> Option<Option<T>> {
        match t {
            None => Some(None),
            Some(t) => read(t).map(Some),
        }
    }
    if uint(get(10)?)? != VERSION {
        return None;
    }
    let stream = plain(get(7)?).filter(|s| valid_stream(s))?;
    let epoch = plain(get(2)?).filter(|s| valid_epoch(s))?;
    Some(SealFields {
        seq: uint(get(6)?)?,
        prev: absent_or(get(5), hash)?,
        hash: hash(get(3)?)?,
        checkpoint: absent_or(get(1), |t| plain(t).map(str::to_string))?,
        tag: absent_or(get(8), |t| plain(t).map(str::to_string))?,
        time_ns: absent_or(get(9), |t| i64::try_from(uint(t)?).ok())?,
        stream: stream.to_string(),
        epoch: epoch.to_string(),
        after: None,
        lost: None,
    })
}

/// Copies an entry's pieces out of the canonicaliser's buffer, a run of
/// adjacent members at a time (one copy instead of one per member: in
/// WebAssembly each copy is a call).
struct Runs<'a, S: LeafSink> {
    out: &'a [u8],
    sink: &'a mut S,
    /// A run of `out` not copied yet.
    pending: Option<core::ops::Range<usize>>,
}

impl<S: LeafSink> Runs<'_, S> {
    /// Member bytes `span` of `out`, after a comma if `comma`.
    fn member(&mut self, span: core::ops::Range<usize>, comma: bool) {
        if let Some(p) = &mut self.pending
            && comma
            && span.start == p.end + 1
            && self.out.get(p.end) == Some(&b',')
        {
            p.end = span.end;
            return;
        }
        self.flush();
        if comma {
            self.sink.put(b",");
        }
        self.pending = Some(span);
    }

    fn literal(&mut self, b: &[u8]) {
        self.flush();
        self.sink.put(b);
    }

    fn flush(&mut self) {
        if let Some(p) = self.pending.take() {
            self.sink.put(&self.out[p]);
        }
    }
}

/// Parse a stored line and recompute its entry hash (with fresh buffers; a
/// [`Reader`] reuses them).
pub fn read(line: &[u8], added: &AddedFields) -> Result<SealedRecord, RecordError> {
    Reader::new().read(line, added)
}

/// The tree-based reader: the reference the one-pass reader is tested
/// against, and the path that explains a line the one-pass reader rejects.
pub fn read_tree(line: &[u8], added: &AddedFields) -> Result<SealedRecord, RecordError> {
    let mut leaf = Vec::with_capacity(line.len() + 1);
    let mut r = read_tree_to(line, added, &mut leaf)?;
    r.computed = Sha256::digest(&leaf).into();
    Ok(r)
}

/// [`read_tree`], giving the leaf's input to `sink` (see `Reader::read_to`).
fn read_tree_to(
    line: &[u8],
    added: &AddedFields,
    sink: &mut Vec<u8>,
) -> Result<SealedRecord, RecordError> {
    let v = json::parse(line).map_err(RecordError::Json)?;
    let Value::Obj(mut members) = v else {
        return Err(RecordError::NotAnObject);
    };
    let at = members
        .iter()
        .position(|(k, _)| k == SEAL_MEMBER)
        .ok_or(RecordError::NoSeal)?;
    let f = seal_fields(&members[at].1)?;
    // The seal as hashed: without `hash` and `cp`.
    let Value::Obj(seal_members) = &members[at].1 else {
        return Err(RecordError::BadSeal("_logseal"));
    };
    let hashed_seal: Vec<(Cow<'_, str>, Value<'_>)> = seal_members
        .iter()
        .filter(|(k, _)| k != "hash" && k != "cp")
        .cloned()
        .collect();
    members[at].1 = Value::Obj(hashed_seal);

    let mut added_mismatch = None;
    if let (Some(field), Some(t)) = (&added.time_field, f.time_ns)
        && let Some(i) = members.iter().position(|(k, _)| k == field.as_str())
    {
        let (_, found) = members.remove(i);
        if let Some(m) = check_time(field, &found, t) {
            added_mismatch = Some(m);
        }
    }
    if let (Some(field), Some(t)) = (&added.tag_field, &f.tag)
        && let Some(i) = members.iter().position(|(k, _)| k == field.as_str())
    {
        let (_, found) = members.remove(i);
        if let Some(m) = check_tag(field, &found, t) {
            added_mismatch = Some(m);
        }
    }
    let score = members
        .iter()
        .find(|(k, _)| k == crate::seal::VERDICT_MEMBER)
        .and_then(|(_, v)| score_of(v));

    sink.push(0);
    json::write_seal(&Value::Obj(members), sink);
    Ok(SealedRecord {
        stream: f.stream,
        epoch: f.epoch,
        seq: f.seq,
        prev: f.prev,
        hash: f.hash,
        computed: [0; 32],
        checkpoint: f.checkpoint,
        tag: f.tag,
        time_ns: f.time_ns,
        after: f.after,
        lost: f.lost,
        score,
        added_mismatch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_key_is_the_position_in_seal_keys() {
        for (i, k) in SEAL_KEYS.iter().enumerate() {
            assert_eq!(seal_key(k.as_bytes()), Some(i), "{k}");
        }
        for k in ["", "x", "hashes", "Hash", "seq ", "_logseal", "epoc"] {
            assert_eq!(seal_key(k.as_bytes()), None, "{k:?}");
        }
    }
}

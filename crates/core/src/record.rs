//! Reading a stored sealed record back: its seal, and its entry hash
//! recomputed from the record alone (`docs/FORMAT.md` §4).

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::b64_hash;
use crate::json::{self, JsonError, Number, Value};
use crate::merkle::{Hash, leaf_hash};
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

fn hash_field(seal: &Value<'_>, k: &'static str) -> Result<Option<Hash>, RecordError> {
    match seal.get(k) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(b64_hash)
            .map(Some)
            .ok_or(RecordError::BadSeal(k)),
    }
}

fn str_field(seal: &Value<'_>, k: &'static str) -> Result<Option<String>, RecordError> {
    match seal.get(k) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.to_string())),
        Some(_) => Err(RecordError::BadSeal(k)),
    }
}

/// Parse a stored line and recompute its entry hash.
pub fn read(line: &[u8], added: &AddedFields) -> Result<SealedRecord, RecordError> {
    let v = json::parse(line).map_err(RecordError::Json)?;
    let Value::Obj(mut members) = v else {
        return Err(RecordError::NotAnObject);
    };
    let at = members
        .iter()
        .position(|(k, _)| k == SEAL_MEMBER)
        .ok_or(RecordError::NoSeal)?;
    let seal = &members[at].1;
    if !matches!(seal, Value::Obj(_)) {
        return Err(RecordError::BadSeal("_logseal"));
    }
    match seal.get("v").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => return Err(RecordError::UnsupportedVersion(other)),
        None => return Err(RecordError::BadSeal("v")),
    }
    let stream = str_field(seal, "stream")?
        .filter(|s| valid_stream(s))
        .ok_or(RecordError::BadSeal("stream"))?;
    let epoch = str_field(seal, "epoch")?
        .filter(|s| valid_epoch(s))
        .ok_or(RecordError::BadSeal("epoch"))?;
    let seq = seal
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or(RecordError::BadSeal("seq"))?;
    let prev = hash_field(seal, "prev")?;
    let hash = hash_field(seal, "hash")?.ok_or(RecordError::BadSeal("hash"))?;
    let checkpoint = str_field(seal, "cp")?;
    let tag = str_field(seal, "tag")?;
    let time_ns = match seal.get("time") {
        None => None,
        Some(Value::Num(Number::Int(t))) => Some(*t),
        Some(_) => return Err(RecordError::BadSeal("time")),
    };
    let after = match seal.get("after") {
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
            hash: hash_field(a, "hash")?.ok_or(RecordError::BadSeal("after.hash"))?,
        }),
    };
    let lost = match seal.get("lost") {
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
    if let (Some(f), Some(t)) = (&added.time_field, time_ns)
        && let Some(i) = members.iter().position(|(k, _)| k == f.as_str())
    {
        let (_, found) = members.remove(i);
        let ok = match &found {
            Value::Num(n) => {
                let secs = n.as_f64();
                let sealed = t as f64 / 1e9;
                // Pipelines print the time with microseconds.
                (secs - sealed).abs() <= 1.5e-6
            }
            _ => false,
        };
        if !ok {
            let mut text = Vec::new();
            json::write_jcs(&found, &mut text);
            added_mismatch = Some((
                f.clone(),
                String::from_utf8(text).unwrap_or_default(),
                crate::format_time_ns(t),
            ));
        }
    }
    if let (Some(f), Some(t)) = (&added.tag_field, &tag)
        && let Some(i) = members.iter().position(|(k, _)| k == f.as_str())
    {
        let (_, found) = members.remove(i);
        if found.as_str() != Some(t.as_str()) {
            let mut text = Vec::new();
            json::write_jcs(&found, &mut text);
            added_mismatch = Some((
                f.clone(),
                String::from_utf8(text).unwrap_or_default(),
                t.clone(),
            ));
        }
    }
    let score = members
        .iter()
        .find(|(k, _)| k == crate::seal::VERDICT_MEMBER)
        .and_then(|(_, v)| match v.get("score") {
            Some(Value::Num(n)) => Some(n.as_f64()),
            _ => None,
        });

    let mut entry = Vec::with_capacity(line.len());
    json::write_seal(&Value::Obj(members), &mut entry);
    Ok(SealedRecord {
        stream,
        epoch,
        seq,
        prev,
        hash,
        computed: leaf_hash(&entry),
        checkpoint,
        tag,
        time_ns,
        after,
        lost,
        score,
        added_mismatch,
    })
}

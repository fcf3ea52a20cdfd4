//! logseal-anomaly: explainable, streaming, bounded-memory anomaly scoring of
//! audit events, run by every logseal plugin before sealing so the verdict is
//! sealed with the event.
//!
//! * `no_std` + `alloc`, no clocks, no randomness: time only comes in as
//!   arguments and every float goes through `libm`, so native and wasm builds
//!   produce byte-identical [`Verdict::to_json`] output.
//! * Detectors: threshold / distinct / followed-by rules, seasonal rate
//!   baselines, per-entity first-seen / rare values, unusual hour, peer-group
//!   rarity, impossible travel, and DeepLog-style next-event sequences over
//!   Drain-mined templates. Each yields a tail probability; the findings
//!   of one question about one event (a detector's; all the `new_value`
//!   detectors' of one entity; all its `unusual_hour` detectors') combine
//!   by Simes' method, as they are not independent, and the questions'
//!   values by Fisher's method, into a score and a severity, with readable
//!   reasons.
//! * Memory is bounded by `memory_budget_bytes` in the [`Policy`].
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod drain;
mod engine;
#[doc(hidden)]
pub mod gauge;
mod heap;
pub mod num;
pub mod policy;
mod snapshot;
pub mod store;
mod time;

#[cfg(feature = "std")]
pub mod eval;
#[cfg(feature = "serde_json")]
pub mod testkit;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use drain::Drain;

/// A text as the verdict shows it (a reason's `text`, `observed`,
/// `expected`): control characters, line and paragraph separators and the
/// format characters that reorder or hide text (bidi overrides, zero-width
/// characters) written as escapes (`\n`, `\u{202e}`), cut to 1,024 bytes
/// with `…`. For hosts that put other text beside the verdict's, such as a
/// WIT rule's reason in the flat `reason` (`logseal-pipeline`).
pub fn display_text(text: &str) -> alloc::string::String {
    engine::member_text(text.into())
}
pub use engine::Engine;
pub use policy::{DetectorSpec, PRESETS, Policy, PolicyError};
pub use time::parse_time_secs;

/// A field value as seen by the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

/// Field access so the engine does not care which JSON library parsed the event.
pub trait Event {
    /// Look up a dotted path ("user.name", "requestParameters.userName"); None when absent.
    fn field(&self, path: &str) -> Option<FieldValue<'_>>;

    /// How many items the array at a dotted path holds; `None` when the
    /// path names no array. Conditions on `F.*` test each item, read with
    /// [`Event::item`]. The default knows no arrays: such an event's `F.*`
    /// conditions read `F` as one value, or else `F.0`, `F.1`, ... with
    /// [`Event::field`] up to the first missing one.
    fn items(&self, path: &str) -> Option<usize> {
        let _ = path;
        None
    }

    /// Item `i` of the array at a dotted path, if it is a value (the
    /// array [`Event::items`] counted, not another member a path built
    /// from it might name: `{"a.b": [..], "a": {"b": [..]}}`).
    fn item(&self, path: &str, i: usize) -> Option<FieldValue<'_>> {
        let _ = (path, i);
        None
    }
}

impl<E: Event + ?Sized> Event for &E {
    fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        (**self).field(path)
    }

    fn items(&self, path: &str) -> Option<usize> {
        (**self).items(path)
    }

    fn item(&self, path: &str, i: usize) -> Option<FieldValue<'_>> {
        (**self).item(path, i)
    }
}

/// A flat list of `(path, value)` pairs is an event too (handy for tests and hosts).
impl Event for [(&str, FieldValue<'_>)] {
    fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        self.iter().find(|(k, _)| *k == path).map(|(_, v)| *v)
    }
}

/// Objects up to this many members are searched by one pass over them
/// (see `field` below); larger ones by name.
#[cfg(feature = "serde_json")]
const SCAN_MEMBERS: usize = 16;

/// Whether two field names are equal, without a call to `memcmp` for
/// names of up to 16 bytes (nearly all of them): two overlapping word
/// loads a side. For names this short the call cost several times the
/// comparison. Event implementations that search member names (this
/// crate's for `serde_json`, `logseal-pipeline`'s for sealed records) use
/// it.
#[inline(always)]
pub fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w8 = |x: &[u8], i: usize| {
        x.get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_ne_bytes)
    };
    let w4 = |x: &[u8], i: usize| {
        x.get(i..i + 4)
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map(u32::from_ne_bytes)
    };
    match n {
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        _ => a == b,
    }
}

/// The index a dotted path's segment names in an array of `len` items: a
/// decimal index from the start (`sourceIPs.0`), or with a minus sign from
/// the end (`sourceIPs.-1`, the last, as in jq). `None` for anything else
/// or an index out of range. Every [`Event`] of this workspace reads array
/// segments so.
pub fn index_of(seg: &str, len: usize) -> Option<usize> {
    let (neg, digits) = match seg.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, seg),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: usize = digits.parse().ok()?;
    if neg {
        len.checked_sub(n).filter(|_| n > 0)
    } else {
        Some(n).filter(|&i| i < len)
    }
}

#[cfg(feature = "serde_json")]
impl Event for serde_json::Value {
    fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        scalar(value_at(self, path)?)
    }

    fn items(&self, path: &str) -> Option<usize> {
        match value_at(self, path)? {
            serde_json::Value::Array(a) => Some(a.len()),
            _ => None,
        }
    }

    fn item(&self, path: &str, i: usize) -> Option<FieldValue<'_>> {
        match value_at(self, path)? {
            serde_json::Value::Array(a) => scalar(a.get(i)?),
            _ => None,
        }
    }
}

#[cfg(feature = "serde_json")]
fn scalar(v: &serde_json::Value) -> Option<FieldValue<'_>> {
    match v {
        serde_json::Value::String(s) => Some(FieldValue::Str(s)),
        serde_json::Value::Number(n) => n.as_f64().map(FieldValue::Num),
        serde_json::Value::Bool(b) => Some(FieldValue::Bool(*b)),
        _ => None,
    }
}

/// The value a dotted path names below `cur`, as `logseal_pipeline::Members`
/// finds it: at each level a member named with the whole rest of the path
/// wins ("user.name" flattened, "@timestamp"); else the first segment's
/// member is descended into (an array's item by [`index_of`]); else, when
/// that leads nowhere, members named with a longer head of the path
/// ("event.category" of "event.category.0"), shortest first. (The longer
/// heads were not tried here before December 2026, so a flattened key
/// holding an object or array was found by the plugins and not here; found
/// by review.)
#[cfg(feature = "serde_json")]
fn value_at<'v>(mut cur: &'v serde_json::Value, mut rest: &str) -> Option<&'v serde_json::Value> {
    loop {
        let obj = match cur {
            serde_json::Value::Object(o) => o,
            serde_json::Value::Array(a) => {
                let (seg, tail) = match rest.bytes().position(|b| b == b'.') {
                    Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                    None => (rest, None),
                };
                cur = a.get(index_of(seg, a.len())?)?;
                match tail {
                    None => return Some(cur),
                    Some(t) => {
                        rest = t;
                        continue;
                    }
                }
            }
            _ => return None,
        };
        // (A byte loop, not `find`: its `memchr` costs more than the
        // short names it searches.)
        let Some(i) = rest.bytes().position(|b| b == b'.') else {
            if obj.len() > SCAN_MEMBERS {
                return obj.get(rest);
            }
            // A small object is scanned too: most names differ in length,
            // which settles them without comparing bytes.
            return obj.iter().find(|(k, _)| same_name(k, rest)).map(|(_, v)| v);
        };
        let seg = &rest[..i];
        // `longer`: a member may be named with a longer head of the path
        // (its first segment and a dot; confirmed in `longer_heads`).
        let (nested, longer) = if obj.len() > SCAN_MEMBERS {
            if let Some(v) = obj.get(rest) {
                return Some(v);
            }
            (obj.get(seg), rest[i + 1..].contains('.'))
        } else {
            // A small object: one pass finds both names (two lookups cost
            // two searches, or two hashes of the name when serde_json
            // keeps insertion order).
            let (mut nested, mut longer) = (None, false);
            for (k, v) in obj {
                if same_name(k, rest) {
                    return Some(v);
                }
                if same_name(k, seg) {
                    nested = Some(v);
                }
                longer |= k.len() > i && k.as_bytes()[i] == b'.';
            }
            (nested, longer)
        };
        if longer {
            return longer_heads(nested, obj, rest, i);
        }
        cur = nested?;
        rest = &rest[i + 1..];
    }
}

/// [`value_at`] at an object where a member may be named with a longer
/// head of the path: below the first segment's member, else below the
/// longer heads, shortest first.
#[cfg(feature = "serde_json")]
#[cold]
#[inline(never)]
fn longer_heads<'v>(
    nested: Option<&'v serde_json::Value>,
    obj: &'v serde_json::Map<String, serde_json::Value>,
    rest: &str,
    first_dot: usize,
) -> Option<&'v serde_json::Value> {
    if let Some(x) = nested.and_then(|v| value_at(v, &rest[first_dot + 1..])) {
        return Some(x);
    }
    let mut dot = first_dot;
    while let Some(next) = rest[dot + 1..].bytes().position(|b| b == b'.') {
        dot += 1 + next;
        if let Some(v) = obj.get(&rest[..dot])
            && let Some(x) = value_at(v, &rest[dot + 1..])
        {
            return Some(x);
        }
    }
    None
}

/// Severity derived from the score with the policy's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One readable explanation: `{detector, entity, feature, observed, expected, p}` plus text.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// Detector name from the policy.
    pub detector: String,
    /// The entity the baseline belongs to (user, source IP, session, `*` for global).
    pub entity: String,
    /// What was measured (`source_ip`, `count`, `hour`, `next_event`, ...).
    pub feature: String,
    pub observed: String,
    pub expected: String,
    /// Calibrated tail probability of something at least this unusual.
    pub p: f64,
    /// A sentence a person can read.
    pub text: String,
}

/// The verdict sealed with the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `min(1, -log10(p_combined) / 6)`, rounded to 4 decimals.
    pub score: f64,
    pub severity: Severity,
    /// Most significant first.
    pub reasons: Vec<Reason>,
}

impl Verdict {
    pub fn none() -> Verdict {
        Verdict {
            score: 0.0,
            severity: Severity::None,
            reasons: Vec::new(),
        }
    }

    /// The member added to the record, as a JSON object text, deterministic:
    /// `{"score":0.6842,"severity":"high","reason":"<top reason text>","reasons":[{"detector":..,"entity":..,"feature":..,"observed":..,"expected":..,"p":..,"text":..}]}`
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(64 + self.reasons.len() * 160);
        o.push_str("{\"score\":");
        num::write_num(&mut o, self.score);
        o.push_str(",\"severity\":\"");
        o.push_str(self.severity.as_str());
        o.push_str("\",\"reason\":");
        num::write_json_str(
            &mut o,
            self.reasons.first().map(|r| r.text.as_str()).unwrap_or(""),
        );
        o.push_str(",\"reasons\":[");
        for (i, r) in self.reasons.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str("{\"detector\":");
            num::write_json_str(&mut o, &r.detector);
            o.push_str(",\"entity\":");
            num::write_json_str(&mut o, &r.entity);
            o.push_str(",\"feature\":");
            num::write_json_str(&mut o, &r.feature);
            o.push_str(",\"observed\":");
            num::write_json_str(&mut o, &r.observed);
            o.push_str(",\"expected\":");
            num::write_json_str(&mut o, &r.expected);
            o.push_str(",\"p\":");
            num::write_p(&mut o, r.p);
            o.push_str(",\"text\":");
            num::write_json_str(&mut o, &r.text);
            o.push('}');
        }
        o.push_str("]}");
        o
    }
}

/// A snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// Not a logseal-anomaly snapshot.
    BadMagic,
    /// Written by a format version this build does not read.
    UnsupportedVersion(u16),
    /// Written under a different policy (detectors or budget differ).
    PolicyMismatch,
    /// Truncated or corrupt.
    Corrupt(&'static str),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::BadMagic => f.write_str("not a logseal-anomaly state snapshot"),
            StateError::UnsupportedVersion(v) => {
                write!(f, "unsupported state snapshot version {v}")
            }
            StateError::PolicyMismatch => {
                f.write_str("state snapshot was written under a different policy")
            }
            StateError::Corrupt(w) => write!(f, "corrupt state snapshot: {w}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for StateError {}

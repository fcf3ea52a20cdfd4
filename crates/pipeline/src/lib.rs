//! # logseal-pipeline: score, then seal
//!
//! Every plugin (the Fluent Bit module, the WIT component, the Envoy filter,
//! the native `logseal seal`) runs the same per-record step: the anomaly engine
//! scores the record, the verdict becomes an ordinary member of the record,
//! and the sealer seals the whole, so the verdict is covered by the seal. This
//! crate is that step, plus the plugin configuration file they all read, so the
//! plugins stay thin adapters and produce byte-identical output.
//!
//! The record is parsed once: the sealer hands its parsed members to the
//! engine through [`logseal_core::Sealer::seal_with`].

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod config;

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use logseal_anomaly::{Engine, Event, FieldValue, Policy, same_name as same};
use logseal_core::json::{Number, Value};
use logseal_core::{Input, Sealed, Sealer};

pub use config::{Config, ConfigError, name_hash};

/// A record's members seen as an anomaly-engine event.
///
/// A policy tries several paths for each field (`user.name`, `user`,
/// `username`, ...) and most of them name nothing in a given record. So
/// that most misses cost no search, `new` notes the first byte of every
/// top-level name in a 64-bit filter: a path whose first byte is not there
/// is absent without a look at the members. (The first byte, not the first
/// segment: finding the segment's end in every path read cost more than
/// the searches it saved.) It also notes whether any top-level name has a
/// dot: when none has, which is the rule for nested records, a dotted path
/// can only be its first segment's object, found in one search instead of
/// three.
pub struct Members<'m, 'a> {
    members: &'m [(Cow<'a, str>, Value<'a>)],
    firsts: u64,
    dotted: bool,
}

impl<'m, 'a> Members<'m, 'a> {
    /// The event view of a record's top-level members.
    pub fn new(members: &'m [(Cow<'a, str>, Value<'a>)]) -> Self {
        let (mut firsts, mut dotted) = (0, false);
        for (k, _) in members {
            let k = k.as_bytes();
            firsts |= first_byte_bit(k);
            dotted |= k.contains(&b'.');
        }
        Members {
            members,
            firsts,
            dotted,
        }
    }
}

/// The filter bit of a name's first byte. Every member a lookup can find
/// at the top level (named with the whole path, its first segment, or a
/// longer head of it) starts with the path's first byte.
#[inline]
fn first_byte_bit(name: &[u8]) -> u64 {
    // An empty name is the empty first segment of a path such as `.x`.
    1 << (name.first().copied().unwrap_or(b'.') & 63)
}

/// The item of an array a path segment names: a decimal index from the
/// start, or with a minus sign from the end (`-1` the last item, as in jq:
/// Kubernetes audit's `sourceIPs.-1` is the address the API server saw,
/// where the first ones come from `X-Forwarded-For`, which the client
/// writes). See `logseal_anomaly::index_of`.
fn item<'v>(items: &'v [Value<'v>], path: &str) -> Option<&'v Value<'v>> {
    let (seg, tail) = match path.bytes().position(|b| b == b'.') {
        Some(i) => (&path[..i], Some(&path[i + 1..])),
        None => (path, None),
    };
    let v = items.get(logseal_anomaly::index_of(seg, items.len())?)?;
    match tail {
        None => Some(v),
        Some(t) => descend(v, t),
    }
}

/// The rest of a path below an object or an array member.
fn descend<'v>(v: &'v Value<'v>, rest: &str) -> Option<&'v Value<'v>> {
    match v {
        Value::Obj(inner) => lookup(inner, rest),
        Value::Arr(items) => item(items, rest),
        _ => None,
    }
}

fn lookup<'v>(members: &'v [(Cow<'_, str>, Value<'_>)], path: &str) -> Option<&'v Value<'v>> {
    let (mut m, mut p) = (members, path);
    loop {
        // A literal member named with dots ("user.name") wins over nesting.
        if let Some((_, v)) = m.iter().find(|(k, _)| same(k, p)) {
            return Some(v);
        }
        // A byte loop, not `find`: its `memchr` costs more than the short
        // names it searches.
        let dot = p.bytes().position(|b| b == b'.')?;
        let longer = has_longer_head(m, p, dot);
        match m.iter().find(|(k, _)| same(k, &p[..dot])) {
            // Nothing else at this level can match: descend without a way back.
            Some((_, Value::Obj(inner))) if !longer => {
                (m, p) = (inner, &p[dot + 1..]);
            }
            Some((_, Value::Obj(inner))) => {
                return lookup(inner, &p[dot + 1..]).or_else(|| lookup_longer(m, p, dot));
            }
            Some((_, Value::Arr(items))) => {
                return item(items, &p[dot + 1..]).or_else(|| {
                    if longer {
                        lookup_longer(m, p, dot)
                    } else {
                        None
                    }
                });
            }
            _ if longer => return lookup_longer(m, p, dot),
            _ => return None,
        }
    }
}

/// Whether a member is named with a longer head of `path` than its first
/// segment (`"a.b"` of `"a.b.c"`): it starts with the first segment and a
/// dot. Most records have none.
fn has_longer_head(members: &[(Cow<'_, str>, Value<'_>)], path: &str, first_dot: usize) -> bool {
    let n = first_dot + 1;
    let prefix = &path.as_bytes()[..n];
    members.iter().any(|(k, _)| {
        let k = k.as_bytes();
        k.len() >= n && k[n - 1] == b'.' && k[..n] == *prefix
    })
}

/// The rest of [`lookup`] at one level: members named with a longer head,
/// shortest first.
#[cold]
#[inline(never)]
fn lookup_longer<'v>(
    members: &'v [(Cow<'_, str>, Value<'_>)],
    path: &str,
    first_dot: usize,
) -> Option<&'v Value<'v>> {
    let mut dot = first_dot;
    while let Some(next) = path[dot + 1..].find('.') {
        dot += 1 + next;
        let (head, tail) = (&path[..dot], &path[dot + 1..]);
        if let Some((_, v)) = members.iter().find(|(k, _)| k == head)
            && let Some(v) = descend(v, tail)
        {
            return Some(v);
        }
    }
    None
}

impl<'m, 'a> Members<'m, 'a> {
    /// The value a dotted path names, as [`Event::field`] and
    /// [`Event::items`] read it.
    fn value(&self, path: &str) -> Option<&'m Value<'m>> {
        if self.firsts & first_byte_bit(path.as_bytes()) == 0 {
            return None;
        }
        match path.bytes().position(|b| b == b'.') {
            // No name at this level has a dot: not the whole path, not a
            // longer head of it; only the first segment can lead there.
            Some(dot) if !self.dotted => {
                match self.members.iter().find(|(k, _)| same(k, &path[..dot])) {
                    Some((_, v)) => descend(v, &path[dot + 1..]),
                    None => None,
                }
            }
            _ => lookup(self.members, path),
        }
    }
}

impl Event for Members<'_, '_> {
    fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        scalar(self.value(path)?)
    }

    fn items(&self, path: &str) -> Option<usize> {
        match self.value(path)? {
            Value::Arr(items) => Some(items.len()),
            _ => None,
        }
    }

    fn item(&self, path: &str, i: usize) -> Option<FieldValue<'_>> {
        match self.value(path)? {
            Value::Arr(items) => scalar(items.get(i)?),
            _ => None,
        }
    }
}

fn scalar<'v>(v: &'v Value<'_>) -> Option<FieldValue<'v>> {
    match v {
        Value::Str(s) => Some(FieldValue::Str(s)),
        Value::Num(n) => Some(FieldValue::Num(match n {
            Number::Int(i) => *i as f64,
            Number::UInt(u) => *u as f64,
            Number::Float(f) => *f,
        })),
        Value::Bool(b) => Some(FieldValue::Bool(*b)),
        _ => None,
    }
}

/// A detection rule's finding about a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleFinding {
    /// Rule name.
    pub rule: String,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// Human-readable reason.
    pub reason: String,
    /// Principal or object concerned.
    pub entity: Option<String>,
    /// The finding reports a failure of the rule itself.
    pub error: bool,
}

const SEVERITIES: [&str; 6] = ["none", "info", "low", "medium", "high", "critical"];

fn severity_rank(s: &str) -> usize {
    SEVERITIES.iter().position(|x| *x == s).unwrap_or(0)
}

/// Add rule findings to a verdict object text (or make one).
fn merge_findings(verdict: Option<&str>, findings: &[RuleFinding]) -> String {
    let mut members: Vec<(Cow<'_, str>, Value<'_>)> =
        match verdict.map(logseal_core::json::parse_str) {
            Some(Ok(Value::Obj(m))) => m,
            _ => alloc::vec![
                ("score".into(), Value::Num(Number::Int(0))),
                ("severity".into(), Value::Str("none".into())),
                ("reason".into(), Value::Str("".into())),
                ("reasons".into(), Value::Arr(Vec::new())),
            ],
        };
    let top = findings
        .iter()
        .filter(|f| !f.error)
        .max_by_key(|f| severity_rank(&f.severity));
    let rules = findings
        .iter()
        .map(|f| {
            let mut o = alloc::vec![
                ("rule".into(), Value::Str(Cow::Borrowed(f.rule.as_str()))),
                (
                    "severity".into(),
                    Value::Str(Cow::Borrowed(f.severity.as_str()))
                ),
                (
                    "reason".into(),
                    Value::Str(logseal_anomaly::display_text(&f.reason).into())
                ),
                ("error".into(), Value::Bool(f.error)),
            ];
            if let Some(e) = &f.entity {
                o.push(("entity".into(), Value::Str(Cow::Borrowed(e.as_str()))));
            }
            Value::Obj(o)
        })
        .collect();
    if let Some(top) = top {
        for (k, v) in members.iter_mut() {
            match k.as_ref() {
                "severity"
                    if severity_rank(v.as_str().unwrap_or("none"))
                        < severity_rank(&top.severity) =>
                {
                    *v = Value::Str(Cow::Borrowed(top.severity.as_str()));
                }
                "reason" if v.as_str().is_none_or(str::is_empty) => {
                    // escaped as the engine's reasons are: a rule's reason
                    // may quote event values (a line break or a bidi
                    // override in a user name: found by review)
                    *v = Value::Str(
                        logseal_anomaly::display_text(&alloc::format!(
                            "{}: {}", top.rule, top.reason
                        ))
                        .into(),
                    );
                }
                _ => {}
            }
        }
    }
    members.retain(|(k, _)| k != "rules");
    members.push(("rules".into(), Value::Arr(rules)));
    let mut out = Vec::new();
    logseal_core::json::write_seal(&Value::Obj(members), &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Why operator feedback ([`mark_normal`]) was refused. Nothing was marked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedbackError {
    /// The configuration names no anomaly policy: there is no engine.
    NoPolicy,
    /// The policy has no detector that learns from feedback (a `sequence`
    /// detector with `online: false`): marking would change nothing.
    NotLearning,
    /// Event `index` (0-based, in the order given) is not a JSON object.
    Event {
        /// Its place among the events given.
        index: usize,
        /// Why: the parser's error, or "not a JSON object".
        why: String,
    },
}

impl core::fmt::Display for FeedbackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FeedbackError::NoPolicy => f.write_str("no anomaly policy is configured"),
            FeedbackError::NotLearning => f.write_str(
                "the policy has no detector that learns from feedback (a `sequence` detector \
                 with \"online\": false); nothing would change: use the policy's allowlists \
                 and suppressions for its other detectors",
            ),
            FeedbackError::Event { index, why } => write!(f, "event {}: {why}", index + 1),
        }
    }
}

/// Operator feedback: mark `events` (JSON objects, sealed or not) normal in
/// `engine` ([`Engine::mark_normal`]), each seen exactly as the sealer
/// shows a record to the engine when scoring it. All or nothing: every
/// event is parsed before any is marked. Returns how many were marked.
pub fn mark_normal(engine: &mut Engine, events: &[&[u8]]) -> Result<usize, FeedbackError> {
    if !engine.learns_from_feedback() {
        return Err(FeedbackError::NotLearning);
    }
    let mut parsed = Vec::with_capacity(events.len());
    for (index, raw) in events.iter().enumerate() {
        match logseal_core::json::parse(raw) {
            Ok(Value::Obj(m)) => parsed.push(m),
            Ok(_) => {
                return Err(FeedbackError::Event {
                    index,
                    why: "not a JSON object".into(),
                });
            }
            Err(e) => {
                return Err(FeedbackError::Event {
                    index,
                    why: alloc::format!("not JSON: {e}"),
                });
            }
        }
    }
    for m in &parsed {
        engine.mark_normal(&Members::new(m));
    }
    Ok(parsed.len())
}

/// The anomaly engine's hash key for a signing key (see
/// `Engine::with_hash_key`): 64 bits of `key.derive("logseal anomaly hash
/// key v1")`, never 0.
pub fn engine_hash_key(key: &logseal_core::SignerKey) -> u64 {
    let d = key.derive("logseal anomaly hash key v1");
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b).max(1)
}

/// Score-then-seal for one stream.
pub struct Processor {
    sealer: Sealer,
    engine: Option<Engine>,
}

impl Processor {
    /// A processor; without a policy records are sealed unscored. The
    /// engine is keyed with a secret derived from the signing key
    /// ([`engine_hash_key`]), so entity names cannot be crafted to collide
    /// in its tables, and every plugin with the same key scores alike.
    pub fn new(sealer: Sealer, policy: Option<Policy>) -> Self {
        let key = engine_hash_key(sealer.key());
        Processor {
            sealer,
            engine: policy.map(|p| Engine::with_hash_key(p, key)),
        }
    }

    /// Score (when a policy is set) and seal one record. Never fails.
    pub fn process(&mut self, input: Input<'_>) -> Sealed {
        self.process_with(input, &[])
    }

    /// Like [`Processor::process`], with findings of detection rules on the
    /// record: they are added to the verdict (`_anomaly.rules`), and the
    /// verdict's severity is at least the highest rule severity, so hosts
    /// can route on one field.
    pub fn process_with(&mut self, input: Input<'_>, findings: &[RuleFinding]) -> Sealed {
        if self.engine.is_none() {
            // Nothing reads the record's members: seal it without a tree.
            if findings.is_empty() {
                return self.sealer.seal(input);
            }
            let verdict = merge_findings(None, findings);
            return self.sealer.seal(Input {
                verdict: Some(&verdict),
                ..input
            });
        }
        let engine = &mut self.engine;
        let time = input.time_ns;
        self.sealer.seal_with(input, |members| {
            let verdict = engine
                .as_mut()
                .map(|e| e.score(&Members::new(members), time).to_json());
            if findings.is_empty() {
                verdict
            } else {
                Some(merge_findings(verdict.as_deref(), findings))
            }
        })
    }

    /// The sealer (chain state, checkpoints).
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The sealer, mutably (to declare losses).
    pub fn sealer_mut(&mut self) -> &mut Sealer {
        &mut self.sealer
    }

    /// The anomaly engine, if a policy is set.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// Operator feedback into this stream's engine (see [`mark_normal`]).
    pub fn mark_normal(&mut self, events: &[&[u8]]) -> Result<usize, FeedbackError> {
        match self.engine.as_mut() {
            Some(e) => mark_normal(e, events),
            None => Err(FeedbackError::NoPolicy),
        }
    }

    /// The anomaly engine's state snapshot (empty without a policy).
    pub fn engine_snapshot(&self) -> Vec<u8> {
        self.engine
            .as_ref()
            .map(Engine::snapshot)
            .unwrap_or_default()
    }

    /// Restore the anomaly engine's state.
    pub fn restore_engine(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self.engine.as_mut() {
            Some(e) => e.restore(bytes).map_err(|e| alloc::format!("{e}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use logseal_core::json::parse_str;
    use std::format;
    use std::string::{String, ToString};

    /// The lookup as first written (every dotted head, shortest first, by
    /// recursion): the reference the faster one must agree with.
    fn reference<'v>(
        members: &'v [(Cow<'_, str>, Value<'_>)],
        path: &str,
    ) -> Option<&'v Value<'v>> {
        if let Some((_, v)) = members.iter().find(|(k, _)| k == path) {
            return Some(v);
        }
        let mut rest = path;
        while let Some(dot) = rest.find('.') {
            let (head, tail) = (&path[..path.len() - rest.len() + dot], &rest[dot + 1..]);
            if let Some((_, v)) = members.iter().find(|(k, _)| k == head)
                && let Some(v) = reference_in(v, tail)
            {
                return Some(v);
            }
            rest = tail;
        }
        None
    }

    /// The reference below one member: an object's members, an array's
    /// item by `index_of`.
    fn reference_in<'v>(v: &'v Value<'v>, path: &str) -> Option<&'v Value<'v>> {
        match v {
            Value::Obj(inner) => reference(inner, path),
            Value::Arr(items) => {
                let (seg, tail) = path
                    .split_once('.')
                    .map_or((path, None), |(a, b)| (a, Some(b)));
                let v = items.get(logseal_anomaly::index_of(seg, items.len())?)?;
                match tail {
                    None => Some(v),
                    Some(t) => reference_in(v, t),
                }
            }
            _ => None,
        }
    }

    fn get(record: &str, path: &str) -> Option<String> {
        let Ok(Value::Obj(m)) = parse_str(record) else {
            panic!("test record is an object: {record}")
        };
        let found = Members::new(&m).field(path).map(|v| match v {
            FieldValue::Str(s) => s.to_string(),
            FieldValue::Num(n) => n.to_string(),
            FieldValue::Bool(b) => b.to_string(),
        });
        let want = matches!(
            reference(&m, path),
            Some(Value::Str(_) | Value::Num(_) | Value::Bool(_))
        );
        assert_eq!(found.is_some(), want, "{record} {path}");
        found
    }

    #[test]
    fn dotted_paths_nested_flattened_and_mixed() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(get(r#"{"user":{"name":"a"}}"#, "user.name"), some("a"));
        // A member named with the whole path wins over nesting.
        assert_eq!(
            get(
                r#"{"user":{"name":"nested"},"user.name":"flat"}"#,
                "user.name"
            ),
            some("flat")
        );
        // Flattened at any level, partly or wholly.
        assert_eq!(
            get(
                r#"{"source":{"geo.location.lat":1}}"#,
                "source.geo.location.lat"
            ),
            some("1")
        );
        assert_eq!(
            get(
                r#"{"source.geo":{"location":{"lat":2}}}"#,
                "source.geo.location.lat"
            ),
            some("2")
        );
        assert_eq!(
            get(
                r#"{"source":{"geo.location":{"lat":3}}}"#,
                "source.geo.location.lat"
            ),
            some("3")
        );
        // Nesting that does not lead there falls back to a longer head.
        assert_eq!(
            get(
                r#"{"source":{"geo":{"x":1}},"source.geo":{"location":{"lat":4}}}"#,
                "source.geo.location.lat"
            ),
            some("4")
        );
        assert_eq!(get(r#"{"a":1,"a.b":{"c":5}}"#, "a.b.c"), some("5"));
        // Both lead there: the shortest head first.
        assert_eq!(
            get(r#"{"a":{"b":{"c":6}},"a.b":{"c":7}}"#, "a.b.c"),
            some("6")
        );
        // Misses.
        assert_eq!(get(r#"{"a":"x"}"#, "a.b"), None);
        assert_eq!(get(r#"{"a":{"b":{}}}"#, "a.b.c"), None);
        assert_eq!(get(r#"{"ab":{"c":1},"a.bc":1}"#, "a.b.c"), None);
        assert_eq!(
            get(r#"{"a":{"b":[1]}}"#, "a.b"),
            None,
            "arrays are not values"
        );
        // Arrays are indexed from the start, or from the end with a minus
        // sign (found by review: no array was read, so the k8s-audit
        // preset's `sourceIPs.0` and `user.groups.0` found nothing here,
        // where `serde_json::Value` found them).
        let k8s = r#"{"sourceIPs":["10.20.0.5","203.0.113.66"],"user":{"groups":["dev","system:authenticated"]},"actor":{"user":{"groups":[{"name":"admins"}]}}}"#;
        assert_eq!(get(k8s, "sourceIPs.0"), some("10.20.0.5"));
        assert_eq!(get(k8s, "sourceIPs.1"), some("203.0.113.66"));
        assert_eq!(get(k8s, "sourceIPs.-1"), some("203.0.113.66"));
        assert_eq!(get(k8s, "sourceIPs.-2"), some("10.20.0.5"));
        assert_eq!(get(k8s, "user.groups.0"), some("dev"));
        assert_eq!(get(k8s, "actor.user.groups.0.name"), some("admins"));
        assert_eq!(get(k8s, "actor.user.groups.-1.name"), some("admins"));
        for miss in [
            "sourceIPs.2",
            "sourceIPs.-3",
            "sourceIPs.-0",
            "sourceIPs.x",
            "sourceIPs.+1",
            "sourceIPs.",
            "sourceIPs.0.x",
        ] {
            assert_eq!(get(k8s, miss), None, "{miss}");
        }
        assert_eq!(get(r#"{"a":[[1,[2,3]]]}"#, "a.0.1.-1"), some("3"));
        // a member named with the whole path still wins
        assert_eq!(get(r#"{"a":[1],"a.0":2}"#, "a.0"), some("2"));
        assert_eq!(get(r#"{}"#, "x"), None);
        // Empty names and segments, which the first-byte filter must pass.
        assert_eq!(get(r#"{"":{"x":8}}"#, ".x"), some("8"));
        assert_eq!(get(r#"{"":9}"#, ""), some("9"));
        assert_eq!(get(r#"{".x":10}"#, ".x"), some("10"));
        assert_eq!(get(r#"{"a":{"":11}}"#, "a."), some("11"));
        // Names that share the path's first byte, or only its filter bit
        // ('@' and '\u0000' share one), are still searched.
        assert_eq!(get(r#"{"ab":1,"a":{"c":12}}"#, "a.c"), some("12"));
        assert_eq!(get("{\"\\u0000\":1,\"@t\":13}", "@t"), some("13"));
        assert_eq!(get(r#"{"b":{"c":1}}"#, "a.c"), None);
    }

    #[test]
    fn agrees_with_the_reference_on_every_path_of_mixed_records() {
        let records = [
            r#"{"a":{"b":{"c":1,"c.d":2},"b.c":{"d":3}},"a.b":{"c":{"d":4}},"a.b.c":{"d":5},"e":true}"#,
            r#"{"a.b":{"c":{"d":"x"}},"a":{"b":"y"},"a.b.c.d":null}"#,
            r#"{"a":{"b.c.d":1},"a.b.c":{"e":2}}"#,
            // No dot in any top-level name: `Members` takes its short way.
            r#"{"a":{"b":{"c":1,"d":"x"},"b.c":{"d":2}},"e":{"c":true},"b":[1]}"#,
            r#"{"a":{"b":3,"c":4},"d":{"e":{"a.b":5}}}"#,
            r#"{"a":[{"b":1},[2,{"c":3}]],"a.0":{"b":4},"b":[5,6],"e":[{"d":[7]}]}"#,
            r#"{"a":[1],"a.0":{"c":2},"c":{"d":[{"e":3},{"a":4}]}}"#,
        ];
        let segs = [
            "a", "b", "c", "d", "e", "b.c", "c.d", "0", "1", "-1", "-2", "0.c",
        ];
        for r in records {
            let Ok(Value::Obj(m)) = parse_str(r) else {
                panic!()
            };
            let json: serde_json::Value = serde_json::from_str(r).unwrap();
            let mut n = 0;
            for x in segs {
                for y in segs {
                    for z in segs {
                        for path in [x.to_string(), format!("{x}.{y}"), format!("{x}.{y}.{z}")] {
                            let fast = lookup(&m, &path).map(|v| v as *const Value<'_>);
                            let slow = reference(&m, &path).map(|v| v as *const Value<'_>);
                            assert_eq!(fast, slow, "{r} {path}");
                            let scalar = matches!(
                                reference(&m, &path),
                                Some(Value::Str(_) | Value::Num(_) | Value::Bool(_))
                            );
                            assert_eq!(
                                Members::new(&m).field(&path).is_some(),
                                scalar,
                                "{r} {path}"
                            );
                            // and `serde_json::Value`'s view reads it alike
                            assert_eq!(
                                format!("{:?}", Members::new(&m).field(&path)),
                                format!("{:?}", json.field(&path)),
                                "{r} {path}"
                            );
                            n += fast.is_some() as usize;
                        }
                    }
                }
            }
            assert!(n > 0);
        }
    }
}

//! The engine: compiled policy, detectors and their bounded state.

use crate::gauge::{GaugeParams, GaugeState};
use crate::num::{self, fmt_num};
use crate::policy::*;
use crate::snapshot::{self, Pod, R, W};
use crate::store::{Cells, CountMin, Layout, Table, combine, hash_str};
use crate::time::{days_from_civil, number_secs, parse_time_secs_with};
use crate::{Drain, Event, FieldValue, Reason, Severity, StateError, Verdict};
use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt::Write as _;

// ---------------------------------------------------------------- fields

#[derive(Clone, Debug)]
enum Kind {
    Plain,
    /// Derived from the `source_ip` paths (with their cache key).
    SourceNet(Vec<String>, CacheKey),
    Outcome,
    /// Named in the policy's `fold_case`: read trimmed and lowercased.
    Fold,
    /// `source_ip`: an address with a port is read as its address
    /// ([`without_port`]).
    SourceIp,
}

#[derive(Clone, Debug)]
struct FieldRef {
    name: String,
    paths: Vec<String>,
    kind: Kind,
    /// Per-event lookup cache key.
    key: CacheKey,
}

/// Where a field's lookup is kept for the rest of an event: the fields
/// the policy maps (`fields`) each have a slot of their own, found without
/// a search; other names are found by the hash of their name.
#[derive(Clone, Copy, Debug)]
struct CacheKey {
    hash: u64,
    /// Position of the name among the policy's mapped fields, if below
    /// [`FieldCache::SLOTS`]; `u8::MAX` otherwise.
    slot: u8,
}

impl CacheKey {
    fn new(p: &Policy, name: &str) -> CacheKey {
        CacheKey {
            hash: hash_str(0xF1E1D, name),
            slot: p
                .fields
                .keys()
                .position(|k| k == name)
                .filter(|&i| i < FieldCache::SLOTS)
                .map_or(u8::MAX, |i| i as u8),
        }
    }
}

impl FieldRef {
    fn new(p: &Policy, name: &str) -> FieldRef {
        let kind = if name == "source_net" && !p.fields.contains_key("source_net") {
            Kind::SourceNet(p.paths("source_ip"), CacheKey::new(p, "source_ip"))
        } else if name == "outcome"
            && !(p.outcome.failure.is_empty() && p.outcome.success.is_empty())
        {
            Kind::Outcome
        } else if p.fold_case.iter().any(|n| n == name) {
            Kind::Fold
        } else if name == "source_ip" {
            Kind::SourceIp
        } else {
            Kind::Plain
        };
        FieldRef {
            name: name.to_string(),
            paths: p.paths(name),
            kind,
            key: CacheKey::new(p, name),
        }
    }
}

#[inline]
fn fv_str(v: FieldValue<'_>) -> Cow<'_, str> {
    match v {
        FieldValue::Str(s) => Cow::Borrowed(s),
        FieldValue::Num(n) => Cow::Owned(fmt_num(n)),
        FieldValue::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
    }
}

/// A value as a number: a finite number, numeric text (trimmed), a bool
/// as 1 or 0.
fn num_of(v: FieldValue<'_>) -> Option<f64> {
    match v {
        FieldValue::Num(n) if n.is_finite() => Some(n),
        FieldValue::Str(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        FieldValue::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Whether a value meets a condition's test (`exists` and `not` aside):
/// `gte`/`lt` on its number, the others on its text.
#[inline]
fn cond_on<'v>(
    cond: &Condition,
    text: impl FnOnce() -> Option<Cow<'v, str>>,
    num: impl Fn() -> Option<f64>,
) -> bool {
    if cond.gte.is_some() || cond.lt.is_some() {
        let Some(x) = num() else {
            return false;
        };
        return cond.gte.is_none_or(|g| x >= g) && cond.lt.is_none_or(|l| x < l);
    }
    let Some(v) = text() else {
        return false;
    };
    if let Some(eq) = &cond.eq {
        return match eq {
            serde_json::Value::String(s) => *v == **s,
            serde_json::Value::Number(n) => {
                n.as_f64().is_some_and(|n| num().is_some_and(|x| x == n))
            }
            serde_json::Value::Bool(b) => *v == *(if *b { "true" } else { "false" }),
            _ => false,
        };
    }
    if let Some(list) = &cond.one_of {
        return list.iter().any(|x| *x == *v);
    }
    if let Some(s) = &cond.contains {
        return v.contains(s.as_str());
    }
    if let Some(s) = &cond.prefix {
        return v.starts_with(s.as_str());
    }
    false
}

/// A `fold_case` field's value: trimmed and lowercased (Unicode), borrowed
/// when it is so already.
fn fold(v: &str) -> Cow<'_, str> {
    let t = v.trim();
    if t.chars().any(char::is_uppercase) {
        Cow::Owned(t.to_lowercase())
    } else {
        Cow::Borrowed(t)
    }
}

/// Whether an event's outcome value `v` is the policy's `x`: the same
/// text, or the same but for ASCII case and surrounding whitespace, so
/// `Failed`, `FAILED` and `failed ` are the policy's `failed` (found by
/// review: a source that writes `Failed` had no failure counted). Asked
/// only when no value of either list is the exact text.
fn outcome_is(x: &str, v: &str) -> bool {
    x.eq_ignore_ascii_case(v.trim())
}

/// An outcome value's class: 1 failure, 2 success, 3 neither (exact text
/// first, almost every event, then loosely).
fn outcome_class_of(o: &crate::policy::Outcome, v: &str) -> u8 {
    let (f, s) = (&o.failure, &o.success);
    if f.iter().any(|x| crate::same_name(x, v)) {
        1
    } else if s.iter().any(|x| crate::same_name(x, v)) {
        2
    } else if f.iter().any(|x| outcome_is(x, v)) {
        1
    } else if s.iter().any(|x| outcome_is(x, v)) {
        2
    } else {
        3
    }
}

/// An outcome as conditions and reasons read it: the class's name, or the
/// value itself when it is in neither list.
fn class_text(class: u8, v: Cow<'_, str>) -> Cow<'_, str> {
    match class {
        1 => Cow::Borrowed("failure"),
        2 => Cow::Borrowed("success"),
        _ => v,
    }
}

/// IPv4 /24 or IPv6 /48 of an address string. Four dotted numbers (the
/// common case) are cut at the last `.` with `.0/24` added, in one byte
/// loop, without `format!` (which cost as much as the rest of a
/// `source_net` lookup). Anything else is parsed (`core::net`): an
/// IPv6 address gives its first 48 bits (`2001:db8:1::/48`), an
/// IPv4-mapped one (`::ffff:198.51.100.7`, what dual-stack sockets report
/// for IPv4 clients) the IPv4 /24, an address with a port (`1.2.3.4:5555`,
/// `[2001:db8::1]:443`) that of its address; text that is no address is
/// its own network. (Before, text was cut at the third colon: every mapped
/// address fell in one network, `::ffff::/48`, and `2001::1` gave
/// `2001::1::/48`; and any dotted text at its last dot, so CloudTrail's
/// `sourceIPAddress` of a service acting for a user,
/// `cloudformation.amazonaws.com`, was the network
/// `cloudformation.amazonaws.0/24`; both found by review.)
fn network(ip: &str) -> String {
    let (mut dot, mut dots) = (0, 0);
    for (i, &b) in ip.as_bytes().iter().enumerate() {
        if b == b'.' {
            dot = i;
            dots += 1;
        } else if !b.is_ascii_digit() {
            return network_parsed(ip);
        }
    }
    if dots != 3 {
        return network_parsed(ip);
    }
    let head = &ip[..dot];
    let mut s = String::with_capacity(head.len() + 5);
    s.push_str(head);
    s.push_str(".0/24");
    s
}

/// An address written with its port (`192.168.225.174:49848`, Envoy's
/// `%DOWNSTREAM_REMOTE_ADDRESS%`; `[2001:db8::1]:443`) as the address
/// alone, so the connections of one client are one client; anything else
/// as it is (an IPv6 address without brackets has no port to take). Found
/// by review: the `envoy` preset's per-IP rules counted each connection of
/// a client apart, so 40 refused requests from one address, one connection
/// each, were 40 groups of one.
fn without_port(v: &str) -> &str {
    use core::net::{Ipv4Addr, Ipv6Addr};
    // the port: up to 5 digits after the last colon, which ends the text
    // (looked for from the end: an address without one is settled at its
    // first byte that is no digit)
    let b = v.as_bytes();
    let digits = b
        .iter()
        .rev()
        .take(6)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 || digits > 5 || b.len() <= digits || b[b.len() - digits - 1] != b':' {
        return v;
    }
    let head = &v[..v.len() - digits - 1];
    if let Some(inner) = head.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // a zone (`fe80::1%eth0`) is kept: it tells link-local hosts apart
        let addr = inner.split_once('%').map_or(inner, |(a, _)| a);
        if addr.parse::<Ipv6Addr>().is_ok() {
            return inner;
        }
    } else if head.parse::<Ipv4Addr>().is_ok() {
        return head;
    } else if head.contains('.') && head.parse::<Ipv6Addr>().is_ok() {
        // `::ffff:203.0.113.9:51234` (Node.js's `remoteAddress` and
        // `remotePort` of a dual-stack socket): an address ending in a
        // dotted IPv4 part cannot take one more group
        return head;
    }
    v
}

#[inline(never)]
fn network_parsed(ip: &str) -> String {
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    let v4 = |a: Ipv4Addr| {
        let o = a.octets();
        format!("{}.{}.{}.0/24", o[0], o[1], o[2])
    };
    let addr = match ip.parse::<IpAddr>() {
        Ok(a) => a,
        Err(_) => match ip.parse::<SocketAddr>() {
            Ok(s) => s.ip(),
            Err(_) => return ip.to_string(),
        },
    };
    match addr {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(m) => v4(m),
            None => {
                let g = a.segments();
                format!("{}/48", Ipv6Addr::new(g[0], g[1], g[2], 0, 0, 0, 0, 0))
            }
        },
    }
}

#[derive(Clone, Debug)]
enum Seg {
    Lit(String),
    /// A capture: its name and type.
    Cap(String, Ty),
}

/// A capture's type (README "Extraction").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    /// `{name}`: up to the last place the rest of the pattern matches
    /// (spaces included); one word when it ends the pattern.
    Text,
    /// `{name:word}`: one word, not empty.
    Word,
    /// `{name:rest}`: the rest of the text, whatever it holds (ends the
    /// pattern).
    Rest,
}

#[derive(Clone, Debug)]
struct Extractor {
    from: FieldRef,
    segs: Vec<Seg>,
    set: Vec<(String, String)>,
    /// The first word of the pattern's leading literal and a number shared
    /// by every pattern with the same word and `from` field (below 64), so
    /// one comparison per event tells all of them that the text does not
    /// start with it.
    guard: Option<(u8, String)>,
}

impl Extractor {
    fn new(p: &Policy, e: &Extract) -> Extractor {
        let mut segs = Vec::new();
        let mut rest = e.pattern.as_str();
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest.find('}').unwrap_or(rest.len());
                    let cap = &rest[1..end];
                    let (name, ty) = match cap.split_once(':') {
                        Some((name, "word")) => (name, Ty::Word),
                        Some((name, "rest")) => (name, Ty::Rest),
                        _ => (cap, Ty::Text),
                    };
                    segs.push(Seg::Cap(name.to_string(), ty));
                    rest = if end < rest.len() {
                        &rest[end + 1..]
                    } else {
                        ""
                    };
                }
                Some(i) => {
                    segs.push(Seg::Lit(rest[..i].to_string()));
                    rest = &rest[i..];
                }
                None => {
                    segs.push(Seg::Lit(rest.to_string()));
                    rest = "";
                }
            }
        }
        Extractor {
            from: FieldRef {
                name: e.from.clone(),
                paths: p.paths(&e.from),
                kind: Kind::Plain,
                key: CacheKey::new(p, &e.from),
            },
            segs,
            set: e.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            guard: None,
        }
    }

    /// Match the pattern against `text` from its start; on a match, push
    /// its captures (but those named `_`) and its `set` fields to `out`.
    ///
    /// Log lines carry text a client chose (a user name may hold spaces, or
    /// ` from 10.0.0.1 port 22`, or a whole other message), written by the
    /// server after its own prefix and before the fields it adds itself
    /// (the address, the port). So a pattern matches from the start of the
    /// text — a client's text inside the line cannot pose as another
    /// message (`Invalid user Accepted password for root from ...` is an
    /// invalid user, not a login) — unless it starts with the capture
    /// `{_}`, which says "anywhere" out loud. A capture followed by literal
    /// text takes everything up to the *last* place where the rest of the
    /// pattern still matches, spaces included: `Invalid user a from 6.6.6.6
    /// from 203.0.113.9` gives the user `a from 6.6.6.6` and the address
    /// 203.0.113.9, and a name with spaces is still a failed login. A
    /// capture that ends the pattern is one word (up to whitespace) and not
    /// empty; one followed by literal text may be empty (`Invalid user  from
    /// ...`, an empty name). The placements tried are bounded per event
    /// ([`Budget`]), so a line built to make the search slow costs a bounded
    /// number of scans.
    fn apply(
        &self,
        text: &str,
        out: &mut Vec<(String, String)>,
        spans: &mut Vec<(usize, usize)>,
        budget: &mut Budget,
    ) -> bool {
        let mut caps: Vec<(&str, usize, usize)> = Vec::new();
        let found = match self.segs.first() {
            Some(Seg::Lit(l)) => {
                text.starts_with(l.as_str()) && self.captures(text, 1, l.len(), &mut caps, budget)
            }
            _ => self.captures(text, 0, 0, &mut caps, budget),
        };
        if !found {
            return false;
        }
        for (k, a, b) in caps {
            if k != "_" {
                out.push((k.to_string(), text[a..b].to_string()));
                spans.push((a, b));
            }
        }
        for (k, v) in &self.set {
            out.push((k.clone(), v.clone()));
        }
        true
    }

    /// Match segments `i..` at byte `pos` of `text` (`segs[i]` is a capture
    /// or the end), pushing captures (name, start, end); on failure `caps`
    /// is as it was.
    fn captures<'s>(
        &'s self,
        text: &str,
        i: usize,
        pos: usize,
        caps: &mut Vec<(&'s str, usize, usize)>,
        budget: &mut Budget,
    ) -> bool {
        let Some(Seg::Cap(name, ty)) = self.segs.get(i) else {
            return i >= self.segs.len();
        };
        let word = &(*ty == Ty::Word);
        let hay = &text[pos..];
        if *ty == Ty::Rest {
            caps.push((name.as_str(), pos, text.len()));
            return true;
        }
        match self.segs.get(i + 1) {
            Some(Seg::Lit(l)) => {
                // every occurrence, overlapping ones included, rightmost
                // first; for a `word` capture only those before the first
                // whitespace (and not at 0: a word is not empty)
                let mut end = hay.len();
                if *word {
                    let ws = hay.find(char::is_whitespace).unwrap_or(hay.len());
                    end = end.min(ws + l.len());
                    while !hay.is_char_boundary(end) {
                        end -= 1;
                    }
                }
                loop {
                    if !budget.take(end) {
                        return false;
                    }
                    let Some(j) = rfind_lit(&hay[..end], l) else {
                        return false;
                    };
                    if *word && j == 0 {
                        return false;
                    }
                    caps.push((name.as_str(), pos, pos + j));
                    if self.captures(text, i + 2, pos + j + l.len(), caps, budget) {
                        return true;
                    }
                    caps.pop();
                    if l.is_empty() {
                        return false;
                    }
                    // the next occurrence starts before j: end before this one does
                    end = j + l.len() - 1;
                    while !hay.is_char_boundary(end) {
                        end -= 1;
                    }
                }
            }
            _ => {
                let j = hay.find(char::is_whitespace).unwrap_or(hay.len());
                if j == 0 {
                    return false;
                }
                caps.push((name.as_str(), pos, pos + j));
                true
            }
        }
    }
}

/// The last occurrence of `l` in `hay`, as `str::rfind`, but for a short
/// `hay` (a log line, or the word a `{name:word}` capture may take) by
/// direct comparison: building the Two-Way searcher that `rfind` uses was
/// the largest single cost of extraction with the `sshd` preset's 63
/// patterns (crates/anomaly/BENCHMARKS.md, session 23). A match of valid
/// UTF-8 in valid UTF-8 starts at a char boundary, so this is `rfind`.
fn rfind_lit(hay: &str, l: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), l.as_bytes());
    if h.len() > 512 {
        return hay.rfind(l);
    }
    let Some(&first) = n.first() else {
        return Some(h.len());
    };
    let last = h.len().checked_sub(n.len())?;
    (0..=last)
        .rev()
        .find(|&j| h[j] == first && &h[j..j + n.len()] == n)
}

/// What one event's extraction may spend, over all its patterns: at most
/// [`Budget::STEPS`] placements of a capture's closing literal, and further
/// placements only while the bytes searched stay under [`Budget::BYTES`]
/// (the first search of a long line is always made, so a long real line
/// still matches). A line built with thousands of places for the search to
/// try costs about one megabyte of scanning, not one scan per place.
struct Budget {
    steps: u32,
    bytes: usize,
}

impl Budget {
    const STEPS: u32 = 256;
    const BYTES: usize = 1 << 20;

    fn new() -> Budget {
        Budget {
            steps: Budget::STEPS,
            bytes: 0,
        }
    }

    /// May one more search of `n` bytes be made? (Counts it.)
    fn take(&mut self, n: usize) -> bool {
        if self.steps == 0 || (self.bytes > 0 && self.bytes + n > Budget::BYTES) {
            return false;
        }
        self.steps -= 1;
        self.bytes += n.max(1);
        true
    }
}

/// What [`Engine::extracted`] found in one event.
struct Found<'e> {
    /// Captured fields (in pattern order), then the pattern's `set` fields.
    fields: Vec<(String, String)>,
    /// Byte ranges of the captured values in the text, in `fields`' order.
    spans: Vec<(usize, usize)>,
    /// The field the matching pattern read (its name's hash) and its text.
    from: Option<(u64, &'e str)>,
}

impl Found<'_> {
    /// The context detectors read an event through: its fields, what
    /// extraction found in it, the time it is scored at and whether the
    /// engine is still learning.
    fn ctx<'a, 'e, E: Event + ?Sized>(
        &'a self,
        ev: &'e E,
        cache: &'a FieldCache<'e>,
        policy: &'a Policy,
        t: f64,
        learning: bool,
    ) -> Ctx<'a, 'e, E> {
        Ctx {
            ev,
            cache,
            outcome_class: Cell::new(0),
            ex: &self.fields,
            masked: self.masked(),
            outcome: &policy.outcome,
            t,
            learning,
            min_events: policy.learning.min_entity_events,
            report_p: policy.alerting.evidence_p,
            decayed_at: f64::NEG_INFINITY,
            lived: f64::NAN,
            refused: false,
        }
    }

    fn masked(&self) -> Option<Masked<'_>> {
        let (from, text) = self.from?;
        Some(Masked {
            from,
            text,
            spans: &self.spans,
        })
    }
}

#[derive(Clone, Copy)]
struct Masked<'a> {
    from: u64,
    text: &'a str,
    spans: &'a [(usize, usize)],
}

impl<E: ?Sized> Ctx<'_, '_, E> {
    /// `f`'s text with every value an `extract` pattern captured from it
    /// replaced by `<name>`, written to `out`, if a pattern matched `f` and
    /// captured something (else `false`).
    ///
    /// This is the masking step of Drain3 (Jiang et al. / IBM's drain3:
    /// `masking` instructions turn IP addresses and numbers into `<IP>`,
    /// `<NUM>` before mining), with the policy's own patterns as the
    /// instructions: a template miner sees `Failed password for <user> from
    /// <source_ip> port 22 ssh2` whatever the user name, so names of any
    /// number of words (which a client chooses) give one template, not one
    /// per length and spelling that fill the miner's table for good.
    fn masked_text(&self, f: &FieldRef, out: &mut String) -> bool {
        out.clear();
        let Some(m) = self.masked else {
            return false;
        };
        if m.from != f.key.hash || m.spans.is_empty() {
            return false;
        }
        let mut at = 0;
        for (&(a, b), (name, _)) in m.spans.iter().zip(self.ex) {
            let Some(lit) = m.text.get(at..a) else {
                return false;
            };
            out.push_str(lit);
            out.push('<');
            out.push_str(name);
            out.push('>');
            at = b;
        }
        match m.text.get(at..) {
            Some(rest) => {
                out.push_str(rest);
                true
            }
            None => false,
        }
    }
}

struct Ctx<'a, 'e, E: ?Sized> {
    ev: &'e E,
    /// Raw field lookups already done for this event (several detectors read the same fields).
    /// By reference: built in place, not copied into the context.
    cache: &'a FieldCache<'e>,
    /// The `outcome` field's class once worked out for this event (0: not
    /// yet, 1: failure, 2: success, 3: neither): several rules test it, and
    /// each test compared the value with both lists.
    outcome_class: Cell<u8>,
    ex: &'a [(String, String)],
    /// The text the matching `extract` pattern read and where its captures
    /// (`ex`'s first entries, in order) sit in it.
    masked: Option<Masked<'a>>,
    outcome: &'a Outcome,
    t: f64,
    learning: bool,
    min_events: u32,
    report_p: f64,
    /// The latest time the stream has lived at (`Engine::peak_t`; NaN
    /// before any): what a `rate` series counted past it was no life of
    /// the stream (a broken first record).
    lived: f64,
    /// When learned counts last halved (see [`Engine::maybe_decay`]):
    /// a count of 1 before then may be 0 now, so a value with no count
    /// is known unseen only since then.
    decayed_at: f64,
    /// The event is scored at the clock's time, not its own: a jump the
    /// clock has not confirmed (see [`Engine::clock`]). A `rate` series
    /// counts it in no bucket (a replay interleaved with the live stream
    /// counted every replayed record in the live bucket: found by review).
    refused: bool,
}

/// Lookups of one event, on the stack: a slot for each of the first
/// [`FieldCache::SLOTS`] mapped fields, and the first [`FieldCache::N`]
/// other names read (more are looked up each time they are read).
struct FieldCache<'a> {
    /// Bit `i`: `slots[i]` holds its field's lookup.
    have: Cell<u16>,
    slots: [Cell<Option<FieldValue<'a>>>; FieldCache::SLOTS],
    n: Cell<usize>,
    keys: [Cell<u64>; FieldCache::N],
    vals: [Cell<Option<FieldValue<'a>>>; FieldCache::N],
}

impl<'a> FieldCache<'a> {
    const SLOTS: usize = 16;
    const N: usize = 8;

    /// The lookup in a mapped field's slot, if it was done this event.
    #[inline]
    fn slot(&self, slot: u8) -> Option<Option<FieldValue<'a>>> {
        let s = slot as usize;
        (s < Self::SLOTS && self.have.get() & (1 << s) != 0).then(|| self.slots[s].get())
    }

    fn new() -> Self {
        FieldCache {
            have: Cell::new(0),
            slots: [const { Cell::new(None) }; Self::SLOTS],
            n: Cell::new(0),
            keys: [const { Cell::new(0) }; Self::N],
            vals: [const { Cell::new(None) }; Self::N],
        }
    }
}

impl<'a, 'e, E: Event + ?Sized> Ctx<'a, 'e, E> {
    fn raw(&self, paths: &[String], key: CacheKey) -> Option<FieldValue<'a>> {
        let c = &self.cache;
        if let Some(v) = c.slot(key.slot) {
            return v;
        }
        let slot = key.slot as usize;
        if let Some(cell) = c.slots.get(slot) {
            let v = paths.iter().find_map(|p| self.ev.field(p));
            cell.set(v);
            c.have.set(c.have.get() | 1 << slot);
            return v;
        }
        let n = c.n.get();
        if let Some(i) = c.keys[..n].iter().position(|k| k.get() == key.hash) {
            return c.vals[i].get();
        }
        let v = paths.iter().find_map(|p| self.ev.field(p));
        if n < FieldCache::N {
            c.keys[n].set(key.hash);
            c.vals[n].set(v);
            c.n.set(n + 1);
        }
        v
    }

    /// A field's value as text. Inline: most reads are of a plain field
    /// already looked up, with no extractor output to search first.
    #[inline]
    fn get(&self, f: &FieldRef) -> Option<Cow<'a, str>> {
        if self.ex.is_empty()
            && matches!(f.kind, Kind::Plain)
            && let Some(v) = self.cache.slot(f.key.slot)
        {
            return v.map(fv_str);
        }
        self.get_uncached(f)
    }

    #[inline(never)]
    fn get_uncached(&self, f: &FieldRef) -> Option<Cow<'a, str>> {
        if let Some((_, v)) = self.ex.iter().find(|(k, _)| *k == f.name) {
            return Some(match f.kind {
                Kind::Fold => fold(v),
                // by its class, as a mapped value (found by review: an
                // extracted `Failed` was not the policy's failure)
                Kind::Outcome => class_text(outcome_class_of(self.outcome, v), Cow::Borrowed(v)),
                // an extracted address is what its pattern captured
                // (write the pattern to leave the port out)
                _ => Cow::Borrowed(v.as_str()),
            });
        }
        match &f.kind {
            Kind::Plain => self.raw(&f.paths, f.key).map(fv_str),
            Kind::SourceIp | Kind::Fold => {
                self.raw(&f.paths, f.key).map(|v| self.shaped(&f.kind, v))
            }
            Kind::SourceNet(ip, ipk) => {
                let ipv = match self.ex.iter().find(|(k, _)| k == "source_ip") {
                    Some((_, v)) => Cow::Borrowed(v.as_str()),
                    None => self.raw(ip, *ipk).map(fv_str)?,
                };
                Some(Cow::Owned(network(without_port(&ipv))))
            }
            Kind::Outcome => {
                let (class, v) = self.outcome_of(f)?;
                Some(class_text(class, v))
            }
        }
    }

    /// An `outcome` field's value and class (1: failure, 2: success, 3:
    /// neither), the class worked out once an event.
    fn outcome_of(&self, f: &FieldRef) -> Option<(u8, Cow<'a, str>)> {
        let v = self.raw(&f.paths, f.key).map(fv_str)?;
        let class = match self.outcome_class.get() {
            0 => {
                let c = outcome_class_of(self.outcome, &v);
                self.outcome_class.set(c);
                c
            }
            c => c,
        };
        Some((class, v))
    }

    /// A value of a field read as its kind reads it (`outcome` by class,
    /// `source_ip` without a port, `source_net` as a network, folded
    /// text): for the items of `F.*`, as `get` does for one value.
    fn shaped<'v>(&self, kind: &Kind, v: FieldValue<'v>) -> Cow<'v, str> {
        match kind {
            Kind::Plain => fv_str(v),
            Kind::Fold => match fv_str(v) {
                Cow::Borrowed(b) => fold(b),
                Cow::Owned(o) => Cow::Owned(fold(&o).into_owned()),
            },
            Kind::SourceIp => match v {
                FieldValue::Str(s) => Cow::Borrowed(without_port(s)),
                v => fv_str(v),
            },
            Kind::SourceNet(..) => Cow::Owned(network(without_port(&fv_str(v)))),
            Kind::Outcome => {
                let t = fv_str(v);
                class_text(outcome_class_of(self.outcome, &t), t)
            }
        }
    }

    /// A coordinate: a number or numeric text, as [`Ctx::num`] reads it,
    /// but `true`/`false` are no coordinate.
    fn coord(&self, f: &FieldRef) -> Option<f64> {
        if let Some((_, v)) = self.ex.iter().find(|(k, _)| *k == f.name) {
            return v.trim().parse::<f64>().ok().filter(|x| x.is_finite());
        }
        match self.raw(&f.paths, f.key)? {
            FieldValue::Bool(_) => None,
            v => num_of(v),
        }
    }

    fn num(&self, f: &FieldRef) -> Option<f64> {
        if let Some((_, v)) = self.ex.iter().find(|(k, _)| *k == f.name) {
            return v.trim().parse::<f64>().ok().filter(|x| x.is_finite());
        }
        num_of(self.raw(&f.paths, f.key)?)
    }

    #[inline]
    fn check(&self, c: &CCond) -> bool {
        let r = if c.any {
            self.check_any(c)
        } else if c.c.or_missing && self.get(&c.f).is_none() {
            true
        } else {
            self.check_inner(c, &c.f)
        };
        r != c.c.not
    }

    /// A condition on `F.*`: whether any item of the array `F` meets it
    /// (up to [`ANY_ITEMS`]; items that are no value, such as `null`, meet
    /// none), each read as `F`'s kind reads a value, a single value
    /// standing for a list of one (Elasticsearch keeps `"authentication"`
    /// and `["authentication"]` alike). A list with no value in it is no
    /// value, so the next of `F`'s paths is read; none at all is absent
    /// (`or_missing`, `exists: false`). An event that tells no lengths
    /// (`Event::items` is `None`) is read item by item, `F.0`, `F.1`, ...
    /// up to the first missing one.
    fn check_any(&self, c: &CCond) -> bool {
        let cond = &c.c;
        if self.ex.iter().any(|(k, _)| *k == c.f.name) {
            return self.check_inner(c, &c.f);
        }
        let paths = match &c.f.kind {
            Kind::SourceNet(ip, _) => ip,
            _ => &c.f.paths,
        };
        // Whether an item meets the condition, `None` for no value.
        let test = |v: Option<FieldValue<'_>>| {
            let v = v?;
            Some(match cond.exists {
                Some(_) => true,
                None => cond_on(cond, || Some(self.shaped(&c.f.kind, v)), || num_of(v)),
            })
        };
        let mut path = String::new();
        for p in paths {
            let mut seen = false;
            let mut met = false;
            if let Some(n) = self.ev.items(p) {
                for i in 0..n.min(ANY_ITEMS) {
                    if let Some(m) = test(self.ev.item(p, i)) {
                        seen = true;
                        if m {
                            met = true;
                            break;
                        }
                    }
                }
            } else if let Some(v) = self.ev.field(p) {
                seen = true;
                met = test(Some(v)).unwrap_or(false);
            } else {
                for i in 0..ANY_ITEMS {
                    path.clear();
                    let _ = write!(path, "{p}.{i}");
                    let Some(m) = test(self.ev.field(&path)) else {
                        break;
                    };
                    seen = true;
                    if m {
                        met = true;
                        break;
                    }
                }
            }
            if seen {
                return match cond.exists {
                    Some(e) => e,
                    None => met,
                };
            }
        }
        cond.or_missing || cond.exists == Some(false)
    }

    #[inline]
    fn check_inner(&self, c: &CCond, f: &FieldRef) -> bool {
        let cond = &c.c;
        // `outcome` compared with a string (every preset's rules): the
        // class answers for failures and successes without building and
        // comparing the class's name; the same result as below.
        if let Some((s, is)) = &c.outcome_eq
            && self.ex.is_empty()
        {
            // The class already worked out for this event: a failure or a
            // success answers without finding the value again.
            match self.outcome_class.get() {
                1 => return is[0],
                2 => return is[1],
                _ => {}
            }
            return match self.outcome_of(&c.f) {
                Some((1, _)) => is[0],
                Some((2, _)) => is[1],
                Some((_, v)) => *v == **s,
                None => false,
            };
        }
        if let Some(e) = cond.exists {
            return self.get(f).is_some() == e;
        }
        cond_on(cond, || self.get(f), || self.num(f))
    }

    fn all(&self, cs: &[CCond]) -> bool {
        cs.iter().all(|c| self.check(c))
    }
}

#[derive(Clone, Debug)]
struct CCond {
    f: FieldRef,
    c: Condition,
    /// For an `outcome` field's `eq` with a string (and nothing else to
    /// test): the string, and whether it names the failure and the success
    /// class.
    outcome_eq: Option<(String, [bool; 2])>,
    /// The field is written `name.*` (`f` is then `name`): any item of
    /// the array meets the condition ([`Ctx::check_any`]).
    any: bool,
}

/// How many items of an array a `name.*` condition looks at.
const ANY_ITEMS: usize = 256;

fn conds(p: &Policy, cs: &[Condition]) -> Vec<CCond> {
    cs.iter()
        .map(|c| {
            let base = c.field.strip_suffix(".*");
            let any = base.is_some();
            let f = FieldRef::new(p, base.unwrap_or(&c.field));
            // A folded field is compared with folded text.
            let mut c = c.clone();
            if matches!(f.kind, Kind::Fold) {
                let lower = |s: &mut String| *s = fold(s).into_owned();
                if let Some(serde_json::Value::String(s)) = &mut c.eq {
                    lower(s);
                }
                c.one_of.iter_mut().flatten().for_each(lower);
                c.contains.iter_mut().for_each(lower);
                c.prefix.iter_mut().for_each(lower);
            }
            let c = &c;
            let outcome_eq = match (&f.kind, &c.eq) {
                (Kind::Outcome, Some(serde_json::Value::String(s)))
                    if c.exists.is_none() && c.gte.is_none() && c.lt.is_none() =>
                {
                    Some((s.clone(), [s == "failure", s == "success"]))
                }
                _ => None,
            };
            CCond {
                f,
                c: c.clone(),
                outcome_eq: if any { None } else { outcome_eq },
                any,
            }
        })
        .collect()
}

// ---------------------------------------------------------------- helpers

fn bidx(t: f64, width: f64) -> u32 {
    let x = libm::floor(t / width);
    if x.is_nan() || x < 0.0 {
        0
    } else if x > u32::MAX as f64 {
        u32::MAX
    } else {
        x as u32
    }
}

fn dur(secs: f64) -> String {
    let s = if secs.is_finite() {
        libm::round(secs.max(0.0)) as u64
    } else {
        0
    };
    if s > 0 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s > 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s > 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// `v` long enough to index `i`: its capacity doubles, but not past `max`
/// (the templates the budget reserved for), where a doubling would
/// overdraw the budget.
fn grow_counts(v: &mut Vec<u32>, i: usize, max: usize) {
    if v.len() > i {
        return;
    }
    if i >= v.capacity() {
        let want = (v.capacity() * 2).max(16).min(max).max(i + 1);
        v.reserve_exact(want - v.len());
    }
    v.resize(i + 1, 0);
}

/// Hours of the day as runs, each from its first hour to the end of its
/// last, a run over midnight as one ("22-02"), several apart ("08-10,
/// 20-22"), all day "00-24", none "-". Before December 2026 the text gave
/// the first to the last usual hour, so a night shift's hours read "00-24"
/// beside the hour flagged (found by review).
fn hour_runs(usual: &[bool; 24]) -> String {
    if usual.iter().all(|&u| u) {
        return "00-24".into();
    }
    let Some(gap) = usual.iter().position(|&u| !u) else {
        return "-".into();
    };
    // From the hour after a gap round the clock: no run is cut at its start.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for k in 1..=24 {
        let h = (gap + k) % 24;
        match (usual[h], runs.last_mut()) {
            (true, Some((a, len))) if (*a + *len) % 24 == h => *len += 1,
            (true, _) => runs.push((h, 1)),
            _ => {}
        }
    }
    if runs.is_empty() {
        return "-".into();
    }
    runs.sort_unstable();
    let parts: Vec<String> = runs
        .iter()
        .map(|&(a, len)| {
            let end = a + len;
            let end = if end > 24 { end - 24 } else { end };
            format!("{a:02}-{end:02}")
        })
        .collect();
    parts.join(", ")
}

/// A time span for a reason's text, rounded down (so that it claims no
/// more than it knows) to whole days from two days on, whole hours from
/// two hours on, else whole minutes; `None` under a minute.
fn span(secs: f64) -> Option<String> {
    if secs.is_nan() || secs < 60.0 {
        return None;
    }
    let m = (secs / 60.0) as u64;
    Some(if m >= 2 * 1440 {
        format!("{} days", m / 1440)
    } else if m >= 120 {
        format!("{} hours", m / 60)
    } else if m == 1 {
        "1 minute".into()
    } else {
        format!("{m} minutes")
    })
}

/// The Poisson mean under which exceeding `threshold` has probability `tail`
/// (so a rule's threshold is its 1 - tail quantile).
fn lambda_for(threshold: u32, tail: f64) -> f64 {
    let (mut lo, mut hi) = (1e-6, threshold as f64 + 1.0);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if num::poisson_sf_ge(threshold as f64 + 1.0, mid) > tail {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    lo
}

fn hour_of(t: f64) -> usize {
    let d = libm::floor(t / 86_400.0);
    let s = t - d * 86_400.0;
    ((s / 3600.0) as usize).min(23)
}

fn dow_of(t: f64) -> usize {
    // 1970-01-01 was a Thursday; 0 = Monday
    let d = libm::floor(t / 86_400.0) as i64;
    ((d + 3).rem_euclid(7)) as usize
}

fn hhmm(t: f64) -> String {
    let d = libm::floor(t / 86_400.0);
    let s = (t - d * 86_400.0) as u64;
    format!("{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

/// `hh:mm`, with the date before it (`2024-01-01 08:00`) when `with_date`.
fn when(t: f64, with_date: bool) -> String {
    if !with_date || !t.is_finite() {
        return hhmm(t);
    }
    let (y, m, d) = crate::time::civil_from_days(libm::floor(t / 86_400.0) as i64);
    format!("{y:04}-{m:02}-{d:02} {}", hhmm(t))
}

fn year_of(t: f64) -> i64 {
    // (event times are clamped to `0..=1e11`; beyond about 8e23 the year's
    // days overflow and the search below never ends)
    let t = t.clamp(-1.0e12, 1.0e12);
    let mut y = 1970 + (t / 31_556_952.0) as i64;
    while days_from_civil(y, 1, 1) as f64 * 86_400.0 > t {
        y -= 1;
    }
    while days_from_civil(y + 1, 1, 1) as f64 * 86_400.0 <= t {
        y += 1;
    }
    y
}

fn clip(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut i = n;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    format!("{}…", &s[..i])
}

fn thousands(n: u64) -> String {
    let s = format!("{n}");
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// A raw finding before dedup / suppression.
struct Hit {
    det: usize,
    entity: String,
    feature: String,
    observed: String,
    expected: String,
    p: f64,
    text: String,
    /// The event this finding reports lies within the event another
    /// finding of its question reports (a never-seen template is a next
    /// event unseen after any context), so the two are one test: rejecting
    /// when either p is at most `a` happens with chance at most `a`, and
    /// the pair counts as one value, the smaller (see [`combined_p`]).
    nested: bool,
    dkey: u64,
}

/// For each profile group, the first group of the same entity: groups
/// whose entity fields share a path they read (a `source_net` entity reads
/// its `source_ip` paths), whatever the spelling or the reading (`user`
/// mapped to `user.name` and `user.id` beside `user.name`; `fold_case`;
/// `source_ip` beside its mapped path: found by review), joined
/// transitively. Such groups may still read different fields of an event
/// (a fallback path), so [`question`] also asks for the same value: two
/// entities joined as one hid an event about both, where keeping one
/// entity apart counted its findings twice (both found by review).
fn same_entity(groups: &[Group]) -> Vec<usize> {
    let reads = |g: &Group| -> Vec<String> {
        match &g.entity.kind {
            Kind::SourceNet(paths, _) => paths.clone(),
            _ => g.entity.paths.clone(),
        }
    };
    let paths: Vec<Vec<String>> = groups.iter().map(reads).collect();
    let mut q: Vec<usize> = (0..groups.len()).collect();
    // Few groups (one per entity name): pairwise, until nothing joins.
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..q.len() {
            for j in 0..i {
                if q[i] != q[j] && paths[i].iter().any(|p| paths[j].contains(p)) {
                    let (keep, gone) = (q[i].min(q[j]), q[i].max(q[j]));
                    q.iter_mut().filter(|x| **x == gone).for_each(|x| *x = keep);
                    changed = true;
                }
            }
        }
    }
    q
}

/// The question a finding answers: its detector's, but one for all the
/// `new_value` detectors of an entity and one for all its `unusual_hour`
/// detectors, as their findings come from the entity's profile (two
/// detectors on one feature, or two hour detectors, hold the same counts:
/// found by review). An entity is the groups [`same_entity`] joins, with
/// the same value in the event. Features are not questions of their own:
/// a new address is a new /24, mostly a new country, a new service a new
/// API, and a user's new device often a new network (found by review).
fn question(dets: &[Det], group_q: &[usize], h: &Hit) -> (u8, usize, u64) {
    let g = |g: usize| group_q.get(g).copied().unwrap_or(g);
    // The entity as read (trimmed, lowercased: `fold_case` reads it so):
    // groups that share a path can read different fields of one event (a
    // `user` that falls back to `source.ip` beside a `source_ip` entity),
    // and two entities are not one (found by review).
    let who = || hash_str(13, &h.entity.trim().to_lowercase());
    match dets.get(h.det) {
        Some(Det::NewValue(nv)) => (1, g(nv.group), who()),
        Some(Det::Hour(d)) => (2, g(d.group), who()),
        _ => (0, h.det, 0),
    }
}

/// The combined p of an event's findings: those of one question (a
/// detector's, see [`question`]) by Simes' method, as they come from the
/// same counts and are not independent (a new address is a new /24, a
/// rare template often an unlikely next event), then one value per
/// question by Fisher's method. [`Hit::nested`] findings of a question are
/// one value in Simes' method, the smallest: their events lie one within
/// the other (a never-seen template is an unseen next event), and the
/// smaller p of two such is itself a valid p (reject when either is at
/// most `a`: the union is the larger event when its p is at most `a`, else
/// the smaller event alone). `hits` are sorted by `p`; a stable sort by
/// question keeps each question's values in that order, and the sum runs
/// in a fixed order. Linear in the hits after the sort (a search per
/// detector made 2,000 matching rules 29 times as slow as 200: found by
/// review).
fn combined_p(hits: &[Hit], dets: &[Det], group_q: &[usize]) -> f64 {
    let mut by_q: Vec<((u8, usize, u64), f64, bool)> = hits
        .iter()
        .map(|h| (question(dets, group_q, h), h.p, h.nested))
        .collect();
    by_q.sort_by_key(|&(q, _, _)| q);
    let mut per_q: Vec<f64> = Vec::new();
    let mut group: Vec<f64> = Vec::new();
    let mut nest_in = false;
    for (i, &(q, p, nested)) in by_q.iter().enumerate() {
        // nested findings of a question are one value, the first (smallest)
        if !(nested && nest_in) {
            group.push(p);
        }
        nest_in |= nested;
        if by_q.get(i + 1).is_none_or(|&(next, _, _)| next != q) {
            per_q.push(num::simes(&mut group));
            group.clear();
            nest_in = false;
        }
    }
    num::fisher(&per_q)
}

// ---------------------------------------------------------------- state values

/// A sliding run of `N` sub-buckets ending at `head` (sub-buckets
/// `head - (N - 1) ..= head`), each counted in a `u16`.
#[derive(Clone, Copy, Debug)]
struct Slots<const N: usize> {
    head: u32,
    c: [u16; N],
}

impl<const N: usize> Default for Slots<N> {
    fn default() -> Self {
        Slots { head: 0, c: [0; N] }
    }
}

impl<const N: usize> Slots<N> {
    const SPAN: u32 = N as u32;

    fn advance(&mut self, b: u32) {
        if b > self.head {
            let d = b - self.head;
            if d >= Self::SPAN {
                self.c = [0; N];
            } else {
                for i in 1..=d {
                    self.c[((self.head + i) % Self::SPAN) as usize] = 0;
                }
            }
            self.head = b;
        }
    }
    /// Counts `n` events in sub-bucket `b`, by their own time (a later one
    /// moves the head); `false` when `b` is older than the run.
    fn add_at(&mut self, b: u32, n: u16) -> bool {
        if b.saturating_add(Self::SPAN) <= self.head {
            return false;
        }
        self.advance(b);
        let i = (b % Self::SPAN) as usize;
        self.c[i] = self.c[i].saturating_add(n);
        true
    }
    /// The sub-buckets of `lo..=hi` that the run holds.
    fn range(&self, lo: u32, hi: u32) -> core::ops::RangeInclusive<u32> {
        lo.max(self.head.saturating_sub(Self::SPAN - 1))..=hi.min(self.head)
    }
    /// The count of sub-buckets `lo..=hi`.
    fn sum_range(&self, lo: u32, hi: u32) -> u32 {
        self.range(lo, hi)
            .map(|i| self.c[(i % Self::SPAN) as usize] as u32)
            .sum()
    }
    /// Empties sub-buckets `lo..=hi`.
    fn clear_range(&mut self, lo: u32, hi: u32) {
        for i in self.range(lo, hi) {
            self.c[(i % Self::SPAN) as usize] = 0;
        }
    }
    fn put(&self, w: &mut W) {
        w.u32(self.head);
        for c in self.c {
            w.u16(c);
        }
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = Self {
            head: r.u32()?,
            ..Self::default()
        };
        for x in s.c.iter_mut() {
            *x = r.u16()?;
        }
        Ok(s)
    }
}

/// A rule's window of one group key (`threshold`, `followed_by`; the
/// window is 8 sub-buckets), in three runs that each record counts in one
/// of, by its own time: the group's latest 16 sub-buckets (two windows);
/// the 8 before them, which take the sub-buckets the latest 16 drop as
/// they move on; and a far run for records older than the latest 16 (a
/// late source, a backfill, a replay, a clock gone back), with their own
/// neighbours, which starts over for a record older than it too. A late
/// record is judged by the largest count of a window of 8 sub-buckets that
/// holds it, over the three. The history was found wanting six times by
/// review: every record counted in the latest sub-bucket (a backfill of
/// yesterday's failures, one an hour, read as 6 within 10 minutes; a late
/// success was paired with failures after it); records older than the
/// window counted nowhere (one live failure blinded both rules to a brute
/// force shipped 12 minutes late); a window behind kept apart from the
/// live one split a burst across their edge; the live window dropped a
/// late source's records as it moved on; 16 sub-buckets without a run that
/// took what they dropped lost sources 15 to 23 minutes late; and one run
/// behind that both took those and held far records lost sources 25 to 38
/// minutes late, switching between the two.
#[derive(Clone, Copy, Default, Debug)]
struct Win {
    live: Slots<16>,
    spilt: Slots<8>,
    far: Slots<8>,
}

impl Win {
    /// Counts `n` events in sub-bucket `b`; returns the largest count of a
    /// window of 8 sub-buckets holding `b` (an in-order record's: the
    /// latest window's).
    fn add_at(&mut self, b: u32, n: u16) -> u32 {
        // what the latest 16 drop on moving to `b` (none before they have
        // 16: at the epoch's start the first sub-buckets were spilt while
        // still held, and counted twice: found by review)
        if b > self.live.head
            && let Some(hi) = b.checked_sub(16)
        {
            let lo = self.live.head.saturating_sub(15);
            for i in lo..=hi.min(self.live.head) {
                let c = self.live.c[(i % 16) as usize];
                if c > 0 {
                    self.spilt.add_at(i, c);
                }
            }
        }
        if !self.live.add_at(b, n) {
            if b.saturating_add(8) <= self.far.head {
                self.far = Slots::default();
            }
            self.far.add_at(b, n);
        }
        if b >= self.live.head {
            return self.live.sum_range(b.saturating_sub(7), b);
        }
        (b.saturating_sub(7)..=b)
            .map(|s| self.sum_range(s, s.saturating_add(7)))
            .max()
            .unwrap_or(0)
    }
    /// The three runs' count of sub-buckets `lo..=hi` (a record is in one
    /// run only; two runs may hold records of one sub-bucket).
    fn sum_range(&self, lo: u32, hi: u32) -> u32 {
        self.live.sum_range(lo, hi) + self.spilt.sum_range(lo, hi) + self.far.sum_range(lo, hi)
    }
    /// The count of the window ending at sub-bucket `b` (what came up to
    /// it).
    fn total_to(&self, b: u32) -> u32 {
        self.sum_range(b.saturating_sub(7), b)
    }
    /// Empties the window ending at `b`, which a reported `then` read;
    /// later sub-buckets keep theirs (clearing the runs whole, a live
    /// success spent a late brute force's failures: found by review).
    fn clear_to(&mut self, b: u32) {
        let lo = b.saturating_sub(7);
        self.live.clear_range(lo, b);
        self.spilt.clear_range(lo, b);
        self.far.clear_range(lo, b);
    }
}

impl Pod for Win {
    /// Format 8 on: the latest 16 sub-buckets, the 8 before them, the far
    /// run of 8. Format 7 (two commits of December 2026): the latest 8 and
    /// a run of 8 behind them, restored as the latest and the far run; 1
    /// to 6: the latest 8 alone, restored into the 16.
    const SIZE: usize = 76;
    fn size_in(v: u16) -> usize {
        match v {
            ..7 => 20,
            7 => 40,
            _ => Self::SIZE,
        }
    }
    fn put(&self, w: &mut W) {
        self.live.put(w);
        self.spilt.put(w);
        self.far.put(w);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        if r.v >= 8 {
            return Ok(Win {
                live: Slots::get(r)?,
                spilt: Slots::get(r)?,
                far: Slots::get(r)?,
            });
        }
        let old = Slots::<8>::get(r)?;
        let mut live = Slots::<16> {
            head: old.head,
            ..Slots::default()
        };
        for i in old.range(0, old.head) {
            live.c[(i % 16) as usize] = old.c[(i % 8) as usize];
        }
        let far = if r.v == 7 {
            Slots::get(r)?
        } else {
            Slots::default()
        };
        Ok(Win {
            live,
            far,
            ..Win::default()
        })
    }
}

/// `N` half-window 256-bit linear-counting sketches ending at half `half`.
#[derive(Clone, Copy, Debug)]
struct Halves<const N: usize> {
    half: u32,
    h: [[u64; 4]; N],
}

impl<const N: usize> Default for Halves<N> {
    fn default() -> Self {
        Halves {
            half: 0,
            h: [[0; 4]; N],
        }
    }
}

impl<const N: usize> Halves<N> {
    const SPAN: u32 = N as u32;

    /// Adds value hash `h` in half `hb`, by its own time; `false` when
    /// `hb` is older than the run.
    fn add(&mut self, hb: u32, h: u64) -> bool {
        let bit = (h & 255) as usize;
        let mut x = [0u64; 4];
        x[bit / 64] = 1u64 << (bit % 64);
        self.merge(hb, &x)
    }
    /// Adds the values of sketch `x` in half `hb`; `false` when `hb` is
    /// older than the run.
    fn merge(&mut self, hb: u32, x: &[u64; 4]) -> bool {
        if hb.saturating_add(Self::SPAN) <= self.half {
            return false;
        }
        if hb > self.half {
            let d = hb - self.half;
            if d >= Self::SPAN {
                self.h = [[0; 4]; N];
            } else {
                for i in 1..=d {
                    self.h[((self.half + i) % Self::SPAN) as usize] = [0; 4];
                }
            }
            self.half = hb;
        }
        for (b, x) in self.h[(hb % Self::SPAN) as usize].iter_mut().zip(x) {
            *b |= x;
        }
        true
    }
    /// The sketch of half `hb`, if the run holds it.
    fn bits_of(&self, hb: u32) -> Option<&[u64; 4]> {
        (hb <= self.half && hb.saturating_add(Self::SPAN) > self.half)
            .then(|| &self.h[(hb % Self::SPAN) as usize])
    }
    fn put(&self, w: &mut W) {
        w.u32(self.half);
        for x in self.h.iter().flatten() {
            w.u64(*x);
        }
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = Self {
            half: r.u32()?,
            ..Self::default()
        };
        for x in s.h.iter_mut().flatten() {
            *x = r.u64()?;
        }
        Ok(s)
    }
}

/// Linear counting: the distinct values behind a 256-bit sketch.
fn linear_count(bits: &[u64; 4]) -> f64 {
    let ones: u32 = bits.iter().map(|x| x.count_ones()).sum();
    if ones >= 256 {
        1500.0
    } else {
        -256.0 * libm::log(1.0 - ones as f64 / 256.0)
    }
}

/// A `distinct` rule's window of one group key (two halves), in three
/// runs as [`Win`] keeps its sub-buckets: the latest 4 halves, the 2
/// before them (what the latest 4 drop), and a far run of 2 (before, every
/// record counted in the latest half: a backfill of yesterday's spraying,
/// one name an hour, was spraying now; and with fewer runs a late spray
/// across an edge, beside live traffic or half an hour late was split or
/// forgotten: found by review).
#[derive(Clone, Copy, Default, Debug)]
struct Dist {
    live: Halves<4>,
    spilt: Halves<2>,
    far: Halves<2>,
}

impl Dist {
    /// Adds value hash `h` in half `hb`; the larger estimate of distinct
    /// values of the two windows of two halves that hold `hb`, over the
    /// three runs (an in-order record's: the latest window's).
    fn add(&mut self, hb: u32, h: u64) -> f64 {
        if hb > self.live.half
            && let Some(hi) = hb.checked_sub(4)
        {
            let lo = self.live.half.saturating_sub(3);
            for i in lo..=hi.min(self.live.half) {
                let x = self.live.h[(i % 4) as usize];
                if x != [0; 4] {
                    self.spilt.merge(i, &x);
                }
            }
        }
        if !self.live.add(hb, h) {
            if hb.saturating_add(2) <= self.far.half {
                self.far = Halves::default();
            }
            self.far.add(hb, h);
        }
        let window = |lo: u32| {
            let mut bits = [0u64; 4];
            for half in [lo, lo.saturating_add(1)] {
                for x in [
                    self.live.bits_of(half),
                    self.spilt.bits_of(half),
                    self.far.bits_of(half),
                ]
                .into_iter()
                .flatten()
                {
                    for (b, x) in bits.iter_mut().zip(x) {
                        *b |= x;
                    }
                }
            }
            linear_count(&bits)
        };
        if hb >= self.live.half {
            return window(hb.saturating_sub(1));
        }
        window(hb.saturating_sub(1)).max(window(hb))
    }
}

impl Pod for Dist {
    /// Format 8 on: the latest 4 halves, the 2 before them, the far run of
    /// 2. Format 7: the latest 2 and a run of 2 behind them (restored as
    /// the latest and the far run); 1 to 6: the latest 2 alone.
    const SIZE: usize = 272;
    fn size_in(v: u16) -> usize {
        match v {
            ..7 => 68,
            7 => 136,
            _ => Self::SIZE,
        }
    }
    fn put(&self, w: &mut W) {
        self.live.put(w);
        self.spilt.put(w);
        self.far.put(w);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        if r.v >= 8 {
            return Ok(Dist {
                live: Halves::get(r)?,
                spilt: Halves::get(r)?,
                far: Halves::get(r)?,
            });
        }
        // half, the latest half's sketch, the one before it
        let half = r.u32()?;
        let mut live = Halves::<4> {
            half,
            ..Halves::default()
        };
        for hb in [Some(half), half.checked_sub(1)] {
            let mut x = [0u64; 4];
            for v in x.iter_mut() {
                *v = r.u64()?;
            }
            if let Some(hb) = hb {
                live.h[(hb % 4) as usize] = x;
            }
        }
        // format 7's run behind: half, its sketch, the one before it (read
        // as `Halves::get` would, an odd half's two sketches were swapped:
        // found by review)
        let mut far = Halves::<2>::default();
        if r.v == 7 {
            far.half = r.u32()?;
            for hb in [Some(far.half), far.half.checked_sub(1)] {
                let mut x = [0u64; 4];
                for v in x.iter_mut() {
                    *v = r.u64()?;
                }
                if let Some(hb) = hb {
                    far.h[(hb % 2) as usize] = x;
                }
            }
        }
        Ok(Dist {
            live,
            far,
            ..Dist::default()
        })
    }
}

/// Per-entity profile shared by new-value and unusual-hour detectors: 32 bytes.
#[derive(Clone, Copy, Default, Debug)]
struct Profile {
    first_min: u32,
    n: u32,
    /// Per `new_value` feature slot (see [`NewValue::slot0`]): values known.
    distinct: [u8; 8],
    /// 24 four-bit hour-of-day counts; all halve when one saturates.
    hours: [u8; 12],
    /// Per `new_value` feature slot: events the detector looked at that
    /// had the feature (saturating), the `n` of its Good-Turing estimate.
    /// An entity's other events say nothing about how often its logins
    /// bring a new address (snapshot format 6; before, all its events).
    seen: [u16; 8],
}

impl Profile {
    fn hour(&self, h: usize) -> u32 {
        ((self.hours[h / 2] >> (4 * (h % 2))) & 15) as u32
    }
    /// Count an event at hour `h`. When a counter would overflow, all
    /// halve, rounding up: an hour ever seen keeps a count of at least 1,
    /// so a zero means "never seen", which `unusual_hour` relies on.
    fn inc_hour(&mut self, h: usize) {
        if self.hour(h) == 15 {
            for b in self.hours.iter_mut() {
                let lo = (*b & 15).div_ceil(2);
                let hi = (*b >> 4).div_ceil(2);
                *b = lo | (hi << 4);
            }
        }
        let v = self.hour(h) + 1;
        let sh = 4 * (h % 2);
        self.hours[h / 2] = (self.hours[h / 2] & !(15 << sh)) | ((v as u8) << sh);
    }
}

impl Pod for Profile {
    const SIZE: usize = 44;
    fn size_in(v: u16) -> usize {
        if v < 6 { 32 } else { Self::SIZE }
    }
    fn put(&self, w: &mut W) {
        w.u32(self.first_min);
        w.u32(self.n);
        w.buf.extend_from_slice(&self.distinct);
        w.buf.extend_from_slice(&self.hours);
        for s in self.seen {
            w.u16(s);
        }
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let first_min = r.u32()?;
        if r.v < 6 {
            // the time of the entity's latest event, no longer kept
            r.u32()?;
        }
        let mut p = Profile {
            first_min,
            n: r.u32()?,
            ..Default::default()
        };
        p.distinct.copy_from_slice(r.take(8)?);
        p.hours.copy_from_slice(r.take(12)?);
        if r.v < 6 {
            // Formats 1 to 5 counted every event of the entity for every
            // feature: the best estimate there is.
            p.seen = [p.n.min(u16::MAX as u32) as u16; 8];
        } else {
            for s in p.seen.iter_mut() {
                *s = r.u16()?;
            }
        }
        Ok(p)
    }
}

#[derive(Clone, Copy, Default, Debug)]
struct Loc {
    lat: f32,
    lon: f32,
    t: f64,
}

impl Pod for Loc {
    const SIZE: usize = 16;
    fn put(&self, w: &mut W) {
        w.f32(self.lat);
        w.f32(self.lon);
        w.f64(self.t);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        Ok(Loc {
            lat: r.f32()?,
            lon: r.f32()?,
            t: r.f64()?,
        })
    }
}

/// Seasonal robust baseline for one series: 160 bytes.
#[derive(Clone, Copy, Debug)]
struct RateState {
    bucket: u32,
    count: f32,
    errs: f32,
    n: u32,
    level: f32,
    dev: f32,
    err_rate: f32,
    err_n: f32,
    season: [f32; 24],
    dow: [f32; 7],
    short: f32,
    /// Gauge mode: decayed histogram of log2 surprises (conformal p-values).
    hist: [f32; UBINS],
    /// Count mode: the latest bucket the series has opened. After the
    /// clock went back (a replayed older log) the open bucket is the
    /// replay's; the buckets up to this one were counted already, so they
    /// are no silence and teach no zeros when the stream returns (they
    /// did: found by review). Saved from snapshot format 6.
    peak: u32,
    /// What the `peak` bucket had counted when the clock went back from
    /// it (events, errors): the stream returning into that bucket goes on
    /// from there (it started again from 1, and the hour was a drop).
    peak_count: f32,
    peak_errs: f32,
}

impl RateState {
    /// The open bucket's count and errors: when time was repeated in the
    /// latest bucket (see `Rate::run`), the larger of its two passes.
    fn counted(&self) -> (f32, f32) {
        if self.bucket == self.peak && self.peak_count > self.count {
            (self.peak_count, self.peak_errs)
        } else {
            (self.count, self.errs)
        }
    }

    /// The errors and events an error rate is judged on: of two passes,
    /// the one with the larger error share (an error burst in the smaller
    /// pass was lost: found by review).
    fn err_pass(&self) -> (f32, f32) {
        let share = |e: f32, n: f32| if n > 0.0 { e / n } else { 0.0 };
        if self.bucket == self.peak
            && self.peak_count > 0.0
            && share(self.peak_errs, self.peak_count) > share(self.errs, self.count)
        {
            (self.peak_errs, self.peak_count)
        } else {
            (self.errs, self.count)
        }
    }
}

const UBINS: usize = 24;

impl Default for RateState {
    fn default() -> Self {
        RateState {
            bucket: u32::MAX,
            count: 0.0,
            errs: 0.0,
            n: 0,
            level: 0.0,
            dev: 0.0,
            err_rate: 0.0,
            err_n: 0.0,
            season: [0.0; 24],
            dow: [0.0; 7],
            short: 0.0,
            hist: [0.0; UBINS],
            peak: 0,
            peak_count: 0.0,
            peak_errs: 0.0,
        }
    }
}

impl Pod for RateState {
    const SIZE: usize = 48 + (31 + UBINS) * 4;
    fn size_in(v: u16) -> usize {
        if v < 6 { Self::SIZE - 12 } else { Self::SIZE }
    }
    fn put(&self, w: &mut W) {
        w.u32(self.bucket);
        w.f32(self.count);
        w.f32(self.errs);
        w.u32(self.n);
        w.f32(self.level);
        w.f32(self.dev);
        w.f32(self.err_rate);
        w.f32(self.err_n);
        for x in self.season.iter().chain(self.dow.iter()) {
            w.f32(*x);
        }
        w.f32(self.short);
        for h in self.hist {
            w.f32(h);
        }
        w.u32(self.peak);
        w.f32(self.peak_count);
        w.f32(self.peak_errs);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = RateState {
            bucket: r.u32()?,
            count: r.f32()?,
            errs: r.f32()?,
            n: r.u32()?,
            level: r.f32()?,
            dev: r.f32()?,
            err_rate: r.f32()?,
            err_n: r.f32()?,
            ..Default::default()
        };
        for i in 0..24 {
            s.season[i] = r.f32()?;
        }
        for i in 0..7 {
            s.dow[i] = r.f32()?;
        }
        s.short = r.f32()?;
        for h in s.hist.iter_mut() {
            *h = r.f32()?;
            // decayed counts: a negative one gave a negative p-value, a
            // critical alert (found by review)
            if !(h.is_finite() && *h >= 0.0) {
                return Err(StateError::Corrupt("rate histogram"));
            }
        }
        if r.v >= 6 {
            s.peak = r.u32()?;
            s.peak_count = r.f32()?;
            s.peak_errs = r.f32()?;
        } else if s.bucket != u32::MAX {
            s.peak = s.bucket;
        }
        Ok(s)
    }
}

const TOP: usize = 12;

/// Next-event statistics for one context (space-saving top list): 76 bytes.
#[derive(Clone, Copy, Default, Debug)]
struct CtxStats {
    total: u32,
    ids: [u16; TOP],
    cnt: [u32; TOP],
}

impl CtxStats {
    fn count(&self, id: u16) -> u32 {
        (0..TOP)
            .find(|&i| self.cnt[i] > 0 && self.ids[i] == id)
            .map(|i| self.cnt[i])
            .unwrap_or(0)
    }
    fn add(&mut self, id: u16) {
        self.total = self.total.saturating_add(1);
        if let Some(i) = (0..TOP).find(|&i| self.cnt[i] > 0 && self.ids[i] == id) {
            // (saturating: `+= 1` panicked in debug builds, and wrapped to
            // an empty slot in release, at the 2^32nd occurrence: found by
            // review)
            self.cnt[i] = self.cnt[i].saturating_add(1);
            return;
        }
        let mut m = 0;
        for i in 0..TOP {
            if self.cnt[i] < self.cnt[m] {
                m = i;
            }
        }
        self.ids[m] = id;
        self.cnt[m] = self.cnt[m].saturating_add(1);
    }

    /// Every slot holds an event: an event not in the list may have been
    /// evicted, its count at most the smallest (space-saving's bound).
    fn full(&self) -> bool {
        self.cnt.iter().all(|&c| c > 0)
    }

    /// Halve the counts, rounding down (a slot whose count reaches 0 is
    /// free again).
    fn halve(&mut self) {
        for c in self.cnt.iter_mut() {
            *c /= 2;
        }
        self.total = self.cnt.iter().fold(0u32, |a, &c| a.saturating_add(c));
    }
}

impl Pod for CtxStats {
    const SIZE: usize = 4 + TOP * 6;
    fn put(&self, w: &mut W) {
        w.u32(self.total);
        for i in 0..TOP {
            w.u16(self.ids[i]);
            w.u32(self.cnt[i]);
        }
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = CtxStats {
            total: r.u32()?,
            ..Default::default()
        };
        for i in 0..TOP {
            s.ids[i] = r.u16()?;
            s.cnt[i] = r.u32()?;
        }
        Ok(s)
    }
}

const HIST: usize = 16;

#[derive(Clone, Copy, Default, Debug)]
struct Hist {
    len: u32,
    last: [u16; HIST],
}

impl Hist {
    fn push(&mut self, id: u16) {
        self.last.copy_within(1.., 0);
        self.last[HIST - 1] = id;
        self.len = self.len.saturating_add(1);
    }
    /// Undo the last [`push`](Hist::push): the oldest slot, shifted out by
    /// that push, cannot come back, so a context of all `HIST` ids is only
    /// exact while the session is shorter than `HIST`.
    fn pop(&mut self) -> u16 {
        let id = self.last[HIST - 1];
        self.last.copy_within(..HIST - 1, 1);
        self.last[0] = 0;
        self.len = self.len.saturating_sub(1);
        id
    }
    /// Hash of the last `j` ids (with a start marker when the session is shorter).
    fn ctx(&self, j: usize, seed: u64) -> u64 {
        let mut h = combine(seed, j as u64);
        let have = (self.len as usize).min(HIST);
        for i in 0..j {
            let v = if i < have {
                self.last[HIST - 1 - i] as u64
            } else {
                0xFFFF_FFFF
            };
            h = combine(h, v);
        }
        h
    }
}

impl Pod for Hist {
    const SIZE: usize = 4 + HIST * 2;
    fn put(&self, w: &mut W) {
        w.u32(self.len);
        for x in self.last {
            w.u16(x);
        }
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = Hist {
            len: r.u32()?,
            ..Default::default()
        };
        for x in s.last.iter_mut() {
            *x = r.u16()?;
        }
        Ok(s)
    }
}

// ---------------------------------------------------------------- detectors

/// A rule's `describe` text, compiled: its names resolved once to the
/// rule's own values or to event fields.
struct Describe(Vec<DPiece>);

enum DPiece {
    Text(String),
    /// One of the rule's values, by position in the `own` list given to
    /// [`Describe::new`] and to [`Describe::render`].
    Own(usize),
    Field(FieldRef),
}

impl Describe {
    /// `own` names the rule type's values (`group`, `count`, ...); any other
    /// name is an event field. `None` when there is no text (checked by the
    /// policy, so a parse error cannot happen here).
    fn new(p: &Policy, text: Option<&str>, own: &[&str]) -> Option<Describe> {
        let pieces = crate::policy::parse_describe(text?).ok()?;
        Some(Describe(
            pieces
                .into_iter()
                .map(|x| match x {
                    crate::policy::Piece::Text(t) => DPiece::Text(t),
                    crate::policy::Piece::Name(n) => match own.iter().position(|o| *o == n) {
                        Some(i) => DPiece::Own(i),
                        None => DPiece::Field(FieldRef::new(p, &n)),
                    },
                })
                .collect(),
        ))
    }

    /// A rule's text: its own values in the order every rule type names
    /// them (`group`, `count`, `window`, then `threshold` or `min_first`,
    /// then `latest` for `distinct`).
    fn render_rule<E: Event + ?Sized>(
        &self,
        c: &Ctx<'_, '_, E>,
        group: &str,
        count: impl core::fmt::Display,
        window: f64,
        limit: u32,
        latest: Option<&str>,
    ) -> String {
        let (n, w, l) = (count.to_string(), dur(window), limit.to_string());
        match latest {
            Some(v) => self.render(c, &[group, &n, &w, &l, v]),
            None => self.render(c, &[group, &n, &w, &l]),
        }
    }

    /// The text for one finding: `vals` in the order of `own` above; an
    /// event field the event lacks reads `-`; each value at most 64 bytes,
    /// quoted when it would not read as itself (see [`shown`]).
    fn render<E: Event + ?Sized>(&self, c: &Ctx<'_, '_, E>, vals: &[&str]) -> String {
        let mut o = String::new();
        for x in &self.0 {
            match x {
                DPiece::Text(t) => o.push_str(t),
                DPiece::Own(i) => o.push_str(&shown(vals.get(*i).copied().unwrap_or("-"))),
                DPiece::Field(f) => match c.get(f) {
                    Some(v) => o.push_str(&shown(&v)),
                    None => o.push('-'),
                },
            }
        }
        o
    }
}

/// A reason's sentence with every control character written as an escape
/// (`\n`, `\u{001b}`): values in it come from events, and a line break or a
/// terminal escape in a client-chosen name must not make one reason look
/// like two, or repaint the terminal of an operator reading it.
fn one_line(text: String) -> String {
    if !text.chars().any(char::is_control) {
        return text;
    }
    let mut o = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            ch if ch.is_control() => o.push_str(&format!("\\u{{{:04x}}}", ch as u32)),
            ch => o.push(ch),
        }
    }
    o
}

/// A value for a sentence: at most 64 bytes, and in double quotes with
/// escapes when it is empty, starts or ends with whitespace, or holds a
/// control character or a quote, so `" 0101"` (a user name with a leading
/// space) and `""` read as what they are, and a line break or a terminal
/// escape in a client-chosen name cannot make a reason look like two.
fn shown(v: &str) -> String {
    let plain = !v.is_empty()
        && !v.starts_with(char::is_whitespace)
        && !v.ends_with(char::is_whitespace)
        && !v.chars().any(|ch| ch.is_control() || ch == '"');
    if plain {
        return clip(v, 64);
    }
    // Quotes and backslashes escaped here; control characters are left to
    // `one_line`, which every reason's text goes through.
    let mut o = String::from("\"");
    for ch in clip(v, 64).chars() {
        if ch == '"' || ch == '\\' {
            o.push('\\');
        }
        o.push(ch);
    }
    o.push('"');
    o
}

/// The names a `threshold` rule's `describe` can use besides event fields.
const OWN_THRESHOLD: &[&str] = &["group", "count", "window", "threshold"];
/// The same for `distinct` (`latest`: the distinct value just counted).
const OWN_DISTINCT: &[&str] = &["group", "count", "window", "threshold", "latest"];
/// The same for `followed_by` (`count`: the `first` events before `then`).
const OWN_FOLLOWED_BY: &[&str] = &["group", "count", "window", "min_first"];

struct Threshold {
    filter: Vec<CCond>,
    group: FieldRef,
    window: f64,
    threshold: u32,
    expected: f64,
    weight: Option<FieldRef>,
    describe: Option<Describe>,
    table: Table<Win>,
}

struct DistinctDet {
    filter: Vec<CCond>,
    group: FieldRef,
    distinct: FieldRef,
    window: f64,
    threshold: u32,
    expected: f64,
    describe: Option<Describe>,
    table: Table<Dist>,
    /// Mixed into a distinct value's hash before it picks its bit (the
    /// engine's hash key): with the public hash, a spraying list could keep
    /// to names that fall on a few bits (found by review).
    salt: u64,
}

struct FollowedBy {
    first: Vec<CCond>,
    then: Vec<CCond>,
    group: FieldRef,
    min_first: u32,
    window: f64,
    expected: f64,
    weight: Option<FieldRef>,
    describe: Option<Describe>,
    table: Table<Win>,
}

struct Rate {
    filter: Vec<CCond>,
    group: Option<FieldRef>,
    bucket: f64,
    value: Option<FieldRef>,
    err: Vec<CCond>,
    season: Seasonality,
    /// Whether buckets start at more than one hour of the day (shorter than
    /// a day: hour-of-day offsets apply) and on more than one weekday
    /// (shorter than a week: day-of-week offsets apply). Buckets of a day
    /// all start at the same hour, so one offset would take every bucket
    /// and learn as a second, faster level: a sustained surge of a daily
    /// series passed for normal within weeks (found by review).
    hourly: bool,
    daily: bool,
    alpha: f64,
    warmup: u32,
    drops: bool,
    min_count: f64,
    /// Count mode: the p-values of the severity thresholds, at which a
    /// filling bucket's spike is reported (see `spike_so_far`).
    levels: [f64; 4],
    /// Count mode: the z below which a spike reaches no level (a little
    /// under the first level's), so most events skip the tail.
    gate_z: f64,
    table: Table<RateState>,
}

struct Gauge {
    filter: Vec<CCond>,
    group: Option<FieldRef>,
    value: FieldRef,
    params: GaugeParams,
    table: Table<GaugeState>,
}

struct NewValue {
    filter: Vec<CCond>,
    group: usize,
    features: Vec<FieldRef>,
    rare: bool,
    /// The profile slot (`distinct`, `seen`) of the first feature; the
    /// `new_value` detectors of one entity take consecutive slots (at
    /// most 8 in all: the policy checks). Before December 2026 each
    /// detector's features began at slot 0, so a second detector's
    /// features were judged by the first's counts (found by review).
    slot0: usize,
}

struct Hour {
    filter: Vec<CCond>,
    group: usize,
}

struct Peer {
    filter: Vec<CCond>,
    entity: FieldRef,
    group: FieldRef,
    feature: FieldRef,
    counts: Table<u32>,
}

struct Travel {
    filter: Vec<CCond>,
    entity: FieldRef,
    lat: FieldRef,
    lon: FieldRef,
    max_kmh: f64,
    min_km: f64,
    table: Table<Loc>,
}

struct Sequence {
    rare_templates: bool,
    filter: Vec<CCond>,
    end: Vec<CCond>,
    session: FieldRef,
    template: Option<FieldRef>,
    message: FieldRef,
    /// Mines `message` with `extract` captures masked (some pattern reads
    /// it): see [`Ctx::masked_text`].
    masks: bool,
    /// Reused for the masked text.
    mask_buf: String,
    h: usize,
    k: usize,
    /// Observations after which a context concludes about a next event
    /// it never saw: 1 / (total + 1) is below `report_p`.
    conclusive: u32,
    online: bool,
    drain: Drain,
    keys: BTreeMap<String, u16>,
    key_names: Vec<String>,
    counts0: Vec<u32>,
    total0: u64,
    /// Learned events whose template had no count (new, or forgotten by a
    /// halving), halved with the counts: the novelty estimate's numerator.
    /// Counting the templates with a count instead (as before), a halving
    /// forgot every template seen once, and the estimate fell far below
    /// the steady share of never-seen templates: with them 1.5% of a
    /// stream and a 14-day half-life, 1.57% of events were reported (found
    /// by review). Without halvings the two are the same.
    novel: u64,
    ctx: Table<CtxStats>,
    sessions: Table<Hist>,
    max_templates: usize,
}

#[allow(clippy::large_enum_variant)] // one per detector, never moved in a hot path
enum Det {
    Threshold(Threshold),
    Distinct(DistinctDet),
    FollowedBy(FollowedBy),
    Rate(Rate),
    Gauge(Gauge),
    NewValue(NewValue),
    Hour(Hour),
    Peer(Peer),
    Travel(Travel),
    Sequence(Sequence),
    Composition(Composition),
}

struct Group {
    entity: FieldRef,
    table: Table<Profile>,
    cms: CountMin,
}

struct Allowed {
    f: FieldRef,
    values: Vec<String>,
    detector: Option<String>,
}

/// Smallest count-min sketch of an entity group (2 rows of 64 cells).
const CMS_MIN: usize = 2 * 64;

/// Each table and sketch of a policy as (its weight in the budget split,
/// the least it takes: one bucket ([`Table::with_share`]), a group's
/// sketch [`CMS_MIN`]).
fn table_mins(policy: &Policy, groups: usize) -> Vec<(u32, usize)> {
    fn b<V: Copy + Default>() -> usize {
        Table::<V>::slot_bytes() * crate::store::WAYS
    }
    let mut v = alloc::vec![(1, b::<u32>())];
    for _ in 0..groups {
        v.push((26, b::<Profile>()));
        v.push((4, CMS_MIN));
    }
    for d in &policy.detectors {
        match d {
            DetectorSpec::Threshold(_) | DetectorSpec::FollowedBy(_) => v.push((1, b::<Win>())),
            DetectorSpec::Distinct(_) => v.push((1, b::<Dist>())),
            DetectorSpec::Rate(_) => v.push((1, b::<RateState>())),
            DetectorSpec::Gauge(_) => v.push((1, b::<GaugeState>())),
            DetectorSpec::PeerRare(_) => v.push((1, b::<u32>())),
            DetectorSpec::ImpossibleTravel(_) => v.push((1, b::<Loc>())),
            DetectorSpec::Sequence(_) => {
                v.push((3, b::<CtxStats>()));
                v.push((1, b::<Hist>()));
            }
            DetectorSpec::Composition(_) => v.push((1, b::<CompSession>())),
            DetectorSpec::NewValue(_) | DetectorSpec::UnusualHour(_) => {}
        }
    }
    v
}

/// Entity profile groups: the distinct entities of `new_value` and
/// `unusual_hour` detectors, in policy order.
fn group_names(policy: &Policy) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for d in &policy.detectors {
        if let DetectorSpec::NewValue(NewValueRule { entity, .. })
        | DetectorSpec::UnusualHour(HourRule { entity, .. }) = d
            && !names.contains(entity)
        {
            names.push(entity.clone());
        }
    }
    names
}

/// Templates are bounded by count and token size, so their worst case is
/// known and reserved off the budget first.
fn templates_reserve(policy: &Policy) -> usize {
    policy
        .detectors
        .iter()
        .map(|d| match d {
            DetectorSpec::Sequence(s) => {
                s.max_templates * crate::drain::MAX_TEMPLATE_BYTES.max(2 * (KEY_MAX + 48))
            }
            DetectorSpec::Composition(c) => c.reserve_bytes(),
            _ => 0,
        })
        .sum()
}

/// What `policy` and its compiled form hold on the heap (`crate::heap`),
/// from an engine built of a clone (so at their lengths) with no budget (so
/// it allocates its least).
fn config_of(policy: &Policy) -> usize {
    let mut p = policy.clone();
    p.memory_budget_bytes = 0;
    Engine::build(p, 0).config
}

/// The smallest `memory_budget_bytes` a policy's state fits in: what its
/// templates reserve, 4 KiB, and a bucket of every table. Policy
/// validation refuses less.
///
/// Also what the policy and its compiled form hold (the second figure), from
/// an engine built with nothing to split: so `policy` must be valid but for
/// its budget.
pub(crate) fn min_budget(policy: &Policy) -> (usize, usize) {
    let mins: usize = table_mins(policy, group_names(policy).len())
        .iter()
        .map(|&(_, m)| m)
        .sum();
    let keys: usize = policy.detectors.iter().map(template_keys_bytes).sum();
    let config = config_of(policy);
    (
        templates_reserve(policy) + 4096 + mins + keys + config,
        config,
    )
}

/// What a `sequence` detector's templates take beside the miner's worst
/// case, which `templates_reserve` sets aside: each template's count (4
/// bytes) and its key, both ways (at most `2 × (KEY_MAX + 48)`). It comes
/// out of the detector's own share of the budget (before December 2026 it
/// came on top: full templates overdrew the least budget a policy was
/// accepted with, found by review).
fn template_keys_bytes(d: &DetectorSpec) -> usize {
    match d {
        DetectorSpec::Sequence(s) => s.max_templates * (4 + 2 * (KEY_MAX + 48)),
        _ => 0,
    }
}

/// The anomaly engine: one per stream (plugin instance).
pub struct Engine {
    policy: Policy,
    names: Vec<String>,
    dets: Vec<Det>,
    groups: Vec<Group>,
    /// Each profile group's first group of the same entity
    /// ([`same_entity`]): one question ([`question`]).
    group_q: Vec<usize>,
    extract: Vec<Extractor>,
    allow: Vec<Allowed>,
    /// Each `suppress` entry's entity, folded (for detectors in
    /// `folds_entity`).
    sup_folded: Vec<String>,
    /// Per detector: whether its entity field is one of `fold_case`.
    folds_entity: Vec<bool>,
    /// The policy's `skip` lists of conditions.
    skip: Vec<Vec<CCond>>,
    ts: FieldRef,
    dedup: Table<u32>,
    first_t: f64,
    last_t: f64,
    /// Events in a row whose time is more than [`MAX_JUMP_SECS`] from the
    /// clock (`last_t`), and the last of their times (see [`Engine::clock`]).
    /// Saved from snapshot format 5 (before: a restored engine starts
    /// counting afresh).
    jumps: u32,
    jump_t: f64,
    /// The time of the event at which learned counts last halved
    /// ([`Engine::maybe_decay`]; `-inf` before any): a value counted once
    /// before it may be forgotten, so a value with no count is known unseen
    /// only since then. Saved from format 6 (before: the start of the
    /// decay epoch, which a restart of decay after a jump moves past
    /// halvings made at the jump's time: found by review).
    decayed_t: f64,
    /// Events scored since the clock last took a jump (or since start):
    /// whether the time it leaves was lived in or one broken record's.
    /// Saved from format 5 (before: taken to be every event counted).
    since_jump: u64,
    /// The latest time the clock has given since decay's epochs last
    /// restarted: a jump back restarts them only when it leaves this time
    /// (see [`Engine::clock`]). Saved from format 5 (before: estimated as
    /// the end of the saved decay epoch).
    peak_t: f64,
    events: u64,
    epoch: i64,
    ex_buf: Vec<(String, String)>,
    spans_buf: Vec<(usize, usize)>,
    /// Each profile group's entity key and profile for the event being
    /// scored, kept between events so that no event allocates it.
    profs_buf: Vec<Option<(u64, Profile)>>,
    /// The secret mixed into table placement and sketch cells
    /// ([`Engine::with_hash_key`]); 0: none.
    hash_key: u64,
    /// What the policy and its compiled form hold on the heap
    /// ([`Engine::config_heap`]), counted in [`Engine::memory_bytes`].
    config: usize,
}

/// Default tail probability of a rule at its threshold.
const RULE_TAIL: f64 = 0.001;
const SEED_GROUP: u64 = 0x5EED_0001;
const SEED_ENT: u64 = 0x5EED_0002;
const SEED_DEDUP: u64 = 0x5EED_0003;

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("policy", &self.policy.name)
            .field("detectors", &self.names)
            .field("events", &self.events)
            .field("memory_bytes", &self.memory_bytes())
            .field("memory_budget", &self.memory_budget())
            .finish()
    }
}

impl Engine {
    pub fn new(policy: Policy) -> Engine {
        // The policy and its compiled form come out of the budget too
        // (`crate::heap`), known once compiled (`config_of`, a build with
        // no budget, which allocates little): the tables split their shares
        // less that much (the sketches keep their size, so snapshots
        // written before still restore).
        let budget = policy.memory_budget_bytes as usize;
        // A clone holds its strings and lists at their lengths, so what
        // the policy holds, and so the layout, is the same however it was
        // built (a parsed policy has spare capacity its clone, restored
        // into, did not: a restore refused its own snapshot's sketches).
        #[allow(clippy::redundant_clone)]
        let policy = policy.clone();
        // The split spends the whole budget, so the tables make room for
        // all of it; then (whole buckets, rounding) more while that is
        // not enough: at most doubling, so a few builds.
        let mut reserve = config_of(&policy);
        let mut e = Self::build(policy, reserve);
        for _ in 0..32 {
            let over = e.full_bytes().saturating_sub(budget);
            if over == 0 {
                break;
            }
            reserve += over.max(reserve);
            e = Self::build(e.policy, reserve);
        }
        e
    }

    /// An engine whose tables split their shares of the budget less
    /// `reserve`.
    fn build(policy: Policy, reserve: usize) -> Engine {
        // Budget split by weights (see README, "Memory").
        let group_names = group_names(&policy);
        let mut total_w: u32 = 1; // dedup
        for d in &policy.detectors {
            total_w += match d {
                DetectorSpec::Sequence(_) => 4,
                DetectorSpec::NewValue(_) | DetectorSpec::UnusualHour(_) => 0,
                _ => 1,
            };
        }
        total_w += group_names.len() as u32 * 30;
        // Templates are bounded by count and token size, so their worst case is known.
        let budget =
            (policy.memory_budget_bytes as usize).saturating_sub(templates_reserve(&policy) + 4096);
        // Every table holds at least one bucket and every sketch its
        // smallest width. When a share by weight is too small for that
        // (small budgets), those minimums come off the budget first and
        // the shares split the rest (`spare`); before December 2026 they
        // came on top, so a 64 KiB budget with a `gauge`, one bucket of
        // 10,848 bytes, ended over it (found by review). Otherwise the
        // shares are as they were, so saved sketches keep their size.
        let mins = table_mins(&policy, group_names.len());
        let by_weight = |w: u32| budget / total_w as usize * w as usize;
        // A `sequence` detector's template keys come out of its context
        // table's share (`template_keys_bytes`).
        let keys: Vec<usize> = policy.detectors.iter().map(template_keys_bytes).collect();
        let spare = mins.iter().any(|&(w, m)| m > by_weight(w));
        let keys_sum: usize = keys.iter().sum();
        let rest = budget.saturating_sub(mins.iter().map(|&(_, m)| m).sum::<usize>() + keys_sum);
        let share = |w: u32| {
            if spare {
                rest / total_w as usize * w as usize
            } else {
                by_weight(w)
            }
        };
        // When the keys do not fit in their context table's share, they
        // come out of all the tables' shares; the sketches keep theirs (a
        // saved sketch must keep its size to restore).
        let keys_fit = keys
            .iter()
            .all(|&k| k == 0 || k + Table::<CtxStats>::slot_bytes() * 8 <= by_weight(3));
        let tspare = spare || !keys_fit;
        let sketch_w = 4 * group_names.len() as u32;
        let table_w = (total_w - sketch_w).max(1) as usize;
        let table_rest = budget.saturating_sub(
            sketch_w as usize / 4 * by_weight(4)
                + keys_sum
                + mins
                    .iter()
                    .filter(|&&(w, _)| w != 4)
                    .map(|&(_, m)| m)
                    .sum::<usize>(),
        );
        // `reserve` (see `Engine::new`) comes out of the tables' shares
        // alone: a saved table restores into a smaller one (the least
        // recently seen entries go), a sketch only at its own size.
        let tshare = |w: u32| {
            let s = if spare {
                share(w)
            } else if !keys_fit {
                table_rest / table_w * w as usize
            } else {
                by_weight(w)
            };
            s.saturating_sub(reserve / table_w * w as usize)
        };

        let groups: Vec<Group> = group_names
            .iter()
            .map(|e| Group {
                entity: FieldRef::new(&policy, e),
                // (a table like the others: cut with them when the
                // template keys did not fit, `tshare`)
                table: Table::with_share(tspare, tshare(26)),
                cms: CountMin::with_budget(if spare { CMS_MIN } else { 0 } + share(4), 2),
            })
            .collect();
        let gi = |e: &str| group_names.iter().position(|g| g == e).unwrap_or(0);
        // profile slots taken so far in each group (see `NewValue::slot0`)
        let mut slots = alloc::vec![0usize; group_names.len()];
        let p = &policy;
        let dets: Vec<Det> = policy
            .detectors
            .iter()
            .map(|d| match d {
                DetectorSpec::Threshold(r) => Det::Threshold(Threshold {
                    filter: conds(p, &r.filter),
                    group: FieldRef::new(p, &r.group_by),
                    window: r.window_secs,
                    threshold: r.threshold,
                    expected: r
                        .expected
                        .unwrap_or_else(|| lambda_for(r.threshold, RULE_TAIL))
                        .max(1e-6),
                    weight: r.weight.as_deref().map(|w| FieldRef::new(p, w)),
                    describe: Describe::new(p, r.describe.as_deref(), OWN_THRESHOLD),
                    table: Table::with_share(tspare, tshare(1)),
                }),
                DetectorSpec::Distinct(r) => Det::Distinct(DistinctDet {
                    filter: conds(p, &r.filter),
                    group: FieldRef::new(p, &r.group_by),
                    distinct: FieldRef::new(p, &r.distinct),
                    window: r.window_secs,
                    threshold: r.threshold,
                    expected: r
                        .expected
                        .unwrap_or_else(|| lambda_for(r.threshold, RULE_TAIL))
                        .max(1e-6),
                    describe: Describe::new(p, r.describe.as_deref(), OWN_DISTINCT),
                    table: Table::with_share(tspare, tshare(1)),
                    salt: 0,
                }),
                DetectorSpec::FollowedBy(r) => Det::FollowedBy(FollowedBy {
                    first: conds(p, &r.first),
                    then: conds(p, &r.then),
                    group: FieldRef::new(p, &r.group_by),
                    min_first: r.min_first,
                    window: r.window_secs,
                    expected: r
                        .expected
                        .unwrap_or_else(|| lambda_for(r.min_first - 1, RULE_TAIL))
                        .max(1e-6),
                    weight: r.weight.as_deref().map(|w| FieldRef::new(p, w)),
                    describe: Describe::new(p, r.describe.as_deref(), OWN_FOLLOWED_BY),
                    table: Table::with_share(tspare, tshare(1)),
                }),
                DetectorSpec::Rate(r) => Det::Rate(
                    Rate {
                        filter: conds(p, &r.filter),
                        group: r.group_by.as_ref().map(|g| FieldRef::new(p, g)),
                        bucket: r.bucket_secs,
                        value: r.value_field.as_ref().map(|g| FieldRef::new(p, g)),
                        err: conds(p, &r.error_where),
                        season: r.seasonality,
                        hourly: r.value_field.is_some() || r.bucket_secs < 86_400.0,
                        daily: r.value_field.is_some() || r.bucket_secs < 7.0 * 86_400.0,
                        alpha: 1.0 - libm::exp2(-1.0 / r.half_life),
                        warmup: r.warmup,
                        drops: r.drops,
                        min_count: r.min_count,
                        // severity score -log10(p) / 6 ≥ threshold
                        levels: p
                            .alerting
                            .severity_thresholds
                            .map(|th| libm::pow(10.0, -6.0 * th)),
                        gate_z: 0.0,
                        table: Table::with_share(tspare, tshare(1)),
                    }
                    .with_gate(),
                ),
                DetectorSpec::Gauge(r) => Det::Gauge(Gauge {
                    filter: conds(p, &r.filter),
                    group: r.group_by.as_ref().map(|g| FieldRef::new(p, g)),
                    value: FieldRef::new(p, &r.value_field),
                    params: GaugeParams {
                        bins: r.bins,
                        order: r.order,
                        half_life: r.half_life,
                        calib_half_life: r.calib_half_life,
                        short: r.short_half_life,
                        warmup: r.warmup,
                        rest: r.rest,
                        rest_p: r.rest_p,
                        drops: r.drops,
                        evidence: 7,
                    },
                    table: Table::with_share(tspare, tshare(1)),
                }),
                DetectorSpec::NewValue(r) => {
                    let group = gi(&r.entity);
                    let slot0 = slots[group];
                    slots[group] += r.features.len();
                    Det::NewValue(NewValue {
                        filter: conds(p, &r.filter),
                        group,
                        features: r.features.iter().map(|f| FieldRef::new(p, f)).collect(),
                        rare: r.rare,
                        slot0,
                    })
                }
                DetectorSpec::UnusualHour(r) => Det::Hour(Hour {
                    filter: conds(p, &r.filter),
                    group: gi(&r.entity),
                }),
                DetectorSpec::PeerRare(r) => Det::Peer(Peer {
                    filter: conds(p, &r.filter),
                    entity: FieldRef::new(p, &r.entity),
                    group: FieldRef::new(p, &r.group),
                    feature: FieldRef::new(p, &r.feature),
                    counts: Table::with_share(tspare, tshare(1)),
                }),
                DetectorSpec::ImpossibleTravel(r) => Det::Travel(Travel {
                    filter: conds(p, &r.filter),
                    entity: FieldRef::new(p, &r.entity),
                    lat: FieldRef::new(p, "lat"),
                    lon: FieldRef::new(p, "lon"),
                    max_kmh: r.max_kmh,
                    min_km: r.min_km,
                    table: Table::with_share(tspare, tshare(1)),
                }),
                DetectorSpec::Sequence(r) => Det::Sequence(Sequence {
                    rare_templates: r.rare_templates,
                    filter: conds(p, &r.filter),
                    end: conds(p, &r.end_where),
                    session: FieldRef::new(p, &r.session),
                    template: r.template.as_ref().map(|t| FieldRef::new(p, t)),
                    message: FieldRef::new(p, "message"),
                    masks: r.template.is_none() && p.extract.iter().any(|e| e.from == "message"),
                    mask_buf: String::new(),
                    h: r.history,
                    k: r.top_k,
                    conclusive: libm::floor(1.0 / p.alerting.report_p.max(1e-9)).clamp(3.0, 1e9)
                        as u32,
                    online: r.online,
                    drain: Drain::new(r.similarity, r.depth, r.max_templates),
                    keys: BTreeMap::new(),
                    key_names: Vec::new(),
                    counts0: Vec::new(),
                    total0: 0,
                    novel: 0,
                    // (spare: the keys came off the budget before the split)
                    ctx: Table::with_share(
                        tspare,
                        tshare(3).saturating_sub(if tspare { 0 } else { template_keys_bytes(d) }),
                    ),
                    sessions: Table::with_share(tspare, tshare(1)),
                    max_templates: r.max_templates,
                }),
                DetectorSpec::Composition(r) => Det::Composition(Composition {
                    filter: conds(p, &r.filter),
                    end: conds(p, &r.end_where),
                    session: FieldRef::new(p, &r.session),
                    template: FieldRef::new(p, &r.template),
                    online: r.online,
                    max: r.max_compositions,
                    keys: BTreeMap::new(),
                    key_names: Vec::new(),
                    known: Vec::new(),
                    ended: 0,
                    sessions: Table::with_share(tspare, tshare(1)),
                }),
            })
            .collect();
        let mut extract: Vec<Extractor> = policy
            .extract
            .iter()
            .map(|e| Extractor::new(&policy, e))
            .collect();
        let mut words: Vec<(String, String)> = Vec::new();
        for x in &mut extract {
            let Some(Seg::Lit(l)) = x.segs.first() else {
                continue;
            };
            let w = match l.find(' ') {
                Some(i) => &l[..=i],
                None => l.as_str(),
            };
            let key = (x.from.name.clone(), w.to_string());
            let i = match words.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    words.push(key);
                    words.len() - 1
                }
            };
            if i < 64 {
                x.guard = Some((i as u8, w.to_string()));
            }
        }
        let allow = policy
            .allowlist
            .iter()
            .map(|a| {
                let f = FieldRef::new(&policy, &a.field);
                // A folded field's values are compared folded, as
                // conditions on it are.
                let values = a
                    .values
                    .iter()
                    .map(|v| match f.kind {
                        Kind::Fold => fold(v).into_owned(),
                        _ => v.clone(),
                    })
                    .collect();
                Allowed {
                    f,
                    values,
                    detector: a.detector.clone(),
                }
            })
            .collect();
        // A suppression names an entity as the records spell it; findings
        // of a detector whose entity field is folded carry it folded.
        let sup_folded = policy
            .suppress
            .iter()
            .map(|s| fold(&s.entity).into_owned())
            .collect();
        let folds_entity = policy
            .detectors
            .iter()
            .map(|d| {
                d.entity_field()
                    .is_some_and(|f| matches!(FieldRef::new(&policy, f).kind, Kind::Fold))
            })
            .collect();
        let names = policy
            .detectors
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        let group_q = same_entity(&groups);
        let mut e = Engine {
            ts: FieldRef::new(&policy, "timestamp"),
            names,
            dets,
            groups,
            group_q,
            extract,
            allow,
            sup_folded,
            folds_entity,
            skip: policy.skip.iter().map(|cs| conds(&policy, cs)).collect(),
            dedup: Table::with_share(tspare, tshare(1)),
            first_t: f64::NAN,
            jumps: 0,
            jump_t: f64::NAN,
            decayed_t: f64::NEG_INFINITY,
            since_jump: 0,
            peak_t: f64::NAN,
            last_t: f64::NAN,
            events: 0,
            epoch: i64::MIN,
            ex_buf: Vec::new(),
            spans_buf: Vec::new(),
            profs_buf: Vec::new(),
            policy,
            hash_key: 0,
            config: 0,
        };
        e.config = e.config_heap();
        e
    }

    /// An engine whose table placement and sketch cells are keyed with a
    /// secret (`key`, nonzero; 0 is [`Engine::new`]). With the public hash
    /// alone, anyone can work out which entity names share a bucket or a
    /// sketch cell, and a handful of crafted names evicts a chosen user's
    /// profile or hides a password-spraying list in a few sketch bits
    /// (found by review). Plugins derive the key from their signing key, so
    /// two engines with the same configuration still give the same
    /// verdicts. The key is kept in the engine's snapshots (a restored
    /// engine continues under the key its state was counted with), so a
    /// snapshot is as private as the key.
    pub fn with_hash_key(policy: Policy, key: u64) -> Engine {
        let mut e = Engine::new(policy);
        e.set_hash_key(key);
        e
    }

    /// Key every table and sketch with `key` (see [`Engine::with_hash_key`]).
    /// Sketch cells are not moved, so this is only for an engine that has
    /// counted nothing yet, or one about to receive a snapshot's state.
    fn set_hash_key(&mut self, key: u64) {
        self.hash_key = key;
        // Each table its own salt, so that no two share a placement.
        let salt = |i: u64| {
            if key == 0 {
                0
            } else {
                crate::store::mix(key ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            }
        };
        self.dedup.set_salt(salt(1));
        let mut i = 2;
        for g in &mut self.groups {
            g.table.set_salt(salt(i));
            g.cms.set_salt(salt(i + 1));
            i += 2;
        }
        for d in &mut self.dets {
            match d {
                Det::Threshold(x) => x.table.set_salt(salt(i)),
                Det::Distinct(x) => {
                    x.table.set_salt(salt(i));
                    x.salt = salt(i + 1);
                }
                Det::FollowedBy(x) => x.table.set_salt(salt(i)),
                Det::Rate(x) => x.table.set_salt(salt(i)),
                Det::Gauge(x) => x.table.set_salt(salt(i)),
                Det::Peer(x) => x.counts.set_salt(salt(i)),
                Det::Travel(x) => x.table.set_salt(salt(i)),
                Det::NewValue(_) | Det::Hour(_) => {}
                Det::Sequence(x) => {
                    x.ctx.set_salt(salt(i));
                    x.sessions.set_salt(salt(i + 1));
                }
                Det::Composition(x) => x.sessions.set_salt(salt(i)),
            }
            i += 2;
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Bytes of state the engine holds now (its own accounting; see README).
    pub fn memory_bytes(&self) -> usize {
        // The policy and its compiled form, and 4 KiB for the buffers
        // reused from event to event.
        let mut b = self.dedup.bytes() + self.config + 4096;
        for g in &self.groups {
            b += g.table.bytes() + g.cms.bytes();
        }
        for d in &self.dets {
            b += match d {
                Det::Threshold(x) => x.table.bytes(),
                Det::Distinct(x) => x.table.bytes(),
                Det::FollowedBy(x) => x.table.bytes(),
                Det::Rate(x) => x.table.bytes(),
                Det::Gauge(x) => x.table.bytes(),
                Det::Peer(x) => x.counts.bytes(),
                Det::Travel(x) => x.table.bytes(),
                Det::Sequence(x) => {
                    x.ctx.bytes()
                        + x.sessions.bytes()
                        + x.drain.bytes()
                        + x.counts0.capacity() * 4
                        + x.mask_buf.capacity()
                        + x.key_names
                            .iter()
                            .map(|k| 2 * (k.len() + 48))
                            .sum::<usize>()
                }
                Det::Composition(x) => {
                    x.sessions.bytes()
                        + x.known.capacity() * 40
                        + x.key_names
                            .iter()
                            .map(|k| 2 * (k.len() + 48))
                            .sum::<usize>()
                }
                Det::NewValue(_) | Det::Hour(_) => 0,
            };
        }
        b
    }

    /// What [`Engine::memory_bytes`] comes to at most: every table grown
    /// to its cap, the templates at their worst case.
    fn full_bytes(&self) -> usize {
        let mut b = self.dedup.max_bytes() + self.config + 4096;
        for g in &self.groups {
            b += g.table.max_bytes() + g.cms.bytes();
        }
        b += templates_reserve(&self.policy);
        b += self
            .policy
            .detectors
            .iter()
            .map(template_keys_bytes)
            .sum::<usize>();
        for d in &self.dets {
            b += match d {
                Det::Threshold(x) => x.table.max_bytes(),
                Det::Distinct(x) => x.table.max_bytes(),
                Det::FollowedBy(x) => x.table.max_bytes(),
                Det::Rate(x) => x.table.max_bytes(),
                Det::Gauge(x) => x.table.max_bytes(),
                Det::Peer(x) => x.counts.max_bytes(),
                Det::Travel(x) => x.table.max_bytes(),
                Det::Sequence(x) => x.ctx.max_bytes() + x.sessions.max_bytes() + MASK_BUF_KEEP,
                Det::Composition(x) => x.sessions.max_bytes(),
                Det::NewValue(_) | Det::Hour(_) => 0,
            };
        }
        b
    }

    /// The configured budget.
    pub fn memory_budget(&self) -> usize {
        self.policy.memory_budget_bytes as usize
    }

    /// The event templates a `sequence` detector has learned, by id (its
    /// mined templates, or its `template` field's values), or `None` if no
    /// `sequence` detector has that name. For an operator asking what the
    /// miner made of a log.
    pub fn templates(&self, detector: &str) -> Option<Vec<String>> {
        let i = self.names.iter().position(|n| n == detector)?;
        let Det::Sequence(s) = &self.dets[i] else {
            return None;
        };
        Some(if s.template.is_some() {
            s.key_names.clone()
        } else {
            (0..s.drain.len() as u32)
                .filter_map(|id| s.drain.template(id))
                .collect()
        })
    }

    /// Number of entities with a profile, per profile group (entity field -> count).
    pub fn profiled_entities(&self) -> usize {
        self.groups.iter().map(|g| g.table.len()).sum()
    }

    /// How many entity profiles the budget holds at most, over the profile
    /// groups (each table's cap, 8 per bucket): the least recently seen
    /// are evicted past it.
    pub fn profile_capacity(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.table.max_bytes() / Table::<Profile>::slot_bytes())
            .sum()
    }

    fn event_time<E: Event + ?Sized>(
        &self,
        ev: &E,
        ex: &[(String, String)],
        time_ns: Option<i64>,
    ) -> f64 {
        let host = time_ns.map(|n| n as f64 / 1e9);
        let year_ref = host.or(if self.last_t.is_finite() {
            Some(self.last_t)
        } else {
            None
        });
        // Only a syslog timestamp (no year) needs it: worked out then. With
        // the host's time, it is the latest year that puts the date no more
        // than [`YEARLESS_AHEAD_SECS`] after it (a `Dec 31 23:59:58` line
        // read on January 1st is from the year before; `Jan  1 04:00`
        // written east of UTC and read on December 31st at 20:00 UTC is
        // next year's; one a few minutes or hours ahead is a skewed clock
        // or another time zone, scored at the host's time below). Without
        // it, the year that puts the date nearest the last event's time
        // (`Jan  1` after `Dec 31` is next year's: the stream does not go
        // back a year at New Year).
        let back = Cell::new(0);
        let yearless = Cell::new(false);
        let year = |month: u32| {
            yearless.set(true);
            // With nothing to go by, a year whose next February 29th is
            // the stream's first (1972, a leap year; 1971 for a date from
            // March on): a file replayed from the start keeps its leap day.
            year_ref
                .map(year_of)
                .unwrap_or(if month <= 2 { 1972 } else { 1971 })
                - back.get()
        };
        let parse = || {
            if let Some((_, v)) = ex.iter().find(|(k, _)| k == "timestamp") {
                parse_time_secs_with(v, year, host.is_some())
            } else {
                match self.ts.paths.iter().find_map(|p| ev.field(p)) {
                    Some(FieldValue::Num(n)) => number_secs(n),
                    Some(FieldValue::Str(s)) => parse_time_secs_with(s, year, host.is_some()),
                    _ => None,
                }
            }
        };
        let mut from_field = parse();
        if let (Some(f), Some(r), true) = (from_field, year_ref, yearless.get()) {
            const HALF_YEAR: f64 = 183.0 * 86_400.0;
            let ahead = r + YEARLESS_AHEAD_SECS;
            // the other year worth trying, if any (1: the year before, -1:
            // the year after), and whether its date is the better one
            let o = if host.is_some() {
                if f > ahead {
                    1
                } else if ahead - f > 360.0 * 86_400.0 {
                    -1
                } else {
                    0
                }
            } else if (f - r).abs() > HALF_YEAR {
                if f > r { 1 } else { -1 }
            } else {
                0
            };
            if o != 0 {
                back.set(o);
                if let Some(g) = parse() {
                    let better = if host.is_some() {
                        o == 1 || g <= ahead
                    } else {
                        (g - r).abs() < (f - r).abs()
                    };
                    if better {
                        from_field = Some(g);
                    }
                }
            }
        }
        // A record cannot have happened after the pipeline received it: one
        // dated more than [`FUTURE_SKEW_SECS`] after the host's time is
        // scored at the host's time (a writer's skewed clock, or a client
        // that chose the date, would otherwise open buckets and windows in
        // the future that the records after it are counted into).
        let from_field = match (from_field, host) {
            (Some(f), Some(h)) if f > h + FUTURE_SKEW_SECS => Some(h),
            _ => from_field,
        };
        let t = from_field.or(host).unwrap_or(if self.last_t.is_finite() {
            self.last_t
        } else {
            0.0
        });
        if t.is_finite() {
            t.clamp(0.0, 1.0e11)
        } else {
            0.0
        }
    }

    /// The time an event is scored at. One record with a broken timestamp
    /// (the year 2099, or 0 for a field that did not parse) must not move
    /// the engine's clock: windows, buckets, the learning period and decay
    /// all follow it, and a clock moved decades ahead would stay there.
    /// So an event more than [`MAX_JUMP_SECS`] from the clock is scored at
    /// the clock, unless [`JUMP_CONFIRM`] events in a row agree on the new
    /// time (within [`MAX_JUMP_SECS`] of each other): then the stream has
    /// moved (a restart after weeks, a replay of an older log, a first
    /// event that was the broken one), and the clock follows. The learning
    /// period counts stream time, so it moves with the jump.
    ///
    /// Decay follows the latest time the stream has lived at: a jump back
    /// keeps the decay epoch where it was, so the return costs nothing (a
    /// few records dated weeks back, confirmed, then live ones again would
    /// otherwise decay as if weeks had passed twice: every count halved 8
    /// times), and so does a second jump back from there. Only when the
    /// time left behind is the latest the clock has given and was never
    /// lived in (fewer than [`JUMP_CONFIRM`] events there: a broken first
    /// record) does decay restart from the earlier time.
    fn clock(&mut self, t: f64) -> f64 {
        // (Back near the latest time the stream lived at is no jump: after
        // a replayed run of an older log moved the clock, the live stream's
        // next record waited for confirmation, scored at the replay's
        // time, and its series read a silence: found by review.)
        // (not ahead of it: one broken record 25 days ahead during a replay
        // was taken at once and left the stream behind for 25 days: found
        // by review; 5 minutes of skew as with the host's time)
        let home =
            self.peak_t.is_finite() && t <= self.peak_t + 300.0 && self.peak_t - t <= MAX_JUMP_SECS;
        if !self.last_t.is_finite() || (t - self.last_t).abs() <= MAX_JUMP_SECS || home {
            self.jumps = 0;
            self.since_jump = self.since_jump.saturating_add(1);
            if self.peak_t.is_nan() || self.peak_t < t {
                self.peak_t = t;
            }
            return t;
        }
        if self.jumps > 0 && (t - self.jump_t).abs() <= MAX_JUMP_SECS {
            self.jumps += 1;
        } else {
            self.jumps = 1;
        }
        self.jump_t = t;
        if self.jumps < JUMP_CONFIRM {
            return self.last_t;
        }
        self.jumps = 0;
        if self.first_t.is_finite() {
            self.first_t += t - self.last_t;
        }
        if t < self.last_t
            && self.last_t >= self.peak_t
            && self.since_jump < u64::from(JUMP_CONFIRM)
        {
            // the later time was a broken start: decay restarts its epochs
            // from the earlier time (a jump ahead decays as time passing
            // does)
            self.epoch = i64::MIN;
            self.peak_t = t;
        }
        if self.peak_t.is_nan() || self.peak_t < t {
            self.peak_t = t;
        }
        self.since_jump = 0;
        t
    }

    /// The fields `extract` patterns take from the event's text, and where
    /// the captured values sit in it, in the reused buffers (give them back
    /// with [`Engine::reuse`] when done).
    #[inline]
    fn extracted<'e, E: Event + ?Sized>(&mut self, event: &'e E) -> Found<'e> {
        let mut found = Found {
            fields: core::mem::take(&mut self.ex_buf),
            spans: core::mem::take(&mut self.spans_buf),
            from: None,
        };
        found.fields.clear();
        found.spans.clear();
        // Words known present / absent at the start of this event's text
        // (see `guard`), and what the patterns may still spend.
        let (mut present, mut absent) = (0u64, 0u64);
        let mut budget = Budget::new();
        // The field the previous pattern read, and its text: patterns mostly
        // read the same one (`message`), looked up once.
        let mut read: Option<(u64, Option<&'e str>)> = None;
        for x in &self.extract {
            let text = match read {
                Some((k, v)) if k == x.from.key.hash => v,
                _ => {
                    let v = match x.from.paths.iter().find_map(|p| event.field(p)) {
                        Some(FieldValue::Str(s)) => Some(s),
                        _ => None,
                    };
                    read = Some((x.from.key.hash, v));
                    v
                }
            };
            let Some(s) = text else {
                continue;
            };
            if let Some((g, w)) = &x.guard {
                let bit = 1u64 << g;
                if absent & bit != 0 {
                    continue;
                }
                if present & bit == 0 {
                    if !s.starts_with(w.as_str()) {
                        absent |= bit;
                        continue;
                    }
                    present |= bit;
                }
            }
            if x.apply(s, &mut found.fields, &mut found.spans, &mut budget) {
                found.from = Some((x.from.key.hash, s));
                break;
            }
        }
        found
    }

    /// Give [`Engine::extracted`]'s buffers back.
    fn reuse(&mut self, found: Found<'_>) {
        self.ex_buf = emptied(found.fields);
        self.spans_buf = emptied(found.spans);
    }

    /// Whether [`Engine::mark_normal`] changes anything under this policy:
    /// true when it has a `sequence` detector that does not learn while
    /// scoring (`online: false`). Hosts use it to refuse feedback that
    /// would be silently ignored.
    pub fn learns_from_feedback(&self) -> bool {
        self.dets
            .iter()
            .any(|d| matches!(d, Det::Sequence(s) if !s.online))
    }

    /// Operator feedback: `event`, already scored, was normal. The
    /// `sequence` detectors that do not learn while scoring (`online:
    /// false`; the default is `true`) learn it now, as they would in the learning
    /// period: its template, and the next-event context it followed while
    /// it is still the last event of its session. This is the model update
    /// of DeepLog (Du et al., CCS 2017, section 3.3): a false positive is
    /// learned so that it is not reported again, while events nobody
    /// marks stay unknown and keep being reported. The other detectors
    /// learn from every event as they score it and are left alone. Mark an
    /// event once: each call counts it again.
    pub fn mark_normal<E: Event + ?Sized>(&mut self, event: &E) {
        let found = self.extracted(event);
        let cache = FieldCache::new();
        let ctx = found.ctx(event, &cache, &self.policy, self.last_t, true);
        if !self.skip.iter().any(|cs| ctx.all(cs)) {
            for (i, d) in self.dets.iter_mut().enumerate() {
                if let Det::Sequence(s) = d {
                    s.mark_normal(&ctx, i);
                }
            }
        }
        self.reuse(found);
    }

    /// Whether all conditions of one of the policy's `skip` lists hold for
    /// the event: such an event is not scored and teaches nothing. The
    /// fields it reads stay in `cache`, which scoring reads through next.
    fn skipped<'e, E: Event + ?Sized>(
        &self,
        event: &'e E,
        found: &Found<'_>,
        cache: &FieldCache<'e>,
    ) -> bool {
        if self.skip.is_empty() {
            return false;
        }
        let ctx = found.ctx(event, cache, &self.policy, self.last_t, true);
        self.skip.iter().any(|cs| ctx.all(cs))
    }

    /// Score one event. `time_ns` is the host's time for it (when the
    /// pipeline received it): used when the event has no timestamp, and as
    /// the latest time an event's own timestamp may claim (plus
    /// 5 minutes of clock skew); a later one is scored at `time_ns`.
    pub fn score<E: Event + ?Sized>(&mut self, event: &E, time_ns: Option<i64>) -> Verdict {
        let found = self.extracted(event);
        let cache = FieldCache::new();
        if self.skipped(event, &found, &cache) {
            self.reuse(found);
            return Verdict::none();
        }
        let own = self.event_time(event, &found.fields, time_ns);
        let t = self.clock(own);
        // scored at the clock's time, not its own (an unconfirmed jump)
        let refused = own.is_finite() && t != own;
        if !self.first_t.is_finite() {
            self.first_t = t;
        }
        self.last_t = t;
        self.events = self.events.saturating_add(1);
        self.maybe_decay(t);
        let lp = &self.policy.learning;
        let learning = self.events <= lp.period_events || t - self.first_t < lp.period_secs;
        let mut ctx = found.ctx(event, &cache, &self.policy, t, learning);
        ctx.decayed_at = self.decayed_t;
        ctx.lived = self.peak_t;
        ctx.refused = refused;
        let mut hits: Vec<Hit> = Vec::new();
        // profile groups: read the profile once, let detectors use it, write it back
        let mut profs = core::mem::take(&mut self.profs_buf);
        profs.clear();
        for g in &mut self.groups {
            match ctx.get(&g.entity) {
                Some(e) => {
                    let k = hash_str(SEED_ENT, &e);
                    let (p, _) = g.table.entry(k);
                    profs.push(Some((k, *p)));
                }
                None => profs.push(None),
            }
        }
        for (i, d) in self.dets.iter_mut().enumerate() {
            let id = DetId {
                di: i,
                name: &self.names[i],
                dseed: combine(SEED_DEDUP, i as u64),
            };
            d.run(&ctx, &mut self.groups, &mut profs, id, &mut hits);
        }
        for (g, pr) in self.groups.iter_mut().zip(&profs) {
            if let Some((k, mut p)) = *pr {
                let m = (t / 60.0) as u32;
                if p.n == 0 {
                    p.first_min = m;
                }
                p.n = p.n.saturating_add(1);
                p.inc_hour(hour_of(t));
                *g.table.entry(k).0 = p;
            }
        }
        self.profs_buf = profs;
        // allowlists
        let mut allowed_all = false;
        let mut allowed: Vec<&str> = Vec::new();
        for a in &self.allow {
            if let Some(v) = ctx.get(&a.f)
                && a.values.iter().any(|x| *x == *v)
            {
                match &a.detector {
                    Some(d) => allowed.push(d.as_str()),
                    None => allowed_all = true,
                }
            }
        }
        let learning = ctx.learning;
        // `ctx` (which borrows `found`) is not used past this point; its
        // buffers go back field by field (`allowed` borrows `self.allow`).
        self.ex_buf = emptied(found.fields);
        self.spans_buf = emptied(found.spans);
        if allowed_all {
            return Verdict::none();
        }
        if learning {
            // Declarative rules need no baseline and fire during learning too.
            let dets = &self.dets;
            hits.retain(|h| {
                matches!(
                    dets[h.det],
                    Det::Threshold(_) | Det::Distinct(_) | Det::FollowedBy(_)
                )
            });
        }
        let names = &self.names;
        let sup = &self.policy.suppress;
        let (sup_folded, folds_entity) = (&self.sup_folded, &self.folds_entity);
        let evidence = self.policy.alerting.evidence_p;
        hits.retain(|h| {
            let dn = names[h.det].as_str();
            h.p.is_finite()
                && h.p < evidence
                && !allowed.contains(&dn)
                && !sup.iter().zip(sup_folded).any(|(s, folded)| {
                    (s.detector == "*" || s.detector == dn)
                        && (s.entity == "*"
                            || s.entity == h.entity
                            || (folds_entity[h.det] && *folded == h.entity))
                        && (s.feature == "*" || s.feature == h.feature)
                })
        });
        // Dedup: the same finding is reported once per dedup window. Repeats
        // go before the `report_p` test, so what is left must be an alert of
        // its own (a weak finding beside a repeated strong one is no alert),
        // and a finding's window starts only when it is reported. A window
        // is measured either way in time: after the clock moved back, a
        // finding is not muted until the stream passes its old time again.
        let dd = self.policy.alerting.dedup_secs;
        let now = t as u32;
        if dd > 0.0 {
            let mut seen: Vec<u64> = Vec::new();
            hits.retain(|h| {
                let fresh = match self.dedup.get(h.dkey) {
                    Some(&last) => now.abs_diff(last) as f64 >= dd,
                    None => true,
                };
                let first = !seen.contains(&h.dkey);
                seen.push(h.dkey);
                fresh && first
            });
        }
        if hits.is_empty() {
            return Verdict::none();
        }
        hits.sort_by(|a, b| {
            a.p.partial_cmp(&b.p)
                .unwrap_or(core::cmp::Ordering::Equal)
                .then(a.det.cmp(&b.det))
                .then(a.feature.cmp(&b.feature))
        });
        let pc = combined_p(&hits, &self.dets, &self.group_q);
        if pc >= self.policy.alerting.report_p {
            return Verdict::none();
        }
        let score = num::round4((-libm::log10(num::clamp_p(pc)) / 6.0).clamp(0.0, 1.0));
        let th = self.policy.alerting.severity_thresholds;
        let severity = if score >= th[3] {
            Severity::Critical
        } else if score >= th[2] {
            Severity::High
        } else if score >= th[1] {
            Severity::Medium
        } else if score >= th[0] {
            Severity::Low
        } else {
            Severity::None
        };
        hits.truncate(self.policy.alerting.max_reasons);
        // Only what the verdict names was reported: a finding cut by
        // `max_reasons` may come again (before, its window started unseen:
        // found by review).
        if dd > 0.0 {
            for h in &hits {
                *self.dedup.entry(h.dkey).0 = now;
            }
        }
        let reasons = hits
            .into_iter()
            .map(|h| Reason {
                detector: names[h.det].clone(),
                entity: h.entity,
                feature: h.feature,
                observed: h.observed,
                expected: h.expected,
                p: num::round4(h.p),
                text: one_line(h.text),
            })
            .collect();
        Verdict {
            score,
            severity,
            reasons,
        }
    }

    fn maybe_decay(&mut self, t: f64) {
        let hl = self.policy.half_life_secs;
        let e = libm::floor(t / hl) as i64;
        if self.epoch == i64::MIN {
            self.epoch = e;
            return;
        }
        if e <= self.epoch {
            return;
        }
        let steps = e.saturating_sub(self.epoch).min(8);
        self.epoch = e;
        self.decayed_t = t;
        for _ in 0..steps {
            for g in &mut self.groups {
                g.cms.halve();
                for p in g.table.iter_mut() {
                    p.n /= 2;
                    for d in p.distinct.iter_mut() {
                        *d = d.div_ceil(2);
                    }
                    for s in p.seen.iter_mut() {
                        *s /= 2;
                    }
                }
            }
            for d in &mut self.dets {
                match d {
                    Det::Peer(x) => {
                        for c in x.counts.iter_mut() {
                            *c /= 2;
                        }
                    }
                    // A `sequence` detector's counts fade too: an export
                    // gone for a year still weighed its old hundreds (found
                    // by review). Rounding down, so that one-off templates
                    // of long ago fade from the novelty estimate as well
                    // (rounded up, 60 boot-time templates kept a new one
                    // from being reported months later: found by review).
                    // A frozen model (`online: false`) keeps its counts: it
                    // could never learn them back, and decayed into
                    // silence (found by review).
                    // A `composition` detector's too, for the same reasons
                    // (a combination seen once 30 half-lives ago was still
                    // learned: found by review).
                    Det::Composition(x) if x.online => x.halve(),
                    Det::Sequence(x) if x.online => {
                        for c in x.counts0.iter_mut() {
                            *c /= 2;
                        }
                        x.total0 = x.counts0.iter().map(|&c| u64::from(c)).sum();
                        x.novel = x.novel.div_ceil(2);
                        for c in x.ctx.iter_mut() {
                            c.halve();
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Serialize all learned state (versioned byte format, see README).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = W::default();
        w.buf.extend_from_slice(snapshot::MAGIC);
        w.u16(snapshot::VERSION);
        w.u64(self.fingerprint(snapshot::VERSION));
        w.u64(self.hash_key);
        w.f64(self.first_t);
        w.f64(self.last_t);
        w.u64(self.events);
        w.u64(self.epoch as u64);
        w.f64(self.peak_t);
        w.u64(self.since_jump);
        w.u32(self.jumps);
        w.f64(self.jump_t);
        w.f64(self.decayed_t);
        snapshot::put_table(&mut w, &self.dedup);
        for g in &self.groups {
            snapshot::put_table(&mut w, &g.table);
            w.u16(g.cms.layout().tag() as u16);
            w.bytes(g.cms.cells());
        }
        for d in &self.dets {
            match d {
                Det::Threshold(x) => snapshot::put_table(&mut w, &x.table),
                Det::Distinct(x) => snapshot::put_table(&mut w, &x.table),
                Det::FollowedBy(x) => snapshot::put_table(&mut w, &x.table),
                Det::Rate(x) => snapshot::put_table(&mut w, &x.table),
                Det::Gauge(x) => snapshot::put_table(&mut w, &x.table),
                Det::Peer(x) => snapshot::put_table(&mut w, &x.counts),
                Det::Travel(x) => snapshot::put_table(&mut w, &x.table),
                Det::NewValue(_) | Det::Hour(_) => {}
                Det::Sequence(x) => {
                    let ts = x.drain.templates();
                    w.u32(ts.len() as u32);
                    for t in ts {
                        w.u32(t.len() as u32);
                        for tok in t {
                            w.str(tok);
                        }
                    }
                    w.u32(x.key_names.len() as u32);
                    for k in &x.key_names {
                        w.str(k);
                    }
                    w.u32(x.counts0.len() as u32);
                    for c in &x.counts0 {
                        w.u32(*c);
                    }
                    w.u64(x.total0);
                    w.u64(x.novel);
                    snapshot::put_table(&mut w, &x.ctx);
                    snapshot::put_table(&mut w, &x.sessions);
                }
                Det::Composition(x) => {
                    w.u32(x.key_names.len() as u32);
                    for k in &x.key_names {
                        w.str(k);
                    }
                    w.u32(x.known.len() as u32);
                    for (m, n) in &x.known {
                        for word in m.0 {
                            w.u64(word);
                        }
                        w.u32(*n);
                    }
                    w.u64(x.ended);
                    snapshot::put_table(&mut w, &x.sessions);
                }
            }
        }
        let sum = crate::store::hash_bytes(0x5A5A, &w.buf);
        w.u64(sum);
        w.buf
    }

    /// The policy's `Debug` text, hashed. A field added to the policy later
    /// must leave that text unchanged when it is not used (see
    /// `ThresholdRule`'s `Debug`), so saved states keep restoring after an
    /// upgrade; `tests/engine.rs` restores a snapshot written by an older
    /// engine to hold this.
    ///
    /// From snapshot format 6 the policy's name and what only decides what
    /// is reported (`alerting` but its `evidence_p`, below which
    /// `peer_rare` counts events; `allowlist`, `suppress`) are left out: an
    /// operator who allowlists a false positive keeps the learned state
    /// (before, the plugins started learning afresh, alerts held back for
    /// the learning period). Formats 1 to 5 were written with all of it.
    fn fingerprint(&self, version: u16) -> u64 {
        if version < 6 {
            return hash_str(0xF1F1, &format!("{:?}", self.policy));
        }
        let mut p = self.policy.clone();
        p.name = String::new();
        // `evidence_p` stays: `peer_rare` counts the events below it.
        p.alerting = crate::policy::Alerting {
            evidence_p: p.alerting.evidence_p,
            ..Default::default()
        };
        p.allowlist.clear();
        p.suppress.clear();
        hash_str(0xF1F1, &format!("{:?}", p))
    }

    /// Restore state written by [`Engine::snapshot`] under the same policy.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        if bytes.len() < 8 || &bytes[..8] != snapshot::MAGIC {
            return Err(StateError::BadMagic);
        }
        if bytes.len() < 8 + 2 + 8 {
            return Err(StateError::Corrupt("truncated"));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 8);
        let mut r = R {
            b: &bytes[8..],
            v: 0,
        };
        let v = r.u16()?;
        if !(1..=snapshot::VERSION).contains(&v) {
            return Err(StateError::UnsupportedVersion(v));
        }
        if r.u64()? != self.fingerprint(v) {
            return Err(StateError::PolicyMismatch);
        }
        let mut sb = [0u8; 8];
        sb.copy_from_slice(tail);
        if u64::from_le_bytes(sb) != crate::store::hash_bytes(0x5A5A, body) {
            return Err(StateError::Corrupt("checksum"));
        }
        // Restore into a fresh engine so a failure leaves `self` untouched,
        // keyed as the state was counted (formats 1 and 2: unkeyed).
        let mut r = R {
            b: &body[8 + 2 + 8..],
            v,
        };
        let key = if v >= 3 { r.u64()? } else { 0 };
        let mut fresh = Engine::with_hash_key(self.policy.clone(), key);
        fresh.first_t = r.f64()?;
        fresh.last_t = r.f64()?;
        fresh.events = r.u64()?;
        fresh.epoch = r.u64()? as i64;
        if v >= 5 {
            fresh.peak_t = r.f64()?;
            fresh.since_jump = r.u64()?;
            fresh.jumps = r.u32()?;
            fresh.jump_t = r.f64()?;
            if v >= 6 {
                fresh.decayed_t = r.f64()?;
                if fresh.decayed_t.is_nan() || fresh.decayed_t == f64::INFINITY {
                    return Err(StateError::Corrupt("clock"));
                }
            }
            // what `clock` can leave: fewer jumps than confirm one (more
            // would overflow the count), no more events since the last
            // jump than events, times finite or not yet set
            if fresh.jumps >= JUMP_CONFIRM
                || fresh.since_jump > fresh.events
                || fresh.peak_t.is_infinite()
                || fresh.jump_t.is_infinite()
            {
                return Err(StateError::Corrupt("clock"));
            }
        } else {
            // Formats 1 to 4 did not save the clock's state. The saved
            // state lived at `last_t` as long as it counted events. The
            // peak time lies in the saved decay epoch (decay follows it),
            // so the epoch's end stands for it: a jump back from below it
            // (restored right after one) never restarts decay. Taking the
            // epoch's start instead let a later hop inside the epoch pass
            // for the peak (found by review).
            fresh.since_jump = fresh.events;
            fresh.peak_t = fresh.last_t;
            if fresh.epoch != i64::MIN {
                let hl = fresh.policy.half_life_secs;
                let lived = (fresh.epoch as f64 + 1.0) * hl - 1.0;
                if lived.is_finite() && (fresh.peak_t.is_nan() || fresh.peak_t < lived) {
                    fresh.peak_t = lived;
                }
            }
        }
        if v < 6 && fresh.epoch != i64::MIN {
            // Formats 1 to 5: the decay epoch's start stands for the time
            // counts last halved.
            fresh.decayed_t = fresh.epoch as f64 * fresh.policy.half_life_secs;
        }
        // Times the clock can give are in `0..=1e11` (`event_time`), or not
        // yet set; a forged 1e30 made the next yearless syslog date loop
        // for good (`year_of`: found by review). 1e12 leaves room for the
        // end of an epoch that formats 1-4 stand the peak time for.
        let clock_ok = |t: f64| t.is_nan() || (0.0..=1.0e12).contains(&t);
        if ![fresh.first_t, fresh.last_t, fresh.peak_t, fresh.jump_t]
            .into_iter()
            .all(clock_ok)
            || !(fresh.decayed_t == f64::NEG_INFINITY || clock_ok(fresh.decayed_t))
        {
            return Err(StateError::Corrupt("clock"));
        }
        snapshot::get_table(&mut r, &mut fresh.dedup)?;
        for g in &mut fresh.groups {
            snapshot::get_table(&mut r, &mut g.table)?;
            // Version 1 had no layout tag: its sketches are one region per row.
            let layout = if v == 1 {
                Layout::Rows
            } else {
                u8::try_from(r.u16()?)
                    .ok()
                    .and_then(Layout::from_tag)
                    .ok_or(StateError::Corrupt("sketch layout"))?
            };
            g.cms.set_layout(layout);
            let cells = r.bytes()?;
            if cells.len() != g.cms.cells().len() {
                return Err(StateError::Corrupt("sketch size"));
            }
            g.cms.cells_mut().copy_from_slice(cells);
        }
        for d in &mut fresh.dets {
            match d {
                Det::Threshold(x) => snapshot::get_table(&mut r, &mut x.table)?,
                Det::Distinct(x) => snapshot::get_table(&mut r, &mut x.table)?,
                Det::FollowedBy(x) => snapshot::get_table(&mut r, &mut x.table)?,
                Det::Rate(x) => snapshot::get_table(&mut r, &mut x.table)?,
                Det::Gauge(x) => snapshot::get_table(&mut r, &mut x.table)?,
                Det::Peer(x) => snapshot::get_table(&mut r, &mut x.counts)?,
                Det::Travel(x) => snapshot::get_table(&mut r, &mut x.table)?,
                Det::NewValue(_) | Det::Hour(_) => {}
                Det::Sequence(x) => {
                    let n = r.len(4)?;
                    if n > x.max_templates {
                        return Err(StateError::Corrupt("too many templates"));
                    }
                    let mut ts = Vec::with_capacity(n);
                    // Templates and keys as the miner and `clip` leave them
                    // (at most 64 tokens of at most 48 bytes, keys clipped):
                    // what the budget reserves. Unchecked, a forged state
                    // held 3 to 4 times its 2 MiB budget (found by review).
                    for _ in 0..n {
                        let m = r.len(4)?;
                        if m > crate::drain::MAX_TOKENS {
                            return Err(StateError::Corrupt("template too long"));
                        }
                        let mut t = Vec::with_capacity(m);
                        for _ in 0..m {
                            let tok = r.str()?;
                            if tok.len() > crate::drain::MAX_TOKEN_LEN {
                                return Err(StateError::Corrupt("template token too long"));
                            }
                            t.push(tok);
                        }
                        ts.push(t);
                    }
                    x.drain.set_templates(ts);
                    let n = r.len(4)?;
                    if n > x.max_templates {
                        return Err(StateError::Corrupt("too many keys"));
                    }
                    for i in 0..n {
                        let k = r.str()?;
                        // A clipped key ends with "…" (3 bytes) after KEY_MAX.
                        if k.len() > KEY_MAX + 3 || x.keys.insert(k.clone(), i as u16).is_some() {
                            return Err(StateError::Corrupt("bad template key"));
                        }
                        x.key_names.push(k);
                    }
                    let n = r.len(4)?;
                    if n > x.max_templates + 1 {
                        return Err(StateError::Corrupt("too many counts"));
                    }
                    x.counts0 = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
                    x.total0 = r.u64()?;
                    // format 7 on; before, the templates with a count
                    x.novel = if r.v >= 7 {
                        r.u64()?
                    } else {
                        x.counts0.iter().filter(|&&c| c > 0).count() as u64
                    };
                    snapshot::get_table(&mut r, &mut x.ctx)?;
                    snapshot::get_table(&mut r, &mut x.sessions)?;
                }
                Det::Composition(x) => {
                    let n = r.len(4)?;
                    if n > COMP_TEMPLATES {
                        return Err(StateError::Corrupt("too many composition templates"));
                    }
                    for i in 0..n {
                        let k = r.str()?;
                        // A clipped key ends with "…" (3 bytes) after KEY_MAX.
                        if k.len() > KEY_MAX + 3 || x.keys.insert(k.clone(), i as u8).is_some() {
                            return Err(StateError::Corrupt("bad composition template"));
                        }
                        x.key_names.push(k);
                    }
                    let n = r.len(36)?;
                    if n > x.max {
                        return Err(StateError::Corrupt("too many compositions"));
                    }
                    x.known.reserve_exact(n);
                    for _ in 0..n {
                        let mut m = Mask::default();
                        for word in m.0.iter_mut() {
                            *word = r.u64()?;
                        }
                        x.known.push((m, r.u32()?));
                    }
                    x.ended = r.u64()?;
                    snapshot::get_table(&mut r, &mut x.sessions)?;
                }
            }
        }
        if !r.b.is_empty() {
            return Err(StateError::Corrupt("trailing bytes"));
        }
        if v < 4 {
            // Formats 1 to 3 mined templates from the text as written,
            // before `extract` captures were masked: kept, every masked line
            // would be a template never seen before. Such a `sequence`
            // detector starts learning again; the rest of the state stays.
            let blank = Engine::with_hash_key(self.policy.clone(), key);
            for (d, b) in fresh.dets.iter_mut().zip(blank.dets) {
                if matches!(d, Det::Sequence(s) if s.masks) {
                    *d = b;
                }
            }
        }
        if v < 6 {
            // Formats 1 to 5 began every `new_value` detector's features at
            // slot 0: a later detector of the same entity read the first's
            // counts there. Its own slots start from those.
            for d in &fresh.dets {
                if let Det::NewValue(x) = d
                    && x.slot0 > 0
                {
                    for p in fresh.groups[x.group].table.iter_mut() {
                        // from the counts as saved: a slot copied to may
                        // be one to copy from (found by review)
                        let old = p.distinct;
                        let n = x.features.len().min(8 - x.slot0);
                        p.distinct[x.slot0..x.slot0 + n].copy_from_slice(&old[..n]);
                    }
                }
            }
        }
        *self = fresh;
        Ok(())
    }
}

/// The detector that runs: its index and name, and the seed of its
/// findings' deduplication keys.
#[derive(Clone, Copy)]
struct DetId<'n> {
    di: usize,
    name: &'n str,
    dseed: u64,
}

/// One `new_value` feature of an event: index, field, value, sketch key.
type FeatureValue<'a> = (usize, &'a FieldRef, Cow<'a, str>, Cells);

impl Det {
    /// Dispatch only: every detector's `run` is out of line, so that one
    /// detector's locals do not widen the frame each of the others is
    /// called with (fewer instructions an event than with the detectors
    /// inlined here; crates/anomaly/BENCHMARKS.md).
    fn run<E: Event + ?Sized>(
        &mut self,
        c: &Ctx<'_, '_, E>,
        groups: &mut [Group],
        profs: &mut [Option<(u64, Profile)>],
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
        match self {
            Det::Threshold(x) => x.run(c, id, hits),
            Det::Distinct(x) => x.run(c, id, hits),
            Det::FollowedBy(x) => x.run(c, id, hits),
            Det::Rate(x) => x.run(c, id, hits),
            Det::Gauge(x) => x.run(c, id, hits),
            Det::NewValue(x) => x.run(c, groups, profs, id, hits),
            Det::Hour(x) => x.run(c, groups, profs, id, hits),
            Det::Peer(x) => x.run(c, id, hits),
            Det::Travel(x) => x.run(c, id, hits),
            Det::Sequence(x) => x.run(c, id, hits),
            Det::Composition(x) => x.run(c, id, hits),
        }
    }
}

impl Threshold {
    #[inline(never)]
    fn run<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, name, dseed } = id;
        let t = c.t;
        if !c.all(&self.filter) {
            return;
        }
        let Some(g) = c.get(&self.group) else { return };
        let k = weight(c, self.weight.as_ref());
        let (w, _) = self.table.entry(hash_str(SEED_GROUP + di as u64, &g));
        // A record whose own time the clock refused (its time is unknown)
        // is judged alone: a single-event rule still fires on it, a count
        // takes it for one.
        let n = if c.refused {
            u32::from(k)
        } else {
            w.add_at(bidx(t, self.window / 8.0), k)
        };
        if n > self.threshold {
            let p = num::poisson_sf_ge(n as f64, self.expected);
            hits.push(Hit {
                det: di,
                entity: g.to_string(),
                feature: "count".into(),
                observed: format!("{n} in {}", dur(self.window)),
                expected: format!("<= {}", self.threshold),
                p,
                text: match &self.describe {
                    Some(d) => d.render_rule(c, &g, n, self.window, self.threshold, None),
                    None if self.threshold == 0 && n == 1 => format!("{g}: {name}"),
                    None if self.threshold == 0 => {
                        format!("{g}: {name} ({n} in {})", dur(self.window))
                    }
                    None => format!(
                        "{g}: {n} {name} events in {}, more than {}",
                        dur(self.window),
                        self.threshold
                    ),
                },
                nested: false,
                dkey: combine(dseed, hash_str(0, &g)),
            });
        }
    }
}

/// How many events a record stands for (a rule's `weight` field): a whole
/// number in 1..=65,535, else 1.
fn weight<E: Event + ?Sized>(c: &Ctx<'_, '_, E>, field: Option<&FieldRef>) -> u16 {
    match field.and_then(|f| c.num(f)) {
        Some(x) if x >= 1.0 && libm::trunc(x) == x => x.min(u16::MAX as f64) as u16,
        _ => 1,
    }
}

impl DistinctDet {
    #[inline(never)]
    fn run<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, name, dseed } = id;
        let t = c.t;
        if !c.all(&self.filter) {
            return;
        }
        let Some(g) = c.get(&self.group) else { return };
        let Some(v) = c.get(&self.distinct) else {
            return;
        };
        let (d, _) = self.table.entry(hash_str(SEED_GROUP + di as u64, &g));
        // A record whose own time the clock refused is judged alone (one
        // value), as in `threshold`.
        let est = if c.refused {
            1.0
        } else {
            d.add(bidx(t, self.window / 2.0), hash_str(7 ^ self.salt, &v))
        };
        let n = libm::round(est);
        if n > self.threshold as f64 {
            let p = num::poisson_sf_ge(n, self.expected);
            hits.push(Hit {
                det: di,
                entity: g.to_string(),
                feature: format!("distinct {}", self.distinct.name),
                observed: format!("~{n} in {}", dur(self.window)),
                expected: format!("<= {}", self.threshold),
                p,
                text: match &self.describe {
                    Some(d) => d.render_rule(c, &g, n, self.window, self.threshold, Some(&v)),
                    None => format!(
                        "{g}: ~{n} distinct {} in {} ({name}), more than {}; latest {}",
                        self.distinct.name,
                        dur(self.window),
                        self.threshold,
                        clip(&v, 64)
                    ),
                },
                nested: false,
                dkey: combine(dseed, hash_str(0, &g)),
            });
        }
    }
}

impl FollowedBy {
    #[inline(never)]
    fn run<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, name, dseed } = id;
        let t = c.t;
        // A record whose own time the clock refused is no part of a
        // pairing: its time is unknown (failures of 45 days ago replayed
        // beside the live stream were paired with a login now: found by
        // review).
        if c.refused {
            return;
        }
        let Some(g) = c.get(&self.group) else { return };
        let key = hash_str(SEED_GROUP + di as u64, &g);
        let b = bidx(t, self.window / 8.0);
        // `then` first, with the `first` events before it, so an event of
        // both kinds (a `then` that narrows `first`: login attempts, then
        // a successful one) is judged and then counted; judged only as a
        // `first`, such a rule never fired (found by review).
        if c.all(&self.then) {
            let n = self.table.get(key).map(|w| w.total_to(b));
            if let Some(n) = n.filter(|&n| n >= self.min_first) {
                let p = num::poisson_sf_ge(n as f64, self.expected);
                // what it paired with is spent; later `first` events of a
                // late `then` stay
                self.table.entry(key).0.clear_to(b);
                hits.push(Hit {
                    det: di,
                    entity: g.to_string(),
                    feature: "sequence".into(),
                    observed: format!("{n} then 1"),
                    expected: format!("< {} before it", self.min_first),
                    p,
                    text: match &self.describe {
                        Some(d) => d.render_rule(c, &g, n, self.window, self.min_first, None),
                        // generic: the rule's events need not be logins
                        // ("success after 5 failures" of a sudo rule: found
                        // by review)
                        None => format!(
                            "{g}: {n} `first` events, then a `then` event, within {} ({name}; at least {})",
                            dur(self.window),
                            self.min_first
                        ),
                    },
                    nested: false,
                    dkey: combine(dseed, hash_str(0, &g)),
                });
            }
        }
        if c.all(&self.first) {
            let k = weight(c, self.weight.as_ref());
            self.table.entry(key).0.add_at(b, k);
        }
    }
}

impl Hour {
    #[inline(never)]
    fn run<E: Event + ?Sized>(
        &self,
        c: &Ctx<'_, '_, E>,
        groups: &[Group],
        profs: &[Option<(u64, Profile)>],
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
        let DetId { di, dseed, .. } = id;
        let t = c.t;
        if !c.all(&self.filter) || c.learning {
            return;
        }
        let Some((ek, prof)) = profs[self.group].as_ref() else {
            return;
        };
        if prof.n < c.min_events {
            return;
        }
        let h = hour_of(t);
        let mut counts = [0.0f64; 24];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = prof.hour(i) as f64;
        }
        let tot: f64 = counts.iter().sum();
        if tot < 8.0 {
            return;
        }
        // The 4-bit counters give the shape of the day; the entity's event
        // count gives the evidence behind it: an hour never seen in 4,000
        // events is far stranger than one never seen in 40, which the
        // counters alone (at most 360) cannot tell apart. So the shape is
        // scaled to the event count before the add-0.1 smoothing. (Hours
        // ever seen count at least 1, so a zero is an hour never seen.)
        let n = (prof.n as f64).max(tot);
        let pr = |i: usize| (counts[i] / tot * n + 0.1) / (n + 2.4);
        let ph = pr(h);
        let p: f64 = (0..24).filter(|&i| pr(i) <= ph).map(pr).sum();
        if p >= c.report_p {
            return;
        }
        let mx = counts.iter().cloned().fold(0.0, f64::max);
        let mut usual = [false; 24];
        for (u, &n) in usual.iter_mut().zip(&counts) {
            *u = n * 4.0 >= mx && n > 0.0;
        }
        let range = hour_runs(&usual);
        let now = hhmm(t);
        // Present: the profile was read by it.
        let ent = c.get(&groups[self.group].entity).unwrap_or_default();
        hits.push(Hit {
            det: di,
            entity: ent.to_string(),
            feature: "hour".into(),
            observed: now.clone(),
            expected: range.clone(),
            p,
            text: format!("{ent}: active at an unusual hour; usual hours {range} UTC, now {now}"),
            nested: false,
            dkey: combine(dseed, combine(*ek, h as u64)),
        });
    }
}

impl Peer {
    #[inline(never)]
    fn run<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, dseed, .. } = id;
        if !c.all(&self.filter) {
            return;
        }
        let (Some(e), Some(g), Some(v)) = (
            c.get(&self.entity),
            c.get(&self.group),
            c.get(&self.feature),
        ) else {
            return;
        };
        let gk = hash_str(SEED_GROUP + di as u64, &g);
        let tot = {
            let (n, _) = self.counts.entry(gk);
            let before = *n;
            *n = n.saturating_add(1);
            before
        };
        let (cnt, _) = self.counts.entry(combine(gk, hash_str(13, &v)));
        let before = *cnt;
        *cnt = cnt.saturating_add(1);
        // How common the value has been in the group. Not a p-value by
        // itself: a group that spreads its events evenly over 300 actions
        // gives every action 0.3%. The p-value is the share of the group's
        // events whose value was at most as common when they came (a
        // conformal p-value over a histogram of this frequency, kept in the
        // same table), which is small only when such events are rare in
        // the group. It is never much below the frequency itself (the
        // value's own events are among them), so a value at or above the
        // evidence level is no finding, and the histogram needs only the
        // events below it: the others are counted by the group's total
        // since the histogram began (its `PEER_START` entry).
        let freq = (before as f64 + 0.5) / (tot as f64 + 1.0);
        if freq >= c.report_p {
            return;
        }
        let bin = peer_bin(freq);
        let start = {
            let (s, new) = self.counts.entry(peer_hist_key(gk, PEER_START));
            if new {
                *s = tot;
            }
            *s
        };
        let p = if !c.learning && tot >= c.min_events.saturating_mul(5) {
            let rarer: u64 = (bin..PEER_BINS)
                .map(|b| self.counts.get(peer_hist_key(gk, b)).copied().unwrap_or(0) as u64)
                .sum();
            (rarer as f64 + 1.0) / (tot.saturating_sub(start) as f64 + 1.0)
        } else {
            1.0
        };
        let (h, _) = self.counts.entry(peer_hist_key(gk, bin));
        *h = h.saturating_add(1);
        if p < c.report_p {
            hits.push(Hit {
                det: di,
                entity: e.to_string(),
                feature: self.feature.name.clone(),
                observed: clip(&v, 128),
                expected: format!("common in {} {}", self.group.name, clip(&g, 64)),
                p,
                // after a halving, "0 of 9,000 events" of a value seen
                // before it read as never seen (found by review)
                text: format!(
                    "{e}: {} {} is rare among peers in {} {} ({before} of {} events{})",
                    self.feature.name,
                    clip(&v, 128),
                    self.group.name,
                    clip(&g, 64),
                    thousands(tot as u64),
                    decayed(c, true)
                ),
                nested: false,
                dkey: combine(dseed, combine(hash_str(0, &e), hash_str(1, &v))),
            });
        }
    }
}

/// The largest magnitude a measured value (`gauge`, `rate` with
/// `value_field`) is taken at. Models keep their state in `f32`, whose range
/// ends near 3.4e38: one `{"value": 1e300}` made their level infinite, then
/// NaN, for good (and a NaN bound made a clamp panic). Larger values are
/// scored as this one, which any series finds extreme enough.
pub const MAX_GAUGE_VALUE: f64 = 1e15;

fn gauge_value(x: f64) -> f64 {
    x.clamp(-MAX_GAUGE_VALUE, MAX_GAUGE_VALUE)
}

/// The largest step of the event clock one event can make (30 days).
pub const MAX_JUMP_SECS: f64 = 30.0 * 86_400.0;

/// How late a record may be and still count in a `rate` series' open
/// bucket (at least one bucket): delivery jitter, a source that ships late
/// (10 minutes, used before, lost a 12-minute-late source's burst: found
/// by review). An older record counts apart, in its own bucket, which the
/// series does not learn and judges for spikes only; under an hour,
/// so that an hour a clock repeats (local time at the autumn change) is not
/// counted twice in buckets under 30 minutes (in longer ones it is: the
/// slack is a bucket; a limit the README states).
const LATE_SECS: f64 = 1800.0;
/// How far past the host's time (`time_ns`) a record's own timestamp may
/// be before it is scored at the host's time: clock skew between the
/// machine that wrote it and the pipeline.
pub const FUTURE_SKEW_SECS: f64 = 300.0;
/// How far past the host's time a syslog date (no year) read in the
/// host's year may be and still be that year's (then scored at the host's
/// time); further ahead it is the year before's. Two days, as Splunk's
/// `MAX_DAYS_HENCE`: room for time zones and skewed clocks.
pub const YEARLESS_AHEAD_SECS: f64 = 2.0 * 86_400.0;
/// Events in a row that must agree on a larger step before the clock takes it.
pub const JUMP_CONFIRM: u32 = 3;

/// Bins of `peer_rare`'s frequency histogram: half-log2 steps from 1 down
/// to 2^-20 (about one in a million); rarer goes in the last bin.
const PEER_BINS: u64 = 40;
/// The group's total when its histogram began.
const PEER_START: u64 = PEER_BINS;

fn peer_bin(freq: f64) -> u64 {
    ((-2.0 * libm::log2(freq.max(1e-12))) as u64).min(PEER_BINS - 1)
}

/// Key of a group's histogram bin in `Peer::counts` (values are keyed by
/// `combine(group, hash of the value)`).
fn peer_hist_key(group: u64, bin: u64) -> u64 {
    combine(group, 0x9EE2_B1A5_0000_0000 | bin)
}

impl Travel {
    #[inline(never)]
    fn run<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, dseed, .. } = id;
        let t = c.t;
        if !c.all(&self.filter) {
            return;
        }
        // Coordinates first: most events have none, and then the
        // other lookups are not made.
        let Some(lat) = c.coord(&self.lat) else {
            return;
        };
        let Some(lon) = c.coord(&self.lon) else {
            return;
        };
        // (0, 0), "Null Island", is what a pipeline writes for an address
        // it could not place, not a place a user logs in from.
        if !(-90.0..=90.0).contains(&lat)
            || !(-180.0..=180.0).contains(&lon)
            || (lat == 0.0 && lon == 0.0)
        {
            return;
        }
        // A record whose own time the clock refused (a replay of 45 days
        // back beside the live stream) has no time to travel in: judged at
        // the clock's time, each replayed record and each live one after
        // it was an impossible travel (found by review).
        if c.refused {
            return;
        }
        let Some(e) = c.get(&self.entity) else { return };
        let (l, new) = self.table.entry(hash_str(SEED_GROUP + di as u64, &e));
        let prev = *l;
        // A record that arrives late (several shippers, retries) is judged
        // against the latest position by the time between the two, and
        // leaves the latest position as it is.
        if new || t >= prev.t {
            *l = Loc {
                lat: lat as f32,
                lon: lon as f32,
                t,
            };
        }
        if new || c.learning {
            return;
        }
        let km = num::haversine_km(prev.lat as f64, prev.lon as f64, lat, lon);
        let dt = libm::fabs(t - prev.t);
        let dt_h = (dt / 3600.0).max(1.0 / 60.0);
        let kmh = km / dt_h;
        if km >= self.min_km && kmh > self.max_kmh {
            let p = (0.001 * self.max_kmh / kmh).min(0.001);
            hits.push(Hit {
                det: di,
                entity: e.to_string(),
                feature: "travel".into(),
                observed: format!("{} km in {}", libm::round(km) as u64, dur(dt)),
                expected: format!("<= {} km/h", self.max_kmh as u64),
                p,
                // under a minute, the speed is taken over a minute: say so
                // ("502 km in 30s (30,101 km/h)" did not divide out: found
                // by review)
                text: format!(
                    "{e}: impossible travel, {} km in {} ({}{} km/h{}) from ({}, {}) to ({}, {})",
                    thousands(libm::round(km) as u64),
                    dur(dt),
                    if dt < 60.0 { "at least " } else { "" },
                    thousands(libm::round(kmh) as u64),
                    if dt < 60.0 { ", over a minute" } else { "" },
                    fmt_num(libm::round(prev.lat as f64 * 100.0) / 100.0),
                    fmt_num(libm::round(prev.lon as f64 * 100.0) / 100.0),
                    fmt_num(libm::round(lat * 100.0) / 100.0),
                    fmt_num(libm::round(lon * 100.0) / 100.0)
                ),
                nested: false,
                dkey: combine(dseed, hash_str(0, &e)),
            });
        }
    }
}

impl Rate {
    fn expected(&self, s: &RateState, t: f64) -> f64 {
        let mut e = s.level as f64;
        if self.season != Seasonality::None && self.hourly {
            e += s.season[hour_of(t)] as f64;
        }
        if self.season == Seasonality::HourOfWeek && self.daily {
            e += s.dow[dow_of(t)] as f64;
        }
        e
    }

    /// Count mode: the spread of a bucket's count around `e`: the learned
    /// spread of the residuals, but never less than Poisson noise
    /// (quasi-Poisson). The learned spread already contains the Poisson
    /// noise, so adding the two would count it twice.
    fn count_sigma(s: &RateState, e: f64) -> f64 {
        let learned = 1.2533 * s.dev as f64;
        libm::sqrt(e.max(1.0).max(learned * learned))
    }

    /// Count mode: the p-value of a bucket count `x` above its expectation
    /// (1 when below it, or when neither reaches `min_count`).
    fn spike_p(&self, x: f64, e: f64, sigma: f64) -> f64 {
        if x < e || !(x >= self.min_count || e >= self.min_count) {
            return 1.0;
        }
        let p = num::normal_sf((x - e) / sigma);
        if self.drops { (2.0 * p).min(1.0) } else { p }
    }

    /// Score observation `x` at time `t` against the baseline, then update it.
    fn observe(&self, s: &mut RateState, x: f64, t: f64, counts: bool) -> Option<(f64, f64, f64)> {
        let e = self.expected(s, t);
        let sigma = if counts {
            Self::count_sigma(s, e)
        } else {
            (1.2533 * s.dev as f64).max(1e-6 + 1e-3 * e.abs())
        };
        let z = (x - e) / sigma;
        let big_enough = !counts || x >= self.min_count || e >= self.min_count;
        let res = if !counts {
            // Gauge: conformal p-value of the residual's size |x - e| / b against a
            // decayed histogram of past sizes (calibrated whatever the residual
            // distribution, so intermittent series do not alert on every spike).
            // floor the scale at 2% of the series' typical magnitude (near-constant series)
            let b = (s.dev as f64).max(1e-9 + 1e-3 * e.abs() + 0.02 * s.err_rate as f64);
            s.err_rate = if s.n == 0 {
                x.abs() as f32
            } else {
                (s.err_rate as f64 + self.alpha * (x.abs() - s.err_rate as f64)) as f32
            };
            let u = ((x - e).abs() / b).min(50.0);
            // conformal: share of past (decayed) surprises at least this large
            let bin = |u: f64| -> usize {
                ((libm::log2(u.max(1e-9)) + 4.0) * 2.0).clamp(0.0, (UBINS - 1) as f64) as usize
            };
            let bu = bin(u);
            let tot: f64 = s.hist.iter().map(|&h| h as f64).sum();
            let ge: f64 = s.hist[bu..].iter().map(|&h| h as f64).sum();
            let mut p_point = (ge + 1.0) / (tot + 1.0);
            let keep = 1.0 - self.alpha;
            for h in s.hist.iter_mut() {
                *h = (*h as f64 * keep) as f32;
            }
            s.hist[bu] += 1.0;
            if !self.drops && x < e {
                p_point = 1.0;
            }
            if s.n >= self.warmup {
                Some(((2.0 * p_point).min(1.0), e, b))
            } else {
                None
            }
        } else if s.n >= self.warmup && big_enough {
            let p = if z >= 0.0 {
                self.spike_p(x, e, sigma)
            } else if self.drops {
                (2.0 * num::normal_sf(-z)).min(1.0)
            } else {
                1.0
            };
            Some((p, e, sigma))
        } else {
            None
        };
        // Robust (Huber-clipped) update.
        let a = if s.n < self.warmup {
            (1.0 / (s.n as f64 + 1.0)).max(self.alpha)
        } else {
            self.alpha
        };
        let clipw = if counts {
            3.0 * sigma
        } else {
            5.0 * (s.dev as f64).max(1e-6 + 1e-3 * e.abs())
        };
        let r = if s.n >= self.warmup {
            (x - e).max(-clipw).min(clipw)
        } else {
            x - e
        };
        let seas_idx = hour_of(t);
        let dow_idx = dow_of(t);
        if s.n == 0 {
            s.level = x as f32;
        } else {
            s.level = (s.level as f64 + a * r) as f32;
            if self.season != Seasonality::None {
                // An hour's offset learns from that hour's buckets only. At
                // 5-minute buckets and below it learns 6 times as fast as
                // the level; longer buckets give an hour fewer buckets a
                // day, so each weighs more, and the offsets learn in as many
                // days as with 5-minute buckets. (With hourly buckets they
                // took ~80 days, so a night's 10x burst went unreported
                // after eight identical weeks: found by review.)
                // (A slot gets at least one bucket a day: at most 12 times.)
                let per_day = (self.bucket / 300.0).clamp(1.0, 12.0);
                let weekly = self.season == Seasonality::HourOfWeek && self.daily;
                if self.hourly {
                    let sa = (a * 6.0 * per_day).min(0.5);
                    let resid =
                        e + r - s.level as f64 - s.dow[dow_idx] as f64 * weekly as u8 as f64;
                    s.season[seas_idx] = (s.season[seas_idx] as f64
                        + sa * (resid - s.season[seas_idx] as f64))
                        as f32;
                }
                if weekly {
                    let da = (a * 2.0 * per_day).min(0.5);
                    let rd = e + r
                        - s.level as f64
                        - s.season[seas_idx] as f64 * self.hourly as u8 as f64;
                    s.dow[dow_idx] =
                        (s.dow[dow_idx] as f64 + da * (rd - s.dow[dow_idx] as f64)) as f32;
                }
            }
            s.dev = (s.dev as f64 + a * (r.abs() - s.dev as f64)) as f32;
        }
        s.n = s.n.saturating_add(1);
        res
    }

    #[inline(never)]
    fn run<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, name, dseed } = id;
        if !c.all(&self.filter) {
            return;
        }
        let ent: Cow<'_, str> = match &self.group {
            Some(g) => match c.get(g) {
                Some(v) => v,
                None => return,
            },
            None => Cow::Borrowed("*"),
        };
        let key = hash_str(SEED_GROUP + di as u64, &ent);
        let t = c.t;
        if let Some(vf) = &self.value {
            let Some(x) = c.num(vf).map(gauge_value) else {
                return;
            };
            let mut s = *self.table.entry(key).0;
            let r = self.observe(&mut s, x, t, false);
            *self.table.entry(key).0 = s;
            if let (Some((p, e, sd)), false) = (r, c.learning) {
                hits.push(Hit {
                    det: di,
                    entity: ent.to_string(),
                    feature: vf.name.clone(),
                    observed: fmt_num(x),
                    expected: format!("{} ± {}", fmt_num(e), fmt_num(sd)),
                    p,
                    text: format!(
                        "{ent}: {} {} {} the usual {} ± {} at {} UTC",
                        vf.name,
                        fmt_num(x),
                        if x >= e {
                            "spikes above"
                        } else {
                            "drops below"
                        },
                        fmt_num(e),
                        fmt_num(sd),
                        hhmm(t)
                    ),
                    nested: false,
                    dkey: combine(dseed, hash_str(0, &ent)),
                });
            }
            return;
        }
        if c.refused {
            return; // scored at the clock's time, not its own: no bucket's
        }
        let b = bidx(t, self.bucket);
        let is_err = !self.err.is_empty() && c.all(&self.err);
        let err1 = if is_err { 1.0 } else { 0.0 };
        // How many buckets late a record may be and still count (delivery
        // jitter, a late source).
        // (rounded up: rounded down, records exactly 30 minutes late were
        // lost in 7-second buckets: found by review). Lateness is counted
        // in buckets of the series, not in time against the stream's
        // latest: in time, one record from yesterday in a daily bucket (or
        // 40 minutes late in an hourly one) was taken for a replay, and the
        // bucket it left lost half its own records (found by review).
        let slack = libm::ceil(self.bucket.max(LATE_SECS) / self.bucket) as u32;
        // Most events fall in their entity's open bucket: count them in
        // place. Only closing a bucket needs the state apart from `self`.
        let open = self.table.entry(key).0;
        if open.bucket == u32::MAX {
            open.bucket = b;
            open.peak = b;
            // A series whose first record is far behind the stream (an
            // entity first seen in a backfill) is behind from birth: its
            // first live record taught a day of zeros (found by review).
            if c.lived.is_finite() {
                let now = bidx(c.lived, self.bucket);
                if now.saturating_sub(b) > slack {
                    open.peak = now;
                }
            }
        }
        // The latest bucket only counts where the stream lived: one a
        // broken first record from 2099 opened is forgotten (it was kept
        // for good, so a later replay recorded nothing: found by review).
        let lived_at = |peak: u32| c.lived.is_finite() && peak <= bidx(c.lived, self.bucket);
        if open.peak > open.bucket && !lived_at(open.peak) {
            open.peak = open.bucket;
            open.peak_count = 0.0;
            open.peak_errs = 0.0;
        }
        if b < open.bucket && open.bucket - b > slack {
            // A record of a bucket the series has passed: a replayed or
            // backfilled older log, a clock gone back. It counts in its own
            // bucket, apart: counted into the open one it made a spike of
            // the live hour (a replay of 10 days back: found by review),
            // and the series neither judges nor learns buckets behind its
            // latest (`peak` keeps where it had got to, and what it had
            // counted there).
            if open.bucket >= open.peak {
                let (n, e) = open.counted();
                open.peak = open.bucket;
                open.peak_count = n;
                open.peak_errs = e;
            }
            open.bucket = b;
            open.count = 0.0;
            open.errs = 0.0;
        }
        if b <= open.bucket {
            // (a record up to `slack` buckets late counts in the open
            // bucket)
            open.count += 1.0;
            open.errs += err1;
            // (a bucket behind the latest is judged for spikes as it
            // fills, though not learned: an hour a clock repeated was blind
            // to a 10x burst: found by review)
            if !c.learning {
                let s = *open;
                self.spike_so_far(&s, &ent, id, hits);
            }
            return;
        }
        let mut s = *open;
        if s.bucket < s.peak {
            if b < s.peak && s.peak - b <= slack && b - s.bucket > slack {
                // a live record, late, beside a replay far behind: the
                // latest bucket's (it went to the replay's and was lost:
                // found by review); near the replay's bucket, it is the
                // replay walking on (an hour a clock repeats)
                s.peak_count += 1.0;
                s.peak_errs += err1;
                *self.table.entry(key).0 = s;
                if !c.learning {
                    // judged as it fills, as the open bucket is (a late
                    // source's burst beside a replay went unreported:
                    // found by review)
                    let mut v = s;
                    v.bucket = v.peak;
                    v.count = v.peak_count;
                    v.errs = v.peak_errs;
                    v.peak_count = 0.0;
                    self.spike_so_far(&v, &ent, id, hits);
                }
                return;
            }
            if b < s.peak {
                // still behind: on to the next older bucket, unjudged
                s.bucket = b;
                s.count = 1.0;
                s.errs = err1;
                *self.table.entry(key).0 = s;
                return;
            }
            if s.peak_count == 0.0 {
                // behind from birth: nothing was counted at `peak`
                s.bucket = b;
                s.peak = b;
                s.count = 1.0;
                s.errs = err1;
                *self.table.entry(key).0 = s;
                return;
            }
            // Back at or past the latest bucket: it is the one to go on
            // with, or to close (its count is what the stream counted
            // there; left unjudged before, a real drop in it was missed).
            // Back from a jump (a replay's end), the stream goes on from
            // that count; walked into it from the bucket before, time was
            // repeated (a clock set back an hour): the records are a second
            // pass over the same time and the bucket counts the larger
            // pass (their sum made a spike when it caught up: found by
            // review).
            let walked = b == s.peak && s.peak - s.bucket <= slack;
            s.bucket = s.peak;
            if walked {
                s.count = 0.0;
                s.errs = 0.0;
            } else {
                s.count = s.peak_count;
                s.errs = s.peak_errs;
                s.peak_count = 0.0;
                s.peak_errs = 0.0;
            }
            if b == s.peak {
                s.count += 1.0;
                s.errs += err1;
                *self.table.entry(key).0 = s;
                if !c.learning {
                    self.spike_so_far(&s, &ent, id, hits);
                }
                return;
            }
        }
        let bt = s.bucket as f64 * self.bucket;
        let x = s.counted().0 as f64;
        let (errs, err_n) = s.err_pass();
        let r = self.observe(&mut s, x, bt, true);
        // A spike was reported while it happened (`spike_so_far`): the close
        // reports drops, and spikes too weak to reach the first level.
        let reported = r.is_some_and(|(p, e, _)| x >= e && self.level(p) > 0);
        // The closed bucket's drop, if reported: a silence after it is the
        // same fall and joins it (below).
        let mut closed_drop: Option<(usize, f64)> = None;
        if let (Some((p, e, sd)), false, false) = (r, c.learning, reported) {
            if x < e {
                closed_drop = Some((hits.len(), p));
            }
            hits.push(Hit {
                det: di,
                entity: ent.to_string(),
                feature: "rate".into(),
                observed: format!("{} per {}", fmt_num(x), dur(self.bucket)),
                expected: format!(
                    "{} ± {}",
                    fmt_num(libm::round(e * 10.0) / 10.0),
                    fmt_num(libm::round(sd * 10.0) / 10.0)
                ),
                p,
                text: format!(
                    "{ent}: {} {} events per {} at {} UTC, usual {} ± {} ({name})",
                    if x >= e { "spike:" } else { "drop:" },
                    fmt_num(x),
                    dur(self.bucket),
                    hhmm(bt),
                    fmt_num(libm::round(e * 10.0) / 10.0),
                    fmt_num(libm::round(sd * 10.0) / 10.0)
                ),
                nested: false,
                dkey: combine(dseed, combine(hash_str(0, &ent), u64::from(x >= e))),
            });
        }
        // error rate of the closed bucket
        if !self.err.is_empty() && x > 0.0 {
            let er = errs as f64;
            let x = (err_n as f64).max(1.0);
            let base = (s.err_rate as f64).max(1.0 / (s.err_n as f64 + 10.0));
            if s.err_n >= 10.0 * self.warmup as f32 && !c.learning && er > x * base {
                let p = num::binomial_sf_ge(er, x, base);
                hits.push(Hit {
                    det: di,
                    entity: ent.to_string(),
                    feature: "error_rate".into(),
                    observed: format!("{} of {}", er as u64, x as u64),
                    expected: format!("{}%", fmt_num(libm::round(base * 1000.0) / 10.0)),
                    p,
                    text: format!(
                        "{ent}: error rate {}% ({} of {}) at {} UTC, usual {}% ({name})",
                        fmt_num(libm::round(er / x * 1000.0) / 10.0),
                        er as u64,
                        x as u64,
                        hhmm(bt),
                        fmt_num(libm::round(base * 1000.0) / 10.0)
                    ),
                    nested: false,
                    dkey: combine(dseed ^ 1, hash_str(0, &ent)),
                });
            }
            let w = (x / (s.err_n as f64 + x)).max(self.alpha);
            s.err_rate = (s.err_rate as f64 + w * (er / x - s.err_rate as f64)) as f32;
            s.err_n += x as f32;
        }
        // Empty buckets in between are zeros for the baseline, and a
        // silence is a drop: reported here, on the series' next event, as
        // one finding whose p is the strongest empty bucket's times the
        // number judged (Bonferroni). Before December 2026 their p-values
        // were dropped, so an hour without one event in a series of 20 a
        // minute was never reported (found by review).
        // (The bucket closed is the series' latest, `peak`: buckets behind
        // it were counted before a replay went back, no silence, no zeros.
        // They are equal here but in a forged state, which goes on
        // harmlessly: no assertion, review 23's resealed byte flips made
        // it panic in debug builds.)
        let after = s.bucket;
        let empty = b.saturating_sub(after).saturating_sub(1);
        let silent = empty as f64 * self.bucket;
        let gap = empty.min(1440);
        let mut silence: Option<(f64, f64, f64)> = None;
        let mut judged = 0u32;
        for i in 0..gap {
            let gt = (after as f64 + 1.0 + i as f64) * self.bucket;
            if let Some((p, e, sd)) = self.observe(&mut s, 0.0, gt, true)
                && self.drops
            {
                judged += 1;
                if silence.is_none_or(|(q, _, _)| p < q) {
                    silence = Some((p, e, sd));
                }
            }
        }
        if let (Some((p, e, sd)), false) = (silence, c.learning) {
            let from = (after as f64 + 1.0) * self.bucket;
            // One fall, one finding: a drop in the bucket before the
            // silence is part of it (two findings would count the same
            // evidence twice when the verdict combines them).
            let (p, judged, before) = match closed_drop.filter(|_| after == s.bucket) {
                Some((i, pc)) => {
                    hits.remove(i);
                    (
                        p.min(pc),
                        judged + 1,
                        format!(" after {} in the {} before", fmt_num(x), dur(self.bucket)),
                    )
                }
                None => (p, judged, String::new()),
            };
            let p = (p * judged as f64).min(1.0);
            hits.push(Hit {
                det: di,
                entity: ent.to_string(),
                feature: "rate".into(),
                observed: format!("0 for {}", span(silent).unwrap_or_else(|| dur(silent))),
                expected: format!(
                    "{} ± {} per {}",
                    fmt_num(libm::round(e * 10.0) / 10.0),
                    fmt_num(libm::round(sd * 10.0) / 10.0),
                    dur(self.bucket)
                ),
                p,
                text: format!(
                    "{ent}: drop: no events for {} from {} UTC{before}, usual {} ± {} per {} ({name})",
                    span(silent).unwrap_or_else(|| dur(silent)),
                    when(from, silent >= 86_400.0),
                    fmt_num(libm::round(e * 10.0) / 10.0),
                    fmt_num(libm::round(sd * 10.0) / 10.0),
                    dur(self.bucket)
                ),
                nested: false,
                dkey: combine(dseed ^ 3, hash_str(0, &ent)),
            });
        }
        // This event opens the new bucket, the series' latest.
        s.peak_count = 0.0;
        s.peak_errs = 0.0;
        s.bucket = b;
        s.peak = b;
        s.count = 1.0;
        s.errs = if is_err { 1.0 } else { 0.0 };
        *self.table.entry(key).0 = s;
        if !c.learning {
            self.spike_so_far(&s, &ent, id, hits);
        }
    }

    /// Count mode: judge the open bucket as it fills. Its count only grows
    /// and its expectation is fixed until it closes, so a spike can be
    /// reported on the event that takes it to a higher severity (`levels`),
    /// on an event of the spike and without waiting for the next bucket,
    /// which may never come. One report per severity: it escalates.
    fn spike_so_far(&self, s: &RateState, ent: &str, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, name, dseed } = id;
        if s.n < self.warmup {
            return;
        }
        let bt = s.bucket as f64 * self.bucket;
        let x = s.counted().0 as f64;
        let e = self.expected(s, bt);
        let sigma = Self::count_sigma(s, e);
        // the common case, below the first level
        if x - e <= self.gate_z * sigma {
            return;
        }
        let p = self.spike_p(x, e, sigma);
        let level = self.level(p);
        if level == 0 || level <= self.level(self.spike_p(x - 1.0, e, sigma)) {
            return;
        }
        let (e1, sd1) = (
            fmt_num(libm::round(e * 10.0) / 10.0),
            fmt_num(libm::round(sigma * 10.0) / 10.0),
        );
        hits.push(Hit {
            det: di,
            entity: ent.to_string(),
            feature: "rate".into(),
            observed: format!("{} per {} so far", fmt_num(x), dur(self.bucket)),
            expected: format!("{e1} ± {sd1}"),
            p,
            text: format!(
                "{ent}: spike: {} events in the {} from {} UTC so far, usual {e1} ± {sd1} ({name})",
                fmt_num(x),
                dur(self.bucket),
                hhmm(bt),
            ),
            nested: false,
            dkey: combine(dseed ^ 2, combine(hash_str(0, ent), level as u64)),
        });
    }

    /// Set `gate_z`: the z at which the spike p-value reaches the first
    /// level, found by bisection (p falls as z grows), less a margin.
    fn with_gate(mut self) -> Self {
        let first = self.levels.iter().copied().fold(0.0, f64::max);
        let p_at = |z: f64| {
            let p = num::normal_sf(z);
            if self.drops { (2.0 * p).min(1.0) } else { p }
        };
        let (mut lo, mut hi) = (-40.0f64, 40.0f64);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if p_at(mid) <= first {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        self.gate_z = lo - 0.01;
        self
    }

    /// How many severities a spike's p-value reaches (0 to 4).
    fn level(&self, p: f64) -> u32 {
        self.levels.iter().filter(|&&l| p <= l).count() as u32
    }
}

impl NewValue {
    #[inline(never)]
    fn run<'a, E: Event + ?Sized>(
        &self,
        c: &Ctx<'a, '_, E>,
        groups: &mut [Group],
        profs: &mut [Option<(u64, Profile)>],
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
        let DetId { di, dseed, .. } = id;
        if !c.all(&self.filter) {
            return;
        }
        let Some((ek, prof)) = profs[self.group].as_mut() else {
            return;
        };
        let Group { cms, entity, .. } = &mut groups[self.group];
        let ready = !c.learning && prof.n >= c.min_events;
        // At most 8 features (the policy checks): no allocation per event.
        let mut vals: [Option<FeatureValue<'_>>; 8] = [const { None }; 8];
        for ((fi, f), slot) in self.features.iter().enumerate().zip(vals.iter_mut()) {
            if let Some(v) = c.get(f) {
                let key = combine(combine(*ek, (di * 16 + fi) as u64), hash_str(11, &v));
                *slot = Some((fi, f, v, cms.cells_of(key)));
            }
        }
        // Each feature's counters are a cache miss in a sketch of
        // megabytes: read them all first, so that the misses are in
        // flight together, not one after another in the loop below.
        core::hint::black_box(
            vals.iter()
                .flatten()
                .fold(0u32, |a, v| a ^ cms.get_at(&v.3)),
        );
        // By reference: moving the array out would copy all of it.
        for &(fi, f, ref v, ref at) in vals.iter().flatten() {
            let slot = self.slot0 + fi;
            let before = cms.add_at(at);
            let d = prof.distinct[slot] as f64;
            let n = prof.seen[slot] as f64;
            if ready {
                // Read again only for a finding: present, as the
                // profile was read by it.
                let ent = || c.get(entity).unwrap_or_default();
                // `distinct` and the sketch's counters saturate at 255: a
                // saturated one is a lower bound, from which no p-value
                // can be bounded from above, so it yields no finding
                // (an entity with so many values finds a new one
                // unremarkable anyway; a value seen 255 times is common).
                if before == 0 && d < 255.0 {
                    let p = (d + 1.0) / (n + 2.0);
                    let ent = ent();
                    // What the counts vouch for: no sighting since the
                    // entity's first event or the latest halving of the
                    // counts, whichever is later (a value counted once
                    // before a halving is forgotten by it).
                    let since = c.decayed_at.max(prof.first_min as f64 * 60.0);
                    // Never without what it vouches for: a text without a
                    // span claims the value was never seen at all, and a
                    // value seen 50 seconds before a halving read so
                    // (found by review).
                    let first = prof.first_min as f64 * 60.0;
                    let during = match span(c.t - since) {
                        Some(w) => format!(" in {w}"),
                        None if c.decayed_at > first => " since its counts last halved".into(),
                        None => " in under a minute".into(),
                    };
                    hits.push(Hit {
                        det: di,
                        entity: ent.to_string(),
                        feature: f.name.clone(),
                        observed: clip(v, 128),
                        expected: if d as u64 == 1 {
                            "the one known value".to_string()
                        } else {
                            format!("one of {} known values", d as u64)
                        },
                        p,
                        text: format!(
                            "{ent}: {} {} never seen for {ent}{during} ({} known value{})",
                            f.name,
                            clip(v, 128),
                            d as u64,
                            if d as u64 == 1 { "" } else { "s" }
                        ),
                        nested: false,
                        dkey: combine(dseed, combine(*ek, hash_str(fi as u64, v))),
                    });
                } else if self.rare && before < 255 && d < 255.0 {
                    // The value's own frequency is no p-value: with 200
                    // addresses used evenly, each is 0.5% of the events.
                    // The p-value is the chance of a value at most this
                    // common, at most `d` times this one's (union bound
                    // over the known values; the sketch only over-counts).
                    let p = (d * (before as f64 + 1.0) / (n + 2.0)).min(1.0);
                    if p < c.report_p {
                        let ent = ent();
                        hits.push(Hit {
                            det: di,
                            entity: ent.to_string(),
                            feature: f.name.clone(),
                            observed: clip(v, 128),
                            expected: "a common value".into(),
                            p,
                            text: format!(
                                "{ent}: {} {} is rare for {ent} (~{before} of {} events with a {})",
                                f.name,
                                clip(v, 128),
                                thousands(n as u64),
                                f.name
                            ),
                            nested: false,
                            dkey: combine(dseed, combine(*ek, hash_str(fi as u64, v))),
                        });
                    }
                }
            }
            if before == 0 {
                prof.distinct[slot] = prof.distinct[slot].saturating_add(1);
            }
            prof.seen[slot] = prof.seen[slot].saturating_add(1);
        }
    }
}

impl Gauge {
    #[inline(never)]
    fn run<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, name, dseed } = id;
        if !c.all(&self.filter) {
            return;
        }
        let ent: Cow<'_, str> = match &self.group {
            Some(g) => match c.get(g) {
                Some(v) => v,
                None => return,
            },
            None => Cow::Borrowed("*"),
        };
        let Some(x) = c.num(&self.value).map(gauge_value) else {
            return;
        };
        let key = hash_str(SEED_GROUP + di as u64, &ent);
        let o = self.table.entry(key).0.observe(x, &self.params);
        if c.learning || o.p >= 1.0 {
            return;
        }
        let what = match o.kind {
            0 => "an unusual pattern",
            1 => {
                if x >= o.expected {
                    "a spike"
                } else {
                    "a drop"
                }
            }
            _ => {
                if x >= o.expected {
                    "a sustained rise"
                } else {
                    "a sustained fall"
                }
            }
        };
        let vf = &self.value.name;
        hits.push(Hit {
            det: di,
            entity: ent.to_string(),
            feature: vf.clone(),
            observed: fmt_num(x),
            expected: format!("{} ± {}", fmt_num(o.expected), fmt_num(o.scale)),
            p: o.p,
            text: format!(
                "{ent}: {vf} {} is {what}, usual {} ± {} ({name})",
                fmt_num(x),
                fmt_num(o.expected),
                fmt_num(o.scale)
            ),
            nested: false,
            dkey: combine(dseed, hash_str(0, &ent)),
        });
    }
}

/// The session an event belongs to (`sequence`, `composition`).
struct SessionEvent<'a> {
    /// The session field's value, `*` without one.
    name: Cow<'a, str>,
    /// The event matches `end_where`.
    is_end: bool,
    /// The session's key in the detector's table.
    key: u64,
}

/// `None` when the event does not pass the detector's `where`.
fn session_event<'a, E: Event + ?Sized>(
    c: &Ctx<'a, '_, E>,
    filter: &[CCond],
    session: &FieldRef,
    end: &[CCond],
    di: usize,
) -> Option<SessionEvent<'a>> {
    if !c.all(filter) {
        return None;
    }
    let (name, key) = session_of(c, session, di);
    Some(SessionEvent {
        key,
        is_end: !end.is_empty() && c.all(end),
        name,
    })
}

/// The session field's value (`*` without one) and its key in detector
/// `di`'s table.
fn session_of<'a, E: Event + ?Sized>(
    c: &Ctx<'a, '_, E>,
    session: &FieldRef,
    di: usize,
) -> (Cow<'a, str>, u64) {
    let name = c.get(session).unwrap_or(Cow::Borrowed("*"));
    let key = hash_str(SEED_GROUP + di as u64, &name);
    (name, key)
}

/// How a `sequence` text qualifies counts that have halved (see
/// [`Engine::maybe_decay`]): they are no plain counts of events any more.
fn decayed<E: Event + ?Sized>(c: &Ctx<'_, '_, E>, online: bool) -> &'static str {
    // (a frozen model's counts do not halve: found by review)
    if online && c.decayed_at.is_finite() {
        " by counts that halve with time"
    } else {
        ""
    }
}

/// The most a `sequence` detector's masked-text buffer keeps between
/// events (it is counted in [`Engine::memory_bytes`]).
const MASK_BUF_KEEP: usize = 4096;

/// Extracted fields (and their spans) whose buffers are kept between
/// events ([`emptied`]).
const EX_BUF_KEEP: usize = 64;

/// An extraction buffer to keep for the next event, emptied: the captured
/// values go now (a 10 MiB capture of one line was held, outside the
/// budget, until the next line: found by review), and so does a list grown
/// past [`EX_BUF_KEEP`] entries.
fn emptied<T>(mut v: Vec<T>) -> Vec<T> {
    v.clear();
    if v.capacity() > EX_BUF_KEEP {
        v = Vec::new();
    }
    v
}

const UNKNOWN: u16 = u16::MAX - 1;
/// Longest stored template key (longer keys are clipped).
pub(crate) const KEY_MAX: usize = 128;
const END: u16 = u16::MAX - 2;

impl Sequence {
    /// Operator feedback: learn an event already scored as normal (see
    /// [`Engine::mark_normal`]).
    fn mark_normal<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, di: usize) {
        if self.online {
            return; // it learned the event when it scored it
        }
        if !c.all(&self.filter) || (!self.end.is_empty() && c.all(&self.end)) {
            return;
        }
        let found = self.template_id(c, true);
        self.release_buf();
        let Some((id, _)) = found else {
            return;
        };
        if id == UNKNOWN {
            return; // the template table is full
        }
        let (_, skey) = session_of(c, &self.session, di);
        let seed = SEED_GROUP + di as u64;
        // The next-event contexts are learned only while the event is still
        // the last of its session (it was scored as `id`, or as unknown when
        // its template was new); later the context before it is gone.
        if let Some(h) = self.sessions.get(skey).copied()
            && h.len > 0
            && (h.last[HIST - 1] == id || h.last[HIST - 1] == UNKNOWN)
        {
            let mut before = h;
            before.pop();
            let exact = (before.len as usize) < HIST;
            for j in 1..=self.h {
                if j < HIST || exact {
                    self.ctx.entry(before.ctx(j, seed)).0.add(id);
                }
            }
            // the session goes on from the learned template
            self.sessions.entry(skey).0.last[HIST - 1] = id;
        }
        self.count0(id);
    }

    /// Counts a learned event of template `id` (not `UNKNOWN`, `END`).
    fn count0(&mut self, id: u16) {
        let i = id as usize;
        grow_counts(&mut self.counts0, i, self.max_templates);
        // saturating: both come from a snapshot, unchecked (a forged
        // `novel` of u64::MAX panicked on the next new template: found by
        // review)
        if self.counts0[i] == 0 {
            self.novel = self.novel.saturating_add(1);
        }
        self.counts0[i] = self.counts0[i].saturating_add(1);
        self.total0 = self.total0.saturating_add(1);
    }

    fn template_id<E: Event + ?Sized>(
        &mut self,
        c: &Ctx<'_, '_, E>,
        learn: bool,
    ) -> Option<(u16, bool)> {
        if let Some(tf) = &self.template {
            let v = c.get(tf)?;
            let v: Cow<'_, str> = if v.len() > KEY_MAX {
                Cow::Owned(clip(&v, KEY_MAX))
            } else {
                v
            };
            if let Some(&id) = self.keys.get(&*v) {
                return Some((id, false));
            }
            if !learn || self.key_names.len() >= self.max_templates {
                return Some((UNKNOWN, true));
            }
            let id = self.key_names.len() as u16;
            let k = clip(&v, KEY_MAX);
            self.keys.insert(k.clone(), id);
            self.key_names.push(k);
            return Some((id, true));
        }
        let mut buf = core::mem::take(&mut self.mask_buf);
        let m = if c.masked_text(&self.message, &mut buf) {
            Cow::Borrowed(buf.as_str())
        } else if let Some(m) = c.get(&self.message) {
            m
        } else {
            self.mask_buf = buf;
            return None;
        };
        let found = if learn {
            let (id, new) = self.drain.add(&m);
            (if id == u32::MAX { UNKNOWN } else { id as u16 }, new)
        } else {
            match self.drain.lookup(&m) {
                Some(id) => (id as u16, false),
                None => (UNKNOWN, true),
            }
        };
        drop(m);
        self.mask_buf = buf;
        Some(found)
    }

    /// The current event's name for its reasons: its template, or for an
    /// event that has none (the table is full, or the model is frozen and
    /// no template fits) `<unknown>` and the line itself, clipped (masked
    /// when `extract` captured from it), so the operator sees what it was.
    fn current_name<E: Event + ?Sized>(&self, c: &Ctx<'_, '_, E>, id: u16) -> String {
        if id != UNKNOWN {
            return self.name_of(id);
        }
        let line = if !self.mask_buf.is_empty() {
            Some(Cow::Borrowed(self.mask_buf.as_str()))
        } else {
            c.get(self.template.as_ref().unwrap_or(&self.message))
        };
        match line {
            Some(l) => format!("<unknown> {}", clip(&l, 80)),
            None => "<unknown>".into(),
        }
    }

    fn name_of(&self, id: u16) -> String {
        if id == UNKNOWN {
            return "<unknown>".into();
        }
        if id == END {
            return "<session end>".into();
        }
        if self.template.is_some() {
            return self.key_names.get(id as usize).cloned().unwrap_or_default();
        }
        self.drain
            .template(id as u32)
            .map(|t| clip(&t, 80))
            .unwrap_or_default()
    }

    #[inline(never)]
    fn run<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, dseed, .. } = id;
        if !c.all(&self.filter) {
            return;
        }
        // The template before the session: an event without a message is
        // not part of any sequence, and for such events (every event of a
        // structured audit log under the default preset) the session's
        // lookups are skipped. The session lookup has no side effects, so
        // the order changes nothing else.
        let is_end = !self.end.is_empty() && c.all(&self.end);
        let learn = c.learning || self.online;
        let (id, new) = if is_end {
            (END, false)
        } else {
            match self.template_id(c, learn) {
                Some(x) => x,
                None => return,
            }
        };
        let (sess, skey) = session_of(c, &self.session, di);
        let hist = *self.sessions.entry(skey).0;
        let seed = SEED_GROUP + di as u64;
        // template rarity (order 0)
        let c0 = self.counts0.get(id as usize).copied().unwrap_or(0) as u64;
        if !c.learning && self.total0 > 0 && !is_end {
            let n = self.total0 as f64;
            let p = if c0 == 0 {
                (self.novel as f64 + 1.0) / (n + 2.0)
            } else if self.rare_templates && (c0 as f64) < n * c.report_p {
                let tail: u64 = self
                    .counts0
                    .iter()
                    .filter(|&&x| x as u64 <= c0)
                    .map(|&x| x as u64)
                    .sum();
                (tail as f64 + 1.0) / (n + 2.0)
            } else {
                1.0
            };
            if p < c.report_p {
                let tn = self.current_name(c, id);
                hits.push(Hit {
                    det: di,
                    entity: sess.to_string(),
                    feature: "template".into(),
                    observed: tn.clone(),
                    expected: "a known event template".into(),
                    p,
                    text: if c0 == 0 && !new && id != UNKNOWN {
                        // known, but its count faded (see `maybe_decay`)
                        format!(
                            "{sess}: event template not seen since its counts last halved: {tn}"
                        )
                    } else if c0 == 0 {
                        format!("{sess}: event template never seen before: {tn}")
                    } else {
                        format!(
                            "{sess}: rare event template (seen {c0} of {} times{}): {tn}",
                            thousands(self.total0),
                            decayed(c, self.online)
                        )
                    },
                    // with the next-event finding below, when this template
                    // is not listed after its context either
                    nested: c0 == 0,
                    dkey: combine(dseed, combine(id as u64, hash_str(0, &sess))),
                });
            }
        }
        // next-event likelihood, Katz-style back-off: from the longest
        // context (seen 3 times or more) down to the first that has seen
        // this event or has been seen often enough to report it alone
        // (`conclusive` times: 1 / (total + 1) below `report_p`), each
        // judges it and the strongest finding is kept. Judged by the
        // longest context alone (seen 3 to 99 times), a next event never
        // seen in 2,000 times of the shorter one could not be reported
        // (found by review, twice).
        if !c.learning {
            // (context length, its statistics, count, whether the count is
            // a bound, p)
            let mut pick: Option<(usize, CtxStats, u32, bool, f64)> = None;
            for j in (1..=self.h).rev() {
                let Some(s) = self.ctx.get(hist.ctx(j, seed)).copied() else {
                    continue;
                };
                if s.total < 3 {
                    continue;
                }
                // An event not in a full top list may have been evicted
                // from it: its count is at most the list's smallest. Taken
                // as 0, a context with 20 equally common next events
                // reported 41% of them, "seen 0 of 199 times"; and with a
                // bound, the events tied with it rank before it (a list
                // of exactly 12 next events hid a thirteenth: both found by
                // review).
                let listed = if id == UNKNOWN { 0 } else { s.count(id) };
                let bound = if listed == 0 && s.full() {
                    s.cnt.iter().copied().min().unwrap_or(0)
                } else {
                    0
                };
                let cn = listed.max(bound);
                let rank = if bound > listed {
                    (0..TOP).filter(|&i| s.cnt[i] >= cn).count()
                } else {
                    (0..TOP).filter(|&i| s.cnt[i] > cn).count()
                };
                let flagged = cn == 0 || rank >= self.k;
                let p = if flagged {
                    // Good-Turing: the chance of a never-seen next event is about the
                    // share of next events seen once in this context.
                    let top_sum: u64 = s.cnt.iter().map(|&x| x as u64).sum();
                    let unseen = (s.total as u64).saturating_sub(top_sum);
                    let singles = s.cnt.iter().filter(|&&x| x == 1).count() as u64;
                    let le: u64 = s
                        .cnt
                        .iter()
                        .filter(|&&x| x <= cn && x > 0)
                        .map(|&x| x as u64)
                        .sum();
                    let tail = if cn == 0 {
                        unseen.max(singles)
                    } else {
                        unseen.max(singles) + le
                    };
                    (tail as f64 + 1.0) / (s.total as f64 + 1.0)
                } else {
                    1.0
                };
                let this = (j, s, cn, bound > listed, p);
                if flagged && pick.is_none_or(|q| p < q.4) {
                    pick = Some(this);
                }
                if listed > 0 || s.total >= self.conclusive {
                    // this context has seen it, or enough: it judges, and
                    // the thinner ones before it keep what they found (a
                    // context always continued one way for 60 times is
                    // evidence against another next event, though a
                    // shorter one saw it: found by review)
                    break;
                }
            }
            if let Some((j, s, cn, bounded, p)) = pick {
                let have = (hist.len as usize).min(j);
                let prev: Vec<String> = (0..have)
                    .rev()
                    .map(|i| self.name_of(hist.last[HIST - 1 - i]))
                    .collect();
                let tn = self.current_name(c, id);
                hits.push(Hit {
                    det: di,
                    entity: sess.to_string(),
                    feature: "next_event".into(),
                    observed: tn.clone(),
                    expected: format!("one of the {} likely next events", self.k),
                    p,
                    text: format!(
                        "{sess}: {tn} after [{}] is not among the {} likely next events (seen {}{cn} of {} times{})",
                        prev.join(" | "),
                        self.k,
                        if bounded { "at most " } else { "" },
                        thousands(s.total as u64),
                        decayed(c, self.online)
                    ),
                    // A template never counted and not listed after this
                    // context: the event "a template never seen" lies
                    // within "a next event at most this common here" (a new
                    // template is unlisted after every context), so the
                    // template finding and this one are one test. Simes'
                    // value of the two, `min(2 p_template, p_next)`, hid a
                    // never-seen template of 0.0094 behind a next event of
                    // 0.1 (a stated limit from December 2026).
                    nested: c0 == 0 && (cn == 0 || bounded),
                    dkey: combine(dseed, combine(hist.ctx(j, seed), id as u64 ^ hash_str(1, &sess))),
                });
            }
        }
        if learn && id != UNKNOWN {
            for j in 1..=self.h {
                self.ctx.entry(hist.ctx(j, seed)).0.add(id);
            }
            if !is_end {
                self.count0(id);
            }
        }
        let (h, _) = self.sessions.entry(skey);
        if is_end {
            *h = Hist::default();
        } else {
            h.push(id);
        }
        self.release_buf();
    }

    /// A huge line's masked text is not kept past its event (it held its
    /// size until the detector masked another line, for good behind a
    /// `where` that the following lines failed: found by review).
    fn release_buf(&mut self) {
        if self.mask_buf.capacity() > MASK_BUF_KEEP {
            self.mask_buf = String::new();
        }
    }
}

/// Templates a composition detector tells apart; the last bit stands for
/// every template it has not learned.
const COMP_TEMPLATES: usize = 255;

/// A set of template ids (bit `COMP_TEMPLATES` = an unknown template).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Mask([u64; 4]);

impl Mask {
    /// Add `bit`; whether it was new.
    fn insert(&mut self, bit: usize) -> bool {
        let (w, b) = (bit / 64, 1u64 << (bit % 64));
        let new = self.0[w] & b == 0;
        self.0[w] |= b;
        new
    }
    fn is_subset(&self, of: &Mask) -> bool {
        (0..4).all(|i| self.0[i] & !of.0[i] == 0)
    }
    fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
    fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }
    fn bits(&self) -> impl Iterator<Item = usize> + '_ {
        (0..256).filter(|&i| self.0[i / 64] & (1 << (i % 64)) != 0)
    }
}

/// One open session of a composition detector: 52 bytes in its table.
#[derive(Clone, Copy, Default, Debug)]
struct CompSession {
    mask: Mask,
    /// Already reported as a combination no learned session had.
    reported: u32,
}

impl Pod for CompSession {
    const SIZE: usize = 36;
    fn put(&self, w: &mut W) {
        for word in self.mask.0 {
            w.u64(word);
        }
        w.u32(self.reported);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = CompSession::default();
        for word in s.mask.0.iter_mut() {
            *word = r.u64()?;
        }
        s.reported = r.u32()?;
        Ok(s)
    }
}

/// The `composition` detector (see [`CompositionRule`]).
struct Composition {
    filter: Vec<CCond>,
    end: Vec<CCond>,
    session: FieldRef,
    template: FieldRef,
    online: bool,
    max: usize,
    keys: BTreeMap<String, u8>,
    key_names: Vec<String>,
    /// Combinations learned sessions ended with, and how many sessions each.
    known: Vec<(Mask, u32)>,
    /// Learned sessions that ended.
    ended: u64,
    sessions: Table<CompSession>,
}

impl Composition {
    fn bit_of(&mut self, v: &str, learn: bool) -> usize {
        let v: Cow<'_, str> = if v.len() > KEY_MAX {
            Cow::Owned(clip(v, KEY_MAX))
        } else {
            Cow::Borrowed(v)
        };
        if let Some(&id) = self.keys.get(&*v) {
            return id as usize;
        }
        if !learn || self.key_names.len() >= COMP_TEMPLATES {
            return COMP_TEMPLATES;
        }
        let v = v.into_owned();
        let id = self.key_names.len();
        self.keys.insert(v.clone(), id as u8);
        self.key_names.push(v);
        id
    }

    fn names(&self, m: &Mask, max: usize) -> String {
        let mut out: Vec<&str> = m
            .bits()
            .take(max)
            .map(|b| {
                self.key_names
                    .get(b)
                    .map(String::as_str)
                    .unwrap_or("<unknown>")
            })
            .collect();
        if m.len() as usize > max {
            out.push("...");
        }
        out.join(", ")
    }

    /// Good-Turing estimate of the chance that a session's combination is
    /// one no learned session had: `(combinations + 1) / (sessions + 2)`,
    /// where a learned session whose combination was not kept (the list
    /// full) counts as a combination of its own: each may have been new.
    /// Without them, a full list's estimate fell as 1 / sessions while
    /// the share of sessions outside it stayed, and half of a stationary
    /// stream of 512 combinations (256 kept) was reported (found by
    /// review).
    fn novelty_p(&self) -> f64 {
        let kept: u64 = self.known.iter().map(|&(_, n)| u64::from(n)).sum();
        let unkept = self.ended.saturating_sub(kept);
        ((self.known.len() as u64 + unkept) as f64 + 1.0) / (self.ended as f64 + 2.0)
    }

    /// Halves the learned combinations' counts, rounding down (one seen
    /// once is forgotten, as a `sequence` detector's one-off templates
    /// are), and the sessions, keeping those not kept as they were, halved.
    fn halve(&mut self) {
        let kept: u64 = self.known.iter().map(|&(_, n)| u64::from(n)).sum();
        let unkept = self.ended.saturating_sub(kept);
        for (_, n) in self.known.iter_mut() {
            *n /= 2;
        }
        self.known.retain(|&(_, n)| n > 0);
        self.ended = self.known.iter().map(|&(_, n)| u64::from(n)).sum::<u64>() + unkept / 2;
    }

    #[inline(never)]
    fn run<E: Event + ?Sized>(&mut self, c: &Ctx<'_, '_, E>, id: DetId<'_>, hits: &mut Vec<Hit>) {
        let DetId { di, dseed, .. } = id;
        let Some(SessionEvent {
            name: sess,
            is_end,
            key: skey,
        }) = session_event(c, &self.filter, &self.session, &self.end, di)
        else {
            return;
        };
        let learn = c.learning || self.online;
        let scoring = !c.learning && self.ended > 0;
        if is_end {
            let s = self.sessions.get(skey).copied().unwrap_or_default();
            if s.mask.is_empty() {
                return;
            }
            if scoring && s.reported == 0 && !self.known.iter().any(|(m, _)| *m == s.mask) {
                // The learned combination closest above: what the session lacks.
                let nearest = self
                    .known
                    .iter()
                    .filter(|(m, _)| s.mask.is_subset(m))
                    .min_by_key(|(m, n)| (m.len(), u32::MAX - n));
                let lacks = match nearest {
                    Some((m, _)) => {
                        let mut d = Mask::default();
                        for i in 0..4 {
                            d.0[i] = m.0[i] & !s.mask.0[i];
                        }
                        format!("; the closest learned one also has {}", self.names(&d, 6))
                    }
                    None => String::new(),
                };
                hits.push(Hit {
                    det: di,
                    entity: sess.to_string(),
                    feature: "composition".into(),
                    observed: self.names(&s.mask, 12),
                    expected: "a combination a learned session ended with".into(),
                    p: self.novelty_p(),
                    text: format!(
                        "{sess}: ended with {} event templates [{}], a combination none of {} learned sessions ended with{lacks}",
                        s.mask.len(),
                        self.names(&s.mask, 8),
                        thousands(self.ended)
                    ),
                    nested: false,
                    dkey: combine(dseed, hash_str(2, &sess)),
                });
            }
            if learn {
                match self.known.iter().position(|(m, _)| *m == s.mask) {
                    Some(i) => self.known[i].1 = self.known[i].1.saturating_add(1),
                    None if self.known.len() < self.max => {
                        // Doubling, but never past `max`: the budget reserves
                        // `max` combinations (a doubling past it overdrew
                        // the budget by up to as much again: found by review).
                        if self.known.len() == self.known.capacity() {
                            let want = (self.known.capacity() * 2).max(4).min(self.max);
                            self.known.reserve_exact(want - self.known.len());
                        }
                        self.known.push((s.mask, 1));
                    }
                    None => {}
                }
                self.ended = self.ended.saturating_add(1);
            }
            *self.sessions.entry(skey).0 = CompSession::default();
            return;
        }
        let Some(t) = c.get(&self.template) else {
            return;
        };
        let bit = self.bit_of(&t, learn);
        let (st, _) = self.sessions.entry(skey);
        if !st.mask.insert(bit) || st.reported != 0 || !scoring {
            return;
        }
        let mask = st.mask;
        if self.known.iter().any(|(m, _)| mask.is_subset(m)) {
            return;
        }
        st.reported = 1;
        let tn = if bit == COMP_TEMPLATES {
            format!("{} (unknown)", clip(&t, 80))
        } else {
            clip(&t, 80)
        };
        hits.push(Hit {
            det: di,
            entity: sess.to_string(),
            feature: "composition".into(),
            observed: tn.clone(),
            expected: "a combination of templates a learned session had".into(),
            p: self.novelty_p(),
            text: format!(
                "{sess}: {tn} with [{}] is a combination of event templates none of {} learned sessions had",
                self.names(&mask, 8),
                thousands(self.ended)
            ),
            nested: false,
            dkey: combine(dseed, hash_str(3, &sess)),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pop` undoes `push` for every context `mark_normal` learns: all of
    /// them while the session is shorter than `HIST`, and all but the
    /// full-length one after.
    #[test]
    fn hist_pop_undoes_push() {
        let mut h = Hist::default();
        for n in 0..40u16 {
            let before = h;
            h.push(n * 7 + 1);
            let mut back = h;
            assert_eq!(back.pop(), n * 7 + 1);
            assert_eq!(back.len, before.len);
            for j in 1..=HIST {
                if j < HIST || (before.len as usize) < HIST {
                    assert_eq!(back.ctx(j, 9), before.ctx(j, 9), "n {n} j {j}");
                }
            }
        }
    }

    /// A filling bucket's count is skipped below `gate_z` without its
    /// tail computed: the gate must sit just below the first severity
    /// level's z whatever the policy's thresholds (a fixed 2σ gate hid
    /// first-level spikes under thresholds below the default's, and the
    /// bucket's close then took them for reported).
    #[test]
    fn rate_gate_sits_just_below_the_first_level() {
        for (th, drops) in [
            ([0.33, 0.5, 0.66, 0.83], true),
            ([0.33, 0.5, 0.66, 0.83], false),
            ([0.2, 0.4, 0.6, 0.8], true),
            ([0.05, 0.1, 0.5, 0.9], false),
        ] {
            let text = format!(
                r#"{{"version":1,"alerting":{{"severity_thresholds":{th:?}}},
                "detectors":[{{"type":"rate","name":"r","drops":{drops}}}]}}"#
            );
            let e = Engine::new(Policy::parse(&text).expect("policy"));
            let Det::Rate(r) = &e.dets[0] else {
                panic!("a rate detector")
            };
            let first = libm::pow(10.0, -6.0 * th[0]);
            let p_at = |z: f64| r.spike_p(100.0 + z * 10.0, 100.0, 10.0);
            assert!(p_at(r.gate_z) > first, "{th:?} {drops}: gate {}", r.gate_z);
            assert!(
                p_at(r.gate_z + 0.02) <= first,
                "{th:?} {drops}: gate {}",
                r.gate_z
            );
        }
    }

    /// A syslog timestamp has no year: it takes the host's time's year (the
    /// year before if that would put it more than two days after the host's
    /// time; less than that ahead it is scored at the host's time), else the
    /// previous event's, else 1971 (1972 for January and February, so the
    /// stream's first leap day is in a leap year); other forms ignore it.
    #[test]
    fn syslog_timestamps_take_the_year_of_the_host_or_the_last_event() {
        let mut e = Engine::new(Policy::preset("default").expect("default preset"));
        let ev = serde_json::json!({"timestamp": "Dec 10 06:55:46"});
        let secs = |y: i64| (days_from_civil(y, 12, 10) * 86_400 + 6 * 3600 + 55 * 60 + 46) as f64;
        assert_eq!(e.event_time(&ev, &[], None), secs(1971));
        let feb = serde_json::json!({"timestamp": "Feb 29 06:55:46"});
        let leap = (days_from_civil(1972, 2, 29) * 86_400 + 6 * 3600 + 55 * 60 + 46) as f64;
        assert_eq!(e.event_time(&feb, &[], None), leap);
        let host = days_from_civil(2024, 12, 11) * 86_400 * 1_000_000_000;
        assert_eq!(e.event_time(&ev, &[], Some(host)), secs(2024));
        // Read on June 1st, December 10th was last year's.
        let june = days_from_civil(2024, 6, 1) * 86_400 * 1_000_000_000;
        assert_eq!(e.event_time(&ev, &[], Some(june)), secs(2023));
        // Read a day before: a skewed clock or another time zone, scored
        // at the host's time; three days before: last year's.
        let day = 86_400 * 1_000_000_000;
        let before = days_from_civil(2024, 12, 9) * day + 6 * 3600 * 1_000_000_000;
        assert_eq!(
            e.event_time(&ev, &[], Some(before)),
            (before / 1_000_000_000) as f64
        );
        assert_eq!(e.event_time(&ev, &[], Some(before - 2 * day)), secs(2023));
        // Without the host's time, the year nearest the last event's time:
        // 2022 for an event on the last second of 2022 or the first of
        // 2023, 2023 from the middle of 2023 on.
        e.last_t = (days_from_civil(2023, 1, 1) * 86_400 - 1) as f64;
        assert_eq!(e.event_time(&ev, &[], None), secs(2022));
        e.last_t += 1.0;
        assert_eq!(e.event_time(&ev, &[], None), secs(2022));
        e.last_t = (days_from_civil(2023, 6, 11) * 86_400) as f64;
        assert_eq!(e.event_time(&ev, &[], None), secs(2023));
        // `Jan  1` after the last event of a year is the next year's.
        e.last_t = (days_from_civil(2023, 12, 31) * 86_400 + 86_000) as f64;
        let jan = serde_json::json!({"timestamp": "Jan  1 00:00:05"});
        assert_eq!(
            e.event_time(&jan, &[], None),
            (days_from_civil(2024, 1, 1) * 86_400 + 5) as f64
        );
        // With the host's time: `Jan  1 04:00` read on December 31st at
        // 20:00 UTC is next year's (then scored at the host's time).
        let dec31 = (days_from_civil(2023, 12, 31) * 86_400 + 20 * 3600) * 1_000_000_000;
        let early = serde_json::json!({"timestamp": "Jan  1 04:00:00"});
        assert_eq!(
            e.event_time(&early, &[], Some(dec31)),
            (dec31 / 1_000_000_000) as f64
        );
        let iso = serde_json::json!({"timestamp": "2020-12-10T06:55:46Z"});
        assert_eq!(e.event_time(&iso, &[], Some(host)), secs(2020));
        let ex = [("timestamp".to_string(), "Dec 10 06:55:46".to_string())];
        assert_eq!(e.event_time(&iso, &ex, None), secs(2023));
    }

    /// The README's bytes-per-entry table.
    /// A format 5 state whose clock `clock` could not have left (a count
    /// of jumps that would overflow, more events since the last jump than
    /// events, an infinite time) is refused, checksum and all correct.
    #[test]
    fn a_forged_clock_state_is_refused() {
        let policy = Policy::parse(r#"{"version":1,"detectors":[]}"#).expect("policy");
        let mut e = Engine::new(policy.clone());
        for t in 0..5 {
            e.score(&serde_json::json!({"timestamp": 1_000 + t}), None);
        }
        let snap = e.snapshot();
        // magic, version, fingerprint, key, first_t, last_t, events, epoch
        let clock = 8 + 2 + 8 + 8 + 8 + 8 + 8 + 8;
        let forged = |at: usize, bytes: &[u8]| {
            let mut b = snap.clone();
            b[clock + at..clock + at + bytes.len()].copy_from_slice(bytes);
            let n = b.len() - 8;
            let sum = crate::store::hash_bytes(0x5A5A, &b[..n]);
            b[n..].copy_from_slice(&sum.to_le_bytes());
            b
        };
        let mut fresh = Engine::new(policy.clone());
        assert_eq!(fresh.restore(&forged(0, &[])), Ok(()));
        assert_eq!(fresh.since_jump, 5);
        for (at, bytes) in [
            (0, f64::INFINITY.to_le_bytes().to_vec()),
            (8, 6u64.to_le_bytes().to_vec()),
            (16, u32::MAX.to_le_bytes().to_vec()),
            (16, JUMP_CONFIRM.to_le_bytes().to_vec()),
            (20, f64::NEG_INFINITY.to_le_bytes().to_vec()),
        ] {
            let mut fresh = Engine::new(policy.clone());
            assert_eq!(
                fresh.restore(&forged(at, &bytes)),
                Err(StateError::Corrupt("clock")),
                "at {at}"
            );
        }
    }

    #[test]
    fn hour_runs_wrap_midnight_and_keep_gaps() {
        let of = |hs: &[usize]| {
            let mut u = [false; 24];
            for &h in hs {
                u[h] = true;
            }
            hour_runs(&u)
        };
        assert_eq!(of(&[8, 9, 10, 11, 12, 13, 14, 15, 16, 17]), "08-18");
        assert_eq!(of(&[22, 23, 0, 1]), "22-02");
        assert_eq!(of(&[8, 9, 20, 21]), "08-10, 20-22");
        assert_eq!(of(&[18, 19, 20, 21, 22, 23]), "18-24");
        assert_eq!(of(&[0, 1, 2]), "00-03");
        assert_eq!(of(&[23]), "23-24");
        assert_eq!(of(&(0..24).collect::<Vec<_>>()), "00-24");
        assert_eq!(of(&[]), "-");
    }

    #[test]
    fn slot_sizes() {
        assert_eq!(Table::<Profile>::slot_bytes(), 56);
        assert_eq!(Table::<Win>::slot_bytes(), 88);
        assert_eq!(Table::<Dist>::slot_bytes(), 292);
        assert_eq!(Table::<RateState>::slot_bytes(), 280);
        assert_eq!(Table::<GaugeState>::slot_bytes(), 1356);
        assert_eq!(Table::<Loc>::slot_bytes(), 28);
        assert_eq!(Table::<u32>::slot_bytes(), 16);
        assert_eq!(Table::<CtxStats>::slot_bytes(), 88);
        assert_eq!(Table::<Hist>::slot_bytes(), 48);
        assert_eq!(Table::<CompSession>::slot_bytes(), 52);
    }

    #[test]
    fn extract_patterns() {
        let p = Policy::preset("sshd").unwrap();
        let ex: Vec<Extractor> = p.extract.iter().map(|e| Extractor::new(&p, e)).collect();
        let mut out = Vec::new();
        let line = "Failed password for invalid user admin from 5.188.10.180 port 52631 ssh2";
        assert!(
            ex.iter()
                .any(|x| x.apply(line, &mut out, &mut Vec::new(), &mut Budget::new()))
        );
        assert!(out.contains(&("user".into(), "admin".into())));
        assert!(out.contains(&("source_ip".into(), "5.188.10.180".into())));
        out.clear();
        let line = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=183.62.140.253  user=root";
        assert!(
            ex.iter()
                .any(|x| x.apply(line, &mut out, &mut Vec::new(), &mut Budget::new()))
        );
        assert!(out.contains(&("user".into(), "root".into())), "{out:?}");
    }

    /// The first matching pattern's fields, as pairs.
    fn extract_sshd(line: &str) -> Vec<(String, String)> {
        let p = Policy::preset("sshd").unwrap();
        let mut out = Vec::new();
        for e in &p.extract {
            if Extractor::new(&p, e).apply(line, &mut out, &mut Vec::new(), &mut Budget::new()) {
                break;
            }
        }
        out
    }

    fn field<'a>(out: &'a [(String, String)], k: &str) -> Option<&'a str> {
        out.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn client_chosen_text_cannot_hide_a_failure_or_move_the_address() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            // A user name with spaces (OpenSSH_2k.log line 189) is still a failure.
            (
                "Failed password for invalid user  0101 from 5.188.10.180 port 36279 ssh2",
                &[
                    ("user", " 0101"),
                    ("source_ip", "5.188.10.180"),
                    ("outcome", "failure"),
                ],
            ),
            // An empty name too.
            (
                "Invalid user  from 203.0.113.9",
                &[
                    ("user", ""),
                    ("source_ip", "203.0.113.9"),
                    ("outcome", "invalid_user"),
                ],
            ),
            // A name that imitates the rest of the line does not move the
            // address sshd wrote after it (fail2ban's log-injection class).
            (
                "Failed password for invalid user x from 10.9.9.9 port 1 ssh2 from 203.0.113.9 port 22 ssh2",
                &[
                    ("user", "x from 10.9.9.9 port 1 ssh2"),
                    ("source_ip", "203.0.113.9"),
                ],
            ),
            (
                "Invalid user a from 6.6.6.6 from 203.0.113.9",
                &[("source_ip", "203.0.113.9")],
            ),
            // A repeated line's count is the server's, before the name.
            (
                "message repeated 5 times: [ Failed password for root from 203.0.113.9 port 22 ssh2]",
                &[("repeated", "5"), ("user", "root")],
            ),
            // Ordinary lines as before.
            (
                "Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
                &[
                    ("user", "fztu"),
                    ("source_ip", "119.137.62.142"),
                    ("outcome", "success"),
                ],
            ),
            // Other methods are failures and successes too (PAM's
            // keyboard-interactive is how many hosts take passwords); a
            // rejected key or the `none` method every client tries first
            // are not.
            (
                "Failed keyboard-interactive/pam for invalid user oracle from 203.0.113.9 port 5 ssh2",
                &[
                    ("outcome", "failure"),
                    ("action", "keyboard-interactive/pam"),
                    ("user", "oracle"),
                ],
            ),
            (
                "message repeated 3 times: [ Failed keyboard-interactive/pam for root from 203.0.113.9 port 5 ssh2]",
                &[("outcome", "failure"), ("repeated", "3")],
            ),
            (
                "Accepted keyboard-interactive/pam for root from 203.0.113.9 port 5 ssh2",
                &[("outcome", "success")],
            ),
            (
                "Accepted publickey for git from 203.0.113.9 port 5 ssh2: RSA SHA256:x",
                &[("action", "publickey")],
            ),
            (
                "Failed publickey for git from 203.0.113.9 port 5 ssh2: RSA SHA256:x",
                &[("outcome", "key_rejected")],
            ),
            (
                "Failed none for root from 203.0.113.9 port 5 ssh2",
                &[("outcome", "no_auth")],
            ),
        ];
        for (line, want) in cases {
            let out = extract_sshd(line);
            for (k, v) in *want {
                assert_eq!(field(&out, k), Some(*v), "{line}: {k}");
            }
        }
        // The pattern's last capture is one word and not empty.
        assert!(extract_sshd("Invalid user bob from ").is_empty());
    }

    #[test]
    fn a_record_may_claim_a_time_up_to_five_minutes_after_the_host_s() {
        let e = Engine::new(Policy::preset("ecs").unwrap());
        let h = 1_449_727_200.0;
        let at = |own: f64, host: Option<f64>| {
            let ev = [("@timestamp", FieldValue::Num(own))];
            e.event_time(&ev[..], &[], host.map(|h| (h * 1e9) as i64))
        };
        assert_eq!(at(h + 240.0, Some(h)), h + 240.0, "skew");
        assert_eq!(at(h + 300.0, Some(h)), h + 300.0);
        assert_eq!(at(h + 301.0, Some(h)), h, "later than the host allows");
        assert_eq!(at(h - 86_400.0, Some(h)), h - 86_400.0, "late is fine");
        assert_eq!(at(h + 86_400.0, None), h + 86_400.0, "no host time");
    }

    #[test]
    fn current_openssh_lines_give_their_user_and_address() {
        // OpenSSH 7.5 and later name the connection as `[invalid user X |
        // authenticating user X | user X] ADDR port N` (packet.c,
        // `sshpkt_fmt_connection_id`), and `Received disconnect` carries the
        // client's own reason after the address. Before, `Connection closed
        // by ADDR port N [preauth]` gave the address `ADDR port N`.
        let ip = "203.0.113.9";
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "Connection closed by 203.0.113.9 port 52144 [preauth]",
                &[("source_ip", ip), ("outcome", "preauth_close")],
            ),
            (
                "Connection reset by 203.0.113.9 port 52144 [preauth]",
                &[("source_ip", ip), ("outcome", "preauth_close")],
            ),
            (
                "Connection closed by invalid user admin 203.0.113.9 port 52144 [preauth]",
                &[
                    ("user", "admin"),
                    ("source_ip", ip),
                    ("invalid_user", "true"),
                ],
            ),
            (
                "Connection closed by authenticating user root 203.0.113.9 port 52144 [preauth]",
                &[("user", "root"), ("source_ip", ip)],
            ),
            // a name that imitates the address and port sshd writes after it
            (
                "Connection closed by invalid user a 10.0.0.7 port 1 203.0.113.9 port 52144 [preauth]",
                &[("user", "a 10.0.0.7 port 1"), ("source_ip", ip)],
            ),
            // a name that imitates a PAM line does not make one
            (
                "Connection closed by invalid user rhost=10.0.0.7 203.0.113.9 port 1 [preauth]",
                &[("source_ip", ip), ("outcome", "preauth_close")],
            ),
            (
                "Disconnected from invalid user oracle 203.0.113.9 port 52144 [preauth]",
                &[
                    ("user", "oracle"),
                    ("source_ip", ip),
                    ("outcome", "disconnect"),
                ],
            ),
            (
                "Disconnected from authenticating user root 203.0.113.9 port 52144 [preauth]",
                &[("user", "root"), ("source_ip", ip)],
            ),
            (
                "Disconnected from user alice 203.0.113.9 port 50022",
                &[("user", "alice"), ("source_ip", ip)],
            ),
            (
                "Received disconnect from 203.0.113.9 port 52144:11: Bye Bye [preauth]",
                &[("source_ip", ip), ("outcome", "disconnect")],
            ),
            // the reason is the client's: it cannot move the address
            (
                "Received disconnect from 203.0.113.9 port 52144:11: x 10.0.0.7 port 9 [preauth]",
                &[("source_ip", ip)],
            ),
            // OpenSSH_2k.log's older form, any reason
            (
                "error: Received disconnect from 103.99.0.122: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
                &[("source_ip", "103.99.0.122"), ("outcome", "disconnect")],
            ),
            (
                "Received disconnect from 203.0.113.9: 11: disconnected by user",
                &[("source_ip", ip)],
            ),
            (
                "Disconnecting invalid user admin 203.0.113.9 port 52144: Too many authentication failures [preauth]",
                &[("user", "admin"), ("source_ip", ip)],
            ),
            (
                "Disconnecting authenticating user root 203.0.113.9 port 52144: Too many authentication failures [preauth]",
                &[("user", "root"), ("source_ip", ip)],
            ),
            (
                "error: maximum authentication attempts exceeded for invalid user admin from 203.0.113.9 port 52144 ssh2 [preauth]",
                &[
                    ("user", "admin"),
                    ("source_ip", ip),
                    ("outcome", "max_attempts"),
                ],
            ),
            (
                "error: maximum authentication attempts exceeded for root from 203.0.113.9 port 52144 ssh2 [preauth]",
                &[
                    ("user", "root"),
                    ("source_ip", ip),
                    ("outcome", "max_attempts"),
                ],
            ),
            (
                "Disconnecting: Too many authentication failures for admin [preauth]",
                &[("user", "admin"), ("outcome", "max_attempts")],
            ),
            (
                "User root from 203.0.113.9 not allowed because not listed in AllowUsers",
                &[
                    ("user", "root"),
                    ("source_ip", ip),
                    ("outcome", "not_allowed"),
                ],
            ),
            (
                "Unable to negotiate with 203.0.113.9 port 52144: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]",
                &[("source_ip", ip), ("outcome", "negotiation_failed")],
            ),
            (
                "banner exchange: Connection from 203.0.113.9 port 52144: invalid format",
                &[("source_ip", ip), ("outcome", "bad_banner")],
            ),
            // the client's banner, which may hold anything
            (
                "Bad protocol version identification 'GET / HTTP/1.1 from 10.0.0.7 port 1' from 203.0.113.9 port 52144",
                &[
                    ("banner", "'GET / HTTP/1.1 from 10.0.0.7 port 1'"),
                    ("source_ip", ip),
                    ("outcome", "bad_banner"),
                ],
            ),
            (
                "Bad protocol version identification 'x y' from 203.0.113.9",
                &[("banner", "'x y'"), ("source_ip", ip)],
            ),
            (
                "error: kex_exchange_identification: client sent invalid protocol identifier \"GET / HTTP/1.1\"",
                &[("banner", "GET / HTTP/1.1"), ("outcome", "bad_banner")],
            ),
            (
                "Timeout before authentication for 203.0.113.9 port 52144",
                &[("source_ip", ip), ("outcome", "timeout")],
            ),
            (
                "Did not receive identification string from 203.0.113.9 port 52144",
                &[("source_ip", ip), ("outcome", "no_ident")],
            ),
            (
                "Invalid user admin from 203.0.113.9 port 52144",
                &[
                    ("user", "admin"),
                    ("source_ip", ip),
                    ("outcome", "invalid_user"),
                ],
            ),
            (
                "input_userauth_request: invalid user a b [preauth]",
                &[("user", "a b"), ("outcome", "invalid_user_request")],
            ),
            (
                "Connection closed by 203.0.113.9 [preauth]",
                &[("source_ip", ip), ("outcome", "preauth_close")],
            ),
        ];
        for (line, want) in cases {
            let out = extract_sshd(line);
            for (k, v) in *want {
                assert_eq!(field(&out, k), Some(*v), "{line}: {k} in {out:?}");
            }
        }
        // A line sshd writes before any user or address is known: nothing.
        assert!(
            extract_sshd("Connection from 203.0.113.9 port 52144 on 10.0.0.1 port 22").is_empty()
        );
    }

    #[test]
    fn the_extraction_budget_stops_at_its_steps_and_its_bytes() {
        // The first search of a long line is always allowed; the next is
        // refused once the bytes searched would pass 1 MiB.
        let mut b = Budget::new();
        assert!(b.take(600_000));
        assert!(b.take(400_000));
        assert!(!b.take(100_000));
        // Short searches run out of steps instead.
        let mut b = Budget::new();
        assert!((0..Budget::STEPS).all(|_| b.take(10)));
        assert!(!b.take(10));
        // A single search longer than the byte budget is still made once.
        let mut b = Budget::new();
        assert!(b.take(5 << 20));
        assert!(!b.take(1));
    }

    #[test]
    fn a_line_built_to_make_extraction_slow_costs_bounded_work() {
        // 100,000 places where ` from ` could end the user name and none
        // where ` port` follows: without the step bound the search tries
        // them all, for each first literal; with it, a few scans of the line.
        let line = format!(
            "Failed password for invalid user {}x",
            " from 1.2.3.4".repeat(100_000)
        );
        assert!(extract_sshd(&line).iter().all(|(k, _)| k != "source_ip"));
        // A long name that does end well is still found.
        let line = format!(
            "Failed password for invalid user {} from 203.0.113.9 port 22 ssh2",
            "a".repeat(100_000)
        );
        assert_eq!(
            field(&extract_sshd(&line), "source_ip"),
            Some("203.0.113.9")
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(network("203.0.113.9"), "203.0.113.0/24");
        assert_eq!(network("2001:db8:1:2::1"), "2001:db8:1::/48");
        assert_eq!(network("2001:0db8:0001:ffff::1"), "2001:db8:1::/48");
        assert_eq!(network("2001::1"), "2001::/48");
        assert_eq!(network("::1"), "::/48");
        assert_eq!(network("fe80::"), "fe80::/48");
        assert_eq!(network("::ffff:198.51.100.7"), "198.51.100.0/24");
        assert_eq!(network("::FFFF:c633:6407"), "198.51.100.0/24");
        assert_eq!(network("198.51.100.7:5555"), "198.51.100.0/24");
        assert_eq!(network("[2001:db8:1:2::1]:443"), "2001:db8:1::/48");
        assert_eq!(without_port("192.168.225.174:49848"), "192.168.225.174");
        assert_eq!(without_port("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(
            without_port("::ffff:203.0.113.9:51234"),
            "::ffff:203.0.113.9"
        );
        assert_eq!(without_port("[fe80::1%eth0]:443"), "fe80::1%eth0");
        assert_eq!(without_port("2001:db8::1:443"), "2001:db8::1:443");
        for as_is in [
            "2001:db8::1",
            "::ffff:1.2.3.4",
            "10.0.0.1",
            "host:80",
            "1.2.3.4:",
            "1.2.3.4:123456",
            "[x]:1",
            "1.2.3.4:8a",
            "",
        ] {
            assert_eq!(without_port(as_is), as_is);
        }
        assert_eq!(network("fe80::1%eth0"), "fe80::1%eth0");
        assert_eq!(network("not:an:address"), "not:an:address");
        assert_eq!(network("localhost"), "localhost");
        assert_eq!(
            network("cloudformation.amazonaws.com"),
            "cloudformation.amazonaws.com"
        );
        assert_eq!(network("AWS Internal"), "AWS Internal");
        assert_eq!(network("10.1.2"), "10.1.2");
        assert_eq!(network(""), "");
        assert_eq!(dur(600.0), "10m");
        assert_eq!(dur(3720.0), "1h02m");
        assert_eq!(hour_of(3.0 * 3600.0 + 5.0), 3);
        assert_eq!(dow_of(0.0), 3); // Thursday
        assert_eq!(thousands(1234567), "1,234,567");
        let l = lambda_for(5, 0.001);
        assert!((num::poisson_sf_ge(6.0, l) - 0.001).abs() < 1e-6);
    }

    proptest::proptest! {
        /// `network` against a plain definition: four dotted numbers are
        /// cut at the last dot; anything else is parsed, and what is not
        /// an address stays as it is.
        #[test]
        fn network_agrees_with_its_definition(ip in "[0-9a-fé:.%\\[\\]]{0,24}|[0-9.]{0,16}|[a-z0-9.]{0,20}") {
            let parts: Vec<&str> = ip.split('.').collect();
            let reference = if parts.len() == 4 && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
                format!("{}.0/24", &ip[..ip.rfind('.').unwrap()])
            } else {
                let a: Option<std::net::IpAddr> = ip
                    .parse()
                    .ok()
                    .or_else(|| ip.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()));
                match a.map(|a| a.to_canonical()) {
                    Some(std::net::IpAddr::V4(v)) => {
                        let o = v.octets();
                        format!("{}.{}.{}.0/24", o[0], o[1], o[2])
                    }
                    Some(std::net::IpAddr::V6(v)) => {
                        let g = v.segments();
                        let net = std::net::Ipv6Addr::new(g[0], g[1], g[2], 0, 0, 0, 0, 0);
                        format!("{net}/48")
                    }
                    None => ip.to_string(),
                }
            };
            proptest::prop_assert_eq!(network(&ip), reference);
        }

        /// Every IPv6 address, written any way the parser accepts.
        #[test]
        fn network_of_any_ipv6_address(g in proptest::array::uniform8(0u16..)) {
            let a = std::net::Ipv6Addr::from(g);
            let want = match a.to_ipv4_mapped() {
                Some(v) => {
                    let o = v.octets();
                    format!("{}.{}.{}.0/24", o[0], o[1], o[2])
                }
                None => format!("{}/48", std::net::Ipv6Addr::new(g[0], g[1], g[2], 0, 0, 0, 0, 0)),
            };
            proptest::prop_assert_eq!(network(&a.to_string()), want.clone());
            let long = g.iter().map(|x| format!("{x:04x}")).collect::<Vec<_>>().join(":");
            proptest::prop_assert_eq!(network(&long), want);
        }
    }
}

// What the compiled policy holds on the heap (see `crate::heap`); the
// learned state (tables, sketches, templates) is counted apart, in
// `Engine::memory_bytes`.
mod heap {
    use super::*;
    use crate::heap::{Heap, heap_of};

    impl Heap for Kind {
        fn heap(&self) -> usize {
            match self {
                Kind::SourceNet(v, _) => v.heap(),
                _ => 0,
            }
        }
    }
    impl Heap for Seg {
        fn heap(&self) -> usize {
            match self {
                Seg::Lit(s) | Seg::Cap(s, _) => s.heap(),
            }
        }
    }
    impl Heap for DPiece {
        fn heap(&self) -> usize {
            match self {
                DPiece::Text(s) => s.heap(),
                DPiece::Field(f) => f.heap(),
                DPiece::Own(_) => 0,
            }
        }
    }
    heap_of!(FieldRef { name, paths, kind });
    heap_of!(Extractor {
        from,
        segs,
        set,
        guard
    });
    heap_of!(CCond { f, c, outcome_eq });
    impl Heap for Describe {
        fn heap(&self) -> usize {
            self.0.heap()
        }
    }
    heap_of!(Allowed {
        f,
        values,
        detector
    });
    heap_of!(Threshold {
        filter,
        group,
        weight,
        describe
    });
    heap_of!(DistinctDet {
        filter,
        group,
        distinct,
        describe
    });
    heap_of!(FollowedBy {
        first,
        then,
        group,
        weight,
        describe
    });
    heap_of!(Rate {
        filter,
        group,
        value,
        err
    });
    heap_of!(Gauge {
        filter,
        group,
        value
    });
    heap_of!(NewValue { filter, features });
    heap_of!(Hour { filter });
    heap_of!(Peer {
        filter,
        entity,
        group,
        feature
    });
    heap_of!(Travel {
        filter,
        entity,
        lat,
        lon
    });
    heap_of!(Sequence {
        filter,
        end,
        session,
        template,
        message
    });
    heap_of!(Composition {
        filter,
        end,
        session,
        template
    });
    heap_of!(Group { entity });

    impl Heap for Det {
        fn heap(&self) -> usize {
            match self {
                Det::Threshold(x) => x.heap(),
                Det::Distinct(x) => x.heap(),
                Det::FollowedBy(x) => x.heap(),
                Det::Rate(x) => x.heap(),
                Det::Gauge(x) => x.heap(),
                Det::NewValue(x) => x.heap(),
                Det::Hour(x) => x.heap(),
                Det::Peer(x) => x.heap(),
                Det::Travel(x) => x.heap(),
                Det::Sequence(x) => x.heap(),
                Det::Composition(x) => x.heap(),
            }
        }
    }

    impl Engine {
        /// What the policy and its compiled form hold on the heap, with
        /// the engine's lists of them (the tables and sketches in those
        /// lists are counted apart): see `crate::heap`.
        pub(super) fn config_heap(&self) -> usize {
            self.policy.heap()
                + self.names.heap()
                + self.dets.heap()
                + self.groups.heap()
                + self.group_q.heap()
                + self.extract.heap()
                + self.allow.heap()
                + self.sup_folded.heap()
                + self.folds_entity.heap()
                + self.skip.heap()
                + self.ts.heap()
                + self.profs_buf.capacity() * size_of::<Option<(u64, Profile)>>()
        }
    }
}

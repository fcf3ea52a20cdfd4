//! Event fields: compiled field paths, `extract` patterns, conditions and
//! the per-event field cache every detector reads through.

use super::*;

#[derive(Clone, Debug)]
pub(super) enum Kind {
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
pub(super) struct FieldRef {
    pub(super) name: String,
    pub(super) paths: Vec<String>,
    pub(super) kind: Kind,
    /// Per-event lookup cache key.
    pub(super) key: CacheKey,
}

/// Where a field's lookup is kept for the rest of an event: the fields
/// the policy maps (`fields`) each have a slot of their own, found without
/// a search; other names are found by the hash of their name.
#[derive(Clone, Copy, Debug)]
pub(super) struct CacheKey {
    pub(super) hash: u64,
    /// Position of the name among the policy's mapped fields, if below
    /// [`FieldCache::SLOTS`]; `u8::MAX` otherwise.
    pub(super) slot: u8,
}

impl CacheKey {
    pub(super) fn new(p: &Policy, name: &str) -> CacheKey {
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
    pub(super) fn new(p: &Policy, name: &str) -> FieldRef {
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
pub(super) fn fv_str(v: FieldValue<'_>) -> Cow<'_, str> {
    match v {
        FieldValue::Str(s) => Cow::Borrowed(s),
        FieldValue::Num(n) => Cow::Owned(fmt_num(n)),
        FieldValue::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
    }
}

/// A value as a number: a finite number, numeric text (trimmed), a bool
/// as 1 or 0.
pub(super) fn num_of(v: FieldValue<'_>) -> Option<f64> {
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
pub(super) fn cond_on<'v>(
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

/// Whether a value is a value: not one of the policy's `absent` texts.
#[inline]
pub(super) fn present(absent: &[String], v: FieldValue<'_>) -> bool {
    match v {
        FieldValue::Str(s) => !absent.iter().any(|a| a == s),
        _ => true,
    }
}

/// A `fold_case` field's value: trimmed and lowercased (Unicode), borrowed
/// when it is so already.
pub(super) fn fold(v: &str) -> Cow<'_, str> {
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
pub(super) fn outcome_is(x: &str, v: &str) -> bool {
    x.eq_ignore_ascii_case(v.trim())
}

/// An outcome value's class: 1 failure, 2 success, 3 neither (exact text
/// first, almost every event, then loosely).
pub(super) fn outcome_class_of(o: &crate::policy::Outcome, v: &str) -> u8 {
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
pub(super) fn class_text(class: u8, v: Cow<'_, str>) -> Cow<'_, str> {
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
pub(super) fn network(ip: &str) -> String {
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
pub(super) fn without_port(v: &str) -> &str {
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

/// An IPv6 address in its canonical text (RFC 5952: lowercase, the
/// longest run of zero groups compressed; a zone kept as written) and an
/// IPv4-mapped one (`::ffff:10.0.0.5`, a dual-stack socket's view of an
/// IPv4 client) as the IPv4 address; anything else as it is. One client is
/// one entity and one allowlist entry however its address is spelt (an
/// allowlisted `10.0.0.5` still alerted as `::ffff:10.0.0.5`, and
/// `2001:db8::5` as `2001:DB8::5`: found by review).
pub(super) fn canonical_ip(v: &str) -> Cow<'_, str> {
    use core::net::Ipv6Addr;
    if !v.contains(':') {
        return Cow::Borrowed(v);
    }
    let (addr, zone) = v.split_once('%').map_or((v, None), |(a, z)| (a, Some(z)));
    let Ok(a) = addr.parse::<Ipv6Addr>() else {
        return Cow::Borrowed(v);
    };
    let text = match (a.to_ipv4_mapped(), zone) {
        // an IPv4 address has no zone
        (Some(m), _) => m.to_string(),
        (None, Some(z)) => format!("{a}%{z}"),
        (None, None) => a.to_string(),
    };
    if text == v {
        Cow::Borrowed(v)
    } else {
        Cow::Owned(text)
    }
}

#[inline(never)]
pub(super) fn network_parsed(ip: &str) -> String {
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
pub(super) enum Seg {
    Lit(String),
    /// A capture: its name and type.
    Cap(String, Ty),
}

/// A capture's type (README "Extraction").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
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
pub(super) struct Extractor {
    pub(super) from: FieldRef,
    pub(super) segs: Vec<Seg>,
    pub(super) set: Vec<(String, String)>,
    /// The first word of the pattern's leading literal and a number shared
    /// by every pattern with the same word and `from` field (below 64), so
    /// one comparison per event tells all of them that the text does not
    /// start with it.
    pub(super) guard: Option<(u8, String)>,
}

impl Extractor {
    pub(super) fn new(p: &Policy, e: &Extract) -> Extractor {
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
    pub(super) fn apply(
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
    pub(super) fn captures<'s>(
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
pub(super) fn rfind_lit(hay: &str, l: &str) -> Option<usize> {
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
pub(super) struct Budget {
    pub(super) steps: u32,
    pub(super) bytes: usize,
}

impl Budget {
    pub(super) const STEPS: u32 = 256;
    pub(super) const BYTES: usize = 1 << 20;

    pub(super) fn new() -> Budget {
        Budget {
            steps: Budget::STEPS,
            bytes: 0,
        }
    }

    /// May one more search of `n` bytes be made? (Counts it.)
    pub(super) fn take(&mut self, n: usize) -> bool {
        if self.steps == 0 || (self.bytes > 0 && self.bytes + n > Budget::BYTES) {
            return false;
        }
        self.steps -= 1;
        self.bytes += n.max(1);
        true
    }
}

/// What [`Engine::extracted`] found in one event.
pub(super) struct Found<'e> {
    /// Captured fields (in pattern order), then the pattern's `set` fields.
    pub(super) fields: Vec<(String, String)>,
    /// Byte ranges of the captured values in the text, in `fields`' order.
    pub(super) spans: Vec<(usize, usize)>,
    /// The field the matching pattern read (its name's hash) and its text.
    pub(super) from: Option<(u64, &'e str)>,
}

impl Found<'_> {
    /// The context detectors read an event through: its fields, what
    /// extraction found in it, the time it is scored at and whether the
    /// engine is still learning.
    pub(super) fn ctx<'a, 'e, E: Event + ?Sized>(
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
            absent: &policy.absent,
            t,
            learning,
            min_events: policy.learning.min_entity_events,
            report_p: policy.alerting.evidence_p,
            decayed_at: f64::NEG_INFINITY,
            lived: f64::NAN,
            refused: false,
        }
    }

    pub(super) fn masked(&self) -> Option<Masked<'_>> {
        let (from, text) = self.from?;
        Some(Masked {
            from,
            text,
            spans: &self.spans,
        })
    }
}

#[derive(Clone, Copy)]
pub(super) struct Masked<'a> {
    pub(super) from: u64,
    pub(super) text: &'a str,
    pub(super) spans: &'a [(usize, usize)],
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
    pub(super) fn masked_text(&self, f: &FieldRef, out: &mut String) -> bool {
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

pub(super) struct Ctx<'a, 'e, E: ?Sized> {
    pub(super) ev: &'e E,
    /// Raw field lookups already done for this event (several detectors read the same fields).
    /// By reference: built in place, not copied into the context.
    pub(super) cache: &'a FieldCache<'e>,
    /// The `outcome` field's class once worked out for this event (0: not
    /// yet, 1: failure, 2: success, 3: neither): several rules test it, and
    /// each test compared the value with both lists.
    pub(super) outcome_class: Cell<u8>,
    pub(super) ex: &'a [(String, String)],
    /// The text the matching `extract` pattern read and where its captures
    /// (`ex`'s first entries, in order) sit in it.
    pub(super) masked: Option<Masked<'a>>,
    pub(super) outcome: &'a Outcome,
    /// The policy's `absent` values: a path holding one is not present.
    pub(super) absent: &'a [String],
    pub(super) t: f64,
    pub(super) learning: bool,
    pub(super) min_events: u32,
    pub(super) report_p: f64,
    /// The latest time the stream has lived at (`Engine::peak_t`; NaN
    /// before any): what a `rate` series counted past it was no life of
    /// the stream (a broken first record).
    pub(super) lived: f64,
    /// When learned counts last halved (see [`Engine::maybe_decay`]):
    /// a count of 1 before then may be 0 now, so a value with no count
    /// is known unseen only since then.
    pub(super) decayed_at: f64,
    /// The event is scored at the clock's time, not its own: a jump the
    /// clock has not confirmed (see [`Engine::clock`]). A `rate` series
    /// counts it in no bucket (a replay interleaved with the live stream
    /// counted every replayed record in the live bucket: found by review).
    pub(super) refused: bool,
}

/// Lookups of one event, on the stack: a slot for each of the first
/// [`FieldCache::SLOTS`] mapped fields, and the first [`FieldCache::N`]
/// other names read (more are looked up each time they are read).
pub(super) struct FieldCache<'a> {
    /// Bit `i`: `slots[i]` holds its field's lookup.
    pub(super) have: Cell<u16>,
    pub(super) slots: [Cell<Option<FieldValue<'a>>>; FieldCache::SLOTS],
    pub(super) n: Cell<usize>,
    pub(super) keys: [Cell<u64>; FieldCache::N],
    pub(super) vals: [Cell<Option<FieldValue<'a>>>; FieldCache::N],
}

impl<'a> FieldCache<'a> {
    pub(super) const SLOTS: usize = 16;
    pub(super) const N: usize = 8;

    /// The lookup in a mapped field's slot, if it was done this event.
    #[inline]
    pub(super) fn slot(&self, slot: u8) -> Option<Option<FieldValue<'a>>> {
        let s = slot as usize;
        (s < Self::SLOTS && self.have.get() & (1 << s) != 0).then(|| self.slots[s].get())
    }

    pub(super) fn new() -> Self {
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
    /// A path's value, unless it is one of the policy's `absent` values.
    #[inline]
    pub(super) fn field(&self, path: &str) -> Option<FieldValue<'e>> {
        self.ev.field(path).filter(|v| present(self.absent, *v))
    }

    pub(super) fn raw(&self, paths: &[String], key: CacheKey) -> Option<FieldValue<'a>> {
        let c = &self.cache;
        if let Some(v) = c.slot(key.slot) {
            return v;
        }
        let slot = key.slot as usize;
        if let Some(cell) = c.slots.get(slot) {
            let v = paths.iter().find_map(|p| self.field(p));
            cell.set(v);
            c.have.set(c.have.get() | 1 << slot);
            return v;
        }
        let n = c.n.get();
        if let Some(i) = c.keys[..n].iter().position(|k| k.get() == key.hash) {
            return c.vals[i].get();
        }
        let v = paths.iter().find_map(|p| self.field(p));
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
    pub(super) fn get(&self, f: &FieldRef) -> Option<Cow<'a, str>> {
        if self.ex.is_empty()
            && matches!(f.kind, Kind::Plain)
            && let Some(v) = self.cache.slot(f.key.slot)
        {
            return v.map(fv_str);
        }
        self.get_uncached(f)
    }

    #[inline(never)]
    pub(super) fn get_uncached(&self, f: &FieldRef) -> Option<Cow<'a, str>> {
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
    pub(super) fn outcome_of(&self, f: &FieldRef) -> Option<(u8, Cow<'a, str>)> {
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
    pub(super) fn shaped<'v>(&self, kind: &Kind, v: FieldValue<'v>) -> Cow<'v, str> {
        match kind {
            Kind::Plain => fv_str(v),
            Kind::Fold => match fv_str(v) {
                Cow::Borrowed(b) => fold(b),
                Cow::Owned(o) => Cow::Owned(fold(&o).into_owned()),
            },
            Kind::SourceIp => match v {
                FieldValue::Str(s) => canonical_ip(without_port(s)),
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
    pub(super) fn coord(&self, f: &FieldRef) -> Option<f64> {
        if let Some((_, v)) = self.ex.iter().find(|(k, _)| *k == f.name) {
            return v.trim().parse::<f64>().ok().filter(|x| x.is_finite());
        }
        match self.raw(&f.paths, f.key)? {
            FieldValue::Bool(_) => None,
            v => num_of(v),
        }
    }

    pub(super) fn num(&self, f: &FieldRef) -> Option<f64> {
        if let Some((_, v)) = self.ex.iter().find(|(k, _)| *k == f.name) {
            return v.trim().parse::<f64>().ok().filter(|x| x.is_finite());
        }
        num_of(self.raw(&f.paths, f.key)?)
    }

    #[inline]
    pub(super) fn check(&self, c: &CCond) -> bool {
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
    pub(super) fn check_any(&self, c: &CCond) -> bool {
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
            } else if let Some(v) = self.field(p) {
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
    pub(super) fn check_inner(&self, c: &CCond, f: &FieldRef) -> bool {
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

    pub(super) fn all(&self, cs: &[CCond]) -> bool {
        cs.iter().all(|c| self.check(c))
    }
}

#[derive(Clone, Debug)]
pub(super) struct CCond {
    pub(super) f: FieldRef,
    pub(super) c: Condition,
    /// For an `outcome` field's `eq` with a string (and nothing else to
    /// test): the string, and whether it names the failure and the success
    /// class.
    pub(super) outcome_eq: Option<(String, [bool; 2])>,
    /// The field is written `name.*` (`f` is then `name`): any item of
    /// the array meets the condition ([`Ctx::check_any`]).
    pub(super) any: bool,
}

/// How many items of an array a `name.*` condition looks at.
pub(super) const ANY_ITEMS: usize = 256;

pub(super) fn conds(p: &Policy, cs: &[Condition]) -> Vec<CCond> {
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
            // An address is compared as the field reads it: without its
            // port, in its canonical text.
            if matches!(f.kind, Kind::SourceIp) {
                let canon = |s: &mut String| *s = canonical_ip(without_port(s)).into_owned();
                if let Some(serde_json::Value::String(s)) = &mut c.eq {
                    canon(s);
                }
                c.one_of.iter_mut().flatten().for_each(canon);
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

//! A Drain-style log template miner (He et al., ICWS 2017): a fixed-depth
//! parse tree keyed by token count and the first tokens, then the most
//! similar template in the leaf above a similarity threshold, else a new one.
//! Bounded by `max_templates`, and each run of first tokens by
//! [`Drain::max_per_prefix`], so one kind of line whose text a client
//! writes (and that no extraction pattern masks) cannot take the whole
//! budget; deterministic (BTreeMap, no hashing order).

use crate::store::hash_str;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

pub const WILDCARD: &str = "<*>";
/// How the template of an empty or blank line reads.
pub const EMPTY: &str = "<empty>";
pub(crate) const MAX_TOKENS: usize = 64;
/// Tokens longer than this are variables (`<*>`): keeps templates small.
pub(crate) const MAX_TOKEN_LEN: usize = 48;
/// Worst-case bytes of one template (tokens + their headers + leaf share;
/// the leaf share, 96 bytes, also covers its prefix's count, at most one
/// per leaf, 12 bytes and its map node: kept as it was, since the budget's
/// split into sketches follows it and a restored snapshot must find the
/// sizes it was written with).
pub const MAX_TEMPLATE_BYTES: usize = 24 + MAX_TOKENS * (24 + MAX_TOKEN_LEN) + 96;

#[derive(Debug, Clone, PartialEq)]
pub struct Drain {
    similarity: f64,
    prefix: usize,
    max_templates: usize,
    templates: Vec<Vec<String>>,
    /// Leaves by token count and a hash of the first `prefix` tokens (the
    /// tokens themselves are compared too: a collision only shares a list).
    leaves: BTreeMap<(usize, u64), Vec<u32>>,
    /// Templates per hash of the first `prefix` tokens, whatever their
    /// length (worked out again on restore).
    per_prefix: BTreeMap<u64, u32>,
}

/// A line's tokens, on the stack (a line is read for every event).
struct Toks<'a> {
    n: usize,
    t: [&'a str; MAX_TOKENS],
}

impl<'a> core::ops::Deref for Toks<'a> {
    type Target = [&'a str];
    fn deref(&self) -> &[&'a str] {
        &self.t[..self.n]
    }
}

/// Variable-looking tokens: numbers, addresses, ids with digits and punctuation, long hex.
fn has_digit(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    b[0].is_ascii_digit()
        || b.iter().any(|c| !c.is_ascii_alphanumeric())
        || (b.len() >= 8 && b.iter().all(|c| c.is_ascii_hexdigit()))
        || digits * 2 >= b.len()
}

impl Drain {
    /// `depth` is Drain's tree depth: `depth - 2` leading tokens select the leaf.
    pub fn new(similarity: f64, depth: usize, max_templates: usize) -> Drain {
        Drain {
            similarity,
            prefix: depth.saturating_sub(2).max(1),
            max_templates: max_templates.max(1),
            templates: Vec::new(),
            leaves: BTreeMap::new(),
            per_prefix: BTreeMap::new(),
        }
    }

    /// The most templates one run of first tokens may have: an eighth of
    /// the budget, at least 16. Drain's first tokens are nearly always the
    /// server's own words (`Received disconnect`, `Invalid user`), so a
    /// flood of lines of one kind with client text of every length and
    /// spelling stops there and leaves the rest of the budget for new
    /// kinds; its further lines are "unknown", each reported as such.
    pub fn max_per_prefix(&self) -> usize {
        (self.max_templates / 8).max(16)
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// The template's text (`<empty>` for the empty line's).
    pub fn template(&self, id: u32) -> Option<String> {
        self.templates.get(id as usize).map(|t| {
            if t.is_empty() {
                EMPTY.to_string()
            } else {
                t.join(" ")
            }
        })
    }

    /// Approximate heap bytes.
    pub fn bytes(&self) -> usize {
        let t: usize = self
            .templates
            .iter()
            .map(|t| 24 + t.iter().map(|s| 24 + s.len()).sum::<usize>())
            .sum();
        t + self.leaves.len() * 96
    }

    fn tokens(line: &str) -> Toks<'_> {
        let mut out = Toks {
            n: 0,
            t: [""; MAX_TOKENS],
        };
        for t in line.split_whitespace().take(MAX_TOKENS) {
            out.t[out.n] = if t.len() > MAX_TOKEN_LEN || has_digit(t) {
                WILDCARD
            } else {
                t
            };
            out.n += 1;
        }
        out
    }

    fn leaf_key<S: AsRef<str>>(toks: &[S], prefix: usize) -> (usize, u64) {
        let h = toks
            .iter()
            .take(prefix)
            .fold(0x1EAF, |h, t| hash_str(h, t.as_ref()));
        (toks.len(), h)
    }

    /// Drain's similarity: the share of the template's tokens the line
    /// has in place. A variable of the template (`<*>`) matches a token the
    /// line masks itself (a number, an address: `<*>` in both), as
    /// Drain3's masked tokens compare equal; Drain's own rule (a template
    /// variable never counts) left a line of mostly numbers below any
    /// threshold against its own template, so the same auditd record
    /// scored twice made two templates (found by review). An empty line
    /// matches the empty template only.
    ///
    /// The template's words must also be in place as much: masked tokens
    /// alone made two auditd records of different commands, results and
    /// keys one template (23 of 28 tokens masked in both), which lost every
    /// word (found by review). So the similarity is the smaller of the two
    /// shares: of all tokens in place (masked ones matching masked ones),
    /// and of the template's words in place (1 when it has none).
    fn sim(t: &[String], toks: &[&str]) -> (f64, usize) {
        if t.is_empty() {
            return (if toks.is_empty() { 1.0 } else { 0.0 }, 0);
        }
        let (mut same, mut wild, mut words, mut words_same) = (0, 0, 0, 0);
        for (a, b) in t.iter().zip(toks) {
            if a == WILDCARD {
                wild += 1;
                if b == &WILDCARD {
                    same += 1;
                }
            } else {
                words += 1;
                if a == b {
                    same += 1;
                    words_same += 1;
                }
            }
        }
        let all = same as f64 / t.len() as f64;
        let w = if words == 0 {
            1.0
        } else {
            words_same as f64 / words as f64
        };
        (all.min(w), wild)
    }

    /// Find the template for a line without learning. `None` if no template matches.
    pub fn lookup(&self, line: &str) -> Option<u32> {
        let toks = Self::tokens(line);
        self.best(&toks)
    }

    fn best(&self, toks: &[&str]) -> Option<u32> {
        let ids = self.leaves.get(&Self::leaf_key(toks, self.prefix))?;
        let mut best: Option<(f64, usize, u32)> = None;
        for &id in ids {
            let t = &self.templates[id as usize];
            if t.iter().zip(toks).take(self.prefix).any(|(a, b)| a != b) {
                continue; // another prefix with the same hash
            }
            let (s, w) = Self::sim(t, toks);
            if s >= self.similarity && best.is_none_or(|(bs, bw, _)| s > bs || (s == bs && w > bw))
            {
                best = Some((s, w, id));
            }
        }
        best.map(|b| b.2)
    }

    /// Match or learn the line's template. Returns `(id, new)`; when the
    /// template budget is exhausted an unmatched line returns `(u32::MAX, true)`.
    pub fn add(&mut self, line: &str) -> (u32, bool) {
        // (An empty or blank line has a template of its own, the empty
        // one: it was "unknown" for good, never learned, and each recurring
        // blank message was reported as a new template: found by review.)
        let toks = Self::tokens(line);
        if let Some(id) = self.best(&toks) {
            let t = &mut self.templates[id as usize];
            for (a, b) in t.iter_mut().zip(toks.iter()) {
                if a != b && a != WILDCARD {
                    *a = WILDCARD.to_string();
                }
            }
            return (id, false);
        }
        if self.templates.len() >= self.max_templates {
            return (u32::MAX, true);
        }
        let key = Self::leaf_key(&toks, self.prefix);
        let cap = self.max_per_prefix();
        let n = self.per_prefix.entry(key.1).or_default();
        if *n as usize >= cap {
            return (u32::MAX, true);
        }
        *n += 1;
        let id = self.templates.len() as u32;
        self.templates
            .push(toks.iter().map(|t| t.to_string()).collect());
        self.leaves.entry(key).or_default().push(id);
        (id, true)
    }

    pub(crate) fn templates(&self) -> &[Vec<String>] {
        &self.templates
    }

    pub(crate) fn set_templates(&mut self, ts: Vec<Vec<String>>) {
        self.templates.clear();
        self.leaves.clear();
        self.per_prefix.clear();
        for t in ts {
            let id = self.templates.len() as u32;
            let key = Self::leaf_key(&t, self.prefix);
            self.leaves.entry(key).or_default().push(id);
            *self.per_prefix.entry(key.1).or_default() += 1;
            self.templates.push(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, vec};

    #[test]
    fn mines() {
        let mut d = Drain::new(0.5, 4, 100);
        let (a, n1) = d.add("Failed password for root from 1.2.3.4 port 22 ssh2");
        let (b, n2) = d.add("Failed password for admin from 5.6.7.8 port 2222 ssh2");
        assert!(n1 && !n2);
        assert_eq!(a, b);
        assert_eq!(
            d.template(a).unwrap(),
            "Failed password for <*> from <*> port <*> ssh2"
        );
        let (c, n3) = d.add("Accepted password for root from 1.2.3.4 port 22 ssh2");
        assert!(n3);
        assert_ne!(a, c);
        assert_eq!(
            d.lookup("Failed password for bob from 9.9.9.9 port 1 ssh2"),
            Some(a)
        );
    }

    #[test]
    fn one_run_of_first_tokens_cannot_take_the_whole_budget() {
        let mut d = Drain::new(0.5, 4, 64);
        assert_eq!(d.max_per_prefix(), 16);
        // lines of 1 to 40 made-up words after the same two: one template
        // per length until the prefix's share is used up
        let line = |n: usize| format!("Client said {}", vec!["blah"; n].join(" "));
        for n in 1..=40 {
            let (id, new) = d.add(&line(n));
            assert!(new);
            assert_eq!(id == u32::MAX, n > 16, "{n}");
        }
        assert_eq!(d.len(), 16);
        // known lengths still match; other kinds still learn
        assert_eq!(d.add(&line(3)), (2, false));
        assert!(d.add("Server listening on port 22").1);
        assert_eq!(d.len(), 17);
        // the count is worked out again on restore
        let mut r = Drain::new(0.5, 4, 64);
        r.set_templates(d.templates().to_vec());
        assert_eq!(r.add(&line(30)), (u32::MAX, true));
        assert!(r.add("Server stopped").1);
        assert_eq!(r.len(), 18);
    }

    #[test]
    fn a_leaf_hash_collision_does_not_merge_prefixes() {
        let mut d = Drain::new(0.5, 4, 100);
        let (a, _) = d.add("Failed password for root from 1.2.3.4 port 22 ssh2");
        // as if "Accepted password" hashed to the same leaf as "Failed password"
        let other = [
            "Accepted", "password", "for", "root", "from", "<*>", "port", "<*>", "ssh2",
        ];
        d.leaves
            .entry(Drain::leaf_key(&other, d.prefix))
            .or_default()
            .push(a);
        assert_eq!(
            d.lookup("Accepted password for root from 1.2.3.4 port 22 ssh2"),
            None
        );
        let (b, new) = d.add("Accepted password for root from 1.2.3.4 port 22 ssh2");
        assert!(new && b != a);
        assert_eq!(
            d.template(a).unwrap(),
            "Failed password for root from <*> port <*> ssh2"
        );
    }
}

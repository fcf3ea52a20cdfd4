//! From findings to one p-value: which findings answer the same question
//! and how the questions combine (Fisher's method).

use super::*;

/// A raw finding before dedup / suppression.
pub(super) struct Hit {
    pub(super) det: usize,
    pub(super) entity: String,
    pub(super) feature: String,
    pub(super) observed: String,
    pub(super) expected: String,
    pub(super) p: f64,
    pub(super) text: String,
    /// The event this finding reports lies within the event another
    /// finding of its question reports (a never-seen template is a next
    /// event unseen after any context), so the two are one test: rejecting
    /// when either p is at most `a` happens with chance at most `a`, and
    /// the pair counts as one value, the smaller (see [`combined_p`]).
    pub(super) nested: bool,
    pub(super) dkey: u64,
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
pub(super) fn same_entity(groups: &[Group]) -> Vec<usize> {
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
pub(super) fn question(dets: &[Det], group_q: &[usize], h: &Hit) -> (u8, usize, u64) {
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
pub(super) fn combined_p(hits: &[Hit], dets: &[Det], group_q: &[usize]) -> f64 {
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

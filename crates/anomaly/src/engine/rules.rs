//! The declarative rules: `threshold`, `distinct` and `followed_by`.

use super::*;

/// The names a `threshold` rule's `describe` can use besides event fields.
pub(super) const OWN_THRESHOLD: &[&str] = &["group", "count", "window", "threshold"];
/// The same for `distinct` (`latest`: the distinct value just counted).
pub(super) const OWN_DISTINCT: &[&str] = &["group", "count", "window", "threshold", "latest"];
/// The same for `followed_by` (`count`: the `first` events before `then`).
pub(super) const OWN_FOLLOWED_BY: &[&str] = &["group", "count", "window", "min_first"];

pub(super) struct Threshold {
    pub(super) filter: Vec<CCond>,
    pub(super) group: FieldRef,
    pub(super) window: f64,
    pub(super) threshold: u32,
    pub(super) expected: f64,
    pub(super) weight: Option<FieldRef>,
    pub(super) describe: Option<Describe>,
    pub(super) table: Table<Win>,
}

pub(super) struct DistinctDet {
    pub(super) filter: Vec<CCond>,
    pub(super) group: FieldRef,
    pub(super) distinct: FieldRef,
    pub(super) window: f64,
    pub(super) threshold: u32,
    pub(super) expected: f64,
    pub(super) describe: Option<Describe>,
    pub(super) table: Table<Dist>,
    /// Mixed into a distinct value's hash before it picks its bit (the
    /// engine's hash key): with the public hash, a spraying list could keep
    /// to names that fall on a few bits (found by review).
    pub(super) salt: u64,
}

pub(super) struct FollowedBy {
    pub(super) first: Vec<CCond>,
    pub(super) then: Vec<CCond>,
    pub(super) group: FieldRef,
    pub(super) min_first: u32,
    pub(super) window: f64,
    pub(super) expected: f64,
    pub(super) weight: Option<FieldRef>,
    pub(super) describe: Option<Describe>,
    pub(super) table: Table<Win>,
}

impl Threshold {
    #[inline(never)]
    pub(super) fn run<E: Event + ?Sized>(
        &mut self,
        c: &Ctx<'_, '_, E>,
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
        let DetId {
            di, name, dseed, ..
        } = id;
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
pub(super) fn weight<E: Event + ?Sized>(c: &Ctx<'_, '_, E>, field: Option<&FieldRef>) -> u16 {
    match field.and_then(|f| c.num(f)) {
        Some(x) if x >= 1.0 && libm::trunc(x) == x => x.min(u16::MAX as f64) as u16,
        _ => 1,
    }
}

impl DistinctDet {
    #[inline(never)]
    pub(super) fn run<E: Event + ?Sized>(
        &mut self,
        c: &Ctx<'_, '_, E>,
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
        let DetId {
            di, name, dseed, ..
        } = id;
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
    pub(super) fn run<E: Event + ?Sized>(
        &mut self,
        c: &Ctx<'_, '_, E>,
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
        let DetId {
            di, name, dseed, ..
        } = id;
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
                            "{g}: {n} `first` event{}, then a `then` event, within {} ({name}; at least {})",
                            if n == 1 { "" } else { "s" },
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

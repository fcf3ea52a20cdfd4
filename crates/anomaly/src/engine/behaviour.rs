//! User behaviour: `new_value`, `hour`, `peer_rare` and `travel`.

use super::*;

pub(super) struct NewValue {
    pub(super) filter: Vec<CCond>,
    pub(super) group: usize,
    pub(super) features: Vec<FieldRef>,
    pub(super) rare: bool,
    /// The profile slot (`distinct`, `seen`) of the first feature; the
    /// `new_value` detectors of one entity take consecutive slots (at
    /// most 8 in all: the policy checks). Before December 2026 each
    /// detector's features began at slot 0, so a second detector's
    /// features were judged by the first's counts (found by review).
    pub(super) slot0: usize,
}

pub(super) struct Hour {
    pub(super) filter: Vec<CCond>,
    pub(super) group: usize,
}

pub(super) struct Peer {
    pub(super) filter: Vec<CCond>,
    pub(super) entity: FieldRef,
    pub(super) group: FieldRef,
    pub(super) feature: FieldRef,
    pub(super) counts: Table<u32>,
}

pub(super) struct Travel {
    pub(super) filter: Vec<CCond>,
    pub(super) entity: FieldRef,
    pub(super) lat: FieldRef,
    pub(super) lon: FieldRef,
    pub(super) max_kmh: f64,
    pub(super) min_km: f64,
    pub(super) table: Table<Loc>,
}

impl Hour {
    #[inline(never)]
    pub(super) fn run<E: Event + ?Sized>(
        &self,
        c: &Ctx<'_, '_, E>,
        groups: &[Group],
        profs: &[Option<(u64, Profile)>],
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
        let DetId { di, dseed, .. } = id;
        let t = c.t;
        // A record whose own time the clock refused has no hour of its own:
        // judged at the clock's, a replayed record of 10:00 was "active at
        // an unusual hour ... now 03:12" (found by review; as
        // `impossible_travel`).
        if !c.all(&self.filter) || c.learning || c.refused {
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
        // Usual: hours with a quarter of the busiest one's count, and more
        // likely than this one (the hours the p sums over are not usual:
        // "usual hours 07-18 UTC, now 17:30" called one hour both, with
        // `report_p` 0.05: found by review).
        let mut usual = [false; 24];
        for (i, u) in usual.iter_mut().enumerate() {
            *u = counts[i] * 4.0 >= mx && counts[i] > 0.0 && pr(i) > ph;
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
    pub(super) fn run<E: Event + ?Sized>(
        &mut self,
        c: &Ctx<'_, '_, E>,
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
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

/// Bins of `peer_rare`'s frequency histogram: half-log2 steps from 1 down
/// to 2^-20 (about one in a million); rarer goes in the last bin.
pub(super) const PEER_BINS: u64 = 40;
/// The group's total when its histogram began.
pub(super) const PEER_START: u64 = PEER_BINS;

pub(super) fn peer_bin(freq: f64) -> u64 {
    ((-2.0 * libm::log2(freq.max(1e-12))) as u64).min(PEER_BINS - 1)
}

/// Key of a group's histogram bin in `Peer::counts` (values are keyed by
/// `combine(group, hash of the value)`).
pub(super) fn peer_hist_key(group: u64, bin: u64) -> u64 {
    combine(group, 0x9EE2_B1A5_0000_0000 | bin)
}

impl Travel {
    #[inline(never)]
    pub(super) fn run<E: Event + ?Sized>(
        &mut self,
        c: &Ctx<'_, '_, E>,
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
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
                // By entity and destination (a 1° cell, about 100 km): a
                // travel to a third place is no repeat (keyed by the
                // entity alone, it was muted: found by review).
                dkey: combine(
                    combine(dseed, hash_str(0, &e)),
                    ((libm::round(lat) as i64 + 90) * 361 + libm::round(lon) as i64 + 180) as u64,
                ),
            });
        }
    }
}

impl NewValue {
    #[inline(never)]
    pub(super) fn run<'a, E: Event + ?Sized>(
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

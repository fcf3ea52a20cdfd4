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

mod behaviour;
mod composition;
mod describe;
mod evidence;
mod fields;
mod heap;
mod helpers;
mod rate;
mod rules;
mod sequence;
mod state;
#[cfg(test)]
mod tests;

use behaviour::*;
use composition::*;
use describe::*;
use evidence::*;
use fields::*;
pub(crate) use helpers::glob;
use helpers::*;
use rate::*;
use rules::*;
pub(crate) use sequence::KEY_MAX;
use sequence::*;
use state::*;

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
    /// The entry as a condition, `{"field": "F.*", "in": values}`: read as
    /// conditions read a field (a list by its items, a value as a list of
    /// one, folded, an address canonical); before December 2026 an entry
    /// on `F.*`, or on a field holding a list, never matched (found by
    /// review).
    c: CCond,
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

/// The policy's `memory_budget_bytes` as a `usize`: validation refuses a
/// budget this target cannot address (above 4 GiB - 1 on wasm32; cast as
/// it was before December 2026, 4 GiB was a budget of 0 there: found by
/// review).
fn budget_of(policy: &Policy) -> usize {
    usize::try_from(policy.memory_budget_bytes).unwrap_or(usize::MAX)
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
        let budget = budget_of(&policy);
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
        let budget = budget_of(&policy).saturating_sub(templates_reserve(&policy) + 4096);
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
                // A list's items are its values (`F` or `F.*` alike): an
                // entry on `tags` matched no event whose `tags` was a list.
                let field = match a.field.strip_suffix(".*") {
                    Some(_) => a.field.clone(),
                    None => format!("{}.*", a.field),
                };
                let cond = Condition {
                    field,
                    one_of: Some(a.values.clone()),
                    ..Condition::default()
                };
                Allowed {
                    c: conds(&policy, core::slice::from_ref(&cond)).remove(0),
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
        budget_of(&self.policy)
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
                let absent = &self.policy.absent;
                match self
                    .ts
                    .paths
                    .iter()
                    .find_map(|p| ev.field(p).filter(|v| present(absent, *v)))
                {
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
            // the learning period keeps the stream time it has lived: a
            // jump back to near the epoch takes `first_t` below 0 (found by
            // CI's property test: such a snapshot did not restore), bounded
            // as `restore` accepts it.
            self.first_t = (self.first_t + t - self.last_t).max(-FIRST_T_FLOOR);
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
        // allowlists, before the detectors: a detector that keeps state
        // about what it reported (`composition`'s one report a session)
        // must not use it up on a finding the allowlist drops (an
        // allowlisted step hid a later new combination of the same
        // session: found by review)
        let mut allowed_all = false;
        let mut allowed: Vec<&str> = Vec::new();
        for a in &self.allow {
            if ctx.check(&a.c) {
                match &a.detector {
                    Some(d) => allowed.push(d.as_str()),
                    None => allowed_all = true,
                }
            }
        }
        for (i, d) in self.dets.iter_mut().enumerate() {
            let id = DetId {
                di: i,
                name: &self.names[i],
                dseed: combine(SEED_DEDUP, i as u64),
                muted: allowed_all || allowed.contains(&self.names[i].as_str()),
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
                    glob(&s.detector, dn)
                        && (glob(&s.entity, &h.entity)
                            || (folds_entity[h.det] && glob(folded, &h.entity)))
                        && glob(&s.feature, &h.feature)
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
        } else {
            // A reported event is at least `low`, whatever the thresholds:
            // with `report_p` above the score of `severity_thresholds[0]`
            // (0.05 beside the default 0.33), flagged events came out at
            // `none`, which routing on severity drops, while their dedup
            // window started (found by review).
            Severity::Low
        };
        hits.truncate(self.policy.alerting.max_reasons);
        // Only what the verdict names was reported: a finding cut by
        // `max_reasons` may come again (before, its window started unseen:
        // found by review).
        if dd > 0.0 {
            // A window never moves back: a late record's report (an
            // hour behind) set it back, and the next live repeat was
            // reported again (found by review).
            for h in &hits {
                let (at, new) = self.dedup.entry(h.dkey);
                if new || now > *at {
                    *at = now;
                }
            }
        }
        let reasons = hits
            .into_iter()
            .map(|h| Reason {
                detector: names[h.det].clone(),
                text: reason_text(h.text, &h.entity),
                entity: h.entity,
                feature: h.feature,
                observed: member_text(h.observed),
                expected: member_text(h.expected),
                p: num::round_sig4(h.p),
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

    /// Serialize all learned state: the versioned byte format (see README)
    /// packed with DEFLATE ([`Engine::snapshot_plain`] gives it unpacked).
    /// A default engine's state is a few megabytes of mostly empty
    /// sketches; packed, a few kilobytes until it fills.
    pub fn snapshot(&self) -> Vec<u8> {
        snapshot::pack(&self.snapshot_plain())
    }

    /// The learned state in the versioned byte format, unpacked: for
    /// tools that read the format. [`Engine::restore`] takes either.
    pub fn snapshot_plain(&self) -> Vec<u8> {
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

    /// Restore state written by [`Engine::snapshot`] (or
    /// [`Engine::snapshot_plain`]) under the same policy. On an error the
    /// engine keeps the state it had.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        if bytes.len() >= 8 && &bytes[..8] == snapshot::PACKED_MAGIC {
            let plain = snapshot::unpack(bytes, self.snapshot_limit())?;
            return self.restore_plain(&plain);
        }
        self.restore_plain(bytes)
    }

    /// The most bytes a plain snapshot of this policy's engine can take:
    /// twice its memory budget (tables write their entries in fewer bytes
    /// than they hold them; sketches as they are) and 16 MiB to spare.
    fn snapshot_limit(&self) -> usize {
        self.memory_budget()
            .saturating_mul(2)
            .saturating_add(16 << 20)
    }

    fn restore_plain(&mut self, bytes: &[u8]) -> Result<(), StateError> {
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
        // (`first_t` moves with a confirmed jump, and below 0 after one back
        // to near the epoch: see `clock`)
        let first_ok = fresh.first_t.is_nan() || (-FIRST_T_FLOOR..=1.0e12).contains(&fresh.first_t);
        if !first_ok
            || ![fresh.last_t, fresh.peak_t, fresh.jump_t]
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

/// The longest entity a reason's text shows whole; a longer one is cut
/// with `…` (the `entity` member keeps it raw).
const TEXT_ENTITY_MAX: usize = 64;
/// The longest reason text, after escapes; a longer one is cut with `…`.
const TEXT_MAX: usize = 1024;

/// A finding's sentence as the verdict shows it: the entity cut to
/// [`TEXT_ENTITY_MAX`] bytes wherever the sentence names it (a client
/// chooses a user name: one of 100 KB was copied whole into the text, twice
/// by `new_value`, and again into the flat `reason`: found by review),
/// escapes for what [`one_line`] escapes, and at most [`TEXT_MAX`] bytes.
fn reason_text(text: String, entity: &str) -> String {
    let text = if entity.len() > TEXT_ENTITY_MAX {
        text.replace(entity, &clip(entity, TEXT_ENTITY_MAX))
    } else {
        text
    };
    member_text(text)
}

/// `observed`, `expected` and a reason's text: escapes for what
/// [`one_line`] escapes (a new user agent's terminal escape and line break
/// were kept in `observed`: found by review), at most [`TEXT_MAX`] bytes.
pub(crate) fn member_text(text: String) -> String {
    let text = one_line(text);
    if text.len() > TEXT_MAX {
        clip(&text, TEXT_MAX)
    } else {
        text
    }
}

/// The detector that runs: its index and name, and the seed of its
/// findings' deduplication keys.
#[derive(Clone, Copy)]
struct DetId<'n> {
    di: usize,
    name: &'n str,
    dseed: u64,
    /// An allowlist entry drops this detector's findings for the event.
    muted: bool,
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

/// The largest step of the event clock one event can make (30 days).
pub const MAX_JUMP_SECS: f64 = 30.0 * 86_400.0;
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

/// How far below the epoch the learning period's start may lie after a
/// confirmed jump back (`Engine::clock`), in seconds: the engine keeps it
/// there and `restore` accepts it.
const FIRST_T_FLOOR: f64 = 1.0e12;

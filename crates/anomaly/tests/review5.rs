//! Review 5 (December 2026): the fixes of review 4 and of the README review
//! (`git diff 3f065af..HEAD`): per-feature `new_value` slots and snapshot
//! format 6, rate silences and their deduplication, the memory budget's
//! minimums. Each test names the behaviour a user expects, says what was
//! found and where the expectation comes from, failed on the code it was
//! written against, and passes since the fix it names.

use logseal_anomaly::store::{hash_bytes, hash_str};
use logseal_anomaly::{Engine, Policy, Verdict};
use serde_json::{Value, json};

/// 2024-01-01T00:00:00Z (a Monday).
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

fn policy(v: &Value) -> Policy {
    Policy::parse(&v.to_string()).expect("policy")
}

fn engine(v: &Value) -> Engine {
    Engine::new(policy(v))
}

fn reasons_of<'a>(v: &'a Verdict, det: &str) -> Vec<&'a logseal_anomaly::Reason> {
    v.reasons.iter().filter(|r| r.detector == det).collect()
}

/// A little-endian reader over a snapshot, for rewriting one by hand.
struct Cur<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cur<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        s
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
}

/// The format 5 snapshot the engine before format 6 wrote for the same
/// state, made from a format 6 (now 9: the same bytes for such a policy but
/// each table's bucket count, formats 7 and 8 changed only rule windows and
/// `sequence`) one of a policy whose only detectors are
/// `new_value` and `unusual_hour` of one entity (so its state is: header,
/// dedup table, one profile table, one sketch). Format 5: version 5, the
/// fingerprint of the whole policy (`hash_str(0xF1F1, Debug)`), profiles of
/// 32 bytes (first minute, last minute, events, 8 distinct counts, 12 hour
/// bytes; no per-slot counts), and `distinct` as `old_distinct` says.
fn as_format5(snap6: &[u8], p: &Policy, old_distinct: impl Fn(&[u8]) -> [u8; 8]) -> Vec<u8> {
    let mut c = Cur { b: snap6, at: 0 };
    let mut out = Vec::new();
    out.extend_from_slice(c.take(8)); // magic
    assert_eq!(u16::from_le_bytes(c.take(2).try_into().unwrap()), 11);
    out.extend_from_slice(&5u16.to_le_bytes());
    c.take(8);
    out.extend_from_slice(&hash_str(0xF1F1, &format!("{p:?}")).to_le_bytes());
    // key, first_t, last_t, events, epoch, peak_t, since_jump, jumps, jump_t
    out.extend_from_slice(c.take(7 * 8 + 4 + 8));
    // format 6's time counts last halved: not in format 5
    c.take(8);
    // dedup table: tick, evictions, (format 9: buckets), n, n x (key, tick, u32)
    out.extend_from_slice(c.take(12));
    c.take(4);
    let n = c.u32();
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(c.take(n as usize * 16));
    // the profile table
    out.extend_from_slice(c.take(12));
    c.take(4);
    let n = c.u32();
    out.extend_from_slice(&n.to_le_bytes());
    for _ in 0..n {
        out.extend_from_slice(c.take(12)); // key, tick
        let first = c.u32();
        let events = c.u32();
        let distinct: [u8; 8] = c.take(8).try_into().unwrap();
        let hours = c.take(12).to_vec();
        c.take(16); // seen: not in format 5
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&first.to_le_bytes()); // last minute (no longer read)
        out.extend_from_slice(&events.to_le_bytes());
        out.extend_from_slice(&old_distinct(&distinct));
        out.extend_from_slice(&hours);
    }
    // the sketch and the rest, then a new checksum
    let rest = &snap6[c.at..snap6.len() - 8];
    out.extend_from_slice(rest);
    let sum = hash_bytes(0x5A5A, &out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

// ------------------------------------------------------ snapshot format 6

/// README, "Per-feature counts (format 6)": "A format 1 to 5 state takes
/// the entity's event count for each slot (what it used before), and a
/// second `new_value` detector of an entity starts from the counts it
/// shared with the first there." Formats 1 to 5 kept a detector's feature
/// `fi` in slot `fi`, so the second detector's feature `fi` must start
/// from the old slot `fi`.
///
/// Found by review (December 2026), in the code before the fix: `Engine::restore` copies `distinct[slot0 + fi] =
/// distinct[fi]` in place, in rising order; when the second detector has
/// more features than the first has (`slot0 < features.len()`), a slot is
/// read after it was overwritten. Here the first detector has one feature
/// (`f`, slot 0) and the second two (`g0` in slot 1, `g1` in slot 2): `g1`
/// starts from slot 0's count (2: `f`'s and `g0`'s values together) rather
/// than from its own old slot 1 (50 values), so after an upgrade a user who
/// works from 50 hosts has every new host reported as "never seen (2 known
/// values)" at p = 0.005, where the engine that wrote the state (and the
/// old engine) see one more of 50 (p = 0.085, no alert). Now the slots are
/// copied from the counts as saved.
#[test]
fn an_older_state_gives_a_second_new_value_detector_its_own_old_counts() {
    let pv = json!({
        "version": 1,
        "learning": {"period_secs": 0, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [
            {"type": "new_value", "name": "nv_a", "entity": "user", "features": ["f"], "rare": false},
            {"type": "new_value", "name": "nv_b", "entity": "user", "features": ["g0", "g1"], "rare": false}
        ]
    });
    let p = policy(&pv);
    let mut e = Engine::new(p.clone());
    for i in 0..600i64 {
        let ev = json!({"timestamp": T0 + i * 60, "user": "alice", "f": "x", "g0": "y",
                        "g1": format!("host{}", i % 50)});
        e.score(&ev, None);
    }
    let next =
        json!({"timestamp": T0 + 600 * 60, "user": "alice", "f": "x", "g0": "y", "g1": "host-new"});
    // The engine that wrote the state: one more host of 50 is no alert.
    let mut same = Engine::new(p.clone());
    same.restore(&e.snapshot_plain()).unwrap();
    let v = same.score(&next, None);
    assert!(reasons_of(&v, "nv_b").is_empty(), "{}", v.to_json());
    // The same state as format 5 wrote it: `f` and `g0` both in slot 0
    // (1 + 1 values), `g1` in slot 1 (50 values).
    let v5 = as_format5(&e.snapshot_plain(), &p, |d| {
        assert_eq!(&d[..3], &[1, 1, 50], "format 6 slots: f, g0, g1");
        [d[0] + d[1], d[2], 0, 0, 0, 0, 0, 0]
    });
    let mut old = Engine::new(p);
    old.restore(&v5)
        .expect("a format 5 state restores under the same policy");
    let v = old.score(&next, None);
    assert!(
        reasons_of(&v, "nv_b").is_empty(),
        "after restoring the format 5 state, g1 (50 known values) starts from slot 0's count: {}",
        v.to_json()
    );
}

// ---------------------------------------------------------------- memory

/// The least budget a policy accepts, read from the error for a smaller one.
fn least_budget(mut v: Value) -> u64 {
    v["memory_budget_bytes"] = json!(65_536);
    match Policy::parse(&v.to_string()) {
        Ok(_) => 65_536,
        Err(e) => {
            assert_eq!(e.key, "memory_budget_bytes", "{e}");
            let m = e.to_string();
            let at = m.find("at least ").expect("the least that fits") + 9;
            m[at..].split(' ').next().unwrap().parse().unwrap()
        }
    }
}

/// README, "Memory": "`memory_budget_bytes` bounds all state", and
/// `composition` "reserves `max_compositions × 40 + 91,290` bytes (its
/// combinations and 255 template keys ...)". So with any accepted budget,
/// `memory_bytes() <= memory_budget()` (what `tests/memory.rs` holds for
/// the presets).
///
/// Found by review (December 2026), in the code before the fix: the
/// learned combinations are a `Vec` grown by `push`
/// (`Composition::run`, `known.push`), which doubles its capacity, and
/// `Engine::memory_bytes` counts `known.capacity() * 40`: with
/// `max_compositions: 2049` the 2,049th combination takes the capacity to
/// 4,096, twice what `CompositionRule::reserve_bytes` set aside, so a
/// policy at the least budget it is accepted with ends 20 KB over it
/// (any `max_compositions` that is not a power of two over-allocates up to
/// 2x). Now `known` doubles only up to `max_compositions`
/// (`reserve_exact`), and a restored one is allocated to its length.
#[test]
fn learned_combinations_stay_within_the_memory_budget() {
    let mut v = json!({
        "version": 1,
        "learning": {"period_secs": 0, "min_entity_events": 1},
        "detectors": [{"type": "composition", "name": "steps", "session": "session",
                       "template": "step", "max_compositions": 2049,
                       "end_where": [{"field": "end", "eq": true}]}]
    });
    let least = least_budget(v.clone());
    v["memory_budget_bytes"] = json!(least);
    let mut e = engine(&v);
    let step = |k: usize| format!("{k:03}-{}", "s".repeat(96));
    let mut sessions = 0;
    'all: for a in 0..100 {
        for b in a + 1..100 {
            let s = format!("sess{a}-{b}");
            e.score(
                &json!({"timestamp": T0 + sessions, "session": s, "step": step(a)}),
                None,
            );
            e.score(
                &json!({"timestamp": T0 + sessions, "session": s, "step": step(b)}),
                None,
            );
            e.score(
                &json!({"timestamp": T0 + sessions, "session": s, "end": true}),
                None,
            );
            sessions += 1;
            if sessions == 2049 {
                break 'all;
            }
        }
    }
    assert!(
        e.memory_bytes() <= e.memory_budget(),
        "{} bytes used of a budget of {} (the least accepted for this policy)",
        e.memory_bytes(),
        e.memory_budget()
    );
}

// ------------------------------------------------------------------ rate

/// README, Timestamps: three records in a row that agree on a time more
/// than 30 days from the clock move it ("a replay of an older log"), and
/// "Replaying an older log into a live engine therefore decays nothing
/// until it passes the latest time seen". A silence finding says "drop: no
/// events for N days from DATE": that must be true of the series the
/// engine counted.
///
/// Found by review (December 2026), in the code before the fix: a series whose records the engine counted hour by hour for 40
/// days gets a few records replayed from day 5; `Rate::run` moves the open
/// bucket back to the replay's hour (the jump-back branch), and when live
/// records resume, the buckets from the replay to now count as empty:
/// "drop: no events for 34 days from 2024-01-06 01:00 UTC", a silence of
/// days the engine itself counted ~33,000 events in (the baseline also
/// learns those 840 zeros). Before e796090 the zeros were only learned;
/// now they are reported. Now each series keeps the latest bucket it
/// opened (`RateState::peak`, saved from format 6), and a gap is judged and
/// learned only after it.
#[test]
fn a_replayed_older_log_is_no_silence_of_the_days_the_engine_counted() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 86_400, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "event_rate", "bucket_secs": 3600,
                       "seasonality": "none", "drops": true}]
    }));
    // 40 days, ~40 events an hour
    for h in 0..40 * 24 {
        let n = 38 + (h * 7) % 5;
        for i in 0..n {
            e.score(&json!({"timestamp": T0 + h * HOUR + i * 3599 / n}), None);
        }
    }
    let mut found = Vec::new();
    // a few records of day 5 replayed, then the live stream goes on
    for i in 0..5 {
        let v = e.score(&json!({"timestamp": T0 + 5 * DAY + i}), None);
        found.extend(reasons_of(&v, "event_rate").iter().map(|r| r.text.clone()));
    }
    for i in 0..40 {
        let v = e.score(&json!({"timestamp": T0 + 40 * DAY + i * 60}), None);
        found.extend(reasons_of(&v, "event_rate").iter().map(|r| r.text.clone()));
    }
    assert!(
        !found.iter().any(|t| t.contains("no events for")),
        "a silence over days the engine counted events in: {found:?}"
    );
}

// ------------------------------------------------------------- new_value

/// README, `new_value`: "the text says how long the value is known unseen:
/// since the entity's first event or the latest halving of the counts,
/// whichever is later (a value counted once before a halving is forgotten
/// by it)". So "never seen for alice in N" must be true: alice used the
/// address within those N.
///
/// Found by review (December 2026), in the code before the fix: the latest halving is taken as the start of the current decay
/// epoch (`ctx.decayed_at = epoch * half_life_secs` in `Engine::score`).
/// When three records from a clock 40 days ahead move the clock there,
/// `Engine::maybe_decay` halves every count (3 steps), and when the stream
/// comes back `Engine::clock` restarts decay (`epoch = i64::MIN`: the
/// later time was "never lived in"); the epoch is then the one of the
/// present, which began on day 17, before the halvings' effects. Alice's
/// address `b`, used once on day 18 and forgotten by the halving, is
/// reported on day 20 as "never seen for alice in 3 days". Now the engine
/// keeps the time of the event at which counts last halved (`decayed_t`,
/// saved from format 6), and after a halving later than now the text claims
/// no span.
#[test]
fn never_seen_in_n_days_is_true_after_a_broken_batch_from_the_future() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 86_400, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "new_value", "name": "first_seen", "entity": "user",
                       "features": ["source_ip"], "rare": false}]
    }));
    for d in 0..20 {
        for i in 0..150 {
            let ip = if d == 18 && i == 75 {
                "10.0.0.2"
            } else {
                "10.0.0.1"
            };
            let ev = json!({"timestamp": T0 + d * DAY + i * 500, "user": "alice", "source_ip": ip});
            e.score(&ev, None);
        }
    }
    let now = T0 + 20 * DAY;
    // three records of a writer whose clock is 40 days ahead, then the stream
    for i in 0..3 {
        e.score(
            &json!({"timestamp": now + 40 * DAY + i, "user": "svc", "source_ip": "10.9.9.9"}),
            None,
        );
    }
    for i in 0..3 {
        e.score(
            &json!({"timestamp": now + i, "user": "svc", "source_ip": "10.9.9.9"}),
            None,
        );
    }
    let v = e.score(
        &json!({"timestamp": now + HOUR, "user": "alice", "source_ip": "10.0.0.2"}),
        None,
    );
    for r in reasons_of(&v, "first_seen") {
        assert!(
            !r.text.contains(" in "),
            "alice used 10.0.0.2 on day 18, two days ago: {}",
            r.text
        );
    }
}

// ------------------------------------------------------------ fingerprint

/// README, State snapshots: "from format 6 so are the policy's `name` and
/// what only decides what is reported: `alerting`, `allowlist` and
/// `suppress`". A state may restore only under a policy it fits: the
/// restored engine must judge as the one that wrote it, or as one that
/// learned the same stream under the new policy, not worse than both.
///
/// Found by review (December 2026), in the code before the fix: `alerting.evidence_p` decides what `peer_rare` learns, not only
/// what is reported: `Peer::run` bins an event into its group's histogram
/// only when its value's frequency is below `c.report_p` (=
/// `evidence_p`), and the p-value is the share of binned events since the
/// histogram began. A state learned at the default 0.2 restores under
/// `evidence_p: 0.5` (`Engine::fingerprint(6)` resets `alerting`), and then
/// events of a team that spreads its work evenly over three actions (each
/// a third of its events, never binned before) are "rare among peers":
/// 29 of the next 100 alert ("action deploy is rare among peers in team
/// ops (1000 of 3,000 events)"), where an engine that learned the same
/// stream under 0.5 reports none. Now `evidence_p` stays in the
/// fingerprint: such a state is refused, and the engine learns afresh.
#[test]
fn raising_evidence_p_keeps_no_state_that_floods_peer_rare() {
    let mut pv = json!({
        "version": 1,
        "learning": {"period_secs": 3600, "min_entity_events": 5},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "peer_rare", "name": "peer_rare_action", "entity": "user",
                       "group": "team", "feature": "action"}]
    });
    let ev = |i: i64| {
        let action = ["deploy", "restart", "scale"][(i % 3) as usize];
        json!({"timestamp": T0 + i * 10, "user": format!("u{}", i % 7), "team": "ops",
               "action": action})
    };
    let mut e = engine(&pv);
    for i in 0..3000 {
        e.score(&ev(i), None);
    }
    let state = e.snapshot_plain();
    pv["alerting"]["evidence_p"] = json!(0.5);
    // Learned from the start under 0.5: no finding on the next events.
    let mut fresh = engine(&pv);
    for i in 0..3100 {
        let v = fresh.score(&ev(i), None);
        if i >= 3000 {
            assert!(
                reasons_of(&v, "peer_rare_action").is_empty(),
                "{}",
                v.to_json()
            );
        }
    }
    let mut restored = engine(&pv);
    if restored.restore(&state).is_ok() {
        let mut flagged = Vec::new();
        for i in 3000..3100 {
            let v = restored.score(&ev(i), None);
            flagged.extend(
                reasons_of(&v, "peer_rare_action")
                    .iter()
                    .map(|r| r.text.clone()),
            );
        }
        assert!(
            flagged.is_empty(),
            "{} of 100 ordinary events flagged after the state restored under evidence_p 0.5, e.g. {:?}",
            flagged.len(),
            flagged.first()
        );
    }
}

// ----------------------------------------------------------------- dedup

/// README, False positives: "`dedup_secs` reports the same (detector,
/// entity, finding) once per window, measured either way in time (a window
/// starts when a finding is reported ...)", and `Engine::score`: "a
/// finding's window starts only when it is reported". A finding that
/// `alerting.max_reasons` cut from the verdict was not reported: no
/// reason names it.
///
/// Found by review (December 2026), in the code before the fix: `Engine::score` stamps the dedup window of every finding that
/// passed the `report_p` test, before `hits.truncate(max_reasons)`; the
/// findings cut are muted for the window without ever having been shown.
/// Here (`max_reasons: 1`) the fourth failure of alice from 203.0.113.9
/// names alice's rule only; the address's own rule, cut, is muted, so
/// its fifth and sixth failures (against bob) are no alert at all, and the
/// address's burst is never named. Now only the findings the verdict keeps
/// start a window.
#[test]
fn a_finding_cut_by_max_reasons_is_not_muted_as_if_reported() {
    let mut e = engine(&json!({
        "version": 1,
        "alerting": {"max_reasons": 1, "dedup_secs": 600},
        "detectors": [
            {"type": "threshold", "name": "user_failures", "group_by": "user",
             "where": [{"field": "outcome", "eq": "failure"}], "window_secs": 600, "threshold": 3},
            {"type": "threshold", "name": "ip_failures", "group_by": "source_ip",
             "where": [{"field": "outcome", "eq": "failure"}], "window_secs": 600, "threshold": 3}
        ]
    }));
    let fail = |i: i64, user: &str| json!({"timestamp": T0 + i * 10, "user": user, "source_ip": "203.0.113.9", "outcome": "failure"});
    let mut named = Vec::new();
    for i in 0..4 {
        let v = e.score(&fail(i, "alice"), None);
        named.extend(v.reasons.iter().map(|r| r.detector.clone()));
    }
    assert_eq!(
        named,
        ["user_failures"],
        "the fourth failure names alice's rule only"
    );
    let mut later = Vec::new();
    for i in 4..6 {
        let v = e.score(&fail(i, "bob"), None);
        later.extend(v.reasons.iter().map(|r| r.text.clone()));
    }
    assert!(
        !later.is_empty(),
        "203.0.113.9's failures were muted by a window that no reported finding opened"
    );
}

/// Noted by review 5 (not tested there): the seasonal offsets of buckets
/// longer than 5 minutes learn faster in proportion to the bucket
/// (`per_day` in `Rate::observe`), so that an hour's offset learns in as
/// many days as with 5-minute buckets. An hour holds at most 12 of those,
/// but the factor was not capped: with daily buckets (every bucket starts
/// at 00:00, so one offset takes all of them) it learned at 0.5 a bucket,
/// and a sustained doubling of a daily count passed for normal within a
/// week, where the same series without seasonality kept reporting it for a
/// month. Capping the factor at 12 (an hour's worth) still let the one
/// offset learn 72 times as fast as the level (17 days against 40). Now
/// buckets longer than an hour keep no hour-of-day offsets (longer than a
/// day, no day-of-week offsets either): a daily series with `hour_of_day`
/// reports a sustained doubling as long as one without.
#[test]
fn daily_buckets_with_hour_of_day_do_not_learn_a_surge_away_in_a_week() {
    let days_flagged = |seasonality: &str| {
        let mut e = engine(&json!({
            "version": 1,
            "learning": {"period_secs": 40 * 86_400, "min_entity_events": 1},
            "alerting": {"dedup_secs": 0},
            "detectors": [{"type": "rate", "name": "event_rate", "bucket_secs": 86_400,
                           "seasonality": seasonality, "drops": false}]
        }));
        let mut flagged = 0;
        for d in 0..100i64 {
            let n = if d < 60 {
                100 + (d * 7) % 11
            } else {
                200 + (d * 5) % 11
            };
            let mut hit = false;
            for k in 0..n {
                let ev = json!({"timestamp": T0 + d * DAY + k * (DAY / n), "user": "u"});
                hit |= !reasons_of(&e.score(&ev, None), "event_rate").is_empty();
            }
            flagged += i32::from(hit && d >= 60);
        }
        flagged
    };
    let none = days_flagged("none");
    let seasonal = days_flagged("hour_of_day");
    assert!(none >= 10, "without seasonality: {none} days");
    assert!(
        seasonal * 10 >= none * 8,
        "hour_of_day reported {seasonal} days of the surge, none {none}"
    );
}

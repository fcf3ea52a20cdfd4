//! Review 7 (December 2026): review 5 and 6's fixes (`git diff
//! f02c608~1..ff46ce8 -- crates/anomaly/src`): a rate series' latest bucket
//! (`RateState::peak`, `peak_count`, `Ctx::lived`), seasonal offsets by
//! bucket length (`Rate::hourly` / `daily`), the silence finding,
//! `decayed_t`, template counts and keys out of the table's share
//! (`template_keys_bytes`, `tshare`), snapshot format 6.
//!
//! Each test that is not a `control_*` one names the behaviour a user
//! expects, where that expectation comes from, and what happens instead;
//! each failed on ff46ce8 because of the bug it names ("Found") and holds
//! since its fix ("Now"). `control_*` tests passed then too and show that
//! the set-up is sound.

use logseal_anomaly::{Engine, Policy};
use serde_json::{Value, json};

mod review;
use review::*;

fn policy(v: &Value) -> Policy {
    Policy::parse(&v.to_string()).expect("policy")
}

fn engine(v: &Value) -> Engine {
    Engine::new(policy(v))
}

// ------------------------------------------------------------------ rate

/// The policy of review 6's silence tests: one global hourly series.
fn hourly_rate() -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": 86_400, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "event_rate", "bucket_secs": 3600,
                       "seasonality": "none", "drops": true}]
    })
}

/// ~40 events an hour, hours `from..to` (hours since T0); the rate texts.
fn hours(e: &mut Engine, from: i64, to: i64) -> Vec<String> {
    let mut found = Vec::new();
    for h in from..to {
        let n = 38 + (h * 7) % 5;
        for i in 0..n {
            let v = e.score(&json!({"timestamp": T0 + h * HOUR + i * 3599 / n}), None);
            found.extend(texts_of(&v, "event_rate"));
        }
    }
    found
}

/// 45 days of ~40 events an hour after `first`, then five records of day 5
/// replayed (an older log, 40 days back: the clock follows it), then the
/// live stream goes on for three hours. The rate texts after the replay.
fn replay_after(first: &[i64]) -> Vec<String> {
    let mut e = engine(&hourly_rate());
    for &t in first {
        e.score(&json!({"timestamp": t}), None);
    }
    hours(&mut e, 0, 45 * 24);
    let mut found = Vec::new();
    for i in 0..5 {
        let v = e.score(&json!({"timestamp": T0 + 5 * DAY + 10 * HOUR + i}), None);
        found.extend(texts_of(&v, "event_rate"));
    }
    found.extend(hours(&mut e, 45 * 24, 45 * 24 + 3));
    found
}

/// Control: without a broken first record, review 5's fix holds: a replay
/// of an older log leaves no silence of the 40 days the series counted.
#[test]
fn control_a_replay_makes_no_silence() {
    let found = replay_after(&[]);
    assert!(
        !found.iter().any(|t| t.contains("no events for")),
        "{found:?}"
    );
}

/// README, `rate`: "After the clock went back (a replayed older log), a
/// series counts the buckets it had reached as lived: no silence, no
/// zeros"; and Timestamps: a broken first record (the year 2099) moves
/// nothing. Both together: a stream whose first record was broken must
/// still take a replay without a false silence.
///
/// Found: review 6 made `Rate::run` ignore a `peak` the stream never lived
/// at (the 2099 bucket a broken first record opened), but the series keeps
/// that `peak` for good (`s.peak = s.peak.max(b)`), and the jump-back
/// branch records the bucket it leaves only `if open.bucket >= open.peak`.
/// So once a broken first record has been seen, a later replay of an older
/// log records nothing: the live bucket it left is forgotten, and when the
/// live stream returns, the 40 days between the replayed hour and now,
/// all counted, are judged as empty buckets: "drop: no events for 39 days
/// from 2024-01-06 11:00 UTC" (and 936 zeros taught to the baseline).
/// Fix: `Rate::run`'s jump-back branch (keep the bucket left when it is
/// past `peak` or `peak` was never lived, e.g. compare against
/// `bidx(c.lived)`), or drop an unlived `peak` when the clock confirms the
/// real time.
///
/// Now: a series forgets a latest bucket the stream never lived at as soon
/// as it sees one (`Rate::run`), so the replay records the live bucket.
#[test]
fn a_replay_after_a_broken_first_record_makes_no_silence() {
    // 2099-01-01T00:00:00Z
    let found = replay_after(&[4_070_908_800]);
    assert!(
        !found.iter().any(|t| t.contains("no events for")),
        "a replay after one broken first record made a silence of days the series counted: {found:?}"
    );
}

// ---------------------------------------------------------------- memory

/// A word of 48 lowercase letters (no digits: it stays a token).
fn word(seed: &mut u64) -> String {
    (0..48)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (b'a' + ((*seed >> 33) % 26) as u8) as char
        })
        .collect()
}

/// Memory used after filling a `new_value` profile table (4,500 users) and
/// a `sequence` detector's 100 templates (64 tokens of 48 letters each,
/// the worst case the budget reserves), under `budget`.
fn filled(budget: u64) -> (usize, usize) {
    let mut e = engine(&json!({
        "version": 1,
        "memory_budget_bytes": budget,
        "learning": {"period_secs": 0, "min_entity_events": 1},
        "detectors": [
            {"type": "new_value", "name": "first_seen", "entity": "user", "features": ["source_ip"]},
            {"type": "sequence", "name": "seq", "session": "session", "max_templates": 100}
        ]
    }));
    let mut seed = 11u64;
    let lines: Vec<String> = (0..100)
        .map(|_| {
            (0..64)
                .map(|_| word(&mut seed))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    for i in 0..4500i64 {
        // each template once, then in a scrambled order (many contexts)
        let message = &lines[if i < 100 {
            i
        } else {
            (i * i * 7 + i * 13) % 100
        } as usize];
        e.score(
            &json!({"timestamp": T0 + i, "user": format!("u{i}"), "source_ip": "10.0.0.1",
                    "session": format!("s{}", i % 300), "message": message}),
            None,
        );
    }
    (e.memory_bytes(), e.memory_budget())
}

/// README, Memory: "`memory_budget_bytes` bounds all state, whatever the
/// number of entities", and a `sequence` detector's "template counts and
/// keys, `max_templates × 356` bytes, come out of its context table's
/// share". This policy's keys (35,600 bytes) do not fit its context
/// table's share at 800,000 bytes (`keys_fit` false), the case ff46ce8
/// changed: a filled profile table, templates at the reserve's worst case
/// (64 tokens of 48 letters) and a filled context table.
///
/// Asked to show the code before ff46ce8 (fa17a62: the profile table kept
/// `Table::with_budget(share(26))` while the other tables were cut) over
/// the budget: it is not, and cannot be. On this stream fa17a62 ends at
/// 788,588 bytes of 800,000 (ff46ce8: 757,676; the difference is the
/// profile table's 30,912 bytes). The profile table overdraws its cut
/// share by about 26/31 of the keys' 35,600 bytes, but the keys
/// (`template_keys_bytes`, `max_templates × 356`) are never spent beside
/// the mined templates they are reserved with: a mined `sequence` fills
/// only `Drain` (reserved at 4,728 bytes a template) and 4 bytes a count,
/// never `key_names`; one that reads a `template` field fills `key_names`
/// (at most 356 bytes a template) and leaves the 4,728-byte reserve
/// unused. So `template_keys_bytes` sets aside 352 bytes a template that
/// no policy spends, which more than covers the old overdraw.
#[test]
fn control_profiles_and_full_templates_stay_within_the_budget_when_keys_do_not_fit() {
    let (used, budget) = filled(800_000);
    assert!(used <= budget, "{used} bytes used of a budget of {budget}");
    // the stream does fill the state (757,676 bytes; 737,314 from
    // December 2026, when what the policy holds came out of the tables)
    assert!(used * 100 >= budget * 90, "{used} of {budget}: not filled");
}

/// 20 live records of hour `live_h`, then `n` records replayed from hour
/// `replay_h` (an older log), then the live stream goes on to the end of
/// the hour after; ~40 events an hour for 45 days before. The rate texts
/// from the replay on.
fn replay_of(n: i64, replay_h: i64) -> Vec<String> {
    let mut e = engine(&hourly_rate());
    let live_h = 45 * 24;
    hours(&mut e, 0, live_h);
    let mut found = Vec::new();
    for i in 0..20 {
        let v = e.score(&json!({"timestamp": T0 + live_h * HOUR + i * 90}), None);
        found.extend(texts_of(&v, "event_rate"));
    }
    for i in 0..n {
        let v = e.score(
            &json!({"timestamp": T0 + replay_h * HOUR + i * 3599 / n}),
            None,
        );
        found.extend(texts_of(&v, "event_rate"));
    }
    for i in 20..80 {
        let v = e.score(&json!({"timestamp": T0 + live_h * HOUR + i * 90}), None);
        found.extend(texts_of(&v, "event_rate"));
    }
    found
}

/// Control: an hour of an older log (40 records, as usual, 40 days back) replayed
/// into a live engine is counted in the replay's own bucket: no finding of
/// the live hour.
#[test]
fn control_a_replay_40_days_back_is_no_spike_of_the_live_hour() {
    let found = replay_of(40, 5 * 24 + 10);
    assert!(!found.iter().any(|t| t.contains("spike")), "{found:?}");
}

/// README, `rate`: "count mode: events per `bucket_secs`", a spike reads
/// "135 events in the 5m from 10:55 UTC so far"; Timestamps: a replay of
/// an older log is a use the clock is built for ("Replaying an older log
/// into a live engine therefore decays nothing until it passes the latest
/// time seen"), and the clock takes an event within 30 days of the last
/// one at its own time. A record dated 10 days ago is no event of the
/// current hour, as one dated 40 days ago is not (control above).
///
/// Found: `Rate::run` moves a series' open bucket back only when it lies
/// more than `MAX_JUMP_SECS` (30 days) ahead of the event; any older event
/// closer than that is counted into the open bucket (`if b <=
/// open.bucket`). So replaying one usual hour of a 10-day-old log (40
/// records, at their own time: the clock follows them) into a live engine
/// counts them in the live hour, and the series reports "*: spike: 57
/// events in the 1h from 00:00 UTC so far, usual 40 ± 6.3" (escalating to
/// 68) of an hour in which 20 records dated then had been seen; the
/// baseline then learns ~120 for that hour. With the same hour replayed 40
/// days back, nothing is reported. Fix: `Rate::run` (an event more than a
/// bucket or so older than the open bucket is no count of it: judge it
/// apart as the jump-back branch does, or leave it uncounted as late).
///
/// Now: a record more than a bucket (and 10 minutes) behind the open
/// bucket counts apart in its own bucket, as any replay does, and a series
/// neither judges nor learns buckets behind its latest; when the stream is
/// back, the latest bucket goes on from its count, or is closed with it.
#[test]
fn a_replay_10_days_back_is_no_spike_of_the_live_hour() {
    let found = replay_of(40, 35 * 24 + 10);
    assert!(
        !found.iter().any(|t| t.contains("spike")),
        "records dated 10 days back counted as a spike of the live hour: {found:?}"
    );
}

// ------------------------------------------------------------- snapshots

fn mixed_policy() -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": 86_400, "min_entity_events": 3},
        "half_life_secs": 259_200,
        "memory_budget_bytes": 2_000_000,
        "alerting": {"dedup_secs": 600},
        "detectors": [
            {"type": "rate", "name": "event_rate", "bucket_secs": 3600,
             "seasonality": "hour_of_week", "drops": true,
             "error_where": [{"field": "outcome", "eq": "failure"}]},
            {"type": "rate", "name": "user_rate", "bucket_secs": 420, "group_by": "user",
             "drops": true},
            {"type": "new_value", "name": "first_seen", "entity": "user", "features": ["source_ip", "action"]},
            {"type": "new_value", "name": "second", "entity": "user", "features": ["action"],
             "where": [{"field": "outcome", "eq": "failure"}]},
            {"type": "unusual_hour", "name": "hour", "entity": "user"},
            {"type": "sequence", "name": "seq", "session": "user", "template": "action",
             "max_templates": 20}
        ]
    })
}

/// 47 days of a few events every 20 minutes, after a broken first record
/// (2099); user2 silent on days 20 and 21; two hours of day 3 replayed on
/// day 45 (an older log), then the live stream again.
fn mixed_stream() -> Vec<Value> {
    let mut out = Vec::new();
    let mut seed = 5u64;
    let mut rnd = |m: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    out.push(json!({"timestamp": 4_070_908_800i64, "user": "x"}));
    for m in 0..(47 * 24 * 3) {
        // every 20 minutes, a few events
        let t = T0 + m * 1200;
        let day = m / 72;
        for k in 0..(1 + rnd(4) as i64) {
            let u = rnd(5);
            if u == 2 && (20..22).contains(&day) {
                continue; // user2 silent for two days
            }
            out.push(json!({
                "timestamp": t + k * 37,
                "user": format!("user{u}"),
                "source_ip": format!("10.0.{}.{}", u, rnd(3 + day as u64 / 10)),
                "action": format!("a{}", rnd(6)),
                "outcome": if rnd(10) == 0 { "failure" } else { "success" },
            }));
        }
        if m == 45 * 72 {
            // an older log replayed: two hours of day 3
            for i in 0..60 {
                out.push(
                    json!({"timestamp": T0 + 3 * DAY + i * 120, "user": format!("user{}", i % 7),
                                "source_ip": "10.9.9.9", "action": "a1", "outcome": "success"}),
                );
            }
        }
    }
    out
}

fn verdicts(e: &mut Engine, evs: &[Value]) -> Vec<String> {
    evs.iter().map(|v| e.score(v, None).to_json()).collect()
}

/// Verdicts of the mixed stream, uninterrupted and with a snapshot and
/// restore (into a new engine) before event `at`: the first index where
/// they differ.
fn first_divergence(evs: &[Value], at: &[usize]) -> Option<(usize, usize, String, String)> {
    let p = mixed_policy();
    let mut whole = engine(&p);
    let all = verdicts(&mut whole, evs);
    let mut a = engine(&p);
    let mut done = 0;
    for &k in at {
        verdicts(&mut a, &evs[done..k]);
        done = k;
        let snap = a.snapshot();
        let mut b = engine(&p);
        b.restore(&snap).expect("restore");
        let rest = verdicts(&mut b, &evs[k..(k + 800).min(evs.len())]);
        for (i, (x, y)) in all[k..].iter().zip(&rest).enumerate() {
            if x != y {
                return Some((k, k + i, x.clone(), y.clone()));
            }
        }
    }
    None
}

/// README, State snapshots: "A restored engine continues
/// byte-identically (tested)". Format 6 snapshots taken after a broken
/// first record, while a jump back is being confirmed (one and two replayed
/// records in), after it, and while the live stream's return is being
/// confirmed: the restored engine's next 800 verdicts are the
/// uninterrupted engine's, byte for byte (rate with `hour_of_week` and
/// errors, a 7-minute per-user rate, two `new_value` detectors of one
/// entity, `unusual_hour`, `sequence` on a template field, counts halving
/// every 3 days).
#[test]
fn control_a_restored_engine_continues_as_never_stopped() {
    let evs = mixed_stream();
    let n = evs.len();
    let replay = evs
        .iter()
        .position(|v| v["source_ip"] == "10.9.9.9")
        .unwrap();
    let at = [
        1,
        3,
        n / 2,
        replay + 1,
        replay + 2,
        replay + 3,
        replay + 61,
        replay + 62,
        replay + 63,
    ];
    let d = first_divergence(&evs, &at);
    assert!(d.is_none(), "{d:?}");
}

// ------------------------------------------------------------- new_value

/// alice's `first_seen` texts: 600 events from 10.0.0.1 over days 0 and 1
/// (the learning period), one from `other` at 23:59:30 on day 1 (learning:
/// counted, not reported); counts halve at midnight (`half_life_secs`
/// one day) on bob's event at 00:00:05; alice from `other` at 00:00:20.
fn seen_before_midnight(other: &str) -> Vec<String> {
    first_seen_after_midnight(Some(other), other)
}

/// As [`seen_before_midnight`], alice's event at 23:59:30 from `before`
/// (none: no event), the one at 00:00:20 from `at`. (600 events; 250
/// before December 2026: the new address and its /24 were two findings
/// then, combined as independent; by Simes' method since, one of p 0.021
/// for 250 events after the daily halvings, above `report_p`; 0.0089 for
/// 600.)
fn first_seen_after_midnight(before: Option<&str>, at: &str) -> Vec<String> {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 2 * 86_400, "min_entity_events": 3},
        "half_life_secs": 86_400,
        "detectors": [{"type": "new_value", "name": "first_seen", "entity": "user",
                       "features": ["source_ip", "source_net"]}]
    }));
    for i in 0..600 {
        e.score(
            &json!({"timestamp": T0 + i * 280, "user": "alice", "source_ip": "10.0.0.1"}),
            None,
        );
    }
    let midnight = T0 + 2 * DAY;
    if let Some(other) = before {
        e.score(
            &json!({"timestamp": midnight - 30, "user": "alice", "source_ip": other}),
            None,
        );
    }
    e.score(
        &json!({"timestamp": midnight + 5, "user": "bob", "source_ip": "10.0.0.9"}),
        None,
    );
    let v = e.score(
        &json!({"timestamp": midnight + 20, "user": "alice", "source_ip": at}),
        None,
    );
    texts_of(&v, "first_seen")
}

/// Control: an address alice has truly never used is reported at 00:00:20
/// as "never seen for alice" (the profile is two days old, the counts
/// halved 15 seconds before).
#[test]
fn control_a_new_address_after_the_halving_is_never_seen() {
    // (the 23:59:30 event is from the old address: nothing new before)
    let found = seen_before_midnight("10.0.0.1");
    assert!(found.is_empty(), "{found:?}");
    let found = first_seen_after_midnight(None, "192.168.5.5");
    assert!(
        found
            .iter()
            .any(|t| t.contains("192.168.5.5 never seen for alice")),
        "{found:?}"
    );
}

/// README, `new_value`: "the text says how long the value is known
/// unseen: since the entity's first event or the latest halving of the
/// counts, whichever is later (a value counted once before a halving is
/// forgotten by it)"; commit f02c608: "the time counts last halved is
/// kept ... so 'never seen in N' stays true". A text with no span says
/// the value was never seen for the entity at all.
///
/// Found: `NewValue::run` builds " in {span}" only when `span(c.t -
/// since)` is a minute or more; when the counts halved less than a minute
/// ago, `since` is the halving (`decayed_t`) but the text drops the span
/// and reads as an absolute claim: alice's 192.168.5.5, counted at 23:59:30
/// and forgotten by the halving at 00:00:05, is "source_ip 192.168.5.5
/// never seen for alice (1 known value)" at 00:00:20, 50 seconds after it
/// was seen (at every half-life boundary, for any value seen once just
/// before it). Fix: `NewValue::run` (when `since` is the halving, say so,
/// e.g. "not seen since the counts halved" / "in under a minute", or no
/// "never seen" claim without a span).
///
/// Now: under a minute after a halving the text says "never seen for
/// alice since its counts last halved"; under a minute after the entity's
/// first event, "in under a minute".
#[test]
fn a_value_seen_50_seconds_ago_is_not_never_seen() {
    let found = seen_before_midnight("192.168.5.5");
    // (reported: 600 events make a new address p < 0.01 on its own, as it
    // must be since December 2026, when its /24 stopped counting as
    // independent evidence; with the 250 of before the check read nothing)
    assert!(!found.is_empty(), "not reported: nothing to read");
    assert!(
        !found.iter().any(|t| t.contains("never seen for alice (")),
        "a value seen 50 seconds before, forgotten by the halving, reads as never seen: {found:?}"
    );
}

/// ~40 events an hour for 45 days; in the live hour 10 records, then an
/// hour of a 10-day-old log replayed (40 records), then the live stream
/// returns `back` hours later at its usual rate for an hour. The rate
/// texts from the replay on.
fn live_hour_left_by_a_replay(back: i64) -> Vec<String> {
    let mut e = engine(&hourly_rate());
    let live_h = 45 * 24;
    hours(&mut e, 0, live_h);
    for i in 0..10 {
        e.score(&json!({"timestamp": T0 + live_h * HOUR + i * 90}), None);
    }
    let mut found = Vec::new();
    for i in 0..40 {
        let v = e.score(
            &json!({"timestamp": T0 + (live_h - 240) * HOUR + i * 89}),
            None,
        );
        found.extend(texts_of(&v, "event_rate"));
    }
    found.extend(hours(&mut e, live_h + back, live_h + back + 1));
    found
}

/// Noted by review 7 (not shown then): when the stream came back after a
/// replay in a later bucket than the one it had left, that bucket's count
/// was dropped unjudged, so a real drop in it was missed. Now the series'
/// latest bucket is closed with what it counted: 10 events in an hour of
/// ~40 is reported as a drop when the stream returns an hour later, and
/// nothing of the replayed hour is. (Both failed before: the replay of 10
/// days back counted in the live hour.)
#[test]
fn the_bucket_a_replay_left_is_judged_with_its_count() {
    let found = live_hour_left_by_a_replay(1);
    assert!(
        found
            .iter()
            .any(|t| t.contains("drop: 10 events per 1h at 00:00 UTC")),
        "{found:?}"
    );
    assert!(!found.iter().any(|t| t.contains("spike")), "{found:?}");
}

/// Returning within the hour a replay left, the stream goes on from that
/// hour's count: 10 + ~40 records in it, no finding (it failed before, as
/// above).
#[test]
fn a_stream_back_within_the_hour_a_replay_left_goes_on_from_its_count() {
    let found = live_hour_left_by_a_replay(0);
    assert!(found.is_empty(), "{found:?}");
}

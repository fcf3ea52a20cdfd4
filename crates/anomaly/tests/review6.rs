//! Review 6 (December 2026): review 5's fixes and the seasonality change
//! (`git diff f02c608~1..HEAD`): a rate series' latest bucket
//! (`RateState::peak`), hour-of-day / day-of-week offsets by bucket length
//! (`Rate::hourly` / `daily`), template counts bounded by `max_templates`.
//! Each test names the behaviour a user expects, says what was found and
//! where the expectation comes from, failed on the code it was written
//! against, and passes since the fix it names.

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

// ------------------------------------------------------------------ rate

/// The silences a rate series reports over 20 days of ~40 events an hour
/// and then 6 hours without one, after `first` (records scored before the
/// stream).
fn silences_after(first: &[i64]) -> Vec<String> {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 86_400, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "event_rate", "bucket_secs": 3600,
                       "seasonality": "none", "drops": true}]
    }));
    for &t in first {
        e.score(&json!({"timestamp": t}), None);
    }
    let mut found = Vec::new();
    for h in 0..20 * 24 + 12 {
        // day 20, 02:00 to 08:00: nothing
        if (20 * 24 + 2..20 * 24 + 8).contains(&h) {
            continue;
        }
        let n = 38 + (h * 7) % 5;
        for i in 0..n {
            let v = e.score(&json!({"timestamp": T0 + h * HOUR + i * 3599 / n}), None);
            found.extend(reasons_of(&v, "event_rate").iter().map(|r| r.text.clone()));
        }
    }
    found.retain(|t| t.contains("no events for"));
    found
}

/// README, Timestamps: one broken record is scored at the clock, and
/// "three events in a row that agree on the new time move the clock (a
/// restart after weeks, a replay of an older log, a broken first event)";
/// the engine's own comment on `Engine::clock`: "a first event that was
/// the broken one". And `rate`: "A silence (empty buckets of a series
/// expected to reach `min_count`) is one drop on the series' next event".
/// A broken first record must not switch silence reporting off.
///
/// Found by review (December 2026): the first record of a stream dated
/// 2099 (a field that parsed wrong) opened the global series' bucket in
/// 2099; when the stream's real time was confirmed, `Rate::run`'s jump-back
/// branch kept that bucket as the series' `peak`, and every later gap was
/// judged only after it, so no silence was reported (and no empty bucket
/// learned) until the stream reached 2099. Here six hours without one event
/// of a series of ~40 an hour, on day 20, were reported without the broken
/// record and not with it. Now `peak` counts only when the stream lived
/// there (it is not past the engine's latest lived time, which a broken
/// first record does not set). (A confirmed far-future batch of three or
/// more records is lived time to the clock, so a series that saw one still
/// reports no silence until the stream reaches the batch's time.)
#[test]
fn a_broken_first_record_from_2099_does_not_switch_off_silence_reports() {
    let clean = silences_after(&[]);
    assert!(
        !clean.is_empty(),
        "control: the 6-hour silence is reported on a clean stream"
    );
    // 2099-01-01T00:00:00Z
    let broken = silences_after(&[4_070_908_800]);
    assert!(
        !broken.is_empty(),
        "after one broken first record dated 2099 the silence went unreported (clean stream: {clean:?})"
    );
}

/// README, Timestamps: three records that agree move the clock ("a replay
/// of an older log"), and "Replaying an older log into a live engine
/// therefore decays nothing"; review 5 made a replay leave no silence of
/// the days the series counted (`RateState::peak`). A rate finding must be
/// true of the series the engine counted: an hour in which the engine
/// counted its usual ~40 events is no drop.
///
/// Found by review (December 2026): `Rate::run`'s jump-back branch set
/// the open bucket's `count` to 0 when it moved the bucket back to the
/// replay's; `peak` kept only the bucket's index. When the live stream
/// returned into that same hour, it opened the bucket afresh at 1 (and the
/// first two live records, scored at the replay's time until the clock
/// confirms the return, are counted in the replay's bucket), so the hour
/// closed with the events after the replay only: "drop: 18 events per 1h
/// at 00:00 UTC, usual 40", of an hour the engine counted ~40 events in;
/// the baseline learned the 18 too. Now the series keeps what the bucket
/// had counted (`RateState::peak_count`, `peak_errs`; format 6) and the
/// returning stream goes on from it.
#[test]
fn a_replay_in_the_middle_of_an_hour_makes_no_drop_of_that_hour() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 86_400, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "event_rate", "bucket_secs": 3600,
                       "seasonality": "none", "drops": true}]
    }));
    for h in 0..40 * 24 {
        let n = 38 + (h * 7) % 5;
        for i in 0..n {
            e.score(&json!({"timestamp": T0 + h * HOUR + i * 3599 / n}), None);
        }
    }
    let mut found = Vec::new();
    let live = T0 + 40 * DAY;
    // day 40, 00:00 to 00:30: 20 records; then five of day 5, 10:00
    // replayed; then the live stream goes on to 02:00
    for i in 0..20 {
        let v = e.score(&json!({"timestamp": live + i * 90}), None);
        found.extend(reasons_of(&v, "event_rate").iter().map(|r| r.text.clone()));
    }
    for i in 0..5 {
        let v = e.score(&json!({"timestamp": T0 + 5 * DAY + 10 * HOUR + i}), None);
        found.extend(reasons_of(&v, "event_rate").iter().map(|r| r.text.clone()));
    }
    for i in 20..80 {
        let v = e.score(&json!({"timestamp": live + i * 90}), None);
        found.extend(reasons_of(&v, "event_rate").iter().map(|r| r.text.clone()));
    }
    assert!(
        !found
            .iter()
            .any(|t| t.contains("drop") && t.contains("at 00:00 UTC")),
        "a drop of the hour the replay interrupted (40 events counted in it): {found:?}"
    );
}

/// What `event_rate` reports of a night burst (02:00 to 04:00, `burst`
/// events an hour) after `days` of an unchanging day/night rhythm: 100
/// events an hour from 08:00 to 20:00, 5 an hour at night.
fn night_burst(bucket_secs: i64, days: i64, burst: i64) -> Vec<String> {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 14 * 86_400, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "event_rate", "bucket_secs": bucket_secs,
                       "seasonality": "hour_of_day", "drops": false}]
    }));
    let mut found = Vec::new();
    for h in 0..days * 24 + 6i64 {
        let hod = h % 24;
        let n = if h >= days * 24 && (2..4).contains(&hod) {
            burst
        } else if (8..20).contains(&hod) {
            98 + (h * 7) % 5
        } else {
            4 + (h * 3) % 3
        };
        for i in 0..n {
            let v = e.score(&json!({"timestamp": T0 + h * HOUR + i * 3599 / n}), None);
            if h >= days * 24 {
                found.extend(reasons_of(&v, "event_rate").iter().map(|r| r.text.clone()));
            }
        }
    }
    found
}

/// README, `rate`: "with `seasonality`, an hour-of-day offset
/// (`hour_of_day`, the default)", and the reason given for dropping it
/// from buckets longer than an hour: "they all start at the same hour, so
/// one offset took every bucket". That is true of daily buckets, not of
/// 2-hour ones: they start at 00:00, 02:00, ..., 22:00, twelve different
/// hours, and each hour's offset learns only its own buckets, as with
/// hourly buckets.
///
/// Found by review (December 2026): `Engine::new` set `hourly:
/// bucket_secs <= 3600`, so `Rate::expected` and `Rate::observe` dropped
/// every hour-of-day offset of a 2-hour series: its baseline was one level
/// between the day's 200 and the night's 10 per bucket, with a spread as
/// wide as the rhythm, and a night's 10x burst (100 events from 02:00 to
/// 04:00 after 8 weeks) lay below the level and was no finding, where
/// hourly buckets report it. Now buckets shorter than a day keep their
/// offsets (`hourly: bucket_secs < 86_400`): a 2-hour night bucket is
/// judged against the night (a 30x burst reads "usual" well under the
/// day's level). How fast long buckets' offsets and spread learn is
/// another matter: with 2-hour buckets and the default `half_life` (500
/// buckets, 42 days) the 10x burst is still within the spread learned
/// while the offsets converged, and with 1.5-hour and 3- to 12-hour
/// buckets it is not reported however fast the offsets learn (tried; left
/// as found: a shorter `half_life` suits long buckets).
#[test]
fn two_hour_buckets_keep_hour_of_day_offsets_and_report_a_night_burst() {
    let hourly = night_burst(3600, 56, 50);
    assert!(
        hourly.iter().any(|t| t.contains("spike")),
        "control: hourly buckets report the burst: {hourly:?}"
    );
    let two_hourly = night_burst(7200, 56, 150);
    let usual: Vec<f64> = two_hourly
        .iter()
        .filter(|t| t.contains("spike"))
        .filter_map(|t| t.split("usual ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert!(
        !usual.is_empty() && usual.iter().all(|&u| u < 50.0),
        "2-hour buckets: a 30x night burst judged against the day's level: {two_hourly:?}"
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

/// README, Memory: "`memory_budget_bytes` bounds all state", and
/// `sequence` "first reserves the worst case of its templates,
/// `max_templates × 4,728` bytes (at most 64 tokens of at most 48 bytes)";
/// the policy accepts `memory_budget_bytes` down to that reserve plus one
/// bucket of every table plus 4 KiB. So `memory_bytes() <=
/// memory_budget()` whatever the templates.
///
/// Found by review (December 2026): 884c004 bounded the template counts
/// (`grow_counts`, `Sequence::counts0`) by `max_templates`, but the reserve
/// (`templates_reserve`, `MAX_TEMPLATE_BYTES`) covers only the mined
/// templates (`Drain::bytes`, which reaches 4,728 bytes a template for
/// 64 tokens of 48 letters, each its own leaf), and `Engine::memory_bytes`
/// counts `counts0.capacity() * 4` (and the template keys) on top: a
/// policy at the least budget it was accepted with ended `4 ×
/// max_templates` bytes over it once the templates were full. Now the
/// counts and keys (`template_keys_bytes`) come out of the detector's
/// context table's share (or, when they do not fit there, out of all the
/// tables' shares; sketches keep theirs), and the least budget includes
/// them.
#[test]
fn full_templates_stay_within_the_least_budget_accepted() {
    let mut v = json!({
        "version": 1,
        "learning": {"period_secs": 0, "min_entity_events": 1},
        "detectors": [{"type": "sequence", "name": "seq", "session": "session",
                       "max_templates": 1000}]
    });
    let least = least_budget(v.clone());
    v["memory_budget_bytes"] = json!(least);
    let mut e = engine(&v);
    let mut seed = 7u64;
    for i in 0..1000 {
        let line: Vec<String> = (0..64).map(|_| word(&mut seed)).collect();
        e.score(
            &json!({"timestamp": T0 + i, "session": "s", "message": line.join(" ")}),
            None,
        );
    }
    assert!(
        e.memory_bytes() <= e.memory_budget(),
        "{} bytes used of a budget of {} (the least accepted for this policy)",
        e.memory_bytes(),
        e.memory_budget()
    );
}

//! Review 9 (December 2026) of review 8's `rate` change (7f77b44,
//! `Rate::run`, `RateState::counted` and `Engine::clock` in
//! `src/engine.rs`).
//!
//! Each test that is not a `control_*` one names what a user expects,
//! where that expectation comes from, what happens instead ("Found") and
//! where the fix belongs; each failed on 0822d65 because of the bug it
//! names and holds since its fix ("Now"). `control_*` tests passed then
//! too and show that the set-up is sound.

use logseal_anomaly::Engine;
use serde_json::{Value, json};

mod review;
use review::*;

/// Score `(host_secs, record)` pairs (host time 0: none); the rate texts,
/// each tagged with the record's timestamp.
fn run(e: &mut Engine, evs: &[(i64, Value)]) -> Vec<String> {
    let mut found = Vec::new();
    for (host, ev) in evs {
        let h = (*host > 0).then(|| *host * 1_000_000_000);
        let v = e.score(ev, h);
        for t in texts_of(&v, "event_rate")
            .into_iter()
            .chain(texts_of(&v, "user_rate"))
        {
            found.push(format!("@{}: {t}", ev["timestamp"]));
        }
    }
    found
}

/// `per` records in each of `n` buckets of `bucket` seconds from `t0`,
/// evenly spread, in order (no host time).
fn steady(t0: i64, bucket: i64, per: i64, n: i64) -> Vec<(i64, Value)> {
    let mut out = Vec::new();
    for k in 0..n {
        for i in 0..per {
            let t = t0 + k * bucket + i * bucket / per;
            out.push((0, json!({"timestamp": t, "outcome": "success"})));
        }
    }
    out
}

fn has(found: &[String], s: &str) -> bool {
    found.iter().any(|t| t.contains(s))
}

// ------------------------------------------------ a late source, a replay

/// Control: B 12 minutes late, no replay: its 20x burst is a spike (review
/// 8's fix).
#[test]
fn control_a_burst_12_minutes_late_is_reported() {
    let found = late_source(720, false);
    assert!(has(&found, "spike"), "{found:?}");
}

/// README, `rate`: "Late records, up to a bucket or 30 minutes, count in
/// the open bucket"; "Beside a replay, a live record within the late slack
/// of the latest bucket counts there"; "A spike is reported while its
/// bucket fills, on the event that takes it to a higher severity". So a
/// 20x burst of a source 12 minutes late is reported with a replay running
/// beside the live stream as without one (control above).
///
/// Found: nothing is reported. While the replay has put the series behind,
/// `Rate::run`'s new branch for "a live record, late, beside a replay far
/// behind" adds B's records to `peak_count` and returns without
/// `spike_so_far`. A's next record takes the series back to `peak` with
/// all of them at once, and `spike_so_far` only reports when *this*
/// record's +1 crosses a level (`level <= level(spike_p(x - 1))`): after
/// a jump of 20 it never does. At the close, `reported` assumes the
/// spike was reported while it filled and stays silent. The records are
/// counted and the burst is lost. Fix: `Rate::run`, call `spike_so_far`
/// on the latest bucket's count (`peak_count`) in that branch (and/or
/// compare levels with the count before the jump, not `x - 1`).
///
/// Now: a late live record counted in the latest bucket beside a replay
/// is judged for spikes as that bucket fills.
#[test]
fn a_late_burst_beside_a_replay_is_reported() {
    let found = late_source(720, true);
    assert!(
        has(&found, "spike"),
        "a 20x burst of a source 12 minutes late was reported nowhere beside a replay: {found:?}"
    );
}

// ---------------------------------------------------- a clock gone back

/// `warm` buckets of `per` records per `bucket` seconds (10% failures),
/// then at a bucket boundary the stream's clock goes back `back` seconds
/// for good and the stream goes on at its rate for `n_after` buckets.
/// `burst = (from, mult)` multiplies the records of the `bucket` seconds
/// from `from` seconds after the step; `fail = (from, to)`: every other
/// record of that span after the step is a failure.
fn clock_back(
    bucket: i64,
    per: i64,
    warm: i64,
    back: i64,
    n_after: i64,
    burst: (i64, i64),
    fail: (i64, i64),
) -> Vec<String> {
    let mut e = engine(&rate_policy(bucket, warm * bucket / 3));
    let base = (T0 / bucket + 1) * bucket;
    let mut evs = steady(base, bucket, per, warm);
    for (i, (_, v)) in evs.iter_mut().enumerate() {
        if i % 10 == 0 {
            v["outcome"] = json!("failure");
        }
    }
    run(&mut e, &evs);
    let from = base + warm * bucket - back;
    let mut evs = Vec::new();
    for (i, (h, mut v)) in steady(from, bucket, per, n_after).into_iter().enumerate() {
        let d = ts(&v) - from;
        let f = if (fail.0..fail.1).contains(&d) {
            i % 2 == 0
        } else {
            i % 10 == 0
        };
        if f {
            v["outcome"] = json!("failure");
        }
        let k = if (burst.0..burst.0 + bucket).contains(&d) {
            burst.1
        } else {
            1
        };
        for _ in 0..k {
            evs.push((h, v.clone()));
        }
    }
    run(&mut e, &evs)
}

/// Control: with 5-minute buckets, a step back of an hour makes no spike
/// when the stream catches up (review 8's fix), and without the step an
/// error burst (half of one 5 minutes' records fail, usually a tenth) is
/// reported.
#[test]
fn control_5_minute_buckets_an_hour_back_and_an_error_burst() {
    let found = clock_back(300, 60, 576, HOUR, 24, (0, 1), (0, 0));
    assert!(!has(&found, "spike"), "{found:?}");
    let found = clock_back(300, 60, 576, 0, 24, (0, 1), (1800, 2100));
    assert!(has(&found, "error rate 50%"), "{found:?}");
}

/// README, `rate`: the walked-in latest bucket "counts the larger of its
/// two passes" (`RateState::counted`) — meant to avoid counting the same
/// time twice, not to drop what the second pass holds. An error burst in
/// the second pass of the latest bucket (the last 5 minutes before the
/// step, repeated: half the records fail) is a finding of that bucket.
///
/// Found: the clock goes back an hour mid-stream; in the repeated last 5
/// minutes fewer records come (40 of the usual 60) and half fail. When the
/// bucket closes, `counted()` takes the first pass (60 records, 6
/// failures: the larger count) with *its* errors, and the second pass's 20
/// failures of 40 are never judged. Fix: `RateState::counted` / the
/// close in `Rate::run`: judge the error rate of each pass (or of the
/// pass with the higher error share), not only of the larger one.
///
/// Now: of two passes, the error rate is judged on the one with the larger
/// error share (`RateState::err_pass`).
#[test]
fn an_error_burst_in_the_second_pass_of_the_latest_bucket_is_reported() {
    let found = second_pass_errors(40);
    assert!(
        has(&found, "error rate"),
        "20 failures of 40 in the repeated latest bucket were never judged: {found:?}"
    );
}

/// Control: the same with as many records in the second pass as in the
/// first (60, half failing): the second pass counts, and its error burst
/// is reported.
#[test]
fn control_an_error_burst_in_an_equal_second_pass_is_reported() {
    let found = second_pass_errors(60);
    assert!(
        has(&found, "error rate 50% (30 of 60) at 00:00"),
        "{found:?}"
    );
}

/// Two days of 60 records per 5 minutes (a tenth fail); the clock goes
/// back an hour at the boundary after 00:00 (its latest bucket) and walks the hour
/// again; in the repeated 00:00 (walked into) come
/// `second` records, half of them failures; then two more hours.
fn second_pass_errors(second: i64) -> Vec<String> {
    let bucket = 300;
    let mut e = engine(&rate_policy(bucket, 192 * bucket));
    let base = (T0 / bucket + 1) * bucket;
    let mut evs = steady(base, bucket, 60, 576);
    for (i, (_, v)) in evs.iter_mut().enumerate() {
        if i % 10 == 0 {
            v["outcome"] = json!("failure");
        }
    }
    run(&mut e, &evs);
    let from = base + 576 * bucket - HOUR;
    let mut evs = Vec::new();
    for k in 0..36 {
        let again = k == 11; // the repeated latest bucket
        let per = if again { second } else { 60 };
        for i in 0..per {
            let t = from + k * bucket + i * bucket / per;
            let fail = if again { i % 2 == 0 } else { i % 10 == 0 };
            evs.push((
                0,
                json!({"timestamp": t, "outcome": if fail { "failure" } else { "success" }}),
            ));
        }
    }
    run(&mut e, &evs)
}

// ------------------------------------------------ the slack, in seconds

/// `warm` buckets of `bucket` seconds from a bucket boundary, `per`
/// records each (a tenth fail); then, right after the on-time record that
/// opens the next bucket, a late source's `n` records, all failures,
/// stamped `late` seconds before it; then the stream goes on 3 buckets.
fn late_failures(bucket: i64, per: i64, warm: i64, late: i64, n: i64) -> Vec<String> {
    let mut e = engine(&rate_policy(bucket, warm * bucket / 3));
    let base = (T0 / bucket + 1) * bucket;
    let mut evs = steady(base, bucket, per, warm + 4);
    for (i, (_, v)) in evs.iter_mut().enumerate() {
        if i % 10 == 0 {
            v["outcome"] = json!("failure");
        }
    }
    let at = (warm * per) as usize; // the first record of bucket `warm`
    let open = ts(&evs[at].1);
    assert_eq!(open % bucket, 0);
    let burst: Vec<(i64, Value)> = (0..n)
        .map(|_| (0, json!({"timestamp": open - late, "outcome": "failure"})))
        .collect();
    evs.splice(at + 1..at + 1, burst);
    run(&mut e, &evs)
}

/// Control: a late source's failures 1,799 s late count in the open
/// bucket and are an error burst of it, with buckets of 7 s and 1,799 s;
/// and 1,800 s late with buckets of 60 s and 1,800 s.
#[test]
fn control_failures_within_the_slack_are_an_error_burst() {
    for (bucket, per, warm, late) in [
        (7, 7, 1600, 1799),
        (1799, 60, 150, 1799),
        (60, 20, 1500, 1800),
        (1800, 60, 150, 1800),
    ] {
        let found = late_failures(bucket, per, warm, late, per);
        assert!(
            has(&found, "error rate"),
            "bucket {bucket}, {late} s late: {found:?}"
        );
    }
}

/// README, `rate`: "Late records, up to a bucket or 30 minutes, count in
/// the open bucket (delivery jitter, a source that ships late)". A record
/// exactly 30 minutes (1,800 s) late is within that.
///
/// Found: with `bucket_secs` 7 or 1,799 (any size that does not divide
/// 1,800), a late source's failures exactly 1,800 s behind a record at the
/// start of the open bucket count apart, in a behind bucket, where no
/// error rate is judged: the burst (as many failures as the bucket's usual
/// records) is reported nowhere, where 1,799 s late it is (control).
/// `slack = (bucket.max(LATE_SECS) / bucket) as u32` rounds down and is
/// compared in bucket indices: 257 buckets of 7 s are 1,799 s, one of
/// 1,799 s is 1,799 s. Fix: `Rate::run`: round the slack up
/// (`ceil`), or compare the record's time with the open bucket's start
/// in seconds.
///
/// Now: the slack in buckets is rounded up.
#[test]
fn failures_exactly_30_minutes_late_count_in_the_open_bucket() {
    let lost: Vec<i64> = [(7, 7, 1600), (1799, 60, 150)]
        .into_iter()
        .filter(|&(bucket, per, warm)| {
            !has(&late_failures(bucket, per, warm, 1800, per), "error rate")
        })
        .map(|(bucket, _, _)| bucket)
        .collect();
    assert!(
        lost.is_empty(),
        "failures exactly 30 minutes late were lost with buckets of {lost:?} s"
    );
}

// ------------------------------------------------ the clock's `home` rule

/// README, Timestamps: "An event more than 30 days from the engine's
/// clock (the last event's time) is scored at the clock, so one broken
/// timestamp (the year 2099, or 0) moves no window, bucket, learning
/// period or decay epoch"; review 8 added: "A record *back* within 30 days
/// of the latest time the stream lived at is taken at once". Common sense:
/// one record with a broken date does not blind the rate detector.
///
/// Found: while a replay of a log 40 days back runs (the clock confirmed
/// the jump back), one record dated 25 days after the live stream's
/// latest time (65 days from the clock) is taken at once: `Engine::clock`'s
/// `home` test is `(t - peak_t).abs() <= MAX_JUMP_SECS`, ahead as well as
/// back. It moves `peak_t` 25 days ahead: the global series closes its
/// latest bucket with a silence of 25 days ("drop: no events for 25 days
/// ...", 1,440 zeros learned), then every live record is 25 days behind
/// its latest bucket, so the live stream is neither learned nor judged for
/// drops: a real silence of an hour after the replay is not reported
/// (without the broken record it is: control). Decay also moves 25 days.
/// Fix: `Engine::clock`: `home` only for a record at or before the lived
/// time (plus the skew allowance), `t <= peak_t + MAX_SKEW`, not ahead.
///
/// Now: `Engine::clock` takes at once only records back near the latest
/// lived time, not ahead of it (5 minutes of skew).
#[test]
fn one_broken_record_ahead_during_a_replay_moves_no_clock() {
    let found = replay_then_silence(true);
    assert!(
        has(&found, "no events for 60 minutes"),
        "a real hour of silence after the replay was not reported: {found:?}"
    );
    assert!(
        !has(&found, "days from"),
        "one broken record made a silence of days: {found:?}"
    );
}

/// Control: the same without the broken record: the hour's silence after
/// the replay is reported, and nothing else.
#[test]
fn control_a_silence_after_a_replay_is_reported() {
    let found = replay_then_silence(false);
    assert!(has(&found, "no events for 60 minutes"), "{found:?}");
    assert_eq!(found.len(), 1, "{found:?}");
}

/// Two days of 20 records a minute (no host time); a replay of 40 days
/// back in one run of 600 records (with, when `broken`, one record dated 25
/// days after the live time in its middle); then the live stream goes on
/// for an hour, is silent for an hour, and goes on for an hour.
fn replay_then_silence(broken: bool) -> Vec<String> {
    let mut e = engine(&rate_policy(60, DAY));
    let n = 2 * 1440;
    run(&mut e, &steady(T0, 60, 20, n));
    let now = T0 + n * 60;
    let mut evs = Vec::new();
    for i in 0..600 {
        if broken && i == 300 {
            evs.push((0, json!({"timestamp": now + 25 * DAY})));
        }
        evs.push((0, json!({"timestamp": now - 40 * DAY + i * 3})));
    }
    evs.extend(steady(now, 60, 20, 60));
    evs.extend(steady(now + 2 * HOUR, 60, 20, 60));
    run(&mut e, &evs)
}

// ------------------------------------------------------------- snapshots

fn snap_policy() -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": 21_600, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [
            {"type": "rate", "name": "event_rate", "bucket_secs": 300, "seasonality": "none",
             "drops": true, "error_where": [{"field": "outcome", "eq": "failure"}]},
            {"type": "rate", "name": "user_rate", "bucket_secs": 60, "group_by": "user",
             "seasonality": "none", "drops": true,
             "error_where": [{"field": "outcome", "eq": "failure"}]}
        ]
    })
}

/// A day of three users; then, in turn: a replay of a day back in one run
/// (series behind), a replay interleaved with live records 12 minutes
/// late (`peak_count` grows), a new user first seen in a backfill (born
/// behind), a step back of an hour walked into the latest bucket (both
/// passes kept), records of 40 days back interleaved (refused), and the
/// live stream again.
fn snap_stream() -> Vec<Value> {
    let mut out = Vec::new();
    let ev = |t: i64, u: i64, f: bool| json!({"timestamp": t, "user": format!("u{u}"), "outcome": if f { "failure" } else { "success" }});
    let mut t = T0;
    let live = |out: &mut Vec<Value>, t: &mut i64, secs: i64| {
        let end = *t + secs;
        let mut i = 0;
        while *t < end {
            out.push(ev(*t, i % 3, i % 9 == 0));
            *t += 4;
            i += 1;
        }
    };
    live(&mut out, &mut t, DAY);
    for i in 0..400 {
        out.push(ev(t - DAY + i * 3, i % 3, i % 2 == 0));
    }
    for i in 0..600 {
        out.push(ev(t, i % 3, false));
        out.push(ev(t - DAY + 1200 + i * 4, 1, true));
        out.push(ev(t - 720, 2, i % 5 == 0));
        t += 4;
    }
    for i in 0..300 {
        out.push(ev(t - 2 * DAY + i * 10, 7, i % 3 == 0));
        out.push(ev(t, i % 3, false));
        t += 4;
    }
    live(&mut out, &mut t, 1800);
    t -= HOUR;
    live(&mut out, &mut t, HOUR + 600);
    for i in 0..300 {
        out.push(ev(t, i % 3, false));
        out.push(ev(t - 40 * DAY + i, 1, true));
        t += 4;
    }
    live(&mut out, &mut t, 3 * HOUR);
    out
}

/// Control: README, State snapshots: "A restored engine continues
/// byte-identically"; format 6 saves each series' latest bucket. A
/// snapshot taken in every state the change added (behind, `peak_count`
/// grown beside a replay, born behind, walked in with both passes, after
/// refused records) continues as the engine that never stopped.
#[test]
fn control_snapshots_in_every_replay_state_continue_byte_identically() {
    let evs = snap_stream();
    let p = snap_policy();
    let mut whole = engine(&p);
    let all: Vec<String> = evs.iter().map(|v| whole.score(v, None).to_json()).collect();
    assert!(
        all.iter().any(|v| v.contains("event_rate")),
        "the stream reports nothing"
    );
    let n = evs.len();
    let day = (DAY / 4) as usize;
    let cuts = [
        day + 200,
        day + 1000,
        day + 1901,
        day + 2300,
        day + 2800,
        n - 4000,
        n - 3200,
        n - 2500,
        n - 100,
    ];
    let mut a = engine(&p);
    let mut done = 0;
    for at in cuts {
        for v in &evs[done..at] {
            a.score(v, None);
        }
        done = at;
        let mut b = engine(&p);
        b.restore(&a.snapshot()).expect("restore");
        let d = evs[at..]
            .iter()
            .zip(&all[at..])
            .position(|(v, y)| b.score(v, None).to_json() != *y);
        assert_eq!(d, None, "snapshot at {at} of {n}");
    }
}

// ------------------------------------------------------ not fixed (README)
//
// Three findings of this review are limits the README now states, not
// fixed: a source more than 30 minutes late whose records interleave with
// the live stream's counts in no judged bucket (each trip behind starts its
// bucket again), so its burst is not reported
// (`a_burst_from_a_source_45_minutes_late_is_reported`); buckets behind the
// latest are not judged for error rates (`an_error_burst_in_the_hour_a_
// clock_repeats_is_reported`); and with buckets of 30 minutes or more an
// hour a clock repeats counts twice, as a record up to a bucket late counts
// in the open bucket (`an_hourly_series_whose_clock_went_back_an_hour_
// makes_no_spike`).

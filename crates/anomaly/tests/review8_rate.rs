//! Review 8 (December 2026) of review 7's `rate` change (214fdfc,
//! `Rate::run` in `src/engine.rs`): a record more than max(one bucket,
//! `LATE_SECS` = 600 s) behind a series' open bucket counts apart, the
//! buckets behind the series' latest (`RateState::peak`) are neither
//! judged nor learned, the latest bucket goes on from its saved count
//! (`peak_count`) when the stream returns, and a latest bucket the stream
//! never lived at (`Ctx::lived`) is forgotten.
//!
//! Each test that is not a `control_*` one names the behaviour a user
//! expects, where that expectation comes from, what happens instead
//! ("Found") and where the fix belongs; each failed on d323c40 because of
//! the bug it names, and holds since its fix ("Now"). `control_*` tests
//! passed then too and show that the set-up is sound (the same streams
//! without the fault are quiet, or the finding is reported where nothing
//! interferes).

use logseal_anomaly::Engine;
use serde_json::{Value, json};

mod review;
use review::*;

/// 2099-01-01T00:00:00Z: a broken first record.
const Y2099: i64 = 4_070_908_800;

/// Score `(host_secs, record)` pairs (host time 0: none); the rate texts,
/// each tagged with the record's timestamp.
fn run(e: &mut Engine, evs: &[(i64, Value)]) -> Vec<String> {
    let mut found = Vec::new();
    for (host, ev) in evs {
        let h = (*host > 0).then(|| *host * 1_000_000_000);
        let v = e.score(ev, h);
        for t in texts_of(&v, "event_rate") {
            found.push(format!("@{}: {t}", ev["timestamp"]));
        }
    }
    found
}

/// `per` records in each of `n` buckets of `bucket` seconds from `t0`,
/// evenly spread, in order; with the host time = the record's own when
/// `host`.
fn steady(t0: i64, bucket: i64, per: i64, n: i64, host: bool) -> Vec<(i64, Value)> {
    let mut out = Vec::new();
    for k in 0..n {
        for i in 0..per {
            let t = t0 + k * bucket + i * bucket / per;
            out.push((if host { t } else { 0 }, json!({"timestamp": t})));
        }
    }
    out
}

// ------------------------------------------- a replay beside the live stream

/// The live stream of two sources, 50 records a minute each, minutes
/// `from..to` (minutes since T0): A on time, B's records 50 s behind A's
/// (a forwarder with a small buffer: "delivery jitter", well inside the
/// README's 10 minutes), arriving interleaved A, B, A, B. With `replay`,
/// a replayed older log (a day back) runs beside it, one replayed record
/// after each live one. B's records are failures when `errs(minute, i)`.
fn two_sources(
    e: &mut Engine,
    from: i64,
    to: i64,
    replay: bool,
    errs: impl Fn(i64, i64) -> bool,
) -> Vec<String> {
    let mut found = Vec::new();
    for m in from..to {
        for i in 0..50 {
            let a = T0 + m * 60 + i;
            let out = |f: bool| if f { "failure" } else { "success" };
            let mut evs = vec![(0, json!({"timestamp": a, "outcome": "success"}))];
            if replay {
                evs.push((0, json!({"timestamp": a - DAY, "outcome": "success"})));
            }
            evs.push((0, json!({"timestamp": a - 50, "outcome": out(errs(m, i))})));
            if replay {
                evs.push((0, json!({"timestamp": a - DAY + 1, "outcome": "success"})));
            }
            found.extend(run(e, &evs));
        }
    }
    found
}

/// B's usual failures: one record in ten.
fn usual_errs(_m: i64, i: i64) -> bool {
    i % 10 == 0
}

/// Control: without the replay, the two sources are one steady series of
/// 100 a minute (B's records 50 s late count in the open minute): two days
/// of it, then 30 minutes more, nothing reported.
#[test]
fn control_two_skewed_sources_are_a_steady_series() {
    let mut e = engine(&rate_policy(60, DAY));
    two_sources(&mut e, 1, 2 * 1440, false, usual_errs);
    let found = two_sources(&mut e, 2 * 1440, 2 * 1440 + 30, false, usual_errs);
    assert!(found.is_empty(), "{found:?}");
}

/// README, `rate`: "later records, up to a bucket or 10 minutes, count in
/// the open bucket (delivery jitter)"; commit 214fdfc: a replay counts
/// apart, and "when the stream returns to the latest bucket it goes on
/// from that bucket's saved count" — the live stream is counted as without
/// the replay. Replaying an older log into a live engine is a use the
/// README names ("Replaying an older log into a live engine therefore
/// decays nothing").
///
/// Found: in `Rate::run`, while a replayed record has put the series
/// behind (`bucket < peak`), a live record 50 s late, of the minute before
/// the latest, lands in the "still behind" branch (`b > bucket`, `b <
/// peak`): it becomes a replayed bucket of its own and is never counted in
/// the live minute. Its jitter is measured against the replay's open
/// bucket, not against the latest. With the replay interleaved, every
/// record of the 50-s-late source is lost: each live minute counts 50 of
/// its 100 records and is reported, "*: drop: 50 events per 1m at 00:00
/// UTC, usual 100 ± 10", every minute of the replay, and the baseline
/// learns 50. Fix: `Rate::run`, the still-behind branch: a record within
/// max(bucket, `LATE_SECS`) of `peak` counts in `peak_count` (jitter is
/// judged against the latest bucket).
///
/// Now: a record within the late slack of the latest bucket, far from the
/// replay's, counts in the latest bucket (`peak_count`).
#[test]
fn a_replay_beside_the_live_stream_loses_no_late_live_record() {
    let mut e = engine(&rate_policy(60, DAY));
    two_sources(&mut e, 1, 2 * 1440, false, usual_errs);
    let found = two_sources(&mut e, 2 * 1440, 2 * 1440 + 30, true, usual_errs);
    assert!(
        !found.iter().any(|t| t.contains("drop")),
        "a replay beside the live stream made it lose every record of a source 50 s behind: {} findings, {:?}",
        found.len(),
        &found[..found.len().min(3)]
    );
}

/// Control: an error burst of the live stream (B fails every other record
/// in minute 10: 25% of the minute's records, usually 5%) is reported
/// without a replay.
#[test]
fn control_an_error_burst_of_the_late_source_is_reported() {
    let mut e = engine(&rate_policy(60, DAY));
    let n = 2 * 1440;
    two_sources(&mut e, 1, n, false, usual_errs);
    let found = two_sources(&mut e, n, n + 20, false, |m, i| {
        i % 10 == 0 || (m == n + 10 && i % 2 == 0)
    });
    assert!(
        found
            .iter()
            .any(|t| t.contains("error rate 25% (25 of 100)")),
        "{found:?}"
    );
}

/// README, `rate`: "error-rate spikes for events matching `error_where`";
/// a replay beside the live stream counts apart and leaves the live
/// stream's findings alone (commit 214fdfc: only buckets *behind* the
/// latest go unjudged).
///
/// Found: the same stream and error burst as the control, with a replay of
/// a day back running beside it: nothing is reported. The failing source's
/// records are 50 s late, so each one that follows a replayed record is
/// dropped by `Rate::run`'s still-behind branch (above); the live minute
/// closes as "0 of 50" errors and the error-rate check never sees the
/// burst. Fix: as above (`Rate::run`, jitter judged against `peak`).
///
/// Now: as above.
#[test]
fn an_error_burst_is_reported_while_a_replay_runs_beside_the_live_stream() {
    let mut e = engine(&rate_policy(60, DAY));
    let n = 2 * 1440;
    two_sources(&mut e, 1, n, false, usual_errs);
    let found = two_sources(&mut e, n, n + 20, true, |m, i| {
        i % 10 == 0 || (m == n + 10 && i % 2 == 0)
    });
    assert!(
        found.iter().any(|t| t.contains("error rate")),
        "an error burst of the live stream went unreported while a replay ran: {found:?}"
    );
}

/// The live stream, in order, with a replay beside it (in-order live
/// records: the fix of review 7 works).
fn live_with_replay(first: &[i64]) -> Vec<String> {
    let mut e = engine(&rate_policy(60, DAY));
    for &t in first {
        e.score(&json!({"timestamp": t, "outcome": "success"}), None);
    }
    let ev = |t: i64, fail: bool| json!({"timestamp": t, "outcome": if fail { "failure" } else { "success" }});
    let n = 3 * 1440;
    let mut evs = Vec::new();
    for k in 0..n {
        for i in 0..40 {
            evs.push((0, ev(T0 + k * 60 + i, i % 10 == 0)));
        }
    }
    run(&mut e, &evs);
    let mut evs = Vec::new();
    for k in n..n + 60 {
        let m = k - n;
        let per = match m {
            10 => 200,
            20..30 => 0,
            _ => 40,
        };
        for i in 0..per {
            let t = T0 + k * 60 + i * 40 / per;
            let fail = if m == 40 { i % 2 == 0 } else { i % 10 == 0 };
            evs.push((0, ev(t, fail)));
            evs.push((0, ev(t - DAY / 2, i % 10 == 0)));
        }
        if per == 0 {
            for i in 0..40 {
                evs.push((0, ev(T0 + k * 60 - DAY / 2 + i, false)));
            }
        }
    }
    run(&mut e, &evs)
}

/// Control: with records of the live stream in order, a replay of half a
/// day back running beside it leaves the live stream's findings: a 5x
/// spike (minute 10), a silence of 10 minutes (20 to 29) and an error
/// burst (minute 40) are all reported; also after a broken first record
/// (2099).
#[test]
fn control_live_findings_are_reported_beside_a_replay() {
    for first in [&[][..], &[Y2099][..]] {
        let found = live_with_replay(first);
        let has = |s: &str| found.iter().any(|t| t.contains(s));
        assert!(
            has("spike: 68 events in the 1m from 00:10 UTC"),
            "{found:?}"
        );
        assert!(
            has("drop: no events for 10 minutes from 00:20 UTC"),
            "{found:?}"
        );
        assert!(has("error rate 50% (20 of 40) at 00:40 UTC"), "{found:?}");
        assert_eq!(found.len(), 6, "{found:?}");
    }
}

// --------------------------------------- a replay more than 30 days back

/// Two days of 60 records per 5 minutes, then 15 minutes of the live
/// stream with a replay of a log 40 days back beside it: after each live
/// record, `chunk` replayed ones. Then 10 minutes of the live stream alone.
fn live_with_old_replay(chunk: usize) -> Vec<String> {
    let mut e = engine(&rate_policy(300, DAY));
    let n = 2 * 288;
    run(&mut e, &steady(T0, 300, 60, n, false));
    let now = T0 + n * 300;
    let mut evs = Vec::new();
    let mut r = now - 40 * DAY;
    for (h, v) in steady(now, 300, 60, 3, false) {
        evs.push((h, v));
        for _ in 0..chunk {
            evs.push((0, json!({"timestamp": r})));
            r += 2;
        }
    }
    evs.extend(steady(now + 3 * 300, 300, 60, 2, false));
    run(&mut e, &evs)
}

/// Control: a replay of 40 days back in long runs (as review 7's control,
/// here 40 records at a time) makes no spike.
#[test]
fn control_an_old_replay_in_long_runs_makes_no_spike() {
    let found = live_with_old_replay(40);
    assert!(!found.iter().any(|t| t.contains("spike")), "{found:?}");
}

/// Commit 214fdfc's headline: "a replay of 10 days back was a spike of the
/// live hour", fixed; its control (review 7) holds a replay of 40 days
/// back to the same. README, Timestamps: "Replaying an older log into a
/// live engine" is supported.
///
/// Found: a replay of 40 days back interleaved one to one with the live
/// stream (two inputs merged) is a spike of the live bucket, every bucket:
/// "*: spike: 95 events in the 5m from 00:00 UTC so far, usual 60 ± 7.7".
/// `Engine::clock` scores a record more than 30 days from the *last*
/// record at the clock unless three in a row agree, so each replayed
/// record is scored at the live time and `Rate::run` counts it in the live
/// bucket (with 10-day replays the rate now counts apart; with 40-day ones
/// interleaved it never sees that they are replayed). Fix: `Engine::clock`
/// (a record far from the clock but near the time the stream lives at, or
/// near the last replayed one, is no broken record), or `Rate::run` /
/// `Ctx` (a record scored at the clock because its own time was refused
/// counts in no bucket).
///
/// Now: a record the clock scored at its own time refused (`Ctx::refused`)
/// counts in no bucket.
#[test]
fn a_replay_40_days_back_interleaved_is_no_spike_of_the_live_bucket() {
    let found = live_with_old_replay(1);
    assert!(
        !found.iter().any(|t| t.contains("spike")),
        "replayed records of 40 days back counted in the live bucket: {found:?}"
    );
}

/// README, `rate`: a silence is reported for "empty buckets of a series";
/// commit 214fdfc: a replay leaves no silence of buckets the stream
/// counted. Here the live stream never stops (60 records per 5 minutes).
///
/// Found: with the replay of 40 days back arriving five records after each
/// live one, `Engine::clock` confirms the jump back on each run of
/// replayed records and then scores the next live record at the replay's
/// time (more than 30 days from the last record, not yet confirmed), so
/// no live record reaches the live bucket; when the replay ends the
/// series reports "*: drop: no events for 10 minutes from 00:05 UTC after
/// 3 in the 5m before, usual 60 ± 7.7 per 5m" of a stream that sent 60
/// records every 5 minutes, and the baseline learns zeros. Fix:
/// `Engine::clock` (a record near where the stream lived is no jump to
/// confirm; see above).
///
/// Now: `Engine::clock` takes a record back within 30 days of the latest
/// time the stream lived at at once (no jump to confirm).
#[test]
fn a_replay_40_days_back_in_short_runs_makes_no_silence_of_the_live_stream() {
    let found = live_with_old_replay(5);
    assert!(
        !found.iter().any(|t| t.contains("drop")),
        "the live stream, never silent, was reported silent beside a replay: {found:?}"
    );
}

// ------------------------------------- group_by: only some entities replayed

/// Per-user minute series. alice: 20 records a minute for three days. Then
/// two hours in which bob, new, sends 20 a minute live while his log of
/// two days back is replayed beside it (one replayed record before each of
/// his live ones), and alice goes on. The user_rate texts of that time.
fn bob_backfilled(first: &[i64]) -> Vec<String> {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": DAY, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "event_rate", "bucket_secs": 60,
                       "group_by": "user", "seasonality": "none", "drops": true}]
    }));
    for &t in first {
        e.score(&json!({"timestamp": t, "user": "alice"}), None);
    }
    let n = 3 * 1440;
    let mut evs = Vec::new();
    for k in 0..n {
        for i in 0..20 {
            evs.push((
                0,
                json!({"timestamp": T0 + k * 60 + i * 3, "user": "alice"}),
            ));
        }
    }
    run(&mut e, &evs);
    let now = T0 + n * 60;
    let mut evs = Vec::new();
    for k in 0..120 {
        for i in 0..20 {
            let t = now + k * 60 + i * 3;
            evs.push((0, json!({"timestamp": t - 2 * DAY, "user": "bob"})));
            evs.push((0, json!({"timestamp": t, "user": "bob"})));
            evs.push((0, json!({"timestamp": t, "user": "alice"})));
        }
    }
    run(&mut e, &evs)
}

/// README, `rate`: a replayed older log "counts apart, in its own bucket,
/// and the series neither judges nor learns the buckets behind its
/// latest"; `group_by` series are independent ("per `group_by`").
///
/// Found: when an entity's first record is a replayed one (bob's backfill
/// loaded while his live records start), `Rate::run` opens bob's series at
/// the replay's bucket as if the stream lived there (`peak = b`). His first
/// live record then closes it and judges the whole gap to now as empty
/// (1,440 zeros taught to a baseline in warm-up), after which every minute
/// of bob's steady 20 a minute is reported: "bob: spike: 10 events in the
/// 1m from 00:00 UTC so far, usual 0 ± 1", 120 findings in two hours
/// (alice, live only, is quiet). The stream's latest time (`Ctx::lived`)
/// was known: the backfill was two days behind it. Fix: `Rate::run`, when
/// a series opens (`bucket == u32::MAX`) with a record more than
/// max(bucket, `LATE_SECS`) behind `bidx(c.lived)`, its latest bucket is
/// the stream's (`peak = bidx(c.lived)`: the record counts apart), or no
/// zeros are taught for buckets before the series' first lived one.
///
/// Now: a series whose first record is far behind the stream is behind
/// from birth, and nothing counted at its latest bucket is no bucket.
#[test]
fn an_entity_first_seen_in_a_replay_learns_no_empty_days() {
    let found = bob_backfilled(&[]);
    assert!(
        !found
            .iter()
            .any(|t| t.starts_with('@') && t.contains("bob: spike")),
        "a backfill of bob beside his live records: {} findings, {:?}",
        found.len(),
        &found[..found.len().min(3)]
    );
}

/// Control: alice, whose series was live before, is not reported in the
/// same two hours; nor with a broken first record (2099) before all.
#[test]
fn control_a_live_entity_beside_a_backfilled_one_is_quiet() {
    for first in [&[][..], &[Y2099][..]] {
        let found = bob_backfilled(first);
        assert!(!found.iter().any(|t| t.contains("alice")), "{found:?}");
    }
}

// ---------------------------------------------------------- a late source

/// Control: B 9 minutes late (within the README's 10 minutes of jitter):
/// the burst is reported.
#[test]
fn control_a_burst_9_minutes_late_is_reported() {
    let found = late_source(540, false);
    assert!(found.iter().any(|t| t.contains("spike")), "{found:?}");
}

/// README, `rate`: "spikes ... A spike is reported while its bucket fills";
/// "A record more than one bucket (and 10 minutes) older than the series'
/// open bucket (a replayed or backfilled older log, a late source, ...)
/// counts apart, in its own bucket", justified by "the buckets it had
/// reached were counted". Before 214fdfc a late record counted in the open
/// bucket and a burst of it was a spike.
///
/// Found: B's records, 12 minutes late, were never counted anywhere: each
/// opens a replayed bucket in `Rate::run`, which is neither judged nor
/// learned, and the next record of A returns to the latest bucket, whose
/// count never included them. So a 20x burst of B (1,200 records in three
/// minutes, a brute force seen by a late source) is reported nowhere,
/// neither when it arrives nor later, where 9 minutes late it is a spike
/// (control). The justification holds for a replay of
/// time already counted, not for a late source: its records are counted
/// by no bucket. Fix: `Rate::run` (judge a behind bucket whose records no
/// bucket counted, e.g. spikes of the records counted apart against the
/// baseline of their hour, or count a late record in the open bucket when
/// the series is live as before), and the README sentence.
///
/// Now: records up to 30 minutes (or a bucket) late count in the open
/// bucket.
#[test]
fn a_burst_from_a_source_12_minutes_late_is_reported() {
    let found = late_source(720, false);
    assert!(
        found.iter().any(|t| t.contains("spike")),
        "a 20x burst of records 12 minutes late was reported nowhere: {found:?}"
    );
}

// ---------------------------------------------------- a clock gone back

/// Two days of 60 records per 5 minutes; then at 00:00 (a bucket boundary)
/// the stream's clock goes back `back` seconds for good (syslog lines in
/// local time at the autumn change repeat an hour; a clock reset) and the
/// stream goes on at its rate for `hours`; `burst` multiplies the records
/// of one 5 minutes from `burst.0` seconds after the step by `burst.1`;
/// `quiet` is a span after the step with no records.
fn clock_back(back: i64, hours: i64, burst: (i64, i64), quiet: (i64, i64)) -> Vec<String> {
    let mut e = engine(&rate_policy(300, DAY));
    let n = 2 * 288;
    run(&mut e, &steady(T0, 300, 60, n, false));
    let from = T0 + n * 300 - back;
    let mut evs = Vec::new();
    for (h, v) in steady(from, 300, 60, hours * 12, false) {
        let d = ts(&v) - from;
        if (quiet.0..quiet.1).contains(&d) {
            continue;
        }
        let k = if (burst.0..burst.0 + 300).contains(&d) {
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

/// Control: the same stream without the step back is quiet, and a 10x
/// burst in it is reported.
#[test]
fn control_a_steady_stream_without_the_step_is_quiet() {
    assert!(clock_back(0, 2, (0, 1), (0, 0)).is_empty());
    let found = clock_back(0, 2, (1800, 10), (0, 0));
    assert!(found.iter().any(|t| t.contains("spike")), "{found:?}");
}

/// README, `rate`: when the stream returns, "the latest bucket goes on from
/// its count" — meant for a replay beside the live stream, where the
/// latest bucket's records are the live ones counted before; common sense:
/// a stream at its usual rate makes no spike.
///
/// Found: after the clock goes back an hour, the stream walks the hour
/// again; when it reaches the latest bucket (23:55, counted in full, 60
/// records, before the step) `Rate::run` adds the new records of 23:55 to
/// the saved 60 (`s.count = s.peak_count`, then `+= 1`), and reports "*:
/// spike: 95 events in the 5m from 23:55 UTC so far, usual 60 ± 7.7" (60
/// and 60 counted by its end) of a stream that never changed; a day back does the same
/// a day later. (A replay that walks up to the live bucket double counts
/// the same way.) Fix: `Rate::run`, the return to `peak`: when the series
/// walks into it from the bucket before (rather than jumping back from an
/// older replayed one), the new records are a second count of that time
/// and the bucket should take the larger of the two counts, not the sum.
///
/// Now: walked into from a bucket within the late slack, the latest
/// bucket counts the larger of its two passes (`RateState::counted`).
#[test]
fn a_stream_whose_clock_went_back_an_hour_makes_no_spike_when_it_catches_up() {
    let found = clock_back(HOUR, 2, (0, 1), (0, 0));
    assert!(
        !found.iter().any(|t| t.contains("spike")),
        "a steady stream reported a spike where its clock caught up: {found:?}"
    );
}

/// README, `rate`: "A spike is reported while its bucket fills ... so
/// neither the alert nor the record it lands on waits for the next bucket,
/// which may never come"; the series "neither judges nor learns the
/// buckets behind its latest: the buckets it had reached were counted".
///
/// Found: after the clock goes back an hour, every bucket of the repeated
/// hour is behind the latest, so `Rate::run` judges none of them: a 10x
/// burst 30 minutes after the step (600 records in 5 minutes, usually 60)
/// is reported nowhere, then or later; the records of the repeated hour
/// are new, counted by no bucket, so the README's reason does not hold.
/// (The same stream without the step reports it: control.) A series is
/// blind for as long as the clock went back, up to 30 days. Fix:
/// `Rate::run` (spikes of buckets behind the latest whose records no
/// bucket counted: at least `spike_so_far` against the baseline, which
/// needs no learning), and the README, which presents the blindness as
/// harmless.
///
/// Now: a bucket behind the latest is judged for spikes as it fills (not
/// learned).
#[test]
fn a_burst_in_the_hour_a_clock_repeats_is_reported() {
    let found = clock_back(HOUR, 2, (1800, 10), (0, 0));
    assert!(
        found
            .iter()
            .any(|t| t.contains("spike") && !t.contains("23:55")),
        "a 10x burst after the clock went back an hour was reported nowhere: {found:?}"
    );
}

// --------------------------------------- skew of a few minutes ahead

/// A steady series of 60 records a bucket, with the host's time; `into`
/// seconds into a bucket one record arrives from a host whose clock is
/// `ahead` seconds fast (within the README's 5 minutes of skew, so it is
/// scored at its own time); the stream goes on for 4 buckets.
fn one_record_ahead(bucket: i64, ahead: i64, into: i64, warm: i64) -> Vec<String> {
    let mut e = engine(&rate_policy(bucket, warm / 3));
    let n = warm / bucket;
    let per = if bucket >= 60 { 60 } else { 5 };
    let all = steady(T0, bucket, per, n + (600 / bucket).max(4), true);
    let now = T0 + n * bucket + into;
    let (before, after): (Vec<_>, Vec<_>) = all.into_iter().partition(|(h, _)| *h <= now);
    run(&mut e, &before);
    let mut evs = vec![(now, json!({"timestamp": now + ahead}))];
    evs.extend(after);
    run(&mut e, &evs)
}

/// Control: the same stream with the odd record on time is quiet; and one
/// 6 minutes fast is scored at the host's time (README), quiet too.
#[test]
fn control_a_record_on_time_or_far_ahead_is_quiet() {
    for (bucket, ahead, warm) in [
        (300, 0, 2 * DAY),
        (300, 360, 2 * DAY),
        (60, 0, DAY),
        (1, 0, 3 * HOUR),
    ] {
        let found = one_record_ahead(bucket, ahead, bucket.min(120) / 2, warm);
        assert!(
            found.is_empty(),
            "bucket {bucket}, ahead {ahead}: {found:?}"
        );
    }
}

// ---------------------------------------------------- snapshots, gauge

fn mixed_policy() -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": 43_200, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [
            {"type": "rate", "name": "event_rate", "bucket_secs": 60, "seasonality": "hour_of_day",
             "drops": true, "error_where": [{"field": "outcome", "eq": "failure"}]},
            {"type": "rate", "name": "user_rate", "bucket_secs": 10, "group_by": "user", "drops": true,
             "error_where": [{"field": "outcome", "eq": "failure"}]},
            {"type": "rate", "name": "latency", "group_by": "user", "value_field": "ms", "warmup": 50}
        ]
    })
}

/// A broken first record (2099), then a day of a few records
/// every 10 s from four users, a record 40 s late now and then; in the last
/// 400 steps a replay of u1 and u2 only (a day back, all failures, slow)
/// interleaved with the live stream.
fn mixed_stream() -> Vec<Value> {
    let mut out = vec![json!({"timestamp": Y2099, "user": "u0", "ms": 100})];
    let mut seed = 7u64;
    let mut rnd = |m: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    let n = 2 * DAY / 20;
    for k in 0..n {
        for j in 0..(2 + rnd(4) as i64) {
            let t = T0 + k * 10 + j;
            let u = rnd(4);
            out.push(json!({"timestamp": t, "user": format!("u{u}"),
                            "outcome": if rnd(9) == 0 { "failure" } else { "success" },
                            "ms": 100 + rnd(20)}));
            if k > n - 400 && rnd(2) == 0 {
                out.push(
                    json!({"timestamp": t - DAY + 7, "user": format!("u{}", 1 + rnd(2)),
                                "outcome": "failure", "ms": 500}),
                );
            }
            if k % 97 == 0 && rnd(3) == 0 {
                out.push(
                    json!({"timestamp": t - 40, "user": "u3", "outcome": "success", "ms": 110}),
                );
            }
        }
    }
    out
}

/// Control: README, State snapshots: "A restored engine continues
/// byte-identically". Snapshots after the broken first record, before, at
/// the start of, in the middle of and at the end of an interleaved replay of two users (per-user and
/// global rate with errors, a gauge-mode series, a broken first record):
/// the restored engine's verdicts are the uninterrupted one's, byte for
/// byte.
#[test]
fn control_a_snapshot_in_a_replay_continues_byte_identically() {
    let evs = mixed_stream();
    let p = mixed_policy();
    let mut whole = engine(&p);
    let all: Vec<String> = evs.iter().map(|v| whole.score(v, None).to_json()).collect();
    let n = evs.len();
    let start = evs.iter().position(|v| v["ms"] == 500).unwrap();
    for at in [2, start - 1, start, start + 301, n - 5] {
        let mut a = engine(&p);
        for v in &evs[..at] {
            a.score(v, None);
        }
        let mut b = engine(&p);
        b.restore(&a.snapshot()).expect("restore");
        let rest: Vec<String> = evs[at..]
            .iter()
            .map(|v| b.score(v, None).to_json())
            .collect();
        let d = rest.iter().zip(&all[at..]).position(|(x, y)| x != y);
        assert_eq!(d, None, "snapshot at {at} of {n}");
    }
}

/// Control: gauge mode (`value_field`) knows no buckets: with a replay of
/// a day back interleaved, a live value 10x the usual is still reported.
#[test]
fn control_gauge_mode_reports_a_live_spike_beside_a_replay() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": HOUR, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "latency", "value_field": "ms", "warmup": 50}]
    }));
    let mut found = Vec::new();
    for i in 0..3000i64 {
        let t = T0 + i * 5;
        let ms = if i == 2900 { 1500 } else { 100 + (i * 7) % 13 };
        let v = e.score(&json!({"timestamp": t, "ms": ms}), None);
        found.extend(
            texts_of(&v, "latency")
                .into_iter()
                .map(|x| format!("{i}: {x}")),
        );
        if i > 2500 {
            e.score(
                &json!({"timestamp": t - DAY, "ms": 100 + (i * 5) % 13}),
                None,
            );
        }
    }
    assert!(found.iter().any(|t| t.starts_with("2900:")), "{found:?}");
}

// ------------------------------------------------------ not fixed (README)
//
// Two findings of this review are limits the README now states, not
// fixed: after the clock goes back, a series judges the buckets behind its
// latest for spikes only (a silence there, as 3 hours without records a
// day after a step back of a day, is not reported); and one record from a
// host a few minutes fast closes the open bucket early (a drop, then a
// spike of the next, in 1-second to 5-minute buckets). Their tests were
// `a_silence_after_the_clock_went_back_a_day_is_reported` and
// `a_record_from_a_host_a_few_minutes_fast_makes_no_drop_or_spike`.

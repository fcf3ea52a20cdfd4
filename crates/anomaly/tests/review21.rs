//! Review 21: 06c44d6 (rule windows in three runs: the latest 16
//! sub-buckets, the 8 they drop, a far run; `distinct` likewise in
//! halves; snapshot format 8, format 7 read in a91cb79's layout).
mod review;
#[allow(unused_imports)]
use review::*;

use serde_json::{Value, json};

// ------------------------------------------------------------ snapshots

/// "More than 6 distinct users per source in 10 minutes" (halves of
/// 300 s), no learning, no dedup.
fn spray() -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "distinct", "name": "spray", "group_by": "ip",
                       "distinct": "user", "window_secs": 600, "threshold": 6}]
    })
}

fn spray_rec(t: i64, user: &str) -> Value {
    json!({"timestamp": t, "user": user, "ip": "203.0.113.9"})
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Format 7 snapshots written by a91cb79 (`Engine::new(spray())`, built
/// from `git archive a91cb79`): with `now = T0 + DAY` (half 5,680,512)
/// and `h` 1 (`V7_A91CB79_ODD`) or 2 (`V7_A91CB79_EVEN`), one record of
/// 203.0.113.9 (user alice) at `now + (h + 5) * 300 + 10`, then user0 to
/// user5 at `now + h * 300 + 10 + 20 i`: those six are in a91cb79's
/// `back` `DistCore` (half 5,680,513 or 5,680,514, `cur` 6 bits, `prev`
/// empty).
const V7_A91CB79_ODD: &str = "\
4c53414e4f4d414c07004293543dff73e225000000000000000000008044d664d941000080e6d464d9410700000000000000\
800500000000000000008044d664d941070000000000000000000000000000000000f87f000000000000f0ff000000000000\
00000000000000000000070000000000000000000000010000004bd4138f46a8638c0700000086ad56000000000000000000\
0000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000000\
00000000000081ad560000080000000000000000040000000000800000000000000000001300000000000000000000000000\
000000000000000000000000000000000000000000000000dccd5200de1ea408";
const V7_A91CB79_EVEN: &str = "\
4c53414e4f4d414c07004293543dff73e22500000000000000000000808fd664d94100008031d564d9410700000000000000\
80050000000000000000808fd664d941070000000000000000000000000000000000f87f000000000000f0ff000000000000\
00000000000000000000070000000000000000000000010000004bd4138f46a8638c0700000087ad56000000000000000000\
0000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000000\
00000000000082ad560000080000000000000000040000000000800000000000000000001300000000000000000000000000\
000000000000000000000000000000000000000000000000ff0d60143bbc0592";

/// Found: a format 7 `distinct` window's run behind is restored with its
/// two sketches swapped when its half is odd. a91cb79 wrote a `DistCore`
/// as `half`, `cur` (half `half`), `prev` (half `half - 1`); 06c44d6 reads
/// it as `Halves::<2>::get`, `h[0]`, `h[1]`, where `Halves` keeps half
/// `hb` in `h[hb % 2]`: for an odd `half` the latest half's names sit in
/// the slot of the half before it and vice versa. The far run's next half
/// then clears the slot it thinks is `half - 1`, which holds `half`'s
/// names. Evidence: six names of 203.0.113.9 25 minutes behind its live
/// record, saved by a91cb79, then a seventh name in the next half: in one
/// engine (control), and restored from the even-half state, "~7 distinct
/// user in 10m (spray), more than 6"; restored from the odd-half state,
/// nothing (the six are gone). `Win`'s format 7 run behind is a `Slots`
/// of 8 indexed `i % 8` as `Slots<8>` is, and the live runs are restored
/// by index, so only `Dist`'s far run is hit.
/// Fix: in `Dist::get` for `r.v == 7`, read `half`, `cur`, `prev` and put
/// them at `far.h[half % 2]` and `far.h[(half + 1) % 2]` (`prev` dropped
/// for half 0), as the live run is read.
/// Now: format 7's run behind is read as `half, cur, prev`.
#[test]
fn a_format_7_distinct_run_behind_at_an_odd_half_is_restored_swapped() {
    let now = T0 + DAY;
    let mut out = Vec::new();
    for (h, snap) in [(1i64, V7_A91CB79_ODD), (2, V7_A91CB79_EVEN)] {
        let seventh = now + (h + 1) * 300 + 10;
        // control: the same records in one engine
        let mut one = engine(&spray());
        one.score(&spray_rec(now + (h + 5) * 300 + 10, "alice"), None);
        for i in 0..6 {
            one.score(
                &spray_rec(now + h * 300 + 10 + i * 20, &format!("user{i}")),
                None,
            );
        }
        let control = texts_of(&one.score(&spray_rec(seventh, "user6"), None), "spray");
        assert!(!control.is_empty(), "control, h {h}");
        let bytes = hex(snap);
        assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 7);
        let mut e = engine(&spray());
        e.restore(&bytes)
            .expect("a91cb79's format 7 state restores");
        let got = texts_of(&e.score(&spray_rec(seventh, "user6"), None), "spray");
        out.push((h, got));
    }
    assert!(
        out.iter().all(|(_, t)| !t.is_empty()),
        "a seventh name after a91cb79's state with six names in the run behind \
         (h 1: odd half, 2: even): {out:?}"
    );
}

// ------------------------------------------------------------- policy

/// Found: the policy refuses a `threshold` of 524,280 and more, and a
/// `min_first` above it, as "a window counts at most that many"
/// (`WINDOW_MAX = 8 * 65_535`; the README's `followed_by` row: "a window
/// counts at most 8 sub-buckets of 65,535 events; higher values, never
/// reachable"). Since 06c44d6 a window sums three runs, and `spilt` and
/// `far` hold records of the same sub-buckets (an on-time record the
/// latest 16 dropped and a far one), so a window counts up to 16 x
/// 65,535 = 1,048,560. Evidence: 8 records weighing 65,535, 75 s apart,
/// a record 30 minutes on (they are spilt), then 8 records weighing
/// 65,535 of the same 8 sub-buckets delivered late (far run): the last
/// reads "1048560 in 10m", right (16 x 65,535 events in 10 minutes),
/// while `threshold: 600000` is refused as unreachable.
/// Fix: `WINDOW_MAX = 16 * 65_535` (live or spilt, plus far, per
/// sub-bucket), or keep the bound and reword it (a ceiling, not what a
/// window can count); the README row likewise.
/// Now: the bound is 16 × 65,535 = 1,048,560.
#[test]
fn a_window_counts_more_than_the_policy_bound_says() {
    let now = T0 + DAY;
    let mut e = engine(&count_rule());
    let rec =
        |t: i64, n: i64| json!({"timestamp": t, "user": "alice", "outcome": "failure", "n": n});
    for i in 0..8 {
        e.score(&rec(now + i * 75, 65_535), None);
    }
    e.score(&rec(now + 23 * 75, 1), None);
    let mut last = String::new();
    for i in 0..8 {
        last = texts_of(&e.score(&rec(now + i * 75 + 5, 65_535), None), "fails")
            .pop()
            .unwrap_or_default();
    }
    let mut p = count_rule();
    p["detectors"][0]["threshold"] = json!(600_000);
    let refused = logseal_anomaly::Policy::parse(&p.to_string()).err();
    assert!(
        !(last.contains("1048560 in 10m") && refused.is_some()),
        "a window counted {last:?}; a threshold of 600,000 is refused: {refused:?}"
    );
}

// --------------------------------------------------------------- README

/// Found: the README's `distinct` and `followed_by` rows still describe
/// ee1b878's two runs. `distinct`: "a group keeps its latest 4 halves and
/// a run of 2 behind them that tracks them or holds a far run; a late
/// record is judged by ... the two windows of two halves that hold it,
/// over both" (06c44d6 keeps three runs, the far one apart, and reads
/// over the three; the same row's sizes sentence says three).
/// `followed_by`: "a `then` reads the `first` events of the window ending
/// at its sub-bucket, over both runs" (three: `Win::total_to`).
/// Fix: "a group keeps its latest 4 halves, the 2 before them and a far
/// run of 2 ...; over the three" and "over the three runs".
/// Now: the rows describe the three runs.
#[test]
fn the_readme_distinct_and_followed_by_rows_describe_two_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let row = |name: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .expect("row")
            .to_string()
    };
    let distinct = row("distinct");
    let followed_by = row("followed_by");
    let stale: Vec<&str> = [
        (distinct.as_str(), "tracks them or holds a far run"),
        (distinct.as_str(), "over both"),
        (followed_by.as_str(), "over both runs"),
    ]
    .into_iter()
    .filter(|(r, s)| r.contains(s))
    .map(|(_, s)| s)
    .collect();
    assert!(stale.is_empty(), "README rows still say: {stale:?}");
}

// Design limits and checked-and-fine (no test kept):
//
// - No double counting found. `spilt` takes `live.head - 15 ..=
//   min(b - 16, live.head)` before `live.advance(b)` zeroes exactly those
//   ring slots, so live and spilt never share a sub-bucket and spills
//   never overlap (spilt only moves forward: no older spill is dropped);
//   a far record is at most `live.head - 16` when it comes and the live
//   run never goes back, so it is never in live nor spilt later. Spilt and
//   far may share sub-buckets, with different records. A brute-force
//   reference (scratch, not kept): 300 random streams of 1 to 4 sources,
//   lags 0 to 2 h, arrival jitter up to 2 min, a third of the sources
//   with the clock gone back up to 6,000 s for good half-way, one record
//   in five weighing up to 65,535: `threshold` never above the true
//   largest count of 8 sub-buckets holding the record; weighted
//   `followed_by` never above the `first` weight of the 8 sub-buckets
//   ending at the `then`.
// - A jump of the live head by 16 or more spills all 16 into a run of 8:
//   the older 8 are dropped (at least 24 sub-buckets behind the new head;
//   a record there is over two windows late). As designed.
// - The far run is never given up now (ee1b878 dropped it after two
//   windows of live movement): stale far records only meet a record of
//   their own time. A clock gone back for good fills the far run in order
//   (it acts as a run of 8) until it reaches the live 16; then live and
//   far together hold its window. Fine.
// - Format 7 `Win` (a91cb79: live 8, back 8, both `i % 8`): restored
//   correctly (live by index into 16, back as far; back's head at most
//   `live.head - 8`, so it may sit inside the live 16, with other
//   records: no over-count). Only `Dist`'s far run is swapped (above).
// - An ee1b878 format 7 state (60/204-byte windows) is read at 40/136
//   bytes: it fails on a later length or trailing bytes; not proven
//   refused for every policy (a misaligned read could in principle parse).
// - Memory: `Win` 76 (+12 = 88), `Dist` 280 (+12 = 292) match the README.

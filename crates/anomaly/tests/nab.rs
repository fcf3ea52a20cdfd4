//! The NAB scorer of `logseal-eval` against NAB's own: its scorer tests,
//! its published per-file results and their normalisation.
//!
//! Sources (numenta/NAB, MIT; nothing of its code is copied, only cases
//! and figures):
//! - the cases of `tests/integration/scorer_test.py`,
//!   `true_positive_test.py`, `false_positive_test.py` and
//!   `false_negative_test.py` (commit 03ef06a), which drive NAB's
//!   `Sweeper.scoreDataSet` on series of 5-minute points with windows
//!   placed by `nab/test_helpers.py` `generateWindows`, probationary
//!   period 0 and cost matrix A_TP = A_FP = A_FN = 1 unless said;
//! - the published per-file results copied into `data/nab/published/`
//!   (their commits are in the files' headers), and NAB's published corpus
//!   scores: windowed Gaussian 39.6 and Random Cut Forest 51.7 (NAB's
//!   scoreboard), HTM 65.272443113189652 (`results/final_results.json`
//!   at 001b3eb, the results the HTM rows come from).

use logseal_anomaly::eval::{
    NAB_PROBATION, NabCosts, NabSeries, nab_evaluate, nab_load, nab_normalise, nab_null_check,
    nab_peers, nab_published, nab_score_file,
};
use std::path::Path;

const ONES: NabCosts = NabCosts {
    tp: 1.0,
    fp: 1.0,
    fn_: 1.0,
};

/// `length` timestamps 5 minutes apart (NAB's `generateTimestamps`).
fn stamps(length: usize) -> Vec<f64> {
    (0..length)
        .map(|i| 1_400_000_000.0 + 300.0 * i as f64)
        .collect()
}

/// NAB's `generateWindows`: `n` windows of `size` points, roughly evenly
/// spaced (`diff = round((length - n size) / (n + 1))` points before each).
/// Python rounds halves to even; none of the cases below has a half but
/// `(10 - 3) / 2`, which both roundings take to 4.
fn windows(ts: &[f64], n: usize, size: usize) -> Vec<(f64, f64)> {
    let diff = ((ts.len() - n * size) as f64 / (n + 1) as f64).round() as usize;
    (0..n)
        .map(|i| {
            let a = diff * (i + 1) + size * i;
            (ts[a], ts[a + size - 1])
        })
        .collect()
}

fn index_of(ts: &[f64], t: f64) -> usize {
    ts.iter()
        .position(|&x| x == t)
        .expect("window edge is a timestamp")
}

fn detections(length: usize, at: &[usize]) -> Vec<f64> {
    let mut s = vec![0.0; length];
    for &i in at {
        s[i] = 1.0;
    }
    s
}

/// (tn, tp, fp, fn) as NAB's `_checkCounts` takes them.
fn counts(f: &logseal_anomaly::eval::NabFileScore) -> (usize, usize, usize, usize) {
    (f.tn, f.tp, f.fp, f.fn_)
}

// ------------------------------------------------ NAB's scorer tests

/// scorer_test.py `testNullCase`: no windows, no detections: 0.
#[test]
fn null_case_scores_zero() {
    let ts = stamps(10);
    let f = nab_score_file(&ts, &[], &[0.0; 10], 0.5, 0.0, ONES);
    assert_eq!(f.score, 0.0);
    assert_eq!(counts(&f), (10, 0, 0, 0));
}

/// scorer_test.py `testScoringAllMetrics`: windows of 5 in 100 points
/// (30-34, 65-69), detections at the first window's first two points and
/// 7 points after its start: score -0.9540 (4 places).
#[test]
fn scoring_all_metrics() {
    let ts = stamps(100);
    let w = windows(&ts, 2, 5);
    let i = index_of(&ts, w[0].0);
    assert_eq!(i, 30);
    let f = nab_score_file(
        &ts,
        &w,
        &detections(100, &[i, i + 1, i + 7]),
        0.5,
        0.0,
        ONES,
    );
    assert!((f.score - -0.9540).abs() < 5e-5, "{}", f.score);
    assert_eq!(counts(&f), (100 - 10 - 1, 2, 1, 8));
}

/// scorer_test.py `testRewardLowFalseNegatives`: with no detection, A_FN =
/// 2 (A_FP 0.055) scores twice the standard cost matrix's score.
#[test]
fn reward_low_false_negatives() {
    let ts = stamps(100);
    let w = windows(&ts, 1, 10);
    let none = [0.0; 100];
    let a = nab_score_file(&ts, &w, &none, 0.5, 0.0, ONES);
    let b = nab_score_file(
        &ts,
        &w,
        &none,
        0.5,
        0.0,
        NabCosts {
            tp: 1.0,
            fp: 0.055,
            fn_: 2.0,
        },
    );
    assert_eq!(a.score, 0.5 * b.score);
    assert_eq!(counts(&a), (90, 0, 0, 10));
    assert_eq!(counts(&b), (90, 0, 0, 10));
}

/// scorer_test.py `testRewardLowFalsePositives`: one detection at the
/// first point and no window; A_FP = 2 scores twice A_FP = 1.
#[test]
fn reward_low_false_positives() {
    let ts = stamps(100);
    let s = detections(100, &[0]);
    let a = nab_score_file(&ts, &[], &s, 0.5, 0.0, ONES);
    let b = nab_score_file(
        &ts,
        &[],
        &s,
        0.5,
        0.0,
        NabCosts {
            tp: 1.0,
            fp: 2.0,
            fn_: 0.5,
        },
    );
    assert_eq!(a.score, 0.5 * b.score);
    assert_eq!(counts(&a), (99, 0, 1, 0));
}

/// scorer_test.py `testFalsePositiveScaling`: with A_FP = 0.11, 10 random
/// detections in 100 points with one window of 10 average a score in
/// [-1.5, 0.5] over 20 draws (a fixed generator here, NAB's is random).
#[test]
fn false_positive_scaling() {
    let ts = stamps(100);
    let w = windows(&ts, 1, 10);
    let costs = NabCosts {
        tp: 1.0,
        fp: 0.11,
        fn_: 1.0,
    };
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut total = 0.0;
    for _ in 0..20 {
        let mut idx: Vec<usize> = (0..100).collect();
        for k in 0..10 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let j = k + (x % (100 - k) as u64) as usize;
            idx.swap(k, j);
        }
        let f = nab_score_file(&ts, &w, &detections(100, &idx[..10]), 0.5, 0.0, costs);
        total += f.score;
    }
    let avg = total / 20.0;
    assert!((-1.5..=0.5).contains(&avg), "{avg}");
}

/// true_positive_test.py `testFirstTruePositiveWithinWindow`: a detection
/// at a window's first point scores A_TP exactly.
#[test]
fn first_point_of_a_window_scores_a_tp() {
    let ts = stamps(10);
    let w = windows(&ts, 1, 2);
    let f = nab_score_file(
        &ts,
        &w,
        &detections(10, &[index_of(&ts, w[0].0)]),
        0.5,
        0.0,
        ONES,
    );
    assert_eq!(f.score, 1.0);
    assert_eq!(counts(&f), (8, 1, 0, 1));
}

/// true_positive_test.py `testEarlierTruePositiveIsBetter` and
/// `testOnlyScoreFirstTruePositiveWithinWindow`.
#[test]
fn earlier_detection_in_a_window_is_better_and_only_the_first_counts() {
    let ts = stamps(10);
    let w = windows(&ts, 1, 2);
    let (a, b) = (index_of(&ts, w[0].0), index_of(&ts, w[0].1));
    let first = nab_score_file(&ts, &w, &detections(10, &[a]), 0.5, 0.0, ONES);
    let last = nab_score_file(&ts, &w, &detections(10, &[b]), 0.5, 0.0, ONES);
    let both = nab_score_file(&ts, &w, &detections(10, &[a, b]), 0.5, 0.0, ONES);
    assert!(first.score > last.score);
    assert_eq!(both.score, first.score);
    assert_eq!(counts(&last), (8, 1, 0, 1));
    assert_eq!(counts(&both), (8, 2, 0, 0));
}

/// true_positive_test.py `testTruePositivesWithDifferentWindowSizes`.
#[test]
fn first_point_scores_the_same_whatever_the_window_width() {
    let ts = stamps(10);
    let w2 = windows(&ts, 1, 2);
    let w3 = windows(&ts, 1, 3);
    let a = nab_score_file(
        &ts,
        &w2,
        &detections(10, &[index_of(&ts, w2[0].0)]),
        0.5,
        0.0,
        ONES,
    );
    let b = nab_score_file(
        &ts,
        &w3,
        &detections(10, &[index_of(&ts, w3[0].0)]),
        0.5,
        0.0,
        ONES,
    );
    assert_eq!(a.score, b.score);
    assert_eq!(counts(&b), (7, 1, 0, 2));
}

/// true_positive_test.py `testTruePositiveAtRightEdgeOfWindow`: a detection
/// at a window's last point plus one just after it plus the window's A_FN
/// add up to about 0 (3 places): the sigmoid crosses 0 between them.
#[test]
fn right_edge_of_a_window_is_about_zero() {
    let ts = stamps(1000);
    let w = windows(&ts, 1, 100);
    let end = index_of(&ts, w[0].1);
    let tp = nab_score_file(&ts, &w, &detections(1000, &[end]), 0.5, 0.0, ONES);
    let fp = nab_score_file(&ts, &w, &detections(1000, &[end + 1]), 0.5, 0.0, ONES);
    assert!(
        (tp.score + fp.score + 1.0).abs() < 5e-4,
        "{} {}",
        tp.score,
        fp.score
    );
    assert_eq!(counts(&tp), (900, 1, 0, 99));
    assert_eq!(counts(&fp), (899, 0, 1, 100));
}

/// false_positive_test.py: a false positive makes the score negative, two
/// are worse than one, one with no window costs A_FP exactly, and one
/// just after a window costs less than one a point later.
#[test]
fn false_positives() {
    let ts = stamps(1000);
    let w = windows(&ts, 1, 10);
    let one = nab_score_file(&ts, &w, &detections(1000, &[0]), 0.5, 0.0, ONES);
    let two = nab_score_file(&ts, &w, &detections(1000, &[0, 1]), 0.5, 0.0, ONES);
    assert!(one.score < 0.0);
    assert!(two.score < one.score);
    assert_eq!(counts(&one), (989, 0, 1, 10));
    assert_eq!(counts(&two), (988, 0, 2, 10));
    let alone = nab_score_file(&ts, &[], &detections(1000, &[0]), 0.5, 0.0, ONES);
    assert_eq!(alone.score, -1.0);

    let ts = stamps(10);
    let w = windows(&ts, 1, 2);
    let after = index_of(&ts, w[0].1) + 1;
    let near = nab_score_file(&ts, &w, &detections(10, &[after]), 0.5, 0.0, ONES);
    let far = nab_score_file(&ts, &w, &detections(10, &[after + 1]), 0.5, 0.0, ONES);
    assert!(near.score > far.score);
    assert_eq!(counts(&near), (7, 0, 1, 2));
}

/// false_negative_test.py: a missed window costs A_FN exactly, four cost
/// four times that.
#[test]
fn false_negatives() {
    let ts = stamps(1000);
    let w = windows(&ts, 1, 10);
    let f = nab_score_file(&ts, &w, &[0.0; 1000], 1.0, 0.0, ONES);
    assert_eq!(f.score, -1.0);
    assert_eq!(counts(&f), (990, 0, 0, 10));
    let ts = stamps(2000);
    let w = windows(&ts, 4, 10);
    let f = nab_score_file(&ts, &w, &[0.0; 2000], 1.0, 0.0, ONES);
    assert_eq!(f.score, -4.0);
    assert_eq!(counts(&f), (1960, 0, 0, 40));
}

// ------------------------------------------------ NAB's published results

fn series() -> Vec<NabSeries> {
    nab_load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nab")).expect("nab data")
}

/// NAB's normalisation of its published corpus totals gives its published
/// scores: windowed Gaussian 39.6, Random Cut Forest 51.7, HTM 65.27 (the
/// null detector's total, -116, is -A_FN per window).
#[test]
fn normalisation_reproduces_the_published_corpus_scores() {
    let rows = nab_published();
    let total = |d: &str| {
        rows.iter()
            .find(|r| r.detector == d && r.file == "Totals")
            .map(|r| r.score)
            .expect("totals row")
    };
    let windows = 116;
    assert_eq!(total("null"), -(windows as f64));
    let s = |d: &str| nab_normalise(total(d), windows, NabCosts::STANDARD);
    assert_eq!(format!("{:.1}", s("windowedGaussian")), "39.6");
    assert_eq!(format!("{:.1}", s("randomCutForest")), "51.7");
    assert!(
        (s("numenta") - 65.272_443_113_189_65).abs() < 1e-9,
        "{}",
        s("numenta")
    );
    assert_eq!(s("null"), 0.0);
    // and through `nab_peers`, with the subset figures EVALUATION.md shows
    let peers = nab_peers(&series()).expect("a published row for each series");
    let got: Vec<(String, String, String)> = peers
        .iter()
        .map(|p| {
            (
                p.detector.clone(),
                format!("{:.1}", p.corpus),
                format!("{:.1}", p.subset),
            )
        })
        .collect();
    let want = [
        ("numenta", "65.3", "65.6"),
        ("randomCutForest", "51.7", "43.1"),
        ("windowedGaussian", "39.6", "13.4"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
}

/// With no detection, each realKnownCause series' points after the
/// probationary period split into windows and the rest exactly as NAB's
/// published null-detector rows count them (window mapping and the 15%
/// probationary period, on the real timestamps, duplicates included).
#[test]
fn point_counts_match_nabs_on_every_series() {
    let s = series();
    assert_eq!(s.len(), 7);
    assert_eq!(s.iter().map(|x| x.windows.len()).sum::<usize>(), 19);
    assert_eq!(nab_null_check(&s), Ok(7));
}

/// The scorer, given the detections of NAB's published per-row results
/// (`published/detections.csv`) at the detector's published threshold,
/// gives the published per-file raw score and counts
/// (`published/standard_scores.csv`).
#[test]
fn published_detections_score_as_published() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nab/published");
    let text = std::fs::read_to_string(dir.join("detections.csv")).expect("detections");
    let rows: Vec<Vec<String>> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let published = nab_published();
    let all = series();
    let mut checked = 0;
    for (det, file) in [
        ("windowedGaussian", "ec2_request_latency_system_failure.csv"),
        ("randomCutForest", "ec2_request_latency_system_failure.csv"),
        ("randomCutForest", "rogue_agent_key_hold.csv"),
    ] {
        let s = all.iter().find(|s| s.name == file).expect("series");
        let want = published
            .iter()
            .find(|r| r.detector == det && r.file.ends_with(file))
            .expect("published row");
        let mut scores = vec![0.0; s.ts.len()];
        let mut n = 0;
        for r in rows.iter().filter(|r| r[0] == det && r[1].ends_with(file)) {
            let row: usize = r[2].parse().expect("row");
            // the row number NAB's results give is the series' own row
            assert_eq!(s.raw_ts[row], r[3], "{det} {file} row {row}");
            scores[row] = r[4].parse().expect("score");
            n += 1;
        }
        assert!(n > 0);
        let f = nab_score_file(
            &s.ts,
            &s.windows,
            &scores,
            want.threshold,
            NAB_PROBATION,
            NabCosts::STANDARD,
        );
        assert!(
            (f.score - want.score).abs() < 1e-9,
            "{det} {file}: {} vs published {}",
            f.score,
            want.score
        );
        assert_eq!(
            (f.tp, f.tn, f.fp, f.fn_),
            (want.tp, want.tn, want.fp, want.fn_),
            "{det} {file}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3);
}

/// The threshold sweep (`nab_evaluate`, as NAB's optimiser) finds the best
/// of the per-file scores at every candidate threshold: on the published
/// detections of Random Cut Forest on two series, its score is the largest
/// of the thresholds it could pick, and at a fixed threshold it is the
/// normalised sum of `nab_score_file`.
#[test]
fn sweep_takes_the_best_threshold() {
    let all = series();
    let pick: Vec<&NabSeries> = all
        .iter()
        .filter(|s| {
            s.name == "ec2_request_latency_system_failure.csv"
                || s.name == "rogue_agent_key_hold.csv"
        })
        .collect();
    // anomaly scores: a deterministic ramp with a bump inside each window
    let scores: Vec<Vec<f64>> = pick
        .iter()
        .map(|s| {
            (0..s.ts.len())
                .map(|i| {
                    let inw = s.windows.iter().any(|&(a, b)| s.ts[i] >= a && s.ts[i] <= b);
                    let base = ((i * 7919) % 1000) as f64 / 1000.0;
                    if inw {
                        (base + 0.3).min(1.0)
                    } else {
                        base * 0.9
                    }
                })
                .collect()
        })
        .collect();
    let windows: usize = pick.iter().map(|s| s.windows.len()).sum();
    let at = |th: f64| {
        let raw: f64 = pick
            .iter()
            .zip(&scores)
            .map(|(s, sc)| {
                nab_score_file(&s.ts, &s.windows, sc, th, NAB_PROBATION, NabCosts::STANDARD).score
            })
            .sum();
        nab_normalise(raw, windows, NabCosts::STANDARD)
    };
    let swept = nab_evaluate(&pick, &scores, None);
    let mut cands: Vec<f64> = scores
        .iter()
        .flatten()
        .copied()
        .filter(|&x| x > 0.0)
        .collect();
    cands.sort_by(f64::total_cmp);
    cands.dedup();
    let best = cands.iter().map(|&t| at(t)).fold(f64::MIN, f64::max);
    assert!(
        (swept.score - best).abs() < 1e-9,
        "{} vs {best}",
        swept.score
    );
    assert!((swept.score - at(swept.threshold)).abs() < 1e-9);
    let fixed = nab_evaluate(&pick, &scores, Some(0.95));
    assert!((fixed.score - at(0.95)).abs() < 1e-9);
}

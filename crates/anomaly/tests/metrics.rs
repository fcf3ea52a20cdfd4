//! The confusion-count figures of `logseal-eval` (HDFS and BGL rows of
//! EVALUATION.md).

use logseal_anomaly::eval::Counts;

fn counts(tp: u64, fp: u64, tn: u64, fn_: u64) -> Counts {
    Counts { tp, fp, tn, fn_ }
}

/// Reweighting to the anomaly rate the counts were taken at changes
/// nothing: precision and F1 are the plain ones.
#[test]
fn reweighting_to_the_samples_own_rate_is_the_plain_figure() {
    for c in [
        counts(90, 30, 870, 10),
        counts(3, 1, 50, 7),
        counts(16_838, 1_237, 551_120, 0),
    ] {
        let rate = (c.tp + c.fn_) as f64 / (c.tp + c.fp + c.tn + c.fn_) as f64;
        let (p, f1) = c.reweighted(rate);
        assert!((p - c.precision()).abs() < 1e-12, "{c:?}");
        assert!((f1 - c.f1()).abs() < 1e-12, "{c:?}");
    }
}

/// Known answer: TPR 0.9 and FPR 0.01 at HDFS's 2.93% anomaly rate give
/// precision 0.9 x 0.0293 / (0.9 x 0.0293 + 0.01 x 0.9707) = 0.73094
/// and F1 2 p r / (p + r) = 0.80671 (computed apart from this crate).
#[test]
fn reweighting_known_answer() {
    let c = counts(900, 100, 9_900, 100);
    let (p, f1) = c.reweighted(0.0293);
    assert!((p - 0.02637 / (0.02637 + 0.009707)).abs() < 1e-12, "{p}");
    assert!((f1 - 2.0 * p * 0.9 / (p + 0.9)).abs() < 1e-12, "{f1}");
    assert_eq!(format!("{p:.5} {f1:.5}"), "0.73094 0.80671");
}

/// A detector that flags nothing has precision and F1 0, not NaN.
#[test]
fn flagging_nothing_scores_zero() {
    let c = counts(0, 0, 100, 10);
    assert_eq!(c.reweighted(0.0293), (0.0, 0.0));
    assert_eq!((c.precision(), c.f1()), (0.0, 0.0));
}

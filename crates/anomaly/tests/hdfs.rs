//! The HDFS evaluation (DeepLog split) as a regression test: exact counts for
//! the configurations EVALUATION.md reports, on the data in `tests/data/hdfs`.

use logseal_anomaly::eval::{HdfsModel, hdfs_with};

fn data() -> (String, String) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hdfs");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).expect(f);
    (read("hdfs_train"), read("robust_log_train.csv"))
}

#[test]
fn composition_meets_the_f1_goal() {
    let (train, test) = data();
    let r = hdfs_with(&train, &test, HdfsModel::Composition).unwrap();
    let c = r.counts;
    assert_eq!((c.tp, c.fn_, c.fp, c.tn), (5991, 9, 1, 5999), "{c:?}");
    let (_, f1) = c.reweighted(0.0293);
    assert!(f1 >= 0.97, "F1 {f1}");
    // No test label is used: the held-out part of the training file alone.
    assert!(r.train_fpr_holdout < 0.005, "{}", r.train_fpr_holdout);
}

#[test]
fn sequence_and_both() {
    let (train, test) = data();
    let c = hdfs_with(&train, &test, HdfsModel::Sequence { h: 10, k: 9 })
        .unwrap()
        .counts;
    assert_eq!((c.tp, c.fn_, c.fp, c.tn), (5864, 136, 68, 5932), "{c:?}");
    let c = hdfs_with(&train, &test, HdfsModel::Both { h: 10, k: 9 })
        .unwrap()
        .counts;
    // Either detector flags: the union of both.
    assert_eq!((c.tp, c.fn_, c.fp, c.tn), (6000, 0, 68, 5932), "{c:?}");
}

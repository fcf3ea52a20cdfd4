//! The `composition` detector: which templates a session contains, in any
//! order, against the combinations learned sessions ended with.

use logseal_anomaly::{Engine, FieldValue, Policy, Severity, Verdict};

/// 1,000 learned sessions: 700 of {open, read, close} in three orders and
/// 300 of {open, write, sync, close}.
const LEARNED: u64 = 1000;

fn policy(online: bool, max: usize) -> Policy {
    let events: u64 = 700 * 4 + 300 * 5; // each session's events and its end
    Policy::parse(&format!(
        r#"{{"version":1,"learning":{{"period_secs":0,"period_events":{events},"min_entity_events":1}},
        "alerting":{{"dedup_secs":0}},
        "detectors":[{{"type":"composition","name":"steps","session":"block","template":"op",
          "online":{online},"max_compositions":{max},"end_where":[{{"field":"closed","eq":true}}]}}]}}"#
    ))
    .expect("policy")
}

fn event<'a>(id: &'a str, op: &'a str) -> [(&'a str, FieldValue<'a>); 2] {
    [("block", FieldValue::Str(id)), ("op", FieldValue::Str(op))]
}

fn end(id: &str) -> [(&str, FieldValue<'_>); 2] {
    [
        ("block", FieldValue::Str(id)),
        ("closed", FieldValue::Bool(true)),
    ]
}

/// Score a session's events and its end; the verdicts in order.
fn session(e: &mut Engine, id: &str, ops: &[&str], close: bool) -> Vec<Verdict> {
    let mut out: Vec<Verdict> = ops
        .iter()
        .map(|op| e.score(&event(id, op)[..], None))
        .collect();
    if close {
        out.push(e.score(&end(id)[..], None));
    }
    out
}

fn learned(online: bool) -> Engine {
    let mut e = Engine::new(policy(online, 1024));
    let orders: [&[&str]; 3] = [
        &["open", "read", "close"],
        &["read", "open", "close"],
        &["open", "close", "read"],
    ];
    for i in 0..700 {
        let v = session(&mut e, &format!("r{i}"), orders[i % 3], true);
        assert!(v.iter().all(|v| v.severity == Severity::None));
    }
    for i in 0..300 {
        session(
            &mut e,
            &format!("w{i}"),
            &["open", "write", "sync", "close"],
            true,
        );
    }
    e
}

/// A restored engine writes back exactly the snapshot it read.
fn assert_same_snapshot(r: &Engine, snap: &[u8]) {
    let again = r.snapshot();
    let d = (0..snap.len().min(again.len())).find(|&i| snap[i] != again[i]);
    assert!(
        again.len() == snap.len() && d.is_none(),
        "{} vs {} bytes, first difference at {d:?}",
        snap.len(),
        again.len()
    );
}

fn flagged(v: &[Verdict]) -> Vec<usize> {
    (0..v.len())
        .filter(|&i| v[i].severity > Severity::None)
        .collect()
}

#[test]
fn known_combinations_in_any_order_pass() {
    let mut e = learned(false);
    for (i, ops) in [
        &["close", "read", "open"][..],
        &["read", "read", "open", "read", "close"],
        &["sync", "write", "close", "open"],
    ]
    .iter()
    .enumerate()
    {
        let v = session(&mut e, &format!("ok{i}"), ops, true);
        assert_eq!(
            flagged(&v),
            Vec::<usize>::new(),
            "{ops:?}: {}",
            v.last().unwrap().to_json()
        );
    }
}

#[test]
fn a_new_combination_is_reported_once_when_it_forms() {
    let mut e = learned(false);
    // read and write never occur in one learned session.
    let v = session(&mut e, "mixed", &["open", "read", "write", "close"], true);
    assert_eq!(flagged(&v), vec![2], "reported at `write`, once");
    let r = &v[2].reasons[0];
    assert_eq!(r.detector, "steps");
    assert_eq!(r.entity, "mixed");
    assert_eq!(r.feature, "composition");
    assert_eq!(r.observed, "write");
    // Good-Turing: (2 combinations + 1) / (1,000 sessions + 2).
    assert!((r.p - 3.0 / (LEARNED as f64 + 2.0)).abs() < 1e-4, "{}", r.p);
    assert_eq!(
        r.text,
        "mixed: write with [open, read, write] is a combination of event templates none of 1,000 learned sessions had"
    );
}

#[test]
fn a_truncated_session_is_reported_at_its_end_with_what_it_lacks() {
    let mut e = learned(false);
    // {open, write} is part of a learned combination, so no alarm while it runs ...
    let v = session(&mut e, "cut", &["open", "write"], true);
    assert_eq!(flagged(&v), vec![2], "reported at the end only");
    let r = &v[2].reasons[0];
    assert_eq!(r.observed, "open, write");
    assert_eq!(
        r.text,
        "cut: ended with 2 event templates [open, write], a combination none of 1,000 learned sessions ended with; the closest learned one also has close, sync"
    );
    // ... and without an end it stays quiet.
    let v = session(&mut e, "open-ended", &["open", "write"], false);
    assert_eq!(flagged(&v), Vec::<usize>::new());
}

#[test]
fn an_unknown_template_makes_a_new_combination() {
    let mut e = learned(false);
    let v = session(&mut e, "odd", &["open", "truncate", "close"], true);
    assert_eq!(flagged(&v), vec![1]);
    assert_eq!(v[1].reasons[0].observed, "truncate (unknown)");
    assert!(
        v[1].reasons[0].text.contains("[open, <unknown>]"),
        "{}",
        v[1].reasons[0].text
    );
}

#[test]
fn online_learning_accepts_a_combination_once_it_recurs() {
    let mut e = learned(true);
    let first = session(&mut e, "m0", &["open", "read", "write", "close"], true);
    assert_eq!(flagged(&first), vec![2]);
    // Learned at its end: the same combination is known from now on.
    let again = session(&mut e, "m1", &["write", "open", "close", "read"], true);
    assert_eq!(
        flagged(&again),
        Vec::<usize>::new(),
        "{}",
        again[3].to_json()
    );
    // A frozen engine keeps reporting it.
    let mut frozen = learned(false);
    session(&mut frozen, "m0", &["open", "read", "write", "close"], true);
    let again = session(&mut frozen, "m1", &["write", "open", "close", "read"], true);
    assert_eq!(flagged(&again), vec![3]);
}

#[test]
fn snapshot_restore_keeps_the_combinations_and_open_sessions() {
    let mut e = learned(true);
    session(&mut e, "open1", &["open", "write"], false);
    let snap = e.snapshot();
    let mut r = Engine::new(policy(true, 1024));
    r.restore(&snap).expect("restore");
    assert_same_snapshot(&r, &snap);
    for eng in [&mut e, &mut r] {
        // the open session continues: {open, write, read} is new
        let v = session(eng, "open1", &["read"], false);
        assert_eq!(flagged(&v), vec![0]);
        assert_eq!(
            v[0].reasons[0].text,
            "open1: read with [open, read, write] is a combination of event templates none of 1,000 learned sessions had"
        );
        let v = session(eng, "ok", &["read", "close", "open"], true);
        assert_eq!(flagged(&v), Vec::<usize>::new());
    }
    // A corrupted count of combinations is an error, not a panic.
    let mut bad = snap.clone();
    let n = bad.len();
    bad[n - 20] ^= 0xFF;
    assert!(Engine::new(policy(true, 1024)).restore(&bad).is_err());
}

#[test]
fn max_compositions_bounds_the_learned_state() {
    let mut e = Engine::new(policy(true, 2));
    let before = e.memory_bytes();
    for i in 0..1000 {
        // 1,000 distinct combinations of 3 templates out of 30
        let ops = [
            format!("a{}", i % 10),
            format!("b{}", i / 10 % 10),
            format!("c{}", i / 100),
        ];
        let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
        session(&mut e, &format!("s{i}"), &ops, true);
    }
    assert!(e.memory_bytes() <= e.memory_budget());
    assert!(e.memory_bytes() >= before);
    let snap = e.snapshot();
    let mut r = Engine::new(policy(true, 2));
    r.restore(&snap).unwrap();
    assert_same_snapshot(&r, &snap);
}

#[test]
fn policy_errors() {
    let base = |extra: &str| {
        format!(
            r#"{{"version":1,"detectors":[{{"type":"composition","name":"c","session":"s","template":"t"{extra}}}]}}"#
        )
    };
    let e = Policy::parse(&base("")).unwrap_err();
    assert_eq!(e.key, "detectors[0].end_where");
    assert!(e.message.contains("required"), "{e}");
    let e = Policy::parse(&base(
        r#","end_where":[{"field":"x","eq":1}],"max_compositions":0"#,
    ))
    .unwrap_err();
    assert_eq!(e.key, "detectors[0].max_compositions");
    let e = Policy::parse(&base(r#","end_where":[{"field":"x","eq":1}],"history":3"#)).unwrap_err();
    assert!(e.message.contains("history"), "{e}");
    assert!(Policy::parse(&base(r#","end_where":[{"field":"x","eq":1}]"#)).is_ok());
}

#[test]
fn long_templates_are_clipped_alike_and_survive_a_snapshot() {
    let long = "x".repeat(300);
    let mut e = Engine::new(policy(true, 1024));
    for i in 0..1000 {
        session(&mut e, &format!("s{i}"), &["open", &long, "close"], true);
    }
    let snap = e.snapshot();
    let mut r = Engine::new(policy(true, 1024));
    r.restore(&snap)
        .expect("a snapshot with a clipped template restores");
    assert_same_snapshot(&r, &snap);
    for eng in [&mut e, &mut r] {
        let v = session(eng, "again", &[&long, "open", "close"], true);
        assert_eq!(flagged(&v), Vec::<usize>::new(), "{}", v[0].to_json());
    }
}

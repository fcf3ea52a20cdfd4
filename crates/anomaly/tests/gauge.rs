//! The `gauge` detector: policy, finding, rest period, snapshots.

use logseal_anomaly::{Engine, FieldValue, Policy, PolicyError};

fn policy(extra: &str) -> Result<Policy, PolicyError> {
    Policy::parse(&format!(
        r#"{{"version":1,"name":"g","learning":{{"period_secs":0,"min_entity_events":1}},
           "alerting":{{"dedup_secs":0}},
           "detectors":[{{"type":"gauge","name":"cpu","value_field":"cpu","group_by":"host"{extra}}}]}}"#
    ))
}

fn series(i: usize) -> f64 {
    // a daily-ish sawtooth with small noise
    50.0 + ((i % 24) as f64 - 12.0).abs() + ((i * 7919) % 13) as f64 * 0.1
}

fn ev(e: &mut Engine, t: usize, host: &str, x: f64) -> logseal_anomaly::Verdict {
    let ts = (1_700_000_000 + t as i64 * 300).to_string();
    let ev: [(&str, FieldValue<'_>); 3] = [
        ("timestamp", FieldValue::Str(&ts)),
        ("host", FieldValue::Str(host)),
        ("cpu", FieldValue::Num(x)),
    ];
    e.score(&ev[..], None)
}

#[test]
fn flags_a_new_level_once_then_rests() {
    let mut e = Engine::new(policy("").unwrap());
    let mut flagged_normal = 0;
    for i in 0..3000 {
        let v = ev(&mut e, i, "web-1", series(i));
        if i > 1000 && v.score >= 0.4 {
            flagged_normal += 1;
        }
    }
    assert!(
        flagged_normal <= 3,
        "false flags on the normal series: {flagged_normal}"
    );
    // the series jumps to a level never seen
    let first = ev(&mut e, 3000, "web-1", 95.0);
    assert!(first.score >= 0.4, "{}", first.to_json());
    let json = first.to_json();
    assert!(json.contains("\"detector\":\"cpu\""), "{json}");
    assert!(json.contains("web-1: cpu 95"), "{json}");
    // the next points of the same incident are muted by the rest period
    let next = ev(&mut e, 3001, "web-1", 96.0);
    assert_eq!(next.score, 0.0, "{}", next.to_json());
    // another host is its own series, still warming up
    assert_eq!(ev(&mut e, 3002, "web-2", 95.0).score, 0.0);
}

#[test]
fn snapshot_restore_continues_identically() {
    let p = policy(r#","order":3,"rest":20"#).unwrap();
    let mut a = Engine::new(p.clone());
    for i in 0..800 {
        ev(&mut a, i, "h", series(i));
    }
    let snap = a.snapshot();
    let mut b = Engine::new(p);
    b.restore(&snap).unwrap();
    for i in 800..1200 {
        let x = if i == 1000 { 500.0 } else { series(i) };
        assert_eq!(
            ev(&mut a, i, "h", x).to_json(),
            ev(&mut b, i, "h", x).to_json()
        );
    }
    assert!(a.memory_bytes() <= a.memory_budget());
}

#[test]
fn policy_errors() {
    for (extra, key) in [
        (r#","bins":1"#, "bins"),
        (r#","order":9"#, "order"),
        (r#","half_life":0"#, "half_life"),
        (r#","rest_p":2"#, "rest_p"),
    ] {
        let e = policy(extra).unwrap_err().to_string();
        assert!(e.contains(key), "{extra}: {e}");
    }
    let e = Policy::parse(r#"{"version":1,"detectors":[{"type":"gauge","name":"g"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("value_field"), "{e}");
}

//! `unusual_hour`: calibrated on users whose hours never change, and it
//! still sees a login far outside them.

use logseal_anomaly::testkit::Rng;
use logseal_anomaly::{Engine, Policy, Severity};
use serde_json::json;

fn engine() -> Engine {
    Engine::new(
        Policy::parse(
            r#"{"version":1,"learning":{"period_secs":864000,"min_entity_events":20},
            "alerting":{"dedup_secs":0},
            "detectors":[{"type":"unusual_hour","name":"unusual_hour","entity":"user"}]}"#,
        )
        .expect("policy"),
    )
}

/// 200 days of 20 events a day at hours drawn evenly from `from` to
/// `from + span`: the share flagged after the 10 learning days.
fn null_share(e: &mut Engine, from: u64, span: u64) -> f64 {
    let mut r = Rng(99);
    let (mut flagged, mut n) = (0, 0);
    for day in 0..200u64 {
        for _ in 0..20 {
            let t = day * 86400 + (from + r.below(span)) % 24 * 3600 + r.below(3600);
            let v = e.score(&json!({"timestamp": t, "user": "u"}), None);
            if day >= 10 {
                n += 1;
                flagged += (v.severity > Severity::None) as u32;
            }
        }
    }
    flagged as f64 / n as f64
}

#[test]
fn steady_hours_are_not_unusual() {
    for (from, span) in [(0, 24), (8, 10), (8, 4), (22, 6)] {
        let share = null_share(&mut engine(), from, span);
        assert!(
            share <= 0.01,
            "{from}+{span}h: {:.2}% flagged",
            share * 100.0
        );
    }
}

#[test]
fn a_login_at_three_is_unusual_for_office_hours() {
    let mut e = engine();
    null_share(&mut e, 8, 10);
    let v = e.score(
        &json!({"timestamp": 200 * 86400 + 3 * 3600 + 720, "user": "u"}),
        None,
    );
    assert!(v.severity > Severity::None, "{}", v.to_json());
    assert!(
        v.reasons[0]
            .text
            .contains("usual hours 08-18 UTC, now 03:12"),
        "{}",
        v.to_json()
    );
}

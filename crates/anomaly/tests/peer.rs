//! `peer_rare`: an action rare among an entity's peers, with a p-value that
//! is calibrated whatever the number of actions a group uses.

use logseal_anomaly::testkit::Rng;
use logseal_anomaly::{Engine, Policy, Severity};
use serde_json::json;

fn engine() -> Engine {
    let p = Policy::parse(
        r#"{"version":1,
        "learning":{"period_secs":3600,"min_entity_events":20},
        "alerting":{"dedup_secs":0},
        "detectors":[{"type":"peer_rare","name":"peer_rare_action","entity":"user","group":"team","feature":"action"}]}"#,
    )
    .expect("policy");
    Engine::new(p)
}

/// Share of events flagged when a team's 50 users pick among `actions`
/// actions uniformly at random (nothing is rare).
fn null_flag_share(actions: u64) -> f64 {
    let mut e = engine();
    let mut r = Rng(0x1234_5678_9ABC_DEF1);
    let n = 40_000u64;
    let mut flagged = 0;
    for i in 0..n {
        let ev = json!({"timestamp": i, "user": format!("u{}", r.below(50)), "team": "dev",
            "action": format!("a{}", r.below(actions))});
        if e.score(&ev, None).severity > Severity::None && i >= 3600 {
            flagged += 1;
        }
    }
    flagged as f64 / (n - 3600) as f64
}

#[test]
fn uniform_actions_are_not_rare() {
    for actions in [10, 300, 2000] {
        let share = null_flag_share(actions);
        assert!(
            share <= 0.012,
            "{actions} actions: {:.2}% of events flagged",
            share * 100.0
        );
    }
}

#[test]
fn an_action_rare_in_the_team_is_flagged_with_its_counts() {
    let mut e = engine();
    let mut r = Rng(0x0DDB_A11C_0FFE_E123);
    // the team uses 10 actions; now and then (1 in 2,000) someone deletes a trail
    let mut found = Vec::new();
    for i in 0..40_000u64 {
        let rare = i % 2000 == 1999;
        let action = if rare {
            "DeleteTrail".to_string()
        } else {
            format!("a{}", r.below(10))
        };
        let ev = json!({"timestamp": i, "user": format!("u{}", r.below(50)), "team": "dev", "action": action});
        let v = e.score(&ev, None);
        if i >= 3600 {
            assert_eq!(
                v.severity > Severity::None,
                rare,
                "event {i} ({action}): {}",
                v.to_json()
            );
        }
        if rare && v.severity > Severity::None {
            found.push(v.reasons[0].text.clone());
        }
    }
    assert!(
        found[0].contains("action DeleteTrail is rare among peers in team dev (1 of"),
        "{}",
        found[0]
    );
    assert_eq!(found.len(), 19, "every one after the learning hour");
}

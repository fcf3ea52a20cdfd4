//! Rules ported to the `cloudtrail` preset give Panther's verdict on Panther's own test events.

use logseal_anomaly::{Engine, Policy};

#[test]
fn cloudtrail_root_rules_match_panther() {
    let map = [
        ("AWS.Console.RootLoginFailed", "root_console_login_failed"),
        ("AWS.Console.RootLogin", "root_console_login"),
        (
            "AWS.CloudTrail.RootAccessKeyCreated",
            "root_access_key_created",
        ),
        (
            "AWS.CloudTrail.RootPasswordChanged",
            "root_password_changed",
        ),
    ];
    let mut n = 0;
    for line in include_str!("data/panther_cloudtrail_root.jsonl").lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let ours = map.iter().find(|(p, _)| *p == row["rule_id"]).unwrap().1;
        let mut e = Engine::new(Policy::preset("cloudtrail").unwrap());
        let v = e.score(&row["event"], Some(0));
        let fired = v.reasons.iter().any(|r| r.detector == ours);
        assert_eq!(
            fired,
            row["expected"].as_bool().unwrap(),
            "{} / {}: {}",
            row["rule_id"],
            row["test_name"],
            v.to_json()
        );
        n += 1;
    }
    assert_eq!(n, 9);
}

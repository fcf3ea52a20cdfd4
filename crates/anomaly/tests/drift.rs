//! Baselines adapt: a new habit stops alerting, and an old one fades after a few half-lives.

use logseal_anomaly::{Engine, Policy, testkit};

#[test]
fn first_seen_adapts_and_forgets() {
    // Reported at p < 0.05: with 3 logins a day and counts that halve
    // every 14 days, bob's profile holds about 60 events, so a new address
    // is a 1-in-32 event (p 0.031), above the preset's 0.01 on its own; it
    // passed that before December 2026 only as its /24 was counted as
    // independent evidence (a detector's findings are combined by Simes'
    // method since). What is tested here is how the profile adapts.
    let text = logseal_anomaly::policy::preset_text("ecs")
        .unwrap()
        .replace("\"report_p\": 0.01", "\"report_p\": 0.05");
    let mut e = Engine::new(Policy::parse(&text).unwrap());
    let day = testkit::DAY;
    let mut t = testkit::T0;
    let login = |t: i64, ip: &str| testkit::login(t, "bob", ip, "success", "DE", 52.52, 13.4);
    // 30 days at the office: 3 logins a day from 10.0.0.1
    for d in 0..30 {
        for h in [9, 12, 16] {
            t = testkit::T0 + d * day + h * 3600;
            e.score(&login(t, "10.0.0.1"), None);
        }
    }
    // a new address is reported
    t += day;
    let v = e.score(&login(t, "10.9.9.9"), None);
    assert!(
        v.reasons
            .iter()
            .any(|r| r.feature == "source_ip" && r.observed == "10.9.9.9"),
        "{}",
        v.to_json()
    );
    // it becomes the habit: after a couple of weeks it is not reported any more
    let start = t;
    let mut late_flags = 0;
    for d in 1..=120 {
        for h in [9, 12, 16] {
            t = start + d * day + h * 3600 - 9 * 3600;
            let v = e.score(&login(t, "10.9.9.9"), None);
            if d > 14 && v.reasons.iter().any(|r| r.feature == "source_ip") {
                late_flags += 1;
            }
        }
    }
    assert_eq!(late_flags, 0);
    // 120 days (more than 8 half-lives of 14 days) later the old address is new again
    let v = e.score(&login(t + 3600, "10.0.0.1"), None);
    assert!(
        v.reasons
            .iter()
            .any(|r| r.feature == "source_ip" && r.text.contains("never seen")),
        "{}",
        v.to_json()
    );
}

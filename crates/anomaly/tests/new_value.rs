//! `new_value`: first-seen and rare values per entity, with p-values that
//! stay calibrated whatever the number of values an entity uses.

use logseal_anomaly::testkit::Rng;
use logseal_anomaly::{Engine, Policy, Severity};
use serde_json::json;

fn engine() -> Engine {
    let p = Policy::parse(
        r#"{"version":1,
        "learning":{"period_secs":3600,"min_entity_events":20},
        "alerting":{"dedup_secs":0},
        "detectors":[{"type":"new_value","name":"first_seen","entity":"user","features":["source_ip"]}]}"#,
    )
    .expect("policy");
    Engine::new(p)
}

/// Share of alice's events flagged when she picks among `ips` addresses
/// uniformly at random (after a warm-up in which she used all of them).
fn null_flag_share(ips: u64) -> f64 {
    let mut e = engine();
    let mut r = Rng(0x5151_7A7A_0F0F_3C3C);
    let ev = |i: u64, ip: u64| json!({"timestamp": i, "user": "alice", "source_ip": format!("10.1.{}.{}", ip / 250, ip % 250)});
    let mut i = 0;
    for ip in 0..ips {
        e.score(&ev(i, ip), None);
        i += 1;
    }
    let n = 40_000u64;
    let mut flagged = 0;
    for _ in 0..n {
        let v = e.score(&ev(3600 + i, r.below(ips)), None);
        i += 1;
        if v.severity > Severity::None {
            flagged += 1;
        }
    }
    flagged as f64 / n as f64
}

#[test]
fn addresses_used_evenly_are_not_rare() {
    // 3 addresses: 40,000 events take each past the sketch's 255, where
    // every event was once "rare" (255 of n, n growing): 36% were flagged.
    // 200 addresses: each is 0.5% of the events, and was reported as rare.
    for ips in [3, 200, 2000] {
        let share = null_flag_share(ips);
        assert!(
            share <= 0.012,
            "{ips} addresses: {:.2}% of events flagged",
            share * 100.0
        );
    }
}

#[test]
fn a_rare_address_and_a_new_one_are_flagged() {
    let mut e = engine();
    let mut r = Rng(0x7777_1234_ABCD_0001);
    let ev = |i: u64, ip: &str| json!({"timestamp": i, "user": "alice", "source_ip": ip});
    let mut rare_flags = 0;
    for i in 0..20_000u64 {
        // three office addresses; the VPN one 1 in 1,000 events
        let ip = if i % 1000 == 999 {
            "192.0.2.1".to_string()
        } else {
            format!("10.0.0.{}", r.below(3))
        };
        let v = e.score(&ev(i, &ip), None);
        if i >= 3600 && i % 1000 != 999 {
            assert_eq!(v.severity, Severity::None, "{i}: {}", v.to_json());
        }
        if i >= 3600 && i % 1000 == 999 && v.severity > Severity::None {
            assert!(
                v.reasons[0]
                    .text
                    .starts_with("alice: source_ip 192.0.2.1 is rare for alice (~"),
                "{}",
                v.to_json()
            );
            rare_flags += 1;
        }
    }
    // the union bound over her 4 known addresses: 4 (k + 1) / n < 0.01 while k < n / 400 - 1
    assert!(rare_flags >= 10, "{rare_flags} of 16 VPN logins flagged");
    let v = e.score(&ev(20_000, "203.0.113.9"), None);
    assert!(v.severity >= Severity::Medium, "{}", v.to_json());
    assert!(
        v.reasons[0].text.contains("never seen for alice"),
        "{}",
        v.to_json()
    );
}

#[test]
fn an_entity_whose_values_are_mostly_new_gets_no_first_seen_findings() {
    // a mobile user: a new address every other event; after 255 distinct
    // ones the count saturates and her novelty rate is unknown, so it is
    // not turned into findings (it was: 256 / n fell below 1%)
    let mut e = engine();
    for i in 0..40_000u64 {
        let ip = if i % 2 == 0 {
            format!("10.{}.{}.{}", i / 62500, (i / 250) % 250, i % 250)
        } else {
            "10.0.0.1".into()
        };
        let v = e.score(
            &json!({"timestamp": i, "user": "bob", "source_ip": ip}),
            None,
        );
        assert_eq!(v.severity, Severity::None, "{i}: {}", v.to_json());
    }
}

#[test]
fn a_new_ipv4_network_is_new_when_written_ipv4_mapped() {
    // Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d; each is its
    // own /24, not one shared "::ffff::/48" (found by review: the new
    // network went unreported, and the login with it).
    use logseal_anomaly::testkit::{DAY, T0, login, office_logins};
    // (reported at p < 0.05: a new address and its /24 are one finding of
    // p 0.023 for 20 days of 8 logins (about 86 events after the halvings), combined by Simes' method since
    // December 2026; what is tested is which findings there are)
    let features = |known: &str, new: &str| {
        let text = logseal_anomaly::policy::preset_text("ecs")
            .unwrap()
            .replace("\"report_p\": 0.01", "\"report_p\": 0.05");
        let mut e = Engine::new(Policy::parse(&text).unwrap());
        for x in office_logins(20, "alice", known) {
            e.score(&x, None);
        }
        let v = e.score(
            &login(
                T0 + 20 * DAY + 10 * 3600,
                "alice",
                new,
                "success",
                "DE",
                52.5,
                13.4,
            ),
            None,
        );
        v.reasons
            .into_iter()
            .map(|r| format!("{}={}", r.feature, r.observed))
            .collect::<Vec<_>>()
    };
    let plain = features("198.51.100.7", "203.0.113.9");
    assert!(
        plain.contains(&"source_net=203.0.113.0/24".to_string()),
        "{plain:?}"
    );
    let mapped = features("::ffff:198.51.100.7", "::ffff:203.0.113.9");
    assert!(
        mapped.contains(&"source_net=203.0.113.0/24".to_string()),
        "{mapped:?}"
    );
}

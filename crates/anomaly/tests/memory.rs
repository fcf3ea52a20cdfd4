//! Bounded memory: a million distinct users stay within the configured budget.

use logseal_anomaly::{Engine, FieldValue, Policy};

#[test]
fn million_users_stay_within_budget() {
    let p = Policy::preset("ecs").unwrap();
    let budget = p.memory_budget_bytes as usize;
    let mut e = Engine::new(p);
    let mut name = String::new();
    let mut ip = String::new();
    let t0: i64 = 1_704_067_200_000_000_000;
    for i in 0..1_000_000u64 {
        name.clear();
        ip.clear();
        use std::fmt::Write;
        write!(name, "user{i}").unwrap();
        write!(ip, "10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255).unwrap();
        let ev: [(&str, FieldValue<'_>); 4] = [
            ("user.name", FieldValue::Str(&name)),
            ("source.ip", FieldValue::Str(&ip)),
            ("event.action", FieldValue::Str("login")),
            (
                "event.outcome",
                FieldValue::Str(if i % 7 == 0 { "failure" } else { "success" }),
            ),
        ];
        e.score(&ev[..], Some(t0 + i as i64 * 1_000_000));
        if i % 100_000 == 0 {
            assert!(
                e.memory_bytes() <= budget,
                "{} > {budget} after {i} users",
                e.memory_bytes()
            );
        }
    }
    let used = e.memory_bytes();
    let kept = e.profiled_entities();
    println!(
        "memory for 1,000,000 distinct users: {used} bytes ({:.1} MiB), {kept} profiles kept",
        used as f64 / 1048576.0
    );
    assert!(used <= budget, "{used} > {budget}");
    // the budget is actually used for profiles, not wasted
    assert!(kept > 500_000, "only {kept} profiles kept");
    snapshot_restores_within_bound(&e);
}

/// A full engine's state restores from its packed snapshot: the plain form
/// stays within the bound `restore` allows a packed one to unpack to
/// (twice the memory budget and 16 MiB).
fn snapshot_restores_within_bound(e: &Engine) {
    let plain = e.snapshot_plain();
    let packed = e.snapshot();
    println!(
        "snapshot: {} bytes plain, {} packed",
        plain.len(),
        packed.len()
    );
    assert!(
        plain.len() <= 2 * e.memory_budget() + (16 << 20),
        "{} bytes plain for a budget of {}",
        plain.len(),
        e.memory_budget()
    );
    assert!(packed.len() < plain.len());
    let mut f = Engine::new(e.policy().clone());
    assert_eq!(f.restore(&packed), Ok(()));
    assert_eq!(f.snapshot_plain(), plain);
}

#[test]
fn small_budget_is_respected() {
    let text = logseal_anomaly::policy::preset_text("default").unwrap();
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["memory_budget_bytes"] = serde_json::json!(1 << 20);
    // the template reserve must fit in the budget: the policy says so clearly
    let err = Policy::parse(&v.to_string()).unwrap_err();
    assert_eq!(err.key, "memory_budget_bytes", "{err}");
    for d in v["detectors"].as_array_mut().unwrap() {
        if d["type"] == "sequence" {
            d["max_templates"] = serde_json::json!(64);
        }
    }
    let p = Policy::parse(&v.to_string()).unwrap();
    let mut e = Engine::new(p);
    for i in 0..50_000u64 {
        let name = format!("u{i}");
        let sess = format!("s{}", i % 5000);
        let msg = format!(
            "request {} served in {} ms for path /a/{}",
            i,
            i % 100,
            i % 3
        );
        let ev: [(&str, FieldValue<'_>); 3] = [
            ("user.name", FieldValue::Str(&name)),
            ("session.id", FieldValue::Str(&sess)),
            ("message", FieldValue::Str(&msg)),
        ];
        e.score(&ev[..], Some(i as i64 * 1_000_000_000));
    }
    assert!(e.memory_bytes() <= 1 << 20, "{}", e.memory_bytes());
    snapshot_restores_within_bound(&e);
}

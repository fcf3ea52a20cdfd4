//! A WIT rule's finding in the sealed verdict: its reason is shown as the
//! engine's reasons are (review 28: a rule's reason, which may quote event
//! values, went into the flat `reason` raw).

use logseal_core::{Input, SealConfig, Sealer, SignerKey};
use logseal_pipeline::{Processor, RuleFinding};

fn processor() -> Processor {
    let key = SignerKey::from_seed("rules.example/log", [9; 32]).expect("key");
    let sealer = Sealer::new(key, SealConfig::new("rules.example/log", "e1")).expect("sealer");
    Processor::new(sealer, None)
}

fn verdict_of(reason: &str) -> serde_json::Value {
    let mut p = processor();
    let f = RuleFinding {
        rule: "root-login".into(),
        severity: "high".into(),
        reason: reason.into(),
        entity: Some(reason.into()),
        error: false,
    };
    let out = p.process_with(
        Input {
            record: br#"{"user":"x"}"#,
            ..Input::default()
        },
        &[f],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.line).expect("sealed line");
    v["_anomaly"].clone()
}

#[test]
fn a_rule_reason_is_one_visible_line_in_the_flat_reason() {
    let raw = "root login by mallory\nroot-login: root login by \u{202e}nimda\u{2028}x";
    let v = verdict_of(raw);
    assert_eq!(v["severity"], "high", "{v}");
    let flat = v["reason"].as_str().expect("reason");
    assert_eq!(
        flat,
        "root-login: root login by mallory\\nroot-login: root login by \\u{202e}nimda\\u{2028}x"
    );
    assert_eq!(
        v["rules"][0]["reason"].as_str().expect("rule reason"),
        "root login by mallory\\nroot-login: root login by \\u{202e}nimda\\u{2028}x"
    );
    // the entity stays raw, as the engine's does
    assert_eq!(v["rules"][0]["entity"].as_str(), Some(raw));
}

#[test]
fn a_huge_rule_reason_is_cut() {
    let v = verdict_of(&"x".repeat(100_000));
    let flat = v["reason"].as_str().expect("reason");
    assert!(
        flat.len() <= 1024 + 3 && flat.ends_with('…'),
        "{}",
        flat.len()
    );
    assert!(flat.starts_with("root-login: xxx"));
}

#[test]
fn control_a_plain_rule_reason_is_unchanged() {
    let v = verdict_of("root logged in from 203.0.113.9");
    assert_eq!(
        v["reason"].as_str(),
        Some("root-login: root logged in from 203.0.113.9")
    );
}

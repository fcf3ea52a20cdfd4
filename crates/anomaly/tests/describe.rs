//! A rule's `describe`: the reason text an operator writes for a
//! declarative rule, with the rule's own values and the event's fields.

use logseal_anomaly::policy::{Piece, parse_describe};
use logseal_anomaly::{Engine, Policy, StateError};
use serde_json::{Value, json};

/// A policy with one rule of each declarative type, and `describe` texts
/// taken from `texts` by rule name (absent: the built-in text).
fn policy(texts: &[(&str, &str)]) -> Policy {
    let mut rules = vec![
        json!({"type": "threshold", "name": "failed_logins",
               "where": [{"field": "outcome", "eq": "failure"}],
               "group_by": "user", "window_secs": 600, "threshold": 3}),
        json!({"type": "threshold", "name": "root_login",
               "where": [{"field": "user", "eq": "root"}, {"field": "outcome", "eq": "success"}],
               "group_by": "source_ip", "window_secs": 60, "threshold": 0}),
        json!({"type": "distinct", "name": "spraying",
               "where": [{"field": "outcome", "eq": "failure"}],
               "group_by": "source_ip", "distinct": "user", "window_secs": 600, "threshold": 4}),
        json!({"type": "followed_by", "name": "brute_force_success",
               "first": [{"field": "outcome", "eq": "failure"}],
               "then": [{"field": "outcome", "eq": "success"}],
               "group_by": "user", "min_first": 3, "window_secs": 600}),
    ];
    for r in &mut rules {
        if let Some((_, t)) = texts.iter().find(|(n, _)| r["name"] == *n) {
            r["describe"] = json!(t);
        }
    }
    let v = json!({
        "version": 1,
        "fields": {"user": "user.name", "source_ip": "source.ip", "outcome": "event.outcome",
                   "timestamp": "@timestamp", "agent": "user_agent.original"},
        "learning": {"period_secs": 0},
        "alerting": {"dedup_secs": 0},
        "detectors": rules,
    });
    Policy::parse(&v.to_string()).expect("valid policy")
}

fn ev(t: u32, user: &str, ip: &str, outcome: &str) -> Value {
    json!({"@timestamp": format!("2026-03-02T10:{:02}:{:02}Z", t / 60, t % 60),
           "user": {"name": user}, "source": {"ip": ip}, "event": {"outcome": outcome},
           "user_agent": {"original": "curl/8.5.0"}})
}

/// The attack every test replays: four failures for bob from one address,
/// then his login; a fifth and sixth user sprayed from another; root logs in.
fn attack() -> Vec<Value> {
    let mut v: Vec<Value> = (0..4)
        .map(|i| ev(i, "bob", "203.0.113.9", "failure"))
        .collect();
    v.push(ev(5, "bob", "203.0.113.9", "success"));
    for (i, u) in ["ann", "cy", "dee", "eve", "fay"].iter().enumerate() {
        v.push(ev(10 + i as u32, u, "198.51.100.4", "failure"));
    }
    v.push(ev(20, "root", "192.0.2.1", "success"));
    v
}

/// Every reason text, by detector, in order.
fn reasons(p: Policy) -> Vec<(String, String)> {
    let mut e = Engine::new(p);
    attack()
        .iter()
        .flat_map(|x| e.score(x, None).reasons)
        .map(|r| (r.detector, r.text))
        .collect()
}

/// Each detector's first text is the one given.
fn assert_texts(rs: &[(String, String)], want: &[(&str, &str)]) {
    for (det, text) in want {
        assert_eq!(first(rs, det), *text, "{det}");
    }
}

fn first<'a>(rs: &'a [(String, String)], det: &str) -> &'a str {
    rs.iter()
        .find(|(d, _)| d == det)
        .map(|(_, t)| t.as_str())
        .unwrap_or_else(|| panic!("no {det} finding in {rs:?}"))
}

#[test]
fn built_in_texts_say_more_than_not_threshold() {
    let rs = reasons(policy(&[]));
    assert_texts(
        &rs,
        &[
            (
                "failed_logins",
                "bob: 4 failed_logins events in 10m, more than 3",
            ),
            // a single-event rule names itself; a count of 1 says nothing
            ("root_login", "192.0.2.1: root_login"),
            (
                "spraying",
                "198.51.100.4: ~5 distinct user in 10m (spraying), more than 4; latest fay",
            ),
            // generic: a rule's events need not be failures and a success
            // (review 16)
            (
                "brute_force_success",
                "bob: 4 `first` events, then a `then` event, within 10m (brute_force_success; at least 3)",
            ),
        ],
    );
}

#[test]
fn describe_fills_in_the_rules_values_and_the_events_fields() {
    let rs = reasons(policy(&[
        (
            "failed_logins",
            "{group}: {count} failed logins in {window}, more than {threshold}; latest from {source_ip} with {agent}",
        ),
        (
            "root_login",
            "{source_ip}: root logged in ({{root}} {count} in {window})",
        ),
        (
            "spraying",
            "{group}: failed logins as ~{count} users in {window} (> {threshold}); latest {latest}, as {user}",
        ),
        (
            "brute_force_success",
            "{user}: logged in from {source_ip} after {count} failures in {window} (at least {min_first})",
        ),
    ]));
    assert_texts(
        &rs,
        &[
            (
                "failed_logins",
                "bob: 4 failed logins in 10m, more than 3; latest from 203.0.113.9 with curl/8.5.0",
            ),
            ("root_login", "192.0.2.1: root logged in ({root} 1 in 1m)"),
            (
                "spraying",
                "198.51.100.4: failed logins as ~5 users in 10m (> 4); latest fay, as fay",
            ),
            (
                "brute_force_success",
                "bob: logged in from 203.0.113.9 after 4 failures in 10m (at least 3)",
            ),
        ],
    );
}

#[test]
fn a_missing_field_reads_as_a_dash_and_long_values_are_clipped() {
    let p = policy(&[(
        "root_login",
        "{source_ip}: root logged in, agent {agent}, host {host}",
    )]);
    let mut e = Engine::new(p);
    let mut x = ev(0, "root", "192.0.2.1", "success");
    x["user_agent"]["original"] = json!("A".repeat(100));
    let v = e.score(&x, None);
    let text = &v.reasons[0].text;
    assert_eq!(
        text,
        &format!(
            "192.0.2.1: root logged in, agent {}…, host -",
            "A".repeat(64)
        )
    );
}

#[test]
fn describe_is_not_part_of_the_state_but_the_rules_are() {
    // An operator rewording a reason keeps the learned state; changing what a
    // rule counts does not.
    let plain = policy(&[]);
    let worded = policy(&[("failed_logins", "{group}: {count} bad passwords")]);
    let mut a = Engine::new(plain);
    let evs = attack();
    for x in &evs[..3] {
        a.score(x, None);
    }
    let snap = a.snapshot();
    let mut b = Engine::new(worded);
    b.restore(&snap)
        .expect("describe does not change the fingerprint");
    // the restored engine has bob's three failures: the fourth fires
    let v = b.score(&evs[3], None);
    assert_eq!(v.reasons[0].text, "bob: 4 bad passwords");

    let text = logseal_anomaly::policy::preset_text("ecs").unwrap();
    let changed = Policy::parse(&text.replacen("\"threshold\": 5", "\"threshold\": 6", 1)).unwrap();
    let mut c = Engine::new(changed);
    let ecs = Engine::new(Policy::preset("ecs").unwrap()).snapshot();
    assert!(matches!(c.restore(&ecs), Err(StateError::PolicyMismatch)));
}

#[test]
fn bad_describe_texts_are_refused_with_the_key_and_the_place() {
    let base: Value =
        serde_json::from_str(logseal_anomaly::policy::preset_text("sshd").unwrap()).unwrap();
    let i = base["detectors"]
        .as_array()
        .unwrap()
        .iter()
        .position(|d| d["name"] == "invalid_user_login")
        .unwrap();
    for (text, says) in [
        ("{source_ip: probe", "`{` at byte 0 is not closed"),
        (
            "probe {user from {source_ip}",
            "`{` at byte 6 is not closed before the next `{`",
        ),
        ("probe } here", "`}` at byte 6 closes nothing"),
        ("probe {} here", "empty `{}` at byte 6"),
        ("   ", "must not be empty"),
    ] {
        let mut v = base.clone();
        v["detectors"][i]["describe"] = json!(text);
        let e = Policy::parse(&v.to_string()).unwrap_err();
        assert_eq!(e.key, format!("detectors[{i}].describe"), "{text}");
        assert!(e.message.contains(says), "{text}: {e}");
    }
    let mut v = base.clone();
    v["detectors"][i]["describe"] = json!("x".repeat(257));
    let e = Policy::parse(&v.to_string()).unwrap_err();
    assert!(e.message.contains("at most 256"), "{e}");
    // only the declarative rules take one
    let mut v = base;
    let seq = v["detectors"]
        .as_array()
        .unwrap()
        .iter()
        .position(|d| d["type"] == "sequence")
        .unwrap();
    v["detectors"][seq]["describe"] = json!("x");
    let e = Policy::parse(&v.to_string()).unwrap_err();
    assert!(e.message.contains("describe"), "{e}");
}

#[test]
fn parse_describe_pieces() {
    assert_eq!(
        parse_describe("{{a}} {b} c{ d }é").unwrap(),
        vec![
            Piece::Text("{a} ".into()),
            Piece::Name("b".into()),
            Piece::Text(" c".into()),
            Piece::Name("d".into()),
            Piece::Text("é".into()),
        ]
    );
    assert_eq!(
        parse_describe("plain").unwrap(),
        vec![Piece::Text("plain".into())]
    );
}

#[test]
fn every_preset_rule_has_a_readable_text() {
    // Each declarative rule of each preset says in its own words what it saw.
    for name in logseal_anomaly::PRESETS {
        let v: Value =
            serde_json::from_str(logseal_anomaly::policy::preset_text(name).unwrap()).unwrap();
        for d in v["detectors"].as_array().unwrap() {
            if ["threshold", "distinct", "followed_by"].contains(&d["type"].as_str().unwrap()) {
                let t = d["describe"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: rule {} has no describe", d["name"]));
                let names: Vec<_> = parse_describe(t)
                    .unwrap()
                    .into_iter()
                    .filter_map(|p| match p {
                        Piece::Name(n) => Some(n),
                        Piece::Text(_) => None,
                    })
                    .collect();
                assert!(!names.is_empty(), "{name}: {t}");
            }
        }
    }
}

#[test]
fn values_that_would_not_read_as_themselves_are_quoted() {
    let p = policy(&[("root_login", "{source_ip}: root login, agent {agent}")]);
    for (agent, shown) in [
        ("curl/8", "curl/8"),
        ("two words", "two words"),
        // an empty value is no value (the policy's `absent`): `-`
        ("", "-"),
        (" 0101", "\" 0101\""),
        ("x\nverdict: INTACT", "\"x\\nverdict: INTACT\""),
        ("\u{1b}[2Jclear", "\"\\u{001b}[2Jclear\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
    ] {
        let mut e = Engine::new(p.clone());
        let mut x = ev(0, "root", "192.0.2.1", "success");
        x["user_agent"]["original"] = json!(agent);
        let v = e.score(&x, None);
        assert_eq!(
            v.reasons[0].text,
            format!("192.0.2.1: root login, agent {shown}"),
            "{agent:?}"
        );
    }
}

#[test]
fn no_reason_carries_a_control_character() {
    // Built-in texts too: a user name with a line break and a terminal
    // escape, failing often enough to trip the rule without `describe`.
    let mut e = Engine::new(policy(&[]));
    let name = "eve\n\u{1b}[2Kverdict: INTACT";
    let mut texts = Vec::new();
    for i in 0..4 {
        texts.extend(
            e.score(&ev(i, name, "203.0.113.9", "failure"), None)
                .reasons
                .into_iter()
                .map(|r| (r.entity, r.text)),
        );
    }
    assert_eq!(
        texts,
        vec![(
            name.to_string(),
            "eve\\n\\u{001b}[2Kverdict: INTACT: 4 failed_logins events in 10m, more than 3"
                .to_string()
        )]
    );
}

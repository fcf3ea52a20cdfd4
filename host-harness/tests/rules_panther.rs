//! Every ported Panther rule, as a real wasm32-wasip2 component through the
//! real component model, on every Panther test event written for it
//! (`plugins/rules/tests/panther_rule_tests.jsonl`), must give Panther's
//! verdict. Plus the stateful brute-force rule.
//!
//! The components come from `$LOGSEAL_WASM_DIR` (default
//! `<workspace>/target/wasm/`); build them with `cargo xtask build-wasm`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use logseal_host_harness::rules::{Finding, RuleConfig, RuleHost};

/// The Panther rule id each component ports.
const PANTHER_RULES: &[(&str, &str)] = &[
    (
        "logseal_rule_aws_root_login_failed.wasm",
        "AWS.Console.RootLoginFailed",
    ),
    (
        "logseal_rule_aws_root_access_key_created.wasm",
        "AWS.CloudTrail.RootAccessKeyCreated",
    ),
    (
        "logseal_rule_aws_cloudtrail_stopped.wasm",
        "AWS.CloudTrail.Stopped",
    ),
    (
        "logseal_rule_aws_root_password_changed.wasm",
        "AWS.CloudTrail.RootPasswordChanged",
    ),
    ("logseal_rule_k8s_pod_exec.wasm", "Kubernetes.Pod.Exec"),
    (
        "logseal_rule_k8s_pod_host_pid.wasm",
        "Kubernetes.Pod.Host.PID",
    ),
    (
        "logseal_rule_k8s_pod_host_ipc.wasm",
        "Kubernetes.Pod.Host.IPC",
    ),
    (
        "logseal_rule_k8s_pod_host_network.wasm",
        "Kubernetes.Pod.Host.Network",
    ),
    (
        "logseal_rule_okta_account_locked.wasm",
        "Okta.User.Account.Locked",
    ),
    (
        "logseal_rule_okta_mfa_disabled.wasm",
        "Okta.Global.MFA.Disabled",
    ),
    (
        "logseal_rule_okta_api_key_created.wasm",
        "Okta.APIKeyCreated",
    ),
    (
        "logseal_rule_github_branch_protection_disabled.wasm",
        "GitHub.Branch.ProtectionDisabled",
    ),
    (
        "logseal_rule_github_repo_hook_modified.wasm",
        "GitHub.Repo.HookModified",
    ),
    (
        "logseal_rule_github_user_access_key_created.wasm",
        "GitHub.User.AccessKeyCreated",
    ),
    (
        "logseal_rule_github_repo_visibility_change.wasm",
        "Github.Repo.VisibilityChange",
    ),
];

fn wasm(file: &str) -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    let path = dir.join(file);
    assert!(
        path.is_file(),
        "rule component {} is missing: run `cargo xtask build-wasm` (or point LOGSEAL_WASM_DIR at a directory holding it)",
        path.display()
    );
    path
}

fn cases_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/rules/tests/panther_rule_tests.jsonl")
}

#[test]
fn ported_panther_rules_reproduce_panther_verdicts() {
    let mut host = RuleHost::new(RuleConfig::default()).unwrap();
    for (file, rule_id) in PANTHER_RULES {
        let id = host.load(&wasm(file)).unwrap();
        let status = &host.rules()[id_index(&host, rule_id)];
        assert_eq!(status.id, id);
        assert!(!status.fields.is_empty(), "{rule_id} declares no fields");
    }
    assert!(PANTHER_RULES.len() >= 10);

    let text = std::fs::read_to_string(cases_path()).unwrap();
    let mut per_rule: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut mismatches = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let rule_id = case["rule_id"].as_str().unwrap();
        let expected = case["expected"].as_bool().unwrap();
        let test_name = case["test_name"].as_str().unwrap();
        assert!(
            PANTHER_RULES.iter().any(|(_, r)| *r == rule_id),
            "line {}: case for a rule that is not ported: {rule_id}",
            n + 1
        );
        let event = serde_json::to_string(&case["event"]).unwrap();
        let findings = host.evaluate(&event, 1_600_000_000_000_000_000);
        let errors: Vec<&Finding> = findings.iter().filter(|f| f.error).collect();
        assert!(
            errors.is_empty(),
            "rule failures on {test_name:?}: {errors:#?}"
        );
        let fired: Vec<&Finding> = findings.iter().filter(|f| f.rule == rule_id).collect();
        for f in &fired {
            assert!(!f.reason.is_empty());
            assert!(["info", "low", "medium", "high", "critical"].contains(&f.severity.as_str()));
        }
        let e = per_rule.entry(rule_id.to_owned()).or_default();
        e.0 += 1;
        if !fired.is_empty() {
            e.1 += 1;
        }
        if fired.is_empty() == expected {
            mismatches.push(format!(
                "{rule_id} / {test_name:?}: expected {expected}, rule said {}",
                !fired.is_empty()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "verdicts differ from Panther's:\n{}",
        mismatches.join("\n")
    );
    // Every ported rule was exercised, on both verdicts where Panther has both.
    for (_, rule_id) in PANTHER_RULES {
        let (cases, fired) = per_rule.get(*rule_id).copied().unwrap_or_default();
        assert!(cases > 0, "no Panther test case ran for {rule_id}");
        assert!(
            fired > 0,
            "{rule_id} never fired on its Panther test events"
        );
    }
    let total: usize = per_rule.values().map(|v| v.0).sum();
    eprintln!(
        "{total} Panther test events, {} rules, all verdicts match",
        per_rule.len()
    );
    assert_eq!(total, text.lines().count());
    for s in host.rules() {
        assert!(s.enabled && s.failures == 0, "{s:?}");
    }
}

fn id_index(host: &RuleHost, name: &str) -> usize {
    host.rules()
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no loaded rule describes itself as {name}"))
}

#[test]
fn hook_rule_severity_depends_on_the_action() {
    let mut host = RuleHost::new(RuleConfig::default()).unwrap();
    host.load(&wasm("logseal_rule_github_repo_hook_modified.wasm"))
        .unwrap();
    let created = host.evaluate(r#"{"action":"hook.create","repository":"o/r"}"#, 0);
    let deleted = host.evaluate(r#"{"action":"hook.destroy","repository":"o/r"}"#, 0);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].severity, "medium");
    assert_eq!(created[0].entity.as_deref(), Some("o/r"));
    assert_eq!(deleted[0].severity, "info");
    assert!(deleted[0].reason.contains("deleted"), "{deleted:?}");
}

#[test]
fn prefilter_does_not_hide_unicode_escaped_events() {
    // "\u0043onsoleLogin" is "ConsoleLogin": the raw-text pre-filter must not
    // let an escaped event through undetected.
    let mut host = RuleHost::new(RuleConfig::default()).unwrap();
    host.load(&wasm("logseal_rule_aws_root_login_failed.wasm"))
        .unwrap();
    let ev = r#"{"eventName":"\u0043onsoleLogin","userIdentity":{"type":"Root"},"responseElements":{"ConsoleLogin":"Failure"},"sourceIPAddress":"1.2.3.4"}"#;
    let f = host.evaluate(ev, 0);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, "high");
    assert_eq!(f[0].entity.as_deref(), Some("1.2.3.4"));
    // Not JSON at all: no verdict, no failure.
    assert!(host.evaluate("ConsoleLogin but not json", 0).is_empty());
}

const S: i64 = 1_000_000_000;

fn okta_failure(ip: &str) -> String {
    format!(
        r#"{{"eventType":"user.session.start","outcome":{{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}},"client":{{"ipAddress":"{ip}"}},"actor":{{"alternateId":"homer@example.com"}}}}"#
    )
}

fn cloudtrail_failure(ip: &str) -> String {
    format!(
        r#"{{"eventName":"ConsoleLogin","responseElements":{{"ConsoleLogin":"Failure"}},"sourceIPAddress":"{ip}","userIdentity":{{"type":"IAMUser"}}}}"#
    )
}

#[test]
fn brute_force_by_ip_counts_failures_in_a_window_through_host_state() {
    let mut host = RuleHost::new(RuleConfig::default()).unwrap();
    let id = host
        .load(&wasm("logseal_rule_brute_force_by_ip.wasm"))
        .unwrap();
    let t0 = 1_700_000_000 * S;
    // Four failures from 10.0.0.1 interleaved with other IPs and a success.
    for k in 0..4 {
        assert!(
            host.evaluate(&okta_failure("10.0.0.1"), t0 + k * 10 * S)
                .is_empty()
        );
        assert!(
            host.evaluate(&cloudtrail_failure("10.0.0.2"), t0 + k * 10 * S + 1)
                .is_empty()
        );
    }
    let ok = r#"{"eventType":"user.session.start","outcome":{"result":"SUCCESS"},"client":{"ipAddress":"10.0.0.1"}}"#;
    assert!(host.evaluate(ok, t0 + 45 * S).is_empty());
    assert!(host.rules()[0].state_bytes > 0);
    // The fifth failure within 10 minutes fires, once.
    let f = host.evaluate(&okta_failure("10.0.0.1"), t0 + 50 * S);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule, "logseal.BruteForceByIP");
    assert_eq!(f[0].severity, "high");
    assert_eq!(f[0].entity.as_deref(), Some("10.0.0.1"));
    assert!(f[0].reason.contains("5 failed logins"), "{}", f[0].reason);
    assert!(
        host.evaluate(&okta_failure("10.0.0.1"), t0 + 51 * S)
            .is_empty()
    );

    // ECS failures spread wider than the window never fire.
    let ecs = r#"{"event":{"category":["authentication"],"outcome":"failure"},"source":{"ip":"10.0.0.3"}}"#;
    for k in 0..10 {
        assert!(
            host.evaluate(ecs, t0 + k * 200 * S).is_empty(),
            "fired at k={k}"
        );
    }

    // 10.0.0.2 has 4 failures recorded: snapshot its state, restore it into
    // a fresh host, and the fifth failure fires there.
    let snap = host.snapshot_state(id).unwrap();
    let mut other = RuleHost::new(RuleConfig::default()).unwrap();
    let id2 = other
        .load(&wasm("logseal_rule_brute_force_by_ip.wasm"))
        .unwrap();
    assert!(
        other
            .evaluate(&cloudtrail_failure("10.0.0.2"), t0 + 60 * S)
            .is_empty()
    );
    other.restore_state(id2, &snap).unwrap();
    let f = other.evaluate(&cloudtrail_failure("10.0.0.2"), t0 + 60 * S);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].entity.as_deref(), Some("10.0.0.2"));
    assert!(other.restore_state(id2, b"garbage").is_err());
}

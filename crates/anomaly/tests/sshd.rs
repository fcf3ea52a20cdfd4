//! The `sshd` preset on real sshd lines (first 400 lines of Loghub OpenSSH_2k, see tests/data/SOURCES.md).

use logseal_anomaly::{Engine, FieldValue, Policy, Severity};
use std::collections::BTreeMap;

#[test]
fn sshd_preset_flags_the_brute_forcers() {
    let text = include_str!("data/OpenSSH_400.log");
    let mut e = Engine::new(Policy::preset("sshd").unwrap());
    let mut flagged: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut probe_severity = BTreeMap::new();
    for line in text.lines() {
        let ts = &line[..15];
        let rest = &line[16..];
        let (host, rest) = rest.split_once(' ').unwrap();
        let (_, msg) = rest.split_once(": ").unwrap();
        let ev: [(&str, FieldValue<'_>); 3] = [
            ("timestamp", FieldValue::Str(ts)),
            ("host", FieldValue::Str(host)),
            ("message", FieldValue::Str(msg)),
        ];
        let v = e.score(&ev[..], None);
        if v.severity > Severity::None {
            for r in &v.reasons {
                if r.detector == "invalid_user_login" && v.reasons.len() == 1 {
                    probe_severity.insert(r.entity.clone(), (v.severity, r.text.clone()));
                }
                flagged
                    .entry(r.detector.clone())
                    .or_default()
                    .push(r.entity.clone());
            }
        }
    }
    // 112.95.230.3 tries root dozens of times within minutes
    let per_ip = flagged
        .get("failed_logins_per_ip")
        .cloned()
        .unwrap_or_default();
    assert!(per_ip.contains(&"112.95.230.3".to_string()), "{flagged:?}");
    let per_user = flagged
        .get("failed_logins_per_user")
        .cloned()
        .unwrap_or_default();
    assert!(per_user.contains(&"root".to_string()), "{flagged:?}");
    // 5.188.10.180 cycles through user names: spraying
    let spray = flagged
        .get("password_spraying")
        .cloned()
        .unwrap_or_default();
    assert!(spray.contains(&"5.188.10.180".to_string()), "{flagged:?}");
    // 5.36.59.76 fails once, then syslog folds five more failures into
    // "message repeated 5 times: [ Failed password ...]": six failures within
    // a minute, which only the rule's `weight` sees
    assert!(per_ip.contains(&"5.36.59.76".to_string()), "{flagged:?}");
    // 52.80.34.196 tries one non-existent user every ~48 minutes: too slow for
    // any count rule, caught by the single-event rule (Wazuh's rule 5710) at
    // low severity, once per attempt
    let probes = flagged
        .get("invalid_user_login")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        probes.iter().filter(|ip| *ip == "52.80.34.196").count(),
        3,
        "{flagged:?}"
    );
    assert_eq!(
        probe_severity.get("52.80.34.196"),
        Some(&(
            Severity::Low,
            // its last probe, as the preset's `describe` puts it
            "52.80.34.196: login attempt as non-existent user matlab".to_string()
        ))
    );
    // the learning period (1 day) keeps learned detectors quiet on a 2-hour excerpt
    assert!(!flagged.contains_key("first_seen"));
}

/// Every finding of the `sshd` preset on `lines` (timestamp, message).
fn findings(lines: &[(String, String)]) -> Vec<(String, String, String)> {
    let mut e = Engine::new(Policy::preset("sshd").unwrap());
    let mut out = Vec::new();
    for (ts, msg) in lines {
        let ev: [(&str, FieldValue<'_>); 2] = [
            ("timestamp", FieldValue::Str(ts)),
            ("message", FieldValue::Str(msg)),
        ];
        for r in e.score(&ev[..], None).reasons {
            out.push((r.detector, r.entity, r.text));
        }
    }
    out
}

#[test]
fn user_names_with_spaces_are_counted_and_cannot_blame_another_address() {
    // Five failures from one address, each with a user name sshd writes as
    // the client sent it: with spaces, empty, and one imitating the rest of
    // the line with another address. Before, none of these lines matched a
    // pattern, so none counted as a failure.
    let names = [
        "a b",
        "",
        " 0101",
        "x from 10.9.9.9 port 1 ssh2",
        "root admin",
    ];
    let lines: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                format!("Dec 10 10:00:{:02}", i * 5),
                format!(
                    "Failed password for invalid user {n} from 203.0.113.9 port {} ssh2",
                    40000 + i
                ),
            )
        })
        .collect();
    let f = findings(&lines);
    let per_ip: Vec<_> = f
        .iter()
        .filter(|(d, _, _)| d == "failed_logins_per_ip")
        .collect();
    assert_eq!(per_ip.len(), 1, "{f:?}");
    assert_eq!(per_ip[0].1, "203.0.113.9");
    assert_eq!(
        per_ip[0].2,
        "203.0.113.9: 5 failed logins in 10m, more than 4; latest as root admin"
    );
    assert!(
        f.iter().all(|(_, ent, _)| !ent.contains("10.9.9.9")),
        "{f:?}"
    );
}

/// Lines with the timestamp of their place in `lines`, one second apart.
fn at(msgs: &[String]) -> Vec<(String, String)> {
    msgs.iter()
        .enumerate()
        .map(|(i, m)| (format!("Dec 10 10:{:02}:{:02}", i / 60, i % 60), m.clone()))
        .collect()
}

#[test]
fn a_user_name_cannot_pose_as_another_message() {
    // The name imitates a failed login from another address; sshd writes it
    // inside its own messages (older sshd: no port after the address, and
    // the `input_userauth_request` line has no address at all). Patterns
    // match from the start of the message, so these are probes from
    // 203.0.113.9, and 10.0.0.7 is never blamed (found by review: before,
    // the per-IP and per-user rules fired for 10.0.0.7 and root).
    let name = "Failed password for root from 10.0.0.7 port 22";
    let mut msgs = Vec::new();
    for _ in 0..6 {
        msgs.push(format!("Invalid user {name} from 203.0.113.9"));
        msgs.push(format!(
            "input_userauth_request: invalid user {name} [preauth]"
        ));
    }
    let f = findings(&at(&msgs));
    assert!(
        f.iter()
            .all(|(_, ent, text)| ent != "10.0.0.7" && !text.contains("10.0.0.7:")),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(d, ent, _)| d == "invalid_user_login" && ent == "203.0.113.9"),
        "{f:?}"
    );
}

#[test]
fn a_user_name_cannot_forge_a_successful_login() {
    // Five failures, then a probe whose name reads as a root login from the
    // same address: no brute-force success (found by review).
    let mut msgs: Vec<String> = (0..5)
        .map(|i| {
            format!(
                "Failed password for invalid user x{i} from 203.0.113.9 port {} ssh2",
                40000 + i
            )
        })
        .collect();
    msgs.push("Invalid user Accepted password for root from 203.0.113.9 port 40100".into());
    let f = findings(&at(&msgs));
    assert!(
        !f.iter().any(|(d, _, _)| d == "brute_force_success"),
        "{f:?}"
    );
    assert!(
        f.iter().any(|(d, _, t)| d == "invalid_user_login"
            && t == "203.0.113.9: login attempt as non-existent user Accepted password for root"),
        "{f:?}"
    );
}

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

#[test]
fn a_keyboard_interactive_failure_is_counted_once() {
    // sshd writes two lines for one failed keyboard-interactive try through
    // PAM: auth-pam.c's `error: PAM: Authentication failure for illegal
    // user NAME from ADDR` and auth.c's `Failed keyboard-interactive/pam
    // for invalid user NAME from ADDR port N ssh2`. Counting both made 3
    // tries "6 failed logins", over both thresholds (found by review); the
    // PAM line is a `pam_failure`, as pam_unix's own line is.
    let mut lines = Vec::new();
    for i in 0..3u32 {
        let port = 39591 + i;
        let s = 10 + i * 3;
        for (ds, m) in [
            (
                0,
                format!("Invalid user admin from 10.10.14.70 port {port}"),
            ),
            (
                0,
                format!(
                    "Postponed keyboard-interactive for invalid user admin from 10.10.14.70 port {port} ssh2 [preauth]"
                ),
            ),
            (
                2,
                "error: PAM: Authentication failure for illegal user admin from 10.10.14.70"
                    .to_string(),
            ),
            (
                2,
                format!(
                    "Failed keyboard-interactive/pam for invalid user admin from 10.10.14.70 port {port} ssh2"
                ),
            ),
        ] {
            lines.push((format!("Feb 12 11:11:{:02}", s + ds), m));
        }
    }
    let f = findings(&lines);
    assert!(
        !f.iter().any(|(d, _, _)| d.starts_with("failed_logins")),
        "{f:#?}"
    );
    // two more tries make five: the per-IP rule (5 in 10 minutes) fires
    for i in 3..5u32 {
        lines.push((
            format!("Feb 12 11:12:{:02}", i),
            format!("Failed keyboard-interactive/pam for invalid user admin from 10.10.14.70 port {} ssh2", 39591 + i),
        ));
    }
    let f = findings(&lines);
    assert!(
        f.iter().any(|(d, _, t)| d == "failed_logins_per_ip"
            && t.starts_with("10.10.14.70: 5 failed logins")),
        "{f:#?}"
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

/// A syslog timestamp `secs` after Dec 10 00:00:00.
fn syslog_ts(secs: u32) -> String {
    format!(
        "Dec {} {:02}:{:02}:{:02}",
        10 + secs / 86400,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// The `sshd` preset with a one-hour learning period, run over `lines`
/// (seconds since Dec 10 00:00, host, message): the `log_sequence`
/// detector's reasons, and the templates it learned.
fn sequence_findings(lines: &[(u32, &str, String)]) -> (Vec<String>, Vec<String>) {
    sequence_findings_with(lines, 512)
}

fn sequence_findings_with(
    lines: &[(u32, &str, String)],
    max_templates: usize,
) -> (Vec<String>, Vec<String>) {
    let text = logseal_anomaly::policy::preset_text("sshd")
        .unwrap()
        .replace("\"period_secs\": 86400", "\"period_secs\": 3600")
        .replace(
            "\"max_templates\": 512",
            &format!("\"max_templates\": {max_templates}"),
        );
    let mut e = Engine::new(Policy::parse(&text).unwrap());
    let mut out = Vec::new();
    for (t, host, msg) in lines {
        let ts = syslog_ts(*t);
        let ev: [(&str, FieldValue<'_>); 3] = [
            ("timestamp", FieldValue::Str(&ts)),
            ("host", FieldValue::Str(host)),
            ("message", FieldValue::Str(msg)),
        ];
        for r in e.score(&ev[..], None).reasons {
            if r.detector == "log_sequence" {
                out.push(r.text);
            }
        }
    }
    (out, e.templates("log_sequence").unwrap())
}

/// Six hours of one server's logins (four message kinds, one line every
/// 10 s) on `web1`; the next free second.
fn normal_day() -> (Vec<(u32, &'static str, String)>, u32) {
    let mut lines = Vec::new();
    let mut t = 0;
    for i in 0..540 {
        let ip = format!("10.0.0.{}", 1 + i % 7);
        let port = 40000 + i;
        for m in [
            format!("Accepted password for alice from {ip} port {port} ssh2"),
            "pam_unix(sshd:session): session opened for user alice by (uid=0)".into(),
            format!("Received disconnect from {ip}: 11: disconnected by user"),
            "pam_unix(sshd:session): session closed for user alice".into(),
        ] {
            lines.push((t, "web1", m));
            t += 10;
        }
    }
    (lines, t)
}

/// `n` made-up lowercase words of 5 letters (no digits: the miner keeps
/// them as tokens), from the xorshift state `rng`.
fn made_up_words(rng: &mut u64, n: u32) -> String {
    let words: Vec<String> = (0..n)
        .map(|_| {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            (0..5)
                .map(|i| (b'a' + (*rng >> (i * 5) & 15) as u8) as char)
                .collect()
        })
        .collect();
    words.join(" ")
}

const NOVEL: &str = "Server listening on :: port 2222.";

/// How many times the never-seen kind [`NOVEL`] was reported.
fn novel_reported(f: &[String]) -> usize {
    f.iter()
        .filter(|r| r.contains("event template never seen before: Server listening"))
        .count()
}

#[test]
fn a_flood_of_user_names_cannot_blind_the_template_miner() {
    // Six hours of one server's logins (four message kinds), then a
    // client that tries 600 user names of 1 to 45 made-up words (sshd
    // writes two lines per try, each with the name as sent) and as many
    // banners, then a message kind the server never wrote. Before, every name length and spelling
    // was a template of its own: the flood filled the miner's 512 templates
    // for good, later new kinds were all "unknown", and the chance of a new
    // template, (templates + 1) / (lines + 2), stayed above the report
    // level for tens of thousands of lines (found by review). The captured
    // user, banner and address are masked before mining, so the flood is
    // three templates and the new kind is reported.
    let (mut lines, mut t) = normal_day();
    let mut quiet = lines.clone();
    quiet.push((t + 60, "web1", NOVEL.into()));
    let (f, learned) = sequence_findings(&quiet);
    assert_eq!(novel_reported(&f), 1, "without the flood");
    assert_eq!(learned.len(), 5, "{learned:#?}");
    // With no room left for it, the new kind is reported with its line.
    let (f, learned) = sequence_findings_with(&quiet, 4);
    assert_eq!(learned.len(), 4, "{learned:#?}");
    assert!(
        f.iter().any(|r| r
            == "web1: event template never seen before: <unknown> Server listening on :: port 2222."),
        "{f:#?}"
    );

    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..600u32 {
        let name = made_up_words(&mut rng, 1 + i % 45);
        lines.push((t, "web1", format!("Invalid user {name} from 198.51.100.7")));
        lines.push((
            t,
            "web1",
            format!("input_userauth_request: invalid user {name} [preauth]"),
        ));
        // and a banner of made-up words, which sshd also writes as sent
        lines.push((
            t,
            "web1",
            format!("Bad protocol version identification '{name}' from 198.51.100.7 port {i}"),
        ));
        t += 1;
    }
    lines.push((t + 60, "web1", NOVEL.into()));
    let (f, learned) = sequence_findings(&lines);
    assert_eq!(
        novel_reported(&f),
        1,
        "after the flood: {:?}",
        &f[f.len().saturating_sub(3)..]
    );
    // the flood is three templates, each reported once as new
    assert_eq!(learned.len(), 8, "{learned:#?}");
    for t in [
        "Invalid user <user> from <source_ip>",
        "input_userauth_request: invalid user <user> [preauth]",
        "Bad protocol version identification <banner> from <source_ip> port <*>",
    ] {
        assert!(learned.iter().any(|l| l == t), "{learned:#?}");
        let new = format!("web1: event template never seen before: {t}");
        assert_eq!(f.iter().filter(|r| **r == new).count(), 1, "{f:#?}");
    }
}

#[test]
fn other_text_a_client_sends_cannot_blind_the_template_miner() {
    // Four more places sshd writes what a client sent (found by review):
    // the reason of its SSH_MSG_DISCONNECT (up to 400 bytes, spaces kept),
    // the user name of a keyboard-interactive try (`Postponed ...`, then
    // `Failed keyboard-interactive/pam ...`), the second name of a change
    // of user name, and the algorithms offered in a failed negotiation (a
    // later check, not found by review). 600 of each, of 1 to 45 made-up words, made one
    // template per length and spelling; each kind is now one or two
    // templates and the new kind after them is reported.
    type Flood = fn(u32, &str) -> Vec<String>;
    let floods: [(&str, Flood, &[&str]); 5] = [
        (
            "disconnect reasons",
            |i, w| {
                vec![
                    format!(
                        "Received disconnect from 198.51.100.7 port {}:11: {w} [preauth]",
                        30000 + i
                    ),
                    format!(
                        "Disconnected from 198.51.100.7 port {} [preauth]",
                        30000 + i
                    ),
                ]
            },
            &[
                "Received disconnect from <source_ip> port <*> <disconnect_reason>",
                "Disconnected from <source_ip> port <*> [preauth]",
            ],
        ),
        (
            "keyboard-interactive names",
            |i, w| {
                vec![
                    format!(
                        "Postponed keyboard-interactive for invalid user {w} from 198.51.100.7 port {} ssh2 [preauth]",
                        30000 + i
                    ),
                    format!(
                        "Failed keyboard-interactive/pam for invalid user {w} from 198.51.100.7 port {} ssh2",
                        30000 + i
                    ),
                ]
            },
            &[
                "Postponed <action> for invalid user <user> from <source_ip> port <*> ssh2 [preauth]",
                "Failed <action> for invalid user <user> from <source_ip> port <*> ssh2",
            ],
        ),
        (
            "changed user names",
            |i, w| {
                vec![format!(
                    "Disconnecting invalid user a 198.51.100.7 port {}: Change of username or service not allowed: (a,ssh-connection) -> ({w},ssh-connection) [preauth]",
                    30000 + i
                )]
            },
            &[
                "Disconnecting invalid user <user> <*> port <*> Change of username or service not allowed: <user_change>",
            ],
        ),
        (
            "algorithm offers",
            |i, w| {
                vec![format!(
                    "Unable to negotiate with 198.51.100.7 port {}: no matching host key type found. Their offer: {w} [preauth]",
                    30000 + i
                )]
            },
            &[
                "Unable to negotiate with <source_ip> port <*> no matching host key type found. Their offer: <client_offer>",
            ],
        ),
        (
            "user names in failed negotiations",
            |i, w| {
                vec![format!(
                    "Unable to negotiate with invalid user {w} 198.51.100.7 port {}: no matching cipher found. Their offer: aes128-cbc [preauth]",
                    30000 + i
                )]
            },
            &[
                "Unable to negotiate with invalid user <user> <*> port <*> no matching cipher found. Their offer: <client_offer>",
            ],
        ),
    ];
    for (what, flood, templates) in floods {
        let (mut lines, mut t) = normal_day();
        let mut rng = 0x1234_5678_9ABC_DEF1u64;
        for i in 0..600u32 {
            let w = made_up_words(&mut rng, 1 + i % 45);
            for l in flood(i, &w) {
                lines.push((t, "web1", l));
            }
            t += 1;
        }
        lines.push((t + 60, "web1", NOVEL.into()));
        let (f, learned) = sequence_findings(&lines);
        assert_eq!(learned.len(), 5 + templates.len(), "{what}: {learned:#?}");
        for t in templates {
            assert!(learned.iter().any(|l| l == t), "{what}: {learned:#?}");
        }
        assert_eq!(
            novel_reported(&f),
            1,
            "{what}: the new kind after the flood"
        );
    }
}

#[test]
fn a_line_kind_no_pattern_reads_cannot_take_the_whole_template_budget() {
    // A kind of line with client text that no pattern masks (here OpenSSH
    // 6's `Bad remote protocol version identification: '...'`) gives one
    // template per length; each run of first tokens may take an eighth of
    // the budget (at least 16), so with room for 48 the flood takes 16 and
    // a new kind after it is still learned, not left "unknown".
    let (mut lines, mut t) = normal_day();
    let mut rng = 0x5555_0F0F_1234_9999u64;
    for i in 0..600u32 {
        let w = made_up_words(&mut rng, 1 + i % 60);
        lines.push((
            t,
            "web1",
            format!("error: Bad remote protocol version identification: '{w}'"),
        ));
        t += 1;
    }
    lines.push((t + 60, "web1", NOVEL.into()));
    let (_, learned) = sequence_findings_with(&lines, 48);
    let flood = learned
        .iter()
        .filter(|l| l.starts_with("error: Bad remote"))
        .count();
    assert_eq!(flood, 16, "{learned:#?}");
    assert!(
        learned.iter().any(|l| l.starts_with("Server listening")),
        "{learned:#?}"
    );
    // Learned, and found: its template finding is p 0.0094, its next-event
    // finding p 0.1, one test (a never-seen template is an unseen next
    // event), valued at 0.0094. (For a while in December 2026 Simes' value
    // of the two, 0.0188, hid it, and this test read it at `report_p` 0.05.)
    let (f, _) = sequence_findings_with(&lines, 48);
    assert_eq!(novel_reported(&f), 1, "{f:#?}");
}

/// The `sshd` preset plus a rule that reports every line with the fields
/// extraction gave it: `outcome=.. ip=.. user=..` for `msg`, or "".
fn extracted_fields(e: &mut Engine, msg: &str, t: i64) -> String {
    let ev: [(&str, FieldValue<'_>); 2] = [
        ("host", FieldValue::Str("web1")),
        ("message", FieldValue::Str(msg)),
    ];
    e.score(&ev[..], Some(t * 1_000_000_000))
        .reasons
        .into_iter()
        .find(|r| r.detector == "probe")
        .map(|r| r.text)
        .unwrap_or_default()
}

fn probe_engine() -> Engine {
    let mut v: serde_json::Value =
        serde_json::from_str(logseal_anomaly::policy::preset_text("sshd").unwrap()).unwrap();
    v["alerting"]["dedup_secs"] = 0.into();
    v["detectors"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "type": "threshold", "name": "probe",
            "where": [{"field": "message", "exists": true}],
            "group_by": "message", "window_secs": 60, "threshold": 0,
            "describe": "outcome={outcome} ip={source_ip} user={user}"}));
    Engine::new(Policy::parse(&v.to_string()).unwrap())
}

#[test]
fn lines_of_current_and_older_openssh_give_their_fields() {
    // One line of each kind the review found unread or read loosely
    // (auth.c, auth2.c, auth-pam.c, packet.c, pam_unix), as written.
    let cases = [
        (
            "Postponed keyboard-interactive for invalid user ad min from 198.51.100.7 port 22 ssh2 [preauth]",
            "outcome=postponed ip=198.51.100.7 user=ad min",
        ),
        (
            "Postponed keyboard-interactive/pam for root from 198.51.100.7 port 22 ssh2",
            "outcome=postponed ip=198.51.100.7 user=root",
        ),
        (
            "Partial publickey for alice from 10.0.0.1 port 50000 ssh2: ED25519 SHA256:abc",
            "outcome=partial ip=10.0.0.1 user=alice",
        ),
        (
            "ssh_dispatch_run_fatal: Connection from invalid user bob 198.51.100.7 port 22: message authentication code incorrect [preauth]",
            "outcome=fatal ip=198.51.100.7 user=bob",
        ),
        (
            "ssh_dispatch_run_fatal: Connection from 198.51.100.7 port 22: Connection corrupted [preauth]",
            "outcome=fatal ip=198.51.100.7 user=-",
        ),
        (
            "error: PAM: Authentication failure for illegal user bob from 198.51.100.7",
            "outcome=pam_failure ip=198.51.100.7 user=bob",
        ),
        (
            "error: PAM: Authentication failure for root from host.example",
            "outcome=pam_failure ip=host.example user=root",
        ),
        (
            "error: PAM: User not known to the underlying authentication module for illegal user x y from 198.51.100.7",
            "outcome=invalid_user ip=198.51.100.7 user=x y",
        ),
        (
            "fatal: Timeout before authentication for 198.51.100.7 port 22",
            "outcome=timeout ip=198.51.100.7 user=-",
        ),
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186  user=root",
            "outcome=pam_failure ip=173.234.31.186 user=root",
        ),
        (
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186 ",
            "outcome=pam_failure ip=173.234.31.186 user=-",
        ),
        (
            "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.9  user=root",
            "outcome=pam_failure ip=10.0.0.9 user=root",
        ),
        (
            "Unable to negotiate with 198.51.100.7 port 22: no matching host key type found. Their offer: ssh-rsa,ssh-dss [preauth]",
            "outcome=negotiation_failed ip=198.51.100.7 user=-",
        ),
        // sshd names the user when one was sent (a rekey, a later kex);
        // with client text on both sides of it the address is not taken
        // (see `client_text_on_both_sides_of_an_address_cannot_choose_it`)
        (
            "Unable to negotiate with invalid user bob 198.51.100.7 port 22: no matching cipher found. Their offer: aes128-cbc [preauth]",
            "outcome=negotiation_failed ip=- user=bob",
        ),
        (
            "Unable to negotiate with authenticating user root 198.51.100.7 port 22: no matching MAC found. Their offer: hmac-md5",
            "outcome=negotiation_failed ip=- user=root",
        ),
        (
            "Unable to negotiate with user alice 10.0.0.1 port 22: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1",
            "outcome=negotiation_failed ip=- user=alice",
        ),
        // pam_sss (sssd hosts: FreeIPA, AD) writes one space before user=
        // (found by review)
        (
            "pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7 user=bob",
            "outcome=pam_failure ip=198.51.100.7 user=bob",
        ),
        (
            "Received disconnect from 10.0.0.1 port 5:11: Bye Bye [preauth]",
            "outcome=disconnect ip=10.0.0.1 user=-",
        ),
        (
            "Received disconnect from 10.0.0.1: 11: Bye Bye",
            "outcome=disconnect ip=10.0.0.1 user=-",
        ),
    ];
    let mut e = probe_engine();
    for (i, (line, want)) in cases.iter().enumerate() {
        assert_eq!(
            extracted_fields(&mut e, line, 1_700_000_000 + i as i64),
            *want,
            "{line}"
        );
    }
}

#[test]
fn a_user_name_cannot_make_a_pam_failure_from_another_address() {
    // The one pattern that matched anywhere, `{_}rhost=`, read a user name
    // `rhost=10.0.0.7  user=root` in any line no anchored pattern read as a
    // PAM failure of root from 10.0.0.7, an address the client chose
    // (found by review). The PAM patterns are anchored now, the address
    // the first word after `rhost=`, and these lines have their own.
    let mut e = probe_engine();
    for (i, line) in [
        "Postponed keyboard-interactive for invalid user rhost=10.0.0.7  user=root from 198.51.100.7 port 22 ssh2 [preauth]",
        "ssh_dispatch_run_fatal: Connection from invalid user rhost=10.0.0.7 198.51.100.7 port 22: message authentication code incorrect [preauth]",
        "error: PAM: Authentication failure for illegal user rhost=10.0.0.7 from 198.51.100.7",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=x rhost=10.0.0.7  user=root",
        "Server listening on 0.0.0.0 port 22: rhost=10.0.0.7  user=root",
    ]
    .iter()
    .enumerate()
    {
        let got = extracted_fields(&mut e, line, 1_700_000_000 + i as i64);
        assert!(!got.contains("ip=10.0.0.7"), "{line}\n -> {got}");
        assert!(!got.contains("pam_failure") || got.contains("ip=198.51.100.7"), "{line}\n -> {got}");
    }
}

/// The `sshd` preset as it was at commit 25a70b4, made small enough for
/// its snapshot to live in the repository (256 KiB, 32 templates),
/// learning for 30 minutes: tests/data/snapshot-v3/sshd-small.json.
fn small_sshd() -> Policy {
    Policy::parse(include_str!("data/snapshot-v3/sshd-small.json")).unwrap()
}

/// Score OpenSSH_400.log's lines `from..to`: each reason as (detector, text).
fn openssh_reasons(e: &mut Engine, from: usize, to: usize) -> Vec<(String, String)> {
    let text = include_str!("data/OpenSSH_400.log");
    let mut out = Vec::new();
    for line in text.lines().skip(from).take(to - from) {
        let ts = &line[..15];
        let (host, rest) = line[16..].split_once(' ').unwrap();
        let (_, msg) = rest.split_once(": ").unwrap();
        let ev: [(&str, FieldValue<'_>); 3] = [
            ("timestamp", FieldValue::Str(ts)),
            ("host", FieldValue::Str(host)),
            ("message", FieldValue::Str(msg)),
        ];
        for r in e.score(&ev[..], None).reasons {
            out.push((r.detector, r.text));
        }
    }
    out
}

#[test]
fn a_format_3_state_restores_and_its_template_miner_learns_again() {
    // tests/data/snapshot-v3/sshd-300.snapshot was written at commit
    // 25a70b4 (snapshot format 3, templates mined from the text as written)
    // by an engine keyed 0x1234_5678_9abc_def0 under `small_sshd()`, after
    // the first 300 lines of OpenSSH_400.log. (That policy is a file, not
    // the preset of the day: the preset's patterns change, and with them
    // its fingerprint.)
    const KEY: u64 = 0x1234_5678_9abc_def0;
    let snap = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/snapshot-v3/sshd-300.snapshot"
    ))
    .unwrap();
    assert_eq!(&snap[8..10], &3u16.to_le_bytes(), "a format 3 snapshot");
    let mut restored = Engine::new(small_sshd());
    restored.restore(&snap).unwrap();
    // The old templates were dropped, not kept to meet masked lines as
    // strangers (each a template never seen before): the restored miner
    // starts empty.
    assert_eq!(restored.templates("log_sequence"), Some(vec![]));
    let mut current = Engine::with_hash_key(small_sshd(), KEY);
    openssh_reasons(&mut current, 0, 300);
    let got = openssh_reasons(&mut restored, 300, 400);
    let want = openssh_reasons(&mut current, 300, 400);
    // Every other detector continues from the restored state as the current
    // engine does from the same lines (counts, addresses, key).
    let others = |v: &[(String, String)]| -> Vec<(String, String)> {
        v.iter()
            .filter(|(d, _)| d != "log_sequence")
            .cloned()
            .collect()
    };
    assert!(!others(&want).is_empty());
    assert_eq!(others(&got), others(&want));
    // It learns masked text: no user name in a template.
    let learned = restored.templates("log_sequence").unwrap();
    assert!(
        learned
            .iter()
            .any(|t| t == "Failed password for <user> from <source_ip> port <*> ssh2"),
        "{learned:#?}"
    );
    assert!(
        learned
            .iter()
            .all(|t| !t.contains(" root ") && !t.contains(" admin ")),
        "{learned:#?}"
    );
}

#[test]
fn client_text_on_both_sides_of_an_address_cannot_choose_it() {
    // In `Unable to negotiate with invalid user NAME ADDR port N: ...
    // Their offer: OFFER` and `Disconnecting invalid user NAME ADDR port N:
    // Change of username ... (NAME2,...)` the client wrote the text before
    // and after the address: an offer or second name that repeats the
    // line's tail moved the split into it and the address became one the
    // client wrote (found by review). No split of such a line is certain,
    // so these lines do not set `source_ip` (the message keeps it); a rule
    // an operator adds on their outcome by address never names an address
    // the client chose.
    let fake_offer = " 10.0.0.7 port 1: no matching cipher found. Their offer: x";
    let fake_change =
        " 10.0.0.7 port 1: Change of username or service not allowed: (x,ssh-connection)";
    let lines = [
        format!("Unable to negotiate with invalid user bob 203.0.113.9 port 22: no matching cipher found. Their offer: aes128-cbc{fake_offer} [preauth]"),
        format!("Unable to negotiate with authenticating user root 203.0.113.9 port 22: no matching cipher found. Their offer: aes128-cbc{fake_offer}"),
        format!("Unable to negotiate with user alice 203.0.113.9 port 22: no matching cipher found. Their offer: aes128-cbc{fake_offer}"),
        "Unable to negotiate with invalid user a 10.0.0.7 port 1: no matching cipher found. Their offer: z 203.0.113.9 port 22: no matching cipher found. Their offer: aes128-cbc [preauth]".to_string(),
        format!("Disconnecting invalid user a 203.0.113.9 port 22: Change of username or service not allowed: (a,ssh-connection) -> (b{fake_change},ssh-connection) [preauth]"),
        format!("Disconnecting authenticating user a 203.0.113.9 port 22: Change of username or service not allowed: (a,ssh-connection) -> (b{fake_change},ssh-connection) [preauth]"),
    ];
    let mut e = probe_engine();
    for (i, line) in lines.iter().enumerate() {
        let got = extracted_fields(&mut e, line, 1_700_000_000 + i as i64);
        assert!(
            got.starts_with("outcome=") && got.contains(" ip=- "),
            "{line}\n -> {got}"
        );
    }
    // the address-only form has server text after the address: it is kept
    let control = format!(
        "Unable to negotiate with 203.0.113.9 port 22: no matching cipher found. Their offer: aes128-cbc{fake_offer} [preauth]"
    );
    let got = extracted_fields(&mut e, &control, 1_700_000_100);
    assert!(got.contains("ip=203.0.113.9"), "{control}\n -> {got}");

    let mut v: serde_json::Value =
        serde_json::from_str(logseal_anomaly::policy::preset_text("sshd").expect("sshd preset"))
            .expect("preset json");
    v["detectors"]
        .as_array_mut()
        .expect("detectors")
        .push(serde_json::json!({
        "type": "threshold", "name": "negotiation_failures_per_ip",
        "where": [{"field": "outcome", "eq": "negotiation_failed"}],
        "group_by": "source_ip", "window_secs": 600, "threshold": 4}));
    let mut e = Engine::new(Policy::parse(&v.to_string()).expect("policy"));
    let mut named = Vec::new();
    for i in 0..12i64 {
        let msg = if i % 2 == 0 {
            format!(
                "Unable to negotiate with invalid user u{i} 203.0.113.9 port {}: no matching cipher found. Their offer: aes128-cbc{fake_offer} [preauth]",
                40000 + i
            )
        } else {
            format!(
                "Unable to negotiate with 203.0.113.9 port {}: no matching cipher found. Their offer: aes128-cbc{fake_offer} [preauth]",
                40000 + i
            )
        };
        let ev = [
            ("host", FieldValue::Str("web1")),
            ("message", FieldValue::Str(&msg)),
        ];
        let verdict = e.score(&ev[..], Some((1_700_000_000 + i) * 1_000_000_000));
        named.extend(
            verdict
                .reasons
                .into_iter()
                .filter(|r| r.detector == "negotiation_failures_per_ip")
                .map(|r| r.entity),
        );
    }
    assert!(named.iter().all(|n| n == "203.0.113.9"), "{named:?}");
    assert!(!named.is_empty(), "the address-only lines are counted");
}

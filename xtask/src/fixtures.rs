//! `cargo xtask fixtures`: regenerate the fixture logs in `tests/fixtures/`
//! from the shared labelled data (`--data DIR`, default `../shared/data`).
//!
//! `openssh_2k.ndjson`: Loghub's OpenSSH_2k.log (lab server, 28 days; see
//! `tests/fixtures/LICENSE.loghub`) turned into ECS-style JSON records, one per
//! line, with the raw line kept in `message`. The log has no year; 2015 is
//! assumed (Dec 10 2015 is the first day).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The first dotted IPv4 address in `s`.
fn first_ipv4(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit()
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.' || b[i - 1] == b'-'))
        {
            let st = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            let cand = &s[st..i];
            let parts: Vec<&str> = cand.split('.').collect();
            if parts.len() == 4
                && parts.iter().all(|p| {
                    !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|v| v < 256)
                })
                && (i == b.len() || !b[i].is_ascii_alphanumeric() && b[i] != b'-')
            {
                return Some(cand);
            }
        } else {
            i += 1;
        }
    }
    None
}

fn word_after<'a>(s: &'a str, pat: &str) -> Option<&'a str> {
    let at = s.find(pat)? + pat.len();
    s[at..].split([' ', ';']).next().filter(|w| !w.is_empty())
}

/// One sshd line to an ECS-style record.
pub fn openssh_record(line: &str) -> Option<String> {
    let mut it = line.splitn(6, ' ');
    let (mon, day, time, host, proc_, msg) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    // Some days are padded with a double space ("Dec  1"): splitn handles "Dec 10".
    let month = MONTHS.iter().position(|m| *m == mon)? + 1;
    let day: u32 = day.parse().ok()?;
    let (pname, pid) = proc_.strip_suffix(':')?.split_once('[')?;
    let pid: u32 = pid.strip_suffix(']')?.parse().ok()?;
    let year = if month == 12 { 2015 } else { 2016 };
    let ts = format!("{year}-{month:02}-{day:02}T{time}Z");
    let (action, outcome) = if msg.starts_with("Accepted ") {
        ("ssh_login", "success")
    } else if msg.starts_with("Failed password") || msg.contains("authentication failure") {
        ("ssh_login", "failure")
    } else if msg.starts_with("Invalid user")
        || msg.starts_with("input_userauth_request: invalid user")
    {
        ("invalid_user", "failure")
    } else if msg.contains("POSSIBLE BREAK-IN ATTEMPT") {
        ("reverse_mapping_failed", "unknown")
    } else if msg.contains("disconnect") || msg.starts_with("Connection closed") {
        ("disconnect", "unknown")
    } else if msg.starts_with("pam_unix(sshd:session): session opened") {
        ("session_opened", "success")
    } else if msg.starts_with("pam_unix(sshd:session): session closed") {
        ("session_closed", "success")
    } else {
        ("other", "unknown")
    };
    let user = word_after(msg, "for invalid user ")
        .or_else(|| word_after(msg, "Invalid user "))
        .or_else(|| word_after(msg, "invalid user "))
        .or_else(|| word_after(msg, "password for "))
        .or_else(|| word_after(msg, " user="))
        .or_else(|| word_after(msg, "publickey for "));
    let port = word_after(msg, " port ").and_then(|p| p.parse::<u32>().ok());
    let mut o = String::new();
    let _ = write!(
        o,
        "{{\"@timestamp\":\"{ts}\",\"host\":{{\"hostname\":{}}},\"process\":{{\"name\":{},\"pid\":{pid}}},\"event\":{{\"action\":\"{action}\",\"outcome\":\"{outcome}\"}}",
        json_str(host),
        json_str(pname)
    );
    if let Some(u) = user {
        let _ = write!(o, ",\"user\":{{\"name\":{}}}", json_str(u));
    }
    if let Some(ip) = first_ipv4(msg) {
        let _ = write!(o, ",\"source\":{{\"ip\":\"{ip}\"");
        if let Some(p) = port {
            let _ = write!(o, ",\"port\":{p}");
        }
        o.push('}');
    }
    let _ = write!(o, ",\"message\":{}}}", json_str(msg));
    Some(o)
}

/// `audit_mixed.ndjson`: real-shaped audit events (AWS CloudTrail, EKS /
/// Kubernetes audit, Okta, GitHub audit) taken from Panther's rule test
/// events (Apache-2.0, `tests/fixtures/LICENSE.panther`), in file order, one
/// event per line, exactly as written there.
fn audit_mixed(data: &Path, dir: &Path) -> Result<()> {
    let src = data.join("panther_rule_tests/rule_tests.jsonl");
    let text =
        std::fs::read_to_string(&src).with_context(|| format!("reading {}", src.display()))?;
    let wanted = [
        "AWS.CloudTrail",
        "Amazon.EKS.Audit",
        "Okta.SystemLog",
        "GitHub.Audit",
    ];
    let mut out = String::new();
    let mut n = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if wanted.contains(&v["log_type"].as_str().unwrap_or("")) && v["event"].is_object() {
            out.push_str(&serde_json::to_string(&v["event"])?);
            out.push('\n');
            n += 1;
        }
    }
    std::fs::write(dir.join("audit_mixed.ndjson"), out)?;
    std::fs::copy(
        data.join("panther_rule_tests/LICENSE.txt"),
        dir.join("LICENSE.panther"),
    )?;
    eprintln!("xtask: wrote tests/fixtures/audit_mixed.ndjson ({n} events)");
    Ok(())
}

pub fn run(data: &Path, root: &Path) -> Result<()> {
    let src = data.join("loghub_openssh_2k/OpenSSH_2k.log");
    let text =
        std::fs::read_to_string(&src).with_context(|| format!("reading {}", src.display()))?;
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.replace("  ", " ");
        let rec = openssh_record(&line)
            .with_context(|| format!("{}:{}: unparsed: {line}", src.display(), i + 1))?;
        out.push_str(&rec);
        out.push('\n');
    }
    let dir = root.join("tests/fixtures");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("openssh_2k.ndjson"), out)?;
    std::fs::copy(
        data.join("loghub_openssh_2k/LICENSE"),
        dir.join("LICENSE.loghub"),
    )?;
    eprintln!("xtask: wrote tests/fixtures/openssh_2k.ndjson");
    audit_mixed(data, &dir)
}

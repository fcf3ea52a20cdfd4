//! Stateful rule: brute force by source IP.
//!
//! Fires when one source IP fails to log in [`THRESHOLD`] times within
//! [`WINDOW_NS`] of event time, the idea of Panther's
//! `Standard.BruteForceByIP`. It understands three shapes of failed login:
//!
//! - Okta System Log: `eventType == "user.session.start"` and
//!   `outcome.result == "FAILURE"`, IP in `client.ipAddress`;
//! - CloudTrail: `eventName == "ConsoleLogin"` and
//!   `responseElements.ConsoleLogin == "Failure"`, IP in `sourceIPAddress`;
//! - Elastic Common Schema: `event.category` is (or contains)
//!   `"authentication"` and `event.outcome == "failure"`, IP in `source.ip`.
//!
//! State lives in the host's `rule-state` store, never in globals: key
//! `ip:<address>` holds the times (i64 little-endian ns) of the failures
//! still inside the window, with a TTL of one window so idle IPs free their
//! quota. After firing, the IP's history is cleared (one finding per burst).
//! If the store is full, the failure is not recorded (the rule degrades to
//! missing a burst rather than failing).

use logseal_rule_sdk::event::{Event, contains, has_unicode_escape};
use logseal_rule_sdk::serde_json::Value;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info, state};

/// Failures from one IP that make a brute force.
pub const THRESHOLD: usize = 5;
/// The window, in nanoseconds of event time (10 minutes).
pub const WINDOW_NS: i64 = 600 * 1_000_000_000;

struct Rule;

fn failed_login_ip(ev: &Event) -> Option<&str> {
    if ev.str_at("eventType") == Some("user.session.start")
        && ev.str_at("outcome.result") == Some("FAILURE")
    {
        return ev.str_at("client.ipAddress");
    }
    if ev.str_at("eventName") == Some("ConsoleLogin")
        && ev.str_at("responseElements.ConsoleLogin") == Some("Failure")
    {
        return ev.str_at("sourceIPAddress");
    }
    let auth = match ev.at("event.category") {
        Some(Value::String(c)) => c == "authentication",
        Some(Value::Array(cs)) => cs.iter().any(|c| c.as_str() == Some("authentication")),
        _ => false,
    };
    if auth && ev.str_at("event.outcome") == Some("failure") {
        return ev.str_at("source.ip");
    }
    None
}

fn decode(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            i64::from_le_bytes(b)
        })
        .collect()
}

fn encode(times: &[i64]) -> Vec<u8> {
    times.iter().flat_map(|t| t.to_le_bytes()).collect()
}

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "logseal.BruteForceByIP",
            "1.0.0",
            &[
                "eventType",
                "outcome.result",
                "client.ipAddress",
                "eventName",
                "responseElements.ConsoleLogin",
                "sourceIPAddress",
                "event.category",
                "event.outcome",
                "source.ip",
            ],
        )
    }

    fn evaluate(event: String, time_ns: i64) -> Vec<Finding> {
        if !(contains(&event, "FAILURE")
            || contains(&event, "Failure")
            || contains(&event, "failure")
            || has_unicode_escape(&event))
        {
            return vec![];
        }
        let Some(ev) = Event::parse(&event) else {
            return vec![];
        };
        let Some(ip) = failed_login_ip(&ev) else {
            return vec![];
        };
        let key = format!("ip:{ip}");
        let mut times = state::get(&key).map(|b| decode(&b)).unwrap_or_default();
        times.retain(|t| time_ns.saturating_sub(*t) < WINDOW_NS);
        times.push(time_ns);
        if times.len() >= THRESHOLD {
            state::delete(&key);
            let span_s = (time_ns - times.iter().min().copied().unwrap_or(time_ns)) / 1_000_000_000;
            let reason = format!(
                "{} failed logins from [{ip}] within {span_s} s (threshold {THRESHOLD} in {} s)",
                times.len(),
                WINDOW_NS / 1_000_000_000
            );
            return vec![finding(Severity::High, reason, Some(ip))];
        }
        // Keep at most THRESHOLD - 1 entries: older ones cannot matter.
        let _ = state::set(&key, &encode(&times), Some(WINDOW_NS as u64));
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

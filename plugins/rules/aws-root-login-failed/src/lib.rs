//! CloudTrail: a console login as the AWS root user failed.
//!
//! Port of Panther's `AWS.Console.RootLoginFailed` (rules/aws_cloudtrail_rules/aws_console_root_login_failed.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "AWS.Console.RootLoginFailed",
            "1.0.0",
            &[
                "eventName",
                "userIdentity.type",
                "responseElements.ConsoleLogin",
                "sourceIPAddress",
                "recipientAccountId",
            ],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "ConsoleLogin") else {
            return vec![];
        };
        if ev.str_at("eventName") == Some("ConsoleLogin")
            && ev.str_at("userIdentity.type") == Some("Root")
            && ev.str_at("responseElements.ConsoleLogin") == Some("Failure")
        {
            let ip = ev.str_at("sourceIPAddress");
            let reason = format!(
                "AWS root login failed from [{}] in account [{}]",
                ip.unwrap_or("<UNKNOWN>"),
                ev.str_at("recipientAccountId").unwrap_or("<UNKNOWN>")
            );
            return vec![finding(Severity::High, reason, ip)];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

//! CloudTrail: the AWS root user changed its password.
//!
//! Port of Panther's `AWS.CloudTrail.RootPasswordChanged` (rules/aws_cloudtrail_rules/aws_root_password_changed.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "AWS.CloudTrail.RootPasswordChanged",
            "1.0.0",
            &[
                "eventName",
                "userIdentity.type",
                "responseElements.PasswordUpdated",
                "recipientAccountId",
            ],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "PasswordUpdated") else {
            return vec![];
        };
        if ev.str_at("eventName") == Some("PasswordUpdated")
            && ev.str_at("userIdentity.type") == Some("Root")
            && ev.str_at("responseElements.PasswordUpdated") == Some("Success")
        {
            let account = ev.str_at("recipientAccountId");
            let reason = format!(
                "AWS root password changed in account [{}]",
                account.unwrap_or("<UNKNOWN>")
            );
            return vec![finding(Severity::High, reason, account)];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

//! CloudTrail: the AWS root user created an access key for itself.
//!
//! Port of Panther's `AWS.CloudTrail.RootAccessKeyCreated` (rules/aws_cloudtrail_rules/aws_root_access_key_created.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "AWS.CloudTrail.RootAccessKeyCreated",
            "1.0.0",
            &[
                "eventName",
                "userIdentity.type",
                "requestParameters",
                "recipientAccountId",
            ],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "CreateAccessKey") else {
            return vec![];
        };
        // Only root can create root access keys, and only with no target user.
        if ev.str_at("eventName") == Some("CreateAccessKey")
            && ev.str_at("userIdentity.type") == Some("Root")
            && ev.is_null("requestParameters")
        {
            let account = ev.str_at("recipientAccountId");
            let reason = format!(
                "AWS root access key created in account [{}]",
                account.unwrap_or("<UNKNOWN>")
            );
            return vec![finding(Severity::Critical, reason, account)];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

//! CloudTrail: a trail was stopped or deleted.
//!
//! Port of Panther's `AWS.CloudTrail.Stopped` (rules/aws_cloudtrail_rules/aws_cloudtrail_stopped.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

use logseal_rule_sdk::event::{cloudtrail_success, contains, has_unicode_escape};

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "AWS.CloudTrail.Stopped",
            "1.0.0",
            &[
                "eventName",
                "errorCode",
                "errorMessage",
                "requestParameters.name",
                "recipientAccountId",
            ],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        if !(contains(&event, "StopLogging")
            || contains(&event, "DeleteTrail")
            || has_unicode_escape(&event))
        {
            return vec![];
        }
        let Some(ev) = Event::parse(&event) else {
            return vec![];
        };
        let name = ev.str_at("eventName");
        if cloudtrail_success(&ev) && matches!(name, Some("DeleteTrail" | "StopLogging")) {
            let trail = ev
                .str_at("requestParameters.name")
                .unwrap_or("<UNKNOWN_NAME>");
            let reason = format!(
                "CloudTrail [{trail}] in account [{}] was stopped/deleted",
                ev.str_at("recipientAccountId").unwrap_or("<UNKNOWN>")
            );
            return vec![finding(Severity::Medium, reason, Some(trail))];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

//! Okta: an API token was created.
//!
//! Port of Panther's `Okta.APIKeyCreated` (rules/okta_rules/okta_api_key_created.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "Okta.APIKeyCreated",
            "1.0.0",
            &[
                "eventType",
                "outcome.result",
                "actor.displayName",
                "actor.alternateId",
                "target.0.displayName",
            ],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "system.api_token.create") else {
            return vec![];
        };
        if ev.str_at("eventType") == Some("system.api_token.create")
            && ev.str_at("outcome.result") == Some("SUCCESS")
        {
            let who = ev.str_at("actor.alternateId");
            let reason = format!(
                "{} <{}> created a new API key - <{}>",
                ev.str_at("actor.displayName").unwrap_or("<UNKNOWN>"),
                who.unwrap_or("<UNKNOWN>"),
                ev.str_at("target.0.displayName")
                    .unwrap_or("MISSING DISPLAY NAME")
            );
            return vec![finding(Severity::Info, reason, who)];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

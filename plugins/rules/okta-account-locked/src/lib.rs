//! Okta: a user account was locked out.
//!
//! Port of Panther's `Okta.User.Account.Locked` (rules/okta_rules/okta_user_account_locked.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "Okta.User.Account.Locked",
            "1.0.0",
            &[
                "eventtype",
                "eventType",
                "actor.alternateId",
                "displaymessage",
            ],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "user.account.lock") else {
            return vec![];
        };
        // Panther's rule (and its tests) read `eventtype`; Okta's System Log
        // API spells it `eventType`, so accept both.
        let kind = ev.str_at("eventtype").or_else(|| ev.str_at("eventType"));
        if matches!(kind, Some("user.account.lock" | "user.account.lock.limit")) {
            let who = ev.str_at("actor.alternateId");
            let reason = format!(
                "Okta: [{}] [{}]",
                who.unwrap_or("<id-not-found>"),
                ev.str_at("displaymessage")
                    .unwrap_or("account has been locked.")
            );
            return vec![finding(Severity::Low, reason, who)];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

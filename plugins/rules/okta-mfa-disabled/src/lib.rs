//! Okta: an admin disabled an MFA factor for the whole organisation.
//!
//! Port of Panther's `Okta.Global.MFA.Disabled` (rules/okta_rules/okta_admin_disabled_mfa.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "Okta.Global.MFA.Disabled",
            "1.0.0",
            &["eventType", "actor.alternateId", "client.ipAddress"],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "system.mfa.factor.deactivate") else {
            return vec![];
        };
        // Panther's Okta data model maps this event type to ADMIN_MFA_DISABLED.
        if ev.str_at("eventType") == Some("system.mfa.factor.deactivate") {
            let who = ev.str_at("actor.alternateId");
            let reason = format!(
                "Okta system-wide MFA disabled by admin user [{}] from [{}]",
                who.unwrap_or("<UNKNOWN>"),
                ev.str_at("client.ipAddress").unwrap_or("<UNKNOWN>")
            );
            return vec![finding(Severity::High, reason, who)];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

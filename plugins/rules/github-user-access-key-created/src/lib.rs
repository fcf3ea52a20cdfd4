//! GitHub audit: a user added an SSH key.
//!
//! Port of Panther's `GitHub.User.AccessKeyCreated` (rules/github_rules/github_user_access_key_created.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "GitHub.User.AccessKeyCreated",
            "1.0.0",
            &["action", "actor"],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "public_key.create") else {
            return vec![];
        };
        if ev.str_at("action") == Some("public_key.create") {
            let actor = ev.str_at("actor");
            let reason = format!(
                "User [{}] created a new ssh key",
                actor.unwrap_or("<UNKNOWN_ACTOR>")
            );
            return vec![finding(Severity::Info, reason, actor)];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

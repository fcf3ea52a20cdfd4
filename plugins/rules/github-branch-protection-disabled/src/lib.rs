//! GitHub audit: a branch protection rule was removed.
//!
//! Port of Panther's `GitHub.Branch.ProtectionDisabled` (rules/github_rules/github_branch_protection_disabled.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "GitHub.Branch.ProtectionDisabled",
            "1.0.0",
            &["action", "repo", "actor"],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "protected_branch.destroy") else {
            return vec![];
        };
        if ev.str_at("action") == Some("protected_branch.destroy") {
            let repo = ev.str_at("repo");
            let reason = format!(
                "A branch protection was removed from the repository [{}] by [{}]",
                repo.unwrap_or("<UNKNOWN_REPO>"),
                ev.str_at("actor").unwrap_or("<UNKNOWN_ACTOR>")
            );
            return vec![finding(Severity::High, reason, repo)];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

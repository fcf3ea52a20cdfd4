//! GitHub audit: a repository's visibility changed.
//!
//! Port of Panther's `Github.Repo.VisibilityChange` (rules/github_rules/github_repo_visibility_change.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info("Github.Repo.VisibilityChange", "1.0.0", &["action", "repo"])
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "repo.access") else {
            return vec![];
        };
        if ev.str_at("action") == Some("repo.access") {
            let repo = ev.str_at("repo");
            let reason = format!(
                "Repository [{}] visibility changed",
                repo.unwrap_or("<UNKNOWN_REPO>")
            );
            return vec![finding(Severity::High, reason, repo)];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

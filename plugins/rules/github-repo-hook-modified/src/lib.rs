//! GitHub audit: a repository web hook was created, changed or deleted.
//!
//! Port of Panther's `GitHub.Repo.HookModified` (rules/github_rules/github_repo_hook_modified.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "GitHub.Repo.HookModified",
            "1.0.0",
            &["action", "repo", "repository"],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "hook.") else {
            return vec![];
        };
        let Some(action) = ev.str_at("action").filter(|a| a.starts_with("hook.")) else {
            return vec![];
        };
        let (what, severity) = if action.ends_with("destroy") {
            ("deleted", Severity::Info)
        } else if action.ends_with("create") {
            ("created", Severity::Medium)
        } else {
            ("modified", Severity::Info)
        };
        let repo = ev.str_at("repo").or_else(|| ev.str_at("repository"));
        let reason = format!(
            "web hook {what} in repository [{}]",
            repo.unwrap_or("<UNKNOWN_REPO>")
        );
        vec![finding(severity, reason, repo)]
    }
}

logseal_rule_sdk::export!(Rule);

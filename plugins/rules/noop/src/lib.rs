//! The smallest possible rule: reads nothing, never fires. It exists to
//! measure the bare cost of calling a rule component (the `bare_call` group
//! of `host-harness/benches/rules.rs`) and as a template.

use logseal_rule_sdk::{Finding, Guest, RuleInfo, info};

struct Rule;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info("logseal.Noop", "1.0.0", &[])
    }

    fn evaluate(_event: String, _time_ns: i64) -> Vec<Finding> {
        Vec::new()
    }
}

logseal_rule_sdk::export!(Rule);

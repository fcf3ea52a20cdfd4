//! Kubernetes (EKS, AKS, GKE): someone executed a command in a pod.
//!
//! Port of Panther's `Kubernetes.Pod.Exec` (rules/kubernetes_rules/k8s_exec_into_pod.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

use logseal_rule_sdk::k8s;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "Kubernetes.Pod.Exec",
            "1.0.0",
            &[
                "verb",
                "objectRef.resource",
                "objectRef.subresource",
                "objectRef.namespace",
                "objectRef.name",
                "user.username",
                "properties.log",
                "protoPayload.methodName",
                "protoPayload.resourceName",
            ],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "exec") else {
            return vec![];
        };
        let Some(a) = k8s::normalize(&ev) else {
            return vec![];
        };
        if matches!(a.verb.as_deref(), Some("create" | "get"))
            && a.resource.as_deref() == Some("pods")
            && a.subresource.as_deref() == Some("exec")
        {
            let user = a.username.as_deref().unwrap_or("<UNKNOWN_USER>");
            let reason = format!(
                "[{user}] executed into pod [{}/{}]",
                a.namespace.as_deref().unwrap_or("<UNKNOWN_NAMESPACE>"),
                a.name.as_deref().unwrap_or("<UNKNOWN>")
            );
            return vec![finding(Severity::Medium, reason, Some(user))];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

//! Kubernetes (EKS, AKS, GKE): a pod was created in the host PID namespace.
//!
//! Port of Panther's `Kubernetes.Pod.Host.PID` (rules/kubernetes_rules/k8s_pod_host_pid.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

use logseal_rule_sdk::k8s;
use logseal_rule_sdk::serde_json::Value;

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info(
            "Kubernetes.Pod.Host.PID",
            "1.0.0",
            &[
                "verb",
                "objectRef.resource",
                "objectRef.namespace",
                "user.username",
                "responseStatus.code",
                "requestObject.spec.hostPID",
                "properties.log",
                "protoPayload.methodName",
                "protoPayload.request.spec.hostPID",
            ],
        )
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        let Some(ev) = Event::parse_if_contains(&event, "hostPID") else {
            return vec![];
        };
        let Some(a) = k8s::normalize(&ev) else {
            return vec![];
        };
        if a.verb.as_deref() != Some("create") || a.resource.as_deref() != Some("pods") {
            return vec![];
        }
        if k8s::is_failed_request(a.status_code) {
            return vec![];
        }
        if k8s::is_system_principal(a.username.as_deref())
            && k8s::is_system_namespace(a.namespace.as_deref())
        {
            return vec![];
        }
        let host_pid = a
            .request_object
            .as_ref()
            .and_then(|o| o.pointer("/spec/hostPID"));
        if host_pid == Some(&Value::Bool(true)) {
            let user = a.username.as_deref().unwrap_or("<UNKNOWN_USER>");
            let reason = format!(
                "[{user}] created pod [{}/{}] using host PID namespace",
                a.namespace.as_deref().unwrap_or("<UNKNOWN_NAMESPACE>"),
                a.name.as_deref().unwrap_or("<UNKNOWN_POD>")
            );
            return vec![finding(Severity::Medium, reason, Some(user))];
        }
        vec![]
    }
}

logseal_rule_sdk::export!(Rule);

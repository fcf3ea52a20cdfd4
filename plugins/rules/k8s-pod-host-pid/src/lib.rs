//! Kubernetes (EKS, AKS, GKE): a pod was created with `hostPID: true` (the host PID namespace).
//!
//! Port of Panther's `Kubernetes.Pod.Host.PID` (rules/kubernetes_rules/k8s_pod_host_pid.py in panther-labs/panther-analysis,
//! Apache-2.0) to a logseal rule component.

use logseal_rule_sdk::k8s::pod_with_host_flag;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info};

struct Rule;

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
        let Some(p) = pod_with_host_flag(&event, "hostPID") else {
            return vec![];
        };
        let reason = format!(
            "[{}] created pod [{}/{}] using the host PID namespace",
            p.user, p.namespace, p.name
        );
        vec![finding(Severity::Medium, reason, Some(&p.user))]
    }
}

logseal_rule_sdk::export!(Rule);

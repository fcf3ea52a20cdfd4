//! Kubernetes audit events from EKS, AKS and GKE, normalised to the fields
//! Panther's Kubernetes data models expose (`verb`, `resource`, ...).
//!
//! - EKS (`Amazon.EKS.Audit`): the Kubernetes audit event itself.
//! - AKS (`Azure.MonitorActivity`, category `kube-audit[-admin]`): the audit
//!   event is JSON text in `properties.log`.
//! - GKE (`GCP.AuditLog`, `protoPayload.serviceName == "k8s.io"`): verb,
//!   resource and subresource come from `protoPayload.methodName`
//!   (`io.k8s.core.v1.pods.exec.create`), namespace and name from
//!   `protoPayload.resourceName`, the request body from `protoPayload.request`.

use serde_json::Value;

use crate::event::{Event, value_at};

/// Namespaces where privileged operations are expected.
pub const SYSTEM_NAMESPACES: &[&str] = &[
    "kube-system",
    "gke-system",
    "kube-node-lease",
    "kube-public",
];

const SYSTEM_IDENTITY_PREFIXES: &[&str] = &[
    ".iam.gserviceaccount.com",
    "system:serviceaccount:kube-system:",
    "eks:",
    "masterclient",
    "gke-",
    "azure-",
];

/// The normalised view of one Kubernetes API request.
#[derive(Debug, Default)]
pub struct Audit {
    pub verb: Option<String>,
    pub resource: Option<String>,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub username: Option<String>,
    /// HTTP status (EKS/AKS) or gRPC status (GKE).
    pub status_code: Option<i64>,
    /// The request body (`requestObject`, or GKE's `protoPayload.request`).
    pub request_object: Option<Value>,
}

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

fn from_audit(v: &Value) -> Audit {
    Audit {
        verb: s(value_at(v, "verb")),
        resource: s(value_at(v, "objectRef.resource")),
        subresource: s(value_at(v, "objectRef.subresource")),
        namespace: s(value_at(v, "objectRef.namespace")),
        name: s(value_at(v, "objectRef.name")),
        username: s(value_at(v, "user.username")),
        status_code: value_at(v, "responseStatus.code").and_then(Value::as_i64),
        request_object: value_at(v, "requestObject").cloned(),
    }
}

fn from_gke(v: &Value) -> Audit {
    let method = value_at(v, "protoPayload.methodName")
        .and_then(Value::as_str)
        .unwrap_or("");
    // io.k8s.<group>.<version>.<resource>[.<subresource>].<verb>
    let parts: Vec<&str> = method
        .strip_prefix("io.k8s.")
        .unwrap_or("")
        .split('.')
        .collect();
    let (resource, subresource, verb) = match parts.as_slice() {
        [_, _, r, sub, verb] => (Some(*r), Some(*sub), Some(*verb)),
        [_, _, r, verb] => (Some(*r), None, Some(*verb)),
        _ => (None, None, None),
    };
    // core/v1/namespaces/<ns>/pods/<name>[/<sub>]
    let rn = value_at(v, "protoPayload.resourceName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let segs: Vec<&str> = rn.split('/').collect();
    let ns_idx = segs.iter().position(|p| *p == "namespaces");
    let namespace = ns_idx
        .and_then(|i| segs.get(i + 1))
        .map(|x| (*x).to_owned());
    let name = ns_idx
        .and_then(|i| segs.get(i + 3))
        .map(|x| (*x).to_owned());
    Audit {
        verb: verb.map(str::to_owned),
        resource: resource.map(str::to_owned),
        subresource: subresource.map(str::to_owned),
        namespace,
        name,
        username: s(value_at(
            v,
            "protoPayload.authenticationInfo.principalEmail",
        )),
        status_code: value_at(v, "protoPayload.status.code").and_then(Value::as_i64),
        request_object: value_at(v, "protoPayload.request").cloned(),
    }
}

/// Normalise an EKS, AKS or GKE Kubernetes audit event; `None` when the
/// event is not a Kubernetes audit event.
pub fn normalize(ev: &Event) -> Option<Audit> {
    let root = ev.root();
    if value_at(root, "protoPayload.serviceName").and_then(Value::as_str) == Some("k8s.io") {
        return Some(from_gke(root));
    }
    if let Some(cat) = ev.str_at("category") {
        if cat != "kube-audit" && cat != "kube-audit-admin" {
            return None;
        }
        let inner: Value = serde_json::from_str(ev.str_at("properties.log")?).ok()?;
        return Some(from_audit(&inner));
    }
    if root.get("verb").is_some() && root.get("objectRef").is_some() {
        return Some(from_audit(root));
    }
    None
}

/// Panther's `is_system_namespace`.
pub fn is_system_namespace(ns: Option<&str>) -> bool {
    ns.is_some_and(|ns| SYSTEM_NAMESPACES.contains(&ns))
}

/// Panther's `is_system_principal`.
pub fn is_system_principal(user: Option<&str>) -> bool {
    let Some(u) = user.filter(|u| !u.is_empty()) else {
        return false;
    };
    SYSTEM_IDENTITY_PREFIXES.iter().any(|p| u.starts_with(p))
        || u == "aksService"
        || (u.starts_with("system:") && !u.contains("serviceaccount"))
}

/// Panther's `is_failed_request`: HTTP >= 400 or gRPC 1..=16.
pub fn is_failed_request(code: Option<i64>) -> bool {
    code.is_some_and(|c| c >= 400 || (1..=16).contains(&c))
}

/// The pod creation a "pod uses a host namespace" rule is about.
pub struct HostPod {
    pub user: String,
    pub namespace: String,
    pub name: String,
}

/// Shared logic of Panther's `Kubernetes.Pod.Host.{PID,IPC,Network}`: a
/// successful pod creation whose spec sets `flag` (`hostPID`, `hostIPC`,
/// `hostNetwork`) to `true`, except system principals in system namespaces.
pub fn pod_with_host_flag(raw: &str, flag: &str) -> Option<HostPod> {
    let ev = Event::parse_if_contains(raw, flag)?;
    let a = normalize(&ev)?;
    if a.verb.as_deref() != Some("create") || a.resource.as_deref() != Some("pods") {
        return None;
    }
    if is_failed_request(a.status_code) {
        return None;
    }
    if is_system_principal(a.username.as_deref()) && is_system_namespace(a.namespace.as_deref()) {
        return None;
    }
    let spec = a.request_object.as_ref()?.get("spec")?;
    if spec.get(flag) != Some(&Value::Bool(true)) {
        return None;
    }
    Some(HostPod {
        user: a.username.unwrap_or_else(|| "<UNKNOWN_USER>".into()),
        namespace: a.namespace.unwrap_or_else(|| "<UNKNOWN_NAMESPACE>".into()),
        name: a.name.unwrap_or_else(|| "<UNKNOWN_POD>".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gke_method_and_resource_names_are_split() {
        let ev = Event::parse(
            r#"{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.exec.create",
                "resourceName":"core/v1/namespaces/prod/pods/web-1/exec",
                "authenticationInfo":{"principalEmail":"a@b.c"},"status":{"code":7}}}"#,
        )
        .unwrap();
        let a = normalize(&ev).unwrap();
        assert_eq!(a.verb.as_deref(), Some("create"));
        assert_eq!(a.resource.as_deref(), Some("pods"));
        assert_eq!(a.subresource.as_deref(), Some("exec"));
        assert_eq!(a.namespace.as_deref(), Some("prod"));
        assert_eq!(a.name.as_deref(), Some("web-1"));
        assert_eq!(a.username.as_deref(), Some("a@b.c"));
        assert!(is_failed_request(a.status_code));
    }

    #[test]
    fn aks_audit_is_unwrapped_and_other_categories_ignored() {
        let ev = Event::parse(
            r#"{"category":"kube-audit","properties":{"log":"{\"verb\":\"get\",\"objectRef\":{\"resource\":\"secrets\"},\"responseStatus\":{\"code\":200}}"}}"#,
        )
        .unwrap();
        let a = normalize(&ev).unwrap();
        assert_eq!(
            (a.verb.as_deref(), a.resource.as_deref()),
            (Some("get"), Some("secrets"))
        );
        assert!(!is_failed_request(a.status_code));
        let other = Event::parse(r#"{"category":"Administrative","properties":{}}"#).unwrap();
        assert!(normalize(&other).is_none());
    }

    #[test]
    fn system_principals() {
        assert!(is_system_principal(Some("system:kube-scheduler")));
        assert!(is_system_principal(Some(
            "system:serviceaccount:kube-system:x"
        )));
        assert!(is_system_principal(Some("eks:addon")));
        assert!(!is_system_principal(Some(
            "system:serviceaccount:default:x"
        )));
        assert!(!is_system_principal(Some("alice@example.com")));
        assert!(!is_system_principal(None));
        assert!(is_system_namespace(Some("kube-system")));
        assert!(!is_system_namespace(Some("default")));
    }
}

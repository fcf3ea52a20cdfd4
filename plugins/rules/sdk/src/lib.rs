//! Helpers for writing logseal detection rules.
//!
//! A rule is a WebAssembly component implementing the `rule` world of
//! `wit/rule.wit` (package `logseal:plugin@0.1.0`). This crate holds the
//! bindings (generated once by `wit_bindgen::generate!`), re-exports the types
//! a rule needs, and adds small JSON helpers. A rule crate is a `cdylib`:
//!
//! ```ignore
//! use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, event::Event};
//!
//! struct MyRule;
//!
//! impl Guest for MyRule {
//!     fn describe() -> RuleInfo {
//!         logseal_rule_sdk::info("My.Rule", "1.0.0", &["action"])
//!     }
//!     fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
//!         let Some(ev) = Event::parse_if_contains(&event, "repo.destroy") else { return vec![] };
//!         if ev.str_at("action") == Some("repo.destroy") {
//!             return vec![logseal_rule_sdk::finding(Severity::High, "repository deleted", ev.str_at("repo"))];
//!         }
//!         vec![]
//!     }
//! }
//!
//! logseal_rule_sdk::export!(MyRule);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is already a component.

/// Bindings generated from `wit/rule.wit`. Rules normally use the re-exports
/// at the crate root instead.
#[allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/rule.wit",
        world: "rule",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "logseal_rule_sdk::bindings",
    });
}

/// `export!(MyRule);` makes `MyRule` (which implements [`Guest`]) the rule
/// of this component.
pub use bindings::export;
pub use bindings::exports::logseal::plugin::detector::Guest;
pub use bindings::logseal::plugin::rule_types::{Finding, RuleInfo, Severity};
pub use serde_json;

/// The host's key-value store for this rule (see `rule-state` in the WIT).
pub mod state {
    pub use crate::bindings::logseal::plugin::rule_state::{
        RuleStateError, delete, get, set, usage,
    };
}

pub mod event;
pub mod k8s;

/// Build the answer of `describe`.
pub fn info(name: &str, version: &str, fields: &[&str]) -> RuleInfo {
    RuleInfo {
        name: name.to_owned(),
        version: version.to_owned(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
    }
}

/// Build a finding.
pub fn finding(severity: Severity, reason: impl Into<String>, entity: Option<&str>) -> Finding {
    Finding {
        severity,
        reason: reason.into(),
        entity: entity.map(str::to_owned),
    }
}

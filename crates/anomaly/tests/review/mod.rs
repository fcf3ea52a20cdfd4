//! Helpers the review test files share (`mod review;` in each).
#![allow(dead_code)]

use logseal_anomaly::{Engine, Policy, Verdict};
use serde_json::Value;

/// 2024-01-01T00:00:00Z (a Monday).
pub const T0: i64 = 1_704_067_200;
pub const DAY: i64 = 86_400;
pub const HOUR: i64 = 3_600;

/// An engine for a policy given as JSON.
pub fn engine(v: &Value) -> Engine {
    Engine::new(Policy::parse(&v.to_string()).expect("policy"))
}

/// The texts of detector `det`'s reasons.
pub fn texts_of(v: &Verdict, det: &str) -> Vec<String> {
    v.reasons
        .iter()
        .filter(|r| r.detector == det)
        .map(|r| r.text.clone())
        .collect()
}

/// The texts of the `seq` detector's reasons.
pub fn seq_texts(v: &Verdict) -> Vec<String> {
    texts_of(v, "seq")
}

/// A record's `timestamp`.
pub fn ts(v: &Value) -> i64 {
    v["timestamp"].as_i64().unwrap()
}

/// A small deterministic generator (PCG-style LCG step).
pub fn next(s: &mut u64) -> u64 {
    *s = s
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *s >> 33
}

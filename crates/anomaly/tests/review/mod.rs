//! Helpers the review test files share (`mod review;` in each).
#![allow(dead_code)]

use logseal_anomaly::{Engine, Policy, Severity, Verdict};
use serde_json::{Value, json};

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

/// A stationary stream for a `sequence` detector named `seq` reading
/// `kind` in session `s` (5 states, each followed by one of the next 3,
/// 4% rare events), 150,000 events `step` seconds apart scored by an engine
/// with `policy` after 20,000: the share reported above severity `none`,
/// and the first reports' texts.
pub fn stationary_share(policy: &Value, step: i64) -> (f64, Vec<String>) {
    let p = policy;
    let mut e = engine(p);
    let mut s = 7u64;
    let mut cur = 0usize;
    let (mut reported, mut scored) = (0usize, 0usize);
    let mut texts = Vec::new();
    for i in 0..150_000i64 {
        let u = (next(&mut s) % 1_000_000) as f64 / 1e6;
        let k = if u < 0.04 {
            format!("r{cur}_{}", (u / 0.005) as usize)
        } else {
            cur = (cur + 1 + (next(&mut s) % 3) as usize) % 5;
            format!("s{cur}")
        };
        let v = e.score(
            &json!({"timestamp": T0 + i * step, "session": "s", "kind": k}),
            None,
        );
        if i >= 20_000 {
            scored += 1;
            if v.severity != Severity::None {
                reported += 1;
                if texts.len() < 4 {
                    texts.push(
                        v.reasons
                            .iter()
                            .map(|r| format!("{} (p {})", r.text, r.p))
                            .collect::<Vec<_>>()
                            .join(" + "),
                    );
                }
            }
        }
    }
    (reported as f64 / scored as f64, texts)
}

/// One global `rate` count series named `event_rate` of `bucket` seconds,
/// no seasonality, drops and error rate (`outcome` `failure`) on; learning
/// for the first `learn` seconds; no dedup.
pub fn rate_policy(bucket: i64, learn: i64) -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": learn, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "event_rate", "bucket_secs": bucket,
                       "seasonality": "none", "drops": true,
                       "error_where": [{"field": "outcome", "eq": "failure"}]}]
    })
}

/// The `p` a verdict's score stands for (`score = -log10(p) / 6`).
pub fn p_of(v: &Verdict) -> f64 {
    10f64.powf(-6.0 * v.score)
}

/// An ECS login of alice from `ip` in `country`.
pub fn ecs_login(t: i64, ip: &str, country: &str) -> Value {
    json!({"@timestamp": logseal_anomaly::testkit::iso(t), "user": {"name": "alice"},
           "event": {"action": "logged-in", "outcome": "success"},
           "source": {"ip": ip, "geo": {"country_iso_code": country}}})
}

/// A `sequence` detector `seq` on session `session` with `extra` members,
/// learning 20,000 events, no dedup, counts halving every `half_life`
/// seconds.
pub fn seq_stationary(extra: Value, half_life: i64) -> Value {
    let mut d = json!({"type": "sequence", "name": "seq", "session": "session"});
    for (k, x) in extra.as_object().unwrap() {
        d[k] = x.clone();
    }
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 20_000, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "half_life_secs": half_life,
        "detectors": [d]
    })
}

/// A policy with `dets`, learning 10 events (3 per entity), counts that
/// never halve, no dedup, up to 8 reasons.
pub fn never_halving(dets: Value) -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 10, "min_entity_events": 3},
        "half_life_secs": 1_000_000_000,
        "alerting": {"dedup_secs": 0, "max_reasons": 8},
        "detectors": dets
    })
}

/// `n` events of alice (as `user.name`, ECS style) from 10.0.0.1 under
/// engine `e`, then one from 192.0.2.7.
pub fn nested_after_on(e: &mut Engine, n: i64) -> Verdict {
    for i in 0..n {
        e.score(
            &json!({"timestamp": T0 + i * 600, "user": {"name": "alice"},
                    "source_ip": "10.0.0.1"}),
            None,
        );
    }
    e.score(
        &json!({"timestamp": T0 + n * 600, "user": {"name": "alice"},
                "source_ip": "192.0.2.7"}),
        None,
    )
}

/// Asserts that `v` is not reported, saying its `p` if it is.
#[track_caller]
pub fn assert_not_reported(v: &Verdict) {
    assert_eq!(
        v.severity,
        Severity::None,
        "p {:.4}: {}",
        p_of(v),
        v.to_json()
    );
}

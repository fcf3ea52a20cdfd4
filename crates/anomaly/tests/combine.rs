//! How an event's findings combine into one `p`: the findings of one
//! question (a detector; all the `new_value`, and all the `unusual_hour`,
//! detectors of one entity) by
//! Simes' method, then one value per question by Fisher's
//! (`tests/review11.rs`, `tests/review12.rs` have how the questions were
//! drawn).
//!
//! Before December 2026 every finding entered Fisher's method as
//! independent evidence, and one detector's findings about one event are
//! not: a new address is also a new /24 (and often a new country), a
//! never-seen template is also an unlikely next event. On a stream that
//! never changes, a `sequence` detector so reported 1.6% of events where
//! each of its findings alone reports under 1%, and 2.8-3.5% with counts
//! that halve daily (both stated limits in the README then, found by
//! reviews 9 and 10); a new address with its /24 scored as two findings.

mod review;

use logseal_anomaly::Verdict;
use review::*;
use serde_json::json;

/// Measured: 1.584% before (Fisher over both findings), 1.195% since;
/// the next-event finding alone (`rare_templates: false`) 0.750%.
#[test]
fn a_stationary_stream_is_calibrated_with_both_sequence_findings() {
    let (share, texts) = stationary_share(
        &seq_stationary(json!({"template": "kind"}), 1_000_000_000),
        192,
    );
    assert!(share <= 0.0125, "{:.3}%: {texts:#?}", 100.0 * share);
    let (share, texts) = stationary_share(
        &seq_stationary(json!({"template": "kind", "history": 3}), 1_000_000_000),
        192,
    );
    assert!(share <= 0.0125, "{:.3}%: {texts:#?}", 100.0 * share);
}

/// Review 9's case: counts that halve daily make a rare event, seen about
/// once a half-life, a new template again at each halving, and it is an
/// unlikely next event too. Measured: 3.545% before, 0.003% since.
#[test]
fn a_stationary_stream_is_calibrated_after_halvings() {
    let (share, texts) =
        stationary_share(&seq_stationary(json!({"template": "kind"}), 86_400), 192);
    assert!(share <= 0.01, "{:.3}%: {texts:#?}", 100.0 * share);
}

/// A `new_value` detector on address and /24 (and a country) for alice
/// and one on country, and a rule that fires on `kind` `x`; `n` events
/// from one address in one country over `n * 600` seconds, counts that
/// never halve; then one event from `ip` in `country` of `kind`.
fn first_seen_and_rule(n: i64, ip: &str, country: &str, kind: &str) -> Verdict {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 10, "min_entity_events": 3},
        "half_life_secs": 1_000_000_000,
        "alerting": {"dedup_secs": 0, "max_reasons": 5},
        "detectors": [
            {"type": "new_value", "name": "first_seen", "entity": "user",
             "features": ["source_ip", "source_net", "country"]},
            {"type": "new_value", "name": "country_seen", "entity": "user",
             "features": ["country"]},
            {"type": "threshold", "name": "rule", "group_by": "user",
             "window_secs": 60, "threshold": 0, "where": [{"field": "kind", "eq": "x"}]}
        ]
    }));
    for i in 0..n {
        e.score(
            &json!({"timestamp": T0 + i * 600, "user": "alice",
                    "source_ip": "10.0.0.1", "country": "DE", "kind": "y"}),
            None,
        );
    }
    e.score(
        &json!({"timestamp": T0 + n * 600, "user": "alice",
                "source_ip": ip, "country": country, "kind": kind}),
        None,
    )
}

fn first_seen(n: i64, ip: &str, country: &str) -> Verdict {
    first_seen_and_rule(n, ip, country, "y")
}

/// With 99 events from one address, a new address and its /24 are each a
/// 1-in-50 event (`(1 + 1) / (99 + 2)`): one finding, not reported. Before,
/// the two entered Fisher's method as independent (p 0.0043) and were.
#[test]
fn a_new_address_and_its_network_are_one_finding() {
    let v = first_seen(99, "192.0.2.7", "DE");
    assert!(v.reasons.is_empty(), "{}", v.to_json());
}

/// With 399 events (p 2 / 401 = 0.005 for each): reported, and the score
/// is that one value's, not the two's as independent (0.0003).
#[test]
fn a_reported_new_address_scores_as_one_finding() {
    let v = first_seen(399, "192.0.2.7", "DE");
    let feats: Vec<&str> = v.reasons.iter().map(|r| r.feature.as_str()).collect();
    assert_eq!(feats, ["source_ip", "source_net"], "{}", v.to_json());
    let p = 2.0 / 401.0;
    assert!((p_of(&v) / p - 1.0).abs() < 1e-3, "{} vs {p}", p_of(&v));
}

/// Two `new_value` detectors of one entity are one question (their
/// findings come from one profile: review 12): the new country is a
/// finding of both, the address and /24 of one, all four 2 / 401, and
/// Simes' value of four equal values is that value.
#[test]
fn two_new_value_detectors_of_one_entity_are_one_question() {
    let v = first_seen(399, "192.0.2.7", "BR");
    let mut dets: Vec<&str> = v.reasons.iter().map(|r| r.detector.as_str()).collect();
    dets.sort_unstable();
    dets.dedup();
    assert_eq!(dets, ["country_seen", "first_seen"], "{}", v.to_json());
    let p = 2.0 / 401.0;
    assert!((p_of(&v) / p - 1.0).abs() < 1e-3, "{} vs {p}", p_of(&v));
}

/// Two questions are two pieces of evidence: the new address (one value,
/// 2 / 401) and the rule (its reason's `p`) combine by Fisher's method
/// (`q (1 - ln q)` for two values of product `q`).
#[test]
fn findings_of_two_detectors_combine_as_independent() {
    let v = first_seen_and_rule(399, "192.0.2.7", "DE", "x");
    let rule = v.reasons.iter().find(|r| r.detector == "rule");
    let Some(rule) = rule else {
        panic!("no rule finding: {}", v.to_json());
    };
    let q = 2.0 / 401.0 * rule.p;
    let want = q * (1.0 - q.ln());
    assert!(
        (p_of(&v) / want - 1.0).abs() < 1e-3,
        "{} vs {want}",
        p_of(&v)
    );
    assert!(p_of(&v) < rule.p / 10.0, "{}", v.to_json());
}

/// A session stream of 400 events, `a` but for ten `b`s each followed by
/// `a` (the last `b` ends the stream), then `last` after that `b`: a
/// template never seen is a 1-in-134 event (`(2 + 1) / (400 + 2)`) and a
/// next event not seen after `b` a 1-in-10 (`[b]` seen 9 times).
fn after_ten_bs(last: &str) -> Verdict {
    let mut e = engine(&seq_policy(json!({"template": "kind"}), 400, 0));
    let mut bs = 0;
    for i in 0..400i64 {
        let k = if i == 399 || (i % 40 == 20 && bs < 9) {
            bs += 1;
            "b"
        } else {
            "a"
        };
        e.score(
            &json!({"timestamp": T0 + i, "session": "s", "kind": k}),
            None,
        );
    }
    e.score(
        &json!({"timestamp": T0 + 400, "session": "s", "kind": last}),
        None,
    )
}

/// A never-seen template is a next event unseen after its context: the
/// event of the template finding lies within the next-event finding's, so
/// the two are one test, valued at the smaller p (3 / 402), and reported.
/// Before, Simes' value of the two, `min(2 × 0.0075, 0.1)` = 0.0149, hid it
/// (a stated limit from December 2026 to this change).
#[test]
fn a_never_seen_template_is_not_hidden_by_its_next_event_finding() {
    let v = after_ten_bs("z");
    let feats: Vec<&str> = v.reasons.iter().map(|r| r.feature.as_str()).collect();
    assert_eq!(feats, ["template", "next_event"], "{}", v.to_json());
    assert!((v.reasons[1].p - 0.1).abs() < 1e-9, "{}", v.to_json());
    let p = 3.0 / 402.0;
    assert!((p_of(&v) / p - 1.0).abs() < 1e-3, "{} vs {p}", p_of(&v));
}

/// Control: a known template (`a`) not seen after `b` is a next-event
/// finding alone, 1 in 10, not reported.
#[test]
fn a_known_template_after_a_thin_context_is_not_reported() {
    let v = after_ten_bs("a");
    assert!(v.reasons.is_empty(), "{}", v.to_json());
    let v = after_ten_bs("b");
    assert_not_reported(&v);
}

/// Taking the smaller of the nested pair keeps the null calibration: with
/// never-seen templates in 0.5%, 1% or 2% of a stationary stream, at most
/// about 1% of its events are reported (each new template's own chance is
/// its p). Measured: see the README's "Score and severity".
#[test]
fn new_templates_at_a_steady_share_are_calibrated() {
    for new in [0.005, 0.01, 0.02] {
        let (share, _, texts) = new_templates_halving(new, 192, 150_000, 1_000_000_000);
        eprintln!("new {new}: {:.3}% {texts:?}", 100.0 * share);
        assert!(
            share <= 0.0125,
            "new {new}: {:.3}%: {texts:#?}",
            100.0 * share
        );
    }
}

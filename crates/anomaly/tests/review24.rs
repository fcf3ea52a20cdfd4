//! Review 24: the policy file, and what `Policy` validation lets through
//! (README "Policy", "Presets", "Memory", "Detectors"). Each failing test
//! is one defect: a policy that validation accepts and the engine then
//! mishandles, or a policy that is wrong but accepted without a word. The
//! passing tests pin what was checked and held. The sweep of extreme but
//! valid parameters runs each case in a child process (this binary again,
//! `REVIEW_CASE` set), so a panic, an abort or a hang is that case's
//! failure and not the run's.

mod review;

use logseal_anomaly::{Engine, Policy, PolicyError, Severity, Verdict};
use review::{T0, drive, next};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn parse(p: &Value) -> Result<Policy, PolicyError> {
    Policy::parse(&p.to_string())
}

fn engine(p: &Value) -> Engine {
    Engine::new(parse(p).expect("policy"))
}

fn one(d: Value) -> Value {
    json!({"version": 1, "detectors": [d]})
}

/// A single-event rule `t` on `x == 1`, grouped by `group_by`.
fn single_event_rule(group_by: &str) -> Value {
    json!({"type": "threshold", "name": "t", "where": [{"field": "x", "eq": 1}],
           "group_by": group_by, "window_secs": 600, "threshold": 0})
}

/// `Ok` when `p` is refused with an error naming `key` (or a key below
/// it); otherwise what happened.
fn refused_at(p: &Value, key: &str) -> Result<(), String> {
    match parse(p) {
        Ok(_) => Err(format!("accepted: {p}")),
        Err(e) if e.key.starts_with(key) => Ok(()),
        Err(e) => Err(format!("refused without naming `{key}`: {e}")),
    }
}

// ------------------------------------------------- policies the engine mishandles

/// Found: a policy whose `distinct` rule comes last (or is followed by
/// little state) writes snapshots that its own engine refuses:
/// `restore()` says `Corrupt("truncated")`. `Dist::SIZE` is 272 but
/// `Dist::put` writes 268 bytes (4 + 4·32 + 4 + 2·32 + 4 + 2·32), and
/// `get_table` checks `n · (12 + 272)` against the bytes left, so a
/// table of `n` keys needs `4n` bytes of later state to restore. One
/// key of `{"type": "distinct", ...}` alone is refused, and so is the
/// `envoy` preset's state once 100 client addresses have had a 404
/// (only one global `rate` series follows `path_scanning`). The plugins
/// then report the state as unrestorable on every restart and learn
/// afresh, so an operator of the `envoy` preset never keeps a baseline
/// across a restart (review 23's round trips passed because its
/// `distinct` is followed by ten detectors' state).
/// Fix: `const SIZE: usize = 268` for format 8 on (and keep the
/// `size_in` cases for 1-7); test a round trip with each detector type
/// last.
///
/// Now: `Dist::SIZE` is what `put` writes (268); `engine/tests.rs` checks every state cell's `SIZE` against `put`.
#[test]
fn distinct_rule_last_in_the_policy_cannot_be_restored() {
    let mut fails = Vec::new();
    let p = Policy::parse(
        &one(
            json!({"type": "distinct", "name": "spray", "group_by": "user",
                    "distinct": "ip", "window_secs": 600, "threshold": 5}),
        )
        .to_string(),
    )
    .unwrap();
    let mut a = Engine::new(p.clone());
    a.score(
        &json!({"timestamp": T0, "user": "alice", "ip": "10.0.0.1"}),
        None,
    );
    let s = a.snapshot();
    if let Err(e) = Engine::new(p).restore(&s) {
        fails.push(format!("one distinct rule, one key: {e:?}"));
    }

    let envoy = Policy::preset("envoy").unwrap();
    let mut a = Engine::new(envoy.clone());
    for i in 0..100i64 {
        let rec = json!({"start_time": logseal_anomaly::testkit::iso(T0 + i),
                         "method": "GET", "path": format!("/x{i}"), "response_code": 404,
                         "downstream_remote_address": format!("198.51.100.{i}:4{i:04}"),
                         "authority": "api.example.com", "user_agent": "curl/8.0"});
        a.score(&rec, None);
    }
    let s = a.snapshot();
    if let Err(e) = Engine::new(envoy).restore(&s) {
        fails.push(format!(
            "envoy preset after 404s from 100 addresses ({} bytes): {e:?}",
            s.len()
        ));
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// Found: a `threshold` above 99,999 (validation allows up to 1,048,559)
/// or a `min_first` above 100,000 gives every finding p = 1e-300 (score
/// 1, severity critical), whatever `expected` says. `poisson_sf_ge`
/// returns 1e-300 for any count above 100,000 without looking at the
/// mean. With `threshold: 99999` a count of 100,000 is p 0.001 (medium),
/// as the default `expected` promises ("the mean for which exceeding the
/// threshold has probability 0.001"). With `threshold: 100000` a count of
/// 100,001 is critical. With `"expected": 1e7` (ten million a window is
/// normal) a count of 100,001, far below normal, is still critical. Such
/// thresholds are real for a `weight`ed rule on syslog's `message
/// repeated N times` or for a whole-proxy request rule, and an operator
/// gets pages at the wrong severity, against their own `expected`.
/// Fix: compute the tail for large counts (normal or Wilson-Hilferty
/// approximation of the Poisson tail, or the same loop in log space)
/// instead of the 1e-300 shortcut, or refuse thresholds the function
/// cannot serve.
///
/// Now: counts above `num::POISSON_EXACT_MAX` take the Wilson-Hilferty approximation (`tests/props.rs` checks it against statrs).
#[test]
fn rule_counts_above_100000_are_p_1e300_whatever_expected() {
    let fire = |th: u32, expected: Option<f64>| -> Option<(f64, Severity)> {
        let mut d = json!({"type": "threshold", "name": "big", "group_by": "user",
                           "window_secs": 800, "threshold": th, "weight": "w"});
        if let Some(x) = expected {
            d["expected"] = json!(x);
        }
        let mut e = engine(&one(d));
        let (mut n, mut k, mut out) = (0u64, 0i64, None);
        // one record per 100 s sub-bucket, each standing for up to 65,535
        while n <= th as u64 {
            let w = (th as u64 + 1 - n).min(65_535);
            n += w;
            let v = e.score(
                &json!({"timestamp": T0 + k * 100, "user": "a", "w": w}),
                None,
            );
            k += 1;
            if let Some(r) = v.reasons.first() {
                out = Some((r.p, v.severity));
            }
        }
        out
    };
    let mut fails = Vec::new();
    // control: below the shortcut, p is the 0.001 the default promises
    let below = fire(99_999, None);
    assert_eq!(below.map(|x| x.0), Some(0.001), "control: {below:?}");
    match fire(100_000, None) {
        Some((p, sev)) if p < 1e-4 => fails.push(format!(
            "threshold 100000, default expected: a count of 100001 has p {p} ({sev:?}); \
             threshold 99999 gives a count of 100000 p 0.001 (Medium)"
        )),
        _ => {}
    }
    if let Some((p, sev)) = fire(100_000, Some(1e7)) {
        fails.push(format!(
            "threshold 100000, expected 1e7: a count of 100001 is reported with p {p} ({sev:?}); \
             P(X >= 100001 | mean 1e7) is about 1"
        ));
    }
    // followed_by: 100,001 failures, then a success
    let mut e = engine(&one(json!({"type": "followed_by", "name": "bf",
        "first": [{"field": "o", "eq": "f"}], "then": [{"field": "o", "eq": "s"}],
        "group_by": "user", "min_first": 100_001, "window_secs": 800, "weight": "w",
        "expected": 1e7})));
    let (mut n, mut k) = (0u64, 0i64);
    while n < 100_001 {
        let w = (100_001 - n).min(65_535);
        n += w;
        e.score(
            &json!({"timestamp": T0 + k * 100, "user": "a", "o": "f", "w": w}),
            None,
        );
        k += 1;
    }
    let v = e.score(
        &json!({"timestamp": T0 + k * 100, "user": "a", "o": "s"}),
        None,
    );
    if let Some(r) = v.reasons.first() {
        fails.push(format!(
            "followed_by min_first 100001, expected 1e7: reported with p {} ({:?})",
            r.p, v.severity
        ));
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// Found: validation accepts a `report_p` whose score is below the lowest
/// severity threshold, and the engine then flags events (reasons, a
/// reason text, a score above 0) at severity `none`. With the default
/// thresholds, `report_p` 0.05 (a plausible "more sensitive" edit)
/// reports every finding with p in (0.0105, 0.05) as
/// `{"score":0.25,"severity":"none","reason":"...","reasons":[...]}`. The
/// README calls severity `none` the quiet event (`{"score":0,
/// "severity":"none","reason":"","reasons":[]}`) and its routing
/// examples drop it. The dedup window of the finding still starts, so
/// the same finding is muted for `dedup_secs` though no one was alerted.
/// Minimal: a single-event rule with `"expected": 0.03` (p = 1 - e^-0.03
/// = 0.0296) under `"report_p": 0.05`.
/// Fix: refuse `report_p` above `10^(-6 · severity_thresholds[0])`,
/// naming both keys, or give every reported verdict at least `low`.
///
/// Now: a flagged event is at least `low`.
#[test]
fn report_p_above_the_low_threshold_flags_events_at_severity_none() {
    let mut d = single_event_rule("user");
    d["expected"] = json!(0.03);
    let p = json!({"version": 1, "alerting": {"report_p": 0.05}, "detectors": [d]});
    let Ok(p) = parse(&p) else {
        return; // refused: fixed
    };
    let v = Engine::new(p).score(&json!({"timestamp": T0, "user": "bob", "x": 1}), None);
    assert!(
        v.reasons.is_empty() || v.severity != Severity::None,
        "a flagged event at severity none: {}",
        v.to_json()
    );
}

// ----------------------------------------- wrong policies accepted without a word

/// Found: a key written twice in one JSON object is accepted, and the
/// last one silently wins. `Policy::parse` reads the text into a
/// `serde_json::Value` first (whose map keeps the last duplicate), so
/// `deny_unknown_fields` and serde's own "duplicate field" error never
/// see it. A second `"detectors"` (an operator appending rules to a
/// preset) drops every rule of the first list. A rule with `"threshold":
/// 5, ..., "threshold": 0` becomes a single-event rule. A condition
/// `{"eq": "failure", "eq": "success"}` flips meaning. The README's
/// promise is errors that name the key; here there is no error at all.
/// Fix: parse with a `Deserialize` that refuses duplicate keys (for
/// example a `Value` visitor that checks `map.contains_key` before insert),
/// and report `policy: `detectors[0].threshold`: duplicate key`.
///
/// Now: `Policy::parse` refuses a repeated key, naming its path (`no_duplicate_keys`).
#[test]
fn duplicate_keys_are_accepted_and_the_last_wins() {
    let rule = r#"{"type":"threshold","name":"fails","group_by":"user","window_secs":600,"threshold":5,"where":[{"field":"outcome","eq":"failure"}]}"#;
    let cases = [
        (
            "top-level key twice (`detectors`)",
            format!(r#"{{"version":1,"detectors":[{rule}],"detectors":[]}}"#),
        ),
        (
            "detector key twice (`threshold`)",
            r#"{"version":1,"detectors":[{"type":"threshold","name":"fails","group_by":"user","window_secs":600,"threshold":5,"where":[{"field":"outcome","eq":"failure"}],"threshold":0}]}"#.to_string(),
        ),
        (
            "condition key twice (`eq`)",
            r#"{"version":1,"detectors":[{"type":"threshold","name":"fails","group_by":"user","window_secs":600,"threshold":5,"where":[{"field":"outcome","eq":"failure","eq":"success"}]}]}"#.to_string(),
        ),
        (
            "section key twice (`alerting.report_p`)",
            r#"{"version":1,"alerting":{"report_p":0.001,"report_p":0.5}}"#.to_string(),
        ),
    ];
    let accepted: Vec<String> = cases
        .iter()
        .filter_map(|(what, text)| {
            Policy::parse(text).ok().map(|p| {
                format!(
                    "{what}: accepted ({} detectors, report_p {})",
                    p.detectors.len(),
                    p.alerting.report_p
                )
            })
        })
        .collect();
    assert!(accepted.is_empty(), "{}", accepted.join("\n"));
}

/// Found: a `fields` entry of the wrong type is refused with serde's
/// "data did not match any variant of untagged enum Paths". That text
/// names a Rust type and says neither what was expected (a dotted path
/// or a list of paths) nor what was found. For `"user": ["user.name",
/// 5]` the key is `fields.user`, not the item `fields.user[1]`. The README
/// promises errors that name the key, and `skip` (also one-or-many)
/// was given its own error for that reason.
/// Fix: deserialise `Paths` by hand (`deserialize_any` with a visitor
/// that takes a string or a sequence of strings) so that the error reads
/// "invalid type: integer `5`, expected a dotted path or a list of
/// paths", and read a list's items one by one so that the index is named.
///
/// Now: `Paths` is read by hand: "expected a dotted path or a list of paths", items named by index.
#[test]
fn wrong_type_in_fields_says_neither_expected_nor_found() {
    let mut fails = Vec::new();
    for (v, key) in [
        (json!(5), "fields.user"),
        (json!({"path": "user.name"}), "fields.user"),
        (json!(["user.name", 5]), "fields.user[1]"),
    ] {
        let e = parse(&json!({"version": 1, "fields": {"user": v}})).expect_err("refused");
        let m = e.message.to_lowercase();
        if m.contains("untagged") || !(m.contains("expected") && m.contains("path")) {
            fails.push(format!(
                "{v}: `{e}` does not say a path or a list of paths was expected"
            ));
        }
        if e.key != key {
            fails.push(format!("{v}: error at `{}`, not `{key}`", e.key));
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// Found: a condition with two operators is accepted, and one of them is
/// silently ignored. The README describes a condition as `{"field": F}`
/// "plus one of" the operators, and `Condition`'s doc says "all set
/// members must hold". Validation only refuses a condition with none.
/// `cond_on` then checks `gte`/`lt` if set, else `eq`, else `in`, else
/// `contains`, else `prefix`, and ignores the rest. `{"field": "user",
/// "contains": "backup", "prefix": "svc-"}` ("service accounts named
/// after backups") fires for `backup-admin`, which fails the prefix.
/// `{"field": "status", "gte": 500, "eq": 503}` fires for every 5xx.
/// The rule fires on events the operator wrote it to exclude.
/// Fix: refuse more than one operator family per condition (`gte` with
/// `lt` is one), naming the condition: `detectors[0].where[0]: one of eq,
/// in, contains, prefix, gte/lt, exists; found contains and prefix (use
/// two conditions)`.
///
/// Now: a condition with two tests is refused, naming them.
#[test]
fn condition_with_two_operators_checks_only_one() {
    let mut fails = Vec::new();
    for (c, ev) in [
        (
            json!({"field": "user", "contains": "backup", "prefix": "svc-"}),
            json!({"timestamp": T0, "user": "backup-admin"}),
        ),
        (
            json!({"field": "status", "gte": 500, "eq": 503}),
            json!({"timestamp": T0, "user": "a", "status": 500}),
        ),
    ] {
        let mut d = single_event_rule("user");
        d["where"] = json!([c]);
        let Ok(p) = parse(&one(d)) else {
            continue; // refused: fixed
        };
        let v = Engine::new(p).score(&ev, None);
        if !v.reasons.is_empty() {
            fails.push(format!(
                "{c} accepted, and fires for {ev}: one operator ignored"
            ));
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// Found: conditions that can never hold are accepted: `{"in": []}`
/// (with `not`, always holds), and the empty ranges `{"gte": 10, "lt":
/// 5}` and `{"gte": 5, "lt": 5}`. A rule with such a `where` loads and
/// never fires, so a slip in a detection rule goes unnoticed until the
/// incident the rule was meant to catch.
/// Fix: refuse an empty `in` and `gte >= lt`, naming the condition
/// (`detectors[0].where[0].in: an empty list matches nothing`).
///
/// Now: an empty `in` and `gte` at or above `lt` are refused.
#[test]
fn conditions_that_can_never_hold_are_accepted() {
    let with = |c: Value| {
        let mut d = single_event_rule("user");
        d["where"] = json!([c]);
        one(d)
    };
    let bad: Vec<String> = [
        json!({"field": "user", "in": []}),
        json!({"field": "status", "gte": 10, "lt": 5}),
        json!({"field": "status", "gte": 5, "lt": 5}),
    ]
    .into_iter()
    .filter_map(|c| refused_at(&with(c), "detectors[0].where[0]").err())
    .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Found: a value listed under both `outcome.failure` and
/// `outcome.success` is accepted. The event is then silently a failure
/// (the failure list is looked up first), so a rule on `outcome`
/// `success` never sees it. With `{"failure": ["denied"], "success":
/// ["denied", "ok"]}` a single-event rule on success is quiet for a
/// `denied` record. An operator who copies a vendor's code into the
/// wrong list gets no error and a `followed_by` brute-force rule that
/// can no longer fire.
/// Fix: refuse a value in both lists (compared as lookups compare:
/// ignoring ASCII case and surrounding whitespace), naming
/// `outcome.success[i]`.
///
/// Now: refused at `outcome.success[i]`.
#[test]
fn outcome_value_in_both_lists_is_accepted() {
    let p = json!({"version": 1,
        "outcome": {"failure": ["denied"], "success": ["denied", "ok"]},
        "detectors": [single_event_rule("user")]});
    refused_at(&p, "outcome").unwrap();
}

/// Found: a `new_value` detector may list a feature twice
/// (`"features": ["ip", "ip"]`). It takes two of the entity's 8 profile
/// slots and reports every new value twice, two identical reasons in
/// one verdict ("a: ip 2.2.2.2 never seen for a in 6 hours (1 known
/// value)" ×2). `max_reasons` is spent on the copy, so another
/// detector's reason is cut. Usually a copy-paste slip.
/// Fix: refuse a repeated feature (`detectors[0].features[1]: feature
/// `ip` is listed twice`), or across the `new_value` detectors of one
/// entity.
///
/// Now: refused at `features[j]`.
#[test]
fn new_value_feature_listed_twice_is_reported_twice() {
    let p = json!({"version": 1,
        "learning": {"period_secs": 0, "period_events": 0, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0, "max_reasons": 8}, "half_life_secs": 1e9,
        "detectors": [{"type": "new_value", "name": "n", "entity": "user",
                       "features": ["ip", "ip"]}]});
    let Ok(p) = parse(&p) else {
        return; // refused: fixed
    };
    let mut e = Engine::new(p);
    for i in 0..400 {
        e.score(
            &json!({"timestamp": T0 + i * 60, "user": "a", "ip": "1.1.1.1"}),
            None,
        );
    }
    let v = e.score(
        &json!({"timestamp": T0 + 400 * 60, "user": "a", "ip": "2.2.2.2"}),
        None,
    );
    let texts: Vec<&str> = v.reasons.iter().map(|r| r.text.as_str()).collect();
    let mut uniq = texts.clone();
    uniq.dedup();
    assert!(!texts.is_empty(), "control: the new address is reported");
    assert_eq!(texts, uniq, "the same reason twice: {}", v.to_json());
}

/// Found: validation and the extractor read a capture's name differently,
/// and two spellings that validation accepts capture nothing usable.
/// `"fail { user } x"` keeps the capture under the name ` user ` (spaces
/// included), and `"fail {user:} x"` (validation takes the empty type
/// after `:` as the plain one) under `user:` (`Extractor::new` only
/// strips `:word` and `:rest`). Nothing reads those names, so `user` is
/// never set from the line: a single-event rule on `user` `exists` is
/// quiet for `fail bob x`. The `describe` parser trims its names (`{ user
/// }` there is `user`), so the same spelling works in one place and
/// silently fails in the other.
/// Fix: parse a capture once, in one function both use; trim the name
/// (or refuse surrounding whitespace) and treat `name:` as `name` or
/// refuse it (`extract[0].pattern: capture `{user:}`: empty type`).
///
/// Now: a capture name with spaces, or `:` with no type, is refused.
#[test]
fn extract_capture_names_validation_reads_differently() {
    let mut fails = Vec::new();
    for pat in ["fail { user } x", "fail {user:} x"] {
        let p = json!({"version": 1, "extract": [{"pattern": pat}],
            "detectors": [{"type": "threshold", "name": "t",
                "where": [{"field": "user", "exists": true}], "group_by": "user",
                "window_secs": 600, "threshold": 0}]});
        let Ok(p) = parse(&p) else {
            continue; // refused: fixed
        };
        let v = Engine::new(p).score(&json!({"timestamp": T0, "message": "fail bob x"}), None);
        if !v.reasons.iter().any(|r| r.entity == "bob") {
            fails.push(format!(
                "`{pat}` accepted, `bob` not captured as user: {}",
                v.to_json()
            ));
        }
    }
    // control: the plain spelling captures
    let p = json!({"version": 1, "extract": [{"pattern": "fail {user} x"}],
        "detectors": [{"type": "threshold", "name": "t",
            "where": [{"field": "user", "exists": true}], "group_by": "user",
            "window_secs": 600, "threshold": 0}]});
    let v = engine(&p).score(&json!({"timestamp": T0, "message": "fail bob x"}), None);
    assert!(
        v.reasons.iter().any(|r| r.entity == "bob"),
        "control: {}",
        v.to_json()
    );
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// Found: the `F.*` array form, which the README defines for conditions,
/// is accepted in a detector's field members (`group_by`, `entity`,
/// `distinct`, `features`), where it is read as a literal path segment
/// `*` and never found. `"group_by": "tags.*"` makes a single-event rule
/// that never fires, for `{"tags": ["a", "b"]}` and for `{"tags": "a"}`
/// alike. A reasonable guess from the condition syntax ("group by any
/// tag") gives a silent, dead rule.
/// Fix: refuse a `.*` segment outside conditions (`detectors[0].group_by:
/// `tags.*` is a condition's array form; group by an item, `tags.0``),
/// or define and implement what it means there.
///
/// Now: `.*` in a detector's field member is refused.
#[test]
fn array_wildcard_in_group_by_is_accepted_and_never_matches() {
    let p = one(single_event_rule("tags.*"));
    let Ok(p) = parse(&p) else {
        return; // refused: fixed
    };
    let mut e = Engine::new(p);
    let a = e.score(&json!({"timestamp": T0, "x": 1, "tags": ["a", "b"]}), None);
    let b = e.score(&json!({"timestamp": T0 + 1, "x": 1, "tags": "a"}), None);
    // control: the same rule by a plain field fires
    let c = engine(&one(single_event_rule("tag")))
        .score(&json!({"timestamp": T0, "x": 1, "tag": "a"}), None);
    assert!(!c.reasons.is_empty(), "control");
    assert!(
        !a.reasons.is_empty() || !b.reasons.is_empty(),
        "`group_by: tags.*` accepted but never fires: {} / {}",
        a.to_json(),
        b.to_json()
    );
}

/// Found: a `rate` detector in gauge mode (`value_field`) accepts
/// `error_where` and ignores it. `Rate::run` returns after the gauge
/// evidence, before `is_err` is computed (engine.rs, "let is_err"). An
/// operator who writes `{"type": "rate", "value_field": "latency_ms",
/// "error_where": [{"field": "status", "gte": 500}]}` expects an error-rate
/// check and has none. The README documents `bucket_secs` as ignored
/// there, but not `error_where`.
/// Fix: refuse `error_where` (and `min_count`, also count-mode only) with
/// `value_field`: `detectors[0].error_where: count mode only; remove
/// value_field or add a count-mode rate detector`.
///
/// Now: refused at `error_where`.
#[test]
fn rate_gauge_mode_accepts_error_where_and_ignores_it() {
    let p = one(
        json!({"type": "rate", "name": "latency", "value_field": "latency_ms",
                       "error_where": [{"field": "status", "gte": 500}]}),
    );
    refused_at(&p, "detectors[0].error_where").unwrap();
}

/// Found: blank names are refused in some places and not in others.
/// A detector's `group_by`/`entity`/... of `" "` is refused ("must name
/// a field", trimmed), but a condition's `"field": " "`, a `fields`
/// path `" "`, a detector `"name": " "` (an empty one is refused) and a
/// `fields` key `""` are accepted. The blank condition field names no
/// member a real record has, so `exists` never holds and `not` always
/// does. The blank name
/// gives reasons with `"detector":" "` and must be repeated exactly in
/// `suppress` and `allowlist`. A `skip` condition on `"  "` is accepted
/// too.
/// Fix: check all of them as `field_names` does (`trim().is_empty()`),
/// naming the key.
///
/// Now: blank condition fields, detector names, `fields` keys and paths are refused.
#[test]
fn blank_names_are_accepted_outside_detector_fields() {
    let rule = |f: &str, name: &str| {
        json!({"type": "threshold", "name": name, "where": [{"field": f, "exists": true}],
               "group_by": "user", "window_secs": 600, "threshold": 0})
    };
    let bad: Vec<String> = [
        (one(rule(" ", "t")), "detectors[0].where[0].field"),
        (one(rule("x", " ")), "detectors[0].name"),
        (
            json!({"version": 1, "fields": {"user": ["user.name", " "]}}),
            "fields.user",
        ),
        (json!({"version": 1, "fields": {"": "user.name"}}), "fields"),
        (
            json!({"version": 1, "skip": [{"field": "  ", "eq": "x"}]}),
            "skip[0][0].field",
        ),
    ]
    .iter()
    .filter_map(|(p, k)| refused_at(p, k).err())
    .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Found: a `distinct` rule that counts the values of its own `group_by`
/// (`"group_by": "user", "distinct": "user"`) is accepted. A group holds
/// one value of its own key, so the count is never above 1, and
/// `threshold` is at least 1: the rule can never fire. It is an easy slip
/// when editing the spraying rule (`group_by: source_ip, distinct: user`)
/// into its mirror.
/// Fix: refuse `distinct` equal to `group_by` (also when both map to the
/// same paths), naming `detectors[i].distinct`.
///
/// Now: refused at `distinct` (also when both map to the same paths).
#[test]
fn distinct_of_its_own_group_is_accepted() {
    let p = one(
        json!({"type": "distinct", "name": "spray", "group_by": "user",
                       "distinct": "user", "window_secs": 600, "threshold": 1}),
    );
    refused_at(&p, "detectors[0].distinct").unwrap();
}

/// The probe both targets run (`probe_src!` also keeps its text, which
/// becomes the wasm program's source).
macro_rules! probe_src {
    ($($t:tt)*) => {
        $($t)*
        const PROBE_SRC: &str = stringify!($($t)*);
    };
}

probe_src! {
    fn probe() -> String {
        let mut out = String::new();
        let ecs = logseal_anomaly::Engine::new(logseal_anomaly::Policy::preset("ecs").unwrap());
        out += &format!("ecs preset: profile_capacity {}, memory_bytes {}\n",
            ecs.profile_capacity(), ecs.memory_bytes());
        // a budget of 4 GiB (validation allows up to 16 GiB); natively the
        // engine takes it as written (not built here: its sketches are large)
        let four = 4_294_967_296u64;
        // on a 32-bit target it is refused, naming the key; natively this
        // prints what a 32-bit target must print
        if cfg!(target_pointer_width = "32") {
            let r = logseal_anomaly::Policy::parse(&format!(
                r#"{{"version":1,"memory_budget_bytes":{four},"detectors":[{{"type":"unusual_hour","name":"h","entity":"user"}}]}}"#
            ));
            let said = match r {
                Err(e) if e.key == "memory_budget_bytes" => "refused",
                Err(_) => "refused elsewhere",
                Ok(_) => "accepted",
            };
            out += &format!("budget {four}: {said}\n");
        } else {
            out += &format!("budget {four}: refused\n");
        }
        // one policy, one stream, tables full: the verdicts
        let p = logseal_anomaly::Policy::parse(r#"{"version":1,"memory_budget_bytes":1048576,
            "learning":{"period_secs":0,"min_entity_events":3},"half_life_secs":1e9,
            "alerting":{"dedup_secs":0,"report_p":0.5,"evidence_p":1,
                        "severity_thresholds":[0.01,0.5,0.66,0.83]},
            "fields":{"user":["user.name","user.id","user.email","actor.name","principal","account","user"]},
            "detectors":[{"type":"new_value","name":"n","entity":"user","features":["ip"]},
                         {"type":"unusual_hour","name":"h","entity":"user"}]}"#).unwrap();
        let mut e = logseal_anomaly::Engine::new(p);
        let (mut h, mut reported, mut s) = (0u64, 0u32, 1u64);
        for i in 0..100_000u64 {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let u = (s >> 33) % 15_580;
            let rec: serde_json::Value = serde_json::from_str(&format!(
                r#"{{"timestamp":{},"user":"u{}","ip":"10.0.{}.{}"}}"#,
                1_704_067_200 + i * 10, u, u % 250, (s >> 40) % 3)).unwrap();
            let v = e.score(&rec, None);
            reported += !v.reasons.is_empty() as u32;
            for b in v.to_json().bytes() {
                h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
            }
        }
        out += &format!("1 MiB policy, 100,000 records: profile_capacity {}, reported {reported}, verdicts hash {h:016x}\n",
            e.profile_capacity());
        out
    }
}

/// `probe()` built for wasm32-wasip1 and run under Node's WASI (the
/// crate's `scripts/run-wasi.mjs`); `None` when Node or the target is
/// missing.
fn probe_on_wasm32() -> Option<String> {
    let have = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    have("node", &["--version"])?;
    if !have("rustup", &["target", "list", "--installed"])?.contains("wasm32-wasip1") {
        return None;
    }
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    // a target dir of its own: the one running this test is locked
    let exe = std::env::current_exe().unwrap();
    let base = exe.ancestors().nth(3).unwrap().join("review24-wasm");
    let proj = base.join("probe");
    std::fs::create_dir_all(proj.join("src")).unwrap();
    std::fs::write(
        proj.join("Cargo.toml"),
        format!(
            "[package]\nname = \"review24-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             [workspace]\n[dependencies]\n\
             logseal-anomaly = {{ path = {crate_dir:?}, default-features = false, features = [\"serde_json\"] }}\n\
             serde_json = {{ version = \"1\", default-features = false, features = [\"alloc\"] }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        proj.join("src/main.rs"),
        format!("{PROBE_SRC}\nfn main() {{ print!(\"{{}}\", probe()); }}\n"),
    )
    .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = |offline: bool| {
        let mut c = Command::new(&cargo);
        c.args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "--manifest-path",
        ])
        .arg(proj.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", base.join("target"));
        if offline {
            c.arg("--offline");
        }
        c.status().map(|s| s.success()).unwrap_or(false)
    };
    assert!(
        build(true) || build(false),
        "building the wasm32-wasip1 probe"
    );
    let wasm = base.join("target/wasm32-wasip1/release/review24-probe.wasm");
    let out = Command::new("node")
        .arg(format!("{crate_dir}/scripts/run-wasi.mjs"))
        .arg(&wasm)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "running the wasm probe under Node");
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Found: one policy gives different engines, and different verdicts,
/// on wasm32 and natively, though the README promises that native,
/// wasm32-wasip1 and wasm32-wasip2 print the same bytes (the verdict is
/// hashed into the seal; `logseal seal` and the wasm plugins must agree).
/// Two causes, both in how the policy's memory is figured:
/// (1) "The policy counts too": its heap is measured with the target's
/// own sizes (`String`/`Vec` headers of 24 bytes natively, 12 on wasm32)
/// and taken off the tables' shares, so every table gets another size:
/// the `ecs` preset holds 841,728 profiles natively and 841,832 on
/// wasm32, and a 1 MiB policy whose tables fill (15,580 users) reports
/// 8,249 of 100,000 records natively and 8,253 on wasm32 (another
/// verdict hash). The golden stream stays far below capacity, so
/// `tests/engine.rs` cannot see it. (2) Validation accepts
/// `memory_budget_bytes` up to 16 GiB, and `Engine::new` casts it `as
/// usize`: on wasm32 a 4 GiB budget is 0 (`memory_budget()` 0; with a
/// `new_value` and a `gauge` detector, 8 profiles kept and
/// `memory_bytes()` 17,315 above it), and 5 GiB is 1 GiB.
/// Reproduced with this file's `probe()` built for wasm32-wasip1 and run
/// under Node (the test skips when Node or the target is missing).
/// Fix: measure the policy with fixed, target-independent sizes (say 24
/// bytes per `String`/`Vec` header and `u64` arithmetic), and refuse
/// budgets above `u32::MAX` (a policy must hold on every target it is
/// promised to) or compute shares in `u64` and saturate.
/// Now: what the policy holds is counted with each type's 64-bit size on
/// every target (`heap::Wide`, checked against `size_of` at compile time
/// on 64-bit targets), and validation refuses a budget above `usize::MAX`
/// on a 32-bit target, naming `memory_budget_bytes` (the probe expects
/// that there; taken as `usize::MAX`, the engine's allocations crashed
/// Node's WASI).
#[test]
fn policy_memory_figures_differ_on_wasm32() {
    let Some(wasm) = probe_on_wasm32() else {
        eprintln!("skipped: needs `node` and the wasm32-wasip1 target");
        return;
    };
    let native = probe();
    assert_eq!(
        native, wasm,
        "native (left) and wasm32-wasip1 (right) differ"
    );
}

// ----------------------------------------------------------- what held

/// Holds: the README's example policy (its `//` comments removed, as the
/// README says the parser takes plain JSON) parses as written.
#[test]
fn readme_example_policy_parses() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("```json\n{\n  \"version\": 1")
        .expect("example")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let text: String = readme[start..end]
        .lines()
        .map(|l| l.find("  //").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n");
    let p = Policy::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(p.detectors.len(), 10);
}

/// One varied record (20 users, failures, actions, sessions, positions,
/// a gauge value with rare spikes) near `T0 + 37 i`.
fn record(s: &mut u64, i: i64) -> Value {
    let u = next(s) % 20;
    let action = ["login", "read", "write", "logout"][(next(s) % 4) as usize];
    let v = (next(s) % 100) as f64
        + if next(s).is_multiple_of(300) {
            1e6
        } else {
            0.0
        };
    json!({"timestamp": T0 + i * 37 + (next(s) % 30) as i64, "user": format!("u{u}"),
           "ip": format!("10.0.{u}.{}", next(s) % 4),
           "outcome": if next(s).is_multiple_of(5) { "failure" } else { "success" },
           "action": action, "role": format!("r{}", u % 3), "session": format!("s{u}"),
           "message": format!("{action} by u{u} id {}", next(s) % 100), "v": v,
           "lat": if u.is_multiple_of(2) { 52.5 } else { -33.0 },
           "lon": if u.is_multiple_of(2) { 13.4 } else { 151.0 }, "w": 1000})
}

/// Extreme but valid parameters, one detector (or section) at a time.
fn extreme_cases() -> Vec<(String, Value)> {
    let fail = json!([{"field": "outcome", "eq": "failure"}]);
    let succ = json!([{"field": "outcome", "eq": "success"}]);
    let top = |over: Value, dets: Value| {
        let mut p = json!({"version": 1,
            "learning": {"period_secs": 600, "min_entity_events": 2}, "detectors": dets});
        for (k, v) in over.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let d = |x: Value| top(json!({}), json!([x]));
    let mut out: Vec<(String, Value)> = Vec::new();
    for w in [8.0, 3.1536e9, 1e300, f64::MAX] {
        out.push((
            format!("threshold window {w:e}"),
            d(json!({"type": "threshold",
            "name": "t", "where": fail, "group_by": "user", "window_secs": w, "threshold": 3})),
        ));
        out.push((
            format!("followed_by window {w:e}"),
            d(json!({"type": "followed_by",
            "name": "t", "first": fail, "then": succ, "group_by": "user", "min_first": 2,
            "window_secs": w})),
        ));
        out.push((
            format!("rate bucket {w:e}"),
            d(json!({"type": "rate", "name": "t",
            "group_by": "user", "bucket_secs": w, "min_count": 0})),
        ));
    }
    for hl in [5e-324, 1e300, f64::MAX] {
        out.push((
            format!("rate half_life {hl:e}"),
            d(json!({"type": "rate", "name": "t",
            "group_by": "user", "half_life": hl, "min_count": 0, "warmup": 0})),
        ));
        out.push((
            format!("gauge half-lives {hl:e}"),
            d(json!({"type": "gauge", "name": "t",
            "group_by": "user", "value_field": "v", "half_life": hl, "calib_half_life": hl,
            "short_half_life": hl, "warmup": 0, "bins": 16, "order": 4})),
        ));
    }
    for ex in [1e-300, f64::MAX] {
        out.push((
            format!("threshold expected {ex:e}"),
            d(json!({"type": "threshold",
            "name": "t", "where": fail, "group_by": "user", "window_secs": 600,
            "threshold": 3, "expected": ex})),
        ));
    }
    for (k, km) in [(5e-324, 0.0), (f64::MAX, 0.0), (1.0, f64::MAX)] {
        out.push((
            format!("travel max_kmh {k:e} min_km {km:e}"),
            d(json!({
            "type": "impossible_travel", "name": "t", "entity": "user", "max_kmh": k,
            "min_km": km})),
        ));
    }
    out.push((
        "sequence extremes".into(),
        d(json!({"type": "sequence", "name": "t",
        "session": "session", "history": 16, "top_k": 1, "similarity": 1e-300, "depth": 8,
        "max_templates": 1})),
    ));
    out.push((
        "composition 65536".into(),
        d(json!({"type": "composition", "name": "t",
        "session": "session", "template": "action",
        "end_where": [{"field": "action", "eq": "logout"}], "max_compositions": 65_536})),
    ));
    let learned = json!([
        {"type": "new_value", "name": "n", "entity": "user", "features": ["ip", "action"]},
        {"type": "unusual_hour", "name": "h", "entity": "user"},
        {"type": "peer_rare", "name": "p", "entity": "user", "group": "role",
         "feature": "action"},
        {"type": "threshold", "name": "t", "where": fail, "group_by": "user",
         "window_secs": 600, "threshold": 1}]);
    for (what, over) in [
        ("half_life_secs 60", json!({"half_life_secs": 60})),
        ("half_life_secs max", json!({"half_life_secs": f64::MAX})),
        (
            "learning max",
            json!({"learning": {"period_secs": f64::MAX,
            "period_events": u64::MAX, "min_entity_events": u32::MAX}}),
        ),
        (
            "learning none",
            json!({"learning": {"period_secs": 0, "period_events": 0,
            "min_entity_events": 0}}),
        ),
        ("dedup tiny", json!({"alerting": {"dedup_secs": 5e-324}})),
        ("dedup max", json!({"alerting": {"dedup_secs": f64::MAX}})),
        (
            "report_p tiny",
            json!({"alerting": {"report_p": 5e-324, "evidence_p": 5e-324}}),
        ),
        (
            "severity tiny",
            json!({"alerting": {"severity_thresholds": [5e-324, 5e-324,
            5e-324, 1], "max_reasons": 32}}),
        ),
    ] {
        out.push((what.into(), top(over, learned.clone())));
    }
    out
}

/// Holds: extreme but valid parameters (windows and buckets of 8 s to
/// `f64::MAX`, half-lives of 5e-324 to `f64::MAX`, means of 1e-300 and
/// `f64::MAX`, `history` 16 / `top_k` 1 / `similarity` 1e-300,
/// `max_compositions` 65,536, learning and dedup at their ends,
/// thresholds at 5e-324) build an engine, score 3,000 varied records in
/// milliseconds with scores and p-values in [0, 1], stay within the
/// budget and round-trip through `snapshot`/`restore` byte for byte
/// (`distinct` is left out: see
/// `distinct_rule_last_in_the_policy_cannot_be_restored`).
#[test]
fn extreme_but_valid_parameters_score_sanely() {
    let cases = extreme_cases();
    drive(
        "extreme_but_valid_parameters_score_sanely",
        &cases,
        |(what, p)| {
            let pol = parse(p).map_err(|e| format!("{what}: refused: {e}"))?;
            let mut e = Engine::new(pol.clone());
            let mut s = 1u64;
            let ok = |v: &Verdict| {
                (0.0..=1.0).contains(&v.score)
                    && v.reasons.iter().all(|r| (0.0..=1.0).contains(&r.p))
            };
            for i in 0..3000 {
                let (rec, t) = (record(&mut s, i), Instant::now());
                let v = e.score(&rec, None);
                if !ok(&v) {
                    return Err(format!("{what}: record {i}: {}", v.to_json()));
                }
                if t.elapsed() > Duration::from_millis(500) {
                    return Err(format!("{what}: record {i} took {:?}", t.elapsed()));
                }
            }
            if e.memory_bytes() > e.memory_budget() {
                return Err(format!(
                    "{what}: {} > {}",
                    e.memory_bytes(),
                    e.memory_budget()
                ));
            }
            let snap = e.snapshot();
            let mut f = Engine::new(pol);
            f.restore(&snap)
                .map_err(|x| format!("{what}: restore: {x:?}"))?;
            if f.snapshot() != snap {
                return Err(format!("{what}: snapshot after restore differs"));
            }
            Ok(())
        },
    );
}

//! Adversarial review of `crates/anomaly/README.md` against the code, and of
//! the policy validation in `src/policy.rs`. Each of the review's tests
//! names the behaviour an operator relies on and quotes the README line (or
//! the principle); they failed when they were written (December 2026) and
//! record what happened then and what happens now. The last test was added
//! with the fixes.

use logseal_anomaly::{Engine, Policy, PolicyError};
use serde_json::{Value, json};

/// 2024-12-02T00:00:00Z
const T0: i64 = 1_733_097_600;

fn parse(p: &Value) -> Result<Policy, PolicyError> {
    Policy::parse(&p.to_string())
}

fn one_detector(d: Value) -> Value {
    json!({"version": 1, "detectors": [d]})
}

fn engine(p: Value) -> Engine {
    Engine::new(parse(&p).expect("policy loads"))
}

// ------------------------------------------------------------ detectors

/// README, Detectors: `threshold` is the "count of events matching `where`
/// per `group_by` value in a sliding `window_secs` (8 sub-buckets) exceeds
/// `threshold`". Events 1,000 s apart are never more than one in a short
/// window.
///
/// Found by review (December 2026): with `window_secs` below about 3.2 s
/// every event was counted forever: the sub-bucket index
/// `floor(t / (window/8))` exceeded `u32::MAX` for today's timestamps and
/// `bidx` saturated it, so all events fell into the same sub-bucket and the
/// rule fired on the 4th event of the day (the same for `followed_by`, for
/// `distinct` below about 0.8 s, and for `rate` buckets below about
/// 0.4 s). Now a sub-bucket is a second or more: shorter windows are
/// refused where they are written, and the shortest accepted window
/// forgets as it should.
#[test]
fn short_threshold_window_forgets_events_older_than_the_window() {
    let rule = |ty: &str, window: f64| {
        let mut d = match ty {
            "threshold" => json!({"type": "threshold", "name": "burst", "group_by": "user",
                                  "threshold": 3}),
            "distinct" => json!({"type": "distinct", "name": "burst", "group_by": "user",
                                 "distinct": "ip", "threshold": 3}),
            "followed_by" => json!({"type": "followed_by", "name": "burst", "group_by": "user",
                                    "first": [{"field": "outcome", "eq": "failure"}],
                                    "then": [{"field": "outcome", "eq": "success"}],
                                    "min_first": 3}),
            _ => json!({"type": "rate", "name": "burst"}),
        };
        let k = if ty == "rate" {
            "bucket_secs"
        } else {
            "window_secs"
        };
        d[k] = json!(window);
        (one_detector(d), k)
    };
    for (ty, short) in [
        ("threshold", 7.9),
        ("distinct", 1.9),
        ("followed_by", 7.0),
        ("rate", 0.5),
    ] {
        let (p, k) = rule(ty, short);
        let e = parse(&p).expect_err(ty);
        assert_eq!(e.key, format!("detectors[0].{k}"), "{ty}: {e}");
    }
    let mut e = engine(rule("threshold", 8.0).0);
    let fired: Vec<i64> = (0..10)
        .filter(|i| {
            !e.score(&json!({"timestamp": T0 + i * 1000, "user": "bob"}), None)
                .reasons
                .is_empty()
        })
        .collect();
    assert!(
        fired.is_empty(),
        "events 1000 s apart exceeded 3 in an 8 s window at events {fired:?}"
    );
}

/// README, Memory: "`memory_budget_bytes` bounds all state, whatever the
/// number of entities": every budget the policy check accepts holds.
///
/// Found by review (December 2026): validation accepted any budget from
/// 65,536 up, and such a budget (65,536 bytes, eight detectors) was
/// exceeded: every table got at least one 8-way bucket whatever its share
/// (`Table::with_budget`, `.max(1)`; a `gauge` bucket alone is 10,848
/// bytes) and `Engine::new` floored the budget it split at 32 KiB, so
/// `memory_bytes()` ended above `memory_budget()`. Now `Engine::new` takes
/// the tables' minimums off the budget first when shares are too small for
/// them, with no floor, and validation refuses a budget below what they
/// need (`min_budget`); this one is accepted and holds.
#[test]
fn memory_stays_within_every_accepted_budget() {
    let p = json!({"version": 1, "memory_budget_bytes": 65536,
    "learning": {"period_secs": 0, "min_entity_events": 1},
    "detectors": [
        {"type": "new_value", "name": "nv", "entity": "user", "features": ["ip"]},
        {"type": "unusual_hour", "name": "uh", "entity": "user"},
        {"type": "threshold", "name": "th", "group_by": "user", "window_secs": 600, "threshold": 5},
        {"type": "distinct", "name": "di", "group_by": "ip", "distinct": "user", "window_secs": 600, "threshold": 5},
        {"type": "rate", "name": "ra", "group_by": "user"},
        {"type": "gauge", "name": "ga", "group_by": "user", "value_field": "v"},
        {"type": "peer_rare", "name": "pr", "entity": "user", "group": "g", "feature": "a"},
        {"type": "impossible_travel", "name": "it", "entity": "user"}
    ]});
    let mut e = engine(p);
    for i in 0..20_000i64 {
        e.score(
            &json!({"timestamp": T0 + i, "user": format!("u{i}"),
                    "ip": format!("10.0.{}.{}", i % 256, i / 256 % 256),
                    "v": i % 17, "g": format!("g{}", i % 50), "a": "x",
                    "lat": 1.0, "lon": 2.0}),
            None,
        );
    }
    assert!(
        e.memory_bytes() <= e.memory_budget(),
        "memory_bytes {} > budget {}",
        e.memory_bytes(),
        e.memory_budget()
    );
}

// ------------------------------------------------- false-positive controls

fn folded_admin_rule(extra: Value) -> Engine {
    let mut p = json!({"version": 1, "fold_case": ["user"],
        "detectors": [{"type": "threshold", "name": "admin_login",
            "where": [{"field": "user", "eq": "Administrator"}],
            "group_by": "user", "window_secs": 600, "threshold": 0}]});
    if let (Value::Object(p), Value::Object(x)) = (&mut p, extra) {
        p.extend(x);
    }
    engine(p)
}

/// README, False positives: "`allowlist` entries drop findings ... for
/// events whose field has one of the values"; README, Case: with
/// `fold_case`, `Administrator`, `ADMINISTRATOR ` and `administrator` "are
/// one entity, conditions on them compare lowercased text".
///
/// Found by review (December 2026): an allowlist value on a folded field
/// was compared as written with the folded value (conditions fold their
/// operand in `conds`, the allowlist did not): an entry `"Administrator"`
/// dropped nothing, not even for an event whose user is exactly
/// `Administrator` (the condition `eq: "Administrator"` of the same policy
/// did match it). Now `Engine::new` folds the allowlist values of
/// `fold_case` fields as `conds` folds a condition's operand.
#[test]
fn allowlist_on_a_fold_case_field_matches_the_value_as_written() {
    let mut e = folded_admin_rule(json!({
        "allowlist": [{"field": "user", "values": ["Administrator"]}]
    }));
    let v = e.score(&json!({"timestamp": T0, "user": "Administrator"}), None);
    assert!(
        v.reasons.is_empty(),
        "allowlisted user still reported: {}",
        v.to_json()
    );
}

/// README, False positives: "`suppress` drops findings by detector /
/// entity / feature"; README, Case: folded values are one entity.
///
/// Found by review (December 2026): `suppress.entity` was compared byte
/// for byte with the folded entity: `"entity": "Administrator"` on a
/// `fold_case` field suppressed nothing, although the finding is for that
/// very user. Now the entity is also compared folded for a detector whose
/// entity field is folded.
#[test]
fn suppress_entity_on_a_fold_case_field_matches_the_value_as_written() {
    let mut e = folded_admin_rule(json!({
        "suppress": [{"detector": "admin_login", "entity": "Administrator"}]
    }));
    let v = e.score(&json!({"timestamp": T0, "user": "Administrator"}), None);
    assert!(
        v.reasons.is_empty(),
        "suppressed entity still reported: {}",
        v.to_json()
    );
}

// ------------------------------------------------------ policy validation

fn refused_at(p: &Value, key: &str) -> Result<(), String> {
    match parse(p) {
        Ok(_) => Err(format!("accepted: {p}")),
        Err(e) if e.key == key || e.to_string().contains(key) => Ok(()),
        Err(e) => Err(format!("refused without naming `{key}`: {e}")),
    }
}

fn all_refused(cases: &[(Value, &str)]) {
    let bad: Vec<String> = cases
        .iter()
        .filter_map(|(p, k)| refused_at(p, k).err())
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// README, Policy: "validated with errors that name the key:
/// `policy: `detectors[0].window_secs`: must be a finite number > 0`".
///
/// Found by review (December 2026): a value of the wrong type inside a
/// detector was reported at the detector only, with serde's text, which
/// names no field: `"window_secs": "600"` gave "policy: `detectors[0]`:
/// invalid type: string "600", expected f64" (`Policy::parse` keyed the
/// `serde_json::from_value::<DetectorSpec>` error `detectors[i]`); a
/// condition member of the wrong type inside `where` likewise. Now
/// `from_value` reads through serde_path_to_error and the error names the
/// member: "policy: `detectors[0].window_secs`: invalid type: ...".
#[test]
fn wrong_type_in_a_detector_names_the_field() {
    let th = |k: &str, v: Value| {
        let mut d = json!({"type": "threshold", "name": "a", "group_by": "user",
                           "window_secs": 600, "threshold": 5});
        d[k] = v;
        one_detector(d)
    };
    all_refused(&[
        (th("window_secs", json!("600")), "window_secs"),
        (th("threshold", json!(-5)), "threshold"),
        (
            th("where", json!([{"field": "x", "eq": "y", "not": "yes"}])),
            "not",
        ),
    ]);
    // as the README shows it
    let e = parse(&th(
        "where",
        json!([{"field": "x", "eq": "y"}, {"field": "x", "eq": "y", "not": "yes"}]),
    ))
    .expect_err("refused");
    assert_eq!(
        e.to_string(),
        "policy: `detectors[0].where[1].not`: invalid type: string \"yes\", expected a boolean"
    );
}

/// README, Policy: errors "name the key".
///
/// Found by review (December 2026): a wrong type at the top level came
/// with an empty key and a message that named nothing ("policy: invalid
/// value: integer `-1`, expected u64"): the whole document was deserialised
/// into `Raw` and the error given key "". Inside a section only the
/// section was named (`learning`, not `learning.min_entity_events`). Now
/// `from_value` takes the key from serde_path_to_error's path: "policy:
/// `memory_budget_bytes`: invalid value: ...", `learning.min_entity_events`.
#[test]
fn wrong_type_at_top_level_or_in_a_section_names_the_key() {
    all_refused(&[
        (
            json!({"version": 1, "memory_budget_bytes": -1}),
            "memory_budget_bytes",
        ),
        (
            json!({"version": 1, "half_life_secs": "14d"}),
            "half_life_secs",
        ),
        (json!({"version": "1"}), "version"),
        (
            json!({"version": 1, "detectors": {"type": "threshold"}}),
            "detectors",
        ),
        (
            json!({"version": 1, "learning": {"min_entity_events": -1}}),
            "min_entity_events",
        ),
        (
            json!({"version": 1, "alerting": {"severity_thresholds": [0.3, 0.5]}}),
            "severity_thresholds",
        ),
    ]);
}

/// README, Detectors: `rate` takes `seasonality` `hour_of_day` or
/// `hour_of_week`. A misspelt value must be reported as such.
///
/// Found by review (December 2026): `"seasonality": "hour_of_month"` was
/// reported as "unknown detector type `rate`": `Policy::parse` rewrote
/// every serde error that started with "unknown variant" into the
/// unknown-type message, though there the variant was the seasonality's
/// and `rate` is a valid type. Now `detector` matches `type` itself and
/// reads the rest as that rule: "`detectors[0].seasonality`: unknown
/// variant `hour_of_month`, expected one of ...".
#[test]
fn unknown_seasonality_is_not_reported_as_an_unknown_detector_type() {
    let p = one_detector(json!({"type": "rate", "name": "r", "seasonality": "hour_of_month"}));
    let e = parse(&p).expect_err("unknown seasonality refused");
    let s = e.to_string();
    assert!(
        !s.contains("unknown detector type") && s.contains("hour_of_month"),
        "{s}"
    );
}

/// README, Detectors: the types are `threshold`, `distinct`,
/// `followed_by`, `rate`, `gauge`, `new_value`, `unusual_hour`, `peer_rare`,
/// `impossible_travel`, `sequence`, `composition`.
///
/// Found by review (December 2026): the error for a missing or unknown
/// type listed every type but `composition`, so `"type": "compositon"` was
/// answered with a list that lacked the intended type. Now both errors
/// list all eleven types, from one list (`TYPES`).
#[test]
fn unknown_detector_type_error_lists_composition() {
    for d in [
        json!({"type": "compositon", "name": "c"}),
        json!({"name": "c"}),
    ] {
        let e = parse(&one_detector(d)).expect_err("refused");
        assert!(e.to_string().contains("composition"), "{e}");
    }
}

/// Principle: a policy value the engine cannot use must be refused where it
/// is written. `expected` is a rule's Poisson mean (README, Detectors:
/// "Poisson tail `P(X ≥ n)` with mean `expected`"); a mean is > 0.
///
/// Found by review (December 2026): `"expected": -1` (or 0) loaded without
/// a word: validation never looked at `expected` (`Policy::validate`, the
/// `Threshold`, `Distinct` and `FollowedBy` arms) and `Engine::new`
/// silently clamped it to 1e-6, so every finding of the rule became p ≈ 0,
/// score 1, critical. Now those arms refuse it at `detectors[i].expected`:
/// "must be a finite number > 0".
#[test]
fn non_positive_expected_mean_is_refused() {
    let rule = |ty: &str, expected: f64| {
        let mut d = match ty {
            "threshold" => json!({"type": "threshold", "name": "a", "group_by": "user",
                                  "window_secs": 600, "threshold": 5}),
            "distinct" => json!({"type": "distinct", "name": "a", "group_by": "ip",
                                 "distinct": "user", "window_secs": 600, "threshold": 5}),
            _ => json!({"type": "followed_by", "name": "a", "group_by": "user",
                        "first": [{"field": "outcome", "eq": "failure"}],
                        "then": [{"field": "outcome", "eq": "success"}],
                        "min_first": 5, "window_secs": 600}),
        };
        d["expected"] = json!(expected);
        one_detector(d)
    };
    all_refused(&[
        (rule("threshold", -1.0), "detectors[0].expected"),
        (rule("threshold", 0.0), "detectors[0].expected"),
        (rule("distinct", -3.0), "detectors[0].expected"),
        (rule("followed_by", -0.5), "detectors[0].expected"),
    ]);
}

/// Principle: a field name the detector needs must not be empty (the policy
/// already refuses an empty `where[].field`, `allowlist[].field`,
/// `fold_case[]` and `fields` path, "must not be empty").
///
/// Found by review (December 2026): an empty `group_by`, `distinct`,
/// `entity`, `features` item, `session`, `value_field` or `extract[].from`
/// loaded, and the detector silently never saw a value (`Policy::validate`
/// had no check on these). Now `validate` refuses each at its key: "must
/// name a field".
#[test]
fn empty_field_names_in_detectors_are_refused() {
    all_refused(&[
        (
            one_detector(json!({"type": "threshold", "name": "a", "group_by": "",
                                "window_secs": 600, "threshold": 5})),
            "detectors[0].group_by",
        ),
        (
            one_detector(json!({"type": "distinct", "name": "a", "group_by": "ip",
                                "distinct": "", "window_secs": 600, "threshold": 5})),
            "detectors[0].distinct",
        ),
        (
            one_detector(json!({"type": "new_value", "name": "a", "entity": "",
                                "features": ["ip"]})),
            "detectors[0].entity",
        ),
        (
            one_detector(json!({"type": "new_value", "name": "a", "entity": "user",
                                "features": [""]})),
            "detectors[0].features",
        ),
        (
            one_detector(json!({"type": "sequence", "name": "a", "session": ""})),
            "detectors[0].session",
        ),
        (
            one_detector(json!({"type": "gauge", "name": "a", "value_field": ""})),
            "detectors[0].value_field",
        ),
        (
            json!({"version": 1, "extract": [{"from": "", "pattern": "a {x} b"}]}),
            "extract[0].from",
        ),
    ]);
}

/// README, False positives: an `allowlist` entry drops findings "(all
/// detectors, or one by `detector`)"; `suppress` drops findings "by
/// detector". Principle: a reference to a detector the policy does not
/// define is a typo and must be refused, not silently ignored.
///
/// Found by review (December 2026): `"detector": "frist_seen"` in
/// `allowlist` or `suppress` loaded and dropped nothing, so the operator
/// believed a false positive silenced while it kept firing
/// (`Policy::validate` checked only `allowlist[].field`; `suppress` not at
/// all). Now both are refused: "no detector is named `frist_seen`".
#[test]
fn allowlist_and_suppress_naming_an_undefined_detector_are_refused() {
    let det = json!([{"type": "new_value", "name": "first_seen", "entity": "user",
                      "features": ["source_ip"]}]);
    all_refused(&[
        (
            json!({"version": 1, "detectors": det,
                   "allowlist": [{"field": "source_ip", "values": ["10.0.0.5"],
                                  "detector": "frist_seen"}]}),
            "allowlist[0].detector",
        ),
        (
            json!({"version": 1, "detectors": det,
                   "suppress": [{"detector": "frist_seen", "entity": "svc-backup"}]}),
            "suppress[0].detector",
        ),
    ]);
}

/// README, Conditions: `eq` takes a "string, number or bool".
///
/// Found by review (December 2026): an object or an array loaded
/// (`Condition::eq` is any `serde_json::Value`, and `conds` in `validate`
/// checked only that some operator was set), and such a condition could
/// never hold, so the rule was silently dead. Now `conds` refuses it at
/// `where[j].eq`: "must be a string, number or bool (for a list, use `in`)".
#[test]
fn eq_with_an_object_or_array_is_refused() {
    let rule = |eq: Value| {
        one_detector(json!({"type": "threshold", "name": "a", "group_by": "user",
                            "window_secs": 600, "threshold": 5,
                            "where": [{"field": "outcome", "eq": eq}]}))
    };
    all_refused(&[
        (rule(json!({"value": "failure"})), "detectors[0].where[0]"),
        (rule(json!(["failure"])), "detectors[0].where[0]"),
    ]);
}

/// README, Extraction: a pattern is "literal text with {name} captures";
/// validation refuses "unbalanced { }".
///
/// Found by review (December 2026): a pattern whose `}` came before its
/// `{`, such as `"Failed for }user{ from"`, loaded: validation only
/// compared the counts of `{` and `}`, so a capture that was never closed
/// was taken as one named ` from`. Now `validate` checks that each `{` is
/// closed by the next `}` before another opens: "unbalanced { }: each
/// {name} closes before the next".
#[test]
fn extract_pattern_with_an_unclosed_capture_is_refused() {
    all_refused(&[(
        json!({"version": 1, "extract": [{"pattern": "Failed for }user{ from"}]}),
        "extract[0].pattern",
    )]);
}

/// Noted by the README review (not tested there): `half_life_secs` of
/// 1e-10 or 1e-300 loaded. Decay steps are whole half-lives of event time,
/// numbered by `i64`; today's number overflowed it, so nothing decayed
/// after the first step, the opposite of what was asked. Now a half-life
/// under a minute is refused where it is written.
#[test]
fn a_half_life_under_a_minute_is_refused() {
    for hl in [1e-300, 1e-10, 0.5, 59.0] {
        let p = json!({"version": 1, "half_life_secs": hl});
        let e = parse(&p).expect_err("refused");
        assert_eq!(e.key, "half_life_secs", "{hl}: {e}");
    }
    assert!(parse(&json!({"version": 1, "half_life_secs": 60})).is_ok());
}

/// README, False positives: operators act on false positives with
/// `allowlist` and `suppress`. Noted by the README review (not tested
/// there): the snapshot fingerprint covered the policy's name, `alerting`,
/// `allowlist` and `suppress`, so allowlisting one false positive made
/// every plugin refuse its saved state at the next restart and learn
/// afresh, holding alerts back for the learning period. Now (snapshot
/// format 6) those are left out of the fingerprint; what shapes the
/// learned state (detectors, fields, extraction, budget) is still in it.
#[test]
fn tuning_false_positives_keeps_the_learned_state() {
    let base: Value =
        serde_json::from_str(logseal_anomaly::policy::preset_text("ecs").unwrap()).unwrap();
    let mut a = Engine::new(parse(&base).unwrap());
    for ev in logseal_anomaly::testkit::stream() {
        a.score(&ev, None);
    }
    let saved = a.snapshot();
    let mut tuned = base.clone();
    tuned["name"] = json!("ecs-tuned");
    tuned["allowlist"] =
        json!([{"field": "source_ip", "values": ["10.0.0.5"], "detector": "first_seen"}]);
    tuned["suppress"] = json!([{"detector": "unusual_hour", "entity": "svc-backup"}]);
    tuned["alerting"]["dedup_secs"] = json!(3600);
    tuned["alerting"]["report_p"] = json!(0.001);
    let mut b = Engine::new(parse(&tuned).unwrap());
    assert_eq!(b.restore(&saved), Ok(()));
    let mut changed = base.clone();
    changed["detectors"][0]["window_secs"] = json!(1200);
    let mut c = Engine::new(parse(&changed).unwrap());
    assert_eq!(
        c.restore(&saved),
        Err(logseal_anomaly::StateError::PolicyMismatch)
    );
}

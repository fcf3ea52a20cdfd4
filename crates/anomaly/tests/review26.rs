//! Review 26: what an operator can do about false positives (`allowlist`,
//! `suppress`, `alerting.dedup_secs`, `Engine::mark_normal`) and whether
//! it does what README "False positives" says, with `fold_case`, `absent`,
//! `source_ip` spellings, snapshots and the verdict's flat fields.

mod review;

use logseal_anomaly::{Engine, Policy, Severity, Verdict};
use review::{HOUR, T0, engine};
use serde_json::{Value, json};

/// The features of a verdict's reasons.
fn features(v: &Verdict) -> Vec<String> {
    v.reasons.iter().map(|r| r.feature.clone()).collect()
}

/// A `threshold` rule `failed` that fires on every failure of a user
/// (`threshold: 0`), with `extra` policy members.
fn every_failure(extra: Value) -> Value {
    let mut p = json!({
        "version": 1,
        "alerting": {"dedup_secs": 600},
        "detectors": [{"type": "threshold", "name": "failed", "threshold": 0, "window_secs": 600,
                       "where": [{"field": "outcome", "eq": "failure"}], "group_by": "user"}]
    });
    for (k, x) in extra.as_object().unwrap() {
        p[k] = x.clone();
    }
    p
}

// ------------------------------------------------------------------ dedup

/// A frozen (`online: false`) `sequence` detector over mined templates in
/// one global session, as `tests/feedback.rs` has it, but with the default
/// deduplication `dedup` (600 s by default): learns `A B C` for 40 events.
fn frozen_with_dedup(dedup: i64) -> (Engine, i64) {
    let p = Policy::parse(
        &json!({
            "version": 1,
            "fields": {"message": "msg"},
            "learning": {"period_secs": 0, "period_events": 40, "min_entity_events": 1},
            "alerting": {"report_p": 0.1, "evidence_p": 0.2, "dedup_secs": dedup,
                         "severity_thresholds": [0.1, 0.5, 0.66, 0.83]},
            "detectors": [{"type": "sequence", "name": "seq", "session": "global", "history": 2,
                           "top_k": 1, "rare_templates": false, "online": false}]
        })
        .to_string(),
    )
    .expect("policy");
    let mut e = Engine::new(p);
    let mut i = 0i64;
    for _ in 0..13 {
        for m in [A, B, C] {
            e.score(&ev(i, m), None);
            i += 1;
        }
    }
    e.score(&ev(i, A), None);
    (e, i + 1)
}

const A: &str = "connection opened from host";
const B: &str = "request served in time";
const C: &str = "connection closed by peer";

fn ev(i: i64, msg: &str) -> Value {
    json!({"timestamp": T0 + i, "msg": msg})
}

/// README, False positives: "`dedup_secs` reports the same (detector,
/// entity, finding) once per window".
///
/// Found: a frozen `sequence` detector (`online: false`, the DeepLog set-up
/// `mark_normal` is for) gives every template it has never seen the id
/// `UNKNOWN`, and the dedup key of its findings is `(UNKNOWN, session)` for
/// the template finding and `(context, UNKNOWN ^ session)` for the next
/// event. So *any* second never-seen message of the session within
/// `dedup_secs` is taken for a repeat of the first and muted: after
/// `disk quota exceeded for volume` is reported, `watchdog reset the whole
/// machine now please` 4 seconds later (a different message, also never
/// seen, in the same context) gives an empty verdict. With the usual one
/// global session of a syslog stream this mutes every new kind of error
/// for 10 minutes after the first; the operator sees one alert for what
/// were several distinct failures. (A detector whose template table is
/// full, `online: true`, has the same `UNKNOWN` id.)
///
/// Fix: key an `UNKNOWN` finding by the text it names (the clipped,
/// masked line `current_name` already shows, or its hash), not by the id
/// `UNKNOWN`, in both the template and the next-event dedup keys.
///
/// Now: an `UNKNOWN` finding is keyed by the text it names (`tkey`).
#[test]
fn dedup_mutes_a_different_never_seen_template_of_a_frozen_model() {
    let (mut e, mut i) = frozen_with_dedup(600);
    e.score(&ev(i, B), None);
    i += 1;
    let first = e.score(&ev(i, "disk quota exceeded for volume"), None);
    i += 1;
    assert!(
        features(&first).contains(&"template".to_string()),
        "control: the first new template is reported: {}",
        first.to_json()
    );
    for m in [C, A, B] {
        e.score(&ev(i, m), None);
        i += 1;
    }
    let other = e.score(&ev(i, "watchdog reset the whole machine now please"), None);
    assert!(
        other
            .reasons
            .iter()
            .any(|r| r.feature == "template" && r.observed.contains("watchdog")),
        "a different never-seen message, 4 s later, muted as a repeat of the first: {}",
        other.to_json()
    );
}

/// Control for the above: the same message again within the window *is*
/// muted (what dedup is for), so the fix must keep this.
#[test]
fn dedup_mutes_the_same_never_seen_template_of_a_frozen_model() {
    let (mut e, mut i) = frozen_with_dedup(600);
    e.score(&ev(i, B), None);
    i += 1;
    let first = e.score(&ev(i, "disk quota exceeded for volume"), None);
    i += 1;
    assert!(first.severity > Severity::None, "{}", first.to_json());
    for m in [C, A, B] {
        e.score(&ev(i, m), None);
        i += 1;
    }
    let again = e.score(&ev(i, "disk quota exceeded for volume"), None);
    assert_eq!(again.severity, Severity::None, "{}", again.to_json());
}

/// README, False positives: "`dedup_secs` reports the same (detector,
/// entity, finding) once per window, measured either way in time (a window
/// starts when a finding is reported ...)"; README, Timestamps: a record
/// back within 30 days "is taken at once" (several shippers, retries, a
/// forwarder's backlog).
///
/// Found: a finding's window is one stamp, overwritten by each report
/// (`*self.dedup.entry(h.dkey).0 = now`), and a late record lies outside
/// the window by the measure "either way", so it is reported and moves the
/// stamp back to its own time. The live repeat that follows is then far
/// from the stamp and reported too, although it is 120 s after the live
/// report that opened the window: bob's failures at 10:00 (reported),
/// 10:01 (muted), one record of 09:00 shipped late (reported), 10:02
/// (reported again). Interleave a lagging source with the live one and
/// every repeat of both is reported: dedup does nothing.
///
/// Fix: do not move a window back: keep the latest report time (`max`) and
/// the earliest, or one stamp per direction, and mute a repeat within
/// `dedup_secs` of either.
///
/// Now: a dedup window never moves back (the latest report time is kept).
#[test]
fn a_late_record_reopens_the_live_dedup_window() {
    let mut e = engine(&every_failure(json!({})));
    let fail = |t: i64| json!({"timestamp": T0 + t, "user": "bob", "outcome": "failure"});
    let live = 10 * HOUR;
    let v = e.score(&fail(live), None);
    assert!(v.severity > Severity::None, "control: {}", v.to_json());
    let v = e.score(&fail(live + 60), None);
    assert_eq!(v.severity, Severity::None, "control: {}", v.to_json());
    // one record an hour late, whatever its own verdict
    e.score(&fail(live - HOUR), None);
    let v = e.score(&fail(live + 120), None);
    assert_eq!(
        v.severity,
        Severity::None,
        "a repeat 120 s after the live report, reported again after one late record: {}",
        v.to_json()
    );
}

/// README, False positives: "the same (detector, entity, finding)"; for
/// `new_value` each value is its own finding, for `unusual_hour` each hour.
///
/// Found: an `impossible_travel` finding's dedup key is the entity alone
/// (`combine(dseed, hash_str(0, &e))`), so after alice's Berlin → São Paulo
/// travel is reported, her login from Tokyo five minutes later (another
/// impossible travel, 18,500 km, to a third continent: the account is used
/// from two places that are not hers) is muted for the rest of the window.
/// The muted one is not a repeat: its observed distance, destination and
/// severity differ. A `new_value` detector on `country` would report Tokyo
/// (its key holds the value), a travel detector alone reports nothing.
///
/// Fix: key the travel finding by entity and destination (rounded
/// position, or country when mapped), so a repeat from the same place is
/// muted and a new place is not.
///
/// Now: a travel finding is keyed by entity and destination (a 1° cell).
#[test]
fn dedup_mutes_an_impossible_travel_to_another_place() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 0, "min_entity_events": 1},
        "alerting": {"dedup_secs": 600},
        "detectors": [{"type": "impossible_travel", "name": "travel", "entity": "user"}]
    }));
    let at = |t: i64, lat: f64, lon: f64| json!({"timestamp": T0 + t, "user": "alice", "lat": lat, "lon": lon});
    e.score(&at(0, 52.52, 13.40), None); // Berlin
    let v = e.score(&at(HOUR, -23.55, -46.63), None); // São Paulo
    assert!(v.severity > Severity::None, "control: {}", v.to_json());
    let v = e.score(&at(HOUR + 300, 35.68, 139.69), None); // Tokyo
    assert!(
        v.reasons.iter().any(|r| r.feature == "travel"),
        "a travel to a third continent muted as a repeat of the first: {}",
        v.to_json()
    );
}

/// Pinned (holds): the dedup windows are part of the snapshot, so a
/// restart does not report again what was reported a minute before it
/// (README, State snapshots: "a restored engine continues
/// byte-identically").
#[test]
fn a_dedup_window_survives_snapshot_and_restore() {
    let p = every_failure(json!({}));
    let mut e = engine(&p);
    let fail = |t: i64| json!({"timestamp": T0 + t, "user": "bob", "outcome": "failure"});
    assert!(e.score(&fail(0), None).severity > Severity::None);
    let mut r = engine(&p);
    r.restore(&e.snapshot()).expect("restore");
    let v = r.score(&fail(60), None);
    assert_eq!(v.severity, Severity::None, "{}", v.to_json());
    let v = r.score(&fail(700), None);
    assert!(v.severity > Severity::None, "{}", v.to_json());
}

// -------------------------------------------------------------- allowlist

/// README, Policy: "`source_ip` read from a mapped path takes ... an
/// IPv4-mapped one (`::ffff:203.0.113.9:51234`) as the address, so one
/// client's connections are one client", and `source_net` counts an
/// IPv4-mapped address as IPv4; README, False positives: "`allowlist`
/// entries drop findings ... for events whose field has one of the values".
///
/// Found: the allowlist compares the value as read, and `source_ip` keeps
/// the `::ffff:` prefix (only the port goes) and the case of IPv6 hex
/// digits. An operator who allowlists the scanner `10.0.0.5` still gets its
/// alerts when a dual-stack listener (Node.js, Java, nginx with
/// `listen [::]`) writes it `::ffff:10.0.0.5`, and one who allowlists
/// `2001:db8::5` still gets them when a Windows or Cisco log writes
/// `2001:DB8::5`. The same spellings split one client across `new_value`
/// values and rule groups.
///
/// Fix: read `source_ip` in one canonical form (IPv4-mapped as IPv4,
/// IPv6 in RFC 5952 form, which also lowercases) wherever it is read, and
/// canonicalise the allowlist's `source_ip` values the same way at
/// `Engine::new` (as `fold_case` values are folded).
///
/// Now: `source_ip` is read in its canonical text (`canonical_ip`: IPv6 lowercase and compressed, IPv4-mapped as IPv4), and allowlist and condition values on it too.
#[test]
fn an_allowlisted_address_alerts_under_another_spelling() {
    let mut bad = Vec::new();
    for (allowed, seen) in [
        ("10.0.0.5", "10.0.0.5:51234"), // control: the port is dropped
        ("10.0.0.5", "::ffff:10.0.0.5:51234"),
        ("10.0.0.5", "::ffff:10.0.0.5"),
        ("2001:db8::5", "2001:DB8::5"),
    ] {
        let mut e = engine(&every_failure(json!({
            "allowlist": [{"field": "source_ip", "values": [allowed]}]
        })));
        let v = e.score(
            &json!({"timestamp": T0, "user": "bob", "outcome": "failure", "source_ip": seen}),
            None,
        );
        if v.severity != Severity::None {
            bad.push(format!("allowlisted {allowed}, reported as {seen}"));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// README, Policy, No value: "`absent` ... text values that mean 'no
/// value'. A path holding one is read as absent" (default `["", "-"]`, new
/// in review 25); README, False positives: allowlist entries drop findings
/// "for events whose field has one of the values".
///
/// Found: an allowlist value that is one of the `absent` values can never
/// match (the field reads as absent, `ctx.get` gives `None`), and
/// validation accepts it. `{"field": "user_agent", "values": ["-"]}` (the
/// health checks and scripts that send no user agent, which Envoy, nginx
/// and Apache write `-`) was a working allowlist entry before review 25
/// made `-` no value; now it silently allowlists nothing and those events
/// alert again, with nothing in the policy load to say so.
///
/// Fix: refuse, at `allowlist[i].values[j]`, a value that is one of the
/// policy's `absent` values (it can never match; say to remove it from
/// `absent` or to allowlist events by a field they do have), or let an
/// allowlist on such a value match a field that is present with it.
///
/// Now: refused at `allowlist[i].values[j]`.
#[test]
fn an_allowlist_value_read_as_no_value_is_accepted_and_does_nothing() {
    let p = every_failure(json!({
        "allowlist": [{"field": "user_agent", "values": ["-"]}]
    }));
    let Ok(policy) = Policy::parse(&p.to_string()) else {
        return; // refused: fixed
    };
    let mut e = Engine::new(policy);
    let v = e.score(
        &json!({"timestamp": T0, "user": "bob", "outcome": "failure", "user_agent": "-"}),
        None,
    );
    assert_eq!(
        v.severity,
        Severity::None,
        "accepted allowlist entry for user_agent `-` allowlisted nothing: {}",
        v.to_json()
    );
}

// --------------------------------------------------------------- suppress

/// README, False positives: "`suppress` drops findings by detector /
/// entity / feature (`*` wildcards)".
///
/// Found: `*` is a wildcard only as the whole text; `"entity": "svc-*"`,
/// what "wildcards" suggests for the service accounts an operator means to
/// silence, is compared as written, loads without a word and suppresses
/// nothing (`svc-backup`'s failures are still reported).
///
/// Fix: either match `*` inside a text as a glob (prefix/suffix at least),
/// or refuse an `entity`/`feature` that holds `*` beside other text, and
/// say in the README that `*` means "any" only alone.
///
/// Now: `*` is a wildcard anywhere in a `suppress` entry (`glob`).
#[test]
fn a_partial_wildcard_in_suppress_suppresses_nothing_silently() {
    let p = every_failure(json!({
        "suppress": [{"detector": "failed", "entity": "svc-*"}]
    }));
    let Ok(policy) = Policy::parse(&p.to_string()) else {
        return; // refused: fixed
    };
    let mut e = Engine::new(policy);
    let v = e.score(
        &json!({"timestamp": T0, "user": "svc-backup", "outcome": "failure"}),
        None,
    );
    assert_eq!(
        v.severity,
        Severity::None,
        "accepted suppression `svc-*` suppressed nothing: {}",
        v.to_json()
    );
}

/// Pinned (holds): a suppressed finding counts for nothing in the flat
/// fields: with a strong finding suppressed and a weak one left that is
/// no alert alone, the verdict is quiet (not `reason` "" with a score from
/// the suppressed one); and with the strong one left, `reason` is its text
/// and the score its own.
#[test]
fn suppressed_findings_do_not_score() {
    let dets = json!([
        {"type": "threshold", "name": "strong", "threshold": 0, "window_secs": 600,
         "where": [{"field": "outcome", "eq": "failure"}], "group_by": "user"},
        {"type": "threshold", "name": "weak", "threshold": 0, "window_secs": 600,
         "expected": 0.1, "where": [{"field": "outcome", "eq": "failure"}], "group_by": "user"}
    ]);
    let event = json!({"timestamp": T0, "user": "bob", "outcome": "failure"});
    let mut e = engine(&json!({"version": 1, "alerting": {"dedup_secs": 0},
                               "suppress": [{"detector": "strong"}], "detectors": dets}));
    let v = e.score(&event, None);
    assert_eq!(v.to_json(), Verdict::none().to_json());
    let mut e = engine(&json!({"version": 1, "alerting": {"dedup_secs": 0},
                               "suppress": [{"detector": "weak"}], "detectors": dets}));
    let v = e.score(&event, None);
    assert!(v.severity > Severity::None, "{}", v.to_json());
    assert_eq!(v.reasons.len(), 1);
    assert!(
        v.to_json()
            .contains(&format!("\"reason\":{:?}", v.reasons[0].text))
    );
}

/// README, Policy, Case: `fold_case` fields are "read trimmed and
/// lowercased"; README, Policy: "`source_ip` read from a mapped path takes
/// an IPv4 address with a port (`192.168.225.174:49848`) ... as the
/// address"; validation refuses `fold_case` only for `outcome` and
/// `source_net` ("normalised already").
///
/// Found: `FieldRef::new` picks `Kind::Fold` before `Kind::SourceIp`, so
/// `fold_case: ["source_ip"]` (what an operator adds to make `2001:DB8::5`
/// and `2001:db8::5` one client, see
/// `an_allowlisted_address_alerts_under_another_spelling`) silently turns
/// off the port handling: `10.0.0.5:51234` is no longer `10.0.0.5`, the
/// allowlisted `10.0.0.5` alerts again on every connection, and rules by
/// `source_ip` count each connection apart (the Envoy case README says was
/// fixed).
///
/// Fix: fold a `source_ip` value after taking its port off (a kind for
/// both), or refuse `fold_case` on `source_ip` as on `source_net`.
///
/// Now: `source_ip` in `fold_case` is refused (it is normalised already).
#[test]
fn fold_case_on_source_ip_drops_the_port_handling_the_allowlist_relies_on() {
    let p = every_failure(json!({
        "fold_case": ["source_ip"],
        "allowlist": [{"field": "source_ip", "values": ["10.0.0.5"]}]
    }));
    let Ok(policy) = Policy::parse(&p.to_string()) else {
        return; // refused: fixed
    };
    let mut e = Engine::new(policy);
    let v = e.score(
        &json!({"timestamp": T0, "user": "bob", "outcome": "failure",
                "source_ip": "10.0.0.5:51234"}),
        None,
    );
    assert_eq!(
        v.severity,
        Severity::None,
        "allowlisted 10.0.0.5 reported as 10.0.0.5:51234 once source_ip is folded: {}",
        v.to_json()
    );
}

// -------------------------------------------- allowlist beyond its events

/// README, Policy, Conditions: "A field written `F.*` is an array, and the
/// condition holds when any of its first 256 items meets it" (ECS writes
/// `tags`, `event.category`, `related.ip` as lists); README, False
/// positives: allowlist entries drop findings "for events whose field has
/// one of the values".
///
/// Found: the allowlist reads its field with `ctx.get`, which knows no
/// `F.*` and no arrays, and validation checks only that `field` is not
/// empty. `{"field": "tags.*", "values": ["vulnerability-scan"]}` (the
/// way conditions of the same policy read that list) loads and never
/// matches, and so does `"field": "tags"` (a list is no value): the
/// scanner's events keep alerting, with nothing in the policy load to say
/// the entry is dead.
///
/// Fix: let an allowlist entry on `F.*` match when any item is one of the
/// values (as conditions do, through `check_any`), or refuse it at
/// `allowlist[i].field`.
///
/// Now: an allowlist entry is a condition on `F.*`: a list matches by any item.
#[test]
fn an_allowlist_on_a_list_field_is_accepted_and_never_matches() {
    let mut bad = Vec::new();
    for field in ["tags.*", "tags"] {
        let p = every_failure(json!({
            "allowlist": [{"field": field, "values": ["vulnerability-scan"]}]
        }));
        let Ok(policy) = Policy::parse(&p.to_string()) else {
            continue; // refused: fixed
        };
        let mut e = Engine::new(policy);
        let v = e.score(
            &json!({"timestamp": T0, "user": "bob", "outcome": "failure",
                    "tags": ["vulnerability-scan", "internal"]}),
            None,
        );
        if v.severity != Severity::None {
            bad.push(format!(
                "allowlist on `{field}` accepted, reported: {}",
                v.to_json()
            ));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

// ------------------------------------------------------------ composition

/// README, False positives: an allowlist entry drops a detector's findings
/// for the events it matches; nothing else.
///
/// Found (listed as a limit at first, fixed in session 32): a
/// `composition` detector marks a session reported when it finds a new
/// combination, before the allowlist dropped the finding, so an allowlisted
/// step used up the session's one report and a later, not allowlisted,
/// step of a combination no learned session had was never reported.
/// Now: the allowlist is read before the detectors and an allowlisted step
/// leaves the session's report for a later one.
#[test]
fn an_allowlisted_composition_step_leaves_the_report_for_a_later_one() {
    // 1,000 learned sessions: {open, read, close} and {open, debug-dump, close}
    let learned = |allow: &str| {
        let mut e = engine(&json!({
            "version": 1,
            "learning": {"period_secs": 0, "period_events": 4000, "min_entity_events": 1},
            "alerting": {"dedup_secs": 0},
            "allowlist": [{"field": "op", "values": ["debug-dump"], "detector": allow}],
            "detectors": [{"type": "composition", "name": "steps", "session": "block",
                           "template": "op", "online": false,
                           "end_where": [{"field": "closed", "eq": true}]},
                          {"type": "threshold", "name": "other", "threshold": 1000,
                           "window_secs": 60, "group_by": "user"}]
        }));
        for s in 0..1000i64 {
            let b = format!("b{s}");
            let mid = if s % 2 == 0 { "read" } else { "debug-dump" };
            for (j, op) in ["open", mid, "close"].into_iter().enumerate() {
                e.score(
                    &json!({"timestamp": T0 + 4 * s + j as i64, "block": b, "op": op}),
                    None,
                );
            }
            e.score(
                &json!({"timestamp": T0 + 4 * s + 3, "block": b, "closed": true}),
                None,
            );
        }
        e
    };
    let steps = |e: &mut Engine| -> Vec<Verdict> {
        ["open", "read", "debug-dump", "close"]
            .iter()
            .enumerate()
            .map(|(j, op)| {
                e.score(
                    &json!({"timestamp": T0 + 5000 + j as i64, "block": "c", "op": op}),
                    None,
                )
            })
            .collect()
    };
    // the control: allowlisted for another detector, the new combination
    // {open, read, debug-dump} is reported at its step, once
    let v = steps(&mut learned("other"));
    assert_eq!(features(&v[2]), ["composition"], "{v:?}");
    assert_eq!(v[3].severity, Severity::None, "{v:?}");
    // allowlisted for `steps`: nothing at that step, the next one reports
    let v = steps(&mut learned("steps"));
    assert_eq!(v[2].severity, Severity::None, "allowlisted: {:?}", v[2]);
    assert_eq!(
        features(&v[3]),
        ["composition"],
        "the later step is still a new combination: {v:?}"
    );
}

// --------------------------------------------------------------- suppress

/// README, False positives: `suppress` drops findings by detector / entity
/// / feature.
///
/// Found (listed as a limit at first, fixed in session 32): an entry whose
/// `feature` no finding of its detector names (a typo, `contry`) was
/// accepted and suppressed nothing. Now validation refuses it, naming the
/// features the detector's findings have; globs and `*` still work.
#[test]
fn a_suppress_feature_no_finding_names_is_refused() {
    let with = |detector: &str, feature: &str| {
        let mut p = every_failure(json!({}));
        p["detectors"].as_array_mut().unwrap().push(json!(
            {"type": "new_value", "name": "first_seen", "entity": "user",
             "features": ["source_ip", "country"]}));
        p["suppress"] = json!([{"detector": detector, "entity": "alice", "feature": feature}]);
        Policy::parse(&p.to_string())
    };
    let e = with("first_seen", "contry").expect_err("a typo is refused");
    let text = e.to_string();
    assert!(
        text.contains("suppress[0].feature")
            && text.contains("`country`")
            && text.contains("`source_ip`"),
        "{text}"
    );
    // the threshold rule's findings are `count`: `country` is not one of them
    let e = with("failed", "country").expect_err("another detector's feature");
    assert!(e.to_string().contains("`count`"), "{e}");
    for (d, f) in [
        ("first_seen", "country"),
        ("first_seen", "*"),
        ("first_seen", "source_*"),
        ("*", "count"),
        ("*", "country"),
        ("failed", "count"),
    ] {
        with(d, f).unwrap_or_else(|e| panic!("{d} {f}: {e}"));
    }
    // what the detectors report is what validation knows: a finding of
    // `country`, suppressed for alice, not for bob
    let mut e = engine(&{
        let mut p = json!({"version": 1,
            "learning": {"period_secs": 0, "period_events": 400, "min_entity_events": 1},
            "alerting": {"dedup_secs": 0},
            "detectors": [{"type": "new_value", "name": "first_seen", "entity": "user",
                           "features": ["country"]}]});
        p["suppress"] =
            json!([{"detector": "first_seen", "entity": "alice", "feature": "country"}]);
        p
    });
    for i in 0..300 {
        for u in ["alice", "bob"] {
            e.score(
                &json!({"timestamp": T0 + i * HOUR, "user": u, "country": "NL"}),
                None,
            );
        }
    }
    let t = T0 + 301 * HOUR;
    let a = e.score(
        &json!({"timestamp": t, "user": "alice", "country": "KP"}),
        None,
    );
    let b = e.score(
        &json!({"timestamp": t + 1, "user": "bob", "country": "KP"}),
        None,
    );
    assert_eq!(a.severity, Severity::None, "{a:?}");
    assert_eq!(features(&b), ["country"], "{b:?}");
}

// ------------------------------------------------------ not fixed (README)
//
// One finding of this review is a limit the README states, not fixed,
// its test removed (it failed on the code reviewed; three more, the
// `composition` report used up by an allowlisted finding and a `suppress`
// feature typo, tests above, and a mark after a later never-seen line,
// test `a_mark_after_a_later_unknown_line_learns_no_context` in
// src/engine/tests.rs with snapshot format 10, were fixed in session 32):
// - a `mark_normal` counts in the novelty estimates (`novel`, a context's
//   total and singles): an operator marks exactly the events reported as
//   new, so each mark makes other never-seen events look less new (one
//   mark on a 40-event model took a different new message from p 0.095 to
//   0.116: not reported);

//! Review (December 2026) of f70d179 (snapshot format 5), 9025f02 (array
//! segments) and ec0221d (preset review, `F.*`, `skip`, `source_ip`).
//!
//! Each test not named `control_*` is a finding that failed at ec0221d and
//! holds since its fix: `F.*` reads a single value as a list of one, every
//! item of the list (not only the first 16, past a `null`) and, with
//! `or_missing`/`exists: false`, an absent list; the ECS failure rules
//! count events without a category; arrays under flattened keys are read
//! by both event views; the OCSF behaviour detectors keep the actor as the
//! user (the failure rules read `auth_user`); forged snapshot counters
//! saturate instead of overflowing; `source_ip` drops the port of
//! `::ffff:a.b.c.d:port` and `[v6%zone]:port`. The `control_*` tests
//! passed before too and show the set-up is sound (most run the same
//! stream under the preset as it was before ec0221d, saved in
//! `tests/data/review/`).

use logseal_anomaly::testkit::iso;
use logseal_anomaly::{Engine, Policy, Verdict};
use serde_json::{Value, json};

/// 2024-12-02T00:00:00Z (a Monday).
const T0: i64 = 1_733_097_600;

fn run(e: &mut Engine, evs: &[Value]) -> Vec<Verdict> {
    evs.iter().map(|v| e.score(v, None)).collect()
}

fn fired(vs: &[Verdict], det: &str) -> bool {
    vs.iter()
        .flat_map(|v| v.reasons.iter())
        .any(|r| r.detector == det)
}

fn fired_for(vs: &[Verdict], det: &str, entity: &str) -> bool {
    vs.iter()
        .flat_map(|v| v.reasons.iter())
        .any(|r| r.detector == det && r.entity == entity)
}

fn dump(vs: &[Verdict]) -> String {
    vs.iter()
        .filter(|v| !v.reasons.is_empty())
        .map(|v| v.to_json())
        .collect::<Vec<_>>()
        .join("\n")
}

fn preset(name: &str) -> Engine {
    Engine::new(Policy::preset(name).unwrap())
}

fn before(text: &str) -> Engine {
    Engine::new(Policy::parse(text).unwrap())
}

// ------------------------------------------------------------------- ECS

/// An ECS failed login. `category`: `None` leaves `event.category` out,
/// else it is written as given (a list, or one string).
fn ecs_failed_login(t: i64, category: Option<Value>) -> Value {
    let mut v = json!({
        "@timestamp": iso(t),
        "event": {"action": "logon-failed", "outcome": "failure"},
        "user": {"name": "alice"},
        "source": {"ip": "203.0.113.7"}
    });
    if let Some(c) = category {
        v["event"]["category"] = c;
    }
    v
}

fn ecs_failures(category: Option<Value>) -> Vec<Value> {
    (0..8)
        .map(|i| ecs_failed_login(T0 + 10 * i, category.clone()))
        .collect()
}

/// `event.category` written as one string (`"authentication"`): ECS
/// fields are keyword arrays where one value and a list of one are the same
/// to Elasticsearch and to Elastic's own rules (`event.category:
/// authentication` matches both), and many shippers and hand-written
/// mappings write the string. `event.category.*` reads `event.category.0`,
/// which a string does not have, so eight failed logins of alice in 80 s
/// are silent.
#[test]
fn ecs_failed_logins_with_category_as_a_string_are_counted() {
    let mut e = preset("ecs");
    let vs = run(&mut e, &ecs_failures(Some(json!("authentication"))));
    assert!(
        fired(&vs, "failed_logins"),
        "8 failures with event.category \"authentication\" (a string): failed_logins silent\n{}",
        dump(&vs)
    );
}

/// ECS records with `event.outcome: failure` but no `event.category` at
/// all (custom applications mapped to ECS, older Beats modules, Logstash
/// pipelines that set only `event.action`/`event.outcome`; the crate's own
/// `testkit::login` had no category until ec0221d had to add one): every
/// failure rule of the `ecs` preset went silent for them.
#[test]
fn ecs_failed_logins_without_category_are_counted() {
    let mut e = preset("ecs");
    let vs = run(&mut e, &ecs_failures(None));
    assert!(
        fired(&vs, "failed_logins"),
        "8 failures without event.category: failed_logins silent\n{}",
        dump(&vs)
    );
}

/// The same failures written with flattened names (`"event.category":
/// ["authentication"]`, a dotted member, as Vector or Logstash flattening
/// writes ECS): `event.category.0` is not found under a dotted member (see
/// the pipeline's `array_under_a_flattened_key_is_read`), so the list is
/// there and still nothing is counted.
#[test]
fn ecs_flattened_failed_logins_are_counted() {
    let evs: Vec<Value> = (0..8)
        .map(|i| {
            json!({
                "@timestamp": iso(T0 + 10 * i),
                "event.category": ["authentication"],
                "event.action": "logon-failed",
                "event.outcome": "failure",
                "user.name": "alice",
                "source.ip": "203.0.113.7"
            })
        })
        .collect();
    let mut e = before(include_str!("data/review/ecs-before.json"));
    assert!(fired(&run(&mut e, &evs), "failed_logins"), "control");
    let mut e = preset("ecs");
    let vs = run(&mut e, &evs);
    assert!(
        fired(&vs, "failed_logins"),
        "8 flattened ECS failures with event.category [authentication]: failed_logins silent\n{}",
        dump(&vs)
    );
}

#[test]
fn control_ecs_failed_logins_before_ec0221d() {
    for cat in [None, Some(json!("authentication"))] {
        let mut e = before(include_str!("data/review/ecs-before.json"));
        let vs = run(&mut e, &ecs_failures(cat.clone()));
        assert!(fired(&vs, "failed_logins"), "{cat:?}");
    }
    let mut e = preset("ecs");
    let vs = run(&mut e, &ecs_failures(Some(json!(["authentication"]))));
    assert!(fired(&vs, "failed_logins"));
}

// ------------------------------------------------------------------ OCSF

fn ocsf_loc(lat: f64, long: f64, ip: &str, country: &str) -> Value {
    json!({"ip": ip, "location": {"lat": lat, "long": long, "country": country}})
}

/// mallory logs on in Paris (Authentication, 3002: `user` is mallory), then
/// five minutes later, from Sydney, resets victim's password (Account
/// Change, 3001: `actor.user` is mallory, who acts; `user` is victim, "the
/// user that was a target of an activity", ocsf-schema
/// `events/iam/account_change.json`). With `user.name` read before
/// `actor.user.name`, the account change is victim's: the travel of the
/// account that acted is not seen, and victim is charged with a change it
/// underwent.
fn ocsf_actor_stream() -> Vec<Value> {
    vec![
        // a day before: the learning period (a day) is over by the two
        // events that matter
        json!({
            "class_uid": 3002, "class_name": "Authentication", "activity_id": 1,
            "activity_name": "Logon", "status_id": 1, "status": "Success",
            "time": (T0 - 90_000) * 1000,
            "user": {"name": "carol"},
            "src_endpoint": ocsf_loc(52.52, 13.40, "198.51.100.20", "DE")
        }),
        json!({
            "class_uid": 3002, "class_name": "Authentication", "activity_id": 1,
            "activity_name": "Logon", "status_id": 1, "status": "Success",
            "time": T0 * 1000,
            "user": {"name": "mallory", "uid": "S-1-5-21-1-1104"},
            "src_endpoint": ocsf_loc(48.85, 2.35, "198.51.100.7", "FR")
        }),
        json!({
            "class_uid": 3001, "class_name": "Account Change", "activity_id": 4,
            "activity_name": "Password Reset", "status_id": 1, "status": "Success",
            "time": (T0 + 300) * 1000,
            "actor": {"user": {"name": "mallory", "uid": "S-1-5-21-1-1104"}},
            "user": {"name": "victim", "uid": "S-1-5-21-1-1200"},
            "src_endpoint": ocsf_loc(-33.87, 151.21, "203.0.113.9", "AU")
        }),
    ]
}

#[test]
fn ocsf_account_change_is_the_actors_event() {
    let mut e = preset("ocsf");
    let vs = run(&mut e, &ocsf_actor_stream());
    assert!(
        fired_for(&vs, "impossible_travel", "mallory"),
        "mallory in Paris, then 5 min later resetting a password from Sydney: no travel finding for mallory\n{}",
        dump(&vs)
    );
}

#[test]
fn control_ocsf_account_change_before_ec0221d() {
    let mut e = before(include_str!("data/review/ocsf-before.json"));
    let vs = run(&mut e, &ocsf_actor_stream());
    assert!(
        fired_for(&vs, "impossible_travel", "mallory"),
        "{}",
        dump(&vs)
    );
}

// ------------------------------------------------------ `F.*` conditions

fn threshold_on(cond: Value) -> Engine {
    let p = json!({
        "version": 1,
        "detectors": [{
            "type": "threshold", "name": "t", "where": [cond],
            "group_by": "user", "window_secs": 600, "threshold": 2
        }]
    });
    Engine::new(Policy::parse(&p.to_string()).unwrap())
}

fn with_groups(groups: Option<Value>) -> Vec<Value> {
    (0..5)
        .map(|i| {
            let mut v = json!({"timestamp": T0 + i, "user": "bob"});
            if let Some(g) = &groups {
                v["groups"] = g.clone();
            }
            v
        })
        .collect()
}

/// Only the first 16 items of an array are looked at (`ANY_ITEMS`), and
/// the README says so, but a user's groups (Kubernetes `user.groups` from
/// OIDC or LDAP, `user.roles`) often number more: the 18th group is
/// invisible to `eq`, and a `not` on it holds although the group is there.
#[test]
fn any_item_condition_sees_the_18th_group() {
    let mut groups: Vec<String> = (0..17).map(|i| format!("team-{i}")).collect();
    groups.push("system:masters".into());
    let mut e = threshold_on(json!({"field": "groups.*", "eq": "system:masters"}));
    let vs = run(&mut e, &with_groups(Some(json!(groups))));
    assert!(
        fired(&vs, "t"),
        "system:masters as the 18th group is not seen"
    );
}

/// `{"field": "F.*", "exists": false}` never holds: `check` only looks at
/// items that exist, so "no item" is false whatever the record (for a
/// missing or empty array too). `exists: true` works; `exists: false`
/// silently matches nothing.
#[test]
fn any_item_exists_false_holds_for_a_missing_array() {
    let mut e = threshold_on(json!({"field": "groups.*", "exists": false}));
    let vs = run(&mut e, &with_groups(None));
    assert!(
        fired(&vs, "t"),
        "no groups at all, yet groups.* exists:false never held"
    );
    let mut e = threshold_on(json!({"field": "groups.*", "exists": false}));
    let vs = run(&mut e, &with_groups(Some(json!([]))));
    assert!(
        fired(&vs, "t"),
        "groups [], yet groups.* exists:false never held"
    );
}

/// The items are read "up to the first missing one", and a `null` or an
/// object item is missing to `get`: `[null, "x"]` or `[{"id": 1}, "x"]`
/// has no item `x` to `eq`, and a `not eq x` holds.
#[test]
fn any_item_condition_looks_past_a_null_item() {
    let mut e = threshold_on(json!({"field": "groups.*", "eq": "x", "not": true}));
    let vs = run(&mut e, &with_groups(Some(json!([null, "x"]))));
    assert!(
        !fired(&vs, "t"),
        "groups [null, \"x\"] counted as having no x"
    );
}

#[test]
fn control_any_item_condition() {
    let mut e = threshold_on(json!({"field": "groups.*", "eq": "x"}));
    assert!(fired(
        &run(&mut e, &with_groups(Some(json!(["a", "x"])))),
        "t"
    ));
    let mut e = threshold_on(json!({"field": "groups.*", "eq": "x", "not": true}));
    assert!(fired(&run(&mut e, &with_groups(None)), "t"));
    let mut e = threshold_on(json!({"field": "groups.*", "exists": true}));
    assert!(fired(&run(&mut e, &with_groups(Some(json!(["a"])))), "t"));
}

// ------------------------------------------------------------- snapshots

// Byte offsets in a format 5 or 6 snapshot: magic 8, version 2, fingerprint 8,
// key 8, first_t 8, last_t 8, events 8, epoch 8, peak_t 8, since_jump 8,
// jumps 4, jump_t 8.
const EVENTS: usize = 42;
const EPOCH: usize = 50;
const SINCE_JUMP: usize = 66;

fn forge(snap: &[u8], edits: &[(usize, [u8; 8])]) -> Vec<u8> {
    let mut b = snap.to_vec();
    for (at, bytes) in edits {
        b[*at..*at + 8].copy_from_slice(bytes);
    }
    let n = b.len() - 8;
    let sum = logseal_anomaly::store::hash_bytes(0x5A5A, &b[..n]);
    b[n..].copy_from_slice(&sum.to_le_bytes());
    b
}

fn clock_engine() -> Engine {
    Engine::new(Policy::parse(r#"{"version":1,"detectors":[]}"#).unwrap())
}

fn saved() -> Vec<u8> {
    let mut e = clock_engine();
    for t in 0..5 {
        e.score(&json!({"timestamp": T0 + t}), None);
    }
    assert_eq!(
        u16::from_le_bytes([e.snapshot_plain()[8], e.snapshot_plain()[9]]),
        11
    );
    e.snapshot_plain()
}

/// Restore either refuses the state or the engine scores on without a
/// panic.
fn restore_then_score(bytes: &[u8]) -> Result<(), String> {
    let mut e = clock_engine();
    if e.restore(bytes).is_err() {
        return Ok(());
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        e.score(&json!({"timestamp": T0 + 10}), None);
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Format 5's check `since_jump <= events` is said to keep the count from
/// overflowing, but `events` itself is not bounded: events = since_jump =
/// u64::MAX passes, and the next event overflows `since_jump += 1` in
/// `clock` (a panic in debug builds, a wrap in release).
#[test]
fn snapshot_v5_with_events_at_max_is_refused_or_harmless() {
    let b = forge(
        &saved(),
        &[
            (EVENTS, u64::MAX.to_le_bytes()),
            (SINCE_JUMP, u64::MAX.to_le_bytes()),
        ],
    );
    assert_eq!(restore_then_score(&b), Ok(()));
}

/// The decay epoch is restored unchecked (every format): an epoch just
/// above `i64::MIN` (the "not set" mark) passes, and the next event's
/// `e - self.epoch` in `maybe_decay` overflows.
#[test]
fn snapshot_with_forged_epoch_is_refused_or_harmless() {
    let b = forge(&saved(), &[(EPOCH, (i64::MIN + 1).to_le_bytes())]);
    assert_eq!(restore_then_score(&b), Ok(()));
}

#[test]
fn control_snapshot_round_trip() {
    assert_eq!(restore_then_score(&forge(&saved(), &[])), Ok(()));
}

// ------------------------------------------------------------ source_ip

fn per_ip_engine() -> Engine {
    let p = json!({
        "version": 1,
        "fields": {"source_ip": ["peer"]},
        "detectors": [{
            "type": "threshold", "name": "per_ip", "where": [],
            "group_by": "source_ip", "window_secs": 600, "threshold": 5
        }]
    });
    Engine::new(Policy::parse(&p.to_string()).unwrap())
}

/// Ten connections of one client, a new source port each.
fn connections(addr_port: impl Fn(u32) -> String) -> Vec<Value> {
    (0..10)
        .map(|i| json!({"timestamp": T0 + i as i64, "peer": addr_port(40_000 + 7 * i)}))
        .collect()
}

/// An IPv4-mapped address with its port and no brackets,
/// `::ffff:203.0.113.9:51234`, is what Node.js services log as
/// `${req.socket.remoteAddress}:${req.socket.remotePort}` on a dual-stack
/// socket, and it is unambiguous (nothing can follow the dotted quad of an
/// IPv6 text). `without_port` keeps the port (its head is no IPv4 address
/// and has no brackets), so each connection is its own client again.
#[test]
fn source_ip_mapped_address_with_port_is_one_client() {
    let mut e = per_ip_engine();
    let vs = run(&mut e, &connections(|p| format!("::ffff:203.0.113.9:{p}")));
    assert!(
        fired(&vs, "per_ip"),
        "10 connections from ::ffff:203.0.113.9 counted apart\n{}",
        dump(&vs)
    );
}

/// A link-local IPv6 peer with its zone and a port,
/// `[fe80::1%eth0]:443`: `Ipv6Addr` does not parse the zone, so the port
/// stays.
#[test]
fn source_ip_zoned_v6_with_port_is_one_client() {
    let mut e = per_ip_engine();
    let vs = run(&mut e, &connections(|p| format!("[fe80::1%eth0]:{p}")));
    assert!(
        fired(&vs, "per_ip"),
        "10 connections from fe80::1%eth0 counted apart"
    );
}

#[test]
fn control_source_ip_with_port() {
    for f in [
        |p: u32| format!("203.0.113.9:{p}"),
        |p: u32| format!("[2001:db8::9]:{p}"),
        |p: u32| format!("[::ffff:203.0.113.9]:{p}"),
    ] {
        let mut e = per_ip_engine();
        assert!(fired(&run(&mut e, &connections(f)), "per_ip"));
    }
}

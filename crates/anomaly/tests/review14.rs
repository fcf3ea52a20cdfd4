//! Review 14: the per-question combination (commit b1ddc23).

mod review;

#[allow(unused_imports)]
use review::*;

use logseal_anomaly::{Engine, Policy, Severity, Verdict};
use serde_json::{Value, json};

/// A new_value detector on `source_ip` for `entity`, named `name`.
fn nv(name: &str, entity: &str) -> Value {
    json!({"type": "new_value", "name": name, "entity": entity, "features": ["source_ip"]})
}

/// The `ecs` preset plus one `new_value` detector on `source_ip` of
/// `entity`; 99 logins of alice 20 minutes apart from 10.0.0.1 in DE, then
/// one from 192.0.2.7 in BR.
fn ecs_plus(entity: &str) -> Verdict {
    let mut p: Value =
        serde_json::from_str(logseal_anomaly::policy::preset_text("ecs").unwrap()).unwrap();
    p["detectors"]
        .as_array_mut()
        .unwrap()
        .push(nv("first_seen_name", entity));
    p["alerting"]["max_reasons"] = json!(8);
    let mut e = engine(&p);
    for i in 0..99 {
        e.score(&ecs_login(T0 + i * 1200, "10.0.0.1", "DE"), None);
    }
    e.score(&ecs_login(T0 + 99 * 1200, "192.0.2.7", "BR"), None)
}

/// Found: `group_q` merges two spellings of an entity only when their
/// `paths` lists are equal, but the `ecs` preset maps `user` to
/// `["user.name", "user.id"]`, not to `["user.name"]` (review 13's test
/// and README use the one-path mapping and call it "the `ecs` preset's
/// mapping"). So with the real `ecs` preset, a `new_value` detector added
/// on entity `user.name` (the ECS field's own name) reads the very value
/// the preset's `first_seen` on `user` reads (alice, from `user.name`),
/// yet is a question of its own: after 99 logins from one address, a new
/// address/24/country is p 0.0198 with the added detector on `user`
/// (not reported), and p 0.0035 (score 0.41, low) with the same detector
/// on `user.name` (its one reason a copy of `first_seen`'s). Fix: decide per event which path an entity was read
/// from (one question when two groups read their value from the same
/// path, any kind but `SourceNet`), or merge groups whose path lists
/// share the first path present; at least say it in the README.
///
/// Now: groups whose entity fields share a path they read are one entity
/// here, whatever the spelling or reading (`same_entity`).
#[test]
fn ecs_user_name_beside_the_presets_user_is_one_question() {
    let a = ecs_plus("user");
    assert_eq!(a.severity, Severity::None, "{}", a.to_json());
    let b = ecs_plus("user.name");
    assert_not_reported(&b);
}

/// Found: `group_q` also requires the same `Kind`, so an entity in
/// `fold_case` and its other spelling are two questions although they read
/// one field: `fields: {"user": ["user.name"]}`, `fold_case: ["user"]`
/// (README's own example of `fold_case`), a `new_value` detector on `user`
/// (kind `Fold`) and one on `user.name` (kind `Plain`): after 99 events
/// from one address a new address (p 2/101 = 0.0198 each) is p 0.0035,
/// reported low, where without `fold_case` (review 13's
/// `one_entity_under_two_names_is_one_question`) it is not. Folding only
/// changes the case of the value, not which entity it is. Fix: compare
/// kinds as "derived `SourceNet`" or not (`Fold`, `Plain`, `SourceIp`,
/// `Outcome` read the same field's value); same for `source_ip`
/// (`SourceIp`) beside a plain spelling of its path, see the next test.
///
/// Now: groups whose entity fields share a path they read are one entity
/// here, whatever the spelling or reading (`same_entity`).
#[test]
fn a_fold_case_entity_and_its_other_spelling_are_one_question() {
    let mut p = never_halving(json!([
        nv("first_seen", "user"),
        nv("first_seen_2", "user.name")
    ]));
    p["fields"] = json!({"user": ["user.name"]});
    p["fold_case"] = json!(["user"]);
    let v = nested_after_on(&mut engine(&p), 99);
    assert!(v.reasons.is_empty(), "p {:.4}: {}", p_of(&v), v.to_json());
}

/// Found: the same for `source_ip` (kind `SourceIp`, an address with a
/// port read as the address) beside its mapped path named as it is
/// (`src`, kind `Plain`): `fields: {"source_ip": ["src"]}`, `new_value`
/// detectors of the users of an address, one on entity `source_ip`, one
/// on entity `src`; after 99 events of alice from 10.0.0.1, mallory from
/// it is a new user of p 0.0198 for each, one finding seen twice, and
/// p 0.0035 together (reported). Fix: as above.
///
/// Now: groups whose entity fields share a path they read are one entity
/// here, whatever the spelling or reading (`same_entity`).
#[test]
fn source_ip_and_its_plain_spelling_are_one_question() {
    let mut p = never_halving(json!([
        {"type": "new_value", "name": "new_user", "entity": "source_ip", "features": ["user"]},
        {"type": "new_value", "name": "new_user_2", "entity": "src", "features": ["user"]}
    ]));
    p["fields"] = json!({"source_ip": ["src"]});
    let mut e = engine(&p);
    for i in 0..99 {
        e.score(
            &json!({"timestamp": T0 + i * 600, "user": "alice", "src": "10.0.0.1"}),
            None,
        );
    }
    let v = e.score(
        &json!({"timestamp": T0 + 99 * 600, "user": "mallory", "src": "10.0.0.1"}),
        None,
    );
    assert!(v.reasons.is_empty(), "p {:.4}: {}", p_of(&v), v.to_json());
}

/// Control: `group_q` is rebuilt with the engine a snapshot is restored
/// into, keyed or not. Review 13's case (`user` and `user.name` with
/// `fields: {"user": ["user.name"]}`, one question): 99 events, a
/// snapshot after 60 restored into `Engine::with_hash_key(.., 7)` and into
/// a plain engine; the new address (p 0.0198) is not reported by either,
/// and each verdict is byte-identical to the never-stopped engine's.
#[test]
fn control_restore_keeps_the_merged_question() {
    let mut p = never_halving(json!([
        nv("first_seen", "user"),
        nv("first_seen_2", "user.name")
    ]));
    p["fields"] = json!({"user": ["user.name"]});
    let pol = || Policy::parse(&p.to_string()).unwrap();
    for key in [7u64, 0] {
        let mut a = Engine::with_hash_key(pol(), key);
        let evs: Vec<Value> = (0..100)
            .map(|i| {
                let ip = if i == 99 { "192.0.2.7" } else { "10.0.0.1" };
                json!({"timestamp": T0 + i * 600, "user": {"name": "alice"}, "source_ip": ip})
            })
            .collect();
        for ev in &evs[..60] {
            a.score(ev, None);
        }
        let mut b = Engine::with_hash_key(pol(), key);
        b.restore(&a.snapshot()).unwrap();
        let mut c = Engine::new(pol());
        c.restore(&a.snapshot()).unwrap();
        for ev in &evs[60..] {
            let x = a.score(ev, None).to_json();
            assert_eq!(x, b.score(ev, None).to_json());
            assert_eq!(x, c.score(ev, None).to_json());
        }
    }
    let v = nested_after_on(&mut engine(&p), 99);
    assert!(v.reasons.is_empty(), "{}", v.to_json());
}

// ------------------------------------------------- job A: edited tests
//
// Measured (release, scratch copies, deleted): every edited test can still
// fail; three new comments quoted wrong numbers (now mended, and sshd.rs
// reads the new kind's report at `report_p` 0.05 again).
// - sshd.rs:557 `a_line_kind_no_pattern_reads_cannot_take_the_whole_template_budget`
//   dropped `novel_reported == 1`. The comment's reason is off: the new
//   kind's template finding is p 0.0094 (not 0.0083) and below `report_p`
//   by itself; its next-event finding is p 0.1 (not ~0.0083), so Simes
//   gives min(2 × 0.0094, 0.1) = 0.0188. That is the README's stated limit
//   (a weak second finding hides the first), not "a new kind is 1 in 120".
//   The test still checks that the kind is learned (its doc's intent).
//   Fix: correct the comment and keep a check that it is reported, e.g. the
//   template finding present at `report_p` 0.05 with p < 0.01.
//   Now (later in December 2026): a never-seen template and its unseen
//   next event are one test valued at the smaller p (0.0094), and the test
//   reads the report at `report_p` 0.01 again (`tests/combine.rs`).
// - new_value.rs:123 says p 0.019; measured 0.0227 (about 86 decayed events,
//   not 160). Still above 0.01, so the conclusion holds.
// - review7.rs:448 says "p 2 / 127 for 250 events"; measured 0.0211 (the
//   daily halvings). Still above 0.01; with 600 events p 0.0089, reported.
// Checked and correct: drift.rs (new address p 0.0313, as the comment says;
// `late_flags` is stricter at 0.05); review8_seq.rs (at 0.01, 0 reports after
// the snapshot, so `decayed` would fail; at 0.05, 10 reports, purge Simes
// 0.0345/0.0256); review10.rs (1.194%, bound 1.25%, stricter than 1.7%);
// review7.rs `a_value_seen_50_seconds_ago_is_not_never_seen` (made stronger
// by the new non-empty check); bgl.rs (23/25/1 gives F1 0.639, as in
// EVALUATION); golden and continued.jsonl 0.6842 = Fisher(0.001, 0.0217,
// 0.0313); review9_seq.rs and engine.rs change comments only; keyed.rs is
// not edited (it reads golden_verdicts.jsonl).

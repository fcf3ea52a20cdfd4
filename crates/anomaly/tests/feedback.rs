//! Operator feedback (`Engine::mark_normal`): a false positive of a frozen
//! `sequence` detector is learned, so it is not reported again, while
//! unmarked findings keep being reported.

use logseal_anomaly::{Engine, Policy, Severity, Verdict};
use serde_json::{Value, json};

/// A frozen (`online: false`) sequence detector over mined templates in one
/// global session; 40 learning events, report level 0.1.
fn engine(online: bool, history: usize) -> Engine {
    let p = Policy::parse(&format!(
        r#"{{"version":1,
        "fields":{{"message":"msg"}},
        "learning":{{"period_secs":0,"period_events":40,"min_entity_events":1}},
        "alerting":{{"report_p":0.1,"evidence_p":0.2,"dedup_secs":0,"severity_thresholds":[0.1,0.5,0.66,0.83]}},
        "detectors":[{{"type":"sequence","name":"seq","session":"global","history":{history},"top_k":1,
           "rare_templates":false,"online":{online}}}]}}"#
    ))
    .expect("policy");
    Engine::new(p)
}

const A: &str = "connection opened from host";
const B: &str = "request served in time";
const C: &str = "connection closed by peer";
const NEW: &str = "disk quota exceeded for volume";

fn ev(i: usize, msg: &str) -> Value {
    json!({"timestamp": i, "msg": msg})
}

/// Learn 40 events: A B C repeated.
fn learned(online: bool, history: usize) -> (Engine, usize) {
    let mut e = engine(online, history);
    let mut i = 0;
    for _ in 0..13 {
        for m in [A, B, C] {
            e.score(&ev(i, m), None);
            i += 1;
        }
    }
    e.score(&ev(i, A), None);
    (e, i + 1)
}

fn features(v: &Verdict) -> Vec<String> {
    v.reasons.iter().map(|r| r.feature.clone()).collect()
}

#[test]
fn a_marked_template_is_no_longer_new() {
    for mark in [false, true] {
        let (mut e, mut i) = learned(false, 2);
        // after A comes B; the new template is reported as never seen
        e.score(&ev(i, B), None);
        i += 1;
        let v = e.score(&ev(i, NEW), None);
        i += 1;
        assert!(v.severity > Severity::None, "{v:?}");
        assert!(features(&v).contains(&"template".to_string()), "{v:?}");
        if mark {
            e.mark_normal(&ev(i - 1, NEW));
        }
        e.score(&ev(i, C), None);
        i += 1;
        let again = e.score(&ev(i, NEW), None);
        let template_again = features(&again).contains(&"template".to_string());
        // unmarked, it stays unknown and is reported each time; marked, it is known
        assert_eq!(template_again, !mark, "mark {mark}: {again:?}");
    }
}

#[test]
fn a_marked_next_event_is_learned_in_its_context() {
    // history 1: after B comes C; B followed by A is outside the top 1
    for mark in [false, true] {
        let (mut e, mut i) = learned(false, 1);
        for _ in 0..3 {
            e.score(&ev(i, B), None);
            i += 1;
            let v = e.score(&ev(i, A), None);
            i += 1;
            if mark {
                e.mark_normal(&ev(i - 1, A));
            }
            e.score(&ev(i, B), None);
            i += 1;
            e.score(&ev(i, C), None);
            i += 1;
            assert!(
                features(&v).contains(&"next_event".to_string()) || mark,
                "{v:?}"
            );
        }
        // "A after B" is learned once per mark; once it is more common than
        // "C after B" it is the likely next event (top 1)
        if mark {
            for _ in 0..20 {
                e.score(&ev(i, B), None);
                i += 1;
                e.score(&ev(i, A), None);
                i += 1;
                e.mark_normal(&ev(i - 1, A));
            }
        }
        e.score(&ev(i, B), None);
        i += 1;
        let v = e.score(&ev(i, A), None);
        assert_eq!(
            features(&v).contains(&"next_event".to_string()),
            !mark,
            "mark {mark}: {v:?}"
        );
    }
}

#[test]
fn marking_changes_nothing_when_the_detector_learns_online() {
    // an online detector learned the event when it scored it; a mark would count it twice
    let (mut e, i) = learned(true, 2);
    assert!(!e.learns_from_feedback());
    e.score(&ev(i, NEW), None);
    let before = e.snapshot();
    e.mark_normal(&ev(i, NEW));
    assert_eq!(e.snapshot(), before);
    // while a frozen detector's state changes
    let (mut e, i) = learned(false, 2);
    assert!(e.learns_from_feedback());
    e.score(&ev(i, NEW), None);
    let before = e.snapshot();
    e.mark_normal(&ev(i, NEW));
    assert_ne!(e.snapshot(), before);
}

#[test]
fn marking_an_event_of_another_shape_is_harmless() {
    // no message field, or a filter that does not match: nothing to learn, no panic
    let (mut e, i) = learned(false, 2);
    let before = e.snapshot();
    e.mark_normal(&json!({"timestamp": i, "other": 1}));
    e.mark_normal(&json!("not an object"));
    assert_eq!(e.snapshot(), before);
}

#[test]
fn the_presets_do_not_learn_from_feedback() {
    // every preset's `sequence` learns online, so hosts refuse feedback for them
    for name in logseal_anomaly::PRESETS {
        let p = Policy::preset(name).expect("preset");
        assert!(!Engine::new(p).learns_from_feedback(), "{name}");
    }
}

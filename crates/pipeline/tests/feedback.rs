//! Operator feedback through the pipeline (`mark_normal`): the sealed
//! record an operator hands back is seen as the sealer showed it to the
//! engine, marks are all or nothing, and feedback that would change nothing
//! is refused.

use logseal_anomaly::Policy;
use logseal_core::{Input, SealConfig, Sealer, SignerKey};
use logseal_pipeline::{FeedbackError, Processor};

fn processor(policy: Option<Policy>) -> Processor {
    let key = SignerKey::from_seed("feedback.example/log", [7; 32]).expect("key");
    let sealer = Sealer::new(key, SealConfig::new("feedback.example/log", "e1")).expect("sealer");
    Processor::new(sealer, policy)
}

/// A frozen `sequence` detector over mined templates, 30 learning events.
fn frozen() -> Policy {
    Policy::parse(
        r#"{"version":1,"fields":{"message":"msg"},
        "learning":{"period_secs":0,"period_events":30,"min_entity_events":1},
        "alerting":{"report_p":0.1,"evidence_p":0.2,"dedup_secs":0,"severity_thresholds":[0.1,0.5,0.66,0.83]},
        "detectors":[{"type":"sequence","name":"seq","session":"global","history":1,"top_k":2,
           "rare_templates":false,"online":false}]}"#,
    )
    .expect("policy")
}

fn seal(p: &mut Processor, i: usize, msg: &str) -> String {
    let rec = format!(r#"{{"timestamp":{i},"msg":"{msg}"}}"#);
    let out = p.process(Input {
        record: rec.as_bytes(),
        ..Input::default()
    });
    String::from_utf8(out.line).expect("utf-8")
}

fn severity(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).expect("sealed line");
    v["_anomaly"]["severity"]
        .as_str()
        .unwrap_or("?")
        .to_string()
}

const MSGS: [&str; 2] = ["connection opened from host", "request served in time"];
const NEW: &str = "disk quota exceeded on volume";

/// Learn, then seal a never-seen template twice: reported both times unless
/// the first sealed record is marked normal in between.
fn run(mark: bool) -> (String, String) {
    let mut p = processor(Some(frozen()));
    let mut i = 0;
    for _ in 0..15 {
        for m in MSGS {
            seal(&mut p, i, m);
            i += 1;
        }
    }
    let first = seal(&mut p, i, NEW);
    if mark {
        // the sealed line as the operator has it, seal and verdict included
        assert_eq!(p.mark_normal(&[first.as_bytes()]), Ok(1));
    }
    // the same place in the sequence: after the second message
    seal(&mut p, i + 1, MSGS[0]);
    seal(&mut p, i + 2, MSGS[1]);
    let second = seal(&mut p, i + 3, NEW);
    (severity(&first), severity(&second))
}

#[test]
fn a_sealed_record_marked_normal_is_no_longer_reported() {
    let (first, second) = run(false);
    assert_ne!(first, "none");
    assert_ne!(second, "none", "unmarked, the template stays unknown");
    let (first, second) = run(true);
    assert_ne!(first, "none");
    assert_eq!(second, "none", "marked, the template is learned");
}

#[test]
fn feedback_is_all_or_nothing() {
    let mut p = processor(Some(frozen()));
    for i in 0..31 {
        seal(&mut p, i, MSGS[i % 2]);
    }
    let before = p.engine_snapshot();
    let good = br#"{"msg":"disk quota exceeded on volume"}"#;
    for (bad, why) in [
        (&b"{\"msg\": "[..], "not JSON"),
        (b"[1,2]", "not a JSON object"),
        (b"{\"msg\":\"\xff\"}", "invalid UTF-8"),
    ] {
        let err = p.mark_normal(&[good, bad]).expect_err("refused");
        assert!(
            matches!(&err, FeedbackError::Event { index: 1, why: w } if w.contains(why)),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("event 2: "), "{err}");
        assert_eq!(p.engine_snapshot(), before, "nothing marked");
    }
    assert_eq!(p.mark_normal(&[good]), Ok(1));
    assert_ne!(p.engine_snapshot(), before);
}

#[test]
fn feedback_that_would_change_nothing_is_refused() {
    let mut p = processor(None);
    assert_eq!(p.mark_normal(&[b"{}"]), Err(FeedbackError::NoPolicy));
    // the presets' sequence detectors learn online: they already learned it
    let mut p = processor(Policy::preset("default"));
    let err = p.mark_normal(&[b"{}"]).expect_err("refused");
    assert_eq!(err, FeedbackError::NotLearning);
    assert!(err.to_string().contains("online"), "{err}");
}

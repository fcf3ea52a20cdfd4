//! The `rate` detector in count mode: spikes are reported while they happen,
//! on events that belong to them, and escalate; drops and error-rate spikes
//! are judged when their bucket closes.

use logseal_anomaly::{Engine, Policy, Severity, Verdict};
use serde_json::json;

/// One global series of events per minute; the first 100 minutes are learned.
fn engine() -> Engine {
    let p = Policy::parse(
        r#"{"version":1,
        "learning":{"period_secs":6000,"min_entity_events":1},
        "alerting":{"report_p":0.01,"evidence_p":0.2,"max_reasons":3,"dedup_secs":600},
        "detectors":[{"type":"rate","name":"event_rate","bucket_secs":60,"seasonality":"none",
            "error_where":[{"field":"outcome","eq":"failure"}]}]}"#,
    )
    .expect("policy");
    Engine::new(p)
}

/// `n` events spread over minute `m`, `errors` of them failures.
fn minute(m: u64, n: u64, errors: u64) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            json!({
                "timestamp": m * 60 + i * 59 / n.max(1),
                "user": format!("u{}", i % 7),
                "outcome": if i < errors { "failure" } else { "success" },
            })
        })
        .collect()
}

/// Minutes 0..`minutes` with 18 to 22 events each (no randomness), 1 in 20 a failure.
fn normal(minutes: u64) -> Vec<serde_json::Value> {
    (0..minutes)
        .flat_map(|m| minute(m, 18 + (m * 7) % 5, 1))
        .collect()
}

fn rate_reasons<'a>(v: &'a Verdict, feature: &str) -> Vec<&'a logseal_anomaly::Reason> {
    v.reasons
        .iter()
        .filter(|r| r.detector == "event_rate" && r.feature == feature)
        .collect()
}

#[test]
fn a_quiet_stream_has_no_rate_findings() {
    let mut e = engine();
    for ev in normal(300) {
        let v = e.score(&ev, None);
        assert_eq!(v.severity, Severity::None, "{ev}: {}", v.to_json());
    }
}

#[test]
fn a_spike_is_reported_while_it_happens_and_escalates() {
    let mut e = engine();
    for ev in normal(200) {
        e.score(&ev, None);
    }
    // 300 events in minute 200, then nothing more: the old design judged a
    // bucket only when the next one opened, so this spike went unreported.
    let spike = minute(200, 300, 0);
    let vs: Vec<Verdict> = spike.iter().map(|ev| e.score(ev, None)).collect();
    let found: Vec<(usize, &Verdict)> = vs
        .iter()
        .enumerate()
        .filter(|(_, v)| !rate_reasons(v, "rate").is_empty())
        .collect();
    assert!(!found.is_empty(), "the spike was not reported");
    // the first report comes well before the minute is over
    let (first, v) = found[0];
    assert!(first < 40, "first reported at event {first} of 300");
    let r = rate_reasons(v, "rate")[0];
    assert!(
        r.text.starts_with("*: spike: ") && r.text.contains("so far"),
        "{}",
        r.text
    );
    assert!(r.observed.ends_with("so far"), "{}", r.observed);
    // it escalates: one report per severity it reaches, up to critical,
    // not one on every event of the spike
    let sev: Vec<Severity> = found.iter().map(|(_, v)| v.severity).collect();
    assert_eq!(
        sev,
        [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical
        ]
    );

    // when the bucket closes, the spike is not reported a second time
    let next = e.score(&minute(201, 1, 0)[0], None);
    assert!(rate_reasons(&next, "rate").is_empty(), "{}", next.to_json());
}

#[test]
fn a_spike_is_reported_once_per_severity_without_dedup_too() {
    let text = r#"{"version":1,
        "learning":{"period_secs":6000,"min_entity_events":1},
        "alerting":{"dedup_secs":0},
        "detectors":[{"type":"rate","name":"event_rate","bucket_secs":60,"seasonality":"none"}]}"#;
    let mut e = Engine::new(Policy::parse(text).unwrap());
    for ev in normal(200) {
        e.score(&ev, None);
    }
    let n = minute(200, 300, 0)
        .iter()
        .filter(|ev| !rate_reasons(&e.score(ev, None), "rate").is_empty())
        .count();
    assert_eq!(n, 4, "one report per severity");
}

#[test]
fn a_drop_is_reported_when_the_next_bucket_opens() {
    let mut e = engine();
    for ev in normal(200) {
        e.score(&ev, None);
    }
    // minute 200 has 2 events instead of about 20: nothing can be said until it is over
    for ev in minute(200, 2, 0) {
        let v = e.score(&ev, None);
        assert!(rate_reasons(&v, "rate").is_empty(), "{}", v.to_json());
    }
    let v = e.score(&minute(201, 1, 0)[0], None);
    let r = rate_reasons(&v, "rate");
    assert_eq!(r.len(), 1, "{}", v.to_json());
    assert!(
        r[0].text
            .starts_with("*: drop: 2 events per 1m at 03:20 UTC, usual 2"),
        "{}",
        r[0].text
    );
    assert!(v.severity >= Severity::Low, "{}", v.to_json());
}

#[test]
fn an_error_rate_spike_is_reported_when_its_bucket_closes() {
    let mut e = engine();
    for ev in normal(200) {
        e.score(&ev, None);
    }
    // the usual number of events, but 15 of 20 fail (usually 1 in 20)
    for ev in minute(200, 20, 15) {
        let v = e.score(&ev, None);
        assert!(rate_reasons(&v, "error_rate").is_empty(), "{}", v.to_json());
    }
    let v = e.score(&minute(201, 1, 0)[0], None);
    let r = rate_reasons(&v, "error_rate");
    assert_eq!(r.len(), 1, "{}", v.to_json());
    assert!(
        r[0].text
            .starts_with("*: error rate 75% (15 of 20) at 03:20 UTC"),
        "{}",
        r[0].text
    );
    assert!(v.severity >= Severity::High, "{}", v.to_json());
    assert!(rate_reasons(&v, "rate").is_empty(), "{}", v.to_json());
}

#[test]
fn spikes_are_not_reported_while_learning() {
    let mut e = engine();
    for ev in normal(60) {
        e.score(&ev, None);
    }
    for ev in minute(60, 300, 0) {
        let v = e.score(&ev, None);
        assert_eq!(v.severity, Severity::None, "{}", v.to_json());
    }
}

//! The `rate` detector in count mode: spikes are reported while they happen,
//! on events that belong to them, and escalate; drops and error-rate spikes
//! are judged when their bucket closes.

use logseal_anomaly::testkit::Rng;
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

/// `days` days of 10-minute buckets: 100 events in each during 09:00-17:00,
/// 5 at other hours (nothing random).
fn office_days(days: u64) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for b in 0..days * 144 {
        let hour = (b % 144) / 6;
        let n = if (9..17).contains(&hour) { 100 } else { 5 };
        for i in 0..n {
            out.push(json!({"timestamp": b * 600 + i * 599 / n, "outcome": "success"}));
        }
    }
    out
}

fn seasonal_engine(seasonality: &str) -> Engine {
    let text = format!(
        r#"{{"version":1,
        "learning":{{"period_secs":{},"min_entity_events":1}},
        "alerting":{{"dedup_secs":0}},
        "detectors":[{{"type":"rate","name":"event_rate","bucket_secs":600,"seasonality":"{seasonality}"}}]}}"#,
        14 * 86400
    );
    Engine::new(Policy::parse(&text).unwrap())
}

/// The events of the 10-minute bucket starting at `secs`, `n` of them.
fn burst(secs: u64, n: u64) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| json!({"timestamp": secs + i * 599 / n, "outcome": "success"}))
        .collect()
}

#[test]
fn hour_of_day_seasonality_learns_office_hours() {
    let day = 86400;
    for (seasonality, flags_night_surge) in [("hour_of_day", true), ("none", false)] {
        let mut e = seasonal_engine(seasonality);
        for ev in office_days(28) {
            e.score(&ev, None);
        }
        // day 28, a Thursday: the usual office-hours traffic at 09:00 is not a spike
        // (the night before it was silent, where 5 a bucket are usual: a
        // drop, reported since review 29 judged a silence as a whole)
        let busy = burst(28 * day + 9 * 3600, 100);
        let busy_flags = busy
            .iter()
            .map(|ev| e.score(ev, None))
            .filter(|v| {
                rate_reasons(v, "rate")
                    .iter()
                    .any(|r| r.text.contains("spike"))
            })
            .count();
        // the same traffic at 03:00 the next night is
        let night = burst(29 * day + 3 * 3600, 100);
        let night_flags: Vec<Verdict> = night
            .iter()
            .map(|ev| e.score(ev, None))
            .filter(|v| v.severity > Severity::None)
            .collect();
        if flags_night_surge {
            assert_eq!(busy_flags, 0, "{seasonality}: office hours flagged");
            assert!(!night_flags.is_empty(), "{seasonality}: night surge missed");
            // (the first night event also carries the silent office day
            // before it, a drop)
            let r = night_flags
                .iter()
                .flat_map(|v| rate_reasons(v, "rate"))
                .find(|r| r.text.contains("spike"))
                .expect("a spike");
            assert!(r.text.contains("from 03:00 UTC so far"), "{}", r.text);
        } else {
            // one flat baseline: its spread covers the daily swing, so the
            // night surge looks like an ordinary office hour (what it does
            // report is the silent office day before it, a drop)
            // (the closed 09:00 bucket's weak spike, p 0.14, rides along
            // with that drop: not the night's)
            let spikes: Vec<&Verdict> = night_flags
                .iter()
                .filter(|v| {
                    rate_reasons(v, "rate")
                        .iter()
                        .any(|r| r.text.contains("spike") && r.text.contains("03:00"))
                })
                .collect();
            assert!(spikes.is_empty(), "{seasonality}: {}", spikes[0].to_json());
        }
    }
}

/// `days` days of 10-minute buckets: 60 events in each on weekdays, 10 at
/// weekends, at every hour (day 0, 1970-01-01, was a Thursday, so days 2 and
/// 3 are a weekend).
fn weekday_days(days: u64) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for b in 0..days * 144 {
        let n = if matches!((b / 144) % 7, 2 | 3) {
            10
        } else {
            60
        };
        out.extend(burst(b * 600, n));
    }
    out
}

#[test]
fn hour_of_week_seasonality_learns_weekends() {
    // `hour_of_week` adds a day-of-week offset to the hour-of-day one
    let day = 86400;
    for (seasonality, flags_weekend_surge) in [("hour_of_week", true), ("hour_of_day", false)] {
        let mut e = seasonal_engine(seasonality);
        for ev in weekday_days(30) {
            e.score(&ev, None);
        }
        // day 30 is a Saturday: a weekday's traffic at 10:00 (after a
        // silent morning: a drop either way, not what this asks)
        let sat: Vec<Verdict> = burst(30 * day + 10 * 3600, 60)
            .iter()
            .map(|ev| e.score(ev, None))
            .filter(|v| {
                rate_reasons(v, "rate")
                    .iter()
                    .any(|r| r.text.contains("spike"))
            })
            .collect();
        assert_eq!(
            !sat.is_empty(),
            flags_weekend_surge,
            "{seasonality}: {:?}",
            sat.iter().map(Verdict::to_json).collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_per_entity_rate_names_the_entity_that_spikes() {
    let text = r#"{"version":1,
        "learning":{"period_secs":6000,"min_entity_events":1},
        "detectors":[{"type":"rate","name":"event_rate","group_by":"user","bucket_secs":60,"seasonality":"none"}]}"#;
    let mut e = Engine::new(Policy::parse(text).unwrap());
    // minute() spreads its events over users u0..u6: about 3 each a minute
    for ev in normal(200) {
        let v = e.score(&ev, None);
        assert_eq!(v.severity, Severity::None, "{}", v.to_json());
    }
    // u3 alone sends 60 events in minute 200; the others carry on as usual
    let mut evs = minute(200, 20, 0);
    evs.extend((0..60).map(|i| json!({"timestamp": 200 * 60 + i, "user": "u3"})));
    evs.sort_by_key(|ev| ev["timestamp"].as_u64());
    let flagged: Vec<String> = evs
        .iter()
        .map(|ev| e.score(ev, None))
        .filter(|v| v.severity > Severity::None)
        .flat_map(|v| v.reasons.into_iter().map(|r| r.entity))
        .collect();
    assert!(!flagged.is_empty());
    assert!(flagged.iter().all(|u| u == "u3"), "{flagged:?}");
}

/// Knuth's Poisson sampler on the crate's fixed pseudo-random stream (no
/// randomness between runs).
struct Poisson(Rng);

impl Poisson {
    fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn sample(&mut self, lambda: f64) -> u64 {
        let l = (-lambda).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.uniform();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

#[test]
fn spike_p_values_are_calibrated_on_poisson_counts() {
    // 20 events a minute on average, Poisson: nothing is anomalous, so a
    // report at severity s (p at most 0.01, 0.001, ...) should come with
    // at most about that frequency. Counted per bucket, on its events and on
    // the first event of the next (where drops land).
    let text = r#"{"version":1,
        "learning":{"period_secs":6000,"min_entity_events":1},
        "alerting":{"dedup_secs":0},
        "detectors":[{"type":"rate","name":"event_rate","bucket_secs":60,"seasonality":"none"}]}"#;
    let mut e = Engine::new(Policy::parse(text).unwrap());
    let mut rng = Poisson(Rng(0x9E37_79B9_7F4A_7C15));
    let minutes = 20_000u64;
    let mut worst: Vec<Severity> = vec![Severity::None; minutes as usize];
    for m in 0..minutes {
        for ev in minute(m, rng.sample(20.0), 0) {
            let v = e.score(&ev, None);
            if m >= 100 {
                // a drop is reported on the next bucket's first event
                let b = if rate_reasons(&v, "rate")
                    .iter()
                    .any(|r| r.text.contains("drop"))
                {
                    m as usize - 1
                } else {
                    m as usize
                };
                worst[b] = worst[b].max(v.severity);
            }
        }
    }
    let judged = (minutes - 100) as f64;
    let share = |s: Severity| worst.iter().filter(|&&w| w >= s).count() as f64 / judged;
    let (low, medium) = (share(Severity::Low), share(Severity::Medium));
    eprintln!(
        "Poisson 20 a minute: {:.2}% of buckets at low or above, {:.2}% at medium or above",
        low * 100.0,
        medium * 100.0
    );
    // ... and not far less often either: a spread that counted the Poisson
    // noise twice reported about 0.04% of such buckets at low, and would need a
    // spike 1.4 times as far out as a calibrated one to see it
    assert!(
        (0.004..=0.015).contains(&low),
        "{:.2}% of buckets at low or above",
        low * 100.0
    );
    assert!(
        medium <= 0.002,
        "{:.3}% of buckets at medium or above",
        medium * 100.0
    );
}

#[test]
fn error_rate_p_values_are_calibrated() {
    // 40 events a minute, each a failure with probability `share`: the
    // error rate never changes, so reports at p <= 0.01 should come in about
    // 1% of buckets or fewer, and not far fewer (a Poisson tail in place of
    // the binomial one, at a 50% share, reported almost none)
    for share in [0.05, 0.5] {
        let text = r#"{"version":1,
            "learning":{"period_secs":6000,"min_entity_events":1},
            "alerting":{"dedup_secs":0},
            "detectors":[{"type":"rate","name":"event_rate","bucket_secs":60,"seasonality":"none",
                "error_where":[{"field":"outcome","eq":"failure"}]}]}"#;
        let mut e = Engine::new(Policy::parse(text).unwrap());
        let mut rng = Poisson(Rng(0x2545_F491_4F6C_DD1D));
        let minutes = 20_000u64;
        let mut flagged = 0;
        for m in 0..minutes {
            for i in 0..40 {
                let fail = rng.uniform() < share;
                let ev = json!({"timestamp": m * 60 + i,
                    "outcome": if fail { "failure" } else { "success" }});
                let v = e.score(&ev, None);
                if m > 100
                    && !rate_reasons(&v, "error_rate").is_empty()
                    && v.severity > Severity::None
                {
                    flagged += 1;
                }
            }
        }
        let rate = flagged as f64 / (minutes - 101) as f64;
        assert!(
            (0.002..=0.015).contains(&rate),
            "share {share}: {:.3}% of buckets reported",
            rate * 100.0
        );
    }
}

/// Without `seasonality` an office pattern's daily swing is the series'
/// noise: four weeks of it give no finding in the last eight days. (Its
/// residuals each day run to one side for hours, a drift; with the
/// dispersion learnt only outside drifts, 1,847 events of those eight
/// days were flagged, every night a drop and every morning a spike.)
#[test]
fn a_series_without_seasonality_takes_a_daily_swing_as_noise() {
    let mut e = seasonal_engine("none");
    let flagged: Vec<String> = office_days(28)
        .iter()
        .filter_map(|ev| {
            let v = e.score(ev, None);
            let late = ev["timestamp"].as_u64().is_some_and(|t| t > 20 * 86_400);
            (late && v.severity > Severity::None).then(|| v.to_json())
        })
        .collect();
    assert!(
        flagged.is_empty(),
        "{} flagged, e.g. {:?}",
        flagged.len(),
        flagged.first()
    );
}

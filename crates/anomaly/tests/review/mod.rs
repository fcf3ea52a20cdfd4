//! Helpers the review test files share (`mod review;` in each).
#![allow(dead_code)]

use logseal_anomaly::{Engine, Policy, Severity, Verdict};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// 2024-01-01T00:00:00Z (a Monday).
pub const T0: i64 = 1_704_067_200;
pub const DAY: i64 = 86_400;
pub const HOUR: i64 = 3_600;

/// An engine for a policy given as JSON.
pub fn engine(v: &Value) -> Engine {
    Engine::new(Policy::parse(&v.to_string()).expect("policy"))
}

/// The texts of detector `det`'s reasons.
pub fn texts_of(v: &Verdict, det: &str) -> Vec<String> {
    v.reasons
        .iter()
        .filter(|r| r.detector == det)
        .map(|r| r.text.clone())
        .collect()
}

/// The texts of the `seq` detector's reasons.
pub fn seq_texts(v: &Verdict) -> Vec<String> {
    texts_of(v, "seq")
}

/// A record's `timestamp`.
pub fn ts(v: &Value) -> i64 {
    v["timestamp"].as_i64().unwrap()
}

/// A small deterministic generator (PCG-style LCG step).
pub fn next(s: &mut u64) -> u64 {
    *s = s
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *s >> 33
}

/// A stationary stream for a `sequence` detector named `seq` reading
/// `kind` in session `s` (5 states, each followed by one of the next 3,
/// 4% rare events), 150,000 events `step` seconds apart scored by an engine
/// with `policy` after 20,000: the share reported above severity `none`,
/// and the first reports' texts.
pub fn stationary_share(policy: &Value, step: i64) -> (f64, Vec<String>) {
    let p = policy;
    let mut e = engine(p);
    let mut s = 7u64;
    let mut cur = 0usize;
    let (mut reported, mut scored) = (0usize, 0usize);
    let mut texts = Vec::new();
    for i in 0..150_000i64 {
        let u = (next(&mut s) % 1_000_000) as f64 / 1e6;
        let k = if u < 0.04 {
            format!("r{cur}_{}", (u / 0.005) as usize)
        } else {
            cur = (cur + 1 + (next(&mut s) % 3) as usize) % 5;
            format!("s{cur}")
        };
        let v = e.score(
            &json!({"timestamp": T0 + i * step, "session": "s", "kind": k}),
            None,
        );
        if i >= 20_000 {
            scored += 1;
            if v.severity != Severity::None {
                reported += 1;
                if texts.len() < 4 {
                    texts.push(
                        v.reasons
                            .iter()
                            .map(|r| format!("{} (p {})", r.text, r.p))
                            .collect::<Vec<_>>()
                            .join(" + "),
                    );
                }
            }
        }
    }
    (reported as f64 / scored as f64, texts)
}

/// One global `rate` count series named `event_rate` of `bucket` seconds,
/// no seasonality, drops and error rate (`outcome` `failure`) on; learning
/// for the first `learn` seconds; no dedup.
pub fn rate_policy(bucket: i64, learn: i64) -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": learn, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "event_rate", "bucket_secs": bucket,
                       "seasonality": "none", "drops": true,
                       "error_where": [{"field": "outcome", "eq": "failure"}]}]
    })
}

/// The `p` a verdict's score stands for (`score = -log10(p) / 6`).
pub fn p_of(v: &Verdict) -> f64 {
    10f64.powf(-6.0 * v.score)
}

/// An ECS login of alice from `ip` in `country`.
pub fn ecs_login(t: i64, ip: &str, country: &str) -> Value {
    json!({"@timestamp": logseal_anomaly::testkit::iso(t), "user": {"name": "alice"},
           "event": {"action": "logged-in", "outcome": "success"},
           "source": {"ip": ip, "geo": {"country_iso_code": country}}})
}

/// A `sequence` detector `seq` on session `session` with `extra` members,
/// learning 20,000 events, no dedup, counts halving every `half_life`
/// seconds.
pub fn seq_stationary(extra: Value, half_life: i64) -> Value {
    let mut d = json!({"type": "sequence", "name": "seq", "session": "session"});
    for (k, x) in extra.as_object().unwrap() {
        d[k] = x.clone();
    }
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 20_000, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "half_life_secs": half_life,
        "detectors": [d]
    })
}

/// A policy with `dets`, learning 10 events (3 per entity), counts that
/// never halve, no dedup, up to 8 reasons.
pub fn never_halving(dets: Value) -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 10, "min_entity_events": 3},
        "half_life_secs": 1_000_000_000,
        "alerting": {"dedup_secs": 0, "max_reasons": 8},
        "detectors": dets
    })
}

/// `n` events of alice (as `user.name`, ECS style) from 10.0.0.1 under
/// engine `e`, then one from 192.0.2.7.
pub fn nested_after_on(e: &mut Engine, n: i64) -> Verdict {
    for i in 0..n {
        e.score(
            &json!({"timestamp": T0 + i * 600, "user": {"name": "alice"},
                    "source_ip": "10.0.0.1"}),
            None,
        );
    }
    e.score(
        &json!({"timestamp": T0 + n * 600, "user": {"name": "alice"},
                "source_ip": "192.0.2.7"}),
        None,
    )
}

/// Asserts that `v` is not reported, saying its `p` if it is.
#[track_caller]
pub fn assert_not_reported(v: &Verdict) {
    assert_eq!(
        v.severity,
        Severity::None,
        "p {:.4}: {}",
        p_of(v),
        v.to_json()
    );
}

/// One `sequence` detector named `seq` (session field `session`), plus
/// `extra` members; learning for `learn_events` events; `dedup_secs` as given.
pub fn seq_policy(extra: Value, learn_events: u64, dedup_secs: u64) -> Value {
    let mut d = json!({"type": "sequence", "name": "seq", "session": "session"});
    for (k, x) in extra.as_object().unwrap() {
        d[k] = x.clone();
    }
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": learn_events, "min_entity_events": 1},
        "alerting": {"dedup_secs": dedup_secs},
        "detectors": [d]
    })
}

/// Scores `kind` (template field mode) in session `s` at time `t`.
pub fn kind(e: &mut Engine, t: i64, k: &str) -> Vec<String> {
    seq_texts(&e.score(&json!({"timestamp": t, "session": "s", "kind": k}), None))
}

/// The Linux audit `SYSCALL` record of Red Hat's documentation
/// ("Understanding Audit Log Files"), as reviews 7 to 9 used it, with its
/// words (result, command, executable, audit rule key) given.
pub fn auditd_syscall(i: i64, success: &str, comm: &str, exe: &str, key: &str) -> String {
    format!(
        "type=SYSCALL msg=audit(1364481363.{:03}:{}): arch=c000003e syscall=2 success={success} \
         exit=-13 a0=7fffd19c5592 a1=0 a2=7fffd19c4b50 a3=a items=1 ppid=2686 pid={} \
         auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 \
         fsgid=1000 tty=pts0 ses=1 comm=\"{comm}\" exe=\"{exe}\" \
         subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 key=\"{key}\"",
        i % 1000,
        24287 + i,
        3538 + i
    )
}

/// Learns 300 events of the cycle `session opened` / a `SYSCALL` record of
/// the `sshd_config` watch / `session closed`, the record's command and
/// result taken in turn from `variants`; then scores `session opened` and
/// `probe`: the detector's reasons on `probe` and the templates after it.
pub fn watch_case(variants: &[(&str, &str, &str)], probe: &str) -> (Vec<String>, Vec<String>) {
    let mut e = engine(&seq_policy(json!({}), 300, 0));
    for i in 0..600i64 {
        let m = match i % 3 {
            0 => "session opened for user alice".to_string(),
            1 => {
                let (ok, comm, exe) = variants[(i / 3) as usize % variants.len()];
                auditd_syscall(i, ok, comm, exe, "sshd_config")
            }
            _ => "session closed for user alice".to_string(),
        };
        e.score(
            &json!({"timestamp": T0 + i, "session": "s", "message": m}),
            None,
        );
    }
    e.score(
        &json!({"timestamp": T0 + 600, "session": "s", "message": "session opened for user alice"}),
        None,
    );
    let v = e.score(
        &json!({"timestamp": T0 + 601, "session": "s", "message": probe}),
        None,
    );
    (seq_texts(&v), e.templates("seq").unwrap())
}

/// A minute series: source A on time, 20 records a minute; source B 20 a
/// minute too, each record delivered `late` seconds after it was written,
/// arriving interleaved with A's (A, then B's). After three days, B's
/// records of minutes n+10..n+13 are a burst of 20x. With `replay`, a
/// replayed log of a day back runs beside it: one replayed record after
/// each of A's. Returns the rate texts after the three days, each tagged
/// with the record's timestamp.
pub fn late_source(late: i64, replay: bool) -> Vec<String> {
    let mut e = engine(&rate_policy(60, DAY));
    let n = 3 * 1440;
    let mut found = Vec::new();
    for k in 0..n + 40 {
        let mut evs = Vec::new();
        for i in 0..20 {
            let t = T0 + k * 60 + i * 3;
            evs.push((0, json!({"timestamp": t})));
            if replay && k >= n {
                evs.push((0, json!({"timestamp": t - DAY})));
            }
            let burst = (n + 10..n + 13).contains(&(k - late / 60));
            for _ in 0..if burst { 20 } else { 1 } {
                evs.push((0, json!({"timestamp": t - late})));
            }
        }
        for (_, ev) in &evs {
            let v = e.score(ev, None);
            if k >= n {
                for t in texts_of(&v, "event_rate") {
                    found.push(format!("@{}: {t}", ev["timestamp"]));
                }
            }
        }
    }
    found
}

// ------------------------------------------- late sources (reviews 17-20)

/// "More than 5 failures per user in 10 minutes" and "5 failures, then a
/// success, per user in 10 minutes" (sub-buckets of 75 s), no learning,
/// no dedup.
pub fn brute_force_rules() -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [
            {"type": "threshold", "name": "fails", "group_by": "user", "window_secs": 600,
             "threshold": 5, "where": [{"field": "outcome", "eq": "failure"}]},
            {"type": "followed_by", "name": "bf",
             "first": [{"field": "outcome", "eq": "failure"}],
             "then": [{"field": "outcome", "eq": "success"}],
             "group_by": "user", "min_first": 5, "window_secs": 600}
        ]
    })
}

/// Scores `(arrival, record)` pairs in arrival order (a tie: host `a`
/// first); the texts of `det` on host `a`'s records.
pub fn run_by_arrival(rules: &Value, mut evs: Vec<(i64, Value)>, det: &str) -> Vec<String> {
    evs.sort_by_key(|(at, v)| (*at, v["host"] != "a"));
    let mut e = engine(rules);
    let mut out = Vec::new();
    for (_, v) in evs {
        let r = e.score(&v, None);
        if v["host"] == "a" {
            out.extend(texts_of(&r, det));
        }
    }
    out
}

/// With `live`, alice failing on host b every 300 s (2 per 10 minutes,
/// nothing to report) from `hours` hours before `now` to `hours` after; host
/// a's log, shipped `late` seconds late: 6 failures of alice 100 s apart
/// from `now`, and a success 100 s after the last. Both rules' texts on
/// host a's records.
pub fn slow_burst(live: bool, late: i64, hours: i64) -> (Vec<String>, Vec<String>) {
    let now = T0 + DAY;
    let mut evs = Vec::new();
    if live {
        for t in (now - hours * HOUR..now + hours * HOUR).step_by(300) {
            evs.push((
                t,
                json!({"timestamp": t, "user": "alice", "outcome": "failure", "host": "b"}),
            ));
        }
    }
    for i in 0..7 {
        let t = now + i * 100;
        let outcome = if i < 6 { "failure" } else { "success" };
        evs.push((
            t + late,
            json!({"timestamp": t, "user": "alice", "outcome": outcome, "host": "a"}),
        ));
    }
    (
        run_by_arrival(&brute_force_rules(), evs.clone(), "fails"),
        run_by_arrival(&brute_force_rules(), evs, "bf"),
    )
}

/// With `live`, a record of 203.0.113.9 (user alice) every 150 s from
/// `hours` hours before `now` to `hours` after; a log `late` seconds late: 8 user
/// names from the same source 60 s apart from `now`. The `distinct` rule's
/// texts ("more than 6 distinct users per source in 10 minutes") on the
/// late log's records.
pub fn slow_spray(live: bool, late: i64, hours: i64) -> Vec<String> {
    let rules = json!({
        "version": 1,
        "learning": {"period_secs": 0, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "distinct", "name": "spray", "group_by": "ip",
                       "distinct": "user", "window_secs": 600, "threshold": 6}]
    });
    let now = T0 + DAY;
    let mut evs = Vec::new();
    if live {
        for t in (now - hours * HOUR..now + hours * HOUR).step_by(150) {
            evs.push((
                t,
                json!({"timestamp": t, "user": "alice", "ip": "203.0.113.9", "host": "b"}),
            ));
        }
    }
    for i in 0..8 {
        let t = now + i * 60;
        evs.push((
            t + late,
            json!({"timestamp": t, "user": format!("user{i}"), "ip": "203.0.113.9",
                   "host": "a"}),
        ));
    }
    run_by_arrival(&rules, evs, "spray")
}

/// A single-event `threshold` rule that says its count ("alice: fails (6
/// in 10m)"), weighted by field `n`.
pub fn count_rule() -> Value {
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "threshold", "name": "fails", "group_by": "user",
            "window_secs": 600, "threshold": 0, "weight": "n",
            "where": [{"field": "outcome", "eq": "failure"}]}]
    })
}

/// The count a `count_rule` text says (1 when it says none).
pub fn count_of(v: &logseal_anomaly::Verdict) -> i64 {
    texts_of(v, "fails")
        .first()
        .and_then(|x| x.split('(').nth(1))
        .and_then(|x| x.split(' ').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or(1)
}

/// A stream for a `sequence` detector (the stationary stream
/// of `stationary_share`, plus a never-seen template in a share `new` of
/// the events), `n` events `step` seconds apart, counts halving every
/// `half_life` seconds: the share of events 20,000 to `n` reported; the
/// share that Simes' value of the reasons (the pair as two values, as
/// before ee5d7c1) would have reported; never-seen templates among the
/// reported; and the first reports.
pub fn new_templates_halving(new: f64, step: i64, n: i64, half_life: i64) -> (f64, f64, String) {
    let mut e = engine(&seq_stationary(json!({"template": "kind"}), half_life));
    let mut s = 11u64;
    let mut cur = 0usize;
    let (mut reported, mut simes_reported, mut new_reported, mut scored) = (0, 0, 0, 0);
    let mut texts = Vec::new();
    for i in 0..n {
        let u = (next(&mut s) % 1_000_000) as f64 / 1e6;
        let k = if u < new {
            format!("new{i}")
        } else if u < new + 0.04 {
            format!("r{cur}_{}", ((u - new) / 0.005) as usize)
        } else {
            cur = (cur + 1 + (next(&mut s) % 3) as usize) % 5;
            format!("s{cur}")
        };
        let v = e.score(
            &json!({"timestamp": T0 + i * step, "session": "s", "kind": k}),
            None,
        );
        if i >= 20_000 {
            scored += 1;
            if v.severity != Severity::None {
                reported += 1;
                if logseal_anomaly::num::simes(
                    &mut v.reasons.iter().map(|r| r.p).collect::<Vec<_>>(),
                ) < 0.01
                {
                    simes_reported += 1;
                }
                if k.starts_with("new") {
                    new_reported += 1;
                    if texts.len() < 3 {
                        texts.push(format!(
                            "{k}: p {:.4}: {:?}",
                            p_of(&v),
                            v.reasons
                                .iter()
                                .map(|r| format!("{} (p {})", r.text, r.p))
                                .collect::<Vec<_>>()
                        ));
                    }
                }
            }
        }
    }
    (
        reported as f64 / scored as f64,
        simes_reported as f64 / scored as f64,
        format!("never-seen templates: {new_reported} of {reported} reported; {texts:#?}"),
    )
}

/// Whether this process is a child [`drive`] started.
pub fn in_child() -> bool {
    std::env::var_os("REVIEW_CASE").is_some()
}

/// Runs `run` on every case in child processes (this test binary's test
/// `test` again, `REVIEW_CASE` the first case to run) and asserts none fails: returns an `Err`, panics,
/// aborts, or runs 30 s without output (killed; the next child goes on
/// after it). In the child: runs the cases.
pub fn drive<C: std::fmt::Debug>(
    test: &str,
    cases: &[C],
    mut run: impl FnMut(&C) -> Result<(), String>,
) {
    if let Ok(from) = std::env::var("REVIEW_CASE") {
        std::panic::set_hook(Box::new(|_| {}));
        for (i, c) in cases.iter().enumerate().skip(from.parse().unwrap()) {
            eprintln!("case {i}");
            let why = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(c))) {
                Ok(Ok(())) => continue,
                Ok(Err(m)) => m,
                Err(p) => format!(
                    "panicked: {}",
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                ),
            };
            let why: String = why.chars().take(400).collect();
            eprintln!("FAIL {i} {c:?}: {why}");
        }
        return;
    }
    let (mut fails, mut from) = (Vec::new(), 0usize);
    let log = std::env::temp_dir().join(format!("review-{}-{test}.log", std::process::id()));
    loop {
        let file = std::fs::File::create(&log).unwrap();
        let mut c = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env("REVIEW_CASE", from.to_string())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        let (mut size, mut since) = (0, Instant::now());
        let ok = loop {
            if let Some(st) = c.try_wait().unwrap() {
                break Some(st.success());
            }
            let now = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
            if now != size {
                (size, since) = (now, Instant::now());
            } else if since.elapsed() > Duration::from_secs(30) {
                c.kill().unwrap();
                c.wait().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = std::fs::read_to_string(&log).unwrap_or_default();
        fails.extend(
            out.lines()
                .filter(|l| l.starts_with("FAIL "))
                .map(String::from),
        );
        if ok == Some(true) {
            std::fs::remove_file(&log).ok();
            let all = fails.join("\n");
            return assert!(
                fails.is_empty(),
                "{test}: {} cases fail:\n{all}",
                fails.len()
            );
        }
        let last = out
            .lines()
            .filter_map(|l| l.strip_prefix("case "))
            .next_back()
            .unwrap_or_else(|| panic!("child failed before its first case: {out}"));
        let i: usize = last.trim().parse().unwrap();
        let how = ["aborted", "hung (killed)"][ok.is_none() as usize];
        fails.push(format!("FAIL {i} {:?}: {how}", cases[i]));
        from = i + 1;
    }
}

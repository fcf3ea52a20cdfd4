//! CPU-time throughput of the `default` preset on structured (serde_json) events:
//! `cargo run -p logseal-anomaly --release --example speed [events] [passes] [parsed]`
//!
//! Two figures: events scored from `serde_json::Value` trees made beforehand
//! (most of them cold in the cache when scored), and events scored right
//! after parsing their JSON line, as every plugin does, with the parsing
//! timed alone in the same run and subtracted. With `passes` > 1 the same
//! events are scored that many times, each pass by an engine restored from
//! the warm snapshot, so that a profiler (`perf record`) sees mostly scoring;
//! `parsed` skips the first figure.

use logseal_anomaly::{Engine, Policy};
use serde_json::Value;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let evs = logseal_anomaly::testkit::bench_events(n, 10_000);
    let policy = Policy::preset("default").unwrap();
    let mut warm = Engine::new(policy.clone());
    for e in &evs {
        warm.score(e, None);
    }
    let passes: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let snap = warm.snapshot();
    let restored = || {
        let mut e = Engine::new(policy.clone());
        e.restore(&snap).unwrap();
        e
    };

    // 1. Events already in memory as `serde_json::Value` trees (most of
    //    them cold in the cache by the time they are scored).
    let only_parsed = std::env::args().nth(3).as_deref() == Some("parsed");
    let total = (n * passes) as f64;
    let mut flagged = None;
    if !only_parsed {
        let mut engines: Vec<Engine> = (0..passes).map(|_| restored()).collect();
        let (c0, w0) = (logseal_anomaly::testkit::cpu_secs(), Instant::now());
        let mut f = 0usize;
        for e in &mut engines {
            for ev in &evs {
                f += (e.score(ev, None).score > 0.0) as usize;
            }
        }
        let (cpu, wall) = (
            logseal_anomaly::testkit::cpu_secs() - c0,
            w0.elapsed().as_secs_f64(),
        );
        println!(
            "in memory: {n} events × {passes}: {:.0} events per CPU-second ({cpu:.2} s CPU), {:.0} events/s wall clock; {} flagged per pass",
            total / cpu.max(1e-9),
            total / wall,
            f / passes
        );
        flagged = Some(f);
    }

    // 2. As a plugin sees them: each event parsed from its JSON line just
    //    before it is scored (hot in the cache). Parsing alone is timed in
    //    the same run and subtracted.
    let lines: Vec<String> = evs.iter().map(|v| v.to_string()).collect();
    drop(evs);
    let c0 = logseal_anomaly::testkit::cpu_secs();
    let mut keys = 0usize;
    for _ in 0..passes {
        for l in &lines {
            let v: Value = serde_json::from_str(l).unwrap();
            keys += v.as_object().map_or(0, |o| o.len());
        }
    }
    let parse = logseal_anomaly::testkit::cpu_secs() - c0;
    let mut engines: Vec<Engine> = (0..passes).map(|_| restored()).collect();
    let c0 = logseal_anomaly::testkit::cpu_secs();
    let mut flagged2 = 0usize;
    for e in &mut engines {
        for l in &lines {
            let v: Value = serde_json::from_str(l).unwrap();
            flagged2 += (e.score(&v, None).score > 0.0) as usize;
        }
    }
    let both = logseal_anomaly::testkit::cpu_secs() - c0;
    assert!(
        flagged.is_none_or(|f| f == flagged2),
        "same verdicts either way"
    );
    let score = (both - parse).max(1e-9);
    println!(
        "parsed, then scored: {:.2} s CPU to parse and score, {parse:.2} s to parse only ({keys} top-level keys); \
         scoring {:.0} events per CPU-second ({:.2} µs an event)",
        both,
        total / score,
        score / total * 1e6
    );
}

//! CPU-time throughput of the anomaly engine's `default` preset on events as
//! every plugin scores them: each JSON line parsed by `logseal_core::json`
//! (the tree the sealer reads anyway) and scored through [`Members`].
//!
//! `cargo run -p logseal-pipeline --release --example score_speed [events] [passes]`
//!
//! Same events as `logseal-anomaly`'s `examples/speed.rs` and
//! `benches/engine.rs` (`testkit::bench_events`: 10,000 users, 4 actions,
//! 5% failures). The engine is restored from a warm snapshot for each pass;
//! parsing alone is timed in the same run and subtracted, so the figure is
//! scoring only.

use logseal_anomaly::{Engine, Policy};
use logseal_core::json::{self, Value};
use logseal_pipeline::Members;

fn lines(n: usize, users: usize) -> Vec<String> {
    logseal_anomaly::testkit::bench_events(n, users)
        .iter()
        .map(|v| v.to_string())
        .collect()
}

fn members<'a>(line: &'a str) -> Vec<(std::borrow::Cow<'a, str>, Value<'a>)> {
    match json::parse(line.as_bytes()) {
        Ok(Value::Obj(m)) => m,
        _ => panic!("generated line is an object"),
    }
}

fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (n, passes) = (arg(1, 200_000), arg(2, 3));
    let lines = lines(n, 10_000);
    let policy = Policy::preset("default").expect("default preset");
    let mut warm = Engine::new(policy.clone());
    let mut flagged_warm = 0;
    for l in &lines {
        flagged_warm += (warm.score(&Members::new(&members(l)), None).score > 0.0) as usize;
    }
    let snap = warm.snapshot();
    let mut engines: Vec<Engine> = (0..passes)
        .map(|_| {
            let mut e = Engine::new(policy.clone());
            e.restore(&snap).expect("restore");
            e
        })
        .collect();

    let c0 = logseal_anomaly::testkit::cpu_secs();
    let mut keys = 0;
    for _ in 0..passes {
        for l in &lines {
            keys += members(l).len();
        }
    }
    let parse = logseal_anomaly::testkit::cpu_secs() - c0;
    let c0 = logseal_anomaly::testkit::cpu_secs();
    let mut flagged = 0;
    for e in &mut engines {
        for l in &lines {
            flagged += (e.score(&Members::new(&members(l)), None).score > 0.0) as usize;
        }
    }
    let both = logseal_anomaly::testkit::cpu_secs() - c0;
    let total = (n * passes) as f64;
    let score = (both - parse).max(1e-9);
    println!(
        "{n} events × {passes} ({keys} top-level members), `default` preset, logseal_core::json trees: \
         {both:.2} s CPU to parse and score, {parse:.2} s to parse only; scoring {:.0} events per CPU-second \
         ({:.2} µs an event); {} flagged per pass (learning pass: {flagged_warm})",
        total / score,
        score / total * 1e6,
        flagged / passes
    );
}

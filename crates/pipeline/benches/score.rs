//! Scoring throughput as plugins score: each record parsed by
//! `logseal_core::json` (the tree the sealer reads anyway), then scored
//! through [`Members`] while that tree is still in the cache.
//!
//! `cargo bench -p logseal-pipeline --bench score`
//!
//! Same events as `logseal-anomaly`'s `benches/engine.rs` (100,000
//! generated ECS records, 10,000 users, 4 actions, 5% failures), engine
//! restored from a snapshot of the same stream so every detector scores.
//! Records are parsed in runs of [`RUN`] outside the timing, then scored
//! inside it, so the figure is scoring alone on hot trees; criterion's
//! `score/default_serde_json_100k` in `logseal-anomaly` scores 100,000
//! trees built beforehand, most of them cold, which no plugin sees.
//! `default_serde_json` scores `serde_json::Value` trees the same way;
//! `parse_only` times the `logseal_core::json` parse the timed loop leaves
//! out, for scale.

use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion, Throughput, criterion_group, criterion_main};
use logseal_anomaly::{Engine, Policy};
use logseal_core::json::{self, Value};
use logseal_pipeline::Members;

/// Records parsed ahead of each timed run: a few dozen small trees stay in
/// the first-level caches, as the one record a plugin has just parsed does.
const RUN: usize = 64;

type Tree<'a> = Vec<(std::borrow::Cow<'a, str>, Value<'a>)>;

fn tree(line: &str) -> Tree<'_> {
    match json::parse(line.as_bytes()) {
        Ok(Value::Obj(m)) => m,
        _ => panic!("generated line is an object"),
    }
}

/// Feeds the stream to `run` in runs of at most [`RUN`] lines and adds up
/// the time `run` reports for scoring each (its parsing left out). The
/// stream carries on from one sample to the next; at its end a restored
/// engine starts it again (event time never goes back).
fn stream(
    b: &mut Bencher<'_>,
    lines: &[String],
    fresh: &dyn Fn() -> Engine,
    mut run: impl FnMut(&mut Engine, &[String]) -> Duration,
) {
    let (mut e, mut at) = (fresh(), 0usize);
    b.iter_custom(|iters| {
        let mut spent = Duration::ZERO;
        let mut left = iters as usize;
        while left > 0 {
            if at == lines.len() {
                (e, at) = (fresh(), 0);
            }
            let n = RUN.min(left).min(lines.len() - at);
            spent += run(&mut e, &lines[at..at + n]);
            (at, left) = (at + n, left - n);
        }
        spent
    });
}

fn bench(c: &mut Criterion) {
    let lines: Vec<String> = logseal_anomaly::testkit::bench_events(100_000, 10_000)
        .iter()
        .map(|v| v.to_string())
        .collect();
    let policy = Policy::preset("default").expect("default preset");
    let mut warm = Engine::new(policy.clone());
    for l in &lines {
        warm.score(&Members::new(&tree(l)), None);
    }
    let snap = warm.snapshot();
    let fresh = || {
        let mut e = Engine::new(policy.clone());
        e.restore(&snap).expect("restore");
        e
    };

    let mut g = c.benchmark_group("score_parsed");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("default_plugin_tree", |b| {
        let mut flagged = 0usize;
        stream(b, &lines, &fresh, |e, run| {
            let trees: Vec<Tree<'_>> = run.iter().map(|l| tree(l)).collect();
            let t0 = Instant::now();
            for m in &trees {
                flagged += (e.score(&Members::new(m), None).score > 0.0) as usize;
            }
            t0.elapsed()
        });
        std::hint::black_box(flagged);
    });
    g.bench_function("default_serde_json", |b| {
        // The same over `serde_json::Value` trees (the `Event` the engine
        // implements for them), for comparison.
        let mut flagged = 0usize;
        stream(b, &lines, &fresh, |e, run| {
            let trees: Vec<serde_json::Value> = run
                .iter()
                .map(|l| serde_json::from_str(l).expect("generated line is JSON"))
                .collect();
            let t0 = Instant::now();
            for v in &trees {
                flagged += (e.score(v, None).score > 0.0) as usize;
            }
            t0.elapsed()
        });
        std::hint::black_box(flagged);
    });
    g.bench_function("parse_only", |b| {
        let mut at = 0usize;
        b.iter(|| {
            at = (at + 1) % lines.len();
            std::hint::black_box(tree(&lines[at]).len())
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

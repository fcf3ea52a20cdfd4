//! Events/s per core for the default policy on structured audit events.
//! `cargo bench -p logseal-anomaly --bench engine`

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use logseal_anomaly::{Engine, FieldValue, Policy};
use serde_json::Value;

fn events(n: usize, users: usize) -> Vec<Value> {
    logseal_anomaly::testkit::bench_events(n, users)
}

/// Score every event; how many were flagged (so nothing is optimised away).
fn score_all(e: &mut Engine, evs: &[Value]) -> usize {
    evs.iter()
        .filter(|ev| e.score(*ev, None).score > 0.0)
        .count()
}

fn bench(c: &mut Criterion) {
    let evs = events(100_000, 10_000);
    let mut g = c.benchmark_group("score");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.sample_size(10);
    for preset in ["default", "ecs"] {
        let policy = Policy::preset(preset).unwrap();
        // warm engine: baselines learned over the same stream once
        let mut warm = Engine::new(policy.clone());
        for e in &evs {
            warm.score(e, None);
        }
        let snap = warm.snapshot();
        g.bench_function(format!("{preset}_serde_json_100k"), |b| {
            b.iter_batched(
                || {
                    let mut e = Engine::new(policy.clone());
                    e.restore(&snap).unwrap();
                    e
                },
                |mut e| score_all(&mut e, &evs),
                BatchSize::PerIteration,
            )
        });
    }
    // flat field access (no JSON tree walk): the engine's own cost
    let flat: Vec<[(String, String); 4]> = evs
        .iter()
        .map(|v| {
            [
                (
                    "user.name".into(),
                    v["user"]["name"].as_str().unwrap().into(),
                ),
                (
                    "source.ip".into(),
                    v["source"]["ip"].as_str().unwrap().into(),
                ),
                (
                    "event.action".into(),
                    v["event"]["action"].as_str().unwrap().into(),
                ),
                (
                    "event.outcome".into(),
                    v["event"]["outcome"].as_str().unwrap().into(),
                ),
            ]
        })
        .collect();
    let policy = Policy::preset("default").unwrap();
    g.bench_function("default_flat_fields_100k", |b| {
        b.iter_batched(
            || Engine::new(policy.clone()),
            |mut e| {
                for (i, f) in flat.iter().enumerate() {
                    let ev: [(&str, FieldValue<'_>); 4] = [
                        (f[0].0.as_str(), FieldValue::Str(&f[0].1)),
                        (f[1].0.as_str(), FieldValue::Str(&f[1].1)),
                        (f[2].0.as_str(), FieldValue::Str(&f[2].1)),
                        (f[3].0.as_str(), FieldValue::Str(&f[3].1)),
                    ];
                    e.score(
                        &ev[..],
                        Some(1_704_067_200_000_000_000 + i as i64 * 100_000_000),
                    );
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// Real records: the OpenSSH fixture (2,000 sshd lines as ECS records)
/// streamed through a fresh engine, as `logseal seal --policy P` does. The
/// generator above never showed the cost a real log's counts can hit (the
/// Poisson tail once took 11 µs a record here; crates/anomaly/BENCHMARKS.md).
fn bench_real(c: &mut Criterion) {
    let evs = logseal_anomaly::testkit::openssh_records();
    let mut g = c.benchmark_group("score_real");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.sample_size(20);
    for preset in ["sshd", "default"] {
        let policy = Policy::preset(preset).unwrap();
        g.bench_function(format!("{preset}_openssh_2k"), |b| {
            b.iter_batched(
                || Engine::new(policy.clone()),
                |mut e| score_all(&mut e, &evs),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// Snapshots, packed (`snapshot`, what plugins save) beside plain
/// (`snapshot_plain`, the baseline: what they saved before packing), and
/// restoring each: an sshd engine after the OpenSSH fixture (nearly empty
/// sketches, as a quiet stream's) and a default engine after 100,000
/// generated events from 10,000 users. The sizes are printed.
/// `cargo bench -p logseal-anomaly --bench engine -- snapshot`
fn bench_snapshot(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshot");
    g.sample_size(10);
    let ssh = logseal_anomaly::testkit::openssh_records();
    let generated = events(100_000, 10_000);
    for (name, preset, evs) in [
        ("sshd_openssh_2k", "sshd", &ssh),
        ("default_100k", "default", &generated),
    ] {
        let policy = Policy::preset(preset).unwrap();
        let mut e = Engine::new(policy.clone());
        score_all(&mut e, evs);
        let (plain, packed) = (e.snapshot_plain(), e.snapshot());
        println!(
            "snapshot {name}: {} bytes plain, {} packed ({:.0}x)",
            plain.len(),
            packed.len(),
            plain.len() as f64 / packed.len() as f64
        );
        g.bench_function(format!("{name}/plain"), |b| {
            b.iter(|| e.snapshot_plain().len())
        });
        g.bench_function(format!("{name}/packed"), |b| b.iter(|| e.snapshot().len()));
        for (form, bytes) in [("plain", &plain), ("packed", &packed)] {
            g.bench_function(format!("{name}/restore_{form}"), |b| {
                b.iter_batched(
                    || Engine::new(policy.clone()),
                    |mut f| f.restore(bytes).is_ok(),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench, bench_real, bench_snapshot);
criterion_main!(benches);

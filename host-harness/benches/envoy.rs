//! Per-request cost of the Envoy filter (`logseal_envoy.wasm`) in the
//! proxy-wasm harness: context create, request headers, response headers,
//! done, log (record, score, seal, queue), delete — and every 200 requests a
//! tick that ships the batch to the collector. Figures go to
//! `plugins/envoy/BENCHMARKS.md`.
//!
//! `cargo bench -p logseal-host-harness --bench envoy` (the filter comes from
//! `$LOGSEAL_WASM_DIR`, default `target/wasm/`: `cargo xtask build-wasm`).

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use logseal_core::SignerKey;
use logseal_host_harness::proxy_wasm::{Collector, Encoding, Plugin, Proxy, Request};

fn wasm_path() -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    let path = dir.join("logseal_envoy.wasm");
    assert!(
        path.is_file(),
        "the Envoy filter {} is missing: run `cargo xtask build-wasm`",
        path.display()
    );
    path
}

fn config(policy: bool, chain: &str) -> String {
    let key = SignerKey::from_seed("edge.example", [9; 32]).unwrap();
    let policy = if policy { r#""policy":"envoy","# } else { "" };
    format!(
        r#"{{"key":"{}","stream":"edge.example/envoy",{policy}"checkpoint_interval_secs":60,
            "envoy":{{"chain":"{chain}","batch_max_records":200,"queue_max_records":10000,
                      "collector":{{"cluster":"logseal_collector"}},"principal_header":"x-user"}}}}"#,
        key.to_private_string()
    )
}

const T0: i64 = 1_795_439_677_000_000_000;

fn request(i: i64) -> Request {
    Request::get(
        &format!("/api/items/{}", i % 50),
        &format!("10.0.{}.{}:{}", i % 7, i % 200, 30000 + i % 20000),
        Some(if i % 13 == 0 { 404 } else { 200 }),
        T0 + i * 1_000_000,
    )
    .header("x-user", &format!("user{}", i % 40))
}

/// This thread's CPU time (user + system), from `/proc/thread-self/stat`, in
/// µs (10 ms resolution): the figure that does not depend on how busy the
/// machine is, unlike criterion's wall-clock time.
fn thread_cpu_us() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command.
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10_000.0)
}

/// `n` requests, reporting wall and CPU µs per request.
fn cpu_figure(name: &str, cfg: &str, workers: usize, n: i64) {
    let plugin = Plugin::load(&wasm_path()).unwrap();
    let mut p = Proxy::new(&plugin, cfg, workers, Encoding::Envoy).unwrap();
    let (t, c) = (std::time::Instant::now(), thread_cpu_us());
    for i in 0..n {
        p.set_time(T0 + i * 1_000_000);
        p.request(i as usize % workers, &request(i)).unwrap();
        if i % 200 == 199 {
            p.flush(Collector::Accept).unwrap();
            p.collected.clear();
        }
    }
    let wall = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let cpu = match (c, thread_cpu_us()) {
        (Some(a), Some(b)) => format!("{:.1}", (b - a) / n as f64),
        _ => "n/a".into(),
    };
    println!("cpu-figure {name}: {n} requests, wall {wall:.1} µs/request, CPU {cpu} µs/request");
}

fn run(c: &mut Criterion, name: &str, cfg: &str, workers: usize) {
    cpu_figure(name, cfg, workers, 20_000);
    let plugin = Plugin::load(&wasm_path()).unwrap();
    let mut p = Proxy::new(&plugin, cfg, workers, Encoding::Envoy).unwrap();
    let mut i: i64 = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            p.set_time(T0 + i * 1_000_000);
            p.request(i as usize % workers, &request(i)).unwrap();
            i += 1;
            if i % 200 == 0 {
                p.flush(Collector::Accept).unwrap();
                p.collected.clear();
            }
        })
    });
}

fn bench(c: &mut Criterion) {
    run(
        c,
        "envoy/shared-chain/score+seal/1-worker",
        &config(true, "shared"),
        1,
    );
    run(
        c,
        "envoy/shared-chain/score+seal/2-workers",
        &config(true, "shared"),
        2,
    );
    run(
        c,
        "envoy/worker-chain/score+seal/2-workers",
        &config(true, "worker"),
        2,
    );
    run(
        c,
        "envoy/shared-chain/seal-only/2-workers",
        &config(false, "shared"),
        2,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    targets = bench
}
criterion_main!(benches);

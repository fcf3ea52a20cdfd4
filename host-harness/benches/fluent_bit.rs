//! The Fluent Bit module's own cost per record under wasmtime (called exactly
//! as filter_wasm calls it), beside the native sealer on the same records,
//! and the processor component, in one run.
//!
//! `cargo xtask build-wasm && cargo bench -p logseal-host-harness --bench fluent_bit`

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logseal_core::{Input, SealConfig, Sealer, SignerKey};
use logseal_host_harness::component::{Event, ProcessorHost};
use logseal_host_harness::fluent_bit::{FluentBitFilter, Options, json_mode};

fn wasm(name: &str) -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    dir.join(name)
}

fn key() -> SignerKey {
    SignerKey::from_seed("bench.logseal.dev/fb", [1; 32]).unwrap()
}

fn records(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            json_mode(&format!(
                r#"{{"@timestamp":"2026-11-23T10:{:02}:{:02}Z","event":{{"action":"user-login","outcome":"{}"}},"user":{{"name":"user{}"}},"source":{{"ip":"203.0.113.{}","port":{}}},"http":{{"method":"POST","path":"/api/v1/sessions","status":{}}},"message":"login attempt for user{} from 203.0.113.{}","latency_ms":{:.3}}}"#,
                i / 60 % 60,
                i % 60,
                if i % 13 == 0 { "failure" } else { "success" },
                i % 500,
                i % 250,
                1024 + i % 60000,
                if i % 13 == 0 { 401 } else { 200 },
                i % 500,
                i % 250,
                i as f64 / 7.0
            ))
            .unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let recs = records(5_000);
    let avg = recs.iter().map(String::len).sum::<usize>() / recs.len();
    eprintln!("average record: {avg} bytes");
    let mut g = c.benchmark_group("fluent_bit");
    g.throughput(Throughput::Elements(recs.len() as u64));
    for policy in [None, Some("ecs")] {
        let label = policy.unwrap_or("none");
        g.bench_function(format!("native_pipeline/policy={label}"), |b| {
            b.iter(|| run_native(policy, "bench", &recs))
        });
        let (_dir, cfg, opts) = module_config(policy);
        let (engine, module) = fluent_bit_module();
        // With the harness's parse of each returned record (as the host
        // converts it), and without it (`skip_host_parse`): the module's own
        // cost.
        for (row, host_parse) in [
            ("fluent_bit_module", true),
            ("fluent_bit_module_only", false),
        ] {
            g.bench_function(format!("{row}/policy={label}"), |b| {
                b.iter(|| run_module(&engine, &module, &opts, host_parse, b"bench", &recs))
            });
        }
        let evs: Vec<Event<'_>> = recs
            .iter()
            .enumerate()
            .map(|(i, r)| Event {
                json: r.as_str().into(),
                tag: Some("bench".into()),
                time_ns: Some(1_700_000_000_000_000_000 + i as i64),
            })
            .collect();
        let cengine = wasmtime::Engine::new(&ProcessorHost::engine_config()).unwrap();
        let component =
            wasmtime::component::Component::from_file(&cengine, wasm("logseal_processor.wasm"))
                .expect("run `cargo xtask build-wasm` first");
        g.bench_function(format!("component_batches_of_256/policy={label}"), |b| {
            b.iter(|| {
                let mut h =
                    ProcessorHost::from_component(&cengine, &component, &[], &cfg.to_string())
                        .unwrap();
                for chunk in evs.chunks(256) {
                    criterion::black_box(h.process(chunk).unwrap());
                }
            })
        });
    }
    g.finish();
}

/// The native sealer and scorer (what `logseal seal` runs) over `recs`.
fn run_native(policy: Option<&str>, tag: &str, recs: &[String]) {
    let mut sc = SealConfig::new(key().name(), "b");
    sc.checkpoint_every = 1000;
    let mut p = logseal_pipeline::Processor::new(
        Sealer::new(key(), sc).unwrap(),
        policy.and_then(logseal_anomaly::Policy::preset),
    );
    for (i, r) in recs.iter().enumerate() {
        criterion::black_box(p.process(Input {
            record: r.as_bytes(),
            tag: Some(tag),
            time_ns: Some(1_700_000_000_000_000_000 + i as i64),
            ..Input::default()
        }));
    }
}

/// The Fluent Bit module, compiled once.
fn fluent_bit_module() -> (wasmtime::Engine, wasmtime::Module) {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::from_file(&engine, wasm("logseal_fluent_bit.wasm"))
        .expect("run `cargo xtask build-wasm` first");
    (engine, module)
}

/// A fresh module instance called as filter_wasm calls it, once a record;
/// with the harness's parse of each returned record when `host_parse`.
fn run_module(
    engine: &wasmtime::Engine,
    module: &wasmtime::Module,
    opts: &Options,
    host_parse: bool,
    tag: &[u8],
    recs: &[String],
) {
    let mut f = FluentBitFilter::from_module(engine, module, opts).unwrap();
    if !host_parse {
        f.skip_host_parse();
    }
    for (i, r) in recs.iter().enumerate() {
        let out = f
            .call_raw(tag, 1_700_000_000, i as u32, Some(r.as_bytes()), r.len())
            .unwrap();
        criterion::black_box(out);
    }
}

/// The module's configuration file (in a fresh accessible directory, kept
/// alive by the returned guard) for `policy`.
fn module_config(policy: Option<&str>) -> (tempfile::TempDir, serde_json::Value, Options) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = serde_json::json!({"key": key().to_private_string(), "epoch": "b", "checkpoint_every": 1000});
    if let Some(p) = policy {
        cfg["policy"] = serde_json::json!(p);
    }
    std::fs::write(dir.path().join("logseal.json"), cfg.to_string()).unwrap();
    let opts = Options {
        accessible_paths: vec![dir.path().to_path_buf()],
        ..Options::default()
    };
    (dir, cfg, opts)
}

/// Real records: the OpenSSH fixture (2,000 sshd lines as ECS records, as
/// Fluent Bit's JSON mode hands them over) with the `sshd` policy, through
/// the module and natively. The generator above never hit what a real log's
/// counts can (the anomaly engine's Poisson tail once cost 11 µs a record
/// here natively).
fn bench_real(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/openssh_2k.ndjson"
    );
    let text = std::fs::read_to_string(path).expect("tests/fixtures/openssh_2k.ndjson");
    let recs: Vec<String> = text.lines().map(|l| json_mode(l).unwrap()).collect();
    let mut g = c.benchmark_group("fluent_bit_real");
    g.throughput(Throughput::Elements(recs.len() as u64));
    let policy = "sshd";
    g.bench_function(format!("native_pipeline/openssh_2k/policy={policy}"), |b| {
        b.iter(|| run_native(Some(policy), "sshd", &recs))
    });
    let (_dir, _, opts) = module_config(Some(policy));
    let (engine, module) = fluent_bit_module();
    g.bench_function(
        format!("fluent_bit_module_only/openssh_2k/policy={policy}"),
        |b| b.iter(|| run_module(&engine, &module, &opts, false, b"sshd", &recs)),
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(5));
    targets = bench, bench_real
}
criterion_main!(benches);

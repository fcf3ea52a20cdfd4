//! Seal and verify throughput on ~300-byte audit records, beside raw SHA-256
//! of the same bytes on this machine (the ceiling), measured in one run.
//!
//! `cargo bench -p logseal-core --bench seal`

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use logseal_core::verify::Verifier;
use logseal_core::{Input, SealConfig, Sealer, SignerKey, VerifyOptions};
use sha2::{Digest, Sha256};

fn records(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"@timestamp":"2026-11-23T10:{:02}:{:02}.{:03}Z","event":{{"action":"user-login","outcome":"{}","id":"{:016x}"}},"user":{{"name":"user{}","roles":["dev","ops"]}},"source":{{"ip":"203.0.113.{}","port":{}}},"http":{{"method":"POST","path":"/api/v1/sessions","status":{}}},"latency_ms":{:.3}}}"#,
                i / 60 % 60,
                i % 60,
                i % 1000,
                if i % 13 == 0 { "failure" } else { "success" },
                i * 7919,
                i % 500,
                i % 250,
                1024 + i % 60000,
                if i % 13 == 0 { 401 } else { 200 },
                i as f64 / 7.0
            )
        })
        .collect()
}

fn key() -> SignerKey {
    SignerKey::from_seed("bench.logseal.dev/audit", [5; 32]).unwrap()
}

fn bench(c: &mut Criterion) {
    let recs = records(10_000);
    let avg = recs.iter().map(String::len).sum::<usize>() / recs.len();
    eprintln!("average record: {avg} bytes");
    let mut g = c.benchmark_group("per_record");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("sha256_of_record_bytes (ceiling)", |b| {
        b.iter(|| {
            for r in &recs {
                let mut h = Sha256::new();
                h.update([0u8]);
                h.update(r.as_bytes());
                criterion::black_box(h.finalize());
            }
        })
    });
    g.bench_function("seal", |b| {
        b.iter_batched(
            || {
                let mut cfg = SealConfig::new("bench.logseal.dev/audit", "b1");
                cfg.checkpoint_every = 1000;
                Sealer::new(key(), cfg).unwrap()
            },
            |mut s| {
                for r in &recs {
                    criterion::black_box(s.seal(Input {
                        record: r.as_bytes(),
                        ..Input::default()
                    }));
                }
            },
            BatchSize::LargeInput,
        )
    });
    let mut cfg = SealConfig::new("bench.logseal.dev/audit", "b1");
    cfg.checkpoint_every = 1000;
    let mut s = Sealer::new(key(), cfg).unwrap();
    let sealed: Vec<Vec<u8>> = recs
        .iter()
        .map(|r| {
            s.seal(Input {
                record: r.as_bytes(),
                ..Input::default()
            })
            .line
        })
        .collect();
    g.bench_function("read (parse, canonicalise, hash; no chain checks)", |b| {
        let mut r = logseal_core::record::Reader::new();
        let added = logseal_core::record::AddedFields::default();
        b.iter(|| {
            for l in &sealed {
                criterion::black_box(r.read(l, &added).is_ok());
            }
        })
    });
    g.bench_function("canonicalise only", |b| {
        let mut c = logseal_core::canon::Canon::new();
        b.iter(|| {
            for l in &sealed {
                criterion::black_box(c.object(l).is_ok());
            }
        })
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            let mut v = Verifier::new(VerifyOptions {
                keys: vec![key().verifier()],
                ..VerifyOptions::default()
            });
            let f = v.add_file("bench");
            for (i, l) in sealed.iter().enumerate() {
                v.add_line(f, i as u64 + 1, l);
            }
            let r = v.finish();
            assert!(r.intact());
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);

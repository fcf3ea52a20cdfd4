//! `digest_many` beside `sha2` one message at a time, on the two kinds of
//! message a verifier hashes: RFC 6962 leaves of a sealed record (about 400
//! bytes, 7 blocks) and interior Merkle nodes (65 bytes, 2 blocks).
//!
//! `cargo bench -p logseal-sha --bench many`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logseal_sha::{backend, digest_each, digest_many};

fn messages(n: usize, len: impl Fn(usize) -> usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| (0..len(i)).map(|j| (i * 31 + j) as u8).collect())
        .collect()
}

fn bench(c: &mut Criterion) {
    eprintln!("digest_many backend: {}", backend());
    let leaves = messages(4096, |i| 360 + i % 120);
    let nodes = messages(4096, |_| 65);
    for (name, msgs) in [
        ("leaves_360_480_bytes", &leaves),
        ("nodes_65_bytes", &nodes),
    ] {
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let mut out = vec![[0u8; 32]; refs.len()];
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(refs.len() as u64));
        g.bench_function("sha2 one at a time (baseline)", |b| {
            b.iter(|| digest_each(&refs, &mut out))
        });
        g.bench_function("digest_many", |b| b.iter(|| digest_many(&refs, &mut out)));
        // In batches of 64, as the verifier hashes them.
        g.bench_function("digest_many in batches of 64", |b| {
            b.iter(|| {
                for (m, o) in refs.chunks(64).zip(out.chunks_mut(64)) {
                    digest_many(m, o);
                }
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);

//! Scoring of real sshd records by a preset, for instruction counts that do
//! not depend on the machine's hour:
//! `cargo run -p logseal-anomaly --release --example sshd_speed [passes] [preset]`
//! scores `tests/fixtures/openssh_2k.ndjson` (Loghub's OpenSSH_2k as
//! records) `passes` times (default 50), each pass by a fresh engine as
//! `score_real` in `benches/engine.rs` does, and prints events per second.
//! Under `valgrind --tool=cachegrind --cache-sim=no` the total instruction
//! count compares two builds in any hour (crates/anomaly/BENCHMARKS.md).

use logseal_anomaly::{Engine, Policy};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let passes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let preset = args.next().unwrap_or_else(|| "sshd".into());
    let evs = logseal_anomaly::testkit::openssh_records();
    let policy = Policy::preset(&preset).expect("a built-in preset");
    let start = Instant::now();
    let mut flagged = 0usize;
    for _ in 0..passes {
        let mut e = Engine::new(policy.clone());
        for ev in &evs {
            flagged += usize::from(!e.score(ev, None).reasons.is_empty());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = passes * evs.len();
    println!(
        "{preset}: {n} events in {secs:.3} s, {:.0} events/s ({flagged} with reasons)",
        n as f64 / secs
    );
}

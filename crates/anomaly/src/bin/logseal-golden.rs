//! Print the verdicts for the fixed golden stream, one JSON line per event.
//! `cargo run -p logseal-anomaly --bin logseal-golden | diff - crates/anomaly/tests/data/golden_verdicts.jsonl`
//! and the same under wasm (see BENCHMARKS.md / README) to check determinism across targets.

use logseal_anomaly::{Engine, Policy, testkit};
use std::io::Write;

fn main() {
    let mut e = Engine::new(Policy::preset("ecs").expect("ecs preset"));
    let mut out = std::io::stdout().lock();
    for ev in testkit::stream() {
        let _ = writeln!(out, "{}", e.score(&ev, None).to_json());
    }
}

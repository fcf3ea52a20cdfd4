//! CPU-time throughput of the `default` preset on structured (serde_json) events:
//! `cargo run -p logseal-anomaly --release --example speed [events]`

use logseal_anomaly::{Engine, Policy};
use serde_json::{Value, json};
use std::time::Instant;

fn events(n: usize, users: usize) -> Vec<Value> {
    // same generator as benches/engine.rs
    let mut x: u64 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let r = next();
            let u = (r % users as u64) as usize;
            let action = ["login", "read", "write", "delete"][((r >> 16) % 4) as usize];
            let t = 1_704_067_200 + (i as u64) / 10;
            json!({
                "@timestamp": t,
                "user": {"name": format!("user{u}"), "roles": if u.is_multiple_of(10) { "admin" } else { "staff" }},
                "source": {"ip": format!("10.{}.{}.{}", u % 7, (r >> 8) % 3, u % 250),
                           "geo": {"country_iso_code": "DE"}},
                "event": {"action": action,
                          "outcome": if (r >> 20) % 20 == 0 { "failure" } else { "success" }},
                "user_agent": {"original": "Mozilla/5.0"}
            })
        })
        .collect()
}

fn cpu_secs() -> f64 {
    // user + system time of this process from /proc (Linux); wall clock elsewhere
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((ut + st) / 100.0)
        })
        .unwrap_or(0.0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let evs = events(n, 10_000);
    let policy = Policy::preset("default").unwrap();
    let mut warm = Engine::new(policy.clone());
    for e in &evs {
        warm.score(e, None);
    }
    let mut e = Engine::new(policy);
    e.restore(&warm.snapshot()).unwrap();
    let (c0, w0) = (cpu_secs(), Instant::now());
    let mut flagged = 0usize;
    for ev in &evs {
        flagged += (e.score(ev, None).score > 0.0) as usize;
    }
    let (cpu, wall) = (cpu_secs() - c0, w0.elapsed().as_secs_f64());
    println!(
        "{n} events: {:.0} events per CPU-second ({cpu:.2} s CPU), {:.0} events/s wall clock; {flagged} flagged",
        n as f64 / cpu.max(1e-9),
        n as f64 / wall
    );
}

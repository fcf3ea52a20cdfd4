//! A deliberately hostile rule for the host sandbox tests.
//!
//! Its behaviour is chosen by the event's `attack` field; events without
//! one return no finding after a substring check, which also makes this the
//! "bare call" rule of the benchmarks. Never load it in a real pipeline.
//!
//! | `attack`            | behaviour                                              |
//! |---------------------|--------------------------------------------------------|
//! | `loop`              | loops forever (fuel or the epoch deadline stops it)    |
//! | `slow`              | finite but long busy work (only a deadline stops it)   |
//! | `trap`              | panics (a wasm trap)                                   |
//! | `oom`               | allocates until memory runs out                        |
//! | `many-findings`     | returns `n` findings (default 10 000)                   |
//! | `huge-reason`       | returns a finding with a 100 KiB reason                |
//! | `empty-reason`      | returns a finding with an empty reason                 |
//! | `ok`                | returns one well-formed finding                        |
//! | `count`             | increments a counter in rule state and reports it      |
//! | `count-then-trap`   | increments the counter, then traps                     |
//! | `kv-flood`          | writes 1 KiB values until the store refuses            |
//! | `kv-big-key`        | writes under a 100 KiB key                             |
//! | `kv-big-value`      | writes a 1 MiB value                                   |
//! | `kv-ttl`            | `set("ttl", .., ttl-ns = n)` then reports what `get` sees |
//! | `kv-get`            | reports the length of the value under key `k`, if any  |
//! | `escape`            | tries to read the environment, files and the network   |
//! | `sleep`             | `std::thread::sleep` for `n` ms (a blocking host call)  |
//! | `find`              | runs the SDK's SIMD `contains` on `cases` (pairs of haystack and needle), answers one `0`/`1` per case |

use std::hint::black_box;

use logseal_rule_sdk::event::Event;
use logseal_rule_sdk::{Finding, Guest, RuleInfo, Severity, finding, info, state};

struct Rule;

fn counter() -> u64 {
    let n = state::get("n")
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
        + 1;
    if let Err(e) = state::set("n", &n.to_le_bytes(), None) {
        panic!("state write failed: {e:?}");
    }
    n
}

fn ok(reason: String) -> Vec<Finding> {
    vec![finding(Severity::Low, reason, Some("hostile"))]
}

impl Guest for Rule {
    fn describe() -> RuleInfo {
        info("logseal.Hostile", "0.1.0", &["attack", "n", "k"])
    }

    fn evaluate(event: String, _time_ns: i64) -> Vec<Finding> {
        if !event.contains("attack") {
            return vec![];
        }
        let Some(ev) = Event::parse(&event) else {
            return vec![];
        };
        let n = ev.at("n").and_then(|v| v.as_u64());
        match ev.str_at("attack").unwrap_or("") {
            "loop" => loop {
                black_box(());
            },
            "slow" => {
                let mut x = 0u64;
                for i in 0..n.unwrap_or(20_000_000_000) {
                    x = black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                ok(format!("slow done {x}"))
            }
            "trap" => panic!("hostile rule: deliberate trap"),
            "oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "many-findings" => (0..n.unwrap_or(10_000))
                .map(|i| finding(Severity::Info, format!("finding {i}"), None))
                .collect(),
            "huge-reason" => ok("x".repeat(100 * 1024)),
            "empty-reason" => ok(String::new()),
            "ok" => ok("well-formed".into()),
            "count" => ok(format!("count={}", counter())),
            "count-then-trap" => {
                counter();
                panic!("hostile rule: trap after a state write")
            }
            "kv-flood" => {
                let value = vec![7u8; 1024];
                let mut written = 0u32;
                loop {
                    match state::set(&format!("flood:{written}"), &value, None) {
                        Ok(()) => written += 1,
                        Err(e) => {
                            return ok(format!("flood stopped after {written} writes: {e:?}"));
                        }
                    }
                }
            }
            "kv-big-key" => ok(format!(
                "{:?}",
                state::set(&"k".repeat(100 * 1024), b"v", None)
            )),
            "kv-big-value" => ok(format!(
                "{:?}",
                state::set("big", &vec![0u8; 1 << 20], None)
            )),
            "kv-ttl" => {
                let set = state::set("ttl", b"v", n);
                ok(format!("{set:?} get={:?}", state::get("ttl")))
            }
            "kv-get" => {
                let key = ev.str_at("k").unwrap_or("");
                ok(format!(
                    "get={:?} usage={:?}",
                    state::get(key).map(|v| v.len()),
                    state::usage()
                ))
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(n.unwrap_or(10_000)));
                ok("slept".into())
            }
            "escape" => {
                let env = std::env::vars().count();
                let fs = std::fs::read_dir("/").is_ok() || std::fs::read("/etc/passwd").is_ok();
                let net = std::net::TcpStream::connect("127.0.0.1:9").is_ok();
                let stdout = {
                    use std::io::Write;
                    std::io::stdout()
                        .write_all(b"hostile rule on stdout\n")
                        .is_ok()
                };
                ok(format!("env={env} fs={fs} net={net} stdout_ok={stdout}"))
            }
            "find" => {
                let cases = ev
                    .at("cases")
                    .and_then(|c| c.as_array())
                    .cloned()
                    .unwrap_or_default();
                let bits: String = cases
                    .iter()
                    .map(|c| {
                        let h = c.get(0).and_then(|v| v.as_str()).unwrap_or("");
                        let n = c.get(1).and_then(|v| v.as_str()).unwrap_or("");
                        if logseal_rule_sdk::event::contains(h, n) {
                            '1'
                        } else {
                            '0'
                        }
                    })
                    .collect();
                ok(bits)
            }
            other => ok(format!("unknown attack {other:?}")),
        }
    }
}

logseal_rule_sdk::export!(Rule);

//! Load test for `logseal serve` on loopback: a sender that behaves like
//! Vector's `http` sink with `request.concurrency = 1` (one batch at a time,
//! in order), the sidecar as its own process (optionally pinned to one core
//! with `taskset`), and a receiver standing in for the next hop.
//!
//! Prints sustained records/s, p50/p99/max batch latency and the sidecar's
//! peak RSS (VmHWM). Bounded in records and in time.
//!
//! ```sh
//! cargo build --release -p logseal-cli
//! target/release/logseal-serve-load --records 1000000 --batch 1000 --cpu 0
//! target/release/logseal-serve-load --processor target/wasm/logseal_processor.wasm --cpu 0
//! ```

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use clap::Parser;

/// Load test for `logseal serve`.
#[derive(Parser)]
struct Args {
    /// Records to send at most.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Records per batch (Vector's `batch.max_events`).
    #[arg(long, default_value_t = 1000)]
    batch: u64,
    /// Batches in flight at once (Vector's `request.concurrency`; 1 is
    /// strictly one after another, Vector's adaptive default goes higher).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Stop after this many seconds of sending.
    #[arg(long, default_value_t = 60)]
    max_secs: u64,
    /// Send JSON arrays instead of NDJSON.
    #[arg(long)]
    array: bool,
    /// The processor component (default: the native processor).
    #[arg(long)]
    processor: Option<PathBuf>,
    /// Anomaly policy preset (default: none, seal only).
    #[arg(long)]
    policy: Option<String>,
    /// Pin the sidecar to this CPU (`taskset -c`).
    #[arg(long)]
    cpu: Option<usize>,
    /// The `logseal` binary (default: next to this one).
    #[arg(long)]
    logseal: Option<PathBuf>,
}

fn record(i: u64) -> String {
    format!(
        concat!(
            r#"{{"@timestamp":"2026-11-23T10:{:02}:{:02}.{:06}Z","event":{{"action":"user_login","outcome":"{}","category":"authentication"}},"#,
            r#""user":{{"name":"user{}"}},"source":{{"ip":"10.{}.{}.{}","port":{}}},"host":{{"name":"web-{}"}},"#,
            r#""message":"Accepted publickey for user{} from 10.{}.{}.{} port {} ssh2","seq":{}}}"#
        ),
        (i / 60) % 60,
        i % 60,
        i % 1_000_000,
        if i.is_multiple_of(17) {
            "failure"
        } else {
            "success"
        },
        i % 500,
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255,
        1024 + i % 60000,
        i % 8,
        i % 500,
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255,
        1024 + i % 60000,
        i
    )
}

fn body(from: u64, n: u64, array: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(n as usize * 330);
    if array {
        b.push(b'[');
    }
    for i in from..from + n {
        if array && i > from {
            b.push(b',');
        }
        b.extend_from_slice(record(i).as_bytes());
        if !array {
            b.push(b'\n');
        }
    }
    if array {
        b.push(b']');
    }
    b
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU seconds of a process (all its threads).
fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit(')').next()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the name.
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() -> Result<()> {
    let a = Args::parse();
    let dir = tempfile::tempdir()?;
    let key = logseal_core::SignerKey::from_seed("bench.example/audit", [9u8; 32])?;
    std::fs::write(dir.path().join("k.key"), key.to_private_string())?;
    std::fs::write(dir.path().join("token"), "bench-token-0123456789abcdef")?;
    let mut cfg = serde_json::json!({"key_file": "k.key", "checkpoint_every": 1000});
    if let Some(p) = &a.policy {
        cfg["policy"] = p.as_str().into();
    }
    std::fs::write(dir.path().join("c.json"), cfg.to_string())?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let received = Arc::new(AtomicU64::new(0));
    let r2 = received.clone();
    let raddr = rt.block_on(async move {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?;
        let app = axum::Router::new().fallback(axum::routing::post(move |b: Bytes| {
            let r = r2.clone();
            async move {
                let n = b.iter().filter(|&&c| c == b'\n').count() as u64;
                r.fetch_add(n, Relaxed);
                "ok"
            }
        }));
        tokio::spawn(async move { axum::serve(l, app).await });
        Ok::<_, anyhow::Error>(addr)
    })?;

    let logseal = match &a.logseal {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("logseal"),
    };
    let mut cmd = match a.cpu {
        Some(c) => {
            let mut t = Command::new("taskset");
            t.arg("-c").arg(c.to_string()).arg(&logseal);
            t
        }
        None => Command::new(&logseal),
    };
    cmd.arg("serve")
        .arg("--config")
        .arg(dir.path().join("c.json"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--token-file")
        .arg(dir.path().join("token"))
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--forward")
        .arg(format!("http://{raddr}/"))
        .arg("--threads")
        .arg("1")
        .stderr(Stdio::piped());
    if let Some(p) = &a.processor {
        cmd.arg("--processor").arg(p);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("{}", logseal.display()))?;
    let pid = child.id();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let Some(l) = lines.next() else {
            bail!("sidecar exited before listening");
        };
        let l = l?;
        eprintln!("{l}");
        if let Some(rest) = l.split("listening on ").nth(1) {
            break rest.split(',').next().unwrap_or_default().to_string() + "/ingest";
        }
    };
    let cpu0 = cpu_secs(pid).unwrap_or(0.0);
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("{l}");
        }
    });

    // Bodies are made ahead by a producer thread (the sender is not measured).
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, Vec<u8>)>(16);
    let (records, batch, array) = (a.records, a.batch.max(1), a.array);
    std::thread::spawn(move || {
        let mut i = 0;
        while i < records {
            let n = batch.min(records - i);
            if tx.blocking_send((n, body(i, n, array))).is_err() {
                break;
            }
            i += n;
        }
    });
    let ct = if a.array {
        "application/json"
    } else {
        "application/x-ndjson"
    };
    let max = Duration::from_secs(a.max_secs);
    let concurrency = a.concurrency.max(1);
    let (sent, lat, elapsed, bytes) = rt.block_on(async move {
        let client = reqwest::Client::new();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let t0 = Instant::now();
        // `concurrency` senders take the next batch as soon as theirs got
        // its 2xx, as Vector's sink does with that many requests in flight.
        let senders: Vec<_> = (0..concurrency)
            .map(|_| {
                let (client, rx, url) = (client.clone(), rx.clone(), url.clone());
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let (mut sent, mut bytes) = (0u64, 0u64);
                    loop {
                        let Some((n, b)) = rx.lock().await.recv().await else {
                            break;
                        };
                        if t0.elapsed() > max {
                            break;
                        }
                        bytes += b.len() as u64;
                        let b = Bytes::from(b);
                        let t = Instant::now();
                        loop {
                            let r = client
                                .post(&url)
                                .header("content-type", ct)
                                .header("authorization", "Bearer bench-token-0123456789abcdef")
                                .body(b.clone())
                                .send()
                                .await?;
                            if r.status().is_success() {
                                break;
                            }
                            if r.status().as_u16() != 429 && r.status().as_u16() < 500 {
                                bail!("sidecar answered {}", r.status());
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        lat.push(t.elapsed());
                        sent += n;
                    }
                    Ok::<_, anyhow::Error>((sent, lat, bytes))
                })
            })
            .collect();
        let (mut sent, mut lat, mut bytes) = (0u64, Vec::new(), 0u64);
        for s in senders {
            let (n, l, b) = s.await??;
            sent += n;
            lat.extend(l);
            bytes += b;
        }
        Ok::<_, anyhow::Error>((sent, lat, t0.elapsed(), bytes))
    })?;
    let hwm = vm_hwm_kib(pid).unwrap_or(0);
    let cpu = cpu_secs(pid).unwrap_or(0.0) - cpu0;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = child.wait();
    let mut lat = lat;
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let secs = elapsed.as_secs_f64();
    let got = received.load(Relaxed);
    println!(
        "| {} | {} | {} | {} | {:.0} | {:.0} | {:.1} | {:.2} | {:.2} | {:.2} | {:.1} |",
        if a.processor.is_some() {
            "component"
        } else {
            "native"
        },
        a.policy.as_deref().unwrap_or("none"),
        if a.array { "array" } else { "ndjson" },
        batch,
        sent as f64 / secs,
        sent as f64 / cpu.max(1e-9),
        bytes as f64 / secs / 1e6,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
        hwm as f64 / 1024.0,
    );
    eprintln!(
        "sent {sent} records in {secs:.2} s ({} batches, {concurrency} in flight); next hop received {got}; sidecar CPU {cpu:.2} s; cpu pin {:?}",
        lat.len(),
        a.cpu
    );
    if got != sent {
        bail!("the next hop received {got} records, {sent} were sent");
    }
    Ok(())
}

//! Shared pieces of the `logseal serve` tests: a sidecar process, a sender
//! that behaves like Vector's `http` sink, a receiver standing in for the
//! next hop's `http_server` source, and the end-to-end checks.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use logseal_core::{Kind, SignerKey, VerifyOptions};

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// Keys, configuration and token in a temporary directory.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub key: SignerKey,
}

impl Setup {
    pub fn new(checkpoint_every: u64) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let key = SignerKey::from_seed("test.example/audit", [7u8; 32]).unwrap();
        std::fs::write(dir.path().join("audit.key"), key.to_private_string() + "\n").unwrap();
        std::fs::write(
            dir.path().join("logseal.json"),
            serde_json::json!({
                "key_file": "audit.key",
                "stream": "test.example/audit",
                "checkpoint_every": checkpoint_every,
                "checkpoints_file": dir.path().join("cps.txt").to_str().unwrap(),
            })
            .to_string(),
        )
        .unwrap();
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
        Setup { dir, key }
    }

    /// Fix the epoch and set a policy (to compare runs byte for byte).
    pub fn fixed(self, epoch: &str, policy: Option<&str>) -> Setup {
        let p = self.path("logseal.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v["epoch"] = epoch.into();
        if let Some(pol) = policy {
            v["policy"] = pol.into();
        }
        std::fs::write(&p, v.to_string()).unwrap();
        self
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

/// The processor arguments: the real component when `LOGSEAL_SERVE_COMPONENT`
/// is set (see `component_wasm`), else the native processor.
pub fn component_wasm() -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/wasm"));
    let p = dir.join("logseal_processor.wasm");
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask build-wasm` first (or set LOGSEAL_WASM_DIR)",
        p.display()
    );
    p
}

/// A running `logseal serve`.
pub struct Sidecar {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

impl Sidecar {
    pub fn start(s: &Setup, listen: &str, forward: &str, extra: &[String]) -> Sidecar {
        Sidecar::start_with(s, listen, forward, extra, true)
    }

    /// Like [`Sidecar::start`]; `token`: pass `--token-file`.
    pub fn start_with(
        s: &Setup,
        listen: &str,
        forward: &str,
        extra: &[String],
        token: bool,
    ) -> Sidecar {
        Sidecar::spawn(s, listen, forward, extra, token, true)
    }

    /// Like [`Sidecar::start`] without a state directory (nothing kept).
    pub fn start_stateless(s: &Setup, listen: &str, forward: &str, extra: &[String]) -> Sidecar {
        Sidecar::spawn(s, listen, forward, extra, true, false)
    }

    fn spawn(
        s: &Setup,
        listen: &str,
        forward: &str,
        extra: &[String],
        token: bool,
        state: bool,
    ) -> Sidecar {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_logseal"));
        cmd.arg("serve").arg("--config").arg(s.path("logseal.json"));
        if state {
            cmd.arg("--state-dir").arg(s.path("state"));
        }
        if token {
            cmd.arg("--token-file").arg(s.path("token"));
        }
        cmd.arg("--listen")
            .arg(listen)
            .arg("--forward")
            .arg(forward)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn logseal serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l2 = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Logged first: whoever learns the address can read the line.
                {
                    let mut g = l2.lock().unwrap();
                    g.push_str(&line);
                    g.push('\n');
                }
                if let Some(rest) = line
                    .split("listening on http://")
                    .nth(1)
                    .or_else(|| line.split("listening on https://").nth(1))
                {
                    let addr: SocketAddr = rest.split(',').next().unwrap().parse().unwrap();
                    if let Some(t) = tx.take() {
                        let _ = t.send(addr);
                    }
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("sidecar did not start:\n{}", log.lock().unwrap()));
        Sidecar { child, addr, log }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// SIGKILL: no cleanup at all.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait: the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait (up to 10 s) until the sidecar's log contains `what`.
    pub fn wait_log(&self, what: &str) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.log().contains(what) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Receiver behaviour.
pub const OK: u8 = 0;
pub const FAIL_503: u8 = 1;
pub const SLOW: u8 = 2;

/// The next hop: an `http_server` source answering 200 after storing the body.
#[derive(Clone)]
pub struct Receiver {
    pub bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    pub mode: Arc<AtomicU8>,
    pub slow_ms: Arc<AtomicU64>,
    pub content_types: Arc<Mutex<BTreeSet<String>>>,
}

async fn receive(
    State(r): State<Receiver>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> StatusCode {
    match r.mode.load(SeqCst) {
        FAIL_503 => return StatusCode::SERVICE_UNAVAILABLE,
        SLOW => {
            // Stored when received, acknowledged late: the sender may give up
            // in between, as with a slow sink behind the source.
            r.bodies.lock().unwrap().push(body.to_vec());
            tokio::time::sleep(Duration::from_millis(r.slow_ms.load(SeqCst))).await;
            return StatusCode::OK;
        }
        _ => {}
    }
    if let Some(ct) = headers.get("content-type") {
        r.content_types
            .lock()
            .unwrap()
            .insert(ct.to_str().unwrap().to_string());
    }
    r.bodies.lock().unwrap().push(body.to_vec());
    StatusCode::OK
}

impl Receiver {
    pub fn new() -> Receiver {
        Receiver {
            bodies: Arc::default(),
            mode: Arc::new(AtomicU8::new(OK)),
            slow_ms: Arc::new(AtomicU64::new(0)),
            content_types: Arc::default(),
        }
    }

    /// Serve on `addr` ("127.0.0.1:0" for any port) until the handle is dropped.
    pub async fn serve(&self, addr: &str) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let local = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .fallback(post(receive))
            .with_state(self.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        (local, stop)
    }

    pub fn all(&self) -> Vec<u8> {
        self.bodies.lock().unwrap().concat()
    }
}

/// How Vector's `http` sink frames a batch (`encoding.codec = "json"`).
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    /// `framing.method = "newline_delimited"`: `application/x-ndjson`.
    Ndjson,
    /// No framing: a JSON array, `application/json`.
    Array,
}

pub fn body_of(events: &[String], f: Framing) -> (Vec<u8>, &'static str) {
    match f {
        Framing::Ndjson => {
            let mut b = Vec::new();
            for e in events {
                b.extend_from_slice(e.as_bytes());
                b.push(b'\n');
            }
            (b, "application/x-ndjson")
        }
        Framing::Array => (
            format!("[{}]", events.join(",")).into_bytes(),
            "application/json",
        ),
    }
}

/// What Vector's `http` sink does with a batch: POST it with its headers;
/// 2xx is delivered; 429, 408, 5xx, timeouts and connection errors are
/// retried with backoff, same bytes; any other status drops the batch.
pub struct VectorSink {
    pub url: String,
    pub token: Option<String>,
    pub client: reqwest::Client,
    pub timeout: Duration,
    pub retries: AtomicU64,
}

impl VectorSink {
    pub fn new(url: &str) -> VectorSink {
        VectorSink {
            url: url.to_string(),
            token: Some(TOKEN.to_string()),
            client: reqwest::Client::new(),
            timeout: Duration::from_secs(30),
            retries: AtomicU64::new(0),
        }
    }

    pub async fn post_once(
        &self,
        body: &[u8],
        ct: &str,
        gzip: bool,
    ) -> Result<(u16, String), String> {
        let mut rq = self
            .client
            .post(&self.url)
            .timeout(self.timeout)
            .header("content-type", ct)
            .header("user-agent", "Vector/0.57.0 (x86_64-unknown-linux-gnu)")
            .header("accept-encoding", "identity");
        if let Some(t) = &self.token {
            rq = rq.header("authorization", format!("Bearer {t}"));
        }
        let body = if gzip {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).unwrap();
            rq = rq.header("content-encoding", "gzip");
            e.finish().unwrap()
        } else {
            body.to_vec()
        };
        match rq.body(body).send().await {
            Ok(r) => {
                let st = r.status().as_u16();
                Ok((st, r.text().await.unwrap_or_default()))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Send until delivered (or dropped, as Vector drops on non-retryable
    /// statuses): the final status.
    pub async fn send(&self, events: &[String], f: Framing) -> u16 {
        let (body, ct) = body_of(events, f);
        self.send_raw(&body, ct, false).await
    }

    pub async fn send_raw(&self, body: &[u8], ct: &str, gzip: bool) -> u16 {
        let t0 = Instant::now();
        let mut backoff = Duration::from_millis(20);
        loop {
            let r = self.post_once(body, ct, gzip).await;
            match r {
                Ok((st, _)) if (200..300).contains(&st) => return st,
                Ok((st, _)) if st == 429 || st == 408 || st >= 500 => {}
                Ok((st, _)) => return st,
                Err(_) => {}
            }
            self.retries.fetch_add(1, SeqCst);
            assert!(t0.elapsed() < Duration::from_secs(90), "gave up retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }
}

/// Events with ids `from..to`.
pub fn events(from: u64, to: u64) -> Vec<String> {
    (from..to)
        .map(|i| {
            serde_json::json!({
                "id": i,
                "message": format!("Accepted publickey for user{} from 10.0.0.{} port 22", i % 7, i % 250),
                "host": "web-1",
                "timestamp": format!("2026-11-23T10:00:{:02}.{:06}Z", i % 60, i),
                "source_type": "file",
            })
            .to_string()
        })
        .collect()
}

/// What arrived at the next hop, checked end to end.
pub struct Checked {
    pub records: usize,
    pub epochs: BTreeSet<String>,
    pub duplicates: usize,
}

/// The chain verifies (no tampering finding; checkpoint signatures checked),
/// every id in `ids` was sealed exactly once (one epoch/seq per id, nothing
/// lost, nothing sealed twice), in order. Duplicates (the same sealed record
/// delivered twice) are allowed and counted.
pub fn check(s: &Setup, received: &[u8], ids: std::ops::Range<u64>) -> Checked {
    let report = logseal_core::verify::verify_texts(
        VerifyOptions {
            keys: vec![s.key.verifier()],
            ..VerifyOptions::default()
        },
        &[("next-hop", received)],
    );
    let bad: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind.is_tampering())
        .map(|f| format!("{}: {}", f.kind.name(), f.message))
        .collect();
    assert!(bad.is_empty(), "tampering findings: {bad:#?}");
    assert!(
        !report.findings.iter().any(|f| f.kind == Kind::SeqCollision),
        "fork"
    );
    let duplicates = report
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Duplicate)
        .count();
    let mut seals: BTreeMap<u64, BTreeSet<(String, u64)>> = BTreeMap::new();
    let mut order: Vec<(String, u64, u64)> = Vec::new();
    let mut epochs = BTreeSet::new();
    for line in received.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let seal = &v["_logseal"];
        let epoch = seal["epoch"].as_str().unwrap().to_string();
        let seq = seal["seq"].as_u64().unwrap();
        epochs.insert(epoch.clone());
        let Some(id) = v["id"].as_u64() else { continue };
        seals.entry(id).or_default().insert((epoch.clone(), seq));
        order.push((epoch, seq, id));
    }
    for id in ids.clone() {
        let n = seals.get(&id).map_or(0, BTreeSet::len);
        assert_eq!(n, 1, "record {id} sealed {n} times: {:?}", seals.get(&id));
    }
    assert_eq!(seals.len(), ids.clone().count(), "unexpected records");
    // In order: by (epoch order of appearance, seq) ids increase.
    order.sort();
    order.dedup();
    let mut by_epoch: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for (e, seq, id) in order {
        by_epoch.entry(e).or_default().push((seq, id));
    }
    for (e, v) in &by_epoch {
        assert!(
            v.windows(2).all(|w| w[0].1 < w[1].1),
            "epoch {e}: records out of order"
        );
    }
    Checked {
        records: seals.len(),
        epochs,
        duplicates,
    }
}

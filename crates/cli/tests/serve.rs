//! `logseal serve` over real HTTP on loopback: a sender that behaves like
//! Vector's `http` sink, the sidecar process, and a receiver standing in for
//! the next hop. After each scenario the chain verifies, nothing is lost and
//! nothing is sealed twice.

mod serve_common;

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use serve_common::*;

async fn health(side: &Sidecar) -> serde_json::Value {
    let t = reqwest::get(format!("{}health", side.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&t).unwrap()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_framings_gzip_in_order() {
    let setup = Setup::new(50);
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start(&setup, "127.0.0.1:0", &format!("http://{raddr}/"), &[]);
    let sink = VectorSink::new(&side.url());
    let mut next = 0;
    for i in 0..12u64 {
        let n = 1 + (i * 37) % 120;
        let ev = events(next, next + n);
        next += n;
        let st = match i % 3 {
            0 => sink.send(&ev, Framing::Ndjson).await,
            1 => sink.send(&ev, Framing::Array).await,
            _ => {
                let (b, ct) = body_of(&ev, Framing::Ndjson);
                sink.send_raw(&b, ct, true).await
            }
        };
        assert_eq!(st, 200);
    }
    // An empty batch is fine and seals nothing.
    assert_eq!(sink.send(&[], Framing::Array).await, 200);
    let c = check(&setup, &rx.all(), 0..next);
    assert_eq!(c.epochs.len(), 1);
    assert_eq!(c.duplicates, 0);
    assert_eq!(
        rx.content_types.lock().unwrap().iter().collect::<Vec<_>>(),
        vec!["application/x-ndjson"]
    );
    // Checkpoints went to the checkpoint file too.
    let cps = std::fs::read_to_string(setup.path("cps.txt")).unwrap();
    assert!(cps.contains("test.example/audit/"));
    assert_eq!(side.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_authorised_senders_add_records() {
    let setup = Setup::new(10);
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start(&setup, "127.0.0.1:0", &format!("http://{raddr}/"), &[]);
    let mut sink = VectorSink::new(&side.url());
    let (body, ct) = body_of(&events(100, 110), Framing::Ndjson);
    sink.token = None;
    assert_eq!(sink.post_once(&body, ct, false).await.unwrap().0, 401);
    sink.token = Some("not-the-token-at-all-xxxxxxxx".into());
    assert_eq!(sink.post_once(&body, ct, false).await.unwrap().0, 403);
    sink.token = Some(format!("{TOKEN}x"));
    assert_eq!(sink.post_once(&body, ct, false).await.unwrap().0, 403);
    // A Basic header with the right secret is still not a bearer token.
    let r = reqwest::Client::new()
        .post(side.url())
        .header("authorization", format!("Basic {TOKEN}"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(rx.all().is_empty(), "nothing may be sealed or forwarded");
    sink.token = Some(TOKEN.into());
    assert_eq!(sink.send(&events(0, 10), Framing::Ndjson).await, 200);
    let c = check(&setup, &rx.all(), 0..10);
    assert_eq!(c.records, 10);
    let h = health(&side).await;
    assert_eq!(h["unauthorized"], 4);
    assert_eq!(h["records"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_batch_is_replayed_not_resealed() {
    let setup = Setup::new(7);
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start(&setup, "127.0.0.1:0", &format!("http://{raddr}/"), &[]);
    let sink = VectorSink::new(&side.url());
    assert_eq!(sink.send(&events(0, 20), Framing::Array).await, 200);
    let (body, ct) = body_of(&events(20, 45), Framing::Ndjson);
    let (st, first) = sink.post_once(&body, ct, false).await.unwrap();
    assert_eq!(st, 200);
    assert!(first.contains("\"replayed\":false"), "{first}");
    // Vector did not see that answer and sends the same bytes again.
    let (st, again) = sink.post_once(&body, ct, false).await.unwrap();
    assert_eq!(st, 200);
    assert!(again.contains("\"replayed\":true"), "{again}");
    assert!(again.contains("\"first_seq\":20"), "{again}");
    assert_eq!(sink.send(&events(45, 60), Framing::Ndjson).await, 200);
    let c = check(&setup, &rx.all(), 0..60);
    // The next hop had accepted batch 2: it is not sent again.
    assert_eq!(c.duplicates, 0);
    assert_eq!(c.epochs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_hop_down_then_back() {
    let setup = Setup::new(25);
    let rx = Receiver::new();
    let (raddr, stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start(&setup, "127.0.0.1:0", &format!("http://{raddr}/"), &[]);
    let sink = std::sync::Arc::new(VectorSink::new(&side.url()));
    assert_eq!(sink.send(&events(0, 30), Framing::Ndjson).await, 200);

    // 1. The next hop answers 503: the sidecar answers 503, Vector retries.
    rx.mode.store(FAIL_503, SeqCst);
    let s2 = sink.clone();
    let t = tokio::spawn(async move { s2.send(&events(30, 70), Framing::Array).await });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!t.is_finished());
    rx.mode.store(OK, SeqCst);
    assert_eq!(t.await.unwrap(), 200);

    // 2. The next hop is gone (connection refused), then comes back on its port.
    drop(stop);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let s2 = sink.clone();
    let t = tokio::spawn(async move { s2.send(&events(70, 100), Framing::Ndjson).await });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!t.is_finished());
    // Meanwhile a different batch (a second sender) is refused before sealing.
    let (b, ct) = body_of(&events(1000, 1001), Framing::Ndjson);
    assert_eq!(sink.post_once(&b, ct, false).await.unwrap().0, 503);
    let (_a, _stop2) = rx.serve(&raddr.to_string()).await;
    assert_eq!(t.await.unwrap(), 200);
    assert_eq!(sink.send(&events(100, 120), Framing::Ndjson).await, 200);
    assert!(sink.retries.load(SeqCst) >= 2);
    let c = check(&setup, &rx.all(), 0..120);
    assert_eq!(c.epochs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_next_hop_and_overload() {
    let setup = Setup::new(25);
    let rx = Receiver::new();
    rx.mode.store(SLOW, SeqCst);
    rx.slow_ms.store(400, SeqCst);
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start(
        &setup,
        "127.0.0.1:0",
        &format!("http://{raddr}/"),
        &s(&["--queue", "1", "--forward-timeout", "5"]),
    );
    // Vector's request timeout shorter than the next hop's latency: the
    // sender gives up and retries while the sidecar is still forwarding.
    let mut sink = VectorSink::new(&side.url());
    sink.timeout = Duration::from_millis(250);
    assert_eq!(sink.send(&events(0, 40), Framing::Ndjson).await, 200);
    assert!(sink.retries.load(SeqCst) >= 1);
    // Several senders at once (what `request.concurrency` > 1 would do):
    // some are told 429, all get through, each sealed once.
    rx.slow_ms.store(150, SeqCst);
    let sink = std::sync::Arc::new(VectorSink::new(&side.url()));
    let mut tasks = Vec::new();
    for k in 0..6u64 {
        let s2 = sink.clone();
        tasks.push(tokio::spawn(async move {
            s2.send(&events(100 + k * 10, 110 + k * 10), Framing::Ndjson)
                .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let received = rx.all();
    let mut ids: Vec<u64> = (0..40).collect();
    ids.extend(100..160);
    // Check the two id ranges together.
    let text = String::from_utf8(received.clone()).unwrap();
    for id in &ids {
        assert!(text.contains(&format!("\"id\":{id},")), "id {id} missing");
    }
    let report = logseal_core::verify::verify_texts(
        logseal_core::VerifyOptions {
            keys: vec![setup.key.verifier()],
            ..Default::default()
        },
        &[("next-hop", &received)],
    );
    assert!(report.intact(), "{:#?}", report.findings);
    let h = health(&side).await;
    assert_eq!(h["records"], 100, "each record sealed once: {h}");
    assert!(h["overloaded"].as_u64().unwrap() >= 1, "{h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_mid_stream() {
    let setup = Setup::new(10);
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let fwd = format!("http://{raddr}/");
    let side = Sidecar::start(&setup, "127.0.0.1:0", &fwd, &[]);
    let addr = side.addr;
    let sink = std::sync::Arc::new(VectorSink::new(&side.url()));
    assert_eq!(sink.send(&events(0, 50), Framing::Ndjson).await, 200);
    // The next hop is slow: the batch is sealed, saved and being forwarded
    // when the sidecar is killed; Vector never gets an answer.
    rx.mode.store(SLOW, SeqCst);
    rx.slow_ms.store(1500, SeqCst);
    let s2 = sink.clone();
    let t = tokio::spawn(async move { s2.send(&events(50, 80), Framing::Array).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    side.kill();
    rx.mode.store(OK, SeqCst);
    // Restarted on the same address with the same state directory.
    let side = Sidecar::start(&setup, &addr.to_string(), &fwd, &[]);
    assert_eq!(t.await.unwrap(), 200);
    assert!(
        side.log().contains("continuing the saved chain"),
        "{}",
        side.log()
    );
    assert_eq!(sink.send(&events(80, 100), Framing::Ndjson).await, 200);
    // Graceful stop, then a start that continues the same epoch again.
    assert_eq!(side.terminate().code(), Some(0));
    let side = Sidecar::start(&setup, &addr.to_string(), &fwd, &[]);
    assert_eq!(sink.send(&events(100, 110), Framing::Ndjson).await, 200);
    drop(side);
    let c = check(&setup, &rx.all(), 0..110);
    assert_eq!(c.epochs.len(), 1, "a restart continues the epoch");
    assert!(c.duplicates <= 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_bodies() {
    let setup = Setup::new(10);
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start(
        &setup,
        "127.0.0.1:0",
        &format!("http://{raddr}/"),
        &s(&["--max-body-bytes", "4096"]),
    );
    let sink = VectorSink::new(&side.url());
    assert_eq!(sink.send(&events(0, 5), Framing::Ndjson).await, 200);
    // Too large: refused (Vector drops a 413 batch; lower batch.max_bytes).
    let (big, ct) = body_of(&events(5, 200), Framing::Ndjson);
    assert!(big.len() > 4096);
    assert_eq!(sink.post_once(&big, ct, false).await.unwrap().0, 413);
    // Also without a content-length (chunked) and as gzip that expands too far.
    assert_eq!(chunked_post(side.addr, &big).await, 413);
    assert_eq!(sink.post_once(&big, ct, true).await.unwrap().0, 413);
    // Malformed: every line is still sealed (wrapped), nothing dropped.
    let bad = b"{\"id\":5}\nnot json at all\n{\"id\": 6, broken\n[1,2]\n{\"id\":7}\n";
    assert_eq!(sink.send_raw(bad, "application/x-ndjson", false).await, 200);
    let bad_array = b"[{\"id\":8},{\"id\":9}";
    assert_eq!(
        sink.send_raw(bad_array, "application/json", false).await,
        200
    );
    let arr_mixed = b"[{\"id\":10},\"a string\",42,{\"_logseal\":1}]";
    assert_eq!(
        sink.send_raw(arr_mixed, "application/json", false).await,
        200
    );
    assert_eq!(sink.send(&events(11, 20), Framing::Array).await, 200);
    let all = rx.all();
    let text = String::from_utf8(all.clone()).unwrap();
    assert_eq!(text.matches("_logseal_error").count(), 7, "{text}");
    assert!(text.contains("not json at all"));
    assert!(text.contains("[{\\\"id\\\":8},{\\\"id\\\":9}"));
    let report = logseal_core::verify::verify_texts(
        logseal_core::VerifyOptions {
            keys: vec![setup.key.verifier()],
            ..Default::default()
        },
        &[("next-hop", &all)],
    );
    assert!(report.intact(), "{:#?}", report.findings);
    assert_eq!(report.chains[0].records, 5 + 5 + 1 + 4 + 9);
}

/// POST with `Transfer-Encoding: chunked` (no content-length): the status.
async fn chunked_post(addr: std::net::SocketAddr, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut rq = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for ch in body.chunks(1000) {
        rq.extend_from_slice(format!("{:x}\r\n", ch.len()).as_bytes());
        rq.extend_from_slice(ch);
        rq.extend_from_slice(b"\r\n");
    }
    rq.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything.
    let _ = c.write_all(&rq).await;
    let mut buf = vec![0u8; 256];
    let n = c.read(&mut buf).await.unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn pipe_mode_stdin_to_stdout_continues_the_chain() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let setup = Setup::new(10);
    let run = |from: u64, to: u64, extra: &[&str]| -> Vec<u8> {
        let mut c = Command::new(env!("CARGO_BIN_EXE_logseal"))
            .arg("serve")
            .arg("--config")
            .arg(setup.path("logseal.json"))
            .arg("--state-dir")
            .arg(setup.path("state"))
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = events(from, to).join("\n").into_bytes();
        input.extend_from_slice(b"\n\n");
        c.stdin.take().unwrap().write_all(&input).unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let mut all = run(0, 25, &["--batch", "7"]);
    all.extend(run(25, 60, &[]));
    let c = check(&setup, &all, 0..60);
    assert_eq!(c.epochs.len(), 1, "a clean restart continues the epoch");
    // Output to a file, input from a file.
    std::fs::write(setup.path("in.ndjson"), events(60, 70).join("\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_logseal"))
        .arg("serve")
        .arg("--config")
        .arg(setup.path("logseal.json"))
        .arg("--state-dir")
        .arg(setup.path("state"))
        .arg("--output")
        .arg(setup.path("out.ndjson"))
        .arg(setup.path("in.ndjson"))
        .output()
        .unwrap();
    assert!(out.status.success());
    all.extend(std::fs::read(setup.path("out.ndjson")).unwrap());
    let c = check(&setup, &all, 0..70);
    assert_eq!(c.epochs.len(), 1);
    // A pipe killed before its clean exit: the next run opens a new epoch
    // naming the saved head (it may be a batch behind).
    let head = std::fs::read_to_string(setup.path("state/head.json")).unwrap();
    std::fs::write(
        setup.path("state/head.json"),
        head.replace("\"clean\":true", "\"clean\":false"),
    )
    .unwrap();
    all.extend(run(70, 80, &[]));
    let c = check(&setup, &all, 0..80);
    assert_eq!(c.epochs.len(), 2);
    assert!(String::from_utf8_lossy(&all).contains("\"after\":"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_batch_in_flight() {
    let setup = Setup::new(10);
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let fwd = format!("http://{raddr}/");
    let side = Sidecar::start(&setup, "127.0.0.1:0", &fwd, &[]);
    let sink = std::sync::Arc::new(VectorSink::new(&side.url()));
    assert_eq!(sink.send(&events(0, 10), Framing::Ndjson).await, 200);
    rx.mode.store(SLOW, SeqCst);
    rx.slow_ms.store(800, SeqCst);
    let (body, ct) = body_of(&events(10, 30), Framing::Ndjson);
    let s2 = sink.clone();
    let t = tokio::spawn(async move { s2.post_once(&body, ct, false).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = side.log.clone();
    let status = tokio::task::spawn_blocking(move || side.terminate())
        .await
        .unwrap();
    // The request in flight was answered after its forward completed.
    let (st, answer) = t.await.unwrap().unwrap();
    assert_eq!(st, 200, "{answer}");
    assert_eq!(status.code(), Some(0), "{}", log.lock().unwrap());
    let head = std::fs::read_to_string(setup.path("state/head.json")).unwrap();
    assert!(head.contains("\"clean\":true"), "{head}");
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    let chain: serde_json::Value = serde_json::from_str(head["chain"].as_str().unwrap()).unwrap();
    assert_eq!(chain["size"], 30);
    rx.mode.store(OK, SeqCst);
    let side = Sidecar::start(&setup, "127.0.0.1:0", &fwd, &[]);
    let sink = VectorSink::new(&side.url());
    assert_eq!(sink.send(&events(30, 40), Framing::Array).await, 200);
    let c = check(&setup, &rx.all(), 0..40);
    assert_eq!(c.epochs.len(), 1);
}

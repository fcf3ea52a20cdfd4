//! `logseal serve --processor`: the same HTTP scenarios through the real
//! `processor` WebAssembly component in the sidecar's wasmtime host.
//! Needs `target/wasm/logseal_processor.wasm` (`cargo xtask build-wasm`) or
//! `LOGSEAL_WASM_DIR`.

mod serve_common;

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use serve_common::*;

async fn run_batches(setup: &Setup, extra: &[String]) -> Vec<u8> {
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start(setup, "127.0.0.1:0", &format!("http://{raddr}/"), extra);
    let sink = VectorSink::new(&side.url());
    let mut next = 0;
    for i in 0..8u64 {
        let n = 5 + (i * 29) % 90;
        let ev = events(next, next + n);
        next += n;
        let f = if i % 2 == 0 {
            Framing::Ndjson
        } else {
            Framing::Array
        };
        assert_eq!(sink.send(&ev, f).await, 200);
    }
    let bad = b"not json\n{\"_logseal\":1}\n{\"user\":\"caf\xe9\"}\n";
    assert_eq!(sink.send_raw(bad, "application/x-ndjson", false).await, 200);
    assert_eq!(side.terminate().code(), Some(0));
    let all = rx.all();
    check(setup, &all, 0..next);
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_and_native_seal_byte_identically() {
    let wasm = component_wasm().to_str().unwrap().to_string();
    let a = Setup::new(16).fixed("e-serve-1", Some("ecs"));
    let b = Setup::new(16).fixed("e-serve-1", Some("ecs"));
    let comp = run_batches(&a, &["--processor".to_string(), wasm]).await;
    let native = run_batches(&b, &[]).await;
    assert!(String::from_utf8_lossy(&comp).contains("\"_anomaly\""));
    let (comp, native) = (
        String::from_utf8(comp).unwrap(),
        String::from_utf8(native).unwrap(),
    );
    for (i, (c, n)) in comp.lines().zip(native.lines()).enumerate() {
        assert_eq!(c, n, "line {} differs", i + 1);
    }
    assert_eq!(comp.lines().count(), native.lines().count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_retry_kill_restart() {
    let wasm = component_wasm().to_str().unwrap().to_string();
    let extra = vec!["--processor".to_string(), wasm];
    let setup = Setup::new(10);
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let fwd = format!("http://{raddr}/");
    let side = Sidecar::start(&setup, "127.0.0.1:0", &fwd, &extra);
    assert!(side.log().contains("component processor"), "{}", side.log());
    let addr = side.addr;
    let sink = std::sync::Arc::new(VectorSink::new(&side.url()));
    assert_eq!(sink.send(&events(0, 40), Framing::Array).await, 200);
    // A retry of a delivered batch: replayed, not sealed again.
    let (body, ct) = body_of(&events(40, 60), Framing::Ndjson);
    assert_eq!(sink.post_once(&body, ct, false).await.unwrap().0, 200);
    let (st, again) = sink.post_once(&body, ct, false).await.unwrap();
    assert_eq!(st, 200);
    assert!(again.contains("\"replayed\":true"), "{again}");
    // Next hop down, then back.
    rx.mode.store(FAIL_503, SeqCst);
    let s2 = sink.clone();
    let t = tokio::spawn(async move { s2.send(&events(60, 90), Framing::Ndjson).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    rx.mode.store(OK, SeqCst);
    assert_eq!(t.await.unwrap(), 200);
    // Killed while forwarding; restarted; Vector's retry is answered from disk.
    rx.mode.store(SLOW, SeqCst);
    rx.slow_ms.store(1500, SeqCst);
    let s2 = sink.clone();
    let t = tokio::spawn(async move { s2.send(&events(90, 120), Framing::Array).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    side.kill();
    rx.mode.store(OK, SeqCst);
    let side = Sidecar::start(&setup, &addr.to_string(), &fwd, &extra);
    assert_eq!(t.await.unwrap(), 200);
    assert!(
        side.log().contains("continuing the saved chain"),
        "{}",
        side.log()
    );
    assert_eq!(sink.send(&events(120, 150), Framing::Ndjson).await, 200);
    assert_eq!(side.terminate().code(), Some(0));
    let c = check(&setup, &rx.all(), 0..150);
    assert_eq!(c.epochs.len(), 1);
}

//! The Envoy filter (`logseal_envoy.wasm`, proxy-wasm ABI 0.2.1) run by the
//! harness's proxy-wasm host: several worker VMs sharing data, callouts to a
//! collector, and the collected NDJSON verified with `logseal_core::verify`.
//!
//! The filter comes from `$LOGSEAL_WASM_DIR` (default
//! `<workspace>/target/wasm/`); build it with `cargo xtask build-wasm`.

use std::path::PathBuf;
use std::sync::OnceLock;

use logseal_core::verify::verify_texts;
use logseal_core::{Kind, Report, SignerKey, VerifyOptions};
use logseal_host_harness::proxy_wasm::{Collector, Encoding, Plugin, Proxy, Request};
use serde_json::Value;

fn wasm_path() -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    let path = dir.join("logseal_envoy.wasm");
    assert!(
        path.is_file(),
        "the Envoy filter {} is missing: run `cargo xtask build-wasm` (or point LOGSEAL_WASM_DIR at a directory holding it)",
        path.display()
    );
    path
}

fn plugin() -> &'static Plugin {
    static P: OnceLock<Plugin> = OnceLock::new();
    P.get_or_init(|| {
        Plugin::load(&wasm_path()).expect("the filter loads with only implemented imports")
    })
}

fn key() -> SignerKey {
    SignerKey::from_seed("edge.example", [9; 32]).unwrap()
}

/// A configuration with `envoy` members `extra` (JSON members, no braces).
fn config(extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "," };
    format!(
        r#"{{"key":"{}","stream":"edge.example/envoy","checkpoint_every":16,"policy":"envoy",
            "envoy":{{"collector":{{"cluster":"logseal_collector","authority":"collector.internal","path":"/ingest"}},
                      "principal_header":"x-user","jwt_header":"authorization"{sep}{extra}}}}}"#,
        key().to_private_string()
    )
}

fn verify(ndjson: &[u8]) -> Report {
    verify_texts(
        VerifyOptions {
            keys: vec![key().verifier()],
            ..Default::default()
        },
        &[("collected.ndjson", ndjson)],
    )
}

fn records(ndjson: &[u8]) -> Vec<Value> {
    ndjson
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("collected line is JSON"))
        .collect()
}

const T0: i64 = 1_795_439_677_000_000_000;
const JWT: &str = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiAiYWxpY2VAZXhhbXBsZS5jb20iLCAiaXNzIjogImh0dHBzOi8vaWRwLmV4YW1wbGUifQ.c2ln";

fn req(i: i64) -> Request {
    let r = Request::get(
        &format!("/api/items/{}", i % 7),
        &format!("10.0.{}.{}:{}", i % 3, 10 + i % 5, 40000 + i),
        Some(if i % 11 == 0 { 404 } else { 200 }),
        T0 + i * 10_000_000,
    );
    if i % 2 == 0 {
        r.header("x-user", "bob")
    } else {
        r.header("authorization", JWT)
    }
}

#[test]
fn two_workers_share_one_chain() {
    let mut p = Proxy::new(plugin(), &config(""), 2, Encoding::Envoy).unwrap();
    for i in 0..120 {
        // An uneven interleaving of the two workers.
        let w = usize::from(i % 3 != 0);
        p.set_time(T0 + i * 10_000_000);
        p.request(w, &req(i)).unwrap();
        if i % 25 == 24 {
            let targets = p.vm(0).callout_targets();
            assert!(targets.is_empty(), "callouts only happen on ticks");
            p.flush(Collector::Accept).unwrap();
        }
    }
    p.flush(Collector::Accept).unwrap();
    let rep = verify(&p.collected);
    assert!(rep.findings.is_empty(), "{:#?}", rep.findings);
    assert_eq!(rep.chains.len(), 1, "one chain for the whole proxy");
    assert_eq!(rep.chains[0].records, 120);
    assert_eq!(rep.chains[0].stream, "edge.example/envoy");
    assert!(
        rep.chains[0].signed_size >= 112,
        "checkpoints signed: {:?}",
        rep.chains[0]
    );

    let recs = records(&p.collected);
    let mut seqs: Vec<u64> = recs
        .iter()
        .map(|r| r["_logseal"]["seq"].as_u64().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..120).collect::<Vec<_>>());
    let r = recs
        .iter()
        .find(|r| r["request_id"] == "req-1795439677010000000")
        .unwrap();
    assert_eq!(r["method"], "GET");
    assert_eq!(r["authority"], "api.example.com");
    assert_eq!(r["path"], "/api/items/1");
    assert_eq!(r["response_code"], 200);
    assert_eq!(r["duration_us"], 1250);
    assert_eq!(r["bytes_received"], 0);
    assert_eq!(r["bytes_sent"], 512);
    assert_eq!(r["downstream_remote_address"], "10.0.1.11");
    assert_eq!(r["downstream_remote_port"], 40001);
    assert_eq!(r["user_agent"], "curl/8.5");
    assert_eq!(r["user"], "alice@example.com");
    assert_eq!(r["user_from"], "jwt");
    assert_eq!(r["upstream_cluster"], "backend");
    assert_eq!(r["start_time"], "2026-11-23T13:14:37.010000000Z");
    assert_eq!(r["_logseal"]["tag"], "backend");
    assert_eq!(r["_logseal"]["time"], 1_795_439_677_010_000_000i64);
    assert!(r["_anomaly"]["score"].is_number(), "scored: {r}");
    let bob = recs
        .iter()
        .find(|r| r["request_id"] == "req-1795439677000000000")
        .unwrap();
    assert_eq!(bob["user"], "bob");
    assert_eq!(bob["user_from"], "header");
}

#[test]
fn racy_first_write_keeps_one_chain() {
    let p = Proxy::new(plugin(), &config(""), 2, Encoding::Envoy).unwrap();
    // Worker 0 reads the (missing) head; before its write, worker 1 handles a
    // request and creates the head. Worker 0's creating write must then fail
    // its CAS and append to worker 1's chain instead of forking it.
    p.race_next_create(1, req(1));
    p.request(0, &req(0)).unwrap();
    let before = p.shared_stats();
    assert_eq!(
        before.cas_mismatches, 1,
        "the losing creator met a CAS mismatch"
    );
    p.request(1, &req(2)).unwrap();
    p.request(0, &req(3)).unwrap();
    let mut p = p;
    p.flush(Collector::Accept).unwrap();
    let rep = verify(&p.collected);
    assert!(rep.findings.is_empty(), "{:#?}", rep.findings);
    assert_eq!(rep.chains.len(), 1, "no second epoch: {:?}", rep.chains);
    assert_eq!(rep.chains[0].records, 4);
    let recs = records(&p.collected);
    let first = recs.iter().find(|r| r["_logseal"]["seq"] == 0).unwrap();
    assert_eq!(
        first["request_id"], "req-1795439677010000000",
        "worker 1 created the chain"
    );
}

#[test]
fn aborted_request_and_text_properties() {
    for enc in [Encoding::Envoy, Encoding::Text] {
        let mut p = Proxy::new(plugin(), &config(""), 1, enc).unwrap();
        let mut aborted = req(5);
        aborted.status = None;
        p.request(0, &aborted).unwrap();
        p.request(0, &req(6)).unwrap();
        p.flush(Collector::Accept).unwrap();
        let rep = verify(&p.collected);
        assert!(rep.findings.is_empty(), "{enc:?}: {:#?}", rep.findings);
        let recs = records(&p.collected);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0]["response_code"], 0, "{enc:?}");
        assert_eq!(recs[0]["aborted"], true);
        assert_eq!(
            recs[0]["response_code_details"],
            "downstream_remote_disconnect"
        );
        assert_eq!(recs[0]["bytes_sent"], 0);
        assert_eq!(recs[1]["response_code"], 200, "{enc:?}");
        assert_eq!(recs[1]["duration_us"], 1250, "{enc:?}");
        assert_eq!(recs[1]["_logseal"]["time"], T0 + 60_000_000, "{enc:?}");
        assert!(recs[1].get("aborted").is_none());
    }
}

#[test]
fn access_logger_variant_logs_on_the_root_context() {
    let mut p = Proxy::new(plugin(), &config(""), 1, Encoding::Envoy).unwrap();
    p.vm(0).access_log(&req(2)).unwrap();
    p.flush(Collector::Accept).unwrap();
    let recs = records(&p.collected);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["path"], "/api/items/2");
    assert_eq!(recs[0]["user"], "bob");
}

#[test]
fn collector_outage_becomes_a_declared_gap() {
    let cfg = config(r#""queue_max_records":20,"batch_max_records":8"#);
    let mut p = Proxy::new(plugin(), &cfg, 2, Encoding::Envoy).unwrap();
    let mut n = 0;
    // Outage: callouts fail (no headers) or answer 503; queues overflow.
    for round in 0..6 {
        for _ in 0..10 {
            p.request(n as usize % 2, &req(n)).unwrap();
            n += 1;
        }
        let c = if round % 2 == 0 {
            Collector::Fail
        } else {
            Collector::Status(503)
        };
        p.flush(c).unwrap();
    }
    assert!(p.collected.is_empty());
    // Back up: drain the queues; later records carry the loss declarations.
    for _ in 0..4 {
        p.flush(Collector::Accept).unwrap();
    }
    for _ in 0..6 {
        p.request(n as usize % 2, &req(n)).unwrap();
        n += 1;
        p.flush(Collector::Accept).unwrap();
    }
    let rep = verify(&p.collected);
    assert!(rep.intact(), "{:#?}", rep.findings);
    let mut declared = 0;
    for f in &rep.findings {
        assert_eq!(f.kind, Kind::DeclaredLoss, "{f:?}");
        declared += f.seq_end.unwrap() - f.seq.unwrap() + 1;
    }
    let delivered = records(&p.collected).len() as u64;
    assert_eq!(
        delivered + declared,
        n as u64,
        "every sealed record is delivered or declared lost"
    );
    assert_eq!(delivered, 40 + 6, "the queues held 20 each");
    let logs: Vec<_> = p.vm(0).logs().iter().map(|l| l.1.clone()).collect();
    assert!(
        logs.iter().any(|l| l.contains("collector batch failed")),
        "{logs:?}"
    );
}

#[test]
fn restart_of_one_vm_continues_the_chain() {
    let mut p = Proxy::new(plugin(), &config(""), 2, Encoding::Envoy).unwrap();
    for i in 0..10 {
        p.request(i as usize % 2, &req(i)).unwrap();
    }
    p.flush(Collector::Accept).unwrap();
    // Worker 0 holds two undelivered records when it is restarted gracefully.
    p.request(0, &req(10)).unwrap();
    p.request(0, &req(11)).unwrap();
    p.restart_vm(0, true).unwrap();
    for i in 12..20 {
        p.request(i as usize % 2, &req(i)).unwrap();
    }
    p.flush(Collector::Accept).unwrap();
    let rep = verify(&p.collected);
    assert!(rep.intact(), "{:#?}", rep.findings);
    assert_eq!(
        rep.chains.len(),
        1,
        "the new VM continued the chain: {:?}",
        rep.chains
    );
    let kinds: Vec<_> = rep
        .findings
        .iter()
        .map(|f| (f.kind, f.seq, f.seq_end))
        .collect();
    assert_eq!(kinds, [(Kind::DeclaredLoss, Some(10), Some(11))]);
    assert_eq!(rep.chains[0].last_seq, 19);
}

#[test]
fn a_crashed_vm_loses_what_it_held_and_the_verifier_says_which() {
    // A VM that dies without `proxy_on_done` (a trap, the process killed)
    // cannot declare what it held: the records it had sealed but not yet
    // shipped are missing, and the verifier reports exactly those sequence
    // numbers as deleted. Nothing else is lost or mis-reported: the other
    // worker's records, and everything the restarted VM seals, verify.
    let mut p = Proxy::new(plugin(), &config(""), 2, Encoding::Envoy).unwrap();
    for i in 0..10 {
        p.request(i as usize % 2, &req(i)).unwrap();
    }
    p.flush(Collector::Accept).unwrap();
    p.request(0, &req(10)).unwrap();
    p.request(1, &req(11)).unwrap();
    p.request(0, &req(12)).unwrap();
    p.restart_vm(0, false).unwrap();
    for i in 13..20 {
        p.request(i as usize % 2, &req(i)).unwrap();
    }
    p.flush(Collector::Accept).unwrap();
    let rep = verify(&p.collected);
    let kinds: Vec<_> = rep
        .findings
        .iter()
        .map(|f| (f.kind, f.seq, f.seq_end))
        .collect();
    assert_eq!(
        kinds,
        [
            (Kind::Deleted, Some(10), Some(10)),
            (Kind::Deleted, Some(12), Some(12))
        ],
        "{:#?}",
        rep.findings
    );
    assert_eq!(rep.chains.len(), 1, "one chain: {:?}", rep.chains);
    assert_eq!(rep.chains[0].last_seq, 19);
    assert_eq!(records(&p.collected).len(), 18);
}

#[test]
fn lost_head_opens_a_new_epoch_never_reusing_a_seq() {
    let mut p = Proxy::new(plugin(), &config(""), 2, Encoding::Envoy).unwrap();
    for i in 0..6 {
        p.request(i as usize % 2, &req(i)).unwrap();
    }
    p.flush(Collector::Accept).unwrap();
    p.clear_shared_data();
    for i in 6..12 {
        p.request(i as usize % 2, &req(i)).unwrap();
    }
    p.flush(Collector::Accept).unwrap();
    let rep = verify(&p.collected);
    assert!(rep.intact(), "{:#?}", rep.findings);
    assert_eq!(rep.chains.len(), 2, "{:?}", rep.chains);
    let recs = records(&p.collected);
    let second = recs
        .iter()
        .find(|r| r["_logseal"]["seq"] == 0 && r["_logseal"].get("after").is_some())
        .expect("the new epoch names its predecessor");
    // Worker 0 re-created the head; the last head it saw was its own seq 4
    // (worker 1 wrote seq 5 after it). The verifier reports the possible gap
    // after seq 4 as a crash gap, not as tampering.
    assert_eq!(second["_logseal"]["after"]["seq"], 4);
    let kinds: Vec<_> = rep.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [Kind::CrashGap]);
    // (epoch, seq) pairs are unique.
    let mut ids: Vec<(String, u64)> = recs
        .iter()
        .map(|r| {
            (
                r["_logseal"]["epoch"].as_str().unwrap().to_string(),
                r["_logseal"]["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12);
}

#[test]
fn enforce_mode_blocks_a_brute_force_source() {
    let cfg =
        config(r#""mode":"enforce","enforce":{"threshold":0.5,"status":403,"block_secs":60}"#);
    let mut p = Proxy::new(plugin(), &cfg, 2, Encoding::Envoy).unwrap();
    let attacker = "203.0.113.66:5000";
    let mut blocked_at = None;
    for i in 0..60 {
        let t = T0 + i * 1_000_000_000;
        p.set_time(t);
        let mut r = Request::get("/login", attacker, Some(401), t);
        r.headers.push(("x-request-id".into(), format!("bf-{i}")));
        let out = p.request(i as usize % 2, &r).unwrap();
        if let Some((status, headers)) = out.local_response {
            assert_eq!(status, 403);
            let reason = headers
                .iter()
                .find(|h| h.0 == "x-logseal-reason")
                .expect("reason header");
            assert!(reason.1.starts_with("203.0.113.66: "), "{reason:?}");
            blocked_at.get_or_insert(i);
        }
        // A normal client is never blocked.
        let ok = p
            .request(0, &Request::get("/", "198.51.100.7:6000", Some(200), t))
            .unwrap();
        assert!(ok.local_response.is_none());
    }
    let at = blocked_at.expect("the brute force was blocked");
    // The `auth_failures_per_ip` threshold is 20 per 10 minutes; each worker's
    // engine sees its half of the attempts (engines are per VM), so the block
    // comes after about 40 attempts, then holds on every worker.
    assert!(
        (20..=45).contains(&at),
        "blocked after the threshold, at request {at}"
    );
    // Both workers enforce the block (shared data).
    let t = T0 + 61_000_000_000;
    p.set_time(t);
    for w in 0..2 {
        let out = p
            .request(w, &Request::get("/login", attacker, Some(401), t))
            .unwrap();
        assert!(out.local_response.is_some(), "worker {w} enforces");
    }
    // The block expires.
    let t = T0 + 200_000_000_000;
    p.set_time(t);
    let out = p
        .request(0, &Request::get("/login", attacker, Some(200), t))
        .unwrap();
    assert!(out.local_response.is_none());
    p.flush(Collector::Accept).unwrap();
    let rep = verify(&p.collected);
    assert!(rep.findings.is_empty(), "{:#?}", rep.findings);
    let recs = records(&p.collected);
    let blocked: Vec<_> = recs.iter().filter(|r| r.get("blocked").is_some()).collect();
    assert!(!blocked.is_empty());
    assert!(blocked.iter().all(|r| r["response_code"] == 403));
}

#[test]
fn per_worker_chains() {
    let mut p = Proxy::new(plugin(), &config(r#""chain":"worker""#), 2, Encoding::Envoy).unwrap();
    for i in 0..10 {
        p.request(i as usize % 2, &req(i)).unwrap();
    }
    p.flush(Collector::Accept).unwrap();
    let rep = verify(&p.collected);
    assert!(rep.findings.is_empty(), "{:#?}", rep.findings);
    assert_eq!(rep.chains.len(), 2);
    assert!(
        rep.chains
            .iter()
            .all(|c| c.stream.starts_with("edge.example/envoy/worker-") && c.records == 5)
    );
    assert_eq!(p.shared_stats().sets, 0, "no shared data used");
}

#[test]
fn bad_configuration_fails_on_configure_with_a_clear_error() {
    let bad = config(r#""mode":"enforce","enforce":{"threshold":7}"#);
    let err = Proxy::new(plugin(), &bad, 1, Encoding::Envoy)
        .err()
        .expect("rejected");
    let msg = format!("{err:#}");
    assert!(msg.contains("envoy.enforce.threshold"), "{msg}");
    let err = Proxy::new(plugin(), r#"{"key":"nope"}"#, 1, Encoding::Envoy)
        .err()
        .expect("rejected");
    assert!(format!("{err:#}").contains("PRIVATE+KEY"), "{err:#}");
}

#[test]
fn callouts_go_to_the_configured_cluster() {
    let p = Proxy::new(plugin(), &config(""), 1, Encoding::Envoy).unwrap();
    p.request(0, &req(1)).unwrap();
    p.vm(0).tick().unwrap();
    let t = p.vm(0).callout_targets();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].0, "logseal_collector");
    let h = &t[0].1;
    for (k, v) in [
        (":method", "POST"),
        (":path", "/ingest"),
        (":authority", "collector.internal"),
        ("content-type", "application/x-ndjson"),
    ] {
        assert!(h.iter().any(|(a, b)| a == k && b == v), "{k}: {h:?}");
    }
}

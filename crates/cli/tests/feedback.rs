//! Operator feedback, offline (`logseal feedback` on the engine state
//! `logseal serve` saves) and live (`POST /feedback` on a running sidecar): a false
//! positive marked normal is not reported after a restart, an unmarked one
//! still is, and bad input leaves the state untouched.

mod serve_common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serve_common::*;

/// A frozen sequence detector over `message`, learning the first 30 events;
/// every finding at p < 0.1 is at least `low`.
const POLICY: &str = r#"{"version":1,
    "learning":{"period_secs":0,"period_events":30,"min_entity_events":1},
    "alerting":{"report_p":0.1,"evidence_p":0.2,"dedup_secs":0,"severity_thresholds":[0.1,0.5,0.66,0.83]},
    "detectors":[{"type":"sequence","name":"log_sequence","session":"global","history":1,"top_k":3,
                  "rare_templates":false,"online":false}]}"#;

/// `logseal feedback` on the state `serve` saved, events on stdin.
const STATE_ARGS: [&str; 5] = [
    "--config",
    "logseal.json",
    "--state",
    "state/engine.bin",
    "-",
];

fn setup() -> Setup {
    let s = Setup::new(1000);
    let p = s.path("logseal.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["policy"] = serde_json::from_str(POLICY).unwrap();
    std::fs::write(&p, v.to_string()).unwrap();
    s
}

fn novel(i: u64, path: &str) -> String {
    serde_json::json!({
        "id": i,
        "message": format!("Disk quota exceeded for user{} on {path}", i % 7),
        "host": "web-1",
        "timestamp": format!("2026-11-23T10:01:{:02}Z", i % 60),
    })
    .to_string()
}

/// `logseal serve` in pipe mode over `lines`; the sealed output lines.
fn serve(s: &Setup, state: &str, lines: &[String]) -> Vec<serde_json::Value> {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logseal"))
        .arg("serve")
        .arg("--config")
        .arg(s.path("logseal.json"))
        .arg("--state-dir")
        .arg(s.path(state))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = lines.join("\n").into_bytes();
    input.push(b'\n');
    c.stdin.take().unwrap().write_all(&input).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn feedback(s: &Setup, args: &[&str], stdin: &[u8]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logseal"))
        .arg("feedback")
        .args(args)
        .current_dir(s.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin).unwrap();
    c.wait_with_output().unwrap()
}

fn template_finding(rec: &serde_json::Value) -> bool {
    rec["_anomaly"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["feature"] == "template")
}

#[test]
fn a_marked_false_positive_is_not_reported_after_a_restart() {
    let s = setup();
    let mut first = events(0, 30);
    first.push(novel(30, "/home"));
    let out = serve(&s, "state", &first);
    assert_eq!(out.len(), 31);
    assert!(template_finding(&out[30]), "{}", out[30]);
    // keep a copy of the state nobody gave feedback on
    let copy = s.path("state-unmarked");
    std::fs::create_dir_all(&copy).unwrap();
    for f in std::fs::read_dir(s.path("state")).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
        }
    }
    // the operator marks the sealed record itself (with its `_anomaly` and `_logseal`)
    let marked = format!("{}\n\n", out[30]);
    let o = feedback(&s, &STATE_ARGS, marked.as_bytes());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 event marked normal"));
    // the same template, another user and path: no longer new
    let again = vec![novel(31, "/var")];
    let out = serve(&s, "state", &again);
    assert!(!template_finding(&out[0]), "{}", out[0]);
    // without the feedback it still is
    let out = serve(&s, "state-unmarked", &again);
    assert!(template_finding(&out[0]), "{}", out[0]);
}

#[test]
fn bad_input_leaves_the_state_unchanged() {
    let s = setup();
    serve(&s, "state", &events(0, 30));
    let state = s.path("state/engine.bin");
    let before = std::fs::read(&state).unwrap();
    let args = STATE_ARGS;
    // a good line, then a bad one: nothing is written
    let input = format!("{}\n{{\"message\": \"broken\n", novel(30, "/home"));
    let o = feedback(&s, &args, input.as_bytes());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("<stdin>:2: not JSON"), "{err}");
    let o = feedback(&s, &args, b"[1, 2]\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("<stdin>:1: not a JSON object"));
    let o = feedback(&s, &args, b"\xff\xfe\n");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("<stdin>:1: not JSON: invalid UTF-8"), "{err}");
    assert_eq!(std::fs::read(&state).unwrap(), before);
    // another policy than the state's
    let o = feedback(
        &s,
        &["--policy", "sshd", "--state", "state/engine.bin", "-"],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("engine state"), "{err}");
    // not a state file
    let o = feedback(
        &s,
        &["--config", "logseal.json", "--state", "logseal.json", "-"],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&state).unwrap(), before);
    // neither --policy nor --config
    let o = feedback(&s, &["--state", "state/engine.bin"], b"");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn feedback_that_would_change_nothing_is_refused() {
    // the default preset's sequence detector learns online: it learned every
    // event as it scored it, so a mark would change nothing
    let s = Setup::new(1000).fixed("e1", Some("default"));
    serve(&s, "state", &events(0, 40));
    let state = s.path("state/engine.bin");
    let before = std::fs::read(&state).unwrap();
    let o = feedback(
        &s,
        &STATE_ARGS,
        format!("{}\n", novel(40, "/home")).as_bytes(),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no detector that learns from feedback"),
        "{err}"
    );
    assert_eq!(std::fs::read(&state).unwrap(), before);
}

/// The last record the next hop received.
fn last_received(rx: &Receiver) -> serde_json::Value {
    let all = rx.all();
    let line = all
        .split(|&b| b == b'\n')
        .rfind(|l| !l.is_empty())
        .expect("nothing received");
    serde_json::from_slice(line).unwrap()
}

/// `POST /feedback` on a running sidecar: its status and body.
async fn post_feedback(side: &Sidecar, body: &[u8], token: Option<&str>) -> (u16, String) {
    let mut rq = reqwest::Client::new()
        .post(format!("{}feedback", side.url()))
        .header("content-type", "application/x-ndjson")
        .body(body.to_vec());
    if let Some(t) = token {
        rq = rq.header("authorization", format!("Bearer {t}"));
    }
    let r = rq.send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.text().await.unwrap())
}

/// Live feedback through `POST /feedback`, for the native processor or the
/// component (`extra`): refused without credentials and on bad input (the
/// good line beside the bad one is not marked either); then the sealed false
/// positive is marked, the next event with its template is not reported, and
/// that holds after a restart. The chain stays whole throughout.
async fn live_feedback(extra: &[String]) {
    let s = setup();
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let fwd = format!("http://{raddr}/");
    let side = Sidecar::start(&s, "127.0.0.1:0", &fwd, extra);
    let sink = VectorSink::new(&side.url());
    assert_eq!(sink.send(&events(0, 30), Framing::Ndjson).await, 200);
    assert_eq!(sink.send(&[novel(30, "/home")], Framing::Ndjson).await, 200);
    let flagged = last_received(&rx);
    assert!(template_finding(&flagged), "{flagged}");
    let marked = format!("{flagged}\n");

    let (st, body) = post_feedback(&side, marked.as_bytes(), None).await;
    assert_eq!(st, 401, "{body}");
    let (st, body) = post_feedback(&side, marked.as_bytes(), Some("wrong-token")).await;
    assert_eq!(st, 403, "{body}");
    let bad = format!("{marked}{{\"message\": \"broken\n");
    let (st, body) = post_feedback(&side, bad.as_bytes(), Some(TOKEN)).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("nothing marked: event 2: not JSON"), "{body}");
    let (st, body) = post_feedback(&side, b"\xff\xfe\n", Some(TOKEN)).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("event 1: not JSON: invalid UTF-8"), "{body}");
    assert_eq!(sink.send(&[novel(31, "/var")], Framing::Ndjson).await, 200);
    let still = last_received(&rx);
    assert!(
        template_finding(&still),
        "refused feedback was applied: {still}"
    );

    let (st, body) = post_feedback(&side, marked.as_bytes(), Some(TOKEN)).await;
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["marked"], 1, "{body}");
    assert_eq!(v["saved"], true, "{body}");
    assert_eq!(v["replayed"], false, "{body}");
    // a retry of the same body (its answer was lost): answered, not applied twice
    let engine = std::fs::read(s.path("state/engine.bin")).unwrap();
    let (st, body) = post_feedback(&side, marked.as_bytes(), Some(TOKEN)).await;
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&v["marked"], &v["replayed"]),
        (&1.into(), &true.into()),
        "{body}"
    );
    assert_eq!(std::fs::read(s.path("state/engine.bin")).unwrap(), engine);
    assert_eq!(sink.send(&[novel(32, "/tmp")], Framing::Ndjson).await, 200);
    let now = last_received(&rx);
    assert!(!template_finding(&now), "{now}");

    assert_eq!(side.terminate().code(), Some(0));
    let side = Sidecar::start(&s, "127.0.0.1:0", &fwd, extra);
    let sink = VectorSink::new(&side.url());
    assert_eq!(sink.send(&[novel(33, "/srv")], Framing::Ndjson).await, 200);
    let after = last_received(&rx);
    assert!(!template_finding(&after), "{after}");
    // the retry is remembered across the restart too
    let (st, body) = post_feedback(&side, marked.as_bytes(), Some(TOKEN)).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"replayed\":true"), "{body}");
    assert_eq!(side.terminate().code(), Some(0));
    check(&s, &rx.all(), 0..34);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feedback_native() {
    live_feedback(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feedback_component() {
    let wasm = component_wasm().to_str().unwrap().to_string();
    live_feedback(&["--processor".to_string(), wasm]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feedback_is_refused_when_it_would_change_nothing() {
    let s = Setup::new(1000).fixed("e1", Some("default"));
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start(&s, "127.0.0.1:0", &format!("http://{raddr}/"), &[]);
    let sink = VectorSink::new(&side.url());
    assert_eq!(sink.send(&events(0, 10), Framing::Ndjson).await, 200);
    let ev = format!("{}\n", novel(10, "/home"));
    let (st, body) = post_feedback(&side, ev.as_bytes(), Some(TOKEN)).await;
    assert_eq!(st, 409, "{body}");
    assert!(
        body.contains("no detector that learns from feedback"),
        "{body}"
    );
    // the sidecar goes on sealing
    assert_eq!(sink.send(&events(10, 20), Framing::Ndjson).await, 200);
    assert_eq!(side.terminate().code(), Some(0));
    check(&s, &rx.all(), 0..20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feedback_without_a_state_directory_says_it_was_not_saved() {
    let s = setup();
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start_stateless(&s, "127.0.0.1:0", &format!("http://{raddr}/"), &[]);
    let sink = VectorSink::new(&side.url());
    assert_eq!(sink.send(&events(0, 30), Framing::Ndjson).await, 200);
    let ev = format!("{}\n{}\n", novel(30, "/home"), novel(31, "/var"));
    let (st, body) = post_feedback(&side, ev.as_bytes(), Some(TOKEN)).await;
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["marked"], 2, "{body}");
    assert_eq!(v["saved"], false, "{body}");
    // marked all the same, for as long as the sidecar runs
    assert_eq!(sink.send(&[novel(32, "/tmp")], Framing::Ndjson).await, 200);
    let now = last_received(&rx);
    assert!(!template_finding(&now), "{now}");
    assert!(!s.path("state").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_feedback_memory_is_reported_and_replaced() {
    let s = setup();
    std::fs::create_dir_all(s.path("state")).unwrap();
    std::fs::write(s.path("state/feedback.json"), b"{\"digest\": 1}\n").unwrap();
    let rx = Receiver::new();
    let (raddr, _stop) = rx.serve("127.0.0.1:0").await;
    let side = Sidecar::start(&s, "127.0.0.1:0", &format!("http://{raddr}/"), &[]);
    assert!(
        side.wait_log("is not a list of applied feedback; ignored"),
        "{}",
        side.log()
    );
    let sink = VectorSink::new(&side.url());
    assert_eq!(sink.send(&events(0, 30), Framing::Ndjson).await, 200);
    let ev = format!("{}\n", novel(30, "/home"));
    let (st, body) = post_feedback(&side, ev.as_bytes(), Some(TOKEN)).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"replayed\":false"), "{body}");
    let mem: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.path("state/feedback.json")).unwrap()).unwrap();
    assert_eq!(mem.as_array().unwrap().len(), 1, "{mem}");
    assert_eq!(mem[0]["marked"], 1, "{mem}");
    assert_eq!(side.terminate().code(), Some(0));
}

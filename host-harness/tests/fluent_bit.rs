//! The Fluent Bit module, run as filter_wasm runs it, on the fixture logs.

use std::path::{Path, PathBuf};

use logseal_core::record::AddedFields;
use logseal_core::verify::{Kind, verify_texts};
use logseal_core::{Report, SignerKey, VerifyOptions};
use logseal_host_harness::fluent_bit::{FluentBitFilter, Options, Outcome, json_lines};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A built artifact; fails loudly when missing.
fn wasm(name: &str) -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/wasm"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask build-wasm` first",
        p.display()
    );
    p
}

fn key() -> SignerKey {
    SignerKey::from_seed("fb.logseal.test/audit", [3; 32]).unwrap()
}

/// A config directory (an accessible path) with `logseal.json`.
fn config_dir(cfg: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = cfg;
    if cfg.get("key").is_none() && cfg.get("key_file").is_none() {
        cfg["key"] = json!(key().to_private_string());
    }
    std::fs::write(dir.path().join("logseal.json"), cfg.to_string()).unwrap();
    dir
}

fn filter(dir: &Path) -> FluentBitFilter {
    FluentBitFilter::load(
        &wasm("logseal_fluent_bit.wasm"),
        &Options {
            accessible_paths: vec![dir.to_path_buf()],
            ..Options::default()
        },
    )
    .unwrap()
}

fn fixture(name: &str) -> Vec<String> {
    std::fs::read_to_string(root().join("tests/fixtures").join(name))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Event time of a fixture record (its `@timestamp`, else a fixed clock).
fn time_of(rec: &str, i: usize) -> (u32, u32) {
    let v: Value = serde_json::from_str(rec).unwrap();
    let secs = [
        "@timestamp",
        "eventTime",
        "requestReceivedTimestamp",
        "published",
        "created_at",
    ]
    .iter()
    .find_map(|k| {
        v[*k]
            .as_str()
            .and_then(|s| logseal_anomaly::parse_time_secs(s, 2015))
    })
    .unwrap_or(1_700_000_000.0 + i as f64);
    (secs as u32, (i as u32 % 1000) * 1_000_000 + 123)
}

/// Run records through the filter and write them as out_file json_lines.
fn run(f: &mut FluentBitFilter, tag: &str, recs: &[String]) -> Vec<String> {
    recs.iter()
        .enumerate()
        .map(|(i, r)| {
            let (s, ns) = time_of(r, i);
            let out = f.call(tag, s, ns, r).unwrap().expect_kept();
            json_lines("date", s, ns, &out).unwrap()
        })
        .collect()
}

fn verify(lines: &[String]) -> Report {
    let text = lines.join("\n");
    verify_texts(
        VerifyOptions {
            keys: vec![key().verifier()],
            added: AddedFields {
                time_field: Some("date".into()),
                tag_field: None,
            },
        },
        &[("out.log", text.as_bytes())],
    )
}

#[test]
fn openssh_fixture_through_the_module_verifies_and_tampering_is_caught() {
    let dir = config_dir(json!({"epoch": "fb1", "checkpoint_every": 100, "policy": "sshd"}));
    let mut f = filter(dir.path());
    let lines = run(&mut f, "sshd.auth", &fixture("openssh_2k.ndjson"));
    assert_eq!(lines.len(), 2000);
    assert!(
        f.stderr().contains("sealing as fb.logseal.test/audit"),
        "{}",
        f.stderr()
    );
    let r = verify(&lines);
    assert!(
        r.findings.is_empty(),
        "{:?}",
        &r.findings[..r.findings.len().min(3)]
    );
    assert_eq!(r.chains[0].records, 2000);
    assert_eq!(r.chains[0].signed_size, 2000);
    // Every record carries the verdict and the sealed time and tag.
    let v: Value = serde_json::from_str(&lines[5]).unwrap();
    assert!(v["_anomaly"]["score"].is_number());
    assert_eq!(v["_logseal"]["tag"], "sshd.auth");
    assert!(v["_logseal"]["time"].is_i64());

    // Modify a record.
    let mut t = lines.clone();
    t[1200] = t[1200].replace("\"root\"", "\"admin\"");
    assert_ne!(t[1200], lines[1200]);
    let r = verify(&t);
    assert_eq!(
        r.findings.iter().map(|f| f.kind).collect::<Vec<_>>(),
        vec![Kind::Modified]
    );
    assert_eq!(r.findings[0].locations[0].line, 1201);
    // Change the time Fluent Bit wrote.
    let mut t = lines.clone();
    t[10] = t[10].replacen("\"date\":1449", "\"date\":1450", 1);
    assert_ne!(t[10], lines[10]);
    let r = verify(&t);
    assert_eq!(
        r.findings.iter().map(|f| f.kind).collect::<Vec<_>>(),
        vec![Kind::AddedFieldMismatch]
    );
    // Delete two records and cut the tail.
    let mut t = lines.clone();
    t.drain(500..502);
    t.truncate(1900);
    let r = verify(&t);
    let kinds: Vec<Kind> = r.findings.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&Kind::Deleted), "{kinds:?}");
}

#[test]
fn audit_events_one_chain_per_tag() {
    let dir = config_dir(
        json!({"epoch": "fb2", "stream_per_tag": true, "checkpoint_every": 50, "policy": "default"}),
    );
    let mut f = filter(dir.path());
    let recs = fixture("audit_mixed.ndjson");
    let (a, b) = recs.split_at(recs.len() / 2);
    let mut lines = run(&mut f, "cloud.a", a);
    lines.extend(run(&mut f, "cloud.b", b));
    // Interleave as a log store export would.
    lines.sort_by_key(|l| l.len());
    let r = verify(&lines);
    assert!(
        r.findings.is_empty(),
        "{:?}",
        &r.findings[..r.findings.len().min(3)]
    );
    let streams: Vec<&str> = r.chains.iter().map(|c| c.stream.as_str()).collect();
    assert_eq!(
        streams,
        vec![
            "fb.logseal.test/audit/cloud.a",
            "fb.logseal.test/audit/cloud.b"
        ]
    );
}

#[test]
fn bad_input_is_never_dropped() {
    let dir = config_dir(json!({"epoch": "fb3", "checkpoint_every": 3, "policy": "default"}));
    let mut f = filter(dir.path());
    assert!(f.has_allocator(), "the module must export malloc/free");
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let nested = format!("{{\"a\":{deep}}}");
    let huge = format!("{{\"blob\":\"{}\"}}", "x".repeat(5 << 20));
    let cases: Vec<(&str, Option<Vec<u8>>, &str)> = vec![
        (
            "invalid JSON",
            Some(b"{\"a\": tru".to_vec()),
            "invalid JSON",
        ),
        (
            "invalid UTF-8",
            Some(b"{\"a\":\"\xc3\x28\"}".to_vec()),
            "invalid UTF-8",
        ),
        ("array", Some(b"[1,2]".to_vec()), "not a JSON object"),
        (
            "existing seal",
            Some(br#"{"_logseal":{"v":1}}"#.to_vec()),
            "already has a _logseal",
        ),
        ("deeply nested", Some(nested.into_bytes()), "nesting deeper"),
        ("huge", Some(huge.into_bytes()), "exceeds the limit"),
        ("null pointer", None, "did not reach the module"),
        ("NUL escape", Some(br#"{"a":"x\u0000y"}"#.to_vec()), ""),
        ("empty object", Some(b"{}".to_vec()), ""),
    ];
    let mut lines = Vec::new();
    for (i, (name, rec, why)) in cases.iter().enumerate() {
        let len = rec.as_ref().map_or(4096, Vec::len);
        let out = f
            .call_raw(
                b"bad.input",
                1_700_000_000 + i as u32,
                0,
                rec.as_deref(),
                len,
            )
            .unwrap();
        let Outcome::Kept(out) = out else {
            panic!("{name}: dropped: {out:?}")
        };
        let v: Value = serde_json::from_str(&out).unwrap();
        let err = v["_logseal_error"].as_str().unwrap_or("");
        assert!(
            err.contains(why),
            "{name}: error {err:?} should mention {why:?}"
        );
        if let Some(r) = rec {
            if *name != "huge" {
                // The original is kept whole (as text, or base64 when not UTF-8).
                let kept = v["_logseal_raw"].as_str().map(|s| s.as_bytes().to_vec());
                let kept_b64 = v["_logseal_raw_b64"].as_str().map(|s| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
                });
                if !why.is_empty() {
                    assert_eq!(kept.or(kept_b64).as_deref(), Some(r.as_slice()), "{name}");
                }
            } else {
                assert_eq!(
                    v["_logseal_raw"].as_str().unwrap().len(),
                    r.len(),
                    "huge kept whole"
                );
            }
        }
        lines.push(json_lines("date", 1_700_000_000 + i as u32, 0, &out).unwrap());
    }
    let r = verify(&lines);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.chains[0].records, cases.len() as u64);
}

#[test]
fn missing_or_invalid_configuration_passes_records_marked() {
    let empty = tempfile::tempdir().unwrap();
    let mut f = filter(empty.path());
    let out = f
        .call("t", 1, 0, r#"{"msg":"hello"}"#)
        .unwrap()
        .expect_kept();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["msg"], "hello");
    assert!(
        v["_logseal_error"]
            .as_str()
            .unwrap()
            .contains("no configuration file")
    );
    assert!(f.stderr().contains("NOT SEALING"), "{}", f.stderr());

    let dir = config_dir(json!({"checkpoint_evry": 5}));
    let mut f = filter(dir.path());
    let out = f
        .call("t", 1, 0, r#"{"msg":"hello"}"#)
        .unwrap()
        .expect_kept();
    assert!(out.contains("checkpoint_evry"), "{out}");
    assert!(f.stderr().contains("unknown member"), "{}", f.stderr());
}

#[test]
fn restarts_continue_the_chain_or_open_a_new_epoch() {
    let recs = fixture("openssh_2k.ndjson");
    // Saved after every record: a restart continues the same epoch.
    let dir = config_dir(json!({"epoch": "r1", "checkpoint_every": 10}));
    let state = tempfile::tempdir().unwrap();
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("logseal.json")).unwrap())
            .unwrap();
    cfg["state_dir"] = json!(state.path().to_str().unwrap());
    std::fs::write(dir.path().join("logseal.json"), cfg.to_string()).unwrap();
    let opts = Options {
        accessible_paths: vec![dir.path().to_path_buf(), state.path().to_path_buf()],
        ..Options::default()
    };
    let module = wasm("logseal_fluent_bit.wasm");
    let mut lines = run(
        &mut FluentBitFilter::load(&module, &opts).unwrap(),
        "t",
        &recs[..50],
    );
    let mut f2 = FluentBitFilter::load(&module, &opts).unwrap();
    lines.extend(run(&mut f2, "t", &recs[50..100]));
    assert!(
        f2.stderr().contains("continuing epoch r1 at seq 50"),
        "{}",
        f2.stderr()
    );
    let r = verify(&lines);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!((r.chains.len(), r.chains[0].records), (1, 100));

    // Saved every 20 records: after a crash at 55 the next start opens a new
    // epoch after seq 39, and the verifier reports the possible crash gap.
    cfg["save_every"] = json!(20);
    cfg["epoch"] = json!("c1");
    let state2 = tempfile::tempdir().unwrap();
    cfg["state_dir"] = json!(state2.path().to_str().unwrap());
    cfg["checkpoint_every"] = json!(1000);
    std::fs::write(dir.path().join("logseal.json"), cfg.to_string()).unwrap();
    let opts = Options {
        accessible_paths: vec![dir.path().to_path_buf(), state2.path().to_path_buf()],
        ..Options::default()
    };
    let mut lines = run(
        &mut FluentBitFilter::load(&module, &opts).unwrap(),
        "t",
        &recs[..55],
    );
    cfg["epoch"] = json!("c2");
    std::fs::write(dir.path().join("logseal.json"), cfg.to_string()).unwrap();
    lines.truncate(50); // 50..54 lost with the crashed process
    let mut f2 = FluentBitFilter::load(&module, &opts).unwrap();
    lines.extend(run(&mut f2, "t", &recs[55..70]));
    assert!(
        f2.stderr().contains("new epoch c2 after epoch c1 seq 39"),
        "{}",
        f2.stderr()
    );
    let r = verify(&lines);
    assert!(r.intact(), "{:?}", r.findings);
    assert_eq!(
        r.findings.iter().map(|f| f.kind).collect::<Vec<_>>(),
        vec![Kind::CrashGap]
    );
    assert_eq!(r.chains.len(), 2);
}

#[test]
fn module_matches_the_native_pipeline_with_time_and_tag() {
    use logseal_core::{Input, SealConfig, Sealer};
    let recs = fixture("audit_mixed.ndjson");
    let dir = config_dir(json!({"epoch": "x2", "checkpoint_every": 25, "policy": "default"}));
    let mut f = filter(dir.path());
    let mut cfg = SealConfig::new(key().name(), "x2");
    cfg.checkpoint_every = 25;
    let mut native = logseal_pipeline::Processor::new(
        Sealer::new(key(), cfg).unwrap(),
        logseal_anomaly::Policy::preset("default"),
    );
    for (i, r) in recs.iter().enumerate().take(300) {
        let (s, ns) = time_of(r, i);
        let plugin = f.call("audit", s, ns, r).unwrap().expect_kept();
        let conv = logseal_host_harness::fluent_bit::json_mode(r).unwrap();
        let n = native.process(Input {
            record: conv.as_bytes(),
            tag: Some("audit"),
            time_ns: Some(i64::from(s) * 1_000_000_000 + i64::from(ns)),
            ..Input::default()
        });
        assert_eq!(plugin, String::from_utf8(n.line).unwrap(), "record {i}");
    }
}

/// The harness itself enforces Fluent Bit's drop rules (so a test fails
/// where Fluent Bit would drop a record).
#[test]
fn harness_enforces_drop_rules() {
    let wat = r#"(module
      (memory (export "memory") 1)
      (data (i32.const 100) "{\"ok\":1}\00")
      (data (i32.const 200) "[1,2]\00")
      (data (i32.const 300) "\00")
      (data (i32.const 400) "not json\00")
      (global $n (mut i32) (i32.const 0))
      (func (export "malloc") (param i32) (result i32) (i32.const 1024))
      (func (export "free") (param i32))
      (func (export "f") (param i32 i32 i32 i32 i32 i32) (result i32)
        (global.set $n (i32.add (global.get $n) (i32.const 1)))
        (block $b (block $5 (block $4 (block $3 (block $2 (block $1 (block $0
          (br_table $0 $1 $2 $3 $4 $5 $b (i32.sub (global.get $n) (i32.const 1)))) 
          (return (i32.const 100)))
          (return (i32.const 0)))
          (return (i32.const 200)))
          (return (i32.const 300)))
          (return (i32.const 400)))
          (unreachable))
        (i32.const 0x7fffffff)))"#;
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, wat).unwrap();
    let load = || {
        FluentBitFilter::from_module(
            &engine,
            &module,
            &Options {
                function_name: "f".into(),
                ..Options::default()
            },
        )
        .unwrap()
    };
    let mut f = load();
    let mut outcomes = Vec::new();
    for _ in 0..8 {
        outcomes.push(f.call("t", 0, 0, "{}").unwrap());
    }
    assert_eq!(outcomes[0], Outcome::Kept("{\"ok\":1}".into()));
    let why: Vec<String> = outcomes[1..]
        .iter()
        .map(|o| match o {
            Outcome::Dropped(w) => w.clone(),
            Outcome::Kept(k) => format!("kept {k}"),
        })
        .collect();
    assert!(why[0].contains("NULL"), "{why:?}");
    assert!(why[1].contains("not an object"), "{why:?}");
    assert!(why[2].contains("empty"), "{why:?}");
    assert!(why[3].contains("not JSON"), "{why:?}");
    assert!(why[4].contains("trap"), "{why:?}");
    assert!(why[5].contains("outside memory"), "{why:?}");
    // The next record is dropped too (host bug), though the module returns a good pointer.
    assert!(why[6].contains("previous record"), "{why:?}");

    // Benchmarks skip the host's parse of what comes back: then only the
    // JSON checks are skipped; a NULL or empty string is still dropped.
    let mut f = load();
    f.skip_host_parse();
    let unchecked: Vec<Outcome> = (0..5).map(|_| f.call("t", 0, 0, "{}").unwrap()).collect();
    assert_eq!(unchecked[0], Outcome::Kept("{\"ok\":1}".into()));
    assert!(matches!(&unchecked[1], Outcome::Dropped(w) if w.contains("NULL")));
    assert_eq!(unchecked[2], Outcome::Kept("[1,2]".into()));
    assert!(matches!(&unchecked[3], Outcome::Dropped(w) if w.contains("empty")));
    assert_eq!(unchecked[4], Outcome::Kept("not json".into()));
}

#[test]
fn anomaly_baselines_are_saved_whole_and_restored() {
    // The module saves the engine every 10,000 records of a stream, written
    // aside and renamed; the next start restores it.
    let recs = fixture("openssh_2k.ndjson");
    let state = tempfile::tempdir().unwrap();
    let dir = config_dir(
        json!({"epoch": "e1", "checkpoint_every": 5000, "policy": "sshd",
        "state_dir": state.path().to_str().unwrap()}),
    );
    let opts = Options {
        accessible_paths: vec![dir.path().to_path_buf(), state.path().to_path_buf()],
        ..Options::default()
    };
    let module = wasm("logseal_fluent_bit.wasm");
    let mut f = FluentBitFilter::load(&module, &opts).unwrap();
    for _ in 0..5 {
        run(&mut f, "t", &recs);
    }
    let files: Vec<String> = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let engine = files
        .iter()
        .find(|f| f.ends_with(".engine"))
        .unwrap_or_else(|| panic!("no engine state in {files:?}"));
    assert!(!files.iter().any(|f| f.ends_with("-tmp")), "{files:?}");
    // the native engine reads it: the whole snapshot, under the same policy
    let bytes = std::fs::read(state.path().join(engine)).unwrap();
    let mut e = logseal_anomaly::Engine::new(logseal_anomaly::Policy::preset("sshd").unwrap());
    e.restore(&bytes).unwrap();
    assert!(e.profiled_entities() > 0);
    // and so does the module at its next start
    let mut f2 = FluentBitFilter::load(&module, &opts).unwrap();
    run(&mut f2, "t", &recs[..10]);
    assert!(!f2.stderr().contains("not restored"), "{}", f2.stderr());
    // a torn file is refused with a message, and the records still come out
    std::fs::write(state.path().join(engine), &bytes[..bytes.len() / 2]).unwrap();
    let mut f3 = FluentBitFilter::load(&module, &opts).unwrap();
    assert_eq!(run(&mut f3, "t", &recs[..10]).len(), 10);
    assert!(
        f3.stderr().contains("anomaly state not restored"),
        "{}",
        f3.stderr()
    );
}

/// A frozen sequence detector over `message`, learning the first 30 events.
const FEEDBACK_POLICY: &str = r#"{"version":1,
    "learning":{"period_secs":0,"period_events":30,"min_entity_events":1},
    "alerting":{"report_p":0.1,"evidence_p":0.2,"dedup_secs":0,"severity_thresholds":[0.1,0.5,0.66,0.83]},
    "detectors":[{"type":"sequence","name":"log_sequence","session":"global","history":1,"top_k":3,
                  "rare_templates":false,"online":false}]}"#;

fn login(i: u64) -> String {
    json!({"id": i, "message": format!("Accepted publickey for user{} from 10.0.0.{} port 22", i % 7, i % 250),
           "host": "web-1"})
    .to_string()
}

fn novel(i: u64, path: &str) -> String {
    json!({"id": i, "message": format!("Disk quota exceeded for user{} on {path}", i % 7), "host": "web-1"})
        .to_string()
}

/// The record as the module passes it on, and whether its verdict has a
/// new-template finding.
fn through(f: &mut FluentBitFilter, i: u64, rec: &str) -> (String, bool) {
    let out = f
        .call("t", 1_700_000_000 + i as u32, 0, rec)
        .unwrap()
        .expect_kept();
    let v: Value = serde_json::from_str(&out).unwrap();
    let flagged = v["_anomaly"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["feature"] == "template");
    (out, flagged)
}

#[test]
fn feedback_inbox_is_applied_while_the_module_runs() {
    let state = tempfile::tempdir().unwrap();
    let dir = config_dir(json!({"epoch": "fb1", "checkpoint_every": 1000,
        "policy": serde_json::from_str::<Value>(FEEDBACK_POLICY).unwrap(),
        "feedback_check_every": 5, "state_dir": state.path().to_str().unwrap()}));
    let opts = Options {
        accessible_paths: vec![dir.path().to_path_buf(), state.path().to_path_buf()],
        ..Options::default()
    };
    let module = wasm("logseal_fluent_bit.wasm");
    let mut f = FluentBitFilter::load(&module, &opts).unwrap();
    let mut sealed = Vec::new();
    let mut i = 0u64;
    let mut logins = |f: &mut FluentBitFilter, sealed: &mut Vec<String>, n: u64| {
        for _ in 0..n {
            sealed.push(through(f, i, &login(i)).0);
            i += 1;
        }
    };
    logins(&mut f, &mut sealed, 30);
    let (fp, flagged) = through(&mut f, 30, &novel(30, "/home"));
    assert!(flagged, "{fp}");
    sealed.push(fp.clone());
    let head = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".chain.json"))
        .expect("chain head");
    let inbox = head.with_extension("feedback");
    let put = |text: &str| {
        let tmp = state.path().join("inbox.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &inbox).unwrap();
    };

    // a bad line: nothing marked, the file moved aside with the reason
    put(&format!("{fp}\n\n{{\"message\": \"broken\n"));
    logins(&mut f, &mut sealed, 5);
    assert!(!inbox.exists());
    assert!(head.with_extension("feedback-rejected").exists());
    assert!(
        f.stderr()
            .contains("not applied, nothing marked: line 3: not JSON"),
        "{}",
        f.stderr()
    );
    let (rec, flagged) = through(&mut f, 100, &novel(100, "/var"));
    assert!(flagged, "rejected feedback was applied: {rec}");
    sealed.push(rec);
    // a second rejection keeps the first rejected file (review 27: it was
    // replaced)
    put("not json\n");
    logins(&mut f, &mut sealed, 5);
    assert!(!inbox.exists());
    let first = std::fs::read_to_string(head.with_extension("feedback-rejected")).unwrap();
    assert!(first.contains("broken"), "{first}");
    let second = std::fs::read_to_string(head.with_extension("feedback-rejected.1")).unwrap();
    assert_eq!(second, "not json\n");

    // the sealed false positive itself: marked, saved at once, file removed
    put(&format!("{fp}\n"));
    logins(&mut f, &mut sealed, 5);
    assert!(
        f.stderr().contains("1 event marked normal from"),
        "{}",
        f.stderr()
    );
    assert!(!inbox.exists() && !head.with_extension("feedback-applying").exists());
    assert!(
        head.with_extension("engine").exists(),
        "engine state saved at once"
    );
    let (rec, flagged) = through(&mut f, 101, &novel(101, "/tmp"));
    assert!(!flagged, "{rec}");
    sealed.push(rec);

    // the marks survive a restart; a claimed file left by a crash is reported, not applied
    std::fs::write(head.with_extension("feedback-applying"), format!("{fp}\n")).unwrap();
    let mut f2 = FluentBitFilter::load(&module, &opts).unwrap();
    let (rec, flagged) = through(&mut f2, 102, &novel(102, "/srv"));
    assert!(!flagged, "{rec}");
    sealed.push(rec);
    assert!(
        f2.stderr()
            .contains("left from an interrupted run and was not applied again"),
        "{}",
        f2.stderr()
    );

    // the engine state cannot be saved (its temporary file's place is
    // taken): the marks are applied, the claimed file kept and named, not
    // removed (review 27: removed whatever the save, the marks were lost
    // at the next restart); every record still comes out
    std::fs::remove_file(head.with_extension("feedback-applying")).unwrap();
    let blocker = head.with_extension("engine-tmp");
    std::fs::create_dir(&blocker).unwrap();
    put(&format!("{fp}\n"));
    logins(&mut f2, &mut sealed, 5);
    assert!(!inbox.exists());
    assert!(head.with_extension("feedback-applying").exists());
    assert!(
        f2.stderr().contains("engine state not saved:")
            && f2.stderr().contains("cannot save anomaly state"),
        "{}",
        f2.stderr()
    );
    std::fs::remove_dir(&blocker).unwrap();
    std::fs::remove_file(head.with_extension("feedback-applying")).unwrap();

    // a policy that learns nothing from feedback: refused, said why
    put(&format!("{fp}\n"));
    let pdir = config_dir(json!({"epoch": "fb2", "policy": "sshd",
        "feedback_check_every": 1, "state_dir": state.path().to_str().unwrap()}));
    let mut f3 = FluentBitFilter::load(
        &module,
        &Options {
            accessible_paths: vec![pdir.path().to_path_buf(), state.path().to_path_buf()],
            ..Options::default()
        },
    )
    .unwrap();
    f3.call("t", 1_700_000_000, 0, &login(0))
        .unwrap()
        .expect_kept();
    assert!(
        f3.stderr()
            .contains("no detector that learns from feedback"),
        "{}",
        f3.stderr()
    );
    assert!(!inbox.exists());

    // every record came out sealed, in one unbroken chain
    let text = sealed.join("\n");
    let r = verify_texts(
        VerifyOptions {
            keys: vec![key().verifier()],
            added: AddedFields::default(),
        },
        &[("out.log", text.as_bytes())],
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.chains[0].records, sealed.len() as u64);
}

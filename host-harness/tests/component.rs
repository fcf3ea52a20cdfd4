//! The processor component in the wasmtime host, with rules; and the
//! cross-target check: native, Fluent Bit module and component agree byte for byte.

use std::path::{Path, PathBuf};

use logseal_core::verify::{Kind, verify_texts};
use logseal_core::{Input, SealConfig, Sealer, SignerKey, VerifyOptions};
use logseal_host_harness::component::{Event, ProcessorHost};
use logseal_host_harness::fluent_bit::{FluentBitFilter, Options, json_mode};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

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
    SignerKey::from_seed("component.logseal.test/audit", [8; 32]).unwrap()
}

fn fixture(name: &str) -> Vec<String> {
    std::fs::read_to_string(root().join("tests/fixtures").join(name))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn config(extra: Value) -> String {
    let mut c = json!({"key": key().to_private_string(), "epoch": "c1", "checkpoint_every": 50});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c.to_string()
}

fn verify(lines: &[String]) -> logseal_core::Report {
    let text = lines.join("\n");
    verify_texts(
        VerifyOptions {
            keys: vec![key().verifier()],
            ..VerifyOptions::default()
        },
        &[("out", text.as_bytes())],
    )
}

fn events<'a>(recs: &'a [String], tag: &'a str) -> Vec<Event<'a>> {
    recs.iter()
        .enumerate()
        .map(|(i, r)| Event {
            json: r.as_str().into(),
            tag: Some(tag.into()),
            time_ns: Some(1_700_000_000_000_000_000 + i as i64 * 1_000_000_007),
        })
        .collect()
}

#[test]
fn native_fluent_bit_and_component_are_byte_identical() {
    for (fixture_name, policy) in [
        ("openssh_2k.ndjson", "sshd"),
        ("audit_mixed.ndjson", "default"),
    ] {
        let recs: Vec<String> = fixture(fixture_name).into_iter().take(700).collect();
        // Every target sees what Fluent Bit hands over (JSON mode), so all three get the same bytes.
        let recs: Vec<String> = recs.iter().map(|r| json_mode(r).unwrap()).collect();
        let evs = events(&recs, "audit");

        // Native: the pipeline crate, as `logseal seal` runs it.
        let mut sc = SealConfig::new(key().name(), "c1");
        sc.checkpoint_every = 50;
        let mut native = logseal_pipeline::Processor::new(
            Sealer::new(key(), sc).unwrap(),
            logseal_anomaly::Policy::preset(policy),
        );
        let native: Vec<String> = evs
            .iter()
            .map(|e| {
                String::from_utf8(
                    native
                        .process(Input {
                            record: e.json.as_bytes(),
                            tag: e.tag.as_deref(),
                            time_ns: e.time_ns,
                            ..Input::default()
                        })
                        .line,
                )
                .unwrap()
            })
            .collect();

        // Component, in batches of 64.
        let mut host = ProcessorHost::load(
            &wasm("logseal_processor.wasm"),
            &[],
            &config(json!({"policy": policy})),
        )
        .unwrap();
        let mut comp = Vec::new();
        for chunk in evs.chunks(64) {
            comp.extend(
                host.process(chunk)
                    .unwrap()
                    .into_iter()
                    .map(|p| String::from_utf8(p.line).unwrap()),
            );
        }

        // Fluent Bit module.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("logseal.json"),
            config(json!({"policy": policy})),
        )
        .unwrap();
        let mut fb = FluentBitFilter::load(
            &wasm("logseal_fluent_bit.wasm"),
            &Options {
                accessible_paths: vec![dir.path().to_path_buf()],
                ..Options::default()
            },
        )
        .unwrap();
        let fbout: Vec<String> = evs
            .iter()
            .map(|e| {
                let t = e.time_ns.unwrap();
                let (s, ns) = ((t / 1_000_000_000) as u32, (t % 1_000_000_000) as u32);
                fb.call_raw(b"audit", s, ns, Some(e.json.as_bytes()), e.json.len())
                    .unwrap()
                    .expect_kept()
            })
            .collect();

        for i in 0..native.len() {
            assert_eq!(
                native[i], comp[i],
                "{fixture_name} record {i}: native vs component"
            );
            assert_eq!(
                native[i], fbout[i],
                "{fixture_name} record {i}: native vs Fluent Bit"
            );
        }
        let r = verify(&comp);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.chains[0].signed_size, 700);
    }
}

#[test]
fn rules_findings_are_sealed_and_a_hostile_rule_loses_nothing() {
    let rules = vec![
        wasm("logseal_rule_aws_root_login_failed.wasm"),
        wasm("logseal_rule_k8s_pod_exec.wasm"),
        wasm("logseal_rule_hostile.wasm"),
    ];
    let mut host = ProcessorHost::load(
        &wasm("logseal_processor.wasm"),
        &rules,
        &config(json!({"policy": "default"})),
    )
    .unwrap();
    let mut recs: Vec<String> = fixture("audit_mixed.ndjson");
    // Hostile events: the hostile rule loops, traps, eats memory on these.
    for (i, attack) in ["loop", "trap", "oom", "many-findings"].iter().enumerate() {
        recs.insert(
            10 + i * 7,
            json!({"attack": attack, "user": "mallory"}).to_string(),
        );
    }
    let evs = events(&recs, "audit");
    let mut lines = Vec::new();
    for chunk in evs.chunks(100) {
        let out = host.process(chunk).unwrap();
        assert_eq!(out.len(), chunk.len(), "nothing lost");
        lines.extend(out.into_iter().map(|p| String::from_utf8(p.line).unwrap()));
    }
    assert_eq!(lines.len(), recs.len());
    let r = verify(&lines);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let with = |rule: &str, error: bool| {
        parsed
            .iter()
            .filter(|v| {
                v["_anomaly"]["rules"].as_array().is_some_and(|a| {
                    a.iter().any(|f| {
                        f["rule"].as_str().unwrap_or("").contains(rule) && f["error"] == error
                    })
                })
            })
            .count()
    };
    assert!(
        with("RootLoginFailed", false)
            + with("RootConsoleLoginFailed", false)
            + with("Root", false)
            >= 1,
        "a CloudTrail root login failure is flagged"
    );
    assert!(with("Exec", false) >= 1, "a pod exec is flagged");
    assert!(
        with("", true) >= 3,
        "the hostile rule's failures are sealed as error findings naming it"
    );
    // Rule findings raise the routing severity.
    let flagged = parsed
        .iter()
        .find(|v| {
            v["_anomaly"]["rules"]
                .as_array()
                .is_some_and(|a| a.iter().any(|f| f["error"] == false))
        })
        .unwrap();
    assert_ne!(flagged["_anomaly"]["severity"], "none");
}

#[test]
fn state_restores_continue_or_open_a_new_epoch() {
    let recs: Vec<String> = fixture("openssh_2k.ndjson").into_iter().take(120).collect();
    let evs = events(&recs, "t");
    let path = wasm("logseal_processor.wasm");
    let mut a = ProcessorHost::load(&path, &[], &config(json!({"policy": "sshd"}))).unwrap();
    let mut lines: Vec<String> = a
        .process(&evs[..60])
        .unwrap()
        .into_iter()
        .map(|p| String::from_utf8(p.line).unwrap())
        .collect();
    let state = a.state().unwrap();
    let engine = a.engine_snapshot().unwrap();
    assert!(!engine.is_empty());
    drop(a);
    // Continue exactly.
    let mut b = ProcessorHost::load(&path, &[], &config(json!({"policy": "sshd"}))).unwrap();
    b.restore(Some(&state), Some(&engine), true).unwrap();
    lines.extend(
        b.process(&evs[60..90])
            .unwrap()
            .into_iter()
            .map(|p| String::from_utf8(p.line).unwrap()),
    );
    let r = verify(&lines);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!((r.chains.len(), r.chains[0].records), (1, 90));
    // A new epoch after the saved state (the saved head may be behind).
    let mut c = ProcessorHost::load(
        &path,
        &[],
        &config(json!({"policy": "sshd", "epoch": "c2"})),
    )
    .unwrap();
    c.restore(Some(&b.state().unwrap()), None, false).unwrap();
    lines.extend(
        c.process(&evs[90..])
            .unwrap()
            .into_iter()
            .map(|p| String::from_utf8(p.line).unwrap()),
    );
    let r = verify(&lines);
    assert!(r.intact(), "{:?}", r.findings);
    assert_eq!(r.chains.len(), 2);
    // Refusing to restart the same epoch without continuing it.
    let mut d = ProcessorHost::load(&path, &[], &config(json!({"epoch": "c2"}))).unwrap();
    assert!(d.restore(Some(&c.state().unwrap()), None, false).is_err());
    // Bad configuration is a clear error.
    let err = ProcessorHost::load(&path, &[], r#"{"key":"nope","epoch":"x"}"#)
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("\"key\""), "{err:#}");
    let _ = Kind::Modified;
}

/// A frozen `sequence` detector over `message` (learns 30 events), the
/// policy operator feedback is for.
fn frozen_policy() -> Value {
    json!({"version":1,
        "learning":{"period_secs":0,"period_events":30,"min_entity_events":1},
        "alerting":{"report_p":0.1,"evidence_p":0.2,"dedup_secs":0,"severity_thresholds":[0.1,0.5,0.66,0.83]},
        "detectors":[{"type":"sequence","name":"seq","session":"global","history":1,"top_k":2,
                      "rare_templates":false,"online":false}]})
}

#[test]
fn mark_normal_teaches_the_component_engine_live_and_survives_a_restart() {
    let msg = |i: usize, m: &str| json!({"id": i, "message": m}).to_string();
    let cycle = ["connection opened from host", "request served in time"];
    let novel = "disk quota exceeded on volume";
    let mut learn: Vec<String> = (0..30).map(|i| msg(i, cycle[i % 2])).collect();
    learn.push(msg(30, novel));
    // compiled once, instantiated per processor
    let engine = wasmtime::Engine::new(&ProcessorHost::engine_config()).unwrap();
    let component =
        wasmtime::component::Component::from_file(&engine, wasm("logseal_processor.wasm")).unwrap();
    let load = |cfg: &str| ProcessorHost::from_component(&engine, &component, &[], cfg).unwrap();
    let cfg = config(json!({"policy": frozen_policy()}));
    let severity = |line: &[u8]| -> String {
        let v: Value = serde_json::from_slice(line).unwrap();
        v["_anomaly"]["severity"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    };
    let again = [msg(31, cycle[0]), msg(32, cycle[1]), msg(33, novel)];
    let mut seen = Vec::new();
    for mark in [false, true] {
        let mut h = load(&cfg);
        let out = h.process(&events(&learn, "t")).unwrap();
        let sealed = String::from_utf8(out[30].line.clone()).unwrap();
        assert_ne!(severity(sealed.as_bytes()), "none", "{sealed}");
        if mark {
            // the sealed record, as an operator has it
            assert_eq!(h.mark_normal(&[&sealed]).unwrap(), Ok(1));
        }
        let out = h.process(&events(&again, "t")).unwrap();
        seen.push(severity(&out[2].line));
        // the mark is in the snapshot: a restarted processor keeps it
        let (state, snap) = (h.state().unwrap(), h.engine_snapshot().unwrap());
        let mut r = load(&cfg);
        r.restore(Some(&state), Some(&snap), true).unwrap();
        let out = r.process(&events(&again, "t")).unwrap();
        seen.push(severity(&out[2].line));
    }
    assert_eq!(seen, ["low", "low", "none", "none"]);
    // refusals: nothing marked, the component lives on
    let mut h = load(&cfg);
    h.process(&events(&learn, "t")).unwrap();
    let before = h.engine_snapshot().unwrap();
    let err = h.mark_normal(&[&learn[0], "[1]"]).unwrap().unwrap_err();
    assert_eq!(err, "event 2: not a JSON object");
    let err = h.mark_normal(&["{\"message\": "]).unwrap().unwrap_err();
    assert!(err.starts_with("event 1: not JSON"), "{err}");
    assert_eq!(h.engine_snapshot().unwrap(), before);
    let mut preset = load(&config(json!({"policy": "sshd"})));
    let err = preset.mark_normal(&[&learn[0]]).unwrap().unwrap_err();
    assert!(err.contains("learns from feedback"), "{err}");
    let mut none = load(&config(json!({})));
    let err = none.mark_normal(&[&learn[0]]).unwrap().unwrap_err();
    assert!(err.contains("no anomaly policy"), "{err}");
}

//! logseal's own test vectors (`tests/vectors/logseal/`), for independent
//! implementations of docs/FORMAT.md. `cargo xtask vectors` (which runs this
//! test with `LOGSEAL_BLESS=1`) regenerates them; otherwise the test checks
//! that the implementation still produces them byte for byte, and checks the
//! vectors' internal consistency with SHA-256 and the verifier directly.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use logseal_core::verify::verify_texts;
use logseal_core::{Input, SealConfig, Sealer, SignerKey, VerifyOptions, json};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/logseal")
}

fn key() -> SignerKey {
    SignerKey::from_seed("vectors.logseal.dev/audit", [0x11; 32]).unwrap()
}

struct Case {
    name: &'static str,
    record: Vec<u8>,
    tag: Option<&'static str>,
    time_ns: Option<i64>,
    verdict: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let c = |name, record: &[u8]| Case {
        name,
        record: record.to_vec(),
        tag: None,
        time_ns: None,
        verdict: None,
    };
    vec![
        c("plain", br#"{"user":"alice","action":"login","ok":true}"#),
        c(
            "member order and whitespace",
            b"{ \"z\" : 1 ,\n \"a\" : [ 1 , 2 ] }",
        ),
        c(
            "unicode and escapes",
            "{\"msg\":\"gew\\u00e4hrt \u{2713} \u{1F600}\",\"path\":\"a\\/b\",\"ctl\":\"\\u0001\"}"
                .as_bytes(),
        ),
        c(
            "utf-16 member order",
            "{\"\u{FB01}\":1,\"\u{1F600}\":2,\"a\":3}".as_bytes(),
        ),
        c(
            "big integers are exact",
            br#"{"ns":1700000000123456789,"u":18446744073709551615,"neg":-9223372036854775808}"#,
        ),
        c(
            "integral floats",
            br#"{"a":42.0,"b":4.2e1,"c":-0.0,"d":1e21}"#,
        ),
        c(
            "doubles at 15 digits",
            br#"{"a":123456789.123456789,"b":0.1,"c":1e-7,"d":333333333.33333329}"#,
        ),
        Case {
            name: "host time and tag",
            record: br#"{"log":"GET /"}"#.to_vec(),
            tag: Some("kube.var.log.containers.web"),
            time_ns: Some(1_700_000_000_123_456_789),
            verdict: None,
        },
        Case {
            name: "with anomaly verdict (checkpoint attached: size 9)",
            record: br#"{"user":"bob","action":"delete"}"#.to_vec(),
            tag: None,
            time_ns: None,
            verdict: Some(
                r#"{"score":0.93,"severity":"high","reason":"bob deleted 40 objects in 1 minute; usual 0-2","reasons":[]}"#,
            ),
        },
        c("wrapped: invalid JSON", b"{\"user\": alice}"),
        c("wrapped: invalid UTF-8", b"{\"a\":\"\xff\"}"),
        c("wrapped: not an object", b"[1,2,3]"),
        c("wrapped: duplicate member", br#"{"a":1,"a":2}"#),
        c("wrapped: existing seal", br#"{"_logseal":{"v":1}}"#),
    ]
}

fn generate() -> Value {
    let mut cfg = SealConfig::new("vectors.logseal.dev/audit", "20261123T000000Z-00000001");
    cfg.checkpoint_every = 9;
    let mut s = Sealer::new(key(), cfg).unwrap();
    let mut out = Vec::new();
    for c in cases() {
        let sealed = s.seal(Input {
            record: &c.record,
            tag: c.tag,
            time_ns: c.time_ns,
            verdict: c.verdict,
            force_checkpoint: false,
        });
        let line = String::from_utf8(sealed.line.clone()).unwrap();
        // Entry bytes: the line without `hash` and `cp` (FORMAT.md §4).
        let v = json::parse_str(&line).unwrap();
        let json::Value::Obj(mut m) = v else { panic!() };
        for (k, val) in m.iter_mut() {
            if k == "_logseal"
                && let json::Value::Obj(seal) = val
            {
                seal.retain(|(k, _)| k != "hash" && k != "cp");
            }
        }
        let mut entry = Vec::new();
        json::write_seal(&json::Value::Obj(m), &mut entry);
        let mut case = json!({
            "name": c.name,
            "seq": sealed.seq,
            "entry_bytes": String::from_utf8(entry).unwrap(),
            "entry_hash": STANDARD.encode(sealed.hash),
            "sealed": line,
        });
        match std::str::from_utf8(&c.record) {
            Ok(t) => case["input"] = json!(t),
            Err(_) => case["input_b64"] = json!(STANDARD.encode(&c.record)),
        }
        if let Some(t) = c.tag {
            case["tag"] = json!(t);
        }
        if let Some(t) = c.time_ns {
            case["time_ns"] = json!(t);
        }
        if let Some(v) = c.verdict {
            case["verdict"] = json!(v);
        }
        out.push(case);
    }
    json!({
        "description": "logseal seal format v1 vectors (docs/FORMAT.md). Seal each input in order with the signing key, stream, epoch and checkpoint_every below; each case gives the sealed line, its entry bytes and entry hash. Regenerate with `cargo xtask vectors`.",
        "signing_key": key().to_private_string(),
        "verifier_key": key().verifier().to_string(),
        "stream": "vectors.logseal.dev/audit",
        "epoch": "20261123T000000Z-00000001",
        "checkpoint_every": 9,
        "cases": out,
    })
}

/// Canonicalisation cases: each `variants` entry has the same seal canonical form.
fn canonical() -> Value {
    let groups: Vec<(&str, Vec<&str>)> = vec![
        (
            "reordered, spaced, escaped",
            vec![
                r#"{"b":"é✓","a":[1,2.5]}"#,
                "{ \"a\" : [ 1 , 2.50 ] , \"b\" : \"\\u00e9\\u2713\" }",
                r#"{"a":[1.0,25e-1],"b":"\u00E9\u2713"}"#,
            ],
        ),
        (
            "16 and 17 significant digits",
            vec![
                r#"{"x":123456789.123456789}"#,
                r#"{"x":123456789.1234568}"#,
                r#"{"x":123456789.12345679}"#,
                r#"{"x":1.23456789123456789e8}"#,
            ],
        ),
        (
            "large integers stay exact",
            vec![r#"{"id":9007199254740993}"#],
        ),
    ];
    let mut out = Vec::new();
    for (name, variants) in groups {
        let mut canon = None;
        for v in &variants {
            let mut b = Vec::new();
            json::write_seal(&json::parse_str(v).unwrap(), &mut b);
            let b = String::from_utf8(b).unwrap();
            if let Some(c) = &canon {
                assert_eq!(c, &b, "{name}: {v}");
            }
            canon = Some(b);
        }
        out.push(json!({"name": name, "variants": variants, "canonical": canon}));
    }
    json!({"description": "Seal canonical form (docs/FORMAT.md §3): every variant canonicalises to `canonical`.", "cases": out})
}

/// Members sorted, whether or not serde_json's `preserve_order` feature is
/// unified in by another crate of the workspace.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        x => x.clone(),
    }
}

fn check_or_bless(name: &str, v: &Value) {
    let path = dir().join(name);
    let text = serde_json::to_string_pretty(&sorted(v)).unwrap() + "\n";
    if std::env::var_os("LOGSEAL_BLESS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let stored = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask vectors`", path.display()));
    assert_eq!(
        stored,
        text,
        "{} changed: the seal format must stay stable",
        path.display()
    );
}

#[test]
fn seal_vectors_are_stable_and_consistent() {
    let v = generate();
    check_or_bless("seal.json", &v);
    // Independent checks of the stored vectors.
    let mut lines = Vec::new();
    for c in v["cases"].as_array().unwrap() {
        let entry = c["entry_bytes"].as_str().unwrap();
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(entry.as_bytes());
        assert_eq!(
            STANDARD.encode(h.finalize()),
            c["entry_hash"].as_str().unwrap(),
            "{}",
            c["name"]
        );
        let sealed: Value = serde_json::from_str(c["sealed"].as_str().unwrap()).unwrap();
        assert_eq!(sealed["_logseal"]["hash"], c["entry_hash"]);
        lines.push(c["sealed"].as_str().unwrap().to_string());
    }
    let text = lines.join("\n");
    let r = verify_texts(
        VerifyOptions {
            keys: vec![
                logseal_core::VerifierKey::parse(v["verifier_key"].as_str().unwrap()).unwrap(),
            ],
            ..VerifyOptions::default()
        },
        &[("seal.json", text.as_bytes())],
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.chains[0].signed_size, 9);
}

#[test]
fn canonical_vectors_are_stable() {
    check_or_bless("canonical.json", &canonical());
}

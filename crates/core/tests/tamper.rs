//! Every kind of tampering the verifier promises to catch, and every pipeline
//! re-serialisation it promises to survive; by hand and as property tests.

use logseal_core::note::SignerKey;
use logseal_core::seal::ChainState;
use logseal_core::verify::{Kind, verify_texts};
use logseal_core::{Input, Report, SealConfig, Sealer, VerifyOptions};
use proptest::prelude::*;
use serde_json::{Value, json};

fn key() -> SignerKey {
    SignerKey::from_seed("logseal.test/audit", [42; 32]).unwrap()
}

fn opts() -> VerifyOptions {
    VerifyOptions {
        keys: vec![key().verifier()],
        ..VerifyOptions::default()
    }
}

fn record(i: u64) -> String {
    json!({
        "@timestamp": format!("2026-11-23T10:{:02}:{:02}Z", i / 60 % 60, i % 60),
        "event": {"action": if i % 7 == 3 { "login-failed" } else { "login" }, "id": 1_700_000_000_123_456_789u64 + i},
        "user": {"name": format!("user{}", i % 5)},
        "source": {"ip": format!("203.0.113.{}", i % 250)},
        "latency": 0.1 + i as f64 / 3.0,
        "msg": "Zugriff gewährt — ✓",
    })
    .to_string()
}

/// Seal `n` records of stream/epoch with a checkpoint every `every`.
fn seal(n: u64, epoch: &str, every: u64) -> (Vec<String>, Sealer) {
    let mut cfg = SealConfig::new("logseal.test/audit", epoch);
    cfg.checkpoint_every = every;
    let mut s = Sealer::new(key(), cfg).unwrap();
    let lines = (0..n)
        .map(|i| {
            let r = record(i);
            String::from_utf8(
                s.seal(Input {
                    record: r.as_bytes(),
                    ..Input::default()
                })
                .line,
            )
            .unwrap()
        })
        .collect();
    (lines, s)
}

fn verify(lines: &[String]) -> Report {
    verify_with(lines, &[])
}

fn verify_with(lines: &[String], checkpoints: &[String]) -> Report {
    let text = lines.join("\n");
    let cps = checkpoints.join("");
    let mut v = logseal_core::Verifier::new(opts());
    let f = v.add_file("log.ndjson");
    for (i, l) in text.split('\n').enumerate() {
        v.add_line(f, i as u64 + 1, l.as_bytes());
    }
    if !checkpoints.is_empty() {
        let cf = v.add_file("checkpoints");
        for (i, note) in split_notes(&cps).iter().enumerate() {
            v.add_checkpoint(note, cf, i as u64 + 1);
        }
    }
    v.finish()
}

/// Notes in a checkpoint file end with their last signature line; a note
/// starts at a line that does not begin with the em dash after one that does.
fn split_notes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_sigs = false;
    for line in text.split_inclusive('\n') {
        if in_sigs && !line.starts_with('\u{2014}') {
            out.push(std::mem::take(&mut cur));
            in_sigs = false;
        }
        if line.starts_with('\u{2014}') {
            in_sigs = true;
        }
        cur.push_str(line);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn kinds(r: &Report) -> Vec<Kind> {
    r.findings.iter().map(|f| f.kind).collect()
}

fn edit(line: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    f(&mut v);
    serde_json::to_string(&v).unwrap()
}

#[test]
fn intact_log_verifies_and_says_what_is_signed() {
    let (lines, _) = seal(25, "e1", 10);
    let r = verify(&lines);
    assert!(r.intact(), "{:?}", r.findings);
    assert!(r.findings.is_empty());
    assert_eq!(r.chains.len(), 1);
    let c = &r.chains[0];
    assert_eq!((c.records, c.first_seq, c.last_seq), (25, 0, 24));
    assert_eq!(c.signed_size, 20);
    assert_eq!(c.signed_by, vec!["logseal.test/audit"]);
    assert_eq!(c.unsigned_tail, 5);
}

#[test]
fn modified_record_is_reported_at_its_line() {
    let (mut lines, _) = seal(12, "e1", 5);
    lines[6] = edit(&lines[6], |v| v["user"]["name"] = json!("mallory"));
    let r = verify(&lines);
    assert!(!r.intact());
    assert_eq!(kinds(&r), vec![Kind::Modified]);
    let f = &r.findings[0];
    assert_eq!((f.seq, f.locations[0].line), (Some(6), 7));
    assert_eq!(f.epoch.as_deref(), Some("e1"));
}

#[test]
fn modified_record_with_recomputed_hash_breaks_link_and_checkpoint() {
    let (mut lines, _) = seal(12, "e1", 10);
    // Rewrite record 4 and re-seal it correctly as far as its own hash goes.
    let v: Value = serde_json::from_str(&lines[4]).unwrap();
    let mut forged = v.clone();
    forged["user"]["name"] = json!("mallory");
    let entry_hash = rehash(&forged);
    forged["_logseal"]["hash"] = json!(entry_hash);
    lines[4] = forged.to_string();
    let r = verify(&lines);
    let k = kinds(&r);
    assert!(k.contains(&Kind::BrokenLink), "{k:?}");
    assert!(k.contains(&Kind::CheckpointMismatch), "{k:?}");
    assert!(!k.contains(&Kind::Modified));
}

/// Recompute a record's entry hash the way an attacker would (the hash needs no key).
fn rehash(v: &Value) -> String {
    let mut w = v.clone();
    let seal = w["_logseal"].as_object_mut().unwrap();
    seal.remove("hash");
    seal.remove("cp");
    let mut bytes = Vec::new();
    logseal_core::json::write_seal(
        &logseal_core::json::parse_str(&w.to_string()).unwrap(),
        &mut bytes,
    );
    logseal_core::b64(&logseal_core::merkle::leaf_hash(&bytes))
}

#[test]
fn deleted_records_are_a_gap() {
    let (mut lines, _) = seal(12, "e1", 100);
    lines.drain(3..5);
    let r = verify(&lines);
    assert_eq!(kinds(&r), vec![Kind::Deleted]);
    assert_eq!(
        (r.findings[0].seq, r.findings[0].seq_end),
        (Some(3), Some(4))
    );
}

#[test]
fn inserted_forgery_is_caught() {
    let (mut lines, _) = seal(8, "e1", 100);
    // A forged record claiming seq 5, hash consistent with its content.
    let mut forged: Value = serde_json::from_str(&lines[5]).unwrap();
    forged["msg"] = json!("all good, nothing to see");
    forged["_logseal"]["hash"] = json!(rehash(&forged));
    lines.insert(5, forged.to_string());
    let r = verify(&lines);
    assert!(kinds(&r).contains(&Kind::SeqCollision), "{:?}", kinds(&r));
    assert!(!r.intact());
}

#[test]
fn reordering_alone_is_not_tampering_and_duplicates_are_not_either() {
    let (mut lines, _) = seal(30, "e1", 10);
    lines.reverse();
    lines.swap(3, 17);
    let dup = lines[9].clone();
    lines.push(dup);
    let r = verify(&lines);
    assert!(r.intact(), "{:?}", r.findings);
    assert_eq!(kinds(&r), vec![Kind::Duplicate]);
}

#[test]
fn truncation_below_a_signed_checkpoint() {
    let (lines, s) = seal(30, "e1", 10);
    let cp_file = vec![s.checkpoint().unwrap()];
    // Cut the last 8 records (and with them the in-band checkpoint of size 30).
    let r = verify_with(&lines[..22], &cp_file);
    assert_eq!(kinds(&r), vec![Kind::Truncated]);
    assert_eq!(
        (r.findings[0].seq, r.findings[0].seq_end),
        (Some(22), Some(29))
    );
    // Without the separate checkpoint the cut is only visible as an unsigned tail ending early.
    let r = verify(&lines[..22]);
    assert!(r.intact());
    assert_eq!(r.chains[0].signed_size, 20);
}

#[test]
fn forks_rollbacks_and_bad_signatures() {
    let (lines, s) = seal(20, "e1", 100);
    let cp20 = s.checkpoint().unwrap();
    // A second history of the same size, signed with the same key (a key compromise).
    let (mut other, s2) = seal(20, "e1", 100);
    other[19] = other[19].clone();
    let mut s2 = s2;
    let r2 = "{\"different\":true}";
    let _ = s2.seal(Input {
        record: r2.as_bytes(),
        ..Input::default()
    });
    let cp21_other = s2.checkpoint().unwrap();
    let (_, s3) = seal(21, "e1", 100);
    let cp21 = s3.checkpoint().unwrap();
    // Fork: two size-21 checkpoints with different roots.
    let r = verify_with(&lines, &[cp21.clone(), cp21_other.clone()]);
    assert!(kinds(&r).contains(&Kind::CheckpointFork), "{:?}", kinds(&r));
    // Rollback: a size-20 checkpoint after a size-21 one.
    let r = verify_with(&lines, &[cp21.clone(), cp20.clone()]);
    assert!(kinds(&r).contains(&Kind::Rollback), "{:?}", kinds(&r));
    // Bad signature: flip a byte of the signature.
    let sig_at = cp20.rfind(' ').unwrap() + 12; // past the 4-byte key ID
    let mut bad = cp20.clone().into_bytes();
    bad[sig_at] = if bad[sig_at] == b'A' { b'B' } else { b'A' };
    let r = verify_with(&lines, &[String::from_utf8(bad).unwrap()]);
    assert_eq!(kinds(&r), vec![Kind::BadSignature]);
    // A checkpoint by a key the verifier does not know is not trusted.
    let stranger = SignerKey::from_seed("logseal.test/audit", [9; 32]).unwrap();
    let forged = stranger.sign_note(&cp20[..cp20.find("\n\n").unwrap() + 1]);
    let r = verify_with(&lines, &[forged]);
    assert_eq!(kinds(&r), vec![Kind::UnknownSigner]);
    assert!(r.intact());
    assert_eq!(r.chains[0].signed_size, 0);
}

#[test]
fn inconsistent_checkpoint_is_a_mismatch() {
    let (lines, _) = seal(20, "e1", 100);
    let (_, other) = {
        let mut cfg = SealConfig::new("logseal.test/audit", "e1");
        cfg.checkpoint_every = 0;
        let mut s = Sealer::new(key(), cfg).unwrap();
        for i in 0..15 {
            let r = format!("{{\"x\":{i}}}");
            s.seal(Input {
                record: r.as_bytes(),
                ..Input::default()
            });
        }
        ((), s)
    };
    let r = verify_with(&lines, &[other.checkpoint().unwrap()]);
    assert_eq!(kinds(&r), vec![Kind::CheckpointMismatch]);
}

#[test]
fn unsealed_and_garbage_lines_are_findings_with_locations() {
    let (mut lines, _) = seal(5, "e1", 100);
    lines.insert(2, r#"{"user":"mallory","action":"grant-admin"}"#.into());
    lines.insert(4, "not json at all".into());
    let r = verify(&lines);
    let locs: Vec<u64> = r.findings.iter().map(|f| f.locations[0].line).collect();
    assert_eq!(kinds(&r), vec![Kind::Unsealed, Kind::Unsealed]);
    assert_eq!(locs, vec![3, 5]);
}

#[test]
fn restart_with_saved_state_continues_and_crash_opens_a_new_epoch() {
    let (mut lines, s) = seal(10, "e1", 4);
    // Continue from saved state: same epoch, next seq.
    let saved = ChainState::from_json(&s.state().to_json()).unwrap();
    let mut cfg = SealConfig::new("logseal.test/audit", "ignored");
    cfg.checkpoint_every = 4;
    let mut resumed = Sealer::resume(key(), cfg.clone(), saved.clone()).unwrap();
    for i in 10..14 {
        let r = record(i);
        lines.push(
            String::from_utf8(
                resumed
                    .seal(Input {
                        record: r.as_bytes(),
                        ..Input::default()
                    })
                    .line,
            )
            .unwrap(),
        );
    }
    let r = verify(&lines);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.chains[0].last_seq, 13);

    // A crash: state saved at seq 9, but seqs 10..13 were sealed since; the
    // new epoch names where the saved state ended.
    cfg.epoch = "e2".into();
    let mut next = Sealer::new_epoch_after(key(), cfg, &saved).unwrap();
    let mut lines2 = lines[..12].to_vec(); // 10 and 11 delivered, 12, 13 lost in the crash
    for i in 0..3 {
        let r = record(100 + i);
        lines2.push(
            String::from_utf8(
                next.seal(Input {
                    record: r.as_bytes(),
                    ..Input::default()
                })
                .line,
            )
            .unwrap(),
        );
    }
    let r = verify(&lines2);
    assert!(r.intact(), "{:?}", r.findings);
    assert_eq!(kinds(&r), vec![Kind::CrashGap]);
    assert_eq!(r.chains.len(), 2);

    // Deleting a record the saved state vouches for is tampering.
    let mut lines3 = lines2.clone();
    lines3.remove(9);
    let r = verify(&lines3);
    assert!(!r.intact());
    assert!(kinds(&r).contains(&Kind::Truncated) || kinds(&r).contains(&Kind::Deleted));
}

#[test]
fn declared_loss_is_not_tampering() {
    let (lines, mut s) = seal(6, "e1", 100);
    // Seqs 6, 7 sealed, then dropped by the sealer's queue.
    for i in 6..8 {
        let r = record(i);
        s.seal(Input {
            record: r.as_bytes(),
            ..Input::default()
        });
    }
    s.declare_lost(6, 7, "queue-full");
    let mut all = lines.clone();
    let r8 = record(8);
    all.push(
        String::from_utf8(
            s.seal(Input {
                record: r8.as_bytes(),
                ..Input::default()
            })
            .line,
        )
        .unwrap(),
    );
    let r = verify(&all);
    assert!(r.intact(), "{:?}", r.findings);
    assert_eq!(kinds(&r), vec![Kind::DeclaredLoss]);
}

#[test]
fn time_and_tag_given_by_the_host_are_sealed() {
    let mut s = Sealer::new(key(), SealConfig::new("logseal.test/audit", "e1")).unwrap();
    let out = s.seal(Input {
        record: br#"{"log":"hello"}"#,
        tag: Some("kube.var.log"),
        time_ns: Some(1_700_000_000_123_456_789),
        verdict: None,
        force_checkpoint: false,
    });
    let line = String::from_utf8(out.line).unwrap();
    // Fluent Bit's out_file json_lines puts the time in front as a double.
    let stored = line.replacen('{', r#"{"date":1700000000.123456,"#, 1);
    let mut o = opts();
    o.added.time_field = Some("date".into());
    let r = verify_texts(o.clone(), &[("x", stored.as_bytes())]);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let changed = line.replacen('{', r#"{"date":1700000099.123456,"#, 1);
    let r = verify_texts(o, &[("x", changed.as_bytes())]);
    assert_eq!(kinds(&r), vec![Kind::AddedFieldMismatch]);
}

#[test]
fn bad_input_is_wrapped_and_sealed_never_lost() {
    let mut s = Sealer::new(key(), SealConfig::new("logseal.test/audit", "e1")).unwrap();
    let cases: Vec<(&[u8], &str)> = vec![
        (b"{not json", "invalid JSON"),
        (b"[1,2,3]", "not a JSON object"),
        (b"{\"a\":\"\xff\xfe\"}", "invalid UTF-8"),
        (br#"{"_logseal":{"v":1}}"#, "already has a _logseal member"),
        (br#"{"a":1,"a":2}"#, "duplicate member name"),
    ];
    let deep = "[".repeat(200) + &"]".repeat(200);
    let mut lines = Vec::new();
    for (input, why) in cases
        .iter()
        .copied()
        .chain([(deep.as_bytes(), "nesting deeper")])
    {
        let out = s.seal(Input {
            record: input,
            ..Input::default()
        });
        let w = out.wrapped.unwrap();
        assert!(w.contains(why), "{w} should mention {why}");
        let v: Value = serde_json::from_slice(&out.line).unwrap();
        // The original is kept whole.
        let kept = v
            .get("_logseal_raw")
            .and_then(Value::as_str)
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_else(|| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(v["_logseal_raw_b64"].as_str().unwrap())
                    .unwrap()
            });
        assert_eq!(kept, input);
        lines.push(String::from_utf8(out.line).unwrap());
    }
    let mut cfg = SealConfig::new("logseal.test/audit", "e1");
    cfg.max_record_bytes = 10;
    let mut small = Sealer::new(key(), cfg).unwrap();
    let out = small.seal(Input {
        record: br#"{"big":"0123456789"}"#,
        ..Input::default()
    });
    assert!(out.wrapped.unwrap().contains("exceeds the limit"));
    let r = verify(&lines);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

// ---- pipeline re-serialisation -------------------------------------------------

/// How a pipeline may re-serialise a record.
#[derive(Debug, Clone, Copy)]
enum Reser {
    ReorderKeys,
    Whitespace,
    EscapeNonAscii,
    IntAsFloat,
    Doubles16,
    Doubles17,
}

fn reserialise(line: &str, how: Reser) -> String {
    let v: Value = serde_json::from_str(line).unwrap();
    match how {
        Reser::ReorderKeys => {
            // Members in reverse order (the stored order is sorted, whatever
            // serde_json's `preserve_order` feature does to the map).
            let mut s = String::new();
            write_reversed(&v, &mut s);
            s
        }
        Reser::Whitespace => serde_json::to_string_pretty(&v)
            .unwrap()
            .replace('\n', " \t "),
        Reser::EscapeNonAscii => {
            let s = serde_json::to_string(&v).unwrap();
            let mut out = String::new();
            for c in s.chars() {
                if c.is_ascii() {
                    out.push(c);
                } else {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{u:04X}"));
                    }
                }
            }
            out
        }
        Reser::IntAsFloat => map_numbers(&serde_json::to_string(&v).unwrap(), |t| {
            if t.contains(['.', 'e', 'E']) || t.len() > 15 {
                t.to_string()
            } else {
                format!("{t}.0")
            }
        }),
        Reser::Doubles16 | Reser::Doubles17 => {
            let digits = if matches!(how, Reser::Doubles16) {
                16
            } else {
                17
            };
            map_numbers(&serde_json::to_string(&v).unwrap(), |t| {
                if t.contains(['.', 'e', 'E']) {
                    let f: f64 = t.parse().unwrap();
                    format!("{:.*e}", digits - 1, f)
                } else {
                    t.to_string()
                }
            })
        }
    }
}

fn write_reversed(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().rev().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                write_reversed(x, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_reversed(x, out);
            }
            out.push(']');
        }
        x => out.push_str(&serde_json::to_string(x).unwrap()),
    }
}

/// Rewrite every number token outside strings.
fn map_numbers(s: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut it = s.char_indices().peekable();
    let mut in_str = false;
    while let Some((i, c)) = it.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some((_, n)) = it.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if c == '-' || c.is_ascii_digit() {
            let mut end = i + 1;
            while let Some(&(j, d)) = it.peek() {
                if matches!(d, '-' | '+' | '.' | 'e' | 'E' | '0'..='9') {
                    end = j + 1;
                    it.next();
                } else {
                    break;
                }
            }
            out.push_str(&f(&s[i..end]));
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn every_pipeline_reserialisation_still_verifies() {
    let (lines, _) = seal(20, "e1", 5);
    for how in [
        Reser::ReorderKeys,
        Reser::Whitespace,
        Reser::EscapeNonAscii,
        Reser::IntAsFloat,
        Reser::Doubles16,
        Reser::Doubles17,
    ] {
        let changed: Vec<String> = lines.iter().map(|l| reserialise(l, how)).collect();
        assert_ne!(changed, lines, "{how:?} must change the bytes");
        let r = verify(&changed);
        assert!(r.findings.is_empty(), "{how:?}: {:?}", r.findings);
        assert_eq!(r.chains[0].signed_size, 20, "{how:?}");
    }
}

#[test]
fn fluent_bit_sixteen_digit_example() {
    let mut s = Sealer::new(key(), SealConfig::new("logseal.test/audit", "e1")).unwrap();
    let out = s.seal(Input {
        record: br#"{"v":123456789.123456789}"#,
        ..Input::default()
    });
    let line = String::from_utf8(out.line).unwrap();
    let fb = line.replace("123456789.123457", "123456789.1234568");
    assert_ne!(fb, line);
    let r = verify_texts(opts(), &[("fb", fb.as_bytes())]);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

fn arb_record() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::String),
    ];
    let val = leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\u{e9}\u{4e2d}]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("[a-z\u{e9}]{1,8}", val, 1..8)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

#[derive(Debug, Clone)]
enum Tamper {
    Modify(usize),
    Delete(usize),
    Insert(usize),
    Truncate(usize),
}

fn seal_values(recs: &[Value], every: u64) -> (Vec<String>, Sealer) {
    let mut cfg = SealConfig::new("logseal.test/audit", "p1");
    cfg.checkpoint_every = every;
    let mut s = Sealer::new(key(), cfg).unwrap();
    let lines = recs
        .iter()
        .map(|r| {
            let t = r.to_string();
            String::from_utf8(
                s.seal(Input {
                    record: t.as_bytes(),
                    ..Input::default()
                })
                .line,
            )
            .unwrap()
        })
        .collect();
    (lines, s)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random clean logs after random re-serialisation and shuffling always verify.
    #[test]
    fn clean_logs_verify_after_any_pipeline(
        recs in prop::collection::vec(arb_record(), 1..25),
        how in prop::collection::vec(0usize..6, 1..3),
        seed in any::<u64>(),
    ) {
        let (lines, _) = seal_values(&recs, 4);
        let all = [Reser::ReorderKeys, Reser::Whitespace, Reser::EscapeNonAscii, Reser::IntAsFloat, Reser::Doubles16, Reser::Doubles17];
        let mut changed: Vec<String> = lines.iter().map(|l| {
            how.iter().fold(l.clone(), |acc, h| reserialise(&acc, all[*h]))
        }).collect();
        // Deterministic shuffle.
        let n = changed.len();
        for i in 0..n {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % n as u64) as usize;
            changed.swap(i, j);
        }
        let r = verify(&changed);
        prop_assert!(r.findings.is_empty(), "{:?}", r.findings);
    }

    /// Random tampering is always caught.
    #[test]
    fn tampering_is_always_caught(
        recs in prop::collection::vec(arb_record(), 3..25),
        t in prop_oneof![
            any::<usize>().prop_map(Tamper::Modify),
            any::<usize>().prop_map(Tamper::Delete),
            any::<usize>().prop_map(Tamper::Insert),
            any::<usize>().prop_map(Tamper::Truncate),
        ],
    ) {
        let (mut lines, s) = seal_values(&recs, 4);
        let n = lines.len();
        let cp_file = vec![s.checkpoint().unwrap()];
        match t {
            Tamper::Modify(i) => {
                let i = i % n;
                lines[i] = edit(&lines[i], |v| v["tampered"] = json!(true));
            }
            Tamper::Delete(i) => {
                // Deleting the very last record is truncation; covered by the checkpoint file.
                lines.remove(i % n);
            }
            Tamper::Insert(i) => {
                let i = i % n;
                let mut forged: Value = serde_json::from_str(&lines[i]).unwrap();
                forged["injected"] = json!("evil");
                forged["_logseal"]["hash"] = json!(rehash(&forged));
                lines.insert(i, forged.to_string());
            }
            Tamper::Truncate(k) => {
                let keep = k % n;
                lines.truncate(keep);
            }
        }
        let r = verify_with(&lines, &cp_file);
        prop_assert!(!r.intact(), "{t:?} not caught: {:?}", r.findings);
    }
}

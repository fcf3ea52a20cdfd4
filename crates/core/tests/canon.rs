//! The one-pass canonicaliser (`logseal_core::canon`) against the tree
//! parser and writer (`json::parse` + `json::write_seal`), which the spec's
//! vectors pin: on random JSON texts (random members, escapes, numbers,
//! whitespace and order) and on random corruptions of them, both must accept
//! the same inputs and write the same bytes.

use logseal_core::canon::Canon;
use logseal_core::json;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn tree(s: &[u8]) -> Option<Vec<u8>> {
    let v = json::parse(s).ok()?;
    let mut out = Vec::new();
    json::write_seal(&v, &mut out);
    Some(out)
}

fn canon(s: &[u8]) -> Option<Vec<u8>> {
    Canon::new().value(s).ok().map(<[u8]>::to_vec)
}

/// A JSON string literal built from raw pieces, escaped in varied ways.
fn string_lit() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z_@.]{0,12}".prop_map(|s| s),
        Just("\\n".to_string()),
        Just("\\\"".to_string()),
        Just("\\\\".to_string()),
        Just("\\/".to_string()),
        Just("\\u00e9".to_string()),
        Just("é".to_string()),
        Just("\\ud83d\\ude00".to_string()),
        Just("😀".to_string()),
        Just("\\uFB01".to_string()),
        Just("\\u001F".to_string()),
        Just("€".to_string()),
        "[ -~&&[^\"\\\\]]{0,20}".prop_map(|s| s),
        // Any characters but `"`, `\` and controls: 1- to 4-byte UTF-8.
        "[^\"\\\\\\x00-\\x1f]{0,6}".prop_map(|s| s),
    ];
    prop::collection::vec(piece, 0..5).prop_map(|p| format!("\"{}\"", p.concat()))
}

fn number_lit() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|i| i.to_string()),
        (0u32..1000).prop_map(|i| i.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        (any::<i32>(), 0u32..20).prop_map(|(m, d)| format!(
            "{m}.{:0width$}",
            7,
            width = d as usize
        )),
        (1u64..1_000_000_000_000_000_000, -330i32..310).prop_map(|(m, e)| format!("{m}e{e}")),
        (any::<u32>(), 0usize..25).prop_map(|(m, z)| format!("{m}.{}", "0".repeat(z))),
        Just("-0".to_string()),
        Just("-0.0".to_string()),
        Just("0.1".to_string()),
        Just("123456789.123456789".to_string()),
        Just("99999999999999999999".to_string()),
        Just("1E+2".to_string()),
        Just("5e-324".to_string()),
    ]
}

fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(""), Just(" "), Just("\n\t "), Just("\r\n")]
}

fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        string_lit(),
        number_lit(),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            (prop::collection::vec((inner.clone(), ws()), 0..6)).prop_map(|items| {
                let body: Vec<String> = items
                    .into_iter()
                    .map(|(v, w)| format!("{w}{v}{w}"))
                    .collect();
                format!("[{}]", body.join(","))
            }),
            (prop::collection::vec((string_lit(), inner, ws()), 0..7)).prop_map(|members| {
                let body: Vec<String> = members
                    .into_iter()
                    .map(|(k, v, w)| format!("{w}{k}{w}:{w}{v}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn same_bytes_as_the_tree_writer(text in json_text()) {
        prop_assert_eq!(canon(text.as_bytes()), tree(text.as_bytes()), "{}", text);
    }

    #[test]
    fn same_acceptance_on_corrupted_text(
        text in json_text(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut b = text.into_bytes();
        for (at, byte, op) in edits {
            if b.is_empty() {
                b.push(byte);
                continue;
            }
            let i = at.index(b.len());
            match op {
                0 => b[i] = byte,
                1 => { b.remove(i); }
                _ => b.insert(i, byte),
            }
        }
        prop_assert_eq!(canon(&b), tree(&b), "{:?}", String::from_utf8_lossy(&b));
    }

    #[test]
    fn top_level_object_members(text in json_text()) {
        let t = format!("{{\"_first\":{text},\"z\":1}}");
        let mut c = Canon::new();
        prop_assert!(c.object(t.as_bytes()).is_ok() == json::parse_str(&t).is_ok());
        if c.object(t.as_bytes()).is_ok() {
            let mut joined = b"{".to_vec();
            for i in 0..c.len() {
                if i > 0 { joined.push(b','); }
                joined.extend_from_slice(c.member(i));
            }
            joined.push(b'}');
            prop_assert_eq!(Some(joined), tree(t.as_bytes()));
        }
    }
}

/// The members of `t` as `Canon::object` gives them, joined in canonical
/// order, and the captured `_s` members likewise.
fn joined(c: &Canon) -> (Vec<u8>, Vec<u8>) {
    let mut top = b"{".to_vec();
    for i in 0..c.len() {
        if i > 0 {
            top.push(b',');
        }
        top.extend_from_slice(c.member(i));
    }
    top.push(b'}');
    let mut nested = b"{".to_vec();
    if let Some(n) = c.nested() {
        for i in 0..n.len() {
            if i > 0 {
                nested.push(b',');
            }
            nested.extend_from_slice(n.member(i));
        }
    }
    nested.push(b'}');
    (top, nested)
}

/// Reads `t`, which must be accepted, and checks its members (and the
/// captured `_s` object's) against the tree writer; returns whether the
/// output buffer is the input itself (nothing had to be rewritten).
fn read_checked(t: &[u8]) -> Result<bool, TestCaseError> {
    let mut c = Canon::capturing("_s");
    prop_assert!(c.object(t).is_ok(), "{:?}", String::from_utf8_lossy(t));
    let (top, nested) = joined(&c);
    prop_assert_eq!(Some(top), tree(t), "{:?}", String::from_utf8_lossy(t));
    if let Ok(json::Value::Obj(m)) = json::parse(t)
        && let Some((_, v @ json::Value::Obj(_))) = m.iter().find(|(k, _)| k == "_s")
    {
        let mut want = Vec::new();
        json::write_seal(v, &mut want);
        prop_assert_eq!(nested, want);
    }
    Ok(c.output() == t)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Canonical text but for the order of the top-level members (a stored
    /// sealed line, or compact JSON with nested objects in order) is copied
    /// as it is: nothing is rewritten, and the members, the captured ones
    /// included, are the tree writer's.
    #[test]
    fn canonical_text_is_copied_as_is(text in json_text(), nested in json_text()) {
        let (Some(z), Some(k)) = (tree(text.as_bytes()), tree(nested.as_bytes())) else {
            return Ok(());
        };
        let (z, k) = (String::from_utf8(z).unwrap(), String::from_utf8(k).unwrap());
        // Top level out of order on purpose: it is indexed, never rewritten.
        let t = format!("{{\"z\":{z},\"_s\":{{\"a\":1,\"k\":{k}}},\"\\n\":0}}");
        prop_assert!(read_checked(t.as_bytes())?, "copied as it is: {}", t);
    }
}

/// Hand cases: text copied as it is, and text where something must be
/// rewritten (whitespace, a nested object's order, an escape, a number).
#[test]
fn copied_or_rewritten() {
    let as_is = [
        r#"{}"#,
        r#"{"a":1}"#,
        r#"{"a":[1,2,{"b":null}],"_s":{"x":true}}"#,
        r#"{"a":"\"\\\b\f\n\r\t\u001f","b":-5}"#,
        r#"{"\n":1,"a":1.5,"b":1e+21,"c":1e-7,"d":18446744073709551615}"#,
        r#"{"a":"é€😀","é":1}"#,
        r#"{"b":1,"a":{"x":[]},"\n":2}"#,
        r#"{"a":100000000000000000000}"#,
    ];
    for t in as_is {
        assert!(read_checked(t.as_bytes()).unwrap(), "{t}");
    }
    let rewritten = [
        r#" {"a":1}"#,
        r#"{ "a":1}"#,
        r#"{"a" :1}"#,
        r#"{"a":[1, 2]}"#,
        r#"{"b":1,"a":2,"c":[1, 2]}"#,
        r#"{"a":{"c":1,"b":2}}"#,
        r#"{"b":{"c":1,"b":{"z":[1 ,2],"y":0}},"a":1}"#,
        r#"{"_s":{"y":{"b":2,"a":1},"x":"\u0041"}}"#,
        r#"{"a":"\/"}"#,
        r#"{"a":"\u00e9"}"#,
        r#"{"a":"\u001F"}"#,
        r#"{"\u0061":1}"#,
        r#"{"a":-0}"#,
        r#"{"a":[-0,1.0,1E+21,2]}"#,
        r#"{"a":1000000000000000000001}"#,
        r#"{"a":123456789.123456789}"#,
    ];
    for t in rewritten {
        assert!(!read_checked(t.as_bytes()).unwrap(), "{t}");
    }
}

/// Every kind of ill-formed UTF-8 (overlong forms, surrogates, values past
/// U+10FFFF, lone and missing continuation bytes; RFC 3629 §3), beside the
/// well-formed edges, inside strings (among escapes, in the 8-byte scan and
/// after it), as a key and outside strings: the canonicaliser and the tree
/// parser accept and reject exactly the same texts.
#[test]
fn utf8_edges_same_acceptance() {
    let seqs: &[&[u8]] = &[
        b"\xc3\xa9",         // é
        b"\xe2\x82\xac",     // €
        b"\xef\xbf\xbf",     // U+FFFF
        b"\xee\x80\x80",     // U+E000
        b"\xf0\x9f\x98\x80", // 😀
        b"\xf4\x8f\xbf\xbf", // U+10FFFF
        b"\x80",             // lone continuation byte
        b"\xbf",
        b"\xc0\x80",         // overlong NUL
        b"\xc1\xbf",         // overlong
        b"\xe0\x80\x80",     // overlong
        b"\xe0\x9f\xbf",     // overlong
        b"\xf0\x80\x80\x80", // overlong
        b"\xed\xa0\x80",     // surrogate D800
        b"\xed\xbf\xbf",     // surrogate DFFF
        b"\xf4\x90\x80\x80", // past U+10FFFF
        b"\xf5\x80\x80\x80",
        b"\xff",
        b"\xfe",
        b"\xc3", // truncated
        b"\xe2\x82",
        b"\xf0\x9f\x98",
        b"\xc3\x28", // bad continuation
        b"\xe2\x28\xa1",
        b"\xf0\x28\x8c\x28",
    ];
    let mut texts: Vec<Vec<u8>> = Vec::new();
    for seq in seqs {
        for (pre, post) in [
            (&b"{\"a\":\""[..], &b"\"}"[..]),
            (b"{\"a\":\"abcdefgh", b"ijklmnop\"}"),
            (b"{\"a\":\"x\\n", b"\"}"),
            (b"{\"a\":\"", b"\\u00e9\"}"),
            (b"{\"", b"\":1}"),
            (b"{\"a\":", b"}"),
            (b"{\"a\":1", b"}"),
            (b"[\"", b"\"]"),
            (b"\"", b""), // unterminated
        ] {
            let mut t = pre.to_vec();
            t.extend_from_slice(seq);
            t.extend_from_slice(post);
            texts.push(t);
        }
    }
    let mut accepted = 0;
    for t in &texts {
        let (c, r) = (canon(t), tree(t));
        assert_eq!(c, r, "{:?}", String::from_utf8_lossy(t));
        accepted += usize::from(c.is_some());
        if t.starts_with(b"{") {
            assert_eq!(
                Canon::new().object(t).is_ok(),
                json::parse(t).is_ok_and(|v| matches!(v, json::Value::Obj(_))),
                "{:?}",
                String::from_utf8_lossy(t)
            );
        }
    }
    // The six good characters, in each of the six places inside a string
    // (values, escapes around, a key, an array element); nothing else.
    assert_eq!(accepted, 6 * 6);
}

/// Sealed records, some with host time and tag and a verdict, for the reader.
fn sealed_line(body: &str, with_extras: bool) -> Option<String> {
    use logseal_core::{Input, SealConfig, Sealer, SignerKey};
    let key = SignerKey::from_seed("logseal.test/canon", [7; 32]).ok()?;
    let mut cfg = SealConfig::new("logseal.test/canon", "e1");
    cfg.checkpoint_every = 2;
    let mut s = Sealer::new(key, cfg).ok()?;
    let input = Input {
        record: body.as_bytes(),
        tag: with_extras.then_some("app.audit"),
        time_ns: with_extras.then_some(1_795_000_000_123_456_789),
        verdict: with_extras.then_some(r#"{"score":0.75,"reasons":["x"]}"#),
        force_checkpoint: false,
    };
    s.seal(input);
    String::from_utf8(s.seal(input).line).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// The one-pass reader and the tree reader agree on every sealed line,
    /// with pipeline-added members, and after random corruption.
    #[test]
    fn reader_agrees_with_tree_reader(
        text in json_text(),
        extras in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..3),
    ) {
        use logseal_core::record::{AddedFields, Reader, read_tree};
        let body = format!("{{\"data\":{text},\"n\":1}}");
        let Some(line) = sealed_line(&body, extras) else { return Ok(()) };
        let mut b = line.into_bytes();
        if extras {
            // What Fluent Bit adds beside the record.
            b.pop();
            b.extend_from_slice(br#","date":1795000000.123457,"tag":"app.audit"}"#);
        }
        for (at, byte, op) in edits {
            let i = at.index(b.len());
            match op {
                0 => b[i] = byte,
                1 => { b.remove(i); }
                _ => b.insert(i, byte),
            }
        }
        for added in [
            AddedFields::default(),
            AddedFields { time_field: Some("date".into()), tag_field: Some("tag".into()) },
        ] {
            let read = Reader::new().read(&b, &added);
            prop_assert_eq!(&read, &read_tree(&b, &added));
            // Hashing left to the caller gives the same record.
            let mut leaf = vec![9u8];
            let unhashed = Reader::new().read_unhashed(&b, &added, &mut leaf).map(|mut r| {
                r.computed = Sha256::digest(&leaf[1..]).into();
                r
            });
            prop_assert_eq!(&unhashed, &read);
        }
    }
}

/// Seals rewritten the ways a pipeline (or a forger) might: both readers
/// must reach the same verdict on each.
#[test]
fn reader_agrees_on_rewritten_seals() {
    use logseal_core::record::{AddedFields, Reader, read_tree};
    let line = sealed_line(r#"{"a":1}"#, true).unwrap();
    let variants = [
        ("\"v\":1", "\"v\":1.0"),
        ("\"v\":1", "\"v\":10e-1"),
        ("\"v\":1", "\"v\":2"),
        ("\"v\":1", "\"v\":\"1\""),
        (
            "\"time\":1795000000123456789",
            "\"time\":1795000000123456789.0",
        ),
        ("\"time\":1795000000123456789", "\"time\":5.0"),
        ("\"time\":1795000000123456789", "\"time\":5"),
        ("\"seq\":1", "\"seq\":1.0"),
        ("\"seq\":1", "\"seq\":-1"),
        (
            "\"stream\":\"logseal.test/canon\"",
            "\"stream\":\"logseal.test\\/canon\"",
        ),
        ("\"stream\":\"logseal.test/canon\"", "\"stream\":\"a b\""),
        ("\"epoch\":\"e1\"", "\"epoch\":\"e\\u0031\""),
        ("\"tag\":\"app.audit\"", "\"tag\":null"),
        (
            "\"_logseal\":{",
            "\"_logseal\":{\"extra\":[1,{\"b\":2,\"a\":1}],",
        ),
        ("\"_logseal\":{", "\"_logseal\" : { \"z\" : 0 , "),
        (
            "\"_logseal\":{",
            "\"_logseal\":{\"lost\":{\"from\":0,\"to\":0,\"why\":\"x\"},",
        ),
        (
            "\"_logseal\":{",
            "\"_logseal\":{\"after\":{\"epoch\":\"e0\",\"seq\":4,\"hash\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"},",
        ),
        (
            "\"_logseal\":{",
            "\"_logseal\":{\"after\":{\"epoch\":\"e0\"},",
        ),
        ("\"score\":0.75", "\"score\":7.5e-1"),
        ("\"score\":0.75", "\"score\":\"high\""),
    ];
    for (from, to) in variants {
        assert!(line.contains(from), "{from} not in {line}");
        let b = line.replacen(from, to, 1);
        let a = AddedFields::default();
        let fast = Reader::new().read(b.as_bytes(), &a);
        assert_eq!(fast, read_tree(b.as_bytes(), &a), "{to}");
    }
    // And the seal as written must verify in both.
    let r = Reader::new()
        .read(line.as_bytes(), &AddedFields::default())
        .unwrap();
    assert_eq!(r.hash, r.computed);
}

/// Decimal literals that are their own canonical form are kept as read,
/// the rest rewritten: both must match the tree writer, at the edges (15
/// and 16 significant digits, 1e-6 and 1e-7, trailing zeros, a zero integer
/// part) and on random digit strings.
#[test]
fn decimals_kept_or_rewritten_like_the_tree_writer() {
    let cases = [
        "0.000001",
        "0.0000001",
        "0.0000015",
        "0.00000123456789012345",
        "0.5",
        "-0.5",
        "0.50",
        "142.857",
        "142.8570",
        "12345678901234.5",
        "123456789012345.5",
        "0.123456789012345",
        "0.1234567890123456",
        "9.99999999999999",
        "9.999999999999999",
        "99999999999999.9",
        "999999999999999.9",
        "1.5",
        "10.25",
        "-7.000001",
        "0.30000000000000004",
        "5e-324",
        "1.7976931348623157",
    ];
    for c in cases {
        assert_eq!(canon(c.as_bytes()), tree(c.as_bytes()), "{c}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20000))]

    #[test]
    fn random_decimals_like_the_tree_writer(
        neg in any::<bool>(),
        ip in "(0|[1-9][0-9]{0,17})",
        fp in "0{0,8}[0-9]{1,16}",
    ) {
        let t = format!("{}{ip}.{fp}", if neg { "-" } else { "" });
        prop_assert_eq!(canon(t.as_bytes()), tree(t.as_bytes()), "{}", t);
    }
}

/// Names from a small set (so duplicates are common), some spelled with an
/// escape that decodes to another's name.
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-e]{1,2}".prop_map(|s| format!("\"{s}\"")),
        "[a-e]".prop_map(|s| format!("\"\\u00{:x}\"", s.as_bytes()[0])),
        Just("\"é\"".to_string()),
        Just("\"\\u00e9\"".to_string()),
        Just("\"😀\"".to_string()),
        Just("\"\u{ff61}\"".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Objects of 0 to 45 members (both sides of the sorter's switch from
    /// insertion sort to the library sort at 32), at the top level and
    /// nested: duplicate names are rejected exactly when the parser
    /// rejects them, and the order is the tree writer's.
    #[test]
    fn duplicates_and_order_like_the_tree_writer(
        names in prop::collection::vec(member_name(), 0..45),
        nested in any::<bool>(),
    ) {
        let members: Vec<String> =
            names.iter().enumerate().map(|(i, n)| format!("{n}:{i}")).collect();
        let obj = format!("{{{}}}", members.join(","));
        let t = if nested { format!("{{\"x\":[{obj}],\"a\":{obj}}}") } else { obj };
        prop_assert_eq!(canon(t.as_bytes()), tree(t.as_bytes()), "{}", t);
        let mut c = Canon::new();
        prop_assert_eq!(c.object(t.as_bytes()).is_ok(), json::parse_str(&t).is_ok(), "{}", t);
    }
}

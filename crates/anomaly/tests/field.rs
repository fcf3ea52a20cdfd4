//! `Event::field` on `serde_json` trees: a flattened key ("user.name") wins
//! over the nested path, numeric segments index arrays (`-1` the last
//! item), and small objects
//! (searched in one pass) answer as large ones (searched by name) do. The
//! reference is the plain definition: try the whole rest of the path as a
//! key, else descend by its first segment, else by a longer head (as the
//! plugins' `Members` does).

use logseal_anomaly::{Event, FieldValue, same_name};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn reference<'a>(v: &'a Value, path: &str) -> Option<FieldValue<'a>> {
    match value(v, path)? {
        Value::String(s) => Some(FieldValue::Str(s)),
        Value::Number(n) => n.as_f64().map(FieldValue::Num),
        Value::Bool(b) => Some(FieldValue::Bool(*b)),
        _ => None,
    }
}

/// The value a path names: in an object, the member named with the whole
/// path, else below the first segment's member, else below a member named
/// with a longer head of the path, shortest first; in an array, the item
/// the first segment indexes.
fn value<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    match v {
        Value::Object(o) => {
            if let Some(x) = o.get(path) {
                return Some(x);
            }
            let mut dot = 0;
            while let Some(i) = path[dot..].find('.') {
                let (head, rest) = (&path[..dot + i], &path[dot + i + 1..]);
                if let Some(x) = o.get(head).and_then(|m| value(m, rest)) {
                    return Some(x);
                }
                dot += i + 1;
            }
            None
        }
        Value::Array(a) => {
            let (seg, rest) = match path.split_once('.') {
                Some((s, r)) => (s, Some(r)),
                None => (path, None),
            };
            // a decimal index from the start, or after `-` from the end
            let (from_end, digits) = seg.strip_prefix('-').map_or((false, seg), |d| (true, d));
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n = digits.parse::<usize>().ok()?;
            let i = if from_end {
                if n == 0 {
                    return None;
                }
                a.len().checked_sub(n)?
            } else {
                n
            };
            let x = a.get(i)?;
            match rest {
                None => Some(x),
                Some(r) => value(x, r),
            }
        }
        _ => None,
    }
}

#[test]
fn same_name_is_string_equality() {
    // Every length the word loads cover and either side of them, and a
    // difference at every position (the loads overlap in the middle).
    for n in 0..=20 {
        let a: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        assert!(same_name(&a, &a.clone()), "{a}");
        assert!(!same_name(&a, &format!("{a}x")));
        assert!(!same_name(&format!("{a}x"), &a));
        for i in 0..n {
            let mut b = a.clone().into_bytes();
            b[i] ^= 0x20;
            let b = String::from_utf8(b).unwrap();
            assert!(!same_name(&a, &b), "{a} {b}");
        }
    }
    assert!(same_name("user.name", "user.name"));
    assert!(!same_name("user_agent", "@timestamp"));
}

#[test]
fn flattened_key_wins_over_nested() {
    let v =
        json!({"user": {"name": "nested"}, "user.name": "flat", "a": {"b.c": 1, "b": {"c": 2}}});
    assert_eq!(v.field("user.name"), Some(FieldValue::Str("flat")));
    assert_eq!(v.field("a.b.c"), Some(FieldValue::Num(1.0)));
    let v = json!({"user": {"name": "nested"}});
    assert_eq!(v.field("user.name"), Some(FieldValue::Str("nested")));
    assert_eq!(v.field("user.nam"), None);
    assert_eq!(v.field("use.name"), None);
    let v = json!({"l": [{"x": "first"}, {"x": "second"}]});
    assert_eq!(v.field("l.1.x"), Some(FieldValue::Str("second")));
    assert_eq!(v.field("l.2.x"), None);
}

#[test]
fn large_objects_answer_as_small_ones() {
    // Over the one-pass limit: 40 members, the flattened key among them.
    let mut m = Map::new();
    for i in 0..40 {
        m.insert(format!("k{i:02}"), json!(i));
    }
    m.insert("user".into(), json!({"name": "nested"}));
    let big = Value::Object(m.clone());
    assert_eq!(big.field("user.name"), Some(FieldValue::Str("nested")));
    m.insert("user.name".into(), json!("flat"));
    let big = Value::Object(m);
    assert_eq!(big.field("user.name"), Some(FieldValue::Str("flat")));
    assert_eq!(big.field("k07"), Some(FieldValue::Num(7.0)));
}

/// Objects over a few names, some with dots, nested three deep.
fn tree() -> impl Strategy<Value = Value> {
    let name = prop::sample::select(vec!["a", "b", "a.b", "b.c", "a.b.c", "c", "0", "1"]);
    let leaf = prop_oneof![
        "[a-z]{0,3}".prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 40, 24, move |inner| {
        prop_oneof![
            prop::collection::vec((name.clone(), inner.clone()), 0..24).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
            prop::collection::vec(inner, 0..3).prop_map(Value::Array),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn field_is_the_reference(v in tree(), path in prop::sample::select(vec![
        "a", "a.b", "a.b.c", "b.c", "a.0", "a.1.b", "0.a", "c.a.b", "a.b.c.a",
        "a.-1", "a.-1.b", "a.-2", "a.b.-1", "a.+1", "a.-0",
    ])) {
        prop_assert_eq!(v.field(path), reference(&v, path));
    }
}

//! Review 3 (December 2026): `Members` and `serde_json::Value` must read
//! every path of every record alike, `field`, `items` and `item`. They
//! disagreed on a member named with a longer head ending in an empty
//! segment (`a.` for `a..1`), found by the proptest below; both now count
//! such a member.

use logseal_anomaly::Event;
use logseal_core::json::{Value, parse_str};
use logseal_pipeline::Members;
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "a", "b", "a.b", "b.a", "0", "1", "-1", "a.0", "a.b.c", "0.a", "", ".", "a.", "b.0.a",
];
const SEGS: &[&str] = &["a", "b", "c", "0", "1", "-1", "", "a.b"];

fn leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        (-3i64..3).prop_map(|i| serde_json::json!(i)),
        Just(serde_json::json!(1.5)),
        Just(serde_json::json!(u64::MAX)),
        prop::sample::select(vec!["x", "y", "", " X "]).prop_map(|s| serde_json::json!(s)),
    ]
}

fn tree() -> impl Strategy<Value = serde_json::Value> {
    leaf().prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..5).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn record() -> impl Strategy<Value = serde_json::Value> {
    prop::collection::btree_map(prop::sample::select(KEYS), tree(), 0..6).prop_map(|m| {
        serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    })
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(SEGS), 1..5).prop_map(|v| v.join("."))
}

fn compare(json: &serde_json::Value, paths: &[String]) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(json).unwrap();
    let Ok(Value::Obj(m)) = parse_str(&text) else {
        panic!("{text}")
    };
    let members = Members::new(&m);
    for p in paths {
        prop_assert_eq!(
            format!("{:?}", members.field(p)),
            format!("{:?}", json.field(p)),
            "field {:?} of {}",
            p,
            text
        );
        prop_assert_eq!(members.items(p), json.items(p), "items {:?} of {}", p, text);
        for i in 0..3 {
            prop_assert_eq!(
                format!("{:?}", members.item(p, i)),
                format!("{:?}", json.item(p, i)),
                "item {} of {:?} of {}",
                i,
                p,
                text
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn review3_members_and_serde_json_agree(json in record(), paths in prop::collection::vec(path(), 1..12)) {
        compare(&json, &paths)?;
    }
}

const KEYS_NO_EMPTY: &[&str] = &[
    "a", "b", "a.b", "b.a", "0", "1", "-1", "a.0", "a.b.c", "0.a", "b.0.a", "A", "é", "é.a", "a.é",
];
const SEGS_NO_EMPTY: &[&str] = &["a", "b", "c", "0", "1", "-1", "a.b", "A", "é"];

fn tree2() -> impl Strategy<Value = serde_json::Value> {
    leaf().prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS_NO_EMPTY), inner, 0..5).prop_map(
                |m| {
                    serde_json::Value::Object(
                        m.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                    )
                }
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// The same without empty segments (finding 1 aside).
    #[test]
    fn review3_members_and_serde_json_agree_no_empty_segments(
        json in prop::collection::btree_map(prop::sample::select(KEYS_NO_EMPTY), tree2(), 0..20).prop_map(|m| {
            serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        }),
        paths in prop::collection::vec(prop::collection::vec(prop::sample::select(SEGS_NO_EMPTY), 1..5).prop_map(|v| v.join(".")), 1..12),
    ) {
        compare(&json, &paths)?;
    }
}

fn pad(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for x in m.values_mut() {
                pad(x);
            }
            for i in 0..15 {
                m.insert(format!("pad{i}"), serde_json::Value::Null);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(pad),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    /// The same with every object over `SCAN_MEMBERS` (16) members.
    #[test]
    fn review3_members_and_serde_json_agree_large_objects(
        mut json in prop::collection::btree_map(prop::sample::select(KEYS_NO_EMPTY), tree2(), 0..8).prop_map(|m| {
            serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        }),
        paths in prop::collection::vec(prop::collection::vec(prop::sample::select(SEGS_NO_EMPTY), 1..5).prop_map(|v| v.join(".")), 1..12),
    ) {
        pad(&mut json);
        compare(&json, &paths)?;
    }
}

/// A member named with a longer head that ends in an empty segment (`a.`
/// of `a..1`): `Members` never finds it (`has_longer_head` wants a name
/// longer than `a.`); serde_json finds it only when some unrelated member
/// has a dot at the same place (`0.a` here), so the two views disagree and
/// serde_json's answer depends on a member the path does not name.
#[test]
fn review3_longer_head_with_empty_segment() {
    let with = r#"{"0.a":null,"a.":[null,false]}"#;
    let without = r#"{"a.":[null,false]}"#;
    let mut got = Vec::new();
    for r in [with, without] {
        let json: serde_json::Value = serde_json::from_str(r).unwrap();
        let Ok(Value::Obj(m)) = parse_str(r) else {
            panic!()
        };
        let members = Members::new(&m);
        got.push((
            r,
            format!("{:?}", members.field("a..1")),
            format!("{:?}", json.field("a..1")),
        ));
    }
    for (r, m, j) in &got {
        assert_eq!(m, j, "{r}: Members {m}, serde_json {j}; all: {got:?}");
    }
    assert_eq!(
        got[0].2, got[1].2,
        "serde_json depends on an unrelated member: {got:?}"
    );
}

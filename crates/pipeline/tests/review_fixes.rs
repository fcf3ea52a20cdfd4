//! Review (December 2026) of 9025f02: `Members` (the event view of every
//! plugin) and `serde_json::Value` must read every path alike, or a policy
//! tested on JSON finds different fields in the plugins. The tests not
//! named `control_*` failed then; both views now try members named with a
//! longer head of the path when the first segment leads nowhere, and
//! descend into arrays from them.

use logseal_anomaly::Event;
use logseal_core::json::{Value, parse_str};
use logseal_pipeline::Members;

fn both(record: &str, path: &str) -> (String, String) {
    let Ok(Value::Obj(m)) = parse_str(record) else {
        panic!("{record}")
    };
    let members = Members::new(&m);
    let json: serde_json::Value = serde_json::from_str(record).unwrap();
    (
        format!("{:?}", members.field(path)),
        format!("{:?}", json.field(path)),
    )
}

/// An array beside a member named with a longer head (`a` and `a.0`):
/// `Members` falls back from the array to the member `a.0`, serde_json does
/// not (it reads `a`'s item 0 and stops). The new array branch of `lookup`
/// added this case.
#[test]
fn members_and_serde_json_agree_array_beside_longer_head() {
    let r = r#"{"a":[{"b":1}],"a.0":{"c":2}}"#;
    let (m, j) = both(r, "a.0.c");
    assert_eq!(m, j, "{r} a.0.c: Members {m}, serde_json {j}");
}

/// The same disagreement without arrays (before 9025f02 already):
/// `Members` finds a member named with a longer head of the path (`a.b` of
/// `a.b.c`), serde_json only the whole path or its first segment.
#[test]
fn members_and_serde_json_agree_longer_head() {
    for (r, p) in [
        (r#"{"a.b":{"c":1}}"#, "a.b.c"),
        (r#"{"k":[{"a.b":{"c":1}}]}"#, "k.0.a.b.c"),
    ] {
        let (m, j) = both(r, p);
        assert_eq!(m, j, "{r} {p}: Members {m}, serde_json {j}");
    }
}

#[test]
fn control_members_and_serde_json_agree_on_arrays() {
    for (r, p) in [
        (
            r#"{"sourceIPs":["10.0.0.1","203.0.113.6"]}"#,
            "sourceIPs.-1",
        ),
        (r#"{"a":[{"b.c":1,"b":{"c":2}}]}"#, "a.0.b.c"),
        (r#"{"a":[1],"a.0":2}"#, "a.0"),
        (r#"{"a.b":[1,2]}"#, "a.b.0"),
        (r#"{"a":[[1,[2,3]]]}"#, "a.0.1.-1"),
    ] {
        let (m, j) = both(r, p);
        assert_eq!(m, j, "{r} {p}");
    }
}

/// Arrays within flattened keys are not read, by either view: ECS records
/// written with dotted names (`{"event.category": ["authentication"]}`,
/// as Vector's, Fluent Bit's and Logstash's flattening write them) have no
/// `event.category.0`, so the `ecs` preset's `event.category.*` conditions
/// never hold for them. `lookup_longer` descends only into objects; the
/// serde_json impl tries no longer head at all.
#[test]
fn array_under_a_flattened_key_is_read() {
    let r = r#"{"event.category":["iam","authentication"],"event.outcome":"failure"}"#;
    let (m, j) = both(r, "event.category.1");
    let want = r#"Some(Str("authentication"))"#;
    assert_eq!((m.as_str(), j.as_str()), (want, want), "{r}");
}

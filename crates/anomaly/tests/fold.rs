//! `fold_case`: fields compared, counted and shown trimmed and lowercased,
//! for identity systems that ignore case (found by review: six spellings of
//! one account split twelve failures six ways, and none was reported).

use logseal_anomaly::testkit::{DAY, T0, login};
use logseal_anomaly::{Engine, Policy, StateError};
use serde_json::{Value, json};

fn default_with(extra: Value) -> Policy {
    let mut v: Value =
        serde_json::from_str(logseal_anomaly::policy::preset_text("default").unwrap()).unwrap();
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    Policy::parse(&v.to_string()).unwrap()
}

/// Twelve failures against one account, spelled six ways: the findings as
/// (detector, entity).
fn spellings(p: Policy) -> Vec<(String, String)> {
    let names = [
        "administrator",
        "Administrator",
        "ADMINISTRATOR",
        "administrator ",
        " administrator",
        "aDministrator",
    ];
    let mut e = Engine::new(p);
    let t = T0 + 2 * DAY;
    (0..12)
        .flat_map(|i| {
            e.score(
                &login(
                    t + i * 10,
                    names[i as usize % 6],
                    "192.0.2.66",
                    "failure",
                    "US",
                    40.0,
                    -74.0,
                ),
                None,
            )
            .reasons
        })
        .map(|r| (r.detector, r.entity))
        .collect()
}

#[test]
fn spellings_of_one_account_count_as_one_when_folded() {
    let unfolded = spellings(default_with(json!({})));
    assert!(
        !unfolded.iter().any(|(d, _)| d == "failed_logins"),
        "{unfolded:?}"
    );
    let folded = spellings(default_with(json!({"fold_case": ["user"]})));
    assert!(
        folded
            .iter()
            .any(|(d, ent)| d == "failed_logins" && ent == "administrator"),
        "{folded:?}"
    );
}

#[test]
fn conditions_on_a_folded_field_compare_folded_text() {
    let p = default_with(json!({
        "fold_case": ["user"],
        "detectors": [{"type": "threshold", "name": "admin_login",
            "where": [{"field": "user", "eq": "Administrator"}],
            "group_by": "user", "window_secs": 60, "threshold": 0,
            "describe": "{user} logged in from {source_ip}"}]
    }));
    let mut e = Engine::new(p);
    let v = e.score(
        &login(
            T0,
            "ADMINISTRATOR ",
            "192.0.2.66",
            "success",
            "US",
            40.0,
            -74.0,
        ),
        None,
    );
    assert_eq!(v.reasons.len(), 1, "{v:?}");
    assert_eq!(v.reasons[0].text, "administrator logged in from 192.0.2.66");
}

#[test]
fn fold_case_is_part_of_the_state_but_absent_it_changes_nothing() {
    let plain = default_with(json!({}));
    assert_eq!(
        plain,
        Policy::preset("default").unwrap(),
        "an absent fold_case is the preset"
    );
    let folded = default_with(json!({"fold_case": ["user"]}));
    let snap = Engine::new(folded.clone()).snapshot();
    assert!(Engine::new(folded).restore(&snap).is_ok());
    assert_eq!(
        Engine::new(plain).restore(&snap),
        Err(StateError::PolicyMismatch)
    );
}

#[test]
fn bad_fold_case_is_refused_with_its_key() {
    let base: Value =
        serde_json::from_str(logseal_anomaly::policy::preset_text("default").unwrap()).unwrap();
    for (x, key, says) in [
        (json!(["user", ""]), "fold_case[1]", "must name a field"),
        (json!(["outcome"]), "fold_case[0]", "normalised already"),
        (json!("user"), "fold_case", "sequence"),
    ] {
        let mut v = base.clone();
        v["fold_case"] = x;
        let e = Policy::parse(&v.to_string()).unwrap_err();
        assert_eq!(e.key, key, "{e}");
        assert!(e.message.contains(says), "{e}");
    }
}

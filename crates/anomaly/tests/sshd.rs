//! The `sshd` preset on real sshd lines (first 400 lines of Loghub OpenSSH_2k, see tests/data/SOURCES.md).

use logseal_anomaly::{Engine, FieldValue, Policy, Severity};
use std::collections::BTreeMap;

#[test]
fn sshd_preset_flags_the_brute_forcers() {
    let text = include_str!("data/OpenSSH_400.log");
    let mut e = Engine::new(Policy::preset("sshd").unwrap());
    let mut flagged: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let ts = &line[..15];
        let rest = &line[16..];
        let (host, rest) = rest.split_once(' ').unwrap();
        let (_, msg) = rest.split_once(": ").unwrap();
        let ev: [(&str, FieldValue<'_>); 3] = [
            ("timestamp", FieldValue::Str(ts)),
            ("host", FieldValue::Str(host)),
            ("message", FieldValue::Str(msg)),
        ];
        let v = e.score(&ev[..], None);
        if v.severity > Severity::None {
            for r in &v.reasons {
                flagged
                    .entry(r.detector.clone())
                    .or_default()
                    .push(r.entity.clone());
            }
        }
    }
    // 112.95.230.3 tries root dozens of times within minutes
    let per_ip = flagged
        .get("failed_logins_per_ip")
        .cloned()
        .unwrap_or_default();
    assert!(per_ip.contains(&"112.95.230.3".to_string()), "{flagged:?}");
    let per_user = flagged
        .get("failed_logins_per_user")
        .cloned()
        .unwrap_or_default();
    assert!(per_user.contains(&"root".to_string()), "{flagged:?}");
    // 5.188.10.180 cycles through user names: spraying
    let spray = flagged
        .get("password_spraying")
        .cloned()
        .unwrap_or_default();
    assert!(spray.contains(&"5.188.10.180".to_string()), "{flagged:?}");
    // the learning period (1 day) keeps learned detectors quiet on a 2-hour excerpt
    assert!(!flagged.contains_key("first_seen"));
}

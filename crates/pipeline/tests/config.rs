//! The plugin configuration's validation: defaults, and a clear error that
//! names the member.

use logseal_pipeline::Config;

const KEY: &str = r#""key_file": "/etc/logseal/audit.key""#;

#[test]
fn feedback_check_every_defaults_validates_and_is_named_in_errors() {
    let c = Config::parse(&format!("{{{KEY}}}")).unwrap();
    assert_eq!((c.feedback_check_every, c.save_every), (1000, 1));
    let c = Config::parse(&format!("{{{KEY}, \"feedback_check_every\": 5}}")).unwrap();
    assert_eq!(c.feedback_check_every, 5);
    for (bad, why) in [
        ("0", "must be at least 1"),
        ("-1", "must be a non-negative integer"),
        ("\"5\"", "must be a non-negative integer"),
    ] {
        let e = Config::parse(&format!("{{{KEY}, \"feedback_check_every\": {bad}}}")).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.why.as_str()),
            ("feedback_check_every", why)
        );
    }
    let e = Config::parse(&format!("{{{KEY}, \"feedback_every\": 5}}")).unwrap_err();
    assert_eq!(e.key, "feedback_every");
    assert!(e.why.contains("feedback_check_every"), "{}", e.why);
}

/// A stream per tag is a valid stream name whatever the tag: at most 256
/// bytes (review 27: a 200-byte `stream` and a long tag made a name the
/// sealer refused, and the Fluent Bit module panicked on it), and two long
/// tags that differ only at their end stay two streams.
#[test]
fn a_stream_per_tag_is_always_a_valid_distinct_name() {
    let base = format!("fb.logseal.test/{}", "s".repeat(184));
    let cfg = Config::parse(
        &serde_json::json!({"key_file": "/k", "stream": base, "stream_per_tag": true}).to_string(),
    )
    .expect("config");
    let short = cfg.stream_for("k", Some("app"));
    assert_eq!(short, format!("{base}/app"));
    let long_a = format!("kube.{}a", "x".repeat(120));
    let long_b = format!("kube.{}b", "x".repeat(120));
    let (a, b) = (
        cfg.stream_for("k", Some(&long_a)),
        cfg.stream_for("k", Some(&long_b)),
    );
    assert_ne!(a, b);
    let e = "\u{e9}".repeat(128);
    let c = cfg.stream_for("k", Some(&e));
    for n in [&a, &b, &c] {
        assert!(n.len() <= 256, "{} bytes", n.len());
        assert!(logseal_core::seal::valid_stream(n), "{n}");
        assert!(n.starts_with(&base), "{n}");
    }
    // the same tag, the same stream
    assert_eq!(cfg.stream_for("k", Some(&long_a)), a);
}

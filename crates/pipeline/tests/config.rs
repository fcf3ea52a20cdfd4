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

//! Review 28: the human-readable reasons and the verdict's flat fields
//! (`score`, `severity`, `reason`), as operators read them and as hosts
//! route on them (README "The verdict member", "Routing on the verdict").

mod review;

use logseal_anomaly::{Engine, Policy, Severity, Verdict, testkit};
use review::{DAY, HOUR, T0, engine};
use serde_json::{Value, json};

/// A `threshold` rule `failed` that fires on every failure of a user
/// (`threshold: 0`), and `extra` detectors; no dedup.
fn every_failure(extra: Vec<Value>) -> Value {
    let mut dets = vec![
        json!({"type": "threshold", "name": "failed", "threshold": 0,
        "window_secs": 600, "where": [{"field": "outcome", "eq": "failure"}], "group_by": "user"}),
    ];
    dets.extend(extra);
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 1, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": dets
    })
}

fn failure(t: i64, user: &str) -> Value {
    json!({"timestamp": t, "user": user, "outcome": "failure", "source_ip": "203.0.113.9"})
}

/// The verdict of one failure of `user` under [`every_failure`].
fn one_failure(user: &str) -> Verdict {
    engine(&every_failure(vec![])).score(&failure(T0, user), None)
}

/// The flat `reason` of a verdict as a host reads it (parsed from the
/// member).
fn flat_reason(v: &Verdict) -> String {
    let m: Value = serde_json::from_str(&v.to_json()).expect("the member is JSON");
    m["reason"]
        .as_str()
        .expect("reason is a string")
        .to_string()
}

// ------------------------------------------------------------- routing

/// README, "Routing on the verdict": "Plugins add `to_json()` as a member
/// of the record (here named `anomaly`)", and every example routes on it:
/// Fluent Bit `$anomaly['severity'] ^(high|critical)$` (rewrite_tag and
/// grep), Vector `.anomaly.severity == "high"`. The issue: "the docs show
/// Fluent Bit rewrite_tag/grep and Vector route sending high-severity
/// records to an alert output".
///
/// Found: no plugin writes a member named `anomaly`. The sealer stores the
/// verdict under `logseal_core::seal::VERDICT_MEMBER`, which is
/// `"_anomaly"` (crates/core/src/seal.rs; the Fluent Bit plugin's README
/// routes on `$_anomaly['severity']`, the Vector plugin's and the CLI's
/// `jq` on `._anomaly.severity`). An operator who copies the crate
/// README's three examples gets a rewrite_tag rule and a grep filter that
/// match no record (Fluent Bit's record accessor finds no `anomaly` key:
/// grep drops every record, rewrite_tag re-tags none) and a Vector route
/// whose `alert` output never receives a record: high and critical
/// verdicts never reach the pager, silently. Fix: README (name the
/// member `_anomaly` in the sentence and in all three examples), and a
/// test that reads the examples against `VERDICT_MEMBER`, as this one does.
/// Now: README names `_anomaly` in the sentence and the three examples.
#[test]
fn readme_routing_examples_name_the_member_the_plugins_write() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let seal = std::fs::read_to_string(format!("{dir}/../core/src/seal.rs")).expect("core seal.rs");
    let line = seal
        .lines()
        .find(|l| l.contains("pub const VERDICT_MEMBER"))
        .expect("VERDICT_MEMBER");
    let member = line.split('"').nth(1).expect("quoted name").to_string();
    let readme = std::fs::read_to_string(format!("{dir}/README.md")).expect("README");
    let routing = &readme[readme.find("## Routing on the verdict").expect("section")..];
    let routing = &routing[..routing[3..].find("\n## ").map_or(routing.len(), |i| i + 3)];
    let fluent_ok = format!("${member}['severity']");
    let vector_ok = format!(".{member}.severity");
    let mut wrong = Vec::new();
    for l in routing.lines() {
        let fluent = l.contains("['severity']") && !l.contains(&fluent_ok);
        let vector = l.contains(".severity ==") && !l.contains(&vector_ok);
        if fluent || vector {
            wrong.push(l.trim().to_string());
        }
    }
    assert!(
        wrong.is_empty(),
        "the sealed record's verdict member is `{member}`, but README's routing examples read: {wrong:#?}"
    );
}

// ------------------------------------------------------- one line, visible

/// README, The verdict member: "Every `text` is one line: control
/// characters that event values bring into it (a user name with a line
/// break or a terminal escape) are written as escapes (`\n`,
/// `\u{001b}`), so a reason cannot pose as two".
///
/// Found: `describe::one_line` escapes `char::is_control` only (Unicode
/// category Cc). U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR
/// (categories Zl, Zp) pass into `text` and into the flat `reason`
/// as they are (and `to_json` writes them raw, as JSON allows), and they
/// are line breaks to every Unicode-aware viewer: a browser UI (Kibana,
/// Grafana, a Slack message from the README's alert output), JavaScript
/// tooling, many editors. A user name `mallory\u{2028}alice: impossible
/// travel ...` makes one reason read as two, the second about alice.
/// Fix: `one_line` (escape every character of categories Zl and Zp as
/// well as Cc: `\u{2028}`, `\u{2029}`); `write_json_str` may escape them
/// too, as many JSON writers do.
/// Now: `one_line` escapes U+2028 and U+2029 (`describe::unseen`).
#[test]
fn a_reason_is_one_line_with_unicode_line_separators_too() {
    for sep in ['\u{2028}', '\u{2029}'] {
        let name =
            format!("mallory{sep}alice: impossible travel, 10,252 km in 10h11m (1,006 km/h)");
        let v = one_failure(&name);
        assert_eq!(v.reasons.len(), 1, "{v:?}");
        let text = &v.reasons[0].text;
        let flat = flat_reason(&v);
        assert!(
            !text.contains(sep) && !flat.contains(sep),
            "U+{:04X} kept in the reason (two lines to a viewer): text {text:?}, reason {flat:?}",
            sep as u32
        );
    }
}

/// README, The verdict member: a reason's text must not let an event value
/// "pose as two or repaint the terminal of the operator reading it"; the
/// issue: reasons "a person can read", `entity` the one the baseline is of.
///
/// Found: `one_line` and `shown` leave every format character (Unicode
/// category Cf) as it is: bidi overrides and isolates (U+202A-U+202E,
/// U+2066-U+2069, U+200E/F, U+061C) and zero-width characters (U+200B-D,
/// U+2060, U+FEFF). A user `\u{202E}nimda` is shown in the reason as
/// "admin" followed by the rest of the sentence reversed; `ali\u{200B}ce`
/// (another account, its own baseline) reads as "alice", so the operator
/// blames or clears the wrong person. (The "Trojan Source" class,
/// CVE-2021-42574.) Fix: `one_line` (and `shown`) write Cf characters as
/// escapes like the control characters (`\u{202e}`), leaving `entity` raw
/// as README says.
/// Now: `one_line` and `shown` escape the format characters (Cf) too.
#[test]
fn a_reason_shows_no_bidi_override_or_invisible_character() {
    let invisible = |c: char| {
        matches!(c as u32,
            0x061C | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xFEFF)
    };
    let mut kept = Vec::new();
    for name in [
        "\u{202E}nimda",
        "ali\u{200B}ce",
        "\u{2066}root\u{2069}",
        "\u{FEFF}admin",
        "bob\u{200F}",
    ] {
        let v = one_failure(name);
        assert_eq!(v.reasons.len(), 1, "{v:?}");
        assert_eq!(v.reasons[0].entity, name, "entity keeps the raw value");
        let text = &v.reasons[0].text;
        if text.chars().any(invisible) || flat_reason(&v).chars().any(invisible) {
            kept.push(text.clone());
        }
    }
    assert!(
        kept.is_empty(),
        "reasons with an invisible or reordering character: {kept:?}"
    );
}

/// Control: what `one_line` is meant to catch is caught in the text and the
/// flat reason: NUL, CR, LF, ESC, DEL and the C1 CSI (U+009B, an escape
/// introducer to 8-bit terminals), each written as an escape.
#[test]
fn control_c0_and_c1_controls_in_a_name_are_escaped() {
    let name = "a\0b\rc\nd\u{1b}[2Je\u{7f}f\u{9b}31m";
    let v = one_failure(name);
    let text = &v.reasons[0].text;
    assert_eq!(
        text,
        "a\\u{0000}b\\rc\\nd\\u{001b}[2Je\\u{007f}f\\u{009b}31m: failed"
    );
    assert_eq!(&flat_reason(&v), text);
}

// -------------------------------------------------------------- length

/// README, Reasons of rules: in a `describe` text "a value longer than 64
/// bytes is cut with `…`" and the text is "at most 256 bytes"; `new_value`
/// and `peer_rare` clip the values they show to 128 bytes. The issue asks
/// for reasons "a person can read", and the flat `reason` is what a
/// router, an alert webhook and a pager message carry.
///
/// Found: the entity (`group_by` value, user, session) is never clipped in
/// any built-in text: `threshold` writes `{g}: ...`, `new_value` writes the
/// entity twice ("{ent}: country BR never seen for {ent} ..."), `sequence`
/// and `composition` the session, `rate` the group. A user name of 100 KB
/// (a client chooses it: an sshd `Invalid user`, an HTTP basic-auth name)
/// makes a 100 KB `text`, copied again into the flat `reason`, beside the
/// raw `entity`: 300 KB of verdict per record, each record sealed and
/// stored, and 200 KB more per `new_value` reason; the alert text is
/// unreadable and may exceed a webhook's limit. Fix: show the entity
/// through `shown`/`clip` (64 bytes, `…`) in every text, as `describe`
/// does with `{group}`; `entity` may stay raw.
/// Now: a text shows an entity longer than 64 bytes cut with `…`, and no
/// text, `observed` or `expected` is longer than 1,024 bytes.
#[test]
fn a_huge_user_name_is_not_copied_whole_into_the_reason() {
    let name = "x".repeat(100_000);
    let v = one_failure(&name);
    assert_eq!(v.reasons.len(), 1, "{v:?}");
    let (text, flat) = (v.reasons[0].text.len(), flat_reason(&v).len());
    assert!(
        text <= 512 && flat <= 512,
        "a 100,000-byte user name gave a reason text of {text} bytes and a flat reason of {flat} bytes"
    );
}

/// A `new_value` detector `nv` of user agents that has seen alice use
/// `curl/8` 40 times.
fn alice_with_curl() -> Engine {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 10, "min_entity_events": 3},
        "alerting": {"dedup_secs": 0, "report_p": 0.5},
        "detectors": [{"type": "new_value", "name": "nv", "entity": "user", "features": ["agent"],
                       "rare": false}]
    }));
    for i in 0..40 {
        e.score(
            &json!({"timestamp": T0 + i * 60, "user": "alice", "agent": "curl/8"}),
            None,
        );
    }
    e
}

/// Control: a long user agent is clipped in a `new_value` reason (128
/// bytes and `…`) at a character boundary.
#[test]
fn control_a_long_new_value_is_clipped_at_a_character_boundary() {
    let mut e = alice_with_curl();
    // 127 bytes of ASCII, then 4-byte characters: byte 128 is inside one
    let agent = format!("{}{}", "a".repeat(127), "😀".repeat(250_000));
    let v = e.score(
        &json!({"timestamp": T0 + 3000, "user": "alice", "agent": agent}),
        None,
    );
    let r = v
        .reasons
        .iter()
        .find(|r| r.detector == "nv")
        .expect("a new agent");
    assert_eq!(r.observed, format!("{}…", "a".repeat(127)));
    assert!(r.text.len() < 300, "{}", r.text.len());
}

/// The issue: reasons "a person can read: {detector, entity, feature,
/// observed, expected, p}"; README, The verdict member: control characters
/// event values bring are written as escapes "so a reason cannot pose as
/// two or repaint the terminal of the operator reading it; `entity` keeps
/// the raw value" (the one field said to be raw).
///
/// Found: `observed` and `expected` are display forms (`new_value` and
/// `peer_rare` clip the value to 128 and 64 bytes with `…`, `sequence`
/// writes `<unknown>` and the clipped line), yet they carry the event's
/// control characters as they are: a new user agent
/// `curl/8\u{1b}]0;owned\u{7}\nverdict: INTACT` is `observed` with its
/// OSC title escape and line break; the member escapes them as JSON, but
/// every host that reads the field (`jq -r`, a Fluent Bit or Vector
/// template for the alert output, a SIEM table cell) gets the raw bytes
/// back: the terminal is repainted and the line split, which `text` was
/// fixed to prevent. Fix: `Engine::score` (pass `observed` and `expected`
/// through `one_line`, as `text`; only `entity` stays raw).
/// Now: `observed` and `expected` go through `one_line` as `text` does.
#[test]
fn observed_carries_no_control_character() {
    let mut e = alice_with_curl();
    let agent = "curl/8\u{1b}]0;owned\u{7}\nverdict: INTACT";
    let v = e.score(
        &json!({"timestamp": T0 + 3000, "user": "alice", "agent": agent}),
        None,
    );
    let r = v
        .reasons
        .iter()
        .find(|r| r.detector == "nv")
        .expect("a new agent");
    assert!(!r.text.chars().any(char::is_control), "{:?}", r.text);
    assert!(
        !r.observed.chars().any(char::is_control),
        "observed {:?} beside the text {:?}",
        r.observed,
        r.text
    );
}

// ------------------------------------------------------------------ p

/// Issue: reasons carry "{detector, entity, feature, observed, expected,
/// p}"; `Reason::p` is documented as the "Calibrated tail probability of
/// something at least this unusual".
///
/// Found: `Engine::score` stores `num::round4(h.p)`, so every finding with
/// p below 0.00005 (every strong one: 40 failures where the rule expects
/// at most 5 is p ≈ 1e-30) is written `"p":0`, which is not a tail
/// probability but a claim that it cannot happen; the golden file has
/// three such reasons (`brute_force_success` at score 0.8166, an error
/// rate and a spike at score 1). Every critical reason of a verdict reads
/// `p: 0`, so neither an operator nor a host can tell the strongest
/// reason from the others by its p, nor compare a reason's p with the
/// verdict's score (p = 1e-5 and 1e-30 both 0). Fix: write p with 4
/// significant digits rather than 4 decimals (still without exponent,
/// e.g. `0.00000000000001234`), or clamp the printed value to at least
/// 0.0001 (a bound that stays true) and say so.
/// Now: a reason's p keeps 4 significant digits (`num::round_sig4`) and
/// is written as ECMAScript (RFC 8785) writes it: `1.327e-21`.
#[test]
fn a_strong_reason_p_is_not_printed_as_zero() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 0},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "threshold", "name": "failed", "threshold": 5, "window_secs": 600,
                       "where": [{"field": "outcome", "eq": "failure"}], "group_by": "user"}]
    }));
    let mut last = Verdict::none();
    for i in 0..40 {
        last = e.score(&failure(T0 + i, "bob"), None);
    }
    assert_eq!(last.severity, Severity::Critical, "{last:?}");
    let r = &last.reasons[0];
    let member = last.to_json();
    assert!(
        r.p > 0.0 && !member.contains("\"p\":0,"),
        "a critical reason ({}) carries p = {}: {member}",
        r.text,
        r.p
    );
}

// ------------------------------------------------------------- the flat fields

/// Control: on the golden stream (ECS preset), every verdict's member is
/// valid JSON with the fixed key order; `reason` is the first reason's
/// text (or "" for none); reasons are ordered by p; `score` is in [0, 1];
/// `severity` is the README's function of the score ("a flagged event is
/// at least `low`"), and `none` exactly when there is no reason.
#[test]
fn control_flat_fields_agree_with_the_reasons_on_the_golden_stream() {
    let mut e = Engine::new(Policy::preset("ecs").unwrap());
    let th = [0.33, 0.5, 0.66, 0.83];
    let mut flagged = 0;
    for ev in testkit::stream() {
        let v = e.score(&ev, None);
        let text = v.to_json();
        let m: Value = serde_json::from_str(&text).expect("valid JSON");
        // (sorted: serde_json keeps the text's order when a crate of the
        // build turns on `preserve_order`, as the host harness does)
        let mut keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["reason", "reasons", "score", "severity"], "{text}");
        assert!(text.starts_with("{\"score\":"), "{text}");
        let s = m["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s), "{text}");
        let rs = m["reasons"].as_array().unwrap();
        let want = rs.first().map_or("", |r| r["text"].as_str().unwrap());
        assert_eq!(m["reason"].as_str().unwrap(), want, "{text}");
        let ps: Vec<f64> = rs.iter().map(|r| r["p"].as_f64().unwrap()).collect();
        assert!(ps.windows(2).all(|w| w[0] <= w[1]), "{text}");
        let sev = if rs.is_empty() {
            "none"
        } else if s >= th[3] {
            "critical"
        } else if s >= th[2] {
            "high"
        } else if s >= th[1] {
            "medium"
        } else {
            "low"
        };
        assert_eq!(m["severity"].as_str().unwrap(), sev, "{text}");
        flagged += usize::from(!rs.is_empty());
    }
    assert!(flagged > 5, "{flagged}");
}

// -------------------------------------------------------------- times

/// README, `rate`: "a drop or an error-rate spike can only be judged when
/// the bucket is over, so it lands on the series' next event"; Timestamps:
/// "Hours and days are UTC". A reason reads as a statement about the
/// record it is sealed with.
///
/// Found: the error-rate (and closed-bucket drop) text names the bucket
/// by `hhmm` alone: "alice: error rate 90% (9 of 10) at 16:00 UTC, usual
/// 10% (user_rate)". For a per-user series the next event is often the
/// next working day: the finding is sealed with alice's record of 09:00
/// the next morning, whose reason then says "at 16:00 UTC" — a time seven
/// hours in that record's future, with nothing to say which day was
/// meant. (The silence text already adds the date when it spans a day:
/// `when(from, silent >= 86_400)`.) Fix: `Rate::close` (write the bucket
/// with its date, `when(bt, true)`, whenever the bucket does not lie on
/// the day of the event the finding lands on).
/// Now: a closed bucket of another day than the event's names its date.
#[test]
fn an_error_rate_of_yesterday_says_which_day() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 3 * DAY, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "rate", "name": "user_rate", "bucket_secs": 3600, "group_by": "user",
                       "seasonality": "none", "drops": false,
                       "error_where": [{"field": "outcome", "eq": "failure"}]}]
    }));
    let ev = |t: i64, fail: bool| json!({"timestamp": t, "user": "alice", "outcome": if fail { "failure" } else { "success" }});
    // 10 office days, 10 events an hour from 08:00 to 17:00, one failure each hour
    for d in 0..10 {
        for h in 8..17 {
            for k in 0..10 {
                let t = T0 + d * DAY + h * HOUR + k * 300;
                e.score(&ev(t, k == 0), None);
            }
        }
    }
    // day 10: 16:00-17:00 nine of ten fail; alice is back the next morning
    let d = 10;
    for h in 8..17 {
        for k in 0..10 {
            let t = T0 + d * DAY + h * HOUR + k * 300;
            let fail = if h == 16 { k != 0 } else { k == 0 };
            let v = e.score(&ev(t, fail), None);
            assert!(v.reasons.iter().all(|r| r.feature != "error_rate"), "{v:?}");
        }
    }
    let morning = T0 + 11 * DAY + 9 * HOUR;
    let v = e.score(&ev(morning, false), None);
    let r = v
        .reasons
        .iter()
        .find(|r| r.feature == "error_rate")
        .unwrap_or_else(|| panic!("no error-rate finding: {v:?}"));
    let day = &testkit::iso(T0 + 10 * DAY)[..10];
    assert!(
        r.text.contains(day),
        "sealed with the record of {} (09:00), the reason names no day: {:?}",
        testkit::iso(morning),
        r.text
    );
}

/// The hours a `"08-18"`, `"22-02"` or `"08-10, 20-22"` range names.
fn hours_in(range: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for run in range.split(", ") {
        let Some((a, b)) = run.split_once('-') else {
            continue;
        };
        let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
        let len = match (b + 24 - a) % 24 {
            0 => 24,
            n => n,
        };
        out.extend((0..len).map(|i| (a + i) % 24));
    }
    out
}

/// README, `unusual_hour`: the p is "`Σ P(h')` over hours at most as
/// likely as the current one"; the text reads "active at an unusual hour;
/// usual hours 08-18 UTC, now 03:12" (README, The verdict member).
/// README, Score and severity, has operators raise `report_p` ("a
/// `report_p` above the lowest threshold's p (0.0105 by default) still
/// reaches a route on severity").
///
/// Found: the "usual hours" of the text are a different rule from the
/// finding's: `Hour::run` lists every hour whose 4-bit counter is at least
/// a quarter of the busiest one, while the finding is made when the share
/// of hours at most as likely is below `report_p`. With `report_p` 0.05,
/// a user active every hour from 07:00 to 17:00 (one event an hour) and
/// at 17:30 every third day is flagged at 17:30 on day 57 with "alice: active
/// at an unusual hour; usual hours 07-18 UTC, now 17:30": the sentence
/// calls the hour unusual and lists it among the usual ones, and the
/// operator cannot tell which half is wrong. Fix: `Hour::run` (call
/// usual only hours that would not be flagged themselves: those whose
/// `Σ P(h')` is at least `report_p`, or leave the current hour out of the
/// runs).
/// Now: usual hours are only those more likely than the current one.
#[test]
fn an_unusual_hour_is_not_listed_among_the_usual_hours() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 2 * DAY, "min_entity_events": 3},
        "alerting": {"dedup_secs": 0, "report_p": 0.05},
        "detectors": [{"type": "unusual_hour", "name": "hour", "entity": "user"}]
    }));
    let ev = |t: i64| json!({"timestamp": t, "user": "alice"});
    // 07:00-17:00 every day, one event an hour; 17:30 every third day
    let mut v = Verdict::none();
    for d in 0..58 {
        for h in 7..17 {
            e.score(&ev(T0 + d * DAY + h * HOUR + 600), None);
        }
        if d % 3 == 0 {
            v = e.score(&ev(T0 + d * DAY + 17 * HOUR + 1800), None);
        }
    }
    let r = v
        .reasons
        .iter()
        .find(|r| r.detector == "hour")
        .unwrap_or_else(|| panic!("no hour finding at 17:30: {v:?}"));
    let now: u32 = r.observed[..2].parse().unwrap();
    assert!(
        !hours_in(&r.expected).contains(&now),
        "flagged as unusual, listed as usual: {:?} (p {})",
        r.text,
        r.p
    );
}

/// Found (a suspicion of this review, made a test when fixed): an
/// `unusual_hour` finding on a record whose own time the clock refused (a
/// log of 45 days back replayed beside the live stream) was judged at the
/// clock's hour: a replayed record of 10:00 beside a live night shift read
/// "active at an unusual hour; usual hours 09-17 UTC, now 03:..", a time
/// the record does not have. Now: such a record is not judged by
/// `unusual_hour`, as `impossible_travel` already did not judge it.
#[test]
fn a_refused_record_time_is_not_judged_at_the_clocks_hour() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 2 * DAY, "min_entity_events": 3},
        "alerting": {"dedup_secs": 0, "report_p": 0.05},
        "detectors": [{"type": "unusual_hour", "name": "hour", "entity": "user"}]
    }));
    let ev = |t: i64| json!({"timestamp": t, "user": "alice"});
    for d in 0..60 {
        for h in 9..17 {
            e.score(&ev(T0 + d * DAY + h * HOUR + 600), None);
        }
    }
    let night = T0 + 60 * DAY + 3 * HOUR;
    let (mut live, mut replayed) = (0, Vec::new());
    for i in 0..6 {
        let v = e.score(&ev(night + i * 600), None);
        live += usize::from(v.reasons.iter().any(|r| r.detector == "hour"));
        let old = T0 + 15 * DAY + 10 * HOUR + i * 600;
        let v = e.score(&ev(old), None);
        replayed.extend(
            v.reasons
                .into_iter()
                .filter(|r| r.detector == "hour")
                .map(|r| r.text),
        );
    }
    assert!(live > 0, "the live night records are unusual for alice");
    assert!(replayed.is_empty(), "{replayed:#?}");
}

/// Found (a suspicion of this review, made a test when fixed): the default
/// `followed_by` text read "1 `first` events" with `min_first: 1`, and a
/// rate drop "drop: 1 events per 5m". Now: one event is singular.
#[test]
fn one_event_is_singular() {
    let mut e = engine(&json!({
        "version": 1,
        "learning": {"period_secs": 0},
        "alerting": {"dedup_secs": 0},
        "detectors": [{"type": "followed_by", "name": "fb", "group_by": "user", "window_secs": 600,
                       "min_first": 1, "expected": 0.001,
                       "first": [{"field": "outcome", "eq": "failure"}],
                       "then": [{"field": "outcome", "eq": "success"}]}]
    }));
    e.score(&failure(T0, "bob"), None);
    let v = e.score(
        &json!({"timestamp": T0 + 1, "user": "bob", "outcome": "success"}),
        None,
    );
    let t = review::texts_of(&v, "fb");
    assert_eq!(t.len(), 1, "{v:?}");
    assert!(t[0].starts_with("bob: 1 `first` event, then"), "{t:?}");
}

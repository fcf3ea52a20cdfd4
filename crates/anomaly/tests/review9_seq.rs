//! Review 9: an adversarial review of review 8's changes to the `sequence`
//! detector and its Drain-style miner (commit e768362: the similarity as
//! the smaller of two shares, the Katz-style back-off with `conclusive`,
//! counts halving rounding down, a frozen model keeping its counts, the
//! "not seen since its counts last halved" text).
//!
//! Every test that is not a `control_*` test failed on the code it was
//! written against (0822d65) because of a bug: its doc comment names what a
//! user expects, where that expectation comes from, and what happened
//! instead ("Found"), and holds since its fix ("Now"). The `control_*`
//! tests passed then too and show the set-up is sound.

use logseal_anomaly::{Severity, Verdict};
use serde_json::{Value, json};

mod review;
use review::*;

// ------------------------------------------------------------ calibration

/// The same stream, the same detector, counts that never halve (a
/// half-life of 30 years): 0.9% reported.
#[test]
fn control_a_stationary_stream_without_halvings_is_calibrated() {
    let (share, texts) = stationary_share(
        &with_half_life(
            seq_policy(
                json!({"template": "kind", "history": 1, "rare_templates": false}),
                20_000,
                0,
            ),
            1_000_000_000,
        ),
        192,
    );
    assert!(share <= 0.012, "{:.2}%: {texts:#?}", 100.0 * share);
}

// ------------------------------------------------------------------ texts

/// A frozen (`online: false`) detector with a half-life of one day learns
/// 3,000 events of `login read logout`, then sees the cycle once a day for
/// `days` days; returns its reasons on `logout` right after `login`.
fn frozen_skip(days: i64) -> Vec<String> {
    let mut p = seq_policy(
        json!({"template": "kind", "online": false, "history": 1}),
        3000,
        0,
    );
    p["half_life_secs"] = json!(DAY);
    let mut e = engine(&p);
    let mut t = T0;
    let ks = ["login", "read", "logout"];
    for i in 0..3000usize {
        kind(&mut e, t, ks[i % 3]);
        t += 1;
    }
    for i in 0..(days * 3) as usize {
        kind(&mut e, t, ks[i % 3]);
        t += DAY / 3;
    }
    kind(&mut e, t, "login");
    kind(&mut e, t + 1, "logout")
}

/// Expected: a reason's counts are qualified as halving only when they
/// have. README, `sequence`: "a frozen model (`online: false`) keeps its
/// counts"; Drift: sequence counts halve, "not those of a frozen
/// `online: false` model"; "Once counts have halved, texts say 'by counts
/// that halve with time'". The frozen model's `[login]` was seen exactly
/// 1,000 times and still is.
///
/// Found: the qualifier comes from the engine's clock (`decayed`, which
/// reads `Ctx::decayed_at`: any halving of any detector), not from the
/// detector, so a week after learning the frozen model says "seen 0 of
/// 1,000 times by counts that halve with time" of counts that never
/// halved — an operator reading it discounts exact counts as faded ones.
/// The same for its "rare event template" texts.
///
/// Now: the "by counts that halve with time" wording is for an online
/// detector's counts only.
#[test]
fn a_frozen_models_counts_are_not_said_to_halve() {
    let v = frozen_skip(7);
    assert!(
        v.iter().any(|t| t.contains("logout after [login]")),
        "{v:?}"
    );
    assert!(
        !v.iter()
            .any(|t| t.contains("by counts that halve with time")),
        "a frozen model's exact counts are described as halving: {v:?}"
    );
}

/// Right after learning (no halving yet) the same reason has no qualifier
/// and says "seen 0 of 1,000 times".
#[test]
fn control_a_frozen_model_right_after_learning_says_plain_counts() {
    let v = frozen_skip(0);
    assert!(
        v.iter()
            .any(|t| t.contains("logout after [login]") && t.contains("seen 0 of 1,000 times)")),
        "{v:?}"
    );
}

// ------------------------------------------------------------ template miner

/// With a watch that only `cat` read (review 8's case) the same record is
/// reported as never seen; a `vim` read of the watched file after the
/// varied watch is quiet and no new template.
#[test]
fn control_a_record_of_another_audit_rule_is_new_beside_a_one_command_watch() {
    let probe = auditd_syscall(601, "yes", "nc", "/usr/bin/nc", "exfil");
    let (found, ts) = watch_case(&[("no", "cat", "/bin/cat")], &probe);
    assert!(
        found.iter().any(|t| t.contains("never seen before")),
        "{found:?}"
    );
    assert_eq!(ts.len(), 4, "{ts:?}");
    let (found, ts) = watch_case(
        &[
            ("no", "cat", "/bin/cat"),
            ("no", "vim", "/usr/bin/vim"),
            ("yes", "cat", "/bin/cat"),
        ],
        &auditd_syscall(601, "no", "vim", "/usr/bin/vim", "sshd_config"),
    );
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(ts.len(), 3, "{ts:?}");
}

// ------------------------------------------------------- next-event model

/// History 2, template field, and a `new_value` detector (`first_seen`,
/// entity `host`, feature `source_ip`). Learns 2,000 sessions `p a x` and
/// `n_q` sessions `q a b` (each session's first event from one of 60
/// source addresses in turn: a new address has p = 61 / (sessions + 2),
/// about 0.03, not reported alone); then scores one session of `kinds`
/// whose last event comes from a never-seen address. Returns the verdict
/// on that event.
fn katz_case(n_q: usize, kinds: &[&str]) -> Verdict {
    let mut p = seq_policy(
        json!({"template": "kind", "history": 2, "rare_templates": false}),
        3 * (2000 + n_q) as u64,
        0,
    );
    p["detectors"].as_array_mut().unwrap().push(
        json!({"type": "new_value", "name": "first_seen", "entity": "host",
                     "features": ["source_ip"]}),
    );
    let mut e = engine(&p);
    let mut t = T0;
    let mut q = 0;
    for i in 0..2000 + n_q {
        let ks: &[&str] = if i % 20 == 10 && q < n_q {
            q += 1;
            &["q", "a", "b"]
        } else {
            &["p", "a", "x"]
        };
        for (j, k) in ks.iter().enumerate() {
            t += 1;
            let mut ev =
                json!({"timestamp": t, "session": format!("l{i}"), "kind": k, "host": "h1"});
            if j == 0 {
                ev["source_ip"] = json!(format!("10.0.0.{}", i % 60));
            }
            e.score(&ev, None);
        }
    }
    let mut v = Verdict::none();
    for (j, k) in kinds.iter().enumerate() {
        t += 1;
        let mut ev = json!({"timestamp": t, "session": "probe", "kind": k, "host": "h1"});
        if j + 1 == kinds.len() {
            ev["source_ip"] = json!("192.0.2.77");
        }
        v = e.score(&ev, None);
    }
    v
}

/// Expected: `x` right after `q a`, where `[q, a]` was followed by `b`
/// every one of its 60 times, is evidence (Good-Turing: p = 1/61 that
/// `[q, a]` continues with anything but `b`), and with a second finding on
/// the same event (a never-seen source address, p ≈ 0.03) the event is
/// reported (Fisher: p ≈ 0.004). README, Score: "findings with p <
/// `evidence_p` (default 0.2) are combined with Fisher's method";
/// `sequence`: "The back-off is Katz-style" — in Katz's back-off a context
/// that never saw an event passes it to the shorter one *weighted by the
/// mass the longer context left unseen* (here 1/61), so an event that
/// `[q, a]` never continued with stays improbable after `[q, a]` however
/// common it is after `a`. `control_a_thin_context_that_saw_only_b_is_evidence_once_it_concludes`:
/// with `[q, a]` seen 120 times the same event is reported. This test
/// passes on d323c40 (its back-off stopped at a context seen 5 times).
///
/// Found: `[q, a]`, below `conclusive` (100 at the default `report_p`),
/// passes `x` on, and `[a]`, which has seen `x` 2,000 times, judges it
/// normal (`pick = None`): the longer context's finding is dropped, not
/// weighted, and the verdict is none. Between 3 and 99 observations (with
/// `report_p` 1e-4, up to 9,999) a context's evidence counts only if every
/// shorter context agrees, so an unusual continuation of a specific
/// sequence is never evidence when the event is ordinary elsewhere.
///
/// Now: the contexts down to the one that judges keep what they found; the
/// strongest finding is kept.
#[test]
fn a_thin_context_that_always_continued_one_way_is_evidence() {
    let v = katz_case(60, &["q", "a", "x"]);
    assert!(
        seq_texts(&v).iter().any(|t| t.contains("x after [q | a]")),
        "x after [q | a] ([q, a] followed by b all 60 times) gave no evidence beside a new \
         address: {v:?}"
    );
}

/// The new address alone (after `q a b`, the usual continuation) is not
/// reported; with `[q, a]` seen 120 times (conclusive), `x` after it is.
#[test]
fn control_a_thin_context_that_saw_only_b_is_evidence_once_it_concludes() {
    let v = katz_case(60, &["q", "a", "b"]);
    assert_eq!(v.severity, Severity::None, "{v:?}");
    let v = katz_case(120, &["q", "a", "x"]);
    assert!(
        seq_texts(&v).iter().any(|t| t.contains("x after [q | a]")),
        "{v:?}"
    );
}

// ------------------------------------------------------ not fixed (README)
//
// Two findings of this review were limits the README stated, not fixed
// (the first is fixed since December 2026: one detector's findings combine
// by Simes' method, `tests/combine.rs`
// `a_stationary_stream_is_calibrated_after_halvings`):
// on a stream that never changes, halving the counts (rounding down, one
// day here) makes an event seen about once a half-life "new" again at each
// halving, and its rare template and unlikely next event are combined as
// independent findings: 2.8% of events reported where the README promises
// about 1% (0.9% with no halving; about 1.5% already with the defaults, as
// the two findings of one event are not independent)
// (`a_stationary_stream_is_calibrated_after_halvings`); and the Drain
// similarity is taken over the words a template has left, so once a file
// watch's template has generalised most of its words (two commands, two
// results), a record of another rule merges into it
// (`a_record_of_another_audit_rule_is_new_after_the_watch_saw_two_commands`).

/// `p` with `half_life_secs` set.
fn with_half_life(mut p: Value, half_life: i64) -> Value {
    p["half_life_secs"] = json!(half_life);
    p
}

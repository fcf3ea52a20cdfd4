//! `extract` patterns through the public API: which pattern wins, on which
//! field, and the captures it sets, against a plain reference matcher.

use logseal_anomaly::{Engine, Policy};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A policy whose extraction patterns are `pats` (field, pattern, set) and
/// whose one rule fires on every event with a `hit` field, naming the
/// captured fields `a`, `b` and `c` in its reason.
fn policy(pats: &[(&str, &str)]) -> Policy {
    let extract: Vec<Value> = pats
        .iter()
        .enumerate()
        .map(
            |(i, (from, pat))| json!({"from": from, "pattern": pat, "set": {"hit": i.to_string()}}),
        )
        .collect();
    Policy::parse(
        &json!({
            "version": 1,
            "extract": extract,
            "learning": {"period_secs": 0},
            "alerting": {"dedup_secs": 0},
            "detectors": [{"type": "threshold", "name": "seen", "where": [{"field": "hit", "exists": true}],
                           "group_by": "hit", "window_secs": 60, "threshold": 0,
                           "describe": "{hit}|{a}|{b}|{c}"}]
        })
        .to_string(),
    )
    .unwrap()
}

/// The winning pattern's number and its captures, as the reason shows them.
fn extract(p: &Policy, ev: &Value) -> Option<String> {
    let v = Engine::new(p.clone()).score(ev, None);
    v.reasons.first().map(|r| r.text.clone())
}

#[test]
fn patterns_on_different_fields_do_not_share_what_is_absent() {
    // Both patterns start with the word "Failed"; it is absent from `a_text`
    // and present in `b_text`: the second pattern must still be tried.
    let p = policy(&[
        ("a_text", "Failed {a} here"),
        ("b_text", "Failed {b} there"),
    ]);
    let ev = json!({"a_text": "nothing", "b_text": "Failed 42 there"});
    assert_eq!(extract(&p, &ev).as_deref(), Some("1|-|42|-"));
    let ev = json!({"a_text": "Failed 7 here", "b_text": "Failed 42 there"});
    assert_eq!(extract(&p, &ev).as_deref(), Some("0|7|-|-"));
}

#[test]
fn patterns_sharing_a_first_word_are_tried_in_order() {
    let p = policy(&[
        ("m", "Failed none for {a} from {b} port"),
        ("m", "Failed {a} for {b} from {c} port"),
        ("m", "{a} logged in"),
    ]);
    let ev = json!({"m": "Failed none for root from 203.0.113.9 port 22"});
    assert_eq!(extract(&p, &ev).as_deref(), Some("0|root|203.0.113.9|-"));
    let ev = json!({"m": "Failed password for root from 203.0.113.9 port 22"});
    assert_eq!(
        extract(&p, &ev).as_deref(),
        Some("1|password|root|203.0.113.9")
    );
    // no first word to look for: the pattern starts with a capture
    let ev = json!({"m": "bob logged in"});
    assert_eq!(extract(&p, &ev).as_deref(), Some("2|bob|-|-"));
    let ev = json!({"m": "Accepted password for root"});
    assert_eq!(extract(&p, &ev), None);
}

/// The reference: the first literal at the start of the text, then for
/// each capture the longest value first (a `word` capture: the longest
/// non-empty one without whitespace); the last capture (when it ends the
/// pattern) is one non-empty word. Like the engine, it counts one step for
/// every search for a capture's closing literal (the one that finds no more
/// too) and gives up after 256.
fn reference(segs: &[Seg], text: &str) -> Option<Vec<String>> {
    fn starts(text: &str, l: &str) -> Vec<usize> {
        (0..=text.len())
            .filter(|&j| text.is_char_boundary(j) && text[j..].starts_with(l))
            .collect()
    }
    fn rest(segs: &[Seg], text: &str, pos: usize, steps: &mut u32) -> Option<Vec<String>> {
        match segs {
            [] => Some(vec![]),
            [Seg::Rest] => Some(vec![text[pos..].to_string()]),
            [Seg::Cap(_)] => {
                let t = &text[pos..];
                let j = t.find(char::is_whitespace).unwrap_or(t.len());
                (j > 0).then(|| vec![t[..j].to_string()])
            }
            [Seg::Cap(word), Seg::Lit(l), more @ ..] => {
                let t = &text[pos..];
                let mut ends = starts(t, l)
                    .into_iter()
                    .rev()
                    .filter(|&j| !*word || (j > 0 && !t[..j].contains(char::is_whitespace)));
                loop {
                    if *steps == 0 {
                        return None;
                    }
                    *steps -= 1;
                    let j = ends.next()?;
                    if let Some(mut v) = rest(more, text, pos + j + l.len(), steps) {
                        v.insert(0, t[..j].to_string());
                        return Some(v);
                    }
                }
            }
            _ => unreachable!("captures are separated by literals"),
        }
    }
    let mut steps = 256;
    match segs {
        [Seg::Lit(l), more @ ..] => {
            if text.starts_with(l.as_str()) {
                rest(more, text, l.len(), &mut steps)
            } else {
                None
            }
        }
        _ => rest(segs, text, 0, &mut steps),
    }
}

#[derive(Clone, Debug)]
enum Seg {
    Lit(String),
    /// A capture; `true`: a `{name:word}` one.
    Cap(bool),
    /// A `{name:rest}` capture (it ends the pattern).
    Rest,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// Short texts over a small alphabet, so literals occur often and in
    /// many places; captures named a, b, c in order.
    #[test]
    fn matches_the_reference(
        lits in proptest::collection::vec("[xy ]{1,3}", 1..4),
        lead in any::<bool>(),
        tail in any::<bool>(),
        prefixed in any::<bool>(),
        words in proptest::array::uniform3(any::<bool>()),
        rest_tail in any::<bool>(),
        text in "[xy z]{0,24}",
    ) {
        // a pattern that starts with literal text matches only a text that
        // starts with it: give half the texts that start
        let text = if lead && prefixed { format!("{}{text}", lits[0]) } else { text };
        let mut segs = Vec::new();
        let mut pat = String::new();
        let names = ["a", "b", "c"];
        let mut caps = 0;
        for (i, l) in lits.iter().enumerate() {
            if i > 0 || !lead {
                segs.push(Seg::Cap(words[caps]));
                let ty = if words[caps] { ":word" } else { "" };
                pat.push_str(&format!("{{{}{ty}}}", names[caps]));
                caps += 1;
            }
            segs.push(Seg::Lit(l.clone()));
            pat.push_str(l);
        }
        if (tail || caps == 0) && caps < 3 {
            segs.push(if rest_tail { Seg::Rest } else { Seg::Cap(words[caps]) });
            let ty = match (rest_tail, words[caps]) {
                (true, _) => ":rest",
                (false, true) => ":word",
                (false, false) => "",
            };
            pat.push_str(&format!("{{{}{ty}}}", names[caps]));
        }
        let p = policy(&[("m", pat.as_str())]);
        let got = extract(&p, &json!({"m": text}));
        let want = reference(&segs, &text).map(|v| {
            let mut f = vec!["-".to_string(); 3];
            for (i, x) in v.into_iter().enumerate() {
                // a reason quotes a value that is empty or has spaces at its ends
                f[i] = if x.is_empty() || x.starts_with(' ') || x.ends_with(' ') {
                    format!("\"{x}\"")
                } else {
                    x
                };
            }
            format!("0|{}|{}|{}", f[0], f[1], f[2])
        });
        prop_assert_eq!(got, want, "pattern {:?} text {:?}", pat, text);
    }
}

#[test]
fn a_bad_pattern_is_refused_with_its_place_and_reason() {
    let cases = [
        ("no captures here", "needs at least one {name} capture"),
        ("{a}{b} x", "two captures must be separated by literal text"),
        ("x {a", "unbalanced { }: a capture is not closed"),
        // the counts agree, the order does not (found by review)
        (
            "x }a{ y",
            "unbalanced { }: each {name} closes before the next",
        ),
        ("x {} y", "capture `{}` needs a name"),
        ("x {:word} y", "capture `{:word}` needs a name"),
        (
            "x {a:int} y",
            "capture `{a:int}`: unknown type `int` (the types are `word` and `rest`)",
        ),
        (
            "x {a:rest} y",
            "capture `{a:rest}` takes the rest of the text: it must end the pattern",
        ),
        (
            // the same capture text again at the end (found by review)
            "Failed {_:rest} for {user} port {_:rest}",
            "capture `{_:rest}` takes the rest of the text: it must end the pattern",
        ),
    ];
    for (pat, why) in cases {
        let text =
            json!({"version": 1, "extract": [{"pattern": "ok {a}"}, {"pattern": pat}]}).to_string();
        let e = Policy::parse(&text).unwrap_err();
        assert_eq!(e.key, "extract[1].pattern", "{pat}");
        assert_eq!(e.message, why, "{pat}");
    }
    // the types, through the engine: a word, then the literal
    let p = policy(&[("m", "from {a:word} port {b}")]);
    let ev = json!({"m": "from 10.0.0.1 port 22:11: see port 9"});
    assert_eq!(extract(&p, &ev).as_deref(), Some("0|10.0.0.1|22:11:|-"));
    let p = policy(&[("m", "from {a} port {b}")]);
    assert_eq!(
        extract(&p, &ev).as_deref(),
        Some("0|10.0.0.1 port 22:11: see|9|-")
    );
    // the rest of the text, spaces and all, or nothing
    let p = policy(&[("m", "from {a:word} port {_:word} {b:rest}")]);
    assert_eq!(extract(&p, &ev).as_deref(), Some("0|10.0.0.1|see port 9|-"));
    let ev = json!({"m": "from 10.0.0.1 port 22:11: "});
    assert_eq!(extract(&p, &ev).as_deref(), Some("0|10.0.0.1|\"\"|-"));
}

//! Review 17: ee5d7c1 (a never-seen template and its next-event finding
//! are one value, the smaller p, in Simes' method) and 2f8fa6c (review
//! 16's fixes: `Win::add_at` / `total_to` / `clear_to` for `threshold` and
//! `followed_by` by event time, refused records, `composition`'s unkept
//! sessions and halving).

mod review;
#[allow(unused_imports)]
use review::*;

use serde_json::json;

// ------------------------------------------- threshold and followed_by

/// With `live`, one failed login of alice on host `b` at `now`; then host
/// `a`'s log, shipped 12 minutes late: 20 failures of alice 3 s apart and
/// a success a second after the last. The texts of both rules.
fn late_brute_force(live: bool) -> (Vec<String>, Vec<String>) {
    let mut e = engine(&brute_force_rules());
    let now = T0 + DAY;
    let late = 720;
    if live {
        e.score(
            &json!({"timestamp": now, "user": "alice", "outcome": "failure", "host": "b"}),
            None,
        );
    }
    let (mut fails, mut bf) = (Vec::new(), Vec::new());
    for i in 0..21 {
        let outcome = if i < 20 { "failure" } else { "success" };
        let v = e.score(
            &json!({"timestamp": now - late + i * 3, "user": "alice", "outcome": outcome,
                    "host": "a"}),
            None,
        );
        fails.extend(texts_of(&v, "fails"));
        bf.extend(texts_of(&v, "bf"));
    }
    (fails, bf)
}

/// Found: one live record of a group blinds `threshold` and `followed_by`
/// to everything of that group more than a window behind it, so a log
/// source that ships late (the README's `rate` row calls a 12-minute-late
/// source a case it must count, "10 minutes lost a 12-minute-late source's
/// burst") loses a whole brute force. `Win::add_at` takes a record whose
/// sub-bucket is 8 or more behind the window's head (the group's latest
/// matching record) for "older than the window" and counts it in no
/// window; `threshold` then judges each such record alone (n = 1) and
/// `followed_by` drops its `first`s and answers `total_to` = `None` for its
/// `then`. Alice mistypes her password once on host b at `now`; host a's
/// log, 12 minutes late, then delivers 20 failures in 57 s and a success:
/// no finding at all from either rule (0 texts). Without the one live
/// failure the same records give 15 "alice: 6 (..20) fails events in 10m"
/// and "alice: 20 `first` events, then a `then` event, within 10m"; before
/// 2f8fa6c (every record in the head's sub-bucket) both fired with it too.
/// Any late shipping of at least a window (here 600 s or more) beside one
/// live matching record of the same user does the same.
/// Fix: count a record behind the window with its own neighbours, as
/// `rate` counts a late or replayed record apart, in its own bucket: e.g.
/// a second `Win` per key for records behind the live window (or a late
/// slack, as `rate`'s 30 minutes), which `threshold` counts and judges and
/// `followed_by`'s `then` reads when its sub-bucket is there.
/// Now: a record older than the live window counts in a second window per
/// key, behind it, with the records of its own time (snapshot format 7).
#[test]
fn a_late_sources_brute_force_is_invisible_beside_one_live_failure() {
    // control: the late source alone is counted by its own time
    let (fails, bf) = late_brute_force(false);
    assert!(!fails.is_empty() && !bf.is_empty(), "{fails:?} {bf:?}");
    let (fails, bf) = late_brute_force(true);
    assert!(
        !fails.is_empty(),
        "20 failures in 57 s shipped 12 minutes late, beside one live failure: \
         no threshold finding (without the live failure: {:?})",
        late_brute_force(false).0.first()
    );
    assert!(
        !bf.is_empty(),
        "20 failures then a success, shipped 12 minutes late, beside one live \
         failure: no followed_by finding (without it: {:?})",
        late_brute_force(false).1
    );
}

// ------------------------------------------------------------ sequence

/// Found: the nested pair's smaller p is calibrated only while the counts
/// never halve, and every measurement of ee5d7c1 (`tests/combine.rs`
/// `new_templates_at_a_steady_share_are_calibrated`, the README's "1.00%,
/// 0.61% and 0.77%") ran with `half_life_secs` 10⁹. The nesting argument
/// needs `p_template` to be a p-value of "a template never seen"; after a
/// halving (rounding down) every template seen once is gone from
/// `(templates + 1) / (lines + 2)`, so for a while after each halving it
/// is far below the steady chance of a new template, and since ee5d7c1 it
/// decides alone (before, Simes' `min(2 p_template, p_next)` halved its
/// weight). The same stream as that test, an event every 2 minutes,
/// 1.5% never-seen templates (1,800 in 120,000: the table of 2,048 does
/// not fill), counts halving at the default 14 days: 1.571% of events
/// 20,000 to 120,000 reported (Simes' value of the pair: 0.402%), 1,298
/// of the 1,571 reports never-seen templates, e.g. "event template never
/// seen before: new22331" at p 0.006 (its next event 0.031), an event
/// whose steady chance is 1.5%. The same stream with counts that never
/// halve: 0.486%. Measured beside it (150,000 events, `max_templates`
/// 12,000 so the table never fills): 7 days and 1 a minute, 1.5% new:
/// 1.61% (0.42% before); 14 days, 1 a minute, 1%: 1.54% (1.14%); 30 days,
/// 1 in 192 s, 1.5%: 1.72% (0.65%).
/// Fix: nest the pair only while `p_template` is a p-value of its event:
/// keep in the novelty estimate the templates a halving dropped (as
/// `composition` keeps its unkept sessions: e.g. `(templates + faded + 1)
/// / (lines + 2)`, `faded` halving with the counts), or take Simes' value
/// of the pair once the counts have halved; and measure with halvings.
/// Now: the estimate's numerator is the learned events whose template had
/// no count (new or forgotten), halved with the counts: 0.366% (Simes'
/// value of the pair would report 0.274%).
#[test]
fn nested_new_templates_are_not_calibrated_when_counts_halve() {
    let (share, before, texts) = new_templates_halving(0.015, 120, 120_000, 14 * DAY);
    eprintln!("{:.3}% ({:.3}% Simes)", 100.0 * share, 100.0 * before);
    assert!(
        share <= 0.0125,
        "1.5% never-seen templates, counts halving every 14 days: {:.3}% of events \
         reported ({:.3}% with Simes' value of the pair); {texts}",
        100.0 * share,
        100.0 * before
    );
}

// Design limits and checked-and-fine (no test kept):
//
// sequence (ee5d7c1)
// - The nesting argument itself holds in the code's conditions: a
//   never-seen (or faded: its context counts halve with it) template is
//   unlisted after every context, so `cn == 0` or the full-list bound
//   (`bounded`: the event "at most the list's smallest or unlisted")
//   contains it; `END` gets no template finding, so its nested next-event
//   finding is alone; dedup or `suppress` dropping one of the pair leaves
//   the other as one value; a frozen model's `<unknown>` has a constant
//   `p_template` from its learning period. What breaks it is the validity
//   of `p_template` (finding above, and the next item).
// - Template table full: every line of a kind outside it is `<unknown>`,
//   with `c0 == 0` and `p_template = (templates + 1) / (lines + 2)`, where
//   neither count includes the `<unknown>` lines (nor do the contexts'
//   totals for the next-event p), as `composition`'s full list before
//   review 16. A stationary stream of 45 kinds with `max_templates` 16:
//   3.79% of events reported, the same before ee5d7c1 (the p is ~0.001);
//   with 4% never-seen kinds filling the default 2,048, never halving:
//   2.13% (1.23% before); 2% new at the default half-life, 250,000
//   events: 2.61% (1.84%). The README says `<unknown>` lines are
//   "reported, deduplicated as one unknown template per entity", so kept
//   as a limit; their next-event findings are keyed by context and are
//   not deduplicated as one.
// - With counts halving daily (192 s apart), the stationary stream reports
//   0.33% (0.008% before): a faded rare template is now reported on its
//   next-event finding alone; under 1%.
//
// threshold / followed_by (2f8fa6c)
// - A late `then` is judged by the sub-buckets from the head's window
//   start to its own: the `first`s before it that the head has since
//   pushed out are lost (a success 7 sub-buckets behind the head sees only
//   its own sub-bucket), as the doc comment of `total_to` says.
// - `then` and `first` in the head's sub-bucket pair whatever their order
//   within it (75 s for a 10-minute window).
// - `clear_to(b)` at or past the head resets the window to `head = 0`: a
//   record older than the window that arrives next is taken as in it, and
//   counts until the live stream moves the head past it; no wrong finding
//   found.
// - Checked fine: sub-bucket wrap (`b % 8` with absolute indices), head
//   near 0 (`saturating_sub`), `clear_to` then `add_at` (a `then` that is
//   also a `first`), u16 sub-buckets saturating with weights (u32 sums), a
//   clock going back by less than a window (own sub-bucket), `Win`'s
//   snapshot layout (unchanged, so v1 snapshots restore with the same
//   meaning; `tests/data/snapshot-v1` only changed `observed`/`expected`).
// - Refused records: `threshold` judges them alone, `followed_by` and
//   `impossible_travel` ignore them, a `then` included (documented).
//
// composition (2f8fa6c)
// - Checked fine: `halve` keeps `ended = Σ kept + unkept / 2`, so unkept
//   sessions stay accounted after halvings; 512 to 4,096 equally likely
//   combinations with `max_compositions` 256/1,024 halving daily: 0% of
//   sessions reported; counts are u32 (2^32 sessions of one combination to
//   saturate); a frozen model does not halve; v1 snapshots carry `known`
//   and `ended`, from which `unkept` follows.
// - Once the list is full and the sessions outside it are common (512
//   combinations, 256 kept), the estimate is ~0.5, so a session with a
//   step never seen is not reported either; the README still says "once
//   `max_compositions` are learned, further new combinations are reported
//   but not learned", which now holds only while the unkept share is
//   under `report_p`.

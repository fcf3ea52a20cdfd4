//! Review 22: the engine's memory accounting (`Engine::memory_bytes()`)
//! against the allocator's truth. A counting global allocator tracks the
//! bytes this thread holds while a [`Meter`] runs; each check builds and
//! feeds an engine inside the meter, drops every input record and verdict,
//! and compares what the engine still holds (live bytes after minus live
//! bytes before) with the budget and with `memory_bytes()`, allowing a
//! slack of max(64 KiB, 2% of the budget).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use logseal_anomaly::{Engine, Policy};
use serde_json::{Value, json};

/// Counts the bytes allocated and freed by a thread whose flag is set.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
}

fn on() -> bool {
    ON.try_with(Cell::get).unwrap_or(false)
}

fn add(d: isize) {
    let now = LIVE.fetch_add(d, Relaxed) + d;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters move.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() && on() {
            add(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        if on() {
            add(-(l.size() as isize));
        }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() && on() {
            // (the peak as if the block moved: both held for a moment)
            add(new as isize);
            add(-(l.size() as isize));
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

/// One meter at a time (the counters are global; other test threads do not
/// set their flag, so they are not counted).
static ONE: Mutex<()> = Mutex::new(());

/// Counts this thread's allocations from its start until dropped.
struct Meter {
    base: isize,
    _one: std::sync::MutexGuard<'static, ()>,
}

impl Meter {
    fn start() -> Meter {
        let one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        ON.with(|f| f.set(true));
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        Meter { base, _one: one }
    }
    /// Bytes allocated since the start and still live.
    fn held(&self) -> usize {
        (LIVE.load(Relaxed) - self.base).max(0) as usize
    }
    /// The most bytes live at once since the last reset.
    fn peak(&self) -> usize {
        (PEAK.load(Relaxed) - self.base).max(0) as usize
    }
    fn reset_peak(&self) {
        PEAK.store(LIVE.load(Relaxed), Relaxed);
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        ON.with(|f| f.set(false));
    }
}

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;

fn slack(budget: usize) -> usize {
    (64 * KIB).max(budget / 50)
}

/// Asserts the engine's real heap (`held`) is within its budget and within
/// its own accounting, both up to the slack and `allow` (an excess already
/// reported elsewhere, so that it is not counted twice).
#[track_caller]
fn within_but(what: &str, held: usize, e: &Engine, allow: usize) {
    let (budget, acct) = (e.memory_budget(), e.memory_bytes());
    println!("{what}: real {held} B, memory_bytes() {acct} B, budget {budget} B");
    let s = slack(budget) + allow;
    assert!(
        held <= budget + s,
        "{what}: real heap {held} B > budget {budget} B + slack {s} (memory_bytes() {acct})"
    );
    assert!(
        held <= acct + s,
        "{what}: real heap {held} B > memory_bytes() {acct} B + slack {s} (budget {budget})"
    );
}

#[track_caller]
fn within(what: &str, held: usize, e: &Engine) {
    within_but(what, held, e, 0);
}

/// An engine for `policy` with `budget` bytes (and `max_templates` capped
/// at `max_t`, so that small budgets fit a `sequence` detector).
fn engine_with(mut policy: Value, budget: usize, max_t: usize) -> Engine {
    policy["memory_budget_bytes"] = json!(budget);
    for d in policy["detectors"].as_array_mut().unwrap() {
        if d["type"] == "sequence" {
            d["max_templates"] = json!(max_t);
        }
    }
    Engine::new(Policy::parse(&policy.to_string()).expect("policy"))
}

fn preset(name: &str) -> Value {
    serde_json::from_str(logseal_anomaly::policy::preset_text(name).unwrap()).unwrap()
}

/// Every detector type at once, on flat fields, learning 50 events.
fn every_detector() -> Value {
    let failure = json!([{"field": "outcome", "eq": "failure"}]);
    json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 50, "min_entity_events": 2},
        "alerting": {"dedup_secs": 600},
        "detectors": [
            {"type": "threshold", "name": "th", "where": failure, "group_by": "user",
             "window_secs": 600, "threshold": 3},
            {"type": "threshold", "name": "single", "where": [{"field": "action", "exists": true}],
             "group_by": "source_ip", "window_secs": 60, "threshold": 0},
            {"type": "distinct", "name": "di", "where": failure, "group_by": "source_ip",
             "distinct": "user", "window_secs": 600, "threshold": 5},
            {"type": "followed_by", "name": "fb", "first": failure,
             "then": [{"field": "outcome", "eq": "success"}], "group_by": "user",
             "min_first": 2, "window_secs": 600},
            {"type": "rate", "name": "rate", "bucket_secs": 60, "group_by": "user",
             "error_where": failure},
            {"type": "rate", "name": "rate_v", "bucket_secs": 60, "group_by": "host",
             "value_field": "latency"},
            {"type": "gauge", "name": "gauge", "group_by": "host", "value_field": "latency"},
            {"type": "new_value", "name": "nv", "entity": "user",
             "features": ["source_ip", "source_net", "user_agent", "action"]},
            {"type": "new_value", "name": "nv_ip", "entity": "source_ip",
             "features": ["user_agent"]},
            {"type": "unusual_hour", "name": "hour", "entity": "user"},
            {"type": "impossible_travel", "name": "travel", "entity": "user"},
            {"type": "peer_rare", "name": "peer", "entity": "user", "group": "dept",
             "feature": "action"},
            {"type": "sequence", "name": "seq_msg", "session": "session"},
            {"type": "sequence", "name": "seq_kind", "session": "session", "template": "action"},
            {"type": "composition", "name": "comp", "session": "session", "template": "action",
             "end_where": [{"field": "outcome", "eq": "end"}]}
        ]
    })
}

/// A value of `len` bytes unique to `i` (and to `tag`).
fn long(tag: &str, i: u64, len: usize) -> String {
    let mut s = format!("{tag}{i}-");
    while s.len() < len {
        s.push_str("abcdefghijklmnopqrstuvwxyz0123456789");
    }
    s.truncate(len);
    s
}

/// Record `i` of a stream where every field takes a new value of `len`
/// bytes.
fn distinct_record(i: u64, len: usize) -> Value {
    let outcome = ["failure", "success", "end"][(i % 3) as usize];
    json!({
        "timestamp": T0 + i as i64,
        "user": long("user", i, len),
        "source_ip": long("10.1.", i, len),
        "user_agent": long("ua", i, len),
        "action": long("act", i, len),
        "host": long("host", i % 4096, len),
        "dept": long("dept", i, len),
        "session": long("sess", i, len),
        "outcome": outcome,
        "latency": (i % 977) as f64 * 1.5,
        "lat": (i % 80) as f64, "lon": ((i * 37) % 170) as f64,
        "message": wide_line(i, if len > 64 { len } else { 0 }),
    })
}

/// Sets `path` (dotted) in `v` to `x`, making objects on the way.
fn put(v: &mut Value, path: &str, x: Value) {
    let mut cur = v;
    for seg in path.split('.') {
        cur = &mut cur[seg];
    }
    *cur = x;
}

/// Record `i` of a stream for preset `name` in which the identities, addresses,
/// agents, actions, groups and sessions are new values of `len` bytes.
fn preset_record(name: &str, i: u64, len: usize) -> Value {
    let t = T0 + i as i64;
    let iso = json!(logseal_anomaly::testkit::iso(t));
    let fail = i % 3 != 1;
    let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    let l = |tag: &str| json!(long(tag, i, len));
    let (lat, lon) = (
        json!((i % 170) as f64 - 85.0),
        json!((i % 350) as f64 - 175.0),
    );
    let act = json!(long("act", i % 5000, len));
    let u = long("u", i, len);
    let of = |xs: &[&str]| json!(xs[i as usize % xs.len()]);
    let st = |xs: &[u16]| json!(xs[i as usize % xs.len()]);
    let outcome = json!(if fail { "failure" } else { "success" });
    let console = json!(if fail { "Failure" } else { "Success" });
    let msg = json!(format!("{} did it from {ip}", long("m", i, len)));
    let fields: Vec<(&str, Value)> = match name {
        "ecs" | "default" => vec![
            ("@timestamp", iso),
            ("user.name", json!(u)),
            ("user.roles", l("role")),
            ("source.ip", json!(ip)),
            ("event.action", act),
            ("event.outcome", outcome),
            ("user_agent.original", l("agent")),
            ("source.geo.country_iso_code", l("c")),
            ("source.geo.location.lat", lat),
            ("source.geo.location.lon", lon),
            ("session.id", l("s")),
            ("message", msg),
        ],
        "ocsf" => vec![
            ("time", json!(t * 1000)),
            ("class_uid", json!(3002)),
            ("actor.user.name", json!(u)),
            ("actor.user.groups", json!([{"name": long("g", i, len)}])),
            ("actor.session.uid", l("s")),
            ("user.name", l("target")),
            ("src_endpoint.ip", json!(ip)),
            ("src_endpoint.location.country", l("c")),
            ("src_endpoint.location.lat", lat),
            ("src_endpoint.location.long", lon),
            ("api.operation", act),
            ("status_id", json!(if fail { 2 } else { 1 })),
            ("http_request.user_agent", l("agent")),
        ],
        "k8s-audit" => vec![
            ("stage", json!("ResponseComplete")),
            ("requestReceivedTimestamp", iso),
            ("user.username", json!(u)),
            ("user.groups", json!([long("g", i, len)])),
            ("sourceIPs", json!([ip])),
            ("verb", of(&["get", "list", "create"])),
            ("objectRef.resource", act),
            ("objectRef.namespace", l("ns")),
            ("responseStatus.code", st(&[403, 401, 200])),
            ("userAgent", l("agent")),
        ],
        "cloudtrail" => vec![
            ("eventTime", iso),
            ("userIdentity.arn", json!(u)),
            ("userIdentity.type", of(&["Root", "IAMUser"])),
            ("userIdentity.sessionContext.sessionIssuer.arn", l("role")),
            ("sourceIPAddress", json!(ip)),
            (
                "eventName",
                if i.is_multiple_of(2) {
                    json!("ConsoleLogin")
                } else {
                    act
                },
            ),
            ("eventSource", l("svc")),
            ("responseElements.ConsoleLogin", console),
            ("errorCode", json!(if fail { "AccessDenied" } else { "" })),
            ("userAgent", l("agent")),
            ("awsRegion", l("region")),
            ("recipientAccountId", l("acct")),
        ],
        "envoy" => vec![
            ("start_time", iso),
            (
                "downstream_remote_address",
                json!(format!("{ip}:{}", 1024 + i % 60000)),
            ),
            ("user", json!(u)),
            ("method", act),
            ("path", l("/p")),
            ("response_code", st(&[404, 401, 200, 503])),
            ("user_agent", l("agent")),
            ("authority", l("h")),
            ("upstream_cluster", l("up")),
        ],
        "sshd" => {
            let line = match i % 4 {
                0 => format!("Failed password for {u} from {ip} port 22 ssh2"),
                1 => format!("Accepted password for {u} from {ip} port 22 ssh2"),
                2 => format!("Invalid user {u} from {ip} port 4242"),
                _ => format!(
                    "{} {} opened for {u}",
                    long("kind", i, 40),
                    long("w", i, len)
                ),
            };
            vec![
                ("timestamp", iso),
                ("host", l("h")),
                ("pid", l("p")),
                ("message", json!(line)),
            ]
        }
        _ => unreachable!(),
    };
    let mut r = json!({});
    for (path, x) in fields {
        put(&mut r, path, x);
    }
    r
}

const PRESETS: [&str; 7] = [
    "default",
    "ecs",
    "ocsf",
    "k8s-audit",
    "cloudtrail",
    "envoy",
    "sshd",
];

/// Feeds `n` then `4n` records from `rec` to an engine for `policy`: the
/// state it holds is what memory_bytes() says, and stops growing once
/// memory_bytes() does. (A fresh engine's own excess over its accounting is
/// `fresh_engines`' finding and allowed here.)
fn plateau(what: &str, policy: &Value, budget: usize, n: u64, rec: impl Fn(u64) -> Value) {
    let m = Meter::start();
    let mut e = engine_with(policy.clone(), budget, 64);
    let allow = m.held().saturating_sub(e.memory_bytes());
    let mut at_n = (0, 0);
    for i in 0..4 * n {
        let r = rec(i);
        drop((e.score(&r, None), r));
        if i + 1 == n {
            at_n = (m.held(), e.memory_bytes());
            within_but(&format!("{what}, {n} records"), at_n.0, &e, allow);
        }
    }
    let held = m.held();
    within_but(&format!("{what}, {} records", 4 * n), held, &e, allow);
    if e.memory_bytes() == at_n.1 {
        assert!(
            held <= at_n.0 + slack(budget),
            "{what}: real heap grew from {} to {held} B from {n} to {} records",
            at_n.0,
            4 * n
        );
    }
}

/// Holds: with every detector type (two rates, a gauge, two `new_value`
/// entities, peers, travel, a single-event rule filling deduplication, two
/// `sequence` detectors and a `composition`), new values in every field,
/// 64 B, 100 KB or 1 MB long: real heap = memory_bytes() (+ <= 51 KB, the
/// clipped keys' spare capacity) <= budget, flat from N to 4N records.
#[test]
fn every_detector_with_long_values() {
    for (len, n) in [(64, 30_000), (100_000, 500), (1_000_000, 40)] {
        let what = format!("every detector, values of {len} B");
        plateau(&what, &every_detector(), 2 * MIB, n, |i| {
            distinct_record(i, len)
        });
    }
}

/// Holds: each preset fed distinct identities, addresses, agents and
/// actions (40 B; 100 KB and 1 MB long for a few hundred records): its state
/// is what memory_bytes() says and plateaus from 40,000 to 160,000 records.
#[test]
fn presets_plateau() {
    for name in PRESETS {
        let budget = MIB + MIB / 2;
        plateau(name, &preset(name), budget, 40_000, |i| {
            preset_record(name, i, 40)
        });
        for (len, n) in [(100_000, 100), (1_000_000, 10)] {
            let what = format!("{name}, values of {len} B");
            plateau(&what, &preset(name), budget, n, |i| {
                preset_record(name, i, len)
            });
        }
    }
}

/// Found: a fresh engine of the `sshd` preset (2 MiB budget, 64 templates)
/// holds 449,359 B of heap where memory_bytes() says 323,668 B: 125,691 B
/// are not counted, against a flat 4 KiB allowance (the parsed policy with
/// its 72 extraction patterns is ~59 KB; the engine's compiled
/// patterns, conditions and names the rest). Other presets are 12-40 KB
/// over (cloudtrail 40,482 B, default 21,885 B). An allowlist of 20,000
/// addresses adds 1,417,911 B that memory_bytes() does not show (1,733,300 B
/// real for 297,208 B counted; 315,389 B without it): the values are kept
/// twice, ~709 KB in the parsed policy and ~709 KB in the engine's copy
/// (printed, not asserted: policy rather than learned state).
/// Fix: measure the policy's and the compiled engine's own heap once in
/// `Engine::new` (capacities of its strings and vectors) and count it in
/// memory_bytes() and in `min_budget` in place of the flat 4 KiB.
/// Now: `crate::heap` walks the policy and its compiled form once (from a
/// clone, so at their lengths) and `memory_bytes()` counts it; the tables
/// split the budget less it when they would not leave room; the least
/// budget includes it, so the allowlist of 20,000 addresses is refused at
/// 2 MiB with a message that says what the policy holds, and at 4 MiB is
/// within its accounting (asserted).
#[test]
fn fresh_engines() {
    let mut worst = (0, "");
    for name in PRESETS {
        let m = Meter::start();
        let e = engine_with(preset(name), 2 * MIB, 64);
        let (held, acct) = (m.held(), e.memory_bytes());
        println!("{name}: a fresh engine holds {held} B, memory_bytes() {acct} B");
        worst = worst.max((held.saturating_sub(acct), name));
    }
    let m = Meter::start();
    let e = {
        let mut p = every_detector();
        let ips: Vec<String> = (0..20_000)
            .map(|i| format!("192.0.{}.{}", i / 256, i % 256))
            .collect();
        p["allowlist"] = json!([{"field": "source_ip", "values": ips}]);
        p["memory_budget_bytes"] = json!(2 * MIB);
        let err = Policy::parse(&p.to_string()).expect_err("2 MiB for the allowlist");
        assert_eq!(err.key, "memory_budget_bytes", "{err}");
        assert!(err.message.contains("what the policy"), "{err}");
        engine_with(p, 4 * MIB, 64)
    };
    let held = m.held();
    println!("with an allowlist of 20,000 addresses (4 MiB budget):");
    within("allowlist of 20,000", held, &e);
    assert!(
        worst.0 <= slack(2 * MIB),
        "{}: {} B not in memory_bytes()",
        worst.1,
        worst.0
    );
}

/// A line of 64 distinct 48-byte words (no digits), its first two words
/// taken from `i` so that every line is a template of its own prefix.
fn wide_line(i: u64, extra: usize) -> String {
    let letter = |k: u64| char::from(b'a' + (k % 26) as u8);
    let mut w: Vec<String> = (0..64)
        .map(|j| {
            let mut t: String = (0..6).map(|b| letter((i >> (5 * b)) + j * 7 + b)).collect();
            while t.len() < 48 {
                t.push(letter(j + t.len() as u64));
            }
            t
        })
        .collect();
    if extra > 0 {
        w.push("z".repeat(extra));
    }
    w.join(" ")
}

/// Found: the `sshd` preset (64 templates) at a 512 KiB budget (it takes
/// 338,656 B at least), its templates filled with 64-word lines and its
/// tables with 40,000 records of distinct users and addresses, holds
/// 612,868 B of heap: 88,580 B over its budget of 524,288 B, and 126,075 B
/// over its memory_bytes() of 486,793 B (the policy and compiled patterns
/// of `fresh_engines`, which the budget does not bound).
/// Fix: as for `fresh_engines`; the tables' shares are then what the budget
/// leaves after the policy's own heap, and `min_budget` includes it.
/// Now: the tables split the budget less what the policy holds (see
/// `fresh_engines`): within it.
#[test]
fn sshd_at_a_small_budget() {
    let m = Meter::start();
    let mut e = engine_with(preset("sshd"), 512 * KIB, 64);
    for i in 0..40_000 {
        let r = if i < 2_000 && i % 2 == 0 {
            json!({"timestamp": T0 + i as i64, "host": "h", "pid": 1, "message": wide_line(i, 0)})
        } else {
            preset_record("sshd", i, 40)
        };
        drop((e.score(&r, None), r));
    }
    within("sshd at 512 KiB, full", m.held(), &e);
}

/// Holds: two `sequence` detectors (mined, 64 distinct 48-byte words a
/// line, also 1 MB lines; a `template` field of 1,000 B values, clipped)
/// and a `composition` detector, every template slot filled: real heap
/// within budget and memory_bytes() (+ ~53 KB: a clipped key `format!`s
/// into 256 B of capacity for its 131 B, counted as 131 + 48).
#[test]
fn templates_at_their_worst() {
    let p = json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 1_000_000, "min_entity_events": 1},
        "detectors": [
            {"type": "sequence", "name": "mined", "session": "session"},
            {"type": "sequence", "name": "keyed", "session": "session", "template": "kind"},
            {"type": "composition", "name": "comp", "session": "session", "template": "kind",
             "end_where": [{"field": "end", "eq": true}]}
        ]
    });
    for (n, extra) in [(4_000, 0), (300, MIB)] {
        let m = Meter::start();
        let mut e = engine_with(p.clone(), 3 * MIB, 256);
        for i in 0..n {
            let r = json!({"timestamp": T0 + i as i64, "session": long("s", i % 50, 300),
                           "kind": long("k", i, 1000), "end": i % 7 == 0,
                           "message": wide_line(i, extra)});
            drop((e.score(&r, None), r));
        }
        assert!(
            e.templates("mined").unwrap().len() > 240,
            "templates not filled"
        );
        within(
            &format!("templates, {n} lines of {} B", wide_line(0, extra).len()),
            m.held(),
            &e,
        );
    }
}
/// Found: the `sshd` preset keeps the last line's captured values. After
/// "Received disconnect from 203.0.113.9 port 52144:11: <10 MiB reason>"
/// (client text, `{disconnect_reason:rest}`), with the record and verdict
/// dropped, the engine holds 10,486,169 B more than before it (budget
/// 1.5 MiB; memory_bytes() unchanged at ~0.6 MB); after "Failed password
/// for <1 MB name> from ..." 1,000,052 B more. Both are freed by the next
/// line. The reused `ex_buf` (`Vec<(String, String)>`) goes back to the
/// engine with the event's captures in it and is cleared only when the next
/// event is extracted, so between events the engine holds its state plus
/// the last event's captures, which no budget bounds and memory_bytes()
/// does not count (one record's worth, not growing with the stream).
/// Fix: clear the captures before handing the buffer back (`Engine::reuse`
/// and the end of `score`), and drop the buffer when its capacity is over a
/// few KiB, as `Sequence::release_buf` does for the masked text.
/// Now: the buffers go back emptied (and dropped past 64 entries).
#[test]
fn a_huge_capture_is_kept() {
    let budget = MIB + MIB / 2;
    let lines = [
        |x: &str| format!("Received disconnect from 203.0.113.9 port 52144:11: {x}"),
        |x: &str| format!("Failed password for {x} from 203.0.113.9 port 22 ssh2"),
    ];
    let mut kept_all = Vec::new();
    for (line, size) in lines.iter().zip([10 * MIB, 1_000_000]) {
        let m = Meter::start();
        let mut e = engine_with(preset("sshd"), budget, 64);
        for i in 0..2_000 {
            let r = preset_record("sshd", i, 20);
            drop((e.score(&r, None), r));
        }
        let before = m.held();
        let r = json!({"timestamp": T0 + 3_000, "host": "h", "pid": 1,
                       "message": line(&"x".repeat(size))});
        drop((e.score(&r, None), r));
        let kept = m.held().saturating_sub(before);
        let r = preset_record("sshd", 2_003, 20);
        drop((e.score(&r, None), r));
        let next = m.held().saturating_sub(before);
        println!(
            "sshd: {before} B, {kept} B more after {}, {next} B after the next line",
            line("<x>")
        );
        kept_all.push((kept, line("<x>")));
    }
    for (kept, what) in kept_all {
        assert!(kept <= slack(budget), "{kept} B kept after {what}");
    }
}

/// Holds: one 13.3 MB record (a 10 MiB message, a 1 MiB role, 64 levels of
/// 100 dotted members) costs 4,624 B above itself while scored (its new
/// template), and nothing of it is kept but that template.
#[test]
fn one_huge_record() {
    let budget = 2 * MIB;
    let m = Meter::start();
    let mut e = engine_with(preset("default"), budget, 64);
    for i in 0..2_000 {
        let r = preset_record("default", i, 20);
        drop((e.score(&r, None), r));
    }
    let before = m.held();
    let mut deep = json!({"leaf": "x".repeat(MIB)});
    for d in 0..64 {
        let mut o = serde_json::Map::new();
        for k in 0..100 {
            o.insert(format!("k{d}.{k}"), json!(long("v", k, 100)));
        }
        o.insert("user.name".into(), json!({"not": "a string"}));
        o.insert("next".into(), deep);
        deep = Value::Object(o);
    }
    let mut r = preset_record("default", 5_000, 20);
    put(&mut r, "message", json!(wide_line(1, 10 * MIB)));
    put(&mut r, "user.deep", deep);
    put(&mut r, "user.roles", json!(["y".repeat(MIB)]));
    let size = r.to_string().len();
    let with_record = m.held();
    m.reset_peak();
    let v = e.score(&r, None);
    let peak = m.peak() - with_record;
    drop((v, r));
    let after = m.held();
    println!("a {size} B record: peak {peak} B above it, state {before} -> {after} B");
    within("default, after a 13 MB record", after, &e);
    assert!(after <= before + slack(budget), "{} B kept", after - before);
    assert!(peak <= size, "peak {peak} B for a record of {size} B");
}

/// Holds: a restored engine holds what the original did (1,651,165 B for
/// 1,651,597 B; 2 MiB budget). Peaks above the engine, bounded by the
/// budget, not by entities: snapshot() at most 3,145,728 B (its buffer
/// doubles, 1 MiB to 2 MiB, counted as if the realloc moved it; the
/// 1,474,670 B snapshot comes back in a `Vec` of 2 MiB capacity), restore()
/// 2,148,874 B above the snapshot (a whole engine is built beside the old).
#[test]
fn snapshot_and_restore() {
    let budget = 2 * MIB;
    let m = Meter::start();
    let mut e = engine_with(every_detector(), budget, 64);
    for i in 0..30_000 {
        let r = distinct_record(i, 64);
        drop((e.score(&r, None), r));
    }
    let orig = m.held();
    within("every detector before snapshot", orig, &e);
    m.reset_peak();
    let snap = e.snapshot();
    let snap_peak = m.peak() - orig;
    drop(e);
    let base = m.held();
    let mut e2 = engine_with(every_detector(), budget, 64);
    m.reset_peak();
    e2.restore(&snap).expect("restore");
    let restore_peak = m.peak() - base;
    let restored = m.held() - base;
    println!(
        "snapshot {} B ({} B capacity): peak during snapshot() {snap_peak} B, \
         during restore() {restore_peak} B",
        snap.len(),
        snap.capacity()
    );
    within("every detector, restored", restored, &e2);
    assert!(
        restored <= orig + slack(budget),
        "restored {restored} B > original {orig} B"
    );
    assert!(snap_peak <= 3 * budget && restore_peak <= 3 * budget);
}

/// Holds: feedback (`mark_normal`) on 20,000 distinct 64-word lines of a
/// frozen `sequence` detector: 919,066 B real, 920,320 B counted.
#[test]
fn feedback_on_many_lines() {
    let m = Meter::start();
    let p = json!({
        "version": 1,
        "learning": {"period_secs": 0, "period_events": 100, "min_entity_events": 1},
        "detectors": [{"type": "sequence", "name": "seq", "session": "session",
                       "online": false}]
    });
    let mut e = engine_with(p, 2 * MIB, 128);
    for i in 0..40_000 {
        let r = json!({"timestamp": T0 + i as i64, "session": long("s", i, 200),
                       "message": wide_line(i, 0)});
        drop(e.score(&r, None));
        if i >= 20_000 {
            e.mark_normal(&r);
        }
    }
    within("frozen sequence after 20,000 marked lines", m.held(), &e);
}

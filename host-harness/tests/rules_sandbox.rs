//! The rule sandbox, tested with a deliberately hostile rule component
//! (`plugins/rules/hostile`) through the real component model: every
//! misbehaviour becomes an error finding naming the rule, the event still
//! gets the other rules' verdicts, the rule is re-instantiated and, after
//! repeated failures, disabled. Also the host-implemented rule state.
//!
//! The components come from `$LOGSEAL_WASM_DIR` (default
//! `<workspace>/target/wasm/`); build them with `cargo xtask build-wasm`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use logseal_host_harness::rules::{Finding, RuleConfig, RuleHost};

const HOSTILE: &str = "logseal.Hostile";
const BRANCH: &str = "GitHub.Branch.ProtectionDisabled";

fn wasm(file: &str) -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    let path = dir.join(file);
    assert!(
        path.is_file(),
        "rule component {} is missing: run `cargo xtask build-wasm` (or point LOGSEAL_WASM_DIR at a directory holding it)",
        path.display()
    );
    path
}

fn quiet(mut c: RuleConfig) -> RuleConfig {
    c.log_to_stderr = false;
    c
}

/// A host with the hostile rule and a well-behaved one.
fn host(config: RuleConfig) -> RuleHost {
    let mut h = RuleHost::new(quiet(config)).unwrap();
    h.load(&wasm("logseal_rule_hostile.wasm")).unwrap();
    h.load(&wasm("logseal_rule_github_branch_protection_disabled.wasm"))
        .unwrap();
    h
}

/// An event that both rules look at.
fn event(attack: &str) -> String {
    format!(
        r#"{{"attack":"{attack}","action":"protected_branch.destroy","repo":"o/r","actor":"cat"}}"#
    )
}

fn by<'a>(f: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    f.iter().filter(|x| x.rule == rule).collect()
}

/// The event failed the hostile rule, still got the good rule's verdict, and
/// the failure is explained with `needle`.
fn assert_failed(f: &[Finding], needle: &str) {
    let bad = by(f, HOSTILE);
    assert_eq!(bad.len(), 1, "{f:#?}");
    assert!(bad[0].error, "{f:#?}");
    assert_eq!(bad[0].severity, "medium");
    assert!(
        bad[0].reason.contains(needle),
        "reason {:?} lacks {needle:?}",
        bad[0].reason
    );
    assert!(bad[0].reason.contains(HOSTILE));
    let good = by(f, BRANCH);
    assert_eq!(
        good.len(),
        1,
        "the well-behaved rule lost its verdict: {f:#?}"
    );
    assert!(!good[0].error);
}

/// After a failure the rule is re-instantiated and works again.
fn assert_recovers(h: &mut RuleHost) {
    let f = h.evaluate(&event("ok"), 0);
    let ok = by(&f, HOSTILE);
    assert_eq!(ok.len(), 1, "{f:#?}");
    assert!(!ok[0].error);
    assert_eq!(ok[0].reason, "well-formed");
}

#[test]
fn the_host_can_move_to_a_pipeline_thread() {
    fn is_send<T: Send + 'static>(_: &T) {}
    let h = host(RuleConfig::default());
    is_send(&h);
    let f = std::thread::spawn(move || {
        let mut h = h;
        h.evaluate(&event("ok"), 0)
    })
    .join()
    .unwrap();
    assert_eq!(by(&f, HOSTILE).len(), 1);
    assert_eq!(by(&f, BRANCH).len(), 1);
}

#[test]
fn describe_is_reported() {
    let h = host(RuleConfig::default());
    let rules = h.rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].name, HOSTILE);
    assert_eq!(rules[0].version, "0.1.0");
    assert_eq!(rules[0].fields, ["attack", "n", "k"]);
    assert!(rules.iter().all(|r| r.enabled && r.failures == 0));
    assert_eq!(h.find(BRANCH), Some(rules[1].id));
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    // A generous deadline so that fuel, not the clock, stops the loop even
    // on a loaded machine.
    let mut h = host(RuleConfig {
        deadline_ms: 10_000,
        ..RuleConfig::default()
    });
    let t = Instant::now();
    let f = h.evaluate(&event("loop"), 0);
    assert_failed(&f, "ran out of fuel");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_recovers(&mut h);
    assert_eq!(h.rules()[0].failures, 1);
    assert!(h.rules()[0].last_error.as_deref().unwrap().contains("fuel"));
}

#[test]
fn infinite_loop_without_fuel_hits_the_deadline() {
    let mut h = host(RuleConfig {
        fuel_per_event: None,
        deadline_ms: 50,
        ..RuleConfig::default()
    });
    let t = Instant::now();
    let f = h.evaluate(&event("loop"), 0);
    let took = t.elapsed();
    assert_failed(&f, "deadline of 50 ms");
    assert!(
        took >= Duration::from_millis(45) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_recovers(&mut h);
}

#[test]
fn slow_rule_hits_the_deadline_even_with_fuel_left() {
    let mut h = host(RuleConfig {
        fuel_per_event: Some(u64::MAX / 2),
        deadline_ms: 30,
        ..RuleConfig::default()
    });
    let f = h.evaluate(&event("slow"), 0);
    assert_failed(&f, "deadline of 30 ms");
    assert_recovers(&mut h);
}

#[test]
fn sleeping_in_a_host_call_cannot_stall_the_pipeline() {
    // `std::thread::sleep` blocks inside WASI's poll, out of reach of fuel
    // and the epoch deadline; the host denies timer subscriptions instead.
    let mut h = host(RuleConfig {
        deadline_ms: 50,
        ..RuleConfig::default()
    });
    let t = Instant::now();
    let f = h.evaluate(
        r#"{"attack":"sleep","n":5000,"action":"protected_branch.destroy","repo":"o/r"}"#,
        0,
    );
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stalled for {:?}",
        t.elapsed()
    );
    assert_failed(&f, "may not sleep");
    assert_recovers(&mut h);
}

#[test]
fn trap_is_contained() {
    let mut h = host(RuleConfig::default());
    let f = h.evaluate(&event("trap"), 0);
    assert_failed(&f, "trapped");
    assert_recovers(&mut h);
}

#[test]
fn memory_exhaustion_is_contained() {
    let mut h = host(RuleConfig {
        memory_bytes: 8 << 20,
        ..RuleConfig::default()
    });
    let f = h.evaluate(&event("oom"), 0);
    assert_failed(&f, "memory cap of 8388608 bytes");
    assert_recovers(&mut h);
}

#[test]
fn garbage_answers_are_rejected() {
    let mut h = host(RuleConfig::default());
    assert_failed(
        &h.evaluate(&event("many-findings"), 0),
        "returned 10000 findings, more than the limit of 16",
    );
    assert_failed(
        &h.evaluate(&event("huge-reason"), 0),
        "reason of 102400 bytes",
    );
    assert_failed(&h.evaluate(&event("empty-reason"), 0), "empty reason");
    assert_recovers(&mut h);
    // At the limit is fine.
    let f = h.evaluate(r#"{"attack":"many-findings","n":16}"#, 0);
    assert_eq!(by(&f, HOSTILE).len(), 16);
    assert!(f.iter().all(|x| !x.error));
}

#[test]
fn invalid_severity_is_rejected_by_the_component_model() {
    // A hand-written component whose `evaluate` returns one finding with
    // severity discriminant 7 (the enum has 5 cases). The canonical ABI
    // refuses to lift it; the host turns that into an error finding.
    let mut h = RuleHost::new(quiet(RuleConfig::default())).unwrap();
    h.load_bytes(BAD_SEVERITY_WAT.as_bytes()).unwrap();
    assert_eq!(h.rules()[0].name, "bad.severity");
    let f = h.evaluate("{}", 0);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].error && f[0].rule == "bad.severity", "{f:#?}");
    assert!(f[0].reason.contains("discriminant"), "{}", f[0].reason);
}

#[test]
fn a_describe_that_never_returns_fails_the_load() {
    let looping = BAD_SEVERITY_WAT.replace(";; DESCRIBE-HOOK", "(loop $spin (br $spin))");
    let mut h = RuleHost::new(quiet(RuleConfig {
        fuel_per_event: Some(1_000_000),
        deadline_ms: 10_000,
        ..RuleConfig::default()
    }))
    .unwrap();
    let e = h.load_bytes(looping.as_bytes()).unwrap_err();
    assert!(
        format!("{e:#}").contains("describe failed: ran out of fuel"),
        "{e:#}"
    );
    let mut h = RuleHost::new(quiet(RuleConfig {
        fuel_per_event: None,
        deadline_ms: 20,
        ..RuleConfig::default()
    }))
    .unwrap();
    let e = h.load_bytes(looping.as_bytes()).unwrap_err();
    assert!(
        format!("{e:#}").contains("describe failed: exceeded its deadline of 20 ms"),
        "{e:#}"
    );
    assert!(h.rules().is_empty());
}

#[test]
fn a_rule_with_an_invalid_name_is_refused() {
    let bad = BAD_SEVERITY_WAT.replace("bad.severity0.1.0x", "bad severity0.1.0x");
    let mut h = RuleHost::new(quiet(RuleConfig::default())).unwrap();
    let e = h.load_bytes(bad.as_bytes()).unwrap_err();
    assert!(
        format!("{e:#}").contains("rule name \"bad severity\" is invalid"),
        "{e:#}"
    );
}

#[test]
fn repeated_failures_disable_the_rule() {
    let mut h = host(RuleConfig {
        max_failures: 3,
        ..RuleConfig::default()
    });
    for k in 1..=3 {
        let f = h.evaluate(&event("trap"), 0);
        assert_failed(&f, &format!("failure {k} of 3"));
    }
    let f = h.evaluate(&event("trap"), 0);
    assert!(
        by(&f, HOSTILE).is_empty(),
        "a disabled rule still ran: {f:#?}"
    );
    assert_eq!(by(&f, BRANCH).len(), 1);
    let st = &h.rules()[0];
    assert!(!st.enabled);
    assert_eq!(st.failures, 3);
    let log = h.drain_log();
    assert_eq!(log.len(), 3, "{log:#?}");
    assert!(log[0].contains("re-instantiating"));
    assert!(
        log[2].contains("\"logseal.Hostile\"") && log[2].contains("DISABLED after 3 failures"),
        "{}",
        log[2]
    );
    assert!(h.drain_log().is_empty());
    // An operator can turn it back on.
    h.enable(st.id).unwrap();
    assert_recovers(&mut h);
}

#[test]
fn many_events_under_attack_never_lose_a_verdict() {
    let mut h = host(RuleConfig {
        max_failures: 1000,
        ..RuleConfig::default()
    });
    let attacks = [
        "trap",
        "ok",
        "loop",
        "many-findings",
        "oom",
        "empty-reason",
        "ok",
    ];
    for k in 0..35 {
        let a = attacks[k % attacks.len()];
        let f = h.evaluate(&event(a), 0);
        assert_eq!(
            by(&f, BRANCH).len(),
            1,
            "event {k} ({a}) lost the good verdict"
        );
        assert_eq!(by(&f, HOSTILE).len(), 1, "event {k} ({a})");
        assert_eq!(by(&f, HOSTILE)[0].error, a != "ok", "event {k} ({a})");
    }
    assert_eq!(h.rules()[0].failures, 25);
    assert_eq!(h.rules()[0].evaluations, 35);
}

fn hostile_reason(h: &mut RuleHost, ev: &str, t: i64) -> String {
    let f = h.evaluate(ev, t);
    let mine = by(&f, HOSTILE);
    assert_eq!(mine.len(), 1, "{f:#?}");
    assert!(!mine[0].error, "{f:#?}");
    mine[0].reason.clone()
}

#[test]
fn state_survives_reinstantiation_and_failed_writes_roll_back() {
    let mut h = host(RuleConfig::default());
    assert_eq!(
        hostile_reason(&mut h, r#"{"attack":"count"}"#, 0),
        "count=1"
    );
    assert_eq!(
        hostile_reason(&mut h, r#"{"attack":"count"}"#, 0),
        "count=2"
    );
    // A trap kills the instance; the state lives on in the host.
    assert_failed(&h.evaluate(&event("trap"), 0), "trapped");
    assert_eq!(
        hostile_reason(&mut h, r#"{"attack":"count"}"#, 0),
        "count=3"
    );
    // The write made before a trap is rolled back.
    assert_failed(&h.evaluate(&event("count-then-trap"), 0), "trapped");
    assert_eq!(
        hostile_reason(&mut h, r#"{"attack":"count"}"#, 0),
        "count=4"
    );
    assert_eq!(h.rules()[0].failures, 2);
}

#[test]
fn state_sizes_are_capped() {
    let mut h = host(RuleConfig {
        kv_bytes: 64 << 10,
        ..RuleConfig::default()
    });
    let r = hostile_reason(&mut h, r#"{"attack":"kv-big-key"}"#, 0);
    assert_eq!(r, "Err(RuleStateError::KeyTooLarge(256))");
    let r = hostile_reason(&mut h, r#"{"attack":"kv-big-value"}"#, 0);
    assert_eq!(r, "Err(RuleStateError::ValueTooLarge(65536))");
    let r = hostile_reason(&mut h, r#"{"attack":"kv-flood"}"#, 0);
    // 64 KiB / (1024 + ~8 bytes of key) = 63 writes.
    assert_eq!(
        r,
        "flood stopped after 63 writes: RuleStateError::QuotaExceeded(65536)"
    );
    let st = &h.rules()[0];
    assert!(
        st.state_bytes <= 64 << 10 && st.state_bytes > 60 << 10,
        "{}",
        st.state_bytes
    );
    // The quota is per rule: the state is still readable and usage reported.
    let r = hostile_reason(&mut h, r#"{"attack":"kv-get","k":"flood:0"}"#, 0);
    assert!(r.starts_with("get=Some(1024) usage=("), "{r}");
}

#[test]
fn state_entries_expire_by_event_time() {
    let mut h = host(RuleConfig {
        kv_bytes: 4096,
        ..RuleConfig::default()
    });
    let r = hostile_reason(&mut h, r#"{"attack":"kv-ttl","n":100}"#, 1000);
    assert_eq!(r, "Ok(()) get=Some([118])");
    let get = r#"{"attack":"kv-get","k":"ttl"}"#;
    assert!(hostile_reason(&mut h, get, 1099).starts_with("get=Some(1)"));
    assert!(hostile_reason(&mut h, get, 1100).starts_with("get=None"));
    // Expired entries give their quota back when space runs out.
    let r = hostile_reason(&mut h, r#"{"attack":"kv-flood"}"#, 2000);
    assert!(r.starts_with("flood stopped after 3 writes"), "{r}");
}

#[test]
fn sdk_simd_substring_search_agrees_with_std_inside_wasm() {
    // The SDK's pre-filter uses a wasm simd128 scan; compare it, run inside
    // the component, with `str::contains` on pseudo-random cases over a
    // small alphabet (so matches, near misses and tails all occur).
    let mut h = host(RuleConfig::default());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let alphabet = ['a', 'b', 'c', '\\', 'u'];
    let mut checked = 0;
    for _ in 0..20 {
        let mut cases = Vec::new();
        let mut expect = String::new();
        for _ in 0..200 {
            let hay: String = (0..next(70)).map(|_| alphabet[next(5) as usize]).collect();
            let needle: String = (0..next(20)).map(|_| alphabet[next(3) as usize]).collect();
            expect.push(if hay.contains(needle.as_str()) {
                '1'
            } else {
                '0'
            });
            cases.push(serde_json::json!([hay, needle]));
        }
        let ev = serde_json::json!({"attack": "find", "cases": cases}).to_string();
        assert_eq!(hostile_reason(&mut h, &ev, 0), expect);
        checked += expect.len();
        assert!(expect.contains('1') && expect.contains('0'));
    }
    assert_eq!(checked, 4000);
}

#[test]
fn wasi_grants_nothing() {
    let mut h = host(RuleConfig::default());
    let r = hostile_reason(&mut h, r#"{"attack":"escape"}"#, 0);
    assert_eq!(r, "env=0 fs=false net=false stdout_ok=true");
}

#[test]
fn loading_rejects_bad_components() {
    let mut h = RuleHost::new(quiet(RuleConfig::default())).unwrap();
    let e = h.load_bytes(b"not wasm").unwrap_err();
    assert!(
        format!("{e:#}").contains("compiling the rule component"),
        "{e:#}"
    );
    let e = h
        .load(std::path::Path::new("/nonexistent/rule.wasm"))
        .unwrap_err();
    assert!(format!("{e:#}").contains("/nonexistent/rule.wasm"), "{e:#}");
    h.load(&wasm("logseal_rule_hostile.wasm")).unwrap();
    let e = h.load(&wasm("logseal_rule_hostile.wasm")).unwrap_err();
    assert!(format!("{e:#}").contains("already loaded"), "{e:#}");
    assert_eq!(h.rules().len(), 1);
}

/// A component exporting `logseal:plugin/detector@0.1.0` written by hand in
/// WAT: `describe` names it "bad.severity"; `evaluate` returns a list of one
/// finding whose severity discriminant is 7.
const BAD_SEVERITY_WAT: &str = r#"
(component
  (import "logseal:plugin/rule-types@0.1.0" (instance $types
    (type $sev (enum "info" "low" "medium" "high" "critical"))
    (export "severity" (type $sev-e (eq $sev)))
    (type $fin (record (field "severity" $sev-e) (field "reason" string) (field "entity" (option string))))
    (export "finding" (type $fin-e (eq $fin)))
    (type $inf (record (field "name" string) (field "version" string) (field "fields" (list string))))
    (export "rule-info" (type $inf-e (eq $inf)))
  ))
  (core module $m
    (memory (export "memory") 1)
    (data (i32.const 16) "bad.severity0.1.0x")
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $bump))
      (global.set $bump (i32.add (global.get $bump) (i32.add (local.get 3) (i32.const 8))))
      (local.get $p))
    ;; rule-info at 256: name (16, 12), version (28, 5), fields (0, 0)
    (func (export "describe") (result i32)
      ;; DESCRIBE-HOOK
      (i32.store (i32.const 256) (i32.const 16))
      (i32.store (i32.const 260) (i32.const 12))
      (i32.store (i32.const 264) (i32.const 28))
      (i32.store (i32.const 268) (i32.const 5))
      (i32.store (i32.const 272) (i32.const 0))
      (i32.store (i32.const 276) (i32.const 0))
      (i32.const 256))
    ;; list at 512 -> (ptr 600, len 1); finding at 600: severity 7,
    ;; reason (33, 1) = "x", entity none.
    (func (export "evaluate") (param i32 i32 i64) (result i32)
      (i32.store (i32.const 512) (i32.const 600))
      (i32.store (i32.const 516) (i32.const 1))
      (i32.store8 (i32.const 600) (i32.const 7))
      (i32.store (i32.const 604) (i32.const 33))
      (i32.store (i32.const 608) (i32.const 1))
      (i32.store8 (i32.const 612) (i32.const 0))
      (i32.const 512))
  )
  (core instance $i (instantiate $m))
  (alias export $types "finding" (type $finding-t))
  (alias export $types "rule-info" (type $info-t))
  (func $describe (result $info-t)
    (canon lift (core func $i "describe") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func $evaluate (param "event" string) (param "time-ns" s64) (result (list $finding-t))
    (canon lift (core func $i "evaluate") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (instance $detector
    (export "finding" (type $finding-t))
    (export "rule-info" (type $info-t))
    (export "describe" (func $describe))
    (export "evaluate" (func $evaluate))
  )
  (export "logseal:plugin/detector@0.1.0" (instance $detector))
)
"#;

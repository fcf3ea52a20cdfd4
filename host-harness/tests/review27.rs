//! Review 27: how the Fluent Bit module keeps its state (chain heads and the
//! anomaly engine's baselines) across restarts. Every test loads the real
//! `logseal_fluent_bit.wasm` and calls it as filter_wasm does.

use std::path::{Path, PathBuf};

use logseal_core::record::AddedFields;
use logseal_core::verify::verify_texts;
use logseal_core::{Report, SignerKey, VerifyOptions};
use logseal_host_harness::fluent_bit::{FluentBitFilter, Options, Outcome, json_lines};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn wasm(name: &str) -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/wasm"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask build-wasm` first",
        p.display()
    );
    p
}

fn key() -> SignerKey {
    SignerKey::from_seed("fb.logseal.test/audit", [3; 32]).unwrap()
}

/// A config directory and a state directory; `cfg` gets the key and the
/// state directory.
struct Env {
    cfg: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Env {
    fn new(cfg: Value) -> Env {
        let e = Env {
            cfg: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
        };
        e.write(cfg);
        e
    }

    fn write(&self, mut cfg: Value) {
        cfg["key"] = json!(key().to_private_string());
        cfg["state_dir"] = json!(self.state.path().to_str().unwrap());
        std::fs::write(self.cfg.path().join("logseal.json"), cfg.to_string()).unwrap();
    }

    /// A new filter instance (a Fluent Bit start, or before 4.1 a chunk).
    fn start(&self) -> FluentBitFilter {
        FluentBitFilter::load(
            &wasm("logseal_fluent_bit.wasm"),
            &Options {
                accessible_paths: vec![
                    self.cfg.path().to_path_buf(),
                    self.state.path().to_path_buf(),
                ],
                ..Options::default()
            },
        )
        .unwrap()
    }

    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.state.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn fixture(name: &str) -> Vec<String> {
    std::fs::read_to_string(root().join("tests/fixtures").join(name))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Event time of fixture record number `i` (its `@timestamp`).
fn time_of(rec: &str, i: usize) -> (u32, u32) {
    let v: Value = serde_json::from_str(rec).unwrap();
    let secs = v["@timestamp"]
        .as_str()
        .and_then(|s| logseal_anomaly::parse_time_secs(s, 2015))
        .unwrap_or(1_700_000_000.0 + i as f64);
    (secs as u32, (i as u32 % 1000) * 1_000_000 + 123)
}

/// Records `from..to` of `recs` through `f` (global numbering for times);
/// the `_anomaly` verdicts.
fn verdicts(f: &mut FluentBitFilter, recs: &[String], from: usize, to: usize) -> Vec<Value> {
    (from..to)
        .map(|i| {
            let (s, ns) = time_of(&recs[i], i);
            let out = f.call("t", s, ns, &recs[i]).unwrap().expect_kept();
            let v: Value = serde_json::from_str(&out).unwrap();
            v["_anomaly"].clone()
        })
        .collect()
}

fn verify(lines: &[String]) -> Report {
    let text = lines.join("\n");
    verify_texts(
        VerifyOptions {
            keys: vec![key().verifier()],
            added: AddedFields {
                time_field: Some("date".into()),
                tag_field: None,
            },
        },
        &[("out.log", text.as_bytes())],
    )
}

/// One record through `f` as `out_file` would write it.
fn line(f: &mut FluentBitFilter, tag: &str, i: u32) -> String {
    let rec = json!({"id": i, "message": format!("hello {i}")}).to_string();
    let (s, ns) = (1_700_000_000 + i, 123);
    let out = f.call(tag, s, ns, &rec).unwrap().expect_kept();
    json_lines("date", s, ns, &out).unwrap()
}

/// Found: the module saves a stream's anomaly engine only every
/// `ENGINE_SAVE_EVERY` = 10,000 records of that stream (filter.rs) and has
/// no other save point: Fluent Bit's filter_wasm has no exit hook, so on
/// every stop, restart, hot reload (SIGHUP re-creates the filter instance)
/// and, before Fluent Bit 4.1, every chunk (the README's Restarts section:
/// "the instance was re-created per chunk, so configure `state_dir`"), the
/// last up to 9,999 records of learning are thrown away. A stream that sees
/// fewer than 10,000 records between restarts (an sshd auth log, most
/// `stream_per_tag` tags) never gets a `.chain.engine` at all and relearns
/// from nothing after every restart, although the README lists
/// "anomaly baselines (`<stream>.chain.engine`)" among what `state_dir`
/// keeps and the issue asks for snapshots "so plugins keep baselines across
/// restarts". The 10,000 is not documented anywhere. Here: 1,500 sshd
/// records, a clean restart, then 300 more: there is no engine file, and the
/// restarted module scores the 300 as a brand-new engine would, not as the
/// module that kept running does.
/// Now: the engine is saved with a stream's first checkpoint and then with
/// a checkpoint `engine_save_secs` (default 30, 0: every checkpoint) or
/// more after its last save; README Restarts states the bound.
/// Fix: save the engine on a bound the operator controls and that a low
/// volume stream reaches: with each checkpoint (every `checkpoint_every`
/// records, or `checkpoint_interval_secs`), or after a number of seconds of
/// event time, and at least once early (for example at the first
/// checkpoint); document the bound ("a restart loses at most N records or
/// T seconds of learning") in the README's Restarts section.
#[test]
fn anomaly_baselines_survive_a_clean_restart_of_a_quiet_stream() {
    let recs = fixture("openssh_2k.ndjson");
    // `engine_save_secs: 0`: saved with every checkpoint, so a restart at
    // one loses nothing (the default, 30 s, is checked below).
    let cfg = json!({"epoch": "q1", "checkpoint_every": 100, "policy": "sshd",
                     "engine_save_secs": 0});
    // The reference: one module that keeps running.
    let kept = Env::new(cfg.clone());
    let mut f = kept.start();
    verdicts(&mut f, &recs, 0, 1500);
    let continuing = verdicts(&mut f, &recs, 1500, 1800);
    // The same records with a clean restart after 1,500.
    let restarted = Env::new(cfg);
    let mut g = restarted.start();
    verdicts(&mut g, &recs, 0, 1500);
    drop(g);
    let files = restarted.files();
    let mut g2 = restarted.start();
    let after = verdicts(&mut g2, &recs, 1500, 1800);
    let differ = continuing
        .iter()
        .zip(&after)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        files.iter().any(|f| f.ends_with(".chain.engine")) && differ == 0,
        "after 1,500 records and a clean restart the state dir holds {files:?} (no engine \
         state) and {differ} of 300 verdicts differ from the module that kept running; \
         first pair: {} / {}",
        continuing[0],
        after[0]
    );
    // With the defaults a quiet stream's state is saved at its first
    // checkpoint: 1,500 records and a restart leave an engine state.
    let quiet = Env::new(json!({"epoch": "q2", "checkpoint_every": 100, "policy": "sshd"}));
    let mut q = quiet.start();
    verdicts(&mut q, &recs, 0, 1500);
    drop(q);
    let files = quiet.files();
    assert!(
        files.iter().any(|f| f.ends_with(".chain.engine")),
        "{files:?}"
    );
}

/// Found: state file names are the stream name through `safe_file_name`,
/// which maps every character outside `[A-Za-z0-9._-]` to `_` and so maps
/// distinct streams onto one file: with `stream_per_tag`, tags `app/x` and
/// `app_x` (in_http takes its tag from the URL path; `:`, `/`, `@` are
/// common in tags) both use `<stream>_app_x.chain.json`, `.chain.engine`
/// and `.chain.feedback`. Both streams overwrite each other's chain head
/// after every record; at the restart whichever stream comes first finds
/// the other one's head, discards it without a log line
/// (`.filter(|s| s.stream == name)`), starts over and at once overwrites
/// the file with its own fresh head, so the second stream finds a foreign
/// head too: here *both* start over. With a fixed epoch they reseal
/// sequence numbers 0.. of an epoch they already used (the verifier reports
/// `SeqCollision`, "a forged insertion or a fork"); with a random epoch each
/// opens an epoch without `after`, so the end of its previous epoch is
/// unprovable.
/// That breaks the README's "`save_every: 1` (default): ... a restart
/// continues the same epoch at the next sequence number". The engine file
/// (which has no stream check at all) carries one tag's baselines into the
/// other tag's engine, and an operator's feedback for one tag is applied to
/// whichever stream looks first.
/// Now: file names percent-encode the bytes outside `[A-Za-z0-9._-]`
/// (`app%2Fx`, `app_x`), with a hash past 200 bytes; a state under the old
/// name is taken over when its head names the stream; an ignored head of
/// another stream is logged.
/// Fix: make the file name injective: escape instead of replace (for
/// example percent-encode bytes outside the safe set, including `%`), or
/// append a short hash of the exact stream name when the name had to be
/// changed; and log when a saved head is ignored because it belongs to
/// another stream.
#[test]
fn distinct_streams_keep_distinct_state_files() {
    let env = Env::new(json!({"epoch": "k1", "checkpoint_every": 1000,
        "stream": "fb.logseal.test/audit", "stream_per_tag": true}));
    let mut f = env.start();
    let mut lines = Vec::new();
    for i in 0..10 {
        lines.push(line(&mut f, if i % 2 == 0 { "app/x" } else { "app_x" }, i));
    }
    drop(f);
    let files = env.files();
    let mut f2 = env.start();
    for i in 10..20 {
        lines.push(line(&mut f2, if i % 2 == 0 { "app/x" } else { "app_x" }, i));
    }
    let log = f2.stderr();
    let r = verify(&lines);
    assert!(
        log.contains("stream fb.logseal.test/audit/app/x: continuing epoch k1 at seq 5")
            && log.contains("stream fb.logseal.test/audit/app_x: continuing epoch k1 at seq 5")
            && r.findings.is_empty(),
        "state files {files:?}; restart log:\n{log}\nverifier: {:?}",
        r.findings
            .iter()
            .map(|f| format!("{f:?}"))
            .take(3)
            .collect::<Vec<_>>()
    );
}

/// Found: a stream name longer than 256 bytes (a `stream` of 200 characters,
/// valid on its own, plus `/` and a tag; the module cuts tags at 128
/// characters but does not bound the sum) makes `Sealer::new` refuse it;
/// `open_stream` then "sanitises" it with `safe_file_name`, which keeps the
/// length, and calls `Sealer::new(..).unwrap_or_else(|_| unreachable!())`
/// on the comment "A sanitised name is always valid". It is not: the module
/// panics, wasm traps and Fluent Bit drops the record. Worse, the panic
/// happens inside `STATE.with(|s| s.borrow_mut())`, so the `RefCell` stays
/// borrowed: every later record, of every tag, panics on "already
/// borrowed" and is dropped too, for the rest of the run. That contradicts
/// the README's "Nothing is ever dropped" and the issue's "a plugin never
/// drops, never truncates and never crashes on a record".
/// Now: `Config::stream_for` cuts a name over 256 bytes and ends it with a
/// hash of the whole; a stream that still cannot be opened passes its
/// records unsealed and marked (no `unreachable!`).
/// Fix: bound the name (cut the tag so that base + `/` + tag fits 256
/// bytes, or replace an overlong name with a prefix plus a hash of it), and
/// never `unreachable!()` on that path: fall back to the base stream, with
/// the tag sealed in `_logseal.tag`, and log it.
#[test]
fn an_overlong_stream_name_never_kills_the_filter() {
    let base = format!("fb.logseal.test/{}", "s".repeat(184));
    assert_eq!(base.len(), 200);
    let env = Env::new(json!({"epoch": "o1", "stream": base, "stream_per_tag": true}));
    let mut f = env.start();
    let long = "kube.var.log.containers.api-7d9c8b5f6-x2x9z_default_api-0123456789abcdef";
    let rec = json!({"message": "hello"}).to_string();
    let first = f.call(long, 1_700_000_000, 0, &rec).unwrap();
    let next = f.call("short", 1_700_000_001, 0, &rec).unwrap();
    let again = f.call(long, 1_700_000_002, 0, &rec).unwrap();
    let dropped = [&first, &next, &again]
        .iter()
        .filter(|o| matches!(o, Outcome::Dropped(_)))
        .count();
    assert_eq!(
        dropped,
        0,
        "records dropped by Fluent Bit:\n{first:?}\n{next:?}\n{again:?}\nstderr: {}",
        f.stderr()
    );
}

/// Found: when a stream name is too long in bytes for `Sealer::new` (a tag
/// of non-ASCII characters: the module cuts tags at 128 *characters*, up to
/// 512 bytes), the module seals under `safe_file_name(name)` instead, and
/// saves that sanitised name in the chain head. At the next start it
/// compares the saved head's stream with the *unsanitised* name
/// (`.filter(|s| s.stream == name)`), throws the head away without a log
/// line and starts the stream over: with `save_every: 1` (the default) the
/// chain never continues across a restart, contrary to the README's
/// "a restart continues the same epoch at the next sequence number"; with a
/// fixed epoch it reseals sequence numbers it already used.
/// Now: the sealer's name is the stream name (bounded as above), so the
/// saved head matches it.
/// Fix: compare the saved head with the stream name the sealer actually
/// uses (`sealer.config().stream`, or sanitise before the lookup), and log
/// whenever a saved head is ignored.
#[test]
fn a_sanitised_stream_name_continues_its_chain_after_a_restart() {
    let env = Env::new(json!({"epoch": "n1", "stream": "fb.logseal.test/audit",
        "stream_per_tag": true}));
    // 120 characters, 240 bytes: the stream name is 262 bytes.
    let tag = "\u{00e9}".repeat(120);
    let mut f = env.start();
    let mut lines: Vec<String> = (0..5).map(|i| line(&mut f, &tag, i)).collect();
    let first_log = f.stderr();
    drop(f);
    let mut f2 = env.start();
    lines.extend((5..10).map(|i| line(&mut f2, &tag, i)));
    let log = f2.stderr();
    let r = verify(&lines);
    assert!(
        log.contains("continuing epoch n1 at seq 5") && r.findings.is_empty(),
        "first run:\n{first_log}\nrestart:\n{log}\nstate files: {:?}\nverifier: {:?}",
        env.files(),
        r.findings
            .iter()
            .map(|f| format!("{f:?}"))
            .take(3)
            .collect::<Vec<_>>()
    );
}

/// The state files of a stream whose name is not all `[A-Za-z0-9._-]`
/// were named before December 2026 by its safe characters alone
/// (`fb.logseal.test_audit.chain.json` for `fb.logseal.test/audit`); the
/// new names percent-encode the others (`fb.logseal.test%2Faudit`). An upgraded module takes such a state over when
/// the head names the stream: the chain continues in its epoch, the
/// baselines come back, and it saves under the new name from then on.
/// (Without this, an upgrade with a fixed epoch resealed sequence numbers
/// it had used.)
#[test]
fn a_state_saved_under_the_old_file_name_is_taken_over() {
    let env = Env::new(
        json!({"epoch": "m1", "checkpoint_every": 5, "policy": "sshd",
        "engine_save_secs": 0}),
    );
    let mut f = env.start();
    let mut lines: Vec<String> = (0..10).map(|i| line(&mut f, "t", i)).collect();
    drop(f);
    // as a module before December 2026 left them
    let dir = env.state.path();
    let mut moved = 0;
    for name in env.files() {
        if let Some((stem, ext)) = name.split_once(".chain.") {
            assert_eq!(stem, "fb.logseal.test%2Faudit", "{name}");
            std::fs::rename(
                dir.join(&name),
                dir.join(format!("fb.logseal.test_audit.chain.{ext}")),
            )
            .unwrap();
            moved += 1;
        }
    }
    assert_eq!(moved, 2, "{:?}", env.files());
    let mut f2 = env.start();
    lines.extend((10..15).map(|i| line(&mut f2, "t", i)));
    let log = f2.stderr();
    assert!(
        log.contains("(the file name before December 2026)")
            && log.contains("continuing epoch m1 at seq 10")
            && !log.contains("not restored"),
        "{log}"
    );
    assert!(verify(&lines).findings.is_empty());
    // saved under the new name from now on
    assert!(
        env.files()
            .iter()
            .any(|f| f == "fb.logseal.test%2Faudit.chain.json"),
        "{:?}",
        env.files()
    );
}

/// A saved engine state that cannot be read (here a directory where the
/// file should be) is reported and the stream learns afresh; a state that
/// cannot be written is reported at each try. Neither stops a record.
#[test]
fn an_engine_state_that_cannot_be_read_or_written_is_reported() {
    let env = Env::new(
        json!({"epoch": "u1", "checkpoint_every": 5, "policy": "sshd",
        "engine_save_secs": 0}),
    );
    let mut f = env.start();
    let mut lines: Vec<String> = (0..5).map(|i| line(&mut f, "t", i)).collect();
    drop(f);
    let engine = env
        .state
        .path()
        .join("fb.logseal.test%2Faudit.chain.engine");
    assert!(engine.is_file(), "{:?}", env.files());
    std::fs::remove_file(&engine).unwrap();
    std::fs::create_dir(&engine).unwrap();
    let mut f2 = env.start();
    lines.extend((5..10).map(|i| line(&mut f2, "t", i)));
    let log = f2.stderr();
    assert!(
        log.contains("anomaly state not restored") && log.contains("cannot save anomaly state"),
        "{log}"
    );
    assert_eq!(lines.len(), 10);
    assert!(verify(&lines).findings.is_empty());
}

/// Control: a policy changed between runs. The saved baselines are refused
/// with a line naming why (the anomaly README: the plugins "report once that
/// the saved anomaly state was not restored (the policy changed) and start
/// learning afresh; the chain itself continues"), the chain continues and
/// every record comes out scored by the new policy.
#[test]
fn control_policy_change_is_reported_and_the_chain_continues() {
    let recs = fixture("openssh_2k.ndjson");
    let env = Env::new(json!({"epoch": "p1", "checkpoint_every": 5000, "policy": "sshd"}));
    let mut f = env.start();
    for _ in 0..5 {
        verdicts(&mut f, &recs, 0, 2000);
    }
    drop(f);
    assert!(env.files().iter().any(|f| f.ends_with(".chain.engine")));
    env.write(json!({"epoch": "p1", "checkpoint_every": 5000, "policy": "ecs"}));
    let mut f2 = env.start();
    let v = verdicts(&mut f2, &recs, 0, 20);
    assert!(v.iter().all(|a| a.is_object()), "{v:?}");
    let log = f2.stderr();
    assert!(log.contains("anomaly state not restored"), "{log}");
    assert!(log.contains("continuing epoch p1 at seq 10000"), "{log}");
}

//! The filter's state and per-record logic (safe code; FFI is in `ffi.rs`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use logseal_core::json::{self, Value};
use logseal_core::seal::{ChainState, ERROR_MEMBER, new_epoch_id};
use logseal_core::{Input, SealConfig, Sealer, SignerKey};
use logseal_pipeline::{Config, FeedbackError, Processor};

/// The configuration file's name. Fluent Bit has no argv or env for wasm
/// filters: the module reads `logseal.json` from the first directory of
/// `accessible_paths` that has one, else from `/etc/logseal/`.
pub const CONFIG_NAME: &str = "logseal.json";

fn config_candidates() -> Vec<String> {
    #[cfg(target_arch = "wasm32")]
    let dirs = crate::ffi::preopens();
    #[cfg(not(target_arch = "wasm32"))]
    let dirs: Vec<String> = Vec::new();
    let mut c: Vec<String> = dirs
        .iter()
        .map(|d| format!("{}/{CONFIG_NAME}", d.trim_end_matches('/')))
        .collect();
    c.push(format!("/etc/logseal/{CONFIG_NAME}"));
    c
}

/// A saved engine state larger than this is not read (a wrong file put in
/// place would be read whole into the module's memory, which never
/// shrinks).
const MAX_ENGINE_BYTES: u64 = 1 << 30;

/// A feedback inbox larger than this is refused (moved aside, unread).
const MAX_FEEDBACK_BYTES: u64 = 64 << 20;

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Run `f` on the module state, creating it on first use.
pub fn with_state(f: impl FnOnce(&mut State) -> *const u8) -> *const u8 {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let st = s.get_or_insert_with(State::load);
        f(st)
    })
}

struct Stream {
    proc: Processor,
    since_save: u64,
    /// When (Unix seconds) the engine state was last saved by this run.
    engine_saved_at: Option<u64>,
    since_feedback_check: u64,
    state_path: Option<PathBuf>,
}

struct Setup {
    cfg: Config,
    key: SignerKey,
    streams: BTreeMap<String, Stream>,
}

/// The module's state: one per filter instance for the whole run.
pub struct State {
    out: Vec<u8>,
    setup: Result<Setup, String>,
    unsealed: u64,
}

fn log(msg: &str) {
    let _ = writeln!(std::io::stderr(), "[logseal] {msg}");
}

/// The name a stream's state files had before December 2026: every
/// character outside `[A-Za-z0-9._-]` as `_`. Not one to one (`app/x` and
/// `app_x` shared their files: found by review); read only to take over a
/// state saved under it (see [`state_stem`]).
fn legacy_file_name(stream: &str) -> String {
    stream
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A stream's state file name (before `.chain.json`): the name with every
/// byte outside `[A-Za-z0-9._-]` percent-encoded (`example.com/audit` is
/// `example.com%2Faudit`), one to one, so two streams never share files.
/// An encoding over 200 bytes is cut to 180 and ends with `~` and 16 hex
/// digits of a hash of the exact name, so every name fits a file system's
/// 255 bytes with its longest suffix (`.chain.feedback-applying`).
fn state_stem(stream: &str) -> String {
    let mut enc = String::with_capacity(stream.len());
    for b in stream.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            enc.push(char::from(b));
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    if enc.len() <= 200 {
        return enc;
    }
    let h = logseal_pipeline::name_hash(stream);
    let mut cut = 180;
    // not inside a `%XX`
    while enc.as_bytes()[cut - 1] == b'%' || enc.as_bytes()[cut - 2] == b'%' {
        cut -= 1;
    }
    format!("{}~{h:016x}", &enc[..cut])
}

fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    // std's RandomState is seeded from the host's random source (WASI random_get).
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x6c6f_6773_6561_6c00);
    h.finish() as u32
}

impl State {
    fn load() -> State {
        let setup = Self::setup();
        match &setup {
            Ok(s) => log(&format!(
                "sealing as {} (stream {}{}), checkpoint every {} records, policy {}",
                s.key.name(),
                s.cfg.stream.as_deref().unwrap_or(s.key.name()),
                if s.cfg.stream_per_tag { "/<tag>" } else { "" },
                s.cfg.checkpoint_every,
                s.cfg.policy_name.as_deref().unwrap_or("none (unscored)")
            )),
            Err(e) => log(&format!(
                "NOT SEALING: {e}. Records pass through marked with {ERROR_MEMBER}; none is dropped."
            )),
        }
        State {
            out: Vec::with_capacity(4096),
            setup,
            unsealed: 0,
        }
    }

    fn setup() -> Result<Setup, String> {
        let candidates = config_candidates();
        let (path, text) = candidates
            .iter()
            .find_map(|p| fs::read_to_string(p).ok().map(|t| (p.as_str(), t)))
            .ok_or_else(|| {
                format!(
                    "no configuration file found (looked for {}; put {CONFIG_NAME} in a directory listed in accessible_paths)",
                    candidates.join(", ")
                )
            })?;
        let cfg = Config::parse(&text).map_err(|e| format!("{path}: {e}"))?;
        let key_text = match (&cfg.key, &cfg.key_file) {
            (Some(k), _) => k.clone(),
            (None, Some(f)) => fs::read_to_string(f).map_err(|e| {
                format!(
                    "{path}: cannot read key_file {f}: {e} (is its directory in accessible_paths?)"
                )
            })?,
            (None, None) => return Err(format!("{path}: no key")),
        };
        let key = SignerKey::parse(&key_text).map_err(|e| format!("{path}: signing key: {e}"))?;
        if let Some(d) = &cfg.state_dir {
            fs::create_dir_all(d).map_err(|e| format!("{path}: state_dir {d}: {e}"))?;
        }
        Ok(Setup {
            cfg,
            key,
            streams: BTreeMap::new(),
        })
    }

    /// Seal one record; returns a pointer to the NUL-terminated result.
    pub fn filter(
        &mut self,
        tag: Option<&[u8]>,
        time_sec: u32,
        time_nsec: u32,
        rec: Option<&[u8]>,
        rec_len: usize,
    ) -> *const u8 {
        let tag = tag.map(String::from_utf8_lossy);
        let time_ns = i64::from(time_sec) * 1_000_000_000 + i64::from(time_nsec);
        let missing;
        let record: &[u8] = match rec {
            Some(r) => r,
            None => {
                missing = format!(
                    "{{{:?}:\"record of {rec_len} bytes did not reach the module (null pointer from the host): export malloc/free or raise wasm_heap_size\"}}",
                    ERROR_MEMBER
                );
                missing.as_bytes()
            }
        };
        self.out.clear();
        match &mut self.setup {
            Ok(setup) => match setup.seal(tag.as_deref(), time_ns, record) {
                Ok(sealed) => self.out.extend_from_slice(&sealed),
                Err(why) => mark_unsealed(record, &why, &mut self.out),
            },
            Err(why) => {
                self.unsealed += 1;
                if self.unsealed.is_multiple_of(100_000) {
                    log(&format!(
                        "{} records passed through unsealed: {why}",
                        self.unsealed
                    ));
                }
                mark_unsealed(record, why, &mut self.out);
            }
        }
        self.out.push(0);
        self.out.as_ptr()
    }
}

impl Setup {
    /// The stream of a tag, opened on its first record; `Err` (why) when it
    /// cannot be opened: the record then passes unsealed, marked.
    fn stream(&mut self, tag: Option<&str>) -> Result<&mut Stream, String> {
        let name = self.cfg.stream_for(self.key.name(), tag);
        if !self.streams.contains_key(&name) {
            let s = self.open_stream(&name)?;
            self.streams.insert(name.clone(), s);
        }
        self.streams
            .get_mut(&name)
            .ok_or_else(|| format!("stream {name} is not open"))
    }

    fn open_stream(&self, name: &str) -> Result<Stream, String> {
        let cfg = &self.cfg;
        let epoch = cfg.epoch.clone().unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            new_epoch_id(now, random_u32())
        });
        let mut sc = SealConfig::new(name, &epoch);
        sc.checkpoint_every = cfg.checkpoint_every;
        sc.checkpoint_interval_ns = cfg.checkpoint_interval_secs.saturating_mul(1_000_000_000);
        sc.max_record_bytes = cfg.max_record_bytes;
        let state_path = cfg
            .state_dir
            .as_ref()
            .map(|d| Path::new(d).join(format!("{}.chain.json", state_stem(name))));
        // A state saved under the name the files had before December 2026
        // (`legacy_file_name`), when this stream's own file is missing: read
        // from there (the head names its stream, so another stream's is not
        // taken), saved under the new name from now on.
        let legacy = state_path.as_ref().and_then(|p| {
            let old = p.with_file_name(format!("{}.chain.json", legacy_file_name(name)));
            (old != *p && !p.exists() && old.exists()).then_some(old)
        });
        let read_from = legacy.as_ref().or(state_path.as_ref());
        let saved = read_from
            .and_then(|p| fs::read_to_string(p).ok())
            .and_then(|t| match ChainState::from_json(&t) {
                Ok(s) => Some(s),
                Err(e) => {
                    log(&format!(
                        "stream {name}: ignoring unusable saved state: {e}"
                    ));
                    None
                }
            })
            .filter(|s| {
                // (ignored without a word before: found by review)
                let ours = s.stream == name;
                if !ours && legacy.is_none() {
                    log(&format!(
                        "stream {name}: ignoring the saved state of stream {} in {}",
                        s.stream,
                        read_from
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ));
                }
                ours
            });
        let engine_from = match (&legacy, &saved) {
            (Some(old), Some(_)) => {
                log(&format!(
                    "stream {name}: state read from {} (the file name before December 2026); \
                     saved as {} from now on",
                    old.display(),
                    state_path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ));
                Some(old.clone())
            }
            _ => state_path.clone(),
        };
        let fresh = || Sealer::new(self.key.clone(), sc.clone());
        let sealer = match saved {
            // The head was saved after every record: continue exactly.
            Some(st) if cfg.save_every == 1 => {
                log(&format!(
                    "stream {name}: continuing epoch {} at seq {}",
                    st.epoch,
                    st.next_seq()
                ));
                Sealer::resume(self.key.clone(), sc.clone(), st)
            }
            // Saved less often: records after the save may exist; open a new epoch after it.
            Some(st) => {
                log(&format!(
                    "stream {name}: new epoch {epoch} after epoch {} seq {} (saved state may be behind)",
                    st.epoch,
                    st.next_seq().saturating_sub(1)
                ));
                Sealer::new_epoch_after(self.key.clone(), sc.clone(), &st)
            }
            None => fresh(),
        };
        // `stream_for` keeps names valid (at most 256 bytes, no whitespace);
        // a stream that still cannot be sealed passes its records unsealed
        // and marked. (A "sanitised" fallback here panicked on a name over
        // 256 bytes, trapped every later record on a borrowed `RefCell` and
        // Fluent Bit dropped them: found by review.)
        let sealer = sealer.map_err(|e| {
            let why = format!("stream {name}: {e}");
            log(&why);
            why
        })?;
        let mut proc = Processor::new(sealer, cfg.policy.clone());
        if let Some(p) = &engine_from {
            let file = p.with_extension("engine");
            match fs::metadata(&file) {
                Ok(m) if m.len() > MAX_ENGINE_BYTES => log(&format!(
                    "stream {name}: anomaly state not restored: {} is {} bytes, more than {MAX_ENGINE_BYTES}",
                    file.display(),
                    m.len()
                )),
                Ok(_) => match fs::read(&file) {
                    Ok(bytes) => {
                        if let Err(e) = proc.restore_engine(&bytes) {
                            log(&format!("stream {name}: anomaly state not restored: {e}"));
                        }
                    }
                    Err(e) => log(&format!(
                        "stream {name}: anomaly state not restored: {}: {e}",
                        file.display()
                    )),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => log(&format!(
                    "stream {name}: anomaly state not restored: {}: {e}",
                    file.display()
                )),
            }
        }
        if let Some(p) = &state_path {
            let left = p.with_extension("feedback-applying");
            if left.exists() {
                log(&format!(
                    "stream {name}: {} is left from an interrupted run and was not applied again \
                     (it may or may not have been); move it to {} to apply it",
                    left.display(),
                    p.with_extension("feedback").display()
                ));
            }
        }
        Ok(Stream {
            proc,
            since_save: 0,
            engine_saved_at: None,
            // Look at the inbox with the first record.
            since_feedback_check: cfg.feedback_check_every,
            state_path,
        })
    }

    fn seal(&mut self, tag: Option<&str>, time_ns: i64, record: &[u8]) -> Result<Vec<u8>, String> {
        let (seal_time, seal_tag) = (self.cfg.seal_time, self.cfg.seal_tag);
        let (save_every, cps_file) = (self.cfg.save_every, self.cfg.checkpoints_file.clone());
        let check_every = self.cfg.feedback_check_every;
        let engine_secs = self.cfg.engine_save_secs;
        let s = self.stream(tag)?;
        if let Some(p) = &s.state_path {
            s.since_feedback_check += 1;
            if s.since_feedback_check >= check_every {
                s.since_feedback_check = 0;
                take_feedback(p, &mut s.proc);
            }
        }
        let out = s.proc.process(Input {
            record,
            tag: if seal_tag { tag } else { None },
            time_ns: seal_time.then_some(time_ns),
            ..Input::default()
        });
        if let (Some(cp), Some(f)) = (&out.checkpoint, &cps_file)
            && let Err(e) = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .and_then(|mut w| w.write_all(cp.as_bytes()))
        {
            log(&format!("cannot append checkpoint to {f}: {e}"));
        }
        s.since_save += 1;
        if let Some(p) = &s.state_path {
            if s.since_save >= save_every || out.checkpoint.is_some() {
                s.since_save = 0;
                let tmp = p.with_extension("tmp");
                if let Err(e) = fs::write(&tmp, s.proc.sealer().state().to_json())
                    .and_then(|()| fs::rename(&tmp, p))
                {
                    log(&format!("cannot save chain head to {}: {e}", p.display()));
                }
            }
            // The engine with the stream's first checkpoint, then with a
            // checkpoint `engine_save_secs` or more after its last save
            // (its state is some MB, mostly fixed-size sketches: not one
            // for every checkpoint). Filter_wasm has no exit hook, so this
            // is what a restart keeps: saved every 10,000 records only, a
            // stream quieter than that never kept its baselines (found by
            // review).
            // (the clock is read at checkpoints only: a host call)
            let now = || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            };
            if out.checkpoint.is_some()
                && s.proc.engine().is_some()
                && s.engine_saved_at
                    .is_none_or(|at| now() >= at.saturating_add(engine_secs))
            {
                // Written aside and renamed, as the chain head is: a crash
                // mid-write must not leave a torn state (it would be refused
                // at restart and the baselines lost).
                if save_engine(p, &s.proc).is_some() {
                    s.engine_saved_at = Some(now());
                }
            }
        }
        Ok(out.line)
    }
}

/// Save a stream's engine state beside its chain head (`state_path`),
/// written aside and renamed: a crash mid-write must not leave a torn
/// state (it would be refused at restart and the baselines lost).
/// Its size when saved.
fn save_engine(state_path: &Path, proc: &Processor) -> Option<u64> {
    let tmp = state_path.with_extension("engine-tmp");
    let bytes = proc.engine_snapshot();
    match fs::write(&tmp, &bytes)
        .and_then(|()| fs::rename(&tmp, state_path.with_extension("engine")))
    {
        Ok(()) => Some(bytes.len() as u64),
        Err(e) => {
            log(&format!("cannot save anomaly state: {e}"));
            None
        }
    }
}

/// Operator feedback while Fluent Bit runs: the stream's inbox
/// `<stream>.chain.feedback` (NDJSON events to mark normal, sealed records
/// included; put in place with a rename) is claimed by renaming it to
/// `.feedback-applying`, applied all or nothing, the engine state saved at
/// once, and the file removed. Refused feedback (a line that is not a JSON
/// object, a policy that learns nothing from feedback) marks nothing and is
/// moved to `.feedback-rejected` with the reason logged, so it is not
/// retried on every look.
fn take_feedback(state_path: &Path, proc: &mut Processor) {
    let inbox = state_path.with_extension("feedback");
    let claimed = state_path.with_extension("feedback-applying");
    match fs::rename(&inbox, &claimed) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            log(&format!("cannot claim {}: {e}", inbox.display()));
            return;
        }
    }
    let reject = |why: &str| {
        // The first free of `.feedback-rejected`, `.feedback-rejected.1`, …:
        // a later rejection replaced an earlier one, and the operator's
        // file was lost (found by review).
        let rejected = (0..1000)
            .map(|n| match n {
                0 => state_path.with_extension("feedback-rejected"),
                n => state_path.with_extension(format!("feedback-rejected.{n}")),
            })
            .find(|p| !p.exists());
        let Some(rejected) = rejected else {
            return log(&format!(
                "feedback {} not applied, nothing marked: {why}; left as {} (1,000 rejected files are waiting)",
                inbox.display(),
                claimed.display()
            ));
        };
        let moved = match fs::rename(&claimed, &rejected) {
            Ok(()) => format!("moved to {}", rejected.display()),
            Err(e) => format!("left as {} ({e})", claimed.display()),
        };
        log(&format!(
            "feedback {} not applied, nothing marked: {why}; {moved}",
            inbox.display()
        ));
    };
    let too_big = fs::metadata(&claimed).map(|m| m.len() > MAX_FEEDBACK_BYTES);
    if let Ok(true) = too_big {
        return reject(&format!("larger than {MAX_FEEDBACK_BYTES} bytes"));
    }
    let bytes = match fs::read(&claimed) {
        Ok(b) => b,
        Err(e) => return reject(&format!("unreadable: {e}")),
    };
    // Non-blank lines and their line numbers (1-based).
    let (lines, numbers): (Vec<&[u8]>, Vec<usize>) = bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .map(|(i, l)| (l, i + 1))
        .unzip();
    match proc.mark_normal(&lines) {
        Ok(n) => {
            // Removed once the marks are saved; when the save failed it
            // stays as `.feedback-applying`, which a restart names rather
            // than applies again (the inbox was removed whatever the save:
            // a restart lost the marks, found by review).
            let saved = save_engine(state_path, proc).is_some();
            if saved && let Err(e) = fs::remove_file(&claimed) {
                log(&format!("cannot remove {}: {e}", claimed.display()));
            }
            log(&format!(
                "{n} event{} marked normal from {}{}",
                if n == 1 { "" } else { "s" },
                inbox.display(),
                if saved {
                    String::new()
                } else {
                    format!(
                        " (engine state not saved: {} kept; after a restart, move it to {} to mark them again)",
                        claimed.display(),
                        inbox.display()
                    )
                }
            ));
        }
        Err(FeedbackError::Event { index, why }) => {
            let line = numbers.get(index).copied().unwrap_or(index + 1);
            reject(&format!("line {line}: {why}"));
        }
        Err(e) => reject(&e.to_string()),
    }
}

/// Pass a record through unsealed, marked with why (never dropped).
fn mark_unsealed(record: &[u8], why: &str, out: &mut Vec<u8>) {
    let reason = format!("not sealed: {why}");
    match json::parse(record) {
        Ok(Value::Obj(mut m)) if !m.iter().any(|(k, _)| k == ERROR_MEMBER) => {
            m.push((ERROR_MEMBER.into(), Value::Str(reason.into())));
            json::write_seal(&Value::Obj(m), out);
        }
        _ => {
            let raw = String::from_utf8_lossy(record);
            let v = Value::Obj(vec![
                ("_logseal_raw".into(), Value::Str(raw)),
                (ERROR_MEMBER.into(), Value::Str(reason.into())),
            ]);
            json::write_seal(&v, out);
        }
    }
}

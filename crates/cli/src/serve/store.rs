//! Durable state in `--state-dir`.
//!
//! * `head.json`: the chain head (`ChainState` JSON) after the last sealed
//!   batch, plus the digests of the last few batches and whether each reached
//!   the next hop. Written atomically (temporary file, rename) after every
//!   batch is sealed and before it is forwarded.
//! * `batches/<sha256>.ndjson`: the sealed output of those batches, written
//!   before `head.json` names them, so a retry that arrives after a restart
//!   is answered with the same sealed records (never sealed twice).
//! * `engine.bin`: the anomaly engine snapshot, written periodically and at
//!   shutdown (scores after a crash restart from the last snapshot; the
//!   chain itself never depends on it).
//!
//! A head is **exact** when it was written after the last batch sealed,
//! which holds unless the machine (not just the process) went down before
//! the page cache reached the disk. `head.json` records the kernel boot ID
//! and whether it was fsynced (`--fsync`): after a reboot an unsynced head
//! is treated as possibly behind, and the sealer opens a new epoch whose
//! first record names it (`after`, docs/FORMAT.md §7).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::backend::Resume;

/// A batch remembered on disk.
#[derive(Clone, Debug)]
pub struct BatchMeta {
    /// SHA-256 of the request (framing and body).
    pub digest: [u8; 32],
    /// Sequence number of its first record.
    pub first_seq: u64,
    /// Records in it.
    pub records: usize,
    /// It reached the next hop.
    pub delivered: bool,
}

/// What a start found.
#[derive(Default)]
pub struct Saved {
    /// Where the chain continues.
    pub resume: Resume,
    /// Recent batches with their sealed output, oldest first.
    pub batches: Vec<(BatchMeta, Vec<u8>)>,
    /// The previous run saved its head at a clean exit.
    pub clean: bool,
    /// Feedback bodies applied (key, events marked), oldest first.
    pub feedback: Vec<([u8; 32], u64)>,
}

/// The state directory (or nothing: state lives in memory only).
pub struct Store {
    dir: Option<PathBuf>,
    fsync: bool,
    boot_id: String,
}

/// Lowercase hex.
pub fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

impl Store {
    /// Open `dir` (created if needed) and read what a previous run left.
    pub fn open(dir: Option<&Path>, fsync: bool) -> Result<(Store, Saved)> {
        let store = Store {
            dir: dir.map(Path::to_path_buf),
            fsync,
            boot_id: boot_id(),
        };
        let Some(dir) = dir else {
            return Ok((store, Saved::default()));
        };
        fs::create_dir_all(dir.join("batches"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut saved = Saved::default();
        let engine_file = dir.join("engine.bin");
        if let Ok(e) = fs::read(&engine_file) {
            saved.resume.engine = Some(e);
            saved.resume.engine_file = Some(engine_file);
        }
        saved.feedback = load_feedback(&dir.join("feedback.json"));
        let head_path = dir.join("head.json");
        let text = match fs::read_to_string(&head_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((store, saved)),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", head_path.display()));
            }
        };
        let v: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not JSON (move it away to start a new chain)",
                head_path.display()
            )
        })?;
        let Some(chain) = v["chain"].as_str() else {
            bail!("{}: no chain head", head_path.display());
        };
        logseal_core::ChainState::from_json(chain)
            .with_context(|| format!("{}: chain head", head_path.display()))?;
        let synced = v["synced"].as_bool().unwrap_or(false);
        let same_boot =
            v["boot_id"].as_str() == Some(store.boot_id.as_str()) && !store.boot_id.is_empty();
        saved.resume.chain = Some(chain.to_string());
        saved.resume.exact = synced || same_boot;
        saved.clean = v["clean"].as_bool().unwrap_or(false);
        for b in v["batches"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let (Some(digest), Some(first_seq), Some(records)) = (
                b["digest"].as_str().and_then(unhex),
                b["first_seq"].as_u64(),
                b["records"].as_u64(),
            ) else {
                continue;
            };
            let meta = BatchMeta {
                digest,
                first_seq,
                records: records as usize,
                delivered: b["delivered"].as_bool().unwrap_or(false),
            };
            match fs::read(store.batch_path(&digest)) {
                Ok(out) => saved.batches.push((meta, out)),
                Err(e) => eprintln!(
                    "logseal serve: saved batch {} unreadable ({e}); a retry of it would be sealed again",
                    hex(&digest)
                ),
            }
        }
        // Outputs a crash left unnamed by the head were never forwarded.
        if let Ok(rd) = fs::read_dir(dir.join("batches")) {
            let named: Vec<String> = saved
                .batches
                .iter()
                .map(|(m, _)| format!("{}.ndjson", hex(&m.digest)))
                .collect();
            for e in rd.flatten() {
                if !named.iter().any(|n| e.file_name().to_str() == Some(n)) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok((store, saved))
    }

    /// Whether state is kept on disk.
    pub fn durable(&self) -> bool {
        self.dir.is_some()
    }

    fn batch_path(&self, digest: &[u8; 32]) -> PathBuf {
        self.dir
            .as_deref()
            .unwrap_or(Path::new("."))
            .join("batches")
            .join(format!("{}.ndjson", hex(digest)))
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = path.with_extension("tmp");
        let mut f =
            fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        if self.fsync {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        if self.fsync
            && let Some(d) = path.parent()
        {
            fs::File::open(d)?.sync_all()?;
        }
        Ok(())
    }

    /// Save a batch's sealed output (before the head names it).
    pub fn save_batch(&self, digest: &[u8; 32], output: &[u8]) -> Result<()> {
        if self.dir.is_none() {
            return Ok(());
        }
        self.write_atomic(&self.batch_path(digest), output)
    }

    /// Forget a batch's saved output.
    pub fn drop_batch(&self, digest: &[u8; 32]) {
        if self.dir.is_some() {
            let _ = fs::remove_file(self.batch_path(digest));
        }
    }

    /// Save the chain head and the recent batches (oldest first).
    /// `clean`: written at a clean exit (nothing sealed after it).
    pub fn save_head(&self, chain: &str, batches: &[&BatchMeta], clean: bool) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let bs: Vec<Value> = batches
            .iter()
            .map(|b| {
                json!({"digest": hex(&b.digest), "first_seq": b.first_seq,
                       "records": b.records, "delivered": b.delivered})
            })
            .collect();
        let v = json!({"v": 1, "chain": chain, "boot_id": self.boot_id,
                       "synced": self.fsync, "clean": clean, "batches": bs});
        let mut text = v.to_string();
        text.push('\n');
        self.write_atomic(&dir.join("head.json"), text.as_bytes())
    }

    /// Save the engine snapshot.
    /// Remember the feedback bodies applied (key, events marked), so that a
    /// retry is not applied twice after a restart either.
    pub fn save_feedback(&self, applied: &[([u8; 32], u64)]) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let v: Vec<Value> = applied
            .iter()
            .map(|(d, n)| serde_json::json!({"digest": hex(d), "marked": n}))
            .collect();
        self.write_atomic(
            &dir.join("feedback.json"),
            (Value::Array(v).to_string() + "\n").as_bytes(),
        )
    }

    pub fn save_engine(&self, snapshot: &[u8]) -> Result<()> {
        match &self.dir {
            Some(dir) => self.write_atomic(&dir.join("engine.bin"), snapshot),
            None => Ok(()),
        }
    }
}

/// The feedback bodies a previous run applied. Only an optimisation against
/// applying a retried body twice: an unreadable file is reported and
/// ignored.
fn load_feedback(path: &Path) -> Vec<([u8; 32], u64)> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            eprintln!(
                "logseal serve: {} unreadable ({e}); a retried feedback body would be applied again",
                path.display()
            );
            return Vec::new();
        }
    };
    let parsed = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        v.as_array()?
            .iter()
            .map(|e| Some((e["digest"].as_str().and_then(unhex)?, e["marked"].as_u64()?)))
            .collect::<Option<Vec<_>>>()
    });
    parsed.unwrap_or_else(|| {
        eprintln!(
            "logseal serve: {} is not a list of applied feedback; ignored (a retried feedback body would be applied again)",
            path.display()
        );
        Vec::new()
    })
}

/// Append checkpoints to the configured checkpoint file.
pub fn append_checkpoints(path: Option<&str>, cps: &[String]) -> Result<()> {
    let (Some(p), false) = (path, cps.is_empty()) else {
        return Ok(());
    };
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .with_context(|| format!("cannot open checkpoints file {p}"))?;
    let mut all = String::new();
    for c in cps {
        all.push_str(c);
    }
    f.write_all(all.as_bytes())
        .with_context(|| format!("cannot write checkpoints file {p}"))
}

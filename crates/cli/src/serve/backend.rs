//! What the sidecar runs per batch: score, then seal, behind one small trait
//! with two implementations.
//!
//! * [`Native`]: `logseal_pipeline::Processor`, compiled in (the stdin/file
//!   mode's default, and fast development).
//! * [`Component`]: the `processor` WebAssembly component (plus detection rule
//!   components) in the wasmtime host of `logseal-host-harness`, the
//!   production path of `logseal serve --processor X.wasm`.
//!
//! Both produce byte-identical sealed records for the same configuration.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use logseal_core::seal::{ChainState, new_epoch_id};
use logseal_core::{Input, SealConfig, Sealer, SignerKey};
use logseal_pipeline::{Config, Processor};
use rand_core::{OsRng, RngCore};

/// The result of one batch.
#[derive(Debug, Default)]
pub struct BatchOut {
    /// Sealed records, one per input record, each followed by `\n`.
    pub ndjson: Vec<u8>,
    /// Records in the batch.
    pub records: usize,
    /// How many were wrapped (not JSON objects, too large, ...).
    pub wrapped: usize,
    /// First wrap reason, for the log.
    pub first_wrap: Option<String>,
    /// Signed checkpoints made during the batch, in order.
    pub checkpoints: Vec<String>,
}

/// Score-then-seal for one stream, batch by batch, in order.
pub trait Backend: Send {
    /// Seal `records` (raw record texts, in order); every record comes back.
    fn process(&mut self, records: &[&[u8]]) -> Result<BatchOut>;
    /// The chain state (`ChainState` JSON) after the last batch.
    fn state(&mut self) -> Result<String>;
    /// The anomaly engine's snapshot (empty without a policy).
    fn engine_snapshot(&mut self) -> Result<Vec<u8>>;
    /// Operator feedback: mark `events` normal in the engine, all or
    /// nothing. `Ok(Err(why))`: refused, nothing marked (`why` is
    /// `logseal_pipeline::FeedbackError`'s text: "event N: ..." for bad
    /// input, otherwise the policy learns nothing from feedback); `Err`:
    /// the backend itself failed.
    fn mark_normal(&mut self, events: &[&[u8]]) -> Result<Result<u64, String>>;
    /// For logs: "native" or "component".
    fn name(&self) -> &'static str;
}

/// Where to start: a saved chain head (and whether it is exact, so the chain
/// continues, or may be behind, so a new epoch starts after it) and the
/// engine snapshot.
#[derive(Default)]
pub struct Resume {
    /// Saved `ChainState` JSON.
    pub chain: Option<String>,
    /// The saved head is exactly the last record sealed.
    pub exact: bool,
    /// Saved engine snapshot.
    pub engine: Option<Vec<u8>>,
    /// Where it was read from, for the log.
    pub engine_file: Option<PathBuf>,
}

impl Resume {
    /// Report that the saved engine snapshot was refused (written under
    /// another policy, torn, foreign). The snapshot is advisory: the engine
    /// learns afresh and the chain continues, with either backend (the
    /// anomaly README, State snapshots).
    pub fn engine_refused(&self, why: &str) {
        let file = self
            .engine_file
            .as_deref()
            .map(|p| format!("{}: ", p.display()))
            .unwrap_or_default();
        eprintln!(
            "logseal serve: engine snapshot not restored ({file}{why}); learning afresh, the chain continues"
        );
    }
}

/// The plugin configuration, read once.
pub struct Loaded {
    /// Parsed and validated.
    pub config: Config,
    /// The configuration as JSON, with the key inline (`key`) and an epoch.
    pub inline_json: String,
    /// The signing key.
    pub key: SignerKey,
    /// The stream sealed.
    pub stream: String,
}

/// Read the plugin configuration (`crates/pipeline/src/config.rs` format).
/// `key_file` is read and put inline as `key`; a fresh epoch ID is added
/// unless the file fixes one.
pub fn load_config(path: &Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration {}", path.display()))?;
    let config = Config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let key_text = match (&config.key, &config.key_file) {
        (Some(k), _) => k.clone(),
        (None, Some(f)) => {
            // A relative key file is relative to the configuration file.
            let p = path.parent().unwrap_or(Path::new(".")).join(f);
            std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read key file {}", p.display()))?
        }
        (None, None) => bail!("configuration names no key"),
    };
    let key = SignerKey::parse(key_text.trim()).context("signing key")?;
    if config.stream_per_tag {
        eprintln!(
            "logseal serve: note: stream_per_tag is ignored (one chain per sidecar; run one sidecar per stream)"
        );
    }
    let stream = config.stream_for(key.name(), None);
    let mut obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON object", path.display()))?;
    obj.remove("key_file");
    obj.insert("key".into(), key_text.trim().into());
    if !obj.contains_key("epoch") {
        obj.insert("epoch".into(), fresh_epoch().into());
    }
    Ok(Loaded {
        config,
        inline_json: serde_json::Value::Object(obj).to_string(),
        key,
        stream,
    })
}

/// A fresh epoch ID (UTC now, 32 random bits).
pub fn fresh_epoch() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    new_epoch_id(now, OsRng.next_u32())
}

/// The native backend: `logseal_pipeline::Processor`.
pub struct Native {
    p: Processor,
}

impl Native {
    /// Build from the configuration and where to start.
    pub fn new(l: &Loaded, resume: &Resume) -> Result<Self> {
        let c = &l.config;
        let v: serde_json::Value = serde_json::from_str(&l.inline_json)?;
        let epoch = v["epoch"].as_str().unwrap_or_default().to_string();
        let mut sc = SealConfig::new(&l.stream, &epoch);
        sc.checkpoint_every = c.checkpoint_every;
        sc.checkpoint_interval_ns = c.checkpoint_interval_secs.saturating_mul(1_000_000_000);
        sc.max_record_bytes = c.max_record_bytes;
        let key = l.key.clone();
        let sealer = match &resume.chain {
            None => Sealer::new(key, sc)?,
            Some(j) => {
                let st = ChainState::from_json(j).context("saved chain head")?;
                if resume.exact {
                    Sealer::resume(key, sc, st)?
                } else {
                    Sealer::new_epoch_after(key, sc, &st)?
                }
            }
        };
        let mut p = Processor::new(sealer, c.policy.clone());
        if let Some(e) = &resume.engine
            && let Err(e) = p.restore_engine(e)
        {
            resume.engine_refused(&e);
        }
        Ok(Native { p })
    }
}

impl Backend for Native {
    fn process(&mut self, records: &[&[u8]]) -> Result<BatchOut> {
        let mut out = BatchOut {
            ndjson: Vec::with_capacity(records.iter().map(|r| r.len() + 200).sum()),
            records: records.len(),
            ..BatchOut::default()
        };
        for r in records {
            let s = self.p.process(Input {
                record: r,
                ..Input::default()
            });
            if let Some(w) = s.wrapped {
                out.wrapped += 1;
                out.first_wrap.get_or_insert(w);
            }
            if let Some(cp) = s.checkpoint {
                out.checkpoints.push(cp);
            }
            out.ndjson.extend_from_slice(&s.line);
            out.ndjson.push(b'\n');
        }
        Ok(out)
    }

    fn state(&mut self) -> Result<String> {
        Ok(self.p.sealer().state().to_json())
    }

    fn engine_snapshot(&mut self) -> Result<Vec<u8>> {
        Ok(self.p.engine_snapshot())
    }

    fn mark_normal(&mut self, events: &[&[u8]]) -> Result<Result<u64, String>> {
        Ok(self
            .p
            .mark_normal(events)
            .map(|n| n as u64)
            .map_err(|e| e.to_string()))
    }

    fn name(&self) -> &'static str {
        "native"
    }
}

/// The backend the options ask for.
pub fn open(
    l: &Loaded,
    processor: Option<&Path>,
    rules: &[PathBuf],
    resume: &Resume,
) -> Result<Box<dyn Backend>> {
    match processor {
        Some(p) => super::component::open(l, p, rules, resume),
        None => {
            if !rules.is_empty() {
                bail!("--rule needs --processor (rules run in the component host)");
            }
            Ok(Box::new(Native::new(l, resume)?))
        }
    }
}

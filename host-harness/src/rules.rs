//! Sandboxed third-party detection rules: the host side of the `rule` world
//! (`wit/rule.wit`, package `logseal:plugin@0.1.0`).
//!
//! A [`RuleHost`] loads any number of rule components and evaluates every
//! event against each of them. Each rule gets its own [`Store`] and runs under
//! a per-event fuel budget, an epoch (wall-clock) deadline and a memory cap,
//! with WASI linked but empty: no preopened directories, no environment, no
//! arguments, no stdio (unless [`RuleConfig::wasi_stderr`]), no network.
//!
//! [`RuleHost::evaluate`] never fails and never drops the event: a rule that
//! traps, loops, exhausts its memory or time, or answers with something
//! outside the limits in [`RuleConfig`] yields an error [`Finding`] naming the
//! rule. The rule is then re-instantiated for the next event, and disabled
//! after [`RuleConfig::max_failures`] failures, with a log line (stderr and
//! [`RuleHost::drain_log`]).
//!
//! Rule state (`rule-state` in the WIT) is implemented here: a size-capped
//! key-value map per rule that outlives instances of the rule, whose writes
//! are rolled back when an evaluation fails, and that can be saved and
//! restored as bytes ([`RuleHost::snapshot_state`],
//! [`RuleHost::restore_state`]).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bindings generated from the WIT; private, behind the API of this module.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/rule.wit",
        world: "rule",
    });
}

use bindings::logseal::plugin::rule_state::RuleStateError;
use bindings::logseal::plugin::rule_types::{self, Severity};

/// Limits and knobs of a [`RuleHost`]. `RuleConfig::default()` is a sensible
/// production setting.
#[derive(Clone, Debug)]
pub struct RuleConfig {
    /// Fuel (roughly, wasm instructions) one rule may burn on one event;
    /// `None` turns fuel metering off (faster; the deadline still applies).
    pub fuel_per_event: Option<u64>,
    /// Cap on a rule instance's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline for one rule on one event, in milliseconds
    /// (epoch interruption, granularity [`RuleConfig::epoch_tick_ms`]).
    pub deadline_ms: u64,
    /// Failures (in total since load) after which a rule is disabled.
    pub max_failures: u32,
    /// Quota of one rule's state: keys plus values, in bytes.
    pub kv_bytes: usize,
    /// Longest state key, in bytes.
    pub kv_key_bytes: usize,
    /// Longest state value, in bytes.
    pub kv_value_bytes: usize,
    /// Most findings one rule may return for one event.
    pub max_findings: usize,
    /// Longest finding reason, in bytes (and it must not be empty).
    pub max_reason_bytes: usize,
    /// Longest finding entity, in bytes.
    pub max_entity_bytes: usize,
    /// Period of the epoch ticker thread, in milliseconds.
    pub epoch_tick_ms: u64,
    /// Grant the rules the host's stderr (for debugging rules); off by default.
    pub wasi_stderr: bool,
    /// Also print log lines to stderr (they are always kept for
    /// [`RuleHost::drain_log`]).
    pub log_to_stderr: bool,
}

impl Default for RuleConfig {
    fn default() -> Self {
        Self {
            fuel_per_event: Some(20_000_000),
            memory_bytes: 32 << 20,
            deadline_ms: 100,
            max_failures: 5,
            kv_bytes: 1 << 20,
            kv_key_bytes: 256,
            kv_value_bytes: 64 << 10,
            max_findings: 16,
            max_reason_bytes: 1024,
            max_entity_bytes: 256,
            epoch_tick_ms: 1,
            wasi_stderr: false,
            log_to_stderr: true,
        }
    }
}

/// Handle of a loaded rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuleId(usize);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule#{}", self.0)
    }
}

/// One finding, either from a rule (`error == false`) or about a rule that
/// failed on this event (`error == true`, `rule` names the failed rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Name of the rule (from its `describe`).
    pub rule: String,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    pub reason: String,
    pub entity: Option<String>,
    /// True when the finding reports a rule failure, not a detection.
    pub error: bool,
}

/// What [`RuleHost::rules`] reports about one rule.
#[derive(Clone, Debug)]
pub struct RuleStatus {
    pub id: RuleId,
    pub name: String,
    pub version: String,
    pub fields: Vec<String>,
    pub enabled: bool,
    /// Failures since load.
    pub failures: u32,
    /// Events evaluated (successfully or not) since load.
    pub evaluations: u64,
    /// The most recent failure, if any.
    pub last_error: Option<String>,
    /// Bytes of rule state in use.
    pub state_bytes: usize,
}

/// Severity of the error findings the host emits for a failed rule.
pub const ERROR_SEVERITY: &str = "medium";

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

// ---------------------------------------------------------------------------
// Rule state

#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    /// Event time (ns) from which the entry is gone.
    expires_at: Option<i64>,
}

/// The key-value state of one rule, with an undo journal for the current
/// evaluation.
#[derive(Default)]
struct Kv {
    map: HashMap<String, Entry>,
    used: usize,
    journal: Vec<(String, Option<Entry>)>,
}

impl Kv {
    fn size(key: &str, e: &Entry) -> usize {
        key.len() + e.value.len()
    }

    fn live(e: &Entry, now: i64) -> bool {
        e.expires_at.is_none_or(|t| now < t)
    }

    /// Replace (or remove, with `None`) the entry under `key`, journaling the
    /// previous one.
    fn put(&mut self, key: String, entry: Option<Entry>) {
        let old = match entry {
            Some(e) => {
                self.used += Self::size(&key, &e);
                self.map.insert(key.clone(), e)
            }
            None => self.map.remove(&key),
        };
        if let Some(o) = &old {
            self.used -= Self::size(&key, o);
        }
        self.journal.push((key, old));
    }

    fn commit(&mut self) {
        self.journal.clear();
    }

    fn rollback(&mut self) {
        while let Some((key, old)) = self.journal.pop() {
            let cur = match old {
                Some(o) => {
                    self.used += Self::size(&key, &o);
                    self.map.insert(key.clone(), o)
                }
                None => self.map.remove(&key),
            };
            if let Some(c) = cur {
                self.used -= Self::size(&key, &c);
            }
        }
    }

    fn purge_expired(&mut self, now: i64) {
        let dead: Vec<String> = self
            .map
            .iter()
            .filter(|(_, e)| !Self::live(e, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in dead {
            self.put(k, None);
        }
    }

    const MAGIC: &'static [u8; 8] = b"LSRKV\x00\x00\x01";

    fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.used + self.map.len() * 17);
        out.extend_from_slice(Self::MAGIC);
        out.extend_from_slice(&(self.map.len() as u64).to_le_bytes());
        let mut keys: Vec<&String> = self.map.keys().collect();
        keys.sort();
        for k in keys {
            let e = &self.map[k];
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&(e.value.len() as u32).to_le_bytes());
            out.extend_from_slice(&e.value);
            match e.expires_at {
                Some(t) => {
                    out.push(1);
                    out.extend_from_slice(&t.to_le_bytes());
                }
                None => out.push(0),
            }
        }
        out
    }

    fn restore(bytes: &[u8], cfg: &RuleConfig) -> Result<Kv> {
        struct Rd<'a>(&'a [u8]);
        impl Rd<'_> {
            fn take(&mut self, n: usize) -> Result<&[u8]> {
                if self.0.len() < n {
                    bail!("rule state snapshot is truncated");
                }
                let (a, b) = self.0.split_at(n);
                self.0 = b;
                Ok(a)
            }
            fn u32(&mut self) -> Result<usize> {
                let b = self.take(4)?;
                Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            }
            fn u64(&mut self) -> Result<u64> {
                let mut a = [0u8; 8];
                a.copy_from_slice(self.take(8)?);
                Ok(u64::from_le_bytes(a))
            }
        }
        let mut r = Rd(bytes);
        if r.take(8)? != Self::MAGIC {
            bail!("not a logseal rule state snapshot (bad magic)");
        }
        let n = r.u64()?;
        let mut kv = Kv::default();
        for _ in 0..n {
            let kl = r.u32()?;
            let key = std::str::from_utf8(r.take(kl)?)
                .context("rule state snapshot has a non-UTF-8 key")?
                .to_owned();
            let vl = r.u32()?;
            let value = r.take(vl)?.to_vec();
            let expires_at = match r.take(1)?[0] {
                0 => None,
                1 => Some(r.u64()? as i64),
                b => bail!("rule state snapshot has a bad expiry tag {b}"),
            };
            if key.len() > cfg.kv_key_bytes || value.len() > cfg.kv_value_bytes {
                bail!("rule state snapshot has an entry over the configured size caps");
            }
            kv.put(key, Some(Entry { value, expires_at }));
        }
        if !r.0.is_empty() {
            bail!("rule state snapshot has trailing bytes");
        }
        if kv.used > cfg.kv_bytes {
            bail!(
                "rule state snapshot holds {} bytes, over the quota of {}",
                kv.used,
                cfg.kv_bytes
            );
        }
        kv.commit();
        Ok(kv)
    }
}

// ---------------------------------------------------------------------------
// Store data and host functions

struct RuleCtx {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    kv: Kv,
    /// Time of the event being evaluated (ns since the epoch).
    now_ns: i64,
    key_cap: usize,
    value_cap: usize,
    quota: usize,
}

impl WasiView for RuleCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl rule_types::Host for RuleCtx {}

fn cap_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl bindings::logseal::plugin::rule_state::Host for RuleCtx {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        let now = self.now_ns;
        self.kv
            .map
            .get(&key)
            .filter(|e| Kv::live(e, now))
            .map(|e| e.value.clone())
    }

    fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ns: Option<u64>,
    ) -> Result<(), RuleStateError> {
        if key.len() > self.key_cap {
            return Err(RuleStateError::KeyTooLarge(cap_u32(self.key_cap)));
        }
        if value.len() > self.value_cap {
            return Err(RuleStateError::ValueTooLarge(cap_u32(self.value_cap)));
        }
        let old = self.kv.map.get(&key).map_or(0, |e| Kv::size(&key, e));
        let new = key.len() + value.len();
        if self.kv.used - old + new > self.quota {
            self.kv.purge_expired(self.now_ns);
            let old = self.kv.map.get(&key).map_or(0, |e| Kv::size(&key, e));
            if self.kv.used - old + new > self.quota {
                return Err(RuleStateError::QuotaExceeded(self.quota as u64));
            }
        }
        let expires_at = ttl_ns.map(|t| {
            self.now_ns
                .saturating_add(i64::try_from(t).unwrap_or(i64::MAX))
        });
        self.kv.put(key, Some(Entry { value, expires_at }));
        Ok(())
    }

    fn delete(&mut self, key: String) {
        if self.kv.map.contains_key(&key) {
            self.kv.put(key, None);
        }
    }

    fn usage(&mut self) -> (u64, u64) {
        (self.kv.used as u64, self.quota as u64)
    }
}

// ---------------------------------------------------------------------------
// The host

struct Live {
    store: Store<RuleCtx>,
    rule: bindings::Rule,
}

struct Slot {
    name: String,
    version: String,
    fields: Vec<String>,
    pre: bindings::RulePre<RuleCtx>,
    live: Option<Live>,
    /// The rule's state while no instance is live.
    parked: Kv,
    enabled: bool,
    failures: u32,
    evaluations: u64,
    last_error: Option<String>,
}

impl Slot {
    fn kv(&self) -> &Kv {
        self.live
            .as_ref()
            .map_or(&self.parked, |l| &l.store.data().kv)
    }

    /// Drop the instance (after a failure), keeping the state.
    fn kill(&mut self) {
        if let Some(mut live) = self.live.take() {
            self.parked = std::mem::take(&mut live.store.data_mut().kv);
        }
    }
}

/// Stops the epoch ticker when the host is dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Loads rule components and evaluates events against all of them.
pub struct RuleHost {
    engine: Engine,
    linker: Linker<RuleCtx>,
    config: RuleConfig,
    slots: Vec<Slot>,
    log: Vec<String>,
    _ticker: Ticker,
}

/// Why an evaluation (or `describe`) failed.
enum Failure {
    Wasm(wasmtime::Error),
    Garbage(String),
}

impl RuleHost {
    /// A host with its own engine and epoch ticker thread.
    pub fn new(config: RuleConfig) -> Result<Self> {
        if config.deadline_ms == 0 || config.epoch_tick_ms == 0 {
            bail!("RuleConfig: deadline_ms and epoch_tick_ms must be at least 1");
        }
        let mut wcfg = Config::new();
        wcfg.wasm_component_model(true)
            .epoch_interruption(true)
            // Rules are synchronous: skip the component-model-async task
            // bookkeeping, which roughly halves the cost of a call.
            .concurrency_support(false)
            .consume_fuel(config.fuel_per_event.is_some());
        let engine = Engine::new(&wcfg).map_err(wt("creating the wasmtime engine for rules"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(wt("linking WASI for rules"))?;
        deny_timers(&mut linker).map_err(wt("linking WASI for rules"))?;
        bindings::Rule::add_to_linker::<RuleCtx, wasmtime::component::HasSelf<RuleCtx>>(
            &mut linker,
            |c| c,
        )
        .map_err(wt("linking rule-state"))?;

        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = Arc::clone(&stop);
            let engine = engine.clone();
            let tick = Duration::from_millis(config.epoch_tick_ms);
            std::thread::Builder::new()
                .name("logseal-rules-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .context("starting the epoch ticker thread")?
        };
        Ok(Self {
            engine,
            linker,
            config,
            slots: Vec::new(),
            log: Vec::new(),
            _ticker: Ticker {
                stop,
                handle: Some(handle),
            },
        })
    }

    /// The wasmtime engine (e.g. to precompile components).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The configuration in force.
    pub fn config(&self) -> &RuleConfig {
        &self.config
    }

    /// Load a rule component from a `.wasm` file.
    pub fn load(&mut self, path: &Path) -> Result<RuleId> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading rule component {}", path.display()))?;
        self.load_bytes(&bytes)
            .with_context(|| format!("loading rule component {}", path.display()))
    }

    /// Load a rule component from its bytes (binary or WAT text).
    pub fn load_bytes(&mut self, bytes: &[u8]) -> Result<RuleId> {
        let component =
            Component::new(&self.engine, bytes).map_err(wt("compiling the rule component"))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(wt("the component does not fit the logseal:plugin/rule world (or imports a capability the host does not grant)"))?;
        let pre = bindings::RulePre::new(pre).map_err(wt(
            "the component does not export logseal:plugin/detector@0.1.0",
        ))?;
        let mut live = self
            .instantiate(&pre)
            .map_err(wt("instantiating the rule"))?;
        arm(&self.config, &mut live.store);
        let info = live
            .rule
            .logseal_plugin_detector()
            .call_describe(&mut live.store)
            .map_err(|e| anyhow::anyhow!("the rule's describe failed: {}", self.explain(&e)))?;
        validate_name(&info.name)?;
        if info.version.len() > 64
            || info.fields.len() > 256
            || info.fields.iter().any(|f| f.len() > 256)
        {
            bail!(
                "rule {:?}: describe returned an oversized version or field list",
                info.name
            );
        }
        if self.slots.iter().any(|s| s.name == info.name) {
            bail!("a rule named {:?} is already loaded", info.name);
        }
        let id = RuleId(self.slots.len());
        self.slots.push(Slot {
            name: info.name,
            version: info.version,
            fields: info.fields,
            pre,
            live: Some(live),
            parked: Kv::default(),
            enabled: true,
            failures: 0,
            evaluations: 0,
            last_error: None,
        });
        Ok(id)
    }

    fn instantiate(&self, pre: &bindings::RulePre<RuleCtx>) -> wasmtime::Result<Live> {
        let mut wasi = WasiCtx::builder();
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if self.config.wasi_stderr {
            wasi.inherit_stderr();
        }
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.config.memory_bytes)
            .trap_on_grow_failure(true)
            .instances(16)
            .tables(16)
            .memories(4)
            .build();
        let ctx = RuleCtx {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits,
            kv: Kv::default(),
            now_ns: 0,
            key_cap: self.config.kv_key_bytes,
            value_cap: self.config.kv_value_bytes,
            quota: self.config.kv_bytes,
        };
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|c| &mut c.limits);
        arm(&self.config, &mut store);
        let rule = pre.instantiate(&mut store)?;
        Ok(Live { store, rule })
    }

    /// Evaluate one event against every enabled rule. Never fails: a rule
    /// failure becomes a finding with `error: true` naming the rule.
    pub fn evaluate(&mut self, event_json: &str, time_ns: i64) -> Vec<Finding> {
        let mut out = Vec::new();
        for i in 0..self.slots.len() {
            if self.slots[i].enabled {
                self.evaluate_one(i, event_json, time_ns, &mut out);
            }
        }
        out
    }

    fn evaluate_one(&mut self, i: usize, event: &str, time_ns: i64, out: &mut Vec<Finding>) {
        if self.slots[i].live.is_none() {
            match self.instantiate(&self.slots[i].pre) {
                Ok(mut live) => {
                    let slot = &mut self.slots[i];
                    live.store.data_mut().kv = std::mem::take(&mut slot.parked);
                    slot.live = Some(live);
                }
                Err(e) => {
                    let msg = format!("re-instantiation failed: {}", self.explain(&e));
                    self.fail(i, msg, out);
                    return;
                }
            }
        }
        let cfg = &self.config;
        let result = {
            let slot = &mut self.slots[i];
            slot.evaluations += 1;
            let Some(live) = slot.live.as_mut() else {
                return;
            };
            live.store.data_mut().now_ns = time_ns;
            arm(cfg, &mut live.store);
            match live
                .rule
                .logseal_plugin_detector()
                .call_evaluate(&mut live.store, event, time_ns)
            {
                Ok(findings) => check(cfg, &slot.name, findings).map_err(Failure::Garbage),
                Err(e) => Err(Failure::Wasm(e)),
            }
        };
        match result {
            Ok(findings) => {
                if let Some(live) = self.slots[i].live.as_mut() {
                    live.store.data_mut().kv.commit();
                }
                out.extend(findings);
            }
            Err(f) => {
                if let Some(live) = self.slots[i].live.as_mut() {
                    live.store.data_mut().kv.rollback();
                }
                self.slots[i].kill();
                let msg = match f {
                    Failure::Wasm(e) => self.explain(&e),
                    Failure::Garbage(g) => g,
                };
                self.fail(i, msg, out);
            }
        }
    }

    /// Record a failure of rule `i` on the current event.
    fn fail(&mut self, i: usize, msg: String, out: &mut Vec<Finding>) {
        let max = self.config.max_failures;
        let slot = &mut self.slots[i];
        slot.failures = slot.failures.saturating_add(1);
        slot.last_error = Some(msg.clone());
        let disable = slot.failures >= max;
        let mut reason = format!(
            "rule {:?} failed on this event: {msg} (failure {} of {max}); the event passed on without its verdict",
            slot.name, slot.failures
        );
        if disable {
            slot.enabled = false;
            reason.push_str("; the rule is now disabled");
            let line = format!(
                "logseal rules: rule {:?} (version {}) DISABLED after {} failures; last failure: {msg}",
                slot.name, slot.version, slot.failures
            );
            self.log_line(line);
        } else {
            let line = format!(
                "logseal rules: rule {:?} failed ({msg}); re-instantiating (failure {} of {max})",
                slot.name, slot.failures
            );
            self.log_line(line);
        }
        out.push(Finding {
            rule: self.slots[i].name.clone(),
            severity: ERROR_SEVERITY.to_owned(),
            reason,
            entity: None,
            error: true,
        });
    }

    fn log_line(&mut self, line: String) {
        if self.config.log_to_stderr {
            eprintln!("{line}");
        }
        self.log.push(line);
    }

    /// Turn a wasmtime error into a one-line explanation.
    fn explain(&self, e: &wasmtime::Error) -> String {
        if let Some(trap) = e.downcast_ref::<Trap>() {
            return match trap {
                Trap::OutOfFuel => format!(
                    "ran out of fuel ({} units per event)",
                    self.config.fuel_per_event.unwrap_or(0)
                ),
                Trap::Interrupt => format!(
                    "exceeded its deadline of {} ms per event",
                    self.config.deadline_ms
                ),
                other => format!("trapped: {other}"),
            };
        }
        // The root cause, without the wasm backtrace wasmtime adds as context.
        let root = e.root_cause().to_string();
        if root.contains("forcing trap when growing memory") {
            return format!(
                "exceeded its memory cap of {} bytes",
                self.config.memory_bytes
            );
        }
        let first: String = root.chars().take(300).collect();
        format!("failed: {first}")
    }

    /// Name, version, fields and health of every loaded rule.
    pub fn rules(&self) -> Vec<RuleStatus> {
        self.slots
            .iter()
            .enumerate()
            .map(|(i, s)| RuleStatus {
                id: RuleId(i),
                name: s.name.clone(),
                version: s.version.clone(),
                fields: s.fields.clone(),
                enabled: s.enabled,
                failures: s.failures,
                evaluations: s.evaluations,
                last_error: s.last_error.clone(),
                state_bytes: s.kv().used,
            })
            .collect()
    }

    /// The rule with this name, if loaded.
    pub fn find(&self, name: &str) -> Option<RuleId> {
        self.slots.iter().position(|s| s.name == name).map(RuleId)
    }

    /// Re-enable a disabled rule and reset its failure count.
    pub fn enable(&mut self, id: RuleId) -> Result<()> {
        let slot = self.slot_mut(id)?;
        slot.enabled = true;
        slot.failures = 0;
        Ok(())
    }

    /// Log lines (failures, disabling) since the last call.
    pub fn drain_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }

    /// The rule's state as bytes (for persisting across host restarts).
    pub fn snapshot_state(&self, id: RuleId) -> Result<Vec<u8>> {
        Ok(self.slot(id)?.kv().snapshot())
    }

    /// Replace the rule's state with a snapshot from [`Self::snapshot_state`].
    pub fn restore_state(&mut self, id: RuleId, bytes: &[u8]) -> Result<()> {
        let kv = Kv::restore(bytes, &self.config)?;
        let slot = self.slot_mut(id)?;
        match slot.live.as_mut() {
            Some(live) => live.store.data_mut().kv = kv,
            None => slot.parked = kv,
        }
        Ok(())
    }

    fn slot(&self, id: RuleId) -> Result<&Slot> {
        self.slots
            .get(id.0)
            .with_context(|| format!("no rule {id}"))
    }

    fn slot_mut(&mut self, id: RuleId) -> Result<&mut Slot> {
        self.slots
            .get_mut(id.0)
            .with_context(|| format!("no rule {id}"))
    }
}

/// Replace WASI's timer subscriptions with functions that trap.
///
/// A std component imports `wasi:clocks/monotonic-clock`, and
/// `std::thread::sleep` blocks in the host's `wasi:io/poll`, a host call that
/// neither fuel nor the epoch deadline can interrupt: a rule could stall the
/// pipeline for as long as it likes. Rules have no business waiting, so
/// subscribing to a timer is a trap (an error finding naming the rule).
fn deny_timers(linker: &mut Linker<RuleCtx>) -> wasmtime::Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::p2::DynPollable;
    type Pollable = wasmtime::Result<(Resource<DynPollable>,)>;
    const DENIED: &str = "rules may not sleep or wait on timers (wasi:clocks subscribe denied)";
    linker.allow_shadowing(true);
    let mut clock = linker.instance("wasi:clocks/monotonic-clock@0.2.12")?;
    clock.func_wrap("subscribe-duration", |_, (_,): (u64,)| -> Pollable {
        Err(wasmtime::format_err!("{DENIED}"))
    })?;
    clock.func_wrap("subscribe-instant", |_, (_,): (u64,)| -> Pollable {
        Err(wasmtime::format_err!("{DENIED}"))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Give the store a fresh fuel budget and deadline for one call.
fn arm(cfg: &RuleConfig, store: &mut Store<RuleCtx>) {
    if let Some(fuel) = cfg.fuel_per_event {
        // Only fails when fuel is not enabled, which `RuleHost::new` rules out.
        let _ = store.set_fuel(fuel);
    }
    // +1: the current tick may be almost over.
    store.set_epoch_deadline(cfg.deadline_ms.div_ceil(cfg.epoch_tick_ms) + 1);
}

/// Convert a wasmtime error (not an `anyhow::Error` in wasmtime 48) with context.
fn wt(context: &'static str) -> impl FnOnce(wasmtime::Error) -> anyhow::Error {
    move |e| anyhow::anyhow!("{context}: {e:#}")
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        bail!("rule name {name:?} is invalid: 1 to 64 bytes of [A-Za-z0-9._-]");
    }
    Ok(())
}

/// Check a rule's answer against the limits; the whole answer is rejected if
/// any finding is out of bounds.
fn check(
    cfg: &RuleConfig,
    rule: &str,
    findings: Vec<rule_types::Finding>,
) -> std::result::Result<Vec<Finding>, String> {
    if findings.len() > cfg.max_findings {
        return Err(format!(
            "returned {} findings, more than the limit of {}",
            findings.len(),
            cfg.max_findings
        ));
    }
    findings
        .into_iter()
        .map(|f| {
            if f.reason.is_empty() {
                return Err("returned a finding with an empty reason".to_owned());
            }
            if f.reason.len() > cfg.max_reason_bytes {
                return Err(format!(
                    "returned a reason of {} bytes, more than the limit of {}",
                    f.reason.len(),
                    cfg.max_reason_bytes
                ));
            }
            if let Some(e) = &f.entity
                && e.len() > cfg.max_entity_bytes
            {
                return Err(format!(
                    "returned an entity of {} bytes, more than the limit of {}",
                    e.len(),
                    cfg.max_entity_bytes
                ));
            }
            Ok(Finding {
                rule: rule.to_owned(),
                severity: severity_name(f.severity).to_owned(),
                reason: f.reason,
                entity: f.entity,
                error: false,
            })
        })
        .collect()
}

//! The processor world (`wit/processor.wit`) hosted in wasmtime, with any
//! number of sandboxed rule components in front of it.
//!
//! One [`Store`] for the processor (and one per rule, in [`RuleHost`]); WASI is
//! linked with an empty context: no preopens, no environment, no stdio, no
//! network. The processor's memory is capped. For each batch the host first
//! runs every rule on every event ([`RuleHost::evaluate`] never fails: a
//! misbehaving rule yields an error finding naming it), then hands the events
//! with their findings to the processor, which seals them (findings included
//! in `_anomaly.rules`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::fluent_bit::wt;
use crate::rules::{RuleConfig, RuleHost};

/// Bindings generated from the WIT; private, behind the API below.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/processor.wit",
        world: "processor",
        // Events are lowered from the host's own buffers, not copied first.
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

use bindings::exports::logseal::plugin::sealing;
use bindings::logseal::plugin::digest::Fold;

/// One record in, borrowed from the caller's buffer where it can be (the
/// processor lowers it straight into the component's memory).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event<'a> {
    /// The record text (normally a JSON object).
    pub json: Cow<'a, str>,
    /// The host's tag.
    pub tag: Option<Cow<'a, str>>,
    /// The host's event time (ns since the Unix epoch).
    pub time_ns: Option<i64>,
}

impl<'a> Event<'a> {
    /// An event for the record bytes `raw`, with no tag or time. Invalid
    /// UTF-8 cannot cross a WIT `string`, so such a record is carried as the
    /// wrapper the native sealer writes for it (docs/FORMAT.md §5:
    /// `{"_logseal_raw_b64": …, "_logseal_error": "invalid UTF-8 at byte
    /// N"}`), which the processor seals like any other record: nothing is
    /// lost or replaced, and the sealed line is the native one.
    pub fn from_bytes(raw: &'a [u8]) -> Self {
        Event {
            json: logseal_core::seal::record_text(raw),
            tag: None,
            time_ns: None,
        }
    }

    /// The same event, owning its text.
    pub fn into_owned(self) -> Event<'static> {
        Event {
            json: Cow::Owned(self.json.into_owned()),
            tag: self.tag.map(|t| Cow::Owned(t.into_owned())),
            time_ns: self.time_ns,
        }
    }
}

/// One record out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processed {
    /// The sealed record, one line of canonical JSON (UTF-8), no newline.
    pub line: Vec<u8>,
    /// The checkpoint attached to it, if any.
    pub checkpoint: Option<String>,
    /// Why it was wrapped, if it was.
    pub error: Option<String>,
}

struct Ctx {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The `digest` import's `sha256-fold`: SHA-256 natively (SHA-NI where the
/// CPU has it), read in place from the component's memory. Linked by hand
/// rather than through the generated `Host` trait, which would first copy
/// the bytes into a fresh `Vec` on every call (once per record).
fn link_digest(linker: &mut Linker<Ctx>) -> wasmtime::Result<()> {
    use sha2::Digest as _;
    use wasmtime::component::WasmList;
    let mut digest = linker.instance("logseal:plugin/digest@0.1.0")?;
    digest.func_wrap(
        "sha256-fold",
        |store: wasmtime::StoreContextMut<'_, Ctx>, (data, lefts): (WasmList<u8>, WasmList<u8>)| {
            let lefts = lefts.as_le_slice(&store);
            if !lefts.len().is_multiple_of(32) {
                return Err(wasmtime::format_err!(
                    "digest.sha256-fold: lefts of {} bytes is not whole 32-byte hashes",
                    lefts.len()
                ));
            }
            let leaf: [u8; 32] = sha2::Sha256::digest(data.as_le_slice(&store)).into();
            let mut peak = leaf;
            for left in lefts.as_chunks::<32>().0.iter().rev() {
                peak = logseal_core::merkle::node_hash(left, &peak);
            }
            Ok((Fold {
                leaf: words(&leaf),
                peak: words(&peak),
            },))
        },
    )
}

/// A hash as the four big-endian 64-bit words the `digest` interface returns.
fn words(h: &[u8; 32]) -> (u64, u64, u64, u64) {
    let w = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[i * 8..i * 8 + 8]);
        u64::from_be_bytes(b)
    };
    (w(0), w(1), w(2), w(3))
}

/// Memory cap of the processor instance.
pub const PROCESSOR_MEMORY_BYTES: usize = 512 << 20;

/// A processor component (and its rules), ready to seal batches.
pub struct ProcessorHost {
    store: Store<Ctx>,
    processor: bindings::Processor,
    rules: Option<RuleHost>,
}

impl ProcessorHost {
    /// Load the processor and the rules, and configure the processor with
    /// `config_json` (the plugin configuration, key inline as `"key"`).
    pub fn load(processor_wasm: &Path, rules: &[PathBuf], config_json: &str) -> Result<Self> {
        let engine = Engine::new(&Self::engine_config()).map_err(wt("creating the engine"))?;
        let component = Component::from_file(&engine, processor_wasm).map_err(|e| {
            anyhow!(
                "loading processor component {}: {e:#}",
                processor_wasm.display()
            )
        })?;
        Self::from_component(&engine, &component, rules, config_json)
    }

    /// The wasmtime configuration processors run with (compile the component
    /// with an engine of this configuration to use [`Self::from_component`]).
    pub fn engine_config() -> wasmtime::Config {
        let mut cfg = crate::wasmtime_config();
        cfg.wasm_component_model(true)
            // The processor is synchronous: no component-model-async task
            // bookkeeping on each call, nor on each of its `digest` calls
            // into the host (one a record).
            .concurrency_support(false);
        cfg
    }

    /// Instantiate an already compiled processor (restarts, benchmarks).
    pub fn from_component(
        engine: &Engine,
        component: &Component,
        rules: &[PathBuf],
        config_json: &str,
    ) -> Result<Self> {
        let mut linker: Linker<Ctx> = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(wt("linking WASI"))?;
        link_digest(&mut linker).map_err(wt("linking digest"))?;
        let limits = StoreLimitsBuilder::new()
            .memory_size(PROCESSOR_MEMORY_BYTES)
            .trap_on_grow_failure(false)
            .build();
        let mut store = Store::new(
            engine,
            Ctx {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
                limits,
            },
        );
        store.limiter(|c| &mut c.limits);
        let processor = bindings::Processor::instantiate(&mut store, component, &linker)
            .map_err(wt("instantiating the processor component"))?;
        processor
            .logseal_plugin_sealing()
            .call_configure(&mut store, config_json)
            .map_err(wt("configure"))?
            .map_err(|e| anyhow!("processor configuration: {e}"))?;
        let rules = if rules.is_empty() {
            None
        } else {
            let mut host = RuleHost::new(RuleConfig::default())?;
            for r in rules {
                host.load(r)
                    .with_context(|| format!("loading rule {}", r.display()))?;
            }
            Some(host)
        };
        Ok(ProcessorHost {
            store,
            processor,
            rules,
        })
    }

    /// The rule host, if rules were loaded.
    pub fn rules(&mut self) -> Option<&mut RuleHost> {
        self.rules.as_mut()
    }

    /// Seal a batch, in order; one [`Processed`] per event. An error here is
    /// a failure of the processor component itself (a trap): the caller still
    /// has the batch and must not acknowledge it.
    pub fn process(&mut self, batch: &[Event<'_>]) -> Result<Vec<Processed>> {
        // The rules' findings, owned here; the events lowered below borrow
        // them and the records.
        let findings: Vec<Vec<crate::rules::Finding>> = match self.rules.as_mut() {
            Some(r) => batch
                .iter()
                .map(|e| r.evaluate(&e.json, e.time_ns.unwrap_or(0)))
                .collect(),
            None => Vec::new(),
        };
        let lowered: Vec<Vec<bindings::logseal::plugin::processor_types::RuleFinding<'_>>> =
            findings
                .iter()
                .map(|fs| {
                    fs.iter()
                        .map(
                            |f| bindings::logseal::plugin::processor_types::RuleFinding {
                                rule: &f.rule,
                                severity: &f.severity,
                                reason: &f.reason,
                                entity: f.entity.as_deref(),
                                error: f.error,
                            },
                        )
                        .collect()
                })
                .collect();
        let events: Vec<sealing::Event<'_>> = batch
            .iter()
            .enumerate()
            .map(|(i, e)| sealing::Event {
                json: &e.json,
                tag: e.tag.as_deref(),
                time_ns: e.time_ns,
                findings: lowered.get(i).map_or(&[], Vec::as_slice),
            })
            .collect();
        let out = self
            .processor
            .logseal_plugin_sealing()
            .call_process(&mut self.store, &events)
            .map_err(wt("processor component failed"))?;
        if out.len() != batch.len() {
            bail!(
                "processor returned {} records for a batch of {}",
                out.len(),
                batch.len()
            );
        }
        Ok(out
            .into_iter()
            .map(|p| Processed {
                line: p.line,
                checkpoint: p.checkpoint,
                error: p.error,
            })
            .collect())
    }

    /// The chain state JSON.
    pub fn state(&mut self) -> Result<String> {
        self.processor
            .logseal_plugin_sealing()
            .call_state(&mut self.store)
            .map_err(wt("state"))
    }

    /// The anomaly engine's snapshot.
    pub fn engine_snapshot(&mut self) -> Result<Vec<u8>> {
        self.processor
            .logseal_plugin_sealing()
            .call_engine_snapshot(&mut self.store)
            .map_err(wt("engine-snapshot"))
    }

    /// Operator feedback (`mark-normal` in `wit/processor.wit`): the outer
    /// error is a failure of the component (a trap), the inner one its
    /// refusal (nothing marked).
    pub fn mark_normal(&mut self, events: &[&str]) -> Result<Result<u64, String>> {
        self.processor
            .logseal_plugin_sealing()
            .call_mark_normal(&mut self.store, events)
            .map_err(wt("mark-normal"))
    }

    /// Restore saved state (see `restore` in `wit/processor.wit`).
    pub fn restore(
        &mut self,
        chain_state_json: Option<&str>,
        engine: Option<&[u8]>,
        continue_epoch: bool,
    ) -> Result<()> {
        self.processor
            .logseal_plugin_sealing()
            .call_restore(&mut self.store, chain_state_json, engine, continue_epoch)
            .map_err(wt("restore"))?
            .map_err(|e| anyhow!("restoring processor state: {e}"))
    }

    /// A signed checkpoint of the chain as it stands.
    pub fn checkpoint(&mut self) -> Result<Option<String>> {
        self.processor
            .logseal_plugin_sealing()
            .call_checkpoint(&mut self.store)
            .map_err(wt("checkpoint"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logseal_core::merkle::{Hash, node_hash};
    use sha2::Digest as _;

    /// A component that calls the host's `digest.sha256-fold` with fixed
    /// inputs from its data segments: `good` with two whole hashes, `bad`
    /// with 33 bytes of `lefts`. Written by hand so the host function is
    /// checked on its own, not only through the processor.
    const CALLER: &str = r#"
(component
  (import "logseal:plugin/digest@0.1.0" (instance $digest
    (type $hash (tuple u64 u64 u64 u64))
    (type $fold (record (field "leaf" $hash) (field "peak" $hash)))
    (export "fold" (type $fold-t (eq $fold)))
    (export "sha256-fold" (func (param "data" (list u8)) (param "lefts" (list u8)) (result $fold-t)))
  ))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias export $digest "sha256-fold" (func $sf))
  (core func $fold (canon lower (func $sf) (memory (core memory $mem "mem"))))
  (core module $M
    (import "env" "mem" (memory 1))
    (import "env" "fold" (func $fold (param i32 i32 i32 i32 i32)))
    (data (i32.const 0) "abc")
    (data (i32.const 64) "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBC")
    (func (export "good") (result i32)
      (call $fold (i32.const 0) (i32.const 3) (i32.const 64) (i32.const 64) (i32.const 256))
      (i32.const 256))
    (func (export "bad") (result i32)
      (call $fold (i32.const 0) (i32.const 3) (i32.const 64) (i32.const 33) (i32.const 256))
      (i32.const 256))
  )
  (core instance $i (instantiate $M (with "env" (instance
    (export "mem" (memory $mem "mem"))
    (export "fold" (func $fold))))))
  (type $hash (tuple u64 u64 u64 u64))
  (type $fold-r (record (field "leaf" $hash) (field "peak" $hash)))
  (export $fold-e "fold" (type $fold-r))
  (func (export "good") (result $fold-e) (canon lift (core func $i "good") (memory (core memory $mem "mem"))))
  (func (export "bad") (result $fold-e) (canon lift (core func $i "bad") (memory (core memory $mem "mem"))))
)
"#;

    fn hash(w: (u64, u64, u64, u64)) -> Hash {
        let mut h = [0u8; 32];
        for (i, x) in [w.0, w.1, w.2, w.3].into_iter().enumerate() {
            h[i * 8..i * 8 + 8].copy_from_slice(&x.to_be_bytes());
        }
        h
    }

    #[test]
    fn sha256_fold_import_folds_from_the_last_peak_and_traps_on_partial_hashes() {
        let engine = Engine::new(&ProcessorHost::engine_config()).unwrap();
        let component = Component::new(&engine, CALLER).unwrap();
        let mut linker: Linker<Ctx> = Linker::new(&engine);
        link_digest(&mut linker).unwrap();
        let mut store = Store::new(
            &engine,
            Ctx {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
                limits: StoreLimitsBuilder::new().build(),
            },
        );
        let instance = linker.instantiate(&mut store, &component).unwrap();

        let good = instance
            .get_typed_func::<(), (Fold,)>(&mut store, "good")
            .unwrap();
        let (f,) = good.call(&mut store, ()).unwrap();
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        let leaf: Hash = sha2::Sha256::digest(b"abc").into();
        assert_eq!(
            hex(&leaf),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash(f.leaf), leaf);
        // The peaks as the tree stores them, largest first: the leaf merges
        // with the last one, then the one before it.
        let (a, b) = ([b'A'; 32], [b'B'; 32]);
        assert_eq!(hash(f.peak), node_hash(&a, &node_hash(&b, &leaf)));

        let bad = instance
            .get_typed_func::<(), (Fold,)>(&mut store, "bad")
            .unwrap();
        let err = bad.call(&mut store, ()).unwrap_err();
        assert!(
            format!("{err:?}").contains("lefts of 33 bytes is not whole 32-byte hashes"),
            "{err:?}"
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}

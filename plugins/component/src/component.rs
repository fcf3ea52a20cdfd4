//! The `Guest` implementation (wasm32 only: the exports are component-model
//! names that a native linker cannot take).

use std::cell::RefCell;

use logseal_core::json::{self, Value};
use logseal_core::seal::{ChainState, ERROR_MEMBER};
use logseal_core::{Hash, Input, SealConfig, Sealer, SignerKey};
use logseal_pipeline::{Config, Processor, RuleFinding};

/// Bindings generated from the WIT, private behind the `Guest` impl.
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/processor.wit",
        world: "processor",
    });
}

use bindings::exports::logseal::plugin::sealing::{Event, Guest, Processed};

struct Setup {
    cfg: Config,
    key: SignerKey,
    proc: Processor,
}

thread_local! {
    static STATE: RefCell<Option<Setup>> = const { RefCell::new(None) };
}

/// The epoch used when the configuration gives none (the component has no clock).
pub(crate) const DEFAULT_EPOCH: &str = "component-0";

fn build(
    cfg: &Config,
    key: &SignerKey,
    epoch: &str,
    after: Option<&ChainState>,
    resume: Option<ChainState>,
) -> Result<Processor, String> {
    let stream = cfg.stream_for(key.name(), None);
    let mut sc = SealConfig::new(&stream, epoch);
    sc.checkpoint_every = cfg.checkpoint_every;
    sc.checkpoint_interval_ns = cfg.checkpoint_interval_secs.saturating_mul(1_000_000_000);
    sc.max_record_bytes = cfg.max_record_bytes;
    let mut sealer = match (resume, after) {
        (Some(st), _) => Sealer::resume(key.clone(), sc, st),
        (None, Some(prev)) => Sealer::new_epoch_after(key.clone(), sc, prev),
        (None, None) => Sealer::new(key.clone(), sc),
    }
    .map_err(|e| e.to_string())?;
    sealer.set_sha256_fold(host_sha256_fold);
    Ok(Processor::new(sealer, cfg.policy.clone()))
}

/// A record's leaf hash and its merge into the tree, by the host (`digest`
/// import): natively, with SHA instructions, in one call per record.
fn host_sha256_fold(entry: &[u8], lefts: &[Hash]) -> (Hash, Hash) {
    let f = bindings::logseal::plugin::digest::sha256_fold(entry, lefts.as_flattened());
    (hash(f.leaf), hash(f.peak))
}

/// A hash from the four big-endian words the `digest` import returns.
fn hash((a, b, c, d): (u64, u64, u64, u64)) -> Hash {
    let mut h = [0u8; 32];
    for (i, w) in [a, b, c, d].into_iter().enumerate() {
        h[i * 8..i * 8 + 8].copy_from_slice(&w.to_be_bytes());
    }
    h
}

fn unsealed(json_text: &str, why: &str) -> Vec<u8> {
    let reason = format!("not sealed: {why}");
    let mut out = Vec::new();
    match json::parse_str(json_text) {
        Ok(Value::Obj(mut m)) if !m.iter().any(|(k, _)| k == ERROR_MEMBER) => {
            m.push((ERROR_MEMBER.into(), Value::Str(reason.into())));
            json::write_seal(&Value::Obj(m), &mut out);
        }
        _ => json::write_seal(
            &Value::Obj(vec![
                ("_logseal_raw".into(), Value::Str(json_text.into())),
                (ERROR_MEMBER.into(), Value::Str(reason.into())),
            ]),
            &mut out,
        ),
    }
    out
}

struct Component;

impl Guest for Component {
    fn configure(config: String) -> Result<(), String> {
        let cfg = Config::parse(&config).map_err(|e| e.to_string())?;
        let key_text = cfg
            .key
            .clone()
            .ok_or_else(|| "configuration member \"key\": the component needs the signing key inline (it has no filesystem)".to_string())?;
        let key = SignerKey::parse(&key_text)
            .map_err(|e| format!("configuration member \"key\": {e}"))?;
        let epoch = cfg
            .epoch
            .clone()
            .unwrap_or_else(|| DEFAULT_EPOCH.to_string());
        let proc = build(&cfg, &key, &epoch, None, None)?;
        STATE.with(|s| *s.borrow_mut() = Some(Setup { cfg, key, proc }));
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Vec<Processed> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            batch
                .into_iter()
                .map(|e| match s.as_mut() {
                    None => Processed {
                        line: unsealed(&e.json, "processor not configured"),
                        checkpoint: None,
                        error: Some("processor not configured".into()),
                    },
                    Some(st) => {
                        let findings: Vec<RuleFinding> = e
                            .findings
                            .into_iter()
                            .map(|f| RuleFinding {
                                rule: f.rule,
                                severity: f.severity,
                                reason: f.reason,
                                entity: f.entity,
                                error: f.error,
                            })
                            .collect();
                        let out = st.proc.process_with(
                            Input {
                                record: e.json.as_bytes(),
                                tag: if st.cfg.seal_tag {
                                    e.tag.as_deref()
                                } else {
                                    None
                                },
                                time_ns: if st.cfg.seal_time { e.time_ns } else { None },
                                ..Input::default()
                            },
                            &findings,
                        );
                        Processed {
                            line: out.line,
                            checkpoint: out.checkpoint,
                            error: out.wrapped,
                        }
                    }
                })
                .collect()
        })
    }

    fn checkpoint() -> Option<String> {
        STATE.with(|s| {
            s.borrow()
                .as_ref()
                .and_then(|st| st.proc.sealer().checkpoint())
        })
    }

    fn state() -> String {
        STATE.with(|s| {
            s.borrow()
                .as_ref()
                .map(|st| st.proc.sealer().state().to_json())
                .unwrap_or_default()
        })
    }

    fn engine_snapshot() -> Vec<u8> {
        STATE.with(|s| {
            s.borrow()
                .as_ref()
                .map(|st| st.proc.engine_snapshot())
                .unwrap_or_default()
        })
    }

    fn mark_normal(events: Vec<String>) -> Result<u64, String> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            let st = s
                .as_mut()
                .ok_or_else(|| "processor not configured".to_string())?;
            let raw: Vec<&[u8]> = events.iter().map(|e| e.as_bytes()).collect();
            st.proc
                .mark_normal(&raw)
                .map(|n| n as u64)
                .map_err(|e| e.to_string())
        })
    }

    /// All or nothing: the chain is rebuilt into a new processor and the
    /// engine snapshot restored into that one before either replaces the
    /// running processor, so an `Err` leaves everything as it was. Found by
    /// review (27): the chain used to be replaced first and a refused engine
    /// snapshot (another policy, a torn or foreign file) then returned `Err`
    /// with the chain already restored, which a host could only take as a
    /// failed restore. A host that treats the engine as advisory (the saved
    /// baselines are only an optimisation; the chain is not) restores the
    /// two in separate calls, as `logseal serve` does.
    fn restore(
        chain_state: Option<String>,
        engine: Option<Vec<u8>>,
        continue_epoch: bool,
    ) -> Result<(), String> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            let st = s.as_mut().ok_or("restore before configure")?;
            let mut rebuilt = None;
            if let Some(text) = chain_state {
                let saved = ChainState::from_json(&text).map_err(|e| e.to_string())?;
                let epoch = st
                    .cfg
                    .epoch
                    .clone()
                    .unwrap_or_else(|| DEFAULT_EPOCH.to_string());
                if !continue_epoch && saved.epoch == epoch {
                    return Err(format!(
                        "a new epoch is needed after epoch {epoch}: configure a different \"epoch\""
                    ));
                }
                rebuilt = Some(if continue_epoch {
                    build(&st.cfg, &st.key, &epoch, None, Some(saved))?
                } else {
                    build(&st.cfg, &st.key, &epoch, Some(&saved), None)?
                });
            }
            if let Some(bytes) = engine {
                // `restore_engine` leaves the engine untouched when it refuses.
                rebuilt
                    .as_mut()
                    .unwrap_or(&mut st.proc)
                    .restore_engine(&bytes)
                    .map_err(|e| format!("engine snapshot: {e}"))?;
            }
            if let Some(p) = rebuilt {
                st.proc = p;
            }
            Ok(())
        })
    }
}

bindings::export!(Component with_types_in bindings);

//! The component backend: the `processor` component (and detection rule
//! components) in the wasmtime host of `logseal-host-harness`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::backend::{Backend, BatchOut, Loaded, Resume};

/// Open the component backend.
pub fn open(
    l: &Loaded,
    processor: &Path,
    rules: &[PathBuf],
    resume: &Resume,
) -> Result<Box<dyn Backend>> {
    Ok(Box::new(Component::new(l, processor, rules, resume)?))
}

/// The component backend: the `processor` component and rule components in
/// wasmtime.
pub struct Component {
    host: logseal_host_harness::component::ProcessorHost,
}

impl Component {
    /// Load `processor` (and `rules`) with the configuration, then restore.
    pub fn new(l: &Loaded, processor: &Path, rules: &[PathBuf], resume: &Resume) -> Result<Self> {
        if !processor.exists() {
            bail!(
                "processor component {} not found (build it with `cargo xtask build-wasm`)",
                processor.display()
            );
        }
        let load = || {
            logseal_host_harness::component::ProcessorHost::load(processor, rules, &l.inline_json)
                .with_context(|| format!("loading {}", processor.display()))
        };
        // The chain head is restored on its own and a refusal is fatal; the
        // engine snapshot is advisory, as in the native backend: refused, it
        // is reported and the engine learns afresh while the chain continues.
        // Found by review (27): both used to go in one `restore` call, so an
        // `engine.bin` written under another policy (or torn, or foreign)
        // stopped the sidecar at every start (exit 2) until someone deleted
        // it by hand, where the native backend ran on.
        let restore_chain =
            |host: &mut logseal_host_harness::component::ProcessorHost| match &resume.chain {
                Some(chain) => host
                    .restore(Some(chain), None, resume.exact)
                    .context("restoring the saved chain head into the processor"),
                None => Ok(()),
            };
        let mut host = load()?;
        restore_chain(&mut host)?;
        if let Some(engine) = &resume.engine
            && let Err(e) = host.restore(None, Some(engine), resume.exact)
        {
            resume.engine_refused(&format!("{e:#}"));
            // `restore` is all or nothing, so the instance is as it was
            // unless the component trapped, which leaves a wasmtime instance
            // unusable: start from a fresh one (this happens once, at start).
            host = load()?;
            restore_chain(&mut host)?;
        }
        Ok(Component { host })
    }
}

impl Backend for Component {
    fn process(&mut self, records: &[&[u8]]) -> Result<BatchOut> {
        use logseal_host_harness::component::Event;
        let batch: Vec<Event<'_>> = records.iter().map(|r| Event::from_bytes(r)).collect();
        let done = self.host.process(&batch)?;
        if done.len() != records.len() {
            return Err(anyhow!(
                "processor returned {} records for {}",
                done.len(),
                records.len()
            ));
        }
        let mut out = BatchOut {
            ndjson: Vec::with_capacity(done.iter().map(|p| p.line.len() + 1).sum()),
            records: records.len(),
            ..BatchOut::default()
        };
        for p in done {
            if let Some(w) = p.error {
                out.wrapped += 1;
                out.first_wrap.get_or_insert(w);
            }
            if let Some(cp) = p.checkpoint {
                out.checkpoints.push(cp);
            }
            out.ndjson.extend_from_slice(&p.line);
            out.ndjson.push(b'\n');
        }
        Ok(out)
    }

    fn state(&mut self) -> Result<String> {
        self.host.state()
    }

    fn engine_snapshot(&mut self) -> Result<Vec<u8>> {
        self.host.engine_snapshot()
    }

    fn mark_normal(&mut self, events: &[&[u8]]) -> Result<Result<u64, String>> {
        // A WIT string is UTF-8: refuse here, with the native backend's words.
        let mut texts = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            match std::str::from_utf8(e) {
                Ok(t) => texts.push(t),
                Err(err) => {
                    return Ok(Err(format!(
                        "event {}: not JSON: invalid UTF-8 at byte {}",
                        i + 1,
                        err.valid_up_to()
                    )));
                }
            }
        }
        self.host.mark_normal(&texts)
    }

    fn name(&self) -> &'static str {
        "component"
    }
}

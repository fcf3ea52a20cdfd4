//! `logseal run`: a pipeline of components over files or stdin.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use logseal_host_harness::component::{Event, ProcessorHost};

use crate::input;

/// Run NDJSON records through a processor component and rule components
/// (wasmtime, sandboxed) and write the sealed records to stdout.
///
/// The processor is `logseal_processor.wasm` (the `processor` world of
/// wit/processor.wit); rules are components of the `rule` world. A rule that
/// traps, loops or misbehaves never stalls the run or loses a record: the
/// record carries an error finding naming the rule instead.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  logseal run --processor target/wasm/logseal_processor.wasm --config logseal.json < in.ndjson > sealed.ndjson\n  \
logseal run --processor p.wasm --rule aws_root_login.wasm --rule brute_force.wasm --config logseal.json --state state/ in.ndjson"
)]
pub struct Args {
    /// The processor component.
    #[arg(long)]
    processor: PathBuf,
    /// Rule components (repeatable).
    #[arg(long = "rule")]
    rules: Vec<PathBuf>,
    /// Plugin configuration (JSON; docs in plugins/fluent-bit/README.md). A
    /// `key_file` is read here and handed to the component inline.
    #[arg(long)]
    config: PathBuf,
    /// Epoch for a new chain (overrides the configuration; default: fresh).
    #[arg(long)]
    epoch: Option<String>,
    /// Directory for the chain state: continue the chain it holds, save it at the end.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Records per call into the component.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Tag sealed with every record.
    #[arg(long)]
    tag: Option<String>,
    /// Input files ("-" or none: stdin).
    files: Vec<String>,
}

/// Read a plugin config file and inline its key for a capability-less component.
pub fn component_config(path: &PathBuf, epoch: Option<&str>) -> Result<String> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    if let Some(kf) = v
        .get("key_file")
        .and_then(|k| k.as_str())
        .map(str::to_string)
    {
        let key = fs::read_to_string(&kf).with_context(|| format!("cannot read key_file {kf}"))?;
        v["key"] = serde_json::Value::String(key.trim().to_string());
        v.as_object_mut().map(|o| o.remove("key_file"));
    }
    // The component has no filesystem: drop host-side members.
    for k in ["state_dir", "checkpoints_file"] {
        v.as_object_mut().map(|o| o.remove(k));
    }
    if let Some(e) = epoch {
        v["epoch"] = serde_json::Value::String(e.to_string());
    } else if v.get("epoch").is_none() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        use rand_core::RngCore;
        v["epoch"] = serde_json::Value::String(logseal_core::seal::new_epoch_id(
            now,
            rand_core::OsRng.next_u32(),
        ));
    }
    Ok(v.to_string())
}

pub fn run(a: Args) -> Result<ExitCode> {
    let cfg = component_config(&a.config, a.epoch.as_deref())?;
    let mut host = ProcessorHost::load(&a.processor, &a.rules, &cfg)?;
    let state_file = a.state.as_ref().map(|d| d.join("chain.json"));
    if let Some(f) = state_file.as_ref().filter(|f| f.exists()) {
        let st = fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        // Saved at the end of a clean run: continue exactly.
        host.restore(Some(&st), None, true)?;
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let files = if a.files.is_empty() {
        vec!["-".to_string()]
    } else {
        a.files.clone()
    };
    let mut batch: Vec<Event<'_>> = Vec::with_capacity(a.batch);
    let mut flush = |batch: &mut Vec<Event<'_>>, out: &mut dyn Write| -> Result<()> {
        for p in host.process(batch)? {
            out.write_all(&p.line)?;
            out.write_all(b"\n")?;
        }
        batch.clear();
        Ok(())
    };
    for f in &files {
        let mut src = input::open(f)?;
        input::for_each_line(&mut src, |_, line| {
            if line.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            batch.push(Event {
                tag: a.tag.clone().map(Into::into),
                ..Event::from_bytes(line).into_owned()
            });
            if batch.len() >= a.batch {
                flush(&mut batch, &mut out)?;
            }
            Ok(())
        })?;
    }
    flush(&mut batch, &mut out)?;
    out.flush()?;

    if let (Some(d), Some(f)) = (&a.state, &state_file) {
        fs::create_dir_all(d)?;
        let tmp = f.with_extension("tmp");
        fs::write(&tmp, host.state()?)?;
        fs::rename(&tmp, f)?;
    }
    if let Some(r) = host.rules() {
        for line in r.drain_log() {
            eprintln!("logseal run: {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

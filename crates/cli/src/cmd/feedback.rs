//! `logseal feedback`: operator feedback into a saved anomaly engine state.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use logseal_anomaly::Engine;
use logseal_pipeline::Config;

use crate::cmd::seal::load_policy;
use crate::input;

/// Mark events as normal in a saved anomaly engine state.
///
/// For false positives of the `sequence` detector: each event (a JSON object
/// per line, sealed or not; blank lines are skipped) is learned by the
/// `sequence` detectors of the policy that are frozen after their learning
/// period (`online: false`), so its event template, and the next event it
/// was, are no longer reported. Detectors that learn from every event as
/// they score it (the other detectors, and `sequence` with the default
/// `online: true`) already learned it and are left alone; a policy with no
/// frozen `sequence` detector (the presets) is refused, as marking would
/// change nothing. Events are read as the plugins read records, so a
/// sealed record is marked as it was scored. Run it while the plugin that
/// owns the state is stopped: a running plugin overwrites the file with its
/// own state (`logseal serve` takes feedback live, `POST /feedback`, and
/// the Fluent Bit module through its feedback inbox). The
/// state is only written when every line was read and learned; on any
/// error it is left unchanged.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  logseal feedback --config logseal.json --state /var/lib/logseal/engine.bin false-positives.ndjson\n  \
jq -c 'select(._anomaly.severity == \"low\")' sealed.ndjson | logseal feedback --policy policy.json --state state/audit.chain.engine -\n\n\
Exit codes: 0 the state was updated, 2 usage or input error (nothing written)."
)]
pub struct Args {
    /// The policy the state was saved under: a preset name (ecs, ocsf,
    /// k8s-audit, cloudtrail, sshd, envoy, default) or a policy file.
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    policy: Option<String>,
    /// Or the logseal configuration the state was saved under (its `policy`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Engine state to update in place (`engine.bin` in the state directory
    /// of `logseal serve`, `<stream>.chain.engine` beside the Fluent Bit plugin's
    /// chain head).
    #[arg(long)]
    state: PathBuf,
    /// Files of events to mark normal ("-" or none: stdin; gzip is detected).
    files: Vec<String>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let policy = match (&a.policy, &a.config) {
        (Some(p), _) => load_policy(p)?,
        (None, Some(c)) => {
            let text = fs::read_to_string(c)
                .with_context(|| format!("cannot read configuration {}", c.display()))?;
            Config::parse(&text)
                .map_err(|e| anyhow::anyhow!("configuration {}: {e}", c.display()))?
                .policy
                .with_context(|| format!("configuration {}: no `policy`", c.display()))?
        }
        (None, None) => bail!("--policy or --config is required"),
    };
    let bytes = fs::read(&a.state)
        .with_context(|| format!("cannot read engine state {}", a.state.display()))?;
    let mut engine = Engine::new(policy);
    engine
        .restore(&bytes)
        .with_context(|| format!("engine state {}", a.state.display()))?;
    if !engine.learns_from_feedback() {
        bail!(
            "state {}: {}",
            a.state.display(),
            logseal_pipeline::FeedbackError::NotLearning
        );
    }
    let mut marked = 0u64;
    input::for_each_record(&a.files, |name, n, line| {
        match logseal_pipeline::mark_normal(&mut engine, &[line]) {
            Ok(k) => marked += k as u64,
            Err(logseal_pipeline::FeedbackError::Event { why, .. }) => bail!("{name}:{n}: {why}"),
            Err(e) => bail!("{name}:{n}: {e}"),
        }
        Ok(())
    })?;
    let tmp = a.state.with_extension("feedback-tmp");
    fs::write(&tmp, engine.snapshot())
        .and_then(|()| fs::rename(&tmp, &a.state))
        .with_context(|| format!("cannot write engine state {}", a.state.display()))?;
    eprintln!(
        "logseal feedback: {marked} event{} marked normal in {}",
        if marked == 1 { "" } else { "s" },
        a.state.display()
    );
    Ok(ExitCode::SUCCESS)
}

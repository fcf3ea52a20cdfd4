//! `logseal eval`: score the anomaly engine on real labelled data.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use logseal_anomaly::eval::{EvalArgs, run as eval_run};

/// Evaluate the anomaly engine on labelled logs (HDFS sessions, BGL, NAB,
/// OpenSSH) with the published protocols, and write EVALUATION.md with our
/// figures beside the published ones.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  logseal eval --data ../shared/data --out EVALUATION.md\n  \
logseal eval --data ../shared/data --bgl other/BGL_2k.log --bgl-train-fraction 0.5"
)]
pub struct Args {
    /// Data directory laid out as ../shared/data (see its SOURCES.md).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Where to write the report (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// DeepLog's `hdfs_train` (normal sessions to learn from).
    #[arg(long)]
    hdfs_train: Option<PathBuf>,
    /// logdeep's `robust_log_train.csv` (labelled test sessions).
    #[arg(long)]
    hdfs_test: Option<PathBuf>,
    /// Loghub `BGL_2k.log`.
    #[arg(long)]
    bgl: Option<PathBuf>,
    /// Loghub `BGL_2k.log_structured.csv` (template labels, for the Drain
    /// miner's parsing accuracy; skipped when missing).
    #[arg(long)]
    bgl_structured: Option<PathBuf>,
    /// NAB directory (series CSVs and combined_windows.json).
    #[arg(long)]
    nab: Option<PathBuf>,
    /// Loghub `OpenSSH_2k.log`.
    #[arg(long)]
    openssh: Option<PathBuf>,
    /// Chronological fraction of BGL used for learning.
    #[arg(long)]
    bgl_train_fraction: Option<f64>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let mut ea = EvalArgs::from_data_dir(&a.data);
    if let Some(p) = a.hdfs_train {
        ea.hdfs_train = p;
    }
    if let Some(p) = a.hdfs_test {
        ea.hdfs_test = p;
    }
    if let Some(p) = a.bgl {
        ea.bgl = p;
    }
    if let Some(p) = a.bgl_structured {
        ea.bgl_structured = p;
    }
    if let Some(p) = a.nab {
        ea.nab_dir = p;
    }
    if let Some(p) = a.openssh {
        ea.openssh = p;
    }
    if let Some(f) = a.bgl_train_fraction {
        if !(f > 0.0 && f < 1.0) {
            return Err(anyhow!(
                "--bgl-train-fraction: expected a number between 0 and 1, got {f}"
            ));
        }
        ea.bgl_train_fraction = f;
    }
    let md = eval_run(&ea).map_err(|e| anyhow!("{e}"))?;
    match a.out {
        Some(p) => std::fs::write(&p, md).map_err(|e| anyhow!("{}: {e}", p.display()))?,
        None => print!("{md}"),
    }
    Ok(ExitCode::SUCCESS)
}

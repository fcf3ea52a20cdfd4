//! `logseal`: seal audit logs into tamper-evident hash chains, verify them,
//! and prove single records.
//!
//! One file per subcommand under `cmd/`; help comes from the doc comments.
//!
//! Exit codes (every subcommand): 0 success / intact, 1 tampering found,
//! 2 usage or input error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod input;
mod serve;

/// Tamper-evident, watched audit logs.
#[derive(Parser)]
#[command(name = "logseal", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 intact or success, 1 tampering found, 2 usage or input error.\n\
Format: docs/FORMAT.md. Examples: `logseal <command> --help`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Keygen(cmd::keygen::Args),
    Eval(cmd::eval::Args),
    Feedback(cmd::feedback::Args),
    Seal(cmd::seal::Args),
    Verify(cmd::verify::Args),
    Prove(cmd::prove::Args),
    Run(cmd::run::Args),
    Serve(cmd::serve::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Feedback(a) => cmd::feedback::run(a),
        Command::Seal(a) => cmd::seal::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Prove(a) => cmd::prove::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Serve(a) => cmd::serve::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("logseal: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

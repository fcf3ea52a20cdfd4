//! Evaluation on labelled data (std only). Filled in below.
use std::path::PathBuf;
use std::string::String;

/// Data file locations; every field can point at any file of the same format.
#[derive(Debug, Clone)]
pub struct EvalArgs {
    pub data: PathBuf,
}

/// Run the whole evaluation and return EVALUATION.md.
pub fn run(args: &EvalArgs) -> Result<String, String> {
    Err(std::format!(
        "not implemented yet ({})",
        args.data.display()
    ))
}

//! Project tooling: `cargo xtask <command>`.
//!
//! A user of logseal needs two commands on a fresh machine (see README.md):
//! `cargo xtask demo` and `cargo xtask test`. Everything else (building the
//! WebAssembly artifacts for their targets, the browser package) hangs off
//! those, so nobody has to remember a `--target` flag.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// One WebAssembly artifact: the package that builds it, its target, and the
/// file name it gets in `target/wasm/`.
struct Artifact {
    package: &'static str,
    target: &'static str,
    /// Name of the `.wasm` cargo writes (the lib name with `-` turned to `_`).
    built: &'static str,
    /// Name under `target/wasm/`.
    out: &'static str,
}

/// Every artifact the host-harness tests load. Add new plugins here.
const ARTIFACTS: &[Artifact] = &[
    // (entries are added as plugins land)
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Build every wasm artifact in release mode and copy it to `target/wasm/`.
fn build_wasm() -> Result<()> {
    let root = root();
    let out_dir = root.join("target/wasm");
    std::fs::create_dir_all(&out_dir)?;
    let mut targets: Vec<&str> = ARTIFACTS.iter().map(|a| a.target).collect();
    targets.sort_unstable();
    targets.dedup();
    for target in targets {
        let mut cmd = cargo();
        cmd.current_dir(&root)
            .args(["build", "--release", "--target", target]);
        for a in ARTIFACTS.iter().filter(|a| a.target == target) {
            cmd.args(["-p", a.package]);
        }
        run(&mut cmd)?;
        for a in ARTIFACTS.iter().filter(|a| a.target == target) {
            let from = root
                .join("target")
                .join(target)
                .join("release")
                .join(a.built);
            let to = out_dir.join(a.out);
            std::fs::copy(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            eprintln!("xtask: {}", to.display());
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    match args.first().map(String::as_str) {
        Some("build-wasm") => build_wasm(),
        Some("demo") => {
            build_wasm()?;
            run(cargo()
                .current_dir(&root)
                .args(["run", "--release", "-q", "-p", "logseal-cli", "--bin", "logseal-demo", "--"])
                .args(&args[1..]))
        }
        Some("test") => {
            build_wasm()?;
            run(cargo()
                .current_dir(&root)
                .args(["test", "--workspace", "--release"]))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 demo         build the plugins and run the end-to-end demo\n  \
                 test         build the plugins and run every test\n  \
                 build-wasm   build the WebAssembly artifacts into target/wasm/"
            );
            std::process::exit(2);
        }
    }
}

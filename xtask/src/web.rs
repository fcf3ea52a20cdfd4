//! The browser package (`plugins/web`): build the wasm-bindgen package, run
//! its tests in Chromium, and benchmark it against the native CLI.
//!
//! * `cargo xtask web` builds `plugins/web/pkg/` (the page and the npm
//!   package load it from there).
//! * `cargo xtask test` calls [`build`] and [`test`] after the cargo tests.
//! * `cargo xtask web-bench [RECORDS]` seals RECORDS records (default
//!   1,000,000) with `logseal seal` and times `logseal verify` and the
//!   browser build on that file.
//!
//! On a fresh machine they install what they lack: the wasm-bindgen CLI of
//! the crate's version (`cargo install`), Debian's `chromium` and Node with
//! npm (`apt-get`, as root or through sudo), the node packages (`npm ci`).
//!
//! Cargo output goes to `$CARGO_TARGET_DIR` when set, else `target/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, root, run};

/// Must equal the `wasm-bindgen` crate version in Cargo.toml.
const WASM_BINDGEN_VERSION: &str = "0.2.130";

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root.join(d),
        None => root.join("target"),
    }
}

fn web_dir(root: &Path) -> PathBuf {
    root.join("plugins/web")
}

/// Build the wasm and run wasm-bindgen into `plugins/web/pkg/`.
pub fn build() -> Result<()> {
    let root = root();
    // The shipped module: whole-program optimised (smaller and faster; only
    // this wasm32-unknown-unknown build is affected), with 128-bit SIMD
    // (every browser since 2021-2023: Chrome 91, Firefox 89, Safari 16.4),
    // which hashes four records at once (`logseal_core::many`).
    run(cargo()
        .current_dir(&root)
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
            "-C target-feature=+simd128",
        )
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "logseal-web",
        ]))?;
    let wasm = target_dir(&root).join("wasm32-unknown-unknown/release/logseal_web.wasm");
    ensure_wasm_bindgen()?;
    let pkg = web_dir(&root).join("pkg");
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--out-dir"])
        .arg(&pkg)
        .arg(&wasm))?;
    eprintln!("xtask: {}", pkg.display());
    Ok(())
}

/// The wasm-bindgen CLI of the crate's version, installed with
/// `cargo install` when missing or of another version (a fresh machine).
fn ensure_wasm_bindgen() -> Result<()> {
    let found = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match found {
        Ok(v) if v.contains(WASM_BINDGEN_VERSION) => return Ok(()),
        Ok(v) => eprintln!("xtask: wasm-bindgen is {v:?}, the crate needs {WASM_BINDGEN_VERSION}"),
        Err(_) => eprintln!("xtask: no wasm-bindgen CLI on PATH"),
    }
    // Without --locked: its lock file pins crates this toolchain cannot build.
    // --force: cargo may list it as installed though the binary is gone.
    run(cargo().args([
        "install",
        "--force",
        "wasm-bindgen-cli",
        "--version",
        WASM_BINDGEN_VERSION,
    ]))
    .context("installing wasm-bindgen-cli")?;
    let v = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .context("wasm-bindgen was installed but is not on PATH (add ~/.cargo/bin)")?;
    if !String::from_utf8_lossy(&v.stdout).contains(WASM_BINDGEN_VERSION) {
        bail!(
            "wasm-bindgen on PATH is {} after installing {WASM_BINDGEN_VERSION}: put ~/.cargo/bin first on PATH",
            String::from_utf8_lossy(&v.stdout).trim()
        );
    }
    Ok(())
}

fn on_path(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Debian's `chromium` (the browser tests drive /usr/bin/chromium) and Node
/// with npm, installed with apt-get when missing: as root, or through sudo.
fn ensure_browser_and_node() -> Result<()> {
    let mut need: Vec<&str> = Vec::new();
    if !Path::new("/usr/bin/chromium").is_file() {
        need.push("chromium");
    }
    if !on_path("node") {
        need.push("nodejs");
    }
    if !on_path("npm") {
        need.push("npm");
    }
    if need.is_empty() {
        return Ok(());
    }
    if !on_path("apt-get") {
        bail!(
            "the browser tests need {} and this machine has no apt-get: install them, then run again",
            need.join(", ")
        );
    }
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let apt = |args: &[&str]| {
        let mut c = if root_user {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        c
    };
    eprintln!(
        "xtask: the browser tests need {}; installing",
        need.join(", ")
    );
    run(&mut apt(&["update", "-qq"])).context("apt-get update")?;
    run(apt(&["install", "-y", "-qq"]).args(&need))
        .with_context(|| format!("apt-get install {}", need.join(" ")))
}

/// The logseal CLI the tests compare with, built if needed.
fn cli(root: &Path) -> Result<PathBuf> {
    run(cargo().current_dir(root).args([
        "build",
        "--release",
        "-p",
        "logseal-cli",
        "--bin",
        "logseal",
    ]))?;
    Ok(target_dir(root).join("release/logseal"))
}

/// `npm ci` if playwright-core is not installed yet.
fn node_modules(web: &Path) -> Result<()> {
    if web
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return Ok(());
    }
    run(Command::new("npm")
        .current_dir(web)
        .args(["ci", "--no-audit", "--no-fund"]))
    .context("installing the browser tests' node packages (npm ci in plugins/web)")
}

/// Run the Node/Playwright tests in `plugins/web/tests/` (needs [`build`] first).
pub fn test() -> Result<()> {
    ensure_browser_and_node()?;
    let root = root();
    let web = web_dir(&root);
    let bin = cli(&root)?;
    node_modules(&web)?;
    run(Command::new("node")
        .current_dir(&web)
        .env("LOGSEAL_BIN", &bin)
        .args(["--test", "--test-concurrency=1", "tests/"]))
    .context("the browser tests failed (screenshots: tests/artifacts/web/)")
}

/// Verification speed, browser build against the native CLI.
pub fn bench(records: u64) -> Result<()> {
    ensure_browser_and_node()?;
    let root = root();
    let web = web_dir(&root);
    let bin = cli(&root)?;
    node_modules(&web)?;
    run(Command::new("node")
        .current_dir(&web)
        .env("LOGSEAL_BIN", &bin)
        .args(["tests/bench.mjs", &records.to_string()]))
}

//! Project tooling: `cargo xtask <command>`.
//!
//! A user of logseal needs two commands on a fresh machine (see README.md):
//! `cargo xtask demo` and `cargo xtask test`. Everything else (building the
//! WebAssembly artifacts for their targets, the browser package) hangs off
//! those, so nobody has to remember a `--target` flag.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod fixtures;
mod web;

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
    // The processor world as a component (plugins/component).
    Artifact {
        package: "logseal-component",
        target: "wasm32-wasip2",
        built: "logseal_component.wasm",
        out: "logseal_processor.wasm",
    },
    // Fluent Bit filter_wasm module (plugins/fluent-bit).
    Artifact {
        package: "logseal-fluent-bit",
        target: "wasm32-wasip1",
        built: "logseal_fluent_bit.wasm",
        out: "logseal_fluent_bit.wasm",
    },
    // Detection rules (wit/rule.wit `rule` world), loaded by host-harness/tests/rules_*.rs.
    Artifact {
        package: "logseal-rule-aws-root-login-failed",
        target: "wasm32-wasip2",
        built: "logseal_rule_aws_root_login_failed.wasm",
        out: "logseal_rule_aws_root_login_failed.wasm",
    },
    Artifact {
        package: "logseal-rule-aws-root-access-key-created",
        target: "wasm32-wasip2",
        built: "logseal_rule_aws_root_access_key_created.wasm",
        out: "logseal_rule_aws_root_access_key_created.wasm",
    },
    Artifact {
        package: "logseal-rule-aws-cloudtrail-stopped",
        target: "wasm32-wasip2",
        built: "logseal_rule_aws_cloudtrail_stopped.wasm",
        out: "logseal_rule_aws_cloudtrail_stopped.wasm",
    },
    Artifact {
        package: "logseal-rule-aws-root-password-changed",
        target: "wasm32-wasip2",
        built: "logseal_rule_aws_root_password_changed.wasm",
        out: "logseal_rule_aws_root_password_changed.wasm",
    },
    Artifact {
        package: "logseal-rule-k8s-pod-exec",
        target: "wasm32-wasip2",
        built: "logseal_rule_k8s_pod_exec.wasm",
        out: "logseal_rule_k8s_pod_exec.wasm",
    },
    Artifact {
        package: "logseal-rule-k8s-pod-host-pid",
        target: "wasm32-wasip2",
        built: "logseal_rule_k8s_pod_host_pid.wasm",
        out: "logseal_rule_k8s_pod_host_pid.wasm",
    },
    Artifact {
        package: "logseal-rule-k8s-pod-host-ipc",
        target: "wasm32-wasip2",
        built: "logseal_rule_k8s_pod_host_ipc.wasm",
        out: "logseal_rule_k8s_pod_host_ipc.wasm",
    },
    Artifact {
        package: "logseal-rule-k8s-pod-host-network",
        target: "wasm32-wasip2",
        built: "logseal_rule_k8s_pod_host_network.wasm",
        out: "logseal_rule_k8s_pod_host_network.wasm",
    },
    Artifact {
        package: "logseal-rule-okta-account-locked",
        target: "wasm32-wasip2",
        built: "logseal_rule_okta_account_locked.wasm",
        out: "logseal_rule_okta_account_locked.wasm",
    },
    Artifact {
        package: "logseal-rule-okta-mfa-disabled",
        target: "wasm32-wasip2",
        built: "logseal_rule_okta_mfa_disabled.wasm",
        out: "logseal_rule_okta_mfa_disabled.wasm",
    },
    Artifact {
        package: "logseal-rule-okta-api-key-created",
        target: "wasm32-wasip2",
        built: "logseal_rule_okta_api_key_created.wasm",
        out: "logseal_rule_okta_api_key_created.wasm",
    },
    Artifact {
        package: "logseal-rule-github-branch-protection-disabled",
        target: "wasm32-wasip2",
        built: "logseal_rule_github_branch_protection_disabled.wasm",
        out: "logseal_rule_github_branch_protection_disabled.wasm",
    },
    Artifact {
        package: "logseal-rule-github-repo-hook-modified",
        target: "wasm32-wasip2",
        built: "logseal_rule_github_repo_hook_modified.wasm",
        out: "logseal_rule_github_repo_hook_modified.wasm",
    },
    Artifact {
        package: "logseal-rule-github-user-access-key-created",
        target: "wasm32-wasip2",
        built: "logseal_rule_github_user_access_key_created.wasm",
        out: "logseal_rule_github_user_access_key_created.wasm",
    },
    Artifact {
        package: "logseal-rule-github-repo-visibility-change",
        target: "wasm32-wasip2",
        built: "logseal_rule_github_repo_visibility_change.wasm",
        out: "logseal_rule_github_repo_visibility_change.wasm",
    },
    Artifact {
        package: "logseal-rule-brute-force-by-ip",
        target: "wasm32-wasip2",
        built: "logseal_rule_brute_force_by_ip.wasm",
        out: "logseal_rule_brute_force_by_ip.wasm",
    },
    Artifact {
        package: "logseal-rule-hostile",
        target: "wasm32-wasip2",
        built: "logseal_rule_hostile.wasm",
        out: "logseal_rule_hostile.wasm",
    },
    Artifact {
        package: "logseal-rule-noop",
        target: "wasm32-wasip2",
        built: "logseal_rule_noop.wasm",
        out: "logseal_rule_noop.wasm",
    },
    // Envoy / proxy-wasm HTTP filter (plugins/envoy), loaded by host-harness/tests/envoy.rs.
    Artifact {
        package: "logseal-envoy",
        target: "wasm32-wasip1",
        built: "logseal_envoy.wasm",
        out: "logseal_envoy.wasm",
    },
    // (entries are added as plugins land)
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Cargo's target directory (honours CARGO_TARGET_DIR).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Install the wasm targets if rustup lacks them (a fresh machine).
fn ensure_targets() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let missing: Vec<&str> = ["wasm32-wasip1", "wasm32-wasip2", "wasm32-unknown-unknown"]
        .into_iter()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        run(Command::new("rustup")
            .args(["target", "add"])
            .args(&missing))?;
    }
    Ok(())
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
    ensure_targets()?;
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
            let from = target_dir(&root).join(target).join("release").join(a.built);
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
        Some("vectors") => run(cargo().current_dir(&root).env("LOGSEAL_BLESS", "1").args([
            "test",
            "-p",
            "logseal-core",
            "--test",
            "logseal_vectors",
            "--test",
            "vectors",
        ])),
        Some("fixtures") => {
            let data = args
                .get(1)
                .map_or_else(|| root.join("../shared/data"), PathBuf::from);
            fixtures::run(&data, &root)
        }
        Some("web") => web::build(),
        Some("web-bench") => {
            let records = match args.get(1) {
                Some(n) => n
                    .parse()
                    .with_context(|| format!("web-bench: {n:?} is not a record count"))?,
                None => 1_000_000,
            };
            web::build()?;
            web::bench(records)
        }
        Some("demo") => {
            build_wasm()?;
            run(cargo().current_dir(&root).args([
                "build",
                "--release",
                "-q",
                "-p",
                "logseal-cli",
                "-p",
                "logseal-host-harness",
                "--bins",
            ]))?;
            let bin = |name: &str| target_dir(&root).join("release").join(name);
            run(Command::new(bin("logseal-demo"))
                .current_dir(&root)
                .arg("--wasm")
                .arg(root.join("target/wasm"))
                .arg("--logseal")
                .arg(bin("logseal"))
                .arg("--out")
                .arg(root.join("target/demo"))
                .args(&args[1..]))
        }
        Some("test") => {
            build_wasm()?;
            // The core is no_std + alloc: keep it building without `std`.
            run(cargo().current_dir(&root).args([
                "build",
                "-p",
                "logseal-core",
                "--no-default-features",
                "--target",
                "wasm32-unknown-unknown",
            ]))?;
            run(cargo()
                .current_dir(&root)
                .args(["test", "--workspace", "--release"]))?;
            // The browser package: wasm-bindgen build, then its Chromium tests.
            web::build()?;
            web::test()
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 demo         build the plugins and run the end-to-end demo\n  \
                 test         build the plugins and run every test\n  \
                 build-wasm   build the WebAssembly artifacts into target/wasm/\n  \
                 web          build the browser package into plugins/web/pkg/\n  \
                 web-bench [RECORDS]  browser vs native verification speed (default 1000000)\n  \
                 fixtures [DATA]  regenerate tests/fixtures/ from the shared data\n  \
                 vectors      regenerate tests/vectors/logseal/ (the format's own vectors)"
            );
            std::process::exit(2);
        }
    }
}

//! The reference sealer (`logseal seal`) and the Fluent Bit module produce
//! byte-identical sealed records for the same input and configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use logseal_core::SignerKey;
use logseal_host_harness::fluent_bit::{FluentBitFilter, Options, json_mode};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn wasm(name: &str) -> PathBuf {
    let dir = std::env::var_os("LOGSEAL_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/wasm"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask build-wasm` first",
        p.display()
    );
    p
}

fn key() -> SignerKey {
    SignerKey::from_seed("fb.logseal.test/audit", [3; 32]).unwrap()
}

/// The stdout of a `logseal` run that must succeed (its stderr otherwise).
fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn seal_cli(keyfile: &Path, input: &Path) -> String {
    stdout_of(
        Command::new(env!("CARGO_BIN_EXE_logseal"))
            .args(["seal", "--key"])
            .arg(keyfile)
            .args([
                "--epoch",
                "x1",
                "--checkpoint-every",
                "100",
                "--policy",
                "sshd",
                "--no-final-checkpoint",
            ])
            .arg(input),
    )
}

#[test]
fn module_and_native_cli_seal_byte_identically() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/openssh_2k.ndjson")).unwrap();
    let recs: Vec<&str> = text.lines().take(600).collect();
    let dir = tempfile::tempdir().unwrap();
    // No host time or tag: the CLI has neither.
    let cfg: Value = json!({"key": key().to_private_string(), "epoch": "x1", "checkpoint_every": 100,
        "policy": "sshd", "seal_time": false, "seal_tag": false});
    std::fs::write(dir.path().join("logseal.json"), cfg.to_string()).unwrap();
    let mut f = FluentBitFilter::load(
        &wasm("logseal_fluent_bit.wasm"),
        &Options {
            accessible_paths: vec![dir.path().to_path_buf()],
            ..Options::default()
        },
    )
    .unwrap();
    let plugin: Vec<String> = recs
        .iter()
        .map(|r| f.call("t", 1, 0, r).unwrap().expect_kept())
        .collect();
    let keyfile = dir.path().join("k.key");
    std::fs::write(&keyfile, key().to_private_string()).unwrap();
    // What the module saw: Fluent Bit's JSON conversion of each record.
    let input = dir.path().join("in.ndjson");
    let converted: Vec<String> = recs.iter().map(|r| json_mode(r).unwrap()).collect();
    std::fs::write(&input, converted.join("\n") + "\n").unwrap();
    let native_text = seal_cli(&keyfile, &input);
    let native: Vec<&str> = native_text.lines().collect();
    assert_eq!(native.len(), plugin.len());
    for (i, (a, b)) in native.iter().zip(&plugin).enumerate() {
        assert_eq!(*a, b, "record {i} differs");
    }
    // The original (unconverted) text seals identically too: canonical form.
    std::fs::write(&input, recs.join("\n") + "\n").unwrap();
    assert_eq!(seal_cli(&keyfile, &input), native_text);
}

/// `logseal run` (the processor component) and `logseal seal` agree byte for
/// byte, on invalid UTF-8 too: the component cannot receive those bytes as a
/// WIT string, so the host hands it the native sealer's wrapper (the bytes in
/// base64), never a lossy copy.
#[test]
fn component_run_and_native_cli_seal_byte_identically_with_invalid_utf8() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/openssh_2k.ndjson")).unwrap();
    let mut input: Vec<u8> = Vec::new();
    for (i, r) in text.lines().take(300).enumerate() {
        input.extend_from_slice(r.as_bytes());
        input.push(b'\n');
        if i % 97 == 5 {
            input.extend_from_slice(b"{\"user\":\"caf\xe9\",\"n\":1}\n\xff\xfe not even json\n");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("k.key");
    std::fs::write(&keyfile, key().to_private_string()).unwrap();
    let infile = dir.path().join("in.ndjson");
    std::fs::write(&infile, &input).unwrap();
    let native = seal_cli(&keyfile, &infile);
    let cfg = json!({"key_file": keyfile, "checkpoint_every": 100, "policy": "sshd",
        "seal_time": false, "seal_tag": false});
    let cfgfile = dir.path().join("logseal.json");
    std::fs::write(&cfgfile, cfg.to_string()).unwrap();
    let run = stdout_of(
        Command::new(env!("CARGO_BIN_EXE_logseal"))
            .arg("run")
            .arg("--processor")
            .arg(wasm("logseal_processor.wasm"))
            .arg("--config")
            .arg(&cfgfile)
            .args(["--epoch", "x1", "--batch", "64"])
            .arg(&infile),
    );
    let (run, native): (Vec<&str>, Vec<&str>) = (run.lines().collect(), native.lines().collect());
    // `seal` ends without a checkpoint (--no-final-checkpoint); so does `run`.
    assert_eq!(run.len(), native.len());
    assert!(
        run.iter()
            .filter(|l| l.contains("_logseal_raw_b64"))
            .count()
            >= 6
    );
    for (i, (a, b)) in run.iter().zip(&native).enumerate() {
        assert_eq!(a, b, "line {} differs", i + 1);
    }
}

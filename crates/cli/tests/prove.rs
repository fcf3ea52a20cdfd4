//! `logseal prove`: the proof it prints verifies for the record it names
//! (and for no other), and bad input gets a clear error and exit code 2.

use std::path::Path;
use std::process::{Command, Output};

use logseal_core::SignerKey;
use logseal_core::proof::TlogProof;
use logseal_core::record::{self, AddedFields};

fn logseal(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logseal"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// 25 records sealed with a checkpoint every 10; the key; the sealed lines.
fn sealed(dir: &Path) -> (SignerKey, Vec<String>) {
    let key = SignerKey::from_seed("prove.logseal.test/audit", [9; 32]).unwrap();
    std::fs::write(dir.join("audit.key"), key.to_private_string() + "\n").unwrap();
    let input: Vec<String> = (0..25)
        .map(|i| serde_json::json!({"id": i, "msg": format!("event {i}")}).to_string())
        .collect();
    std::fs::write(dir.join("in.ndjson"), input.join("\n") + "\n").unwrap();
    let args = [
        "seal",
        "--key",
        "audit.key",
        "--epoch",
        "e1",
        "--checkpoint-every",
        "10",
        "--no-final-checkpoint",
        "--checkpoints",
        "cps.txt",
        "in.ndjson",
    ];
    let o = logseal(dir, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    std::fs::write(dir.join("sealed.ndjson"), &text).unwrap();
    (key, text.lines().map(str::to_string).collect())
}

fn leaf(line: &str) -> logseal_core::merkle::Hash {
    record::read(line.as_bytes(), &AddedFields::default())
        .unwrap()
        .hash
}

#[test]
fn the_proof_verifies_for_its_record_only() {
    let dir = tempfile::tempdir().unwrap();
    let (key, lines) = sealed(dir.path());
    let vk = key.verifier().to_string();
    let o = logseal(
        dir.path(),
        &["prove", "--seq", "13", "--key", &vk, "sealed.ndjson"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let proof = TlogProof::parse(&String::from_utf8(o.stdout.clone()).unwrap()).unwrap();
    assert_eq!(proof.index, 13);
    let keys = [key.verifier()];
    // the newest checkpoint that covers seq 13: size 20
    let cp = proof.verify(&leaf(&lines[13]), &keys).unwrap();
    assert_eq!(cp.checkpoint.size, 20);
    assert!(proof.verify(&leaf(&lines[12]), &keys).is_err());
    // with the checkpoints kept apart too, and no key: the same proof
    let again = logseal(
        dir.path(),
        &[
            "prove",
            "--seq",
            "13",
            "--checkpoints",
            "cps.txt",
            "sealed.ndjson",
        ],
    );
    assert!(again.status.success());
    assert_eq!(again.stdout, o.stdout);
    // the checkpoints without the records: a clear error
    let o = logseal(
        dir.path(),
        &["prove", "--seq", "13", "--checkpoints", "cps.txt", "-"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("seq 13 of prove.logseal.test/audit epoch e1 is not in the input"),
        "{err}"
    );
}

#[test]
fn records_past_the_last_checkpoint_are_only_linked() {
    let dir = tempfile::tempdir().unwrap();
    sealed(dir.path());
    let o = logseal(dir.path(), &["prove", "--seq", "22", "sealed.ndjson"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("only linked, not signed yet"), "{err}");
    let o = logseal(dir.path(), &["prove", "--seq", "99", "sealed.ndjson"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("seq 99"));
}

#[test]
fn a_tampered_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lines) = sealed(dir.path());
    let mut t = lines.clone();
    t[5] = t[5].replace("event 5", "event 6");
    std::fs::write(dir.path().join("t.ndjson"), t.join("\n") + "\n").unwrap();
    let o = logseal(dir.path(), &["prove", "--seq", "3", "t.ndjson"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("t.ndjson:6: record seq 5 does not match its seal"),
        "{err}"
    );
}

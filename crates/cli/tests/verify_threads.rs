//! `logseal verify` reads records on worker threads; the report must not
//! depend on how many. Tampered logs longer than one batch (2048 lines),
//! with blank lines, over two files, checked with 1, 2 and 3 threads.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn logseal(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logseal"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn report_is_the_same_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (code, _) = logseal(&[
        "keygen",
        "--name",
        "threads.logseal.test/audit",
        "--out",
        &d(""),
    ]);
    assert_eq!(code, 0);
    let key = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "key"))
        .expect("keygen wrote a .key file");
    let public = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pub"))
        .expect("keygen wrote a .pub file");
    // 6000 records: three copies of the fixture.
    let fixture = std::fs::read_to_string(root().join("tests/fixtures/openssh_2k.ndjson")).unwrap();
    std::fs::write(d("in.ndjson"), fixture.repeat(3)).unwrap();
    let (code, sealed) = logseal(&[
        "seal",
        "--key",
        key.to_str().unwrap(),
        "--checkpoint-every",
        "500",
        &d("in.ndjson"),
    ]);
    assert_eq!(code, 0);
    let mut lines: Vec<String> = sealed.lines().map(str::to_string).collect();
    assert!(lines.len() >= 6000);
    // Tamper across batch boundaries: modify, delete, swap, blank lines.
    lines[2047] = lines[2047].replacen("sshd", "SSHD", 1);
    lines.remove(4100);
    lines.swap(2048, 2049);
    lines.insert(3000, String::new());
    lines.insert(10, "   ".to_string());
    let (a, b) = lines.split_at(3500);
    std::fs::write(d("a.ndjson"), a.join("\n") + "\n").unwrap();
    std::fs::write(d("b.ndjson"), b.join("\r\n")).unwrap();

    let report = |threads: &str| {
        logseal(&[
            "verify",
            "--quiet",
            "--format",
            "json",
            "--key",
            public.to_str().unwrap(),
            "--threads",
            threads,
            &d("a.ndjson"),
            &d("b.ndjson"),
        ])
    };
    let (code1, one) = report("1");
    assert_eq!(code1, 1, "tampering must be found: {one}");
    assert!(one.contains("\"modified\""), "{one}");
    assert!(one.contains("\"deleted\""), "{one}");
    for t in ["2", "3"] {
        let (code, many) = report(t);
        assert_eq!(code, code1);
        assert_eq!(many, one, "report with {t} threads differs");
    }
}

//! The README demo (`cargo xtask demo`): seal a real log through the real
//! Fluent Bit module (loaded as filter_wasm loads it), write it as Fluent
//! Bit's `file` output would, verify it with the `logseal` CLI, show the
//! anomalies, then tamper with copies and show each verdict.
//!
//! Usage: logseal-demo --wasm DIR --logseal BIN --out DIR [--log FILE.ndjson] [--policy NAME]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use logseal_core::SignerKey;
use logseal_host_harness::fluent_bit::{FluentBitFilter, Options, json_lines};
use serde_json::{Value, json};

struct Args {
    wasm: PathBuf,
    logseal: PathBuf,
    out: PathBuf,
    log: PathBuf,
    policy: String,
}

fn args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        wasm: PathBuf::from("target/wasm"),
        logseal: PathBuf::from("target/release/logseal"),
        out: PathBuf::from("target/demo"),
        log: PathBuf::from("tests/fixtures/openssh_2k.ndjson"),
        policy: "sshd".into(),
    };
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--wasm" => a.wasm = v.into(),
            "--logseal" => a.logseal = v.into(),
            "--out" => a.out = v.into(),
            "--log" => a.log = v.into(),
            "--policy" => a.policy = v,
            _ => bail!("unknown argument {k}"),
        }
    }
    Ok(a)
}

fn banner(s: &str) {
    println!("\n\x1b[1m== {s}\x1b[0m");
}

/// Run `logseal verify` on a file and print what it says.
fn verify(a: &Args, pubkey: &Path, cps: &Path, file: &Path) -> Result<i32> {
    let out = Command::new(&a.logseal)
        .arg("verify")
        .arg("--key")
        .arg(pubkey)
        .arg("--checkpoints")
        .arg(cps)
        .args(["--time-field", "date"])
        .arg(file)
        .output()
        .with_context(|| format!("running {}", a.logseal.display()))?;
    let code = out.status.code().unwrap_or(-1);
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        println!("    {line}");
    }
    print!("{}", String::from_utf8_lossy(&out.stderr));
    println!("    (exit code {code})");
    Ok(code)
}

fn main() -> Result<()> {
    let a = args()?;
    fs::create_dir_all(&a.out)?;
    let out = fs::canonicalize(&a.out)?;
    let cfg_dir = out.join("etc");
    let state_dir = out.join("state");
    for d in [&cfg_dir, &state_dir] {
        if d.exists() {
            fs::remove_dir_all(d)?;
        }
        fs::create_dir_all(d)?;
    }

    banner("1. A signing key and the Fluent Bit filter configuration");
    let mut seed = [0u8; 32];
    getrandom(&mut seed)?;
    let key = SignerKey::from_seed("demo.logseal.dev/sshd", seed)?;
    let keyfile = cfg_dir.join("demo.key");
    let pubfile = out.join("demo.pub");
    fs::write(&keyfile, key.to_private_string() + "\n")?;
    fs::write(&pubfile, key.verifier().to_string() + "\n")?;
    let cps = state_dir.join("checkpoints.txt");
    let config = json!({
        "key_file": keyfile.to_str(),
        "checkpoint_every": 100,
        "checkpoints_file": cps.to_str(),
        "state_dir": state_dir.to_str(),
        "save_every": 100,
        "policy": a.policy,
    });
    fs::write(
        cfg_dir.join("logseal.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    println!("    verifier key: {}", key.verifier());
    println!(
        "    {}:\n{}",
        cfg_dir.join("logseal.json").display(),
        indent(&serde_json::to_string_pretty(&config)?)
    );

    banner("2. Replay the log through filter_wasm (logseal_fluent_bit.wasm in wasmtime)");
    let wasm = a.wasm.join("logseal_fluent_bit.wasm");
    let mut f = FluentBitFilter::load(
        &wasm,
        &Options {
            accessible_paths: vec![cfg_dir.clone(), state_dir.clone()],
            ..Options::default()
        },
    )?;
    let text =
        fs::read_to_string(&a.log).with_context(|| format!("reading {}", a.log.display()))?;
    let mut lines = Vec::new();
    let started = std::time::Instant::now();
    for (i, rec) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let v: Value = serde_json::from_str(rec).unwrap_or(Value::Null);
        let secs = v["@timestamp"]
            .as_str()
            .and_then(|s| logseal_anomaly::parse_time_secs(s, 2015))
            .unwrap_or(1_700_000_000.0 + i as f64);
        let (s, ns) = (secs as u32, ((secs.fract() * 1e9) as u32).min(999_999_999));
        let body = match f.call_raw(b"sshd.auth", s, ns, Some(rec.as_bytes()), rec.len())? {
            logseal_host_harness::fluent_bit::Outcome::Kept(b) => b,
            logseal_host_harness::fluent_bit::Outcome::Dropped(why) => {
                bail!("record {i} dropped: {why}")
            }
        };
        lines.push(json_lines("date", s, ns, &body)?);
    }
    let took = started.elapsed();
    print!("{}", indent(&f.stderr()));
    let sealed = out.join("sealed.log");
    fs::write(&sealed, lines.join("\n") + "\n")?;
    println!(
        "    {} records sealed in {:.1} ms ({:.1} µs/record), written as out_file json_lines to {}",
        lines.len(),
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / lines.len().max(1) as f64,
        sealed.display()
    );
    println!("    first record:\n{}", indent(&lines[0]));

    banner("3. Verify the sealed log");
    let code = verify(&a, &pubfile, &cps, &sealed)?;
    if code != 0 {
        bail!("the intact log did not verify");
    }

    banner("4. Anomalies the engine flagged (sealed with each record)");
    let mut flagged: Vec<(f64, String, String)> = lines
        .iter()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let score = v["_anomaly"]["score"].as_f64()?;
            (score >= 0.5).then(|| {
                (
                    score,
                    v["_anomaly"]["severity"].as_str().unwrap_or("").to_string(),
                    format!(
                        "seq {:>4} {} {}: {}",
                        v["_logseal"]["seq"],
                        v["source"]["ip"].as_str().unwrap_or("-"),
                        v["user"]["name"].as_str().unwrap_or("-"),
                        v["_anomaly"]["reason"].as_str().unwrap_or("")
                    ),
                )
            })
        })
        .collect();
    println!(
        "    {} of {} records scored >= 0.5",
        flagged.len(),
        lines.len()
    );
    let mut ips: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["_anomaly"]["score"].as_f64()? >= 0.5)
                .then(|| v["source"]["ip"].as_str().map(str::to_string))?
        })
        .collect();
    ips.sort();
    ips.dedup();
    println!("    source IPs flagged: {}", ips.join(", "));
    flagged.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (score, sev, what) in flagged.iter().take(8) {
        println!("    {score:.2} {sev:<8} {what}");
    }

    banner("5. Tampering, each on a fresh copy");
    let pick = |pat: &str| {
        lines
            .iter()
            .position(|l| l.contains(pat))
            .unwrap_or(lines.len() / 2)
    };
    let accepted = pick("Accepted password");
    let mut cases: Vec<(String, Vec<String>)> = Vec::new();
    let mut t = lines.clone();
    t[accepted] = t[accepted].replacen("Accepted password for ", "Accepted password for r00t", 1);
    cases.push((
        format!("edit the successful login at line {}", accepted + 1),
        t,
    ));
    let mut t = lines.clone();
    t.drain(700..705);
    cases.push(("delete lines 701-705".into(), t));
    let mut t = lines.clone();
    let mut forged: Value = serde_json::from_str(&t[300])?;
    forged["message"] = json!("Accepted password for mallory from 10.0.0.66 port 4242 ssh2");
    // The entry hash needs no key: a forger recomputes it for the new content.
    let added = logseal_core::record::AddedFields {
        time_field: Some("date".into()),
        tag_field: None,
    };
    let r = logseal_core::record::read(forged.to_string().as_bytes(), &added)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    forged["_logseal"]["hash"] = json!(logseal_core::b64(&r.computed));
    t.insert(301, forged.to_string());
    cases.push((
        "insert a forged record (valid-looking hash) after line 301".into(),
        t,
    ));
    let mut t = lines.clone();
    t.truncate(lines.len() - 37);
    cases.push(("cut the last 37 records off".into(), t));
    let mut t = lines.clone();
    t[42] = t[42].replacen("\"date\":14", "\"date\":15", 1);
    cases.push(("change the time Fluent Bit stored for line 43".into(), t));
    let mut t = lines.clone();
    t.reverse();
    cases.push(("reverse the order of all records (not tampering)".into(), t));
    for (i, (what, t)) in cases.iter().enumerate() {
        println!("\n  5.{} {what}", i + 1);
        let file = out.join(format!("tampered-{}.log", i + 1));
        fs::write(&file, t.join("\n") + "\n")?;
        verify(&a, &pubfile, &cps, &file)?;
    }
    println!("\nFiles are in {}.", out.display());
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("      {l}\n")).collect()
}

/// 32 random bytes from the OS.
fn getrandom(buf: &mut [u8]) -> Result<()> {
    use std::io::Read;
    fs::File::open("/dev/urandom")?.read_exact(buf)?;
    Ok(())
}

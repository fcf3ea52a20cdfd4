//! `logseal-eval --data ../shared/data --out EVALUATION.md`
//! Overrides: `--hdfs-train F --hdfs-test F --bgl F --bgl-structured F --nab DIR --openssh F --bgl-train-fraction X`.

use logseal_anomaly::eval::{EvalArgs, run};
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut data = PathBuf::from("../shared/data");
    let mut out: Option<PathBuf> = None;
    let mut over: Vec<(String, String)> = Vec::new();
    while let Some(a) = args.next() {
        let val = |args: &mut dyn Iterator<Item = String>| {
            args.next().unwrap_or_else(|| {
                eprintln!("{a} needs a value");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--data" => data = PathBuf::from(val(&mut args)),
            "--out" => out = Some(PathBuf::from(val(&mut args))),
            "--hdfs-train"
            | "--hdfs-test"
            | "--bgl"
            | "--bgl-structured"
            | "--nab"
            | "--openssh"
            | "--bgl-train-fraction" => {
                let v = val(&mut args);
                over.push((a.clone(), v));
            }
            "-h" | "--help" => {
                println!(
                    "usage: logseal-eval [--data DIR] [--out FILE] [--hdfs-train F] [--hdfs-test F] [--bgl F] [--bgl-structured F] [--nab DIR] [--openssh F] [--bgl-train-fraction X]"
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let mut ea = EvalArgs::from_data_dir(&data);
    for (k, v) in over {
        match k.as_str() {
            "--hdfs-train" => ea.hdfs_train = v.into(),
            "--hdfs-test" => ea.hdfs_test = v.into(),
            "--bgl" => ea.bgl = v.into(),
            "--bgl-structured" => ea.bgl_structured = v.into(),
            "--nab" => ea.nab_dir = v.into(),
            "--openssh" => ea.openssh = v.into(),
            _ => match v.parse::<f64>() {
                Ok(f) if f > 0.0 && f < 1.0 => ea.bgl_train_fraction = f,
                _ => {
                    eprintln!("--bgl-train-fraction: expected a number between 0 and 1, got {v:?}");
                    std::process::exit(2);
                }
            },
        }
    }
    match run(&ea) {
        Ok(md) => match out {
            Some(p) => {
                if let Err(e) = std::fs::write(&p, md) {
                    eprintln!("{}: {e}", p.display());
                    std::process::exit(1);
                }
            }
            None => print!("{md}"),
        },
        Err(e) => {
            eprintln!("logseal-eval: {e}");
            std::process::exit(1);
        }
    }
}

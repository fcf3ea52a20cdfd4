//! Development harness for the `gauge` model on NAB: parameters are explored on the
//! *dev* half of realKnownCause only (series 0, 2, 4, 6 in name order); the other
//! half is scored with the dev threshold only when `NAB_ALL=1`.
//! `cargo run -p logseal-anomaly --release --example nab_dev -- [bins order half_life calib short warmup rest rest_p]`

use logseal_anomaly::eval::{NabSeries, nab_evaluate, nab_load};
use logseal_anomaly::gauge::{GaugeParams, GaugeState};
use std::path::Path;

fn scores(s: &NabSeries, p: &GaugeParams) -> Vec<f64> {
    let mut st = GaugeState::default();
    s.values
        .iter()
        .map(|&x| -libm::log10(st.observe(x, p).p.max(1e-12)))
        .collect()
}

fn main() {
    let a: Vec<f64> = std::env::args()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let mut p = GaugeParams::default();
    let g = |i: usize, d: f64| a.get(i).copied().unwrap_or(d);
    p.bins = g(0, p.bins as f64) as u32;
    p.order = g(1, p.order as f64) as u32;
    p.half_life = g(2, p.half_life);
    p.calib_half_life = g(3, p.calib_half_life);
    p.short = g(4, p.short);
    p.warmup = g(5, p.warmup as f64) as u32;
    p.rest = g(6, p.rest as f64) as u32;
    p.rest_p = g(7, p.rest_p);
    p.evidence = g(8, p.evidence as f64) as u8;
    let all = nab_load(Path::new("/work/shared/data/nab_realKnownCause")).unwrap();
    let dev: Vec<&NabSeries> = all.iter().step_by(2).collect();
    let dsc: Vec<Vec<f64>> = dev.iter().map(|s| scores(s, &p)).collect();
    let r = nab_evaluate(&dev, &dsc, None);
    println!(
        "{p:?}\nDEV score {:.1} th {:.3} det {}/{} fp {}",
        r.score, r.threshold, r.detected_windows, r.windows, r.false_positives
    );
    for f in &r.per_file {
        println!("  {f:?}");
    }
    if std::env::var_os("NAB_ALL").is_some() {
        let test: Vec<&NabSeries> = all.iter().skip(1).step_by(2).collect();
        let tsc: Vec<Vec<f64>> = test.iter().map(|s| scores(s, &p)).collect();
        let t = nab_evaluate(&test, &tsc, Some(r.threshold));
        println!(
            "HELD-OUT (dev threshold) {:.1} det {}/{} fp {}",
            t.score, t.detected_windows, t.windows, t.false_positives
        );
        for f in &t.per_file {
            println!("  {f:?}");
        }
        let refs: Vec<&NabSeries> = all.iter().collect();
        let asc: Vec<Vec<f64>> = all.iter().map(|s| scores(s, &p)).collect();
        let f = nab_evaluate(&refs, &asc, None);
        println!(
            "ALL (NAB sweep) {:.1} th {:.3} det {}/{} fp {}",
            f.score, f.threshold, f.detected_windows, f.windows, f.false_positives
        );
    }
}

//! Review 29 (December 2026): an adversarial review of the `rate`
//! detector's count mode (`src/engine/rate.rs`: `Rate::observe`,
//! `Rate::run`, `Rate::spike_so_far`, `Rate::count_sigma`), against the
//! issue ("per-entity event rates against a robust baseline (EWMA or
//! median/MAD) with hour-of-day / day-of-week seasonality; spikes and
//! drops, including error-rate spikes. Every detector yields a calibrated
//! tail probability") and the README's `rate` row.
//!
//! Tests named `fails_*` FAIL on the code they were written against
//! (b4aeba0): each names a defect ("Found:", with the numbers measured)
//! and a fix ("Fix:"). Tests named `control_*` PASS and pin behaviour the
//! review checked and found sound (so the set-ups are known to work).
//!
//! Every stream is synthetic and deterministic (a xorshift generator, no
//! `rand`); times are UTC from 2024-01-01 (a Monday).

use logseal_anomaly::{Engine, Policy, Verdict};
use serde_json::{Value, json};

/// 2024-01-01T00:00:00Z, a Monday.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// xorshift64 with Knuth's Poisson sampler (means here are at most 200;
/// above 30 a rounded normal, close enough for a null stream's bulk).
struct Xs(u64);

impl Xs {
    fn u(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda > 30.0 {
            let u1 = self.u().max(1e-300);
            let u2 = self.u();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            return (lambda + lambda.sqrt() * z + 0.5).floor().max(0.0) as u64;
        }
        let l = (-lambda).exp();
        let (mut k, mut p) = (0u64, 1.0);
        loop {
            p *= self.u();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

/// An engine with one `rate` detector named `r`; nothing reported before
/// `learn_secs` of event time; no deduplication (every finding is seen).
fn engine(det: Value, learn_secs: i64) -> Engine {
    let p = json!({"version": 1,
        "learning": {"period_secs": learn_secs, "min_entity_events": 1},
        "alerting": {"dedup_secs": 0},
        "detectors": [det]});
    Engine::new(Policy::parse(&p.to_string()).expect("policy"))
}

fn rate_det(bucket: i64, season: &str) -> Value {
    json!({"type": "rate", "name": "r", "bucket_secs": bucket, "seasonality": season,
           "error_where": [{"field": "outcome", "eq": "failure"}]})
}

/// A finding: the bucket of the event it landed on, p, text, feature.
#[derive(Debug, Clone)]
struct F {
    k: i64,
    p: f64,
    text: String,
    feature: String,
}

fn rate_of(v: &Verdict, k: i64, out: &mut Vec<F>) {
    for r in v.reasons.iter().filter(|r| r.detector == "r") {
        out.push(F {
            k,
            p: r.p,
            text: r.text.clone(),
            feature: r.feature.clone(),
        });
    }
}

/// Scores a series given as (events, errors) per bucket of `b` seconds
/// from T0, the events of a bucket evenly spread over it, the errors first.
fn run(det: Value, learn_secs: i64, b: i64, counts: &[(u64, u64)]) -> Vec<F> {
    let mut e = engine(det, learn_secs);
    let mut out = Vec::new();
    for (k, &(n, err)) in counts.iter().enumerate() {
        let k = k as i64;
        for i in 0..n as i64 {
            let t = T0 + k * b + i * b / n as i64;
            let fail = (i as u64) < err;
            let ev = json!({"timestamp": t, "outcome": if fail { "failure" } else { "success" }});
            let v = e.score(&ev, None);
            rate_of(&v, k, &mut out);
        }
    }
    out
}

/// The bucket a count finding is about: a spike "so far" is its own
/// event's bucket; a closed bucket's drop or weak spike lands on the next.
fn about(f: &F) -> i64 {
    if f.text.contains("so far") {
        f.k
    } else {
        f.k - 1
    }
}

/// The smallest p of the count ("rate") findings about bucket `k`.
fn min_p_about(out: &[F], k: i64) -> f64 {
    out.iter()
        .filter(|f| f.feature == "rate" && about(f) == k)
        .map(|f| f.p)
        .fold(1.0, f64::min)
}

/// Share of buckets `from..to` whose smallest count-finding p is at most `t`.
fn share_at(out: &[F], from: i64, to: i64, t: f64) -> f64 {
    let mut best = vec![1.0f64; (to - from) as usize];
    for f in out.iter().filter(|f| f.feature == "rate") {
        let k = about(f);
        if (from..to).contains(&k) {
            let x = &mut best[(k - from) as usize];
            *x = x.min(f.p);
        }
    }
    best.iter().filter(|&&p| p <= t).count() as f64 / (to - from) as f64
}

/// Poisson(mean) counts for `buckets` buckets, no errors.
fn poisson_stream(seed: u64, mean: f64, buckets: i64) -> Vec<(u64, u64)> {
    let mut rng = Xs(seed);
    (0..buckets).map(|_| (rng.poisson(mean), 0)).collect()
}

// ------------------------------------------------------------ calibration

/// Control: at 20 and 100 events a bucket (Poisson, no anomaly) the spike
/// and drop p-values are calibrated where the README measures them: at
/// p <= 0.01 about 1% of buckets (measured 0.99% and 0.92%), at p <= 0.001
/// about 0.1% (0.13%, 0.11%). (Since format 11: 0.55% and 0.73%, 0.026%
/// and 0.071%: p errs high, the counts being discrete.)
#[test]
fn control_spike_and_drop_p_values_are_calibrated_at_20_and_100_a_bucket() {
    for (mean, buckets) in [(20.0, 60_000i64), (100.0, 30_000)] {
        let learn = 2_000;
        let out = run(
            rate_det(60, "none"),
            learn * 60,
            60,
            &poisson_stream(0x9E37_79B9_7F4A_7C15, mean, buckets),
        );
        let (low, med) = (
            share_at(&out, learn, buckets - 1, 1e-2),
            share_at(&out, learn, buckets - 1, 1e-3),
        );
        eprintln!(
            "mean {mean}: {:.2}% at p <= 0.01, {:.3}% at p <= 0.001",
            low * 100.0,
            med * 100.0
        );
        assert!(
            (0.004..=0.015).contains(&low),
            "mean {mean}: {:.3}% at p <= 0.01",
            low * 100.0
        );
        assert!(
            med <= 0.0025,
            "mean {mean}: {:.3}% at p <= 0.001",
            med * 100.0
        );
    }
}

/// Expectation (README, "Score and severity" and the `rate` row): each
/// detector yields a calibrated tail probability; on a stream where
/// nothing is anomalous a finding of p <= a comes with frequency about a.
/// Severity is read off p (high: p <= 1.1e-4, critical: p <= 1.05e-5).
///
/// Found: the count p-value is the normal tail of
/// `(x - e) / sqrt(max(e, (1.25·MAD)²))` (`Rate::spike_p`), which at small
/// expected counts is far lighter than the Poisson tail it stands for
/// (Poisson counts are skewed to the right). With the default
/// `min_count` 10, a series of 3 events a bucket (0.1/min in 30-minute
/// buckets, 3/min in 1-minute ones) is judged only when a bucket reaches 10,
/// and 10 is already z = 4.04, p = 5.3e-5: every judged bucket goes
/// straight to high or critical. On 198,000 Poisson buckets of mean 3,
/// 0.115% of buckets reach p <= 1e-4 (11x the 0.01% a calibrated p gives)
/// and 0.030% p <= 1e-5 (30x; a critical alert every 2.3 days of 1-minute
/// buckets on a stream that never changes; the exact Poisson tail
/// P(X >= 11 | 3) is 2.9e-4, reported as 3.8e-6). At 5 a bucket (1/min in
/// the presets' 5-minute buckets): 0.073% at p <= 1e-4 (7x) and 0.015% at
/// p <= 1e-5 (15x). The README's own figure for mean 10, 0.18% of buckets
/// at medium (p <= 0.001), is the same effect; its tests stop at medium.
///
/// Fix: in count mode use the Poisson upper (and lower) tail at the
/// expectation when the learned spread is no wider than Poisson noise
/// (the crate already computes Poisson tails for `threshold`), and a
/// negative-binomial tail with the learned variance when it is wider;
/// keep the normal tail only for large expectations.
///
/// Now: `Rate::spike_p` takes the wider of the normal tail and the Poisson one (`Rate::count_tail`): the test passes (within 3x and 5x of nominal).
#[test]
fn spike_p_values_are_calibrated_at_low_expected_counts() {
    let mut bad = Vec::new();
    for (mean, bucket) in [(3.0, 60i64), (5.0, 300)] {
        let (learn, buckets) = (2_000i64, 200_000i64);
        let out = run(
            rate_det(bucket, "none"),
            learn * bucket,
            bucket,
            &poisson_stream(0x9E37_79B9_7F4A_7C15, mean, buckets),
        );
        let s4 = share_at(&out, learn, buckets - 1, 1e-4);
        let s5 = share_at(&out, learn, buckets - 1, 1e-5);
        eprintln!(
            "mean {mean}: {:.4}% of buckets at p <= 1e-4, {:.4}% at p <= 1e-5",
            s4 * 100.0,
            s5 * 100.0
        );
        // generous: three times (p <= 1e-4) and five times (p <= 1e-5) the nominal rate
        if s4 > 3e-4 || s5 > 5e-5 {
            bad.push(format!(
                "mean {mean} per {bucket}s bucket: {:.4}% of null buckets at p <= 1e-4 (nominal 0.01%), {:.4}% at p <= 1e-5 (nominal 0.001%)",
                s4 * 100.0,
                s5 * 100.0
            ));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Expectation (README `rate` row: the count p is the "normal tail of
/// `(x - e) / sqrt(max(e, (1.25·MAD)²))` (quasi-Poisson: the learned
/// spread, never less than Poisson noise)"): on a series more variable
/// than Poisson (bursty traffic, the usual case for audit logs) the learned
/// spread keeps the p-values calibrated.
///
/// Found: the learned spread fixes the width but not the shape. Counts of
/// a gamma-Poisson (negative-binomial) series, mean 20 a minute, variance
/// 100, no anomaly, 98,000 judged buckets (this test): 0.70% of buckets at
/// p <= 1e-3 (7x) and 0.109% at p <= 1e-5 (109x: a critical alert about
/// every 15 hours of 1-minute buckets on a stream that never changes); on
/// 148,000 buckets 1.84% at p <= 0.01 and 0.25% at p <= 1e-4 (25x). The
/// right tail of such counts is heavier than the normal one, and
/// 1.2533·(mean absolute deviation) underestimates the standard deviation
/// of a skewed distribution. At mean 100, variance 1,100: 0.45% at
/// p <= 1e-3, 0.072% at 1e-4, 0.036% at 1e-5 (36x).
///
/// Fix: calibrate the count p-value on the series' own standardised
/// residuals (a decayed histogram of past z, as `gauge` mode already does
/// for values), or use a negative-binomial tail whose dispersion is fitted
/// from the residuals' second moment, not their MAD.
///
/// Now: the spread is a dispersion (variance over expectation) learnt from
/// squared clipped residuals, and the spike p the negative binomial tail
/// of that variance (`num::neg_binomial_sf_ge`): the test passes (0.072%
/// of null buckets at p <= 1e-3, none at 1e-5).
#[test]
fn overdispersed_counts_get_calibrated_p_values() {
    let (mean, shape, buckets, learn) = (20.0f64, 5u32, 100_000i64, 2_000i64);
    let mut rng = Xs(61);
    let counts: Vec<(u64, u64)> = (0..buckets)
        .map(|_| {
            // gamma(shape, 1/shape) as a mean of `shape` exponentials
            let g: f64 = (0..shape).map(|_| -rng.u().max(1e-300).ln()).sum::<f64>() / shape as f64;
            (rng.poisson(mean * g), 0)
        })
        .collect();
    let out = run(rate_det(60, "none"), learn * 60, 60, &counts);
    let s3 = share_at(&out, learn, buckets - 1, 1e-3);
    let s5 = share_at(&out, learn, buckets - 1, 1e-5);
    eprintln!(
        "negative-binomial counts: {:.3}% at p <= 1e-3, {:.4}% at p <= 1e-5",
        s3 * 100.0,
        s5 * 100.0
    );
    assert!(
        s3 <= 0.003 && s5 <= 5e-5,
        "negative-binomial counts, mean 20, variance 100: {:.3}% of null buckets at p <= 1e-3 (nominal 0.1%), {:.4}% at p <= 1e-5 (nominal 0.001%)",
        s3 * 100.0,
        s5 * 100.0
    );
}

// ------------------------------------------------------------- robustness

/// 22 days of 5-minute buckets, Poisson 20 a bucket, with a 5x spike (100)
/// at 03:00 on days 3, 6, 9, 12, 15, 18, 21, and, if `burst`, 5,000 events
/// in the series' 4th bucket (00:15 on day 0, inside the learning day). The
/// detector as the presets configure it (5-minute buckets, `hour_of_week`).
fn warmup_burst(burst: bool) -> (Vec<F>, Vec<i64>) {
    let b = 300;
    let per_day = DAY / b;
    let spikes: Vec<i64> = (3..22).step_by(3).map(|d| d * per_day + 36).collect();
    let mut rng = Xs(41);
    let counts: Vec<(u64, u64)> = (0..22 * per_day)
        .map(|k| {
            let n = if burst && k == 3 {
                5_000
            } else if spikes.contains(&k) {
                100
            } else {
                rng.poisson(20.0)
            };
            (n, 0)
        })
        .collect();
    (run(rate_det(b, "hour_of_week"), DAY, b, &counts), spikes)
}

/// Control: without the burst, every 5x spike is found (p about 5e-6 to
/// 1e-5, critical).
#[test]
fn control_without_a_warmup_burst_every_5x_spike_is_found() {
    let (out, spikes) = warmup_burst(false);
    for s in spikes {
        let p = min_p_about(&out, s);
        assert!(p <= 1e-3, "spike of day {}: p {p}", s / 288);
    }
}

/// Expectation (README `rate` row: "a robust EWMA baseline ... Huber-clipped
/// updates"; the issue: "a robust baseline (EWMA or median/MAD)"): one
/// burst while the baseline is new does not make it blind for weeks.
///
/// Found: during the detector's `warmup` (its first 30 buckets) the
/// updates are not clipped and weigh 1/(n+1) (`Rate::observe`: `r = x - e`
/// before warmup, `a = 1/(n+1)`), and each hour offset learns the residual
/// at weight up to 0.5. One burst of 5,000 events in the 4th 5-minute
/// bucket of a 20-a-bucket series (a deploy's backlog, a log shipper's
/// catch-up, an attacker's first minutes: for a per-entity series, the
/// entity's first buckets) drives the level, the 00-hour offset and the
/// spread (`dev`) up by hundreds. After warmup they can only come down at
/// the 500-bucket half-life, so the spread stays huge for about two weeks:
/// 5x spikes (100 where 20 is usual) on days 3, 6, 9 and 12 are not
/// reported at all (p = 1: no finding), the day-15 one only at 9.2e-4
/// (found from day 18 at 1e-5, as without the burst, where all are found
/// at 4e-6 to 1e-5). Meanwhile the texts read "usual -107.2 ± 50.9" (see
/// the next test).
///
/// Fix: make the start robust too: clip warmup updates as well (at a
/// multiple of the Poisson spread `sqrt(max(e, 1))`, which needs no learned
/// `dev`), or start from the median and MAD of the first `warmup` buckets
/// instead of their mean; don't feed the seasonal offsets before warmup.
///
/// Now: count updates are clipped from a series' second bucket on, warmup included (a partial first bucket is still outgrown: `control_a_partial_first_bucket_still_reaches_its_level_in_warmup`).
#[test]
fn one_burst_while_the_baseline_is_new_does_not_blind_it() {
    let (out, spikes) = warmup_burst(true);
    let missed: Vec<(i64, f64)> = spikes
        .iter()
        .map(|&s| (s / 288, min_p_about(&out, s)))
        .filter(|&(_, p)| p > 1e-3)
        .collect();
    assert!(
        missed.is_empty(),
        "5x spikes (100 where 20 is usual) not reported at p <= 1e-3 after one 5,000-event burst in bucket 4, (day, p): {missed:?}"
    );
}

/// Expectation: a count's expectation is a count (at least 0), and a
/// bucket below the series' usual count is no spike.
///
/// Found: `Rate::expected` adds the level and the seasonal offsets with no
/// floor, and nothing keeps it at 0 or above. After the warmup burst above
/// (the same stream), 151 findings at p <= 0.01 that are not the planted
/// spikes, among them "*: spike: 13 events in the 5m from 00:05 UTC so far,
/// usual -94.3 ± 41.6 (r)" (p 0.01, severity low) and "spike: 24 events
/// ... usual -107.2 ± 50.9": a bucket of 13 events, below the series' 20,
/// reported as a spike because `x - e` is measured from -94. (Also
/// reachable without the burst by an offset model that does not fit the
/// data: `hour_of_day` on a weekday/weekend office pattern printed
/// "usual -2 ± 21.7".)
///
/// Fix: clamp the expectation at 0 in `Rate::expected` for count mode
/// (`e.max(0.0)`), for the p-value and the text; better, fit the seasonal
/// model multiplicatively (log scale) so it cannot go negative.
///
/// Now: a count is scored against `max(e, 0)` (the model learns from its own sum).
#[test]
fn expected_counts_are_never_negative() {
    let (out, spikes) = warmup_burst(true);
    let bad: Vec<&F> = out
        .iter()
        .filter(|f| !spikes.contains(&about(f)))
        .filter(|f| f.text.contains("usual -"))
        .collect();
    let false_spikes = bad
        .iter()
        .filter(|f| f.text.contains("spike") && f.p <= 0.01)
        .count();
    assert!(
        bad.is_empty(),
        "{} findings with a negative expected count ({false_spikes} of them spikes at p <= 0.01), e.g. {:?}",
        bad.len(),
        bad.iter().take(3).map(|f| &f.text).collect::<Vec<_>>()
    );
}

/// 6,100 5-minute buckets, Poisson 200 a bucket; if `step`, 20 a bucket
/// before bucket 2,000 (a permanent 10x rise: a new service, a new
/// customer). Buckets of 300 (1.5x) at 2,800, 3,000, 3,500, 4,000, 5,000.
fn after_step(step: bool) -> (Vec<F>, Vec<i64>) {
    let b = 300;
    let spikes = vec![2_800i64, 3_000, 3_500, 4_000, 5_000];
    let mut rng = Xs(43);
    let counts: Vec<(u64, u64)> = (0..5_100)
        .map(|k| {
            if spikes.contains(&k) {
                return (300, 0);
            }
            (rng.poisson(if step && k < 2_000 { 20.0 } else { 200.0 }), 0)
        })
        .collect();
    (run(rate_det(b, "none"), 1_000 * b, b, &counts), spikes)
}

/// Control: at a steady 200 a bucket every 1.5x bucket (300) is found, at
/// p about 9e-6 ("usual 200 ± 14").
#[test]
fn control_a_steady_series_finds_every_one_and_a_half_times_bucket() {
    let (out, spikes) = after_step(false);
    for s in spikes {
        let p = min_p_about(&out, s);
        assert!(p <= 1e-3, "bucket {s}: p {p}");
    }
}

/// Expectation (README: "Rate baselines are EWMAs whose `half_life` is
/// counted in observations", default 500): after a permanent change the
/// baseline has caught up about half way in one half-life, and within a
/// few half-lives detects as before.
///
/// Found: a permanent 10x step (20 to 200 a bucket) is reported for about
/// 650 buckets (as it should be), but the Huber clip lets the level climb
/// only 3σ·α a bucket: one half-life (500 buckets) after the step the
/// baseline reads "usual 47.8 ± 30.2" (15% of the way; an EWMA of that
/// half-life is half way, at 110), and every clipped residual has
/// meanwhile widened the spread. The step stops being reported at bucket
/// 2,657 ("usual 73.4 ± 53.4") because σ grew, not because the level
/// arrived. Then 1.5x buckets (300 where 200 is now usual) at 2,800,
/// 3,000, 3,500 and 4,000 (2.8 to 7 days after the step, in 5-minute
/// buckets) give no finding at all, and the one at 5,000 only p 1.1e-4
/// ("usual 195 ± 26.6"); without the step each is found at 9e-6. (A
/// day-long 10x incident that ends leaves no such blindness: the level
/// never gets far.)
///
/// Fix: recognise a level shift: when the short-term mean residual (the
/// unused `RateState::short`, as `gauge` does) stays beyond the clip for
/// many buckets, re-anchor the level (and offsets) to it, and learn the
/// spread from residuals clipped at a multiple of Poisson noise, or as a
/// dispersion ratio `r² / e`, so a shift does not widen it.
///
/// Now: a drift (an EWMA of the standardised residuals) beyond ±1 widens
/// the clip and the step by four times as much: the step's last finding
/// is 74 buckets after it ("usual 167.4 ± 19.9"), and every 1.5x bucket
/// is found at p 8.5e-6 to 9.8e-6, as without the step: the test passes.
#[test]
fn after_a_level_step_the_baseline_follows_and_finds_spikes() {
    let (out, spikes) = after_step(true);
    for &s in &spikes {
        eprintln!("bucket {s}: p {}", min_p_about(&out, s));
    }
    let missed: Vec<(i64, f64)> = spikes
        .iter()
        .map(|&s| (s, min_p_about(&out, s)))
        .filter(|&(_, p)| p > 1e-3)
        .collect();
    let last_usual = out
        .iter()
        .rfind(|f| f.k >= 2_000 && f.k < 2_800)
        .map(|f| (f.k, f.text.clone()));
    eprintln!("last finding of the step: {last_usual:?}");
    assert!(
        missed.is_empty(),
        "1.5x buckets after a 10x step not reported at p <= 1e-3 (bucket, p): {missed:?}; last finding of the step: {last_usual:?}"
    );
}

// ------------------------------------------------------------ seasonality

/// 31 days of 5-minute buckets: Poisson `day` a bucket from 09:00 to 17:00
/// every day, 5 at other hours; on day 30 at 03:00 a bucket of `burst`.
fn night(day: f64, burst: u64, season: &str) -> f64 {
    let b = 300;
    let per_day = DAY / b;
    let k0 = 30 * per_day + 3 * 12;
    let mut rng = Xs(31);
    let counts: Vec<(u64, u64)> = (0..31 * per_day)
        .map(|k| {
            if k == k0 {
                return (burst, 0);
            }
            let h = ((T0 + k * b) % DAY) / HOUR;
            (rng.poisson(if (9..17).contains(&h) { day } else { 5.0 }), 0)
        })
        .collect();
    let out = run(rate_det(b, season), 28 * DAY, b, &counts);
    min_p_about(&out, k0)
}

/// Control: a flat 5 a bucket all day: 20 events at 03:00 is critical
/// (the spike reaches p 5.6e-6 at 15 events already).
#[test]
fn control_a_night_burst_in_a_flat_series_is_critical() {
    let p = night(5.0, 20, "hour_of_day");
    assert!(p <= 1e-5, "p {p}");
}

/// Expectation (issue: "hour-of-day / day-of-week seasonality"; README:
/// the baseline is a level plus hour offsets, and a count is judged by
/// "the learned spread, never less than Poisson noise"): with an office
/// pattern learned for four weeks, a night bucket is judged against the
/// night's expectation and the night's noise.
///
/// Found: the offsets learn the night's expectation (the texts say "usual
/// 6.5"), but the spread is one number for the whole day (`RateState::dev`,
/// an EWMA of |residual| over every bucket), so the daytime's Poisson noise
/// (about ±10 at 100 a bucket) becomes the night's: "usual 6.5 ± 5.6",
/// where Poisson noise at 5 is ±2.2. On day 30 at 03:00, 20 events (4x the
/// night's 5) and even 25 (5x) are not reported at all (no finding; the
/// first severity needs p <= 0.0105), 30 (6x) only at p 0.0078 (low). In
/// the same series without busy days, 15 events are already critical (p
/// 5.6e-6; the exact Poisson tail P(X >= 20 | 5) is 3.5e-7). Seasonality
/// makes the detector blind at exactly the hours where a burst is most
/// suspicious.
///
/// Fix: learn the spread relative to the expectation (a quasi-Poisson
/// dispersion φ = EWMA of r² / max(e, 1), σ = sqrt(φ·e)), or one spread
/// per hour offset, instead of one absolute MAD for all hours.
///
/// Now: the spread is the square root of the expectation times a learnt
/// dispersion (`Rate::count_sigma`), so the night's follows the night's
/// expectation: "usual 5.6 ± 2.4", 20 events at p 3.9e-6; the test
/// passes.
#[test]
fn a_night_burst_is_not_hidden_by_the_daytime_spread() {
    let p = night(100.0, 20, "hour_of_day");
    eprintln!("20 events at 03:00: p {p}");
    assert!(
        p <= 1e-3,
        "20 events at 03:00 where the night's usual is 5 (days 100 a bucket): smallest p {p} (1: no finding at all)"
    );
}

/// Control (issue: "Does a real spike at 03:00 get found while the same
/// count at 11:00 on a weekday does not?"): with the office pattern
/// learned (`hour_of_day`), a normal week reports about 1% of buckets at
/// p <= 0.01 (measured 14 of 2,016), 100 events at 03:00 are critical
/// (32 events already reach p 4.8e-6) and 100 at 11:00 give no finding.
#[test]
fn control_an_office_pattern_is_learned_by_hour_of_day() {
    let b = 300;
    let per_day = DAY / b;
    let mut rng = Xs(17);
    let night = 35 * per_day + 3 * 12;
    let day = 35 * per_day + 11 * 12;
    let counts: Vec<(u64, u64)> = (0..36 * per_day)
        .map(|k| {
            if k == night || k == day {
                return (100, 0);
            }
            let h = ((T0 + k * b) % DAY) / HOUR;
            (
                rng.poisson(if (9..17).contains(&h) { 100.0 } else { 5.0 }),
                0,
            )
        })
        .collect();
    let out = run(rate_det(b, "hour_of_day"), 28 * DAY, b, &counts);
    let week = share_at(&out, 28 * per_day, 35 * per_day, 0.01);
    assert!(
        week <= 0.015,
        "{:.2}% of a normal week's buckets reported",
        week * 100.0
    );
    assert!(min_p_about(&out, night) <= 1e-5, "03:00");
    assert_eq!(min_p_about(&out, day), 1.0, "11:00");
}

// ------------------------------------------------------------------ drops

/// `mean` events a minute (exactly), 4,000 minutes, then `silent` minutes
/// with no event, then the stream again: the silence findings.
fn silence(mean: u64, silent: i64) -> Vec<F> {
    let counts: Vec<(u64, u64)> = (0..4_000 + silent + 10)
        .map(|k| {
            (
                if (4_000..4_000 + silent).contains(&k) {
                    0
                } else {
                    mean
                },
                0,
            )
        })
        .collect();
    run(rate_det(60, "none"), 3_000 * 60, 60, &counts)
        .into_iter()
        .filter(|f| f.text.contains("no events"))
        .collect()
}

/// Control: a series of 20 a minute that stops for an hour is reported
/// when it comes back, with a correct text: "drop: no events for 60
/// minutes from 18:40 UTC, usual 20 ± 4.5 per 1m" (p 4.65e-4).
#[test]
fn control_an_hour_of_silence_of_20_a_minute_is_a_drop() {
    let f = silence(20, 60);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].p <= 1e-3, "{f:?}");
    assert!(
        f[0].text
            .contains("no events for 60 minutes from 18:40 UTC"),
        "{f:?}"
    );
}

/// Expectation (README: "A silence (empty buckets of a series expected to
/// reach `min_count`) is one drop on the series' next event"): the longer
/// a busy series is silent, the stronger the evidence.
///
/// Found: the silence's p is the strongest empty bucket's p times the
/// number of empty buckets judged (Bonferroni over up to 1,440). That
/// bucket is the first one (the level decays as the silence is learned as
/// zeros), so its p does not improve with length while the factor grows:
/// the longer the silence, the weaker the finding. At 12 events a minute a
/// 5-minute silence is reported (p 2.7e-3) and an hour of silence is not
/// (p 0.032; the chance of an empty hour at 12 a minute is e^-720); at 15
/// a minute an hour is reported (6.5e-3) and a whole day is not (0.16); at
/// 20 a minute an hour gives 4.7e-4 and a day 4.4e-3. A log shipper dead
/// for a day is reported less than one dead for an hour, or not at all.
///
/// Fix: judge the silence as one event: the probability of no events over
/// the whole span given the summed expectation (exp(-Σe) under Poisson,
/// widened by the learned dispersion), or combine the empty buckets'
/// p-values (Fisher) rather than taking the smallest times their number;
/// at least do not let the factor exceed the number of buckets a drop
/// could have started in.
///
/// Now: a silence is judged as one, its judged buckets' p-values combined by Fisher's method.
#[test]
fn a_longer_silence_is_a_stronger_drop() {
    let mut bad = Vec::new();
    for (mean, short, long) in [(12u64, 5i64, 60i64), (15, 60, 1_440), (20, 60, 1_440)] {
        let ps = silence(mean, short).first().map_or(1.0, |f| f.p);
        let pl = silence(mean, long).first().map_or(1.0, |f| f.p);
        if pl > 0.01 || pl > ps {
            bad.push(format!(
                "{mean}/min: silence of {short} min p {ps:.3e}, of {long} min p {pl:.3e} ({})",
                if pl > 0.01 { "not reported" } else { "weaker" }
            ));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Control: a smooth daily cycle (Poisson, 5 to 55 a minute) in 1-minute
/// buckets, as the `envoy` preset counts (with `hour_of_week`), and with
/// `hour_of_day`: after two weeks a third week reports 0.80% and 0.83% of
/// buckets at p <= 0.01, 0.12-0.13% at p <= 0.001.
#[test]
fn control_a_daily_cycle_in_one_minute_buckets_is_calibrated() {
    let b = 60;
    let per_day = DAY / b;
    for season in ["hour_of_day", "hour_of_week"] {
        let mut rng = Xs(19);
        let counts: Vec<(u64, u64)> = (0..21 * per_day)
            .map(|k| {
                let t = ((k * b) % DAY) as f64 / DAY as f64;
                (
                    rng.poisson(30.0 + 25.0 * (2.0 * std::f64::consts::PI * t).sin()),
                    0,
                )
            })
            .collect();
        let out = run(rate_det(b, season), 14 * DAY, b, &counts);
        let low = share_at(&out, 14 * per_day, 21 * per_day - 1, 1e-2);
        let med = share_at(&out, 14 * per_day, 21 * per_day - 1, 1e-3);
        assert!(
            (0.004..=0.015).contains(&low),
            "{season}: {:.3}% at p <= 0.01",
            low * 100.0
        );
        assert!(med <= 0.0025, "{season}: {:.3}% at p <= 0.001", med * 100.0);
    }
}

// ------------------------------------------------------------- error rate

/// Control (issue: "a fixed 1% error rate that goes to 30%: found? 1% →
/// 2% with few events: not a false alarm?"): 40 events a minute with 1%
/// errors; one minute at 30% (12 of 40) is reported at p 2.7e-15 ("error
/// rate 30% (12 of 40) ..., usual 1%"); the null minutes are reported at
/// p <= 0.01 in 0.92% of buckets; when the series drops to 10 a minute at
/// 2% errors, 0.2% of buckets are reported (13 of 6,000).
#[test]
fn control_error_rate_spikes_are_found_and_small_rises_are_no_flood() {
    let mut rng = Xs(23);
    let counts: Vec<(u64, u64)> = (0..14_000)
        .map(|k| {
            if k == 6_000 {
                return (40, 12);
            }
            let (n, share) = if k < 8_000 {
                (40u64, 0.01)
            } else {
                (10u64, 0.02)
            };
            (n, (0..n).filter(|_| rng.u() < share).count() as u64)
        })
        .collect();
    let out = run(rate_det(60, "none"), 3_000 * 60, 60, &counts);
    let err: Vec<&F> = out.iter().filter(|f| f.feature == "error_rate").collect();
    let spike = err.iter().find(|f| f.k == 6_001).expect("the 30% minute");
    assert!(
        spike.p <= 1e-6 && spike.text.contains("30% (12 of 40)") && spike.text.contains("usual 1%"),
        "{spike:?}"
    );
    let pre = err
        .iter()
        .filter(|f| f.k > 3_000 && f.k < 8_000 && f.k != 6_001 && f.p <= 0.01)
        .count();
    let post = err.iter().filter(|f| f.k > 8_001 && f.p <= 0.01).count();
    assert!(pre <= 75, "1% null: {pre} of 5,000 buckets");
    assert!(post <= 60, "2% at 10 a minute: {post} of 6,000 buckets");
}

/// Control for the warmup clip (`one_burst_while_the_baseline_is_new_does_not_blind_it`):
/// a series whose first bucket was partial (2 events, then about 100 a
/// bucket, the series having started near that bucket's end) still learns
/// its level during warmup, whose updates are clipped since review 29:
/// after it, ordinary buckets are no spikes.
#[test]
fn control_a_partial_first_bucket_still_reaches_its_level_in_warmup() {
    let mut counts = vec![(2u64, 0u64)];
    counts.extend(poisson_stream(7, 100.0, 300));
    let out = run(rate_det(60, "none"), 0, 60, &counts);
    let flagged = share_at(&out, 40, 301, 1e-3) * 261.0;
    assert!(
        flagged <= 2.0,
        "{flagged} of 261 ordinary buckets after warmup at p <= 1e-3: {:?}",
        out.iter()
            .filter(|f| about(f) >= 40)
            .take(3)
            .map(|f| &f.text)
            .collect::<Vec<_>>()
    );
}

// ------------------------------------------------- drift (after review 29)

/// 4,000 5-minute buckets, Poisson 20 a bucket; `burst` buckets of 200 from
/// bucket 3,000; 2x buckets (40) at the buckets returned.
fn after_burst(burst: i64) -> (Vec<F>, Vec<i64>) {
    let probes = vec![3_000 + burst + 12, 3_000 + burst + 288, 3_000 + burst + 576];
    let mut rng = Xs(47);
    let counts: Vec<(u64, u64)> = (0..4_000)
        .map(|k| {
            if (3_000..3_000 + burst).contains(&k) {
                (200, 0)
            } else if probes.contains(&k) {
                (40, 0)
            } else {
                (rng.poisson(20.0), 0)
            }
        })
        .collect();
    (
        run(rate_det(300, "none"), 1_000 * 300, 300, &counts),
        probes,
    )
}

/// Control for the drift (`Rate::observe`): a burst of three 10x buckets is
/// reported and clipped (the first bucket of a change finds no drift, and
/// the drift of the next two is small), so the baseline stays where it
/// was: 2x buckets an hour and a day later are found as before it.
#[test]
fn control_a_burst_of_three_buckets_leaves_the_baseline() {
    let (out, probes) = after_burst(3);
    for k in 3_000..3_003 {
        assert!(min_p_about(&out, k) <= 1e-5, "burst bucket {k}");
    }
    for k in probes {
        let p = min_p_about(&out, k);
        let text = out.iter().rfind(|f| f.k == k).map(|f| f.text.clone());
        assert!(p <= 1e-3, "bucket {k}: p {p} {text:?}");
    }
}

/// The drift's trade (README `rate`): a day-long 10x incident is learnt,
/// so it is reported for its first hours, not all day (measured: 42 of
/// its 288 buckets, the first three hours and a half), and its end is a
/// drop, reported while the baseline comes back.
#[test]
fn control_a_day_long_incident_is_reported_for_hours_then_its_end_is_a_drop() {
    let (out, _) = after_burst(288);
    let reported: Vec<i64> = (3_000..3_288)
        .filter(|&k| min_p_about(&out, k) <= 0.01)
        .collect();
    eprintln!(
        "incident buckets reported: {} (first {:?}, last {:?})",
        reported.len(),
        reported.first(),
        reported.last()
    );
    assert!(reported.len() >= 24 && reported.len() < 288, "{reported:?}");
    assert!(
        (3_000..3_024).all(|k| reported.contains(&k)),
        "{reported:?}"
    );
    let drops = (3_288..3_300)
        .filter(|&k| {
            out.iter()
                .any(|f| about(f) == k && f.text.contains("drop") && f.p <= 1e-3)
        })
        .count();
    assert_eq!(drops, 12, "the 12 buckets after the incident are drops");
}

/// Limit of the drift (README `rate`): a learnt incident leaves the
/// dispersion wide (its residuals, clipped at 3σ, were learnt while the
/// level followed it): after the day-long 10x incident above, its end is
/// reported as drops for 81 buckets (the last: "usual 57.1 ± 16.8"), and
/// 2x buckets (40 where 20 is usual) a day and two days after it give no
/// finding (without the incident p about 3e-5). Before the drift the
/// clipped level never got far in a day. Not learning the dispersion from
/// a drift's buckets fixed this, but then a series without `seasonality`
/// took its daily swing for changes, and every office hour was a spike.
#[test]
#[ignore = "stated limit (README, rate): after a learnt day-long incident the baseline takes days to come all the way back"]
fn limit_after_a_day_long_incident_two_times_buckets_are_found() {
    let (out, probes) = after_burst(288);
    let mut missed = Vec::new();
    for &k in &probes[1..] {
        let p = min_p_about(&out, k);
        let text = out
            .iter()
            .rfind(|f| f.k <= k)
            .map(|f| (f.k, f.text.clone()));
        eprintln!("bucket {k}: p {p} {text:?}");
        if p > 1e-3 {
            missed.push((k, p));
        }
    }
    assert!(missed.is_empty(), "{missed:?}");
}

//! Property tests: no input makes the engine panic; numerics agree with statrs.

use logseal_anomaly::{Engine, FieldValue, PRESETS, Policy, num};
use proptest::prelude::*;

const PATHS: &[&str] = &[
    "@timestamp",
    "timestamp",
    "time",
    "eventTime",
    "user.name",
    "user",
    "source.ip",
    "source_ip",
    "sourceIPAddress",
    "event.action",
    "event.outcome",
    "outcome",
    "status",
    "message",
    "session.id",
    "source.geo.location.lat",
    "source.geo.location.lon",
    "source.geo.country_iso_code",
    "user_agent.original",
    "response_code",
    "verb",
    "user.username",
    "objectRef.resource",
    "responseStatus.code",
    "downstream_remote_address",
    "path",
    "pid",
    "host",
];

fn value() -> impl Strategy<Value = Val> {
    prop_oneof![
        any::<String>().prop_map(Val::S),
        "[a-z0-9 .:/\\[\\]{}=-]{0,40}".prop_map(Val::S),
        Just(Val::S(
            "Failed password for root from 1.2.3.4 port 22 ssh2".into()
        )),
        Just(Val::S("rhost=1.2.3.4  user=x".into())),
        Just(Val::S("Dec 10 06:55:46".into())),
        Just(Val::S("2024-02-30T25:61:61+99:99".into())),
        Just(Val::S("x".repeat(100_000))),
        Just(Val::S("a ".repeat(5_000))),
        any::<f64>().prop_map(Val::N),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(1e300),
            Just(-1e300)
        ]
        .prop_map(Val::N),
        any::<bool>().prop_map(Val::B),
        Just(Val::S("failure".into())),
        Just(Val::S("success".into())),
    ]
}

#[derive(Debug, Clone)]
enum Val {
    S(String),
    N(f64),
    B(bool),
}

fn event() -> impl Strategy<Value = Vec<(usize, Val)>> {
    prop::collection::vec((0..PATHS.len(), value()), 0..12)
}

/// The number tokens of a JSON text (outside strings).
fn numbers(j: &str) -> Vec<&str> {
    let b = j.as_bytes();
    let (mut out, mut i, mut in_str) = (Vec::new(), 0, false);
    while i < b.len() {
        match (in_str, b[i]) {
            (true, b'\\') => i += 1,
            (_, b'"') => in_str = !in_str,
            (false, b'-' | b'0'..=b'9') => {
                let s = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                out.push(&j[s..i]);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[test]
fn numbers_finds_the_tokens() {
    assert_eq!(
        numbers(r#"{"a":-0,"b":"1 \"2","c":[1.5e-7,3],"d":"x"}"#),
        ["-0", "1.5e-7", "3"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    #[test]
    fn never_panics(preset in 0..PRESETS.len(), evs in prop::collection::vec((event(), any::<Option<i64>>()), 1..60)) {
        let mut p = Policy::preset(PRESETS[preset]).unwrap();
        p.learning.period_secs = 0.0;
        p.learning.min_entity_events = 1;
        let mut e = Engine::new(p);
        for (ev, t) in &evs {
            let fields: Vec<(&str, FieldValue<'_>)> = ev
                .iter()
                .map(|(k, v)| (PATHS[*k], match v { Val::S(s) => FieldValue::Str(s), Val::N(n) => FieldValue::Num(*n), Val::B(b) => FieldValue::Bool(*b) }))
                .collect();
            let v = e.score(&fields[..], *t);
            let j = v.to_json();
            prop_assert!(serde_json::from_str::<serde_json::Value>(&j).is_ok(), "invalid JSON: {}", j);
            prop_assert!((0.0..=1.0).contains(&v.score));
            for n in numbers(&j) {
                // every number as ECMAScript (and RFC 8785) writes it, told
                // by an independent canonicaliser: no `-0`, no `1E-5`, but
                // `1.327e-21` for a small p (CI found the old "no e-" rule
                // out of date once p kept 4 significant digits)
                let x: f64 = n.parse().unwrap_or(f64::NAN);
                let canonical = serde_jcs::to_string(&x).ok();
                prop_assert_eq!(canonical.as_deref(), Some(n), "{}", j);
            }
        }
        prop_assert!(e.memory_bytes() <= e.memory_budget());
        let snap = e.snapshot();
        let mut f = Engine::new(e.policy().clone());
        let r = f.restore(&snap); prop_assert!(r.is_ok(), "{:?}", r);
    }

    #[test]
    fn restore_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), flip in any::<usize>()) {
        let mut e = Engine::new(Policy::preset("ecs").unwrap());
        let _ = e.restore(&bytes);
        let mut snap = e.snapshot_plain();
        for magic in [&b"LSANOMAL"[..], b"LSANOMDZ"] {
            let mut prefixed = magic.to_vec();
            prefixed.extend_from_slice(&bytes);
            let _ = e.restore(&prefixed);
        }
        let plain = snap.clone();
        let i = flip % snap.len();
        snap[i] ^= 0x5A;
        prop_assert!(e.restore(&snap).is_err());
        // A packed snapshot's flaw is refused, or (a DEFLATE stream's
        // padding bits, or a code read the same) restores exactly the state
        // written: the plain snapshot's checksum covers what is restored.
        let mut packed = e.snapshot();
        let i = flip % packed.len();
        packed[i] ^= 0x5A;
        if e.restore(&packed).is_ok() {
            prop_assert_eq!(e.snapshot_plain(), plain);
        }
    }

    #[test]
    fn policy_parse_never_panics(s in any::<String>()) {
        let _ = Policy::parse(&s);
    }

    #[test]
    fn chi2_matches_statrs(x in 0.0f64..200.0, k in 1usize..20) {
        use statrs::distribution::{ChiSquared, ContinuousCDF};
        let ours = num::chi2_sf_even(x, k);
        let theirs = ChiSquared::new(2.0 * k as f64).unwrap().sf(x);
        prop_assert!((ours - theirs).abs() < 1e-9 + 1e-7 * theirs, "x={} k={} ours={} statrs={}", x, k, ours, theirs);
    }

    #[test]
    fn poisson_matches_statrs(kk in 1u64..200, lambda in 0.01f64..100.0) {
        poisson_vs_statrs(kk, lambda)?;
    }

    /// Large means and counts, far below and far above the mean (where the
    /// sum once took thousands of steps a call).
    #[test]
    fn poisson_matches_statrs_for_large_means(kk in 1u64..20_000, lambda in 100.0f64..10_000.0) {
        poisson_vs_statrs(kk, lambda)?;
    }

    /// Counts above `POISSON_EXACT_MAX` (the Wilson-Hilferty approximation):
    /// the mean within ±6 standard deviations of the count, where p runs
    /// from about 1 down to about 1e-9; relative error under 1e-3 in
    /// either tail (before December 2026 every such count was p = 1e-300).
    #[test]
    fn poisson_large_counts_match_statrs(kk in 100_001u64..1_100_000, zf in -6.0f64..6.0) {
        use statrs::distribution::{DiscreteCDF, Poisson};
        let lambda = kk as f64 + zf * (kk as f64).sqrt();
        let ours = num::poisson_sf_ge(kk as f64, lambda);
        let d = Poisson::new(lambda).unwrap();
        let (sf, cdf) = (d.sf(kk - 1), d.cdf(kk - 1));
        prop_assert!((ours - sf).abs() <= 1e-3 * sf, "k={} l={} ours={} statrs={}", kk, lambda, ours, sf);
        prop_assert!(((1.0 - ours) - cdf).abs() <= 1e-3 * cdf + 1e-15, "k={} l={} ours={} statrs cdf={}", kk, lambda, ours, cdf);
    }

    /// The negative binomial tail (a `rate` count's spike p) where its
    /// terms are summed: standard deviations up to
    /// `NEG_BINOMIAL_EXACT_SD`, counts from below the mean to far above.
    #[test]
    fn neg_binomial_matches_statrs(mf in 0.0f64..1.0, phi in 1.01f64..50.0, zf in -2.0f64..40.0) {
        let top = (num::NEG_BINOMIAL_EXACT_SD.powi(2) / phi).min(2_000.0);
        let mean = 0.05 + mf * (top - 0.05);
        let sd = (phi * mean).sqrt();
        let kk = ((mean + zf * sd).ceil() as u64).max(1);
        neg_binomial_vs_statrs(kk, mean, phi, 1e-6)?;
    }

    /// Above `NEG_BINOMIAL_EXACT_SD` (a shifted gamma variable,
    /// Wilson-Hilferty), 2 to 6 standard deviations above the mean, where
    /// a spike is judged: p errs high, if at all, by at most 20% (a
    /// dispersion of 100 at a mean of 1,000 is the worst measured: 15%),
    /// and low by at most 0.1%.
    #[test]
    fn neg_binomial_large_spreads_match_statrs(mean in 1_000.0f64..1e6, phi in 1.01f64..100.0, zf in 2.0f64..6.0) {
        use statrs::distribution::{DiscreteCDF, NegativeBinomial};
        let sd = (phi * mean).sqrt();
        prop_assume!(sd > num::NEG_BINOMIAL_EXACT_SD && mean >= phi);
        let kk = (mean + zf * sd).ceil() as u64;
        let ours = num::neg_binomial_sf_ge(kk as f64, mean, phi);
        let theirs = NegativeBinomial::new(mean / (phi - 1.0), 1.0 / phi).unwrap().sf(kk - 1);
        prop_assert!(
            ours <= 1.2 * theirs && ours >= 0.999 * theirs,
            "k={} mean={} phi={} ours={} statrs={}", kk, mean, phi, ours, theirs
        );
    }

    #[test]
    fn binomial_matches_statrs(n in 1u64..3_000, kf in 0.0f64..1.0, p in 0.001f64..0.999) {
        use statrs::distribution::{Binomial, DiscreteCDF};
        let k = 1 + (kf * n as f64) as u64;
        let ours = num::binomial_sf_ge(k as f64, n as f64, p);
        let theirs = Binomial::new(p, n).unwrap().sf(k - 1);
        prop_assume!(theirs > 1e-250);
        prop_assert!(
            (ours - theirs).abs() < 1e-9 + 1e-6 * theirs,
            "k={} n={} p={} ours={} statrs={}", k, n, p, ours, theirs
        );
    }

    #[test]
    fn normal_matches_statrs(z in -10.0f64..10.0) {
        use statrs::distribution::{ContinuousCDF, Normal};
        let theirs = Normal::new(0.0, 1.0).unwrap().sf(z);
        prop_assert!((num::normal_sf(z) - theirs).abs() < 1e-12 + 1e-9 * theirs);
    }

    #[test]
    fn number_format_roundtrips(x in -1e9f64..1e9) {
        let s = num::fmt_num(x);
        let back: f64 = s.parse().unwrap();
        prop_assert!((back - x).abs() <= 0.00005 + 1e-9 * x.abs(), "{} -> {}", x, s);
        prop_assert!(!s.contains('e') && s != "-0");
    }
}

/// Measured values as a series might carry them: mostly ordinary, now and
/// then absurd (beyond `f32`'s range, the largest `f64`, subnormal).
fn measured() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -1e3f64..1e3,
        1 => any::<f64>(),
        1 => prop_oneof![
            Just(1e300),
            Just(-1e300),
            Just(f64::MAX),
            Just(f64::MIN),
            Just(3.5e38),
            Just(f64::MIN_POSITIVE),
            Just(1e15),
        ],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// The models of measured values (`gauge`, `rate` with `value_field`)
    /// past their warm-up: one `1e300` once made a clamp's bound NaN and
    /// the engine panic (in a plugin, a trap).
    #[test]
    fn measured_values_never_panic(xs in prop::collection::vec(measured(), 1..400)) {
        let p = Policy::parse(r#"{"version":1,"learning":{"period_secs":0,"period_events":0,"min_entity_events":1},
            "detectors":[
              {"type":"gauge","name":"g","value_field":"value","warmup":5},
              {"type":"rate","name":"rv","value_field":"value","warmup":5},
              {"type":"rate","name":"rc","bucket_secs":60,"warmup":5,"min_count":1}]}"#).unwrap();
        let mut e = Engine::new(p);
        for (i, x) in xs.iter().enumerate() {
            let ts = (i as f64) * 20.0;
            let ev: [(&str, FieldValue<'_>); 2] = [("timestamp", FieldValue::Num(ts)), ("value", FieldValue::Num(*x))];
            let v = e.score(&ev[..], None);
            let j = v.to_json();
            prop_assert!(serde_json::from_str::<serde_json::Value>(&j).is_ok(), "invalid JSON: {}", j);
            prop_assert!((0.0..=1.0).contains(&v.score), "{}", j);
            prop_assert!(!j.contains("NaN") && !j.contains("inf"), "{}", j);
        }
        let snap = e.snapshot();
        let mut f = Engine::new(e.policy().clone());
        let r = f.restore(&snap); prop_assert!(r.is_ok(), "{:?}", r);
    }
}

#[test]
fn fisher_matches_statrs() {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    let ps = [0.01, 0.2, 0.5, 0.03];
    let x: f64 = ps.iter().map(|p: &f64| -2.0 * p.ln()).sum();
    let want = ChiSquared::new(8.0).unwrap().sf(x);
    assert!((num::fisher(&ps) - want).abs() < 1e-12);
}

/// `neg_binomial_sf_ge` against statrs's negative binomial survival
/// function (`mean / (phi - 1)` successes of probability `1 / phi`),
/// within `rel`.
fn neg_binomial_vs_statrs(kk: u64, mean: f64, phi: f64, rel: f64) -> Result<(), TestCaseError> {
    use statrs::distribution::{DiscreteCDF, NegativeBinomial};
    let ours = num::neg_binomial_sf_ge(kk as f64, mean, phi);
    let theirs = NegativeBinomial::new(mean / (phi - 1.0), 1.0 / phi)
        .unwrap()
        .sf(kk - 1);
    prop_assume!(theirs > 1e-250);
    prop_assert!(
        (ours - theirs).abs() < 1e-9 + rel * theirs,
        "k={} mean={} phi={} ours={} statrs={}",
        kk,
        mean,
        phi,
        ours,
        theirs
    );
    Ok(())
}

/// `poisson_sf_ge` against statrs's Poisson survival function.
fn poisson_vs_statrs(kk: u64, lambda: f64) -> Result<(), TestCaseError> {
    use statrs::distribution::{DiscreteCDF, Poisson};
    let ours = num::poisson_sf_ge(kk as f64, lambda);
    let theirs = Poisson::new(lambda).unwrap().sf(kk - 1);
    prop_assume!(theirs > 1e-250);
    prop_assert!(
        (ours - theirs).abs() < 1e-9 + 1e-6 * theirs,
        "k={} l={} ours={} statrs={}",
        kk,
        lambda,
        ours,
        theirs
    );
    Ok(())
}

#[test]
fn binomial_known_answers() {
    // Bin(10, 1/2): P(X >= 8) = (45 + 10 + 1) / 1024, P(X >= 1) = 1 - 1/1024
    assert!((num::binomial_sf_ge(8.0, 10.0, 0.5) - 56.0 / 1024.0).abs() < 1e-15);
    assert!((num::binomial_sf_ge(1.0, 10.0, 0.5) - 1023.0 / 1024.0).abs() < 1e-15);
    assert_eq!(num::binomial_sf_ge(0.0, 10.0, 0.5), 1.0);
    assert_eq!(num::binomial_sf_ge(11.0, 10.0, 0.5), 1e-300);
    // all 450 fail where 1 in 2 usually does: 2^-450
    let p = num::binomial_sf_ge(450.0, 450.0, 0.5);
    assert!((p.log2() + 450.0).abs() < 1e-9, "{p}");
}

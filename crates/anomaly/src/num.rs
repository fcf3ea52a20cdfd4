//! Deterministic numerics: everything transcendental goes through `libm`,
//! so native and every wasm target compute bit-identical results.

use alloc::format;
use alloc::string::String;
use core::fmt::Write;

/// Natural log of `x`, clamped so that `p = 0` does not produce `-inf`.
#[inline]
pub fn ln(x: f64) -> f64 {
    libm::log(x.max(1e-300))
}

#[inline]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// Clamp a probability into `[1e-300, 1]`; NaN becomes 1 (no evidence).
#[inline]
pub fn clamp_p(p: f64) -> f64 {
    if p.is_nan() {
        1.0
    } else {
        p.clamp(1e-300, 1.0)
    }
}

/// Survival function of the chi-square distribution with an even number of
/// degrees of freedom `2k`: `P(X > x) = e^{-x/2} sum_{j<k} (x/2)^j / j!`.
pub fn chi2_sf_even(x: f64, k: usize) -> f64 {
    if x.is_nan() || k == 0 {
        return 1.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let h = x / 2.0;
    let lh = libm::log(h);
    let mut sum = 0.0;
    let mut lfact = 0.0; // ln(j!)
    for j in 0..k {
        if j > 0 {
            lfact += libm::log(j as f64);
        }
        sum += libm::exp(-h + j as f64 * lh - lfact);
    }
    sum.clamp(0.0, 1.0)
}

/// Fisher's method: combine independent p-values into one.
///
/// With one value it is that value, returned as is (computed, `exp(ln p)`
/// came back a few ulps off, so a finding of exactly `report_p` was
/// reported or not by rounding: found by review).
pub fn fisher(ps: &[f64]) -> f64 {
    match ps {
        [] => return 1.0,
        [p] => return clamp_p(*p),
        _ => {}
    }
    let x: f64 = ps.iter().map(|&p| -2.0 * ln(clamp_p(p))).sum();
    clamp_p(chi2_sf_even(x, ps.len()))
}

/// Simes' method: combine p-values of one question that may depend on each
/// other into one, `min_i k·p_(i) / i` over the `k` values sorted
/// ascending (Simes 1986), capped at 1.
///
/// Valid (a true p-value) when the findings are independent or positively
/// dependent (Sarkar 1998), which the findings of one detector about one
/// event are: a new address that is also a new /24 and a new country, a
/// rare template that is also an unlikely next event, a burst that is also
/// an error burst. Taken as independent by Fisher's method they made a
/// stationary stream's sequence detector report 1.6% of events where each
/// finding alone reports ~1% (found by review). Never above Bonferroni's
/// `k·min p`, and equal to the one value when `k = 1`. Sorts `ps`.
pub fn simes(ps: &mut [f64]) -> f64 {
    if ps.is_empty() {
        return 1.0;
    }
    for p in ps.iter_mut() {
        *p = clamp_p(*p);
    }
    ps.sort_by(f64::total_cmp);
    let k = ps.len() as f64;
    let m = ps
        .iter()
        .enumerate()
        .map(|(i, &p)| k * p / (i + 1) as f64)
        .fold(f64::INFINITY, f64::min);
    // Never below the smallest value: `k·p / k` can round one ulp under
    // `p`, and a value of exactly `report_p` was reported (found by review).
    clamp_p(m.max(ps[0]))
}

/// Standard normal upper tail `P(Z > z)`.
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return 1.0;
    }
    0.5 * libm::erfc(z / core::f64::consts::SQRT_2)
}

/// Binomial upper tail `P(X >= k)` for `n` trials of success probability `p`.
///
/// Summed as [`poisson_sf_ge`] is, from the term at `k` outwards, each term
/// from the last by one multiplication: the tail itself when `k` is above
/// the mean `n·p`, one minus the terms below `k` otherwise. The error rate
/// of a bucket is tested with it: a Poisson tail is close when errors are
/// rare, but when half of the events are errors (sshd's failed and
/// accepted logins) its variance `n·p` is twice the binomial `n·p·(1-p)`,
/// and a real rise in the error share is reported far too weakly.
pub fn binomial_sf_ge(k: f64, n: f64, p: f64) -> f64 {
    if k.is_nan() || n.is_nan() || p.is_nan() || k <= 0.0 || p >= 1.0 {
        return 1.0;
    }
    let n = libm::floor(n.clamp(0.0, 1e12));
    let k = libm::ceil(k);
    if k > n || p <= 0.0 {
        return clamp_p(0.0);
    }
    let (lp, lq) = (libm::log(p), libm::log1p(-p));
    let lg_n = libm::lgamma(n + 1.0);
    let log_pmf =
        |j: f64| lg_n - libm::lgamma(j + 1.0) - libm::lgamma(n - j + 1.0) + j * lp + (n - j) * lq;
    let odds = p / (1.0 - p);
    let mut total = 0.0;
    if k > n * p {
        let mut t = libm::exp(log_pmf(k));
        let mut j = k;
        while t > total * 1e-17 && t > 0.0 {
            total += t;
            if j >= n {
                break;
            }
            t *= (n - j) / (j + 1.0) * odds;
            j += 1.0;
        }
        clamp_p(total)
    } else {
        let mut j = k - 1.0;
        let mut t = libm::exp(log_pmf(j));
        loop {
            total += t;
            if j <= 0.0 || t <= total * 1e-17 {
                break;
            }
            t *= j / (n - j + 1.0) / odds;
            j -= 1.0;
        }
        clamp_p(1.0 - total)
    }
}

/// The largest count [`poisson_sf_ge`] sums exactly; above it the
/// summation would take thousands of steps, and the normal approximation
/// it uses instead is as good as the sum.
pub const POISSON_EXACT_MAX: u64 = 100_000;

/// Poisson upper tail `P(X >= k)` for mean `lambda`.
///
/// The terms are summed from the largest one outwards, each from the last by
/// one multiplication (`pmf(j+1) = pmf(j) * lambda / (j+1)`), so a call costs
/// one `exp` and a number of multiplications that grows with the spread
/// of the distribution (`sqrt(lambda)`: a few dozen for a mean of 10, a
/// few thousand for 100,000):
///
/// * `k > lambda`: the tail itself, `pmf(k) + pmf(k+1) + …`, whose terms
///   fall from the first; exact to the last bit of a small p-value.
/// * `k <= lambda`: `1 - (pmf(k-1) + pmf(k-2) + …)`, whose terms fall from
///   the first too. The tail is then at least about 0.4 (the median of a
///   Poisson distribution is about its mean), so the subtraction loses
///   nothing that matters.
///
/// Counts above [`POISSON_EXACT_MAX`] use the Wilson-Hilferty
/// approximation instead, in constant time: `P(X >= k) = P(G <= lambda)`
/// for `G` a gamma variable of shape `k`, and `(G / k)^(1/3)` is close to
/// normal with mean `1 - 1/(9k)` and variance `1/(9k)` (relative error
/// under 1e-3 down to p = 1e-12 at such counts, `tests/props.rs` checks it
/// against statrs). Before December 2026 every count above 100,000 was
/// given p = 1e-300, whatever the mean: a `threshold` rule of 100,000
/// events (a `weight`ed syslog rule, a whole-proxy request count) was
/// critical at every firing, even with `expected` above the count (found
/// by review).
///
/// (Summing upwards from `pmf(k)` in every case, as this function first
/// did, takes `lambda` steps and an `exp` and two `log`s each when `k` is
/// far below a large mean: tens of microseconds a call.)
pub fn poisson_sf_ge(k: f64, lambda: f64) -> f64 {
    if k.is_nan() || lambda.is_nan() || k <= 0.0 {
        return 1.0;
    }
    if lambda == f64::INFINITY {
        return 1.0;
    }
    let lambda = lambda.max(1e-9);
    let k = libm::ceil(k.min(1e15)) as u64;
    if k > POISSON_EXACT_MAX {
        let k = k as f64;
        let v = 1.0 / (9.0 * k);
        let z = (libm::cbrt(lambda / k) - (1.0 - v)) / libm::sqrt(v);
        return clamp_p(normal_sf(-z));
    }
    let log_pmf = |j: u64| j as f64 * libm::log(lambda) - lambda - libm::lgamma(j as f64 + 1.0);
    let mut total = 0.0;
    if k as f64 > lambda {
        let mut t = libm::exp(log_pmf(k));
        let mut j = k;
        while t > total * 1e-17 && t > 0.0 {
            total += t;
            j += 1;
            t *= lambda / j as f64;
        }
        clamp_p(total)
    } else {
        let mut j = k - 1;
        let mut t = libm::exp(log_pmf(j));
        loop {
            total += t;
            if j == 0 || t <= total * 1e-17 {
                break;
            }
            t *= j as f64 / lambda;
            j -= 1;
        }
        clamp_p(1.0 - total)
    }
}

/// The largest standard deviation at which [`neg_binomial_sf_ge`] sums
/// its terms; above it the sum would take thousands of steps, and a
/// shifted gamma variable of the same first three moments, which the
/// count then follows closely, is used instead (Wilson-Hilferty, as
/// [`poisson_sf_ge`] does for large counts).
pub const NEG_BINOMIAL_EXACT_SD: f64 = 150.0;

/// At most this many terms of an upper tail are summed (see
/// [`neg_binomial_sf_ge`]).
const NEG_BINOMIAL_MAX_TERMS: u32 = 20_000;

/// Upper tail `P(X >= k)` of a count of mean `mean` and variance
/// `phi · mean` (`phi >= 1`; at or below 1 it is [`poisson_sf_ge`]): the
/// negative binomial distribution of `mean / (phi - 1)` successes and
/// failure probability `(phi - 1) / phi`, the usual model of a count that
/// is burstier than Poisson (a gamma-mixed Poisson). Its right tail is
/// much heavier than the normal one of the same variance: a series of
/// mean 20 and variance 100, judged by the normal tail, had a p-value at
/// or below 1e-5 in 0.1% of its unchanged buckets (found by review 29).
///
/// Summed as [`poisson_sf_ge`] is, from the term at `k` outwards, each
/// term from the last by one multiplication
/// (`pmf(j+1) = pmf(j) · (j + r) / (j + 1) · q`); above
/// [`NEG_BINOMIAL_EXACT_SD`] (where `mean >= phi`) a shifted gamma
/// variable of the same mean, variance and skewness, at `k - 1/2`, with
/// the Wilson-Hilferty approximation; 2 to 6 standard deviations above
/// the mean its p errs high by at most 20% (up to `phi` 100; the worst
/// measured, 15%, at mean 1,000) and low by at most 0.1%.
/// `tests/props.rs` checks both against statrs.
pub fn neg_binomial_sf_ge(k: f64, mean: f64, phi: f64) -> f64 {
    if k.is_nan() || mean.is_nan() || phi.is_nan() || k <= 0.0 {
        return 1.0;
    }
    if phi <= 1.0 + 1e-9 || mean == f64::INFINITY {
        return poisson_sf_ge(k, mean);
    }
    let mean = mean.max(1e-9);
    let phi = phi.min(1e12);
    let k = libm::ceil(k.min(1e15));
    let sd = libm::sqrt(phi * mean);
    if sd > NEG_BINOMIAL_EXACT_SD && mean >= phi {
        // A shifted gamma variable `c + G` of the count's mean, variance
        // and skewness `(2 - 1/phi) · sqrt(phi / mean)` (Pearson type
        // III), at `k - 1/2`. (A gamma of the same mean and variance alone
        // is twice as skewed: 5% off at p = 1e-4.)
        let skew = (2.0 - 1.0 / phi) * libm::sqrt(phi / mean);
        let a = 4.0 / (skew * skew);
        let scale = sd / libm::sqrt(a);
        let g = (k - 0.5 - (mean - a * scale)) / (a * scale);
        if g <= 0.0 {
            return 1.0;
        }
        let v = 1.0 / (9.0 * a);
        let z = (libm::cbrt(g) - (1.0 - v)) / libm::sqrt(v);
        return clamp_p(normal_sf(z));
    }
    let r = mean / (phi - 1.0);
    let (lq, lp) = (libm::log1p(-1.0 / phi), -libm::log(phi));
    let lg_r = libm::lgamma(r);
    let log_pmf = |j: f64| libm::lgamma(j + r) - lg_r - libm::lgamma(j + 1.0) + r * lp + j * lq;
    let q = 1.0 - 1.0 / phi;
    let mut total = 0.0;
    if k > mean {
        let mut t = libm::exp(log_pmf(k));
        let mut j = k;
        for _ in 0..NEG_BINOMIAL_MAX_TERMS {
            if !(t > total * 1e-17 && t > 0.0) {
                return clamp_p(total);
            }
            total += t;
            t *= (j + r) / (j + 1.0) * q;
            j += 1.0;
        }
        // Still summing (a huge `phi` at a small mean: the terms fall by
        // little more than `q` each): the ratio of two terms is at most
        // the larger of the current one and `q` from here on, so the rest
        // is at most a geometric series of it (p errs high).
        let ratio = ((j + r) / (j + 1.0) * q).max(q);
        clamp_p(total + t / (1.0 - ratio))
    } else {
        // (at most as many terms as the upper tail: the rest of the lower
        // sum is left out, p errs high)
        let mut j = k - 1.0;
        let mut t = libm::exp(log_pmf(j));
        for _ in 0..NEG_BINOMIAL_MAX_TERMS {
            total += t;
            if j <= 0.0 || t <= total * 1e-17 {
                break;
            }
            t *= j / ((j - 1.0 + r) * q);
            j -= 1.0;
        }
        clamp_p(1.0 - total)
    }
}

/// Round to 4 decimals, deterministic, no "-0".
pub fn round4(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let r = libm::round(x * 10_000.0) / 10_000.0;
    if r == 0.0 { 0.0 } else { r }
}

/// Round a probability to 4 significant digits, deterministic, no "-0":
/// a reason's p. Rounded to 4 decimals (as before December 2026), every p
/// below 0.00005, every strong finding's, was written `0`, a claim that it
/// cannot happen, and a p of 1e-5 read as one of 1e-30 (found by review).
pub fn round_sig4(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return if x == 0.0 { 0.0 } else { x };
    }
    let e = libm::floor(libm::log10(x.abs()));
    let scale = libm::pow(10.0, 3.0 - e);
    if !scale.is_finite() {
        return x;
    }
    let r = libm::round(x * scale) / scale;
    if r == 0.0 { 0.0 } else { r }
}

/// Write a probability in `[0, 1]` with up to 4 significant digits as
/// ECMAScript writes a number (`0.01234`, `0.000001234`, `1.234e-7`): the
/// form RFC 8785 canonicalisation gives it, so a sealed verdict's text
/// is what its canonical form holds. Other values as [`write_num`].
pub fn write_p(out: &mut String, x: f64) {
    if !(x > 0.0 && x < 1.0) {
        write_num(out, x);
        return;
    }
    let mut e = libm::floor(libm::log10(x)) as i32;
    let mut m = libm::round(x * libm::pow(10.0, f64::from(3 - e))) as u32;
    if m >= 10_000 {
        m /= 10;
        e += 1;
    }
    if m == 0 {
        out.push('0');
        return;
    }
    let mut digits = format!("{m:04}");
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if e >= -6 {
        if e >= 0 {
            out.push('1');
            return;
        }
        out.push_str("0.");
        for _ in 0..(-e - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{e}");
    }
}

/// Write `x` as a JSON number with at most 4 decimals, no exponent, no "-0".
/// Non-finite values are written as `null`.
pub fn write_num(out: &mut String, x: f64) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    // Beyond 2^53 / 1e4 the scaled integer is no longer exact: print integer part only.
    if x.abs() >= 9.0e11 {
        let v = libm::round(x);
        if v.abs() >= 9.0e18 {
            out.push_str(if v < 0.0 {
                "-9000000000000000000"
            } else {
                "9000000000000000000"
            });
        } else {
            let _ = write!(out, "{}", v as i64);
        }
        return;
    }
    let scaled = libm::round(x * 10_000.0) as i64;
    if scaled == 0 {
        out.push('0');
        return;
    }
    if scaled < 0 {
        out.push('-');
    }
    let a = scaled.unsigned_abs();
    let int = a / 10_000;
    let mut frac = a % 10_000;
    let _ = write!(out, "{int}");
    if frac != 0 {
        let mut digits = 4;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let _ = write!(out, ".{frac:0digits$}");
    }
}

/// Number formatted as by [`write_num`].
pub fn fmt_num(x: f64) -> String {
    let mut s = String::new();
    write_num(&mut s, x);
    s
}

/// Escape a string as a JSON string literal (with quotes).
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Half-life decay factor for an elapsed time: `2^(-dt/half_life)`.
pub fn decay(dt_secs: f64, half_life_secs: f64) -> f64 {
    if dt_secs.is_nan() || half_life_secs.is_nan() || dt_secs <= 0.0 || half_life_secs <= 0.0 {
        return 1.0;
    }
    libm::exp2(-dt_secs / half_life_secs)
}

/// Great-circle distance in km (haversine).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let r = 6371.0088;
    let d2r = core::f64::consts::PI / 180.0;
    let dlat = (lat2 - lat1) * d2r;
    let dlon = (lon2 - lon1) * d2r;
    let a = libm::sin(dlat / 2.0) * libm::sin(dlat / 2.0)
        + libm::cos(lat1 * d2r)
            * libm::cos(lat2 * d2r)
            * libm::sin(dlon / 2.0)
            * libm::sin(dlon / 2.0);
    2.0 * r * libm::asin(libm::sqrt(a.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_num(0.93), "0.93");
        assert_eq!(fmt_num(-0.00001), "0");
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(-2.50004), "-2.5");
        assert_eq!(fmt_num(1e-7), "0");
        assert_eq!(fmt_num(123456.78915), "123456.7892");
        assert_eq!(fmt_num(f64::NAN), "null");
        assert_eq!(fmt_num(1e20), "9000000000000000000");
        assert_eq!(fmt_num(0.0001), "0.0001");
        assert_eq!(fmt_num(0.05), "0.05");
    }

    #[test]
    fn poisson_edges() {
        // X is an integer: P(X >= 0.5) = P(X >= 1), P(X >= 2.2) = P(X >= 3).
        assert_eq!(poisson_sf_ge(0.5, 3.0), poisson_sf_ge(1.0, 3.0));
        assert_eq!(poisson_sf_ge(2.2, 3.0), poisson_sf_ge(3.0, 3.0));
        assert!((poisson_sf_ge(1.0, 3.0) - (1.0 - libm::exp(-3.0))).abs() < 1e-15);
        for bad in [f64::NAN, 0.0, -1.0] {
            assert_eq!(poisson_sf_ge(bad, 3.0), 1.0, "k = {bad}");
        }
        assert_eq!(poisson_sf_ge(5.0, f64::NAN), 1.0);
        assert_eq!(poisson_sf_ge(5.0, f64::INFINITY), 1.0);
        // A zero or negative mean is a tiny one: any count is surprising.
        assert!(poisson_sf_ge(1.0, 0.0) < 1e-8);
        assert!(poisson_sf_ge(1.0, -4.0) < 1e-8);
    }

    #[test]
    fn fisher_basic() {
        assert!((fisher(&[0.5]) - 0.5).abs() < 1e-12);
        assert_eq!(fisher(&[0.01]), 0.01);
        assert!(fisher(&[0.01, 0.01]) < 0.01);
        assert_eq!(fisher(&[]), 1.0);
    }

    /// Known answers from the definition (Simes 1986, eq. 1): `k = 3`,
    /// sorted 0.01, 0.04, 0.05 gives min(0.03, 0.06, 0.05) = 0.03; the
    /// largest value can decide (0.04, 0.045, 0.05: min(0.12, 0.0675,
    /// 0.05) = 0.05).
    #[test]
    fn simes_known_answers() {
        assert!((simes(&mut [0.05, 0.01, 0.04]) - 0.03).abs() < 1e-15);
        assert!((simes(&mut [0.05, 0.04, 0.045]) - 0.05).abs() < 1e-15);
        assert_eq!(simes(&mut [0.3]), 0.3);
        assert_eq!(simes(&mut []), 1.0);
        // Capped at 1; NaN is no evidence.
        assert_eq!(simes(&mut [0.9, 0.95]), 0.95);
        assert_eq!(simes(&mut [0.6, f64::NAN]), 1.0);
        // Equal values (one finding seen three ways) stay that value.
        assert!((simes(&mut [1e-4, 1e-4, 1e-4]) - 1e-4).abs() < 1e-18);
        // Exactly, not an ulp below (3 × (2/17) / 3 rounds under 2/17).
        assert_eq!(simes(&mut [2.0 / 17.0; 3]), 2.0 / 17.0);
    }

    /// Simes never exceeds Bonferroni's `k·min p` and never goes below the
    /// smallest value.
    #[test]
    fn simes_between_min_and_bonferroni() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            let k = 1 + (x % 5) as usize;
            let mut ps: alloc::vec::Vec<f64> = (0..k)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 11) as f64 / (1u64 << 53) as f64
                })
                .collect();
            let lo = ps.iter().copied().fold(1.0, f64::min);
            let s = simes(&mut ps);
            assert!(
                s >= clamp_p(lo) && s <= (k as f64 * lo).min(1.0) + 1e-15,
                "{ps:?}: {s}"
            );
        }
    }
}

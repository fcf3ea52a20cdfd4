//! `gauge` detector model: a streaming, fixed-size anomaly model for one numeric
//! series (CPU, latency, temperature, a request count per interval, ...).
//!
//! Three pieces of evidence, each turned into a p-value by the same conformal
//! step (the share of past, exponentially decayed, evidence values at least as
//! large as the current one, so every p-value is calibrated on the series
//! itself whatever its distribution):
//!
//! 1. **pattern novelty**: the value is quantised into `bins` levels of the
//!    range seen so far; an order-`order` Markov model over those symbols (hashed
//!    count tables of fixed size, halved when a counter saturates) gives the
//!    surprise `-log2 P(symbol | previous symbols)`, with back-off to shorter
//!    contexts. New shapes — a level never visited, a transition never made —
//!    are surprising; a spike that happens every day is not.
//! 2. **point residual**: `|x - level| / scale` against a robust EWMA level
//!    (Huber-clipped update) and mean absolute deviation.
//! 3. **level shift**: the short-term mean of the residuals (half-life
//!    `short` observations) over the scale, which catches sustained shifts that
//!    no single point makes obvious.
//!
//! The three p-values are combined by Bonferroni (`3 · min p`). After an
//! observation with a combined p at or below `rest_p`, the following `rest`
//! observations report no finding (they still train the model): one incident
//! is reported once, when it starts, not on every point of it.
//!
//! State is a fixed `Pod` of [`GaugeState::SIZE`] bytes per series; no heap.

use crate::StateError;
use crate::snapshot::{Pod, R, W};

/// Hashed count cells of the Markov model.
pub const CELLS: usize = 256;
/// Conformal histogram bins (half-log2 steps).
pub const HBINS: usize = 24;
/// Evidence kinds.
const KINDS: usize = 3;

/// Parameters of the gauge model (from the policy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaugeParams {
    /// Quantisation levels of the pattern model (2..=16).
    pub bins: u32,
    /// Markov order (1..=4 previous symbols).
    pub order: u32,
    /// Half-life of the robust level and scale, in observations.
    pub half_life: f64,
    /// Half-life of the conformal histograms, in observations.
    pub calib_half_life: f64,
    /// Half-life of the short-term residual mean, in observations.
    pub short: f64,
    /// Observations before anything is reported.
    pub warmup: u32,
    /// Observations muted after a report.
    pub rest: u32,
    /// Combined p-value at or below which the rest period starts.
    pub rest_p: f64,
    /// Report drops below the level (pattern novelty is always reported).
    pub drops: bool,
    /// Evidence kinds used (bit 0 pattern, 1 point, 2 shift).
    pub evidence: u8,
}

impl Default for GaugeParams {
    fn default() -> Self {
        GaugeParams {
            bins: 8,
            order: 2,
            half_life: 300.0,
            calib_half_life: 1000.0,
            short: 8.0,
            warmup: 200,
            rest: 150,
            rest_p: 0.01,
            drops: true,
            evidence: 7,
        }
    }
}

/// Outcome of one observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaugeOut {
    /// Combined p-value (1 while warming up or resting).
    pub p: f64,
    /// Which evidence was strongest: 0 pattern, 1 point, 2 shift.
    pub kind: u8,
    /// Expected level and scale before this observation.
    pub expected: f64,
    pub scale: f64,
    /// True when this observation was muted by the rest period.
    pub resting: bool,
}

/// Per-series state.
#[derive(Clone, Copy, Debug)]
pub struct GaugeState {
    pub n: u32,
    rest_left: u32,
    /// Last symbols, 4 bits each, most recent in the low bits.
    hist_syms: u32,
    lo: f32,
    hi: f32,
    level: f32,
    dev: f32,
    short: f32,
    /// Markov counts: context totals and (context, symbol) pairs, hashed.
    ctx: [u16; CELLS],
    pair: [u16; CELLS],
    /// Conformal histograms, one per evidence kind.
    calib: [[f32; HBINS]; KINDS],
}

impl Default for GaugeState {
    fn default() -> Self {
        GaugeState {
            n: 0,
            rest_left: 0,
            hist_syms: 0,
            lo: 0.0,
            hi: 0.0,
            level: 0.0,
            dev: 0.0,
            short: 0.0,
            ctx: [0; CELLS],
            pair: [0; CELLS],
            calib: [[0.0; HBINS]; KINDS],
        }
    }
}

impl Pod for GaugeState {
    const SIZE: usize = 4 * 3 + 4 * 5 + CELLS * 2 * 2 + KINDS * HBINS * 4;
    fn put(&self, w: &mut W) {
        w.u32(self.n);
        w.u32(self.rest_left);
        w.u32(self.hist_syms);
        for x in [self.lo, self.hi, self.level, self.dev, self.short] {
            w.f32(x);
        }
        for c in self.ctx.iter().chain(self.pair.iter()) {
            w.u16(*c);
        }
        for k in &self.calib {
            for h in k {
                w.f32(*h);
            }
        }
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = GaugeState {
            n: r.u32()?,
            rest_left: r.u32()?,
            hist_syms: r.u32()?,
            lo: r.f32()?,
            hi: r.f32()?,
            level: r.f32()?,
            dev: r.f32()?,
            short: r.f32()?,
            ..Default::default()
        };
        for c in s.ctx.iter_mut() {
            *c = r.u16()?;
        }
        for c in s.pair.iter_mut() {
            *c = r.u16()?;
        }
        for k in s.calib.iter_mut() {
            for h in k.iter_mut() {
                *h = r.f32()?;
                // decayed counts: a negative one gave a negative p-value,
                // a critical alert (found by review)
                if !(h.is_finite() && *h >= 0.0) {
                    return Err(StateError::Corrupt("gauge histogram"));
                }
            }
        }
        Ok(s)
    }
}

#[inline]
fn cell(h: u32) -> usize {
    // multiplicative hash of a small key
    (h.wrapping_mul(0x9E37_79B1) >> 24) as usize % CELLS
}

/// Conformal bin of a non-negative evidence value (half-log2 steps from 1/16).
#[inline]
fn ebin(u: f64) -> usize {
    ((libm::log2(u.max(1e-9)) + 4.0) * 2.0).clamp(0.0, (HBINS - 1) as f64) as usize
}

impl GaugeState {
    /// Score observation `x`, then learn it.
    pub fn observe(&mut self, x: f64, prm: &GaugeParams) -> GaugeOut {
        let alpha = 1.0 - libm::exp2(-1.0 / prm.half_life.max(1.0));
        let calib_keep = libm::exp2(-1.0 / prm.calib_half_life.max(1.0));
        let short_a = 1.0 - libm::exp2(-1.0 / prm.short.max(1.0));
        let bins = prm.bins.clamp(2, 16);
        let order = prm.order.clamp(1, 4);
        if self.n == 0 {
            self.lo = x as f32;
            self.hi = x as f32;
            self.level = x as f32;
        }
        // --- pattern novelty
        if x < self.lo as f64 {
            self.lo = x as f32;
        }
        if x > self.hi as f64 {
            self.hi = x as f32;
        }
        let range = (self.hi - self.lo) as f64;
        let sym = if range > 0.0 {
            (((x - self.lo as f64) / range) * bins as f64).clamp(0.0, (bins - 1) as f64) as u32
        } else {
            0
        };
        let mut surprise = 0.0;
        let mut found = false;
        for k in (1..=order).rev() {
            if self.n < k {
                continue;
            }
            let mask = (1u32 << (4 * k)) - 1;
            let c = (self.hist_syms & mask) | (k << 20);
            let cc = self.ctx[cell(c)] as f64;
            if cc >= 2.0 || k == 1 {
                let pc = self.pair[cell(c ^ ((sym + 1) << 24))] as f64;
                // Krichevsky-Trofimov-style estimate
                let q = (pc + 0.5) / (cc + 0.5 * bins as f64);
                surprise = -libm::log2(q);
                found = true;
                break;
            }
        }
        if !found {
            surprise = libm::log2(bins as f64);
        }
        // --- point residual and level shift
        let e = self.level as f64;
        let b = (self.dev as f64).max(1e-9 + 1e-3 * e.abs() + 1e-3 * range);
        let resid = x - e;
        let short = self.short as f64 + short_a * (resid - self.short as f64);
        let mut ev = [
            surprise,
            (resid.abs() / b).min(1e6),
            (short.abs() / b).min(1e6),
        ];
        if !prm.drops && resid < 0.0 {
            ev[1] = 0.0;
            ev[2] = 0.0;
        }
        let mut pmin = 1.0f64;
        let mut kind = 0u8;
        let used = (prm.evidence & 7).count_ones().max(1) as f64;
        for (k, &u) in ev.iter().enumerate() {
            let bu = ebin(u);
            let on = prm.evidence & (1 << k) != 0;
            let h = &mut self.calib[k];
            let tot: f64 = h.iter().map(|&v| v as f64).sum();
            let ge: f64 = h[bu..].iter().map(|&v| v as f64).sum();
            let p = (ge + 1.0) / (tot + 1.0);
            if on && p < pmin {
                pmin = p;
                kind = k as u8;
            }
            for v in h.iter_mut() {
                *v = (*v as f64 * calib_keep) as f32;
            }
            h[bu] += 1.0;
        }
        let mut p = (pmin * used).min(1.0);
        // --- learn
        for k in 1..=order {
            if self.n < k {
                continue;
            }
            let mask = (1u32 << (4 * k)) - 1;
            let c = (self.hist_syms & mask) | (k << 20);
            let ci = cell(c);
            let pi = cell(c ^ ((sym + 1) << 24));
            if self.ctx[ci] == u16::MAX || self.pair[pi] == u16::MAX {
                for v in self.ctx.iter_mut().chain(self.pair.iter_mut()) {
                    *v /= 2;
                }
            }
            self.ctx[ci] += 1;
            self.pair[pi] += 1;
        }
        self.hist_syms = (self.hist_syms << 4) | sym;
        let a = if self.n < prm.warmup {
            (1.0 / (self.n as f64 + 1.0)).max(alpha)
        } else {
            alpha
        };
        let r = if self.n >= prm.warmup {
            // `max`/`min`, not `clamp`: never a panic, whatever `b` holds
            resid.max(-5.0 * b).min(5.0 * b)
        } else {
            resid
        };
        if self.n > 0 {
            self.level = (e + a * r) as f32;
            self.dev = (self.dev as f64 + a * (r.abs() - self.dev as f64)) as f32;
        }
        self.short = short as f32;
        self.n = self.n.saturating_add(1);
        let mut resting = false;
        if self.n <= prm.warmup {
            p = 1.0;
        } else if self.rest_left > 0 {
            self.rest_left -= 1;
            resting = true;
            p = 1.0;
        } else if p <= prm.rest_p {
            self.rest_left = prm.rest;
        }
        GaugeOut {
            p,
            kind,
            expected: e,
            scale: b,
            resting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_calibration() {
        assert_eq!(core::mem::size_of::<GaugeState>(), GaugeState::SIZE);
        // i.i.d. noise: conformal p-values are roughly uniform, so few are small
        let prm = GaugeParams {
            rest: 0,
            ..GaugeParams::default()
        };
        let mut s = GaugeState::default();
        let mut x: u64 = 12345;
        let mut small = 0;
        let n = 20_000;
        for _ in 0..n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            if s.observe(u * 10.0, &prm).p <= 0.01 {
                small += 1;
            }
        }
        assert!(small < n / 50, "{small} of {n} p-values <= 0.01");
    }
}

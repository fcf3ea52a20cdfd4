//! The fixed-size values the detectors keep per entity, series or
//! context in their tables, and their snapshot encodings ([`Pod`]).

use super::*;

/// A sliding run of `N` sub-buckets ending at `head` (sub-buckets
/// `head - (N - 1) ..= head`), each counted in a `u16`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slots<const N: usize> {
    pub(super) head: u32,
    pub(super) c: [u16; N],
}

impl<const N: usize> Default for Slots<N> {
    fn default() -> Self {
        Slots { head: 0, c: [0; N] }
    }
}

impl<const N: usize> Slots<N> {
    pub(super) const SPAN: u32 = N as u32;

    pub(super) fn advance(&mut self, b: u32) {
        if b > self.head {
            let d = b - self.head;
            if d >= Self::SPAN {
                self.c = [0; N];
            } else {
                for i in 1..=d {
                    self.c[((self.head + i) % Self::SPAN) as usize] = 0;
                }
            }
            self.head = b;
        }
    }
    /// Counts `n` events in sub-bucket `b`, by their own time (a later one
    /// moves the head); `false` when `b` is older than the run.
    pub(super) fn add_at(&mut self, b: u32, n: u16) -> bool {
        if b.saturating_add(Self::SPAN) <= self.head {
            return false;
        }
        self.advance(b);
        let i = (b % Self::SPAN) as usize;
        self.c[i] = self.c[i].saturating_add(n);
        true
    }
    /// The sub-buckets of `lo..=hi` that the run holds.
    pub(super) fn range(&self, lo: u32, hi: u32) -> core::ops::RangeInclusive<u32> {
        lo.max(self.head.saturating_sub(Self::SPAN - 1))..=hi.min(self.head)
    }
    /// The count of sub-buckets `lo..=hi`.
    pub(super) fn sum_range(&self, lo: u32, hi: u32) -> u32 {
        self.range(lo, hi)
            .map(|i| self.c[(i % Self::SPAN) as usize] as u32)
            .sum()
    }
    /// Empties sub-buckets `lo..=hi`.
    pub(super) fn clear_range(&mut self, lo: u32, hi: u32) {
        for i in self.range(lo, hi) {
            self.c[(i % Self::SPAN) as usize] = 0;
        }
    }
    pub(super) fn put(&self, w: &mut W) {
        w.u32(self.head);
        for c in self.c {
            w.u16(c);
        }
    }
    pub(super) fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = Self {
            head: r.u32()?,
            ..Self::default()
        };
        for x in s.c.iter_mut() {
            *x = r.u16()?;
        }
        Ok(s)
    }
}

/// A rule's window of one group key (`threshold`, `followed_by`; the
/// window is 8 sub-buckets), in three runs that each record counts in one
/// of, by its own time: the group's latest 16 sub-buckets (two windows);
/// the 8 before them, which take the sub-buckets the latest 16 drop as
/// they move on; and a far run for records older than the latest 16 (a
/// late source, a backfill, a replay, a clock gone back), with their own
/// neighbours, which starts over for a record older than it too. A late
/// record is judged by the largest count of a window of 8 sub-buckets that
/// holds it, over the three. The history was found wanting six times by
/// review: every record counted in the latest sub-bucket (a backfill of
/// yesterday's failures, one an hour, read as 6 within 10 minutes; a late
/// success was paired with failures after it); records older than the
/// window counted nowhere (one live failure blinded both rules to a brute
/// force shipped 12 minutes late); a window behind kept apart from the
/// live one split a burst across their edge; the live window dropped a
/// late source's records as it moved on; 16 sub-buckets without a run that
/// took what they dropped lost sources 15 to 23 minutes late; and one run
/// behind that both took those and held far records lost sources 25 to 38
/// minutes late, switching between the two.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Win {
    pub(super) live: Slots<16>,
    pub(super) spilt: Slots<8>,
    pub(super) far: Slots<8>,
}

impl Win {
    /// Counts `n` events in sub-bucket `b`; returns the largest count of a
    /// window of 8 sub-buckets holding `b` (an in-order record's: the
    /// latest window's).
    pub(super) fn add_at(&mut self, b: u32, n: u16) -> u32 {
        // what the latest 16 drop on moving to `b` (none before they have
        // 16: at the epoch's start the first sub-buckets were spilt while
        // still held, and counted twice: found by review)
        if b > self.live.head
            && let Some(hi) = b.checked_sub(16)
        {
            let lo = self.live.head.saturating_sub(15);
            for i in lo..=hi.min(self.live.head) {
                let c = self.live.c[(i % 16) as usize];
                if c > 0 {
                    self.spilt.add_at(i, c);
                }
            }
        }
        if !self.live.add_at(b, n) {
            if b.saturating_add(8) <= self.far.head {
                self.far = Slots::default();
            }
            self.far.add_at(b, n);
        }
        if b >= self.live.head {
            return self.live.sum_range(b.saturating_sub(7), b);
        }
        (b.saturating_sub(7)..=b)
            .map(|s| self.sum_range(s, s.saturating_add(7)))
            .max()
            .unwrap_or(0)
    }
    /// The three runs' count of sub-buckets `lo..=hi` (a record is in one
    /// run only; two runs may hold records of one sub-bucket).
    pub(super) fn sum_range(&self, lo: u32, hi: u32) -> u32 {
        self.live.sum_range(lo, hi) + self.spilt.sum_range(lo, hi) + self.far.sum_range(lo, hi)
    }
    /// The count of the window ending at sub-bucket `b` (what came up to
    /// it).
    pub(super) fn total_to(&self, b: u32) -> u32 {
        self.sum_range(b.saturating_sub(7), b)
    }
    /// Empties the window ending at `b`, which a reported `then` read;
    /// later sub-buckets keep theirs (clearing the runs whole, a live
    /// success spent a late brute force's failures: found by review).
    pub(super) fn clear_to(&mut self, b: u32) {
        let lo = b.saturating_sub(7);
        self.live.clear_range(lo, b);
        self.spilt.clear_range(lo, b);
        self.far.clear_range(lo, b);
    }
}

impl Pod for Win {
    /// Format 8 on: the latest 16 sub-buckets, the 8 before them, the far
    /// run of 8. Format 7 (two commits of December 2026): the latest 8 and
    /// a run of 8 behind them, restored as the latest and the far run; 1
    /// to 6: the latest 8 alone, restored into the 16.
    const SIZE: usize = 76;
    fn size_in(v: u16) -> usize {
        match v {
            ..7 => 20,
            7 => 40,
            _ => Self::SIZE,
        }
    }
    fn put(&self, w: &mut W) {
        self.live.put(w);
        self.spilt.put(w);
        self.far.put(w);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        if r.v >= 8 {
            return Ok(Win {
                live: Slots::get(r)?,
                spilt: Slots::get(r)?,
                far: Slots::get(r)?,
            });
        }
        let old = Slots::<8>::get(r)?;
        let mut live = Slots::<16> {
            head: old.head,
            ..Slots::default()
        };
        for i in old.range(0, old.head) {
            live.c[(i % 16) as usize] = old.c[(i % 8) as usize];
        }
        let far = if r.v == 7 {
            Slots::get(r)?
        } else {
            Slots::default()
        };
        Ok(Win {
            live,
            far,
            ..Win::default()
        })
    }
}

/// `N` half-window 256-bit linear-counting sketches ending at half `half`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Halves<const N: usize> {
    pub(super) half: u32,
    pub(super) h: [[u64; 4]; N],
}

impl<const N: usize> Default for Halves<N> {
    fn default() -> Self {
        Halves {
            half: 0,
            h: [[0; 4]; N],
        }
    }
}

impl<const N: usize> Halves<N> {
    pub(super) const SPAN: u32 = N as u32;

    /// Adds value hash `h` in half `hb`, by its own time; `false` when
    /// `hb` is older than the run.
    pub(super) fn add(&mut self, hb: u32, h: u64) -> bool {
        let bit = (h & 255) as usize;
        let mut x = [0u64; 4];
        x[bit / 64] = 1u64 << (bit % 64);
        self.merge(hb, &x)
    }
    /// Adds the values of sketch `x` in half `hb`; `false` when `hb` is
    /// older than the run.
    pub(super) fn merge(&mut self, hb: u32, x: &[u64; 4]) -> bool {
        if hb.saturating_add(Self::SPAN) <= self.half {
            return false;
        }
        if hb > self.half {
            let d = hb - self.half;
            if d >= Self::SPAN {
                self.h = [[0; 4]; N];
            } else {
                for i in 1..=d {
                    self.h[((self.half + i) % Self::SPAN) as usize] = [0; 4];
                }
            }
            self.half = hb;
        }
        for (b, x) in self.h[(hb % Self::SPAN) as usize].iter_mut().zip(x) {
            *b |= x;
        }
        true
    }
    /// The sketch of half `hb`, if the run holds it.
    pub(super) fn bits_of(&self, hb: u32) -> Option<&[u64; 4]> {
        (hb <= self.half && hb.saturating_add(Self::SPAN) > self.half)
            .then(|| &self.h[(hb % Self::SPAN) as usize])
    }
    pub(super) fn put(&self, w: &mut W) {
        w.u32(self.half);
        for x in self.h.iter().flatten() {
            w.u64(*x);
        }
    }
    pub(super) fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = Self {
            half: r.u32()?,
            ..Self::default()
        };
        for x in s.h.iter_mut().flatten() {
            *x = r.u64()?;
        }
        Ok(s)
    }
}

/// Linear counting: the distinct values behind a 256-bit sketch.
pub(super) fn linear_count(bits: &[u64; 4]) -> f64 {
    let ones: u32 = bits.iter().map(|x| x.count_ones()).sum();
    if ones >= 256 {
        1500.0
    } else {
        -256.0 * libm::log(1.0 - ones as f64 / 256.0)
    }
}

/// A `distinct` rule's window of one group key (two halves), in three
/// runs as [`Win`] keeps its sub-buckets: the latest 4 halves, the 2
/// before them (what the latest 4 drop), and a far run of 2 (before, every
/// record counted in the latest half: a backfill of yesterday's spraying,
/// one name an hour, was spraying now; and with fewer runs a late spray
/// across an edge, beside live traffic or half an hour late was split or
/// forgotten: found by review).
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Dist {
    pub(super) live: Halves<4>,
    pub(super) spilt: Halves<2>,
    pub(super) far: Halves<2>,
}

impl Dist {
    /// Adds value hash `h` in half `hb`; the larger estimate of distinct
    /// values of the two windows of two halves that hold `hb`, over the
    /// three runs (an in-order record's: the latest window's).
    pub(super) fn add(&mut self, hb: u32, h: u64) -> f64 {
        if hb > self.live.half
            && let Some(hi) = hb.checked_sub(4)
        {
            let lo = self.live.half.saturating_sub(3);
            for i in lo..=hi.min(self.live.half) {
                let x = self.live.h[(i % 4) as usize];
                if x != [0; 4] {
                    self.spilt.merge(i, &x);
                }
            }
        }
        if !self.live.add(hb, h) {
            if hb.saturating_add(2) <= self.far.half {
                self.far = Halves::default();
            }
            self.far.add(hb, h);
        }
        let window = |lo: u32| {
            let mut bits = [0u64; 4];
            for half in [lo, lo.saturating_add(1)] {
                for x in [
                    self.live.bits_of(half),
                    self.spilt.bits_of(half),
                    self.far.bits_of(half),
                ]
                .into_iter()
                .flatten()
                {
                    for (b, x) in bits.iter_mut().zip(x) {
                        *b |= x;
                    }
                }
            }
            linear_count(&bits)
        };
        if hb >= self.live.half {
            return window(hb.saturating_sub(1));
        }
        window(hb.saturating_sub(1)).max(window(hb))
    }
}

impl Pod for Dist {
    /// Format 8 on: the latest 4 halves, the 2 before them, the far run of
    /// 2. Format 7: the latest 2 and a run of 2 behind them (restored as
    /// the latest and the far run); 1 to 6: the latest 2 alone.
    const SIZE: usize = 4 + 4 * 32 + 2 * (4 + 2 * 32);
    fn size_in(v: u16) -> usize {
        match v {
            ..7 => 68,
            7 => 136,
            _ => Self::SIZE,
        }
    }
    fn put(&self, w: &mut W) {
        self.live.put(w);
        self.spilt.put(w);
        self.far.put(w);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        if r.v >= 8 {
            return Ok(Dist {
                live: Halves::get(r)?,
                spilt: Halves::get(r)?,
                far: Halves::get(r)?,
            });
        }
        // half, the latest half's sketch, the one before it
        let half = r.u32()?;
        let mut live = Halves::<4> {
            half,
            ..Halves::default()
        };
        for hb in [Some(half), half.checked_sub(1)] {
            let mut x = [0u64; 4];
            for v in x.iter_mut() {
                *v = r.u64()?;
            }
            if let Some(hb) = hb {
                live.h[(hb % 4) as usize] = x;
            }
        }
        // format 7's run behind: half, its sketch, the one before it (read
        // as `Halves::get` would, an odd half's two sketches were swapped:
        // found by review)
        let mut far = Halves::<2>::default();
        if r.v == 7 {
            far.half = r.u32()?;
            for hb in [Some(far.half), far.half.checked_sub(1)] {
                let mut x = [0u64; 4];
                for v in x.iter_mut() {
                    *v = r.u64()?;
                }
                if let Some(hb) = hb {
                    far.h[(hb % 2) as usize] = x;
                }
            }
        }
        Ok(Dist {
            live,
            far,
            ..Dist::default()
        })
    }
}

/// Per-entity profile shared by new-value and unusual-hour detectors: 32 bytes.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Profile {
    pub(super) first_min: u32,
    pub(super) n: u32,
    /// Per `new_value` feature slot (see [`NewValue::slot0`]): values known.
    pub(super) distinct: [u8; 8],
    /// 24 four-bit hour-of-day counts; all halve when one saturates.
    pub(super) hours: [u8; 12],
    /// Per `new_value` feature slot: events the detector looked at that
    /// had the feature (saturating), the `n` of its Good-Turing estimate.
    /// An entity's other events say nothing about how often its logins
    /// bring a new address (snapshot format 6; before, all its events).
    pub(super) seen: [u16; 8],
}

impl Profile {
    pub(super) fn hour(&self, h: usize) -> u32 {
        ((self.hours[h / 2] >> (4 * (h % 2))) & 15) as u32
    }
    /// Count an event at hour `h`. When a counter would overflow, all
    /// halve, rounding up: an hour ever seen keeps a count of at least 1,
    /// so a zero means "never seen", which `unusual_hour` relies on.
    pub(super) fn inc_hour(&mut self, h: usize) {
        if self.hour(h) == 15 {
            for b in self.hours.iter_mut() {
                let lo = (*b & 15).div_ceil(2);
                let hi = (*b >> 4).div_ceil(2);
                *b = lo | (hi << 4);
            }
        }
        let v = self.hour(h) + 1;
        let sh = 4 * (h % 2);
        self.hours[h / 2] = (self.hours[h / 2] & !(15 << sh)) | ((v as u8) << sh);
    }
}

impl Pod for Profile {
    const SIZE: usize = 44;
    fn size_in(v: u16) -> usize {
        if v < 6 { 32 } else { Self::SIZE }
    }
    fn put(&self, w: &mut W) {
        w.u32(self.first_min);
        w.u32(self.n);
        w.buf.extend_from_slice(&self.distinct);
        w.buf.extend_from_slice(&self.hours);
        for s in self.seen {
            w.u16(s);
        }
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let first_min = r.u32()?;
        if r.v < 6 {
            // the time of the entity's latest event, no longer kept
            r.u32()?;
        }
        let mut p = Profile {
            first_min,
            n: r.u32()?,
            ..Default::default()
        };
        p.distinct.copy_from_slice(r.take(8)?);
        p.hours.copy_from_slice(r.take(12)?);
        if r.v < 6 {
            // Formats 1 to 5 counted every event of the entity for every
            // feature: the best estimate there is.
            p.seen = [p.n.min(u16::MAX as u32) as u16; 8];
        } else {
            for s in p.seen.iter_mut() {
                *s = r.u16()?;
            }
        }
        Ok(p)
    }
}

#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Loc {
    pub(super) lat: f32,
    pub(super) lon: f32,
    pub(super) t: f64,
}

impl Pod for Loc {
    const SIZE: usize = 16;
    fn put(&self, w: &mut W) {
        w.f32(self.lat);
        w.f32(self.lon);
        w.f64(self.t);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        Ok(Loc {
            lat: r.f32()?,
            lon: r.f32()?,
            t: r.f64()?,
        })
    }
}

/// Seasonal robust baseline for one series: 160 bytes.
#[derive(Clone, Copy, Debug)]
pub(super) struct RateState {
    pub(super) bucket: u32,
    pub(super) count: f32,
    pub(super) errs: f32,
    pub(super) n: u32,
    pub(super) level: f32,
    pub(super) dev: f32,
    pub(super) err_rate: f32,
    pub(super) err_n: f32,
    pub(super) season: [f32; 24],
    pub(super) dow: [f32; 7],
    /// Count mode: the dispersion, the variance of a bucket's count over
    /// its expectation (1 for Poisson counts; see `Rate::count_sigma`).
    /// Saved from snapshot format 11 (an unused field before).
    pub(super) disp: f32,
    /// Gauge mode: decayed histogram of log2 surprises (conformal p-values).
    pub(super) hist: [f32; UBINS],
    /// Count mode: the latest bucket the series has opened. After the
    /// clock went back (a replayed older log) the open bucket is the
    /// replay's; the buckets up to this one were counted already, so they
    /// are no silence and teach no zeros when the stream returns (they
    /// did: found by review). Saved from snapshot format 6.
    pub(super) peak: u32,
    /// What the `peak` bucket had counted when the clock went back from
    /// it (events, errors): the stream returning into that bucket goes on
    /// from there (it started again from 1, and the hour was a drop).
    pub(super) peak_count: f32,
    pub(super) peak_errs: f32,
    /// Count mode: an EWMA of the standardised residuals, a tracking
    /// signal of a change (see `Rate::observe`). Saved from snapshot
    /// format 11.
    pub(super) drift: f32,
}

impl RateState {
    /// The open bucket's count and errors: when time was repeated in the
    /// latest bucket (see `Rate::run`), the larger of its two passes.
    pub(super) fn counted(&self) -> (f32, f32) {
        if self.bucket == self.peak && self.peak_count > self.count {
            (self.peak_count, self.peak_errs)
        } else {
            (self.count, self.errs)
        }
    }

    /// The errors and events an error rate is judged on: of two passes,
    /// the one with the larger error share (an error burst in the smaller
    /// pass was lost: found by review).
    pub(super) fn err_pass(&self) -> (f32, f32) {
        let share = |e: f32, n: f32| if n > 0.0 { e / n } else { 0.0 };
        if self.bucket == self.peak
            && self.peak_count > 0.0
            && share(self.peak_errs, self.peak_count) > share(self.errs, self.count)
        {
            (self.peak_errs, self.peak_count)
        } else {
            (self.errs, self.count)
        }
    }
}

pub(super) const UBINS: usize = 24;

impl Default for RateState {
    fn default() -> Self {
        RateState {
            bucket: u32::MAX,
            count: 0.0,
            errs: 0.0,
            n: 0,
            level: 0.0,
            dev: 0.0,
            err_rate: 0.0,
            err_n: 0.0,
            season: [0.0; 24],
            dow: [0.0; 7],
            disp: 1.0,
            hist: [0.0; UBINS],
            peak: 0,
            peak_count: 0.0,
            peak_errs: 0.0,
            drift: 0.0,
        }
    }
}

impl Pod for RateState {
    const SIZE: usize = 52 + (31 + UBINS) * 4;
    fn size_in(v: u16) -> usize {
        if v < 6 {
            Self::SIZE - 16
        } else if v < 11 {
            Self::SIZE - 4
        } else {
            Self::SIZE
        }
    }
    fn put(&self, w: &mut W) {
        w.u32(self.bucket);
        w.f32(self.count);
        w.f32(self.errs);
        w.u32(self.n);
        w.f32(self.level);
        w.f32(self.dev);
        w.f32(self.err_rate);
        w.f32(self.err_n);
        for x in self.season.iter().chain(self.dow.iter()) {
            w.f32(*x);
        }
        w.f32(self.disp);
        for h in self.hist {
            w.f32(h);
        }
        w.u32(self.peak);
        w.f32(self.peak_count);
        w.f32(self.peak_errs);
        w.f32(self.drift);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = RateState {
            bucket: r.u32()?,
            count: r.f32()?,
            errs: r.f32()?,
            n: r.u32()?,
            level: r.f32()?,
            dev: r.f32()?,
            err_rate: r.f32()?,
            err_n: r.f32()?,
            ..Default::default()
        };
        for i in 0..24 {
            s.season[i] = r.f32()?;
        }
        for i in 0..7 {
            s.dow[i] = r.f32()?;
        }
        s.disp = r.f32()?;
        if r.v < 11 {
            // an unused field before: the dispersion the absolute spread
            // (`dev`, a mean absolute residual) meant at the level
            let sd = 1.2533 * s.dev as f64;
            s.disp = (sd * sd / (s.level as f64).max(1.0)).max(1.0) as f32;
        }
        // never written (a forged state): refused, as forged histograms are
        if !(s.disp.is_finite() && s.disp >= 0.0) {
            return Err(StateError::Corrupt("rate dispersion"));
        }
        for h in s.hist.iter_mut() {
            *h = r.f32()?;
            // decayed counts: a negative one gave a negative p-value, a
            // critical alert (found by review)
            if !(h.is_finite() && *h >= 0.0) {
                return Err(StateError::Corrupt("rate histogram"));
            }
        }
        if r.v >= 6 {
            s.peak = r.u32()?;
            s.peak_count = r.f32()?;
            s.peak_errs = r.f32()?;
        } else if s.bucket != u32::MAX {
            s.peak = s.bucket;
        }
        if r.v >= 11 {
            s.drift = r.f32()?;
            if !s.drift.is_finite() {
                return Err(StateError::Corrupt("rate drift"));
            }
        }
        Ok(s)
    }
}

pub(super) const TOP: usize = 12;

/// Next-event statistics for one context (space-saving top list): 76 bytes.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct CtxStats {
    pub(super) total: u32,
    pub(super) ids: [u16; TOP],
    pub(super) cnt: [u32; TOP],
}

impl CtxStats {
    pub(super) fn count(&self, id: u16) -> u32 {
        (0..TOP)
            .find(|&i| self.cnt[i] > 0 && self.ids[i] == id)
            .map(|i| self.cnt[i])
            .unwrap_or(0)
    }
    pub(super) fn add(&mut self, id: u16) {
        self.total = self.total.saturating_add(1);
        if let Some(i) = (0..TOP).find(|&i| self.cnt[i] > 0 && self.ids[i] == id) {
            // (saturating: `+= 1` panicked in debug builds, and wrapped to
            // an empty slot in release, at the 2^32nd occurrence: found by
            // review)
            self.cnt[i] = self.cnt[i].saturating_add(1);
            return;
        }
        let mut m = 0;
        for i in 0..TOP {
            if self.cnt[i] < self.cnt[m] {
                m = i;
            }
        }
        self.ids[m] = id;
        self.cnt[m] = self.cnt[m].saturating_add(1);
    }

    /// Every slot holds an event: an event not in the list may have been
    /// evicted, its count at most the smallest (space-saving's bound).
    pub(super) fn full(&self) -> bool {
        self.cnt.iter().all(|&c| c > 0)
    }

    /// Halve the counts, rounding down (a slot whose count reaches 0 is
    /// free again).
    pub(super) fn halve(&mut self) {
        for c in self.cnt.iter_mut() {
            *c /= 2;
        }
        self.total = self.cnt.iter().fold(0u32, |a, &c| a.saturating_add(c));
    }
}

impl Pod for CtxStats {
    const SIZE: usize = 4 + TOP * 6;
    fn put(&self, w: &mut W) {
        w.u32(self.total);
        for i in 0..TOP {
            w.u16(self.ids[i]);
            w.u32(self.cnt[i]);
        }
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = CtxStats {
            total: r.u32()?,
            ..Default::default()
        };
        for i in 0..TOP {
            s.ids[i] = r.u16()?;
            s.cnt[i] = r.u32()?;
        }
        Ok(s)
    }
}

pub(super) const HIST: usize = 16;

#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Hist {
    /// Events in the session, saturating: only whether it is shorter than
    /// `HIST` matters.
    pub(super) len: u16,
    /// With `UNKNOWN` last: a 16-bit hash of that never-seen line (never
    /// 0; 0 from a format 9 state: not known). A mark checks it, so that a
    /// later never-seen line is not taken for the marked one (found by
    /// review: the mark learned a context its event never followed).
    pub(super) unk: u16,
    pub(super) last: [u16; HIST],
}

impl Hist {
    pub(super) fn push(&mut self, id: u16) {
        self.last.copy_within(1.., 0);
        self.last[HIST - 1] = id;
        self.len = self.len.saturating_add(1);
        self.unk = 0;
    }
    /// Undo the last [`push`](Hist::push): the oldest slot, shifted out by
    /// that push, cannot come back, so a context of all `HIST` ids is only
    /// exact while the session is shorter than `HIST`.
    pub(super) fn pop(&mut self) -> u16 {
        let id = self.last[HIST - 1];
        self.last.copy_within(..HIST - 1, 1);
        self.last[0] = 0;
        self.len = self.len.saturating_sub(1);
        id
    }
    /// Hash of the last `j` ids (with a start marker when the session is shorter).
    pub(super) fn ctx(&self, j: usize, seed: u64) -> u64 {
        let mut h = combine(seed, j as u64);
        let have = (self.len as usize).min(HIST);
        for i in 0..j {
            let v = if i < have {
                self.last[HIST - 1 - i] as u64
            } else {
                0xFFFF_FFFF
            };
            h = combine(h, v);
        }
        h
    }
}

impl Pod for Hist {
    const SIZE: usize = 4 + HIST * 2;
    fn put(&self, w: &mut W) {
        w.u16(self.len);
        w.u16(self.unk);
        for x in self.last {
            w.u16(x);
        }
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        // format 10 on: length and the unknown line's hash; before, a u32
        // length
        let (len, unk) = if r.v >= 10 {
            (r.u16()?, r.u16()?)
        } else {
            (r.u32()?.min(u32::from(u16::MAX)) as u16, 0)
        };
        let mut s = Hist {
            len,
            unk,
            ..Default::default()
        };
        for x in s.last.iter_mut() {
            *x = r.u16()?;
        }
        Ok(s)
    }
}

//! Bounded-memory building blocks: a fixed hash, a set-associative LRU table,
//! a count-min sketch. All deterministic, no heap per entry.

use alloc::vec;
use alloc::vec::Vec;

const M1: u64 = 0x9E37_79B9_7F4A_7C15;
const M2: u64 = 0xBF58_476D_1CE4_E5B9;
const M3: u64 = 0x94D0_49BB_1331_11EB;

#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(M2);
    z = (z ^ (z >> 27)).wrapping_mul(M3);
    z ^ (z >> 31)
}

/// A fixed, target-independent 64-bit hash of bytes (never uses `usize`).
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(M1);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(M2).rotate_left(29);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        h = (h ^ tail_word(bytes, rem.len()))
            .wrapping_mul(M3)
            .rotate_left(31);
    }
    mix(h)
}

/// The last `n` (1 to 7) bytes of `bytes` as a little-endian word, zero
/// above them: the value `hash_bytes` has always folded in, read without
/// copying the bytes into a buffer (a `memcpy` call of a variable length
/// cost more than the rest of hashing a short name). Strings of 8 bytes or
/// more load the last whole word and shift its earlier bytes out.
#[inline]
fn tail_word(bytes: &[u8], n: usize) -> u64 {
    debug_assert!((1..8).contains(&n) && n <= bytes.len());
    if let Some(last) = bytes.last_chunk::<8>() {
        return u64::from_le_bytes(*last) >> (8 * (8 - n));
    }
    // Shorter than a word: two loads that overlap in the middle (the
    // bytes they share have the same value at the same place).
    if n >= 4 {
        let lo = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as u64;
        let hi =
            u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]) as u64;
        return lo | hi << (8 * (n - 4));
    }
    bytes[0] as u64
        | (bytes[n / 2] as u64) << (8 * (n / 2))
        | (bytes[n - 1] as u64) << (8 * (n - 1))
}

#[inline]
pub fn hash_str(seed: u64, s: &str) -> u64 {
    hash_bytes(seed, s.as_bytes())
}

#[inline]
pub fn combine(a: u64, b: u64) -> u64 {
    mix(a ^ b.wrapping_mul(M1).rotate_left(17))
}

/// Entries per bucket.
pub const WAYS: usize = 8;

/// Set-associative table with LRU eviction inside each bucket. Memory is
/// `capacity * (8 + 4 + size_of::<V>())` bytes and never exceeds the cap it was
/// built with; it starts small and doubles while there is room.
#[derive(Clone)]
pub struct Table<V: Copy + Default> {
    keys: Vec<u64>,
    ticks: Vec<u32>,
    vals: Vec<V>,
    buckets: usize,
    max_buckets: usize,
    len: usize,
    tick: u32,
    pub evictions: u64,
    /// Mixed into every key before it picks a bucket ([`Table::set_salt`]).
    salt: u64,
}

impl<V: Copy + Default> Table<V> {
    pub const fn slot_bytes() -> usize {
        8 + 4 + core::mem::size_of::<V>()
    }

    /// A table whose memory never exceeds `max_bytes` (at least one bucket).
    pub fn with_budget(max_bytes: usize) -> Self {
        let per_bucket = Self::slot_bytes() * WAYS;
        let max_buckets = (max_bytes / per_bucket).max(1);
        let buckets = max_buckets.min(16);
        Table {
            keys: vec![0; buckets * WAYS],
            ticks: vec![0; buckets * WAYS],
            vals: vec![V::default(); buckets * WAYS],
            buckets,
            max_buckets,
            len: 0,
            tick: 0,
            evictions: 0,
            salt: 0,
        }
    }

    /// A secret mixed into every key before it picks its bucket, so that
    /// which keys share a bucket (and so evict one another) cannot be
    /// worked out from the public hash: eight names crafted to share a
    /// user's bucket at every table size evicted her profile (found by
    /// review). 0, the default, is the unsalted placement. Entries are
    /// placed again, so it may be set at any time.
    pub fn set_salt(&mut self, salt: u64) {
        if salt == self.salt {
            return;
        }
        self.salt = salt;
        let entries: Vec<(u64, u32, V)> = self.iter().map(|(k, t, v)| (k, t, *v)).collect();
        let (tick, ev, b) = (self.tick, self.evictions, self.buckets);
        self.restore_parts(tick, ev, &entries, Some(b));
    }

    pub fn bytes(&self) -> usize {
        self.keys.capacity() * 8
            + self.ticks.capacity() * 4
            + self.vals.capacity() * core::mem::size_of::<V>()
    }

    /// A table for a share of a budget: with `spare`, one bucket plus what
    /// `share` bytes hold (the caller set that bucket aside from the budget
    /// it split), else what `share` holds (at least one bucket).
    pub fn with_share(spare: bool, share: usize) -> Self {
        Self::with_budget(if spare { Self::slot_bytes() * WAYS } else { 0 } + share)
    }

    pub fn max_bytes(&self) -> usize {
        self.max_buckets * WAYS * Self::slot_bytes()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn bucket(&self, key: u64) -> usize {
        // Multiply-shift works for any bucket count and is the same on 32-bit targets.
        ((mix(key ^ self.salt) as u128 * self.buckets as u128) >> 64) as usize
    }

    #[inline]
    fn norm(key: u64) -> u64 {
        if key == 0 { 1 } else { key }
    }

    pub fn get(&self, key: u64) -> Option<&V> {
        let key = Self::norm(key);
        let b = self.bucket(key) * WAYS;
        (b..b + WAYS)
            .find(|&i| self.keys[i] == key)
            .map(|i| &self.vals[i])
    }

    /// Find or insert `key`; returns the value and whether it was newly created.
    pub fn entry(&mut self, key: u64) -> (&mut V, bool) {
        let key = Self::norm(key);
        self.tick = self.tick.wrapping_add(1);
        let b = self.bucket(key) * WAYS;
        if let Some(i) = (b..b + WAYS).find(|&i| self.keys[i] == key) {
            self.ticks[i] = self.tick;
            return (&mut self.vals[i], false);
        }
        // Grow (rather than evict) while below the cap: at 75% load, or when this
        // key's bucket is already full.
        let bucket_full = (b..b + WAYS).all(|i| self.keys[i] != 0);
        if (bucket_full || self.len * 4 >= self.buckets * WAYS * 3)
            && self.buckets < self.max_buckets
        {
            self.grow();
            return self.entry(key);
        }
        let mut slot = b;
        let mut best = u32::MAX;
        for i in b..b + WAYS {
            if self.keys[i] == 0 {
                slot = i;
                break;
            }
            // Age relative to now, robust to tick wrap-around.
            let age = self.tick.wrapping_sub(self.ticks[i]);
            let score = u32::MAX - age;
            if score < best {
                best = score;
                slot = i;
            }
        }
        if self.keys[slot] == 0 {
            self.len += 1;
        } else {
            self.evictions = self.evictions.saturating_add(1);
        }
        self.keys[slot] = key;
        self.ticks[slot] = self.tick;
        self.vals[slot] = V::default();
        (&mut self.vals[slot], true)
    }

    fn grow(&mut self) {
        let nb = (self.buckets * 2).min(self.max_buckets);
        let old_keys = core::mem::take(&mut self.keys);
        let old_ticks = core::mem::take(&mut self.ticks);
        let old_vals = core::mem::take(&mut self.vals);
        self.keys = vec![0; nb * WAYS];
        self.ticks = vec![0; nb * WAYS];
        self.vals = vec![V::default(); nb * WAYS];
        self.buckets = nb;
        self.len = 0;
        for i in 0..old_keys.len() {
            if old_keys[i] != 0 {
                self.place(old_keys[i], old_ticks[i], old_vals[i]);
            }
        }
    }

    fn place(&mut self, key: u64, tick: u32, val: V) {
        let b = self.bucket(key) * WAYS;
        let mut slot = None;
        let mut oldest = 0u32;
        for i in b..b + WAYS {
            if self.keys[i] == 0 {
                slot = Some(i);
                break;
            }
            let age = self.tick.wrapping_sub(self.ticks[i]);
            if slot.is_none() || age > oldest {
                oldest = age;
                slot = Some(i);
            }
        }
        let i = slot.unwrap_or(b);
        if self.keys[i] == 0 {
            self.len += 1;
        } else {
            self.evictions = self.evictions.saturating_add(1);
        }
        self.keys[i] = key;
        self.ticks[i] = tick;
        self.vals[i] = val;
    }

    /// Occupied entries in slot order (deterministic).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32, &V)> {
        (0..self.keys.len())
            .filter(|&i| self.keys[i] != 0)
            .map(|i| (self.keys[i], self.ticks[i], &self.vals[i]))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.keys
            .iter()
            .zip(self.vals.iter_mut())
            .filter(|(k, _)| **k != 0)
            .map(|(_, v)| v)
    }

    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// The number of buckets the table has now (it grows up to its cap).
    pub fn buckets(&self) -> usize {
        self.buckets
    }

    /// Rebuild from snapshot parts: `entries` in the order of the slots
    /// they held, and the number of buckets they were held in (snapshot
    /// format 9 on; `None`: worked out from the entries, which is not
    /// always the number the writer had, and a table of another size
    /// shares buckets otherwise, so evicts otherwise: found by review).
    /// A number beyond this table's cap (another budget's) is the cap.
    pub fn restore_parts(
        &mut self,
        tick: u32,
        evictions: u64,
        entries: &[(u64, u32, V)],
        buckets: Option<usize>,
    ) {
        self.tick = tick;
        self.evictions = evictions;
        self.keys.iter_mut().for_each(|k| *k = 0);
        self.len = 0;
        let resize = |t: &mut Self, nb: usize| {
            t.keys = vec![0; nb * WAYS];
            t.ticks = vec![0; nb * WAYS];
            t.vals = vec![V::default(); nb * WAYS];
            t.buckets = nb;
        };
        match buckets {
            Some(b) => {
                let b = b.clamp(1, self.max_buckets);
                if b != self.buckets {
                    resize(self, b);
                }
            }
            None => {
                while self.buckets < self.max_buckets
                    && entries.len() * 4 >= self.buckets * WAYS * 3
                {
                    let nb = (self.buckets * 2).min(self.max_buckets);
                    resize(self, nb);
                }
            }
        }
        let start = self.buckets;
        for &(k, t, v) in entries {
            if k == 0 {
                continue;
            }
            // The table may have grown for a full bucket rather than for its
            // load: grow the same way instead of evicting a restored entry.
            while self.buckets < self.max_buckets {
                let b = self.bucket(k) * WAYS;
                if (b..b + WAYS).any(|i| self.keys[i] == 0) {
                    break;
                }
                self.grow();
            }
            self.place(k, t, v);
        }
        // A growth on the way placed the entries before it again in the
        // order of the smaller table's slots, which within a bucket is not
        // always the saved one: place them all again, in the saved order, at
        // the size reached, so the table is written back as it was read (a
        // keyed engine's state came back with entries of a bucket swapped:
        // found by review).
        if self.buckets != start {
            self.keys.iter_mut().for_each(|k| *k = 0);
            self.len = 0;
            self.evictions = evictions;
            for &(k, t, v) in entries {
                if k != 0 {
                    self.place(k, t, v);
                }
            }
        }
    }
}

/// Count-min sketch with `u8` saturating counters and conservative update.
/// `halve()` implements exponential decay.
///
/// Blocked layout: a key's counters (one per row) all lie in one 64-byte
/// block, chosen by the key's hash, at offsets given by other bits of the
/// same hash. An update then touches one cache line instead of one per row:
/// on an 8 MiB sketch the lines are cache misses, and with the row-per-line
/// layout the sketch was about a third of the engine's time per event. The
/// price is a little accuracy: two keys in the same block share more than
/// chance would otherwise let them (the block's load varies), which for 64
/// counters a block is a small fraction of the collision rate.
///
/// [`Layout::Rows`] is the layout of snapshots of format version 1 (one
/// region per row); a sketch restored from one keeps it.
#[derive(Clone)]
pub struct CountMin {
    rows: usize,
    width: usize,
    layout: Layout,
    cells: Vec<u8>,
    /// Mixed into every key before it picks its cells (see
    /// [`Table::set_salt`]); the cells only mean something under the salt
    /// they were counted with.
    salt: u64,
}

/// Where a key's counters lie (see [`CountMin`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Row `r` is cells `r * width ..`; each row is hashed on its own.
    Rows,
    /// All of a key's counters in one 64-byte block.
    Blocked,
}

impl Layout {
    /// The byte written for the layout in a snapshot.
    pub fn tag(self) -> u8 {
        match self {
            Layout::Rows => 0,
            Layout::Blocked => 1,
        }
    }

    pub fn from_tag(t: u8) -> Option<Layout> {
        match t {
            0 => Some(Layout::Rows),
            1 => Some(Layout::Blocked),
            _ => None,
        }
    }
}

const BLOCK: usize = 64;

/// A key's counter positions in one [`CountMin`] (from
/// [`CountMin::cells_of`]; meaningless in another sketch).
#[derive(Clone, Copy, Debug)]
pub struct Cells([usize; 4]);

impl CountMin {
    pub fn with_budget(bytes: usize, rows: usize) -> Self {
        let rows = rows.clamp(1, 4);
        let width = (bytes / rows).max(64);
        CountMin {
            rows,
            width,
            layout: Layout::Blocked,
            cells: vec![0; rows * width],
            salt: 0,
        }
    }

    /// The salt the cells are (about to be) counted with: set it on an
    /// empty sketch, or with the cells restored from a sketch counted
    /// under it.
    pub fn set_salt(&mut self, salt: u64) {
        self.salt = salt;
    }

    pub fn bytes(&self) -> usize {
        self.cells.capacity()
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Set the layout of cells about to be restored.
    pub fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
    }

    /// The cell of each row for `key`.
    #[inline]
    fn idx(&self, key: u64) -> [usize; 4] {
        let key = key ^ self.salt;
        let mut idx = [0usize; 4];
        match self.layout {
            Layout::Rows => {
                for (r, slot) in idx.iter_mut().enumerate().take(self.rows) {
                    let h = mix(key ^ (r as u64 + 1).wrapping_mul(M1));
                    *slot = r * self.width + ((h as u128 * self.width as u128) >> 64) as usize;
                }
            }
            Layout::Blocked => {
                let h = mix(key ^ M1);
                let blocks = self.cells.len() / BLOCK;
                // High bits choose the block (a 32 × 32-bit multiply: a
                // 128-bit one is a library call in wasm), low bits the
                // offsets in it.
                let block = if blocks as u64 <= 1 << 32 {
                    ((h >> 32) * blocks as u64) >> 32
                } else {
                    ((h as u128 * blocks as u128) >> 64) as u64
                };
                let base = block as usize * BLOCK;
                let mut used = 0u64;
                for (r, slot) in idx.iter_mut().enumerate().take(self.rows) {
                    let mut o = ((h >> (6 * r)) & 63) as usize;
                    while used & (1 << o) != 0 {
                        o = (o + 1) & 63;
                    }
                    used |= 1 << o;
                    *slot = base + o;
                }
            }
        }
        idx
    }

    pub fn get(&self, key: u64) -> u32 {
        self.get_at(&self.cells_of(key))
    }

    /// Where `key`'s counters are: for a key that is read and then
    /// incremented, so that the hashing is done once.
    #[inline]
    pub fn cells_of(&self, key: u64) -> Cells {
        Cells(self.idx(key))
    }

    /// [`CountMin::get`] of the key whose [`Cells`] these are.
    pub fn get_at(&self, at: &Cells) -> u32 {
        at.0[..self.rows]
            .iter()
            .map(|&i| self.cells[i] as u32)
            .min()
            .unwrap_or(0)
    }

    /// Increment (conservative update) and return the count before the increment.
    pub fn add(&mut self, key: u64) -> u32 {
        self.add_at(&self.cells_of(key))
    }

    /// [`CountMin::add`] of the key whose [`Cells`] these are.
    pub fn add_at(&mut self, at: &Cells) -> u32 {
        let idx = at.0;
        let rows = self.rows.min(4);
        let before = idx[..rows]
            .iter()
            .map(|&i| self.cells[i] as u32)
            .min()
            .unwrap_or(0);
        let target = (before + 1).min(255) as u8;
        for &i in &idx[..rows] {
            if self.cells[i] < target {
                self.cells[i] = target;
            }
        }
        before
    }

    pub fn halve(&mut self) {
        for c in self.cells.iter_mut() {
            *c >>= 1;
        }
    }

    pub fn cells(&self) -> &[u8] {
        &self.cells
    }

    pub fn cells_mut(&mut self) -> &mut [u8] {
        &mut self.cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_bounded_and_lru() {
        let mut t: Table<u32> = Table::with_budget(4096);
        for k in 1..10_000u64 {
            *t.entry(k).0 += 1;
            assert!(t.bytes() <= t.max_bytes());
        }
        assert!(t.evictions > 0);
        // most recent key is present
        assert_eq!(t.get(9_999), Some(&1));
        let (v, new) = t.entry(9_999);
        assert!(!new);
        assert_eq!(*v, 1);
    }

    #[test]
    fn restore_keeps_every_entry_of_a_table_grown_for_a_full_bucket() {
        // Tables grow for load (75%) or for one full bucket; a restore that
        // sized by load alone used to evict entries from crowded buckets.
        for n in [5usize, 40, 100, 300, 1000] {
            let mut t: Table<u32> = Table::with_budget(1 << 20);
            for k in 1..=n as u64 {
                *t.entry(k * 0x9E37_79B9).0 = k as u32;
            }
            assert_eq!(t.len(), n);
            let parts: Vec<(u64, u32, u32)> = t.iter().map(|(k, tk, v)| (k, tk, *v)).collect();
            let mut r: Table<u32> = Table::with_budget(1 << 20);
            r.restore_parts(t.tick(), t.evictions, &parts, None);
            assert_eq!(r.len(), n, "{n} entries");
            assert_eq!(r.evictions, 0);
            for k in 1..=n as u64 {
                assert_eq!(r.get(k * 0x9E37_79B9), Some(&(k as u32)));
            }
        }
    }

    #[test]
    fn cms_counts() {
        let mut c = CountMin::with_budget(1 << 12, 2);
        assert_eq!(c.add(42), 0);
        assert_eq!(c.add(42), 1);
        assert_eq!(c.get(42), 2);
        c.halve();
        assert_eq!(c.get(42), 1);
    }

    #[test]
    fn hash_stable() {
        // pinned so a change in the hash (which would break snapshots) is noticed
        assert_eq!(hash_str(0, "alice"), hash_str(0, "alice"));
        assert_ne!(hash_str(0, "alice"), hash_str(0, "alicf"));
        assert_ne!(hash_str(0, ""), hash_str(1, ""));
    }
}

#[cfg(test)]
mod growth_tests {
    use super::*;

    #[test]
    fn keeps_everything_below_capacity() {
        let mut t: Table<u32> = Table::with_budget(16 * 2_000_000);
        for k in 0..300_000u64 {
            t.entry(hash_str(1, &alloc::format!("user{k}")));
        }
        // only the last, non-doubling growth step can displace an entry
        assert!(
            t.evictions <= 30,
            "evictions {} len {}",
            t.evictions,
            t.len()
        );
        assert!(t.len() >= 299_970);
    }

    /// `hash_bytes` as first written, with the tail copied into a buffer.
    /// Snapshots key their tables with these hashes, so the function must
    /// never change its values.
    fn hash_bytes_reference(seed: u64, bytes: &[u8]) -> u64 {
        let mut h = seed ^ (bytes.len() as u64).wrapping_mul(M1);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h ^ u64::from_le_bytes(c.try_into().unwrap()))
                .wrapping_mul(M2)
                .rotate_left(29);
        }
        let rem = chunks.remainder();
        if !rem.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rem.len()].copy_from_slice(rem);
            h = (h ^ u64::from_le_bytes(buf))
                .wrapping_mul(M3)
                .rotate_left(31);
        }
        mix(h)
    }

    #[test]
    fn hash_bytes_keeps_its_values_at_every_tail_length() {
        let data: Vec<u8> = (0..64u32).map(|i| (i * 151 + 7) as u8 | 0x80).collect();
        for start in 0..9 {
            for len in 0..=40 {
                let b = &data[start..start + len];
                assert_eq!(hash_bytes(3, b), hash_bytes_reference(3, b), "len {len}");
            }
        }
        // Pinned values (computed apart, by a Python transcription of the
        // reference), so that both cannot change together unnoticed.
        assert_eq!(hash_str(0, ""), 0);
        assert_eq!(hash_str(11, "user1"), 0x92b5_4eb4_d488_7d6f);
        assert_eq!(hash_str(11, "10.3.1.201"), 0x95fd_1d37_c6bd_01a6);
    }

    proptest::proptest! {
        #[test]
        fn hash_bytes_matches_its_reference(seed: u64, b in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            proptest::prop_assert_eq!(hash_bytes(seed, &b), hash_bytes_reference(seed, &b));
        }
    }
}

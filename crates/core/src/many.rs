//! SHA-256 of many messages at once.
//!
//! A verifier hashes every record (a leaf) and every Merkle node, and these
//! hashes do not depend on each other. Natively SHA-256 runs on the CPU's SHA
//! instructions (through `sha2`), one message at a time. WebAssembly has no
//! such instructions: `sha2` falls back to its portable code, which is a third
//! of a browser's verification time. What wasm does have is 128-bit SIMD, and
//! four independent SHA-256 computations fit its four 32-bit lanes. That is
//! the classic "multi-buffer" technique; no maintained crate offers it for
//! wasm, so it is written here, small and checked against `sha2`
//! (`tests/many.rs`, natively with the portable lanes; in Node and Chromium
//! with the wasm SIMD lanes, `plugins/web/tests/sha.test.mjs`).
//!
//! [`sha256_many`] picks the fastest way for the build: the SIMD lanes in a
//! wasm build with `simd128` enabled (the browser package); on x86-64,
//! `logseal-sha`, which interleaves four messages on the CPU's SHA
//! extensions (one message's rounds depend on each other, so the unit idles
//! between them; 1.7 to 1.8 times the throughput) and falls back to `sha2`
//! on a CPU without them; else `sha2` one message at a time.
//! [`sha256_many_lanes`] always uses the lanes (portable `[u32; 4]`
//! arithmetic where there is no wasm SIMD), for tests.

use alloc::vec::Vec;

use crate::merkle::Hash;

/// `out[i] = SHA-256(msgs[i])` for every message; `out` must be as long as
/// `msgs`.
///
/// # Panics
/// If `out.len() != msgs.len()`.
pub fn sha256_many(msgs: &[&[u8]], out: &mut [Hash]) {
    assert_eq!(msgs.len(), out.len(), "sha256_many: one output per message");
    #[cfg(all(target_family = "wasm", target_feature = "simd128"))]
    if msgs.len() > 1 {
        lanes::<simd::U32x4>(msgs, out);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    logseal_sha::digest_many(msgs, out);
    #[cfg(not(target_arch = "x86_64"))]
    for (m, o) in msgs.iter().zip(out.iter_mut()) {
        use sha2::Digest;
        *o = sha2::Sha256::digest(m).into();
    }
}

/// [`sha256_many`] of messages stored back to back in `buf`, message `i`
/// ending at `ends[i]` (the first starts at 0), as a reader that appends
/// each record's leaf input to one buffer keeps them.
///
/// # Panics
/// If `ends` is not ascending or goes past `buf`.
pub fn sha256_back_to_back(buf: &[u8], ends: &[usize]) -> Vec<Hash> {
    let mut msgs = Vec::with_capacity(ends.len());
    let mut start = 0;
    for &end in ends {
        msgs.push(&buf[start..end]);
        start = end;
    }
    let mut out = alloc::vec![[0u8; 32]; msgs.len()];
    sha256_many(&msgs, &mut out);
    out
}

/// [`sha256_many`] computed four messages at a time in SIMD lanes, whatever
/// the build (portable arithmetic where there is no wasm SIMD). For tests.
///
/// # Panics
/// If `out.len() != msgs.len()`.
#[doc(hidden)]
pub fn sha256_many_lanes(msgs: &[&[u8]], out: &mut [Hash]) {
    assert_eq!(msgs.len(), out.len(), "sha256_many: one output per message");
    #[cfg(all(target_family = "wasm", target_feature = "simd128"))]
    lanes::<simd::U32x4>(msgs, out);
    #[cfg(not(all(target_family = "wasm", target_feature = "simd128")))]
    lanes::<[u32; 4]>(msgs, out);
}

/// Interior node hashes of an RFC 6962 tree, many at once:
/// `out[i] = SHA-256(0x01 || pairs[2i] || pairs[2i+1])`.
pub(crate) fn node_hashes(pairs: &[Hash], out: &mut Vec<Hash>) {
    let n = pairs.len() / 2;
    let mut msgs: Vec<[u8; 65]> = Vec::with_capacity(n);
    for p in pairs.chunks_exact(2) {
        let mut m = [0u8; 65];
        m[0] = 1;
        m[1..33].copy_from_slice(&p[0]);
        m[33..].copy_from_slice(&p[1]);
        msgs.push(m);
    }
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    let start = out.len();
    out.resize(start + n, [0; 32]);
    sha256_many(&refs, &mut out[start..]);
}

/// Four 32-bit lanes and the operations SHA-256 needs.
trait Lanes: Copy {
    fn splat(x: u32) -> Self;
    fn from_words(w: [u32; 4]) -> Self;
    fn words(self) -> [u32; 4];
    fn add(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    fn and(self, o: Self) -> Self;
    /// `self & !o`
    fn andnot(self, o: Self) -> Self;
    fn shr(self, n: u32) -> Self;
    fn rotr(self, n: u32) -> Self;
    /// Reverse the bytes of each lane (big-endian words from little-endian loads).
    fn bswap(self) -> Self;
}

impl Lanes for [u32; 4] {
    fn splat(x: u32) -> Self {
        [x; 4]
    }
    fn from_words(w: [u32; 4]) -> Self {
        w
    }
    fn words(self) -> [u32; 4] {
        self
    }
    fn add(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i].wrapping_add(o[i]))
    }
    fn xor(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i] ^ o[i])
    }
    fn and(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i] & o[i])
    }
    fn andnot(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i] & !o[i])
    }
    fn shr(self, n: u32) -> Self {
        self.map(|x| x >> n)
    }
    fn rotr(self, n: u32) -> Self {
        self.map(|x| x.rotate_right(n))
    }
    fn bswap(self) -> Self {
        self.map(u32::swap_bytes)
    }
}

#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
mod simd {
    #[cfg(target_arch = "wasm32")]
    use core::arch::wasm32::*;
    #[cfg(target_arch = "wasm64")]
    use core::arch::wasm64::*;

    /// Four lanes in one wasm `v128`.
    #[derive(Clone, Copy)]
    pub(super) struct U32x4(v128);

    impl super::Lanes for U32x4 {
        #[inline(always)]
        fn splat(x: u32) -> Self {
            U32x4(u32x4_splat(x))
        }
        #[inline(always)]
        fn from_words(w: [u32; 4]) -> Self {
            U32x4(u32x4(w[0], w[1], w[2], w[3]))
        }
        #[inline(always)]
        fn words(self) -> [u32; 4] {
            [
                u32x4_extract_lane::<0>(self.0),
                u32x4_extract_lane::<1>(self.0),
                u32x4_extract_lane::<2>(self.0),
                u32x4_extract_lane::<3>(self.0),
            ]
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            U32x4(u32x4_add(self.0, o.0))
        }
        #[inline(always)]
        fn xor(self, o: Self) -> Self {
            U32x4(v128_xor(self.0, o.0))
        }
        #[inline(always)]
        fn and(self, o: Self) -> Self {
            U32x4(v128_and(self.0, o.0))
        }
        #[inline(always)]
        fn andnot(self, o: Self) -> Self {
            U32x4(v128_andnot(self.0, o.0))
        }
        #[inline(always)]
        fn shr(self, n: u32) -> Self {
            U32x4(u32x4_shr(self.0, n))
        }
        #[inline(always)]
        fn rotr(self, n: u32) -> Self {
            U32x4(v128_or(u32x4_shr(self.0, n), i32x4_shl(self.0, 32 - n)))
        }
        #[inline(always)]
        fn bswap(self) -> Self {
            U32x4(i8x16_swizzle(
                self.0,
                i8x16(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12),
            ))
        }
    }
}

const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// One SHA-256 compression in each lane (FIPS 180-4 §6.2.2).
#[inline(always)]
fn compress<L: Lanes>(state: &mut [L; 8], blocks: [&[u8; 64]; 4]) {
    let mut w = [L::splat(0); 64];
    for (t, wt) in w.iter_mut().take(16).enumerate() {
        // Loaded as they lie in memory, then byte-swapped in all lanes at once.
        let word =
            |b: &[u8; 64]| u32::from_le_bytes([b[4 * t], b[4 * t + 1], b[4 * t + 2], b[4 * t + 3]]);
        *wt = L::from_words([
            word(blocks[0]),
            word(blocks[1]),
            word(blocks[2]),
            word(blocks[3]),
        ])
        .bswap();
    }
    for t in 16..64 {
        let s0 = w[t - 15]
            .rotr(7)
            .xor(w[t - 15].rotr(18))
            .xor(w[t - 15].shr(3));
        let s1 = w[t - 2]
            .rotr(17)
            .xor(w[t - 2].rotr(19))
            .xor(w[t - 2].shr(10));
        w[t] = w[t - 16].add(s0).add(w[t - 7]).add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    // Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)), and this round's b ^ c is the
    // last round's a ^ b.
    let mut bc = b.xor(c);
    for t in 0..64 {
        let s1 = e.rotr(6).xor(e.rotr(11)).xor(e.rotr(25));
        let ch = e.and(f).xor(g.andnot(e));
        let t1 = h.add(s1).add(ch).add(L::splat(K[t])).add(w[t]);
        let s0 = a.rotr(2).xor(a.rotr(13)).xor(a.rotr(22));
        let ab = a.xor(b);
        let maj = b.xor(ab.and(bc));
        bc = ab;
        let t2 = s0.add(maj);
        h = g;
        g = f;
        f = e;
        e = d.add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.add(t2);
    }
    for (s, x) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.add(x);
    }
}

/// Blocks in `msg` once padded (FIPS 180-4 §5.1.1).
fn blocks_of(len: usize) -> usize {
    (len + 9).div_ceil(64)
}

/// Block `j` of `msg` padded: borrowed when it lies inside the message,
/// else assembled in `buf`.
fn block<'a>(msg: &'a [u8], j: usize, buf: &'a mut [u8; 64]) -> &'a [u8; 64] {
    let start = 64 * j;
    if let Some(b) = msg.get(start..start + 64) {
        // Inside the message.
        return b.try_into().unwrap_or(&[0; 64]);
    }
    *buf = [0; 64];
    let len = msg.len();
    if start < len {
        buf[..len - start].copy_from_slice(&msg[start..]);
    }
    if (start..start + 64).contains(&len) {
        buf[len - start] = 0x80;
    }
    if j + 1 == blocks_of(len) {
        buf[56..].copy_from_slice(&((len as u64) * 8).to_be_bytes());
    }
    buf
}

/// The lane scheduler: each lane hashes one message at a time; when a
/// message is done its lane takes the next, so messages of different
/// lengths keep every lane busy until the last few.
fn lanes<L: Lanes>(msgs: &[&[u8]], out: &mut [Hash]) {
    // (message index, next block, blocks) per lane.
    let mut lane: [Option<(usize, usize, usize)>; 4] = [None; 4];
    let mut state = [L::splat(0); 8];
    let mut next = 0usize;
    let set_iv = |state: &mut [L; 8], k: usize| {
        for (s, iv) in state.iter_mut().zip(IV) {
            let mut w = s.words();
            w[k] = iv;
            *s = L::from_words(w);
        }
    };
    for (k, l) in lane.iter_mut().enumerate() {
        if next < msgs.len() {
            *l = Some((next, 0, blocks_of(msgs[next].len())));
            set_iv(&mut state, k);
            next += 1;
        }
    }
    let zero = [0u8; 64];
    let mut bufs = [[0u8; 64]; 4];
    while lane.iter().any(Option::is_some) {
        let [b0, b1, b2, b3] = &mut bufs;
        let pick = |l: &Option<(usize, usize, usize)>, buf| match *l {
            Some((m, j, _)) => block(msgs[m], j, buf),
            None => &zero,
        };
        let blocks = [
            pick(&lane[0], b0),
            pick(&lane[1], b1),
            pick(&lane[2], b2),
            pick(&lane[3], b3),
        ];
        compress(&mut state, blocks);
        for (k, l) in lane.iter_mut().enumerate() {
            let Some((m, j, n)) = *l else { continue };
            if j + 1 < n {
                *l = Some((m, j + 1, n));
                continue;
            }
            for (i, s) in state.iter().enumerate() {
                out[m][4 * i..4 * i + 4].copy_from_slice(&s.words()[k].to_be_bytes());
            }
            *l = None;
            if next < msgs.len() {
                *l = Some((next, 0, blocks_of(msgs[next].len())));
                set_iv(&mut state, k);
                next += 1;
            }
        }
    }
}

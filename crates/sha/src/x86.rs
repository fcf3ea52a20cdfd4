//! Four SHA-256 streams interleaved on the x86-64 SHA extensions. All of
//! this crate's `unsafe` is here: the intrinsics need the `sha` and SSE4.1
//! target features, which [`available`] checks at run time before
//! [`digest_many`] (the only way in) calls them.

use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_loadu_si128, _mm_set_epi64x,
    _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi8,
    _mm_shuffle_epi32, _mm_storeu_si128,
};

cpufeatures::new!(shani, "sha", "sse2", "ssse3", "sse4.1");

/// Whether this CPU has the SHA extensions (and SSE4.1).
pub(crate) fn available() -> bool {
    shani::get()
}

/// FIPS 180-4 initial hash value.
const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// FIPS 180-4 round constants.
const K: [u32; 64] = [
    0x428a_2f98,
    0x7137_4491,
    0xb5c0_fbcf,
    0xe9b5_dba5,
    0x3956_c25b,
    0x59f1_11f1,
    0x923f_82a4,
    0xab1c_5ed5,
    0xd807_aa98,
    0x1283_5b01,
    0x2431_85be,
    0x550c_7dc3,
    0x72be_5d74,
    0x80de_b1fe,
    0x9bdc_06a7,
    0xc19b_f174,
    0xe49b_69c1,
    0xefbe_4786,
    0x0fc1_9dc6,
    0x240c_a1cc,
    0x2de9_2c6f,
    0x4a74_84aa,
    0x5cb0_a9dc,
    0x76f9_88da,
    0x983e_5152,
    0xa831_c66d,
    0xb003_27c8,
    0xbf59_7fc7,
    0xc6e0_0bf3,
    0xd5a7_9147,
    0x06ca_6351,
    0x1429_2967,
    0x27b7_0a85,
    0x2e1b_2138,
    0x4d2c_6dfc,
    0x5338_0d13,
    0x650a_7354,
    0x766a_0abb,
    0x81c2_c92e,
    0x9272_2c85,
    0xa2bf_e8a1,
    0xa81a_664b,
    0xc24b_8b70,
    0xc76c_51a3,
    0xd192_e819,
    0xd699_0624,
    0xf40e_3585,
    0x106a_a070,
    0x19a4_c116,
    0x1e37_6c08,
    0x2748_774c,
    0x34b0_bcb5,
    0x391c_0cb3,
    0x4ed8_aa4a,
    0x5b9c_ca4f,
    0x682e_6ff3,
    0x748f_82ee,
    0x78a5_636f,
    0x84c8_7814,
    0x8cc7_0208,
    0x90be_fffa,
    0xa450_6ceb,
    0xbef9_a3f7,
    0xc671_78f2,
];

/// One message being hashed: its full blocks are read in place, the last
/// one or two (the rest of the message, `0x80`, zeros, the bit length)
/// from `tail`.
struct Lane<'a> {
    msg: &'a [u8],
    /// Index of the message (and of its digest in `out`).
    index: usize,
    /// Blocks compressed so far, of `total`.
    done: usize,
    full: usize,
    total: usize,
    tail: [u8; 128],
    state: [u32; 8],
}

impl<'a> Lane<'a> {
    fn new(msg: &'a [u8], index: usize) -> Self {
        let full = msg.len() / 64;
        let rest = &msg[full * 64..];
        let mut tail = [0u8; 128];
        tail[..rest.len()].copy_from_slice(rest);
        tail[rest.len()] = 0x80;
        let n = if rest.len() < 56 { 64 } else { 128 };
        // Lengths past 2^61 bytes cannot exist in memory; wrap as FIPS does.
        let bits = (msg.len() as u64).wrapping_mul(8);
        tail[n - 8..n].copy_from_slice(&bits.to_be_bytes());
        Lane {
            msg,
            index,
            done: 0,
            full,
            total: full + n / 64,
            tail,
            state: H0,
        }
    }

    fn left(&self) -> usize {
        self.total - self.done
    }

    /// The next block to compress.
    fn block(&self) -> &[u8; 64] {
        let b = if self.done < self.full {
            &self.msg[self.done * 64..self.done * 64 + 64]
        } else {
            let t = (self.done - self.full) * 64;
            &self.tail[t..t + 64]
        };
        b.try_into().unwrap_or(&[0; 64])
    }

    fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// Hash every message, four at a time: whenever a lane's message ends, the
/// next message takes its place, so all four stay busy until fewer than
/// four messages are left, which finish three, two, then one at a time.
pub(crate) fn digest_many(msgs: &[&[u8]], out: &mut [[u8; 32]]) {
    // The check that makes `run`'s use of the intrinsics sound.
    if !available() {
        crate::digest_each(msgs, out);
        return;
    }
    let mut next = 0;
    let mut lanes: [Option<Lane<'_>>; 4] = [None, None, None, None];
    loop {
        for lane in &mut lanes {
            if lane.is_none() && next < msgs.len() {
                *lane = Some(Lane::new(msgs[next], next));
                next += 1;
            }
        }
        // Busy lanes first (some are idle only once the messages run out).
        if next == msgs.len() {
            lanes.sort_unstable_by_key(Option::is_none);
        }
        match &mut lanes {
            [Some(a), Some(b), Some(c), Some(d)] => run([a, b, c, d]),
            [Some(a), Some(b), Some(c), None] => run([a, b, c]),
            [Some(a), Some(b), None, None] => run([a, b]),
            [Some(a), None, None, None] => run([a]),
            _ => return,
        }
        for lane in &mut lanes {
            if let Some(l) = lane
                && l.left() == 0
            {
                out[l.index] = l.digest();
                *lane = None;
            }
        }
    }
}

/// Compress the lanes' blocks together until the first of them ends.
fn run<const N: usize>(lanes: [&mut Lane<'_>; N]) {
    // SAFETY: `digest_many` checked `available()`: the CPU has the
    // features `run_blocks` is compiled for.
    unsafe { run_blocks(lanes) }
}

/// [`run`]: the states stay in registers, in the order the instructions
/// want (ABEF, CDGH), from the first block to the last.
///
/// # Safety
/// The CPU must have the `sha`, `sse2`, `ssse3` and `sse4.1` features.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn run_blocks<const N: usize>(mut lanes: [&mut Lane<'_>; N]) {
    let steps = lanes.iter().map(|l| l.left()).min().unwrap_or(0);
    let zero = _mm_set_epi64x(0, 0);
    let mut abef = [zero; N];
    let mut cdgh = [zero; N];
    for n in 0..N {
        let p = lanes[n].state.as_ptr().cast::<__m128i>();
        // SAFETY: `state` is 32 bytes; unaligned loads.
        let (dcba, efgh) = unsafe { (_mm_loadu_si128(p), _mm_loadu_si128(p.add(1))) };
        let cdab = _mm_shuffle_epi32(dcba, 0xB1);
        let efgh = _mm_shuffle_epi32(efgh, 0x1B);
        abef[n] = _mm_alignr_epi8(cdab, efgh, 8);
        cdgh[n] = _mm_blend_epi16(efgh, cdab, 0xF0);
    }
    for _ in 0..steps {
        let blocks: [&[u8; 64]; N] = core::array::from_fn(|n| lanes[n].block());
        // SAFETY: same features as this function.
        unsafe { compress::<N>(&mut abef, &mut cdgh, blocks) };
        for l in lanes.iter_mut() {
            l.done += 1;
        }
    }
    for n in 0..N {
        let feba = _mm_shuffle_epi32(abef[n], 0x1B);
        let dchg = _mm_shuffle_epi32(cdgh[n], 0xB1);
        let dcba = _mm_blend_epi16(feba, dchg, 0xF0);
        let hgef = _mm_alignr_epi8(dchg, feba, 8);
        let p = lanes[n].state.as_mut_ptr().cast::<__m128i>();
        // SAFETY: `state` is 32 bytes; unaligned stores.
        unsafe {
            _mm_storeu_si128(p, dcba);
            _mm_storeu_si128(p.add(1), hgef);
        }
    }
}

/// One block of each of `N` messages, their rounds interleaved (the loops
/// over `n` unroll, so each round of SHA-256 is issued for every message
/// before the next: independent work for the unit while a round's latency
/// runs). The schedule and rounds are those of Intel's SHA extensions
/// reference code, as in `sha2`'s x86 backend; the states are in ABEF/CDGH
/// order.
///
/// # Safety
/// The CPU must have the `sha`, `sse2`, `ssse3` and `sse4.1` features.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn compress<const N: usize>(
    abef: &mut [__m128i; N],
    cdgh: &mut [__m128i; N],
    blocks: [&[u8; 64]; N],
) {
    // Big-endian words of the message.
    let mask = _mm_set_epi64x(
        0x0C0D_0E0F_0809_0A0Bu64 as i64,
        0x0405_0607_0001_0203u64 as i64,
    );
    let zero = _mm_set_epi64x(0, 0);
    let mut w = [[zero; 4]; N];
    for n in 0..N {
        let d = blocks[n].as_ptr().cast::<__m128i>();
        for (j, wj) in w[n].iter_mut().enumerate() {
            // SAFETY: the block is 64 bytes, `j < 4`; unaligned loads.
            *wj = _mm_shuffle_epi8(unsafe { _mm_loadu_si128(d.add(j)) }, mask);
        }
    }
    let (abef0, cdgh0) = (*abef, *cdgh);
    for r in 0..16 {
        // SAFETY: `K` has 64 words, `4 * r + 4 <= 64`.
        let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * r).cast::<__m128i>()) };
        for n in 0..N {
            let cur = if r < 4 {
                w[n][r]
            } else {
                // W[4r..4r+4] from the previous sixteen words.
                let (w0, w1, w2, w3) = (
                    w[n][r % 4],
                    w[n][(r + 1) % 4],
                    w[n][(r + 2) % 4],
                    w[n][(r + 3) % 4],
                );
                let t = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));
                let next = _mm_sha256msg2_epu32(t, w3);
                w[n][r % 4] = next;
                next
            };
            let wk = _mm_add_epi32(cur, k);
            cdgh[n] = _mm_sha256rnds2_epu32(cdgh[n], abef[n], wk);
            abef[n] = _mm_sha256rnds2_epu32(abef[n], cdgh[n], _mm_shuffle_epi32(wk, 0x0E));
        }
    }
    for n in 0..N {
        abef[n] = _mm_add_epi32(abef[n], abef0[n]);
        cdgh[n] = _mm_add_epi32(cdgh[n], cdgh0[n]);
    }
}

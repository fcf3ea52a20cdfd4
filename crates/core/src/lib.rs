//! # logseal-core: the seal format v1 and its verifier
//!
//! A sealed record is the original JSON object plus one reserved member,
//! `_logseal`, holding its place in a per-stream SHA-256 hash chain and an
//! RFC 6962 Merkle tree, with periodic Ed25519-signed checkpoints in the C2SP
//! `tlog-checkpoint` / `signed-note` formats. `docs/FORMAT.md` is the
//! normative description; this crate is the reference implementation.
//!
//! ## Why the chain link and the Merkle leaf are one value
//!
//! The entry hash of a record is the RFC 6962 leaf hash of its canonical
//! bytes, and the next record's `prev` is that same value. A verifier
//! holding a fragment of the log can therefore check links without any tree,
//! and a verifier holding a checkpoint can check the tree without trusting the
//! links: both views are computed from the stored records alone, and the
//! memory they need is one hash per record, not the records.
//!
//! ## Why the canonical form is not plain RFC 8785
//!
//! Records pass through pipelines that re-serialise them. RFC 8785 handles
//! key order, whitespace and escapes, but models every number as a double:
//! integers above 2^53 (nanosecond timestamps, 64-bit ids) would lose their
//! low digits, and doubles printed with 16 instead of 17 significant digits
//! (Fluent Bit does) would change the canonical bytes. See [`json`] for the
//! two small rules that make every such re-serialisation verify.
//!
//! The crate is `no_std` + `alloc` and has no unsafe code, so the same code
//! runs natively, in wasmtime, in Fluent Bit's WAMR and in a browser.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod canon;
pub mod json;
pub mod many;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod record;
pub mod seal;
pub mod verify;

use alloc::format;
use alloc::string::String;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub use merkle::Hash;
pub use note::{Checkpoint, NoteError, SignedCheckpoint, SignerKey, VerifierKey};
pub use seal::{ChainState, Input, SealConfig, SealError, Sealed, Sealer, Sha256Fold};
pub use verify::{Finding, Kind, Report, Verifier, VerifyOptions};

/// Standard base64 with padding (as in checkpoints).
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decode a base64 SHA-256 value: exactly 44 characters of the standard
/// alphabet ending in one `=`, with the unused low bits of the last
/// character zero (the one encoding of each value, as the `base64` crate's
/// `STANDARD` engine requires; `tests/b64.rs` compares the two).
///
/// Written out rather than calling `base64` because a verifier decodes two
/// of these a record (`hash` and `prev`), and the general decoder cost 5% of
/// a verification.
pub fn b64_hash(s: &str) -> Option<Hash> {
    let b: &[u8; 44] = s.as_bytes().try_into().ok()?;
    if b[43] != b'=' {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    // 40 characters: 10 groups of 4 sextets, 3 bytes each.
    for (g, o) in b[..40].chunks_exact(4).zip(out[..30].chunks_exact_mut(3)) {
        let [a, b2, c, d] = [g[0], g[1], g[2], g[3]].map(|x| B64_DECODE[x as usize]);
        bad |= (a | b2 | c | d) & 0x80;
        let w = (a as u32) << 18 | (b2 as u32) << 12 | (c as u32) << 6 | d as u32;
        o.copy_from_slice(&w.to_be_bytes()[1..]);
    }
    // The last 3 characters: 18 bits, 16 used.
    let [a, b2, c] = [b[40], b[41], b[42]].map(|x| B64_DECODE[x as usize]);
    bad |= (a | b2 | c) & 0x80;
    let w = (a as u32) << 12 | (b2 as u32) << 6 | c as u32;
    if bad != 0 || w & 3 != 0 {
        return None;
    }
    out[30] = (w >> 10) as u8;
    out[31] = (w >> 2) as u8;
    Some(out)
}

/// Standard base64 alphabet to sextet; `0xFF` for any other byte.
const B64_DECODE: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// `1700000000.123456789` from nanoseconds.
pub fn format_time_ns(t: i64) -> String {
    format!(
        "{}.{:09}",
        t.div_euclid(1_000_000_000),
        t.rem_euclid(1_000_000_000)
    )
}

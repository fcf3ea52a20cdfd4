//! SHA-256 of many independent messages at once.
//!
//! A verifier hashes every record (an RFC 6962 leaf of some 400 bytes) and
//! every Merkle node (65 bytes), and none of these hashes depends on another.
//! One SHA-256 cannot go faster than the latency of its 64 dependent rounds:
//! on the x86-64 SHA extensions (`sha256rnds2`) a block of one message takes
//! about 34 ns on this project's development machine, while the unit could
//! start the next round of another message long before. This crate keeps
//! four messages in flight and interleaves their rounds, which measured
//! about 18 ns a block there (see `BENCHMARKS.md`). That is the
//! "multi-buffer" technique of Intel's ISA-L and OpenSSL's
//! `sha256_multi_block`.
//!
//! Why a crate of our own: `sha2` hashes one message at a time, and the one
//! multi-buffer crate we measured (`tape-sha256` 0.2.2) picks an AVX-512
//! kernel on this CPU that was slower than `sha2` itself, with no way to ask
//! for its SHA-extension kernel. The kernel here is small (one function,
//! `x86::compress`) and every path is checked against `sha2`
//! (`tests/sha.rs`, proptests over lengths around every padding edge).
//!
//! All `unsafe` (the intrinsics and the one CPU-feature check that makes
//! calling them sound) lives in the private `x86` module. Elsewhere, or on
//! a CPU without the extensions, [`digest_many`] hashes one message at a
//! time with `sha2`, so it is always correct and never slower than the loop
//! it replaces.

#![no_std]
#![deny(unsafe_code)]

use sha2::{Digest, Sha256};

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86;

/// `out[i] = SHA-256(msgs[i])` for every message.
///
/// # Panics
/// If `out.len() != msgs.len()`.
pub fn digest_many(msgs: &[&[u8]], out: &mut [[u8; 32]]) {
    assert_eq!(msgs.len(), out.len(), "digest_many: one output per message");
    #[cfg(target_arch = "x86_64")]
    if msgs.len() > 1 && x86::available() {
        x86::digest_many(msgs, out);
        return;
    }
    digest_each(msgs, out);
}

/// [`digest_many`] one message at a time with `sha2` (the fallback, and the
/// baseline the benchmarks compare with).
pub fn digest_each(msgs: &[&[u8]], out: &mut [[u8; 32]]) {
    assert_eq!(msgs.len(), out.len(), "digest_many: one output per message");
    for (m, o) in msgs.iter().zip(out.iter_mut()) {
        *o = Sha256::digest(m).into();
    }
}

/// Which way [`digest_many`] hashes on this machine: `"sha-ni x4"` (four
/// interleaved streams on the SHA extensions) or `"sha2"` (one at a time).
pub fn backend() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        return "sha-ni x4";
    }
    "sha2"
}

/// The interleaved kernel itself, whatever the message count, or `false`
/// (and `out` untouched) where the CPU lacks the SHA extensions. For tests.
#[doc(hidden)]
pub fn digest_many_interleaved(msgs: &[&[u8]], out: &mut [[u8; 32]]) -> bool {
    assert_eq!(msgs.len(), out.len(), "digest_many: one output per message");
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        x86::digest_many(msgs, out);
        return true;
    }
    let _ = (msgs, out);
    false
}

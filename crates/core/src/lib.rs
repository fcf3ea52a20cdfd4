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

/// Decode a base64 SHA-256 value.
pub fn b64_hash(s: &str) -> Option<Hash> {
    if s.len() != 44 {
        return None;
    }
    let mut buf = [0u8; 36];
    match STANDARD.decode_slice(s, &mut buf) {
        Ok(32) => {
            let mut out = [0u8; 32];
            out.copy_from_slice(&buf[..32]);
            Some(out)
        }
        _ => None,
    }
}

/// `1700000000.123456789` from nanoseconds.
pub fn format_time_ns(t: i64) -> String {
    format!(
        "{}.{:09}",
        t.div_euclid(1_000_000_000),
        t.rem_euclid(1_000_000_000)
    )
}

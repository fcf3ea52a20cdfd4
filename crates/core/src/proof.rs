//! `c2sp.org/tlog-proof@v1`: an inclusion proof bundled with the signed
//! checkpoint it leads to, so it can be checked offline.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! index <leaf index>
//! <base64 hash>        (one line per proof hash)
//!
//! <signed checkpoint note>
//! ```
//! An optional `extra <base64>` line may precede `index`; logseal writes none.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::merkle::{self, Hash, ProofError};
use crate::note::{NoteError, SignedCheckpoint, VerifierKey};
use crate::{b64, b64_hash};

/// A parsed tlog proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Optional extra data.
    pub extra: Option<Vec<u8>>,
    /// Leaf index.
    pub index: u64,
    /// Inclusion proof hashes.
    pub hashes: Vec<Hash>,
    /// The checkpoint note text.
    pub checkpoint: String,
}

/// Why a tlog proof is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The text is not a tlog-proof; says why.
    Malformed(&'static str),
    /// The checkpoint is malformed or its signature does not verify.
    Checkpoint(NoteError),
    /// The inclusion proof does not lead to the checkpoint's root.
    Proof(ProofError),
}

impl core::fmt::Display for TlogProofError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TlogProofError::Malformed(w) => write!(f, "malformed tlog-proof: {w}"),
            TlogProofError::Checkpoint(e) => write!(f, "checkpoint: {e}"),
            TlogProofError::Proof(e) => write!(f, "inclusion proof: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TlogProofError {}

const HEADER: &str = "c2sp.org/tlog-proof@v1\n";

impl TlogProof {
    /// Format as text.
    pub fn to_text(&self) -> String {
        let mut s = String::from(HEADER);
        if let Some(e) = &self.extra {
            let _ = writeln!(s, "extra {}", b64(e));
        }
        let _ = writeln!(s, "index {}", self.index);
        for h in &self.hashes {
            s.push_str(&b64(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parse the text form.
    pub fn parse(text: &str) -> Result<Self, TlogProofError> {
        let m = TlogProofError::Malformed;
        let rest = text.strip_prefix(HEADER).ok_or(m("missing header line"))?;
        let (head, checkpoint) = rest.split_once("\n\n").ok_or(m("no blank line"))?;
        let mut lines = head.split('\n').peekable();
        let mut extra = None;
        if let Some(l) = lines.peek().and_then(|l| l.strip_prefix("extra ")) {
            use base64::Engine as _;
            extra = Some(
                base64::engine::general_purpose::STANDARD
                    .decode(l)
                    .map_err(|_| m("extra is not base64"))?,
            );
            lines.next();
        }
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .ok_or(m("missing index line"))?;
        if index.len() > 1 && index.starts_with('0') {
            return Err(m("index has a leading zero"));
        }
        let index = index
            .parse::<u64>()
            .map_err(|_| m("index is not a number"))?;
        let hashes = lines
            .filter(|l| !l.is_empty())
            .map(|l| b64_hash(l).ok_or(m("proof line is not a base64 hash")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.into(),
        })
    }

    /// Verify that `leaf` (a leaf hash) is at `index` under the checkpoint,
    /// and that the checkpoint is signed by one of `keys`. Returns the checkpoint.
    pub fn verify(
        &self,
        leaf: &Hash,
        keys: &[VerifierKey],
    ) -> Result<SignedCheckpoint, TlogProofError> {
        let cp = SignedCheckpoint::parse(&self.checkpoint).map_err(TlogProofError::Checkpoint)?;
        cp.note.verify(keys).map_err(TlogProofError::Checkpoint)?;
        merkle::verify_inclusion(
            self.index,
            cp.checkpoint.size,
            leaf,
            &self.hashes,
            &cp.checkpoint.root,
        )
        .map_err(TlogProofError::Proof)?;
        Ok(cp)
    }
}

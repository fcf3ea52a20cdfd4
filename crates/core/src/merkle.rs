//! RFC 6962 (Certificate Transparency) Merkle trees over SHA-256.
//!
//! The algorithms follow RFC 9162 §2.1 and the transparency-dev/merkle Go
//! reference, whose test vectors (`tests/vectors/merkle/`) this module passes,
//! including every reject case.
//!
//! Policy for a consistency proof from size 0: **rejected** (as
//! transparency-dev does since 2026-06). An empty tree is trivially a prefix of
//! every tree, so such a "proof" proves nothing; logseal never produces a
//! checkpoint of size 0 (the first checkpoint of an epoch covers its first
//! record).

use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// Root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    WrongLength {
        /// Hashes expected.
        expected: usize,
        /// Hashes given.
        found: usize,
    },
    /// The sizes cannot be related by a consistency proof (size1 > size2, or size1 = 0).
    BadSizes {
        /// Older size.
        size1: u64,
        /// Newer size.
        size2: u64,
    },
    /// The proof leads to a different root.
    RootMismatch {
        /// The root the caller expected.
        expected: Hash,
        /// The root the proof computes.
        computed: Hash,
    },
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::IndexOutOfRange { index, size } => {
                write!(f, "leaf index {index} is not below tree size {size}")
            }
            ProofError::WrongLength { expected, found } => {
                write!(f, "proof has {found} hashes, expected {expected}")
            }
            ProofError::BadSizes { size1, size2 } => {
                write!(
                    f,
                    "no consistency proof relates size {size1} to size {size2}"
                )
            }
            ProofError::RootMismatch { expected, computed } => write!(
                f,
                "proof computes root {}, expected {}",
                crate::b64(computed),
                crate::b64(expected)
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProofError {}

fn inner_border(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    (inner, border)
}

fn chain_inner(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        seed = if (index >> i) & 1 == 0 {
            node_hash(&seed, h)
        } else {
            node_hash(h, &seed)
        };
    }
    seed
}

fn chain_inner_right(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_border_right(mut seed: Hash, proof: &[Hash]) -> Hash {
    for h in proof {
        seed = node_hash(h, &seed);
    }
    seed
}

/// Compute the root an inclusion proof leads to.
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = inner_border(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength {
            expected: inner + border,
            found: proof.len(),
        });
    }
    let r = chain_inner(*leaf, &proof[..inner], index);
    Ok(chain_border_right(r, &proof[inner..]))
}

/// Verify that `leaf` is at `index` in the tree of `size` with `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(index, size, leaf, proof)?;
    if &computed != root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// Verify that the tree (`size2`, `root2`) extends (`size1`, `root1`).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size2 < size1 || size1 == 0 {
        return Err(ProofError::BadSizes { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                found: proof.len(),
            });
        }
        if root1 != root2 {
            return Err(ProofError::RootMismatch {
                expected: *root2,
                computed: *root1,
            });
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength {
            expected: 1,
            found: 0,
        });
    }
    let (mut inner, border) = inner_border(size1 - 1, size2);
    let shift = (size1.trailing_zeros()) as usize;
    inner -= shift;
    let (seed, proof) = if size1 == 1u64 << shift {
        (*root1, proof)
    } else {
        (proof[0], &proof[1..])
    };
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength {
            expected: inner + border,
            found: proof.len(),
        });
    }
    let mask = (size1 - 1) >> shift;
    let hash1 = chain_inner_right(seed, &proof[..inner], mask);
    let hash1 = chain_border_right(hash1, &proof[inner..]);
    if &hash1 != root1 {
        return Err(ProofError::RootMismatch {
            expected: *root1,
            computed: hash1,
        });
    }
    let hash2 = chain_inner(seed, &proof[..inner], mask);
    let hash2 = chain_border_right(hash2, &proof[inner..]);
    if &hash2 != root2 {
        return Err(ProofError::RootMismatch {
            expected: *root2,
            computed: hash2,
        });
    }
    Ok(())
}

/// Root of the tree over `leaves` (leaf hashes), RFC 6962 §2.1.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly below `n` (for n ≥ 2).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Inclusion proof for leaf `index` in the tree over `leaves` (RFC 6962 PATH).
pub fn inclusion_proof(index: u64, leaves: &[Hash]) -> Vec<Hash> {
    let mut out = Vec::new();
    path(index as usize, leaves, &mut out);
    out
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    if d.len() <= 1 {
        return;
    }
    let k = split(d.len() as u64) as usize;
    if m < k {
        path(m, &d[..k], out);
        out.push(root(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root(&d[..k]));
    }
}

/// Consistency proof from the first `size1` leaves to all of `leaves` (RFC 6962 PROOF).
pub fn consistency_proof(size1: u64, leaves: &[Hash]) -> Vec<Hash> {
    let mut out = Vec::new();
    if size1 > 0 && (size1 as usize) < leaves.len() {
        subproof(size1 as usize, leaves, true, &mut out);
    }
    out
}

fn subproof(m: usize, d: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !whole {
            out.push(root(d));
        }
        return;
    }
    let k = split(n as u64) as usize;
    if m <= k {
        subproof(m, &d[..k], whole, out);
        out.push(root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root(&d[..k]));
    }
}

/// An append-only Merkle tree summary: O(log n) memory, the root at any size.
///
/// Holds the roots of the perfect subtrees that make up the tree (the "compact
/// range" `[0, size)`), so the verifier can check a checkpoint of any size
/// while streaming leaves in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactTree {
    size: u64,
    /// Perfect subtree roots, largest (leftmost) first.
    peaks: Vec<Hash>,
}

impl CompactTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuild from saved peaks (as returned by [`CompactTree::peaks`]).
    /// Returns `None` when the number of peaks does not match `size`.
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Option<Self> {
        (size.count_ones() as usize == peaks.len()).then_some(CompactTree { size, peaks })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtree roots, largest first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Append a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.push_inner(leaf, node_hash);
    }

    /// Append a leaf whose hash and whose merge with the peaks it completes
    /// are computed together, by one call of `f` (a WebAssembly guest's host
    /// does both natively, in one crossing: the `digest` import's
    /// `sha256-fold`).
    ///
    /// `f` gets the peaks the new leaf merges with, as they are stored
    /// (largest first), and returns `(leaf, peak)`: the leaf hash, and
    /// `peak` = the leaf folded with them from the last to the first, each
    /// as `SHA-256(0x01 || left || peak)`. Returns the leaf hash. With a
    /// correct `f` this is [`CompactTree::push`] of the leaf.
    pub fn push_folded(&mut self, f: impl FnOnce(&[Hash]) -> (Hash, Hash)) -> Hash {
        let merges = self.size.trailing_ones() as usize;
        let keep = self.peaks.len() - merges;
        let (leaf, peak) = f(&self.peaks[keep..]);
        self.peaks.truncate(keep);
        self.peaks.push(peak);
        self.size += 1;
        leaf
    }

    /// Append many leaf hashes: the same tree as [`CompactTree::push`] of
    /// each, built level by level so that each level's interior nodes are
    /// hashed together ([`crate::many`]: four at a time in a browser).
    pub fn extend(&mut self, leaves: &[Hash]) {
        if leaves.len() < 8 {
            for l in leaves {
                self.push(*l);
            }
            return;
        }
        // The old peaks by level (a peak at level l covers 2^l leaves).
        let mut old: Vec<(u32, Hash)> = Vec::with_capacity(self.peaks.len());
        let mut bits = self.size;
        for p in self.peaks.iter().rev() {
            let level = bits.trailing_zeros();
            old.push((level, *p));
            bits &= bits - 1;
        }
        // `old` is lowest level first.
        let mut old = old.into_iter().peekable();
        let mut peaks: Vec<Hash> = Vec::new(); // lowest level first
        let mut cur: Vec<Hash> = leaves.to_vec();
        let mut next: Vec<Hash> = Vec::with_capacity(cur.len() / 2 + 1);
        let mut level = 0u32;
        while !cur.is_empty() {
            if let Some((_, p)) = old.next_if(|(l, _)| *l == level) {
                cur.insert(0, p);
            }
            if cur.len() % 2 == 1 {
                peaks.extend(cur.pop());
            }
            next.clear();
            crate::many::node_hashes(&cur, &mut next);
            core::mem::swap(&mut cur, &mut next);
            level += 1;
        }
        peaks.extend(old.map(|(_, p)| p));
        peaks.reverse();
        self.size += leaves.len() as u64;
        self.peaks = peaks;
    }

    fn push_inner(&mut self, leaf: Hash, node: impl Fn(&Hash, &Hash) -> Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            let left = self.peaks.pop().unwrap_or_default();
            h = node(&left, &h);
            s >>= 1;
        }
        self.peaks.push(h);
        self.size += 1;
    }

    /// The root of the tree as it stands.
    pub fn root(&self) -> Hash {
        let mut it = self.peaks.iter().rev();
        match it.next() {
            None => EMPTY_ROOT,
            Some(first) => it.fold(*first, |acc, left| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_folded_is_push() {
        let leaves: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut a = CompactTree::new();
        let mut b = CompactTree::new();
        for (i, l) in leaves.iter().enumerate() {
            a.push(*l);
            let got = b.push_folded(|lefts| {
                assert_eq!(lefts.len(), i.trailing_ones() as usize, "after {i} leaves");
                let peak = lefts
                    .iter()
                    .rev()
                    .fold(*l, |acc, left| node_hash(left, &acc));
                (*l, peak)
            });
            assert_eq!(got, *l);
            assert_eq!(a, b, "after {} leaves", i + 1);
        }
        assert_eq!(b.root(), root(&leaves));
    }

    #[test]
    fn extend_is_push_of_each() {
        let leaves: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for start in [0usize, 1, 2, 3, 5, 7, 8, 13, 64, 100] {
            for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 31, 64, 65, 100, 199] {
                let mut a = CompactTree::new();
                let mut b = CompactTree::new();
                for l in &leaves[..start] {
                    a.push(*l);
                    b.push(*l);
                }
                for l in &leaves[start..start + len] {
                    a.push(*l);
                }
                b.extend(&leaves[start..start + len]);
                assert_eq!(a, b, "{len} leaves onto {start}");
                assert_eq!(a.root(), root(&leaves[..start + len]));
            }
        }
    }

    #[test]
    fn compact_matches_recursive() {
        let leaves: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut t = CompactTree::new();
        assert_eq!(t.root(), EMPTY_ROOT);
        for (i, l) in leaves.iter().enumerate() {
            t.push(*l);
            assert_eq!(t.root(), root(&leaves[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn proofs_round_trip() {
        let leaves: Vec<Hash> = (0u32..37).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for n in 1..=leaves.len() {
            let r = root(&leaves[..n]);
            for i in 0..n {
                let p = inclusion_proof(i as u64, &leaves[..n]);
                verify_inclusion(i as u64, n as u64, &leaves[i], &p, &r).unwrap();
                let mut bad = leaves[i];
                bad[0] ^= 1;
                assert!(verify_inclusion(i as u64, n as u64, &bad, &p, &r).is_err());
            }
            for m in 1..=n {
                let p = consistency_proof(m as u64, &leaves[..n]);
                verify_consistency(m as u64, n as u64, &p, &root(&leaves[..m]), &r).unwrap();
            }
        }
    }
}

//! `SignerKey::derive`: SHA-256 of the label, a zero byte and the key's
//! seed, computed here with `sha2` directly.

use logseal_core::note::SignerKey;
use sha2::{Digest, Sha256};

#[test]
fn derive_is_sha256_of_label_zero_and_seed() {
    let seed = [0x42; 32];
    let k = SignerKey::from_seed("logseal.test/derive", seed).unwrap();
    let mut h = Sha256::new();
    h.update(b"logseal anomaly hash key v1");
    h.update([0u8]);
    h.update(seed);
    let want: [u8; 32] = h.finalize().into();
    assert_eq!(k.derive("logseal anomaly hash key v1"), want);
    // another label, another secret; the name is not part of it
    assert_ne!(k.derive("other"), want);
    let renamed = SignerKey::from_seed("another.name", seed).unwrap();
    assert_eq!(renamed.derive("logseal anomaly hash key v1"), want);
    // and it is not the seed itself
    assert_ne!(&want, &seed);
}

//! `many`: SHA-256 of many messages in SIMD lanes, against `sha2` and the
//! FIPS 180-4 examples.

use logseal_core::Hash;
use logseal_core::many::{sha256_back_to_back, sha256_many, sha256_many_lanes};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn reference(msgs: &[&[u8]]) -> Vec<Hash> {
    msgs.iter().map(|m| Sha256::digest(m).into()).collect()
}

fn both(msgs: &[&[u8]]) -> (Vec<Hash>, Vec<Hash>) {
    let mut a = vec![[0u8; 32]; msgs.len()];
    let mut b = vec![[0u8; 32]; msgs.len()];
    sha256_many(msgs, &mut a);
    sha256_many_lanes(msgs, &mut b);
    (a, b)
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// FIPS 180-4 examples (NIST CSRC "Examples with Intermediate Values",
/// SHA-256): one block, two blocks, and the million `a` of FIPS 180-2 B.3.
#[test]
fn known_answers() {
    let million = vec![b'a'; 1_000_000];
    let msgs: [&[u8]; 4] = [
        b"abc",
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        &million,
        b"",
    ];
    let (a, b) = both(&msgs);
    let want = [
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ];
    for i in 0..4 {
        assert_eq!(hex(&a[i]), want[i], "sha256_many, message {i}");
        assert_eq!(hex(&b[i]), want[i], "lanes, message {i}");
    }
}

/// Every length around the padding boundaries (55/56/63/64 bytes and their
/// multiples), in one call so lanes change messages at every block count.
#[test]
fn every_length_to_300() {
    let data: Vec<u8> = (0..300u32).map(|i| (i * 131 + 7) as u8).collect();
    let msgs: Vec<&[u8]> = (0..=300).map(|n| &data[..n]).collect();
    let (a, b) = both(&msgs);
    let want = reference(&msgs);
    for n in 0..=300 {
        assert_eq!(a[n], want[n], "sha256_many, length {n}");
        assert_eq!(b[n], want[n], "lanes, length {n}");
    }
}

proptest! {
    #[test]
    fn random_batches(msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 0..13)) {
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let (a, b) = both(&refs);
        let want = reference(&refs);
        prop_assert_eq!(&a, &want);
        prop_assert_eq!(&b, &want);
        // The same messages back to back in one buffer (empty ones too).
        let buf = msgs.concat();
        let ends: Vec<usize> = msgs.iter().scan(0, |end, m| { *end += m.len(); Some(*end) }).collect();
        prop_assert_eq!(&sha256_back_to_back(&buf, &ends), &want);
    }
}

#[test]
#[should_panic(expected = "one output per message")]
fn output_length_must_match() {
    let mut out = [[0u8; 32]; 1];
    sha256_many(&[b"a", b"b"], &mut out);
}

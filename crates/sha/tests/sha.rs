//! `digest_many` against `sha2`, one message at a time: every length around
//! the padding edges (55/56 and 63/64 bytes past a block), batches of every
//! size around the four lanes, and random batches of mixed lengths (lanes
//! that end at different blocks and are refilled).

use logseal_sha::{backend, digest_each, digest_many, digest_many_interleaved};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn reference(msgs: &[&[u8]]) -> Vec<[u8; 32]> {
    msgs.iter().map(|m| Sha256::digest(m).into()).collect()
}

/// Both entry points against `sha2`; the interleaved one only where the CPU
/// has the extensions (it says whether it ran).
fn check(msgs: &[&[u8]]) -> bool {
    let want = reference(msgs);
    let mut got = vec![[0u8; 32]; msgs.len()];
    digest_many(msgs, &mut got);
    assert_eq!(got, want, "digest_many");
    let mut each = vec![[0u8; 32]; msgs.len()];
    digest_each(msgs, &mut each);
    assert_eq!(each, want, "digest_each");
    let mut il = vec![[7u8; 32]; msgs.len()];
    let ran = digest_many_interleaved(msgs, &mut il);
    if ran {
        assert_eq!(il, want, "interleaved kernel");
    }
    ran
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn every_length_up_to_three_blocks() {
    // Eight messages of one length each time (two full rounds of lanes),
    // then the same lengths mixed in one batch.
    let all: Vec<Vec<u8>> = (0..=200).map(|n| bytes(n, n as u8)).collect();
    for m in &all {
        let batch: Vec<&[u8]> = (0..8).map(|_| m.as_slice()).collect();
        check(&batch);
    }
    let mixed: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    check(&mixed);
}

#[test]
fn batch_sizes_around_the_lanes() {
    for n in 0..=13 {
        let msgs: Vec<Vec<u8>> = (0..n).map(|i| bytes(100 + 70 * i, i as u8)).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        check(&refs);
    }
}

#[test]
fn known_answers() {
    // FIPS 180-2 appendix B.1 and B.2 ("abc" and the 56-byte message, whose
    // padding takes a second block).
    let msgs: [&[u8]; 5] = [
        b"abc",
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        b"",
        b"abc",
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    ];
    let hex = |h: &[u8; 32]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut out = [[0u8; 32]; 5];
    digest_many(&msgs, &mut out);
    assert_eq!(
        hex(&out[0]),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&out[1]),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(
        hex(&out[2]),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(out[3], out[0]);
    assert_eq!(out[4], out[1]);
}

#[test]
fn backend_is_named() {
    // On x86-64 with the SHA extensions the kernel must be the one in use.
    let ran = check(&[b"a", b"b"]);
    assert_eq!(backend() == "sha-ni x4", ran, "backend {}", backend());
    eprintln!("backend: {}", backend());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_batches(lens in prop::collection::vec(0usize..700, 0..24), seed: u8) {
        let msgs: Vec<Vec<u8>> = lens.iter().enumerate()
            .map(|(i, &n)| bytes(n, seed.wrapping_add(i as u8)))
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        check(&refs);
    }

    #[test]
    fn random_content(msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..12)) {
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        check(&refs);
    }
}

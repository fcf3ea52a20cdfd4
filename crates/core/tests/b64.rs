//! `b64_hash`, the verifier's own decoder of base64 SHA-256 values, against
//! the `base64` crate's `STANDARD` engine (padding required, trailing bits
//! must be zero): the same strings accepted, to the same bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use logseal_core::b64_hash;
use proptest::prelude::*;

/// What `base64` says a 44-character string holds, if it is one SHA-256 value.
fn reference(s: &str) -> Option<[u8; 32]> {
    let v = STANDARD.decode(s).ok()?;
    v.try_into().ok()
}

fn check(s: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(b64_hash(s), reference(s), "{:?}", s);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Every value round-trips.
    #[test]
    fn encodings_decode(h in any::<[u8; 32]>()) {
        let s = STANDARD.encode(h);
        prop_assert_eq!(b64_hash(&s), Some(h));
    }

    /// An encoding with one byte replaced (another letter, a character
    /// outside the alphabet, `=` too early, non-zero trailing bits) decodes
    /// exactly when `base64` decodes it.
    #[test]
    fn one_byte_changed(h in any::<[u8; 32]>(), at in 0usize..44, by in 0x20u8..0x7f) {
        let mut b = STANDARD.encode(h).into_bytes();
        b[at] = by;
        check(std::str::from_utf8(&b).unwrap())?;
    }

    /// Strings of any length over the alphabet, `=` and a few outsiders.
    #[test]
    fn any_string(s in "[A-Za-z0-9+/=\\-_ .]{0,48}") {
        check(&s)?;
    }
}

#[test]
fn known_answers() {
    // SHA-256("abc"), FIPS 180-2 B.1.
    let abc = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
    assert_eq!(
        b64_hash(abc).map(|h| h[..4].to_vec()),
        Some(vec![0xba, 0x78, 0x16, 0xbf])
    );
    for (bad, why) in [
        (
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1=",
            "the last character's unused bits set (another encoding of the same bytes)",
        ),
        (
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa==",
            "two `=`: 31 bytes",
        ),
        ("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0A", "no `=`"),
        (
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFé=",
            "a two-byte character",
        ),
    ] {
        assert_eq!(b64_hash(bad), None, "{why}");
        assert_eq!(reference(bad), None, "{why}");
    }
}

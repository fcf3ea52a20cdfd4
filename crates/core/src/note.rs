//! C2SP signed notes (`c2sp.org/signed-note`), Ed25519 keys in the
//! golang.org/x/mod/sumdb/note text forms, C2SP checkpoints
//! (`c2sp.org/tlog-checkpoint`) and witness cosignatures (`cosignature/v1`).
//!
//! Key IDs are the first four bytes of `SHA-256(name || 0x0A || type || pubkey)`
//! with type 0x01 for Ed25519 note signatures and 0x04 for cosignatures.
//!
//! Ed25519 verification rule: [`ed25519_dalek::VerifyingKey::verify_strict`]
//! (canonical S, canonical R and A encodings, and no small-order A or R). This
//! is the rule pinned by the `ed25519vectors` test in `tests/` for the native
//! and browser builds alike; it is stricter than Go's `crypto/ed25519` on
//! small-order keys, which no honest signer produces.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// Signature type byte of an Ed25519 note signature.
pub const ALG_ED25519: u8 = 0x01;
/// Signature type byte of a `cosignature/v1` witness signature.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// A problem with a key, a note or a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoteError {
    /// A key string is malformed; says which part.
    BadKey(&'static str),
    /// A note is malformed; says why.
    Malformed(&'static str),
    /// A checkpoint body is malformed; says why.
    BadCheckpoint(&'static str),
    /// No signature on the note verifies with any of the given keys.
    Unverified,
    /// A signature line names a known key and has its key ID, but does not verify.
    InvalidSignature {
        /// The key name.
        name: String,
    },
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteError::BadKey(why) => write!(f, "malformed key: {why}"),
            NoteError::Malformed(why) => write!(f, "malformed note: {why}"),
            NoteError::BadCheckpoint(why) => write!(f, "malformed checkpoint: {why}"),
            NoteError::Unverified => f.write_str("no signature by a known key"),
            NoteError::InvalidSignature { name } => {
                write!(f, "invalid signature by known key {name}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NoteError {}

/// Verify a raw Ed25519 signature with logseal's rule (`verify_strict`).
pub fn verify_ed25519(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(public)
        .is_ok_and(|k| k.verify_strict(msg, &Signature::from_bytes(sig)).is_ok())
}

/// The 4-byte key ID of `(name, type, public key)`.
pub fn key_id(name: &str, alg: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A key name must be non-empty, with no Unicode spaces and no '+'.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn hex_id(id: &[u8; 4]) -> String {
    format!("{:02x}{:02x}{:02x}{:02x}", id[0], id[1], id[2], id[3])
}

fn parse_hex_id(s: &str) -> Option<[u8; 4]> {
    if s.len() != 8 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let v = u32::from_str_radix(s, 16).ok()?;
    Some(v.to_be_bytes())
}

/// A public key that verifies note signatures (Ed25519) or cosignatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    alg: u8,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parse `name+hex(keyid)+base64(type||pubkey)`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let text = text.trim();
        // Names never contain '+'; base64 may.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadKey("expected name+keyid+key"));
        };
        if !valid_name(name) {
            return Err(NoteError::BadKey("invalid key name"));
        }
        let id = parse_hex_id(hex).ok_or(NoteError::BadKey("key ID is not 8 hex digits"))?;
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::BadKey("key is not base64"))?;
        let (&alg, public) = raw.split_first().ok_or(NoteError::BadKey("empty key"))?;
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(NoteError::BadKey("unsupported key type"));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| NoteError::BadKey("Ed25519 key is not 32 bytes"))?;
        if key_id(name, alg, &public) != id {
            return Err(NoteError::BadKey("key ID does not match the key"));
        }
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::BadKey("not a valid Ed25519 point"))?;
        Ok(VerifierKey {
            name: name.to_string(),
            id,
            alg,
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }

    /// The signature type (0x01 note signature, 0x04 cosignature).
    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// Verify a raw Ed25519 signature under this key with the strict rule.
    pub fn verify_raw(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        verify_ed25519(self.key.as_bytes(), msg, sig)
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.alg);
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex_id(&self.id), B64.encode(raw))
    }
}

/// An Ed25519 signing key in the x/mod form
/// `PRIVATE+KEY+name+hex(keyid)+base64(0x01||seed)`.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    id: [u8; 4],
    key: SigningKey,
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignerKey({}+{})", self.name, hex_id(&self.id))
    }
}

impl SignerKey {
    /// A key from a 32-byte seed (use a CSPRNG to make one).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey("invalid key name"));
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, ALG_ED25519, key.verifying_key().as_bytes());
        Ok(SignerKey {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// Parse the `PRIVATE+KEY+...` text form.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadKey(
                "signing key must start with PRIVATE+KEY+",
            ))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadKey("expected PRIVATE+KEY+name+keyid+key"));
        };
        let id = parse_hex_id(hex).ok_or(NoteError::BadKey("key ID is not 8 hex digits"))?;
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::BadKey("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(NoteError::BadKey(
                "expected 0x01 followed by a 32-byte seed",
            ));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..]);
        let k = Self::from_seed(name, seed)?;
        if k.id != id {
            return Err(NoteError::BadKey("key ID does not match the key"));
        }
        Ok(k)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            alg: ALG_ED25519,
            key: self.key.verifying_key(),
        }
    }

    /// A 32-byte secret derived from this key for another purpose, named
    /// by `label`: SHA-256 of the label, a zero byte and the key's seed.
    /// Different labels give unrelated secrets, and none reveals the key
    /// (the anomaly engine's hash key is `derive("logseal anomaly hash
    /// key v1")`, so every plugin holding the key keys its engine alike).
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(label.as_bytes());
        h.update([0u8]);
        h.update(self.key.as_bytes());
        h.finalize().into()
    }

    /// The `PRIVATE+KEY+...` text form (a secret: store it with care).
    pub fn to_private_string(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex_id(&self.id),
            B64.encode(raw)
        )
    }

    /// Sign `text` (which must end in a newline) into a signed note.
    pub fn sign_note(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes()).to_bytes();
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&self.id);
        raw.extend_from_slice(&sig);
        format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(raw))
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID hint.
    pub id: [u8; 4],
    /// The signature bytes after the key ID.
    pub sig: Vec<u8>,
}

/// A parsed signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The text, ending in a newline, without the blank separator line.
    pub text: String,
    /// The signature lines in order.
    pub sigs: Vec<NoteSignature>,
}

const MAX_SIGS: usize = 100;

impl Note {
    /// Parse a signed note (text, a blank line, signature lines).
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        if note.contains('\r') {
            return Err(NoteError::Malformed("carriage return"));
        }
        if !note.ends_with('\n') {
            return Err(NoteError::Malformed("does not end in a newline"));
        }
        if note
            .chars()
            .any(|c| c != '\n' && (c.is_control() || (c as u32) == 0))
        {
            return Err(NoteError::Malformed("control character"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let text = &note[..=split];
        let sig_block = &note[split + 2..];
        if sig_block.is_empty() {
            return Err(NoteError::Malformed("no signatures"));
        }
        let mut sigs = Vec::new();
        for line in sig_block
            .strip_suffix('\n')
            .unwrap_or(sig_block)
            .split('\n')
        {
            let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed(
                "signature line must start with an em dash",
            ))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or(NoteError::Malformed("signature line has no space"))?;
            if !valid_name(name) || b64.contains(' ') {
                return Err(NoteError::Malformed("bad signature line"));
            }
            let raw = B64
                .decode(b64)
                .map_err(|_| NoteError::Malformed("signature is not base64"))?;
            if raw.len() < 5 {
                return Err(NoteError::Malformed("signature too short"));
            }
            let mut id = [0u8; 4];
            id.copy_from_slice(&raw[..4]);
            sigs.push(NoteSignature {
                name: name.to_string(),
                id,
                sig: raw[4..].to_vec(),
            });
            if sigs.len() > MAX_SIGS {
                return Err(NoteError::Malformed("too many signatures"));
            }
        }
        Ok(Note {
            text: text.to_string(),
            sigs,
        })
    }

    /// Verify against `keys`. Returns the names of keys whose signature
    /// verified. Unknown signers are ignored; a bad signature by a known key
    /// is an error; no verified signature at all is [`NoteError::Unverified`].
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<String>, NoteError> {
        let mut ok = Vec::new();
        for s in &self.sigs {
            let Some(k) = keys.iter().find(|k| k.name == s.name && k.id == s.id) else {
                continue;
            };
            let good = match k.alg {
                ALG_ED25519 => <&[u8; 64]>::try_from(s.sig.as_slice())
                    .is_ok_and(|sig| k.verify_raw(self.text.as_bytes(), sig)),
                ALG_COSIGNATURE_V1 => verify_cosignature(k, &self.text, &s.sig),
                _ => false,
            };
            if !good {
                return Err(NoteError::InvalidSignature {
                    name: s.name.clone(),
                });
            }
            if !ok.contains(&s.name) {
                ok.push(s.name.clone());
            }
        }
        if ok.is_empty() {
            return Err(NoteError::Unverified);
        }
        Ok(ok)
    }
}

/// `cosignature/v1`: the signature is `timestamp (8 bytes, big endian) || Ed25519
/// signature` over `"cosignature/v1\ntime <timestamp>\n" || checkpoint body`.
fn verify_cosignature(k: &VerifierKey, body: &str, sig: &[u8]) -> bool {
    if sig.len() != 72 {
        return false;
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&sig[..8]);
    let ts = u64::from_be_bytes(ts);
    let msg = format!("cosignature/v1\ntime {ts}\n{body}");
    let mut s = [0u8; 64];
    s.copy_from_slice(&sig[8..]);
    k.verify_raw(msg.as_bytes(), &s)
}

/// A C2SP checkpoint body: origin, tree size, root hash (logseal writes no
/// extension lines, and rejects none it reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash.
    pub root: Hash,
    /// Extension lines, if any (each without its newline).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The body text.
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parse a body (the text of a note).
    pub fn parse_body(text: &str) -> Result<Self, NoteError> {
        let mut lines = text
            .strip_suffix('\n')
            .ok_or(NoteError::BadCheckpoint("does not end in a newline"))?
            .split('\n');
        let origin = lines.next().unwrap_or("");
        if origin.is_empty() {
            return Err(NoteError::BadCheckpoint("empty origin"));
        }
        let size = lines
            .next()
            .ok_or(NoteError::BadCheckpoint("no size line"))?;
        if size.is_empty() || (size.len() > 1 && size.starts_with('0')) {
            return Err(NoteError::BadCheckpoint("size is not a decimal number"));
        }
        let size = size
            .parse::<u64>()
            .map_err(|_| NoteError::BadCheckpoint("size is not a decimal number"))?;
        let root = lines
            .next()
            .ok_or(NoteError::BadCheckpoint("no root line"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::BadCheckpoint("root is not 32 base64 bytes"))?;
        let extensions: Vec<String> = lines.map(ToString::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::BadCheckpoint("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

/// A checkpoint with its signatures, as parsed from a signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The body.
    pub checkpoint: Checkpoint,
    /// The note it came from.
    pub note: Note,
}

impl SignedCheckpoint {
    /// Parse a signed checkpoint note (signatures are not checked here).
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        let note = Note::parse(note)?;
        let checkpoint = Checkpoint::parse_body(&note.text)?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Sign a checkpoint.
    pub fn sign(checkpoint: Checkpoint, key: &SignerKey) -> String {
        key.sign_note(&checkpoint.body())
    }
}

/// Split a checkpoint file (signed notes one after another, docs/FORMAT.md §6)
/// into `(first line number, note)`. A note ends after its last signature line
/// (lines starting with an em dash); blank lines between notes are skipped.
pub fn split_notes(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 1u64;
    let mut in_sigs = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if in_sigs && !line.starts_with('\u{2014}') {
            out.push((start, core::mem::take(&mut cur)));
            in_sigs = false;
        }
        if cur.is_empty() {
            if line.trim().is_empty() {
                continue;
            }
            start = i as u64 + 1;
        }
        if line.starts_with('\u{2014}') {
            in_sigs = true;
        }
        cur.push_str(line);
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

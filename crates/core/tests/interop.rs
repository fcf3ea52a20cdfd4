//! Cross-checks against implementations written by others:
//! `signed_note` and `tlog_tiles` (ports of Go's golang.org/x/mod sumdb/note
//! and sumdb/tlog) and `serde_jcs` (RFC 8785).

use logseal_core::merkle::{self, Hash};
use logseal_core::note::SignerKey;
use logseal_core::{Input, SealConfig, Sealer, SignedCheckpoint, json};
use proptest::prelude::*;
use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};

fn key() -> SignerKey {
    SignerKey::from_seed("logseal.test/interop", [7; 32]).unwrap()
}

/// Seal `n` records and return the checkpoints and leaf hashes.
fn sealed(n: u64) -> (Vec<String>, Vec<Hash>) {
    let mut cfg = SealConfig::new("logseal.test/interop", "e1");
    cfg.checkpoint_every = 3;
    let mut s = Sealer::new(key(), cfg).unwrap();
    let mut cps = Vec::new();
    let mut leaves = Vec::new();
    for i in 0..n {
        let rec = format!(r#"{{"i":{i},"msg":"event {i}"}}"#);
        let out = s.seal(Input {
            record: rec.as_bytes(),
            ..Input::default()
        });
        leaves.push(out.hash);
        cps.extend(out.checkpoint);
    }
    (cps, leaves)
}

#[test]
fn our_checkpoints_verify_with_signed_note_and_parse_with_tlog_tiles() {
    let (cps, leaves) = sealed(20);
    assert_eq!(cps.len(), 6);
    let vkey = key().verifier().to_string();
    let verifier = StandardVerifier::new(&vkey).unwrap();
    let list = VerifierList::new(vec![Box::new(verifier)]);
    for cp in &cps {
        let note = Note::from_bytes(cp.as_bytes()).unwrap();
        let (ok, unknown) = note.verify(&list).unwrap();
        assert_eq!((ok.len(), unknown.len()), (1, 0));
        let body = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
        let ours = SignedCheckpoint::parse(cp).unwrap().checkpoint;
        assert_eq!(body.size(), ours.size);
        assert_eq!(body.hash().0, ours.root);
        assert_eq!(body.origin(), "logseal.test/interop/e1");
        assert_eq!(ours.root, merkle::root(&leaves[..ours.size as usize]));
    }
}

#[test]
fn signing_key_text_form_is_shared_with_signed_note() {
    // A key we write is loaded by signed_note, and its signatures equal ours.
    let k = key();
    let signer = StandardSigner::new(&k.to_private_string()).unwrap();
    let text = "logseal.test/interop/e1\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let mut n = Note::new(text.as_bytes(), &[]).unwrap();
    n.add_sigs(&[&signer]).unwrap();
    assert_eq!(String::from_utf8(n.to_bytes()).unwrap(), k.sign_note(text));
    // And a key signed_note generates is loaded by us.
    let (skey, vkey) = signed_note::generate_key(&mut rand_core::OsRng, "other.example/log");
    let ours = SignerKey::parse(&skey).unwrap();
    assert_eq!(ours.verifier().to_string(), vkey);
}

#[test]
fn our_proofs_check_with_tlog_tiles() {
    let (_, leaves) = sealed(41);
    let th = |h: &Hash| tlog_tiles::Hash(*h);
    for t in 1..=leaves.len() as u64 {
        let root = merkle::root(&leaves[..t as usize]);
        for n in 0..t {
            let p: Vec<tlog_tiles::Hash> = merkle::inclusion_proof(n, &leaves[..t as usize])
                .iter()
                .map(th)
                .collect();
            tlog_tiles::check_record(&p, t, th(&root), n, th(&leaves[n as usize])).unwrap();
        }
        for n in 1..t {
            let p: Vec<tlog_tiles::Hash> = merkle::consistency_proof(n, &leaves[..t as usize])
                .iter()
                .map(th)
                .collect();
            let old = merkle::root(&leaves[..n as usize]);
            tlog_tiles::check_tree(&p, t, th(&root), n, th(&old)).unwrap();
        }
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i32>().prop_map(|i| serde_json::json!(i)),
        (-1e15f64..1e15).prop_map(|f| serde_json::json!(f)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::json!(f)),
        "\\PC{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Our RFC 8785 writer agrees with serde_jcs on any value.
    #[test]
    fn jcs_agrees_with_serde_jcs(v in arb_json()) {
        let text = serde_json::to_string(&v).unwrap();
        let mut ours = Vec::new();
        json::write_jcs(&json::parse_str(&text).unwrap(), &mut ours);
        let theirs = serde_jcs::to_string(&v).unwrap();
        prop_assert_eq!(String::from_utf8(ours).unwrap(), theirs);
    }
}

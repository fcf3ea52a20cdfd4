//! A keyed engine (`Engine::with_hash_key`): names crafted against the
//! public hash neither evict a chosen user's profile nor hide a spraying
//! list in the distinct sketch (both found by review against the unkeyed
//! engine, which stays as it was: `Engine::new`).

mod common;

use logseal_anomaly::store::{hash_str, mix};
use logseal_anomaly::testkit::{DAY, T0, login, office_logins};
use logseal_anomaly::{Engine, Policy};

const KEY: u64 = 0x6b65_7965_645f_7465;

/// The bucket a profile key falls in at every size the ecs preset's
/// profile table grows through (16 buckets, doubling, up to its cap of
/// `Engine::profile_capacity` / 8 ways), under the public hash.
fn bucket_path(name: &str) -> Vec<u128> {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let max =
        *MAX.get_or_init(|| Engine::new(Policy::preset("ecs").unwrap()).profile_capacity() / 8);
    let mut sizes = vec![];
    let mut b = 16usize;
    loop {
        sizes.push(b as u128);
        if b >= max {
            break;
        }
        b = (b * 2).min(max);
    }
    let k = hash_str(0x5EED_0002, name).max(1);
    sizes
        .iter()
        .map(|&b| ((mix(k) as u128) * b) >> 64)
        .collect()
}

/// Alice's usual logins for 20 days, then (with `attack`) eight failed
/// logins by names that share her bucket at every table size, then alice
/// from a new country at 02:00: the detectors that speak up.
fn alice(engine: impl Fn() -> Engine, attack: bool) -> Vec<String> {
    let mut e = engine();
    for x in office_logins(20, "alice", "198.51.100.7") {
        e.score(&x, None);
    }
    let t = T0 + 20 * DAY + 2 * 3600;
    if attack {
        let target = bucket_path("alice");
        let names: Vec<String> = (0u64..)
            .map(|i| format!("u{i}"))
            .filter(|n| bucket_path(n) == target)
            .take(8)
            .collect();
        for (i, n) in names.iter().enumerate() {
            e.score(
                &login(t + i as i64, n, "192.0.2.1", "failure", "US", 40.0, -74.0),
                None,
            );
        }
    }
    let v = e.score(
        &login(
            t + 3600,
            "alice",
            "203.0.113.9",
            "success",
            "BR",
            52.5,
            13.4,
        ),
        None,
    );
    let mut d: Vec<String> = v.reasons.into_iter().map(|r| r.detector).collect();
    d.sort();
    d
}

#[test]
fn crafted_names_do_not_evict_a_profile_under_a_key() {
    let ecs = || Policy::preset("ecs").unwrap();
    let control = alice(|| Engine::with_hash_key(ecs(), KEY), false);
    assert!(control.contains(&"first_seen".to_string()), "{control:?}");
    assert_eq!(alice(|| Engine::with_hash_key(ecs(), KEY), true), control);
    // The unkeyed engine is what the review attacked: the same eight names
    // erase her profile there (so this test can tell the two apart).
    assert!(alice(|| Engine::new(ecs()), true).is_empty());
}

/// Failed logins from one address as each of `names`, a second apart: the
/// spraying findings.
fn spray(mut e: Engine, names: &[String]) -> usize {
    let t = T0 + 2 * DAY;
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            e.score(
                &login(t + i as i64, n, "192.0.2.66", "failure", "US", 40.0, -74.0),
                None,
            )
            .reasons
            .iter()
            .filter(|r| r.detector == "password_spraying")
            .count()
        })
        .sum()
}

#[test]
fn a_spraying_list_chosen_for_few_sketch_bits_is_seen_under_a_key() {
    // 200 names whose public hash puts them on 10 of the sketch's 256 bits.
    let chosen: Vec<String> = (0u64..)
        .map(|i| format!("user{i}"))
        .filter(|n| hash_str(7, n) & 255 < 10)
        .take(200)
        .collect();
    let p = || Policy::preset("default").unwrap();
    assert!(spray(Engine::with_hash_key(p(), KEY), &chosen) > 0);
    assert_eq!(spray(Engine::new(p()), &chosen), 0, "unkeyed: hidden");
}

#[test]
fn a_keyed_engine_gives_the_golden_verdicts_and_its_state_keeps_the_key() {
    // Far below its budget, placement changes nothing a verdict shows.
    let golden = include_str!("data/golden_verdicts.jsonl");
    let evs = common::stream();
    let mut a = Engine::with_hash_key(Policy::preset("ecs").unwrap(), KEY);
    let cut = evs.len() / 2;
    let mut out: Vec<String> = evs[..cut]
        .iter()
        .map(|x| a.score(x, None).to_json())
        .collect();
    // A snapshot restored into an unkeyed engine continues under the key.
    let snap = a.snapshot_plain();
    assert_eq!(&snap[18..26], &KEY.to_le_bytes());
    let mut b = Engine::new(Policy::preset("ecs").unwrap());
    b.restore(&snap).unwrap();
    assert_eq!(b.snapshot_plain(), snap);
    out.extend(evs[cut..].iter().map(|x| b.score(x, None).to_json()));
    assert_eq!(out.join("\n") + "\n", golden);
    let rest_a: Vec<String> = evs[cut..]
        .iter()
        .map(|x| a.score(x, None).to_json())
        .collect();
    assert_eq!(rest_a, out[cut..]);
    assert_eq!(a.snapshot_plain(), b.snapshot_plain());
}

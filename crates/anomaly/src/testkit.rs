//! A fixed, synthetic ECS event stream: the golden-verdict fixture. Used by the
//! tests and by the `logseal-golden` binary, so a wasm build can print the same
//! verdicts and be compared with `tests/data/golden_verdicts.jsonl`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Value, json};

pub const DAY: i64 = 86_400;
/// 2024-01-01T00:00:00Z
pub const T0: i64 = 1_704_067_200;

/// RFC 3339 UTC, seconds precision (`2024-01-01T00:00:00Z`).
pub fn iso(t: i64) -> String {
    let d = t.div_euclid(DAY);
    let s = t.rem_euclid(DAY);
    // civil from days (Hinnant)
    let z = d + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dd = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

pub fn login(
    t: i64,
    user: &str,
    ip: &str,
    outcome: &str,
    country: &str,
    lat: f64,
    lon: f64,
) -> Value {
    json!({
        "@timestamp": iso(t),
        "user": {"name": user, "roles": "staff"},
        "source": {"ip": ip, "geo": {"country_iso_code": country, "location": {"lat": lat, "lon": lon}}},
        "event": {"action": "login", "outcome": outcome, "category": ["authentication"]},
        "user_agent": {"original": "Mozilla/5.0"},
    })
}

/// Deterministic pseudo-random numbers (splitmix64), so the stream is fixed.
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `user`'s office routine: a successful login from `ip` (Germany) every
/// hour from 09:00 to 16:00 UTC for `days` days from [`T0`].
pub fn office_logins(days: i64, user: &str, ip: &str) -> Vec<Value> {
    let mut v = Vec::new();
    for d in 0..days {
        for h in 9..17 {
            v.push(login(
                T0 + d * DAY + h * 3600,
                user,
                ip,
                "success",
                "DE",
                52.5,
                13.4,
            ));
        }
    }
    v
}

/// 30 days of normal office-hours logins for 20 users, then attacks.
pub fn stream() -> Vec<Value> {
    let mut r = Rng(42);
    let mut ev = Vec::new();
    let users: Vec<String> = (0..20).map(|i| format!("user{i:02}")).collect();
    for day in 0..30 {
        for u in users.iter().chain(core::iter::once(&"alice".to_string())) {
            for _ in 0..3 {
                let t = T0 + day * DAY + 8 * 3600 + r.below(10 * 3600) as i64;
                let ip = format!("10.0.{}.{}", r.below(2), 10 + r.below(2));
                ev.push((t, login(t, u, &ip, "success", "DE", 52.52, 13.40)));
            }
        }
    }
    let a = T0 + 30 * DAY;
    // alice from a new IP and country at 03:12
    ev.push((
        a + 3 * 3600 + 12 * 60,
        login(
            a + 3 * 3600 + 12 * 60,
            "alice",
            "203.0.113.9",
            "success",
            "BR",
            -23.55,
            -46.63,
        ),
    ));
    // brute force against user03 that works
    for i in 0..7 {
        let t = a + 9 * 3600 + i * 20;
        ev.push((
            t,
            login(t, "user03", "198.51.100.7", "failure", "DE", 52.52, 13.40),
        ));
    }
    let t = a + 9 * 3600 + 200;
    ev.push((
        t,
        login(t, "user03", "198.51.100.7", "success", "DE", 52.52, 13.40),
    ));
    // password spraying: one IP, 30 user names
    for i in 0..30 {
        let t = a + 11 * 3600 + i * 5;
        ev.push((
            t,
            login(
                t,
                &format!("victim{i}"),
                "192.0.2.66",
                "failure",
                "NL",
                52.37,
                4.9,
            ),
        ));
    }
    ev.sort_by_key(|(t, _)| *t);
    ev.into_iter().map(|(_, v)| v).collect()
}

/// The throughput stream of `benches/engine.rs`, `examples/speed.rs` and
/// `logseal-pipeline`'s `examples/score_speed.rs`: `n` ECS events of `users`
/// users (xorshift-chosen), 4 actions, 5% failures, 10 events a second.
pub fn bench_events(n: usize, users: usize) -> Vec<Value> {
    let mut x: u64 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let r = next();
            let u = (r % users as u64) as usize;
            let action = ["login", "read", "write", "delete"][((r >> 16) % 4) as usize];
            let t = T0 as u64 + (i as u64) / 10; // 10 events per second
            json!({
                "@timestamp": t,
                "user": {"name": format!("user{u}"), "roles": if u.is_multiple_of(10) { "admin" } else { "staff" }},
                "source": {"ip": format!("10.{}.{}.{}", u % 7, (r >> 8) % 3, u % 250),
                           "geo": {"country_iso_code": "DE"}},
                "event": {"action": action,
                          "outcome": if (r >> 20) % 20 == 0 { "failure" } else { "success" }},
                "user_agent": {"original": "Mozilla/5.0"}
            })
        })
        .collect()
}

/// The OpenSSH fixture (`tests/fixtures/openssh_2k.ndjson`: Loghub's
/// OpenSSH_2k as ECS records), one value per line: the real records that
/// `benches/engine.rs` (`score_real`) and `examples/sshd_speed.rs` score.
///
/// # Panics
///
/// When the file is missing or a line is not JSON (a broken checkout).
#[cfg(feature = "std")]
pub fn openssh_records() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/openssh_2k.ndjson"
    );
    let text = std::fs::read_to_string(path).expect("tests/fixtures/openssh_2k.ndjson");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
        .collect()
}

/// User + system CPU seconds of this process, from `/proc/self/stat`
/// (Linux; 0 elsewhere): the throughput examples report events per
/// CPU-second so that other load on the machine does not count.
#[cfg(feature = "std")]
pub fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((ut + st) / 100.0)
        })
        .unwrap_or(0.0)
}

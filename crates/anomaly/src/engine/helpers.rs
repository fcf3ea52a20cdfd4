//! Small helpers shared by the detectors: bucket indices, durations,
//! hours and dates as reasons print them.

use super::*;

pub(super) fn bidx(t: f64, width: f64) -> u32 {
    let x = libm::floor(t / width);
    if x.is_nan() || x < 0.0 {
        0
    } else if x > u32::MAX as f64 {
        u32::MAX
    } else {
        x as u32
    }
}

pub(super) fn dur(secs: f64) -> String {
    let s = if secs.is_finite() {
        libm::round(secs.max(0.0)) as u64
    } else {
        0
    };
    if s > 0 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s > 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s > 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// `v` long enough to index `i`: its capacity doubles, but not past `max`
/// (the templates the budget reserved for), where a doubling would
/// overdraw the budget.
pub(super) fn grow_counts(v: &mut Vec<u32>, i: usize, max: usize) {
    if v.len() > i {
        return;
    }
    if i >= v.capacity() {
        let want = (v.capacity() * 2).max(16).min(max).max(i + 1);
        v.reserve_exact(want - v.len());
    }
    v.resize(i + 1, 0);
}

/// Hours of the day as runs, each from its first hour to the end of its
/// last, a run over midnight as one ("22-02"), several apart ("08-10,
/// 20-22"), all day "00-24", none "-". Before December 2026 the text gave
/// the first to the last usual hour, so a night shift's hours read "00-24"
/// beside the hour flagged (found by review).
pub(super) fn hour_runs(usual: &[bool; 24]) -> String {
    if usual.iter().all(|&u| u) {
        return "00-24".into();
    }
    let Some(gap) = usual.iter().position(|&u| !u) else {
        return "-".into();
    };
    // From the hour after a gap round the clock: no run is cut at its start.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for k in 1..=24 {
        let h = (gap + k) % 24;
        match (usual[h], runs.last_mut()) {
            (true, Some((a, len))) if (*a + *len) % 24 == h => *len += 1,
            (true, _) => runs.push((h, 1)),
            _ => {}
        }
    }
    if runs.is_empty() {
        return "-".into();
    }
    runs.sort_unstable();
    let parts: Vec<String> = runs
        .iter()
        .map(|&(a, len)| {
            let end = a + len;
            let end = if end > 24 { end - 24 } else { end };
            format!("{a:02}-{end:02}")
        })
        .collect();
    parts.join(", ")
}

/// A time span for a reason's text, rounded down (so that it claims no
/// more than it knows) to whole days from two days on, whole hours from
/// two hours on, else whole minutes; `None` under a minute.
pub(super) fn span(secs: f64) -> Option<String> {
    if secs.is_nan() || secs < 60.0 {
        return None;
    }
    let m = (secs / 60.0) as u64;
    Some(if m >= 2 * 1440 {
        format!("{} days", m / 1440)
    } else if m >= 120 {
        format!("{} hours", m / 60)
    } else if m == 1 {
        "1 minute".into()
    } else {
        format!("{m} minutes")
    })
}

/// The Poisson mean under which exceeding `threshold` has probability `tail`
/// (so a rule's threshold is its 1 - tail quantile).
pub(super) fn lambda_for(threshold: u32, tail: f64) -> f64 {
    let (mut lo, mut hi) = (1e-6, threshold as f64 + 1.0);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if num::poisson_sf_ge(threshold as f64 + 1.0, mid) > tail {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    lo
}

pub(super) fn hour_of(t: f64) -> usize {
    let d = libm::floor(t / 86_400.0);
    let s = t - d * 86_400.0;
    ((s / 3600.0) as usize).min(23)
}

pub(super) fn dow_of(t: f64) -> usize {
    // 1970-01-01 was a Thursday; 0 = Monday
    let d = libm::floor(t / 86_400.0) as i64;
    ((d + 3).rem_euclid(7)) as usize
}

pub(super) fn hhmm(t: f64) -> String {
    let d = libm::floor(t / 86_400.0);
    let s = (t - d * 86_400.0) as u64;
    format!("{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

/// A closed bucket at `bt` judged on an event at `t` of another UTC day:
/// its reason names the date, as the finding lands on the series' next
/// event, which may be the next morning's ("error rate 90% at 16:00 UTC"
/// read as a time in that record's future: found by review).
pub(super) fn other_day(bt: f64, t: f64) -> bool {
    libm::floor(bt / 86_400.0) != libm::floor(t / 86_400.0)
}

/// `hh:mm`, with the date before it (`2024-01-01 08:00`) when `with_date`.
pub(super) fn when(t: f64, with_date: bool) -> String {
    if !with_date || !t.is_finite() {
        return hhmm(t);
    }
    let (y, m, d) = crate::time::civil_from_days(libm::floor(t / 86_400.0) as i64);
    format!("{y:04}-{m:02}-{d:02} {}", hhmm(t))
}

pub(super) fn year_of(t: f64) -> i64 {
    // (event times are clamped to `0..=1e11`; beyond about 8e23 the year's
    // days overflow and the search below never ends)
    let t = t.clamp(-1.0e12, 1.0e12);
    let mut y = 1970 + (t / 31_556_952.0) as i64;
    while days_from_civil(y, 1, 1) as f64 * 86_400.0 > t {
        y -= 1;
    }
    while days_from_civil(y + 1, 1, 1) as f64 * 86_400.0 <= t {
        y += 1;
    }
    y
}

pub(super) fn clip(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut i = n;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    format!("{}…", &s[..i])
}

pub(super) fn thousands(n: u64) -> String {
    let s = format!("{n}");
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// A `suppress` pattern: `*` matches any run of characters (none too), the
/// rest is literal (`svc-*`, `*@example.com`). Before December 2026 only a
/// whole `*` was a wildcard, and `svc-*` was compared as text, suppressing
/// nothing without a word (found by review).
pub(crate) fn glob(pat: &str, text: &str) -> bool {
    let Some((first, rest_pat)) = pat.split_once('*') else {
        return pat == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let (mid, last) = match rest_pat.rsplit_once('*') {
        Some((mid, last)) => (mid, last),
        None => ("", rest_pat),
    };
    for part in mid.split('*').filter(|p| !p.is_empty()) {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

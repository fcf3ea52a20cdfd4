//! Timestamp parsing without a clock or a date crate (UTC, proleptic Gregorian).

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (the inverse of
/// [`days_from_civil`]; Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parse a timestamp string into seconds since the Unix epoch:
/// RFC 3339 / ISO 8601 (`2024-05-01T12:00:00.5Z`, `+02:00`, space separator),
/// BGL's `2005-06-03-15.42.50.675872`, a bare number (s, ms, us or ns by magnitude),
/// or syslog `Dec 10 06:55:46` (year taken from `default_year`; a `Feb 29`
/// in a year without one is the latest leap year's before it). A day the
/// month does not have (`Apr 31`, `2023-02-30`) gives `None`.
pub fn parse_time_secs(s: &str, default_year: i64) -> Option<f64> {
    parse_time_secs_with(s, |_| default_year, true)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// [`parse_time_secs`] with the default year worked out (from the month)
/// only for a syslog timestamp, the one form that needs it.
///
/// A syslog `Feb 29` in a default year without one: when that year is a
/// real one (`leap_day_back`: the caller's or the host's), the latest leap
/// year's at or before it (a leap day read in March of the year after is
/// last year's); when it is only the year a stream with no year was given
/// to run in, March 1st of it (a day late, where a leap year's would put
/// the stream years back). A day the month does not have (`Apr 31`, ISO
/// `2023-02-30`) is not a date.
pub(crate) fn parse_time_secs_with(
    s: &str,
    default_year: impl FnOnce(u32) -> i64,
    leap_day_back: bool,
) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(v) = s.parse::<f64>() {
        return number_secs(v);
    }
    let b = s.as_bytes();
    if b.len() >= 15 && b[3] == b' ' && MONTHS.contains(&&s[..3]) {
        let mon = MONTHS.iter().position(|m| *m == &s[..3])? as u32 + 1;
        let rest = s[4..].trim_start();
        let rb = rest.as_bytes();
        let sp = rest.find(' ')?;
        let day = num(&rb[..sp])?;
        let t = &rb[sp + 1..];
        if t.len() < 8 {
            return None;
        }
        let (h, mi, se) = (num(&t[0..2])?, num(&t[3..5])?, num(&t[6..8])?);
        // 2000 has every day a month can have
        if day == 0 || day > days_in_month(2000, mon) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut y = default_year(mon);
        while leap_day_back && day > days_in_month(y, mon) {
            y -= 1;
        }
        let days = days_from_civil(y, mon, day);
        return Some((days * 86_400 + (h * 3600 + mi * 60 + se) as i64) as f64);
    }
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = num(&b[0..4])? as i64;
    let mo = num(&b[5..7])?;
    let d = num(&b[8..10])?;
    let sep = b[10];
    if !(sep == b'T' || sep == b't' || sep == b' ' || sep == b'-') {
        return None;
    }
    let h = num(&b[11..13])?;
    let mi = num(&b[14..16])?;
    let se = num(&b[17..19])?;
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60
    {
        return None;
    }
    let mut secs = (days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + se) as i64) as f64;
    let mut i = 19;
    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &b[st..i.min(st + 9)];
        if let Some(f) = num(digits) {
            secs += f as f64 / libm::pow(10.0, digits.len() as f64);
        }
    }
    if i < b.len() {
        match b[i] {
            b'Z' | b'z' => {}
            b'+' | b'-' if b.len() >= i + 6 => {
                let oh = num(&b[i + 1..i + 3])? as f64;
                let om = num(&b[i + 4..i + 6])? as f64;
                let off = oh * 3600.0 + om * 60.0;
                secs -= if b[i] == b'+' { off } else { -off };
            }
            _ => return None,
        }
    }
    Some(secs)
}

/// Interpret a bare number as seconds, milliseconds, microseconds or nanoseconds.
pub fn number_secs(v: f64) -> Option<f64> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(if v >= 1e17 {
        v / 1e9
    } else if v >= 1e14 {
        v / 1e6
    } else if v >= 1e11 {
        v / 1e3
    } else {
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses() {
        assert_eq!(
            parse_time_secs("1970-01-02T00:00:00Z", 1970),
            Some(86_400.0)
        );
        assert_eq!(
            parse_time_secs("2024-03-01T00:00:00+01:00", 1970),
            Some(1_709_247_600.0)
        );
        assert_eq!(
            parse_time_secs("2005-06-03-15.42.50.675872", 1970).map(|x| x as i64),
            None.or(Some(1_117_813_370))
        );
        assert_eq!(parse_time_secs("Jan  1 00:00:10", 1970), Some(10.0));
        assert_eq!(
            parse_time_secs("1700000000000", 1970),
            Some(1_700_000_000.0)
        );
        assert_eq!(parse_time_secs("garbage", 1970), None);
    }

    #[test]
    fn civil_from_days_inverts_days_from_civil() {
        for z in (-800_000..800_000).step_by(7) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn days_a_month_does_not_have_are_not_dates() {
        let day = |y, m, d| Some((days_from_civil(y, m, d) * 86_400) as f64);
        // a leap day in a year without one is the latest leap year's
        assert_eq!(parse_time_secs("Feb 29 00:00:00", 2024), day(2024, 2, 29));
        assert_eq!(parse_time_secs("Feb 29 00:00:00", 2025), day(2024, 2, 29));
        assert_eq!(parse_time_secs("Feb 29 00:00:00", 2027), day(2024, 2, 29));
        // 2100 is not a leap year, 2000 is
        assert_eq!(parse_time_secs("Feb 29 00:00:00", 2100), day(2096, 2, 29));
        assert_eq!(parse_time_secs("Feb 29 00:00:00", 2000), day(2000, 2, 29));
        assert_eq!(parse_time_secs("Feb 30 00:00:00", 2024), None);
        assert_eq!(parse_time_secs("Apr 31 00:00:00", 2024), None);
        assert_eq!(parse_time_secs("Dec 31 00:00:00", 2024), day(2024, 12, 31));
        assert_eq!(parse_time_secs("2023-02-29T00:00:00Z", 1970), None);
        assert_eq!(parse_time_secs("2023-06-31T00:00:00Z", 1970), None);
        assert_eq!(
            parse_time_secs("2024-02-29T00:00:00Z", 1970),
            day(2024, 2, 29)
        );
    }
}

//! The audit record of one request, and decoding of what the host gives.
//!
//! Property encodings differ by host: Envoy sends integers as 8-byte
//! little-endian values and times and durations in nanoseconds;
//! ngx_wasm_module sends decimal text, durations and times in seconds.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use logseal_core::json::{self, Value};

use crate::config::PropertyEncoding;

fn is_text(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b' '))
}

fn le_i64(b: &[u8]) -> Option<i64> {
    let a: [u8; 8] = b.try_into().ok()?;
    Some(i64::from_le_bytes(a))
}

/// Parse decimal text `123`, `-4`, `0.001` into an integer scaled by `scale`
/// (1 for plain integers, 1e9 for seconds to nanoseconds).
fn text_scaled(b: &[u8], scale: i64) -> Option<i64> {
    let s = core::str::from_utf8(b).ok()?.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|c| c.is_ascii_digit()) || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for c in int.bytes() {
        v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    v = v.checked_mul(scale)?;
    let mut unit = scale;
    for c in frac.bytes() {
        unit /= 10;
        if unit == 0 {
            break;
        }
        v = v.checked_add(i64::from(c - b'0') * unit)?;
    }
    Some(if neg { -v } else { v })
}

/// An integer property (status, sizes, ports).
pub fn decode_int(b: &[u8], enc: PropertyEncoding) -> Option<i64> {
    match enc {
        PropertyEncoding::Envoy => le_i64(b),
        PropertyEncoding::Text => text_scaled(b, 1),
        PropertyEncoding::Auto if b.len() == 8 && !is_text(b) => le_i64(b),
        PropertyEncoding::Auto => text_scaled(b, 1),
    }
}

/// A time or duration property, in nanoseconds (text form: seconds).
pub fn decode_nanos(b: &[u8], enc: PropertyEncoding) -> Option<i64> {
    match enc {
        PropertyEncoding::Envoy => le_i64(b),
        PropertyEncoding::Text => text_scaled(b, 1_000_000_000),
        PropertyEncoding::Auto if b.len() == 8 && !is_text(b) => le_i64(b),
        PropertyEncoding::Auto => text_scaled(b, 1_000_000_000),
    }
}

/// A string property (lossy UTF-8).
pub fn decode_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `10.0.0.1:5555` → (`10.0.0.1`, 5555); `[::1]:80` → (`::1`, 80); no port → (addr, None).
pub fn split_host_port(addr: &str) -> (&str, Option<u16>) {
    if let Some(rest) = addr.strip_prefix('[') {
        if let Some((h, p)) = rest.split_once("]:") {
            return (h, p.parse().ok());
        }
        return (rest.trim_end_matches(']'), None);
    }
    match addr.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
        _ => (addr, None),
    }
}

/// The principal named by claim `claim` of a JWT in a header value
/// (`Bearer ` prefix optional). The payload is decoded, NOT verified: the
/// proxy's JWT filter (or the upstream) must check signatures; this only
/// records who the token claims to be.
pub fn jwt_claim(header: &str, claim: &str) -> Option<String> {
    let tok = header.trim();
    let tok = tok
        .strip_prefix("Bearer ")
        .or_else(|| tok.strip_prefix("bearer "))
        .unwrap_or(tok)
        .trim();
    let mut parts = tok.split('.');
    let (_h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if p.len() > 16 * 1024 {
        return None;
    }
    let payload = URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok()?;
    let v = json::parse(&payload).ok()?;
    match v.get(claim)? {
        Value::Str(s) if !s.is_empty() => Some(s.to_string()),
        Value::Num(n) => Some(alloc::format!("{}", n.as_f64())),
        _ => None,
    }
}

/// `2026-11-23T13:34:33.123456789Z` from nanoseconds since the Unix epoch.
pub fn rfc3339_ns(t: i64) -> String {
    let secs = t.div_euclid(1_000_000_000);
    let ns = t.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    alloc::format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ns:09}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// What is known of one request when it is logged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Request start, ns since the Unix epoch.
    pub start_ns: Option<i64>,
    /// Duration, ns (absent when the host does not know it).
    pub duration_ns: Option<i64>,
    /// `:method`.
    pub method: Option<String>,
    /// `:authority`.
    pub authority: Option<String>,
    /// `:path`.
    pub path: Option<String>,
    /// Response status; 0 when no response was sent (client abort).
    pub status: Option<i64>,
    /// Envoy's response code details (`via_upstream`, `downstream_remote_disconnect`...).
    pub status_details: Option<String>,
    /// Request body bytes received.
    pub bytes_received: Option<i64>,
    /// Response body bytes sent.
    pub bytes_sent: Option<i64>,
    /// Downstream address, `ip:port` or `ip`.
    pub source: Option<String>,
    /// `x-request-id`.
    pub request_id: Option<String>,
    /// `user-agent`.
    pub user_agent: Option<String>,
    /// The principal (configured header or JWT claim).
    pub principal: Option<String>,
    /// Where the principal came from (`header`, `jwt`).
    pub principal_from: Option<&'static str>,
    /// Upstream cluster.
    pub cluster: Option<String>,
    /// Route name.
    pub route: Option<String>,
    /// Whether this filter answered the request itself (enforce mode).
    pub blocked_reason: Option<String>,
}

impl RequestInfo {
    /// The record: one JSON object (member names follow the `envoy` anomaly preset).
    pub fn to_json(&self) -> Vec<u8> {
        let mut w = W {
            o: Vec::with_capacity(512),
            first: true,
        };
        w.o.push(b'{');
        if let Some(t) = self.start_ns {
            w.key("start_time");
            json::write_string(&rfc3339_ns(t), &mut w.o);
        }
        w.str("method", &self.method);
        w.str("authority", &self.authority);
        w.str("path", &self.path);
        w.num("response_code", Some(self.status.unwrap_or(0)));
        w.str("response_code_details", &self.status_details);
        w.num("duration_us", self.duration_ns.map(|d| d / 1000));
        w.num("bytes_received", self.bytes_received);
        w.num("bytes_sent", self.bytes_sent);
        if let Some(src) = &self.source {
            let (ip, port) = split_host_port(src);
            w.key("downstream_remote_address");
            json::write_string(ip, &mut w.o);
            w.num("downstream_remote_port", port.map(i64::from));
        }
        w.str("request_id", &self.request_id);
        w.str("user_agent", &self.user_agent);
        w.str("user", &self.principal);
        if let Some(f) = self.principal_from {
            w.key("user_from");
            json::write_string(f, &mut w.o);
        }
        w.str("upstream_cluster", &self.cluster);
        w.str("route_name", &self.route);
        if self.status.unwrap_or(0) == 0 {
            w.key("aborted");
            w.o.extend_from_slice(b"true");
        }
        w.str("blocked", &self.blocked_reason);
        w.o.push(b'}');
        w.o
    }

    /// The source IP (no port).
    pub fn source_ip(&self) -> Option<&str> {
        self.source.as_deref().map(|s| split_host_port(s).0)
    }
}

/// A request seen as an anomaly-engine event: the members of
/// [`RequestInfo::to_json`] without writing and re-parsing the JSON (tested
/// equal to the parsed record, member by member).
pub struct RequestEvent<'a> {
    info: &'a RequestInfo,
    start_time: Option<String>,
}

impl<'a> RequestEvent<'a> {
    /// The event of `info`.
    pub fn new(info: &'a RequestInfo) -> Self {
        RequestEvent {
            info,
            start_time: info.start_ns.map(rfc3339_ns),
        }
    }
}

impl<'a> logseal_anomaly::Event for RequestEvent<'a> {
    fn field(&self, path: &str) -> Option<logseal_anomaly::FieldValue<'_>> {
        use logseal_anomaly::FieldValue::{Bool, Num, Str};
        let i = self.info;
        let s = |v: &'a Option<String>| v.as_deref().map(Str);
        let n = |v: Option<i64>| v.map(|x| Num(x as f64));
        let status = i.status.unwrap_or(0);
        match path {
            "start_time" => self.start_time.as_deref().map(Str),
            "method" => s(&i.method),
            "authority" => s(&i.authority),
            "path" => s(&i.path),
            "response_code" => Some(Num(status as f64)),
            "response_code_details" => s(&i.status_details),
            "duration_us" => n(i.duration_ns.map(|d| d / 1000)),
            "bytes_received" => n(i.bytes_received),
            "bytes_sent" => n(i.bytes_sent),
            "downstream_remote_address" => i.source.as_deref().map(|a| Str(split_host_port(a).0)),
            "downstream_remote_port" => i
                .source
                .as_deref()
                .and_then(|a| split_host_port(a).1)
                .map(|p| Num(f64::from(p))),
            "request_id" => s(&i.request_id),
            "user_agent" => s(&i.user_agent),
            "user" => s(&i.principal),
            "user_from" => i.principal_from.map(Str),
            "upstream_cluster" => s(&i.cluster),
            "route_name" => s(&i.route),
            "aborted" => (status == 0).then_some(Bool(true)),
            "blocked" => s(&i.blocked_reason),
            _ => None,
        }
    }
}

struct W {
    o: Vec<u8>,
    first: bool,
}

impl W {
    fn key(&mut self, k: &str) {
        if !self.first {
            self.o.push(b',');
        }
        self.first = false;
        json::write_string(k, &mut self.o);
        self.o.push(b':');
    }
    fn str(&mut self, k: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.key(k);
            json::write_string(v, &mut self.o);
        }
    }
    fn num(&mut self, k: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.key(k);
            self.o.extend_from_slice(v.to_string().as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_event_equals_the_parsed_record() {
        use logseal_anomaly::Event;
        let full = RequestInfo {
            start_ns: Some(1_795_000_000_123_456_789),
            duration_ns: Some(1_234_567),
            method: Some("POST".into()),
            authority: Some("api.example".into()),
            path: Some("/v1/x?q=\"a\"\u{e9}".into()),
            status: Some(401),
            status_details: Some("via_upstream".into()),
            bytes_received: Some(10),
            bytes_sent: Some(0),
            source: Some("[2001:db8::1]:51000".into()),
            request_id: Some("r-1".into()),
            user_agent: Some("curl/8".into()),
            principal: Some("alice".into()),
            principal_from: Some("jwt"),
            cluster: Some("backend".into()),
            route: Some("r1".into()),
            blocked_reason: Some("risk".into()),
        };
        let aborted = RequestInfo {
            source: Some("10.0.0.1".into()),
            status: Some(0),
            ..RequestInfo::default()
        };
        let keys = [
            "start_time",
            "method",
            "authority",
            "path",
            "response_code",
            "response_code_details",
            "duration_us",
            "bytes_received",
            "bytes_sent",
            "downstream_remote_address",
            "downstream_remote_port",
            "request_id",
            "user_agent",
            "user",
            "user_from",
            "upstream_cluster",
            "route_name",
            "aborted",
            "blocked",
            "nope",
            "user.name",
        ];
        for info in [full, aborted, RequestInfo::default()] {
            let json = info.to_json();
            let Ok(json::Value::Obj(m)) = json::parse(&json) else {
                panic!("not an object")
            };
            let tree = logseal_pipeline::Members::new(&m);
            let ev = RequestEvent::new(&info);
            for k in keys {
                assert_eq!(
                    ev.field(k),
                    tree.field(k),
                    "{k} of {}",
                    String::from_utf8_lossy(&json)
                );
            }
            // And no member is missed.
            for (k, _) in &m {
                assert!(keys.contains(&k.as_ref()), "{k} not covered");
            }
        }
    }

    #[test]
    fn encodings() {
        let e = PropertyEncoding::Auto;
        assert_eq!(decode_int(&200i64.to_le_bytes(), e), Some(200));
        assert_eq!(decode_int(b"200", e), Some(200));
        assert_eq!(decode_int(b"12345678", e), Some(12_345_678));
        assert_eq!(decode_nanos(b"0.001", e), Some(1_000_000));
        assert_eq!(
            decode_nanos(b"1700000000.5", e),
            Some(1_700_000_000_500_000_000)
        );
        let t = 1_795_439_677_123_456_789i64;
        assert_eq!(decode_nanos(&t.to_le_bytes(), e), Some(t));
        assert_eq!(decode_int(b"x", e), None);
    }

    #[test]
    fn addresses_and_time() {
        assert_eq!(split_host_port("10.0.0.1:5555"), ("10.0.0.1", Some(5555)));
        assert_eq!(split_host_port("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(
            rfc3339_ns(1_795_439_677_000_000_001),
            "2026-11-23T13:14:37.000000001Z"
        );
    }

    #[test]
    fn jwt() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","iss":"x"}"#);
        let h = alloc::format!("Bearer eyJhbGciOiJub25lIn0.{payload}.sig");
        assert_eq!(jwt_claim(&h, "sub").as_deref(), Some("alice"));
        assert_eq!(jwt_claim(&h, "nope"), None);
        assert_eq!(jwt_claim("Bearer garbage", "sub"), None);
    }

    #[test]
    fn record_json_parses() {
        let r = RequestInfo {
            start_ns: Some(1),
            method: Some("GET".into()),
            source: Some("1.2.3.4:9".into()),
            ..Default::default()
        };
        let j = r.to_json();
        let v = json::parse(&j).unwrap();
        assert_eq!(
            v.get("downstream_remote_address").and_then(Value::as_str),
            Some("1.2.3.4")
        );
        assert_eq!(v.get("aborted"), Some(&Value::Bool(true)));
    }
}

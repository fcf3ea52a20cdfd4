//! The filter's configuration: the shared logseal plugin configuration
//! (`logseal_pipeline::Config`: key, stream, checkpoints, policy) plus one
//! member, `"envoy"`, with what only the proxy filter needs.
//!
//! ```json
//! {
//!   "key": "PRIVATE+KEY+edge.example.com+0a1b2c3d+AU...",
//!   "stream": "edge.example.com/envoy",
//!   "checkpoint_interval_secs": 60,
//!   "policy": "envoy",
//!   "envoy": {
//!     "chain": "shared",
//!     "collector": { "cluster": "logseal_collector", "authority": "collector", "path": "/" },
//!     "principal_header": "x-user",
//!     "mode": "enforce",
//!     "enforce": { "threshold": 0.8, "status": 403 }
//!   }
//! }
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use logseal_core::json::{self, Value};
use logseal_core::{SealConfig, SignerKey};
use logseal_pipeline::Config;

/// Where the chain head lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainMode {
    /// One chain per proxy: the head is in shared data, appended with CAS.
    Shared,
    /// One chain per worker VM (stream `<stream>/worker-<nonce>`), no shared data.
    Worker,
}

/// What a risky principal or source gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Score and annotate only.
    Monitor,
    /// Also answer requests of a blocked principal or source locally.
    Enforce,
}

/// How the host encodes integer, time and duration properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyEncoding {
    /// Guess per value (8 bytes that are not ASCII text: Envoy's binary form).
    Auto,
    /// Envoy: 8-byte little-endian integers, times and durations in nanoseconds.
    Envoy,
    /// ngx_wasm_module: decimal text, durations and times in seconds.
    Text,
}

/// Where the sealed records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collector {
    /// Envoy cluster name (nginx: `host:port`).
    pub cluster: String,
    /// `:authority` of the callout.
    pub authority: String,
    /// `:path` of the callout.
    pub path: String,
    /// Callout timeout.
    pub timeout_ms: u64,
    /// Extra request headers (for example an authorization token).
    pub headers: Vec<(String, String)>,
}

/// Enforce-mode knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct Enforce {
    /// Block a principal or source when a verdict naming it scores at least this.
    pub threshold: f64,
    /// Status of the local answer.
    pub status: u32,
    /// Header carrying the reason.
    pub reason_header: String,
    /// How long a block lasts.
    pub block_secs: u64,
}

/// The `"envoy"` member.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvoyConfig {
    /// Where the chain head lives.
    pub chain: ChainMode,
    /// Prefix of the shared-data keys (head, blocks).
    pub shared_key: String,
    /// Sealed `tag`: a fixed text, or `$cluster` / `$route` (default `$cluster`).
    pub tag: Option<String>,
    /// Principal from this request header.
    pub principal_header: Option<String>,
    /// Principal from a JWT in this header (`Bearer` prefix optional); payload
    /// decoded, signature NOT verified.
    pub jwt_header: Option<String>,
    /// The JWT claim naming the principal.
    pub jwt_claim: String,
    /// Monitor or enforce.
    pub mode: Mode,
    /// Enforce-mode knobs.
    pub enforce: Enforce,
    /// Collector; `None`: sealed records are only written to the proxy log.
    pub collector: Option<Collector>,
    /// Flush period (`on_tick`).
    pub flush_ms: u64,
    /// Most records in one callout.
    pub batch_max_records: usize,
    /// Most bytes in one callout (a record is never split).
    pub batch_max_bytes: usize,
    /// Bound of the per-worker queue, in records (the batch in flight included).
    pub queue_max_records: usize,
    /// Property encoding.
    pub properties: PropertyEncoding,
}

impl Default for EnvoyConfig {
    fn default() -> Self {
        EnvoyConfig {
            chain: ChainMode::Shared,
            shared_key: "logseal".to_string(),
            tag: Some("$cluster".to_string()),
            principal_header: None,
            jwt_header: None,
            jwt_claim: "sub".to_string(),
            mode: Mode::Monitor,
            enforce: Enforce {
                threshold: 0.8,
                status: 403,
                reason_header: "x-logseal-reason".to_string(),
                block_secs: 300,
            },
            collector: None,
            flush_ms: 1000,
            batch_max_records: 500,
            batch_max_bytes: 1 << 20,
            queue_max_records: 10_000,
            properties: PropertyEncoding::Auto,
        }
    }
}

/// The whole filter configuration, validated.
#[derive(Clone, Debug)]
pub struct FilterConfig {
    /// The shared plugin configuration.
    pub shared: Config,
    /// The parsed signing key (parsed once per VM; cloned per seal).
    pub key: SignerKey,
    /// Seal configuration (the epoch is filled per chain).
    pub seal: SealConfig,
    /// Proxy-only settings.
    pub envoy: EnvoyConfig,
}

/// A configuration problem: which member, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted member path (`""`: the whole configuration).
    pub key: String,
    /// Why.
    pub why: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "logseal configuration: {}", self.why)
        } else {
            write!(
                f,
                "logseal configuration member {:?}: {}",
                self.key, self.why
            )
        }
    }
}

fn err(key: &str, why: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        why: why.into(),
    }
}

const ENVOY_KNOWN: &[&str] = &[
    "chain",
    "shared_key",
    "tag",
    "principal_header",
    "jwt_header",
    "jwt_claim",
    "mode",
    "enforce",
    "collector",
    "flush_ms",
    "batch_max_records",
    "batch_max_bytes",
    "queue_max_records",
    "properties",
];

fn members<'v, 'a>(
    v: &'v Value<'a>,
    key: &str,
    known: &[&str],
) -> Result<&'v [(alloc::borrow::Cow<'a, str>, Value<'a>)], ConfigError> {
    let Value::Obj(m) = v else {
        return Err(err(key, "must be a JSON object"));
    };
    if let Some((k, _)) = m.iter().find(|(k, _)| !known.contains(&k.as_ref())) {
        return Err(err(
            &format!("{key}.{k}"),
            format!("unknown member (known: {})", known.join(", ")),
        ));
    }
    Ok(m)
}

fn get_str(v: &Value<'_>, parent: &str, k: &str) -> Result<Option<String>, ConfigError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) if !s.is_empty() => Ok(Some(s.to_string())),
        Some(_) => Err(err(&format!("{parent}.{k}"), "must be a non-empty string")),
    }
}

fn get_u64(v: &Value<'_>, parent: &str, k: &str, d: u64, min: u64) -> Result<u64, ConfigError> {
    match v.get(k) {
        None => Ok(d),
        Some(x) => match x.as_u64() {
            Some(n) if n >= min => Ok(n),
            _ => Err(err(
                &format!("{parent}.{k}"),
                format!("must be an integer of at least {min}"),
            )),
        },
    }
}

fn header_name(v: &Value<'_>, parent: &str, k: &str) -> Result<Option<String>, ConfigError> {
    let h = get_str(v, parent, k)?;
    if let Some(h) = &h
        && !h
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
    {
        return Err(err(&format!("{parent}.{k}"), "not a header name"));
    }
    Ok(h.map(|h| h.to_ascii_lowercase()))
}

impl FilterConfig {
    /// Parse and validate the plugin `configuration` text.
    pub fn parse(text: &str) -> Result<FilterConfig, ConfigError> {
        let v = json::parse_str(text.trim()).map_err(|e| err("", format!("not JSON: {e}")))?;
        let Value::Obj(all) = &v else {
            return Err(err("", "must be a JSON object"));
        };
        // The shared members go to the shared parser unchanged.
        let rest: Vec<_> = all.iter().filter(|(k, _)| k != "envoy").cloned().collect();
        let mut rest_text = Vec::new();
        json::write_jcs(&Value::Obj(rest), &mut rest_text);
        let shared =
            Config::parse(&String::from_utf8(rest_text).unwrap_or_default()).map_err(|e| {
                ConfigError {
                    key: e.key,
                    why: e.why,
                }
            })?;
        let Some(key_text) = &shared.key else {
            return Err(err(
                "key_file",
                "a proxy-wasm filter cannot read files: give the signing key inline as \"key\"",
            ));
        };
        let key = SignerKey::parse(key_text).map_err(|e| err("key", format!("{e}")))?;
        let stream = shared.stream_for(key.name(), None);
        let mut seal = SealConfig::new(&stream, shared.epoch.as_deref().unwrap_or("pending"));
        seal.checkpoint_every = shared.checkpoint_every;
        seal.checkpoint_interval_ns = shared
            .checkpoint_interval_secs
            .saturating_mul(1_000_000_000);
        seal.max_record_bytes = shared.max_record_bytes;

        let mut e = EnvoyConfig::default();
        if let Some(ev) = v.get("envoy") {
            let p = "envoy";
            members(ev, p, ENVOY_KNOWN)?;
            if let Some(c) = get_str(ev, p, "chain")? {
                e.chain = match c.as_str() {
                    "shared" => ChainMode::Shared,
                    "worker" => ChainMode::Worker,
                    _ => return Err(err("envoy.chain", "\"shared\" or \"worker\"")),
                };
            }
            if let Some(k) = get_str(ev, p, "shared_key")? {
                if k.bytes()
                    .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
                {
                    return Err(err("envoy.shared_key", "no whitespace"));
                }
                e.shared_key = k;
            }
            match ev.get("tag") {
                None => {}
                Some(Value::Null) => e.tag = None,
                Some(Value::Str(t)) if !t.is_empty() => e.tag = Some(t.to_string()),
                Some(_) => return Err(err("envoy.tag", "a string or null")),
            }
            e.principal_header = header_name(ev, p, "principal_header")?;
            e.jwt_header = header_name(ev, p, "jwt_header")?;
            if let Some(c) = get_str(ev, p, "jwt_claim")? {
                e.jwt_claim = c;
            }
            if let Some(m) = get_str(ev, p, "mode")? {
                e.mode = match m.as_str() {
                    "monitor" => Mode::Monitor,
                    "enforce" => Mode::Enforce,
                    _ => return Err(err("envoy.mode", "\"monitor\" or \"enforce\"")),
                };
            }
            if let Some(en) = ev.get("enforce") {
                let p = "envoy.enforce";
                members(
                    en,
                    p,
                    &["threshold", "status", "reason_header", "block_secs"],
                )?;
                if let Some(t) = en.get("threshold") {
                    let t = match t {
                        Value::Num(n) => n.as_f64(),
                        _ => f64::NAN,
                    };
                    if !(t > 0.0 && t <= 1.0) {
                        return Err(err("envoy.enforce.threshold", "a number in (0, 1]"));
                    }
                    e.enforce.threshold = t;
                }
                let st = get_u64(en, p, "status", 403, 200)?;
                if st > 599 {
                    return Err(err("envoy.enforce.status", "an HTTP status (200-599)"));
                }
                e.enforce.status = st as u32;
                if let Some(h) = header_name(en, p, "reason_header")? {
                    e.enforce.reason_header = h;
                }
                e.enforce.block_secs = get_u64(en, p, "block_secs", 300, 1)?;
            }
            if let Some(c) = ev.get("collector") {
                let p = "envoy.collector";
                members(
                    c,
                    p,
                    &["cluster", "authority", "path", "timeout_ms", "headers"],
                )?;
                let cluster = get_str(c, p, "cluster")?.ok_or_else(|| {
                    err(
                        "envoy.collector.cluster",
                        "required (an Envoy cluster name)",
                    )
                })?;
                let path = get_str(c, p, "path")?.unwrap_or_else(|| "/".to_string());
                if !path.starts_with('/') {
                    return Err(err("envoy.collector.path", "must start with /"));
                }
                let mut headers = Vec::new();
                if let Some(h) = c.get("headers") {
                    let Value::Obj(hm) = h else {
                        return Err(err("envoy.collector.headers", "an object of header: value"));
                    };
                    for (k, v) in hm {
                        let Some(v) = v.as_str() else {
                            return Err(err("envoy.collector.headers", "values must be strings"));
                        };
                        headers.push((k.to_ascii_lowercase(), v.to_string()));
                    }
                }
                e.collector = Some(Collector {
                    authority: get_str(c, p, "authority")?.unwrap_or_else(|| cluster.clone()),
                    cluster,
                    path,
                    timeout_ms: get_u64(c, p, "timeout_ms", 5000, 1)?,
                    headers,
                });
            }
            e.flush_ms = get_u64(ev, p, "flush_ms", 1000, 10)?;
            e.batch_max_records = get_u64(ev, p, "batch_max_records", 500, 1)? as usize;
            e.batch_max_bytes = get_u64(ev, p, "batch_max_bytes", 1 << 20, 1024)? as usize;
            e.queue_max_records = get_u64(ev, p, "queue_max_records", 10_000, 1)? as usize;
            if let Some(pe) = get_str(ev, p, "properties")? {
                e.properties = match pe.as_str() {
                    "auto" => PropertyEncoding::Auto,
                    "envoy" => PropertyEncoding::Envoy,
                    "text" => PropertyEncoding::Text,
                    _ => return Err(err("envoy.properties", "\"auto\", \"envoy\" or \"text\"")),
                };
            }
        }
        if e.queue_max_records < e.batch_max_records {
            return Err(err(
                "envoy.queue_max_records",
                "must be at least batch_max_records",
            ));
        }
        if e.mode == Mode::Enforce && shared.policy.is_none() {
            return Err(err(
                "envoy.mode",
                "enforce mode needs an anomaly \"policy\" (for example \"envoy\")",
            ));
        }
        Ok(FilterConfig {
            shared,
            key,
            seal,
            envoy: e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        SignerKey::from_seed("test.example", [7; 32])
            .unwrap()
            .to_private_string()
    }

    #[test]
    fn defaults_and_errors() {
        let k = key();
        let c = FilterConfig::parse(&format!(r#"{{"key":"{k}","policy":"envoy"}}"#)).unwrap();
        assert_eq!(c.envoy.chain, ChainMode::Shared);
        assert_eq!(c.seal.stream, "test.example");
        let e =
            FilterConfig::parse(&format!(r#"{{"key":"{k}","envoy":{{"mdoe":1}}}}"#)).unwrap_err();
        assert_eq!(e.key, "envoy.mdoe");
        let e = FilterConfig::parse(&format!(r#"{{"key":"{k}","envoy":{{"mode":"enforce"}}}}"#))
            .unwrap_err();
        assert_eq!(e.key, "envoy.mode");
        let e = FilterConfig::parse(r#"{"key_file":"/x"}"#).unwrap_err();
        assert!(e.why.contains("inline"), "{e}");
        let e = FilterConfig::parse(&format!(
            r#"{{"key":"{k}","envoy":{{"collector":{{"path":"x"}}}}}}"#
        ))
        .unwrap_err();
        assert_eq!(e.key, "envoy.collector.cluster");
    }
}

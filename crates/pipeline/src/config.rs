//! The plugin configuration file (JSON), shared by every adapter.
//!
//! ```json
//! {
//!   "key_file": "/etc/logseal/audit.key",
//!   "stream": "example.com/audit",
//!   "stream_per_tag": true,
//!   "checkpoint_every": 1000,
//!   "checkpoint_interval_secs": 60,
//!   "checkpoints_file": "/var/lib/logseal/checkpoints.txt",
//!   "state_dir": "/var/lib/logseal",
//!   "policy": "sshd"
//! }
//! ```
//! Every member but the key is optional; each adapter's README lists the
//! members it reads (`plugins/fluent-bit/README.md` has them all).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use logseal_anomaly::Policy;
use logseal_core::json::{self, Value};

/// A parsed plugin configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The signing key text, when given inline (`key`).
    pub key: Option<String>,
    /// Path of the signing key file (`key_file`).
    pub key_file: Option<String>,
    /// Stream name (default: the key's name).
    pub stream: Option<String>,
    /// One chain per host tag: stream `<stream>/<tag>`.
    pub stream_per_tag: bool,
    /// A fixed epoch ID (default: a fresh one at each start without state).
    pub epoch: Option<String>,
    /// Checkpoint every N records.
    pub checkpoint_every: u64,
    /// Checkpoint every T seconds of event time.
    pub checkpoint_interval_secs: u64,
    /// Append checkpoints to this file too.
    pub checkpoints_file: Option<String>,
    /// Directory for the chain heads and engine state.
    pub state_dir: Option<String>,
    /// Anomaly policy (`None`: records are sealed unscored).
    pub policy: Option<Policy>,
    /// Name of the policy (preset name, or "custom").
    pub policy_name: Option<String>,
    /// Records longer than this are wrapped, not parsed.
    pub max_record_bytes: usize,
    /// Seal the host's event time with each record (default true).
    pub seal_time: bool,
    /// Seal the host's tag with each record (default true).
    pub seal_tag: bool,
    /// Save the chain head every N records (default 1: a restart continues
    /// the chain exactly; with N > 1 a restart opens a new epoch after the
    /// last save, and the verifier reports the possible crash gap).
    pub save_every: u64,
    /// Fluent Bit module only: look for the stream's feedback inbox
    /// (`<state_dir>/<stream>.chain.feedback`) every N records of the stream
    /// (default 1000; needs `state_dir`).
    pub feedback_check_every: u64,
    /// Fluent Bit module only: save a stream's anomaly state with a
    /// checkpoint at least this many seconds (wall clock) after its last
    /// save, and with the stream's first checkpoint (default 30; 0: with
    /// every checkpoint; needs `state_dir`). Filter_wasm has no exit hook:
    /// this bounds the learning a restart loses.
    pub engine_save_secs: u64,
}

/// A configuration problem: which member, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The member (`""` for the whole file).
    pub key: String,
    /// Why.
    pub why: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "configuration: {}", self.why)
        } else {
            write!(f, "configuration member {:?}: {}", self.key, self.why)
        }
    }
}

const KNOWN: &[&str] = &[
    "key",
    "key_file",
    "stream",
    "stream_per_tag",
    "epoch",
    "checkpoint_every",
    "checkpoint_interval_secs",
    "checkpoints_file",
    "state_dir",
    "policy",
    "max_record_bytes",
    "seal_time",
    "seal_tag",
    "save_every",
    "feedback_check_every",
    "engine_save_secs",
];

fn err(key: &str, why: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        why: why.into(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            key: None,
            key_file: None,
            stream: None,
            stream_per_tag: false,
            epoch: None,
            checkpoint_every: 1000,
            checkpoint_interval_secs: 0,
            checkpoints_file: None,
            state_dir: None,
            policy: None,
            policy_name: None,
            max_record_bytes: logseal_core::seal::DEFAULT_MAX_RECORD_BYTES,
            seal_time: true,
            seal_tag: true,
            save_every: 1,
            feedback_check_every: 1000,
            engine_save_secs: 30,
        }
    }
}

impl Config {
    /// Parse and validate.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let v = json::parse_str(text.trim()).map_err(|e| err("", format!("not JSON: {e}")))?;
        let Value::Obj(members) = &v else {
            return Err(err("", "must be a JSON object"));
        };
        if let Some((k, _)) = members.iter().find(|(k, _)| !KNOWN.contains(&k.as_ref())) {
            return Err(err(
                k,
                format!("unknown member (known: {})", KNOWN.join(", ")),
            ));
        }
        let s = |k: &str| -> Result<Option<String>, ConfigError> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Str(x)) if !x.is_empty() => Ok(Some(x.to_string())),
                Some(_) => Err(err(k, "must be a non-empty string")),
            }
        };
        let u = |k: &str, d: u64| -> Result<u64, ConfigError> {
            match v.get(k) {
                None => Ok(d),
                Some(x) => x
                    .as_u64()
                    .ok_or_else(|| err(k, "must be a non-negative integer")),
            }
        };
        let mut c = Config {
            key: s("key")?,
            key_file: s("key_file")?,
            stream: s("stream")?,
            epoch: s("epoch")?,
            checkpoints_file: s("checkpoints_file")?,
            state_dir: s("state_dir")?,
            checkpoint_every: u("checkpoint_every", 1000)?,
            checkpoint_interval_secs: u("checkpoint_interval_secs", 0)?,
            max_record_bytes: u(
                "max_record_bytes",
                logseal_core::seal::DEFAULT_MAX_RECORD_BYTES as u64,
            )? as usize,
            ..Config::default()
        };
        let b = |k: &str, d: bool| -> Result<bool, ConfigError> {
            match v.get(k) {
                None => Ok(d),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(err(k, "must be true or false")),
            }
        };
        c.stream_per_tag = b("stream_per_tag", false)?;
        c.seal_time = b("seal_time", true)?;
        c.seal_tag = b("seal_tag", true)?;
        c.save_every = u("save_every", 1)?;
        if c.save_every == 0 {
            return Err(err("save_every", "must be at least 1"));
        }
        c.feedback_check_every = u("feedback_check_every", 1000)?;
        c.engine_save_secs = u("engine_save_secs", 30)?;
        if c.feedback_check_every == 0 {
            return Err(err("feedback_check_every", "must be at least 1"));
        }
        if c.key.is_none() == c.key_file.is_none() {
            return Err(err(
                "key_file",
                "give exactly one of \"key_file\" or \"key\"",
            ));
        }
        if let Some(st) = &c.stream
            && !logseal_core::seal::valid_stream(st)
        {
            return Err(err("stream", "1-256 characters without whitespace"));
        }
        if let Some(e) = &c.epoch
            && !logseal_core::seal::valid_epoch(e)
        {
            return Err(err("epoch", "1-64 of [A-Za-z0-9._-]"));
        }
        if c.max_record_bytes == 0 {
            return Err(err("max_record_bytes", "must be positive"));
        }
        match v.get("policy") {
            None | Some(Value::Null) => {}
            Some(Value::Str(name)) => {
                c.policy = Some(Policy::preset(name).ok_or_else(|| {
                    err(
                        "policy",
                        format!(
                            "unknown preset {name:?} (known: {})",
                            logseal_anomaly::PRESETS.join(", ")
                        ),
                    )
                })?);
                c.policy_name = Some(name.to_string());
            }
            Some(obj @ Value::Obj(_)) => {
                let mut text = Vec::new();
                json::write_jcs(obj, &mut text);
                let text = String::from_utf8(text).unwrap_or_default();
                c.policy = Some(Policy::parse(&text).map_err(|e| err("policy", format!("{e}")))?);
                c.policy_name = Some("custom".to_owned());
            }
            Some(_) => return Err(err("policy", "a preset name or a policy object")),
        }
        Ok(c)
    }

    /// The stream of a record with host tag `tag`.
    pub fn stream_for(&self, key_name: &str, tag: Option<&str>) -> String {
        let base = self.stream.as_deref().unwrap_or(key_name);
        match (self.stream_per_tag, tag) {
            (true, Some(t)) if !t.is_empty() => {
                // Tags are free text; keep the stream name valid.
                let t: String = t
                    .chars()
                    .map(|c| {
                        if c.is_whitespace() || c.is_control() {
                            '_'
                        } else {
                            c
                        }
                    })
                    .take(128)
                    .collect();
                bounded(format!("{base}/{t}"))
            }
            _ => base.to_string(),
        }
    }
}

/// The longest stream name (`logseal_core::seal::valid_stream`).
const STREAM_MAX: usize = 256;

/// A stream name of a base and a tag, at most [`STREAM_MAX`] bytes: a
/// longer one is cut at a character boundary and ends with `~` and 12 hex
/// digits of a hash of the whole name, so long tags that share their first
/// 240 bytes stay distinct streams. (Tags are cut at 128 characters, up to
/// 512 bytes, and a base may be 200 bytes: a name over 256 bytes was
/// refused by the sealer, and the Fluent Bit module panicked on it: found
/// by review.)
fn bounded(name: String) -> String {
    if name.len() <= STREAM_MAX {
        return name;
    }
    let h = name_hash(&name);
    let mut end = STREAM_MAX - 13;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    alloc::format!("{}~{:012x}", &name[..end], h >> 16)
}

/// A 64-bit hash of a stream name for the names derived from it (a cut
/// stream name, the Fluent Bit module's state file names): FNV-1a, stable
/// across builds and targets, as those names must stay.
pub fn name_hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

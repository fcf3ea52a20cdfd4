//! The policy: one JSON document with field mappings, detectors and their
//! parameters, learning period, decay, memory budget, allowlists, suppression
//! and deduplication. See `README.md` for the reference.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use serde::Deserialize;

/// Why a policy was rejected: the key path and the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyError {
    /// Dotted path of the offending key, e.g. `detectors[2].window_secs`; empty for syntax errors.
    pub key: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "policy: {}", self.message)
        } else {
            write!(f, "policy: `{}`: {}", self.key, self.message)
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PolicyError {}

fn err(key: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        key: key.into(),
        message: message.into(),
    }
}

/// A one-or-many list of dotted paths.
#[derive(Debug, Clone, PartialEq)]
pub enum Paths {
    One(String),
    Many(Vec<String>),
}

/// Read by hand, so a wrong value says what was expected and a wrong item
/// of a list is named by its index (`fields.user[1]`); serde's untagged
/// enum said only "data did not match any variant of untagged enum Paths"
/// (found by review).
impl<'de> Deserialize<'de> for Paths {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Paths, D::Error> {
        use serde::de::{self, SeqAccess, Visitor};
        /// A list item: a path.
        struct Item(String);
        impl<'de> Deserialize<'de> for Item {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = Item;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a dotted path (a string)")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Item, E> {
                        Ok(Item(v.to_string()))
                    }
                }
                d.deserialize_str(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Paths;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a dotted path or a list of paths")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Paths, E> {
                Ok(Paths::One(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Paths, A::Error> {
                let mut v = Vec::new();
                while let Some(Item(p)) = a.next_element()? {
                    v.push(p);
                }
                Ok(Paths::Many(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Paths {
    pub fn list(&self) -> Vec<String> {
        match self {
            Paths::One(s) => alloc::vec![s.clone()],
            Paths::Many(v) => v.clone(),
        }
    }
}

/// One condition on a field; all set members must hold.
#[derive(Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    #[serde(default)]
    pub eq: Option<serde_json::Value>,
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<String>>,
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub gte: Option<f64>,
    #[serde(default)]
    pub lt: Option<f64>,
    #[serde(default)]
    pub exists: Option<bool>,
    /// Negate the whole condition.
    #[serde(default)]
    pub not: bool,
    /// The condition also holds when the field is absent (for `F.*`: no
    /// value, or an empty list), before `not`.
    #[serde(default)]
    pub or_missing: bool,
}

/// Written out rather than derived (the same text as the derived one):
/// the engine's snapshot fingerprint is the policy's `Debug` text, so
/// `or_missing` (December 2026) prints only when set, and every policy
/// without it prints as it did before.
impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Condition");
        d.field("field", &self.field)
            .field("eq", &self.eq)
            .field("one_of", &self.one_of)
            .field("contains", &self.contains)
            .field("prefix", &self.prefix)
            .field("gte", &self.gte)
            .field("lt", &self.lt)
            .field("exists", &self.exists)
            .field("not", &self.not);
        if self.or_missing {
            d.field("or_missing", &self.or_missing);
        }
        d.finish()
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Learning {
    /// No alerts until this many seconds of event time have been seen.
    #[serde(default = "d_learn_secs")]
    pub period_secs: f64,
    /// Per-entity detectors stay quiet until the entity has this many events.
    #[serde(default = "d_min_events")]
    pub min_entity_events: u32,
    /// Also no alerts until this many events have been seen (for data without time).
    #[serde(default)]
    pub period_events: u64,
}
fn d_learn_secs() -> f64 {
    86_400.0
}
fn d_min_events() -> u32 {
    20
}
impl Default for Learning {
    fn default() -> Self {
        Learning {
            period_secs: d_learn_secs(),
            min_entity_events: d_min_events(),
            period_events: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Alerting {
    /// An event is flagged when the combined p-value is below this.
    #[serde(default = "d_report_p")]
    pub report_p: f64,
    /// Findings with a p-value below this enter the combination (and the reasons).
    #[serde(default = "d_evidence_p")]
    pub evidence_p: f64,
    /// How many reasons a verdict carries.
    #[serde(default = "d_max_reasons")]
    pub max_reasons: usize,
    /// The same (detector, entity, feature, observed) is reported once per this many seconds.
    #[serde(default = "d_dedup")]
    pub dedup_secs: f64,
    /// Score thresholds for low / medium / high / critical.
    #[serde(default = "d_sev")]
    pub severity_thresholds: [f64; 4],
}
fn d_report_p() -> f64 {
    0.01
}
fn d_evidence_p() -> f64 {
    0.2
}
fn d_max_reasons() -> usize {
    3
}
fn d_dedup() -> f64 {
    600.0
}
fn d_sev() -> [f64; 4] {
    [0.33, 0.5, 0.66, 0.83]
}
impl Default for Alerting {
    fn default() -> Self {
        Alerting {
            report_p: d_report_p(),
            evidence_p: d_evidence_p(),
            max_reasons: d_max_reasons(),
            dedup_secs: d_dedup(),
            severity_thresholds: d_sev(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    pub field: String,
    pub values: Vec<String>,
    /// Only for this detector (by name); all detectors when absent.
    #[serde(default)]
    pub detector: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Suppress {
    /// Detector name, or "*".
    pub detector: String,
    /// Entity value (e.g. a user name), or "*".
    #[serde(default = "d_star")]
    pub entity: String,
    /// Feature, or "*".
    #[serde(default = "d_star")]
    pub feature: String,
}
fn d_star() -> String {
    "*".to_string()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    #[serde(default)]
    pub failure: Vec<String>,
    #[serde(default)]
    pub success: Vec<String>,
}

/// Pull fields out of an unstructured line: `pattern` is literal text with
/// `{name}` captures, matched from the start of the text (a leading `{_}`:
/// anywhere); `set` adds constant fields. A capture followed by literal text
/// takes everything up to the last place where the rest still matches
/// (spaces included, possibly empty), and `{name:word}` the last place
/// before the first whitespace (one word, not empty); one that ends the
/// pattern is one word, but `{name:rest}` (which must end it) takes the rest
/// of the text, possibly empty; `{_}` captures are not kept (README
/// "Extraction").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Extract {
    #[serde(default = "d_message")]
    pub from: String,
    pub pattern: String,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}
fn d_message() -> String {
    "message".to_string()
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    pub group_by: String,
    pub window_secs: f64,
    /// Fires when the count in the window exceeds this; 0 makes a single-event
    /// rule (every event matching `where` fires).
    pub threshold: u32,
    /// Expected count in a window under normal behaviour (Poisson mean); by
    /// default the mean for which exceeding the threshold has probability 0.001.
    #[serde(default)]
    pub expected: Option<f64>,
    /// Field holding how many events the record stands for (syslog's
    /// `message repeated N times: [ ... ]` is N more); absent, not a whole
    /// number or below 1 counts 1, at most 65,535.
    #[serde(default)]
    pub weight: Option<String>,
    /// The reason text, with `{name}` placeholders (see [`parse_describe`]).
    /// Only the text changes: it is not part of the snapshot fingerprint.
    #[serde(default)]
    pub describe: Option<String>,
}

/// Written out rather than derived: the engine's snapshot fingerprint is this
/// text, so a rule that does not use `weight` (added after snapshot format 2)
/// must print as it did before, or every saved state would stop restoring.
/// `describe` never prints: it changes the reason text, not the state.
impl fmt::Debug for ThresholdRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ThresholdRule");
        d.field("name", &self.name)
            .field("filter", &self.filter)
            .field("group_by", &self.group_by)
            .field("window_secs", &self.window_secs)
            .field("threshold", &self.threshold)
            .field("expected", &self.expected);
        if let Some(w) = &self.weight {
            d.field("weight", w);
        }
        d.finish()
    }
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DistinctRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    pub group_by: String,
    pub distinct: String,
    pub window_secs: f64,
    pub threshold: u32,
    #[serde(default)]
    pub expected: Option<f64>,
    /// The reason text, with `{name}` placeholders (see [`parse_describe`]).
    /// Only the text changes: it is not part of the snapshot fingerprint.
    #[serde(default)]
    pub describe: Option<String>,
}

/// Written out for the same reason as `ThresholdRule`'s (this is what the
/// derived `Debug` printed before `describe`).
impl fmt::Debug for DistinctRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DistinctRule")
            .field("name", &self.name)
            .field("filter", &self.filter)
            .field("group_by", &self.group_by)
            .field("distinct", &self.distinct)
            .field("window_secs", &self.window_secs)
            .field("threshold", &self.threshold)
            .field("expected", &self.expected)
            .finish()
    }
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FollowedByRule {
    pub name: String,
    pub first: Vec<Condition>,
    pub then: Vec<Condition>,
    pub group_by: String,
    pub min_first: u32,
    pub window_secs: f64,
    #[serde(default)]
    pub expected: Option<f64>,
    /// How many `first` events a record stands for, as in [`ThresholdRule::weight`].
    #[serde(default)]
    pub weight: Option<String>,
    /// The reason text, with `{name}` placeholders (see [`parse_describe`]).
    /// Only the text changes: it is not part of the snapshot fingerprint.
    #[serde(default)]
    pub describe: Option<String>,
}

/// Written out for the same reason as `ThresholdRule`'s.
impl fmt::Debug for FollowedByRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("FollowedByRule");
        d.field("name", &self.name)
            .field("first", &self.first)
            .field("then", &self.then)
            .field("group_by", &self.group_by)
            .field("min_first", &self.min_first)
            .field("window_secs", &self.window_secs)
            .field("expected", &self.expected);
        if let Some(w) = &self.weight {
            d.field("weight", w);
        }
        d.finish()
    }
}

/// One piece of a rule's `describe` text: literal text or a `{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Name(String),
}

/// The longest `describe` text accepted, in bytes.
pub const DESCRIBE_MAX: usize = 256;

/// Parse a rule's `describe` text: literal text with `{name}` placeholders,
/// `{{` and `}}` for literal braces. A name is one of the rule's own values
/// (`group`, `count`, `window`, and `threshold`, `latest` or `min_first`
/// where the rule type has them; see README "Reasons") or else a field of
/// the event, read as the policy maps it. The error says what is wrong and at
/// which byte.
pub fn parse_describe(s: &str) -> Result<Vec<Piece>, String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > DESCRIBE_MAX {
        return Err(format!("is {} bytes; at most {DESCRIBE_MAX}", s.len()));
    }
    let mut out = Vec::new();
    let mut text = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' if b.get(i + 1) == Some(&b'{') => {
                text.push('{');
                i += 2;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                text.push('}');
                i += 2;
            }
            b'{' => {
                let Some(len) = s[i + 1..].find(['{', '}']) else {
                    return Err(format!("`{{` at byte {i} is not closed"));
                };
                if b[i + 1 + len] == b'{' {
                    return Err(format!(
                        "`{{` at byte {i} is not closed before the next `{{`"
                    ));
                }
                let name = s[i + 1..i + 1 + len].trim();
                if name.is_empty() {
                    return Err(format!(
                        "empty `{{}}` at byte {i}; write `{{{{` for a brace"
                    ));
                }
                if !text.is_empty() {
                    out.push(Piece::Text(core::mem::take(&mut text)));
                }
                out.push(Piece::Name(name.to_string()));
                i += len + 2;
            }
            b'}' => {
                return Err(format!(
                    "`}}` at byte {i} closes nothing; write `}}}}` for a brace"
                ));
            }
            _ => {
                let n = s[i..].chars().next().map_or(1, char::len_utf8);
                text.push_str(&s[i..i + n]);
                i += n;
            }
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// Refuses a key written twice in one JSON object, naming where
/// (`detectors[0].threshold`). JSON leaves duplicates to the reader, and
/// `serde_json::Value` keeps the last silently: a second `"detectors"`
/// (rules appended to a copied preset) dropped every rule of the first,
/// and `{"eq": "failure", "eq": "success"}` turned a condition around
/// (found by review). The text is read twice, once into a `Value` and
/// once here; a policy is read once per engine.
fn no_duplicate_keys(text: &str) -> Result<(), PolicyError> {
    use alloc::collections::BTreeSet;
    use core::cell::RefCell;
    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    /// A value at `path`; `dup` receives the path of a repeated key.
    struct Node<'a> {
        path: &'a str,
        dup: &'a RefCell<Option<String>>,
    }
    impl<'de> DeserializeSeed<'de> for Node<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Node<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
            let mut i = 0usize;
            loop {
                let path = format!("{}[{i}]", self.path);
                let node = Node {
                    path: &path,
                    dup: self.dup,
                };
                if a.next_element_seed(node)?.is_none() {
                    return Ok(());
                }
                i += 1;
            }
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
            let mut seen = BTreeSet::new();
            while let Some(k) = a.next_key::<String>()? {
                let path = if self.path.is_empty() {
                    k.clone()
                } else {
                    format!("{}.{k}", self.path)
                };
                if !seen.insert(k) {
                    *self.dup.borrow_mut() = Some(path);
                    return Err(de::Error::custom("duplicate key"));
                }
                a.next_value_seed(Node {
                    path: &path,
                    dup: self.dup,
                })?;
            }
            Ok(())
        }
    }

    let dup = RefCell::new(None);
    let mut d = serde_json::Deserializer::from_str(text);
    let res = Node {
        path: "",
        dup: &dup,
    }
    .deserialize(&mut d);
    match (dup.into_inner(), res) {
        (Some(path), _) => Err(err(
            path,
            "written twice in one object; JSON readers disagree on which one counts, so write it once",
        )),
        (None, Err(e)) => Err(json_err("", e)),
        (None, Ok(())) => Ok(()),
    }
}

/// Seasonal offsets a `rate` baseline learns on top of its level.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Seasonality {
    /// One level for every hour.
    None,
    /// An offset for each hour of the day (24).
    HourOfDay,
    /// The hour-of-day offset plus one for each day of the week (24 + 7,
    /// added together, not 168 separate hours).
    HourOfWeek,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    /// Entity field; one global series when absent.
    #[serde(default)]
    pub group_by: Option<String>,
    /// Count events per bucket of this many seconds (ignored with `value_field`).
    #[serde(default = "d_bucket")]
    pub bucket_secs: f64,
    /// Score this numeric field of each event instead of counting events (gauge mode).
    #[serde(default)]
    pub value_field: Option<String>,
    /// Events that are errors, for the error-rate check.
    #[serde(default)]
    pub error_where: Vec<Condition>,
    #[serde(default = "d_season")]
    pub seasonality: Seasonality,
    /// Baseline half-life in observations (EWMA); see README.
    #[serde(default = "d_rate_hl")]
    pub half_life: f64,
    /// Observations before the baseline is trusted.
    #[serde(default = "d_rate_warm")]
    pub warmup: u32,
    /// Report drops too (spikes always).
    #[serde(default = "d_true")]
    pub drops: bool,
    /// Count mode: a bucket is judged only when it or its expectation reaches this count.
    #[serde(default = "d_min_count")]
    pub min_count: f64,
}
fn d_min_count() -> f64 {
    10.0
}

/// `gauge`: streaming anomaly model of one numeric field per entity (see `gauge.rs`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GaugeRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    /// Entity field; one global series when absent.
    #[serde(default)]
    pub group_by: Option<String>,
    /// The numeric field scored.
    pub value_field: String,
    /// Quantisation levels of the pattern model.
    #[serde(default = "d_g_bins")]
    pub bins: u32,
    /// Markov order of the pattern model (previous symbols).
    #[serde(default = "d_g_order")]
    pub order: u32,
    /// Half-life of the robust level and scale, in observations.
    #[serde(default = "d_g_hl")]
    pub half_life: f64,
    /// Half-life of the conformal calibration histograms, in observations.
    #[serde(default = "d_g_calib")]
    pub calib_half_life: f64,
    /// Half-life of the short-term residual mean (level shifts), in observations.
    #[serde(default = "d_g_short")]
    pub short_half_life: f64,
    /// Observations before anything is reported.
    #[serde(default = "d_g_warm")]
    pub warmup: u32,
    /// Observations muted after a finding with p <= `rest_p`.
    #[serde(default = "d_g_rest")]
    pub rest: u32,
    #[serde(default = "d_g_rest_p")]
    pub rest_p: f64,
    /// Report drops below the level too.
    #[serde(default = "d_true")]
    pub drops: bool,
}
fn d_g_bins() -> u32 {
    8
}
fn d_g_order() -> u32 {
    2
}
fn d_g_hl() -> f64 {
    300.0
}
fn d_g_calib() -> f64 {
    1000.0
}
fn d_g_short() -> f64 {
    8.0
}
fn d_g_warm() -> u32 {
    200
}
fn d_g_rest() -> u32 {
    150
}
fn d_g_rest_p() -> f64 {
    0.01
}
fn d_bucket() -> f64 {
    60.0
}
fn d_season() -> Seasonality {
    Seasonality::HourOfDay
}
fn d_rate_hl() -> f64 {
    500.0
}
fn d_rate_warm() -> u32 {
    30
}
fn d_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewValueRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    pub entity: String,
    /// Features to track per entity (field names; `source_net` is derived from `source_ip`).
    pub features: Vec<String>,
    /// Also report values seen before but rare (count-based p below report_p).
    #[serde(default = "d_true")]
    pub rare: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HourRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    pub entity: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeerRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    pub entity: String,
    pub group: String,
    pub feature: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TravelRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    pub entity: String,
    #[serde(default = "d_kmh")]
    pub max_kmh: f64,
    /// Distances below this are never flagged (geo-IP noise).
    #[serde(default = "d_min_km")]
    pub min_km: f64,
}
fn d_kmh() -> f64 {
    1000.0
}
/// The most events a rule's window counts: 8 sub-buckets of up to 65,535,
/// in two runs (the records of a sub-bucket that were on time and those
/// that came more than a window late: found by review).
const WINDOW_MAX: u32 = 16 * 65_535;

fn d_min_km() -> f64 {
    300.0
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SequenceRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    /// Session key field; events without it share one global session.
    pub session: String,
    /// Pre-computed template / log key field; when absent, templates are mined from `message`.
    #[serde(default)]
    pub template: Option<String>,
    /// Context length (n-gram order minus one).
    #[serde(default = "d_hist")]
    pub history: usize,
    /// DeepLog's g: a next event in the top-k predictions is normal.
    #[serde(default = "d_topk")]
    pub top_k: usize,
    /// Drain similarity threshold.
    #[serde(default = "d_sim")]
    pub similarity: f64,
    /// Drain parse-tree depth (prefix tokens used + 1).
    #[serde(default = "d_depth")]
    pub depth: usize,
    #[serde(default = "d_max_templates")]
    pub max_templates: usize,
    /// Keep learning while scoring (streaming) instead of freezing after the learning period.
    #[serde(default = "d_true")]
    pub online: bool,
    /// Events that close a session (e.g. "session closed"): the end itself is
    /// predicted like a next event, then the session's history is cleared.
    #[serde(default)]
    pub end_where: Vec<Condition>,
    /// Also report known-but-rare templates (order-0 rarity), not only never-seen ones.
    #[serde(default = "d_true")]
    pub rare_templates: bool,
}
fn d_hist() -> usize {
    3
}
fn d_topk() -> usize {
    9
}
fn d_sim() -> f64 {
    0.5
}
fn d_depth() -> usize {
    4
}
fn d_max_templates() -> usize {
    2048
}

/// Which event templates occur together in a session, regardless of order:
/// a session whose templates form a combination no learned session had (or
/// that ends with a combination no learned session ended with) is reported.
/// The order-free counterpart of [`SequenceRule`]: where concurrency
/// interleaves a session's events, the order is noisy but the set of steps is
/// not.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompositionRule {
    pub name: String,
    #[serde(default, rename = "where")]
    pub filter: Vec<Condition>,
    /// Session key field; events without it share one global session.
    pub session: String,
    /// Event template / log key field (at most 255 distinct values are
    /// learned; others count as unknown).
    pub template: String,
    /// Events that close a session (required): the session's final
    /// combination is then checked against, or learned as, the combinations
    /// sessions ended with.
    #[serde(default)]
    pub end_where: Vec<Condition>,
    /// Keep learning while scoring instead of freezing after the learning period.
    #[serde(default = "d_true")]
    pub online: bool,
    /// Most distinct combinations kept (each 40 bytes).
    #[serde(default = "d_max_compositions")]
    pub max_compositions: usize,
}
fn d_max_compositions() -> usize {
    1024
}

impl CompositionRule {
    /// Worst case of the learned state outside the per-session table: the
    /// combinations (40 bytes each) and 255 template keys of at most 131 bytes
    /// (128, clipped with "…").
    pub fn reserve_bytes(&self) -> usize {
        self.max_compositions * 40 + 255 * 2 * (131 + 48)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DetectorSpec {
    Threshold(ThresholdRule),
    Distinct(DistinctRule),
    FollowedBy(FollowedByRule),
    Rate(RateRule),
    Gauge(GaugeRule),
    NewValue(NewValueRule),
    UnusualHour(HourRule),
    PeerRare(PeerRule),
    ImpossibleTravel(TravelRule),
    Sequence(SequenceRule),
    Composition(CompositionRule),
}

impl DetectorSpec {
    pub fn name(&self) -> &str {
        match self {
            DetectorSpec::Threshold(r) => &r.name,
            DetectorSpec::Distinct(r) => &r.name,
            DetectorSpec::FollowedBy(r) => &r.name,
            DetectorSpec::Rate(r) => &r.name,
            DetectorSpec::Gauge(r) => &r.name,
            DetectorSpec::NewValue(r) => &r.name,
            DetectorSpec::UnusualHour(r) => &r.name,
            DetectorSpec::PeerRare(r) => &r.name,
            DetectorSpec::ImpossibleTravel(r) => &r.name,
            DetectorSpec::Sequence(r) => &r.name,
            DetectorSpec::Composition(r) => &r.name,
        }
    }

    /// The features this detector's findings name (what a `suppress`
    /// entry's `feature` matches).
    fn features(&self) -> Vec<String> {
        let one = |f: &str| vec![f.to_string()];
        match self {
            DetectorSpec::Threshold(_) => one("count"),
            DetectorSpec::Distinct(r) => vec![format!("distinct {}", r.distinct)],
            DetectorSpec::FollowedBy(_) => one("sequence"),
            DetectorSpec::Rate(r) => match &r.value_field {
                Some(v) => one(v),
                None if r.error_where.is_empty() => one("rate"),
                None => vec!["rate".into(), "error_rate".into()],
            },
            DetectorSpec::Gauge(r) => one(&r.value_field),
            DetectorSpec::NewValue(r) => r.features.clone(),
            DetectorSpec::UnusualHour(_) => one("hour"),
            DetectorSpec::PeerRare(r) => one(&r.feature),
            DetectorSpec::ImpossibleTravel(_) => one("travel"),
            DetectorSpec::Sequence(_) => vec!["template".into(), "next_event".into()],
            DetectorSpec::Composition(_) => one("composition"),
        }
    }

    /// The members that name a field (key below the detector, field name):
    /// none may be empty.
    fn field_names<'a>(&'a self) -> Vec<(String, &'a str)> {
        let mut v: Vec<(String, &'a str)> = Vec::new();
        let mut one = |k: &str, f: Option<&'a String>| {
            if let Some(f) = f {
                v.push((k.to_string(), f.as_str()));
            }
        };
        match self {
            DetectorSpec::Threshold(r) => one("group_by", Some(&r.group_by)),
            DetectorSpec::Distinct(r) => {
                one("group_by", Some(&r.group_by));
                one("distinct", Some(&r.distinct));
            }
            DetectorSpec::FollowedBy(r) => one("group_by", Some(&r.group_by)),
            DetectorSpec::Rate(r) => {
                one("group_by", r.group_by.as_ref());
                one("value_field", r.value_field.as_ref());
            }
            DetectorSpec::Gauge(r) => {
                one("group_by", r.group_by.as_ref());
                one("value_field", Some(&r.value_field));
            }
            DetectorSpec::NewValue(r) => {
                one("entity", Some(&r.entity));
                for (j, f) in r.features.iter().enumerate() {
                    one(&format!("features[{j}]"), Some(f));
                }
            }
            DetectorSpec::UnusualHour(r) => one("entity", Some(&r.entity)),
            DetectorSpec::PeerRare(r) => {
                one("entity", Some(&r.entity));
                one("group", Some(&r.group));
                one("feature", Some(&r.feature));
            }
            DetectorSpec::ImpossibleTravel(r) => one("entity", Some(&r.entity)),
            DetectorSpec::Sequence(r) => {
                one("session", Some(&r.session));
                one("template", r.template.as_ref());
            }
            DetectorSpec::Composition(r) => {
                one("session", Some(&r.session));
                one("template", Some(&r.template));
            }
        }
        v
    }

    /// The field whose value a finding of this detector names as its
    /// entity (`group_by`, `entity` or `session`); `None` for one global
    /// series.
    pub fn entity_field(&self) -> Option<&str> {
        match self {
            DetectorSpec::Threshold(r) => Some(&r.group_by),
            DetectorSpec::Distinct(r) => Some(&r.group_by),
            DetectorSpec::FollowedBy(r) => Some(&r.group_by),
            DetectorSpec::Rate(r) => r.group_by.as_deref(),
            DetectorSpec::Gauge(r) => r.group_by.as_deref(),
            DetectorSpec::NewValue(r) => Some(&r.entity),
            DetectorSpec::UnusualHour(r) => Some(&r.entity),
            DetectorSpec::PeerRare(r) => Some(&r.entity),
            DetectorSpec::ImpossibleTravel(r) => Some(&r.entity),
            DetectorSpec::Sequence(r) => Some(&r.session),
            DetectorSpec::Composition(r) => Some(&r.session),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Raw {
    version: u32,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, Paths>,
    #[serde(default)]
    fold_case: Vec<String>,
    #[serde(default = "d_absent")]
    absent: Vec<String>,
    #[serde(default)]
    skip: Skip,
    #[serde(default)]
    outcome: Option<Outcome>,
    #[serde(default)]
    extract: Vec<Extract>,
    #[serde(default)]
    learning: Learning,
    #[serde(default = "d_half_life")]
    half_life_secs: f64,
    #[serde(default = "d_budget")]
    memory_budget_bytes: u64,
    #[serde(default)]
    alerting: Alerting,
    #[serde(default)]
    allowlist: Vec<Allow>,
    #[serde(default)]
    suppress: Vec<Suppress>,
    #[serde(default)]
    detectors: Vec<serde_json::Value>,
}
/// What `absent` is when a policy does not say: the empty string and `-`,
/// which Envoy, Apache, nginx and Windows write for "no value".
pub fn d_absent() -> Vec<String> {
    alloc::vec![String::new(), "-".to_string()]
}
fn d_half_life() -> f64 {
    14.0 * 86_400.0
}
fn d_budget() -> u64 {
    64 << 20
}

/// `skip` as written: one list of conditions (all must hold), or a list
/// of such lists (any of them).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
enum Skip {
    All(Vec<Condition>),
    Any(Vec<Vec<Condition>>),
}

impl Default for Skip {
    fn default() -> Self {
        Skip::All(Vec::new())
    }
}

/// A validated policy.
#[derive(Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    /// Canonical field name -> candidate dotted paths (first present wins).
    pub fields: BTreeMap<String, Vec<String>>,
    /// Fields whose values are compared, counted and shown trimmed and
    /// lowercased (`Administrator ` is `administrator`): for identity
    /// systems that ignore case (Active Directory, LDAP, many web apps).
    pub fold_case: Vec<String>,
    /// Text values that mean "no value" (default: the empty string and
    /// `-`): a path holding one is read as absent, so a field's next path
    /// is read, a condition's `exists` fails and `or_missing` holds.
    /// Windows writes `-` for the subject of a network logon, which the
    /// OCSF mapping keeps as `actor.user.name`; read as a user, every
    /// logon of a domain was one profile, `-` (found by review).
    pub absent: Vec<String>,
    /// Events meeting all conditions of any of these lists are not scored:
    /// their verdict is empty and nothing is learned from them. For
    /// records that repeat another (a Kubernetes audit record of stage
    /// `RequestReceived` comes before the request's `ResponseComplete`).
    /// Written as one list of conditions, or as a list of such lists.
    pub skip: Vec<Vec<Condition>>,
    pub outcome: Outcome,
    /// Field extraction from unstructured lines, first matching pattern wins.
    pub extract: Vec<Extract>,
    pub learning: Learning,
    /// Half-life of every learned count (per-entity values, hours, peer groups).
    pub half_life_secs: f64,
    pub memory_budget_bytes: u64,
    pub alerting: Alerting,
    pub allowlist: Vec<Allow>,
    pub suppress: Vec<Suppress>,
    pub detectors: Vec<DetectorSpec>,
}

/// Written out rather than derived: the engine's snapshot fingerprint is
/// this text, so `fold_case` (added after snapshot format 3) and `skip`
/// (December 2026) print only when used, and every policy without them
/// prints as it did before.
impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Policy");
        d.field("name", &self.name).field("fields", &self.fields);
        if !self.fold_case.is_empty() {
            d.field("fold_case", &self.fold_case);
        }
        if !self.skip.is_empty() {
            d.field("skip", &self.skip);
        }
        if self.absent != d_absent() {
            d.field("absent", &self.absent);
        }
        d.field("outcome", &self.outcome)
            .field("extract", &self.extract)
            .field("learning", &self.learning)
            .field("half_life_secs", &self.half_life_secs)
            .field("memory_budget_bytes", &self.memory_budget_bytes)
            .field("alerting", &self.alerting)
            .field("allowlist", &self.allowlist)
            .field("suppress", &self.suppress)
            .field("detectors", &self.detectors)
            .finish()
    }
}

/// Known policy keys at the top level, for "did you mean" style messages.
const TOP_KEYS: &[&str] = &[
    "version",
    "name",
    "fields",
    "fold_case",
    "absent",
    "skip",
    "outcome",
    "extract",
    "learning",
    "half_life_secs",
    "memory_budget_bytes",
    "alerting",
    "allowlist",
    "suppress",
    "detectors",
];

/// The detector types, as `type` names them.
const TYPES: &str = "threshold, distinct, followed_by, rate, gauge, new_value, unusual_hour, \
                     peer_rare, impossible_travel, sequence, composition";

/// `v` read as a `T`; an error names the key it is at (`key`, then the
/// path below it: `learning.min_entity_events`, `detectors[0].where[1].not`).
fn from_value<T: serde::de::DeserializeOwned>(
    key: &str,
    v: serde_json::Value,
) -> Result<T, PolicyError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let at = match (key, path.as_str()) {
            (k, ".") => k.to_string(),
            ("", p) => p.to_string(),
            (k, p) if p.starts_with('[') => format!("{k}{p}"),
            (k, p) => format!("{k}.{p}"),
        };
        json_err(&at, e.into_inner())
    })
}

/// One detector: its `type` picks the rule, read without the `type` member
/// so that an error names the rule's own key.
fn detector(key: &str, d: &serde_json::Value) -> Result<DetectorSpec, PolicyError> {
    let Some(obj) = d.as_object() else {
        return Err(err(key, "a detector must be a JSON object"));
    };
    let ty = match obj.get("type") {
        Some(serde_json::Value::String(t)) => t.as_str(),
        Some(_) => {
            return Err(err(
                format!("{key}.type"),
                format!("must be one of {TYPES}"),
            ));
        }
        None => {
            return Err(err(
                format!("{key}.type"),
                format!("missing; one of {TYPES}"),
            ));
        }
    };
    let mut rest = obj.clone();
    rest.remove("type");
    let v = serde_json::Value::Object(rest);
    Ok(match ty {
        "threshold" => DetectorSpec::Threshold(from_value(key, v)?),
        "distinct" => DetectorSpec::Distinct(from_value(key, v)?),
        "followed_by" => DetectorSpec::FollowedBy(from_value(key, v)?),
        "rate" => DetectorSpec::Rate(from_value(key, v)?),
        "gauge" => DetectorSpec::Gauge(from_value(key, v)?),
        "new_value" => DetectorSpec::NewValue(from_value(key, v)?),
        "unusual_hour" => DetectorSpec::UnusualHour(from_value(key, v)?),
        "peer_rare" => DetectorSpec::PeerRare(from_value(key, v)?),
        "impossible_travel" => DetectorSpec::ImpossibleTravel(from_value(key, v)?),
        "sequence" => DetectorSpec::Sequence(from_value(key, v)?),
        "composition" => DetectorSpec::Composition(from_value(key, v)?),
        _ => {
            return Err(err(
                format!("{key}.type"),
                format!("unknown detector type `{ty}`; one of {TYPES}"),
            ));
        }
    })
}

fn json_err(key: &str, e: serde_json::Error) -> PolicyError {
    let mut m = e.to_string();
    // serde_json appends "at line L column C" for syntax errors only.
    if m.ends_with("column 0") {
        m = m.replace(" at line 0 column 0", "");
    }
    err(key, m)
}

impl Policy {
    /// Parse and validate a JSON policy.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| json_err("", e))?;
        no_duplicate_keys(text)?;
        let obj = v
            .as_object()
            .ok_or_else(|| err("", "the policy must be a JSON object"))?;
        for k in obj.keys() {
            if !TOP_KEYS.contains(&k.as_str()) {
                return Err(err(
                    k.clone(),
                    format!("unknown key; expected one of: {}", TOP_KEYS.join(", ")),
                ));
            }
        }
        // Sections one by one so the error names the section.
        for k in [
            "fields",
            "fold_case",
            "absent",
            "skip",
            "outcome",
            "extract",
            "learning",
            "alerting",
            "allowlist",
            "suppress",
        ] {
            if let Some(sec) = obj.get(k) {
                let sec = sec.clone();
                match k {
                    "fields" => from_value::<BTreeMap<String, Paths>>(k, sec).map(|_| ()),
                    "fold_case" | "absent" => from_value::<Vec<String>>(k, sec).map(|_| ()),
                    // the form its first entry takes, for a clear error
                    "skip" => match sec.get(0) {
                        Some(serde_json::Value::Array(_)) => {
                            from_value::<Vec<Vec<Condition>>>(k, sec).map(|_| ())
                        }
                        _ => from_value::<Vec<Condition>>(k, sec).map(|_| ()),
                    },
                    "outcome" => from_value::<Outcome>(k, sec).map(|_| ()),
                    "extract" => from_value::<Vec<Extract>>(k, sec).map(|_| ()),
                    "learning" => from_value::<Learning>(k, sec).map(|_| ()),
                    "alerting" => from_value::<Alerting>(k, sec).map(|_| ()),
                    "allowlist" => from_value::<Vec<Allow>>(k, sec).map(|_| ()),
                    _ => from_value::<Vec<Suppress>>(k, sec).map(|_| ()),
                }?;
            }
        }
        let raw: Raw = from_value("", v.clone())?;
        if raw.version != 1 {
            return Err(err(
                "version",
                format!(
                    "unsupported policy version {}; this engine reads version 1",
                    raw.version
                ),
            ));
        }
        let mut detectors = Vec::new();
        for (i, d) in raw.detectors.iter().enumerate() {
            let spec = detector(&format!("detectors[{i}]"), d)?;
            detectors.push(spec);
        }
        let p = Policy {
            name: raw.name.unwrap_or_else(|| "custom".to_string()),
            fields: raw.fields.into_iter().map(|(k, v)| (k, v.list())).collect(),
            fold_case: raw.fold_case,
            absent: raw.absent,
            skip: match raw.skip {
                Skip::All(cs) if cs.is_empty() => Vec::new(),
                Skip::All(cs) => alloc::vec![cs],
                Skip::Any(lists) => lists,
            },
            outcome: raw.outcome.unwrap_or(Outcome {
                failure: Vec::new(),
                success: Vec::new(),
            }),
            extract: raw.extract,
            learning: raw.learning,
            half_life_secs: raw.half_life_secs,
            memory_budget_bytes: raw.memory_budget_bytes,
            alerting: raw.alerting,
            allowlist: raw.allowlist,
            suppress: raw.suppress,
            detectors,
        };
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        fn pos(key: String, v: f64) -> Result<(), PolicyError> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(err(key, "must be a finite number > 0"))
            }
        }
        // Windows are counted in sub-buckets numbered by `u32` from 1970: a
        // sub-bucket under a second overflows the numbering in 2106 or
        // much sooner (one of 0.25 s in 2003: every event fell into the
        // last sub-bucket and was counted forever; found by review).
        fn at_least(key: String, v: f64, min: f64, what: &str) -> Result<(), PolicyError> {
            if v.is_finite() && v >= min {
                Ok(())
            } else {
                Err(err(
                    key,
                    format!("must be a finite number >= {min} ({what} of a second or more)"),
                ))
            }
        }
        fn conds(key: String, cs: &[Condition]) -> Result<(), PolicyError> {
            for (j, c) in cs.iter().enumerate() {
                let k = format!("{key}[{j}]");
                if c.field.trim().is_empty() {
                    return Err(err(k + ".field", "must name a field"));
                }
                let tests = [
                    ("eq", c.eq.is_some()),
                    ("in", c.one_of.is_some()),
                    ("contains", c.contains.is_some()),
                    ("prefix", c.prefix.is_some()),
                    ("gte/lt", c.gte.is_some() || c.lt.is_some()),
                    ("exists", c.exists.is_some()),
                ];
                let set: Vec<&str> = tests.iter().filter(|t| t.1).map(|t| t.0).collect();
                if set.is_empty() {
                    return Err(err(
                        k,
                        "a condition needs one of eq, in, contains, prefix, gte/lt, exists",
                    ));
                }
                // One test a condition: the engine checked only the first
                // of two (`contains` and `prefix` fired on a value that
                // failed the prefix: found by review).
                if set.len() > 1 {
                    return Err(err(
                        k,
                        format!(
                            "has {} tests ({}); a condition takes one: write one condition for each, as all conditions of a list must hold",
                            set.len(),
                            set.join(", ")
                        ),
                    ));
                }
                if c.one_of.as_ref().is_some_and(Vec::is_empty) {
                    return Err(err(k + ".in", "an empty list matches nothing"));
                }
                if let (Some(g), Some(l)) = (c.gte, c.lt)
                    && g >= l
                {
                    return Err(err(
                        k,
                        format!("gte {g} and lt {l} leave no number between them"),
                    ));
                }
                if matches!(
                    c.eq,
                    Some(serde_json::Value::Object(_) | serde_json::Value::Array(_))
                ) {
                    return Err(err(
                        k + ".eq",
                        "must be a string, number or bool (for a list, use `in`)",
                    ));
                }
            }
            Ok(())
        }
        /// What the three rules share: a window of `subs` sub-buckets, an
        /// optional mean, an optional reason text.
        fn rule(
            key: &str,
            window: f64,
            subs: u32,
            expected: Option<f64>,
            text: Option<&str>,
        ) -> Result<(), PolicyError> {
            at_least(
                format!("{key}.window_secs"),
                window,
                subs as f64,
                &format!("{subs} sub-buckets"),
            )?;
            if let Some(e) = expected {
                pos(format!("{key}.expected"), e)?;
            }
            describe(key.into(), text)
        }
        fn describe(key: String, d: Option<&str>) -> Result<(), PolicyError> {
            match d.map(parse_describe) {
                Some(Err(m)) => Err(err(key + ".describe", m)),
                _ => Ok(()),
            }
        }
        for (i, cs) in self.skip.iter().enumerate() {
            if cs.is_empty() {
                return Err(err(
                    format!("skip[{i}]"),
                    "an empty list of conditions would skip every event",
                ));
            }
            conds(format!("skip[{i}]"), cs)?;
        }
        // Decay steps are whole half-lives of event time, numbered by
        // `i64`: a half-life of 1e-10 s numbers today's past `i64::MAX`, so
        // nothing decayed after the first step.
        if !(self.half_life_secs.is_finite() && self.half_life_secs >= 60.0) {
            return Err(err("half_life_secs", "must be a finite number >= 60"));
        }
        if self.learning.period_secs.is_nan() || self.learning.period_secs < 0.0 {
            return Err(err("learning.period_secs", "must be >= 0"));
        }
        if self.memory_budget_bytes < (1 << 16) {
            return Err(err("memory_budget_bytes", "must be at least 65536"));
        }
        if self.memory_budget_bytes > (1u64 << 34) {
            return Err(err("memory_budget_bytes", "must be at most 16 GiB"));
        }
        // On a 32-bit target (wasm32) the budget was cast: 4 GiB became 0
        // and 5 GiB 1 GiB (found by review); taken as the whole address
        // space, the engine's sketches alone then asked for more than a
        // wasm32 memory can grow to.
        if usize::try_from(self.memory_budget_bytes).is_err() {
            return Err(err(
                "memory_budget_bytes",
                format!(
                    "{} is more than this 32-bit target can address (at most {})",
                    self.memory_budget_bytes,
                    usize::MAX
                ),
            ));
        }
        let a = &self.alerting;
        if !(a.report_p > 0.0 && a.report_p <= 1.0) {
            return Err(err("alerting.report_p", "must be in (0, 1]"));
        }
        if !(a.evidence_p > 0.0 && a.evidence_p <= 1.0) {
            return Err(err("alerting.evidence_p", "must be in (0, 1]"));
        }
        if a.max_reasons == 0 || a.max_reasons > 32 {
            return Err(err("alerting.max_reasons", "must be between 1 and 32"));
        }
        if a.dedup_secs.is_nan() || a.dedup_secs < 0.0 {
            return Err(err("alerting.dedup_secs", "must be >= 0"));
        }
        let t = a.severity_thresholds;
        if !(t[0] > 0.0 && t[0] <= t[1] && t[1] <= t[2] && t[2] <= t[3] && t[3] <= 1.0) {
            return Err(err(
                "alerting.severity_thresholds",
                "must be 4 increasing scores in (0, 1]",
            ));
        }
        if self.absent.len() > 16 || self.absent.iter().any(|a| a.len() > 64) {
            return Err(err("absent", "at most 16 values of at most 64 bytes each"));
        }
        for (i, name) in self.fold_case.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(err(format!("fold_case[{i}]"), "must name a field"));
            }
            // `source_ip` is read without its port and in its canonical
            // text; folded, it was read with its port (found by review).
            if name == "outcome" || name == "source_net" || name == "source_ip" {
                return Err(err(
                    format!("fold_case[{i}]"),
                    format!("`{name}` is normalised already"),
                ));
            }
        }
        for (k, paths) in &self.fields {
            if k.trim().is_empty() {
                return Err(err(
                    format!("fields.{k}"),
                    "a blank name: each key of `fields` names a field",
                ));
            }
            if paths.is_empty() || paths.iter().any(|p| p.trim().is_empty()) {
                return Err(err(
                    format!("fields.{k}"),
                    "needs at least one path, none blank",
                ));
            }
        }
        // A value in both lists was silently a failure (the failure list
        // is read first): found by review.
        for (i, v) in self.outcome.success.iter().enumerate() {
            if self
                .outcome
                .failure
                .iter()
                .any(|f| f.trim().eq_ignore_ascii_case(v.trim()))
            {
                return Err(err(
                    format!("outcome.success[{i}]"),
                    format!("`{v}` is listed under `failure` too; an outcome is one or the other"),
                ));
            }
        }
        for (i, ex) in self.extract.iter().enumerate() {
            if ex.from.trim().is_empty() {
                return Err(err(format!("extract[{i}].from"), "must name a field"));
            }
            let k = format!("extract[{i}].pattern");
            if !ex.pattern.contains('{') {
                return Err(err(k, "needs at least one {name} capture"));
            }
            if ex.pattern.contains("}{") {
                return Err(err(k, "two captures must be separated by literal text"));
            }
            // Each `{` closed by the next `}` before another opens.
            let mut open = false;
            for ch in ex.pattern.chars() {
                match (ch, open) {
                    ('{', false) => open = true,
                    ('}', true) => open = false,
                    ('{', true) | ('}', false) => {
                        return Err(err(k, "unbalanced { }: each {name} closes before the next"));
                    }
                    _ => {}
                }
            }
            if open {
                return Err(err(k, "unbalanced { }: a capture is not closed"));
            }
            let opens = ex.pattern.matches('{').count();
            for (n, piece) in ex.pattern.split('{').skip(1).enumerate() {
                let cap = piece.split('}').next().unwrap_or("");
                let (name, ty) = cap.split_once(':').unwrap_or((cap, ""));
                if name.is_empty() {
                    return Err(err(k, format!("capture `{{{cap}}}` needs a name")));
                }
                // The extractor reads the name as written: `{ user }` set a
                // field ` user `, and `{user:}` one named `user:` (found by
                // review).
                if name.trim() != name || name.contains(char::is_whitespace) {
                    return Err(err(
                        k,
                        format!(
                            "capture `{{{cap}}}`: a name has no spaces (`{{{}}}`)",
                            name.trim()
                        ),
                    ));
                }
                if cap.contains(':') && ty.is_empty() {
                    return Err(err(
                        k,
                        format!(
                            "capture `{{{cap}}}`: no type after `:` (write `{{{name}}}`, `{{{name}:word}}` or `{{{name}:rest}}`)"
                        ),
                    ));
                }
                if !matches!(ty, "" | "word" | "rest") {
                    return Err(err(
                        k,
                        format!(
                            "capture `{{{cap}}}`: unknown type `{ty}` (the types are `word` and `rest`)"
                        ),
                    ));
                }
                // the last capture, with nothing after its `}`
                if ty == "rest" && (n + 1 != opens || piece.len() != cap.len() + 1) {
                    return Err(err(
                        k,
                        format!(
                            "capture `{{{cap}}}` takes the rest of the text: it must end the pattern"
                        ),
                    ));
                }
            }
        }
        for (i, al) in self.allowlist.iter().enumerate() {
            if al.field.trim().is_empty() {
                return Err(err(format!("allowlist[{i}].field"), "must name a field"));
            }
            // A value the policy reads as no value can never match (found
            // by review once `-` became no value).
            for (j, v) in al.values.iter().enumerate() {
                if self.absent.iter().any(|a| a == v) {
                    return Err(err(
                        format!("allowlist[{i}].values[{j}]"),
                        format!("`{v}` is read as no value (`absent`), so it never matches"),
                    ));
                }
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, d) in self.detectors.iter().enumerate() {
            let key = format!("detectors[{i}]");
            let name = d.name();
            if name.trim().is_empty() {
                return Err(err(key + ".name", "must not be blank"));
            }
            if names.contains(&name) {
                return Err(err(
                    key + ".name",
                    format!("duplicate detector name `{name}`"),
                ));
            }
            names.push(name);
            for (k, f) in d.field_names() {
                if f.trim().is_empty() {
                    return Err(err(format!("{key}.{k}"), "must name a field"));
                }
                // `F.*` is a condition's array form; read here as a path
                // segment `*`, it never matched (found by review).
                if f == "*" || f.ends_with(".*") || f.contains(".*.") || f.starts_with("*.") {
                    return Err(err(
                        format!("{key}.{k}"),
                        format!(
                            "`{f}`: the `.*` array form is for conditions; here name one value (an item is `F.0`)"
                        ),
                    ));
                }
            }
            match d {
                DetectorSpec::Threshold(r) => {
                    rule(&key, r.window_secs, 8, r.expected, r.describe.as_deref())?;
                    if r.threshold == 0 && r.filter.is_empty() {
                        return Err(err(
                            key + ".threshold",
                            "0 (every matching event) needs a `where` condition",
                        ));
                    }
                    if r.weight.as_deref().is_some_and(|w| w.trim().is_empty()) {
                        return Err(err(key + ".weight", "must name a field"));
                    }
                    // a window counts at most `WINDOW_MAX`: a higher
                    // threshold could never be passed (found by review, of
                    // `min_first`)
                    if r.threshold >= WINDOW_MAX {
                        return Err(err(
                            key + ".threshold",
                            format!(
                                "must be below {WINDOW_MAX} (a window counts at most that many)"
                            ),
                        ));
                    }
                    conds(key + ".where", &r.filter)?;
                }
                DetectorSpec::Distinct(r) => {
                    rule(&key, r.window_secs, 2, r.expected, r.describe.as_deref())?;
                    // A group holds one value of its own key: never above 1.
                    if r.distinct.trim() == r.group_by.trim()
                        || self.paths(&r.distinct) == self.paths(&r.group_by)
                    {
                        return Err(err(
                            key + ".distinct",
                            format!(
                                "counts the values of `group_by` (`{}`), of which a group has one: the rule could never fire",
                                r.group_by
                            ),
                        ));
                    }
                    if r.threshold == 0 || r.threshold > 200 {
                        return Err(err(
                            key + ".threshold",
                            "must be between 1 and 200 (distinct counting is a 256-bit sketch)",
                        ));
                    }
                    conds(key + ".where", &r.filter)?;
                }
                DetectorSpec::FollowedBy(r) => {
                    rule(&key, r.window_secs, 8, r.expected, r.describe.as_deref())?;
                    if r.weight.as_deref().is_some_and(|w| w.trim().is_empty()) {
                        return Err(err(key + ".weight", "must name a field"));
                    }
                    if r.min_first == 0 || r.min_first > WINDOW_MAX {
                        return Err(err(
                            key + ".min_first",
                            format!(
                                "must be between 1 and {WINDOW_MAX} (a window counts at most that many)"
                            ),
                        ));
                    }
                    if r.first.is_empty() {
                        return Err(err(key + ".first", "needs at least one condition"));
                    }
                    if r.then.is_empty() {
                        return Err(err(key + ".then", "needs at least one condition"));
                    }
                    conds(key.clone() + ".first", &r.first)?;
                    conds(key + ".then", &r.then)?;
                }
                DetectorSpec::Rate(r) => {
                    at_least(key.clone() + ".bucket_secs", r.bucket_secs, 1.0, "a bucket")?;
                    pos(key.clone() + ".half_life", r.half_life)?;
                    conds(key.clone() + ".where", &r.filter)?;
                    // Gauge mode scores a value, not counts: an error rate
                    // asked for there was ignored without a word (found by
                    // review).
                    if r.value_field.is_some() && !r.error_where.is_empty() {
                        return Err(err(
                            key + ".error_where",
                            "an error rate is judged on counts: remove `value_field`, or add a `rate` detector without it for the error rate",
                        ));
                    }
                    conds(key + ".error_where", &r.error_where)?;
                }
                DetectorSpec::Gauge(r) => {
                    if !(2..=16).contains(&r.bins) {
                        return Err(err(key + ".bins", "must be between 2 and 16"));
                    }
                    if !(1..=4).contains(&r.order) {
                        return Err(err(key + ".order", "must be between 1 and 4"));
                    }
                    pos(key.clone() + ".half_life", r.half_life)?;
                    pos(key.clone() + ".calib_half_life", r.calib_half_life)?;
                    pos(key.clone() + ".short_half_life", r.short_half_life)?;
                    if !(r.rest_p >= 0.0 && r.rest_p <= 1.0) {
                        return Err(err(key + ".rest_p", "must be in [0, 1]"));
                    }
                    conds(key + ".where", &r.filter)?;
                }
                DetectorSpec::NewValue(r) => {
                    if r.features.is_empty() || r.features.len() > 8 {
                        return Err(err(key + ".features", "needs between 1 and 8 features"));
                    }
                    // Twice, it took two profile slots and gave every
                    // finding twice (found by review).
                    for (j, f) in r.features.iter().enumerate() {
                        if r.features[..j].iter().any(|g| g.trim() == f.trim()) {
                            return Err(err(
                                format!("{key}.features[{j}]"),
                                format!("feature `{f}` is listed twice"),
                            ));
                        }
                    }
                    conds(key + ".where", &r.filter)?;
                }
                DetectorSpec::UnusualHour(r) => conds(key + ".where", &r.filter)?,
                DetectorSpec::PeerRare(r) => conds(key + ".where", &r.filter)?,
                DetectorSpec::ImpossibleTravel(r) => {
                    pos(key.clone() + ".max_kmh", r.max_kmh)?;
                    if !(r.min_km.is_finite() && r.min_km >= 0.0) {
                        return Err(err(key + ".min_km", "must be a finite number >= 0"));
                    }
                    conds(key + ".where", &r.filter)?;
                }
                DetectorSpec::Sequence(r) => {
                    if r.history == 0 || r.history > 16 {
                        return Err(err(key + ".history", "must be between 1 and 16"));
                    }
                    if r.top_k == 0 || r.top_k > 12 {
                        return Err(err(key + ".top_k", "must be between 1 and 12"));
                    }
                    if !(r.similarity > 0.0 && r.similarity <= 1.0) {
                        return Err(err(key + ".similarity", "must be in (0, 1]"));
                    }
                    if r.depth < 2 || r.depth > 8 {
                        return Err(err(key + ".depth", "must be between 2 and 8"));
                    }
                    if r.max_templates == 0 || r.max_templates > 60_000 {
                        return Err(err(key + ".max_templates", "must be between 1 and 60000"));
                    }
                    conds(key.clone() + ".where", &r.filter)?;
                    conds(key + ".end_where", &r.end_where)?;
                }
                DetectorSpec::Composition(r) => {
                    if r.max_compositions == 0 || r.max_compositions > 65_536 {
                        return Err(err(
                            key + ".max_compositions",
                            "must be between 1 and 65536",
                        ));
                    }
                    if r.end_where.is_empty() {
                        return Err(err(
                            key + ".end_where",
                            "is required: the detector learns the combinations sessions end with",
                        ));
                    }
                    conds(key.clone() + ".where", &r.filter)?;
                    conds(key + ".end_where", &r.end_where)?;
                }
            }
        }
        // The `new_value` detectors of one entity share its profile: one
        // slot per feature, 8 in all.
        let mut slots: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, d) in self.detectors.iter().enumerate() {
            if let DetectorSpec::NewValue(r) = d {
                let n = slots.entry(r.entity.as_str()).or_default();
                *n += r.features.len();
                if *n > 8 {
                    return Err(err(
                        format!("detectors[{i}].features"),
                        format!(
                            "the `new_value` detectors of entity `{}` have {n} features together; \
                             at most 8 (an entity profile has 8 feature slots)",
                            r.entity
                        ),
                    ));
                }
            }
        }
        // A finding is dropped by detector name: a name no detector has
        // (a typo) would silently drop nothing.
        let known = |d: &str| d == "*" || names.contains(&d);
        for (i, al) in self.allowlist.iter().enumerate() {
            if let Some(d) = al.detector.as_deref().filter(|d| !names.contains(d)) {
                return Err(err(
                    format!("allowlist[{i}].detector"),
                    format!("no detector is named `{d}` (leave `detector` out for all)"),
                ));
            }
        }
        for (i, su) in self.suppress.iter().enumerate() {
            if !known(&su.detector) {
                return Err(err(
                    format!("suppress[{i}].detector"),
                    format!("no detector is named `{}`", su.detector),
                ));
            }
            // A feature no finding of the detector names suppresses nothing
            // (a typo, `contry`, was accepted: found by review).
            let features: Vec<String> = self
                .detectors
                .iter()
                .filter(|d| su.detector == "*" || d.name() == su.detector)
                .flat_map(DetectorSpec::features)
                .collect();
            if !features.iter().any(|f| crate::engine::glob(&su.feature, f)) {
                let mut list = features;
                list.sort_unstable();
                list.dedup();
                return Err(err(
                    format!("suppress[{i}].feature"),
                    format!(
                        "no finding of {} has a feature matching `{}` (they name: {})",
                        if su.detector == "*" {
                            "any detector".to_string()
                        } else {
                            format!("`{}`", su.detector)
                        },
                        su.feature,
                        list.iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        // Last: the least budget builds the engine, which wants the rest valid.
        let (need, config) = crate::engine::min_budget(self);
        let need = need as u64;
        if self.memory_budget_bytes < need {
            return Err(err(
                "memory_budget_bytes",
                format!(
                    "must be at least {need} bytes for these detectors: one bucket of every table \
                     (a gauge's holds 10,848 bytes), the templates sequence detectors reserve \
                     (max_templates x {} bytes) and composition detectors reserve \
                     (max_compositions x 40 + 91,290 bytes), what the policy and its compiled form \
                     hold ({config} bytes here), and 4 KiB",
                    crate::drain::MAX_TEMPLATE_BYTES.max(2 * (crate::engine::KEY_MAX + 48))
                ),
            ));
        }
        Ok(())
    }

    /// A built-in policy: "default", "ecs", "ocsf", "k8s-audit", "cloudtrail", "sshd", "envoy".
    pub fn preset(name: &str) -> Option<Policy> {
        let text = preset_text(name)?;
        Policy::parse(text).ok()
    }

    /// Paths for a canonical field name; a name that is not mapped is itself a path.
    pub fn paths(&self, name: &str) -> Vec<String> {
        match self.fields.get(name) {
            Some(p) => p.clone(),
            None => alloc::vec![name.to_string()],
        }
    }
}

/// The JSON text of a built-in preset.
pub fn preset_text(name: &str) -> Option<&'static str> {
    Some(match name {
        "default" => include_str!("presets/default.json"),
        "ecs" => include_str!("presets/ecs.json"),
        "ocsf" => include_str!("presets/ocsf.json"),
        "k8s-audit" => include_str!("presets/k8s-audit.json"),
        "cloudtrail" => include_str!("presets/cloudtrail.json"),
        "sshd" => include_str!("presets/sshd.json"),
        "envoy" => include_str!("presets/envoy.json"),
        _ => return None,
    })
}

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &[
    "default",
    "ecs",
    "ocsf",
    "k8s-audit",
    "cloudtrail",
    "sshd",
    "envoy",
];

// What a policy holds on the heap (see `crate::heap`).
mod heap {
    use super::*;
    use crate::heap::{Heap, heap_of, wide};

    wide!(
        Allow = 72,
        // 168, or 208 with serde_json's `preserve_order` (its `eq`)
        Condition = 208,
        DetectorSpec = 176,
        Extract = 72,
        Suppress = 72,
    );

    heap_of!(Condition {
        field,
        eq,
        one_of,
        contains,
        prefix
    });
    heap_of!(Allow {
        field,
        values,
        detector
    });
    heap_of!(Suppress {
        detector,
        entity,
        feature
    });
    heap_of!(Outcome { failure, success });
    heap_of!(Extract { from, pattern, set });
    heap_of!(ThresholdRule {
        name,
        filter,
        group_by,
        weight,
        describe
    });
    heap_of!(DistinctRule {
        name,
        filter,
        group_by,
        distinct,
        describe
    });
    heap_of!(FollowedByRule {
        name,
        first,
        then,
        group_by,
        weight,
        describe
    });
    heap_of!(RateRule {
        name,
        filter,
        group_by,
        value_field,
        error_where
    });
    heap_of!(GaugeRule {
        name,
        filter,
        group_by,
        value_field
    });
    heap_of!(NewValueRule {
        name,
        filter,
        entity,
        features
    });
    heap_of!(HourRule {
        name,
        filter,
        entity
    });
    heap_of!(PeerRule {
        name,
        filter,
        entity,
        group,
        feature
    });
    heap_of!(TravelRule {
        name,
        filter,
        entity
    });
    heap_of!(SequenceRule {
        name,
        filter,
        session,
        template,
        end_where
    });
    heap_of!(CompositionRule {
        name,
        filter,
        session,
        template,
        end_where
    });
    heap_of!(Policy {
        name,
        fields,
        fold_case,
        absent,
        skip,
        outcome,
        extract,
        allowlist,
        suppress,
        detectors
    });

    impl Heap for DetectorSpec {
        fn heap(&self) -> usize {
            match self {
                DetectorSpec::Threshold(r) => r.heap(),
                DetectorSpec::Distinct(r) => r.heap(),
                DetectorSpec::FollowedBy(r) => r.heap(),
                DetectorSpec::Rate(r) => r.heap(),
                DetectorSpec::Gauge(r) => r.heap(),
                DetectorSpec::NewValue(r) => r.heap(),
                DetectorSpec::UnusualHour(r) => r.heap(),
                DetectorSpec::PeerRare(r) => r.heap(),
                DetectorSpec::ImpossibleTravel(r) => r.heap(),
                DetectorSpec::Sequence(r) => r.heap(),
                DetectorSpec::Composition(r) => r.heap(),
            }
        }
    }
}

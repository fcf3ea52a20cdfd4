//! A parsed event with dotted-path accessors.

use serde_json::Value;

/// True when the raw JSON text may contain a string equal to `needle`.
///
/// A cheap pre-filter that lets a rule skip parsing events that cannot match:
/// a JSON string can only spell `needle` literally or with `\u` escapes, so
/// when the text has neither the needle nor any `\u` escape, no string in the
/// event equals (or contains) the needle. `needle` must not contain `"`, `\`
/// or `/` (those have other escapes) nor control characters.
pub fn may_contain(raw: &str, needle: &str) -> bool {
    raw.contains(needle) || has_unicode_escape(raw)
}

/// True when `raw` may hold a `\u` escape. Looks for any backslash first
/// (core's word-at-a-time `memchr`), which most events do not have, before
/// the slower two-byte search.
pub fn has_unicode_escape(raw: &str) -> bool {
    raw.as_bytes().contains(&b'\\') && raw.contains("\\u")
}

/// An event parsed from JSON.
pub struct Event {
    root: Value,
}

impl Event {
    /// Parse `raw`; `None` if it is not valid JSON.
    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_str(raw).ok().map(|root| Self { root })
    }

    /// Parse `raw` only if it [`may_contain`] `needle`.
    pub fn parse_if_contains(raw: &str, needle: &str) -> Option<Self> {
        if may_contain(raw, needle) {
            Self::parse(raw)
        } else {
            None
        }
    }

    /// Wrap an already parsed value.
    pub fn from_value(root: Value) -> Self {
        Self { root }
    }

    /// The whole event.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The value at a dotted path (`"userIdentity.type"`); array elements are
    /// addressed by index (`"target.0.displayName"`).
    pub fn at(&self, path: &str) -> Option<&Value> {
        value_at(&self.root, path)
    }

    /// The string at `path`, if it is a string.
    pub fn str_at(&self, path: &str) -> Option<&str> {
        self.at(path).and_then(Value::as_str)
    }

    /// True when `path` is missing or JSON `null`.
    pub fn is_null(&self, path: &str) -> bool {
        self.at(path).is_none_or(Value::is_null)
    }
}

/// The value at a dotted path below `v`.
pub fn value_at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path.split('.') {
        cur = match cur {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Panther's `aws_cloudtrail_success`: no `errorCode` and no `errorMessage`.
pub fn cloudtrail_success(ev: &Event) -> bool {
    let empty = |p: &str| match ev.at(p) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    };
    empty("errorCode") && empty("errorMessage")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_reach_objects_and_arrays() {
        let ev = Event::parse(r#"{"a":{"b":[{"c":"x"},{"c":null}]},"n":1}"#).unwrap();
        assert_eq!(ev.str_at("a.b.0.c"), Some("x"));
        assert!(ev.is_null("a.b.1.c"));
        assert!(ev.is_null("a.b.2.c"));
        assert!(ev.is_null("missing"));
        assert!(!ev.is_null("n"));
        assert_eq!(ev.str_at("n"), None);
        assert_eq!(ev.at("a.b.x"), None);
        assert!(Event::parse("not json").is_none());
    }

    #[test]
    fn prefilter_is_sound_for_unicode_escapes() {
        let plain = r#"{"eventName":"DescribeTable"}"#;
        assert!(!may_contain(plain, "ConsoleLogin"));
        assert!(may_contain(
            r#"{"eventName":"ConsoleLogin"}"#,
            "ConsoleLogin"
        ));
        // A backslash alone (escaped quote) does not force a parse ...
        assert!(!may_contain(r#"{"ua":"say \"hi\""}"#, "ConsoleLogin"));
        // ... a \u escape does, and the parsed value does match.
        let escaped = r#"{"eventName":"\u0043onsoleLogin"}"#;
        assert!(may_contain(escaped, "ConsoleLogin"));
        let ev = Event::parse_if_contains(escaped, "ConsoleLogin").unwrap();
        assert_eq!(ev.str_at("eventName"), Some("ConsoleLogin"));
    }

    #[test]
    fn cloudtrail_success_means_no_error_fields() {
        let ok = Event::parse(r#"{"errorCode":"","errorMessage":null}"#).unwrap();
        assert!(cloudtrail_success(&ok));
        let bad = Event::parse(r#"{"errorCode":"AccessDenied"}"#).unwrap();
        assert!(!cloudtrail_success(&bad));
    }
}

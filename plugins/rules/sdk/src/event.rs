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
    contains(raw, needle) || has_unicode_escape(raw)
}

/// True when `raw` may hold a `\u` escape. Looks for any backslash first,
/// which most events do not have, before the two-byte search.
pub fn has_unicode_escape(raw: &str) -> bool {
    contains(raw, "\\") && contains(raw, "\\u")
}

/// `haystack.contains(needle)`, with a SIMD scan on wasm32.
///
/// `str::contains` is Two-Way search, whose skip loop does little on JSON
/// text; on wasm32 this compares the needle's first and last bytes against
/// 16 positions at a time (wasm `simd128`, which wasmtime enables by default)
/// and only checks the candidates. Same answer as `str::contains` (a test in
/// `host-harness/tests/rules_sandbox.rs` compares them inside wasm).
pub fn contains(haystack: &str, needle: &str) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        // On wasm a `simd128` function is safe to call: an engine without
        // the proposal rejects the whole component at load, never mid-run
        // (wasmtime enables it by default).
        simd::contains(haystack.as_bytes(), needle.as_bytes())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        haystack.contains(needle)
    }
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_splat, v128, v128_and, v128_load};

    #[target_feature(enable = "simd128")]
    pub(super) fn contains(h: &[u8], n: &[u8]) -> bool {
        let m = n.len();
        if m == 0 {
            return true;
        }
        if h.len() < m {
            return false;
        }
        let first = u8x16_splat(n[0]);
        let last = u8x16_splat(n[m - 1]);
        let mut i = 0;
        // Both 16-byte loads stay inside `h`: i + m - 1 + 16 <= h.len().
        while i + m + 15 <= h.len() {
            // SAFETY: in bounds by the loop condition; v128.load has no
            // alignment requirement.
            let (a, b) = unsafe {
                (
                    v128_load(h.as_ptr().add(i).cast::<v128>()),
                    v128_load(h.as_ptr().add(i + m - 1).cast::<v128>()),
                )
            };
            let mut mask = u8x16_bitmask(v128_and(u8x16_eq(a, first), u8x16_eq(b, last)));
            while mask != 0 {
                let j = i + mask.trailing_zeros() as usize;
                if &h[j..j + m] == n {
                    return true;
                }
                mask &= mask - 1;
            }
            i += 16;
        }
        h[i..].windows(m).any(|w| w == n)
    }
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

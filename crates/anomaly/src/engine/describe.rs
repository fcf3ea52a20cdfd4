//! A rule's `describe` text, compiled once and rendered per finding.

use super::*;

/// A rule's `describe` text, compiled: its names resolved once to the
/// rule's own values or to event fields.
pub(super) struct Describe(pub(super) Vec<DPiece>);

pub(super) enum DPiece {
    Text(String),
    /// One of the rule's values, by position in the `own` list given to
    /// [`Describe::new`] and to [`Describe::render`].
    Own(usize),
    Field(FieldRef),
}

impl Describe {
    /// `own` names the rule type's values (`group`, `count`, ...); any other
    /// name is an event field. `None` when there is no text (checked by the
    /// policy, so a parse error cannot happen here).
    pub(super) fn new(p: &Policy, text: Option<&str>, own: &[&str]) -> Option<Describe> {
        let pieces = crate::policy::parse_describe(text?).ok()?;
        Some(Describe(
            pieces
                .into_iter()
                .map(|x| match x {
                    crate::policy::Piece::Text(t) => DPiece::Text(t),
                    crate::policy::Piece::Name(n) => match own.iter().position(|o| *o == n) {
                        Some(i) => DPiece::Own(i),
                        None => DPiece::Field(FieldRef::new(p, &n)),
                    },
                })
                .collect(),
        ))
    }

    /// A rule's text: its own values in the order every rule type names
    /// them (`group`, `count`, `window`, then `threshold` or `min_first`,
    /// then `latest` for `distinct`).
    pub(super) fn render_rule<E: Event + ?Sized>(
        &self,
        c: &Ctx<'_, '_, E>,
        group: &str,
        count: impl core::fmt::Display,
        window: f64,
        limit: u32,
        latest: Option<&str>,
    ) -> String {
        let (n, w, l) = (count.to_string(), dur(window), limit.to_string());
        match latest {
            Some(v) => self.render(c, &[group, &n, &w, &l, v]),
            None => self.render(c, &[group, &n, &w, &l]),
        }
    }

    /// The text for one finding: `vals` in the order of `own` above; an
    /// event field the event lacks reads `-`; each value at most 64 bytes,
    /// quoted when it would not read as itself (see [`shown`]).
    pub(super) fn render<E: Event + ?Sized>(&self, c: &Ctx<'_, '_, E>, vals: &[&str]) -> String {
        let mut o = String::new();
        for x in &self.0 {
            match x {
                DPiece::Text(t) => o.push_str(t),
                DPiece::Own(i) => o.push_str(&shown(vals.get(*i).copied().unwrap_or("-"))),
                DPiece::Field(f) => match c.get(f) {
                    Some(v) => o.push_str(&shown(&v)),
                    None => o.push('-'),
                },
            }
        }
        o
    }
}

/// Characters a reason's text shows as escapes: the control characters
/// (`char::is_control`, category Cc), the line and paragraph separators
/// (U+2028, U+2029: line breaks to every Unicode-aware viewer), and the
/// format characters (category Cf, Unicode 15) that reorder or hide text:
/// bidi marks, embeddings, overrides and isolates (`\u{202e}nimda` showed
/// as "admin"), zero-width characters (`ali\u{200b}ce` read as "alice"),
/// the byte order mark, the soft hyphen, interlinear annotations and the
/// tag characters (invisible ASCII). Found by review (the "Trojan Source"
/// class, CVE-2021-42574); before December 2026 only Cc was escaped.
#[inline]
pub(super) fn unseen(ch: char) -> bool {
    let c = ch as u32;
    if c < 0x7F {
        return c < 0x20;
    }
    ch.is_control()
        || matches!(c,
            0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
            | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
            | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// A reason's sentence with every character [`unseen`] holds written as an
/// escape (`\n`, `\u{001b}`, `\u{202e}`): values in it come from events,
/// and a line break, a terminal escape or a bidi override in a
/// client-chosen name must not make one reason look like two, repaint the
/// terminal of an operator reading it, or show another name.
pub(super) fn one_line(text: String) -> String {
    // Printable ASCII, the usual case, without decoding characters.
    if text.bytes().all(|b| (0x20..0x7F).contains(&b)) || !text.chars().any(unseen) {
        return text;
    }
    let mut o = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            ch if unseen(ch) => o.push_str(&format!("\\u{{{:04x}}}", ch as u32)),
            ch => o.push(ch),
        }
    }
    o
}

/// A value for a sentence: at most 64 bytes, and in double quotes with
/// escapes when it is empty, starts or ends with whitespace, or holds a
/// control character or a quote, so `" 0101"` (a user name with a leading
/// space) and `""` read as what they are, and a line break or a terminal
/// escape in a client-chosen name cannot make a reason look like two.
pub(super) fn shown(v: &str) -> String {
    let plain = !v.is_empty()
        && !v.starts_with(char::is_whitespace)
        && !v.ends_with(char::is_whitespace)
        && !v.chars().any(|ch| unseen(ch) || ch == '"');
    if plain {
        return clip(v, 64);
    }
    // Quotes and backslashes escaped here; control characters are left to
    // `one_line`, which every reason's text goes through.
    let mut o = String::from("\"");
    for ch in clip(v, 64).chars() {
        if ch == '"' || ch == '\\' {
            o.push('\\');
        }
        o.push(ch);
    }
    o.push('"');
    o
}

//! A small JSON reader and the two canonical writers logseal needs.
//!
//! Why not `serde_json` + a JCS crate? Three reasons, all about the seal:
//!
//! * Integers beyond 2^53 (nanosecond timestamps, 64-bit ids) must survive
//!   exactly. RFC 8785 models every number as an IEEE double, which would make
//!   a change in the last digits of `1700000000123456789` invisible to the seal.
//! * Doubles must survive pipelines that print 16 instead of 17 significant
//!   digits (Fluent Bit does). The seal canonicalises them to 15 significant
//!   digits, which every such printing preserves (see `docs/FORMAT.md` §3).
//! * Records are parsed on the hot path of every plugin. This reader borrows
//!   strings from the input unless they contain escapes, and reports errors
//!   with a byte offset.
//!
//! [`write_jcs`] is plain RFC 8785 and reproduces the cyberphone test vectors
//! byte for byte; [`write_seal`] is the seal's canonical form (RFC 8785 with
//! the number rules above).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Deepest nesting of arrays and objects the reader accepts.
pub const MAX_DEPTH: usize = 128;

/// A parsed JSON value. Object members keep their input order; writers sort.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// Any number.
    Num(Number),
    /// A string, borrowed from the input when it had no escapes.
    Str(Cow<'a, str>),
    /// An array.
    Arr(Vec<Value<'a>>),
    /// An object, members in input order (duplicate names are rejected).
    Obj(Vec<(Cow<'a, str>, Value<'a>)>),
}

/// A JSON number as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer literal (no fraction, no exponent) that fits `i64`.
    Int(i64),
    /// An integer literal above `i64::MAX` that fits `u64`.
    UInt(u64),
    /// Anything else, as the nearest double.
    Float(f64),
}

impl Number {
    /// The value as a double (lossy above 2^53).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::UInt(u) => u as f64,
            Number::Float(f) => f,
        }
    }
}

impl<'a> Value<'a> {
    /// Member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        match self {
            Value::Obj(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number as `u64`, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Num(Number::Int(i)) if *i >= 0 => Some(*i as u64),
            Value::Num(Number::UInt(u)) => Some(*u),
            Value::Num(Number::Float(f))
                if *f >= 0.0 && *f < 9_007_199_254_740_992.0 && (*f as u64) as f64 == *f =>
            {
                Some(*f as u64)
            }
            _ => None,
        }
    }

    /// Copy every borrowed string so the value outlives its input.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Num(n) => Value::Num(n),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Arr(a) => Value::Arr(a.into_iter().map(Value::into_owned).collect()),
            Value::Obj(m) => Value::Obj(
                m.into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }
}

/// Why a text is not a JSON value logseal can canonicalise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// The input is not valid UTF-8; `offset` is the first bad byte.
    InvalidUtf8 {
        /// Byte offset.
        offset: usize,
    },
    /// A syntax error at `offset`.
    Syntax {
        /// Byte offset.
        offset: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Byte offset of the opening bracket that went too deep.
        offset: usize,
    },
    /// An object has two members with the same name (RFC 8785 / I-JSON forbid it).
    DuplicateKey {
        /// Byte offset of the second occurrence.
        offset: usize,
        /// The repeated name.
        key: String,
    },
    /// A `\uD800`-style escape that is not half of a surrogate pair.
    LoneSurrogate {
        /// Byte offset of the escape.
        offset: usize,
    },
    /// A number that is not finite as a double (for example `1e400`).
    NumberOutOfRange {
        /// Byte offset of the number.
        offset: usize,
    },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::InvalidUtf8 { offset } => write!(f, "invalid UTF-8 at byte {offset}"),
            JsonError::Syntax { offset, expected } => {
                write!(f, "invalid JSON at byte {offset}: expected {expected}")
            }
            JsonError::TooDeep { offset } => {
                write!(f, "nesting deeper than {MAX_DEPTH} levels at byte {offset}")
            }
            JsonError::DuplicateKey { offset, key } => {
                write!(f, "duplicate member name {key:?} at byte {offset}")
            }
            JsonError::LoneSurrogate { offset } => {
                write!(f, "unpaired UTF-16 surrogate escape at byte {offset}")
            }
            JsonError::NumberOutOfRange { offset } => {
                write!(f, "number out of the range of a double at byte {offset}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for JsonError {}

/// Parse one JSON value; whitespace around it is allowed, anything else is not.
pub fn parse(input: &[u8]) -> Result<Value<'_>, JsonError> {
    let text = core::str::from_utf8(input).map_err(|e| JsonError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    parse_str(text)
}

/// Parse one JSON value from a `str`.
pub fn parse_str(text: &str) -> Result<Value<'_>, JsonError> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("end of input"));
    }
    Ok(v)
}

/// One JSON value from a `str`, with fast paths for an unescaped string and
/// a short integer (the seal's fields), else [`parse_str`].
pub(crate) fn parse_quick(text: &str) -> Result<Value<'_>, JsonError> {
    let b = text.as_bytes();
    match b.first() {
        Some(b'"')
            if b.len() >= 2
                && b[b.len() - 1] == b'"'
                && !b[1..b.len() - 1]
                    .iter()
                    .any(|&c| c == b'\\' || c == b'"' || c < 0x20) =>
        {
            Ok(Value::Str(Cow::Borrowed(&text[1..text.len() - 1])))
        }
        Some(b'0'..=b'9')
            if b.len() <= 18
                && b.iter().all(u8::is_ascii_digit)
                && (b[0] != b'0' || b.len() == 1) =>
        {
            Ok(Value::Num(Number::Int(text.parse().unwrap_or(0))))
        }
        _ => parse_str(text),
    }
}

/// Decode the JSON string starting at the opening quote `at` of `text`;
/// returns the string and the offset just past its closing quote.
pub(crate) fn decode_string(text: &str, at: usize) -> Result<(Cow<'_, str>, usize), JsonError> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: at,
    };
    let s = p.string()?;
    Ok((s, p.i))
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, expected: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.i,
            expected,
        }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn lit(&mut self, word: &'static str, v: Value<'a>) -> Result<Value<'a>, JsonError> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("a JSON value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.lit("true", Value::Bool(true)),
            Some(b'f') => self.lit("false", Value::Bool(false)),
            Some(b'n') => self.lit("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err("a JSON value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep { offset: self.i });
        }
        self.i += 1;
        let mut members: Vec<(Cow<'a, str>, Value<'a>)> = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Value::Obj(members));
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return Err(self.err("a member name"));
            }
            let at = self.i;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                return Err(JsonError::DuplicateKey {
                    offset: at,
                    key: key.into_owned(),
                });
            }
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return Err(self.err("':'"));
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth)?;
            members.push((key, v));
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Obj(members));
                }
                _ => return Err(self.err("',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep { offset: self.i });
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Value::Arr(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Arr(items));
                }
                _ => return Err(self.err("',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("four hex digits"))?;
        let mut v = 0u32;
        for &c in h {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(self.err("four hex digits")),
            };
            v = v * 16 + u32::from(d);
        }
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.i += 1; // opening quote
        let start = self.i;
        // Fast path: no escapes.
        loop {
            match self.b.get(self.i) {
                None => return Err(self.err("closing '\"'")),
                Some(b'"') => {
                    let s = &self.s[start..self.i];
                    self.i += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return Err(self.err("an escaped control character")),
                Some(_) => self.i += 1,
            }
        }
        let mut out = String::with_capacity(self.i - start + 16);
        out.push_str(&self.s[start..self.i]);
        loop {
            match self.b.get(self.i) {
                None => return Err(self.err("closing '\"'")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let at = self.i;
                    self.i += 1;
                    let c = *self.b.get(self.i).ok_or_else(|| self.err("an escape"))?;
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(JsonError::LoneSurrogate { offset: at });
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(JsonError::LoneSurrogate { offset: at });
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(JsonError::LoneSurrogate { offset: at });
                            } else {
                                hi
                            };
                            // Every value here is a valid scalar by construction.
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        }
                        _ => {
                            self.i = at;
                            return Err(self.err("a valid escape"));
                        }
                    }
                }
                Some(&c) if c < 0x20 => return Err(self.err("an escaped control character")),
                Some(_) => {
                    // Copy a run of plain bytes (always ends on a char boundary:
                    // '"' and '\\' are ASCII).
                    let run = self.i;
                    while let Some(&c) = self.b.get(self.i) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.i += 1;
                    }
                    out.push_str(&self.s[run..self.i]);
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.i;
        let neg = self.b[self.i] == b'-';
        if neg {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return Err(self.err("a digit")),
        }
        let mut integral = true;
        if self.b.get(self.i) == Some(&b'.') {
            integral = false;
            self.i += 1;
            if !matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                return Err(self.err("a digit after '.'"));
            }
            while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            integral = false;
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                return Err(self.err("a digit in the exponent"));
            }
            while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        let text = &self.s[start..self.i];
        if integral {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Num(Number::Int(i)));
            }
            if !neg && let Ok(u) = text.parse::<u64>() {
                return Ok(Value::Num(Number::UInt(u)));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Num(Number::Float(f))),
            _ => Err(JsonError::NumberOutOfRange { offset: start }),
        }
    }
}

/// Which number rules a writer applies.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// RFC 8785: every number is a double printed the ECMAScript way.
    Jcs,
    /// The seal's canonical form (`docs/FORMAT.md` §3).
    Seal,
}

/// Write `v` as RFC 8785 canonical JSON.
pub fn write_jcs(v: &Value<'_>, out: &mut Vec<u8>) {
    write(v, out, Mode::Jcs);
}

/// Write `v` in the seal's canonical form: RFC 8785, except that integers
/// are exact (`i64`/`u64`) and other numbers are first rounded to 15
/// significant digits.
pub fn write_seal(v: &Value<'_>, out: &mut Vec<u8>) {
    write(v, out, Mode::Seal);
}

fn write(v: &Value<'_>, out: &mut Vec<u8>, mode: Mode) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Num(n) => write_number(*n, out, mode),
        Value::Str(s) => write_string(s, out),
        Value::Arr(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out, mode);
            }
            out.push(b']');
        }
        Value::Obj(members) => {
            out.push(b'{');
            let mut order: Vec<&(Cow<'_, str>, Value<'_>)> = members.iter().collect();
            sort_members(&mut order);
            for (i, (k, v)) in order.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write(v, out, mode);
            }
            out.push(b'}');
        }
    }
}

/// Sort object members by their names as UTF-16 code units (RFC 8785 §3.2.3).
pub(crate) fn sort_members<T>(members: &mut [&(Cow<'_, str>, T)]) {
    members.sort_unstable_by(|a, b| utf16_cmp(&a.0, &b.0));
}

/// Compare two strings by UTF-16 code units. Byte order of UTF-8 equals
/// code-point order, which differs from UTF-16 order only when one side has a
/// character above U+FFFF and the other one in U+E000..=U+FFFF.
pub fn utf16_cmp(a: &str, b: &str) -> core::cmp::Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let common = ab.iter().zip(bb).position(|(x, y)| x != y);
    match common {
        None => ab.len().cmp(&bb.len()),
        Some(i) if ab[i] < 0xEE && bb[i] < 0xEE => ab[i].cmp(&bb[i]),
        Some(_) => a.encode_utf16().cmp(b.encode_utf16()),
    }
}

/// Write a string with RFC 8785 escaping.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    // Most strings need no escape: check eight bytes at a time, copy whole.
    if !b.chunks(8).any(|c| {
        let mut w = [b'a'; 8];
        w[..c.len()].copy_from_slice(c);
        crate::canon::special(u64::from_le_bytes(w))
    }) {
        out.reserve(b.len() + 2);
        out.push(b'"');
        out.extend_from_slice(b);
        out.push(b'"');
        return;
    }
    out.push(b'"');
    let mut run = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&b[run..i]);
        if esc.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]);
        } else {
            out.extend_from_slice(esc);
        }
        run = i + 1;
    }
    out.extend_from_slice(&b[run..]);
    out.push(b'"');
}

/// 2^53: integers below this are exact as doubles.
const EXACT: f64 = 9_007_199_254_740_992.0;

fn write_number(n: Number, out: &mut Vec<u8>, mode: Mode) {
    match (mode, n) {
        (Mode::Seal, Number::Int(i)) => write_int(i, out),
        (Mode::Seal, Number::UInt(u)) => write_uint(u, out),
        (Mode::Seal, Number::Float(f)) => write_seal_float(f, false, out),
        (Mode::Jcs, n) => write_es6(n.as_f64(), out),
    }
}

/// A non-integer-literal number in the seal's form. `exact15` says the
/// literal had at most 15 significant digits and `f` is normal, so rounding
/// to 15 digits would give `f` back (DBL_DIG) and can be skipped.
pub(crate) fn write_seal_float(f: f64, exact15: bool, out: &mut Vec<u8>) {
    // (`f64::fract` is not in `core`: no_std builds need this spelling.)
    if f.abs() < EXACT && (f as i64) as f64 == f {
        write_int(f as i64, out);
    } else {
        write_es6(if exact15 { f } else { round15(f) }, out);
    }
}

pub(crate) fn write_int(i: i64, out: &mut Vec<u8>) {
    if i < 0 {
        out.push(b'-');
    }
    write_uint(i.unsigned_abs(), out);
}

pub(crate) fn write_uint(mut u: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

/// ECMAScript `Number.prototype.toString` (RFC 8785 §3.2.2.3).
fn write_es6(f: f64, out: &mut Vec<u8>) {
    if f == 0.0 {
        out.push(b'0'); // also -0
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    out.extend_from_slice(buf.format_finite(f).as_bytes());
}

/// Round a finite double to 15 significant decimal digits (the nearest
/// double to that decimal). Any 15-digit decimal survives a round trip
/// through a double, so printing the result with 15, 16 or 17 significant
/// digits and rounding again always comes back to the same value.
pub fn round15(f: f64) -> f64 {
    use core::fmt::Write;
    let mut s: heapless15::Buf = heapless15::Buf::new();
    // `{:.14e}` is correctly rounded (round-half-even on the exact binary value).
    if write!(s, "{f:.14e}").is_err() {
        return f;
    }
    s.as_str().parse::<f64>().unwrap_or(f)
}

mod heapless15 {
    //! A fixed stack buffer for formatting one double without allocating.
    pub(super) struct Buf {
        b: [u8; 40],
        n: usize,
    }
    impl Buf {
        pub(super) fn new() -> Self {
            Buf { b: [0; 40], n: 0 }
        }
        pub(super) fn as_str(&self) -> &str {
            core::str::from_utf8(&self.b[..self.n]).unwrap_or("")
        }
    }
    impl core::fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.n + s.len();
            if end > self.b.len() {
                return Err(core::fmt::Error);
            }
            self.b[self.n..end].copy_from_slice(s.as_bytes());
            self.n = end;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn seal(s: &str) -> String {
        let mut out = Vec::new();
        write_seal(&parse_str(s).unwrap(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn borrowed_when_no_escapes() {
        let v = parse_str(r#"{"a":"plain","b":"esc\n"}"#).unwrap();
        let Value::Obj(m) = v else { panic!() };
        assert!(matches!(m[0].1, Value::Str(Cow::Borrowed(_))));
        assert!(matches!(m[1].1, Value::Str(Cow::Owned(_))));
    }

    #[test]
    fn errors_carry_offsets() {
        assert_eq!(
            parse_str(r#"{"a":1,"a":2}"#),
            Err(JsonError::DuplicateKey {
                offset: 7,
                key: "a".into()
            })
        );
        assert!(matches!(
            parse(b"{\"a\":\"\xff\"}"),
            Err(JsonError::InvalidUtf8 { offset: 6 })
        ));
        assert!(matches!(
            parse_str(r#""\ud800x""#),
            Err(JsonError::LoneSurrogate { offset: 1 })
        ));
        assert!(matches!(
            parse_str("1e400"),
            Err(JsonError::NumberOutOfRange { .. })
        ));
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(matches!(parse_str(&deep), Err(JsonError::TooDeep { .. })));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse_str(&ok).is_ok());
        for bad in ["", "{", "[1,]", "01", "1.", "-", "tru", "\"\u{1}\"", "{} x"] {
            assert!(parse_str(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn seal_numbers() {
        // Exact integers, including beyond 2^53.
        assert_eq!(seal("1700000000123456789"), "1700000000123456789");
        assert_eq!(seal("18446744073709551615"), "18446744073709551615");
        assert_eq!(seal("-9223372036854775808"), "-9223372036854775808");
        // A lossless integer printed as a float.
        assert_eq!(seal("42.0"), "42");
        assert_eq!(seal("4.2e1"), "42");
        assert_eq!(seal("-0.0"), "0");
        // 16 and 17 significant digits agree (Fluent Bit's printing).
        assert_eq!(seal("123456789.123456789"), "123456789.123457");
        assert_eq!(seal("123456789.1234568"), "123456789.123457");
        assert_eq!(seal("0.1"), "0.1");
        assert_eq!(seal("1e30"), "1e+30");
        assert_eq!(seal("[1E-7]"), "[1e-7]");
    }

    #[test]
    fn utf16_order() {
        // U+FB01 sorts after U+1F600 in UTF-16 (0xFB01 > 0xD83D) but before in UTF-8.
        let mut keys = vec!["\u{1F600}", "\u{FB01}", "a", ""];
        keys.sort_by(|a, b| utf16_cmp(a, b));
        assert_eq!(keys, vec!["", "a", "\u{1F600}", "\u{FB01}"]);
    }
}

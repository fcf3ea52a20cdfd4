//! The hot path: JSON text to the seal's canonical bytes in one pass, with no
//! value tree.
//!
//! [`json::parse`](crate::json::parse) + [`json::write_seal`](crate::json::write_seal)
//! build a tree of every record and write it out again; that costs most of a
//! seal or a verification. [`Canon`] instead writes each value's canonical
//! bytes as it reads it, into one reused buffer:
//!
//! * a string without escapes is already canonical (its raw bytes between the
//!   quotes are the string, and RFC 8785 escapes only what JSON forces anyone
//!   to escape), so it is copied whole after a word-at-a-time scan;
//! * an integer literal that fits `i64`/`u64` is already canonical (`-0` aside);
//!   a literal with at most 15 significant digits needs no rounding;
//! * an object's members are written in input order and permuted only when
//!   they are not sorted already. Canonical input (every stored sealed record)
//!   is therefore copied, never rearranged.
//!
//! The top-level object's members are left unsorted in the buffer with a
//! sorted index, so the sealer can splice in its own members and the verifier
//! can leave pipeline-added ones out without another copy.
//!
//! `Canon` accepts exactly what [`json::parse`](crate::json::parse) accepts
//! and produces exactly what `write_seal` writes; the tests (and the property
//! tests in `tests/canon.rs`) hold it to that. On any error the caller falls
//! back to the tree parser, which reports the error with its offset, so both
//! paths produce the same wrapped records.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::json::{self, MAX_DEPTH};

/// One member of an object: `"key":value` in the output buffer, and where its
/// decoded name can be read for sorting.
#[derive(Clone, Copy, Debug)]
struct Member {
    /// Start of `"key":value` in `out`.
    start: usize,
    /// End of the key (the `:`) in `out`.
    colon: usize,
    /// End of the value in `out`.
    end: usize,
    /// Decoded name: `keys[ks..ke]` if `escaped`, else `out[ks..ke]`.
    ks: usize,
    ke: usize,
    escaped: bool,
    /// The value's span in the input.
    vin: (usize, usize),
}

/// Input rejected; the caller re-parses with [`json::parse`] for the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected;

type R = Result<(), Rejected>;

/// A reusable single-pass canonicaliser (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Canon {
    out: Vec<u8>,
    keys: Vec<u8>,
    tmp: Vec<u8>,
    members: Vec<Member>,
    /// Name of a top-level member whose object value's members are kept.
    capture: Option<&'static str>,
    /// Those members, sorted (valid until the next read).
    captured: Vec<Member>,
    /// Whether `captured` holds the members of an object value.
    has_captured: bool,
    /// Objects still to read without trying the verbatim pass first, and
    /// the verbatim pass's misses in a row (see [`Canon::object_str`]).
    skip_verbatim: u32,
    misses: u32,
    /// Whether the last object was read by the verbatim pass.
    verbatim: bool,
}

/// After `n` objects in a row that the verbatim pass could not take, the
/// next `min(2^n - 1, VERBATIM_BACKOFF)` objects go straight to the writing
/// pass: an occasional miss costs one object, while a source whose records
/// never are canonical (a pipeline that re-serialises) pays for a failed
/// attempt once in 65 objects.
const VERBATIM_BACKOFF: u32 = 64;

impl Canon {
    /// A canonicaliser with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also keep the members of the top-level member `name` when its value
    /// is an object (see [`Canon::nested`]); the verifier reads the seal so.
    pub fn capturing(name: &'static str) -> Self {
        Canon {
            capture: Some(name),
            ..Self::default()
        }
    }

    /// Read one JSON object (whitespace around it allowed). On success the
    /// top-level members are available, sorted, through [`Canon::len`],
    /// [`Canon::key`], [`Canon::member`] and [`Canon::value_of`].
    pub fn object(&mut self, input: &[u8]) -> Result<(), Rejected> {
        let text = core::str::from_utf8(input).map_err(|_| Rejected)?;
        self.object_str(text)
    }

    /// [`Canon::object`] on text known to be UTF-8.
    ///
    /// Text that is canonical already, but for the order of its top-level
    /// members (every stored sealed line unless a pipeline re-serialised
    /// it, and compact JSON whose nested objects happen to be in order), is
    /// first read by a pass that only checks that: it writes nothing per
    /// value and copies the text once at the end, so members are spans of
    /// the text itself (the top level is only ever indexed in order, never
    /// rewritten). Anything else that would change in canonical form
    /// (whitespace inside, a nested object's member order, an escape or a
    /// number written another way) ends that pass, and the writing pass
    /// reads the text again; after misses in a row the next objects go
    /// straight to the writing pass for a while ([`VERBATIM_BACKOFF`]). Both
    /// passes give the same members, names and canonical bytes.
    pub fn object_str(&mut self, text: &str) -> Result<(), Rejected> {
        if self.skip_verbatim == 0 {
            if self.read_object::<true>(text).is_ok() {
                self.out.clear();
                self.out.extend_from_slice(text.as_bytes());
                self.verbatim = true;
                self.misses = 0;
                return Ok(());
            }
            self.misses = self.misses.saturating_add(1);
            self.skip_verbatim = (1u32 << self.misses.min(7))
                .saturating_sub(1)
                .min(VERBATIM_BACKOFF);
        } else {
            self.skip_verbatim -= 1;
        }
        self.verbatim = false;
        self.read_object::<false>(text)
    }

    /// [`Canon::object`] by the writing pass alone (for tests that compare
    /// the two passes).
    #[doc(hidden)]
    pub fn object_rewriting(&mut self, input: &[u8]) -> Result<(), Rejected> {
        let text = core::str::from_utf8(input).map_err(|_| Rejected)?;
        self.verbatim = false;
        self.read_object::<false>(text)
    }

    /// How many objects will still skip the verbatim pass (for tests).
    #[doc(hidden)]
    pub fn verbatim_skip(&self) -> u32 {
        self.skip_verbatim
    }

    /// Whether the last object read was canonical already, so its
    /// [`Canon::output`] is the input text (for tests).
    #[doc(hidden)]
    pub fn was_verbatim(&self) -> bool {
        self.verbatim
    }

    /// Read one object; with `V`, only if it is canonical already (see
    /// [`Canon::object_str`]), positions then being offsets in `text`.
    fn read_object<const V: bool>(&mut self, text: &str) -> Result<(), Rejected> {
        let input = text.as_bytes();
        self.out.clear();
        self.keys.clear();
        self.members.clear();
        self.captured.clear();
        self.has_captured = false;
        let mut r = Reader::<V> {
            c: self,
            s: text,
            b: input,
            i: 0,
        };
        r.skip_ws();
        if r.b.get(r.i) != Some(&b'{') {
            return Err(Rejected);
        }
        r.object(1, true)?;
        r.skip_ws();
        if r.i != r.b.len() {
            return Err(Rejected);
        }
        Ok(())
    }

    /// Canonicalise one JSON value of any type; returns its canonical bytes.
    pub fn value(&mut self, input: &[u8]) -> Result<&[u8], Rejected> {
        self.out.clear();
        self.keys.clear();
        self.members.clear();
        let text = core::str::from_utf8(input).map_err(|_| Rejected)?;
        let mut r = Reader::<false> {
            c: self,
            s: text,
            b: input,
            i: 0,
        };
        r.skip_ws();
        r.value(0)?;
        r.skip_ws();
        if r.i != r.b.len() {
            return Err(Rejected);
        }
        Ok(&self.out)
    }

    /// Number of top-level members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the object had no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The decoded name of the `i`-th member in canonical order.
    pub fn key(&self, i: usize) -> &[u8] {
        key_of(&self.members[i], &self.out, &self.keys)
    }

    /// `"key":value` of the `i`-th member in canonical order.
    pub fn member(&self, i: usize) -> &[u8] {
        let m = &self.members[i];
        &self.out[m.start..m.end]
    }

    /// Where `"key":value` of the `i`-th member is in [`Canon::output`].
    pub fn member_span(&self, i: usize) -> core::ops::Range<usize> {
        let m = &self.members[i];
        m.start..m.end
    }

    /// The buffer every member and captured member is a part of. Members
    /// that follow each other in canonical order are often adjacent in it,
    /// separated by one comma, so a caller can copy runs of them at once.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// The canonical value of the `i`-th member.
    pub fn value_of(&self, i: usize) -> &[u8] {
        let m = &self.members[i];
        &self.out[m.colon + 1..m.end]
    }

    /// Where the `i`-th member's value was in the input (as read, before
    /// canonicalisation: numbers keep all their digits).
    pub fn input_span(&self, i: usize) -> core::ops::Range<usize> {
        let (a, b) = self.members[i].vin;
        a..b
    }

    /// The members of the captured object (see [`Canon::capturing`]), if the
    /// named member was present with an object value.
    pub fn nested(&self) -> Option<Nested<'_>> {
        self.has_captured.then_some(Nested { c: self })
    }

    /// Index of the member named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        let name = name.as_bytes();
        (0..self.len()).find(|&i| self.key(i) == name)
    }
}

/// The members of a captured nested object, sorted.
#[derive(Clone, Copy)]
pub struct Nested<'c> {
    c: &'c Canon,
}

impl Nested<'_> {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.c.captured.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.c.captured.is_empty()
    }

    /// Decoded name of member `i`.
    pub fn key(&self, i: usize) -> &[u8] {
        key_of(&self.c.captured[i], &self.c.out, &self.c.keys)
    }

    /// `"key":value` of member `i`, canonical.
    pub fn member(&self, i: usize) -> &[u8] {
        let m = &self.c.captured[i];
        &self.c.out[m.start..m.end]
    }

    /// Where member `i`'s value was in the input.
    pub fn input_span(&self, i: usize) -> core::ops::Range<usize> {
        let (a, b) = self.c.captured[i].vin;
        a..b
    }

    /// Where `"key":value` of member `i` is in [`Canon::output`].
    pub fn member_span(&self, i: usize) -> core::ops::Range<usize> {
        let m = &self.c.captured[i];
        m.start..m.end
    }
}

fn key_of<'a>(m: &Member, out: &'a [u8], keys: &'a [u8]) -> &'a [u8] {
    if m.escaped {
        &keys[m.ks..m.ke]
    } else {
        &out[m.ks..m.ke]
    }
}

/// [`json::utf16_cmp`] on names known to be valid UTF-8.
pub(crate) fn utf16_cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some(i) if a[i] < 0xEE && b[i] < 0xEE => a[i].cmp(&b[i]),
        Some(_) => json::utf16_cmp(
            core::str::from_utf8(a).unwrap_or(""),
            core::str::from_utf8(b).unwrap_or(""),
        ),
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `w` is `"`, `\` or below 0x20 (exact: the classic
/// has-zero-byte test has no false positives when only its `!= 0` is used).
#[inline(always)]
pub(crate) fn special(w: u64) -> bool {
    let q = w ^ (LO * u64::from(b'"'));
    let bs = w ^ (LO * u64::from(b'\\'));
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let ctl = w.wrapping_sub(LO * 0x20) & !w & HI;
    (zero(q) | zero(bs) | ctl) != 0
}

/// One pass over an input. With `V` (verbatim) it writes nothing and fails
/// where the canonical bytes would differ from the input; positions in
/// [`Member`] are then offsets in the input (see [`Canon::object_str`]).
struct Reader<'c, 'a, const V: bool> {
    c: &'c mut Canon,
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<const V: bool> Reader<'_, '_, V> {
    /// Skip whitespace (around the top-level value, where it is allowed
    /// in either pass).
    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// Skip whitespace inside the value: none is canonical.
    #[inline(always)]
    fn ws(&mut self) -> R {
        if V {
            match self.b.get(self.i) {
                Some(b' ' | b'\n' | b'\r' | b'\t') => Err(Rejected),
                _ => Ok(()),
            }
        } else {
            self.skip_ws();
            Ok(())
        }
    }

    /// Where the next canonical byte goes: the output's end, or in the
    /// verbatim pass the input position.
    #[inline(always)]
    fn pos(&self) -> usize {
        if V { self.i } else { self.c.out.len() }
    }

    /// Write one structural byte (the verbatim pass has it in the input).
    #[inline(always)]
    fn emit(&mut self, b: u8) {
        if !V {
            self.c.out.push(b);
        }
    }

    /// A decoded name as stored by [`Member::ks`]/[`Member::ke`].
    fn name(&self, ks: usize, ke: usize, escaped: bool) -> &[u8] {
        if escaped {
            &self.c.keys[ks..ke]
        } else if V {
            &self.b[ks..ke]
        } else {
            &self.c.out[ks..ke]
        }
    }

    fn value(&mut self, depth: usize) -> R {
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth + 1, false),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.lit(b"true"),
            Some(b'f') => self.lit(b"false"),
            Some(b'n') => self.lit(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Rejected),
        }
    }

    fn lit(&mut self, word: &'static [u8]) -> R {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            if !V {
                self.c.out.extend_from_slice(word);
            }
            Ok(())
        } else {
            Err(Rejected)
        }
    }

    /// Writes the canonical string; returns `None` if it had no escapes (its
    /// text is then `out[start+1..end-1]`), else the decoded text's range in
    /// `keys` when `as_key`.
    #[inline]
    fn string_inner(&mut self, as_key: bool) -> Result<Option<(usize, usize)>, Rejected> {
        let start = self.i;
        let mut i = start + 1;
        let b = self.b;
        while i + 8 <= b.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            if special(u64::from_le_bytes(w)) {
                break;
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => {
                    if !V {
                        self.c.out.extend_from_slice(&b[start..=i]);
                    }
                    self.i = i + 1;
                    return Ok(None);
                }
                b'\\' => break,
                0..=0x1f => return Err(Rejected),
                _ => i += 1,
            }
        }
        if i >= b.len() {
            return Err(Rejected);
        }
        // Escapes: decode, then write RFC 8785's escaping.
        let (s, end) = json::decode_string(self.s, start).map_err(|_| Rejected)?;
        self.i = end;
        if V {
            // Canonical only if written exactly as RFC 8785 escapes it.
            let tmp = &mut self.c.tmp;
            tmp.clear();
            json::write_string(&s, tmp);
            if tmp[..] != b[start..end] {
                return Err(Rejected);
            }
        } else {
            json::write_string(&s, &mut self.c.out);
        }
        if as_key {
            let ks = self.c.keys.len();
            self.c.keys.extend_from_slice(s.as_bytes());
            Ok(Some((ks, self.c.keys.len())))
        } else {
            Ok(None)
        }
    }

    fn string(&mut self) -> Result<Option<(usize, usize)>, Rejected> {
        self.string_inner(false)
    }

    fn object(&mut self, depth: usize, top: bool) -> R {
        self.object_inner(depth, top, false)
    }

    fn object_inner(&mut self, depth: usize, top: bool, keep: bool) -> R {
        if depth > MAX_DEPTH {
            return Err(Rejected);
        }
        self.i += 1;
        let base = self.c.members.len();
        let obj_start = self.c.out.len();
        if !top {
            self.emit(b'{');
        }
        self.ws()?;
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            if !top {
                self.emit(b'}');
            }
            return Ok(());
        }
        loop {
            self.ws()?;
            if self.b.get(self.i) != Some(&b'"') {
                return Err(Rejected);
            }
            if self.c.members.len() > base && !top {
                self.emit(b',');
            }
            let start = self.pos();
            let (ks, ke, escaped) = match self.string_inner(true)? {
                None => (start + 1, self.pos() - 1, false),
                Some((ks, ke)) => (ks, ke, true),
            };
            self.ws()?;
            if self.b.get(self.i) != Some(&b':') {
                return Err(Rejected);
            }
            let colon = self.pos();
            self.i += 1;
            self.emit(b':');
            self.ws()?;
            let vstart = self.i;
            let want = top
                && self.b.get(self.i) == Some(&b'{')
                && self
                    .c
                    .capture
                    .is_some_and(|name| self.name(ks, ke, escaped) == name.as_bytes());
            if want {
                self.object_inner(depth + 1, false, true)?;
            } else {
                self.value(depth)?;
            }
            let end = self.pos();
            self.c.members.push(Member {
                start,
                colon,
                end,
                ks,
                ke,
                escaped,
                vin: (vstart, self.i),
            });
            self.ws()?;
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(Rejected),
            }
        }
        let Canon {
            out,
            keys,
            tmp,
            members,
            captured,
            has_captured,
            ..
        } = &mut *self.c;
        let ms = &mut members[base..];
        // Names are read from the input in the verbatim pass.
        let src: &[u8] = if V { self.b } else { out };
        let cmp =
            |a: &Member, b: &Member| utf16_cmp_bytes(key_of(a, src, keys), key_of(b, src, keys));
        let mut sorted = true;
        for w in ms.windows(2) {
            match cmp(&w[0], &w[1]) {
                Ordering::Less => {}
                Ordering::Equal => return Err(Rejected), // duplicate name
                Ordering::Greater => {
                    sorted = false;
                    break;
                }
            }
        }
        if !sorted {
            // The top level's members are only indexed in order (below), so
            // the verbatim pass takes them in any order; not a nested
            // object's, which would have to be rewritten.
            if V && !top {
                return Err(Rejected);
            }
            ms.sort_unstable_by(cmp);
            if ms.windows(2).any(|w| cmp(&w[0], &w[1]) == Ordering::Equal) {
                return Err(Rejected);
            }
            if !top {
                // Rewrite the object's members in order.
                tmp.clear();
                tmp.extend_from_slice(&out[obj_start..]);
                out.truncate(obj_start + 1);
                for (j, m) in ms.iter_mut().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    let at = out.len();
                    out.extend_from_slice(&tmp[m.start - obj_start..m.end - obj_start]);
                    // Where the member is now (only read when captured).
                    let old = m.start;
                    m.colon = m.colon - old + at;
                    m.end = m.end - old + at;
                    if !m.escaped {
                        (m.ks, m.ke) = (m.ks - old + at, m.ke - old + at);
                    }
                    m.start = at;
                }
            }
        }
        if keep {
            captured.clear();
            captured.extend_from_slice(ms);
            *has_captured = true;
        }
        if !top {
            self.emit(b'}');
            self.c.members.truncate(base);
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> R {
        if depth > MAX_DEPTH {
            return Err(Rejected);
        }
        self.i += 1;
        self.emit(b'[');
        self.ws()?;
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            self.emit(b']');
            return Ok(());
        }
        let mut first = true;
        loop {
            self.ws()?;
            if !first {
                self.emit(b',');
            }
            first = false;
            self.value(depth)?;
            self.ws()?;
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.emit(b']');
                    return Ok(());
                }
                _ => return Err(Rejected),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> R {
        let start = self.i;
        let neg = self.b[self.i] == b'-';
        if neg {
            self.i += 1;
        }
        let int_start = self.i;
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Rejected),
        }
        let int_end = self.i;
        let mut frac = (self.i, self.i);
        let mut integral = true;
        if self.b.get(self.i) == Some(&b'.') {
            integral = false;
            self.i += 1;
            let f = self.i;
            if self.digits() == 0 {
                return Err(Rejected);
            }
            frac = (f, self.i);
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            integral = false;
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(Rejected);
            }
        }
        let text = &self.s[start..self.i];
        if integral && int_end - int_start <= 18 {
            // Fits i64 and is already canonical, except `-0`.
            if text == "-0" {
                if V {
                    return Err(Rejected);
                }
                self.c.out.push(b'0');
            } else if !V {
                self.c.out.extend_from_slice(text.as_bytes());
            }
            return Ok(());
        }
        // Otherwise the verbatim pass writes the canonical form aside and
        // compares.
        let out = if V {
            self.c.tmp.clear();
            &mut self.c.tmp
        } else {
            &mut self.c.out
        };
        if integral {
            if let Ok(i) = text.parse::<i64>() {
                json::write_int(i, out);
                return self.same(start);
            }
            if !neg && let Ok(u) = text.parse::<u64>() {
                json::write_uint(u, out);
                return self.same(start);
            }
        }
        let f = match text.parse::<f64>() {
            Ok(f) if f.is_finite() => f,
            _ => return Err(Rejected),
        };
        // Significant digits of the literal: digits of the integer and
        // fraction parts without leading and trailing zeros.
        let ip = &self.b[int_start..int_end];
        let fp = &self.b[frac.0..frac.1];
        let all = ip.iter().chain(fp);
        let n = ip.len() + fp.len();
        let lead = all.clone().take_while(|&&d| d == b'0').count();
        let sig = if lead == n {
            0
        } else {
            let trail = all.rev().take_while(|&&d| d == b'0').count();
            n - lead - trail
        };
        json::write_seal_float(f, sig <= 15 && f.is_normal(), out);
        self.same(start)
    }

    /// In the verbatim pass, whether the canonical form written to `tmp`
    /// is the input from `start` to here.
    #[inline]
    fn same(&self, start: usize) -> R {
        if V && self.c.tmp[..] != self.b[start..self.i] {
            return Err(Rejected);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;

    fn tree(s: &str) -> Option<Vec<u8>> {
        let v = json::parse_str(s).ok()?;
        let mut out = Vec::new();
        json::write_seal(&v, &mut out);
        Some(out)
    }

    fn canon_value(s: &str) -> Option<Vec<u8>> {
        Canon::new().value(s.as_bytes()).ok().map(<[u8]>::to_vec)
    }

    #[test]
    fn agrees_with_tree_writer() {
        let cases = [
            r#"{"b":1,"a":[true,false,null],"c":{"z":"x","y":"\u00e9\n"}}"#,
            r#"{"a":-0,"b":-0.0,"c":1e2,"d":123456789.123456789,"e":0.1,"f":1E-7}"#,
            r#"{"n":18446744073709551615,"m":-9223372036854775808,"k":99999999999999999999}"#,
            r#"{"big":1700000000123456789,"x":5e-324,"y":1.7976931348623157e308}"#,
            r#"{"\u00e9":1,"e":2,"\ud83d\ude00":3,"\ufb01":4,"a\"b":5}"#,
            r#" { "a" : [ 1 , { "d" : 1 , "c" : [ ] } , { } ] } "#,
            r#"{"s":"a long string without any escapes at all, longer than eight"}"#,
            r#"{"s":"tab\there","t":"\/\b\f\r","u":"\u001f\u007f"}"#,
            r#"{"a":0.000001,"b":1e21,"c":1e-7,"d":100.50,"e":0.30000000000000004}"#,
            r#"[1,"x",{"b":{"d":2,"c":1},"a":0}]"#,
            r#""just a string""#,
            "12.5",
            r#"{"a":{"a":{"a":{"b":1,"a":2}}}}"#,
        ];
        for c in cases {
            assert_eq!(canon_value(c), tree(c), "{c}");
        }
    }

    #[test]
    fn rejects_what_the_parser_rejects() {
        let bad = [
            "",
            "{",
            r#"{"a":1,"a":2}"#,
            r#"{"b":1,"a":2,"a":3}"#,
            "[1,]",
            "01",
            "1.",
            "-",
            "tru",
            "\"\u{1}\"",
            "{} x",
            r#""\ud800x""#,
            "1e400",
            r#"{"a":"unterminated"#,
            r#"{"a" 1}"#,
            r#""\x""#,
        ];
        for b in bad {
            assert!(json::parse_str(b).is_err(), "{b}");
            assert!(canon_value(b).is_none(), "{b:?} must be rejected");
        }
        let deep = String::from("[").repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(canon_value(&deep).is_none());
        let ok = String::from("[").repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(canon_value(&ok), tree(&ok));
        assert!(Canon::new().object(b"\xff").is_err());
        assert!(Canon::new().object(b"[1]").is_err());
    }

    #[test]
    fn top_level_members_sorted_in_place() {
        let mut c = Canon::new();
        c.object(br#"{"z":1, "a\n":{"y":2,"x":1}, "m":"s"}"#)
            .unwrap();
        let keys: Vec<&[u8]> = (0..c.len()).map(|i| c.key(i)).collect();
        assert_eq!(keys, vec![&b"a\n"[..], b"m", b"z"]);
        assert_eq!(c.member(0), br#""a\n":{"x":1,"y":2}"#);
        assert_eq!(c.value_of(2), b"1");
        assert_eq!(c.find("m"), Some(1));
    }

    #[test]
    fn special_bytes() {
        assert!(!special(u64::from_le_bytes(*b"abcdefgh")));
        for (i, c) in [b'"', b'\\', 0u8, 0x1f].into_iter().enumerate() {
            let mut w = *b"abcdefgh";
            w[i * 2 + 1] = c;
            assert!(special(u64::from_le_bytes(w)), "{c}");
        }
        assert!(!special(u64::from_le_bytes([
            0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'
        ])));
    }
}

//! The hot path: JSON text to the seal's canonical bytes in one pass, with no
//! value tree.
//!
//! [`json::parse`](crate::json::parse) + [`json::write_seal`](crate::json::write_seal)
//! build a tree of every record and write it out again; that costs most of a
//! seal or a verification. [`Canon`] instead produces the canonical bytes as
//! it reads, into one reused buffer, and most of them are the input's own:
//!
//! * a string without escapes is already canonical (its raw bytes between the
//!   quotes are the string, and RFC 8785 escapes only what JSON forces anyone
//!   to escape), so it is only scanned, a word at a time;
//! * an integer literal that fits `i64`/`u64` is already canonical (`-0` aside);
//!   a literal with at most 15 significant digits needs no rounding;
//! * an object's members stay in input order and are permuted only when they
//!   are not sorted already. Canonical input (every stored sealed record) is
//!   therefore copied, never rearranged.
//!
//! So the input is copied lazily, in runs: a run of canonical input bytes
//! is copied once, where whitespace is left out, an escape or a number is
//! rewritten, or an object closes, instead of token by token (a sealed line
//! has some 40 tokens; each copy of a few bytes is a call, in WebAssembly a
//! host-assisted one).
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
    /// The name's first 8 bytes, big-endian, zero-padded: most comparisons
    /// are decided by it without reading the name (see [`cmp_members`]).
    pre: u64,
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
}

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
    pub fn object_str(&mut self, text: &str) -> Result<(), Rejected> {
        let input = text.as_bytes();
        self.out.clear();
        self.keys.clear();
        self.members.clear();
        self.captured.clear();
        self.has_captured = false;
        let mut r = Reader {
            c: self,
            s: text,
            b: input,
            i: 0,
            run: 0,
        };
        r.skip_ws();
        if r.b.get(r.i) != Some(&b'{') {
            return Err(Rejected);
        }
        r.run = r.i;
        r.object(1, true)?;
        r.flush();
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
        let mut r = Reader {
            c: self,
            s: text,
            b: input,
            i: 0,
            run: 0,
        };
        r.skip_ws();
        r.run = r.i;
        r.value(0)?;
        r.flush();
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

/// The first 8 bytes of `k`, big-endian, zero-padded.
#[inline]
fn prefix(k: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(k) {
        *d = *s;
    }
    u64::from_be_bytes(w)
}

/// [`prefix`] of `b[k]`, read as one word when the input has 8 bytes there.
#[inline(always)]
fn prefix_in(b: &[u8], k: core::ops::Range<usize>) -> u64 {
    match b.get(k.start..k.start + 8) {
        Some(w) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            let w = u64::from_be_bytes(a);
            let n = k.len();
            if n >= 8 {
                w
            } else {
                w & !(u64::MAX >> (8 * n))
            }
        }
        None => prefix(&b[k]),
    }
}

/// Names in UTF-16 order, from their prefixes when those differ in a byte
/// below 0xEE (where UTF-8 byte order is UTF-16 order; zero padding sorts
/// a shorter name first, as does a NUL in the name), else in full.
#[inline(always)]
fn cmp_members(a: &Member, b: &Member, out: &[u8], keys: &[u8]) -> Ordering {
    let x = a.pre ^ b.pre;
    if x != 0 {
        let shift = 56 - (x.leading_zeros() & !7);
        let (ca, cb) = ((a.pre >> shift) as u8, (b.pre >> shift) as u8);
        if ca < 0xEE && cb < 0xEE {
            return ca.cmp(&cb);
        }
    }
    full(a, b, out, keys)
}

/// [`cmp_members`] when the prefixes do not decide it (kept out of line so
/// the prefix test inlines small).
#[inline(never)]
fn full(a: &Member, b: &Member, out: &[u8], keys: &[u8]) -> Ordering {
    utf16_cmp_bytes(key_of(a, out, keys), key_of(b, out, keys))
}

/// [`json::utf16_cmp`] on names known to be valid UTF-8.
#[inline]
pub(crate) fn utf16_cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    // Names usually differ in their first byte.
    if let (Some(&x), Some(&y)) = (a.first(), b.first())
        && x != y
        && x < 0xEE
        && y < 0xEE
    {
        return x.cmp(&y);
    }
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

/// One pass over an input, which it copies lazily: canonical
/// bytes that the input already has (strings without escapes, short
/// integers, literals, punctuation) stay in a pending run `b[run..i]`,
/// copied to `out` when something must be written differently (whitespace
/// left out, an escape or a number rewritten) and whenever an object
/// closes (its members' names are then read from `out`, and a nested object
/// out of order is rewritten there). A position is `out.len()` plus the
/// pending run's length, the same before and after a copy.
struct Reader<'c, 'a> {
    c: &'c mut Canon,
    s: &'a str,
    b: &'a [u8],
    i: usize,
    run: usize,
}

impl Reader<'_, '_> {
    /// Skip whitespace (around the top-level value, where nothing is
    /// copied yet or any more).
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

    /// Skip whitespace inside the value: none is canonical, so the pending
    /// run ends before it and starts again after it.
    #[inline(always)]
    fn ws(&mut self) {
        if let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.flush();
            self.skip_ws();
            self.run = self.i;
        }
    }

    /// Where the next canonical byte goes: the output's end plus the
    /// pending run.
    #[inline(always)]
    fn pos(&self) -> usize {
        self.c.out.len() + (self.i - self.run)
    }

    /// Copy the pending run to `out`.
    #[inline(always)]
    fn flush(&mut self) {
        self.c.out.extend_from_slice(&self.b[self.run..self.i]);
        self.run = self.i;
    }

    /// The token read from `start` to here is written differently: copy the
    /// pending run up to it; the caller writes its canonical form next.
    #[inline]
    fn replace(&mut self, start: usize) {
        self.c.out.extend_from_slice(&self.b[self.run..start]);
        self.run = self.i;
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
        self.replace(start);
        json::write_string(&s, &mut self.c.out);
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
        let obj_start = self.pos();
        self.i += 1;
        let base = self.c.members.len();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return Err(Rejected);
            }
            let start = self.pos();
            let kin = self.i;
            let (ks, ke, escaped) = match self.string_inner(true)? {
                None => (start + 1, self.pos() - 1, false),
                Some((ks, ke)) => (ks, ke, true),
            };
            let kin = kin + 1..self.i - 1;
            let pre = if escaped {
                prefix(&self.c.keys[ks..ke])
            } else {
                prefix_in(self.b, kin.clone())
            };
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return Err(Rejected);
            }
            let colon = self.pos();
            self.i += 1;
            self.ws();
            let vstart = self.i;
            let want = top
                && self.b.get(self.i) == Some(&b'{')
                && self.c.capture.is_some_and(|name| {
                    let k = if escaped {
                        &self.c.keys[ks..ke]
                    } else {
                        &self.b[kin]
                    };
                    k == name.as_bytes()
                });
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
                pre,
                vin: (vstart, self.i),
            });
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(Rejected),
            }
        }
        // Names are read from `out`.
        self.flush();
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
        // The top level is sorted in its index (`members`) only; a nested
        // object out of order is rewritten in `out`.
        let in_order = sort_members(ms, out, keys)?;
        if !in_order && !top {
            // Rewrite the object's members in order (the whole object,
            // `}` included, is in `out` since the flush above).
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
            out.push(b'}');
        }
        if keep {
            captured.clear();
            captured.extend_from_slice(ms);
            *has_captured = true;
        }
        if !top {
            self.c.members.truncate(base);
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> R {
        if depth > MAX_DEPTH {
            return Err(Rejected);
        }
        self.i += 1;
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.value(depth)?;
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
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
        let mut exponent = false;
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
            exponent = true;
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
                self.replace(start);
                self.c.out.push(b'0');
            }
            return Ok(());
        }
        if !exponent && decimal_is_canonical(&self.b[int_start..int_end], &self.b[frac.0..frac.1]) {
            return Ok(());
        }
        // Otherwise the canonical form is written in place of the literal.
        self.replace(start);
        let out = &mut self.c.out;
        if integral {
            if let Ok(i) = text.parse::<i64>() {
                json::write_int(i, out);
                return Ok(());
            }
            if !neg && let Ok(u) = text.parse::<u64>() {
                json::write_uint(u, out);
                return Ok(());
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
        Ok(())
    }
}

/// Sort an object's members by name; `Ok(true)` when they were in order
/// already, `Err` on a duplicate name.
///
/// Objects are small (a few members) and often sorted, so this is an
/// insertion sort, which also finds duplicates without another pass: it
/// compares every pair that ends up adjacent (each element with the one it
/// stops at and the one it passed last; an element inserted between two
/// others is compared with both), and a duplicate name is adjacent to its
/// twin once sorted. On sorted input it makes `n - 1` comparisons. Large
/// objects go to the library sort and a pass over neighbours.
#[inline]
fn sort_members(ms: &mut [Member], out: &[u8], keys: &[u8]) -> Result<bool, Rejected> {
    let cmp = |a: &Member, b: &Member| cmp_members(a, b, out, keys);
    if ms.len() > 32 {
        let sorted = ms.is_sorted_by(|a, b| cmp(a, b).is_lt());
        if !sorted {
            ms.sort_unstable_by(&cmp);
        }
        if ms.windows(2).any(|w| cmp(&w[0], &w[1]) == Ordering::Equal) {
            return Err(Rejected);
        }
        return Ok(sorted);
    }
    let mut sorted = true;
    for i in 1..ms.len() {
        let mut j = i;
        loop {
            match cmp_members(&ms[j - 1], &ms[j], out, keys) {
                Ordering::Less => break,
                Ordering::Equal => return Err(Rejected),
                Ordering::Greater => {
                    sorted = false;
                    ms.swap(j - 1, j);
                    j -= 1;
                    if j == 0 {
                        break;
                    }
                }
            }
        }
    }
    Ok(sorted)
}

/// Whether a decimal literal `ip.fp` (no exponent) is its own canonical
/// form: at most 15 significant digits (so it is the shortest decimal that
/// reads back as its double: two such decimals never share a double), the
/// last fraction digit not 0, and at least 1e-6 (ECMAScript writes smaller
/// numbers with an exponent; an integer part of at most 14 digits keeps it
/// below 1e21). Such literals are written exactly as read.
fn decimal_is_canonical(ip: &[u8], fp: &[u8]) -> bool {
    let Some(&last) = fp.last() else {
        return false;
    };
    if last == b'0' {
        return false;
    }
    if ip == b"0" {
        let zeros = fp.iter().take_while(|&&d| d == b'0').count();
        zeros <= 5 && fp.len() - zeros <= 15
    } else {
        ip.len() + fp.len() <= 15
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

//! Little-endian byte writer/reader for the versioned state snapshot.

use crate::StateError;
use alloc::string::String;
use alloc::vec::Vec;

pub const MAGIC: &[u8; 8] = b"LSANOMAL";
/// 2: a layout tag before each count-min sketch's cells (1 had none: every
/// sketch one region per row, still restored as such). 3: the engine's hash
/// key after the fingerprint (1 and 2: unkeyed). 4: `sequence` templates
/// mined with `extract` captures masked (1 to 3: as written; such a
/// detector's state is not restored from them). 5: the clock's state after
/// the decay epoch (peak time, events since the last jump, a jump being
/// confirmed); 1 to 4 had none (estimated on restore). 6: entity profiles
/// count per `new_value` feature slot the events looked at (1 to 5: all of
/// the entity's events, taken as each slot's count on restore), the time
/// counts last halved (after the clock state; 1 to 5: the decay epoch's
/// start), each `rate` series' latest bucket and its count there (1 to 5:
/// the open bucket), and a fingerprint without the policy's name,
/// `alerting` (but `evidence_p`), `allowlist` and `suppress`. 7 (December
/// 2026): each `threshold` and `followed_by` window its latest 8
/// sub-buckets and a run of 8 behind them, each `distinct` window its
/// latest 2 halves and a run of 2 behind them, and each `sequence`
/// detector's novelty count after its template counts (1 to 6: the
/// templates with a count); a later commit of the same session wrote 7 in
/// another layout for minutes, and such a state is refused. 8: each
/// `threshold` and `followed_by` window its latest 16 sub-buckets, the 8
/// before them and a far run of 8; each `distinct` window its latest 4
/// halves, the 2 before them and a far run of 2. 9: each table's bucket
/// count, after its evictions (before, a restored table worked it out from
/// its entries, not always as the writer had it: found by review). 10:
/// a `sequence` session's length as 16 bits and, when its last event was
/// never seen, a 16-bit hash of that line (before, a 32-bit length). 11:
/// a `rate` series' dispersion (variance over expected count) where an
/// unused field was, and its drift (a tracking signal of a change); an older
/// state's dispersion is worked out from its absolute spread and level.
pub const VERSION: u16 = 11;

/// A packed snapshot: this magic, the plain snapshot's length (u32, little
/// endian), then the plain snapshot (magic and all) as a raw DEFLATE stream
/// (RFC 1951). Packing is a layer around the versioned format, not part of
/// it: a plain snapshot of any version restores as before.
pub const PACKED_MAGIC: &[u8; 8] = b"LSANOMDZ";

/// DEFLATE level 1, the fastest: what shrinks is the sketches' runs of
/// zeros, which every level finds (costs and sizes at this level in
/// `BENCHMARKS.md`; other levels not measured). A reader takes any level.
const LEVEL: u8 = 1;

/// Pack a plain snapshot.
pub fn pack(plain: &[u8]) -> Vec<u8> {
    let z = miniz_oxide::deflate::compress_to_vec(plain, LEVEL);
    let mut out = Vec::with_capacity(8 + 4 + z.len());
    out.extend_from_slice(PACKED_MAGIC);
    out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    out.extend_from_slice(&z);
    out
}

/// The plain snapshot inside a packed one, no longer than `limit` bytes
/// (a forged length or stream must not make the reader allocate more than
/// the engine could ever have written).
pub fn unpack(bytes: &[u8], limit: usize) -> Result<Vec<u8>, StateError> {
    if bytes.len() < 8 + 4 {
        return Err(StateError::Corrupt("truncated"));
    }
    let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    if n > limit {
        return Err(StateError::Corrupt("packed length over the policy's bound"));
    }
    let plain = miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes[12..], n)
        .map_err(|_| StateError::Corrupt("packed stream"))?;
    if plain.len() != n {
        return Err(StateError::Corrupt("packed length"));
    }
    if plain.len() >= 8 && &plain[..8] == PACKED_MAGIC {
        // (one layer only)
        return Err(StateError::Corrupt("packed twice"));
    }
    Ok(plain)
}

#[derive(Default)]
pub struct W {
    pub buf: Vec<u8>,
}

impl W {
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
    }
    pub fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.buf.extend_from_slice(b);
    }
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

pub struct R<'a> {
    pub b: &'a [u8],
    /// The snapshot's format version (values read differently by it).
    pub v: u16,
}

const TRUNC: StateError = StateError::Corrupt("truncated");

impl<'a> R<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], StateError> {
        if self.b.len() < n {
            return Err(TRUNC);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    pub fn u16(&mut self) -> Result<u16, StateError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, StateError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn u64(&mut self) -> Result<u64, StateError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    pub fn f32(&mut self) -> Result<f32, StateError> {
        Ok(f32::from_bits(self.u32()?))
    }
    pub fn f64(&mut self) -> Result<f64, StateError> {
        Ok(f64::from_bits(self.u64()?))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], StateError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn str(&mut self) -> Result<String, StateError> {
        let b = self.bytes()?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| StateError::Corrupt("bad utf-8"))
    }
    /// A length that must fit in what is left (each item at least `min_item` bytes).
    pub fn len(&mut self, min_item: usize) -> Result<usize, StateError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > self.b.len() {
            return Err(TRUNC);
        }
        Ok(n)
    }
}

/// Fixed-size values stored in tables.
pub trait Pod: Sized {
    const SIZE: usize;
    /// Bytes of a value in snapshot format `v`.
    fn size_in(v: u16) -> usize {
        let _ = v;
        Self::SIZE
    }
    fn put(&self, w: &mut W);
    fn get(r: &mut R<'_>) -> Result<Self, StateError>;
}

impl Pod for u32 {
    const SIZE: usize = 4;
    fn put(&self, w: &mut W) {
        w.u32(*self)
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        r.u32()
    }
}

impl Pod for f32 {
    const SIZE: usize = 4;
    fn put(&self, w: &mut W) {
        w.f32(*self)
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        r.f32()
    }
}

use crate::store::Table;

pub fn put_table<V: Copy + Default + Pod>(w: &mut W, t: &Table<V>) {
    w.u32(t.tick());
    w.u64(t.evictions);
    w.u32(t.buckets() as u32);
    w.u32(t.len() as u32);
    for (k, tick, v) in t.iter() {
        w.u64(k);
        w.u32(tick);
        v.put(w);
    }
}

pub fn get_table<V: Copy + Default + Pod>(
    r: &mut R<'_>,
    t: &mut Table<V>,
) -> Result<(), StateError> {
    let tick = r.u32()?;
    let ev = r.u64()?;
    // format 9 on: the bucket count the entries were held in
    let buckets = if r.v >= 9 {
        Some(r.u32()? as usize)
    } else {
        None
    };
    let n = r.len(12 + V::size_in(r.v))?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.u64()?;
        let tk = r.u32()?;
        let v = V::get(r)?;
        entries.push((k, tk, v));
    }
    t.restore_parts(tick, ev, &entries, buckets);
    Ok(())
}

//! Verification spread over Web Workers.
//!
//! Reading a record (parse, canonicalise, SHA-256) is most of the work and is
//! independent per line; the chain, Merkle and checkpoint checks need all
//! records in one place but are cheap. So the session that owns the
//! [`Verifier`](logseal_core::Verifier) cuts the lines it splits into
//! batches ([`Batcher`]); reader workers turn a batch into read results
//! ([`read_batch`]); the session adds the results in batch order
//! ([`apply`]). The report is byte for byte the one-thread report: the same
//! lines reach the verifier in the same order.
//!
//! Both encodings are private to this crate (the same build writes and reads
//! them): little-endian integers, strings as a `u32` length and UTF-8 bytes.

use logseal_core::Hash;
use logseal_core::record::{AddedFields, SealedRecord};
use logseal_core::seal::{After, Lost};
use logseal_core::verify::{Verifier, unreadable_message};

use crate::{LineVerifier, ScorePoint};

const BATCH_MAGIC: u8 = b'B';
const RESULT_MAGIC: u8 = b'R';

/// Lines per batch: big enough that a worker round trip is negligible,
/// small enough to keep every worker busy and memory flat.
pub const BATCH_LINES: u32 = 4096;

/// Collects lines into batches.
#[derive(Default)]
pub struct Batcher {
    cur: Vec<u8>,
    count: u32,
    file: u32,
    ready: std::collections::VecDeque<Vec<u8>>,
    /// Size of the last batch.
    last: usize,
}

impl Batcher {
    /// Add line `n` of file `file`.
    pub fn add(&mut self, file: u32, n: u64, line: &[u8]) {
        if self.count > 0 && self.file != file {
            self.flush();
        }
        if self.count == 0 {
            self.file = file;
            // Room for a batch like the last one: no doubling and copying.
            self.cur = Vec::with_capacity(self.last + self.last / 8);
            self.cur.push(BATCH_MAGIC);
            self.cur.extend_from_slice(&file.to_le_bytes());
            self.cur.extend_from_slice(&0u32.to_le_bytes());
        }
        self.cur.extend_from_slice(&n.to_le_bytes());
        self.cur
            .extend_from_slice(&(line.len() as u32).to_le_bytes());
        self.cur.extend_from_slice(line);
        self.count += 1;
        if self.count == BATCH_LINES {
            self.flush();
        }
    }

    /// Close the batch being filled, if any.
    pub fn flush(&mut self) {
        if self.count == 0 {
            return;
        }
        self.cur[5..9].copy_from_slice(&self.count.to_le_bytes());
        self.last = self.cur.len();
        self.ready.push_back(std::mem::take(&mut self.cur));
        self.count = 0;
    }

    /// The next complete batch.
    pub fn take(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }
}

struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, x: u8) {
        self.0.push(x);
    }
    fn u32(&mut self, x: u32) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn u64(&mut self, x: u64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn hash(&mut self, h: &Hash) {
        self.0.extend_from_slice(h);
    }
    fn opt<T>(&mut self, x: &Option<T>, f: impl FnOnce(&mut Self, &T)) {
        match x {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                f(self, v);
            }
        }
    }
}

struct Dec<'a> {
    b: &'a [u8],
    i: usize,
}

type D<T> = Result<T, String>;

fn corrupt() -> String {
    "internal error: a corrupt batch between the verifier's workers".to_string()
}

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> D<&'a [u8]> {
        let s = self.b.get(self.i..self.i + n).ok_or_else(corrupt)?;
        self.i += n;
        Ok(s)
    }
    fn u8(&mut self) -> D<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> D<u32> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> D<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> D<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> D<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt())
    }
    fn hash(&mut self) -> D<Hash> {
        let mut h = [0u8; 32];
        h.copy_from_slice(self.take(32)?);
        Ok(h)
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> D<T>) -> D<Option<T>> {
        match self.u8()? {
            0 => Ok(None),
            1 => f(self).map(Some),
            _ => Err(corrupt()),
        }
    }
}

/// Encode `r`; returns where its `computed` hash was written.
fn encode_record(e: &mut Enc, r: &SealedRecord) -> usize {
    e.str(&r.stream);
    e.str(&r.epoch);
    e.u64(r.seq);
    e.opt(&r.prev, |e, h| e.hash(h));
    e.hash(&r.hash);
    let computed_at = e.0.len();
    e.hash(&r.computed);
    e.opt(&r.checkpoint, |e, s| e.str(s));
    e.opt(&r.tag, |e, s| e.str(s));
    e.opt(&r.time_ns, |e, t| e.u64(*t as u64));
    e.opt(&r.after, |e, a| {
        e.str(&a.epoch);
        e.u64(a.seq);
        e.hash(&a.hash);
    });
    e.opt(&r.lost, |e, l| {
        e.u64(l.from);
        e.u64(l.to);
        e.str(&l.why);
    });
    e.opt(&r.score, |e, s| e.u64(s.to_bits()));
    e.opt(&r.added_mismatch, |e, (a, b, c)| {
        e.str(a);
        e.str(b);
        e.str(c);
    });
    computed_at
}

fn decode_record(d: &mut Dec<'_>) -> D<SealedRecord> {
    Ok(SealedRecord {
        stream: d.string()?,
        epoch: d.string()?,
        seq: d.u64()?,
        prev: d.opt(Dec::hash)?,
        hash: d.hash()?,
        computed: d.hash()?,
        checkpoint: d.opt(Dec::string)?,
        tag: d.opt(Dec::string)?,
        time_ns: d.opt(|d| d.u64().map(|t| t as i64))?,
        after: d.opt(|d| {
            Ok(After {
                epoch: d.string()?,
                seq: d.u64()?,
                hash: d.hash()?,
            })
        })?,
        lost: d.opt(|d| {
            Ok(Lost {
                from: d.u64()?,
                to: d.u64()?,
                why: d.string()?,
            })
        })?,
        score: d.opt(|d| d.u64().map(f64::from_bits))?,
        added_mismatch: d.opt(|d| Ok((d.string()?, d.string()?, d.string()?)))?,
    })
}

/// A reader worker's state: one reader with its buffers.
pub struct BatchReader {
    reader: LineVerifier,
    /// The leaves' inputs of the batch being read, one after another.
    leaves: Vec<u8>,
}

impl BatchReader {
    /// A reader with the session's `--time-field` / `--tag-field`.
    pub fn new(added: AddedFields) -> Self {
        BatchReader {
            reader: LineVerifier::new(added),
            leaves: Vec::new(),
        }
    }
}

/// Read every line of a batch: what the verifier would read, encoded.
pub fn read_batch(br: &mut BatchReader, batch: &[u8]) -> D<Vec<u8>> {
    let mut d = Dec { b: batch, i: 0 };
    if d.u8()? != BATCH_MAGIC {
        return Err(corrupt());
    }
    let file = d.u32()?;
    let count = d.u32()?;
    let mut e = Enc(Vec::with_capacity(count as usize * 200));
    // (leaf input start, end, where its hash goes in `e`) per record read.
    let mut todo: Vec<(usize, usize, usize)> = Vec::with_capacity(count as usize);
    br.leaves.clear();
    e.u8(RESULT_MAGIC);
    e.u32(file);
    e.u32(count);
    for _ in 0..count {
        let n = d.u64()?;
        let line = d.bytes()?;
        e.u64(n);
        if line.iter().all(u8::is_ascii_whitespace) {
            e.u8(0); // no score
            e.u8(0); // blank
            continue;
        }
        let start = br.leaves.len();
        let (score, read) = br.reader.read_unhashed(line, &mut br.leaves);
        e.opt(&score, |e, s| e.u64(s.to_bits()));
        match read {
            Ok(r) => {
                e.u8(1);
                let at = encode_record(&mut e, &r);
                todo.push((start, br.leaves.len(), at));
            }
            Err(err) => {
                e.u8(2);
                e.str(&unreadable_message(&err));
                br.leaves.truncate(start);
            }
        }
    }
    // The entry hashes, all at once (four at a time in SIMD lanes in a
    // browser: `logseal_core::many`).
    let msgs: Vec<&[u8]> = todo.iter().map(|&(a, b, _)| &br.leaves[a..b]).collect();
    let mut hashes = vec![[0u8; 32]; msgs.len()];
    logseal_core::many::sha256_many(&msgs, &mut hashes);
    for (&(_, _, at), h) in todo.iter().zip(&hashes) {
        e.0[at..at + 32].copy_from_slice(h);
    }
    br.leaves.clear();
    Ok(e.0)
}

/// Add a batch's results to the verifier (and the scores to the timeline).
pub fn apply(v: &mut Verifier, scores: &mut Vec<ScorePoint>, results: &[u8]) -> D<()> {
    let mut d = Dec { b: results, i: 0 };
    if d.u8()? != RESULT_MAGIC {
        return Err(corrupt());
    }
    let file = d.u32()?;
    let count = d.u32()?;
    for _ in 0..count {
        let line = d.u64()?;
        if let Some(score) = d.opt(|d| d.u64().map(f64::from_bits))? {
            scores.push(ScorePoint { file, line, score });
        }
        match d.u8()? {
            0 => {}
            1 => v.add_record(file, line, Ok(decode_record(&mut d)?)),
            2 => v.add_unreadable(file, line, d.string()?),
            _ => return Err(corrupt()),
        }
    }
    if d.i != results.len() {
        return Err(corrupt());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Session;
    use logseal_core::{Input, SealConfig, Sealer, SignerKey};

    /// A sealed, tampered, scored log of `n` lines over two files.
    fn files(n: u64) -> (String, Vec<(String, Vec<u8>)>) {
        let key = SignerKey::from_seed("batch.logseal.test/audit", [9; 32]).unwrap();
        let public = key.verifier().to_string();
        let mut cfg = SealConfig::new("batch.logseal.test/audit", "e1");
        cfg.checkpoint_every = 700;
        let mut s = Sealer::new(key, cfg).unwrap();
        let mut lines: Vec<String> = (0..n)
            .map(|i| {
                let rec = format!(r#"{{"i":{i},"user":"u{}","msg":"caf\u00e9 {i}"}}"#, i % 7);
                let verdict = format!(r#"{{"score":{},"reasons":[]}}"#, (i % 10) as f64 / 10.0);
                let line = s.seal(Input {
                    record: rec.as_bytes(),
                    tag: Some("app"),
                    time_ns: Some(1_795_000_000_000_000_000 + i as i64),
                    verdict: Some(&verdict),
                    force_checkpoint: false,
                });
                String::from_utf8(line.line).unwrap()
            })
            .collect();
        lines[4095] = lines[4095].replacen("\"u", "\"U", 1);
        lines.remove(5000);
        lines.insert(4096, String::new());
        lines.insert(100, "not json at all".to_string());
        lines.insert(7000, r#"{"no":"seal"}"#.to_string());
        let (a, b) = lines.split_at(6000);
        (
            public,
            vec![
                ("a.ndjson".to_string(), (a.join("\n") + "\n").into_bytes()),
                ("b.ndjson".to_string(), b.join("\r\n").into_bytes()),
            ],
        )
    }

    fn serial(keys: &str, files: &[(String, Vec<u8>)]) -> (String, Vec<crate::ScorePoint>) {
        let mut s = Session::new(keys, "", "").unwrap();
        for (name, data) in files {
            s.begin_file(name).unwrap();
            for c in data.chunks(65_536) {
                s.push(c).unwrap();
            }
            s.end_file().unwrap();
        }
        let scores = s.scores().to_vec();
        (s.finish(), scores)
    }

    #[test]
    fn parallel_session_reports_exactly_what_one_thread_does() {
        let (keys, files) = files(12_000);
        let (want, want_scores) = serial(&keys, &files);
        assert!(
            want.contains("\"modified\"") && want.contains("\"deleted\""),
            "{want}"
        );
        assert!(want.contains("\"unsealed\""));

        let mut s = Session::parallel(&keys, "", "").unwrap();
        let mut readers = [
            super::BatchReader::new(Default::default()),
            super::BatchReader::new(Default::default()),
        ];
        let mut batches = Vec::new();
        for (name, data) in &files {
            s.begin_file(name).unwrap();
            for c in data.chunks(100_000) {
                s.push(c).unwrap();
                while let Some(b) = s.take_batch() {
                    batches.push(b);
                }
            }
            s.end_file().unwrap();
            while let Some(b) = s.take_batch() {
                batches.push(b);
            }
        }
        assert!(batches.len() >= 4, "{} batches", batches.len());
        // Read out of order, on alternating readers; apply in order.
        let mut results: Vec<Option<Vec<u8>>> = vec![None; batches.len()];
        for (k, i) in (0..batches.len()).rev().enumerate() {
            results[i] = Some(super::read_batch(&mut readers[k % 2], &batches[i]).unwrap());
        }
        for r in results {
            s.add_batch(&r.unwrap()).unwrap();
        }
        assert_eq!(s.scores(), want_scores.as_slice());
        assert_eq!(s.finish(), want);
    }

    #[test]
    fn corrupt_batches_are_errors_not_panics() {
        let mut s = Session::parallel("", "", "").unwrap();
        s.begin_file("x").unwrap();
        s.push(b"{\"a\":1}\n").unwrap();
        s.end_file().unwrap();
        let b = s.take_batch().unwrap();
        let mut r = super::BatchReader::new(Default::default());
        let res = super::read_batch(&mut r, &b).unwrap();
        for cut in 0..res.len() {
            assert!(s.add_batch(&res[..cut]).is_err(), "cut at {cut}");
        }
        assert!(super::read_batch(&mut r, &b[..b.len() - 1]).is_err());
        assert!(super::read_batch(&mut r, b"").is_err());
    }
}

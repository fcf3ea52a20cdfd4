//! Every wasm-bindgen export of the browser build, and nothing else.
//!
//! JavaScript sees `Session` (streaming verification, see `js/logseal.js` for
//! the typed API built on it) and `verifyEd25519` (logseal's Ed25519 rule, for
//! the edge-case vectors). Errors are thrown as `Error` with a message a
//! person can act on.

use alloc_json::{obj, s, u};
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use crate::Session as Inner;

/// A verification in progress. Call `beginFile`, `push` (any chunk sizes),
/// `endFile` for each log file, `addCheckpoints` for checkpoint files, then
/// `finish` for the report JSON.
#[wasm_bindgen]
pub struct Session {
    inner: Option<Inner>,
}

fn done() -> JsError {
    JsError::new("this verification session has already finished")
}

#[wasm_bindgen]
impl Session {
    /// `keys`: verifier keys, one per line (`#` comments allowed).
    /// `timeField`, `tagField`: as the CLI's `--time-field` / `--tag-field` ("" for none).
    #[wasm_bindgen(constructor)]
    pub fn new(keys: &str, time_field: &str, tag_field: &str) -> Result<Session, JsError> {
        Inner::new(keys, time_field, tag_field)
            .map(|s| Session { inner: Some(s) })
            .map_err(|e| JsError::new(&e))
    }

    /// A session whose lines are read by reader workers: take batches with
    /// `takeBatch`, read each with a `BatchReader` (in any worker, in any
    /// order), give the results to `addBatch` in the order taken.
    pub fn parallel(keys: &str, time_field: &str, tag_field: &str) -> Result<Session, JsError> {
        Inner::parallel(keys, time_field, tag_field)
            .map(|s| Session { inner: Some(s) })
            .map_err(|e| JsError::new(&e))
    }

    /// The next batch of lines to read (parallel sessions), or undefined.
    /// Written into `spare` (a view of its start is returned) when it fits.
    #[wasm_bindgen(js_name = takeBatch)]
    pub fn take_batch(&mut self, spare: Option<Uint8Array>) -> Result<Option<Uint8Array>, JsError> {
        Ok(self.get()?.take_batch().map(|b| to_js(&b, spare)))
    }

    /// A `BatchReader`'s results for the next batch taken.
    #[wasm_bindgen(js_name = addBatch)]
    pub fn add_batch(&mut self, results: &[u8]) -> Result<(), JsError> {
        self.get()?.add_batch(results).map_err(|e| JsError::new(&e))
    }

    fn get(&mut self) -> Result<&mut Inner, JsError> {
        self.inner.as_mut().ok_or_else(done)
    }

    /// Start a log file; `name` is what findings cite.
    #[wasm_bindgen(js_name = beginFile)]
    pub fn begin_file(&mut self, name: &str) -> Result<(), JsError> {
        self.get()?.begin_file(name).map_err(|e| JsError::new(&e))
    }

    /// The next bytes of the open file (gzip is detected and decompressed).
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsError> {
        self.get()?.push(chunk).map_err(|e| JsError::new(&e))
    }

    /// End the open file.
    #[wasm_bindgen(js_name = endFile)]
    pub fn end_file(&mut self) -> Result<(), JsError> {
        self.get()?.end_file().map_err(|e| JsError::new(&e))
    }

    /// A checkpoint file's text (signed notes one after another).
    #[wasm_bindgen(js_name = addCheckpoints)]
    pub fn add_checkpoints(&mut self, name: &str, text: &str) -> Result<(), JsError> {
        self.get()?
            .add_checkpoints(name, text)
            .map_err(|e| JsError::new(&e))
    }

    /// Per-file figures as JSON: `[{"name","bytes","lines","nonblank","gzip"}]`.
    #[wasm_bindgen(js_name = fileStats)]
    pub fn file_stats(&mut self) -> Result<String, JsError> {
        let files = self.get()?.files();
        let v = alloc_json::Value::Arr(
            files
                .iter()
                .map(|f| {
                    obj(vec![
                        ("name", s(&f.name)),
                        ("bytes", u(f.bytes)),
                        ("lines", u(f.lines)),
                        ("nonblank", u(f.nonblank)),
                        ("gzip", alloc_json::Value::Bool(f.gzip)),
                    ])
                })
                .collect(),
        );
        let mut out = Vec::new();
        alloc_json::write_seal(&v, &mut out);
        Ok(String::from_utf8(out).unwrap_or_default())
    }

    /// File index of every anomaly score seen (parallel to `scoreLines`, `scoreValues`).
    #[wasm_bindgen(js_name = scoreFiles)]
    pub fn score_files(&mut self) -> Result<Vec<u32>, JsError> {
        Ok(self.get()?.scores().iter().map(|p| p.file).collect())
    }

    /// Line of every anomaly score seen.
    #[wasm_bindgen(js_name = scoreLines)]
    pub fn score_lines(&mut self) -> Result<Vec<f64>, JsError> {
        Ok(self.get()?.scores().iter().map(|p| p.line as f64).collect())
    }

    /// Every anomaly score seen.
    #[wasm_bindgen(js_name = scoreValues)]
    pub fn score_values(&mut self) -> Result<Vec<f64>, JsError> {
        Ok(self.get()?.scores().iter().map(|p| p.score).collect())
    }

    /// Check everything: the report JSON, byte for byte `logseal verify --format json`.
    pub fn finish(&mut self) -> Result<String, JsError> {
        let inner = self.inner.take().ok_or_else(done)?;
        if let Some(name) = inner.open_file() {
            let e = JsError::new(&format!(
                "finish while {name:?} is still open; call endFile first"
            ));
            self.inner = Some(inner);
            return Err(e);
        }
        Ok(inner.finish())
    }
}

/// Reads batches of lines for a parallel `Session` (one per reader worker).
#[wasm_bindgen]
pub struct BatchReader {
    inner: crate::batch::BatchReader,
}

#[wasm_bindgen]
impl BatchReader {
    /// `timeField`, `tagField`: as given to the session.
    #[wasm_bindgen(constructor)]
    pub fn new(time_field: &str, tag_field: &str) -> BatchReader {
        let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        BatchReader {
            inner: crate::batch::BatchReader::new(logseal_core::record::AddedFields {
                time_field: nonempty(time_field),
                tag_field: nonempty(tag_field),
            }),
        }
    }

    /// Read a batch from `Session.takeBatch`; the results go to
    /// `Session.addBatch`. Written into `spare` (a view of its start is
    /// returned) when they fit.
    pub fn read(&mut self, batch: &[u8], spare: Option<Uint8Array>) -> Result<Uint8Array, JsError> {
        crate::batch::read_batch(&mut self.inner, batch)
            .map(|r| to_js(&r, spare))
            .map_err(|e| JsError::new(&e))
    }
}

/// Bytes out of wasm memory into a JS array: into the start of `spare` when
/// they fit (batches go back and forth between workers, and a fresh
/// multi-megabyte buffer costs page faults and zeroing every time), else a
/// new array with a quarter more room, so that it fits the next, slightly
/// larger batch when it comes back as a spare (batches vary in size with
/// their lines). (`Vec<u8>` returns copy with `TypedArray.prototype.slice`
/// on a view of wasm memory, which V8 runs about five times slower than
/// `set`.)
fn to_js(bytes: &[u8], spare: Option<Uint8Array>) -> Uint8Array {
    let n = bytes.len() as u32;
    let v = match spare {
        Some(s) if s.length() >= n => s.subarray(0, n),
        _ => Uint8Array::new_with_length(n.saturating_add(n / 4)).subarray(0, n),
    };
    v.copy_from(bytes);
    v
}

/// Picks lines out of a file by number (to show the records findings cite),
/// with the same line numbering as the verifier.
#[wasm_bindgen]
pub struct LinePicker {
    inner: Option<crate::LinePicker>,
}

#[wasm_bindgen]
impl LinePicker {
    /// Pick the lines `wanted` of file `name`, each cut to `maxLen` bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(name: &str, wanted: Vec<f64>, max_len: usize) -> LinePicker {
        let wanted = wanted.into_iter().map(|n| n as u64).collect();
        LinePicker {
            inner: Some(crate::LinePicker::new(name, wanted, max_len)),
        }
    }

    /// The next bytes of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsError> {
        self.inner
            .as_mut()
            .ok_or_else(done)?
            .push(chunk)
            .map_err(|e| JsError::new(&e))
    }

    /// Whether every wanted line was found.
    pub fn done(&self) -> bool {
        self.inner.as_ref().is_some_and(crate::LinePicker::done)
    }

    /// The lines found, as JSON `[[line, "text"], ...]`.
    pub fn finish(&mut self) -> Result<String, JsError> {
        let found = self
            .inner
            .take()
            .ok_or_else(done)?
            .finish()
            .map_err(|e| JsError::new(&e))?;
        let v = alloc_json::Value::Arr(
            found
                .iter()
                .map(|(n, t)| alloc_json::Value::Arr(vec![u(*n), s(t)]))
                .collect(),
        );
        let mut out = Vec::new();
        alloc_json::write_seal(&v, &mut out);
        Ok(String::from_utf8(out).unwrap_or_default())
    }
}

/// logseal's Ed25519 rule (`logseal_core::note::verify_ed25519`) on raw bytes.
#[wasm_bindgen(js_name = verifyEd25519)]
pub fn verify_ed25519(public: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, JsError> {
    let public: &[u8; 32] = public
        .try_into()
        .map_err(|_| JsError::new("public key must be 32 bytes"))?;
    let sig: &[u8; 64] = sig
        .try_into()
        .map_err(|_| JsError::new("signature must be 64 bytes"))?;
    Ok(logseal_core::note::verify_ed25519(public, msg, sig))
}

/// SHA-256 of each message, computed the way the verifier hashes records
/// (`logseal_core::many`: four at a time in SIMD lanes) or, with
/// `lanes = false`, one at a time. `data` holds the messages one after
/// another, `lengths` their lengths; the result is the 32-byte hashes one
/// after another. For tests and benchmarks.
#[wasm_bindgen(js_name = sha256Many)]
pub fn sha256_many(data: &[u8], lengths: &[u32], lanes: bool) -> Result<Vec<u8>, JsError> {
    let mut msgs = Vec::with_capacity(lengths.len());
    let mut at = 0usize;
    for &n in lengths {
        let m = data
            .get(at..at + n as usize)
            .ok_or_else(|| JsError::new("sha256Many: lengths add up to more than data"))?;
        msgs.push(m);
        at += n as usize;
    }
    let mut out = vec![[0u8; 32]; msgs.len()];
    if lanes {
        logseal_core::many::sha256_many_lanes(&msgs, &mut out);
    } else {
        use sha2::Digest as _;
        for (m, o) in msgs.iter().zip(out.iter_mut()) {
            *o = sha2::Sha256::digest(m).into();
        }
    }
    Ok(out.concat())
}

mod alloc_json {
    pub use logseal_core::json::{Number, Value, write_seal};
    use std::borrow::Cow;

    pub fn s(x: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(x))
    }
    pub fn u(x: u64) -> Value<'static> {
        Value::Num(Number::UInt(x))
    }
    pub fn obj<'a>(m: Vec<(&'static str, Value<'a>)>) -> Value<'a> {
        Value::Obj(m.into_iter().map(|(k, v)| (Cow::Borrowed(k), v)).collect())
    }
}

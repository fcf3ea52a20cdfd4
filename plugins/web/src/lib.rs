//! # logseal-web: the logseal verifier for browsers
//!
//! The verifier of `logseal-core`, fed by byte chunks instead of files, so a
//! browser can stream a `File` (or any `ReadableStream`) through it without
//! holding the log in memory. The report is [`logseal_core::Report::to_json`],
//! the same bytes `logseal verify --format json` prints.
//!
//! This module is plain Rust (it builds and is tested natively); every
//! wasm-bindgen export lives in [`bindings`].
//!
//! Input handling matches the CLI (`crates/cli/src/input.rs`): gzip is
//! detected by its magic bytes and may have several members, lines end at
//! `\n` with an optional `\r` before it, the last line needs no newline, and
//! line numbers count every line (blank ones too).

use std::io::Write as _;

use flate2::write::MultiGzDecoder;
use logseal_core::record::AddedFields;
use logseal_core::{Verifier, VerifierKey, VerifyOptions};

pub mod batch;
pub mod bindings;

/// Parse verifier keys: one per line, blank lines and `#` comments skipped
/// (the format of a `--key` file).
pub fn parse_keys(text: &str) -> Result<Vec<VerifierKey>, String> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let k = VerifierKey::parse(line).map_err(|e| {
            format!(
                "verifier keys: line {}: not a verifier key ({e}); expected name+id+key as printed by `logseal keygen`",
                i + 1
            )
        })?;
        keys.push(k);
    }
    Ok(keys)
}

pub use logseal_core::note::split_notes;

/// Per-file figures, for telling a user that a file is not a sealed log at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Name as given.
    pub name: String,
    /// Bytes read (after decompression).
    pub bytes: u64,
    /// Lines (blank ones included).
    pub lines: u64,
    /// Lines that are not blank.
    pub nonblank: u64,
    /// Whether the file was gzip.
    pub gzip: bool,
}

/// One anomaly score found in the input: (file index, line, score).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScorePoint {
    /// Index of the file in the order files were begun.
    pub file: u32,
    /// 1-based line.
    pub line: u64,
    /// The `_anomaly` verdict's `score`.
    pub score: f64,
}

enum Decode {
    /// Fewer than two bytes seen: gzip or not is unknown yet.
    Sniff(Vec<u8>),
    Plain,
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
}

/// Splits one file, pushed in chunks of any size, into numbered lines:
/// gzip detected by its magic bytes (several members allowed), `\n` or
/// `\r\n` endings, a last line without a newline, every line counted.
pub struct LineReader {
    stats: FileStats,
    decode: Decode,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
}

impl LineReader {
    /// A reader for the file `name` (used in error messages).
    pub fn new(name: &str) -> LineReader {
        LineReader {
            stats: FileStats {
                name: name.to_string(),
                ..FileStats::default()
            },
            decode: Decode::Sniff(Vec::new()),
            partial: Vec::new(),
        }
    }

    /// Figures so far.
    pub fn stats(&self) -> &FileStats {
        &self.stats
    }

    /// Feed the next bytes; `each(line_number, line)` is called for every
    /// complete line (without its line ending).
    pub fn push(&mut self, chunk: &[u8], each: &mut dyn FnMut(u64, &[u8])) -> Result<(), String> {
        if let Decode::Sniff(head) = &mut self.decode {
            head.extend_from_slice(chunk);
            if head.len() < 2 {
                return Ok(());
            }
            let head = std::mem::take(head);
            if head.starts_with(&[0x1f, 0x8b]) {
                self.stats.gzip = true;
                self.decode = Decode::Gzip(Box::new(MultiGzDecoder::new(Vec::new())));
            } else {
                self.decode = Decode::Plain;
            }
            return self.push(&head, each);
        }
        match &mut self.decode {
            Decode::Plain => {
                self.lines(chunk, each);
                Ok(())
            }
            Decode::Gzip(d) => {
                let r = d.write_all(chunk);
                let mut out = std::mem::take(d.get_mut());
                self.lines(&out, each);
                if let Decode::Gzip(d) = &mut self.decode {
                    // Give the buffer back to keep its capacity.
                    out.clear();
                    *d.get_mut() = out;
                }
                r.map_err(|e| self.gzip_error(&e))
            }
            Decode::Sniff(_) => unreachable!("handled above"),
        }
    }

    /// End of file: check the gzip trailer, read the last line.
    pub fn finish(mut self, each: &mut dyn FnMut(u64, &[u8])) -> Result<FileStats, String> {
        let decode = std::mem::replace(&mut self.decode, Decode::Plain);
        let r = match decode {
            Decode::Sniff(head) => {
                self.lines(&head, each);
                Ok(())
            }
            Decode::Plain => Ok(()),
            Decode::Gzip(d) => match d.finish() {
                Ok(out) => {
                    self.lines(&out, each);
                    Ok(())
                }
                Err(e) => Err(self.gzip_error(&e)),
            },
        };
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.line(&last, each);
        }
        r.map(|()| self.stats)
    }

    fn gzip_error(&self, e: &std::io::Error) -> String {
        format!(
            "{}: not a valid gzip file ({e}); it broke after {} decompressed bytes ({} lines)",
            self.stats.name, self.stats.bytes, self.stats.lines
        )
    }

    fn lines(&mut self, mut data: &[u8], each: &mut dyn FnMut(u64, &[u8])) {
        self.stats.bytes += data.len() as u64;
        if !self.partial.is_empty() {
            match memchr::memchr(b'\n', data) {
                None => {
                    self.partial.extend_from_slice(data);
                    return;
                }
                Some(i) => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(&data[..i]);
                    self.line(&line, each);
                    line.clear();
                    self.partial = line;
                    data = &data[i + 1..];
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', data) {
            self.line(&data[..i], each);
            data = &data[i + 1..];
        }
        self.partial.extend_from_slice(data);
    }

    fn line(&mut self, line: &[u8], each: &mut dyn FnMut(u64, &[u8])) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.stats.lines += 1;
        if !line.iter().all(u8::is_ascii_whitespace) {
            self.stats.nonblank += 1;
        }
        each(self.stats.lines, line);
    }
}

/// A verification in progress: files are streamed in one after another.
pub struct Session {
    v: Verifier,
    open: Option<(u32, LineReader)>,
    files: Vec<FileStats>,
    scores: Vec<ScorePoint>,
    reader: LineVerifier,
    /// In parallel mode, lines go into batches for reader workers
    /// ([`batch`]) instead of to the verifier.
    batcher: Option<batch::Batcher>,
}

/// Finds the verdict member in a line (for the score timeline).
pub(crate) fn anomaly_finder() -> memchr::memmem::Finder<'static> {
    memchr::memmem::Finder::new(b"\"_anomaly\"").into_owned()
}

/// The anomaly score of a line, for the timeline (see [`score_after`]).
pub(crate) fn score_of_line(anomaly: &memchr::memmem::Finder<'_>, line: &[u8]) -> Option<f64> {
    anomaly.find(line).and_then(|at| score_after(&line[at..]))
}

impl Session {
    /// A session trusting `keys` (see [`parse_keys`]), with the CLI's
    /// `--time-field` / `--tag-field` (empty: none).
    pub fn new(keys: &str, time_field: &str, tag_field: &str) -> Result<Session, String> {
        let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let added = AddedFields {
            time_field: nonempty(time_field),
            tag_field: nonempty(tag_field),
        };
        Ok(Session {
            reader: LineVerifier::new(added.clone()),
            v: Verifier::new(VerifyOptions {
                keys: parse_keys(keys)?,
                added,
            }),
            open: None,
            files: Vec::new(),
            scores: Vec::new(),
            batcher: None,
        })
    }

    /// Like [`Session::new`], but lines are cut into batches
    /// ([`Session::take_batch`]) for [`batch::read_batch`] on other threads,
    /// whose results come back through [`Session::add_batch`] in order.
    pub fn parallel(keys: &str, time_field: &str, tag_field: &str) -> Result<Session, String> {
        let mut s = Session::new(keys, time_field, tag_field)?;
        s.batcher = Some(batch::Batcher::default());
        Ok(s)
    }

    /// The next batch of lines to read (parallel mode).
    pub fn take_batch(&mut self) -> Option<Vec<u8>> {
        self.batcher.as_mut().and_then(batch::Batcher::take)
    }

    /// Add the results of [`batch::read_batch`] for the batches in the order
    /// [`Session::take_batch`] gave them.
    pub fn add_batch(&mut self, results: &[u8]) -> Result<(), String> {
        batch::apply(&mut self.v, &mut self.scores, results)
    }

    /// Start reading a log file named `name` (the name findings will cite).
    pub fn begin_file(&mut self, name: &str) -> Result<(), String> {
        if let Some((_, r)) = &self.open {
            return Err(format!(
                "begin_file({name:?}) while {:?} is still open; call end_file first",
                r.stats().name
            ));
        }
        let id = self.v.add_file(name);
        self.open = Some((id, LineReader::new(name)));
        Ok(())
    }

    /// The name of the file that is open, if one is.
    pub fn open_file(&self) -> Option<&str> {
        self.open.as_ref().map(|(_, r)| r.stats().name.as_str())
    }

    /// Feed the next bytes of the open file (compressed if it is gzip).
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), String> {
        let Session {
            v,
            open,
            scores,
            reader: lv,
            batcher,
            ..
        } = self;
        let Some((id, reader)) = open else {
            return Err("push without begin_file".to_string());
        };
        let id = *id;
        reader.push(chunk, &mut |n, line| match batcher {
            Some(b) => b.add(id, n, line),
            None => verify_line(lv, v, scores, id, n, line),
        })
    }

    /// End the open file: check the gzip trailer and read its last line.
    pub fn end_file(&mut self) -> Result<(), String> {
        let Some((id, reader)) = self.open.take() else {
            return Err("end_file without begin_file".to_string());
        };
        let Session {
            v,
            scores,
            reader: lv,
            batcher,
            ..
        } = self;
        let stats = reader.finish(&mut |n, line| match batcher {
            Some(b) => b.add(id, n, line),
            None => verify_line(lv, v, scores, id, n, line),
        })?;
        if let Some(b) = batcher {
            b.flush();
        }
        self.files.push(stats);
        Ok(())
    }

    /// Read a checkpoint file (signed notes one after another), named `name`.
    pub fn add_checkpoints(&mut self, name: &str, text: &str) -> Result<(), String> {
        if self.open.is_some() {
            return Err("add_checkpoints while a log file is open".to_string());
        }
        let id = self.v.add_file(name);
        for (line, note) in split_notes(text) {
            self.v.add_checkpoint(&note, id, line);
        }
        Ok(())
    }

    /// Files read so far.
    pub fn files(&self) -> &[FileStats] {
        &self.files
    }

    /// Anomaly scores seen so far, in input order.
    pub fn scores(&self) -> &[ScorePoint] {
        &self.scores
    }

    /// Check everything; the report as canonical JSON (`logseal verify --format json`).
    pub fn finish(self) -> String {
        self.v.finish().to_json()
    }
}

fn verify_line(
    r: &mut LineVerifier,
    v: &mut Verifier,
    scores: &mut Vec<ScorePoint>,
    file: u32,
    n: u64,
    line: &[u8],
) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let (score, read) = r.read(line);
    if let Some(score) = score {
        scores.push(ScorePoint {
            file,
            line: n,
            score,
        });
    }
    v.add_record(file, n, read);
}

/// Reads a line for the verifier and finds its anomaly score for the
/// timeline: the verdict's parsed `score` when the line is a sealed record,
/// else (an unreadable line) a scan for an `_anomaly` member's score.
pub(crate) struct LineVerifier {
    reader: logseal_core::record::Reader,
    added: AddedFields,
    anomaly: memchr::memmem::Finder<'static>,
}

impl LineVerifier {
    pub(crate) fn new(added: AddedFields) -> Self {
        LineVerifier {
            reader: logseal_core::record::Reader::new(),
            added,
            anomaly: anomaly_finder(),
        }
    }

    pub(crate) fn read(
        &mut self,
        line: &[u8],
    ) -> (
        Option<f64>,
        Result<logseal_core::record::SealedRecord, logseal_core::record::RecordError>,
    ) {
        let r = self.reader.read(line, &self.added);
        (self.score(line, &r), r)
    }

    /// [`LineVerifier::read`] with the hashing left to the caller (see
    /// [`logseal_core::record::Reader::read_unhashed`]).
    pub(crate) fn read_unhashed(
        &mut self,
        line: &[u8],
        leaf: &mut Vec<u8>,
    ) -> (
        Option<f64>,
        Result<logseal_core::record::SealedRecord, logseal_core::record::RecordError>,
    ) {
        let r = self.reader.read_unhashed(line, &self.added, leaf);
        (self.score(line, &r), r)
    }

    fn score(
        &self,
        line: &[u8],
        r: &Result<logseal_core::record::SealedRecord, logseal_core::record::RecordError>,
    ) -> Option<f64> {
        match r {
            Ok(rec) => rec.score,
            Err(_) => score_of_line(&self.anomaly, line),
        }
    }
}

/// The `score` member of the `_anomaly` object whose key starts `rest`,
/// found by a small scan rather than parsing the record (the verifier parses
/// it; this only feeds the timeline). Nested objects and strings are skipped.
fn score_after(rest: &[u8]) -> Option<f64> {
    let mut i = 10; // past `"_anomaly"`
    while matches!(rest.get(i)?, b' ' | b'\t' | b':') {
        i += 1;
    }
    if rest[i] != b'{' {
        return None;
    }
    let mut depth = 0usize;
    while i < rest.len() {
        match rest[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return None;
                }
            }
            b'"' => {
                let start = i + 1;
                i = start;
                while i < rest.len() && rest[i] != b'"' {
                    i += if rest[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 && rest.get(start..i) == Some(b"score".as_slice()) {
                    let mut j = i + 1;
                    while matches!(rest.get(j)?, b' ' | b'\t' | b':') {
                        j += 1;
                    }
                    let v = &rest[j..];
                    let end = v
                        .iter()
                        .position(|b| !matches!(b, b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E'))
                        .unwrap_or(v.len());
                    return std::str::from_utf8(&v[..end]).ok()?.parse().ok();
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Picks given lines out of a file (for showing the records findings cite).
pub struct LinePicker {
    reader: LineReader,
    /// Wanted line numbers, ascending.
    wanted: Vec<u64>,
    /// Lines found: (line, text; invalid UTF-8 replaced).
    found: Vec<(u64, String)>,
    /// Longest text kept per line, in bytes.
    max_len: usize,
}

impl LinePicker {
    /// Pick `wanted` lines (any order) of file `name`, each cut to `max_len` bytes.
    pub fn new(name: &str, mut wanted: Vec<u64>, max_len: usize) -> LinePicker {
        wanted.sort_unstable();
        wanted.dedup();
        LinePicker {
            reader: LineReader::new(name),
            wanted,
            found: Vec::new(),
            max_len,
        }
    }

    fn each<'a>(
        wanted: &'a [u64],
        found: &'a mut Vec<(u64, String)>,
        max_len: usize,
    ) -> impl FnMut(u64, &[u8]) + 'a {
        move |n, line| {
            if wanted.binary_search(&n).is_ok() {
                let cut = &line[..line.len().min(max_len)];
                found.push((n, String::from_utf8_lossy(cut).into_owned()));
            }
        }
    }

    /// Whether every wanted line has been found (the rest of the file can be skipped).
    pub fn done(&self) -> bool {
        self.found.len() == self.wanted.len()
    }

    /// Feed the next bytes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), String> {
        let mut each = Self::each(&self.wanted, &mut self.found, self.max_len);
        self.reader.push(chunk, &mut each)
    }

    /// The lines found, ascending. A gzip error after every wanted line was
    /// found (for example when the caller stopped early) is not an error.
    pub fn finish(mut self) -> Result<Vec<(u64, String)>, String> {
        let complete = self.done();
        let r = {
            let mut each = Self::each(&self.wanted, &mut self.found, self.max_len);
            self.reader.finish(&mut each)
        };
        match r {
            Err(e) if !complete => Err(e),
            _ => Ok(self.found),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (Vec<FileStats>, String) {
        let mut s = Session::new("", "", "").unwrap();
        s.begin_file("a").unwrap();
        for c in chunks {
            s.push(c).unwrap();
        }
        s.end_file().unwrap();
        let files = s.files().to_vec();
        (files, s.finish())
    }

    #[test]
    fn chunk_boundaries_do_not_change_lines() {
        let text = b"{\"a\":1}\r\n\n{\"b\":2}\nnot json\r\n{\"c\":3}";
        let (whole_stats, whole) = run(&[text]);
        assert_eq!(whole_stats[0].lines, 5);
        assert_eq!(whole_stats[0].nonblank, 4);
        for cut in 0..=text.len() {
            let (_, r) = run(&[&text[..cut], &text[cut..]]);
            assert_eq!(r, whole, "cut at {cut}");
        }
        let singles: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(run(&singles).1, whole);
        let reference = logseal_core::verify::verify_texts(Default::default(), &[("a", text)]);
        assert_eq!(whole, reference.to_json());
    }

    #[test]
    fn gzip_multi_member_and_errors() {
        use flate2::Compression;
        use flate2::write::GzEncoder;
        let gz = |b: &[u8]| {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(b).unwrap();
            e.finish().unwrap()
        };
        let mut data = gz(b"x\ny");
        data.extend(gz(b"\nz\n"));
        let (stats, _) = run(&data.chunks(3).collect::<Vec<_>>());
        assert!(stats[0].gzip);
        assert_eq!(stats[0].lines, 3);
        assert_eq!(stats[0].bytes, 6);

        let mut s = Session::new("", "", "").unwrap();
        s.begin_file("bad.gz").unwrap();
        let cut = &data[..data.len() - 3];
        let e = s.push(cut).and_then(|()| s.end_file()).unwrap_err();
        assert!(e.starts_with("bad.gz: not a valid gzip file"), "{e}");
    }

    #[test]
    fn keys_errors_name_the_line() {
        let e = Session::new("# comment\n\nnot-a-key\n", "", "")
            .err()
            .unwrap();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn scores_are_found() {
        let mut s = Session::new("", "", "").unwrap();
        s.begin_file("a").unwrap();
        s.push(b"{\"_anomaly\":{\"reason\":\"x}\\\"score\",\"reasons\":[{\"score\":9}],\"score\":0.75,\"severity\":\"high\"}}\n{\"a\":1}\n{\"_anomaly\": {\"score\":1e-3}}\n{\"_anomaly\":{\"x\":{\"score\":2}}}")
            .unwrap();
        s.end_file().unwrap();
        let got: Vec<(u64, f64)> = s.scores().iter().map(|p| (p.line, p.score)).collect();
        assert_eq!(got, vec![(1, 0.75), (3, 0.001)]);
    }

    #[test]
    fn picker_finds_lines_like_the_verifier_counts_them() {
        let text = b"a\r\n\nc\nd";
        let mut p = LinePicker::new("f", vec![4, 1, 3, 9], 100);
        for c in text.chunks(2) {
            p.push(c).unwrap();
        }
        assert!(!p.done());
        let got = p.finish().unwrap();
        assert_eq!(got, vec![(1, "a".into()), (3, "c".into()), (4, "d".into())]);
    }

    #[test]
    fn split_notes_matches_cli_rule() {
        let text = "a/b\n3\nroot\n\n\u{2014} k sig\n\nc/d\n4\nr\n\n\u{2014} k s1\n\u{2014} j s2\n";
        let notes = split_notes(text);
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].0, 1);
        assert_eq!(notes[1].0, 7);
        assert!(notes[1].1.ends_with("\u{2014} j s2\n"));
    }
}

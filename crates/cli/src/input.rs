//! Reading NDJSON from files or stdin, gzip or not.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;

/// A line source: name for messages, reader, and total size when known.
pub struct Source {
    pub name: String,
    pub reader: Box<dyn BufRead>,
    pub size: Option<u64>,
}

/// Open `path` ("-" is stdin). Gzip is detected by its magic bytes.
pub fn open(path: &str) -> Result<Source> {
    open_with(path, None)
}

/// [`open`], for a reader that must stop when `stop` is set (`logseal serve`
/// in pipe mode, on SIGTERM): the source then reads as ended, between two
/// reads or while waiting for input, never in the middle of one.
pub fn open_until(path: &str, stop: &Arc<AtomicBool>) -> Result<Source> {
    open_with(path, Some(stop.clone()))
}

fn open_with(path: &str, stop: Option<Arc<AtomicBool>>) -> Result<Source> {
    let (name, raw, size): (String, Box<dyn Read>, Option<u64>) = if path == "-" {
        ("<stdin>".into(), until_stop(io::stdin().lock(), stop), None)
    } else {
        let f = File::open(Path::new(path)).with_context(|| format!("cannot open {path}"))?;
        let size = f.metadata().ok().map(|m| m.len());
        (path.to_string(), until_stop(f, stop), size)
    };
    let mut br = BufReader::with_capacity(1 << 16, raw);
    let gz = br
        .fill_buf()
        .with_context(|| format!("cannot read {name}"))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead> = if gz {
        Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(br)))
    } else {
        Box::new(br)
    };
    Ok(Source { name, reader, size })
}

#[cfg(unix)]
fn until_stop<R: Read + std::os::fd::AsFd + 'static>(
    r: R,
    stop: Option<Arc<AtomicBool>>,
) -> Box<dyn Read> {
    match stop {
        None => Box::new(r),
        Some(stop) => Box::new(UntilStop { inner: r, stop }),
    }
}

#[cfg(not(unix))]
fn until_stop<R: Read + 'static>(r: R, stop: Option<Arc<AtomicBool>>) -> Box<dyn Read> {
    match stop {
        None => Box::new(r),
        Some(stop) => Box::new(UntilStop { inner: r, stop }),
    }
}

/// A source that reads as ended once `stop` is set. It waits for input
/// with `poll` in steps of 100 ms instead of blocking in `read`, so a quiet
/// stdin (the writer still there, nothing to read) does not hold a stop up:
/// `read` is only called when it will not block. A `read` that returned
/// data always hands it all on, so nothing taken from the pipe is dropped
/// here; what was not read yet stays in the pipe.
struct UntilStop<R> {
    inner: R,
    stop: Arc<AtomicBool>,
}

#[cfg(unix)]
impl<R: Read + std::os::fd::AsFd> Read for UntilStop<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let step = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(0);
            }
            let mut fds = [PollFd::new(&self.inner, PollFlags::IN)];
            match poll(&mut fds, Some(&step)) {
                // Nothing yet: look at `stop` again.
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                // Readable, hung up or in error: `read` returns at once and
                // tells which.
                Ok(_) => return self.inner.read(buf),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(not(unix))]
impl<R: Read> Read for UntilStop<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::SeqCst) {
            return Ok(0);
        }
        self.inner.read(buf)
    }
}

/// Call `f(file_name, line_number, line)` for every line of `files` (none:
/// stdin) that is not blank.
pub fn for_each_record(
    files: &[String],
    mut f: impl FnMut(&str, u64, &[u8]) -> Result<()>,
) -> Result<()> {
    let stdin = ["-".to_string()];
    for path in if files.is_empty() { &stdin[..] } else { files } {
        let mut src = open(path)?;
        let name = src.name.clone();
        for_each_line(&mut src, |n, line| {
            if line.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            f(&name, n, line)
        })?;
    }
    Ok(())
}

/// Call `f(line_number, line)` for every line (without `\n` or `\r\n`).
/// Returns the number of bytes read.
pub fn for_each_line(src: &mut Source, mut f: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<u64> {
    let mut buf = Vec::with_capacity(1024);
    let mut n = 0u64;
    let mut bytes = 0u64;
    loop {
        buf.clear();
        let got = src
            .reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("{}: read error after line {n}", src.name))?;
        if got == 0 {
            return Ok(bytes);
        }
        bytes += got as u64;
        n += 1;
        f(n, line_of(&buf))?;
    }
}

/// A line as read, without its `\n` or `\r\n`.
pub fn line_of(buf: &[u8]) -> &[u8] {
    let line = buf.strip_suffix(b"\n").unwrap_or(buf);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Read keys: each argument is a verifier key or a file of keys (one per line).
pub fn verifier_keys(args: &[String]) -> Result<Vec<logseal_core::VerifierKey>> {
    let mut keys = Vec::new();
    for a in args {
        let text = if Path::new(a).is_file() {
            std::fs::read_to_string(a).with_context(|| format!("cannot read key file {a}"))?
        } else {
            a.clone()
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let k = logseal_core::VerifierKey::parse(line)
                .with_context(|| format!("{a}: line {}: not a verifier key", i + 1))?;
            keys.push(k);
        }
    }
    Ok(keys)
}

pub use logseal_core::note::split_notes;

#[cfg(test)]
mod tests {
    use super::line_of;

    #[test]
    fn a_line_loses_its_ending_only() {
        assert_eq!(line_of(b"{}\n"), b"{}");
        assert_eq!(line_of(b"{}\r\n"), b"{}");
        assert_eq!(line_of(b"{}"), b"{}");
        assert_eq!(line_of(b"{}\r"), b"{}");
        assert_eq!(line_of(b"{}\n\n"), b"{}\n");
        assert_eq!(line_of(b"a\rb\n"), b"a\rb");
        assert_eq!(line_of(b""), b"");
    }
}

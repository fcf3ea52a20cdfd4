//! Fluent Bit's `filter_wasm`, reproduced on wasmtime.
//!
//! Calls a module exactly as Fluent Bit 5.1 does in `event_format json`
//! (facts checked on a real build; see `plugins/fluent-bit/README.md`):
//!
//! * the record is converted to JSON the way the host converts msgpack:
//!   non-ASCII as `\uXXXX` escapes, doubles with 16 significant digits;
//! * tag and record are copied in through the module's `malloc` (with a
//!   trailing NUL) and released with its `free` after the call; without those
//!   exports, a record that does not fit WAMR's fixed heap arrives as a null
//!   pointer with its real length;
//! * the function is called as `(tag_ptr, tag_len, time_sec, time_nsec,
//!   rec_ptr, rec_len)` and its result read back as a NUL-terminated string;
//! * the drop rules are enforced: NULL, "", text that is not a JSON object,
//!   and a trap drop the record (the instance lives on); a pointer outside
//!   memory drops that record and, through a host bug, the next one.
//!
//! One instance for the whole run (Fluent Bit ≥ 4.1), no argv, no env, the
//! `accessible_paths` as WASI preopens (host path = guest path).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wasmtime::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// WAMR's default `wasm_heap_size` (8 KiB), used when the module has no `malloc`.
pub const DEFAULT_WAMR_HEAP: usize = 8 * 1024;

/// How the filter is configured in Fluent Bit.
#[derive(Clone, Debug)]
pub struct Options {
    /// `function_name`.
    pub function_name: String,
    /// `accessible_paths` (each becomes a preopen, host path = guest path).
    pub accessible_paths: Vec<PathBuf>,
    /// `wasm_heap_size` (only matters when the module exports no `malloc`).
    pub heap_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            function_name: "logseal_filter".into(),
            accessible_paths: Vec::new(),
            heap_size: DEFAULT_WAMR_HEAP,
        }
    }
}

/// What Fluent Bit does with a record after the filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The record body is replaced with this JSON object text.
    Kept(String),
    /// The record is dropped; says why.
    Dropped(String),
}

impl Outcome {
    /// The kept record, or a panic naming why it was dropped (for tests).
    pub fn expect_kept(self) -> String {
        match self {
            Outcome::Kept(s) => s,
            Outcome::Dropped(why) => panic!("Fluent Bit would drop this record: {why}"),
        }
    }
}

/// One loaded filter instance.
pub struct FluentBitFilter {
    store: Store<WasiP1Ctx>,
    memory: Memory,
    func: TypedFunc<(i32, i32, i32, i32, i32, i32), i32>,
    alloc: Option<(TypedFunc<i32, i32>, TypedFunc<i32, ()>)>,
    stderr: MemoryOutputPipe,
    heap_size: usize,
    drop_next: bool,
    /// Whether a returned record is parsed as the host would (see
    /// [`FluentBitFilter::skip_host_parse`]).
    host_parse: bool,
}

impl FluentBitFilter {
    /// Load and instantiate `wasm` as filter_wasm would.
    pub fn load(wasm: &Path, opts: &Options) -> Result<Self> {
        let engine = Engine::new(&crate::wasmtime_config()).map_err(wt("creating the engine"))?;
        let module = Module::from_file(&engine, wasm)
            .map_err(|e| anyhow::anyhow!("loading {}: {e:#}", wasm.display()))?;
        Self::from_module(&engine, &module, opts)
    }

    /// Instantiate an already compiled module (for restarts and benchmarks).
    pub fn from_module(engine: &Engine, module: &Module, opts: &Options) -> Result<Self> {
        let stderr = MemoryOutputPipe::new(16 << 20);
        let mut b = WasiCtxBuilder::new();
        b.stderr(stderr.clone());
        for p in &opts.accessible_paths {
            let guest = p.to_str().context("accessible path is not UTF-8")?;
            b.preopened_dir(p, guest, FsPerms::ReadWrite)
                .map_err(|e| anyhow::anyhow!("preopening {}: {e:#}", p.display()))?;
        }
        let mut store = Store::new(engine, b.build_p1());
        let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |c| c)?;
        let instance: Instance = linker
            .instantiate(&mut store, module)
            .map_err(wt("instantiating the filter module"))?;
        // Reactor modules: run `_initialize` if present, like WAMR does.
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())?;
        }
        let memory = instance
            .get_memory(&mut store, "memory")
            .context("module exports no memory")?;
        let func = instance
            .get_typed_func(&mut store, &opts.function_name)
            .map_err(|e| {
                anyhow::anyhow!(
                    "module exports no function {:?} of the filter_wasm signature: {e:#}",
                    opts.function_name
                )
            })?;
        let alloc = match (
            instance.get_typed_func::<i32, i32>(&mut store, "malloc"),
            instance.get_typed_func::<i32, ()>(&mut store, "free"),
        ) {
            (Ok(m), Ok(f)) => Some((m, f)),
            _ => None,
        };
        Ok(FluentBitFilter {
            store,
            memory,
            func,
            alloc,
            stderr,
            heap_size: opts.heap_size,
            drop_next: false,
            host_parse: true,
        })
    }

    /// Whether the module exports `malloc` and `free`.
    pub fn has_allocator(&self) -> bool {
        self.alloc.is_some()
    }

    /// What the module wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// Filter one record given as JSON text: converted as the host converts
    /// msgpack to JSON, then passed to the module.
    pub fn call(
        &mut self,
        tag: &str,
        time_sec: u32,
        time_nsec: u32,
        record_json: &str,
    ) -> Result<Outcome> {
        let converted = json_mode(record_json)?;
        self.call_raw(
            tag.as_bytes(),
            time_sec,
            time_nsec,
            Some(converted.as_bytes()),
            converted.len(),
        )
    }

    /// Stop parsing returned records as JSON: every NUL-terminated UTF-8
    /// string comes back as [`Outcome::Kept`], unchecked. Fluent Bit itself
    /// converts the returned JSON to msgpack and drops what is not an object;
    /// this harness checks that with `serde_json`, which costs more than the
    /// module. Benchmarks turn it off to time the module alone (the copies
    /// in and out through its allocator, and the call), never tests.
    pub fn skip_host_parse(&mut self) {
        self.host_parse = false;
    }

    /// Pass `record` bytes as they are (`None`: a null pointer with `len`).
    pub fn call_raw(
        &mut self,
        tag: &[u8],
        time_sec: u32,
        time_nsec: u32,
        record: Option<&[u8]>,
        len: usize,
    ) -> Result<Outcome> {
        let tag_ptr = self.copy_in(Some(tag))?;
        let rec_ptr = self.copy_in(record)?;
        let result = self.func.call(
            &mut self.store,
            (
                tag_ptr,
                tag.len() as i32,
                time_sec as i32,
                time_nsec as i32,
                rec_ptr,
                len as i32,
            ),
        );
        let outcome = match result {
            Err(trap) => Outcome::Dropped(format!("trap: {trap:#}")),
            Ok(ptr) => self.read_result(ptr),
        };
        for p in [tag_ptr, rec_ptr] {
            if p != 0
                && let Some((_, free)) = &self.alloc
            {
                free.call(&mut self.store, p).map_err(wt("free"))?;
            }
        }
        if std::mem::take(&mut self.drop_next) {
            // The previous call returned a bad pointer: the host drops this one too.
            return Ok(Outcome::Dropped("previous record returned an out-of-bounds pointer (host bug drops the next record too)".into()));
        }
        if let Outcome::Dropped(why) = &outcome
            && why.starts_with("pointer outside")
        {
            self.drop_next = true;
        }
        Ok(outcome)
    }

    /// Copy `data` + NUL into module memory; 0 for None or when it does not fit.
    fn copy_in(&mut self, data: Option<&[u8]>) -> Result<i32> {
        let Some(data) = data else { return Ok(0) };
        let Some((malloc, _)) = &self.alloc else {
            // WAMR's fixed heap: a buffer that does not fit arrives as NULL.
            if data.len() + 1 > self.heap_size {
                return Ok(0);
            }
            bail!(
                "modules without malloc/free are not supported by this harness beyond the null-pointer case"
            );
        };
        let ptr = malloc
            .call(&mut self.store, data.len() as i32 + 1)
            .map_err(wt("malloc"))?;
        if ptr == 0 {
            return Ok(0);
        }
        let mem = self.memory.data_mut(&mut self.store);
        let start = ptr as u32 as usize;
        mem[start..start + data.len()].copy_from_slice(data);
        mem[start + data.len()] = 0;
        Ok(ptr)
    }

    fn read_result(&mut self, ptr: i32) -> Outcome {
        if ptr == 0 {
            return Outcome::Dropped("returned NULL".into());
        }
        let mem = self.memory.data(&self.store);
        let start = ptr as u32 as usize;
        if start >= mem.len() {
            return Outcome::Dropped(format!("pointer outside memory: {start:#x}"));
        }
        let Some(end) = mem[start..].iter().position(|&b| b == 0) else {
            return Outcome::Dropped("pointer outside memory: no NUL before the end".into());
        };
        let bytes = &mem[start..start + end];
        if bytes.is_empty() {
            return Outcome::Dropped("returned an empty string".into());
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Outcome::Dropped("returned invalid UTF-8".into());
        };
        if !self.host_parse {
            return Outcome::Kept(text.to_string());
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(_)) => Outcome::Kept(text.to_string()),
            Ok(_) => Outcome::Dropped("returned JSON that is not an object".into()),
            Err(e) => Outcome::Dropped(format!("returned text that is not JSON: {e}")),
        }
    }
}

/// A wasmtime error (not an `anyhow::Error` in wasmtime 48) with context.
pub(crate) fn wt(context: &'static str) -> impl FnOnce(wasmtime::Error) -> anyhow::Error {
    move |e| anyhow::anyhow!("{context}: {e:#}")
}

/// The host's msgpack → JSON conversion (`event_format json`, and `out_file`'s
/// `json_lines`): key order kept, non-ASCII as `\uXXXX`, doubles with 16
/// significant digits (`%.16g`), integers exact.
pub fn json_mode(record_json: &str) -> Result<String> {
    let v: serde_json::Value = serde_json::from_str(record_json).context("record is not JSON")?;
    let mut out = String::with_capacity(record_json.len() + 16);
    write_fb(&v, &mut out);
    Ok(out)
}

fn write_fb(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value as J;
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&fmt_g16(n.as_f64().unwrap_or(0.0)));
            }
        }
        J::String(s) => write_fb_str(s, out),
        J::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_fb(x, out);
            }
            out.push(']');
        }
        J::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_fb_str(k, out);
                out.push(':');
                write_fb(x, out);
            }
            out.push('}');
        }
    }
}

fn write_fb_str(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// C's `%.16g`.
pub fn fmt_g16(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let e = format!("{f:.15e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..16).contains(&exp) {
        let mant = strip_zeros(mant);
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let decimals = (15 - exp).max(0) as usize;
    strip_zeros(&format!("{f:.decimals$}")).to_string()
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// One line of Fluent Bit's `out_file` with `format json_lines`: the time as
/// a double under `date_key` (`json_date_key`), then the record.
pub fn json_lines(
    date_key: &str,
    time_sec: u32,
    time_nsec: u32,
    record_json: &str,
) -> Result<String> {
    let body = json_mode(record_json)?;
    let date = format!("{time_sec}.{:06}", time_nsec / 1000);
    let mut line = String::with_capacity(body.len() + 32);
    line.push('{');
    write_fb_str(date_key, &mut line);
    line.push(':');
    line.push_str(&date);
    if body.len() > 2 {
        line.push(',');
    }
    line.push_str(&body[1..]);
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_digits_like_c() {
        assert_eq!(fmt_g16(123_456_789.123_456_79), "123456789.1234568");
        assert_eq!(fmt_g16(0.1), "0.1");
        assert_eq!(fmt_g16(1e21), "1e+21");
        assert_eq!(fmt_g16(1.5e-7), "1.5e-07");
        assert_eq!(fmt_g16(-2.5), "-2.5");
    }

    #[test]
    fn json_mode_escapes_non_ascii() {
        assert_eq!(
            json_mode(r#"{"b":"gewährt ✓ 😀","a":1.0,"n":123456789.123456789}"#).unwrap(),
            r#"{"b":"gew\u00e4hrt \u2713 \ud83d\ude00","a":1,"n":123456789.1234568}"#
        );
    }
}

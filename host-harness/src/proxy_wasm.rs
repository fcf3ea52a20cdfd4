//! A proxy-wasm host (ABI 0.2.1) in wasmtime: runs the real Envoy filter
//! (`logseal_envoy.wasm`, built for `wasm32-wasip1`) the way Envoy does.
//!
//! A [`Proxy`] is one proxy process: several worker VMs (one wasm instance
//! each, memory not shared, like Envoy's one VM per worker thread) and one
//! process-wide shared-data map with Envoy's exact CAS semantics:
//!
//! * `get` of a missing key answers `NotFound`; otherwise the value and its
//!   CAS token (tokens come from one process-wide counter that skips 0);
//! * `set` of a missing key succeeds whatever CAS is passed; a CAS of 0
//!   writes unconditionally; any other CAS must equal the key's token, or the
//!   answer is `CasMismatch`.
//!
//! Per request the host calls, as Envoy's HTTP filter does:
//! `proxy_on_context_create`, `proxy_on_request_headers`, (unless the client
//! aborted or the filter answered locally) `proxy_on_response_headers`, then
//! `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`. Properties are served
//! in Envoy's encoding (8-byte little-endian integers, times and durations in
//! nanoseconds) or as text (ngx_wasm_module). `proxy_http_call` callouts are
//! held until [`Proxy::deliver`] answers them as the configured [`Collector`]
//! would (accept, an error status, or a failure without headers), and ticks
//! only happen when the test calls [`Proxy::tick`].
//!
//! Imports: the functions below are implemented; the other ABI 0.2.1 names
//! the SDK links (gRPC, queues, header mutation...) are bound to stubs that
//! trap with the import's name if ever called; any other import makes
//! instantiation fail. A test that passes therefore proves the filter only
//! used implemented calls.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context as _, Result, anyhow, bail};
use wasmtime::{Caller, Engine, Extern, Instance, Linker, Module, Store, TypedFunc};

/// Host functions return wasmtime's own error type (not `anyhow` in wasmtime 48).
type WResult<T> = wasmtime::Result<T>;

/// A wasmtime error as an `anyhow::Error`.
fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow!("{e:?}")
}

/// proxy-wasm status codes.
mod status {
    pub const OK: i32 = 0;
    pub const NOT_FOUND: i32 = 1;
    pub const BAD_ARGUMENT: i32 = 2;
    pub const CAS_MISMATCH: i32 = 8;
}

/// ABI 0.2.1 imports that are known but not implemented: bound to trapping stubs.
const STUBBED: &[&str] = &[
    "proxy_set_buffer_bytes",
    "proxy_set_property",
    "proxy_add_header_map_value",
    "proxy_set_header_map_pairs",
    "proxy_replace_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_close_stream",
    "proxy_get_status",
    "proxy_continue_stream",
    "proxy_grpc_cancel",
    "proxy_grpc_stream",
    "proxy_grpc_close",
    "proxy_grpc_send",
    "proxy_grpc_call",
    "proxy_dequeue_shared_queue",
    "proxy_enqueue_shared_queue",
    "proxy_resolve_shared_queue",
    "proxy_register_shared_queue",
    "proxy_done",
    "proxy_call_foreign_function",
    "proxy_get_log_level",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_get_metric",
];

/// How the host encodes integer, time and duration properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Envoy: 8-byte little-endian, nanoseconds.
    Envoy,
    /// ngx_wasm_module: decimal text, seconds.
    Text,
}

/// How the collector answers callouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collector {
    /// `200`, body kept.
    Accept,
    /// An HTTP error status (body dropped).
    Status(u32),
    /// No response at all (reset, timeout): `on_http_call_response` with no headers.
    Fail,
}

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Request headers, pseudo-headers included (`:method`, `:path`, `:authority`).
    pub headers: Vec<(String, String)>,
    /// Downstream `ip:port`.
    pub source: String,
    /// Response status; `None` when the client aborted before response headers.
    pub status: Option<u32>,
    /// Start, ns since the Unix epoch.
    pub start_ns: i64,
    /// Duration, ns.
    pub duration_ns: i64,
    /// Request body bytes.
    pub bytes_in: i64,
    /// Response body bytes.
    pub bytes_out: i64,
    /// Upstream cluster.
    pub cluster: String,
    /// Route name.
    pub route: String,
}

impl Request {
    /// A GET of `path` from `source` answered with `status`.
    pub fn get(path: &str, source: &str, status: Option<u32>, start_ns: i64) -> Request {
        Request {
            headers: vec![
                (":method".into(), "GET".into()),
                (":path".into(), path.into()),
                (":authority".into(), "api.example.com".into()),
                ("user-agent".into(), "curl/8.5".into()),
                ("x-request-id".into(), format!("req-{start_ns}")),
            ],
            source: source.into(),
            status,
            start_ns,
            duration_ns: 1_250_000,
            bytes_in: 0,
            bytes_out: 512,
            cluster: "backend".into(),
            route: "api".into(),
        }
    }

    /// Add a request header.
    pub fn header(mut self, k: &str, v: &str) -> Request {
        self.headers.push((k.to_ascii_lowercase(), v.into()));
        self
    }

    fn header_value(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

/// What the filter did with a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// A local response (`proxy_send_local_response`): status and headers.
    pub local_response: Option<(u32, Vec<(String, String)>)>,
}

/// Process-wide state: shared data, the clock, collected bodies.
#[derive(Default)]
struct Process {
    shared: HashMap<String, (Vec<u8>, u32)>,
    next_cas: u32,
    now_ns: i64,
    /// Runs (once) inside the next `get` of a missing key, before the answer
    /// is returned: simulates another worker running in between.
    race_hook: Option<Box<dyn FnOnce() -> Result<()> + Send>>,
    /// Shared-data calls (gets, sets, CAS mismatches).
    gets: u64,
    sets: u64,
    cas_mismatches: u64,
}

impl Process {
    fn next_cas(&mut self) -> u32 {
        self.next_cas = self.next_cas.wrapping_add(1);
        if self.next_cas == 0 {
            self.next_cas = 1;
        }
        self.next_cas
    }
}

struct Callout {
    token: u32,
    upstream: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

type Headers = Vec<(String, String)>;

/// Per-VM host state.
struct VmState {
    process: Arc<Mutex<Process>>,
    plugin_config: Vec<u8>,
    encoding: Encoding,
    request: Option<Request>,
    /// Response headers of the current request (`:status`).
    response_headers: Vec<(String, String)>,
    local_response: Option<(u32, Vec<(String, String)>)>,
    callouts: Vec<Callout>,
    call_response: Option<(Headers, Vec<u8>)>,
    next_token: u32,
    tick_ms: u32,
    logs: Vec<(u32, String)>,
    rng: u64,
    effective_context: u32,
    /// The guest's memory and allocator, looked up once after instantiation.
    mem: Option<wasmtime::Memory>,
    alloc: Option<TypedFunc<i32, i32>>,
}

fn lock(p: &Arc<Mutex<Process>>) -> MutexGuard<'_, Process> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

fn memory(caller: &mut Caller<'_, VmState>) -> WResult<wasmtime::Memory> {
    if let Some(m) = caller.data().mem {
        return Ok(m);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => wasmtime::bail!("module exports no memory"),
    }
}

fn read(caller: &mut Caller<'_, VmState>, ptr: i32, len: i32) -> WResult<Vec<u8>> {
    let m = memory(caller)?;
    let (p, l) = (ptr as u32 as usize, len as u32 as usize);
    m.data(&caller)
        .get(p..p + l)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| wasmtime::format_err!("guest pointer out of bounds"))
}

fn write(caller: &mut Caller<'_, VmState>, ptr: i32, bytes: &[u8]) -> WResult<()> {
    let m = memory(caller)?;
    let p = ptr as u32 as usize;
    m.data_mut(caller)
        .get_mut(p..p + bytes.len())
        .ok_or_else(|| wasmtime::format_err!("guest pointer out of bounds"))?
        .copy_from_slice(bytes);
    Ok(())
}

/// Hand `data` to the guest: allocate with `proxy_on_memory_allocate`, copy,
/// store pointer and size at the return addresses (as Envoy does).
fn give(caller: &mut Caller<'_, VmState>, data: &[u8], ret_ptr: i32, ret_size: i32) -> WResult<()> {
    // Taken out for the call and put back, not cloned: cloning a TypedFunc
    // clones its registered type, which cost more than the call itself.
    let alloc = match caller.data_mut().alloc.take() {
        Some(a) => a,
        None => caller
            .get_export("proxy_on_memory_allocate")
            .and_then(Extern::into_func)
            .ok_or_else(|| wasmtime::format_err!("module exports no proxy_on_memory_allocate"))?
            .typed::<i32, i32>(&caller)?,
    };
    let p = alloc.call(&mut *caller, data.len() as i32);
    caller.data_mut().alloc = Some(alloc);
    let p = p?;
    if p == 0 && !data.is_empty() {
        wasmtime::bail!("guest allocation of {} bytes failed", data.len());
    }
    write(caller, p, data)?;
    write(caller, ret_ptr, &p.to_le_bytes())?;
    write(caller, ret_size, &(data.len() as u32).to_le_bytes())?;
    Ok(())
}

fn serialize_map(map: &[(String, String)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(map.len() as u32).to_le_bytes());
    for (k, v) in map {
        b.extend_from_slice(&(k.len() as u32).to_le_bytes());
        b.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in map {
        b.extend_from_slice(k.as_bytes());
        b.push(0);
        b.extend_from_slice(v.as_bytes());
        b.push(0);
    }
    b
}

fn deserialize_map(b: &[u8]) -> WResult<Vec<(String, String)>> {
    let bad = || wasmtime::format_err!("malformed serialized header map");
    if b.is_empty() {
        return Ok(Vec::new());
    }
    let u = |i: usize| -> WResult<usize> {
        Ok(u32::from_le_bytes(b.get(i..i + 4).ok_or_else(bad)?.try_into()?) as usize)
    };
    let n = u(0)?;
    let mut p = 4 + n * 8;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (kl, vl) = (u(4 + i * 8)?, u(8 + i * 8)?);
        let k = b.get(p..p + kl).ok_or_else(bad)?;
        p += kl + 1;
        let v = b.get(p..p + vl).ok_or_else(bad)?;
        p += vl + 1;
        out.push((
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ));
    }
    Ok(out)
}

impl VmState {
    fn int(&self, v: i64) -> Vec<u8> {
        match self.encoding {
            Encoding::Envoy => v.to_le_bytes().to_vec(),
            Encoding::Text => v.to_string().into_bytes(),
        }
    }

    fn nanos(&self, v: i64) -> Vec<u8> {
        match self.encoding {
            Encoding::Envoy => v.to_le_bytes().to_vec(),
            Encoding::Text => format!(
                "{}.{:09}",
                v.div_euclid(1_000_000_000),
                v.rem_euclid(1_000_000_000)
            )
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            .into_bytes(),
        }
    }

    /// Envoy attribute values for the current request.
    fn property(&self, path: &str) -> Option<Vec<u8>> {
        let r = self.request.as_ref()?;
        let s = |x: &str| Some(x.as_bytes().to_vec());
        match path {
            "request.time" => Some(self.nanos(r.start_ns)),
            "request.duration" => Some(self.nanos(r.duration_ns)),
            "request.method" => s(r.header_value(":method")?),
            "request.path" => s(r.header_value(":path")?),
            "request.host" => s(r.header_value(":authority")?),
            "request.id" => s(r.header_value("x-request-id")?),
            "request.useragent" => s(r.header_value("user-agent")?),
            "request.size" => Some(self.int(r.bytes_in)),
            "response.code" => {
                let code = self.local_response.as_ref().map(|l| l.0).or(r.status)?;
                Some(self.int(i64::from(code)))
            }
            "response.code_details" => s(match (&self.local_response, r.status) {
                (Some(_), _) => "logseal_enforce",
                (None, Some(_)) => "via_upstream",
                (None, None) => "downstream_remote_disconnect",
            }),
            "response.size" => Some(self.int(if r.status.is_some() { r.bytes_out } else { 0 })),
            "source.address" => s(&r.source),
            "xds.cluster_name" => s(&r.cluster),
            "xds.route_name" => s(&r.route),
            _ => None,
        }
    }

    fn header_map(&self, map: i32) -> Option<Vec<(String, String)>> {
        match map {
            0 => self.request.as_ref().map(|r| r.headers.clone()),
            2 => Some(self.response_headers.clone()),
            6 => self.call_response.as_ref().map(|c| c.0.clone()),
            _ => None,
        }
    }
}

fn link(linker: &mut Linker<VmState>) -> WResult<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: Caller<'_, VmState>, level: i32, ptr: i32, len: i32| -> WResult<i32> {
            let msg = String::from_utf8_lossy(&read(&mut c, ptr, len)?).into_owned();
            if std::env::var_os("LOGSEAL_HARNESS_LOG").is_some() {
                eprintln!("[vm log {level}] {msg}");
            }
            c.data_mut().logs.push((level as u32, msg));
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: Caller<'_, VmState>, ret: i32| -> WResult<i32> {
            let now = lock(&c.data().process).now_ns;
            write(&mut c, ret, &(now as u64).to_le_bytes())?;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: Caller<'_, VmState>, ms: i32| -> WResult<i32> {
            c.data_mut().tick_ms = ms as u32;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut c: Caller<'_, VmState>, id: i32| -> WResult<i32> {
            c.data_mut().effective_context = id as u32;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: Caller<'_, VmState>, p: i32, l: i32, rp: i32, rs: i32| -> WResult<i32> {
            let path = read(&mut c, p, l)?;
            let path = String::from_utf8_lossy(&path).replace('\0', ".");
            match c.data().property(&path) {
                Some(v) => {
                    give(&mut c, &v, rp, rs)?;
                    Ok(status::OK)
                }
                None => Ok(status::NOT_FOUND),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: Caller<'_, VmState>,
         map: i32,
         kp: i32,
         kl: i32,
         rp: i32,
         rs: i32|
         -> WResult<i32> {
            let key = String::from_utf8_lossy(&read(&mut c, kp, kl)?).to_ascii_lowercase();
            let Some(m) = c.data().header_map(map) else {
                return Ok(status::NOT_FOUND);
            };
            match m.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                Some((_, v)) => {
                    let v = v.clone().into_bytes();
                    give(&mut c, &v, rp, rs)?;
                    Ok(status::OK)
                }
                None => Ok(status::NOT_FOUND),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: Caller<'_, VmState>, map: i32, rp: i32, rs: i32| -> WResult<i32> {
            let m = c.data().header_map(map).unwrap_or_default();
            give(&mut c, &serialize_map(&m), rp, rs)?;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: Caller<'_, VmState>,
         buf: i32,
         start: i32,
         max: i32,
         rp: i32,
         rs: i32|
         -> WResult<i32> {
            let data = match buf {
                // PluginConfiguration
                7 => c.data().plugin_config.clone(),
                // VmConfiguration: empty
                6 => Vec::new(),
                // HttpCallResponseBody
                4 => match &c.data().call_response {
                    Some((_, b)) => b.clone(),
                    None => return Ok(status::NOT_FOUND),
                },
                _ => return Ok(status::NOT_FOUND),
            };
            let start = (start as u32 as usize).min(data.len());
            let end = start.saturating_add(max as u32 as usize).min(data.len());
            give(&mut c, &data[start..end], rp, rs)?;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: Caller<'_, VmState>, kp: i32, kl: i32, rp: i32, rs: i32, rc: i32| -> WResult<i32> {
            let key = String::from_utf8_lossy(&read(&mut c, kp, kl)?).into_owned();
            let (found, hook) = {
                let mut p = lock(&c.data().process);
                p.gets += 1;
                let found = p.shared.get(&key).cloned();
                let hook = if found.is_none() {
                    p.race_hook.take()
                } else {
                    None
                };
                (found, hook)
            };
            if let Some(h) = hook {
                // Another worker runs between this read and the caller's write.
                h().map_err(|e| wasmtime::Error::msg(format!("race hook: {e:#}")))?;
            }
            match found {
                Some((v, cas)) => {
                    give(&mut c, &v, rp, rs)?;
                    write(&mut c, rc, &cas.to_le_bytes())?;
                    Ok(status::OK)
                }
                None => Ok(status::NOT_FOUND),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: Caller<'_, VmState>,
         kp: i32,
         kl: i32,
         vp: i32,
         vl: i32,
         cas: i32|
         -> WResult<i32> {
            let key = String::from_utf8_lossy(&read(&mut c, kp, kl)?).into_owned();
            let val = read(&mut c, vp, vl)?;
            let cas = cas as u32;
            let mut p = lock(&c.data().process);
            p.sets += 1;
            let token = p.next_cas();
            match p.shared.get_mut(&key) {
                Some(e) if cas != 0 && cas != e.1 => {
                    p.cas_mismatches += 1;
                    Ok(status::CAS_MISMATCH)
                }
                Some(e) => {
                    *e = (val, token);
                    Ok(status::OK)
                }
                None => {
                    // A missing key is written whatever CAS is passed.
                    p.shared.insert(key, (val, token));
                    Ok(status::OK)
                }
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: Caller<'_, VmState>,
         code: i32,
         _dp: i32,
         _dl: i32,
         _bp: i32,
         _bl: i32,
         hp: i32,
         hl: i32,
         _grpc: i32|
         -> WResult<i32> {
            if c.data().request.is_none() {
                return Ok(status::BAD_ARGUMENT);
            }
            let h = read(&mut c, hp, hl)?;
            let headers = deserialize_map(&h)?;
            c.data_mut().local_response = Some((code as u32, headers));
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: Caller<'_, VmState>,
         up: i32,
         ul: i32,
         hp: i32,
         hl: i32,
         bp: i32,
         bl: i32,
         _tp: i32,
         _tl: i32,
         _timeout: i32,
         rt: i32|
         -> WResult<i32> {
            let upstream = String::from_utf8_lossy(&read(&mut c, up, ul)?).into_owned();
            let headers = deserialize_map(&read(&mut c, hp, hl)?)?;
            let body = read(&mut c, bp, bl)?;
            // Envoy refuses a callout without these.
            for h in [":method", ":path", ":authority"] {
                if !headers.iter().any(|(k, _)| k == h) {
                    return Ok(status::BAD_ARGUMENT);
                }
            }
            let st = c.data_mut();
            st.next_token += 1;
            let token = st.next_token;
            st.callouts.push(Callout {
                token,
                upstream,
                headers,
                body,
            });
            write(&mut c, rt, &token.to_le_bytes())?;
            Ok(status::OK)
        },
    )?;
    // WASI, as much as Rust's std and the filter use.
    let w = "wasi_snapshot_preview1";
    linker.func_wrap(
        w,
        "random_get",
        |mut c: Caller<'_, VmState>, p: i32, l: i32| -> WResult<i32> {
            let mut out = Vec::with_capacity(l as usize);
            while out.len() < l as usize {
                let st = c.data_mut();
                st.rng ^= st.rng << 13;
                st.rng ^= st.rng >> 7;
                st.rng ^= st.rng << 17;
                out.extend_from_slice(&st.rng.to_le_bytes());
            }
            out.truncate(l as usize);
            write(&mut c, p, &out)?;
            Ok(0)
        },
    )?;
    linker.func_wrap(
        w,
        "environ_sizes_get",
        |mut c: Caller<'_, VmState>, n: i32, s: i32| -> WResult<i32> {
            write(&mut c, n, &0u32.to_le_bytes())?;
            write(&mut c, s, &0u32.to_le_bytes())?;
            Ok(0)
        },
    )?;
    linker.func_wrap(
        w,
        "environ_get",
        |_: Caller<'_, VmState>, _: i32, _: i32| -> WResult<i32> { Ok(0) },
    )?;
    linker.func_wrap(
        w,
        "fd_write",
        |mut c: Caller<'_, VmState>, fd: i32, iovs: i32, n: i32, written: i32| -> WResult<i32> {
            let mut total = 0u32;
            let mut text = Vec::new();
            for i in 0..n {
                let iov = read(&mut c, iovs + i * 8, 8)?;
                let p = i32::from_le_bytes(iov[0..4].try_into()?);
                let l = i32::from_le_bytes(iov[4..8].try_into()?);
                text.extend_from_slice(&read(&mut c, p, l)?);
                total += l as u32;
            }
            let msg = String::from_utf8_lossy(&text).into_owned();
            c.data_mut().logs.push((100 + fd as u32, msg));
            write(&mut c, written, &total.to_le_bytes())?;
            Ok(0)
        },
    )?;
    linker.func_wrap(
        w,
        "proc_exit",
        |_: Caller<'_, VmState>, code: i32| -> WResult<()> {
            wasmtime::bail!("guest called proc_exit({code})")
        },
    )?;
    Ok(())
}

/// The compiled filter (compile once, instantiate per VM).
#[derive(Clone)]
pub struct Plugin {
    engine: Engine,
    module: Module,
    linker: Arc<Linker<VmState>>,
}

impl Plugin {
    /// Compile the `.wasm` and check its imports: the implemented ones, the
    /// known-but-stubbed ABI names (trap when called), nothing else.
    pub fn load(path: &Path) -> Result<Plugin> {
        let engine = Engine::new(&crate::wasmtime_config()).map_err(wt)?;
        let module = Module::from_file(&engine, path)
            .map_err(wt)
            .with_context(|| format!("loading {}", path.display()))?;
        let mut linker = Linker::new(&engine);
        link(&mut linker).map_err(wt)?;
        for imp in module.imports() {
            let (m, n) = (imp.module(), imp.name());
            if linker
                .get_by_import(&mut Store::new(&engine, VmState::dummy()), &imp)
                .is_some()
            {
                continue;
            }
            let wasmtime::ExternType::Func(ty) = imp.ty() else {
                bail!("import {m}::{n} is not a function");
            };
            if m == "env" && STUBBED.contains(&n) {
                let name = n.to_string();
                linker
                    .func_new(m, n, ty, move |_, _, _| {
                        wasmtime::bail!(
                            "the filter called {name}, which this host does not implement"
                        )
                    })
                    .map_err(wt)?;
            } else {
                bail!("unknown import {m}::{n}: the host does not implement it");
            }
        }
        Ok(Plugin {
            engine,
            module,
            linker: Arc::new(linker),
        })
    }
}

impl VmState {
    fn dummy() -> VmState {
        VmState::new(
            Arc::new(Mutex::new(Process::default())),
            Vec::new(),
            Encoding::Envoy,
            1,
        )
    }

    fn new(
        process: Arc<Mutex<Process>>,
        config: Vec<u8>,
        encoding: Encoding,
        seed: u64,
    ) -> VmState {
        VmState {
            process,
            plugin_config: config,
            encoding,
            request: None,
            response_headers: Vec::new(),
            local_response: None,
            callouts: Vec::new(),
            call_response: None,
            next_token: 0,
            tick_ms: 0,
            logs: Vec::new(),
            rng: seed.max(1),
            effective_context: 0,
            mem: None,
            alloc: None,
        }
    }
}

struct Exports {
    context_create: TypedFunc<(i32, i32), ()>,
    request_headers: TypedFunc<(i32, i32, i32), i32>,
    response_headers: TypedFunc<(i32, i32, i32), i32>,
    log: TypedFunc<i32, ()>,
    done: TypedFunc<i32, i32>,
    delete: TypedFunc<i32, ()>,
    tick: TypedFunc<i32, ()>,
    http_call_response: TypedFunc<(i32, i32, i32, i32, i32), ()>,
}

/// One worker VM.
pub struct Vm {
    store: Store<VmState>,
    exports: Exports,
    root: i32,
    next_context: i32,
}

const ROOT_ID: i32 = 1;

impl Vm {
    fn start(
        plugin: &Plugin,
        process: Arc<Mutex<Process>>,
        config: &[u8],
        enc: Encoding,
        seed: u64,
    ) -> Result<Vm> {
        let mut store = Store::new(
            &plugin.engine,
            VmState::new(process, config.to_vec(), enc, seed),
        );
        let inst: Instance = plugin
            .linker
            .instantiate(&mut store, &plugin.module)
            .map_err(wt)?;
        store.data_mut().mem = inst.get_memory(&mut store, "memory");
        store.data_mut().alloc = inst
            .get_typed_func::<i32, i32>(&mut store, "proxy_on_memory_allocate")
            .ok();
        if let Ok(init) = inst.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ()).map_err(wt)?;
        }
        let f = |s: &mut Store<VmState>, n: &str| -> Result<wasmtime::Func> {
            inst.get_func(&mut *s, n)
                .ok_or_else(|| anyhow!("missing export {n}"))
        };
        let exports = Exports {
            context_create: f(&mut store, "proxy_on_context_create")?
                .typed(&store)
                .map_err(wt)?,
            request_headers: f(&mut store, "proxy_on_request_headers")?
                .typed(&store)
                .map_err(wt)?,
            response_headers: f(&mut store, "proxy_on_response_headers")?
                .typed(&store)
                .map_err(wt)?,
            log: f(&mut store, "proxy_on_log")?.typed(&store).map_err(wt)?,
            done: f(&mut store, "proxy_on_done")?.typed(&store).map_err(wt)?,
            delete: f(&mut store, "proxy_on_delete")?
                .typed(&store)
                .map_err(wt)?,
            tick: f(&mut store, "proxy_on_tick")?.typed(&store).map_err(wt)?,
            http_call_response: f(&mut store, "proxy_on_http_call_response")?
                .typed(&store)
                .map_err(wt)?,
        };
        let vm_start: TypedFunc<(i32, i32), i32> = f(&mut store, "proxy_on_vm_start")?
            .typed(&store)
            .map_err(wt)?;
        let configure: TypedFunc<(i32, i32), i32> = f(&mut store, "proxy_on_configure")?
            .typed(&store)
            .map_err(wt)?;
        let mut vm = Vm {
            store,
            exports,
            root: ROOT_ID,
            next_context: ROOT_ID + 1,
        };
        vm.exports
            .context_create
            .call(&mut vm.store, (ROOT_ID, 0))
            .map_err(wt)?;
        if vm_start.call(&mut vm.store, (ROOT_ID, 0)).map_err(wt)? == 0 {
            bail!("proxy_on_vm_start failed: {:?}", vm.store.data().logs);
        }
        if configure
            .call(&mut vm.store, (ROOT_ID, config.len() as i32))
            .map_err(wt)?
            == 0
        {
            bail!("proxy_on_configure failed: {:?}", vm.store.data().logs);
        }
        Ok(vm)
    }

    /// Run one request through the HTTP filter chain.
    pub fn request(&mut self, req: &Request) -> Result<Outcome> {
        let ctx = self.next_context;
        self.next_context += 1;
        {
            let st = self.store.data_mut();
            st.request = Some(req.clone());
            st.local_response = None;
            st.response_headers.clear();
        }
        let e = &self.exports;
        e.context_create
            .call(&mut self.store, (ctx, self.root))
            .map_err(wt)?;
        e.request_headers
            .call(&mut self.store, (ctx, req.headers.len() as i32, 1))
            .map_err(wt)?;
        let local = self.store.data().local_response.clone();
        if local.is_none()
            && let Some(code) = req.status
        {
            self.store.data_mut().response_headers = vec![(":status".into(), code.to_string())];
            e.response_headers
                .call(&mut self.store, (ctx, 1, 0))
                .map_err(wt)?;
        }
        e.done.call(&mut self.store, ctx).map_err(wt)?;
        e.log.call(&mut self.store, ctx).map_err(wt)?;
        e.delete.call(&mut self.store, ctx).map_err(wt)?;
        let st = self.store.data_mut();
        st.request = None;
        Ok(Outcome {
            local_response: st.local_response.take(),
        })
    }

    /// The access-logger variant: `proxy_on_log` on the root context.
    pub fn access_log(&mut self, req: &Request) -> Result<()> {
        self.store.data_mut().request = Some(req.clone());
        self.exports
            .log
            .call(&mut self.store, self.root)
            .map_err(wt)?;
        self.store.data_mut().request = None;
        Ok(())
    }

    /// Stop: `proxy_on_done` then `proxy_on_delete` on the root context.
    pub fn stop(&mut self) -> Result<()> {
        self.exports
            .done
            .call(&mut self.store, self.root)
            .map_err(wt)?;
        self.exports
            .delete
            .call(&mut self.store, self.root)
            .map_err(wt)?;
        Ok(())
    }

    /// `proxy_on_tick` (only once the filter asked for ticks).
    pub fn tick(&mut self) -> Result<()> {
        if self.store.data().tick_ms > 0 {
            self.exports
                .tick
                .call(&mut self.store, self.root)
                .map_err(wt)?;
        }
        Ok(())
    }

    /// Log lines (level, text); WASI stdout/stderr have levels 101/102.
    pub fn logs(&self) -> &[(u32, String)] {
        &self.store.data().logs
    }

    /// Callouts waiting for an answer.
    pub fn pending_callouts(&self) -> usize {
        self.store.data().callouts.len()
    }

    /// Answer every pending callout as `collector` would; returns the bodies accepted.
    pub fn deliver(&mut self, collector: Collector) -> Result<Vec<Vec<u8>>> {
        let calls = std::mem::take(&mut self.store.data_mut().callouts);
        let mut accepted = Vec::new();
        for c in calls {
            debug_assert!(!c.upstream.is_empty() && !c.headers.is_empty());
            let (headers, body) = match collector {
                Collector::Accept => {
                    accepted.push(c.body);
                    (
                        vec![(":status".to_string(), "200".to_string())],
                        b"ok".to_vec(),
                    )
                }
                Collector::Status(s) => (vec![(":status".to_string(), s.to_string())], Vec::new()),
                Collector::Fail => (Vec::new(), Vec::new()),
            };
            let (nh, nb) = (headers.len() as i32, body.len() as i32);
            self.store.data_mut().call_response = Some((headers, body));
            self.exports
                .http_call_response
                .call(&mut self.store, (self.root, c.token as i32, nh, nb, 0))
                .map_err(wt)?;
            self.store.data_mut().call_response = None;
        }
        Ok(accepted)
    }

    /// The callouts' upstream and headers (for checks).
    pub fn callout_targets(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.store
            .data()
            .callouts
            .iter()
            .map(|c| (c.upstream.clone(), c.headers.clone()))
            .collect()
    }
}

/// Counters of the shared-data map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SharedStats {
    /// `proxy_get_shared_data` calls.
    pub gets: u64,
    /// `proxy_set_shared_data` calls.
    pub sets: u64,
    /// Sets refused with `CasMismatch`.
    pub cas_mismatches: u64,
}

/// One proxy process: worker VMs sharing data.
pub struct Proxy {
    plugin: Plugin,
    process: Arc<Mutex<Process>>,
    config: Vec<u8>,
    encoding: Encoding,
    vms: Vec<Arc<Mutex<Vm>>>,
    seeds: u64,
    /// NDJSON bodies the collector accepted, in order.
    pub collected: Vec<u8>,
}

impl Proxy {
    /// A proxy with `workers` VMs running `plugin` with the plugin configuration `config`.
    pub fn new(plugin: &Plugin, config: &str, workers: usize, encoding: Encoding) -> Result<Proxy> {
        let process = Arc::new(Mutex::new(Process {
            next_cas: 0,
            now_ns: 1_795_439_677_000_000_000,
            ..Process::default()
        }));
        let mut p = Proxy {
            plugin: plugin.clone(),
            process,
            config: config.as_bytes().to_vec(),
            encoding,
            vms: Vec::new(),
            seeds: 0,
            collected: Vec::new(),
        };
        for _ in 0..workers {
            let vm = p.start_vm()?;
            p.vms.push(Arc::new(Mutex::new(vm)));
        }
        Ok(p)
    }

    fn start_vm(&mut self) -> Result<Vm> {
        self.seeds += 1;
        Vm::start(
            &self.plugin,
            self.process.clone(),
            &self.config,
            self.encoding,
            0x9E37_79B9_7F4A_7C15u64.wrapping_mul(self.seeds),
        )
    }

    /// Worker `i`.
    pub fn vm(&self, i: usize) -> MutexGuard<'_, Vm> {
        self.vms[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.vms.len()
    }

    /// Run a request on worker `i`.
    pub fn request(&self, i: usize, req: &Request) -> Result<Outcome> {
        self.vm(i).request(req)
    }

    /// Set the clock (ns since the Unix epoch).
    pub fn set_time(&self, now_ns: i64) {
        lock(&self.process).now_ns = now_ns;
    }

    /// Tick every worker and answer their callouts as `collector` would.
    pub fn flush(&mut self, collector: Collector) -> Result<()> {
        for i in 0..self.vms.len() {
            let bodies = {
                let mut vm = self.vm(i);
                vm.tick()?;
                vm.deliver(collector)?
            };
            for b in bodies {
                self.collected.extend_from_slice(&b);
            }
        }
        Ok(())
    }

    /// Replace worker `i` by a fresh VM (shared data survives, as when Envoy
    /// restarts one VM). A graceful stop calls `proxy_on_done` and
    /// `proxy_on_delete` on the old root context first; a crash does not.
    pub fn restart_vm(&mut self, i: usize, graceful: bool) -> Result<()> {
        if graceful {
            self.vm(i).stop()?;
        }
        let vm = self.start_vm()?;
        *self.vm(i) = vm;
        Ok(())
    }

    /// Drop all shared data while the VMs live (the head is lost).
    pub fn clear_shared_data(&self) {
        lock(&self.process).shared.clear();
    }

    /// Shared-data value of `key`.
    pub fn shared_value(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.process).shared.get(key).map(|v| v.0.clone())
    }

    /// Shared-data counters.
    pub fn shared_stats(&self) -> SharedStats {
        let p = lock(&self.process);
        SharedStats {
            gets: p.gets,
            sets: p.sets,
            cas_mismatches: p.cas_mismatches,
        }
    }

    /// Arrange that the next `get` of a missing shared-data key, by any
    /// worker, is followed (before it returns) by worker `other` handling
    /// `req`: the racy first write of a chain head, made deterministic.
    pub fn race_next_create(&self, other: usize, req: Request) {
        let vm = self.vms[other].clone();
        lock(&self.process).race_hook = Some(Box::new(move || {
            vm.lock()
                .map_err(|_| anyhow!("worker lock poisoned"))?
                .request(&req)
                .map(|_| ())
        }));
    }
}

//! Every raw call into the proxy-wasm host (ABI 0.2.1), and the module's
//! entry point. This is the only module with `unsafe`.
//!
//! The SDK's trait helpers `unwrap()` host statuses, and with
//! `panic = "abort"` a panic traps the VM (and, in Envoy, takes the filter
//! out for every later request). The calls whose status varies by host or
//! situation are therefore made here with the status kept as a plain `u32`
//! (never transmuted into an enum a host value might not fit) and handled by
//! the caller. The SDK keeps what it does well: the context dispatcher, the
//! allocator export and `dispatch_http_call` (whose token it must register to
//! route the response back).
#![allow(unsafe_code)]
#![allow(clashing_extern_declarations)]

use alloc::string::String;
use alloc::vec::Vec;
use core::ptr::null_mut;

/// `Ok`.
pub const OK: u32 = 0;
/// `NotFound`.
pub const NOT_FOUND: u32 = 1;
/// `CasMismatch`.
pub const CAS_MISMATCH: u32 = 8;

/// Header map: request headers.
pub const MAP_REQUEST_HEADERS: u32 = 0;
/// Header map: headers of an http callout's response.
pub const MAP_HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
/// Buffer: the plugin configuration.
pub const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn proxy_log(level: u32, message: *const u8, size: usize) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
        cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_current_time_nanoseconds(time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        buffer: u32,
        start: usize,
        max_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn random_get(buf: *mut u8, len: usize) -> u16;
}

/// Take ownership of a host-returned buffer. The host allocated it through
/// `proxy_on_memory_allocate` (the SDK's allocator: a boxed slice of exactly
/// `size` bytes), so it is a `Vec` of capacity `size`.
fn owned(data: *mut u8, size: usize) -> Option<Vec<u8>> {
    if data.is_null() {
        return Some(Vec::new()).filter(|_| size == 0);
    }
    // SAFETY: see above; the host hands the buffer over and never touches it again.
    Some(unsafe { Vec::from_raw_parts(data, size, size) })
}

/// Write a log line.
pub fn log(level: u32, msg: &str) {
    // SAFETY: pointer and length of a live str.
    unsafe {
        proxy_log(level, msg.as_ptr(), msg.len());
    }
}

/// A property; `Err(status)` on anything but Ok / NotFound.
pub fn get_property(path: &[u8]) -> Result<Option<Vec<u8>>, u32> {
    let (mut d, mut s) = (null_mut(), 0usize);
    // SAFETY: valid input slice; out-pointers to locals.
    match unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut d, &mut s) } {
        OK => Ok(owned(d, s)),
        NOT_FOUND => Ok(None),
        st => Err(st),
    }
}

/// A header of map `map`.
pub fn get_header(map: u32, name: &str) -> Result<Option<String>, u32> {
    let (mut d, mut s) = (null_mut(), 0usize);
    // SAFETY: valid input slice; out-pointers to locals.
    match unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), &mut d, &mut s) } {
        OK => Ok(owned(d, s).map(|v| String::from_utf8_lossy(&v).into_owned())),
        NOT_FOUND => Ok(None),
        st => Err(st),
    }
}

/// Shared data: value and CAS token, `None` when the key is missing.
pub fn get_shared(key: &str) -> Result<Option<(Vec<u8>, u32)>, u32> {
    let (mut d, mut s, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: valid input slice; out-pointers to locals.
    match unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut d, &mut s, &mut cas) } {
        OK => Ok(Some((owned(d, s).unwrap_or_default(), cas))),
        NOT_FOUND => Ok(None),
        st => Err(st),
    }
}

/// Shared data write: `Ok(true)` written, `Ok(false)` CAS mismatch.
pub fn set_shared(key: &str, value: &[u8], cas: u32) -> Result<bool, u32> {
    // SAFETY: valid input slices.
    match unsafe {
        proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas)
    } {
        OK => Ok(true),
        CAS_MISMATCH => Ok(false),
        st => Err(st),
    }
}

/// Answer the current request locally.
pub fn send_local_response(status: u32, headers: &[(&str, &str)], body: &[u8]) -> u32 {
    // Serialised map: count, (key size, value size) pairs, then key\0value\0...
    let mut h = Vec::new();
    h.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    for (k, v) in headers {
        h.extend_from_slice(&(k.len() as u32).to_le_bytes());
        h.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in headers {
        h.extend_from_slice(k.as_bytes());
        h.push(0);
        h.extend_from_slice(v.as_bytes());
        h.push(0);
    }
    let details = b"logseal_enforce";
    // SAFETY: valid input slices.
    unsafe {
        proxy_send_local_response(
            status,
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            h.as_ptr(),
            h.len(),
            -1,
        )
    }
}

/// Ask for `on_tick` every `ms` milliseconds.
pub fn set_tick_period(ms: u32) -> u32 {
    // SAFETY: plain value.
    unsafe { proxy_set_tick_period_milliseconds(ms) }
}

/// Wall-clock time in ns (0 if the host refuses).
pub fn now_ns() -> i64 {
    let mut t = 0u64;
    // SAFETY: out-pointer to a local.
    if unsafe { proxy_get_current_time_nanoseconds(&mut t) } == OK {
        t as i64
    } else {
        0
    }
}

/// A host buffer (the plugin configuration).
pub fn get_buffer(buffer: u32, max: usize) -> Result<Option<Vec<u8>>, u32> {
    let (mut d, mut s) = (null_mut(), 0usize);
    // SAFETY: out-pointers to locals.
    match unsafe { proxy_get_buffer_bytes(buffer, 0, max, &mut d, &mut s) } {
        OK => Ok(owned(d, s)),
        NOT_FOUND => Ok(None),
        st => Err(st),
    }
}

/// 64 random bits from the host (WASI `random_get`; Envoy implements it);
/// falls back to the clock.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: out-buffer of 8 bytes.
    if unsafe { random_get(b.as_mut_ptr(), b.len()) } == 0 {
        u64::from_le_bytes(b)
    } else {
        now_ns() as u64 ^ 0x9E37_79B9_7F4A_7C15
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|id| -> alloc::boxed::Box<dyn proxy_wasm::traits::RootContext> {
        alloc::boxed::Box::new(crate::filter::Root::new(id))
    });
}}

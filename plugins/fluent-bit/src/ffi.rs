//! Every `unsafe` of the module: the exports Fluent Bit's filter_wasm calls.
//!
//! * `logseal_filter(tag_ptr, tag_len, time_sec, time_nsec, rec_ptr, rec_len)`
//!   returns a pointer to a NUL-terminated JSON object that replaces the
//!   record. The host copies it and never frees it, so it points into one
//!   buffer owned by the module and reused by the next call.
//! * `malloc` / `free`: when a module exports them, WAMR copies the tag and
//!   the record in with them instead of its small fixed heap (8 KiB by
//!   default), so records of any size arrive intact. They are wasi-libc's own
//!   (the allocator Rust's std uses on WASI), exported by `build.rs`.

use crate::filter;

/// Borrow `len` bytes at `ptr`; `None` for a null pointer (WAMR's way of
/// saying the data did not fit its heap).
///
/// # Safety
/// A non-null `ptr` must point to `len` readable bytes for the call's duration.
unsafe fn bytes<'a>(ptr: *const u8, len: u32) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller (the host copied `len` bytes there).
    Some(unsafe { std::slice::from_raw_parts(ptr, len as usize) })
}

/// The filter function (`function_name logseal_filter`).
#[unsafe(no_mangle)]
pub extern "C" fn logseal_filter(
    tag_ptr: *const u8,
    tag_len: u32,
    time_sec: u32,
    time_nsec: u32,
    rec_ptr: *const u8,
    rec_len: u32,
) -> *const u8 {
    // SAFETY: filter_wasm passes pointers to buffers it copied into our
    // memory with the given lengths, valid until we return.
    let (tag, rec) = unsafe { (bytes(tag_ptr, tag_len), bytes(rec_ptr, rec_len)) };
    filter::with_state(|st| st.filter(tag, time_sec, time_nsec, rec, rec_len as usize))
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn fd_prestat_get(fd: u32, out: *mut u32) -> u16;
    fn fd_prestat_dir_name(fd: u32, path: *mut u8, len: u32) -> u16;
}

/// The guest paths of the WASI preopens (Fluent Bit's `accessible_paths`), in order.
pub fn preopens() -> Vec<String> {
    let mut out = Vec::new();
    // Preopens are numbered from 3 without gaps; the first error ends the list.
    for fd in 3u32..256 {
        // prestat: { tag: u8 (0 = dir), pad, name_len: u32 }
        let mut prestat = [0u32; 2];
        // SAFETY: `prestat` is 8 writable bytes, the size of a WASI prestat.
        if unsafe { fd_prestat_get(fd, prestat.as_mut_ptr()) } != 0 {
            break;
        }
        if prestat[0] & 0xff != 0 {
            continue;
        }
        let len = prestat[1];
        let mut name = vec![0u8; len as usize];
        // SAFETY: `name` has exactly `len` writable bytes.
        if unsafe { fd_prestat_dir_name(fd, name.as_mut_ptr(), len) } == 0 {
            out.push(
                String::from_utf8_lossy(&name)
                    .trim_end_matches('\0')
                    .to_string(),
            );
        }
    }
    out
}

//! # logseal for Fluent Bit
//!
//! A `filter_wasm` module (wasm32-wasip1, `event_format json`): every record
//! leaves sealed (and scored when a policy is configured), byte-identical to
//! `logseal seal` with the same configuration. See README.md.
//!
//! Why `event_format json` and not msgpack: in msgpack mode a 0x00 byte in
//! the returned record silently truncates it, and a seal must never be
//! truncated. JSON mode hands us `\uXXXX` escapes and 16-digit doubles, which
//! the seal's canonical form absorbs (docs/FORMAT.md §3).

// The exports only exist in the wasm build; natively this is an ordinary
// library so the workspace builds and tests everywhere.
#[cfg(target_arch = "wasm32")]
mod ffi;
pub mod filter;

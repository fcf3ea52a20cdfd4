//! # logseal-envoy: a proxy-wasm HTTP filter that seals an audit record per request
//!
//! Built for `wasm32-wasip1` and loaded by Envoy (`envoy.filters.http.wasm`,
//! or `envoy.access_loggers.wasm`) or any proxy-wasm ABI 0.2.1 host. For every
//! request, in `on_log` (which runs also when the client aborts), the filter
//! builds a JSON record (time, method, authority, path, status, duration,
//! bytes, source, request id, user agent, principal), scores it with the
//! anomaly engine, seals it on one hash chain per proxy kept in shared data
//! (see [`chain`]), and ships it to a collector in NDJSON batches from
//! `on_tick` (see [`queue`]). In enforce mode it answers requests of a
//! principal or source whose risk crossed a threshold with a local reply.
//!
//! The logic ([`config`], [`record`], [`chain`], [`queue`], [`worker`]) is
//! plain Rust and tested natively; `filter` adapts it to the ABI and `ffi`
//! holds every raw host call.

#![no_std]
#![warn(missing_docs)]
#![cfg_attr(not(target_arch = "wasm32"), forbid(unsafe_code))]

extern crate alloc;

pub mod chain;
pub mod config;
pub mod queue;
pub mod record;
pub mod worker;

#[cfg(target_arch = "wasm32")]
mod ffi;
#[cfg(target_arch = "wasm32")]
mod filter;

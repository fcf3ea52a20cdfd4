//! # logseal processor component
//!
//! The `processor` world (`wit/processor.wit`) on the shared pipeline
//! (`logseal-pipeline`): the same score-then-seal step as `logseal seal` and
//! the Fluent Bit module, so the output is byte-identical for the same input
//! and configuration. Built for `wasm32-wasip2` (a component directly, no
//! cargo-component). The component asks for no capability: key and
//! configuration come in through `configure`, state goes out and comes back
//! through `state` / `restore`.

// The exports only exist in the wasm build; natively the crate is empty so
// `cargo test --workspace` builds everywhere.
#[cfg(target_arch = "wasm32")]
mod component;

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

// Talc instead of wasm's default dlmalloc: every string the host lowers into
// the component is one `cabi_realloc`, and the pipeline allocates per
// record; dlmalloc was ≈ 3% of the component's samples. (Single-threaded
// wasm, the memory grown as needed.)
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

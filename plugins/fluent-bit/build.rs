//! Export wasi-libc's `malloc` and `free` from the wasm module: with them,
//! Fluent Bit's WAMR copies records in through the module's own allocator
//! instead of its small fixed heap, so large records arrive intact.

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "wasm32" {
        println!("cargo:rustc-link-arg-cdylib=--export=malloc");
        println!("cargo:rustc-link-arg-cdylib=--export=free");
    }
}

//! Hosts for the logseal wasm artifacts.

pub mod component;
pub mod fluent_bit;
pub mod proxy_wasm;
pub mod rules;

/// A wasmtime configuration with the defaults, plus `perf` symbols for
/// JIT-compiled guest code when `LOGSEAL_PERFMAP` is set (profiling:
/// `LOGSEAL_PERFMAP=1 perf record …`, then `perf report`).
pub fn wasmtime_config() -> wasmtime::Config {
    let mut cfg = wasmtime::Config::new();
    if std::env::var_os("LOGSEAL_PERFMAP").is_some() {
        cfg.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    cfg
}

//! Hosts for the logseal wasm artifacts.

pub mod component;
pub mod fluent_bit;
pub mod proxy_wasm;
pub mod rules;

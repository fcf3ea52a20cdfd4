//! Hosts for the logseal wasm artifacts.

pub mod rules;

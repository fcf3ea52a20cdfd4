//! `logseal serve`: the sidecar that seals records between a Vector (or
//! Fluent Bit) `http` sink and an `http_server` source, or between stdin and
//! stdout. See `plugins/vector/README.md`.

pub mod backend;
pub mod body;
pub mod component;
pub mod http;
pub mod pipe;
pub mod seq;
pub mod store;
pub mod tls;

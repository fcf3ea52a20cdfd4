//! Re-export of the crate's fixed test stream.
#![allow(unused_imports)]
pub use logseal_anomaly::testkit::*;

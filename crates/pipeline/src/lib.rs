//! # logseal-pipeline: score, then seal
//!
//! Every plugin (the Fluent Bit module, the WIT component, the Envoy filter,
//! the native `logseal seal`) runs the same per-record step: the anomaly engine
//! scores the record, the verdict becomes an ordinary member of the record,
//! and the sealer seals the whole, so the verdict is covered by the seal. This
//! crate is that step, plus the plugin configuration file they all read, so the
//! plugins stay thin adapters and produce byte-identical output.
//!
//! The record is parsed once: the sealer hands its parsed members to the
//! engine through [`logseal_core::Sealer::seal_with`].

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod config;

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use logseal_anomaly::{Engine, Event, FieldValue, Policy};
use logseal_core::json::{Number, Value};
use logseal_core::{Input, Sealed, Sealer};

pub use config::{Config, ConfigError};

/// A record's members seen as an anomaly-engine event.
pub struct Members<'m, 'a>(pub &'m [(Cow<'a, str>, Value<'a>)]);

fn lookup<'v>(members: &'v [(Cow<'_, str>, Value<'_>)], path: &str) -> Option<&'v Value<'v>> {
    // A literal member named with dots ("user.name") wins over nesting.
    if let Some((_, v)) = members.iter().find(|(k, _)| k == path) {
        return Some(v);
    }
    let mut rest = path;
    while let Some(dot) = rest.find('.') {
        let (head, tail) = (&path[..path.len() - rest.len() + dot], &rest[dot + 1..]);
        if let Some((_, Value::Obj(inner))) = members.iter().find(|(k, _)| k == head) {
            if let Some(v) = lookup(inner, tail) {
                return Some(v);
            }
        }
        rest = tail;
    }
    None
}

impl Event for Members<'_, '_> {
    fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        match lookup(self.0, path)? {
            Value::Str(s) => Some(FieldValue::Str(s)),
            Value::Num(n) => Some(FieldValue::Num(match n {
                Number::Int(i) => *i as f64,
                Number::UInt(u) => *u as f64,
                Number::Float(f) => *f,
            })),
            Value::Bool(b) => Some(FieldValue::Bool(*b)),
            _ => None,
        }
    }
}

/// Score-then-seal for one stream.
pub struct Processor {
    sealer: Sealer,
    engine: Option<Engine>,
}

impl Processor {
    /// A processor; without a policy records are sealed unscored.
    pub fn new(sealer: Sealer, policy: Option<Policy>) -> Self {
        Processor {
            sealer,
            engine: policy.map(Engine::new),
        }
    }

    /// Score (when a policy is set) and seal one record. Never fails.
    pub fn process(&mut self, input: Input<'_>) -> Sealed {
        let engine = &mut self.engine;
        let time = input.time_ns;
        self.sealer.seal_with(input, |members| {
            engine
                .as_mut()
                .map(|e| e.score(&Members(members), time).to_json())
        })
    }

    /// The sealer (chain state, checkpoints).
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The sealer, mutably (to declare losses).
    pub fn sealer_mut(&mut self) -> &mut Sealer {
        &mut self.sealer
    }

    /// The anomaly engine, if a policy is set.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// The anomaly engine's state snapshot (empty without a policy).
    pub fn engine_snapshot(&self) -> Vec<u8> {
        self.engine
            .as_ref()
            .map(Engine::snapshot)
            .unwrap_or_default()
    }

    /// Restore the anomaly engine's state.
    pub fn restore_engine(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self.engine.as_mut() {
            Some(e) => e.restore(bytes).map_err(|e| alloc::format!("{e}")),
            None => Ok(()),
        }
    }
}

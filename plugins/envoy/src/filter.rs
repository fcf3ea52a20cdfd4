//! The proxy-wasm adapter: root context (configuration, ticks, callouts,
//! and `on_log` for the access-logger variant) and HTTP contexts (enforce
//! check in the request headers phase, the record in `on_log`).

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};

use crate::chain::{HeadStore, SetOutcome};
use crate::config::FilterConfig;
use crate::ffi;
use crate::worker::{Host, Level, Worker};

/// The host through [`ffi`]: every status handled, nothing unwrapped.
struct Abi;

impl HeadStore for Abi {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, u32> {
        ffi::get_shared(key)
    }
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<SetOutcome, u32> {
        ffi::set_shared(key, value, cas).map(|ok| {
            if ok {
                SetOutcome::Ok
            } else {
                SetOutcome::CasMismatch
            }
        })
    }
}

impl Host for Abi {
    fn property(&mut self, path: &[u8]) -> Option<Vec<u8>> {
        ffi::get_property(path).ok().flatten()
    }
    fn request_header(&mut self, name: &str) -> Option<String> {
        ffi::get_header(ffi::MAP_REQUEST_HEADERS, name)
            .ok()
            .flatten()
    }
    fn now_ns(&mut self) -> i64 {
        ffi::now_ns()
    }
    fn log(&mut self, level: Level, msg: &str) {
        ffi::log(level as u32, msg);
    }
}

type Shared = Rc<RefCell<Option<Worker>>>;

/// The root context of one VM.
pub struct Root {
    worker: Shared,
    nonce: u64,
    in_flight: Option<u32>,
    ticks: u64,
}

impl Root {
    /// A root context.
    pub fn new(_id: u32) -> Self {
        Root {
            worker: Rc::new(RefCell::new(None)),
            nonce: ffi::random_u64(),
            in_flight: None,
            ticks: 0,
        }
    }
}

impl Context for Root {
    /// The VM is going away: declare what it still holds as lost.
    fn on_done(&mut self) -> bool {
        if let Ok(mut slot) = self.worker.try_borrow_mut()
            && let Some(w) = slot.as_mut()
        {
            w.shutdown(&mut Abi);
            ffi::log(Level::Info as u32, &w.summary());
        }
        true
    }

    fn on_http_call_response(&mut self, token: u32, num_headers: usize, _body: usize, _tr: usize) {
        if self.in_flight != Some(token) {
            return;
        }
        self.in_flight = None;
        // No headers: the callout failed (reset, timeout, no healthy host).
        let status = if num_headers == 0 {
            None
        } else {
            ffi::get_header(ffi::MAP_HTTP_CALL_RESPONSE_HEADERS, ":status")
                .ok()
                .flatten()
        };
        let ok = status
            .as_deref()
            .and_then(|s| s.parse::<u32>().ok())
            .is_some_and(|s| (200..300).contains(&s));
        if !ok {
            ffi::log(
                Level::Warn as u32,
                &format!(
                    "logseal: collector batch failed (status {}), will retry",
                    status.as_deref().unwrap_or("none")
                ),
            );
        }
        if let Ok(mut w) = self.worker.try_borrow_mut()
            && let Some(w) = w.as_mut()
        {
            w.batch_done(ok);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let text = match ffi::get_buffer(ffi::BUFFER_PLUGIN_CONFIGURATION, size.max(1)) {
            Ok(Some(b)) => b,
            _ => {
                ffi::log(Level::Error as u32, "logseal: no plugin configuration");
                return false;
            }
        };
        let text = String::from_utf8_lossy(&text);
        let cfg = match FilterConfig::parse(&text) {
            Ok(c) => c,
            Err(e) => {
                ffi::log(Level::Error as u32, &format!("{e}"));
                return false;
            }
        };
        let flush = cfg.envoy.flush_ms.min(u64::from(u32::MAX)) as u32;
        let worker = match Worker::new(cfg, self.nonce) {
            Ok(w) => w,
            Err(e) => {
                ffi::log(Level::Error as u32, &format!("logseal configuration: {e}"));
                return false;
            }
        };
        if ffi::set_tick_period(flush) != ffi::OK {
            ffi::log(
                Level::Error as u32,
                "logseal: the host refused a tick period",
            );
            return false;
        }
        let Ok(mut slot) = self.worker.try_borrow_mut() else {
            return false;
        };
        *slot = Some(worker);
        ffi::log(Level::Info as u32, "logseal: configured");
        true
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        let Ok(mut slot) = self.worker.try_borrow_mut() else {
            return;
        };
        let Some(w) = slot.as_mut() else {
            return;
        };
        if self.ticks.is_multiple_of(60) {
            ffi::log(Level::Debug as u32, &w.summary());
        }
        if self.in_flight.is_some() {
            // A batch is out; publish losses only.
            let _ = w.tick(&mut Abi);
            return;
        }
        let Some(body) = w.tick(&mut Abi) else {
            return;
        };
        let Some(c) = w.config().envoy.collector.clone() else {
            return;
        };
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(5 + c.headers.len());
        headers.push((":method", "POST"));
        headers.push((":path", &c.path));
        headers.push((":authority", &c.authority));
        headers.push(("content-type", "application/x-ndjson"));
        for (k, v) in &c.headers {
            headers.push((k, v));
        }
        match self.dispatch_http_call(
            &c.cluster,
            headers,
            Some(&body),
            Vec::new(),
            Duration::from_millis(c.timeout_ms),
        ) {
            Ok(token) => self.in_flight = Some(token),
            Err(st) => {
                w.batch_done(false);
                ffi::log(
                    Level::Warn as u32,
                    &format!("logseal: cannot call collector {:?}: {:?}", c.cluster, st),
                );
            }
        }
    }

    /// The access-logger variant (`envoy.access_loggers.wasm`).
    fn on_log(&mut self) {
        if let Ok(mut slot) = self.worker.try_borrow_mut()
            && let Some(w) = slot.as_mut()
        {
            w.log_request(&mut Abi, None);
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http {
            worker: self.worker.clone(),
            blocked: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request.
struct Http {
    worker: Shared,
    blocked: Option<String>,
}

impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _n: usize, _eos: bool) -> Action {
        let Ok(mut slot) = self.worker.try_borrow_mut() else {
            return Action::Continue;
        };
        let Some(w) = slot.as_mut() else {
            return Action::Continue;
        };
        let Some(reason) = w.check_block(&mut Abi) else {
            return Action::Continue;
        };
        let en = &w.config().envoy.enforce;
        let st = ffi::send_local_response(
            en.status,
            &[(en.reason_header.as_str(), reason.as_str())],
            b"request refused by the audit policy\n",
        );
        self.blocked = Some(reason);
        if st == ffi::OK {
            Action::Pause
        } else {
            Action::Continue
        }
    }

    fn on_log(&mut self) {
        if let Ok(mut slot) = self.worker.try_borrow_mut()
            && let Some(w) = slot.as_mut()
        {
            w.log_request(&mut Abi, self.blocked.take());
        }
    }
}

//! What one worker VM does, independent of the ABI: build the record of a
//! request, score it, seal it on the chain, queue it, decide blocks.
//! `filter.rs` is the thin proxy-wasm adapter over this.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use logseal_anomaly::{Engine, Verdict};
use logseal_core::{Input, SealConfig, Sealer};

use crate::chain::{Chain, ChainStats, HeadStore, LocalStore, SetOutcome};
use crate::config::{ChainMode, FilterConfig, Mode};
use crate::queue::{Queue, QueueStats, Queued};
use crate::record::{self, RequestInfo};

/// Log levels of the proxy-wasm ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Debug.
    Debug = 1,
    /// Info.
    Info = 2,
    /// Warn.
    Warn = 3,
    /// Error.
    Error = 4,
}

/// The host as the worker needs it. Shared data is the [`HeadStore`] part.
pub trait Host: HeadStore {
    /// A property (path segments joined by NUL), `None` when absent.
    fn property(&mut self, path: &[u8]) -> Option<Vec<u8>>;
    /// A request header (lower-case name), `None` when absent.
    fn request_header(&mut self, name: &str) -> Option<String>;
    /// Wall-clock time, ns.
    fn now_ns(&mut self) -> i64;
    /// A log line.
    fn log(&mut self, level: Level, msg: &str);
}

/// Property paths (segments joined by NUL, as the ABI serialises them).
mod prop {
    pub const TIME: &[u8] = b"request\0time";
    pub const DURATION: &[u8] = b"request\0duration";
    pub const METHOD: &[u8] = b"request\0method";
    pub const HOST: &[u8] = b"request\0host";
    pub const PATH: &[u8] = b"request\0path";
    pub const ID: &[u8] = b"request\0id";
    pub const UA: &[u8] = b"request\0useragent";
    pub const REQ_SIZE: &[u8] = b"request\0size";
    pub const CODE: &[u8] = b"response\0code";
    pub const CODE_DETAILS: &[u8] = b"response\0code_details";
    pub const RESP_SIZE: &[u8] = b"response\0size";
    pub const SOURCE: &[u8] = b"source\0address";
    pub const CLUSTER: &[u8] = b"xds\0cluster_name";
    pub const ROUTE: &[u8] = b"xds\0route_name";
}

/// Counters of a worker.
#[derive(Clone, Debug, Default)]
pub struct WorkerStats {
    /// Requests logged.
    pub requests: u64,
    /// Requests answered locally (enforce mode).
    pub blocked: u64,
    /// Blocks written to shared data.
    pub blocks_set: u64,
    /// Records that could not be sealed (host failure on the head).
    pub seal_failures: u64,
}

/// One worker VM's state.
pub struct Worker {
    cfg: FilterConfig,
    chain: Chain,
    local: Option<LocalStore>,
    engine: Option<Engine>,
    queue: Queue,
    /// Counters.
    pub stats: WorkerStats,
}

fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect()
}

impl Worker {
    /// A worker; `nonce` is the VM's random nonce (epoch IDs, worker streams).
    pub fn new(cfg: FilterConfig, nonce: u64) -> Result<Worker, String> {
        let mut seal: SealConfig = cfg.seal.clone();
        let (head_key, local) = match cfg.envoy.chain {
            ChainMode::Shared => (
                format!("{}/head/{}", cfg.envoy.shared_key, seal.stream),
                None,
            ),
            ChainMode::Worker => {
                seal.stream = format!("{}/worker-{:08x}", seal.stream, nonce as u32);
                (String::from("local"), Some(LocalStore::default()))
            }
        };
        // Validate now (stream names), so on_configure fails, not a request.
        Sealer::new(
            cfg.key.clone(),
            SealConfig {
                epoch: "check".to_string(),
                ..seal.clone()
            },
        )
        .map_err(|e| format!("{e}"))?;
        let chain = Chain::new(cfg.key.clone(), seal, head_key, nonce);
        let e = &cfg.envoy;
        let queue = Queue::new(e.queue_max_records, e.batch_max_records, e.batch_max_bytes);
        // Keyed as every plugin keys it (`Processor::new`): from the signing key.
        let hash_key = logseal_pipeline::engine_hash_key(&cfg.key);
        let engine = cfg
            .shared
            .policy
            .clone()
            .map(|p| Engine::with_hash_key(p, hash_key));
        Ok(Worker {
            cfg,
            chain,
            local,
            engine,
            queue,
            stats: WorkerStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FilterConfig {
        &self.cfg
    }

    /// Chain counters.
    pub fn chain_stats(&self) -> &ChainStats {
        &self.chain.stats
    }

    /// Queue counters.
    pub fn queue_stats(&self) -> &QueueStats {
        &self.queue.stats
    }

    /// Records held for the collector.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The principal of the current request: (name, where from).
    pub fn principal(&self, host: &mut dyn Host) -> Option<(String, &'static str)> {
        let e = &self.cfg.envoy;
        if let Some(h) = &e.principal_header
            && let Some(v) = host.request_header(h).filter(|v| !v.is_empty())
        {
            return Some((v, "header"));
        }
        if let Some(h) = &e.jwt_header
            && let Some(v) = host.request_header(h)
            && let Some(p) = record::jwt_claim(&v, &e.jwt_claim)
        {
            return Some((p, "jwt"));
        }
        None
    }

    fn block_key(&self, entity: &str) -> String {
        format!("{}/block/{entity}", self.cfg.envoy.shared_key)
    }

    /// Enforce mode, request headers phase: the reason to refuse this request,
    /// if its source or principal is blocked.
    pub fn check_block(&mut self, host: &mut dyn Host) -> Option<String> {
        if self.cfg.envoy.mode != Mode::Enforce {
            return None;
        }
        let src = host
            .property(prop::SOURCE)
            .map(|b| record::decode_str(&b))
            .map(|s| record::split_host_port(&s).0.to_string());
        let principal = self.principal(host).map(|p| p.0);
        let now = host.now_ns();
        for ent in [src, principal].into_iter().flatten() {
            let key = self.block_key(&ent);
            if let Ok(Some((v, _))) = host.get(&key) {
                let v = String::from_utf8_lossy(&v);
                let (exp, why) = v.split_once(' ').unwrap_or((&v, ""));
                if exp.parse::<i64>().is_ok_and(|exp| exp > now) {
                    self.stats.blocked += 1;
                    return Some(header_safe(&format!("{ent}: {why}")));
                }
            }
        }
        None
    }

    /// Gather the request's record from properties and headers.
    pub fn request_info(&self, host: &mut dyn Host) -> RequestInfo {
        let enc = self.cfg.envoy.properties;
        let s = |host: &mut dyn Host, p: &[u8], h: Option<&str>| -> Option<String> {
            host.property(p)
                .map(|b| record::decode_str(&b))
                .or_else(|| h.and_then(|h| host.request_header(h)))
        };
        let mut r = RequestInfo {
            start_ns: host
                .property(prop::TIME)
                .and_then(|b| record::decode_nanos(&b, enc)),
            duration_ns: host
                .property(prop::DURATION)
                .and_then(|b| record::decode_nanos(&b, enc)),
            method: s(host, prop::METHOD, Some(":method")),
            authority: s(host, prop::HOST, Some(":authority")),
            path: s(host, prop::PATH, Some(":path")),
            status: host
                .property(prop::CODE)
                .and_then(|b| record::decode_int(&b, enc)),
            status_details: s(host, prop::CODE_DETAILS, None),
            bytes_received: host
                .property(prop::REQ_SIZE)
                .and_then(|b| record::decode_int(&b, enc)),
            bytes_sent: host
                .property(prop::RESP_SIZE)
                .and_then(|b| record::decode_int(&b, enc)),
            source: s(host, prop::SOURCE, None),
            request_id: s(host, prop::ID, Some("x-request-id")),
            user_agent: s(host, prop::UA, Some("user-agent")),
            cluster: s(host, prop::CLUSTER, None),
            route: s(host, prop::ROUTE, None),
            ..Default::default()
        };
        if let Some((p, from)) = self.principal(host) {
            r.principal = Some(p);
            r.principal_from = Some(from);
        }
        r
    }

    /// `on_log`: one record for the request, scored and sealed, queued.
    /// `blocked` is the reason when this filter answered the request itself.
    pub fn log_request(&mut self, host: &mut dyn Host, blocked: Option<String>) {
        self.stats.requests += 1;
        let mut info = self.request_info(host);
        info.blocked_reason = blocked;
        let now = host.now_ns();
        let time_ns = info.start_ns.unwrap_or(now);
        let record = info.to_json();
        let tag = match self.cfg.envoy.tag.as_deref() {
            Some("$cluster") => info.cluster.clone(),
            Some("$route") => info.route.clone(),
            Some(t) => Some(t.to_string()),
            None => None,
        };
        let input = Input {
            record: &record,
            tag: tag.as_deref().filter(|t| !t.is_empty()),
            time_ns: Some(time_ns),
            verdict: None,
            force_checkpoint: false,
        };
        // Scored from the request itself (no JSON round trip), once, before
        // the append (which may retry on a CAS mismatch).
        let verdict: Option<Verdict> = self
            .engine
            .as_mut()
            .map(|e| e.score(&record::RequestEvent::new(&info), Some(time_ns)));
        let vjson = verdict.as_ref().map(Verdict::to_json);
        let store: &mut dyn HeadStore = match &mut self.local {
            Some(l) => l,
            None => &mut *host,
        };
        let res = self.chain.append(store, now, |sealer| {
            sealer.seal(Input {
                verdict: vjson.as_deref(),
                ..input
            })
        });
        let ap = match res {
            Ok(ap) => ap,
            Err(e) => {
                self.stats.seal_failures += 1;
                host.log(Level::Error, &format!("logseal: record not sealed: {e}"));
                return;
            }
        };
        if let Some(v) = &verdict {
            self.maybe_block(host, &info, v, now);
        }
        if self.cfg.envoy.collector.is_none() {
            host.log(Level::Info, &String::from_utf8_lossy(&ap.sealed.line));
            return;
        }
        let lost = self.queue.push(Queued {
            epoch: ap.epoch,
            seq: ap.sealed.seq,
            line: ap.sealed.line,
            carried: ap.carried,
        });
        for l in lost {
            self.chain.note_lost(l);
        }
    }

    fn maybe_block(&mut self, host: &mut dyn Host, info: &RequestInfo, v: &Verdict, now: i64) {
        let en = &self.cfg.envoy.enforce;
        if self.cfg.envoy.mode != Mode::Enforce || v.score < en.threshold {
            return;
        }
        let src = info.source_ip();
        let who = info.principal.as_deref();
        let mut done: Vec<&str> = Vec::new();
        for r in &v.reasons {
            let ent = r.entity.as_str();
            if done.contains(&ent) || (Some(ent) != src && Some(ent) != who) {
                continue;
            }
            done.push(ent);
            let exp = now.saturating_add((en.block_secs as i64).saturating_mul(1_000_000_000));
            let val = format!("{exp} {}", header_safe(&r.text));
            let key = self.block_key(ent);
            match host.set(&key, val.as_bytes(), 0) {
                Ok(SetOutcome::Ok) => {
                    self.stats.blocks_set += 1;
                    host.log(
                        Level::Warn,
                        &format!("logseal: blocking {ent} for {}s: {}", en.block_secs, r.text),
                    );
                }
                Ok(SetOutcome::CasMismatch) => {}
                Err(s) => host.log(
                    Level::Warn,
                    &format!("logseal: cannot set block: status {s}"),
                ),
            }
        }
    }

    /// `on_tick`: publish pending loss declarations; the next batch, if any.
    pub fn tick(&mut self, host: &mut dyn Host) -> Option<Vec<u8>> {
        if !self.chain.local_lost().is_empty() {
            let now = host.now_ns();
            let store: &mut dyn HeadStore = match &mut self.local {
                Some(l) => l,
                None => &mut *host,
            };
            if let Err(e) = self.chain.publish_losses(store, now) {
                host.log(Level::Warn, &format!("logseal: cannot publish losses: {e}"));
            }
        }
        self.queue.take_batch()
    }

    /// The VM is stopping (`proxy_on_done` of the root context): what is
    /// still queued will never be delivered. Declare it lost in the shared
    /// head, so the next record any worker seals carries the declaration.
    pub fn shutdown(&mut self, host: &mut dyn Host) {
        for l in self.queue.drain_all("vm-stopped") {
            self.chain.note_lost(l);
        }
        let n = self.chain.local_lost().len();
        if n > 0 {
            let now = host.now_ns();
            let store: &mut dyn HeadStore = match &mut self.local {
                Some(l) => l,
                None => &mut *host,
            };
            if let Err(e) = self.chain.publish_losses(store, now) {
                host.log(Level::Warn, &format!("logseal: cannot publish losses: {e}"));
            }
        }
    }

    /// The batch in flight was delivered (`true`) or failed.
    pub fn batch_done(&mut self, ok: bool) {
        if ok {
            self.queue.ack();
        } else {
            self.queue.nack();
        }
    }

    /// A one-line summary of the counters.
    pub fn summary(&self) -> String {
        let c = &self.chain.stats;
        let q = &self.queue.stats;
        format!(
            "logseal: requests={} appends={} cas_retries={} cache_hits={} creates={} lost_heads={} queued={} delivered={} dropped={} batches={} failures={} blocked={} held={}",
            self.stats.requests,
            c.appends,
            c.cas_retries,
            c.cache_hits,
            c.creates,
            c.lost_heads,
            q.queued,
            q.delivered,
            q.dropped,
            q.batches,
            q.failures,
            self.stats.blocked,
            self.queue.len()
        )
    }
}

//! The sequencer: one task owns the chain. Batches are sealed one at a time,
//! in arrival order; each is saved, forwarded, and only then answered.
//!
//! Idempotency. Vector retries a batch it got no 2xx for, possibly after we
//! sealed and forwarded it (our answer was lost, the next hop answered too
//! late, we were killed after forwarding). The key of a batch is the SHA-256
//! of its framing and body (Vector sends no batch ID, and resends the same
//! bytes). The sequencer remembers the last `--replay-window` batches with
//! their sealed output (the last `--replay-disk` also on disk, in the state
//! directory): a batch whose key it remembers is not sealed again; its stored
//! output is forwarded again (if needed) and acknowledged. The chain never
//! forks and no record is sealed twice. The next hop may then receive the
//! same sealed records twice; `logseal verify` reports that as `duplicate`,
//! not tampering.
//!
//! Nothing sealed is lost: a new batch is only sealed once every earlier
//! sealed batch reached the next hop; while the next hop is down the owed
//! batch is retried (on the sender's retries) and new batches are refused
//! with 503 before anything is sealed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::body::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::backend::Backend;
use super::body;
use super::store::{BatchMeta, Saved, Store, append_checkpoints, hex};

/// A request body for the sequencer, and where its answer goes.
pub struct Request<T> {
    /// Idempotency key: a retried body is not sealed (or applied) twice.
    pub digest: [u8; 32],
    /// The (decompressed) body.
    pub body: Bytes,
    /// Sent as `application/json`.
    pub json_array: bool,
    /// Where the answer goes.
    pub reply: oneshot::Sender<T>,
}

/// A batch to seal.
pub type Job = Request<Outcome>;

/// Operator feedback to apply between batches (`POST /feedback`): events to
/// mark normal.
pub type Feedback = Request<FeedbackOutcome>;

/// What the sequencer is given, in order.
pub enum Work {
    /// A batch to seal.
    Batch(Job),
    /// Events to mark normal in the engine.
    Feedback(Feedback),
}

/// How feedback ended.
#[derive(Debug)]
pub enum FeedbackOutcome {
    /// Marked; `saved` tells whether the engine snapshot was saved since
    /// (when not, the marks apply now and are saved with the next snapshot).
    Marked {
        /// Events marked.
        events: u64,
        /// The snapshot with the marks is on disk.
        saved: bool,
        /// The body was applied before (a retry): nothing marked now;
        /// `events` is what it marked then.
        replayed: bool,
    },
    /// Refused, nothing marked (`FeedbackError`'s text).
    Refused(String),
}

/// How a batch ended.
#[derive(Debug)]
pub enum Outcome {
    /// Sealed (or replayed) and accepted by the next hop.
    Delivered {
        /// Records in the batch.
        records: usize,
        /// Sequence number of its first record.
        first_seq: u64,
        /// A retry answered from the remembered output.
        replayed: bool,
    },
    /// The next hop did not accept it (or an earlier batch): retry later.
    Unavailable(String),
}

/// Counters for `/health` and the log.
#[derive(Default)]
pub struct Stats {
    /// Batches sealed.
    pub batches: AtomicU64,
    /// Records sealed.
    pub records: AtomicU64,
    /// Retries answered without sealing.
    pub replayed: AtomicU64,
    /// Forward attempts that failed.
    pub forward_failures: AtomicU64,
    /// Requests refused for lack of credentials (401/403).
    pub unauthorized: AtomicU64,
    /// Requests refused because the queue was full (429).
    pub overloaded: AtomicU64,
    /// Records wrapped.
    pub wrapped: AtomicU64,
}

/// The next hop.
pub struct Forwarder {
    /// HTTP client.
    pub client: reqwest::Client,
    /// The `http_server` URL.
    pub url: String,
    /// Extra headers (`Name: value`).
    pub headers: Vec<(String, String)>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Forwarder {
    async fn send(&self, body: Bytes) -> Result<(), String> {
        let mut rq = self
            .client
            .post(&self.url)
            .timeout(self.timeout)
            .header("content-type", "application/x-ndjson");
        for (k, v) in &self.headers {
            rq = rq.header(k, v);
        }
        match rq.body(body).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("next hop answered {}", r.status())),
            Err(e) => Err(format!("next hop unreachable: {e}")),
        }
    }
}

struct Entry {
    meta: BatchMeta,
    output: Bytes,
}

/// Sequencer settings.
pub struct Limits {
    /// Batches remembered in memory for retries.
    pub replay_window: usize,
    /// Bytes of sealed output remembered in memory at most.
    pub replay_bytes: usize,
    /// Batches remembered on disk.
    pub replay_disk: usize,
    /// Engine snapshot period.
    pub snapshot_every: Duration,
}

/// The sequencer's state.
pub struct Sequencer {
    backend: Option<Box<dyn Backend>>,
    store: Arc<Store>,
    recent: VecDeque<Entry>,
    recent_bytes: usize,
    chain: String,
    fwd: Forwarder,
    checkpoints_file: Option<String>,
    limits: Limits,
    last_snapshot: Instant,
    stats: Arc<Stats>,
    /// Feedback bodies applied (key, events marked), oldest first, at most
    /// [`FEEDBACK_MEMORY`].
    feedback: VecDeque<([u8; 32], u64)>,
}

/// Feedback bodies remembered to answer retries.
const FEEDBACK_MEMORY: usize = 256;

impl Sequencer {
    /// A sequencer over `backend`, with what the store remembered.
    pub fn new(
        mut backend: Box<dyn Backend>,
        store: Store,
        saved: Saved,
        fwd: Forwarder,
        checkpoints_file: Option<String>,
        limits: Limits,
        stats: Arc<Stats>,
    ) -> Result<Self> {
        let chain = backend.state()?;
        let mut s = Sequencer {
            backend: Some(backend),
            store: Arc::new(store),
            recent: VecDeque::new(),
            recent_bytes: 0,
            chain,
            fwd,
            checkpoints_file,
            limits,
            last_snapshot: Instant::now(),
            stats,
            feedback: saved.feedback.into_iter().collect(),
        };
        for (meta, out) in saved.batches {
            s.recent_bytes += out.len();
            s.recent.push_back(Entry {
                meta,
                output: Bytes::from(out),
            });
        }
        Ok(s)
    }

    /// Serve jobs until every sender is gone, then save everything.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Work>) {
        // Deliver what a previous run sealed but may not have delivered.
        if let Err(e) = self.flush(usize::MAX).await {
            eprintln!("logseal serve: owed batch not delivered yet: {e}");
        }
        while let Some(work) = rx.recv().await {
            match work {
                Work::Batch(job) => {
                    let out = self.handle(job.digest, job.body, job.json_array).await;
                    let _ = job.reply.send(out);
                }
                Work::Feedback(f) => {
                    let out = self.feedback(f.digest, f.body, f.json_array).await;
                    let _ = f.reply.send(out);
                }
            }
        }
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        let _ = self.flush(usize::MAX).await;
        if let Err(e) = self.snapshot().await {
            eprintln!("logseal serve: saving the engine snapshot: {e:#}");
        }
        if let Err(e) = self.save_head(true) {
            eprintln!("logseal serve: saving the chain head: {e:#}");
        }
    }

    async fn snapshot(&mut self) -> Result<()> {
        let Some(mut b) = self.backend.take() else {
            return Ok(());
        };
        let store = self.store.clone();
        let (b, r) = tokio::task::spawn_blocking(move || {
            let r = b.engine_snapshot().and_then(|s| store.save_engine(&s));
            (b, r)
        })
        .await?;
        self.backend = Some(b);
        self.last_snapshot = Instant::now();
        r
    }

    /// Mark the events of `body` normal, then save the engine snapshot so
    /// the marks survive a restart. A body applied before (its key is
    /// remembered) is answered as it was, not applied again.
    async fn feedback(
        &mut self,
        digest: [u8; 32],
        body: Bytes,
        json_array: bool,
    ) -> FeedbackOutcome {
        if let Some(&(_, events)) = self.feedback.iter().find(|(d, _)| *d == digest) {
            return FeedbackOutcome::Marked {
                events,
                saved: self.store.durable(),
                replayed: true,
            };
        }
        let Some(mut b) = self.backend.take() else {
            return FeedbackOutcome::Refused("sealer unavailable".into());
        };
        let joined = tokio::task::spawn_blocking(move || {
            let events = body::split(&body, json_array);
            let r = b.mark_normal(&events);
            (b, r)
        })
        .await;
        let (b, r) = match joined {
            Ok(x) => x,
            Err(e) => fatal(&format!("the engine panicked: {e}")),
        };
        self.backend = Some(b);
        let events = match r {
            Ok(Ok(n)) => n,
            Ok(Err(why)) => return FeedbackOutcome::Refused(why),
            // A trap: the instance is not to be trusted; the saved state is.
            Err(e) => fatal(&format!("{e:#}")),
        };
        if self.feedback.len() == FEEDBACK_MEMORY {
            self.feedback.pop_front();
        }
        self.feedback.push_back((digest, events));
        let saved = match self.snapshot().await {
            Ok(()) => {
                let applied: Vec<_> = self.feedback.iter().copied().collect();
                if let Err(e) = self.store.save_feedback(&applied) {
                    eprintln!("logseal serve: saving the applied feedback keys: {e:#}");
                }
                self.store.durable()
            }
            Err(e) => {
                eprintln!("logseal serve: saving the engine snapshot after feedback: {e:#}");
                false
            }
        };
        eprintln!(
            "logseal serve: {events} event{} marked normal",
            if events == 1 { "" } else { "s" }
        );
        FeedbackOutcome::Marked {
            events,
            saved,
            replayed: false,
        }
    }

    fn save_head(&self, clean: bool) -> Result<()> {
        let skip = self.recent.len().saturating_sub(self.limits.replay_disk);
        let metas: Vec<&BatchMeta> = self.recent.iter().skip(skip).map(|e| &e.meta).collect();
        self.store.save_head(&self.chain, &metas, clean)
    }

    /// Forward, in order, every undelivered batch among the first `upto + 1`.
    async fn flush(&mut self, upto: usize) -> Result<(), String> {
        for i in 0..self.recent.len().min(upto.saturating_add(1)) {
            if self.recent[i].meta.delivered {
                continue;
            }
            let body = self.recent[i].output.clone();
            if let Err(e) = self.fwd.send(body).await {
                self.stats.forward_failures.fetch_add(1, Relaxed);
                return Err(e);
            }
            self.recent[i].meta.delivered = true;
        }
        Ok(())
    }

    async fn handle(&mut self, digest: [u8; 32], body: Bytes, json_array: bool) -> Outcome {
        // A retry of a batch we sealed: never seal it again.
        if let Some(i) = self.recent.iter().position(|e| e.meta.digest == digest) {
            self.stats.replayed.fetch_add(1, Relaxed);
            let (records, first_seq) = (self.recent[i].meta.records, self.recent[i].meta.first_seq);
            return match self.flush(i).await {
                Ok(()) => Outcome::Delivered {
                    records,
                    first_seq,
                    replayed: true,
                },
                Err(e) => Outcome::Unavailable(e),
            };
        }
        // Deliver what is owed before sealing anything new.
        if let Err(e) = self.flush(usize::MAX).await {
            return Outcome::Unavailable(e);
        }
        let Some(mut b) = self.backend.take() else {
            return Outcome::Unavailable("sealer unavailable".into());
        };
        let store = self.store.clone();
        let cps_file = self.checkpoints_file.clone();
        let keep = self.limits.replay_disk.saturating_sub(1);
        let prior: Vec<BatchMeta> = self
            .recent
            .iter()
            .skip(self.recent.len().saturating_sub(keep))
            .map(|e| e.meta.clone())
            .collect();
        let joined = tokio::task::spawn_blocking(move || {
            let r = (|| -> Result<_> {
                let records = body::split(&body, json_array);
                let out = b.process(&records)?;
                let chain = b.state()?;
                let next = serde_json::from_str::<serde_json::Value>(&chain)
                    .ok()
                    .and_then(|v| v["size"].as_u64())
                    .unwrap_or(0);
                let meta = BatchMeta {
                    digest,
                    first_seq: next.saturating_sub(out.records as u64),
                    records: out.records,
                    delivered: out.records == 0,
                };
                // Saved before forwarding: a retry after a restart finds the
                // output, and the head is exact. Checkpoints go to their file
                // only once the head is saved (a batch sealed but not saved
                // is sealed again after a restart, possibly differently).
                store.save_batch(&digest, &out.ndjson)?;
                let mut metas: Vec<&BatchMeta> = prior.iter().collect();
                metas.push(&meta);
                store.save_head(&chain, &metas, false)?;
                append_checkpoints(cps_file.as_deref(), &out.checkpoints)?;
                Ok((out, chain, meta))
            })();
            (b, r)
        })
        .await;
        let (b, r) = match joined {
            Ok(x) => x,
            Err(e) => fatal(&format!("the sealer panicked: {e}")),
        };
        self.backend = Some(b);
        let (out, chain, meta) = match r {
            Ok(x) => x,
            // The chain may have advanced without a saved head: stop, and
            // let a restart continue from the last saved head.
            Err(e) => fatal(&format!("{e:#}")),
        };
        let first_seq = meta.first_seq;
        self.chain = chain;
        self.stats.batches.fetch_add(1, Relaxed);
        self.stats.records.fetch_add(out.records as u64, Relaxed);
        self.stats.wrapped.fetch_add(out.wrapped as u64, Relaxed);
        if let Some(w) = &out.first_wrap {
            eprintln!(
                "logseal serve: {} record(s) of batch {} sealed wrapped: {w}",
                out.wrapped,
                &hex(&digest)[..12]
            );
        }
        self.recent_bytes += out.ndjson.len();
        self.recent.push_back(Entry {
            meta,
            output: Bytes::from(out.ndjson),
        });
        self.evict();
        if self.last_snapshot.elapsed() >= self.limits.snapshot_every
            && let Err(e) = self.snapshot().await
        {
            eprintln!("logseal serve: saving the engine snapshot: {e:#}");
        }
        match self.flush(usize::MAX).await {
            Ok(()) => Outcome::Delivered {
                records: out.records,
                first_seq,
                replayed: false,
            },
            Err(e) => Outcome::Unavailable(e),
        }
    }

    fn evict(&mut self) {
        while self.recent.len() > 1
            && (self.recent.len() > self.limits.replay_window
                || self.recent_bytes > self.limits.replay_bytes)
            && self.recent[0].meta.delivered
        {
            if let Some(e) = self.recent.pop_front() {
                self.recent_bytes -= e.output.len();
                self.store.drop_batch(&e.meta.digest);
            }
        }
        // Outputs older than the disk window are no longer named by the head.
        if self.recent.len() > self.limits.replay_disk {
            let old = &self.recent[self.recent.len() - self.limits.replay_disk - 1];
            self.store.drop_batch(&old.meta.digest);
        }
    }
}

fn fatal(why: &str) -> ! {
    eprintln!("logseal serve: fatal: {why}; exiting (a restart continues from the saved head)");
    std::process::exit(1)
}

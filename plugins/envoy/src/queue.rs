//! The per-worker bounded queue of sealed records waiting for the collector.
//!
//! Records leave in NDJSON batches (one sealed record per line, the body a
//! Vector `http_server` source or the logseal Vector sidecar accepts). A
//! failed batch goes back to the front and is retried. The bound counts every
//! record held, the batch in flight included; when a new record would exceed
//! it, the oldest record not in flight is dropped and reported back so the
//! chain can declare it lost (it was already sealed): a gap in the chain that
//! the verifier counts, never a silent one.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::chain::LostRange;

/// One sealed record waiting.
#[derive(Clone, Debug)]
pub struct Queued {
    /// Epoch.
    pub epoch: String,
    /// Seq.
    pub seq: u64,
    /// The sealed line (no newline).
    pub line: Vec<u8>,
    /// The loss declaration it carries (to re-declare if it is dropped).
    pub carried: Option<LostRange>,
}

/// Counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Records accepted into the queue.
    pub queued: u64,
    /// Records confirmed by the collector.
    pub delivered: u64,
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Batches sent.
    pub batches: u64,
    /// Batches that failed (and were put back).
    pub failures: u64,
}

/// The queue.
#[derive(Debug)]
pub struct Queue {
    max: usize,
    batch_records: usize,
    batch_bytes: usize,
    /// Records; the first `in_flight` of them are in the batch being sent.
    items: VecDeque<Queued>,
    in_flight: usize,
    /// Counters.
    pub stats: QueueStats,
}

impl Queue {
    /// A queue holding at most `max` records, batches of at most
    /// `batch_records` records and about `batch_bytes` bytes.
    pub fn new(max: usize, batch_records: usize, batch_bytes: usize) -> Self {
        Queue {
            max: max.max(1),
            batch_records: batch_records.max(1),
            batch_bytes,
            items: VecDeque::new(),
            in_flight: 0,
            stats: QueueStats::default(),
        }
    }

    /// Records held (in flight included).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether a batch is in flight.
    pub fn busy(&self) -> bool {
        self.in_flight > 0
    }

    /// Add a record; returns the loss ranges of what had to be dropped for it
    /// (the dropped records themselves and the declarations they carried).
    pub fn push(&mut self, q: Queued) -> Vec<LostRange> {
        let mut lost = Vec::new();
        self.stats.queued += 1;
        if self.items.len() >= self.max {
            if self.in_flight < self.items.len() {
                // Drop the oldest record that is not in flight.
                if let Some(d) = self.items.remove(self.in_flight) {
                    self.drop_one(d, &mut lost);
                }
            } else {
                // Everything held is in flight: drop the newcomer.
                self.drop_one(q, &mut lost);
                return lost;
            }
        }
        self.items.push_back(q);
        lost
    }

    fn drop_one(&mut self, d: Queued, lost: &mut Vec<LostRange>) {
        self.stats.dropped += 1;
        lost.push(LostRange {
            epoch: d.epoch,
            from: d.seq,
            to: d.seq,
            why: "queue-full".into(),
        });
        if let Some(c) = d.carried {
            lost.push(c);
        }
    }

    /// The next batch body (NDJSON), marking its records in flight; `None`
    /// when a batch is already in flight or nothing waits.
    pub fn take_batch(&mut self) -> Option<Vec<u8>> {
        if self.in_flight > 0 || self.items.is_empty() {
            return None;
        }
        let mut body = Vec::new();
        let mut n = 0;
        for q in &self.items {
            if n == self.batch_records
                || (n > 0 && body.len() + q.line.len() + 1 > self.batch_bytes)
            {
                break;
            }
            body.extend_from_slice(&q.line);
            body.push(b'\n');
            n += 1;
        }
        self.in_flight = n;
        self.stats.batches += 1;
        Some(body)
    }

    /// Empty the queue (the VM is stopping): the loss ranges of everything
    /// held, in flight included (its answer will never be seen).
    pub fn drain_all(&mut self, why: &str) -> Vec<LostRange> {
        let mut lost = Vec::new();
        for d in self.items.drain(..) {
            self.stats.dropped += 1;
            lost.push(LostRange {
                epoch: d.epoch,
                from: d.seq,
                to: d.seq,
                why: why.into(),
            });
            if let Some(c) = d.carried {
                lost.push(c);
            }
        }
        self.in_flight = 0;
        lost
    }

    /// The batch in flight was accepted.
    pub fn ack(&mut self) {
        self.stats.delivered += self.in_flight as u64;
        self.items.drain(..self.in_flight);
        self.in_flight = 0;
    }

    /// The batch in flight failed: its records wait again, first in line.
    pub fn nack(&mut self) {
        if self.in_flight > 0 {
            self.stats.failures += 1;
        }
        self.in_flight = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(seq: u64) -> Queued {
        Queued {
            epoch: "e".into(),
            seq,
            line: alloc::format!("{{\"s\":{seq}}}").into_bytes(),
            carried: None,
        }
    }

    #[test]
    fn bounded_with_retry() {
        let mut qu = Queue::new(3, 2, 1 << 20);
        for s in 0..3 {
            assert!(qu.push(q(s)).is_empty());
        }
        let b = qu.take_batch().unwrap();
        assert_eq!(b, b"{\"s\":0}\n{\"s\":1}\n");
        qu.nack();
        // Full: seq 0, 1 are not in flight any more; the oldest goes.
        let lost = qu.push(q(3));
        assert_eq!(lost[0].from, 0);
        let b = qu.take_batch().unwrap();
        assert_eq!(b, b"{\"s\":1}\n{\"s\":2}\n");
        // In flight: the oldest not in flight (3) goes.
        let lost = qu.push(q(4));
        assert_eq!(lost[0].from, 3);
        qu.ack();
        assert_eq!(qu.len(), 1);
        assert_eq!(qu.stats.delivered, 2);
        assert_eq!(qu.stats.dropped, 2);
    }
}

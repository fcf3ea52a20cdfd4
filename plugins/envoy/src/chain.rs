//! One hash chain per proxy across worker VMs, kept in shared data.
//!
//! Envoy runs one VM per worker thread; the only process-wide state is
//! shared data, a key-value map with a compare-and-swap token. The chain
//! head (what a worker needs to append: the [`ChainState`] JSON, plus the
//! losses still to declare) lives under one key, and appending is:
//!
//! 1. `get(head)` → value and CAS token;
//! 2. resume a [`Sealer`] from the value and seal the record;
//! 3. `set(head, new value, cas)`; on a CAS mismatch another worker appended
//!    first: the sealed line is discarded (nothing was shipped) and the record
//!    is sealed again on the new head.
//!
//! **The first write is racy**: a `set` of a key that does not exist
//! succeeds whatever CAS is passed, and a CAS of 0 means "no check". A
//! creator therefore writes with the CAS [`CREATE_CAS`] (never 0): if two
//! workers both saw the key missing, the first `set` creates it and the second
//! now meets an existing key whose token is not `CREATE_CAS` and fails with a
//! CAS mismatch, re-reads and appends to the winner's chain. (Envoy's tokens
//! come from one process-wide counter that skips 0, so a collision would need
//! the head's token to be exactly `CREATE_CAS` at that instant.)
//!
//! **A lost head** (the key is gone while this VM lives: the last VM of the
//! vm_id went away, an nginx reload) is never continued from a guess: a new
//! epoch is started whose `after` names the last head this VM saw, so no
//! sequence number is ever sealed twice.
//!
//! **Losses**: records this VM sealed but had to drop (queue full) are
//! declared in a later record's `lost` member. The declaration may be carried
//! by a record another VM seals, so pending declarations are stored in the
//! head next to the chain state.
//!
//! The same code runs per-worker chains over [`LocalStore`].

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use logseal_core::seal::new_epoch_id;
use logseal_core::{ChainState, SealConfig, Sealed, Sealer, SignerKey};

/// The CAS token a creator passes (see the module docs); never 0.
pub const CREATE_CAS: u32 = 0xFFFF_FFFF;

/// Most attempts of one append before giving up (each failure means another
/// worker appended meanwhile, so this is only reached under a broken host).
pub const MAX_ATTEMPTS: u32 = 256;

/// Most pending loss declarations kept in the head; beyond, the two closest
/// ranges are merged (a declaration may then also cover delivered records).
pub const MAX_PENDING: usize = 32;

/// Outcome of a `set`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// Written.
    Ok,
    /// The key exists with another CAS token.
    CasMismatch,
}

/// Shared data as the host offers it. Errors are raw host status codes.
pub trait HeadStore {
    /// The value and its CAS token; `None` when the key does not exist.
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, u32>;
    /// Write with CAS semantics: a missing key is always written; `cas == 0`
    /// writes unconditionally; otherwise the token must match.
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<SetOutcome, u32>;
}

/// An in-VM store with the host's semantics (per-worker chains, tests).
#[derive(Default, Debug)]
pub struct LocalStore {
    entries: Vec<(String, Vec<u8>, u32)>,
    next_cas: u32,
}

impl HeadStore for LocalStore {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, u32> {
        Ok(self
            .entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, c)| (v.clone(), *c)))
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<SetOutcome, u32> {
        self.next_cas = self.next_cas.wrapping_add(1).max(1);
        let token = self.next_cas;
        match self.entries.iter_mut().find(|(k, _, _)| k == key) {
            Some(e) if cas != 0 && cas != e.2 => Ok(SetOutcome::CasMismatch),
            Some(e) => {
                e.1 = value.to_vec();
                e.2 = token;
                Ok(SetOutcome::Ok)
            }
            None => {
                self.entries.push((key.to_string(), value.to_vec(), token));
                Ok(SetOutcome::Ok)
            }
        }
    }
}

/// A range of sequence numbers of one epoch that was lost before delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostRange {
    /// The epoch.
    pub epoch: String,
    /// First seq.
    pub from: u64,
    /// Last seq (inclusive).
    pub to: u64,
    /// Why (`queue-full`).
    pub why: String,
}

/// Loss declarations of the head's epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    /// `(from, to, why)` not yet carried by a record.
    pub pending: Vec<(u64, u64, String)>,
    /// Ranges recently declared (carried). A new range adjacent to one of
    /// them is declared as their union: the verifier wants one declaration
    /// covering each whole gap, and two workers' drops can be neighbours.
    pub declared: Vec<(u64, u64)>,
}

/// Most recently declared ranges kept (see [`Losses::declared`]).
pub const MAX_DECLARED: usize = 16;

impl Losses {
    /// Sort and coalesce overlapping or adjacent pending ranges.
    fn coalesce(&mut self) {
        self.pending.sort_by_key(|p| p.0);
        let mut out: Vec<(u64, u64, String)> = Vec::with_capacity(self.pending.len());
        for p in self.pending.drain(..) {
            match out.last_mut() {
                Some(l) if p.0 <= l.1.saturating_add(1) => l.1 = l.1.max(p.1),
                _ => out.push(p),
            }
        }
        self.pending = out;
    }

    /// Take the next range to declare, widened over adjacent declared ranges.
    fn next(&mut self) -> Option<(u64, u64, String)> {
        if self.pending.is_empty() {
            return None;
        }
        let (mut f, mut t, why) = self.pending.remove(0);
        loop {
            let before = (f, t);
            for d in &self.declared {
                if d.0 <= t.saturating_add(1) && f <= d.1.saturating_add(1) {
                    f = f.min(d.0);
                    t = t.max(d.1);
                }
            }
            if before == (f, t) {
                break;
            }
        }
        self.declared
            .retain(|d| !(d.0 <= t.saturating_add(1) && f <= d.1.saturating_add(1)));
        self.declared.push((f, t));
        if self.declared.len() > MAX_DECLARED {
            self.declared.remove(0);
        }
        Some((f, t, why))
    }
}

/// What the head key holds: the chain state and its loss declarations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadState {
    /// The chain state.
    pub state: ChainState,
    /// Loss declarations (all of the state's epoch).
    pub losses: Losses,
}

impl HeadState {
    /// Text form: the ChainState JSON line, then `lost FROM TO WHY` lines
    /// (pending) and `decl FROM TO` lines (recently declared).
    pub fn encode(state: &ChainState, losses: &Losses) -> Vec<u8> {
        let mut out = state.to_json().into_bytes();
        for (f, t, w) in &losses.pending {
            out.extend_from_slice(format!("\nlost {f} {t} {w}").as_bytes());
        }
        for (f, t) in &losses.declared {
            out.extend_from_slice(format!("\ndecl {f} {t}").as_bytes());
        }
        out
    }

    /// Parse [`HeadState::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<HeadState, String> {
        let text = core::str::from_utf8(bytes).map_err(|_| "head is not UTF-8".to_string())?;
        let mut lines = text.split('\n');
        let state =
            ChainState::from_json(lines.next().unwrap_or("")).map_err(|e| format!("head: {e}"))?;
        let mut losses = Losses::default();
        for l in lines {
            let mut p = l.splitn(4, ' ');
            let (kind, f, t, w) = (p.next(), p.next(), p.next(), p.next());
            let (Some(Ok(f)), Some(Ok(t))) = (f.map(str::parse::<u64>), t.map(str::parse::<u64>))
            else {
                return Err("head: bad loss line".to_string());
            };
            if f > t || t >= state.next_seq() {
                continue;
            }
            match kind {
                Some("lost") => losses.pending.push((f, t, w.unwrap_or("lost").to_string())),
                Some("decl") => losses.declared.push((f, t)),
                _ => return Err("head: unknown line".to_string()),
            }
        }
        Ok(HeadState { state, losses })
    }
}

/// Why an append failed (the record is then not sealed at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// The host answered a shared-data call with this status.
    Host(u32),
    /// [`MAX_ATTEMPTS`] CAS mismatches in a row.
    Contended,
    /// The configuration cannot make a sealer (stream/epoch invalid).
    Seal(String),
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Host(s) => write!(f, "shared data call failed with status {s}"),
            ChainError::Contended => {
                write!(f, "chain head stayed contended for {MAX_ATTEMPTS} attempts")
            }
            ChainError::Seal(e) => write!(f, "cannot seal: {e}"),
        }
    }
}

/// Counters (exported as a log line and used by tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainStats {
    /// Records sealed and written to the head.
    pub appends: u64,
    /// CAS mismatches (each one a discarded, re-done seal).
    pub cas_retries: u64,
    /// Heads this VM created (fresh chains and new epochs).
    pub creates: u64,
    /// Heads found missing after this VM had seen one (new epoch with `after`).
    pub lost_heads: u64,
    /// Heads that could not be parsed (replaced by a new epoch).
    pub corrupt_heads: u64,
    /// Appends that reused this VM's cached sealer (head unchanged since its write).
    pub cache_hits: u64,
    /// Loss ranges that could not be declared (their epoch is no longer the head's).
    pub undeclarable: u64,
}

/// The result of one append.
#[derive(Clone, Debug)]
pub struct Appended {
    /// The sealed record.
    pub sealed: Sealed,
    /// Its epoch.
    pub epoch: String,
    /// The loss declaration the record carries, if any (if the record itself
    /// is dropped later, the declaration must be made again).
    pub carried: Option<LostRange>,
}

/// A chain appender of one VM.
pub struct Chain {
    key: SignerKey,
    cfg: SealConfig,
    head_key: String,
    rng: u64,
    /// Bytes of the head as this VM last saw or wrote it, and the matching sealer.
    seen_bytes: Vec<u8>,
    seen: Option<(Sealer, Losses)>,
    /// The last chain state seen (for `after` when the head is lost).
    last_state: Option<ChainState>,
    local_lost: Vec<LostRange>,
    /// Counters.
    pub stats: ChainStats,
}

impl Chain {
    /// An appender for stream `cfg.stream`, head under `head_key`; `seed`
    /// seeds epoch IDs (use the VM's random nonce).
    pub fn new(key: SignerKey, cfg: SealConfig, head_key: String, seed: u64) -> Self {
        Chain {
            key,
            cfg,
            head_key,
            rng: seed | 1,
            seen_bytes: Vec::new(),
            seen: None,
            last_state: None,
            local_lost: Vec::new(),
            stats: ChainStats::default(),
        }
    }

    /// The shared-data key of the head.
    pub fn head_key(&self) -> &str {
        &self.head_key
    }

    /// Loss ranges waiting to be written to the head.
    pub fn local_lost(&self) -> &[LostRange] {
        &self.local_lost
    }

    fn random(&mut self) -> u32 {
        // xorshift64*: only for epoch IDs' uniqueness, not secrecy.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    fn fresh(&mut self, now_ns: i64) -> Result<Sealer, ChainError> {
        let epoch = new_epoch_id(now_ns.div_euclid(1_000_000_000), self.random());
        let cfg = SealConfig {
            epoch,
            ..self.cfg.clone()
        };
        let s = match &self.last_state {
            Some(prev) => Sealer::new_epoch_after(self.key.clone(), cfg, prev),
            None => Sealer::new(self.key.clone(), cfg),
        };
        s.map_err(|e| ChainError::Seal(e.to_string()))
    }

    /// Remember that this VM dropped `from..=to` of `epoch` (already sealed).
    pub fn note_lost(&mut self, r: LostRange) {
        if let Some(l) = self
            .local_lost
            .iter_mut()
            .find(|l| l.epoch == r.epoch && l.to + 1 >= r.from && r.to + 1 >= l.from)
        {
            l.from = l.from.min(r.from);
            l.to = l.to.max(r.to);
            return;
        }
        self.local_lost.push(r);
    }

    /// Move this VM's losses of `epoch` into `pending` (bounded).
    fn merge_local(&mut self, epoch: &str, next_seq: u64, losses: &mut Losses) {
        let mut undeclarable = 0;
        for l in self.local_lost.drain(..) {
            if l.epoch == epoch && l.to < next_seq {
                losses.pending.push((l.from, l.to, l.why));
            } else {
                undeclarable += 1;
            }
        }
        self.stats.undeclarable += undeclarable;
        losses.coalesce();
        let pending = &mut losses.pending;
        if pending.len() > MAX_PENDING {
            pending.sort_by_key(|p| p.0);
            while pending.len() > MAX_PENDING {
                // Merge the closest neighbours.
                let i = (0..pending.len() - 1)
                    .min_by_key(|&i| pending[i + 1].0.saturating_sub(pending[i].1))
                    .unwrap_or(0);
                let next = pending.remove(i + 1);
                pending[i].1 = pending[i].1.max(next.1);
            }
        }
    }

    /// Read the head: a sealer positioned on it, its pending losses and its
    /// CAS token (or [`CREATE_CAS`] when the head must be created).
    fn load(
        &mut self,
        store: &mut dyn HeadStore,
        now_ns: i64,
    ) -> Result<(Sealer, Losses, u32), ChainError> {
        match store.get(&self.head_key).map_err(ChainError::Host)? {
            Some((bytes, cas)) => {
                if bytes == self.seen_bytes
                    && let Some((s, p)) = self.seen.take()
                {
                    self.stats.cache_hits += 1;
                    return Ok((s, p, cas));
                }
                match HeadState::decode(&bytes) {
                    Ok(h) if h.state.stream == self.cfg.stream => {
                        self.last_state = Some(h.state.clone());
                        // Another VM moved the head: follow it, reusing this
                        // VM's sealer (and its buffers) when it has one.
                        let s = match self.seen.take() {
                            Some((mut s, _)) => s.resume_at(h.state).map(|()| s),
                            None => Sealer::resume(self.key.clone(), self.cfg.clone(), h.state),
                        }
                        .map_err(|e| ChainError::Seal(e.to_string()))?;
                        Ok((s, h.losses, cas))
                    }
                    _ => {
                        // Not ours or corrupt: never continue from a guess.
                        self.stats.corrupt_heads += 1;
                        Ok((self.fresh(now_ns)?, Losses::default(), cas))
                    }
                }
            }
            None => {
                if self.last_state.is_some() {
                    self.stats.lost_heads += 1;
                }
                Ok((self.fresh(now_ns)?, Losses::default(), CREATE_CAS))
            }
        }
    }

    /// Seal one record at the head of the chain. `seal` is called once per
    /// attempt with a sealer positioned at the head (it may be called again
    /// after a CAS mismatch: score only on the first call).
    pub fn append(
        &mut self,
        store: &mut dyn HeadStore,
        now_ns: i64,
        mut seal: impl FnMut(&mut Sealer) -> Sealed,
    ) -> Result<Appended, ChainError> {
        for _ in 0..MAX_ATTEMPTS {
            let (mut sealer, mut losses, cas) = self.load(store, now_ns)?;
            let epoch = sealer.state().epoch.clone();
            let saved_local = self.local_lost.clone();
            self.merge_local(&epoch, sealer.state().next_seq(), &mut losses);
            let carried = losses.next().map(|(from, to, why)| {
                sealer.declare_lost(from, to, &why);
                LostRange {
                    epoch: epoch.clone(),
                    from,
                    to,
                    why,
                }
            });
            let sealed = seal(&mut sealer);
            let bytes = HeadState::encode(sealer.state(), &losses);
            match store
                .set(&self.head_key, &bytes, cas)
                .map_err(ChainError::Host)?
            {
                SetOutcome::Ok => {
                    self.stats.appends += 1;
                    if cas == CREATE_CAS {
                        self.stats.creates += 1;
                    }
                    self.last_state = Some(sealer.state().clone());
                    self.seen_bytes = bytes;
                    self.seen = Some((sealer, losses));
                    return Ok(Appended {
                        sealed,
                        epoch,
                        carried,
                    });
                }
                SetOutcome::CasMismatch => {
                    self.stats.cas_retries += 1;
                    self.local_lost = saved_local;
                    self.seen = None;
                }
            }
        }
        Err(ChainError::Contended)
    }

    /// Write this VM's pending losses into the head without sealing (on an
    /// idle tick, so another VM's next record can carry them).
    pub fn publish_losses(
        &mut self,
        store: &mut dyn HeadStore,
        now_ns: i64,
    ) -> Result<(), ChainError> {
        if self.local_lost.is_empty() {
            return Ok(());
        }
        for _ in 0..MAX_ATTEMPTS {
            let (sealer, mut losses, cas) = self.load(store, now_ns)?;
            if cas == CREATE_CAS && sealer.state().next_seq() == 0 {
                // No head: the losses' epoch is gone.
                self.stats.undeclarable += self.local_lost.len() as u64;
                self.local_lost.clear();
                self.seen = None;
                return Ok(());
            }
            let saved_local = self.local_lost.clone();
            let epoch = sealer.state().epoch.clone();
            self.merge_local(&epoch, sealer.state().next_seq(), &mut losses);
            let bytes = HeadState::encode(sealer.state(), &losses);
            match store
                .set(&self.head_key, &bytes, cas)
                .map_err(ChainError::Host)?
            {
                SetOutcome::Ok => {
                    self.seen_bytes = bytes;
                    self.seen = Some((sealer, losses));
                    return Ok(());
                }
                SetOutcome::CasMismatch => {
                    self.stats.cas_retries += 1;
                    self.local_lost = saved_local;
                    self.seen = None;
                }
            }
        }
        Err(ChainError::Contended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logseal_core::Input;

    fn chain(seed: u64) -> Chain {
        let key = SignerKey::from_seed("t.example", [1; 32]).unwrap();
        let mut cfg = SealConfig::new("t.example/envoy", "x");
        cfg.checkpoint_every = 4;
        Chain::new(key, cfg, "logseal/head".into(), seed)
    }

    fn rec(s: &mut Sealer, i: u64) -> Sealed {
        let r = format!("{{\"i\":{i}}}");
        s.seal(Input {
            record: r.as_bytes(),
            ..Default::default()
        })
    }

    #[test]
    fn two_vms_one_chain_with_declared_loss() {
        let mut store = LocalStore::default();
        let (mut a, mut b) = (chain(1), chain(2));
        let mut lines = Vec::new();
        for i in 0..20u64 {
            let c = if i % 3 == 0 { &mut a } else { &mut b };
            let ap = c
                .append(&mut store, 1_795_439_677_000_000_000, |s| rec(s, i))
                .unwrap();
            assert_eq!(ap.sealed.seq, i);
            if i == 5 {
                // b drops seq 5 (queue full).
                b.note_lost(LostRange {
                    epoch: ap.epoch.clone(),
                    from: 5,
                    to: 5,
                    why: "queue-full".into(),
                });
                continue;
            }
            lines.extend_from_slice(&ap.sealed.line);
            lines.push(b'\n');
        }
        assert_eq!(a.stats.creates + b.stats.creates, 1);
        let rep = logseal_core::verify::verify_texts(
            logseal_core::VerifyOptions {
                keys: alloc::vec![
                    SignerKey::from_seed("t.example", [1; 32])
                        .unwrap()
                        .verifier()
                ],
                ..Default::default()
            },
            &[("x", &lines)],
        );
        let kinds: Vec<_> = rep.findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [logseal_core::Kind::DeclaredLoss], "{rep:?}");
    }

    #[test]
    fn lost_head_opens_new_epoch() {
        let mut store = LocalStore::default();
        let mut a = chain(1);
        let e1 = a.append(&mut store, 0, |s| rec(s, 0)).unwrap().epoch;
        let mut store2 = LocalStore::default();
        let ap = a.append(&mut store2, 1_000_000_000, |s| rec(s, 1)).unwrap();
        assert_ne!(ap.epoch, e1);
        assert_eq!(ap.sealed.seq, 0);
        assert!(String::from_utf8_lossy(&ap.sealed.line).contains("\"after\""));
        assert_eq!(a.stats.lost_heads, 1);
    }
}

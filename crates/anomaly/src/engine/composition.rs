//! `composition`: the set of templates a session has used.

use super::*;

/// Templates a composition detector tells apart; the last bit stands for
/// every template it has not learned.
pub(super) const COMP_TEMPLATES: usize = 255;

/// A set of template ids (bit `COMP_TEMPLATES` = an unknown template).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(super) struct Mask(pub(super) [u64; 4]);

impl Mask {
    /// Add `bit`; whether it was new.
    pub(super) fn insert(&mut self, bit: usize) -> bool {
        let (w, b) = (bit / 64, 1u64 << (bit % 64));
        let new = self.0[w] & b == 0;
        self.0[w] |= b;
        new
    }
    pub(super) fn is_subset(&self, of: &Mask) -> bool {
        (0..4).all(|i| self.0[i] & !of.0[i] == 0)
    }
    pub(super) fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
    pub(super) fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }
    pub(super) fn bits(&self) -> impl Iterator<Item = usize> + '_ {
        (0..256).filter(|&i| self.0[i / 64] & (1 << (i % 64)) != 0)
    }
}

/// One open session of a composition detector: 52 bytes in its table.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct CompSession {
    pub(super) mask: Mask,
    /// Already reported as a combination no learned session had.
    pub(super) reported: u32,
}

impl Pod for CompSession {
    const SIZE: usize = 36;
    fn put(&self, w: &mut W) {
        for word in self.mask.0 {
            w.u64(word);
        }
        w.u32(self.reported);
    }
    fn get(r: &mut R<'_>) -> Result<Self, StateError> {
        let mut s = CompSession::default();
        for word in s.mask.0.iter_mut() {
            *word = r.u64()?;
        }
        s.reported = r.u32()?;
        Ok(s)
    }
}

/// The `composition` detector (see [`CompositionRule`]).
pub(super) struct Composition {
    pub(super) filter: Vec<CCond>,
    pub(super) end: Vec<CCond>,
    pub(super) session: FieldRef,
    pub(super) template: FieldRef,
    pub(super) online: bool,
    pub(super) max: usize,
    pub(super) keys: BTreeMap<String, u8>,
    pub(super) key_names: Vec<String>,
    /// Combinations learned sessions ended with, and how many sessions each.
    pub(super) known: Vec<(Mask, u32)>,
    /// Learned sessions that ended.
    pub(super) ended: u64,
    pub(super) sessions: Table<CompSession>,
}

impl Composition {
    pub(super) fn bit_of(&mut self, v: &str, learn: bool) -> usize {
        let v: Cow<'_, str> = if v.len() > KEY_MAX {
            Cow::Owned(clip(v, KEY_MAX))
        } else {
            Cow::Borrowed(v)
        };
        if let Some(&id) = self.keys.get(&*v) {
            return id as usize;
        }
        if !learn || self.key_names.len() >= COMP_TEMPLATES {
            return COMP_TEMPLATES;
        }
        let v = v.into_owned();
        let id = self.key_names.len();
        self.keys.insert(v.clone(), id as u8);
        self.key_names.push(v);
        id
    }

    pub(super) fn names(&self, m: &Mask, max: usize) -> String {
        let mut out: Vec<&str> = m
            .bits()
            .take(max)
            .map(|b| {
                self.key_names
                    .get(b)
                    .map(String::as_str)
                    .unwrap_or("<unknown>")
            })
            .collect();
        if m.len() as usize > max {
            out.push("...");
        }
        out.join(", ")
    }

    /// Good-Turing estimate of the chance that a session's combination is
    /// one no learned session had: `(combinations + 1) / (sessions + 2)`,
    /// where a learned session whose combination was not kept (the list
    /// full) counts as a combination of its own: each may have been new.
    /// Without them, a full list's estimate fell as 1 / sessions while
    /// the share of sessions outside it stayed, and half of a stationary
    /// stream of 512 combinations (256 kept) was reported (found by
    /// review).
    pub(super) fn novelty_p(&self) -> f64 {
        let kept: u64 = self.known.iter().map(|&(_, n)| u64::from(n)).sum();
        let unkept = self.ended.saturating_sub(kept);
        ((self.known.len() as u64 + unkept) as f64 + 1.0) / (self.ended as f64 + 2.0)
    }

    /// Halves the learned combinations' counts, rounding down (one seen
    /// once is forgotten, as a `sequence` detector's one-off templates
    /// are), and the sessions, keeping those not kept as they were, halved.
    pub(super) fn halve(&mut self) {
        let kept: u64 = self.known.iter().map(|&(_, n)| u64::from(n)).sum();
        let unkept = self.ended.saturating_sub(kept);
        for (_, n) in self.known.iter_mut() {
            *n /= 2;
        }
        self.known.retain(|&(_, n)| n > 0);
        self.ended = self.known.iter().map(|&(_, n)| u64::from(n)).sum::<u64>() + unkept / 2;
    }

    #[inline(never)]
    pub(super) fn run<E: Event + ?Sized>(
        &mut self,
        c: &Ctx<'_, '_, E>,
        id: DetId<'_>,
        hits: &mut Vec<Hit>,
    ) {
        let DetId {
            di, dseed, muted, ..
        } = id;
        let Some(SessionEvent {
            name: sess,
            is_end,
            key: skey,
        }) = session_event(c, &self.filter, &self.session, &self.end, di)
        else {
            return;
        };
        let learn = c.learning || self.online;
        let scoring = !c.learning && self.ended > 0;
        if is_end {
            let s = self.sessions.get(skey).copied().unwrap_or_default();
            if s.mask.is_empty() {
                return;
            }
            if scoring && !muted && s.reported == 0 && !self.known.iter().any(|(m, _)| *m == s.mask)
            {
                // The learned combination closest above: what the session lacks.
                let nearest = self
                    .known
                    .iter()
                    .filter(|(m, _)| s.mask.is_subset(m))
                    .min_by_key(|(m, n)| (m.len(), u32::MAX - n));
                let lacks = match nearest {
                    Some((m, _)) => {
                        let mut d = Mask::default();
                        for i in 0..4 {
                            d.0[i] = m.0[i] & !s.mask.0[i];
                        }
                        format!("; the closest learned one also has {}", self.names(&d, 6))
                    }
                    None => String::new(),
                };
                hits.push(Hit {
                    det: di,
                    entity: sess.to_string(),
                    feature: "composition".into(),
                    observed: self.names(&s.mask, 12),
                    expected: "a combination a learned session ended with".into(),
                    p: self.novelty_p(),
                    text: format!(
                        "{sess}: ended with {} event templates [{}], a combination none of {} learned sessions ended with{lacks}",
                        s.mask.len(),
                        self.names(&s.mask, 8),
                        thousands(self.ended)
                    ),
                    nested: false,
                    dkey: combine(dseed, hash_str(2, &sess)),
                });
            }
            if learn {
                match self.known.iter().position(|(m, _)| *m == s.mask) {
                    Some(i) => self.known[i].1 = self.known[i].1.saturating_add(1),
                    None if self.known.len() < self.max => {
                        // Doubling, but never past `max`: the budget reserves
                        // `max` combinations (a doubling past it overdrew
                        // the budget by up to as much again: found by review).
                        if self.known.len() == self.known.capacity() {
                            let want = (self.known.capacity() * 2).max(4).min(self.max);
                            self.known.reserve_exact(want - self.known.len());
                        }
                        self.known.push((s.mask, 1));
                    }
                    None => {}
                }
                self.ended = self.ended.saturating_add(1);
            }
            *self.sessions.entry(skey).0 = CompSession::default();
            return;
        }
        let Some(t) = c.get(&self.template) else {
            return;
        };
        let bit = self.bit_of(&t, learn);
        let (st, _) = self.sessions.entry(skey);
        // An allowlisted step reports nothing and leaves the session's one
        // report for a later step.
        if !st.mask.insert(bit) || st.reported != 0 || !scoring || muted {
            return;
        }
        let mask = st.mask;
        if self.known.iter().any(|(m, _)| mask.is_subset(m)) {
            return;
        }
        st.reported = 1;
        let tn = if bit == COMP_TEMPLATES {
            format!("{} (unknown)", clip(&t, 80))
        } else {
            clip(&t, 80)
        };
        hits.push(Hit {
            det: di,
            entity: sess.to_string(),
            feature: "composition".into(),
            observed: tn.clone(),
            expected: "a combination of templates a learned session had".into(),
            p: self.novelty_p(),
            text: format!(
                "{sess}: {tn} with [{}] is a combination of event templates none of {} learned sessions had",
                self.names(&mask, 8),
                thousands(self.ended)
            ),
            nested: false,
            dkey: combine(dseed, hash_str(3, &sess)),
        });
    }
}

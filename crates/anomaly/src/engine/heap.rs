//! What the compiled policy holds on the heap (see `crate::heap`); the
//! learned state (tables, sketches, templates) is counted apart, in
//! `Engine::memory_bytes`.

use super::*;
use crate::heap::{Heap, Wide, heap_of, wide};

wide!(
    CCond = 352, FieldRef = 104, Seg = 32, Det = 840, Group = 280, Allowed = 376,
    Extractor = 184, DPiece = 104, Kind = 40, Option<(u64, Profile)> = 64,
);

impl Heap for Kind {
    fn heap(&self) -> usize {
        match self {
            Kind::SourceNet(v, _) => v.heap(),
            _ => 0,
        }
    }
}
impl Heap for Seg {
    fn heap(&self) -> usize {
        match self {
            Seg::Lit(s) | Seg::Cap(s, _) => s.heap(),
        }
    }
}
impl Heap for DPiece {
    fn heap(&self) -> usize {
        match self {
            DPiece::Text(s) => s.heap(),
            DPiece::Field(f) => f.heap(),
            DPiece::Own(_) => 0,
        }
    }
}
heap_of!(FieldRef { name, paths, kind });
heap_of!(Extractor {
    from,
    segs,
    set,
    guard
});
heap_of!(CCond { f, c, outcome_eq });
impl Heap for Describe {
    fn heap(&self) -> usize {
        self.0.heap()
    }
}
heap_of!(Allowed { c, detector });
heap_of!(Threshold {
    filter,
    group,
    weight,
    describe
});
heap_of!(DistinctDet {
    filter,
    group,
    distinct,
    describe
});
heap_of!(FollowedBy {
    first,
    then,
    group,
    weight,
    describe
});
heap_of!(Rate {
    filter,
    group,
    value,
    err
});
heap_of!(Gauge {
    filter,
    group,
    value
});
heap_of!(NewValue { filter, features });
heap_of!(Hour { filter });
heap_of!(Peer {
    filter,
    entity,
    group,
    feature
});
heap_of!(Travel {
    filter,
    entity,
    lat,
    lon
});
heap_of!(Sequence {
    filter,
    end,
    session,
    template,
    message
});
heap_of!(Composition {
    filter,
    end,
    session,
    template
});
heap_of!(Group { entity });

impl Heap for Det {
    fn heap(&self) -> usize {
        match self {
            Det::Threshold(x) => x.heap(),
            Det::Distinct(x) => x.heap(),
            Det::FollowedBy(x) => x.heap(),
            Det::Rate(x) => x.heap(),
            Det::Gauge(x) => x.heap(),
            Det::NewValue(x) => x.heap(),
            Det::Hour(x) => x.heap(),
            Det::Peer(x) => x.heap(),
            Det::Travel(x) => x.heap(),
            Det::Sequence(x) => x.heap(),
            Det::Composition(x) => x.heap(),
        }
    }
}

impl Engine {
    /// What the policy and its compiled form hold on the heap, with
    /// the engine's lists of them (the tables and sketches in those
    /// lists are counted apart): see `crate::heap`.
    pub(super) fn config_heap(&self) -> usize {
        self.policy.heap()
            + self.names.heap()
            + self.dets.heap()
            + self.groups.heap()
            + self.group_q.heap()
            + self.extract.heap()
            + self.allow.heap()
            + self.sup_folded.heap()
            + self.folds_entity.heap()
            + self.skip.heap()
            + self.ts.heap()
            + self.profs_buf.capacity() * <Option<(u64, Profile)>>::WIDE
    }
}

//! What the policy and the engine's compiled form of it hold on the heap.
//!
//! `memory_budget_bytes` bounds everything the engine holds, and the learned
//! state is only part of it: the policy itself (its field mappings, patterns,
//! allowlists) and what the engine compiles from it (field references,
//! conditions, extraction patterns) are held too, for as long as the engine
//! lives. They do not grow with the stream, so they are walked once, when
//! the engine is built, and counted from then on. Before December 2026 a
//! flat 4 KiB stood for them: the `sshd` preset's policy and its compiled
//! form hold about 126 KB, and an allowlist of 20,000 addresses 1.4 MB
//! (found by review, with a counting allocator).
//!
//! [`Heap::heap`] is what a value owns on the heap, from capacities (what
//! the allocator was asked for), not lengths; a [`BTreeMap`] is bounded
//! from above (its nodes at their least occupancy), as its nodes are not
//! ours to see.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// Heap bytes a value owns (not counting its own `size_of`).
pub(crate) trait Heap {
    fn heap(&self) -> usize;
}

/// A type's size, one figure for every target and build: the same policy
/// must make the same engine natively and on wasm32, whose `String`s,
/// `Vec`s and `usize`s are half as large, as what the policy holds is
/// taken off the tables' shares (measured with each target's own sizes,
/// the `ecs` preset kept 841,728 profiles natively and 841,832 on wasm32,
/// and a 1 MiB policy whose tables filled gave other verdicts: found by
/// review). The figure is the largest size of the type on the 64-bit
/// targets and feature sets this workspace builds: serde_json's
/// `preserve_order`, which the host harness turns on and cargo then turns
/// on for every crate of the same build, makes a `Value` 72 bytes, not 32.
/// [`wide!`] checks at compile time that no build has the type larger, so
/// a type that grows cannot go unseen (and a figure is never under it).
pub(crate) trait Wide {
    const WIDE: usize;
}

/// `wide!(T = n, ...)`: `T` is counted as `n` bytes, at least its size.
macro_rules! wide {
    ($($t:ty = $n:expr),* $(,)?) => { $(
        impl $crate::heap::Wide for $t {
            const WIDE: usize = $n;
        }
        const _: () = assert!(
            core::mem::size_of::<$t>() <= $n,
            "a `wide!` size is below the type's size on this target"
        );
    )* };
}
pub(crate) use wide;

wide!(
    u8 = 1, u16 = 2, u32 = 4, u64 = 8, usize = 8, f64 = 8, bool = 1,
    String = 24, (String, String) = 48, Option<String> = 24,
    serde_json::Value = 72,
);

/// Types that own nothing on the heap.
macro_rules! no_heap {
    ($($t:ty),* $(,)?) => { $(impl Heap for $t { fn heap(&self) -> usize { 0 } })* };
}
no_heap!(
    bool, u8, u16, u32, u64, usize, i64, f64, [bool; 2], [f64; 4]
);

/// A struct's heap: the sum of the listed fields' (the others own none).
macro_rules! heap_of {
    ($t:ty { $($f:ident),* $(,)? }) => {
        impl $crate::heap::Heap for $t {
            fn heap(&self) -> usize {
                0 $(+ $crate::heap::Heap::heap(&self.$f))*
            }
        }
    };
}
pub(crate) use heap_of;

impl Heap for String {
    fn heap(&self) -> usize {
        self.capacity()
    }
}

/// Every `Vec` is a pointer, a capacity and a length.
impl<T> Wide for Vec<T> {
    const WIDE: usize = 24;
}
#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<Vec<u128>>() == 24);

impl<T: Heap + Wide> Heap for Vec<T> {
    fn heap(&self) -> usize {
        self.capacity() * T::WIDE + self.iter().map(Heap::heap).sum::<usize>()
    }
}

impl<T: Heap> Heap for Option<T> {
    fn heap(&self) -> usize {
        self.as_ref().map_or(0, Heap::heap)
    }
}

impl<A: Heap, B: Heap> Heap for (A, B) {
    fn heap(&self) -> usize {
        self.0.heap() + self.1.heap()
    }
}

/// Entries a B-tree node holds at most, and at least (but the root).
const B_CAP: usize = 11;
const B_MIN: usize = 5;

impl<K: Heap + Wide, V: Heap + Wide> Heap for BTreeMap<K, V> {
    fn heap(&self) -> usize {
        if self.is_empty() {
            return 0;
        }
        // Every node at its least occupancy; an internal node's 12 edges
        // and its header on every node.
        let nodes = self.len().div_ceil(B_MIN) + 1;
        let node = B_CAP * (K::WIDE + V::WIDE) + 16 + 12 * 8;
        nodes * node + self.iter().map(|(k, v)| k.heap() + v.heap()).sum::<usize>()
    }
}

impl Heap for serde_json::Value {
    fn heap(&self) -> usize {
        use serde_json::Value;
        match self {
            Value::String(s) => s.heap(),
            Value::Array(a) => a.heap(),
            Value::Object(m) => {
                // A `BTreeMap<String, Value>` inside (no `preserve_order`).
                let nodes = m.len().div_ceil(B_MIN) + 1;
                let node = B_CAP * (String::WIDE + Value::WIDE) + 16 + 12 * 8;
                if m.is_empty() {
                    0
                } else {
                    nodes * node + m.iter().map(|(k, v)| k.heap() + v.heap()).sum::<usize>()
                }
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use core::mem::size_of;

    #[test]
    fn capacities_not_lengths() {
        let mut s = String::with_capacity(100);
        s.push('a');
        assert_eq!(s.heap(), 100);
        let v: Vec<String> = vec!["abc".to_string(), String::with_capacity(10)];
        assert_eq!(v.heap(), 2 * size_of::<String>() + 3 + 10);
        let m: BTreeMap<String, u32> = (0..100).map(|i| (i.to_string(), i)).collect();
        // at least the entries and their keys
        assert!(m.heap() >= 100 * (size_of::<String>() + 4) + 190);
    }
}

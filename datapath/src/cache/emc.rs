//! The exact-match cache (EMC): a per-worker, fixed-size, lock-free
//! array that maps a full [`FlowKey`] to the megaflow it last hit.
//!
//! Each key hashes to two candidate slots (two halves of the hash). A hit is
//! a hash compare, a full-key compare and a check that the megaflow is still
//! alive. Insertion is probabilistic (one in `insert_inv_prob` hits of the
//! megaflow classifier): under a flood of short flows the EMC would only
//! thrash, and a low insertion rate keeps the long flows in it, as Open
//! vSwitch's `emc-insert-inv-prob` does. The victim on insert is the empty
//! or dead slot if there is one, else the second candidate.

use super::megaflow::Megaflow;
use crate::flow::FlowKey;
use std::sync::Arc;

/// Default number of entries.
pub const EMC_ENTRIES: usize = 8192;

#[derive(Debug, Default, Clone)]
struct Entry {
    hash: u32,
    key: FlowKey,
    flow: Option<Arc<Megaflow>>,
}

/// The exact-match cache of one worker.
#[derive(Debug)]
pub struct ExactMatchCache {
    entries: Box<[Entry]>,
    mask: usize,
    insert_inv_prob: u32,
    rng: u32,
}

impl ExactMatchCache {
    /// A cache of `entries` slots (rounded up to a power of two) inserting
    /// one in `insert_inv_prob` candidates (1 = always, 0 = never).
    pub fn new(entries: usize, insert_inv_prob: u32) -> Self {
        let n = entries.max(2).next_power_of_two();
        ExactMatchCache {
            entries: vec![Entry::default(); n].into_boxed_slice(),
            mask: n - 1,
            insert_inv_prob,
            rng: 0x2545_f491,
        }
    }

    #[inline]
    fn slots(&self, hash: u32) -> [usize; 2] {
        let a = hash as usize & self.mask;
        let b = (hash.rotate_right(16) as usize) & self.mask;
        [a, b]
    }

    /// The live megaflow this exact key last hit, if cached.
    #[inline]
    pub fn lookup(&self, key: &FlowKey, hash: u32) -> Option<&Arc<Megaflow>> {
        for i in self.slots(hash) {
            let e = &self.entries[i];
            if e.hash == hash {
                if let Some(f) = &e.flow {
                    if e.key == *key && !f.is_dead() {
                        return Some(f);
                    }
                }
            }
        }
        None
    }

    /// Maybe remember that `key` hit `flow` (subject to the insertion
    /// probability). Returns whether it was inserted.
    pub fn maybe_insert(&mut self, key: &FlowKey, hash: u32, flow: &Arc<Megaflow>) -> bool {
        match self.insert_inv_prob {
            0 => return false,
            1 => {}
            n => {
                // xorshift32: cheap, per-worker, good enough for sampling.
                let mut x = self.rng;
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                self.rng = x;
                if !x.is_multiple_of(n) {
                    return false;
                }
            }
        }
        self.insert(key, hash, flow);
        true
    }

    /// Remember that `key` hit `flow`, unconditionally.
    pub fn insert(&mut self, key: &FlowKey, hash: u32, flow: &Arc<Megaflow>) {
        let [a, b] = self.slots(hash);
        let victim = [a, b]
            .into_iter()
            .find(|&i| {
                let e = &self.entries[i];
                match &e.flow {
                    None => true,
                    Some(f) => f.is_dead() || (e.hash == hash && e.key == *key),
                }
            })
            .unwrap_or(b);
        let e = &mut self.entries[victim];
        e.hash = hash;
        e.key = *key;
        e.flow = Some(flow.clone());
    }

    /// Forget everything (drops the references to megaflows).
    pub fn clear(&mut self) {
        for e in self.entries.iter_mut() {
            e.flow = None;
        }
    }

    /// Drop entries whose megaflow died, releasing the memory they pin.
    pub fn sweep(&mut self) {
        for e in self.entries.iter_mut() {
            if e.flow.as_ref().is_some_and(|f| f.is_dead()) {
                e.flow = None;
            }
        }
    }

    /// Number of slots in use (diagnostics).
    pub fn occupancy(&self) -> usize {
        self.entries.iter().filter(|e| e.flow.is_some()).count()
    }

    /// Compatibility alias used by tests: insert without sampling.
    #[cfg(test)]
    pub(crate) fn insert_always(&mut self, key: &FlowKey, hash: u32, flow: &Arc<Megaflow>) {
        self.insert(key, hash, flow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::Action;

    fn flow(id: u64) -> Arc<Megaflow> {
        Arc::new(Megaflow::new(
            id,
            &FlowKey::default(),
            &FlowKey::default(),
            Arc::from(vec![Action::Output(1)]),
        ))
    }

    #[test]
    fn hit_after_insert_and_miss_after_kill() {
        let mut emc = ExactMatchCache::new(EMC_ENTRIES, 1);
        let k = FlowKey {
            tp_dst: 80,
            ..Default::default()
        };
        let f = flow(1);
        emc.insert_always(&k, k.hash(), &f);
        assert_eq!(emc.lookup(&k, k.hash()).map(|f| f.id), Some(1));
        let other = FlowKey {
            tp_dst: 81,
            ..Default::default()
        };
        assert!(emc.lookup(&other, other.hash()).is_none());
        f.kill();
        assert!(emc.lookup(&k, k.hash()).is_none());
        emc.sweep();
        assert_eq!(emc.occupancy(), 0);
    }

    #[test]
    fn insertion_probability_samples() {
        let mut emc = ExactMatchCache::new(EMC_ENTRIES, 100);
        let f = flow(1);
        let mut inserted = 0;
        for p in 0..10_000u16 {
            let k = FlowKey {
                tp_src: p,
                ..Default::default()
            };
            if emc.maybe_insert(&k, k.hash(), &f) {
                inserted += 1;
            }
        }
        assert!((50..200).contains(&inserted), "inserted {inserted}");
        let mut never = ExactMatchCache::new(16, 0);
        assert!(!never.maybe_insert(&FlowKey::default(), 0, &f));
    }
}

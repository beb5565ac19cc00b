//! The megaflow classifier: tuple-space search over wildcarded flows.
//!
//! A [`Megaflow`] is `(key & mask, mask, actions, stats)`. Megaflows that
//! share a mask live in one [`Subtable`], a hash table keyed by the masked
//! key; the [`Classifier`] is the list of subtables. A lookup masks the
//! packet's key with each subtable's mask in turn and probes that table:
//! the number of distinct masks, not the number of flows, sets the cost.
//!
//! Two things keep that cost low, as in Open vSwitch's dpcls:
//! * a subtable hashes and compares only the words its mask is not zero in;
//! * subtables are kept ranked by how many hits they had since the last
//!   ranking ([`Classifier::rerank`], run periodically by the worker), so
//!   the busiest masks are tried first.
//!
//! Lookups are done for a whole batch: each subtable is tried for every
//! still-unmatched packet before moving to the next one, which keeps the
//! subtable's mask and table hot in cache.
//!
//! Installed megaflows do not overlap when the layer above computes masks
//! correctly; if they do, whichever subtable ranks first wins, and every
//! answer is still a megaflow that matches.

use crate::actions::Actions;
use crate::flow::key::HashState;
use crate::flow::{FlowKey, Mask, FLOW_WORDS};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Counters of one megaflow, written by the worker that owns it (relaxed
/// atomics: one writer, many readers).
#[derive(Debug, Default)]
pub struct MegaflowStats {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// Last use, milliseconds on the datapath's monotonic clock (0 = never).
    pub used_ms: AtomicU64,
    /// OR of the TCP flags seen.
    pub tcp_flags: AtomicU64,
}

impl MegaflowStats {
    /// Account `packets` packets of `bytes` bytes used at `now_ms`.
    #[inline]
    pub fn hit(&self, packets: u64, bytes: u64, tcp_flags: u16, now_ms: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.used_ms.store(now_ms, Ordering::Relaxed);
        if tcp_flags != 0 {
            self.tcp_flags.fetch_or(tcp_flags as u64, Ordering::Relaxed);
        }
    }
}

/// One installed wildcarded flow.
#[derive(Debug)]
pub struct Megaflow {
    /// Unique id (the dpif's handle for dump and delete).
    pub id: u64,
    /// The key with every bit outside `mask` cleared.
    pub key: FlowKey,
    pub mask: Mask,
    pub actions: Actions,
    pub stats: MegaflowStats,
    /// What the layer above attached when it installed the flow (ofproto
    /// keeps the rules the translation hit here, to credit their counters).
    pub owner: Option<Owner>,
    dead: AtomicBool,
}

/// Opaque data the upcall handler attaches to a megaflow.
pub type Owner = Arc<dyn std::any::Any + Send + Sync>;

impl Megaflow {
    pub fn new(id: u64, key: &FlowKey, mask: &Mask, actions: Actions) -> Self {
        Megaflow {
            id,
            key: key.masked(mask),
            mask: *mask,
            actions,
            stats: MegaflowStats::default(),
            owner: None,
            dead: AtomicBool::new(false),
        }
    }

    /// The same flow with `owner` attached.
    pub fn with_owner(mut self, owner: Option<Owner>) -> Self {
        self.owner = owner;
        self
    }

    /// True once the flow was deleted: caches must not use it any more.
    #[inline]
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Mark the flow deleted (idempotent).
    pub fn kill(&self) {
        self.dead.store(true, Ordering::Release);
    }

    /// Does `key` fall inside this megaflow?
    #[inline]
    pub fn covers(&self, key: &FlowKey) -> bool {
        key.matches(&self.key, &self.mask)
    }
}

/// Hasher for keys that already are good hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u32(&mut self, i: u32) {
        // The table uses the top bits as tags and the low bits as the
        // bucket: give both halves the hash's entropy.
        self.0 = (i as u64) | ((i as u64) << 32);
    }
}

type HashIndex = HashMap<u32, Vec<Arc<Megaflow>>, BuildHasherDefault<PassThrough>>;

/// All megaflows that share one mask.
#[derive(Debug)]
struct Subtable {
    mask: Mask,
    /// Indices of the words the mask is not zero in.
    words: Vec<u8>,
    index: HashIndex,
    n_flows: usize,
    /// Hits since the last ranking.
    hits: u64,
}

impl Subtable {
    fn new(mask: &Mask) -> Self {
        let words = (0..FLOW_WORDS)
            .filter(|&i| mask.words()[i] != 0)
            .map(|i| i as u8)
            .collect();
        Subtable {
            mask: *mask,
            words,
            index: HashIndex::default(),
            n_flows: 0,
            hits: 0,
        }
    }

    /// Hash of `key & mask` over the mask's words only.
    #[inline]
    fn hash(&self, key: &FlowKey) -> u32 {
        let (k, m) = (key.words(), self.mask.words());
        let mut h = HashState::new(0);
        for &i in &self.words {
            let i = i as usize;
            h.add(k[i] & m[i]);
        }
        h.finish()
    }

    #[inline]
    fn find(&self, key: &FlowKey, hash: u32) -> Option<&Arc<Megaflow>> {
        let bucket = self.index.get(&hash)?;
        let (k, m) = (key.words(), self.mask.words());
        bucket.iter().find(|f| {
            let fk = f.key.words();
            !f.is_dead()
                && self
                    .words
                    .iter()
                    .all(|&i| (k[i as usize] & m[i as usize]) == fk[i as usize])
        })
    }
}

/// The tuple-space-search classifier of one worker.
#[derive(Debug, Default)]
pub struct Classifier {
    subtables: Vec<Subtable>,
    n_flows: usize,
}

/// Result of a batch lookup.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LookupStats {
    /// Packets that found a megaflow.
    pub hits: u64,
    /// Subtables probed in total for the packets that hit.
    pub subtables_searched: u64,
}

impl Classifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of megaflows installed.
    pub fn len(&self) -> usize {
        self.n_flows
    }

    pub fn is_empty(&self) -> bool {
        self.n_flows == 0
    }

    /// Number of distinct masks.
    pub fn n_subtables(&self) -> usize {
        self.subtables.len()
    }

    /// Install `flow`. A live megaflow with the same masked key and mask is
    /// replaced (and killed); the replaced one is returned.
    pub fn insert(&mut self, flow: Arc<Megaflow>) -> Option<Arc<Megaflow>> {
        let pos = match self.subtables.iter().position(|s| s.mask == flow.mask) {
            Some(p) => p,
            None => {
                self.subtables.push(Subtable::new(&flow.mask));
                self.subtables.len() - 1
            }
        };
        let st = &mut self.subtables[pos];
        let hash = st.hash(&flow.key);
        let bucket = st.index.entry(hash).or_default();
        let old = bucket
            .iter()
            .position(|f| f.key == flow.key)
            .map(|i| bucket.swap_remove(i));
        bucket.push(flow);
        match old {
            Some(old) => {
                old.kill();
                Some(old)
            }
            None => {
                st.n_flows += 1;
                self.n_flows += 1;
                None
            }
        }
    }

    /// Remove the megaflow with this id if it is installed here, killing it.
    pub fn remove(&mut self, flow: &Megaflow) -> Option<Arc<Megaflow>> {
        let pos = self.subtables.iter().position(|s| s.mask == flow.mask)?;
        let st = &mut self.subtables[pos];
        let hash = st.hash(&flow.key);
        let bucket = st.index.get_mut(&hash)?;
        let i = bucket.iter().position(|f| f.id == flow.id)?;
        let removed = bucket.swap_remove(i);
        if bucket.is_empty() {
            st.index.remove(&hash);
        }
        st.n_flows -= 1;
        self.n_flows -= 1;
        if st.n_flows == 0 {
            self.subtables.remove(pos);
        }
        removed.kill();
        Some(removed)
    }

    /// Remove every megaflow that was killed (a flush: flows installed
    /// after the flush was requested stay). Returns how many went.
    pub fn remove_dead(&mut self) -> usize {
        let mut removed = 0;
        for st in self.subtables.iter_mut() {
            st.index.retain(|_, bucket| {
                let before = bucket.len();
                bucket.retain(|f| !f.is_dead());
                removed += before - bucket.len();
                st.n_flows -= before - bucket.len();
                !bucket.is_empty()
            });
        }
        self.subtables.retain(|st| st.n_flows > 0);
        self.n_flows -= removed;
        removed
    }

    /// Remove every megaflow.
    pub fn clear(&mut self) {
        for st in self.subtables.drain(..) {
            for f in st.index.values().flatten() {
                f.kill();
            }
        }
        self.n_flows = 0;
    }

    /// Look one key up.
    pub fn lookup(&mut self, key: &FlowKey) -> Option<Arc<Megaflow>> {
        for st in self.subtables.iter_mut() {
            let hash = st.hash(key);
            if let Some(f) = st.find(key, hash).cloned() {
                st.hits += 1;
                return Some(f);
            }
        }
        None
    }

    /// Look up `keys[i]` for every `i` with `out[i] == None`, filling `out`.
    /// Subtables are tried in rank order, each for the whole batch.
    pub fn lookup_batch(
        &mut self,
        keys: &[FlowKey],
        out: &mut [Option<Arc<Megaflow>>],
    ) -> LookupStats {
        debug_assert_eq!(keys.len(), out.len());
        let mut pending: u64 = 0;
        for (i, o) in out.iter().enumerate().take(64) {
            if o.is_none() {
                pending |= 1 << i;
            }
        }
        let mut stats = LookupStats::default();
        for (rank, st) in self.subtables.iter_mut().enumerate() {
            if pending == 0 {
                break;
            }
            let mut rest = pending;
            while rest != 0 {
                let i = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                let hash = st.hash(&keys[i]);
                if let Some(f) = st.find(&keys[i], hash).cloned() {
                    out[i] = Some(f);
                    pending &= !(1 << i);
                    st.hits += 1;
                    stats.hits += 1;
                    stats.subtables_searched += rank as u64 + 1;
                }
            }
        }
        stats
    }

    /// Sort subtables by hits since the last ranking (most first) and
    /// restart the counts.
    pub fn rerank(&mut self) {
        self.subtables.sort_by_key(|s| std::cmp::Reverse(s.hits));
        for st in &mut self.subtables {
            st.hits = 0;
        }
    }

    /// Every installed megaflow.
    pub fn flows(&self) -> impl Iterator<Item = &Arc<Megaflow>> {
        self.subtables
            .iter()
            .flat_map(|s| s.index.values().flatten())
    }

    /// The masks in rank order (for tests and diagnostics).
    pub fn masks(&self) -> impl Iterator<Item = &Mask> {
        self.subtables.iter().map(|s| &s.mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::Action;
    use proptest::prelude::*;

    fn actions(port: u32) -> Actions {
        Arc::from(vec![Action::Output(port)])
    }

    fn key(ip: u32, port: u16) -> FlowKey {
        FlowKey {
            eth_type: 0x0800,
            ipv4_dst: ip,
            tp_dst: port,
            ..Default::default()
        }
    }

    #[test]
    fn wildcarded_flow_covers_many_keys() {
        let mut c = Classifier::new();
        let mut mask = FlowKey::default();
        mask.eth_type = 0xffff;
        mask.ipv4_dst = 0xffff_ff00;
        c.insert(Arc::new(Megaflow::new(
            1,
            &key(0x0a00_0001, 80),
            &mask,
            actions(1),
        )));
        assert_eq!(c.lookup(&key(0x0a00_00fe, 22)).map(|f| f.id), Some(1));
        assert!(c.lookup(&key(0x0a00_0101, 22)).is_none());
    }

    #[test]
    fn remove_and_replace() {
        let mut c = Classifier::new();
        let m = FlowKey::exact();
        let a = Arc::new(Megaflow::new(1, &key(1, 1), &m, actions(1)));
        assert!(c.insert(a.clone()).is_none());
        let b = Arc::new(Megaflow::new(2, &key(1, 1), &m, actions(2)));
        let old = c.insert(b.clone()).expect("replaced");
        assert_eq!(old.id, 1);
        assert!(a.is_dead());
        assert_eq!(c.len(), 1);
        assert_eq!(c.lookup(&key(1, 1)).map(|f| f.id), Some(2));
        c.remove(&b);
        assert!(c.is_empty());
        assert_eq!(c.n_subtables(), 0);
        assert!(c.lookup(&key(1, 1)).is_none());
    }

    #[test]
    fn remove_dead_keeps_flows_installed_after_the_flush() {
        let mut c = Classifier::new();
        let m = FlowKey::exact();
        let old = Arc::new(Megaflow::new(1, &key(1, 1), &m, actions(1)));
        c.insert(old.clone());
        old.kill();
        c.insert(Arc::new(Megaflow::new(2, &key(2, 2), &m, actions(2))));
        assert_eq!(c.remove_dead(), 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.lookup(&key(2, 2)).map(|f| f.id), Some(2));
    }

    #[test]
    fn rerank_puts_busy_masks_first() {
        let mut c = Classifier::new();
        let mut m1 = FlowKey::default();
        m1.tp_dst = 0xffff;
        let mut m2 = FlowKey::default();
        m2.ipv4_dst = u32::MAX;
        c.insert(Arc::new(Megaflow::new(1, &key(0, 80), &m1, actions(1))));
        c.insert(Arc::new(Megaflow::new(2, &key(7, 0), &m2, actions(2))));
        for _ in 0..10 {
            c.lookup(&key(7, 1));
        }
        c.rerank();
        assert_eq!(c.masks().next(), Some(&m2));
    }

    /// A random megaflow spec: which fields are matched, and their values.
    fn arb_key() -> impl Strategy<Value = FlowKey> {
        (0u32..4, 0u16..4, 0u8..3, 0u32..3).prop_map(|(ip, port, proto, in_port)| FlowKey {
            in_port,
            eth_type: 0x0800,
            ipv4_dst: 0x0a00_0000 | ip,
            nw_proto: proto,
            tp_dst: port,
            ..Default::default()
        })
    }

    fn arb_mask() -> impl Strategy<Value = Mask> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0u32..3,
        )
            .prop_map(|(a, b, c, d, prefix)| {
                let mut m = FlowKey::default();
                if a {
                    m.in_port = u32::MAX;
                }
                if b {
                    m.ipv4_dst = u32::MAX << prefix;
                }
                if c {
                    m.nw_proto = 0xff;
                }
                if d {
                    m.tp_dst = 0xffff;
                }
                m.eth_type = 0xffff;
                m
            })
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Box<(FlowKey, Mask)>),
        RemoveNth(usize),
        Rerank,
        Lookup(Vec<FlowKey>),
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (arb_key(), arb_mask()).prop_map(|km| Op::Insert(Box::new(km))),
            1 => any::<usize>().prop_map(Op::RemoveNth),
            1 => Just(Op::Rerank),
            4 => proptest::collection::vec(arb_key(), 1..40).prop_map(Op::Lookup),
        ]
    }

    proptest! {
        /// The classifier agrees with a linear scan over the live flows:
        /// it finds a flow exactly when one matches, and what it finds
        /// matches; and with the EMC in front, the answer does not change.
        #[test]
        fn classifier_and_emc_agree_with_linear_reference(ops in proptest::collection::vec(arb_op(), 1..60)) {
            let mut c = Classifier::new();
            let mut emc = crate::cache::ExactMatchCache::new(64, 1);
            let mut reference: Vec<Arc<Megaflow>> = Vec::new();
            let mut next_id = 1;
            for op in ops {
                match op {
                    Op::Insert(km) => {
                        let (k, m) = *km;
                        let f = Arc::new(Megaflow::new(next_id, &k, &m, actions(next_id as u32)));
                        next_id += 1;
                        if let Some(old) = c.insert(f.clone()) {
                            reference.retain(|r| r.id != old.id);
                        }
                        reference.push(f);
                    }
                    Op::RemoveNth(n) => {
                        if !reference.is_empty() {
                            let f = reference.remove(n % reference.len());
                            prop_assert!(c.remove(&f).is_some());
                        }
                    }
                    Op::Rerank => c.rerank(),
                    Op::Lookup(keys) => {
                        let chunk: Vec<FlowKey> = keys.iter().take(32).copied().collect();
                        let mut out = vec![None; chunk.len()];
                        c.lookup_batch(&chunk, &mut out);
                        for (k, got) in chunk.iter().zip(out.iter()) {
                            let any = reference.iter().any(|r| r.covers(k));
                            prop_assert_eq!(got.is_some(), any);
                            if let Some(f) = got {
                                prop_assert!(f.covers(k) && !f.is_dead());
                                prop_assert!(reference.iter().any(|r| r.id == f.id));
                            }
                            // Through the EMC: a hit must be a live covering flow.
                            let h = k.hash();
                            match emc.lookup(k, h) {
                                Some(e) => {
                                    prop_assert!(e.covers(k) && !e.is_dead());
                                    prop_assert!(reference.iter().any(|r| r.id == e.id));
                                }
                                None => {
                                    if let Some(f) = got {
                                        emc.insert(k, h, f);
                                    }
                                }
                            }
                        }
                        prop_assert_eq!(c.len(), reference.len());
                    }
                }
            }
        }
    }
}

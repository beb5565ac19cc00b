//! One OpenFlow flow table: rules in priority order, lookup with
//! un-wildcarding, and the flow-mod commands.
//!
//! Lookup is a scan in priority order (highest first). It returns the first
//! matching rule and widens the translation's megaflow mask (`wc`) with what
//! it had to look at: the whole mask of the rule that matched, and for every
//! higher-priority rule that did *not* match, only the mask bits of the one
//! key word that ruled it out. Any packet that agrees on those bits fails
//! the same rules and matches the same one, which is exactly the megaflow
//! contract, and the megaflow stays as wide as the rules allow. A rule
//! keeps only the key words its mask has bits in (`xkey::SparseMatch`), so
//! the scan compares those and a rule costs memory for what it matches.
//!
//! The rules live in two [`CowTree`]s, so that loading N flows costs
//! O(N log N) and a copy of the table (the next pipeline version) costs O(1):
//! - `order` ranks each rule by (priority descending, arrival sequence), the
//!   lookup order: ties keep the order in which the rules were added, and a
//!   priority's rules sit together, which bounds the CHECK_OVERLAP scan to
//!   one priority;
//! - `identity` finds the rule with a given priority and match (the strict
//!   identity an ADD replaces and a strict MODIFY or DELETE selects) through
//!   a hash of the match, without looking at any other rule.
//!
//! Non-strict MODIFY and DELETE select by subset and visit every rule.

mod cow_tree;

use super::rule::{Rule, RuleStats};
use super::xkey::{SparseMatch, XKey};
use crate::wire::error::{FlowModFailed, WireError, WireResult};
use crate::wire::flow_mod::{FlowMod, FlowModFlags};
use cow_tree::CowTree;
use std::cmp::Reverse;
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Instant;

/// Where a rule stands in lookup order: priority (highest first), then the
/// sequence number it got when added.
type Rank = (Reverse<u16>, u64);

/// The identity index's key: priority, hash of (key, mask), sequence.
type IdentityKey = (u16, u64, u64);

/// Rules of one table, highest priority first.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    order: CowTree<Rank, Arc<Rule>>,
    identity: CowTree<IdentityKey, ()>,
    /// The next rule's sequence number; never reused.
    next_seq: u64,
    /// Hashes matches for `identity` (keys picked per table at random, so a
    /// controller cannot aim many matches at one hash).
    hasher: RandomState,
    /// Packets looked up / matched (OFPMP_TABLE counters).
    pub lookups: Arc<std::sync::atomic::AtomicU64>,
    pub matched: Arc<std::sync::atomic::AtomicU64>,
}

/// A rule a flow-mod removed (for FLOW_REMOVED with reason DELETE).
pub type Removed = Vec<Arc<Rule>>;

/// The rules of a table in lookup order (see [`FlowTable::rules`]).
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a>(&'a CowTree<Rank, Arc<Rule>>);

impl<'a> Rules<'a> {
    pub fn iter(self) -> impl Iterator<Item = &'a Arc<Rule>> + 'a {
        self.0.iter().map(|(_, r)| r)
    }

    pub fn len(self) -> usize {
        self.0.len()
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }
}

/// A rule like `r` with other instructions and counters.
fn reinstructed(r: &Rule, fm: &FlowMod, now: Instant) -> Arc<Rule> {
    let stats = if fm.flags.contains(FlowModFlags::RESET_COUNTS) {
        Arc::new(RuleStats::new(now))
    } else {
        r.stats.clone()
    };
    Arc::new(Rule {
        table_id: r.table_id,
        priority: r.priority,
        matcher: r.matcher.clone(),
        bits: r.bits.clone(),
        cookie: r.cookie,
        idle_timeout: r.idle_timeout,
        hard_timeout: r.hard_timeout,
        flags: r.flags,
        instructions: fm.instructions.clone(),
        created: r.created,
        stats,
    })
}

impl FlowTable {
    /// Every rule, highest priority first; ties in the order they were added.
    pub fn rules(&self) -> Rules<'_> {
        Rules(&self.order)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The highest-priority rule matching `key`; widens `wc` as described
    /// in the module essay.
    pub fn lookup(&self, key: &XKey, wc: &mut XKey) -> Option<&Arc<Rule>> {
        for run in self.order.runs() {
            for (_, r) in run {
                match r.bits.first_miss(key) {
                    None => {
                        r.bits.widen(wc);
                        return Some(r);
                    }
                    Some((i, mask)) => wc.words_mut()[i] |= mask,
                }
            }
        }
        None
    }

    fn match_hash(&self, bits: &SparseMatch) -> u64 {
        self.hasher.hash_one(bits)
    }

    /// The rank of the rule with this strict identity, if there is one.
    fn find_identity(&self, priority: u16, hash: u64, bits: &SparseMatch) -> Option<Rank> {
        self.identity
            .range_from(&(priority, hash, 0))
            .take_while(|((p, h, _), _)| *p == priority && *h == hash)
            .map(|((_, _, seq), _)| (Reverse(priority), *seq))
            .find(|rank| {
                self.order
                    .get(rank)
                    .is_some_and(|r| r.same_identity(bits, priority))
            })
    }

    /// The rules of one priority, in lookup order.
    fn band(&self, priority: u16) -> impl Iterator<Item = &Arc<Rule>> {
        self.order
            .range_from(&(Reverse(priority), 0))
            .take_while(move |((p, _), _)| p.0 == priority)
            .map(|(_, r)| r)
    }

    /// OFPFC_ADD. Returns the rule it replaced, if any.
    pub fn add(
        &mut self,
        fm: &FlowMod,
        key: XKey,
        mask: XKey,
        now: Instant,
        max_rules: usize,
    ) -> WireResult<Option<Arc<Rule>>> {
        let bits = SparseMatch::new(&key, &mask);
        if fm.flags.contains(FlowModFlags::CHECK_OVERLAP)
            && self
                .band(fm.priority)
                .any(|r| !r.same_identity(&bits, fm.priority) && r.overlaps(&key, &mask))
        {
            return Err(WireError::new(
                FlowModFailed::OVERLAP,
                "an overlapping flow with the same priority exists",
            ));
        }
        let hash = self.match_hash(&bits);
        let existing = self.find_identity(fm.priority, hash, &bits);
        if existing.is_none() && self.len() >= max_rules {
            return Err(WireError::new(FlowModFailed::TABLE_FULL, "table is full"));
        }
        // A replaced rule leaves its place: the new one goes after every
        // rule of its priority, as any added rule does.
        let old = existing.and_then(|rank| {
            self.identity.remove(&(fm.priority, hash, rank.1));
            self.order.remove(&rank)
        });
        let stats = match &old {
            Some(o) if !fm.flags.contains(FlowModFlags::RESET_COUNTS) => o.stats.clone(),
            _ => Arc::new(RuleStats::new(now)),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.identity.insert((fm.priority, hash, seq), ());
        self.order.insert(
            (Reverse(fm.priority), seq),
            Arc::new(Rule {
                table_id: fm.table_id,
                priority: fm.priority,
                matcher: fm.match_.clone(),
                bits,
                cookie: fm.cookie,
                idle_timeout: fm.idle_timeout,
                hard_timeout: fm.hard_timeout,
                flags: fm.flags,
                instructions: fm.instructions.clone(),
                created: now,
                stats,
            }),
        );
        Ok(old)
    }

    /// The ranks of the rules a modify/delete `fm` selects by match and
    /// cookie, and that `extra` accepts, in lookup order.
    fn select(
        &self,
        fm: &FlowMod,
        strict: bool,
        key: &XKey,
        mask: &XKey,
        extra: impl Fn(&Rule) -> bool,
    ) -> Vec<Rank> {
        let chosen = |r: &Rule| r.cookie_matches(fm.cookie, fm.cookie_mask) && extra(r);
        if strict {
            let bits = SparseMatch::new(key, mask);
            let hash = self.match_hash(&bits);
            self.find_identity(fm.priority, hash, &bits)
                .filter(|rank| self.order.get(rank).is_some_and(|r| chosen(r)))
                .into_iter()
                .collect()
        } else {
            self.order
                .iter()
                .filter(|(_, r)| r.covered_by(key, mask) && chosen(r))
                .map(|(rank, _)| *rank)
                .collect()
        }
    }

    /// Would changing `k` of the rules one at a time cost more than
    /// rebuilding the index of all of them (O(N))?
    fn cheaper_to_rebuild(&self, k: usize) -> bool {
        let log = usize::BITS - self.len().leading_zeros();
        k.saturating_mul(log as usize) > self.len()
    }

    /// OFPFC_MODIFY(_STRICT): new instructions for every selected rule;
    /// returns how many changed.
    pub fn modify(&mut self, fm: &FlowMod, strict: bool, key: &XKey, mask: &XKey) -> usize {
        let now = Instant::now();
        let chosen = self.select(fm, strict, key, mask, |_| true);
        if self.cheaper_to_rebuild(chosen.len()) {
            let chosen: HashSet<Rank> = chosen.iter().copied().collect();
            self.order = CowTree::from_sorted(self.order.iter().map(|(rank, r)| {
                let r = if chosen.contains(rank) {
                    reinstructed(r, fm, now)
                } else {
                    r.clone()
                };
                (*rank, r)
            }));
        } else {
            for rank in &chosen {
                if let Some(r) = self.order.get(rank) {
                    let new = reinstructed(r, fm, now);
                    self.order.insert(*rank, new);
                }
            }
        }
        chosen.len()
    }

    /// Take the rules at `doomed` (in lookup order) out of the table.
    fn remove_ranks(&mut self, doomed: Vec<Rank>) -> Removed {
        if self.cheaper_to_rebuild(doomed.len()) {
            let seqs: HashSet<u64> = doomed.iter().map(|rank| rank.1).collect();
            let removed = doomed
                .iter()
                .filter_map(|rank| self.order.get(rank).cloned())
                .collect();
            self.order = CowTree::from_sorted(
                self.order
                    .iter()
                    .filter(|(rank, _)| !seqs.contains(&rank.1))
                    .map(|(rank, r)| (*rank, r.clone())),
            );
            self.identity = CowTree::from_sorted(
                self.identity
                    .iter()
                    .filter(|(id, _)| !seqs.contains(&id.2))
                    .map(|(id, _)| (*id, ())),
            );
            return removed;
        }
        doomed
            .into_iter()
            .filter_map(|rank| {
                let r = self.order.remove(&rank)?;
                let hash = self.match_hash(&r.bits);
                self.identity.remove(&(r.priority, hash, rank.1));
                Some(r)
            })
            .collect()
    }

    /// OFPFC_DELETE(_STRICT) with the out_port/out_group filters.
    pub fn delete(&mut self, fm: &FlowMod, strict: bool, key: &XKey, mask: &XKey) -> Removed {
        let doomed = self.select(fm, strict, key, mask, |r| {
            r.outputs_to(fm.out_port) && r.uses_group(fm.out_group)
        });
        self.remove_ranks(doomed)
    }

    /// Remove rules for which `pred` holds (timeouts, group deletion).
    pub fn remove_where(&mut self, mut pred: impl FnMut(&Rule) -> bool) -> Removed {
        let doomed = self
            .order
            .iter()
            .filter(|(_, r)| pred(r))
            .map(|(rank, _)| *rank)
            .collect();
        self.remove_ranks(doomed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::key_map::match_to_key;
    use crate::pipeline::xkey::XKEY_WORDS;
    use crate::wire::flow_mod::FlowModCommand;
    use crate::wire::oxm::{Match, OxmField};
    use datapath::flow::FlowKey;
    use datapath::tunnel::TlvMap;

    fn fm(priority: u16, m: Match) -> (FlowMod, XKey, XKey) {
        let (k, mk) = match_to_key(&m, &TlvMap::default()).unwrap();
        (
            FlowMod {
                priority,
                match_: m,
                command: FlowModCommand::Add,
                ..Default::default()
            },
            k,
            mk,
        )
    }

    fn tcp(dst: u16) -> Match {
        Match::new()
            .with(OxmField::EthType(0x0800))
            .with(OxmField::IpProto(6))
            .with(OxmField::TcpDst {
                value: dst,
                mask: None,
            })
    }

    #[test]
    fn priority_order_and_minimal_unwildcarding() {
        let mut t = FlowTable::default();
        let now = Instant::now();
        let (a, ak, am) = fm(100, tcp(22));
        t.add(&a, ak, am, now, 100).unwrap();
        let (b, bk, bm) = fm(10, Match::new().with(OxmField::EthType(0x0800)));
        t.add(&b, bk, bm, now, 100).unwrap();
        let (c, ck, cm) = fm(0, Match::new());
        t.add(&c, ck, cm, now, 100).unwrap();
        assert_eq!(t.rules().iter().next().map(|r| r.priority), Some(100));

        let pkt = XKey::from(FlowKey {
            eth_type: 0x0800,
            nw_proto: 6,
            tp_dst: 80,
            tp_src: 5555,
            ..Default::default()
        });
        let mut wc = XKey::default();
        let r = t.lookup(&pkt, &mut wc).unwrap();
        assert_eq!(r.priority, 10);
        assert_eq!(wc.eth_type, 0xffff);
        assert_eq!(wc.tp_dst, 0xffff, "tp_dst ruled out the ssh rule");
        assert_eq!(wc.tp_src, 0, "source port never consulted");

        // An ARP packet: both IP rules are ruled out by eth_type alone.
        let arp = XKey::from(FlowKey {
            eth_type: 0x0806,
            ..Default::default()
        });
        let mut wc = XKey::default();
        assert_eq!(t.lookup(&arp, &mut wc).unwrap().priority, 0);
        assert_eq!(wc.eth_type, 0xffff);
        assert_eq!(wc.nw_proto, 0);
    }

    #[test]
    fn add_replace_overlap_modify_delete() {
        let mut t = FlowTable::default();
        let now = Instant::now();
        let (a, ak, am) = fm(5, tcp(22));
        assert!(t.add(&a, ak, am, now, 100).unwrap().is_none());
        assert!(
            t.add(&a, ak, am, now, 100).unwrap().is_some(),
            "identical replaces"
        );
        assert_eq!(t.len(), 1);

        let (mut b, bk, bm) = fm(5, Match::new().with(OxmField::EthType(0x0800)));
        b.flags = FlowModFlags::CHECK_OVERLAP;
        assert_eq!(
            t.add(&b, bk, bm, now, 100).unwrap_err().error,
            FlowModFailed::OVERLAP
        );
        let (full, fk, fmk) = fm(9, Match::new());
        assert_eq!(
            t.add(&full, fk, fmk, now, 1).unwrap_err().error,
            FlowModFailed::TABLE_FULL
        );

        // Non-strict modify with an empty match selects everything.
        let (m, mk, mm) = fm(0, Match::new());
        assert_eq!(t.modify(&m, false, &mk, &mm), 1);
        // Strict modify needs the exact match and priority.
        assert_eq!(t.modify(&m, true, &mk, &mm), 0);
        // Cookie filter.
        let mut d = m.clone();
        d.cookie = 1;
        d.cookie_mask = u64::MAX;
        assert!(t.delete(&d, false, &mk, &mm).is_empty());
        assert_eq!(t.delete(&m, false, &mk, &mm).len(), 1);
        assert!(t.is_empty());
    }

    /// The table as it was before the indexes: a `Vec` in lookup order and
    /// linear scans, the reference the property test holds `FlowTable` to.
    #[derive(Clone, Default)]
    struct Naive {
        rules: Vec<Arc<Rule>>,
    }

    impl Naive {
        fn lookup(&self, key: &XKey, wc: &mut XKey) -> Option<&Arc<Rule>> {
            let k = key.words();
            for r in &self.rules {
                let (rk, rm) = r.bits.key_mask();
                let (rk, rm) = (rk.words(), rm.words());
                match (0..XKEY_WORDS).find(|&i| (k[i] ^ rk[i]) & rm[i] != 0) {
                    None => {
                        *wc = wc.union(&r.bits.key_mask().1);
                        return Some(r);
                    }
                    Some(i) => wc.words_mut()[i] |= rm[i],
                }
            }
            None
        }

        /// The strict identity, compared densely.
        fn same(r: &Rule, key: &XKey, mask: &XKey, priority: u16) -> bool {
            r.priority == priority && r.bits.key_mask() == (*key, *mask)
        }

        fn add(
            &mut self,
            fm: &FlowMod,
            key: XKey,
            mask: XKey,
            now: Instant,
            max_rules: usize,
        ) -> WireResult<Option<Arc<Rule>>> {
            if fm.flags.contains(FlowModFlags::CHECK_OVERLAP)
                && self.rules.iter().any(|r| {
                    r.priority == fm.priority
                        && !Self::same(r, &key, &mask, fm.priority)
                        && r.overlaps(&key, &mask)
                })
            {
                return Err(WireError::new(FlowModFailed::OVERLAP, "overlap"));
            }
            let existing = self
                .rules
                .iter()
                .position(|r| Self::same(r, &key, &mask, fm.priority));
            if existing.is_none() && self.rules.len() >= max_rules {
                return Err(WireError::new(FlowModFailed::TABLE_FULL, "full"));
            }
            let old = existing.map(|i| self.rules.remove(i));
            let stats = match &old {
                Some(o) if !fm.flags.contains(FlowModFlags::RESET_COUNTS) => o.stats.clone(),
                _ => Arc::new(RuleStats::new(now)),
            };
            let rule = Arc::new(Rule {
                table_id: fm.table_id,
                priority: fm.priority,
                matcher: fm.match_.clone(),
                bits: SparseMatch::new(&key, &mask),
                cookie: fm.cookie,
                idle_timeout: fm.idle_timeout,
                hard_timeout: fm.hard_timeout,
                flags: fm.flags,
                instructions: fm.instructions.clone(),
                created: now,
                stats,
            });
            let pos = self.rules.partition_point(|r| r.priority >= rule.priority);
            self.rules.insert(pos, rule);
            Ok(old)
        }

        fn selects(fm: &FlowMod, strict: bool, key: &XKey, mask: &XKey, r: &Rule) -> bool {
            let by_match = if strict {
                Self::same(r, key, mask, fm.priority)
            } else {
                r.covered_by(key, mask)
            };
            by_match && r.cookie_matches(fm.cookie, fm.cookie_mask)
        }

        fn modify(&mut self, fm: &FlowMod, strict: bool, key: &XKey, mask: &XKey) -> usize {
            let now = Instant::now();
            let mut n = 0;
            for r in self.rules.iter_mut() {
                if Self::selects(fm, strict, key, mask, r) {
                    *r = reinstructed(r, fm, now);
                    n += 1;
                }
            }
            n
        }

        fn remove_where(&mut self, mut pred: impl FnMut(&Rule) -> bool) -> Removed {
            let mut removed = Vec::new();
            self.rules.retain(|r| {
                let doomed = pred(r);
                if doomed {
                    removed.push(r.clone());
                }
                !doomed
            });
            removed
        }

        fn delete(&mut self, fm: &FlowMod, strict: bool, key: &XKey, mask: &XKey) -> Removed {
            self.remove_where(|r| {
                Self::selects(fm, strict, key, mask, r)
                    && r.outputs_to(fm.out_port)
                    && r.uses_group(fm.out_group)
            })
        }
    }

    mod model {
        use super::*;
        use crate::wire::action::{port_no, Action};
        use crate::wire::instruction::Instruction;
        use proptest::prelude::*;

        /// What a test compares of a rule: everything but the clock, and
        /// its packet counter (lookups count a packet on the rule they hit,
        /// so a counter kept or reset by a replace or modify shows).
        type Seen = (u16, XKey, XKey, u64, Vec<Instruction>, u64);

        fn seen(r: &Arc<Rule>) -> Seen {
            let (key, mask) = r.bits.key_mask();
            (
                r.priority,
                key,
                mask,
                r.cookie,
                r.instructions.clone(),
                r.stats.packets.load(std::sync::atomic::Ordering::Relaxed),
            )
        }

        fn seen_all<'a>(rules: impl IntoIterator<Item = &'a Arc<Rule>>) -> Vec<Seen> {
            rules.into_iter().map(seen).collect()
        }

        /// A small space of matches, so that adds collide, overlap and
        /// cover one another often.
        fn a_match() -> impl Strategy<Value = Match> {
            (
                prop::option::of(1u32..4),
                prop::option::of(prop_oneof![Just(0x0800u16), Just(0x0806)]),
                prop::option::of((0u8..2, any::<bool>())),
            )
                .prop_map(|(port, eth_type, dst)| {
                    let mut m = Match::new();
                    if let Some(p) = port {
                        m = m.with(OxmField::InPort(p));
                    }
                    if let Some(t) = eth_type {
                        m = m.with(OxmField::EthType(t));
                    }
                    if let Some((d, masked)) = dst {
                        m = m.with(OxmField::EthDst {
                            value: [2, 0, 0, 0, 0, d],
                            mask: masked.then_some([0xff, 0, 0, 0, 0, 0xff]),
                        });
                    }
                    m
                })
        }

        fn packet() -> impl Strategy<Value = XKey> {
            (
                0u32..5,
                prop_oneof![Just(0x0800u16), Just(0x0806), Just(0x86dd)],
                0u8..3,
            )
                .prop_map(|(in_port, eth_type, d)| {
                    XKey::from(FlowKey {
                        in_port,
                        eth_type,
                        eth_dst: [2, 0, 0, 0, 0, d],
                        ..Default::default()
                    })
                })
        }

        #[derive(Debug, Clone)]
        enum Op {
            Add { fm: FlowMod, max_rules: usize },
            Modify { fm: FlowMod, strict: bool },
            Delete { fm: FlowMod, strict: bool },
            RemoveCookie(u64),
            Lookup(XKey),
            Snapshot,
        }

        fn flow_mod() -> impl Strategy<Value = FlowMod> {
            (
                1u16..4,
                a_match(),
                0u64..3,
                prop_oneof![Just(0u64), Just(u64::MAX)],
                0u32..4,
                prop_oneof![
                    3 => Just(FlowModFlags::default()),
                    1 => Just(FlowModFlags::CHECK_OVERLAP),
                    1 => Just(FlowModFlags::RESET_COUNTS),
                ],
                prop_oneof![3 => Just(port_no::ANY), 1 => 1u32..4],
            )
                .prop_map(
                    |(priority, m, cookie, cookie_mask, out, flags, out_port)| FlowMod {
                        priority,
                        match_: m,
                        cookie,
                        cookie_mask,
                        flags,
                        out_port,
                        instructions: vec![Instruction::ApplyActions(vec![Action::Output {
                            port: 1 + out,
                            max_len: 0,
                        }])],
                        ..Default::default()
                    },
                )
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                6 => (flow_mod(), prop_oneof![4 => Just(1000usize), 1 => 1usize..20])
                    .prop_map(|(fm, max_rules)| Op::Add { fm, max_rules }),
                2 => (flow_mod(), any::<bool>()).prop_map(|(fm, strict)| Op::Modify { fm, strict }),
                2 => (flow_mod(), any::<bool>()).prop_map(|(fm, strict)| Op::Delete { fm, strict }),
                1 => (0u64..3).prop_map(Op::RemoveCookie),
                4 => packet().prop_map(Op::Lookup),
                1 => Just(Op::Snapshot),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// `FlowTable` against the linear reference: the same results,
            /// the same rules in the same order, the same lookups with the
            /// same megaflow masks, and snapshots that later changes leave
            /// alone.
            #[test]
            fn holds_against_the_linear_table(ops in prop::collection::vec(op(), 1..300)) {
                let now = Instant::now();
                let mut t = FlowTable::default();
                let mut n = Naive::default();
                let mut snaps: Vec<(FlowTable, Vec<Seen>)> = Vec::new();
                for op in ops {
                    match op {
                        Op::Add { fm, max_rules } => {
                            let (k, m) = match_to_key(&fm.match_, &TlvMap::default()).unwrap();
                            let a = t.add(&fm, k, m, now, max_rules);
                            let b = n.add(&fm, k, m, now, max_rules);
                            match (a, b) {
                                (Ok(a), Ok(b)) => prop_assert_eq!(
                                    a.as_ref().map(seen), b.as_ref().map(seen)
                                ),
                                (Err(a), Err(b)) => prop_assert_eq!(a.error, b.error),
                                (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
                            }
                        }
                        Op::Modify { fm, strict } => {
                            let (k, m) = match_to_key(&fm.match_, &TlvMap::default()).unwrap();
                            prop_assert_eq!(t.modify(&fm, strict, &k, &m), n.modify(&fm, strict, &k, &m));
                        }
                        Op::Delete { fm, strict } => {
                            let (k, m) = match_to_key(&fm.match_, &TlvMap::default()).unwrap();
                            let a = t.delete(&fm, strict, &k, &m);
                            let b = n.delete(&fm, strict, &k, &m);
                            prop_assert_eq!(seen_all(&a), seen_all(&b));
                        }
                        Op::RemoveCookie(c) => {
                            let a = t.remove_where(|r| r.cookie == c);
                            let b = n.remove_where(|r| r.cookie == c);
                            prop_assert_eq!(seen_all(&a), seen_all(&b));
                        }
                        Op::Lookup(pkt) => {
                            let (mut wa, mut wb) = (XKey::default(), XKey::default());
                            let a = t.lookup(&pkt, &mut wa);
                            let b = n.lookup(&pkt, &mut wb);
                            prop_assert_eq!(a.map(seen), b.map(seen));
                            for r in a.into_iter().chain(b) {
                                r.stats.add(1, 64, now);
                            }
                            prop_assert_eq!(wa, wb);
                        }
                        Op::Snapshot => snaps.push((t.clone(), seen_all(&n.rules))),
                    }
                    prop_assert_eq!(t.len(), n.rules.len());
                    prop_assert_eq!(seen_all(t.rules().iter()), seen_all(&n.rules));
                }
                for (snap, want) in snaps {
                    let got: Vec<_> = snap.rules().iter().map(seen).map(|s| (s.0, s.1, s.2, s.3, s.4)).collect();
                    let want: Vec<_> = want.into_iter().map(|s| (s.0, s.1, s.2, s.3, s.4)).collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}

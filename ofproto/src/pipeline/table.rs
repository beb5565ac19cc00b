//! One OpenFlow flow table: rules in priority order, lookup with
//! un-wildcarding, and the flow-mod commands.
//!
//! Lookup is a scan in priority order (highest first). It returns the first
//! matching rule and widens the translation's megaflow mask (`wc`) with what
//! it had to look at: the whole mask of the rule that matched, and for every
//! higher-priority rule that did *not* match, only the mask bits of the one
//! key word that ruled it out. Any packet that agrees on those bits fails
//! the same rules and matches the same one, which is exactly the megaflow
//! contract, and the megaflow stays as wide as the rules allow.

use super::rule::{Rule, RuleStats};
use crate::wire::error::{FlowModFailed, WireError, WireResult};
use crate::wire::flow_mod::{FlowMod, FlowModFlags};
use datapath::flow::{FlowKey, FLOW_WORDS};
use std::sync::Arc;
use std::time::Instant;

/// Rules of one table, highest priority first.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    rules: Vec<Arc<Rule>>,
    /// Packets looked up / matched (OFPMP_TABLE counters).
    pub lookups: Arc<std::sync::atomic::AtomicU64>,
    pub matched: Arc<std::sync::atomic::AtomicU64>,
}

/// A rule a flow-mod removed (for FLOW_REMOVED with reason DELETE).
pub type Removed = Vec<Arc<Rule>>;

impl FlowTable {
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The highest-priority rule matching `key`; widens `wc` as described
    /// in the module essay.
    pub fn lookup(&self, key: &FlowKey, wc: &mut FlowKey) -> Option<&Arc<Rule>> {
        let k = key.words();
        for r in &self.rules {
            let (rk, rm) = (r.key.words(), r.mask.words());
            match (0..FLOW_WORDS).find(|&i| (k[i] ^ rk[i]) & rm[i] != 0) {
                None => {
                    *wc = wc.union(&r.mask);
                    return Some(r);
                }
                Some(i) => wc.words_mut()[i] |= rm[i],
            }
        }
        None
    }

    fn insert_sorted(&mut self, rule: Arc<Rule>) {
        // After every rule of higher or equal priority: stable for ties.
        let pos = self.rules.partition_point(|r| r.priority >= rule.priority);
        self.rules.insert(pos, rule);
    }

    /// OFPFC_ADD. Returns the rule it replaced, if any.
    pub fn add(
        &mut self,
        fm: &FlowMod,
        key: FlowKey,
        mask: FlowKey,
        now: Instant,
        max_rules: usize,
    ) -> WireResult<Option<Arc<Rule>>> {
        if fm.flags.contains(FlowModFlags::CHECK_OVERLAP)
            && self.rules.iter().any(|r| {
                r.priority == fm.priority
                    && !r.same_identity(&mask, &key, fm.priority)
                    && r.overlaps(&key, &mask)
            })
        {
            return Err(WireError::new(
                FlowModFailed::OVERLAP,
                "an overlapping flow with the same priority exists",
            ));
        }
        let existing = self
            .rules
            .iter()
            .position(|r| r.same_identity(&mask, &key, fm.priority));
        if existing.is_none() && self.rules.len() >= max_rules {
            return Err(WireError::new(FlowModFailed::TABLE_FULL, "table is full"));
        }
        let old = existing.map(|i| self.rules.remove(i));
        let stats = match &old {
            Some(o) if !fm.flags.contains(FlowModFlags::RESET_COUNTS) => o.stats.clone(),
            _ => Arc::new(RuleStats::new(now)),
        };
        self.insert_sorted(Arc::new(Rule {
            table_id: fm.table_id,
            priority: fm.priority,
            matcher: fm.match_.clone(),
            key,
            mask,
            cookie: fm.cookie,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            instructions: fm.instructions.clone(),
            created: now,
            stats,
        }));
        Ok(old)
    }

    /// Does the modify/delete `fm` select rule `r`?
    fn selects(fm: &FlowMod, strict: bool, key: &FlowKey, mask: &FlowKey, r: &Rule) -> bool {
        let by_match = if strict {
            r.same_identity(mask, key, fm.priority)
        } else {
            r.covered_by(key, mask)
        };
        by_match && r.cookie_matches(fm.cookie, fm.cookie_mask)
    }

    /// OFPFC_MODIFY(_STRICT): new instructions for every selected rule;
    /// returns how many changed.
    pub fn modify(&mut self, fm: &FlowMod, strict: bool, key: &FlowKey, mask: &FlowKey) -> usize {
        let now = Instant::now();
        let mut n = 0;
        for r in self.rules.iter_mut() {
            if !Self::selects(fm, strict, key, mask, r) {
                continue;
            }
            let stats = if fm.flags.contains(FlowModFlags::RESET_COUNTS) {
                Arc::new(RuleStats::new(now))
            } else {
                r.stats.clone()
            };
            *r = Arc::new(Rule {
                table_id: r.table_id,
                priority: r.priority,
                matcher: r.matcher.clone(),
                key: r.key,
                mask: r.mask,
                cookie: r.cookie,
                idle_timeout: r.idle_timeout,
                hard_timeout: r.hard_timeout,
                flags: r.flags,
                instructions: fm.instructions.clone(),
                created: r.created,
                stats,
            });
            n += 1;
        }
        n
    }

    /// OFPFC_DELETE(_STRICT) with the out_port/out_group filters.
    pub fn delete(&mut self, fm: &FlowMod, strict: bool, key: &FlowKey, mask: &FlowKey) -> Removed {
        let mut removed = Vec::new();
        self.rules.retain(|r| {
            let doomed = Self::selects(fm, strict, key, mask, r)
                && r.outputs_to(fm.out_port)
                && r.uses_group(fm.out_group);
            if doomed {
                removed.push(r.clone());
            }
            !doomed
        });
        removed
    }

    /// Remove rules for which `pred` holds (timeouts, group deletion).
    pub fn remove_where(&mut self, mut pred: impl FnMut(&Rule) -> bool) -> Removed {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::key_map::match_to_key;
    use crate::wire::flow_mod::FlowModCommand;
    use crate::wire::oxm::{Match, OxmField};

    fn fm(priority: u16, m: Match) -> (FlowMod, FlowKey, FlowKey) {
        let (k, mk) = match_to_key(&m).unwrap();
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
            .with(OxmField::TcpDst(dst))
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
        assert_eq!(t.rules()[0].priority, 100);

        let pkt = FlowKey {
            eth_type: 0x0800,
            nw_proto: 6,
            tp_dst: 80,
            tp_src: 5555,
            ..Default::default()
        };
        let mut wc = FlowKey::default();
        let r = t.lookup(&pkt, &mut wc).unwrap();
        assert_eq!(r.priority, 10);
        assert_eq!(wc.eth_type, 0xffff);
        assert_eq!(wc.tp_dst, 0xffff, "tp_dst ruled out the ssh rule");
        assert_eq!(wc.tp_src, 0, "source port never consulted");

        // An ARP packet: both IP rules are ruled out by eth_type alone.
        let arp = FlowKey {
            eth_type: 0x0806,
            ..Default::default()
        };
        let mut wc = FlowKey::default();
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
}

//! A flow-table rule and its counters.
//!
//! A [`Rule`] is immutable once published: a modify builds a new rule that
//! shares the old one's [`RuleStats`] (unless the controller asked for the
//! counters to be reset), so counters never jump backwards and a snapshot
//! being read by a translation is never changed under it.

use super::xkey::{SparseMatch, XKey};
use crate::wire::action::{port_no, Action};
use crate::wire::flow_mod::FlowModFlags;
use crate::wire::instruction::Instruction;
use crate::wire::nx::NxAction;
use crate::wire::oxm::{Match, OxmKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Counters of a rule, fed by the revalidator from megaflow statistics.
#[derive(Debug)]
pub struct RuleStats {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// When a packet last hit the rule.
    last_used: std::sync::Mutex<Instant>,
}

impl RuleStats {
    pub fn new(now: Instant) -> Self {
        RuleStats {
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            last_used: std::sync::Mutex::new(now),
        }
    }

    /// Account traffic.
    pub fn add(&self, packets: u64, bytes: u64, now: Instant) {
        if packets == 0 {
            return;
        }
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Ok(mut t) = self.last_used.lock() {
            *t = now;
        }
    }

    pub fn last_used(&self) -> Instant {
        self.last_used
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|e| *e.into_inner())
    }
}

/// One OpenFlow flow entry.
#[derive(Debug)]
pub struct Rule {
    pub table_id: u8,
    pub priority: u16,
    pub matcher: Match,
    /// The match as key bits, only the words it looks at.
    pub bits: SparseMatch,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: FlowModFlags,
    pub instructions: Vec<Instruction>,
    pub created: Instant,
    pub stats: Arc<RuleStats>,
}

impl Rule {
    /// Does a packet with this key match the rule?
    #[inline]
    pub fn matches(&self, key: &XKey) -> bool {
        self.bits.matches(key)
    }

    /// Same match and priority (the "strict" identity of a rule): `bits`
    /// is what [`SparseMatch::new`] makes of the match.
    pub fn same_identity(&self, bits: &SparseMatch, priority: u16) -> bool {
        self.priority == priority && self.bits == *bits
    }

    /// Is this rule at least as specific as (`key`, `mask`), i.e. does the
    /// non-strict match of a modify/delete select it?
    pub fn covered_by(&self, key: &XKey, mask: &XKey) -> bool {
        self.bits.covered_by(key, mask)
    }

    /// Could one packet match both this rule and (`key`, `mask`)?
    pub fn overlaps(&self, key: &XKey, mask: &XKey) -> bool {
        self.bits.overlaps(key, mask)
    }

    /// The cookie filter of modify/delete and flow stats requests.
    pub fn cookie_matches(&self, cookie: u64, cookie_mask: u64) -> bool {
        (self.cookie ^ cookie) & cookie_mask == 0
    }

    /// Every action in the rule's apply and write instructions.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.instructions.iter().flat_map(|i| match i {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a.as_slice(),
            _ => &[],
        })
    }

    /// Does the rule match on `kind`, or read or write it in an action?
    pub fn uses_field(&self, kind: OxmKind) -> bool {
        self.matcher.get(kind).is_some()
            || self.actions().any(|a| match a {
                Action::SetField(f) | Action::Nx(NxAction::RegLoad2(f)) => f.kind() == kind,
                Action::Nx(NxAction::RegLoad { dst, .. }) => dst.kind == kind,
                Action::Nx(NxAction::RegMove { src, dst }) => src.kind == kind || dst.kind == kind,
                Action::Nx(NxAction::OutputReg { src, .. }) => src.kind == kind,
                _ => false,
            })
    }

    /// The out_port filter: does the rule output to `port` (ANY = yes)?
    pub fn outputs_to(&self, port: u32) -> bool {
        port == port_no::ANY
            || self
                .actions()
                .any(|a| matches!(a, Action::Output { port: p, .. } if *p == port))
    }

    /// The out_group filter: does the rule use `group` (ANY = yes)?
    pub fn uses_group(&self, group: u32) -> bool {
        group == crate::wire::action::group_no::ANY
            || self
                .actions()
                .any(|a| matches!(a, Action::Group(g) if *g == group))
    }

    /// Counters as the rule reports them (honouring NO_PKT/BYT_COUNTS).
    pub fn counts(&self) -> (u64, u64) {
        let p = if self.flags.contains(FlowModFlags::NO_PKT_COUNTS) {
            u64::MAX
        } else {
            self.stats.packets.load(Ordering::Relaxed)
        };
        let b = if self.flags.contains(FlowModFlags::NO_BYT_COUNTS) {
            u64::MAX
        } else {
            self.stats.bytes.load(Ordering::Relaxed)
        };
        (p, b)
    }
}

//! The OpenFlow pipeline: flow tables, groups and meters.
//!
//! [`Pipeline`] is an immutable snapshot of the tables and groups; the
//! translator reads whichever snapshot is current, and every change (a
//! flow-mod, a group-mod, an expiry) builds the next snapshot and swaps it
//! in with a new version number, which tells the revalidator that cached
//! megaflows may be stale. Meters are not part of the snapshot: their
//! policers hold state that must survive table changes, so [`MeterTable`]
//! is shared by the datapath and changed in place.
//!
//! [`PipelineStore`] owns the current snapshot and serialises writers; it
//! validates every modification before applying it, so a refused flow-mod
//! changes nothing.

pub mod group;
pub mod key_map;
pub mod meter;
pub mod rule;
pub mod table;

use crate::wire::action::{group_no, port_no, Action};
use crate::wire::error::{
    BadAction, BadInstruction, BadRequest, FlowModFailed, MeterModFailed, WireError, WireResult,
};
use crate::wire::flow_mod::{FlowMod, FlowModCommand, OFP_NO_BUFFER};
use crate::wire::group::GroupMod;
use crate::wire::instruction::Instruction;
use crate::wire::meter::MeterMod;
use arc_swap::ArcSwap;
use group::GroupTable;
use meter::MeterTable;
use rule::Rule;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use table::FlowTable;

/// Number of flow tables (ids 0..=253).
pub const N_TABLES: u8 = 254;
/// `OFPTT_ALL`.
pub const OFPTT_ALL: u8 = 0xff;
/// Rules per table.
pub const MAX_RULES_PER_TABLE: usize = 1_000_000;

/// Why a rule left the table (`ofp_flow_removed_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovedReason {
    IdleTimeout = 0,
    HardTimeout = 1,
    Delete = 2,
    GroupDelete = 3,
}

/// One immutable version of the tables and groups.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub tables: Vec<FlowTable>,
    pub groups: GroupTable,
    pub version: u64,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            tables: (0..N_TABLES).map(|_| FlowTable::default()).collect(),
            groups: GroupTable::default(),
            version: 1,
        }
    }
}

impl Pipeline {
    pub fn table(&self, id: u8) -> Option<&FlowTable> {
        self.tables.get(id as usize)
    }

    /// Every rule of every table.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<Rule>> {
        self.tables.iter().flat_map(|t| t.rules().iter())
    }
}

/// Owner of the current pipeline snapshot and of the meters.
#[derive(Debug)]
pub struct PipelineStore {
    current: ArcSwap<Pipeline>,
    write: Mutex<()>,
    pub meters: Arc<MeterTable>,
}

impl Default for PipelineStore {
    fn default() -> Self {
        PipelineStore {
            current: ArcSwap::from_pointee(Pipeline::default()),
            write: Mutex::new(()),
            meters: Arc::new(MeterTable::default()),
        }
    }
}

/// What a flow-mod changed, for the caller to report.
#[derive(Debug, Default)]
pub struct FlowModOutcome {
    /// Rules deleted (FLOW_REMOVED with reason DELETE when they asked).
    pub removed: Vec<Arc<Rule>>,
}

impl PipelineStore {
    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Pipeline> {
        self.current.load_full()
    }

    pub fn version(&self) -> u64 {
        self.current.load().version
    }

    /// Run `f` on a copy of the current pipeline and publish the result if
    /// it succeeds.
    fn change<T>(&self, f: impl FnOnce(&mut Pipeline) -> WireResult<T>) -> WireResult<T> {
        let _g = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = (*self.current.load_full()).clone();
        let out = f(&mut next)?;
        next.version += 1;
        self.current.store(Arc::new(next));
        Ok(out)
    }

    fn check_actions(&self, p: &Pipeline, actions: &[Action]) -> WireResult<()> {
        for a in actions {
            match a {
                Action::Output { port, .. } if !port_no::is_valid_output(*port) => {
                    return Err(WireError::new(
                        BadAction::BAD_OUT_PORT,
                        format!("output to invalid port {port:#x}"),
                    ))
                }
                Action::Group(g) if *g > group_no::MAX || p.groups.get(*g).is_none() => {
                    return Err(WireError::new(
                        BadAction::BAD_OUT_GROUP,
                        format!("group {g} does not exist"),
                    ))
                }
                Action::SetField(f) => key_map::check_set_field(f)?,
                Action::PushPbb(_) | Action::PopPbb => {
                    return Err(WireError::new(
                        BadAction::BAD_TYPE,
                        "PBB actions are not supported",
                    ))
                }
                // The datapath does not parse under an MPLS label, so it
                // cannot reach the inner TTL: refuse rather than ignore.
                Action::CopyTtlIn => {
                    return Err(WireError::new(
                        BadAction::BAD_TYPE,
                        "copy_ttl_in is not supported",
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_instructions(&self, p: &Pipeline, fm: &FlowMod) -> WireResult<()> {
        for i in &fm.instructions {
            match i {
                Instruction::GotoTable(t) if *t <= fm.table_id || *t >= N_TABLES => {
                    return Err(WireError::new(
                        BadInstruction::BAD_TABLE_ID,
                        format!("goto_table {t} from table {}", fm.table_id),
                    ))
                }
                Instruction::Meter(m) if self.meters.get(*m).is_none() => {
                    return Err(WireError::new(
                        MeterModFailed::UNKNOWN_METER,
                        format!("meter {m} does not exist"),
                    ))
                }
                Instruction::ApplyActions(a) | Instruction::WriteActions(a) => {
                    self.check_actions(p, a)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Apply a FLOW_MOD.
    pub fn flow_mod(&self, fm: &FlowMod) -> WireResult<FlowModOutcome> {
        fm.match_.check_prerequisites()?;
        let (key, mask) = key_map::match_to_key(&fm.match_)?;
        let now = Instant::now();
        let outcome = self.change(|p| {
            let mut out = FlowModOutcome::default();
            match fm.command {
                FlowModCommand::Add | FlowModCommand::Modify | FlowModCommand::ModifyStrict => {
                    if fm.table_id >= N_TABLES {
                        return Err(WireError::new(
                            FlowModFailed::BAD_TABLE_ID,
                            format!("table {} does not exist", fm.table_id),
                        ));
                    }
                    self.check_instructions(p, fm)?;
                    let t = &mut p.tables[fm.table_id as usize];
                    match fm.command {
                        FlowModCommand::Add => {
                            t.add(fm, key, mask, now, MAX_RULES_PER_TABLE)?;
                        }
                        cmd => {
                            t.modify(fm, cmd == FlowModCommand::ModifyStrict, &key, &mask);
                        }
                    }
                }
                FlowModCommand::Delete | FlowModCommand::DeleteStrict => {
                    let strict = fm.command == FlowModCommand::DeleteStrict;
                    if fm.table_id == OFPTT_ALL {
                        for t in p.tables.iter_mut() {
                            out.removed.extend(t.delete(fm, strict, &key, &mask));
                        }
                    } else if fm.table_id < N_TABLES {
                        let t = &mut p.tables[fm.table_id as usize];
                        out.removed.extend(t.delete(fm, strict, &key, &mask));
                    } else {
                        return Err(WireError::new(
                            FlowModFailed::BAD_TABLE_ID,
                            format!("table {} does not exist", fm.table_id),
                        ));
                    }
                }
            }
            Ok(out)
        })?;
        if fm.buffer_id != OFP_NO_BUFFER && fm.command != FlowModCommand::Delete {
            // The flow-mod took effect; the buffer it names does not exist
            // (this switch never buffers packets).
            return Err(WireError::new(
                BadRequest::BUFFER_UNKNOWN,
                "this switch does not buffer packets",
            ));
        }
        Ok(outcome)
    }

    /// Apply a GROUP_MOD; returns the rules removed with deleted groups.
    pub fn group_mod(&self, gm: &GroupMod) -> WireResult<Vec<Arc<Rule>>> {
        self.change(|p| {
            // Bucket actions are checked like flow actions.
            for b in &gm.buckets {
                self.check_actions(p, &b.actions)?;
            }
            let deleted = p.groups.apply(gm)?;
            let mut removed = Vec::new();
            if !deleted.is_empty() {
                for t in p.tables.iter_mut() {
                    removed.extend(t.remove_where(|r| deleted.iter().any(|g| r.uses_group(*g))));
                }
            }
            Ok(removed)
        })
    }

    /// Apply a METER_MOD. Deleting a meter removes the rules that use it.
    pub fn meter_mod(&self, mm: &MeterMod) -> WireResult<Vec<Arc<Rule>>> {
        let _g = self.write.lock().unwrap_or_else(|e| e.into_inner());
        self.meters.apply(mm)?;
        drop(_g);
        if mm.command == crate::wire::meter::MeterModCommand::Delete {
            let all = mm.meter_id == 0xffff_ffff;
            return self.change(|p| {
                let mut removed = Vec::new();
                for t in p.tables.iter_mut() {
                    removed.extend(t.remove_where(|r| {
                        r.instructions
                            .iter()
                            .any(|i| matches!(i, Instruction::Meter(m) if all || *m == mm.meter_id))
                    }));
                }
                Ok(removed)
            });
        }
        Ok(Vec::new())
    }

    /// Remove rules whose idle or hard timeout passed.
    pub fn expire(&self, now: Instant) -> Vec<(Arc<Rule>, RemovedReason)> {
        let due = |r: &Rule| -> Option<RemovedReason> {
            if r.hard_timeout > 0
                && now.duration_since(r.created) >= Duration::from_secs(r.hard_timeout.into())
            {
                return Some(RemovedReason::HardTimeout);
            }
            if r.idle_timeout > 0
                && now.duration_since(r.stats.last_used())
                    >= Duration::from_secs(r.idle_timeout.into())
            {
                return Some(RemovedReason::IdleTimeout);
            }
            None
        };
        if !self.snapshot().rules().any(|r| due(r).is_some()) {
            return Vec::new();
        }
        self.change(|p| {
            let mut out = Vec::new();
            for t in p.tables.iter_mut() {
                let removed = t.remove_where(|r| due(r).is_some());
                out.extend(
                    removed
                        .into_iter()
                        .filter_map(|r| due(&r).map(|why| (r, why))),
                );
            }
            Ok(out)
        })
        .unwrap_or_default()
    }
}

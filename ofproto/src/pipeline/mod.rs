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
//! [`PipelineStore`] owns the current snapshot and serialises writers.
//! Every change is a [`transaction`]: a batch of flow, group and meter
//! modifications checked and applied on a working copy and published in
//! one step, so a refused batch changes nothing.

pub mod group;
pub mod key_map;
pub mod meter;
pub mod rule;
pub mod table;
pub mod transaction;
pub mod xkey;

use crate::wire::error::{BadRequest, WireError, WireResult};
use crate::wire::flow_mod::{FlowMod, FlowModCommand, OFP_NO_BUFFER};
use crate::wire::group::GroupMod;
use crate::wire::meter::MeterMod;
use arc_swap::ArcSwap;
use datapath::tunnel::TlvMap;
use group::GroupTable;
use meter::MeterTable;
use rule::Rule;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use table::FlowTable;
use transaction::Work;
pub use transaction::{Committed, FlowId, PipelineMod, Refusal, Saved};

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

/// One immutable version of the tables and groups. Each table is shared
/// between versions until a change touches it (`Arc::make_mut`), so the
/// next version costs one pointer per table plus the tables that changed.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub tables: Vec<Arc<FlowTable>>,
    pub groups: GroupTable,
    /// The GENEVE TLV map (`tun_metadata<N>` fields), NXT_TLV_TABLE_MOD's.
    pub tlv: Arc<TlvMap>,
    pub version: u64,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            tables: (0..N_TABLES)
                .map(|_| Arc::new(FlowTable::default()))
                .collect(),
            groups: GroupTable::default(),
            tlv: Arc::default(),
            version: 1,
        }
    }
}

impl Pipeline {
    pub fn table(&self, id: u8) -> Option<&FlowTable> {
        self.tables.get(id as usize).map(|t| &**t)
    }

    /// Every rule of every table.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<Rule>> {
        self.tables.iter().flat_map(|t| t.rules().iter())
    }

    /// Remove the rules for which `pred` holds, from every table; only the
    /// tables that hold one are copied.
    pub fn remove_where(&mut self, mut pred: impl FnMut(&Rule) -> bool) -> Vec<Arc<Rule>> {
        let mut removed = Vec::new();
        for t in self.tables.iter_mut() {
            if t.rules().iter().any(|r| pred(r)) {
                removed.extend(Arc::make_mut(t).remove_where(&mut pred));
            }
        }
        removed
    }
}

/// A FLOW_MOD that took effect but names a packet buffer: this switch
/// never buffers packets, so that buffer does not exist.
pub fn check_buffer(fm: &FlowMod) -> WireResult<()> {
    if fm.buffer_id != OFP_NO_BUFFER && fm.command != FlowModCommand::Delete {
        return Err(WireError::new(
            BadRequest::BUFFER_UNKNOWN,
            "this switch does not buffer packets",
        ));
    }
    Ok(())
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

    /// Apply a batch of modifications as one transaction
    /// ([`transaction`]): all of them are published together in one new
    /// version, or none is and the first refusal is returned.
    pub fn commit(&self, mods: &[PipelineMod]) -> Result<Committed, Refusal> {
        let _g = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut work = Work {
            pipeline: (*self.current.load_full()).clone(),
            meters: (*self.meters.map()).clone(),
            out: Committed::default(),
            now: Instant::now(),
        };
        for (index, m) in mods.iter().enumerate() {
            work.apply(m).map_err(|error| Refusal { index, error })?;
        }
        let Work {
            mut pipeline,
            meters,
            mut out,
            ..
        } = work;
        if mods.iter().any(|m| matches!(m, PipelineMod::Meter(_))) {
            self.meters.publish(meters);
        }
        pipeline.version += 1;
        out.version = pipeline.version;
        self.current.store(Arc::new(pipeline));
        Ok(out)
    }

    /// The state a later [`PipelineStore::restore`] can put back.
    pub fn save(&self) -> Saved {
        let _g = self.write.lock().unwrap_or_else(|e| e.into_inner());
        Saved {
            pipeline: self.current.load_full(),
            meters: self.meters.map(),
        }
    }

    /// Republish a saved state (tables, groups, meters) under a new
    /// version, so that revalidation re-translates what was cached since.
    pub fn restore(&self, saved: &Saved) {
        let _g = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut p = (*saved.pipeline).clone();
        p.version = self.current.load().version + 1;
        self.meters.restore(saved.meters.clone());
        self.current.store(Arc::new(p));
    }

    /// Apply one FLOW_MOD (a transaction of one).
    pub fn flow_mod(&self, fm: &FlowMod) -> WireResult<FlowModOutcome> {
        let out = self
            .commit(&[PipelineMod::Flow(fm.clone())])
            .map_err(|r| r.error)?;
        check_buffer(fm)?;
        Ok(FlowModOutcome {
            removed: out.removed.into_iter().map(|(r, _)| r).collect(),
        })
    }

    /// Apply a GROUP_MOD; returns the rules removed with deleted groups.
    pub fn group_mod(&self, gm: &GroupMod) -> WireResult<Vec<Arc<Rule>>> {
        let out = self
            .commit(&[PipelineMod::Group(gm.clone())])
            .map_err(|r| r.error)?;
        Ok(out.removed.into_iter().map(|(r, _)| r).collect())
    }

    /// Apply a METER_MOD. Deleting a meter removes the rules that use it.
    pub fn meter_mod(&self, mm: &MeterMod) -> WireResult<Vec<Arc<Rule>>> {
        let out = self
            .commit(&[PipelineMod::Meter(mm.clone())])
            .map_err(|r| r.error)?;
        Ok(out.removed.into_iter().map(|(r, _)| r).collect())
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
            let removed = p.remove_where(|r| due(r).is_some());
            Ok(removed
                .into_iter()
                .filter_map(|r| due(&r).map(|why| (r, why)))
                .collect())
        })
        .unwrap_or_default()
    }
}

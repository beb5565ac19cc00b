//! The bridge's one door for changes to its tables, groups and meters.
//!
//! Whoever changes a bridge's OpenFlow state (a controller's FLOW_MOD,
//! GROUP_MOD or METER_MOD, the daemon's API, the store restoring a bridge)
//! calls [`OfBridge::commit`] with a transaction of
//! [`PipelineMod`]s. The one idea: the bridge does the mechanics the same
//! way for everyone (count the flow-mods, commit all or nothing, send
//! FLOW_REMOVED for what went), and the daemon that owns the bridge decides
//! what else a commit means by installing a [`ChangePath`]: switchd's core
//! persists the change and refuses it whole if it cannot, so a controller's
//! delete of a persistent flow reaches the store in the same step. Without
//! a change path (unit tests, a bridge not yet wired) the transaction goes
//! straight to the pipeline store.

use super::OfBridge;
use crate::pipeline::{Committed, PipelineMod, Refusal, RemovedReason};
use std::sync::atomic::Ordering;

/// What a change means for the persistent configuration of flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Added flows are kept across restarts.
    Persistent,
    /// Added flows are not kept (and stop being kept if they replace one
    /// that was).
    Transient,
    /// Added flows keep whatever standing a flow of the same identity had:
    /// a controller's change.
    Keep,
}

/// How the owner of a bridge commits a transaction: the pipeline store's
/// commit plus whatever makes it durable. An implementation must commit
/// through `bridge.store` and leave the store as it was when it refuses.
pub trait ChangePath: Send + Sync {
    fn commit(
        &self,
        bridge: &OfBridge,
        mods: &[PipelineMod],
        durability: Durability,
    ) -> Result<Committed, Refusal>;
}

impl OfBridge {
    /// Install the owner's change path (once; later calls are ignored).
    pub fn set_change_path(&self, path: Box<dyn ChangePath>) {
        let _ = self.change_path.set(path);
    }

    /// Commit a transaction through the bridge's change path, then report
    /// the rules it removed to the controllers that asked.
    pub fn commit(
        &self,
        mods: &[PipelineMod],
        durability: Durability,
    ) -> Result<Committed, Refusal> {
        let flow_mods = mods
            .iter()
            .filter(|m| matches!(m, PipelineMod::Flow(_)))
            .count();
        self.counters
            .flow_mods
            .fetch_add(flow_mods as u64, Ordering::Relaxed);
        let out = match self.change_path.get() {
            Some(path) => path.commit(self, mods, durability)?,
            None => self.store.commit(mods)?,
        };
        for why in [RemovedReason::Delete, RemovedReason::GroupDelete] {
            let rules: Vec<_> = out
                .removed
                .iter()
                .filter(|(_, r)| *r == why)
                .map(|(rule, _)| rule.clone())
                .collect();
            self.report_removed(&rules, why);
        }
        Ok(out)
    }
}

//! The one path for a bridge's OpenFlow state: flows, groups and meters.
//!
//! Every change to them, whoever asks (a controller's FLOW_MOD, GROUP_MOD
//! or METER_MOD, `swctl`, a gRPC call), is a transaction committed by
//! `OfBridge::commit`, which hands it to the bridge's change path:
//! [`OpenFlowPath`], installed on every bridge the switch starts. Under
//! the switch's lock it
//! 1. saves the bridge's pipeline (tables, groups, meters),
//! 2. commits the batch to the pipeline store, all or nothing,
//! 3. if the batch concerns the persistent configuration (the API asked
//!    for persistence or transience, or a controller's change touched a
//!    stored flow, group or meter), recomputes the bridge's stored lists
//!    from what is now installed and persists the configuration; if that
//!    fails, it republishes the saved pipeline and refuses the batch.
//!
//! So a batch with one bad element changes nothing, a controller deleting
//! a persistent flow removes it from the store in the same step, and the
//! store on disk is always what is running. The API reaches this path
//! through [`Switch::commit`], which resolves the bridge and builds the
//! batch under the lock, then commits without holding it (the path takes
//! the lock itself).
//!
//! Which flows are persistent is kept per bridge as a set of identities
//! ([`PersistentIds`]), recomputed only when the stored configuration
//! changed, so a controller's flow-mod costs a few hash look-ups here, not
//! a parse of every stored flow.

use super::{Inner, Switch, SwitchError, SwitchResult};
use crate::bridge::Bridge;
use crate::config::BridgeConfig;
use crate::syntax::flow::{format_flow, parse_flow, FlowView, Purpose};
use crate::syntax::group::{format_group, format_meter, parse_group, parse_meter};
use ofproto::bridge::change::{ChangePath, Durability};
use ofproto::bridge::{dp_to_of, OfBridge};
use ofproto::pipeline::{Committed, FlowId, PipelineMod, Refusal};
use ofproto::wire::error::{FlowModFailed, GroupModFailed, MeterModFailed, WireError};
use ofproto::wire::flow_mod::{FlowMod, FlowModCommand};
use ofproto::wire::group::GroupModCommand;
use ofproto::wire::meter::MeterModCommand;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};

/// A port-name resolver for flow strings on `bridge`.
pub fn port_names(bridge: &Bridge) -> impl Fn(&str) -> Option<u32> + '_ {
    move |name: &str| bridge.ports().get(name).map(|&n| dp_to_of(n))
}

/// What of a bridge's OpenFlow state is in the store.
#[derive(Debug, Default, Clone)]
pub struct PersistentIds {
    pub flows: HashSet<FlowId>,
    pub groups: HashSet<u32>,
    pub meters: HashSet<u32>,
}

impl PersistentIds {
    fn of(bridge: &Bridge, cfg: &BridgeConfig) -> PersistentIds {
        let names = port_names(bridge);
        PersistentIds {
            flows: cfg
                .flows
                .iter()
                .filter_map(|t| stored_flow_id(t, &names))
                .collect(),
            groups: cfg
                .groups
                .iter()
                .filter_map(|t| parse_group(t, GroupModCommand::Delete, &names).ok())
                .map(|g| g.group_id)
                .collect(),
            meters: cfg
                .meters
                .iter()
                .filter_map(|t| parse_meter(t, MeterModCommand::Delete).ok())
                .map(|m| m.meter_id)
                .collect(),
        }
    }

    /// Whether a controller's committed batch touched any of these.
    fn touched_by(&self, mods: &[PipelineMod], out: &Committed) -> bool {
        let all = 0xffff_ffff;
        let flows = out.changed.iter().any(|id| self.flows.contains(id))
            || out.removed.iter().any(|(r, _)| {
                self.flows
                    .contains(&ofproto::pipeline::transaction::flow_id(r))
            });
        flows
            || mods.iter().any(|m| match m {
                PipelineMod::Flow(_) => false,
                PipelineMod::Group(g) => {
                    self.groups.contains(&g.group_id)
                        || (g.group_id == all && !self.groups.is_empty())
                }
                PipelineMod::Meter(mm) => {
                    self.meters.contains(&mm.meter_id)
                        || (mm.meter_id == all && !self.meters.is_empty())
                }
                // The TLV map is a controller's state, like its flows (and
                // no stored flow can use it: the flow syntax has no
                // tun_metadata fields).
                PipelineMod::Tlv(_) => false,
            })
    }
}

/// The change path of one running bridge: commits through the switch.
#[derive(Debug)]
pub struct OpenFlowPath {
    switch: Weak<Switch>,
    bridge: String,
}

impl OpenFlowPath {
    pub fn new(switch: Weak<Switch>, bridge: &str) -> OpenFlowPath {
        OpenFlowPath {
            switch,
            bridge: bridge.to_string(),
        }
    }
}

impl ChangePath for OpenFlowPath {
    fn commit(
        &self,
        of: &OfBridge,
        mods: &[PipelineMod],
        durability: Durability,
    ) -> Result<Committed, Refusal> {
        let Some(switch) = self.switch.upgrade() else {
            return Err(refusal(mods, "the switch is shutting down"));
        };
        let mut inner = switch.lock();
        // Only the bridge running under that name now: a bridge being
        // replaced (restarted with new settings) takes no more changes.
        let current = inner
            .bridges
            .get(&self.bridge)
            .is_some_and(|b| std::ptr::eq(Arc::as_ptr(&b.ofbridge), of));
        if !current {
            return Err(refusal(mods, "the bridge is being replaced"));
        }
        inner.commit_openflow(&self.bridge, of, mods, durability)
    }
}

/// A refusal that is about the batch as a whole (the switch could not
/// take it), in the error family of its first element.
fn refusal(mods: &[PipelineMod], why: &str) -> Refusal {
    let kind = match mods.first() {
        Some(PipelineMod::Group(_)) => GroupModFailed::EPERM,
        Some(PipelineMod::Meter(_)) => MeterModFailed::UNKNOWN,
        _ => FlowModFailed::UNKNOWN,
    };
    Refusal {
        index: 0,
        error: WireError::new(kind, why),
    }
}

impl Inner {
    /// The persistent identities of bridge `name`, recomputed if its
    /// stored configuration changed since they were last computed.
    pub fn persistent_ids(&mut self, name: &str) -> SwitchResult<&PersistentIds> {
        let generation = self.generation;
        let fresh = self
            .persistent
            .get(name)
            .is_some_and(|(g, _)| *g == generation);
        if !fresh {
            let (b, c) = self.bridge(name)?;
            let ids = PersistentIds::of(b, c);
            self.persistent.insert(name.to_string(), (generation, ids));
        }
        Ok(&self.persistent[name].1)
    }

    /// Step 1 to 3 of the module essay, with the lock held.
    fn commit_openflow(
        &mut self,
        name: &str,
        of: &OfBridge,
        mods: &[PipelineMod],
        durability: Durability,
    ) -> Result<Committed, Refusal> {
        let saved = of.store.save();
        let out = of.store.commit(mods)?;
        let persist = match durability {
            Durability::Keep => self
                .persistent_ids(name)
                .map_or(true, |ids| ids.touched_by(mods, &out)),
            Durability::Persistent | Durability::Transient => true,
        };
        if !persist {
            return Ok(out);
        }
        let adds: Vec<FlowMod> = mods
            .iter()
            .filter_map(|m| match m {
                PipelineMod::Flow(f) if f.command == FlowModCommand::Add => Some(f.clone()),
                _ => None,
            })
            .collect();
        let (keep, drop) = match durability {
            Durability::Persistent => (adds, Vec::new()),
            Durability::Transient => (Vec::new(), adds),
            Durability::Keep => (Vec::new(), Vec::new()),
        };
        let result = self.bridge(name).and_then(|(b, _)| {
            let b: &Bridge = b;
            let config = self.edit(name, |bc| {
                for m in mods {
                    match m {
                        PipelineMod::Group(g) if g.command == GroupModCommand::Add => {
                            bc.groups.push(format!("group_id={}", g.group_id))
                        }
                        PipelineMod::Meter(mm) if mm.command == MeterModCommand::Add => {
                            bc.meters.push(format!("meter={}", mm.meter_id))
                        }
                        _ => {}
                    }
                }
                refresh_persistent(b, bc, &keep, &drop);
                Ok(())
            })?;
            Ok(config)
        });
        let result = result.and_then(|c| self.persist(c));
        if let Err(e) = result {
            of.store.restore(&saved);
            tracing::error!(
                bridge = name,
                "change undone, it could not be persisted: {e}"
            );
            return Err(refusal(mods, &format!("cannot persist the change: {e}")));
        }
        Ok(out)
    }
}

impl Switch {
    /// Commit a batch to bridge `bridge` through its change path. `make`
    /// builds the batch from the running bridge (port names), under the
    /// lock; the commit runs after the lock is released, since the change
    /// path takes it.
    pub async fn commit<F>(
        self: &Arc<Self>,
        bridge: String,
        durability: Durability,
        what: &'static str,
        make: F,
    ) -> SwitchResult<Committed>
    where
        F: FnOnce(&Bridge) -> SwitchResult<Vec<PipelineMod>> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let (of, mods) = {
                let inner = me.lock();
                let (b, _) = inner.bridge(&bridge)?;
                (b.ofbridge.clone(), make(b)?)
            };
            of.commit(&mods, durability).map_err(|r| {
                SwitchError::Refused(format!("the switch refused the {what}: {}", r.error))
            })
        })
        .await
        .map_err(|e| SwitchError::Internal(format!("API task failed: {e}")))?
    }
}

/// Install the stored meters, groups and flows of `cfg` (in that order:
/// flows use groups and meters, groups may chain to groups), straight into
/// the pipeline store: they come from the store, so there is nothing to
/// persist. Failures are logged; they drop out of the store at the next
/// save.
pub(super) fn restore_openflow(bridge: &Bridge, cfg: &BridgeConfig) {
    let of = &bridge.ofbridge;
    let names = port_names(bridge);
    for text in &cfg.meters {
        match parse_meter(text, MeterModCommand::Add) {
            Ok(mm) => {
                if let Err(e) = of.store.meter_mod(&mm) {
                    tracing::error!(bridge = %cfg.name, meter = %text, "meter not restored: {e}");
                }
            }
            Err(e) => tracing::error!(bridge = %cfg.name, meter = %text, "meter not restored: {e}"),
        }
    }
    // Groups may refer to groups restored later: retry until no progress.
    let mut pending = Vec::new();
    for text in &cfg.groups {
        match parse_group(text, GroupModCommand::Add, &names) {
            Ok(gm) => pending.push(gm),
            Err(e) => tracing::error!(bridge = %cfg.name, group = %text, "group not restored: {e}"),
        }
    }
    loop {
        let n = pending.len();
        pending.retain(|gm| of.store.group_mod(gm).is_err());
        if pending.is_empty() || pending.len() == n {
            break;
        }
    }
    for gm in &pending {
        tracing::error!(bridge = %cfg.name, group = gm.group_id, "group not restored");
    }
    for text in &cfg.flows {
        let r = parse_flow(text, Purpose::Add, &names)
            .map_err(|e| e.to_string())
            .and_then(|fm| {
                of.store
                    .flow_mod(&fm)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = r {
            tracing::error!(bridge = %cfg.name, flow = %text, "flow not restored: {e}");
        }
    }
}

/// The identity of a stored flow string.
fn stored_flow_id(text: &str, names: &dyn Fn(&str) -> Option<u32>) -> Option<FlowId> {
    parse_flow(text, Purpose::Add, names)
        .ok()
        .map(|fm| (fm.table_id, fm.priority, fm.match_.normalized()))
}

/// Recompute `cfg`'s stored flows, groups and meters from the live
/// pipeline: `persist` adds become stored, `transient` adds stop being
/// stored (they replaced a stored flow), vanished entries drop out, and
/// the rest are re-printed from what is installed.
pub(super) fn refresh_persistent(
    bridge: &Bridge,
    cfg: &mut BridgeConfig,
    persist: &[FlowMod],
    transient: &[FlowMod],
) {
    let names = port_names(bridge);
    let snapshot = bridge.ofbridge.store.snapshot();
    let mut ids: Vec<FlowId> = Vec::new();
    let mut seen = HashSet::new();
    let transient: HashSet<FlowId> = transient
        .iter()
        .map(|f| (f.table_id, f.priority, f.match_.normalized()))
        .collect();
    let stored = cfg.flows.iter().filter_map(|t| stored_flow_id(t, &names));
    let added = persist
        .iter()
        .map(|f| (f.table_id, f.priority, f.match_.normalized()));
    for id in stored.chain(added) {
        if !transient.contains(&id) && seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    let live: HashMap<FlowId, &Arc<ofproto::pipeline::rule::Rule>> = snapshot
        .rules()
        .map(|r| ((r.table_id, r.priority, r.matcher.normalized()), r))
        .collect();
    cfg.flows = ids
        .iter()
        .filter_map(|id| live.get(id))
        .map(|r| format_flow(FlowView::from(&***r)))
        .collect();
    let group_ids: Vec<u32> = cfg
        .groups
        .iter()
        .filter_map(|t| parse_group(t, GroupModCommand::Delete, &names).ok())
        .map(|g| g.group_id)
        .collect();
    let mut seen = HashSet::new();
    cfg.groups = group_ids
        .into_iter()
        .filter(|id| seen.insert(*id))
        .filter_map(|id| snapshot.groups.get(id))
        .map(|g| format_group(g.id, g.kind, &g.buckets))
        .collect();
    let meter_ids: Vec<u32> = cfg
        .meters
        .iter()
        .filter_map(|t| parse_meter(t, MeterModCommand::Delete).ok())
        .map(|m| m.meter_id)
        .collect();
    let mut seen = HashSet::new();
    cfg.meters = meter_ids
        .into_iter()
        .filter(|id| seen.insert(*id))
        .filter_map(|id| bridge.ofbridge.store.meters.get(id))
        .map(|m| {
            let bands: Vec<_> = m.bands.iter().map(|b| b.config.clone()).collect();
            format_meter(m.id, m.flags, &bands)
        })
        .collect();
}

//! [`Switch`]: the running bridges and the persistent store, changed only
//! together.
//!
//! Every change follows the same three steps under one lock: check it
//! against a copy of the stored configuration (names, duplicates, options:
//! [`Config::validate`]), apply it to the running bridge, persist the new
//! configuration. A failure in the first two changes nothing; a failure to
//! persist undoes the applied change before the error is returned.
//!
//! Flows, groups and meters added through the API with `persistent` are
//! kept in the store as ovs-ofctl strings. After any OpenFlow change the
//! stored lists are recomputed from the live pipeline: an entry whose flow
//! (table, priority, match) or group/meter id no longer exists is dropped,
//! and the others are re-printed from what is installed, so a modify or a
//! delete done by the API or a controller is reflected on the next save.

use super::syntax::flow::{format_flow, parse_flow, FlowView, Purpose};
use super::syntax::group::{format_group, format_meter, parse_group, parse_meter};
use super::{ApiError, ApiResult};
use crate::bridge::{Bridge, BridgeNotice};
use crate::config::{BridgeConfig, Config, PortConfig};
use crate::store::Store;
use ofproto::bridge::dp_to_of;
use ofproto::pipeline::RemovedReason;
use ofproto::wire::flow_mod::FlowMod;
use ofproto::wire::group::{GroupMod, GroupModCommand};
use ofproto::wire::meter::{MeterMod, MeterModCommand};
use ofproto::wire::oxm::Match;
use proto::v1;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// The identity of a flow entry: what ADD replaces and DELETE_STRICT names.
pub type FlowId = (u8, u16, Match);

/// The running switch.
#[derive(Debug)]
pub struct Switch {
    inner: Mutex<Inner>,
    runtime: tokio::runtime::Handle,
    state_dir: PathBuf,
    events: broadcast::Sender<v1::Event>,
}

/// What the lock guards.
#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub bridges: BTreeMap<String, Bridge>,
}

impl Inner {
    /// The running bridge and its stored configuration.
    pub fn bridge(&self, name: &str) -> ApiResult<(&Bridge, &BridgeConfig)> {
        let b = self
            .bridges
            .get(name)
            .ok_or_else(|| ApiError::NotFound(format!("no bridge named {name:?}")))?;
        let c = self
            .store
            .config()
            .bridge
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ApiError::NotFound(format!("no bridge named {name:?}")))?;
        Ok((b, c))
    }

    pub fn bridge_mut(&mut self, name: &str) -> ApiResult<&mut Bridge> {
        self.bridges
            .get_mut(name)
            .ok_or_else(|| ApiError::NotFound(format!("no bridge named {name:?}")))
    }

    /// A copy of the stored configuration with `f` applied to bridge
    /// `name`'s entry.
    pub fn edit(
        &self,
        name: &str,
        f: impl FnOnce(&mut BridgeConfig) -> ApiResult<()>,
    ) -> ApiResult<Config> {
        let mut c = self.store.config().clone();
        let b = c
            .bridge
            .iter_mut()
            .find(|b| b.name == name)
            .ok_or_else(|| ApiError::NotFound(format!("no bridge named {name:?}")))?;
        f(b)?;
        c.validate().map_err(|e| ApiError::Invalid(e.to_string()))?;
        Ok(c)
    }

    /// Persist `config`.
    pub fn persist(&mut self, config: Config) -> ApiResult<()> {
        self.store
            .save(config)
            .map_err(|e| ApiError::Internal(format!("persisting the configuration: {}", chain(&e))))
    }

    /// Every port name in use, on any bridge (local ports included).
    pub fn port_names(&self) -> HashSet<String> {
        let mut names = HashSet::new();
        for b in &self.store.config().bridge {
            if b.local_port {
                names.insert(b.name.clone());
            }
            names.extend(b.port.iter().map(|p| p.name.clone()));
        }
        names
    }
}

/// An error and its sources on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A port-name resolver for flow strings on `bridge`.
pub fn port_names(bridge: &Bridge) -> impl Fn(&str) -> Option<u32> + '_ {
    move |name: &str| bridge.ports().get(name).map(|&n| dp_to_of(n))
}

impl Switch {
    /// Start every bridge of the store. A bridge that cannot start is an
    /// error; a port that cannot open is logged and left in the store (it
    /// comes back when its interface does).
    pub fn start(
        store: Store,
        runtime: tokio::runtime::Handle,
        state_dir: &Path,
    ) -> anyhow::Result<Arc<Switch>> {
        let (events, _) = broadcast::channel(4096);
        let switch = Arc::new(Switch {
            inner: Mutex::new(Inner {
                store,
                bridges: BTreeMap::new(),
            }),
            runtime,
            state_dir: state_dir.to_path_buf(),
            events,
        });
        {
            let mut inner = switch.lock();
            let configs = inner.store.config().bridge.clone();
            for cfg in &configs {
                let bridge = switch
                    .start_bridge(cfg)
                    .map_err(|e| anyhow::anyhow!("starting bridge {}: {e}", cfg.name))?;
                tracing::info!(bridge = %cfg.name, ports = bridge.ports().len(), "bridge up");
                inner.bridges.insert(cfg.name.clone(), bridge);
            }
            // Entries that failed to restore drop out of the store.
            let mut c = inner.store.config().clone();
            for b in &mut c.bridge {
                if let Some(br) = inner.bridges.get(&b.name) {
                    refresh_persistent(br, b, &[], &[]);
                }
            }
            if &c != inner.store.config() {
                inner.persist(c).map_err(anyhow::Error::msg)?;
            }
        }
        Ok(switch)
    }

    /// Stop every bridge (ports closed, XDP detached, taps removed).
    pub fn shutdown(&self) {
        let bridges = std::mem::take(&mut self.lock().bridges);
        drop(bridges);
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Run `f` under the lock on a blocking thread (opening ports and
    /// joining threads block).
    pub async fn run<R, F>(self: &Arc<Self>, f: F) -> Result<R, tonic::Status>
    where
        R: Send + 'static,
        F: FnOnce(&Switch, &mut Inner) -> ApiResult<R> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut inner = me.lock();
            f(&me, &mut inner)
        })
        .await
        .map_err(|e| tonic::Status::internal(format!("API task failed: {e}")))?
        .map_err(tonic::Status::from)
    }

    /// Subscribe to the event stream.
    pub fn subscribe(&self) -> broadcast::Receiver<v1::Event> {
        self.events.subscribe()
    }

    /// Send an event to watchers.
    pub fn emit(&self, bridge: &str, kind: v1::event::Kind) {
        let _ = self.events.send(v1::Event {
            bridge: bridge.to_string(),
            time_ms: now_ms(),
            kind: Some(kind),
        });
    }

    /// Start a bridge from its configuration: datapath, ports, restored
    /// meters, groups and flows, controllers; and forward its notices to
    /// the event stream.
    pub fn start_bridge(&self, cfg: &BridgeConfig) -> ApiResult<Bridge> {
        // Controllers come last: a controller that connects must find the
        // ports and the restored flows already there.
        let mut bare = cfg.clone();
        bare.port.clear();
        bare.controller.clear();
        let mut bridge = Bridge::start(&bare, &self.runtime, &self.state_dir)
            .map_err(|e| ApiError::Internal(format!("{e:#}")))?;
        self.forward_notices(&bridge);
        for p in &cfg.port {
            if let Err(e) = bridge.add_port(p) {
                tracing::error!(bridge = %cfg.name, port = %p.name, "port not restored: {e:#}");
            }
        }
        restore_openflow(&bridge, cfg);
        if !cfg.controller.is_empty() {
            bridge
                .set_controllers(cfg, &self.runtime)
                .map_err(|e| ApiError::Internal(format!("{e:#}")))?;
        }
        Ok(bridge)
    }

    fn forward_notices(&self, bridge: &Bridge) {
        let mut rx = bridge.notices.subscribe();
        let events = self.events.clone();
        let name = bridge.name.clone();
        let ports = Arc::downgrade(&bridge.ofbridge);
        self.runtime.spawn(async move {
            loop {
                let n = match rx.recv().await {
                    Ok(n) => n,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let kind = match n {
                    BridgeNotice::Controllers(c) => {
                        Some(v1::event::Kind::Controller(v1::ControllerEvent {
                            connected: c as u32,
                        }))
                    }
                    BridgeNotice::Async(m) => {
                        super::events::from_async(&m, ports.upgrade().as_deref())
                    }
                };
                if let Some(kind) = kind {
                    let _ = events.send(v1::Event {
                        bridge: name.clone(),
                        time_ms: now_ms(),
                        kind: Some(kind),
                    });
                }
            }
        });
    }

    /// Replace a running bridge with one built from `cfg` (fail mode and
    /// datapath settings cannot change in place). Flows, groups and meters
    /// come back from the store; the old bridge is stopped first so its
    /// ports can be reopened.
    pub fn restart_bridge(&self, inner: &mut Inner, cfg: &BridgeConfig) -> ApiResult<()> {
        drop(inner.bridges.remove(&cfg.name));
        let bridge = self.start_bridge(cfg)?;
        inner.bridges.insert(cfg.name.clone(), bridge);
        Ok(())
    }

    /// Apply a FLOW_MOD to a bridge and persist the result. `persistent`
    /// applies to added flows.
    pub fn flow_mods(
        &self,
        inner: &mut Inner,
        bridge: &str,
        mods: &[FlowMod],
        persistent: bool,
    ) -> ApiResult<u32> {
        let (b, _) = inner.bridge(bridge)?;
        let of = b.ofbridge.clone();
        let before = of.store.snapshot().rules().count();
        let mut applied: Vec<&FlowMod> = Vec::new();
        let mut touched = 0u32;
        for fm in mods {
            let snapshot = of.store.snapshot();
            let pre: Vec<_> = snapshot
                .rules()
                .map(|r| {
                    (
                        r.table_id,
                        r.priority,
                        r.matcher.normalized(),
                        r.instructions.clone(),
                    )
                })
                .collect();
            match of.store.flow_mod(fm) {
                Ok(out) => {
                    if fm.command.is_delete() {
                        touched += out.removed.len() as u32;
                        of.report_removed(&out.removed, RemovedReason::Delete);
                    } else if fm.command == ofproto::wire::flow_mod::FlowModCommand::Add {
                        touched += 1;
                    } else {
                        let post = of.store.snapshot();
                        touched += post
                            .rules()
                            .filter(|r| {
                                !pre.iter().any(|(t, p, m, i)| {
                                    *t == r.table_id
                                        && *p == r.priority
                                        && *m == r.matcher.normalized()
                                        && *i == r.instructions
                                })
                            })
                            .count() as u32;
                    }
                    applied.push(fm);
                }
                Err(e) => {
                    undo_adds(&of, &applied);
                    return Err(ApiError::Refused(format!(
                        "the switch refused the flow: {e}"
                    )));
                }
            }
        }
        let adds: Vec<FlowMod> = applied
            .iter()
            .filter(|f| f.command == ofproto::wire::flow_mod::FlowModCommand::Add)
            .map(|f| (*f).clone())
            .collect();
        let (persist_adds, transient_adds) = if persistent {
            (adds, Vec::new())
        } else {
            (Vec::new(), adds)
        };
        let config = inner.edit(bridge, |bc| {
            refresh_persistent(b, bc, &persist_adds, &transient_adds);
            Ok(())
        });
        let result = config.and_then(|c| inner.persist(c));
        if let Err(e) = result {
            undo_adds(&of, &applied);
            return Err(e);
        }
        tracing::debug!(
            bridge,
            before,
            after = of.store.snapshot().rules().count(),
            "flows changed"
        );
        Ok(touched)
    }

    /// Apply a GROUP_MOD and persist.
    pub fn group_mod(&self, inner: &mut Inner, bridge: &str, gm: &GroupMod) -> ApiResult<()> {
        let (b, _) = inner.bridge(bridge)?;
        let of = b.ofbridge.clone();
        let removed = of
            .store
            .group_mod(gm)
            .map_err(|e| ApiError::Refused(format!("the switch refused the group: {e}")))?;
        of.report_removed(&removed, RemovedReason::GroupDelete);
        let config = inner.edit(bridge, |bc| {
            if gm.command == GroupModCommand::Add {
                bc.groups.push(format!("group_id={}", gm.group_id));
            }
            refresh_persistent(b, bc, &[], &[]);
            Ok(())
        })?;
        inner.persist(config)
    }

    /// Apply a METER_MOD and persist.
    pub fn meter_mod(&self, inner: &mut Inner, bridge: &str, mm: &MeterMod) -> ApiResult<()> {
        let (b, _) = inner.bridge(bridge)?;
        let of = b.ofbridge.clone();
        let removed = of
            .store
            .meter_mod(mm)
            .map_err(|e| ApiError::Refused(format!("the switch refused the meter: {e}")))?;
        of.report_removed(&removed, RemovedReason::Delete);
        let config = inner.edit(bridge, |bc| {
            if mm.command == MeterModCommand::Add {
                bc.meters.push(format!("meter={}", mm.meter_id));
            }
            refresh_persistent(b, bc, &[], &[]);
            Ok(())
        })?;
        inner.persist(config)
    }
}

/// Delete (strictly) flows that were added, to undo a failed batch.
fn undo_adds(of: &ofproto::bridge::OfBridge, applied: &[&FlowMod]) {
    for fm in applied.iter().rev() {
        if fm.command == ofproto::wire::flow_mod::FlowModCommand::Add {
            let mut del = (*fm).clone();
            del.command = ofproto::wire::flow_mod::FlowModCommand::DeleteStrict;
            del.instructions.clear();
            let _ = of.store.flow_mod(&del);
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Install the stored meters, groups and flows of `cfg` (in that order:
/// flows use groups and meters, groups may chain to groups). Failures are
/// logged; they drop out of the store at the next save.
fn restore_openflow(bridge: &Bridge, cfg: &BridgeConfig) {
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
    let mut pending: Vec<GroupMod> = Vec::new();
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

/// Which of the bridge's live flows are persistent (for dumps).
pub fn persistent_flow_ids(bridge: &Bridge, cfg: &BridgeConfig) -> HashSet<FlowId> {
    let names = port_names(bridge);
    cfg.flows
        .iter()
        .filter_map(|t| stored_flow_id(t, &names))
        .collect()
}

/// Recompute `cfg`'s stored flows, groups and meters from the live
/// pipeline: `persist` adds become stored, `transient` adds stop being
/// stored (they replaced a stored flow), vanished entries drop out, and
/// the rest are re-printed from what is installed.
fn refresh_persistent(
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
    let live: std::collections::HashMap<FlowId, &Arc<ofproto::pipeline::rule::Rule>> = snapshot
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

/// A new bridge's configuration, checked against the store.
pub fn check_new_bridge(inner: &Inner, cfg: &BridgeConfig) -> ApiResult<Config> {
    if inner
        .store
        .config()
        .bridge
        .iter()
        .any(|b| b.name == cfg.name)
    {
        return Err(ApiError::AlreadyExists(format!(
            "bridge {:?} already exists",
            cfg.name
        )));
    }
    if inner.port_names().contains(&cfg.name) {
        return Err(ApiError::AlreadyExists(format!(
            "{:?} is already the name of a port",
            cfg.name
        )));
    }
    let mut c = inner.store.config().clone();
    c.bridge.push(cfg.clone());
    c.validate().map_err(|e| ApiError::Invalid(e.to_string()))?;
    Ok(c)
}

/// A new port's configuration, checked against the store.
pub fn check_new_port(inner: &Inner, bridge: &str, p: &PortConfig) -> ApiResult<Config> {
    inner.bridge(bridge)?;
    if inner.port_names().contains(&p.name)
        || inner.store.config().bridge.iter().any(|b| b.name == p.name)
    {
        return Err(ApiError::AlreadyExists(format!(
            "a port or bridge named {:?} already exists",
            p.name
        )));
    }
    inner.edit(bridge, |b| {
        b.port.push(p.clone());
        Ok(())
    })
}

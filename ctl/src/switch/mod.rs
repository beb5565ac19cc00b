//! The daemon's core: the running bridges and the persistent store, and
//! the one path by which they change.
//!
//! [`Switch`] owns both behind one lock. Every change follows the same
//! steps under that lock: check it against a copy of the stored
//! configuration (names, duplicates, options: [`Config::validate`]), apply
//! it to the running bridge, persist the new configuration. A failure in
//! the first two changes nothing; a failure to persist undoes the applied
//! change before the error is returned. Changes to a bridge's flows,
//! groups and meters, from controllers and from the API alike, take the
//! OpenFlow path ([`openflow`]): a transaction committed all or nothing
//! and persisted in the same step.
//!
//! The changes by object: [`bridges`] (create, delete, reconfigure,
//! controllers), [`ports`] (add, delete, options, OFPPC bits), [`openflow`]
//! (flows, groups, meters), [`mirrors`] (port mirrors), [`sflow`] (sFlow and IPFIX),
//! [`qos`] (a port's egress QoS and ingress policing), [`tunnels`] (the operator's routes, which are
//! stored first and then installed in the tunnel plane, and the plane's
//! neighbours, tunnel ports and counters). The services that carry requests in (the gRPC
//! API in `crate::api`, the OpenFlow connections in `ofproto`) translate
//! onto these and keep no state of their own; the core knows nothing of
//! them. [`events`] is the fan-out of what happens on the bridges to
//! whoever watches; [`error`] says why a change failed, one kind per thing
//! a caller can do about it.

pub mod bridges;
pub mod error;
pub mod events;
pub mod mirrors;
pub mod openflow;
pub mod ports;
pub mod qos;
pub mod sflow;
pub mod tunnels;

pub use error::{SwitchError, SwitchResult};
pub use openflow::{port_names, OpenFlowPath, PersistentIds};

use crate::bridge::Bridge;
use crate::config::{BridgeConfig, Config};
use crate::store::Store;
use proto::v1;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// The running switch.
#[derive(Debug)]
pub struct Switch {
    inner: Mutex<Inner>,
    runtime: tokio::runtime::Handle,
    state_dir: PathBuf,
    events: broadcast::Sender<v1::Event>,
    /// Tunnel ports, links, routes and neighbours of every bridge.
    pub tunnels: Arc<ofproto::tunnel::TunnelPlane>,
    /// The PMD threads every bridge's workers run on (worker `i` of each
    /// bridge on thread `i`).
    pub pmds: Arc<datapath::pmd::PmdPool>,
    /// Itself, for the change paths it installs on its bridges.
    me: std::sync::Weak<Switch>,
}

/// What the lock guards.
#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub bridges: BTreeMap<String, Bridge>,
    /// Bumped whenever the stored configuration or the running bridges
    /// change: [`PersistentIds`] computed under an older one are stale.
    generation: u64,
    persistent: HashMap<String, (u64, PersistentIds)>,
}

impl Inner {
    /// The running bridge and its stored configuration.
    pub fn bridge(&self, name: &str) -> SwitchResult<(&Bridge, &BridgeConfig)> {
        let b = self
            .bridges
            .get(name)
            .ok_or_else(|| SwitchError::NotFound(format!("no bridge named {name:?}")))?;
        let c = self
            .store
            .config()
            .bridge
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| SwitchError::NotFound(format!("no bridge named {name:?}")))?;
        Ok((b, c))
    }

    pub fn bridge_mut(&mut self, name: &str) -> SwitchResult<&mut Bridge> {
        self.bridges
            .get_mut(name)
            .ok_or_else(|| SwitchError::NotFound(format!("no bridge named {name:?}")))
    }

    /// A copy of the stored configuration with `f` applied to bridge
    /// `name`'s entry.
    pub fn edit(
        &self,
        name: &str,
        f: impl FnOnce(&mut BridgeConfig) -> SwitchResult<()>,
    ) -> SwitchResult<Config> {
        let mut c = self.store.config().clone();
        let b = c
            .bridge
            .iter_mut()
            .find(|b| b.name == name)
            .ok_or_else(|| SwitchError::NotFound(format!("no bridge named {name:?}")))?;
        f(b)?;
        c.validate()
            .map_err(|e| SwitchError::Invalid(e.to_string()))?;
        Ok(c)
    }

    /// Persist `config`.
    pub fn persist(&mut self, config: Config) -> SwitchResult<()> {
        self.generation += 1;
        self.store.save(config).map_err(|e| {
            SwitchError::Internal(format!("persisting the configuration: {}", chain(&e)))
        })
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

impl Switch {
    /// Install the stored routes and start every bridge of the store. A
    /// bridge that cannot start is an error; a port that cannot open is
    /// logged and left in the store (it comes back when its interface
    /// does).
    pub fn start(
        store: Store,
        runtime: tokio::runtime::Handle,
        state_dir: &Path,
    ) -> anyhow::Result<Arc<Switch>> {
        let (events, _) = broadcast::channel(4096);
        let switch = Arc::new_cyclic(|me| Switch {
            me: me.clone(),
            tunnels: ofproto::tunnel::TunnelPlane::new(),
            pmds: datapath::pmd::PmdPool::new(),
            inner: Mutex::new(Inner {
                store,
                bridges: BTreeMap::new(),
                generation: 0,
                persistent: HashMap::new(),
            }),
            runtime,
            state_dir: state_dir.to_path_buf(),
            events,
        });
        {
            let mut inner = switch.lock();
            // Routes first: the first tunnel packet a bridge translates
            // finds them.
            switch.install_routes(&inner);
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
                    openflow::refresh_persistent(br, b, &[], &[]);
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
    pub async fn run<R, F>(self: &Arc<Self>, f: F) -> SwitchResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Switch, &mut Inner) -> SwitchResult<R> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut inner = me.lock();
            f(&me, &mut inner)
        })
        .await
        .map_err(|e| SwitchError::Internal(format!("API task failed: {e}")))?
    }

    /// Start a bridge from its configuration: datapath, ports, restored
    /// meters, groups and flows, controllers; and forward its notices to
    /// the event stream.
    pub fn start_bridge(&self, cfg: &BridgeConfig) -> SwitchResult<Bridge> {
        // Controllers come last: a controller that connects must find the
        // ports and the restored flows already there.
        let mut bare = cfg.clone();
        bare.port.clear();
        bare.mirror.clear();
        bare.controller.clear();
        let mut bridge = Bridge::start(
            &bare,
            &self.runtime,
            &self.state_dir,
            &self.tunnels,
            &self.pmds,
        )
        .map_err(|e| SwitchError::Internal(format!("{e:#}")))?;
        self.forward_notices(&bridge);
        for p in &cfg.port {
            if let Err(e) = bridge.add_port(p) {
                tracing::error!(bridge = %cfg.name, port = %p.name, "port not restored: {e:#}");
            }
        }
        bridge.set_mirrors(&cfg.mirror);
        if let Err(e) = sflow::start(&bridge, cfg.sflow.as_ref()) {
            tracing::error!(bridge = %cfg.name, "sFlow not started: {e}");
        }
        if let Err(e) = sflow::start_ipfix(&bridge, cfg.ipfix.as_ref()) {
            tracing::error!(bridge = %cfg.name, "IPFIX not started: {e}");
        }
        for set in &cfg.collector_set {
            if let Err(e) = sflow::start_collector_set(&bridge, set.id, Some(set)) {
                tracing::error!(bridge = %cfg.name, set = set.id, "collector set not started: {e}");
            }
        }
        openflow::restore_openflow(&bridge, cfg);
        // From now on every OpenFlow change, a controller's included,
        // commits through the switch.
        bridge
            .ofbridge
            .set_change_path(Box::new(OpenFlowPath::new(self.me.clone(), &cfg.name)));
        if !cfg.controller.is_empty() {
            bridge
                .set_controllers(cfg, &self.runtime)
                .map_err(|e| SwitchError::Internal(format!("{e:#}")))?;
        }
        Ok(bridge)
    }

    /// Replace a running bridge with one built from `cfg` (fail mode and
    /// datapath settings cannot change in place). Flows, groups and meters
    /// come back from the store; the old bridge is stopped first so its
    /// ports can be reopened.
    pub fn restart_bridge(&self, inner: &mut Inner, cfg: &BridgeConfig) -> SwitchResult<()> {
        inner.generation += 1;
        drop(inner.bridges.remove(&cfg.name));
        let bridge = self.start_bridge(cfg)?;
        inner.bridges.insert(cfg.name.clone(), bridge);
        Ok(())
    }
}

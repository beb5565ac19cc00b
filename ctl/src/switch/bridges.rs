//! Bridge changes: create, delete, reconfigure, controllers.
//!
//! Fail mode and datapath settings are fixed when a bridge's datapath is
//! built, so changing them restarts the bridge (ports are reopened and the
//! stored flows, groups and meters reinstalled); controllers change in
//! place, keeping connections to targets that stay. Each change follows
//! the core's steps: checked against a copy of the configuration, applied,
//! persisted, and undone if it cannot be persisted; watchers get a bridge
//! event for each.

use super::{Inner, Switch, SwitchError, SwitchResult};
use crate::config::{BridgeConfig, Config, SslConfig};
use proto::v1;

impl Inner {
    /// A new bridge's configuration, checked against the store.
    pub fn check_new_bridge(&self, cfg: &BridgeConfig) -> SwitchResult<Config> {
        if self
            .store
            .config()
            .bridge
            .iter()
            .any(|b| b.name == cfg.name)
        {
            return Err(SwitchError::AlreadyExists(format!(
                "bridge {:?} already exists",
                cfg.name
            )));
        }
        if self.port_names().contains(&cfg.name) {
            return Err(SwitchError::AlreadyExists(format!(
                "{:?} is already the name of a port",
                cfg.name
            )));
        }
        let mut c = self.store.config().clone();
        c.bridge.push(cfg.clone());
        c.validate()
            .map_err(|e| SwitchError::Invalid(e.to_string()))?;
        Ok(c)
    }
}

impl Switch {
    fn bridge_event(&self, name: &str, change: &str) {
        self.emit(
            name,
            v1::event::Kind::BridgeChange(v1::BridgeEvent {
                change: change.into(),
            }),
        );
    }

    /// Create and start a bridge.
    pub fn create_bridge(&self, inner: &mut Inner, cfg: BridgeConfig) -> SwitchResult<()> {
        let config = inner.check_new_bridge(&cfg)?;
        let bridge = self.start_bridge(&cfg)?;
        inner.bridges.insert(cfg.name.clone(), bridge);
        if let Err(e) = inner.persist(config) {
            inner.bridges.remove(&cfg.name);
            return Err(e);
        }
        tracing::info!(bridge = %cfg.name, "bridge created");
        self.bridge_event(&cfg.name, "created");
        Ok(())
    }

    /// Stop a bridge and forget it.
    pub fn delete_bridge(&self, inner: &mut Inner, name: &str) -> SwitchResult<()> {
        let (_, old) = inner.bridge(name)?;
        let old = old.clone();
        let mut config = inner.store.config().clone();
        config.bridge.retain(|b| b.name != name);
        drop(inner.bridges.remove(name));
        if let Err(e) = inner.persist(config) {
            if let Ok(b) = self.start_bridge(&old) {
                inner.bridges.insert(name.to_string(), b);
            }
            return Err(e);
        }
        tracing::info!(bridge = %name, "bridge deleted");
        self.bridge_event(name, "deleted");
        Ok(())
    }

    /// Change a bridge's stored configuration with `f` and restart it; on
    /// failure the old bridge is brought back.
    pub fn reconfigure_bridge(
        &self,
        inner: &mut Inner,
        name: &str,
        f: impl FnOnce(&mut BridgeConfig) -> SwitchResult<()>,
    ) -> SwitchResult<()> {
        let (_, old) = inner.bridge(name)?;
        let old = old.clone();
        let config = inner.edit(name, f)?;
        let Some(new) = config.bridge.iter().find(|b| b.name == name).cloned() else {
            return Err(SwitchError::NotFound(name.to_string()));
        };
        if new == old {
            return Ok(());
        }
        if let Err(e) = self.restart_bridge(inner, &new) {
            let _ = self.restart_bridge(inner, &old);
            return Err(e);
        }
        if let Err(e) = inner.persist(config) {
            let _ = self.restart_bridge(inner, &old);
            return Err(e);
        }
        self.bridge_event(name, "changed");
        Ok(())
    }

    /// Replace a bridge's controllers (and its TLS files, if given) in
    /// place.
    pub fn set_controllers(
        &self,
        inner: &mut Inner,
        name: &str,
        controllers: Vec<String>,
        ssl: Option<SslConfig>,
    ) -> SwitchResult<()> {
        let config = inner.edit(name, |b| {
            b.controller = controllers;
            if ssl.is_some() {
                b.ssl = ssl;
            }
            Ok(())
        })?;
        let Some(new) = config.bridge.iter().find(|b| b.name == name).cloned() else {
            return Err(SwitchError::NotFound(name.to_string()));
        };
        let (_, old) = inner.bridge(name)?;
        let old = old.clone();
        let rt = self.runtime().clone();
        inner
            .bridge_mut(name)?
            .set_controllers(&new, &rt)
            .map_err(|e| SwitchError::Invalid(format!("{e:#}")))?;
        if let Err(e) = inner.persist(config) {
            let _ = inner.bridge_mut(name)?.set_controllers(&old, &rt);
            return Err(e);
        }
        self.bridge_event(name, "changed");
        Ok(())
    }
}

//! Port changes: add, delete, reconfigure, and OFPPC bits.
//!
//! Port names are unique across the switch (they are interface names).
//! The number a port gets is written into the store, so that after a
//! restart it has the same OpenFlow number and stored flows still mean the
//! same ports. Each change follows the core's steps (see the essay of
//! `switch`): checked against a copy of the configuration, applied to the
//! running bridge, persisted; a failure to persist undoes what was applied.

use super::{Inner, SwitchError, SwitchResult};
use crate::config::{Config, PortConfig};
use std::collections::BTreeMap;

impl Inner {
    /// A new port's configuration, checked against the store.
    pub fn check_new_port(&self, bridge: &str, p: &PortConfig) -> SwitchResult<Config> {
        self.bridge(bridge)?;
        if self.port_names().contains(&p.name)
            || self.store.config().bridge.iter().any(|b| b.name == p.name)
        {
            return Err(SwitchError::AlreadyExists(format!(
                "a port or bridge named {:?} already exists",
                p.name
            )));
        }
        self.edit(bridge, |b| {
            b.port.push(p.clone());
            Ok(())
        })
    }

    /// Open and attach a port, and store it with the OpenFlow number it got.
    pub fn add_port(&mut self, bridge: &str, mut p: PortConfig) -> SwitchResult<u32> {
        self.check_new_port(bridge, &p)?;
        if let Some(n) = p.ofport {
            let (b, _) = self.bridge(bridge)?;
            if b.ports().values().any(|&x| x == n) {
                return Err(SwitchError::AlreadyExists(format!(
                    "OpenFlow port {n} is in use"
                )));
            }
        }
        let no = self
            .bridge_mut(bridge)?
            .add_port(&p)
            .map_err(|e| SwitchError::Refused(format!("{e:#}")))?;
        p.ofport = Some(no);
        let config = self.edit(bridge, |b| {
            b.port.push(p.clone());
            Ok(())
        });
        if let Err(e) = config.and_then(|c| self.persist(c)) {
            let _ = self.bridge_mut(bridge)?.del_port(&p.name);
            return Err(e);
        }
        tracing::info!(bridge, port = %p.name, ofport = no, "port added");
        Ok(no)
    }

    /// Detach and close a port, and forget it.
    pub fn del_port(&mut self, bridge: &str, name: &str) -> SwitchResult<()> {
        let (_, c) = self.bridge(bridge)?;
        if c.local_port && name == c.name {
            return Err(SwitchError::Invalid(format!(
                "{name} is the bridge's local port; delete the bridge instead"
            )));
        }
        let Some(old) = c.port.iter().find(|p| p.name == name).cloned() else {
            return Err(SwitchError::NotFound(format!(
                "bridge {bridge} has no port {name:?}"
            )));
        };
        let config = self.edit(bridge, |b| {
            b.port.retain(|p| p.name != name);
            Ok(())
        })?;
        // A port that failed to open at start is only in the store.
        let running = self.bridge(bridge)?.0.ports().contains_key(name);
        if running {
            self.bridge_mut(bridge)?
                .del_port(name)
                .map_err(|e| SwitchError::Internal(format!("{e:#}")))?;
        }
        if let Err(e) = self.persist(config) {
            if running {
                let _ = self.bridge_mut(bridge)?.add_port(&old);
            }
            return Err(e);
        }
        tracing::info!(bridge, port = name, "port deleted");
        Ok(())
    }

    /// Replace a port's options: the port is reopened with them (same
    /// OpenFlow number); if it cannot be, the old one comes back.
    pub fn set_port_options(
        &mut self,
        bridge: &str,
        name: &str,
        options: BTreeMap<String, String>,
    ) -> SwitchResult<()> {
        let (b, c) = self.bridge(bridge)?;
        let Some(&dp) = b.ports().get(name) else {
            return Err(SwitchError::NotFound(format!(
                "bridge {bridge} has no port {name:?}"
            )));
        };
        let Some(old) = c.port.iter().find(|p| p.name == name).cloned() else {
            return Err(SwitchError::Invalid(format!(
                "{name} is the local port; it has no options"
            )));
        };
        let mut new = old.clone();
        new.options = options;
        new.ofport = Some(dp);
        let config = self.edit(bridge, |b| {
            if let Some(p) = b.port.iter_mut().find(|p| p.name == name) {
                *p = new.clone();
            }
            Ok(())
        })?;
        let running = self.bridge_mut(bridge)?;
        running
            .del_port(name)
            .map_err(|e| SwitchError::Internal(format!("{e:#}")))?;
        if let Err(e) = running.add_port(&new) {
            let _ = running.add_port(&old);
            return Err(SwitchError::Refused(format!("{e:#}")));
        }
        if let Err(e) = self.persist(config) {
            let running = self.bridge_mut(bridge)?;
            let _ = running.del_port(name);
            let _ = running.add_port(&old);
            return Err(e);
        }
        Ok(())
    }

    /// Set the OFPPC_* bits of a port selected by `mask` (not stored: as a
    /// controller's PORT_MOD, they last until the port is reopened).
    pub fn port_mod(&self, bridge: &str, name: &str, config: u32, mask: u32) -> SwitchResult<()> {
        let (b, _) = self.bridge(bridge)?;
        let Some(&dp) = b.ports().get(name) else {
            return Err(SwitchError::NotFound(format!(
                "bridge {bridge} has no port {name:?}"
            )));
        };
        if mask != 0 {
            b.ofbridge.port_mod(dp, config, mask);
        }
        Ok(())
    }
}

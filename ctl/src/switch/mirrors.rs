//! Mirror changes: add, delete, and the running mirrors with their
//! counters.
//!
//! A mirror is bridge configuration like a port: each change is checked
//! against a copy of the stored configuration (`MirrorConfig::check`, run
//! by `Config::validate`: names, ports, selection, output), applied to the
//! running bridge (its mirrors replaced as a whole, which retranslates the
//! cached megaflows), then persisted; a failure to persist puts the old
//! mirrors back.

use super::{Inner, SwitchError, SwitchResult};
use crate::mirror::MirrorConfig;
use ofproto::mirror::Mirror;
use std::sync::Arc;

/// A mirror as configured, with its running state.
#[derive(Debug, Clone)]
pub struct MirrorView {
    pub bridge: String,
    pub config: MirrorConfig,
    /// The running mirror (None: one of its ports is not running).
    pub running: Option<Arc<Mirror>>,
}

impl Inner {
    pub fn add_mirror(&mut self, bridge: &str, m: MirrorConfig) -> SwitchResult<()> {
        let (_, c) = self.bridge(bridge)?;
        if c.mirror.iter().any(|x| x.name == m.name) {
            return Err(SwitchError::AlreadyExists(format!(
                "bridge {bridge} already has a mirror {:?}",
                m.name
            )));
        }
        let old = c.mirror.clone();
        let config = self.edit(bridge, |b| {
            b.mirror.push(m.clone());
            Ok(())
        })?;
        self.apply_mirrors(bridge, config, old)?;
        tracing::info!(bridge, mirror = %m.name, "mirror added");
        Ok(())
    }

    pub fn del_mirror(&mut self, bridge: &str, name: &str) -> SwitchResult<()> {
        let (_, c) = self.bridge(bridge)?;
        if !c.mirror.iter().any(|x| x.name == name) {
            return Err(SwitchError::NotFound(format!(
                "bridge {bridge} has no mirror {name:?}"
            )));
        }
        let old = c.mirror.clone();
        let config = self.edit(bridge, |b| {
            b.mirror.retain(|x| x.name != name);
            Ok(())
        })?;
        self.apply_mirrors(bridge, config, old)?;
        tracing::info!(bridge, mirror = name, "mirror deleted");
        Ok(())
    }

    /// Install `config`'s mirrors of `bridge` and persist; on failure the
    /// bridge gets `old` back.
    fn apply_mirrors(
        &mut self,
        bridge: &str,
        config: crate::config::Config,
        old: Vec<MirrorConfig>,
    ) -> SwitchResult<()> {
        let new = config
            .bridge
            .iter()
            .find(|b| b.name == bridge)
            .map(|b| b.mirror.clone())
            .unwrap_or_default();
        self.bridge(bridge)?.0.set_mirrors(&new);
        if let Err(e) = self.persist(config) {
            self.bridge(bridge)?.0.set_mirrors(&old);
            return Err(e);
        }
        Ok(())
    }

    /// The mirrors of `bridge` (all bridges when empty).
    pub fn mirrors(&self, bridge: &str) -> SwitchResult<Vec<MirrorView>> {
        let mut out = Vec::new();
        for c in &self.store.config().bridge {
            if !bridge.is_empty() && c.name != bridge {
                continue;
            }
            let running = self.bridge(&c.name)?.0.ofbridge.mirrors();
            for m in &c.mirror {
                out.push(MirrorView {
                    bridge: c.name.clone(),
                    config: m.clone(),
                    running: running.iter().find(|r| r.name == m.name).cloned(),
                });
            }
        }
        if !bridge.is_empty() {
            self.bridge(bridge)?;
        }
        Ok(out)
    }
}

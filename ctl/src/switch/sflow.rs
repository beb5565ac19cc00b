//! Sampling probes' changes: set or clear a bridge's sFlow agent, IPFIX
//! exporter, or one of its collector sets.
//!
//! The section is checked with the rest of the configuration
//! (`SflowSection::to_config`, `IpfixSection::to_config` within
//! `Config::validate`), the agent or exporter is (re)started on the
//! running bridge, then the configuration is persisted; a failure to
//! persist puts the old one back.

use super::{Inner, SwitchError, SwitchResult};
use crate::ipfix::{CollectorSetSection, IpfixSection};
use crate::sflow::SflowSection;

impl Inner {
    /// Set (`Some`) or clear (`None`) the sFlow agent of `bridge`.
    pub fn set_sflow(&mut self, bridge: &str, sflow: Option<SflowSection>) -> SwitchResult<()> {
        let old = self.bridge(bridge)?.1.sflow.clone();
        let config = self.edit(bridge, |b| {
            b.sflow = sflow.clone();
            Ok(())
        })?;
        start(self.bridge(bridge)?.0, sflow.as_ref())?;
        if let Err(e) = self.persist(config) {
            let _ = start(self.bridge(bridge)?.0, old.as_ref());
            return Err(e);
        }
        tracing::info!(bridge, on = sflow.is_some(), "sFlow changed");
        Ok(())
    }

    /// Set (`Some`) or clear (`None`) the IPFIX exporter of `bridge`.
    pub fn set_ipfix(&mut self, bridge: &str, ipfix: Option<IpfixSection>) -> SwitchResult<()> {
        let old = self.bridge(bridge)?.1.ipfix.clone();
        let config = self.edit(bridge, |b| {
            b.ipfix = ipfix.clone();
            Ok(())
        })?;
        start_ipfix(self.bridge(bridge)?.0, ipfix.as_ref())?;
        if let Err(e) = self.persist(config) {
            let _ = start_ipfix(self.bridge(bridge)?.0, old.as_ref());
            return Err(e);
        }
        tracing::info!(bridge, on = ipfix.is_some(), "IPFIX changed");
        Ok(())
    }

    /// Set (`Some`) or clear (`None`) collector set `id` of `bridge`;
    /// clearing one that does not exist is an error.
    pub fn set_collector_set(
        &mut self,
        bridge: &str,
        id: u32,
        set: Option<CollectorSetSection>,
    ) -> SwitchResult<()> {
        let sets = &self.bridge(bridge)?.1.collector_set;
        let old = sets.iter().find(|c| c.id == id).cloned();
        if set.is_none() && old.is_none() {
            return Err(SwitchError::NotFound(format!(
                "bridge {bridge} has no collector set {id}"
            )));
        }
        let config = self.edit(bridge, |b| {
            b.collector_set.retain(|c| c.id != id);
            b.collector_set.extend(set.clone());
            b.collector_set.sort_by_key(|c| c.id);
            Ok(())
        })?;
        start_collector_set(self.bridge(bridge)?.0, id, set.as_ref())?;
        if let Err(e) = self.persist(config) {
            let _ = start_collector_set(self.bridge(bridge)?.0, id, old.as_ref());
            return Err(e);
        }
        tracing::info!(bridge, id, on = set.is_some(), "collector set changed");
        Ok(())
    }
}

/// Start collector set `id` as `set` describes it on `bridge` (or, with
/// `None`, stop it).
pub fn start_collector_set(
    bridge: &crate::bridge::Bridge,
    id: u32,
    set: Option<&CollectorSetSection>,
) -> SwitchResult<()> {
    let config = set
        .map(|s| s.to_config().map_err(SwitchError::Invalid))
        .transpose()?;
    bridge
        .ofbridge
        .collector_sets
        .set(id, config)
        .map_err(|e| SwitchError::Internal(format!("starting collector set {id}: {e}")))
}

/// Start the exporter `ipfix` describes on `bridge` (or, with `None`, stop it).
pub fn start_ipfix(
    bridge: &crate::bridge::Bridge,
    ipfix: Option<&IpfixSection>,
) -> SwitchResult<()> {
    let config = ipfix
        .map(|s| s.to_config().map_err(SwitchError::Invalid))
        .transpose()?;
    bridge
        .ofbridge
        .set_ipfix(config)
        .map_err(|e| SwitchError::Internal(format!("starting IPFIX: {e}")))
}

/// Start the agent `sflow` describes on `bridge` (or, with `None`, stop it).
pub fn start(bridge: &crate::bridge::Bridge, sflow: Option<&SflowSection>) -> SwitchResult<()> {
    let config = sflow
        .map(|s| s.to_config().map_err(SwitchError::Invalid))
        .transpose()?;
    bridge
        .ofbridge
        .set_sflow(config)
        .map_err(|e| SwitchError::Internal(format!("starting sFlow: {e}")))
}

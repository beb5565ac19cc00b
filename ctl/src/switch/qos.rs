//! Traffic-control changes: a port's egress QoS and ingress policing, and
//! what they have done.
//!
//! A port is named alone (port names are unique across the switch), as
//! `swctl set-qos PORT` does. Each change follows the core's steps: the
//! section is checked with the rest of the configuration (`QosSection::
//! to_spec` within `Config::validate`), applied to the running port (where
//! a rate above the port's speed is refused), then persisted; a failure to
//! persist puts the old QoS back.

use super::{Inner, SwitchError, SwitchResult};
use crate::config::PortConfig;
use crate::qos::{PolicingSection, QosSection};
use datapath::qos::police::ColourCounts;
use datapath::qos::EgressStats;

/// A port's traffic control as configured, with what it has done.
#[derive(Debug, Clone)]
pub struct QosView {
    pub bridge: String,
    pub port: String,
    pub qos: Option<QosSection>,
    pub policing: Option<PolicingSection>,
    pub egress: Option<EgressStats>,
    /// The ingress policer's colours and drops.
    pub ingress: Option<(ColourCounts, u64)>,
}

impl Inner {
    /// The bridge a configured port is on, and its entry.
    fn port_home(&self, port: &str) -> SwitchResult<(String, PortConfig)> {
        self.store
            .config()
            .bridge
            .iter()
            .find_map(|b| {
                let p = b.port.iter().find(|p| p.name == port)?;
                Some((b.name.clone(), p.clone()))
            })
            .ok_or_else(|| SwitchError::NotFound(format!("no port named {port:?}")))
    }

    /// Set (`Some`) or clear (`None`) `port`'s egress QoS.
    pub fn set_qos(&mut self, port: &str, qos: Option<QosSection>) -> SwitchResult<()> {
        self.change_port_qos(port, |p| p.qos = qos)
    }

    /// Set (`Some`) or clear (`None`) `port`'s ingress policing.
    pub fn set_policing(&mut self, port: &str, p: Option<PolicingSection>) -> SwitchResult<()> {
        self.change_port_qos(port, |c| c.ingress_policing = p)
    }

    /// Change `port`'s entry with `change`, then apply and persist it.
    fn change_port_qos(
        &mut self,
        port: &str,
        change: impl FnOnce(&mut PortConfig),
    ) -> SwitchResult<()> {
        let (bridge, old) = self.port_home(port)?;
        let mut new = old.clone();
        change(&mut new);
        let config = self.edit(&bridge, |b| {
            if let Some(p) = b.port.iter_mut().find(|p| p.name == port) {
                p.qos = new.qos.clone();
                p.ingress_policing = new.ingress_policing.clone();
            }
            Ok(())
        })?;
        let apply = |inner: &Inner, p: &PortConfig| -> SwitchResult<()> {
            let b = inner.bridge(&bridge)?.0;
            let no = *b
                .ports()
                .get(port)
                .ok_or_else(|| SwitchError::Refused(format!("port {port} is not running")))?;
            b.apply_qos(no, p.qos.as_ref(), p.ingress_policing.as_ref())
                .map_err(|e| SwitchError::Invalid(format!("port {port}: {e}")))
        };
        apply(self, &new)?;
        if let Err(e) = self.persist(config) {
            let _ = apply(self, &old);
            return Err(e);
        }
        tracing::info!(
            port,
            qos = new.qos.is_some(),
            policing = new.ingress_policing.is_some(),
            "QoS changed"
        );
        Ok(())
    }

    /// Every port's traffic control (`port`: that one only), with counters.
    pub fn qos_views(&self, port: Option<&str>) -> SwitchResult<Vec<QosView>> {
        if let Some(p) = port {
            self.port_home(p)?;
        }
        let mut out = Vec::new();
        for b in &self.store.config().bridge {
            let Ok((running, _)) = self.bridge(&b.name) else {
                continue;
            };
            let table = running.dpif.qos();
            for p in b.port.iter().filter(|p| port.is_none_or(|n| n == p.name)) {
                let no = running.ports().get(&p.name).copied();
                out.push(QosView {
                    bridge: b.name.clone(),
                    port: p.name.clone(),
                    qos: p.qos.clone(),
                    policing: p.ingress_policing.clone(),
                    egress: no.and_then(|n| table.egress(n)).map(|e| e.stats()),
                    ingress: no.and_then(|n| table.ingress(n)).map(|i| {
                        (
                            i.colours(),
                            i.dropped.load(std::sync::atomic::Ordering::Relaxed),
                        )
                    }),
                });
            }
        }
        Ok(out)
    }
}

//! A running bridge: one datapath, its ports, and the decision maker for
//! missed packets.
//!
//! Today a bridge in fail-mode standalone is a learning switch (the
//! [`LearningBridge`] handler); secure mode without a controller forwards
//! nothing. The bridge also runs the periodic housekeeping the datapath
//! leaves to its owner: MAC aging and expiry of idle megaflows.

use crate::config::{BridgeConfig, FailMode, PortConfig, PortKind};
use anyhow::{bail, Context, Result};
use datapath::dpif::{Dpif, DpifConfig, RxqAssign};
use datapath::flow::FlowKey;
use datapath::netdev::afpacket::{AfPacketOptions, AfPacketPort};
use datapath::netdev::afxdp::{AfXdpOptions, AfXdpPort, XdpMode};
use datapath::netdev::tap::TapPort;
use datapath::netdev::Port;
use datapath::packet::Packet;
use datapath::upcall::{UpcallHandler, UpcallReply};
use datapath::PortNo;
use ofproto::mac_learning::MacTable;
use ofproto::standalone::{Invalidate, LearningBridge};
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Drops every missed packet (fail-mode secure with no controller).
#[derive(Debug)]
struct DropAll;

impl UpcallHandler for DropAll {
    fn miss(&self, _packet: &Packet, _key: &FlowKey) -> Option<UpcallReply> {
        Some(UpcallReply {
            actions: Arc::from([]),
            mask: FlowKey::exact(),
            install: true,
        })
    }
}

/// A bridge and everything it owns.
#[derive(Debug)]
pub struct Bridge {
    pub name: String,
    pub dpif: Arc<Dpif>,
    learning: Option<Arc<LearningBridge>>,
    ports: BTreeMap<String, PortNo>,
    max_idle: Duration,
}

/// Open the port a configuration entry describes.
pub fn open_port(cfg: &PortConfig) -> Result<Arc<dyn Port>> {
    let opt = |k: &str| cfg.options.get(k).map(String::as_str);
    let num = |k: &str, d: usize| -> Result<usize> {
        opt(k).map_or(Ok(d), |v| {
            v.parse().with_context(|| format!("option {k}={v}"))
        })
    };
    let port: Arc<dyn Port> = match cfg.kind {
        PortKind::Afpacket => Arc::new(AfPacketPort::open(
            &cfg.name,
            AfPacketOptions {
                n_rxq: num("n_rxq", 1)?,
                ..Default::default()
            },
        )?),
        PortKind::Afxdp => {
            let mode = match opt("xdp_mode").unwrap_or("auto") {
                "native" => XdpMode::Native,
                "generic" => XdpMode::Generic,
                _ => XdpMode::Auto,
            };
            let d = AfXdpOptions::default();
            let ring = num("ring_size", d.rx_ring_size as usize)? as u32;
            Arc::new(AfXdpPort::open(
                &cfg.name,
                AfXdpOptions {
                    n_rxq: num("n_rxq", 1)?,
                    mode,
                    prefer_zero_copy: opt("zero_copy") != Some("false"),
                    frame_size: num("frame_size", d.frame_size as usize)? as u32,
                    rx_ring_size: ring,
                    tx_ring_size: ring,
                    ..d
                },
            )?)
        }
        PortKind::Internal => Arc::new(TapPort::open(&cfg.name)?),
    };
    Ok(port)
}

impl Bridge {
    /// Build the bridge: start the datapath and open every port.
    pub fn start(cfg: &BridgeConfig) -> Result<Bridge> {
        let d = &cfg.datapath;
        let dp_cfg = DpifConfig {
            workers: d.workers,
            emc_entries: d.emc_entries,
            emc_insert_inv_prob: d.emc_insert_inv_prob,
            upcalls_per_sec: d.upcalls_per_sec,
            rxq_assign: if d.rxq_assign == "load" {
                RxqAssign::Load
            } else {
                RxqAssign::RoundRobin
            },
            ..DpifConfig::default()
        };
        let (handler, learning): (Arc<dyn UpcallHandler>, _) = match cfg.fail_mode {
            FailMode::Standalone => {
                let l = Arc::new(LearningBridge::new(MacTable::new(
                    Duration::from_secs(d.mac_aging_secs),
                    ofproto::mac_learning::DEFAULT_MAX_ENTRIES,
                )));
                (l.clone(), Some(l))
            }
            FailMode::Secure => (Arc::new(DropAll), None),
        };
        let dpif = Arc::new(Dpif::new(dp_cfg, handler, None).context("starting the datapath")?);
        if let Some(l) = &learning {
            let weak: Weak<Dpif> = Arc::downgrade(&dpif);
            l.set_invalidator(Box::new(move |what| {
                if let Some(dpif) = weak.upgrade() {
                    invalidate(&dpif, what);
                }
            }));
        }
        let mut bridge = Bridge {
            name: cfg.name.clone(),
            dpif,
            learning,
            ports: BTreeMap::new(),
            max_idle: Duration::from_secs(d.max_idle_secs.max(1)),
        };
        if cfg.local_port {
            bridge.add_port(&PortConfig {
                name: cfg.name.clone(),
                kind: PortKind::Internal,
                ofport: None,
                options: Default::default(),
            })?;
        }
        for p in &cfg.port {
            bridge.add_port(p)?;
        }
        Ok(bridge)
    }

    /// Open and attach a port.
    pub fn add_port(&mut self, cfg: &PortConfig) -> Result<PortNo> {
        let port = open_port(cfg).with_context(|| format!("opening port {}", cfg.name))?;
        let no = self
            .dpif
            .add_port(port, cfg.ofport)
            .with_context(|| format!("adding port {}", cfg.name))?;
        self.ports.insert(cfg.name.clone(), no);
        self.ports_changed();
        tracing::info!(bridge = %self.name, port = %cfg.name, port_no = no, kind = ?cfg.kind, "port added");
        Ok(no)
    }

    /// Detach and close a port.
    pub fn del_port(&mut self, name: &str) -> Result<()> {
        let Some(no) = self.ports.remove(name) else {
            bail!("bridge {} has no port {name}", self.name);
        };
        self.dpif.remove_port(no)?;
        self.ports_changed();
        Ok(())
    }

    fn ports_changed(&self) {
        if let Some(l) = &self.learning {
            l.set_ports(self.ports.values().copied().collect());
        }
    }

    /// Port names and numbers.
    pub fn ports(&self) -> &BTreeMap<String, PortNo> {
        &self.ports
    }

    /// Periodic housekeeping: MAC aging and idle megaflow expiry.
    pub fn run_periodic(&self) {
        if let Some(l) = &self.learning {
            l.run_aging(Instant::now());
        }
        let max_idle_ms = self.max_idle.as_millis() as u64;
        let now = self.dpif.now_ms();
        for f in self.dpif.dump_flows() {
            let idle = f.idle_ms.unwrap_or_else(|| now.saturating_sub(0));
            if idle >= max_idle_ms {
                let _ = self.dpif.delete_flow(f.id);
            }
        }
    }
}

/// Drop the megaflows that encoded a stale learning decision.
fn invalidate(dpif: &Dpif, what: Invalidate) {
    match what {
        Invalidate::All => dpif.flush_flows(),
        Invalidate::Destination { vlan, mac } => {
            dpif.delete_flows_where(|key, mask, _| {
                mask.eth_dst == [0xff; 6]
                    && key.eth_dst == mac
                    && (key.vlan_tci & 0x0fff) == (vlan & 0x0fff)
            });
        }
    }
}

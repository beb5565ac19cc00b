//! A running bridge: one datapath, its ports, the OpenFlow bridge that
//! decides for missed packets, its controller connections and its
//! revalidator.
//!
//! A bridge in fail-mode standalone with no controller connected is a
//! learning switch (the OpenFlow bridge sends everything to NORMAL); once
//! a controller connects, the flow tables decide. In secure mode the flow
//! tables always decide.

use crate::config::{BridgeConfig, FailMode, PortConfig, PortKind};
use anyhow::{bail, Context, Result};
use datapath::dpif::{Dpif, DpifConfig, RxqAssign};
use datapath::netdev::Port;
use datapath::pmd::PmdPool;
use datapath::PortNo;
use ofproto::bridge::{FailMode as OfFailMode, OfBridge};
use ofproto::conn::io::Controllers;
use ofproto::conn::target::Target;
use ofproto::conn::tls::TlsFiles;
use ofproto::mac_learning::MacTable;
use ofproto::tunnel::TunnelPlane;
use ofproto::xlate::LOCAL_DP_PORT;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// What a bridge tells watchers besides its controllers (the API's event
/// stream): port status and flow-removed messages, and the number of
/// connected controllers when it changes.
#[derive(Debug, Clone)]
pub enum BridgeNotice {
    Async(ofproto::wire::message::Message),
    Controllers(usize),
}

/// Where a bridge's asynchronous messages go: its controllers (if any)
/// and a broadcast for watchers. `OfBridge` takes one sink, once; this
/// fan-out is it, so controllers can come and go.
type ControllerSlot = Arc<std::sync::Mutex<std::sync::Weak<Controllers>>>;

/// How often the revalidator runs when nothing changed.
const REVALIDATE_INTERVAL: Duration = Duration::from_millis(500);

/// A bridge and everything it owns.
#[derive(Debug)]
pub struct Bridge {
    pub name: String,
    pub dpif: Arc<Dpif>,
    pub ofbridge: Arc<OfBridge>,
    pub controllers: Option<Arc<Controllers>>,
    /// Port status, flow removed and controller changes, for watchers.
    pub notices: tokio::sync::broadcast::Sender<BridgeNotice>,
    controller_slot: ControllerSlot,
    /// The TLS files the controllers were started with.
    ssl: Option<crate::config::SslConfig>,
    ports: BTreeMap<String, PortNo>,
    /// switchd's state directory (vhost-user server sockets live in its
    /// `vhost-user/`).
    state_dir: PathBuf,
    /// The switch's tunnelling state, which this bridge joined.
    tunnels: Arc<TunnelPlane>,
    stop: Arc<AtomicBool>,
    revalidator: Option<std::thread::JoinHandle<()>>,
}

pub use crate::port_type::{vhost_socket, VHOST_SOCKET_DIR};

/// Open the port a configuration entry describes ([`crate::port_type`]).
pub fn open_port(cfg: &PortConfig, state_dir: &Path) -> Result<Arc<dyn Port>> {
    crate::port_type::open(cfg, state_dir)
}

/// `table=0, priority=0, actions=NORMAL`.
fn normal_table_miss() -> ofproto::wire::message::Message {
    use ofproto::wire::action::{port_no, Action};
    use ofproto::wire::flow_mod::FlowMod;
    use ofproto::wire::instruction::Instruction;
    ofproto::wire::message::Message::FlowMod(FlowMod {
        priority: 0,
        instructions: vec![Instruction::ApplyActions(vec![Action::Output {
            port: port_no::NORMAL,
            max_len: 0,
        }])],
        ..Default::default()
    })
}

/// The datapath id of a bridge: configured, or derived from its name.
fn datapath_id(cfg: &BridgeConfig) -> u64 {
    if let Some(id) = cfg
        .datapath_id
        .as_deref()
        .and_then(|s| u64::from_str_radix(s, 16).ok())
    {
        return id;
    }
    // FNV-1a of the name, in the low 48 bits (like a MAC-derived dpid).
    let h = cfg.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    h & 0x0000_ffff_ffff_ffff
}

impl Bridge {
    /// Build the bridge: datapath, OpenFlow bridge, ports, controllers.
    /// `state_dir` is switchd's state directory (vhost-user sockets).
    pub fn start(
        cfg: &BridgeConfig,
        runtime: &tokio::runtime::Handle,
        state_dir: &Path,
        tunnels: &Arc<TunnelPlane>,
        pmds: &Arc<PmdPool>,
    ) -> Result<Bridge> {
        let d = &cfg.datapath;
        let dp_cfg = DpifConfig {
            workers: d.workers,
            emc_entries: d.emc_entries,
            emc_insert_inv_prob: d.emc_insert_inv_prob,
            upcalls_per_sec: d.upcalls_per_sec,
            upcall_cpu_percent: d.upcall_cpu_percent,
            rxq_assign: if d.rxq_assign == "load" {
                RxqAssign::Load
            } else {
                RxqAssign::RoundRobin
            },
            ..DpifConfig::default()
        };
        let fail_mode = match cfg.fail_mode {
            FailMode::Standalone => OfFailMode::Standalone,
            FailMode::Secure => OfFailMode::Secure,
        };
        let ofbridge = OfBridge::new(
            &cfg.name,
            datapath_id(cfg),
            fail_mode,
            MacTable::new(
                Duration::from_secs(d.mac_aging_secs),
                ofproto::mac_learning::DEFAULT_MAX_ENTRIES,
            ),
        );
        let dpif = Arc::new(
            Dpif::new_in(
                pmds.clone(),
                dp_cfg,
                ofbridge.clone(),
                Some(ofbridge.store.meters.clone()),
            )
            .context("starting the datapath")?,
        );
        ofbridge.attach(&dpif);
        ofbridge.set_tunnels(tunnels.clone());
        tunnels.add_bridge(&cfg.name, &dpif, cfg.local_port);
        let (notices, _) = tokio::sync::broadcast::channel(1024);
        let controller_slot: ControllerSlot = Default::default();
        {
            let slot = controller_slot.clone();
            let notices = notices.clone();
            ofbridge.set_async_sink(Box::new(move |m| {
                if matches!(
                    m,
                    ofproto::wire::message::Message::PortStatus(_)
                        | ofproto::wire::message::Message::FlowRemoved(_)
                ) {
                    let _ = notices.send(BridgeNotice::Async(m.clone()));
                }
                let c = slot.lock().ok().and_then(|w| w.upgrade());
                if let Some(c) = c {
                    c.send_async(m);
                }
            }));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let revalidator = ofbridge
            .spawn_revalidator(
                REVALIDATE_INTERVAL,
                Duration::from_secs(d.max_idle_secs.max(1)),
                stop.clone(),
            )
            .context("starting the revalidator")?;
        if cfg.fail_mode == FailMode::Standalone {
            // As in Open vSwitch, a standalone bridge starts with a table-miss
            // flow to NORMAL, so it stays a learning switch while a client
            // such as ovs-ofctl is connected; a controller replaces or
            // deletes it like any flow.
            ofbridge.handle_request(0, normal_table_miss());
        }
        let mut bridge = Bridge {
            name: cfg.name.clone(),
            dpif,
            ofbridge,
            controllers: None,
            notices,
            controller_slot,
            ssl: cfg.ssl.clone(),
            ports: BTreeMap::new(),
            state_dir: state_dir.to_path_buf(),
            tunnels: tunnels.clone(),
            stop,
            revalidator: Some(revalidator),
        };
        if cfg.local_port {
            bridge.add_port_as(
                &PortConfig {
                    name: cfg.name.clone(),
                    kind: PortKind::Internal,
                    ofport: None,
                    options: Default::default(),
                    qos: None,
                    ingress_policing: None,
                },
                Some(LOCAL_DP_PORT),
            )?;
        }
        for p in &cfg.port {
            bridge.add_port(p)?;
        }
        bridge.set_mirrors(&cfg.mirror);
        if !cfg.controller.is_empty() {
            bridge.start_controllers(cfg, runtime)?;
        }
        Ok(bridge)
    }

    fn start_controllers(&mut self, cfg: &BridgeConfig, rt: &tokio::runtime::Handle) -> Result<()> {
        let targets = cfg
            .controller
            .iter()
            .map(|t| {
                t.parse::<Target>()
                    .with_context(|| format!("controller {t}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let tls = cfg.ssl.as_ref().map(|s| TlsFiles {
            private_key: s.private_key.clone(),
            certificate: s.certificate.clone(),
            ca_certificate: s.ca_certificate.clone(),
        });
        let controllers = Arc::new(
            Controllers::start_with(
                targets,
                tls,
                self.ofbridge.clone(),
                rt,
                ofproto::conn::Options {
                    packet_in_limit: cfg.packet_in_limit(),
                    ..Default::default()
                },
            )
            .context("starting controller connections")?,
        );
        // Weak: the connections hold the bridge, not the other way round.
        if let Ok(mut slot) = self.controller_slot.lock() {
            *slot = Arc::downgrade(&controllers);
        }
        let mut watch = controllers.watch_connected();
        let weak = Arc::downgrade(&self.ofbridge);
        let notices = self.notices.clone();
        rt.spawn(async move {
            loop {
                let n = *watch.borrow_and_update();
                let _ = notices.send(BridgeNotice::Controllers(n));
                match weak.upgrade() {
                    Some(b) => b.set_controller_connected(n > 0),
                    None => break,
                }
                if watch.changed().await.is_err() {
                    break;
                }
            }
        });
        self.controllers = Some(controllers);
        Ok(())
    }

    /// Replace the controller targets (and TLS files) with `cfg`'s: kept
    /// targets keep their connections when the TLS files did not change.
    pub fn set_controllers(
        &mut self,
        cfg: &BridgeConfig,
        rt: &tokio::runtime::Handle,
    ) -> Result<()> {
        if let Some(c) = &self.controllers {
            if self.ssl == cfg.ssl {
                let targets = cfg
                    .controller
                    .iter()
                    .map(|t| {
                        t.parse::<Target>()
                            .with_context(|| format!("controller {t}"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                c.set_targets(targets).context("changing controllers")?;
                return Ok(());
            }
        }
        self.controllers = None;
        self.ofbridge.set_controller_connected(false);
        if !cfg.controller.is_empty() {
            self.start_controllers(cfg, rt)?;
        }
        self.ssl = cfg.ssl.clone();
        Ok(())
    }

    /// Open and attach a port.
    pub fn add_port(&mut self, cfg: &PortConfig) -> Result<PortNo> {
        self.add_port_as(cfg, cfg.ofport)
    }

    fn add_port_as(&mut self, cfg: &PortConfig, want: Option<PortNo>) -> Result<PortNo> {
        let tunnel = crate::port_type::tunnel_config(cfg).transpose()?;
        let port = open_port(cfg, &self.state_dir)
            .with_context(|| format!("opening port {}", cfg.name))?;
        let no = self
            .dpif
            .add_port(port.clone(), want)
            .with_context(|| format!("adding port {}", cfg.name))?;
        if let Some(t) = tunnel {
            self.tunnels.add_tunnel(&self.name, no, &cfg.name, t);
        }
        self.ports.insert(cfg.name.clone(), no);
        self.ofbridge.port_added(no, port);
        // A port whose QoS no longer fits it (a slower link) runs without.
        if let Err(e) = self.apply_qos(no, cfg.qos.as_ref(), cfg.ingress_policing.as_ref()) {
            tracing::error!(bridge = %self.name, port = %cfg.name, "QoS not applied: {e}");
        }
        tracing::info!(bridge = %self.name, port = %cfg.name, port_no = no, kind = ?cfg.kind, "port added");
        Ok(no)
    }

    /// Give port `no` the egress QoS and ingress policing the sections
    /// describe (`None`: none), both or neither.
    pub fn apply_qos(
        &self,
        no: PortNo,
        qos: Option<&crate::qos::QosSection>,
        policing: Option<&crate::qos::PolicingSection>,
    ) -> std::result::Result<(), String> {
        let qos = qos.map(|q| q.to_spec()).transpose()?;
        let policing = policing.map(|p| p.to_spec()).transpose()?;
        let old = self.dpif.qos();
        self.dpif
            .set_egress_qos(no, qos)
            .map_err(|e| e.to_string())?;
        if let Err(e) = self.dpif.set_ingress_policing(no, policing) {
            let back = old.egress(no).map(|e| e.spec.clone());
            let _ = self.dpif.set_egress_qos(no, back);
            return Err(e.to_string());
        }
        Ok(())
    }

    /// Install `mirrors` (checked by the config), by the running ports'
    /// numbers; a mirror whose port is not running is left out, logged.
    pub fn set_mirrors(&self, mirrors: &[crate::mirror::MirrorConfig]) {
        let running = mirrors
            .iter()
            .filter_map(|m| {
                let r = m.resolve(&self.ports);
                if r.is_none() {
                    tracing::warn!(bridge = %self.name, mirror = %m.name, "mirror inactive: one of its ports is not running");
                }
                r
            })
            .collect();
        self.ofbridge.set_mirrors(running);
    }

    /// Detach and close a port.
    pub fn del_port(&mut self, name: &str) -> Result<()> {
        let Some(no) = self.ports.remove(name) else {
            bail!("bridge {} has no port {name}", self.name);
        };
        self.tunnels.remove_tunnel(&self.name, no);
        self.dpif.remove_port(no)?;
        self.ofbridge.port_removed(no);
        Ok(())
    }

    /// Port names and numbers.
    pub fn ports(&self) -> &BTreeMap<String, PortNo> {
        &self.ports
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Final counters in the log: what tests and operators compare.
        for (name, &no) in &self.ports {
            if let Some(s) = self.dpif.port_stats(no) {
                let custom = self
                    .dpif
                    .ports()
                    .get(no)
                    .map(|e| e.port.custom_stats())
                    .unwrap_or_default()
                    .iter()
                    .map(|(k, v)| format!(" {k}={v}"))
                    .collect::<String>();
                tracing::info!(
                    bridge = %self.name, port = %name, port_no = no,
                    rx_packets = s.rx_packets, rx_dropped = s.rx_dropped, rx_errors = s.rx_errors,
                    tx_packets = s.tx_packets, tx_dropped = s.tx_dropped, tx_errors = s.tx_errors,
                    "port stats{custom}"
                );
            }
        }
        self.tunnels.remove_bridge(&self.name);
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        self.controllers.take();
        if let Some(t) = self.revalidator.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn bridge(fail_mode: &str) -> Bridge {
        let text = format!("[[bridge]]\nname = \"t\"\nfail_mode = \"{fail_mode}\"\n");
        let cfg = Config::parse(&text, "test").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        Bridge::start(
            &cfg.bridge[0],
            rt.handle(),
            Path::new("/nonexistent"),
            &TunnelPlane::new(),
            &PmdPool::new(),
        )
        .unwrap()
    }

    #[test]
    fn a_standalone_bridge_starts_with_a_normal_table_miss_flow() {
        let b = bridge("standalone");
        let p = b.ofbridge.store.snapshot();
        let rules: Vec<_> = p.rules().collect();
        assert_eq!(rules.len(), 1);
        assert_eq!((rules[0].table_id, rules[0].priority), (0, 0));
        assert!(rules[0].matcher.is_empty());
        assert!(rules[0].outputs_to(ofproto::wire::action::port_no::NORMAL));
        // Secure bridges start empty: only the tables decide.
        assert_eq!(
            bridge("secure").ofbridge.store.snapshot().rules().count(),
            0
        );
    }
}

//! An OpenFlow bridge: the pipeline, its ports, NORMAL's MAC learning, and
//! the datapath below, tied together.
//!
//! [`OfBridge`] is the datapath's [`UpcallHandler`]: a missed packet is
//! translated through the current pipeline snapshot (`xlate`) and installed
//! as a megaflow that carries an [`XlateCache`] (the rules and buckets it
//! hit, the pipeline version it was made under). The revalidator
//! ([`revalidate`]) walks those megaflows periodically to push their traffic
//! into rule counters and to re-translate the ones made under an older
//! pipeline version. A `Userspace` action fired by the datapath becomes a
//! PACKET_IN for the controllers.
//!
//! In fail-mode standalone with no controller connected, the bridge acts as
//! a learning switch (every packet goes to NORMAL), as Open vSwitch does;
//! in secure mode it keeps following the flow tables.
//!
//! Every change to the tables, groups and meters goes through
//! [`OfBridge::commit`] ([`change`]), whichever side asks for it.

pub mod change;
pub mod handler;
mod queues;
pub mod revalidate;

use crate::flow_sample::CollectorSets;
use crate::intern::Interner;
use crate::ipfix::{Ipfix, IpfixConfig};
use crate::mac_learning::{is_multicast, Learned, MacTable};
use crate::mirror::{self, Mirror};
use crate::pipeline::group::Group;
use crate::pipeline::rule::Rule;
use crate::pipeline::PipelineStore;
use crate::sflow::{IfCounters, Sflow, SflowConfig};
use crate::wire::action::port_no as ofp;
use crate::wire::message::Message;
use crate::wire::oxm::{Match, OxmField};
use crate::wire::packet::{PacketIn, PacketInReason};
use crate::wire::port::{port_config, port_state, PortDesc, PortReason, PortStatus};
use crate::xlate::{self, ControllerCtx, PortView, XlateEnv, LOCAL_DP_PORT};
use arc_swap::ArcSwap;
use datapath::actions::Action as Dp;
use datapath::dpif::Dpif;
use datapath::flow::key::{VLAN_CFI, VLAN_VID_MASK};
use datapath::flow::FlowKey;
use datapath::netdev::Port;
use datapath::packet::Packet;
use datapath::tunnel::TlvMap;
use datapath::upcall::{UpcallHandler, UpcallReply};
use datapath::PortNo;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

/// What a bridge does with no controller connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    Standalone,
    Secure,
}

/// A bridge port as the OpenFlow layer knows it.
#[derive(Debug, Clone)]
pub struct BridgePort {
    pub port_no: PortNo,
    pub name: String,
    pub port: Arc<dyn Port>,
    /// `OFPPC_*` bits set by PORT_MOD.
    pub config: u32,
    /// Link state last reported in a PORT_STATUS.
    pub link_up: bool,
    pub added: Instant,
}

impl BridgePort {
    /// OpenFlow's number for the port (LOCAL for the internal port).
    pub fn of_port(&self) -> u32 {
        dp_to_of(self.port_no)
    }

    pub fn desc(&self) -> PortDesc {
        let mut state = 0;
        if !self.link_up {
            state |= port_state::LINK_DOWN;
        } else if self.config & port_config::PORT_DOWN == 0 {
            state |= port_state::LIVE;
        }
        PortDesc {
            port_no: self.of_port(),
            hw_addr: self.port.mac().unwrap_or_default(),
            name: self.name.clone(),
            config: self.config,
            state,
            curr: features(self.port.link_speed()),
            advertised: 0,
            supported: 0,
            peer: 0,
            curr_speed: self
                .port
                .link_speed()
                .map_or(VIRTUAL_KBPS, |s| s.mbps.saturating_mul(1000)),
            max_speed: 0,
        }
    }
}

/// What a port with no driver to ask (vhost-user) reports: 10 Gb/s full
/// duplex, no medium, as Open vSwitch reports its DPDK vhost-user ports.
const VIRTUAL_KBPS: u32 = 10_000_000;

/// `ofp_port_features` for a link: the speed's bit (OTHER for speeds
/// OpenFlow has no bit for, or half-duplex above 1 Gb/s) and the medium.
fn features(speed: Option<datapath::netdev::ethtool::LinkSpeed>) -> u32 {
    use crate::wire::port::port_features as f;
    use datapath::netdev::ethtool::Medium;
    let Some(s) = speed else {
        return f::F_10GB_FD;
    };
    let rate = match (s.mbps, s.full_duplex) {
        (10, false) => f::F_10MB_HD,
        (10, true) => f::F_10MB_FD,
        (100, false) => f::F_100MB_HD,
        (100, true) => f::F_100MB_FD,
        (1000, false) => f::F_1GB_HD,
        (1000, true) => f::F_1GB_FD,
        (10_000, true) => f::F_10GB_FD,
        (40_000, true) => f::F_40GB_FD,
        (100_000, true) => f::F_100GB_FD,
        (1_000_000, true) => f::F_1TB_FD,
        _ => f::OTHER,
    };
    rate | match s.medium {
        Medium::Copper => f::COPPER,
        Medium::Fiber => f::FIBER,
        Medium::Other => 0,
    }
}

/// OpenFlow port number of a datapath port.
pub fn dp_to_of(p: PortNo) -> u32 {
    if p == LOCAL_DP_PORT {
        ofp::LOCAL
    } else {
        p
    }
}

/// Datapath port number of an OpenFlow port (LOCAL maps to port 0).
pub fn of_to_dp(p: u32) -> Option<PortNo> {
    match p {
        ofp::LOCAL => Some(LOCAL_DP_PORT),
        1..=ofp::MAX => Some(p),
        _ => None,
    }
}

/// What a megaflow remembers of its translation.
#[derive(Debug)]
pub struct XlateCache {
    pub version: AtomicU64,
    pub rules: Vec<Arc<Rule>>,
    pub buckets: Vec<(Arc<Group>, usize)>,
    pub tables: Vec<(u8, bool)>,
    /// Counters already credited to the rules.
    pub credited_packets: AtomicU64,
    pub credited_bytes: AtomicU64,
    /// Made by the fail-open learning switch rather than the tables.
    pub fail_open: bool,
    /// Not to be cached: every packet must be translated (neighbour
    /// snooping and resolution for tunnels).
    pub slow: bool,
    /// Mirrors that copied the packet (their counters get its traffic).
    pub mirrors: Vec<Arc<Mirror>>,
}

/// Sends asynchronous messages (packet-in, port-status, flow-removed) to
/// the controllers; installed by whoever owns the connections.
pub type AsyncSink = Box<dyn Fn(Message) + Send + Sync>;

/// Counters of the bridge.
#[derive(Debug, Default)]
pub struct BridgeCounters {
    pub upcalls: AtomicU64,
    pub packet_ins: AtomicU64,
    pub packet_ins_suppressed: AtomicU64,
    pub packet_outs: AtomicU64,
    pub flow_mods: AtomicU64,
    pub errors_sent: AtomicU64,
    pub revalidated: AtomicU64,
    pub megaflows_deleted: AtomicU64,
}

/// An OpenFlow bridge.
pub struct OfBridge {
    pub name: String,
    pub dpid: u64,
    pub fail_mode: FailMode,
    pub store: PipelineStore,
    ports: ArcSwap<Vec<BridgePort>>,
    views: ArcSwap<Vec<PortView>>,
    macs: Mutex<MacTable>,
    dpif: OnceLock<Weak<Dpif>>,
    async_sink: OnceLock<AsyncSink>,
    change_path: OnceLock<Box<dyn change::ChangePath>>,
    /// The switch's tunnelling state, when it has one.
    tunnels: OnceLock<Arc<crate::tunnel::TunnelPlane>>,
    /// Port mirrors ([`crate::mirror`]), replaced as a whole.
    mirrors: ArcSwap<Vec<Arc<Mirror>>>,
    /// The sFlow agent ([`crate::sflow`]), when configured.
    sflow: arc_swap::ArcSwapOption<Sflow>,
    /// The IPFIX exporter ([`crate::ipfix`]), when configured.
    ipfix: arc_swap::ArcSwapOption<Ipfix>,
    controller_connected: AtomicBool,
    /// Packet-in contexts; userdata = number.
    ctl_ctx: Interner<ControllerCtx>,
    /// Translation states frozen at recirculations; id = number + 1.
    frozen: Interner<xlate::Frozen>,
    /// Collector sets for the `sample` action ([`crate::flow_sample`]).
    pub collector_sets: CollectorSets,
    /// SET_CONFIG: flags and miss_send_len.
    pub switch_config: Mutex<(u16, u16)>,
    pub counters: BridgeCounters,
    pub started: Instant,
}

impl std::fmt::Debug for OfBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfBridge")
            .field("name", &self.name)
            .field("dpid", &format_args!("{:016x}", self.dpid))
            .field("fail_mode", &self.fail_mode)
            .finish()
    }
}

impl OfBridge {
    pub fn new(name: &str, dpid: u64, fail_mode: FailMode, macs: MacTable) -> Arc<OfBridge> {
        Arc::new(OfBridge {
            name: name.to_string(),
            dpid,
            fail_mode,
            store: PipelineStore::default(),
            ports: ArcSwap::from_pointee(Vec::new()),
            views: ArcSwap::from_pointee(Vec::new()),
            macs: Mutex::new(macs),
            dpif: OnceLock::new(),
            async_sink: OnceLock::new(),
            change_path: OnceLock::new(),
            tunnels: OnceLock::new(),
            mirrors: ArcSwap::from_pointee(Vec::new()),
            sflow: arc_swap::ArcSwapOption::empty(),
            ipfix: arc_swap::ArcSwapOption::empty(),
            controller_connected: AtomicBool::new(false),
            ctl_ctx: Interner::new(MAX_CONTROLLER_CTX),
            frozen: Interner::new(MAX_FROZEN),
            collector_sets: CollectorSets::default(),
            switch_config: Mutex::new((0, 128)),
            counters: BridgeCounters::default(),
            started: Instant::now(),
        })
    }

    /// Replace the bridge's mirrors; cached megaflows are retranslated.
    pub fn set_mirrors(&self, mirrors: Vec<Arc<Mirror>>) {
        self.mirrors.store(Arc::new(mirrors));
        self.invalidate_all();
    }

    /// The bridge's mirrors, with their counters.
    pub fn mirrors(&self) -> Arc<Vec<Arc<Mirror>>> {
        self.mirrors.load_full()
    }

    /// Start (or replace, or with `None` stop) the bridge's sFlow agent;
    /// cached megaflows are retranslated with (or without) sampling.
    pub fn set_sflow(&self, config: Option<SflowConfig>) -> std::io::Result<()> {
        let agent = match config {
            Some(c) => {
                let dpif = self.dpif.get().cloned().unwrap_or_default();
                let ports: crate::sflow::PortSource = Box::new(move || {
                    let Some(d) = dpif.upgrade() else {
                        return Vec::new();
                    };
                    d.ports()
                        .iter()
                        .map(|e| IfCounters {
                            if_index: crate::sflow::if_index(e.port_no),
                            speed_bps: e
                                .port
                                .link_speed()
                                .map_or(10_000_000_000, |s| u64::from(s.mbps) * 1_000_000),
                            up: e.port.link_up(),
                            stats: d.port_stats(e.port_no).unwrap_or_default(),
                        })
                        .collect()
                });
                Some(Arc::new(Sflow::start(c, ports)?))
            }
            None => None,
        };
        self.sflow.store(agent);
        self.invalidate_all();
        Ok(())
    }

    /// Start (or replace, or with `None` stop) the bridge's IPFIX
    /// exporter; cached megaflows are retranslated.
    pub fn set_ipfix(&self, config: Option<IpfixConfig>) -> std::io::Result<()> {
        let exporter = config.map(Ipfix::start).transpose()?.map(Arc::new);
        self.ipfix.store(exporter);
        self.invalidate_all();
        Ok(())
    }

    /// The running IPFIX exporter and its counters.
    pub fn ipfix(&self) -> Option<Arc<Ipfix>> {
        self.ipfix.load_full()
    }

    /// The running sFlow agent and its counters.
    pub fn sflow(&self) -> Option<Arc<Sflow>> {
        self.sflow.load_full()
    }

    /// Connect the bridge to its datapath (once).
    pub fn attach(&self, dpif: &Arc<Dpif>) {
        let _ = self.dpif.set(Arc::downgrade(dpif));
    }

    /// Join the switch's tunnelling state (once): tunnel ports, and this
    /// bridge as an underlay ([`crate::tunnel`]).
    pub fn set_tunnels(&self, plane: Arc<crate::tunnel::TunnelPlane>) {
        let _ = self.tunnels.set(plane);
    }

    pub fn tunnels(&self) -> Option<&Arc<crate::tunnel::TunnelPlane>> {
        self.tunnels.get()
    }

    pub fn dpif(&self) -> Option<Arc<Dpif>> {
        self.dpif.get().and_then(Weak::upgrade)
    }

    /// Where asynchronous messages go (once).
    pub fn set_async_sink(&self, sink: AsyncSink) {
        let _ = self.async_sink.set(sink);
    }

    fn send_async(&self, msg: Message) {
        if let Some(s) = self.async_sink.get() {
            s(msg);
        }
    }

    /// Whether any controller is connected (drives fail-open behaviour).
    pub fn set_controller_connected(&self, connected: bool) {
        if self.controller_connected.swap(connected, Ordering::AcqRel) != connected {
            tracing::info!(bridge = %self.name, connected, "controller connection changed");
            // Only a standalone bridge decides differently with and without
            // a controller; a secure one keeps its megaflows (and so does
            // not pay upcalls each time a client like ovs-ofctl connects).
            if self.fail_mode == FailMode::Standalone {
                self.invalidate_all();
            }
        }
    }

    fn fail_open(&self) -> bool {
        self.fail_mode == FailMode::Standalone && !self.controller_connected.load(Ordering::Acquire)
    }

    /// The bridge's ports.
    pub fn ports(&self) -> Arc<Vec<BridgePort>> {
        self.ports.load_full()
    }

    fn publish_ports(&self, ports: Vec<BridgePort>) {
        let views = ports
            .iter()
            .map(|p| PortView {
                port_no: p.port_no,
                live: p.link_up && p.config & port_config::PORT_DOWN == 0,
                no_fwd: p.config & (port_config::NO_FWD | port_config::PORT_DOWN) != 0,
                no_flood: p.config & (1 << 4) != 0,
            })
            .collect();
        self.ports.store(Arc::new(ports));
        self.views.store(Arc::new(views));
    }

    /// A port was added to the datapath as `port_no`.
    pub fn port_added(&self, port_no: PortNo, port: Arc<dyn Port>) {
        let mut ports = (*self.ports.load_full()).clone();
        ports.retain(|p| p.port_no != port_no);
        let bp = BridgePort {
            port_no,
            name: port.name().to_string(),
            link_up: port.link_up(),
            port,
            config: 0,
            added: Instant::now(),
        };
        let desc = bp.desc();
        ports.push(bp);
        ports.sort_by_key(|p| p.port_no);
        self.publish_ports(ports);
        self.send_async(Message::PortStatus(PortStatus {
            reason: PortReason::Add,
            desc,
        }));
        self.invalidate_all();
    }

    /// A port left the datapath.
    pub fn port_removed(&self, port_no: PortNo) {
        let mut ports = (*self.ports.load_full()).clone();
        let Some(i) = ports.iter().position(|p| p.port_no == port_no) else {
            return;
        };
        let gone = ports.remove(i);
        self.publish_ports(ports);
        if let Ok(mut m) = self.macs.lock() {
            m.flush_port(port_no);
        }
        self.send_async(Message::PortStatus(PortStatus {
            reason: PortReason::Delete,
            desc: gone.desc(),
        }));
        self.invalidate_all();
    }

    /// PORT_MOD: change `OFPPC_*` bits under `mask`.
    pub fn port_mod(&self, port_no: PortNo, config: u32, mask: u32) -> bool {
        let mut ports = (*self.ports.load_full()).clone();
        let Some(p) = ports.iter_mut().find(|p| p.port_no == port_no) else {
            return false;
        };
        p.config = (p.config & !mask) | (config & mask);
        let desc = p.desc();
        self.publish_ports(ports);
        self.send_async(Message::PortStatus(PortStatus {
            reason: PortReason::Modify,
            desc,
        }));
        self.invalidate_all();
        true
    }

    /// Poll link states; report changes (called by the revalidator).
    pub fn poll_links(&self) {
        let cur = self.ports.load_full();
        if cur.iter().all(|p| p.port.link_up() == p.link_up) {
            return;
        }
        let mut ports = (*cur).clone();
        let mut changed = Vec::new();
        for p in ports.iter_mut() {
            let up = p.port.link_up();
            if up != p.link_up {
                p.link_up = up;
                changed.push(p.desc());
            }
        }
        self.publish_ports(ports);
        for desc in changed {
            self.send_async(Message::PortStatus(PortStatus {
                reason: PortReason::Modify,
                desc,
            }));
        }
        self.invalidate_all();
    }

    /// Drop every cached megaflow (the decisions of NORMAL or fail-open
    /// changed wholesale).
    pub fn invalidate_all(&self) {
        if let Some(d) = self.dpif() {
            // Rule counters would lose what the megaflows counted since the
            // last revalidator pass.
            self.credit_all();
            d.flush_flows();
        }
    }

    /// NORMAL: learn the source, pick the outputs.
    fn normal(&self, key: &FlowKey, wc: &mut FlowKey) -> Vec<PortNo> {
        xlate::normal_mask(wc);
        let vlan = if key.vlan_tci & VLAN_CFI != 0 {
            key.vlan_tci & VLAN_VID_MASK
        } else {
            0
        };
        let now = Instant::now();
        let (learned, dst) = match self.macs.lock() {
            Ok(mut m) => {
                let (learned, evicted) = m.learn(vlan, key.eth_src, key.in_port, now);
                let dst = (!is_multicast(&key.eth_dst))
                    .then(|| m.lookup(vlan, &key.eth_dst, now))
                    .flatten();
                (learned.map(|l| (l, evicted)), dst)
            }
            Err(_) => (None, None),
        };
        if let Some((l, evicted)) = learned {
            if matches!(l, Learned::New | Learned::Moved { .. }) {
                self.invalidate_destination(vlan, key.eth_src);
            }
            if let Some((v, mac)) = evicted {
                self.invalidate_destination(v, mac);
            }
        }
        match dst {
            Some(p) if p == key.in_port => Vec::new(),
            Some(p) => vec![p],
            None => {
                let mirrors = self.mirrors.load();
                self.views
                    .load()
                    .iter()
                    .filter(|v| v.port_no != key.in_port && !v.no_fwd && !v.no_flood)
                    .filter(|v| !mirror::is_output_port(&mirrors, v.port_no))
                    .map(|v| v.port_no)
                    .collect()
            }
        }
    }

    fn invalidate_destination(&self, vlan: u16, mac: [u8; 6]) {
        if let Some(d) = self.dpif() {
            d.delete_flows_where(|k, m, _| {
                m.eth_dst == [0xff; 6] && k.eth_dst == mac && (k.vlan_tci & 0x0fff) == vlan
            });
        }
    }

    /// MAC learning entries: (vlan, mac, port, age seconds).
    pub fn mac_entries(&self) -> Vec<(u16, [u8; 6], PortNo, u64)> {
        let now = Instant::now();
        self.macs
            .lock()
            .map(|m| {
                m.entries(now)
                    .into_iter()
                    .map(|(v, mac, p, age)| (v, mac, p, age.as_secs()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Translate a packet; returns the translation and its cache.
    pub fn translate(&self, key: &FlowKey) -> (Vec<Dp>, FlowKey, XlateCache) {
        let snapshot = self.store.snapshot();
        let version = snapshot.version;
        let env = Env::new(self, snapshot.tlv.clone());
        let base = FlowKey {
            in_port: u32::MAX,
            recirc_id: u32::MAX,
            ..Default::default()
        };
        // A packet from a tunnel link enters as from LOCAL or is popped.
        let mut key = *key;
        let mut wc = base;
        if let Some(t) = env.tunnels {
            if let Some(actions) = t.ingress(&self.name, &snapshot.tlv, &mut key, &mut wc) {
                return (actions, wc, XlateCache::empty(version, false));
            }
        }
        let key = &key;
        let in_cfg = self
            .ports
            .load()
            .iter()
            .find(|p| p.port_no == key.in_port)
            .map(|p| p.config)
            .unwrap_or(0);
        let mirrors = self.mirrors.load();
        if in_cfg & (port_config::NO_RECV | port_config::PORT_DOWN) != 0
            || mirror::is_output_port(&mirrors, key.in_port)
        {
            return (Vec::new(), base, XlateCache::empty(version, false));
        }
        if self.fail_open() {
            let mut actions = Vec::new();
            for p in self.normal(key, &mut wc) {
                xlate::emit_output(&env, p, key, &mut wc, &mut actions);
            }
            let mut cache = XlateCache::empty(version, true);
            cache.mirrors = self.mirror(&env, &mirrors, key, &mut wc, &mut actions);
            self.sample(&mut actions);
            cache.slow = env.verdict.get().slow;
            return (actions, wc, cache);
        }
        let mut x = xlate::translate(&snapshot, &env, key, 0);
        let mirrored = self.mirror(&env, &mirrors, key, &mut wc, &mut x.actions);
        self.sample(&mut x.actions);
        x.mask = x.mask.union(&wc);
        let cache = XlateCache {
            version: AtomicU64::new(snapshot.version),
            rules: x.rules,
            buckets: x.buckets,
            tables: x.lookups,
            credited_packets: AtomicU64::new(0),
            credited_bytes: AtomicU64::new(0),
            fail_open: false,
            slow: env.verdict.get().slow,
            mirrors: mirrored,
        };
        (x.actions, x.mask, cache)
    }

    /// The samplers' actions in front of a translation, after mirroring
    /// (the outputs they report are the packet's own, not mirror copies,
    /// which sit inside clones).
    fn sample(&self, actions: &mut Vec<Dp>) {
        if let Some(s) = self.sflow.load().as_ref() {
            crate::sflow::apply(&s.config, actions);
        }
        if let Some(i) = self.ipfix.load().as_ref() {
            crate::ipfix::apply(&i.config, actions);
        }
    }

    /// The last step of translation: the mirrors' copies.
    fn mirror(
        &self,
        env: &Env,
        mirrors: &[Arc<Mirror>],
        key: &FlowKey,
        wc: &mut FlowKey,
        actions: &mut Vec<Dp>,
    ) -> Vec<Arc<Mirror>> {
        if mirrors.is_empty() {
            return Vec::new();
        }
        let ports: Vec<PortNo> = (self.views.load().iter())
            .filter(|v| v.live && !v.no_fwd && !v.no_flood)
            .map(|v| v.port_no)
            .collect();
        let mut output =
            |p, wc: &mut FlowKey, out: &mut Vec<Dp>| xlate::emit_output(env, p, key, wc, out);
        mirror::apply(mirrors, key, wc, actions, &ports, &mut output)
    }

    /// The interned controller context behind a userdata value.
    fn controller_ctx(&self, userdata: u64) -> Option<ControllerCtx> {
        self.ctl_ctx.get(usize::try_from(userdata).ok()?)
    }
}

impl XlateCache {
    fn empty(version: u64, fail_open: bool) -> Self {
        XlateCache {
            version: AtomicU64::new(version),
            rules: Vec::new(),
            buckets: Vec::new(),
            tables: Vec::new(),
            credited_packets: AtomicU64::new(0),
            credited_bytes: AtomicU64::new(0),
            fail_open,
            slow: false,
            mirrors: Vec::new(),
        }
    }
}

/// The bridge as the translator sees it.
struct Env<'a> {
    bridge: &'a OfBridge,
    views: Arc<Vec<PortView>>,
    tunnels: Option<&'a crate::tunnel::TunnelPlane>,
    verdict: std::cell::Cell<crate::tunnel::Verdict>,
    /// The TLV map of the pipeline version being translated.
    tlv: Arc<TlvMap>,
}

impl<'a> Env<'a> {
    fn new(bridge: &'a OfBridge, tlv: Arc<TlvMap>) -> Self {
        Env {
            bridge,
            views: bridge.views.load_full(),
            tunnels: bridge.tunnels.get().map(|t| &**t),
            verdict: Default::default(),
            tlv,
        }
    }
}

impl XlateEnv for Env<'_> {
    fn ports(&self) -> &[PortView] {
        &self.views
    }
    fn normal(&self, key: &FlowKey, wc: &mut FlowKey) -> Vec<PortNo> {
        self.bridge.normal(key, wc)
    }
    fn controller_userdata(&self, ctx: ControllerCtx) -> u64 {
        // Past the cap, a userdata that names no context (and has none of
        // the samplers' bits): the packet-in is lost rather than sent
        // with another rule's cookie.
        self.bridge
            .ctl_ctx
            .intern(&ctx)
            .map_or(MAX_CONTROLLER_CTX as u64, |i| i as u64)
    }
    fn flow_sample_userdata(&self, sample: xlate::FlowSample) -> Option<u64> {
        self.bridge.collector_sets.userdata(sample)
    }
    fn freeze(&self, state: xlate::Frozen) -> Option<u32> {
        // Past the cap, translation goes on without recirculating.
        self.bridge.frozen.intern(&state).map(|i| i as u32 + 1)
    }
    fn thaw(&self, id: u32) -> Option<xlate::Frozen> {
        self.bridge.frozen.get((id as usize).checked_sub(1)?)
    }
    fn special_output(
        &self,
        port: PortNo,
        key: &FlowKey,
        wc: &mut FlowKey,
        out: &mut Vec<Dp>,
    ) -> bool {
        let Some(t) = self.tunnels else {
            return false;
        };
        let mut v = self.verdict.get();
        let special = t.output(&self.bridge.name, &self.tlv, port, key, wc, out, &mut v);
        self.verdict.set(v);
        special
    }
}

/// Most translation states kept for recirculation.
const MAX_FROZEN: usize = 1 << 16;
/// Most packet-in contexts (reason, table, cookie, ...) kept.
const MAX_CONTROLLER_CTX: usize = 1 << 20;

impl UpcallHandler for OfBridge {
    fn miss(&self, _packet: &Packet, key: &FlowKey) -> Option<UpcallReply> {
        self.counters.upcalls.fetch_add(1, Ordering::Relaxed);
        let (actions, mask, cache) = self.translate(key);
        Some(UpcallReply {
            actions: Arc::from(actions),
            mask,
            install: !cache.slow,
            owner: Some(Arc::new(cache)),
        })
    }

    fn action(&self, packet: &Packet, key: &FlowKey, userdata: u64) {
        if self.collector_sets.sample(packet, key, userdata) {
            return;
        }
        if userdata & crate::ipfix::IPFIX_USERDATA != 0 {
            if let Some(i) = self.ipfix.load().as_ref() {
                i.sample(packet, key, userdata);
            }
            return;
        }
        if userdata & crate::sflow::SFLOW_USERDATA != 0 {
            if let Some(s) = self.sflow.load().as_ref() {
                s.sample(packet, key.in_port, userdata);
            }
            return;
        }
        let Some(ctx) = self.controller_ctx(userdata) else {
            return;
        };
        let no_packet_in = self
            .ports
            .load()
            .iter()
            .any(|p| p.port_no == key.in_port && p.config & port_config::NO_PACKET_IN != 0);
        if no_packet_in {
            self.counters
                .packet_ins_suppressed
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.counters.packet_ins.fetch_add(1, Ordering::Relaxed);
        let data = packet.data();
        let keep = if ctx.max_len == crate::wire::action::OFPCML_NO_BUFFER {
            data.len()
        } else {
            data.len().min(ctx.max_len as usize)
        };
        let mut m = Match::new().with(OxmField::InPort(dp_to_of(key.in_port)));
        for f in xlate::packet_in_fields(key, ctx.metadata) {
            m.insert(f);
        }
        self.send_async(Message::PacketIn(PacketIn {
            buffer_id: crate::wire::flow_mod::OFP_NO_BUFFER,
            total_len: data.len().min(u16::MAX as usize) as u16,
            reason: PacketInReason::from(ctx.reason),
            table_id: ctx.table_id,
            cookie: ctx.cookie,
            r#match: m,
            data: data[..keep].to_vec(),
        }));
    }
}

#[cfg(test)]
mod tests;

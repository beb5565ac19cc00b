//! Native tunnelling on the control side: tunnel ports, the underlay's
//! route table and neighbour cache, and the links that carry packets
//! between a tenant bridge and its underlay bridge.
//!
//! The set-up is Open vSwitch's: a tenant ("overlay") bridge has tunnel
//! ports (`type=vxlan|geneve|gre`); an underlay bridge has the uplink NIC
//! and a LOCAL port that holds the tunnel endpoint address. The datapath
//! only pushes and pops bytes (`datapath::tunnel`); everything else is
//! decided here, at translation time, through two seams of the
//! translator ([`TunnelPlane::ingress`] and [`TunnelPlane::output`]):
//!
//! * **Encapsulation.** Output to a tunnel port resolves the far endpoint
//!   (`remote_ip`, or the flow's `tun_dst`), the route to it (which must go
//!   out of a bridge's LOCAL port, as in Open vSwitch), the source address
//!   and the next hop's MAC, builds the outer header once and emits
//!   `TunnelPush` onto the *link* to that underlay bridge. The underlay
//!   bridge receives the packet as if its LOCAL port had sent it, so its
//!   flow tables (or NORMAL) carry it to the uplink. A missing neighbour
//!   sends an ARP request / neighbour solicitation through the same link
//!   and drops the packet, without caching that drop.
//! * **Termination.** When an underlay bridge outputs to its LOCAL port a
//!   tunnel packet for one of LOCAL's addresses (UDP to a tunnel's port,
//!   or GRE), it goes down the link to the overlay bridge that has a
//!   matching tunnel port instead. ARP and neighbour advertisements on the
//!   way to LOCAL are snooped into the neighbour cache.
//! * **Decapsulation.** A packet arriving in the overlay bridge from a
//!   link is matched to a tunnel port (kind, UDP port, remote address)
//!   and translated to `TunnelPop`: the datapath strips the outer headers
//!   and recirculates the inner frame as received on the tunnel port,
//!   with the tunnel metadata in the flow key. A port with a fixed `key`
//!   drops other VNIs.
//!
//! A link is a pair of `datapath::netdev::link` ports, one end in each
//! bridge's datapath (both ends in the same datapath when a bridge is its
//! own underlay), numbered from the top of the port space so they never
//! take an OpenFlow port number. The plane makes one per (bridge with
//! tunnel ports, bridge with a LOCAL port) pair.
//!
//! Routes, neighbours and the LOCAL interfaces' addresses are baked into
//! cached megaflows, so any change of them bumps [`TunnelPlane::generation`]
//! and every bridge's revalidator then drops its megaflows. Every packet
//! translation drops is counted by reason ([`TunnelPlane::counters`]).

mod config;
mod neigh;
mod route;

pub use config::{
    default_dst_port, kind_name, kind_of_port_type, FromFlow, Inherit, TunnelConfig, OPTIONS,
};
pub use neigh::{
    arp_request, neighbour_solicitation, Learnt, NeighbourCache, NeighbourEntry, NEIGH_IDLE,
};
pub use route::{kernel_routes, network, parse_prefix, Origin, Route, RouteTable};

use crate::xlate::LOCAL_DP_PORT;
use datapath::actions::Action as Dp;
use datapath::dpif::Dpif;
use datapath::flow::FlowKey;
use datapath::netdev::addr::{interface_info, InterfaceInfo};
use datapath::netdev::link::LinkPort;
use datapath::packet::Packet;
use datapath::tunnel::{Encap, OuterIp, TunnelHeader, TunnelKind, TunnelSpec, TUN_PRESENT};
use datapath::PortNo;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

const ETH_ARP: u16 = 0x0806;
const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_GRE: u8 = 47;
const IPPROTO_ICMPV6: u8 = 58;
const ND_NEIGHBOR_ADVERT: u16 = 136;

/// How often the kernel's routes and the LOCAL interfaces are re-read.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Why translation dropped a tunnel packet.
#[derive(Debug, Default)]
pub struct TunnelCounters {
    /// `remote_ip=flow` and the flow has no `tun_dst`.
    pub no_remote: AtomicU64,
    /// No route to the far endpoint.
    pub no_route: AtomicU64,
    /// The route goes out of something that is not a bridge's LOCAL port.
    pub route_not_a_bridge: AtomicU64,
    /// No source address on the underlay of the route's family.
    pub no_source: AtomicU64,
    /// The next hop's MAC is not known yet (a request was or is being sent).
    pub neighbour_miss: AtomicU64,
    pub requests_sent: AtomicU64,
    /// The outer header could not be built (e.g. a VNI over 24 bits).
    pub bad_header: AtomicU64,
    /// A tunnel packet for this bridge matched none of its tunnel ports.
    pub no_tunnel_port: AtomicU64,
    /// The VNI / key is not the receiving port's fixed key.
    pub unknown_key: AtomicU64,
    pub neighbours_learnt: AtomicU64,
}

/// A tunnel port of a bridge.
#[derive(Debug, Clone)]
struct TunnelPort {
    name: String,
    config: Arc<TunnelConfig>,
}

/// A link end's number in a bridge's datapath and the end itself.
#[derive(Debug, Clone)]
struct LinkEnd {
    port: PortNo,
    end: Arc<LinkPort>,
}

/// What the plane knows of one bridge.
#[derive(Debug, Default)]
struct BridgeState {
    dpif: Weak<Dpif>,
    /// The bridge has a LOCAL port (so it can be an underlay).
    local: bool,
    tunnels: BTreeMap<PortNo, TunnelPort>,
    /// As an overlay: the link to each underlay bridge, by its name.
    uplinks: HashMap<String, LinkEnd>,
    /// As an underlay: the link to each overlay bridge, by its name.
    downlinks: HashMap<String, LinkEnd>,
}

/// What the seams tell translation besides actions.
#[derive(Debug, Default, Clone, Copy)]
pub struct Verdict {
    /// Do not cache the result (neighbour snooping and resolution must
    /// see every packet).
    pub slow: bool,
}

/// The shared tunnelling state of one switchd.
#[derive(Debug, Default)]
pub struct TunnelPlane {
    bridges: RwLock<HashMap<String, BridgeState>>,
    routes: RwLock<RouteTable>,
    neighbours: Mutex<NeighbourCache>,
    /// Each underlay bridge's LOCAL interface as the kernel reports it.
    locals: RwLock<HashMap<String, InterfaceInfo>>,
    last_refresh: Mutex<Option<Instant>>,
    /// Serialises link reconciliation.
    reconciling: Mutex<()>,
    generation: AtomicU64,
    pub counters: TunnelCounters,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

impl TunnelPlane {
    pub fn new() -> Arc<TunnelPlane> {
        let p = TunnelPlane::default();
        write(&p.routes).set_kernel(kernel_routes());
        Arc::new(p)
    }

    /// Bumped whenever something cached megaflows depend on changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Relaxed);
    }

    /// A bridge came up (`local`: it has a LOCAL port).
    pub fn add_bridge(&self, name: &str, dpif: &Arc<Dpif>, local: bool) {
        write(&self.bridges).insert(
            name.to_string(),
            BridgeState {
                dpif: Arc::downgrade(dpif),
                local,
                ..Default::default()
            },
        );
        self.reconcile_links();
    }

    /// A bridge went away: its tunnels and every link touching it go too.
    pub fn remove_bridge(&self, name: &str) {
        // Its own datapath goes with it; the far ends of its links are
        // removed from the other bridges' datapaths by the reconciliation.
        if let Some(b) = write(&self.bridges).get_mut(name) {
            b.tunnels.clear();
            b.local = false;
        }
        self.reconcile_links();
        write(&self.bridges).remove(name);
        write(&self.locals).remove(name);
        self.changed();
    }

    /// A tunnel port `port` of bridge `bridge`.
    pub fn add_tunnel(&self, bridge: &str, port: PortNo, name: &str, config: TunnelConfig) {
        if let Some(b) = write(&self.bridges).get_mut(bridge) {
            b.tunnels.insert(
                port,
                TunnelPort {
                    name: name.to_string(),
                    config: Arc::new(config),
                },
            );
        }
        self.reconcile_links();
        self.changed();
    }

    /// Port `port` of `bridge` is going; nothing happens unless it is a
    /// tunnel port.
    pub fn remove_tunnel(&self, bridge: &str, port: PortNo) {
        let removed = write(&self.bridges)
            .get_mut(bridge)
            .and_then(|b| b.tunnels.remove(&port))
            .is_some();
        if removed {
            self.reconcile_links();
            self.changed();
        }
    }

    /// The tunnel ports of every bridge: (bridge, port, name, config).
    pub fn tunnels(&self) -> Vec<(String, PortNo, String, TunnelConfig)> {
        let mut v: Vec<_> = read(&self.bridges)
            .iter()
            .flat_map(|(b, s)| {
                s.tunnels
                    .iter()
                    .map(|(p, t)| (b.clone(), *p, t.name.clone(), (*t.config).clone()))
            })
            .collect();
        v.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        v
    }

    /// Make the links match the bridges: one per (bridge with tunnels,
    /// bridge with LOCAL) pair, none otherwise. Datapath ports are added
    /// and removed without holding the bridge map (a worker translating a
    /// packet reads it, and removing a port waits for the workers).
    fn reconcile_links(&self) {
        let _one_at_a_time = lock(&self.reconciling);
        let mut stale = Vec::new();
        let mut missing = Vec::new();
        {
            let mut bridges = write(&self.bridges);
            let overlays: Vec<String> = bridges
                .iter()
                .filter(|(_, b)| !b.tunnels.is_empty())
                .map(|(n, _)| n.clone())
                .collect();
            let underlays: Vec<String> = bridges
                .iter()
                .filter(|(_, b)| b.local)
                .map(|(n, _)| n.clone())
                .collect();
            let names: Vec<String> = bridges.keys().cloned().collect();
            for o in &names {
                let gone: Vec<String> = bridges[o]
                    .uplinks
                    .keys()
                    .filter(|u| !overlays.contains(o) || !underlays.contains(u))
                    .cloned()
                    .collect();
                for u in gone {
                    if let Some(up) = bridges.get_mut(o).and_then(|b| b.uplinks.remove(&u)) {
                        stale.push((bridges[o].dpif.clone(), up.port));
                    }
                    if let Some(ub) = bridges.get_mut(&u) {
                        if let Some(down) = ub.downlinks.remove(o) {
                            stale.push((ub.dpif.clone(), down.port));
                        }
                    }
                }
            }
            for o in &overlays {
                for u in &underlays {
                    if !bridges[o].uplinks.contains_key(u) {
                        missing.push((
                            o.clone(),
                            u.clone(),
                            bridges[o].dpif.clone(),
                            bridges[u].dpif.clone(),
                        ));
                    }
                }
            }
        }
        for (dpif, port) in stale {
            if let Some(d) = dpif.upgrade() {
                let _ = d.remove_port(port);
            }
        }
        for (o, u, od, ud) in missing {
            let (Some(od), Some(ud)) = (od.upgrade(), ud.upgrade()) else {
                continue;
            };
            match add_link(&od, &ud, &o, &u) {
                Ok((up, down)) => {
                    let mut bridges = write(&self.bridges);
                    if let Some(b) = bridges.get_mut(&o) {
                        b.uplinks.insert(u.clone(), up);
                    }
                    if let Some(b) = bridges.get_mut(&u) {
                        b.downlinks.insert(o.clone(), down);
                    }
                }
                Err(e) => tracing::warn!("cannot link bridge {o} to underlay {u}: {e}"),
            }
        }
    }

    // ---- the operator's view ----

    pub fn routes(&self) -> Vec<Route> {
        read(&self.routes).all()
    }

    pub fn add_route(&self, r: Route) -> Result<(), String> {
        write(&self.routes).add(r)?;
        self.changed();
        Ok(())
    }

    pub fn del_route(&self, prefix: IpAddr, len: u8) -> bool {
        let gone = write(&self.routes).del(prefix, len);
        if gone {
            self.changed();
        }
        gone
    }

    pub fn neighbours(&self) -> Vec<NeighbourEntry> {
        lock(&self.neighbours).entries(Instant::now())
    }

    pub fn flush_neighbours(&self) {
        if lock(&self.neighbours).flush() {
            self.changed();
        }
    }

    /// Re-read the kernel's routes and the LOCAL interfaces and age the
    /// neighbour cache, at most once per [`REFRESH_INTERVAL`] however many
    /// bridges ask (each revalidator does).
    pub fn refresh_if_due(&self) {
        {
            let mut last = lock(&self.last_refresh);
            if last.is_some_and(|t| t.elapsed() < REFRESH_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        let underlays: Vec<String> = read(&self.bridges)
            .iter()
            .filter(|(_, b)| b.local)
            .map(|(n, _)| n.clone())
            .collect();
        let mut changed = write(&self.routes).set_kernel(kernel_routes());
        {
            let mut locals = write(&self.locals);
            for u in &underlays {
                // An interface the kernel does not know (yet) keeps what
                // was set for it.
                let Some(info) = interface_info(u) else {
                    continue;
                };
                if locals.get(u) != Some(&info) {
                    locals.insert(u.clone(), info);
                    changed = true;
                }
            }
        }
        changed |= lock(&self.neighbours).expire(Instant::now());
        if changed {
            self.changed();
        }
    }

    fn local_info(&self, bridge: &str) -> InterfaceInfo {
        if let Some(i) = read(&self.locals).get(bridge) {
            return i.clone();
        }
        let info = interface_info(bridge).unwrap_or_default();
        write(&self.locals).insert(bridge.to_string(), info.clone());
        info
    }

    /// Say what a bridge's LOCAL interface holds instead of asking the
    /// kernel (a LOCAL port that is not a kernel interface; tests).
    pub fn set_local_info(&self, bridge: &str, info: InterfaceInfo) {
        write(&self.locals).insert(bridge.to_string(), info);
        self.changed();
    }

    // ---- the translator's seams ----

    /// Where a packet entered bridge `bridge`: a packet from an overlay's
    /// link enters as from LOCAL (`key.in_port` rewritten); one from an
    /// underlay's link is popped (`Some` actions); one on a tunnel port
    /// with a fixed key is dropped (`Some` empty) if its VNI differs.
    pub fn ingress(&self, bridge: &str, key: &mut FlowKey, wc: &mut FlowKey) -> Option<Vec<Dp>> {
        let bridges = read(&self.bridges);
        let b = bridges.get(bridge)?;
        if b.downlinks.values().any(|l| l.port == key.in_port) {
            key.in_port = LOCAL_DP_PORT;
            return None;
        }
        if b.uplinks.values().any(|l| l.port == key.in_port) {
            let Some((port, kind)) = receiving_port(b, key, wc) else {
                tracing::debug!(bridge, "tunnel packet matches no tunnel port");
                self.counters.no_tunnel_port.fetch_add(1, Relaxed);
                return Some(Vec::new());
            };
            return Some(vec![Dp::TunnelPop { port, kind }]);
        }
        if let Some(t) = b.tunnels.get(&key.in_port) {
            if let FromFlow::Fixed(k) = t.config.key {
                wc.tun_flags |= TUN_PRESENT;
                wc.tun_id = u64::MAX;
                if key.tun_flags & TUN_PRESENT != 0 && key.tun_id != k {
                    tracing::debug!(bridge, vni = key.tun_id, "tunnel key is not the port's");
                    self.counters.unknown_key.fetch_add(1, Relaxed);
                    return Some(Vec::new());
                }
            }
        }
        None
    }

    /// Output to `port` of `bridge` when it is a tunnel port or a LOCAL
    /// port that terminates tunnels: push the actions (none: a drop) and
    /// return true; false for a plain output.
    pub fn output(
        &self,
        bridge: &str,
        port: PortNo,
        key: &FlowKey,
        wc: &mut FlowKey,
        out: &mut Vec<Dp>,
        verdict: &mut Verdict,
    ) -> bool {
        let bridges = read(&self.bridges);
        let Some(b) = bridges.get(bridge) else {
            return false;
        };
        // Only an underlay (a bridge some tenant bridge is linked to)
        // snoops and terminates: a bridge without tunnels keeps caching
        // what goes to its LOCAL port.
        if port == LOCAL_DP_PORT && b.local && !b.downlinks.is_empty() {
            self.snoop(bridge, key, wc, verdict);
            if let Some(p) = self.terminating_link(&bridges, b, bridge, key, wc) {
                out.push(Dp::Output(p));
                return true;
            }
            return false;
        }
        let Some(t) = b.tunnels.get(&port) else {
            return false;
        };
        let cfg = t.config.clone();
        let links: HashMap<String, LinkEnd> = b.uplinks.clone();
        drop(bridges);
        if let Some(a) = self.encap(&cfg, &links, key, wc, verdict) {
            out.push(a);
        }
        true
    }

    /// Learn from ARP and neighbour advertisements delivered to LOCAL.
    fn snoop(&self, bridge: &str, key: &FlowKey, wc: &mut FlowKey, verdict: &mut Verdict) {
        let learnt = if key.eth_type == ETH_ARP {
            wc.eth_type = u16::MAX;
            wc.nw_proto = u8::MAX;
            if !(key.nw_proto == 1 || key.nw_proto == 2) || key.ipv4_src == 0 {
                return;
            }
            wc.ipv4_src = u32::MAX;
            wc.arp_sha = [0xff; 6];
            (IpAddr::V4(Ipv4Addr::from(key.ipv4_src)), key.arp_sha)
        } else if key.eth_type == ETH_IPV6
            && key.nw_proto == IPPROTO_ICMPV6
            && key.tp_src == ND_NEIGHBOR_ADVERT
        {
            wc.eth_type = u16::MAX;
            wc.nw_proto = u8::MAX;
            wc.tp_src = u16::MAX;
            wc.nd_target = [0xff; 16];
            wc.arp_tha = [0xff; 6];
            if key.arp_tha == [0; 6] {
                return;
            }
            (IpAddr::V6(Ipv6Addr::from(key.nd_target)), key.arp_tha)
        } else {
            return;
        };
        verdict.slow = true;
        let (ip, mac) = learnt;
        let r = lock(&self.neighbours).learn(bridge, ip, mac, Instant::now());
        if r != Learnt::Refreshed {
            self.counters.neighbours_learnt.fetch_add(1, Relaxed);
        }
        if r == Learnt::Changed {
            self.changed();
        }
    }

    /// The link to the overlay bridge that receives this packet, if it is
    /// a tunnel packet for one of LOCAL's addresses.
    fn terminating_link(
        &self,
        bridges: &HashMap<String, BridgeState>,
        b: &BridgeState,
        bridge: &str,
        key: &FlowKey,
        wc: &mut FlowKey,
    ) -> Option<PortNo> {
        if b.downlinks.is_empty() || !matches!(key.eth_type, ETH_IPV4 | ETH_IPV6) {
            return None;
        }
        wc.eth_type = u16::MAX;
        wc.nw_proto = u8::MAX;
        wc.nw_frag = u8::MAX;
        if key.nw_frag != 0 || !matches!(key.nw_proto, IPPROTO_UDP | IPPROTO_GRE) {
            return None;
        }
        let (_, dst) = outer_addrs(key, wc);
        let local = self.local_info(bridge);
        let is_local = local.addresses.contains(&dst)
            || bridges.values().any(|o| {
                o.tunnels
                    .values()
                    .any(|t| t.config.local_ip == Some(FromFlow::Fixed(dst)))
            });
        if !is_local {
            return None;
        }
        b.downlinks.iter().find_map(|(overlay, l)| {
            let o = bridges.get(overlay)?;
            receiving_port(o, key, wc).map(|_| l.port)
        })
    }

    fn encap(
        &self,
        cfg: &TunnelConfig,
        links: &HashMap<String, LinkEnd>,
        key: &FlowKey,
        wc: &mut FlowKey,
        verdict: &mut Verdict,
    ) -> Option<Dp> {
        let c = &self.counters;
        let remote = match cfg.remote_ip {
            FromFlow::Fixed(ip) => ip,
            FromFlow::Flow => {
                wc.tun_dst = u32::MAX;
                if key.tun_dst == 0 {
                    c.no_remote.fetch_add(1, Relaxed);
                    return None;
                }
                IpAddr::V4(Ipv4Addr::from(key.tun_dst))
            }
        };
        let id = match cfg.key {
            FromFlow::Fixed(k) => k,
            FromFlow::Flow => {
                wc.tun_id = u64::MAX;
                key.tun_id
            }
        };
        let Some(route) = read(&self.routes).lookup(remote).cloned() else {
            tracing::debug!(%remote, "no route to tunnel endpoint");
            c.no_route.fetch_add(1, Relaxed);
            return None;
        };
        let Some(link) = links.get(&route.dev) else {
            tracing::debug!(%remote, dev = %route.dev, "route to tunnel endpoint is not via a bridge");
            c.route_not_a_bridge.fetch_add(1, Relaxed);
            return None;
        };
        let local = self.local_info(&route.dev);
        let src = match cfg.local_ip {
            Some(FromFlow::Fixed(ip)) => Some(ip),
            Some(FromFlow::Flow) => {
                wc.tun_src = u32::MAX;
                (key.tun_src != 0).then(|| IpAddr::V4(Ipv4Addr::from(key.tun_src)))
            }
            None => route.src.or_else(|| {
                local
                    .addresses
                    .iter()
                    .copied()
                    .find(|a| a.is_ipv4() == remote.is_ipv4() && !is_link_local(*a))
            }),
        };
        let (Some(src), Some(eth_src)) =
            (src.filter(|s| s.is_ipv4() == remote.is_ipv4()), local.mac)
        else {
            tracing::debug!(%remote, dev = %route.dev, "no source address for tunnel");
            c.no_source.fetch_add(1, Relaxed);
            return None;
        };
        let next_hop = route.gateway.unwrap_or(remote);
        let now = Instant::now();
        let mut neighbours = lock(&self.neighbours);
        let Some(eth_dst) = neighbours.lookup(&route.dev, next_hop, now) else {
            verdict.slow = true;
            tracing::debug!(%next_hop, dev = %route.dev, "tunnel next hop not resolved");
            c.neighbour_miss.fetch_add(1, Relaxed);
            if neighbours.may_request(&route.dev, next_hop, now) {
                drop(neighbours);
                let frame = match (src, next_hop) {
                    (IpAddr::V4(s), IpAddr::V4(t)) => arp_request(eth_src, s, t),
                    (IpAddr::V6(s), IpAddr::V6(t)) => neighbour_solicitation(eth_src, s, t),
                    _ => return None,
                };
                if link.end.inject(Packet::from_bytes(&frame)) {
                    c.requests_sent.fetch_add(1, Relaxed);
                }
            }
            return None;
        };
        drop(neighbours);
        let tos = match cfg.tos {
            Inherit::Fixed(t) => t,
            Inherit::Inherit => {
                wc.nw_tos = u8::MAX;
                key.nw_tos
            }
        };
        let ttl = match cfg.ttl {
            Inherit::Fixed(t) => t,
            Inherit::Inherit => {
                wc.nw_ttl = u8::MAX;
                if key.nw_ttl == 0 {
                    64
                } else {
                    key.nw_ttl
                }
            }
        };
        let ip = match (src, remote) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => OuterIp::V4 {
                src,
                dst,
                tos,
                ttl,
                df: cfg.df_default,
            },
            (IpAddr::V6(src), IpAddr::V6(dst)) => OuterIp::V6 {
                src,
                dst,
                traffic_class: tos,
                hop_limit: ttl,
                flow_label: 0,
            },
            _ => return None,
        };
        let encap = match cfg.kind {
            TunnelKind::Vxlan => Encap::Vxlan {
                vni: id as u32,
                dst_port: cfg.dst_port,
                csum: cfg.csum,
            },
            TunnelKind::Geneve => Encap::Geneve {
                vni: id as u32,
                dst_port: cfg.dst_port,
                csum: cfg.csum,
                oam: false,
                options: &[],
            },
            TunnelKind::Gre => Encap::Gre {
                key: (cfg.key != FromFlow::Fixed(0)).then_some(id as u32),
                csum: cfg.csum,
                seq: None,
            },
        };
        if id > u64::from(u32::MAX) || (cfg.kind != TunnelKind::Gre && id > 0xff_ffff) {
            c.bad_header.fetch_add(1, Relaxed);
            return None;
        }
        let spec = TunnelSpec {
            eth_dst,
            eth_src,
            ip,
            encap,
            mtu: u16::try_from(local.mtu).unwrap_or(u16::MAX),
        };
        match TunnelHeader::new(spec) {
            Ok(h) => Some(Dp::TunnelPush {
                header: Arc::new(h),
                port: link.port,
            }),
            Err(_) => {
                c.bad_header.fetch_add(1, Relaxed);
                None
            }
        }
    }

    /// Counters by name, for metrics and `swctl`.
    pub fn counter_list(&self) -> Vec<(&'static str, u64)> {
        let c = &self.counters;
        vec![
            ("no_remote", c.no_remote.load(Relaxed)),
            ("no_route", c.no_route.load(Relaxed)),
            ("route_not_a_bridge", c.route_not_a_bridge.load(Relaxed)),
            ("no_source", c.no_source.load(Relaxed)),
            ("neighbour_miss", c.neighbour_miss.load(Relaxed)),
            ("requests_sent", c.requests_sent.load(Relaxed)),
            ("bad_header", c.bad_header.load(Relaxed)),
            ("no_tunnel_port", c.no_tunnel_port.load(Relaxed)),
            ("unknown_key", c.unknown_key.load(Relaxed)),
            ("neighbours_learnt", c.neighbours_learnt.load(Relaxed)),
        ]
    }
}

fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// The outer source and destination of an IP packet's key (un-wildcarded).
fn outer_addrs(key: &FlowKey, wc: &mut FlowKey) -> (IpAddr, IpAddr) {
    if key.eth_type == ETH_IPV6 {
        wc.ipv6_src = [0xff; 16];
        wc.ipv6_dst = [0xff; 16];
        (
            IpAddr::V6(Ipv6Addr::from(key.ipv6_src)),
            IpAddr::V6(Ipv6Addr::from(key.ipv6_dst)),
        )
    } else {
        wc.ipv4_src = u32::MAX;
        wc.ipv4_dst = u32::MAX;
        (
            IpAddr::V4(Ipv4Addr::from(key.ipv4_src)),
            IpAddr::V4(Ipv4Addr::from(key.ipv4_dst)),
        )
    }
}

/// The tunnel port of `b` an outer packet belongs to: same kind (GRE, or
/// UDP to the port's `dst_port`), a fixed `local_ip` equal to the outer
/// destination, and a fixed `remote_ip` equal to the outer source
/// preferred over `remote_ip=flow`.
fn receiving_port(
    b: &BridgeState,
    key: &FlowKey,
    wc: &mut FlowKey,
) -> Option<(PortNo, TunnelKind)> {
    wc.eth_type = u16::MAX;
    wc.nw_proto = u8::MAX;
    let udp = key.nw_proto == IPPROTO_UDP;
    if udp {
        wc.tp_dst = u16::MAX;
    } else if key.nw_proto != IPPROTO_GRE {
        return None;
    }
    let (src, dst) = outer_addrs(key, wc);
    let candidates = b.tunnels.iter().filter(|(_, t)| {
        let c = &t.config;
        let kind_ok = match c.kind {
            TunnelKind::Gre => !udp,
            _ => udp && c.dst_port == key.tp_dst,
        };
        let local_ok = match c.local_ip {
            Some(FromFlow::Fixed(l)) => l == dst,
            _ => true,
        };
        kind_ok && local_ok
    });
    let mut flow_based = None;
    for (p, t) in candidates {
        match t.config.remote_ip {
            FromFlow::Fixed(r) if r == src => return Some((*p, t.config.kind)),
            FromFlow::Flow if flow_based.is_none() => flow_based = Some((*p, t.config.kind)),
            _ => {}
        }
    }
    flow_based
}

/// Make one link between overlay bridge `o` and underlay bridge `u`:
/// ends numbered from the top of each datapath's port space.
fn add_link(
    od: &Arc<Dpif>,
    ud: &Arc<Dpif>,
    o: &str,
    u: &str,
) -> Result<(LinkEnd, LinkEnd), String> {
    let (up, down) =
        LinkPort::pair(&format!("tnl>{u}"), &format!("tnl<{o}")).map_err(|e| e.to_string())?;
    let top = |d: &Arc<Dpif>| -> Option<PortNo> {
        let t = d.ports();
        (1..d.config().max_ports as PortNo)
            .rev()
            .find(|&n| t.get(n).is_none())
    };
    let up_no = top(od).ok_or("no free port number")?;
    let up_no = od
        .add_port(up.clone(), Some(up_no))
        .map_err(|e| e.to_string())?;
    let down_no = match top(ud).and_then(|n| ud.add_port(down.clone(), Some(n)).ok()) {
        Some(n) => n,
        None => {
            let _ = od.remove_port(up_no);
            return Err("no free port number in the underlay".into());
        }
    };
    Ok((
        LinkEnd {
            port: up_no,
            end: up,
        },
        LinkEnd {
            port: down_no,
            end: down,
        },
    ))
}

#[cfg(test)]
mod tests;

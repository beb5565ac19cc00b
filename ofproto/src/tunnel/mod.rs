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
//!   (`remote_ip`, or the flow's `tun_dst` or else `tun_ipv6_dst`), the
//!   GENEVE options the flow has (through the bridge's TLV map), the route
//!   to it (which must go
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
//! and the revalidator of every bridge that depends on the plane (tunnel
//! ports, or an underlay: [`TunnelPlane::involves`]) drops its megaflows.
//! The kernel's routes and the LOCAL addresses are re-read once a second,
//! and only while some underlay exists. Every packet translation drops is
//! counted by reason ([`TunnelPlane::counters`]); the datapath counts its
//! own (`datapath::tunnel::TunnelDrop`).
//!
//! Files: this one holds the plane's state and its operator-facing calls;
//! `seams` the translator's two seams, `link` the links, `route` and
//! `neigh` the underlay's tables, `config` a tunnel port's options.

mod config;
mod link;
mod neigh;
mod route;
mod seams;

pub use config::{
    check_value, default_dst_port, kind_name, kind_of_port_type, FromFlow, Inherit, TunnelConfig,
    OPTIONS,
};
pub use neigh::{
    arp_request, neighbour_solicitation, Learnt, NeighbourCache, NeighbourEntry, NEIGH_IDLE,
};
pub use route::{kernel_routes, network, parse_prefix, Origin, Route, RouteTable};

use crate::xlate::LOCAL_DP_PORT;
use datapath::actions::Action as Dp;
use datapath::dpif::Dpif;
use datapath::flow::key::TUN_MD_BYTES;
use datapath::flow::FlowKey;
use datapath::netdev::addr::{interface_info, InterfaceInfo};
use datapath::netdev::link::LinkPort;
use datapath::packet::Packet;
use datapath::tunnel::{Encap, OuterIp, TlvMap, TunnelHeader, TunnelKind, TunnelSpec, TUN_PRESENT};
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
    /// The GRE sequence of an ERSPAN port (kept across re-translation).
    seq: Arc<std::sync::atomic::AtomicU32>,
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
                    seq: Default::default(),
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
        // Only underlays (bridges some tenant bridge is linked to) matter:
        // a switch without tunnel ports reads nothing and drops nothing.
        let underlays: Vec<String> = read(&self.bridges)
            .iter()
            .filter(|(_, b)| b.local && !b.downlinks.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        if underlays.is_empty() {
            return;
        }
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

    /// Whether `bridge`'s megaflows can depend on the plane's state (it has
    /// tunnel ports, or is an underlay): only those are dropped when the
    /// generation changes.
    pub fn involves(&self, bridge: &str) -> bool {
        read(&self.bridges)
            .get(bridge)
            .is_some_and(|b| !b.tunnels.is_empty() || !b.downlinks.is_empty())
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

#[cfg(test)]
mod tests;

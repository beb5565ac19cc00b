//! The translator's two seams into the plane: where a packet entered
//! ([`TunnelPlane::ingress`]) and what an output becomes
//! ([`TunnelPlane::output`]: encapsulation onto a link, termination at an
//! underlay's LOCAL, neighbour snooping). See the module essay of
//! [`super`].

use super::*;

impl TunnelPlane {
    /// Where a packet entered bridge `bridge`: a packet from an overlay's
    /// link enters as from LOCAL (`key.in_port` rewritten); one from an
    /// underlay's link is popped (`Some` actions); one on a tunnel port
    /// with a fixed key is dropped (`Some` empty) if its VNI differs.
    /// `tlv` is the bridge's TLV map, which the pop uses for GENEVE options.
    pub fn ingress(
        &self,
        bridge: &str,
        tlv: &Arc<TlvMap>,
        key: &mut FlowKey,
        wc: &mut FlowKey,
    ) -> Option<Vec<Dp>> {
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
            let tlv = tlv.clone();
            return Some(vec![Dp::TunnelPop { port, kind, tlv }]);
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
    #[allow(clippy::too_many_arguments)]
    pub fn output(
        &self,
        bridge: &str,
        tlv: &TlvMap,
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
        // The map stays read-locked: encapsulation takes only the route,
        // neighbour and interface locks, which no writer of the map holds.
        if let Some(a) = self.encap(t, port, &b.uplinks, tlv, key, wc, verdict) {
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

    #[allow(clippy::too_many_arguments)]
    fn encap(
        &self,
        port: &TunnelPort,
        via: PortNo,
        links: &HashMap<String, LinkEnd>,
        tlv: &TlvMap,
        key: &FlowKey,
        wc: &mut FlowKey,
        verdict: &mut Verdict,
    ) -> Option<Dp> {
        let cfg = &port.config;
        let c = &self.counters;
        let remote = match cfg.remote_ip {
            FromFlow::Fixed(ip) => ip,
            FromFlow::Flow => {
                let Some(ip) = flow_addr(key.tun_dst, key.tun_ipv6_dst, |w| {
                    wc.tun_dst = u32::MAX;
                    if w {
                        wc.tun_ipv6_dst = [0xff; 16];
                    }
                }) else {
                    c.no_remote.fetch_add(1, Relaxed);
                    return None;
                };
                ip
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
            Some(FromFlow::Flow) => flow_addr(key.tun_src, key.tun_ipv6_src, |w| {
                wc.tun_src = u32::MAX;
                if w {
                    wc.tun_ipv6_src = [0xff; 16];
                }
            }),
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
        // A 64-bit tunnel_id that does not fit the wire's 32 bits is
        // refused here; a VNI over 24 bits is refused by the header builder.
        let Ok(id) = u32::try_from(id) else {
            c.bad_header.fetch_add(1, Relaxed);
            return None;
        };
        // GENEVE carries the options the flow has (received ones, or set
        // with set_field), as the bridge's TLV map names them.
        let mut options = Vec::new();
        if cfg.kind == TunnelKind::Geneve && !tlv.is_empty() {
            wc.tun_md_present = u64::MAX;
            wc.tun_md = [0xff; TUN_MD_BYTES];
            tlv.encode(key.tun_md_present, &key.tun_md, &mut options);
        }
        let encap = match cfg.kind {
            TunnelKind::Vxlan => Encap::Vxlan {
                vni: id,
                dst_port: cfg.dst_port,
                csum: cfg.csum,
            },
            TunnelKind::Geneve => Encap::Geneve {
                vni: id,
                dst_port: cfg.dst_port,
                csum: cfg.csum,
                oam: false,
                options: &options,
            },
            TunnelKind::Gre => Encap::Gre {
                key: (cfg.key != FromFlow::Fixed(0)).then_some(id),
                csum: cfg.csum,
                seq: None,
            },
            TunnelKind::Erspan => Encap::Erspan {
                // The config allows 0..=1023 only.
                session: id as u16,
                version: cfg.erspan?,
                seq: port.seq.clone(),
            },
        };
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
                via,
            }),
            Err(_) => {
                c.bad_header.fetch_add(1, Relaxed);
                None
            }
        }
    }
}

/// A tunnel address the flow set: the IPv4 one when it is set, else the
/// IPv6 one (Open vSwitch's order), else none. `unwildcard(v6)` is told
/// whether the IPv6 field was consulted too.
fn flow_addr(v4: u32, v6: [u8; 16], unwildcard: impl FnOnce(bool)) -> Option<IpAddr> {
    if v4 != 0 {
        unwildcard(false);
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    unwildcard(true);
    (v6 != [0; 16]).then(|| IpAddr::V6(Ipv6Addr::from(v6)))
}

fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.is_unicast_link_local(),
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
            // Transmit only: ERSPAN that arrives is not terminated here.
            TunnelKind::Erspan => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `remote_ip=flow` reads `tun_dst`, or `tun_ipv6_dst` when the IPv4
    /// field is zero, and says which fields it consulted.
    #[test]
    fn flow_addresses_prefer_ipv4_then_ipv6() {
        let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
        let mut consulted = None;
        let a = flow_addr(0x0a00_0001, v6.octets(), |w| consulted = Some(w));
        assert_eq!(
            (a, consulted),
            (Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), Some(false))
        );
        let a = flow_addr(0, v6.octets(), |w| consulted = Some(w));
        assert_eq!((a, consulted), (Some(IpAddr::V6(v6)), Some(true)));
        assert_eq!(flow_addr(0, [0; 16], |_| {}), None);
    }
}

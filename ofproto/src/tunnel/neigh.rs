//! The neighbour cache of tunnel underlays (Open vSwitch's `tnl/neigh`):
//! which MAC a next hop answers to, per underlay bridge.
//!
//! Entries are learnt by snooping ARP (requests and replies: both carry
//! the sender's binding) and IPv6 neighbour advertisements that an
//! underlay bridge delivers to its LOCAL port, and age out after
//! [`NEIGH_IDLE`]. When a tunnel output finds no entry, translation sends
//! a request ([`arp_request`], [`neighbour_solicitation`]) at most once
//! per [`REQUEST_INTERVAL`] per address, and drops the packet.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// How long an entry lives without being seen again (Open vSwitch's
/// default).
pub const NEIGH_IDLE: Duration = Duration::from_secs(15 * 60);
/// Least time between two requests for the same address.
pub const REQUEST_INTERVAL: Duration = Duration::from_secs(1);

/// What learning an entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learnt {
    New,
    /// The address moved to another MAC: headers built with the old one
    /// are stale.
    Changed,
    Refreshed,
}

/// One entry as shown by `tnl/neigh-show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourEntry {
    pub bridge: String,
    pub ip: IpAddr,
    pub mac: [u8; 6],
    pub age: Duration,
}

/// The cache.
#[derive(Debug, Default)]
pub struct NeighbourCache {
    entries: HashMap<(String, IpAddr), ([u8; 6], Instant)>,
    requested: HashMap<(String, IpAddr), Instant>,
}

impl NeighbourCache {
    /// The MAC of `ip` on `bridge`, if known and fresh.
    pub fn lookup(&self, bridge: &str, ip: IpAddr, now: Instant) -> Option<[u8; 6]> {
        let (mac, seen) = self.entries.get(&(bridge.to_string(), ip))?;
        (now.duration_since(*seen) < NEIGH_IDLE).then_some(*mac)
    }

    /// Record `ip` at `mac`, seen on `bridge`.
    pub fn learn(&mut self, bridge: &str, ip: IpAddr, mac: [u8; 6], now: Instant) -> Learnt {
        let key = (bridge.to_string(), ip);
        self.requested.remove(&key);
        match self.entries.insert(key, (mac, now)) {
            None => Learnt::New,
            Some((old, seen)) if old != mac || now.duration_since(seen) >= NEIGH_IDLE => {
                Learnt::Changed
            }
            Some(_) => Learnt::Refreshed,
        }
    }

    /// Whether a request for `ip` may go out now (and note that it does).
    pub fn may_request(&mut self, bridge: &str, ip: IpAddr, now: Instant) -> bool {
        let key = (bridge.to_string(), ip);
        match self.requested.get(&key) {
            Some(t) if now.duration_since(*t) < REQUEST_INTERVAL => false,
            _ => {
                self.requested.insert(key, now);
                true
            }
        }
    }

    /// Drop aged entries; true when any went.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|_, (_, seen)| now.duration_since(*seen) < NEIGH_IDLE);
        self.requested
            .retain(|_, t| now.duration_since(*t) < REQUEST_INTERVAL * 10);
        self.entries.len() != before
    }

    /// Forget everything (`tnl/neigh-flush`); true when anything went.
    pub fn flush(&mut self) -> bool {
        let any = !self.entries.is_empty();
        self.entries.clear();
        self.requested.clear();
        any
    }

    pub fn entries(&self, now: Instant) -> Vec<NeighbourEntry> {
        let mut v: Vec<NeighbourEntry> = self
            .entries
            .iter()
            .filter(|(_, (_, seen))| now.duration_since(*seen) < NEIGH_IDLE)
            .map(|((bridge, ip), (mac, seen))| NeighbourEntry {
                bridge: bridge.clone(),
                ip: *ip,
                mac: *mac,
                age: now.duration_since(*seen),
            })
            .collect();
        v.sort_by(|a, b| (&a.bridge, a.ip).cmp(&(&b.bridge, b.ip)));
        v
    }
}

/// A broadcast ARP request from `src_mac`/`src_ip` for `target`, padded to
/// the Ethernet minimum.
pub fn arp_request(src_mac: [u8; 6], src_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0806u16.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]); // Ethernet/IPv4, request
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f.resize(60, 0);
    f
}

/// A neighbour solicitation (RFC 4861) from `src_mac`/`src_ip` for
/// `target`, to its solicited-node multicast group.
pub fn neighbour_solicitation(src_mac: [u8; 6], src_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
    icmp.extend_from_slice(&t);
    icmp.extend_from_slice(&[1, 1]); // source link-layer address option
    icmp.extend_from_slice(&src_mac);
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&src_ip.octets());
    add(&group.octets());
    add(&(icmp.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(&icmp);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    icmp[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());

    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&[0x33, 0x33, 0xff, t[13], t[14], t[15]]);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x86ddu16.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&group.octets());
    f.extend_from_slice(&icmp);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use datapath::flow::{extract, FlowKey};
    use datapath::packet::Packet;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    #[test]
    fn entries_are_learnt_changed_and_aged() {
        let mut c = NeighbourCache::default();
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(c.lookup("br-phy", ip, t0), None);
        assert_eq!(c.learn("br-phy", ip, MAC, t0), Learnt::New);
        assert_eq!(c.learn("br-phy", ip, MAC, t0), Learnt::Refreshed);
        assert_eq!(c.lookup("br-phy", ip, t0), Some(MAC));
        assert_eq!(c.lookup("br-other", ip, t0), None);
        assert_eq!(
            c.learn("br-phy", ip, [2, 0, 0, 0, 0, 9], t0),
            Learnt::Changed
        );
        let later = t0 + NEIGH_IDLE;
        assert_eq!(c.lookup("br-phy", ip, later), None);
        assert!(c.expire(later));
        assert!(c.entries(later).is_empty());
    }

    #[test]
    fn requests_are_paced_per_address() {
        let mut c = NeighbourCache::default();
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(c.may_request("b", ip, t0));
        assert!(!c.may_request("b", ip, t0 + Duration::from_millis(500)));
        assert!(c.may_request("b", "10.0.0.3".parse().unwrap(), t0));
        assert!(c.may_request("b", ip, t0 + REQUEST_INTERVAL));
    }

    #[test]
    fn requests_parse_as_what_they_ask() {
        let f = arp_request(MAC, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut k = FlowKey::default();
        extract(&Packet::from_bytes(&f), &mut k);
        assert_eq!(k.eth_type, 0x0806);
        assert_eq!(k.nw_proto, 1);
        assert_eq!(k.ipv4_dst, u32::from(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(k.arp_sha, MAC);

        let target: Ipv6Addr = "fd00::2:3".parse().unwrap();
        let f = neighbour_solicitation(MAC, "fd00::1".parse().unwrap(), target);
        let mut k = FlowKey::default();
        extract(&Packet::from_bytes(&f), &mut k);
        assert_eq!(k.eth_type, 0x86dd);
        assert_eq!((k.nw_proto, k.tp_src), (58, 135));
        assert_eq!(k.nd_target, target.octets());
        assert_eq!(k.arp_sha, MAC);
        assert_eq!(&f[..6], &[0x33, 0x33, 0xff, 0x02, 0x00, 0x03]);
    }
}

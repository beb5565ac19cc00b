//! [`Layout`]: where each header of a frame starts, found by one short walk.
//!
//! Actions write header fields by byte offset, and the flow key cannot tell
//! them where the fields are (it describes the packet as received, and a
//! push, pop or set-field earlier in the action list may have moved or
//! changed headers since). So execution walks the frame itself: Ethernet, up
//! to two VLAN tags, then MPLS, ARP, IPv4 or IPv6 (through its extension
//! headers), then TCP, UDP, SCTP, ICMP or ICMPv6 (with the neighbour
//! discovery target and link-layer address options).
//!
//! The one idea: a header is recorded only once every byte of it is known to
//! be inside the frame, and only if its lengths are self-consistent, so the
//! code that writes fields by these offsets never reads or writes outside
//! the frame, and a header that is not really there is simply absent. The
//! walk never allocates and never panics, whatever the bytes.

use crate::flow::key::{
    ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST, ETH_TYPE_QINQ,
    ETH_TYPE_VLAN, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
};

/// Ethernet header length without tags.
pub(crate) const ETH_HLEN: usize = 14;
/// Bytes of one VLAN tag (TPID + TCI).
pub(crate) const VLAN_HLEN: usize = 4;
/// The most VLAN tags walked (outer + inner, as 802.1ad).
pub(crate) const MAX_VLANS: usize = 2;
/// The most IPv6 extension headers walked before giving up on L4.
const MAX_IPV6_EXT: usize = 8;

/// The network layer found after the L2 headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Net {
    None,
    /// `l3` is the top label stack entry.
    Mpls,
    Arp,
    Ipv4,
    Ipv6,
}

/// The transport layer found after the IP headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    None,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmpv6,
}

/// Offsets (from the start of the frame) of the headers of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Number of VLAN tags; tag `i` has its TPID at `12 + 4 * i`.
    pub n_vlan: usize,
    /// Offset of the innermost EtherType (`12 + 4 * n_vlan`).
    pub eth_type_off: usize,
    /// The EtherType after the tags.
    pub eth_type: u16,
    /// Start of the network header (`eth_type_off + 2`).
    pub l3: usize,
    pub net: Net,
    /// End of the IP datagram (IPv4 total length, IPv6 payload length):
    /// the checksummed L4 region is `l4..l3_end`, excluding Ethernet padding.
    pub l3_end: usize,
    /// IP protocol / IPv6 upper-layer next header (0 when not IP).
    pub proto: u8,
    /// The packet is an IP fragment (any).
    pub fragment: bool,
    /// IPv6 routing header with segments left: the pseudo-header uses the
    /// final destination, not the IPv6 destination field.
    pub ipv6_routing: bool,
    /// Start of the transport header.
    pub l4: usize,
    pub transport: Transport,
    /// TCP header length (data offset * 4).
    pub tcp_hlen: usize,
    /// ICMPv6 neighbour solicitation/advertisement: offset of the target.
    pub nd_target: Option<usize>,
    /// Offset of the 6-byte source link-layer address in an ND option.
    pub nd_sll: Option<usize>,
    /// Offset of the 6-byte target link-layer address in an ND option.
    pub nd_tll: Option<usize>,
}

#[inline]
fn be16(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
}

impl Layout {
    /// Walk `frame`. Anything malformed ends the walk at the last header
    /// that was complete.
    pub(crate) fn parse(frame: &[u8]) -> Layout {
        let mut l = Layout {
            n_vlan: 0,
            eth_type_off: 12,
            eth_type: 0,
            l3: ETH_HLEN,
            net: Net::None,
            l3_end: frame.len(),
            proto: 0,
            fragment: false,
            ipv6_routing: false,
            l4: frame.len(),
            transport: Transport::None,
            tcp_hlen: 0,
            nd_target: None,
            nd_sll: None,
            nd_tll: None,
        };
        let Some(mut eth_type) = be16(frame, 12) else {
            return l;
        };
        // A complete Ethernet header needs its 14 bytes.
        if frame.len() < ETH_HLEN {
            return l;
        }
        while (eth_type == ETH_TYPE_VLAN || eth_type == ETH_TYPE_QINQ) && l.n_vlan < MAX_VLANS {
            let next = 12 + VLAN_HLEN * (l.n_vlan + 1);
            let Some(t) = be16(frame, next) else { break };
            if frame.len() < next + 2 {
                break;
            }
            l.n_vlan += 1;
            l.eth_type_off = next;
            eth_type = t;
        }
        l.eth_type = eth_type;
        l.l3 = l.eth_type_off + 2;
        l.l4 = frame.len();
        match eth_type {
            ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST if frame.len() >= l.l3 + 4 => l.net = Net::Mpls,
            ETH_TYPE_ARP => l.parse_arp(frame),
            ETH_TYPE_IPV4 => l.parse_ipv4(frame),
            ETH_TYPE_IPV6 => l.parse_ipv6(frame),
            _ => {}
        }
        l
    }

    fn parse_arp(&mut self, frame: &[u8]) {
        // Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4.
        let Some(arp) = frame.get(self.l3..self.l3 + 28) else {
            return;
        };
        if arp[0..6] == [0, 1, 0x08, 0x00, 6, 4] {
            self.net = Net::Arp;
        }
    }

    fn parse_ipv4(&mut self, frame: &[u8]) {
        let l3 = self.l3;
        let Some(ip) = frame.get(l3..l3 + 20) else {
            return;
        };
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if ip[0] >> 4 != 4 || ihl < 20 || total < ihl || l3 + total > frame.len() {
            return;
        }
        self.net = Net::Ipv4;
        self.l3_end = l3 + total;
        self.proto = ip[9];
        let frag = u16::from_be_bytes([ip[6], ip[7]]);
        self.fragment = frag & 0x3fff != 0;
        if frag & 0x1fff != 0 {
            // A later fragment carries no transport header.
            self.l4 = self.l3_end;
            return;
        }
        self.parse_l4(frame, l3 + ihl, false);
    }

    fn parse_ipv6(&mut self, frame: &[u8]) {
        let l3 = self.l3;
        let Some(ip) = frame.get(l3..l3 + 40) else {
            return;
        };
        let payload = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        if ip[0] >> 4 != 6 || l3 + 40 + payload > frame.len() {
            return;
        }
        self.net = Net::Ipv6;
        self.l3_end = l3 + 40 + payload;
        let mut nh = ip[6];
        let mut off = l3 + 40;
        for _ in 0..MAX_IPV6_EXT {
            let ext_len = match nh {
                // Hop-by-hop, routing, destination options.
                0 | 43 | 60 => match frame.get(off..off + 8) {
                    Some(h) => {
                        if nh == 43 && h[3] != 0 {
                            self.ipv6_routing = true;
                        }
                        (usize::from(h[1]) + 1) * 8
                    }
                    None => return self.end_l4(off, nh),
                },
                // Fragment.
                44 => match frame.get(off..off + 8) {
                    Some(h) => {
                        self.fragment = true;
                        if u16::from_be_bytes([h[2], h[3]]) & 0xfff8 != 0 {
                            return self.end_l4(off + 8, h[0]);
                        }
                        8
                    }
                    None => return self.end_l4(off, nh),
                },
                // Authentication header.
                51 => match frame.get(off..off + 8) {
                    Some(h) => (usize::from(h[1]) + 2) * 4,
                    None => return self.end_l4(off, nh),
                },
                _ => break,
            };
            if off + ext_len > self.l3_end {
                return self.end_l4(off, nh);
            }
            nh = frame[off];
            off += ext_len;
        }
        match nh {
            0 | 43 | 60 | 44 | 51 => self.end_l4(off, nh),
            _ => {
                self.proto = nh;
                self.parse_l4(frame, off, true);
            }
        }
    }

    /// No usable transport header at `off` (after protocol `nh`).
    fn end_l4(&mut self, off: usize, nh: u8) {
        self.proto = nh;
        self.l4 = off.min(self.l3_end);
    }

    fn parse_l4(&mut self, frame: &[u8], l4: usize, v6: bool) {
        self.l4 = l4;
        let end = self.l3_end;
        let avail = end.saturating_sub(l4);
        let l4_bytes = &frame[l4.min(end)..end];
        match self.proto {
            IPPROTO_TCP if avail >= 20 => {
                let hlen = usize::from(l4_bytes[12] >> 4) * 4;
                if hlen >= 20 && hlen <= avail {
                    self.transport = Transport::Tcp;
                    self.tcp_hlen = hlen;
                }
            }
            IPPROTO_UDP if avail >= 8 => self.transport = Transport::Udp,
            IPPROTO_SCTP if avail >= 12 => self.transport = Transport::Sctp,
            IPPROTO_ICMP if avail >= 4 && !v6 => self.transport = Transport::Icmp,
            IPPROTO_ICMPV6 if avail >= 4 && v6 => {
                self.transport = Transport::Icmpv6;
                self.parse_nd(l4_bytes);
            }
            _ => {}
        }
    }

    fn parse_nd(&mut self, icmp: &[u8]) {
        let ty = icmp[0];
        if icmp[1] != 0 || (ty != 135 && ty != 136) || icmp.len() < 24 {
            return;
        }
        self.nd_target = Some(self.l4 + 8);
        let mut off = 24;
        while off + 8 <= icmp.len() {
            let opt_len = usize::from(icmp[off + 1]) * 8;
            if opt_len == 0 || off + opt_len > icmp.len() {
                break;
            }
            // Only Ethernet-sized addresses (a one-unit option).
            if opt_len == 8 {
                match icmp[off] {
                    1 if self.nd_sll.is_none() => self.nd_sll = Some(self.l4 + off + 2),
                    2 if self.nd_tll.is_none() => self.nd_tll = Some(self.l4 + off + 2),
                    _ => {}
                }
            }
            off += opt_len;
        }
    }

    /// Offset of the outer VLAN tag's TCI, if there is a tag.
    #[inline]
    pub(crate) fn outer_tci(&self) -> Option<usize> {
        (self.n_vlan > 0).then_some(14)
    }

    /// Is there an IP header (v4 or v6)?
    #[inline]
    pub(crate) fn is_ip(&self) -> bool {
        matches!(self.net, Net::Ipv4 | Net::Ipv6)
    }

    /// Offset of the L4 checksum field for checksummed transports.
    pub(crate) fn l4_csum_off(&self) -> Option<usize> {
        match self.transport {
            Transport::Tcp => Some(self.l4 + 16),
            Transport::Udp => Some(self.l4 + 6),
            Transport::Icmp | Transport::Icmpv6 => Some(self.l4 + 2),
            Transport::Sctp | Transport::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(tags: &[u16], ty: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for &t in tags {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0, 5]);
        }
        f.extend_from_slice(&ty.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    #[test]
    fn short_frames_have_no_headers() {
        for n in 0..20 {
            let l = Layout::parse(&vec![0x81; n]);
            assert_eq!(l.net, Net::None);
        }
    }

    #[test]
    fn two_vlans_then_mpls() {
        let f = eth(&[0x88a8, 0x8100], 0x8847, &[0, 0, 0x11, 64]);
        let l = Layout::parse(&f);
        assert_eq!(
            (l.n_vlan, l.eth_type_off, l.l3, l.net),
            (2, 20, 22, Net::Mpls)
        );
        assert_eq!(l.outer_tci(), Some(14));
    }

    #[test]
    fn ipv4_later_fragment_has_no_l4() {
        let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0x00, 0x10, 64, 6, 0, 0];
        ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        ip.extend_from_slice(&[0; 8]);
        let l = Layout::parse(&eth(&[], 0x0800, &ip));
        assert_eq!(l.net, Net::Ipv4);
        assert!(l.fragment);
        assert_eq!(l.transport, Transport::None);
    }

    #[test]
    fn ipv6_through_extension_headers() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 24, 0, 64];
        ip.extend_from_slice(&[0; 32]);
        // Hop-by-hop (8 bytes) -> routing, segments left 1 (8 bytes) -> UDP.
        ip.extend_from_slice(&[43, 0, 0, 0, 0, 0, 0, 0]);
        ip.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 0]);
        ip.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let l = Layout::parse(&eth(&[], 0x86dd, &ip));
        assert_eq!(l.net, Net::Ipv6);
        assert_eq!(l.transport, Transport::Udp);
        assert_eq!(l.l4, 14 + 56);
        assert!(l.ipv6_routing);
    }
}

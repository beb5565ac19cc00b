//! Flow key extraction: packet bytes (plus packet metadata) -> [`FlowKey`].
//!
//! This runs once per received packet, before any cache is consulted, so it
//! is written for the hot path: no allocation, no loops over bytes. The
//! frame is walked by [`crate::wire::walk`], the one header walker of the
//! datapath (action execution and offload completion use the same walk, so
//! the same limits); this module is the [`Visitor`] that copies each
//! header's fields into the key as the walk reports it. The walk reads
//! every header through a view over a fixed-size array taken out of the
//! frame with one length check, so the field reads compile to constant
//! indexes; the only loops are over header *chains* (VLAN tags, IPv6
//! extension headers, MPLS labels, ND options), and each is bounded.
//!
//! The one idea to hold while reading: **parse as far as valid, leave the
//! rest zero.** The walk reports a header only once it is known complete
//! and valid, and stops at the first that is not, so the key ends up
//! holding every layer that parsed and zero for everything after. Nothing a
//! packet contains can panic here or read outside the frame (a property
//! test and a fuzz target hold us to that).
//!
//! Field conventions follow Open vSwitch (see the [`FlowKey`] docs), and so
//! do the edge cases, so that translation and the megaflows it produces mean
//! the same thing they would in OVS:
//! * up to two VLAN tags ([`MAX_VLAN_TAGS`]; TPID 0x8100 or 0x88a8, in any
//!   order) are parsed; a third tag is left as `eth_type` = its TPID with nothing parsed after it;
//! * an 802.3 frame (type < 0x600) takes its type from an LLC/SNAP header
//!   with a zero OUI, or gets [`ETH_TYPE_NONE`];
//! * MPLS: the top label stack entry goes into `mpls_lse`, nothing beyond the
//!   label stack is parsed;
//! * ARP/RARP needs an Ethernet/IPv4 ARP body; an opcode above 255 leaves
//!   `nw_proto` zero (the other ARP fields are still filled);
//! * IPv4 needs version 4, IHL >= 5, the options present and a total length
//!   that covers the header; Ethernet padding past the total length is never
//!   parsed as L4, and a later fragment's L4 is not parsed at all;
//! * IPv6 walks hop-by-hop, routing, destination-options, AH and fragment
//!   headers, at most [`MAX_EXT_HEADERS`] of them; `nw_proto` ends up as the first header it did not walk (an
//!   upper-layer protocol, or the extension header it stopped at);
//! * TCP needs a data offset that is >= 5 and inside the packet; ICMPv6
//!   neighbour discovery with a malformed option list keeps type and code
//!   but no target or link-layer addresses.
//!
//! Besides the key, extraction returns a [`Layout`]: where each header
//! starts (the offsets part of the walk's [`crate::wire::walk::Headers`]).

use super::key::{FlowKey, VLAN_CFI};
use crate::packet::Packet;
use crate::wire::ethernet::vlan;
use crate::wire::walk::{self, Visitor};
use crate::wire::{arp, ethernet, ipv4, ipv6, mpls};
use std::net::IpAddr;

pub use crate::wire::ethernet::ether_type::RARP as ETH_TYPE_RARP;
pub use crate::wire::ipv6::MAX_EXT_HEADERS;
pub use crate::wire::walk::{Layout, ETH_TYPE_NONE, MAX_VLAN_TAGS};

/// Parse `packet` into `key`: every field of `key` is overwritten, with the
/// headers from the frame and `in_port`, `pkt_mark` and `recirc_id` from the
/// packet's metadata, and the tunnel fields from what a tunnel pop left
/// with the packet (`tun_src`/`tun_dst` for an IPv4 underlay,
/// `tun_ipv6_*` for an IPv6 one; the GENEVE options the pop mapped into
/// `tun_md`). `dp_hash` is left zero.
#[inline]
pub fn extract(packet: &Packet, key: &mut FlowKey) {
    extract_with_layout(packet, key);
}

/// [`extract`], also returning where each header starts (see [`Layout`]).
#[inline]
pub fn extract_with_layout(packet: &Packet, key: &mut FlowKey) -> Layout {
    let layout = extract_frame(packet.data(), key);
    key.in_port = packet.in_port;
    key.pkt_mark = packet.mark;
    key.recirc_id = packet.recirc_id;
    let t = &packet.tunnel;
    if t.flags != 0 {
        key.tun_id = t.id;
        key.tun_flags = t.flags;
        match (t.src, t.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                key.tun_src = s.into();
                key.tun_dst = d.into();
            }
            (s, d) => {
                key.tun_ipv6_src = ipv6_octets(s);
                key.tun_ipv6_dst = ipv6_octets(d);
            }
        }
        key.tun_md_present = t.md_present;
        key.tun_md = t.md;
    }
    layout
}

fn ipv6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// Parse the header fields of a bare frame (starting at the Ethernet header)
/// into `key`. Every field is overwritten; the metadata fields are zero.
#[inline]
pub fn extract_frame(frame: &[u8], key: &mut FlowKey) -> Layout {
    // Zero word by word: `*key = FlowKey::default()` builds the key on the
    // stack and copies it, which stalls on store-to-load forwarding.
    key.words_mut().fill(0);
    walk::walk(frame, key).layout
}

/// A key is the visitor that extraction runs the walk with: each reported
/// header's fields are written into it. (The key itself, not a wrapper
/// around a reference to it, so the walk holds one pointer.)
impl Visitor for FlowKey {
    #[inline(always)]
    fn ethernet(&mut self, eth: &ethernet::Frame<&[u8; ethernet::HEADER_LEN]>) {
        self.eth_dst = eth.dst_addr();
        self.eth_src = eth.src_addr();
    }

    #[inline(always)]
    fn vlan(&mut self, n: usize, tag: &vlan::Tag<&[u8; vlan::HEADER_LEN]>) {
        let tci = tag.tci() | VLAN_CFI;
        if n == 0 {
            self.vlan_tpid = tag.tpid();
            self.vlan_tci = tci;
        } else {
            self.inner_vlan_tpid = tag.tpid();
            self.inner_vlan_tci = tci;
        }
    }

    #[inline(always)]
    fn eth_type(&mut self, ty: u16) {
        self.eth_type = ty;
    }

    #[inline(always)]
    fn mpls(&mut self, top: &mpls::Lse<&[u8; mpls::HEADER_LEN]>) {
        self.mpls_lse = top.raw();
    }

    #[inline(always)]
    fn arp(&mut self, arp: &arp::Packet<&[u8; arp::HEADER_LEN]>) {
        // Only an opcode that fits is kept: 256 must not alias 0.
        if let Ok(op) = u8::try_from(arp.operation()) {
            self.nw_proto = op;
        }
        self.arp_sha.copy_from_slice(arp.sha());
        self.ipv4_src = arp.spa();
        self.arp_tha.copy_from_slice(arp.tha());
        self.ipv4_dst = arp.tpa();
    }

    #[inline(always)]
    fn ipv4(&mut self, ip: &ipv4::Packet<&[u8; ipv4::HEADER_LEN]>) {
        let k = self;
        k.nw_tos = ip.tos();
        k.nw_ttl = ip.ttl();
        k.nw_proto = ip.protocol();
        k.ipv4_src = ip.src_addr();
        k.ipv4_dst = ip.dst_addr();
    }

    #[inline(always)]
    fn ipv6(&mut self, ip: &ipv6::Packet<&[u8; ipv6::HEADER_LEN]>) {
        let k = self;
        k.ipv6_label = ip.flow_label();
        k.nw_tos = ip.traffic_class();
        k.nw_ttl = ip.hop_limit();
        k.ipv6_src.copy_from_slice(ip.src_addr());
        k.ipv6_dst.copy_from_slice(ip.dst_addr());
        k.nw_proto = ip.next_header();
    }

    #[inline(always)]
    fn nw_proto(&mut self, proto: u8) {
        self.nw_proto = proto;
    }

    #[inline(always)]
    fn nw_frag(&mut self, frag: u8) {
        self.nw_frag = frag;
    }

    #[inline(always)]
    fn ports(&mut self, src: u16, dst: u16) {
        self.tp_src = src;
        self.tp_dst = dst;
    }

    #[inline(always)]
    fn tcp_flags(&mut self, flags: u16) {
        self.tcp_flags = flags;
    }

    #[inline(always)]
    fn nd(&mut self, target: &[u8; 16], sll: Option<&[u8; 6]>, tll: Option<&[u8; 6]>) {
        self.nd_target = *target;
        if let Some(a) = sll {
            self.arp_sha = *a;
        }
        if let Some(a) = tll {
            self.arp_tha = *a;
        }
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;

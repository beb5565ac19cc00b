//! Flow key extraction: packet bytes (plus packet metadata) -> [`FlowKey`].
//!
//! This runs once per received packet, before any cache is consulted, so it
//! is written for the hot path: no allocation, no loops over bytes. Every
//! header is read by taking one fixed-size array reference (`&[u8; N]`) out
//! of the frame with a single length check (`header`); the field reads
//! after that index a fixed array with constant indexes, which the compiler
//! proves in bounds. The only loops are over header *chains* (VLAN tags,
//! IPv6 extension headers, MPLS labels, ND options), and each is bounded.
//!
//! The one idea to hold while reading: **parse as far as valid, leave the
//! rest zero.** Each layer is a function returning `Option<()>`; a truncated
//! or malformed header makes it return `None` through `?` *before* it writes
//! that header's fields, so the key ends up holding every layer that parsed
//! and zero for everything after. Nothing a packet contains can panic here
//! or read outside the frame (a property test and a fuzz target hold us to
//! that).
//!
//! Field conventions follow Open vSwitch (see the [`FlowKey`] docs), and so
//! do the edge cases, so that translation and the megaflows it produces mean
//! the same thing they would in OVS:
//! * up to two VLAN tags (TPID 0x8100 or 0x88a8, in any order) are parsed; a
//!   third tag is left as `eth_type` = its TPID with nothing parsed after it;
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
//!   headers; `nw_proto` ends up as the first header it did not walk (an
//!   upper-layer protocol, or the extension header it stopped at);
//! * TCP needs a data offset that is >= 5 and inside the packet; ICMPv6
//!   neighbour discovery with a malformed option list keeps type and code
//!   but no target or link-layer addresses.
//!
//! Besides the key, extraction returns a [`Layout`]: where each header
//! starts, so that action execution (set-field, push/pop, checksum updates)
//! does not parse the packet a second time.

use super::key::{
    FlowKey, ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST,
    ETH_TYPE_QINQ, ETH_TYPE_VLAN, FRAG_ANY, FRAG_LATER, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP,
    IPPROTO_TCP, IPPROTO_UDP, VLAN_CFI,
};
use crate::packet::Packet;

/// Reverse ARP: parsed exactly like ARP.
pub const ETH_TYPE_RARP: u16 = 0x8035;
/// `eth_type` of an 802.3 frame that has no LLC/SNAP header naming a type
/// (Open vSwitch's `FLOW_DL_TYPE_NONE`, OpenFlow's `OFP_DL_TYPE_NOT_ETH_TYPE`).
pub const ETH_TYPE_NONE: u16 = 0x05ff;
/// Type/length values below this are 802.3 lengths, not Ethernet types.
const ETH_TYPE_MIN: u16 = 0x0600;

/// Most VLAN tags parsed (outer + inner).
const MAX_VLAN_TAGS: usize = 2;
/// Most IPv6 extension headers walked before giving up on finding L4.
const MAX_IPV6_EXT_HEADERS: usize = 16;
/// Only this many leading bytes of a frame are parsed, so that every header
/// offset fits the `u16`s of [`Layout`]. Headers always sit near the start;
/// only a 64 KiB GSO frame is longer, and its headers are the same.
const MAX_PARSED_LEN: usize = u16::MAX as usize;

const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_AH: u8 = 51;
const IPPROTO_DSTOPTS: u8 = 60;

const ND_NEIGHBOR_SOLICIT: u8 = 135;
const ND_NEIGHBOR_ADVERT: u8 = 136;
const ND_OPT_SOURCE_LINKADDR: u8 = 1;
const ND_OPT_TARGET_LINKADDR: u8 = 2;

/// IPv4 flags+offset: "more fragments" and the offset bits.
const IP_MORE_FRAGMENTS: u16 = 0x2000;
const IP_FRAG_OFFSET_MASK: u16 = 0x1fff;
/// IPv6 fragment header offset bits (the low three bits are flags).
const IP6F_OFF_MASK: u16 = 0xfff8;

/// Where the headers of a parsed frame start, as byte offsets from the start
/// of the frame (the Ethernet destination address).
///
/// An offset is `None` when extraction did not get that far. One that is
/// `Some` says where a header *starts*; whether it is complete is what the
/// key says (e.g. `l4` is set for any IP payload, `tp_src` only once the TCP
/// header parsed). Action execution uses these to find the bytes a set-field,
/// push or pop touches without parsing again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Layout {
    /// The MPLS label stack (only when `eth_type` is MPLS and the first
    /// label stack entry is complete). VLAN tags need no offset: they always
    /// start at byte 12.
    pub l2_5: Option<u16>,
    /// What follows the L2 headers (after VLAN tags and any LLC/SNAP header;
    /// for MPLS, after the bottom-of-stack entry, and `None` if the frame
    /// ends first). This is the IPv4/IPv6/ARP header when there is one. Set
    /// whenever the 14-byte Ethernet header is complete.
    pub l3: Option<u16>,
    /// The IP payload: after the IPv4 header and its options, or after the
    /// IPv6 extension headers. Set when the IP header is valid, every
    /// extension header was walked, and the packet is not a later fragment.
    pub l4: Option<u16>,
    /// The TCP, UDP or SCTP payload, set once that transport header parsed
    /// (for TCP: after the options the data offset covers).
    pub l7: Option<u16>,
}

/// Parse `packet` into `key`: every field of `key` is overwritten, with the
/// headers from the frame and `in_port`, `pkt_mark` and `recirc_id` from the
/// packet's metadata. Tunnel metadata, `metadata`, `regs` and `dp_hash` are
/// left zero (they belong to the pipeline, not the packet bytes).
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
    layout
}

/// Parse the header fields of a bare frame (starting at the Ethernet header)
/// into `key`. Every field is overwritten; the metadata fields are zero.
#[inline]
pub fn extract_frame(frame: &[u8], key: &mut FlowKey) -> Layout {
    // Zero word by word: `*key = FlowKey::default()` builds the key on the
    // stack and copies it, which stalls on store-to-load forwarding.
    key.words_mut().fill(0);
    let mut layout = Layout::default();
    let frame = frame.get(..MAX_PARSED_LEN).unwrap_or(frame);
    // `None` only means "stopped early"; the key already holds what parsed.
    let _ = parse_l2(frame, key, &mut layout);
    layout
}

/// The `N` bytes of `d` at `off`, as a fixed array, or `None` if the frame
/// ends first. This is the one bounds check per header.
#[inline(always)]
fn header<const N: usize>(d: &[u8], off: usize) -> Option<&[u8; N]> {
    d.get(off..)?.first_chunk::<N>()
}

#[inline(always)]
fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

#[inline(always)]
fn be32(b: [u8; 4]) -> u32 {
    u32::from_be_bytes(b)
}

/// A header offset as stored in [`Layout`]. The frame is cut to
/// [`MAX_PARSED_LEN`] first, so this only fails on offsets past its end.
#[inline(always)]
fn ofs(off: usize) -> Option<u16> {
    u16::try_from(off).ok()
}

/// Ethernet, VLAN tags, LLC/SNAP, then the network layer by `eth_type`.
#[inline(always)]
fn parse_l2(d: &[u8], key: &mut FlowKey, lay: &mut Layout) -> Option<()> {
    let eth: &[u8; 14] = header(d, 0)?;
    key.eth_dst.copy_from_slice(&eth[0..6]);
    key.eth_src.copy_from_slice(&eth[6..12]);
    let mut ty = be16([eth[12], eth[13]]);
    // `off` is where the current type/length field sits.
    let mut off = 12;

    // VLAN tags: TPID at `off`, then TCI, then the next type. A tag whose TCI
    // or following type is cut off is not parsed, and `eth_type` is its TPID.
    for n in 0..MAX_VLAN_TAGS {
        if ty != ETH_TYPE_VLAN && ty != ETH_TYPE_QINQ {
            break;
        }
        let Some(tag) = header::<6>(d, off) else {
            break;
        };
        let tci = be16([tag[2], tag[3]]) | VLAN_CFI;
        if n == 0 {
            key.vlan_tpid = ty;
            key.vlan_tci = tci;
        } else {
            key.inner_vlan_tpid = ty;
            key.inner_vlan_tci = tci;
        }
        ty = be16([tag[4], tag[5]]);
        off += 4;
    }
    off += 2;

    if ty < ETH_TYPE_MIN {
        // 802.3 length. LLC DSAP/SSAP 0xaa, control 0x03, OUI 00-00-00 is
        // SNAP carrying an Ethernet type; anything else has no type.
        ty = ETH_TYPE_NONE;
        if let Some(snap) = header::<8>(d, off) {
            if snap[..6] == [0xaa, 0xaa, 0x03, 0, 0, 0] {
                let snap_ty = be16([snap[6], snap[7]]);
                if snap_ty >= ETH_TYPE_MIN {
                    ty = snap_ty;
                    off += 8;
                }
            }
        }
    }
    key.eth_type = ty;

    match ty {
        ETH_TYPE_IPV4 => {
            lay.l3 = ofs(off);
            parse_ipv4(d, off, key, lay)
        }
        ETH_TYPE_IPV6 => {
            lay.l3 = ofs(off);
            parse_ipv6(d, off, key, lay)
        }
        ETH_TYPE_ARP | ETH_TYPE_RARP => {
            lay.l3 = ofs(off);
            parse_arp(d, off, key)
        }
        ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST => parse_mpls(d, off, key, lay),
        _ => {
            lay.l3 = ofs(off);
            Some(())
        }
    }
}

/// MPLS: the top label stack entry, and where the stack ends (for `l3`).
/// Nothing beyond the stack is parsed: what it carries is not self-described.
fn parse_mpls(d: &[u8], off: usize, key: &mut FlowKey, lay: &mut Layout) -> Option<()> {
    let top: &[u8; 4] = header(d, off)?;
    key.mpls_lse = be32(*top);
    lay.l2_5 = ofs(off);
    // Walk to the bottom-of-stack bit; bounded by the frame (4 bytes a step).
    let mut p = off;
    loop {
        let lse: &[u8; 4] = header(d, p)?;
        p += 4;
        if lse[2] & 0x01 != 0 {
            lay.l3 = ofs(p);
            return Some(());
        }
    }
}

/// ARP and RARP for Ethernet hardware and IPv4 protocol addresses.
fn parse_arp(d: &[u8], off: usize, key: &mut FlowKey) -> Option<()> {
    let arp: &[u8; 28] = header(d, off)?;
    let (hrd, pro) = (be16([arp[0], arp[1]]), be16([arp[2], arp[3]]));
    let (hln, pln) = (arp[4], arp[5]);
    if hrd != 1 || pro != ETH_TYPE_IPV4 || hln != 6 || pln != 4 {
        return None;
    }
    let op = be16([arp[6], arp[7]]);
    // Only an opcode that fits is kept: 256 must not alias 0.
    if let Ok(op) = u8::try_from(op) {
        key.nw_proto = op;
    }
    key.arp_sha.copy_from_slice(&arp[8..14]);
    key.ipv4_src = be32([arp[14], arp[15], arp[16], arp[17]]);
    key.arp_tha.copy_from_slice(&arp[18..24]);
    key.ipv4_dst = be32([arp[24], arp[25], arp[26], arp[27]]);
    Some(())
}

/// IPv4: addresses, protocol, TOS, TTL, fragment state; then L4 unless this
/// is a later fragment.
#[inline(always)]
fn parse_ipv4(d: &[u8], off: usize, key: &mut FlowKey, lay: &mut Layout) -> Option<()> {
    let ip: &[u8; 20] = header(d, off)?;
    if ip[0] >> 4 != 4 {
        return None;
    }
    let hlen = usize::from(ip[0] & 0x0f) * 4;
    let tot_len = usize::from(be16([ip[2], ip[3]]));
    if hlen < 20 || tot_len < hlen || d.len() < off + hlen {
        return None;
    }
    key.nw_tos = ip[1];
    key.nw_ttl = ip[8];
    key.nw_proto = ip[9];
    key.ipv4_src = be32([ip[12], ip[13], ip[14], ip[15]]);
    key.ipv4_dst = be32([ip[16], ip[17], ip[18], ip[19]]);

    let frag = be16([ip[6], ip[7]]);
    if frag & (IP_MORE_FRAGMENTS | IP_FRAG_OFFSET_MASK) != 0 {
        key.nw_frag = FRAG_ANY;
        if frag & IP_FRAG_OFFSET_MASK != 0 {
            key.nw_frag |= FRAG_LATER;
            return Some(());
        }
    }

    let l4 = off + hlen;
    lay.l4 = ofs(l4);
    // Bytes past the total length are Ethernet padding, not L4.
    let d = d.get(..off + tot_len).unwrap_or(d);
    match key.nw_proto {
        IPPROTO_ICMP => {
            let icmp: &[u8; 4] = header(d, l4)?;
            key.tp_src = u16::from(icmp[0]);
            key.tp_dst = u16::from(icmp[1]);
            Some(())
        }
        proto => parse_transport(d, l4, proto, key, lay),
    }
}

/// IPv6: the fixed header, the extension header chain, then L4 unless this
/// is a later fragment.
#[inline(always)]
fn parse_ipv6(d: &[u8], off: usize, key: &mut FlowKey, lay: &mut Layout) -> Option<()> {
    let ip: &[u8; 40] = header(d, off)?;
    let vtc_flow = be32([ip[0], ip[1], ip[2], ip[3]]);
    if vtc_flow >> 28 != 6 {
        return None;
    }
    key.ipv6_label = vtc_flow & 0x000f_ffff;
    key.nw_tos = (vtc_flow >> 20) as u8;
    key.nw_ttl = ip[7];
    key.ipv6_src.copy_from_slice(&ip[8..24]);
    key.ipv6_dst.copy_from_slice(&ip[24..40]);

    let payload_len = usize::from(be16([ip[4], ip[5]]));
    let mut next = ip[6];
    key.nw_proto = next;
    let mut p = off + 40;
    // Bytes past the payload length are padding. A zero payload length
    // followed by a hop-by-hop header is a jumbogram: it runs to the end.
    let d = if payload_len == 0 && next == IPPROTO_HOPOPTS {
        d
    } else {
        d.get(..p + payload_len).unwrap_or(d)
    };

    let mut walked = 0;
    // Every extension header walked here is at least 8 bytes and starts
    // with its next-header byte and (except fragment) a length byte.
    while matches!(
        next,
        IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS | IPPROTO_AH | IPPROTO_FRAGMENT
    ) {
        let ext: &[u8; 8] = header(d, p)?;
        let len = match next {
            IPPROTO_FRAGMENT => 8,
            IPPROTO_AH => (usize::from(ext[1]) + 2) * 4,
            _ => (usize::from(ext[1]) + 1) * 8,
        };
        if walked == MAX_IPV6_EXT_HEADERS || d.len() < p + len {
            return None;
        }
        walked += 1;
        if next == IPPROTO_FRAGMENT {
            key.nw_frag = FRAG_ANY;
            if be16([ext[2], ext[3]]) & IP6F_OFF_MASK != 0 {
                key.nw_frag |= FRAG_LATER;
                key.nw_proto = ext[0];
                return Some(());
            }
        }
        next = ext[0];
        key.nw_proto = next;
        p += len;
    }

    lay.l4 = ofs(p);
    match next {
        IPPROTO_ICMPV6 => parse_icmpv6(d, p, key),
        proto => parse_transport(d, p, proto, key, lay),
    }
}

/// TCP, UDP and SCTP, shared by IPv4 and IPv6. `d` ends where the IP
/// payload ends.
#[inline(always)]
fn parse_transport(
    d: &[u8],
    off: usize,
    proto: u8,
    key: &mut FlowKey,
    lay: &mut Layout,
) -> Option<()> {
    match proto {
        IPPROTO_TCP => {
            let tcp: &[u8; 20] = header(d, off)?;
            let hlen = usize::from(tcp[12] >> 4) * 4;
            if hlen < 20 || d.len() < off + hlen {
                return None;
            }
            key.tp_src = be16([tcp[0], tcp[1]]);
            key.tp_dst = be16([tcp[2], tcp[3]]);
            key.tcp_flags = be16([tcp[12], tcp[13]]) & 0x0fff;
            lay.l7 = ofs(off + hlen);
        }
        IPPROTO_UDP => {
            let udp: &[u8; 8] = header(d, off)?;
            key.tp_src = be16([udp[0], udp[1]]);
            key.tp_dst = be16([udp[2], udp[3]]);
            lay.l7 = ofs(off + 8);
        }
        IPPROTO_SCTP => {
            // The 12-byte common header: ports, verification tag, checksum.
            let sctp: &[u8; 12] = header(d, off)?;
            key.tp_src = be16([sctp[0], sctp[1]]);
            key.tp_dst = be16([sctp[2], sctp[3]]);
            lay.l7 = ofs(off + 12);
        }
        _ => {}
    }
    Some(())
}

/// ICMPv6 type and code; for a neighbour solicitation or advertisement
/// (code 0) also the target address and the source / target link-layer
/// address options.
fn parse_icmpv6(d: &[u8], off: usize, key: &mut FlowKey) -> Option<()> {
    let icmp: &[u8; 4] = header(d, off)?;
    let (ty, code) = (icmp[0], icmp[1]);
    key.tp_src = u16::from(ty);
    key.tp_dst = u16::from(code);
    if code != 0 || (ty != ND_NEIGHBOR_SOLICIT && ty != ND_NEIGHBOR_ADVERT) {
        return Some(());
    }
    // Type, code, checksum, 4 bytes of flags/reserved, then the target.
    let nd: &[u8; 24] = header(d, off)?;
    let mut sll: Option<&[u8; 8]> = None;
    let mut tll: Option<&[u8; 8]> = None;
    // Options are whole multiples of 8 bytes; trailing bytes short of one
    // option are ignored. A zero-length or overlong option, or a repeated
    // link-layer address, makes the whole ND part invalid: keep type/code
    // only. Each step moves at least 8 bytes, so this is bounded.
    let mut p = off + 24;
    while let Some(opt) = header::<8>(d, p) {
        let len = usize::from(opt[1]) * 8;
        if len == 0 || d.len() < p + len {
            return None;
        }
        if len == 8 && (opt[0] == ND_OPT_SOURCE_LINKADDR || opt[0] == ND_OPT_TARGET_LINKADDR) {
            let slot = if opt[0] == ND_OPT_SOURCE_LINKADDR {
                &mut sll
            } else {
                &mut tll
            };
            if slot.replace(opt).is_some() {
                return None;
            }
        }
        p += len;
    }
    key.nd_target.copy_from_slice(&nd[8..24]);
    if let Some(o) = sll {
        key.arp_sha.copy_from_slice(&o[2..8]);
    }
    if let Some(o) = tll {
        key.arp_tha.copy_from_slice(&o[2..8]);
    }
    Some(())
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;

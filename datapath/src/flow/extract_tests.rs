//! Byte-fixture tests for flow key extraction: hand-built frames, each with
//! the exact key (and header layout) it must produce, plus truncation loops
//! and property tests that no input panics or reads past the frame.

use super::*;
use crate::flow::key::{
    ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST, ETH_TYPE_QINQ,
    ETH_TYPE_VLAN, FRAG_ANY, FRAG_LATER, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP,
    IPPROTO_UDP, VLAN_CFI, VLAN_VID_MASK,
};
use crate::wire::ip::protocol::{
    AH as IPPROTO_AH, DSTOPTS as IPPROTO_DSTOPTS, FRAGMENT as IPPROTO_FRAGMENT,
    HOPOPTS as IPPROTO_HOPOPTS, ROUTING as IPPROTO_ROUTING,
};
use proptest::prelude::*;

const DST: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const SRC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const V4_A: [u8; 4] = [10, 0, 0, 1];
const V4_B: [u8; 4] = [10, 0, 0, 2];
const V6_A: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
];
const V6_B: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
];

/// A TCP/IPv4 SYN as it would arrive on the wire, written out in full:
/// 02:00:00:00:00:01 -> 02:00:00:00:00:02, 10.0.0.1:40000 -> 10.0.0.2:80,
/// TOS 0x10, TTL 64, flags SYN|ECE|CWR, one 4-byte MSS option in a 24-byte
/// header, no payload.
const TCP_V4_SYN: [u8; 58] = [
    // Ethernet
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
    // IPv4: ver/ihl, tos, total length 44, id, DF, ttl 64, proto 6, csum
    0x45, 0x10, 0x00, 0x2c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, //
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, //
    // TCP: ports 40000 -> 80, seq, ack, data offset 6, flags 0xc2, window
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
    0x60, 0xc2, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, //
    // MSS 1460
    0x02, 0x04, 0x05, 0xb4,
];

fn tcp_v4_syn_key() -> FlowKey {
    FlowKey {
        eth_dst: DST,
        eth_src: SRC,
        eth_type: ETH_TYPE_IPV4,
        ipv4_src: 0x0a00_0001,
        ipv4_dst: 0x0a00_0002,
        nw_proto: IPPROTO_TCP,
        nw_tos: 0x10,
        nw_ttl: 64,
        tp_src: 40000,
        tp_dst: 80,
        tcp_flags: 0x0c2,
        ..FlowKey::default()
    }
}

// ---- frame builders (each writes its header field by field) ----

fn eth(ty: u16) -> Vec<u8> {
    [&DST[..], &SRC[..], &ty.to_be_bytes()].concat()
}

/// Ethernet with VLAN tags `(tpid, tci)`, outermost first.
fn eth_tagged(tags: &[(u16, u16)], ty: u16) -> Vec<u8> {
    let mut f = [&DST[..], &SRC[..]].concat();
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ty.to_be_bytes());
    f
}

struct V4 {
    tos: u8,
    ttl: u8,
    proto: u8,
    frag: u16,
    options: Vec<u8>,
}

impl V4 {
    fn new(proto: u8) -> Self {
        V4 {
            tos: 0,
            ttl: 64,
            proto,
            frag: 0,
            options: Vec::new(),
        }
    }

    /// The header (with total length covering `payload`) followed by it.
    fn with(&self, payload: &[u8]) -> Vec<u8> {
        assert_eq!(self.options.len() % 4, 0);
        let hlen = 20 + self.options.len();
        let total = (hlen + payload.len()) as u16;
        let mut h = vec![0x40 | (hlen / 4) as u8, self.tos];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0xab, 0xcd]);
        h.extend_from_slice(&self.frag.to_be_bytes());
        h.extend_from_slice(&[self.ttl, self.proto, 0, 0]);
        h.extend_from_slice(&V4_A);
        h.extend_from_slice(&V4_B);
        h.extend_from_slice(&self.options);
        h.extend_from_slice(payload);
        h
    }
}

/// IPv6 fixed header: traffic class 0xb9 (DSCP 46, ECN 1), flow label
/// 0x12345, hop limit 255, payload length covering `payload`.
fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let vtc_flow: u32 = (6 << 28) | (0xb9 << 20) | 0x12345;
    let mut h = vtc_flow.to_be_bytes().to_vec();
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 255]);
    h.extend_from_slice(&V6_A);
    h.extend_from_slice(&V6_B);
    h.extend_from_slice(payload);
    h
}

/// A hop-by-hop / routing / destination-options header of 8 bytes.
fn ext8(next: u8) -> Vec<u8> {
    vec![next, 0, 1, 4, 0, 0, 0, 0]
}

/// An IPv6 fragment header. `offset` is in 8-byte units.
fn frag6(next: u8, offset: u16, more: bool) -> Vec<u8> {
    let offlg = (offset << 3) | u16::from(more);
    let mut h = vec![next, 0];
    h.extend_from_slice(&offlg.to_be_bytes());
    h.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    h
}

fn tcp(sport: u16, dport: u16, flags: u16) -> Vec<u8> {
    let mut h = sport.to_be_bytes().to_vec();
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    h.extend_from_slice(&((5 << 12) | flags).to_be_bytes());
    h.extend_from_slice(&[0x20, 0x00, 0, 0, 0, 0]);
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = sport.to_be_bytes().to_vec();
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn parse(frame: &[u8]) -> (FlowKey, Layout) {
    let mut key = FlowKey::default();
    let layout = extract_frame(frame, &mut key);
    (key, layout)
}

fn lay(l2_5: Option<u16>, l3: Option<u16>, l4: Option<u16>, l7: Option<u16>) -> Layout {
    Layout { l2_5, l3, l4, l7 }
}

fn ipv4_key(proto: u8) -> FlowKey {
    FlowKey {
        eth_dst: DST,
        eth_src: SRC,
        eth_type: ETH_TYPE_IPV4,
        ipv4_src: 0x0a00_0001,
        ipv4_dst: 0x0a00_0002,
        nw_proto: proto,
        nw_ttl: 64,
        ..FlowKey::default()
    }
}

fn ipv6_key(proto: u8) -> FlowKey {
    FlowKey {
        eth_dst: DST,
        eth_src: SRC,
        eth_type: ETH_TYPE_IPV6,
        ipv6_src: V6_A,
        ipv6_dst: V6_B,
        ipv6_label: 0x12345,
        nw_tos: 0xb9,
        nw_ttl: 255,
        nw_proto: proto,
        ..FlowKey::default()
    }
}

// ---- Ethernet, metadata, key reuse ----

#[test]
fn tcp_ipv4_full_key_and_layout() {
    let (key, layout) = parse(&TCP_V4_SYN);
    assert_eq!(key, tcp_v4_syn_key());
    assert_eq!(layout, lay(None, Some(14), Some(34), Some(58)));
}

#[test]
fn packet_metadata_goes_into_the_key() {
    let mut p = Packet::from_bytes(&TCP_V4_SYN);
    p.in_port = 7;
    p.mark = 0xfeed;
    p.recirc_id = 3;
    let mut key = FlowKey::default();
    let layout = extract_with_layout(&p, &mut key);
    let expected = FlowKey {
        in_port: 7,
        pkt_mark: 0xfeed,
        recirc_id: 3,
        ..tcp_v4_syn_key()
    };
    assert_eq!(key, expected);
    assert_eq!(layout.l7, Some(58));
    let mut again = FlowKey::default();
    extract(&p, &mut again);
    assert_eq!(again, expected);
}

#[test]
fn a_dirty_key_is_overwritten() {
    let mut key = FlowKey::exact();
    extract_frame(&eth(0x88cc), &mut key);
    let expected = FlowKey {
        eth_dst: DST,
        eth_src: SRC,
        eth_type: 0x88cc,
        ..FlowKey::default()
    };
    assert_eq!(key, expected);
}

#[test]
fn frames_shorter_than_ethernet_give_an_empty_key() {
    for len in 0..14 {
        let (key, layout) = parse(&TCP_V4_SYN[..len]);
        assert!(key.is_zero(), "len {len}");
        assert_eq!(layout, Layout::default());
    }
}

#[test]
fn unknown_ethertype_stops_after_l2() {
    let f = cat(&[&eth(0x88cc), &[1, 2, 3, 4]]);
    let (key, layout) = parse(&f);
    assert_eq!(key.eth_type, 0x88cc);
    assert_eq!(key.nw_proto, 0);
    assert_eq!(layout, lay(None, Some(14), None, None));
}

#[test]
fn ieee_802_3_llc_has_no_type() {
    // Length 38, LLC for spanning tree (DSAP/SSAP 0x42).
    let f = cat(&[&eth(38), &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]]);
    let (key, layout) = parse(&f);
    assert_eq!(key.eth_type, ETH_TYPE_NONE);
    assert_eq!(layout.l3, Some(14));
}

#[test]
fn ieee_802_3_snap_carries_a_type() {
    let snap = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
    let ip = V4::new(IPPROTO_UDP).with(&udp(53, 5353, b"q"));
    let f = cat(&[&eth(64), &snap, &ip]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        tp_src: 53,
        tp_dst: 5353,
        ..ipv4_key(IPPROTO_UDP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(22), Some(42), Some(50)));
    // A SNAP header with a non-zero OUI names no Ethernet type.
    let f = cat(&[&eth(64), &[0xaa, 0xaa, 0x03, 0, 0, 1, 0x08, 0x00], &ip]);
    assert_eq!(parse(&f).0.eth_type, ETH_TYPE_NONE);
}

// ---- VLAN ----

#[test]
fn single_8021q_tag() {
    // PCP 5, VID 100.
    let f = cat(&[
        &eth_tagged(&[(ETH_TYPE_VLAN, 0xa064)], ETH_TYPE_IPV4),
        &V4::new(IPPROTO_TCP).with(&tcp(1234, 443, 0x010)),
    ]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        vlan_tpid: ETH_TYPE_VLAN,
        vlan_tci: 0xa064 | VLAN_CFI,
        tp_src: 1234,
        tp_dst: 443,
        tcp_flags: 0x010,
        ..ipv4_key(IPPROTO_TCP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(18), Some(38), Some(58)));
}

#[test]
fn vlan_zero_differs_from_no_vlan() {
    let f = cat(&[&eth_tagged(&[(ETH_TYPE_VLAN, 0)], 0x88cc)]);
    let (key, _) = parse(&f);
    assert_eq!(key.vlan_tci, VLAN_CFI);
    assert_eq!(key.vlan_tci & VLAN_VID_MASK, 0);
    assert_eq!(key.eth_type, 0x88cc);
}

#[test]
fn qinq_outer_8021ad_inner_8021q() {
    let f = cat(&[
        &eth_tagged(
            &[(ETH_TYPE_QINQ, 0x200a), (ETH_TYPE_VLAN, 0x0014)],
            ETH_TYPE_IPV4,
        ),
        &V4::new(IPPROTO_UDP).with(&udp(4789, 4789, &[0; 8])),
    ]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        vlan_tpid: ETH_TYPE_QINQ,
        vlan_tci: 0x200a | VLAN_CFI,
        inner_vlan_tpid: ETH_TYPE_VLAN,
        inner_vlan_tci: 0x0014 | VLAN_CFI,
        tp_src: 4789,
        tp_dst: 4789,
        ..ipv4_key(IPPROTO_UDP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(22), Some(42), Some(50)));
}

#[test]
fn a_third_tag_is_not_parsed() {
    let f = cat(&[
        &eth_tagged(
            &[(ETH_TYPE_QINQ, 1), (ETH_TYPE_VLAN, 2), (ETH_TYPE_VLAN, 3)],
            ETH_TYPE_IPV4,
        ),
        &V4::new(IPPROTO_UDP).with(&udp(1, 2, &[])),
    ]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        eth_dst: DST,
        eth_src: SRC,
        eth_type: ETH_TYPE_VLAN,
        vlan_tpid: ETH_TYPE_QINQ,
        vlan_tci: 1 | VLAN_CFI,
        inner_vlan_tpid: ETH_TYPE_VLAN,
        inner_vlan_tci: 2 | VLAN_CFI,
        ..FlowKey::default()
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(22), None, None));
}

#[test]
fn a_cut_off_tag_is_not_parsed() {
    let full = eth_tagged(&[(ETH_TYPE_VLAN, 0x0064)], ETH_TYPE_IPV4);
    for len in 14..full.len() {
        let (key, layout) = parse(&full[..len]);
        let expected = FlowKey {
            eth_dst: DST,
            eth_src: SRC,
            eth_type: ETH_TYPE_VLAN,
            ..FlowKey::default()
        };
        assert_eq!(key, expected, "len {len}");
        assert_eq!(layout.l3, Some(14));
    }
}

// ---- ARP ----

fn arp_body(op: u16, hln: u8) -> Vec<u8> {
    let mut b = vec![0x00, 0x01, 0x08, 0x00, hln, 4];
    b.extend_from_slice(&op.to_be_bytes());
    b.extend_from_slice(&SRC);
    b.extend_from_slice(&V4_A);
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&V4_B);
    b
}

fn arp_key(ty: u16, op: u8) -> FlowKey {
    FlowKey {
        eth_dst: [0xff; 6],
        eth_src: SRC,
        eth_type: ty,
        nw_proto: op,
        ipv4_src: 0x0a00_0001,
        ipv4_dst: 0x0a00_0002,
        arp_sha: SRC,
        arp_tha: [0; 6],
        ..FlowKey::default()
    }
}

fn broadcast(mut f: Vec<u8>) -> Vec<u8> {
    f[..6].copy_from_slice(&[0xff; 6]);
    f
}

#[test]
fn arp_request() {
    // Padded to the 60-byte minimum, as on the wire.
    let mut f = broadcast(cat(&[&eth(ETH_TYPE_ARP), &arp_body(1, 6)]));
    f.resize(60, 0);
    let (key, layout) = parse(&f);
    assert_eq!(key, arp_key(ETH_TYPE_ARP, 1));
    assert_eq!(layout, lay(None, Some(14), None, None));
}

#[test]
fn arp_reply_with_target_hardware_address() {
    let mut body = arp_body(2, 6);
    body[18..24].copy_from_slice(&DST);
    let f = broadcast(cat(&[&eth(ETH_TYPE_ARP), &body]));
    let expected = FlowKey {
        arp_tha: DST,
        ..arp_key(ETH_TYPE_ARP, 2)
    };
    assert_eq!(parse(&f).0, expected);
}

#[test]
fn rarp_is_parsed_like_arp() {
    let f = broadcast(cat(&[&eth(ETH_TYPE_RARP), &arp_body(3, 6)]));
    assert_eq!(parse(&f).0, arp_key(ETH_TYPE_RARP, 3));
}

#[test]
fn arp_opcode_above_255_is_not_aliased() {
    let f = broadcast(cat(&[&eth(ETH_TYPE_ARP), &arp_body(0x0101, 6)]));
    assert_eq!(parse(&f).0, arp_key(ETH_TYPE_ARP, 0));
}

#[test]
fn arp_for_other_hardware_is_l2_only() {
    let f = broadcast(cat(&[&eth(ETH_TYPE_ARP), &arp_body(1, 8), &[0; 4]]));
    let (key, _) = parse(&f);
    assert_eq!(key.eth_type, ETH_TYPE_ARP);
    assert_eq!((key.nw_proto, key.ipv4_src, key.arp_sha), (0, 0, [0; 6]));
}

// ---- IPv4 ----

#[test]
fn ipv4_options_are_skipped_by_ihl() {
    // Router alert (4 bytes) + 4 NOPs... as 8 option bytes: IHL 7.
    let mut v4 = V4::new(IPPROTO_TCP);
    v4.options = vec![0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00];
    v4.tos = 0xb8;
    v4.ttl = 1;
    let f = cat(&[&eth(ETH_TYPE_IPV4), &v4.with(&tcp(22, 50000, 0x018))]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        nw_tos: 0xb8,
        nw_ttl: 1,
        tp_src: 22,
        tp_dst: 50000,
        tcp_flags: 0x018,
        ..ipv4_key(IPPROTO_TCP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(14), Some(42), Some(62)));
}

#[test]
fn all_twelve_tcp_flag_bits() {
    let f = cat(&[
        &eth(ETH_TYPE_IPV4),
        &V4::new(IPPROTO_TCP).with(&tcp(1, 2, 0x0fff)),
    ]);
    assert_eq!(parse(&f).0.tcp_flags, 0x0fff);
}

#[test]
fn tcp_with_a_bad_data_offset_has_no_ports() {
    for doff in [0u8, 4, 15] {
        let mut seg = tcp(1, 2, 0x002);
        seg[12] = (doff << 4) | (seg[12] & 0x0f);
        let f = cat(&[&eth(ETH_TYPE_IPV4), &V4::new(IPPROTO_TCP).with(&seg)]);
        let (key, layout) = parse(&f);
        assert_eq!(key, ipv4_key(IPPROTO_TCP), "doff {doff}");
        assert_eq!(layout, lay(None, Some(14), Some(34), None));
    }
}

#[test]
fn udp_ipv4() {
    let f = cat(&[
        &eth(ETH_TYPE_IPV4),
        &V4::new(IPPROTO_UDP).with(&udp(68, 67, &[0; 16])),
    ]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        tp_src: 68,
        tp_dst: 67,
        ..ipv4_key(IPPROTO_UDP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(14), Some(34), Some(42)));
}

#[test]
fn sctp_ipv4() {
    // Common header: ports 5000 -> 3868 (Diameter), vtag, CRC32c; then INIT.
    let sctp = [
        0x13, 0x88, 0x0f, 0x1c, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 1, 0, 0, 4,
    ];
    let f = cat(&[&eth(ETH_TYPE_IPV4), &V4::new(IPPROTO_SCTP).with(&sctp)]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        tp_src: 5000,
        tp_dst: 3868,
        ..ipv4_key(IPPROTO_SCTP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout.l7, Some(46));
}

#[test]
fn icmpv4_type_and_code() {
    // Echo request, then port unreachable.
    for (ty, code) in [(8u8, 0u8), (3, 3)] {
        let icmp = [ty, code, 0, 0, 0, 1, 0, 1];
        let f = cat(&[&eth(ETH_TYPE_IPV4), &V4::new(IPPROTO_ICMP).with(&icmp)]);
        let (key, layout) = parse(&f);
        let expected = FlowKey {
            tp_src: ty.into(),
            tp_dst: code.into(),
            ..ipv4_key(IPPROTO_ICMP)
        };
        assert_eq!(key, expected);
        assert_eq!(layout, lay(None, Some(14), Some(34), None));
    }
}

#[test]
fn ipv4_first_fragment_parses_l4() {
    let mut v4 = V4::new(IPPROTO_UDP);
    v4.frag = 0x2000; // MF, offset 0
    let f = cat(&[&eth(ETH_TYPE_IPV4), &v4.with(&udp(1000, 2000, &[7; 32]))]);
    let (key, _) = parse(&f);
    let expected = FlowKey {
        nw_frag: FRAG_ANY,
        tp_src: 1000,
        tp_dst: 2000,
        ..ipv4_key(IPPROTO_UDP)
    };
    assert_eq!(key, expected);
}

#[test]
fn ipv4_later_fragments_do_not_parse_l4() {
    // Offset 185 (1480 bytes), with and without MF; the payload looks like
    // a UDP header but is the middle of a datagram.
    for frag in [0x2000 | 185, 185] {
        let mut v4 = V4::new(IPPROTO_UDP);
        v4.frag = frag;
        let f = cat(&[&eth(ETH_TYPE_IPV4), &v4.with(&udp(1000, 2000, &[7; 32]))]);
        let (key, layout) = parse(&f);
        let expected = FlowKey {
            nw_frag: FRAG_ANY | FRAG_LATER,
            ..ipv4_key(IPPROTO_UDP)
        };
        assert_eq!(key, expected, "frag {frag:#x}");
        assert_eq!(layout, lay(None, Some(14), None, None));
    }
}

#[test]
fn dont_fragment_is_not_a_fragment() {
    let mut v4 = V4::new(IPPROTO_UDP);
    v4.frag = 0x4000;
    let f = cat(&[&eth(ETH_TYPE_IPV4), &v4.with(&udp(1, 2, &[]))]);
    assert_eq!(parse(&f).0.nw_frag, 0);
}

#[test]
fn ethernet_padding_is_not_l4() {
    // A 20-byte IPv4 header claiming TCP with no payload, padded to 60
    // bytes with bytes that would make a plausible TCP header.
    let mut f = cat(&[&eth(ETH_TYPE_IPV4), &V4::new(IPPROTO_TCP).with(&[])]);
    f.extend_from_slice(&tcp(1, 2, 0x002));
    f.extend_from_slice(&[0; 6]);
    assert_eq!(f.len(), 60);
    let (key, layout) = parse(&f);
    assert_eq!(key, ipv4_key(IPPROTO_TCP));
    assert_eq!(layout, lay(None, Some(14), Some(34), None));
}

#[test]
fn malformed_ipv4_headers_are_l2_only() {
    let good = cat(&[
        &eth(ETH_TYPE_IPV4),
        &V4::new(IPPROTO_UDP).with(&udp(1, 2, &[])),
    ]);
    let l2_only = FlowKey {
        eth_dst: DST,
        eth_src: SRC,
        eth_type: ETH_TYPE_IPV4,
        ..FlowKey::default()
    };
    let mut bad_version = good.clone();
    bad_version[14] = 0x65;
    let mut short_ihl = good.clone();
    short_ihl[14] = 0x44;
    let mut options_cut_off = good.clone();
    options_cut_off[14] = 0x4f; // 60-byte header in a 42-byte frame
    options_cut_off[16..18].copy_from_slice(&68u16.to_be_bytes());
    let mut short_total = good.clone();
    short_total[16..18].copy_from_slice(&19u16.to_be_bytes());
    for (name, f) in [
        ("version", bad_version),
        ("ihl", short_ihl),
        ("options", options_cut_off),
        ("total length", short_total),
    ] {
        let (key, layout) = parse(&f);
        assert_eq!(key, l2_only, "{name}");
        assert_eq!(layout, lay(None, Some(14), None, None), "{name}");
    }
}

#[test]
fn tcp_ipv4_truncated_at_every_length() {
    let full = tcp_v4_syn_key();
    let l2 = FlowKey {
        eth_dst: DST,
        eth_src: SRC,
        eth_type: ETH_TYPE_IPV4,
        ..FlowKey::default()
    };
    let l3 = FlowKey {
        tp_src: 0,
        tp_dst: 0,
        tcp_flags: 0,
        ..full
    };
    for len in 0..=TCP_V4_SYN.len() {
        let (key, layout) = parse(&TCP_V4_SYN[..len]);
        let expected = match len {
            0..=13 => FlowKey::default(),
            14..=33 => l2,
            34..=57 => l3, // TCP header (24 bytes with options) incomplete
            _ => full,
        };
        assert_eq!(key, expected, "len {len}");
        assert!(layout_within(&layout, len), "len {len}: {layout:?}");
    }
}

// ---- IPv6 ----

#[test]
fn tcp_ipv6() {
    let f = cat(&[
        &eth(ETH_TYPE_IPV6),
        &ipv6(IPPROTO_TCP, &tcp(443, 51000, 0x011)),
    ]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        tp_src: 443,
        tp_dst: 51000,
        tcp_flags: 0x011,
        ..ipv6_key(IPPROTO_TCP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(14), Some(54), Some(74)));
}

#[test]
fn udp_ipv6_ignores_padding_and_checks_version() {
    let mut f = cat(&[
        &eth(ETH_TYPE_IPV6),
        &ipv6(IPPROTO_UDP, &udp(546, 547, &[1; 4])),
    ]);
    let expected = FlowKey {
        tp_src: 546,
        tp_dst: 547,
        ..ipv6_key(IPPROTO_UDP)
    };
    f.extend_from_slice(&[0xee; 10]);
    assert_eq!(parse(&f).0, expected);
    f[14] = 0x40; // version 4 in an IPv6 ethertype
    let (key, layout) = parse(&f);
    assert_eq!((key.nw_proto, key.ipv6_src, key.tp_src), (0, [0; 16], 0));
    assert_eq!(layout, lay(None, Some(14), None, None));
}

#[test]
fn ipv6_hop_by_hop_then_first_fragment() {
    let payload = cat(&[
        &ext8(IPPROTO_FRAGMENT),
        &frag6(IPPROTO_UDP, 0, true),
        &udp(5000, 6000, &[0; 24]),
    ]);
    let f = cat(&[&eth(ETH_TYPE_IPV6), &ipv6(0, &payload)]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        nw_frag: FRAG_ANY,
        tp_src: 5000,
        tp_dst: 6000,
        ..ipv6_key(IPPROTO_UDP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(14), Some(70), Some(78)));
}

#[test]
fn ipv6_hop_by_hop_then_later_fragment() {
    let payload = cat(&[
        &ext8(IPPROTO_FRAGMENT),
        &frag6(IPPROTO_TCP, 181, false),
        &tcp(1, 2, 0x002),
    ]);
    let f = cat(&[&eth(ETH_TYPE_IPV6), &ipv6(0, &payload)]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        nw_frag: FRAG_ANY | FRAG_LATER,
        ..ipv6_key(IPPROTO_TCP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(14), None, None));
}

#[test]
fn ipv6_routing_destination_options_and_ah_are_walked() {
    // Routing header of 24 bytes (len field 2), destination options, then
    // AH with a 12-byte ICV (len field 4: (4 + 2) * 4 = 24 bytes).
    let mut routing = vec![IPPROTO_DSTOPTS, 2, 0, 0];
    routing.resize(24, 0);
    let mut ah = vec![IPPROTO_UDP, 4, 0, 0];
    ah.resize(24, 0xaa);
    let payload = cat(&[&routing, &ext8(IPPROTO_AH), &ah, &udp(53, 53, &[])]);
    let f = cat(&[&eth(ETH_TYPE_IPV6), &ipv6(IPPROTO_ROUTING, &payload)]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        tp_src: 53,
        tp_dst: 53,
        ..ipv6_key(IPPROTO_UDP)
    };
    assert_eq!(key, expected);
    assert_eq!(layout.l4, Some(14 + 40 + 24 + 8 + 24));
}

#[test]
fn ipv6_cut_off_extension_header_stops_at_it() {
    // A hop-by-hop header claiming 16 bytes, with only 8 in the payload.
    let payload = vec![IPPROTO_UDP, 1, 0, 0, 0, 0, 0, 0];
    let f = cat(&[&eth(ETH_TYPE_IPV6), &ipv6(0, &payload), &[0; 8]]);
    let (key, layout) = parse(&f);
    assert_eq!(key, ipv6_key(IPPROTO_HOPOPTS));
    assert_eq!(layout, lay(None, Some(14), None, None));
}

#[test]
fn ipv6_extension_chain_is_bounded() {
    let mut payload = Vec::new();
    for _ in 0..40 {
        payload.extend_from_slice(&ext8(IPPROTO_DSTOPTS));
    }
    let f = cat(&[&eth(ETH_TYPE_IPV6), &ipv6(IPPROTO_DSTOPTS, &payload)]);
    let (key, layout) = parse(&f);
    assert_eq!(key, ipv6_key(IPPROTO_DSTOPTS));
    assert_eq!(layout.l4, None);
}

#[test]
fn ipv6_jumbogram_runs_to_the_end_of_the_frame() {
    let payload = cat(&[&ext8(IPPROTO_UDP), &udp(9, 10, &[])]);
    let mut ip = ipv6(0, &payload);
    ip[4..6].copy_from_slice(&[0, 0]);
    let f = cat(&[&eth(ETH_TYPE_IPV6), &ip]);
    let (key, _) = parse(&f);
    assert_eq!((key.nw_proto, key.tp_src, key.tp_dst), (IPPROTO_UDP, 9, 10));
}

// ---- ICMPv6 and neighbour discovery ----

const TARGET: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42];

fn nd(ty: u8, options: &[&[u8]]) -> Vec<u8> {
    let mut m = vec![ty, 0, 0, 0, 0x60, 0, 0, 0];
    m.extend_from_slice(&TARGET);
    for o in options {
        m.extend_from_slice(o);
    }
    m
}

fn lla(ty: u8, mac: [u8; 6]) -> Vec<u8> {
    cat(&[&[ty, 1], &mac])
}

fn nd_frame(msg: &[u8]) -> Vec<u8> {
    cat(&[&eth(ETH_TYPE_IPV6), &ipv6(IPPROTO_ICMPV6, msg)])
}

#[test]
fn icmpv6_echo() {
    let f = nd_frame(&[128, 0, 0, 0, 0, 1, 0, 1]);
    let expected = FlowKey {
        tp_src: 128,
        ..ipv6_key(IPPROTO_ICMPV6)
    };
    let (key, layout) = parse(&f);
    assert_eq!(key, expected);
    assert_eq!(layout, lay(None, Some(14), Some(54), None));
}

#[test]
fn neighbour_solicitation_with_source_link_layer_address() {
    let f = nd_frame(&nd(135, &[&lla(1, SRC)]));
    let expected = FlowKey {
        tp_src: 135,
        nd_target: TARGET,
        arp_sha: SRC,
        ..ipv6_key(IPPROTO_ICMPV6)
    };
    assert_eq!(parse(&f).0, expected);
}

#[test]
fn neighbour_advertisement_with_target_link_layer_address() {
    let f = nd_frame(&nd(136, &[&lla(2, DST)]));
    let expected = FlowKey {
        tp_src: 136,
        nd_target: TARGET,
        arp_tha: DST,
        ..ipv6_key(IPPROTO_ICMPV6)
    };
    assert_eq!(parse(&f).0, expected);
}

#[test]
fn nd_skips_other_options_and_takes_both_addresses() {
    let nonce = [14u8, 1, 1, 2, 3, 4, 5, 6];
    let f = nd_frame(&nd(135, &[&nonce, &lla(2, DST), &lla(1, SRC)]));
    let expected = FlowKey {
        tp_src: 135,
        nd_target: TARGET,
        arp_sha: SRC,
        arp_tha: DST,
        ..ipv6_key(IPPROTO_ICMPV6)
    };
    assert_eq!(parse(&f).0, expected);
}

#[test]
fn nd_without_options_has_only_the_target() {
    let f = nd_frame(&nd(136, &[]));
    let expected = FlowKey {
        tp_src: 136,
        nd_target: TARGET,
        ..ipv6_key(IPPROTO_ICMPV6)
    };
    assert_eq!(parse(&f).0, expected);
}

#[test]
fn malformed_nd_keeps_only_type_and_code() {
    let only_type = FlowKey {
        tp_src: 135,
        ..ipv6_key(IPPROTO_ICMPV6)
    };
    let zero_len = [1u8, 0, 1, 2, 3, 4, 5, 6];
    let overlong = [1u8, 2, 1, 2, 3, 4, 5, 6];
    let cases: [(&str, Vec<u8>); 4] = [
        ("zero-length option", nd(135, &[&zero_len])),
        ("overlong option", nd(135, &[&overlong])),
        ("repeated SLL", nd(135, &[&lla(1, SRC), &lla(1, DST)])),
        ("no room for the target", nd(135, &[])[..20].to_vec()),
    ];
    for (name, msg) in cases {
        assert_eq!(parse(&nd_frame(&msg)).0, only_type, "{name}");
    }
    // A non-zero code is not ND at all.
    let mut msg = nd(135, &[&lla(1, SRC)]);
    msg[1] = 1;
    let expected = FlowKey {
        tp_src: 135,
        tp_dst: 1,
        ..ipv6_key(IPPROTO_ICMPV6)
    };
    assert_eq!(parse(&nd_frame(&msg)).0, expected);
}

// ---- MPLS ----

fn lse(label: u32, tc: u32, bos: bool, ttl: u32) -> u32 {
    (label << 12) | (tc << 9) | (u32::from(bos) << 8) | ttl
}

#[test]
fn mpls_single_label_stops_at_the_stack() {
    let top = lse(100, 3, true, 64);
    let inner = V4::new(IPPROTO_TCP).with(&tcp(1, 2, 0x002));
    let f = cat(&[&eth(ETH_TYPE_MPLS), &top.to_be_bytes(), &inner]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        eth_dst: DST,
        eth_src: SRC,
        eth_type: ETH_TYPE_MPLS,
        mpls_lse: top,
        ..FlowKey::default()
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(Some(14), Some(18), None, None));
}

#[test]
fn mpls_multicast_two_labels() {
    let (top, bottom) = (lse(1000, 0, false, 255), lse(16, 5, true, 254));
    let f = cat(&[
        &eth_tagged(&[(ETH_TYPE_VLAN, 7)], ETH_TYPE_MPLS_MCAST),
        &top.to_be_bytes(),
        &bottom.to_be_bytes(),
        &[0x45, 0, 0, 20],
    ]);
    let (key, layout) = parse(&f);
    let expected = FlowKey {
        eth_dst: DST,
        eth_src: SRC,
        eth_type: ETH_TYPE_MPLS_MCAST,
        vlan_tpid: ETH_TYPE_VLAN,
        vlan_tci: 7 | VLAN_CFI,
        mpls_lse: top,
        ..FlowKey::default()
    };
    assert_eq!(key, expected);
    assert_eq!(layout, lay(Some(18), Some(26), None, None));
}

#[test]
fn mpls_without_bottom_of_stack_has_no_l3() {
    let top = lse(1, 0, false, 1);
    let f = cat(&[&eth(ETH_TYPE_MPLS), &top.to_be_bytes(), &[0, 0]]);
    let (key, layout) = parse(&f);
    assert_eq!(key.mpls_lse, top);
    assert_eq!(layout, lay(Some(14), None, None, None));
    // And a cut-off first entry leaves the key at L2.
    let (key, layout) = parse(&f[..17]);
    assert_eq!(key.mpls_lse, 0);
    assert_eq!(layout, Layout::default());
}

// ---- robustness ----

/// Every offset is inside the frame (or at its end) and in header order.
fn layout_within(l: &Layout, len: usize) -> bool {
    let offs = [l.l2_5, l.l3, l.l4, l.l7];
    let in_frame = offs.iter().flatten().all(|&o| usize::from(o) <= len);
    let ordered = offs
        .iter()
        .flatten()
        .zip(offs.iter().flatten().skip(1))
        .all(|(a, b)| a <= b);
    in_frame && ordered
}

fn fixtures() -> Vec<Vec<u8>> {
    vec![
        TCP_V4_SYN.to_vec(),
        cat(&[
            &eth_tagged(&[(ETH_TYPE_QINQ, 10), (ETH_TYPE_VLAN, 20)], ETH_TYPE_IPV6),
            &ipv6(
                0,
                &cat(&[
                    &ext8(IPPROTO_FRAGMENT),
                    &frag6(IPPROTO_TCP, 0, true),
                    &tcp(1, 2, 3),
                ]),
            ),
        ]),
        nd_frame(&nd(135, &[&lla(1, SRC), &lla(2, DST)])),
        broadcast(cat(&[&eth(ETH_TYPE_ARP), &arp_body(1, 6)])),
        cat(&[
            &eth(ETH_TYPE_MPLS),
            &lse(5, 0, false, 9).to_be_bytes(),
            &lse(6, 0, true, 9).to_be_bytes(),
            &[0x45],
        ]),
        cat(&[&eth(ETH_TYPE_IPV4), &V4::new(IPPROTO_SCTP).with(&[0; 12])]),
    ]
}

#[test]
fn every_fixture_truncated_at_every_length() {
    for (i, f) in fixtures().iter().enumerate() {
        let (full, _) = parse(f);
        assert!(!full.is_zero());
        for len in 0..=f.len() {
            let (_, layout) = parse(&f[..len]);
            assert!(layout_within(&layout, len), "fixture {i} len {len}");
        }
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (_, layout) = parse(&bytes);
        prop_assert!(layout_within(&layout, bytes.len()));
    }

    /// Random bytes after a valid Ethernet type reach the deeper parsers far
    /// more often than fully random frames do.
    #[test]
    fn random_payloads_never_panic(
        ty in prop::sample::select(vec![
            ETH_TYPE_IPV4, ETH_TYPE_IPV6, ETH_TYPE_ARP, ETH_TYPE_VLAN, ETH_TYPE_QINQ,
            ETH_TYPE_MPLS, 0x0040,
        ]),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let f = cat(&[&eth(ty), &body]);
        let (_, layout) = parse(&f);
        prop_assert!(layout_within(&layout, f.len()));
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..6,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut f = fixtures().swap_remove(which);
        for (at, byte) in flips {
            let i = at.index(f.len());
            f[i] = byte;
        }
        f.truncate(cut.index(f.len() + 1));
        let (_, layout) = parse(&f);
        prop_assert!(layout_within(&layout, f.len()));
    }
}

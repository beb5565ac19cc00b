//! Execution tests: every set-field on real frames (checksums checked by the
//! independent verifier), pushes and pops, TTLs, and the copy / hand-over
//! semantics of outputs, clones and truncation, with a recording sink.

use super::verify::*;
use super::*;
use crate::actions::{Field, FieldValue};
use crate::packet::CsumPartial;
use std::sync::Arc;

/// A sink that records everything and counts buffers.
#[derive(Default)]
struct Rec {
    outputs: Vec<(PortNo, Packet)>,
    userspace: Vec<(Vec<u8>, u64)>,
    recirc: Vec<(u32, Packet)>,
    meters: Vec<(u32, usize)>,
    meter_drops: bool,
    meter_remark: Option<u8>,
    allocs: usize,
    frees: usize,
}

impl ExecSink for Rec {
    fn output(&mut self, port: PortNo, packet: Packet) {
        self.outputs.push((port, packet));
    }
    fn userspace(&mut self, packet: &Packet, _key: &FlowKey, userdata: u64) {
        self.userspace.push((packet.data().to_vec(), userdata));
    }
    fn recirculate(&mut self, packet: Packet, recirc_id: u32) {
        self.recirc.push((recirc_id, packet));
    }
    fn meter(&mut self, meter_id: u32, len: usize) -> MeterVerdict {
        self.meters.push((meter_id, len));
        if self.meter_drops {
            MeterVerdict::Drop
        } else if let Some(levels) = self.meter_remark {
            MeterVerdict::RemarkDscp(levels)
        } else {
            MeterVerdict::Pass
        }
    }
    fn alloc(&mut self) -> Packet {
        self.allocs += 1;
        Packet::default()
    }
    fn free(&mut self, _packet: Packet) {
        self.frees += 1;
    }
}

impl Rec {
    /// Every buffer that came in (the original plus allocations) left
    /// exactly once.
    fn balanced(&self) -> bool {
        1 + self.allocs == self.outputs.len() + self.recirc.len() + self.frees
    }
    fn out(&self, i: usize) -> &[u8] {
        self.outputs[i].1.data()
    }
}

fn exec(actions: &[Action], frame: &[u8]) -> Rec {
    exec_pkt(actions, Packet::from_bytes(frame))
}

fn exec_pkt(actions: &[Action], packet: Packet) -> Rec {
    let mut rec = Rec::default();
    execute(actions, packet, &FlowKey::default(), &mut rec);
    assert!(rec.balanced(), "buffer accounting");
    rec
}

/// Run `set field=value/mask, output:1` and return the output frame, with
/// checksums verified.
fn set_masked(frame: &[u8], field: Field, value: u128, mask: u128) -> Vec<u8> {
    verify(frame).expect("fixture is valid");
    let rec = exec(
        &[Action::set_masked(field, value, mask), Action::Output(1)],
        frame,
    );
    assert_eq!(rec.outputs.len(), 1);
    assert_eq!(rec.allocs, 0, "single output must not copy");
    let out = rec.out(0).to_vec();
    if let Err(e) = verify(&out) {
        panic!("{field:?}: {e}");
    }
    out
}

fn set(frame: &[u8], field: Field, value: u128) -> Vec<u8> {
    let ones = FieldValue::ones(field.width()).as_u128();
    set_masked(frame, field, value, ones)
}

fn tcp4() -> Vec<u8> {
    ipv4(&[], 6, &tcp(1000, 80, b"hello, world!"))
}

fn diff(a: &[u8], b: &[u8]) -> Vec<usize> {
    assert_eq!(a.len(), b.len());
    (0..a.len()).filter(|&i| a[i] != b[i]).collect()
}

// ---- set-field, L2 ----

#[test]
fn set_eth_addresses_and_type() {
    let f = tcp4();
    let o = set(&f, Field::EthDst, 0x0011_2233_4455);
    assert_eq!(&o[0..6], &[0, 0x11, 0x22, 0x33, 0x44, 0x55]);
    assert_eq!(diff(&f, &o), vec![0, 1, 2, 3, 4, 5]);
    let o = set(&f, Field::EthSrc, 0x0a0b_0c0d_0e0f);
    assert_eq!(&o[6..12], &[0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]);
    let o = set(&f, Field::EthType, 0x1234);
    assert_eq!(&o[12..14], &[0x12, 0x34]);
}

#[test]
fn set_masked_eth_dst() {
    let f = tcp4();
    let o = set_masked(&f, Field::EthDst, 0xffff_ffff_ffff, 0x0000_0000_00f0);
    assert_eq!(o[5], MAC_B[5] | 0xf0);
    assert_eq!(diff(&f, &o), vec![5]);
}

#[test]
fn set_vlan_fields_on_outer_tag() {
    let f = ipv4(&[(0x88a8, 0x2005), (0x8100, 0x0007)], 6, &tcp(1, 2, b"x"));
    let o = set(&f, Field::VlanVid, 0xabc);
    assert_eq!(&o[14..16], &[0x2a, 0xbc]);
    assert_eq!(&o[18..20], &[0x00, 0x07], "inner tag untouched");
    let o = set(&f, Field::VlanPcp, 7);
    assert_eq!(&o[14..16], &[0xe0, 0x05]);
    let o = set(&f, Field::VlanTci, 0x1234);
    assert_eq!(&o[14..16], &[0x12, 0x34]);
    let o = set_masked(&f, Field::VlanVid, 0xfff, 0x00f);
    assert_eq!(&o[14..16], &[0x20, 0x0f]);
    // No tag: nothing happens.
    let f = tcp4();
    assert_eq!(set(&f, Field::VlanVid, 5), f);
}

#[test]
fn set_mpls_fields_on_top_entry() {
    let mut f = eth(&[], 0x8847);
    f.extend_from_slice(&[0x00, 0x01, 0x40, 0x20]); // label 20, tc 0, !bos, ttl 32
    f.extend_from_slice(&[0x00, 0x02, 0x01, 0x40]); // label 32, bos
    f.extend_from_slice(&[0x45; 20]);
    let o = set(&f, Field::MplsLabel, 0xabcde);
    assert_eq!(&o[14..18], &[0xab, 0xcd, 0xe0, 0x20]);
    let o = set(&f, Field::MplsTc, 5);
    assert_eq!(&o[14..18], &[0x00, 0x01, 0x4a, 0x20]);
    let o = set(&f, Field::MplsBos, 1);
    assert_eq!(&o[14..18], &[0x00, 0x01, 0x41, 0x20]);
    let o = set(&f, Field::MplsTtl, 9);
    assert_eq!(&o[14..18], &[0x00, 0x01, 0x40, 0x09]);
    assert_eq!(&o[18..22], &f[18..22], "second entry untouched");
}

// ---- set-field, IPv4 ----

#[test]
fn set_ipv4_addresses_updates_ip_and_l4_checksums() {
    for (proto, l4) in [
        (6u8, tcp(1000, 80, b"payload")),
        (17, udp(53, 5353, b"odd-length")),
        (1, vec![8, 0, 0, 0, 0, 1, 0, 1, b'p', b'i']),
        (132, sctp(7, 9)),
    ] {
        let f = ipv4(&[(0x8100, 5)], proto, &l4);
        let o = set(&f, Field::Ipv4Src, 0xc0a8_0101);
        assert_eq!(&o[30..34], &[192, 168, 1, 1]);
        let o = set(&f, Field::Ipv4Dst, 0x0808_0808);
        assert_eq!(&o[34..38], &[8, 8, 8, 8]);
        let o = set_masked(&f, Field::Ipv4Dst, 0x0a0b_0000, 0xffff_0000);
        assert_eq!(&o[34..38], &[10, 11, 7, 200]);
    }
}

#[test]
fn udp_zero_checksum_stays_zero_over_ipv4() {
    let mut f = ipv4(&[], 17, &udp(1, 2, b"abc"));
    f[14 + 20 + 6] = 0;
    f[14 + 20 + 7] = 0;
    let o = set(&f, Field::Ipv4Src, 0x0102_0304);
    assert_eq!(&o[40..42], &[0, 0]);
    let o = set(&f, Field::UdpDst, 4242);
    assert_eq!(&o[40..42], &[0, 0]);
}

#[test]
fn set_ip_tos_and_ttl_v4() {
    let f = tcp4();
    let o = set(&f, Field::IpDscp, 46);
    assert_eq!(o[15], 46 << 2 | (f[15] & 3));
    let o = set(&f, Field::IpEcn, 3);
    assert_eq!(o[15], (f[15] & 0xfc) | 3);
    let o = set(&f, Field::IpTtl, 7);
    assert_eq!(o[22], 7);
    assert!(diff(&f, &o).iter().all(|i| [22, 24, 25].contains(i)));
}

#[test]
fn set_l4_ports_and_icmp() {
    let f = tcp4();
    let o = set(&f, Field::TcpSrc, 0xbeef);
    assert_eq!(&o[34..36], &[0xbe, 0xef]);
    let o = set(&f, Field::TcpDst, 443);
    assert_eq!(&o[36..38], &443u16.to_be_bytes());
    let u = ipv4(&[], 17, &udp(53, 5353, b"q"));
    let o = set(&u, Field::UdpSrc, 1);
    assert_eq!(&o[34..36], &[0, 1]);
    let o = set(&u, Field::UdpDst, 2);
    assert_eq!(&o[36..38], &[0, 2]);
    let s = ipv4(&[], 132, &sctp(7, 9));
    let o = set(&s, Field::SctpSrc, 0x1234);
    assert_eq!(&o[34..36], &[0x12, 0x34]);
    let o = set(&s, Field::SctpDst, 0x5678);
    assert_eq!(&o[36..38], &[0x56, 0x78]);
    let i = ipv4(&[], 1, &[8, 0, 0, 0, 0, 1, 0, 1]);
    let o = set(&i, Field::Icmpv4Type, 0);
    assert_eq!(o[34], 0);
    let o = set(&i, Field::Icmpv4Code, 3);
    assert_eq!(o[35], 3);
    // Ports of another transport are absent: nothing changes.
    assert_eq!(set(&u, Field::TcpSrc, 9), u);
    assert_eq!(set(&f, Field::SctpSrc, 9), f);
}

// ---- set-field, IPv6 ----

#[test]
fn set_ipv6_fields() {
    for (proto, l4) in [
        (6u8, tcp(1000, 80, b"payload!")),
        (17, udp(53, 5353, b"abc")),
        (58, vec![128, 0, 0, 0, 0, 1, 0, 1]),
        (132, sctp(7, 9)),
    ] {
        let f = ipv6(&[], proto, &l4);
        let o = set(
            &f,
            Field::Ipv6Src,
            0xfe80_0000_0000_0000_0000_0000_0000_0001,
        );
        assert_eq!(o[22], 0xfe);
        let o = set(&f, Field::Ipv6Dst, u128::MAX - 1);
        assert_eq!(&o[38..54], &(u128::MAX - 1).to_be_bytes());
        let o = set_masked(&f, Field::Ipv6Dst, 0xffff, 0xff00);
        assert_eq!(&o[52..54], &[0xff, 0x02]);
    }
    let f = ipv6(&[], 6, &tcp(1, 2, b""));
    // Version 6, traffic class 0xba, label 0x12345.
    let o = set(&f, Field::IpDscp, 0x3f);
    assert_eq!(&o[14..18], &[0x6f, 0xe1, 0x23, 0x45]);
    let o = set(&f, Field::IpEcn, 0);
    assert_eq!(&o[14..18], &[0x6b, 0x81, 0x23, 0x45]);
    let o = set(&f, Field::Ipv6Label, 0xfedcb);
    assert_eq!(&o[14..18], &[0x6b, 0xaf, 0xed, 0xcb]);
    let o = set(&f, Field::IpTtl, 1);
    assert_eq!(o[21], 1);
    let o = set(&ipv6(&[], 58, &[1, 0, 0, 0]), Field::Icmpv6Type, 3);
    assert_eq!(o[54], 3);
    let o = set(&ipv6(&[], 58, &[1, 0, 0, 0]), Field::Icmpv6Code, 4);
    assert_eq!(o[55], 4);
}

#[test]
fn set_nd_fields() {
    let ns = ipv6(&[], 58, &nd(135));
    let o = set(
        &ns,
        Field::NdTarget,
        0xfe80_0000_0000_0000_0000_0000_0000_00ff,
    );
    assert_eq!(o[54 + 8], 0xfe);
    let o = set(&ns, Field::NdSll, 0x0a0b_0c0d_0e0f);
    assert_eq!(&o[54 + 26..54 + 32], &[0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]);
    assert_eq!(set(&ns, Field::NdTll, 1), ns, "NS has no TLL option");
    let na = ipv6(&[], 58, &nd(136));
    let o = set(&na, Field::NdTll, 0x0102_0304_0506);
    assert_eq!(&o[54 + 26..54 + 32], &[1, 2, 3, 4, 5, 6]);
    // An echo request is not ND.
    let echo = ipv6(&[], 58, &[128, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(set(&echo, Field::NdTarget, 1), echo);
}

#[test]
fn set_arp_fields() {
    let f = arp();
    let o = set(&f, Field::ArpOp, 2);
    assert_eq!(&o[20..22], &[0, 2]);
    let o = set(&f, Field::ArpSha, 0x0203_0405_0607);
    assert_eq!(&o[22..28], &[2, 3, 4, 5, 6, 7]);
    let o = set(&f, Field::ArpSpa, 0x0a00_0009);
    assert_eq!(&o[28..32], &[10, 0, 0, 9]);
    let o = set(&f, Field::ArpTha, 0xffff_ffff_ffff);
    assert_eq!(&o[32..38], &[0xff; 6]);
    let o = set_masked(&f, Field::ArpTpa, 0x0000_00fe, 0x0000_00ff);
    assert_eq!(&o[38..42], &[10, 0, 0, 0xfe]);
    // ARP fields on IP are absent.
    assert_eq!(set(&tcp4(), Field::ArpOp, 2), tcp4());
}

#[test]
fn set_pkt_mark_masked() {
    let mut p = Packet::from_bytes(&tcp4());
    p.mark = 0xaaaa_0000;
    let rec = exec_pkt(
        &[
            Action::set_masked(Field::PktMark, 0x1234_5678, 0x0000_ffff),
            Action::Output(3),
        ],
        p,
    );
    assert_eq!(rec.outputs[0].1.mark, 0xaaaa_5678);
}

// ---- partial checksums ----

/// A TCP/IPv4 frame whose checksum is partial: the field holds the
/// folded pseudo-header sum, as a sender with checksum offload leaves it.
fn partial(frame: Vec<u8>, l4: usize, at: usize) -> Packet {
    let (l3, _) = l3_of(&frame);
    let mut f = frame;
    let proto = if f[l3] >> 4 == 4 {
        f[l3 + 9]
    } else {
        f[l3 + 6]
    };
    let ps = ones_sum(pseudo(&f, l3, proto, f.len() - l4), &[]) as u16;
    f[l4 + at..l4 + at + 2].copy_from_slice(&ps.to_be_bytes());
    let mut p = Packet::from_bytes(&f);
    p.offload.csum_partial = Some(CsumPartial {
        start: l4 as u16,
        offset: at as u16,
    });
    p
}

#[test]
fn partial_checksum_follows_address_changes_then_completes() {
    let cases = [
        (ipv4(&[], 6, &tcp(1, 2, b"partial payload")), 34, 16),
        (ipv4(&[(0x8100, 9)], 17, &udp(1, 2, b"udp!")), 38, 6),
        (ipv6(&[], 6, &tcp(1, 2, b"v6 payload")), 54, 16),
    ];
    for (frame, l4, at) in cases {
        let v6 = l4 == 54;
        let p = partial(frame, l4, at);
        let actions = if v6 {
            vec![
                Action::set(Field::Ipv6Src, 0x1111_2222),
                Action::set_masked(Field::Ipv6Dst, 0xabcd, 0xffff),
                Action::set(Field::TcpDst, 8080),
                Action::Output(1),
            ]
        } else {
            vec![
                Action::set(Field::Ipv4Src, 0x0b0c_0d0e),
                Action::set(Field::Ipv4Dst, 0xac10_0001),
                Action::set(Field::TcpDst, 8080),
                Action::set(Field::UdpSrc, 999),
                Action::Output(1),
            ]
        };
        let mut rec = exec_pkt(&actions, p);
        let (_, mut out) = rec.outputs.pop().expect("output");
        // Still partial, and the field is the pseudo-header sum of the
        // *new* addresses.
        let f = out.data().to_vec();
        let (l3, _) = l3_of(&f);
        let proto = if v6 { f[l3 + 6] } else { f[l3 + 9] };
        let want = ones_sum(pseudo(&f, l3, proto, f.len() - l4), &[]) as u16;
        assert_eq!(u16::from_be_bytes([f[l4 + at], f[l4 + at + 1]]), want);
        crate::offload::complete_csum(&mut out).expect("complete");
        assert_eq!(out.offload.csum_partial, None);
        verify(out.data()).expect("completed checksum is valid");
    }
}

// ---- push / pop ----

#[test]
fn push_pop_vlan_round_trip() {
    let f = tcp4();
    let rec = exec(
        &[
            Action::PushVlan {
                tpid: 0x8100,
                tci: 0x1000 | 0x2064,
            },
            Action::Output(1),
            Action::PushVlan {
                tpid: 0x88a8,
                tci: 7,
            },
            Action::Output(2),
            Action::PopVlan,
            Action::PopVlan,
            Action::Output(3),
            Action::PopVlan,
            Action::Output(4),
        ],
        &f,
    );
    let o1 = rec.out(0);
    assert_eq!(&o1[12..16], &[0x81, 0x00, 0x20, 0x64], "CFI cleared");
    assert_eq!(&o1[16..], &f[12..]);
    assert_eq!(&o1[..12], &f[..12]);
    let o2 = rec.out(1);
    assert_eq!(&o2[12..20], &[0x88, 0xa8, 0, 7, 0x81, 0, 0x20, 0x64]);
    verify(o2).expect("valid");
    assert_eq!(rec.out(2), &f[..]);
    assert_eq!(rec.out(3), &f[..], "pop on untagged frame does nothing");
}

#[test]
fn push_vlan_shifts_partial_checksum_offsets() {
    let p = partial(tcp4(), 34, 16);
    let mut rec = exec_pkt(
        &[
            Action::PushVlan {
                tpid: 0x8100,
                tci: 1,
            },
            Action::set(Field::Ipv4Dst, 1),
            Action::Output(1),
        ],
        p,
    );
    let (_, mut out) = rec.outputs.pop().expect("output");
    assert_eq!(out.offload.csum_partial.map(|c| c.start), Some(38));
    crate::offload::complete_csum(&mut out).expect("complete");
    verify(out.data()).expect("valid");
}

#[test]
fn push_pop_mpls_round_trip() {
    let f = ipv4(&[(0x8100, 3)], 17, &udp(1, 2, b"mpls"));
    let lse = (100 << 12) | (1 << 8) | 63;
    let rec = exec(
        &[
            Action::PushMpls {
                ethertype: 0x8847,
                lse,
            },
            Action::Output(1),
            Action::DecMplsTtl {
                on_zero: Arc::from(vec![]),
            },
            Action::set(Field::MplsTc, 2),
            Action::Output(2),
            Action::PopMpls { ethertype: 0x0800 },
            Action::Output(3),
        ],
        &f,
    );
    let o1 = rec.out(0);
    assert_eq!(&o1[..16], &f[..16], "MAC + tag kept");
    assert_eq!(&o1[16..18], &[0x88, 0x47]);
    assert_eq!(&o1[18..22], &lse.to_be_bytes());
    assert_eq!(&o1[22..], &f[18..]);
    let o2 = rec.out(1);
    assert_eq!(
        &o2[18..22],
        &((100 << 12) | (2 << 9) | (1 << 8) | 62u32).to_be_bytes()
    );
    assert_eq!(rec.out(2), &f[..]);
}

// ---- TTL ----

fn userspace_on_zero() -> Arc<[Action]> {
    Arc::from(vec![Action::Userspace { userdata: 77 }])
}

#[test]
fn dec_ttl_at_64_and_at_1() {
    let f = tcp4();
    let rec = exec(
        &[
            Action::DecTtl {
                on_zero: userspace_on_zero(),
            },
            Action::Output(1),
        ],
        &f,
    );
    assert_eq!(rec.out(0)[22], 63);
    verify(rec.out(0)).expect("checksum after dec_ttl");
    assert!(rec.userspace.is_empty());

    let mut f1 = f.clone();
    f1[22] = 1;
    let c = inet_csum(0, &{
        let mut h = f1[14..34].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    });
    f1[24..26].copy_from_slice(&c.to_be_bytes());
    let rec = exec(
        &[
            Action::DecTtl {
                on_zero: userspace_on_zero(),
            },
            Action::Output(1),
        ],
        &f1,
    );
    assert!(rec.outputs.is_empty(), "expired packet is not forwarded");
    assert_eq!(rec.userspace, vec![(f1.clone(), 77)], "packet unchanged");

    let v6 = ipv6(&[], 17, &udp(1, 2, b"hop"));
    let rec = exec(
        &[
            Action::DecTtl {
                on_zero: userspace_on_zero(),
            },
            Action::Output(1),
        ],
        &v6,
    );
    assert_eq!(rec.out(0)[21], 63);
    // Not IP: nothing happens, the packet goes on.
    let rec = exec(
        &[
            Action::DecTtl {
                on_zero: userspace_on_zero(),
            },
            Action::Output(1),
        ],
        &arp(),
    );
    assert_eq!(rec.out(0), &arp()[..]);
}

#[test]
fn dec_mpls_ttl_expires() {
    let mut f = eth(&[], 0x8847);
    f.extend_from_slice(&[0, 0, 0x11, 1]);
    f.extend_from_slice(&[0; 20]);
    let rec = exec(
        &[
            Action::DecMplsTtl {
                on_zero: userspace_on_zero(),
            },
            Action::Output(1),
        ],
        &f,
    );
    assert!(rec.outputs.is_empty());
    assert_eq!(rec.userspace.len(), 1);
}

/// An IPv6/TCP frame to port 80 behind `n` destination-options headers
/// (checksums filled in), and where its TCP header starts.
fn tcp6_behind_ext_headers(n: usize) -> (Vec<u8>, usize) {
    let chain = vec![(60, 8); n];
    (
        ipv6_ext(&chain, 6, &tcp(1000, 80, b"payload")),
        14 + 40 + 8 * n,
    )
}

/// The old bug: extraction walked 16 IPv6 extension headers and execution
/// 8, so with 9..=16 a megaflow matched on the TCP port and its set-field
/// silently left the port alone. One walk now serves both.
#[test]
fn set_tp_dst_behind_9_to_16_ipv6_extension_headers() {
    for n in [0, 1, 8, 9, 12, 16] {
        let (f, l4) = tcp6_behind_ext_headers(n);
        assert_eq!(verify(&f), Ok(()), "{n} headers: fixture");
        let mut key = FlowKey::default();
        crate::flow::extract::extract_frame(&f, &mut key);
        assert_eq!(
            (key.nw_proto, key.tp_dst),
            (6, 80),
            "{n} headers: key matches"
        );
        let rec = exec(&[Action::set(Field::TcpDst, 8080), Action::Output(1)], &f);
        let out = rec.out(0);
        assert_eq!(
            &out[l4 + 2..l4 + 4],
            &8080u16.to_be_bytes(),
            "{n} headers: rewritten"
        );
        let ps = pseudo(out, 14, 6, out.len() - l4);
        assert_eq!(ones_sum(ps, &out[l4..]), 0xffff, "{n} headers: checksum");
    }
    // Past the limit neither side sees TCP: no match, no write.
    let (f, l4) = tcp6_behind_ext_headers(17);
    let mut key = FlowKey::default();
    crate::flow::extract::extract_frame(&f, &mut key);
    assert_eq!((key.nw_proto, key.tp_dst), (60, 0));
    let rec = exec(&[Action::set(Field::TcpDst, 8080), Action::Output(1)], &f);
    assert_eq!(&rec.out(0)[l4 + 2..l4 + 4], &80u16.to_be_bytes());
}

/// What the issue asked for, as a property: whenever extraction matched a
/// transport port, a set-field of that port rewrites it, whatever the
/// extension-header chain and wherever the frame is cut.
mod matched_means_rewritable {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn tcp_and_udp_ports(
            n in 0usize..20,
            udp_l4 in any::<bool>(),
            cut in any::<usize>(),
        ) {
            let chain = vec![(60u8, 8usize); n];
            let (proto, l4) = if udp_l4 { (17, udp(7, 53, b"q")) } else { (6, tcp(7, 80, b"q")) };
            let mut f = ipv6_ext(&chain, proto, &l4);
            let keep = cut % (f.len() + 1);
            f.truncate(keep);
            let mut key = FlowKey::default();
            let layout = crate::flow::extract::extract_frame(&f, &mut key);
            let field = if udp_l4 { Field::UdpDst } else { Field::TcpDst };
            let rec = exec(&[Action::set(field, 4242), Action::Output(1)], &f);
            if let (Some(l4), true) = (layout.l4, layout.l7.is_some() && key.nw_proto == proto) {
                let at = usize::from(l4) + 2;
                prop_assert_eq!(&rec.out(0)[at..at + 2], &4242u16.to_be_bytes()[..]);
            } else {
                prop_assert_eq!(rec.out(0), &f[..], "nothing matched, nothing written");
            }
        }
    }
}

// ---- copies, clones, truncation, the rest ----

#[test]
fn last_output_hands_over_earlier_ones_copy() {
    let f = tcp4();
    let rec = exec(&[Action::Output(1)], &f);
    assert_eq!((rec.allocs, rec.frees), (0, 0));
    let rec = exec(&[Action::Output(1), Action::Output(2)], &f);
    assert_eq!(rec.allocs, 1);
    let rec = exec(
        &[
            Action::Output(1),
            Action::set(Field::Ipv4Dst, 0x0101_0101),
            Action::Output(2),
        ],
        &f,
    );
    assert_eq!(rec.out(0), &f[..]);
    assert_eq!(&rec.out(1)[30..34], &[1, 1, 1, 1]);
    // Set-fields after the last output do not force a copy.
    let rec = exec(
        &[
            Action::Output(1),
            Action::set(Field::IpTtl, 1),
            Action::Drop,
        ],
        &f,
    );
    assert_eq!((rec.allocs, rec.frees), (0, 0));
}

#[test]
fn empty_list_and_drop_free() {
    let rec = exec(&[], &tcp4());
    assert_eq!(rec.frees, 1);
    let rec = exec(&[Action::Drop, Action::Output(1)], &tcp4());
    assert_eq!((rec.frees, rec.outputs.len()), (1, 0));
}

#[test]
fn truncate_cuts_outputs_not_the_packet() {
    let f = tcp4();
    let rec = exec(
        &[
            Action::Output(1),
            Action::Truncate(20),
            Action::Output(2),
            Action::Userspace { userdata: 1 },
            Action::Truncate(40),
            Action::Output(3),
        ],
        &f,
    );
    assert_eq!(rec.out(0), &f[..]);
    assert_eq!(rec.out(1), &f[..20]);
    assert_eq!(rec.userspace[0].0, f, "the packet itself stays whole");
    assert_eq!(rec.out(2), &f[..20], "truncations only shrink");
}

#[test]
fn truncated_copies_lose_offloads() {
    let p = partial(tcp4(), 34, 16);
    let rec = exec_pkt(
        &[Action::Truncate(30), Action::Output(1), Action::Output(2)],
        p,
    );
    assert_eq!(rec.outputs[0].1.offload, Offload::default());
    assert_eq!(rec.outputs[1].1.offload, Offload::default());
    assert_eq!(rec.outputs[1].1.len(), 30);
}

#[test]
fn clone_runs_on_a_copy() {
    let f = tcp4();
    let nested: Arc<[Action]> = Arc::from(vec![
        Action::set(Field::Ipv4Dst, 0x0909_0909),
        Action::Output(1),
    ]);
    let rec = exec(&[Action::Clone(nested.clone()), Action::Output(2)], &f);
    assert_eq!(&rec.out(0)[30..34], &[9, 9, 9, 9]);
    verify(rec.out(0)).expect("valid");
    assert_eq!(rec.out(1), &f[..]);
    assert_eq!(rec.allocs, 1);
    // A clone as the last use runs on the packet itself.
    let rec = exec(&[Action::Output(2), Action::Clone(nested)], &f);
    assert_eq!(rec.allocs, 1, "only the first output copies");
}

#[test]
fn sample_takes_packets_with_its_probability() {
    let f = tcp4();
    let sample = |probability| Action::Sample {
        probability,
        actions: Arc::from(vec![Action::Userspace { userdata: 7 }]),
    };
    let rec = exec(&[sample(u32::MAX), Action::Output(2)], &f);
    assert_eq!((rec.userspace.len(), rec.outputs.len()), (1, 1), "always");
    let rec = exec(&[sample(0), Action::Output(2)], &f);
    assert_eq!((rec.userspace.len(), rec.outputs.len()), (0, 1), "never");
    // 1 in 4 over 10,000 packets: 2,500 expected, sd 43; 5 sd either way.
    let quarter = sample(u32::MAX / 4);
    let taken: usize = (0..10_000)
        .map(|_| {
            exec(&[quarter.clone(), Action::Output(2)], &f)
                .userspace
                .len()
        })
        .sum();
    assert!((2_285..=2_715).contains(&taken), "{taken} of 10,000");
}

#[test]
fn recirculate_ends_and_meter_polices() {
    let f = tcp4();
    let rec = exec(&[Action::Recirculate(5), Action::Output(1)], &f);
    assert!(rec.outputs.is_empty());
    assert_eq!(rec.recirc[0].0, 5);
    assert_eq!(rec.recirc[0].1.recirc_id, 5);

    let rec = exec(&[Action::Meter(3), Action::Output(1)], &f);
    assert_eq!(rec.meters, vec![(3, f.len())]);
    assert_eq!(rec.outputs.len(), 1);
    let mut sink = Rec {
        meter_drops: true,
        ..Rec::default()
    };
    execute(
        &[Action::Output(9), Action::Meter(3), Action::Output(1)],
        Packet::from_bytes(&f),
        &FlowKey::default(),
        &mut sink,
    );
    assert_eq!(sink.outputs.len(), 1, "output before the meter went");
    assert!(sink.balanced());
}

#[test]
fn dscp_remark_band_raises_af_drop_precedence() {
    let remark = |dscp: u8, levels: u8, v6: bool| -> u8 {
        let mut f = if v6 {
            ipv6(&[], 17, &udp(1, 2, b"x"))
        } else {
            ipv4(&[], 17, &udp(1, 2, b"x"))
        };
        let (l3, _) = l3_of(&f);
        if v6 {
            f[l3] = (f[l3] & 0xf0) | (dscp >> 2);
            f[l3 + 1] = (f[l3 + 1] & 0x3f) | (dscp << 6);
        } else {
            f[l3 + 1] = dscp << 2;
            let c = {
                f[l3 + 10] = 0;
                f[l3 + 11] = 0;
                inet_csum(0, &f[l3..l3 + 20])
            };
            f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        let mut sink = Rec {
            meter_remark: Some(levels),
            ..Rec::default()
        };
        execute(
            &[Action::Meter(1), Action::Output(1)],
            Packet::from_bytes(&f),
            &FlowKey::default(),
            &mut sink,
        );
        let out = sink.outputs[0].1.data().to_vec();
        verify(&out).unwrap();
        if v6 {
            ((out[l3] & 0x0f) << 2) | (out[l3 + 1] >> 6)
        } else {
            out[l3 + 1] >> 2
        }
    };
    // AF11 (10) + 1 = AF12 (12); AF21 (18) + 2 = AF23 (22); AF33 stays.
    assert_eq!(remark(10, 1, false), 12);
    assert_eq!(remark(18, 2, false), 22);
    assert_eq!(remark(30, 1, false), 30);
    assert_eq!(remark(10, 5, true), 14);
    // EF (46) and best effort have no drop precedence.
    assert_eq!(remark(46, 1, false), 46);
    assert_eq!(remark(0, 1, true), 0);
}

#[test]
fn deep_nesting_is_bounded() {
    let mut list: Arc<[Action]> = Arc::from(vec![Action::Output(1)]);
    for _ in 0..(MAX_DEPTH + 4) {
        list = Arc::from(vec![Action::Clone(list)]);
    }
    let rec = exec(&list, &tcp4());
    assert!(rec.outputs.is_empty());
    assert_eq!(rec.frees, 1);
}

// ---- robustness ----

mod prop {
    use super::*;
    use proptest::prelude::*;

    const FIELDS: [Field; 37] = [
        Field::EthDst,
        Field::EthSrc,
        Field::EthType,
        Field::VlanVid,
        Field::VlanPcp,
        Field::VlanTci,
        Field::MplsLabel,
        Field::MplsTc,
        Field::MplsBos,
        Field::MplsTtl,
        Field::Ipv4Src,
        Field::Ipv4Dst,
        Field::IpDscp,
        Field::IpEcn,
        Field::IpTtl,
        Field::Ipv6Src,
        Field::Ipv6Dst,
        Field::Ipv6Label,
        Field::TcpSrc,
        Field::TcpDst,
        Field::UdpSrc,
        Field::UdpDst,
        Field::SctpSrc,
        Field::SctpDst,
        Field::Icmpv4Type,
        Field::Icmpv4Code,
        Field::Icmpv6Type,
        Field::Icmpv6Code,
        Field::ArpOp,
        Field::ArpSpa,
        Field::ArpTpa,
        Field::ArpSha,
        Field::ArpTha,
        Field::NdTarget,
        Field::NdSll,
        Field::NdTll,
        Field::PktMark,
    ];

    fn action() -> impl Strategy<Value = Action> {
        let leaf = prop_oneof![
            (0u32..4).prop_map(Action::Output),
            (0..FIELDS.len(), any::<u128>(), any::<u128>()).prop_map(|(f, v, m)| {
                Action::Set {
                    field: FIELDS[f],
                    value: FieldValue::from_u128(v),
                    mask: FieldValue::from_u128(m),
                }
            }),
            (any::<u16>(), any::<u16>()).prop_map(|(tpid, tci)| Action::PushVlan { tpid, tci }),
            Just(Action::PopVlan),
            (any::<u32>()).prop_map(|lse| Action::PushMpls {
                ethertype: 0x8847,
                lse
            }),
            prop_oneof![Just(0x0800u16), Just(0x86dd), any::<u16>()]
                .prop_map(|ethertype| Action::PopMpls { ethertype }),
            (0u32..200).prop_map(Action::Truncate),
            (0u32..3).prop_map(Action::Meter),
            any::<u64>().prop_map(|userdata| Action::Userspace { userdata }),
            (0u32..3).prop_map(Action::Recirculate),
            Just(Action::Drop),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| Action::Clone(Arc::from(v))),
                proptest::collection::vec(inner.clone(), 0..3).prop_map(|v| Action::DecTtl {
                    on_zero: Arc::from(v)
                }),
                proptest::collection::vec(inner, 0..3).prop_map(|v| Action::DecMplsTtl {
                    on_zero: Arc::from(v)
                }),
            ]
        })
    }

    /// Real frames with random damage, and pure noise.
    fn frame() -> impl Strategy<Value = Vec<u8>> {
        let bases = [
            tcp4(),
            ipv4(&[(0x8100, 1), (0x8100, 2)], 17, &udp(1, 2, b"x")),
            ipv4(&[], 132, &sctp(1, 2)),
            ipv6(&[], 58, &nd(135)),
            ipv6(&[(0x88a8, 3)], 6, &tcp(1, 2, b"yy")),
            arp(),
        ];
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..128),
            (
                0..bases.len(),
                proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
                any::<usize>()
            )
                .prop_map(move |(i, edits, cut)| {
                    let mut f = bases[i].clone();
                    for (at, b) in edits {
                        let n = f.len();
                        f[at % n] = b;
                    }
                    let n = f.len();
                    f.truncate(cut % (n + 1));
                    f
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn never_panics_and_accounts_every_buffer(
            actions in proptest::collection::vec(action(), 0..8),
            bytes in frame(),
            partial_at in proptest::option::of((any::<u16>(), any::<u16>())),
        ) {
            let mut p = Packet::from_bytes(&bytes);
            p.offload.csum_partial = partial_at.map(|(start, offset)| CsumPartial { start, offset });
            let mut rec = Rec::default();
            execute(&actions, p, &FlowKey::default(), &mut rec);
            prop_assert!(rec.balanced());
            for (_, out) in &mut rec.outputs {
                let _ = crate::offload::complete_csum(out);
            }
        }

        /// On valid frames, any list of set-fields keeps every checksum valid.
        #[test]
        fn set_fields_keep_checksums_valid(
            base in 0usize..5,
            sets in proptest::collection::vec((0..FIELDS.len(), any::<u128>(), any::<u128>()), 1..6),
        ) {
            let frames = [
                tcp4(),
                ipv4(&[(0x8100, 1)], 17, &udp(1, 2, b"xyz")),
                ipv4(&[], 132, &sctp(1, 2)),
                ipv6(&[], 58, &nd(136)),
                ipv6(&[], 6, &tcp(1, 2, b"yy")),
            ];
            let mut actions: Vec<Action> = sets
                .into_iter()
                // Structural fields would make the frame something else.
                .filter(|(f, _, _)| !matches!(FIELDS[*f], Field::EthType | Field::Icmpv6Type))
                .map(|(f, v, m)| Action::Set {
                    field: FIELDS[f],
                    value: FieldValue::from_u128(v),
                    mask: FieldValue::from_u128(m),
                })
                .collect();
            actions.push(Action::Output(1));
            let rec = exec(&actions, &frames[base]);
            prop_assert!(verify(rec.out(0)).is_ok(), "{:?}", verify(rec.out(0)));
        }
    }
}

//! Byte-level tests of push and pop against frames built independently by
//! `wire::testing`, a round-trip property, and one test per drop reason.

use super::*;
use crate::packet::Packet;
use crate::wire::testing as t;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

const OUT_DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0xdd];
const OUT_SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x55];

fn v4() -> OuterIp {
    OuterIp::V4 {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(192, 168, 7, 200),
        tos: 0x10,
        ttl: 64,
        df: true,
    }
}

fn v6() -> OuterIp {
    OuterIp::V6 {
        src: Ipv6Addr::from(t::V6_A),
        dst: Ipv6Addr::from(t::V6_B),
        traffic_class: 0,
        hop_limit: 64,
        flow_label: 0,
    }
}

fn header(ip: OuterIp, encap: Encap<'_>) -> TunnelHeader {
    TunnelHeader::new(TunnelSpec {
        eth_dst: OUT_DST,
        eth_src: OUT_SRC,
        ip,
        encap,
        mtu: 1500,
    })
    .unwrap()
}

fn inner() -> Vec<u8> {
    t::ipv4(&[], 6, &t::tcp(1000, 80, b"hello tunnel"))
}

/// The outer frame `testing` builds for `encap` bytes after the UDP header
/// (with the given source port), checksums filled by the builder.
fn udp_fixture(sport: u16, dport: u16, encap: &[u8], v6: bool) -> Vec<u8> {
    let u = t::udp(sport, dport, encap);
    let mut f = if v6 {
        t::ipv6(&[], 17, &u)
    } else {
        t::ipv4(&[], 17, &u)
    };
    f[..6].copy_from_slice(&OUT_DST);
    f[6..12].copy_from_slice(&OUT_SRC);
    f
}

#[test]
fn vxlan_push_matches_fixture_with_checksum() {
    let h = header(
        v4(),
        Encap::Vxlan {
            vni: 0x123456,
            dst_port: 4789,
            csum: true,
        },
    );
    let mut p = Packet::from_bytes(&inner());
    push(&mut p, &h, 7).unwrap();
    let mut payload = vec![0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0];
    payload.extend_from_slice(&inner());
    let mut want = udp_fixture(udp_src_port(7), 4789, &payload, false);
    // testing's IPv4 builder uses ident 0x1234; the header sends 0.
    want[18..20].copy_from_slice(&[0, 0]);
    let ck = t::inet_csum(0, &{
        let mut ip = want[14..34].to_vec();
        ip[10..12].fill(0);
        ip
    });
    want[24..26].copy_from_slice(&ck.to_be_bytes());
    assert_eq!(p.data(), &want[..]);
    t::verify(p.data()).unwrap();
}

#[test]
fn vxlan_push_ipv4_without_checksum_sends_zero() {
    let h = header(
        v4(),
        Encap::Vxlan {
            vni: 5,
            dst_port: 4789,
            csum: false,
        },
    );
    let mut p = Packet::from_bytes(&inner());
    push(&mut p, &h, 0xdead_beef).unwrap();
    assert_eq!(&p.data()[40..42], &[0, 0]);
    t::verify(p.data()).unwrap();
    let sport = u16::from_be_bytes([p.data()[34], p.data()[35]]);
    assert!((UDP_SRC_PORT_MIN..UDP_SRC_PORT_MAX).contains(&sport));
}

#[test]
fn ipv6_geneve_push_always_checksums() {
    let mut opts = Vec::new();
    crate::wire::geneve::GeneveOption {
        class: 0x0102,
        opt_type: 3,
        data: &[1, 2, 3, 4],
    }
    .emit(&mut opts);
    let h = header(
        v6(),
        Encap::Geneve {
            vni: 0xabcdef,
            dst_port: 6081,
            csum: false,
            oam: false,
            options: &opts,
        },
    );
    let mut p = Packet::from_bytes(&inner());
    push(&mut p, &h, 1).unwrap();
    let mut payload = vec![0x02, 0, 0x65, 0x58, 0xab, 0xcd, 0xef, 0];
    payload.extend_from_slice(&opts);
    payload.extend_from_slice(&inner());
    let mut want = udp_fixture(udp_src_port(1), 6081, &payload, true);
    want[14..18].copy_from_slice(&[0x60, 0, 0, 0]);
    let u = t::pseudo(&want, 14, 17, want.len() - 54);
    want[60..62].fill(0);
    let c = t::inet_csum(u, &want[54..]);
    want[60..62].copy_from_slice(&c.to_be_bytes());
    assert_eq!(p.data(), &want[..]);
    t::verify(p.data()).unwrap();
}

#[test]
fn gre_push_with_key_seq_and_checksum() {
    let seq = Arc::new(AtomicU32::new(7));
    let h = header(
        v4(),
        Encap::Gre {
            key: Some(0x01020304),
            csum: true,
            seq: Some(seq.clone()),
        },
    );
    let mut p = Packet::from_bytes(&inner());
    push(&mut p, &h, 0).unwrap();
    let d = p.data();
    assert_eq!(d[23], 47);
    assert_eq!(&d[34..38], &[0xb0, 0, 0x65, 0x58]);
    assert_eq!(&d[42..50], &[1, 2, 3, 4, 0, 0, 0, 7]);
    assert_eq!(t::ones_sum(0, &d[34..]), 0xffff);
    assert_eq!(&d[50..], &inner()[..]);
    t::verify(d).unwrap();
    let mut q = Packet::from_bytes(&inner());
    push(&mut q, &h, 0).unwrap();
    assert_eq!(&q.data()[46..50], &[0, 0, 0, 8]);
}

#[test]
fn erspan_type_ii_and_iii_headers_carry_session_index_seq_and_time() {
    let seq = Arc::new(AtomicU32::new(1));
    let h = header(
        v4(),
        Encap::Erspan {
            session: 7,
            version: ErspanVersion::V1 { index: 0xabcde },
            seq: seq.clone(),
        },
    );
    assert_eq!(h.kind(), TunnelKind::Erspan);
    let mut p = Packet::from_bytes(&inner());
    push(&mut p, &h, 0).unwrap();
    let d = p.data();
    assert_eq!(d[23], 47);
    // GRE: S only, protocol 0x88be, sequence 1; ERSPAN II: ver 1, session
    // 7, index.
    assert_eq!(&d[34..42], &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1]);
    assert_eq!(&d[42..50], &[0x10, 0, 0, 7, 0, 0x0a, 0xbc, 0xde]);
    assert_eq!(&d[50..], &inner()[..]);
    t::verify(d).unwrap();
    let mut q = Packet::from_bytes(&inner());
    push(&mut q, &h, 0).unwrap();
    assert_eq!(&q.data()[38..42], &[0, 0, 0, 2], "the sequence advances");
    // The far end cannot be popped by us.
    assert!(pop(&mut q, TunnelKind::Erspan, &TlvMap::default()).is_err());

    let h3 = header(
        v4(),
        Encap::Erspan {
            session: 1023,
            version: ErspanVersion::V2 {
                egress: true,
                hwid: 5,
            },
            seq,
        },
    );
    let stamp = |p: &Packet| u32::from_be_bytes(p.data()[46..50].try_into().unwrap());
    let mut first = Packet::from_bytes(&inner());
    push(&mut first, &h3, 0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let mut p = Packet::from_bytes(&inner());
    push(&mut p, &h3, 0).unwrap();
    let d = p.data();
    assert_eq!(&d[34..38], &[0x10, 0, 0x22, 0xeb]);
    assert_eq!(&d[42..46], &[0x20, 0, 0x03, 0xff], "ver 2, session 1023");
    assert!(stamp(&p) >= stamp(&first) + 10, "100 us ticks: 2 ms is 20");
    // SGT 0 | P 1, FT 0, hwid 5, D 1, Gra 00, O 0.
    assert_eq!(&d[50..54], &[0, 0, 0x80, 0x58]);
    assert_eq!(&d[54..], &inner()[..]);

    let bad = TunnelHeader::new(TunnelSpec {
        eth_dst: OUT_DST,
        eth_src: OUT_SRC,
        ip: v4(),
        encap: Encap::Erspan {
            session: 1024,
            version: ErspanVersion::V1 { index: 0 },
            seq: Arc::new(AtomicU32::new(0)),
        },
        mtu: 0,
    });
    assert!(bad.is_err(), "a session id beyond 10 bits");
}

#[test]
fn push_over_mtu_is_dropped() {
    let h = TunnelHeader::new(TunnelSpec {
        eth_dst: OUT_DST,
        eth_src: OUT_SRC,
        ip: v4(),
        encap: Encap::Vxlan {
            vni: 1,
            dst_port: 4789,
            csum: false,
        },
        mtu: 100,
    })
    .unwrap();
    let mut p = Packet::from_bytes(&t::ipv4(&[], 17, &t::udp(1, 2, &[0; 100])));
    let before = p.data().to_vec();
    assert_eq!(push(&mut p, &h, 0), Err(TunnelDrop::TooBig));
    assert_eq!(p.data(), &before[..]);
}

#[test]
fn header_rejects_bad_input() {
    let spec = |encap| TunnelSpec {
        eth_dst: OUT_DST,
        eth_src: OUT_SRC,
        ip: v4(),
        encap,
        mtu: 0,
    };
    assert_eq!(
        TunnelHeader::new(spec(Encap::Vxlan {
            vni: 1 << 24,
            dst_port: 4789,
            csum: false
        })),
        Err(HeaderError::VniTooLarge(1 << 24))
    );
    let bad = [0, 1, 2, 5];
    assert_eq!(
        TunnelHeader::new(spec(Encap::Geneve {
            vni: 1,
            dst_port: 6081,
            csum: false,
            oam: false,
            options: &bad
        })),
        Err(HeaderError::BadGeneveOptions)
    );
}

fn pushed(h: &TunnelHeader) -> Packet {
    let mut p = Packet::from_bytes(&inner());
    push(&mut p, h, 3).unwrap();
    p
}

#[test]
fn pop_each_kind() {
    let mut opts = Vec::new();
    crate::wire::geneve::GeneveOption {
        class: 1,
        opt_type: 2,
        data: &[9; 8],
    }
    .emit(&mut opts);
    let cases = [
        (
            header(
                v4(),
                Encap::Vxlan {
                    vni: 42,
                    dst_port: 4789,
                    csum: true,
                },
            ),
            TunnelKind::Vxlan,
        ),
        (
            header(
                v6(),
                Encap::Geneve {
                    vni: 43,
                    dst_port: 6081,
                    csum: true,
                    oam: true,
                    options: &opts,
                },
            ),
            TunnelKind::Geneve,
        ),
        (
            header(
                v4(),
                Encap::Gre {
                    key: Some(44),
                    csum: true,
                    seq: None,
                },
            ),
            TunnelKind::Gre,
        ),
    ];
    let tlv = TlvMap::new(&[(1, 2, 8, 3)]).unwrap();
    for (h, kind) in cases {
        let mut p = pushed(&h);
        pop(&mut p, kind, &tlv).unwrap();
        assert_eq!(p.data(), &inner()[..], "{kind:?}");
        let m = &p.tunnel;
        assert!(m.is_present());
        assert_ne!(m.flags & TUN_KEY, 0);
        assert_ne!(m.flags & TUN_CSUM, 0);
        match kind {
            TunnelKind::Vxlan => {
                assert_eq!((m.id, m.tp_dst), (42, 4789));
                assert_eq!(m.src, std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
                assert_ne!(m.flags & TUN_DONT_FRAGMENT, 0);
                let mut key = crate::flow::FlowKey::default();
                crate::flow::extract(&p, &mut key);
                assert_eq!(
                    (key.tun_id, key.tun_src, key.tun_dst),
                    (42, 0x0a00_0001, 0xc0a8_07c8)
                );
            }
            TunnelKind::Geneve => {
                assert_eq!(m.id, 43);
                assert_ne!(m.flags & TUN_OAM, 0);
                assert_eq!(m.md_present, 1 << 3, "the mapped option is tun_metadata3");
                assert_eq!(m.md[..8], [9; 8]);
                let mut key = crate::flow::FlowKey::default();
                crate::flow::extract(&p, &mut key);
                assert_eq!(
                    key.tun_ipv6_src,
                    t::V6_A,
                    "IPv6 underlay addresses reach the key"
                );
                assert_eq!(key.tun_ipv6_dst, t::V6_B);
                assert_eq!((key.tun_src, key.tun_md_present), (0, 1 << 3));
            }
            TunnelKind::Erspan => unreachable!("not among the cases"),
            TunnelKind::Gre => assert_eq!((m.id, m.tp_dst), (44, 0)),
        }
    }
}

fn vxlan4() -> Vec<u8> {
    pushed(&header(
        v4(),
        Encap::Vxlan {
            vni: 1,
            dst_port: 4789,
            csum: false,
        },
    ))
    .data()
    .to_vec()
}

fn refill_ip_csum(f: &mut [u8]) {
    f[24..26].fill(0);
    let c = t::inet_csum(0, &f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn every_drop_reason() {
    let k = TunnelKind::Vxlan;
    let f = vxlan4();
    let check = |f: &[u8], kind, want| {
        let mut p = Packet::from_bytes(f);
        assert_eq!(pop(&mut p, kind, &TlvMap::default()), Err(want));
        assert_eq!(p.data(), f, "unchanged on error");
    };
    check(&f[..30], k, TunnelDrop::Truncated);
    check(&f[..f.len() - 1], k, TunnelDrop::Truncated);
    check(&t::arp(), k, TunnelDrop::NotIp);
    let mut g = f.clone();
    g[14] = 0x44;
    check(&g, k, TunnelDrop::IpHeader);
    let mut g = f.clone();
    g[24] ^= 1;
    check(&g, k, TunnelDrop::Checksum);
    let mut g = f.clone();
    g[20] = 0x20;
    refill_ip_csum(&mut g);
    check(&g, k, TunnelDrop::Fragment);
    check(&f, TunnelKind::Gre, TunnelDrop::Protocol);
    let mut g = f.clone();
    g[39] -= 1;
    check(&g, k, TunnelDrop::Length);
    let mut g = f.clone();
    g[40] = 0x12;
    check(&g, k, TunnelDrop::Checksum);
    let mut g = f.clone();
    g[42] = 0;
    check(&g, k, TunnelDrop::VxlanFlags);
    // GENEVE: version 1, a critical option, a non-Ethernet payload.
    let gh = header(
        v4(),
        Encap::Geneve {
            vni: 1,
            dst_port: 6081,
            csum: false,
            oam: false,
            options: &[],
        },
    );
    let gf = pushed(&gh).data().to_vec();
    let mut g = gf.clone();
    g[42] = 0x40;
    check(&g, TunnelKind::Geneve, TunnelDrop::GeneveHeader);
    // The C flag alone (no option is critical) is no reason to drop: this
    // endpoint parses every option.
    let mut g = gf.clone();
    g[43] = 0x40;
    let mut p = Packet::from_bytes(&g);
    assert!(pop(&mut p, TunnelKind::Geneve, &TlvMap::default()).is_ok());
    let mut opts = Vec::new();
    crate::wire::geneve::GeneveOption {
        class: 1,
        opt_type: 0x80,
        data: &[0; 4],
    }
    .emit(&mut opts);
    let crit = header(
        v4(),
        Encap::Geneve {
            vni: 1,
            dst_port: 6081,
            csum: false,
            oam: false,
            options: &opts,
        },
    );
    let mut p = pushed(&crit);
    assert_eq!(p.data()[43] & 0x40, 0x40, "C set on push");
    assert_eq!(
        pop(
            &mut Packet::from_bytes(p.data()),
            TunnelKind::Geneve,
            &TlvMap::default()
        ),
        Err(TunnelDrop::GeneveCritical)
    );
    // The same critical option, once the map names it, is accepted.
    let known = TlvMap::new(&[(1, 0x80, 4, 0)]).unwrap();
    pop(&mut p, TunnelKind::Geneve, &known).unwrap();
    assert_eq!(p.tunnel.md_present, 1);
    let mut g = gf.clone();
    g[44..46].copy_from_slice(&[0x08, 0x00]);
    check(&g, TunnelKind::Geneve, TunnelDrop::PayloadType);
    // GRE: version 1, routing, a wrong checksum, an IP payload.
    let rh = header(
        v4(),
        Encap::Gre {
            key: Some(1),
            csum: true,
            seq: None,
        },
    );
    let rf = pushed(&rh).data().to_vec();
    for (i, v) in [(35, 0x01u8), (34, 0xf0)] {
        let mut g = rf.clone();
        g[i] = v;
        check(&g, TunnelKind::Gre, TunnelDrop::GreFlags);
    }
    let mut g = rf.clone();
    g[60] ^= 1;
    check(&g, TunnelKind::Gre, TunnelDrop::Checksum);
    let nk = header(
        v4(),
        Encap::Gre {
            key: None,
            csum: false,
            seq: None,
        },
    );
    let mut g = pushed(&nk).data().to_vec();
    g[36..38].copy_from_slice(&[0x08, 0x00]);
    check(&g, TunnelKind::Gre, TunnelDrop::PayloadType);
}

#[test]
fn names_are_distinct() {
    let mut names: Vec<_> = TunnelDrop::ALL.iter().map(|r| r.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), TunnelDrop::COUNT);
    let c = TunnelCounters::default();
    c.count(TunnelDrop::GreFlags);
    assert_eq!(c.snapshot().get(TunnelDrop::GreFlags), 1);
    assert_eq!(c.snapshot().total(), 1);
}

proptest! {
    #[test]
    fn push_then_pop_round_trips(
        payload in proptest::collection::vec(any::<u8>(), 0..600),
        vni in 0u32..=0x00ff_ffff,
        kind in 0usize..3,
        six in any::<bool>(),
        csum in any::<bool>(),
        hash in any::<u32>(),
    ) {
        let mut frame = t::eth(&[], 0x88b5);
        frame.extend_from_slice(&payload);
        let ip = if six { v6() } else { v4() };
        let (encap, k) = match kind {
            0 => (Encap::Vxlan { vni, dst_port: 4789, csum }, TunnelKind::Vxlan),
            1 => (Encap::Geneve { vni, dst_port: 6081, csum, oam: false, options: &[] }, TunnelKind::Geneve),
            _ => (Encap::Gre { key: Some(vni), csum, seq: None }, TunnelKind::Gre),
        };
        let h = header(ip, encap);
        let mut p = Packet::from_bytes(&frame);
        push(&mut p, &h, hash).unwrap();
        pop(&mut p, k, &TlvMap::default()).unwrap();
        prop_assert_eq!(p.data(), &frame[..]);
        prop_assert_eq!(p.tunnel.id, u64::from(vni));
    }

    #[test]
    fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120), kind in 0usize..3) {
        let k = [TunnelKind::Vxlan, TunnelKind::Geneve, TunnelKind::Gre][kind];
        if let Ok(d) = parse(&b, k) {
            prop_assert!(d.inner.end <= b.len() && d.inner.start <= d.inner.end);
        }
    }
}

/// Through `exec::execute`: push a GSO packet (segmented to the underlay
/// MTU, every segment encapsulated), then pop one segment (recirculated as
/// if received on the tunnel port), with drops reported to the sink.
mod through_exec {
    use super::*;
    use crate::actions::Action;
    use crate::exec::{execute, ExecSink};
    use crate::flow::FlowKey;
    use crate::meter::MeterVerdict;
    use crate::packet::{Gso, GsoKind};
    use crate::PortNo;

    #[derive(Default)]
    struct Sink {
        out: Vec<(PortNo, Packet)>,
        recirc: Vec<(u32, Packet)>,
        drops: Vec<TunnelDrop>,
        frees: usize,
    }

    impl ExecSink for Sink {
        fn output(&mut self, port: PortNo, packet: Packet) {
            self.out.push((port, packet));
        }
        fn userspace(&mut self, _: &Packet, _: &FlowKey, _: u64) {}
        fn recirculate(&mut self, packet: Packet, id: u32) {
            self.recirc.push((id, packet));
        }
        fn meter(&mut self, _: u32, _: usize) -> MeterVerdict {
            MeterVerdict::Pass
        }
        fn alloc(&mut self) -> Packet {
            Packet::default()
        }
        fn free(&mut self, _: Packet) {
            self.frees += 1;
        }
        fn tunnel_drop(&mut self, reason: TunnelDrop) {
            self.drops.push(reason);
        }
    }

    #[test]
    fn gso_push_then_pop() {
        let h = Arc::new(
            TunnelHeader::new(TunnelSpec {
                eth_dst: OUT_DST,
                eth_src: OUT_SRC,
                ip: v4(),
                encap: Encap::Vxlan {
                    vni: 9,
                    dst_port: 4789,
                    csum: true,
                },
                mtu: 1000,
            })
            .unwrap(),
        );
        let mut p = Packet::from_bytes(&t::ipv4(&[], 6, &t::tcp(1, 2, &[0x5a; 3000])));
        p.offload.gso = Some(Gso {
            kind: GsoKind::TcpV4,
            size: 1400,
            hdr_len: 54,
        });
        let mut sink = Sink::default();
        let push = [Action::TunnelPush {
            header: h,
            port: 3,
            via: 9,
        }];
        execute(&push, p, &FlowKey::default(), &mut sink);
        assert!(sink.drops.is_empty());
        assert!(sink.out.len() >= 4, "{} segments", sink.out.len());
        let sports: Vec<_> = sink.out.iter().map(|(_, s)| &s.data()[34..36]).collect();
        assert!(
            sports.windows(2).all(|w| w[0] == w[1]),
            "one flow, one port"
        );
        for (port, s) in &sink.out {
            assert_eq!(*port, 3);
            assert!(s.len() - 14 <= 1000);
            t::verify(s.data()).unwrap();
            t::verify(&s.data()[50..]).unwrap();
        }
        let (_, seg) = sink.out.remove(0);
        let pop = [Action::TunnelPop {
            port: 7,
            kind: TunnelKind::Vxlan,
            tlv: Arc::default(),
        }];
        execute(&pop, seg, &FlowKey::default(), &mut sink);
        let (id, inner) = &sink.recirc[0];
        assert_eq!((*id, inner.in_port, inner.tunnel.id), (0, 7, 9));
        t::verify(inner.data()).unwrap();
        // A bad packet is counted and freed.
        execute(
            &pop,
            Packet::from_bytes(&t::arp()),
            &FlowKey::default(),
            &mut sink,
        );
        assert_eq!(sink.drops, vec![TunnelDrop::NotIp]);
    }
}

/// A local stack's tunnel packet (Linux's VXLAN sends UDP checksums by
/// default) arrives through a veth with its outer checksum still partial:
/// it is trusted, as Linux trusts it; the same bytes from a wire are not.
#[test]
fn a_partial_outer_checksum_from_a_local_stack_is_not_verified() {
    let mut f = vxlan4();
    f[40..42].copy_from_slice(&[0x12, 0x34]); // a pseudo-header sum, not a checksum
    let mut wire = Packet::from_bytes(&f);
    assert_eq!(
        pop(&mut wire, TunnelKind::Vxlan, &TlvMap::default()),
        Err(TunnelDrop::Checksum)
    );
    let mut local = Packet::from_bytes(&f);
    local.offload.csum_partial = Some(crate::packet::CsumPartial {
        start: 34,
        offset: 6,
    });
    pop(&mut local, TunnelKind::Vxlan, &TlvMap::default()).unwrap();
    assert_eq!(local.data(), &inner()[..]);
    assert!(local.offload.csum_partial.is_none());

    // Local checksum offload: the outer sum is final, the inner one is
    // partial and stays so, at its place in the inner frame.
    let mut lco = Packet::from_bytes(&f);
    lco.offload.csum_partial = Some(crate::packet::CsumPartial {
        start: 50 + 34,
        offset: 16,
    });
    pop(&mut lco, TunnelKind::Vxlan, &TlvMap::default()).unwrap();
    assert_eq!(
        lco.offload.csum_partial,
        Some(crate::packet::CsumPartial {
            start: 34,
            offset: 16
        })
    );
}

//! Offload completion tests: checksum completion, software GSO (TCP over
//! IPv4 and IPv6, UDP), the transmit decision, and robustness.

use super::*;
use crate::exec::verify::*;
use crate::packet::{CsumPartial, Gso, Offload};

/// Make a valid frame partial: put the pseudo-header sum in the field.
fn make_partial(frame: &[u8], l4: usize, at: usize) -> Packet {
    let mut f = frame.to_vec();
    let (l3, _) = l3_of(&f);
    let v4 = f[l3] >> 4 == 4;
    let proto = if v4 { f[l3 + 9] } else { f[l3 + 6] };
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
fn complete_csum_tcp_udp_v4_v6() {
    let cases = [
        (ipv4(&[], 6, &tcp(1, 2, b"abcdefg")), 34, 16),
        (ipv4(&[(0x8100, 1)], 17, &udp(1, 2, b"odd")), 38, 6),
        (ipv6(&[], 6, &tcp(1, 2, b"v6")), 54, 16),
        (ipv6(&[], 17, &udp(1, 2, b"")), 54, 6),
    ];
    for (frame, l4, at) in cases {
        let mut p = make_partial(&frame, l4, at);
        complete_csum(&mut p).expect("valid offsets");
        assert_eq!(p.offload.csum_partial, None);
        assert_eq!(p.data(), &frame[..], "same checksum as a full computation");
    }
}

#[test]
fn complete_csum_ignores_ethernet_padding() {
    let frame = ipv4(&[], 6, &tcp(1, 2, b""));
    let mut p = make_partial(&frame, 34, 16);
    p.extend_from_slice(&[0xee; 6]);
    complete_csum(&mut p).expect("valid");
    assert_eq!(&p.data()[..frame.len()], &frame[..]);
}

#[test]
fn complete_csum_rejects_bad_offsets() {
    let frame = ipv4(&[], 6, &tcp(1, 2, b"x"));
    for (start, offset) in [(60u16, 0u16), (34, 100), (34, 3), (u16::MAX, u16::MAX)] {
        let mut p = Packet::from_bytes(&frame);
        p.offload.csum_partial = Some(CsumPartial { start, offset });
        assert!(matches!(
            complete_csum(&mut p),
            Err(OffloadError::BadCsumOffsets { .. })
        ));
        assert_eq!(p.offload.csum_partial, None, "flag cleared");
        assert_eq!(p.data(), &frame[..], "bytes untouched");
    }
    let mut p = Packet::from_bytes(&frame);
    assert_eq!(complete_csum(&mut p), Ok(()), "nothing to do");
}

/// A GSO packet: `payload_len` bytes of TCP payload behind the headers,
/// checksum partial, as a guest with TSO sends it.
fn tso_packet(v6: bool, payload_len: usize, flags: u8) -> (Packet, Vec<u8>) {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut t = tcp(40000, 5201, &payload);
    t[13] = flags;
    let tags = [(0x8100, 0x0064)];
    let frame = if v6 {
        // IPv6 payload length still fits 16 bits for 64000 bytes.
        ipv6(&tags, 6, &t)
    } else {
        ipv4(&tags, 6, &t)
    };
    let l4 = if v6 { 58 } else { 38 };
    let mut p = make_partial(&frame, l4, 16);
    p.offload.gso = Some(Gso {
        kind: if v6 { GsoKind::TcpV6 } else { GsoKind::TcpV4 },
        size: 1448,
        hdr_len: (l4 + 20) as u16,
    });
    (p, payload)
}

fn pool_alloc() -> impl FnMut() -> Packet {
    Packet::default
}

fn check_tcp_segments(v6: bool) {
    // CWR | PSH | ACK | FIN.
    let (p, payload) = tso_packet(v6, 64000, 0x80 | 0x18 | 0x01);
    let mut out = Vec::new();
    // MSS 1448 is the IPv4 MSS of a 1500-byte MTU; IPv6 needs 1508.
    let mtu = if v6 { 1508 } else { 1500 };
    let n = segment(&p, mtu, &mut out, &mut pool_alloc()).expect("segments");
    assert_eq!(n, 64000usize.div_ceil(1448));
    assert_eq!(out.len(), n);
    let l3 = 18;
    let l4 = if v6 { 58 } else { 38 };
    let mut joined = Vec::new();
    for (i, s) in out.iter().enumerate() {
        let d = s.data();
        verify(d).unwrap_or_else(|e| panic!("segment {i}: {e}"));
        assert_eq!(s.offload, Offload::default());
        assert_eq!(&d[..l3], &p.data()[..l3], "segment {i} L2 headers");
        assert_eq!(&d[l4..l4 + 4], &p.data()[l4..l4 + 4], "segment {i} ports");
        let chunk = &d[l4 + 20..];
        let want = if i + 1 < n {
            1448
        } else {
            64000 - 1448 * (n - 1)
        };
        assert_eq!(chunk.len(), want);
        if v6 {
            let plen = u16::from_be_bytes([d[l3 + 4], d[l3 + 5]]) as usize;
            assert_eq!(plen, 20 + want);
        } else {
            let total = u16::from_be_bytes([d[l3 + 2], d[l3 + 3]]) as usize;
            assert_eq!(total, 40 + want);
            let id = u16::from_be_bytes([d[l3 + 4], d[l3 + 5]]);
            assert_eq!(id, 0x1234 + i as u16);
        }
        let seq = u32::from_be_bytes([d[l4 + 4], d[l4 + 5], d[l4 + 6], d[l4 + 7]]);
        assert_eq!(seq, 0x0102_0304 + (i * 1448) as u32);
        let flags = d[l4 + 13];
        assert_eq!(flags & 0x10, 0x10, "ACK everywhere");
        assert_eq!(flags & 0x80 != 0, i == 0, "CWR on the first only");
        assert_eq!(flags & 0x09 != 0, i + 1 == n, "FIN/PSH on the last only");
        if i + 1 == n {
            assert_eq!(flags & 0x09, 0x09);
        }
        assert!(d.len() - 18 <= mtu, "fits the MTU");
        joined.extend_from_slice(chunk);
    }
    assert_eq!(joined, payload);
}

#[test]
fn gso_tcpv4_64000_at_mss_1448() {
    check_tcp_segments(false);
}

#[test]
fn gso_tcpv6_64000_at_mss_1448() {
    check_tcp_segments(true);
}

#[test]
fn gso_respects_a_smaller_mtu() {
    let (p, payload) = tso_packet(false, 5000, 0x10);
    let mut out = Vec::new();
    let n = segment(&p, 1000, &mut out, &mut pool_alloc()).expect("segments");
    assert_eq!(n, 5000usize.div_ceil(960));
    let joined: Vec<u8> = out.iter().flat_map(|s| s.data()[58..].to_vec()).collect();
    assert_eq!(joined, payload);
    for s in &out {
        verify(s.data()).expect("valid");
        assert!(s.len() - 18 <= 1000);
    }
}

#[test]
fn gso_udp_segments_are_datagrams() {
    for v6 in [false, true] {
        let payload: Vec<u8> = (0..4000u32).map(|i| i as u8).collect();
        let frame = if v6 {
            ipv6(&[], 17, &udp(9, 10, &payload))
        } else {
            ipv4(&[], 17, &udp(9, 10, &payload))
        };
        let l4 = if v6 { 54 } else { 34 };
        let mut p = make_partial(&frame, l4, 6);
        p.offload.gso = Some(Gso {
            kind: GsoKind::Udp,
            size: 1200,
            hdr_len: (l4 + 8) as u16,
        });
        let mut out = Vec::new();
        let n = segment(&p, 0, &mut out, &mut pool_alloc()).expect("segments");
        assert_eq!(n, 4);
        let mut joined = Vec::new();
        for s in &out {
            let d = s.data();
            verify(d).expect("valid datagram");
            let ulen = u16::from_be_bytes([d[l4 + 4], d[l4 + 5]]) as usize;
            assert_eq!(ulen, d.len() - l4);
            assert_ne!(&d[l4 + 6..l4 + 8], &[0, 0], "checksum present");
            joined.extend_from_slice(&d[l4 + 8..]);
        }
        assert_eq!(joined, payload);
    }
}

#[test]
fn gso_rejects_mismatched_headers() {
    let (mut p, _) = tso_packet(false, 3000, 0x10);
    p.offload.gso = p.offload.gso.map(|g| Gso {
        kind: GsoKind::TcpV6,
        ..g
    });
    let mut out = Vec::new();
    assert!(matches!(
        segment(&p, 1500, &mut out, &mut pool_alloc()),
        Err(OffloadError::BadGsoHeaders { .. })
    ));
    assert!(out.is_empty());
    p.offload.gso = p.offload.gso.map(|g| Gso {
        kind: GsoKind::TcpV4,
        size: 0,
        ..g
    });
    assert!(matches!(
        segment(&p, 1500, &mut out, &mut pool_alloc()),
        Err(OffloadError::BadSegmentSize { .. })
    ));
    p.offload.gso = p.offload.gso.map(|g| Gso { size: 1, ..g });
    assert!(matches!(
        segment(&p, 1500, &mut out, &mut pool_alloc()),
        Err(OffloadError::TooManySegments(3000))
    ));
    p.offload.gso = None;
    assert_eq!(
        segment(&p, 1500, &mut out, &mut pool_alloc()),
        Err(OffloadError::NotGso)
    );
}

#[test]
fn gso_through_mpls() {
    let (p, payload) = tso_packet(false, 3000, 0x10);
    // Push an MPLS label in front of the IPv4 header.
    let mut sink_out = Vec::new();
    struct Sink<'a>(&'a mut Vec<Packet>);
    impl crate::exec::ExecSink for Sink<'_> {
        fn output(&mut self, _: crate::PortNo, p: Packet) {
            self.0.push(p);
        }
        fn userspace(&mut self, _: &Packet, _: &crate::flow::FlowKey, _: u64) {}
        fn recirculate(&mut self, _: Packet, _: u32) {}
        fn meter(&mut self, _: u32, _: usize) -> crate::dpif::MeterVerdict {
            crate::dpif::MeterVerdict::Pass
        }
        fn alloc(&mut self) -> Packet {
            Packet::default()
        }
        fn free(&mut self, _: Packet) {}
    }
    crate::exec::execute(
        &[
            crate::actions::Action::PushMpls {
                ethertype: 0x8847,
                lse: (5 << 12) | 0x100 | 64,
            },
            crate::actions::Action::Output(1),
        ],
        p,
        &crate::flow::FlowKey::default(),
        &mut Sink(&mut sink_out),
    );
    let p = sink_out.pop().expect("output");
    assert_eq!(p.offload.gso.map(|g| g.hdr_len), Some(62));
    let mut out = Vec::new();
    let n = segment(&p, 1500, &mut out, &mut pool_alloc()).expect("segments");
    assert_eq!(n, 3);
    let mut joined = Vec::new();
    for s in &out {
        // Check the inner IPv4/TCP by dropping the label.
        let d = s.data();
        let mut inner = d[..16].to_vec();
        inner.extend_from_slice(&[0x08, 0x00]);
        inner.extend_from_slice(&d[22..]);
        verify(&inner).expect("valid");
        joined.extend_from_slice(&d[62..]);
    }
    assert_eq!(joined, payload);
}

#[test]
fn prepare_for_port_decides_per_capability() {
    let mut pool = PacketPool::new();
    let plain = Packet::from_bytes(&ipv4(&[], 6, &tcp(1, 2, b"x")));
    let caps = PortCaps {
        tx_csum_partial: false,
        tx_tso: false,
        mtu: 1500,
    };
    let mut out = Vec::new();
    assert_eq!(
        prepare_for_port(plain.clone(), caps, &mut out, &mut pool),
        Ok(1)
    );
    assert_eq!(out[0].data(), plain.data());

    // Partial checksum: kept for a capable port, completed otherwise.
    let frame = ipv4(&[], 6, &tcp(1, 2, b"abc"));
    let p = make_partial(&frame, 34, 16);
    let mut out = Vec::new();
    let capable = PortCaps {
        tx_csum_partial: true,
        ..caps
    };
    prepare_for_port(p.clone(), capable, &mut out, &mut pool).expect("ok");
    assert!(out[0].offload.csum_partial.is_some());
    prepare_for_port(p, caps, &mut out, &mut pool).expect("ok");
    assert_eq!(out[1].data(), &frame[..]);
    assert_eq!(out[1].offload.csum_partial, None);

    // GSO: passed to a TSO port, segmented for the others.
    let (g, _) = tso_packet(false, 10_000, 0x18);
    let mut out = Vec::new();
    let tso = PortCaps {
        tx_csum_partial: true,
        tx_tso: true,
        mtu: 1500,
    };
    assert_eq!(prepare_for_port(g.clone(), tso, &mut out, &mut pool), Ok(1));
    assert!(out[0].offload.gso.is_some());
    let mut out = Vec::new();
    assert_eq!(prepare_for_port(g, caps, &mut out, &mut pool), Ok(7));
    assert!(out.iter().all(|s| verify(s.data()).is_ok()));

    // Bad offsets: error, nothing sent, buffer back in the pool.
    let mut bad = Packet::from_bytes(&frame);
    bad.offload.csum_partial = Some(CsumPartial {
        start: 9000,
        offset: 0,
    });
    let mut out = Vec::new();
    assert!(prepare_for_port(bad, caps, &mut out, &mut pool).is_err());
    assert!(out.is_empty());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn offload_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            base in proptest::option::of(0usize..3),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            start in any::<u16>(), offset in any::<u16>(),
            kind in 0usize..3, size in any::<u16>(), mtu in 0usize..3000,
        ) {
            let mut f = match base {
                Some(0) => tso_packet(false, 3000, 0x19).0.data().to_vec(),
                Some(1) => tso_packet(true, 3000, 0x19).0.data().to_vec(),
                Some(_) => ipv4(&[], 17, &udp(1, 2, &bytes)),
                None => bytes.clone(),
            };
            for (at, b) in edits {
                if !f.is_empty() {
                    let n = f.len();
                    f[at % n] = b;
                }
            }
            let mut p = Packet::from_bytes(&f);
            p.offload.csum_partial = Some(CsumPartial { start, offset });
            p.offload.gso = Some(Gso {
                kind: [GsoKind::TcpV4, GsoKind::TcpV6, GsoKind::Udp][kind],
                size,
                hdr_len: 0,
            });
            let mut out = Vec::new();
            if let Ok(n) = segment(&p, mtu, &mut out, &mut pool_alloc()) {
                prop_assert_eq!(n, out.len());
                prop_assert!(n <= MAX_SEGMENTS);
            }
            let _ = complete_csum(&mut p);
        }
    }
}

//! Tunnel push and pop cost, in nanoseconds per packet.
//!
//! For VXLAN over IPv4 (UDP checksum off and on), GENEVE over IPv6 and GRE
//! with a key, a 64-byte and a 1400-byte inner frame are encapsulated
//! (`push`) and the result decapsulated (`pop`), one packet per iteration.
//! Each iteration first restores the frame with `Packet::set_frame` (a
//! copy); the `copy` case measures that alone, to subtract.
//!
//! Run: `cargo bench -p switchd-benches --bench tunnel` (`-- --quick` for a
//! fast look).

use criterion::{criterion_group, criterion_main, Criterion};
use datapath::packet::Packet;
use datapath::tunnel::{self, Encap, OuterIp, TunnelHeader, TunnelKind, TunnelSpec};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An Ethernet frame of `len` bytes (the contents do not matter to push
/// or pop).
fn inner(len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.resize(len, 0xab);
    f
}

fn header(ip: OuterIp, encap: Encap<'_>) -> TunnelHeader {
    TunnelHeader::new(TunnelSpec {
        eth_dst: [0x02, 0, 0, 0, 0, 0xdd],
        eth_src: [0x02, 0, 0, 0, 0, 0x55],
        ip,
        encap,
        mtu: 9000,
    })
    .expect("valid header")
}

fn tunnel_benches(c: &mut Criterion) {
    let v4 = OuterIp::V4 {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        tos: 0,
        ttl: 64,
        df: true,
    };
    let v6 = OuterIp::V6 {
        src: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
        dst: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
        traffic_class: 0,
        hop_limit: 64,
        flow_label: 0,
    };
    let cases = [
        (
            "vxlan4",
            header(
                v4,
                Encap::Vxlan {
                    vni: 42,
                    dst_port: 4789,
                    csum: false,
                },
            ),
            TunnelKind::Vxlan,
        ),
        (
            "vxlan4_csum",
            header(
                v4,
                Encap::Vxlan {
                    vni: 42,
                    dst_port: 4789,
                    csum: true,
                },
            ),
            TunnelKind::Vxlan,
        ),
        (
            "geneve6",
            header(
                v6,
                Encap::Geneve {
                    vni: 42,
                    dst_port: 6081,
                    csum: true,
                    oam: false,
                    options: &[],
                },
            ),
            TunnelKind::Geneve,
        ),
        (
            "gre4_key",
            header(
                v4,
                Encap::Gre {
                    key: Some(42),
                    csum: false,
                    seq: None,
                },
            ),
            TunnelKind::Gre,
        ),
    ];
    let mut g = c.benchmark_group("tunnel");
    for len in [64usize, 1400] {
        let frame = inner(len);
        let mut p = Packet::from_bytes(&frame);
        g.bench_function(format!("copy/{len}"), |b| {
            b.iter(|| p.set_frame(black_box(&frame)))
        });
        for (name, h, kind) in &cases {
            g.bench_function(format!("push/{name}/{len}"), |b| {
                b.iter(|| {
                    p.set_frame(&frame);
                    tunnel::push(&mut p, black_box(h), 7).expect("push");
                })
            });
            let mut q = Packet::from_bytes(&frame);
            tunnel::push(&mut q, h, 7).expect("push");
            let outer = q.data().to_vec();
            g.bench_function(format!("pop/{name}/{len}"), |b| {
                b.iter(|| {
                    p.set_frame(&outer);
                    tunnel::pop(&mut p, *kind, &tunnel::TlvMap::default()).expect("pop");
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, tunnel_benches);
criterion_main!(benches);

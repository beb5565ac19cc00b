//! Flow key extraction cost, in nanoseconds per packet.
//!
//! Each benchmark extracts a batch of 32 packets of one kind (the datapath's
//! batch size), the way a worker does right after receive: the packets are
//! distinct (source ports / addresses vary) so the branch predictor sees the
//! same shape but not the same bytes. Criterion reports the time per batch
//! and, with the element throughput set to 32, packets per second; divide the
//! batch time by 32 for ns/packet.
//!
//! The `etherparse_slice_*` cases run the same frames through etherparse's
//! slicer, which only finds the headers (less work than a key): the
//! measurement behind the hand-written walk (docs/DECISIONS.md).
//!
//! Run: `cargo bench -p switchd-benches --bench flow_extract`
//! (`-- --quick` for a fast look).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use datapath::flow::{extract, FlowKey};
use datapath::packet::{Packet, BATCH_SIZE};

const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

fn eth(tags: &[u16], ty: u16) -> Vec<u8> {
    let mut f = [&DST[..], &SRC[..]].concat();
    for &tci in tags {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ty.to_be_bytes());
    f
}

/// A 20-byte TCP header (ACK) followed by `payload` bytes of zeros.
fn tcp(sport: u16, payload: usize) -> Vec<u8> {
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&[
        0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    t.resize(20 + payload, 0);
    t
}

fn ipv4(proto: u8, src_low: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[
        0, 0, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, src_low, 10, 0, 1, 1,
    ]);
    h.extend_from_slice(l4);
    h
}

fn tcp_ipv4(i: u8, tags: &[u16]) -> Vec<u8> {
    let seg = tcp(40000 + u16::from(i), 64);
    [eth(tags, 0x0800), ipv4(6, i, &seg)].concat()
}

fn udp_ipv6(i: u8) -> Vec<u8> {
    let mut udp = (5000 + u16::from(i)).to_be_bytes().to_vec();
    udp.extend_from_slice(&[0x12, 0xb5, 0, 72, 0, 0]);
    udp.resize(72, 0);
    let mut ip = vec![0x60, 0x00, 0x12, 0x34];
    ip.extend_from_slice(&(udp.len() as u16).to_be_bytes());
    ip.extend_from_slice(&[17, 64]);
    ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i]);
    ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    [eth(&[], 0x86dd), ip, udp].concat()
}

fn arp(i: u8) -> Vec<u8> {
    let mut a = vec![0, 1, 0x08, 0x00, 6, 4, 0, 1];
    a.extend_from_slice(&SRC);
    a.extend_from_slice(&[10, 0, 0, i, 0, 0, 0, 0, 0, 0, 10, 0, 1, 1]);
    let mut f = [eth(&[], 0x0806), a].concat();
    f.resize(60, 0);
    f
}

fn batch(make: impl Fn(u8) -> Vec<u8>) -> Vec<Packet> {
    (0..BATCH_SIZE as u8)
        .map(|i| {
            let mut p = Packet::from_bytes(&make(i));
            p.in_port = 1;
            p
        })
        .collect()
}

fn flow_extract(c: &mut Criterion) {
    let cases: [(&str, Vec<Packet>); 4] = [
        ("tcp_ipv4", batch(|i| tcp_ipv4(i, &[]))),
        ("udp_ipv6", batch(udp_ipv6)),
        ("arp", batch(arp)),
        ("vlan_tcp_ipv4", batch(|i| tcp_ipv4(i, &[0x0064]))),
    ];
    let mut group = c.benchmark_group("flow_extract_batch32");
    group.throughput(Throughput::Elements(BATCH_SIZE as u64));
    let mut keys = [FlowKey::default(); BATCH_SIZE];
    for (name, packets) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                for (p, k) in packets.iter().zip(keys.iter_mut()) {
                    extract(black_box(p), k);
                }
                black_box(&keys);
            })
        });
    }
    // The same frames through etherparse's lax slicer (header slices only,
    // nothing copied into a key): the yardstick for docs/DECISIONS.md.
    for (name, packets) in &cases {
        group.bench_function(format!("etherparse_slice_{name}"), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for p in packets {
                    if let Ok(s) = etherparse::SlicedPacket::from_ethernet(black_box(p.data())) {
                        n += usize::from(s.transport.is_some());
                    }
                }
                black_box(n);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, flow_extract);
criterion_main!(benches);

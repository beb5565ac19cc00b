//! Action execution cost, in nanoseconds per packet.
//!
//! A batch of 32 TCP/IPv4 packets (64-byte frames) runs through an action
//! list, the way a worker executes a megaflow's actions after a cache hit.
//! The sink hands every output packet straight back, so the measurement is
//! the execution itself: no port, no frame refill between iterations. The
//! set-field lists alternate between two values, so every iteration really
//! rewrites the bytes and updates the checksums (an unchanged field would
//! take the "nothing changed" shortcut). Criterion reports the time per
//! batch; with the element throughput set to 32 it also reports packets per
//! second. Divide the batch time by 32 for ns/packet.
//!
//! Run: `cargo bench -p switchd-benches --bench exec` (`-- --quick` for a
//! fast look).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datapath::actions::{Action, Field};
use datapath::exec::{execute, ExecSink};
use datapath::flow::FlowKey;
use datapath::packet::{Packet, PacketPool, BATCH_SIZE};
use datapath::PortNo;
use std::hint::black_box;

/// A 64-byte Ethernet/IPv4/TCP frame with valid checksums.
fn frame(sport: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let mut ip = vec![
        0x45, 0, 0, 50, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let c = csum(0, &ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut tcp = sport.to_be_bytes().to_vec();
    tcp.extend_from_slice(&[
        0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    tcp.resize(30, 0xab);
    let mut ps = 0u32;
    for w in ip[12..20].chunks(2) {
        ps += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    ps += 6 + tcp.len() as u32;
    let c = csum(ps, &tcp);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&tcp);
    f
}

fn csum(mut acc: u32, b: &[u8]) -> u16 {
    for w in b.chunks(2) {
        acc += u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Outputs go back into `held`; copies come from a pool.
struct Recycle {
    held: Vec<Packet>,
    pool: PacketPool,
}

impl ExecSink for Recycle {
    fn output(&mut self, _port: PortNo, packet: Packet) {
        self.held.push(packet);
    }
    fn userspace(&mut self, _packet: &Packet, _key: &FlowKey, _userdata: u64) {}
    fn recirculate(&mut self, packet: Packet, _recirc_id: u32) {
        self.pool.put(packet);
    }
    fn meter(&mut self, _meter_id: u32, _len: usize) -> datapath::dpif::MeterVerdict {
        datapath::dpif::MeterVerdict::Pass
    }
    fn alloc(&mut self) -> Packet {
        self.pool.get()
    }
    fn free(&mut self, packet: Packet) {
        self.pool.put(packet);
    }
}

fn bench_lists(c: &mut Criterion, name: &str, lists: [Vec<Action>; 2], outputs_per_packet: usize) {
    let key = FlowKey::default();
    let mut batch: Vec<Packet> = (0..BATCH_SIZE)
        .map(|i| Packet::from_bytes(&frame(1000 + i as u16)))
        .collect();
    let mut sink = Recycle {
        held: Vec::with_capacity(BATCH_SIZE * outputs_per_packet),
        pool: PacketPool::new(),
    };
    let mut group = c.benchmark_group("exec");
    group.throughput(Throughput::Elements(BATCH_SIZE as u64));
    let mut flip = 0;
    group.bench_function(name, |b| {
        b.iter(|| {
            let actions = &lists[flip];
            flip ^= 1;
            for p in batch.drain(..) {
                execute(black_box(actions), p, &key, &mut sink);
            }
            // Keep one packet per input; extra copies go back to the pool.
            for (i, p) in sink.held.drain(..).enumerate() {
                if i % outputs_per_packet == outputs_per_packet - 1 {
                    batch.push(p);
                } else {
                    sink.pool.put(p);
                }
            }
        })
    });
    group.finish();
}

fn exec_benches(c: &mut Criterion) {
    bench_lists(
        c,
        "output",
        [vec![Action::Output(1)], vec![Action::Output(2)]],
        1,
    );
    bench_lists(
        c,
        "set_ipv4_dst+output",
        [
            vec![Action::set(Field::Ipv4Dst, 0x0a00_0003), Action::Output(1)],
            vec![Action::set(Field::Ipv4Dst, 0x0a00_0002), Action::Output(1)],
        ],
        1,
    );
    bench_lists(
        c,
        "set_eth_ipv4_tcp+output",
        [
            vec![
                Action::set(Field::EthDst, 0x0200_0000_0009),
                Action::set(Field::Ipv4Dst, 0x0a00_0003),
                Action::set(Field::TcpDst, 8080),
                Action::Output(1),
            ],
            vec![
                Action::set(Field::EthDst, 0x0200_0000_0002),
                Action::set(Field::Ipv4Dst, 0x0a00_0002),
                Action::set(Field::TcpDst, 80),
                Action::Output(1),
            ],
        ],
        1,
    );
    bench_lists(
        c,
        "output+output(copy)",
        [
            vec![Action::Output(1), Action::Output(2)],
            vec![Action::Output(2), Action::Output(1)],
        ],
        2,
    );
}

criterion_group!(benches, exec_benches);
criterion_main!(benches);

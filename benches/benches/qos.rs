//! Traffic control's cost on the transmit path, in nanoseconds per packet.
//!
//! A batch of 32 frames of 64 bytes goes through `EgressQos::admit` as the
//! worker's flush sends it, then back into the batch for the next
//! iteration (the packets are reused; nothing is transmitted):
//! - `htb-uncongested`: an HTB at 10 Gbit/s with two queues, whose
//!   buckets never run dry (the clock is advanced a second per batch):
//!   classification (by `set_queue` id) and charging, the QoS that is
//!   configured but not needed.
//! - `htb-shaping`: the same HTB at 1 Mbit/s with the clock barely moving:
//!   every packet is queued and, the queue full, tail-dropped, and the
//!   scheduler serves the few its tokens allow (the cost of shaping). Its
//!   packets come from a pool each iteration (a 64-byte copy each, which
//!   the `copy` figure of `benches/tunnel.rs` prices at a few ns).
//! - `egress-policer`: an srTCM that passes everything.
//!
//! Run: `cargo bench -p switchd-benches --bench qos` (`-- --quick` for a
//! fast look).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datapath::packet::{Packet, PacketPool};
use datapath::qos::{EgressQos, QosSpec, QueueSpec};
use std::hint::black_box;

const BATCH: usize = 32;

fn batch(queue: Option<u32>) -> Vec<Packet> {
    (0..BATCH)
        .map(|_| {
            let mut p = Packet::from_bytes(&[0u8; 64]);
            p.queue = queue;
            p
        })
        .collect()
}

fn htb(max_rate: u64) -> EgressQos {
    let q = |id, min_rate| QueueSpec {
        id,
        min_rate,
        max_rate: 0,
        burst: 0,
        priority: 1,
        depth: 0,
    };
    EgressQos::new(QosSpec::Htb {
        max_rate,
        burst: 0,
        queues: vec![q(1, max_rate / 2), q(2, max_rate / 4)],
        dscp_map: Vec::new(),
        codel: false,
    })
}

fn qos_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("qos");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut pool = PacketPool::new();

    let e = htb(10_000_000_000);
    let mut pending = batch(Some(1));
    let mut now = 0.0;
    g.bench_function("htb-uncongested", |b| {
        b.iter(|| {
            now += 1.0;
            e.admit(black_box(&mut pending), now, &mut pool);
            // Everything was sent at once: the batch is whole again.
            assert_eq!(pending.len(), BATCH);
        })
    });

    let e = htb(1_000_000);
    let mut now = 0.0;
    let mut pending = Vec::with_capacity(2 * BATCH);
    g.bench_function("htb-shaping", |b| {
        b.iter(|| {
            // Fresh packets from the pool (dropped ones went back to it).
            for _ in 0..BATCH {
                let mut p = pool.get();
                p.set_frame(&[0u8; 64]);
                p.queue = Some(1);
                pending.push(p);
            }
            now += 1e-6;
            e.admit(black_box(&mut pending), now, &mut pool);
            pool.put_all(&mut pending);
        })
    });

    let e = EgressQos::new(QosSpec::EgressPolicer {
        cir: 10_000_000_000,
        cbs: 1_000_000,
    });
    let mut pending = batch(None);
    let mut now = 0.0;
    g.bench_function("egress-policer", |b| {
        b.iter(|| {
            now += 1.0;
            e.admit(black_box(&mut pending), now, &mut pool);
            assert_eq!(pending.len(), BATCH);
        })
    });
    g.finish();
}

criterion_group!(benches, qos_benches);
criterion_main!(benches);

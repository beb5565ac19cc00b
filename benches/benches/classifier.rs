//! Cache benchmarks: exact-match cache hits, megaflow lookups with 1, 8 and
//! 32 subtables (batch of 32, the key hitting the *last-ranked* subtable, the
//! worst case before re-ranking), and megaflow install rate.
//!
//! `cargo bench -p switchd-benches --bench classifier`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use datapath::actions::Action;
use datapath::cache::{Classifier, ExactMatchCache, Megaflow};
use datapath::flow::FlowKey;
use std::hint::black_box;
use std::sync::Arc;

fn key(i: u32) -> FlowKey {
    FlowKey {
        in_port: 1 + (i % 4),
        eth_type: 0x0800,
        eth_src: [2, 0, 0, 0, (i >> 8) as u8, i as u8],
        eth_dst: [2, 0, 0, 1, (i >> 8) as u8, i as u8],
        ipv4_src: 0x0a00_0000 | i,
        ipv4_dst: 0x0a01_0000 | (i * 7),
        nw_proto: 6,
        nw_ttl: 64,
        tp_src: (1024 + i) as u16,
        tp_dst: 80,
        ..Default::default()
    }
}

/// Mask number `m` of a family of distinct masks.
fn mask(m: u32) -> FlowKey {
    let mut mask = FlowKey::default();
    mask.eth_type = 0xffff;
    mask.in_port = u32::MAX;
    mask.ipv4_dst = u32::MAX << (m % 32);
    if m >= 32 {
        mask.tp_dst = 0xffff;
    }
    mask
}

fn actions() -> Arc<[Action]> {
    Arc::from(vec![Action::Output(2)])
}

fn classifier_with(subtables: u32, flows_per: u32) -> Classifier {
    let mut c = Classifier::new();
    let mut id = 0;
    for m in 0..subtables {
        for f in 0..flows_per {
            id += 1;
            // Only the last subtable holds flows that match the probe keys.
            let k = if m + 1 == subtables {
                key(f)
            } else {
                let mut k = key(f);
                k.eth_type = 0x86dd;
                k
            };
            c.insert(Arc::new(Megaflow::new(id, &k, &mask(m), actions())));
        }
    }
    c
}

fn bench(c: &mut Criterion) {
    let keys: Vec<FlowKey> = (0..32).map(key).collect();

    let mut g = c.benchmark_group("emc");
    g.throughput(Throughput::Elements(32));
    let mut emc = ExactMatchCache::new(8192, 1);
    let flow = Arc::new(Megaflow::new(1, &keys[0], &mask(0), actions()));
    let hashes: Vec<u32> = keys.iter().map(|k| k.hash()).collect();
    for (k, h) in keys.iter().zip(&hashes) {
        emc.insert(k, *h, &flow);
    }
    g.bench_function("hit_batch32", |b| {
        b.iter(|| {
            let mut n = 0;
            for (k, _) in keys.iter().zip(&hashes) {
                // Hash included: the worker computes it per packet too.
                if emc.lookup(k, black_box(k).hash()).is_some() {
                    n += 1;
                }
            }
            black_box(n)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("megaflow_lookup");
    g.throughput(Throughput::Elements(32));
    for subtables in [1u32, 8, 32] {
        let mut cls = classifier_with(subtables, 64);
        g.bench_function(format!("{subtables}_subtables_batch32"), |b| {
            b.iter(|| {
                let mut out: [Option<Arc<Megaflow>>; 32] = Default::default();
                let s = cls.lookup_batch(black_box(&keys), &mut out);
                assert_eq!(s.hits, 32);
                black_box(out)
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("megaflow_install");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000_flows_8_masks", |b| {
        b.iter_batched(
            Classifier::new,
            |mut cls| {
                for i in 0..1000u32 {
                    cls.insert(Arc::new(Megaflow::new(
                        i as u64,
                        &key(i),
                        &mask(i % 8),
                        actions(),
                    )));
                }
                cls
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Flow-table scale: loading N OpenFlow flows into one table, deleting them
//! again one by one with DELETE_STRICT, and loading them while a snapshot of
//! the table is taken before every add (what `PipelineStore` does per
//! flow-mod). Flows have distinct matches (in_port + ipv4_dst) spread over
//! four priorities, added in an order that interleaves the priorities.
//!
//! `cargo bench -p switchd-benches --bench flow_table`

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ofproto::pipeline::key_map::match_to_key;
use ofproto::pipeline::table::FlowTable;
use ofproto::pipeline::xkey::XKey as FlowKey;
use ofproto::wire::flow_mod::{FlowMod, FlowModCommand};
use ofproto::wire::oxm::{Match, OxmField};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const MAX_RULES: usize = 1_000_000;

/// Flow-mods for `n` flows with distinct matches, and their datapath keys.
fn flows(n: u32, command: FlowModCommand) -> Vec<(FlowMod, FlowKey, FlowKey)> {
    (0..n)
        .map(|i| {
            let m = Match::new()
                .with(OxmField::InPort(1 + i % 16))
                .with(OxmField::EthType(0x0800))
                .with(OxmField::Ipv4Dst {
                    value: Ipv4Addr::from(0x0a00_0000 | i),
                    mask: None,
                });
            let (key, mask) = match_to_key(&m, &Default::default()).expect("a valid match");
            let fm = FlowMod {
                priority: 100 * (1 + (i % 4) as u16),
                match_: m,
                command,
                ..Default::default()
            };
            (fm, key, mask)
        })
        .collect()
}

fn load(flows: &[(FlowMod, FlowKey, FlowKey)], now: Instant) -> FlowTable {
    let mut t = FlowTable::default();
    for (fm, key, mask) in flows {
        t.add(fm, *key, *mask, now, MAX_RULES).expect("room");
    }
    t
}

fn add(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_table/add");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [1_000u32, 10_000, 100_000] {
        let adds = flows(n, FlowModCommand::Add);
        g.throughput(Throughput::Elements(n.into()));
        g.bench_with_input(BenchmarkId::from_parameter(n), &adds, |b, adds| {
            b.iter(|| black_box(load(adds, Instant::now())));
        });
    }
    g.finish();
}

fn delete_strict(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_table/delete_strict");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [1_000u32, 10_000, 100_000] {
        let adds = flows(n, FlowModCommand::Add);
        let deletes = flows(n, FlowModCommand::DeleteStrict);
        let loaded = load(&adds, Instant::now());
        g.throughput(Throughput::Elements(n.into()));
        g.bench_with_input(BenchmarkId::from_parameter(n), &deletes, |b, deletes| {
            b.iter_batched(
                || loaded.clone(),
                |mut t| {
                    for (fm, key, mask) in deletes {
                        black_box(t.delete(fm, true, key, mask));
                    }
                    assert!(t.is_empty());
                    t
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

/// Every add lands in a fresh copy of the table while the previous version
/// stays alive, as a published snapshot does.
fn add_snapshot_per_change(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_table/add_snapshot_per_change");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [1_000u32, 10_000] {
        let adds = flows(n, FlowModCommand::Add);
        g.throughput(Throughput::Elements(n.into()));
        g.bench_with_input(BenchmarkId::from_parameter(n), &adds, |b, adds| {
            b.iter(|| {
                let now = Instant::now();
                let mut published = FlowTable::default();
                for (fm, key, mask) in adds {
                    let mut next = published.clone();
                    next.add(fm, *key, *mask, now, MAX_RULES).expect("room");
                    published = next;
                }
                black_box(published)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, add, delete_strict, add_snapshot_per_change);
criterion_main!(benches);

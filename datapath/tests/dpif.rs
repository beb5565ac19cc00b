//! The worker loop end to end, with in-memory ports and a test handler:
//! upcall on the first packet, megaflow install, cache hits after, per-port
//! and per-worker counters, dpif flow operations, and the upcall bound.

use datapath::actions::Action;
use datapath::dpif::{Dpif, DpifConfig};
use datapath::flow::FlowKey;
use datapath::netdev::mem::MemPort;
use datapath::packet::Packet;
use datapath::upcall::{UpcallHandler, UpcallReply};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends everything from port 1 to port 2 and vice versa, matching only on
/// in_port and the destination MAC.
#[derive(Default)]
struct Cross {
    upcalls: AtomicUsize,
}

impl UpcallHandler for Cross {
    fn miss(&self, packet: &Packet, key: &FlowKey) -> Option<UpcallReply> {
        self.upcalls.fetch_add(1, Ordering::SeqCst);
        let out = if packet.in_port == 1 { 2 } else { 1 };
        let mask = FlowKey {
            in_port: u32::MAX,
            eth_dst: [0xff; 6],
            ..Default::default()
        };
        let _ = key;
        Some(UpcallReply {
            actions: Arc::from(vec![Action::Output(out)]),
            mask,
            install: true,
            owner: None,
        })
    }
}

fn frame(dst: u8, src_port: u16) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, dst]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xaa]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[34..36].copy_from_slice(&src_port.to_be_bytes());
    f[36..38].copy_from_slice(&53u16.to_be_bytes());
    f
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn first_packet_upcalls_then_the_megaflow_forwards_the_rest() {
    let handler = Arc::new(Cross::default());
    let dpif = Dpif::new(
        DpifConfig {
            emc_insert_inv_prob: 1,
            ..Default::default()
        },
        handler.clone(),
        None,
    )
    .unwrap();
    let a = MemPort::new("a");
    let b = MemPort::new("b");
    assert_eq!(dpif.add_port(a.clone(), None).unwrap(), 1);
    assert_eq!(dpif.add_port(b.clone(), None).unwrap(), 2);

    // 100 micro-flows (different UDP source ports) to one MAC: one megaflow.
    for sport in 0..100 {
        a.inject(&frame(2, 1000 + sport));
    }
    wait_until("100 packets on b", || b.sent() == 100);
    assert_eq!(handler.upcalls.load(Ordering::SeqCst), 1);
    let flows = dpif.dump_flows();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].packets, 100);
    assert_eq!(flows[0].key.in_port, 1);
    assert_eq!(
        flows[0].mask.tp_src, 0,
        "the mask must not un-wildcard ports"
    );

    // The same micro-flows again: now EMC hits.
    for sport in 0..100 {
        a.inject(&frame(2, 1000 + sport));
    }
    wait_until("200 packets on b", || b.sent() == 200);
    let ws = dpif.worker_stats();
    assert_eq!(ws[0].rx_packets, 200);
    assert_eq!(ws[0].misses, 1);
    assert!(ws[0].emc_hits >= 90, "{ws:?}");
    assert_eq!(ws[0].emc_hits + ws[0].megaflow_hits + 1, 200, "{ws:?}");

    // Delete the megaflow: the next packet upcalls again.
    dpif.delete_flow(flows[0].id).unwrap();
    dpif.sync(Duration::from_secs(2)).unwrap();
    a.inject(&frame(2, 7));
    wait_until("201 packets on b", || b.sent() == 201);
    assert_eq!(handler.upcalls.load(Ordering::SeqCst), 2);

    // The other direction gets its own megaflow.
    b.inject(&frame(1, 9));
    wait_until("1 packet on a", || a.sent() == 1);
    assert_eq!(dpif.dump_flows().len(), 2);

    // Removing a port: packets for it are dropped and counted.
    dpif.remove_port(1).unwrap();
    b.inject(&frame(1, 9));
    wait_until("drop counted", || dpif.worker_stats()[0].dropped == 1);
    assert_eq!(a.sent(), 1);
}

#[test]
fn put_modify_and_flush_flows() {
    let handler = Arc::new(Cross::default());
    let dpif = Dpif::new(DpifConfig::default(), handler.clone(), None).unwrap();
    let a = MemPort::new("a");
    let b = MemPort::new("b");
    let c = MemPort::new("c");
    dpif.add_port(a.clone(), Some(1)).unwrap();
    dpif.add_port(b.clone(), Some(2)).unwrap();
    dpif.add_port(c.clone(), Some(3)).unwrap();
    assert!(
        dpif.add_port(MemPort::new("a"), None).is_err(),
        "duplicate name"
    );
    assert!(
        dpif.add_port(MemPort::new("d"), Some(3)).is_err(),
        "duplicate number"
    );

    let key = FlowKey {
        in_port: 1,
        ..Default::default()
    };
    let mask = FlowKey {
        in_port: u32::MAX,
        ..Default::default()
    };
    let ids = dpif.put_flow(&key, &mask, Arc::from(vec![Action::Output(3)]));
    dpif.sync(Duration::from_secs(2)).unwrap();
    a.inject(&frame(2, 1));
    wait_until("packet on c", || c.sent() == 1);
    assert_eq!(handler.upcalls.load(Ordering::SeqCst), 0);

    dpif.modify_flow(
        ids[0],
        Arc::from(vec![Action::Output(2), Action::Output(3)]),
    )
    .unwrap();
    dpif.sync(Duration::from_secs(2)).unwrap();
    a.inject(&frame(2, 2));
    wait_until("packet on b and c", || b.sent() == 1 && c.sent() == 2);
    let dump = dpif.dump_flows();
    assert_eq!(dump.len(), 1);
    assert_eq!(dump[0].packets, 2, "stats survive a modify");

    dpif.flush_flows();
    dpif.sync(Duration::from_secs(2)).unwrap();
    assert!(dpif.dump_flows().is_empty());
    a.inject(&frame(2, 3));
    wait_until("upcall after flush", || {
        handler.upcalls.load(Ordering::SeqCst) == 1
    });
    assert!(dpif.delete_flow(999_999).is_err());
}

#[test]
fn a_flood_of_new_flows_is_bounded_and_counted() {
    let handler = Arc::new(Cross::default());
    struct Exact(Arc<Cross>);
    impl UpcallHandler for Exact {
        fn miss(&self, p: &Packet, k: &FlowKey) -> Option<UpcallReply> {
            let mut r = self.0.miss(p, k)?;
            r.mask = FlowKey::exact();
            Some(r)
        }
    }
    let dpif = Dpif::new(
        DpifConfig {
            upcalls_per_sec: 50,
            ..Default::default()
        },
        Arc::new(Exact(handler.clone())),
        None,
    )
    .unwrap();
    let a = MemPort::new("a");
    let b = MemPort::new("b");
    dpif.add_port(a.clone(), None).unwrap();
    dpif.add_port(b.clone(), None).unwrap();
    for sport in 0..1000 {
        a.inject(&frame(2, sport));
    }
    wait_until("all 1000 handled", || {
        let s = dpif.worker_stats()[0];
        s.rx_packets == 1000
    });
    let s = dpif.worker_stats()[0];
    assert!(s.lost_upcalls >= 900, "{s:?}");
    assert_eq!(s.lost_upcalls as usize + b.sent(), 1000);
    assert!(handler.upcalls.load(Ordering::SeqCst) <= 100);
}

#[test]
fn an_idle_datapath_sleeps() {
    let dpif = Dpif::new(DpifConfig::default(), Arc::new(Cross::default()), None).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let s = dpif.worker_stats()[0];
    // With no queues to poll, the worker sleeps in epoll, ~10 times a second.
    assert!(s.idle_sleeps >= 1 && s.idle_sleeps < 20, "{s:?}");
}

#[test]
fn execute_sends_from_the_callers_thread() {
    let dpif = Dpif::new(DpifConfig::default(), Arc::new(Cross::default()), None).unwrap();
    let a = MemPort::new("a");
    let b = MemPort::new("b");
    dpif.add_port(a.clone(), None).unwrap();
    dpif.add_port(b.clone(), None).unwrap();
    let sent = dpif.execute(
        Packet::from_bytes(&frame(2, 1)),
        &[Action::Output(1), Action::Output(2), Action::Output(77)],
    );
    assert_eq!(sent, 2, "a port that does not exist takes nothing");
    assert_eq!((a.sent(), b.sent()), (1, 1));
}

/// Egress QoS through the dpif: a port shaped to 1 Mbit/s with a burst of
/// ten 60-byte frames takes that burst at once from a worker's batch and
/// queues the rest, which the worker sends as tokens come (480 bits a
/// frame: ~2,000 a second); a packet-out to the shaped port joins the same
/// queue; a bad spec is refused; removing the port removes its QoS.
#[test]
fn a_shaped_port_queues_and_its_worker_drains_the_queue() {
    use datapath::qos::QosSpec;
    let dpif = Dpif::new(DpifConfig::default(), Arc::new(Cross::default()), None).unwrap();
    let a = MemPort::new("a");
    let b = MemPort::new("b");
    dpif.add_port(a.clone(), None).unwrap();
    dpif.add_port(b.clone(), None).unwrap();
    let htb = |max_rate| QosSpec::Htb {
        max_rate,
        burst: 10 * 60 * 8,
        queues: Vec::new(),
        dscp_map: Vec::new(),
        codel: false,
    };
    assert!(dpif.set_egress_qos(2, Some(htb(0))).is_err(), "a rate of 0");
    assert!(
        dpif.set_egress_qos(9, Some(htb(1_000_000))).is_err(),
        "no port 9"
    );
    dpif.set_egress_qos(2, Some(htb(1_000_000))).unwrap();
    let start = Instant::now();
    for i in 0..40 {
        a.inject(&frame(2, i));
    }
    dpif.execute(Packet::from_bytes(&frame(2, 99)), &[Action::Output(2)]);
    // The burst goes at once; the rest, 31 frames, at ~2,000 a second.
    wait_until("the queue to drain", || b.sent() == 41);
    // 41 frames less the 10 of the burst, at 125 bytes a ms: >= 14 ms.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(14),
        "drained in {took:?}: not shaped"
    );
    let qos = dpif.qos();
    let q = &qos.egress(2).expect("port 2's QoS").stats().queues[0];
    assert_eq!((q.tx_packets, q.dropped, q.waiting_packets), (41, 0, 0));
    dpif.remove_port(2).unwrap();
    assert!(dpif.qos().egress(2).is_none(), "gone with its port");
}

/// Two datapaths on one PMD pool: both forward on the pool's one thread,
/// stopping one leaves the other forwarding, and a datapath that asks for
/// two workers grows the pool to two threads.
#[test]
fn datapaths_share_pmd_threads_and_stop_one_at_a_time() {
    use datapath::pmd::PmdPool;
    let pool = PmdPool::new();
    let start = |workers: usize| {
        let d = Dpif::new_in(
            pool.clone(),
            DpifConfig {
                workers,
                emc_insert_inv_prob: 1,
                ..Default::default()
            },
            Arc::new(Cross::default()),
            None,
        )
        .unwrap();
        let (a, b) = (MemPort::new("a"), MemPort::new("b"));
        d.add_port(a.clone(), None).unwrap();
        d.add_port(b.clone(), None).unwrap();
        (d, a, b)
    };
    let (first, a1, b1) = start(1);
    let (second, a2, b2) = start(1);
    assert_eq!(pool.len(), 1, "one thread serves both");
    a1.inject(&frame(2, 1));
    a2.inject(&frame(2, 1));
    wait_until("both forward", || b1.sent() == 1 && b2.sent() == 1);

    drop(first);
    a2.inject(&frame(2, 2));
    wait_until("the second still forwards", || b2.sent() == 2);
    assert_eq!(b1.sent(), 1);

    let (third, a3, b3) = start(2);
    assert_eq!(pool.len(), 2);
    a3.inject(&frame(2, 1));
    wait_until("the third forwards", || b3.sent() == 1);
    drop((second, third));
}

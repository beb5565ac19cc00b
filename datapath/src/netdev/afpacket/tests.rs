//! AF_PACKET port tests against real veth pairs (root only; skipped
//! otherwise). Each test builds its own namespace and veth pair named
//! `h4...<pid><tag>`, torn down by guards even when an assertion fails.

use super::testns::{can_run, frame, pseudo_sum, udp_frame, RawSocket, VethNs, OUR_MAC};
use super::*;
use crate::packet::{CsumPartial, Gso, GsoKind, Offload};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BROADCAST: [u8; 6] = [0xff; 6];
/// IEEE "local experimental" ethertype for test frames.
const TEST_ETHERTYPE: u16 = 0x88b5;

/// Poll every queue of `port` until a packet accepted by `want` arrives.
fn rx_until(
    port: &AfPacketPort,
    timeout: Duration,
    want: impl Fn(&Packet) -> bool,
) -> Option<Packet> {
    let mut pool = PacketPool::new();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        for q in 0..port.n_rxq() {
            let mut batch = Batch::new();
            port.rx_batch(q, &mut batch, &mut pool);
            for p in batch.packets.drain(..) {
                if want(&p) {
                    return Some(p);
                }
                pool.put(p);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn h4_afpacket_tx_and_rx_on_veth() {
    if !can_run("h4_afpacket_tx_and_rx_on_veth") {
        return;
    }
    let env = VethNs::new("a", "10.204.1.1");
    let port = AfPacketPort::open(&env.root.name, AfPacketOptions::default()).expect("open");
    assert_eq!(port.kind(), "afpacket");
    assert!(port.link_up());
    assert!(port.mac().is_some_and(|m| m != [0; 6]));
    // What `ethtool` says of a veth: 10000Mb/s, Full, Twisted Pair.
    assert_eq!(
        port.link_speed(),
        Some(crate::netdev::ethtool::LinkSpeed {
            mbps: 10_000,
            full_duplex: true,
            medium: crate::netdev::ethtool::Medium::Copper,
        })
    );
    let caps = port.caps();
    assert!(caps.tx_csum_partial && caps.tx_tso);
    assert_eq!(caps.mtu, 1500);
    assert!(port.rx_fd(0).is_some());

    // Transmit: the frame shows up on the peer, inside the namespace.
    let out = frame(BROADCAST, OUR_MAC, TEST_ETHERTYPE, b"h4 afpacket tx");
    let (ready_tx, ready_rx) = mpsc::channel();
    let got = std::thread::scope(|s| {
        let peer = env.peer.clone();
        let want = out.clone();
        let ns = &env.ns;
        let rx = s.spawn(move || {
            ns.enter(move || {
                let sock = RawSocket::bind(&peer);
                ready_tx.send(()).unwrap();
                sock.recv_matching(Duration::from_secs(3), |f| f == want.as_slice())
            })
        });
        ready_rx.recv().unwrap();
        let mut pool = PacketPool::new();
        port.tx_batch(0, &mut vec![Packet::from_bytes(&out)], &mut pool);
        rx.join().unwrap()
    });
    assert!(
        got.is_some(),
        "frame sent by the port not seen in the namespace"
    );
    let st = port.stats();
    assert_eq!(
        (st.tx_packets, st.tx_bytes, st.tx_errors),
        (1, out.len() as u64, 0)
    );

    // Receive: a frame the namespace sends arrives, and the port's own
    // transmission above was not looped back to it.
    let inbound = frame(
        BROADCAST,
        [2, 0, 0, 0, 0x04, 2],
        TEST_ETHERTYPE,
        b"h4 afpacket rx",
    );
    let peer = env.peer.clone();
    let send = inbound.clone();
    env.ns.enter(move || RawSocket::bind(&peer).send(&send));
    let p = rx_until(&port, Duration::from_secs(3), |p| {
        p.data()[12..14] == TEST_ETHERTYPE.to_be_bytes()
    })
    .expect("frame from the namespace not received");
    assert_eq!(p.data(), inbound.as_slice());
    assert_eq!(p.offload, Offload::default());
    assert!(port.stats().rx_packets >= 1);
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn h4_afpacket_tcp_syn_has_partial_checksum() {
    if !can_run("h4_afpacket_tcp_syn_has_partial_checksum") {
        return;
    }
    if std::process::Command::new("python3")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("h4_afpacket_tcp_syn_has_partial_checksum: skipped (no python3)");
        return;
    }
    let env = VethNs::new("c", "10.204.2.1");
    // Nobody answers ARP on the root side: pin the neighbour.
    env.ns.exec(&[
        "ip",
        "neigh",
        "add",
        "10.204.2.2",
        "lladdr",
        "02:00:00:00:04:01",
        "dev",
        &env.peer,
        "nud",
        "permanent",
    ]);
    let port = AfPacketPort::open(&env.root.name, AfPacketOptions::default()).expect("open");

    let dst = [10, 204, 2, 2];
    let script =
        "import socket; s=socket.socket(); s.settimeout(1); s.connect_ex(('10.204.2.2', 9))";
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &env.ns.name, "python3", "-c", script])
        .spawn()
        .expect("python3");
    let syn = rx_until(&port, Duration::from_secs(3), |p| {
        let d = p.data();
        d.len() >= 54 && d[12..14] == [8, 0] && d[23] == 6 && d[30..34] == dst
    });
    let _ = child.kill();
    let _ = child.wait();
    let syn = syn.expect("TCP SYN not received");
    let d = syn.data();
    let csum = syn
        .offload
        .csum_partial
        .expect("SYN from veth carries a partial checksum");
    assert_eq!(
        csum,
        CsumPartial {
            start: 34,
            offset: 16
        }
    );
    // The field holds the pseudo-header sum: the offsets point at the TCP
    // checksum.
    let at = usize::from(csum.start + csum.offset);
    let mut src = [0u8; 4];
    src.copy_from_slice(&d[26..30]);
    assert_eq!(
        u16::from_be_bytes([d[at], d[at + 1]]),
        pseudo_sum(src, dst, 6, d.len() - 34)
    );
    assert_eq!(syn.offload.gso, None);
}

/// A tagged packet with a partial checksum: the kernel strips the tag and
/// reports `csum_start` for the untagged frame; after the port puts the tag
/// back, the offsets must have moved with it. The sender is an AF_PACKET
/// port in the namespace (this kernel has no 802.1Q device support).
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn h4_afpacket_vlan_partial_checksum_follows_the_tag() {
    if !can_run("h4_afpacket_vlan_partial_checksum_follows_the_tag") {
        return;
    }
    let env = VethNs::new("t", "10.204.7.1");
    let port = AfPacketPort::open(&env.root.name, AfPacketOptions::default()).expect("open");
    let peer = env.peer.clone();
    let sender = env
        .ns
        .enter(move || AfPacketPort::open(&peer, AfPacketOptions::default()))
        .expect("open peer");
    let mut f = udp_frame(
        BROADCAST,
        [10, 204, 7, 1],
        [10, 204, 7, 2],
        5000,
        6000,
        b"tagged partial checksum",
    );
    f.splice(12..12, [0x81, 0x00, 0x00, 7]);
    let mut p = Packet::from_bytes(&f);
    p.offload.csum_partial = Some(CsumPartial {
        start: 38,
        offset: 6,
    });
    sender.tx_batch(0, &mut vec![p], &mut PacketPool::new());
    assert_eq!(sender.stats().tx_errors, 0);
    let got = rx_until(&port, Duration::from_secs(3), |p| {
        p.data().get(12..16) == Some(&[0x81, 0, 0, 7])
    })
    .expect("tagged frame not received");
    assert_eq!(got.data(), f.as_slice());
    assert_eq!(
        got.offload.csum_partial,
        Some(CsumPartial {
            start: 38,
            offset: 6
        })
    );
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn h4_afpacket_vlan_tag_is_reinserted() {
    if !can_run("h4_afpacket_vlan_tag_is_reinserted") {
        return;
    }
    let env = VethNs::new("v", "10.204.3.1");
    let port = AfPacketPort::open(&env.root.name, AfPacketOptions::default()).expect("open");
    // 802.1Q (priority 5, VLAN 42), then 802.1ad outer + 802.1Q inner.
    let mut single = frame(BROADCAST, [2, 0, 0, 0, 4, 3], 0x8100, &[0xa0, 42]);
    single.splice(16..16, TEST_ETHERTYPE.to_be_bytes());
    single.truncate(64);
    let mut double = frame(
        BROADCAST,
        [2, 0, 0, 0, 4, 3],
        0x88a8,
        &[0, 7, 0x81, 0, 0, 42],
    );
    double.splice(20..20, TEST_ETHERTYPE.to_be_bytes());
    double.truncate(64);
    for sent in [single, double] {
        let peer = env.peer.clone();
        let send = sent.clone();
        env.ns.enter(move || RawSocket::bind(&peer).send(&send));
        let src = sent[6..12].to_vec();
        let p = rx_until(&port, Duration::from_secs(3), |p| {
            p.data()[6..12] == src[..]
        })
        .expect("tagged frame not received");
        assert_eq!(
            p.data(),
            sent.as_slice(),
            "frame as on the wire, tag included"
        );
    }
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn h4_afpacket_tx_udp_gso_is_segmented() {
    if !can_run("h4_afpacket_tx_udp_gso_is_segmented") {
        return;
    }
    let env = VethNs::new("g", "10.204.4.1");
    let port = AfPacketPort::open(&env.root.name, AfPacketOptions::default()).expect("open");
    let peer_mac = env.peer_mac();
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut p = Packet::from_bytes(&udp_frame(
        peer_mac,
        [10, 204, 4, 2],
        [10, 204, 4, 1],
        40000,
        4789,
        &payload,
    ));
    p.offload = Offload {
        csum_partial: Some(CsumPartial {
            start: 34,
            offset: 6,
        }),
        gso: Some(Gso {
            kind: GsoKind::Udp,
            size: 1000,
            hdr_len: 42,
        }),
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let datagrams = std::thread::scope(|s| {
        let ns = &env.ns;
        let rx = s.spawn(move || {
            ns.enter(move || {
                let sock = std::net::UdpSocket::bind("10.204.4.1:4789").expect("bind");
                sock.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                ready_tx.send(()).unwrap();
                let mut got = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(3);
                let mut buf = [0u8; 4096];
                while got.len() < 3 && Instant::now() < deadline {
                    if let Ok(n) = sock.recv(&mut buf) {
                        got.push(buf[..n].to_vec());
                    }
                }
                got
            })
        });
        ready_rx.recv().unwrap();
        port.tx_batch(0, &mut vec![p], &mut PacketPool::new());
        rx.join().unwrap()
    });
    let st = port.stats();
    assert_eq!(
        (st.tx_packets, st.tx_errors),
        (1, 0),
        "kernel accepted the GSO header"
    );
    assert_eq!(
        datagrams.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![1000; 3]
    );
    assert_eq!(datagrams.concat(), payload);
}

/// A 30 KB TCP super-packet crosses the veth whole: the receiving ring
/// holds it in one piece and the virtio-net header says how to segment it.
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn h4_afpacket_rx_tcp_gso_super_packet() {
    if !can_run("h4_afpacket_rx_tcp_gso_super_packet") {
        return;
    }
    let env = VethNs::new("s", "10.204.10.1");
    let port = AfPacketPort::open(&env.root.name, AfPacketOptions::default()).expect("open");
    let peer = env.peer.clone();
    let sender = env
        .ns
        .enter(move || AfPacketPort::open(&peer, AfPacketOptions::default()))
        .expect("open peer");
    let (src, dst) = ([10, 204, 10, 1], [10, 204, 10, 2]);
    let payload: Vec<u8> = (0..30_000u32).map(|i| (i % 241) as u8).collect();
    let tcp_len = 20 + payload.len();
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let ip_csum = !super::testns::fold_sum(0, &ip);
    ip[10..12].copy_from_slice(&ip_csum.to_be_bytes());
    let mut body = ip;
    body.extend_from_slice(&[0x9c, 0x40, 0x13, 0x88]); // ports 40000 -> 5000
    body.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff]);
    body.extend_from_slice(&pseudo_sum(src, dst, 6, tcp_len).to_be_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&payload);
    let f = frame(BROADCAST, OUR_MAC, 0x0800, &body);
    let mut p = Packet::from_bytes(&f);
    p.offload = Offload {
        csum_partial: Some(CsumPartial {
            start: 34,
            offset: 16,
        }),
        gso: Some(Gso {
            kind: GsoKind::TcpV4,
            size: 1448,
            hdr_len: 54,
        }),
    };
    sender.tx_batch(0, &mut vec![p], &mut PacketPool::new());
    assert_eq!(sender.stats().tx_errors, 0);
    let got = rx_until(&port, Duration::from_secs(3), |p| p.len() > 10_000)
        .expect("super-packet not received");
    assert_eq!(got.data(), f.as_slice());
    assert_eq!(
        got.offload.csum_partial,
        Some(CsumPartial {
            start: 34,
            offset: 16
        })
    );
    let gso = got.offload.gso.expect("GSO metadata");
    assert_eq!((gso.kind, gso.size), (GsoKind::TcpV4, 1448));
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn h4_afpacket_fanout_spreads_flows() {
    if !can_run("h4_afpacket_fanout_spreads_flows") {
        return;
    }
    let env = VethNs::new("f", "10.204.5.1");
    let opts = AfPacketOptions {
        n_rxq: 2,
        block_count: 4,
        ..AfPacketOptions::default()
    };
    let port = AfPacketPort::open(&env.root.name, opts).expect("open");
    assert_eq!((port.n_rxq(), port.n_txq()), (2, 2));
    assert_ne!(port.rx_fd(0), port.rx_fd(1));
    let frames: Vec<Vec<u8>> = (0..64u16)
        .map(|i| {
            udp_frame(
                BROADCAST,
                [10, 204, 5, 1],
                [10, 204, 5, 2],
                1000 + i,
                7,
                b"fanout",
            )
        })
        .collect();
    let peer = env.peer.clone();
    let send = frames.clone();
    env.ns.enter(move || {
        let sock = RawSocket::bind(&peer);
        for f in &send {
            sock.send(f);
        }
    });
    let mut per_queue = [0usize; 2];
    let mut pool = PacketPool::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while per_queue.iter().sum::<usize>() < frames.len() && Instant::now() < deadline {
        for (q, count) in per_queue.iter_mut().enumerate() {
            let mut batch = Batch::new();
            port.rx_batch(q, &mut batch, &mut pool);
            *count += batch
                .packets
                .iter()
                .filter(|p| frames.iter().any(|f| f == p.data()))
                .count();
            pool.put_all(&mut batch.packets);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        per_queue.iter().sum::<usize>(),
        frames.len(),
        "{per_queue:?}"
    );
    assert!(
        per_queue.iter().all(|&n| n > 0),
        "flows spread over both queues: {per_queue:?}"
    );
}

#[test]
fn bad_options_are_refused() {
    for opts in [
        AfPacketOptions {
            n_rxq: 0,
            ..Default::default()
        },
        AfPacketOptions {
            block_size: 100_000,
            ..Default::default()
        },
        AfPacketOptions {
            block_count: 0,
            ..Default::default()
        },
    ] {
        assert!(
            matches!(AfPacketPort::open("lo", opts), Err(PortError::Config(_))),
            "{opts:?}"
        );
    }
}

/// Throughput between two AF_PACKET ports on the two ends of a veth pair,
/// 64-byte frames. `cargo test -p datapath --release -- --ignored h4_afpacket_rate --nocapture`
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
#[ignore]
fn h4_afpacket_rate() {
    if !can_run("h4_afpacket_rate") {
        return;
    }
    let env = VethNs::new("b", "10.204.6.1");
    let tx_port = AfPacketPort::open(&env.root.name, AfPacketOptions::default()).expect("open");
    let peer = env.peer.clone();
    let rx_port = env
        .ns
        .enter(move || AfPacketPort::open(&peer, AfPacketOptions::default()))
        .expect("open peer");
    let template = frame(BROADCAST, OUR_MAC, TEST_ETHERTYPE, &[0; 46]);
    let run_for = Duration::from_secs(3);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (sent, received) = std::thread::scope(|s| {
        let rx = s.spawn(|| {
            let mut pool = PacketPool::new();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut batch = Batch::new();
                n += rx_port.rx_batch(0, &mut batch, &mut pool) as u64;
                pool.put_all(&mut batch.packets);
            }
            n
        });
        let mut pool = PacketPool::new();
        let start = Instant::now();
        while start.elapsed() < run_for {
            let mut pkts: Vec<Packet> = (0..BATCH_SIZE)
                .map(|_| {
                    let mut p = pool.get();
                    p.frame_for_write(template.len()).copy_from_slice(&template);
                    p
                })
                .collect();
            tx_port.tx_batch(0, &mut pkts, &mut pool);
        }
        let secs = start.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let received = rx.join().unwrap();
        let st = tx_port.stats();
        (st.tx_packets as f64 / secs, received as f64 / secs)
    });
    let st = tx_port.stats();
    eprintln!(
        "AF_PACKET 64B: tx {:.2} Mpps (dropped {}), rx {:.2} Mpps, rx kernel drops {}",
        sent / 1e6,
        st.tx_dropped,
        received / 1e6,
        rx_port.stats().rx_dropped
    );
}

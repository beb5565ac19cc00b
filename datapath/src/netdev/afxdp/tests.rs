//! Root-only tests against a veth pair whose far end lives in a network
//! namespace: the port opens the near end in the test's namespace, and a
//! thread that entered the far namespace sends and receives raw frames with
//! an AF_PACKET socket. Every topology is torn down by a Drop guard, so a
//! failing assertion leaves no namespace or veth behind.

#![allow(unsafe_code)]

use super::bpf::{self, XdpProgram, XskMap, XDP_PASS};
use super::netlink::{self, AttachMode};
use super::*;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Ethertype of the test frames (IEEE local experimental).
const TEST_ETHERTYPE: u16 = 0x88b5;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: AF_XDP tests need root");
            return;
        }
    };
}

fn run(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn output(args: &[&str]) -> String {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// A veth pair `a` (here) / `b` (inside namespace `ns`, with an address).
struct Topo {
    ns: String,
    a: String,
    b: String,
}

impl Topo {
    fn new() -> Topo {
        Topo::with_queues(1)
    }

    /// Both ends with `queues` rx and tx queues.
    fn with_queues(queues: u32) -> Topo {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let t = Topo {
            ns: format!("h3t-{pid}-{n}"),
            a: format!("h3a{pid}{n}"),
            b: format!("h3b{pid}{n}"),
        };
        // From here on, Drop cleans up whatever was created.
        assert!(run(&["ip", "netns", "add", &t.ns]), "ip netns add");
        let q = queues.to_string();
        let qs = ["numrxqueues", &q, "numtxqueues", &q];
        let mut cmd = vec!["ip", "link", "add", &t.a];
        cmd.extend(qs);
        cmd.extend(["type", "veth", "peer", "name", &t.b]);
        cmd.extend(qs);
        cmd.extend(["netns", &t.ns]);
        assert!(run(&cmd), "ip link add veth");
        assert!(run(&["ip", "link", "set", &t.a, "up"]));
        assert!(run(&["ip", "-n", &t.ns, "link", "set", "lo", "up"]));
        assert!(run(&["ip", "-n", &t.ns, "link", "set", &t.b, "up"]));
        assert!(run(&[
            "ip",
            "-n",
            &t.ns,
            "addr",
            "add",
            "10.203.0.2/24",
            "dev",
            &t.b
        ]));
        // Let both ends see carrier before traffic is sent.
        let deadline = Instant::now() + Duration::from_secs(3);
        while !output(&["ip", "link", "show", &t.a]).contains("LOWER_UP")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        t
    }

    fn ifindex(&self) -> u32 {
        iface::ifindex(&self.a).expect("veth exists")
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        run(&["ip", "link", "del", &self.a]);
        run(&["ip", "netns", "del", &self.ns]);
    }
}

/// Run `f` on a thread that has entered network namespace `ns`.
fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open netns");
        // SAFETY: `file` is an open namespace fd; setns affects only the
        // calling thread, which is ours.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
}

/// A raw AF_PACKET socket bound to `ifname` in the current thread's netns.
fn packet_socket(ifname: &str) -> (OwnedFd, i32) {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call, checked below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    assert!(fd >= 0, "AF_PACKET socket");
    // SAFETY: `fd` is a new socket nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let idx = iface::ifindex(ifname).expect("interface in netns") as i32;
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = idx;
    // SAFETY: `sll` is a live sockaddr_ll and its size is passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind AF_PACKET");
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: `tv` is a live timeval and its size is passed.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    (fd, idx)
}

/// A broadcast test frame carrying `tag` and `seq`.
fn test_frame(tag: u32, seq: u32) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(&TEST_ETHERTYPE.to_be_bytes());
    f.extend_from_slice(&tag.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.resize(60, 0xab);
    f
}

/// The (tag, seq) of a test frame.
fn parse_test_frame(f: &[u8]) -> Option<(u32, u32)> {
    if f.len() < 22 || f[12..14] != TEST_ETHERTYPE.to_be_bytes() {
        return None;
    }
    let tag = u32::from_be_bytes([f[14], f[15], f[16], f[17]]);
    let seq = u32::from_be_bytes([f[18], f[19], f[20], f[21]]);
    Some((tag, seq))
}

const N_FRAMES: u32 = 10;

/// tx_batch on the port; the frames arrive on the namespace side.
fn check_tx(topo: &Topo, port: &AfXdpPort, tag: u32) {
    check_tx_on(topo, port, 0, tag)
}

fn check_tx_on(topo: &Topo, port: &AfXdpPort, txq: usize, tag: u32) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let b = topo.b.clone();
    let receiver = in_netns(&topo.ns, move || {
        let (fd, _) = packet_socket(&b);
        ready_tx.send(()).expect("main waits");
        let mut seen = std::collections::BTreeSet::new();
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && seen.len() < N_FRAMES as usize {
            // SAFETY: `buf` is a live writable buffer of its length.
            let n = unsafe {
                libc::recv(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                )
            };
            if n > 0 {
                if let Some((t, s)) = parse_test_frame(&buf[..n as usize]) {
                    if t == tag {
                        seen.insert(s);
                    }
                }
            }
        }
        seen.len()
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("receiver ready");
    let mut pool = PacketPool::new();
    let before = port.stats();
    let mut pkts: Vec<Packet> = (0..N_FRAMES)
        .map(|s| Packet::from_bytes(&test_frame(tag, s)))
        .collect();
    port.tx_batch(txq, &mut pkts, &mut pool);
    assert!(pkts.is_empty(), "tx_batch drains the vector");
    let got = receiver.join().expect("receiver thread");
    assert_eq!(got, N_FRAMES as usize, "frames seen in the namespace");
    let after = port.stats();
    assert_eq!(after.tx_packets - before.tx_packets, u64::from(N_FRAMES));
    assert_eq!(after.tx_bytes - before.tx_bytes, 60 * u64::from(N_FRAMES));
    assert_eq!(after.tx_dropped, before.tx_dropped);
}

/// Frames sent in the namespace arrive through rx_batch (after poll on
/// rx_fd says there is something).
fn check_rx(topo: &Topo, port: &AfXdpPort, tag: u32) {
    let b = topo.b.clone();
    let sender = in_netns(&topo.ns, move || {
        let (fd, idx) = packet_socket(&b);
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = idx;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        for s in 0..N_FRAMES {
            let f = test_frame(tag, s);
            // SAFETY: `f` and `sll` are live for the call, sizes passed.
            let rc = unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    f.as_ptr() as *const libc::c_void,
                    f.len(),
                    0,
                    &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, f.len() as isize, "sendto in netns");
        }
    });
    sender.join().expect("sender thread");

    let fd = port.rx_fd(0).expect("rx fd");
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is a live pollfd array of length 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, 2000) };
    assert_eq!(rc, 1, "rx fd readable");

    let mut pool = PacketPool::new();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && seen.len() < N_FRAMES as usize {
        let mut batch = Batch::new();
        let n = port.rx_batch(0, &mut batch, &mut pool);
        assert_eq!(n, batch.len());
        for p in &batch.packets {
            if let Some((t, s)) = parse_test_frame(p.data()) {
                if t == tag {
                    assert_eq!(p.data(), &test_frame(tag, s)[..]);
                    seen.insert(s);
                }
            }
        }
        pool.put_all(&mut batch.packets);
        if n == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(seen.len(), N_FRAMES as usize, "frames received by rx_batch");
    assert!(port.stats().rx_packets >= u64::from(N_FRAMES));
}

fn round_trip(mode: XdpMode, expect: XdpMode) {
    let topo = Topo::new();
    let port = AfXdpPort::open(
        &topo.a,
        AfXdpOptions {
            mode,
            ..AfXdpOptions::default()
        },
    )
    .expect("open AF_XDP port");
    assert_eq!(port.mode(), expect);
    assert!(!port.zero_copy(), "veth is copy-only");
    assert_eq!(port.n_rxq(), 1);
    assert_eq!(port.kind(), "afxdp");
    let caps = port.caps();
    assert_eq!(caps.mtu, 1500);
    assert!(!caps.tx_csum_partial && !caps.tx_tso);
    assert!(port.link_up());
    let mac = port.mac().expect("veth has a MAC");
    assert_ne!(mac, [0; 6]);

    let attached = netlink::attached_programs(topo.ifindex()).expect("query");
    let want_mode = if expect == XdpMode::Native {
        AttachMode::Driver
    } else {
        AttachMode::Skb
    };
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0].mode, want_mode);

    check_tx(&topo, &port, 0x7458_0001);
    check_rx(&topo, &port, 0x7458_0002);
    let k = port.xdp_statistics(0).expect("XDP_STATISTICS");
    assert_eq!(k.rx_invalid_descs + k.tx_invalid_descs, 0);
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn native_mode_round_trip() {
    require_root!();
    round_trip(XdpMode::Native, XdpMode::Native);
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn generic_mode_round_trip() {
    require_root!();
    round_trip(XdpMode::Generic, XdpMode::Generic);
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn auto_mode_picks_native_on_veth() {
    require_root!();
    let topo = Topo::new();
    let port = AfXdpPort::open(&topo.a, AfXdpOptions::default()).expect("open");
    assert_eq!(port.mode(), XdpMode::Native);
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn drop_detaches_and_the_queue_can_be_rebound_at_once() {
    require_root!();
    let topo = Topo::new();
    let idx = topo.ifindex();
    let port = AfXdpPort::open(&topo.a, AfXdpOptions::default()).expect("open");
    assert_eq!(netlink::attached_programs(idx).expect("query").len(), 1);
    assert!(output(&["ip", "link", "show", &topo.a]).contains("xdp"));
    drop(port);
    assert!(netlink::attached_programs(idx).expect("query").is_empty());
    assert!(!output(&["ip", "link", "show", &topo.a]).contains("xdp"));

    // Re-binding right after close may meet EBUSY for a moment; open retries.
    let port = AfXdpPort::open(&topo.a, AfXdpOptions::default()).expect("reopen");
    check_tx(&topo, &port, 0x7458_0003);
    drop(port);
    assert!(netlink::attached_programs(idx).expect("query").is_empty());
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn stale_legacy_program_is_replaced() {
    require_root!();
    let topo = Topo::new();
    let idx = topo.ifindex();
    // What a crashed older build leaves: our program attached via netlink,
    // its fds gone.
    let stale_id = {
        let map = XskMap::create(1).expect("map");
        let prog = XdpProgram::load(PROG_NAME, &bpf::redirect_program(map.fd())).expect("load");
        netlink::attach_legacy(idx, AttachMode::Skb, prog.fd()).expect("legacy attach");
        prog.id().expect("id")
    };
    let before = netlink::attached_programs(idx).expect("query");
    assert_eq!(
        before,
        vec![netlink::AttachedProg {
            mode: AttachMode::Skb,
            id: stale_id
        }]
    );

    let port = AfXdpPort::open(&topo.a, AfXdpOptions::default()).expect("open over stale");
    let during = netlink::attached_programs(idx).expect("query");
    assert_eq!(during.len(), 1);
    assert_ne!(during[0].id, stale_id);
    check_rx(&topo, &port, 0x7458_0004);
    drop(port);
    assert!(netlink::attached_programs(idx).expect("query").is_empty());
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn foreign_program_is_refused_and_left_alone() {
    require_root!();
    let topo = Topo::new();
    let idx = topo.ifindex();
    let prog = XdpProgram::load("not_switchd", &bpf::constant_program(XDP_PASS)).expect("load");
    netlink::attach_legacy(idx, AttachMode::Skb, prog.fd()).expect("legacy attach");
    let err = AfXdpPort::open(&topo.a, AfXdpOptions::default()).expect_err("must refuse");
    let msg = err.to_string();
    assert!(matches!(err, PortError::Config(_)), "{msg}");
    assert!(msg.contains("not_switchd"), "{msg}");
    let still = netlink::attached_programs(idx).expect("query");
    assert_eq!(still.len(), 1);
    assert_eq!(still[0].id, prog.id().expect("id"));
    netlink::detach_legacy(idx, AttachMode::Skb, prog.fd()).expect("detach");
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn second_port_on_the_same_interface_is_refused() {
    require_root!();
    let topo = Topo::new();
    let first = AfXdpPort::open(&topo.a, AfXdpOptions::default()).expect("open");
    let err = AfXdpPort::open(&topo.a, AfXdpOptions::default()).expect_err("second open");
    assert!(err.to_string().contains("live BPF link"), "{err:?}");
    // The first port is untouched.
    check_tx(&topo, &first, 0x7458_0005);
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn umem_larger_than_memlock_registers() {
    require_root!();
    let topo = Topo::new();
    // 4096 x 4096 = 16 MiB, twice RLIMIT_MEMLOCK here.
    let port = AfXdpPort::open(
        &topo.a,
        AfXdpOptions {
            frames_per_queue: 4096,
            ..AfXdpOptions::default()
        },
    )
    .expect("16 MiB UMEM");
    check_tx(&topo, &port, 0x7458_0006);
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn frame_size_2048_works() {
    require_root!();
    let topo = Topo::new();
    let port = AfXdpPort::open(
        &topo.a,
        AfXdpOptions {
            frame_size: 2048,
            frames_per_queue: 4096,
            ..AfXdpOptions::default()
        },
    )
    .expect("open");
    check_tx(&topo, &port, 0x7458_0007);
    check_rx(&topo, &port, 0x7458_0008);
}

#[test]
fn bad_options_and_missing_interfaces_are_errors() {
    let bad = AfXdpOptions {
        frame_size: 3000,
        ..AfXdpOptions::default()
    };
    assert!(matches!(
        AfXdpPort::open("lo", bad),
        Err(PortError::Config(_))
    ));
    let bad = AfXdpOptions {
        rx_ring_size: 1000,
        ..AfXdpOptions::default()
    };
    assert!(matches!(
        AfXdpPort::open("lo", bad),
        Err(PortError::Config(_))
    ));
    assert!(matches!(
        AfXdpPort::open("h3-no-such-if", AfXdpOptions::default()),
        Err(PortError::NoSuchInterface(_))
    ));
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn two_queues_each_with_a_socket() {
    require_root!();
    let topo = Topo::with_queues(2);
    let port = AfXdpPort::open(
        &topo.a,
        AfXdpOptions {
            n_rxq: 2,
            ..AfXdpOptions::default()
        },
    )
    .expect("open two queues");
    assert_eq!((port.n_rxq(), port.n_txq()), (2, 2));
    assert_ne!(port.rx_fd(0), port.rx_fd(1));
    assert_eq!(port.rx_fd(2), None);
    check_tx_on(&topo, &port, 1, 0x7458_0009);
    // txq beyond the count wraps around instead of panicking.
    check_tx_on(&topo, &port, 5, 0x7458_000a);
    // A port asking for more queues than the device has is a config error.
    drop(port);
    let err = AfXdpPort::open(
        &topo.a,
        AfXdpOptions {
            n_rxq: 3,
            ..AfXdpOptions::default()
        },
    )
    .expect_err("only two queues");
    assert!(matches!(err, PortError::Config(_)), "{err:?}");
}

/// Environment variable that turns `killed_owner_detaches` into the child
/// that owns the port.
const CHILD_ENV: &str = "SWITCHD_AFXDP_TEST_CHILD_IFACE";

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn killed_owner_detaches() {
    if let Ok(ifname) = std::env::var(CHILD_ENV) {
        // Child: own the port until killed.
        let _port = AfXdpPort::open(&ifname, AfXdpOptions::default()).expect("child open");
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    require_root!();
    let topo = Topo::new();
    let idx = topo.ifindex();
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "netdev::afxdp::tests::killed_owner_detaches",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &topo.a)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn child");
    let deadline = Instant::now() + Duration::from_secs(10);
    while netlink::attached_programs(idx).expect("query").is_empty() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child never attached");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no destructor runs in the child.
    child.kill().expect("kill child");
    child.wait().expect("reap child");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !netlink::attached_programs(idx).expect("query").is_empty() {
        assert!(
            Instant::now() < deadline,
            "program still attached after its owner died"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // And the interface is free for the next switchd.
    let port = AfXdpPort::open(&topo.a, AfXdpOptions::default()).expect("open after kill");
    check_tx(&topo, &port, 0x7458_000b);
}

/// Packets counted by the far end of the veth, read with `ip -s -j`.
fn peer_rx_packets(topo: &Topo) -> u64 {
    let json = output(&["ip", "-n", &topo.ns, "-s", "-j", "link", "show", &topo.b]);
    json.split("\"rx\":{")
        .nth(1)
        .and_then(|rx| rx.split("\"packets\":").nth(1))
        .and_then(|n| n.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Rough rates on veth with 64-byte frames (run with `--release --ignored
/// --nocapture`; the numbers depend on what else the two cores are doing).
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
#[ignore]
fn measure_rates() {
    require_root!();
    let secs = Duration::from_secs(2);
    let topo = Topo::new();
    let port = AfXdpPort::open(&topo.a, AfXdpOptions::default()).expect("open");

    // Transmit: batches of 32 as fast as tx_batch takes them.
    let frame = test_frame(0x7458_0100, 0);
    let mut pool = PacketPool::new();
    let mut pkts = Vec::with_capacity(BATCH_SIZE);
    let peer_before = peer_rx_packets(&topo);
    let start = Instant::now();
    while start.elapsed() < secs {
        for _ in 0..BATCH_SIZE {
            let mut p = pool.get();
            p.set_frame(&frame);
            pkts.push(p);
        }
        port.tx_batch(0, &mut pkts, &mut pool);
    }
    let el = start.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(200));
    let s = port.stats();
    let peer = peer_rx_packets(&topo) - peer_before;
    eprintln!(
        "tx: {:.2} Mpps accepted, {:.2} Mpps seen by the peer, {} dropped (no frame/ring room)",
        s.tx_packets as f64 / el / 1e6,
        peer as f64 / el / 1e6,
        s.tx_dropped
    );

    // Receive: the far end transmits with an XDP_TX program in live-frames
    // mode (the fastest generator here), this thread drains rx_batch.
    let b = topo.b.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let gen = in_netns(&topo.ns, move || {
        let idx = iface::ifindex(&b).expect("peer");
        let prog = XdpProgram::load("h3_gen", &bpf::constant_program(3)).expect("load XDP_TX");
        let frame = test_frame(0x7458_0101, 0);
        let mut sent = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            bpf::test_run_live(&prog, idx, &frame, 100_000).expect("live frames");
            sent += 100_000;
        }
        sent
    });
    let before = port.stats();
    let mut batch = Batch::new();
    let start = Instant::now();
    let (mut calls, mut nonempty) = (0u64, 0u64);
    let cpu0 = thread_cpu_time();
    while start.elapsed() < secs {
        calls += 1;
        if port.rx_batch(0, &mut batch, &mut pool) > 0 {
            nonempty += 1;
        }
        pool.put_all(&mut batch.packets);
    }
    let el = start.elapsed().as_secs_f64();
    let cpu = thread_cpu_time() - cpu0;
    stop.store(true, Ordering::Relaxed);
    let generated = gen.join().expect("generator");
    let after = port.stats();
    eprintln!(
        "rx: {:.2} Mpps received, generator {:.2} Mpps, kernel drops {}",
        (after.rx_packets - before.rx_packets) as f64 / el / 1e6,
        generated as f64 / start.elapsed().as_secs_f64() / 1e6,
        after.rx_dropped - before.rx_dropped
    );
    let got = after.rx_packets - before.rx_packets;
    eprintln!(
        "rx: {calls} polls, {nonempty} non-empty, {:.1} packets per non-empty batch, \
         receiving thread on CPU {:.0}% of the time",
        got as f64 / nonempty.max(1) as f64,
        cpu / el * 100.0,
    );
    eprintln!("xdp statistics: {:?}", port.xdp_statistics(0));
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live timespec for the kernel to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

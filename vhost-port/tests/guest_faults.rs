//! A misbehaving guest, end to end: its port is stopped and reset, the
//! other port keeps forwarding, nothing panics.
//!
//! Each test runs two server ports and a datapath worker flooding between
//! them (tests/common). Two guests connect over the ports' vhost-user
//! sockets as a VMM would (rust-vmm's frontend, guest memory in a memfd,
//! split rings on queues 0 and 1; tests/common/guest.rs) and exchange
//! frames. Then the first guest breaks the virtqueue contract in one way,
//! and the test checks, in order:
//! 1. the worker finds the fault while polling: `guest_faults()` is 1, the
//!    port reports no link, and the worker's log says why (the reason
//!    names the fault), while the second port's counters keep growing;
//! 2. the port closed the faulty guest's connection: its next request
//!    fails;
//! 3. the same socket accepts a new, well-behaved guest, whose frames flow
//!    both ways, while the second port still forwards and the fault count
//!    stays 1;
//! 4. no thread of the device or the worker panicked.
//!
//! The ring-level checks themselves are unit-tested in src/ring/tests.rs;
//! these tests prove the path from a guest's socket to the stopped port.

mod common;

use common::guest::{
    buffer, desc_table, Guest, BUF_SIZE, F_INDIRECT, F_NEXT, F_WRITE, MEM_SIZE, QSIZE, RX, SCRATCH,
    TX,
};
use common::{device_panics, moved, pump, sockets_dir, watch_panics, Chatter, Worker};
use datapath::netdev::Port;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vhost_port::{VhostUserOptions, VhostUserPort};

/// Step 3 of every case: a well-behaved guest on the faulty port's socket
/// forwards, the good port goes on, and the fault stays counted once.
fn a_new_guest_starts_clean(
    tag: &str,
    bad: &VhostUserPort,
    good: &VhostUserPort,
    bad_sock: &std::path::Path,
    b: &mut Chatter,
) -> Chatter {
    let (before_bad, before_good) = (bad.stats(), good.stats());
    let mut c = Chatter::new(Guest::connect(bad_sock).expect("new guest"), 3);
    pump(&mut [&mut c, b], "new guest forwarding", |g| {
        bad.connected()
            && moved(&before_bad, &bad.stats())
            && moved(&before_good, &good.stats())
            && g[0].received > 0
    });
    assert_eq!(bad.guest_faults(), 1, "{tag}: one fault, counted once");
    assert_eq!(
        good.guest_faults(),
        0,
        "{tag}: the good guest never faulted"
    );
    c
}

/// Two server ports in a fresh directory, a worker forwarding between
/// them: (directory, faulty port's socket, good port's socket, ports,
/// worker).
fn two_ports(
    tag: &str,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    Arc<VhostUserPort>,
    Arc<VhostUserPort>,
    Worker,
) {
    watch_panics();
    let dir = sockets_dir();
    let (bad_sock, good_sock) = (dir.path().join("bad.sock"), dir.path().join("good.sock"));
    let open = |name: String, sock| {
        Arc::new(VhostUserPort::server(&name, sock, VhostUserOptions::default()).expect(&name))
    };
    let bad = open(format!("{tag}-bad"), &bad_sock);
    let good = open(format!("{tag}-good"), &good_sock);
    let worker = Worker::spawn(&format!("{tag}-worker"), vec![bad.clone(), good.clone()]);
    (dir, bad_sock, good_sock, bad, good, worker)
}

/// Run one fault: `inject` makes the first guest misbehave; `reason` is
/// what the port's log line must say.
fn fault_case(tag: &str, reason: &str, inject: impl FnOnce(&mut Guest)) {
    let (_dir, bad_sock, good_sock, bad, good, worker) = two_ports(tag);

    let connect = |sock| Guest::connect(sock).unwrap_or_else(|e| panic!("{tag}: connect: {e:?}"));
    let mut a = Chatter::new(connect(&bad_sock), 1);
    let mut b = Chatter::new(connect(&good_sock), 2);
    pump(&mut [&mut a, &mut b], "both guests forwarding", |g| {
        let (sa, sb) = (bad.stats(), good.stats());
        bad.connected()
            && good.connected()
            && moved(&Default::default(), &sa)
            && moved(&Default::default(), &sb)
            && g.iter().all(|g| g.received > 0)
    });
    // Injected chains get the transmit ring to themselves.
    pump(
        &mut [&mut b],
        "the first guest's transmit ring drained",
        |_| a.guest.tx_idle(),
    );

    // 1. The fault is found while polling; the good port goes on.
    let before = good.stats();
    inject(&mut a.guest);
    // (The count goes up just before the log line is written.)
    pump(&mut [&mut b], "fault found, good port forwarding", |_| {
        bad.guest_faults() == 1
            && moved(&before, &good.stats())
            && worker.log.text().contains("guest misbehaved")
    });
    assert!(!bad.connected() && !bad.link_up(), "{tag}: port stopped");
    assert!(
        bad.stats().rx_errors >= 1,
        "{tag}: the fault counts as an error"
    );
    let log = worker.log.text();
    let line = log
        .lines()
        .find(|l| l.contains("guest misbehaved"))
        .unwrap_or_else(|| panic!("{tag}: no fault logged in:\n{log}"));
    assert!(
        line.contains(reason) && line.contains(&format!("{tag}-bad")),
        "{tag}: logged reason should say {reason:?}: {line}"
    );
    eprintln!("{tag}: {line}");

    // 2. The port closed the connection.
    let before = good.stats();
    pump(&mut [&mut b], "faulty guest disconnected", |_| {
        a.guest.closed_by_device() && moved(&before, &good.stats())
    });
    drop(a);

    // 3. A new guest on the same socket starts clean.
    let c = a_new_guest_starts_clean(tag, &bad, &good, &bad_sock, &mut b);
    let g = good.stats();
    assert_eq!((g.rx_errors, g.tx_errors), (0, 0), "{tag}: good port clean");
    assert_eq!(
        log.matches("guest misbehaved").count(),
        1,
        "{tag}: logged once"
    );

    // 4. Nothing panicked, and the ports shut down.
    worker.finish().expect("the worker did not panic");
    eprintln!(
        "{tag}: faulty port {:?}\n{tag}: good port {:?}",
        bad.stats(),
        good.stats()
    );
    drop((bad, good, c, b));
    let panics = device_panics(tag);
    assert!(
        panics.is_empty(),
        "{tag}: device threads panicked: {panics:?}"
    );
}

/// The control: the same harness without a fault. Rings wrap many times,
/// nothing faults, no connection is closed, and each port received
/// exactly what its guest sent.
#[test]
fn well_behaved_guests_never_fault() {
    watch_panics();
    let tag = "calm";
    let dir = sockets_dir();
    let socks = [dir.path().join("a.sock"), dir.path().join("b.sock")];
    let ports: Vec<_> = socks
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = format!("{tag}-{i}");
            Arc::new(VhostUserPort::server(&name, s, VhostUserOptions::default()).expect(&name))
        })
        .collect();
    let worker = Worker::spawn(&format!("{tag}-worker"), ports.clone());
    let connect = |s| Guest::connect(s).unwrap_or_else(|e| panic!("{tag}: connect: {e:?}"));
    let mut a = Chatter::new(connect(&socks[0]), 1);
    let mut b = Chatter::new(connect(&socks[1]), 2);
    let frames = 8 * u64::from(QSIZE);
    pump(&mut [&mut a, &mut b], "frames circulating", |g| {
        g.iter().all(|g| g.sent() >= frames && g.received >= frames)
    });
    let deadline = std::time::Instant::now() + common::DEADLINE;
    while !(a.guest.tx_idle() && b.guest.tx_idle()) {
        assert!(
            std::time::Instant::now() < deadline,
            "transmit rings drained"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for (port, guest) in ports.iter().zip([&a, &b]) {
        let st = port.stats();
        assert_eq!(port.guest_faults(), 0);
        assert!(port.connected() && !guest.guest.closed_by_device());
        assert_eq!(
            st.rx_packets,
            guest.sent(),
            "{}: every frame taken once",
            port.name()
        );
        assert_eq!((st.rx_errors, st.tx_errors), (0, 0));
    }
    worker.finish().expect("the worker did not panic");
    drop((ports, a, b));
    let panics = device_panics(tag);
    assert!(
        panics.is_empty(),
        "{tag}: device threads panicked: {panics:?}"
    );
}

/// A free descriptor of queue `q` offered with one buffer, then a kick.
fn offer_one(g: &mut Guest, q: usize, addr: u64, len: u32, flags: u16, next: u16) {
    let i = g.take_free(q);
    g.write_desc(desc_table(q), i, addr, len, flags, next);
    g.offer(q, i);
    g.kick(q);
}

/// Two free descriptors of queue `q` pointing at each other.
fn offer_loop(g: &mut Guest, q: usize, flags: u16) {
    let (i, j) = (g.take_free(q), g.take_free(q));
    g.write_desc(desc_table(q), i, buffer(q, i), 64, flags | F_NEXT, j);
    g.write_desc(desc_table(q), j, buffer(q, j), 64, flags | F_NEXT, i);
    g.offer(q, i);
    g.kick(q);
}

#[test]
fn tx_buffer_outside_guest_memory() {
    // A frame straddling the end of guest memory.
    fault_case("oomtx", "outside guest memory", |g| {
        offer_one(g, TX, MEM_SIZE - 32, 100, 0, 0)
    });
}

#[test]
fn rx_buffer_outside_guest_memory() {
    // A receive buffer far beyond guest memory: found when a frame for
    // the guest arrives.
    fault_case("oomrx", "outside guest memory", |g| {
        offer_one(g, RX, 0x4000_0000, BUF_SIZE, F_WRITE, 0)
    });
}

#[test]
fn tx_descriptor_loop() {
    fault_case("looptx", &format!("longer than {QSIZE} (a loop?)"), |g| {
        offer_loop(g, TX, 0)
    });
}

#[test]
fn rx_descriptor_loop() {
    fault_case("looprx", &format!("longer than {QSIZE} (a loop?)"), |g| {
        offer_loop(g, RX, F_WRITE)
    });
}

#[test]
fn tx_chain_longer_than_the_queue() {
    // Every descriptor of the table in one chain, the last linking back
    // to the first: the walk runs out of table.
    fault_case("longtx", &format!("longer than {QSIZE}"), |g| {
        for k in 0..QSIZE {
            g.write_desc(
                desc_table(TX),
                k,
                buffer(TX, k),
                16,
                F_NEXT,
                (k + 1) % QSIZE,
            );
        }
        g.offer(TX, 0);
        g.kick(TX);
    });
}

#[test]
fn tx_indirect_chain_longer_than_its_table() {
    const N: u16 = 8;
    fault_case("indtx", &format!("longer than {N}"), |g| {
        for k in 0..N {
            let buf = SCRATCH + 0x1000 + u64::from(k) * 64;
            g.write_desc(SCRATCH, k, buf, 64, F_NEXT, (k + 1) % N);
        }
        offer_one(g, TX, SCRATCH, u32::from(N) * 16, F_INDIRECT, 0);
    });
}

#[test]
fn tx_available_index_jump() {
    // One more chain than the ring holds.
    fault_case("jumptx", "available index jumped", |g| {
        g.set_avail_idx(TX, g.avail_idx(TX).wrapping_add(QSIZE + 1));
        g.kick(TX);
    });
}

#[test]
fn rx_available_index_jump() {
    fault_case("jumprx", "available index jumped", |g| {
        g.set_avail_idx(RX, g.avail_idx(RX).wrapping_add(0x8000));
        g.kick(RX);
    });
}

#[test]
fn tx_next_outside_the_table() {
    fault_case("nexttx", &format!("outside a table of {QSIZE}"), |g| {
        offer_one(g, TX, buffer(TX, 0), 64, F_NEXT, QSIZE + 5)
    });
}

#[test]
fn tx_device_writable_buffer() {
    fault_case(
        "dirtx",
        "device-writable descriptor in a chain that must be device-readable",
        |g| offer_one(g, TX, buffer(TX, 0), 64, F_WRITE, 0),
    );
}

#[test]
fn tx_ring_outside_guest_memory() {
    // The available ring moved to the last two bytes of guest memory: its
    // index lies beyond.
    fault_case("ringtx", "ring structure at", |g| {
        g.move_avail_ring(TX, MEM_SIZE - 2)
            .expect("SET_VRING_ADDR sent");
        g.kick(TX);
    });
}

/// The hostile probe's memory table: a region that claims 1 GiB backed by
/// a memfd of 1 MiB. Mapped as told, a descriptor pointing at 512 MiB
/// would raise SIGBUS in the worker and kill the process (the test binary
/// here, every bridge in switchd). The table must be refused before it is
/// mapped: the frontend's SET_MEM_TABLE fails, the fault is counted once,
/// the other port keeps forwarding, and the socket takes a new guest.
#[test]
fn memory_table_larger_than_its_file() {
    watch_panics();
    let tag = "memtable";
    let dir = sockets_dir();
    let (bad_sock, good_sock) = (dir.path().join("bad.sock"), dir.path().join("good.sock"));
    let open = |name: String, sock| {
        Arc::new(VhostUserPort::server(&name, sock, VhostUserOptions::default()).expect(&name))
    };
    let bad = open(format!("{tag}-bad"), &bad_sock);
    let good = open(format!("{tag}-good"), &good_sock);
    let worker = Worker::spawn(&format!("{tag}-worker"), vec![bad.clone(), good.clone()]);
    let mut b = Chatter::new(Guest::connect(&good_sock).expect("good guest"), 2);
    // Alone on the bridge, the good guest's frames are received (flooded
    // to a port without a guest, so nothing comes back yet).
    let receiving = |then: u64| good.connected() && good.stats().rx_packets > then;
    pump(&mut [&mut b], "good guest sending", |_| receiving(0));

    let before = good.stats();
    match Guest::connect_claiming(&bad_sock, 1 << 30) {
        Err(e) => eprintln!("{tag}: hostile guest refused: {e:?}"),
        Ok(mut g) => {
            // The table was accepted: carry the attack through, which
            // kills this process with SIGBUS if the check is gone.
            offer_one(&mut g, TX, 512 << 20, 64, 0, 0);
            let end = Instant::now() + Duration::from_secs(2);
            while Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!("{tag}: a memory table claiming more than its file was accepted");
        }
    }
    pump(&mut [&mut b], "fault counted, good port receiving", |_| {
        bad.guest_faults() == 1 && receiving(before.rx_packets)
    });
    assert!(!bad.connected(), "{tag}: no guest on the bad port");

    // The same socket takes a well-behaved guest, which forwards.
    let c = a_new_guest_starts_clean(tag, &bad, &good, &bad_sock, &mut b);
    worker.finish().expect("the worker did not panic");
    drop((bad, good, c, b));
    let panics = device_panics(tag);
    assert!(
        panics.is_empty(),
        "{tag}: device threads panicked: {panics:?}"
    );
}

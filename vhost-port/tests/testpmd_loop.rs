//! A real guest driver against the port: dpdk-testpmd's virtio-user PMD
//! connects to a server port; the test plays the switch by sending every
//! packet it receives straight back (testpmd in io mode with --tx-first
//! forwards them out again, so packets circulate). Root only; skipped
//! when dpdk-testpmd is not installed.

use datapath::netdev::Port;
use datapath::packet::{Batch, PacketPool};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vhost_port::{VhostUserOptions, VhostUserPort};

fn can_run(test: &str) -> bool {
    // SAFETY-free check: root is uid 0 in /proc/self/status.
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        eprintln!("{test}: skipped (not root)");
        return false;
    }
    if Command::new("dpdk-testpmd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("{test}: skipped (no dpdk-testpmd)");
        return false;
    }
    true
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// dpdk-testpmd as a one-queue virtio-user guest of the port at `sock`,
/// with `mode` (its forwarding arguments); killed when dropped.
fn testpmd(sock: &std::path::Path, prefix: &str, mode: &[&str]) -> Child {
    let prefix = format!("{prefix}{}", std::process::id());
    Child(
        Command::new("dpdk-testpmd")
            .args(["-l", "0,1", "--no-pci", "--no-huge", "-m", "512"])
            .args(["--file-prefix", &prefix])
            .arg("--vdev")
            .arg(format!("net_virtio_user0,path={},queues=1", sock.display()))
            .arg("--")
            .args(mode)
            .args(["--total-num-mbufs=2048", "--stats-period=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn testpmd"),
    )
}

#[test]
fn testpmd_loops_packets_through_the_port() {
    if !can_run("testpmd_loops_packets_through_the_port") {
        return;
    }
    let dir = tempdir();
    let sock = dir.join("vu0.sock");
    let port =
        VhostUserPort::server("vu0", &sock, VhostUserOptions::default()).expect("server port");
    let _pmd = testpmd(&sock, "vpt", &["--forward-mode=io", "--tx-first"]);
    let mut pool = PacketPool::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut moved = 0u64;
    let mut started: Option<Instant> = None;
    while Instant::now() < deadline {
        let mut batch = Batch::new();
        let n = port.rx_batch(0, &mut batch, &mut pool);
        if n > 0 {
            started.get_or_insert_with(Instant::now);
            moved += n as u64;
            port.tx_batch(0, &mut batch.packets, &mut pool);
        }
        if let Some(t) = started {
            if t.elapsed() > Duration::from_secs(3) {
                break;
            }
        }
    }
    let st = port.stats();
    let secs = started.map(|t| t.elapsed().as_secs_f64()).unwrap_or(1.0);
    eprintln!(
        "looped {moved} packets in {secs:.2}s ({:.2} Mpps), stats {st:?}",
        moved as f64 / secs / 1e6
    );
    assert!(moved > 1000, "packets circulated: {moved}");
    assert_eq!(st.rx_packets, moved);
    assert_eq!(port.guest_faults(), 0);
    drop(port);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("vhost-port-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A txonly guest and a poller that sleeps the way a datapath worker does
/// (prepare_sleep, then epoll on the port's rx fd after a run of empty
/// polls): the kick path must wake it, and traffic must keep flowing.
#[test]
fn testpmd_txonly_wakes_a_sleeping_poller() {
    use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
    if !can_run("testpmd_txonly_wakes_a_sleeping_poller") {
        return;
    }
    let dir = tempdir();
    let sock = dir.join("vu1.sock");
    let port =
        VhostUserPort::server("vu1", &sock, VhostUserOptions::default()).expect("server port");
    let _pmd = testpmd(&sock, "vps", &["--forward-mode=txonly"]);
    let ep = Epoll::new().unwrap();
    let fd = port.rx_fd(0).expect("rx fd");
    ep.ctl(
        ControlOperation::Add,
        fd,
        EpollEvent::new(EventSet::IN | EventSet::EDGE_TRIGGERED, 0),
    )
    .unwrap();
    let mut events = [EpollEvent::default(); 4];
    let mut pool = PacketPool::new();
    let (mut moved, mut idle, mut sleeps) = (0u64, 0u32, 0u64);
    let mut per_sec = Vec::new();
    let start = Instant::now();
    let mut mark = Instant::now();
    let mut last = 0u64;
    while start.elapsed() < Duration::from_secs(8) {
        let mut batch = Batch::new();
        let n = port.rx_batch(0, &mut batch, &mut pool);
        pool.put_all(&mut batch.packets);
        if n > 0 {
            moved += n as u64;
            idle = 0;
        } else {
            idle += 1;
            if idle > 2000 {
                // As the datapath worker does: re-arm the guest's kicks,
                // and sleep only when nothing raced in.
                if !port.prepare_sleep(0) {
                    sleeps += 1;
                    let _ = ep.wait(100, &mut events);
                }
                idle = 0;
            }
        }
        if mark.elapsed() >= Duration::from_secs(1) {
            per_sec.push(moved - last);
            last = moved;
            mark = Instant::now();
        }
    }
    eprintln!("received {moved} packets, per second {per_sec:?}, sleeps {sleeps}");
    // Once traffic started, it never stops for a whole second.
    let started = per_sec
        .iter()
        .position(|&n| n > 0)
        .expect("traffic started");
    assert!(
        per_sec[started..per_sec.len() - 1].iter().all(|&n| n > 0),
        "stall: {per_sec:?}"
    );
    drop(port);
    let _ = std::fs::remove_dir_all(&dir);
}

//! Two virtio-net guests exchange packets through switchd's vhost-user
//! ports: DPDK's virtio-user PMD (dpdk-testpmd) is the guest driver, one
//! instance sending (txonly) and one receiving (rxonly), through a
//! standalone learning bridge with two `vhostuser` ports.
//!
//! The counters must agree end to end: what switchd took from the sender's
//! ring is what it delivered into the receiver's buffers plus what it
//! counted as dropped, and what it delivered is what testpmd received.
//! Root only; skipped when dpdk-testpmd (Debian package dpdk-dev) is
//! missing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchd_integration::{unavailable, Error, Switch};

/// A testpmd process, interrupted (so it prints its totals) when dropped.
struct Testpmd {
    child: Option<Child>,
    log: std::path::PathBuf,
}

impl Testpmd {
    fn start(dir: &Path, name: &str, socket: &Path, mode: &str) -> Testpmd {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("testpmd log");
        let err = out.try_clone().expect("dup log");
        let child = Command::new("dpdk-testpmd")
            .args(["-l", "0,1", "--no-pci", "--no-huge", "-m", "512"])
            .arg(format!("--file-prefix=swvt{}{name}", std::process::id()))
            .arg("--vdev")
            .arg(format!(
                "net_virtio_user0,path={},queues=1",
                socket.display()
            ))
            .arg("--")
            .arg(format!("--forward-mode={mode}"))
            // --stats-period keeps testpmd running without a terminal.
            .args(["--total-num-mbufs=2048", "--stats-period=1"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn dpdk-testpmd");
        Testpmd {
            child: Some(child),
            log,
        }
    }

    /// SIGINT, wait, and return (rx, tx) from the final statistics.
    fn stop(&mut self) -> (u64, u64) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let total = text
            .split("Accumulated forward statistics")
            .nth(1)
            .unwrap_or("");
        (
            number_after(total, "RX-packets:"),
            number_after(total, "TX-packets:"),
        )
    }
}

impl Drop for Testpmd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn number_after(text: &str, label: &str) -> u64 {
    text.split(label)
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The "port stats" line switchd logs for `port` when it stops.
fn port_counter(log: &str, port: &str, counter: &str) -> u64 {
    log.lines()
        .map(strip_ansi)
        .filter(|l| l.contains("port stats") && l.contains(&format!("port={port} ")))
        .map(|l| number_after(&l, &format!(" {counter}=")))
        .next_back()
        .unwrap_or(0)
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\u{1b}') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

fn wait_for(path: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn two_testpmd_guests_exchange_packets_with_matching_counters() -> Result<(), Error> {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return Ok(());
    }
    if Command::new("dpdk-testpmd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("skipped: dpdk-testpmd is not installed (Debian package dpdk-dev)");
        return Ok(());
    }
    let config = r#"
[[bridge]]
name = "vhbr0"
fail_mode = "standalone"

[bridge.datapath]
workers = 1

[[bridge.port]]
name = "vu1"
type = "vhostuser"

[[bridge.port]]
name = "vu2"
type = "vhostuser"
"#;
    let mut switch = Switch::start(config)?;
    let dir = switch.state_dir().to_path_buf();
    let (sock1, sock2) = (dir.join("vu1.sock"), dir.join("vu2.sock"));
    assert!(wait_for(&sock1, Duration::from_secs(5)), "vu1.sock appears");
    assert!(wait_for(&sock2, Duration::from_secs(5)), "vu2.sock appears");

    let mut receiver = Testpmd::start(&dir, "rx", &sock2, "rxonly");
    std::thread::sleep(Duration::from_secs(3));
    let mut sender = Testpmd::start(&dir, "tx", &sock1, "txonly");
    std::thread::sleep(Duration::from_secs(8));
    let (_, sent) = sender.stop();
    // Let the receiver drain what is still in flight.
    std::thread::sleep(Duration::from_secs(1));
    let (received, _) = receiver.stop();
    switch.terminate()?;
    let log = switch.log();

    let vu1_rx = port_counter(&log, "vu1", "rx_packets");
    let vu2_tx = port_counter(&log, "vu2", "tx_packets");
    let vu2_dropped = port_counter(&log, "vu2", "tx_dropped");
    let faults = port_counter(&log, "vu1", "rx_errors") + port_counter(&log, "vu2", "rx_errors");
    println!(
        "testpmd sent {sent}, switchd took {vu1_rx} from vu1, delivered {vu2_tx} to vu2 \
         (dropped {vu2_dropped}: receiver ring full), testpmd received {received}"
    );
    assert!(sent > 0, "the sender transmitted");
    assert!(vu1_rx > 0, "switchd received from the sender\n{log}");
    // Everything taken from the sender's ring was sent on or counted.
    assert_eq!(
        vu1_rx,
        vu2_tx + vu2_dropped,
        "flooded packets accounted for"
    );
    // Nothing was taken that the sender did not send.
    assert!(vu1_rx <= sent, "took {vu1_rx} of {sent}");
    // The receiver got exactly what switchd put in its buffers.
    assert_eq!(
        received, vu2_tx,
        "receiver count matches switchd's tx count"
    );
    assert_eq!(faults, 0, "no guest faults");
    Ok(())
}

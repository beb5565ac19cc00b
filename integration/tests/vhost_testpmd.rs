//! Two virtio-net guests exchange packets through switchd's vhost-user
//! ports: DPDK's virtio-user PMD (dpdk-testpmd) is the guest driver, one
//! instance sending (txonly) and one receiving (rxonly), through a
//! standalone learning bridge with two vhost-user ports. Three shapes:
//! 64-byte frames on one queue pair, 9000-byte frames that the receiver
//! takes in several mergeable buffers, and two queue pairs.
//!
//! The counters must agree end to end: what switchd took from the sender's
//! ring is what it delivered into the receiver's buffers plus what it
//! counted as dropped, and what it delivered is what testpmd received. The
//! 64-byte run also captures 1000 of the receiver's frames (`swctl
//! capture`, read back by tshark) while the counters must still agree.
//! Root only; skipped when dpdk-testpmd (Debian package dpdk) is missing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchd_integration::{unavailable, Error, Switch};

/// A testpmd process, interrupted (so it prints its totals) when dropped.
struct Testpmd {
    child: Option<Child>,
    log: std::path::PathBuf,
}

/// How a testpmd guest is started.
struct Guest<'a> {
    name: &'a str,
    socket: &'a Path,
    /// txonly or rxonly.
    mode: &'a str,
    queues: u16,
    /// The virtio-user side listens (`server=1`: switchd's port is a
    /// `vhostuserclient`).
    server: bool,
    /// More testpmd application arguments (after `--`).
    args: &'a [&'a str],
}

impl Testpmd {
    fn start(dir: &Path, g: &Guest) -> Testpmd {
        let log = dir.join(format!("{}.log", g.name));
        let out = std::fs::File::create(&log).expect("testpmd log");
        let err = out.try_clone().expect("dup log");
        let queues = g.queues.to_string();
        let child = Command::new("dpdk-testpmd")
            .args(["-l", "0,1", "--no-pci", "--no-huge", "-m", "512"])
            .arg(format!(
                "--file-prefix=swvt{}{}",
                std::process::id(),
                g.name
            ))
            .arg("--vdev")
            .arg(format!(
                "net_virtio_user0,path={},queues={}{}",
                g.socket.display(),
                g.queues,
                if g.server { ",server=1" } else { "" }
            ))
            .arg("--")
            .arg(format!("--forward-mode={}", g.mode))
            .args(["--rxq", &queues, "--txq", &queues])
            // --stats-period keeps testpmd running without a terminal.
            .args(["--total-num-mbufs=4096", "--stats-period=1"])
            .args(g.args)
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

    /// The log as written (testpmd's screen clears are not colour codes:
    /// no stripping).
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// (rx, tx) of each forwarding stream (one per queue) from the final
    /// statistics, after [`Testpmd::stop`].
    fn per_queue(&self) -> Vec<(u64, u64)> {
        let text = self.log_text();
        text.split("Forward Stats for RX Port=")
            .skip(1)
            .map(|block| {
                (
                    number_after(block, "RX-packets:"),
                    number_after(block, "TX-packets:"),
                )
            })
            .collect()
    }

    /// (packets, bytes) received, from the last periodic NIC statistics
    /// (one snapshot: the final totals may be newer).
    fn nic_rx(&self) -> (u64, u64) {
        let text = self.log_text();
        text.rsplit("NIC statistics for port")
            .next()
            .map(|b| (number_after(b, "RX-packets:"), number_after(b, "RX-bytes:")))
            .unwrap_or_default()
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

/// The testpmd flavour of the tests' topology.
struct Scenario<'a> {
    /// Inline TOML options of both ports (`{ ... }`), or "".
    port_options: &'a str,
    workers: u32,
    queues: u16,
    sender_args: &'a [&'a str],
    receiver_args: &'a [&'a str],
    /// Capture 1000 of the frames sent to vu2 while the sender runs.
    capture: bool,
    /// vu2's `qos` section (inline TOML), or "".
    qos: &'a str,
}

/// What one exchange measured.
struct Exchange {
    /// testpmd's totals.
    sent: u64,
    received: u64,
    /// Per-queue (rx, tx) of the sender and the receiver.
    sender_queues: Vec<(u64, u64)>,
    receiver_queues: Vec<(u64, u64)>,
    /// One periodic snapshot of the receiver: (packets, bytes).
    received_snapshot: (u64, u64),
    /// switchd's counters: taken from the sender, delivered to and
    /// dropped for the receiver, guest faults and bad packets.
    vu1_rx: u64,
    vu2_tx: u64,
    vu2_dropped: u64,
    errors: u64,
    log: String,
    /// The capture's packets as tshark read them: interface, direction
    /// flags, protocols (one line each), when the scenario captured.
    captured: Option<String>,
    /// With QoS on vu2: the rate its queue 0 sent at (bit/s of frames,
    /// from `swctl qos-stats` 3 s apart under load) and the last stats.
    shaped: Option<(f64, serde_json::Value)>,
}

fn skip_reason() -> Option<String> {
    if let Some(why) = unavailable() {
        return Some(why.to_string());
    }
    let has_testpmd = Command::new("dpdk-testpmd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    (!has_testpmd).then(|| "dpdk-testpmd is not installed (Debian package dpdk)".to_string())
}

/// A receiver on vu2, then a sender on vu1 for 8 s, through a standalone
/// learning bridge.
fn exchange(sc: &Scenario) -> Result<Exchange, Error> {
    let options = if sc.port_options.is_empty() {
        String::new()
    } else {
        format!("options = {}\n", sc.port_options)
    };
    let config = format!(
        "[[bridge]]\nname = \"vhbr0\"\nfail_mode = \"standalone\"\n\n\
         [bridge.datapath]\nworkers = {}\n\n\
         [[bridge.port]]\nname = \"vu1\"\ntype = \"vhostuser\"\n{options}\n\
         [[bridge.port]]\nname = \"vu2\"\ntype = \"vhostuser\"\n{options}{qos}",
        sc.workers,
        qos = if sc.qos.is_empty() {
            String::new()
        } else {
            format!("qos = {}\n", sc.qos)
        }
    );
    let mut switch = Switch::start(&config)?;
    let dir = switch.state_dir().to_path_buf();
    let (sock1, sock2) = (switch.vhost_socket("vu1"), switch.vhost_socket("vu2"));
    assert!(wait_for(&sock1, Duration::from_secs(5)), "vu1.sock appears");
    assert!(wait_for(&sock2, Duration::from_secs(5)), "vu2.sock appears");

    let guest = |name, socket, mode, args| Guest {
        name,
        socket,
        mode,
        queues: sc.queues,
        server: false,
        args,
    };
    let mut receiver = Testpmd::start(&dir, &guest("rx", &sock2, "rxonly", sc.receiver_args));
    std::thread::sleep(Duration::from_secs(3));
    let mut sender = Testpmd::start(&dir, &guest("tx", &sock1, "txonly", sc.sender_args));
    let captured = if sc.capture {
        std::thread::sleep(Duration::from_secs(2));
        Some(capture_vu2(&switch)?)
    } else {
        None
    };
    let mut rate = None;
    if !sc.qos.is_empty() {
        let swctl = switchd_integration::swctl::Swctl::for_switch(&switch);
        // Bytes and the switch's own clock (ms since the QoS was set) in
        // the same snapshot: swctl's start-up time on a loaded machine
        // would otherwise count as time the queue was sending.
        let at = |s: &serde_json::Value, k: &str| s[k].as_f64().unwrap_or(0.0);
        let bytes = |s: &serde_json::Value| s["queues"][0]["tx_bytes"].as_f64().unwrap_or(0.0);
        std::thread::sleep(Duration::from_secs(2));
        let s0 = swctl.json(&["qos-stats", "vu2"]);
        std::thread::sleep(Duration::from_secs(3));
        let s1 = swctl.json(&["qos-stats", "vu2"]);
        let secs = (at(&s1, "duration_ms") - at(&s0, "duration_ms")) / 1000.0;
        rate = Some((bytes(&s1) - bytes(&s0)) * 8.0 / secs);
    }
    std::thread::sleep(Duration::from_secs(match (sc.capture, rate.is_some()) {
        (true, _) => 6,
        (false, true) => 3,
        (false, false) => 8,
    }));
    let (_, sent) = sender.stop();
    // Let the receiver drain what is still in flight.
    std::thread::sleep(Duration::from_secs(1));
    let (received, _) = receiver.stop();
    let shaped = rate.map(|r| {
        let swctl = switchd_integration::swctl::Swctl::for_switch(&switch);
        (r, swctl.json(&["qos-stats", "vu2"]))
    });
    switch.terminate()?;
    let log = switch.log();
    let counter = |port, name| port_counter(&log, port, name);
    Ok(Exchange {
        sent,
        received,
        sender_queues: sender.per_queue(),
        receiver_queues: receiver.per_queue(),
        received_snapshot: receiver.nic_rx(),
        vu1_rx: counter("vu1", "rx_packets"),
        vu2_tx: counter("vu2", "tx_packets"),
        vu2_dropped: counter("vu2", "tx_dropped"),
        errors: counter("vu1", "rx_errors") + counter("vu2", "rx_errors"),
        log,
        captured,
        shaped,
    })
}

/// `swctl capture vu2 --tx --count 1000` under full load: the frames the
/// guest is being given, read back by tshark.
fn capture_vu2(switch: &Switch) -> Result<String, Error> {
    let swctl = switchd_integration::swctl::Swctl::for_switch(switch);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("vu2.pcapng");
    let file_s = file.to_string_lossy().into_owned();
    swctl.ok(&["capture", "vu2", "--tx", "--count", "1000", "-w", &file_s]);
    switchd_integration::tshark_fields(
        &file,
        "",
        &[
            "frame.interface_name",
            "frame.packet_flags_direction",
            "frame.protocols",
        ],
    )
}

impl Exchange {
    /// The end-to-end accounting every shape must satisfy.
    fn assert_counters_agree(&self) {
        println!(
            "testpmd sent {}, switchd took {} from vu1, delivered {} to vu2 \
             (dropped {}: receiver ring full), testpmd received {} (snapshot {:?}); \
             per queue: sender {:?}, receiver {:?}",
            self.sent,
            self.vu1_rx,
            self.vu2_tx,
            self.vu2_dropped,
            self.received,
            self.received_snapshot,
            self.sender_queues,
            self.receiver_queues
        );
        assert!(self.sent > 0, "the sender transmitted");
        assert!(
            self.vu1_rx > 0,
            "switchd received from the sender\n{}",
            self.log
        );
        // Everything taken from the sender's ring was sent on or counted.
        assert_eq!(
            self.vu1_rx,
            self.vu2_tx + self.vu2_dropped,
            "flooded packets accounted for"
        );
        // Nothing was taken that the sender did not send.
        assert!(
            self.vu1_rx <= self.sent,
            "took {} of {}",
            self.vu1_rx,
            self.sent
        );
        // The receiver got exactly what switchd put in its buffers.
        assert_eq!(
            self.received, self.vu2_tx,
            "receiver count matches switchd's tx count"
        );
        assert_eq!(self.errors, 0, "no guest faults, no bad packets");
        // The vhost-user counters of their own are logged, and zero here:
        // the receiver had its queues enabled throughout.
        for port in ["vu1", "vu2"] {
            let line = self
                .log
                .lines()
                .map(strip_ansi)
                .rfind(|l| l.contains("port stats") && l.contains(&format!("port={port} ")))
                .unwrap_or_default();
            assert!(
                line.contains(" guest_faults=0 tx_no_queue=0 "),
                "custom stats of {port}: {line}"
            );
        }
    }
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn two_testpmd_guests_exchange_packets_with_matching_counters() -> Result<(), Error> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return Ok(());
    }
    let x = exchange(&Scenario {
        port_options: "",
        workers: 1,
        queues: 1,
        sender_args: &[],
        receiver_args: &[],
        capture: true,
        qos: "",
    })?;
    x.assert_counters_agree();
    // A live capture on a vhost-user port under full load: the file holds
    // exactly what was asked, each packet named and directed, all of it
    // testpmd's UDP; and the counters above agree, so the copies held no
    // packet back and lost none.
    let captured = x.captured.unwrap_or_default();
    let rows: Vec<&str> = captured.lines().collect();
    assert_eq!(rows.len(), 1000, "1000 packets captured:\n{captured}");
    assert!(
        rows.iter()
            .all(|r| *r == "vu2\t0x00000002\teth:ethertype:ip:udp:data"),
        "every packet sent to vu2, testpmd's UDP:\n{}",
        rows.iter().take(5).copied().collect::<Vec<_>>().join("\n")
    );
    Ok(())
}

/// An HTB on vu2 at 20 Mbit/s (39k 64-byte frames a second, well under what
/// testpmd offers even on a loaded 2-core CI machine): its flood leaves
/// vu2's queue at that rate (within 5%, measured over 3 s under load),
/// the guest receives exactly what was sent on, and every packet taken
/// from the sender is delivered, dropped for a full ring, or tail-dropped
/// by the queue.
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn shaping_holds_a_vhost_user_guest_to_its_rate() -> Result<(), Error> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return Ok(());
    }
    let x = exchange(&Scenario {
        port_options: "",
        workers: 1,
        queues: 1,
        sender_args: &[],
        receiver_args: &[],
        capture: false,
        qos: "{ type = \"htb\", max_rate = 20000000 }",
    })?;
    let (rate, stats) = x.shaped.clone().expect("qos-stats were read");
    let q = &stats["queues"][0];
    let (tx, dropped) = (
        q["tx_packets"].as_u64().unwrap_or(0),
        q["dropped"].as_u64().unwrap_or(0),
    );
    println!(
        "vu2 shaped to 20 Mbit/s: {:.2} Mbit/s of frames; testpmd sent {}, switchd took {}, \
         queue sent {tx} and tail-dropped {dropped}, delivered {} (ring full {}), received {}",
        rate / 1e6,
        x.sent,
        x.vu1_rx,
        x.vu2_tx,
        x.vu2_dropped,
        x.received
    );
    assert!((rate - 20e6).abs() <= 1e6, "shaped to {rate} bit/s");
    assert!(dropped > 0, "the flood overflowed the queue: {stats}");
    assert_eq!(x.received, x.vu2_tx, "the guest got what was sent on");
    assert_eq!(
        tx,
        x.vu2_tx + x.vu2_dropped,
        "the queue's packets reached the port"
    );
    assert_eq!(
        x.vu1_rx,
        tx + dropped,
        "every packet taken is accounted for"
    );
    assert_eq!(x.errors, 0);
    Ok(())
}

/// 9000-byte frames: the sender's come in one buffer, the receiver's
/// (2 KiB mbufs) are filled with several mergeable buffers each.
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn jumbo_frames_arrive_whole_in_mergeable_buffers() -> Result<(), Error> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return Ok(());
    }
    let x = exchange(&Scenario {
        port_options: r#"{ mtu = "9000" }"#,
        workers: 1,
        queues: 1,
        // --mbuf-size must come before --txpkts.
        sender_args: &["--mbuf-size=9300", "--max-pkt-len=9018", "--txpkts=9000"],
        receiver_args: &["--max-pkt-len=9018", "--enable-scatter"],
        capture: false,
        qos: "",
    })?;
    x.assert_counters_agree();
    assert!(x.received > 0, "jumbo frames delivered");
    let (packets, bytes) = x.received_snapshot;
    assert!(packets > 0, "a snapshot with jumbo frames");
    assert_eq!(
        bytes,
        packets * 9000,
        "every frame arrived whole (9000 bytes)"
    );
    Ok(())
}

/// Two queue pairs on each port and two datapath workers: the sender's
/// two transmit queues are both drained, the receiver's two receive
/// queues are both filled.
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn two_queue_pairs_carry_traffic_on_both_queues() -> Result<(), Error> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return Ok(());
    }
    let x = exchange(&Scenario {
        port_options: r#"{ n_rxq = "2" }"#,
        workers: 2,
        queues: 2,
        sender_args: &[],
        receiver_args: &[],
        capture: false,
        qos: "",
    })?;
    x.assert_counters_agree();
    assert_eq!(
        x.sender_queues.len(),
        2,
        "sender streams: {:?}",
        x.sender_queues
    );
    assert_eq!(
        x.receiver_queues.len(),
        2,
        "receiver streams: {:?}",
        x.receiver_queues
    );
    assert!(
        x.sender_queues.iter().all(|&(_, tx)| tx > 0),
        "both sender queues transmitted: {:?}",
        x.sender_queues
    );
    assert!(
        x.receiver_queues.iter().all(|&(rx, _)| rx > 0),
        "both receiver queues received: {:?}",
        x.receiver_queues
    );
    Ok(())
}

/// Wait until `t`'s receive count passes `above`; returns when it was
/// seen (testpmd prints every second, so this is at most a second late).
fn wait_rx_above(t: &Testpmd, above: u64, timeout: Duration) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if t.nic_rx().0 > above {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// switchd as the vhost-user client (`vhostuserclient`), the testpmd
/// guests as the servers (`server=1`, as a VM's QEMU would be): traffic
/// flows, switchd restarts, its ports reconnect by themselves and traffic
/// flows again.
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn vhostuserclient_ports_reconnect_after_a_switchd_restart() -> Result<(), Error> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return Ok(());
    }
    let guests = tempfile::tempdir().expect("guest socket dir");
    let dir = guests.path();
    let (sock1, sock2) = (dir.join("g1.sock"), dir.join("g2.sock"));
    let guest = |name, socket, mode| Guest {
        name,
        socket,
        mode,
        queues: 1,
        server: true,
        args: &[],
    };
    let mut receiver = Testpmd::start(dir, &guest("rx", &sock2, "rxonly"));
    let mut sender = Testpmd::start(dir, &guest("tx", &sock1, "txonly"));
    assert!(wait_for(&sock1, Duration::from_secs(10)), "g1.sock appears");
    assert!(wait_for(&sock2, Duration::from_secs(10)), "g2.sock appears");

    let config = format!(
        "[[bridge]]\nname = \"vhbr0\"\nfail_mode = \"standalone\"\n\n\
         [bridge.datapath]\nworkers = 1\n\n\
         [[bridge.port]]\nname = \"vu1\"\ntype = \"vhostuserclient\"\n\
         options = {{ vhost-server-path = \"{}\" }}\n\n\
         [[bridge.port]]\nname = \"vu2\"\ntype = \"vhostuserclient\"\n\
         options = {{ vhost-server-path = \"{}\" }}\n",
        sock1.display(),
        sock2.display()
    );
    let mut switch = Switch::start(&config)?;
    assert!(
        wait_rx_above(&receiver, 0, Duration::from_secs(15)).is_some(),
        "traffic flows through the client ports\n{}",
        switch.log()
    );
    std::thread::sleep(Duration::from_secs(2));

    let (_, killed, _) = switch.restart()?;
    // Measured from the new switchd being ready (its start-up time is not
    // the ports' doing; the VM test bounds the whole outage).
    let ready = Instant::now();
    assert!(!killed, "switchd stopped cleanly on SIGTERM");
    let before = receiver.nic_rx().0;
    let resumed = wait_rx_above(&receiver, before, Duration::from_secs(15));
    let resumed = resumed.map(|t| t.duration_since(ready));
    println!("traffic resumed {resumed:?} after the new switchd was ready");
    let resumed = resumed.unwrap_or_else(|| panic!("traffic resumed\n{}", switch.log()));
    // Our reconnect interval (0.5 s) and renegotiation, plus DPDK's
    // server-mode accept (its link-state alarm, up to 1 s) and testpmd's
    // 1 s statistics period before the count shows it: ~2 s seen. The
    // QEMU test bounds the guest-visible outage to 2 s precisely.
    assert!(
        resumed < Duration::from_secs(4),
        "resumed after {resumed:?}"
    );
    std::thread::sleep(Duration::from_secs(2));

    sender.stop();
    std::thread::sleep(Duration::from_secs(1));
    receiver.stop();
    switch.terminate()?;
    let log = switch.log();
    // The second switchd's own accounting holds.
    let (vu1_rx, vu2_tx, vu2_dropped) = (
        port_counter(&log, "vu1", "rx_packets"),
        port_counter(&log, "vu2", "tx_packets"),
        port_counter(&log, "vu2", "tx_dropped"),
    );
    assert!(
        vu1_rx > 0 && vu2_tx > 0,
        "forwarded after the restart\n{log}"
    );
    assert_eq!(vu1_rx, vu2_tx + vu2_dropped);
    Ok(())
}

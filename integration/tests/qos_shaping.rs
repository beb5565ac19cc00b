//! Traffic control end to end: egress queues, policers and the OpenFlow
//! queue messages, against iperf3, ping and ovs-ofctl.
//!
//! One topology: hosts a and b send to host c, all on AF_XDP (native)
//! ports of one bridge (secure, NORMAL at priority 0, an OpenFlow
//! listener). c's port is shaped with `swctl set-qos` to 100 Mbit/s: queue
//! 1 guaranteed 70 Mbit/s, queue 2 29 Mbit/s with a ceiling of 80, queue 3
//! 1 Mbit/s at priority 0 for DSCP EF, CoDel on every queue. An os-ken
//! application (`integration/osken/queues.py`, to which switchd connects)
//! installs the flows that put a's TCP in queue 1 and b's in queue 2 with
//! `OFPActionSetQueue`; without os-ken, `ovs-ofctl` writes the same flows
//! with `set_queue`.
//!
//! - Two iperf3 TCP flows at once: their shares are within 5% of 70/30,
//!   and a ping marked EF (DSCP map to queue 3) keeps a low round trip
//!   while both queues are saturated (bound below).
//! - b alone borrows up to its ceiling (80 Mbit/s of frames).
//! - `ovs-ofctl queue-stats` and `queue-get-config` show the queues, with
//!   counters that match what iperf3 moved.
//! - Ingress policing on a's port caps a UDP sender within 5% of the rate.
//! - A trTCM (RFC 2698) egress policer colours a known UDP load: green at
//!   CIR, yellow up to PIR, red above.
//! - Bad settings are refused with nothing changed; the QoS survives a
//!   restart.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchd_integration::ofctl::{free_tcp_port, ofctl_available, Ofctl};
use switchd_integration::swctl::Swctl;
use switchd_integration::{BridgeConfig, Daemon, Error, FailMode, Host, PortType, Switch, Topo};

const MBIT: f64 = 1e6;
/// Goodput of a full-size TCP segment over the frame HTB counts (1,448
/// bytes of payload in a 1,514-byte frame with timestamps).
const TCP_GOODPUT: f64 = 1448.0 / 1514.0;
/// The round trip an EF ping must stay under with both queues saturated;
/// the TCP flows' own (queue 1 holds up to 1,000 frames: ~170 ms at 70
/// Mbit/s) is reported beside it.
const EF_RTT_BOUND_MS: f64 = 5.0;

fn iperf3_server(host: &Host, port: u16) -> Result<Daemon, Error> {
    let d = host.spawn(&[
        "iperf3",
        "-s",
        "-B",
        &host.ip().to_string(),
        "-p",
        &port.to_string(),
    ])?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(d)
}

/// An iperf3 client's JSON report.
fn iperf3(host: &Host, to: Ipv4Addr, port: u16, args: &[&str]) -> Result<Value, Error> {
    let mut argv = vec!["iperf3", "-J", "-c"];
    let (to, port) = (to.to_string(), port.to_string());
    argv.extend([to.as_str(), "-p", port.as_str()]);
    argv.extend(args);
    let out = host.exec_ok(&argv)?;
    Ok(serde_json::from_str(&out).expect("iperf3's JSON"))
}

/// Receiver bit/s of a TCP report.
fn tcp_rate(r: &Value) -> f64 {
    r["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0)
}

/// `osken-manager`, if installed.
fn osken_manager() -> Option<PathBuf> {
    ["/usr/bin/osken-manager", "/usr/local/bin/osken-manager"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// os-ken running `integration/osken/queues.py` on 127.0.0.1:`port`,
/// putting TCP from each source in its queue.
fn osken_queues(manager: &Path, port: u16, rules: &str, dir: &Path) -> Result<Daemon, Error> {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("osken/queues.py");
    let mut cmd = Command::new(manager);
    cmd.args(["--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port"])
        .arg(port.to_string())
        .arg(app)
        .env("OSKEN_QUEUES", rules);
    Daemon::spawn_logged("osken-manager", cmd, &dir.join("osken.log"))
}

fn within(got: f64, want: f64, fraction: f64) -> bool {
    (got - want).abs() <= want * fraction
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn queues_share_police_and_report_as_configured() -> Result<(), Error> {
    if !ofctl_available() {
        eprintln!("skipped: ovs-ofctl (openvswitch-common) is not installed");
        return Ok(());
    }
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(3, "10.0.0.0/24")?;
    for host in &hosts {
        host.set_tx_offload(false)?;
    }
    let (a, b, c) = (&hosts[0], &hosts[1], &hosts[2]);
    let of_port = free_tcp_port()?;
    // os-ken listens first; switchd connects to it and to nothing else.
    let osken_dir = tempfile::tempdir().expect("a temporary directory");
    let manager = osken_manager();
    let mut controllers = format!("\"ptcp:{of_port}:127.0.0.1\"");
    let _osken = match &manager {
        Some(m) => {
            let port = free_tcp_port()?;
            let rules = format!("{}=1,{}=2", a.ip(), b.ip());
            let d = osken_queues(m, port, &rules, osken_dir.path())?;
            controllers.push_str(&format!(", \"tcp:127.0.0.1:{port}\""));
            Some(d)
        }
        None => {
            eprintln!("os-ken is not installed: ovs-ofctl writes the set_queue flows");
            None
        }
    };
    let config = BridgeConfig::new("br0")
        .fail_mode(FailMode::Secure)
        .set("controller", &format!("[{controllers}]"))
        .set("flows", "[\"priority=0,actions=NORMAL\"]")
        .ports(&hosts, PortType::AfXdp)
        .option_on_all_ports("xdp_mode", "native");
    let mut switch = Switch::start(&config.to_toml())?;
    let swctl = Swctl::for_switch(&switch);
    assert!(a.wait_reachable(c.ip(), Duration::from_secs(5))?);
    assert!(b.wait_reachable(c.ip(), Duration::from_secs(5))?);

    swctl.ok(&[
        "set-qos",
        c.port(),
        "type=htb",
        "max-rate=100000000",
        "queue=1:min-rate=70000000,priority=1",
        "queue=2:min-rate=29000000,max-rate=80000000,priority=1",
        "queue=3:min-rate=1000000,priority=0",
        "dscp=46:3",
        "aqm=codel",
    ]);
    let ofctl = Ofctl::new(of_port)?;
    ofctl.wait_listening(Duration::from_secs(10))?;
    if manager.is_none() {
        for (h, q) in [(a, 1), (b, 2)] {
            let flow = format!(
                "priority=10,tcp,nw_src={},actions=set_queue:{q},NORMAL",
                h.ip()
            );
            ofctl.add_flow(&flow)?;
        }
    }
    // The two set_queue flows, from os-ken or ovs-ofctl, are in the table
    // (switchd retries a controller that was not listening yet with a
    // backoff of up to 8 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let flows = ofctl.run("dump-flows", &[])?;
        if flows.matches("set_queue:").count() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the set_queue flows never came:\n{flows}\nos-ken: {}",
            std::fs::read_to_string(osken_dir.path().join("osken.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _servers = (iperf3_server(c, 5301)?, iperf3_server(c, 5302)?);

    // Both queues saturated: shares, and an EF ping beside them.
    let (ra, rb, ping) = std::thread::scope(|s| {
        let fa = s.spawn(|| iperf3(a, c.ip(), 5301, &["-t", "6"]));
        let fb = s.spawn(|| iperf3(b, c.ip(), 5302, &["-t", "6"]));
        std::thread::sleep(Duration::from_secs(2));
        let ping = a.ping_rtt(c.ip(), 20, "0.1", "0xb8");
        (fa.join().unwrap(), fb.join().unwrap(), ping)
    });
    let (ra, rb) = (ra?, rb?);
    let (rate_a, rate_b) = (tcp_rate(&ra), tcp_rate(&rb));
    let share_a = rate_a / (rate_a + rate_b);
    let tcp_rtt_ms = ra["end"]["streams"][0]["sender"]["mean_rtt"]
        .as_f64()
        .unwrap_or(0.0)
        / 1000.0;
    let ping = ping?;
    let (ef_avg, ef_max, ef_received) = (ping.avg_ms, ping.max_ms, ping.stats.received);
    println!(
        "shares: a {:.1} Mbit/s, b {:.1} Mbit/s ({:.3} / {:.3}); EF ping avg {ef_avg} ms max \
         {ef_max} ms ({ef_received}/20); queue 1's TCP mean rtt {tcp_rtt_ms:.1} ms",
        rate_a / MBIT,
        rate_b / MBIT,
        share_a,
        1.0 - share_a
    );
    assert!(within(share_a, 70.0 / 99.0, 0.05), "a's share {share_a}");
    assert!(
        within(1.0 - share_a, 29.0 / 99.0, 0.05),
        "b's share {}",
        1.0 - share_a
    );
    assert!(
        within(rate_a + rate_b, 100.0 * MBIT * TCP_GOODPUT, 0.05),
        "the port carries its 100 Mbit/s: {}",
        rate_a + rate_b
    );
    assert_eq!(ef_received, 20, "every EF ping answered");
    assert!(ef_avg < EF_RTT_BOUND_MS, "EF ping avg {ef_avg} ms");

    // b alone borrows up to its ceiling.
    let alone = tcp_rate(&iperf3(b, c.ip(), 5302, &["-t", "4"])?);
    println!("b alone: {:.1} Mbit/s", alone / MBIT);
    assert!(
        within(alone, 80.0 * MBIT * TCP_GOODPUT, 0.05),
        "b alone {alone}"
    );

    // The OpenFlow view: queue-stats and queue-get-config.
    let stats = ofctl.run("queue-stats", &[c.port()])?;
    let queue_bytes = |q: u32| -> u64 {
        stats
            .lines()
            .find(|l| l.contains(&format!("queue {q}:")))
            .and_then(|l| l.split("bytes=").nth(1))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let sent_a = ra["end"]["sum_received"]["bytes"].as_f64().unwrap_or(0.0);
    let q1 = queue_bytes(1) as f64;
    // Queue 1 carried a's segments: payload plus 66 bytes per 1,448.
    assert!(
        within(q1, sent_a / TCP_GOODPUT, 0.05),
        "queue 1 {q1} bytes vs {sent_a} of payload\n{stats}"
    );
    assert!(queue_bytes(2) > queue_bytes(3), "{stats}");
    let config = ofctl.run("queue-get-config", &[c.port()])?;
    for q in ["queue 0", "queue 1", "queue 2", "queue 3"] {
        assert!(config.contains(q), "{q} in\n{config}");
    }
    let missing = ofctl.output("queue-stats", &[c.port(), "9"])?;
    // ovs-ofctl prints the error reply on stdout.
    assert!(
        String::from_utf8_lossy(&missing.stdout).contains("OFPQOFC_BAD_QUEUE"),
        "{missing:?}"
    );

    // Ingress policing caps a UDP sender: 20 Mbit/s of IP packets.
    swctl.ok(&["set-policing", a.port(), "rate=20000", "burst=2000"]);
    let udp = iperf3(
        a,
        c.ip(),
        5301,
        &["-u", "-b", "40M", "-l", "1400", "-t", "3"],
    )?;
    let got = udp["end"]["sum"]["bytes"].as_f64().unwrap_or(0.0)
        * (1.0 - udp["end"]["sum"]["lost_percent"].as_f64().unwrap_or(100.0) / 100.0)
        * 8.0
        / udp["end"]["sum"]["seconds"].as_f64().unwrap_or(1.0);
    let want = 20.0 * MBIT * 1400.0 / 1428.0;
    println!(
        "policed: {:.2} Mbit/s of payload (want {:.2})",
        got / MBIT,
        want / MBIT
    );
    assert!(within(got, want, 0.05), "policed to {got}");
    swctl.ok(&["clear-policing", a.port()]);

    // trTCM (RFC 2698) on c's egress: CIR 10, PIR 20 Mbit/s of IP packet;
    // 30 Mbit/s offered of 1,000-byte datagrams (1,028 bytes of IP).
    swctl.ok(&["clear-qos", c.port()]);
    swctl.ok(&[
        "set-qos",
        c.port(),
        "type=trtcm-policer",
        "cir=1250000",
        "cbs=15000",
        "pir=2500000",
        "pbs=30000",
    ]);
    iperf3(
        b,
        c.ip(),
        5302,
        &["-u", "-b", "30M", "-l", "1000", "-t", "3"],
    )?;
    let s = swctl.json(&["qos-stats", c.port()]);
    let col = &s["egress_colours"];
    let n = |k: &str| col[k].as_f64().unwrap_or(0.0);
    let total = n("green_packets") + n("yellow_packets") + n("red_packets");
    let offered = 30.0 * 1028.0 / 1000.0;
    println!("trTCM of {offered:.1} Mbit/s: {col}");
    assert!(total > 10_000.0, "{s}");
    assert!(
        within(n("green_packets") / total, 10.0 / offered, 0.05),
        "{col}"
    );
    assert!(
        within(n("yellow_packets") / total, 10.0 / offered, 0.05),
        "{col}"
    );
    assert!(
        within(n("red_packets") / total, 1.0 - 20.0 / offered, 0.05),
        "{col}"
    );

    // Bad settings: refused, nothing changed.
    let before = swctl.json(&["qos-stats", c.port()])["qos"].clone();
    for (words, why) in [
        (vec!["type=htb", "max-rate=0"], "max-rate must be above 0"),
        (
            vec!["type=htb", "max-rate=20000000000"],
            "above the port's speed",
        ),
        (
            vec![
                "type=htb",
                "max-rate=1000000",
                "queue=1:min-rate=2000000,max-rate=1000000",
            ],
            "above its max-rate",
        ),
        (vec!["type=shaper"], "htb, egress-policer or trtcm-policer"),
    ] {
        let mut args = vec!["set-qos", c.port()];
        args.extend(words);
        let msg = swctl.fails(&args, 1);
        assert!(msg.contains(why), "{args:?}: {msg}");
    }
    let nine: Vec<String> = (0..9).map(|i| format!("queue={i}:min-rate=1000")).collect();
    let mut args = vec!["set-qos", c.port(), "type=htb", "max-rate=1000000"];
    args.extend(nine.iter().map(String::as_str));
    assert!(swctl.fails(&args, 1).contains("at most 8"));
    assert!(swctl
        .fails(&["set-qos", "nosuch", "type=htb", "max-rate=1"], 1)
        .contains("no port"));
    assert_eq!(swctl.json(&["qos-stats", c.port()])["qos"], before);

    // Kept across a restart.
    switch.restart()?;
    let swctl = Swctl::for_switch(&switch);
    let kept = swctl.json(&["qos-stats", c.port()]);
    assert_eq!(kept["qos"], before, "{kept}");
    Ok(())
}

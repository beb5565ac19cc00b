//! sFlow: a real collector (pmacct's `sfacctd`) receives switchd's
//! datagrams.
//!
//! Two hosts on AF_XDP (native) ports of a learning bridge with `[bridge.
//! sflow]` sampling 1 in 50 and polling every 2 s, sending to sfacctd on
//! loopback. Under a known iperf3 UDP load the number of flow samples the
//! collector accounts (not renormalized: one per sample) must be within
//! five standard deviations of packets/50 (a binomial count: n packets,
//! p = 1/50), where n is what the switch's ports received in that time
//! (`dump-ports`). The collector's counter samples of each port must equal
//! `dump-ports` once the traffic stopped. Then swctl: `sflow-show`
//! counters, bad settings refused, an unreachable collector counted as
//! send errors while forwarding goes on, `clear-sflow`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchd_integration::ofctl::free_udp_port;
use switchd_integration::swctl::Swctl;
use switchd_integration::{BridgeConfig, Daemon, Error, PortType, Switch, Topo};

const SAMPLING: u64 = 50;

/// Received packets per OpenFlow port, from `dump-ports`.
fn rx_by_port(swctl: &Swctl) -> Vec<(u64, u64)> {
    let d = swctl.json(&["dump-ports", "br0"]);
    d["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["ofport"].as_u64().unwrap_or(0),
                p["rx_packets"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The PACKETS column of every row sfacctd's print plugin wrote.
fn sampled_packets(csv: &Path, from: &str) -> u64 {
    let text = std::fs::read_to_string(csv).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(src), Some(packets)) = (col("SRC_IP"), col("PACKETS")) else {
        return 0;
    };
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r.get(src) == Some(&from))
        .filter_map(|r| r.get(packets)?.parse::<u64>().ok())
        .sum()
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn a_real_collector_gets_samples_in_proportion_and_counters_that_match() -> Result<(), Error> {
    if Command::new("sfacctd").arg("-V").output().is_err() {
        eprintln!("skipped: sfacctd is not installed (Debian package pmacct)");
        return Ok(());
    }
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(2, "10.0.0.0/24")?;
    for host in &hosts {
        host.set_tx_offload(false)?;
    }
    let (a, b) = (&hosts[0], &hosts[1]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let port = free_udp_port()?;
    let flows = dir.path().join("flows.csv");
    let counters = dir.path().join("counters.json");
    let conf = dir.path().join("sfacctd.conf");
    std::fs::write(
        &conf,
        format!(
            "daemonize: false\nsfacctd_ip: 127.0.0.1\nsfacctd_port: {port}\n\
             sfacctd_renormalize: false\nplugins: print[flows]\n\
             aggregate[flows]: src_host, dst_host, proto\nprint_output[flows]: csv\n\
             print_output_file[flows]: {}\nprint_output_file_append[flows]: true\n\
             print_refresh_time[flows]: 1\n\
             sfacctd_counter_file: {}\nsfacctd_counter_output: json\n",
            flows.display(),
            counters.display()
        ),
    )
    .expect("writing sfacctd.conf");
    let _collector = Daemon::new(
        "sfacctd",
        Command::new("sfacctd")
            .arg("-f")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("sfacctd.log")).expect("a log"))
            .spawn()
            .expect("starting sfacctd"),
    );
    let sflow = format!(
        "{{ agent = \"127.0.0.1\", targets = [\"127.0.0.1:{port}\"], sampling = {SAMPLING}, \
         polling = 2, header = 128 }}"
    );
    let config = BridgeConfig::new("br0")
        .ports(&hosts, PortType::AfXdp)
        .option_on_all_ports("xdp_mode", "native")
        .set("sflow", &sflow);
    let switch = Switch::start(&config.to_toml())?;
    let swctl = Swctl::for_switch(&switch);
    assert!(a.wait_reachable(b.ip(), Duration::from_secs(5))?);
    let server = b.iperf3_server()?;

    // A known load: UDP from a to b, ~7,500 packets of 1,000 bytes.
    let before = rx_by_port(&swctl);
    a.exec_ok(&[
        "iperf3",
        "-c",
        &server.ip().to_string(),
        "-p",
        &server.port().to_string(),
        "-u",
        "-b",
        "20M",
        "-l",
        "1000",
        "-t",
        "3",
    ])?;
    std::thread::sleep(Duration::from_millis(500));
    let after = rx_by_port(&swctl);
    let n: u64 = after
        .iter()
        .map(|(p, rx)| rx - before.iter().find(|(q, _)| q == p).map_or(0, |x| x.1))
        .sum();
    // Give the print plugin two refreshes.
    std::thread::sleep(Duration::from_secs(3));
    let from_a = sampled_packets(&flows, &a.ip().to_string());
    let from_b = sampled_packets(&flows, &b.ip().to_string());
    let got = from_a + from_b;
    let p = 1.0 / SAMPLING as f64;
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    println!("sFlow: {n} packets through the bridge, {got} samples ({from_a} from a), expected {mean:.0} +- {:.0}", 5.0 * sd);
    assert!(n > 5_000, "the load crossed the switch: {n} packets");
    assert!(
        (got as f64 - mean).abs() <= 5.0 * sd + 2.0,
        "{got} samples of {n} packets at 1 in {SAMPLING}: expected {mean:.0} +- {:.0}\n{}",
        5.0 * sd,
        std::fs::read_to_string(&flows).unwrap_or_default()
    );

    // Counter samples: once the traffic stopped, equal to dump-ports.
    let deadline = Instant::now() + Duration::from_secs(8);
    let ports = rx_by_port(&swctl);
    loop {
        let text = std::fs::read_to_string(&counters).unwrap_or_default();
        let last = |ifindex: u64| {
            text.lines()
                .rev()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| v["ifIndex"].as_u64() == Some(ifindex))
        };
        let matched = ports.iter().all(|(p, rx)| {
            last(*p).is_some_and(|v| {
                v["ifInUcastPkts"]
                    .as_u64()
                    .is_some_and(|c| c.abs_diff(*rx) <= 3)
            })
        });
        if matched {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "counter samples do not match dump-ports {ports:?}:\n{}",
            text.lines().rev().take(4).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Through swctl: the agent's counters, bad settings refused with
    // nothing changed, an unreachable collector counted while forwarding
    // goes on, and clearing.
    let show = swctl.json(&["sflow-show", "br0"]);
    assert!(show["samples"].as_u64() >= Some(got), "{show}");
    assert!(show["datagrams"].as_u64() > Some(0), "{show}");
    let why = swctl.fails(
        &["set-sflow", "br0", "agent=nowhere", "targets=127.0.0.1:9"],
        1,
    );
    assert!(why.contains("agent"), "{why}");
    assert_eq!(swctl.json(&["sflow-show", "br0"])["sflow"], show["sflow"]);
    swctl.ok(&[
        "set-sflow",
        "br0",
        "agent=127.0.0.1",
        "targets=127.0.0.1:9",
        "sampling=1",
    ]);
    let ping = a.ping(b.ip(), 3)?;
    assert!(ping.all_received(), "{ping:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let errors = loop {
        let s = swctl.json(&["sflow-show", "br0"]);
        if s["send_errors"].as_u64() > Some(0) || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        errors["send_errors"].as_u64() > Some(0),
        "a closed port refuses: {errors}"
    );
    swctl.ok(&["clear-sflow", "br0"]);
    assert_eq!(swctl.json(&["sflow-show", "br0"])["sflow"], Value::Null);
    Ok(())
}

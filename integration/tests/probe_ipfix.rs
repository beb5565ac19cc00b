//! IPFIX: a real collector (`nfcapd`, read back with `nfdump`, Debian's
//! nfdump package) receives switchd's flow records.
//!
//! Two hosts on AF_XDP (native) ports of a learning bridge with `[bridge.
//! ipfix]` (every packet, active timeout 2 s, idle timeout 1 s) exporting
//! to nfcapd on loopback. An iperf3 UDP flow of 5 s must come out as
//! several records (the active timeout closes one every 2 s) whose packet
//! and byte totals match what iperf3 sent within 1% (bytes at the IP
//! layer: 1,028 per 1,000-byte datagram); three pings, shorter than the
//! active timeout, come out in records ended by the idle timeout. Then
//! swctl: `ipfix-show` counters, bad settings refused, `clear-ipfix`.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use switchd_integration::ofctl::free_udp_port;
use switchd_integration::swctl::Swctl;
use switchd_integration::{BridgeConfig, Daemon, Error, PortType, Switch, Topo};

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn a_real_collector_gets_flow_records_whose_totals_match_the_traffic() -> Result<(), Error> {
    if Command::new("nfcapd").arg("-h").output().is_err() {
        eprintln!("skipped: nfcapd is not installed (Debian package nfdump)");
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
    let mut collector = Daemon::new(
        "nfcapd",
        Command::new("nfcapd")
            .args(["-w"])
            .arg(dir.path())
            .args(["-p", &port.to_string(), "-b", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nfcapd"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let ipfix = format!(
        "{{ targets = [\"127.0.0.1:{port}\"], obs_domain_id = 9, cache_active_timeout = 2, \
         cache_idle_timeout = 1, template_interval = 10 }}"
    );
    let config = BridgeConfig::new("br0")
        .ports(&hosts, PortType::AfXdp)
        .option_on_all_ports("xdp_mode", "native")
        .set("ipfix", &ipfix);
    let switch = Switch::start(&config.to_toml())?;
    let swctl = Swctl::for_switch(&switch);
    assert!(a.wait_reachable(b.ip(), Duration::from_secs(5))?);
    // Let the warm-up's records go out before the flows under test.
    std::thread::sleep(Duration::from_secs(2));
    let server = b.iperf3_server()?;
    let out = a.exec_ok(&[
        "iperf3",
        "-J",
        "-c",
        &server.ip().to_string(),
        "-p",
        &server.port().to_string(),
        "-u",
        "-b",
        "10M",
        "-l",
        "1000",
        "-t",
        "5",
    ])?;
    let report: Value = serde_json::from_str(&out).expect("iperf3's JSON");
    let sent = report["end"]["sum"]["packets"].as_u64().unwrap_or(0);
    let ping = a.ping(b.ip(), 3)?;
    assert!(ping.all_received(), "{ping:?}");
    // The idle timeout (1 s) and a scan later, everything is exported.
    std::thread::sleep(Duration::from_secs(3));
    collector.terminate()?;

    let dump = Command::new("nfdump")
        .arg("-R")
        .arg(dir.path())
        .args(["-q", "-N", "-o", "fmt:%sa,%da,%dp,%pr,%pkt,%byt"])
        .output()
        .expect("running nfdump");
    let text = String::from_utf8_lossy(&dump.stdout).into_owned();
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
        .filter(|r: &Vec<String>| r.len() == 6)
        .collect();
    let (ip_a, ip_b) = (a.ip().to_string(), b.ip().to_string());
    let udp: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| {
            r[0] == ip_a && r[1] == ip_b && r[2] == server.port().to_string() && r[3] == "17"
        })
        .collect();
    let sum = |rs: &[&Vec<String>], i: usize| {
        rs.iter()
            .filter_map(|r| r[i].parse::<u64>().ok())
            .sum::<u64>()
    };
    let (packets, bytes) = (sum(&udp, 4), sum(&udp, 5));
    println!(
        "IPFIX: iperf3 sent {sent} datagrams; {} records carry {packets} packets, {bytes} bytes",
        udp.len()
    );
    assert!(sent > 3_000, "iperf3 sent {sent}");
    let close = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.01;
    assert!(
        close(packets, sent),
        "packets {packets} vs {sent} sent\n{text}"
    );
    assert!(
        close(bytes, sent * 1028),
        "bytes {bytes} vs {} sent\n{text}",
        sent * 1028
    );
    assert!(
        udp.len() >= 2,
        "the 5 s flow is split by the 2 s active timeout:\n{text}"
    );
    let icmp: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| {
            r[3] == "1" && ((r[0] == ip_a && r[1] == ip_b) || (r[0] == ip_b && r[1] == ip_a))
        })
        .collect();
    // Pings last less than the active timeout: their records were ended
    // by the idle timeout, one way and the other.
    let each_way = |from: &str| icmp.iter().any(|r| r[0] == from);
    assert!(
        each_way(&ip_a) && each_way(&ip_b),
        "ICMP records both ways:\n{text}"
    );

    // Through swctl: the exporter's counters, bad settings refused with
    // nothing changed, clearing.
    let show = swctl.json(&["ipfix-show", "br0"]);
    assert!(show["records"].as_u64() >= Some(udp.len() as u64), "{show}");
    assert_eq!(show["dropped"], 0, "{show}");
    let why = swctl.fails(&["set-ipfix", "br0", "targets=nowhere"], 1);
    assert!(why.contains("IP:PORT"), "{why}");
    let why = swctl.fails(
        &[
            "set-ipfix",
            "br0",
            "targets=127.0.0.1:9",
            "cache_idle_timeout=99999",
        ],
        1,
    );
    assert!(why.contains("cache_idle_timeout"), "{why}");
    assert_eq!(swctl.json(&["ipfix-show", "br0"])["ipfix"], show["ipfix"]);
    swctl.ok(&["clear-ipfix", "br0"]);
    assert_eq!(swctl.json(&["ipfix-show", "br0"])["ipfix"], Value::Null);
    Ok(())
}

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
//!
//! Then flow-driven sampling on the same topology: a collector set (a
//! second nfcapd) added with swctl, and a flow that `ovs-ofctl` writes
//! with Open vSwitch's `sample(probability=65535, collector_set_id=5,
//! obs_domain_id=77, obs_point_id=88)` in front of NORMAL for ICMP. Every
//! ping comes out in records of domain 77 and point 88 (nfdump's `%odid`
//! and `%opid`, printed in hex), a sample for a set the bridge lacks is
//! counted, and bad collector sets are refused.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use switchd_integration::ofctl::{free_tcp_port, free_udp_port, ofctl_available, Ofctl};
use switchd_integration::swctl::Swctl;
use switchd_integration::{BridgeConfig, Daemon, Error, FailMode, PortType, Switch, Topo};

/// nfcapd listening on 127.0.0.1:`port`, writing into `dir`.
fn nfcapd(dir: &std::path::Path, port: u16) -> Daemon {
    let d = Daemon::new(
        "nfcapd",
        Command::new("nfcapd")
            .args(["-w"])
            .arg(dir)
            .args(["-p", &port.to_string(), "-b", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nfcapd"),
    );
    std::thread::sleep(Duration::from_millis(500));
    d
}

/// nfdump's rows (comma-separated `fmt`) of the files in `dir`.
fn nfdump(dir: &std::path::Path, fmt: &str) -> (String, Vec<Vec<String>>) {
    let fields = fmt.split(',').count();
    let dump = Command::new("nfdump")
        .arg("-R")
        .arg(dir)
        .args(["-q", "-N", "-o", &format!("fmt:{fmt}")])
        .output()
        .expect("running nfdump");
    let text = String::from_utf8_lossy(&dump.stdout).into_owned();
    let rows = text
        .lines()
        .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
        .filter(|r: &Vec<String>| r.len() == fields)
        .collect();
    (text, rows)
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn a_real_collector_gets_flow_records_whose_totals_match_the_traffic() -> Result<(), Error> {
    if Command::new("nfcapd").arg("-h").output().is_err() || !ofctl_available() {
        eprintln!("skipped: nfcapd (Debian package nfdump) or ovs-ofctl is not installed");
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
    let mut collector = nfcapd(dir.path(), port);
    let ipfix = format!(
        "{{ targets = [\"127.0.0.1:{port}\"], obs_domain_id = 9, cache_active_timeout = 2, \
         cache_idle_timeout = 1, template_interval = 10 }}"
    );
    let of_port = free_tcp_port()?;
    let config = BridgeConfig::new("br0")
        .fail_mode(FailMode::Secure)
        .set("controller", &format!("[\"ptcp:{of_port}:127.0.0.1\"]"))
        .set("flows", "[\"priority=0,actions=NORMAL\"]")
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

    let (text, rows) = nfdump(dir.path(), "%sa,%da,%dp,%pr,%pkt,%byt");
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

    // Flow-driven sampling: ovs-ofctl's sample action to collector set 5.
    let set_dir = tempfile::tempdir().expect("a temporary directory");
    let set_port = free_udp_port()?;
    let mut set_collector = nfcapd(set_dir.path(), set_port);
    swctl.ok(&[
        "set-collector-set",
        "br0",
        "5",
        &format!("targets=127.0.0.1:{set_port}"),
        "cache_idle_timeout=1",
    ]);
    let ofctl = Ofctl::new(of_port)?;
    ofctl.wait_listening(Duration::from_secs(10))?;
    let sample = "sample(probability=65535,collector_set_id=5,obs_domain_id=77,obs_point_id=88)";
    ofctl.add_flow(&format!("priority=100,icmp,actions={sample},NORMAL"))?;
    // The port-unreachable a stray datagram draws samples to a set the
    // bridge does not have.
    ofctl.add_flow(&format!(
        "priority=200,icmp,icmp_type=3,actions={},NORMAL",
        sample.replace("=5,", "=6,")
    ))?;
    let dumped = ofctl.run("dump-flows", &[])?;
    assert!(
        dumped.contains(&format!("actions={sample},NORMAL")),
        "{dumped}"
    );
    let ping = a.ping(b.ip(), 5)?;
    assert!(ping.all_received(), "{ping:?}");
    // One UDP datagram to a closed port: b answers port unreachable.
    a.exec_ok(&["bash", "-c", &format!("echo x > /dev/udp/{}/9", b.ip())])?;
    std::thread::sleep(Duration::from_secs(3));
    set_collector.terminate()?;
    let (text, rows) = nfdump(set_dir.path(), "%sa,%da,%pr,%pkt,%odid,%opid");
    let sampled: u64 = rows
        .iter()
        .filter(|r| r[2] == "1" && r[4] == "0x00000004d" && r[5] == "0x0000000058")
        .filter_map(|r| r[3].parse::<u64>().ok())
        .sum();
    println!("collector set 5: {sampled} ICMP packets in domain 77, point 88\n{text}");
    assert_eq!(sampled, 10, "5 echo requests and 5 replies:\n{text}");
    assert!(
        rows.iter().all(|r| r[2] == "1"),
        "only ICMP went to set 5:\n{text}"
    );
    let show = swctl.json(&["ipfix-show", "br0"]);
    let set = &show["collector_sets"][0];
    assert_eq!(
        (&set["id"], &set["running"], &set["counters"]["samples"]),
        (&Value::from(5), &Value::from(true), &Value::from(10)),
        "{show}"
    );
    assert_eq!(show["unconfigured_samples"], 1, "{show}");
    // Bad collector sets: refused, nothing changed; clearing one.
    let why = swctl.fails(&["set-collector-set", "br0", "5", "targets=nowhere"], 1);
    assert!(why.contains("IP:PORT"), "{why}");
    let why = swctl.fails(&["clear-collector-set", "br0", "6"], 1);
    assert!(why.contains("no collector set 6"), "{why}");
    assert_eq!(
        swctl.json(&["ipfix-show", "br0"])["collector_sets"],
        show["collector_sets"]
    );
    swctl.ok(&["clear-collector-set", "br0", "5"]);
    assert_eq!(
        swctl.json(&["ipfix-show", "br0"])["collector_sets"],
        serde_json::json!([])
    );
    Ok(())
}

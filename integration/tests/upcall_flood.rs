//! An upcall flood does not stall forwarding or starve established flows.
//!
//! Three hosts on AF_XDP (native) ports of one bridge whose pipeline is
//! NORMAL plus a rule on UDP source port 1, so that every UDP megaflow
//! matches its source port (as a controller's ACLs would). h3 floods h2
//! with UDP from random source ports (`integration/tools/udp_flood.py`,
//! 20,000 frames a second for 6 s: ~50,000 new megaflows) while h1 runs an
//! iperf3 TCP flow to h2. The same load from one fixed source port (no new
//! flows) is the control: on a 2-core machine the flood's packets take
//! CPU from the established flow whatever they are, and only what the new
//! flows add is the switch's to answer for. Phases alternate fixed,
//! random, fixed, random.
//!
//! Asserted: a ping beside the random flood loses nothing and stays under
//! 50 ms (the hostile probe saw 207 ms: the revalidator held the worker's
//! flow lock while it described every megaflow; ~0.4 ms now); the flood
//! did make new flows by the ten thousand; and the established flow kept
//! running through it. How much of its throughput it keeps is a speed
//! figure, measured by `benches/e2e/upcall_flood.sh` on a release build
//! and reported in docs/PERFORMANCE.md (the target of 90% is not
//! met yet); this test prints its own ratio, which on a loaded CI machine
//! with a debug build says little.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use switchd_integration::swctl::Swctl;
use switchd_integration::{BridgeConfig, Daemon, Error, FailMode, Host, PortType, Switch, Topo};

const FLOOD_RATE: &str = "20000";
const FLOOD_SECS: &str = "6";

fn flood(from: &Host, to: &Host, fixed: bool) -> Result<Daemon, Error> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/udp_flood.py");
    let (src_mac, dst_mac) = (from.mac()?, to.mac()?);
    let (src_ip, dst_ip) = (from.ip().to_string(), to.ip().to_string());
    let mut argv = vec![
        "python3",
        script.to_str().unwrap_or_default(),
        "eth0",
        &dst_mac,
        &src_mac,
        &src_ip,
        &dst_ip,
        FLOOD_RATE,
        FLOOD_SECS,
    ];
    if fixed {
        argv.push("fixed");
    }
    from.spawn(&argv)
}

/// h1 -> h2 TCP, 4 s, receiver bit/s.
fn tcp(a: &Host, b: &Host) -> Result<f64, Error> {
    let out = a.exec_ok(&[
        "iperf3",
        "-J",
        "-c",
        &b.ip().to_string(),
        "-p",
        "5601",
        "-t",
        "4",
    ])?;
    let v: Value = serde_json::from_str(&out).expect("iperf3's JSON");
    Ok(v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0))
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn established_flows_keep_their_throughput_through_an_upcall_flood() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(3, "10.0.0.0/24")?;
    for host in &hosts {
        host.set_tx_offload(false)?;
    }
    let (a, b, c) = (&hosts[0], &hosts[1], &hosts[2]);
    // A rule on UDP source ports makes every megaflow of UDP match its
    // source port: each random port is a new megaflow, an upcall.
    let config = BridgeConfig::new("br0")
        .fail_mode(FailMode::Secure)
        .set(
            "flows",
            "[\"priority=0,actions=NORMAL\", \"priority=10,udp,tp_src=1,actions=drop\"]",
        )
        .ports(&hosts, PortType::AfXdp)
        .option_on_all_ports("xdp_mode", "native");
    let switch = Switch::start(&config.to_toml())?;
    let swctl = Swctl::for_switch(&switch);
    assert!(a.wait_reachable(b.ip(), Duration::from_secs(5))?);
    assert!(c.wait_reachable(b.ip(), Duration::from_secs(5))?);
    let _server = b.spawn(&["iperf3", "-s", "-B", &b.ip().to_string(), "-p", "5601"])?;
    std::thread::sleep(Duration::from_millis(300));

    let (mut control, mut flooded) = (0.0, 0.0);
    let mut pings = Vec::new();
    for fixed in [true, false, true, false] {
        let mut f = flood(c, b, fixed)?;
        std::thread::sleep(Duration::from_millis(500));
        let rate = tcp(a, b)?;
        if fixed {
            control += rate;
        } else {
            flooded += rate;
            let p = a.ping_rtt(b.ip(), 30, "0.1", "0")?;
            pings.push((p.stats.received, p.max_ms));
        }
        f.wait_timeout(Duration::from_secs(10))?;
        println!(
            "{} flood: h1 -> h2 TCP {:.2} Gbit/s",
            if fixed { "fixed-port" } else { "random-port" },
            rate / 1e9
        );
    }
    let stats = swctl.json(&["pmd-stats"]);
    let total = &stats["bridges"][0]["total"];
    println!(
        "flooded/control {:.3}; pings {pings:?}; misses {} lost upcalls {} megaflows {}",
        flooded / control,
        total["misses"],
        total["lost_upcalls"],
        total["megaflows"]
    );
    assert!(control > 0.0, "the control flow ran");
    assert!(flooded > 0.0, "the established flow ran through the flood");
    for (received, max) in pings {
        assert_eq!(received, 30, "no ping lost beside the flood");
        assert!(max < 50.0, "ping max rtt {max} ms beside the flood");
    }
    // The flood made new megaflows by the ten thousand (what could not be
    // translated within the worker's upcall budget is counted as lost).
    let megaflows = total["megaflows"].as_u64().unwrap_or(0);
    assert!(megaflows > 10_000, "{total}");
    Ok(())
}

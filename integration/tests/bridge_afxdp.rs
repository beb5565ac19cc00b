//! A standalone (learning) bridge whose ports are AF_XDP sockets.
//!
//! AF_XDP sees frames before the kernel stack, with no checksum or GSO
//! metadata, so the hosts turn transmit checksum offload off (as for every
//! AF_XDP switch). The XDP program is attached through a BPF link owned by
//! the switch process: whichever way switchd dies, the program must go with it.

use std::time::Duration;

use switchd_integration::{
    ping_all, xdp_attached, BridgeConfig, Error, Host, PortType, Switch, Topo,
};

/// Four hosts with tx offload off, bridged by AF_XDP ports in `xdp_mode`.
fn pings_all_pairs_and_carries_tcp(xdp_mode: &str) -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(4, "10.0.0.0/24")?;
    for host in &hosts {
        host.set_tx_offload(false)?;
    }
    let config = BridgeConfig::new("br0")
        .ports(&hosts, PortType::AfXdp)
        .option_on_all_ports("xdp_mode", xdp_mode);
    let _switch = Switch::start(&config.to_toml())?;

    let failures: Vec<_> = ping_all(&hosts, 3, Duration::from_secs(5))?
        .into_iter()
        .filter(|pair| !pair.stats.all_received())
        .collect();
    assert!(failures.is_empty(), "pairs with loss: {failures:#?}");

    let server = hosts[1].iperf3_server()?;
    let gbps = hosts[0].iperf3_client(&server, 3)?;
    println!("afxdp {xdp_mode}, tx offload off: iperf3 TCP {gbps:.2} Gbit/s");
    assert!(gbps > 0.0);
    Ok(())
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn afxdp_native_bridge_pings_all_pairs_and_carries_tcp() -> Result<(), Error> {
    pings_all_pairs_and_carries_tcp("native")
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn afxdp_generic_bridge_pings_all_pairs_and_carries_tcp() -> Result<(), Error> {
    pings_all_pairs_and_carries_tcp("generic")
}

/// Waits up to 2 s for the XDP program to leave every host's port.
fn assert_xdp_detached(hosts: &[Host], after: &str) -> Result<(), Error> {
    for host in hosts {
        let mut attached = xdp_attached(host.port())?;
        for _ in 0..40 {
            if !attached {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            attached = xdp_attached(host.port())?;
        }
        assert!(
            !attached,
            "XDP still attached to {} after {after}",
            host.port()
        );
    }
    Ok(())
}

/// Starts a native AF_XDP bridge on two hosts and checks it attached XDP.
fn start_attached(topo: &mut Topo) -> Result<(Vec<Host>, Switch), Error> {
    let hosts = topo.add_hosts(2, "10.0.0.0/24")?;
    let config = BridgeConfig::new("br0")
        .ports(&hosts, PortType::AfXdp)
        .option_on_all_ports("xdp_mode", "native");
    let switch = Switch::start(&config.to_toml())?;
    for host in &hosts {
        assert!(
            xdp_attached(host.port())?,
            "no XDP program on {}",
            host.port()
        );
    }
    Ok((hosts, switch))
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn afxdp_program_detaches_on_sigterm() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let (hosts, mut switch) = start_attached(&mut topo)?;
    let (status, needed_kill) = switch.terminate()?;
    assert!(!needed_kill, "switchd ignored SIGTERM for 3 s");
    println!("switchd exited on SIGTERM: {status}");
    assert_xdp_detached(&hosts, "SIGTERM")
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn afxdp_program_detaches_on_sigkill_and_a_new_switch_takes_over() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let (hosts, mut switch) = start_attached(&mut topo)?;
    switch.kill()?;
    assert_xdp_detached(&hosts, "SIGKILL")?;
    drop(switch);

    // A crashed switch must not leave its ports unusable.
    let config = BridgeConfig::new("br0")
        .ports(&hosts, PortType::AfXdp)
        .option_on_all_ports("xdp_mode", "native");
    let _switch = Switch::start(&config.to_toml())?;
    assert!(hosts[0].wait_reachable(hosts[1].ip(), Duration::from_secs(5))?);
    assert!(hosts[0].ping(hosts[1].ip(), 3)?.all_received());
    Ok(())
}

/// SIGKILL under traffic, with mixed port types, flows the operator stored
/// and an OpenFlow client connected: the restarted switchd (same state
/// directory) has the same ports and flows, re-attaches its XDP programs,
/// and traffic resumes through the same flows.
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn sigkill_under_traffic_loses_no_config_and_traffic_resumes() -> Result<(), Error> {
    use switchd_integration::ofctl::{free_tcp_port, Ofctl};
    use switchd_integration::swctl::Swctl;
    use switchd_integration::{FailMode, PortConfig};

    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(3, "10.0.0.0/24")?;
    for host in &hosts {
        host.set_tx_offload(false)?;
    }
    let of_port = free_tcp_port()?;
    let config = BridgeConfig::new("br0")
        .fail_mode(FailMode::Secure)
        .set("controller", &format!("[\"ptcp:{of_port}:127.0.0.1\"]"))
        .port(
            PortConfig::for_host(&hosts[0], PortType::AfXdp)
                .ofport(1)
                .option("xdp_mode", "native"),
        )
        .port(PortConfig::for_host(&hosts[1], PortType::AfPacket).ofport(2))
        .port(PortConfig::for_host(&hosts[2], PortType::AfPacket).ofport(3));
    let mut switch = Switch::start(&config.to_toml())?;
    let sw = Swctl::for_switch(&switch);
    // The operator's flows, kept in the store: 1 <-> 2 and 1 <-> 3 by
    // destination, ARP flooded.
    let flows = switch.state_dir().join("flows.txt");
    std::fs::write(
        &flows,
        "priority=10,arp,actions=FLOOD\n\
         priority=10,ip,nw_dst=10.0.0.1,actions=output:1\n\
         priority=10,ip,nw_dst=10.0.0.2,actions=output:2\n\
         priority=10,ip,nw_dst=10.0.0.3,actions=output:3\n",
    )
    .map_err(|source| Error::Io {
        what: "writing flows".into(),
        source,
    })?;
    sw.ok(&["add-flows", "br0", &flows.to_string_lossy(), "--persistent"]);
    let ofctl = Ofctl::new(of_port)?;
    ofctl.wait_listening(Duration::from_secs(10))?;
    assert_eq!(ofctl.dump_flows(None)?.len(), 4);
    assert!(hosts[0].wait_reachable(hosts[1].ip(), Duration::from_secs(5))?);

    // Traffic in flight when switchd dies.
    let server = hosts[1].iperf3_server()?;
    let load = hosts[0].spawn(&[
        "iperf3",
        "-c",
        &hosts[1].ip().to_string(),
        "-p",
        &server.port().to_string(),
        "-t",
        "8",
    ])?;
    std::thread::sleep(Duration::from_secs(2));
    switch.kill()?;
    assert_xdp_detached(&hosts[..1], "SIGKILL under traffic")?;
    drop(load);
    drop(server);

    // Same state directory: the store brings everything back.
    switch.restart()?;
    assert!(
        xdp_attached(hosts[0].port())?,
        "XDP not re-attached on {}",
        hosts[0].port()
    );
    ofctl.wait_listening(Duration::from_secs(10))?;
    assert_eq!(
        ofctl.dump_flows(None)?.len(),
        4,
        "the stored flows came back"
    );
    let ports = sw.ok(&["list-ports", "br0"]);
    for h in &hosts {
        assert!(ports.contains(h.port()), "{} missing: {ports}", h.port());
    }
    for to in &hosts[1..] {
        assert!(hosts[0].wait_reachable(to.ip(), Duration::from_secs(10))?);
        let s = hosts[0].ping(to.ip(), 3)?;
        assert!(s.all_received(), "{} after restart: {s:?}", to.name());
    }
    let server = hosts[2].iperf3_server()?;
    assert!(hosts[0].iperf3_client(&server, 2)? > 0.0);
    Ok(())
}

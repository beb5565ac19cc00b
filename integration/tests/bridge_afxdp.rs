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

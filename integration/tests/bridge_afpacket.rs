//! A standalone (learning) bridge whose ports are AF_PACKET sockets.
//!
//! The hosts keep the kernel's default veth offloads, so their TCP segments
//! arrive with partial checksums and as GSO super-frames: the switch must
//! complete or segment them for iperf3 to get anywhere.

use std::time::Duration;

use switchd_integration::{ping_all, BridgeConfig, Error, PortType, Switch, Topo};

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn afpacket_bridge_pings_all_pairs_and_carries_tcp_with_offloads_on() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(4, "10.0.0.0/24")?;
    let config = BridgeConfig::new("br0").ports(&hosts, PortType::AfPacket);
    let _switch = Switch::start(&config.to_toml())?;

    let failures: Vec<_> = ping_all(&hosts, 3, Duration::from_secs(5))?
        .into_iter()
        .filter(|pair| !pair.stats.all_received())
        .collect();
    assert!(failures.is_empty(), "pairs with loss: {failures:#?}");

    let server = hosts[1].iperf3_server()?;
    let gbps = hosts[0].iperf3_client(&server, 3)?;
    println!("afpacket, offloads on: iperf3 TCP {gbps:.2} Gbit/s");
    assert!(gbps > 0.0);
    Ok(())
}

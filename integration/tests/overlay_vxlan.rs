//! Overlays: switchd's native VXLAN against the Linux kernel's VXLAN.
//!
//! ```text
//!  ns a (10.77.0.1)                         ns hv ("a hypervisor")
//!     | veth                                  eth0 198.18.77.2 -- vxlan vni 100
//!  switchd: br-int [a, vx0 vxlan]                                   |
//!           br-phy [uplink, LOCAL 198.18.77.1]   kernel bridge [vxlan, veth] -- ns b (10.77.0.2)
//! ```
//!
//! switchd's tunnel port pushes VXLAN onto its underlay bridge `br-phy`,
//! whose LOCAL port holds the tunnel endpoint address (as Open vSwitch
//! users set it up); the far VTEP is the kernel's `vxlan` device, bridged
//! to host b. switchd resolves the far VTEP's MAC itself (ARP through the
//! underlay bridge). Hosts run MTU 1450, the kernel VXLAN default. A
//! second pair (c behind switchd, d behind the kernel, VNI 101) crosses an
//! IPv6 underlay (fd00:77::1 <-> fd00:77::2, MTU 1430), resolved by
//! neighbour solicitation. Last, vx0 is shaped (`swctl set-qos vx0`) and
//! TCP through it keeps to the rate.

use std::time::Duration;

use switchd_integration::craft;
use switchd_integration::swctl::Swctl;
use switchd_integration::{
    ip, BridgeConfig, Capture, Error, Host, PortConfig, PortType, Switch, Topo,
};

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn hosts_behind_switchd_and_a_kernel_vtep_ping_and_carry_tcp_both_ways() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let p = topo.prefix().to_string();
    let a = topo.add_host("a", "10.77.0.1/24")?;
    let b = topo.add_host("b", "10.77.0.2/24")?;
    // A second tenant pair over an IPv6 underlay.
    let c = topo.add_host("c", "10.78.0.1/24")?;
    let d = topo.add_host("d", "10.78.0.2/24")?;
    let hv = topo.add_host("hv", "198.18.77.2/24")?;
    hv.exec_ok(&["ip", "addr", "add", "fd00:77::2/64", "dev", "eth0", "nodad"])?;

    // The kernel hypervisor: hosts b and d move into it, each bridged with
    // a kernel VXLAN device whose far end is switchd's LOCAL address.
    kernel_vtep(&hv, &b, "100", "198.18.77.2", "198.18.77.1", 1450)?;
    kernel_vtep(&hv, &d, "101", "fd00:77::2", "fd00:77::1", 1430)?;
    a.exec_ok(&["ip", "link", "set", "dev", "eth0", "mtu", "1450"])?;
    c.exec_ok(&["ip", "link", "set", "dev", "eth0", "mtu", "1430"])?;

    let int = BridgeConfig::new(format!("{p}int"))
        .port(PortConfig::for_host(&a, PortType::AfPacket))
        .port(
            PortConfig::new("vx0", PortType::Vxlan)
                .option("remote_ip", "198.18.77.2")
                .option("key", "100"),
        );
    let int6 = BridgeConfig::new(format!("{p}int6"))
        .port(PortConfig::for_host(&c, PortType::AfPacket))
        .port(
            PortConfig::new("vx6", PortType::Vxlan)
                .option("remote_ip", "fd00:77::2")
                .option("key", "101"),
        );
    let phy_name = format!("{p}phy");
    let phy = BridgeConfig::underlay(&phy_name, &hv);
    let switch = Switch::start(&BridgeConfig::all_to_toml(&[&int, &int6, &phy]))?;
    // The underlay, as the far hypervisor's NIC sees it, for tshark.
    let mut underlay = Capture::start(&hv, "eth0")?;
    // The tunnel endpoint address lives on the underlay bridge's LOCAL
    // port (switchd's tap, removed with switchd).
    ip(&["addr", "add", "198.18.77.1/24", "dev", &phy_name])?;
    ip(&["addr", "add", "fd00:77::1/64", "dev", &phy_name, "nodad"])?;
    ip(&["link", "set", "dev", &phy_name, "up"])?;

    assert!(
        a.wait_reachable(b.ip(), Duration::from_secs(15))?,
        "a cannot reach b over the tunnel"
    );
    let ab = a.ping(b.ip(), 5)?;
    let ba = b.ping(a.ip(), 5)?;
    assert!(
        ab.all_received() && ba.all_received(),
        "a->b {ab:?}, b->a {ba:?}"
    );
    // Over the IPv6 underlay: switchd resolves the far VTEP by neighbour
    // solicitation.
    assert!(
        c.wait_reachable(d.ip(), Duration::from_secs(15))?,
        "c cannot reach d over the IPv6 tunnel"
    );
    let cd = c.ping(d.ip(), 3)?;
    let dc = d.ping(c.ip(), 3)?;
    assert!(
        cd.all_received() && dc.all_received(),
        "c->d {cd:?}, d->c {dc:?}"
    );
    underlay.stop()?;
    let v6 = underlay.count(
        "ipv6.src == fd00:77::1 && vxlan.vni == 101 && ip.src == 10.78.0.1 && icmp.type == 8",
    )?;
    let v6_back = underlay.count(
        "ipv6.src == fd00:77::2 && vxlan.vni == 101 && ip.src == 10.78.0.2 && icmp.type == 0",
    )?;
    assert!(
        v6 >= 3 && v6_back >= 3,
        "IPv6 underlay: echo requests {v6}, replies {v6_back}"
    );
    let solicited = underlay.count(
        "icmpv6.type == 135 && icmpv6.nd.ns.target_address == fd00:77::2 && ipv6.src == fd00:77::1",
    )?;
    assert!(
        solicited >= 1,
        "no neighbour solicitation from switchd for the far VTEP"
    );
    // switchd resolved the far endpoint itself: its ARP request is on the
    // wire, from the LOCAL address.
    let asked = underlay.count(
        "arp.opcode == 1 && arp.src.proto_ipv4 == 198.18.77.1 && arp.dst.proto_ipv4 == 198.18.77.2",
    )?;
    assert!(asked >= 1, "no ARP request from switchd for the far VTEP");
    // Both directions decode as VXLAN VNI 100 around the hosts' pings, and
    // nothing on the underlay is malformed.
    let requests = underlay.count(
        "ip.src == 198.18.77.1 && vxlan.vni == 100 && ip.src == 10.77.0.1 && icmp.type == 8",
    )?;
    let replies = underlay.count(
        "ip.src == 198.18.77.2 && vxlan.vni == 100 && ip.src == 10.77.0.2 && icmp.type == 0",
    )?;
    assert!(
        requests >= 5 && replies >= 5,
        "echo requests {requests}, replies {replies} on the underlay"
    );
    let malformed = underlay.count("_ws.malformed || _ws.expert.severity == error")?;
    assert_eq!(malformed, 0, "malformed packets on the underlay");

    // Bad tunnel input from the far hypervisor's NIC, straight at
    // switchd's endpoint: each dropped and counted by reason, and the
    // tunnel keeps forwarding.
    let sw = Swctl::for_switch(&switch);
    let before = sw.tunnel_counters();
    let dst_mac = craft::link_mac(&phy_name)?;
    let src_mac = craft::parse_mac(&hv.mac()?);
    let inner = {
        let mut f = vec![0u8; 60];
        f[..6].copy_from_slice(&[0xff; 6]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0x77]);
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f
    };
    let vxlan = |flags: u8, vni: u32| {
        let mut v = vec![flags, 0, 0, 0];
        v.extend_from_slice(&(vni << 8).to_be_bytes());
        v.extend_from_slice(&inner);
        v
    };
    for (payload, why) in [
        (vxlan(0x00, 100), "pop_vxlan_flags"),
        (vec![0x08, 0, 0, 0], "pop_truncated"),
        (vxlan(0x08, 999), "unknown_key"),
    ] {
        let frame = craft::ipv4(
            dst_mac,
            src_mac,
            [198, 18, 77, 2],
            [198, 18, 77, 1],
            17,
            &craft::udp(40000, 4789, &payload),
        );
        craft::send_raw(&hv, "eth0", &frame)?;
        sw.wait_tunnel_count_above(why, &before);
    }
    let after = a.ping(b.ip(), 2)?;
    assert!(
        after.all_received(),
        "the tunnel stopped after bad input: {after:?}"
    );

    let server = b.iperf3_server()?;
    let ab_gbps = a.iperf3_client(&server, 3)?;
    let server = a.iperf3_server()?;
    let ba_gbps = b.iperf3_client(&server, 3)?;
    println!("VXLAN switchd <-> kernel: a->b {ab_gbps:.2} Gbit/s, b->a {ba_gbps:.2} Gbit/s");
    assert!(
        ab_gbps > 0.05 && ba_gbps > 0.05,
        "a->b {ab_gbps}, b->a {ba_gbps}"
    );

    // A tunnel port shaped: vx0's encapsulated frames leave at 50 Mbit/s
    // (its queue's byte count over the iperf3 run), and a->b's goodput is
    // under it.
    sw.ok(&["set-qos", "vx0", "type=htb", "max-rate=50000000"]);
    let server = b.iperf3_server()?;
    // Bytes and the switch's clock (ms since the QoS was set) from the
    // same snapshots, so swctl's own start-up time does not count.
    let at = |s: &serde_json::Value, k: &str| s[k].as_f64().unwrap_or(0.0);
    let bytes = |s: &serde_json::Value| s["queues"][0]["tx_bytes"].as_f64().unwrap_or(0.0);
    let s0 = sw.json(&["qos-stats", "vx0"]);
    let shaped_gbps = a.iperf3_client(&server, 4)?;
    let s1 = sw.json(&["qos-stats", "vx0"]);
    let secs = (at(&s1, "duration_ms") - at(&s0, "duration_ms")) / 1000.0;
    let rate = (bytes(&s1) - bytes(&s0)) * 8.0 / secs;
    println!(
        "vx0 shaped to 50 Mbit/s: {:.2} Mbit/s of VXLAN frames, a->b goodput {:.2} Mbit/s",
        rate / 1e6,
        shaped_gbps * 1e3
    );
    // The window includes iperf3's start and end, when the queue is idle.
    assert!(rate > 40e6 && rate < 52.5e6, "vx0 sent {rate} bit/s");
    assert!(shaped_gbps * 1e9 < 50e6, "goodput {shaped_gbps} Gbit/s");
    sw.ok(&["clear-qos", "vx0"]);
    drop(switch);
    Ok(())
}

/// In the kernel hypervisor `hv`: a VXLAN device for `vni` from `local` to
/// `remote`, bridged with `host`'s link (moved into `hv`).
fn kernel_vtep(
    hv: &Host,
    host: &Host,
    vni: &str,
    local: &str,
    remote: &str,
    mtu: u32,
) -> Result<(), Error> {
    let dev = format!("vx{vni}");
    let br = format!("kbr{vni}");
    let mtu = mtu.to_string();
    ip(&["link", "set", "dev", host.port(), "netns", hv.netns()])?;
    hv.exec_ok(&[
        "ip", "link", "add", &dev, "type", "vxlan", "id", vni, "local", local, "remote", remote,
        "dstport", "4789", "dev", "eth0",
    ])?;
    hv.exec_ok(&["ip", "link", "add", &br, "type", "bridge"])?;
    for port in [dev.as_str(), host.port()] {
        hv.exec_ok(&["ip", "link", "set", "dev", port, "master", &br, "mtu", &mtu])?;
        hv.exec_ok(&["ip", "link", "set", "dev", port, "up"])?;
    }
    hv.exec_ok(&["ip", "link", "set", "dev", &br, "up"])?;
    host.exec_ok(&["ip", "link", "set", "dev", "eth0", "mtu", &mtu])?;
    Ok(())
}

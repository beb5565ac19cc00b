//! Overlays: switchd's native GENEVE and GRE against Open vSwitch 3.1's
//! userspace datapath as the far VTEP (this kernel has neither).
//!
//! ```text
//!  ns a1 10.78.0.1   ns a2 10.79.0.1             ns hv: Open vSwitch (netdev)
//!     |                 |                          ovsphy [eth0, LOCAL 198.18.78.2]
//!  switchd: gv [a1, gv0 geneve flow]               ovsgv  [b1, gv0 geneve flow]    -- ns b1 10.78.0.2
//!           gr [a2, gr0 gre key 200]               ovsgr  [b2, gr0 gre key 200]    -- ns b2 10.79.0.2
//!           phy [uplink, LOCAL 198.18.78.1] ------ eth0
//! ```
//!
//! One topology for both encapsulations (each tenant pair has its own
//! bridges on both sides, so nothing floods from one tunnel into the
//! other). The GRE pair is a learning bridge over a fixed-remote tunnel on
//! both sides; the GENEVE pair is flow-based (`remote_ip=flow,key=flow`)
//! on both sides, programmed with the same ovs-ofctl flows (NX `tun_dst`,
//! `tunnel_id` and a GENEVE option as `tun_metadata0` out; `tunnel_id`,
//! `tun_src` and the other side's option matched in), after the same
//! `add-tlv-map`. The underlay is captured on the far side and decoded by
//! tshark.

use std::time::Duration;

use switchd_integration::craft;
use switchd_integration::ofctl::{free_tcp_port, Ofctl};
use switchd_integration::ovs::{ovs_available, Ovs};
use switchd_integration::swctl::Swctl;
use switchd_integration::{
    ip, BridgeConfig, Capture, Error, FailMode, PortConfig, PortType, Switch, Topo,
};

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn geneve_and_gre_interoperate_with_open_vswitch() -> Result<(), Error> {
    if !ovs_available() {
        eprintln!("skipping: Open vSwitch is not installed");
        return Ok(());
    }
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let p = topo.prefix().to_string();
    let a1 = topo.add_host("a1", "10.78.0.1/24")?;
    let a2 = topo.add_host("a2", "10.79.0.1/24")?;
    let b1 = topo.add_host("b1", "10.78.0.2/24")?;
    let b2 = topo.add_host("b2", "10.79.0.2/24")?;
    let hv = topo.add_host("hv", "198.18.78.2/24")?;
    for h in [&a1, &a2, &b1, &b2] {
        h.exec_ok(&["ip", "link", "set", "dev", "eth0", "mtu", "1400"])?;
    }

    // The far hypervisor: Open vSwitch owns eth0; the endpoint address
    // moves to its underlay bridge's LOCAL port, as its users set it up.
    let hv_ns = hv.netns().to_string();
    for h in [&b1, &b2] {
        ip(&["link", "set", "dev", h.port(), "netns", &hv_ns])?;
        hv.exec_ok(&["ip", "link", "set", "dev", h.port(), "up"])?;
    }
    hv.exec_ok(&["ip", "addr", "flush", "dev", "eth0"])?;
    let ovs = Ovs::start(&hv)?;
    let netdev = ["--", "set", "bridge"];
    for br in ["ovsphy", "ovsgv", "ovsgr"] {
        let mut args = vec!["add-br", br];
        args.extend(netdev);
        args.extend([br, "datapath_type=netdev"]);
        ovs.vsctl(&args)?;
    }
    ovs.vsctl(&["add-port", "ovsphy", "eth0"])?;
    ovs.vsctl(&[
        "add-port",
        "ovsgv",
        b1.port(),
        "--",
        "set",
        "interface",
        b1.port(),
        "ofport_request=1",
    ])?;
    ovs.vsctl(&[
        "set",
        "bridge",
        "ovsgv",
        "fail_mode=secure",
        "protocols=OpenFlow13",
    ])?;
    ovs.vsctl(&["add-port", "ovsgr", b2.port()])?;
    ovs.vsctl(&[
        "add-port",
        "ovsgv",
        "gv0",
        "--",
        "set",
        "interface",
        "gv0",
        "type=geneve",
        "ofport_request=2",
        "options:remote_ip=flow",
        "options:key=flow",
    ])?;
    ovs.vsctl(&[
        "add-port",
        "ovsgr",
        "gr0",
        "--",
        "set",
        "interface",
        "gr0",
        "type=gre",
        "options:remote_ip=198.18.78.1",
        "options:key=200",
    ])?;
    hv.exec_ok(&["ip", "addr", "add", "198.18.78.2/24", "dev", "ovsphy"])?;
    hv.exec_ok(&["ip", "link", "set", "dev", "ovsphy", "up"])?;

    // The GENEVE pair is flow-based on both sides (remote_ip=flow,
    // key=flow), programmed with the same ovs-ofctl flows: NX tun_dst and
    // tunnel_id on the way out, tunnel_id and tun_src matched on the way in.
    let of_port = free_tcp_port()?;
    let gv = BridgeConfig::new(format!("{p}gv"))
        .fail_mode(FailMode::Secure)
        .set("controller", &format!("[\"ptcp:{of_port}:127.0.0.1\"]"))
        .port(PortConfig::for_host(&a1, PortType::AfPacket).ofport(1))
        .port(
            PortConfig::new("gv0", PortType::Geneve)
                .ofport(2)
                .option("remote_ip", "flow")
                .option("key", "flow"),
        );
    let gr = BridgeConfig::new(format!("{p}gr"))
        .port(PortConfig::for_host(&a2, PortType::AfPacket))
        .port(
            PortConfig::new("gr0", PortType::Gre)
                .option("remote_ip", "198.18.78.2")
                .option("key", "200"),
        );
    let phy_name = format!("{p}phy");
    let phy = BridgeConfig::underlay(&phy_name, &hv);
    let switch = Switch::start(&BridgeConfig::all_to_toml(&[&gv, &gr, &phy]))?;
    // Each side also puts a GENEVE option on what it sends (class 0xffff,
    // critical type 0x80, 4 bytes: its own value) and forwards only what
    // carries the other side's value, so a ping crosses only if the option
    // set on one side is matched on the other, both ways.
    let flows = |far: &str, mine: &str, theirs: &str| {
        vec![
            format!(
                "in_port=1,actions=set_field:100->tun_id,set_field:{far}->tun_dst,\
                 set_field:{mine}->tun_metadata0,output:2"
            ),
            format!("in_port=2,tun_id=100,tun_src={far},tun_metadata0={theirs},actions=output:1"),
        ]
    };
    let tlv_map = "{class=0xffff,type=0x80,len=4}->tun_metadata0";
    let ofctl = Ofctl::new(of_port)?;
    ofctl.wait_listening(Duration::from_secs(10))?;
    ofctl.run("add-tlv-map", &[tlv_map])?;
    ofctl.add_flows(&flows("198.18.78.2", "0x5d", "0xf5"))?;
    let ovs_gv = ovs.ofctl("ovsgv")?;
    ovs_gv.run("add-tlv-map", &[tlv_map])?;
    ovs_gv.add_flows(&flows("198.18.78.1", "0xf5", "0x5d"))?;
    let mut underlay = Capture::start(&hv, "eth0")?;
    ip(&["addr", "add", "198.18.78.1/24", "dev", &phy_name])?;
    ip(&["link", "set", "dev", &phy_name, "up"])?;

    for (from, to) in [(&a1, &b1), (&a2, &b2)] {
        let up = from.wait_reachable(to.ip(), Duration::from_secs(20))?;
        assert!(
            up,
            "{} cannot reach {}:\n{}",
            from.name(),
            to.name(),
            ovs.log()
        );
        let there = from.ping(to.ip(), 3)?;
        let back = to.ping(from.ip(), 3)?;
        assert!(
            there.all_received() && back.all_received(),
            "{} <-> {}: {there:?} {back:?}",
            from.name(),
            to.name()
        );
    }
    underlay.stop()?;

    // Bad input at switchd's endpoint from the far side: a GENEVE option
    // marked critical that nobody registered (RFC 8926: drop) and GRE
    // version 1; each dropped and counted by reason.
    let sw = Swctl::for_switch(&switch);
    let before = sw.tunnel_counters();
    let dst_mac = craft::link_mac(&phy_name)?;
    let src_mac = craft::parse_mac(&hv.mac()?);
    let inner = {
        let mut f = vec![0u8; 60];
        f[..6].copy_from_slice(&[0xff; 6]);
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f
    };
    // GENEVE: version 0, protocol TEB, VNI 100, and one option of class
    // 0xffff: type 0x81 (critical, not in the TLV map), or the mapped type
    // 0x80 with 8 bytes where the map says 4.
    let geneve = |opt: &[u8]| {
        let mut g = vec![(opt.len() / 4) as u8, 0x00, 0x65, 0x58, 0, 0, 100, 0];
        g.extend_from_slice(opt);
        g.extend_from_slice(&inner);
        g
    };
    let unknown_critical = geneve(&[0xff, 0xff, 0x81, 0x01, 1, 2, 3, 4]);
    let wrong_length = geneve(&[0xff, 0xff, 0x80, 0x02, 1, 2, 3, 4, 5, 6, 7, 8]);
    // GRE: key present, version 1 (PPTP's), protocol TEB.
    let mut gre = vec![0x20, 0x01, 0x65, 0x58, 0, 0, 0, 200];
    gre.extend_from_slice(&inner);
    let (here, there) = ([198, 18, 78, 2], [198, 18, 78, 1]);
    for (frame, why) in [
        (
            craft::ipv4(
                dst_mac,
                src_mac,
                here,
                there,
                17,
                &craft::udp(40000, 6081, &unknown_critical),
            ),
            "pop_geneve_critical",
        ),
        (
            craft::ipv4(
                dst_mac,
                src_mac,
                here,
                there,
                17,
                &craft::udp(40000, 6081, &wrong_length),
            ),
            "pop_geneve_option_length",
        ),
        (
            craft::ipv4(dst_mac, src_mac, here, there, 47, &gre),
            "pop_gre_flags",
        ),
    ] {
        // Open vSwitch owns eth0: send from its LOCAL port's side of the
        // wire instead, the underlay bridge's internal interface.
        craft::send_raw(&hv, "ovsphy", &frame)?;
        sw.wait_tunnel_count_above(why, &before);
    }

    let count = |f: &str| underlay.count(f);
    let option = "geneve.option.class == 0xffff && geneve.option.type == 0x80 \
                  && geneve.flags.critical == 1";
    let geneve_there = count(&format!(
        "ip.src == 198.18.78.1 && geneve.vni == 100 && icmp.type == 8 && {option}"
    ))?;
    let geneve_back = count(&format!(
        "ip.src == 198.18.78.2 && geneve.vni == 100 && icmp.type == 0 && {option}"
    ))?;
    let gre_there = count("ip.src == 198.18.78.1 && gre.key == 200 && icmp.type == 8")?;
    let gre_back = count("ip.src == 198.18.78.2 && gre.key == 200 && icmp.type == 0")?;
    assert!(
        geneve_there >= 3 && geneve_back >= 3 && gre_there >= 3 && gre_back >= 3,
        "GENEVE {geneve_there}/{geneve_back}, GRE {gre_there}/{gre_back} on the underlay:\n{}",
        underlay.summary("!arp && !icmpv6", 40)
    );
    assert_eq!(count("_ws.malformed || _ws.expert.severity == error")?, 0);
    // switchd's flows with the NX fields dump back and counted the pings
    // (each way at least the 3 + 3 echoes of the pings above).
    let dumped = ofctl.dump_flows(None)?;
    assert_eq!(dumped.len(), 2, "{dumped:#?}");
    assert!(dumped.iter().all(|f| f.n_packets >= 6), "{dumped:#?}");
    let text = ofctl.run("dump-flows", &[])?;
    assert!(
        text.contains("tun_id=0x64")
            && text.contains("tun_src=198.18.78.2")
            && text.contains("tun_metadata0=0xf5"),
        "{text}"
    );
    assert!(text.contains("set_field:198.18.78.2->tun_dst"), "{text}");
    assert!(text.contains("set_field:0x5d->tun_metadata0"), "{text}");
    drop(switch);
    Ok(())
}

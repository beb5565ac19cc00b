//! Port mirroring: an analyzer host on a mirror's output port gets exact
//! copies of what two hosts exchange.
//!
//! One topology: hosts a and b talk, host c is the analyzer, all on AF_XDP
//! (native) ports of one learning bridge, tx offload off. The mirror comes
//! from the config file (SPAN: a's traffic both ways to c); tcpdump inside
//! b and c records what each got, and tshark reads both: c's copies equal
//! b's frames byte for byte, in both directions, and the mirror's counters
//! count them. The analyzer's own port takes no part in forwarding. Then
//! through swctl: a VLAN-selected mirror that untagged traffic does not
//! match, a snap length (copies cut to 64 bytes, originals whole), RSPAN
//! (copies tagged with VLAN 20, seen by the analyzer), bad
//! input refused with nothing changed, and the mirrors surviving a restart.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchd_integration::swctl::Swctl;
use switchd_integration::{ip, BridgeConfig, Capture, Error, PortConfig, PortType, Switch, Topo};

/// The mirror's copies, once the revalidator credited them (up to 5 s).
fn wait_tx_packets(swctl: &Swctl, name: &str, at_least: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let all = swctl.json(&["list-mirrors"]);
        let m = all["mirrors"]
            .as_array()
            .and_then(|v| v.iter().find(|m| m["name"] == name).cloned())
            .unwrap_or(Value::Null);
        if m["tx_packets"].as_u64().unwrap_or(0) >= at_least || Instant::now() > deadline {
            return m;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn an_analyzer_gets_exact_copies_and_mirrors_are_managed_and_kept() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(3, "10.0.0.0/24")?;
    for host in &hosts {
        host.set_tx_offload(false)?;
    }
    let (a, b, c) = (&hosts[0], &hosts[1], &hosts[2]);
    let span = format!(
        "[{{ name = \"span\", select_src_port = [\"{0}\"], select_dst_port = [\"{0}\"], \
         output_port = \"{1}\" }}]",
        a.port(),
        c.port()
    );
    let config = BridgeConfig::new("br0")
        .ports(&hosts, PortType::AfXdp)
        .option_on_all_ports("xdp_mode", "native")
        .set("mirror", &span);
    let mut switch = Switch::start(&config.to_toml())?;
    let swctl = Swctl::for_switch(&switch);
    assert!(a.wait_reachable(b.ip(), Duration::from_secs(5))?);

    // SPAN: c sees a's exchange with b, as b saw it.
    let mut at_b = Capture::start(b, "eth0")?;
    let mut at_c = Capture::start(c, "eth0")?;
    let ping = a.ping(b.ip(), 5)?;
    assert!(ping.all_received(), "{ping:?}");
    at_b.stop()?;
    at_c.stop()?;
    let mut seen = at_b.frames("icmp")?;
    let mut copies = at_c.frames("icmp")?;
    assert_eq!(seen.len(), 10, "b saw 5 requests and 5 replies");
    seen.sort();
    copies.sort();
    assert_eq!(copies, seen, "the analyzer's copies equal b's frames");
    let m = wait_tx_packets(&swctl, "span", 10);
    assert!(m["tx_packets"].as_u64() >= Some(10), "{m}");
    assert_eq!(m["active"], true);

    // The analyzer's port forwards nothing.
    let from_c = c.ping(a.ip(), 2)?;
    assert!(
        !from_c.all_received() && from_c.loss_percent() == 100.0,
        "{from_c:?}"
    );

    // A VLAN-selected mirror: untagged traffic is VLAN 0, not 10.
    let out_c = format!("output-port={}", c.port());
    swctl.ok(&[
        "add-mirror",
        "br0",
        "v10",
        "select-all",
        "select-vlan=10",
        &out_c,
    ]);
    swctl.ok(&["del-mirror", "br0", "span"]);
    let mut at_c = Capture::start(c, "eth0")?;
    assert!(a.ping(b.ip(), 2)?.all_received());
    at_c.stop()?;
    assert_eq!(at_c.count("icmp")?, 0, "nothing selected by VLAN 10");
    let v10 = wait_tx_packets(&swctl, "v10", 0);
    assert_eq!(v10["tx_packets"], 0, "{v10}");

    // A snap length: the copies of a's 542-byte requests are cut to 64
    // bytes; b still gets them whole.
    swctl.ok(&["del-mirror", "br0", "v10"]);
    let src_a = format!("select-src-port={}", a.port());
    swctl.ok(&["add-mirror", "br0", "short", &src_a, &out_c, "snaplen=64"]);
    let mut at_b = Capture::start(b, "eth0")?;
    let mut at_c = Capture::start(c, "eth0")?;
    let b_ip = b.ip().to_string();
    a.exec_ok(&[
        "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-s", "500", &b_ip,
    ])?;
    at_b.stop()?;
    at_c.stop()?;
    let from_a = format!("ip.src == {}", a.ip());
    assert_eq!(at_b.count(&format!("{from_a} && frame.len == 542"))?, 3);
    assert_eq!(at_c.count(&format!("{from_a} && frame.len == 64"))?, 3);
    assert_eq!(at_c.count(&format!("{from_a} && frame.len != 64"))?, 0);

    // RSPAN: a's packets, tagged with VLAN 20, to every other port.
    swctl.ok(&["del-mirror", "br0", "short"]);
    swctl.ok(&["add-mirror", "br0", "rspan", &src_a, "output-vlan=20"]);
    let mut at_c = Capture::start(c, "eth0")?;
    let ping = a.ping(b.ip(), 3)?;
    assert!(ping.all_received(), "{ping:?}");
    at_c.stop()?;
    assert_eq!(
        at_c.count("vlan.id == 20 && icmp.type == 8")?,
        3,
        "RSPAN copies of a's requests"
    );
    assert_eq!(at_c.count("icmp && !vlan")?, 0, "only tagged copies");

    // Bad input: refused, nothing changed.
    let before = swctl.json(&["list-mirrors"]);
    let why = swctl.fails(
        &[
            "add-mirror",
            "br0",
            "own",
            &format!("select-src-port={}", c.port()),
            &format!("output-port={}", c.port()),
        ],
        1,
    );
    assert!(why.contains("selects its own output port"), "{why}");
    let why = swctl.fails(
        &[
            "add-mirror",
            "br0",
            "ghost",
            "select-all",
            "output-port=nosuch",
        ],
        1,
    );
    assert!(why.contains("no port \"nosuch\""), "{why}");
    let why = swctl.fails(
        &["add-mirror", "br0", "rspan", "select-all", "output-vlan=30"],
        1,
    );
    assert!(why.contains("already has a mirror"), "{why}");
    let why = swctl.fails(
        &[
            "add-mirror",
            "br0",
            "x",
            "select-all",
            "output-port=a",
            "output-vlan=3",
        ],
        1,
    );
    assert!(why.contains("exactly one"), "{why}");
    let why = swctl.fails(&["del-port", "br0", a.port()], 1);
    assert!(
        why.contains("mirror rspan"),
        "a port a mirror uses stays: {why}"
    );
    swctl.fails(&["add-mirror", "br0", "x", "bogus=1"], 2);
    let after = swctl.json(&["list-mirrors"]);
    let names = |v: &Value| -> Vec<String> {
        v["mirrors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m["name"].to_string())
            .collect()
    };
    assert_eq!(names(&after), names(&before));

    // Kept across a restart.
    switch.restart()?;
    let swctl = Swctl::for_switch(&switch);
    let kept = swctl.json(&["list-mirrors"]);
    assert_eq!(names(&kept), vec!["\"rspan\""], "{kept}");
    Ok(())
}

/// Remote mirroring: a's traffic in ERSPAN type II (its requests) and type
/// III (the replies to it) to an analyzer behind the underlay, which
/// tshark decodes as ERSPAN with the right session, index, hardware id,
/// direction and inner frames.
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn erspan_copies_reach_a_remote_analyzer() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let p = topo.prefix().to_string();
    let a = topo.add_host("a", "10.79.0.1/24")?;
    let b = topo.add_host("b", "10.79.0.2/24")?;
    let hv = topo.add_host("hv", "198.18.79.2/24")?;
    let int = BridgeConfig::new(format!("{p}int"))
        .ports([&a, &b], PortType::AfPacket)
        .port(
            PortConfig::new("er2", PortType::Erspan)
                .option("remote_ip", "198.18.79.2")
                .option("key", "7")
                .option("erspan_idx", "3"),
        )
        .port(
            PortConfig::new("er3", PortType::Erspan)
                .option("remote_ip", "198.18.79.2")
                .option("key", "9")
                .option("erspan_ver", "2")
                .option("erspan_dir", "1")
                .option("erspan_hwid", "5"),
        )
        .set(
            "mirror",
            &format!(
                "[{{ name = \"ii\", select_src_port = [\"{0}\"], output_port = \"er2\" }}, \
                 {{ name = \"iii\", select_dst_port = [\"{0}\"], output_port = \"er3\" }}]",
                a.port()
            ),
        );
    let phy_name = format!("{p}phy");
    let phy = BridgeConfig::underlay(&phy_name, &hv);
    let switch = Switch::start(&BridgeConfig::all_to_toml(&[&int, &phy]))?;
    ip(&["addr", "add", "198.18.79.1/24", "dev", &phy_name])?;
    ip(&["link", "set", "dev", &phy_name, "up"])?;
    let mut underlay = Capture::start(&hv, "eth0")?;
    assert!(a.wait_reachable(b.ip(), Duration::from_secs(5))?);
    // The first copies wait for the far analyzer's ARP reply.
    std::thread::sleep(Duration::from_secs(1));
    let ping = a.ping(b.ip(), 3)?;
    assert!(ping.all_received(), "{ping:?}");
    underlay.stop()?;
    let ii = "erspan.version == 1 && erspan.spanid == 7 && erspan.index == 3 \
              && ip.src == 10.79.0.1 && icmp.type == 8";
    let iii = "erspan.version == 2 && erspan.spanid == 9 && erspan.hw == 5 \
               && erspan.direction == 1 && ip.src == 10.79.0.2 && icmp.type == 0";
    assert!(
        underlay.count(ii)? >= 3,
        "type II copies of a's requests:\n{}",
        underlay.summary("erspan", 10)
    );
    assert!(
        underlay.count(iii)? >= 3,
        "type III copies of the replies to a:\n{}",
        underlay.summary("erspan", 10)
    );
    assert_eq!(underlay.count("_ws.malformed")?, 0);
    let swctl = Swctl::for_switch(&switch);
    let m = wait_tx_packets(&swctl, "ii", 3);
    assert!(m["tx_packets"].as_u64() >= Some(3), "{m}");
    // An erspan port takes only its own options.
    let why = swctl.fails(
        &[
            "add-port",
            &format!("{p}int"),
            "er4",
            "type=erspan",
            "options:remote_ip=198.18.79.2",
            "options:csum=true",
        ],
        1,
    );
    assert!(why.contains("csum"), "{why}");
    Ok(())
}

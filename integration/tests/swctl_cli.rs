//! swctl against a real switchd: every verb, its `--json` form, and bad
//! input.
//!
//! One switchd serves one test that walks through the verbs in the order an
//! operator would use them: look at the switch, add a bridge and a port,
//! set controllers and fail mode, program flows, groups and meters, send
//! traffic between two namespace hosts, read the counters, megaflows and
//! worker stats it left, trace a packet, watch an event, and take it all
//! down again. Every refusal is checked for three things: a non-zero exit,
//! a message that says what and where, and that nothing changed.
//!
//! A second switchd serves the tunnel verbs: the neighbour cache and the
//! tunnel counters of a fresh switch, and operator routes that are added,
//! refused, kept across a restart and deleted.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use switchd_integration::swctl::{swctl_binary, Swctl};
use switchd_integration::{BridgeConfig, Error, PortType, Switch, Topo};

fn bridge_names(sw: &Swctl) -> Vec<String> {
    sw.json(&["list-br"])["bridges"]
        .as_array()
        .expect("bridges")
        .iter()
        .filter_map(|b| b.as_str().map(str::to_owned))
        .collect()
}

/// `show --json`'s entry for one bridge.
fn bridge_json(sw: &Swctl, name: &str) -> Value {
    let shown = sw.json(&["show"]);
    shown["bridges"]
        .as_array()
        .expect("bridges")
        .iter()
        .find(|b| b["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no bridge {name} in {shown}"))
}

fn flow_count(sw: &Swctl, bridge: &str) -> usize {
    sw.json(&["dump-flows", bridge])["flows"]
        .as_array()
        .expect("flows")
        .len()
}

/// The OpenFlow port number of `port` on `bridge`.
fn ofport(sw: &Swctl, bridge: &str, port: &str) -> u64 {
    let desc = sw.json(&["dump-ports-desc", bridge]);
    desc["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == port)
        .and_then(|p| p["ofport"].as_u64())
        .unwrap_or_else(|| panic!("{port} not on {bridge}: {desc}"))
}

/// The caret line under the echoed input points at `token`.
fn assert_caret_under(stderr: &str, token: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    let caret_at = lines
        .iter()
        .position(|l| l.trim_start().starts_with('^'))
        .unwrap_or_else(|| panic!("no caret line in:\n{stderr}"));
    assert!(caret_at > 0, "{stderr}");
    let input = lines[caret_at - 1];
    let column = lines[caret_at].find('^').expect("caret");
    assert!(
        input[column..].starts_with(token),
        "caret at column {column} is not under {token:?}:\n{stderr}"
    );
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn swctl_drives_every_verb_of_a_real_switchd() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(3, "10.61.0.0/24")?;
    let (a, b, c) = (&hosts[0], &hosts[1], &hosts[2]);
    let config = BridgeConfig::new("br0").ports([a, b], PortType::AfPacket);
    let switch = Switch::start(&config.to_toml())?;
    let sw = Swctl::for_switch(&switch);
    // A second bridge named after the topology, so its internal port (a
    // tap in the root namespace) cannot clash with another test's.
    let br1 = format!("{}x", topo.prefix());
    let br1 = br1.as_str();

    // ---- show, list-br; $SWITCHD_SOCKET is honoured ----------------------
    let show = sw.ok(&["show"]);
    assert!(show.contains("Bridge br0"), "{show}");
    assert!(show.contains(a.port()) && show.contains(b.port()), "{show}");
    let by_env = Command::new(&sw.bin)
        .arg("list-br")
        .env("SWITCHD_SOCKET", &sw.socket)
        .output()
        .expect("swctl");
    assert!(by_env.status.success());
    assert_eq!(String::from_utf8_lossy(&by_env.stdout), "br0\n");
    let shown = bridge_json(&sw, "br0");
    assert_eq!(shown["ports"].as_array().map(Vec::len), Some(2), "{shown}");

    // ---- add-br, and the ways it can be refused ---------------------------
    assert_eq!(sw.ok(&["add-br", br1, "--fail-mode", "secure"]), "");
    assert_eq!(bridge_names(&sw), ["br0", br1].map(String::from));
    let e = sw.fails(&["add-br", br1], 1);
    assert!(e.contains(br1), "{e}");
    let e = sw.fails(&["add-br", "averyveryverylongname"], 1);
    assert!(e.contains("averyveryverylongname"), "{e}");
    assert_eq!(bridge_names(&sw).len(), 2);
    assert_eq!(bridge_json(&sw, br1)["fail_mode"], "secure");

    // ---- add-port, list-ports, and refusals -------------------------------
    let setting = "type=afpacket";
    assert_eq!(sw.ok(&["add-port", br1, c.port(), setting]), "");
    assert_eq!(sw.ok(&["list-ports", br1]), format!("{}\n", c.port()));
    assert_eq!(sw.json(&["list-ports", br1])["ports"][0], c.port());
    let e = sw.fails(&["add-port", br1, a.port()], 1);
    assert!(e.contains(a.port()), "duplicate port: {e}");
    let e = sw.fails(
        &["add-port", br1, "p9", "type=afxdp", "options:colour=red"],
        1,
    );
    assert!(e.contains("colour"), "unknown option: {e}");
    let e = sw.fails(&["add-port", br1, "p9", "type=warpdrive"], 1);
    assert!(e.contains("warpdrive"), "unknown type: {e}");
    let e = sw.fails(&["add-port", br1, "p9", "colour=red"], 2);
    assert!(e.contains("colour"), "unknown setting: {e}");
    let e = sw.fails(&["add-port", "nosuchbr", "p9"], 1);
    assert!(e.contains("nosuchbr"), "unknown bridge: {e}");
    assert_eq!(sw.ok(&["list-ports", br1]), format!("{}\n", c.port()));

    // ---- port names cannot reach switchd's own files (hostile probe) ------
    // A vhostuser port named "switchd" once replaced the API socket and
    // locked swctl out. Its socket lives in STATE_DIR/vhost-user/ now.
    let store = switch.state_dir().join("switchd.conf.toml");
    assert_eq!(sw.ok(&["add-port", br1, "switchd", "type=vhostuser"]), "");
    let vsock = switch.vhost_socket("switchd");
    assert!(
        std::fs::symlink_metadata(&vsock).is_ok_and(|m| m.file_type().is_socket()),
        "the port listens on {}",
        vsock.display()
    );
    assert!(
        sw.ok(&["list-ports", br1]).contains("switchd"),
        "the API still answers"
    );
    assert!(store.exists(), "the store is untouched");
    // Something not a socket at a port's path is refused, and kept.
    let planted = switch.vhost_socket("planted");
    std::fs::write(&planted, "not yours").expect("plant a file");
    let e = sw.fails(&["add-port", br1, "planted", "type=vhostuser"], 1);
    assert!(e.contains("not a socket"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&planted).ok().as_deref(),
        Some("not yours")
    );
    // A client port connects only to something that can be a guest's
    // socket, never to switchd's own.
    let client = |path: &str| {
        let opt = format!("options:vhost-server-path={path}");
        sw.fails(&["add-port", br1, "vc", "type=vhostuserclient", &opt], 1)
    };
    let e = client("/etc/passwd");
    assert!(e.contains("not a socket"), "{e}");
    let e = client(&sw.socket.display().to_string());
    assert!(e.contains("state directory"), "{e}");
    let e = client(&vsock.display().to_string());
    assert!(e.contains("state directory"), "{e}");
    // The socket goes with its port.
    assert_eq!(sw.ok(&["del-port", "switchd"]), "");
    assert!(!vsock.exists(), "{} removed with the port", vsock.display());
    assert_eq!(sw.ok(&["list-ports", br1]), format!("{}\n", c.port()));

    // ---- controllers and fail mode -----------------------------------------
    let target = "ptcp:0:127.0.0.1";
    assert_eq!(sw.ok(&["set-controller", br1, target]), "");
    assert_eq!(bridge_json(&sw, br1)["controllers"][0], target);
    let e = sw.fails(&["set-controller", br1, "udp:1.2.3.4"], 1);
    assert!(e.contains("udp:1.2.3.4"), "{e}");
    assert_eq!(bridge_json(&sw, br1)["controllers"][0], target);
    assert_eq!(sw.ok(&["del-controller", br1]), "");
    assert_eq!(bridge_json(&sw, br1)["controllers"], Value::Array(vec![]));
    assert_eq!(sw.ok(&["set-fail-mode", br1, "standalone"]), "");
    assert_eq!(bridge_json(&sw, br1)["fail_mode"], "standalone");
    sw.fails(&["set-fail-mode", br1, "open"], 2);

    // ---- flows on br0: secure, so only the flow table forwards ------------
    sw.ok(&["set-fail-mode", "br0", "secure"]);
    let (pa, pb) = (ofport(&sw, "br0", a.port()), ofport(&sw, "br0", b.port()));
    sw.ok(&[
        "add-flow",
        "br0",
        &format!("priority=10,in_port={pa},actions=output:{pb}"),
    ]);
    sw.ok(&[
        "add-flow",
        "br0",
        &format!("priority=10,in_port={pb},actions=output:{pa}"),
    ]);
    let dir = tempfile::tempdir().map_err(|source| Error::Io {
        what: "tempdir".into(),
        source,
    })?;
    let good = dir.path().join("flows.txt");
    let write = |path: &Path, text: &str| std::fs::write(path, text).expect("writing a flow file");
    write(
        &good,
        "# extra flows\n\npriority=5,ip,nw_dst=10.61.0.99,actions=drop\npriority=1,actions=drop\n\
         priority=4,reg3=0x10/0xf0,tun_src=10.1.0.0/16,actions=drop\n\
         table=5,priority=1,actions=load:0x2a->reg12[],move:reg12[0..7]->reg0[8..15],resubmit(,6),note:aa.bb\n",
    );
    assert_eq!(
        sw.json(&["add-flows", "br0", good.to_str().expect("utf-8")])["flows"],
        4
    );
    assert_eq!(flow_count(&sw, "br0"), 6);
    // Nicira fields and actions in ovs-ofctl's words, printed back the same
    // way (fields of actions under their NXM names, as ovs-ofctl prints them).
    let dump = sw.ok(&["dump-flows", "br0"]);
    assert!(
        dump.contains("reg3=0x10/0xf0,tun_src=10.1.0.0/16"),
        "{dump}"
    );
    assert!(
        dump.contains(
            "load:0x2a->NXM_NX_REG12[],move:NXM_NX_REG12[0..7]->NXM_NX_REG0[8..15],resubmit(,6),note:aa.bb"
        ),
        "{dump}"
    );

    // A malformed flow: exit 1, the token under a caret, nothing added.
    let bad_flow = "priority=7,ip,nw_dsst=10.0.0.1,actions=drop";
    let e = sw.fails(&["add-flow", "br0", bad_flow], 1);
    assert!(e.contains("add-flow br0"), "{e}");
    assert!(e.contains(bad_flow), "the input is echoed: {e}");
    assert_caret_under(&e, "nw_dsst");
    // A bad line in a file: the file, the line, the caret; none are added.
    let bad = dir.path().join("bad.txt");
    write(
        &bad,
        "priority=6,ip,actions=drop\n# two\npriority=6,arp,actions=flod\n",
    );
    let e = sw.fails(&["add-flows", "br0", bad.to_str().expect("utf-8")], 1);
    assert!(e.contains("bad.txt:3"), "{e}");
    assert_caret_under(&e, "flod");
    sw.fails(&["add-flows", "br0", "/nonexistent/flows.txt"], 2);
    assert_eq!(flow_count(&sw, "br0"), 6);
    let e = sw.fails(&["dump-flows", "nosuchbr"], 1);
    assert!(e.contains("nosuchbr"), "{e}");

    // Traffic through the two flows.
    assert!(
        a.wait_reachable(b.ip(), Duration::from_secs(10))?,
        "a cannot reach b"
    );
    let stats = a.ping(b.ip(), 3)?;
    assert!(stats.all_received(), "{stats:?}");

    let dump = sw.ok(&["dump-flows", "br0"]);
    assert!(dump.contains(&format!("in_port={pa}")), "{dump}");
    let flows = sw.json(&["dump-flows", "br0"]);
    let forward = flows["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .find(|f| {
            f["spec"]
                .as_str()
                .is_some_and(|s| s.contains(&format!("in_port={pa},")))
        })
        .unwrap_or_else(|| panic!("no in_port={pa} flow: {flows}"));
    assert!(forward["packets"].as_u64() >= Some(3), "{forward}");
    assert_eq!(forward["priority"], 10);

    // ---- datapath state while the megaflows are fresh ----------------------
    let megaflows = sw.json(&["dpctl/dump-flows", "br0"]);
    let mf = megaflows["flows"].as_array().expect("megaflows");
    assert!(!mf.is_empty(), "no megaflows after a ping: {megaflows}");
    assert!(mf
        .iter()
        .all(|m| m["bridge"] == "br0" && m["match"].is_string()));
    let text = sw.ok(&["dpctl/dump-flows"]);
    assert!(text.contains("br0:") && text.contains("actions:"), "{text}");
    let pmd = sw.json(&["pmd-stats", "br0"]);
    let total = &pmd["bridges"][0]["total"];
    assert!(total["rx_packets"].as_u64() > Some(0), "{pmd}");
    assert!(sw.ok(&["pmd-stats"]).contains("total"));

    let ports = sw.json(&["dump-ports", "br0"]);
    let a_stats = ports["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == a.port())
        .unwrap_or_else(|| panic!("{ports}"));
    assert!(a_stats["rx_packets"].as_u64() >= Some(3), "{a_stats}");
    let table = sw.ok(&["dump-ports", "br0", a.port()]);
    assert!(
        table.starts_with("PORT") && table.contains(a.port()),
        "{table}"
    );
    let desc = sw.ok(&["dump-ports-desc", "br0"]);
    assert!(
        desc.contains(b.port()) && desc.contains("afpacket"),
        "{desc}"
    );

    let flow = format!("in_port={pa},icmp,nw_src={},nw_dst={}", a.ip(), b.ip());
    let trace = sw.json(&["trace", "br0", &flow]);
    assert_eq!(trace["steps"][0]["matched"], true, "{trace}");
    assert!(
        trace["datapath_actions"]
            .as_str()
            .is_some_and(|s| s.contains(&pb.to_string())),
        "{trace}"
    );
    assert!(
        trace["megaflow"].as_str().is_some_and(|s| !s.is_empty()),
        "{trace}"
    );
    let text = sw.ok(&["ofproto/trace", "br0", &flow]);
    assert!(text.contains("Datapath actions:"), "{text}");
    let e = sw.fails(&["trace", "br0", "in_port=1,icmp,nw_dsst=1.2.3.4"], 1);
    assert_caret_under(&e, "nw_dsst");

    // ---- mod-flows, del-flows ----------------------------------------------
    let changed = sw.json(&[
        "mod-flows",
        "br0",
        "--strict",
        &format!("priority=5,ip,nw_dst=10.61.0.99,actions=output:{pb}"),
    ]);
    assert_eq!(changed["flows"], 1, "{changed}");
    let dump = sw.ok(&["dump-flows", "br0"]);
    assert!(
        dump.contains(&format!("nw_dst=10.61.0.99,actions=output:{pb}")),
        "{dump}"
    );
    assert_eq!(
        sw.json(&[
            "del-flows",
            "br0",
            "--strict",
            "priority=5,ip,nw_dst=10.61.0.99"
        ])["flows"],
        1
    );
    assert_eq!(flow_count(&sw, "br0"), 5);

    // ---- groups and meters ----------------------------------------------------
    sw.ok(&[
        "add-group",
        "br0",
        &format!("group_id=1,type=all,bucket=actions=output:{pb}"),
    ]);
    let groups = sw.json(&["dump-groups", "br0"]);
    assert_eq!(groups["groups"][0]["group_id"], 1, "{groups}");
    assert_eq!(groups["groups"][0]["type"], "all", "{groups}");
    assert!(sw.ok(&["dump-groups", "br0"]).contains("GROUP"));
    let e = sw.fails(
        &[
            "add-group",
            "br0",
            "group_id=2,type=sideways,bucket=actions=drop",
        ],
        1,
    );
    assert!(e.contains("sideways"), "{e}");
    sw.ok(&["del-groups", "br0", "1"]);
    assert_eq!(
        sw.json(&["dump-groups", "br0"])["groups"],
        Value::Array(vec![])
    );

    sw.ok(&["add-meter", "br0", "meter=1,kbps,bands=type=drop,rate=1000"]);
    let meters = sw.json(&["dump-meters", "br0"]);
    assert_eq!(meters["meters"][0]["meter_id"], 1, "{meters}");
    assert_eq!(meters["meters"][0]["bands"][0]["rate"], 1000, "{meters}");
    assert!(sw.ok(&["dump-meters", "br0"]).contains("METER"));
    sw.fails(
        &["add-meter", "br0", "meter=2,kbps,bands=type=explode,rate=1"],
        1,
    );
    sw.ok(&["del-meters", "br0"]);
    assert_eq!(
        sw.json(&["dump-meters", "br0"])["meters"],
        Value::Array(vec![])
    );

    // del-flows without a match empties the bridge.
    sw.ok(&["del-flows", "br0"]);
    assert_eq!(flow_count(&sw, "br0"), 0);

    // ---- watch: a port deletion is seen -------------------------------------
    let mut watch = sw
        .command(&["--json", "watch", br1, "--count", "1", "--duration", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("swctl watch");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    let ready: Value =
        serde_json::from_str(&lines.next().expect("a ready line").expect("read")).expect("JSON");
    assert_eq!(ready["type"], "ready", "{ready}");
    // del-port with the bridge left out: swctl finds it.
    assert_eq!(sw.ok(&["del-port", c.port()]), "");
    let event: Value =
        serde_json::from_str(&lines.next().expect("an event line").expect("read")).expect("JSON");
    let status = watch.wait().expect("watch exits after --count 1");
    assert!(status.success(), "{status}");
    assert_eq!(event["type"], "port_status", "{event}");
    assert_eq!(event["bridge"], br1, "{event}");
    assert_eq!(event["reason"], "delete", "{event}");
    assert_eq!(event["port"], c.port(), "{event}");
    assert_eq!(sw.ok(&["list-ports", br1]), "");
    let e = sw.fails(&["del-port", c.port()], 1);
    assert!(e.contains(c.port()), "{e}");

    // ---- del-br -----------------------------------------------------------------
    assert_eq!(sw.ok(&["del-br", br1]), "");
    assert_eq!(bridge_names(&sw), ["br0"]);
    let e = sw.fails(&["del-br", br1], 1);
    assert!(e.contains(br1), "{e}");
    drop(switch);
    Ok(())
}

/// The operator's routes in `route/show --json`.
fn user_routes(sw: &Swctl) -> Vec<Value> {
    let shown = sw.json(&["route/show"]);
    shown["routes"]
        .as_array()
        .unwrap_or_else(|| panic!("routes: {shown}"))
        .iter()
        .filter(|r| r["origin"] == "user")
        .cloned()
        .collect()
}

#[cfg_attr(switchd_not_root, ignore = "needs root (tap devices)")]
#[test]
fn swctl_routes_persist_and_a_fresh_switch_has_no_neighbours() -> Result<(), Error> {
    let Some(topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    // An underlay bridge: its LOCAL port is a tap in the root namespace,
    // so it is named after the topology.
    let phy = format!("{}u", topo.prefix());
    let phy = phy.as_str();
    let config = BridgeConfig::new(phy).set("local_port", "true");
    let mut switch = Switch::start(&config.to_toml())?;
    let sw = Swctl::for_switch(&switch);

    // ---- a fresh switch: no neighbours, no tunnel ports, no drops ----------
    let neigh = sw.json(&["tnl/neigh-show"]);
    assert_eq!(neigh["neighbours"], Value::Array(vec![]), "{neigh}");
    let text = sw.ok(&["tnl/neigh-show"]);
    assert_eq!(text, "BRIDGE  IP  MAC  AGE\n", "only the header");
    assert_eq!(sw.ok(&["tnl/neigh/show"]), text, "Open vSwitch's name");
    assert_eq!(sw.ok(&["tnl/neigh-flush"]), "");
    let tnl = sw.json(&["tnl/show"]);
    assert_eq!(tnl["ports"], Value::Array(vec![]), "{tnl}");
    assert_eq!(tnl["counters"]["no_route"], 0, "{tnl}");
    let text = sw.ok(&["tnl/show"]);
    assert!(
        text.starts_with("no tunnel ports\n") && text.contains("neighbour_miss"),
        "{text}"
    );
    assert!(user_routes(&sw).is_empty());

    // ---- route/add -----------------------------------------------------------
    let full = [
        "route/add",
        "10.62.0.0/24",
        phy,
        "192.0.2.1",
        "src=192.0.2.10",
    ];
    assert_eq!(sw.ok(&full), "", "silent when the route can be used");
    // A dev that is no bridge yet is kept, with a note.
    let note = sw.ok(&["route/add", "fd62::/64", "brlater"]);
    assert!(note.contains("brlater is not a bridge"), "{note}");
    // Adding it again replaces it.
    let mut again = vec!["--json"];
    again.extend_from_slice(&full);
    let added: Value = serde_json::from_str(&sw.ok(&again)).expect("JSON");
    assert_eq!(added["replaced"], true, "{added}");
    assert_eq!(added["warnings"], Value::Array(vec![]), "{added}");
    assert_eq!(added["route"]["gateway"], "192.0.2.1", "{added}");
    let routes = user_routes(&sw);
    assert_eq!(routes.len(), 2, "{routes:?}");
    let r = &routes[0];
    assert_eq!(
        (&r["prefix"], &r["dev"], &r["gateway"], &r["src"]),
        (
            &Value::from("10.62.0.0/24"),
            &Value::from(phy),
            &Value::from("192.0.2.1"),
            &Value::from("192.0.2.10")
        ),
        "{r}"
    );
    assert_eq!(routes[1]["prefix"], "fd62::/64", "{routes:?}");
    assert_eq!(routes[1]["gateway"], Value::Null, "{routes:?}");
    let table = sw.ok(&["route/show"]);
    let line = table
        .lines()
        .find(|l| l.starts_with("10.62.0.0/24"))
        .unwrap_or_else(|| panic!("{table}"));
    for word in [phy, "192.0.2.1", "192.0.2.10", "user"] {
        assert!(line.contains(word), "{word} not in {line:?}");
    }

    // ---- refusals change nothing ------------------------------------------
    let e = sw.fails(&["route/add", "10.0.0.1/24", phy], 1);
    assert!(
        e.contains("10.0.0.1/24") && e.contains("host bits"),
        "names the prefix and the problem: {e}"
    );
    let e = sw.fails(&["route/add", "10.63.0.0/16", phy, "fd00::1"], 1);
    assert!(e.contains("family"), "{e}");
    let e = sw.fails(&["route/add", "10.63.0.0/16", phy, "pkt_mark=1"], 2);
    assert!(e.contains("pkt_mark"), "{e}");
    assert_eq!(user_routes(&sw), routes);

    // ---- a restart keeps them ------------------------------------------------
    let store = switch.state_dir().join("switchd.conf.toml");
    let stored = std::fs::read_to_string(&store).map_err(|source| Error::Io {
        what: format!("reading {}", store.display()),
        source,
    })?;
    assert!(stored.contains("[[route]]"), "{stored}");
    switch.restart()?;
    assert_eq!(user_routes(&sw), routes, "after a restart");

    // ---- route/del -----------------------------------------------------------
    assert_eq!(sw.ok(&["route/del", "10.62.0.0/24"]), "");
    let e = sw.fails(&["route/del", "10.62.0.0/24"], 1);
    assert!(e.contains("no operator route for 10.62.0.0/24"), "{e}");
    sw.fails(&["route/del", "10.0.0.1/24"], 1);
    let left = user_routes(&sw);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["prefix"], "fd62::/64");
    assert_eq!(sw.ok(&["ovs/route/del", "fd62::/64"]), "");
    switch.restart()?;
    assert!(user_routes(&sw).is_empty(), "deletions persist too");

    // ---- tunnel ports, as an operator adds them ------------------------------
    sw.ok(&[
        "add-port",
        phy,
        "vx0",
        "type=vxlan",
        "options:remote_ip=flow",
        "options:key=flow",
    ]);
    sw.ok(&[
        "add-port",
        phy,
        "gre0",
        "type=gre",
        "options:remote_ip=192.0.2.7",
        "options:key=0xfffffffe",
        "options:ttl=inherit",
    ]);
    let tnl = sw.json(&["tnl/show"]);
    let ports = tnl["ports"].as_array().cloned().unwrap_or_default();
    assert_eq!(ports.len(), 2, "{tnl}");
    let vx = ports.iter().find(|p| p["name"] == "vx0").expect("vx0");
    assert_eq!(vx["options"]["remote_ip"], "flow", "{vx}");
    assert_eq!(vx["options"]["dst_port"], "4789", "defaults shown: {vx}");
    // Refusals name the option and what it takes; nothing is added.
    let e = sw.fails(
        &[
            "add-port",
            phy,
            "vx1",
            "type=vxlan",
            "options:remote_ip=flow",
            "options:key=0x1000000",
        ],
        1,
    );
    assert!(e.contains("key") && e.contains("does not fit"), "{e}");
    let e = sw.fails(&["add-port", phy, "vx1", "type=geneve"], 1);
    assert!(e.contains("remote_ip"), "{e}");
    let e = sw.fails(
        &[
            "add-port",
            phy,
            "gre1",
            "type=gre",
            "options:remote_ip=flow",
            "options:dst_port=1",
        ],
        1,
    );
    assert!(e.contains("dst_port"), "{e}");
    assert_eq!(
        sw.json(&["tnl/show"])["ports"].as_array().map(Vec::len),
        Some(2)
    );
    // They are ports of the bridge like any other, and come back.
    switch.restart()?;
    assert_eq!(
        sw.json(&["tnl/show"])["ports"].as_array().map(Vec::len),
        Some(2)
    );
    sw.ok(&["del-port", phy, "vx0"]);
    assert_eq!(
        sw.json(&["tnl/show"])["ports"].as_array().map(Vec::len),
        Some(1)
    );
    drop(switch);
    Ok(())
}

#[test]
fn swctl_without_a_daemon_says_where_it_looked() {
    let bin = swctl_binary();
    let out = Command::new(&bin)
        .args(["--server", "/nonexistent/switchd.sock", "show"])
        .output()
        .expect("swctl");
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/switchd.sock"), "{stderr}");

    // The default is the default state dir's socket.
    let out = Command::new(&bin)
        .arg("show")
        .env_remove("SWITCHD_SOCKET")
        .output()
        .expect("swctl");
    if !Path::new("/var/lib/switchd/switchd.sock").exists() {
        assert_eq!(out.status.code(), Some(3));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("/var/lib/switchd/switchd.sock"), "{stderr}");
    }

    // A bad command line exits 2 before connecting anywhere.
    let out = Command::new(&bin)
        .args(["add-flow", "br0"])
        .output()
        .expect("swctl");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn swctl_prints_shell_completions() {
    let bin = swctl_binary();
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(&bin)
            .args(["completions", shell])
            .output()
            .expect("swctl");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("swctl")
                && script.contains("add-flow")
                && script.contains("dump-ports-desc"),
            "{shell} completion lacks the verbs"
        );
    }
    if Command::new("bash").arg("--version").output().is_ok() {
        let out = Command::new(&bin)
            .args(["completions", "bash"])
            .output()
            .expect("swctl");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("swctl.bash");
        std::fs::write(&file, &out.stdout).expect("write");
        let check = Command::new("bash")
            .arg("-n")
            .arg(&file)
            .output()
            .expect("bash -n");
        assert!(
            check.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

//! Three hypervisors, each a switchd in its own namespace, joined by a full
//! mesh of flow-based VXLAN tunnels (`remote_ip=flow`, `key=flow`) that one
//! os-ken controller programs; two tenants with the same addresses, kept
//! apart by VNI.
//!
//! ```text
//!            ns ctl: osken-manager + integration/osken/overlay.py
//!          172.31.N.1 |  (one management link per hypervisor)
//!  ns hvN: switchd  brint [tNa ofport 1 (VNI 100), tNb ofport 2 (VNI 200), vx0 ofport 10]
//!                   brphy [eth0, LOCAL 192.168.50.N] --- fabric (a kernel bridge)
//!  hosts tNa and tNb: 10.0.0.N in both tenants
//! ```
//!
//! Every same-tenant pair pings; while one tenant pings, the other
//! tenant's hosts capture, and no echo arrives there.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use switchd_integration::{
    ip, BridgeConfig, Capture, Daemon, Error, FailMode, Host, PortConfig, PortType, Switch, Topo,
};

const OF_PORT: u16 = 6653;
const N: usize = 3;

fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn mac(tenant: char, n: usize) -> String {
    format!("02:00:00:00:0{tenant}:0{n}")
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn three_switchd_hypervisors_carry_two_overlapping_tenants_apart() -> Result<(), Error> {
    let Some(manager) = find_program("osken-manager") else {
        eprintln!("skipping: osken-manager not installed (Debian package python3-os-ken)");
        return Ok(());
    };
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let p = topo.prefix().to_string();
    let ctl = topo.add_host("ctl", "172.30.255.1/32")?;
    let mut hvs = Vec::new();
    let mut tenants: Vec<[Host; 2]> = Vec::new();
    for n in 1..=N {
        let hv = topo.add_host(&format!("hv{n}"), &format!("192.168.50.{n}/24"))?;
        let a = topo.add_host(&format!("t{n}a"), &format!("10.0.0.{n}/24"))?;
        let b = topo.add_host(&format!("t{n}b"), &format!("10.0.0.{n}/24"))?;
        for (h, t) in [(&a, 'a'), (&b, 'b')] {
            h.exec_ok(&["ip", "link", "set", "dev", "eth0", "address", &mac(t, n)])?;
            h.exec_ok(&["ip", "link", "set", "dev", "eth0", "mtu", "1450"])?;
            ip(&["link", "set", "dev", h.port(), "netns", hv.netns()])?;
            hv.exec_ok(&["ip", "link", "set", "dev", h.port(), "up"])?;
        }
        // The management link to the controller's namespace.
        ip(&[
            "link",
            "add",
            "name",
            &format!("c{n}"),
            "netns",
            ctl.netns(),
            "type",
            "veth",
            "peer",
            "name",
            "mgmt",
            "netns",
            hv.netns(),
        ])?;
        ctl.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("172.31.{n}.1/24"),
            "dev",
            &format!("c{n}"),
        ])?;
        ctl.exec_ok(&["ip", "link", "set", "dev", &format!("c{n}"), "up"])?;
        hv.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("172.31.{n}.2/24"),
            "dev",
            "mgmt",
        ])?;
        hv.exec_ok(&["ip", "link", "set", "dev", "mgmt", "up"])?;
        // The endpoint address moves to the underlay bridge's LOCAL port.
        hv.exec_ok(&["ip", "addr", "flush", "dev", "eth0"])?;
        hvs.push(hv);
        tenants.push([a, b]);
    }
    topo.add_kernel_bridge(&hvs)?;

    // The controller, with the topology it programs.
    let dir = tempfile::tempdir().map_err(|source| Error::Io {
        what: "a directory for the controller".into(),
        source,
    })?;
    let topo_json = dir.path().join("topo.json");
    let events = dir.path().join("events");
    let hv_json: Vec<String> = (1..=N)
        .map(|n| {
            format!(
                r#"{{"dpid": {n}, "vtep": "192.168.50.{n}", "tenants": {{"100": {{"port": 1, "mac": "{}"}}, "200": {{"port": 2, "mac": "{}"}}}}}}"#,
                mac('a', n),
                mac('b', n)
            )
        })
        .collect();
    let json = format!(
        r#"{{"tunnel_port": 10, "hypervisors": [{}]}}"#,
        hv_json.join(", ")
    );
    std::fs::write(&topo_json, json).map_err(|source| Error::Io {
        what: "writing the topology".into(),
        source,
    })?;
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("osken/overlay.py");
    let log = std::fs::File::create(dir.path().join("osken.log")).map_err(|source| Error::Io {
        what: "the controller's log".into(),
        source,
    })?;
    let mut cmd = ctl.command(&[
        &manager.to_string_lossy(),
        "--ofp-tcp-listen-port",
        &OF_PORT.to_string(),
        &app.to_string_lossy(),
    ]);
    cmd.env("OVERLAY_TOPO", &topo_json)
        .env("OVERLAY_EVENTS", &events)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|source| Error::Io {
            what: "the controller's log".into(),
            source,
        })?)
        .stderr(log);
    let child = cmd.spawn().map_err(|source| Error::Io {
        what: "starting osken-manager".into(),
        source,
    })?;
    let _osken = Daemon::new("osken-manager", child);

    // Three switchd instances, one per hypervisor namespace: the same
    // bridge names and default listener in each, no collision.
    let mut switches = Vec::new();
    for (i, hv) in hvs.iter().enumerate() {
        let n = i + 1;
        let [a, b] = &tenants[i];
        let int = BridgeConfig::new("brint")
            .fail_mode(FailMode::Secure)
            .set("datapath_id", &format!("\"{n:016x}\""))
            .set("controller", &format!("[\"tcp:172.31.{n}.1:{OF_PORT}\"]"))
            .port(PortConfig::for_host(a, PortType::AfPacket).ofport(1))
            .port(PortConfig::for_host(b, PortType::AfPacket).ofport(2))
            .port(
                PortConfig::new("vx0", PortType::Vxlan)
                    .ofport(10)
                    .option("remote_ip", "flow")
                    .option("key", "flow"),
            );
        let phy = BridgeConfig::new("brphy")
            .set("local_port", "true")
            .port(PortConfig::new("eth0", PortType::AfPacket));
        switches.push(Switch::start_in(
            hv.netns(),
            &BridgeConfig::all_to_toml(&[&int, &phy]),
        )?);
        hv.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("192.168.50.{n}/24"),
            "dev",
            "brphy",
        ])?;
        hv.exec_ok(&["ip", "link", "set", "dev", "brphy", "up"])?;
    }

    // Every hypervisor got its flows.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = std::fs::read_to_string(&events).unwrap_or_default();
        if (1..=N).all(|n| ready.lines().any(|l| l == format!("ready {n}"))) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every switch got its flows: {ready:?}\n{}",
            std::fs::read_to_string(dir.path().join("osken.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    for (tenant, other) in [(0, 1), (1, 0)] {
        // The other tenant's hosts listen while this one pings.
        let mut ears = Vec::new();
        for t in &tenants {
            ears.push(Capture::start(&t[other], "eth0")?);
        }
        for i in 0..N {
            for j in 0..N {
                if i == j {
                    continue;
                }
                let (from, to) = (&tenants[i][tenant], &tenants[j][tenant]);
                let reached = from.wait_reachable(to.ip(), Duration::from_secs(15))?;
                assert!(reached, "{} cannot reach {}", from.name(), to.name());
                let stats = from.ping(to.ip(), 2)?;
                assert!(
                    stats.all_received(),
                    "{} -> {}: {stats:?}",
                    from.name(),
                    to.name()
                );
            }
        }
        for (t, ear) in tenants.iter().zip(&mut ears) {
            ear.stop()?;
            let leaked = ear.count("icmp.type == 8 || icmp.type == 0")?;
            assert_eq!(
                leaked,
                0,
                "{} saw the other tenant's pings",
                t[other].name()
            );
        }
    }
    let _ = p;
    drop(switches);
    Ok(())
}

/// Two switchd instances with the default bridge in one namespace: the
/// second is refused with a message that says what collides and how out.
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn a_second_switchd_with_the_same_bridge_name_says_what_collides() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hv = topo.add_host("two", "192.168.51.1/24")?;
    let config = "[[bridge]]\nname = \"br0\"\nlocal_port = true\n";
    let _first = Switch::start_in(hv.netns(), config)?;
    match Switch::start_in(hv.netns(), config) {
        Ok(_) => panic!("a second switchd took the same bridge name"),
        Err(e) => {
            let text = format!("{e:?}");
            assert!(
                text.contains("an interface named br0 already exists")
                    && text.contains("another name"),
                "{text}"
            );
        }
    }
    Ok(())
}

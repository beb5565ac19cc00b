//! os-ken (the maintained Ryu) as switchd's OpenFlow controller.
//!
//! A real third-party controller runs a MAC-learning application
//! (`integration/osken/learning_switch.py`) and switchd connects to it
//! actively (`controller = ["tcp:127.0.0.1:PORT"]`), as a production switch
//! connects to its controller. The one idea: the controller should see a
//! conversation only until it has installed flows for it. The application
//! appends a line per PACKET_IN to a file named by `OSKEN_LS_EVENTS`, so the
//! test can count what reached the controller while it pings, and a passive
//! `ptcp:` listener lets `ovs-ofctl` (if installed) read the flow table and
//! its counters from the side.
//!
//! The three tests: a 4-host learning switch (secure mode) that must stop
//! sending packet-ins once its flows exist; fail modes (standalone forwards
//! before any controller and hands over to the flow table when one connects;
//! secure keeps installed flows and forwards nothing new while the controller
//! is down) and reconnection to a restarted controller; and a master/slave
//! pair of controllers, of which only the master hears about new traffic.
//!
//! The tests skip when not root or when `osken-manager` (Debian package
//! `python3-os-ken`) is missing; the `ovs-ofctl` checks are skipped when
//! `openvswitch-common` is missing.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use switchd_integration::{
    ping_all, BridgeConfig, Daemon, Error, FailMode, Host, PingStats, PortType, Switch, Topo,
};

/// How long switchd may take to reach a freshly started controller: osken
/// needs about a second to start, and switchd's reconnect backoff doubles up
/// to 8 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The learning-switch application, next to this crate's manifest.
fn app_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("osken/learning_switch.py")
}

/// Finds `program` in `$PATH` or the sbin directories.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `count` (at most 4) consecutive TCP ports on 127.0.0.1, derived from this
/// process's PID and `slot` (0 to 3, one per test, as tests of one process
/// run in parallel), that are free right now.
fn free_ports(slot: u16, count: u16) -> Vec<u16> {
    // 2000 blocks of 16 ports in 30000..62000; a test uses 4 of its block.
    let mut block = std::process::id() % 2_000;
    loop {
        let base = 30_000 + u16::try_from(block).unwrap_or(0) * 16 + slot * 4;
        let ports: Vec<u16> = (base..base + count).collect();
        if ports
            .iter()
            .all(|&p| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok())
        {
            return ports;
        }
        block = (block + 1) % 2_000;
    }
}

/// Whether a TCP socket listens on 127.0.0.1:`port` (read from
/// /proc/net/tcp, so the check itself opens no connection).
fn is_listening(port: u16) -> bool {
    let wanted = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ...; st 0A is LISTEN.
            fields.get(1) == Some(&wanted.as_str()) && fields.get(3) == Some(&"0A")
        })
}

/// A running `osken-manager` with the learning-switch app, killed on drop.
struct Controller {
    daemon: Daemon,
    events: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Controller {
    /// Starts the app listening on 127.0.0.1:`port`, with `env` added to
    /// its environment (`OSKEN_LS_ROLE`, ...).
    fn start(manager: &Path, port: u16, env: &[(&str, &str)]) -> Result<Self, Error> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| Error::Io { what, source }
        };
        let dir = tempfile::Builder::new()
            .prefix("switchd-osken-")
            .tempdir()
            .map_err(io("creating the controller's directory"))?;
        let events = dir.path().join("events");
        let log = dir.path().join("osken.log");
        let mut cmd = Command::new(manager);
        cmd.args(["--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port"])
            .arg(port.to_string())
            .arg(app_path())
            .env("OSKEN_LS_EVENTS", &events)
            .envs(env.iter().copied());
        let mut controller = Self {
            daemon: Daemon::spawn_logged("osken-manager", cmd, &log)?,
            events,
            log,
            _dir: dir,
        };
        // Python takes a second or two to start; a switch started before
        // the listener exists would sit in its reconnect backoff.
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while !is_listening(port) {
            if let Some(status) = controller.daemon.try_wait()? {
                return Err(Error::Timeout(format!(
                    "os-ken to listen: osken-manager exited ({status}):\n{}",
                    controller.log_text()
                )));
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "os-ken to listen on port {port}:\n{}",
                    controller.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(controller)
    }

    /// The lines the app recorded so far.
    fn events(&self) -> Vec<String> {
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// PACKET_INs of IPv4 and ARP frames, the traffic the tests make (the
    /// hosts' IPv6 autoconfiguration chatter is not counted).
    fn packet_ins(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|l| {
                l.starts_with("packet_in ")
                    && (l.ends_with("ethertype=0x0800") || l.ends_with("ethertype=0x0806"))
            })
            .collect()
    }

    /// Waits until `n` switch connections have been seen.
    fn wait_connections(&mut self, n: usize) -> Result<(), Error> {
        self.wait_events("features ", n)
    }

    /// Waits until `n` recorded lines start with `prefix`.
    fn wait_events(&mut self, prefix: &str, n: usize) -> Result<(), Error> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while self
            .events()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
            < n
        {
            if let Some(status) = self.daemon.try_wait()? {
                return Err(Error::Timeout(format!(
                    "{prefix:?} #{n}: osken-manager exited ({status}):\n{}",
                    self.log_text()
                )));
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "{prefix:?} #{n} from os-ken:\n{}",
                    self.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Err(e) = self.daemon.terminate() {
            eprintln!("stopping osken-manager: {e}");
        }
        // Shown by the test runner only when the test fails.
        println!("---- osken-manager log ----\n{}", self.log_text());
        println!("---- app events ----\n{}", self.events().join("\n"));
    }
}

/// `osken-manager`, or `None` (after saying why) when the tests cannot run.
fn osken_or_skip() -> Option<PathBuf> {
    if let Some(reason) = switchd_integration::unavailable() {
        eprintln!("skipping: {reason}");
        return None;
    }
    let manager = find_program("osken-manager");
    if manager.is_none() {
        eprintln!("skipping: osken-manager not installed (Debian package python3-os-ken)");
    }
    manager
}

/// `ovs-ofctl -O OpenFlow13 dump-flows TARGET`, or `None` without ovs-ofctl.
fn dump_flows(target: &str) -> Option<String> {
    let ofctl = find_program("ovs-ofctl")?;
    let out = Command::new(ofctl)
        .args(["-O", "OpenFlow13", "dump-flows", target])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "ovs-ofctl dump-flows {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `n_packets` of each flow line with `priority=1` (the app's
/// per-conversation flows).
fn learned_flow_packets(dump: &str) -> Vec<u64> {
    dump.lines()
        .filter(|l| l.contains(" priority=1,"))
        .filter_map(|l| {
            let rest = &l[l.find("n_packets=")? + "n_packets=".len()..];
            rest.split(',').next()?.parse().ok()
        })
        .collect()
}

/// Pings every ordered pair of `hosts` at once, `count` times each.
fn ping_all_parallel(hosts: &[Host], count: u32) -> Vec<(String, String, PingStats)> {
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for from in hosts {
            for to in hosts.iter().filter(|to| to.name() != from.name()) {
                handles.push(scope.spawn(move || {
                    let stats = from.ping(to.ip(), count).expect("ping runs");
                    (from.name().to_owned(), to.name().to_owned(), stats)
                }));
            }
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("ping thread"))
            .collect()
    })
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn osken_learning_switch_gets_packet_ins_only_for_the_first_packets() -> Result<(), Error> {
    let Some(manager) = osken_or_skip() else {
        return Ok(());
    };
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let started = Instant::now();
    let hosts = topo.add_hosts(4, "10.0.0.0/24")?;
    let ports = free_ports(0, 2);
    let (of_port, ptcp_port) = (ports[0], ports[1]);

    let mut controller = Controller::start(&manager, of_port, &[])?;
    let config = BridgeConfig::new("br0")
        .fail_mode(FailMode::Secure)
        .set("datapath_id", "\"0000000000000001\"")
        .set(
            "controller",
            &format!("[\"tcp:127.0.0.1:{of_port}\", \"ptcp:{ptcp_port}:127.0.0.1\"]"),
        )
        .ports(&hosts, PortType::AfPacket);
    let _switch = Switch::start(&config.to_toml())?;
    controller.wait_connections(1)?;

    let failures: Vec<_> = ping_all(&hosts, 2, Duration::from_secs(5))?
        .into_iter()
        .filter(|pair| !pair.stats.all_received())
        .collect();
    assert!(failures.is_empty(), "pairs with loss: {failures:#?}");
    let learned = controller.packet_ins().len();
    assert!(learned > 0, "the app never saw a packet-in");

    // 12 pairs x 20 pings (and as many replies): with the flows in place, the
    // controller must see none of them.
    let pings = 20;
    let lossy: Vec<_> = ping_all_parallel(&hosts, pings)
        .into_iter()
        .filter(|(_, _, stats)| !stats.all_received())
        .collect();
    assert!(lossy.is_empty(), "pairs with loss: {lossy:#?}");
    let after = controller.packet_ins();
    let grew = after.len() - learned;
    println!(
        "packet-ins: {learned} to learn 12 pairs, then {grew} during {} pings",
        12 * pings
    );
    assert!(
        grew <= 4,
        "packet-ins grew by {grew} during the second round:\n{}",
        after[learned..].join("\n")
    );

    // One flow per direction of each pair, all of them used by the second
    // round (counters come from the datapath a little late: poll).
    let target = format!("tcp:127.0.0.1:{ptcp_port}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Some(dump) = dump_flows(&target) {
        let counts = learned_flow_packets(&dump);
        let good = counts.len() >= 12 && counts.iter().all(|&n| n >= u64::from(pings));
        if good {
            println!("learned flows: {counts:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expected 12 learned flows with n_packets >= {pings}, got:\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    println!("elapsed {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Pings `from` -> `to` `count` times after a warm-up.
fn ping_pair(from: &Host, to: &Host, count: u32) -> Result<PingStats, Error> {
    from.wait_reachable(to.ip(), Duration::from_secs(5))?;
    from.ping(to.ip(), count)
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn osken_fail_modes_and_controller_restart() -> Result<(), Error> {
    let Some(manager) = osken_or_skip() else {
        return Ok(());
    };
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let started = Instant::now();
    let hosts = topo.add_hosts(3, "10.0.1.0/24")?;
    let (h1, h2, h3) = (&hosts[0], &hosts[1], &hosts[2]);
    let of_port = free_ports(1, 1)[0];
    let controller_toml = format!("[\"tcp:127.0.0.1:{of_port}\"]");

    // Standalone: a learning switch until a controller connects...
    let config = BridgeConfig::new("br0")
        .fail_mode(FailMode::Standalone)
        .set("controller", &controller_toml)
        .ports(&hosts, PortType::AfPacket);
    let switch = Switch::start(&config.to_toml())?;
    let stats = ping_pair(h1, h2, 2)?;
    assert!(stats.all_received(), "standalone, no controller: {stats:?}");

    // ...then the controller's flows decide: the pair's traffic, cached as
    // NORMAL a moment ago, now reaches the app as packet-ins.
    let mut controller = Controller::start(&manager, of_port, &[])?;
    controller.wait_connections(1)?;
    let stats = ping_pair(h1, h2, 2)?;
    assert!(stats.all_received(), "standalone, controller up: {stats:?}");
    let (mac1, mac2) = (h1.mac()?, h2.mac()?);
    let ipv4_h1_to_h2 = controller
        .packet_ins()
        .iter()
        .any(|l| l.contains(&format!("src={mac1} dst={mac2} ")) && l.ends_with("ethertype=0x0800"));
    assert!(
        ipv4_h1_to_h2,
        "no IPv4 packet-in h1 -> h2 once the controller is up"
    );
    drop(switch);

    // Secure: with the controller gone, installed flows keep forwarding and
    // nothing else passes.
    let config = config.fail_mode(FailMode::Secure);
    let switch = Switch::start(&config.to_toml())?;
    controller.wait_connections(2)?;
    let stats = ping_pair(h1, h2, 2)?;
    assert!(stats.all_received(), "secure, controller up: {stats:?}");
    drop(controller);
    let stats = h1.ping(h2.ip(), 3)?;
    assert!(
        stats.all_received(),
        "secure, controller down, known flow: {stats:?}"
    );
    let stats = h1.ping(h3.ip(), 2)?;
    assert_eq!(
        stats.received, 0,
        "secure, controller down, new flow: {stats:?}"
    );

    // A restarted controller picks the switch up again (switchd reconnects).
    let mut controller = Controller::start(&manager, of_port, &[])?;
    controller.wait_connections(1)?;
    let stats = ping_pair(h1, h3, 2)?;
    assert!(
        stats.all_received(),
        "secure, controller restarted: {stats:?}"
    );
    assert!(!controller.packet_ins().is_empty());
    drop(switch);
    println!("elapsed {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn osken_master_gets_packet_ins_and_slave_does_not() -> Result<(), Error> {
    let Some(manager) = osken_or_skip() else {
        return Ok(());
    };
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let started = Instant::now();
    let hosts = topo.add_hosts(2, "10.0.2.0/24")?;
    let ports = free_ports(2, 2);
    let mut master = Controller::start(&manager, ports[0], &[("OSKEN_LS_ROLE", "master")])?;
    let mut slave = Controller::start(&manager, ports[1], &[("OSKEN_LS_ROLE", "slave")])?;
    let config = BridgeConfig::new("br0")
        .fail_mode(FailMode::Secure)
        .set(
            "controller",
            &format!(
                "[\"tcp:127.0.0.1:{}\", \"tcp:127.0.0.1:{}\"]",
                ports[0], ports[1]
            ),
        )
        .ports(&hosts, PortType::AfPacket);
    let _switch = Switch::start(&config.to_toml())?;
    master.wait_events("role_reply ", 1)?;
    slave.wait_events("role_reply ", 1)?;
    assert!(master.events().iter().any(|l| l.contains(" role=master ")));
    assert!(slave.events().iter().any(|l| l.contains(" role=slave ")));

    // The slave's table-miss flow is refused (it is a slave by then); the
    // master's is installed, and only the master hears about new traffic.
    let stats = ping_pair(&hosts[0], &hosts[1], 2)?;
    assert!(stats.all_received(), "master + slave: {stats:?}");
    assert!(
        !master.packet_ins().is_empty(),
        "the master got no packet-in"
    );
    assert!(
        slave.packet_ins().is_empty(),
        "the slave got packet-ins: {:?}",
        slave.packet_ins()
    );
    println!("elapsed {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

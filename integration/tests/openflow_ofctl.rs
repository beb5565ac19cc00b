//! `ovs-ofctl -O OpenFlow13` driving a real switchd over its passive listener.
//!
//! Open vSwitch's own command-line controller is an independent OpenFlow 1.3
//! implementation: if it can read switchd's replies, program its tables with
//! its own syntax (port *names*, not numbers: it resolves them through the
//! port descriptions and table features switchd reports) and see the effect
//! between real namespace hosts, the switch speaks the protocol the way
//! controllers expect.
//!
//! The one idea: **every check is made twice, once in what the switch says
//! and once in what the hosts see.** A flow that `dump-flows` lists must
//! decide whether a ping gets through, its counters must grow with the
//! traffic that actually crossed, a group's bucket counters must add up to
//! the copies that tcpdump saw, a meter's drop count must match the lost
//! pings.
//!
//! Each test builds its own small topology (2-3 hosts on AF_PACKET ports) and
//! a switchd in `fail_mode = "secure"` (nothing forwards unless a flow says
//! so) with a controller listener on a free loopback port. Rule counters are
//! credited by switchd's revalidator a few times a second, so counters are
//! polled with a deadline rather than read after a fixed sleep.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use switchd_integration::ofctl::{free_tcp_port, ofctl_available, FlowStats, Ofctl};
use switchd_integration::{BridgeConfig, Daemon, Error, FailMode, Host, PortType, Switch, Topo};

/// How long counters may lag traffic (the revalidator runs every ~500 ms).
const COUNTER_DEADLINE: Duration = Duration::from_secs(5);

/// How long a warm-up ping may take to get its first reply.
const WARM_UP: Duration = Duration::from_secs(4);

/// A topology, a secure switchd over it and an `ovs-ofctl` pointed at it.
/// Fields drop in order: the client, the switch, then the namespaces.
struct Lab {
    ofctl: Ofctl,
    switch: Switch,
    hosts: Vec<Host>,
    dpid: u64,
    _topo: Topo,
}

impl Lab {
    /// `count` hosts in `subnet`, or `None` (after saying why) when this
    /// machine cannot run the test.
    fn new(count: u8, subnet: &str) -> Result<Option<Self>, Error> {
        if !ofctl_available() {
            eprintln!("skipping: ovs-ofctl (openvswitch-common) is not installed");
            return Ok(None);
        }
        if !have("tcpdump") {
            eprintln!("skipping: tcpdump is not installed");
            return Ok(None);
        }
        let Some(mut topo) = Topo::new_or_skip()? else {
            return Ok(None);
        };
        let hosts = topo.add_hosts(count, subnet)?;
        let port = free_tcp_port()?;
        // A datapath ID that is not all zeroes and differs between runs.
        let dpid = 0x00ab_0000_0000_0000 | u64::from(std::process::id());
        let config = BridgeConfig::new("br0")
            .fail_mode(FailMode::Secure)
            .set("controller", &format!("[\"ptcp:{port}:127.0.0.1\"]"))
            .set("datapath_id", &format!("\"{dpid:016x}\""))
            .ports(&hosts, PortType::AfPacket);
        let switch = Switch::start(&config.to_toml())?;
        let ofctl = Ofctl::new(port)?;
        ofctl.wait_listening(Duration::from_secs(10))?;
        Ok(Some(Self {
            ofctl,
            switch,
            hosts,
            dpid,
            _topo: topo,
        }))
    }

    /// The switch port (its name, as `ovs-ofctl` takes it) of host `i`.
    fn port(&self, i: usize) -> &str {
        self.hosts[i].port()
    }

    /// Adds `in_port=a -> output:b` and back, at `priority`.
    fn link(&self, a: usize, b: usize, priority: u16) -> Result<(), Error> {
        for (from, to) in [(a, b), (b, a)] {
            self.ofctl.add_flow(&format!(
                "priority={priority},in_port={},actions=output:{}",
                self.port(from),
                self.port(to)
            ))?;
        }
        Ok(())
    }

    /// Whether host `a` gets all of 3 pings to `b` answered (after a warm-up
    /// ping that lets ARP settle).
    fn pings(&self, a: usize, b: usize) -> Result<bool, Error> {
        let (from, to) = (&self.hosts[a], &self.hosts[b]);
        Ok(from.wait_reachable(to.ip(), WARM_UP)? && from.ping(to.ip(), 3)?.all_received())
    }

    /// Whether 2 pings from `a` to `b` all go unanswered.
    fn blocked(&self, a: usize, b: usize) -> Result<bool, Error> {
        Ok(self.hosts[a].ping(self.hosts[b].ip(), 2)?.received == 0)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.switch.is_running() {
            eprintln!("switchd exited during the test");
        }
    }
}

/// Whether `program` is on `$PATH` (or in an sbin directory).
fn have(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .any(|dir| dir.join(program).is_file())
}

/// Polls until `pred` holds or `timeout` passes; returns whether it held.
fn eventually(
    timeout: Duration,
    mut pred: impl FnMut() -> Result<bool, Error>,
) -> Result<bool, Error> {
    let deadline = Instant::now() + timeout;
    loop {
        if pred()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The rule of `flows` whose match is exactly `matching`.
fn rule<'a>(flows: &'a [FlowStats], table: u8, matching: &str) -> Option<&'a FlowStats> {
    flows
        .iter()
        .find(|f| f.table == table && f.matching == matching)
}

/// The value after `key` (`key=N` or `key:N`) in `text`, first occurrence.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The Python interpreter used for small socket programs in the hosts.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").is_file() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// A `tcpdump` in a host, writing one line per matching packet to a file.
struct Capture {
    _daemon: Daemon,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Capture {
    /// Starts capturing `filter` on what arrives at the host's `eth0`, and waits until
    /// tcpdump is listening.
    fn start(host: &Host, filter: &str) -> Result<Self, Error> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| Error::Io { what, source }
        };
        let dir = tempfile::tempdir().map_err(io("creating a capture directory"))?;
        let out = dir.path().join("packets.txt");
        let err = dir.path().join("tcpdump.err");
        let mut cmd = host.command(&["tcpdump", "-i", "eth0", "-Q", "in", "-n", "-l", filter]);
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).map_err(io("creating the capture file"))?)
            .stderr(std::fs::File::create(&err).map_err(io("creating the capture log"))?);
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            command: format!("tcpdump in {}", host.name()),
            source,
        })?;
        let daemon = Daemon::new(format!("tcpdump in {}", host.name()), child);
        let listening = eventually(Duration::from_secs(5), || {
            Ok(std::fs::read_to_string(&err).is_ok_and(|e| e.contains("listening on")))
        })?;
        if !listening {
            return Err(Error::Timeout(format!(
                "tcpdump to listen in {}: {}",
                host.name(),
                std::fs::read_to_string(&err).unwrap_or_default()
            )));
        }
        Ok(Self {
            _daemon: daemon,
            out,
            _dir: dir,
        })
    }

    /// Packets captured so far.
    fn count(&self) -> usize {
        std::fs::read_to_string(&self.out)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Waits until at least `n` packets were captured; returns the count.
    fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while self.count() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.count()
    }
}

/// A TCP server in `host` on `port` that greets and closes each connection.
fn tcp_server(host: &Host, port: u16) -> Result<Daemon, Error> {
    const SERVER: &str = "import socket, sys\n\
        s = socket.socket()\n\
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
        s.bind((sys.argv[1], int(sys.argv[2])))\n\
        s.listen(16)\n\
        while True:\n    c, _ = s.accept()\n    c.sendall(b'hello\\n')\n    c.close()\n";
    let ip = host.ip().to_string();
    let port_arg = port.to_string();
    let daemon = host.spawn(&[python(), "-c", SERVER, &ip, &port_arg])?;
    let filter = format!("sport = :{port}");
    let listening = eventually(Duration::from_secs(5), || {
        Ok(host
            .exec_ok(&["ss", "-H", "-l", "-t", "-n", &filter])
            .is_ok_and(|out| !out.trim().is_empty()))
    })?;
    if !listening {
        return Err(Error::Timeout(format!("a TCP server in {}", host.name())));
    }
    Ok(daemon)
}

/// Whether `from` completes a TCP connection to `ip:port` and reads the
/// server's greeting within 1.5 s.
fn tcp_connects(from: &Host, ip: Ipv4Addr, port: u16) -> Result<bool, Error> {
    const CLIENT: &str = "import socket, sys\n\
        try:\n    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)\n    \
        s.settimeout(1.5)\n    sys.exit(0 if s.recv(16) == b'hello\\n' else 1)\n\
        except OSError:\n    sys.exit(1)\n";
    let out = from.exec(&[python(), "-c", CLIENT, &ip.to_string(), &port.to_string()])?;
    Ok(out.status.success())
}

/// Runs a command through `ovs-ofctl` that must be refused by the switch:
/// non-zero exit, and stderr with the OFPT_ERROR and `code`.
fn refused(ofctl: &Ofctl, cmd: &str, arg: &str, code: &str) -> Result<(), Error> {
    let out = ofctl.output(cmd, &[arg])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "`{cmd} {arg}` should fail, got success; stderr: {stderr}"
    );
    assert!(
        stderr.contains("OFPT_ERROR") && stderr.contains(code),
        "`{cmd} {arg}` should fail with an OFPT_ERROR {code}; stderr: {stderr}"
    );
    Ok(())
}

/// The sorted (table, priority, match, actions) of every rule: what must not
/// change when a request is refused.
fn rule_set(ofctl: &Ofctl) -> Result<Vec<(u8, u16, String, String)>, Error> {
    let mut rules: Vec<_> = ofctl
        .dump_flows(None)?
        .into_iter()
        .map(|f| (f.table, f.priority, f.matching, f.actions))
        .collect();
    rules.sort();
    Ok(rules)
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn ofctl_inspects_the_switch_mods_ports_and_refuses_bad_requests() -> Result<(), Error> {
    let started = Instant::now();
    let Some(lab) = Lab::new(2, "10.0.61.0/24")? else {
        return Ok(());
    };
    let ofctl = &lab.ofctl;
    let (p1, p2) = (lab.port(0), lab.port(1));

    // show: FEATURES_REPLY, the ports by name, GET_CONFIG.
    let show = ofctl.run("show", &[])?;
    assert!(
        show.contains(&format!("dpid:{:016x}", lab.dpid)),
        "show: {show}"
    );
    assert!(show.contains("n_tables:254"), "show: {show}");
    assert!(show.contains(&format!(" 1({p1}): addr:")), "show: {show}");
    assert!(show.contains(&format!(" 2({p2}): addr:")), "show: {show}");
    assert!(
        show.contains("frags=normal miss_send_len="),
        "show has no GET_CONFIG reply: {show}"
    );

    // dump-ports-desc: every port with its real MAC, up and live.
    let desc = ofctl.run("dump-ports-desc", &[])?;
    for (i, host) in lab.hosts.iter().enumerate() {
        let mac = std::fs::read_to_string(format!("/sys/class/net/{}/address", host.port()))
            .map_err(|source| Error::Io {
                what: format!("reading the MAC of {}", host.port()),
                source,
            })?;
        let header = format!(" {}({}): addr:{}", i + 1, host.port(), mac.trim());
        assert!(desc.contains(&header), "no `{header}` in:\n{desc}");
    }
    assert_eq!(desc.matches("state:      LIVE").count(), 2, "{desc}");

    // get-config through get-frags / set-frags (a SET_CONFIG round trip).
    assert_eq!(ofctl.run("get-frags", &[])?.trim(), "normal");
    ofctl.run("set-frags", &["drop"])?;
    assert_eq!(ofctl.run("get-frags", &[])?.trim(), "drop");
    ofctl.run("set-frags", &["normal"])?;

    let dump_desc = ofctl.run("dump-desc", &[])?;
    assert!(dump_desc.contains("DP Description: br0"), "{dump_desc}");

    // dump-table-features: ovs-ofctl must decode all 254 tables.
    let features = ofctl.run("dump-table-features", &[])?;
    let tables = features
        .lines()
        .filter(|l| l.trim_start().starts_with("table ") && l.contains("(\"table"))
        .count();
    assert_eq!(tables, 254, "table features of every table:\n{features}");
    for needle in [
        "table 0 (\"table0\"):",
        "metadata: match=0xffffffffffffffff write=0xffffffffffffffff",
        "max_entries=",
        "next tables: 1-253",
        "goto_table",
        "write_metadata",
        "apply_actions",
        "table 253 (\"table253\"):",
    ] {
        assert!(features.contains(needle), "no `{needle}` in table features");
    }
    // The last table cannot go anywhere.
    let last = features
        .split("table 253 (")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    assert!(
        !last.contains("goto_table") && !last.contains("next tables"),
        "table 253 must not offer goto_table:\n{last}"
    );

    // dump-tables: active counts follow add-flow.
    lab.link(0, 1, 10)?;
    ofctl.add_flow("table=1,priority=5,ip,actions=drop")?;
    let tables = ofctl.dump_tables()?;
    assert_eq!(tables.len(), 254, "{tables:?}");
    assert_eq!(
        (tables[0].active, tables[1].active, tables[2].active),
        (2, 1, 0)
    );
    assert!(lab.pings(0, 1)?, "h1 -> h2 with in_port flows");
    // Table counters are credited by the revalidator, like rule counters.
    let mut after = Vec::new();
    let counted = eventually(COUNTER_DEADLINE, || {
        after = ofctl.dump_tables()?;
        Ok(after
            .first()
            .is_some_and(|t| t.matched >= 8 && t.lookup >= t.matched))
    })?;
    assert!(
        counted,
        "table 0 counters after 8+ pings: {:?}",
        after.first()
    );

    // mod-port no-forward: visible in the description, and output stops
    // (the port's tx counter stands still while h1 pings).
    ofctl.run("mod-port", &[p2, "no-forward"])?;
    let desc = ofctl.run("dump-ports-desc", &[])?;
    assert!(desc.contains("config:     NO_FWD"), "{desc}");
    let tx_before = port_tx(ofctl, p2)?;
    assert!(
        lab.blocked(0, 1)?,
        "no-forward on h2's port must stop h1 -> h2"
    );
    assert_eq!(
        port_tx(ofctl, p2)?,
        tx_before,
        "packets sent out a NO_FWD port"
    );
    ofctl.run("mod-port", &[p2, "forward"])?;
    assert!(
        lab.pings(0, 1)?,
        "forwarding again after `mod-port forward`"
    );

    // no-packet-in and down: flags visible, state follows.
    ofctl.run("mod-port", &[p2, "no-packet-in"])?;
    ofctl.run("mod-port", &[p2, "down"])?;
    let desc = ofctl.run("dump-ports-desc", &[])?;
    assert!(
        desc.contains("config:     PORT_DOWN NO_PACKET_IN"),
        "{desc}"
    );
    assert_eq!(desc.matches("state:      LIVE").count(), 1, "{desc}");
    assert!(lab.blocked(0, 1)?, "a down port forwards nothing");
    ofctl.run("mod-port", &[p2, "up"])?;
    ofctl.run("mod-port", &[p2, "packet-in"])?;
    let desc = ofctl.run("dump-ports-desc", &[])?;
    assert_eq!(desc.matches("config:     0").count(), 2, "{desc}");
    assert!(lab.pings(0, 1)?, "forwarding again after `mod-port up`");

    // Bad requests: an OFPT_ERROR each, and nothing changes.
    ofctl.run(
        "add-group",
        &[&format!("group_id=1,type=all,bucket=output:{p2}")],
    )?;
    ofctl.run("add-meter", &["meter=1,pktps,band=type=drop,rate=100"])?;
    let rules = rule_set(ofctl)?;
    assert_eq!(rules.len(), 3, "{rules:?}");
    let groups = ofctl.run("dump-groups", &[])?;
    let meters = ofctl.run("dump-meters", &[])?;
    refused(
        ofctl,
        "add-flow",
        &format!("priority=50,in_port={p1},actions=group:77"),
        "OFPBAC_BAD_OUT_GROUP",
    )?;
    refused(
        ofctl,
        "add-flow",
        "table=254,priority=50,actions=drop",
        "OFPFMFC_BAD_TABLE_ID",
    )?;
    refused(
        ofctl,
        "add-flow",
        &format!("priority=50,in_port={p1},actions=meter:9,output:{p2}"),
        "OFPMMFC_UNKNOWN_METER",
    )?;
    refused(
        ofctl,
        "add-group",
        &format!("group_id=1,type=all,bucket=output:{p1}"),
        "OFPGMFC_GROUP_EXISTS",
    )?;
    refused(
        ofctl,
        "add-group",
        "group_id=7,type=indirect,bucket=group:99",
        "OFPBAC_BAD_OUT_GROUP",
    )?;
    refused(
        ofctl,
        "add-meter",
        "meter=1,pktps,band=type=drop,rate=5",
        "OFPMMFC_METER_EXISTS",
    )?;
    // ovs-ofctl itself rejects a goto_table the table features forbid.
    let out = ofctl.output("add-flow", &["table=1,priority=1,actions=goto_table:1"])?;
    assert!(
        !out.status.success(),
        "goto_table to the same table accepted"
    );
    assert_eq!(
        rule_set(ofctl)?,
        rules,
        "a refused request changed the flows"
    );
    assert_eq!(ofctl.run("dump-groups", &[])?, groups);
    assert_eq!(ofctl.run("dump-meters", &[])?, meters);
    assert!(
        lab.pings(0, 1)?,
        "still forwarding after the refused requests"
    );

    println!(
        "ofctl inspection/mod-port/bad-input test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The tx packet counter of `port` in `dump-ports`.
fn port_tx(ofctl: &Ofctl, port: &str) -> Result<u64, Error> {
    let ports = ofctl.dump_ports()?;
    ports
        .iter()
        .find(|p| p.port == port)
        .map(|p| p.tx_packets)
        .ok_or_else(|| Error::Parse {
            what: "dump-ports (port missing)",
            output: format!("{ports:?}"),
        })
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn ofctl_flows_decide_forwarding_and_count_the_traffic() -> Result<(), Error> {
    let started = Instant::now();
    let Some(lab) = Lab::new(2, "10.0.62.0/24")? else {
        return Ok(());
    };
    let ofctl = &lab.ofctl;
    let (p1, p2) = (lab.port(0), lab.port(1));

    // Secure mode, empty tables: nothing passes.
    assert!(ofctl.dump_flows(None)?.is_empty());
    assert!(lab.blocked(0, 1)?, "secure switch with no flows forwarded");

    // One direction only: requests reach h2, replies cannot come back.
    let forward = format!("in_port={p1}");
    let back = format!("in_port={p2}");
    ofctl.add_flow(&format!("priority=10,{forward},actions=output:{p2}"))?;
    assert!(lab.blocked(0, 1)?, "ping answered without a return flow");
    ofctl.add_flow(&format!("priority=10,{back},actions=output:{p1}"))?;
    assert!(lab.pings(0, 1)?, "h1 -> h2 with flows both ways");

    // Counters follow the traffic: 10 more pings must show up in both rules
    // and in the aggregate.
    let count = |flows: &[FlowStats], m: &str| rule(flows, 0, m).map_or(0, |f| f.n_packets);
    // The baseline: at least the 4 pings `pings` just sent are credited.
    let (_, before) = ofctl.poll_flows(None, COUNTER_DEADLINE, |flows| {
        count(flows, &forward) >= 4 && count(flows, &back) >= 4
    })?;
    let (fwd0, back0) = (count(&before, &forward), count(&before, &back));
    let stats = lab.hosts[0].ping(lab.hosts[1].ip(), 10)?;
    assert!(stats.all_received(), "{stats:?}");
    let (grew, after) = ofctl.poll_flows(None, COUNTER_DEADLINE, |flows| {
        count(flows, &forward) >= fwd0 + 10 && count(flows, &back) >= back0 + 10
    })?;
    assert!(
        grew,
        "counters did not grow by 10 within {COUNTER_DEADLINE:?}: {after:#?}"
    );
    let f = rule(&after, 0, &forward).expect("forward rule");
    assert!(
        f.n_bytes >= 10 * 98,
        "10 echo requests are at least 980 bytes: {f:?}"
    );
    let (agg_packets, agg_bytes, agg_flows) = ofctl.aggregate(None)?;
    assert_eq!(agg_flows, 2);
    assert!(agg_packets >= after.iter().map(|f| f.n_packets).sum::<u64>());
    assert!(agg_bytes >= after.iter().map(|f| f.n_bytes).sum::<u64>());
    // Every packet a rule forwarded out of h2's port shows in its tx count.
    assert!(
        port_tx(ofctl, p2)? >= f.n_packets,
        "port tx below the rule's count"
    );

    // A higher-priority drop for h2's address wins; removing it with
    // --strict restores forwarding and leaves the rest alone.
    let h2_ip = lab.hosts[1].ip();
    ofctl.add_flow(&format!("priority=100,ip,nw_dst={h2_ip},actions=drop"))?;
    assert!(lab.blocked(0, 1)?, "priority 100 drop did not win");
    ofctl.run(
        "del-flows",
        &["--strict", &format!("priority=100,ip,nw_dst={h2_ip}")],
    )?;
    assert_eq!(ofctl.dump_flows(None)?.len(), 2);
    assert!(lab.pings(0, 1)?, "forwarding after removing the drop rule");

    // del-flows: the tables empty, traffic stops.
    ofctl.del_flows(None)?;
    assert!(ofctl.dump_flows(None)?.is_empty());
    assert_eq!(ofctl.dump_tables()?[0].active, 0);
    assert!(lab.blocked(0, 1)?, "forwarded after del-flows");

    // add-flows from a file: 1000 drop rules for other addresses plus the
    // two forwarding rules.
    let mut flows: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "priority=100,ip,nw_dst=10.1.{}.{},actions=drop",
                i / 250,
                i % 250 + 1
            )
        })
        .collect();
    flows.push(format!("priority=10,{forward},actions=output:{p2}"));
    flows.push(format!("priority=10,{back},actions=output:{p1}"));
    let t = Instant::now();
    ofctl.add_flows(&flows)?;
    let add_time = t.elapsed();
    let t = Instant::now();
    let dumped = ofctl.dump_flows(None)?;
    let dump_time = t.elapsed();
    println!(
        "add-flows of {} rules: {:.0} ms; dump-flows: {:.0} ms",
        flows.len(),
        add_time.as_secs_f64() * 1e3,
        dump_time.as_secs_f64() * 1e3
    );
    assert_eq!(dumped.len(), 1002);
    let drops = dumped
        .iter()
        .filter(|f| {
            f.priority == 100 && f.actions == "drop" && f.matching.starts_with("ip,nw_dst=10.1.")
        })
        .count();
    assert_eq!(drops, 1000);
    assert!(rule(&dumped, 0, "ip,nw_dst=10.1.3.250").is_some());
    assert_eq!(ofctl.dump_tables()?[0].active, 1002);
    assert!(
        lab.pings(0, 1)?,
        "forwarding with 1000 other rules installed"
    );
    // A non-strict delete by prefix takes exactly the 1000.
    ofctl.del_flows(Some("ip,nw_dst=10.1.0.0/16"))?;
    assert_eq!(ofctl.dump_flows(None)?.len(), 2);
    assert!(lab.pings(0, 1)?, "forwarding after deleting the 1000");

    println!(
        "ofctl flows/counters/bulk test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn ofctl_multi_table_pipeline_with_metadata_enforces_the_acl() -> Result<(), Error> {
    let started = Instant::now();
    let Some(lab) = Lab::new(3, "10.0.63.0/24")? else {
        return Ok(());
    };
    let ofctl = &lab.ofctl;
    let h = &lab.hosts;
    let mut flows = Vec::new();
    // Table 0: classify by ingress port into metadata, then table 1.
    for i in 0..3 {
        flows.push(format!(
            "table=0,priority=10,in_port={},actions=write_metadata:{:#x},goto_table:1",
            lab.port(i),
            i + 1
        ));
    }
    // Table 1: the ACL. h1 may not reach TCP port 5001; h3 may not ping.
    flows.push("table=1,priority=100,metadata=0x1,tcp,tp_dst=5001,actions=drop".to_owned());
    flows.push("table=1,priority=100,metadata=0x3,icmp,icmp_type=8,actions=drop".to_owned());
    flows.push("table=1,priority=0,actions=goto_table:2".to_owned());
    // Table 2: forward by destination; h3 (metadata 3) is fenced off h2.
    flows.push(format!(
        "table=2,priority=20,metadata=0x3,ip,nw_dst={},actions=drop",
        h[1].ip()
    ));
    for (i, host) in h.iter().enumerate() {
        flows.push(format!(
            "table=2,priority=10,ip,nw_dst={},actions=output:{}",
            host.ip(),
            lab.port(i)
        ));
        flows.push(format!(
            "table=2,priority=10,arp,arp_tpa={},actions=output:{}",
            host.ip(),
            lab.port(i)
        ));
    }
    ofctl.add_flows(&flows)?;
    let tables = ofctl.dump_tables()?;
    assert_eq!(
        (tables[0].active, tables[1].active, tables[2].active),
        (3, 3, 7),
        "{:?}",
        &tables[..3]
    );

    // ICMP: h1 <-> h2 fine, h3 cannot ping anyone, but h1 can ping h3
    // (the ACL drops echo requests *from* h3 only).
    assert!(lab.pings(0, 1)?, "h1 -> h2 allowed");
    assert!(lab.pings(1, 0)?, "h2 -> h1 allowed");
    assert!(lab.pings(0, 2)?, "h1 -> h3 allowed");
    assert!(lab.blocked(2, 0)?, "h3 -> h1 must be dropped by the ACL");
    assert!(lab.blocked(2, 1)?, "h3 -> h2 must be dropped");

    // TCP: h2 serves on 5001 and 5002, h1 on 5001.
    let _s1 = tcp_server(&h[1], 5001)?;
    let _s2 = tcp_server(&h[1], 5002)?;
    let _s3 = tcp_server(&h[0], 5001)?;
    assert!(
        !tcp_connects(&h[0], h[1].ip(), 5001)?,
        "h1 -> h2:5001 must be dropped"
    );
    assert!(
        tcp_connects(&h[0], h[1].ip(), 5002)?,
        "h1 -> h2:5002 allowed"
    );
    assert!(
        tcp_connects(&h[1], h[0].ip(), 5001)?,
        "h2 -> h1:5001 allowed (ACL is on h1's side)"
    );
    assert!(
        tcp_connects(&h[2], h[0].ip(), 5001)?,
        "h3 -> h1:5001 allowed"
    );
    assert!(
        !tcp_connects(&h[2], h[1].ip(), 5002)?,
        "h3 -> h2 fenced off in table 2"
    );

    // Real TCP throughput through all three tables.
    let server = h[0].iperf3_server()?;
    let gbps = h[2].iperf3_client(&server, 1)?;
    println!("iperf3 h3 -> h1 through the 3-table pipeline: {gbps:.2} Gbit/s");
    assert!(gbps > 0.0);

    // The pipeline's counters saw it: the ACL rules matched the attempts.
    let (ok, flows) = ofctl.poll_flows(Some("table=1"), COUNTER_DEADLINE, |flows| {
        rule(flows, 1, "tcp,metadata=0x1,tp_dst=5001").is_some_and(|f| f.n_packets > 0)
            && rule(flows, 1, "icmp,metadata=0x3,icmp_type=8").is_some_and(|f| f.n_packets >= 4)
    })?;
    assert!(ok, "ACL counters in table 1: {flows:#?}");
    let (ok, flows) = ofctl.poll_flows(Some("table=2"), COUNTER_DEADLINE, |flows| {
        rule(flows, 2, &format!("ip,metadata=0x3,nw_dst={}", h[1].ip()))
            .is_some_and(|f| f.n_packets > 0)
    })?;
    assert!(ok, "fence counter in table 2: {flows:#?}");

    println!(
        "ofctl multi-table pipeline test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `(ref_count, packet_count, per-bucket packet counts)` of group `id` in
/// `dump-group-stats` output.
fn group_stats(text: &str, id: u32) -> Option<(u64, u64, Vec<u64>)> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("group_id={id},")))?;
    let refs = number_after(line, "ref_count=")?;
    let packets = number_after(line, ",packet_count=")?;
    let buckets = line
        .split(",bucket")
        .skip(1)
        .filter_map(|b| number_after(b, "packet_count="))
        .collect();
    Some((refs, packets, buckets))
}

/// An ARP request from 02:00:00:00:00:99 / `spa` for `tpa`, as hex.
fn arp_request_hex(spa: Ipv4Addr, tpa: Ipv4Addr) -> String {
    let mut frame = Vec::with_capacity(42);
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x99]);
    frame.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x99]);
    frame.extend_from_slice(&spa.octets());
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&tpa.octets());
    frame.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `count` UDP datagrams from `from` to `ip:port`, each from its own
/// source port.
fn udp_burst(from: &Host, ip: Ipv4Addr, port: u16, count: u32) -> Result<(), Error> {
    const SENDER: &str = "import socket, sys\n\
        for _ in range(int(sys.argv[3])):\n    \
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    \
        s.sendto(b'x' * 32, (sys.argv[1], int(sys.argv[2])))\n    s.close()\n";
    from.exec_ok(&[
        python(),
        "-c",
        SENDER,
        &ip.to_string(),
        &port.to_string(),
        &count.to_string(),
    ])?;
    Ok(())
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn ofctl_groups_meters_and_packet_out_act_on_real_traffic() -> Result<(), Error> {
    let started = Instant::now();
    let Some(lab) = Lab::new(3, "10.0.64.0/24")? else {
        return Ok(());
    };
    let ofctl = &lab.ofctl;
    let h = &lab.hosts;
    let (p1, p2, p3) = (lab.port(0), lab.port(1), lab.port(2));

    // An ALL group copies everything h1 sends to both h2 and h3.
    ofctl.run(
        "add-group",
        &[&format!(
            "group_id=1,type=all,bucket=output:{p2},bucket=output:{p3}"
        )],
    )?;
    let groups = ofctl.run("dump-groups", &[])?;
    assert!(
        groups.contains(&format!(
            "group_id=1,type=all,bucket=actions=output:{p2},bucket=actions=output:{p3}"
        )),
        "{groups}"
    );
    ofctl.add_flows(&[
        format!("priority=10,in_port={p1},actions=group:1"),
        format!("priority=10,in_port={p2},actions=output:{p1}"),
        format!("priority=10,in_port={p3},actions=output:{p1}"),
    ])?;
    let copies = Capture::start(
        &h[2],
        &format!("icmp[icmptype] == 8 and dst host {}", h[1].ip()),
    )?;
    assert!(lab.pings(0, 1)?, "h1 -> h2 through the ALL group");
    assert!(lab.pings(0, 2)?, "h1 -> h3 through the ALL group");
    let seen = copies.wait_for(4, Duration::from_secs(3));
    assert!(
        seen >= 4,
        "h3 saw {seen} copies of h1's echo requests to h2"
    );
    let mut last = String::new();
    let counted = eventually(COUNTER_DEADLINE, || {
        last = ofctl.run("dump-group-stats", &[])?;
        Ok(
            group_stats(&last, 1).is_some_and(|(refs, packets, buckets)| {
                refs == 1
                    && packets >= 8
                    && buckets.len() == 2
                    && buckets.iter().all(|&b| b == packets)
            }),
        )
    })?;
    assert!(
        counted,
        "ALL group stats (every bucket counts every packet):\n{last}"
    );

    // A select group spreads flows over its buckets by hash: 40 UDP flows
    // from different source ports; what each host received must equal its
    // bucket's counter.
    ofctl.run(
        "add-group",
        &[&format!(
            "group_id=2,type=select,bucket=weight=2,output:{p2},bucket=weight=1,output:{p3}"
        )],
    )?;
    let groups = ofctl.run("dump-groups", &["group_id=2"])?;
    assert!(
        groups.contains(&format!(
            "group_id=2,type=select,bucket=weight:2,actions=output:{p2},bucket=actions=output:{p3}"
        )),
        "{groups}"
    );
    ofctl.add_flow(&format!(
        "priority=20,in_port={p1},udp,tp_dst=9999,actions=group:2"
    ))?;
    let filter = "udp dst port 9999";
    let (at2, at3) = (
        Capture::start(&h[1], filter)?,
        Capture::start(&h[2], filter)?,
    );
    udp_burst(&h[0], h[1].ip(), 9999, 40)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while at2.count() + at3.count() < 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let (c2, c3) = (at2.count() as u64, at3.count() as u64);
    assert_eq!(c2 + c3, 40, "datagrams received by h2 ({c2}) and h3 ({c3})");
    assert!(
        c2 > 0 && c3 > 0,
        "select group used one bucket only: {c2}/{c3}"
    );
    let counted = eventually(COUNTER_DEADLINE, || {
        last = ofctl.run("dump-group-stats", &["group_id=2"])?;
        Ok(group_stats(&last, 2)
            .is_some_and(|(_, packets, buckets)| packets == 40 && buckets == [c2, c3]))
    })?;
    assert!(
        counted,
        "select stats must match what the hosts got ({c2}/{c3}):\n{last}"
    );
    println!("select group: {c2} datagrams to h2 (weight 2), {c3} to h3 (weight 1)");

    // A 10 packet/s meter on h1's pings: a 100 pps ping flood mostly dies.
    ofctl.run("add-meter", &["meter=1,pktps,band=type=drop,rate=10"])?;
    let meters = ofctl.run("dump-meters", &[])?;
    assert!(
        meters.contains("meter=1 pktps") && meters.contains("type=drop rate=10"),
        "{meters}"
    );
    ofctl.add_flow(&format!(
        "priority=30,in_port={p1},icmp,actions=meter:1,output:{p2}"
    ))?;
    let out = h[0].exec(&[
        "ping",
        "-n",
        "-q",
        "-c",
        "100",
        "-i",
        "0.01",
        "-W",
        "1",
        &h[1].ip().to_string(),
    ])?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let received = number_after(&text, "transmitted, ").unwrap_or(u64::MAX);
    let millis = number_after(&text, ", time ").unwrap_or(1000);
    // What 10 pkt/s allows over the run, with slack for the burst
    // tolerance and the replies still in flight at the end.
    let allowed = 10 * (millis + 999) / 1000 + 5;
    println!("meter 10 pkt/s: {received} of 100 pings in {millis} ms answered (allowed {allowed})");
    assert!(
        received >= 1 && received <= allowed,
        "a 10 pkt/s meter let {received} of 100 pings in {millis} ms through: {text}"
    );
    let stats = ofctl.run("meter-stats", &[])?;
    let input = number_after(&stats, "packet_in_count:").unwrap_or(0);
    let dropped = number_after(&stats, "0: packet_count:").unwrap_or(0);
    assert!(stats.contains("meter:1 flow_count:1"), "{stats}");
    assert!(input >= 100, "meter input count {input} < 100:\n{stats}");
    assert!(
        dropped >= 100 - received.min(100) && dropped <= input,
        "meter band drops ({dropped}) must account for the lost pings (100 - {received}):\n{stats}"
    );

    // packet-out: an ARP request the controller writes straight to h2...
    let spa: Ipv4Addr = "10.0.64.99".parse().expect("literal address");
    let frame = arp_request_hex(spa, h[1].ip());
    let arp = format!("arp host {spa}");
    let (at2, at3) = (Capture::start(&h[1], &arp)?, Capture::start(&h[2], &arp)?);
    ofctl.run(
        "packet-out",
        &[&format!(
            "in_port=controller packet={frame} actions=output:{p2}"
        )],
    )?;
    assert_eq!(
        at2.wait_for(1, Duration::from_secs(3)),
        1,
        "h2 did not get the packet-out"
    );
    assert_eq!(at3.count(), 0, "h3 got a packet-out addressed to h2's port");
    // ... and one sent through the tables as if from h1: the ALL group
    // copies it to both.
    ofctl.run(
        "packet-out",
        &[&format!("in_port={p1} packet={frame} actions=table")],
    )?;
    assert_eq!(
        at3.wait_for(1, Duration::from_secs(3)),
        1,
        "h3 missed the packet-out to TABLE"
    );
    assert_eq!(
        at2.wait_for(2, Duration::from_secs(3)),
        2,
        "h2 missed the packet-out to TABLE"
    );

    println!(
        "ofctl groups/meters/packet-out test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn ofctl_monitor_sees_packet_ins_and_flow_removals() -> Result<(), Error> {
    let started = Instant::now();
    let Some(lab) = Lab::new(2, "10.0.65.0/24")? else {
        return Ok(());
    };
    let ofctl = &lab.ofctl;
    let h = &lab.hosts;
    let (p1, p2) = (lab.port(0), lab.port(1));

    // `watch:` asks for a Nicira flow monitor, which switchd refuses with an
    // OFPT_ERROR; the monitor must carry on (as it does after its
    // NXT_SET_PACKET_IN_FORMAT is refused).
    let mut monitor = ofctl.monitor(&["watch:"])?;
    let up = monitor.wait_for("FLOW_MONITOR", 1, Duration::from_secs(5));
    assert!(up, "monitor did not get going:\n{}", monitor.output());
    assert!(
        monitor.is_running(),
        "monitor exited:\n{}",
        monitor.output()
    );

    // actions=controller: every echo request becomes an OFPT_PACKET_IN.
    ofctl.add_flow("priority=10,icmp,actions=controller")?;
    ofctl.add_flow("priority=10,arp,actions=flood")?;
    assert!(
        lab.blocked(0, 1)?,
        "pings answered though sent to the controller"
    );
    let got = monitor.wait_for("OFPT_PACKET_IN", 2, Duration::from_secs(3));
    let out = monitor.output();
    assert!(got, "no packet-ins:\n{out}");
    let matching = format!("nw_src={},nw_dst={}", h[0].ip(), h[1].ip());
    let described = out
        .lines()
        .filter(|l| l.starts_with("icmp,") && l.contains(&matching) && l.contains("icmp_type=8"))
        .count();
    assert!(
        described >= 2,
        "packet-ins do not describe the echo requests:\n{out}"
    );
    assert!(
        out.contains(&format!("in_port={p1} (via action)")),
        "packet-in reason/in_port:\n{out}"
    );

    // no-packet-in on h1's port silences it.
    ofctl.run("mod-port", &[p1, "no-packet-in"])?;
    let before = monitor.count("OFPT_PACKET_IN");
    assert!(lab.blocked(0, 1)?);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        monitor.count("OFPT_PACKET_IN"),
        before,
        "packet-ins from a no-packet-in port:\n{}",
        monitor.output()
    );
    ofctl.run("mod-port", &[p1, "packet-in"])?;

    // A table-miss rule (priority 0, empty match) sending to the controller
    // gives packet-ins with reason no_match, as OpenFlow 1.3 says.
    ofctl.add_flow("priority=0,actions=controller")?;
    let before = monitor.count("(via no_match)");
    udp_burst(&h[0], h[1].ip(), 7, 1)?;
    let missed = monitor.wait_for("(via no_match)", before + 1, Duration::from_secs(3));
    assert!(missed, "no table-miss packet-in:\n{}", monitor.output());

    // A forwarding rule with hard_timeout=2 and send_flow_rem: it forwards
    // until it expires, then reports the traffic it carried.
    ofctl.add_flow(&format!(
        "priority=30,in_port={p1},icmp,send_flow_rem,hard_timeout=2,actions=output:{p2}"
    ))?;
    ofctl.add_flow(&format!("priority=30,in_port={p2},actions=output:{p1}"))?;
    let flows = ofctl.dump_flows(Some("icmp"))?;
    let timed = flows
        .iter()
        .find(|f| f.priority == 30)
        .expect("the timed rule");
    assert_eq!(timed.hard_timeout, Some(2), "{timed:?}");
    assert!(
        timed.flags.iter().any(|f| f == "send_flow_rem"),
        "{timed:?}"
    );
    let stats = h[0].ping(h[1].ip(), 4)?;
    assert!(
        stats.all_received(),
        "pings while the timed rule lives: {stats:?}"
    );
    let removed = monitor.wait_for("OFPT_FLOW_REMOVED", 1, Duration::from_secs(5));
    let out = monitor.output();
    assert!(removed, "no FLOW_REMOVED for hard_timeout=2:\n{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("OFPT_FLOW_REMOVED"))
        .unwrap_or_default();
    assert!(
        line.contains("reason=hard") && line.contains("hard2"),
        "{line}"
    );
    let pkts = number_after(line, " pkts").unwrap_or(0);
    assert!(
        pkts >= 4,
        "FLOW_REMOVED must count the 4 pings it carried: {line}"
    );
    assert!(
        ofctl
            .dump_flows(Some("icmp"))?
            .iter()
            .all(|f| f.priority != 30),
        "expired rule still listed"
    );
    assert!(lab.blocked(0, 1)?, "expired rule still forwards");

    // idle_timeout and delete reasons.
    ofctl.add_flow("priority=40,udp,send_flow_rem,idle_timeout=1,actions=drop")?;
    ofctl.add_flow("priority=40,tcp,send_flow_rem,actions=drop")?;
    ofctl.del_flows(Some("tcp"))?;
    let both = monitor.wait_for("OFPT_FLOW_REMOVED", 3, Duration::from_secs(5));
    let out = monitor.output();
    assert!(both, "FLOW_REMOVED for idle and delete:\n{out}");
    assert!(out.contains("priority=40,udp reason=idle"), "{out}");
    assert!(out.contains("priority=40,tcp reason=delete"), "{out}");
    assert!(monitor.is_running(), "monitor died:\n{out}");

    println!(
        "ofctl monitor test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The switch's stored flow strings, straight from its store file.
fn stored_flows(switch: &Switch) -> String {
    let store = switch.state_dir().join("switchd.conf.toml");
    let text = std::fs::read_to_string(&store).unwrap_or_default();
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("flows"))
        .take_while(|l| !l.trim_start().starts_with(']') || l.contains("flows"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A controller's changes go through the switch's one change path: a
/// delete or modify of a persistent flow is in the store by the time the
/// controller's barrier is answered (ovs-ofctl waits for it), with no API
/// call in between; a controller's own flows are never stored.
#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn a_controller_change_to_a_persistent_flow_reaches_the_store_at_once() -> Result<(), Error> {
    if !ofctl_available() {
        eprintln!("skipping: ovs-ofctl (openvswitch-common) is not installed");
        return Ok(());
    }
    let Some(topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let port = free_tcp_port()?;
    let bridge = format!("{}p", topo.prefix());
    let config = BridgeConfig::new(bridge.as_str())
        .fail_mode(FailMode::Secure)
        .set("controller", &format!("[\"ptcp:{port}:127.0.0.1\"]"))
        .set(
            "flows",
            r#"["priority=5,udp,actions=drop", "priority=6,tcp,actions=drop", "priority=7,icmp,actions=drop"]"#,
        );
    let switch = Switch::start(&config.to_toml())?;
    let ofctl = Ofctl::new(port)?;
    ofctl.wait_listening(Duration::from_secs(10))?;
    let before = stored_flows(&switch);
    for proto in ["udp", "tcp", "icmp"] {
        assert!(before.contains(proto), "stored at start: {before}");
    }

    ofctl.del_flows(Some("tcp"))?;
    ofctl.run("mod-flows", &["udp,actions=output:1"])?;
    ofctl.add_flow("priority=9,arp,actions=drop")?;
    let after = stored_flows(&switch);
    assert!(!after.contains("tcp"), "deleted by the controller: {after}");
    assert!(after.contains("icmp"), "untouched: {after}");
    assert!(
        after.contains("udp") && after.contains("output:1"),
        "modified by the controller: {after}"
    );
    assert!(
        !after.contains("arp"),
        "a controller's flow is not stored: {after}"
    );
    let live = ofctl.dump_flows(None)?;
    assert_eq!(live.len(), 3, "{live:?}");
    Ok(())
}

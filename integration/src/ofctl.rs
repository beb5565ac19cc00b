//! `ovs-ofctl` as a real OpenFlow 1.3 client of switchd.
//!
//! Open vSwitch's command-line controller speaks to any switch with a passive
//! listener (`ptcp:PORT:127.0.0.1` in switchd's configuration): every command
//! opens a connection, negotiates OpenFlow 1.3, resolves port names (it asks
//! for the port descriptions and the table features first) and prints what
//! the switch answers. That makes it an independent check of switchd's codec
//! and request handling, and its textual output a readable record of the
//! pipeline's state.
//!
//! The one idea: **the text is the interface.** [`Ofctl`] runs commands and
//! hands back stdout, or an [`Error::Command`] carrying stderr (where
//! `ovs-ofctl` prints an `OFPT_ERROR` the switch sent); the parsers here
//! ([`parse_dump_flows`], [`parse_dump_ports`]) turn the two dumps tests most
//! often look at into values, and are tested on captured output so a change
//! of format shows up as a unit-test failure rather than a puzzling
//! integration failure. Port names are never turned off (`--no-names` is not
//! used), so tests exercise switchd's port descriptions the way operators do.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::daemon::Daemon;
use crate::run::{describe, find_in_path, output};
use crate::{Error, Result};

/// How long one `ovs-ofctl` command may take (its own `--timeout`).
const COMMAND_TIMEOUT_SECS: u32 = 15;

/// Whether `ovs-ofctl` is installed.
pub fn ofctl_available() -> bool {
    find_in_path("ovs-ofctl").is_some()
}

/// A UDP port on 127.0.0.1 that nothing is bound to right now (the
/// kernel's choice, released before returning): where a test starts a
/// collector.
pub fn free_udp_port() -> Result<u16> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| Error::Io { what, source }
    };
    let socket = std::net::UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .map_err(io("binding 127.0.0.1:0 to find a free UDP port"))?;
    Ok(socket
        .local_addr()
        .map_err(io("reading a bound socket's address"))?
        .port())
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's
/// choice of an ephemeral port, released before returning).
pub fn free_tcp_port() -> Result<u16> {
    let listener =
        TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).map_err(|source| {
            Error::Io {
                what: "binding 127.0.0.1:0 to find a free port".into(),
                source,
            }
        })?;
    let port = listener
        .local_addr()
        .map_err(|source| Error::Io {
            what: "reading a bound socket's address".into(),
            source,
        })?
        .port();
    Ok(port)
}

/// `ovs-ofctl -O OpenFlow13 ... TARGET`, with a private run directory.
#[derive(Debug)]
pub struct Ofctl {
    target: String,
    port: u16,
    /// `OVS_RUNDIR`: `monitor` creates a control socket there.
    rundir: TempDir,
}

impl Ofctl {
    /// A client of the passive listener `tcp:127.0.0.1:port`.
    pub fn new(port: u16) -> Result<Self> {
        Self::with_target(format!("tcp:127.0.0.1:{port}"), port)
    }

    /// A client of Open vSwitch's own management socket `path`
    /// (`BRIDGE.mgmt` in its run directory); no TCP listener to wait for.
    pub fn unix(path: &Path) -> Result<Self> {
        Self::with_target(format!("unix:{}", path.display()), 0)
    }

    fn with_target(target: String, port: u16) -> Result<Self> {
        let rundir = tempfile::Builder::new()
            .prefix("switchd-ofctl-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating an OVS_RUNDIR".into(),
                source,
            })?;
        Ok(Self {
            target,
            port,
            rundir,
        })
    }

    /// The target as `ovs-ofctl` takes it, `tcp:127.0.0.1:PORT` (or
    /// `unix:PATH`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The private directory used as `OVS_RUNDIR` (and for scratch files).
    pub fn dir(&self) -> &Path {
        self.rundir.path()
    }

    /// Waits until the switch accepts TCP connections on its listener.
    pub fn wait_listening(&self, timeout: Duration) -> Result<()> {
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port);
        let deadline = Instant::now() + timeout;
        loop {
            if TcpStream::connect_timeout(&addr.into(), Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!("a listener on {addr}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ovs-ofctl -O OpenFlow13 --timeout=N CMD TARGET ARGS...`, not started.
    pub fn command(&self, cmd: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ovs-ofctl");
        c.env("OVS_RUNDIR", self.rundir.path())
            .arg("-O")
            .arg("OpenFlow13")
            // Names in the output too, not only when it goes to a terminal.
            .arg("--names")
            .arg(format!("--timeout={COMMAND_TIMEOUT_SECS}"))
            .arg(cmd)
            .arg(&self.target)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Runs a command and returns its output whatever its exit status: for
    /// commands that are expected to fail.
    pub fn output(&self, cmd: &str, args: &[&str]) -> Result<Output> {
        output(&mut self.command(cmd, args))
    }

    /// Runs a command; fails (with `ovs-ofctl`'s stderr) unless it succeeds.
    /// Returns stdout.
    pub fn run(&self, cmd: &str, args: &[&str]) -> Result<String> {
        let mut c = self.command(cmd, args);
        let out = output(&mut c)?;
        if !out.status.success() {
            return Err(Error::Command {
                command: describe(&c),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `add-flow TARGET FLOW`.
    pub fn add_flow(&self, flow: &str) -> Result<()> {
        self.run("add-flow", &[flow]).map(drop)
    }

    /// `add-flows TARGET FILE` with `flows` written to a scratch file, one
    /// flow a line.
    pub fn add_flows<S: AsRef<str>>(&self, flows: &[S]) -> Result<()> {
        let path = self.scratch_file("flows.txt");
        let mut text = String::new();
        for flow in flows {
            text.push_str(flow.as_ref());
            text.push('\n');
        }
        std::fs::write(&path, text).map_err(|source| Error::Io {
            what: format!("writing {}", path.display()),
            source,
        })?;
        self.run("add-flows", &[&path.to_string_lossy()]).map(drop)
    }

    /// `del-flows TARGET [MATCH]`.
    pub fn del_flows(&self, matching: Option<&str>) -> Result<()> {
        let args: Vec<&str> = matching.into_iter().collect();
        self.run("del-flows", &args).map(drop)
    }

    /// `dump-flows TARGET [MATCH]`, parsed.
    pub fn dump_flows(&self, matching: Option<&str>) -> Result<Vec<FlowStats>> {
        let args: Vec<&str> = matching.into_iter().collect();
        Ok(parse_dump_flows(&self.run("dump-flows", &args)?))
    }

    /// `dump-ports TARGET`, parsed.
    pub fn dump_ports(&self) -> Result<Vec<PortCounters>> {
        Ok(parse_dump_ports(&self.run("dump-ports", &[])?))
    }

    /// `dump-tables TARGET`, parsed.
    pub fn dump_tables(&self) -> Result<Vec<TableCounters>> {
        Ok(parse_dump_tables(&self.run("dump-tables", &[])?))
    }

    /// `dump-aggregate TARGET [MATCH]`: (packets, bytes, flows).
    pub fn aggregate(&self, matching: Option<&str>) -> Result<(u64, u64, u64)> {
        let args: Vec<&str> = matching.into_iter().collect();
        let text = self.run("dump-aggregate", &args)?;
        let field = |name: &str| {
            text.split_whitespace()
                .find_map(|t| t.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
        };
        match (
            field("packet_count"),
            field("byte_count"),
            field("flow_count"),
        ) {
            (Some(p), Some(b), Some(f)) => Ok((p, b, f)),
            _ => Err(Error::Parse {
                what: "ovs-ofctl dump-aggregate",
                output: text,
            }),
        }
    }

    /// Polls `dump-flows TARGET MATCH` every 100 ms until `pred` holds for
    /// the result (the revalidator credits rule counters periodically, so
    /// counters lag traffic). Returns the last dump, whether or not `pred`
    /// ended up holding.
    pub fn poll_flows(
        &self,
        matching: Option<&str>,
        timeout: Duration,
        mut pred: impl FnMut(&[FlowStats]) -> bool,
    ) -> Result<(bool, Vec<FlowStats>)> {
        let deadline = Instant::now() + timeout;
        loop {
            let flows = self.dump_flows(matching)?;
            if pred(&flows) {
                return Ok((true, flows));
            }
            if Instant::now() >= deadline {
                return Ok((false, flows));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts `ovs-ofctl monitor TARGET ARGS...` in the background, its
    /// output going to a file read by [`Monitor::output`].
    pub fn monitor(&self, args: &[&str]) -> Result<Monitor> {
        let path = self.scratch_file("monitor.log");
        let file = std::fs::File::create(&path).map_err(|source| Error::Io {
            what: format!("creating {}", path.display()),
            source,
        })?;
        let file_err = file.try_clone().map_err(|source| Error::Io {
            what: "duplicating the monitor log fd".into(),
            source,
        })?;
        let mut c = Command::new("ovs-ofctl");
        c.env("OVS_RUNDIR", self.rundir.path())
            .args(["-O", "OpenFlow13", "--names", "monitor", &self.target])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(file_err);
        let child = c.spawn().map_err(|source| Error::Spawn {
            command: describe(&c),
            source,
        })?;
        Ok(Monitor {
            daemon: Daemon::new("ovs-ofctl monitor", child),
            log: path,
        })
    }

    fn scratch_file(&self, name: &str) -> PathBuf {
        self.rundir.path().join(name)
    }
}

/// A background `ovs-ofctl monitor`; killed (by PID) when dropped.
#[derive(Debug)]
pub struct Monitor {
    daemon: Daemon,
    log: PathBuf,
}

impl Monitor {
    /// Everything the monitor printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// How many lines of the output so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.output().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until at least `n` lines contain `needle`; false on timeout.
    pub fn wait_for(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.count(needle) >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the monitor process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.daemon.try_wait(), Ok(None))
    }
}

/// One line of `dump-flows`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStats {
    /// `table=` (switchd names its tables `tableN`; the number is kept).
    pub table: u8,
    /// `priority=`, or the default 32768 when `ovs-ofctl` left it out.
    pub priority: u16,
    /// `n_packets=`.
    pub n_packets: u64,
    /// `n_bytes=`.
    pub n_bytes: u64,
    /// The `cookie=` value.
    pub cookie: u64,
    /// `idle_timeout=` / `hard_timeout=` when shown.
    pub idle_timeout: Option<u32>,
    /// See `idle_timeout`.
    pub hard_timeout: Option<u32>,
    /// Flag words such as `send_flow_rem`.
    pub flags: Vec<String>,
    /// The match without `priority=`, as printed (`in_port=h1,icmp`), empty
    /// for a match-all rule.
    pub matching: String,
    /// The text after `actions=`.
    pub actions: String,
}

/// Fields `ovs-ofctl` prints before the match in a flow-stats line.
const FLOW_STAT_KEYS: &[&str] = &[
    "cookie",
    "duration",
    "table",
    "n_packets",
    "n_bytes",
    "idle_timeout",
    "hard_timeout",
    "importance",
    "idle_age",
    "hard_age",
];

/// Flag words `ovs-ofctl` prints before the match.
const FLOW_FLAGS: &[&str] = &[
    "send_flow_rem",
    "check_overlap",
    "reset_counts",
    "no_packet_counts",
    "no_byte_counts",
];

/// Parses `dump-flows` output (any header lines are skipped).
pub fn parse_dump_flows(text: &str) -> Vec<FlowStats> {
    text.lines().filter_map(parse_flow_line).collect()
}

fn parse_flow_line(line: &str) -> Option<FlowStats> {
    let line = line.trim();
    if !line.starts_with("cookie=") {
        return None;
    }
    let at = line.find(" actions=")?;
    let (head, actions) = (&line[..at], &line[at + " actions=".len()..]);
    let mut flow = FlowStats {
        table: 0,
        priority: 32768,
        n_packets: 0,
        n_bytes: 0,
        cookie: 0,
        idle_timeout: None,
        hard_timeout: None,
        flags: Vec::new(),
        matching: String::new(),
        actions: actions.trim().to_owned(),
    };
    let mut matching = Vec::new();
    for token in head.split([',', ' ']).filter(|t| !t.is_empty()) {
        let (key, value) = token.split_once('=').unwrap_or((token, ""));
        if FLOW_STAT_KEYS.contains(&key) && matching.is_empty() {
            match key {
                // With names, the table shows by name: `table=table1`.
                "table" => flow.table = value.trim_start_matches("table").parse().ok()?,
                "n_packets" => flow.n_packets = value.parse().ok()?,
                "n_bytes" => flow.n_bytes = value.parse().ok()?,
                "cookie" => {
                    flow.cookie = u64::from_str_radix(value.trim_start_matches("0x"), 16).ok()?
                }
                "idle_timeout" => flow.idle_timeout = value.parse().ok(),
                "hard_timeout" => flow.hard_timeout = value.parse().ok(),
                _ => {}
            }
        } else if FLOW_FLAGS.contains(&key) && value.is_empty() && matching.is_empty() {
            flow.flags.push(key.to_owned());
        } else if key == "priority" && matching.is_empty() {
            flow.priority = value.parse().ok()?;
        } else {
            matching.push(token);
        }
    }
    flow.matching = matching.join(",");
    Some(flow)
}

/// One table of `dump-tables`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableCounters {
    /// The table number.
    pub table: u8,
    /// `active=`: rules in the table.
    pub active: u64,
    /// `lookup=`.
    pub lookup: u64,
    /// `matched=`.
    pub matched: u64,
}

/// Parses `dump-tables` output, expanding `tables A...B: ditto` ranges so
/// that entry `i` describes table `i`.
pub fn parse_dump_tables(text: &str) -> Vec<TableCounters> {
    let mut tables: Vec<TableCounters> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(range) = line
            .strip_prefix("tables ")
            .and_then(|r| r.strip_suffix(": ditto"))
        {
            let (Some(first), Some(last)) = range
                .split_once("...")
                .map(|(a, b)| (a.parse::<u8>().ok(), b.parse::<u8>().ok()))
                .unwrap_or((None, None))
            else {
                continue;
            };
            let Some(model) = tables.last().copied() else {
                continue;
            };
            for table in first..=last {
                tables.push(TableCounters { table, ..model });
            }
        } else if let Some(rest) = line.strip_prefix("table ") {
            let Some(Ok(table)) = rest.split([':', ' ']).next().map(str::parse) else {
                continue;
            };
            // A single table like the one before: `table 1: ditto`.
            let model = match tables.last() {
                Some(prev) if rest.ends_with(": ditto") => *prev,
                _ => TableCounters::default(),
            };
            tables.push(TableCounters { table, ..model });
        } else if line.starts_with("active=") {
            if let Some(t) = tables.last_mut() {
                for item in line.split(',') {
                    if let Some((key, value)) = item.trim().split_once('=') {
                        let value = value.parse().unwrap_or(0);
                        match key {
                            "active" => t.active = value,
                            "lookup" => t.lookup = value,
                            "matched" => t.matched = value,
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    tables
}

/// One port of `dump-ports`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// The port as printed: a name, a number or `LOCAL`.
    pub port: String,
    /// `rx pkts=`.
    pub rx_packets: u64,
    /// `rx ... bytes=`.
    pub rx_bytes: u64,
    /// `rx ... drop=`.
    pub rx_dropped: u64,
    /// `tx pkts=`.
    pub tx_packets: u64,
    /// `tx ... bytes=`.
    pub tx_bytes: u64,
    /// `tx ... drop=`.
    pub tx_dropped: u64,
}

/// Parses `dump-ports` output: a `port NAME: rx pkts=...` line followed by a
/// `tx pkts=...` line for each port.
pub fn parse_dump_ports(text: &str) -> Vec<PortCounters> {
    let mut ports: Vec<PortCounters> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("port ") {
            let Some((name, counters)) = rest.split_once(": rx ") else {
                continue;
            };
            let mut port = PortCounters {
                port: name.trim().trim_matches('"').to_owned(),
                ..PortCounters::default()
            };
            let c = parse_counters(counters);
            port.rx_packets = c.0;
            port.rx_bytes = c.1;
            port.rx_dropped = c.2;
            ports.push(port);
        } else if let Some(counters) = line.strip_prefix("tx ") {
            if let Some(port) = ports.last_mut() {
                let c = parse_counters(counters);
                port.tx_packets = c.0;
                port.tx_bytes = c.1;
                port.tx_dropped = c.2;
            }
        }
    }
    ports
}

/// `pkts=1, bytes=2, drop=3, ...` -> (1, 2, 3); `?` (unsupported) is 0.
fn parse_counters(text: &str) -> (u64, u64, u64) {
    let mut out = (0, 0, 0);
    for item in text.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else {
            continue;
        };
        let value = value.parse().unwrap_or(0);
        match key {
            "pkts" => out.0 = value,
            "bytes" => out.1 = value,
            "drop" => out.2 = value,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_lines_are_parsed() {
        let text = "OFPST_FLOW reply (OF1.3) (xid=0x2):\n \
            cookie=0x2a, duration=1.234s, table=table1, n_packets=3, n_bytes=294, priority=10,in_port=swt01h1,icmp actions=output:swt01h2\n \
            cookie=0x0, duration=0.5s, table=0, n_packets=0, n_bytes=0, hard_timeout=2, send_flow_rem priority=5,ip,nw_dst=10.1.0.1 actions=drop\n \
            cookie=0x0, duration=0.1s, table=0, n_packets=7, n_bytes=70, actions=CONTROLLER:65535\n";
        let flows = parse_dump_flows(text);
        assert_eq!(flows.len(), 3);
        assert_eq!(flows[0].cookie, 0x2a);
        assert_eq!(flows[0].table, 1);
        assert_eq!(flows[0].priority, 10);
        assert_eq!((flows[0].n_packets, flows[0].n_bytes), (3, 294));
        assert_eq!(flows[0].matching, "in_port=swt01h1,icmp");
        assert_eq!(flows[0].actions, "output:swt01h2");
        assert_eq!(flows[1].hard_timeout, Some(2));
        assert_eq!(flows[1].flags, vec!["send_flow_rem".to_owned()]);
        assert_eq!(flows[1].matching, "ip,nw_dst=10.1.0.1");
        assert_eq!(flows[2].priority, 32768);
        assert_eq!(flows[2].matching, "");
        assert_eq!(flows[2].actions, "CONTROLLER:65535");
    }

    #[test]
    fn port_counters_are_parsed() {
        let text = "OFPST_PORT reply (OF1.3) (xid=0x2): 2 ports\n  \
            port  swt01h1: rx pkts=5, bytes=378, drop=0, errs=0, frame=0, over=0, crc=0\n           \
            tx pkts=6, bytes=420, drop=1, errs=0, coll=0\n           duration=3.456s\n  \
            port LOCAL: rx pkts=?, bytes=?, drop=?, errs=?, frame=?, over=?, crc=?\n           \
            tx pkts=0, bytes=0, drop=0, errs=0, coll=0\n";
        let ports = parse_dump_ports(text);
        assert_eq!(ports.len(), 2);
        assert_eq!(ports[0].port, "swt01h1");
        assert_eq!((ports[0].rx_packets, ports[0].rx_bytes), (5, 378));
        assert_eq!((ports[0].tx_packets, ports[0].tx_dropped), (6, 1));
        assert_eq!(ports[1].port, "LOCAL");
        assert_eq!(ports[1].rx_packets, 0);
    }

    #[test]
    fn table_counters_are_parsed_and_ditto_expanded() {
        let text = "OFPST_TABLE reply (OF1.3) (xid=0x2):\n  table 0:\n    active=2, lookup=17, matched=9\n\n  \
            table 1: ditto\n  table 2:\n    active=0, lookup=0, matched=0\n\n  tables 3...253: ditto\n";
        let tables = parse_dump_tables(text);
        assert_eq!(tables.len(), 254);
        assert_eq!(
            tables[0],
            TableCounters {
                table: 0,
                active: 2,
                lookup: 17,
                matched: 9
            }
        );
        assert_eq!(
            tables[1],
            TableCounters {
                table: 1,
                ..tables[0]
            }
        );
        assert_eq!(tables[253].table, 253);
        assert_eq!(tables[253].active, 0);
    }

    #[test]
    fn a_free_port_is_bindable() {
        let port = free_tcp_port().expect("a free port");
        assert!(port > 0);
        assert!(TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok());
    }
}

//! The switch's configuration: bridges, their datapath settings and ports,
//! and the operator's routes for tunnel endpoints.
//!
//! TOML, in Open vSwitch's vocabulary (port `type`, string `options`), so
//! that `swctl add-port br0 eth1 type=afxdp options:n_rxq=2` and a config
//! file say the same thing. Validation happens here, before anything is
//! touched: a bad file changes nothing and says what and where.
//!
//! ```toml
//! [[bridge]]
//! name = "br0"
//! fail_mode = "standalone"
//! local_port = true            # an internal (tap) port named like the bridge
//!
//! [bridge.datapath]
//! workers = 1
//!
//! [[bridge.port]]
//! name = "eth1"
//! type = "afxdp"               # afxdp | afpacket | internal | vhostuser | vhostuserclient | vxlan | geneve | gre
//! [bridge.port.options]
//! xdp_mode = "native"          # afxdp: native | generic | auto
//! n_rxq = "1"
//!
//! [[bridge.port]]
//! name = "vm1"                 # a VM; its socket is STATE_DIR/vhost-user/vm1.sock
//! type = "vhostuser"
//!
//! [[bridge.port]]
//! name = "vm2"                 # switchd connects to the VM's socket
//! type = "vhostuserclient"
//! options = { vhost-server-path = "/run/vm2.sock", n_rxq = "2" }  # n_rxq: queue pairs offered
//!
//! [[route]]                    # ovs/route/add: tunnel endpoints in 10.1.0.0/16
//! prefix = "10.1.0.0/16"       # host bits zero; IPv6 too ("fd00::/64")
//! dev = "br-phy"               # the bridge whose LOCAL port the route leaves by
//! gateway = "192.0.2.1"        # optional: the next hop
//! src = "192.0.2.10"           # optional: the outer source address
//! ```
//!
//! A route's `dev` need not be a bridge yet (as in Open vSwitch): it is
//! used once a bridge of that name with a local port exists.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::Path;

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const MAX_NAME_LEN: usize = 15;

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("bridge {bridge}: {message}")]
    Invalid { bridge: String, message: String },
    #[error("route {prefix}: {message}")]
    Route { prefix: String, message: String },
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub bridge: Vec<BridgeConfig>,
    /// The operator's routes for tunnel endpoints (`swctl route/add`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteConfig>,
}

/// One operator route (Open vSwitch's `ovs/route/add PREFIX DEV [GW]
/// [src=IP]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// `a.b.c.d/len` or `ipv6/len` with the host bits zero; a bare
    /// address is a host route.
    pub prefix: String,
    /// The bridge whose LOCAL port the route leaves by.
    pub dev: String,
    /// The next hop (none: the far endpoint is on the link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// The outer source address (none: the LOCAL port's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
}

impl RouteConfig {
    /// The network and length of `prefix`.
    pub fn network(&self) -> Result<(IpAddr, u8), String> {
        ofproto::tunnel::parse_prefix(&self.prefix)
    }

    /// The route the tunnel plane installs for this entry; the error says
    /// what is wrong with it. This is the one check of a route, for the
    /// configuration file, the store and the API alike.
    pub fn to_route(&self) -> Result<ofproto::tunnel::Route, String> {
        let (prefix, len) = self.network()?;
        check_name(&self.dev).map_err(|e| format!("dev: {e}"))?;
        for (what, a) in [("gateway", self.gateway), ("src", self.src)] {
            let Some(a) = a else { continue };
            if a.is_ipv4() != prefix.is_ipv4() {
                return Err(format!(
                    "{what} {a} is not of the prefix's family (IPv{})",
                    if prefix.is_ipv4() { 4 } else { 6 }
                ));
            }
            if a.is_unspecified() || a.is_multicast() {
                return Err(format!("{what} {a} is not a unicast address"));
            }
        }
        Ok(ofproto::tunnel::Route {
            prefix,
            len,
            dev: self.dev.clone(),
            gateway: self.gateway,
            src: self.src,
            metric: 0,
            origin: ofproto::tunnel::Origin::User,
        })
    }
}

/// What a bridge does when it has no controller.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Act as a learning switch.
    #[default]
    Standalone,
    /// Forward nothing but what the flow table says.
    Secure,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    pub name: String,
    #[serde(default)]
    pub fail_mode: FailMode,
    /// Create the bridge's internal port (a tap named like the bridge).
    #[serde(default)]
    pub local_port: bool,
    #[serde(default)]
    pub datapath: DatapathConfig,
    /// OpenFlow controller targets: `tcp:HOST[:PORT]`, `ssl:HOST[:PORT]`
    /// (active), `ptcp:[PORT][:IP]`, `pssl:[PORT][:IP]` (listeners).
    #[serde(default)]
    pub controller: Vec<String>,
    /// PACKET_INs per second each controller connection may receive
    /// (Open vSwitch's `controller_rate_limit`); unset: 1,000; 0: no limit.
    /// The rest are not sent, and are counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_rate_limit: Option<u32>,
    /// PACKET_INs a connection may receive at once (unset: the rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_burst_limit: Option<u32>,
    /// Datapath id as 16 hex digits (default: derived from the name).
    #[serde(default)]
    pub datapath_id: Option<String>,
    /// TLS identity for ssl:/pssl: targets.
    #[serde(default)]
    pub ssl: Option<SslConfig>,
    #[serde(default)]
    pub port: Vec<PortConfig>,
    /// OpenFlow flows restored at start (added through the API as
    /// persistent), in ovs-ofctl add-flow syntax.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<String>,
    /// Groups restored at start, in ovs-ofctl add-group syntax.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Meters restored at start, in ovs-ofctl add-meter syntax.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub meters: Vec<String>,
    /// Port mirrors ([`crate::mirror`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirror: Vec<crate::mirror::MirrorConfig>,
    /// The sFlow agent ([`crate::sflow`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sflow: Option<crate::sflow::SflowSection>,
    /// The IPFIX exporter ([`crate::ipfix`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipfix: Option<crate::ipfix::IpfixSection>,
    /// Collector sets for the OpenFlow `sample` action ([`crate::ipfix`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collector_set: Vec<crate::ipfix::CollectorSetSection>,
}

/// The switch's TLS identity (PEM files), as `ovs-vsctl set-ssl` takes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SslConfig {
    pub private_key: std::path::PathBuf,
    pub certificate: std::path::PathBuf,
    pub ca_certificate: std::path::PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatapathConfig {
    /// Workers of this bridge's datapath; worker `i` runs on the switch's
    /// PMD thread `i`, shared with the other bridges' worker `i`.
    pub workers: usize,
    pub emc_entries: usize,
    pub emc_insert_inv_prob: u32,
    pub upcalls_per_sec: u32,
    /// Most of a worker's time spent translating new flows, in percent.
    pub upcall_cpu_percent: u32,
    /// "roundrobin" or "load".
    pub rxq_assign: String,
    /// Seconds an unused megaflow stays installed.
    pub max_idle_secs: u64,
    /// MAC learning aging time in seconds.
    pub mac_aging_secs: u64,
}

impl Default for DatapathConfig {
    fn default() -> Self {
        let d = datapath::dpif::DpifConfig::default();
        DatapathConfig {
            workers: d.workers,
            emc_entries: d.emc_entries,
            emc_insert_inv_prob: d.emc_insert_inv_prob,
            upcalls_per_sec: d.upcalls_per_sec,
            upcall_cpu_percent: d.upcall_cpu_percent,
            rxq_assign: "roundrobin".into(),
            max_idle_secs: 10,
            mac_aging_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PortKind,
    /// Requested port number (else the lowest free).
    #[serde(default)]
    pub ofport: Option<u32>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Egress QoS ([`crate::qos`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<crate::qos::QosSection>,
    /// Ingress policing ([`crate::qos`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_policing: Option<crate::qos::PolicingSection>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PortKind {
    Afxdp,
    Afpacket,
    Internal,
    /// vhost-user, switchd listening on STATE_DIR/vhost-user/NAME.sock.
    Vhostuser,
    /// vhost-user, switchd connecting to `vhost-server-path`.
    Vhostuserclient,
    /// Native tunnels (`ofproto::tunnel`).
    Vxlan,
    Geneve,
    Gre,
    /// ERSPAN (remote mirroring), transmit only.
    Erspan,
}

impl BridgeConfig {
    /// The packet-in limit of each controller connection (None: none).
    pub fn packet_in_limit(&self) -> Option<ofproto::conn::limit::PacketInRate> {
        let rate = self.controller_rate_limit.unwrap_or(1000);
        (rate > 0).then(|| ofproto::conn::limit::PacketInRate {
            rate,
            burst: self.controller_burst_limit.unwrap_or(rate).max(1),
        })
    }
}

impl Config {
    /// The configuration switchd runs with when given none: one bridge, br0,
    /// a learning switch with its internal port.
    pub fn default_switch() -> Config {
        Config {
            bridge: vec![BridgeConfig {
                name: "br0".into(),
                fail_mode: FailMode::Standalone,
                local_port: true,
                datapath: DatapathConfig::default(),
                controller: vec!["ptcp:6653:127.0.0.1".into()],
                controller_rate_limit: None,
                controller_burst_limit: None,
                datapath_id: None,
                ssl: None,
                port: Vec::new(),
                flows: Vec::new(),
                groups: Vec::new(),
                meters: Vec::new(),
                mirror: Vec::new(),
                sflow: None,
                ipfix: None,
                collector_set: Vec::new(),
            }],
            route: Vec::new(),
        }
    }

    /// Parse and validate TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Check names, numbers and options, and the routes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_bridges()?;
        self.validate_routes()
    }

    /// Each route well-formed, each prefix once.
    fn validate_routes(&self) -> Result<(), ConfigError> {
        let mut prefixes = HashSet::new();
        for r in &self.route {
            let bad = |message: String| ConfigError::Route {
                prefix: r.prefix.clone(),
                message,
            };
            let route = r.to_route().map_err(bad)?;
            if !prefixes.insert((route.prefix, route.len)) {
                return Err(bad("route defined twice".into()));
            }
        }
        Ok(())
    }

    fn validate_bridges(&self) -> Result<(), ConfigError> {
        let mut bridges = HashSet::new();
        let mut all_ports = HashSet::new();
        for b in &self.bridge {
            let bad = |message: String| ConfigError::Invalid {
                bridge: b.name.clone(),
                message,
            };
            check_name(&b.name).map_err(&bad)?;
            if !bridges.insert(b.name.as_str()) {
                return Err(bad("bridge defined twice".into()));
            }
            if b.local_port && !all_ports.insert(b.name.as_str()) {
                return Err(bad("local port name already used by a port".into()));
            }
            if let Some(id) = &b.datapath_id {
                if id.len() != 16 || u64::from_str_radix(id, 16).is_err() {
                    return Err(bad(format!("datapath_id {id:?} must be 16 hex digits")));
                }
            }
            if b.controller_burst_limit == Some(0) {
                return Err(bad("controller_burst_limit must be at least 1".into()));
            }
            for c in &b.controller {
                let t: Result<ofproto::conn::target::Target, _> = c.parse();
                match t {
                    Err(e) => return Err(bad(format!("controller {c:?}: {e}"))),
                    Ok(t) if t.is_tls() && b.ssl.is_none() => {
                        return Err(bad(format!("controller {c:?} needs [bridge.ssl]")))
                    }
                    Ok(_) => {}
                }
            }
            let d = &b.datapath;
            if d.workers == 0 || d.workers > 64 {
                return Err(bad(format!("datapath.workers = {} (1..=64)", d.workers)));
            }
            if !(1..=100).contains(&d.upcall_cpu_percent) {
                return Err(bad(format!(
                    "datapath.upcall_cpu_percent = {} (1..=100)",
                    d.upcall_cpu_percent
                )));
            }
            if !matches!(d.rxq_assign.as_str(), "roundrobin" | "load") {
                return Err(bad(format!(
                    "datapath.rxq_assign = {:?} (roundrobin | load)",
                    d.rxq_assign
                )));
            }
            let mut numbers = HashSet::new();
            for p in &b.port {
                let bad = |m: String| bad(format!("port {}: {m}", p.name));
                check_name(&p.name).map_err(&bad)?;
                if !all_ports.insert(p.name.as_str()) {
                    return Err(bad("port defined twice".into()));
                }
                if let Some(n) = p.ofport {
                    if n == 0 || n >= 0xff00 {
                        return Err(bad(format!("ofport {n} out of range (1..65279)")));
                    }
                    if !numbers.insert(n) {
                        return Err(bad(format!("ofport {n} used twice")));
                    }
                }
                crate::port_type::by_kind(p.kind).check(p).map_err(&bad)?;
                let qos = |e: String| bad(format!("port {}: {e}", p.name));
                let tunnel = crate::port_type::by_kind(p.kind).tunnel.is_some();
                if tunnel && p.ingress_policing.is_some() {
                    return Err(qos(
                        "a tunnel port's packets arrive through its underlay port: \
                         police that one"
                            .into(),
                    ));
                }
                if let Some(q) = &p.qos {
                    q.to_spec().map_err(qos)?;
                }
                if let Some(i) = &p.ingress_policing {
                    i.to_spec().map_err(qos)?;
                }
            }
            let mut ports: Vec<&str> = b.port.iter().map(|p| p.name.as_str()).collect();
            if b.local_port {
                ports.push(&b.name);
            }
            if let Some(sf) = &b.sflow {
                sf.to_config().map_err(&bad)?;
            }
            if let Some(i) = &b.ipfix {
                i.to_config().map_err(&bad)?;
            }
            let mut sets = HashSet::new();
            for c in &b.collector_set {
                c.to_config().map_err(&bad)?;
                if !sets.insert(c.id) {
                    return Err(bad(format!("collector set {} defined twice", c.id)));
                }
            }
            let mut mirrors = HashSet::new();
            for m in &b.mirror {
                m.check(&ports).map_err(&bad)?;
                if !mirrors.insert(m.name.as_str()) {
                    return Err(bad(format!("mirror {} defined twice", m.name)));
                }
            }
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "name {name:?} must be 1 to {MAX_NAME_LEN} bytes long"
        ));
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        return Err(format!(
            "name {name:?} may hold only letters, digits, '-', '_', '.'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let text = r#"
            [[bridge]]
            name = "br0"
            [bridge.datapath]
            workers = 2
            [[bridge.port]]
            name = "eth1"
            type = "afxdp"
            [bridge.port.options]
            xdp_mode = "native"
        "#;
        let c = Config::parse(text, "test").unwrap();
        assert_eq!(c.bridge[0].datapath.workers, 2);
        assert_eq!(c.bridge[0].port[0].kind, PortKind::Afxdp);
        assert_eq!(c.bridge[0].fail_mode, FailMode::Standalone);
    }

    #[test]
    fn bad_configs_say_what_and_where() {
        let cases = [
            ("[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"a\"\ntype = \"bogus\"", "bogus"),
            ("[[bridge]]\nname = \"averyveryverylongname\"", "1 to 15"),
            ("[[bridge]]\nname = \"b\"\n[[bridge.port]]\nname = \"a\"\ntype = \"afpacket\"\n[[bridge.port]]\nname = \"a\"\ntype = \"afpacket\"", "defined twice"),
            ("[[bridge]]\nname = \"b\"\n[[bridge.port]]\nname = \"a\"\ntype = \"afxdp\"\noptions = { xdp_mode = \"fast\" }", "xdp_mode"),
            ("[[bridge]]\nname = \"b\"\n[[bridge.port]]\nname = \"a\"\ntype = \"afpacket\"\noptions = { mtu = \"1\" }", "unknown option"),
            ("[[bridge]]\nname = \"b\"\n[bridge.datapath]\nworkers = 0", "workers"),
            ("[[bridge]]\nname = \"b\"\n[bridge.datapath]\nupcall_cpu_percent = 0", "upcall_cpu_percent"),
            ("[[bridge]]\nname = \"b\"\nsurprise = 1", "surprise"),
            ("[[bridge]]\nname = \"b\"\n[[bridge.collector_set]]\nid = 1\ntargets = [\"127.0.0.1:9\"]\n[[bridge.collector_set]]\nid = 1\ntargets = [\"127.0.0.1:9\"]", "collector set 1 defined twice"),
            ("[[bridge]]\nname = \"b\"\n[[bridge.collector_set]]\nid = 2\ntargets = []", "collector set 2"),
            ("[[bridge]]\nname = \"b\"\n[[bridge.port]]\nname = \"t\"\ntype = \"vxlan\"\noptions = { remote_ip = \"10.0.0.2\" }\ningress_policing = { rate = 1000 }", "underlay"),
            ("[[bridge]]\nname = \"b\"\ncontroller = [\"udp:1.2.3.4\"]", "controller"),
            ("[[bridge]]\nname = \"b\"\ncontroller = [\"ssl:1.2.3.4:6653\"]", "ssl"),
            ("[[bridge]]\nname = \"b\"\ndatapath_id = \"12\"", "datapath_id"),
            ("[[bridge]]\nname = \"b\"\n[[bridge.port]]\nname = \"vm\"\ntype = \"vhostuserclient\"", "vhost-server-path"),
            ("[[bridge]]\nname = \"b\"\n[[bridge.port]]\nname = \"vm\"\ntype = \"vhostuser\"\noptions = { mtu = \"9\" }", "mtu"),
        ];
        for (text, needle) in cases {
            let e = Config::parse(text, "f.toml").unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} should mention {needle:?}");
        }
    }

    #[test]
    fn vhost_user_ports_parse() {
        let text = r#"
            [[bridge]]
            name = "br0"
            [[bridge.port]]
            name = "vm1"
            type = "vhostuser"
            [[bridge.port]]
            name = "vm2"
            type = "vhostuserclient"
            options = { vhost-server-path = "/run/vm2.sock", mtu = "9000" }
        "#;
        let c = Config::parse(text, "test").unwrap();
        assert_eq!(c.bridge[0].port[0].kind, PortKind::Vhostuser);
        assert_eq!(c.bridge[0].port[1].kind, PortKind::Vhostuserclient);
        assert_eq!(
            c.bridge[0].port[1].options["vhost-server-path"],
            "/run/vm2.sock"
        );
    }

    #[test]
    fn routes_parse_and_round_trip() {
        let text = r#"
            [[bridge]]
            name = "br-phy"
            local_port = true

            [[route]]
            prefix = "10.1.0.0/16"
            dev = "br-phy"
            gateway = "192.0.2.1"
            src = "192.0.2.10"

            [[route]]
            prefix = "fd00::/64"
            dev = "br-later"

            [[route]]
            prefix = "198.51.100.7"
            dev = "br-phy"
        "#;
        let c = Config::parse(text, "test").unwrap();
        assert_eq!(c.route.len(), 3);
        let r = c.route[0].to_route().unwrap();
        assert_eq!(
            (r.prefix, r.len, r.dev.as_str()),
            ("10.1.0.0".parse().unwrap(), 16, "br-phy")
        );
        assert_eq!(r.gateway, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(r.src, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(r.origin, ofproto::tunnel::Origin::User);
        // A dev that is no bridge (yet) is allowed, as in Open vSwitch.
        assert_eq!(c.route[1].to_route().unwrap().len, 64);
        // A bare address is a host route.
        assert_eq!(c.route[2].to_route().unwrap().len, 32);
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::parse(&text, "rt").unwrap(), c);
        // No routes: no [[route]] written.
        assert!(!toml::to_string(&Config::default_switch())
            .unwrap()
            .contains("route"));
    }

    #[test]
    fn bad_routes_say_what_and_which() {
        let route = |body: &str| format!("[[route]]\n{body}");
        let cases = [
            (
                route("prefix = \"10.0.0.1/24\"\ndev = \"br0\""),
                "host bits",
            ),
            (route("prefix = \"10.0.0.0/33\"\ndev = \"br0\""), "0..=32"),
            (route("prefix = \"ten/8\"\ndev = \"br0\""), "not an address"),
            (route("prefix = \"10.0.0.0/8\"\ndev = \"\""), "dev"),
            (route("prefix = \"10.0.0.0/8\"\ndev = \"a/b\""), "dev"),
            (
                route("prefix = \"10.0.0.0/8\"\ndev = \"br0\"\ngateway = \"fd00::1\""),
                "gateway fd00::1 is not of the prefix's family",
            ),
            (
                route("prefix = \"fd00::/64\"\ndev = \"br0\"\nsrc = \"10.0.0.1\""),
                "src 10.0.0.1",
            ),
            (
                route("prefix = \"10.0.0.0/8\"\ndev = \"br0\"\ngateway = \"0.0.0.0\""),
                "unicast",
            ),
            (
                route("prefix = \"10.0.0.0/8\"\ndev = \"br0\"\ngateway = \"10.0.0\""),
                "gateway",
            ),
            (
                route("prefix = \"10.0.0.0/8\"\ndev = \"br0\"\nmetric = 5"),
                "metric",
            ),
            (route("dev = \"br0\""), "prefix"),
            (
                format!(
                    "{}\n{}",
                    route("prefix = \"10.0.0.0/8\"\ndev = \"br0\""),
                    route("prefix = \"10.0.0.0/8\"\ndev = \"br1\"")
                ),
                "defined twice",
            ),
        ];
        for (text, needle) in cases {
            let e = Config::parse(&text, "f.toml").unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} should mention {needle:?}");
        }
        // The error names the route.
        let e = Config::parse(&route("prefix = \"10.0.0.1/24\"\ndev = \"br0\""), "f")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("route 10.0.0.1/24: "), "{e}");
    }

    #[test]
    fn default_switch_is_valid_and_round_trips() {
        let c = Config::default_switch();
        c.validate().unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::parse(&text, "rt").unwrap(), c);
    }
}

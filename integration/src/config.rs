//! switchd configuration files, written from tests.
//!
//! switchd reads TOML: one `[[bridge]]` table per bridge, with a
//! `[bridge.datapath]` table and one `[[bridge.port]]` per port whose
//! `options` are a string map in Open vSwitch's manner. [`BridgeConfig`]
//! builds one bridge and renders it; several bridges are simply concatenated.
//! The one idea: tests describe ports by the [`Host`]s they connect, so port
//! names never get typed by hand, and anything this builder does not know yet
//! (controllers, tunnels) goes in with [`BridgeConfig::set`] as raw TOML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::host::Host;

/// How a switch port reaches its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortType {
    /// An AF_PACKET socket on an existing interface.
    AfPacket,
    /// An AF_XDP socket (and its XDP program) on an existing interface.
    AfXdp,
    /// A tap device the switch creates, for the host stack.
    Internal,
    /// Native tunnels: no interface, options say where to.
    Vxlan,
    Geneve,
    Gre,
    Erspan,
}

impl PortType {
    /// The `type` value in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AfPacket => "afpacket",
            Self::AfXdp => "afxdp",
            Self::Internal => "internal",
            Self::Vxlan => "vxlan",
            Self::Geneve => "geneve",
            Self::Gre => "gre",
            Self::Erspan => "erspan",
        }
    }
}

/// What a bridge does when no controller tells it otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Act as a MAC-learning switch.
    Standalone,
    /// Forward nothing but what the flow table says.
    Secure,
}

impl FailMode {
    /// The `fail_mode` value in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standalone => "standalone",
            Self::Secure => "secure",
        }
    }
}

/// One `[[bridge.port]]`.
#[derive(Debug, Clone)]
pub struct PortConfig {
    name: String,
    port_type: PortType,
    ofport: Option<u32>,
    options: BTreeMap<String, String>,
}

impl PortConfig {
    /// A port on the root-namespace interface `name`.
    pub fn new(name: impl Into<String>, port_type: PortType) -> Self {
        Self {
            name: name.into(),
            port_type,
            ofport: None,
            options: BTreeMap::new(),
        }
    }

    /// A port on the switch side of `host`'s link.
    pub fn for_host(host: &Host, port_type: PortType) -> Self {
        Self::new(host.port(), port_type)
    }

    /// Asks for OpenFlow port number `n`.
    pub fn ofport(mut self, n: u32) -> Self {
        self.ofport = Some(n);
        self
    }

    /// Sets `options.key = value`.
    pub fn option(mut self, key: &str, value: &str) -> Self {
        self.options.insert(key.to_owned(), value.to_owned());
        self
    }
}

/// One `[[bridge]]` with its datapath settings and ports.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    name: String,
    fail_mode: FailMode,
    workers: u32,
    raw: Vec<(String, String)>,
    ports: Vec<PortConfig>,
}

impl BridgeConfig {
    /// A standalone (learning) bridge with one datapath worker and no ports.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            fail_mode: FailMode::Standalone,
            workers: 1,
            raw: Vec::new(),
            ports: Vec::new(),
        }
    }

    /// A tunnel underlay bridge: its LOCAL port (a tap named like the
    /// bridge, where the test puts the endpoint address) and `uplink`'s
    /// link as an AF_PACKET port.
    pub fn underlay(name: impl Into<String>, uplink: &Host) -> Self {
        Self::new(name)
            .set("local_port", "true")
            .port(PortConfig::for_host(uplink, PortType::AfPacket))
    }

    /// Several bridges in one configuration file.
    pub fn all_to_toml(bridges: &[&BridgeConfig]) -> String {
        bridges
            .iter()
            .map(|b| b.to_toml())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sets `fail_mode`.
    pub fn fail_mode(mut self, mode: FailMode) -> Self {
        self.fail_mode = mode;
        self
    }

    /// Sets `datapath.workers`.
    pub fn workers(mut self, workers: u32) -> Self {
        self.workers = workers;
        self
    }

    /// Sets bridge key `key` to `toml_value`, written verbatim (so strings
    /// need their quotes: `.set("controller", "\"tcp:127.0.0.1:6653\"")`).
    pub fn set(mut self, key: &str, toml_value: &str) -> Self {
        self.raw.push((key.to_owned(), toml_value.to_owned()));
        self
    }

    /// Adds one port.
    pub fn port(mut self, port: PortConfig) -> Self {
        self.ports.push(port);
        self
    }

    /// Adds a port of type `port_type` for each host, in order.
    pub fn ports<'a>(mut self, hosts: impl IntoIterator<Item = &'a Host>, ty: PortType) -> Self {
        self.ports
            .extend(hosts.into_iter().map(|h| PortConfig::for_host(h, ty)));
        self
    }

    /// Sets `options.key = value` on every port added so far.
    pub fn option_on_all_ports(mut self, key: &str, value: &str) -> Self {
        for port in &mut self.ports {
            port.options.insert(key.to_owned(), value.to_owned());
        }
        self
    }

    /// Renders this bridge as TOML.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_toml(&mut out);
        out
    }

    fn write_toml(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "[[bridge]]")?;
        writeln!(out, "name = {}", quote(&self.name))?;
        writeln!(out, "fail_mode = {}", quote(self.fail_mode.as_str()))?;
        for (key, value) in &self.raw {
            writeln!(out, "{key} = {value}")?;
        }
        writeln!(out, "\n[bridge.datapath]\nworkers = {}", self.workers)?;
        for port in &self.ports {
            writeln!(out, "\n[[bridge.port]]")?;
            writeln!(out, "name = {}", quote(&port.name))?;
            writeln!(out, "type = {}", quote(port.port_type.as_str()))?;
            if let Some(n) = port.ofport {
                writeln!(out, "ofport = {n}")?;
            }
            if !port.options.is_empty() {
                writeln!(out, "[bridge.port.options]")?;
                for (key, value) in &port.options {
                    writeln!(out, "{} = {}", quote(key), quote(value))?;
                }
            }
        }
        Ok(())
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_shape() {
        let toml = BridgeConfig::new("br0")
            .port(PortConfig::new("swtabc1", PortType::AfPacket))
            .port(PortConfig::new("swtabc2", PortType::AfXdp).option("xdp_mode", "generic"))
            .to_toml();
        let expected = "[[bridge]]\nname = \"br0\"\nfail_mode = \"standalone\"\n\n\
                        [bridge.datapath]\nworkers = 1\n\n\
                        [[bridge.port]]\nname = \"swtabc1\"\ntype = \"afpacket\"\n\n\
                        [[bridge.port]]\nname = \"swtabc2\"\ntype = \"afxdp\"\n\
                        [bridge.port.options]\n\"xdp_mode\" = \"generic\"\n";
        assert_eq!(toml, expected);
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }
}

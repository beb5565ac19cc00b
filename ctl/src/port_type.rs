//! The port types switchd knows, in one table.
//!
//! A port type is a name (`type=afxdp`), the options it takes, each with
//! its help text and its check, and how a port of that type is opened.
//! The configuration's validation, the API's parsing of a type name, the
//! bridge opening a port and the error messages that list what is allowed
//! all read [`PORT_TYPES`]. The one idea: a new kind of port (a tunnel, a
//! WireGuard port) is one entry here and one `open` function, not an edit
//! in every place that once listed the types.

use crate::config::{PortConfig, PortKind};
use anyhow::{bail, Context, Result};
use datapath::netdev::afpacket::{AfPacketOptions, AfPacketPort};
use datapath::netdev::afxdp::{AfXdpOptions, AfXdpPort, XdpMode};
use datapath::netdev::link::VirtualPort;
use datapath::netdev::tap::TapPort;
use datapath::netdev::Port;
use datapath::tunnel::TunnelKind;
use ofproto::tunnel::TunnelConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vhost_port::{VhostUserOptions, VhostUserPort};

/// One option of a port type.
#[derive(Debug)]
pub struct PortOption {
    pub name: &'static str,
    pub help: &'static str,
    /// Whether a value is acceptable; the error says what is.
    pub check: fn(&str) -> Result<(), String>,
}

/// One port type.
#[derive(Debug)]
pub struct PortType {
    pub kind: PortKind,
    /// The name in configurations, `swctl` and the API.
    pub name: &'static str,
    pub summary: &'static str,
    pub options: &'static [PortOption],
    /// Options that must be given.
    pub required: &'static [&'static str],
    /// Open a port of this type (`state_dir`: where server sockets go).
    pub open: fn(&PortConfig, &Path) -> Result<Arc<dyn Port>>,
    /// A tunnel type: the port is a number in its bridge and the tunnel
    /// plane does the rest ([`ofproto::tunnel`]).
    pub tunnel: Option<TunnelKind>,
}

fn positive(v: &str) -> Result<(), String> {
    match v.parse::<u32>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err("a positive number".into()),
    }
}

fn xdp_mode(v: &str) -> Result<(), String> {
    match v {
        "native" | "generic" | "auto" => Ok(()),
        _ => Err("native | generic | auto".into()),
    }
}

fn boolean(v: &str) -> Result<(), String> {
    match v {
        "true" | "false" => Ok(()),
        _ => Err("true | false".into()),
    }
}

fn mtu(v: &str) -> Result<(), String> {
    match v.parse::<u16>() {
        Ok(n) if n >= 68 => Ok(()),
        _ => Err("68..=65535".into()),
    }
}

fn mac(v: &str) -> Result<(), String> {
    VhostUserOptions::parse_mac(v)
        .map(|_| ())
        .map_err(|_| "aa:bb:cc:dd:ee:ff".into())
}

fn non_empty(v: &str) -> Result<(), String> {
    if v.is_empty() {
        Err("a path".into())
    } else {
        Ok(())
    }
}

const N_RXQ: PortOption = PortOption {
    name: "n_rxq",
    help: "receive queues (vhost-user: queue pairs offered)",
    check: positive,
};
const MAC: PortOption = PortOption {
    name: "mac",
    help: "the MAC address the guest is told (default: derived from the name)",
    check: mac,
};
const MTU: PortOption = PortOption {
    name: "mtu",
    help: "the MTU the guest is told (default 1500)",
    check: mtu,
};

/// Every port type, in the order help texts list them.
pub static PORT_TYPES: &[PortType] = &[
    PortType {
        kind: PortKind::Afxdp,
        name: "afxdp",
        summary: "a NIC through an AF_XDP socket (zero-copy where the driver allows)",
        options: &[
            PortOption {
                name: "xdp_mode",
                help: "native | generic | auto (default auto)",
                check: xdp_mode,
            },
            N_RXQ,
            PortOption {
                name: "zero_copy",
                help: "false to never try zero-copy (default true)",
                check: boolean,
            },
            PortOption {
                name: "frame_size",
                help: "UMEM frame size in bytes",
                check: positive,
            },
            PortOption {
                name: "ring_size",
                help: "descriptors per ring",
                check: positive,
            },
        ],
        required: &[],
        open: open_afxdp,
        tunnel: None,
    },
    PortType {
        kind: PortKind::Afpacket,
        name: "afpacket",
        summary: "an interface through an AF_PACKET ring (any Linux interface)",
        options: &[N_RXQ],
        required: &[],
        open: open_afpacket,
        tunnel: None,
    },
    PortType {
        kind: PortKind::Internal,
        name: "internal",
        summary: "a tap device of the host's own stack",
        options: &[],
        required: &[],
        open: open_internal,
        tunnel: None,
    },
    PortType {
        kind: PortKind::Vhostuser,
        name: "vhostuser",
        summary: "a VM; switchd listens on STATE_DIR/vhost-user/NAME.sock",
        options: &[MAC, MTU, N_RXQ],
        required: &[],
        open: open_vhostuser,
        tunnel: None,
    },
    PortType {
        kind: PortKind::Vhostuserclient,
        name: "vhostuserclient",
        summary: "a VM; switchd connects to the VMM's socket and reconnects",
        options: &[
            PortOption {
                name: "vhost-server-path",
                help: "the VMM's socket (absolute, outside switchd's state directory)",
                check: non_empty,
            },
            MAC,
            MTU,
            N_RXQ,
        ],
        required: &["vhost-server-path"],
        open: open_vhostuserclient,
        tunnel: None,
    },
    PortType {
        kind: PortKind::Vxlan,
        name: "vxlan",
        summary: "a VXLAN tunnel (RFC 7348), encapsulated by switchd over an underlay bridge",
        options: TUNNEL_OPTIONS,
        required: &["remote_ip"],
        open: open_tunnel,
        tunnel: Some(TunnelKind::Vxlan),
    },
    PortType {
        kind: PortKind::Geneve,
        name: "geneve",
        summary: "a GENEVE tunnel (RFC 8926), encapsulated by switchd over an underlay bridge",
        options: TUNNEL_OPTIONS,
        required: &["remote_ip"],
        open: open_tunnel,
        tunnel: Some(TunnelKind::Geneve),
    },
    PortType {
        kind: PortKind::Gre,
        name: "gre",
        summary: "an Ethernet-over-GRE tunnel (RFC 2784/2890), encapsulated by switchd",
        options: &TUNNEL_OPTIONS_GRE,
        required: &["remote_ip"],
        open: open_tunnel,
        tunnel: Some(TunnelKind::Gre),
    },
    PortType {
        kind: PortKind::Erspan,
        name: "erspan",
        summary: "an ERSPAN type II or III tunnel for remote mirroring (transmit only), encapsulated by switchd",
        options: &TUNNEL_OPTIONS_ERSPAN,
        required: &["remote_ip"],
        open: open_tunnel,
        tunnel: Some(TunnelKind::Erspan),
    },
];

macro_rules! tunnel_option {
    ($i:expr) => {
        PortOption {
            name: ofproto::tunnel::OPTIONS[$i].0,
            help: ofproto::tunnel::OPTIONS[$i].1,
            check: |v| ofproto::tunnel::check_value(ofproto::tunnel::OPTIONS[$i].0, v),
        }
    };
}

const TUNNEL_OPTIONS: &[PortOption] = &[
    tunnel_option!(0),
    tunnel_option!(1),
    tunnel_option!(2),
    tunnel_option!(3),
    tunnel_option!(4),
    tunnel_option!(5),
    tunnel_option!(6),
    tunnel_option!(7),
];

/// GRE has no UDP port.
const TUNNEL_OPTIONS_GRE: [PortOption; 7] = [
    tunnel_option!(0),
    tunnel_option!(1),
    tunnel_option!(2),
    tunnel_option!(4),
    tunnel_option!(5),
    tunnel_option!(6),
    tunnel_option!(7),
];

/// ERSPAN: no UDP port, no checksum; its own four.
const TUNNEL_OPTIONS_ERSPAN: [PortOption; 10] = [
    tunnel_option!(0),
    tunnel_option!(1),
    tunnel_option!(2),
    tunnel_option!(4),
    tunnel_option!(5),
    tunnel_option!(7),
    tunnel_option!(8),
    tunnel_option!(9),
    tunnel_option!(10),
    tunnel_option!(11),
];

/// The entry of `kind`.
pub fn by_kind(kind: PortKind) -> &'static PortType {
    PORT_TYPES
        .iter()
        .find(|t| t.kind == kind)
        .unwrap_or(&PORT_TYPES[0])
}

/// The entry named `name`.
pub fn by_name(name: &str) -> Option<&'static PortType> {
    PORT_TYPES.iter().find(|t| t.name == name)
}

/// "afxdp | afpacket | ...", for messages.
pub fn names() -> String {
    PORT_TYPES
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(" | ")
}

impl PortType {
    /// Check a port's options against this type: known names, valid
    /// values, required ones present.
    pub fn check(&self, cfg: &PortConfig) -> Result<(), String> {
        for (k, v) in &cfg.options {
            let Some(o) = self.options.iter().find(|o| o.name == k) else {
                let known: Vec<_> = self.options.iter().map(|o| o.name).collect();
                return Err(format!(
                    "unknown option {k:?} for type {:?} (known: {})",
                    self.name,
                    known.join(", ")
                ));
            };
            (o.check)(v).map_err(|want| format!("{k} = {v:?} ({want})"))?;
        }
        for r in self.required {
            if cfg.options.get(*r).is_none_or(|v| v.is_empty()) {
                return Err(format!("type {} needs options:{r}", self.name));
            }
        }
        if let Some(kind) = self.tunnel {
            // What one option alone cannot say: ranges that depend on the
            // kind, families that must agree.
            TunnelConfig::parse(kind, &cfg.options)?;
        }
        Ok(())
    }
}

/// Open the port a configuration entry describes.
pub fn open(cfg: &PortConfig, state_dir: &Path) -> Result<Arc<dyn Port>> {
    (by_kind(cfg.kind).open)(cfg, state_dir)
}

fn opt<'a>(cfg: &'a PortConfig, k: &str) -> Option<&'a str> {
    cfg.options.get(k).map(String::as_str)
}

fn num(cfg: &PortConfig, k: &str, default: usize) -> Result<usize> {
    opt(cfg, k).map_or(Ok(default), |v| {
        v.parse().with_context(|| format!("option {k}={v}"))
    })
}

fn open_afpacket(cfg: &PortConfig, _: &Path) -> Result<Arc<dyn Port>> {
    let opts = AfPacketOptions {
        n_rxq: num(cfg, "n_rxq", 1)?,
        ..Default::default()
    };
    Ok(Arc::new(AfPacketPort::open(&cfg.name, opts)?))
}

fn open_afxdp(cfg: &PortConfig, _: &Path) -> Result<Arc<dyn Port>> {
    let mode = match opt(cfg, "xdp_mode").unwrap_or("auto") {
        "native" => XdpMode::Native,
        "generic" => XdpMode::Generic,
        _ => XdpMode::Auto,
    };
    let d = AfXdpOptions::default();
    let ring = num(cfg, "ring_size", d.rx_ring_size as usize)? as u32;
    let opts = AfXdpOptions {
        n_rxq: num(cfg, "n_rxq", 1)?,
        mode,
        prefer_zero_copy: opt(cfg, "zero_copy") != Some("false"),
        frame_size: num(cfg, "frame_size", d.frame_size as usize)? as u32,
        rx_ring_size: ring,
        tx_ring_size: ring,
        ..d
    };
    Ok(Arc::new(AfXdpPort::open(&cfg.name, opts)?))
}

/// A tunnel port's configuration, if `cfg` is one.
pub fn tunnel_config(cfg: &PortConfig) -> Option<Result<TunnelConfig>> {
    let kind = by_kind(cfg.kind).tunnel?;
    Some(
        TunnelConfig::parse(kind, &cfg.options)
            .map_err(|e| anyhow::anyhow!("port {}: {e}", cfg.name)),
    )
}

fn open_tunnel(cfg: &PortConfig, _: &Path) -> Result<Arc<dyn Port>> {
    tunnel_config(cfg).context("not a tunnel type")??;
    Ok(Arc::new(VirtualPort::new(
        &cfg.name,
        by_kind(cfg.kind).name,
    )?))
}

fn open_internal(cfg: &PortConfig, _: &Path) -> Result<Arc<dyn Port>> {
    Ok(Arc::new(TapPort::open(&cfg.name)?))
}

fn vhost_options(cfg: &PortConfig) -> Result<VhostUserOptions> {
    Ok(VhostUserOptions {
        mac: opt(cfg, "mac")
            .map(VhostUserOptions::parse_mac)
            .transpose()?,
        mtu: num(cfg, "mtu", 1500)?.try_into().context("option mtu")?,
        queue_pairs: num(cfg, "n_rxq", 1)?.try_into().context("option n_rxq")?,
    })
}

/// The directory of `STATE_DIR` that holds the sockets of `vhostuser`
/// ports, apart from switchd's own files (its API socket, store and pid
/// file), so that no port name can collide with them.
pub const VHOST_SOCKET_DIR: &str = "vhost-user";

/// Where a `vhostuser` port listens: `STATE_DIR/vhost-user/NAME.sock`.
pub fn vhost_socket(state_dir: &Path, port: &str) -> PathBuf {
    state_dir
        .join(VHOST_SOCKET_DIR)
        .join(format!("{port}.sock"))
}

fn open_vhostuser(cfg: &PortConfig, state_dir: &Path) -> Result<Arc<dyn Port>> {
    let opts = vhost_options(cfg)?;
    let dir = state_dir.join(VHOST_SOCKET_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let sock = vhost_socket(state_dir, &cfg.name);
    Ok(Arc::new(VhostUserPort::server(&cfg.name, &sock, opts)?))
}

fn open_vhostuserclient(cfg: &PortConfig, state_dir: &Path) -> Result<Arc<dyn Port>> {
    let opts = vhost_options(cfg)?;
    let path = opt(cfg, "vhost-server-path").context("option vhost-server-path")?;
    let path = Path::new(path);
    vhost_port::socket_file::check_guest_path(path)?;
    // switchd's own sockets (its API, its vhostuser ports) are never a
    // guest's.
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let parent_real = path.parent().map(real).unwrap_or_default();
    if parent_real.starts_with(real(state_dir)) {
        bail!(
            "vhost-server-path {} is inside switchd's state directory {}",
            path.display(),
            state_dir.display()
        );
    }
    Ok(Arc::new(VhostUserPort::client(&cfg.name, path, opts)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_entry_and_names_round_trip() {
        for t in PORT_TYPES {
            assert_eq!(by_kind(t.kind).name, t.name);
            assert_eq!(by_name(t.name).map(|x| x.kind), Some(t.kind));
            // The configuration file spells the kind the same way.
            let toml = format!("name = \"p\"\ntype = \"{}\"\n", t.name);
            let p: PortConfig = toml::from_str(&toml).unwrap();
            assert_eq!(p.kind, t.kind);
        }
        assert!(by_name("warpdrive").is_none());
        assert_eq!(names().matches(" | ").count(), PORT_TYPES.len() - 1);
    }

    /// A port of `kind` with `opts`.
    fn port(kind: PortKind, opts: &[(&str, &str)]) -> PortConfig {
        PortConfig {
            name: "p".into(),
            kind,
            ofport: None,
            options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            qos: None,
            ingress_policing: None,
        }
    }

    #[test]
    fn options_are_checked_by_the_table() {
        let check = |p: &PortConfig| by_kind(p.kind).check(p);
        assert!(check(&port(PortKind::Afxdp, &[("xdp_mode", "native")])).is_ok());
        let e = check(&port(PortKind::Afxdp, &[("xdp_mode", "fast")])).unwrap_err();
        assert!(e.contains("native | generic | auto"), "{e}");
        let e = check(&port(PortKind::Afpacket, &[("colour", "red")])).unwrap_err();
        assert!(e.contains("colour") && e.contains("n_rxq"), "{e}");
        let e = check(&port(PortKind::Vhostuserclient, &[])).unwrap_err();
        assert!(e.contains("vhost-server-path"), "{e}");
        let e = check(&port(PortKind::Vhostuser, &[("mtu", "20")])).unwrap_err();
        assert!(e.contains("68"), "{e}");
        let e = check(&port(PortKind::Vhostuser, &[("mac", "zz")])).unwrap_err();
        assert!(e.contains("aa:bb"), "{e}");
    }

    #[test]
    fn tunnel_options_are_checked_alone_and_together() {
        let check = |p: &PortConfig| by_kind(p.kind).check(p);
        let ok = port(PortKind::Vxlan, &[("remote_ip", "flow"), ("key", "flow")]);
        assert!(check(&ok).is_ok());
        assert!(tunnel_config(&ok).unwrap().is_ok());
        let e = check(&port(PortKind::Geneve, &[("key", "5")])).unwrap_err();
        assert!(e.contains("remote_ip"), "{e}");
        let e = check(&port(PortKind::Vxlan, &[("remote_ip", "10.0.0.300")])).unwrap_err();
        assert!(e.contains("address"), "{e}");
        let e = check(&port(
            PortKind::Vxlan,
            &[("remote_ip", "flow"), ("key", "0x1000000")],
        ))
        .unwrap_err();
        assert!(e.contains("does not fit"), "{e}");
        let e = check(&port(
            PortKind::Gre,
            &[("remote_ip", "flow"), ("dst_port", "4789")],
        ))
        .unwrap_err();
        assert!(e.contains("dst_port"), "{e}");
        assert!(tunnel_config(&port(PortKind::Afpacket, &[])).is_none());
    }
}

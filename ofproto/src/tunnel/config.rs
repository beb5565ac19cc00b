//! A tunnel port's options, in Open vSwitch's vocabulary: `remote_ip`,
//! `local_ip`, `key`, `dst_port`, `tos`, `ttl`, `csum`, `df_default`, and
//! for `erspan` ports (transmit only: remote mirroring) `erspan_ver`,
//! `erspan_idx`, `erspan_dir`, `erspan_hwid`, with `key` the session id.
//! Parsing here is the one check: the configuration, the API and swctl
//! all reach it through the port type table.

use datapath::tunnel::{ErspanVersion, TunnelKind};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A value fixed by the port, or taken from the flow (`=flow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FromFlow<T> {
    Fixed(T),
    Flow,
}

/// TOS and TTL: a number, or the inner packet's (`inherit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inherit {
    Fixed(u8),
    Inherit,
}

/// One tunnel port's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelConfig {
    pub kind: TunnelKind,
    pub remote_ip: FromFlow<IpAddr>,
    /// `None`: the route's source address.
    pub local_ip: Option<FromFlow<IpAddr>>,
    /// VNI or GRE key; `Fixed(0)` (the default) for VXLAN/GENEVE is VNI 0
    /// and for GRE means "no key".
    pub key: FromFlow<u64>,
    pub dst_port: u16,
    pub tos: Inherit,
    pub ttl: Inherit,
    pub csum: bool,
    pub df_default: bool,
    /// ERSPAN's version and fields (`erspan` ports only).
    pub erspan: Option<ErspanVersion>,
}

/// The options a tunnel port takes (for help texts and checks).
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "remote_ip",
        "the far endpoint: an address, or flow (tun_dst)",
    ),
    (
        "local_ip",
        "the source address: an address, or flow (tun_src); default: the route's",
    ),
    (
        "key",
        "VNI or GRE key: a number, or flow (tunnel_id); default 0",
    ),
    ("dst_port", "UDP destination port (VXLAN 4789, GENEVE 6081)"),
    ("tos", "outer TOS: a number, or inherit; default 0"),
    ("ttl", "outer TTL: a number, or inherit; default 64"),
    (
        "csum",
        "true to checksum the outer UDP or GRE; default false",
    ),
    ("df_default", "false to leave DF clear; default true"),
    (
        "erspan_ver",
        "erspan: 1 (type II, default) or 2 (type III); key is the session id",
    ),
    (
        "erspan_idx",
        "erspan version 1: the port index (0..0xfffff)",
    ),
    (
        "erspan_dir",
        "erspan version 2: 0 ingress (default), 1 egress",
    ),
    ("erspan_hwid", "erspan version 2: the hardware id (0..63)"),
];

/// Options only `erspan` ports take, and options they do not.
const ERSPAN_ONLY: &[&str] = &["erspan_ver", "erspan_idx", "erspan_dir", "erspan_hwid"];
const NOT_ERSPAN: &[&str] = &["dst_port", "csum"];

/// The kind a port type name stands for.
pub fn kind_of_port_type(name: &str) -> Option<TunnelKind> {
    match name {
        "vxlan" => Some(TunnelKind::Vxlan),
        "geneve" => Some(TunnelKind::Geneve),
        "gre" => Some(TunnelKind::Gre),
        "erspan" => Some(TunnelKind::Erspan),
        _ => None,
    }
}

/// The IANA port of a UDP tunnel (0 for GRE).
pub fn default_dst_port(kind: TunnelKind) -> u16 {
    match kind {
        TunnelKind::Vxlan => 4789,
        TunnelKind::Geneve => 6081,
        TunnelKind::Gre | TunnelKind::Erspan => 0,
    }
}

fn ip_or_flow(name: &str, v: &str) -> Result<FromFlow<IpAddr>, String> {
    if v == "flow" {
        return Ok(FromFlow::Flow);
    }
    let ip: IpAddr = v
        .parse()
        .map_err(|_| format!("{name}: an IPv4 or IPv6 address, or flow (got {v:?})"))?;
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(format!("{name}: {ip} is not a unicast address"));
    }
    Ok(FromFlow::Fixed(ip))
}

fn inherit(name: &str, v: &str) -> Result<Inherit, String> {
    if v == "inherit" {
        return Ok(Inherit::Inherit);
    }
    v.parse::<u8>()
        .map(Inherit::Fixed)
        .map_err(|_| format!("{name}: 0..=255 or inherit (got {v:?})"))
}

fn boolean(name: &str, v: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{name}: true or false (got {v:?})")),
    }
}

impl TunnelConfig {
    /// Parse a port's options; the error names the option and what it takes.
    pub fn parse(kind: TunnelKind, options: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut c = TunnelConfig {
            kind,
            remote_ip: FromFlow::Flow,
            local_ip: None,
            key: FromFlow::Fixed(0),
            dst_port: default_dst_port(kind),
            tos: Inherit::Fixed(0),
            ttl: Inherit::Fixed(64),
            csum: false,
            df_default: true,
            erspan: None,
        };
        let erspan = kind == TunnelKind::Erspan;
        let (mut ver, mut idx, mut egress, mut hwid) = (1u8, 0u32, false, 0u8);
        let mut remote = false;
        for (k, v) in options {
            let k_ = k.as_str();
            if (erspan && NOT_ERSPAN.contains(&k_)) || (!erspan && ERSPAN_ONLY.contains(&k_)) {
                return Err(unknown(kind, k_));
            }
            let ranged = |max: u32| -> Result<u32, String> {
                match key_number(v) {
                    Ok(n) if n <= u64::from(max) => Ok(n as u32),
                    _ => Err(format!("{k}: 0..={max} (got {v:?})")),
                }
            };
            match k.as_str() {
                "erspan_ver" => {
                    ver = match v.as_str() {
                        "1" => 1,
                        "2" => 2,
                        _ => return Err(format!("erspan_ver: 1 or 2 (got {v:?})")),
                    }
                }
                "erspan_idx" => idx = ranged(0xf_ffff)?,
                "erspan_dir" => egress = ranged(1)? == 1,
                "erspan_hwid" => hwid = ranged(63)? as u8,
                "remote_ip" => {
                    c.remote_ip = ip_or_flow(k, v)?;
                    remote = true;
                }
                "local_ip" => c.local_ip = Some(ip_or_flow(k, v)?),
                "key" => {
                    c.key = if v == "flow" {
                        FromFlow::Flow
                    } else {
                        let n = key_number(v)?;
                        let max = match kind {
                            TunnelKind::Gre => u32::MAX as u64,
                            TunnelKind::Erspan => 1023,
                            _ => 0xff_ffff,
                        };
                        if n > max {
                            return Err(format!("key: {n} does not fit (max {max})"));
                        }
                        FromFlow::Fixed(n)
                    }
                }
                "dst_port" if kind == TunnelKind::Vxlan || kind == TunnelKind::Geneve => {
                    c.dst_port = udp_port(v)?
                }
                "tos" => c.tos = inherit(k, v)?,
                "ttl" => {
                    c.ttl = inherit(k, v)?;
                    if c.ttl == Inherit::Fixed(0) {
                        return Err("ttl: 1..=255 or inherit".into());
                    }
                }
                "csum" => c.csum = boolean(k, v)?,
                "df_default" => c.df_default = boolean(k, v)?,
                other => return Err(unknown(kind, other)),
            }
        }
        if erspan {
            if c.key == FromFlow::Flow {
                return Err("key: an erspan port's session id is a number (0..=1023)".into());
            }
            c.erspan = Some(match ver {
                1 => ErspanVersion::V1 { index: idx },
                _ => ErspanVersion::V2 { egress, hwid },
            });
        }
        if !remote {
            return Err("remote_ip is required (an address, or flow)".into());
        }
        if let (FromFlow::Fixed(r), Some(FromFlow::Fixed(l))) = (c.remote_ip, c.local_ip) {
            if r.is_ipv4() != l.is_ipv4() {
                return Err(format!(
                    "local_ip {l} and remote_ip {r} are of different families"
                ));
            }
        }
        Ok(c)
    }
}

/// The error for an option `kind` does not take, listing those it does.
fn unknown(kind: TunnelKind, other: &str) -> String {
    let known: Vec<&str> = OPTIONS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| match kind {
            TunnelKind::Erspan => !NOT_ERSPAN.contains(n),
            TunnelKind::Gre => *n != "dst_port" && !ERSPAN_ONLY.contains(n),
            _ => !ERSPAN_ONLY.contains(n),
        })
        .collect();
    format!(
        "unknown option {other:?} (a {} port takes {})",
        kind_name(kind),
        known.join(", ")
    )
}

/// The port type name of a kind.
pub fn kind_name(kind: TunnelKind) -> &'static str {
    match kind {
        TunnelKind::Vxlan => "vxlan",
        TunnelKind::Geneve => "geneve",
        TunnelKind::Gre => "gre",
        TunnelKind::Erspan => "erspan",
    }
}

/// A fixed key, decimal or 0x-hex (its range depends on the kind).
fn key_number(v: &str) -> Result<u64, String> {
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
    .ok_or_else(|| format!("key: a number or flow (got {v:?})"))
}

fn udp_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("dst_port: 1..=65535 (got {v:?})")),
    }
}

/// One option's value on its own, for checks that see one option at a
/// time (the port type table): what depends on the kind or on another
/// option (the key's range, the two addresses' families) is left to
/// [`TunnelConfig::parse`].
pub fn check_value(name: &str, v: &str) -> Result<(), String> {
    match name {
        "remote_ip" | "local_ip" => ip_or_flow(name, v).map(drop),
        "key" if v == "flow" => Ok(()),
        "key" => key_number(v).map(drop),
        "dst_port" => udp_port(v).map(drop),
        "tos" | "ttl" => inherit(name, v).map(drop),
        "csum" | "df_default" => boolean(name, v).map(drop),
        "erspan_ver" | "erspan_idx" | "erspan_dir" | "erspan_hwid" => key_number(v)
            .map(drop)
            .map_err(|_| format!("{name}: a number (got {v:?})")),
        _ => Err(format!("{name} is not a tunnel option")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn open_vswitch_options_parse_with_their_defaults() {
        let c = TunnelConfig::parse(
            TunnelKind::Vxlan,
            &opts(&[("remote_ip", "flow"), ("key", "flow")]),
        )
        .unwrap();
        assert_eq!(c.remote_ip, FromFlow::Flow);
        assert_eq!(c.key, FromFlow::Flow);
        assert_eq!(c.dst_port, 4789);
        assert_eq!(c.ttl, Inherit::Fixed(64));
        assert!(c.df_default && !c.csum);
        let g = TunnelConfig::parse(
            TunnelKind::Gre,
            &opts(&[
                ("remote_ip", "10.0.0.2"),
                ("key", "0xfffffffe"),
                ("tos", "inherit"),
            ]),
        )
        .unwrap();
        assert_eq!(g.key, FromFlow::Fixed(0xffff_fffe));
        assert_eq!(g.tos, Inherit::Inherit);
    }

    #[test]
    fn bad_options_say_what_is_allowed() {
        let e =
            |kv: &[(&str, &str)]| TunnelConfig::parse(TunnelKind::Vxlan, &opts(kv)).unwrap_err();
        assert!(e(&[]).contains("remote_ip is required"));
        assert!(e(&[("remote_ip", "10.0.0")]).contains("address"));
        assert!(e(&[("remote_ip", "224.0.0.1")]).contains("unicast"));
        assert!(e(&[("remote_ip", "flow"), ("key", "16777216")]).contains("does not fit"));
        assert!(e(&[("remote_ip", "flow"), ("dst_port", "0")]).contains("dst_port"));
        assert!(e(&[("remote_ip", "flow"), ("ttl", "0")]).contains("ttl"));
        assert!(e(&[("remote_ip", "flow"), ("colour", "red")]).contains("unknown option"));
        assert!(e(&[("remote_ip", "10.0.0.2"), ("local_ip", "fe80::1")]).contains("families"));
        let gre = TunnelConfig::parse(
            TunnelKind::Gre,
            &opts(&[("remote_ip", "flow"), ("dst_port", "1")]),
        );
        assert!(gre.unwrap_err().contains("unknown option"));
    }
}

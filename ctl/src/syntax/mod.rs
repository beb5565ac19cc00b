//! Open vSwitch's flow syntax (what `ovs-ofctl add-flow` takes), parsed into
//! the OpenFlow 1.3 messages of `ofproto::wire` and printed back.
//!
//! The one idea: every field is an OXM field. A name (`nw_dst`, `dl_src`,
//! `tcp_dst`, or the OXM-style `ipv4_dst`) resolves to an [`OxmKind`]; the
//! value text is parsed by the *shape* of that kind (MAC, IPv4, IPv6 or a
//! number, each with an optional `/mask`) into the raw right-aligned view,
//! and [`OxmField::from_raw`] makes the typed field and checks its range.
//! Printing walks the same table backwards, so what [`flow::format_flow`]
//! prints, [`flow::parse_flow`] reads back to the same message; that round
//! trip is how the persistent store keeps flows (as strings a person can
//! read and edit).
//!
//! Errors name the offending token ([`SyntaxError::token`]): the API
//! returns them as INVALID_ARGUMENT so that a user sees exactly which part
//! of a long flow string is wrong.
//!
//! Only OpenFlow 1.3 is spoken: Nicira extensions (`resubmit`, `load`,
//! `move`, `learn`, registers) are refused with a message that says so.

pub mod action;
pub mod flow;
pub mod group;
pub mod nx_action;

use ofproto::wire::action::port_no;
use ofproto::wire::oxm::{OxmField, OxmKind};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A flow, group or meter string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at `{token}`)")]
pub struct SyntaxError {
    /// The token that is wrong, as the user wrote it.
    pub token: String,
    pub message: String,
}

impl SyntaxError {
    pub fn new(token: impl Into<String>, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            token: token.into(),
            message: message.into(),
        }
    }
}

pub type SyntaxResult<T> = Result<T, SyntaxError>;

/// Resolves port names (`output:eth1`, `in_port=vm1`) to OpenFlow port
/// numbers. The empty resolver knows no names.
pub type PortNames<'a> = &'a dyn Fn(&str) -> Option<u32>;

/// A resolver that knows no port names.
pub fn no_names(_: &str) -> Option<u32> {
    None
}

/// Split at top-level separators (commas, and whitespace when `spaces`),
/// keeping parenthesised groups whole: `a,b(c,d),e` is three tokens.
pub fn split_top(text: &str, spaces: bool) -> SyntaxResult<Vec<&str>> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(SyntaxError::new(&text[start..=i], "unbalanced ')'"));
                }
            }
            ',' if depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            c if spaces && depth == 0 && c.is_whitespace() => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(SyntaxError::new(&text[start..], "unbalanced '('"));
    }
    out.push(text[start..].trim());
    Ok(out.into_iter().filter(|t| !t.is_empty()).collect())
}

/// A number in decimal or `0x` hex.
pub fn parse_u64(token: &str, text: &str) -> SyntaxResult<u64> {
    let t = text.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        t.parse::<u64>()
    };
    r.map_err(|_| SyntaxError::new(token, format!("{t:?} is not a number")))
}

/// A number that must fit `max`.
pub fn parse_num(token: &str, text: &str, max: u64) -> SyntaxResult<u64> {
    let v = parse_u64(token, text)?;
    if v > max {
        return Err(SyntaxError::new(token, format!("{v} is larger than {max}")));
    }
    Ok(v)
}

/// An OpenFlow port: a number, a reserved name, or a port name.
pub fn parse_port(token: &str, text: &str, names: PortNames<'_>) -> SyntaxResult<u32> {
    let reserved = match text.to_ascii_lowercase().as_str() {
        "in_port" => Some(port_no::IN_PORT),
        "table" => Some(port_no::TABLE),
        "normal" => Some(port_no::NORMAL),
        "flood" => Some(port_no::FLOOD),
        "all" => Some(port_no::ALL),
        "controller" => Some(port_no::CONTROLLER),
        "local" => Some(port_no::LOCAL),
        "any" | "none" => Some(port_no::ANY),
        _ => None,
    };
    if let Some(p) = reserved {
        return Ok(p);
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(parse_num(token, text, u64::from(u32::MAX))? as u32);
    }
    names(text).ok_or_else(|| SyntaxError::new(token, format!("unknown port {text:?}")))
}

/// The name of an OpenFlow port number as the syntax prints it.
pub fn format_port(p: u32) -> String {
    match p {
        port_no::IN_PORT => "IN_PORT".into(),
        port_no::TABLE => "TABLE".into(),
        port_no::NORMAL => "NORMAL".into(),
        port_no::FLOOD => "FLOOD".into(),
        port_no::ALL => "ALL".into(),
        port_no::CONTROLLER => "CONTROLLER".into(),
        port_no::LOCAL => "LOCAL".into(),
        port_no::ANY => "ANY".into(),
        n => n.to_string(),
    }
}

/// How a field's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Mac,
    Ipv4,
    Ipv6,
    /// A number of this many bytes.
    Int(u32),
}

fn shape(kind: OxmKind) -> Shape {
    use OxmKind as K;
    match kind {
        K::EthDst | K::EthSrc | K::ArpSha | K::ArpTha | K::Ipv6NdSll | K::Ipv6NdTll => Shape::Mac,
        K::Ipv4Src | K::Ipv4Dst | K::ArpSpa | K::ArpTpa => Shape::Ipv4,
        K::Ipv6Src | K::Ipv6Dst | K::Ipv6NdTarget => Shape::Ipv6,
        K::Metadata | K::TunnelId => Shape::Int(8),
        K::InPort | K::InPhyPort | K::Ipv6Flabel | K::MplsLabel | K::PbbIsid => Shape::Int(4),
        K::EthType
        | K::VlanVid
        | K::TcpSrc
        | K::TcpDst
        | K::UdpSrc
        | K::UdpDst
        | K::SctpSrc
        | K::SctpDst
        | K::ArpOp
        | K::Ipv6Exthdr => Shape::Int(2),
        K::TunIpv4Src | K::TunIpv4Dst => Shape::Ipv4,
        K::TunIpv6Src | K::TunIpv6Dst => Shape::Ipv6,
        k if !k.is_basic() => Shape::Int(k.width() as u32),
        _ => Shape::Int(1),
    }
}

fn parse_mac(token: &str, text: &str) -> SyntaxResult<u128> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return Err(SyntaxError::new(
            token,
            format!("{text:?} is not a MAC address"),
        ));
    }
    let mut v = 0u128;
    for p in parts {
        let b = u8::from_str_radix(p, 16)
            .map_err(|_| SyntaxError::new(token, format!("{text:?} is not a MAC address")))?;
        v = (v << 8) | u128::from(b);
    }
    Ok(v)
}

fn format_mac(v: u128) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

/// Parse `value[/mask]` in the shape of `kind` into the raw view. IP masks
/// may be prefix lengths.
fn parse_raw(token: &str, kind: OxmKind, text: &str) -> SyntaxResult<(u128, Option<u128>)> {
    let (v, m) = match text.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (text, None),
    };
    let one = |t: &str, is_mask: bool| -> SyntaxResult<u128> {
        match shape(kind) {
            Shape::Mac => parse_mac(token, t),
            Shape::Ipv4 => {
                if is_mask && !t.contains('.') {
                    let n = parse_num(token, t, 32)? as u32;
                    return Ok(u128::from(u32::MAX.checked_shl(32 - n).unwrap_or(0)));
                }
                t.parse::<Ipv4Addr>()
                    .map(|a| u128::from(u32::from(a)))
                    .map_err(|_| SyntaxError::new(token, format!("{t:?} is not an IPv4 address")))
            }
            Shape::Ipv6 => {
                if is_mask && !t.contains(':') {
                    let n = parse_num(token, t, 128)? as u32;
                    return Ok(u128::MAX.checked_shl(128 - n).unwrap_or(0));
                }
                t.parse::<Ipv6Addr>()
                    .map(u128::from)
                    .map_err(|_| SyntaxError::new(token, format!("{t:?} is not an IPv6 address")))
            }
            Shape::Int(bytes) => {
                let max = if bytes >= 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * bytes)) - 1
                };
                Ok(u128::from(parse_num(token, t, max)?))
            }
        }
    };
    Ok((one(v, false)?, m.map(|m| one(m, true)).transpose()?))
}

/// A typed OXM field from `value[/mask]` text.
pub fn parse_field(token: &str, kind: OxmKind, text: &str) -> SyntaxResult<OxmField> {
    let (v, m) = parse_raw(token, kind, text)?;
    // An all-ones mask is an exact match.
    let m = m.filter(|&m| m != full_mask(kind));
    // Bits outside the mask do not matter; OXM wants them zero.
    let v = m.map_or(v, |m| v & m);
    OxmField::from_raw(kind, v, m).map_err(|e| SyntaxError::new(token, e.to_string()))
}

fn full_mask(kind: OxmKind) -> u128 {
    match shape(kind) {
        Shape::Mac => (1u128 << 48) - 1,
        Shape::Ipv4 => u128::from(u32::MAX),
        Shape::Ipv6 => u128::MAX,
        Shape::Int(b) => {
            if b >= 16 {
                u128::MAX
            } else {
                (1u128 << (8 * b)) - 1
            }
        }
    }
}

/// `value[/mask]` text of a field's raw view.
pub fn format_raw(kind: OxmKind, value: u128, mask: Option<u128>) -> String {
    let one = |v: u128, is_mask: bool| -> String {
        match shape(kind) {
            Shape::Mac => format_mac(v),
            Shape::Ipv4 => {
                let a = v as u32;
                if is_mask && (a.leading_ones() + a.trailing_zeros() == 32) {
                    return a.leading_ones().to_string();
                }
                Ipv4Addr::from(a).to_string()
            }
            Shape::Ipv6 => {
                if is_mask && (v.leading_ones() + v.trailing_zeros() == 128) {
                    return v.leading_ones().to_string();
                }
                Ipv6Addr::from(v).to_string()
            }
            Shape::Int(_) => {
                // Registers and the other Nicira numbers print in hex, as
                // ovs-ofctl prints them (`reg0=0x5`).
                let nx_number = !kind.is_basic() && kind != OxmKind::NxmInPort;
                if is_mask
                    || nx_number
                    || matches!(
                        kind,
                        OxmKind::Metadata | OxmKind::EthType | OxmKind::TunnelId
                    )
                {
                    format!("{v:#x}")
                } else {
                    v.to_string()
                }
            }
        }
    };
    match mask {
        Some(m) if m != full_mask(kind) => format!("{}/{}", one(value, false), one(m, true)),
        _ => one(value, false),
    }
}

/// Names a flow string may use for each OXM field (the first is printed).
const FIELD_NAMES: &[(OxmKind, &[&str])] = &[
    (OxmKind::InPort, &["in_port"]),
    (OxmKind::InPhyPort, &["in_phy_port"]),
    (OxmKind::Metadata, &["metadata"]),
    (OxmKind::EthDst, &["dl_dst", "eth_dst"]),
    (OxmKind::EthSrc, &["dl_src", "eth_src"]),
    (OxmKind::EthType, &["dl_type", "eth_type"]),
    (OxmKind::VlanVid, &["vlan_vid"]),
    (OxmKind::VlanPcp, &["dl_vlan_pcp", "vlan_pcp"]),
    (OxmKind::IpDscp, &["ip_dscp"]),
    (OxmKind::IpEcn, &["nw_ecn", "ip_ecn"]),
    (OxmKind::IpProto, &["nw_proto", "ip_proto"]),
    (OxmKind::Ipv4Src, &["nw_src", "ip_src", "ipv4_src"]),
    (OxmKind::Ipv4Dst, &["nw_dst", "ip_dst", "ipv4_dst"]),
    (OxmKind::TcpSrc, &["tcp_src"]),
    (OxmKind::TcpDst, &["tcp_dst"]),
    (OxmKind::UdpSrc, &["udp_src"]),
    (OxmKind::UdpDst, &["udp_dst"]),
    (OxmKind::SctpSrc, &["sctp_src"]),
    (OxmKind::SctpDst, &["sctp_dst"]),
    (OxmKind::Icmpv4Type, &["icmp_type", "icmpv4_type"]),
    (OxmKind::Icmpv4Code, &["icmp_code", "icmpv4_code"]),
    (OxmKind::ArpOp, &["arp_op"]),
    (OxmKind::ArpSpa, &["arp_spa"]),
    (OxmKind::ArpTpa, &["arp_tpa"]),
    (OxmKind::ArpSha, &["arp_sha"]),
    (OxmKind::ArpTha, &["arp_tha"]),
    (OxmKind::Ipv6Src, &["ipv6_src"]),
    (OxmKind::Ipv6Dst, &["ipv6_dst"]),
    (OxmKind::Ipv6Flabel, &["ipv6_label"]),
    (OxmKind::Icmpv6Type, &["icmpv6_type"]),
    (OxmKind::Icmpv6Code, &["icmpv6_code"]),
    (OxmKind::Ipv6NdTarget, &["nd_target"]),
    (OxmKind::Ipv6NdSll, &["nd_sll"]),
    (OxmKind::Ipv6NdTll, &["nd_tll"]),
    (OxmKind::MplsLabel, &["mpls_label"]),
    (OxmKind::MplsTc, &["mpls_tc"]),
    (OxmKind::MplsBos, &["mpls_bos"]),
    (OxmKind::PbbIsid, &["pbb_isid"]),
    (OxmKind::TunnelId, &["tun_id", "tunnel_id"]),
    (OxmKind::Ipv6Exthdr, &["ipv6_exthdr"]),
];

/// The OXM field a name stands for: an OpenFlow name, or the name
/// `ovs-ofctl` gives a Nicira field (`reg0`..`reg15`, `tun_src`,
/// `tun_ipv6_dst`, `tun_flags`, `pkt_mark`, ...). Not `tun_metadataN`: its
/// place in the key comes from a TLV map that only a controller sets and
/// the store does not keep, so a stored flow could not be restored.
pub fn field_kind(name: &str) -> Option<OxmKind> {
    let name = name.to_ascii_lowercase();
    FIELD_NAMES
        .iter()
        .find(|(_, names)| names.contains(&name.as_str()))
        .map(|(k, _)| *k)
        .or_else(|| {
            OxmKind::nicira().find(|&k| {
                k.tun_metadata_index().is_none()
                    && ofproto::wire::nx::field::ofctl_name(k) == Some(name.as_str())
            })
        })
}

/// The printed name of a field.
pub fn field_name(kind: OxmKind) -> &'static str {
    FIELD_NAMES
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, n)| n[0])
        .or_else(|| ofproto::wire::nx::field::ofctl_name(kind))
        .unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keep_parentheses() {
        assert_eq!(
            split_top("a=1, b(c,d) e", true).unwrap(),
            vec!["a=1", "b(c,d)", "e"]
        );
        assert!(split_top("a(b", false).is_err());
        assert!(split_top("a)b", false).is_err());
    }

    #[test]
    fn values_round_trip_by_shape() {
        let cases = [
            (OxmKind::Ipv4Dst, "10.0.0.0/24"),
            (OxmKind::Ipv4Dst, "10.0.0.1"),
            (OxmKind::Ipv4Src, "10.0.0.0/255.0.255.0"),
            (OxmKind::EthSrc, "00:11:22:33:44:55"),
            (OxmKind::EthDst, "01:00:00:00:00:00/01:00:00:00:00:00"),
            (OxmKind::Metadata, "0x12/0xff"),
            (OxmKind::Ipv6Src, "2001:db8::/32"),
            (OxmKind::TcpDst, "80"),
        ];
        for (kind, text) in cases {
            let f = parse_field("t", kind, text).unwrap();
            let (v, m) = f.raw();
            assert_eq!(format_raw(kind, v, m), text);
        }
    }

    #[test]
    fn nicira_fields_have_their_ovs_ofctl_names() {
        for (name, kind, text) in [
            ("reg15", OxmKind::Reg15, "0x10/0xf0"),
            ("tun_src", OxmKind::TunIpv4Src, "10.0.0.0/24"),
            ("tun_ipv6_dst", OxmKind::TunIpv6Dst, "2001:db8::1"),
            ("pkt_mark", OxmKind::PktMark, "0x2a"),
        ] {
            assert_eq!(field_kind(name), Some(kind), "{name}");
            assert_eq!(field_name(kind), name);
            let f = parse_field("t", kind, text).unwrap();
            let (v, m) = f.raw();
            assert_eq!(format_raw(kind, v, m), text);
        }
        assert_eq!(
            field_kind("in_port"),
            Some(OxmKind::InPort),
            "OpenFlow's name wins"
        );
        assert_eq!(
            field_kind("tun_metadata0"),
            None,
            "needs a TLV map the store lacks"
        );
    }

    #[test]
    fn bad_values_name_the_token() {
        let e = parse_field("nw_dst=10.0.0.300", OxmKind::Ipv4Dst, "10.0.0.300").unwrap_err();
        assert_eq!(e.token, "nw_dst=10.0.0.300");
        assert!(parse_field("t", OxmKind::TcpDst, "70000").is_err());
        assert!(parse_field("t", OxmKind::Ipv4Dst, "10.0.0.0/33").is_err());
        assert!(parse_field("t", OxmKind::EthSrc, "00:11:22").is_err());
    }
}

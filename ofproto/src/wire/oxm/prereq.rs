//! OXM prerequisites (spec 1.3.5 section 7.2.3.6): a match may name a
//! protocol's field only if it also pins down that the packet carries the
//! protocol, e.g. `TCP_SRC` needs `IP_PROTO=6`, which in turn needs
//! `ETH_TYPE` 0x0800 or 0x86dd.
//!
//! The one idea: every field has at most one *immediate* requirement on one
//! other field (its [`Requirement`]), and that other field, being in the
//! match too, is checked against its own requirement in the same pass. So
//! checking each present field against its immediate requirement checks the
//! whole chain, in any TLV order (OpenFlow 1.3 does not make order
//! significant). Where the spec's table is looser than the protocol (ICMPv4
//! with an IPv6 ethertype), the requirement names the ethertype as well,
//! as Open vSwitch does.

use super::Match;
use super::{OxmField, OxmKind, OFPVID_PRESENT};
use crate::wire::error::{BadMatch, WireError, WireResult};

const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;
const ETH_IPV6: u16 = 0x86dd;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MCAST: u16 = 0x8848;
const ETH_PBB: u16 = 0x88e7;

const IP_ANY: &[u16] = &[ETH_IPV4, ETH_IPV6];

/// What one field needs from the rest of the match.
#[derive(Debug)]
enum Requirement {
    Nothing,
    /// The field must be present (IN_PHY_PORT needs IN_PORT).
    Present(OxmKind),
    /// VLAN_VID must match "a tag is present" (the PRESENT bit in both
    /// value and mask).
    VlanTagged,
    /// ETH_TYPE must be one of these.
    EthType(&'static [u16]),
    /// IP_PROTO must be `proto`, and ETH_TYPE one of `eth`.
    IpProto {
        eth: &'static [u16],
        proto: u8,
    },
    /// ICMPV6_TYPE must be one of these.
    Icmpv6Type(&'static [u8]),
}

fn requirement(kind: OxmKind) -> Requirement {
    use OxmKind as K;
    use Requirement as R;
    match kind {
        K::InPort | K::Metadata | K::EthDst | K::EthSrc | K::EthType | K::VlanVid => R::Nothing,
        K::TunnelId => R::Nothing,
        // Nicira fields: only ip_frag names a protocol.
        K::IpFrag => R::EthType(IP_ANY),
        K::NxmInPort | K::NxmVlanTci | K::PktMark | K::TunFlags => R::Nothing,
        K::TunIpv4Src | K::TunIpv4Dst | K::TunIpv6Src | K::TunIpv6Dst => R::Nothing,
        K::Reg0
        | K::Reg1
        | K::Reg2
        | K::Reg3
        | K::Reg4
        | K::Reg5
        | K::Reg6
        | K::Reg7
        | K::Reg8
        | K::Reg9
        | K::Reg10
        | K::Reg11
        | K::Reg12
        | K::Reg13
        | K::Reg14
        | K::Reg15 => R::Nothing,
        K::InPhyPort => R::Present(K::InPort),
        K::VlanPcp => R::VlanTagged,
        K::IpDscp | K::IpEcn | K::IpProto => R::EthType(IP_ANY),
        K::Ipv4Src | K::Ipv4Dst => R::EthType(&[ETH_IPV4]),
        K::TcpSrc | K::TcpDst => R::IpProto {
            eth: IP_ANY,
            proto: 6,
        },
        K::UdpSrc | K::UdpDst => R::IpProto {
            eth: IP_ANY,
            proto: 17,
        },
        K::SctpSrc | K::SctpDst => R::IpProto {
            eth: IP_ANY,
            proto: 132,
        },
        K::Icmpv4Type | K::Icmpv4Code => R::IpProto {
            eth: &[ETH_IPV4],
            proto: 1,
        },
        K::ArpOp | K::ArpSpa | K::ArpTpa | K::ArpSha | K::ArpTha => R::EthType(&[ETH_ARP]),
        K::Ipv6Src | K::Ipv6Dst | K::Ipv6Flabel | K::Ipv6Exthdr => R::EthType(&[ETH_IPV6]),
        K::Icmpv6Type | K::Icmpv6Code => R::IpProto {
            eth: &[ETH_IPV6],
            proto: 58,
        },
        K::Ipv6NdTarget => R::Icmpv6Type(&[135, 136]),
        K::Ipv6NdSll => R::Icmpv6Type(&[135]),
        K::Ipv6NdTll => R::Icmpv6Type(&[136]),
        K::MplsLabel | K::MplsTc | K::MplsBos => R::EthType(&[ETH_MPLS, ETH_MPLS_MCAST]),
        K::PbbIsid => R::EthType(&[ETH_PBB]),
        // The rest are tun_metadataN: GENEVE options, no protocol.
        _ => R::Nothing,
    }
}

fn eth_type(m: &Match) -> Option<u16> {
    match m.get(OxmKind::EthType) {
        Some(OxmField::EthType(t)) => Some(*t),
        _ => None,
    }
}

fn ip_proto(m: &Match) -> Option<u8> {
    match m.get(OxmKind::IpProto) {
        Some(OxmField::IpProto(p)) => Some(*p),
        _ => None,
    }
}

fn icmpv6_type(m: &Match) -> Option<u8> {
    match m.get(OxmKind::Icmpv6Type) {
        Some(OxmField::Icmpv6Type(t)) => Some(*t),
        _ => None,
    }
}

fn vlan_tagged(m: &Match) -> bool {
    match m.get(OxmKind::VlanVid) {
        Some(OxmField::VlanVid { value, mask }) => {
            value & OFPVID_PRESENT != 0 && mask.is_none_or(|m| m & OFPVID_PRESENT != 0)
        }
        _ => false,
    }
}

fn fmt_list<T: std::fmt::LowerHex>(xs: &[T]) -> String {
    xs.iter()
        .map(|x| format!("{x:#x}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn unmet(kind: OxmKind, what: String) -> WireError {
    WireError::new(
        BadMatch::BAD_PREREQ,
        format!("{} requires {what}", kind.name()),
    )
}

/// Check one field's immediate requirement against the match.
pub(super) fn check_one(m: &Match, kind: OxmKind) -> WireResult<()> {
    let eth_ok = |allowed: &[u16]| eth_type(m).is_some_and(|t| allowed.contains(&t));
    match requirement(kind) {
        Requirement::Nothing => Ok(()),
        Requirement::Present(other) => match m.get(other) {
            Some(_) => Ok(()),
            None => Err(unmet(kind, other.name().to_string())),
        },
        Requirement::VlanTagged => match vlan_tagged(m) {
            true => Ok(()),
            false => Err(unmet(kind, "OXM_OF_VLAN_VID with OFPVID_PRESENT".into())),
        },
        Requirement::EthType(allowed) => match eth_ok(allowed) {
            true => Ok(()),
            false => Err(unmet(
                kind,
                format!("OXM_OF_ETH_TYPE={}", fmt_list(allowed)),
            )),
        },
        Requirement::IpProto { eth, proto } => {
            if ip_proto(m) != Some(proto) {
                return Err(unmet(kind, format!("OXM_OF_IP_PROTO={proto}")));
            }
            match eth_ok(eth) {
                true => Ok(()),
                false => Err(unmet(kind, format!("OXM_OF_ETH_TYPE={}", fmt_list(eth)))),
            }
        }
        Requirement::Icmpv6Type(types) => match icmpv6_type(m) {
            Some(t) if types.contains(&t) => Ok(()),
            _ => Err(unmet(
                kind,
                format!(
                    "OXM_OF_ICMPV6_TYPE={}",
                    types
                        .iter()
                        .map(u8::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            )),
        },
    }
}

/// See [`Match::check_prerequisites`].
pub(super) fn check(m: &Match) -> WireResult<()> {
    m.iter().try_for_each(|f| check_one(m, f.kind()))
}

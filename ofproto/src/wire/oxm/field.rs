//! [`OxmField`]: one OXM TLV, typed, and its encoding.
//!
//! The one idea: each field has a *raw view*, its value and optional mask as
//! big-endian integers right-aligned in a `u128` (16 bytes is the widest
//! field). [`OxmField::from_raw`] is the only way bytes become a typed field,
//! and it is where every value check happens, driven by the [`OxmKind`]
//! table; [`OxmField::raw`] turns a typed field back into the raw view,
//! which is also what translation to datapath masks wants (the datapath's
//! `FieldValue` is the same right-aligned layout).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::kind::{
    OxmHeader, OxmKind, OFPXMC_EXPERIMENTER, OFPXMC_NXM_0, OFPXMC_NXM_1, OFPXMC_OPENFLOW_BASIC,
};
use crate::wire::action::port_no;
use crate::wire::bytes::{Put, Reader};
use crate::wire::error::{BadMatch, WireError, WireResult};
use datapath::tunnel::MAX_OPTION_LEN;

/// Bytes <-> the right-aligned `u128` raw view.
fn read_uint(r: &mut Reader<'_>, width: usize) -> WireResult<u128> {
    let bytes = r.bytes(width, "oxm payload")?;
    Ok(bytes
        .iter()
        .fold(0u128, |acc, &b| (acc << 8) | u128::from(b)))
}

fn put_uint(out: &mut Vec<u8>, v: u128, width: usize) {
    out.extend_from_slice(&v.to_be_bytes()[16 - width..]);
}

fn mac(v: u128) -> [u8; 6] {
    let b = v.to_be_bytes();
    [b[10], b[11], b[12], b[13], b[14], b[15]]
}

fn mac_raw(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
}

/// One OpenFlow-basic OXM TLV, typed.
///
/// Fields the spec lets a controller mask carry `mask: Option<_>`; `None`
/// is an exact match (the TLV has no HM bit). Masks are kept as sent (an
/// all-ones mask stays `Some`) so that encoding reproduces the input; use
/// [`crate::wire::oxm::Match::normalized`] to compare matches.
///
/// `VlanVid` carries the 13-bit OXM value: [`OFPVID_PRESENT`](super::OFPVID_PRESENT) (0x1000) set
/// means "tagged", so `VlanVid { value: 0, mask: None }` matches untagged
/// packets, `{ value: 0x1000, mask: Some(0x1000) }` any tagged packet, and
/// `{ value: 0x1000 | vid, mask: None }` that VLAN. These bits line up with
/// the datapath's `vlan_tci` (VLAN_CFI = 0x1000 marks a present tag), so a
/// VLAN_VID match is a match on `vlan_tci & 0x1fff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OxmField {
    /// Ingress port (physical or logical; LOCAL and CONTROLLER allowed).
    InPort(u32),
    InPhyPort(u32),
    Metadata {
        value: u64,
        mask: Option<u64>,
    },
    EthDst {
        value: [u8; 6],
        mask: Option<[u8; 6]>,
    },
    EthSrc {
        value: [u8; 6],
        mask: Option<[u8; 6]>,
    },
    /// Ethernet type after VLAN tags.
    EthType(u16),
    /// 13 bits: [`OFPVID_PRESENT`](super::OFPVID_PRESENT) plus the 12-bit VLAN id.
    VlanVid {
        value: u16,
        mask: Option<u16>,
    },
    /// 3 bits.
    VlanPcp(u8),
    /// 6 bits, not shifted (0..=63).
    IpDscp(u8),
    /// 2 bits.
    IpEcn(u8),
    IpProto(u8),
    Ipv4Src {
        value: Ipv4Addr,
        mask: Option<Ipv4Addr>,
    },
    Ipv4Dst {
        value: Ipv4Addr,
        mask: Option<Ipv4Addr>,
    },
    TcpSrc {
        value: u16,
        mask: Option<u16>,
    },
    TcpDst {
        value: u16,
        mask: Option<u16>,
    },
    UdpSrc {
        value: u16,
        mask: Option<u16>,
    },
    UdpDst {
        value: u16,
        mask: Option<u16>,
    },
    SctpSrc {
        value: u16,
        mask: Option<u16>,
    },
    SctpDst {
        value: u16,
        mask: Option<u16>,
    },
    Icmpv4Type(u8),
    Icmpv4Code(u8),
    ArpOp(u16),
    ArpSpa {
        value: Ipv4Addr,
        mask: Option<Ipv4Addr>,
    },
    ArpTpa {
        value: Ipv4Addr,
        mask: Option<Ipv4Addr>,
    },
    ArpSha {
        value: [u8; 6],
        mask: Option<[u8; 6]>,
    },
    ArpTha {
        value: [u8; 6],
        mask: Option<[u8; 6]>,
    },
    Ipv6Src {
        value: Ipv6Addr,
        mask: Option<Ipv6Addr>,
    },
    Ipv6Dst {
        value: Ipv6Addr,
        mask: Option<Ipv6Addr>,
    },
    /// 20 bits.
    Ipv6Flabel {
        value: u32,
        mask: Option<u32>,
    },
    Icmpv6Type(u8),
    Icmpv6Code(u8),
    Ipv6NdTarget(Ipv6Addr),
    Ipv6NdSll([u8; 6]),
    Ipv6NdTll([u8; 6]),
    /// 20 bits.
    MplsLabel(u32),
    /// 3 bits.
    MplsTc(u8),
    MplsBos(bool),
    /// 24 bits (3 bytes on the wire).
    PbbIsid {
        value: u32,
        mask: Option<u32>,
    },
    TunnelId {
        value: u64,
        mask: Option<u64>,
    },
    /// 9 bits of `OFPIEH_*` flags.
    Ipv6Exthdr {
        value: u16,
        mask: Option<u16>,
    },
    /// A Nicira extension field (`kind` is not basic), in the raw view.
    Nx {
        kind: OxmKind,
        value: u128,
        mask: Option<u128>,
    },
}

impl OxmField {
    /// The field type.
    pub fn kind(&self) -> OxmKind {
        use OxmField as F;
        use OxmKind as K;
        match self {
            F::InPort(_) => K::InPort,
            F::InPhyPort(_) => K::InPhyPort,
            F::Metadata { .. } => K::Metadata,
            F::EthDst { .. } => K::EthDst,
            F::EthSrc { .. } => K::EthSrc,
            F::EthType(_) => K::EthType,
            F::VlanVid { .. } => K::VlanVid,
            F::VlanPcp(_) => K::VlanPcp,
            F::IpDscp(_) => K::IpDscp,
            F::IpEcn(_) => K::IpEcn,
            F::IpProto(_) => K::IpProto,
            F::Ipv4Src { .. } => K::Ipv4Src,
            F::Ipv4Dst { .. } => K::Ipv4Dst,
            F::TcpSrc { .. } => K::TcpSrc,
            F::TcpDst { .. } => K::TcpDst,
            F::UdpSrc { .. } => K::UdpSrc,
            F::UdpDst { .. } => K::UdpDst,
            F::SctpSrc { .. } => K::SctpSrc,
            F::SctpDst { .. } => K::SctpDst,
            F::Icmpv4Type(_) => K::Icmpv4Type,
            F::Icmpv4Code(_) => K::Icmpv4Code,
            F::ArpOp(_) => K::ArpOp,
            F::ArpSpa { .. } => K::ArpSpa,
            F::ArpTpa { .. } => K::ArpTpa,
            F::ArpSha { .. } => K::ArpSha,
            F::ArpTha { .. } => K::ArpTha,
            F::Ipv6Src { .. } => K::Ipv6Src,
            F::Ipv6Dst { .. } => K::Ipv6Dst,
            F::Ipv6Flabel { .. } => K::Ipv6Flabel,
            F::Icmpv6Type(_) => K::Icmpv6Type,
            F::Icmpv6Code(_) => K::Icmpv6Code,
            F::Ipv6NdTarget(_) => K::Ipv6NdTarget,
            F::Ipv6NdSll(_) => K::Ipv6NdSll,
            F::Ipv6NdTll(_) => K::Ipv6NdTll,
            F::MplsLabel(_) => K::MplsLabel,
            F::MplsTc(_) => K::MplsTc,
            F::MplsBos(_) => K::MplsBos,
            F::PbbIsid { .. } => K::PbbIsid,
            F::TunnelId { .. } => K::TunnelId,
            F::Ipv6Exthdr { .. } => K::Ipv6Exthdr,
            F::Nx { kind, .. } => *kind,
        }
    }

    /// The raw view: value and mask, big-endian, right-aligned.
    pub fn raw(&self) -> (u128, Option<u128>) {
        use OxmField as F;
        match *self {
            F::InPort(v) | F::InPhyPort(v) | F::MplsLabel(v) => (v.into(), None),
            F::EthType(v) | F::ArpOp(v) => (v.into(), None),
            F::TcpSrc { value, mask }
            | F::TcpDst { value, mask }
            | F::UdpSrc { value, mask }
            | F::UdpDst { value, mask }
            | F::SctpSrc { value, mask }
            | F::SctpDst { value, mask } => (value.into(), mask.map(u128::from)),
            F::Nx { value, mask, .. } => (value, mask),
            F::VlanPcp(v)
            | F::IpDscp(v)
            | F::IpEcn(v)
            | F::IpProto(v)
            | F::Icmpv4Type(v)
            | F::Icmpv4Code(v)
            | F::Icmpv6Type(v)
            | F::Icmpv6Code(v)
            | F::MplsTc(v) => (v.into(), None),
            F::MplsBos(v) => (v.into(), None),
            F::Ipv6NdTarget(v) => (v.into(), None),
            F::Ipv6NdSll(v) | F::Ipv6NdTll(v) => (mac_raw(v), None),
            F::Metadata { value, mask } | F::TunnelId { value, mask } => {
                (value.into(), mask.map(u128::from))
            }
            F::EthDst { value, mask }
            | F::EthSrc { value, mask }
            | F::ArpSha { value, mask }
            | F::ArpTha { value, mask } => (mac_raw(value), mask.map(mac_raw)),
            F::VlanVid { value, mask } | F::Ipv6Exthdr { value, mask } => {
                (value.into(), mask.map(u128::from))
            }
            F::Ipv4Src { value, mask }
            | F::Ipv4Dst { value, mask }
            | F::ArpSpa { value, mask }
            | F::ArpTpa { value, mask } => (
                u32::from(value).into(),
                mask.map(|m| u128::from(u32::from(m))),
            ),
            F::Ipv6Src { value, mask } | F::Ipv6Dst { value, mask } => {
                (value.into(), mask.map(u128::from))
            }
            F::Ipv6Flabel { value, mask } | F::PbbIsid { value, mask } => {
                (value.into(), mask.map(u128::from))
            }
        }
    }

    /// The value, right-aligned in a `u128`.
    pub fn value_u128(&self) -> u128 {
        self.raw().0
    }

    /// The mask as sent, if the TLV had one.
    pub fn mask_u128(&self) -> Option<u128> {
        self.raw().1
    }

    /// The mask that applies: the explicit one, or all the field's bits.
    pub fn effective_mask(&self) -> u128 {
        self.mask_u128().unwrap_or_else(|| self.kind().ones())
    }

    /// Build a typed field from its raw view, checking it: a mask on a
    /// field that takes none or bits beyond the field's width are
    /// `BAD_MASK`, value bits beyond the width (e.g. VLAN_PCP > 7) or an
    /// impossible ingress port are `BAD_VALUE`, and value bits outside the
    /// mask are `BAD_WILDCARDS` (OFTest's 1.3 conformance expectation and
    /// the spec's "switch may reject" choice; Open vSwitch silently clears
    /// them instead).
    pub fn from_raw(kind: OxmKind, value: u128, mask: Option<u128>) -> WireResult<OxmField> {
        check_raw(kind, value, mask)?;
        Ok(build(kind, value, mask))
    }

    /// Re-run the checks of [`OxmField::from_raw`] on a hand-built field.
    pub fn validate(&self) -> WireResult<()> {
        let (value, mask) = self.raw();
        check_raw(self.kind(), value, mask)
    }

    /// This TLV's OXM header.
    pub fn header(&self) -> OxmHeader {
        self.kind().header(self.mask_u128().is_some())
    }

    /// Bytes this TLV takes on the wire (header included).
    pub fn wire_len(&self) -> usize {
        4 + usize::from(self.header().length())
    }

    /// Decode one TLV (header and payload). Errors are `BadMatch` codes:
    /// unknown class or field `BAD_FIELD`, a mask on an unmaskable field
    /// `BAD_MASK`, a length that does not fit the field `BAD_LEN`, and the
    /// value checks of [`OxmField::from_raw`].
    pub fn decode(r: &mut Reader<'_>) -> WireResult<OxmField> {
        let header = OxmHeader::decode(r)?;
        if header.class() == OFPXMC_EXPERIMENTER {
            return Err(unknown_experimenter_field(header, r));
        }
        let kind = header.kind().ok_or_else(|| unknown_field(header))?;
        OxmField::decode_payload(kind, header, r)
    }

    /// Decode the payload after a header already known to name `kind`.
    pub fn decode_payload(
        kind: OxmKind,
        header: OxmHeader,
        r: &mut Reader<'_>,
    ) -> WireResult<OxmField> {
        if header.has_mask() && !kind.maskable() {
            return Err(WireError::new(
                BadMatch::BAD_MASK,
                format!("{} cannot be masked", kind.name()),
            ));
        }
        if kind.tun_metadata_index().is_some() {
            return decode_tun_metadata(kind, header, r);
        }
        let width = kind.width();
        let want = if header.has_mask() { 2 * width } else { width };
        if usize::from(header.length()) != want {
            return Err(WireError::new(
                BadMatch::BAD_LEN,
                format!(
                    "{} has length {}, expected {want}",
                    kind.name(),
                    header.length()
                ),
            ));
        }
        if r.remaining() < want {
            return Err(WireError::new(
                BadMatch::BAD_LEN,
                format!(
                    "{} needs {want} payload bytes, have {}",
                    kind.name(),
                    r.remaining()
                ),
            ));
        }
        let value = read_uint(r, width)?;
        let mask = if header.has_mask() {
            Some(read_uint(r, width)?)
        } else {
            None
        };
        OxmField::from_raw(kind, value, mask)
    }

    /// Append the TLV (no padding).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (value, mask) = self.raw();
        let width = self.kind().width();
        out.put_u32(self.header().0);
        put_uint(out, value, width);
        if let Some(mask) = mask {
            put_uint(out, mask, width);
        }
    }
}

/// A `tun_metadataN` TLV: variable length, as Open vSwitch sends it
/// (`ovs-ofctl` drops leading zero bytes; a bare `tun_metadata0` is a
/// masked TLV of length 0, a presence-only match). The value is
/// right-aligned; up to 124 bytes are accepted, but only the low 16 may be
/// non-zero (the switch's whole option space, see `datapath::tunnel::tlv`).
fn decode_tun_metadata(
    kind: OxmKind,
    header: OxmHeader,
    r: &mut Reader<'_>,
) -> WireResult<OxmField> {
    let len = usize::from(header.length());
    let n = if header.has_mask() { len / 2 } else { len };
    if header.has_mask() && len % 2 != 0 || n > usize::from(MAX_OPTION_LEN) {
        return Err(WireError::new(
            BadMatch::BAD_LEN,
            format!("{} has length {len}", kind.name()),
        ));
    }
    let mut part = || -> WireResult<u128> {
        let bytes = r.bytes(n, "tun_metadata payload").map_err(|_| {
            WireError::new(
                BadMatch::BAD_LEN,
                format!("{} needs {len} payload bytes", kind.name()),
            )
        })?;
        let (high, low) = bytes.split_at(n.saturating_sub(16));
        if high.iter().any(|&b| b != 0) {
            return Err(WireError::new(
                BadMatch::BAD_VALUE,
                format!(
                    "{} is wider than the switch's 16-byte option space",
                    kind.name()
                ),
            ));
        }
        Ok(low.iter().fold(0u128, |a, &b| a << 8 | u128::from(b)))
    };
    let value = part()?;
    let mask = if header.has_mask() {
        Some(part()?)
    } else {
        None
    };
    OxmField::from_raw(kind, value, mask)
}

/// `BAD_FIELD` for a header we do not know.
pub(crate) fn unknown_field(header: OxmHeader) -> WireError {
    let what = match header.class() {
        OFPXMC_OPENFLOW_BASIC => format!("unknown basic OXM field {}", header.field()),
        OFPXMC_EXPERIMENTER => "experimenter OXM class is not supported".to_string(),
        OFPXMC_NXM_0 | OFPXMC_NXM_1 => format!(
            "unknown Nicira field {} of class {:#06x}",
            header.field(),
            header.class()
        ),
        c => format!("unknown OXM class {c:#06x}"),
    };
    WireError::new(
        BadMatch::BAD_FIELD,
        format!("{what} (header {:#010x})", header.0),
    )
}

/// `BAD_FIELD` for an experimenter-class TLV (`class 0xffff`, then a
/// 32-bit experimenter id): Open vSwitch gives none of the fields this
/// switch supports an experimenter form in OpenFlow 1.3, so every one is
/// unknown; the message names the experimenter when it can be read.
pub(crate) fn unknown_experimenter_field(header: OxmHeader, r: &mut Reader<'_>) -> WireError {
    let exp = if usize::from(header.length()) >= 4 && r.remaining() >= 4 {
        r.u32("oxm experimenter").ok()
    } else {
        None
    };
    let who = match exp {
        Some(crate::wire::nx::NX_VENDOR_ID) => "Nicira experimenter".to_string(),
        Some(e) => format!("experimenter {e:#010x}"),
        None => "truncated experimenter".to_string(),
    };
    WireError::new(
        BadMatch::BAD_FIELD,
        format!(
            "{who} OXM field {} is not supported (header {:#010x})",
            header.field(),
            header.0
        ),
    )
}

fn check_raw(kind: OxmKind, value: u128, mask: Option<u128>) -> WireResult<()> {
    let name = kind.name();
    let ones = kind.ones();
    if mask.is_some() && !kind.maskable() {
        return Err(WireError::new(
            BadMatch::BAD_MASK,
            format!("{name} cannot be masked"),
        ));
    }
    if value & !ones != 0 {
        return Err(WireError::new(
            BadMatch::BAD_VALUE,
            format!("{name} value {value:#x} exceeds {} bits", kind.bits()),
        ));
    }
    if let Some(mask) = mask {
        if mask & !ones != 0 {
            return Err(WireError::new(
                BadMatch::BAD_MASK,
                format!("{name} mask {mask:#x} exceeds {} bits", kind.bits()),
            ));
        }
        if value & !mask != 0 {
            return Err(WireError::new(
                BadMatch::BAD_WILDCARDS,
                format!("{name} value {value:#x} has bits outside mask {mask:#x}"),
            ));
        }
    }
    if matches!(kind, OxmKind::InPort | OxmKind::InPhyPort) {
        // `value` fits 32 bits: checked above.
        let port = value as u32;
        let ok = (1..=port_no::MAX).contains(&port)
            || port == port_no::LOCAL
            || port == port_no::CONTROLLER;
        if !ok {
            return Err(WireError::new(
                BadMatch::BAD_VALUE,
                format!("{name} {port:#x} is not an ingress port"),
            ));
        }
    }
    Ok(())
}

/// The typed field for a raw view that [`check_raw`] accepted (the
/// narrowing casts below cannot lose bits then).
fn build(kind: OxmKind, v: u128, m: Option<u128>) -> OxmField {
    use OxmField as F;
    use OxmKind as K;
    let ip4 = |x: u128| Ipv4Addr::from(x as u32);
    let ip6 = Ipv6Addr::from;
    match kind {
        K::InPort => F::InPort(v as u32),
        K::InPhyPort => F::InPhyPort(v as u32),
        K::Metadata => F::Metadata {
            value: v as u64,
            mask: m.map(|m| m as u64),
        },
        K::EthDst => F::EthDst {
            value: mac(v),
            mask: m.map(mac),
        },
        K::EthSrc => F::EthSrc {
            value: mac(v),
            mask: m.map(mac),
        },
        K::EthType => F::EthType(v as u16),
        K::VlanVid => F::VlanVid {
            value: v as u16,
            mask: m.map(|m| m as u16),
        },
        K::VlanPcp => F::VlanPcp(v as u8),
        K::IpDscp => F::IpDscp(v as u8),
        K::IpEcn => F::IpEcn(v as u8),
        K::IpProto => F::IpProto(v as u8),
        K::Ipv4Src => F::Ipv4Src {
            value: ip4(v),
            mask: m.map(ip4),
        },
        K::Ipv4Dst => F::Ipv4Dst {
            value: ip4(v),
            mask: m.map(ip4),
        },
        K::TcpSrc => F::TcpSrc {
            value: v as u16,
            mask: m.map(|m| m as u16),
        },
        K::TcpDst => F::TcpDst {
            value: v as u16,
            mask: m.map(|m| m as u16),
        },
        K::UdpSrc => F::UdpSrc {
            value: v as u16,
            mask: m.map(|m| m as u16),
        },
        K::UdpDst => F::UdpDst {
            value: v as u16,
            mask: m.map(|m| m as u16),
        },
        K::SctpSrc => F::SctpSrc {
            value: v as u16,
            mask: m.map(|m| m as u16),
        },
        K::SctpDst => F::SctpDst {
            value: v as u16,
            mask: m.map(|m| m as u16),
        },
        K::Icmpv4Type => F::Icmpv4Type(v as u8),
        K::Icmpv4Code => F::Icmpv4Code(v as u8),
        K::ArpOp => F::ArpOp(v as u16),
        K::ArpSpa => F::ArpSpa {
            value: ip4(v),
            mask: m.map(ip4),
        },
        K::ArpTpa => F::ArpTpa {
            value: ip4(v),
            mask: m.map(ip4),
        },
        K::ArpSha => F::ArpSha {
            value: mac(v),
            mask: m.map(mac),
        },
        K::ArpTha => F::ArpTha {
            value: mac(v),
            mask: m.map(mac),
        },
        K::Ipv6Src => F::Ipv6Src {
            value: ip6(v),
            mask: m.map(ip6),
        },
        K::Ipv6Dst => F::Ipv6Dst {
            value: ip6(v),
            mask: m.map(ip6),
        },
        K::Ipv6Flabel => F::Ipv6Flabel {
            value: v as u32,
            mask: m.map(|m| m as u32),
        },
        K::Icmpv6Type => F::Icmpv6Type(v as u8),
        K::Icmpv6Code => F::Icmpv6Code(v as u8),
        K::Ipv6NdTarget => F::Ipv6NdTarget(ip6(v)),
        K::Ipv6NdSll => F::Ipv6NdSll(mac(v)),
        K::Ipv6NdTll => F::Ipv6NdTll(mac(v)),
        K::MplsLabel => F::MplsLabel(v as u32),
        K::MplsTc => F::MplsTc(v as u8),
        K::MplsBos => F::MplsBos(v != 0),
        K::PbbIsid => F::PbbIsid {
            value: v as u32,
            mask: m.map(|m| m as u32),
        },
        K::TunnelId => F::TunnelId {
            value: v as u64,
            mask: m.map(|m| m as u64),
        },
        K::Ipv6Exthdr => F::Ipv6Exthdr {
            value: v as u16,
            mask: m.map(|m| m as u16),
        },
        kind => F::Nx {
            kind,
            value: v,
            mask: m,
        },
    }
}

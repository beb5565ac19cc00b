//! Which OXM fields exist: the 32-bit [`OxmHeader`] that names a field on
//! the wire, and [`OxmKind`], the 40 OpenFlow-basic field types.
//!
//! Every field is described once, in the `KINDS` table (spec 1.3.5 section
//! 7.2.3.7, table 12): its field number, its width in bytes, how many of
//! those bits are meaningful, whether it may carry a mask and whether
//! Set-Field may write it. Everything generic (TLV framing, length checks,
//! value/mask checks, the OXM ids that table-features advertises) reads that
//! table, so adding knowledge about a field means editing one row.

use crate::wire::bytes::Reader;
use crate::wire::error::{BadMatch, WireError, WireResult};

/// `OFPXMC_NXM_0`: Nicira extension class 0 (not supported here).
pub const OFPXMC_NXM_0: u16 = 0x0000;
/// `OFPXMC_NXM_1`: Nicira extension class 1 (not supported here).
pub const OFPXMC_NXM_1: u16 = 0x0001;
/// `OFPXMC_OPENFLOW_BASIC`: the class of every field in [`OxmKind`].
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// `OFPXMC_EXPERIMENTER`: experimenter class (not supported here).
pub const OFPXMC_EXPERIMENTER: u16 = 0xffff;

/// `OFPVID_PRESENT`: the VLAN_VID bit meaning "a VLAN tag is present".
pub const OFPVID_PRESENT: u16 = 0x1000;
/// `OFPVID_NONE`: the VLAN_VID value meaning "no VLAN tag".
pub const OFPVID_NONE: u16 = 0x0000;

/// A 32-bit OXM header: `class:16 | field:7 | hasmask:1 | length:8`.
///
/// `length` counts the payload bytes after the header (value, plus the mask
/// when `hasmask` is set). Table-features properties list bare headers like
/// this ("OXM ids"), so it is public on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OxmHeader(pub u32);

impl OxmHeader {
    /// Build a header from its parts (`field` is truncated to 7 bits).
    pub fn new(class: u16, field: u8, has_mask: bool, length: u8) -> Self {
        OxmHeader(
            (u32::from(class) << 16)
                | (u32::from(field & 0x7f) << 9)
                | (u32::from(has_mask) << 8)
                | u32::from(length),
        )
    }

    pub fn class(self) -> u16 {
        (self.0 >> 16) as u16
    }

    pub fn field(self) -> u8 {
        ((self.0 >> 9) & 0x7f) as u8
    }

    pub fn has_mask(self) -> bool {
        self.0 & 0x100 != 0
    }

    /// Payload length in bytes (value + mask).
    pub fn length(self) -> u8 {
        (self.0 & 0xff) as u8
    }

    /// The basic field this header names, if it is one.
    pub fn basic_kind(self) -> Option<OxmKind> {
        if self.class() == OFPXMC_OPENFLOW_BASIC {
            OxmKind::from_field(self.field())
        } else {
            None
        }
    }

    /// Read a header; a short buffer is `BadMatch::BAD_LEN`.
    pub fn decode(r: &mut Reader<'_>) -> WireResult<OxmHeader> {
        if r.remaining() < 4 {
            return Err(WireError::new(
                BadMatch::BAD_LEN,
                format!("OXM header needs 4 bytes, have {}", r.remaining()),
            ));
        }
        Ok(OxmHeader(r.u32("oxm header")?))
    }
}

/// An OpenFlow-basic OXM field type (`OFPXMT_OFB_*`); the discriminant is
/// the 7-bit field number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum OxmKind {
    InPort = 0,
    InPhyPort = 1,
    Metadata = 2,
    EthDst = 3,
    EthSrc = 4,
    EthType = 5,
    VlanVid = 6,
    VlanPcp = 7,
    IpDscp = 8,
    IpEcn = 9,
    IpProto = 10,
    Ipv4Src = 11,
    Ipv4Dst = 12,
    TcpSrc = 13,
    TcpDst = 14,
    UdpSrc = 15,
    UdpDst = 16,
    SctpSrc = 17,
    SctpDst = 18,
    Icmpv4Type = 19,
    Icmpv4Code = 20,
    ArpOp = 21,
    ArpSpa = 22,
    ArpTpa = 23,
    ArpSha = 24,
    ArpTha = 25,
    Ipv6Src = 26,
    Ipv6Dst = 27,
    Ipv6Flabel = 28,
    Icmpv6Type = 29,
    Icmpv6Code = 30,
    Ipv6NdTarget = 31,
    Ipv6NdSll = 32,
    Ipv6NdTll = 33,
    MplsLabel = 34,
    MplsTc = 35,
    MplsBos = 36,
    PbbIsid = 37,
    TunnelId = 38,
    Ipv6Exthdr = 39,
}

/// What the spec says about one field.
#[derive(Debug)]
struct KindInfo {
    kind: OxmKind,
    name: &'static str,
    /// Bytes on the wire (the value; the mask has the same width).
    width: u8,
    /// Meaningful low-order bits of the value (e.g. 13 for VLAN_VID).
    bits: u8,
    maskable: bool,
    /// Set-Field may write it (all header fields; not the pipeline
    /// fields IN_PORT, IN_PHY_PORT, METADATA, nor the IPV6_EXTHDR
    /// pseudo-field).
    settable: bool,
}

macro_rules! kinds {
    ($($kind:ident $name:literal $width:literal $bits:literal $mask:literal $set:literal;)*) => {
        /// Table 12 of the spec, indexed by field number.
        static KINDS: [KindInfo; 40] = [$(KindInfo {
            kind: OxmKind::$kind,
            name: $name,
            width: $width,
            bits: $bits,
            maskable: $mask,
            settable: $set,
        }),*];
    };
}

kinds! {
    // kind        name                     width bits  mask   set
    InPort       "OXM_OF_IN_PORT"          4   32  false false;
    InPhyPort    "OXM_OF_IN_PHY_PORT"      4   32  false false;
    Metadata     "OXM_OF_METADATA"         8   64  true  false;
    EthDst       "OXM_OF_ETH_DST"          6   48  true  true;
    EthSrc       "OXM_OF_ETH_SRC"          6   48  true  true;
    EthType      "OXM_OF_ETH_TYPE"         2   16  false true;
    VlanVid      "OXM_OF_VLAN_VID"         2   13  true  true;
    VlanPcp      "OXM_OF_VLAN_PCP"         1    3  false true;
    IpDscp       "OXM_OF_IP_DSCP"          1    6  false true;
    IpEcn        "OXM_OF_IP_ECN"           1    2  false true;
    IpProto      "OXM_OF_IP_PROTO"         1    8  false true;
    Ipv4Src      "OXM_OF_IPV4_SRC"         4   32  true  true;
    Ipv4Dst      "OXM_OF_IPV4_DST"         4   32  true  true;
    TcpSrc       "OXM_OF_TCP_SRC"          2   16  false true;
    TcpDst       "OXM_OF_TCP_DST"          2   16  false true;
    UdpSrc       "OXM_OF_UDP_SRC"          2   16  false true;
    UdpDst       "OXM_OF_UDP_DST"          2   16  false true;
    SctpSrc      "OXM_OF_SCTP_SRC"         2   16  false true;
    SctpDst      "OXM_OF_SCTP_DST"         2   16  false true;
    Icmpv4Type   "OXM_OF_ICMPV4_TYPE"      1    8  false true;
    Icmpv4Code   "OXM_OF_ICMPV4_CODE"      1    8  false true;
    ArpOp        "OXM_OF_ARP_OP"           2   16  false true;
    ArpSpa       "OXM_OF_ARP_SPA"          4   32  true  true;
    ArpTpa       "OXM_OF_ARP_TPA"          4   32  true  true;
    ArpSha       "OXM_OF_ARP_SHA"          6   48  true  true;
    ArpTha       "OXM_OF_ARP_THA"          6   48  true  true;
    Ipv6Src      "OXM_OF_IPV6_SRC"        16  128  true  true;
    Ipv6Dst      "OXM_OF_IPV6_DST"        16  128  true  true;
    Ipv6Flabel   "OXM_OF_IPV6_FLABEL"      4   20  true  true;
    Icmpv6Type   "OXM_OF_ICMPV6_TYPE"      1    8  false true;
    Icmpv6Code   "OXM_OF_ICMPV6_CODE"      1    8  false true;
    Ipv6NdTarget "OXM_OF_IPV6_ND_TARGET"  16  128  false true;
    Ipv6NdSll    "OXM_OF_IPV6_ND_SLL"      6   48  false true;
    Ipv6NdTll    "OXM_OF_IPV6_ND_TLL"      6   48  false true;
    MplsLabel    "OXM_OF_MPLS_LABEL"       4   20  false true;
    MplsTc       "OXM_OF_MPLS_TC"          1    3  false true;
    MplsBos      "OXM_OF_MPLS_BOS"         1    1  false true;
    PbbIsid      "OXM_OF_PBB_ISID"         3   24  true  true;
    TunnelId     "OXM_OF_TUNNEL_ID"        8   64  true  true;
    Ipv6Exthdr   "OXM_OF_IPV6_EXTHDR"      2    9  true  false;
}

impl OxmKind {
    /// Every basic field, in field-number order.
    pub fn all() -> impl Iterator<Item = OxmKind> {
        KINDS.iter().map(|k| k.kind)
    }

    /// The field with this 7-bit number, if OpenFlow 1.3 defines one.
    pub fn from_field(field: u8) -> Option<OxmKind> {
        KINDS.get(usize::from(field)).map(|k| k.kind)
    }

    fn info(self) -> &'static KindInfo {
        &KINDS[self as usize]
    }

    /// The 7-bit field number (`OFPXMT_OFB_*`).
    pub fn field(self) -> u8 {
        self as u8
    }

    /// The spec's name, e.g. `"OXM_OF_VLAN_VID"`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Width of the value on the wire, in bytes.
    pub fn width(self) -> usize {
        usize::from(self.info().width)
    }

    /// Number of meaningful low-order bits of the value.
    pub fn bits(self) -> u32 {
        u32::from(self.info().bits)
    }

    /// All the field's meaningful bits set (the mask of an exact match).
    pub fn ones(self) -> u128 {
        match self.bits() {
            128 => u128::MAX,
            b => (1u128 << b) - 1,
        }
    }

    /// The TLV may carry a mask (table 12's "Mask" column).
    pub fn maskable(self) -> bool {
        self.info().maskable
    }

    /// Set-Field may write this field.
    pub fn settable(self) -> bool {
        self.info().settable
    }

    /// The OXM header of this field, unmasked or masked.
    pub fn header(self, masked: bool) -> OxmHeader {
        let len = self.info().width * if masked { 2 } else { 1 };
        OxmHeader::new(OFPXMC_OPENFLOW_BASIC, self.field(), masked, len)
    }
}

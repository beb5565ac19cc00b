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
use crate::wire::nx::field as nx;

/// `OFPXMC_NXM_0`: Nicira extension class 0 (`NXM_OF_*`, see `wire::nx`).
pub const OFPXMC_NXM_0: u16 = 0x0000;
/// `OFPXMC_NXM_1`: Nicira extension class 1 (`NXM_NX_*`, see `wire::nx`).
pub const OFPXMC_NXM_1: u16 = 0x0001;
/// `OFPXMC_OPENFLOW_BASIC`: the class of every field in [`OxmKind`].
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// `OFPXMC_EXPERIMENTER`: experimenter class; the header is followed by a
/// 32-bit experimenter id (no experimenter field is supported yet).
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

    /// The field this header names: a basic field, a Nicira field, or a
    /// basic field under its NXM name (`NXM_OF_ETH_DST` is ETH_DST).
    pub fn kind(self) -> Option<OxmKind> {
        match self.class() {
            OFPXMC_OPENFLOW_BASIC => OxmKind::from_field(self.field()),
            OFPXMC_NXM_0 | OFPXMC_NXM_1 => nx::kind_of(self.class(), self.field()),
            _ => None,
        }
    }

    /// The same header with the mask bit and length of an unmasked TLV of
    /// `width` bytes (how NX actions name a field).
    pub fn unmasked(self, width: usize) -> OxmHeader {
        OxmHeader::new(self.class(), self.field(), false, width as u8)
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

/// An OXM field type: the OpenFlow-basic fields (`OFPXMT_OFB_*`, whose
/// discriminant is the 7-bit field number) and, from 40 on, the Nicira
/// extension fields this switch knows (described in `wire::nx::field`).
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
    // --- Nicira extension fields (rows of `wire::nx::field::NX_KINDS`) ---
    /// `NXM_OF_IN_PORT`: the ingress port as a 16-bit OpenFlow 1.0 number.
    NxmInPort = 40,
    /// `NXM_OF_VLAN_TCI`: the whole TCI, CFI bit meaning "tagged".
    NxmVlanTci = 41,
    Reg0 = 42,
    Reg1 = 43,
    Reg2 = 44,
    Reg3 = 45,
    Reg4 = 46,
    Reg5 = 47,
    Reg6 = 48,
    Reg7 = 49,
    Reg8 = 50,
    Reg9 = 51,
    Reg10 = 52,
    Reg11 = 53,
    Reg12 = 54,
    Reg13 = 55,
    Reg14 = 56,
    Reg15 = 57,
    TunIpv4Src = 58,
    TunIpv4Dst = 59,
    TunIpv6Src = 60,
    TunIpv6Dst = 61,
    TunFlags = 62,
    PktMark = 63,
    IpFrag = 64,
    /// `NXM_NX_TUN_METADATA0..63`: GENEVE options, as the bridge's TLV map
    /// names them (variable length on the wire; see `wire::nx::field`).
    TunMetadata0 = 65,
    TunMetadata1 = 66,
    TunMetadata2 = 67,
    TunMetadata3 = 68,
    TunMetadata4 = 69,
    TunMetadata5 = 70,
    TunMetadata6 = 71,
    TunMetadata7 = 72,
    TunMetadata8 = 73,
    TunMetadata9 = 74,
    TunMetadata10 = 75,
    TunMetadata11 = 76,
    TunMetadata12 = 77,
    TunMetadata13 = 78,
    TunMetadata14 = 79,
    TunMetadata15 = 80,
    TunMetadata16 = 81,
    TunMetadata17 = 82,
    TunMetadata18 = 83,
    TunMetadata19 = 84,
    TunMetadata20 = 85,
    TunMetadata21 = 86,
    TunMetadata22 = 87,
    TunMetadata23 = 88,
    TunMetadata24 = 89,
    TunMetadata25 = 90,
    TunMetadata26 = 91,
    TunMetadata27 = 92,
    TunMetadata28 = 93,
    TunMetadata29 = 94,
    TunMetadata30 = 95,
    TunMetadata31 = 96,
    TunMetadata32 = 97,
    TunMetadata33 = 98,
    TunMetadata34 = 99,
    TunMetadata35 = 100,
    TunMetadata36 = 101,
    TunMetadata37 = 102,
    TunMetadata38 = 103,
    TunMetadata39 = 104,
    TunMetadata40 = 105,
    TunMetadata41 = 106,
    TunMetadata42 = 107,
    TunMetadata43 = 108,
    TunMetadata44 = 109,
    TunMetadata45 = 110,
    TunMetadata46 = 111,
    TunMetadata47 = 112,
    TunMetadata48 = 113,
    TunMetadata49 = 114,
    TunMetadata50 = 115,
    TunMetadata51 = 116,
    TunMetadata52 = 117,
    TunMetadata53 = 118,
    TunMetadata54 = 119,
    TunMetadata55 = 120,
    TunMetadata56 = 121,
    TunMetadata57 = 122,
    TunMetadata58 = 123,
    TunMetadata59 = 124,
    TunMetadata60 = 125,
    TunMetadata61 = 126,
    TunMetadata62 = 127,
    TunMetadata63 = 128,
}

/// Number of `tun_metadataN` fields.
pub const TUN_METADATA_FIELDS: u8 = 64;

/// The first Nicira kind's discriminant.
pub(crate) const FIRST_NX: u8 = OxmKind::NxmInPort as u8;

/// What the spec says about one field.
#[derive(Debug)]
pub(crate) struct KindInfo {
    pub(crate) kind: OxmKind,
    /// OXM class and 7-bit field number of the field's own header.
    pub(crate) class: u16,
    pub(crate) field: u8,
    pub(crate) name: &'static str,
    /// Bytes on the wire (the value; the mask has the same width).
    pub(crate) width: u8,
    /// Meaningful low-order bits of the value (e.g. 13 for VLAN_VID).
    pub(crate) bits: u8,
    pub(crate) maskable: bool,
    /// Set-Field may write it (all header fields; not the pipeline
    /// fields IN_PORT, IN_PHY_PORT, METADATA, nor the IPV6_EXTHDR
    /// pseudo-field).
    pub(crate) settable: bool,
}

macro_rules! kinds {
    ($($kind:ident $name:literal $width:literal $bits:literal $mask:literal $set:literal;)*) => {
        /// Table 12 of the spec, indexed by field number.
        static KINDS: [KindInfo; 40] = [$(KindInfo {
            kind: OxmKind::$kind,
            class: OFPXMC_OPENFLOW_BASIC,
            field: OxmKind::$kind as u8,
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
    TcpSrc       "OXM_OF_TCP_SRC"          2   16  true  true;
    TcpDst       "OXM_OF_TCP_DST"          2   16  true  true;
    UdpSrc       "OXM_OF_UDP_SRC"          2   16  true  true;
    UdpDst       "OXM_OF_UDP_DST"          2   16  true  true;
    SctpSrc      "OXM_OF_SCTP_SRC"         2   16  true  true;
    SctpDst      "OXM_OF_SCTP_DST"         2   16  true  true;
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

    /// Every Nicira extension field this switch knows.
    pub fn nicira() -> impl Iterator<Item = OxmKind> {
        nx::NX_KINDS.iter().map(|k| k.kind)
    }

    /// The basic field with this 7-bit number, if OpenFlow 1.3 defines one.
    pub fn from_field(field: u8) -> Option<OxmKind> {
        KINDS.get(usize::from(field)).map(|k| k.kind)
    }

    fn info(self) -> &'static KindInfo {
        let i = self as u8;
        if i < FIRST_NX {
            &KINDS[usize::from(i)]
        } else {
            &nx::NX_KINDS[usize::from(i - FIRST_NX)]
        }
    }

    /// An OpenFlow-basic field (not a Nicira extension).
    pub fn is_basic(self) -> bool {
        (self as u8) < FIRST_NX
    }

    /// The 7-bit field number within the field's class (`OFPXMT_OFB_*`
    /// for basic fields).
    pub fn field(self) -> u8 {
        self.info().field
    }

    /// The OXM class of the field's own header.
    pub fn class(self) -> u16 {
        self.info().class
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

    /// `N` for `tun_metadataN`.
    pub fn tun_metadata_index(self) -> Option<u8> {
        let first = OxmKind::TunMetadata0 as u8;
        (self as u8)
            .checked_sub(first)
            .filter(|&i| i < TUN_METADATA_FIELDS)
    }

    /// `tun_metadataN`, for `N` below 64.
    pub fn tun_metadata(index: u8) -> Option<OxmKind> {
        let first = usize::from(OxmKind::TunMetadata0 as u8 - FIRST_NX);
        (index < TUN_METADATA_FIELDS).then(|| nx::NX_KINDS[first + usize::from(index)].kind)
    }

    /// The OXM header of this field, unmasked or masked.
    pub fn header(self, masked: bool) -> OxmHeader {
        let len = self.info().width * if masked { 2 } else { 1 };
        OxmHeader::new(self.class(), self.field(), masked, len)
    }
}

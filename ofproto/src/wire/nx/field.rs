//! Nicira extension match fields: the `NXM_OF_*` (class 0x0000) and
//! `NXM_NX_*` (class 0x0001) headers.
//!
//! The one idea: a Nicira field is just another [`OxmKind`]. Its row in
//! [`NX_KINDS`] has the same columns as a basic field's row (width,
//! meaningful bits, maskable, settable), so TLV framing, value and mask
//! checks, duplicate detection and the key mapping are the basic fields'
//! code, unchanged. Where Nicira gave an OpenFlow-basic field a second
//! header (`NXM_OF_ETH_DST`, `NXM_NX_TUN_ID`, ...) the header decodes to the
//! basic kind ([`NXM_ALIASES`]): one field, two spellings, as in Open
//! vSwitch. Matches re-encode such a field under its OXM header (what
//! `ovs-ofctl -O OpenFlow13` sends anyway); NX actions keep the header they
//! were given, so a dump shows the controller's own spelling.
//!
//! Numbers and semantics follow Open vSwitch's `lib/meta-flow.xml`:
//! `tun_flags` has one public flag, `oam` (bit 0); `ip_frag` is two bits,
//! `1` = a fragment, `2` = a later fragment (not the first), and needs an
//! IPv4 or IPv6 ethertype.

use crate::wire::oxm::kind::KindInfo;
use crate::wire::oxm::{OxmKind, OFPXMC_NXM_0, OFPXMC_NXM_1};

/// `NXM_NX_IP_FRAG` / `ip_frag` bit: the packet is a fragment.
pub const NX_IP_FRAG_ANY: u8 = 1;
/// `NXM_NX_IP_FRAG` / `ip_frag` bit: a fragment other than the first.
pub const NX_IP_FRAG_LATER: u8 = 2;
/// `NXM_NX_TUN_FLAGS` / `tun_flags` bit: OAM frame (`+oam`).
pub const NX_TUN_FLAG_OAM: u16 = 1;

macro_rules! nx_kinds {
    ($($kind:ident $class:ident $field:literal $name:literal
       $width:literal $bits:literal $mask:literal $set:literal;)*) => {
        /// The Nicira fields, in [`OxmKind`] discriminant order from
        /// `NxmInPort`.
        pub(crate) static NX_KINDS: [KindInfo; 89] = [$(KindInfo {
            kind: OxmKind::$kind,
            class: $class,
            field: $field,
            name: $name,
            width: $width,
            bits: $bits,
            maskable: $mask,
            settable: $set,
        }),*];
    };
}

nx_kinds! {
    // kind      class        field name                 width bits mask  set
    NxmInPort    OFPXMC_NXM_0   0 "NXM_OF_IN_PORT"        2   16  false false;
    NxmVlanTci   OFPXMC_NXM_0   4 "NXM_OF_VLAN_TCI"       2   16  true  false;
    Reg0         OFPXMC_NXM_1   0 "NXM_NX_REG0"           4   32  true  true;
    Reg1         OFPXMC_NXM_1   1 "NXM_NX_REG1"           4   32  true  true;
    Reg2         OFPXMC_NXM_1   2 "NXM_NX_REG2"           4   32  true  true;
    Reg3         OFPXMC_NXM_1   3 "NXM_NX_REG3"           4   32  true  true;
    Reg4         OFPXMC_NXM_1   4 "NXM_NX_REG4"           4   32  true  true;
    Reg5         OFPXMC_NXM_1   5 "NXM_NX_REG5"           4   32  true  true;
    Reg6         OFPXMC_NXM_1   6 "NXM_NX_REG6"           4   32  true  true;
    Reg7         OFPXMC_NXM_1   7 "NXM_NX_REG7"           4   32  true  true;
    Reg8         OFPXMC_NXM_1   8 "NXM_NX_REG8"           4   32  true  true;
    Reg9         OFPXMC_NXM_1   9 "NXM_NX_REG9"           4   32  true  true;
    Reg10        OFPXMC_NXM_1  10 "NXM_NX_REG10"          4   32  true  true;
    Reg11        OFPXMC_NXM_1  11 "NXM_NX_REG11"          4   32  true  true;
    Reg12        OFPXMC_NXM_1  12 "NXM_NX_REG12"          4   32  true  true;
    Reg13        OFPXMC_NXM_1  13 "NXM_NX_REG13"          4   32  true  true;
    Reg14        OFPXMC_NXM_1  14 "NXM_NX_REG14"          4   32  true  true;
    Reg15        OFPXMC_NXM_1  15 "NXM_NX_REG15"          4   32  true  true;
    TunIpv4Src   OFPXMC_NXM_1  31 "NXM_NX_TUN_IPV4_SRC"   4   32  true  true;
    TunIpv4Dst   OFPXMC_NXM_1  32 "NXM_NX_TUN_IPV4_DST"   4   32  true  true;
    TunIpv6Src   OFPXMC_NXM_1 109 "NXM_NX_TUN_IPV6_SRC"  16  128  true  true;
    TunIpv6Dst   OFPXMC_NXM_1 110 "NXM_NX_TUN_IPV6_DST"  16  128  true  true;
    TunFlags     OFPXMC_NXM_1 104 "NXM_NX_TUN_FLAGS"      2    1  true  true;
    PktMark      OFPXMC_NXM_1  33 "NXM_NX_PKT_MARK"       4   32  true  true;
    IpFrag       OFPXMC_NXM_1  26 "NXM_NX_IP_FRAG"        1    2  true  false;
    TunMetadata0   OFPXMC_NXM_1  40 "NXM_NX_TUN_METADATA0" 16  128  true  true;
    TunMetadata1   OFPXMC_NXM_1  41 "NXM_NX_TUN_METADATA1" 16  128  true  true;
    TunMetadata2   OFPXMC_NXM_1  42 "NXM_NX_TUN_METADATA2" 16  128  true  true;
    TunMetadata3   OFPXMC_NXM_1  43 "NXM_NX_TUN_METADATA3" 16  128  true  true;
    TunMetadata4   OFPXMC_NXM_1  44 "NXM_NX_TUN_METADATA4" 16  128  true  true;
    TunMetadata5   OFPXMC_NXM_1  45 "NXM_NX_TUN_METADATA5" 16  128  true  true;
    TunMetadata6   OFPXMC_NXM_1  46 "NXM_NX_TUN_METADATA6" 16  128  true  true;
    TunMetadata7   OFPXMC_NXM_1  47 "NXM_NX_TUN_METADATA7" 16  128  true  true;
    TunMetadata8   OFPXMC_NXM_1  48 "NXM_NX_TUN_METADATA8" 16  128  true  true;
    TunMetadata9   OFPXMC_NXM_1  49 "NXM_NX_TUN_METADATA9" 16  128  true  true;
    TunMetadata10  OFPXMC_NXM_1  50 "NXM_NX_TUN_METADATA10" 16  128  true  true;
    TunMetadata11  OFPXMC_NXM_1  51 "NXM_NX_TUN_METADATA11" 16  128  true  true;
    TunMetadata12  OFPXMC_NXM_1  52 "NXM_NX_TUN_METADATA12" 16  128  true  true;
    TunMetadata13  OFPXMC_NXM_1  53 "NXM_NX_TUN_METADATA13" 16  128  true  true;
    TunMetadata14  OFPXMC_NXM_1  54 "NXM_NX_TUN_METADATA14" 16  128  true  true;
    TunMetadata15  OFPXMC_NXM_1  55 "NXM_NX_TUN_METADATA15" 16  128  true  true;
    TunMetadata16  OFPXMC_NXM_1  56 "NXM_NX_TUN_METADATA16" 16  128  true  true;
    TunMetadata17  OFPXMC_NXM_1  57 "NXM_NX_TUN_METADATA17" 16  128  true  true;
    TunMetadata18  OFPXMC_NXM_1  58 "NXM_NX_TUN_METADATA18" 16  128  true  true;
    TunMetadata19  OFPXMC_NXM_1  59 "NXM_NX_TUN_METADATA19" 16  128  true  true;
    TunMetadata20  OFPXMC_NXM_1  60 "NXM_NX_TUN_METADATA20" 16  128  true  true;
    TunMetadata21  OFPXMC_NXM_1  61 "NXM_NX_TUN_METADATA21" 16  128  true  true;
    TunMetadata22  OFPXMC_NXM_1  62 "NXM_NX_TUN_METADATA22" 16  128  true  true;
    TunMetadata23  OFPXMC_NXM_1  63 "NXM_NX_TUN_METADATA23" 16  128  true  true;
    TunMetadata24  OFPXMC_NXM_1  64 "NXM_NX_TUN_METADATA24" 16  128  true  true;
    TunMetadata25  OFPXMC_NXM_1  65 "NXM_NX_TUN_METADATA25" 16  128  true  true;
    TunMetadata26  OFPXMC_NXM_1  66 "NXM_NX_TUN_METADATA26" 16  128  true  true;
    TunMetadata27  OFPXMC_NXM_1  67 "NXM_NX_TUN_METADATA27" 16  128  true  true;
    TunMetadata28  OFPXMC_NXM_1  68 "NXM_NX_TUN_METADATA28" 16  128  true  true;
    TunMetadata29  OFPXMC_NXM_1  69 "NXM_NX_TUN_METADATA29" 16  128  true  true;
    TunMetadata30  OFPXMC_NXM_1  70 "NXM_NX_TUN_METADATA30" 16  128  true  true;
    TunMetadata31  OFPXMC_NXM_1  71 "NXM_NX_TUN_METADATA31" 16  128  true  true;
    TunMetadata32  OFPXMC_NXM_1  72 "NXM_NX_TUN_METADATA32" 16  128  true  true;
    TunMetadata33  OFPXMC_NXM_1  73 "NXM_NX_TUN_METADATA33" 16  128  true  true;
    TunMetadata34  OFPXMC_NXM_1  74 "NXM_NX_TUN_METADATA34" 16  128  true  true;
    TunMetadata35  OFPXMC_NXM_1  75 "NXM_NX_TUN_METADATA35" 16  128  true  true;
    TunMetadata36  OFPXMC_NXM_1  76 "NXM_NX_TUN_METADATA36" 16  128  true  true;
    TunMetadata37  OFPXMC_NXM_1  77 "NXM_NX_TUN_METADATA37" 16  128  true  true;
    TunMetadata38  OFPXMC_NXM_1  78 "NXM_NX_TUN_METADATA38" 16  128  true  true;
    TunMetadata39  OFPXMC_NXM_1  79 "NXM_NX_TUN_METADATA39" 16  128  true  true;
    TunMetadata40  OFPXMC_NXM_1  80 "NXM_NX_TUN_METADATA40" 16  128  true  true;
    TunMetadata41  OFPXMC_NXM_1  81 "NXM_NX_TUN_METADATA41" 16  128  true  true;
    TunMetadata42  OFPXMC_NXM_1  82 "NXM_NX_TUN_METADATA42" 16  128  true  true;
    TunMetadata43  OFPXMC_NXM_1  83 "NXM_NX_TUN_METADATA43" 16  128  true  true;
    TunMetadata44  OFPXMC_NXM_1  84 "NXM_NX_TUN_METADATA44" 16  128  true  true;
    TunMetadata45  OFPXMC_NXM_1  85 "NXM_NX_TUN_METADATA45" 16  128  true  true;
    TunMetadata46  OFPXMC_NXM_1  86 "NXM_NX_TUN_METADATA46" 16  128  true  true;
    TunMetadata47  OFPXMC_NXM_1  87 "NXM_NX_TUN_METADATA47" 16  128  true  true;
    TunMetadata48  OFPXMC_NXM_1  88 "NXM_NX_TUN_METADATA48" 16  128  true  true;
    TunMetadata49  OFPXMC_NXM_1  89 "NXM_NX_TUN_METADATA49" 16  128  true  true;
    TunMetadata50  OFPXMC_NXM_1  90 "NXM_NX_TUN_METADATA50" 16  128  true  true;
    TunMetadata51  OFPXMC_NXM_1  91 "NXM_NX_TUN_METADATA51" 16  128  true  true;
    TunMetadata52  OFPXMC_NXM_1  92 "NXM_NX_TUN_METADATA52" 16  128  true  true;
    TunMetadata53  OFPXMC_NXM_1  93 "NXM_NX_TUN_METADATA53" 16  128  true  true;
    TunMetadata54  OFPXMC_NXM_1  94 "NXM_NX_TUN_METADATA54" 16  128  true  true;
    TunMetadata55  OFPXMC_NXM_1  95 "NXM_NX_TUN_METADATA55" 16  128  true  true;
    TunMetadata56  OFPXMC_NXM_1  96 "NXM_NX_TUN_METADATA56" 16  128  true  true;
    TunMetadata57  OFPXMC_NXM_1  97 "NXM_NX_TUN_METADATA57" 16  128  true  true;
    TunMetadata58  OFPXMC_NXM_1  98 "NXM_NX_TUN_METADATA58" 16  128  true  true;
    TunMetadata59  OFPXMC_NXM_1  99 "NXM_NX_TUN_METADATA59" 16  128  true  true;
    TunMetadata60  OFPXMC_NXM_1 100 "NXM_NX_TUN_METADATA60" 16  128  true  true;
    TunMetadata61  OFPXMC_NXM_1 101 "NXM_NX_TUN_METADATA61" 16  128  true  true;
    TunMetadata62  OFPXMC_NXM_1 102 "NXM_NX_TUN_METADATA62" 16  128  true  true;
    TunMetadata63  OFPXMC_NXM_1 103 "NXM_NX_TUN_METADATA63" 16  128  true  true;
}

/// NXM headers that name an OpenFlow-basic field of the same width:
/// `(class, field, kind, name)`.
pub(crate) static NXM_ALIASES: &[(u16, u8, OxmKind, &str)] = &[
    (OFPXMC_NXM_0, 1, OxmKind::EthDst, "NXM_OF_ETH_DST"),
    (OFPXMC_NXM_0, 2, OxmKind::EthSrc, "NXM_OF_ETH_SRC"),
    (OFPXMC_NXM_0, 3, OxmKind::EthType, "NXM_OF_ETH_TYPE"),
    (OFPXMC_NXM_0, 6, OxmKind::IpProto, "NXM_OF_IP_PROTO"),
    (OFPXMC_NXM_0, 7, OxmKind::Ipv4Src, "NXM_OF_IP_SRC"),
    (OFPXMC_NXM_0, 8, OxmKind::Ipv4Dst, "NXM_OF_IP_DST"),
    (OFPXMC_NXM_0, 9, OxmKind::TcpSrc, "NXM_OF_TCP_SRC"),
    (OFPXMC_NXM_0, 10, OxmKind::TcpDst, "NXM_OF_TCP_DST"),
    (OFPXMC_NXM_0, 11, OxmKind::UdpSrc, "NXM_OF_UDP_SRC"),
    (OFPXMC_NXM_0, 12, OxmKind::UdpDst, "NXM_OF_UDP_DST"),
    (OFPXMC_NXM_0, 13, OxmKind::Icmpv4Type, "NXM_OF_ICMP_TYPE"),
    (OFPXMC_NXM_0, 14, OxmKind::Icmpv4Code, "NXM_OF_ICMP_CODE"),
    (OFPXMC_NXM_0, 15, OxmKind::ArpOp, "NXM_OF_ARP_OP"),
    (OFPXMC_NXM_0, 16, OxmKind::ArpSpa, "NXM_OF_ARP_SPA"),
    (OFPXMC_NXM_0, 17, OxmKind::ArpTpa, "NXM_OF_ARP_TPA"),
    (OFPXMC_NXM_1, 16, OxmKind::TunnelId, "NXM_NX_TUN_ID"),
    (OFPXMC_NXM_1, 17, OxmKind::ArpSha, "NXM_NX_ARP_SHA"),
    (OFPXMC_NXM_1, 18, OxmKind::ArpTha, "NXM_NX_ARP_THA"),
    (OFPXMC_NXM_1, 19, OxmKind::Ipv6Src, "NXM_NX_IPV6_SRC"),
    (OFPXMC_NXM_1, 20, OxmKind::Ipv6Dst, "NXM_NX_IPV6_DST"),
    (OFPXMC_NXM_1, 21, OxmKind::Icmpv6Type, "NXM_NX_ICMPV6_TYPE"),
    (OFPXMC_NXM_1, 22, OxmKind::Icmpv6Code, "NXM_NX_ICMPV6_CODE"),
    (OFPXMC_NXM_1, 23, OxmKind::Ipv6NdTarget, "NXM_NX_ND_TARGET"),
    (OFPXMC_NXM_1, 24, OxmKind::Ipv6NdSll, "NXM_NX_ND_SLL"),
    (OFPXMC_NXM_1, 25, OxmKind::Ipv6NdTll, "NXM_NX_ND_TLL"),
    (OFPXMC_NXM_1, 27, OxmKind::Ipv6Flabel, "NXM_NX_IPV6_LABEL"),
];

/// The field an NXM-class header names: a Nicira field or an alias.
pub(crate) fn kind_of(class: u16, field: u8) -> Option<OxmKind> {
    NX_KINDS
        .iter()
        .find(|k| k.class == class && k.field == field)
        .map(|k| k.kind)
        .or_else(|| {
            NXM_ALIASES
                .iter()
                .find(|(c, f, _, _)| *c == class && *f == field)
                .map(|(_, _, k, _)| *k)
        })
}

/// The NXM header (class and field) Open vSwitch uses to name `kind` in
/// NX actions: the Nicira field's own, or the alias of a basic field;
/// `None` for basic fields Nicira never named (they keep their OXM header).
pub fn nxm_name(kind: OxmKind) -> Option<(u16, u8)> {
    if !kind.is_basic() {
        return Some((kind.class(), kind.field()));
    }
    NXM_ALIASES
        .iter()
        .find(|(_, _, k, _)| *k == kind)
        .map(|(c, f, _, _)| (*c, *f))
}

/// The NXM name of an NXM-class header (`NXM_NX_REG0`, `NXM_OF_ETH_DST`).
pub fn nxm_header_name(class: u16, field: u8) -> Option<&'static str> {
    NX_KINDS
        .iter()
        .find(|k| k.class == class && k.field == field)
        .map(|k| k.name)
        .or_else(|| {
            NXM_ALIASES
                .iter()
                .find(|(c, f, _, _)| *c == class && *f == field)
                .map(|(_, _, _, n)| *n)
        })
}

/// The register number of a `RegN` kind.
pub fn reg_index(kind: OxmKind) -> Option<usize> {
    let d = kind as u8;
    let r0 = OxmKind::Reg0 as u8;
    (r0..=OxmKind::Reg15 as u8)
        .contains(&d)
        .then(|| usize::from(d - r0))
}

/// `ovs-ofctl`'s names of the `tun_metadataN` fields.
static TUN_METADATA_NAMES: [&str; 64] = [
    "tun_metadata0",
    "tun_metadata1",
    "tun_metadata2",
    "tun_metadata3",
    "tun_metadata4",
    "tun_metadata5",
    "tun_metadata6",
    "tun_metadata7",
    "tun_metadata8",
    "tun_metadata9",
    "tun_metadata10",
    "tun_metadata11",
    "tun_metadata12",
    "tun_metadata13",
    "tun_metadata14",
    "tun_metadata15",
    "tun_metadata16",
    "tun_metadata17",
    "tun_metadata18",
    "tun_metadata19",
    "tun_metadata20",
    "tun_metadata21",
    "tun_metadata22",
    "tun_metadata23",
    "tun_metadata24",
    "tun_metadata25",
    "tun_metadata26",
    "tun_metadata27",
    "tun_metadata28",
    "tun_metadata29",
    "tun_metadata30",
    "tun_metadata31",
    "tun_metadata32",
    "tun_metadata33",
    "tun_metadata34",
    "tun_metadata35",
    "tun_metadata36",
    "tun_metadata37",
    "tun_metadata38",
    "tun_metadata39",
    "tun_metadata40",
    "tun_metadata41",
    "tun_metadata42",
    "tun_metadata43",
    "tun_metadata44",
    "tun_metadata45",
    "tun_metadata46",
    "tun_metadata47",
    "tun_metadata48",
    "tun_metadata49",
    "tun_metadata50",
    "tun_metadata51",
    "tun_metadata52",
    "tun_metadata53",
    "tun_metadata54",
    "tun_metadata55",
    "tun_metadata56",
    "tun_metadata57",
    "tun_metadata58",
    "tun_metadata59",
    "tun_metadata60",
    "tun_metadata61",
    "tun_metadata62",
    "tun_metadata63",
];

/// The name `ovs-ofctl` prints for a field in matches and `set_field`
/// (`reg0`, `tun_src`, `tun_metadata0`, ...).
pub fn ofctl_name(kind: OxmKind) -> Option<&'static str> {
    use OxmKind as K;
    if let Some(i) = kind.tun_metadata_index() {
        return Some(TUN_METADATA_NAMES[usize::from(i)]);
    }
    const REGS: [&str; 16] = [
        "reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7", "reg8", "reg9", "reg10",
        "reg11", "reg12", "reg13", "reg14", "reg15",
    ];
    if let Some(i) = reg_index(kind) {
        return Some(REGS[i]);
    }
    Some(match kind {
        K::NxmInPort => "in_port",
        K::NxmVlanTci => "vlan_tci",
        K::TunIpv4Src => "tun_src",
        K::TunIpv4Dst => "tun_dst",
        K::TunIpv6Src => "tun_ipv6_src",
        K::TunIpv6Dst => "tun_ipv6_dst",
        K::TunFlags => "tun_flags",
        K::PktMark => "pkt_mark",
        K::IpFrag => "ip_frag",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    //! NXM TLV fixtures: the headers `ovs-ofctl -O OpenFlow13 add-flow`
    //! sends (`nx_put_match`: NXM headers for fields without an OXM one),
    //! decoded, mapped to the key and re-encoded.
    use super::*;
    use crate::pipeline::key_map::match_to_key;
    use crate::wire::bytes::Reader;
    use crate::wire::error::BadMatch;
    use crate::wire::oxm::tests::hex;
    use crate::wire::oxm::{Match, OxmField};
    use datapath::tunnel::TlvMap;

    fn tlv(s: &str) -> OxmField {
        let bytes = hex(s);
        let mut r = Reader::new(&bytes, BadMatch::BAD_LEN);
        let f = OxmField::decode(&mut r).unwrap();
        assert!(r.is_empty());
        f
    }

    fn round_trips(s: &str, kind: OxmKind, value: u128, mask: Option<u128>) {
        let f = tlv(s);
        assert_eq!(f.kind(), kind, "{s}");
        assert_eq!(f.raw(), (value, mask), "{s}");
        let mut out = Vec::new();
        f.encode(&mut out);
        assert_eq!(out, hex(s), "{s}");
    }

    #[test]
    fn nicira_fields() {
        round_trips("00010004 00000005", OxmKind::Reg0, 5, None); // reg0=5
        round_trips(
            "00010308 00000010 000000f0",
            OxmKind::Reg1,
            0x10,
            Some(0xf0),
        );
        round_trips("00011e04 ffffffff", OxmKind::Reg15, 0xffff_ffff, None);
        round_trips("00013e04 0a000001", OxmKind::TunIpv4Src, 0x0a00_0001, None);
        round_trips(
            "00014108 0a000000 ffffff00",
            OxmKind::TunIpv4Dst,
            0x0a00_0000,
            Some(0xffff_ff00),
        );
        round_trips("00014204 0000002a", OxmKind::PktMark, 42, None);
        round_trips("0001d002 0001", OxmKind::TunFlags, 1, None); // +oam
        round_trips("00013401 01", OxmKind::IpFrag, 1, None); // ip_frag=yes
        round_trips("00013502 03 03", OxmKind::IpFrag, 3, Some(3)); // later
        round_trips("00000002 0005", OxmKind::NxmInPort, 5, None);
        // tp_dst=0x1000/0xf000 (OXM, masked).
        round_trips("80001d04 1000 f000", OxmKind::TcpDst, 0x1000, Some(0xf000));
        // NXM_NX_TUN_ID is TUNNEL_ID, re-encoded under its OXM header.
        let f = tlv("00012008 00000000 00000064");
        assert_eq!(f.kind(), OxmKind::TunnelId);
        let mut out = Vec::new();
        f.encode(&mut out);
        assert_eq!(out, hex("80004c08 00000000 00000064"));
    }

    #[test]
    fn nicira_values_are_checked() {
        let bad = |s: &str| {
            let bytes = hex(s);
            OxmField::decode(&mut Reader::new(&bytes, BadMatch::BAD_LEN))
                .unwrap_err()
                .error
        };
        // tun_flags has one flag; ip_frag two bits.
        assert_eq!(bad("0001d002 0002"), BadMatch::BAD_VALUE);
        assert_eq!(bad("00013401 04"), BadMatch::BAD_VALUE);
        // A register of the wrong length.
        assert_eq!(bad("00010002 0001"), BadMatch::BAD_LEN);
    }

    #[test]
    fn nicira_fields_in_the_key() {
        let m = Match::new()
            .with(tlv("00010004 00000005"))
            .with(tlv("00010708 00000010 000000f0"))
            .with(tlv("00013e04 0a000001"))
            .with(tlv("00014204 0000002a"))
            .with(tlv("0001d002 0001"))
            .with(OxmField::EthType(0x0800))
            .with(tlv("00013502 03 03"));
        m.check_prerequisites().unwrap();
        let (k, mk) = match_to_key(&m, &TlvMap::default()).unwrap();
        assert_eq!((k.regs[0], mk.regs[0]), (5, u32::MAX));
        assert_eq!((k.regs[3], mk.regs[3]), (0x10, 0xf0));
        assert_eq!(k.tun_src, 0x0a00_0001);
        assert_eq!(k.pkt_mark, 42);
        assert_eq!(k.tun_flags, datapath::flow::key::TUN_OAM);
        assert_eq!(mk.tun_flags, datapath::flow::key::TUN_OAM);
        assert_eq!(
            (k.nw_frag, mk.nw_frag),
            (
                datapath::flow::key::FRAG_ANY | datapath::flow::key::FRAG_LATER,
                3
            )
        );
        // ip_frag needs an IP ethertype.
        let m = Match::new().with(tlv("00013401 01"));
        assert_eq!(
            m.check_prerequisites().unwrap_err().error,
            BadMatch::BAD_PREREQ
        );
        // All sixteen registers and the IPv6 tunnel endpoints have a place.
        let m = Match::new()
            .with(tlv("00011e04 00000007"))
            .with(tlv("0001dc10 20010db8000000000000000000000001"));
        let (k, mk) = match_to_key(&m, &TlvMap::default()).unwrap();
        assert_eq!((k.regs[15], mk.regs[15]), (7, u32::MAX));
        assert_eq!(u128::from_be_bytes(k.tun_ipv6_dst), 0x2001_0db8 << 96 | 1);
        assert_eq!(mk.tun_ipv6_dst, [0xff; 16]);
    }

    /// The match `ovs-ofctl -O OpenFlow13 add-flow
    /// "tun_metadata0=0xb/0xf,tun_metadata1,tun_metadata2=0,tun_metadata3=0x1234"`
    /// sends (captured from Open vSwitch 3.1): leading zero bytes dropped, a
    /// bare field a masked TLV of length 0.
    #[test]
    fn tun_metadata_takes_the_lengths_ovs_ofctl_sends() {
        let got = |s: &str| {
            let f = tlv(s);
            (f.kind(), f.raw())
        };
        assert_eq!(
            got("00015102 0b 0f"),
            (OxmKind::TunMetadata0, (0xb, Some(0xf)))
        );
        assert_eq!(got("00015300"), (OxmKind::TunMetadata1, (0, Some(0))));
        assert_eq!(got("00015400"), (OxmKind::TunMetadata2, (0, None)));
        assert_eq!(
            got("00015602 1234"),
            (OxmKind::TunMetadata3, (0x1234, None))
        );
        assert_eq!(got("0001ce01 07"), (OxmKind::TunMetadata63, (7, None)));
        // A full 124-byte value is fine while only its low 16 bytes are set.
        let wide = format!("0001507c {}01", "00".repeat(123));
        assert_eq!(got(&wide), (OxmKind::TunMetadata0, (1, None)));
        let too_wide = hex(&format!("00015011 01{}", "00".repeat(16)));
        let mut r = Reader::new(&too_wide, BadMatch::BAD_LEN);
        assert_eq!(
            OxmField::decode(&mut r).unwrap_err().error,
            BadMatch::BAD_VALUE
        );
        let odd = hex("00015103 0b0f00");
        let mut r = Reader::new(&odd, BadMatch::BAD_LEN);
        assert_eq!(
            OxmField::decode(&mut r).unwrap_err().error,
            BadMatch::BAD_LEN
        );
    }
}

//! Tests for OXM matches: byte fixtures from Open vSwitch's ofp-print.at,
//! per-field round trips, every error code, prerequisites, and proptests.
//! The strategies are `pub(crate)` for the action/instruction/flow-mod tests.

use super::*;
use crate::wire::action::port_no;
use crate::wire::error::{BadRequest, OfError};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex fixture");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn decode(bytes: &[u8]) -> WireResult<Match> {
    let mut r = Reader::new(bytes, BadRequest::BAD_LEN);
    let m = Match::decode(&mut r)?;
    assert!(r.is_empty(), "match left {} bytes", r.remaining());
    Ok(m)
}

fn encode(m: &Match) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode(&mut out);
    assert_eq!(out.len(), m.wire_len());
    out
}

fn code(bytes: &[u8]) -> OfError {
    decode(bytes).expect_err("decode should fail").error
}

/// A match with a single TLV given as hex.
fn one_tlv(tlv: &str) -> Vec<u8> {
    let tlv = hex(tlv);
    let mut out = vec![0, 1];
    out.put_u16(4 + tlv.len() as u16);
    out.extend_from_slice(&tlv);
    out.pad_to_8(0);
    out
}

fn mac(s: &str) -> [u8; 6] {
    let v = hex(s);
    [v[0], v[1], v[2], v[3], v[4], v[5]]
}

// ---- strategies -------------------------------------------------------

/// A valid field of `kind`; masked (when the kind allows) if `allow_mask`.
pub(crate) fn arb_field_of(kind: OxmKind, allow_mask: bool) -> impl Strategy<Value = OxmField> {
    (any::<u128>(), any::<u128>(), any::<bool>()).prop_map(move |(v, m, masked)| {
        let ones = kind.ones();
        let mut v = v & ones;
        let mask = (allow_mask && masked && kind.maskable()).then_some(m & ones);
        if let Some(m) = mask {
            v &= m;
        }
        if matches!(kind, OxmKind::InPort | OxmKind::InPhyPort) {
            v = 1 + v % u128::from(port_no::MAX);
        }
        OxmField::from_raw(kind, v, mask).expect("strategy builds valid fields")
    })
}

pub(crate) fn arb_kind() -> impl Strategy<Value = OxmKind> {
    (0u8..40).prop_map(|f| OxmKind::from_field(f).expect("40 basic fields"))
}

/// A valid match: distinct kinds in random order (prerequisites not met).
pub(crate) fn arb_match() -> impl Strategy<Value = Match> {
    proptest::sample::subsequence(OxmKind::all().collect::<Vec<_>>(), 0..=12)
        .prop_shuffle()
        .prop_flat_map(|kinds| {
            kinds
                .into_iter()
                .map(|k| arb_field_of(k, true))
                .collect::<Vec<_>>()
        })
        .prop_map(|fields| Match { fields })
}

// ---- the table --------------------------------------------------------

#[test]
fn kind_table_is_in_field_number_order() {
    let kinds: Vec<OxmKind> = OxmKind::all().collect();
    assert_eq!(kinds.len(), 40);
    for (i, k) in kinds.iter().enumerate() {
        assert_eq!(usize::from(k.field()), i, "{k:?}");
        assert_eq!(OxmKind::from_field(i as u8), Some(*k));
        assert!(k.bits() as usize <= 8 * k.width());
        assert!(k.name().starts_with("OXM_OF_"));
    }
    assert_eq!(OxmKind::from_field(40), None);
    assert_eq!(OxmKind::from_field(127), None);
}

#[test]
fn oxm_ids() {
    let ids: Vec<u32> = all_basic_ids().collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(ids[0], 0x8000_0004); // IN_PORT
    assert_eq!(ids[6], 0x8000_0c02); // VLAN_VID
    assert_eq!(ids[26], 0x8000_3410); // IPV6_SRC
    assert_eq!(ids[37], 0x8000_4a03); // PBB_ISID
    let matches: Vec<u32> = match_ids().collect();
    assert_eq!(matches[0], 0x8000_0004);
    assert_eq!(matches[6], 0x8000_0d04); // VLAN_VID with HM
    assert_eq!(matches[2], 0x8000_0510); // METADATA with HM
    assert_eq!(wildcard_ids().count(), 40);
    let set: Vec<u32> = set_field_ids().collect();
    assert_eq!(set.len(), 36);
    assert!(!set.contains(&0x8000_0004));
    assert!(set.contains(&0x8000_0806)); // ETH_SRC
    let h = OxmHeader(0x8000_0d04);
    assert_eq!(
        (h.class(), h.field(), h.has_mask(), h.length()),
        (OFPXMC_OPENFLOW_BASIC, 6, true, 4)
    );
    assert_eq!(h.basic_kind(), Some(OxmKind::VlanVid));
    assert_eq!(OxmHeader::new(0xffff, 1, false, 4).basic_kind(), None);
}

// ---- fixtures (Open vSwitch tests/ofp-print.at) ------------------------

/// The match of "OFPT_FLOW_MOD - OF1.3 - flags - low verbosity".
pub(crate) const ARP_MATCH: &str = "0001 0042 80000004 00000001 80000806 505400000006 \
     80000606 505400000005 80000a02 0806 80000c02 0000 80002a02 0002 \
     80002c04 c0a80002 80002e04 c0a80001 000000000000";

pub(crate) fn arp_match() -> Match {
    Match::new()
        .with(OxmField::InPort(1))
        .with(OxmField::EthSrc {
            value: mac("505400000006"),
            mask: None,
        })
        .with(OxmField::EthDst {
            value: mac("505400000005"),
            mask: None,
        })
        .with(OxmField::EthType(0x0806))
        .with(OxmField::VlanVid {
            value: OFPVID_NONE,
            mask: None,
        })
        .with(OxmField::ArpOp(2))
        .with(OxmField::ArpSpa {
            value: Ipv4Addr::new(192, 168, 0, 2),
            mask: None,
        })
        .with(OxmField::ArpTpa {
            value: Ipv4Addr::new(192, 168, 0, 1),
            mask: None,
        })
}

#[test]
fn fixture_flow_mod_arp_match() {
    let bytes = hex(ARP_MATCH);
    let m = decode(&bytes).unwrap();
    assert_eq!(m, arp_match());
    assert_eq!(encode(&m), bytes);
    m.check_prerequisites().unwrap();
}

#[test]
fn fixture_packet_in_local_port() {
    let bytes = hex("0001 000c 80000004 fffffffe 00000000");
    let m = decode(&bytes).unwrap();
    assert_eq!(m.fields, vec![OxmField::InPort(port_no::LOCAL)]);
    assert_eq!(encode(&m), bytes);
}

#[test]
fn fixture_flow_removed_vlan() {
    let bytes = hex("0001 000a 80000c02 1009 000000000000");
    let m = decode(&bytes).unwrap();
    assert_eq!(
        m.get(OxmKind::VlanVid),
        Some(&OxmField::VlanVid {
            value: OFPVID_PRESENT | 9,
            mask: None
        })
    );
    assert_eq!(encode(&m), bytes);
}

#[test]
fn fixture_sctp_match() {
    let bytes = hex("0001 000f 80000a02 0800 80001401 84 00");
    let m = decode(&bytes).unwrap();
    assert_eq!(
        m.fields,
        vec![OxmField::EthType(0x0800), OxmField::IpProto(132)]
    );
    assert_eq!(encode(&m), bytes);
}

#[test]
fn empty_match() {
    let bytes = hex("0001 0004 00000000");
    let m = decode(&bytes).unwrap();
    assert!(m.is_empty());
    assert_eq!(encode(&m), bytes);
}

// ---- every field round trips ------------------------------------------

#[test]
fn every_field_round_trips_exact_and_masked() {
    for kind in OxmKind::all() {
        let ones = kind.ones();
        // A value with the top and bottom meaningful bits set.
        let mut value = 1u128 | (1u128 << (kind.bits() - 1));
        if matches!(kind, OxmKind::InPort | OxmKind::InPhyPort) {
            value = 0x8000_0001;
        }
        let exact = OxmField::from_raw(kind, value, None).unwrap();
        assert_eq!(exact.kind(), kind);
        assert_eq!(exact.value_u128(), value);
        assert_eq!(exact.effective_mask(), ones);
        let m = Match::new().with(exact);
        let bytes = encode(&m);
        assert_eq!(bytes.len() % 8, 0);
        assert_eq!(
            u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            kind.header(false).0
        );
        assert_eq!(decode(&bytes).unwrap(), m, "{kind:?}");
        if kind.maskable() {
            let masked = OxmField::from_raw(kind, value, Some(ones)).unwrap();
            assert_eq!(masked.header(), kind.header(true));
            let m = Match::new().with(masked);
            assert_eq!(decode(&encode(&m)).unwrap(), m, "{kind:?} masked");
        } else {
            let e = OxmField::from_raw(kind, value, Some(ones)).unwrap_err();
            assert_eq!(e.error, BadMatch::BAD_MASK, "{kind:?}");
        }
    }
}

#[test]
fn typed_values_land_in_the_right_bytes() {
    let m = Match::new()
        .with(OxmField::Ipv6Src {
            value: "2001:db8::".parse().unwrap(),
            mask: Some("ffff:ffff::".parse().unwrap()),
        })
        .with(OxmField::PbbIsid {
            value: 0xabcdef,
            mask: None,
        })
        .with(OxmField::MplsBos(true))
        .with(OxmField::Ipv6NdTarget(Ipv6Addr::LOCALHOST));
    let bytes = encode(&m);
    let want = hex("0001 0048 \
         80003520 20010db8000000000000000000000000 ffffffff000000000000000000000000 \
         80004a03 abcdef \
         80004801 01 \
         80003e10 00000000000000000000000000000001");
    assert_eq!(bytes, want);
    assert_eq!(decode(&bytes).unwrap(), m);
}

// ---- errors -------------------------------------------------------------

#[test]
fn match_type_errors() {
    assert_eq!(code(&hex("0000 0058 00000000")), BadMatch::BAD_TYPE);
    assert_eq!(code(&hex("0002 0004 00000000")), BadMatch::BAD_TYPE);
}

#[test]
fn length_errors() {
    // Header only partly there.
    assert_eq!(code(&hex("0001")), BadMatch::BAD_LEN);
    // length < 4.
    assert_eq!(code(&hex("0001 0003 00000000")), BadMatch::BAD_LEN);
    // length beyond the buffer.
    assert_eq!(code(&hex("0001 0010 80000004 00000001")), BadMatch::BAD_LEN);
    // padding missing.
    assert_eq!(code(&hex("0001 000c 80000004 00000001")), BadMatch::BAD_LEN);
    // TLV header cut short.
    assert_eq!(code(&hex("0001 0006 8000 0000")), BadMatch::BAD_LEN);
    // TLV length disagrees with the field (IN_PORT is 4 bytes).
    assert_eq!(code(&one_tlv("80000005 0000000100")), BadMatch::BAD_LEN);
    assert_eq!(code(&one_tlv("80000003 000001")), BadMatch::BAD_LEN);
    // Masked ETH_DST with the length of an unmasked one.
    assert_eq!(code(&one_tlv("80000706 505400000005")), BadMatch::BAD_LEN);
    // TLV payload runs past the match.
    assert_eq!(
        code(&hex("0001 000a 80000004 0000 0000")),
        BadMatch::BAD_LEN
    );
}

#[test]
fn unknown_fields_are_bad_field() {
    // Basic field 40 does not exist in 1.3.
    assert_eq!(code(&one_tlv("80005004 00000001")), BadMatch::BAD_FIELD);
    // NXM_0 field 30 and NXM_1 field 120 do not exist.
    assert_eq!(code(&one_tlv("00003c02 0001")), BadMatch::BAD_FIELD);
    assert_eq!(code(&one_tlv("0001f004 00000001")), BadMatch::BAD_FIELD);
    // Experimenter class (ONF, and Nicira: no supported field has an
    // experimenter form in OpenFlow 1.3).
    assert_eq!(
        code(&one_tlv("ffff0008 4f4e4600 00000001")),
        BadMatch::BAD_FIELD
    );
    assert_eq!(
        code(&one_tlv("ffff0008 00002320 00000001")),
        BadMatch::BAD_FIELD
    );
    assert_eq!(code(&one_tlv("ffff0002 0000")), BadMatch::BAD_FIELD);
}

#[test]
fn duplicate_field() {
    // OFTest DuplicateMatchField: IN_PORT twice.
    let bytes = hex("0001 0014 80000004 00000001 80000004 00000004 00000000");
    assert_eq!(code(&bytes), BadMatch::DUP_FIELD);
    let m = Match {
        fields: vec![OxmField::InPort(1), OxmField::InPort(2)],
    };
    assert_eq!(m.validate().unwrap_err().error, BadMatch::DUP_FIELD);
}

#[test]
fn masks_on_unmaskable_fields() {
    // IN_PORT with HM.
    assert_eq!(
        code(&one_tlv("80000108 00000001 ffffffff")),
        BadMatch::BAD_MASK
    );
    // ETH_TYPE with HM.
    assert_eq!(code(&one_tlv("80000b04 0800 ffff")), BadMatch::BAD_MASK);
    // VLAN_VID mask beyond 13 bits.
    assert_eq!(code(&one_tlv("80000d04 1000 f000")), BadMatch::BAD_MASK);
}

#[test]
fn out_of_range_values() {
    let cases = [
        ("80000c02 2000", "VLAN_VID > 0x1fff"),
        ("80000e01 08", "VLAN_PCP > 7"),
        ("80001001 40", "IP_DSCP > 63"),
        ("80001201 04", "IP_ECN > 3"),
        ("80004404 00100000", "MPLS_LABEL > 0xfffff"),
        ("80004601 08", "MPLS_TC > 7"),
        ("80004801 02", "MPLS_BOS > 1"),
        ("80003804 00100000", "IPV6_FLABEL > 0xfffff"),
        ("80004e02 0200", "IPV6_EXTHDR > 0x1ff"),
        ("80000004 00000000", "IN_PORT 0"),
        ("80000004 ffffffff", "IN_PORT ANY"),
        ("80000004 fffffffb", "IN_PORT FLOOD"),
        ("80000004 ffffff01", "IN_PORT above MAX"),
        ("80000204 00000000", "IN_PHY_PORT 0"),
    ];
    for (tlv, what) in cases {
        assert_eq!(code(&one_tlv(tlv)), BadMatch::BAD_VALUE, "{what}");
    }
    // The edges are fine.
    for tlv in [
        "80000c02 1fff",
        "80000e01 07",
        "80001001 3f",
        "80001201 03",
        "80004404 000fffff",
        "80000004 ffffff00",
        "80000004 fffffffd",
        "80000004 fffffffe",
    ] {
        decode(&one_tlv(tlv)).unwrap();
    }
}

#[test]
fn value_bits_outside_mask_are_bad_wildcards() {
    // OFTest BadWildcardMatch: ipv4_src 192.168.0.0/12345678 (0x00bc614e).
    let bytes = hex("0001 0016 80000a02 0800 80001708 c0a80000 00bc614e 0000");
    assert_eq!(code(&bytes), BadMatch::BAD_WILDCARDS);
    assert_eq!(
        code(&one_tlv("80000d04 1005 1000")),
        BadMatch::BAD_WILDCARDS
    );
}

#[test]
fn decoding_never_reads_past_a_tlv() {
    // Two fields where the first lies about its length: IN_PORT claiming 8.
    let bytes = hex("0001 0014 80000008 00000001 80000a02 0800 0000 00000000");
    assert_eq!(code(&bytes), BadMatch::BAD_LEN);
}

// ---- prerequisites ----------------------------------------------------

fn prereq(fields: &[OxmField]) -> Result<(), OfError> {
    let m: Match = fields.iter().copied().collect();
    m.validate().unwrap();
    m.check_prerequisites().map_err(|e| e.error)
}

fn ip4(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

#[test]
fn prerequisites_met() {
    use OxmField as F;
    let ipv4 = F::EthType(0x0800);
    let ipv6 = F::EthType(0x86dd);
    let ok: Vec<Vec<OxmField>> = vec![
        vec![],
        vec![F::InPort(1), F::InPhyPort(1)],
        vec![
            F::Ipv4Src {
                value: ip4([10, 0, 0, 0]),
                mask: Some(ip4([255, 0, 0, 0])),
            },
            ipv4,
        ],
        vec![
            ipv4,
            F::IpProto(6),
            F::TcpSrc {
                value: 80,
                mask: None,
            },
            F::TcpDst {
                value: 443,
                mask: None,
            },
        ],
        vec![
            ipv6,
            F::IpProto(6),
            F::TcpDst {
                value: 22,
                mask: None,
            },
        ],
        vec![
            ipv6,
            F::IpProto(17),
            F::UdpSrc {
                value: 53,
                mask: None,
            },
        ],
        vec![
            ipv4,
            F::IpProto(132),
            F::SctpDst {
                value: 9,
                mask: None,
            },
        ],
        vec![ipv4, F::IpProto(1), F::Icmpv4Type(8), F::Icmpv4Code(0)],
        vec![ipv6, F::IpProto(58), F::Icmpv6Type(128)],
        vec![
            ipv6,
            F::IpProto(58),
            F::Icmpv6Type(135),
            F::Ipv6NdTarget(Ipv6Addr::LOCALHOST),
            F::Ipv6NdSll([1; 6]),
        ],
        vec![
            ipv6,
            F::IpProto(58),
            F::Icmpv6Type(136),
            F::Ipv6NdTll([1; 6]),
        ],
        vec![
            F::EthType(0x0806),
            F::ArpOp(1),
            F::ArpSha {
                value: [2; 6],
                mask: None,
            },
        ],
        vec![
            F::EthType(0x8847),
            F::MplsLabel(16),
            F::MplsTc(1),
            F::MplsBos(true),
        ],
        vec![F::EthType(0x8848), F::MplsLabel(16)],
        vec![
            F::EthType(0x88e7),
            F::PbbIsid {
                value: 5,
                mask: None,
            },
        ],
        vec![
            F::VlanVid {
                value: OFPVID_PRESENT | 10,
                mask: None,
            },
            F::VlanPcp(3),
        ],
        vec![
            F::VlanVid {
                value: OFPVID_PRESENT,
                mask: Some(OFPVID_PRESENT),
            },
            F::VlanPcp(3),
        ],
        vec![
            ipv6,
            F::IpDscp(46),
            F::IpEcn(1),
            F::Ipv6Flabel {
                value: 1,
                mask: None,
            },
        ],
        vec![
            ipv6,
            F::Ipv6Exthdr {
                value: 1,
                mask: Some(1),
            },
        ],
        vec![
            F::TunnelId {
                value: 9,
                mask: None,
            },
            F::Metadata {
                value: 1,
                mask: None,
            },
        ],
    ];
    for fields in ok {
        assert_eq!(prereq(&fields), Ok(()), "{fields:?}");
    }
}

#[test]
fn prerequisites_unmet() {
    use OxmField as F;
    let ipv4 = F::EthType(0x0800);
    let ipv6 = F::EthType(0x86dd);
    let bad: Vec<Vec<OxmField>> = vec![
        // OFTest BadPreReqMatch: IPv4 addresses without ETH_TYPE.
        vec![
            F::InPort(1),
            F::Ipv4Src {
                value: ip4([192, 168, 0, 1]),
                mask: None,
            },
        ],
        vec![F::InPhyPort(1)],
        vec![
            ipv6,
            F::Ipv4Dst {
                value: ip4([1, 2, 3, 4]),
                mask: None,
            },
        ],
        vec![F::TcpSrc {
            value: 80,
            mask: None,
        }],
        vec![
            ipv4,
            F::TcpSrc {
                value: 80,
                mask: None,
            },
        ],
        vec![
            ipv4,
            F::IpProto(17),
            F::TcpSrc {
                value: 80,
                mask: None,
            },
        ],
        vec![
            F::IpProto(6),
            F::TcpSrc {
                value: 80,
                mask: None,
            },
        ],
        vec![F::EthType(0x0806), F::IpProto(6)],
        vec![ipv6, F::IpProto(1), F::Icmpv4Type(8)],
        vec![ipv4, F::IpProto(58), F::Icmpv6Type(135)],
        vec![ipv6, F::IpProto(58), F::Ipv6NdTarget(Ipv6Addr::LOCALHOST)],
        vec![
            ipv6,
            F::IpProto(58),
            F::Icmpv6Type(128),
            F::Ipv6NdTarget(Ipv6Addr::LOCALHOST),
        ],
        vec![
            ipv6,
            F::IpProto(58),
            F::Icmpv6Type(136),
            F::Ipv6NdSll([1; 6]),
        ],
        vec![
            ipv6,
            F::IpProto(58),
            F::Icmpv6Type(135),
            F::Ipv6NdTll([1; 6]),
        ],
        vec![ipv4, F::ArpOp(1)],
        vec![ipv4, F::MplsLabel(3)],
        vec![
            F::EthType(0x8100),
            F::PbbIsid {
                value: 5,
                mask: None,
            },
        ],
        vec![F::VlanPcp(1)],
        vec![
            F::VlanVid {
                value: OFPVID_NONE,
                mask: None,
            },
            F::VlanPcp(1),
        ],
        vec![
            F::VlanVid {
                value: 0x0005,
                mask: Some(0x0fff),
            },
            F::VlanPcp(1),
        ],
        vec![
            ipv4,
            F::Ipv6Flabel {
                value: 1,
                mask: None,
            },
        ],
        vec![
            ipv4,
            F::Ipv6Exthdr {
                value: 1,
                mask: None,
            },
        ],
        vec![F::IpDscp(1)],
    ];
    for fields in bad {
        assert_eq!(prereq(&fields), Err(BadMatch::BAD_PREREQ), "{fields:?}");
    }
}

#[test]
fn set_field_prerequisites() {
    let tcp = Match::new()
        .with(OxmField::EthType(0x0800))
        .with(OxmField::IpProto(6));
    tcp.check_prerequisites_of(OxmKind::TcpDst).unwrap();
    tcp.check_prerequisites_of(OxmKind::Ipv4Src).unwrap();
    tcp.check_prerequisites_of(OxmKind::EthDst).unwrap();
    for kind in [
        OxmKind::UdpDst,
        OxmKind::ArpSpa,
        OxmKind::Ipv6Src,
        OxmKind::VlanPcp,
    ] {
        assert_eq!(
            tcp.check_prerequisites_of(kind).unwrap_err().error,
            BadMatch::BAD_PREREQ,
            "{kind:?}"
        );
    }
}

#[test]
fn prerequisite_order_does_not_matter() {
    use OxmField as F;
    assert_eq!(
        prereq(&[
            F::TcpDst {
                value: 1,
                mask: None
            },
            F::IpProto(6),
            F::EthType(0x0800)
        ]),
        Ok(())
    );
}

// ---- accessors and normalization ----------------------------------------

#[test]
fn accessors() {
    let mut m = arp_match();
    assert_eq!(m.len(), 8);
    assert!(m.contains(OxmKind::ArpOp));
    assert_eq!(m.get(OxmKind::EthType), Some(&OxmField::EthType(0x0806)));
    assert_eq!(m.insert(OxmField::ArpOp(1)), Some(OxmField::ArpOp(2)));
    assert_eq!(m.len(), 8);
    assert_eq!(m.remove(OxmKind::ArpOp), Some(OxmField::ArpOp(1)));
    assert!(!m.contains(OxmKind::ArpOp));
    assert_eq!((&m).into_iter().count(), 7);
    assert_eq!(m.iter().next().map(OxmField::kind), Some(OxmKind::InPort));
}

#[test]
fn normalization() {
    let a = Match::new()
        .with(OxmField::EthType(0x0800))
        .with(OxmField::Ipv4Src {
            value: ip4([10, 0, 0, 1]),
            mask: Some(ip4([255, 255, 255, 255])),
        })
        .with(OxmField::Metadata {
            value: 0,
            mask: Some(0),
        });
    let b = Match::new()
        .with(OxmField::Ipv4Src {
            value: ip4([10, 0, 0, 1]),
            mask: None,
        })
        .with(OxmField::EthType(0x0800));
    assert_ne!(a, b);
    assert_eq!(a.normalized(), b.normalized());
    assert_eq!(a.normalized().fields[0], OxmField::EthType(0x0800));
}

// ---- properties ---------------------------------------------------------

proptest! {
    #[test]
    fn match_round_trips(m in arb_match()) {
        let bytes = encode(&m);
        prop_assert_eq!(bytes.len() % 8, 0);
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(encode(&back), bytes);
        m.validate().unwrap();
    }

    #[test]
    fn field_raw_view_round_trips(f in arb_kind().prop_flat_map(|k| arb_field_of(k, true))) {
        let (v, m) = f.raw();
        prop_assert_eq!(OxmField::from_raw(f.kind(), v, m).unwrap(), f);
        prop_assert_eq!(f.effective_mask() & !f.kind().ones(), 0);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn random_tlvs_never_panic(
        len in 4u16..80,
        tlvs in proptest::collection::vec(
            (0u8..48, any::<bool>(), 0u8..40, proptest::collection::vec(any::<u8>(), 0..40)),
            0..4,
        ),
    ) {
        // Mostly well-framed basic TLVs with arbitrary lengths and payloads.
        let mut bytes = vec![0, 1];
        bytes.put_u16(len);
        for (field, hm, l, payload) in tlvs {
            bytes.put_u32(OxmHeader::new(OFPXMC_OPENFLOW_BASIC, field, hm, l).0);
            bytes.extend_from_slice(&payload);
        }
        bytes.put_zeros(8);
        if let Ok(m) = Match::decode(&mut Reader::new(&bytes, BadRequest::BAD_LEN)) {
            m.validate().unwrap();
            let _ = m.check_prerequisites();
            prop_assert_eq!(decode(&encode(&m)).unwrap(), m);
        }
    }

    #[test]
    fn mutated_matches_never_panic(
        m in arb_match(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode(&m);
        for (at, v) in flips {
            let i = at % bytes.len();
            bytes[i] = v;
        }
        // A flipped length byte may make the match end early: decode the
        // prefix it claims, as a message decoder would, and leave the rest.
        let mut r = Reader::new(&bytes, BadRequest::BAD_LEN);
        if let Ok(m) = Match::decode(&mut r) {
            prop_assert_eq!(decode(&encode(&m)).unwrap(), m);
        }
    }
}

//! Tests for actions: fixtures from Open vSwitch's tests/ofp-actions.at and
//! ofp-print.at (including the OpenFlow 1.3.4 conformance cases 430.500 and
//! 430.510), round trips of every action, every error code, proptests.

use super::*;
use crate::wire::error::BadRequest;
use crate::wire::oxm::tests::{arb_field_of, hex};
use crate::wire::oxm::OxmKind;
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn decode(bytes: &[u8]) -> WireResult<Vec<Action>> {
    Action::decode_list(&mut Reader::new(bytes, BadRequest::BAD_LEN))
}

fn encode(actions: &[Action]) -> Vec<u8> {
    let mut out = Vec::new();
    Action::encode_list(actions, &mut out);
    assert_eq!(out.len(), Action::list_wire_len(actions));
    out
}

fn code(s: &str) -> OfError {
    decode(&hex(s)).expect_err("decode should fail").error
}

/// Decode `s`, expect `want`, and expect the same bytes back.
fn fixture(s: &str, want: &[Action]) {
    let bytes = hex(s);
    assert_eq!(decode(&bytes).unwrap(), want, "{s}");
    assert_eq!(encode(want), bytes, "{s}");
}

// ---- strategies -------------------------------------------------------

fn arb_settable_kind() -> impl Strategy<Value = OxmKind> {
    proptest::sample::select(OxmKind::all().filter(|k| k.settable()).collect::<Vec<_>>())
}

fn arb_port() -> impl Strategy<Value = u32> {
    prop_oneof![1..=port_no::MAX, port_no::IN_PORT..=port_no::LOCAL]
}

pub(crate) fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (arb_port(), any::<u16>()).prop_map(|(port, max_len)| Action::Output { port, max_len }),
        Just(Action::CopyTtlOut),
        Just(Action::CopyTtlIn),
        any::<u8>().prop_map(Action::SetMplsTtl),
        Just(Action::DecMplsTtl),
        prop_oneof![Just(0x8100u16), Just(0x88a8)].prop_map(Action::PushVlan),
        Just(Action::PopVlan),
        prop_oneof![Just(0x8847u16), Just(0x8848)].prop_map(Action::PushMpls),
        any::<u16>().prop_map(Action::PopMpls),
        any::<u32>().prop_map(Action::SetQueue),
        (0..=group_no::MAX).prop_map(Action::Group),
        any::<u8>().prop_map(Action::SetNwTtl),
        Just(Action::DecNwTtl),
        arb_settable_kind()
            .prop_flat_map(|k| arb_field_of(k, false))
            .prop_map(Action::SetField),
        Just(Action::PushPbb(0x88e7)),
        Just(Action::PopPbb),
    ]
}

pub(crate) fn arb_actions() -> impl Strategy<Value = Vec<Action>> {
    proptest::collection::vec(arb_action(), 0..6)
}

// ---- fixtures -----------------------------------------------------------

#[test]
fn fixtures_from_open_vswitch() {
    // ofp-actions.at, "OpenFlow 1.3 action translation": actions=LOCAL
    // (max_len 1234).
    fixture(
        "0000 0010 fffffffe 04d2 000000000000",
        &[Action::Output {
            port: port_no::LOCAL,
            max_len: 1234,
        }],
    );
    // ofp-actions.at (OF1.1 encodings that 1.3 shares).
    fixture("0012 0008 00000000", &[Action::PopVlan]);
    fixture("0015 0008 89abcd01", &[Action::SetQueue(0x89ab_cd01)]);
    fixture("0011 0008 8100 0000", &[Action::PushVlan(0x8100)]);
    fixture("0018 0008 00000000", &[Action::DecNwTtl]);
    // ofp-print.at, OF1.2 flow-mods with set-field (same action encoding).
    fixture(
        "0019 0010 80001604 c0a8035c 00000000",
        &[Action::SetField(OxmField::Ipv4Src {
            value: Ipv4Addr::new(192, 168, 3, 92),
            mask: None,
        })],
    );
    fixture(
        "0019 0010 80001804 c0a84a7a 00000000",
        &[Action::SetField(OxmField::Ipv4Dst {
            value: Ipv4Addr::new(192, 168, 74, 122),
            mask: None,
        })],
    );
    fixture(
        "0019 0010 80002202 0d06 000000000000",
        &[Action::SetField(OxmField::SctpSrc {
            value: 3334,
            mask: None,
        })],
    );
    fixture(
        "0019 0010 80002402 115d 000000000000",
        &[Action::SetField(OxmField::SctpDst {
            value: 4445,
            mask: None,
        })],
    );
    // ofp-print.at: output:3 with max_len 0.
    fixture(
        "0000 0010 00000003 0000 000000000000",
        &[Action::Output {
            port: 3,
            max_len: 0,
        }],
    );
}

#[test]
fn conformance_430_500_unknown_set_field_type() {
    // Set-Field of OXM field 127, followed by output:1.
    assert_eq!(
        code("0019 0008 8000fe00 000000100000 000100000000 00000000"),
        BadAction::BAD_SET_TYPE
    );
}

#[test]
fn conformance_430_510_set_field_bad_length() {
    // Set-Field of ETH_SRC with a 7-byte value.
    assert_eq!(
        code("0019 0010 80000807 000102030405 000000000010 00000001"),
        BadAction::BAD_SET_LEN
    );
}

#[test]
fn masked_set_field_is_refused() {
    // ofp-actions.at OF1.2: set_field:00:00:00:00:12:34/00:00:00:00:ff:ff->eth_src.
    assert_eq!(
        code("0019 0018 8000090c 000000001234 00000000ffff 00000000"),
        BadAction::BAD_SET_ARGUMENT
    );
}

// ---- round trips ------------------------------------------------------

#[test]
fn every_action_round_trips() {
    let mut all = vec![
        Action::Output {
            port: 1,
            max_len: 0,
        },
        Action::Output {
            port: port_no::CONTROLLER,
            max_len: OFPCML_NO_BUFFER,
        },
        Action::CopyTtlOut,
        Action::CopyTtlIn,
        Action::SetMplsTtl(63),
        Action::DecMplsTtl,
        Action::PushVlan(0x88a8),
        Action::PopVlan,
        Action::PushMpls(0x8848),
        Action::PopMpls(0x0800),
        Action::SetQueue(7),
        Action::Group(group_no::MAX),
        Action::SetNwTtl(1),
        Action::DecNwTtl,
        Action::PushPbb(0x88e7),
        Action::PopPbb,
    ];
    for kind in OxmKind::all().filter(|k| k.settable()) {
        let value = 1u128 << (kind.bits() - 1);
        all.push(Action::SetField(
            OxmField::from_raw(kind, value, None).unwrap(),
        ));
    }
    let bytes = encode(&all);
    assert_eq!(decode(&bytes).unwrap(), all);
    for a in &all {
        let one = encode(std::slice::from_ref(a));
        assert_eq!(one.len() % 8, 0, "{a:?}");
        assert_eq!(u16::from_be_bytes([one[0], one[1]]), a.type_code());
        assert_eq!(usize::from(u16::from_be_bytes([one[2], one[3]])), one.len());
    }
}

#[test]
fn reserved_output_ports_are_accepted() {
    for port in [
        port_no::IN_PORT,
        port_no::TABLE,
        port_no::NORMAL,
        port_no::FLOOD,
        port_no::ALL,
        port_no::CONTROLLER,
        port_no::LOCAL,
        1,
        port_no::MAX,
    ] {
        assert!(port_no::is_valid_output(port));
        let a = [Action::Output { port, max_len: 0 }];
        assert_eq!(decode(&encode(&a)).unwrap(), a);
    }
}

#[test]
fn vlan_set_field_with_or_without_present_bit() {
    fixture(
        "0019 0010 80000c02 1005 000000000000",
        &[Action::SetField(OxmField::VlanVid {
            value: 0x1005,
            mask: None,
        })],
    );
    fixture(
        "0019 0010 80000c02 0005 000000000000",
        &[Action::SetField(OxmField::VlanVid {
            value: 0x0005,
            mask: None,
        })],
    );
}

// ---- errors -------------------------------------------------------------

#[test]
fn length_errors() {
    // Length beyond the buffer (ofp-actions.at).
    assert_eq!(code("0000 00f0 00000000"), BadAction::BAD_LEN);
    // OpenFlow 1.0's 8-byte output.
    assert_eq!(code("0000 0008 fffe 04d2"), BadAction::BAD_LEN);
    // Not a multiple of 8, shorter than 8, or a cut header.
    assert_eq!(
        code("0000 0011 00000001 0000 000000000000 00"),
        BadAction::BAD_LEN
    );
    assert_eq!(code("0012 0004"), BadAction::BAD_LEN);
    assert_eq!(code("0012 0000 00000000"), BadAction::BAD_LEN);
    assert_eq!(code("0012"), BadAction::BAD_LEN);
    // Fixed-size actions with the wrong size.
    assert_eq!(
        code("0012 0010 00000000 00000000 00000000"),
        BadAction::BAD_LEN
    );
    assert_eq!(
        code("0016 0010 00000001 00000000 00000000"),
        BadAction::BAD_LEN
    );
    // A good action followed by a cut one.
    assert_eq!(code("0012 0008 00000000 0012"), BadAction::BAD_LEN);
}

#[test]
fn unknown_and_experimenter_types() {
    // OpenFlow 1.1's SET_VLAN_VID (type 1) is gone in 1.3.
    assert_eq!(code("0001 0008 0009 0000"), BadAction::BAD_TYPE);
    // OFTest BadActionType: type 101.
    assert_eq!(
        code("0065 0010 00000001 0000 000000000000"),
        BadAction::BAD_TYPE
    );
    // Another experimenter than Nicira (ONF); Nicira's are in `wire::nx`.
    assert_eq!(
        code("ffff 0010 4f4e4600 0001 000000000000"),
        BadAction::BAD_EXPERIMENTER
    );
    assert_eq!(code("ffff 0008 0ffffff0"), BadAction::BAD_EXPERIMENTER);
}

#[test]
fn bad_output_ports() {
    // ofp-actions.at OF1.1: output to ANY.
    assert_eq!(
        code("0000 0010 ffffffff 0000 000000000000"),
        BadAction::BAD_OUT_PORT
    );
    assert_eq!(
        code("0000 0010 00000000 0000 000000000000"),
        BadAction::BAD_OUT_PORT
    );
    assert_eq!(
        code("0000 0010 ffffff01 0000 000000000000"),
        BadAction::BAD_OUT_PORT
    );
    assert_eq!(
        code("0000 0010 fffffff7 0000 000000000000"),
        BadAction::BAD_OUT_PORT
    );
}

#[test]
fn bad_arguments() {
    assert_eq!(code("0011 0008 0800 0000"), BadAction::BAD_ARGUMENT);
    assert_eq!(code("0013 0008 8100 0000"), BadAction::BAD_ARGUMENT);
    assert_eq!(code("001a 0008 8100 0000"), BadAction::BAD_ARGUMENT);
    assert_eq!(code("0016 0008 fffffffc"), BadAction::BAD_OUT_GROUP);
    assert_eq!(code("0016 0008 ffffffff"), BadAction::BAD_OUT_GROUP);
}

#[test]
fn set_field_errors() {
    // IN_PORT, METADATA and IPV6_EXTHDR cannot be set.
    assert_eq!(
        code("0019 0010 80000004 00000001 00000000"),
        BadAction::BAD_SET_TYPE
    );
    assert_eq!(
        code("0019 0010 80000408 0000000000000001"),
        BadAction::BAD_SET_TYPE
    );
    assert_eq!(
        code("0019 0010 80004e02 0001 000000000000"),
        BadAction::BAD_SET_TYPE
    );
    // Unknown NXM field (class 1, field 120), unknown basic field.
    assert_eq!(
        code("0019 0010 0001f004 00000001 00000000"),
        BadAction::BAD_SET_TYPE
    );
    // set_field:5->reg0 as ovs-ofctl -O OpenFlow13 sends it is accepted.
    assert!(decode(&hex("0019 0010 00010004 00000005 00000000")).is_ok());
    // Experimenter-class OXM.
    assert_eq!(
        code("0019 0010 ffff0008 00002320 00000001"),
        BadAction::BAD_SET_TYPE
    );
    assert_eq!(
        code("0019 0010 80005004 00000001 00000000"),
        BadAction::BAD_SET_TYPE
    );
    // Out-of-range values.
    assert_eq!(
        code("0019 0010 80000e01 08 00000000000000"),
        BadAction::BAD_SET_ARGUMENT
    );
    assert_eq!(
        code("0019 0010 80000c02 2000 000000000000"),
        BadAction::BAD_SET_ARGUMENT
    );
    // Masked ETH_TYPE (unmaskable and masked).
    assert_eq!(
        code("0019 0010 80000b04 0800ffff 00000000"),
        BadAction::BAD_SET_ARGUMENT
    );
    // Non-zero padding.
    assert_eq!(
        code("0019 0010 80001604 c0a8035c 00000001"),
        BadAction::BAD_SET_ARGUMENT
    );
    // TLV longer than the action.
    assert_eq!(code("0019 0008 80001604"), BadAction::BAD_SET_LEN);
    assert_eq!(
        code("0019 0010 80003410 0000000000000000"),
        BadAction::BAD_SET_LEN
    );
}

// ---- properties ---------------------------------------------------------

proptest! {
    #[test]
    fn action_lists_round_trip(actions in arb_actions()) {
        let bytes = encode(&actions);
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &actions);
        prop_assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn random_framed_actions_never_panic(
        items in proptest::collection::vec(
            (0u16..32, 0u16..6, proptest::collection::vec(any::<u8>(), 0..40)),
            1..4,
        ),
    ) {
        // Plausible types and lengths, arbitrary bodies.
        let mut bytes = Vec::new();
        for (ty, len8, body) in items {
            bytes.put_u16(if ty == 31 { 0xffff } else { ty });
            bytes.put_u16(len8 * 8);
            bytes.extend_from_slice(&body);
        }
        if let Ok(actions) = decode(&bytes) {
            prop_assert_eq!(decode(&encode(&actions)).unwrap(), actions);
        }
    }

    #[test]
    fn mutated_actions_never_panic(
        actions in arb_actions(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode(&actions);
        if !bytes.is_empty() {
            for (at, v) in flips {
                let i = at % bytes.len();
                bytes[i] = v;
            }
        }
        if let Ok(actions) = decode(&bytes) {
            prop_assert_eq!(decode(&encode(&actions)).unwrap(), actions);
        }
    }
}

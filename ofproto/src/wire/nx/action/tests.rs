//! NX action fixtures: from Open vSwitch's tests/ofp-actions.at where it has
//! one (resubmit, move, load, note, output_reg), otherwise built from the
//! `nx_action_*` layouts in `include/openflow/nicira-ext.h`; each is
//! decoded, compared, re-encoded byte for byte and printed as `ovs-ofctl`
//! prints it.

use super::*;
use crate::wire::action::Action;
use crate::wire::error::{BadRequest, OfError};
use crate::wire::oxm::tests::hex;
use proptest::prelude::*;

fn decode(bytes: &[u8]) -> WireResult<Vec<Action>> {
    Action::decode_list(&mut Reader::new(bytes, BadRequest::BAD_LEN))
}

fn code(s: &str) -> OfError {
    decode(&hex(s)).expect_err("decode should fail").error
}

/// Decode `s` into one NX action, expect `want` and the ovs-ofctl text,
/// and the same bytes back.
fn fixture(s: &str, want: NxAction, text: &str) {
    let bytes = hex(s);
    let got = decode(&bytes).unwrap();
    assert_eq!(got, vec![Action::Nx(want.clone())], "{s}");
    let mut out = Vec::new();
    Action::Nx(want.clone()).encode(&mut out);
    assert_eq!(out, bytes, "{s}");
    assert_eq!(Action::Nx(want.clone()).wire_len(), bytes.len());
    assert_eq!(want.to_string(), text);
}

fn reg(i: usize) -> OxmKind {
    OxmKind::nicira()
        .find(|k| crate::wire::nx::field::reg_index(*k) == Some(i))
        .expect("16 registers")
}

#[test]
fn fixture_resubmit() {
    // ofp-actions.at: actions=resubmit:5
    fixture(
        "ffff 0010 00002320 0001 0005 00000000",
        NxAction::Resubmit {
            in_port: 5,
            table: None,
        },
        "resubmit:5",
    );
    // ofp-actions.at: actions=resubmit(10,5)
    fixture(
        "ffff 0010 00002320 000e 000a 05 000000",
        NxAction::Resubmit {
            in_port: 10,
            table: Some(5),
        },
        "resubmit(10,5)",
    );
    // What ovs-ofctl sends for resubmit(,2).
    fixture(
        "ffff 0010 00002320 000e fff8 02 000000",
        NxAction::Resubmit {
            in_port: OFPP10_IN_PORT,
            table: Some(2),
        },
        "resubmit(,2)",
    );
}

#[test]
fn fixture_move_and_load() {
    // ofp-actions.at: actions=move:NXM_OF_IN_PORT[]->NXM_OF_VLAN_TCI[]
    fixture(
        "ffff 0018 00002320 0006 0010 0000 0000 00000002 00000802",
        NxAction::RegMove {
            src: FieldRef::whole(OxmKind::NxmInPort),
            dst: FieldRef::whole(OxmKind::NxmVlanTci),
        },
        "move:NXM_OF_IN_PORT[]->NXM_OF_VLAN_TCI[]",
    );
    // ofp-actions.at: actions=load:0xf009->NXM_OF_VLAN_TCI[]
    fixture(
        "ffff 0018 00002320 0007 000f 00000802 000000000000f009",
        NxAction::RegLoad {
            dst: FieldRef::whole(OxmKind::NxmVlanTci),
            value: 0xf009,
        },
        "load:0xf009->NXM_OF_VLAN_TCI[]",
    );
    // move:NXM_NX_REG0[0..15]->NXM_NX_TUN_ID[16..31]
    fixture(
        "ffff 0018 00002320 0006 0010 0000 0010 00010004 00012008",
        NxAction::RegMove {
            src: FieldRef::new(reg(0), 0, 16),
            dst: FieldRef::new(OxmKind::TunnelId, 16, 16),
        },
        "move:NXM_NX_REG0[0..15]->NXM_NX_TUN_ID[16..31]",
    );
    // load:0x2->NXM_NX_REG1[] and a single bit, load:0x1->NXM_NX_PKT_MARK[3]
    fixture(
        "ffff 0018 00002320 0007 001f 00010204 0000000000000002",
        NxAction::RegLoad {
            dst: FieldRef::whole(reg(1)),
            value: 2,
        },
        "load:0x2->NXM_NX_REG1[]",
    );
    fixture(
        "ffff 0018 00002320 0007 00c0 00014204 0000000000000001",
        NxAction::RegLoad {
            dst: FieldRef::new(OxmKind::PktMark, 3, 1),
            value: 1,
        },
        "load:0x1->NXM_NX_PKT_MARK[3]",
    );
}

#[test]
fn fixture_output_reg_and_note() {
    // ofp-actions.at: actions=output:NXM_NX_REG1[5..10]
    fixture(
        "ffff 0018 00002320 000f 0145 00010204 ffff 000000000000",
        NxAction::OutputReg {
            src: FieldRef::new(reg(1), 5, 6),
            max_len: 0xffff,
            v2: false,
        },
        "output:NXM_NX_REG1[5..10]",
    );
    // NXAST_OUTPUT_REG2 of NXM_NX_REG0[0..15].
    fixture(
        "ffff 0018 00002320 0020 000f ffff 00010004 000000000000",
        NxAction::OutputReg {
            src: FieldRef::new(reg(0), 0, 16),
            max_len: 0xffff,
            v2: true,
        },
        "output:NXM_NX_REG0[0..15]",
    );
    // ofp-actions.at: actions=note:11.e9.9a.ad.67.f3
    fixture(
        "ffff 0010 00002320 0008 11e99aad67f3",
        NxAction::Note(vec![0x11, 0xe9, 0x9a, 0xad, 0x67, 0xf3]),
        "note:11.e9.9a.ad.67.f3",
    );
    // A longer note keeps its padding, as Open vSwitch's dump shows it.
    fixture(
        "ffff 0018 00002320 0008 0102030405060708 000000000000",
        NxAction::Note(vec![1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0]),
        "note:01.02.03.04.05.06.07.08.00.00.00.00.00.00",
    );
}

#[test]
fn errors() {
    // Another vendor (ONF): BAD_EXPERIMENTER; an unknown NX subtype
    // (NXAST_SET_TUNNEL, not supported): BAD_EXP_TYPE.
    assert_eq!(
        code("ffff 0010 4f4e4600 0001 000000000000"),
        BadAction::BAD_EXPERIMENTER
    );
    assert_eq!(
        code("ffff 0010 00002320 0002 0000 12345678"),
        BadAction::BAD_EXP_TYPE
    );
    // resubmit of the wrong length; non-zero padding in resubmit_table.
    assert_eq!(
        code("ffff 0018 00002320 0001 0005 00000000 0000000000000000"),
        BadAction::BAD_LEN
    );
    assert_eq!(
        code("ffff 0010 00002320 000e 000a 05 000001"),
        BadAction::BAD_ARGUMENT
    );
    // load into bits 16..47 of a 32-bit register: BAD_SET_LEN.
    assert_eq!(
        code("ffff 0018 00002320 0007 041f 00010004 0000000000000001"),
        BadAction::BAD_SET_LEN
    );
    // A value wider than the range.
    assert_eq!(
        code("ffff 0018 00002320 0007 0003 00010004 0000000000000010"),
        BadAction::BAD_ARGUMENT
    );
    // Unknown NXM field (class 1, field 120) and an experimenter field.
    assert_eq!(
        code("ffff 0018 00002320 0007 001f 0001f004 0000000000000001"),
        BadMatch::BAD_FIELD
    );
    assert_eq!(
        code("ffff 0018 00002320 0020 000f ffff ffff0008 00002320 00000000"),
        BadMatch::BAD_FIELD
    );
    // A masked header naming the field.
    assert_eq!(
        code("ffff 0018 00002320 0007 001f 00010108 0000000000000001"),
        BadAction::BAD_ARGUMENT
    );
}

fn sample(subtype: u16, sampling_port: u16, direction: u8) -> NxAction {
    NxAction::Sample(NxSample {
        probability: 12345,
        collector_set_id: 23456,
        obs_domain_id: 34567,
        obs_point_id: 45678,
        sampling_port,
        direction,
        subtype,
    })
}

#[test]
fn fixture_sample() {
    // ofp-actions.at: the three layouts of one sample action.
    let ids = "3039 00005ba0 00008707 0000b26e";
    let text = "sample(probability=12345,collector_set_id=23456,obs_domain_id=34567,\
                obs_point_id=45678";
    fixture(
        &format!("ffff 0018 00002320 001d {ids}"),
        sample(subtype::SAMPLE, SAMPLE_NO_PORT, 0),
        &format!("{text})"),
    );
    fixture(
        &format!("ffff 0020 00002320 0026 {ids} ddd5 00 0000000000"),
        sample(subtype::SAMPLE2, 56789, 0),
        &format!("{text},sampling_port=56789)"),
    );
    fixture(
        &format!("ffff 0020 00002320 0029 {ids} ddd5 02 0000000000"),
        sample(subtype::SAMPLE3, 56789, 2),
        &format!("{text},sampling_port=56789,egress)"),
    );
    for (a, least) in [
        (sample(subtype::SAMPLE3, SAMPLE_NO_PORT, 0), subtype::SAMPLE),
        (sample(subtype::SAMPLE, 3, 0), subtype::SAMPLE2),
        (sample(subtype::SAMPLE, SAMPLE_NO_PORT, 1), subtype::SAMPLE3),
    ] {
        let NxAction::Sample(s) = a else {
            unreachable!()
        };
        assert_eq!(s.least_subtype(), least, "{s:?}");
    }
    // Probability 0; a direction past egress, or padding, in SAMPLE3;
    // the wrong length. NXAST_SAMPLE2 ignores its last six bytes.
    assert_eq!(
        code("ffff 0018 00002320 001d 0000 00000001 00000002 00000003"),
        BadAction::BAD_ARGUMENT
    );
    assert_eq!(
        code(&format!("ffff 0020 00002320 0029 {ids} ffff 03 0000000000")),
        BadAction::BAD_ARGUMENT
    );
    assert_eq!(
        code(&format!("ffff 0020 00002320 0029 {ids} ffff 00 0000000001")),
        BadAction::BAD_ARGUMENT
    );
    assert_eq!(
        code(&format!("ffff 0020 00002320 001d {ids} ffff 00 0000000000")),
        BadAction::BAD_LEN
    );
    assert!(decode(&hex(&format!(
        "ffff 0020 00002320 0026 {ids} ffff 07 0000000009"
    )))
    .is_ok());
}

fn arb_ref() -> impl Strategy<Value = FieldRef> {
    let kinds: Vec<OxmKind> = OxmKind::all()
        .chain(OxmKind::nicira())
        .filter(|k| super::super::field::nxm_name(*k).is_some() && k.bits() <= 64)
        .collect();
    proptest::sample::select(kinds).prop_flat_map(|k| {
        let bits = k.bits() as u16;
        (0..bits)
            .prop_flat_map(move |ofs| (1..=bits - ofs).prop_map(move |n| FieldRef::new(k, ofs, n)))
    })
}

pub(crate) fn arb_nx_action() -> impl Strategy<Value = NxAction> {
    prop_oneof![
        (any::<u16>(), proptest::option::of(any::<u8>()))
            .prop_map(|(in_port, table)| NxAction::Resubmit { in_port, table }),
        (arb_ref(), any::<u64>()).prop_map(|(dst, v)| {
            let value = if dst.n_bits >= 64 {
                v
            } else {
                v & ((1 << dst.n_bits) - 1)
            };
            NxAction::RegLoad { dst, value }
        }),
        (arb_ref(), arb_ref()).prop_filter_map("same width", |(src, dst)| {
            let n = src.n_bits.min(dst.n_bits);
            let src = FieldRef { n_bits: n, ..src };
            let dst = FieldRef { n_bits: n, ..dst };
            Some(NxAction::RegMove { src, dst })
        }),
        (arb_ref(), any::<u16>(), any::<bool>())
            .prop_map(|(src, max_len, v2)| { NxAction::OutputReg { src, max_len, v2 } }),
        proptest::collection::vec(any::<u8>(), 6..30).prop_map(|mut n| {
            // Decoding keeps the padding: build notes that already end at
            // an 8-byte boundary.
            n.resize((10 + n.len()).next_multiple_of(8) - 10, 0);
            NxAction::Note(n)
        }),
        (
            1..=u16::MAX,
            any::<(u32, u32, u32, u16)>(),
            0..=2u8,
            proptest::sample::select(vec![subtype::SAMPLE, subtype::SAMPLE2, subtype::SAMPLE3]),
        )
            .prop_map(|(probability, (c, d, p, port), direction, subtype)| {
                NxAction::Sample(NxSample {
                    probability,
                    collector_set_id: c,
                    obs_domain_id: d,
                    obs_point_id: p,
                    sampling_port: if subtype == subtype::SAMPLE {
                        SAMPLE_NO_PORT
                    } else {
                        port
                    },
                    direction: if subtype == subtype::SAMPLE3 {
                        direction
                    } else {
                        0
                    },
                    subtype,
                })
            }),
    ]
}

proptest! {
    #[test]
    fn nx_actions_round_trip(a in arb_nx_action()) {
        let a = Action::Nx(a);
        let mut out = Vec::new();
        a.encode(&mut out);
        prop_assert_eq!(out.len(), a.wire_len());
        prop_assert_eq!(decode(&out).unwrap(), vec![a]);
    }

    #[test]
    fn random_nx_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut bytes = hex("ffff 0000 00002320");
        bytes.extend_from_slice(&body);
        let len = bytes.len().next_multiple_of(8);
        bytes.resize(len, 0);
        bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        let _ = decode(&bytes);
    }
}

#[test]
fn fixture_reg_load2() {
    // NXAST_REG_LOAD2 with a masked register TLV: one OXM entry, padded.
    fixture(
        "ffff 0018 00002320 0021 00010508 00000001 0000ffff 0000",
        NxAction::RegLoad2(OxmField::Nx {
            kind: reg(2),
            value: 1,
            mask: Some(0xffff),
        }),
        "set_field:0x1/0xffff->reg2",
    );
    // What ovs-ofctl 3.1 sends for load:0x1->tun_metadata2[0..31] and
    // load:0x11223344->tun_metadata3 (captured): minimal-length values.
    let got = decode(&hex(
        "ffff 0018 00002320 0021 00015508 00000001 ffffffff 0000",
    ))
    .unwrap();
    assert_eq!(
        got,
        vec![Action::Nx(NxAction::RegLoad2(OxmField::Nx {
            kind: OxmKind::TunMetadata2,
            value: 1,
            mask: Some(0xffff_ffff),
        }))]
    );
    let got = decode(&hex(
        "ffff 0018 00002320 0021 00015604 11223344 000000000000",
    ))
    .unwrap();
    let Action::Nx(a) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(a.to_string(), "set_field:0x11223344->tun_metadata3");
    // A field that cannot be set, and non-zero padding.
    assert_eq!(
        code("ffff 0018 00002320 0021 00013401 01 000000000000000000"),
        BadAction::BAD_SET_TYPE
    );
    assert_eq!(
        code("ffff 0018 00002320 0021 00015604 11223344 000000000001"),
        BadAction::BAD_ARGUMENT
    );
}

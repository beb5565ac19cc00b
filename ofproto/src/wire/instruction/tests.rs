//! Tests for instructions: fixtures from Open vSwitch's tests/ofp-actions.at
//! ("OpenFlow 1.1 instruction translation", the same encoding as 1.3),
//! round trips, every error code, proptests.

use super::*;
use crate::wire::action::port_no;
use crate::wire::action::tests::arb_actions;
use crate::wire::error::{BadAction, BadRequest, OfError};
use crate::wire::oxm::tests::hex;
use proptest::prelude::*;

fn decode(bytes: &[u8]) -> WireResult<Vec<Instruction>> {
    Instruction::decode_list(&mut Reader::new(bytes, BadRequest::BAD_LEN))
}

fn encode(insts: &[Instruction]) -> Vec<u8> {
    let mut out = Vec::new();
    Instruction::encode_list(insts, &mut out);
    assert_eq!(out.len(), Instruction::list_wire_len(insts));
    out
}

fn code(s: &str) -> OfError {
    decode(&hex(s)).expect_err("decode should fail").error
}

fn fixture(s: &str, want: &[Instruction]) {
    let bytes = hex(s);
    assert_eq!(decode(&bytes).unwrap(), want, "{s}");
    assert_eq!(encode(want), bytes, "{s}");
}

/// Instruction lists with distinct types, in random order.
pub(crate) fn arb_instructions() -> impl Strategy<Value = Vec<Instruction>> {
    let each = (
        any::<u8>(),
        any::<(u64, u64)>(),
        arb_actions(),
        arb_actions(),
        any::<u32>(),
    )
        .prop_map(|(table, (metadata, mask), write, apply, meter)| {
            vec![
                Instruction::GotoTable(table),
                Instruction::WriteMetadata { metadata, mask },
                Instruction::WriteActions(write),
                Instruction::ApplyActions(apply),
                Instruction::ClearActions,
                Instruction::Meter(meter),
            ]
        });
    (
        each,
        proptest::sample::subsequence((0..6).collect::<Vec<_>>(), 0..=6),
    )
        .prop_map(|(all, pick)| pick.into_iter().map(|i| all[i].clone()).collect::<Vec<_>>())
        .prop_shuffle()
}

#[test]
fn fixtures_from_open_vswitch() {
    // actions=LOCAL
    fixture(
        "0004 0018 00000000 0000 0010 fffffffe 04d2 000000000000",
        &[Instruction::ApplyActions(vec![Action::Output {
            port: port_no::LOCAL,
            max_len: 1234,
        }])],
    );
    // An empty Apply-Actions (Open vSwitch drops it; we keep it).
    fixture("0004 0008 00000000", &[Instruction::ApplyActions(vec![])]);
    fixture("0001 0008 01 000000", &[Instruction::GotoTable(1)]);
    fixture(
        "0002 0018 00000000 fedcba9876543210 ffffffffffffffff",
        &[Instruction::WriteMetadata {
            metadata: 0xfedc_ba98_7654_3210,
            mask: u64::MAX,
        }],
    );
    fixture(
        "0002 0018 00000000 fedcba9876543210 ff00ff00ff00ff00",
        &[Instruction::WriteMetadata {
            metadata: 0xfedc_ba98_7654_3210,
            mask: 0xff00_ff00_ff00_ff00,
        }],
    );
    fixture("0005 0008 00000000", &[Instruction::ClearActions]);
    fixture("0003 0008 00000000", &[Instruction::WriteActions(vec![])]);
    // Write-Metadata before Goto-Table in wire order: order is kept.
    fixture(
        "0001 0008 01 000000 0002 0018 00000000 fedcba9876543210 ffffffffffffffff",
        &[
            Instruction::GotoTable(1),
            Instruction::WriteMetadata {
                metadata: 0xfedc_ba98_7654_3210,
                mask: u64::MAX,
            },
        ],
    );
    // ofp-actions.at OF1.5 (meter is an instruction in 1.3).
    fixture("0006 0008 00000005", &[Instruction::Meter(5)]);
}

#[test]
fn non_zero_padding_is_accepted_and_cleared() {
    // ofp-actions.at: Goto-Table and Clear-Actions with non-zero padding.
    let goto = decode(&hex("0001 0008 01 000001")).unwrap();
    assert_eq!(goto, [Instruction::GotoTable(1)]);
    assert_eq!(encode(&goto), hex("0001 0008 01 000000"));
    let clear = decode(&hex("0005 0008 01 000000")).unwrap();
    assert_eq!(clear, [Instruction::ClearActions]);
    assert_eq!(
        decode(&hex("0004 0008 00000001")).unwrap(),
        [Instruction::ApplyActions(vec![])]
    );
}

#[test]
fn length_errors() {
    // ofp-actions.at: length 9, Goto-Table too long, Write-Metadata too
    // short and too long, Clear-Actions too long.
    assert_eq!(code("0004 0009 01 00000000"), BadInstruction::BAD_LEN);
    assert_eq!(
        code("0001 0010 01 000000 0000000000000000"),
        BadInstruction::BAD_LEN
    );
    assert_eq!(
        code("0002 0010 00000000 fedcba9876543210"),
        BadInstruction::BAD_LEN
    );
    assert_eq!(
        code("0002 0020 00000000 fedcba9876543210 ffffffffffffffff 0000000000000000"),
        BadInstruction::BAD_LEN
    );
    assert_eq!(
        code("0005 0010 00000000 0000000000000000"),
        BadInstruction::BAD_LEN
    );
    assert_eq!(
        code("0006 0010 00000005 0000000000000000"),
        BadInstruction::BAD_LEN
    );
    // Cut header, zero length, length beyond the buffer.
    assert_eq!(code("0004"), BadInstruction::BAD_LEN);
    assert_eq!(code("0004 0000 00000000"), BadInstruction::BAD_LEN);
    assert_eq!(code("0004 0018 00000000"), BadInstruction::BAD_LEN);
}

#[test]
fn duplicate_instructions() {
    // ofp-actions.at answers OFPBIC_DUP_INST (1.4); 1.3 has UNSUP_INST.
    assert_eq!(
        code("0004 0008 00000000 0004 0008 00000000"),
        BadInstruction::UNSUP_INST
    );
    assert_eq!(
        code(
            "0002 0018 00000000 fedcba9876543210 ff00ff00ff00ff00 \
             0002 0018 00000000 fedcba9876543210 ff00ff00ff00ff00"
        ),
        BadInstruction::UNSUP_INST
    );
}

#[test]
fn unknown_and_experimenter() {
    assert_eq!(
        code("ffff 0008 01 000000"),
        BadInstruction::BAD_EXPERIMENTER
    );
    assert_eq!(code("0000 0008 01 000000"), BadInstruction::UNKNOWN_INST);
    assert_eq!(code("0007 0008 00000000"), BadInstruction::UNKNOWN_INST);
}

#[test]
fn action_errors_come_through() {
    // Apply-Actions holding an output to ANY, and a truncated action.
    assert_eq!(
        code("0004 0018 00000000 0000 0010 ffffffff 0000 000000000000"),
        BadAction::BAD_OUT_PORT
    );
    assert_eq!(
        code("0003 0010 00000000 0000 0010 00000001"),
        BadAction::BAD_LEN
    );
}

#[test]
fn execution_order() {
    let mut insts = [
        Instruction::GotoTable(2),
        Instruction::WriteMetadata {
            metadata: 1,
            mask: 1,
        },
        Instruction::WriteActions(vec![]),
        Instruction::ClearActions,
        Instruction::ApplyActions(vec![]),
        Instruction::Meter(1),
    ];
    insts.sort_by_key(Instruction::sort_key);
    let types: Vec<u16> = insts.iter().map(Instruction::type_code).collect();
    assert_eq!(types, [6, 4, 5, 3, 2, 1]);
}

proptest! {
    #[test]
    fn instruction_lists_round_trip(insts in arb_instructions()) {
        let bytes = encode(&insts);
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &insts);
        prop_assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn mutated_instructions_never_panic(
        insts in arb_instructions(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode(&insts);
        if !bytes.is_empty() {
            for (at, v) in flips {
                let i = at % bytes.len();
                bytes[i] = v;
            }
        }
        if let Ok(insts) = decode(&bytes) {
            prop_assert_eq!(decode(&encode(&insts)).unwrap(), insts);
        }
    }
}

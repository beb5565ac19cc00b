//! Tests for OFPT_FLOW_MOD: fixtures from Open vSwitch's tests/ofp-print.at,
//! round trips, error codes, proptests.

use super::*;
use crate::wire::action::{port_no, Action};
use crate::wire::error::{BadInstruction, BadMatch, BadRequest, OfError};
use crate::wire::instruction::tests::arb_instructions;
use crate::wire::oxm::tests::{arb_match, arp_match, hex};
use crate::wire::oxm::OxmField;
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn decode(bytes: &[u8]) -> WireResult<FlowMod> {
    FlowMod::decode(&mut Reader::new(bytes, BadRequest::BAD_LEN))
}

fn encode(fm: &FlowMod) -> Vec<u8> {
    let mut out = Vec::new();
    fm.encode(&mut out);
    assert_eq!(out.len(), fm.wire_len());
    out
}

/// The body of a message given with its 8-byte OpenFlow header.
fn body(msg: &str) -> Vec<u8> {
    hex(msg)[8..].to_vec()
}

fn code(bytes: &[u8]) -> OfError {
    decode(bytes).expect_err("decode should fail").error
}

/// ofp-print.at "OFPT_FLOW_MOD - OF1.3 - flags - low verbosity".
const OF13_FLAGS: &str = "\
    04 0e 00 90 00 00 00 02 00 00 00 00 00 00 00 00 \
    00 00 00 00 00 00 00 00 ff 00 00 00 00 00 ff ff \
    ff ff ff ff ff ff ff ff ff ff ff ff 00 1f 00 00 \
    00 01 00 42 80 00 00 04 00 00 00 01 80 00 08 06 \
    50 54 00 00 00 06 80 00 06 06 50 54 00 00 00 05 \
    80 00 0a 02 08 06 80 00 0c 02 00 00 80 00 2a 02 \
    00 02 80 00 2c 04 c0 a8 00 02 80 00 2e 04 c0 a8 \
    00 01 00 00 00 00 00 00 00 04 00 18 00 00 00 00 \
    00 00 00 10 00 00 00 03 00 00 00 00 00 00 00 00";

/// ofp-print.at "OFPT_FLOW_MOD - OF1.2 - set-field ip_src" (the flow-mod
/// body is the same in 1.3).
const SET_IP_SRC: &str = "\
    03 0e 00 58 52 33 45 02 00 00 00 00 00 00 00 00 \
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff \
    ff ff ff ff ff ff ff ff ff ff ff ff 00 00 00 00 \
    00 01 00 0a 80 00 0a 02 08 00 00 00 00 00 00 00 \
    00 04 00 18 00 00 00 00 00 19 00 10 80 00 16 04 \
    c0 a8 03 5c 00 00 00 00";

#[test]
fn fixture_of13_flags() {
    let bytes = body(OF13_FLAGS);
    let fm = decode(&bytes).unwrap();
    let want = FlowMod {
        cookie: 0,
        cookie_mask: 0,
        table_id: OFPTT_ALL,
        command: FlowModCommand::Add,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: 0xffff,
        buffer_id: OFP_NO_BUFFER,
        out_port: port_no::ANY,
        out_group: 0xffff_ffff,
        flags: FlowModFlags::SEND_FLOW_REM
            | FlowModFlags::CHECK_OVERLAP
            | FlowModFlags::RESET_COUNTS
            | FlowModFlags::NO_PKT_COUNTS
            | FlowModFlags::NO_BYT_COUNTS,
        match_: arp_match(),
        instructions: vec![Instruction::ApplyActions(vec![Action::Output {
            port: 3,
            max_len: 0,
        }])],
    };
    assert_eq!(fm, want);
    assert_eq!(encode(&fm), bytes);
    assert_eq!(bytes.len() + 8, 0x90);
    fm.match_.check_prerequisites().unwrap();
}

#[test]
fn fixture_set_field_ip_src() {
    let bytes = body(SET_IP_SRC);
    let fm = decode(&bytes).unwrap();
    assert_eq!(fm.priority, 0xff);
    assert_eq!(fm.table_id, 0);
    assert_eq!(fm.match_.fields, vec![OxmField::EthType(0x0800)]);
    assert_eq!(
        fm.instructions,
        vec![Instruction::ApplyActions(vec![Action::SetField(
            OxmField::Ipv4Src {
                value: Ipv4Addr::new(192, 168, 3, 92),
                mask: None,
            }
        )])]
    );
    assert_eq!(encode(&fm), bytes);
}

#[test]
fn default_is_a_plain_add() {
    let fm = FlowMod::default();
    assert_eq!(fm.command, FlowModCommand::Add);
    assert_eq!(fm.buffer_id, OFP_NO_BUFFER);
    assert_eq!(fm.priority, OFP_DEFAULT_PRIORITY);
    let bytes = encode(&fm);
    assert_eq!(bytes.len(), 48);
    assert_eq!(decode(&bytes).unwrap(), fm);
}

#[test]
fn every_command_round_trips() {
    for v in 0..=4u8 {
        let command = FlowModCommand::from_u8(v).unwrap();
        assert_eq!(command.to_u8(), v);
        let fm = FlowMod {
            command,
            ..FlowMod::default()
        };
        assert_eq!(decode(&encode(&fm)).unwrap(), fm);
    }
    assert!(FlowModCommand::DeleteStrict.is_strict());
    assert!(FlowModCommand::DeleteStrict.is_delete());
    assert!(!FlowModCommand::Modify.is_strict());
}

#[test]
fn bad_command() {
    for command in [5u8, 10, 0xff] {
        let mut bytes = body(OF13_FLAGS);
        bytes[17] = command;
        assert_eq!(code(&bytes), FlowModFailed::BAD_COMMAND, "{command}");
    }
}

#[test]
fn bad_flags() {
    for flags in [0x0020u16, 0x8000, 0xffff] {
        let mut bytes = body(OF13_FLAGS);
        bytes[36..38].copy_from_slice(&flags.to_be_bytes());
        assert_eq!(code(&bytes), FlowModFailed::BAD_FLAGS, "{flags:#x}");
    }
}

#[test]
fn short_and_bad_parts() {
    let bytes = body(OF13_FLAGS);
    // Fixed part cut short.
    assert_eq!(code(&bytes[..39]), BadRequest::BAD_LEN);
    // Match cut short.
    assert_eq!(code(&bytes[..60]), BadMatch::BAD_LEN);
    // Instructions cut short.
    assert_eq!(code(&bytes[..bytes.len() - 8]), BadInstruction::BAD_LEN);
    // OFPMT_STANDARD match.
    let mut std_match = bytes.clone();
    std_match[41] = 0;
    assert_eq!(code(&std_match), BadMatch::BAD_TYPE);
}

#[test]
fn prerequisites_are_the_pipelines_job() {
    // OFTest BadPreReqMatch: in_port + ipv4 addresses without eth_type
    // decodes, and check_prerequisites refuses it.
    let fm = FlowMod {
        match_: Match::new()
            .with(OxmField::InPort(1))
            .with(OxmField::Ipv4Src {
                value: Ipv4Addr::new(192, 168, 0, 1),
                mask: None,
            })
            .with(OxmField::Ipv4Dst {
                value: Ipv4Addr::new(192, 168, 0, 2),
                mask: None,
            }),
        ..FlowMod::default()
    };
    let back = decode(&encode(&fm)).unwrap();
    assert_eq!(
        back.match_.check_prerequisites().unwrap_err().error,
        BadMatch::BAD_PREREQ
    );
}

fn arb_flow_mod() -> impl Strategy<Value = FlowMod> {
    (
        any::<(u64, u64, u8, u16, u16, u16)>(),
        (0u8..5, any::<(u32, u32, u32)>(), 0u16..0x20),
        arb_match(),
        arb_instructions(),
    )
        .prop_map(
            |(
                (cookie, cookie_mask, table_id, idle_timeout, hard_timeout, priority),
                (command, (buffer_id, out_port, out_group), flags),
                match_,
                instructions,
            )| FlowMod {
                cookie,
                cookie_mask,
                table_id,
                command: FlowModCommand::from_u8(command).unwrap(),
                idle_timeout,
                hard_timeout,
                priority,
                buffer_id,
                out_port,
                out_group,
                flags: FlowModFlags(flags),
                match_,
                instructions,
            },
        )
}

proptest! {
    #[test]
    fn flow_mods_round_trip(fm in arb_flow_mod()) {
        let bytes = encode(&fm);
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &fm);
        prop_assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn mutated_flow_mods_never_panic(
        fm in arb_flow_mod(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = encode(&fm);
        for (at, v) in flips {
            let i = at % bytes.len();
            bytes[i] = v;
        }
        if let Ok(fm) = decode(&bytes) {
            let _ = fm.match_.check_prerequisites();
            prop_assert_eq!(decode(&encode(&fm)).unwrap(), fm);
        }
    }
}

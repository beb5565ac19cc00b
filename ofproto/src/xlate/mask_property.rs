//! The megaflow contract, as a property: a translation's mask names every
//! bit the translation depended on. So any packet that agrees with packet
//! P on P's mask must translate to P's actions, or a cached megaflow would
//! hand it the wrong ones.
//!
//! Random pipelines over two tables (matches on in_port, eth_type, masked
//! IPv4 destination, IP protocol, masked TCP destination port and a
//! register; actions: output, set-field, goto, write-actions, resubmit,
//! load, move, output from a register, NORMAL) and random packets from a
//! small domain, so rules overlap and packets collide often. For each
//! packet P, a packet Q is built from P's bits under the mask and random
//! bits elsewhere; Q's actions must equal P's.

use super::*;
use crate::pipeline::PipelineStore;
use crate::wire::flow_mod::{FlowMod, FlowModCommand};
use crate::wire::nx::{FieldRef, NxAction};
use crate::wire::oxm::{Match, OxmKind};
use proptest::prelude::*;
use std::net::Ipv4Addr;

struct Env {
    ports: Vec<PortView>,
}

impl XlateEnv for Env {
    fn ports(&self) -> &[PortView] {
        &self.ports
    }
    fn normal(&self, key: &FlowKey, wc: &mut FlowKey) -> Vec<PortNo> {
        // A stand-in learning table: the output depends on the
        // destination MAC, which the mask must then name.
        normal_mask(wc);
        vec![1 + u32::from(key.eth_dst[5] % 4)]
    }
    fn controller_userdata(&self, _ctx: ControllerCtx) -> u64 {
        0
    }
}

const DSTS: [[u8; 4]; 4] = [
    [10, 0, 0, 1],
    [10, 0, 0, 2],
    [10, 0, 1, 1],
    [192, 168, 0, 1],
];
const TP_DSTS: [u16; 4] = [80, 443, 0x1000, 0x1001];

fn a_match() -> impl Strategy<Value = Match> {
    (
        prop::option::of(1u32..5),
        prop::option::of((0usize..4, prop_oneof![Just(32u8), Just(24), Just(8)])),
        prop::option::of(prop_oneof![Just(6u8), Just(17)]),
        prop::option::of((0usize..4, any::<bool>())),
        prop::option::of(0u32..3),
    )
        .prop_map(|(port, dst, proto, tp, reg)| {
            let mut m = Match::new();
            if let Some(p) = port {
                m = m.with(OxmField::InPort(p));
            }
            let ip = dst.is_some() || proto.is_some() || tp.is_some();
            if ip {
                m = m.with(OxmField::EthType(0x0800));
            }
            if let Some((d, len)) = dst {
                let mask = u32::MAX << (32 - u32::from(len));
                m = m.with(OxmField::Ipv4Dst {
                    value: Ipv4Addr::from(u32::from_be_bytes(DSTS[d]) & mask),
                    mask: (len < 32).then_some(Ipv4Addr::from(mask)),
                });
            }
            if let Some((t, masked)) = tp {
                m = m.with(OxmField::IpProto(6));
                m = m.with(OxmField::TcpDst {
                    value: if masked {
                        TP_DSTS[t] & 0xf000
                    } else {
                        TP_DSTS[t]
                    },
                    mask: masked.then_some(0xf000),
                });
            } else if let Some(p) = proto {
                m = m.with(OxmField::IpProto(p));
            }
            if let Some(r) = reg {
                m = m.with(OxmField::Nx {
                    kind: OxmKind::Reg0,
                    value: r.into(),
                    mask: None,
                });
            }
            m
        })
}

fn an_action(table: u8) -> impl Strategy<Value = Action> {
    let resubmit_to = if table == 0 { 1 } else { 0xfe };
    prop_oneof![
        4 => (1u32..5).prop_map(|port| Action::Output { port, max_len: 0 }),
        1 => Just(Action::Output { port: port_no::NORMAL, max_len: 0 }),
        1 => Just(Action::Output { port: port_no::IN_PORT, max_len: 0 }),
        1 => (0usize..4).prop_map(|d| Action::SetField(OxmField::Ipv4Dst {
            value: Ipv4Addr::from(DSTS[d]),
            mask: None,
        })),
        1 => (0usize..4).prop_map(|t| Action::SetField(OxmField::TcpDst { value: TP_DSTS[t], mask: None })),
        1 => (0u64..3).prop_map(|value| Action::Nx(NxAction::RegLoad {
            dst: FieldRef::whole(OxmKind::Reg0),
            value,
        })),
        1 => Just(Action::Nx(NxAction::RegMove {
            src: FieldRef::new(OxmKind::TcpDst, 0, 2),
            dst: FieldRef::new(OxmKind::Reg1, 0, 2),
        })),
        1 => Just(Action::Nx(NxAction::OutputReg {
            src: FieldRef::new(OxmKind::Reg1, 0, 2),
            max_len: 0,
            v2: false,
        })),
        1 => Just(Action::Nx(NxAction::Resubmit {
            in_port: crate::wire::nx::action::OFPP10_IN_PORT,
            table: (resubmit_to != 0xfe).then_some(resubmit_to),
        })),
    ]
}

#[derive(Debug, Clone)]
struct RuleSpec {
    table: u8,
    priority: u16,
    m: Match,
    apply: Vec<Action>,
    write: Vec<Action>,
    goto: bool,
}

fn a_rule() -> impl Strategy<Value = RuleSpec> {
    (0u8..2).prop_flat_map(|table| {
        (
            1u16..5,
            a_match(),
            prop::collection::vec(an_action(table), 0..4),
            prop::collection::vec(
                (1u32..5).prop_map(|port| Action::Output { port, max_len: 0 }),
                0..2,
            ),
            any::<bool>(),
        )
            .prop_map(move |(priority, m, apply, write, goto)| RuleSpec {
                table,
                priority,
                m,
                apply,
                write,
                goto: goto && table == 0,
            })
    })
}

fn a_packet() -> impl Strategy<Value = FlowKey> {
    (
        1u32..5,
        prop_oneof![3 => Just(0x0800u16), 1 => Just(0x0806)],
        0usize..4,
        prop_oneof![Just(6u8), Just(17)],
        0usize..4,
        0u8..4,
    )
        .prop_map(|(in_port, eth_type, d, proto, t, mac)| {
            let ip = eth_type == 0x0800;
            FlowKey {
                in_port,
                eth_type,
                eth_dst: [2, 0, 0, 0, 0, mac],
                ipv4_dst: if ip { u32::from_be_bytes(DSTS[d]) } else { 0 },
                nw_proto: if ip { proto } else { 0 },
                tp_dst: if ip { TP_DSTS[t] } else { 0 },
                ..Default::default()
            }
        })
}

/// `p` where `mask` has bits, `r` elsewhere.
fn blend(p: &FlowKey, r: &FlowKey, mask: &FlowKey) -> FlowKey {
    let mut q = FlowKey::default();
    for (((q, p), r), m) in q
        .words_mut()
        .iter_mut()
        .zip(p.words())
        .zip(r.words())
        .zip(mask.words())
    {
        *q = (p & m) | (r & !m);
    }
    q
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn packets_that_agree_on_the_mask_get_the_same_actions(
        rules in prop::collection::vec(a_rule(), 1..12),
        pairs in prop::collection::vec((a_packet(), a_packet()), 1..12),
    ) {
        let store = PipelineStore::default();
        for r in &rules {
            let mut ins = Vec::new();
            if !r.apply.is_empty() {
                ins.push(Instruction::ApplyActions(r.apply.clone()));
            }
            if !r.write.is_empty() {
                ins.push(Instruction::WriteActions(r.write.clone()));
            }
            if r.goto {
                ins.push(Instruction::GotoTable(1));
            }
            // Some random rules are refused (e.g. a duplicate field): the
            // pipeline is whatever was accepted.
            let _ = store.flow_mod(&FlowMod {
                table_id: r.table,
                priority: r.priority,
                match_: r.m.clone(),
                instructions: ins,
                command: FlowModCommand::Add,
                ..Default::default()
            });
        }
        let env = Env {
            ports: (1..=4)
                .map(|port_no| PortView { port_no, live: true, no_fwd: false, no_flood: false })
                .collect(),
        };
        let pipeline = store.snapshot();
        for (p, r) in &pairs {
            let xp = translate(&pipeline, &env, p, 0);
            let q = blend(p, r, &xp.mask);
            let xq = translate(&pipeline, &env, &q, 0);
            prop_assert_eq!(
                &xq.actions, &xp.actions,
                "packet {:?}\nand {:?}\nagree on mask {:?}", p, q, xp.mask
            );
        }
    }
}

use super::*;
use crate::pipeline::PipelineStore;
use crate::wire::action::port_no;
use crate::wire::flow_mod::{FlowMod, FlowModCommand};
use crate::wire::group::{Bucket, GroupMod, GroupModCommand};
use crate::wire::oxm::Match;
use std::cell::RefCell;
use std::net::Ipv4Addr;

struct Env {
    ports: Vec<PortView>,
    ctx: RefCell<Vec<ControllerCtx>>,
    frozen: RefCell<Vec<Frozen>>,
}

impl Env {
    fn new(n: u32) -> Env {
        Env {
            ports: (1..=n)
                .map(|p| PortView {
                    port_no: p,
                    live: p != 3,
                    no_fwd: false,
                    no_flood: false,
                })
                .collect(),
            ctx: RefCell::new(Vec::new()),
            frozen: RefCell::new(Vec::new()),
        }
    }
}

impl XlateEnv for Env {
    fn ports(&self) -> &[PortView] {
        &self.ports
    }
    fn normal(&self, _key: &FlowKey, wc: &mut FlowKey) -> Vec<PortNo> {
        normal_mask(wc);
        vec![9]
    }
    fn controller_userdata(&self, ctx: ControllerCtx) -> u64 {
        let mut v = self.ctx.borrow_mut();
        v.push(ctx);
        v.len() as u64 - 1
    }
    fn freeze(&self, state: Frozen) -> Option<u32> {
        let mut v = self.frozen.borrow_mut();
        v.push(state);
        Some(v.len() as u32)
    }
    fn thaw(&self, id: u32) -> Option<Frozen> {
        self.frozen.borrow().get(id as usize - 1).cloned()
    }
    fn flow_sample_userdata(&self, s: FlowSample) -> Option<u64> {
        // A set numbered 0 stands for one the bridge cannot number.
        (s.collector_set_id != 0).then_some(u64::from(s.obs_point_id))
    }
}

fn out(port: u32) -> Action {
    Action::Output { port, max_len: 0 }
}

fn add(store: &PipelineStore, table: u8, priority: u16, m: Match, ins: Vec<Instruction>) {
    store
        .flow_mod(&FlowMod {
            table_id: table,
            priority,
            match_: m,
            instructions: ins,
            command: FlowModCommand::Add,
            ..Default::default()
        })
        .unwrap();
}

fn tcp_pkt(in_port: u32, dst: [u8; 4], dport: u16) -> FlowKey {
    FlowKey {
        in_port,
        eth_type: 0x0800,
        nw_proto: 6,
        ipv4_src: 0x0a00_0001,
        ipv4_dst: u32::from_be_bytes(dst),
        tp_src: 40000,
        tp_dst: dport,
        eth_src: [2, 0, 0, 0, 0, 1],
        eth_dst: [2, 0, 0, 0, 0, 2],
        ..Default::default()
    }
}

#[test]
fn classification_acl_forwarding_with_metadata() {
    let s = PipelineStore::default();
    // Table 0: classify by input port into metadata, go to ACL.
    add(
        &s,
        0,
        100,
        Match::new().with(OxmField::InPort(1)),
        vec![
            Instruction::WriteMetadata {
                metadata: 0xa,
                mask: 0xff,
            },
            Instruction::GotoTable(1),
        ],
    );
    // Table 1: ACL: drop ssh, else continue.
    add(
        &s,
        1,
        200,
        Match::new()
            .with(OxmField::EthType(0x0800))
            .with(OxmField::IpProto(6))
            .with(OxmField::TcpDst {
                value: 22,
                mask: None,
            }),
        vec![],
    );
    add(&s, 1, 0, Match::new(), vec![Instruction::GotoTable(2)]);
    // Table 2: forward by metadata and destination.
    add(
        &s,
        2,
        10,
        Match::new()
            .with(OxmField::Metadata {
                value: 0xa,
                mask: Some(0xff),
            })
            .with(OxmField::EthType(0x0800))
            .with(OxmField::Ipv4Dst {
                value: Ipv4Addr::new(10, 0, 0, 0),
                mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
            }),
        vec![Instruction::ApplyActions(vec![out(2)])],
    );
    let env = Env::new(4);
    let p = s.snapshot();

    let x = translate(&p, &env, &tcp_pkt(1, [10, 0, 0, 5], 80), 0);
    assert_eq!(x.actions, vec![Dp::Output(2)]);
    assert_eq!(x.rules.len(), 3);
    assert_eq!(x.mask.ipv4_dst, 0xffff_ff00, "only the /24 was consulted");
    assert_eq!(x.mask.tp_src, 0);
    assert_eq!(x.mask.tp_dst, 0xffff, "the ACL looked at the port");

    let x = translate(&p, &env, &tcp_pkt(1, [10, 0, 0, 5], 22), 0);
    assert!(x.actions.is_empty(), "ssh dropped by the ACL");

    let x = translate(&p, &env, &tcp_pkt(2, [10, 0, 0, 5], 80), 0);
    assert!(x.actions.is_empty(), "port 2 is not classified: table miss");
}

#[test]
fn action_set_runs_in_spec_order_and_group_beats_output() {
    let s = PipelineStore::default();
    s.group_mod(&GroupMod {
        command: GroupModCommand::Add,
        group_type: GroupType::All,
        group_id: 7,
        buckets: vec![
            Bucket {
                actions: vec![out(2)],
                watch_port: port_no::ANY,
                watch_group: crate::wire::action::group_no::ANY,
                weight: 0,
            },
            Bucket {
                actions: vec![out(4)],
                watch_port: port_no::ANY,
                watch_group: crate::wire::action::group_no::ANY,
                weight: 0,
            },
        ],
    })
    .unwrap();
    add(
        &s,
        0,
        1,
        Match::new(),
        vec![Instruction::WriteActions(vec![
            out(3),
            Action::Group(7),
            Action::SetField(OxmField::Ipv4Dst {
                value: Ipv4Addr::new(1, 2, 3, 4),
                mask: None,
            }),
            Action::DecNwTtl,
        ])],
    );
    let env = Env::new(4);
    let x = translate(&s.snapshot(), &env, &tcp_pkt(1, [10, 0, 0, 1], 80), 0);
    assert!(matches!(x.actions[0], Dp::DecTtl { .. }), "{:?}", x.actions);
    assert_eq!(x.actions[1], Dp::set(Field::Ipv4Dst, 0x0102_0304));
    assert_eq!(
        &x.actions[2..],
        &[
            Dp::Clone(Arc::from(vec![Dp::Output(2)])),
            Dp::Clone(Arc::from(vec![Dp::Output(4)]))
        ]
    );
    assert_eq!(x.buckets.len(), 2);
}

#[test]
fn select_group_spreads_flows_and_fast_failover_skips_dead_ports() {
    let s = PipelineStore::default();
    let bucket = |port: u32, weight: u16| Bucket {
        actions: vec![out(port)],
        watch_port: port,
        watch_group: crate::wire::action::group_no::ANY,
        weight,
    };
    s.group_mod(&GroupMod {
        command: GroupModCommand::Add,
        group_type: GroupType::Select,
        group_id: 1,
        buckets: vec![bucket(2, 1), bucket(4, 1)],
    })
    .unwrap();
    s.group_mod(&GroupMod {
        command: GroupModCommand::Add,
        group_type: GroupType::FastFailover,
        group_id: 2,
        buckets: vec![bucket(3, 0), bucket(4, 0)],
    })
    .unwrap();
    add(
        &s,
        0,
        1,
        Match::new().with(OxmField::InPort(1)),
        vec![Instruction::ApplyActions(vec![Action::Group(1)])],
    );
    add(
        &s,
        0,
        1,
        Match::new().with(OxmField::InPort(2)),
        vec![Instruction::ApplyActions(vec![Action::Group(2)])],
    );
    let env = Env::new(4);
    let p = s.snapshot();
    let mut counts = [0; 5];
    for dport in 0..200 {
        let x = translate(&p, &env, &tcp_pkt(1, [10, 0, 0, 1], dport), 0);
        let Dp::Output(o) = x.actions[0] else {
            panic!("{:?}", x.actions)
        };
        counts[o as usize] += 1;
        assert_eq!(x.mask.tp_dst, 0xffff, "the hash covers the ports");
    }
    assert!(counts[2] > 60 && counts[4] > 60, "{counts:?}");
    // Port 3 is down in the test env: fast failover takes port 4.
    let x = translate(&p, &env, &tcp_pkt(2, [10, 0, 0, 1], 1), 0);
    assert_eq!(x.actions, vec![Dp::Output(4)]);
}

#[test]
fn controller_flood_normal_in_port_and_vlan_push() {
    let s = PipelineStore::default();
    add(
        &s,
        0,
        0,
        Match::new(),
        vec![Instruction::ApplyActions(vec![Action::Output {
            port: port_no::CONTROLLER,
            max_len: 128,
        }])],
    );
    add(
        &s,
        0,
        5,
        Match::new().with(OxmField::InPort(2)),
        vec![Instruction::ApplyActions(vec![
            out(port_no::FLOOD),
            Action::PushVlan(0x8100),
            Action::SetField(OxmField::VlanVid {
                value: 0x1000 | 42,
                mask: None,
            }),
            out(port_no::IN_PORT),
            out(port_no::NORMAL),
            out(2),
        ])],
    );
    let env = Env::new(3);
    let p = s.snapshot();
    let x = translate(&p, &env, &tcp_pkt(1, [10, 0, 0, 1], 1), 0);
    assert_eq!(x.actions, vec![Dp::Userspace { userdata: 0 }]);
    let ctx = env.ctx.borrow()[0];
    assert_eq!(ctx.reason, u8::from(PacketInReason::NoMatch));
    assert_eq!(ctx.max_len, 128);

    let x = translate(&p, &env, &tcp_pkt(2, [10, 0, 0, 1], 1), 0);
    assert_eq!(
        x.actions,
        vec![
            Dp::Output(1),
            Dp::Output(3),
            Dp::PushVlan {
                tpid: 0x8100,
                tci: 0
            },
            Dp::set(Field::VlanVid, 42),
            Dp::Output(2),
            Dp::Output(9),
        ],
        "output to the input port itself is dropped, IN_PORT is not"
    );
}

#[test]
fn pop_mpls_then_goto_recirculates_and_resumes_with_the_inner_headers() {
    let s = PipelineStore::default();
    add(
        &s,
        0,
        10,
        Match::new().with(OxmField::EthType(0x8847)),
        vec![
            Instruction::ApplyActions(vec![Action::PopMpls(0x0800)]),
            Instruction::WriteActions(vec![out(3)]),
            Instruction::WriteMetadata {
                metadata: 7,
                mask: u64::MAX,
            },
            Instruction::GotoTable(1),
        ],
    );
    add(
        &s,
        1,
        10,
        Match::new()
            .with(OxmField::Metadata {
                value: 7,
                mask: None,
            })
            .with(OxmField::EthType(0x0800))
            .with(OxmField::Ipv4Dst {
                value: Ipv4Addr::new(10, 0, 0, 2),
                mask: None,
            }),
        vec![Instruction::ApplyActions(vec![out(2)])],
    );
    let env = Env::new(4);
    let p = s.snapshot();
    let mpls = FlowKey {
        in_port: 1,
        eth_type: 0x8847,
        mpls_lse: 0x100 | 64,
        ..Default::default()
    };
    // First pass: pop, then recirculate instead of matching zeros.
    let x = translate(&p, &env, &mpls, 0);
    assert_eq!(
        x.actions,
        vec![Dp::PopMpls { ethertype: 0x0800 }, Dp::Recirculate(1)]
    );
    assert_eq!(x.mask.recirc_id, u32::MAX);
    // Second pass: the re-parsed packet resumes at table 1 with the
    // metadata and the action set of the first.
    let inner = FlowKey {
        recirc_id: 1,
        ..tcp_pkt(1, [10, 0, 0, 2], 80)
    };
    let x = translate(&p, &env, &inner, 0);
    assert_eq!(x.actions, vec![Dp::Output(2), Dp::Output(3)]);
    // An id never handed out drops.
    let unknown = FlowKey {
        recirc_id: 99,
        ..inner
    };
    assert!(translate(&p, &env, &unknown, 0).actions.is_empty());
}

// ---- Nicira actions ---------------------------------------------------

mod nicira {
    use super::*;
    use crate::wire::nx::{FieldRef, NxAction};
    use crate::wire::oxm::OxmKind;

    fn nx(a: NxAction) -> Action {
        Action::Nx(a)
    }

    fn resubmit(table: u8) -> Action {
        nx(NxAction::Resubmit {
            in_port: crate::wire::nx::action::OFPP10_IN_PORT,
            table: Some(table),
        })
    }

    fn load(kind: OxmKind, value: u64) -> Action {
        nx(NxAction::RegLoad {
            dst: FieldRef::whole(kind),
            value,
        })
    }

    fn reg0(value: u32) -> OxmField {
        OxmField::Nx {
            kind: OxmKind::Reg0,
            value: value.into(),
            mask: None,
        }
    }

    fn apply(a: Vec<Action>) -> Vec<Instruction> {
        vec![Instruction::ApplyActions(a)]
    }

    /// A resubmit chain (classify into reg0 in table 0, forward on reg0
    /// and the destination in table 1) gives the packet the same actions as
    /// the single-table pipeline that matches both at once, and a megaflow
    /// mask with the same packet bits.
    #[test]
    fn resubmit_chain_equals_single_table() {
        let chain = PipelineStore::default();
        add(
            &chain,
            0,
            10,
            Match::new().with(OxmField::InPort(1)),
            apply(vec![load(OxmKind::Reg0, 7), resubmit(1)]),
        );
        add(
            &chain,
            1,
            10,
            Match::new()
                .with(reg0(7))
                .with(OxmField::EthType(0x0800))
                .with(OxmField::IpProto(6))
                .with(OxmField::TcpDst {
                    value: 0x1000,
                    mask: Some(0xf000),
                }),
            apply(vec![out(2)]),
        );
        let single = PipelineStore::default();
        add(
            &single,
            0,
            10,
            Match::new()
                .with(OxmField::InPort(1))
                .with(OxmField::EthType(0x0800))
                .with(OxmField::IpProto(6))
                .with(OxmField::TcpDst {
                    value: 0x1000,
                    mask: Some(0xf000),
                }),
            apply(vec![out(2)]),
        );
        let env = Env::new(4);
        let (c, s) = (chain.snapshot(), single.snapshot());
        for key in [
            tcp_pkt(1, [10, 0, 0, 5], 0x1234),
            tcp_pkt(1, [10, 0, 0, 5], 0x2234),
            tcp_pkt(2, [10, 0, 0, 5], 0x1234),
        ] {
            let a = translate(&c, &env, &key, 0);
            let b = translate(&s, &env, &key, 0);
            assert_eq!(a.actions, b.actions, "{key:?}");
            assert_eq!(a.mask.in_port, u32::MAX);
            if !b.actions.is_empty() {
                assert_eq!(a.mask.tp_dst & 0xf000, 0xf000);
                assert_eq!(a.mask.tp_dst & 0x0fff, 0, "only the masked bits");
            }
        }
        let a = translate(&c, &env, &tcp_pkt(1, [10, 0, 0, 5], 0x1234), 0);
        assert_eq!(a.actions, vec![Dp::Output(2)]);
        assert_eq!(a.rules.len(), 2);
    }

    /// load into reg0, move a header field into reg1, output to the port
    /// in reg0; pkt_mark is committed, registers are not.
    #[test]
    fn load_move_output_reg_and_pkt_mark() {
        let s = PipelineStore::default();
        add(
            &s,
            0,
            10,
            Match::new(),
            apply(vec![
                load(OxmKind::Reg0, 3),
                nx(NxAction::RegMove {
                    src: FieldRef::new(OxmKind::TcpDst, 0, 16),
                    dst: FieldRef::new(OxmKind::Reg1, 0, 16),
                }),
                load(OxmKind::PktMark, 0x55),
                nx(NxAction::Note(vec![1, 2, 3, 4, 5, 6])),
                nx(NxAction::OutputReg {
                    src: FieldRef::new(OxmKind::Reg0, 0, 16),
                    max_len: 0xffff,
                    v2: false,
                }),
            ]),
        );
        let env = Env::new(4);
        let x = translate(&s.snapshot(), &env, &tcp_pkt(1, [10, 0, 0, 5], 80), 0);
        assert_eq!(
            x.actions,
            vec![
                Dp::set(datapath::actions::Field::PktMark, 0x55),
                Dp::Output(3)
            ]
        );
        assert_eq!(x.mask.tp_dst, 0xffff, "move read the port");
    }

    /// `sample` is a datapath Sample, in its place among the actions, of
    /// a userspace action with the bridge's number for it; 65535 out of
    /// 65535 is always. One the bridge cannot number is left out.
    #[test]
    fn sample_is_a_datapath_sample_in_place() {
        let sample = |probability, collector_set_id| {
            nx(NxAction::Sample(crate::wire::nx::NxSample {
                probability,
                collector_set_id,
                obs_domain_id: 1,
                obs_point_id: 42,
                sampling_port: crate::wire::nx::action::SAMPLE_NO_PORT,
                direction: 0,
                subtype: crate::wire::nx::action::subtype::SAMPLE,
            }))
        };
        let s = PipelineStore::default();
        add(
            &s,
            0,
            10,
            Match::new(),
            apply(vec![
                out(2),
                sample(65535, 5),
                sample(1, 5),
                sample(9, 0),
                out(4),
            ]),
        );
        let x = translate(
            &s.snapshot(),
            &Env::new(4),
            &tcp_pkt(1, [10, 0, 0, 5], 80),
            0,
        );
        let taken = |probability| Dp::Sample {
            probability,
            actions: Arc::from([Dp::Userspace { userdata: 42 }]),
        };
        assert_eq!(
            x.actions,
            vec![Dp::Output(2), taken(u32::MAX), taken(65537), Dp::Output(4)]
        );
    }

    /// A partial load of a header field is a masked datapath set.
    #[test]
    fn partial_load_is_a_masked_set() {
        let s = PipelineStore::default();
        add(
            &s,
            0,
            10,
            Match::new(),
            apply(vec![
                nx(NxAction::RegLoad {
                    dst: FieldRef::new(OxmKind::PktMark, 4, 4),
                    value: 0xa,
                }),
                out(2),
            ]),
        );
        let x = translate(&s.snapshot(), &Env::new(4), &tcp_pkt(1, [1, 1, 1, 1], 1), 0);
        assert_eq!(
            x.actions,
            vec![
                Dp::set_masked(datapath::actions::Field::PktMark, 0xa0, 0xf0),
                Dp::Output(2)
            ]
        );
    }

    /// A rule that resubmits to its own table loops; the limit drops the
    /// packet rather than looping or overflowing the stack.
    #[test]
    fn resubmit_loop_is_dropped() {
        let s = PipelineStore::default();
        add(&s, 0, 10, Match::new(), apply(vec![out(2), resubmit(0)]));
        let x = translate(&s.snapshot(), &Env::new(4), &tcp_pkt(1, [1, 1, 1, 1], 1), 0);
        assert!(x.actions.is_empty());
    }

    /// resubmit(port,table) looks up as if from `port` and restores it.
    #[test]
    fn resubmit_with_in_port() {
        let s = PipelineStore::default();
        add(
            &s,
            0,
            10,
            Match::new().with(OxmField::InPort(1)),
            apply(vec![
                nx(NxAction::Resubmit {
                    in_port: 4,
                    table: Some(1),
                }),
                out(port_no::IN_PORT),
            ]),
        );
        add(
            &s,
            1,
            10,
            Match::new().with(OxmField::InPort(4)),
            apply(vec![out(2)]),
        );
        let x = translate(&s.snapshot(), &Env::new(4), &tcp_pkt(1, [1, 1, 1, 1], 1), 0);
        assert_eq!(x.actions, vec![Dp::Output(2), Dp::Output(1)]);
    }

    /// Flow-mods refuse what translation could not do.
    #[test]
    fn flow_mod_checks() {
        let s = PipelineStore::default();
        let try_add = |a: Action| {
            s.flow_mod(&FlowMod {
                instructions: apply(vec![a]),
                command: FlowModCommand::Add,
                ..Default::default()
            })
        };
        let e = try_add(load(OxmKind::PbbIsid, 1)).unwrap_err();
        assert_eq!(e.error, crate::wire::error::BadMatch::BAD_FIELD);
        let e = try_add(load(OxmKind::IpFrag, 1)).unwrap_err();
        assert_eq!(e.error, crate::wire::error::BadAction::BAD_SET_ARGUMENT);
        let m = Match::new()
            .with(OxmField::EthType(0x88e7))
            .with(OxmField::PbbIsid {
                value: 1,
                mask: None,
            });
        let e = s
            .flow_mod(&FlowMod {
                match_: m,
                command: FlowModCommand::Add,
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.error, crate::wire::error::BadMatch::BAD_FIELD);
        assert!(try_add(load(OxmKind::Reg3, 1)).is_ok());
        assert!(try_add(load(OxmKind::Reg15, 1)).is_ok());
        assert!(try_add(load(OxmKind::TunIpv6Dst, 1)).is_ok());
    }

    /// All sixteen registers carry state between tables, and none of
    /// them, nor a rule's match on them, widens the megaflow.
    #[test]
    fn high_registers_carry_state_between_tables() {
        let s = PipelineStore::default();
        add(
            &s,
            0,
            10,
            Match::new(),
            apply(vec![
                load(OxmKind::Reg15, 7),
                load(OxmKind::Reg8, 1),
                resubmit(1),
            ]),
        );
        let reg = |kind, value: u128| OxmField::Nx {
            kind,
            value,
            mask: None,
        };
        add(
            &s,
            1,
            10,
            Match::new()
                .with(reg(OxmKind::Reg15, 7))
                .with(reg(OxmKind::Reg8, 1)),
            apply(vec![out(2)]),
        );
        add(
            &s,
            1,
            5,
            Match::new().with(reg(OxmKind::Reg15, 6)),
            apply(vec![out(3)]),
        );
        let x = translate(&s.snapshot(), &Env::new(4), &tcp_pkt(1, [1, 1, 1, 1], 1), 0);
        assert_eq!(x.actions, vec![Dp::Output(2)]);
        let mut only_port = FlowKey::default();
        only_port.in_port = u32::MAX;
        only_port.recirc_id = u32::MAX;
        assert_eq!(x.mask, only_port, "registers are not packet bits");
    }

    /// `set_field` of the IPv6 tunnel destination changes the working key
    /// (what a `remote_ip=flow` tunnel port reads) and emits nothing.
    #[test]
    fn tunnel_ipv6_destination_is_translation_state() {
        let s = PipelineStore::default();
        let dst = OxmField::Nx {
            kind: OxmKind::TunIpv6Dst,
            value: 0x2001_0db8_0000_0000_0000_0000_0000_0002,
            mask: None,
        };
        add(
            &s,
            0,
            10,
            Match::new(),
            apply(vec![Action::SetField(dst), out(2)]),
        );
        let x = translate(&s.snapshot(), &Env::new(4), &tcp_pkt(1, [1, 1, 1, 1], 1), 0);
        assert_eq!(x.actions, vec![Dp::Output(2)]);
    }

    /// GENEVE options as `tun_metadata` fields: a match needs the option
    /// present and equal; set-field writes it and marks it present; flows
    /// need the field mapped; a used mapping cannot be deleted.
    #[test]
    fn tun_metadata_follows_the_tlv_map() {
        use crate::pipeline::PipelineMod;
        use crate::wire::error::NxError;
        use crate::wire::nx::tlv::{TlvCommand, TlvMapping, TlvTableMod};
        let s = PipelineStore::default();
        let md0 = |value: u128| OxmField::Nx {
            kind: OxmKind::TunMetadata0,
            value,
            mask: None,
        };
        let flow = |m: Match, a: Vec<Action>| FlowMod {
            match_: m,
            instructions: apply(a),
            command: FlowModCommand::Add,
            priority: 10,
            ..Default::default()
        };
        let e = s.flow_mod(&flow(Match::new().with(md0(0xa)), vec![out(2)]));
        assert_eq!(e.unwrap_err().error, NxError::INVALID_TLV_FIELD, "unmapped");
        let map = |command, index| {
            PipelineMod::Tlv(TlvTableMod {
                command,
                mappings: vec![TlvMapping {
                    class: 0xffff,
                    opt_type: 0x80,
                    len: 4,
                    index,
                }],
            })
        };
        s.commit(&[map(TlvCommand::Add, 0)]).unwrap();
        let again = s.commit(&[map(TlvCommand::Add, 0)]).unwrap_err();
        assert_eq!(again.error.error, NxError::TLV_ALREADY_MAPPED);
        let wide = s.flow_mod(&flow(Match::new().with(md0(0x1_0000_0000)), vec![out(2)]));
        assert_eq!(
            wide.unwrap_err().error,
            crate::wire::error::BadMatch::BAD_VALUE,
            "wider than 4 bytes"
        );
        s.flow_mod(&flow(Match::new().with(md0(0xa)), vec![out(2)]))
            .unwrap();

        let tlv = s.snapshot().tlv.clone();
        let at = usize::from(tlv.entry(0).unwrap().offset);
        let mut key = tcp_pkt(1, [1, 1, 1, 1], 1);
        let x = translate(&s.snapshot(), &Env::new(4), &key, 0);
        assert!(x.actions.is_empty(), "no option, no match: {:?}", x.actions);
        assert_eq!(x.mask.tun_md_present & 1, 1, "presence was consulted");
        key.tun_md_present = 1;
        key.tun_md[at..at + 4].copy_from_slice(&[0, 0, 0, 0xa]);
        let x = translate(&s.snapshot(), &Env::new(4), &key, 0);
        assert_eq!(x.actions, vec![Dp::Output(2)]);
        assert_eq!(x.mask.tun_md[at..at + 4], [0xff; 4]);

        // set_field writes the option and its presence into the working key
        // (what a GENEVE output encodes), and nothing into the packet.
        let setter = FlowMod {
            table_id: 1,
            ..flow(Match::new(), vec![Action::SetField(md0(0xb)), resubmit(2)])
        };
        s.flow_mod(&setter).unwrap();
        let reader = FlowMod {
            table_id: 2,
            ..flow(Match::new().with(md0(0xb)), vec![out(3)])
        };
        s.flow_mod(&reader).unwrap();
        let x = translate(&s.snapshot(), &Env::new(4), &tcp_pkt(1, [1, 1, 1, 1], 1), 1);
        assert_eq!(x.actions, vec![Dp::Output(3)]);

        // A move reaching past the option's 4 bytes is refused.
        let past = FlowMod {
            table_id: 3,
            ..flow(
                Match::new(),
                vec![nx(NxAction::RegMove {
                    src: FieldRef::new(OxmKind::TunMetadata0, 16, 32),
                    dst: FieldRef::new(OxmKind::Reg0, 0, 32),
                })],
            )
        };
        let e = s.flow_mod(&past).unwrap_err();
        assert_eq!(e.error, crate::wire::error::BadAction::BAD_SET_LEN);
        let del = s.commit(&[map(TlvCommand::Delete, 0)]).unwrap_err();
        assert_eq!(del.error.error, NxError::TLV_INVALID_DEL, "flows use it");
        s.flow_mod(&FlowMod {
            command: FlowModCommand::Delete,
            table_id: crate::pipeline::OFPTT_ALL,
            ..Default::default()
        })
        .unwrap();
        s.commit(&[map(TlvCommand::Delete, 0)]).unwrap();
        assert!(s.snapshot().tlv.is_empty());
    }
}

//! Structured protobuf flows, groups and meters <-> OpenFlow messages.
//!
//! The structured forms carry addresses as text (the same text the flow
//! syntax uses), so values go through the syntax module's field parser:
//! one place decides what `10.0.0.0/24` or a MAC mask means. Errors name
//! the protobuf field (`match.ipv4_dst`, `instructions[1].apply_actions[0]`).

use crate::switch::{SwitchError, SwitchResult};
use crate::syntax::action::format_action;
use crate::syntax::{field_kind, format_raw, parse_field, SyntaxError};
use ofproto::wire::action::{port_no, Action, OFPCML_NO_BUFFER};
use ofproto::wire::flow_mod::{FlowMod, FlowModCommand, FlowModFlags, OFP_DEFAULT_PRIORITY};
use ofproto::wire::group::{Bucket, GroupMod, GroupModCommand, GroupType};
use ofproto::wire::instruction::Instruction;
use ofproto::wire::meter::{meter_flags, MeterBand, MeterMod, MeterModCommand};
use ofproto::wire::oxm::{Match, OxmField, OxmKind, OFPVID_PRESENT};
use proto::v1;

fn invalid(field: &str, e: impl std::fmt::Display) -> SwitchError {
    SwitchError::Invalid(format!("{field}: {e}"))
}

fn small<T: TryFrom<u32>>(field: &str, v: u32) -> SwitchResult<T> {
    T::try_from(v).map_err(|_| invalid(field, format!("{v} is out of range")))
}

fn text_field(m: &mut Match, name: &str, kind: OxmKind, v: &str, mask: &str) -> SwitchResult<()> {
    if v.is_empty() {
        return Ok(());
    }
    let text = if mask.is_empty() {
        v.to_string()
    } else {
        format!("{v}/{mask}")
    };
    let f = parse_field(name, kind, &text).map_err(|e: SyntaxError| invalid(name, e.message))?;
    m.insert(f);
    Ok(())
}

fn num_field(m: &mut Match, name: &str, kind: OxmKind, v: Option<u64>) -> SwitchResult<()> {
    if let Some(v) = v {
        let f = OxmField::from_raw(kind, u128::from(v), None).map_err(|e| invalid(name, e))?;
        m.insert(f);
    }
    Ok(())
}

/// A protobuf match as an OXM match.
pub fn match_from(p: &v1::Match) -> SwitchResult<Match> {
    let mut m = Match::new();
    let n32 = |v: Option<u32>| v.map(u64::from);
    num_field(&mut m, "match.in_port", OxmKind::InPort, n32(p.in_port))?;
    if let Some(v) = p.metadata {
        m.insert(OxmField::Metadata {
            value: v & p.metadata_mask.unwrap_or(u64::MAX),
            mask: p.metadata_mask.filter(|&x| x != u64::MAX),
        });
    }
    text_field(
        &mut m,
        "match.eth_src",
        OxmKind::EthSrc,
        &p.eth_src,
        &p.eth_src_mask,
    )?;
    text_field(
        &mut m,
        "match.eth_dst",
        OxmKind::EthDst,
        &p.eth_dst,
        &p.eth_dst_mask,
    )?;
    num_field(&mut m, "match.eth_type", OxmKind::EthType, n32(p.eth_type))?;
    if p.vlan_none {
        m.insert(OxmField::VlanVid {
            value: 0,
            mask: None,
        });
    } else if let Some(v) = p.vlan_vid {
        let vid: u16 = small("match.vlan_vid", v)?;
        if vid > 0xfff {
            return Err(invalid("match.vlan_vid", "VLAN ids are 0..4095"));
        }
        m.insert(OxmField::VlanVid {
            value: vid | OFPVID_PRESENT,
            mask: None,
        });
    }
    num_field(&mut m, "match.vlan_pcp", OxmKind::VlanPcp, n32(p.vlan_pcp))?;
    num_field(&mut m, "match.ip_dscp", OxmKind::IpDscp, n32(p.ip_dscp))?;
    num_field(&mut m, "match.ip_ecn", OxmKind::IpEcn, n32(p.ip_ecn))?;
    num_field(&mut m, "match.ip_proto", OxmKind::IpProto, n32(p.ip_proto))?;
    text_field(&mut m, "match.ipv4_src", OxmKind::Ipv4Src, &p.ipv4_src, "")?;
    text_field(&mut m, "match.ipv4_dst", OxmKind::Ipv4Dst, &p.ipv4_dst, "")?;
    text_field(&mut m, "match.ipv6_src", OxmKind::Ipv6Src, &p.ipv6_src, "")?;
    text_field(&mut m, "match.ipv6_dst", OxmKind::Ipv6Dst, &p.ipv6_dst, "")?;
    for (name, kind, v) in [
        ("match.tcp_src", OxmKind::TcpSrc, p.tcp_src),
        ("match.tcp_dst", OxmKind::TcpDst, p.tcp_dst),
        ("match.udp_src", OxmKind::UdpSrc, p.udp_src),
        ("match.udp_dst", OxmKind::UdpDst, p.udp_dst),
        ("match.sctp_src", OxmKind::SctpSrc, p.sctp_src),
        ("match.sctp_dst", OxmKind::SctpDst, p.sctp_dst),
        ("match.icmpv4_type", OxmKind::Icmpv4Type, p.icmpv4_type),
        ("match.icmpv4_code", OxmKind::Icmpv4Code, p.icmpv4_code),
        ("match.icmpv6_type", OxmKind::Icmpv6Type, p.icmpv6_type),
        ("match.icmpv6_code", OxmKind::Icmpv6Code, p.icmpv6_code),
        ("match.arp_op", OxmKind::ArpOp, p.arp_op),
        ("match.mpls_label", OxmKind::MplsLabel, p.mpls_label),
    ] {
        num_field(&mut m, name, kind, n32(v))?;
    }
    text_field(&mut m, "match.arp_spa", OxmKind::ArpSpa, &p.arp_spa, "")?;
    text_field(&mut m, "match.arp_tpa", OxmKind::ArpTpa, &p.arp_tpa, "")?;
    text_field(&mut m, "match.arp_sha", OxmKind::ArpSha, &p.arp_sha, "")?;
    text_field(&mut m, "match.arp_tha", OxmKind::ArpTha, &p.arp_tha, "")?;
    num_field(&mut m, "match.tunnel_id", OxmKind::TunnelId, p.tunnel_id)?;
    m.check_prerequisites()
        .map_err(|e| invalid("match", format!("prerequisites: {e}")))?;
    Ok(m)
}

/// An OXM match as protobuf.
pub fn match_to(m: &Match) -> v1::Match {
    let mut p = v1::Match::default();
    for f in m.iter() {
        let (v, mk) = f.raw();
        let text = || format_raw(f.kind(), v, None);
        let mask_text = || {
            mk.map(|x| format_raw(f.kind(), x, None))
                .unwrap_or_default()
        };
        let prefixed = || format_raw(f.kind(), v, mk);
        match f {
            OxmField::InPort(x) => p.in_port = Some(*x),
            OxmField::Metadata { value, mask } => {
                p.metadata = Some(*value);
                p.metadata_mask = *mask;
            }
            OxmField::EthSrc { .. } => {
                p.eth_src = text();
                p.eth_src_mask = mask_text();
            }
            OxmField::EthDst { .. } => {
                p.eth_dst = text();
                p.eth_dst_mask = mask_text();
            }
            OxmField::EthType(t) => p.eth_type = Some(u32::from(*t)),
            OxmField::VlanVid { value, .. } => {
                if value & OFPVID_PRESENT == 0 {
                    p.vlan_none = true;
                } else {
                    p.vlan_vid = Some(u32::from(value & 0xfff));
                }
            }
            OxmField::VlanPcp(x) => p.vlan_pcp = Some(u32::from(*x)),
            OxmField::IpDscp(x) => p.ip_dscp = Some(u32::from(*x)),
            OxmField::IpEcn(x) => p.ip_ecn = Some(u32::from(*x)),
            OxmField::IpProto(x) => p.ip_proto = Some(u32::from(*x)),
            OxmField::Ipv4Src { .. } => p.ipv4_src = prefixed(),
            OxmField::Ipv4Dst { .. } => p.ipv4_dst = prefixed(),
            OxmField::Ipv6Src { .. } => p.ipv6_src = prefixed(),
            OxmField::Ipv6Dst { .. } => p.ipv6_dst = prefixed(),
            OxmField::TcpSrc {
                value: x,
                mask: None,
            } => p.tcp_src = Some(u32::from(*x)),
            OxmField::TcpDst {
                value: x,
                mask: None,
            } => p.tcp_dst = Some(u32::from(*x)),
            OxmField::UdpSrc {
                value: x,
                mask: None,
            } => p.udp_src = Some(u32::from(*x)),
            OxmField::UdpDst {
                value: x,
                mask: None,
            } => p.udp_dst = Some(u32::from(*x)),
            OxmField::SctpSrc {
                value: x,
                mask: None,
            } => p.sctp_src = Some(u32::from(*x)),
            OxmField::SctpDst {
                value: x,
                mask: None,
            } => p.sctp_dst = Some(u32::from(*x)),
            OxmField::Icmpv4Type(x) => p.icmpv4_type = Some(u32::from(*x)),
            OxmField::Icmpv4Code(x) => p.icmpv4_code = Some(u32::from(*x)),
            OxmField::Icmpv6Type(x) => p.icmpv6_type = Some(u32::from(*x)),
            OxmField::Icmpv6Code(x) => p.icmpv6_code = Some(u32::from(*x)),
            OxmField::ArpOp(x) => p.arp_op = Some(u32::from(*x)),
            OxmField::ArpSpa { .. } => p.arp_spa = prefixed(),
            OxmField::ArpTpa { .. } => p.arp_tpa = prefixed(),
            OxmField::ArpSha { .. } => p.arp_sha = prefixed(),
            OxmField::ArpTha { .. } => p.arp_tha = prefixed(),
            OxmField::MplsLabel(x) => p.mpls_label = Some(*x),
            OxmField::TunnelId { value, .. } => p.tunnel_id = Some(*value),
            // Fields the structured form does not carry show in `spec`.
            _ => {}
        }
    }
    p
}

/// A protobuf action as OpenFlow.
pub fn action_from(a: &v1::Action, at: &str) -> SwitchResult<Action> {
    use v1::action::Kind as K;
    let kind = a.kind.as_ref().ok_or_else(|| invalid(at, "empty action"))?;
    Ok(match kind {
        K::Output(o) => {
            if !port_no::is_valid_output(o.port) || o.port == port_no::TABLE {
                return Err(invalid(at, format!("cannot output to port {:#x}", o.port)));
            }
            let max_len = if o.port == port_no::CONTROLLER && o.max_len == 0 {
                OFPCML_NO_BUFFER
            } else {
                small(at, o.max_len)?
            };
            Action::Output {
                port: o.port,
                max_len,
            }
        }
        K::Group(g) => Action::Group(*g),
        K::PushVlan(t) => {
            if *t != 0x8100 && *t != 0x88a8 {
                return Err(invalid(at, "push_vlan takes 0x8100 or 0x88a8"));
            }
            Action::PushVlan(*t as u16)
        }
        K::PopVlan(_) => Action::PopVlan,
        K::SetField(sf) => {
            let kind = field_kind(&sf.field)
                .ok_or_else(|| invalid(at, format!("unknown field {:?}", sf.field)))?;
            if kind == OxmKind::VlanVid {
                let vid = crate::syntax::parse_num(at, &sf.value, 0xfff)
                    .map_err(|e| invalid(at, e.message))? as u16;
                Action::SetField(OxmField::VlanVid {
                    value: vid | OFPVID_PRESENT,
                    mask: None,
                })
            } else {
                let f = parse_field(at, kind, &sf.value).map_err(|e| invalid(at, e.message))?;
                if f.mask_u128().is_some() {
                    return Err(invalid(at, "set_field takes no mask"));
                }
                Action::SetField(f)
            }
        }
        K::DecNwTtl(_) => Action::DecNwTtl,
        K::SetNwTtl(t) => Action::SetNwTtl(small(at, *t)?),
        K::SetQueue(q) => Action::SetQueue(*q),
        K::PushMpls(t) => Action::PushMpls(small(at, *t)?),
        K::PopMpls(t) => Action::PopMpls(small(at, *t)?),
        K::DecMplsTtl(_) => Action::DecMplsTtl,
        K::SetMplsTtl(t) => Action::SetMplsTtl(small(at, *t)?),
        K::CopyTtlOut(_) => Action::CopyTtlOut,
        K::CopyTtlIn(_) => Action::CopyTtlIn,
    })
}

fn empty() -> v1::Empty {
    v1::Empty {}
}

/// An OpenFlow action as protobuf.
pub fn action_to(a: &Action) -> v1::Action {
    use v1::action::Kind as K;
    let kind = match a {
        Action::Output { port, max_len } => K::Output(v1::Output {
            port: *port,
            max_len: u32::from(*max_len),
        }),
        Action::Group(g) => K::Group(*g),
        Action::PushVlan(t) => K::PushVlan(u32::from(*t)),
        Action::PopVlan => K::PopVlan(empty()),
        Action::SetField(f) => {
            let (v, _) = f.raw();
            let value = if f.kind() == OxmKind::VlanVid {
                (v & 0xfff).to_string()
            } else {
                format_raw(f.kind(), v, None)
            };
            K::SetField(v1::SetField {
                field: crate::syntax::field_name(f.kind()).to_string(),
                value,
            })
        }
        Action::DecNwTtl => K::DecNwTtl(empty()),
        Action::SetNwTtl(t) => K::SetNwTtl(u32::from(*t)),
        Action::SetQueue(q) => K::SetQueue(*q),
        Action::PushMpls(t) => K::PushMpls(u32::from(*t)),
        Action::PopMpls(t) => K::PopMpls(u32::from(*t)),
        Action::DecMplsTtl => K::DecMplsTtl(empty()),
        Action::SetMplsTtl(t) => K::SetMplsTtl(u32::from(*t)),
        Action::CopyTtlOut => K::CopyTtlOut(empty()),
        Action::CopyTtlIn => K::CopyTtlIn(empty()),
        // Never accepted by this switch; shown as a note.
        Action::PushPbb(_) | Action::PopPbb => K::SetField(v1::SetField {
            field: "unsupported".into(),
            value: format_action(a),
        }),
        // The API has no Nicira actions; shown in ovs-ofctl's syntax.
        Action::Nx(_) => K::SetField(v1::SetField {
            field: "nicira".into(),
            value: format_action(a),
        }),
    };
    v1::Action { kind: Some(kind) }
}

fn actions_from(list: &[v1::Action], at: &str) -> SwitchResult<Vec<Action>> {
    list.iter()
        .enumerate()
        .map(|(i, a)| action_from(a, &format!("{at}[{i}]")))
        .collect()
}

/// Protobuf instructions as OpenFlow.
pub fn instructions_from(list: &[v1::Instruction]) -> SwitchResult<Vec<Instruction>> {
    use v1::instruction::Kind as K;
    let mut out = Vec::new();
    for (i, ins) in list.iter().enumerate() {
        let at = format!("instructions[{i}]");
        let kind = ins
            .kind
            .as_ref()
            .ok_or_else(|| invalid(&at, "empty instruction"))?;
        out.push(match kind {
            K::ApplyActions(l) => Instruction::ApplyActions(actions_from(&l.actions, &at)?),
            K::WriteActions(l) => Instruction::WriteActions(actions_from(&l.actions, &at)?),
            K::ClearActions(_) => Instruction::ClearActions,
            K::WriteMetadata(w) => Instruction::WriteMetadata {
                metadata: w.value,
                mask: w.mask,
            },
            K::GotoTable(t) => Instruction::GotoTable(small(&at, *t)?),
            K::Meter(m) => Instruction::Meter(*m),
        });
    }
    Ok(out)
}

/// OpenFlow instructions as protobuf.
pub fn instructions_to(list: &[Instruction]) -> Vec<v1::Instruction> {
    use v1::instruction::Kind as K;
    list.iter()
        .map(|i| v1::Instruction {
            kind: Some(match i {
                Instruction::ApplyActions(l) => K::ApplyActions(v1::ActionList {
                    actions: l.iter().map(action_to).collect(),
                }),
                Instruction::WriteActions(l) => K::WriteActions(v1::ActionList {
                    actions: l.iter().map(action_to).collect(),
                }),
                Instruction::ClearActions => K::ClearActions(empty()),
                Instruction::WriteMetadata { metadata, mask } => {
                    K::WriteMetadata(v1::WriteMetadata {
                        value: *metadata,
                        mask: *mask,
                    })
                }
                Instruction::GotoTable(t) => K::GotoTable(u32::from(*t)),
                Instruction::Meter(m) => K::Meter(*m),
            }),
        })
        .collect()
}

/// A structured flow as a FLOW_MOD with `command`.
pub fn flow_from(f: &v1::Flow, command: FlowModCommand) -> SwitchResult<FlowMod> {
    let table: u8 = small("table", f.table)?;
    let mut flags = FlowModFlags::default();
    if let Some(fl) = &f.flags {
        for (on, bit) in [
            (fl.send_flow_rem, FlowModFlags::SEND_FLOW_REM),
            (fl.check_overlap, FlowModFlags::CHECK_OVERLAP),
            (fl.reset_counts, FlowModFlags::RESET_COUNTS),
            (fl.no_packet_counts, FlowModFlags::NO_PKT_COUNTS),
            (fl.no_byte_counts, FlowModFlags::NO_BYT_COUNTS),
        ] {
            if on {
                flags.insert(bit);
            }
        }
    }
    let fm = FlowMod {
        cookie: f.cookie,
        cookie_mask: f.cookie_mask,
        table_id: if command.is_delete() && f.table == 0 && !command.is_strict() {
            // Unset table in a non-strict delete: every table.
            ofproto::wire::flow_mod::OFPTT_ALL
        } else {
            table
        },
        command,
        idle_timeout: small("idle_timeout", f.idle_timeout)?,
        hard_timeout: small("hard_timeout", f.hard_timeout)?,
        priority: match f.priority {
            Some(p) => small("priority", p)?,
            None => OFP_DEFAULT_PRIORITY,
        },
        out_port: f.out_port.unwrap_or(port_no::ANY),
        out_group: f.out_group.unwrap_or(ofproto::wire::action::group_no::ANY),
        flags,
        match_: match &f.r#match {
            Some(m) => match_from(m)?,
            None => Match::new(),
        },
        instructions: instructions_from(&f.instructions)?,
        ..FlowMod::default()
    };
    if command.is_delete() && !fm.instructions.is_empty() {
        return Err(invalid("instructions", "not allowed when deleting"));
    }
    Ok(fm)
}

/// A rule as a structured flow.
pub fn flow_to(r: &ofproto::pipeline::rule::Rule) -> v1::Flow {
    let fl = r.flags;
    v1::Flow {
        table: u32::from(r.table_id),
        priority: Some(u32::from(r.priority)),
        cookie: r.cookie,
        cookie_mask: 0,
        idle_timeout: u32::from(r.idle_timeout),
        hard_timeout: u32::from(r.hard_timeout),
        flags: Some(v1::FlowFlags {
            send_flow_rem: fl.contains(FlowModFlags::SEND_FLOW_REM),
            check_overlap: fl.contains(FlowModFlags::CHECK_OVERLAP),
            reset_counts: fl.contains(FlowModFlags::RESET_COUNTS),
            no_packet_counts: fl.contains(FlowModFlags::NO_PKT_COUNTS),
            no_byte_counts: fl.contains(FlowModFlags::NO_BYT_COUNTS),
        }),
        r#match: Some(match_to(&r.matcher)),
        instructions: instructions_to(&r.instructions),
        out_port: None,
        out_group: None,
    }
}

/// A structured group as a GROUP_MOD.
pub fn group_from(g: &v1::Group, command: GroupModCommand) -> SwitchResult<GroupMod> {
    let group_type = match v1::GroupType::try_from(g.r#type) {
        Ok(v1::GroupType::All) => GroupType::All,
        Ok(v1::GroupType::Select) => GroupType::Select,
        Ok(v1::GroupType::Indirect) => GroupType::Indirect,
        Ok(v1::GroupType::FastFailover) => GroupType::FastFailover,
        Err(_) => return Err(invalid("type", format!("unknown group type {}", g.r#type))),
    };
    let buckets = g
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Ok(Bucket {
                weight: small(&format!("buckets[{i}].weight"), b.weight)?,
                watch_port: b.watch_port.unwrap_or(port_no::ANY),
                watch_group: b.watch_group.unwrap_or(ofproto::wire::group::group_id::ANY),
                actions: actions_from(&b.actions, &format!("buckets[{i}].actions"))?,
            })
        })
        .collect::<SwitchResult<Vec<_>>>()?;
    Ok(GroupMod {
        command,
        group_type,
        group_id: g.group_id,
        buckets,
    })
}

/// A group as protobuf.
pub fn group_to(id: u32, kind: GroupType, buckets: &[Bucket]) -> v1::Group {
    v1::Group {
        group_id: id,
        r#type: match kind {
            GroupType::Select => v1::GroupType::Select,
            GroupType::Indirect => v1::GroupType::Indirect,
            GroupType::FastFailover => v1::GroupType::FastFailover,
            _ => v1::GroupType::All,
        } as i32,
        buckets: buckets
            .iter()
            .map(|b| v1::Bucket {
                weight: u32::from(b.weight),
                watch_port: (b.watch_port != port_no::ANY).then_some(b.watch_port),
                watch_group: (b.watch_group != ofproto::wire::group::group_id::ANY)
                    .then_some(b.watch_group),
                actions: b.actions.iter().map(action_to).collect(),
            })
            .collect(),
    }
}

/// A structured meter as a METER_MOD.
pub fn meter_from(m: &v1::Meter, command: MeterModCommand) -> SwitchResult<MeterMod> {
    let mut flags = if m.pktps {
        meter_flags::PKTPS
    } else {
        meter_flags::KBPS
    };
    if m.burst {
        flags |= meter_flags::BURST;
    }
    if m.stats {
        flags |= meter_flags::STATS;
    }
    let bands = m
        .bands
        .iter()
        .enumerate()
        .map(|(i, b)| match b.r#type.as_str() {
            "drop" => Ok(MeterBand::Drop {
                rate: b.rate,
                burst_size: b.burst_size,
            }),
            "dscp_remark" => Ok(MeterBand::DscpRemark {
                rate: b.rate,
                burst_size: b.burst_size,
                prec_level: small(&format!("bands[{i}].prec_level"), b.prec_level)?,
            }),
            t => Err(invalid(
                &format!("bands[{i}].type"),
                format!("{t:?} (drop | dscp_remark)"),
            )),
        })
        .collect::<SwitchResult<Vec<_>>>()?;
    Ok(MeterMod {
        command,
        flags,
        meter_id: m.meter_id,
        bands,
    })
}

/// A meter as protobuf.
pub fn meter_to(id: u32, flags: u16, bands: &[MeterBand]) -> v1::Meter {
    v1::Meter {
        meter_id: id,
        pktps: flags & meter_flags::PKTPS != 0,
        burst: flags & meter_flags::BURST != 0,
        stats: flags & meter_flags::STATS != 0,
        bands: bands
            .iter()
            .map(|b| match b {
                MeterBand::Drop { rate, burst_size } => v1::MeterBand {
                    r#type: "drop".into(),
                    rate: *rate,
                    burst_size: *burst_size,
                    prec_level: 0,
                },
                MeterBand::DscpRemark {
                    rate,
                    burst_size,
                    prec_level,
                } => v1::MeterBand {
                    r#type: "dscp_remark".into(),
                    rate: *rate,
                    burst_size: *burst_size,
                    prec_level: u32::from(*prec_level),
                },
                MeterBand::Experimenter {
                    rate, burst_size, ..
                } => v1::MeterBand {
                    r#type: "experimenter".into(),
                    rate: *rate,
                    burst_size: *burst_size,
                    prec_level: 0,
                },
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::flow::{parse_flow, Purpose};
    use crate::syntax::no_names;

    #[test]
    fn structured_and_string_flows_agree() {
        let text = "table=1,priority=10,cookie=0x5,tcp,nw_dst=10.0.0.0/24,tp_dst=80,dl_vlan=7,actions=meter:1,output:2,set_field:10.0.0.9->nw_dst,goto_table:3";
        let fm = parse_flow(text, Purpose::Add, &no_names).unwrap();
        let rule_like = v1::Flow {
            table: 1,
            priority: Some(10),
            cookie: 5,
            r#match: Some(match_to(&fm.match_)),
            instructions: instructions_to(&fm.instructions),
            ..Default::default()
        };
        let back = flow_from(&rule_like, FlowModCommand::Add).unwrap();
        assert_eq!(back.match_.normalized(), fm.match_.normalized());
        assert_eq!(back.instructions, fm.instructions);
        assert_eq!((back.table_id, back.priority, back.cookie), (1, 10, 5));
    }

    #[test]
    fn structured_errors_name_the_field() {
        let f = v1::Flow {
            r#match: Some(v1::Match {
                eth_type: Some(0x800),
                ipv4_dst: "10.0.0.300".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = flow_from(&f, FlowModCommand::Add).unwrap_err().to_string();
        assert!(e.contains("match.ipv4_dst"), "{e}");
        let f = v1::Flow {
            instructions: vec![v1::Instruction {
                kind: Some(v1::instruction::Kind::ApplyActions(v1::ActionList {
                    actions: vec![v1::Action {
                        kind: Some(v1::action::Kind::PushVlan(0x1234)),
                    }],
                })),
            }],
            ..Default::default()
        };
        let e = flow_from(&f, FlowModCommand::Add).unwrap_err().to_string();
        assert!(e.contains("instructions[0][0]"), "{e}");
    }
}

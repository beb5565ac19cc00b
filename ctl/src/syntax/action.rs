//! The `actions=` part of a flow: OpenFlow 1.3 actions and instructions.
//!
//! ovs-ofctl writes instructions and actions in one list: plain actions
//! (`output:2`, `mod_vlan_vid:10`, `set_field:10.0.0.1->nw_dst`) form the
//! APPLY_ACTIONS instruction in the order given, while `meter:N`,
//! `goto_table:N`, `write_metadata:V/M`, `clear_actions` and
//! `write_actions(...)` are instructions of their own. [`parse_actions`]
//! sorts them into the order OpenFlow executes instructions (meter, apply,
//! clear, write, metadata, goto), and [`format_instructions`] prints them
//! back in that order, so printing then parsing gives the same list.
//!
//! Open vSwitch's extension actions (`resubmit`, `load`, `move`,
//! `output:FIELD[..]`, `note`) are parsed by [`super::nx_action`].
//!
//! Some actions depend on the match: `mod_tp_src` is a TCP, UDP or SCTP
//! port depending on `nw_proto`; [`Context`] carries what the match says.

use super::{
    field_kind, field_name, format_port, format_raw, parse_field, parse_num, parse_port, split_top,
    PortNames, SyntaxError, SyntaxResult,
};
use ofproto::wire::action::{port_no, Action, OFPCML_NO_BUFFER};
use ofproto::wire::instruction::Instruction;
use ofproto::wire::oxm::{OxmField, OxmKind, OFPVID_PRESENT};

/// What the match says that actions need to know.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    pub eth_type: Option<u16>,
    pub ip_proto: Option<u8>,
}

impl Context {
    /// The transport port field `mod_tp_src`/`mod_tp_dst` mean.
    fn tp_kind(&self, token: &str, src: bool) -> SyntaxResult<OxmKind> {
        Ok(match (self.ip_proto, src) {
            (Some(6), true) => OxmKind::TcpSrc,
            (Some(6), false) => OxmKind::TcpDst,
            (Some(17), true) => OxmKind::UdpSrc,
            (Some(17), false) => OxmKind::UdpDst,
            (Some(132), true) => OxmKind::SctpSrc,
            (Some(132), false) => OxmKind::SctpDst,
            _ => {
                return Err(SyntaxError::new(
                    token,
                    "needs a tcp, udp or sctp match (set nw_proto)",
                ))
            }
        })
    }
}

fn set(token: &str, kind: OxmKind, value: &str) -> SyntaxResult<Action> {
    let f = parse_field(token, kind, value)?;
    if f.mask_u128().is_some() {
        return Err(SyntaxError::new(token, "set-field takes no mask"));
    }
    Ok(Action::SetField(f))
}

/// `mod_vlan_vid` / `set_field:N->vlan_vid` take the 12-bit id.
fn set_vlan_vid(token: &str, value: &str) -> SyntaxResult<Action> {
    let vid = parse_num(token, value, 0xfff)? as u16;
    Ok(Action::SetField(OxmField::VlanVid {
        value: vid | OFPVID_PRESENT,
        mask: None,
    }))
}

/// Parse one action (not an instruction).
fn parse_action(token: &str, ctx: &Context, names: PortNames<'_>) -> SyntaxResult<Action> {
    let (name, arg) = match token.split_once(':') {
        Some((n, a)) => (n.trim(), Some(a.trim())),
        None => match token.split_once('(') {
            Some((n, rest)) => (n.trim(), rest.strip_suffix(')').map(str::trim)),
            None => (token.trim(), None),
        },
    };
    let need = |what: &str| -> SyntaxResult<&str> {
        arg.filter(|a| !a.is_empty())
            .ok_or_else(|| SyntaxError::new(token, format!("{name} needs {what}")))
    };
    let out = |port: u32| Action::Output { port, max_len: 0 };
    let lname = name.to_ascii_lowercase();
    if let Some(nx) = super::nx_action::parse(token, &lname, arg, names) {
        return nx.map(Action::Nx);
    }
    Ok(match lname.as_str() {
        "output" => {
            let port = parse_port(token, need("a port")?, names)?;
            if !port_no::is_valid_output(port) || port == port_no::TABLE {
                return Err(SyntaxError::new(token, "not a port a flow can output to"));
            }
            out(port)
        }
        "normal" => out(port_no::NORMAL),
        "flood" => out(port_no::FLOOD),
        "all" => out(port_no::ALL),
        "local" => out(port_no::LOCAL),
        "in_port" => out(port_no::IN_PORT),
        "controller" => {
            let max_len = match arg {
                None | Some("") => OFPCML_NO_BUFFER,
                Some(a) => {
                    let a = a.strip_prefix("max_len=").unwrap_or(a);
                    parse_num(token, a, u64::from(u16::MAX))? as u16
                }
            };
            Action::Output {
                port: port_no::CONTROLLER,
                max_len,
            }
        }
        "group" => {
            Action::Group(parse_num(token, need("a group id")?, u64::from(u32::MAX))? as u32)
        }
        "mod_vlan_vid" => set_vlan_vid(token, need("a VLAN id")?)?,
        "mod_vlan_pcp" => set(token, OxmKind::VlanPcp, need("a priority")?)?,
        "strip_vlan" | "pop_vlan" => Action::PopVlan,
        "push_vlan" => {
            let t = parse_num(token, need("an ethertype")?, 0xffff)? as u16;
            if t != 0x8100 && t != 0x88a8 {
                return Err(SyntaxError::new(token, "push_vlan takes 0x8100 or 0x88a8"));
            }
            Action::PushVlan(t)
        }
        "push_mpls" => Action::PushMpls(parse_num(token, need("an ethertype")?, 0xffff)? as u16),
        "pop_mpls" => Action::PopMpls(parse_num(token, need("an ethertype")?, 0xffff)? as u16),
        "mod_dl_src" => set(token, OxmKind::EthSrc, need("a MAC")?)?,
        "mod_dl_dst" => set(token, OxmKind::EthDst, need("a MAC")?)?,
        "mod_nw_src" => set(token, OxmKind::Ipv4Src, need("an address")?)?,
        "mod_nw_dst" => set(token, OxmKind::Ipv4Dst, need("an address")?)?,
        "mod_nw_tos" => {
            let tos = parse_num(token, need("a TOS value")?, 0xff)?;
            if tos & 3 != 0 {
                return Err(SyntaxError::new(
                    token,
                    "mod_nw_tos must leave the ECN bits 0",
                ));
            }
            Action::SetField(OxmField::IpDscp((tos >> 2) as u8))
        }
        "mod_nw_ecn" => set(token, OxmKind::IpEcn, need("an ECN value")?)?,
        "mod_tp_src" => set(token, ctx.tp_kind(token, true)?, need("a port")?)?,
        "mod_tp_dst" => set(token, ctx.tp_kind(token, false)?, need("a port")?)?,
        "mod_nw_ttl" | "set_nw_ttl" => {
            Action::SetNwTtl(parse_num(token, need("a TTL")?, 255)? as u8)
        }
        "dec_ttl" => Action::DecNwTtl,
        "set_mpls_ttl" => Action::SetMplsTtl(parse_num(token, need("a TTL")?, 255)? as u8),
        "dec_mpls_ttl" => Action::DecMplsTtl,
        "copy_ttl_out" => Action::CopyTtlOut,
        "copy_ttl_in" => Action::CopyTtlIn,
        "set_queue" | "enqueue" => {
            Action::SetQueue(parse_num(token, need("a queue id")?, u64::from(u32::MAX))? as u32)
        }
        "set_field" => {
            let a = need("VALUE->FIELD")?;
            let (value, field) = a
                .split_once("->")
                .ok_or_else(|| SyntaxError::new(token, "set_field takes VALUE->FIELD"))?;
            let kind = field_kind(field.trim()).ok_or_else(|| {
                SyntaxError::new(token, format!("unknown field {:?}", field.trim()))
            })?;
            if kind == OxmKind::VlanVid {
                set_vlan_vid(token, value.trim())?
            } else {
                set(token, kind, value.trim())?
            }
        }
        "learn" | "ct" | "multipath" | "bundle" | "output_reg" | "set_tunnel" | "set_tunnel64"
        | "exit" | "conjunction" => {
            return Err(SyntaxError::new(
                token,
                format!("{name} is an Open vSwitch extension switchd does not have"),
            ))
        }
        _ if name.starts_with(|c: char| c.is_ascii_digit()) && arg.is_none() => {
            // A bare port number is an output.
            let port = parse_port(token, name, names)?;
            if !port_no::is_valid_output(port) {
                return Err(SyntaxError::new(token, "not a port a flow can output to"));
            }
            out(port)
        }
        _ => return Err(SyntaxError::new(token, format!("unknown action {name:?}"))),
    })
}

/// Parse the text after `actions=` into instructions (empty or `drop`:
/// no instructions).
pub fn parse_actions(
    text: &str,
    ctx: &Context,
    names: PortNames<'_>,
) -> SyntaxResult<Vec<Instruction>> {
    let mut meter = None;
    let mut apply = Vec::new();
    let mut clear = false;
    let mut write: Option<Vec<Action>> = None;
    let mut metadata = None;
    let mut goto = None;
    let tokens = split_top(text, false)?;
    let n = tokens.len();
    for token in tokens {
        let lower = token.to_ascii_lowercase();
        let arg = token.split_once(':').map(|(_, a)| a.trim());
        let dup = |what: &str| SyntaxError::new(token, format!("{what} given twice"));
        if lower == "drop" {
            if n > 1 {
                return Err(SyntaxError::new(token, "drop must be the only action"));
            }
        } else if lower.starts_with("meter:") {
            let id = parse_num(token, arg.unwrap_or(""), u64::from(u32::MAX))? as u32;
            if meter.replace(id).is_some() {
                return Err(dup("meter"));
            }
        } else if lower.starts_with("goto_table:") {
            let t = parse_num(token, arg.unwrap_or(""), 254)? as u8;
            if goto.replace(t).is_some() {
                return Err(dup("goto_table"));
            }
        } else if lower.starts_with("write_metadata:") {
            let a = arg.unwrap_or("");
            let (v, m) = match a.split_once('/') {
                Some((v, m)) => (v, Some(m)),
                None => (a, None),
            };
            let v = parse_num(token, v, u64::MAX)?;
            let m = m.map_or(Ok(u64::MAX), |m| parse_num(token, m, u64::MAX))?;
            if metadata.replace((v, m)).is_some() {
                return Err(dup("write_metadata"));
            }
        } else if lower == "clear_actions" {
            clear = true;
        } else if lower.starts_with("write_actions(") {
            let inner = token
                .split_once('(')
                .and_then(|(_, r)| r.strip_suffix(')'))
                .ok_or_else(|| SyntaxError::new(token, "write_actions(...) is not closed"))?;
            let mut list = Vec::new();
            for t in split_top(inner, false)? {
                list.push(parse_action(t, ctx, names)?);
            }
            if write.replace(list).is_some() {
                return Err(dup("write_actions"));
            }
        } else if lower.starts_with("goto_table") || lower.starts_with("meter") {
            return Err(SyntaxError::new(token, "needs :N"));
        } else {
            apply.push(parse_action(token, ctx, names)?);
        }
    }
    let mut out = Vec::new();
    if let Some(m) = meter {
        out.push(Instruction::Meter(m));
    }
    if !apply.is_empty() {
        out.push(Instruction::ApplyActions(apply));
    }
    if clear {
        out.push(Instruction::ClearActions);
    }
    if let Some(w) = write {
        out.push(Instruction::WriteActions(w));
    }
    if let Some((metadata, mask)) = metadata {
        out.push(Instruction::WriteMetadata { metadata, mask });
    }
    if let Some(t) = goto {
        out.push(Instruction::GotoTable(t));
    }
    Ok(out)
}

/// One action as the syntax writes it.
pub fn format_action(a: &Action) -> String {
    match a {
        Action::Output { port, max_len } => match *port {
            port_no::CONTROLLER if *max_len == OFPCML_NO_BUFFER => "controller".into(),
            port_no::CONTROLLER => format!("controller:{max_len}"),
            port_no::NORMAL => "normal".into(),
            port_no::FLOOD => "flood".into(),
            port_no::ALL => "all".into(),
            port_no::LOCAL => "local".into(),
            port_no::IN_PORT => "in_port".into(),
            p => format!("output:{}", format_port(p)),
        },
        Action::CopyTtlOut => "copy_ttl_out".into(),
        Action::CopyTtlIn => "copy_ttl_in".into(),
        Action::SetMplsTtl(t) => format!("set_mpls_ttl:{t}"),
        Action::DecMplsTtl => "dec_mpls_ttl".into(),
        Action::PushVlan(t) => format!("push_vlan:{t:#06x}"),
        Action::PopVlan => "pop_vlan".into(),
        Action::PushMpls(t) => format!("push_mpls:{t:#06x}"),
        Action::PopMpls(t) => format!("pop_mpls:{t:#06x}"),
        Action::SetQueue(q) => format!("set_queue:{q}"),
        Action::Group(g) => format!("group:{g}"),
        Action::SetNwTtl(t) => format!("mod_nw_ttl:{t}"),
        Action::DecNwTtl => "dec_ttl".into(),
        Action::SetField(OxmField::VlanVid { value, .. }) => {
            format!("set_field:{}->vlan_vid", value & 0xfff)
        }
        Action::SetField(f) => {
            let (v, _) = f.raw();
            format!(
                "set_field:{}->{}",
                format_raw(f.kind(), v, None),
                field_name(f.kind())
            )
        }
        // Not produced by the parser; printed for dumps only.
        Action::PushPbb(t) => format!("push_pbb:{t:#06x}"),
        Action::PopPbb => "pop_pbb".into(),
        // Nicira actions print as ovs-ofctl prints them.
        Action::Nx(nx) => nx.to_string(),
    }
}

/// Instructions as the text after `actions=`.
pub fn format_instructions(instructions: &[Instruction]) -> String {
    let mut parts = Vec::new();
    for i in instructions {
        match i {
            Instruction::Meter(m) => parts.push(format!("meter:{m}")),
            Instruction::ApplyActions(list) => parts.extend(list.iter().map(format_action)),
            Instruction::ClearActions => parts.push("clear_actions".into()),
            Instruction::WriteActions(list) => parts.push(format!(
                "write_actions({})",
                list.iter().map(format_action).collect::<Vec<_>>().join(",")
            )),
            Instruction::WriteMetadata { metadata, mask } => {
                if *mask == u64::MAX {
                    parts.push(format!("write_metadata:{metadata:#x}"))
                } else {
                    parts.push(format!("write_metadata:{metadata:#x}/{mask:#x}"))
                }
            }
            Instruction::GotoTable(t) => parts.push(format!("goto_table:{t}")),
        }
    }
    if parts.is_empty() {
        "drop".into()
    } else {
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::super::no_names;
    use super::*;

    fn parse(text: &str) -> SyntaxResult<Vec<Instruction>> {
        let ctx = Context {
            eth_type: Some(0x0800),
            ip_proto: Some(6),
        };
        parse_actions(text, &ctx, &no_names)
    }

    #[test]
    fn instructions_are_sorted_and_round_trip() {
        let text = "goto_table:3,output:2,meter:7,write_metadata:0x1/0xff,mod_vlan_vid:10";
        let i = parse(text).unwrap();
        assert!(matches!(i[0], Instruction::Meter(7)));
        assert!(matches!(i.last(), Some(Instruction::GotoTable(3))));
        let printed = format_instructions(&i);
        assert_eq!(
            printed,
            "meter:7,output:2,set_field:10->vlan_vid,write_metadata:0x1/0xff,goto_table:3"
        );
        assert_eq!(parse(&printed).unwrap(), i);
    }

    #[test]
    fn every_action_kind_parses_and_round_trips() {
        let text = "output:1,drop_me";
        assert!(parse(text).is_err());
        let all = [
            "normal",
            "flood",
            "all",
            "local",
            "in_port",
            "controller",
            "controller:128",
            "controller(max_len=64)",
            "strip_vlan",
            "push_vlan:0x8100",
            "set_field:10.0.0.1->nw_dst",
            "mod_dl_src:00:11:22:33:44:55",
            "mod_dl_dst:00:11:22:33:44:66",
            "mod_nw_src:1.2.3.4",
            "mod_nw_dst:1.2.3.5",
            "mod_tp_src:1000",
            "mod_tp_dst:2000",
            "dec_ttl",
            "group:4",
            "mod_nw_tos:8",
            "set_queue:1",
            "mod_nw_ttl:9",
            "3",
            "clear_actions",
            "write_actions(output:3)",
            "resubmit:3",
            "resubmit(,2)",
            "resubmit(1,4)",
            "load:0x3->NXM_NX_REG1[]",
            "load:0x1->reg2[4..7]",
            "move:NXM_OF_ETH_SRC[0..15]->NXM_NX_REG3[0..15]",
            "move:reg0[0..7]->tun_id[8..15]",
            "output:NXM_NX_REG13[0..15]",
            "note:aa.bb.00.00.00.00",
            "sample(probability=65535,collector_set_id=5,obs_domain_id=7,obs_point_id=9)",
            "sample(probability=1,collector_set_id=1,obs_domain_id=0,obs_point_id=0,sampling_port=3,egress)",
            "sample(probability=100,collector_set_id=1,obs_domain_id=2,obs_point_id=3,sampling_port=LOCAL)",
            "set_field:0x7->reg5",
            "set_field:2001:db8::2->tun_ipv6_dst",
        ];
        for a in all {
            let i = parse(a).unwrap_or_else(|e| panic!("{a}: {e}"));
            let again = parse(&format_instructions(&i)).unwrap();
            assert_eq!(again, i, "{a}");
        }
        assert_eq!(parse("drop").unwrap(), vec![]);
    }

    #[test]
    fn bad_actions_name_the_token() {
        let cases = [
            ("output:1,learn(table=1)", "learn(table=1)", "extension"),
            ("load:0x1ff->reg0[0..7]", "load:0x1ff->reg0[0..7]", "larger"),
            (
                "move:reg0[0..7]->reg1[0..3]",
                "move:reg0[0..7]->reg1[0..3]",
                "same width",
            ),
            ("load:1->nosuch[]", "load:1->nosuch[]", "unknown field"),
            ("output:1,frobnicate", "frobnicate", "unknown action"),
            ("output:x9", "output:x9", "unknown port"),
            ("mod_vlan_vid:5000", "mod_vlan_vid:5000", "larger"),
            ("push_vlan:0x1234", "push_vlan:0x1234", "0x8100"),
            ("drop,output:1", "drop", "only action"),
            ("goto_table:1,goto_table:2", "goto_table:2", "twice"),
            (
                "set_field:1->nonsense",
                "set_field:1->nonsense",
                "unknown field",
            ),
            ("output:ANY", "output:ANY", "output to"),
            (
                "sample(collector_set_id=1)",
                "sample(collector_set_id=1)",
                "probability",
            ),
            (
                "sample(probability=1,rate=2)",
                "sample(probability=1,rate=2)",
                "invalid key",
            ),
            (
                "sample(probability=70000)",
                "sample(probability=70000)",
                "larger",
            ),
        ];
        for (text, token, msg) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.token, token, "{text}: {e}");
            assert!(e.message.contains(msg), "{text}: {e}");
        }
        let udp_less = parse_actions("mod_tp_dst:1", &Context::default(), &no_names).unwrap_err();
        assert!(udp_less.message.contains("tcp, udp"));
    }
}

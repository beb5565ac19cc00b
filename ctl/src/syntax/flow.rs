//! A whole flow: `table=0,priority=10,tcp,nw_dst=10.0.0.0/24,tp_dst=80,actions=output:2`.
//!
//! A flow string is a list of `key=value` and bare keyword tokens separated
//! by commas or spaces, then `actions=` and the action list (the rest of
//! the string). Tokens are read in two passes: the first settles the
//! protocol (`ip`, `tcp`, `dl_type=`, `nw_proto=`...), the second reads
//! fields whose meaning depends on it (`tp_dst` is TCP's or UDP's port,
//! `nw_src` is an ARP SPA in an `arp` flow), so token order does not
//! matter, as in ovs-ofctl.

use super::action::{format_instructions, parse_actions, Context};
use super::{
    field_kind, field_name, format_port, format_raw, parse_field, parse_num, parse_port, parse_u64,
    split_top, PortNames, SyntaxError, SyntaxResult,
};
use ofproto::wire::action::{group_no, port_no};
use ofproto::wire::flow_mod::{FlowMod, FlowModCommand, FlowModFlags};
use ofproto::wire::instruction::Instruction;
use ofproto::wire::oxm::{Match, OxmField, OxmKind, OFPVID_PRESENT};

/// What a flow string is for: actions are required for adds, optional for
/// modifies, refused for deletes and matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Add,
    Modify {
        strict: bool,
    },
    Delete {
        strict: bool,
    },
    /// Only a match (dump filters, traces): table/priority/cookie allowed.
    Match,
}

/// `ip`, `tcp`, ... : (eth_type, ip_proto).
fn shorthand(word: &str) -> Option<(u16, Option<u8>)> {
    Some(match word {
        "ip" => (0x0800, None),
        "ipv6" => (0x86dd, None),
        "arp" => (0x0806, None),
        "rarp" => (0x8035, None),
        "mpls" => (0x8847, None),
        "icmp" => (0x0800, Some(1)),
        "tcp" => (0x0800, Some(6)),
        "udp" => (0x0800, Some(17)),
        "sctp" => (0x0800, Some(132)),
        "icmp6" => (0x86dd, Some(58)),
        "tcp6" => (0x86dd, Some(6)),
        "udp6" => (0x86dd, Some(17)),
        "sctp6" => (0x86dd, Some(132)),
        _ => return None,
    })
}

/// Map names whose field depends on the protocol.
fn contextual_kind(token: &str, name: &str, ctx: &Context) -> SyntaxResult<Option<OxmKind>> {
    let arp = ctx.eth_type == Some(0x0806) || ctx.eth_type == Some(0x8035);
    let v6 = ctx.eth_type == Some(0x86dd);
    Ok(Some(match name {
        "nw_src" | "ip_src" if arp => OxmKind::ArpSpa,
        "nw_dst" | "ip_dst" if arp => OxmKind::ArpTpa,
        "nw_proto" if arp => OxmKind::ArpOp,
        "tp_src" | "tp_dst" => {
            let src = name == "tp_src";
            match (ctx.ip_proto, v6) {
                (Some(6), _) => {
                    if src {
                        OxmKind::TcpSrc
                    } else {
                        OxmKind::TcpDst
                    }
                }
                (Some(17), _) => {
                    if src {
                        OxmKind::UdpSrc
                    } else {
                        OxmKind::UdpDst
                    }
                }
                (Some(132), _) => {
                    if src {
                        OxmKind::SctpSrc
                    } else {
                        OxmKind::SctpDst
                    }
                }
                (Some(1), false) => {
                    if src {
                        OxmKind::Icmpv4Type
                    } else {
                        OxmKind::Icmpv4Code
                    }
                }
                (Some(58), true) => {
                    if src {
                        OxmKind::Icmpv6Type
                    } else {
                        OxmKind::Icmpv6Code
                    }
                }
                _ => {
                    return Err(SyntaxError::new(
                        token,
                        "tp_src/tp_dst need tcp, udp, sctp or icmp first",
                    ))
                }
            }
        }
        "icmp_type" if v6 => OxmKind::Icmpv6Type,
        "icmp_code" if v6 => OxmKind::Icmpv6Code,
        _ => return Ok(None),
    }))
}

/// Parse a flow string for `purpose`.
pub fn parse_flow(text: &str, purpose: Purpose, names: PortNames<'_>) -> SyntaxResult<FlowMod> {
    let (head, actions) = split_actions(text);
    let mut fm = FlowMod {
        command: match purpose {
            Purpose::Add | Purpose::Match => FlowModCommand::Add,
            Purpose::Modify { strict: false } => FlowModCommand::Modify,
            Purpose::Modify { strict: true } => FlowModCommand::ModifyStrict,
            Purpose::Delete { strict: false } => FlowModCommand::Delete,
            Purpose::Delete { strict: true } => FlowModCommand::DeleteStrict,
        },
        ..FlowMod::default()
    };
    // Deletes default to every table, as in ovs-ofctl.
    if matches!(purpose, Purpose::Delete { .. }) {
        fm.table_id = ofproto::wire::flow_mod::OFPTT_ALL;
    }
    let tokens = split_top(head, true)?;
    let mut ctx = Context::default();
    // Pass 1: the protocol.
    for &token in &tokens {
        let lower = token.to_ascii_lowercase();
        if let Some((et, proto)) = shorthand(&lower) {
            set_once(token, &mut ctx.eth_type, et)?;
            if let Some(p) = proto {
                set_once(token, &mut ctx.ip_proto, p)?;
            }
        } else if let Some((k, v)) = token.split_once('=') {
            match k.trim().to_ascii_lowercase().as_str() {
                "dl_type" | "eth_type" => set_once(
                    token,
                    &mut ctx.eth_type,
                    parse_num(token, v, 0xffff)? as u16,
                )?,
                "nw_proto" | "ip_proto"
                    if ctx.eth_type != Some(0x0806) && ctx.eth_type != Some(0x8035) =>
                {
                    set_once(token, &mut ctx.ip_proto, parse_num(token, v, 0xff)? as u8)?
                }
                _ => {}
            }
        }
    }
    let mut m = Match::new();
    if let Some(et) = ctx.eth_type {
        m.insert(OxmField::EthType(et));
    }
    if let Some(p) = ctx.ip_proto {
        m.insert(OxmField::IpProto(p));
    }
    // Pass 2: everything else.
    for &token in &tokens {
        let lower = token.to_ascii_lowercase();
        if shorthand(&lower).is_some() {
            continue;
        }
        let Some((key, value)) = token.split_once('=') else {
            let flag = match lower.as_str() {
                "send_flow_rem" => FlowModFlags::SEND_FLOW_REM,
                "check_overlap" => FlowModFlags::CHECK_OVERLAP,
                "reset_counts" => FlowModFlags::RESET_COUNTS,
                "no_packet_counts" => FlowModFlags::NO_PKT_COUNTS,
                "no_byte_counts" => FlowModFlags::NO_BYT_COUNTS,
                _ => {
                    return Err(SyntaxError::new(
                        token,
                        format!("unknown keyword {token:?}"),
                    ))
                }
            };
            fm.flags.insert(flag);
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        if value.is_empty() {
            return Err(SyntaxError::new(token, "missing value"));
        }
        match key.as_str() {
            "dl_type" | "eth_type" => continue,
            "nw_proto" | "ip_proto" if ctx.ip_proto.is_some() => continue,
            "table" => fm.table_id = parse_num(token, value, 254)? as u8,
            "priority" => fm.priority = parse_num(token, value, 0xffff)? as u16,
            "cookie" => match value.split_once('/') {
                Some((v, mask)) => {
                    fm.cookie = parse_u64(token, v)?;
                    fm.cookie_mask = parse_u64(token, mask)?;
                }
                None => {
                    fm.cookie = parse_u64(token, value)?;
                    if !matches!(purpose, Purpose::Add) {
                        fm.cookie_mask = u64::MAX;
                    }
                }
            },
            "idle_timeout" => fm.idle_timeout = parse_num(token, value, 0xffff)? as u16,
            "hard_timeout" => fm.hard_timeout = parse_num(token, value, 0xffff)? as u16,
            "out_port" => fm.out_port = parse_port(token, value, names)?,
            "out_group" => fm.out_group = parse_num(token, value, u64::from(u32::MAX))? as u32,
            "in_port" => {
                let p = parse_port(token, value, names)?;
                insert(token, &mut m, OxmField::InPort(p))?;
            }
            "dl_vlan" | "vlan_vid" => {
                // 0xffff (ovs-ofctl's "no VLAN") or "none": untagged only.
                let f = if value.eq_ignore_ascii_case("none") || value == "0xffff" {
                    OxmField::VlanVid {
                        value: 0,
                        mask: None,
                    }
                } else if key == "vlan_vid" && value.contains('/') {
                    parse_field(token, OxmKind::VlanVid, value)?
                } else {
                    let vid = parse_num(token, value, 0xfff)? as u16;
                    OxmField::VlanVid {
                        value: vid | OFPVID_PRESENT,
                        mask: None,
                    }
                };
                insert(token, &mut m, f)?;
            }
            "nw_tos" => {
                let tos = parse_num(token, value, 0xff)?;
                insert(token, &mut m, OxmField::IpDscp((tos >> 2) as u8))?;
            }
            "actions" => unreachable_actions(token)?,
            _ => {
                let kind = match contextual_kind(token, &key, &ctx)? {
                    Some(k) => k,
                    None => field_kind(&key)
                        .ok_or_else(|| SyntaxError::new(token, format!("unknown field {key:?}")))?,
                };
                insert(token, &mut m, parse_field(token, kind, value)?)?;
            }
        }
    }
    m.check_prerequisites()
        .map_err(|e| SyntaxError::new(head.trim(), format!("match prerequisites: {e}")))?;
    fm.match_ = m;
    match (purpose, actions) {
        (Purpose::Add, None) => {
            return Err(SyntaxError::new(
                text.trim(),
                "a flow to add needs actions=",
            ))
        }
        (Purpose::Modify { .. }, None) => {
            return Err(SyntaxError::new(text.trim(), "mod-flows needs actions="))
        }
        (Purpose::Delete { .. } | Purpose::Match, Some(a)) => {
            return Err(SyntaxError::new(
                format!("actions={a}"),
                "actions are not allowed here",
            ))
        }
        (_, Some(a)) => fm.instructions = parse_actions(a, &ctx, names)?,
        (_, None) => {}
    }
    Ok(fm)
}

fn unreachable_actions(token: &str) -> SyntaxResult<()> {
    Err(SyntaxError::new(token, "actions= must come last"))
}

fn set_once<T: PartialEq + Copy>(token: &str, slot: &mut Option<T>, v: T) -> SyntaxResult<()> {
    match *slot {
        Some(old) if old != v => Err(SyntaxError::new(token, "contradicts an earlier protocol")),
        _ => {
            *slot = Some(v);
            Ok(())
        }
    }
}

fn insert(token: &str, m: &mut Match, f: OxmField) -> SyntaxResult<()> {
    if m.contains(f.kind()) {
        return Err(SyntaxError::new(token, "field given twice"));
    }
    m.insert(f);
    Ok(())
}

/// Split off `actions=...` (the rest of the string after it).
fn split_actions(text: &str) -> (&str, Option<&str>) {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("actions=") {
        let at = from + i;
        // Only at a token start (not "write_actions=").
        let before = lower[..at].chars().next_back();
        if before.is_none_or(|c| c == ',' || c.is_whitespace()) {
            return (&text[..at], Some(text[at + "actions=".len()..].trim()));
        }
        from = at + 1;
    }
    (text, None)
}

/// Parse a match (for dump filters and traces): `table=` is returned too.
pub fn parse_match(text: &str, names: PortNames<'_>) -> SyntaxResult<(Match, Option<u8>)> {
    let fm = parse_flow(text, Purpose::Match, names)?;
    let has_table = split_top(text, true)?
        .iter()
        .any(|t| t.to_ascii_lowercase().starts_with("table="));
    Ok((fm.match_, has_table.then_some(fm.table_id)))
}

/// A match as flow-syntax text (no trailing comma; empty for match-all).
pub fn format_match(m: &Match) -> String {
    let mut parts: Vec<String> = Vec::new();
    let eth_type = match m.get(OxmKind::EthType) {
        Some(OxmField::EthType(t)) => Some(*t),
        _ => None,
    };
    let proto = match m.get(OxmKind::IpProto) {
        Some(OxmField::IpProto(p)) => Some(*p),
        _ => None,
    };
    let word = match (eth_type, proto) {
        (Some(0x0800), Some(1)) => Some("icmp"),
        (Some(0x0800), Some(6)) => Some("tcp"),
        (Some(0x0800), Some(17)) => Some("udp"),
        (Some(0x0800), Some(132)) => Some("sctp"),
        (Some(0x86dd), Some(58)) => Some("icmp6"),
        (Some(0x86dd), Some(6)) => Some("tcp6"),
        (Some(0x86dd), Some(17)) => Some("udp6"),
        (Some(0x86dd), Some(132)) => Some("sctp6"),
        (Some(0x0800), _) => Some("ip"),
        (Some(0x86dd), _) => Some("ipv6"),
        (Some(0x0806), _) => Some("arp"),
        _ => None,
    };
    let proto_in_word = word.is_some_and(|w| !matches!(w, "ip" | "ipv6" | "arp"));
    if let Some(w) = word {
        parts.push(w.into());
    } else if let Some(t) = eth_type {
        parts.push(format!("dl_type={t:#06x}"));
    }
    let mut fields: Vec<&OxmField> = m.iter().collect();
    fields.sort_by_key(|f| f.kind());
    for f in fields {
        let kind = f.kind();
        match (kind, f) {
            (OxmKind::EthType, _) => {}
            (OxmKind::IpProto, _) if proto_in_word => {}
            (OxmKind::InPort, OxmField::InPort(p)) => {
                parts.push(format!("in_port={}", format_port(*p)))
            }
            (OxmKind::VlanVid, OxmField::VlanVid { value, mask: None }) => {
                if value & OFPVID_PRESENT == 0 {
                    parts.push("dl_vlan=0xffff".into())
                } else {
                    parts.push(format!("dl_vlan={}", value & 0xfff))
                }
            }
            (
                OxmKind::VlanVid,
                OxmField::VlanVid {
                    value,
                    mask: Some(mk),
                },
            ) => parts.push(format!("vlan_vid={value:#x}/{mk:#x}")),
            _ => {
                let (v, mk) = f.raw();
                let name = match kind {
                    OxmKind::TcpSrc | OxmKind::UdpSrc | OxmKind::SctpSrc => "tp_src",
                    OxmKind::TcpDst | OxmKind::UdpDst | OxmKind::SctpDst => "tp_dst",
                    _ => field_name(kind),
                };
                parts.push(format!("{name}={}", format_raw(kind, v, mk)));
            }
        }
    }
    parts.join(",")
}

/// The parts of a flow the printer needs (a FlowMod or a pipeline rule).
#[derive(Debug, Clone, Copy)]
pub struct FlowView<'a> {
    pub table: u8,
    pub priority: u16,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: FlowModFlags,
    pub matcher: &'a Match,
    pub instructions: &'a [Instruction],
}

impl<'a> From<&'a FlowMod> for FlowView<'a> {
    fn from(fm: &'a FlowMod) -> Self {
        FlowView {
            table: fm.table_id,
            priority: fm.priority,
            cookie: fm.cookie,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            matcher: &fm.match_,
            instructions: &fm.instructions,
        }
    }
}

impl<'a> From<&'a ofproto::pipeline::rule::Rule> for FlowView<'a> {
    fn from(r: &'a ofproto::pipeline::rule::Rule) -> Self {
        FlowView {
            table: r.table_id,
            priority: r.priority,
            cookie: r.cookie,
            idle_timeout: r.idle_timeout,
            hard_timeout: r.hard_timeout,
            flags: r.flags,
            matcher: &r.matcher,
            instructions: &r.instructions,
        }
    }
}

/// A flow as an add-flow string that parses back to the same flow.
pub fn format_flow(f: FlowView<'_>) -> String {
    let mut parts = vec![
        format!("table={}", f.table),
        format!("priority={}", f.priority),
    ];
    if f.cookie != 0 {
        parts.push(format!("cookie={:#x}", f.cookie));
    }
    if f.idle_timeout != 0 {
        parts.push(format!("idle_timeout={}", f.idle_timeout));
    }
    if f.hard_timeout != 0 {
        parts.push(format!("hard_timeout={}", f.hard_timeout));
    }
    for (flag, name) in [
        (FlowModFlags::SEND_FLOW_REM, "send_flow_rem"),
        (FlowModFlags::CHECK_OVERLAP, "check_overlap"),
        (FlowModFlags::RESET_COUNTS, "reset_counts"),
        (FlowModFlags::NO_PKT_COUNTS, "no_packet_counts"),
        (FlowModFlags::NO_BYT_COUNTS, "no_byte_counts"),
    ] {
        if f.flags.contains(flag) {
            parts.push(name.into());
        }
    }
    let m = format_match(f.matcher);
    if !m.is_empty() {
        parts.push(m);
    }
    parts.push(format!("actions={}", format_instructions(f.instructions)));
    parts.join(",")
}

/// `out_port`/`out_group` values meaning "any".
pub const ANY_PORT: u32 = port_no::ANY;
pub const ANY_GROUP: u32 = group_no::ANY;

#[cfg(test)]
mod tests {
    use super::super::no_names;
    use super::*;

    fn add(text: &str) -> SyntaxResult<FlowMod> {
        parse_flow(text, Purpose::Add, &no_names)
    }

    #[test]
    fn a_typical_flow_parses() {
        let fm = add("table=1, priority=100,cookie=0x10,idle_timeout=5,hard_timeout=60,tcp,nw_src=10.0.0.0/8,tp_dst=80,in_port=3,dl_vlan=7,actions=output:2").unwrap();
        assert_eq!(fm.table_id, 1);
        assert_eq!(fm.priority, 100);
        assert_eq!(fm.cookie, 0x10);
        assert_eq!(fm.idle_timeout, 5);
        assert_eq!(fm.hard_timeout, 60);
        assert!(fm.match_.contains(OxmKind::TcpDst));
        assert!(fm.match_.contains(OxmKind::InPort));
        assert_eq!(
            fm.match_.get(OxmKind::VlanVid),
            Some(&OxmField::VlanVid {
                value: 0x1007,
                mask: None
            })
        );
        assert_eq!(fm.instructions.len(), 1);
    }

    #[test]
    fn token_order_does_not_matter() {
        let a = add("tp_dst=53,udp,actions=drop").unwrap();
        let b = add("udp,tp_dst=53,actions=drop").unwrap();
        assert_eq!(a.match_.normalized(), b.match_.normalized());
        assert!(a.match_.contains(OxmKind::UdpDst));
    }

    #[test]
    fn flows_round_trip_through_the_printer() {
        let flows = [
            "table=0,priority=32768,actions=drop",
            "table=0,priority=10,ip,nw_dst=10.0.0.0/24,actions=output:2",
            "table=3,priority=5,cookie=0x7,send_flow_rem,tcp,nw_src=1.2.3.4,tp_src=22,actions=controller:128,goto_table:4",
            "table=0,priority=1,arp,arp_spa=10.0.0.1,arp_op=1,actions=flood",
            "table=0,priority=1,in_port=LOCAL,dl_src=00:11:22:33:44:55,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=normal",
            "table=0,priority=1,metadata=0x5/0xff,dl_vlan=0xffff,actions=push_vlan:0x8100,set_field:5->vlan_vid,output:1",
            "table=0,priority=1,udp6,ipv6_src=2001:db8::/32,tp_dst=53,actions=meter:2,group:3",
            "table=0,priority=1,icmp,icmp_type=8,actions=write_actions(output:1),write_metadata:0x1/0x1",
            "table=0,priority=1,dl_type=0x88cc,actions=controller",
        ];
        for text in flows {
            let mut fm = add(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let printed = format_flow(FlowView::from(&fm));
            let mut again = add(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
            fm.match_ = fm.match_.normalized();
            again.match_ = again.match_.normalized();
            assert_eq!(again, fm, "{text} -> {printed}");
        }
    }

    #[test]
    fn delete_and_match_purposes() {
        let d = parse_flow(
            "tcp,tp_dst=80",
            Purpose::Delete { strict: false },
            &no_names,
        )
        .unwrap();
        assert_eq!(d.command, FlowModCommand::Delete);
        assert_eq!(d.table_id, 0xff);
        let e = parse_flow(
            "ip,actions=drop",
            Purpose::Delete { strict: true },
            &no_names,
        )
        .unwrap_err();
        assert!(e.message.contains("not allowed"));
        let (m, t) = parse_match("table=2,ip,nw_dst=10.0.0.1", &no_names).unwrap();
        assert_eq!(t, Some(2));
        assert!(m.contains(OxmKind::Ipv4Dst));
        let names = |n: &str| (n == "eth1").then_some(4);
        let fm = parse_flow("in_port=eth1,actions=output:eth1", Purpose::Add, &names).unwrap();
        assert_eq!(fm.match_.get(OxmKind::InPort), Some(&OxmField::InPort(4)));
    }

    #[test]
    fn bad_flows_name_the_offending_token() {
        let cases = [
            ("ip,nw_dst=10.0.0.300,actions=drop", "nw_dst=10.0.0.300"),
            ("ip,nw_dst=10.0.0.0/40,actions=drop", "nw_dst=10.0.0.0/40"),
            ("bogus=1,actions=drop", "bogus=1"),
            ("priority=70000,actions=drop", "priority=70000"),
            ("tcp,tp_dst=99999,actions=drop", "tp_dst=99999"),
            ("tp_dst=80,actions=drop", "tp_dst=80"),
            ("ip,actions=output:1,learn(table=1)", "learn(table=1)"),
            ("ip,actions=output:1,bad_action", "bad_action"),
            ("dl_src=00:11,actions=drop", "dl_src=00:11"),
            ("ip,arp,actions=drop", "arp"),
            ("in_port=1,in_port=2,actions=drop", "in_port=2"),
            ("table=255,actions=drop", "table=255"),
            ("frob,actions=drop", "frob"),
            ("in_port=,actions=drop", "in_port="),
            ("ip,nw_dst=10.0.0.1", "ip,nw_dst=10.0.0.1"),
        ];
        for (text, token) in cases {
            let e = add(text).unwrap_err();
            assert_eq!(e.token, token, "{text}: {e}");
            assert!(e.to_string().contains(token));
        }
        // A prerequisite the match lacks.
        let e = add("nw_dst=10.0.0.1,actions=drop").unwrap_err();
        assert!(e.message.contains("prerequisite"), "{e}");
    }
}

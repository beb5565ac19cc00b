//! Groups and meters in ovs-ofctl's syntax.
//!
//! A group: `group_id=1,type=select,bucket=weight:10,actions=output:1,bucket=output:2`.
//! Everything after a `bucket=` up to the next `bucket=` is that bucket:
//! `weight:N`, `watch_port:P` and `watch_group:N` settings, then actions
//! (with or without a leading `actions=`).
//!
//! A meter: `meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100`.
//! After `bands=`, each `type=` starts a new band.

use super::action::{format_action, Context};
use super::{format_port, parse_num, parse_port, split_top, PortNames, SyntaxError, SyntaxResult};
use ofproto::wire::action::Action;
use ofproto::wire::group::{group_id, Bucket, GroupMod, GroupModCommand, GroupType};
use ofproto::wire::instruction::Instruction;
use ofproto::wire::meter::{meter_flags, MeterBand, MeterMod, MeterModCommand};

/// Parse a group string into a GROUP_MOD with `command`.
pub fn parse_group(
    text: &str,
    command: GroupModCommand,
    names: PortNames<'_>,
) -> SyntaxResult<GroupMod> {
    // Split at top-level "bucket=" tokens.
    let tokens = split_top(text, true)?;
    let mut head = Vec::new();
    let mut buckets: Vec<Vec<&str>> = Vec::new();
    for t in tokens {
        if let Some(rest) = t
            .strip_prefix("bucket=")
            .or_else(|| t.strip_prefix("BUCKET="))
        {
            buckets.push(if rest.is_empty() { vec![] } else { vec![rest] });
        } else if let Some(b) = buckets.last_mut() {
            b.push(t);
        } else {
            head.push(t);
        }
    }
    let mut id = None;
    let mut kind = None;
    for t in head {
        let (k, v) = t
            .split_once('=')
            .ok_or_else(|| SyntaxError::new(t, "expected key=value"))?;
        match k.to_ascii_lowercase().as_str() {
            "group_id" => {
                let n = if v.eq_ignore_ascii_case("all") {
                    u64::from(group_id::ALL)
                } else {
                    parse_num(t, v, u64::from(u32::MAX))?
                };
                id = Some(n as u32);
            }
            "type" => {
                kind = Some(match v.to_ascii_lowercase().as_str() {
                    "all" => GroupType::All,
                    "select" => GroupType::Select,
                    "indirect" => GroupType::Indirect,
                    "ff" | "fast_failover" => GroupType::FastFailover,
                    _ => return Err(SyntaxError::new(t, "type is all, select, indirect or ff")),
                })
            }
            _ => return Err(SyntaxError::new(t, format!("unknown group setting {k:?}"))),
        }
    }
    let group_id = id.ok_or_else(|| SyntaxError::new(text.trim(), "needs group_id="))?;
    let group_type = match (kind, command) {
        (Some(k), _) => k,
        (None, GroupModCommand::Delete) => GroupType::All,
        (None, _) => return Err(SyntaxError::new(text.trim(), "needs type=")),
    };
    let mut out = Vec::new();
    for b in buckets {
        out.push(parse_bucket(&b, group_type, names)?);
    }
    Ok(GroupMod {
        command,
        group_type,
        group_id,
        buckets: out,
    })
}

fn parse_bucket(tokens: &[&str], kind: GroupType, names: PortNames<'_>) -> SyntaxResult<Bucket> {
    let mut b = Bucket {
        weight: if kind == GroupType::Select { 1 } else { 0 },
        watch_port: ofproto::wire::action::port_no::ANY,
        watch_group: group_id::ANY,
        actions: Vec::new(),
    };
    let mut actions = Vec::new();
    for &t in tokens {
        let lower = t.to_ascii_lowercase();
        let arg = t.split_once(':').map(|(_, a)| a).unwrap_or("");
        if lower.starts_with("weight:") {
            b.weight = parse_num(t, arg, 0xffff)? as u16;
        } else if lower.starts_with("watch_port:") {
            b.watch_port = parse_port(t, arg, names)?;
        } else if lower.starts_with("watch_group:") {
            b.watch_group = parse_num(t, arg, u64::from(u32::MAX))? as u32;
        } else if let Some(a) = t.strip_prefix("actions=") {
            actions.push(a);
        } else {
            actions.push(t);
        }
    }
    let text = actions.join(",");
    let instructions = super::action::parse_actions(&text, &Context::default(), names)?;
    for i in instructions {
        match i {
            Instruction::ApplyActions(list) => b.actions = list,
            _ => {
                return Err(SyntaxError::new(
                    text.as_str(),
                    "a bucket holds actions, not instructions",
                ))
            }
        }
    }
    Ok(b)
}

/// A group as add-group text.
pub fn format_group(id: u32, kind: GroupType, buckets: &[Bucket]) -> String {
    let t = match kind {
        GroupType::All => "all".to_string(),
        GroupType::Select => "select".into(),
        GroupType::Indirect => "indirect".into(),
        GroupType::FastFailover => "ff".into(),
        GroupType::Unknown(n) => n.to_string(),
    };
    let mut parts = vec![format!("group_id={id}"), format!("type={t}")];
    for b in buckets {
        let mut bp = Vec::new();
        if kind == GroupType::Select {
            bp.push(format!("weight:{}", b.weight));
        }
        if b.watch_port != ofproto::wire::action::port_no::ANY {
            bp.push(format!("watch_port:{}", format_port(b.watch_port)));
        }
        if b.watch_group != group_id::ANY {
            bp.push(format!("watch_group:{}", b.watch_group));
        }
        let acts: Vec<String> = b.actions.iter().map(format_action).collect::<Vec<_>>();
        bp.push(format!(
            "actions={}",
            if acts.is_empty() {
                "drop".into()
            } else {
                acts.join(",")
            }
        ));
        parts.push(format!("bucket={}", bp.join(",")));
    }
    parts.join(",")
}

/// Parse a meter string into a METER_MOD with `command`.
pub fn parse_meter(text: &str, command: MeterModCommand) -> SyntaxResult<MeterMod> {
    let tokens = split_top(text, true)?;
    let mut id = None;
    let mut flags = 0u16;
    let mut bands: Vec<(String, u32, u32, u8)> = Vec::new();
    let mut in_bands = false;
    for t in tokens {
        let lower = t.to_ascii_lowercase();
        let t_band = lower
            .strip_prefix("bands=")
            .or_else(|| lower.strip_prefix("band="));
        let (lower, rest_is_band) = match t_band {
            Some(r) => {
                in_bands = true;
                (r.to_string(), true)
            }
            None => (lower.clone(), in_bands),
        };
        if lower.is_empty() {
            continue;
        }
        if rest_is_band {
            let (k, v) = lower
                .split_once('=')
                .ok_or_else(|| SyntaxError::new(t, "expected band key=value"))?;
            match k {
                "type" => {
                    if v != "drop" && v != "dscp_remark" {
                        return Err(SyntaxError::new(t, "band type is drop or dscp_remark"));
                    }
                    bands.push((v.to_string(), 0, 0, 0));
                }
                "rate" | "burst_size" | "prec_level" => {
                    let b = bands
                        .last_mut()
                        .ok_or_else(|| SyntaxError::new(t, "a band starts with type="))?;
                    let n = parse_num(t, v, u64::from(u32::MAX))? as u32;
                    match k {
                        "rate" => b.1 = n,
                        "burst_size" => b.2 = n,
                        _ => {
                            b.3 = u8::try_from(n)
                                .map_err(|_| SyntaxError::new(t, "prec_level too big"))?
                        }
                    }
                }
                _ => return Err(SyntaxError::new(t, format!("unknown band setting {k:?}"))),
            }
            continue;
        }
        match lower.as_str() {
            "kbps" => flags |= meter_flags::KBPS,
            "pktps" => flags |= meter_flags::PKTPS,
            "burst" => flags |= meter_flags::BURST,
            "stats" => flags |= meter_flags::STATS,
            _ => {
                let Some(("meter", v)) = lower.split_once('=') else {
                    return Err(SyntaxError::new(t, format!("unknown meter setting {t:?}")));
                };
                let n = if v == "all" {
                    u64::from(u32::MAX)
                } else {
                    parse_num(t, v, u64::from(u32::MAX))?
                };
                id = Some(n as u32);
            }
        }
    }
    let meter_id = id.ok_or_else(|| SyntaxError::new(text.trim(), "needs meter="))?;
    if flags & (meter_flags::KBPS | meter_flags::PKTPS) == 0 {
        flags |= meter_flags::KBPS;
    }
    if command != MeterModCommand::Delete && bands.is_empty() {
        return Err(SyntaxError::new(text.trim(), "needs bands=type=...,rate=N"));
    }
    let bands = bands
        .into_iter()
        .map(|(t, rate, burst_size, prec_level)| {
            if t == "drop" {
                MeterBand::Drop { rate, burst_size }
            } else {
                MeterBand::DscpRemark {
                    rate,
                    burst_size,
                    prec_level,
                }
            }
        })
        .collect();
    Ok(MeterMod {
        command,
        flags,
        meter_id,
        bands,
    })
}

/// A meter as add-meter text.
pub fn format_meter(id: u32, flags: u16, bands: &[MeterBand]) -> String {
    let mut parts = vec![format!("meter={id}")];
    for (bit, name) in [
        (meter_flags::KBPS, "kbps"),
        (meter_flags::PKTPS, "pktps"),
        (meter_flags::BURST, "burst"),
        (meter_flags::STATS, "stats"),
    ] {
        if flags & bit != 0 {
            parts.push(name.into());
        }
    }
    let mut first = true;
    for b in bands {
        let s = match b {
            MeterBand::Drop { rate, burst_size } => {
                format!("type=drop,rate={rate},burst_size={burst_size}")
            }
            MeterBand::DscpRemark {
                rate,
                burst_size,
                prec_level,
            } => format!(
                "type=dscp_remark,rate={rate},burst_size={burst_size},prec_level={prec_level}"
            ),
            MeterBand::Experimenter { rate, .. } => format!("type=experimenter,rate={rate}"),
        };
        parts.push(if first { format!("bands={s}") } else { s });
        first = false;
    }
    parts.join(",")
}

/// Actions in a bucket (for dumps).
pub fn format_actions(actions: &[Action]) -> String {
    actions
        .iter()
        .map(format_action)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::super::no_names;
    use super::*;

    #[test]
    fn groups_parse_and_round_trip() {
        let text = "group_id=1,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,output:2,mod_vlan_vid:3";
        let g = parse_group(text, GroupModCommand::Add, &no_names).unwrap();
        assert_eq!(g.group_id, 1);
        assert_eq!(g.group_type, GroupType::Select);
        assert_eq!(g.buckets.len(), 2);
        assert_eq!(g.buckets[1].weight, 20);
        assert_eq!(g.buckets[1].actions.len(), 2);
        let printed = format_group(g.group_id, g.group_type, &g.buckets);
        assert_eq!(
            parse_group(&printed, GroupModCommand::Add, &no_names).unwrap(),
            g
        );
        let ff = "group_id=2,type=ff,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2";
        let g = parse_group(ff, GroupModCommand::Add, &no_names).unwrap();
        assert_eq!(g.buckets[0].watch_port, 1);
        let printed = format_group(g.group_id, g.group_type, &g.buckets);
        assert_eq!(
            parse_group(&printed, GroupModCommand::Add, &no_names).unwrap(),
            g
        );
    }

    #[test]
    fn bad_groups_name_the_token() {
        let e = parse_group(
            "group_id=1,type=weird,bucket=output:1",
            GroupModCommand::Add,
            &no_names,
        )
        .unwrap_err();
        assert_eq!(e.token, "type=weird");
        let e = parse_group(
            "group_id=1,type=all,bucket=output:1,goto_table:2",
            GroupModCommand::Add,
            &no_names,
        )
        .unwrap_err();
        assert!(e.message.contains("not instructions"), "{e}");
        let e = parse_group("type=all", GroupModCommand::Add, &no_names).unwrap_err();
        assert!(e.message.contains("group_id"));
    }

    #[test]
    fn meters_parse_and_round_trip() {
        let text = "meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100";
        let m = parse_meter(text, MeterModCommand::Add).unwrap();
        assert_eq!(m.meter_id, 1);
        assert_eq!(
            m.flags,
            meter_flags::KBPS | meter_flags::BURST | meter_flags::STATS
        );
        assert_eq!(
            m.bands,
            vec![MeterBand::Drop {
                rate: 1000,
                burst_size: 100
            }]
        );
        assert_eq!(format_meter(m.meter_id, m.flags, &m.bands), text);
        let two = "meter=2,pktps,bands=type=drop,rate=10,burst_size=0,type=dscp_remark,rate=5,burst_size=0,prec_level=1";
        let m = parse_meter(two, MeterModCommand::Add).unwrap();
        assert_eq!(m.bands.len(), 2);
        assert_eq!(format_meter(m.meter_id, m.flags, &m.bands), two);
        let e = parse_meter(
            "meter=1,kbps,bands=type=explode,rate=1",
            MeterModCommand::Add,
        )
        .unwrap_err();
        assert_eq!(e.token, "bands=type=explode");
        assert!(parse_meter("meter=1,kbps", MeterModCommand::Add).is_err());
    }
}

//! DatapathService: the megaflows the workers hold and the workers'
//! counters (Open vSwitch's `dpctl/dump-flows` and `pmd-stats-show`).
//!
//! The one idea: a megaflow is a key *and a mask*, and the mask is the
//! interesting part (it says which header bits the OpenFlow tables looked
//! at). [`masked_fields`] lists exactly the fields whose mask is not zero,
//! with the mask when it is not exact, and [`format_megaflow`] prints them
//! in dpctl's nested style: `in_port(1),eth(dst=...),eth_type(0x0800),ipv4(dst=10.0.0.2)`.
//! Port numbers here are datapath port numbers (the bridge's local port is 0).

use crate::switch::Switch;
use crate::switch::SwitchResult;
use datapath::actions::Action as Dp;
use datapath::flow::FlowKey;
use proto::v1;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The DatapathService implementation.
#[derive(Debug)]
pub struct Datapath(pub Arc<Switch>);

#[derive(Clone, Copy)]
enum Shape {
    Mac,
    V4,
    V6,
    Hex(u32),
    Dec(u32),
}

type Get = fn(&FlowKey) -> u128;

/// The key's fields: (group.name, shape, getter).
const FIELDS: &[(&str, Shape, Get)] = &[
    ("recirc_id", Shape::Hex(32), |k| k.recirc_id.into()),
    ("tunnel.tun_id", Shape::Hex(64), |k| k.tun_id.into()),
    ("tunnel.src", Shape::V4, |k| k.tun_src.into()),
    ("tunnel.dst", Shape::V4, |k| k.tun_dst.into()),
    ("tunnel.ipv6_src", Shape::V6, |k| {
        u128::from_be_bytes(k.tun_ipv6_src)
    }),
    ("tunnel.ipv6_dst", Shape::V6, |k| {
        u128::from_be_bytes(k.tun_ipv6_dst)
    }),
    ("tunnel.flags", Shape::Hex(16), |k| k.tun_flags.into()),
    ("tunnel.md_present", Shape::Hex(64), |k| {
        k.tun_md_present.into()
    }),
    ("tunnel.md", Shape::Hex(128), |k| {
        u128::from_be_bytes(k.tun_md)
    }),
    ("in_port", Shape::Dec(32), |k| k.in_port.into()),
    ("skb_mark", Shape::Hex(32), |k| k.pkt_mark.into()),
    ("dp_hash", Shape::Hex(32), |k| k.dp_hash.into()),
    ("eth.src", Shape::Mac, |k| mac(k.eth_src)),
    ("eth.dst", Shape::Mac, |k| mac(k.eth_dst)),
    ("vlan.tpid", Shape::Hex(16), |k| k.vlan_tpid.into()),
    ("vlan.tci", Shape::Hex(16), |k| k.vlan_tci.into()),
    ("cvlan.tpid", Shape::Hex(16), |k| k.inner_vlan_tpid.into()),
    ("cvlan.tci", Shape::Hex(16), |k| k.inner_vlan_tci.into()),
    ("eth_type", Shape::Hex(16), |k| k.eth_type.into()),
    ("mpls.lse", Shape::Hex(32), |k| k.mpls_lse.into()),
    ("ip.src", Shape::V4, |k| k.ipv4_src.into()),
    ("ip.dst", Shape::V4, |k| k.ipv4_dst.into()),
    ("ipv6.src", Shape::V6, |k| u128::from_be_bytes(k.ipv6_src)),
    ("ipv6.dst", Shape::V6, |k| u128::from_be_bytes(k.ipv6_dst)),
    ("ipv6.label", Shape::Hex(32), |k| k.ipv6_label.into()),
    ("ip.proto", Shape::Dec(8), |k| k.nw_proto.into()),
    ("ip.tos", Shape::Hex(8), |k| k.nw_tos.into()),
    ("ip.ttl", Shape::Dec(8), |k| k.nw_ttl.into()),
    ("ip.frag", Shape::Hex(8), |k| k.nw_frag.into()),
    ("nd.target", Shape::V6, |k| u128::from_be_bytes(k.nd_target)),
    ("arp.sha", Shape::Mac, |k| mac(k.arp_sha)),
    ("arp.tha", Shape::Mac, |k| mac(k.arp_tha)),
    ("l4.src", Shape::Dec(16), |k| k.tp_src.into()),
    ("l4.dst", Shape::Dec(16), |k| k.tp_dst.into()),
    ("tcp_flags", Shape::Hex(16), |k| k.tcp_flags.into()),
];

fn mac(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |a, &b| (a << 8) | u128::from(b))
}

fn full(shape: Shape) -> u128 {
    match shape {
        Shape::Mac => (1 << 48) - 1,
        Shape::V4 => u128::from(u32::MAX),
        Shape::V6 => u128::MAX,
        Shape::Hex(b) | Shape::Dec(b) => {
            if b >= 128 {
                u128::MAX
            } else {
                (1u128 << b) - 1
            }
        }
    }
}

fn text(shape: Shape, v: u128) -> String {
    match shape {
        Shape::Mac => {
            let b = v.to_be_bytes();
            format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                b[10], b[11], b[12], b[13], b[14], b[15]
            )
        }
        Shape::V4 => Ipv4Addr::from(v as u32).to_string(),
        Shape::V6 => Ipv6Addr::from(v).to_string(),
        Shape::Hex(_) => format!("{v:#x}"),
        Shape::Dec(_) => v.to_string(),
    }
}

/// The fields a megaflow's mask keeps: (name, value, mask or "" if exact).
pub fn masked_fields(key: &FlowKey, mask: &FlowKey) -> Vec<v1::MaskedField> {
    let key = key.masked(mask);
    FIELDS
        .iter()
        .filter_map(|(name, shape, get)| {
            let m = get(mask);
            if m == 0 {
                return None;
            }
            let v = get(&key);
            Some(v1::MaskedField {
                name: name.to_string(),
                value: text(*shape, v),
                mask: if m == full(*shape) {
                    String::new()
                } else {
                    text(*shape, m)
                },
            })
        })
        .collect()
}

/// dpctl style: fields grouped by protocol, `group(name=value/mask,...)`.
pub fn format_megaflow(fields: &[v1::MaskedField]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut group: Option<(String, Vec<String>)> = None;
    let flush = |g: &mut Option<(String, Vec<String>)>, out: &mut Vec<String>| {
        if let Some((name, parts)) = g.take() {
            out.push(format!("{name}({})", parts.join(",")));
        }
    };
    for f in fields {
        let vm = if f.mask.is_empty() {
            f.value.clone()
        } else {
            format!("{}/{}", f.value, f.mask)
        };
        match f.name.split_once('.') {
            Some((g, sub)) => {
                if group.as_ref().is_some_and(|(n, _)| n != g) {
                    flush(&mut group, &mut out);
                }
                group
                    .get_or_insert_with(|| (g.to_string(), Vec::new()))
                    .1
                    .push(format!("{sub}={vm}"));
            }
            None => {
                flush(&mut group, &mut out);
                out.push(format!("{}({vm})", f.name));
            }
        }
    }
    flush(&mut group, &mut out);
    out.join(",")
}

fn format_one(a: &Dp) -> String {
    match a {
        Dp::Output(p) => format!("output:{p}"),
        Dp::Set { field, value, mask } => {
            let w = field.width();
            let full = datapath::actions::FieldValue::ones(w);
            if mask == &full {
                format!("set({field:?}={:#x})", value.as_u128())
            } else {
                format!(
                    "set({field:?}={:#x}/{:#x})",
                    value.as_u128(),
                    mask.as_u128()
                )
            }
        }
        Dp::PushVlan { tpid, tci } => format!("push_vlan(tpid={tpid:#06x},tci={tci:#06x})"),
        Dp::PopVlan => "pop_vlan".into(),
        Dp::PushMpls { ethertype, lse } => {
            format!("push_mpls(eth_type={ethertype:#06x},lse={lse:#x})")
        }
        Dp::PopMpls { ethertype } => format!("pop_mpls(eth_type={ethertype:#06x})"),
        Dp::DecTtl { .. } => "dec_ttl".into(),
        Dp::DecMplsTtl { .. } => "dec_mpls_ttl".into(),
        Dp::Truncate(n) => format!("trunc({n})"),
        Dp::SetQueue(q) => format!("set_queue({q})"),
        Dp::Clone(inner) => format!("clone({})", format_actions(inner)),
        Dp::Sample {
            probability,
            actions,
        } => format!(
            "sample(sample={:.1}%,actions({}))",
            f64::from(*probability) * 100.0 / f64::from(u32::MAX),
            format_actions(actions)
        ),
        Dp::Recirculate(id) => format!("recirc({id:#x})"),
        Dp::Meter(m) => format!("meter({m})"),
        Dp::Userspace { userdata } => format!("userspace({userdata})"),
        Dp::TunnelPush { header, port, .. } => {
            format!("tnl_push({:?},out_port={port})", header.kind())
        }
        Dp::TunnelPop { port, kind, .. } => format!("tnl_pop({kind:?},{port})"),
        Dp::Drop => "drop".into(),
    }
}

/// Datapath actions in dpctl style ("drop" for none).
pub fn format_actions(actions: &[Dp]) -> String {
    if actions.is_empty() {
        return "drop".into();
    }
    actions.iter().map(format_one).collect::<Vec<_>>().join(",")
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Worker counters as protobuf.
pub fn worker_to(w: &datapath::worker::WorkerStats) -> v1::WorkerCounters {
    let lookups = w.emc_hits + w.megaflow_hits + w.misses;
    v1::WorkerCounters {
        worker: w.worker as u32,
        rx_packets: w.rx_packets,
        tx_packets: w.tx_packets,
        dropped: w.dropped,
        emc_hits: w.emc_hits,
        megaflow_hits: w.megaflow_hits,
        misses: w.misses,
        lost_upcalls: w.lost_upcalls,
        recirculations: w.recirculations,
        idle_sleeps: w.idle_sleeps,
        avg_subtables_per_hit: w.avg_subtables_per_hit,
        ns_per_packet: w.ns_per_packet,
        megaflows: w.megaflows as u64,
        rxqs: w.rxqs as u32,
        emc_hit_rate: rate(w.emc_hits, lookups),
        megaflow_hit_rate: rate(w.megaflow_hits, lookups),
    }
}

/// The sum over workers, rates recomputed (averages weighted by traffic).
pub fn worker_total(ws: &[v1::WorkerCounters]) -> v1::WorkerCounters {
    let mut t = v1::WorkerCounters::default();
    let (mut sub_w, mut ns_w) = (0.0, 0.0);
    for w in ws {
        t.rx_packets += w.rx_packets;
        t.tx_packets += w.tx_packets;
        t.dropped += w.dropped;
        t.emc_hits += w.emc_hits;
        t.megaflow_hits += w.megaflow_hits;
        t.misses += w.misses;
        t.lost_upcalls += w.lost_upcalls;
        t.recirculations += w.recirculations;
        t.idle_sleeps += w.idle_sleeps;
        t.megaflows += w.megaflows;
        t.rxqs += w.rxqs;
        sub_w += w.avg_subtables_per_hit * w.megaflow_hits as f64;
        ns_w += w.ns_per_packet * w.rx_packets as f64;
    }
    let lookups = t.emc_hits + t.megaflow_hits + t.misses;
    t.emc_hit_rate = rate(t.emc_hits, lookups);
    t.megaflow_hit_rate = rate(t.megaflow_hits, lookups);
    t.avg_subtables_per_hit = if t.megaflow_hits > 0 {
        sub_w / t.megaflow_hits as f64
    } else {
        0.0
    };
    t.ns_per_packet = if t.rx_packets > 0 {
        ns_w / t.rx_packets as f64
    } else {
        0.0
    };
    t
}

fn dump(sw: &crate::switch::Inner, bridge: &str) -> SwitchResult<v1::DumpMegaflowsResponse> {
    let (b, _) = sw.bridge(bridge)?;
    let flows = b
        .dpif
        .dump_flows()
        .into_iter()
        .map(|f| {
            let fields = masked_fields(&f.key, &f.mask);
            v1::Megaflow {
                worker: f.worker as u32,
                id: f.id,
                r#match: format_megaflow(&fields),
                fields,
                actions: format_actions(&f.actions),
                packets: f.packets,
                bytes: f.bytes,
                idle_ms: f.idle_ms,
            }
        })
        .collect();
    Ok(v1::DumpMegaflowsResponse { flows })
}

#[tonic::async_trait]
impl v1::datapath_service_server::DatapathService for Datapath {
    async fn dump_megaflows(
        &self,
        req: Request<v1::DumpMegaflowsRequest>,
    ) -> Result<Response<v1::DumpMegaflowsResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| dump(inner, &r.bridge))
            .await
            .map(Response::new)
    }

    async fn worker_stats(
        &self,
        req: Request<v1::WorkerStatsRequest>,
    ) -> Result<Response<v1::WorkerStatsResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                let (b, _) = inner.bridge(&r.bridge)?;
                let workers: Vec<_> = b.dpif.worker_stats().iter().map(worker_to).collect();
                let total = worker_total(&workers);
                Ok(v1::WorkerStatsResponse {
                    workers,
                    total: Some(total),
                })
            })
            .await
            .map(Response::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megaflows_print_only_masked_fields() {
        let key = FlowKey {
            in_port: 1,
            eth_type: 0x0800,
            ipv4_dst: 0x0a00_0002,
            ipv4_src: 0x0a00_0001,
            eth_dst: [0, 1, 2, 3, 4, 5],
            ..Default::default()
        };
        let mask = FlowKey {
            in_port: u32::MAX,
            eth_type: u16::MAX,
            ipv4_dst: 0xffff_ff00,
            eth_dst: [0xff; 6],
            ..Default::default()
        };
        let f = masked_fields(&key, &mask);
        assert_eq!(
            format_megaflow(&f),
            "in_port(1),eth(dst=00:01:02:03:04:05),eth_type(0x800),ip(dst=10.0.0.0/255.255.255.0)"
        );
        assert_eq!(format_actions(&[]), "drop");
        assert_eq!(
            format_actions(&[Dp::Output(2), Dp::PopVlan]),
            "output:2,pop_vlan"
        );
    }
}

//! Datapath verbs (ovs-appctl's): dpctl/dump-flows (the megaflow caches),
//! pmd-stats (per-worker counters and cache hit rates) and trace (a packet
//! through the OpenFlow tables, as ofproto/trace prints it).

use super::Reply;
use crate::cli::args::TraceArgs;
use crate::cli::connect::Api;
use crate::cli::error::CliError;
use crate::cli::json;
use crate::cli::table::{count, percent, Table};
use crate::cli::verbs::bridge;
use proto::v1 as api;
use serde_json::json;
use std::fmt::Write as _;

/// The bridges a verb with an optional bridge argument covers.
async fn bridges(api: &Api, one: Option<&str>, verb: &str) -> Result<Vec<String>, CliError> {
    match one {
        Some(b) => Ok(vec![b.to_string()]),
        None => {
            let mut names: Vec<String> = bridge::list(api, verb)
                .await?
                .into_iter()
                .map(|b| b.name)
                .collect();
            names.sort();
            Ok(names)
        }
    }
}

pub async fn dump_megaflows(api: &Api, one: Option<&str>) -> Result<Reply, CliError> {
    let mut human = String::new();
    let mut all = Vec::new();
    for b in bridges(api, one, "dpctl/dump-flows").await? {
        let mut flows = api
            .datapath()
            .dump_megaflows(api::DumpMegaflowsRequest { bridge: b.clone() })
            .await
            .map_err(|s| CliError::status(format!("dpctl/dump-flows {b}"), s))?
            .into_inner()
            .flows;
        flows.sort_by_key(|f| (f.worker, f.id));
        if one.is_none() {
            let _ = writeln!(human, "{b}:");
        }
        for f in &flows {
            let used = match f.idle_ms {
                Some(ms) => format!("{:.3}s", ms as f64 / 1000.0),
                None => "never".into(),
            };
            let _ = writeln!(
                human,
                "{}, packets:{}, bytes:{}, used:{used}, actions:{}",
                f.r#match, f.packets, f.bytes, f.actions
            );
            all.push(json::megaflow(&b, f));
        }
    }
    Ok(Reply {
        human,
        json: json!({ "flows": all }),
    })
}

pub async fn pmd_stats(api: &Api, one: Option<&str>) -> Result<Reply, CliError> {
    let mut human = String::new();
    let mut all = Vec::new();
    for b in bridges(api, one, "pmd-stats").await? {
        let reply = api
            .datapath()
            .worker_stats(api::WorkerStatsRequest { bridge: b.clone() })
            .await
            .map_err(|s| CliError::status(format!("pmd-stats {b}"), s))?
            .into_inner();
        let mut t = Table::new(&[
            "WORKER",
            "RXQS>",
            "RX_PKTS>",
            "TX_PKTS>",
            "DROPPED>",
            "EMC_HITS>",
            "MF_HITS>",
            "MISSES>",
            "LOST>",
            "EMC%>",
            "MF%>",
            "SUBTBL/HIT>",
            "NS/PKT>",
            "MEGAFLOWS>",
        ]);
        let row = |name: String, w: &api::WorkerCounters| {
            [
                name,
                w.rxqs.to_string(),
                count(w.rx_packets),
                count(w.tx_packets),
                count(w.dropped),
                count(w.emc_hits),
                count(w.megaflow_hits),
                count(w.misses),
                count(w.lost_upcalls),
                percent(w.emc_hit_rate),
                percent(w.megaflow_hit_rate),
                format!("{:.2}", w.avg_subtables_per_hit),
                format!("{:.1}", w.ns_per_packet),
                count(w.megaflows),
            ]
        };
        for w in &reply.workers {
            t.row(row(w.worker.to_string(), w));
        }
        if let Some(total) = &reply.total {
            t.row(row("total".into(), total));
        }
        let _ = writeln!(human, "{b}:");
        for line in t.render().lines() {
            let _ = writeln!(human, "  {line}");
        }
        all.push(json!({
            "bridge": b,
            "workers": reply.workers.iter().map(json::worker).collect::<Vec<_>>(),
            "total": reply.total.as_ref().map(json::worker),
        }));
    }
    Ok(Reply {
        human,
        json: json!({ "bridges": all }),
    })
}

/// Hex bytes, with optional spaces, colons or a `0x`.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .trim()
        .trim_start_matches("0x")
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| "not hex".to_string())?;
            u8::from_str_radix(s, 16).map_err(|_| format!("{s:?} is not a hex byte"))
        })
        .collect()
}

pub async fn trace(api: &Api, a: &TraceArgs) -> Result<Reply, CliError> {
    let packet = match &a.packet {
        Some(hex) => parse_hex(hex).map_err(|e| CliError::Usage(format!("trace --packet: {e}")))?,
        None => Vec::new(),
    };
    let flow = a.flow.clone().unwrap_or_default();
    let t = api
        .trace()
        .trace(api::TraceRequest {
            bridge: a.bridge.clone(),
            flow: flow.clone(),
            packet,
            in_port: a.in_port.unwrap_or(0),
        })
        .await
        .map_err(|s| {
            CliError::status_with_input(format!("trace {}", a.bridge), s, a.flow.as_deref())
        })?
        .into_inner();
    Ok(Reply {
        human: render_trace(&a.bridge, &t),
        json: json::trace(&t),
    })
}

/// ofproto/trace's layout.
fn render_trace(bridge: &str, t: &api::TraceResponse) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Flow: {}\n", t.flow);
    let title = format!("bridge(\"{bridge}\")");
    let _ = writeln!(out, "{title}\n{}", "-".repeat(title.len()));
    if t.fail_open {
        let _ = writeln!(
            out,
            " fail-open: the bridge acts as a learning switch (NORMAL)"
        );
    }
    for s in &t.steps {
        if s.matched {
            let _ = writeln!(
                out,
                " {:>2}. priority {}, cookie {:#x}\n     {}",
                s.table, s.priority, s.cookie, s.rule
            );
        } else {
            let _ = writeln!(out, " {:>2}. no match (table miss)", s.table);
        }
    }
    if !t.groups.is_empty() {
        let groups: Vec<String> = t.groups.iter().map(u32::to_string).collect();
        let _ = writeln!(out, " groups: {}", groups.join(", "));
    }
    let _ = writeln!(out, "\nMegaflow: {}", t.megaflow);
    let actions = if t.datapath_actions.is_empty() {
        "drop"
    } else {
        &t.datapath_actions
    };
    let _ = writeln!(out, "Datapath actions: {actions}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_frames_parse_with_separators() {
        assert_eq!(parse_hex("0x00ff10").unwrap(), vec![0, 0xff, 0x10]);
        assert_eq!(parse_hex("00:ff 10").unwrap(), vec![0, 0xff, 0x10]);
        assert!(parse_hex("0").is_err());
        assert!(parse_hex("zz").is_err());
    }

    #[test]
    fn a_trace_reads_like_ofproto_trace() {
        let t = api::TraceResponse {
            flow: "in_port=1,ip".into(),
            steps: vec![
                api::TraceStep {
                    table: 0,
                    matched: true,
                    rule: "table=0,priority=10,ip,actions=goto_table:1".into(),
                    priority: 10,
                    cookie: 0,
                },
                api::TraceStep {
                    table: 1,
                    ..Default::default()
                },
            ],
            megaflow: "in_port(1),eth_type(0x0800)".into(),
            ..Default::default()
        };
        let text = render_trace("br0", &t);
        assert!(
            text.starts_with("Flow: in_port=1,ip\n\nbridge(\"br0\")\n-------------\n"),
            "{text}"
        );
        assert!(text.contains("  0. priority 10, cookie 0x0\n"), "{text}");
        assert!(text.contains("  1. no match"), "{text}");
        assert!(text.ends_with("Datapath actions: drop\n"), "{text}");
    }
}

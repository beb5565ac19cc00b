//! `--json`: the API's answers as JSON objects for scripts.
//!
//! The one idea: the JSON is the API's message, field for field, with the
//! proto field names, only made friendlier where protobuf is awkward for a
//! script: enums are lower-case words (`"secure"`, not `2`), OpenFlow port
//! numbers stay numbers, flows carry their ovs-ofctl string (`spec`) next
//! to their counters, and fields a proto3 message leaves unset are `null`.
//! The shape is stable: fields are only ever added, as in the API.

use proto::v1 as api;
use serde_json::{json, Map, Value};

pub fn fail_mode(mode: i32) -> &'static str {
    match api::FailMode::try_from(mode) {
        Ok(api::FailMode::Standalone) => "standalone",
        Ok(api::FailMode::Secure) => "secure",
        _ => "unspecified",
    }
}

pub fn group_type(t: i32) -> &'static str {
    match api::GroupType::try_from(t) {
        Ok(api::GroupType::All) => "all",
        Ok(api::GroupType::Select) => "select",
        Ok(api::GroupType::Indirect) => "indirect",
        Ok(api::GroupType::FastFailover) => "ff",
        Err(_) => "unknown",
    }
}

fn sorted_map(m: &std::collections::HashMap<String, String>) -> Value {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), Value::String(m[k].clone())))
            .collect::<Map<_, _>>(),
    )
}

pub fn datapath(d: &api::DatapathConfig) -> Value {
    json!({
        "workers": d.workers,
        "emc_entries": d.emc_entries,
        "emc_insert_inv_prob": d.emc_insert_inv_prob,
        "upcalls_per_sec": d.upcalls_per_sec,
        "rxq_assign": d.rxq_assign,
        "max_idle_secs": d.max_idle_secs,
        "mac_aging_secs": d.mac_aging_secs,
    })
}

pub fn port_config(c: Option<&api::PortConfigBits>) -> Value {
    let c = c.cloned().unwrap_or_default();
    json!({
        "port_down": c.port_down,
        "no_recv": c.no_recv,
        "no_fwd": c.no_fwd,
        "no_packet_in": c.no_packet_in,
        "no_flood": c.no_flood,
    })
}

pub fn port(p: &api::Port) -> Value {
    json!({
        "name": p.name,
        "type": p.r#type,
        "ofport": p.ofport,
        "options": sorted_map(&p.options),
        "mac": p.mac,
        "link_up": p.link_up,
        "config": port_config(p.config.as_ref()),
        "n_rxq": p.n_rxq,
        "is_local": p.is_local,
    })
}

pub fn bridge(b: &api::Bridge) -> Value {
    let status: Vec<Value> = b
        .controller_status
        .iter()
        .map(|c| {
            json!({
                "target": c.target,
                "state": c.state,
                "local_addr": c.local_addr,
                "last_error": c.last_error,
                "connections": c.connections.iter().map(|x| json!({
                    "peer": x.peer,
                    "negotiated": x.negotiated,
                    "role": x.role,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "name": b.name,
        "fail_mode": fail_mode(b.fail_mode),
        "local_port": b.local_port,
        "datapath": b.datapath.as_ref().map(datapath),
        "controllers": b.controllers,
        "datapath_id": b.datapath_id,
        "ports": b.ports.iter().map(port).collect::<Vec<_>>(),
        "controller_status": status,
        "persistent_flows": b.persistent_flows,
        "ssl": b.ssl.as_ref().map(|s| json!({
            "private_key": s.private_key,
            "certificate": s.certificate,
            "ca_certificate": s.ca_certificate,
        })),
    })
}

pub fn flow_entry(f: &api::FlowEntry) -> Value {
    let flow = f.flow.clone().unwrap_or_default();
    json!({
        "table": flow.table,
        "priority": flow.priority.unwrap_or(0x8000),
        "cookie": flow.cookie,
        "idle_timeout": flow.idle_timeout,
        "hard_timeout": flow.hard_timeout,
        "spec": f.spec,
        "packets": f.packets,
        "bytes": f.bytes,
        "duration_secs": f.duration_secs,
        "persistent": f.persistent,
    })
}

fn counters(c: &[api::Counter]) -> Value {
    Value::Array(
        c.iter()
            .map(|c| json!({"packets": c.packets, "bytes": c.bytes}))
            .collect(),
    )
}

pub fn group_entry(g: &api::GroupEntry) -> Value {
    let group = g.group.clone().unwrap_or_default();
    json!({
        "group_id": group.group_id,
        "type": group_type(group.r#type),
        "buckets": group.buckets.len(),
        "spec": g.spec,
        "ref_count": g.ref_count,
        "packets": g.packets,
        "bytes": g.bytes,
        "bucket_stats": counters(&g.bucket_stats),
        "duration_secs": g.duration_secs,
    })
}

pub fn meter_entry(m: &api::MeterEntry) -> Value {
    let meter = m.meter.clone().unwrap_or_default();
    json!({
        "meter_id": meter.meter_id,
        "pktps": meter.pktps,
        "burst": meter.burst,
        "stats": meter.stats,
        "bands": meter.bands.iter().map(|b| json!({
            "type": b.r#type,
            "rate": b.rate,
            "burst_size": b.burst_size,
            "prec_level": b.prec_level,
        })).collect::<Vec<_>>(),
        "spec": m.spec,
        "flow_count": m.flow_count,
        "packets_in": m.packets_in,
        "bytes_in": m.bytes_in,
        "band_stats": counters(&m.band_stats),
        "duration_secs": m.duration_secs,
    })
}

pub fn port_counters(p: &api::PortCounters) -> Value {
    json!({
        "name": p.name,
        "ofport": p.ofport,
        "rx_packets": p.rx_packets,
        "rx_bytes": p.rx_bytes,
        "rx_dropped": p.rx_dropped,
        "rx_errors": p.rx_errors,
        "tx_packets": p.tx_packets,
        "tx_bytes": p.tx_bytes,
        "tx_dropped": p.tx_dropped,
        "tx_errors": p.tx_errors,
        "duration_secs": p.duration_secs,
    })
}

pub fn masked_fields(f: &[api::MaskedField]) -> Value {
    Value::Array(
        f.iter()
            .map(|f| json!({"name": f.name, "value": f.value, "mask": f.mask}))
            .collect(),
    )
}

pub fn megaflow(bridge: &str, m: &api::Megaflow) -> Value {
    json!({
        "bridge": bridge,
        "worker": m.worker,
        "id": m.id,
        "match": m.r#match,
        "fields": masked_fields(&m.fields),
        "actions": m.actions,
        "packets": m.packets,
        "bytes": m.bytes,
        "idle_ms": m.idle_ms,
    })
}

pub fn worker(w: &api::WorkerCounters) -> Value {
    json!({
        "worker": w.worker,
        "rx_packets": w.rx_packets,
        "tx_packets": w.tx_packets,
        "dropped": w.dropped,
        "emc_hits": w.emc_hits,
        "megaflow_hits": w.megaflow_hits,
        "misses": w.misses,
        "lost_upcalls": w.lost_upcalls,
        "recirculations": w.recirculations,
        "idle_sleeps": w.idle_sleeps,
        "avg_subtables_per_hit": w.avg_subtables_per_hit,
        "ns_per_packet": w.ns_per_packet,
        "megaflows": w.megaflows,
        "rxqs": w.rxqs,
        "emc_hit_rate": w.emc_hit_rate,
        "megaflow_hit_rate": w.megaflow_hit_rate,
    })
}

pub fn trace(t: &api::TraceResponse) -> Value {
    json!({
        "flow": t.flow,
        "steps": t.steps.iter().map(|s| json!({
            "table": s.table,
            "matched": s.matched,
            "rule": s.rule,
            "priority": s.priority,
            "cookie": s.cookie,
        })).collect::<Vec<_>>(),
        "datapath_actions": t.datapath_actions,
        "megaflow": t.megaflow,
        "megaflow_fields": masked_fields(&t.megaflow_fields),
        "fail_open": t.fail_open,
        "groups": t.groups,
    })
}

pub fn route_origin(o: i32) -> &'static str {
    match api::RouteOrigin::try_from(o) {
        Ok(api::RouteOrigin::Kernel) => "kernel",
        Ok(api::RouteOrigin::User) => "user",
        _ => "unspecified",
    }
}

/// Empty text (proto3's "none") as null.
fn or_null(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        json!(s)
    }
}

pub fn route(r: &api::Route) -> Value {
    json!({
        "prefix": r.prefix,
        "dev": r.dev,
        "gateway": or_null(&r.gateway),
        "src": or_null(&r.src),
        "metric": r.metric,
        "origin": route_origin(r.origin),
    })
}

pub fn neighbour(n: &api::Neighbour) -> Value {
    json!({
        "bridge": n.bridge,
        "ip": n.ip,
        "mac": n.mac,
        "age_secs": n.age_secs,
    })
}

pub fn tunnel_port(p: &api::TunnelPort) -> Value {
    json!({
        "bridge": p.bridge,
        "name": p.name,
        "ofport": p.ofport,
        "type": p.r#type,
        "options": sorted_map(&p.options),
    })
}

/// Counters as one object, in the API's order.
pub fn tunnel_counters(c: &[api::TunnelCounter]) -> Value {
    Value::Object(
        c.iter()
            .map(|c| (c.name.clone(), json!(c.value)))
            .collect::<Map<_, _>>(),
    )
}

/// An event as `{"bridge", "time_ms", "type", ...the event's fields}`.
pub fn event(e: &api::Event) -> Value {
    use api::event::Kind;
    let (kind, body) = match &e.kind {
        Some(Kind::PortStatus(p)) => (
            "port_status",
            json!({
                "reason": p.reason,
                "port": p.port,
                "ofport": p.ofport,
                "link_up": p.link_up,
                "config": port_config(p.config.as_ref()),
            }),
        ),
        Some(Kind::FlowRemoved(f)) => (
            "flow_removed",
            json!({
                "reason": f.reason,
                "table": f.table,
                "priority": f.priority,
                "cookie": f.cookie,
                "match": f.r#match,
                "packets": f.packets,
                "bytes": f.bytes,
                "duration_secs": f.duration_secs,
            }),
        ),
        Some(Kind::Controller(c)) => ("controller", json!({"connected": c.connected})),
        Some(Kind::BridgeChange(b)) => ("bridge", json!({"change": b.change})),
        Some(Kind::Ready(_)) => ("ready", json!({})),
        None => ("unknown", json!({})),
    };
    let mut obj = Map::new();
    obj.insert("bridge".into(), json!(e.bridge));
    obj.insert("time_ms".into(), json!(e.time_ms));
    obj.insert("type".into(), json!(kind));
    if let Value::Object(fields) = body {
        obj.extend(fields);
    }
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_are_words_and_unset_messages_null() {
        let b = api::Bridge {
            name: "br0".into(),
            fail_mode: api::FailMode::Secure as i32,
            ..Default::default()
        };
        let v = bridge(&b);
        assert_eq!(v["fail_mode"], "secure");
        assert_eq!(v["datapath"], Value::Null);
        assert_eq!(v["ports"], json!([]));
        assert_eq!(fail_mode(99), "unspecified");
        assert_eq!(group_type(api::GroupType::FastFailover as i32), "ff");
    }

    #[test]
    fn routes_have_word_origins_and_null_for_none() {
        let r = api::Route {
            prefix: "10.1.0.0/16".into(),
            dev: "br-phy".into(),
            gateway: "192.0.2.1".into(),
            origin: api::RouteOrigin::User as i32,
            ..Default::default()
        };
        let v = route(&r);
        assert_eq!(v["origin"], "user");
        assert_eq!(v["gateway"], "192.0.2.1");
        assert_eq!(v["src"], Value::Null);
        let c = tunnel_counters(&[
            api::TunnelCounter {
                name: "no_route".into(),
                value: 3,
            },
            api::TunnelCounter {
                name: "bad_header".into(),
                value: 0,
            },
        ]);
        assert_eq!(c.to_string(), r#"{"no_route":3,"bad_header":0}"#);
    }

    #[test]
    fn events_are_flat_objects_with_a_type() {
        let e = api::Event {
            bridge: "br0".into(),
            time_ms: 5,
            kind: Some(api::event::Kind::PortStatus(api::PortStatusEvent {
                reason: "add".into(),
                port: "eth1".into(),
                ofport: 1,
                link_up: true,
                config: None,
            })),
        };
        let v = event(&e);
        assert_eq!(v["type"], "port_status");
        assert_eq!(v["port"], "eth1");
        assert_eq!(v["bridge"], "br0");
        assert_eq!(v["config"]["port_down"], false);
    }
}

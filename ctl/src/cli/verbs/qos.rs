//! Traffic-control verbs: set-qos, clear-qos, qos-stats, set-policing,
//! clear-policing.
//!
//! Open vSwitch configures a port's QoS with `ovs-vsctl set port vm1
//! qos=@q -- --id=@q create qos type=linux-htb other-config:max-rate=...
//! queues:1=@q1 -- --id=@q1 create queue other-config:min-rate=...`;
//! swctl takes the same settings as words on one line: `swctl set-qos vm1
//! type=htb max-rate=100000000 queue=1:min-rate=70000000,priority=1
//! queue=2:min-rate=30000000 dscp=46:1`, or `type=egress-policer cir=...
//! cbs=...`. Ingress policing is the Interface's columns: `swctl
//! set-policing vm1 rate=10000 burst=1000` (kbit/s, kbit) or
//! `kpkts-rate=100`. Dashes and underscores are the same. switchd checks
//! every setting.

use super::Reply;
use crate::cli::connect::Api;
use crate::cli::error::CliError;
use proto::v1 as api;
use serde_json::{json, Value};

fn usage(msg: String) -> CliError {
    CliError::Usage(msg)
}

fn number<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, CliError> {
    v.parse()
        .map_err(|_| usage(format!("{k}={v}: not a number")))
}

/// `ID:key=value,...`: one queue.
fn parse_queue(v: &str) -> Result<api::QueueSettings, CliError> {
    let (id, rest) = v.split_once(':').unwrap_or((v, ""));
    let mut q = api::QueueSettings {
        id: number("queue", id)?,
        ..Default::default()
    };
    for kv in rest.split(',').filter(|s| !s.is_empty()) {
        let (k, x) = kv.split_once('=').unwrap_or((kv, ""));
        match k.replace('-', "_").as_str() {
            "min_rate" => q.min_rate = number(k, x)?,
            "max_rate" => q.max_rate = number(k, x)?,
            "burst" => q.burst = number(k, x)?,
            "priority" => q.priority = number(k, x)?,
            "depth" => q.depth = number(k, x)?,
            _ => return Err(usage(format!("unknown queue setting {kv:?}"))),
        }
    }
    Ok(q)
}

/// The QoS settings swctl's words describe.
pub fn parse_qos(words: &[String]) -> Result<api::QosSettings, CliError> {
    let mut s = api::QosSettings::default();
    for w in words {
        let (k, v) = w.split_once('=').unwrap_or((w.as_str(), ""));
        match k.replace('-', "_").as_str() {
            "type" => s.r#type = v.to_string(),
            "max_rate" => s.max_rate = number(k, v)?,
            "burst" => s.burst = number(k, v)?,
            "queue" => s.queues.push(parse_queue(v)?),
            "dscp" => {
                for pair in v.split(',').filter(|p| !p.is_empty()) {
                    let (d, q) = pair
                        .split_once(':')
                        .ok_or_else(|| usage(format!("dscp {pair:?}: DSCP:QUEUE")))?;
                    s.dscp_map.insert(number("dscp", d)?, number("dscp", q)?);
                }
            }
            "cir" => s.cir = number(k, v)?,
            "cbs" => s.cbs = number(k, v)?,
            "pir" => s.pir = number(k, v)?,
            "pbs" => s.pbs = number(k, v)?,
            "eir" => s.eir = number(k, v)?,
            "ebs" => s.ebs = number(k, v)?,
            "aqm" => s.aqm = v.to_string(),
            _ => return Err(usage(format!("unknown QoS setting {w:?}"))),
        }
    }
    Ok(s)
}

/// The ingress policing swctl's words describe.
pub fn parse_policing(words: &[String]) -> Result<api::PolicingSettings, CliError> {
    let mut s = api::PolicingSettings::default();
    for w in words {
        let (k, v) = w.split_once('=').unwrap_or((w.as_str(), ""));
        match k.replace('-', "_").trim_start_matches("ingress_policing_") {
            "rate" => s.rate = number(k, v)?,
            "burst" => s.burst = number(k, v)?,
            "kpkts_rate" => s.kpkts_rate = number(k, v)?,
            "kpkts_burst" => s.kpkts_burst = number(k, v)?,
            _ => return Err(usage(format!("unknown policing setting {w:?}"))),
        }
    }
    Ok(s)
}

fn colours_json(c: &Option<api::Colours>) -> Value {
    match c {
        None => Value::Null,
        Some(c) => json!({
            "green_packets": c.green_packets, "green_bytes": c.green_bytes,
            "yellow_packets": c.yellow_packets, "yellow_bytes": c.yellow_bytes,
            "red_packets": c.red_packets, "red_bytes": c.red_bytes,
        }),
    }
}

fn colours_text(c: &api::Colours) -> String {
    format!(
        "green {} pkts {} bytes, yellow {} pkts {} bytes, red {} pkts {} bytes",
        c.green_packets,
        c.green_bytes,
        c.yellow_packets,
        c.yellow_bytes,
        c.red_packets,
        c.red_bytes
    )
}

fn render(s: &api::QosStatus) -> (String, Value) {
    let mut human = format!("{} ({}):", s.port, s.bridge);
    let qos = s.qos.as_ref().map(|q| {
        human.push_str(&format!(" qos {}", q.r#type));
        if q.max_rate > 0 {
            human.push_str(&format!(" max-rate {}", q.max_rate));
        }
        for (k, v) in [("cir", q.cir), ("cbs", q.cbs), ("pir", q.pir), ("pbs", q.pbs), ("eir", q.eir), ("ebs", q.ebs)] {
            if v > 0 {
                human.push_str(&format!(" {k} {v}"));
            }
        }
        json!({
            "type": q.r#type, "max_rate": q.max_rate, "burst": q.burst, "aqm": q.aqm,
            "cir": q.cir, "cbs": q.cbs, "pir": q.pir, "pbs": q.pbs, "eir": q.eir, "ebs": q.ebs,
            "dscp_map": q.dscp_map.iter().map(|(d, q)| (d.to_string(), json!(q))).collect::<serde_json::Map<_, _>>(),
        })
    });
    if s.qos.is_none() {
        human.push_str(" no qos");
    }
    let policing = s.policing.as_ref().map(|p| {
        if p.rate > 0 {
            human.push_str(&format!(", ingress policing {} kbit/s burst {} kbit", p.rate, p.burst));
        } else {
            human.push_str(&format!(
                ", ingress policing {} kpkt/s burst {} kpkt",
                p.kpkts_rate, p.kpkts_burst
            ));
        }
        json!({ "rate": p.rate, "burst": p.burst, "kpkts_rate": p.kpkts_rate, "kpkts_burst": p.kpkts_burst })
    });
    human.push('\n');
    let mut queues = Vec::new();
    for q in &s.queues {
        let Some(c) = &q.queue else { continue };
        human.push_str(&format!(
            "  queue {}: min-rate {} max-rate {} priority {}: tx {} pkts {} bytes, dropped {} \
             (aqm {}), waiting {}\n",
            c.id,
            c.min_rate,
            c.max_rate,
            c.priority,
            q.tx_packets,
            q.tx_bytes,
            q.dropped,
            q.aqm_dropped,
            q.waiting_packets
        ));
        queues.push(json!({
            "id": c.id, "min_rate": c.min_rate, "max_rate": c.max_rate, "priority": c.priority,
            "depth": c.depth, "tx_packets": q.tx_packets, "tx_bytes": q.tx_bytes,
            "dropped": q.dropped, "aqm_dropped": q.aqm_dropped,
            "waiting_packets": q.waiting_packets, "waiting_bytes": q.waiting_bytes,
        }));
    }
    if let Some(c) = &s.egress_colours {
        human.push_str(&format!("  egress policer: {}\n", colours_text(c)));
    }
    if let Some(c) = &s.ingress_colours {
        human.push_str(&format!("  ingress policer: {}\n", colours_text(c)));
    }
    let j = json!({
        "bridge": s.bridge, "port": s.port, "qos": qos, "policing": policing, "queues": queues,
        "egress_colours": colours_json(&s.egress_colours),
        "ingress_colours": colours_json(&s.ingress_colours),
        "unknown_queue": s.unknown_queue, "egress_dropped": s.egress_dropped,
        "ingress_dropped": s.ingress_dropped, "duration_ms": s.duration_ms,
    });
    (human, j)
}

fn failed(what: String) -> impl FnOnce(tonic::Status) -> CliError {
    move |s| CliError::status(what, s)
}

pub async fn set_qos(api: &Api, port: &str, words: &[String]) -> Result<Reply, CliError> {
    let qos = parse_qos(words)?;
    let s = api
        .qos()
        .set_qos(api::SetQosRequest {
            port: port.to_string(),
            qos: Some(qos),
        })
        .await
        .map_err(failed(format!("set-qos {port}")))?
        .into_inner();
    Ok(Reply::done(render(&s).1))
}

pub async fn clear_qos(api: &Api, port: &str) -> Result<Reply, CliError> {
    let s = api
        .qos()
        .clear_qos(api::ClearQosRequest {
            port: port.to_string(),
        })
        .await
        .map_err(failed(format!("clear-qos {port}")))?
        .into_inner();
    Ok(Reply::done(render(&s).1))
}

pub async fn set_policing(api: &Api, port: &str, words: &[String]) -> Result<Reply, CliError> {
    let policing = parse_policing(words)?;
    let s = api
        .qos()
        .set_policing(api::SetPolicingRequest {
            port: port.to_string(),
            policing: Some(policing),
        })
        .await
        .map_err(failed(format!("set-policing {port}")))?
        .into_inner();
    Ok(Reply::done(render(&s).1))
}

pub async fn clear_policing(api: &Api, port: &str) -> Result<Reply, CliError> {
    let s = api
        .qos()
        .clear_policing(api::ClearPolicingRequest {
            port: port.to_string(),
        })
        .await
        .map_err(failed(format!("clear-policing {port}")))?
        .into_inner();
    Ok(Reply::done(render(&s).1))
}

pub async fn stats(api: &Api, port: Option<&str>) -> Result<Reply, CliError> {
    let r = api
        .qos()
        .get_qos(api::GetQosRequest {
            port: port.unwrap_or_default().to_string(),
        })
        .await
        .map_err(failed("qos-stats".into()))?
        .into_inner();
    let mut human = String::new();
    let mut ports = Vec::new();
    for s in &r.ports {
        let (h, j) = render(s);
        human.push_str(&h);
        ports.push(j);
    }
    // One port asked for: that port's object; else the list.
    let json = match (port, ports.len()) {
        (Some(_), 1) => ports.remove(0),
        _ => json!({ "ports": ports }),
    };
    Ok(Reply { human, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_open_vswitch_settings_as_words() {
        let s = parse_qos(&words(&[
            "type=htb",
            "max-rate=100000000",
            "queue=1:min-rate=70000000,max_rate=100000000,priority=1",
            "queue=2:min-rate=30000000",
            "dscp=46:1,0:2",
        ]))
        .unwrap();
        assert_eq!(
            (s.r#type.as_str(), s.max_rate, s.queues.len()),
            ("htb", 100_000_000, 2)
        );
        assert_eq!(
            (s.queues[0].id, s.queues[0].min_rate, s.queues[0].priority),
            (1, 70_000_000, 1)
        );
        assert_eq!(s.dscp_map.get(&46), Some(&1));
        assert!(parse_qos(&words(&["queue=1:speed=3"])).is_err());
        assert!(parse_qos(&words(&["max-rate=fast"])).is_err());
        assert!(parse_qos(&words(&["dscp=46"])).is_err());
        let p = parse_policing(&words(&["ingress_policing_rate=10000", "burst=1000"])).unwrap();
        assert_eq!((p.rate, p.burst), (10_000, 1000));
        assert!(parse_policing(&words(&["speed=1"])).is_err());
    }
}

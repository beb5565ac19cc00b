//! Sampling probes' verbs: set-sflow, clear-sflow, sflow-show,
//! set-ipfix, clear-ipfix, ipfix-show, and set-collector-set,
//! clear-collector-set (the `sample` action's exporters, shown by
//! ipfix-show).
//!
//! Open vSwitch configures them with `ovs-vsctl -- --id=@s create sflow
//! agent=... target=... sampling=...` and `create ipfix targets=...
//! sampling=... obs_domain_id=... cache_active_timeout=...`; swctl takes
//! the same settings as words: `swctl set-sflow br0 agent=192.0.2.1
//! targets=192.0.2.9:6343 sampling=64 polling=10`, `swctl set-ipfix br0
//! targets=192.0.2.9:4739 cache_active_timeout=30`, `swctl
//! set-collector-set br0 5 targets=192.0.2.9:4739` (Open vSwitch: `create
//! Flow_Sample_Collector_Set id=5 bridge=@br ipfix=@i`). switchd checks
//! them.

use super::Reply;
use crate::cli::connect::Api;
use crate::cli::error::CliError;
use proto::v1 as api;
use serde_json::json;

fn number(k: &str, v: &str) -> Result<u32, CliError> {
    v.parse()
        .map_err(|_| CliError::Usage(format!("{k}={v}: not a number")))
}

/// The sFlow settings swctl's words describe.
fn parse(words: &[String]) -> Result<api::SflowSettings, CliError> {
    let mut s = api::SflowSettings::default();
    for w in words {
        let (k, v) = w.split_once('=').unwrap_or((w.as_str(), ""));
        match k {
            "agent" => s.agent = v.to_string(),
            "targets" | "target" => s.targets = v.split(',').map(String::from).collect(),
            "sampling" => s.sampling = number(k, v)?,
            "polling" => s.polling = Some(number(k, v)?),
            "header" => s.header = number(k, v)?,
            _ => return Err(CliError::Usage(format!("unknown sFlow setting {w:?}"))),
        }
    }
    Ok(s)
}

fn render(s: &api::SflowStatus) -> (String, serde_json::Value) {
    let Some(c) = &s.sflow else {
        return (
            format!("{}: no sFlow\n", s.bridge),
            json!({ "bridge": s.bridge, "sflow": null }),
        );
    };
    let human = format!(
        "{}: agent {} targets {} sampling 1/{} polling {} s header {} B\n  \
         running {}, samples {}, dropped {}, datagrams {}, send errors {}\n",
        s.bridge,
        c.agent,
        c.targets.join(","),
        c.sampling,
        c.polling.unwrap_or(0),
        c.header,
        s.running,
        s.samples,
        s.dropped,
        s.datagrams,
        s.send_errors
    );
    let j = json!({
        "bridge": s.bridge,
        "sflow": {
            "agent": c.agent, "targets": c.targets, "sampling": c.sampling,
            "polling": c.polling, "header": c.header,
        },
        "running": s.running, "samples": s.samples, "dropped": s.dropped,
        "datagrams": s.datagrams, "send_errors": s.send_errors,
    });
    (human, j)
}

pub async fn set(api: &Api, bridge: &str, words: &[String]) -> Result<Reply, CliError> {
    let sflow = parse(words)?;
    let s = api
        .sflow()
        .set_sflow(api::SetSflowRequest {
            bridge: bridge.to_string(),
            sflow: Some(sflow),
        })
        .await
        .map_err(|s| CliError::status(format!("set-sflow {bridge}"), s))?
        .into_inner();
    Ok(Reply::done(render(&s).1))
}

pub async fn clear(api: &Api, bridge: &str) -> Result<Reply, CliError> {
    api.sflow()
        .clear_sflow(api::ClearSflowRequest {
            bridge: bridge.to_string(),
        })
        .await
        .map_err(|s| CliError::status(format!("clear-sflow {bridge}"), s))?;
    Ok(Reply::done(json!({})))
}

pub async fn show(api: &Api, bridge: &str) -> Result<Reply, CliError> {
    let s = api
        .sflow()
        .get_sflow(api::GetSflowRequest {
            bridge: bridge.to_string(),
        })
        .await
        .map_err(|s| CliError::status(format!("sflow-show {bridge}"), s))?
        .into_inner();
    let (human, json) = render(&s);
    Ok(Reply { human, json })
}

/// The IPFIX settings swctl's words describe.
fn parse_ipfix(words: &[String]) -> Result<api::IpfixSettings, CliError> {
    let mut s = api::IpfixSettings::default();
    for w in words {
        let (k, v) = w.split_once('=').unwrap_or((w.as_str(), ""));
        match k {
            "targets" | "target" => s.targets = v.split(',').map(String::from).collect(),
            "sampling" => s.sampling = number(k, v)?,
            "obs_domain_id" => s.obs_domain_id = number(k, v)?,
            "obs_point_id" => s.obs_point_id = number(k, v)?,
            "cache_active_timeout" => s.cache_active_timeout = number(k, v)?,
            "cache_idle_timeout" => s.cache_idle_timeout = number(k, v)?,
            "template_interval" => s.template_interval = number(k, v)?,
            _ => return Err(CliError::Usage(format!("unknown IPFIX setting {w:?}"))),
        }
    }
    Ok(s)
}

/// A collector set's settings from swctl's words.
fn parse_set(id: u32, words: &[String]) -> Result<api::CollectorSetSettings, CliError> {
    let mut s = api::CollectorSetSettings {
        id,
        ..Default::default()
    };
    for w in words {
        let (k, v) = w.split_once('=').unwrap_or((w.as_str(), ""));
        match k {
            "targets" | "target" => s.targets = v.split(',').map(String::from).collect(),
            "cache_active_timeout" => s.cache_active_timeout = number(k, v)?,
            "cache_idle_timeout" => s.cache_idle_timeout = number(k, v)?,
            "template_interval" => s.template_interval = number(k, v)?,
            _ => {
                return Err(CliError::Usage(format!(
                    "unknown collector set setting {w:?}"
                )))
            }
        }
    }
    Ok(s)
}

fn counters_json(c: &api::ExporterCounters) -> serde_json::Value {
    json!({
        "samples": c.samples, "dropped": c.dropped, "records": c.records,
        "messages": c.messages, "send_errors": c.send_errors,
    })
}

fn counters_text(c: &api::ExporterCounters) -> String {
    format!(
        "samples {}, dropped {}, records {}, messages {}, send errors {}",
        c.samples, c.dropped, c.records, c.messages, c.send_errors
    )
}

fn render_ipfix(s: &api::IpfixStatus) -> (String, serde_json::Value) {
    let own = api::ExporterCounters {
        samples: s.samples,
        dropped: s.dropped,
        records: s.records,
        messages: s.messages,
        send_errors: s.send_errors,
    };
    let (mut human, mut j) = match &s.ipfix {
        None => (
            format!("{}: no IPFIX\n", s.bridge),
            json!({ "bridge": s.bridge, "ipfix": null }),
        ),
        Some(c) => {
            let human = format!(
                "{}: targets {} sampling 1/{} domain {} point {} active {} s idle {} s \
                 templates every {} s\n  running {}, {}\n",
                s.bridge,
                c.targets.join(","),
                c.sampling,
                c.obs_domain_id,
                c.obs_point_id,
                c.cache_active_timeout,
                c.cache_idle_timeout,
                c.template_interval,
                s.running,
                counters_text(&own),
            );
            let mut j = json!({
                "bridge": s.bridge,
                "ipfix": {
                    "targets": c.targets, "sampling": c.sampling,
                    "obs_domain_id": c.obs_domain_id, "obs_point_id": c.obs_point_id,
                    "cache_active_timeout": c.cache_active_timeout,
                    "cache_idle_timeout": c.cache_idle_timeout,
                    "template_interval": c.template_interval,
                },
                "running": s.running,
            });
            if let (Some(m), serde_json::Value::Object(o)) =
                (j.as_object_mut(), counters_json(&own))
            {
                m.extend(o);
            }
            (human, j)
        }
    };
    let mut sets = Vec::new();
    for st in &s.collector_sets {
        let (Some(c), Some(n)) = (&st.set, &st.counters) else {
            continue;
        };
        human.push_str(&format!(
            "collector set {}: targets {} active {} s idle {} s templates every {} s\n  \
             running {}, {}\n",
            c.id,
            c.targets.join(","),
            c.cache_active_timeout,
            c.cache_idle_timeout,
            c.template_interval,
            st.running,
            counters_text(n),
        ));
        sets.push(json!({
            "id": c.id, "targets": c.targets,
            "cache_active_timeout": c.cache_active_timeout,
            "cache_idle_timeout": c.cache_idle_timeout,
            "template_interval": c.template_interval,
            "running": st.running, "counters": counters_json(n),
        }));
    }
    if s.unconfigured_samples > 0 {
        human.push_str(&format!(
            "samples for unconfigured collector sets: {}\n",
            s.unconfigured_samples
        ));
    }
    j["collector_sets"] = json!(sets);
    j["unconfigured_samples"] = json!(s.unconfigured_samples);
    (human, j)
}

pub async fn set_collector_set(
    api: &Api,
    bridge: &str,
    id: u32,
    words: &[String],
) -> Result<Reply, CliError> {
    let set = parse_set(id, words)?;
    let s = api
        .ipfix()
        .set_collector_set(api::SetCollectorSetRequest {
            bridge: bridge.to_string(),
            set: Some(set),
        })
        .await
        .map_err(|s| CliError::status(format!("set-collector-set {bridge} {id}"), s))?
        .into_inner();
    Ok(Reply::done(render_ipfix(&s).1))
}

pub async fn clear_collector_set(api: &Api, bridge: &str, id: u32) -> Result<Reply, CliError> {
    let s = api
        .ipfix()
        .clear_collector_set(api::ClearCollectorSetRequest {
            bridge: bridge.to_string(),
            id,
        })
        .await
        .map_err(|s| CliError::status(format!("clear-collector-set {bridge} {id}"), s))?
        .into_inner();
    Ok(Reply::done(render_ipfix(&s).1))
}

pub async fn set_ipfix(api: &Api, bridge: &str, words: &[String]) -> Result<Reply, CliError> {
    let ipfix = parse_ipfix(words)?;
    let s = api
        .ipfix()
        .set_ipfix(api::SetIpfixRequest {
            bridge: bridge.to_string(),
            ipfix: Some(ipfix),
        })
        .await
        .map_err(|s| CliError::status(format!("set-ipfix {bridge}"), s))?
        .into_inner();
    Ok(Reply::done(render_ipfix(&s).1))
}

pub async fn clear_ipfix(api: &Api, bridge: &str) -> Result<Reply, CliError> {
    api.ipfix()
        .clear_ipfix(api::ClearIpfixRequest {
            bridge: bridge.to_string(),
        })
        .await
        .map_err(|s| CliError::status(format!("clear-ipfix {bridge}"), s))?;
    Ok(Reply::done(json!({})))
}

pub async fn show_ipfix(api: &Api, bridge: &str) -> Result<Reply, CliError> {
    let s = api
        .ipfix()
        .get_ipfix(api::GetIpfixRequest {
            bridge: bridge.to_string(),
        })
        .await
        .map_err(|s| CliError::status(format!("ipfix-show {bridge}"), s))?
        .into_inner();
    let (human, json) = render_ipfix(&s);
    Ok(Reply { human, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_settings_words() {
        let w: Vec<String> = [
            "agent=10.0.0.1",
            "targets=10.0.0.9:6343,10.0.0.8:6343",
            "sampling=64",
            "polling=0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = parse(&w).unwrap();
        assert_eq!(
            (s.agent.as_str(), s.targets.len(), s.sampling, s.polling),
            ("10.0.0.1", 2, 64, Some(0))
        );
        assert!(parse(&["bogus=1".to_string()]).is_err());
        assert!(parse(&["sampling=x".to_string()]).is_err());
        let i = parse_ipfix(&[
            "targets=10.0.0.9:4739".to_string(),
            "cache_active_timeout=5".to_string(),
        ])
        .unwrap();
        assert_eq!((i.targets.len(), i.cache_active_timeout), (1, 5));
        assert!(parse_ipfix(&["polling=1".to_string()]).is_err());
        let c = parse_set(5, &["targets=10.0.0.9:4739".to_string()]).unwrap();
        assert_eq!((c.id, c.targets.len()), (5, 1));
        assert!(parse_set(5, &["sampling=2".to_string()]).is_err());
    }
}

//! Port verbs: add-port, del-port, list-ports (ovs-vsctl's) and
//! dump-ports, dump-ports-desc (ovs-ofctl's).

use super::Reply;
use crate::cli::args::AddPort;
use crate::cli::connect::Api;
use crate::cli::error::CliError;
use crate::cli::json;
use crate::cli::port_spec::add_port_request;
use crate::cli::table::{count, duration, ofport, Table};
use crate::cli::verbs::bridge::{self, options_text};
use proto::v1 as api;
use serde_json::json;

pub async fn add(api: &Api, a: &AddPort) -> Result<Reply, CliError> {
    let req = add_port_request(&a.bridge, &a.port, &a.settings)?;
    let p = api
        .ports()
        .add_port(req)
        .await
        .map_err(|s| CliError::status(format!("add-port {} {}", a.bridge, a.port), s))?
        .into_inner();
    Ok(Reply::done(json::port(&p)))
}

/// `del-port BRIDGE PORT` or `del-port PORT` (the bridge is looked up).
pub async fn delete(api: &Api, names: &[String]) -> Result<Reply, CliError> {
    let (bridge, port) = match names {
        [bridge, port] => (bridge.clone(), port.clone()),
        [port] => {
            let context = format!("del-port {port}");
            let owner = bridge::list(api, &context)
                .await?
                .into_iter()
                .find(|b| b.ports.iter().any(|p| &p.name == port))
                .ok_or_else(|| CliError::Refused {
                    context: context.clone(),
                    code: tonic::Code::NotFound,
                    message: format!("no bridge has a port named {port:?}"),
                    input: None,
                })?;
            (owner.name, port.clone())
        }
        _ => return Err(CliError::Usage("del-port [BRIDGE] PORT".into())),
    };
    api.ports()
        .delete_port(api::DeletePortRequest {
            bridge: bridge.clone(),
            name: port.clone(),
        })
        .await
        .map_err(|s| CliError::status(format!("del-port {bridge} {port}"), s))?;
    Ok(Reply::done(json!({ "bridge": bridge, "deleted": port })))
}

async fn ports(api: &Api, bridge: &str, verb: &str) -> Result<Vec<api::Port>, CliError> {
    let mut ports = api
        .ports()
        .list_ports(api::ListPortsRequest {
            bridge: bridge.to_string(),
        })
        .await
        .map_err(|s| CliError::status(format!("{verb} {bridge}"), s))?
        .into_inner()
        .ports;
    ports.sort_by_key(|p| (p.is_local, p.ofport));
    Ok(ports)
}

/// Names only, like ovs-vsctl (which leaves out the bridge's own port).
pub async fn list(api: &Api, bridge: &str) -> Result<Reply, CliError> {
    let mut names: Vec<String> = ports(api, bridge, "list-ports")
        .await?
        .into_iter()
        .filter(|p| !p.is_local)
        .map(|p| p.name)
        .collect();
    names.sort();
    Ok(Reply {
        human: names.iter().map(|n| format!("{n}\n")).collect(),
        json: json!({ "bridge": bridge, "ports": names }),
    })
}

pub async fn dump_desc(api: &Api, bridge: &str) -> Result<Reply, CliError> {
    let ports = ports(api, bridge, "dump-ports-desc").await?;
    let mut t = Table::new(&[
        "PORT>", "NAME", "TYPE", "MAC", "LINK", "CONFIG", "RXQ>", "OPTIONS",
    ]);
    for p in &ports {
        let c = p.config.unwrap_or_default();
        let bits: Vec<&str> = [
            (c.port_down, "PORT_DOWN"),
            (c.no_recv, "NO_RECV"),
            (c.no_fwd, "NO_FWD"),
            (c.no_packet_in, "NO_PACKET_IN"),
            (c.no_flood, "NO_FLOOD"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        t.row([
            ofport(p.ofport),
            p.name.clone(),
            p.r#type.clone(),
            p.mac.clone(),
            if p.link_up { "up" } else { "down" }.into(),
            if bits.is_empty() {
                "0".into()
            } else {
                bits.join(",")
            },
            p.n_rxq.to_string(),
            options_text(p),
        ]);
    }
    Ok(Reply {
        human: t.render(),
        json: json!({ "bridge": bridge, "ports": ports.iter().map(json::port).collect::<Vec<_>>() }),
    })
}

pub async fn dump(api: &Api, bridge: &str, port: Option<&str>) -> Result<Reply, CliError> {
    let mut counters = api
        .stats()
        .port_stats(api::PortStatsRequest {
            bridge: bridge.to_string(),
            port: port.unwrap_or_default().to_string(),
        })
        .await
        .map_err(|s| CliError::status(format!("dump-ports {bridge}"), s))?
        .into_inner()
        .ports;
    counters.sort_by_key(|p| (p.ofport == 0xffff_fffe, p.ofport));
    let mut t = Table::new(&[
        "PORT>",
        "NAME",
        "RX_PKTS>",
        "RX_BYTES>",
        "RX_DROP>",
        "RX_ERR>",
        "TX_PKTS>",
        "TX_BYTES>",
        "TX_DROP>",
        "TX_ERR>",
        "UP>",
    ]);
    for p in &counters {
        t.row([
            ofport(p.ofport),
            p.name.clone(),
            count(p.rx_packets),
            count(p.rx_bytes),
            count(p.rx_dropped),
            count(p.rx_errors),
            count(p.tx_packets),
            count(p.tx_bytes),
            count(p.tx_dropped),
            count(p.tx_errors),
            duration(p.duration_secs),
        ]);
    }
    Ok(Reply {
        human: t.render(),
        json: json!({
            "bridge": bridge,
            "ports": counters.iter().map(json::port_counters).collect::<Vec<_>>(),
        }),
    })
}

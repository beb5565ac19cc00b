//! Bridge verbs (ovs-vsctl's): show, add-br, del-br, list-br,
//! set-controller, del-controller, set-fail-mode.

use super::Reply;
use crate::cli::args::{AddBr, FailModeArg};
use crate::cli::connect::Api;
use crate::cli::error::CliError;
use crate::cli::json;
use crate::cli::table::{ofport, Table};
use proto::v1 as api;
use serde_json::json;
use std::fmt::Write as _;

pub fn fail_mode(mode: FailModeArg) -> api::FailMode {
    match mode {
        FailModeArg::Standalone => api::FailMode::Standalone,
        FailModeArg::Secure => api::FailMode::Secure,
    }
}

/// Every bridge, ports and controllers included.
pub async fn list(api: &Api, context: &str) -> Result<Vec<api::Bridge>, CliError> {
    let reply = api
        .bridges()
        .list_bridges(api::ListBridgesRequest {})
        .await
        .map_err(|s| CliError::status(context, s))?;
    Ok(reply.into_inner().bridges)
}

pub async fn show(api: &Api) -> Result<Reply, CliError> {
    let bridges = list(api, "show").await?;
    let mut human = String::new();
    for b in &bridges {
        human.push_str(&render_bridge(b));
    }
    if bridges.is_empty() {
        human.push_str("no bridges\n");
    }
    Ok(Reply {
        human,
        json: json!({ "bridges": bridges.iter().map(json::bridge).collect::<Vec<_>>() }),
    })
}

/// `ovs-vsctl show` in spirit: the bridge, its settings, controllers, ports.
fn render_bridge(b: &api::Bridge) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "Bridge {}\n    fail_mode: {}\n    datapath_id: {}\n",
        b.name,
        json::fail_mode(b.fail_mode),
        b.datapath_id
    );
    if let Some(d) = &b.datapath {
        let _ = writeln!(
            out,
            "    datapath: workers={} emc_entries={} rxq_assign={} max_idle={}s",
            d.workers, d.emc_entries, d.rxq_assign, d.max_idle_secs
        );
    }
    if b.persistent_flows > 0 {
        let _ = writeln!(out, "    persistent flows: {}", b.persistent_flows);
    }
    for target in &b.controllers {
        let status = b.controller_status.iter().find(|s| &s.target == target);
        let _ = write!(out, "    Controller \"{target}\"");
        if let Some(s) = status {
            let _ = write!(out, ": {}", s.state);
            if !s.local_addr.is_empty() {
                let _ = write!(out, " on {}", s.local_addr);
            }
            for c in &s.connections {
                let _ = write!(
                    out,
                    "; peer {} role {}{}",
                    c.peer,
                    c.role,
                    if c.negotiated { "" } else { " (negotiating)" }
                );
            }
            if !s.last_error.is_empty() {
                let _ = write!(out, " (last error: {})", s.last_error);
            }
        }
        out.push('\n');
    }
    if !b.ports.is_empty() {
        let mut t = Table::new(&["PORT>", "NAME", "TYPE", "LINK", "MAC", "OPTIONS"]);
        let mut ports: Vec<&api::Port> = b.ports.iter().collect();
        ports.sort_by_key(|p| (p.is_local, p.ofport));
        for p in ports {
            t.row([
                ofport(p.ofport),
                p.name.clone(),
                p.r#type.clone(),
                if p.link_up { "up" } else { "down" }.into(),
                p.mac.clone(),
                options_text(p),
            ]);
        }
        for line in t.render().lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// `k=v k=v` sorted by key.
pub fn options_text(p: &api::Port) -> String {
    let mut kv: Vec<(&String, &String)> = p.options.iter().collect();
    kv.sort();
    kv.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn add(api: &Api, a: &AddBr) -> Result<Reply, CliError> {
    let context = format!("add-br {}", a.bridge);
    let req = api::CreateBridgeRequest {
        name: a.bridge.clone(),
        fail_mode: a
            .fail_mode
            .map(fail_mode)
            .unwrap_or(api::FailMode::Unspecified) as i32,
        local_port: !a.no_local_port,
        datapath: a.workers.map(|w| api::DatapathConfigUpdate {
            workers: Some(w),
            ..Default::default()
        }),
        controllers: a.controllers.clone(),
        datapath_id: a.datapath_id.clone().unwrap_or_default(),
        ssl: None,
    };
    let b = api
        .bridges()
        .create_bridge(req)
        .await
        .map_err(|s| CliError::status(&context, s))?
        .into_inner();
    Ok(Reply::done(json::bridge(&b)))
}

pub async fn delete(api: &Api, bridge: &str) -> Result<Reply, CliError> {
    api.bridges()
        .delete_bridge(api::DeleteBridgeRequest {
            name: bridge.to_string(),
        })
        .await
        .map_err(|s| CliError::status(format!("del-br {bridge}"), s))?;
    Ok(Reply::done(json!({ "deleted": bridge })))
}

pub async fn list_names(api: &Api) -> Result<Reply, CliError> {
    let mut names: Vec<String> = list(api, "list-br")
        .await?
        .into_iter()
        .map(|b| b.name)
        .collect();
    names.sort();
    Ok(Reply {
        human: names.iter().map(|n| format!("{n}\n")).collect(),
        json: json!({ "bridges": names }),
    })
}

pub async fn set_controllers(
    api: &Api,
    bridge: &str,
    targets: &[String],
    verb: &str,
) -> Result<Reply, CliError> {
    let b = api
        .bridges()
        .set_controllers(api::SetControllersRequest {
            bridge: bridge.to_string(),
            controllers: targets.to_vec(),
            ssl: None,
        })
        .await
        .map_err(|s| CliError::status(format!("{verb} {bridge}"), s))?
        .into_inner();
    Ok(Reply::done(json::bridge(&b)))
}

pub async fn set_fail_mode(api: &Api, bridge: &str, mode: FailModeArg) -> Result<Reply, CliError> {
    let b = api
        .bridges()
        .set_fail_mode(api::SetFailModeRequest {
            bridge: bridge.to_string(),
            fail_mode: fail_mode(mode) as i32,
        })
        .await
        .map_err(|s| CliError::status(format!("set-fail-mode {bridge}"), s))?
        .into_inner();
    Ok(Reply::done(json::bridge(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_renders_like_ovs_vsctl_show() {
        let b = api::Bridge {
            name: "br0".into(),
            fail_mode: api::FailMode::Standalone as i32,
            datapath_id: "00000000000000a1".into(),
            controllers: vec!["ptcp:6653:127.0.0.1".into()],
            controller_status: vec![api::ControllerStatus {
                target: "ptcp:6653:127.0.0.1".into(),
                state: "listening".into(),
                local_addr: "127.0.0.1:6653".into(),
                ..Default::default()
            }],
            ports: vec![
                api::Port {
                    name: "eth1".into(),
                    r#type: "afxdp".into(),
                    ofport: 1,
                    link_up: true,
                    options: [("n_rxq".to_string(), "2".to_string())].into(),
                    ..Default::default()
                },
                api::Port {
                    name: "br0".into(),
                    r#type: "internal".into(),
                    ofport: 0xffff_fffe,
                    is_local: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let text = render_bridge(&b);
        assert!(
            text.starts_with("Bridge br0\n    fail_mode: standalone\n"),
            "{text}"
        );
        assert!(
            text.contains("Controller \"ptcp:6653:127.0.0.1\": listening on 127.0.0.1:6653"),
            "{text}"
        );
        let eth1 = text.find("eth1").unwrap();
        let local = text.find("LOCAL").unwrap();
        assert!(eth1 < local, "numbered ports first:\n{text}");
        assert!(text.contains("n_rxq=2"), "{text}");
    }
}

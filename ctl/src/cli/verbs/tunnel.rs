//! Tunnel verbs (ovs-appctl's `ovs/route/*`, `tnl/neigh/*`,
//! `tnl/ports/show`): route/show, route/add, route/del, tnl/neigh-show,
//! tnl/neigh-flush, tnl/show.
//!
//! route/add takes Open vSwitch's words, `PREFIX DEV [GATEWAY]
//! [src=IP]`; swctl only sorts them into the request's fields, and the
//! daemon checks the addresses. It is silent on success like the other
//! changes, except for the daemon's warnings (a `dev` that is not a bridge
//! with a local port yet), which it prints as notes.

use super::Reply;
use crate::cli::args::RouteAdd;
use crate::cli::connect::Api;
use crate::cli::error::CliError;
use crate::cli::json;
use crate::cli::table::{count, Table};
use proto::v1 as api;
use serde_json::json;
use std::fmt::Write as _;

/// `-` for text the API leaves empty.
fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

pub async fn route_show(api: &Api) -> Result<Reply, CliError> {
    let routes = api
        .tunnels()
        .list_routes(api::ListRoutesRequest {})
        .await
        .map_err(|s| CliError::status("route/show", s))?
        .into_inner()
        .routes;
    Ok(Reply {
        human: render_routes(&routes),
        json: json!({ "routes": routes.iter().map(json::route).collect::<Vec<_>>() }),
    })
}

fn render_routes(routes: &[api::Route]) -> String {
    let mut t = Table::new(&["PREFIX", "DEV", "GATEWAY", "SRC", "ORIGIN", "METRIC>"]);
    for r in routes {
        t.row([
            r.prefix.clone(),
            r.dev.clone(),
            dash(&r.gateway),
            dash(&r.src),
            json::route_origin(r.origin).to_string(),
            r.metric.to_string(),
        ]);
    }
    t.render()
}

/// The words after PREFIX DEV: a bare GATEWAY and/or `src=IP`, each at
/// most once. Returns (gateway, src), empty for not given.
pub fn route_words(words: &[String]) -> Result<(String, String), CliError> {
    let (mut gateway, mut src) = (None, None);
    for w in words {
        let (slot, value, what) = match w.split_once('=') {
            Some(("src", v)) => (&mut src, v, "src="),
            Some((k, _)) => {
                return Err(CliError::Usage(format!(
                    "route/add: unknown setting {k:?} (give GATEWAY and/or src=IP)"
                )))
            }
            None => (&mut gateway, w.as_str(), "GATEWAY"),
        };
        if slot.replace(value.to_string()).is_some() {
            return Err(CliError::Usage(format!("route/add: {what} given twice")));
        }
    }
    Ok((gateway.unwrap_or_default(), src.unwrap_or_default()))
}

pub async fn route_add(api: &Api, a: &RouteAdd) -> Result<Reply, CliError> {
    let (gateway, src) = route_words(&a.rest)?;
    let context = format!("route/add {}", a.prefix);
    let reply = api
        .tunnels()
        .add_route(api::AddRouteRequest {
            prefix: a.prefix.clone(),
            dev: a.dev.clone(),
            gateway,
            src,
        })
        .await
        .map_err(|s| CliError::status(&context, s))?
        .into_inner();
    let mut human = String::new();
    for w in &reply.warnings {
        let _ = writeln!(human, "{context}: note: {w}");
    }
    Ok(Reply {
        human,
        json: json!({
            "route": reply.route.as_ref().map(json::route),
            "replaced": reply.replaced,
            "warnings": reply.warnings,
        }),
    })
}

pub async fn route_del(api: &Api, prefix: &str) -> Result<Reply, CliError> {
    api.tunnels()
        .delete_route(api::DeleteRouteRequest {
            prefix: prefix.to_string(),
        })
        .await
        .map_err(|s| CliError::status(format!("route/del {prefix}"), s))?;
    Ok(Reply::done(json!({ "deleted": prefix })))
}

pub async fn neigh_show(api: &Api) -> Result<Reply, CliError> {
    let neighbours = api
        .tunnels()
        .list_neighbours(api::ListNeighboursRequest {})
        .await
        .map_err(|s| CliError::status("tnl/neigh-show", s))?
        .into_inner()
        .neighbours;
    let mut t = Table::new(&["BRIDGE", "IP", "MAC", "AGE>"]);
    for n in &neighbours {
        t.row([
            n.bridge.clone(),
            n.ip.clone(),
            n.mac.clone(),
            format!("{}s", n.age_secs as u64),
        ]);
    }
    Ok(Reply {
        human: t.render(),
        json: json!({
            "neighbours": neighbours.iter().map(json::neighbour).collect::<Vec<_>>(),
        }),
    })
}

pub async fn neigh_flush(api: &Api) -> Result<Reply, CliError> {
    api.tunnels()
        .flush_neighbours(api::FlushNeighboursRequest {})
        .await
        .map_err(|s| CliError::status("tnl/neigh-flush", s))?;
    Ok(Reply::done(json!({ "flushed": true })))
}

pub async fn tnl_show(api: &Api) -> Result<Reply, CliError> {
    let stats = api
        .tunnels()
        .tunnel_stats(api::TunnelStatsRequest {})
        .await
        .map_err(|s| CliError::status("tnl/show", s))?
        .into_inner();
    Ok(Reply {
        human: render_tunnels(&stats),
        json: json!({
            "ports": stats.ports.iter().map(json::tunnel_port).collect::<Vec<_>>(),
            "counters": json::tunnel_counters(&stats.counters),
        }),
    })
}

fn render_tunnels(s: &api::TunnelStatsResponse) -> String {
    let mut out = String::new();
    if s.ports.is_empty() {
        out.push_str("no tunnel ports\n");
    } else {
        let mut t = Table::new(&["BRIDGE", "PORT>", "NAME", "TYPE", "OPTIONS"]);
        for p in &s.ports {
            let mut kv: Vec<(&String, &String)> = p.options.iter().collect();
            kv.sort();
            let options: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
            t.row([
                p.bridge.clone(),
                p.ofport.to_string(),
                p.name.clone(),
                p.r#type.clone(),
                options.join(" "),
            ]);
        }
        out.push_str(&t.render());
    }
    let _ = writeln!(out, "\nCounters:");
    let mut t = Table::new(&["COUNTER", "VALUE>"]);
    for c in &s.counters {
        t.row([c.name.clone(), count(c.value)]);
    }
    for line in t.render().lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Result<(String, String), CliError> {
        route_words(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn route_add_words_sort_into_gateway_and_src() {
        assert_eq!(words(&[]).unwrap(), (String::new(), String::new()));
        assert_eq!(
            words(&["192.0.2.1"]).unwrap(),
            ("192.0.2.1".into(), String::new())
        );
        assert_eq!(
            words(&["src=192.0.2.10", "192.0.2.1"]).unwrap(),
            ("192.0.2.1".into(), "192.0.2.10".into())
        );
        assert!(words(&["pkt_mark=1"])
            .unwrap_err()
            .to_string()
            .contains("pkt_mark"));
        assert!(words(&["192.0.2.1", "192.0.2.2"])
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert!(words(&["src=a", "src=b"]).is_err());
    }

    #[test]
    fn routes_and_tunnels_read_as_tables() {
        let routes = [
            api::Route {
                prefix: "10.1.0.0/16".into(),
                dev: "br-phy".into(),
                gateway: "192.0.2.1".into(),
                origin: api::RouteOrigin::User as i32,
                ..Default::default()
            },
            api::Route {
                prefix: "0.0.0.0/0".into(),
                dev: "eth0".into(),
                metric: 100,
                origin: api::RouteOrigin::Kernel as i32,
                ..Default::default()
            },
        ];
        assert_eq!(
            render_routes(&routes),
            "PREFIX       DEV     GATEWAY    SRC  ORIGIN  METRIC\n\
             10.1.0.0/16  br-phy  192.0.2.1  -    user         0\n\
             0.0.0.0/0    eth0    -          -    kernel     100\n"
        );
        let s = api::TunnelStatsResponse {
            ports: vec![api::TunnelPort {
                bridge: "br-int".into(),
                name: "vx0".into(),
                ofport: 2,
                r#type: "vxlan".into(),
                options: [("remote_ip", "192.0.2.2"), ("key", "100")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            }],
            counters: vec![api::TunnelCounter {
                name: "no_route".into(),
                value: 1234,
            }],
        };
        let text = render_tunnels(&s);
        assert!(
            text.contains("br-int     2  vx0   vxlan  key=100 remote_ip=192.0.2.2\n"),
            "{text}"
        );
        assert!(
            text.ends_with("  COUNTER   VALUE\n  no_route  1,234\n"),
            "{text}"
        );
        let empty = render_tunnels(&api::TunnelStatsResponse::default());
        assert!(empty.starts_with("no tunnel ports\n"), "{empty}");
    }
}

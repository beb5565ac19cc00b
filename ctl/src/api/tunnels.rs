//! TunnelService: routes, neighbours, tunnel ports and counters
//! (Open vSwitch's `ovs/route/*`, `tnl/neigh/*`, `tnl/ports/show`):
//! protobuf in, the core's tunnel changes and views
//! (`crate::switch::tunnels`) called, protobuf out.
//!
//! Addresses travel as text, empty for "none"; this module turns them
//! into addresses and leaves every other check of a route to the core.

use super::ports::mac_text;
use crate::config::RouteConfig;
use crate::switch::tunnels::TunnelPortView;
use crate::switch::{Switch, SwitchError, SwitchResult};
use ofproto::tunnel::{NeighbourEntry, Origin, Route};
use proto::v1;
use std::net::IpAddr;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The TunnelService implementation.
#[derive(Debug)]
pub struct Tunnels(pub Arc<Switch>);

/// An optional address: empty is none.
fn address(what: &str, text: &str) -> SwitchResult<Option<IpAddr>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| SwitchError::Invalid(format!("{what} {text:?} is not an IP address")))
}

fn text(a: Option<IpAddr>) -> String {
    a.map(|a| a.to_string()).unwrap_or_default()
}

pub fn route_to_proto(r: &Route) -> v1::Route {
    v1::Route {
        prefix: format!("{}/{}", r.prefix, r.len),
        dev: r.dev.clone(),
        gateway: text(r.gateway),
        src: text(r.src),
        metric: r.metric,
        origin: match r.origin {
            Origin::Kernel => v1::RouteOrigin::Kernel,
            Origin::User => v1::RouteOrigin::User,
        } as i32,
    }
}

fn neighbour_to_proto(n: &NeighbourEntry) -> v1::Neighbour {
    v1::Neighbour {
        bridge: n.bridge.clone(),
        ip: n.ip.to_string(),
        mac: mac_text(n.mac),
        age_secs: n.age.as_secs_f64(),
    }
}

fn tunnel_port_to_proto(p: TunnelPortView) -> v1::TunnelPort {
    v1::TunnelPort {
        bridge: p.bridge,
        name: p.name,
        ofport: p.ofport,
        r#type: p.kind.to_string(),
        options: p.options.into_iter().collect(),
    }
}

#[tonic::async_trait]
impl v1::tunnel_service_server::TunnelService for Tunnels {
    async fn list_routes(
        &self,
        _req: Request<v1::ListRoutesRequest>,
    ) -> Result<Response<v1::ListRoutesResponse>, Status> {
        self.0
            .call(|sw, _| {
                Ok(v1::ListRoutesResponse {
                    routes: sw.routes().iter().map(route_to_proto).collect(),
                })
            })
            .await
            .map(Response::new)
    }

    async fn add_route(
        &self,
        req: Request<v1::AddRouteRequest>,
    ) -> Result<Response<v1::AddRouteResponse>, Status> {
        let r = req.into_inner();
        let route = RouteConfig {
            prefix: r.prefix.trim().to_string(),
            dev: r.dev,
            gateway: address("gateway", &r.gateway)?,
            src: address("src", &r.src)?,
        };
        self.0
            .call(move |sw, inner| {
                let added = sw.add_route(inner, route)?;
                Ok(v1::AddRouteResponse {
                    route: Some(route_to_proto(&added.route)),
                    replaced: added.replaced,
                    warnings: added.warnings,
                })
            })
            .await
            .map(Response::new)
    }

    async fn delete_route(
        &self,
        req: Request<v1::DeleteRouteRequest>,
    ) -> Result<Response<v1::DeleteRouteResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |sw, inner| sw.del_route(inner, r.prefix.trim()))
            .await
            .map(|()| Response::new(v1::DeleteRouteResponse {}))
    }

    async fn list_neighbours(
        &self,
        _req: Request<v1::ListNeighboursRequest>,
    ) -> Result<Response<v1::ListNeighboursResponse>, Status> {
        self.0
            .call(|sw, _| {
                Ok(v1::ListNeighboursResponse {
                    neighbours: sw.neighbours().iter().map(neighbour_to_proto).collect(),
                })
            })
            .await
            .map(Response::new)
    }

    async fn flush_neighbours(
        &self,
        _req: Request<v1::FlushNeighboursRequest>,
    ) -> Result<Response<v1::FlushNeighboursResponse>, Status> {
        self.0
            .call(|sw, _| {
                sw.flush_neighbours();
                Ok(v1::FlushNeighboursResponse {})
            })
            .await
            .map(Response::new)
    }

    async fn tunnel_stats(
        &self,
        _req: Request<v1::TunnelStatsRequest>,
    ) -> Result<Response<v1::TunnelStatsResponse>, Status> {
        self.0
            .call(|sw, inner| {
                Ok(v1::TunnelStatsResponse {
                    ports: sw
                        .tunnel_ports()
                        .into_iter()
                        .map(tunnel_port_to_proto)
                        .collect(),
                    counters: sw
                        .tunnel_counters(inner)
                        .into_iter()
                        .map(|(name, value)| v1::TunnelCounter {
                            name: name.to_string(),
                            value,
                        })
                        .collect(),
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
    fn addresses_are_optional_text() {
        assert_eq!(address("gateway", "").unwrap(), None);
        assert_eq!(
            address("gateway", " 192.0.2.1 ").unwrap(),
            Some("192.0.2.1".parse().unwrap())
        );
        let e = address("src", "192.0.2").unwrap_err().to_string();
        assert!(e.contains("src \"192.0.2\""), "{e}");
    }

    #[test]
    fn routes_read_as_prefix_and_words() {
        let r = Route {
            prefix: "fd00::".parse().unwrap(),
            len: 64,
            dev: "br-phy".into(),
            gateway: Some("fd00::1".parse().unwrap()),
            src: None,
            metric: 7,
            origin: Origin::User,
        };
        let p = route_to_proto(&r);
        assert_eq!(p.prefix, "fd00::/64");
        assert_eq!(p.gateway, "fd00::1");
        assert_eq!(p.src, "");
        assert_eq!(p.origin, v1::RouteOrigin::User as i32);
    }
}

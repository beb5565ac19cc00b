//! PortService: add, delete, list and modify ports: protobuf in, the
//! core's port changes (`crate::switch::ports`) called, protobuf out.

use crate::config::{BridgeConfig, PortConfig, PortKind};
use crate::switch::events::config_bits;
use crate::switch::{Inner, Switch};
use crate::switch::{SwitchError, SwitchResult};
use ofproto::bridge::BridgePort;
use ofproto::wire::port::port_config;
use proto::v1;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The PortService implementation.
#[derive(Debug)]
pub struct Ports(pub Arc<Switch>);

pub fn kind_from(t: &str) -> SwitchResult<PortKind> {
    let names = crate::port_type::names();
    match t {
        "" => Err(SwitchError::Invalid(format!(
            "port type is required ({names})"
        ))),
        t => crate::port_type::by_name(t)
            .map(|pt| pt.kind)
            .ok_or_else(|| SwitchError::Invalid(format!("unknown port type {t:?} ({names})"))),
    }
}

/// A MAC as `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// The protobuf view of a port.
pub fn port_to_proto(bp: &BridgePort, c: &BridgeConfig) -> v1::Port {
    let stored = c.port.iter().find(|p| p.name == bp.name);
    v1::Port {
        name: bp.name.clone(),
        r#type: bp.port.kind().to_string(),
        ofport: bp.of_port(),
        options: stored
            .map(|p| p.options.clone().into_iter().collect())
            .unwrap_or_default(),
        mac: bp.port.mac().map(mac_text).unwrap_or_default(),
        link_up: bp.port.link_up(),
        config: Some(config_bits(bp.config)),
        n_rxq: bp.port.n_rxq() as u32,
        is_local: c.local_port && bp.name == c.name,
    }
}

fn find_port(inner: &Inner, bridge: &str, name: &str) -> SwitchResult<v1::Port> {
    let (b, c) = inner.bridge(bridge)?;
    b.ofbridge
        .ports()
        .iter()
        .find(|p| p.name == name)
        .map(|p| port_to_proto(p, c))
        .ok_or_else(|| SwitchError::NotFound(format!("bridge {bridge} has no port {name:?}")))
}

fn add_port(inner: &mut Inner, r: v1::AddPortRequest) -> SwitchResult<v1::Port> {
    let p = PortConfig {
        name: r.name.clone(),
        kind: kind_from(&r.r#type)?,
        ofport: r.ofport,
        options: r.options.into_iter().collect(),
        qos: None,
        ingress_policing: None,
    };
    inner.add_port(&r.bridge, p)?;
    find_port(inner, &r.bridge, &r.name)
}

fn modify_port(inner: &mut Inner, r: v1::ModifyPortRequest) -> SwitchResult<v1::Port> {
    if r.set_options {
        inner.set_port_options(&r.bridge, &r.name, r.options.clone().into_iter().collect())?;
    }
    let (mut config, mut mask) = (0u32, 0u32);
    for (bit, v) in [
        (port_config::PORT_DOWN, r.port_down),
        (port_config::NO_RECV, r.no_recv),
        (port_config::NO_FWD, r.no_fwd),
        (port_config::NO_PACKET_IN, r.no_packet_in),
        (1 << 4, r.no_flood),
    ] {
        if let Some(v) = v {
            mask |= bit;
            if v {
                config |= bit;
            }
        }
    }
    inner.port_mod(&r.bridge, &r.name, config, mask)?;
    find_port(inner, &r.bridge, &r.name)
}

#[tonic::async_trait]
impl v1::port_service_server::PortService for Ports {
    async fn add_port(
        &self,
        req: Request<v1::AddPortRequest>,
    ) -> Result<Response<v1::Port>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| add_port(inner, r))
            .await
            .map(Response::new)
    }

    async fn delete_port(
        &self,
        req: Request<v1::DeletePortRequest>,
    ) -> Result<Response<v1::DeletePortResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                inner
                    .del_port(&r.bridge, &r.name)
                    .map(|_| v1::DeletePortResponse {})
            })
            .await
            .map(Response::new)
    }

    async fn list_ports(
        &self,
        req: Request<v1::ListPortsRequest>,
    ) -> Result<Response<v1::ListPortsResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                let (b, c) = inner.bridge(&r.bridge)?;
                let mut ports: Vec<v1::Port> = b
                    .ofbridge
                    .ports()
                    .iter()
                    .map(|p| port_to_proto(p, c))
                    .collect();
                ports.sort_by_key(|p| p.ofport);
                Ok(v1::ListPortsResponse { ports })
            })
            .await
            .map(Response::new)
    }

    async fn modify_port(
        &self,
        req: Request<v1::ModifyPortRequest>,
    ) -> Result<Response<v1::Port>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| modify_port(inner, r))
            .await
            .map(Response::new)
    }
}

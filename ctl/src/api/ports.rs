//! PortService: add, delete, list and modify ports.
//!
//! Port names are unique across the switch (they are interface names).
//! The number a port gets is written into the store, so that after a
//! restart it has the same OpenFlow number and stored flows still mean
//! the same ports.

use crate::config::{BridgeConfig, PortConfig, PortKind};
use crate::switch::events::config_bits;
use crate::switch::{check_new_port, Inner, Switch};
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
    Ok(match t {
        "afxdp" => PortKind::Afxdp,
        "afpacket" => PortKind::Afpacket,
        "internal" => PortKind::Internal,
        "vhostuser" => PortKind::Vhostuser,
        "vhostuserclient" => PortKind::Vhostuserclient,
        "" => return Err(SwitchError::Invalid("port type is required (afxdp | afpacket | internal | vhostuser | vhostuserclient)".into())),
        other => {
            return Err(SwitchError::Invalid(format!(
                "unknown port type {other:?} (afxdp | afpacket | internal | vhostuser | vhostuserclient)"
            )))
        }
    })
}

fn mac_text(m: [u8; 6]) -> String {
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
    let mut p = PortConfig {
        name: r.name.clone(),
        kind: kind_from(&r.r#type)?,
        ofport: r.ofport,
        options: r.options.into_iter().collect(),
    };
    check_new_port(inner, &r.bridge, &p)?;
    if let Some(n) = r.ofport {
        let (b, _) = inner.bridge(&r.bridge)?;
        if b.ports().values().any(|&x| x == n) {
            return Err(SwitchError::AlreadyExists(format!(
                "OpenFlow port {n} is in use"
            )));
        }
    }
    let no = inner
        .bridge_mut(&r.bridge)?
        .add_port(&p)
        .map_err(|e| SwitchError::Refused(format!("{e:#}")))?;
    p.ofport = Some(no);
    let config = inner.edit(&r.bridge, |b| {
        b.port.push(p.clone());
        Ok(())
    });
    if let Err(e) = config.and_then(|c| inner.persist(c)) {
        let _ = inner.bridge_mut(&r.bridge)?.del_port(&p.name);
        return Err(e);
    }
    tracing::info!(bridge = %r.bridge, port = %p.name, ofport = no, "port added through the API");
    find_port(inner, &r.bridge, &p.name)
}

fn del_port(inner: &mut Inner, bridge: &str, name: &str) -> SwitchResult<()> {
    let (_, c) = inner.bridge(bridge)?;
    if c.local_port && name == c.name {
        return Err(SwitchError::Invalid(format!(
            "{name} is the bridge's local port; delete the bridge instead"
        )));
    }
    let Some(old) = c.port.iter().find(|p| p.name == name).cloned() else {
        return Err(SwitchError::NotFound(format!(
            "bridge {bridge} has no port {name:?}"
        )));
    };
    let config = inner.edit(bridge, |b| {
        b.port.retain(|p| p.name != name);
        Ok(())
    })?;
    // A port that failed to open at start is only in the store.
    let running = inner.bridge(bridge)?.0.ports().contains_key(name);
    if running {
        inner
            .bridge_mut(bridge)?
            .del_port(name)
            .map_err(|e| SwitchError::Internal(format!("{e:#}")))?;
    }
    if let Err(e) = inner.persist(config) {
        if running {
            let _ = inner.bridge_mut(bridge)?.add_port(&old);
        }
        return Err(e);
    }
    tracing::info!(bridge, port = name, "port deleted through the API");
    Ok(())
}

fn modify_port(inner: &mut Inner, r: v1::ModifyPortRequest) -> SwitchResult<v1::Port> {
    let (b, c) = inner.bridge(&r.bridge)?;
    let Some(&dp) = b.ports().get(&r.name) else {
        return Err(SwitchError::NotFound(format!(
            "bridge {} has no port {:?}",
            r.bridge, r.name
        )));
    };
    if r.set_options {
        let Some(old) = c.port.iter().find(|p| p.name == r.name).cloned() else {
            return Err(SwitchError::Invalid(format!(
                "{} is the local port; it has no options",
                r.name
            )));
        };
        let mut new = old.clone();
        new.options = r.options.clone().into_iter().collect();
        new.ofport = Some(dp);
        let config = inner.edit(&r.bridge, |b| {
            if let Some(p) = b.port.iter_mut().find(|p| p.name == r.name) {
                *p = new.clone();
            }
            Ok(())
        })?;
        let bridge = inner.bridge_mut(&r.bridge)?;
        bridge
            .del_port(&r.name)
            .map_err(|e| SwitchError::Internal(format!("{e:#}")))?;
        if let Err(e) = bridge.add_port(&new) {
            let _ = bridge.add_port(&old);
            return Err(SwitchError::Refused(format!("{e:#}")));
        }
        if let Err(e) = inner.persist(config) {
            let bridge = inner.bridge_mut(&r.bridge)?;
            let _ = bridge.del_port(&r.name);
            let _ = bridge.add_port(&old);
            return Err(e);
        }
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
    if mask != 0 {
        let (b, _) = inner.bridge(&r.bridge)?;
        if let Some(&dp) = b.ports().get(&r.name) {
            b.ofbridge.port_mod(dp, config, mask);
        }
    }
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
                del_port(inner, &r.bridge, &r.name).map(|_| v1::DeletePortResponse {})
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

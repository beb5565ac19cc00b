//! BridgeService: create, delete, list bridges; fail mode, controllers
//! and datapath settings: protobuf in, the core's bridge changes
//! (`crate::switch::bridges`) called, protobuf out.

use super::ports::port_to_proto;
use crate::bridge::Bridge;
use crate::config::{BridgeConfig, DatapathConfig, FailMode, SslConfig};
use crate::switch::{Inner, Switch};
use crate::switch::{SwitchError, SwitchResult};
use proto::v1;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The BridgeService implementation.
#[derive(Debug)]
pub struct Bridges(pub Arc<Switch>);

fn fail_mode_from(m: i32) -> SwitchResult<Option<FailMode>> {
    match v1::FailMode::try_from(m) {
        Ok(v1::FailMode::Unspecified) => Ok(None),
        Ok(v1::FailMode::Standalone) => Ok(Some(FailMode::Standalone)),
        Ok(v1::FailMode::Secure) => Ok(Some(FailMode::Secure)),
        Err(_) => Err(SwitchError::Invalid(format!("unknown fail_mode {m}"))),
    }
}

fn ssl_from(s: Option<v1::SslConfig>) -> Option<SslConfig> {
    s.filter(|s| !s.private_key.is_empty() || !s.certificate.is_empty())
        .map(|s| SslConfig {
            private_key: s.private_key.into(),
            certificate: s.certificate.into(),
            ca_certificate: s.ca_certificate.into(),
        })
}

fn apply_update(d: &mut DatapathConfig, u: &v1::DatapathConfigUpdate) {
    if let Some(v) = u.workers {
        d.workers = v as usize;
    }
    if let Some(v) = u.emc_entries {
        d.emc_entries = v as usize;
    }
    if let Some(v) = u.emc_insert_inv_prob {
        d.emc_insert_inv_prob = v;
    }
    if let Some(v) = u.upcalls_per_sec {
        d.upcalls_per_sec = v;
    }
    if let Some(v) = &u.rxq_assign {
        d.rxq_assign = v.clone();
    }
    if let Some(v) = u.max_idle_secs {
        d.max_idle_secs = v;
    }
    if let Some(v) = u.mac_aging_secs {
        d.mac_aging_secs = v;
    }
}

/// The protobuf view of a running bridge.
pub fn bridge_to_proto(b: &Bridge, c: &BridgeConfig) -> v1::Bridge {
    let d = &c.datapath;
    let of = &b.ofbridge;
    let mut ports: Vec<v1::Port> = of.ports().iter().map(|bp| port_to_proto(bp, c)).collect();
    ports.sort_by_key(|p| p.ofport);
    v1::Bridge {
        name: c.name.clone(),
        fail_mode: match c.fail_mode {
            FailMode::Standalone => v1::FailMode::Standalone,
            FailMode::Secure => v1::FailMode::Secure,
        } as i32,
        local_port: c.local_port,
        datapath: Some(v1::DatapathConfig {
            workers: d.workers as u32,
            emc_entries: d.emc_entries as u32,
            emc_insert_inv_prob: d.emc_insert_inv_prob,
            upcalls_per_sec: d.upcalls_per_sec,
            rxq_assign: d.rxq_assign.clone(),
            max_idle_secs: d.max_idle_secs,
            mac_aging_secs: d.mac_aging_secs,
        }),
        controllers: c.controller.clone(),
        datapath_id: format!("{:016x}", of.dpid),
        ports,
        controller_status: b
            .controllers
            .as_ref()
            .map(|c| c.status())
            .unwrap_or_default()
            .into_iter()
            .map(|t| v1::ControllerStatus {
                target: t.target.to_string(),
                state: format!("{:?}", t.state).to_ascii_lowercase(),
                local_addr: t.local_addr.map(|a| a.to_string()).unwrap_or_default(),
                last_error: t.last_error.unwrap_or_default(),
                connections: t
                    .connections
                    .into_iter()
                    .map(|c| v1::ControllerConnection {
                        peer: c.peer.to_string(),
                        negotiated: c.negotiated,
                        role: format!("{:?}", c.role).to_ascii_lowercase(),
                    })
                    .collect(),
            })
            .collect(),
        persistent_flows: c.flows.len() as u32,
        ssl: c.ssl.as_ref().map(|s| v1::SslConfig {
            private_key: s.private_key.display().to_string(),
            certificate: s.certificate.display().to_string(),
            ca_certificate: s.ca_certificate.display().to_string(),
        }),
    }
}

fn get(inner: &Inner, name: &str) -> SwitchResult<v1::Bridge> {
    let (b, c) = inner.bridge(name)?;
    Ok(bridge_to_proto(b, c))
}

#[tonic::async_trait]
impl v1::bridge_service_server::BridgeService for Bridges {
    async fn create_bridge(
        &self,
        req: Request<v1::CreateBridgeRequest>,
    ) -> Result<Response<v1::Bridge>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |sw, inner| {
                let mut datapath = DatapathConfig::default();
                if let Some(u) = &r.datapath {
                    apply_update(&mut datapath, u);
                }
                let cfg = BridgeConfig {
                    name: r.name.clone(),
                    fail_mode: fail_mode_from(r.fail_mode)?.unwrap_or_default(),
                    local_port: r.local_port,
                    datapath,
                    controller: r.controllers.clone(),
                    controller_rate_limit: None,
                    controller_burst_limit: None,
                    datapath_id: (!r.datapath_id.is_empty()).then(|| r.datapath_id.clone()),
                    ssl: ssl_from(r.ssl.clone()),
                    port: Vec::new(),
                    flows: Vec::new(),
                    groups: Vec::new(),
                    meters: Vec::new(),
                    mirror: Vec::new(),
                    sflow: None,
                    ipfix: None,
                    collector_set: Vec::new(),
                };
                let name = cfg.name.clone();
                sw.create_bridge(inner, cfg)?;
                get(inner, &name)
            })
            .await
            .map(Response::new)
    }

    async fn delete_bridge(
        &self,
        req: Request<v1::DeleteBridgeRequest>,
    ) -> Result<Response<v1::DeleteBridgeResponse>, Status> {
        let name = req.into_inner().name;
        self.0
            .call(move |sw, inner| {
                sw.delete_bridge(inner, &name)?;
                Ok(v1::DeleteBridgeResponse {})
            })
            .await
            .map(Response::new)
    }

    async fn list_bridges(
        &self,
        _req: Request<v1::ListBridgesRequest>,
    ) -> Result<Response<v1::ListBridgesResponse>, Status> {
        self.0
            .call(|_, inner| {
                let bridges = inner
                    .store
                    .config()
                    .bridge
                    .iter()
                    .filter_map(|c| inner.bridges.get(&c.name).map(|b| bridge_to_proto(b, c)))
                    .collect();
                Ok(v1::ListBridgesResponse { bridges })
            })
            .await
            .map(Response::new)
    }

    async fn get_bridge(
        &self,
        req: Request<v1::GetBridgeRequest>,
    ) -> Result<Response<v1::Bridge>, Status> {
        let name = req.into_inner().name;
        self.0
            .call(move |_, inner| get(inner, &name))
            .await
            .map(Response::new)
    }

    async fn set_fail_mode(
        &self,
        req: Request<v1::SetFailModeRequest>,
    ) -> Result<Response<v1::Bridge>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |sw, inner| {
                let mode = fail_mode_from(r.fail_mode)?.ok_or_else(|| {
                    SwitchError::Invalid("fail_mode must be standalone or secure".into())
                })?;
                sw.reconfigure_bridge(inner, &r.bridge, |b| {
                    b.fail_mode = mode;
                    Ok(())
                })?;
                get(inner, &r.bridge)
            })
            .await
            .map(Response::new)
    }

    async fn set_controllers(
        &self,
        req: Request<v1::SetControllersRequest>,
    ) -> Result<Response<v1::Bridge>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |sw, inner| {
                sw.set_controllers(inner, &r.bridge, r.controllers, ssl_from(r.ssl))?;
                get(inner, &r.bridge)
            })
            .await
            .map(Response::new)
    }

    async fn set_datapath_config(
        &self,
        req: Request<v1::SetDatapathConfigRequest>,
    ) -> Result<Response<v1::Bridge>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |sw, inner| {
                let u = r.datapath.unwrap_or_default();
                sw.reconfigure_bridge(inner, &r.bridge, |b| {
                    apply_update(&mut b.datapath, &u);
                    Ok(())
                })?;
                get(inner, &r.bridge)
            })
            .await
            .map(Response::new)
    }
}

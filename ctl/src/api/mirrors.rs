//! MirrorService: port mirrors, onto the core's mirror changes
//! (`crate::switch::mirrors`).

use crate::mirror::MirrorConfig;
use crate::switch::mirrors::MirrorView;
use crate::switch::{Switch, SwitchError};
use proto::v1;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The MirrorService implementation.
#[derive(Debug)]
pub struct Mirrors(pub Arc<Switch>);

fn from_spec(s: v1::MirrorSpec) -> Result<MirrorConfig, SwitchError> {
    let vlans = s
        .select_vlan
        .iter()
        .map(|&v| {
            u16::try_from(v).map_err(|_| SwitchError::Invalid(format!("VLAN {v} out of range")))
        })
        .collect::<Result<_, _>>()?;
    let output_vlan = match s.output_vlan {
        0 => None,
        v => Some(
            u16::try_from(v)
                .map_err(|_| SwitchError::Invalid(format!("output_vlan {v} out of range")))?,
        ),
    };
    Ok(MirrorConfig {
        name: s.name,
        select_all: s.select_all,
        select_src_port: s.select_src_port,
        select_dst_port: s.select_dst_port,
        select_vlan: vlans,
        output_port: (!s.output_port.is_empty()).then_some(s.output_port),
        output_vlan,
        snaplen: (s.snaplen > 0).then_some(s.snaplen),
    })
}

fn to_spec(m: &MirrorConfig) -> v1::MirrorSpec {
    v1::MirrorSpec {
        name: m.name.clone(),
        select_all: m.select_all,
        select_src_port: m.select_src_port.clone(),
        select_dst_port: m.select_dst_port.clone(),
        select_vlan: m.select_vlan.iter().map(|&v| u32::from(v)).collect(),
        output_port: m.output_port.clone().unwrap_or_default(),
        output_vlan: m.output_vlan.map(u32::from).unwrap_or(0),
        snaplen: m.snaplen.unwrap_or(0),
    }
}

fn status(v: &MirrorView) -> v1::MirrorStatus {
    let count = |f: fn(&ofproto::mirror::Mirror) -> u64| v.running.as_deref().map(f).unwrap_or(0);
    v1::MirrorStatus {
        bridge: v.bridge.clone(),
        mirror: Some(to_spec(&v.config)),
        active: v.running.is_some(),
        tx_packets: count(|m| m.tx_packets.load(Ordering::Relaxed)),
        tx_bytes: count(|m| m.tx_bytes.load(Ordering::Relaxed)),
    }
}

#[tonic::async_trait]
impl v1::mirror_service_server::MirrorService for Mirrors {
    async fn add_mirror(
        &self,
        req: Request<v1::AddMirrorRequest>,
    ) -> Result<Response<v1::AddMirrorResponse>, Status> {
        let r = req.into_inner();
        let m = from_spec(r.mirror.unwrap_or_default())?;
        self.0
            .call(move |_, inner| inner.add_mirror(&r.bridge, m))
            .await?;
        Ok(Response::new(v1::AddMirrorResponse {}))
    }

    async fn delete_mirror(
        &self,
        req: Request<v1::DeleteMirrorRequest>,
    ) -> Result<Response<v1::DeleteMirrorResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| inner.del_mirror(&r.bridge, &r.name))
            .await?;
        Ok(Response::new(v1::DeleteMirrorResponse {}))
    }

    async fn list_mirrors(
        &self,
        req: Request<v1::ListMirrorsRequest>,
    ) -> Result<Response<v1::ListMirrorsResponse>, Status> {
        let r = req.into_inner();
        let views = self
            .0
            .call(move |_, inner| inner.mirrors(&r.bridge))
            .await?;
        Ok(Response::new(v1::ListMirrorsResponse {
            mirrors: views.iter().map(status).collect(),
        }))
    }
}

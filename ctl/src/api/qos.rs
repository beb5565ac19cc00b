//! QosService: a port's egress QoS and ingress policing, onto
//! `crate::switch::qos`.

use crate::qos::{PolicingSection, QosSection, QueueSection};
use crate::switch::qos::QosView;
use crate::switch::{Inner, Switch, SwitchResult};
use datapath::qos::police::ColourCounts;
use proto::v1;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The QosService implementation.
#[derive(Debug)]
pub struct Qos(pub Arc<Switch>);

fn qos_section(s: v1::QosSettings) -> QosSection {
    QosSection {
        kind: s.r#type,
        max_rate: s.max_rate,
        burst: s.burst,
        queues: s
            .queues
            .into_iter()
            .map(|q| QueueSection {
                id: q.id,
                min_rate: q.min_rate,
                max_rate: q.max_rate,
                burst: q.burst,
                priority: q.priority,
                depth: q.depth,
            })
            .collect(),
        dscp_map: s
            .dscp_map
            .into_iter()
            .map(|(d, q)| (d.to_string(), q))
            .collect(),
        cir: s.cir,
        cbs: s.cbs,
        pir: s.pir,
        pbs: s.pbs,
        eir: s.eir,
        ebs: s.ebs,
        aqm: s.aqm,
    }
}

fn qos_settings(s: &QosSection) -> v1::QosSettings {
    v1::QosSettings {
        r#type: s.kind.clone(),
        max_rate: s.max_rate,
        burst: s.burst,
        queues: s.queues.iter().map(queue_settings).collect(),
        dscp_map: s
            .dscp_map
            .iter()
            .filter_map(|(d, &q)| Some((d.parse().ok()?, q)))
            .collect(),
        cir: s.cir,
        cbs: s.cbs,
        pir: s.pir,
        pbs: s.pbs,
        eir: s.eir,
        ebs: s.ebs,
        aqm: s.aqm.clone(),
    }
}

fn queue_settings(q: &QueueSection) -> v1::QueueSettings {
    v1::QueueSettings {
        id: q.id,
        min_rate: q.min_rate,
        max_rate: q.max_rate,
        burst: q.burst,
        priority: q.priority,
        depth: q.depth,
    }
}

fn colours(c: ColourCounts) -> v1::Colours {
    v1::Colours {
        green_packets: c.green.0,
        green_bytes: c.green.1,
        yellow_packets: c.yellow.0,
        yellow_bytes: c.yellow.1,
        red_packets: c.red.0,
        red_bytes: c.red.1,
    }
}

fn status(v: QosView) -> v1::QosStatus {
    let e = v.egress.as_ref();
    v1::QosStatus {
        bridge: v.bridge,
        port: v.port,
        qos: v.qos.as_ref().map(qos_settings),
        policing: v.policing.as_ref().map(|p| v1::PolicingSettings {
            rate: p.rate,
            burst: p.burst,
            kpkts_rate: p.kpkts_rate,
            kpkts_burst: p.kpkts_burst,
        }),
        queues: e
            .map(|e| {
                e.queues
                    .iter()
                    .map(|q| v1::QueueStatus {
                        queue: Some(v1::QueueSettings {
                            id: q.spec.id,
                            min_rate: q.spec.min_rate,
                            max_rate: q.spec.max_rate,
                            burst: q.spec.burst,
                            priority: q.spec.priority,
                            depth: q.spec.depth as u32,
                        }),
                        tx_packets: q.tx_packets,
                        tx_bytes: q.tx_bytes,
                        dropped: q.dropped,
                        aqm_dropped: q.aqm_dropped,
                        waiting_packets: q.waiting_packets as u64,
                        waiting_bytes: q.waiting_bytes as u64,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        egress_colours: e.and_then(|e| e.colours).map(colours),
        ingress_colours: v.ingress.map(|i| colours(i.0)),
        unknown_queue: e.map_or(0, |e| e.unknown_queue),
        egress_dropped: e.map_or(0, |e| e.dropped),
        ingress_dropped: v.ingress.map_or(0, |i| i.1),
        duration_ms: e.map_or(0, |e| e.duration_ns / 1_000_000),
    }
}

fn one(inner: &Inner, port: &str) -> SwitchResult<v1::QosStatus> {
    let mut v = inner.qos_views(Some(port))?;
    Ok(status(v.remove(0)))
}

impl Qos {
    /// Run `change` on `port` under the switch's lock, then report the port.
    async fn change(
        &self,
        port: String,
        change: impl FnOnce(&mut Inner, &str) -> SwitchResult<()> + Send + 'static,
    ) -> Result<Response<v1::QosStatus>, Status> {
        self.0
            .call(move |_, inner| {
                change(inner, &port)?;
                one(inner, &port)
            })
            .await
            .map(Response::new)
    }
}

#[tonic::async_trait]
impl v1::qos_service_server::QosService for Qos {
    async fn set_qos(
        &self,
        req: Request<v1::SetQosRequest>,
    ) -> Result<Response<v1::QosStatus>, Status> {
        let r = req.into_inner();
        let s = qos_section(r.qos.unwrap_or_default());
        self.change(r.port, move |i, p| i.set_qos(p, Some(s))).await
    }

    async fn clear_qos(
        &self,
        req: Request<v1::ClearQosRequest>,
    ) -> Result<Response<v1::QosStatus>, Status> {
        self.change(req.into_inner().port, |i, p| i.set_qos(p, None))
            .await
    }

    async fn set_policing(
        &self,
        req: Request<v1::SetPolicingRequest>,
    ) -> Result<Response<v1::QosStatus>, Status> {
        let r = req.into_inner();
        let p = r.policing.unwrap_or_default();
        let s = PolicingSection {
            rate: p.rate,
            burst: p.burst,
            kpkts_rate: p.kpkts_rate,
            kpkts_burst: p.kpkts_burst,
        };
        self.change(r.port, move |i, port| i.set_policing(port, Some(s)))
            .await
    }

    async fn clear_policing(
        &self,
        req: Request<v1::ClearPolicingRequest>,
    ) -> Result<Response<v1::QosStatus>, Status> {
        self.change(req.into_inner().port, |i, p| i.set_policing(p, None))
            .await
    }

    async fn get_qos(
        &self,
        req: Request<v1::GetQosRequest>,
    ) -> Result<Response<v1::GetQosResponse>, Status> {
        let port = req.into_inner().port;
        self.0
            .call(move |_, inner| {
                let which = (!port.is_empty()).then_some(port.as_str());
                let ports = inner.qos_views(which)?.into_iter().map(status).collect();
                Ok(v1::GetQosResponse { ports })
            })
            .await
            .map(Response::new)
    }
}

//! SflowService: a bridge's sFlow agent, onto `crate::switch::sflow`.

use crate::sflow::{default_header, default_polling, default_sampling, SflowSection};
use crate::switch::Switch;
use proto::v1;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The SflowService implementation.
#[derive(Debug)]
pub struct Sflow(pub Arc<Switch>);

fn section(s: v1::SflowSettings) -> SflowSection {
    SflowSection {
        agent: s.agent,
        targets: s.targets,
        sampling: if s.sampling == 0 {
            default_sampling()
        } else {
            s.sampling
        },
        polling: s.polling.unwrap_or_else(default_polling),
        header: if s.header == 0 {
            default_header()
        } else {
            s.header
        },
    }
}

fn status(
    inner: &crate::switch::Inner,
    bridge: &str,
) -> crate::switch::SwitchResult<v1::SflowStatus> {
    let (b, c) = inner.bridge(bridge)?;
    let agent = b.ofbridge.sflow();
    let count = |f: fn(&ofproto::sflow::SflowCounters) -> &std::sync::atomic::AtomicU64| {
        agent
            .as_ref()
            .map_or(0, |a| f(&a.counters).load(Ordering::Relaxed))
    };
    Ok(v1::SflowStatus {
        bridge: bridge.to_string(),
        sflow: c.sflow.as_ref().map(|s| v1::SflowSettings {
            agent: s.agent.clone(),
            targets: s.targets.clone(),
            sampling: s.sampling,
            polling: Some(s.polling),
            header: s.header,
        }),
        running: agent.is_some(),
        samples: count(|c| &c.samples),
        dropped: count(|c| &c.dropped),
        datagrams: count(|c| &c.datagrams),
        send_errors: count(|c| &c.send_errors),
    })
}

#[tonic::async_trait]
impl v1::sflow_service_server::SflowService for Sflow {
    async fn set_sflow(
        &self,
        req: Request<v1::SetSflowRequest>,
    ) -> Result<Response<v1::SflowStatus>, Status> {
        let r = req.into_inner();
        let s = section(r.sflow.unwrap_or_default());
        self.0
            .call(move |_, inner| {
                inner.set_sflow(&r.bridge, Some(s))?;
                status(inner, &r.bridge)
            })
            .await
            .map(Response::new)
    }

    async fn clear_sflow(
        &self,
        req: Request<v1::ClearSflowRequest>,
    ) -> Result<Response<v1::ClearSflowResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| inner.set_sflow(&r.bridge, None))
            .await?;
        Ok(Response::new(v1::ClearSflowResponse {}))
    }

    async fn get_sflow(
        &self,
        req: Request<v1::GetSflowRequest>,
    ) -> Result<Response<v1::SflowStatus>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| status(inner, &r.bridge))
            .await
            .map(Response::new)
    }
}

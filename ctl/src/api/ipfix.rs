//! IpfixService: a bridge's IPFIX exporter, onto `crate::switch::sflow`.

use crate::ipfix::{
    default_active_timeout, default_idle_timeout, default_sampling, default_template_interval,
    IpfixSection,
};
use crate::switch::Switch;
use proto::v1;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The IpfixService implementation.
#[derive(Debug)]
pub struct Ipfix(pub Arc<Switch>);

fn section(s: v1::IpfixSettings) -> IpfixSection {
    let or = |v: u32, default: u32| if v == 0 { default } else { v };
    IpfixSection {
        targets: s.targets,
        sampling: or(s.sampling, default_sampling()),
        obs_domain_id: s.obs_domain_id,
        cache_active_timeout: or(s.cache_active_timeout, default_active_timeout()),
        cache_idle_timeout: or(s.cache_idle_timeout, default_idle_timeout()),
        template_interval: or(s.template_interval, default_template_interval()),
    }
}

fn status(
    inner: &crate::switch::Inner,
    bridge: &str,
) -> crate::switch::SwitchResult<v1::IpfixStatus> {
    let (b, c) = inner.bridge(bridge)?;
    let running = b.ofbridge.ipfix();
    let count = |f: fn(&ofproto::ipfix::IpfixCounters) -> &std::sync::atomic::AtomicU64| {
        running
            .as_ref()
            .map_or(0, |x| f(&x.counters).load(Ordering::Relaxed))
    };
    Ok(v1::IpfixStatus {
        bridge: bridge.to_string(),
        ipfix: c.ipfix.as_ref().map(|s| v1::IpfixSettings {
            targets: s.targets.clone(),
            sampling: s.sampling,
            obs_domain_id: s.obs_domain_id,
            cache_active_timeout: s.cache_active_timeout,
            cache_idle_timeout: s.cache_idle_timeout,
            template_interval: s.template_interval,
        }),
        running: running.is_some(),
        samples: count(|c| &c.samples),
        dropped: count(|c| &c.dropped),
        records: count(|c| &c.records),
        messages: count(|c| &c.messages),
        send_errors: count(|c| &c.send_errors),
    })
}

#[tonic::async_trait]
impl v1::ipfix_service_server::IpfixService for Ipfix {
    async fn set_ipfix(
        &self,
        req: Request<v1::SetIpfixRequest>,
    ) -> Result<Response<v1::IpfixStatus>, Status> {
        let r = req.into_inner();
        let s = section(r.ipfix.unwrap_or_default());
        self.0
            .call(move |_, inner| {
                inner.set_ipfix(&r.bridge, Some(s))?;
                status(inner, &r.bridge)
            })
            .await
            .map(Response::new)
    }

    async fn clear_ipfix(
        &self,
        req: Request<v1::ClearIpfixRequest>,
    ) -> Result<Response<v1::ClearIpfixResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| inner.set_ipfix(&r.bridge, None))
            .await?;
        Ok(Response::new(v1::ClearIpfixResponse {}))
    }

    async fn get_ipfix(
        &self,
        req: Request<v1::GetIpfixRequest>,
    ) -> Result<Response<v1::IpfixStatus>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| status(inner, &r.bridge))
            .await
            .map(Response::new)
    }
}

//! IpfixService: a bridge's IPFIX exporter and collector sets, onto
//! `crate::switch::sflow`.

use crate::ipfix::{
    default_active_timeout, default_idle_timeout, default_sampling, default_template_interval,
    CollectorSetSection, IpfixSection,
};
use crate::switch::Switch;
use ofproto::ipfix::IpfixCounters;
use proto::v1;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The IpfixService implementation.
#[derive(Debug)]
pub struct Ipfix(pub Arc<Switch>);

/// `v`, or `default` for 0 (proto3's unset).
fn or(v: u32, default: u32) -> u32 {
    if v == 0 {
        default
    } else {
        v
    }
}

fn set_section(s: v1::CollectorSetSettings) -> CollectorSetSection {
    CollectorSetSection {
        id: s.id,
        targets: s.targets,
        cache_active_timeout: or(s.cache_active_timeout, default_active_timeout()),
        cache_idle_timeout: or(s.cache_idle_timeout, default_idle_timeout()),
        template_interval: or(s.template_interval, default_template_interval()),
    }
}

fn counters(c: Option<&IpfixCounters>) -> v1::ExporterCounters {
    let load = |f: fn(&IpfixCounters) -> &std::sync::atomic::AtomicU64| {
        c.map_or(0, |c| f(c).load(Ordering::Relaxed))
    };
    v1::ExporterCounters {
        samples: load(|c| &c.samples),
        dropped: load(|c| &c.dropped),
        records: load(|c| &c.records),
        messages: load(|c| &c.messages),
        send_errors: load(|c| &c.send_errors),
    }
}

fn section(s: v1::IpfixSettings) -> IpfixSection {
    IpfixSection {
        targets: s.targets,
        sampling: or(s.sampling, default_sampling()),
        obs_domain_id: s.obs_domain_id,
        obs_point_id: s.obs_point_id,
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
    let c0 = counters(running.as_ref().map(|x| &*x.counters));
    let sets = b.ofbridge.collector_sets.all();
    let collector_sets = c
        .collector_set
        .iter()
        .map(|s| {
            let set = sets.get(&s.id);
            v1::CollectorSetStatus {
                set: Some(v1::CollectorSetSettings {
                    id: s.id,
                    targets: s.targets.clone(),
                    cache_active_timeout: s.cache_active_timeout,
                    cache_idle_timeout: s.cache_idle_timeout,
                    template_interval: s.template_interval,
                }),
                running: set.is_some(),
                counters: Some(counters(set.map(|x| &*x.counters))),
            }
        })
        .collect();
    Ok(v1::IpfixStatus {
        bridge: bridge.to_string(),
        ipfix: c.ipfix.as_ref().map(|s| v1::IpfixSettings {
            targets: s.targets.clone(),
            sampling: s.sampling,
            obs_domain_id: s.obs_domain_id,
            obs_point_id: s.obs_point_id,
            cache_active_timeout: s.cache_active_timeout,
            cache_idle_timeout: s.cache_idle_timeout,
            template_interval: s.template_interval,
        }),
        running: running.is_some(),
        samples: c0.samples,
        dropped: c0.dropped,
        records: c0.records,
        messages: c0.messages,
        send_errors: c0.send_errors,
        collector_sets,
        unconfigured_samples: b
            .ofbridge
            .collector_sets
            .unconfigured
            .load(Ordering::Relaxed),
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

    async fn set_collector_set(
        &self,
        req: Request<v1::SetCollectorSetRequest>,
    ) -> Result<Response<v1::IpfixStatus>, Status> {
        let r = req.into_inner();
        let set = set_section(r.set.unwrap_or_default());
        self.0
            .call(move |_, inner| {
                inner.set_collector_set(&r.bridge, set.id, Some(set))?;
                status(inner, &r.bridge)
            })
            .await
            .map(Response::new)
    }

    async fn clear_collector_set(
        &self,
        req: Request<v1::ClearCollectorSetRequest>,
    ) -> Result<Response<v1::IpfixStatus>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                inner.set_collector_set(&r.bridge, r.id, None)?;
                status(inner, &r.bridge)
            })
            .await
            .map(Response::new)
    }
}

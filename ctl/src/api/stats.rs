//! StatsService: port counters (dump-ports), table counters (dump-tables)
//! and flow aggregates (dump-aggregate).
//!
//! Port counters come from the datapath's ports; table and flow counters
//! from the pipeline, which the revalidator credits with megaflow traffic
//! every half second (so a flow's counters lag its traffic by that much).

use super::flows::select_rules;
use super::secs_since;
use crate::switch::{Inner, Switch};
use crate::switch::{SwitchError, SwitchResult};
use proto::v1;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The StatsService implementation.
#[derive(Debug)]
pub struct Stats(pub Arc<Switch>);

/// Every port's counters on a bridge (or one port's).
pub fn port_counters(
    inner: &Inner,
    bridge: &str,
    port: &str,
) -> SwitchResult<Vec<v1::PortCounters>> {
    let (b, _) = inner.bridge(bridge)?;
    let ports = b.ofbridge.ports();
    let out: Vec<_> = ports
        .iter()
        .filter(|p| port.is_empty() || p.name == port)
        .map(|p| {
            let s = b.dpif.port_stats(p.port_no).unwrap_or_default();
            v1::PortCounters {
                name: p.name.clone(),
                ofport: p.of_port(),
                rx_packets: s.rx_packets,
                rx_bytes: s.rx_bytes,
                rx_dropped: s.rx_dropped,
                rx_errors: s.rx_errors,
                tx_packets: s.tx_packets,
                tx_bytes: s.tx_bytes,
                tx_dropped: s.tx_dropped,
                tx_errors: s.tx_errors,
                duration_secs: secs_since(p.added),
            }
        })
        .collect();
    if out.is_empty() && !port.is_empty() {
        return Err(SwitchError::NotFound(format!(
            "bridge {bridge} has no port {port:?}"
        )));
    }
    Ok(out)
}

/// Table counters; `all` includes unused tables.
pub fn table_counters(
    inner: &Inner,
    bridge: &str,
    all: bool,
) -> SwitchResult<Vec<v1::TableCounters>> {
    let (b, _) = inner.bridge(bridge)?;
    b.ofbridge.credit_all();
    let p = b.ofbridge.store.snapshot();
    Ok(p.tables
        .iter()
        .enumerate()
        .map(|(i, t)| v1::TableCounters {
            table: i as u32,
            active: t.len() as u32,
            lookups: t.lookups.load(Relaxed),
            matched: t.matched.load(Relaxed),
        })
        .filter(|t| all || t.active > 0 || t.lookups > 0)
        .collect())
}

#[tonic::async_trait]
impl v1::stats_service_server::StatsService for Stats {
    async fn port_stats(
        &self,
        req: Request<v1::PortStatsRequest>,
    ) -> Result<Response<v1::PortStatsResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                Ok(v1::PortStatsResponse {
                    ports: port_counters(inner, &r.bridge, &r.port)?,
                })
            })
            .await
            .map(Response::new)
    }

    async fn table_stats(
        &self,
        req: Request<v1::TableStatsRequest>,
    ) -> Result<Response<v1::TableStatsResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                Ok(v1::TableStatsResponse {
                    tables: table_counters(inner, &r.bridge, r.all)?,
                })
            })
            .await
            .map(Response::new)
    }

    async fn aggregate_stats(
        &self,
        req: Request<v1::DumpFlowsRequest>,
    ) -> Result<Response<v1::AggregateStatsResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                let (b, _) = inner.bridge(&r.bridge)?;
                let rules = select_rules(b, &r)?;
                let mut out = v1::AggregateStatsResponse {
                    flows: rules.len() as u32,
                    ..Default::default()
                };
                for x in &rules {
                    let (p, by) = x.counts();
                    out.packets = out.packets.wrapping_add(if p == u64::MAX { 0 } else { p });
                    out.bytes = out.bytes.wrapping_add(if by == u64::MAX { 0 } else { by });
                }
                Ok(out)
            })
            .await
            .map(Response::new)
    }
}

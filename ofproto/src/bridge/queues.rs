//! The OpenFlow view of a port's egress queues (`datapath::qos`):
//! OFPT_QUEUE_GET_CONFIG and the queue-stats multipart.
//!
//! A port's queues are those of its HTB (queue 0 always among them); a
//! port without one, or with a policer, has none. Rates go out in tenths
//! of a percent of the port's speed (its link speed, else the QoS's
//! `max-rate`), [`OFPQ_RATE_UNCFG`] for a rate not set; Open vSwitch
//! leaves both out. A queue's `tx_errors` are its tail drops. A port that
//! does not exist is `BAD_PORT`; a queue a port lacks is `BAD_QUEUE`, as
//! in Open vSwitch.

use super::{dp_to_of, of_to_dp, OfBridge};
use crate::wire::action::port_no as ofp;
use crate::wire::error::{QueueOpFailed, WireError, WireResult};
use crate::wire::multipart::QueueStats;
use crate::wire::queue::{PacketQueue, QueueProp, OFPQ_ALL, OFPQ_RATE_UNCFG};
use datapath::qos::{QosSpec, QueueStats as DpQueueStats};
use datapath::PortNo;

/// One port's queues as the datapath reports them, with its speed.
struct PortQueues {
    port: PortNo,
    speed: Option<u64>,
    queues: Vec<DpQueueStats>,
    duration_ns: u64,
}

impl OfBridge {
    /// The ports `port` names (ANY: all) with their queues.
    fn port_queues(&self, port: u32) -> WireResult<Vec<PortQueues>> {
        let ports = self.ports();
        let wanted: Vec<PortNo> = if port == ofp::ANY {
            ports.iter().map(|p| p.port_no).collect()
        } else {
            let p = of_to_dp(port).filter(|p| ports.iter().any(|bp| bp.port_no == *p));
            vec![p.ok_or_else(|| {
                WireError::new(QueueOpFailed::BAD_PORT, format!("no port {port}"))
            })?]
        };
        let Some(dpif) = self.dpif() else {
            return Ok(Vec::new());
        };
        let qos = dpif.qos();
        let table = dpif.ports();
        Ok(wanted
            .into_iter()
            .map(|p| {
                let e = qos.egress(p);
                let speed = table
                    .get(p)
                    .and_then(|e| e.port.link_speed())
                    .map(|s| u64::from(s.mbps) * 1_000_000)
                    .or(match e.map(|e| &e.spec) {
                        Some(QosSpec::Htb { max_rate, .. }) => Some(*max_rate),
                        _ => None,
                    });
                let stats = e.map(|e| e.stats());
                PortQueues {
                    port: p,
                    speed,
                    duration_ns: stats.as_ref().map_or(0, |s| s.duration_ns),
                    queues: stats.map(|s| s.queues).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// OFPT_QUEUE_GET_CONFIG_REQUEST: the queues of `port` (ANY: all).
    pub(super) fn queue_config(&self, port: u32) -> WireResult<Vec<PacketQueue>> {
        let mut out = Vec::new();
        for pq in self.port_queues(port)? {
            for q in &pq.queues {
                let rate = |bps: u64| match pq.speed {
                    Some(s) if bps > 0 && s > 0 => (bps.saturating_mul(1000) / s).min(1000) as u16,
                    _ => OFPQ_RATE_UNCFG,
                };
                out.push(PacketQueue {
                    queue_id: q.spec.id,
                    port: dp_to_of(pq.port),
                    properties: vec![
                        QueueProp::MinRate(rate(q.spec.min_rate)),
                        QueueProp::MaxRate(rate(q.spec.max_rate)),
                    ],
                });
            }
        }
        Ok(out)
    }

    /// The queue-stats multipart: `queue` (ALL: every one) of `port` (ANY:
    /// every port).
    pub(super) fn queue_stats(&self, port: u32, queue: u32) -> WireResult<Vec<QueueStats>> {
        let mut out = Vec::new();
        for pq in self.port_queues(port)? {
            let (sec, nsec) = (
                pq.duration_ns / 1_000_000_000,
                pq.duration_ns % 1_000_000_000,
            );
            for q in pq
                .queues
                .iter()
                .filter(|q| queue == OFPQ_ALL || q.spec.id == queue)
            {
                out.push(QueueStats {
                    port_no: dp_to_of(pq.port),
                    queue_id: q.spec.id,
                    tx_bytes: q.tx_bytes,
                    tx_packets: q.tx_packets,
                    tx_errors: q.dropped,
                    duration_sec: sec as u32,
                    duration_nsec: nsec as u32,
                });
            }
        }
        if out.is_empty() && queue != OFPQ_ALL {
            return Err(WireError::new(
                QueueOpFailed::BAD_QUEUE,
                format!("no queue {queue} on port {port}"),
            ));
        }
        Ok(out)
    }
}

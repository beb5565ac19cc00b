//! What an operator asks of a port, checked: the egress QoS (an HTB and its
//! queues, or a policer) and the ingress policing, in Open vSwitch's units
//! (bit/s and bits for HTB, bytes/s and bytes for the policers, kbit/s or
//! kpkt/s for ingress policing). `check` says in words what is wrong; the
//! running objects in the parent module are built only from checked specs.

use super::police::{Marker, Policer, Unit};
use super::{DEFAULT_QUEUE, MAX_QUEUES};

/// A port's egress QoS as configured (bit/s and bits, as Open vSwitch's
/// QoS and Queue records).
#[derive(Debug, Clone, PartialEq)]
pub enum QosSpec {
    /// Linux HTB: `max_rate` is the port's ceiling.
    Htb {
        max_rate: u64,
        /// Bits; 0: the default (10 ms at `max_rate`, at least two frames).
        burst: u64,
        queues: Vec<QueueSpec>,
        /// DSCP -> queue id, for packets without a `set_queue`.
        dscp_map: Vec<(u8, u32)>,
        /// CoDel (RFC 8289) on every queue.
        codel: bool,
    },
    /// RFC 2697 with no excess bucket: Open vSwitch's `egress-policer`
    /// (`cir` bytes/s of IP packet, `cbs` bytes).
    EgressPolicer { cir: u64, cbs: u64 },
    /// A two-rate policer: RFC 2698 (`pir`, `pbs`) or, as Open vSwitch's
    /// `trtcm-policer`, RFC 4115 (`eir`, `ebs`); bytes/s and bytes.
    TrtcmPolicer {
        cir: u64,
        cbs: u64,
        second: SecondRate,
    },
}

/// The second rate of a two-rate policer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondRate {
    /// RFC 2698's peak rate and size.
    Peak { pir: u64, pbs: u64 },
    /// RFC 4115's excess rate and size.
    Excess { eir: u64, ebs: u64 },
}

/// One queue (bit/s, bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    pub id: u32,
    pub min_rate: u64,
    /// 0: the port's `max_rate`.
    pub max_rate: u64,
    /// 0: the default (10 ms at the ceiling, at least two frames).
    pub burst: u64,
    /// 0 is served first.
    pub priority: u32,
    /// 0: [`DEFAULT_DEPTH`].
    pub depth: usize,
}

/// Ingress policing as Open vSwitch configures it on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicingSpec {
    /// `ingress_policing_rate` (kbit/s) and `_burst` (kbit; 0: 8,000).
    Rate { kbps: u64, burst_kb: u64 },
    /// `ingress_policing_kpkts_rate` (kpkt/s) and `_burst` (kpkt; 0: 16).
    Packets { kpps: u64, burst_kpkts: u64 },
}

impl QosSpec {
    /// Check the spec against the port's speed (bit/s; `None`: unknown).
    pub fn check(&self, port_speed: Option<u64>) -> Result<(), String> {
        match self {
            QosSpec::Htb {
                max_rate,
                queues,
                dscp_map,
                ..
            } => check_htb(*max_rate, queues, dscp_map, port_speed),
            QosSpec::EgressPolicer { cir, .. } => positive("cir", *cir),
            QosSpec::TrtcmPolicer { cir, cbs, second } => {
                positive("cir", *cir)?;
                let (name, rate, size) = match *second {
                    SecondRate::Peak { pir, pbs } => ("pir", pir, pbs),
                    SecondRate::Excess { eir, ebs } => ("eir", eir, ebs),
                };
                if matches!(second, SecondRate::Peak { .. }) && rate < *cir {
                    return Err(format!("pir {rate} is below cir {cir} (RFC 2698)"));
                }
                if *cbs == 0 && size == 0 {
                    return Err(format!("cbs and {name}'s bucket are both 0"));
                }
                Ok(())
            }
        }
    }
}

fn positive(name: &str, v: u64) -> Result<(), String> {
    if v == 0 {
        Err(format!("{name} must be above 0"))
    } else {
        Ok(())
    }
}

fn check_htb(
    max_rate: u64,
    queues: &[QueueSpec],
    dscp_map: &[(u8, u32)],
    port_speed: Option<u64>,
) -> Result<(), String> {
    positive("max-rate", max_rate)?;
    if let Some(s) = port_speed.filter(|&s| max_rate > s) {
        return Err(format!("max-rate {max_rate} is above the port's speed {s}"));
    }
    if queues.len() > MAX_QUEUES {
        return Err(format!("{} queues: at most {MAX_QUEUES}", queues.len()));
    }
    let mut sum = 0u64;
    for (i, q) in queues.iter().enumerate() {
        if queues[..i].iter().any(|o| o.id == q.id) {
            return Err(format!("queue {} defined twice", q.id));
        }
        let max = if q.max_rate == 0 {
            max_rate
        } else {
            q.max_rate
        };
        if q.max_rate > max_rate {
            return Err(format!(
                "queue {}: max-rate {} is above the port's max-rate {max_rate}",
                q.id, q.max_rate
            ));
        }
        if q.min_rate > max {
            return Err(format!(
                "queue {}: min-rate {} is above its max-rate {max}",
                q.id, q.min_rate
            ));
        }
        sum += q.min_rate;
    }
    if sum > max_rate {
        return Err(format!(
            "the queues' min-rates add up to {sum}, above the port's max-rate {max_rate}"
        ));
    }
    for &(dscp, q) in dscp_map {
        if dscp > 63 {
            return Err(format!("dscp {dscp}: 0..=63"));
        }
        if q != DEFAULT_QUEUE && !queues.iter().any(|x| x.id == q) {
            return Err(format!(
                "dscp {dscp} maps to queue {q}, which the port lacks"
            ));
        }
    }
    Ok(())
}

impl PolicingSpec {
    pub fn check(&self) -> Result<(), String> {
        match *self {
            PolicingSpec::Rate { kbps, .. } => positive("ingress_policing_rate", kbps),
            PolicingSpec::Packets { kpps, .. } => positive("ingress_policing_kpkts_rate", kpps),
        }
    }

    pub(super) fn policer(&self) -> Policer {
        match *self {
            PolicingSpec::Rate { kbps, burst_kb } => {
                let burst = if burst_kb == 0 { 8000 } else { burst_kb };
                let marker = Marker::SrTcm {
                    cir: kbps as f64 * 1000.0 / 8.0,
                    cbs: burst as f64 * 1000.0 / 8.0,
                    ebs: 0.0,
                };
                Policer::new(marker, Unit::L3Bytes)
            }
            PolicingSpec::Packets { kpps, burst_kpkts } => {
                let burst = if burst_kpkts == 0 { 16 } else { burst_kpkts };
                let marker = Marker::SrTcm {
                    cir: kpps as f64 * 1000.0,
                    cbs: burst as f64 * 1000.0,
                    ebs: 0.0,
                };
                Policer::new(marker, Unit::Packets)
            }
        }
    }
}

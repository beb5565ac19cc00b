//! Traffic control: egress queues shaped by a scheduler, and policers.
//!
//! Two seams into the fast path, both one relaxed load when no port has
//! QoS ([`QosTable::any`]):
//! - **Egress**, in the worker's transmit: a port's pending batch goes
//!   through [`EgressQos::admit`] before `tx_batch`. With an HTB
//!   ([`htb`]) configured, each packet is classified to a queue (its
//!   `set_queue` id, else the port's DSCP map, else queue 0; an id the port
//!   does not have falls back to queue 0 and is counted), sent at once if
//!   nothing waits and its queue may send, else queued (tail drop when
//!   full). Queued packets go out later from [`EgressQos::serve`], which
//!   every worker calls on each turn while any port has a backlog, with
//!   `try_lock`: the first free worker sends them through its own transmit
//!   queue. With a policer (`egress-policer`, `trtcm-policer`) the batch
//!   is only filtered.
//!   A tunnel port's QoS sees the packets it encapsulates: the worker
//!   batches them as the tunnel port's, each marked with the underlay link
//!   it leaves by (`Packet::egress`), and sends them there once admitted.
//! - **Ingress**, after a receive batch: [`IngressPolicer::police`] drops
//!   what is out of profile (Open vSwitch's `ingress_policing_rate`, in
//!   bytes or packets a second).
//!
//! A port's scheduler or policer is shared by the workers that transmit to
//! or receive from it, behind a mutex taken once per batch. The table of
//! them is an immutable snapshot swapped whole on a change (`arc-swap`);
//! replacing a port's QoS drops what waited in the old queues (counted in
//! that port's drops).
//!
//! Units: HTB counts whole frames (as Linux HTB counts the skb); the
//! policers count the IP packet (the frame less its Ethernet header), as
//! Open vSwitch's do. Rates here are bytes (or packets) a second;
//! configuration in bit/s and kbit/s is converted above.

pub mod htb;
pub mod police;

use crate::packet::{Packet, PacketPool};
use crate::wire::walk::{walk, Net};
use crate::PortNo;
use htb::{ClassSpec, Htb};
use police::{ColourCounts, Marker, Policer, Unit};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Most queues a port may have.
pub const MAX_QUEUES: usize = 8;
/// Packets a queue holds by default (Linux's `txqueuelen`).
pub const DEFAULT_DEPTH: usize = 1000;
/// The queue unclassified traffic goes to.
pub const DEFAULT_QUEUE: u32 = 0;

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

    fn policer(&self) -> Policer {
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

/// Bits to bytes.
fn bytes(bits: u64) -> f64 {
    bits as f64 / 8.0
}

/// A bucket for `rate` bytes a second: `burst_bits`, else 10 ms of the
/// rate, at least two full frames.
fn burst(burst_bits: u64, rate: f64) -> f64 {
    if burst_bits > 0 {
        bytes(burst_bits)
    } else {
        (rate * 0.01).max(2.0 * 1514.0)
    }
}

/// What the egress side of a port does.
#[derive(Debug)]
enum Egress {
    Htb {
        htb: Htb,
        /// DSCP -> class index.
        dscp: Option<Box<[u8; 64]>>,
        default: usize,
    },
    Police(Policer),
}

/// No DSCP mapping in the table.
const NO_CLASS: u8 = u8::MAX;

/// One port's egress QoS, shared by every worker.
#[derive(Debug)]
pub struct EgressQos {
    pub spec: QosSpec,
    inner: Mutex<Egress>,
    /// Packets waiting in the queues (read without the lock).
    waiting: AtomicUsize,
    /// `set_queue` ids the port lacks (sent to queue 0).
    pub unknown_queue: AtomicU64,
    /// Packets the policer dropped, or queued when the QoS was replaced.
    pub dropped: AtomicU64,
    pub created: Instant,
}

/// A queue's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    pub spec: QueueSpec,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub dropped: u64,
    pub waiting_packets: usize,
    pub waiting_bytes: usize,
}

/// A port's egress statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressStats {
    pub queues: Vec<QueueStats>,
    pub colours: Option<ColourCounts>,
    pub unknown_queue: u64,
    pub dropped: u64,
    pub duration_ns: u64,
}

impl EgressQos {
    /// Build it; the spec must have passed [`QosSpec::check`].
    pub fn new(spec: QosSpec) -> EgressQos {
        let egress = match &spec {
            QosSpec::Htb {
                max_rate,
                burst: port_burst,
                queues,
                dscp_map,
            } => {
                let rate = bytes(*max_rate);
                let mut classes: Vec<ClassSpec> = queues
                    .iter()
                    .map(|q| {
                        let max = if q.max_rate == 0 {
                            rate
                        } else {
                            bytes(q.max_rate)
                        };
                        ClassSpec {
                            queue_id: q.id,
                            min: bytes(q.min_rate),
                            max,
                            burst: burst(q.burst, max),
                            priority: q.priority,
                            depth: if q.depth == 0 { DEFAULT_DEPTH } else { q.depth },
                        }
                    })
                    .collect();
                // Queue 0 always exists: unconfigured, it has no guarantee
                // and lives on what the others leave.
                if !queues.iter().any(|q| q.id == DEFAULT_QUEUE) {
                    classes.push(ClassSpec {
                        queue_id: DEFAULT_QUEUE,
                        min: 0.0,
                        max: rate,
                        burst: burst(0, rate),
                        priority: u32::MAX,
                        depth: DEFAULT_DEPTH,
                    });
                }
                let htb = Htb::new(rate, burst(*port_burst, rate), &classes);
                let default = htb.class_of(DEFAULT_QUEUE).unwrap_or(0);
                let dscp = (!dscp_map.is_empty()).then(|| {
                    let mut t = Box::new([NO_CLASS; 64]);
                    for &(d, q) in dscp_map {
                        t[usize::from(d & 63)] = htb.class_of(q).map_or(NO_CLASS, |c| c as u8);
                    }
                    t
                });
                Egress::Htb { htb, dscp, default }
            }
            QosSpec::EgressPolicer { cir, cbs } => Egress::Police(Policer::new(
                Marker::SrTcm {
                    cir: *cir as f64,
                    cbs: *cbs as f64,
                    ebs: 0.0,
                },
                Unit::L3Bytes,
            )),
            QosSpec::TrtcmPolicer { cir, cbs, second } => {
                let (cir, cbs) = (*cir as f64, *cbs as f64);
                let marker = match *second {
                    SecondRate::Peak { pir, pbs } => Marker::TrTcm {
                        cir,
                        cbs,
                        pir: pir as f64,
                        pbs: pbs as f64,
                    },
                    SecondRate::Excess { eir, ebs } => Marker::Rfc4115 {
                        cir,
                        cbs,
                        eir: eir as f64,
                        ebs: ebs as f64,
                    },
                };
                Egress::Police(Policer::new(marker, Unit::L3Bytes))
            }
        };
        EgressQos {
            spec,
            inner: Mutex::new(egress),
            waiting: AtomicUsize::new(0),
            unknown_queue: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            created: Instant::now(),
        }
    }

    /// Packets waiting in the queues.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Filter `pending` (a batch for this port) down to what may be sent
    /// now; the rest is queued or, dropped, returned to `pool`. `now` is
    /// seconds on the datapath's clock. Returns how many were dropped.
    pub fn admit(&self, pending: &mut Vec<Packet>, now: f64, pool: &mut PacketPool) -> u64 {
        let Ok(mut e) = self.inner.lock() else {
            return 0;
        };
        let mut dropped = 0;
        match &mut *e {
            Egress::Police(p) => {
                dropped = filter(pending, pool, |pk| p.admit(pk.len(), now));
            }
            Egress::Htb { htb, dscp, default } => {
                htb.advance(now);
                let mut keep = Vec::with_capacity(pending.len());
                for p in pending.drain(..) {
                    let class = match p.queue {
                        Some(q) => htb.class_of(q).unwrap_or_else(|| {
                            self.unknown_queue.fetch_add(1, Ordering::Relaxed);
                            *default
                        }),
                        None => dscp
                            .as_ref()
                            .and_then(|t| packet_dscp(&p).map(|d| t[usize::from(d)]))
                            .filter(|&c| c != NO_CLASS)
                            .map_or(*default, usize::from),
                    };
                    if htb.try_send_now(class, p.len()) {
                        keep.push(p);
                    } else if let Some(p) = htb.enqueue(class, p) {
                        dropped += 1;
                        pool.put(p);
                    }
                }
                // What queued behind a sent packet may go in this batch too.
                htb.dequeue(crate::packet::BATCH_SIZE, &mut keep);
                *pending = keep;
                self.waiting.store(htb.backlog(), Ordering::Relaxed);
            }
        }
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        dropped
    }

    /// Move what may go now out of the queues into `out` (at most a
    /// batch). Another worker serving this port: nothing, at once.
    pub fn serve(&self, now: f64, out: &mut Vec<Packet>) {
        let Ok(mut e) = self.inner.try_lock() else {
            return;
        };
        if let Egress::Htb { htb, .. } = &mut *e {
            htb.advance(now);
            htb.dequeue(crate::packet::BATCH_SIZE, out);
            self.waiting.store(htb.backlog(), Ordering::Relaxed);
        }
    }

    /// The queues' (or the policer's) statistics.
    pub fn stats(&self) -> EgressStats {
        let (queues, colours) = match self.inner.lock().as_deref() {
            Ok(Egress::Htb { htb, .. }) => (
                htb.stats()
                    .map(|(s, c, n, b)| QueueStats {
                        spec: self.queue_spec(s),
                        tx_packets: c.tx_packets,
                        tx_bytes: c.tx_bytes,
                        dropped: c.dropped,
                        waiting_packets: n,
                        waiting_bytes: b,
                    })
                    .collect(),
                None,
            ),
            Ok(Egress::Police(p)) => (Vec::new(), Some(p.counts)),
            Err(_) => (Vec::new(), None),
        };
        EgressStats {
            queues,
            colours,
            unknown_queue: self.unknown_queue.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            duration_ns: self.created.elapsed().as_nanos() as u64,
        }
    }

    /// The configured queue behind a class (the implicit queue 0 reads
    /// as min 0, max the port's).
    fn queue_spec(&self, c: ClassSpec) -> QueueSpec {
        if let QosSpec::Htb {
            queues, max_rate, ..
        } = &self.spec
        {
            if let Some(q) = queues.iter().find(|q| q.id == c.queue_id) {
                return *q;
            }
            return QueueSpec {
                id: c.queue_id,
                min_rate: 0,
                max_rate: *max_rate,
                burst: 0,
                priority: c.priority,
                depth: c.depth,
            };
        }
        QueueSpec {
            id: c.queue_id,
            min_rate: 0,
            max_rate: 0,
            burst: 0,
            priority: 0,
            depth: c.depth,
        }
    }
}

/// Keep the packets `keep` passes, in order; the others go back to
/// `pool`. Returns how many went.
fn filter(
    packets: &mut Vec<Packet>,
    pool: &mut PacketPool,
    mut keep: impl FnMut(&Packet) -> bool,
) -> u64 {
    let mut gone = 0;
    let mut kept = Vec::with_capacity(packets.len());
    for p in packets.drain(..) {
        if keep(&p) {
            kept.push(p);
        } else {
            gone += 1;
            pool.put(p);
        }
    }
    *packets = kept;
    gone
}

/// The DSCP of an IPv4 or IPv6 packet.
fn packet_dscp(p: &Packet) -> Option<u8> {
    let frame = p.data();
    let h = walk(frame, &mut ());
    let l3 = usize::from(h.layout.l3?);
    match h.net {
        Net::Ipv4 => frame.get(l3 + 1).map(|tos| tos >> 2),
        Net::Ipv6 => {
            let b = frame.get(l3..l3 + 2)?;
            Some(((b[0] & 0x0f) << 2) | (b[1] >> 6))
        }
        _ => None,
    }
}

/// One port's ingress policer, shared by the workers that receive from it.
#[derive(Debug)]
pub struct IngressPolicer {
    pub spec: PolicingSpec,
    policer: Mutex<Policer>,
    pub dropped: AtomicU64,
}

impl IngressPolicer {
    pub fn new(spec: PolicingSpec) -> IngressPolicer {
        IngressPolicer {
            spec,
            policer: Mutex::new(spec.policer()),
            dropped: AtomicU64::new(0),
        }
    }

    /// Drop (into `pool`) what is out of profile; return how many.
    pub fn police(&self, packets: &mut Vec<Packet>, now: f64, pool: &mut PacketPool) -> u64 {
        let Ok(mut p) = self.policer.lock() else {
            return 0;
        };
        let dropped = filter(packets, pool, |pk| p.admit(pk.len(), now));
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        dropped
    }

    pub fn colours(&self) -> ColourCounts {
        self.policer.lock().map(|p| p.counts).unwrap_or_default()
    }
}

/// Every port's QoS, by port number; swapped whole on a change.
#[derive(Debug, Default)]
pub struct QosTable {
    egress: Vec<Option<Arc<EgressQos>>>,
    ingress: Vec<Option<Arc<IngressPolicer>>>,
}

impl QosTable {
    /// Whether any port has egress QoS or ingress policing.
    pub fn any(&self) -> bool {
        self.egress.iter().any(Option::is_some) || self.ingress.iter().any(Option::is_some)
    }

    pub fn egress(&self, port: PortNo) -> Option<&Arc<EgressQos>> {
        self.egress.get(port as usize)?.as_ref()
    }

    pub fn ingress(&self, port: PortNo) -> Option<&Arc<IngressPolicer>> {
        self.ingress.get(port as usize)?.as_ref()
    }

    /// Ports with egress QoS.
    pub fn egress_ports(&self) -> impl Iterator<Item = (PortNo, &Arc<EgressQos>)> {
        self.egress
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i as PortNo, e.as_ref()?)))
    }

    /// A copy with `port`'s egress QoS replaced.
    pub fn with_egress(&self, port: PortNo, e: Option<Arc<EgressQos>>) -> QosTable {
        let mut t = self.copy();
        set(&mut t.egress, port, e);
        t
    }

    /// A copy with `port`'s ingress policer replaced.
    pub fn with_ingress(&self, port: PortNo, p: Option<Arc<IngressPolicer>>) -> QosTable {
        let mut t = self.copy();
        set(&mut t.ingress, port, p);
        t
    }

    fn copy(&self) -> QosTable {
        QosTable {
            egress: self.egress.clone(),
            ingress: self.ingress.clone(),
        }
    }
}

fn set<T>(v: &mut Vec<Option<T>>, port: PortNo, x: Option<T>) {
    let i = port as usize;
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    v[i] = x;
    while v.last().is_some_and(Option::is_none) {
        v.pop();
    }
}

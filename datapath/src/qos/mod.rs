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
mod spec;

use crate::packet::{Packet, PacketPool};
use crate::wire::walk::{walk, Net};
use crate::PortNo;
use htb::{ClassSpec, Htb};
use police::{ColourCounts, Marker, Policer, Unit};
pub use spec::{PolicingSpec, QosSpec, QueueSpec, SecondRate};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Most queues a port may have.
pub const MAX_QUEUES: usize = 8;
/// Packets a queue holds by default (Linux's `txqueuelen`).
pub const DEFAULT_DEPTH: usize = 1000;
/// The queue unclassified traffic goes to.
pub const DEFAULT_QUEUE: u32 = 0;

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
        /// The batch being classified (kept for its allocation).
        scratch: Vec<Packet>,
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
    /// CoDel's head drops.
    pub aqm_dropped: u64,
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
                codel,
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
                            codel: *codel,
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
                        codel: *codel,
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
                Egress::Htb {
                    htb,
                    dscp,
                    default,
                    scratch: Vec::new(),
                }
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
            Egress::Htb {
                htb,
                dscp,
                default,
                scratch,
            } => {
                htb.advance(now);
                // Classify out of `scratch`, sending back into `pending`:
                // two buffers that keep their allocations, batch after batch.
                std::mem::swap(pending, scratch);
                for p in scratch.drain(..) {
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
                        pending.push(p);
                    } else if let Some(p) = htb.enqueue(class, p) {
                        dropped += 1;
                        pool.put(p);
                    }
                }
                // What queued behind a sent packet may go in this batch too.
                htb.dequeue(crate::packet::BATCH_SIZE, pending);
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
                        aqm_dropped: c.aqm_dropped,
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

    /// The configured queue behind an HTB class; the implicit queue 0
    /// reads as no guarantee and the port's ceiling.
    fn queue_spec(&self, c: ClassSpec) -> QueueSpec {
        let configured = match &self.spec {
            QosSpec::Htb { queues, .. } => queues.iter().find(|q| q.id == c.queue_id).copied(),
            _ => None,
        };
        configured.unwrap_or(QueueSpec {
            id: c.queue_id,
            min_rate: 0,
            max_rate: (c.max * 8.0) as u64,
            burst: 0,
            priority: c.priority,
            depth: c.depth,
        })
    }
}

/// Keep the packets `keep` passes, in order, in place; the others go back
/// to `pool`. Returns how many went.
fn filter(
    packets: &mut Vec<Packet>,
    pool: &mut PacketPool,
    mut keep: impl FnMut(&Packet) -> bool,
) -> u64 {
    let mut gone = 0;
    for p in packets.extract_if(.., |p| !keep(p)) {
        gone += 1;
        pool.put(p);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 frame with DSCP `dscp`, steered to `queue` if given.
    fn frame(dscp: u8, queue: Option<u32>) -> Packet {
        let mut f = vec![0u8; 14 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[15] = dscp << 2;
        f[16..18].copy_from_slice(&20u16.to_be_bytes());
        f[22] = 64;
        let mut p = Packet::from_bytes(&f);
        p.queue = queue;
        p
    }

    #[test]
    fn packets_are_classified_by_set_queue_then_dscp_then_queue_0() {
        let q = |id| QueueSpec {
            id,
            min_rate: 1_000_000,
            max_rate: 0,
            burst: 0,
            priority: 0,
            depth: 0,
        };
        let e = EgressQos::new(QosSpec::Htb {
            max_rate: 10_000_000,
            burst: 0,
            queues: vec![q(1), q(2)],
            dscp_map: vec![(46, 2)],
            codel: false,
        });
        let mut pool = PacketPool::new();
        let mut batch = vec![
            frame(0, Some(1)),
            frame(46, Some(1)),
            frame(46, None),
            frame(0, None),
            frame(0, Some(7)),
        ];
        assert_eq!(e.admit(&mut batch, 0.0, &mut pool), 0);
        assert_eq!(batch.len(), 5, "nothing was waiting: all go at once");
        let sent: Vec<(u32, u64)> = e
            .stats()
            .queues
            .iter()
            .map(|q| (q.spec.id, q.tx_packets))
            .collect();
        // set_queue wins over DSCP; DSCP 46 maps to 2; the rest and the
        // unknown queue 7 go to queue 0.
        assert_eq!(sent, [(1, 2), (2, 1), (0, 2)]);
        assert_eq!(e.stats().unknown_queue, 1);
    }

    #[test]
    fn a_congested_queue_waits_and_is_served_later() {
        // 1 Mbit/s, burst two frames: a batch of ten 1500-byte frames
        // sends two (or three: a bucket may go one packet below zero) and
        // queues the rest, which the clock lets out.
        let e = EgressQos::new(QosSpec::Htb {
            max_rate: 1_000_000,
            burst: 2 * 1514 * 8,
            queues: Vec::new(),
            dscp_map: Vec::new(),
            codel: false,
        });
        let mut pool = PacketPool::new();
        let mut batch: Vec<Packet> = (0..10).map(|_| Packet::from_bytes(&[0u8; 1500])).collect();
        e.admit(&mut batch, 0.0, &mut pool);
        let first = batch.len();
        assert!((2..=3).contains(&first), "{first} sent at once");
        assert_eq!(e.waiting(), 10 - first);
        let mut out = Vec::new();
        e.serve(0.0001, &mut out);
        assert!(out.is_empty(), "no tokens yet");
        // 1 Mbit/s is 125 bytes a ms: ~12 ms a frame, so the rest drains
        // in 12 ms steps (the burst caps what idle time can save up).
        let mut t = 0.0;
        while e.waiting() > 0 && t < 1.0 {
            t += 0.001;
            e.serve(t, &mut out);
        }
        assert_eq!(out.len(), 10 - first);
        let want = (10 - first - 1) as f64 * 0.0121;
        assert!((t - want).abs() < 0.015, "drained at {t} s, want ~{want}");
    }
}

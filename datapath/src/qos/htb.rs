//! The egress scheduler: Linux HTB's semantics over at most eight queues
//! of one port.
//!
//! Each queue (a *class* in HTB's terms) has a guaranteed rate (`min`),
//! a ceiling (`max`, the port's rate by default), a burst and a priority
//! (0 first). Two token buckets per queue say where it stands: the rate
//! bucket (filling at `min`) and the ceiling bucket (filling at `max`). A
//! queue with tokens in both is *green*: below its guarantee, it may send.
//! A queue out of rate tokens but with ceiling tokens is *yellow*: it may
//! borrow, if the port (the root, filling at the port's `max-rate`) has
//! tokens to lend. A queue out of ceiling tokens waits. Each packet sent
//! costs its bytes in the queue's two buckets and the root's.
//!
//! The next packet comes from a green queue if there is one, else from a
//! yellow one: the lowest priority number first, and among queues of the
//! same colour and priority by deficit round robin, each round earning a
//! quantum proportional to the queue's guarantee (HTB's `rate / r2q`), so
//! spare bandwidth is shared in the ratio of the guarantees. A queue
//! without guarantee is always yellow: it lives on what is lent.
//!
//! Packets wait in a bounded FIFO per queue (tail drop, counted), with
//! CoDel (RFC 8289) as an optional AQM: a queue whose packets have waited
//! more than 5 ms for at least 100 ms drops from its head, at a rate that
//! grows with the square root of the drops, until they wait less; TCP
//! then keeps the queue short instead of filling it. Time is
//! seconds on a monotonic clock handed in by the caller, so tests drive it
//! by hand; buckets may go below zero by one packet (a queue with any
//! tokens may send a packet bigger than them), which keeps the long-run
//! rate exact at every packet size.

use crate::packet::Packet;
use std::collections::VecDeque;

/// HTB's `r2q`: a queue's quantum is its guarantee (bytes a second) / 10.
const R2Q: f64 = 10.0;
/// Quantum bounds (bytes): at least a full frame, at most HTB's limit.
const MIN_QUANTUM: f64 = 1514.0;
const MAX_QUANTUM: f64 = 200_000.0;

/// One queue as configured (rates in bytes a second, sizes in bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassSpec {
    pub queue_id: u32,
    pub min: f64,
    pub max: f64,
    pub burst: f64,
    pub priority: u32,
    /// Most packets that may wait.
    pub depth: usize,
    /// CoDel on this queue.
    pub codel: bool,
}

/// CoDel's target sojourn and interval (RFC 8289's defaults), seconds.
const CODEL_TARGET: f64 = 0.005;
const CODEL_INTERVAL: f64 = 0.100;

/// A queue's CoDel state (RFC 8289, section 5).
#[derive(Debug, Default)]
struct Codel {
    /// When the sojourn went above target and will have stayed there for
    /// an interval.
    first_above: Option<f64>,
    dropping: bool,
    drop_next: f64,
    count: u32,
    last_count: u32,
}

impl Codel {
    /// Whether a packet that waited `sojourn` at `now` (with `bytes` still
    /// queued behind it) finds the queue persistently above target.
    fn ok_to_drop(&mut self, sojourn: f64, bytes: usize, now: f64) -> bool {
        if sojourn < CODEL_TARGET || bytes <= 1514 {
            self.first_above = None;
            return false;
        }
        match self.first_above {
            None => {
                self.first_above = Some(now + CODEL_INTERVAL);
                false
            }
            Some(t) => now >= t,
        }
    }

    fn next_drop(&self, from: f64) -> f64 {
        from + CODEL_INTERVAL / f64::from(self.count.max(1)).sqrt()
    }

    /// Whether to drop the head packet (sojourn `sojourn`) now.
    fn drop_head(&mut self, sojourn: f64, bytes: usize, now: f64) -> bool {
        let ok = self.ok_to_drop(sojourn, bytes, now);
        if self.dropping {
            if !ok {
                self.dropping = false;
                return false;
            }
            if now >= self.drop_next {
                self.count += 1;
                self.drop_next = self.next_drop(self.drop_next);
                return true;
            }
            return false;
        }
        if ok {
            // Start dropping; resume near the last rate if that was recent.
            self.dropping = true;
            let delta = self.count.saturating_sub(self.last_count);
            self.count = if delta > 1 && now - self.drop_next < 16.0 * CODEL_INTERVAL {
                delta
            } else {
                1
            };
            self.last_count = self.count;
            self.drop_next = self.next_drop(now);
            return true;
        }
        false
    }
}

/// A queue's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounters {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Tail drops.
    pub dropped: u64,
    /// CoDel's head drops.
    pub aqm_dropped: u64,
}

#[derive(Debug)]
struct Class {
    spec: ClassSpec,
    tokens: f64,
    ctokens: f64,
    quantum: f64,
    deficit: f64,
    /// Packets and when each was queued.
    fifo: VecDeque<(f64, Packet)>,
    bytes: usize,
    counters: ClassCounters,
    codel: Option<Codel>,
}

/// Where a queue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Colour {
    Green,
    Yellow,
    Waiting,
}

/// A port's queues and its root bucket.
#[derive(Debug)]
pub struct Htb {
    classes: Vec<Class>,
    root_rate: f64,
    root_size: f64,
    root: f64,
    last: Option<f64>,
    /// The class last served (deficit round robin goes on from it).
    current: usize,
    backlog: usize,
}

impl Htb {
    /// A scheduler for a port of `rate` bytes a second with burst `burst`.
    pub fn new(rate: f64, burst: f64, classes: &[ClassSpec]) -> Htb {
        Htb {
            classes: classes
                .iter()
                .map(|&spec| Class {
                    spec,
                    tokens: spec.burst,
                    ctokens: spec.burst,
                    quantum: (spec.min / R2Q).clamp(MIN_QUANTUM, MAX_QUANTUM),
                    deficit: 0.0,
                    fifo: VecDeque::new(),
                    bytes: 0,
                    counters: ClassCounters::default(),
                    codel: spec.codel.then(Codel::default),
                })
                .collect(),
            root_rate: rate,
            root_size: burst,
            root: burst,
            last: None,
            current: 0,
            backlog: 0,
        }
    }

    /// The index of queue `queue_id`.
    pub fn class_of(&self, queue_id: u32) -> Option<usize> {
        self.classes
            .iter()
            .position(|c| c.spec.queue_id == queue_id)
    }

    /// Packets waiting, all queues together.
    pub fn backlog(&self) -> usize {
        self.backlog
    }

    /// Each queue's spec, counters, and the packets and bytes waiting.
    pub fn stats(&self) -> impl Iterator<Item = (ClassSpec, ClassCounters, usize, usize)> + '_ {
        self.classes
            .iter()
            .map(|c| (c.spec, c.counters, c.fifo.len(), c.bytes))
    }

    /// Earn the tokens of the time since the last call.
    pub fn advance(&mut self, now: f64) {
        let dt = self.last.map_or(0.0, |l| (now - l).max(0.0));
        self.last = Some(now);
        if dt == 0.0 {
            return;
        }
        for c in &mut self.classes {
            c.tokens = (c.tokens + c.spec.min * dt).min(c.spec.burst);
            c.ctokens = (c.ctokens + c.spec.max * dt).min(c.spec.burst);
        }
        self.root = (self.root + self.root_rate * dt).min(self.root_size);
    }

    fn colour(&self, i: usize) -> Colour {
        let c = &self.classes[i];
        if c.ctokens < 0.0 {
            Colour::Waiting
        } else if c.tokens >= 0.0 && c.spec.min > 0.0 {
            Colour::Green
        } else if self.root >= 0.0 {
            Colour::Yellow
        } else {
            Colour::Waiting
        }
    }

    fn charge(&mut self, i: usize, len: usize) {
        let n = len as f64;
        let c = &mut self.classes[i];
        c.tokens -= n;
        c.ctokens -= n;
        c.counters.tx_packets += 1;
        c.counters.tx_bytes += len as u64;
        self.root -= n;
    }

    /// With nothing waiting, may a packet of `len` bytes for class `i` go
    /// now? If so it is charged and counted as sent.
    pub fn try_send_now(&mut self, i: usize, len: usize) -> bool {
        if self.backlog > 0 || self.colour(i) == Colour::Waiting {
            return false;
        }
        self.charge(i, len);
        true
    }

    /// Queue `packet` in class `i`; a full queue gives it back (dropped,
    /// counted).
    pub fn enqueue(&mut self, i: usize, packet: Packet) -> Option<Packet> {
        let c = &mut self.classes[i];
        if c.fifo.len() >= c.spec.depth {
            c.counters.dropped += 1;
            return Some(packet);
        }
        c.bytes += packet.len();
        c.fifo.push_back((self.last.unwrap_or(0.0), packet));
        self.backlog += 1;
        None
    }

    /// Move up to `max` packets that may go now into `out`, in the order
    /// the scheduler chooses.
    pub fn dequeue(&mut self, max: usize, out: &mut Vec<Packet>) {
        let now = self.last.unwrap_or(0.0);
        for _ in 0..max {
            let Some(i) = self.pick() else {
                return;
            };
            let c = &mut self.classes[i];
            let Some((queued, p)) = c.fifo.pop_front() else {
                return;
            };
            c.bytes -= p.len();
            if let Some(codel) = c.codel.as_mut() {
                if codel.drop_head(now - queued, c.bytes, now) {
                    c.counters.aqm_dropped += 1;
                    self.backlog -= 1;
                    if c.fifo.is_empty() {
                        c.deficit = 0.0;
                    }
                    continue;
                }
            }
            c.deficit -= p.len() as f64;
            if c.fifo.is_empty() {
                c.deficit = 0.0;
            }
            self.backlog -= 1;
            self.current = i;
            self.charge(i, p.len());
            out.push(p);
        }
    }

    /// The class to serve next: the best colour, then the lowest priority
    /// number, then deficit round robin among the ties.
    fn pick(&mut self) -> Option<usize> {
        let mut best: Option<(Colour, u32)> = None;
        for i in 0..self.classes.len() {
            if self.classes[i].fifo.is_empty() {
                continue;
            }
            let k = (self.colour(i), self.classes[i].spec.priority);
            if k.0 != Colour::Waiting && best.is_none_or(|b| k < b) {
                best = Some(k);
            }
        }
        let best = best?;
        let n = self.classes.len();
        let tied = |h: &Htb, i: usize| {
            !h.classes[i].fifo.is_empty() && (h.colour(i), h.classes[i].spec.priority) == best
        };
        // Deficit round robin: go on with the class last served while its
        // deficit covers its head packet, else the next tie that can;
        // when none can, every tie earns its quantum.
        loop {
            for k in 0..n {
                let i = (self.current + k) % n;
                if tied(self, i) {
                    let c = &self.classes[i];
                    let head = c.fifo.front().map_or(0, |(_, p)| p.len()) as f64;
                    if c.deficit >= head {
                        return Some(i);
                    }
                }
            }
            for i in 0..n {
                if tied(self, i) {
                    self.classes[i].deficit += self.classes[i].quantum;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MBIT: f64 = 1e6 / 8.0;

    fn class(queue_id: u32, min: f64, max: f64, priority: u32) -> ClassSpec {
        ClassSpec {
            queue_id,
            min: min * MBIT,
            max: max * MBIT,
            burst: 15_000.0,
            priority,
            depth: 100,
            codel: false,
        }
    }

    /// Keep every queue in `offered` backlogged with 1,500-byte packets
    /// (100 waiting: 12 Gbit/s of offer) for `secs` seconds, serving every
    /// 100 µs; the bytes each sent.
    fn run(h: &mut Htb, offered: &[usize], secs: f64) -> Vec<u64> {
        let mut out = Vec::new();
        let steps = (secs / 1e-4) as usize;
        for s in 0..steps {
            for &i in offered {
                while h.classes[i].fifo.len() < h.classes[i].spec.depth {
                    assert!(h.enqueue(i, Packet::from_bytes(&[0u8; 1500])).is_none());
                }
            }
            h.advance(s as f64 * 1e-4);
            out.clear();
            h.dequeue(1000, &mut out);
        }
        h.classes.iter().map(|c| c.counters.tx_bytes).collect()
    }

    fn mbit(bytes: u64, secs: f64) -> f64 {
        bytes as f64 / secs / MBIT
    }

    #[test]
    fn guarantees_share_a_saturated_port() {
        // 100 Mbit/s port, queues guaranteed 70 and 30, both may use 100.
        let mut h = Htb::new(
            100.0 * MBIT,
            15_000.0,
            &[class(0, 70.0, 100.0, 1), class(1, 30.0, 100.0, 1)],
        );
        let sent = run(&mut h, &[0, 1], 2.0);
        let (a, b) = (mbit(sent[0], 2.0), mbit(sent[1], 2.0));
        assert!((a + b - 100.0).abs() < 2.0, "port rate {a} + {b}");
        assert!((a / (a + b) - 0.7).abs() < 0.02, "shares {a} / {b}");
    }

    #[test]
    fn an_idle_queue_lends_up_to_the_ceiling() {
        // Queue 1 alone: it borrows beyond its 30 up to its ceiling of 80.
        let mut h = Htb::new(
            100.0 * MBIT,
            15_000.0,
            &[class(0, 70.0, 100.0, 1), class(1, 30.0, 80.0, 1)],
        );
        let sent = run(&mut h, &[1], 2.0);
        let b = mbit(sent[1], 2.0);
        assert!((b - 80.0).abs() < 2.0, "borrowed to {b}");
    }

    #[test]
    fn spare_bandwidth_goes_by_priority_first() {
        // Guarantees 10 and 10 on a 100 Mbit/s port: the 80 spare go to
        // the priority-0 queue, the other keeps its guarantee.
        let mut h = Htb::new(
            100.0 * MBIT,
            15_000.0,
            &[class(0, 10.0, 100.0, 1), class(1, 10.0, 100.0, 0)],
        );
        let sent = run(&mut h, &[0, 1], 2.0);
        let (a, b) = (mbit(sent[0], 2.0), mbit(sent[1], 2.0));
        assert!((a - 10.0).abs() < 2.0 && (b - 90.0).abs() < 2.0, "{a} {b}");
    }

    #[test]
    fn rates_hold_from_one_megabit_to_ten_gigabits() {
        for rate in [1.0, 10.0, 1000.0, 10_000.0] {
            let burst = (rate * MBIT * 0.01).max(3028.0);
            let spec = ClassSpec {
                burst,
                ..class(0, rate, rate, 0)
            };
            let mut h = Htb::new(rate * MBIT, burst, &[spec]);
            let secs = if rate < 10.0 { 10.0 } else { 1.0 };
            let got = mbit(run(&mut h, &[0], secs)[0], secs);
            // The first burst is extra; allow it plus 1%.
            let slack = burst / MBIT / secs + rate * 0.01;
            assert!((got - rate).abs() <= slack, "{rate} Mbit/s: got {got}");
        }
    }

    /// Offer 1,500-byte packets at twice a 1 Mbit/s queue's rate for
    /// `secs`, serving every ms; the packets waiting at the end.
    fn overload(codel: bool, secs: f64) -> (usize, ClassCounters) {
        let spec = ClassSpec {
            depth: 1000,
            codel,
            ..class(0, 1.0, 1.0, 0)
        };
        let mut h = Htb::new(MBIT, 15_000.0, &[spec]);
        let mut out = Vec::new();
        let mut credit = 0.0;
        for ms in 0..(secs * 1000.0) as usize {
            h.advance(ms as f64 / 1000.0);
            // 250 kB/s offered: a packet every 6 ms.
            credit += 250.0;
            while credit >= 1500.0 {
                credit -= 1500.0;
                let _ = h.enqueue(0, Packet::from_bytes(&[0u8; 1500]));
            }
            out.clear();
            h.dequeue(64, &mut out);
        }
        (h.backlog(), h.classes[0].counters)
    }

    #[test]
    fn codel_keeps_an_overloaded_queue_short() {
        let (tail, t) = overload(false, 20.0);
        let (codel, c) = overload(true, 20.0);
        println!("waiting after 20 s at 2x: tail drop {tail} ({t:?}), CoDel {codel} ({c:?})");
        // Tail drop fills the queue (1,000 packets: 12 s of waiting);
        // CoDel drops from the head instead and keeps it a fraction of that.
        assert!(tail >= 990, "tail drop left {tail} waiting");
        assert!(t.dropped > 0 && t.aqm_dropped == 0);
        assert!(codel < 200, "CoDel left {codel} waiting");
        assert!(c.aqm_dropped > 0 && c.dropped == 0, "{c:?}");
        // Both send at the rate.
        assert!(t.tx_bytes.abs_diff(c.tx_bytes) < 20 * 1500, "{t:?} {c:?}");
    }

    #[test]
    fn a_full_queue_drops_the_tail_and_counts_it() {
        let mut h = Htb::new(
            MBIT,
            3000.0,
            &[ClassSpec {
                depth: 2,
                ..class(0, 1.0, 1.0, 0)
            }],
        );
        for _ in 0..2 {
            assert!(h.enqueue(0, Packet::from_bytes(&[0u8; 100])).is_none());
        }
        assert!(h.enqueue(0, Packet::from_bytes(&[0u8; 100])).is_some());
        let (_, counters, waiting, bytes) = h.stats().next().unwrap();
        assert_eq!((counters.dropped, waiting, bytes), (1, 2, 200));
        assert_eq!(h.backlog(), 2);
    }
}

//! Links: ports that join two datapaths of the same switchd, and the
//! virtual port a tunnel is numbered by.
//!
//! Every bridge has its own datapath (its own workers, caches and port
//! numbers), but native tunnelling crosses bridges: a tenant bridge pushes
//! outer headers and the packet must continue through the underlay bridge
//! as if its LOCAL port had sent it; an underlay bridge finds a tunnel
//! packet addressed to itself and must hand it to the tenant bridge for
//! decapsulation. A [`LinkPort::pair`] is that hand-off: what one end
//! transmits, the other end receives, through a bounded queue and an
//! eventfd that wakes the receiving worker. The packet moves, it is not
//! copied, and its offload state goes with it (a link claims every
//! offload: the port that finally transmits completes what is left).
//! A full queue drops and counts, as a NIC ring would.
//!
//! [`VirtualPort`] is a port with no traffic of its own: a tunnel port's
//! number in its bridge (packets "arrive" on it by recirculation after a
//! tunnel pop, and leave through a link after a tunnel push).
#![allow(unsafe_code)]

use super::{Port, PortCaps, PortStats};
use crate::packet::{Batch, Packet, PacketPool, BATCH_SIZE};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::SeqCst,
};
use std::sync::{Arc, Mutex};

/// Packets a link holds before it drops (a few batches of slack for a
/// receiving worker that is busy with other queues).
pub const LINK_QUEUE_LEN: usize = 64 * BATCH_SIZE;

/// A non-blocking eventfd: the receiving worker sleeps on it.
#[derive(Debug)]
struct EventFd(OwnedFd);

impl EventFd {
    fn new() -> std::io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; a non-negative return is a new
        // descriptor that nothing else owns.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd and is owned by no one else.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own descriptor. A
        // full counter (EAGAIN) already means "readable", so the result is
        // not needed.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    fn clear(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from our own
        // non-blocking descriptor; EAGAIN (nothing to clear) is fine.
        unsafe { libc::read(self.0.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

/// The receiving side of one direction of a link.
#[derive(Debug)]
struct Queue {
    packets: Mutex<VecDeque<Packet>>,
    /// How many packets wait: a worker polling an empty link reads this
    /// instead of taking the lock.
    queued: AtomicUsize,
    /// The receiving worker may be asleep (set before it sleeps, cleared
    /// when it polls): only then does a sender pay for the eventfd write.
    /// Sender (store `queued`, load `sleeping`) and receiver (store
    /// `sleeping`, load `queued`) both use SeqCst, so one of them always
    /// sees the other: no packet is slept on.
    sleeping: AtomicBool,
    wake: EventFd,
}

#[derive(Debug, Default)]
struct Counters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_dropped: AtomicU64,
}

/// One end of a link between two datapaths.
#[derive(Debug)]
pub struct LinkPort {
    name: String,
    /// What this end receives.
    inbox: Arc<Queue>,
    /// What the other end receives.
    outbox: Arc<Queue>,
    counters: Counters,
}

impl LinkPort {
    /// Two ends, named `a` and `b`: what `a` transmits `b` receives and
    /// the other way round.
    pub fn pair(a: &str, b: &str) -> std::io::Result<(Arc<LinkPort>, Arc<LinkPort>)> {
        let qa = Arc::new(Queue {
            packets: Mutex::new(VecDeque::with_capacity(BATCH_SIZE)),
            queued: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            wake: EventFd::new()?,
        });
        let qb = Arc::new(Queue {
            packets: Mutex::new(VecDeque::with_capacity(BATCH_SIZE)),
            queued: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            wake: EventFd::new()?,
        });
        let end = |name: &str, inbox: &Arc<Queue>, outbox: &Arc<Queue>| {
            Arc::new(LinkPort {
                name: name.to_string(),
                inbox: inbox.clone(),
                outbox: outbox.clone(),
                counters: Counters::default(),
            })
        };
        Ok((end(a, &qa, &qb), end(b, &qb, &qa)))
    }

    /// Send one packet to the other end from outside any worker (a
    /// neighbour request built by translation). False when the queue was
    /// full and the packet was dropped.
    pub fn inject(&self, packet: Packet) -> bool {
        self.send(&mut vec![packet]).is_empty()
    }

    /// Move `packets` to the other end's queue; what does not fit is
    /// counted as dropped and handed back for the caller to free.
    fn send(&self, packets: &mut Vec<Packet>) -> Vec<Packet> {
        let mut refused = Vec::new();
        let mut bytes = 0u64;
        let mut sent = 0u64;
        {
            let mut q = self
                .outbox
                .packets
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for p in packets.drain(..) {
                if q.len() >= LINK_QUEUE_LEN {
                    refused.push(p);
                } else {
                    bytes += p.len() as u64;
                    sent += 1;
                    q.push_back(p);
                }
            }
            self.outbox.queued.store(q.len(), SeqCst);
        }
        if sent > 0 && self.outbox.sleeping.load(SeqCst) {
            self.outbox.wake.signal();
        }
        self.counters.tx_packets.fetch_add(sent, Relaxed);
        self.counters.tx_bytes.fetch_add(bytes, Relaxed);
        self.counters
            .tx_dropped
            .fetch_add(refused.len() as u64, Relaxed);
        refused
    }
}

impl Port for LinkPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "link"
    }

    fn caps(&self) -> PortCaps {
        PortCaps {
            tx_csum_partial: true,
            tx_tso: true,
            mtu: 0,
        }
    }

    fn rx_batch(&self, _rxq: usize, batch: &mut Batch, _pool: &mut PacketPool) -> usize {
        self.inbox.sleeping.store(false, Relaxed);
        if self.inbox.queued.load(Acquire) == 0 {
            return 0;
        }
        let room = BATCH_SIZE.saturating_sub(batch.len());
        let mut n = 0;
        let mut bytes = 0u64;
        let mut q = self.inbox.packets.lock().unwrap_or_else(|e| e.into_inner());
        while n < room {
            let Some(mut p) = q.pop_front() else { break };
            // A new arrival: nothing of its life in the other datapath
            // but the frame and its offload state comes with it.
            p.mark = 0;
            p.recirc_id = 0;
            p.tunnel.clear();
            bytes += p.len() as u64;
            batch.push(p);
            n += 1;
        }
        self.inbox.queued.store(q.len(), SeqCst);
        drop(q);
        self.counters.rx_packets.fetch_add(n as u64, Relaxed);
        self.counters.rx_bytes.fetch_add(bytes, Relaxed);
        n
    }

    fn tx_batch(&self, _txq: usize, packets: &mut Vec<Packet>, pool: &mut PacketPool) {
        for p in self.send(packets) {
            pool.put(p);
        }
    }

    fn stats(&self) -> PortStats {
        let c = &self.counters;
        PortStats {
            rx_packets: c.rx_packets.load(Relaxed),
            rx_bytes: c.rx_bytes.load(Relaxed),
            tx_packets: c.tx_packets.load(Relaxed),
            tx_bytes: c.tx_bytes.load(Relaxed),
            tx_dropped: c.tx_dropped.load(Relaxed),
            ..PortStats::default()
        }
    }

    fn rx_fd(&self, _rxq: usize) -> Option<RawFd> {
        Some(self.inbox.wake.0.as_raw_fd())
    }

    fn prepare_sleep(&self, _rxq: usize) -> bool {
        self.inbox.sleeping.store(true, SeqCst);
        self.inbox.wake.clear();
        // A packet queued before the sender could see `sleeping` must not
        // be slept on.
        self.inbox.queued.load(SeqCst) != 0
    }
}

/// A port that carries no traffic itself (a tunnel port's number).
#[derive(Debug)]
pub struct VirtualPort {
    name: String,
    kind: &'static str,
    /// Never signalled: the worker that owns the (empty) queue sleeps.
    idle: EventFd,
    tx_dropped: AtomicU64,
}

impl VirtualPort {
    pub fn new(name: &str, kind: &'static str) -> std::io::Result<VirtualPort> {
        Ok(VirtualPort {
            name: name.to_string(),
            kind,
            idle: EventFd::new()?,
            tx_dropped: AtomicU64::new(0),
        })
    }
}

impl Port for VirtualPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn caps(&self) -> PortCaps {
        PortCaps::default()
    }

    fn rx_batch(&self, _rxq: usize, _batch: &mut Batch, _pool: &mut PacketPool) -> usize {
        0
    }

    /// Translation never outputs to a virtual port directly (a tunnel
    /// output is a push onto a link); anything that does is dropped.
    fn tx_batch(&self, _txq: usize, packets: &mut Vec<Packet>, pool: &mut PacketPool) {
        self.tx_dropped.fetch_add(packets.len() as u64, Relaxed);
        pool.put_all(packets);
    }

    fn stats(&self) -> PortStats {
        PortStats {
            tx_dropped: self.tx_dropped.load(Relaxed),
            ..PortStats::default()
        }
    }

    fn rx_fd(&self, _rxq: usize) -> Option<RawFd> {
        Some(self.idle.0.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_one_end_sends_the_other_receives_and_a_full_queue_drops() {
        let (a, b) = LinkPort::pair("a", "b").unwrap();
        let mut pool = PacketPool::new();
        let mut out: Vec<Packet> = (0..3).map(|i| Packet::from_bytes(&[i; 60])).collect();
        a.tx_batch(0, &mut out, &mut pool);
        assert!(out.is_empty());
        assert!(
            b.prepare_sleep(0),
            "queued packets must keep the worker awake"
        );
        let mut batch = Batch::new();
        assert_eq!(b.rx_batch(0, &mut batch, &mut pool), 3);
        assert_eq!(batch.packets[2].data(), &[2; 60]);
        assert!(!b.prepare_sleep(0));
        assert_eq!(a.rx_batch(0, &mut Batch::new(), &mut pool), 0);

        for _ in 0..LINK_QUEUE_LEN / BATCH_SIZE + 1 {
            let mut out: Vec<Packet> = (0..BATCH_SIZE)
                .map(|_| Packet::from_bytes(&[0; 60]))
                .collect();
            a.tx_batch(0, &mut out, &mut pool);
        }
        assert_eq!(a.stats().tx_dropped, BATCH_SIZE as u64);
        assert_eq!(a.stats().tx_packets, 3 + LINK_QUEUE_LEN as u64);
    }

    /// Whether the receiving end's eventfd was signalled (and clear it).
    fn signalled(end: &LinkPort) -> bool {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from the end's own
        // non-blocking eventfd.
        let n = unsafe { libc::read(end.inbox.wake.0.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        n == 8
    }

    #[test]
    fn only_a_receiver_about_to_sleep_is_woken() {
        let (a, b) = LinkPort::pair("a", "b").unwrap();
        let mut pool = PacketPool::new();
        // Awake (it polls): a send costs no eventfd write.
        assert_eq!(b.rx_batch(0, &mut Batch::new(), &mut pool), 0);
        assert!(a.inject(Packet::from_bytes(&[1; 60])));
        assert!(!signalled(&b));
        // Before sleeping it finds what is queued, and does not sleep.
        assert!(b.prepare_sleep(0));
        assert_eq!(b.rx_batch(0, &mut Batch::new(), &mut pool), 1);
        // Asleep: the next send wakes it.
        assert!(!b.prepare_sleep(0));
        assert!(a.inject(Packet::from_bytes(&[2; 60])));
        assert!(signalled(&b));
    }

    #[test]
    fn an_arrival_forgets_its_tunnel_metadata_and_mark() {
        let (a, b) = LinkPort::pair("a", "b").unwrap();
        let mut p = Packet::from_bytes(&[0; 60]);
        p.mark = 7;
        p.tunnel.id = 42;
        p.tunnel.flags = crate::tunnel::TUN_PRESENT;
        assert!(a.inject(p));
        let mut batch = Batch::new();
        b.rx_batch(0, &mut batch, &mut PacketPool::new());
        assert_eq!(batch.packets[0].mark, 0);
        assert_eq!(batch.packets[0].tunnel.flags, 0);
    }
}

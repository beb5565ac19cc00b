//! The datapath's view of a vhost-user guest: a [`Port`].
//!
//! The guest's transmit queue is the port's receive queue and the guest's
//! receive queue its transmit queue. A datapath worker polls the first in
//! [`Port::rx_batch`] and any worker fills the second in
//! [`Port::tx_batch`], a batch at a time under the vring's lock.
//!
//! The one idea: everything a connection owns (guest memory, the rings)
//! lives in one [`Session`] that the vhost-user side publishes when the
//! guest's queues come up and withdraws when the connection ends; the
//! datapath side only ever reads it. Between sessions the port exists,
//! counts what it could not deliver, and its wake-up eventfd stays the same,
//! so the worker's epoll registration never goes stale. A guest fault found
//! while polling ([`GuestError`]) stops the port: the session is dropped,
//! the connection is shut down with a logged reason, and the next
//! connection starts clean.

use crate::backend::GuestMem;
use crate::net::NetFeatures;
use crate::ring::{Delivery, GuestError, GuestRx, GuestTx};
use datapath::netdev::{Port, PortCaps, PortStats};
use datapath::packet::{Batch, Packet, PacketPool, BATCH_SIZE};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use vhost_user_backend::{VringRwLock, VringT};
use vm_memory::GuestAddressSpace;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// Queue pairs: one (receiveq 0, transmitq 1).
pub const NUM_QUEUES: usize = 2;
/// The guest's receive queue (our transmit direction).
pub const GUEST_RX_QUEUE: usize = 0;
/// The guest's transmit queue (our receive direction).
pub const GUEST_TX_QUEUE: usize = 1;

/// What one vhost-user connection owns.
pub struct Session {
    pub mem: GuestMem,
    pub vrings: Vec<VringRwLock>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("vrings", &self.vrings.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Counters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_dropped: AtomicU64,
    rx_errors: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_dropped: AtomicU64,
    tx_errors: AtomicU64,
}

/// State shared by the port, the vhost-user backend and the connection
/// thread.
pub struct Shared {
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u16,
    session: RwLock<Option<Session>>,
    generation: AtomicU64,
    acked: AtomicU64,
    /// Set when a guest fault stopped the port; cleared by the next session.
    broken: AtomicBool,
    /// Readable when the guest kicked its transmit queue.
    wake: EventFd,
    counters: Counters,
    guest_tx: Mutex<GuestTx>,
    guest_rx: Mutex<GuestRx>,
    /// Closes the current connection (set by the connection thread).
    pub(crate) shutdown: Mutex<Option<vhost_user_backend::ShutdownHandle>>,
    pub(crate) stop: AtomicBool,
    /// Number of guest faults that stopped the port.
    pub(crate) guest_faults: AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("name", &self.name)
            .field("session", &*self.session_read())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub fn new(name: &str, mac: [u8; 6], mtu: u16) -> std::io::Result<Self> {
        Ok(Shared {
            name: name.to_string(),
            mac,
            mtu,
            session: RwLock::new(None),
            generation: AtomicU64::new(1),
            acked: AtomicU64::new(0),
            broken: AtomicBool::new(false),
            wake: EventFd::new(EFD_NONBLOCK)?,
            counters: Counters::default(),
            guest_tx: Mutex::new(GuestTx::new()),
            guest_rx: Mutex::new(GuestRx::new()),
            shutdown: Mutex::new(None),
            stop: AtomicBool::new(false),
            guest_faults: AtomicU64::new(0),
        })
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    pub fn set_acked(&self, features: u64) {
        self.acked.store(features, Relaxed);
    }

    fn features(&self) -> NetFeatures {
        NetFeatures::from_acked(self.acked.load(Relaxed))
    }

    /// Publish the connection's rings, once, if `generation` is current.
    pub fn publish_session(&self, generation: u64, make: impl FnOnce() -> Session) {
        let current = || generation == self.generation.load(Relaxed);
        if !current() || self.session_read().is_some() {
            return;
        }
        let mut s = self.session.write().unwrap_or_else(|e| e.into_inner());
        if s.is_none() && current() {
            *s = Some(make());
            self.broken.store(false, Relaxed);
            tracing::info!(port = %self.name, "guest queues up");
        }
    }

    /// Forget the connection: called when it ended.
    pub fn end_session(&self) {
        let mut s = self.session.write().unwrap_or_else(|e| e.into_inner());
        *s = None;
        self.generation.fetch_add(1, Relaxed);
        self.acked.store(0, Relaxed);
        self.broken.store(false, Relaxed);
    }

    fn session_read(&self) -> std::sync::RwLockReadGuard<'_, Option<Session>> {
        self.session.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Wake the worker polling the guest's transmit queue.
    pub fn wake(&self) {
        let _ = self.wake.write(1);
    }

    fn drain_wake(&self) {
        let _ = self.wake.read();
    }

    /// Stop the port after a guest fault: log why, close the connection.
    fn fault(&self, e: &GuestError) {
        if self.broken.swap(true, Relaxed) {
            return;
        }
        self.guest_faults.fetch_add(1, Relaxed);
        tracing::error!(port = %self.name, reason = %e, "guest misbehaved: port stopped, connection reset");
        let handle = self.shutdown.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = handle.as_ref() {
            h.shutdown();
        }
    }

    fn rx(&self, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        let room = BATCH_SIZE.saturating_sub(batch.len());
        if room == 0 || self.broken.load(Relaxed) {
            return 0;
        }
        let session = self.session_read();
        let Some(s) = session.as_ref() else {
            self.drain_wake();
            return 0;
        };
        let Some(vring) = s.vrings.get(GUEST_TX_QUEUE) else {
            return 0;
        };
        let mut st = vring.get_mut();
        if !st.is_enabled() || !virtio_queue::QueueT::ready(st.get_queue()) {
            self.drain_wake();
            return 0;
        }
        let mem = s.mem.memory();
        let features = self.features();
        let result = {
            let mut tx = self.guest_tx.lock().unwrap_or_else(|e| e.into_inner());
            tx.pop(st.get_queue_mut(), &*mem, features, room, batch, pool)
        };
        let tally = match result {
            Ok(t) => t,
            Err(e) => {
                drop(st);
                self.fault(&e);
                return 0;
            }
        };
        let c = &self.counters;
        if tally.chains > 0 {
            c.rx_packets.fetch_add(u64::from(tally.packets), Relaxed);
            c.rx_bytes.fetch_add(tally.bytes, Relaxed);
            if tally.dropped > 0 {
                c.rx_errors.fetch_add(u64::from(tally.dropped), Relaxed);
            }
            // Busy: keep the guest from kicking; give back its buffers.
            let _ = st.disable_notification();
            if st.needs_notification().unwrap_or(true) {
                let _ = st.signal_used_queue();
            }
        } else {
            // Idle: re-arm the guest's kick before the worker may sleep,
            // then look once more (the kick may have raced the re-arm).
            self.drain_wake();
            if st.enable_notification().unwrap_or(true) {
                self.wake();
            }
        }
        tally.packets as usize
    }

    fn tx(&self, packets: &[Packet]) {
        let n = packets.len() as u64;
        let c = &self.counters;
        let session = self.session_read();
        let vring = session
            .as_ref()
            .filter(|_| !self.broken.load(Relaxed))
            .and_then(|s| s.vrings.get(GUEST_RX_QUEUE).map(|v| (s, v)));
        let Some((s, vring)) = vring else {
            // No guest, or its port is stopped: counted, not silently lost.
            c.tx_dropped.fetch_add(n, Relaxed);
            return;
        };
        let mut st = vring.get_mut();
        if !st.is_enabled() || !virtio_queue::QueueT::ready(st.get_queue()) {
            c.tx_dropped.fetch_add(n, Relaxed);
            return;
        }
        let mem = s.mem.memory();
        let features = self.features();
        let (mut sent, mut bytes, mut dropped) = (0u64, 0u64, 0u64);
        let mut fault = None;
        {
            let mut rx = self.guest_rx.lock().unwrap_or_else(|e| e.into_inner());
            for p in packets.iter() {
                match rx.push(st.get_queue_mut(), &*mem, features, p) {
                    Ok(Delivery::Delivered(_)) => {
                        sent += 1;
                        bytes += p.len() as u64;
                    }
                    Ok(Delivery::NoBuffers | Delivery::TooBig) => dropped += 1,
                    Err(e) => {
                        fault = Some(e);
                        break;
                    }
                }
            }
        }
        if sent > 0 && st.needs_notification().unwrap_or(true) {
            let _ = st.signal_used_queue();
        }
        drop(st);
        c.tx_packets.fetch_add(sent, Relaxed);
        c.tx_bytes.fetch_add(bytes, Relaxed);
        if let Some(e) = fault {
            c.tx_errors.fetch_add(n - sent - dropped, Relaxed);
            drop(session);
            self.fault(&e);
        }
        if dropped > 0 {
            c.tx_dropped.fetch_add(dropped, Relaxed);
        }
    }

    fn stats(&self) -> PortStats {
        let c = &self.counters;
        PortStats {
            rx_packets: c.rx_packets.load(Relaxed),
            rx_bytes: c.rx_bytes.load(Relaxed),
            rx_dropped: c.rx_dropped.load(Relaxed),
            rx_errors: c.rx_errors.load(Relaxed) + self.guest_faults.load(Relaxed),
            tx_packets: c.tx_packets.load(Relaxed),
            tx_bytes: c.tx_bytes.load(Relaxed),
            tx_dropped: c.tx_dropped.load(Relaxed),
            tx_errors: c.tx_errors.load(Relaxed),
        }
    }

    fn connected(&self) -> bool {
        self.session_read().is_some() && !self.broken.load(Relaxed)
    }
}

/// A vhost-user virtio-net port.
#[derive(Debug)]
pub struct VhostUserPort {
    pub(crate) shared: Arc<Shared>,
    pub(crate) kind: &'static str,
    pub(crate) thread: Option<std::thread::JoinHandle<()>>,
}

impl VhostUserPort {
    /// Guest faults that stopped this port so far.
    pub fn guest_faults(&self) -> u64 {
        self.shared.guest_faults.load(Relaxed)
    }

    /// Whether a guest is connected with its queues up.
    pub fn connected(&self) -> bool {
        self.shared.connected()
    }
}

impl Port for VhostUserPort {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn caps(&self) -> PortCaps {
        PortCaps {
            tx_csum_partial: self.shared.features().guest_csum,
            tx_tso: false,
            mtu: u32::from(self.shared.mtu),
        }
    }

    fn rx_batch(&self, _rxq: usize, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        self.shared.rx(batch, pool)
    }

    fn tx_batch(&self, _txq: usize, packets: &mut Vec<Packet>, pool: &mut PacketPool) {
        self.shared.tx(packets);
        pool.put_all(packets);
    }

    fn stats(&self) -> PortStats {
        self.shared.stats()
    }

    fn rx_fd(&self, _rxq: usize) -> Option<RawFd> {
        Some(self.shared.wake.as_raw_fd())
    }

    fn mac(&self) -> Option<[u8; 6]> {
        Some(self.shared.mac)
    }

    fn link_up(&self) -> bool {
        self.shared.connected()
    }
}

impl Drop for VhostUserPort {
    fn drop(&mut self) {
        self.shared.stop.store(true, Relaxed);
        if let Some(h) = self
            .shared
            .shutdown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            h.shutdown();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

//! The datapath's view of a vhost-user guest: a [`Port`].
//!
//! Queue pair `i` is the guest's receive queue `2i` (our transmit
//! direction) and its transmit queue `2i + 1` (our receive direction); the
//! control queue comes last (`2 * pairs`). The port has one receive queue
//! per pair, each polled by a datapath worker in [`Port::rx_batch`] and
//! each with its own wake-up eventfd, and any worker fills a guest receive
//! queue in [`Port::tx_batch`], a batch at a time under that vring's lock.
//! A packet goes to the pair the worker's transmit queue maps to, or, when
//! the guest has not enabled that pair, to the next pair it has enabled;
//! with none enabled it is counted as dropped (`tx_no_queue`).
//!
//! The one idea: everything a connection owns (guest memory, the rings)
//! lives in one [`Session`] that the vhost-user side publishes when the
//! guest's queues come up and withdraws when the connection ends; the
//! datapath side only ever reads it. Between sessions the port exists,
//! counts what it could not deliver, and its wake-up eventfds stay the
//! same, so the workers' epoll registrations never go stale. A guest fault
//! found while polling ([`GuestError`]) stops the port: the session is
//! dropped, the connection is shut down with a logged reason, and the next
//! connection starts clean.

use crate::ctrl::{Command, GuestCtrl};
use crate::net::NetFeatures;
use crate::ring::{resume_at_used, should_notify, GuestError, GuestRx, GuestTx, RxTally};
use datapath::netdev::{Port, PortCaps, PortStats};
use datapath::packet::{Batch, Packet, PacketPool, BATCH_SIZE};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use vhost_user_backend::{VringRwLock, VringState, VringT};
use virtio_queue::QueueT;
use vm_memory::{GuestAddressSpace, GuestMemoryMmap};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// Guest memory as the vhost-user framework maps it (replaced in place on
/// every memory table change).
pub type GuestMem = vm_memory::GuestMemoryAtomic<GuestMemoryMmap>;

/// Whether a vring carries packets: the guest enabled it and its
/// addresses are set.
fn live(st: &VringState) -> bool {
    st.is_enabled() && QueueT::ready(st.get_queue())
}

/// Most queue pairs a port offers (the datapath polls one queue per pair).
pub const MAX_QUEUE_PAIRS: u16 = 16;

/// The guest's receive queue of pair `pair` (our transmit direction).
pub fn guest_rx_queue(pair: usize) -> usize {
    2 * pair
}

/// The guest's transmit queue of pair `pair` (our receive direction).
pub fn guest_tx_queue(pair: usize) -> usize {
    2 * pair + 1
}

/// The control queue of a device with `pairs` queue pairs.
pub fn ctrl_queue(pairs: u16) -> usize {
    2 * usize::from(pairs)
}

/// What one vhost-user connection owns.
pub struct Session {
    pub mem: GuestMem,
    pub vrings: Vec<VringRwLock>,
    /// Per vring: lined up with the driver's used ring already.
    resumed: Vec<AtomicBool>,
}

impl Session {
    pub fn new(mem: GuestMem, vrings: Vec<VringRwLock>) -> Self {
        let resumed = vrings.iter().map(|_| AtomicBool::new(false)).collect();
        Session {
            mem,
            vrings,
            resumed,
        }
    }

    /// The first time this connection uses vring `index`, start where the
    /// driver's used ring is (see [`resume_at_used`]). A guest receive
    /// queue is also told never to kick: buffers it adds are found when a
    /// packet comes, and each kick would wake a thread for nothing.
    fn resume(&self, port: &str, index: usize, st: &mut VringState, mem: &GuestMemoryMmap) {
        if self
            .resumed
            .get(index)
            .is_none_or(|r| r.swap(true, Relaxed))
        {
            return;
        }
        if index.is_multiple_of(2) {
            let _ = st.disable_notification();
        }
        if let Some((was, now)) = resume_at_used(st.get_queue_mut(), mem) {
            tracing::warn!(
                port,
                queue = index,
                was,
                now,
                "vring resumed at the guest's used index"
            );
        }
    }
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
    /// Packets for the guest while it had no receive queue enabled.
    tx_no_queue: AtomicU64,
    /// Control-queue commands answered.
    ctrl_commands: AtomicU64,
}

/// One queue pair's device-side state.
#[derive(Debug)]
struct Pair {
    /// Readable when the guest kicked this pair's transmit queue.
    wake: EventFd,
    guest_tx: Mutex<GuestTx>,
    guest_rx: Mutex<GuestRx>,
    /// The guest was asked to kick this pair's transmit queue.
    kicks_armed: AtomicBool,
}

/// State shared by the port, the vhost-user backend and the connection
/// thread.
pub struct Shared {
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u16,
    /// Queue pairs offered.
    pub pairs: u16,
    /// Queue pairs the driver said it uses (control queue); all of them
    /// until it says otherwise.
    active_pairs: AtomicU16,
    session: RwLock<Option<Session>>,
    generation: AtomicU64,
    acked: AtomicU64,
    /// Set when a guest fault stopped the port; cleared by the next session.
    broken: AtomicBool,
    counters: Counters,
    queue_pairs: Vec<Pair>,
    guest_ctrl: Mutex<GuestCtrl>,
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
    pub fn new(name: &str, mac: [u8; 6], mtu: u16, pairs: u16) -> std::io::Result<Self> {
        let pairs = pairs.clamp(1, MAX_QUEUE_PAIRS);
        let queue_pairs = (0..pairs)
            .map(|_| {
                Ok(Pair {
                    wake: EventFd::new(EFD_NONBLOCK)?,
                    guest_tx: Mutex::new(GuestTx::new()),
                    guest_rx: Mutex::new(GuestRx::new()),
                    // A new ring starts with notifications on.
                    kicks_armed: AtomicBool::new(true),
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Shared {
            name: name.to_string(),
            mac,
            mtu,
            pairs,
            active_pairs: AtomicU16::new(pairs),
            session: RwLock::new(None),
            generation: AtomicU64::new(1),
            acked: AtomicU64::new(0),
            broken: AtomicBool::new(false),
            counters: Counters::default(),
            queue_pairs,
            guest_ctrl: Mutex::new(GuestCtrl::default()),
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

    /// Whether a guest fault stopped the port (until the next session).
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Relaxed)
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
        self.active_pairs.store(self.pairs, Relaxed);
        for qp in &self.queue_pairs {
            qp.kicks_armed.store(true, Relaxed);
        }
        self.broken.store(false, Relaxed);
    }

    fn session_read(&self) -> std::sync::RwLockReadGuard<'_, Option<Session>> {
        self.session.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Wake the worker polling the transmit queue of pair `pair`.
    pub fn wake(&self, pair: usize) {
        if let Some(p) = self.queue_pairs.get(pair) {
            let _ = p.wake.write(1);
        }
    }

    /// Answer the commands on the control queue (on the vhost-user
    /// thread: commands are rare and never on the packet path).
    pub fn serve_ctrl(&self, vring: &VringRwLock, mem: &GuestMem) {
        let mut st = vring.get_mut();
        if !live(&st) {
            return;
        }
        let mem = mem.memory();
        let old = QueueT::next_used(st.get_queue());
        let result = {
            let mut ctrl = self.guest_ctrl.lock().unwrap_or_else(|e| e.into_inner());
            ctrl.serve(st.get_queue_mut(), &*mem, self.pairs, |cmd| match cmd {
                Command::SetPairs(n) => {
                    tracing::info!(port = %self.name, pairs = n, "guest set its queue pairs");
                    self.active_pairs.store(n, Relaxed);
                }
                other => {
                    tracing::debug!(port = %self.name, command = ?other, "control command refused")
                }
            })
        };
        match result {
            Ok(0) => {}
            Ok(n) => {
                self.counters.ctrl_commands.fetch_add(u64::from(n), Relaxed);
                if should_notify(st.get_queue(), &*mem, old) {
                    let _ = st.signal_used_queue();
                }
            }
            Err(e) => {
                drop(st);
                self.fault(&e);
            }
        }
    }

    /// Stop the port after a guest fault: log why, close the connection.
    pub(crate) fn fault(&self, e: &GuestError) {
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

    fn rx(&self, pair: usize, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        let room = BATCH_SIZE.saturating_sub(batch.len());
        let Some(qp) = self.queue_pairs.get(pair) else {
            return 0;
        };
        if room == 0 || self.broken.load(Relaxed) {
            return 0;
        }
        let drain_wake = || {
            let _ = qp.wake.read();
        };
        let session = self.session_read();
        let Some(s) = session.as_ref() else {
            drain_wake();
            return 0;
        };
        let Some(vring) = s.vrings.get(guest_tx_queue(pair)) else {
            return 0;
        };
        let mut st = vring.get_mut();
        if !live(&st) {
            drain_wake();
            return 0;
        }
        let mem = s.mem.memory();
        s.resume(&self.name, guest_tx_queue(pair), &mut st, &mem);
        let features = self.features();
        let old = QueueT::next_used(st.get_queue());
        let result = {
            let mut tx = qp.guest_tx.lock().unwrap_or_else(|e| e.into_inner());
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
            // Busy: the guest need not kick while we poll (re-armed only
            // when the worker is about to sleep); give back its buffers.
            if qp.kicks_armed.swap(false, Relaxed) {
                let _ = st.disable_notification();
            }
            if should_notify(st.get_queue(), &*mem, old) {
                let _ = st.signal_used_queue();
            }
        }
        tally.packets as usize
    }

    /// Before the worker polling pair `pair` sleeps: ask the guest to kick
    /// again, then look once more (a chain may have raced the re-arm).
    /// True when chains are waiting and the worker must not sleep.
    fn prepare_sleep(&self, pair: usize) -> bool {
        let Some(qp) = self.queue_pairs.get(pair) else {
            return false;
        };
        let _ = qp.wake.read();
        let session = self.session_read();
        let Some(vring) = session
            .as_ref()
            .and_then(|s| s.vrings.get(guest_tx_queue(pair)))
        else {
            return false;
        };
        let mut st = vring.get_mut();
        if self.broken.load(Relaxed) || !live(&st) {
            return false;
        }
        qp.kicks_armed.store(true, Relaxed);
        st.enable_notification().unwrap_or(true)
    }

    fn tx(&self, txq: usize, packets: &[Packet]) {
        // The session lock is released before a fault shuts the connection.
        if let Some(e) = self.tx_locked(txq, packets) {
            self.fault(&e);
        }
    }

    fn tx_locked(&self, txq: usize, packets: &[Packet]) -> Option<GuestError> {
        let n = packets.len() as u64;
        let c = &self.counters;
        let session = self.session_read();
        let Some(s) = session.as_ref().filter(|_| !self.broken.load(Relaxed)) else {
            // No guest, or its port is stopped: counted, not silently lost.
            c.tx_dropped.fetch_add(n, Relaxed);
            return None;
        };
        // The pair this transmit queue maps to, or the next one the guest
        // has enabled.
        let in_use = usize::from(self.active_pairs.load(Relaxed).clamp(1, self.pairs));
        let first = txq % in_use;
        let picked = (0..in_use).find_map(|i| {
            let pair = (first + i) % in_use;
            let st = s.vrings.get(guest_rx_queue(pair))?.get_mut();
            live(&st).then_some((pair, st))
        });
        let Some((pair, mut st)) = picked else {
            c.tx_dropped.fetch_add(n, Relaxed);
            c.tx_no_queue.fetch_add(n, Relaxed);
            return None;
        };
        let mem = s.mem.memory();
        s.resume(&self.name, guest_rx_queue(pair), &mut st, &mem);
        let features = self.features();
        let old = QueueT::next_used(st.get_queue());
        let mut tally = RxTally::default();
        let fault = self.queue_pairs[pair]
            .guest_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_batch(st.get_queue_mut(), &*mem, features, packets, &mut tally)
            .err();
        if should_notify(st.get_queue(), &*mem, old) {
            let _ = st.signal_used_queue();
        }
        drop(st);
        c.tx_packets.fetch_add(tally.delivered, Relaxed);
        c.tx_bytes.fetch_add(tally.bytes, Relaxed);
        if fault.is_some() {
            c.tx_errors
                .fetch_add(n - tally.delivered - tally.dropped, Relaxed);
        }
        if tally.dropped > 0 {
            c.tx_dropped.fetch_add(tally.dropped, Relaxed);
        }
        fault
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
    /// A server port's socket file, removed once the connection thread
    /// has stopped listening (fields drop after `Drop::drop`).
    pub(crate) socket: Option<crate::socket_file::SocketFile>,
}

impl VhostUserPort {
    /// Guest faults that stopped this port so far.
    pub fn guest_faults(&self) -> u64 {
        self.shared.guest_faults.load(Relaxed)
    }

    /// Packets for the guest dropped because it had no receive queue
    /// enabled (also counted in `tx_dropped`).
    pub fn tx_no_queue(&self) -> u64 {
        self.shared.counters.tx_no_queue.load(Relaxed)
    }

    /// Control-queue commands answered.
    pub fn ctrl_commands(&self) -> u64 {
        self.shared.counters.ctrl_commands.load(Relaxed)
    }

    /// Queue pairs offered to the guest.
    pub fn queue_pairs(&self) -> u16 {
        self.shared.pairs
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

    fn n_rxq(&self) -> usize {
        usize::from(self.shared.pairs)
    }

    fn n_txq(&self) -> usize {
        usize::from(self.shared.pairs)
    }

    fn caps(&self) -> PortCaps {
        PortCaps {
            tx_csum_partial: self.shared.features().guest_csum,
            tx_tso: false,
            mtu: u32::from(self.shared.mtu),
        }
    }

    fn rx_batch(&self, rxq: usize, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        self.shared.rx(rxq, batch, pool)
    }

    fn tx_batch(&self, txq: usize, packets: &mut Vec<Packet>, pool: &mut PacketPool) {
        self.shared.tx(txq, packets);
        pool.put_all(packets);
    }

    fn stats(&self) -> PortStats {
        self.shared.stats()
    }

    fn prepare_sleep(&self, rxq: usize) -> bool {
        self.shared.prepare_sleep(rxq)
    }

    fn rx_fd(&self, rxq: usize) -> Option<RawFd> {
        self.shared.queue_pairs.get(rxq).map(|p| p.wake.as_raw_fd())
    }

    fn mac(&self) -> Option<[u8; 6]> {
        Some(self.shared.mac)
    }

    fn link_up(&self) -> bool {
        self.shared.connected()
    }

    fn custom_stats(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("guest_faults", self.guest_faults()),
            ("tx_no_queue", self.tx_no_queue()),
            ("ctrl_commands", self.ctrl_commands()),
        ]
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

//! Workers: the loop that moves packets.
//!
//! A datapath has a fixed number of workers; each owns its caches (an
//! [`ExactMatchCache`] and a [`Classifier`]), its packet pool and a list of
//! receive queues, and runs on a PMD thread of a [`PmdPool`](crate::pmd)
//! (worker `i` on thread `i`), which may also run other datapaths' workers.
//! One turn ([`WorkerLoop::poll_once`]): apply pending commands from the
//! dpif, receive a batch from each assigned queue, classify it (EMC, then
//! megaflows for the batch, then a bounded number of upcalls), execute the
//! actions, flush per-port transmit batches (through a port's egress QoS
//! when it has one, [`crate::qos`]), and, while any port's queues hold
//! packets, send what its scheduler lets go.
//!
//! The one idea: nothing on the hit path takes a lock or allocates. The port
//! table and the queue assignment are immutable snapshots (`arc-swap`); the
//! dpif talks to the worker through a command queue that the worker drains
//! between batches; counters are relaxed atomics with one writer.
//!
//! When none of its workers has seen packets for a while, a PMD thread
//! sleeps in epoll on their queues' file descriptors and its waker, so an
//! idle switch burns no CPU.

use crate::actions::Actions;
use crate::cache::megaflow::LookupStats;
use crate::cache::{Classifier, ExactMatchCache, Megaflow};
use crate::capture::{Direction, Taps};
use crate::config::DpifConfig;
use crate::exec::{execute, ExecSink};
use crate::flow::{extract, FlowKey};
use crate::meter::{MeterHook, MeterVerdict};
use crate::netdev::Port;
use crate::netdev::PortCaps;
use crate::offload;
use crate::packet::{Batch, Offload, Packet, PacketPool, BATCH_SIZE};
use crate::port_table::{PortEntry, PortTable};
use crate::qos::QosTable;
use crate::upcall::UpcallHandler;
use crate::PortNo;
use arc_swap::ArcSwap;
use mio::Waker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How often subtables are re-ranked.
const RERANK_INTERVAL: Duration = Duration::from_secs(1);
/// Passes a packet may take through the datapath (recirculations + 1).
const MAX_PASSES: u32 = 5;

/// What every worker shares: settings, the port table, the handler above,
/// the meters, and the datapath clock. The dpif creates it.
#[derive(Debug)]
pub struct Shared {
    pub(crate) config: DpifConfig,
    pub(crate) ports: ArcSwap<PortTable>,
    pub(crate) handler: Arc<dyn UpcallHandler>,
    pub(crate) meters: Option<Arc<dyn MeterHook>>,
    pub(crate) next_flow_id: AtomicU64,
    pub(crate) epoch: Instant,
    /// Live captures on this datapath's ports.
    pub(crate) taps: Arc<Taps>,
    /// Egress QoS and ingress policers by port ([`crate::qos`]).
    pub(crate) qos: ArcSwap<QosTable>,
    /// Whether `qos` has anything: the one load the fast path pays
    /// without QoS.
    pub(crate) qos_any: AtomicBool,
}

impl Shared {
    /// Milliseconds since the datapath started (the clock of `used_ms`).
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Seconds since the datapath started (the QoS clock).
    pub(crate) fn now_secs(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }
}

impl std::fmt::Debug for dyn UpcallHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpcallHandler")
    }
}

/// One receive queue assigned to a worker.
#[derive(Debug, Clone)]
pub struct RxqRef {
    pub port_no: PortNo,
    pub port: Arc<dyn Port>,
    pub rxq: usize,
    /// Nanoseconds this worker spent processing packets from this queue.
    pub busy_ns: Arc<AtomicU64>,
}

/// Counters of one worker (monotonic, relaxed).
#[derive(Debug, Default)]
pub struct WorkerCounters {
    pub rx_packets: AtomicU64,
    pub tx_packets: AtomicU64,
    pub dropped: AtomicU64,
    pub emc_hits: AtomicU64,
    pub megaflow_hits: AtomicU64,
    pub misses: AtomicU64,
    pub lost_upcalls: AtomicU64,
    pub subtables_searched: AtomicU64,
    pub busy_ns: AtomicU64,
    pub idle_sleeps: AtomicU64,
    pub recirculations: AtomicU64,
    /// Packets tunnel actions dropped, by reason.
    pub tunnel: crate::tunnel::TunnelCounters,
}

/// A snapshot of [`WorkerCounters`] plus derived figures.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct WorkerStats {
    pub worker: usize,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub dropped: u64,
    pub emc_hits: u64,
    pub megaflow_hits: u64,
    pub misses: u64,
    pub lost_upcalls: u64,
    pub recirculations: u64,
    pub idle_sleeps: u64,
    /// Packets tunnel actions dropped, by reason.
    pub tunnel_drops: crate::tunnel::TunnelDrops,
    /// Average subtables probed per megaflow hit.
    pub avg_subtables_per_hit: f64,
    /// Busy processing time per received packet, in nanoseconds.
    pub ns_per_packet: f64,
    pub megaflows: usize,
    pub rxqs: usize,
}

/// What the dpif asks of a worker.
#[derive(Debug)]
pub(crate) enum Command {
    Put(Arc<Megaflow>),
    Delete(Arc<Megaflow>),
    Flush,
    /// Reply once every earlier command is applied and no packet from an
    /// earlier port table is still in flight.
    Sync(mpsc::Sender<()>),
}

/// The part of a worker the dpif sees.
#[derive(Debug)]
pub struct WorkerShared {
    pub id: usize,
    pub counters: WorkerCounters,
    pub(crate) assignment: ArcSwap<Vec<RxqRef>>,
    /// Every megaflow installed in this worker, by id (for dumps).
    pub(crate) flows: Mutex<std::collections::HashMap<u64, Arc<Megaflow>>>,
    commands: Mutex<VecDeque<Command>>,
    pending: AtomicBool,
    /// The waker of the PMD thread that runs this worker.
    waker: Arc<Waker>,
    stop: AtomicBool,
    /// Set by the PMD thread once it dropped this worker's loop.
    pub(crate) retired: AtomicBool,
}

impl WorkerShared {
    pub(crate) fn send(&self, cmd: Command) {
        if let Ok(mut q) = self.commands.lock() {
            q.push_back(cmd);
        }
        self.pending.store(true, Ordering::Release);
        self.wake();
    }

    pub(crate) fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            tracing::warn!(worker = self.id, "cannot wake worker: {e}");
        }
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
    }

    /// Wait (up to `timeout`) until the PMD thread has dropped this
    /// worker's loop; false if it did not in time.
    pub(crate) fn wait_retired(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.retired.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    pub fn stats(&self) -> WorkerStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let rx = get(&c.rx_packets);
        let mf = get(&c.megaflow_hits);
        WorkerStats {
            worker: self.id,
            rx_packets: rx,
            tx_packets: get(&c.tx_packets),
            dropped: get(&c.dropped),
            emc_hits: get(&c.emc_hits),
            megaflow_hits: mf,
            misses: get(&c.misses),
            lost_upcalls: get(&c.lost_upcalls),
            recirculations: get(&c.recirculations),
            idle_sleeps: get(&c.idle_sleeps),
            tunnel_drops: c.tunnel.snapshot(),
            avg_subtables_per_hit: if mf == 0 {
                0.0
            } else {
                get(&c.subtables_searched) as f64 / mf as f64
            },
            ns_per_packet: if rx == 0 {
                0.0
            } else {
                get(&c.busy_ns) as f64 / rx as f64
            },
            megaflows: self.flows.lock().map(|f| f.len()).unwrap_or(0),
            rxqs: self.assignment.load().len(),
        }
    }
}

/// One worker of a datapath: its shared half (what the dpif talks to);
/// its loop runs on a PMD thread of a [`PmdPool`](crate::pmd::PmdPool).
#[derive(Debug)]
pub(crate) struct Worker {
    pub shared: Arc<WorkerShared>,
}

impl Worker {
    /// Worker `id` of datapath `dp`, run by the pool's PMD thread `id`.
    pub fn start(
        id: usize,
        dp: Arc<Shared>,
        pool: &crate::pmd::PmdPool,
    ) -> std::io::Result<Worker> {
        let pmd = pool.thread(id)?;
        let shared = Arc::new(WorkerShared {
            id,
            counters: WorkerCounters::default(),
            assignment: ArcSwap::from_pointee(Vec::new()),
            flows: Mutex::new(Default::default()),
            commands: Mutex::new(VecDeque::new()),
            pending: AtomicBool::new(false),
            waker: pmd.waker(),
            stop: AtomicBool::new(false),
            retired: AtomicBool::new(false),
        });
        pmd.adopt(WorkerLoop::new(shared.clone(), dp));
        Ok(Worker { shared })
    }
}

/// Two token buckets bounding upcalls: their number per second, and the
/// share of the worker's time spent translating them (nanoseconds earned
/// at `cpu_share` of the wall clock, up to one second's worth). Inline
/// translation is cheap per miss, but a flood of new flows would otherwise
/// take the worker from the established ones.
#[derive(Debug)]
struct UpcallBudget {
    tokens: f64,
    rate: f64,
    cpu_ns: f64,
    cpu_share: f64,
    last: Instant,
}

impl UpcallBudget {
    fn new(cfg: &DpifConfig) -> UpcallBudget {
        let cpu_share = f64::from(cfg.upcall_cpu_percent.clamp(1, 100)) / 100.0;
        UpcallBudget {
            tokens: cfg.upcalls_per_sec as f64,
            rate: cfg.upcalls_per_sec as f64,
            cpu_ns: cpu_share * 1e9,
            cpu_share,
            last: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.rate.max(1.0));
        self.cpu_ns = (self.cpu_ns + dt * 1e9 * self.cpu_share).min(self.cpu_share * 1e9);
        if self.tokens >= 1.0 && self.cpu_ns >= 0.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// An upcall took `ns`.
    fn spent(&mut self, ns: f64) {
        self.cpu_ns -= ns;
    }
}

pub(crate) struct WorkerLoop {
    shared: Arc<WorkerShared>,
    dp: Arc<Shared>,
    last_rank: Instant,
    batch: Batch,
    emc: ExactMatchCache,
    classifier: Classifier,
    pool: PacketPool,
    tx: Vec<Vec<Packet>>,
    budget: UpcallBudget,
    keys: Box<[FlowKey; BATCH_SIZE]>,
    recirc: Vec<Packet>,
    offload_scratch: Vec<Packet>,
}

impl WorkerLoop {
    fn new(shared: Arc<WorkerShared>, dp: Arc<Shared>) -> Self {
        let cfg: &DpifConfig = &dp.config;
        WorkerLoop {
            emc: ExactMatchCache::new(cfg.emc_entries, cfg.emc_insert_inv_prob),
            budget: UpcallBudget::new(cfg),
            shared,
            dp,
            last_rank: Instant::now(),
            batch: Batch::new(),
            classifier: Classifier::new(),
            pool: PacketPool::new(),
            tx: Vec::new(),
            keys: Box::new([FlowKey::default(); BATCH_SIZE]),
            recirc: Vec::new(),
            offload_scratch: Vec::new(),
        }
    }

    /// One turn: apply the dpif's commands, then receive, classify,
    /// execute and transmit one batch from each assigned queue. Returns how
    /// many packets arrived (0: this worker was idle).
    pub(crate) fn poll_once(&mut self) -> usize {
        if self.shared.pending.swap(false, Ordering::AcqRel) {
            self.apply_commands();
        }
        let assignment = self.shared.assignment.load_full();
        // The port table only when something arrived: an idle turn is
        // only the queues' polls.
        let mut ports: Option<Arc<PortTable>> = None;
        let mut batch = std::mem::take(&mut self.batch);
        let mut got = 0;
        for q in assignment.iter() {
            let n = q.port.rx_batch(q.rxq, &mut batch, &mut self.pool);
            if n == 0 {
                continue;
            }
            got += n;
            let start = Instant::now();
            self.shared
                .counters
                .rx_packets
                .fetch_add(n as u64, Ordering::Relaxed);
            for p in batch.packets.iter_mut() {
                p.in_port = q.port_no;
            }
            if self.dp.taps.active() {
                self.dp.taps.offer(q.port_no, Direction::Rx, &batch.packets);
            }
            if self.dp.qos_any.load(Ordering::Relaxed) {
                self.police(q.port_no, &mut batch.packets);
            }
            self.process(&mut batch);
            let table = ports.get_or_insert_with(|| self.dp.ports.load_full());
            self.flush(table);
            let ns = start.elapsed().as_nanos() as u64;
            q.busy_ns.fetch_add(ns, Ordering::Relaxed);
            self.shared
                .counters
                .busy_ns
                .fetch_add(ns, Ordering::Relaxed);
        }
        self.batch = batch;
        if self.dp.qos_any.load(Ordering::Relaxed) && self.serve_queues() {
            // Packets wait for their scheduler: not a turn to sleep after.
            got = got.max(1);
        }
        if got == 0 {
            // Periodic upkeep when there is time for it.
            let now = Instant::now();
            if now.duration_since(self.last_rank) >= RERANK_INTERVAL {
                self.last_rank = now;
                self.classifier.rerank();
                self.emc.sweep();
            }
        }
        got
    }

    /// The dpif asked this worker to stop.
    pub(crate) fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }

    /// The queues this worker polls (the PMD thread sleeps on them).
    pub(crate) fn assignment(&self) -> Arc<Vec<RxqRef>> {
        self.shared.assignment.load_full()
    }

    /// The PMD thread is about to sleep with this worker idle.
    pub(crate) fn note_sleep(&self) {
        self.shared
            .counters
            .idle_sleeps
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Give back the references this worker holds and tell the dpif.
    pub(crate) fn retire(mut self) {
        self.classifier.clear();
        self.emc.clear();
        self.shared.retired.store(true, Ordering::Release);
    }

    fn apply_commands(&mut self) {
        let cmds: Vec<Command> = match self.shared.commands.lock() {
            Ok(mut q) => q.drain(..).collect(),
            Err(_) => return,
        };
        for cmd in cmds {
            match cmd {
                Command::Put(f) => {
                    if let Some(old) = self.classifier.insert(f.clone()) {
                        self.forget(&old);
                    }
                    self.remember(&f);
                }
                Command::Delete(f) => {
                    self.classifier.remove(&f);
                    self.forget(&f);
                }
                Command::Flush => {
                    // Only what was alive when the flush was asked for
                    // (the dpif killed those): a flow installed since then
                    // was translated under the new state and stays.
                    self.classifier.remove_dead();
                    self.emc.sweep();
                    if let Ok(mut flows) = self.shared.flows.lock() {
                        flows.retain(|_, f| !f.is_dead());
                    }
                }
                Command::Sync(reply) => {
                    let _ = reply.send(());
                }
            }
        }
    }

    fn remember(&self, f: &Arc<Megaflow>) {
        if let Ok(mut flows) = self.shared.flows.lock() {
            flows.insert(f.id, f.clone());
        }
    }

    fn forget(&self, f: &Megaflow) {
        if let Ok(mut flows) = self.shared.flows.lock() {
            flows.remove(&f.id);
        }
    }

    /// Classify and execute one batch (and any recirculations it causes).
    fn process(&mut self, batch: &mut Batch) {
        let mut pass = 1;
        self.classify_and_execute(batch);
        while !self.recirc.is_empty() {
            pass += 1;
            let mut again = Batch::new();
            for p in std::mem::take(&mut self.recirc) {
                if pass > MAX_PASSES {
                    self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    self.pool.put(p);
                } else if again.is_full() {
                    self.recirc.push(p);
                } else {
                    again.push(p);
                }
            }
            if again.is_empty() {
                break;
            }
            self.shared
                .counters
                .recirculations
                .fetch_add(again.len() as u64, Ordering::Relaxed);
            self.classify_and_execute(&mut again);
        }
    }

    fn classify_and_execute(&mut self, batch: &mut Batch) {
        let n = batch.len().min(BATCH_SIZE);
        let mut hashes = [0u32; BATCH_SIZE];
        let mut flows: [Option<Arc<Megaflow>>; BATCH_SIZE] = Default::default();
        let mut from_emc = 0u64;
        for i in 0..n {
            let key = &mut self.keys[i];
            extract(&batch.packets[i], key);
            hashes[i] = key.hash();
            if let Some(f) = self.emc.lookup(key, hashes[i]) {
                flows[i] = Some(f.clone());
                from_emc |= 1 << i;
            }
        }
        let c = &self.shared.counters;
        c.emc_hits
            .fetch_add(from_emc.count_ones() as u64, Ordering::Relaxed);
        if (from_emc.count_ones() as usize) < n {
            let LookupStats {
                hits,
                subtables_searched,
            } = self
                .classifier
                .lookup_batch(&self.keys[..n], &mut flows[..n]);
            c.megaflow_hits.fetch_add(hits, Ordering::Relaxed);
            c.subtables_searched
                .fetch_add(subtables_searched, Ordering::Relaxed);
            for i in 0..n {
                if from_emc & (1 << i) == 0 {
                    if let Some(f) = &flows[i] {
                        self.emc.maybe_insert(&self.keys[i], hashes[i], f);
                    }
                }
            }
        }
        // Misses: upcall, install, and let later packets of the batch use
        // the new megaflow.
        let handler = self.dp.handler.clone();
        let mut one_shot: [Option<Actions>; BATCH_SIZE] = Default::default();
        for i in 0..n {
            if flows[i].is_some() {
                continue;
            }
            if let Some(f) = flows[..i]
                .iter()
                .flatten()
                .find(|f| f.covers(&self.keys[i]) && !f.is_dead())
            {
                // A flow installed by an earlier packet of this batch.
                let f = f.clone();
                c.megaflow_hits.fetch_add(1, Ordering::Relaxed);
                c.subtables_searched.fetch_add(1, Ordering::Relaxed);
                self.emc.maybe_insert(&self.keys[i], hashes[i], &f);
                flows[i] = Some(f);
                continue;
            }
            c.misses.fetch_add(1, Ordering::Relaxed);
            let began = Instant::now();
            if !self.budget.take(began) {
                c.lost_upcalls.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let reply = handler.miss(&batch.packets[i], &self.keys[i]);
            self.budget.spent(began.elapsed().as_nanos() as f64);
            let Some(reply) = reply else {
                continue;
            };
            if reply.install {
                let id = self.dp.next_flow_id.fetch_add(1, Ordering::Relaxed);
                let f = Arc::new(
                    Megaflow::new(id, &self.keys[i], &reply.mask, reply.actions)
                        .with_owner(reply.owner),
                );
                if let Some(old) = self.classifier.insert(f.clone()) {
                    self.forget(&old);
                }
                self.remember(&f);
                flows[i] = Some(f);
            } else {
                one_shot[i] = Some(reply.actions);
            }
        }
        // Execute, accounting megaflow stats once per flow per batch: the
        // first packet of each flow in the batch collects its group's counts.
        let now_ms = self.dp.now_ms();
        let mut group = [(0u64, 0u64, 0u16); BATCH_SIZE];
        let mut packets = std::mem::take(&mut batch.packets);
        for (i, p) in packets.drain(..).enumerate().take(BATCH_SIZE) {
            let key = self.keys[i];
            let actions = if let Some(f) = &flows[i] {
                let lead = (0..=i)
                    .find(|&j| flows[j].as_ref().is_some_and(|g| Arc::ptr_eq(g, f)))
                    .unwrap_or(i);
                let g = &mut group[lead];
                g.0 += 1;
                g.1 += p.len() as u64;
                g.2 |= key.tcp_flags;
                f.actions.clone()
            } else if let Some(a) = one_shot[i].take() {
                a
            } else {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                self.pool.put(p);
                continue;
            };
            let mut sink = Sink {
                pool: &mut self.pool,
                tx: &mut self.tx,
                recirc: &mut self.recirc,
                handler: handler.as_ref(),
                dp: &self.dp,
                counters: &self.shared.counters,
            };
            execute(&actions, p, &key, &mut sink);
        }
        batch.packets = packets;
        for (f, (packets, bytes, flags)) in flows.iter().zip(group.iter()).take(n) {
            if let (Some(f), true) = (f, *packets > 0) {
                f.stats.hit(*packets, *bytes, *flags, now_ms);
            }
        }
    }

    /// Send every pending per-port batch, completing offloads the port
    /// cannot take, through the port's egress QoS if it has one.
    fn flush(&mut self, ports: &Arc<PortTable>) {
        let qos = self
            .dp
            .qos_any
            .load(Ordering::Relaxed)
            .then(|| self.dp.qos.load_full());
        for port_no in 0..self.tx.len() {
            if self.tx[port_no].is_empty() {
                continue;
            }
            let mut pending = std::mem::take(&mut self.tx[port_no]);
            match ports.get(port_no as PortNo) {
                Some(entry) => {
                    let caps = entry.port.caps();
                    let pool = &mut self.pool;
                    let scratch = &mut self.offload_scratch;
                    let mut bad = fix_offloads(&mut pending, caps, scratch, pool);
                    if let Some(e) = qos.as_ref().and_then(|q| q.egress(port_no as PortNo)) {
                        bad += e.admit(&mut pending, self.dp.now_secs(), &mut self.pool);
                    }
                    if bad > 0 {
                        self.shared
                            .counters
                            .dropped
                            .fetch_add(bad, Ordering::Relaxed);
                    }
                    self.send(ports, port_no as PortNo, entry, &mut pending);
                }
                None => {
                    self.shared
                        .counters
                        .dropped
                        .fetch_add(pending.len() as u64, Ordering::Relaxed);
                    self.pool.put_all(&mut pending);
                }
            }
            // Keep the allocation for the next batch.
            std::mem::swap(&mut self.tx[port_no], &mut pending);
        }
    }

    /// Hand `pending`, batched for `port_no`, to the port each leaves by:
    /// `port_no` itself, or (packets a tunnel port's QoS let go) the
    /// underlay link each carries in `egress`.
    fn send(
        &mut self,
        ports: &PortTable,
        port_no: PortNo,
        entry: &PortEntry,
        pending: &mut Vec<Packet>,
    ) {
        // Only a tunnel port's batch carries egress marks (all of it).
        if pending.first().is_none_or(|p| p.egress.is_none()) {
            return self.transmit(port_no, entry, pending);
        }
        while let Some(to) = pending.iter().find_map(|p| p.egress) {
            let mut now: Vec<Packet> = pending
                .extract_if(.., |p| p.egress == Some(to))
                .map(|mut p| {
                    p.egress = None;
                    p
                })
                .collect();
            match ports.get(to) {
                Some(e) => self.transmit(to, e, &mut now),
                None => self.pool.put_all(&mut now),
            }
        }
        self.transmit(port_no, entry, pending);
    }

    /// Hand `pending` to the port through this worker's transmit queue.
    fn transmit(&mut self, port_no: PortNo, entry: &PortEntry, pending: &mut Vec<Packet>) {
        if pending.is_empty() {
            return;
        }
        let n = pending.len() as u64;
        if self.dp.taps.active() {
            self.dp.taps.offer(port_no, Direction::Tx, pending);
        }
        let txq = self.shared.id;
        entry
            .port
            .tx_batch(txq % entry.port.n_txq().max(1), pending, &mut self.pool);
        self.shared
            .counters
            .tx_packets
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Drop what `port`'s ingress policer says is out of profile.
    fn police(&mut self, port: PortNo, packets: &mut Vec<Packet>) {
        let qos = self.dp.qos.load();
        if let Some(p) = qos.ingress(port) {
            let n = p.police(packets, self.dp.now_secs(), &mut self.pool);
            if n > 0 {
                self.shared.counters.dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Send what the schedulers of ports with waiting packets let go now.
    /// Returns whether packets still wait.
    fn serve_queues(&mut self) -> bool {
        let qos = self.dp.qos.load_full();
        let mut ports: Option<Arc<PortTable>> = None;
        let mut waiting = false;
        let mut out = std::mem::take(&mut self.offload_scratch);
        for (port_no, e) in qos.egress_ports() {
            if e.waiting() == 0 {
                continue;
            }
            e.serve(self.dp.now_secs(), &mut out);
            waiting |= e.waiting() > 0;
            if out.is_empty() {
                continue;
            }
            let table = ports
                .get_or_insert_with(|| self.dp.ports.load_full())
                .clone();
            match table.get(port_no) {
                Some(entry) => self.send(&table, port_no, entry, &mut out),
                None => self.pool.put_all(&mut out),
            }
            out.clear();
        }
        self.offload_scratch = out;
        waiting
    }
}

/// Make every packet of `pending` acceptable to a port with `caps`:
/// complete partial checksums and segment oversized packets it cannot take.
/// Returns how many packets had to be dropped (malformed offload state).
pub(crate) fn fix_offloads(
    pending: &mut Vec<Packet>,
    caps: PortCaps,
    scratch: &mut Vec<Packet>,
    pool: &mut PacketPool,
) -> u64 {
    if pending.iter().all(|p| p.offload == Offload::default()) {
        return 0;
    }
    let mut dropped = 0;
    scratch.clear();
    for p in pending.drain(..) {
        if offload::prepare_for_port(p, caps, scratch, pool).is_err() {
            dropped += 1;
        }
    }
    std::mem::swap(pending, scratch);
    dropped
}

/// The worker's side of action execution.
struct Sink<'a> {
    pool: &'a mut PacketPool,
    tx: &'a mut Vec<Vec<Packet>>,
    recirc: &'a mut Vec<Packet>,
    handler: &'a dyn UpcallHandler,
    dp: &'a Shared,
    counters: &'a WorkerCounters,
}

impl ExecSink for Sink<'_> {
    fn output(&mut self, port: PortNo, packet: Packet) {
        let i = port as usize;
        if i >= self.dp.config.max_ports {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            self.pool.put(packet);
            return;
        }
        if self.tx.len() <= i {
            self.tx.resize_with(i + 1, Vec::new);
        }
        self.tx[i].push(packet);
    }

    /// A tunnel port with egress QoS batches the packet as its own, to
    /// go through its scheduler and then to `port` (the underlay link).
    fn output_via(&mut self, via: PortNo, port: PortNo, mut packet: Packet) {
        if self.dp.qos_any.load(Ordering::Relaxed) && self.dp.qos.load().egress(via).is_some() {
            packet.egress = Some(port);
            return self.output(via, packet);
        }
        self.output(port, packet);
    }

    fn userspace(&mut self, packet: &Packet, key: &FlowKey, userdata: u64) {
        self.handler.action(packet, key, userdata);
    }

    fn recirculate(&mut self, mut packet: Packet, recirc_id: u32) {
        packet.recirc_id = recirc_id;
        self.recirc.push(packet);
    }

    fn meter(&mut self, meter_id: u32, len: usize) -> MeterVerdict {
        match &self.dp.meters {
            Some(m) => m.admit(meter_id, len, self.dp.now_ms()),
            None => MeterVerdict::Pass,
        }
    }

    fn alloc(&mut self) -> Packet {
        self.pool.get()
    }

    fn free(&mut self, packet: Packet) {
        self.pool.put(packet);
    }

    fn tunnel_drop(&mut self, reason: crate::tunnel::TunnelDrop) {
        self.counters.tunnel.count(reason);
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

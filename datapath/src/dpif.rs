//! The dpif: the handle through which the layers above drive the datapath.
//!
//! In Open vSwitch's words, this is the datapath interface: add and remove
//! ports, put / dump / delete megaflows, flush, and read counters per port
//! and per worker. It owns the worker threads and publishes what they share
//! as immutable snapshots: the [`PortTable`] and each worker's list of
//! receive queues. A change builds a new snapshot and swaps it in; workers
//! pick it up at their next batch, and [`Dpif::sync`] waits until they have.
//!
//! Megaflows live in the workers that installed them (an upcall installs in
//! the worker that missed; [`Dpif::put_flow`] installs in every worker), so a
//! dump lists each worker's flows, as `ovs-appctl dpctl/dump-flows` does per
//! PMD.

use crate::actions::{Action, Actions};
use crate::cache::Megaflow;
use crate::capture::{Capture, CaptureSpec};
pub use crate::config::{DpifConfig, RxqAssign};
use crate::exec::ExecSink;
use crate::flow::{FlowKey, Mask};
pub use crate::meter::{MeterHook, MeterVerdict};
use crate::netdev::{Port, PortStats};
use crate::packet::{Packet, PacketPool};
use crate::pmd::PmdPool;
pub use crate::port_table::{PortEntry, PortTable};
use crate::qos::{EgressQos, IngressPolicer, PolicingSpec, QosSpec, QosTable};
use crate::upcall::UpcallHandler;
use crate::worker::{Command, RxqRef, Shared, Worker, WorkerShared, WorkerStats};
use crate::PortNo;
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Errors from dpif operations.
#[derive(Debug, thiserror::Error)]
pub enum DpifError {
    #[error("port number {0} is already in use")]
    PortNoInUse(PortNo),
    #[error("a port named {0} already exists")]
    DuplicatePortName(String),
    #[error("no port {0}")]
    NoSuchPort(String),
    #[error("port number {0} is out of range (max {1})")]
    PortNoOutOfRange(PortNo, usize),
    #[error("no megaflow with id {0}")]
    NoSuchFlow(u64),
    #[error("cannot start worker thread")]
    Spawn(#[source] std::io::Error),
    #[error("workers did not acknowledge within {0:?}")]
    SyncTimeout(Duration),
    #[error("{0}")]
    BadQos(String),
}

/// A megaflow as dumped.
#[derive(Debug, Clone)]
pub struct FlowDump {
    pub worker: usize,
    pub id: u64,
    pub key: FlowKey,
    pub mask: Mask,
    pub actions: Actions,
    pub packets: u64,
    pub bytes: u64,
    /// Milliseconds since last use (None = never used).
    pub idle_ms: Option<u64>,
    pub tcp_flags: u16,
    /// What the upcall handler attached.
    pub owner: Option<crate::cache::megaflow::Owner>,
}

/// The datapath handle.
#[derive(Debug)]
pub struct Dpif {
    shared: Arc<Shared>,
    workers: Vec<Worker>,
    /// The PMD threads the workers run on (shared with other datapaths of
    /// the switch, or this datapath's own).
    pool: Arc<PmdPool>,
    /// Serialises port-table changes (readers never take it).
    change: Mutex<()>,
}

impl Dpif {
    /// Start a datapath with `config.workers` workers on threads of its own.
    pub fn new(
        config: DpifConfig,
        handler: Arc<dyn UpcallHandler>,
        meters: Option<Arc<dyn MeterHook>>,
    ) -> Result<Dpif, DpifError> {
        Self::new_in(PmdPool::new(), config, handler, meters)
    }

    /// Start a datapath whose `config.workers` workers run on `pool`'s
    /// threads (worker `i` on thread `i`, started if needed), beside the
    /// workers of the pool's other datapaths.
    pub fn new_in(
        pool: Arc<PmdPool>,
        config: DpifConfig,
        handler: Arc<dyn UpcallHandler>,
        meters: Option<Arc<dyn MeterHook>>,
    ) -> Result<Dpif, DpifError> {
        let shared = Arc::new(Shared {
            config: DpifConfig {
                workers: config.workers.max(1),
                ..config
            },
            ports: ArcSwap::from_pointee(PortTable::default()),
            handler,
            meters,
            next_flow_id: AtomicU64::new(1),
            epoch: Instant::now(),
            taps: Default::default(),
            qos: Default::default(),
            qos_any: AtomicBool::new(false),
        });
        let mut workers = Vec::new();
        for id in 0..shared.config.workers {
            workers.push(Worker::start(id, shared.clone(), &pool).map_err(DpifError::Spawn)?);
        }
        Ok(Dpif {
            shared,
            workers,
            pool,
            change: Mutex::new(()),
        })
    }

    /// Start a live capture ([`crate::capture`]) on one of this
    /// datapath's ports; it runs until the returned handle is dropped.
    pub fn capture(&self, spec: CaptureSpec) -> Result<Capture, DpifError> {
        if self.shared.ports.load().get(spec.port).is_none() {
            return Err(DpifError::NoSuchPort(spec.port.to_string()));
        }
        Ok(self.shared.taps.start(spec))
    }

    pub fn config(&self) -> &DpifConfig {
        &self.shared.config
    }

    /// Milliseconds on the datapath clock.
    pub fn now_ms(&self) -> u64 {
        self.shared.now_ms()
    }

    /// Add a port; `want` picks its number (else the lowest free from 1).
    pub fn add_port(&self, port: Arc<dyn Port>, want: Option<PortNo>) -> Result<PortNo, DpifError> {
        let _g = self.change.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.shared.ports.load_full();
        if old.by_name(port.name()).is_some() {
            return Err(DpifError::DuplicatePortName(port.name().to_string()));
        }
        let max = self.shared.config.max_ports;
        let no = match want {
            Some(n) if n as usize >= max => return Err(DpifError::PortNoOutOfRange(n, max)),
            Some(n) if old.get(n).is_some() => return Err(DpifError::PortNoInUse(n)),
            Some(n) => n,
            None => (1..max as PortNo)
                .find(|&n| old.get(n).is_none())
                .ok_or(DpifError::PortNoOutOfRange(max as PortNo, max))?,
        };
        let mut slots = old.slots.clone();
        if slots.len() <= no as usize {
            slots.resize(no as usize + 1, None);
        }
        let rxqs = port.n_rxq().max(1);
        slots[no as usize] = Some(PortEntry {
            port_no: no,
            port,
            rxq_busy_ns: (0..rxqs).map(|_| Arc::new(AtomicU64::new(0))).collect(),
        });
        self.shared.ports.store(Arc::new(PortTable { slots }));
        self.assign_rxqs();
        Ok(no)
    }

    /// Remove a port; returns it once no worker uses it any more.
    pub fn remove_port(&self, no: PortNo) -> Result<Arc<dyn Port>, DpifError> {
        let entry = {
            let _g = self.change.lock().unwrap_or_else(|e| e.into_inner());
            let old = self.shared.ports.load_full();
            let entry = old
                .get(no)
                .cloned()
                .ok_or_else(|| DpifError::NoSuchPort(no.to_string()))?;
            let mut slots = old.slots.clone();
            slots[no as usize] = None;
            self.shared.ports.store(Arc::new(PortTable { slots }));
            self.assign_rxqs();
            let t = self.shared.qos.load();
            let t = t.with_egress(no, None).with_ingress(no, None);
            self.shared.qos_any.store(t.any(), Ordering::Relaxed);
            self.shared.qos.store(Arc::new(t));
            entry
        };
        self.sync(Duration::from_secs(5))?;
        Ok(entry.port)
    }

    /// Set (`Some`) or clear port `no`'s egress QoS. A new scheduler
    /// starts empty: packets waiting in the old one are dropped.
    pub fn set_egress_qos(&self, no: PortNo, spec: Option<QosSpec>) -> Result<(), DpifError> {
        let entry = self
            .ports()
            .get(no)
            .cloned()
            .ok_or_else(|| DpifError::NoSuchPort(no.to_string()))?;
        if let Some(s) = &spec {
            let speed = entry
                .port
                .link_speed()
                .map(|l| u64::from(l.mbps) * 1_000_000);
            s.check(speed).map_err(DpifError::BadQos)?;
        }
        let e = spec.map(|s| Arc::new(EgressQos::new(s)));
        self.change_qos(|t| t.with_egress(no, e));
        Ok(())
    }

    /// Set (`Some`) or clear port `no`'s ingress policing.
    pub fn set_ingress_policing(
        &self,
        no: PortNo,
        spec: Option<PolicingSpec>,
    ) -> Result<(), DpifError> {
        if self.ports().get(no).is_none() {
            return Err(DpifError::NoSuchPort(no.to_string()));
        }
        if let Some(s) = &spec {
            s.check().map_err(DpifError::BadQos)?;
        }
        let p = spec.map(|s| Arc::new(IngressPolicer::new(s)));
        self.change_qos(|t| t.with_ingress(no, p));
        Ok(())
    }

    /// The QoS of every port.
    pub fn qos(&self) -> Arc<QosTable> {
        self.shared.qos.load_full()
    }

    fn change_qos(&self, f: impl FnOnce(&QosTable) -> QosTable) {
        let _g = self.change.lock().unwrap_or_else(|e| e.into_inner());
        let t = f(&self.shared.qos.load());
        self.shared.qos_any.store(t.any(), Ordering::Relaxed);
        self.shared.qos.store(Arc::new(t));
    }

    /// The current port table.
    pub fn ports(&self) -> Arc<PortTable> {
        self.shared.ports.load_full()
    }

    /// Port counters by number.
    pub fn port_stats(&self, no: PortNo) -> Option<PortStats> {
        self.shared.ports.load().get(no).map(|e| e.port.stats())
    }

    /// Spread receive queues over workers (by the configured policy).
    pub fn assign_rxqs(&self) {
        let table = self.shared.ports.load_full();
        let n = self.workers.len();
        let mut queues: Vec<RxqRef> = table
            .iter()
            .flat_map(|e| {
                (0..e.port.n_rxq().max(1)).map(move |q| RxqRef {
                    port_no: e.port_no,
                    port: e.port.clone(),
                    rxq: q,
                    busy_ns: e.rxq_busy_ns[q.min(e.rxq_busy_ns.len() - 1)].clone(),
                })
            })
            .collect();
        let mut per_worker: Vec<Vec<RxqRef>> = vec![Vec::new(); n];
        match self.shared.config.rxq_assign {
            RxqAssign::RoundRobin => {
                for (i, q) in queues.into_iter().enumerate() {
                    per_worker[i % n].push(q);
                }
            }
            RxqAssign::Load => {
                queues.sort_by_key(|q| std::cmp::Reverse(q.busy_ns.load(Ordering::Relaxed)));
                let mut load = vec![0u64; n];
                for q in queues {
                    let w = (0..n)
                        .min_by_key(|&w| (load[w], per_worker[w].len()))
                        .unwrap_or(0);
                    load[w] += q.busy_ns.swap(0, Ordering::Relaxed);
                    per_worker[w].push(q);
                }
            }
        }
        for (w, qs) in self.workers.iter().zip(per_worker) {
            w.shared.assignment.store(Arc::new(qs));
            w.shared.wake();
        }
    }

    /// Wait until every worker has applied every earlier change.
    pub fn sync(&self, timeout: Duration) -> Result<(), DpifError> {
        let (tx, rx) = mpsc::channel();
        for w in &self.workers {
            w.shared.send(Command::Sync(tx.clone()));
        }
        let deadline = Instant::now() + timeout;
        for _ in &self.workers {
            let left = deadline.saturating_duration_since(Instant::now());
            rx.recv_timeout(left)
                .map_err(|_| DpifError::SyncTimeout(timeout))?;
        }
        Ok(())
    }

    /// Install a megaflow in every worker. Returns the ids (one per worker).
    pub fn put_flow(&self, key: &FlowKey, mask: &Mask, actions: Actions) -> Vec<u64> {
        self.workers
            .iter()
            .map(|w| {
                let id = self.shared.next_flow_id.fetch_add(1, Ordering::Relaxed);
                let f = Arc::new(Megaflow::new(id, key, mask, actions.clone()));
                w.shared.send(Command::Put(f));
                id
            })
            .collect()
    }

    /// Replace the actions of a megaflow, keeping its statistics.
    pub fn modify_flow(&self, id: u64, actions: Actions) -> Result<(), DpifError> {
        let (w, old) = self.find_flow(id).ok_or(DpifError::NoSuchFlow(id))?;
        let f =
            Arc::new(Megaflow::new(id, &old.key, &old.mask, actions).with_owner(old.owner.clone()));
        for (dst, src) in [
            (&f.stats.packets, &old.stats.packets),
            (&f.stats.bytes, &old.stats.bytes),
            (&f.stats.used_ms, &old.stats.used_ms),
            (&f.stats.tcp_flags, &old.stats.tcp_flags),
        ] {
            dst.store(src.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        w.send(Command::Put(f));
        Ok(())
    }

    /// Delete one megaflow by id.
    pub fn delete_flow(&self, id: u64) -> Result<FlowDump, DpifError> {
        let (w, f) = self.find_flow(id).ok_or(DpifError::NoSuchFlow(id))?;
        f.kill();
        let dump = self.dump_one(w.id, &f);
        if let Ok(mut flows) = w.flows.lock() {
            flows.remove(&id);
        }
        w.send(Command::Delete(f));
        Ok(dump)
    }

    /// Delete every megaflow for which `pred` is true (revalidation in its
    /// simplest form); returns how many.
    pub fn delete_flows_where(&self, pred: impl Fn(&FlowKey, &Mask, &Actions) -> bool) -> usize {
        let mut n = 0;
        for w in &self.workers {
            let doomed: Vec<Arc<Megaflow>> = match w.shared.flows.lock() {
                Ok(flows) => flows
                    .values()
                    .filter(|f| pred(&f.key, &f.mask, &f.actions))
                    .cloned()
                    .collect(),
                Err(_) => continue,
            };
            for f in doomed {
                f.kill();
                if let Ok(mut flows) = w.shared.flows.lock() {
                    flows.remove(&f.id);
                }
                w.shared.send(Command::Delete(f));
                n += 1;
            }
        }
        n
    }

    /// Delete every megaflow.
    pub fn flush_flows(&self) {
        for w in &self.workers {
            if let Ok(flows) = w.shared.flows.lock() {
                flows.values().for_each(|f| f.kill());
            }
            w.shared.send(Command::Flush);
        }
    }

    fn find_flow(&self, id: u64) -> Option<(&WorkerShared, Arc<Megaflow>)> {
        self.workers.iter().find_map(|w| {
            let flows = w.shared.flows.lock().ok()?;
            flows.get(&id).map(|f| (w.shared.as_ref(), f.clone()))
        })
    }

    fn dump_one(&self, worker: usize, f: &Megaflow) -> FlowDump {
        let used = f.stats.used_ms.load(Ordering::Relaxed);
        FlowDump {
            worker,
            id: f.id,
            key: f.key,
            mask: f.mask,
            actions: f.actions.clone(),
            packets: f.stats.packets.load(Ordering::Relaxed),
            bytes: f.stats.bytes.load(Ordering::Relaxed),
            idle_ms: (used != 0).then(|| self.now_ms().saturating_sub(used)),
            tcp_flags: f.stats.tcp_flags.load(Ordering::Relaxed) as u16,
            owner: f.owner.clone(),
        }
    }

    /// Every live megaflow of every worker.
    pub fn dump_flows(&self) -> Vec<FlowDump> {
        let mut out = Vec::new();
        for w in &self.workers {
            // Only the references under the lock: the worker takes it for
            // every megaflow it installs, and describing tens of thousands
            // of flows while holding it stalled forwarding (an upcall
            // flood's 64k megaflows: pings beside it went from 0.3 to 79 ms).
            let flows: Vec<Arc<Megaflow>> = match w.shared.flows.lock() {
                Ok(flows) => flows.values().cloned().collect(),
                Err(_) => continue,
            };
            out.extend(
                flows
                    .iter()
                    .filter(|f| !f.is_dead())
                    .map(|f| self.dump_one(w.shared.id, f)),
            );
        }
        out.sort_by_key(|d| (d.worker, d.id));
        out
    }

    /// Counters of every worker.
    pub fn worker_stats(&self) -> Vec<WorkerStats> {
        self.workers.iter().map(|w| w.shared.stats()).collect()
    }

    /// Execute `actions` on `packet` now, in the caller's thread (for
    /// packet-out). Returns how many packets were handed to ports.
    pub fn execute(&self, packet: Packet, actions: &[Action]) -> usize {
        let mut key = FlowKey::default();
        crate::flow::extract(&packet, &mut key);
        let mut sink = DirectSink {
            shared: &self.shared,
            pool: PacketPool::new(),
            tx: BTreeMap::new(),
        };
        crate::exec::execute(actions, packet, &key, &mut sink);
        let ports = self.shared.ports.load_full();
        let mut sent = 0;
        let mut scratch = Vec::new();
        let DirectSink { mut pool, tx, .. } = sink;
        for (port_no, mut pending) in tx {
            match ports.get(port_no) {
                Some(e) => {
                    crate::worker::fix_offloads(
                        &mut pending,
                        e.port.caps(),
                        &mut scratch,
                        &mut pool,
                    );
                    // Through the port's QoS like the workers' batches; what
                    // it queues, a worker sends.
                    if self.shared.qos_any.load(Ordering::Relaxed) {
                        if let Some(q) = self.shared.qos.load().egress(port_no) {
                            q.admit(&mut pending, self.shared.now_secs(), &mut pool);
                        }
                    }
                    sent += pending.len();
                    if self.shared.taps.active() {
                        let dir = crate::capture::Direction::Tx;
                        self.shared.taps.offer(port_no, dir, &pending);
                    }
                    let txq = self.workers.len() % e.port.n_txq().max(1);
                    e.port.tx_batch(txq, &mut pending, &mut pool);
                }
                None => pool.put_all(&mut pending),
            }
        }
        sent
    }

    /// Stop the workers (also done on drop): their PMD threads drop them
    /// at their next round; a private pool's threads end with the dpif.
    pub fn shutdown(&mut self) {
        for w in &self.workers {
            w.shared.stop();
        }
        for w in &self.workers {
            if !w.shared.wait_retired(Duration::from_secs(5)) {
                tracing::warn!(worker = w.shared.id, "a worker did not stop within 5 s");
            }
        }
    }

    /// The PMD threads this datapath's workers run on.
    pub fn pool(&self) -> &Arc<PmdPool> {
        &self.pool
    }
}

/// Action execution outside the workers (packet-out).
struct DirectSink<'a> {
    shared: &'a Shared,
    pool: PacketPool,
    tx: BTreeMap<PortNo, Vec<Packet>>,
}

impl ExecSink for DirectSink<'_> {
    fn output(&mut self, port: PortNo, packet: Packet) {
        self.tx.entry(port).or_default().push(packet);
    }
    fn userspace(&mut self, packet: &Packet, key: &FlowKey, userdata: u64) {
        self.shared.handler.action(packet, key, userdata);
    }
    fn recirculate(&mut self, packet: Packet, _recirc_id: u32) {
        // Not supported outside the workers.
        self.pool.put(packet);
    }
    fn meter(&mut self, meter_id: u32, len: usize) -> MeterVerdict {
        match &self.shared.meters {
            Some(m) => m.admit(meter_id, len, self.shared.now_ms()),
            None => MeterVerdict::Pass,
        }
    }
    fn alloc(&mut self) -> Packet {
        self.pool.get()
    }
    fn free(&mut self, packet: Packet) {
        self.pool.put(packet);
    }
}

impl Drop for Dpif {
    fn drop(&mut self) {
        self.shutdown();
    }
}

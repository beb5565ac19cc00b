//! The tokio glue: listeners, connectors and the [`Controllers`] handle a
//! bridge owns.
//!
//! Each [`Target`] gets one task. An active target (`tcp:`, `ssl:`)
//! connects, runs a session until it ends, then retries after an
//! exponential backoff (1 s doubling to 8 s by default, reset once a
//! session got as far as a negotiated HELLO). A passive target (`ptcp:`,
//! `pssl:`) binds, then spawns one session task per accepted controller
//! (the TLS handshake happens in that task, so a slow client cannot stall
//! the listener). A session (the private `session` module) drives one
//! [`Connection`](super::machine::Connection) over one socket.
//!
//! The one idea: a target's tasks stop when its slot in the registry is
//! dropped. Every slot owns a `watch::Sender<()>`; every task of the target
//! holds a receiver and selects on it at each await, so removing a target
//! ([`Controllers::set_targets`]) or dropping the handle ends its listener,
//! its connector and all of its sessions without abort handles or task
//! bookkeeping. Sessions unregister themselves in a drop guard, so the
//! registry is right even when a task is cancelled or panics.
//!
//! All shared state (connection list, [`RoleTable`], target status) sits
//! behind one `std::sync::Mutex`, held only for short non-async sections and
//! never while the bridge's [`RequestHandler`] runs, so the handler may
//! call back into [`Controllers`] (e.g. [`Controllers::send_async`]).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::roles::RoleTable;
use super::session::run_connection;
use super::target::Target;
use super::tls::{server_name, TlsConfigs, TlsError, TlsFiles};
use super::ConnId;
use crate::wire::message::Message;
use crate::wire::switch::ControllerRole;

/// What the bridge does with the requests that need the switch.
pub trait RequestHandler: Send + Sync {
    /// Handle one request from a controller and return the replies, which
    /// go out with the request's `xid`, in order (an empty vector for
    /// requests without a reply, such as a successful FLOW_MOD).
    ///
    /// Role checks are already done: a SLAVE never gets here with a
    /// state-changing message, and ROLE_REQUEST, GET_ASYNC and SET_ASYNC
    /// are answered by this layer. Requests of one connection arrive one at
    /// a time in stream order, and the replies returned are written before
    /// the next request is read, so answering BARRIER_REQUEST with
    /// BARRIER_REPLY right away is correct as long as every earlier request
    /// was fully applied when it returned. The call runs on a runtime
    /// thread: it must not block for long.
    fn handle(&self, conn: ConnInfo, xid: u32, msg: Message) -> Vec<Message>;
}

/// Who sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub id: ConnId,
    pub peer: SocketAddr,
    /// EQUAL, MASTER or SLAVE.
    pub role: ControllerRole,
    /// False for a SLAVE (for experimenter messages the handler judges).
    pub may_modify: bool,
}

/// Tunables of the controller layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Echo keepalive interval (see [`super::machine::Config`]).
    pub inactivity_probe: Duration,
    /// First reconnection delay of an active target, and the delay after a
    /// session that ended.
    pub backoff_min: Duration,
    /// Largest reconnection delay (the delay doubles up to it).
    pub backoff_max: Duration,
    /// Limit for a TCP connect, a TLS handshake, and a stalled write.
    pub io_timeout: Duration,
    /// Messages queued per connection by `send_async`/`send_to` before
    /// further ones are dropped (a controller that does not read must not
    /// make the switch buffer without bound).
    pub queue_len: usize,
    /// Accepted connections on all passive targets together; one more is
    /// closed at once and counted ([`Controllers::refused`]).
    pub max_connections: usize,
    /// Accepted connections from one source address.
    pub max_per_source: usize,
    /// PACKET_INs each connection may receive (None: unlimited); the rest
    /// are not sent and are counted ([`Controllers::rate_limited`]).
    pub packet_in_limit: Option<super::limit::PacketInRate>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            inactivity_probe: Duration::from_secs(5),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(8),
            io_timeout: Duration::from_secs(10),
            queue_len: 1024,
            // An idle connection costs ~27 KB: 1,024 is under 30 MB.
            max_connections: 1024,
            max_per_source: 512,
            // Open vSwitch's controller_rate_limit is off by default; a
            // limit here keeps a flood of new flows from queueing without
            // bound. 1,000/s with a burst of 1,000, per connection.
            packet_in_limit: Some(super::limit::PacketInRate {
                rate: 1000,
                burst: 1000,
            }),
        }
    }
}

/// Why the controller layer could not be (re)configured.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("controller target {0} needs TLS, but no TLS files are configured")]
    TlsRequired(Target),
    #[error("loading TLS files")]
    Tls(#[from] TlsError),
}

/// What a target is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetState {
    /// Active: connecting, or negotiating on a fresh connection.
    Connecting,
    /// Active: a session is up (HELLO negotiated).
    Connected,
    /// Waiting before the next connect or bind attempt.
    Backoff,
    /// Passive: not bound yet.
    Binding,
    /// Passive: bound and accepting.
    Listening,
}

/// One connection in [`Controllers::status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnStatus {
    pub id: ConnId,
    pub peer: SocketAddr,
    /// Whether OpenFlow 1.3 was negotiated.
    pub negotiated: bool,
    pub role: ControllerRole,
}

/// One target in [`Controllers::status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetStatus {
    pub target: Target,
    pub state: TargetState,
    /// The bound address of a listening passive target.
    pub local_addr: Option<SocketAddr>,
    /// The last connect, bind or handshake failure.
    pub last_error: Option<String>,
    pub connections: Vec<ConnStatus>,
}

pub(super) struct TargetSlot {
    state: TargetState,
    local_addr: Option<SocketAddr>,
    last_error: Option<String>,
    /// Dropping the slot drops this sender, which stops the target's tasks.
    _stop: watch::Sender<()>,
}

pub(super) struct ConnSlot {
    pub(super) target: Target,
    pub(super) peer: SocketAddr,
    pub(super) negotiated: bool,
    pub(super) out: mpsc::Sender<(u32, Message)>,
    pub(super) packet_ins: Option<super::limit::PacketInLimit>,
}

#[derive(Default)]
pub(super) struct Registry {
    pub(super) roles: RoleTable,
    pub(super) targets: BTreeMap<Target, TargetSlot>,
    pub(super) conns: BTreeMap<ConnId, ConnSlot>,
}

impl Registry {
    fn connected(&self) -> usize {
        self.conns.values().filter(|c| c.negotiated).count()
    }
}

/// The shortest retry delay whatever the options say, so a zero
/// `backoff_min` cannot turn a dead controller into a busy loop.
const MIN_BACKOFF: Duration = Duration::from_millis(10);

/// State shared by the handle and every task.
pub(super) struct Shared {
    pub(super) handler: Arc<dyn RequestHandler>,
    pub(super) options: Options,
    tls: Option<TlsConfigs>,
    registry: Mutex<Registry>,
    connected: watch::Sender<usize>,
    next_id: AtomicU64,
    dropped: AtomicU64,
    /// Accepted connections by source address, and refusals past the caps.
    accepted: Mutex<HashMap<std::net::IpAddr, usize>>,
    refused: AtomicU64,
    rate_limited: AtomicU64,
}

/// An accepted connection's place under the caps; freed on drop.
struct Admission {
    shared: Arc<Shared>,
    source: std::net::IpAddr,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut a = self
            .shared
            .accepted
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = a.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                a.remove(&self.source);
            }
        }
    }
}

impl Shared {
    /// Take a place for a connection from `source`, or count a refusal.
    fn admit(self: &Arc<Self>, source: std::net::IpAddr) -> Option<Admission> {
        let mut a = self.accepted.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = a.values().sum();
        let from_source = a.get(&source).copied().unwrap_or(0);
        if total >= self.options.max_connections || from_source >= self.options.max_per_source {
            let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
            // The first refusal, then one line per 1,000: a flood must not
            // fill the log.
            if n == 1 || n.is_multiple_of(1000) {
                tracing::warn!(%source, total, from_source, refused = n, "OpenFlow connection refused: too many connections");
            }
            return None;
        }
        *a.entry(source).or_insert(0) += 1;
        Some(Admission {
            shared: self.clone(),
            source,
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update_target(&self, target: &Target, f: impl FnOnce(&mut TargetSlot)) {
        if let Some(slot) = self.lock().targets.get_mut(target) {
            f(slot);
        }
    }

    fn set_state(&self, target: &Target, state: TargetState) {
        self.update_target(target, |s| s.state = state);
    }

    fn set_error(&self, target: &Target, error: String) {
        tracing::info!(%target, %error, "controller connection attempt failed");
        self.update_target(target, |s| s.last_error = Some(error));
    }

    /// Register a new session; `None` if its target is gone (stopping).
    pub(super) fn register(
        &self,
        target: &Target,
        peer: SocketAddr,
        out: mpsc::Sender<(u32, Message)>,
    ) -> Option<ConnId> {
        let mut reg = self.lock();
        if !reg.targets.contains_key(target) {
            return None;
        }
        let id = ConnId(self.next_id.fetch_add(1, Ordering::Relaxed));
        reg.roles.add(id);
        reg.conns.insert(
            id,
            ConnSlot {
                target: target.clone(),
                peer,
                negotiated: false,
                out,
                packet_ins: self
                    .options
                    .packet_in_limit
                    .map(|l| l.bucket(std::time::Instant::now())),
            },
        );
        Some(id)
    }

    /// A session negotiated OpenFlow 1.3.
    pub(super) fn mark_negotiated(&self, id: ConnId) {
        let mut reg = self.lock();
        let Some(slot) = reg.conns.get_mut(&id) else {
            return;
        };
        slot.negotiated = true;
        let target = slot.target.clone();
        if let Some(t) = reg.targets.get_mut(&target) {
            t.last_error = None;
            if !target.is_passive() {
                t.state = TargetState::Connected;
            }
        }
        let n = reg.connected();
        drop(reg);
        self.connected.send_replace(n);
    }

    /// A session ended (called from its drop guard).
    pub(super) fn unregister(&self, id: ConnId) {
        let mut reg = self.lock();
        reg.roles.remove(id);
        if let Some(slot) = reg.conns.remove(&id) {
            if let Some(t) = reg.targets.get_mut(&slot.target) {
                if t.state == TargetState::Connected {
                    t.state = TargetState::Backoff;
                }
            }
        }
        let n = reg.connected();
        drop(reg);
        self.connected.send_replace(n);
    }
}

/// Run `f` unless the target is stopped first (`None`).
pub(super) async fn or_stop<F: Future>(stop: &mut watch::Receiver<()>, f: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        _ = stop.changed() => None,
        v = f => Some(v),
    }
}

/// The controller connections of one bridge. Dropping it closes them all.
pub struct Controllers {
    shared: Arc<Shared>,
    runtime: Handle,
}

impl std::fmt::Debug for Controllers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controllers")
            .field("targets", &self.lock_targets())
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

impl Controllers {
    /// Start connecting to / listening for `targets` with default
    /// [`Options`]. `tls` is required if any target is `ssl:` or `pssl:`.
    pub fn start(
        targets: Vec<Target>,
        tls: Option<TlsFiles>,
        handler: Arc<dyn RequestHandler>,
        runtime: &Handle,
    ) -> Result<Controllers, ConnError> {
        Controllers::start_with(targets, tls, handler, runtime, Options::default())
    }

    /// [`Controllers::start`] with explicit [`Options`].
    pub fn start_with(
        targets: Vec<Target>,
        tls: Option<TlsFiles>,
        handler: Arc<dyn RequestHandler>,
        runtime: &Handle,
        options: Options,
    ) -> Result<Controllers, ConnError> {
        let tls = tls.map(|files| files.load()).transpose()?;
        let (connected, _) = watch::channel(0);
        let controllers = Controllers {
            shared: Arc::new(Shared {
                handler,
                options,
                tls,
                registry: Mutex::new(Registry::default()),
                connected,
                next_id: AtomicU64::new(1),
                dropped: AtomicU64::new(0),
                accepted: Mutex::new(HashMap::new()),
                refused: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
            }),
            runtime: runtime.clone(),
        };
        controllers.set_targets(targets)?;
        Ok(controllers)
    }

    /// Replace the controller list. Targets in both the old and the new
    /// list keep their connections; removed ones are closed; new ones
    /// start. On error nothing changes.
    pub fn set_targets(&self, targets: Vec<Target>) -> Result<(), ConnError> {
        if self.shared.tls.is_none() {
            if let Some(t) = targets.iter().find(|t| t.is_tls()) {
                return Err(ConnError::TlsRequired(t.clone()));
            }
        }
        let mut new = Vec::new();
        let removed: Vec<TargetSlot> = {
            let mut reg = self.shared.lock();
            let keep: Vec<&Target> = targets.iter().collect();
            let gone: Vec<Target> = reg
                .targets
                .keys()
                .filter(|t| !keep.contains(t))
                .cloned()
                .collect();
            let removed = gone.iter().filter_map(|t| reg.targets.remove(t)).collect();
            for t in targets {
                if reg.targets.contains_key(&t) {
                    continue;
                }
                let (stop_tx, stop_rx) = watch::channel(());
                reg.targets.insert(
                    t.clone(),
                    TargetSlot {
                        state: if t.is_passive() {
                            TargetState::Binding
                        } else {
                            TargetState::Connecting
                        },
                        local_addr: None,
                        last_error: None,
                        _stop: stop_tx,
                    },
                );
                new.push((t, stop_rx));
            }
            removed
        };
        // Stop removed targets outside the lock.
        drop(removed);
        for (target, stop) in new {
            let shared = self.shared.clone();
            if target.is_passive() {
                self.runtime.spawn(run_passive(shared, target, stop));
            } else {
                self.runtime.spawn(run_active(shared, target, stop));
            }
        }
        Ok(())
    }

    /// Send an asynchronous message (PACKET_IN, PORT_STATUS, FLOW_REMOVED;
    /// xid 0) to every negotiated connection whose role and async
    /// configuration want it. Returns how many connections it was queued
    /// to; a connection whose queue is full misses it (see
    /// [`Controllers::dropped`]).
    pub fn send_async(&self, msg: Message) -> usize {
        let mut reg = self.shared.lock();
        let reg = &mut *reg;
        let mut sent = 0;
        let now = std::time::Instant::now();
        let packet_in = matches!(msg, Message::PacketIn(_));
        for (id, slot) in reg.conns.iter_mut() {
            if !slot.negotiated || !reg.roles.wants_message(*id, &msg) {
                continue;
            }
            if packet_in && slot.packet_ins.as_mut().is_some_and(|b| !b.admit(now)) {
                self.shared.rate_limited.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match slot.out.try_send((0, msg.clone())) {
                Ok(()) => sent += 1,
                Err(_) => {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        sent
    }

    /// Send `msg` with `xid` on one connection, unfiltered. False if the
    /// connection is gone, not negotiated, or its queue is full.
    pub fn send_to(&self, conn: ConnId, xid: u32, msg: Message) -> bool {
        let reg = self.shared.lock();
        match reg.conns.get(&conn) {
            Some(slot) if slot.negotiated => slot.out.try_send((xid, msg)).is_ok(),
            _ => false,
        }
    }

    /// Connections that negotiated OpenFlow 1.3 right now.
    pub fn connected(&self) -> usize {
        self.shared.lock().connected()
    }

    /// A receiver of the number of negotiated connections, updated on
    /// every change: the bridge watches it to switch between fail-mode
    /// standalone/secure behaviour and controller-driven forwarding.
    pub fn watch_connected(&self) -> watch::Receiver<usize> {
        self.shared.connected.subscribe()
    }

    /// Connections refused at accept because of
    /// [`Options::max_connections`] or [`Options::max_per_source`].
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// PACKET_INs not sent because a connection's packet-in budget
    /// ([`Options::packet_in_limit`]) was spent.
    pub fn rate_limited(&self) -> u64 {
        self.shared.rate_limited.load(Ordering::Relaxed)
    }

    /// Connections accepted on passive targets and still open.
    pub fn accepted(&self) -> usize {
        let a = self
            .shared
            .accepted
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        a.values().sum()
    }

    /// Messages `send_async` dropped because a connection's queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// The current role of a connection.
    pub fn role(&self, conn: ConnId) -> Option<ControllerRole> {
        self.shared.lock().roles.role(conn)
    }

    /// Every target with its state and connections.
    pub fn status(&self) -> Vec<TargetStatus> {
        let reg = self.shared.lock();
        reg.targets
            .iter()
            .map(|(target, slot)| TargetStatus {
                target: target.clone(),
                state: slot.state,
                local_addr: slot.local_addr,
                last_error: slot.last_error.clone(),
                connections: reg
                    .conns
                    .iter()
                    .filter(|(_, c)| &c.target == target)
                    .map(|(id, c)| ConnStatus {
                        id: *id,
                        peer: c.peer,
                        negotiated: c.negotiated,
                        role: reg.roles.role(*id).unwrap_or(ControllerRole::Equal),
                    })
                    .collect(),
            })
            .collect()
    }

    fn lock_targets(&self) -> Vec<Target> {
        self.shared.lock().targets.keys().cloned().collect()
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        // Dropping the slots drops every stop sender: all tasks end.
        let slots = std::mem::take(&mut self.shared.lock().targets);
        drop(slots);
    }
}

/// An active target: connect, run a session, back off, repeat.
async fn run_active(shared: Arc<Shared>, target: Target, mut stop: watch::Receiver<()>) {
    let (host, port) = match &target {
        Target::Tcp { host, port } | Target::Ssl { host, port } => (host.clone(), *port),
        Target::PTcp { .. } | Target::PSsl { .. } => return,
    };
    let opts = shared.options;
    let floor = opts.backoff_min.max(MIN_BACKOFF);
    let mut backoff = floor;
    loop {
        shared.set_state(&target, TargetState::Connecting);
        let connect = timeout(opts.io_timeout, TcpStream::connect((host.as_str(), port)));
        let Some(result) = or_stop(&mut stop, connect).await else {
            return;
        };
        match result {
            Ok(Ok(tcp)) => {
                let peer = peer_of(&tcp);
                let _ = tcp.set_nodelay(true);
                let negotiated = match (&target, &shared.tls) {
                    (Target::Ssl { .. }, Some(tls)) => {
                        let connector = TlsConnector::from(tls.client.clone());
                        let hs =
                            timeout(opts.io_timeout, connector.connect(server_name(&host), tcp));
                        match or_stop(&mut stop, hs).await {
                            None => return,
                            Some(Ok(Ok(stream))) => {
                                run_connection(&shared, &target, peer, stream, &mut stop).await
                            }
                            Some(Ok(Err(e))) => {
                                shared.set_error(&target, format!("TLS handshake: {e}"));
                                false
                            }
                            Some(Err(_)) => {
                                shared.set_error(&target, "TLS handshake timed out".into());
                                false
                            }
                        }
                    }
                    (Target::Ssl { .. }, None) => return,
                    _ => run_connection(&shared, &target, peer, tcp, &mut stop).await,
                };
                if negotiated {
                    backoff = floor;
                }
            }
            Ok(Err(e)) => shared.set_error(&target, format!("connect: {e}")),
            Err(_) => shared.set_error(&target, "connect timed out".into()),
        }
        shared.set_state(&target, TargetState::Backoff);
        tracing::debug!(%target, ?backoff, "reconnecting after backoff");
        if or_stop(&mut stop, tokio::time::sleep(backoff))
            .await
            .is_none()
        {
            return;
        }
        backoff = (backoff * 2).min(opts.backoff_max).max(floor);
    }
}

/// A passive target: bind (retrying with backoff), then accept forever.
async fn run_passive(shared: Arc<Shared>, target: Target, mut stop: watch::Receiver<()>) {
    let addr = match &target {
        Target::PTcp { port, ip } | Target::PSsl { port, ip } => SocketAddr::new(*ip, *port),
        Target::Tcp { .. } | Target::Ssl { .. } => return,
    };
    let opts = shared.options;
    let floor = opts.backoff_min.max(MIN_BACKOFF);
    let mut backoff = floor;
    let listener = loop {
        let Some(result) = or_stop(&mut stop, TcpListener::bind(addr)).await else {
            return;
        };
        match result {
            Ok(l) => break l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                // Two switches' default listeners on one host: say how out.
                shared.set_error(
                    &target,
                    format!(
                        "bind {addr}: address in use (another switchd or OpenFlow switch \
                         listens there): give this bridge another listener, e.g. controller = \
                         [\"ptcp:{}:{}\"], or run each switchd in its own network namespace",
                        addr.port().wrapping_add(1),
                        addr.ip()
                    ),
                );
                shared.set_state(&target, TargetState::Backoff);
            }
            Err(e) => {
                shared.set_error(&target, format!("bind {addr}: {e}"));
                shared.set_state(&target, TargetState::Backoff);
            }
        }
        if or_stop(&mut stop, tokio::time::sleep(backoff))
            .await
            .is_none()
        {
            return;
        }
        backoff = (backoff * 2).min(opts.backoff_max).max(floor);
    };
    let local = listener.local_addr().ok();
    tracing::info!(%target, ?local, "listening for OpenFlow controllers");
    shared.update_target(&target, |s| {
        s.state = TargetState::Listening;
        s.local_addr = local;
        s.last_error = None;
    });
    let acceptor = match (&target, &shared.tls) {
        (Target::PSsl { .. }, Some(tls)) => Some(TlsAcceptor::from(tls.server.clone())),
        (Target::PSsl { .. }, None) => return,
        _ => None,
    };
    loop {
        let Some(accepted) = or_stop(&mut stop, listener.accept()).await else {
            return;
        };
        match accepted {
            Ok((tcp, peer)) => {
                let Some(admission) = shared.admit(peer.ip()) else {
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let session = serve_accepted(
                    shared.clone(),
                    target.clone(),
                    acceptor.clone(),
                    tcp,
                    peer,
                    stop.clone(),
                );
                tokio::spawn(async move {
                    session.await;
                    drop(admission);
                });
            }
            Err(e) => {
                // EMFILE and friends: do not spin.
                shared.set_error(&target, format!("accept: {e}"));
                if or_stop(&mut stop, tokio::time::sleep(Duration::from_millis(100)))
                    .await
                    .is_none()
                {
                    return;
                }
            }
        }
    }
}

/// One accepted controller: TLS handshake if needed, then the session.
async fn serve_accepted(
    shared: Arc<Shared>,
    target: Target,
    acceptor: Option<TlsAcceptor>,
    tcp: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<()>,
) {
    let Some(acceptor) = acceptor else {
        run_connection(&shared, &target, peer, tcp, &mut stop).await;
        return;
    };
    let hs = timeout(shared.options.io_timeout, acceptor.accept(tcp));
    match or_stop(&mut stop, hs).await {
        None => {}
        Some(Ok(Ok(stream))) => {
            run_connection(&shared, &target, peer, stream, &mut stop).await;
        }
        Some(Ok(Err(e))) => shared.set_error(&target, format!("TLS handshake with {peer}: {e}")),
        Some(Err(_)) => shared.set_error(&target, format!("TLS handshake with {peer} timed out")),
    }
}

fn peer_of(tcp: &TcpStream) -> SocketAddr {
    tcp.peer_addr()
        .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
}

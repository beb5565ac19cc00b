//! The connection thread: one per port, for either socket role.
//!
//! As the server (`vhostuser`) the thread listens on the port's socket and
//! serves one guest at a time; as the client (`vhostuserclient`) it
//! connects to the guest's socket and, when the connection is lost or
//! cannot be made, tries again after [`RECONNECT_INTERVAL`], doubling the
//! wait up to [`MAX_RECONNECT_INTERVAL`] while attempts keep failing, and
//! says so once per streak of failures (a path that is not a socket, or
//! a socket nobody serves, must not fill the log). Each
//! connection gets a fresh `VhostUserDaemon` (fresh rings, fresh memory
//! table): nothing of a previous guest survives into the next. In both
//! roles the guest's socket is joined to the daemon through a
//! [`relay`](crate::relay), which mends the frontends' early ring enables.
//!
//! The one idea: the thread never blocks without a way out. It waits for
//! the listening socket in epoll with a timeout, sleeps in short steps, and
//! the port's `Drop` shuts the live connection down, so dropping a port
//! returns promptly.

use crate::backend::NetBackend;
use crate::port::{GuestMem, Shared};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use vhost::vhost_user::Listener;
use vhost_user_backend::VhostUserDaemon;
use vm_memory::{GuestMemoryAtomic, GuestMemoryMmap};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};

/// How soon a client port retries its connection after a loss.
pub const RECONNECT_INTERVAL: Duration = Duration::from_millis(500);
/// The longest wait between a client port's failing attempts.
pub const MAX_RECONNECT_INTERVAL: Duration = Duration::from_secs(2);

/// A client port's retry schedule: doubles while attempts fail, says the
/// first failure of a streak at info level and the rest at debug.
#[derive(Debug)]
struct Backoff {
    wait: Duration,
    failures: u64,
}

impl Backoff {
    fn new() -> Self {
        Backoff {
            wait: RECONNECT_INTERVAL,
            failures: 0,
        }
    }

    /// One more failed attempt; returns how long to wait.
    fn failed(&mut self, port: &str, path: &Path, why: &str) -> Duration {
        if self.failures == 0 {
            tracing::info!(port, path = %path.display(), reason = why, "cannot reach the guest's vhost-user socket; retrying quietly");
        } else {
            tracing::debug!(port, path = %path.display(), reason = why, failures = self.failures, "vhost-user connect failed");
        }
        self.failures += 1;
        let wait = self.wait;
        self.wait = (self.wait * 2).min(MAX_RECONNECT_INTERVAL);
        wait
    }

    fn connected(&mut self) {
        *self = Backoff::new();
    }
}
/// Longest wait before the thread looks at the stop flag again.
const POLL_STEP: Duration = Duration::from_millis(100);

/// Which end of the socket the port is.
pub enum Role {
    /// Listen on the socket (already bound).
    Server(Listener),
    /// Connect to the guest's socket.
    Client(PathBuf),
}

impl std::fmt::Debug for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Server(l) => write!(f, "Server(fd {})", l.as_raw_fd()),
            Role::Client(p) => write!(f, "Client({})", p.display()),
        }
    }
}

/// Run connections until the port stops.
pub fn run(shared: Arc<Shared>, role: Role) {
    let epoll = match &role {
        Role::Server(l) => match listener_epoll(l) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!(port = %shared.name, error = %e, "cannot watch the vhost-user socket");
                return;
            }
        },
        Role::Client(_) => None,
    };
    let mut events = [EpollEvent::default(); 1];
    let mut backoff = Backoff::new();
    while !shared.stop.load(Relaxed) {
        // Wait until there is someone to talk to.
        match (&role, &epoll) {
            (Role::Server(_), Some(ep)) => match ep.wait(POLL_STEP.as_millis() as i32, &mut events)
            {
                Ok(0) => continue,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!(port = %shared.name, error = %e, "epoll on the vhost-user socket");
                    return;
                }
            },
            (Role::Client(path), _) => {
                let why = match std::fs::metadata(path) {
                    Ok(m) if m.file_type().is_socket() => None,
                    Ok(_) => Some("not a socket"),
                    Err(_) => Some("no such socket"),
                };
                if let Some(why) = why {
                    pause(&shared, backoff.failed(&shared.name, path, why));
                    continue;
                }
            }
            _ => return,
        }
        let mem: GuestMem = GuestMemoryAtomic::new(GuestMemoryMmap::new());
        let backend = NetBackend::new(shared.clone(), mem.clone());
        let mut daemon = match VhostUserDaemon::new(shared.name.clone(), backend, mem) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(port = %shared.name, error = %e, "cannot create the vhost-user device");
                pause(&shared, RECONNECT_INTERVAL);
                continue;
            }
        };
        // Either way the guest's connection goes through the relay.
        let guest = match &role {
            Role::Server(listener) => match listener.accept() {
                Ok(Some(stream)) => Ok(stream),
                Ok(None) => {
                    retire(daemon);
                    continue;
                }
                Err(e) => Err(std::io::Error::other(e)),
            },
            Role::Client(path) => std::os::unix::net::UnixStream::connect(path),
        };
        let sink = shared.clone();
        let relayed = guest
            .and_then(|g| crate::relay::start(&shared.name, g, Box::new(move |e| sink.fault(e))));
        let started = match (relayed, &role) {
            (Ok(relay), _) => daemon.start(&mut Listener::from(relay)),
            (Err(e), Role::Client(path)) => {
                retire(daemon);
                pause(&shared, backoff.failed(&shared.name, path, &e.to_string()));
                continue;
            }
            (Err(e), Role::Server(_)) => {
                tracing::debug!(port = %shared.name, error = %e, "vhost-user connection not made");
                retire(daemon);
                pause(&shared, RECONNECT_INTERVAL);
                continue;
            }
        };
        if let Err(e) = started {
            let wait = match &role {
                Role::Client(path) => backoff.failed(&shared.name, path, &e.to_string()),
                Role::Server(_) => {
                    tracing::warn!(port = %shared.name, error = %e, "vhost-user accept failed");
                    RECONNECT_INTERVAL
                }
            };
            retire(daemon);
            pause(&shared, wait);
            continue;
        }
        *shared.shutdown.lock().unwrap_or_else(|e| e.into_inner()) = daemon.shutdown_handle();
        tracing::info!(port = %shared.name, "vhost-user guest connected");
        backoff.connected();
        // A stop requested, or a guest fault found, while connecting would
        // have found no handle to close the connection with.
        if shared.stop.load(Relaxed) || shared.is_broken() {
            daemon.request_shutdown();
        }
        let result = daemon.wait();
        *shared.shutdown.lock().unwrap_or_else(|e| e.into_inner()) = None;
        retire(daemon);
        shared.end_session();
        match result {
            Ok(()) => tracing::info!(port = %shared.name, "vhost-user guest disconnected"),
            Err(e) => {
                tracing::info!(port = %shared.name, reason = %e, "vhost-user guest disconnected")
            }
        }
        if matches!(role, Role::Client(_)) {
            pause(&shared, RECONNECT_INTERVAL);
        }
    }
}

fn listener_epoll(l: &Listener) -> std::io::Result<Epoll> {
    let ep = Epoll::new()?;
    ep.ctl(
        ControlOperation::Add,
        l.as_raw_fd(),
        EpollEvent::new(EventSet::IN, 0),
    )?;
    Ok(ep)
}

/// Stop a daemon's ring threads; dropping it then joins them.
fn retire(daemon: VhostUserDaemon<NetBackend>) {
    for h in daemon.get_epoll_handlers() {
        h.send_exit_event();
    }
    drop(daemon);
}

/// Sleep up to `d`, returning early when the port stops.
fn pause(shared: &Shared, d: Duration) {
    let mut left = d;
    while !left.is_zero() && !shared.stop.load(Relaxed) {
        let step = left.min(POLL_STEP);
        std::thread::sleep(step);
        left -= step;
    }
}

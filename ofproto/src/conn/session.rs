//! One controller session: a [`Connection`] state machine driven over one
//! socket (plain TCP or TLS), with the role table and the bridge's
//! [`RequestHandler`](super::RequestHandler) in the loop.
//!
//! The one idea: a single task owns the machine and the socket and loops
//! over three steps: act on the machine's events (answering requests),
//! write everything the machine wants written, then wait for whichever
//! comes first of input, a queued outgoing message (`send_async`,
//! `send_to`), the machine's timer, or the target being stopped. Because
//! requests are handled one at a time and their replies are written before
//! the next read, per-connection ordering (and so barrier semantics) falls
//! out of the loop. Writes are bounded by a timeout so a controller that
//! stops reading cannot pin the session forever; a dead reader is also
//! caught by the echo keepalive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

use super::io::{or_stop, ConnInfo, Shared};
use super::machine::{Config, Connection, Event};
use super::target::Target;
use super::{error_reply, ConnId};
use crate::wire::message::Message;
use crate::wire::switch::ControllerRole;

/// How many queued outgoing messages one loop iteration takes at most, so
/// input keeps being read while a burst of packet-ins goes out.
const OUT_BATCH: usize = 64;

/// Sleep length standing in for "no timer" (keepalive turned off).
const NO_DEADLINE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Unregisters the session however its task ends (return, cancel, panic).
struct Registration {
    shared: Arc<Shared>,
    id: ConnId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.unregister(self.id);
    }
}

/// Run a session on an established transport until it closes or the
/// target stops. Returns whether OpenFlow 1.3 was negotiated.
pub(super) async fn run_connection<S>(
    shared: &Arc<Shared>,
    target: &Target,
    peer: SocketAddr,
    stream: S,
    stop: &mut watch::Receiver<()>,
) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (out_tx, out_rx) = mpsc::channel(shared.options.queue_len.max(1));
    let Some(id) = shared.register(target, peer, out_tx) else {
        return false;
    };
    let _registration = Registration {
        shared: shared.clone(),
        id,
    };
    let config = Config {
        inactivity_probe: shared.options.inactivity_probe,
    };
    let mut session = Session {
        shared,
        id,
        peer,
        conn: Connection::new(Instant::now(), config),
        negotiated: false,
    };
    tracing::info!(%target, %peer, conn = %id, "controller connection up");
    session.run(stream, out_rx, stop).await;
    session.negotiated
}

struct Session<'a> {
    shared: &'a Arc<Shared>,
    id: ConnId,
    peer: SocketAddr,
    conn: Connection,
    negotiated: bool,
}

impl Session<'_> {
    async fn run<S>(
        &mut self,
        mut stream: S,
        mut out_rx: mpsc::Receiver<(u32, Message)>,
        stop: &mut watch::Receiver<()>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let io_timeout = self.shared.options.io_timeout;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            self.process_events();
            if let Some(bytes) = self.conn.poll_transmit() {
                let write = async {
                    stream.write_all(&bytes).await?;
                    stream.flush().await
                };
                match or_stop(stop, timeout(io_timeout, write)).await {
                    None => return,
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(e))) => {
                        tracing::info!(conn = %self.id, peer = %self.peer, error = %e, "write failed");
                        return;
                    }
                    Some(Err(_)) => {
                        tracing::warn!(conn = %self.id, peer = %self.peer, "write stalled, closing");
                        return;
                    }
                }
            }
            if self.conn.is_closed() {
                let _ = timeout(io_timeout, stream.shutdown()).await;
                return;
            }
            let deadline = self
                .conn
                .poll_timeout()
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + NO_DEADLINE);
            tokio::select! {
                _ = stop.changed() => {
                    tracing::info!(conn = %self.id, peer = %self.peer, "target removed, closing");
                    return;
                }
                read = stream.read(&mut buf) => match read {
                    Ok(0) => self.conn.handle_eof(),
                    Ok(n) => self.conn.handle_input(&buf[..n], Instant::now()),
                    Err(e) => {
                        tracing::info!(conn = %self.id, peer = %self.peer, error = %e, "read failed");
                        self.conn.handle_eof();
                    }
                },
                Some((xid, msg)) = out_rx.recv() => {
                    self.conn.send(xid, &msg);
                    for _ in 1..OUT_BATCH {
                        match out_rx.try_recv() {
                            Ok((xid, msg)) => { self.conn.send(xid, &msg); }
                            Err(_) => break,
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => self.conn.handle_timeout(Instant::now()),
            }
        }
    }

    fn process_events(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Connected { version } => {
                    tracing::info!(conn = %self.id, peer = %self.peer, version, "OpenFlow negotiated");
                    self.negotiated = true;
                    self.shared.mark_negotiated(self.id);
                }
                Event::Request { xid, msg } => self.handle_request(xid, msg),
                Event::PeerError { xid, error } => {
                    tracing::info!(conn = %self.id, peer = %self.peer, xid, ?error, "controller sent an error");
                }
                Event::Closed(reason) => {
                    tracing::info!(conn = %self.id, peer = %self.peer, %reason, "controller connection closed");
                }
            }
        }
    }

    /// Role and async requests are answered here; role checks come first;
    /// the rest goes to the bridge's handler, outside the registry lock.
    fn handle_request(&mut self, xid: u32, msg: Message) {
        let id = self.id;
        let info = {
            let mut reg = self.shared.lock();
            let reply = match &msg {
                Message::RoleRequest(req) => Some(match reg.roles.handle_role_request(id, *req) {
                    Ok(role) => Message::RoleReply(role),
                    Err(e) => error_reply(e, xid, &msg),
                }),
                Message::GetAsyncRequest => reg.roles.async_config(id).map(Message::GetAsyncReply),
                Message::SetAsync(config) => {
                    reg.roles.set_async(id, *config);
                    return;
                }
                other => reg
                    .roles
                    .check(id, other)
                    .err()
                    .map(|e| error_reply(e, xid, other)),
            };
            if let Some(reply) = reply {
                drop(reg);
                self.conn.send(xid, &reply);
                return;
            }
            ConnInfo {
                id,
                peer: self.peer,
                role: reg.roles.role(id).unwrap_or(ControllerRole::Equal),
                may_modify: reg.roles.may_modify(id),
            }
        };
        for reply in self.shared.handler.handle(info, xid, msg) {
            self.conn.send(xid, &reply);
        }
    }
}

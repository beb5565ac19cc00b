//! One controller connection as a sans-I/O state machine.
//!
//! [`Connection`] owns everything about an OpenFlow 1.3 channel that does
//! not need the switch: version negotiation, framing, malformed-message
//! errors and the echo keepalive. It has no socket and no clock. Bytes go
//! in with [`Connection::handle_input`], bytes to write come out of
//! [`Connection::poll_transmit`], what the switch must act on comes out of
//! [`Connection::poll_event`], and time is passed in ([`handle_timeout`],
//! [`poll_timeout`]) — the quinn-proto shape, so every rule below is unit
//! tested without I/O and the tokio glue in [`super::io`] stays thin.
//!
//! The life of a connection:
//!
//! ```text
//!   new() queues our HELLO (version bitmap: 1.3 only)
//!   HelloWait --peer HELLO offering 1.3--> Connected  (Event::Connected)
//!   HelloWait --anything else------------> Closed     (ERROR HELLO_FAILED)
//!   Connected --length < 8 / probe timeout / EOF / close()--> Closed
//! ```
//!
//! Once connected, each message cut from the stream with
//! [`frame_len`] is decoded. A decoding failure is
//! answered with the OFPT_ERROR the codec names (offending xid, first 64
//! bytes) and the connection goes on: a bad message never costs a
//! controller its channel. The exception is a header length below 8, which
//! loses the framing of everything after it; that closes. ECHO_REQUEST is
//! answered here; messages only a switch sends (PACKET_IN, FEATURES_REPLY,
//! ...) get `BAD_REQUEST/BAD_TYPE`; everything else surfaces as
//! [`Event::Request`] in arrival order.
//!
//! **Ordering and barriers are the owner's job.** Requests come out of
//! [`poll_event`](Connection::poll_event) in the order they arrived, and
//! [`send`](Connection::send) writes replies in the order it is called. An
//! owner that handles each request to completion before taking the next
//! (as [`super::io`] does) answers OFPT_BARRIER_REQUEST with
//! OFPT_BARRIER_REPLY the moment it sees it; an owner that defers work must
//! hold the barrier reply until everything before it is done.
//!
//! Keepalive: after `inactivity_probe` without input the machine sends an
//! ECHO_REQUEST; if nothing at all arrives within another interval it
//! closes. Any input counts as life, not only the echo reply.
//!
//! [`handle_timeout`]: Connection::handle_timeout
//! [`poll_timeout`]: Connection::poll_timeout

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::wire::error::{BadRequest, HelloFailed, OfError};
use crate::wire::header::{Header, MsgType, HEADER_LEN, OFP_VERSION};
use crate::wire::switch::{ErrorMsg, Hello};
use crate::wire::{decode, encode_into, frame_len, DecodeFailure, Message};

/// Settings of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Idle time before an ECHO_REQUEST, and the time after it before the
    /// connection is declared dead (Open vSwitch's `inactivity_probe`).
    /// Also bounds the wait for the peer's HELLO (twice this). Zero turns
    /// the keepalive off.
    pub inactivity_probe: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            inactivity_probe: Duration::from_secs(5),
        }
    }
}

/// Where the connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Our HELLO is queued; waiting for the peer's.
    HelloWait,
    /// OpenFlow 1.3 negotiated.
    Connected,
    /// Finished; drain [`Connection::poll_transmit`], then drop the socket.
    Closed,
}

/// Why a connection closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    #[error("version negotiation failed: {0}")]
    HelloFailed(String),
    #[error("peer sent OFPT_ERROR during version negotiation: {0}")]
    PeerHelloFailed(String),
    #[error("no HELLO from the peer within {0:?}")]
    HelloTimeout(Duration),
    #[error("no reply to echo request within {0:?}")]
    ProbeTimeout(Duration),
    #[error("message length {0} below the header size: framing lost")]
    FramingLost(u16),
    #[error("connection closed by peer")]
    PeerClosed,
    #[error("closed locally: {0}")]
    Local(String),
}

/// What the owner must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Version negotiation succeeded (always OpenFlow 1.3, version 4).
    Connected { version: u8 },
    /// A request for the switch; answer with [`Connection::send`] using
    /// `xid`. Arrives in stream order.
    Request { xid: u32, msg: Message },
    /// The peer reported an error (usually about something we sent).
    PeerError { xid: u32, error: ErrorMsg },
    /// The connection closed; no more events follow.
    Closed(CloseReason),
}

/// The sans-I/O OpenFlow 1.3 connection (see the module docs).
#[derive(Debug)]
pub struct Connection {
    config: Config,
    state: State,
    /// Received bytes not yet cut into messages; `rx[rx_start..]` is live.
    rx: Vec<u8>,
    rx_start: usize,
    /// Encoded bytes waiting for [`Connection::poll_transmit`].
    tx: Vec<u8>,
    events: VecDeque<Event>,
    /// When the HELLO wait began.
    started: Instant,
    /// Last time any input arrived.
    last_input: Instant,
    /// When our outstanding ECHO_REQUEST was sent.
    probe_sent: Option<Instant>,
    next_xid: u32,
}

/// Message types only a switch sends; a controller sending one is refused
/// with BAD_TYPE.
fn is_switch_to_controller(t: MsgType) -> bool {
    matches!(
        t,
        MsgType::FeaturesReply
            | MsgType::GetConfigReply
            | MsgType::PacketIn
            | MsgType::FlowRemoved
            | MsgType::PortStatus
            | MsgType::MultipartReply
            | MsgType::BarrierReply
            | MsgType::QueueGetConfigReply
            | MsgType::RoleReply
            | MsgType::GetAsyncReply
    )
}

impl Connection {
    /// A new connection whose transport just came up; our HELLO is queued.
    pub fn new(now: Instant, config: Config) -> Connection {
        let mut c = Connection {
            config,
            state: State::HelloWait,
            rx: Vec::new(),
            rx_start: 0,
            tx: Vec::new(),
            events: VecDeque::new(),
            started: now,
            last_input: now,
            probe_sent: None,
            next_xid: 1,
        };
        let xid = c.next_xid();
        c.queue(xid, &Message::Hello(Hello::with_versions(&[OFP_VERSION])));
        c
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Closed: no more input is taken and no more events will come; bytes
    /// still pending in [`Connection::poll_transmit`] (a final error)
    /// should be written before the socket is dropped.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// A fresh transaction id for a message the switch initiates.
    pub fn next_xid(&mut self) -> u32 {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        xid
    }

    /// Queue `msg` with transaction id `xid` (a request's xid for a reply,
    /// 0 for asynchronous messages). Returns false, dropping the message,
    /// once the connection is closed.
    ///
    /// A message whose encoding exceeds 65535 bytes (the header's length
    /// limit) is dropped with an error log and `false`: writing it would
    /// break the framing of the whole stream. Multipart replies must be
    /// split beforehand (`MultipartReplyBody::into_replies`).
    pub fn send(&mut self, xid: u32, msg: &Message) -> bool {
        if self.state == State::Closed {
            return false;
        }
        self.queue(xid, msg)
    }

    /// Bytes to write to the transport, all pending output in one buffer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.tx.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.tx))
        }
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Connection::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probe = self.config.inactivity_probe;
        if probe.is_zero() {
            return None;
        }
        match self.state {
            State::HelloWait => Some(self.started + probe * 2),
            State::Connected => Some(match self.probe_sent {
                Some(sent) => sent + probe,
                None => self.last_input + probe,
            }),
            State::Closed => None,
        }
    }

    /// Advance timers: send the echo probe, or give up on a silent peer.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.poll_timeout() else {
            return;
        };
        if now < deadline {
            return;
        }
        let probe = self.config.inactivity_probe;
        match self.state {
            State::HelloWait => self.close(CloseReason::HelloTimeout(probe * 2)),
            State::Connected if self.probe_sent.is_some() => {
                self.close(CloseReason::ProbeTimeout(probe))
            }
            State::Connected => {
                let xid = self.next_xid();
                self.queue(xid, &Message::EchoRequest(Vec::new()));
                self.probe_sent = Some(now);
            }
            State::Closed => {}
        }
    }

    /// The transport reached end of stream (or failed).
    pub fn handle_eof(&mut self) {
        self.close(CloseReason::PeerClosed);
    }

    /// Close from the owner's side (e.g. the target was removed).
    pub fn close_locally(&mut self, why: impl Into<String>) {
        self.close(CloseReason::Local(why.into()));
    }

    /// Feed bytes read from the transport.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        if self.state == State::Closed || data.is_empty() {
            return;
        }
        self.last_input = now;
        self.probe_sent = None;
        self.rx.extend_from_slice(data);
        while self.state != State::Closed {
            let live = &self.rx[self.rx_start..];
            let Some(len) = frame_len(live) else { break };
            if let Some(h) = Header::peek(live).filter(|h| usize::from(h.length) < HEADER_LEN) {
                self.lost_framing(h);
                break;
            }
            if live.len() < len {
                break;
            }
            let frame = live[..len].to_vec();
            self.rx_start += len;
            self.handle_frame(&frame);
        }
        // Compact: drop consumed bytes once they dominate the buffer.
        if self.rx_start == self.rx.len() {
            self.rx.clear();
            self.rx_start = 0;
        } else if self.rx_start > 4096 && self.rx_start * 2 > self.rx.len() {
            self.rx.drain(..self.rx_start);
            self.rx_start = 0;
        }
    }

    fn lost_framing(&mut self, h: Header) {
        // What follows the bad header is not known to belong to it; echo
        // back what has arrived, up to the usual 64 bytes.
        let err = Message::Error(ErrorMsg::reply_to(
            BadRequest::BAD_LEN,
            &self.rx[self.rx_start..],
        ));
        self.queue(h.xid, &err);
        self.close(CloseReason::FramingLost(h.length));
    }

    fn handle_frame(&mut self, frame: &[u8]) {
        match self.state {
            State::HelloWait => self.handle_hello(frame),
            State::Connected => self.handle_message(frame),
            State::Closed => {}
        }
    }

    fn handle_hello(&mut self, frame: &[u8]) {
        let Some(header) = Header::peek(frame) else {
            return;
        };
        match decode(frame) {
            Ok((h, Message::Hello(hello))) => match hello.negotiate(h.version, &[OFP_VERSION]) {
                Some(version) => {
                    self.state = State::Connected;
                    self.events.push_back(Event::Connected { version });
                }
                None => {
                    let why = format!(
                        "We support only OpenFlow 1.3 (version 0x04); peer offered {}.",
                        describe_offer(&hello, h.version)
                    );
                    self.fail_hello(header, HelloFailed::INCOMPATIBLE, why);
                }
            },
            Ok((h, Message::Error(error))) => {
                // The peer refused our HELLO; report and close.
                self.events.push_back(Event::PeerError {
                    xid: h.xid,
                    error: error.clone(),
                });
                self.close(CloseReason::PeerHelloFailed(describe_error(&error)));
            }
            // An error in another version's header: still a refusal.
            Err(_) if header.msg_type == MsgType::Error => {
                let why = format!("OFPT_ERROR with version {:#04x}", header.version);
                self.close(CloseReason::PeerHelloFailed(why));
            }
            Ok(_) | Err(_) => {
                let why = format!(
                    "Expected OFPT_HELLO, received message type {}.",
                    u8::from(header.msg_type)
                );
                self.fail_hello(header, HelloFailed::INCOMPATIBLE, why);
            }
        }
    }

    /// Answer HELLO_FAILED with an ASCII reason and close. The error goes
    /// out with the peer's header version when that is older than ours (the
    /// OFPT_ERROR layout is the same in every version), so a 1.0-only peer
    /// can read why it was refused.
    fn fail_hello(&mut self, peer: Header, error: OfError, why: String) {
        let start = self.tx.len();
        let msg = Message::Error(ErrorMsg::Standard {
            error,
            data: why.clone().into_bytes(),
        });
        self.queue(peer.xid, &msg);
        if let Some(v) = self.tx.get_mut(start) {
            *v = peer.version.clamp(1, OFP_VERSION);
        }
        self.close(CloseReason::HelloFailed(why));
    }

    fn handle_message(&mut self, frame: &[u8]) {
        let (header, msg) = match decode(frame) {
            Ok(m) => m,
            Err(failure) => {
                if let DecodeFailure::Rejected { error, .. } = &failure {
                    tracing::debug!(%error, "refusing malformed OpenFlow message");
                }
                if let Some((xid, reply)) = failure.error_reply() {
                    self.queue(xid, &reply);
                }
                return;
            }
        };
        let xid = header.xid;
        match msg {
            Message::EchoRequest(data) => {
                self.queue(xid, &Message::EchoReply(data));
            }
            Message::EchoReply(_) => {}
            // A second HELLO carries nothing new; ignore it.
            Message::Hello(_) => {}
            Message::Error(error) => self.events.push_back(Event::PeerError { xid, error }),
            msg if is_switch_to_controller(msg.msg_type()) => {
                let err = ErrorMsg::reply_to(BadRequest::BAD_TYPE, frame);
                self.queue(xid, &Message::Error(err));
            }
            msg => self.events.push_back(Event::Request { xid, msg }),
        }
    }

    fn queue(&mut self, xid: u32, msg: &Message) -> bool {
        let start = self.tx.len();
        encode_into(xid, msg, &mut self.tx);
        let len = self.tx.len() - start;
        if len > usize::from(u16::MAX) {
            self.tx.truncate(start);
            tracing::error!(
                xid,
                len,
                msg_type = ?msg.msg_type(),
                "dropping an OpenFlow message too long to encode"
            );
            return false;
        }
        true
    }

    fn close(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.rx = Vec::new();
        self.rx_start = 0;
        self.probe_sent = None;
        self.events.push_back(Event::Closed(reason));
    }
}

/// The versions a HELLO offers, for the HELLO_FAILED reason text.
fn describe_offer(hello: &Hello, header_version: u8) -> String {
    let Some(bitmap) = hello.version_bitmap() else {
        return format!("version {header_version:#04x} (no version bitmap)");
    };
    let versions: Vec<String> = (0..bitmap.len() * 32)
        .filter(|v| bitmap.get(v / 32).is_some_and(|w| w & (1 << (v % 32)) != 0))
        .map(|v| format!("{v:#04x}"))
        .collect();
    if versions.is_empty() {
        "no versions".to_string()
    } else {
        format!("versions {}", versions.join(", "))
    }
}

fn describe_error(error: &ErrorMsg) -> String {
    match error {
        ErrorMsg::Standard { error, data } => {
            let text: String = data
                .iter()
                .take(128)
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("type {} code {}: {text}", error.kind, error.code)
        }
        ErrorMsg::Experimenter { experimenter, .. } => {
            format!("experimenter error {experimenter:#x}")
        }
    }
}

#[cfg(test)]
mod tests;

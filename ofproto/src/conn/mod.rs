//! # conn: the controller side of an OpenFlow 1.3 switch
//!
//! Everything between a controller's socket and the switch logic: where
//! controllers are ([`target`]), how one connection behaves ([`machine`]),
//! how several connections share the switch ([`roles`]), TLS ([`tls`]) and
//! the tokio glue that runs it all ([`io`], whose [`Controllers`] handle is
//! what a bridge owns).
//!
//! The one idea: the protocol is a state machine without I/O. A
//! [`machine::Connection`] takes bytes and time and produces bytes, timers
//! and events; [`roles::RoleTable`] is plain data shared by the
//! connections of one bridge. Both are unit tested without sockets. The
//! tokio layer only moves bytes between sockets and machines, applies the
//! role table, and calls the bridge's [`RequestHandler`] for everything
//! that needs the switch itself (features, flow mods, multipart, ...).

pub mod io;
pub mod limit;
pub mod machine;
pub mod roles;
mod session;
pub mod target;
pub mod tls;

pub use io::{
    ConnError, ConnInfo, ConnStatus, Controllers, Options, RequestHandler, TargetState,
    TargetStatus,
};
pub use machine::{CloseReason, Connection, Event};
pub use roles::{AsyncKind, RoleTable};
pub use target::{Target, TargetError, DEFAULT_PORT};
pub use tls::{TlsError, TlsFiles};

use crate::wire::error::OfError;
use crate::wire::message::{encode, Message};
use crate::wire::switch::ErrorMsg;

/// Identifies one controller connection for the lifetime of a
/// [`Controllers`] handle (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conn{}", self.0)
    }
}

/// The OFPT_ERROR answering request `msg` (sent with `xid`) with `error`;
/// its data is the first 64 bytes of the request re-encoded (the codec
/// round-trips byte for byte). Handlers use it for their own refusals.
pub fn error_reply(error: OfError, xid: u32, msg: &Message) -> Message {
    Message::Error(ErrorMsg::reply_to(error, &encode(xid, msg)))
}

#[cfg(test)]
mod tests;

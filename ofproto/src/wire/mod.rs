//! The OpenFlow 1.3 (1.3.5) wire codec.
//!
//! Shape after smoltcp's `wire`: every message family has a `Repr`-style
//! struct with `decode` (from bytes, validating, never panicking) and
//! `encode` (to bytes, byte-exact round trips). Errors carry the
//! OFPT_ERROR type and code to answer with.
//!
//! Start at [`message`]: [`message::decode`] / [`message::encode`] /
//! [`message::frame_len`] and the [`message::Message`] enum. The family
//! modules hold the bodies: [`switch`] (hello, error, echo, features,
//! config, role, async), [`port`], [`packet`] (packet-in/out, flow
//! removed), [`flow_mod`], [`group`], [`meter`], [`table`], [`queue`] and
//! [`multipart`]; [`oxm`], [`action`] and [`instruction`] are the shared
//! building blocks.

pub mod action;
pub mod bytes;
pub mod error;
pub mod flow_mod;
pub mod group;
pub mod header;
pub mod instruction;
pub mod message;
pub mod meter;
pub mod multipart;
pub mod nx;
pub mod oxm;
pub mod packet;
pub mod port;
pub mod queue;
pub mod switch;
pub mod table;

pub use header::{Header, MsgType, OFP_VERSION};
pub use message::{decode, encode, encode_into, frame_len, DecodeFailure, Message};

//! The upcall: how the datapath asks the layer above what to do.
//!
//! When a packet misses both caches, the worker hands it to an
//! [`UpcallHandler`] (ofproto implements it by translating the packet through
//! the OpenFlow tables; tests use a MAC-learning handler). The handler answers
//! with datapath actions and the *mask* of every key bit it consulted: the
//! worker installs `(key & mask, mask, actions)` as a megaflow, so every later
//! packet that agrees on those bits is forwarded without asking again.
//!
//! Upcalls are bounded per batch and per second per worker (see
//! [`crate::worker`]), so a flood of new flows cannot starve established ones;
//! the packets over the bound are dropped and counted as lost upcalls.

use crate::actions::Actions;
use crate::flow::{FlowKey, Mask};
use crate::packet::Packet;

/// Why the datapath is calling up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpcallReason {
    /// No megaflow matched the packet.
    Miss,
    /// A `Userspace` action asked for it, with its user data.
    Action { userdata: u64 },
}

/// What the handler tells the datapath to do with a missed packet.
#[derive(Clone, Debug)]
pub struct UpcallReply {
    /// Actions for this packet and, when installed, for its megaflow.
    pub actions: Actions,
    /// The bits of the key the decision depended on.
    pub mask: Mask,
    /// Install a megaflow (false: execute for this packet only, e.g. when the
    /// decision cannot be cached).
    pub install: bool,
    /// Attached to the megaflow, returned in dumps.
    pub owner: Option<crate::cache::megaflow::Owner>,
}

/// Implemented by the layer above the datapath.
pub trait UpcallHandler: Send + Sync {
    /// A packet missed the caches: decide its actions and their mask.
    /// `None` drops the packet without installing anything.
    fn miss(&self, packet: &Packet, key: &FlowKey) -> Option<UpcallReply>;

    /// A `Userspace` action fired for this packet.
    fn action(&self, packet: &Packet, key: &FlowKey, userdata: u64) {
        let _ = (packet, key, userdata);
    }
}

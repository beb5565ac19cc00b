//! Packets and flows crossing the controller channel: OFPT_PACKET_IN
//! (switch to controller), OFPT_PACKET_OUT (controller to switch) and
//! OFPT_FLOW_REMOVED (switch to controller).
//!
//! The one idea: these messages wrap variable-length pieces owned by other
//! modules (an OXM [`Match`], an [`Action`] list) around raw frame bytes,
//! and the lengths that delimit those pieces come from different places:
//! the match carries its own length, PACKET_OUT's action list is sized by
//! `actions_len`, and the frame is whatever is left. Each piece is decoded
//! from a bounded [`Reader`] so a lying length can never spill into the
//! next piece.

use super::action::Action;
use super::bytes::{Put, Reader};
use super::error::WireResult;
use super::header::wire_enum;
use super::oxm::Match;

/// `OFP_NO_BUFFER`: the packet is not buffered; the whole frame is in `data`.
pub const OFP_NO_BUFFER: u32 = 0xffff_ffff;

wire_enum! {
    /// `ofp_packet_in_reason`.
    pub enum PacketInReason: u8 {
        NoMatch = 0,
        Action = 1,
        InvalidTtl = 2,
    }
}

/// OFPT_PACKET_IN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketIn {
    pub buffer_id: u32,
    /// Length of the frame, which may exceed `data.len()` when truncated.
    pub total_len: u16,
    pub reason: PacketInReason,
    pub table_id: u8,
    pub cookie: u64,
    /// Pipeline fields (in_port at least) as an OXM match.
    pub r#match: Match,
    pub data: Vec<u8>,
}

impl PacketIn {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<PacketIn> {
        let buffer_id = r.u32("buffer_id")?;
        let total_len = r.u16("total_len")?;
        let reason = PacketInReason::from(r.u8("reason")?);
        let table_id = r.u8("table_id")?;
        let cookie = r.u64("cookie")?;
        let r#match = Match::decode(r)?;
        r.skip(2, "pad")?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            r#match,
            data: r.rest().to_vec(),
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.buffer_id);
        out.put_u16(self.total_len);
        out.put_u8(self.reason.into());
        out.put_u8(self.table_id);
        out.put_u64(self.cookie);
        self.r#match.encode(out);
        out.put_zeros(2);
        out.extend_from_slice(&self.data);
    }
}

/// OFPT_PACKET_OUT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketOut {
    /// [`OFP_NO_BUFFER`] when the frame is in `data`.
    pub buffer_id: u32,
    /// The ingress port for the actions (may be CONTROLLER).
    pub in_port: u32,
    pub actions: Vec<Action>,
    pub data: Vec<u8>,
}

impl PacketOut {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<PacketOut> {
        let buffer_id = r.u32("buffer_id")?;
        let in_port = r.u32("in_port")?;
        let actions_len = usize::from(r.u16("actions_len")?);
        r.skip(6, "pad")?;
        let mut ar = r.sub(actions_len, "actions")?;
        let actions = Action::decode_list(&mut ar)?;
        Ok(PacketOut {
            buffer_id,
            in_port,
            actions,
            data: r.rest().to_vec(),
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.buffer_id);
        out.put_u32(self.in_port);
        let len_at = out.len();
        out.put_u16(0);
        out.put_zeros(6);
        let start = out.len();
        Action::encode_list(&self.actions, out);
        let actions_len = out.len() - start;
        out.set_u16(len_at, u16::try_from(actions_len).unwrap_or(u16::MAX));
        out.extend_from_slice(&self.data);
    }
}

wire_enum! {
    /// `ofp_flow_removed_reason`.
    pub enum FlowRemovedReason: u8 {
        IdleTimeout = 0,
        HardTimeout = 1,
        Delete = 2,
        GroupDelete = 3,
    }
}

/// OFPT_FLOW_REMOVED.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    pub reason: FlowRemovedReason,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: Match,
}

impl FlowRemoved {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<FlowRemoved> {
        Ok(FlowRemoved {
            cookie: r.u64("cookie")?,
            priority: r.u16("priority")?,
            reason: FlowRemovedReason::from(r.u8("reason")?),
            table_id: r.u8("table_id")?,
            duration_sec: r.u32("duration_sec")?,
            duration_nsec: r.u32("duration_nsec")?,
            idle_timeout: r.u16("idle_timeout")?,
            hard_timeout: r.u16("hard_timeout")?,
            packet_count: r.u64("packet_count")?,
            byte_count: r.u64("byte_count")?,
            r#match: Match::decode(r)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.cookie);
        out.put_u16(self.priority);
        out.put_u8(self.reason.into());
        out.put_u8(self.table_id);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        self.r#match.encode(out);
    }
}

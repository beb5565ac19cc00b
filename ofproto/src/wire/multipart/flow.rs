//! Flow multipart bodies: the FLOW and AGGREGATE requests (which share one
//! layout) and their replies.
//!
//! A flow-stats entry is the mirror image of a flow-mod: counters and
//! timeouts, then an OXM match, then an instruction list, the whole bounded
//! by the entry's `length`. The entry is decoded from a sub-reader of that
//! length, so a bad match or instruction length can never consume the next
//! entry.

use crate::wire::bytes::{Put, Reader};
use crate::wire::error::{BadRequest, WireError, WireResult};
use crate::wire::instruction::Instruction;
use crate::wire::oxm::Match;

/// OFPMP_FLOW and OFPMP_AGGREGATE request (`ofp_flow_stats_request`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowStatsRequest {
    /// A table, or `OFPTT_ALL`.
    pub table_id: u8,
    /// Require an output action to this port (`OFPP_ANY`: no restriction).
    pub out_port: u32,
    /// Require an output to this group (`OFPG_ANY`: no restriction).
    pub out_group: u32,
    pub cookie: u64,
    /// Which cookie bits must match; 0 ignores the cookie.
    pub cookie_mask: u64,
    pub r#match: Match,
}

impl FlowStatsRequest {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<FlowStatsRequest> {
        let table_id = r.u8("table_id")?;
        r.skip(3, "pad")?;
        let out_port = r.u32("out_port")?;
        let out_group = r.u32("out_group")?;
        r.skip(4, "pad2")?;
        Ok(FlowStatsRequest {
            table_id,
            out_port,
            out_group,
            cookie: r.u64("cookie")?,
            cookie_mask: r.u64("cookie_mask")?,
            r#match: Match::decode(r)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.out_port);
        out.put_u32(self.out_group);
        out.put_zeros(4);
        out.put_u64(self.cookie);
        out.put_u64(self.cookie_mask);
        self.r#match.encode(out);
    }
}

/// Length of `ofp_flow_stats` before the match.
pub const FLOW_STATS_FIXED_LEN: usize = 48;

/// One OFPMP_FLOW reply entry (`ofp_flow_stats`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// `ofp_flow_mod_flags`.
    pub flags: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowStats {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<FlowStats> {
        let len = usize::from(r.u16("ofp_flow_stats.length")?);
        if len < FLOW_STATS_FIXED_LEN || len - 2 > r.remaining() {
            return Err(WireError::new(
                BadRequest::BAD_LEN,
                format!(
                    "flow stats length {len} with {} bytes left",
                    r.remaining() + 2
                ),
            ));
        }
        let mut e = r.sub(len - 2, "ofp_flow_stats")?;
        let table_id = e.u8("table_id")?;
        e.skip(1, "pad")?;
        let duration_sec = e.u32("duration_sec")?;
        let duration_nsec = e.u32("duration_nsec")?;
        let priority = e.u16("priority")?;
        let idle_timeout = e.u16("idle_timeout")?;
        let hard_timeout = e.u16("hard_timeout")?;
        let flags = e.u16("flags")?;
        e.skip(4, "pad2")?;
        Ok(FlowStats {
            table_id,
            duration_sec,
            duration_nsec,
            priority,
            idle_timeout,
            hard_timeout,
            flags,
            cookie: e.u64("cookie")?,
            packet_count: e.u64("packet_count")?,
            byte_count: e.u64("byte_count")?,
            r#match: Match::decode(&mut e)?,
            instructions: Instruction::decode_list(&mut e)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.table_id);
        out.put_zeros(1);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        out.put_u16(self.priority);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u16(self.flags);
        out.put_zeros(4);
        out.put_u64(self.cookie);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        self.r#match.encode(out);
        Instruction::encode_list(&self.instructions, out);
        let len = out.len() - start;
        out.set_u16(start, u16::try_from(len).unwrap_or(u16::MAX));
    }
}

/// OFPMP_AGGREGATE reply (`ofp_aggregate_stats_reply`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AggregateStats {
    pub packet_count: u64,
    pub byte_count: u64,
    pub flow_count: u32,
}

impl AggregateStats {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<AggregateStats> {
        let a = AggregateStats {
            packet_count: r.u64("packet_count")?,
            byte_count: r.u64("byte_count")?,
            flow_count: r.u32("flow_count")?,
        };
        r.skip(4, "pad")?;
        Ok(a)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        out.put_u32(self.flow_count);
        out.put_zeros(4);
    }
}

//! OFPT_FLOW_MOD (spec 1.3.5 section 7.3.4.1): add, modify or delete flow
//! entries.
//!
//! Layout after the 8-byte OpenFlow header: a 40-byte fixed part (cookie,
//! cookie mask, table, command, timeouts, priority, buffer, out port/group,
//! flags), then an `ofp_match` padded to 8 bytes, then instructions filling
//! the rest of the message.
//!
//! The one idea: decoding checks the message's *form* (known command,
//! known flags, a well-formed match and instruction list) and nothing that
//! depends on the switch: whether `table_id` exists (0xff is legal only for
//! deletes), whether the buffer is known, whether the match's prerequisites
//! hold ([`crate::wire::oxm::Match::check_prerequisites`]) and whether the
//! actions fit the match are the pipeline's to answer. An unknown command is
//! `FlowModFailed::BAD_COMMAND`; a flag bit OpenFlow 1.3 does not define is
//! `FlowModFailed::BAD_FLAGS`.

use super::bytes::{Put, Reader};
use super::error::{FlowModFailed, WireError, WireResult};
use super::instruction::Instruction;
use super::oxm::Match;

/// `OFP_NO_BUFFER`: the flow-mod carries no buffered packet.
pub const OFP_NO_BUFFER: u32 = 0xffff_ffff;
/// `OFP_DEFAULT_PRIORITY`.
pub const OFP_DEFAULT_PRIORITY: u16 = 0x8000;
/// `OFPTT_MAX`: the last real table number.
pub const OFPTT_MAX: u8 = 0xfe;
/// `OFPTT_ALL`: every table (deletes and stats only).
pub const OFPTT_ALL: u8 = 0xff;

/// Bytes of the fixed part of `ofp_flow_mod` after the OpenFlow header.
const FIXED_LEN: usize = 40;

/// `ofp_flow_mod_command`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FlowModCommand {
    /// OFPFC_ADD: new flow.
    #[default]
    Add,
    /// OFPFC_MODIFY: modify every matching flow.
    Modify,
    /// OFPFC_MODIFY_STRICT: modify the flow with this exact match and
    /// priority.
    ModifyStrict,
    /// OFPFC_DELETE: delete every matching flow.
    Delete,
    /// OFPFC_DELETE_STRICT: delete the flow with this exact match and
    /// priority.
    DeleteStrict,
}

impl FlowModCommand {
    pub fn from_u8(v: u8) -> Option<FlowModCommand> {
        Some(match v {
            0 => FlowModCommand::Add,
            1 => FlowModCommand::Modify,
            2 => FlowModCommand::ModifyStrict,
            3 => FlowModCommand::Delete,
            4 => FlowModCommand::DeleteStrict,
            _ => return None,
        })
    }

    pub fn to_u8(self) -> u8 {
        match self {
            FlowModCommand::Add => 0,
            FlowModCommand::Modify => 1,
            FlowModCommand::ModifyStrict => 2,
            FlowModCommand::Delete => 3,
            FlowModCommand::DeleteStrict => 4,
        }
    }

    /// MODIFY_STRICT and DELETE_STRICT compare match and priority exactly.
    pub fn is_strict(self) -> bool {
        matches!(
            self,
            FlowModCommand::ModifyStrict | FlowModCommand::DeleteStrict
        )
    }

    pub fn is_delete(self) -> bool {
        matches!(self, FlowModCommand::Delete | FlowModCommand::DeleteStrict)
    }
}

/// `ofp_flow_mod_flags`, a bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FlowModFlags(pub u16);

impl FlowModFlags {
    /// Send OFPT_FLOW_REMOVED when the flow expires or is deleted.
    pub const SEND_FLOW_REM: FlowModFlags = FlowModFlags(1 << 0);
    /// Refuse an ADD that overlaps an existing flow (OVERLAP).
    pub const CHECK_OVERLAP: FlowModFlags = FlowModFlags(1 << 1);
    /// Reset the counters of flows a MODIFY changes.
    pub const RESET_COUNTS: FlowModFlags = FlowModFlags(1 << 2);
    /// Do not count packets.
    pub const NO_PKT_COUNTS: FlowModFlags = FlowModFlags(1 << 3);
    /// Do not count bytes.
    pub const NO_BYT_COUNTS: FlowModFlags = FlowModFlags(1 << 4);
    /// Every flag OpenFlow 1.3 defines.
    pub const ALL: FlowModFlags = FlowModFlags(0x1f);

    pub fn bits(self) -> u16 {
        self.0
    }

    pub fn contains(self, other: FlowModFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: FlowModFlags) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: FlowModFlags) {
        self.0 &= !other.0;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for FlowModFlags {
    type Output = FlowModFlags;
    fn bitor(self, rhs: FlowModFlags) -> FlowModFlags {
        FlowModFlags(self.0 | rhs.0)
    }
}

/// `ofp_flow_mod` without the OpenFlow header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowMod {
    pub cookie: u64,
    /// For MODIFY/DELETE: only flows with `flow.cookie & mask == cookie &
    /// mask` are affected (0 means any cookie).
    pub cookie_mask: u64,
    pub table_id: u8,
    pub command: FlowModCommand,
    /// Seconds of inactivity before the flow expires (0: never).
    pub idle_timeout: u16,
    /// Seconds before the flow expires regardless (0: never).
    pub hard_timeout: u16,
    pub priority: u16,
    /// A buffered packet to run through the flow, or [`OFP_NO_BUFFER`].
    pub buffer_id: u32,
    /// For DELETE: only flows with an output to this port (OFPP_ANY: any).
    pub out_port: u32,
    /// For DELETE: only flows with an output to this group (OFPG_ANY: any).
    pub out_group: u32,
    pub flags: FlowModFlags,
    pub match_: Match,
    pub instructions: Vec<Instruction>,
}

impl Default for FlowMod {
    /// An ADD into table 0 at the default priority, matching everything,
    /// with no instructions (drop), no buffer and no out_port/out_group
    /// filter.
    fn default() -> Self {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            table_id: 0,
            command: FlowModCommand::Add,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: OFP_DEFAULT_PRIORITY,
            buffer_id: OFP_NO_BUFFER,
            out_port: super::action::port_no::ANY,
            out_group: super::action::group_no::ANY,
            flags: FlowModFlags::default(),
            match_: Match::default(),
            instructions: Vec::new(),
        }
    }
}

impl FlowMod {
    /// Decode the body (everything after the 8-byte header). `r` must
    /// hold exactly the body: the instructions fill the rest of it.
    pub fn decode(r: &mut Reader<'_>) -> WireResult<FlowMod> {
        if r.remaining() < FIXED_LEN {
            return Err(WireError::new(
                super::error::BadRequest::BAD_LEN,
                format!(
                    "flow_mod needs {FIXED_LEN} bytes after the header, has {}",
                    r.remaining()
                ),
            ));
        }
        let cookie = r.u64("cookie")?;
        let cookie_mask = r.u64("cookie_mask")?;
        let table_id = r.u8("table_id")?;
        let raw_command = r.u8("command")?;
        let idle_timeout = r.u16("idle_timeout")?;
        let hard_timeout = r.u16("hard_timeout")?;
        let priority = r.u16("priority")?;
        let buffer_id = r.u32("buffer_id")?;
        let out_port = r.u32("out_port")?;
        let out_group = r.u32("out_group")?;
        let raw_flags = r.u16("flags")?;
        r.skip(2, "pad")?;

        let command = FlowModCommand::from_u8(raw_command).ok_or_else(|| {
            WireError::new(
                FlowModFailed::BAD_COMMAND,
                format!("unknown flow_mod command {raw_command}"),
            )
        })?;
        if raw_flags & !FlowModFlags::ALL.0 != 0 {
            return Err(WireError::new(
                FlowModFailed::BAD_FLAGS,
                format!("unknown flow_mod flags {raw_flags:#06x}"),
            ));
        }
        let match_ = Match::decode(r)?;
        let instructions = Instruction::decode_list(r)?;
        Ok(FlowMod {
            cookie,
            cookie_mask,
            table_id,
            command,
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port,
            out_group,
            flags: FlowModFlags(raw_flags),
            match_,
            instructions,
        })
    }

    /// Append the body (everything after the 8-byte header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.cookie);
        out.put_u64(self.cookie_mask);
        out.put_u8(self.table_id);
        out.put_u8(self.command.to_u8());
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u16(self.priority);
        out.put_u32(self.buffer_id);
        out.put_u32(self.out_port);
        out.put_u32(self.out_group);
        out.put_u16(self.flags.0);
        out.put_zeros(2);
        self.match_.encode(out);
        Instruction::encode_list(&self.instructions, out);
    }

    /// Bytes of the body on the wire (without the OpenFlow header).
    pub fn wire_len(&self) -> usize {
        FIXED_LEN + self.match_.wire_len() + Instruction::list_wire_len(&self.instructions)
    }
}

#[cfg(test)]
mod tests;

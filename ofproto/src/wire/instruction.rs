//! OpenFlow 1.3 instructions (`ofp_instruction_*`, spec 1.3.5 section
//! 7.2.4): what a flow entry does when it matches.
//!
//! An instruction list is a sequence of TLVs `type:16 len:16 body`, each a
//! multiple of 8 bytes, holding at most one instruction of each type. The
//! switch executes them in a fixed order whatever their order on the wire
//! (meter, apply-actions, clear-actions, write-actions, write-metadata,
//! goto-table); [`Instruction::sort_key`] gives that order, while decoding
//! keeps the wire order so that encoding reproduces the input.
//!
//! The one idea: like actions, instructions are checked here only as far as
//! they can be alone (framing `BAD_LEN`, unknown type `UNKNOWN_INST`,
//! experimenter `BAD_EXPERIMENTER`, a repeated type). Whether goto-table
//! points forward, whether the table supports write-metadata with that mask,
//! whether the meter exists: the pipeline knows, and answers
//! `BAD_TABLE_ID`, `UNSUP_METADATA_MASK`, `MeterModFailed::UNKNOWN_METER`.
//!
//! A repeated instruction type is answered with `UNSUP_INST`. OpenFlow 1.4
//! added OFPBIC_DUP_INST for this; 1.3 has no code of its own (Open vSwitch
//! sends an ONF experimenter error, which cannot be expressed as an
//! `OfError`), and "this combination of instructions is not supported" is
//! the closest 1.3 meaning. Empty APPLY/WRITE_ACTIONS are kept (Open vSwitch
//! drops them; they do nothing either way). Padding is not checked.

use super::action::Action;
use super::bytes::{Put, Reader};
use super::error::{BadInstruction, WireError, WireResult};

/// `ofp_instruction_type` numbers.
pub mod instruction_type {
    pub const GOTO_TABLE: u16 = 1;
    pub const WRITE_METADATA: u16 = 2;
    pub const WRITE_ACTIONS: u16 = 3;
    pub const APPLY_ACTIONS: u16 = 4;
    pub const CLEAR_ACTIONS: u16 = 5;
    pub const METER: u16 = 6;
    pub const EXPERIMENTER: u16 = 0xffff;
}

use instruction_type as it;

/// One `ofp_instruction_*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// Continue in this (later) table.
    GotoTable(u8),
    /// `metadata = (metadata & !mask) | (value & mask)`.
    WriteMetadata { metadata: u64, mask: u64 },
    /// Merge these actions into the action set.
    WriteActions(Vec<Action>),
    /// Apply these actions now, in order.
    ApplyActions(Vec<Action>),
    /// Empty the action set.
    ClearActions,
    /// Police through this meter.
    Meter(u32),
}

fn err(detail: String) -> WireError {
    WireError::new(BadInstruction::BAD_LEN, detail)
}

impl Instruction {
    /// The `ofp_instruction_type` of this instruction.
    pub fn type_code(&self) -> u16 {
        match self {
            Instruction::GotoTable(_) => it::GOTO_TABLE,
            Instruction::WriteMetadata { .. } => it::WRITE_METADATA,
            Instruction::WriteActions(_) => it::WRITE_ACTIONS,
            Instruction::ApplyActions(_) => it::APPLY_ACTIONS,
            Instruction::ClearActions => it::CLEAR_ACTIONS,
            Instruction::Meter(_) => it::METER,
        }
    }

    /// Position in the spec's execution order (5.9): meter first, then
    /// apply-actions, clear-actions, write-actions, write-metadata, and
    /// goto-table last. Sort by this before executing.
    pub fn sort_key(&self) -> u8 {
        match self {
            Instruction::Meter(_) => 0,
            Instruction::ApplyActions(_) => 1,
            Instruction::ClearActions => 2,
            Instruction::WriteActions(_) => 3,
            Instruction::WriteMetadata { .. } => 4,
            Instruction::GotoTable(_) => 5,
        }
    }

    /// Bytes this instruction takes on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            Instruction::WriteMetadata { .. } => 24,
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                8 + Action::list_wire_len(a)
            }
            _ => 8,
        }
    }

    /// Decode a list of instructions filling all of `r`.
    pub fn decode_list(r: &mut Reader<'_>) -> WireResult<Vec<Instruction>> {
        let mut out: Vec<Instruction> = Vec::new();
        while !r.is_empty() {
            let inst = Instruction::decode(r)?;
            if out.iter().any(|i| i.type_code() == inst.type_code()) {
                return Err(WireError::new(
                    BadInstruction::UNSUP_INST,
                    format!("instruction type {} appears twice", inst.type_code()),
                ));
            }
            out.push(inst);
        }
        Ok(out)
    }

    /// Decode one instruction from the front of `r`.
    pub fn decode(r: &mut Reader<'_>) -> WireResult<Instruction> {
        let at_offset = r.pos();
        if r.remaining() < 4 {
            return Err(err(format!(
                "instruction header at offset {at_offset} needs 4 bytes"
            )));
        }
        let ty = r.u16("instruction type")?;
        let len = usize::from(r.u16("instruction length")?);
        if len < 8 || len % 8 != 0 || len - 4 > r.remaining() {
            return Err(err(format!(
                "instruction type {ty} at offset {at_offset} has length {len} ({} bytes left)",
                r.remaining() + 4
            )));
        }
        let mut b = Reader::new(
            r.bytes(len - 4, "instruction body")?,
            BadInstruction::BAD_LEN,
        );
        let fixed = |want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(err(format!(
                    "instruction type {ty} has length {len}, expected {want}"
                )))
            }
        };
        let inst = match ty {
            it::GOTO_TABLE => {
                fixed(8)?;
                Instruction::GotoTable(b.u8("table_id")?)
            }
            it::WRITE_METADATA => {
                fixed(24)?;
                b.skip(4, "pad")?;
                let metadata = b.u64("metadata")?;
                let mask = b.u64("metadata_mask")?;
                Instruction::WriteMetadata { metadata, mask }
            }
            it::WRITE_ACTIONS | it::APPLY_ACTIONS => {
                b.skip(4, "pad")?;
                let actions = Action::decode_list(&mut b)?;
                if ty == it::WRITE_ACTIONS {
                    Instruction::WriteActions(actions)
                } else {
                    Instruction::ApplyActions(actions)
                }
            }
            it::CLEAR_ACTIONS => {
                fixed(8)?;
                Instruction::ClearActions
            }
            it::METER => {
                fixed(8)?;
                Instruction::Meter(b.u32("meter_id")?)
            }
            it::EXPERIMENTER => {
                let exp = b.u32("experimenter")?;
                return Err(WireError::new(
                    BadInstruction::BAD_EXPERIMENTER,
                    format!("experimenter instruction {exp:#010x} is not supported"),
                ));
            }
            t => {
                return Err(WireError::new(
                    BadInstruction::UNKNOWN_INST,
                    format!("unknown instruction type {t}"),
                ))
            }
        };
        Ok(inst)
    }

    /// Append one instruction.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(self.type_code());
        out.put_u16(0); // length, filled in below
        match self {
            Instruction::GotoTable(t) => {
                out.put_u8(*t);
                out.put_zeros(3);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                out.put_zeros(4);
                out.put_u64(*metadata);
                out.put_u64(*mask);
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                out.put_zeros(4);
                Action::encode_list(a, out);
            }
            Instruction::ClearActions => out.put_zeros(4),
            Instruction::Meter(m) => out.put_u32(*m),
        }
        let len = out.len() - start;
        // Lists longer than a u16 cannot be sent in one message anyway; the
        // message framer rejects them by total length.
        out.set_u16(start + 2, u16::try_from(len).unwrap_or(u16::MAX));
    }

    /// Append a list of instructions.
    pub fn encode_list(instructions: &[Instruction], out: &mut Vec<u8>) {
        for i in instructions {
            i.encode(out);
        }
    }

    /// Bytes a list of instructions takes on the wire.
    pub fn list_wire_len(instructions: &[Instruction]) -> usize {
        instructions.iter().map(Instruction::wire_len).sum()
    }
}

#[cfg(test)]
pub(crate) mod tests;

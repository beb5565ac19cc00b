//! Open vSwitch's TLV table messages: how a controller names GENEVE
//! options as `tun_metadata<N>` fields (`ovs-ofctl add-tlv-map`,
//! `del-tlv-map`, `dump-tlv-map`).
//!
//! Three Nicira experimenter messages (`OFPT_EXPERIMENTER`, vendor
//! [`NX_VENDOR_ID`](super::NX_VENDOR_ID)), bodies after the subtype:
//! - `NXT_TLV_TABLE_MOD` (24): command (2 bytes: ADD 0, DELETE 1,
//!   CLEAR 2), 6 bytes of padding, then mappings;
//! - `NXT_TLV_TABLE_REQUEST` (25): empty;
//! - `NXT_TLV_TABLE_REPLY` (26): the option space and field count this
//!   switch offers (4 + 2 bytes, 10 reserved), then every mapping.
//!
//! A mapping (`nx_tlv_map`, 8 bytes) is option class (2), type (1), length
//! in bytes (1), field index (2) and 2 bytes of padding. Decoding checks
//! what a mapping says on its own, as Open vSwitch does for every command:
//! a length that is not a multiple of 4 up to 124 is TLV_BAD_OPT_LEN, an
//! index over 63 TLV_BAD_FIELD_IDX. Whether the mappings fit the table is
//! the pipeline's business (`pipeline::transaction`).

use crate::wire::bytes::{Put, Reader};
use crate::wire::error::{BadRequest, NxError, WireError, WireResult};
use datapath::tunnel::{MAX_OPTION_LEN, TUN_MD_FIELDS};

/// `NXT_TLV_TABLE_MOD`.
pub const NXT_TLV_TABLE_MOD: u32 = 24;
/// `NXT_TLV_TABLE_REQUEST`.
pub const NXT_TLV_TABLE_REQUEST: u32 = 25;
/// `NXT_TLV_TABLE_REPLY`.
pub const NXT_TLV_TABLE_REPLY: u32 = 26;

/// What a TLV table mod does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlvCommand {
    /// Add every mapping, all or nothing.
    Add = 0,
    /// Remove the mappings of these field indexes (class, type and length
    /// are not compared; an unmapped index is no error).
    Delete = 1,
    /// Remove every mapping.
    Clear = 2,
}

/// One `nx_tlv_map`: option `(class, opt_type, len)` is `tun_metadata<index>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TlvMapping {
    pub class: u16,
    pub opt_type: u8,
    pub len: u8,
    pub index: u16,
}

/// `NXT_TLV_TABLE_MOD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlvTableMod {
    pub command: TlvCommand,
    pub mappings: Vec<TlvMapping>,
}

/// `NXT_TLV_TABLE_REPLY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlvTableReply {
    /// Bytes of option data the table can map in all.
    pub max_option_space: u32,
    /// Number of `tun_metadata` fields.
    pub max_fields: u16,
    pub mappings: Vec<TlvMapping>,
}

const MAPPING_LEN: usize = 8;

fn reader(data: &[u8]) -> Reader<'_> {
    Reader::new(data, BadRequest::BAD_LEN)
}

fn bad_len(what: &str, len: usize) -> WireError {
    WireError::new(BadRequest::BAD_LEN, format!("{what} body of {len} bytes"))
}

fn decode_mappings(r: &mut Reader<'_>) -> WireResult<Vec<TlvMapping>> {
    let mut out = Vec::with_capacity(r.remaining() / MAPPING_LEN);
    while r.remaining() > 0 {
        let m = TlvMapping {
            class: r.u16("nx_tlv_map.option_class")?,
            opt_type: r.u8("nx_tlv_map.option_type")?,
            len: r.u8("nx_tlv_map.option_len")?,
            index: r.u16("nx_tlv_map.index")?,
        };
        r.skip(2, "nx_tlv_map.pad")?;
        if !m.len.is_multiple_of(4) || m.len > MAX_OPTION_LEN {
            return Err(WireError::new(
                NxError::TLV_BAD_OPT_LEN,
                format!("option length {} is not a multiple of 4 up to 124", m.len),
            ));
        }
        if m.index >= u16::from(TUN_MD_FIELDS) {
            return Err(WireError::new(
                NxError::TLV_BAD_FIELD_IDX,
                format!("tun_metadata{} does not exist (0..63)", m.index),
            ));
        }
        out.push(m);
    }
    Ok(out)
}

fn encode_mappings(maps: &[TlvMapping], out: &mut Vec<u8>) {
    for m in maps {
        out.put_u16(m.class);
        out.put_u8(m.opt_type);
        out.put_u8(m.len);
        out.put_u16(m.index);
        out.put_zeros(2);
    }
}

impl TlvTableMod {
    /// Decode the body after the experimenter subtype.
    pub fn decode(data: &[u8]) -> WireResult<TlvTableMod> {
        if data.len() < 8 || !(data.len() - 8).is_multiple_of(MAPPING_LEN) {
            return Err(bad_len("NXT_TLV_TABLE_MOD", data.len()));
        }
        let mut r = reader(data);
        let command = match r.u16("nx_tlv_table_mod.command")? {
            0 => TlvCommand::Add,
            1 => TlvCommand::Delete,
            2 => TlvCommand::Clear,
            c => {
                return Err(WireError::new(
                    NxError::TLV_BAD_COMMAND,
                    format!("TLV table command {c}"),
                ))
            }
        };
        r.skip(6, "nx_tlv_table_mod.pad")?;
        Ok(TlvTableMod {
            command,
            mappings: decode_mappings(&mut r)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.command as u16);
        out.put_zeros(6);
        encode_mappings(&self.mappings, out);
    }
}

impl TlvTableReply {
    pub fn decode(data: &[u8]) -> WireResult<TlvTableReply> {
        if data.len() < 16 || !(data.len() - 16).is_multiple_of(MAPPING_LEN) {
            return Err(bad_len("NXT_TLV_TABLE_REPLY", data.len()));
        }
        let mut r = reader(data);
        let max_option_space = r.u32("max_option_space")?;
        let max_fields = r.u16("max_fields")?;
        r.skip(10, "reserved")?;
        Ok(TlvTableReply {
            max_option_space,
            max_fields,
            mappings: decode_mappings(&mut r)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.max_option_space);
        out.put_u16(self.max_fields);
        out.put_zeros(10);
        encode_mappings(&self.mappings, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The body `ovs-ofctl add-tlv-map br
    /// "{class=0xffff,type=0,len=4}->tun_metadata0,{class=0x0102,type=0x80,len=124}->tun_metadata63"`
    /// sends (captured from Open vSwitch 3.1), decoded and re-encoded.
    #[test]
    fn ovs_ofctl_add_round_trips() {
        let body = hex("0000 000000000000 ffff 00 04 0000 0000 0102 80 7c 003f 0000");
        let m = TlvTableMod::decode(&body).unwrap();
        assert_eq!(m.command, TlvCommand::Add);
        assert_eq!(
            m.mappings,
            [
                TlvMapping {
                    class: 0xffff,
                    opt_type: 0,
                    len: 4,
                    index: 0
                },
                TlvMapping {
                    class: 0x0102,
                    opt_type: 0x80,
                    len: 124,
                    index: 63
                },
            ]
        );
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, body);
    }

    #[test]
    fn bad_mods_get_open_vswitch_errors() {
        let err = |s: &str| TlvTableMod::decode(&hex(s)).unwrap_err().error;
        assert_eq!(err("0003 000000000000"), NxError::TLV_BAD_COMMAND);
        assert_eq!(
            err("0000 000000000000 ffff 00 05 0000 0000"),
            NxError::TLV_BAD_OPT_LEN
        );
        assert_eq!(
            err("0000 000000000000 ffff 00 80 0000 0000"),
            NxError::TLV_BAD_OPT_LEN
        );
        assert_eq!(
            err("0001 000000000000 ffff 00 04 0040 0000"),
            NxError::TLV_BAD_FIELD_IDX
        );
        assert_eq!(err("0000 000000000000 ffff 00 04"), BadRequest::BAD_LEN);
        assert_eq!(err("0000"), BadRequest::BAD_LEN);
    }

    #[test]
    fn reply_round_trips() {
        let r = TlvTableReply {
            max_option_space: 16,
            max_fields: 64,
            mappings: vec![TlvMapping {
                class: 0xffff,
                opt_type: 0x81,
                len: 8,
                index: 3,
            }],
        };
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(out.len(), 24);
        assert_eq!(TlvTableReply::decode(&out).unwrap(), r);
    }
}

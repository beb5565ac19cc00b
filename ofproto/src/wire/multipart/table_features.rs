//! OFPMP_TABLE_FEATURES: what each flow table can match, which instructions
//! and actions it accepts, and which tables it may jump to.
//!
//! A controller reads these (`ovs-ofctl` does before most commands) and may
//! send a list back to reconfigure the tables. Each `ofp_table_features`
//! entry is a fixed 64-byte part followed by TLV properties; the idea to
//! keep in mind is the two lengths of a property: its `length` field counts
//! the header and payload but not the padding that follows to an 8-byte
//! boundary. Decoding skips that padding (tolerating its absence after the
//! last property, as Open vSwitch does); encoding always writes it.
//!
//! Errors use `OFPET_TABLE_FEATURES_FAILED`: a property type outside the
//! spec is `BAD_TYPE`, a length that does not fit is `BAD_LEN`.

use crate::wire::bytes::{Put, Reader};
use crate::wire::error::{TableFeaturesFailed, WireError, WireResult};
use crate::wire::port::{get_fixed_str, put_fixed_str};

/// `OFP_MAX_TABLE_NAME_LEN`.
pub const MAX_TABLE_NAME_LEN: usize = 32;
/// Length of `ofp_table_features` before its properties.
pub const TABLE_FEATURES_FIXED_LEN: usize = 64;

/// `ofp_table_feature_prop_type` values.
pub mod prop_type {
    pub const INSTRUCTIONS: u16 = 0;
    pub const INSTRUCTIONS_MISS: u16 = 1;
    pub const NEXT_TABLES: u16 = 2;
    pub const NEXT_TABLES_MISS: u16 = 3;
    pub const WRITE_ACTIONS: u16 = 4;
    pub const WRITE_ACTIONS_MISS: u16 = 5;
    pub const APPLY_ACTIONS: u16 = 6;
    pub const APPLY_ACTIONS_MISS: u16 = 7;
    pub const MATCH: u16 = 8;
    pub const WILDCARDS: u16 = 10;
    pub const WRITE_SETFIELD: u16 = 12;
    pub const WRITE_SETFIELD_MISS: u16 = 13;
    pub const APPLY_SETFIELD: u16 = 14;
    pub const APPLY_SETFIELD_MISS: u16 = 15;
    pub const EXPERIMENTER: u16 = 0xfffe;
    pub const EXPERIMENTER_MISS: u16 = 0xffff;
}

/// An instruction or action id in an INSTRUCTIONS / *_ACTIONS property: the
/// type, plus whatever followed its 4-byte header (an experimenter id, or
/// the padding some switches add: Open vSwitch writes 8-byte ids).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FeatureId {
    pub kind: u16,
    pub data: Vec<u8>,
}

/// An OXM id in a MATCH / WILDCARDS / *_SETFIELD property: the 32-bit OXM
/// header, plus the experimenter id that follows headers of class
/// `OFPXMC_EXPERIMENTER` (0xffff). Invariant: `experimenter.is_some()` iff
/// the class is 0xffff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OxmId {
    pub header: u32,
    pub experimenter: Option<u32>,
}

impl OxmId {
    /// An id for an OpenFlow-basic field (`class 0x8000`, no mask).
    pub fn basic(field: u8, len: u8) -> OxmId {
        OxmId {
            header: 0x8000_0000 | (u32::from(field) << 9) | u32::from(len),
            experimenter: None,
        }
    }

    pub fn class(&self) -> u16 {
        (self.header >> 16) as u16
    }
}

/// One table feature property. `miss` selects the `_MISS` variant (what the
/// table-miss flow entry supports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableFeatureProp {
    Instructions {
        miss: bool,
        ids: Vec<FeatureId>,
    },
    NextTables {
        miss: bool,
        tables: Vec<u8>,
    },
    WriteActions {
        miss: bool,
        ids: Vec<FeatureId>,
    },
    ApplyActions {
        miss: bool,
        ids: Vec<FeatureId>,
    },
    Match(Vec<OxmId>),
    Wildcards(Vec<OxmId>),
    WriteSetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    ApplySetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    Experimenter {
        miss: bool,
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
}

fn bad_len(detail: String) -> WireError {
    WireError::new(TableFeaturesFailed::BAD_LEN, detail)
}

fn decode_feature_ids(p: &mut Reader<'_>) -> WireResult<Vec<FeatureId>> {
    let mut ids = Vec::new();
    while !p.is_empty() {
        let kind = p.u16("id type")?;
        let len = usize::from(p.u16("id len")?);
        if len < 4 || len - 4 > p.remaining() {
            return Err(bad_len(format!("instruction/action id length {len}")));
        }
        ids.push(FeatureId {
            kind,
            data: p.bytes(len - 4, "id data")?.to_vec(),
        });
    }
    Ok(ids)
}

fn encode_feature_ids(ids: &[FeatureId], out: &mut Vec<u8>) {
    for id in ids {
        out.put_u16(id.kind);
        out.put_u16(u16::try_from(4 + id.data.len()).unwrap_or(u16::MAX));
        out.extend_from_slice(&id.data);
    }
}

fn decode_oxm_ids(p: &mut Reader<'_>) -> WireResult<Vec<OxmId>> {
    let mut ids = Vec::new();
    while !p.is_empty() {
        let header = p.u32("oxm id")?;
        let experimenter = if header >> 16 == 0xffff {
            Some(p.u32("oxm experimenter")?)
        } else {
            None
        };
        ids.push(OxmId {
            header,
            experimenter,
        });
    }
    Ok(ids)
}

fn encode_oxm_ids(ids: &[OxmId], out: &mut Vec<u8>) {
    for id in ids {
        out.put_u32(id.header);
        if let Some(e) = id.experimenter {
            out.put_u32(e);
        }
    }
}

impl TableFeatureProp {
    /// The property's wire type.
    pub fn kind(&self) -> u16 {
        use prop_type::*;
        let pick = |miss: bool, hit: u16, miss_t: u16| if miss { miss_t } else { hit };
        match self {
            Self::Instructions { miss, .. } => pick(*miss, INSTRUCTIONS, INSTRUCTIONS_MISS),
            Self::NextTables { miss, .. } => pick(*miss, NEXT_TABLES, NEXT_TABLES_MISS),
            Self::WriteActions { miss, .. } => pick(*miss, WRITE_ACTIONS, WRITE_ACTIONS_MISS),
            Self::ApplyActions { miss, .. } => pick(*miss, APPLY_ACTIONS, APPLY_ACTIONS_MISS),
            Self::Match(_) => MATCH,
            Self::Wildcards(_) => WILDCARDS,
            Self::WriteSetfield { miss, .. } => pick(*miss, WRITE_SETFIELD, WRITE_SETFIELD_MISS),
            Self::ApplySetfield { miss, .. } => pick(*miss, APPLY_SETFIELD, APPLY_SETFIELD_MISS),
            Self::Experimenter { miss, .. } => pick(*miss, EXPERIMENTER, EXPERIMENTER_MISS),
        }
    }

    /// Decode one property and the padding after it.
    pub fn decode(r: &mut Reader<'_>) -> WireResult<TableFeatureProp> {
        use prop_type::*;
        let kind = r.u16("property type")?;
        let len = usize::from(r.u16("property length")?);
        if len < 4 || len - 4 > r.remaining() {
            return Err(bad_len(format!(
                "table feature property length {len} with {} bytes left",
                r.remaining() + 4
            )));
        }
        let mut p = r.sub(len - 4, "table feature property")?;
        let pad = len.next_multiple_of(8) - len;
        r.skip(pad.min(r.remaining()), "property padding")?;
        let miss = kind & 1 == 1;
        let prop = match kind {
            INSTRUCTIONS | INSTRUCTIONS_MISS => Self::Instructions {
                miss,
                ids: decode_feature_ids(&mut p)?,
            },
            NEXT_TABLES | NEXT_TABLES_MISS => Self::NextTables {
                miss,
                tables: p.rest().to_vec(),
            },
            WRITE_ACTIONS | WRITE_ACTIONS_MISS => Self::WriteActions {
                miss,
                ids: decode_feature_ids(&mut p)?,
            },
            APPLY_ACTIONS | APPLY_ACTIONS_MISS => Self::ApplyActions {
                miss,
                ids: decode_feature_ids(&mut p)?,
            },
            MATCH => Self::Match(decode_oxm_ids(&mut p)?),
            WILDCARDS => Self::Wildcards(decode_oxm_ids(&mut p)?),
            WRITE_SETFIELD | WRITE_SETFIELD_MISS => Self::WriteSetfield {
                miss,
                ids: decode_oxm_ids(&mut p)?,
            },
            APPLY_SETFIELD | APPLY_SETFIELD_MISS => Self::ApplySetfield {
                miss,
                ids: decode_oxm_ids(&mut p)?,
            },
            EXPERIMENTER | EXPERIMENTER_MISS => Self::Experimenter {
                miss,
                experimenter: p.u32("experimenter")?,
                exp_type: p.u32("exp_type")?,
                data: p.rest().to_vec(),
            },
            other => {
                return Err(WireError::new(
                    TableFeaturesFailed::BAD_TYPE,
                    format!("unknown table feature property type {other}"),
                ))
            }
        };
        Ok(prop)
    }

    /// Append the property and its padding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(self.kind());
        out.put_u16(0);
        match self {
            Self::Instructions { ids, .. }
            | Self::WriteActions { ids, .. }
            | Self::ApplyActions { ids, .. } => encode_feature_ids(ids, out),
            Self::NextTables { tables, .. } => out.extend_from_slice(tables),
            Self::Match(ids)
            | Self::Wildcards(ids)
            | Self::WriteSetfield { ids, .. }
            | Self::ApplySetfield { ids, .. } => encode_oxm_ids(ids, out),
            Self::Experimenter {
                experimenter,
                exp_type,
                data,
                ..
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
        }
        let len = out.len() - start;
        out.set_u16(start + 2, u16::try_from(len).unwrap_or(u16::MAX));
        out.pad_to_8(start);
    }
}

/// `ofp_table_features`: one table's capabilities.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TableFeatures {
    pub table_id: u8,
    /// At most 31 bytes on the wire.
    pub name: String,
    /// Metadata bits the table can match / write.
    pub metadata_match: u64,
    pub metadata_write: u64,
    /// `ofp_table_config` bits.
    pub config: u32,
    pub max_entries: u32,
    pub properties: Vec<TableFeatureProp>,
}

impl TableFeatures {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<TableFeatures> {
        let len = usize::from(r.u16("ofp_table_features.length")?);
        if len < TABLE_FEATURES_FIXED_LEN || len - 2 > r.remaining() {
            return Err(bad_len(format!(
                "table features length {len} with {} bytes left",
                r.remaining() + 2
            )));
        }
        let mut e = r.sub(len - 2, "ofp_table_features")?;
        let table_id = e.u8("table_id")?;
        e.skip(5, "pad")?;
        let mut t = TableFeatures {
            table_id,
            name: get_fixed_str(&mut e, MAX_TABLE_NAME_LEN, "name")?,
            metadata_match: e.u64("metadata_match")?,
            metadata_write: e.u64("metadata_write")?,
            config: e.u32("config")?,
            max_entries: e.u32("max_entries")?,
            properties: Vec::new(),
        };
        while !e.is_empty() {
            t.properties.push(TableFeatureProp::decode(&mut e)?);
        }
        Ok(t)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.table_id);
        out.put_zeros(5);
        put_fixed_str(out, &self.name, MAX_TABLE_NAME_LEN);
        out.put_u64(self.metadata_match);
        out.put_u64(self.metadata_write);
        out.put_u32(self.config);
        out.put_u32(self.max_entries);
        for p in &self.properties {
            p.encode(out);
        }
        let len = out.len() - start;
        out.set_u16(start, u16::try_from(len).unwrap_or(u16::MAX));
    }
}

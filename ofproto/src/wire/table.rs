//! OFPT_TABLE_MOD: per-table configuration.
//!
//! In OpenFlow 1.3 the only table configuration left is reserved
//! (`OFPTC_DEPRECATED_MASK`, the OF1.1/1.2 miss behaviour, which 1.3
//! replaced by table-miss flow entries); the message survives so a
//! controller can send it and get a well-formed answer. The table id may be
//! `OFPTT_ALL`.

use super::bytes::{Put, Reader};
use super::error::WireResult;

/// Reserved table ids (`ofp_table`).
pub mod table_id {
    /// Last usable table number.
    pub const MAX: u8 = 0xfe;
    /// Wildcard: all tables.
    pub const ALL: u8 = 0xff;
}

/// `OFPTC_DEPRECATED_MASK`: the bits OF1.1/1.2 used for miss behaviour.
pub const OFPTC_DEPRECATED_MASK: u32 = 3;

/// OFPT_TABLE_MOD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TableMod {
    pub table_id: u8,
    pub config: u32,
}

impl TableMod {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<TableMod> {
        let table_id = r.u8("table_id")?;
        r.skip(3, "pad")?;
        Ok(TableMod {
            table_id,
            config: r.u32("config")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.config);
    }
}

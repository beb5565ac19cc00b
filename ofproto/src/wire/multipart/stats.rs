//! Fixed-size multipart bodies: switch description (DESC), table, port and
//! queue counters.
//!
//! These entries have no length field: their size is fixed by the spec, so
//! a list is simply read entry by entry until the body ends, and a body
//! that is not a whole number of entries fails with a short read
//! (`OFPBRC_BAD_LEN`).

use crate::wire::bytes::{Put, Reader};
use crate::wire::error::WireResult;
use crate::wire::port::{get_fixed_str, put_fixed_str};

/// `DESC_STR_LEN`.
pub const DESC_STR_LEN: usize = 256;
/// `SERIAL_NUM_LEN`.
pub const SERIAL_NUM_LEN: usize = 32;

/// OFPMP_DESC reply (`ofp_desc`). Strings longer than their fields (255
/// bytes, 31 for the serial number) are truncated on encode.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Desc {
    pub mfr_desc: String,
    pub hw_desc: String,
    pub sw_desc: String,
    pub serial_num: String,
    pub dp_desc: String,
}

impl Desc {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<Desc> {
        Ok(Desc {
            mfr_desc: get_fixed_str(r, DESC_STR_LEN, "mfr_desc")?,
            hw_desc: get_fixed_str(r, DESC_STR_LEN, "hw_desc")?,
            sw_desc: get_fixed_str(r, DESC_STR_LEN, "sw_desc")?,
            serial_num: get_fixed_str(r, SERIAL_NUM_LEN, "serial_num")?,
            dp_desc: get_fixed_str(r, DESC_STR_LEN, "dp_desc")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        put_fixed_str(out, &self.mfr_desc, DESC_STR_LEN);
        put_fixed_str(out, &self.hw_desc, DESC_STR_LEN);
        put_fixed_str(out, &self.sw_desc, DESC_STR_LEN);
        put_fixed_str(out, &self.serial_num, SERIAL_NUM_LEN);
        put_fixed_str(out, &self.dp_desc, DESC_STR_LEN);
    }
}

/// One OFPMP_TABLE reply entry (`ofp_table_stats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TableStats {
    pub table_id: u8,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

impl TableStats {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<TableStats> {
        let table_id = r.u8("table_id")?;
        r.skip(3, "pad")?;
        Ok(TableStats {
            table_id,
            active_count: r.u32("active_count")?,
            lookup_count: r.u64("lookup_count")?,
            matched_count: r.u64("matched_count")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.active_count);
        out.put_u64(self.lookup_count);
        out.put_u64(self.matched_count);
    }
}

/// One OFPMP_PORT_STATS reply entry (`ofp_port_stats`, 112 bytes). Counters
/// a port does not keep are all-ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PortStats {
    pub port_no: u32,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

impl PortStats {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<PortStats> {
        let port_no = r.u32("port_no")?;
        r.skip(4, "pad")?;
        Ok(PortStats {
            port_no,
            rx_packets: r.u64("rx_packets")?,
            tx_packets: r.u64("tx_packets")?,
            rx_bytes: r.u64("rx_bytes")?,
            tx_bytes: r.u64("tx_bytes")?,
            rx_dropped: r.u64("rx_dropped")?,
            tx_dropped: r.u64("tx_dropped")?,
            rx_errors: r.u64("rx_errors")?,
            tx_errors: r.u64("tx_errors")?,
            rx_frame_err: r.u64("rx_frame_err")?,
            rx_over_err: r.u64("rx_over_err")?,
            rx_crc_err: r.u64("rx_crc_err")?,
            collisions: r.u64("collisions")?,
            duration_sec: r.u32("duration_sec")?,
            duration_nsec: r.u32("duration_nsec")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_zeros(4);
        for v in [
            self.rx_packets,
            self.tx_packets,
            self.rx_bytes,
            self.tx_bytes,
            self.rx_dropped,
            self.tx_dropped,
            self.rx_errors,
            self.tx_errors,
            self.rx_frame_err,
            self.rx_over_err,
            self.rx_crc_err,
            self.collisions,
        ] {
            out.put_u64(v);
        }
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
    }
}

/// One OFPMP_QUEUE reply entry (`ofp_queue_stats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub port_no: u32,
    pub queue_id: u32,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

impl QueueStats {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<QueueStats> {
        Ok(QueueStats {
            port_no: r.u32("port_no")?,
            queue_id: r.u32("queue_id")?,
            tx_bytes: r.u64("tx_bytes")?,
            tx_packets: r.u64("tx_packets")?,
            tx_errors: r.u64("tx_errors")?,
            duration_sec: r.u32("duration_sec")?,
            duration_nsec: r.u32("duration_nsec")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_u32(self.queue_id);
        out.put_u64(self.tx_bytes);
        out.put_u64(self.tx_packets);
        out.put_u64(self.tx_errors);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
    }
}

//! Meter multipart bodies: METER (counters per meter and per band),
//! METER_CONFIG (the meter table's contents) and METER_FEATURES.
//!
//! Same shape as the group bodies: a fixed part, then a list bounded by the
//! entry's length (band counters, or [`MeterBand`]s reused from the
//! METER_MOD codec). Note that `ofp_meter_stats` puts its length at offset
//! 4, after the meter id, unlike every other entry.

use crate::wire::bytes::{Put, Reader};
use crate::wire::error::{BadRequest, WireError, WireResult};
use crate::wire::meter::MeterBand;

/// Length of `ofp_meter_stats` before the band counters.
pub const METER_STATS_FIXED_LEN: usize = 40;
const BAND_STATS_LEN: usize = 16;
const METER_CONFIG_FIXED_LEN: usize = 8;

fn bad_len(what: &str, len: usize) -> WireError {
    WireError::new(BadRequest::BAD_LEN, format!("{what} length {len}"))
}

/// `ofp_meter_band_stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MeterBandStats {
    pub packet_band_count: u64,
    pub byte_band_count: u64,
}

/// One OFPMP_METER reply entry (`ofp_meter_stats`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MeterStats {
    pub meter_id: u32,
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub band_stats: Vec<MeterBandStats>,
}

impl MeterStats {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<MeterStats> {
        let meter_id = r.u32("ofp_meter_stats.meter_id")?;
        let len = usize::from(r.u16("ofp_meter_stats.len")?);
        if len < METER_STATS_FIXED_LEN
            || len - 6 > r.remaining()
            || !(len - METER_STATS_FIXED_LEN).is_multiple_of(BAND_STATS_LEN)
        {
            return Err(bad_len("meter stats", len));
        }
        let mut e = r.sub(len - 6, "ofp_meter_stats")?;
        e.skip(6, "pad")?;
        let mut m = MeterStats {
            meter_id,
            flow_count: e.u32("flow_count")?,
            packet_in_count: e.u64("packet_in_count")?,
            byte_in_count: e.u64("byte_in_count")?,
            duration_sec: e.u32("duration_sec")?,
            duration_nsec: e.u32("duration_nsec")?,
            band_stats: Vec::new(),
        };
        while !e.is_empty() {
            m.band_stats.push(MeterBandStats {
                packet_band_count: e.u64("packet_band_count")?,
                byte_band_count: e.u64("byte_band_count")?,
            });
        }
        Ok(m)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u32(self.meter_id);
        out.put_u16(0);
        out.put_zeros(6);
        out.put_u32(self.flow_count);
        out.put_u64(self.packet_in_count);
        out.put_u64(self.byte_in_count);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        for b in &self.band_stats {
            out.put_u64(b.packet_band_count);
            out.put_u64(b.byte_band_count);
        }
        let len = out.len() - start;
        out.set_u16(start + 4, u16::try_from(len).unwrap_or(u16::MAX));
    }
}

/// One OFPMP_METER_CONFIG reply entry (`ofp_meter_config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterConfig {
    /// `ofp_meter_flags`.
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterConfig {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<MeterConfig> {
        let len = usize::from(r.u16("ofp_meter_config.length")?);
        if len < METER_CONFIG_FIXED_LEN || len - 2 > r.remaining() {
            return Err(bad_len("meter config", len));
        }
        let mut e = r.sub(len - 2, "ofp_meter_config")?;
        Ok(MeterConfig {
            flags: e.u16("flags")?,
            meter_id: e.u32("meter_id")?,
            bands: MeterBand::decode_list(&mut e)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u16(self.flags);
        out.put_u32(self.meter_id);
        MeterBand::encode_list(&self.bands, out);
        let len = out.len() - start;
        out.set_u16(start, u16::try_from(len).unwrap_or(u16::MAX));
    }
}

/// OFPMP_METER_FEATURES reply (`ofp_meter_features`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MeterFeatures {
    pub max_meter: u32,
    /// Bitmap of `1 << OFPMBT_*`.
    pub band_types: u32,
    /// Bitmap of `ofp_meter_flags`.
    pub capabilities: u32,
    pub max_bands: u8,
    pub max_color: u8,
}

impl MeterFeatures {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<MeterFeatures> {
        let f = MeterFeatures {
            max_meter: r.u32("max_meter")?,
            band_types: r.u32("band_types")?,
            capabilities: r.u32("capabilities")?,
            max_bands: r.u8("max_bands")?,
            max_color: r.u8("max_color")?,
        };
        r.skip(2, "pad")?;
        Ok(f)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.max_meter);
        out.put_u32(self.band_types);
        out.put_u32(self.capabilities);
        out.put_u8(self.max_bands);
        out.put_u8(self.max_color);
        out.put_zeros(2);
    }
}

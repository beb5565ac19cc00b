//! OFPT_METER_MOD and the meter band list it shares with the METER_CONFIG
//! multipart reply.
//!
//! A meter is a list of bands, each a rate above which it acts (drop, or
//! raise the DSCP drop precedence). The idea: unlike commands and flags,
//! band *types* select a layout, so an unknown band type cannot be carried
//! opaquely as a known band; it is refused at decode time with
//! `OFPMMFC_BAD_BAND`, as is any band whose length disagrees with its type.

use super::bytes::{Put, Reader};
use super::error::{MeterModFailed, WireError, WireResult};
use super::header::wire_enum;

/// Reserved meter ids (`ofp_meter`).
pub mod meter_id {
    pub const MAX: u32 = 0xffff_0000;
    pub const SLOWPATH: u32 = 0xffff_fffd;
    pub const CONTROLLER: u32 = 0xffff_fffe;
    pub const ALL: u32 = 0xffff_ffff;
}

/// `ofp_meter_flags` bits.
pub mod meter_flags {
    pub const KBPS: u16 = 1 << 0;
    pub const PKTPS: u16 = 1 << 1;
    pub const BURST: u16 = 1 << 2;
    pub const STATS: u16 = 1 << 3;
}

/// `ofp_meter_band_type` values.
pub mod band_type {
    pub const DROP: u16 = 1;
    pub const DSCP_REMARK: u16 = 2;
    pub const EXPERIMENTER: u16 = 0xffff;
}

wire_enum! {
    /// `ofp_meter_mod_command`.
    pub enum MeterModCommand: u16 {
        Add = 0,
        Modify = 1,
        Delete = 2,
    }
}

/// Length of a drop / DSCP-remark band and of an experimenter band's fixed part.
pub const BAND_LEN: usize = 16;

/// One `ofp_meter_band_*`. Rates are in kb/s or packets/s per the meter's
/// flags; `burst_size` in kilobits or packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeterBand {
    Drop {
        rate: u32,
        burst_size: u32,
    },
    DscpRemark {
        rate: u32,
        burst_size: u32,
        prec_level: u8,
    },
    Experimenter {
        rate: u32,
        burst_size: u32,
        experimenter: u32,
        data: Vec<u8>,
    },
}

fn bad_band(detail: String) -> WireError {
    WireError::new(MeterModFailed::BAD_BAND, detail)
}

impl MeterBand {
    pub fn rate(&self) -> u32 {
        match self {
            MeterBand::Drop { rate, .. }
            | MeterBand::DscpRemark { rate, .. }
            | MeterBand::Experimenter { rate, .. } => *rate,
        }
    }

    pub fn burst_size(&self) -> u32 {
        match self {
            MeterBand::Drop { burst_size, .. }
            | MeterBand::DscpRemark { burst_size, .. }
            | MeterBand::Experimenter { burst_size, .. } => *burst_size,
        }
    }

    /// Decode one band (its `len` field bounds it).
    pub fn decode(r: &mut Reader<'_>) -> WireResult<MeterBand> {
        let kind = r.u16("band type")?;
        let len = usize::from(r.u16("band len")?);
        if len < BAND_LEN || len - 4 > r.remaining() {
            return Err(bad_band(format!(
                "band length {len} with {} bytes left",
                r.remaining() + 4
            )));
        }
        let mut b = r.sub(len - 4, "band")?;
        let rate = b.u32("band rate")?;
        let burst_size = b.u32("band burst_size")?;
        let band = match kind {
            band_type::DROP if len == BAND_LEN => MeterBand::Drop { rate, burst_size },
            band_type::DSCP_REMARK if len == BAND_LEN => MeterBand::DscpRemark {
                rate,
                burst_size,
                prec_level: b.u8("prec_level")?,
            },
            band_type::EXPERIMENTER => MeterBand::Experimenter {
                rate,
                burst_size,
                experimenter: b.u32("experimenter")?,
                data: b.rest().to_vec(),
            },
            band_type::DROP | band_type::DSCP_REMARK => {
                return Err(bad_band(format!("band type {kind} with length {len}")))
            }
            other => return Err(bad_band(format!("unknown meter band type {other}"))),
        };
        b.rest();
        Ok(band)
    }

    /// Decode bands until `r` is empty.
    pub fn decode_list(r: &mut Reader<'_>) -> WireResult<Vec<MeterBand>> {
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(MeterBand::decode(r)?);
        }
        Ok(v)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let kind = match self {
            MeterBand::Drop { .. } => band_type::DROP,
            MeterBand::DscpRemark { .. } => band_type::DSCP_REMARK,
            MeterBand::Experimenter { .. } => band_type::EXPERIMENTER,
        };
        out.put_u16(kind);
        out.put_u16(0);
        out.put_u32(self.rate());
        out.put_u32(self.burst_size());
        match self {
            MeterBand::Drop { .. } => out.put_zeros(4),
            MeterBand::DscpRemark { prec_level, .. } => {
                out.put_u8(*prec_level);
                out.put_zeros(3);
            }
            MeterBand::Experimenter {
                experimenter, data, ..
            } => {
                out.put_u32(*experimenter);
                out.extend_from_slice(data);
            }
        }
        let len = out.len() - start;
        out.set_u16(start + 2, u16::try_from(len).unwrap_or(u16::MAX));
    }

    pub fn encode_list(bands: &[MeterBand], out: &mut Vec<u8>) {
        for b in bands {
            b.encode(out);
        }
    }
}

/// OFPT_METER_MOD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterMod {
    pub command: MeterModCommand,
    /// [`meter_flags`] bits.
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<MeterMod> {
        Ok(MeterMod {
            command: MeterModCommand::from(r.u16("command")?),
            flags: r.u16("flags")?,
            meter_id: r.u32("meter_id")?,
            bands: MeterBand::decode_list(r)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.command.into());
        out.put_u16(self.flags);
        out.put_u32(self.meter_id);
        MeterBand::encode_list(&self.bands, out);
    }
}

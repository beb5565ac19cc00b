//! The meter hook: how the datapath polices packets without knowing what a
//! meter is configured as. ofproto's meter table implements [`MeterHook`];
//! the `Meter` action asks it for a [`MeterVerdict`] per packet.

/// What a meter decides for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterVerdict {
    Pass,
    Drop,
    /// Pass, with the DSCP drop precedence raised by this many levels.
    RemarkDscp(u8),
}

/// Police packets through meters (ofproto's meter table implements it).
pub trait MeterHook: Send + Sync + std::fmt::Debug {
    /// The fate of a packet of `len` bytes at meter `meter_id` at `now_ms`.
    fn admit(&self, meter_id: u32, len: usize, now_ms: u64) -> MeterVerdict;
}

//! Ports on the wire: `ofp_port` (the 64-byte port description used by
//! PORT_STATUS and the PORT_DESC multipart reply), OFPT_PORT_STATUS and
//! OFPT_PORT_MOD.
//!
//! The idea to keep in mind: the bit sets (config, state, features) stay
//! plain `u32`s with named constants, because the spec lets controllers set
//! bits we do not know and mod messages carry a mask that must be applied
//! bit for bit. Names are fixed NUL-padded fields; they become `String`s
//! (read with `get_fixed_str`) so callers never handle padding.

use super::bytes::{Put, Reader};
use super::error::WireResult;
use super::header::wire_enum;

/// Length of `ofp_port`.
pub const PORT_DESC_LEN: usize = 64;
/// `OFP_MAX_PORT_NAME_LEN`.
pub const MAX_PORT_NAME_LEN: usize = 16;

/// Reserved port numbers (`ofp_port_no`), defined beside the actions that
/// use them.
pub use super::action::port_no;

/// `ofp_port_config` bits.
pub mod port_config {
    pub const PORT_DOWN: u32 = 1 << 0;
    pub const NO_RECV: u32 = 1 << 2;
    pub const NO_FWD: u32 = 1 << 5;
    pub const NO_PACKET_IN: u32 = 1 << 6;
}

/// `ofp_port_state` bits.
pub mod port_state {
    pub const LINK_DOWN: u32 = 1 << 0;
    pub const BLOCKED: u32 = 1 << 1;
    pub const LIVE: u32 = 1 << 2;
}

/// `ofp_port_features` bits.
pub mod port_features {
    pub const F_10MB_HD: u32 = 1 << 0;
    pub const F_10MB_FD: u32 = 1 << 1;
    pub const F_100MB_HD: u32 = 1 << 2;
    pub const F_100MB_FD: u32 = 1 << 3;
    pub const F_1GB_HD: u32 = 1 << 4;
    pub const F_1GB_FD: u32 = 1 << 5;
    pub const F_10GB_FD: u32 = 1 << 6;
    pub const F_40GB_FD: u32 = 1 << 7;
    pub const F_100GB_FD: u32 = 1 << 8;
    pub const F_1TB_FD: u32 = 1 << 9;
    pub const OTHER: u32 = 1 << 10;
    pub const COPPER: u32 = 1 << 11;
    pub const FIBER: u32 = 1 << 12;
    pub const AUTONEG: u32 = 1 << 13;
    pub const PAUSE: u32 = 1 << 14;
    pub const PAUSE_ASYM: u32 = 1 << 15;
}

/// Read a fixed `n`-byte NUL-padded string. Bytes after the first NUL are
/// ignored, invalid UTF-8 is replaced, and the result is cut to fit in
/// `n - 1` bytes so that [`put_fixed_str`] writes it back unchanged.
pub(crate) fn get_fixed_str(r: &mut Reader<'_>, n: usize, what: &str) -> WireResult<String> {
    let raw = r.bytes(n, what)?;
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    let mut s = String::from_utf8_lossy(&raw[..end]).into_owned();
    truncate_at_char(&mut s, n.saturating_sub(1));
    Ok(s)
}

/// Write `s` as a fixed `n`-byte NUL-terminated, NUL-padded field,
/// truncating (at a character boundary) to `n - 1` bytes.
pub(crate) fn put_fixed_str(out: &mut Vec<u8>, s: &str, n: usize) {
    let mut end = s.len().min(n.saturating_sub(1));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&s.as_bytes()[..end]);
    out.put_zeros(n - end);
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `ofp_port`: one port's description.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PortDesc {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    /// At most 15 bytes on the wire; longer names are truncated.
    pub name: String,
    /// [`port_config`] bits.
    pub config: u32,
    /// [`port_state`] bits.
    pub state: u32,
    /// [`port_features`] bits.
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    /// Current and maximum bit rate in kbps.
    pub curr_speed: u32,
    pub max_speed: u32,
}

impl PortDesc {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<PortDesc> {
        let port_no = r.u32("ofp_port.port_no")?;
        r.skip(4, "ofp_port.pad")?;
        let hw_addr = r.array("ofp_port.hw_addr")?;
        r.skip(2, "ofp_port.pad2")?;
        Ok(PortDesc {
            port_no,
            hw_addr,
            name: get_fixed_str(r, MAX_PORT_NAME_LEN, "ofp_port.name")?,
            config: r.u32("ofp_port.config")?,
            state: r.u32("ofp_port.state")?,
            curr: r.u32("ofp_port.curr")?,
            advertised: r.u32("ofp_port.advertised")?,
            supported: r.u32("ofp_port.supported")?,
            peer: r.u32("ofp_port.peer")?,
            curr_speed: r.u32("ofp_port.curr_speed")?,
            max_speed: r.u32("ofp_port.max_speed")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.put_zeros(2);
        put_fixed_str(out, &self.name, MAX_PORT_NAME_LEN);
        for v in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            out.put_u32(v);
        }
    }
}

wire_enum! {
    /// `ofp_port_reason`.
    pub enum PortReason: u8 {
        Add = 0,
        Delete = 1,
        Modify = 2,
    }
}

/// OFPT_PORT_STATUS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortStatus {
    pub reason: PortReason,
    pub desc: PortDesc,
}

impl PortStatus {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<PortStatus> {
        let reason = PortReason::from(r.u8("reason")?);
        r.skip(7, "pad")?;
        Ok(PortStatus {
            reason,
            desc: PortDesc::decode(r)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.reason.into());
        out.put_zeros(7);
        self.desc.encode(out);
    }
}

/// OFPT_PORT_MOD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PortMod {
    pub port_no: u32,
    /// Must match the port's address (a sanity check, spec §7.3.4.3).
    pub hw_addr: [u8; 6],
    /// New [`port_config`] bits, applied where `mask` is set.
    pub config: u32,
    pub mask: u32,
    /// [`port_features`] to advertise; 0 leaves advertisement unchanged.
    pub advertise: u32,
}

impl PortMod {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<PortMod> {
        let port_no = r.u32("port_no")?;
        r.skip(4, "pad")?;
        let hw_addr = r.array("hw_addr")?;
        r.skip(2, "pad2")?;
        let m = PortMod {
            port_no,
            hw_addr,
            config: r.u32("config")?,
            mask: r.u32("mask")?,
            advertise: r.u32("advertise")?,
        };
        r.skip(4, "pad3")?;
        Ok(m)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.put_zeros(2);
        out.put_u32(self.config);
        out.put_u32(self.mask);
        out.put_u32(self.advertise);
        out.put_zeros(4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error::BadRequest;

    #[test]
    fn fixed_strings_truncate_and_round_trip() {
        let mut out = Vec::new();
        put_fixed_str(&mut out, "a-very-long-port-name", 16);
        assert_eq!(out.len(), 16);
        assert_eq!(out[15], 0);
        let s = get_fixed_str(&mut Reader::new(&out, BadRequest::BAD_LEN), 16, "n").unwrap();
        assert_eq!(s, "a-very-long-por");
        // 16 non-NUL bytes (no terminator) and invalid UTF-8 still decode to
        // something that re-encodes to itself.
        let raw = [0xffu8; 16];
        let s = get_fixed_str(&mut Reader::new(&raw, BadRequest::BAD_LEN), 16, "n").unwrap();
        let mut out = Vec::new();
        put_fixed_str(&mut out, &s, 16);
        let again = get_fixed_str(&mut Reader::new(&out, BadRequest::BAD_LEN), 16, "n").unwrap();
        assert_eq!(s, again);
    }
}

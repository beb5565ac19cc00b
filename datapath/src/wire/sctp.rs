//! The SCTP common header (RFC 9260).
//!
//! The one idea: SCTP's checksum is a CRC32c over the whole packet, stored
//! least significant byte first, so it cannot be updated incrementally
//! like the Internet checksum; a rewrite recomputes it.

use super::{read16, read32, write16, Error, Field, Result};

pub mod field {
    use super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const VERIFICATION_TAG: Field = 4..8;
    /// CRC32c, little-endian on the wire.
    pub const CHECKSUM: Field = 8..12;
}

pub const HEADER_LEN: usize = field::CHECKSUM.end;

/// A view of an SCTP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Only for buffers of at least [`HEADER_LEN`] bytes.
    #[inline(always)]
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Self { buffer })
    }

    #[inline(always)]
    pub fn src_port(&self) -> u16 {
        read16(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    #[inline(always)]
    pub fn dst_port(&self) -> u16 {
        read16(self.buffer.as_ref(), field::DST_PORT.start)
    }

    pub fn verification_tag(&self) -> u32 {
        read32(self.buffer.as_ref(), field::VERIFICATION_TAG.start)
    }

    /// The CRC32c as a number (it is stored little-endian).
    pub fn checksum(&self) -> u32 {
        let d = self.buffer.as_ref();
        u32::from_le_bytes([d[8], d[9], d[10], d[11]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::SRC_PORT.start, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::DST_PORT.start, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let b = [0, 1, 0, 2, 0xde, 0xad, 0xbe, 0xef, 0x78, 0x56, 0x34, 0x12];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (1, 2));
        assert_eq!(
            (p.verification_tag(), p.checksum()),
            (0xdead_beef, 0x1234_5678)
        );
        assert!(Packet::new_checked(&b[..11]).is_err());
    }
}

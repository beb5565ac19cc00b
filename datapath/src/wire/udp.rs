//! UDP headers (RFC 768).
//!
//! The one idea: a zero checksum over IPv4 means "no checksum", so a
//! computed zero is sent as `0xffff` ([`CHECKSUM_NONE`]).

use super::{read16, write16, Error, Field, Result};

pub mod field {
    use super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

pub const HEADER_LEN: usize = field::CHECKSUM.end;
/// The checksum value that means "not computed" (IPv4 only).
pub const CHECKSUM_NONE: u16 = 0;

/// A view of a UDP datagram.
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

    pub fn length(&self) -> u16 {
        read16(self.buffer.as_ref(), field::LENGTH.start)
    }

    pub fn checksum(&self) -> u16 {
        read16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Everything after the header, to the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::SRC_PORT.start, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::DST_PORT.start, v);
    }

    pub fn set_length(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::LENGTH.start, v);
    }

    pub fn set_checksum(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::CHECKSUM.start, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let mut b = [0x13, 0x88, 0x12, 0xb5, 0, 9, 0, 0, b'x'];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.src_port(), p.dst_port(), p.length(), p.checksum()),
            (5000, 4789, 9, 0)
        );
        assert_eq!(p.payload(), b"x");
        Packet::new_checked(&mut b[..])
            .unwrap()
            .set_checksum(0xffff);
        assert_eq!(&b[6..8], &[0xff, 0xff]);
        assert_eq!(Packet::new_checked(&b[..7]), Err(Error::Truncated));
    }
}

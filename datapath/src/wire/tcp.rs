//! TCP headers (RFC 9293).
//!
//! The one idea: the data offset says where the payload starts; it must be
//! at least 5 words and inside the segment, or nothing past the fixed 20
//! bytes is trusted.

use super::{read16, read32, write16, write32, Error, Field, Result};

pub mod field {
    use super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    /// Data offset (high 4 bits of the first byte) and the flags.
    pub const FLAGS: Field = 12..14;
    pub const WIN_SIZE: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// Length of the header without options.
pub const HEADER_LEN: usize = field::URGENT.end;
/// Flag bits of the low 12 bits of [`field::FLAGS`].
pub const FLAG_FIN: u16 = 0x001;
pub const FLAG_SYN: u16 = 0x002;
pub const FLAG_RST: u16 = 0x004;
pub const FLAG_PSH: u16 = 0x008;
pub const FLAG_ACK: u16 = 0x010;
pub const FLAG_CWR: u16 = 0x080;
pub const FLAGS_MASK: u16 = 0x0fff;

/// A view of a TCP segment.
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
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The fixed header is present and the data offset is >= 5 words and
    /// inside the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if self.header_len() > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    #[inline(always)]
    pub fn src_port(&self) -> u16 {
        read16(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    #[inline(always)]
    pub fn dst_port(&self) -> u16 {
        read16(self.buffer.as_ref(), field::DST_PORT.start)
    }

    pub fn seq_number(&self) -> u32 {
        read32(self.buffer.as_ref(), field::SEQ_NUM.start)
    }

    pub fn ack_number(&self) -> u32 {
        read32(self.buffer.as_ref(), field::ACK_NUM.start)
    }

    /// Header length in bytes (data offset * 4).
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::FLAGS.start] >> 4) * 4
    }

    /// The 12 flag bits (NS .. FIN).
    #[inline(always)]
    pub fn flags(&self) -> u16 {
        read16(self.buffer.as_ref(), field::FLAGS.start) & FLAGS_MASK
    }

    pub fn checksum(&self) -> u16 {
        read16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The payload (after `check_len`).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::SRC_PORT.start, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::DST_PORT.start, v);
    }

    pub fn set_seq_number(&mut self, v: u32) {
        write32(self.buffer.as_mut(), field::SEQ_NUM.start, v);
    }

    /// Set the 12 flag bits, keeping the data offset.
    pub fn set_flags(&mut self, v: u16) {
        let d = self.buffer.as_mut();
        let old = read16(d, field::FLAGS.start);
        write16(
            d,
            field::FLAGS.start,
            (old & !FLAGS_MASK) | (v & FLAGS_MASK),
        );
    }

    pub fn set_checksum(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::CHECKSUM.start, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: [u8; 22] = [
        0x9c, 0x40, 0x00, 0x50, 1, 2, 3, 4, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0xab, 0xcd, 0, 0,
        b'h', b'i',
    ];

    #[test]
    fn fields() {
        let p = Packet::new_checked(&FIXTURE[..]).unwrap();
        assert_eq!(
            (p.src_port(), p.dst_port(), p.header_len()),
            (40000, 80, 20)
        );
        assert_eq!((p.seq_number(), p.ack_number()), (0x0102_0304, 1));
        assert_eq!(p.flags(), FLAG_ACK | FLAG_PSH);
        assert_eq!((p.checksum(), p.payload()), (0xabcd, &b"hi"[..]));
    }

    #[test]
    fn data_offset_is_checked() {
        let mut b = FIXTURE;
        b[12] = 0x40;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Malformed));
        b[12] = 0x60;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Truncated));
        let mut p = FIXTURE;
        let mut v = Packet::new_checked(&mut p[..]).unwrap();
        v.set_flags(FLAG_SYN);
        v.set_dst_port(443);
        assert_eq!((p[12], p[13], &p[2..4]), (0x50, 0x02, &[1, 0xbb][..]));
    }
}

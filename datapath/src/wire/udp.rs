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

/// A UDP header, parsed (an outer tunnel header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    /// Bytes after the header (length - 8).
    pub payload_len: u16,
}

impl Repr {
    /// Parse a header whose length field covers at least the header (the
    /// checksum is not verified: that needs the IP pseudo-header).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let payload_len = p
            .length()
            .checked_sub(HEADER_LEN as u16)
            .ok_or(Error::Malformed)?;
        Ok(Self {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len,
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the first [`HEADER_LEN`] bytes of `p`, with
    /// the checksum [`CHECKSUM_NONE`] (what tunnel encapsulations send over
    /// IPv4 by default; the caller fills it otherwise).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_length(self.payload_len.saturating_add(HEADER_LEN as u16));
        p.set_checksum(CHECKSUM_NONE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn repr_round_trip(src_port: u16, dst_port: u16, payload_len in 0u16..=65527) {
            let r = Repr { src_port, dst_port, payload_len };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut b[..]));
            proptest::prop_assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])), Ok(r));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..16)) {
            let _ = Repr::parse(&Packet::new_unchecked(&b[..]));
        }
    }

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

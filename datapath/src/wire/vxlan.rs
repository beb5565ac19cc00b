//! VXLAN (RFC 7348): the 8-byte header after the outer UDP header
//! (destination port 4789), in front of an inner Ethernet frame.
//!
//! The one idea: only the I flag and the 24-bit VNI mean anything; every
//! other bit is reserved, sent as zero and ignored on receipt (RFC 7348
//! section 5), so a header without the I flag is the only malformed one.

use super::{read32, Error, Field, Result};

pub mod field {
    use super::Field;
    pub const FLAGS: usize = 0;
    /// VNI (24 bits) and a reserved byte.
    pub const VNI: Field = 4..8;
}

pub const HEADER_LEN: usize = field::VNI.end;
/// The "VNI is valid" flag.
pub const FLAG_I: u8 = 0x08;
/// The IANA UDP port.
pub const UDP_PORT: u16 = 4789;
pub const VNI_MAX: u32 = 0x00ff_ffff;

/// A view of a VXLAN header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Self { buffer })
    }

    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    pub fn vni(&self) -> u32 {
        read32(self.buffer.as_ref(), field::VNI.start) >> 8
    }

    /// The inner Ethernet frame.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// A VXLAN header, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// 24 bits.
    pub vni: u32,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        if p.flags() & FLAG_I == 0 {
            return Err(Error::Malformed);
        }
        Ok(Self { vni: p.vni() })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the first [`HEADER_LEN`] bytes of `p`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let b = &mut p.buffer.as_mut()[..HEADER_LEN];
        b[..field::VNI.start].copy_from_slice(&[FLAG_I, 0, 0, 0]);
        b[field::VNI].copy_from_slice(&((self.vni & VNI_MAX) << 8).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 7348 figure 1, VNI 0x123456.
    const FIXTURE: [u8; 8] = [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0];

    #[test]
    fn fixture() {
        let p = Packet::new_checked(&FIXTURE[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(Repr { vni: 0x12_3456 }));
        let mut b = [0xffu8; 8];
        Repr { vni: 0x12_3456 }.emit(&mut Packet::new_unchecked(&mut b[..]));
        assert_eq!(b, FIXTURE);
        let mut no_i = FIXTURE;
        no_i[0] = 0;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&no_i[..])),
            Err(Error::Malformed)
        );
        assert_eq!(Packet::new_checked(&FIXTURE[..7]), Err(Error::Truncated));
    }

    proptest! {
        #[test]
        fn round_trip(vni in 0..=VNI_MAX) {
            let r = Repr { vni };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut b[..]));
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), Ok(r));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = Repr::parse(&p);
                let _ = p.payload();
            }
        }
    }
}

//! GRE (RFC 2784) with the key and sequence number extensions (RFC 2890).
//!
//! The one idea: the first 16 bits say which optional 4-byte words follow
//! the fixed 4 bytes, always in the order checksum(+reserved), key,
//! sequence number; the header length is a function of three flag bits.
//! Version must be 0 and the RFC 1701 routing bit clear, or the header is
//! not one this module can read.

use super::{read16, read32, write16, Error, Result};

pub mod field {
    /// C, R, K, S flags and the version.
    pub const FLAGS_VER: super::super::Field = 0..2;
    pub const PROTOCOL: super::super::Field = 2..4;
    /// The optional words start here.
    pub const OPTIONAL: usize = 4;
}

/// The fixed part.
pub const HEADER_LEN: usize = field::OPTIONAL;
pub const FLAG_C: u16 = 0x8000;
pub const FLAG_R: u16 = 0x4000;
pub const FLAG_K: u16 = 0x2000;
pub const FLAG_S: u16 = 0x1000;
pub const VERSION_MASK: u16 = 0x0007;

/// A view of a GRE header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// A view once the fixed part and every optional word the flags name
    /// are in the buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self { buffer };
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN || len < p.header_len() {
            return Err(Error::Truncated);
        }
        Ok(p)
    }

    pub fn flags_ver(&self) -> u16 {
        read16(self.buffer.as_ref(), field::FLAGS_VER.start)
    }

    pub fn protocol(&self) -> u16 {
        read16(self.buffer.as_ref(), field::PROTOCOL.start)
    }

    /// Length of the header, optional words included.
    pub fn header_len(&self) -> usize {
        let f = self.flags_ver();
        HEADER_LEN
            + 4 * [FLAG_C, FLAG_K, FLAG_S]
                .iter()
                .filter(|&&b| f & b != 0)
                .count()
    }

    fn word_at(&self, flag: u16) -> Option<usize> {
        let f = self.flags_ver();
        if f & flag == 0 {
            return None;
        }
        // The words in front of this one: C before K before S.
        let before = [FLAG_C, FLAG_K, FLAG_S]
            .iter()
            .take_while(|&&b| b != flag)
            .filter(|&&b| f & b != 0)
            .count();
        Some(field::OPTIONAL + 4 * before)
    }

    pub fn checksum(&self) -> Option<u16> {
        self.word_at(FLAG_C)
            .map(|o| read16(self.buffer.as_ref(), o))
    }

    pub fn key(&self) -> Option<u32> {
        self.word_at(FLAG_K)
            .map(|o| read32(self.buffer.as_ref(), o))
    }

    pub fn seq(&self) -> Option<u32> {
        self.word_at(FLAG_S)
            .map(|o| read32(self.buffer.as_ref(), o))
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// A GRE header, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// The EtherType of the payload (0x6558 for Ethernet).
    pub protocol: u16,
    /// The checksum word, if present (as on the wire; computing it over the
    /// payload is the caller's business).
    pub checksum: Option<u16>,
    pub key: Option<u32>,
    pub seq: Option<u32>,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        let f = p.flags_ver();
        if f & VERSION_MASK != 0 || f & FLAG_R != 0 {
            return Err(Error::Malformed);
        }
        Ok(Self {
            protocol: p.protocol(),
            checksum: p.checksum(),
            key: p.key(),
            seq: p.seq(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        let words = [
            self.checksum.is_some(),
            self.key.is_some(),
            self.seq.is_some(),
        ];
        HEADER_LEN + 4 * words.iter().filter(|&&w| w).count()
    }

    /// Write the header into the first [`Repr::buffer_len`] bytes of `p`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let b = p.buffer.as_mut();
        let mut flags = 0;
        let mut at = field::OPTIONAL;
        if let Some(c) = self.checksum {
            flags |= FLAG_C;
            write16(b, at, c);
            write16(b, at + 2, 0);
            at += 4;
        }
        if let Some(k) = self.key {
            flags |= FLAG_K;
            b[at..at + 4].copy_from_slice(&k.to_be_bytes());
            at += 4;
        }
        if let Some(s) = self.seq {
            flags |= FLAG_S;
            b[at..at + 4].copy_from_slice(&s.to_be_bytes());
        }
        write16(b, field::FLAGS_VER.start, flags);
        write16(b, field::PROTOCOL.start, self.protocol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 2890: key 0x01020304 and sequence 7 over transparent Ethernet.
    const FIXTURE: [u8; 12] = [0x30, 0x00, 0x65, 0x58, 1, 2, 3, 4, 0, 0, 0, 7];

    #[test]
    fn fixture() {
        let p = Packet::new_checked(&FIXTURE[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        let want = Repr {
            protocol: 0x6558,
            checksum: None,
            key: Some(0x0102_0304),
            seq: Some(7),
        };
        assert_eq!(r, want);
        assert_eq!((p.header_len(), r.buffer_len()), (12, 12));
        let mut b = [0xffu8; 12];
        r.emit(&mut Packet::new_unchecked(&mut b[..]));
        assert_eq!(b, FIXTURE);
        assert_eq!(Packet::new_checked(&FIXTURE[..11]), Err(Error::Truncated));
        let mut v1 = FIXTURE;
        v1[1] = 1;
        assert_eq!(
            Repr::parse(&Packet::new_checked(&v1[..]).unwrap()),
            Err(Error::Malformed)
        );
        // Checksum and key: the key follows the checksum word.
        let ck = [0xa0, 0, 0x08, 0, 0xbe, 0xef, 0, 0, 0, 0, 0, 9];
        let r = Repr::parse(&Packet::new_checked(&ck[..]).unwrap()).unwrap();
        assert_eq!((r.checksum, r.key, r.seq), (Some(0xbeef), Some(9), None));
    }

    proptest! {
        #[test]
        fn round_trip(
            protocol in any::<u16>(),
            checksum in proptest::option::of(any::<u16>()),
            key in proptest::option::of(any::<u32>()),
            seq in proptest::option::of(any::<u32>()),
        ) {
            let r = Repr { protocol, checksum, key, seq };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut b[..]));
            let p = Packet::new_checked(&b[..]).unwrap();
            prop_assert_eq!(p.header_len(), b.len());
            prop_assert_eq!(Repr::parse(&p), Ok(r));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..24)) {
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = Repr::parse(&p);
                let _ = p.payload();
            }
        }
    }
}

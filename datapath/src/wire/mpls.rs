//! MPLS label stack entries (RFC 3032).
//!
//! One 32-bit entry: label (20 bits), traffic class (3), bottom of stack
//! (1), TTL (8). The one idea: a stack is a run of entries ending at the
//! first one with the bottom-of-stack bit; what follows it is not
//! described by the stack itself.

use super::{read32, write32, Error, Field, Result};

pub mod field {
    use super::Field;
    /// The whole 32-bit entry; the sub-fields are bit ranges of it.
    pub const LSE: Field = 0..4;
    /// The byte holding the bottom-of-stack bit (lowest bit).
    pub const BOS_BYTE: usize = 2;
    pub const TTL: Field = 3..4;
}

pub const HEADER_LEN: usize = field::LSE.end;

pub const LABEL_SHIFT: u32 = 12;
pub const LABEL_MASK: u32 = 0xf_ffff;
pub const TC_SHIFT: u32 = 9;
pub const TC_MASK: u32 = 0x7;
pub const BOS_SHIFT: u32 = 8;
pub const TTL_MASK: u32 = 0xff;

/// A view of one label stack entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lse<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Lse<T> {
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

    /// The entry as one big-endian word.
    #[inline(always)]
    pub fn raw(&self) -> u32 {
        read32(self.buffer.as_ref(), field::LSE.start)
    }

    pub fn label(&self) -> u32 {
        self.raw() >> LABEL_SHIFT
    }

    pub fn tc(&self) -> u8 {
        ((self.raw() >> TC_SHIFT) & TC_MASK) as u8
    }

    #[inline(always)]
    pub fn bottom_of_stack(&self) -> bool {
        self.buffer.as_ref()[field::BOS_BYTE] & 1 != 0
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL.start]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Lse<T> {
    pub fn set_raw(&mut self, v: u32) {
        write32(self.buffer.as_mut(), field::LSE.start, v);
    }

    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL.start] = v;
    }
}

/// Build an entry from its parts.
pub fn lse(label: u32, tc: u8, bos: bool, ttl: u8) -> u32 {
    (label & LABEL_MASK) << LABEL_SHIFT
        | (u32::from(tc) & TC_MASK) << TC_SHIFT
        | u32::from(bos) << BOS_SHIFT
        | u32::from(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let w = lse(20, 5, true, 64);
        let b = w.to_be_bytes();
        let e = Lse::new_checked(&b[..]).unwrap();
        assert_eq!(
            (e.label(), e.tc(), e.bottom_of_stack(), e.ttl()),
            (20, 5, true, 64)
        );
        assert_eq!(b, [0x00, 0x01, 0x4b, 0x40]);
        assert!(Lse::new_checked(&b[..3]).is_err());
    }
}

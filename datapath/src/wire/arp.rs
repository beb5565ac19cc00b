//! ARP and RARP (RFC 826) for Ethernet hardware and IPv4 protocol
//! addresses: the only kind the datapath matches on.
//!
//! The one idea: the header describes its own address sizes; a view is
//! built only over the 28-byte Ethernet/IPv4 form, and [`Packet::is_ethernet_ipv4`]
//! says whether the bytes claim that form.

use super::{read16, read32, write16, Error, Field, Result};

pub mod field {
    use super::Field;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const HEADER_LEN: usize = field::TPA.end;
pub const HTYPE_ETHERNET: u16 = 1;
pub const OP_REQUEST: u16 = 1;
pub const OP_REPLY: u16 = 2;

/// A view of an Ethernet/IPv4 ARP packet.
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

    /// A view over a whole 28-byte packet (whatever its address sizes say;
    /// see [`Packet::is_ethernet_ipv4`]).
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Self { buffer })
    }

    /// Hardware Ethernet, protocol IPv4, address lengths 6 and 4.
    #[inline(always)]
    pub fn is_ethernet_ipv4(&self) -> bool {
        let d = self.buffer.as_ref();
        read16(d, field::HTYPE.start) == HTYPE_ETHERNET
            && read16(d, field::PTYPE.start) == super::ethernet::ether_type::IPV4
            && d[field::HLEN] == 6
            && d[field::PLEN] == 4
    }

    #[inline(always)]
    pub fn operation(&self) -> u16 {
        read16(self.buffer.as_ref(), field::OPER.start)
    }

    #[inline(always)]
    pub fn sha(&self) -> &[u8] {
        &self.buffer.as_ref()[field::SHA]
    }

    #[inline(always)]
    pub fn spa(&self) -> u32 {
        read32(self.buffer.as_ref(), field::SPA.start)
    }

    #[inline(always)]
    pub fn tha(&self) -> &[u8] {
        &self.buffer.as_ref()[field::THA]
    }

    #[inline(always)]
    pub fn tpa(&self) -> u32 {
        read32(self.buffer.as_ref(), field::TPA.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_operation(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::OPER.start, v);
    }

    pub fn set_sha(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a);
    }

    pub fn set_spa(&mut self, a: u32) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.to_be_bytes());
    }

    pub fn set_tha(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a);
    }

    pub fn set_tpa(&mut self, a: u32) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_fixture() {
        let mut b = [0u8; 28];
        b[..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_sha([2, 0, 0, 0, 0, 1]);
        p.set_spa(0x0a00_0001);
        p.set_tpa(0x0a00_0002);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.is_ethernet_ipv4());
        assert_eq!(
            (p.operation(), p.spa(), p.tpa()),
            (OP_REQUEST, 0x0a00_0001, 0x0a00_0002)
        );
        assert_eq!(p.sha(), &[2, 0, 0, 0, 0, 1]);
        assert_eq!(&b[14..18], &[10, 0, 0, 1]);
        assert!(Packet::new_checked(&b[..27]).is_err());
    }
}

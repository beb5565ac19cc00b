//! Ethernet II frames, 802.1Q / 802.1ad VLAN tags and the LLC/SNAP header
//! of 802.3 frames.
//!
//! The one idea: the *type/length* field at byte 12 means three things. A
//! VLAN TPID (0x8100, 0x88a8) says a 4-byte tag follows, whose last two
//! bytes are the next type/length; a value below 0x0600 is an 802.3 length,
//! and the type, if any, is in a SNAP header after it; anything else is the
//! EtherType of the payload. [`super::walk`] resolves the chain; this
//! module only names the bytes.

use super::{read16, write16, Error, Field, Rest, Result};

/// EtherType numbers (IEEE registry) the datapath knows by name.
pub mod ether_type {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const RARP: u16 = 0x8035;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MCAST: u16 = 0x8848;
    pub const NSH: u16 = 0x894f;
    pub const TEB: u16 = 0x6558;
    /// Type/length values below this are 802.3 lengths, not types.
    pub const MIN: u16 = 0x0600;
}

/// An EtherType, keeping values it does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EtherType {
    Ipv4,
    Arp,
    Ipv6,
    Vlan,
    QinQ,
    Mpls,
    MplsMcast,
    Nsh,
    /// Transparent Ethernet bridging (an Ethernet frame follows).
    Teb,
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            ether_type::IPV4 => Self::Ipv4,
            ether_type::ARP => Self::Arp,
            ether_type::IPV6 => Self::Ipv6,
            ether_type::VLAN => Self::Vlan,
            ether_type::QINQ => Self::QinQ,
            ether_type::MPLS => Self::Mpls,
            ether_type::MPLS_MCAST => Self::MplsMcast,
            ether_type::NSH => Self::Nsh,
            ether_type::TEB => Self::Teb,
            other => Self::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(v: EtherType) -> u16 {
        match v {
            EtherType::Ipv4 => ether_type::IPV4,
            EtherType::Arp => ether_type::ARP,
            EtherType::Ipv6 => ether_type::IPV6,
            EtherType::Vlan => ether_type::VLAN,
            EtherType::QinQ => ether_type::QINQ,
            EtherType::Mpls => ether_type::MPLS,
            EtherType::MplsMcast => ether_type::MPLS_MCAST,
            EtherType::Nsh => ether_type::NSH,
            EtherType::Teb => ether_type::TEB,
            EtherType::Unknown(v) => v,
        }
    }
}

/// A 48-bit MAC address.
pub type Address = [u8; 6];

/// Field ranges of the Ethernet header.
pub mod field {
    use super::{Field, Rest};
    pub const DESTINATION: Field = 0..6;
    pub const SOURCE: Field = 6..12;
    /// The first type/length field (a TPID when the frame is tagged).
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: Rest = 14..;
}

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// A view of an Ethernet II header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view without a length check: only for buffers at least
    /// [`HEADER_LEN`] long (a `&[u8; HEADER_LEN]` is by type).
    #[inline(always)]
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// A view, once the buffer holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Does the buffer hold the whole header?
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline(always)]
    pub fn dst_addr(&self) -> Address {
        let mut a = Address::default();
        a.copy_from_slice(&self.buffer.as_ref()[field::DESTINATION]);
        a
    }

    #[inline(always)]
    pub fn src_addr(&self) -> Address {
        let mut a = Address::default();
        a.copy_from_slice(&self.buffer.as_ref()[field::SOURCE]);
        a
    }

    /// The first type/length field.
    #[inline(always)]
    pub fn ethertype(&self) -> u16 {
        read16(self.buffer.as_ref(), field::ETHERTYPE.start)
    }

    /// Everything after the first type/length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst_addr(&mut self, a: Address) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a);
    }

    pub fn set_src_addr(&mut self, a: Address) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a);
    }

    pub fn set_ethertype(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::ETHERTYPE.start, v);
    }
}

/// An untagged Ethernet header, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub dst: Address,
    pub src: Address,
    pub ethertype: u16,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(f: &Frame<T>) -> Result<Self> {
        f.check_len()?;
        Ok(Self {
            dst: f.dst_addr(),
            src: f.src_addr(),
            ethertype: f.ethertype(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the first [`HEADER_LEN`] bytes of `f`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, f: &mut Frame<T>) {
        f.set_dst_addr(self.dst);
        f.set_src_addr(self.src);
        f.set_ethertype(self.ethertype);
    }
}

/// The VLAN tag: 802.1Q / 802.1ad.
pub mod vlan {
    use super::super::{read16, write16, Error, Field, Result};

    /// Field ranges of a tag, from its TPID.
    pub mod field {
        use super::Field;
        pub const TPID: Field = 0..2;
        pub const TCI: Field = 2..4;
        /// The type/length field that follows the tag.
        pub const NEXT_TYPE: Field = 4..6;
    }

    /// Bytes one tag adds to a frame (TPID + TCI).
    pub const TAG_LEN: usize = 4;
    /// What the view reads: the tag and the type after it.
    pub const HEADER_LEN: usize = field::NEXT_TYPE.end;
    /// Offset of the first tag's TPID in a frame.
    pub const FIRST_TAG: usize = 12;

    /// TCI bits.
    pub const PCP_SHIFT: u32 = 13;
    pub const DEI: u16 = 0x1000;
    pub const VID_MASK: u16 = 0x0fff;

    /// A view of one tag and the type/length that follows it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Tag<T: AsRef<[u8]>> {
        buffer: T,
    }

    impl<T: AsRef<[u8]>> Tag<T> {
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
        pub fn tpid(&self) -> u16 {
            read16(self.buffer.as_ref(), field::TPID.start)
        }

        #[inline(always)]
        pub fn tci(&self) -> u16 {
            read16(self.buffer.as_ref(), field::TCI.start)
        }

        pub fn vid(&self) -> u16 {
            self.tci() & VID_MASK
        }

        pub fn pcp(&self) -> u8 {
            (self.tci() >> PCP_SHIFT) as u8
        }

        #[inline(always)]
        pub fn next_type(&self) -> u16 {
            read16(self.buffer.as_ref(), field::NEXT_TYPE.start)
        }
    }

    impl<T: AsRef<[u8]> + AsMut<[u8]>> Tag<T> {
        pub fn set_tpid(&mut self, v: u16) {
            write16(self.buffer.as_mut(), field::TPID.start, v);
        }

        pub fn set_tci(&mut self, v: u16) {
            write16(self.buffer.as_mut(), field::TCI.start, v);
        }

        pub fn set_next_type(&mut self, v: u16) {
            write16(self.buffer.as_mut(), field::NEXT_TYPE.start, v);
        }
    }
}

/// The LLC/SNAP header of an 802.3 frame that carries an EtherType.
pub mod snap {
    use super::super::{read16, Field};

    pub mod field {
        use super::Field;
        /// DSAP, SSAP, control.
        pub const LLC: Field = 0..3;
        pub const OUI: Field = 3..6;
        pub const ETHERTYPE: Field = 6..8;
    }

    pub const HEADER_LEN: usize = field::ETHERTYPE.end;
    /// LLC DSAP 0xaa, SSAP 0xaa, control 0x03 (UI), OUI 00-00-00: SNAP
    /// carrying an EtherType.
    pub const ETHERNET_PREFIX: [u8; 6] = [0xaa, 0xaa, 0x03, 0, 0, 0];

    /// The EtherType a SNAP header names, if `h` is SNAP with a zero OUI
    /// and a real type.
    #[inline(always)]
    pub fn ethertype(h: &[u8; HEADER_LEN]) -> Option<u16> {
        let ty = read16(h, field::ETHERTYPE.start);
        (h[..field::ETHERTYPE.start] == ETHERNET_PREFIX && ty >= super::ether_type::MIN)
            .then_some(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_fields_and_setters() {
        let mut b = [0u8; 18];
        let mut f = Frame::new_checked(&mut b[..]).unwrap();
        f.set_dst_addr([1, 2, 3, 4, 5, 6]);
        f.set_src_addr([7, 8, 9, 10, 11, 12]);
        f.set_ethertype(ether_type::VLAN);
        let f = Frame::new_checked(&b[..]).unwrap();
        assert_eq!(f.dst_addr(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(f.src_addr(), [7, 8, 9, 10, 11, 12]);
        assert_eq!(EtherType::from(f.ethertype()), EtherType::Vlan);
        assert_eq!(f.payload().len(), 4);
        assert_eq!(Frame::new_checked(&b[..13]), Err(Error::Truncated));
    }

    proptest::proptest! {
        #[test]
        fn repr_round_trip(dst: Address, src: Address, ethertype: u16) {
            let r = Repr { dst, src, ethertype };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Frame::new_unchecked(&mut b[..]));
            proptest::prop_assert_eq!(Repr::parse(&Frame::new_unchecked(&b[..])), Ok(r));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..20)) {
            let _ = Repr::parse(&Frame::new_unchecked(&b[..]));
        }
    }

    #[test]
    fn vlan_tag_and_snap() {
        let t = vlan::Tag::new_checked(&[0x81, 0x00, 0xa0, 0x05, 0x08, 0x00][..]).unwrap();
        assert_eq!(
            (t.tpid(), t.pcp(), t.vid(), t.next_type()),
            (0x8100, 5, 5, 0x0800)
        );
        assert_eq!(
            snap::ethertype(&[0xaa, 0xaa, 3, 0, 0, 0, 0x86, 0xdd]),
            Some(0x86dd)
        );
        assert_eq!(snap::ethertype(&[0xaa, 0xaa, 3, 0, 0, 1, 0x86, 0xdd]), None);
        assert_eq!(EtherType::from(0x1234), EtherType::Unknown(0x1234));
        assert_eq!(u16::from(EtherType::Unknown(0x1234)), 0x1234);
    }
}

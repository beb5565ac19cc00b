//! IPv4 headers (RFC 791).
//!
//! The one idea: three lengths must agree before anything past the fixed
//! 20 bytes is trusted. The header length (IHL) must be at least 20 and
//! inside the buffer, and the total length must cover the header. A total
//! length *beyond* the buffer is accepted (a frame cut short by a snap
//! length still has a header worth reading); [`Packet::payload`] then ends
//! at the buffer, and bytes past the total length (Ethernet padding) are
//! never payload.

use super::{checksum, read16, read32, write16, Error, Field, Result};

pub mod field {
    use super::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// Length of the header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;
/// Flags+offset: "don't fragment", "more fragments", and the offset bits.
pub const DONT_FRAGMENT: u16 = 0x4000;
pub const MORE_FRAGMENTS: u16 = 0x2000;
pub const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 header (and what follows it in the buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Only for buffers of at least [`HEADER_LEN`] bytes; only the fixed
    /// fields may be read until [`Packet::check_len`] passed.
    #[inline(always)]
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The fixed header is present, the version is 4, and the header
    /// length is at least 20, inside the buffer and covered by the total
    /// length.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if !self.is_valid_fixed() {
            return Err(Error::Malformed);
        }
        if self.header_len() > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Version 4, IHL >= 5, total length >= header length: what can be
    /// checked from the fixed 20 bytes alone.
    #[inline(always)]
    pub fn is_valid_fixed(&self) -> bool {
        let hlen = self.header_len();
        self.version() == 4 && hlen >= HEADER_LEN && usize::from(self.total_len()) >= hlen
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline(always)]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The whole DSCP/ECN byte (the old TOS).
    #[inline(always)]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    pub fn ecn(&self) -> u8 {
        self.tos() & 0x3
    }

    #[inline(always)]
    pub fn total_len(&self) -> u16 {
        read16(self.buffer.as_ref(), field::LENGTH.start)
    }

    pub fn ident(&self) -> u16 {
        read16(self.buffer.as_ref(), field::IDENT.start)
    }

    /// Flags and fragment offset, as on the wire.
    #[inline(always)]
    pub fn flags_frag(&self) -> u16 {
        read16(self.buffer.as_ref(), field::FLG_OFF.start)
    }

    /// Is this any fragment (more fragments, or a non-zero offset)?
    #[inline(always)]
    pub fn is_fragment(&self) -> bool {
        self.flags_frag() & (MORE_FRAGMENTS | FRAG_OFFSET_MASK) != 0
    }

    /// Is this a fragment other than the first (no transport header)?
    #[inline(always)]
    pub fn is_later_fragment(&self) -> bool {
        self.flags_frag() & FRAG_OFFSET_MASK != 0
    }

    #[inline(always)]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    #[inline(always)]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    pub fn checksum(&self) -> u16 {
        read16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    #[inline(always)]
    pub fn src_addr(&self) -> u32 {
        read32(self.buffer.as_ref(), field::SRC_ADDR.start)
    }

    #[inline(always)]
    pub fn dst_addr(&self) -> u32 {
        read32(self.buffer.as_ref(), field::DST_ADDR.start)
    }

    /// The options (after [`Packet::check_len`]).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: from the header's end to the total length, or to the
    /// end of the buffer if that comes first (after `check_len`).
    pub fn payload(&self) -> &[u8] {
        let d = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(d.len());
        &d[self.header_len()..end.max(self.header_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_tos(&mut self, v: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = v;
    }

    pub fn set_total_len(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::LENGTH.start, v);
    }

    pub fn set_ident(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::IDENT.start, v);
    }

    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::CHECKSUM.start, v);
    }

    pub fn set_src_addr(&mut self, a: u32) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.to_be_bytes());
    }

    pub fn set_dst_addr(&mut self, a: u32) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.to_be_bytes());
    }
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Does the header checksum verify (after `check_len`)?
    pub fn verify_checksum(&self) -> bool {
        let d = self.buffer.as_ref();
        checksum::fold(checksum::sum(0, &d[..self.header_len()])) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Compute and store the header checksum (after `check_len`).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hlen = self.header_len();
        let c = checksum::finish(checksum::sum(0, &self.buffer.as_ref()[..hlen]));
        self.set_checksum(c);
    }
}

/// An IPv4 header without options, parsed (an outer tunnel header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub tos: u8,
    pub ident: u16,
    /// Flags and fragment offset as on the wire.
    pub flags_frag: u16,
    pub ttl: u8,
    pub protocol: u8,
    pub src: u32,
    pub dst: u32,
    /// Bytes after the header (total length - 20).
    pub payload_len: u16,
}

impl Repr {
    /// Parse a header; options are skipped, a wrong checksum is
    /// [`Error::Malformed`].
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        p.check_len()?;
        if !p.verify_checksum() {
            return Err(Error::Malformed);
        }
        Ok(Self {
            tos: p.tos(),
            ident: p.ident(),
            flags_frag: p.flags_frag(),
            ttl: p.ttl(),
            protocol: p.protocol(),
            src: p.src_addr(),
            dst: p.dst_addr(),
            payload_len: p.total_len() - p.header_len() as u16,
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header, checksum included, into the first [`HEADER_LEN`]
    /// bytes of `p` (a payload longer than 65515 bytes is cut to fit).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let b = p.buffer.as_mut();
        b[field::VER_IHL] = 0x45;
        let total = self.payload_len.saturating_add(HEADER_LEN as u16);
        p.set_tos(self.tos);
        p.set_total_len(total);
        p.set_ident(self.ident);
        write16(p.buffer.as_mut(), field::FLG_OFF.start, self.flags_frag);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071-era textbook header: 10.0.0.1 -> 192.168.7.200, TCP, DF.
    const FIXTURE: [u8; 24] = [
        0x45, 0x10, 0x00, 0x18, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 10, 0, 0, 1, 192,
        168, 7, 200, 0xde, 0xad, 0xbe, 0xef,
    ];

    #[test]
    fn fixed_fields() {
        let p = Packet::new_checked(&FIXTURE[..]).unwrap();
        assert_eq!(
            (p.version(), p.header_len(), p.tos(), p.total_len()),
            (4, 20, 0x10, 24)
        );
        assert_eq!((p.ident(), p.ttl(), p.protocol()), (0x1234, 64, 6));
        assert!(!p.is_fragment());
        assert_eq!(p.src_addr(), 0x0a00_0001);
        assert_eq!(p.dst_addr(), 0xc0a8_07c8);
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn lengths_are_checked_once() {
        assert_eq!(Packet::new_checked(&FIXTURE[..19]), Err(Error::Truncated));
        let mut b = FIXTURE;
        b[0] = 0x44;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Malformed));
        b[0] = 0x47; // 28-byte header in a 24-byte buffer
        b[3] = 28;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Truncated));
        // Total length past the buffer: accepted, payload cut at the buffer.
        let mut b = FIXTURE;
        b[3] = 200;
        assert_eq!(Packet::new_checked(&b[..]).unwrap().payload().len(), 4);
    }

    proptest::proptest! {
        #[test]
        fn repr_round_trip(
            tos: u8, ident: u16, flags_frag: u16, ttl: u8, protocol: u8, src: u32, dst: u32,
            payload_len in 0u16..=65515,
        ) {
            let r = Repr { tos, ident, flags_frag, ttl, protocol, src, dst, payload_len };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut b[..]));
            proptest::prop_assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])), Ok(r));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Ok(r) = Repr::parse(&Packet::new_unchecked(&b[..])) {
                proptest::prop_assert!(usize::from(r.payload_len) + HEADER_LEN <= 65535);
            }
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = (p.options(), p.payload());
            }
        }
    }

    #[test]
    fn setters() {
        let mut b = FIXTURE;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_ttl(3);
        p.set_src_addr(0x0102_0304);
        p.set_total_len(20);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.ttl(), p.src_addr(), p.payload().len()),
            (3, 0x0102_0304, 0)
        );
    }
}

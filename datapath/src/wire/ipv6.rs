//! IPv6 headers (RFC 8200) and the extension headers the datapath walks:
//! hop-by-hop options, routing, destination options, fragment, and the
//! authentication header (RFC 4302).
//!
//! The one idea: every extension header walked here starts with the same
//! two bytes, next header and a length, but the length is counted three
//! ways (8-byte units not counting the first for options and routing,
//! 4-byte units minus two for AH, fixed 8 bytes for fragment).
//! [`ExtHeader::header_len`] is the one place that knows this, and
//! [`MAX_EXT_HEADERS`] the one limit on how many are walked.

use super::ip::protocol;
use super::{read16, read32, write16, Error, Field, Result};

pub mod field {
    use super::Field;
    /// Version (4 bits), traffic class (8), flow label (20).
    pub const VER_TC_FLOW: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;
/// The most extension headers walked before giving up on finding the
/// upper-layer header. One limit for every walk in the datapath.
pub const MAX_EXT_HEADERS: usize = 16;
pub const TC_SHIFT: u32 = 20;
pub const FLOW_LABEL_MASK: u32 = 0x000f_ffff;

/// A view of the fixed IPv6 header.
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

    /// The fixed header is present and says version 6.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let p = Self { buffer };
        if p.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(p)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The first word: version, traffic class, flow label.
    #[inline(always)]
    pub fn ver_tc_flow(&self) -> u32 {
        read32(self.buffer.as_ref(), field::VER_TC_FLOW.start)
    }

    /// From the whole first word, so that reading the version and then
    /// the traffic class and flow label is one load.
    #[inline(always)]
    pub fn version(&self) -> u8 {
        (self.ver_tc_flow() >> 28) as u8
    }

    #[inline(always)]
    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> TC_SHIFT) as u8
    }

    #[inline(always)]
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & FLOW_LABEL_MASK
    }

    #[inline(always)]
    pub fn payload_len(&self) -> u16 {
        read16(self.buffer.as_ref(), field::LENGTH.start)
    }

    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    #[inline(always)]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    #[inline(always)]
    pub fn src_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[field::SRC_ADDR]
    }

    #[inline(always)]
    pub fn dst_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DST_ADDR]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_ver_tc_flow(&mut self, v: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_payload_len(&mut self, v: u16) {
        write16(self.buffer.as_mut(), field::LENGTH.start, v);
    }

    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = v;
    }

    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    pub fn set_src_addr(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a);
    }

    pub fn set_dst_addr(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a);
    }
}

/// A fixed IPv6 header, parsed (an outer tunnel header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub payload_len: u16,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if p.version() != 6 {
            return Err(Error::Malformed);
        }
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(p.src_addr());
        dst.copy_from_slice(p.dst_addr());
        Ok(Self {
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
            next_header: p.next_header(),
            hop_limit: p.hop_limit(),
            src,
            dst,
            payload_len: p.payload_len(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the first [`HEADER_LEN`] bytes of `p`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let first = 6 << 28
            | u32::from(self.traffic_class) << TC_SHIFT
            | (self.flow_label & FLOW_LABEL_MASK);
        p.set_ver_tc_flow(first);
        p.set_payload_len(self.payload_len);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
    }
}

/// Is `next` an extension header the walk steps over?
#[inline(always)]
pub fn is_ext_header(next: u8) -> bool {
    matches!(
        next,
        protocol::HOPOPTS
            | protocol::ROUTING
            | protocol::DSTOPTS
            | protocol::AH
            | protocol::FRAGMENT
    )
}

/// Field ranges shared by the extension headers.
pub mod ext_field {
    pub const NXT_HDR: usize = 0;
    pub const LENGTH: usize = 1;
    /// Routing header: routing type and segments left.
    pub const ROUTING_TYPE: usize = 2;
    pub const SEGMENTS_LEFT: usize = 3;
    /// Fragment header: offset (13 bits), reserved (2), M flag (1).
    pub const FRAG_OFF: super::Field = 2..4;
    pub const FRAG_IDENT: super::Field = 4..8;
}

/// The smallest extension header (and all a view reads).
pub const EXT_HEADER_LEN: usize = 8;
/// Fragment header offset bits (the low three bits are flags).
pub const FRAG_OFFSET_MASK: u16 = 0xfff8;
pub const FRAG_MORE: u16 = 0x0001;

/// A view of the first 8 bytes of an extension header of kind `kind`
/// (the next-header value that named it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtHeader<T: AsRef<[u8]>> {
    buffer: T,
    kind: u8,
}

impl<T: AsRef<[u8]>> ExtHeader<T> {
    /// Only for buffers of at least [`EXT_HEADER_LEN`] bytes.
    #[inline(always)]
    pub const fn new_unchecked(buffer: T, kind: u8) -> Self {
        Self { buffer, kind }
    }

    /// A view, once the buffer holds the whole extension header its
    /// length field claims.
    pub fn new_checked(buffer: T, kind: u8) -> Result<Self> {
        if !is_ext_header(kind) {
            return Err(Error::Malformed);
        }
        if buffer.as_ref().len() < EXT_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let h = Self { buffer, kind };
        if h.buffer.as_ref().len() < h.header_len() {
            return Err(Error::Truncated);
        }
        Ok(h)
    }

    #[inline(always)]
    pub fn kind(&self) -> u8 {
        self.kind
    }

    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ext_field::NXT_HDR]
    }

    /// Length of the whole extension header in bytes.
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        let units = usize::from(self.buffer.as_ref()[ext_field::LENGTH]);
        match self.kind {
            protocol::FRAGMENT => EXT_HEADER_LEN,
            protocol::AH => (units + 2) * 4,
            _ => (units + 1) * 8,
        }
    }

    /// Routing header: segments still to visit (0 for other kinds).
    #[inline(always)]
    pub fn segments_left(&self) -> u8 {
        if self.kind == protocol::ROUTING {
            self.buffer.as_ref()[ext_field::SEGMENTS_LEFT]
        } else {
            0
        }
    }

    /// Fragment header: offset and flags as on the wire (0 for others).
    #[inline(always)]
    pub fn frag_off(&self) -> u16 {
        if self.kind == protocol::FRAGMENT {
            read16(self.buffer.as_ref(), ext_field::FRAG_OFF.start)
        } else {
            0
        }
    }

    /// A fragment header of a fragment other than the first.
    #[inline(always)]
    pub fn is_later_fragment(&self) -> bool {
        self.frag_off() & FRAG_OFFSET_MASK != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_header_fixture() {
        let mut b = [0u8; 40];
        b[..8].copy_from_slice(&[0x6b, 0xa1, 0x23, 0x45, 0, 8, 17, 64]);
        b[8] = 0x20;
        b[24] = 0xfe;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0xba, 0x12345)
        );
        assert_eq!(
            (p.payload_len(), p.next_header(), p.hop_limit()),
            (8, 17, 64)
        );
        assert_eq!((p.src_addr()[0], p.dst_addr()[0]), (0x20, 0xfe));
        assert_eq!(Packet::new_checked(&b[..39]), Err(Error::Truncated));
        b[0] = 0x40;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Malformed));
    }

    proptest::proptest! {
        #[test]
        fn repr_round_trip(
            traffic_class: u8, flow_label in 0u32..=FLOW_LABEL_MASK, next_header: u8,
            hop_limit: u8, src: [u8; 16], dst: [u8; 16], payload_len: u16,
        ) {
            let r = Repr { traffic_class, flow_label, next_header, hop_limit, src, dst, payload_len };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut b[..]));
            proptest::prop_assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])), Ok(r));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = Repr::parse(&Packet::new_unchecked(&b[..]));
            for kind in [0u8, 43, 44, 51, 60] {
                if let Ok(h) = ExtHeader::new_checked(&b[..], kind) {
                    let _ = (h.next_header(), h.header_len(), h.segments_left(), h.frag_off());
                }
            }
        }
    }

    #[test]
    fn extension_header_lengths() {
        let h = [17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            ExtHeader::new_checked(&h[..], protocol::HOPOPTS)
                .unwrap()
                .header_len(),
            16
        );
        assert_eq!(
            ExtHeader::new_checked(&h[..], protocol::FRAGMENT)
                .unwrap()
                .header_len(),
            8
        );
        assert_eq!(
            ExtHeader::new_checked(&h[..], protocol::AH)
                .unwrap()
                .header_len(),
            12
        );
        assert_eq!(
            ExtHeader::new_checked(&h[..8], protocol::DSTOPTS),
            Err(Error::Truncated)
        );
        assert_eq!(ExtHeader::new_checked(&h[..], 17), Err(Error::Malformed));
        let r = [6, 0, 0, 2, 0, 0, 0, 0];
        let r = ExtHeader::new_checked(&r[..], protocol::ROUTING).unwrap();
        assert_eq!((r.next_header(), r.segments_left()), (6, 2));
        let f = [6, 0, 0x01, 0x01, 0, 0, 0, 1];
        let f = ExtHeader::new_checked(&f[..], protocol::FRAGMENT).unwrap();
        assert!(f.is_later_fragment());
    }
}

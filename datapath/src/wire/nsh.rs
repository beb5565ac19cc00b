//! NSH, the network service header (RFC 8300): a base header, a service
//! path header (SPI, SI) and context metadata, MD type 1 (16 fixed bytes)
//! or MD type 2 (variable-length context TLVs).
//!
//! The one idea: the length field (in 4-byte words) covers all three parts,
//! and the MD type says how to read the context in between: exactly 16
//! bytes for type 1, a chain of TLVs filling the rest for type 2. A header
//! whose length disagrees with its MD type is malformed; other MD types are
//! kept as [`Metadata::Unknown`] with their raw context.

use super::{read32, Error, Result};

pub mod field {
    /// Version, O, U, TTL, length, MD type, next protocol.
    pub const BASE: super::super::Field = 0..4;
    /// SPI (24 bits) and SI (8 bits).
    pub const SERVICE_PATH: super::super::Field = 4..8;
    pub const CONTEXT: usize = 8;
}

/// Base + service path header.
pub const HEADER_LEN: usize = field::CONTEXT;
pub const MD1_CONTEXT_LEN: usize = 16;
/// MD type 2 context header: class, type, length.
pub const MD2_TLV_HEADER_LEN: usize = 4;
pub const MD_TYPE_1: u8 = 1;
pub const MD_TYPE_2: u8 = 2;
/// Next protocol values.
pub mod next_protocol {
    pub const IPV4: u8 = 1;
    pub const IPV6: u8 = 2;
    pub const ETHERNET: u8 = 3;
    pub const NSH: u8 = 4;
    pub const MPLS: u8 = 5;
}

/// A view of an NSH header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// A view once the whole header its length field announces is in the
    /// buffer and covers at least the base and service path headers.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self { buffer };
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if p.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len < p.header_len() {
            return Err(Error::Truncated);
        }
        Ok(p)
    }

    fn base(&self) -> u32 {
        read32(self.buffer.as_ref(), field::BASE.start)
    }

    pub fn version(&self) -> u8 {
        (self.base() >> 30) as u8
    }

    pub fn oam(&self) -> bool {
        self.base() & (1 << 29) != 0
    }

    pub fn ttl(&self) -> u8 {
        ((self.base() >> 22) & 0x3f) as u8
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        ((self.base() >> 16) & 0x3f) as usize * 4
    }

    pub fn md_type(&self) -> u8 {
        ((self.base() >> 8) & 0x0f) as u8
    }

    pub fn next_protocol(&self) -> u8 {
        self.base() as u8
    }

    pub fn spi(&self) -> u32 {
        read32(self.buffer.as_ref(), field::SERVICE_PATH.start) >> 8
    }

    pub fn si(&self) -> u8 {
        self.buffer.as_ref()[field::SERVICE_PATH.end - 1]
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// The context metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metadata<'a> {
    /// MD type 1: four fixed 32-bit context words.
    Type1([u8; MD1_CONTEXT_LEN]),
    /// MD type 2: the raw context TLVs (a chain that fills the length; build
    /// it with [`emit_md2_tlv`]).
    Type2(&'a [u8]),
    /// Another MD type, with its raw context.
    Unknown { md_type: u8, context: &'a [u8] },
}

/// Append an MD type 2 context TLV (data padded to 4 bytes, at most 127).
pub fn emit_md2_tlv(out: &mut Vec<u8>, class: u16, tlv_type: u8, data: &[u8]) {
    let data = &data[..data.len().min(127)];
    out.extend_from_slice(&class.to_be_bytes());
    out.push(tlv_type);
    out.push(data.len() as u8);
    out.extend_from_slice(data);
    out.resize(out.len() + (4 - data.len() % 4) % 4, 0);
}

/// Does `raw` hold a chain of MD type 2 TLVs that fills it exactly?
fn md2_valid(raw: &[u8]) -> bool {
    let mut p = 0;
    while p < raw.len() {
        let Some(h) = super::header::<MD2_TLV_HEADER_LEN>(raw, p) else {
            return false;
        };
        p += MD2_TLV_HEADER_LEN + usize::from(h[3] & 0x7f).div_ceil(4) * 4;
    }
    p == raw.len()
}

/// An NSH header, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    pub oam: bool,
    /// 6 bits.
    pub ttl: u8,
    pub next_protocol: u8,
    /// Service path identifier, 24 bits.
    pub spi: u32,
    /// Service index.
    pub si: u8,
    pub metadata: Metadata<'a>,
}

impl<'a> Repr<'a> {
    /// Parse a checked view; MD type 2 context borrows from its buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &Packet<&'a T>) -> Result<Self> {
        let buf: &'a [u8] = p.buffer.as_ref();
        let context = &buf[HEADER_LEN..p.header_len()];
        if p.version() != 0 {
            return Err(Error::Malformed);
        }
        let metadata = match p.md_type() {
            MD_TYPE_1 => {
                let c = context
                    .first_chunk::<MD1_CONTEXT_LEN>()
                    .ok_or(Error::Malformed)?;
                if context.len() != MD1_CONTEXT_LEN {
                    return Err(Error::Malformed);
                }
                Metadata::Type1(*c)
            }
            MD_TYPE_2 if md2_valid(context) => Metadata::Type2(context),
            MD_TYPE_2 => return Err(Error::Malformed),
            md_type => Metadata::Unknown { md_type, context },
        };
        Ok(Self {
            oam: p.oam(),
            ttl: p.ttl(),
            next_protocol: p.next_protocol(),
            spi: p.spi(),
            si: p.si(),
            metadata,
        })
    }

    fn context(&self) -> (u8, &[u8]) {
        match &self.metadata {
            Metadata::Type1(c) => (MD_TYPE_1, &c[..]),
            Metadata::Type2(c) => (MD_TYPE_2, c),
            Metadata::Unknown { md_type, context } => (*md_type, context),
        }
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.context().1.len()
    }

    /// Write the header into the first [`Repr::buffer_len`] bytes of `p`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let (md_type, context) = self.context();
        let words = (self.buffer_len() / 4) as u32 & 0x3f;
        let base = u32::from(self.oam) << 29
            | (u32::from(self.ttl) & 0x3f) << 22
            | words << 16
            | (u32::from(md_type) & 0x0f) << 8
            | u32::from(self.next_protocol);
        let b = p.buffer.as_mut();
        b[field::BASE].copy_from_slice(&base.to_be_bytes());
        let path = (self.spi & 0x00ff_ffff) << 8 | u32::from(self.si);
        b[field::SERVICE_PATH].copy_from_slice(&path.to_be_bytes());
        b[HEADER_LEN..HEADER_LEN + context.len()].copy_from_slice(context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// MD type 1, TTL 63, length 6 words, next protocol Ethernet, SPI 0x10,
    /// SI 255, context 1 2 3 4 (RFC 8300 figures 2, 3 and 5).
    const MD1: [u8; 24] = [
        0x0f, 0xc6, 0x01, 0x03, 0x00, 0x00, 0x10, 0xff, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0,
        0, 4,
    ];

    #[test]
    fn md1_fixture() {
        let p = Packet::new_checked(&MD1[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            (r.oam, r.ttl, r.next_protocol, r.spi, r.si),
            (false, 63, 3, 0x10, 255)
        );
        let mut ctx = [0u8; 16];
        for i in 0..4 {
            ctx[i * 4 + 3] = i as u8 + 1;
        }
        assert_eq!(r.metadata, Metadata::Type1(ctx));
        let mut b = [0xffu8; 24];
        r.emit(&mut Packet::new_unchecked(&mut b[..]));
        assert_eq!(b, MD1);
        assert_eq!(Packet::new_checked(&MD1[..23]), Err(Error::Truncated));
    }

    #[test]
    fn md2_fixture() {
        // Length 4 words: base, path, one TLV (class 0x0100, type 7, 3
        // bytes, padded to 4).
        let b = [
            0x0f, 0xc4, 0x02, 0x01, 0, 0, 0x20, 9, 0x01, 0x00, 7, 3, 0xa, 0xb, 0xc, 0,
        ];
        let r = Repr::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap();
        let mut tlv = Vec::new();
        emit_md2_tlv(&mut tlv, 0x0100, 7, &[0xa, 0xb, 0xc]);
        assert_eq!(r.metadata, Metadata::Type2(&tlv));
        let mut bad = b;
        bad[11] = 9; // TLV longer than the header
        assert_eq!(
            Repr::parse(&Packet::new_checked(&bad[..]).unwrap()),
            Err(Error::Malformed)
        );
    }

    proptest! {
        #[test]
        fn round_trip(
            oam in any::<bool>(),
            ttl in 0u8..64,
            next_protocol in any::<u8>(),
            spi in 0u32..=0x00ff_ffff,
            si in any::<u8>(),
            md1 in proptest::option::of(any::<[u8; 16]>()),
            tlvs in proptest::collection::vec((any::<u16>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..12)), 0..4),
        ) {
            let mut raw = Vec::new();
            for (class, ty, data) in &tlvs {
                emit_md2_tlv(&mut raw, *class, *ty, data);
            }
            let metadata = match md1 {
                Some(c) => Metadata::Type1(c),
                None => Metadata::Type2(&raw),
            };
            let r = Repr { oam, ttl, next_protocol, spi, si, metadata };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut b[..]));
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), Ok(r));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = Repr::parse(&p);
                let _ = p.payload();
            }
        }
    }
}

//! GENEVE (RFC 8926): the variable-length tunnel header after the outer UDP
//! header (port 6081), with its list of TLV options.
//!
//! The one idea: the header says its own options length (in 4-byte words),
//! and the options are a chain of `(class, type, length)` TLVs that must
//! fill that length exactly; [`Repr::parse`] accepts a header only if the
//! chain does, so [`Options`] can walk it without further checks.

use super::{read16, read32, write16, Error, Field, Result};

pub mod field {
    use super::Field;
    /// Version (2 bits) and options length (6 bits, 4-byte words).
    pub const VER_OPT_LEN: usize = 0;
    /// O (control packet) and C (critical options present) flags.
    pub const FLAGS: usize = 1;
    pub const PROTOCOL: Field = 2..4;
    /// VNI (24 bits) and a reserved byte.
    pub const VNI: Field = 4..8;
    pub const OPTIONS: usize = 8;
}

/// The fixed part.
pub const HEADER_LEN: usize = field::OPTIONS;
pub const FLAG_OAM: u8 = 0x80;
pub const FLAG_CRITICAL: u8 = 0x40;
pub const UDP_PORT: u16 = 6081;
/// An option's own header: class, type, length.
pub const OPTION_HEADER_LEN: usize = 4;
/// Most option bytes a header can carry (63 words).
pub const MAX_OPTIONS_LEN: usize = 63 * 4;
/// The critical bit of an option type.
pub const OPTION_TYPE_CRITICAL: u8 = 0x80;

/// A view of a GENEVE header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// A view once the fixed part and the options it announces are in the
    /// buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self { buffer };
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN || len < p.header_len() {
            return Err(Error::Truncated);
        }
        Ok(p)
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_OPT_LEN] >> 6
    }

    /// Header length, options included.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + usize::from(self.buffer.as_ref()[field::VER_OPT_LEN] & 0x3f) * 4
    }

    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    pub fn protocol(&self) -> u16 {
        read16(self.buffer.as_ref(), field::PROTOCOL.start)
    }

    pub fn vni(&self) -> u32 {
        read32(self.buffer.as_ref(), field::VNI.start) >> 8
    }

    /// The raw option bytes (after `new_checked`).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// One option TLV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneveOption<'a> {
    pub class: u16,
    /// The type, its high bit the critical flag.
    pub opt_type: u8,
    /// A multiple of 4 bytes, at most 124.
    pub data: &'a [u8],
}

impl GeneveOption<'_> {
    pub fn buffer_len(&self) -> usize {
        OPTION_HEADER_LEN + self.data.len()
    }

    /// Append the option to `out` (`data` is padded to 4 bytes with zeros).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let words = self.data.len().div_ceil(4).min(31);
        out.extend_from_slice(&self.class.to_be_bytes());
        out.push(self.opt_type);
        out.push(words as u8);
        let start = out.len();
        out.extend_from_slice(&self.data[..self.data.len().min(words * 4)]);
        out.resize(start + words * 4, 0);
    }
}

/// The options of a parsed header, in order. Built only over a chain
/// [`Repr::parse`] checked, so it never stops early.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Options<'a> {
    type Item = GeneveOption<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let h = super::header::<OPTION_HEADER_LEN>(self.rest, 0)?;
        let len = OPTION_HEADER_LEN + usize::from(h[3] & 0x1f) * 4;
        let data = self.rest.get(OPTION_HEADER_LEN..len)?;
        let opt = GeneveOption {
            class: read16(h, 0),
            opt_type: h[2],
            data,
        };
        self.rest = &self.rest[len..];
        Some(opt)
    }
}

/// Does `raw` hold a chain of options that fills it exactly?
fn options_valid(raw: &[u8]) -> bool {
    let mut p = 0;
    while p < raw.len() {
        let Some(h) = super::header::<OPTION_HEADER_LEN>(raw, p) else {
            return false;
        };
        p += OPTION_HEADER_LEN + usize::from(h[3] & 0x1f) * 4;
    }
    p == raw.len()
}

/// A GENEVE header, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// O: a control packet.
    pub oam: bool,
    /// C: a critical option is present.
    pub critical: bool,
    /// EtherType of the payload (0x6558 for Ethernet).
    pub protocol: u16,
    /// 24 bits.
    pub vni: u32,
    /// The raw options: a chain of TLVs whose length is a multiple of 4 and
    /// at most [`MAX_OPTIONS_LEN`] (build it with [`GeneveOption::emit`]).
    pub options: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parse a checked view; the options borrow from its buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &Packet<&'a T>) -> Result<Self> {
        let buf: &'a [u8] = p.buffer.as_ref();
        let options = &buf[HEADER_LEN..p.header_len()];
        if p.version() != 0 || !options_valid(options) {
            return Err(Error::Malformed);
        }
        Ok(Self {
            oam: p.flags() & FLAG_OAM != 0,
            critical: p.flags() & FLAG_CRITICAL != 0,
            protocol: p.protocol(),
            vni: p.vni(),
            options,
        })
    }

    /// The options one by one.
    pub fn options(&self) -> Options<'a> {
        Options { rest: self.options }
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Write the header into the first [`Repr::buffer_len`] bytes of `p`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let b = p.buffer.as_mut();
        b[field::VER_OPT_LEN] = (self.options.len() / 4) as u8 & 0x3f;
        b[field::FLAGS] =
            if self.oam { FLAG_OAM } else { 0 } | if self.critical { FLAG_CRITICAL } else { 0 };
        write16(b, field::PROTOCOL.start, self.protocol);
        b[field::VNI].copy_from_slice(&((self.vni & 0x00ff_ffff) << 8).to_be_bytes());
        b[HEADER_LEN..HEADER_LEN + self.options.len()].copy_from_slice(self.options);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Ethernet payload, VNI 0xabcdef, one option of class 0x0102 type 3
    /// with 4 bytes of data (RFC 8926 figures 2 and 3).
    const FIXTURE: [u8; 16] = [
        0x02, 0x00, 0x65, 0x58, 0xab, 0xcd, 0xef, 0x00, 0x01, 0x02, 0x03, 0x01, 0xde, 0xad, 0xbe,
        0xef,
    ];

    #[test]
    fn fixture() {
        let p = Packet::new_checked(&FIXTURE[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            (r.oam, r.critical, r.protocol, r.vni),
            (false, false, 0x6558, 0xab_cdef)
        );
        let opts: Vec<_> = r.options().collect();
        let want = GeneveOption {
            class: 0x0102,
            opt_type: 3,
            data: &[0xde, 0xad, 0xbe, 0xef],
        };
        assert_eq!(opts, vec![want]);
        let mut raw = Vec::new();
        want.emit(&mut raw);
        assert_eq!(raw, &FIXTURE[8..]);
        let mut b = [0xffu8; 16];
        r.emit(&mut Packet::new_unchecked(&mut b[..]));
        assert_eq!(b, FIXTURE);
        assert_eq!(Packet::new_checked(&FIXTURE[..15]), Err(Error::Truncated));
        // An option that claims more than the header has.
        let mut bad = FIXTURE;
        bad[11] = 2;
        assert_eq!(
            Repr::parse(&Packet::new_checked(&bad[..]).unwrap()),
            Err(Error::Malformed)
        );
    }

    fn option() -> impl Strategy<Value = (u16, u8, Vec<u8>)> {
        (
            any::<u16>(),
            any::<u8>(),
            (0usize..=8).prop_flat_map(|w| proptest::collection::vec(any::<u8>(), w * 4)),
        )
    }

    proptest! {
        #[test]
        fn round_trip(
            oam in any::<bool>(),
            critical in any::<bool>(),
            protocol in any::<u16>(),
            vni in 0u32..=0x00ff_ffff,
            opts in proptest::collection::vec(option(), 0..5),
        ) {
            let mut options = Vec::new();
            for (class, opt_type, data) in &opts {
                GeneveOption { class: *class, opt_type: *opt_type, data }.emit(&mut options);
            }
            let r = Repr { oam, critical, protocol, vni, options: &options };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut b[..]));
            let p = Packet::new_checked(&b[..]).unwrap();
            let back = Repr::parse(&p).unwrap();
            prop_assert_eq!(back, r);
            prop_assert_eq!(back.options().count(), opts.len());
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&b[..]) {
                if let Ok(r) = Repr::parse(&p) {
                    let _ = r.options().count();
                }
                let _ = p.payload();
            }
        }
    }
}

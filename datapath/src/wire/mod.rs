//! Packet headers: zero-copy views over bytes, one per header, and the one
//! walker that finds them in a frame.
//!
//! Everything in the datapath that reads or writes a header field goes
//! through this module: flow-key extraction, set-field, push/pop, checksum
//! completion and GSO. Each header module (in the shape of smoltcp's
//! `src/wire`) has
//! * a `field` module of named byte ranges (`ipv4::field::SRC_ADDR`), so
//!   code that writes by offset says *which* field it writes;
//! * a view `Packet<T: AsRef<[u8]>>` (or `Frame`, `Header`): `new_checked`
//!   checks the length once, after which no accessor panics; setters exist
//!   where `T: AsMut<[u8]>`.
//!
//! The one idea: **the length check happens once, in the type.** A view is
//! either built by `new_checked` (which returns [`Error`] on a short or
//! inconsistent buffer) or over a fixed array `&[u8; HEADER_LEN]` taken out
//! of the frame with one bounds check (the hot path, see [`walk`]). In both
//! cases the fixed-field accessors index constant positions of a buffer
//! known to be long enough, so the compiler removes their bounds checks and
//! no accessor can panic on any input.
//!
//! The overlay headers a tunnel push writes ([`vxlan`], [`geneve`],
//! [`gre`], [`nsh`]) also have a `Repr`: the header as a plain value, with
//! `parse` (from a checked view), `buffer_len` and `emit`, so a prebuilt
//! outer header is one `emit` and a received one one `parse`.
//!
//! [`walk`] is the only code that walks a frame's header chain (Ethernet,
//! VLAN tags, LLC/SNAP, MPLS, ARP, IPv4, IPv6 extension headers, TCP, UDP,
//! SCTP, ICMP, ICMPv6 with neighbour discovery). Its limits are
//! [`walk::MAX_VLAN_TAGS`] and [`ipv6::MAX_EXT_HEADERS`], and they hold for
//! every user: a packet whose transport ports were matched can have them
//! rewritten.

// Views over bytes need no unsafe, and this layer reads peer input.
#![forbid(unsafe_code)]

pub mod arp;
pub(crate) mod checksum;
pub mod ethernet;
pub mod geneve;
pub mod gre;
pub mod icmp;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod mpls;
pub mod nd;
pub mod nsh;
pub mod sctp;
pub mod tcp;
#[cfg(test)]
pub(crate) mod testing;
pub mod udp;
pub mod vxlan;
pub mod walk;

/// A field: a byte range inside a header.
pub type Field = core::ops::Range<usize>;
/// Everything from an offset to the end of the header (or buffer).
pub type Rest = core::ops::RangeFrom<usize>;

/// Why a view could not be built over a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer ends before the header does.
    #[error("buffer too short for the header")]
    Truncated,
    /// A length or version field contradicts the header format.
    #[error("header length or version field is invalid")]
    Malformed,
}

/// What `new_checked` and `parse` return.
pub type Result<T> = core::result::Result<T, Error>;

/// Big-endian `u16` at `at`. Callers pass constant offsets inside a length
/// already checked (the view contract), so this never panics.
#[inline(always)]
pub(crate) fn read16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

/// Big-endian `u32` at `at` (same contract as [`read16`]).
#[inline(always)]
pub(crate) fn read32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// Store a big-endian `u16` at `at` (same contract as [`read16`]).
#[inline(always)]
pub(crate) fn write16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Store a big-endian `u32` at `at` (same contract as [`read16`]).
#[inline(always)]
pub(crate) fn write32(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// The `N` bytes of `d` at `off` as a fixed array, or `None` if `d` ends
/// first: the one bounds check per header on the hot path.
#[inline(always)]
pub fn header<const N: usize>(d: &[u8], off: usize) -> Option<&[u8; N]> {
    d.get(off..)?.first_chunk::<N>()
}

/// `off + field` as a range of the frame: where a field of a header that
/// starts at `off` sits.
#[inline(always)]
pub fn at(off: usize, field: Field) -> Field {
    off + field.start..off + field.end
}

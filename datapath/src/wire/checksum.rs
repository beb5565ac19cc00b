//! Internet checksums (RFC 1071) and their incremental update (RFC 1624),
//! plus the CRC32c that SCTP uses.
//!
//! The one idea: the Internet checksum is a ones'-complement *sum*, so a
//! change of some bytes changes the sum by `new - old`, and ones'-complement
//! negation is bitwise NOT. Rewriting a field therefore never requires
//! re-reading the payload: `HC' = ~(~HC + ~m + m')` (RFC 1624, eqn. 3). A
//! partial checksum (virtio-net `NEEDS_CSUM`, Linux `CHECKSUM_PARTIAL`)
//! stores the *uncomplemented* pseudo-header sum instead, and is updated
//! with the same arithmetic minus the two complements.
//!
//! Sums are accumulated in a `u64` over big-endian 32-bit words and folded at
//! the end; the fold of a sum of 32-bit words equals the ones'-complement sum
//! of its 16-bit halves, so this is the RFC 1071 sum, twice as fast.

/// Add `data` to a running ones'-complement sum. `data` must start at an
/// even offset of the checksummed region; an odd final byte is padded with a
/// zero byte, as the checksum definition says.
#[inline]
pub(crate) fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc + u64::from(u32::from_be_bytes(tail))
}

/// Fold a running sum to 16 bits (the ones'-complement sum, not inverted).
#[inline]
pub(crate) fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for a running sum: the inverted fold.
#[inline]
pub(crate) fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// The sum of the IPv4 pseudo-header for an L4 segment of `l4_len` bytes.
#[inline]
pub(crate) fn pseudo_v4(src: &[u8], dst: &[u8], proto: u8, l4_len: usize) -> u64 {
    let acc = sum(sum(0, src), dst);
    acc + u64::from(proto) + (l4_len as u64 & 0xffff_ffff)
}

/// The sum of the IPv6 pseudo-header for an upper-layer packet of `l4_len`
/// bytes.
#[inline]
pub(crate) fn pseudo_v6(src: &[u8], dst: &[u8], next_header: u8, l4_len: usize) -> u64 {
    let acc = sum(sum(0, src), dst);
    let len = l4_len as u64 & 0xffff_ffff;
    acc + (len >> 16) + (len & 0xffff) + u64::from(next_header)
}

/// The ones'-complement difference `new - old` of two equally long,
/// equally aligned byte strings, ready to be added to a running sum.
#[cfg(test)]
pub(crate) fn delta(old: &[u8], new: &[u8]) -> u64 {
    u64::from(!fold(sum(0, old))) + sum(0, new)
}

/// RFC 1624 update of a complemented checksum field by a sum `delta`.
#[inline]
pub(crate) fn update(check: u16, delta: u64) -> u16 {
    !fold(u64::from(!check) + delta)
}

/// Update of an *uncomplemented* pseudo-header sum (a partial checksum).
#[inline]
pub(crate) fn update_partial(partial: u16, delta: u64) -> u16 {
    fold(u64::from(partial) + delta)
}

/// Read a big-endian `u16` at `off` (the caller checked the bounds).
#[inline]
pub(crate) fn get16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off + 2) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

/// Write a big-endian `u16` at `off`; out of bounds writes nothing.
#[inline]
pub(crate) fn put16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Read a big-endian `u32` at `off` (0 when out of bounds).
#[inline]
pub(crate) fn get32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// CRC32c (Castagnoli), reflected polynomial.
const CRC32C_POLY: u32 = 0x82f6_3b78;

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C_TABLE: [u32; 256] = crc32c_table();

/// CRC32c of `data` (initial value and final XOR all ones), as SCTP uses it.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC32C_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Recompute the SCTP checksum of the SCTP packet `sctp` in place (the
/// field is at offset 8, stored least significant byte first).
pub(crate) fn sctp_recompute(sctp: &mut [u8]) {
    let Some(field) = sctp.get_mut(8..12) else {
        return;
    };
    field.fill(0);
    let crc = crc32c(sctp);
    sctp[8..12].copy_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: 0001 f203 f4f5 f6f7 sums to ddf2.
        let b = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &b)), 0xddf2);
        // Odd length pads with a zero byte.
        assert_eq!(fold(sum(0, &[0xab])), 0xab00);
        assert_eq!(fold(sum(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    #[test]
    fn incremental_equals_full() {
        let mut data: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
        let check = finish(sum(0, &data));
        let old = data[10..14].to_vec();
        data[10..14].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let new = update(check, delta(&old, &data[10..14]));
        assert_eq!(fold(sum(0, &data) + u64::from(new)), 0xffff);
    }
}

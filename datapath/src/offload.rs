//! Offload completion: doing in software what a port cannot do in hardware.
//!
//! Packets from ports that speak the virtio-net header (vhost-user guests,
//! AF_PACKET with `PACKET_VNET_HDR`, tap) may arrive with work left undone
//! by their sender, recorded in [`Offload`](crate::packet::Offload):
//!
//! * a **partial checksum** (virtio `NEEDS_CSUM`, Linux `CHECKSUM_PARTIAL`):
//!   the L4 checksum field at `csum_start + csum_offset` holds only the
//!   folded, *uncomplemented* pseudo-header sum, and whoever sends the packet
//!   must sum everything from `csum_start` to the end of the datagram
//!   (that field included), complement it and store it;
//! * a **GSO request**: the packet is up to 64 KiB of TCP (or UDP) payload
//!   behind one set of headers, to be cut into `gso.size`-byte segments.
//!
//! The one idea: offloads are completed *as late as possible*, at the
//! output port, and only when that port cannot take them ([`PortCaps`]). A
//! guest-to-guest TCP stream between two vhost-user ports never has its
//! checksums computed or its 64 KiB frames cut; the same stream leaving
//! through an AF_XDP port is segmented and checksummed on the way out.
//! [`prepare_for_port`] is the one call the transmit path makes; it passes
//! the common packet (no offload state) straight through.
//!
//! Set-field actions keep partial checksums consistent (they update the
//! pseudo-header sum, see [`crate::exec`]), and pushes/pops shift the
//! offsets, so completion here is correct after any action list.

mod gso;

pub use gso::{segment, MAX_SEGMENTS};

use crate::exec::csum;
use crate::netdev::PortCaps;
use crate::packet::{GsoKind, Packet, PacketPool};
use crate::wire::walk;

/// Why an offload could not be completed. The packet is dropped and the
/// caller counts it (`tx_dropped`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffloadError {
    /// The partial checksum's start or field lies outside the frame (or
    /// the field is not 16-bit aligned relative to the start).
    #[error("partial checksum start {start} offset {offset} does not fit a {len}-byte frame")]
    BadCsumOffsets { start: u16, offset: u16, len: usize },
    /// `segment` was called on a packet without a GSO request.
    #[error("packet has no GSO request")]
    NotGso,
    /// The headers are not those the GSO kind says, or are malformed.
    #[error("cannot segment {kind:?} packet: {reason}")]
    BadGsoHeaders { kind: GsoKind, reason: &'static str },
    /// The segment size is zero, or no payload fits the MTU.
    #[error("segment size {size} unusable with MTU {mtu}")]
    BadSegmentSize { size: u16, mtu: usize },
    /// Segmenting would produce more than [`MAX_SEGMENTS`] packets.
    #[error("{0} segments exceed the limit")]
    TooManySegments(usize),
}

/// Complete a partial checksum in place (no-op without one).
///
/// Sums the bytes from `csum_start` to the end of the IP datagram (the end
/// of the frame when there is no recognisable IP header; Ethernet padding
/// is never summed), the pseudo-header sum already in the field included,
/// and stores the complement; a result of zero is stored as `0xffff`, as
/// Linux does, which keeps UDP's "no checksum" meaning out of reach. The
/// flag is cleared in every case; invalid offsets are an error.
pub fn complete_csum(packet: &mut Packet) -> Result<(), OffloadError> {
    let Some(p) = packet.offload.csum_partial.take() else {
        return Ok(());
    };
    let len = packet.len();
    let start = usize::from(p.start);
    let field = start + usize::from(p.offset);
    let bad = OffloadError::BadCsumOffsets {
        start: p.start,
        offset: p.offset,
        len,
    };
    if field + 2 > len || p.offset % 2 != 0 {
        return Err(bad);
    }
    let layout = walk::headers(packet.data());
    let end = if layout.is_ip() && layout.l3_end >= field + 2 && layout.l3() <= start {
        layout.l3_end
    } else {
        len
    };
    let data = packet.data_mut();
    let c = csum::finish(csum::sum(0, &data[start..end]));
    csum::put16(data, field, if c == 0 { 0xffff } else { c });
    Ok(())
}

/// Make `packet` sendable on a port with capabilities `caps`, appending the
/// packet(s) to send to `out` and returning how many were appended.
///
/// * No offload state: the packet is appended untouched (the hot path: one
///   branch).
/// * A TCP GSO request on a port with [`PortCaps::tx_tso`]: appended
///   untouched (the port segments and checksums).
/// * Any other GSO request: segmented in software with buffers from `pool`
///   (segments carry complete checksums and no offload state); the
///   original buffer goes back to `pool`. UDP segmentation is always done
///   here, since no port advertises it. `caps.mtu` is the port's L3 MTU
///   (the IP packet size, as `ip link` shows it); segments are cut smaller
///   than `gso.size` if that MTU demands it, and 0 means "no limit".
/// * A partial checksum on a port without [`PortCaps::tx_csum_partial`]:
///   completed in place, then appended.
///
/// On error nothing is appended, the packet goes back to `pool`, and the
/// caller counts a transmit drop.
pub fn prepare_for_port(
    mut packet: Packet,
    caps: PortCaps,
    out: &mut Vec<Packet>,
    pool: &mut PacketPool,
) -> Result<usize, OffloadError> {
    let offload = packet.offload;
    if offload.gso.is_none() && offload.csum_partial.is_none() {
        out.push(packet);
        return Ok(1);
    }
    if let Some(g) = offload.gso {
        let tcp = matches!(g.kind, GsoKind::TcpV4 | GsoKind::TcpV6);
        if tcp && caps.tx_tso {
            out.push(packet);
            return Ok(1);
        }
        let result = segment(&packet, caps.mtu as usize, out, &mut || pool.get());
        pool.put(packet);
        return result;
    }
    if !caps.tx_csum_partial {
        if let Err(e) = complete_csum(&mut packet) {
            pool.put(packet);
            return Err(e);
        }
    }
    out.push(packet);
    Ok(1)
}

#[cfg(test)]
mod tests;

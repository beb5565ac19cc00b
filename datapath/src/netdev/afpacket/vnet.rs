//! The virtio-net header: how offload state crosses the kernel boundary.
//!
//! Linux hands a packet's offload state to userspace, and takes it back, in
//! the 10-byte `struct virtio_net_hdr` that virtio-net devices use: AF_PACKET
//! sockets with `PACKET_VNET_HDR`, tap devices with `IFF_VNET_HDR` and
//! vhost-user guests all put it in front of the frame. This module is the one
//! place that translates it to and from the datapath's [`Offload`].
//!
//! The one idea: the header describes the frame *as it sits next to it*.
//! `csum_start` and `hdr_len` count from the first byte of the Ethernet
//! header the header precedes. When a port edits the frame before the
//! datapath sees it (AF_PACKET re-inserts a VLAN tag the kernel stripped into
//! metadata), the offsets move with the bytes: see [`shift_offload`].
//!
//! Byte order: the legacy (pre-virtio-1.0) header is in the host's native
//! order, which is what AF_PACKET and tap use; virtio 1.0 fixes it to little
//! endian. Every host this switch runs on (x86_64, aarch64) is little endian,
//! so one little-endian codec serves all three users.

use crate::packet::{CsumPartial, Gso, GsoKind, Offload};

/// Size of `struct virtio_net_hdr` (without `num_buffers`).
pub const VNET_HDR_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the L4 checksum is partial.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was verified (ignored here:
/// the datapath never verifies checksums, so it has no use for it; a
/// vhost-user port may set it towards a guest).
pub const F_DATA_VALID: u8 = 2;

/// `VIRTIO_NET_HDR_GSO_*` values.
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
/// UDP fragmentation offload (UFO): obsolete, refused.
pub const GSO_UDP: u8 = 3;
pub const GSO_TCPV6: u8 = 4;
/// UDP segmentation offload (USO, `SKB_GSO_UDP_L4`).
pub const GSO_UDP_L4: u8 = 5;
/// ECN bit or-ed into `gso_type` for TCP segments that carry CWR.
pub const GSO_ECN: u8 = 0x80;

// Field offsets inside the header.
const FLAGS: usize = 0;
const GSO_TYPE: usize = 1;
const HDR_LEN: usize = 2;
const GSO_SIZE: usize = 4;
const CSUM_START: usize = 6;
const CSUM_OFFSET: usize = 8;

/// A header the datapath cannot represent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VnetError {
    #[error("virtio-net header too short ({0} bytes)")]
    Truncated(usize),
    #[error("unsupported GSO type {0:#04x}")]
    GsoType(u8),
    #[error("GSO packet with a zero segment size")]
    ZeroGsoSize,
}

/// Decode a virtio-net header into offload state.
///
/// `NEEDS_CSUM` becomes `csum_partial`; TCPv4, TCPv6 and UDP-L4 GSO become
/// `gso` (the ECN bit is dropped: the datapath's segmentation does not
/// special-case CWR). `DATA_VALID` and any unknown flag bits are ignored.
/// UFO and unknown GSO types are errors: the caller drops the packet.
pub fn decode(hdr: &[u8]) -> Result<Offload, VnetError> {
    if hdr.len() < VNET_HDR_LEN {
        return Err(VnetError::Truncated(hdr.len()));
    }
    let le16 = |at: usize| u16::from_le_bytes([hdr[at], hdr[at + 1]]);
    let mut offload = Offload::default();
    if hdr[FLAGS] & F_NEEDS_CSUM != 0 {
        offload.csum_partial = Some(CsumPartial {
            start: le16(CSUM_START),
            offset: le16(CSUM_OFFSET),
        });
    }
    let kind = match hdr[GSO_TYPE] & !GSO_ECN {
        GSO_NONE => None,
        GSO_TCPV4 => Some(GsoKind::TcpV4),
        GSO_TCPV6 => Some(GsoKind::TcpV6),
        GSO_UDP_L4 => Some(GsoKind::Udp),
        // UFO asks for IP fragmentation, which the datapath does not do.
        GSO_UDP => return Err(VnetError::GsoType(GSO_UDP)),
        other => return Err(VnetError::GsoType(other)),
    };
    if let Some(kind) = kind {
        let size = le16(GSO_SIZE);
        if size == 0 {
            return Err(VnetError::ZeroGsoSize);
        }
        offload.gso = Some(Gso {
            kind,
            size,
            hdr_len: le16(HDR_LEN),
        });
    }
    Ok(offload)
}

/// Encode offload state into a virtio-net header (a packet without offload
/// state gets an all-zero header, which every consumer accepts).
pub fn encode(offload: &Offload) -> [u8; VNET_HDR_LEN] {
    let mut hdr = [0u8; VNET_HDR_LEN];
    let mut put16 = |at: usize, v: u16| hdr[at..at + 2].copy_from_slice(&v.to_le_bytes());
    if let Some(c) = offload.csum_partial {
        put16(CSUM_START, c.start);
        put16(CSUM_OFFSET, c.offset);
    }
    if let Some(g) = offload.gso {
        put16(GSO_SIZE, g.size);
        put16(HDR_LEN, g.hdr_len);
    }
    if offload.csum_partial.is_some() {
        hdr[FLAGS] = F_NEEDS_CSUM;
    }
    if let Some(g) = offload.gso {
        hdr[GSO_TYPE] = match g.kind {
            GsoKind::TcpV4 => GSO_TCPV4,
            GsoKind::TcpV6 => GSO_TCPV6,
            GsoKind::Udp => GSO_UDP_L4,
        };
    }
    hdr
}

/// Move every frame offset in `offload` by `delta` bytes, for a port that
/// inserted (`delta > 0`) bytes into the frame in front of the L3 header
/// after the kernel wrote the virtio-net header. Offsets that would leave
/// the `u16` range saturate: such a packet is malformed anyway, and whoever
/// completes the offload bounds-checks offsets against the frame.
pub fn shift_offload(offload: &mut Offload, delta: u16) {
    if let Some(c) = offload.csum_partial.as_mut() {
        c.start = c.start.saturating_add(delta);
    }
    if let Some(g) = offload.gso.as_mut() {
        if g.hdr_len != 0 {
            g.hdr_len = g.hdr_len.saturating_add(delta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_header_is_no_offload() {
        assert_eq!(decode(&[0; 10]), Ok(Offload::default()));
        assert_eq!(encode(&Offload::default()), [0; 10]);
    }

    #[test]
    fn tso_round_trips() {
        let o = Offload {
            csum_partial: Some(CsumPartial {
                start: 34,
                offset: 16,
            }),
            gso: Some(Gso {
                kind: GsoKind::TcpV4,
                size: 1448,
                hdr_len: 66,
            }),
        };
        let h = encode(&o);
        assert_eq!(h, [1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0]);
        assert_eq!(decode(&h), Ok(o));
        for kind in [GsoKind::TcpV6, GsoKind::Udp] {
            let mut o = o;
            o.gso.as_mut().unwrap().kind = kind;
            assert_eq!(decode(&encode(&o)), Ok(o));
        }
    }

    #[test]
    fn data_valid_and_ecn_are_ignored() {
        let h = [
            F_DATA_VALID,
            GSO_TCPV6 | GSO_ECN,
            74,
            0,
            0xa0,
            0x05,
            0,
            0,
            0,
            0,
        ];
        let o = decode(&h).unwrap();
        assert_eq!(o.csum_partial, None);
        assert_eq!(
            o.gso.map(|g| (g.kind, g.size)),
            Some((GsoKind::TcpV6, 1440))
        );
    }

    #[test]
    fn bad_headers_are_errors() {
        assert_eq!(decode(&[0; 9]), Err(VnetError::Truncated(9)));
        let mut h = [0u8; 10];
        h[GSO_TYPE] = GSO_UDP;
        h[GSO_SIZE] = 1;
        assert_eq!(decode(&h), Err(VnetError::GsoType(GSO_UDP)));
        h[GSO_TYPE] = 0x42;
        assert_eq!(decode(&h), Err(VnetError::GsoType(0x42)));
        h[GSO_TYPE] = GSO_TCPV4;
        h[GSO_SIZE] = 0;
        assert_eq!(decode(&h), Err(VnetError::ZeroGsoSize));
    }

    #[test]
    fn shift_moves_frame_offsets_only() {
        let mut o = Offload {
            csum_partial: Some(CsumPartial {
                start: 34,
                offset: 16,
            }),
            gso: Some(Gso {
                kind: GsoKind::TcpV4,
                size: 1448,
                hdr_len: 66,
            }),
        };
        shift_offload(&mut o, 4);
        assert_eq!(
            o.csum_partial.unwrap(),
            CsumPartial {
                start: 38,
                offset: 16
            }
        );
        assert_eq!(o.gso.unwrap().hdr_len, 70);
        assert_eq!(o.gso.unwrap().size, 1448);
    }
}

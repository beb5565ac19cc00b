//! Software GSO: cutting one oversized TCP or UDP packet into wire-sized
//! ones.
//!
//! Every segment is a copy of the headers (Ethernet, VLAN tags, MPLS
//! labels, IPv4 or IPv6 with extension headers, TCP or UDP) followed by the
//! next `mss` bytes of payload. Then the few fields that differ per segment
//! are rewritten: the IPv4 total length, identification (+1 per segment)
//! and header checksum, or the IPv6 payload length; for TCP the sequence
//! number (+mss per segment), the flags (FIN and PSH only on the last
//! segment, CWR only on the first) and a full checksum; for UDP (Linux
//! `UDP_SEGMENT` semantics: each segment is a datagram of its own) the
//! length and a full checksum.
//!
//! The one idea: the headers are parsed and validated *before* the first
//! buffer is taken, so segmentation either produces every segment or none,
//! and nothing in the per-segment loop can fail.

use super::OffloadError;
use crate::exec::csum;
use crate::exec::layout::Layout;
use crate::flow::key::{ETH_TYPE_IPV4, ETH_TYPE_IPV6, ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST};
use crate::packet::{GsoKind, Offload, Packet};

/// The most segments one packet may be cut into (a peer controls the
/// segment size; this bounds the buffers one packet can take).
pub const MAX_SEGMENTS: usize = 1024;

/// The most MPLS labels skipped to find the IP header.
const MAX_MPLS: usize = 8;

/// Where the headers of a GSO packet are.
#[derive(Clone, Copy, Debug)]
struct Headers {
    l3: usize,
    v6: bool,
    l4: usize,
    /// End of all headers: payload starts here.
    hdr_len: usize,
    tcp: bool,
}

fn bad(kind: GsoKind, reason: &'static str) -> OffloadError {
    OffloadError::BadGsoHeaders { kind, reason }
}

/// Find and check the headers. IP length fields are not trusted (they are
/// rewritten per segment, and a >64 KiB packet cannot express its length).
fn headers(data: &[u8], kind: GsoKind) -> Result<Headers, OffloadError> {
    let layout = Layout::parse(data);
    let mut l3 = layout.l3;
    if matches!(layout.eth_type, ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST) {
        // Skip the label stack to the bottom entry; the payload type is
        // then told by the IP version nibble.
        let mut n = 0;
        loop {
            let lse = data
                .get(l3..l3 + 4)
                .ok_or(bad(kind, "truncated MPLS stack"))?;
            l3 += 4;
            n += 1;
            if lse[2] & 1 != 0 {
                break;
            }
            if n >= MAX_MPLS {
                return Err(bad(kind, "MPLS stack too deep"));
            }
        }
    } else if !matches!(layout.eth_type, ETH_TYPE_IPV4 | ETH_TYPE_IPV6) {
        return Err(bad(kind, "not IP"));
    }
    let first = *data.get(l3).ok_or(bad(kind, "no IP header"))?;
    let (v6, l4, proto) = match first >> 4 {
        4 => {
            let ip = data.get(l3..l3 + 20).ok_or(bad(kind, "truncated IPv4"))?;
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if ihl < 20 || l3 + ihl > data.len() {
                return Err(bad(kind, "bad IPv4 header length"));
            }
            if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
                return Err(bad(kind, "IPv4 fragment"));
            }
            (false, l3 + ihl, ip[9])
        }
        6 => {
            let ip = data.get(l3..l3 + 40).ok_or(bad(kind, "truncated IPv6"))?;
            let mut nh = ip[6];
            let mut off = l3 + 40;
            // Hop-by-hop, routing and destination options may precede L4.
            for _ in 0..8 {
                if !matches!(nh, 0 | 43 | 60) {
                    break;
                }
                let h = data
                    .get(off..off + 2)
                    .ok_or(bad(kind, "truncated extension"))?;
                nh = h[0];
                off += (usize::from(h[1]) + 1) * 8;
            }
            (true, off, nh)
        }
        _ => return Err(bad(kind, "unknown IP version")),
    };
    match (kind, v6) {
        (GsoKind::TcpV4, true) | (GsoKind::TcpV6, false) => {
            return Err(bad(kind, "IP version does not match"))
        }
        _ => {}
    }
    let tcp = kind != GsoKind::Udp;
    let hdr_len = if tcp {
        if proto != 6 {
            return Err(bad(kind, "not TCP"));
        }
        let th = data.get(l4..l4 + 20).ok_or(bad(kind, "truncated TCP"))?;
        let hlen = usize::from(th[12] >> 4) * 4;
        if hlen < 20 {
            return Err(bad(kind, "bad TCP data offset"));
        }
        l4 + hlen
    } else {
        if proto != 17 {
            return Err(bad(kind, "not UDP"));
        }
        l4 + 8
    };
    if hdr_len > data.len() {
        return Err(bad(kind, "headers longer than the frame"));
    }
    Ok(Headers {
        l3,
        v6,
        l4,
        hdr_len,
        tcp,
    })
}

/// Segment a packet carrying a GSO request into `out` (appended), taking
/// buffers from `alloc`; returns the number of segments. Segments carry
/// `gso.size` bytes of payload (fewer if `mtu`, the L3 MTU, is smaller than
/// the headers plus that; 0 = no MTU limit), complete checksums and no
/// offload state; the metadata (in_port, mark, recirc_id) is copied. On
/// error nothing is appended and no buffer is taken.
pub fn segment(
    packet: &Packet,
    mtu: usize,
    out: &mut Vec<Packet>,
    alloc: &mut dyn FnMut() -> Packet,
) -> Result<usize, OffloadError> {
    let gso = packet.offload.gso.ok_or(OffloadError::NotGso)?;
    let data = packet.data();
    let h = headers(data, gso.kind)?;
    let l3_hdrs = h.hdr_len - h.l3;
    let mut mss = usize::from(gso.size);
    if mtu > 0 {
        mss = mss.min(mtu.saturating_sub(l3_hdrs));
    }
    // The IPv4 total length must fit 16 bits.
    mss = mss.min(0xffff - l3_hdrs.min(0xffff));
    if mss == 0 {
        return Err(OffloadError::BadSegmentSize {
            size: gso.size,
            mtu,
        });
    }
    let payload = &data[h.hdr_len..];
    let count = payload.len().div_ceil(mss).max(1);
    if count > MAX_SEGMENTS {
        return Err(OffloadError::TooManySegments(count));
    }
    let ip_id = csum::get16(data, h.l3 + 4);
    let seq = csum::get32(data, h.l4 + 4);
    out.reserve(count);
    for i in 0..count {
        let chunk = payload
            .get(i * mss..((i + 1) * mss).min(payload.len()))
            .unwrap_or(&[]);
        let mut seg = alloc();
        seg.set_frame(&data[..h.hdr_len]);
        seg.extend_from_slice(chunk);
        seg.in_port = packet.in_port;
        seg.mark = packet.mark;
        seg.recirc_id = packet.recirc_id;
        seg.offload = Offload::default();
        fix_segment(seg.data_mut(), &h, i, count, mss, ip_id, seq);
        out.push(seg);
    }
    Ok(count)
}

/// Rewrite the per-segment fields of segment `i` of `count`.
fn fix_segment(
    d: &mut [u8],
    h: &Headers,
    i: usize,
    count: usize,
    mss: usize,
    ip_id: u16,
    seq: u32,
) {
    let ip_len = d.len() - h.l3;
    let l4_len = d.len() - h.l4;
    let pseudo = if h.v6 {
        csum::put16(d, h.l3 + 4, (ip_len - 40) as u16);
        let nh = if h.tcp { 6 } else { 17 };
        csum::pseudo_v6(
            &d[h.l3 + 8..h.l3 + 24],
            &d[h.l3 + 24..h.l3 + 40],
            nh,
            l4_len,
        )
    } else {
        csum::put16(d, h.l3 + 2, ip_len as u16);
        csum::put16(d, h.l3 + 4, ip_id.wrapping_add(i as u16));
        csum::put16(d, h.l3 + 10, 0);
        let c = csum::finish(csum::sum(0, &d[h.l3..h.l4]));
        csum::put16(d, h.l3 + 10, c);
        let proto = d[h.l3 + 9];
        csum::pseudo_v4(
            &d[h.l3 + 12..h.l3 + 16],
            &d[h.l3 + 16..h.l3 + 20],
            proto,
            l4_len,
        )
    };
    let field = if h.tcp {
        csum::put32(d, h.l4 + 4, seq.wrapping_add((i * mss) as u32));
        let mut flags = d[h.l4 + 13];
        if i + 1 < count {
            flags &= !(0x01 | 0x08); // FIN, PSH
        }
        if i > 0 {
            flags &= !0x80; // CWR
        }
        d[h.l4 + 13] = flags;
        h.l4 + 16
    } else {
        csum::put16(d, h.l4 + 4, l4_len as u16);
        h.l4 + 6
    };
    csum::put16(d, field, 0);
    let c = csum::finish(csum::sum(pseudo, &d[h.l4..]));
    csum::put16(d, field, if c == 0 && !h.tcp { 0xffff } else { c });
}

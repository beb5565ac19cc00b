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
//! The headers are found by the datapath's one walk ([`crate::wire::walk`]),
//! so the IP length fields must describe the packet as sent (a TSO packet
//! is at most 64 KiB, so they can); they are rewritten per segment.
//!
//! The one idea: the headers are parsed and validated *before* the first
//! buffer is taken, so segmentation either produces every segment or none,
//! and nothing in the per-segment loop can fail.

use super::OffloadError;
use crate::exec::csum;
use crate::flow::key::{IPPROTO_TCP, IPPROTO_UDP};
use crate::packet::{GsoKind, Offload, Packet};
use crate::wire::ethernet::ether_type;
use crate::wire::walk::{self, Net, Transport};
use crate::wire::{ipv4, ipv6, mpls, tcp, udp};

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

/// Find and check the headers with the datapath's one header walk; an
/// MPLS stack is skipped (at most [`MAX_MPLS`] entries) and the IP header
/// after it is told by its version nibble.
fn headers(data: &[u8], kind: GsoKind) -> Result<Headers, OffloadError> {
    let outer = walk::headers(data);
    let h = match outer.eth_type {
        ether_type::MPLS | ether_type::MPLS_MCAST => {
            let l3 = outer
                .layout
                .l3
                .map(usize::from)
                .ok_or(bad(kind, "truncated MPLS stack"))?;
            if (l3 - outer.l2_5()) / mpls::HEADER_LEN > MAX_MPLS {
                return Err(bad(kind, "MPLS stack too deep"));
            }
            walk::walk_ip(data, l3, &mut ())
        }
        ether_type::IPV4 | ether_type::IPV6 => outer,
        _ => return Err(bad(kind, "not IP")),
    };
    let v6 = match h.net {
        Net::Ipv4 => false,
        Net::Ipv6 => true,
        _ => return Err(bad(kind, "no valid IP header")),
    };
    if h.is_fragment() {
        return Err(bad(kind, "IP fragment"));
    }
    match (kind, v6) {
        (GsoKind::TcpV4, true) | (GsoKind::TcpV6, false) => {
            return Err(bad(kind, "IP version does not match"))
        }
        _ => {}
    }
    let tcp = kind != GsoKind::Udp;
    let want = if tcp { Transport::Tcp } else { Transport::Udp };
    if h.transport != want {
        return Err(bad(kind, "no complete TCP or UDP header as the kind says"));
    }
    let hdr_len = h
        .layout
        .l7
        .map(usize::from)
        .ok_or(bad(kind, "headers too long"))?;
    if hdr_len > data.len() {
        return Err(bad(kind, "headers longer than the frame"));
    }
    Ok(Headers {
        l3: h.l3(),
        v6,
        l4: h.l4(),
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
    let ip_id = csum::get16(data, h.l3 + ipv4::field::IDENT.start);
    let seq = csum::get32(data, h.l4 + tcp::field::SEQ_NUM.start);
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
    // `headers` checked that every header lies inside `hdr_len`, and `d`
    // starts with those bytes: the views below are over complete headers.
    let pseudo = if h.v6 {
        let mut ip = ipv6::Packet::new_unchecked(&mut d[h.l3..]);
        ip.set_payload_len((ip_len - ipv6::HEADER_LEN) as u16);
        let nh = if h.tcp { IPPROTO_TCP } else { IPPROTO_UDP };
        csum::pseudo_v6(ip.src_addr(), ip.dst_addr(), nh, l4_len)
    } else {
        let hdr = h.l3..h.l4;
        let mut ip = ipv4::Packet::new_unchecked(&mut d[hdr.clone()]);
        ip.set_total_len(ip_len as u16);
        ip.set_ident(ip_id.wrapping_add(i as u16));
        ip.set_checksum(0);
        let c = csum::finish(csum::sum(0, &d[hdr.clone()]));
        ipv4::Packet::new_unchecked(&mut d[hdr.clone()]).set_checksum(c);
        let ip = ipv4::Packet::new_unchecked(&d[hdr]);
        let (src, dst) = (ip.src_addr().to_be_bytes(), ip.dst_addr().to_be_bytes());
        csum::pseudo_v4(&src, &dst, ip.protocol(), l4_len)
    };
    let c = if h.tcp {
        let mut t = tcp::Packet::new_unchecked(&mut d[h.l4..]);
        t.set_seq_number(seq.wrapping_add((i * mss) as u32));
        let mut flags = t.flags();
        if i + 1 < count {
            flags &= !(tcp::FLAG_FIN | tcp::FLAG_PSH);
        }
        if i > 0 {
            flags &= !tcp::FLAG_CWR;
        }
        t.set_flags(flags);
        t.set_checksum(0);
        csum::finish(csum::sum(pseudo, &d[h.l4..]))
    } else {
        let mut u = udp::Packet::new_unchecked(&mut d[h.l4..]);
        u.set_length(l4_len as u16);
        u.set_checksum(0);
        match csum::finish(csum::sum(pseudo, &d[h.l4..])) {
            udp::CHECKSUM_NONE => !udp::CHECKSUM_NONE,
            c => c,
        }
    };
    let at = if h.tcp {
        tcp::field::CHECKSUM.start
    } else {
        udp::field::CHECKSUM.start
    };
    csum::put16(d, h.l4 + at, c);
}

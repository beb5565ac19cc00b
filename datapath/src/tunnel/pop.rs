//! Decapsulation: validate the outer headers of a packet to a local
//! endpoint, keep what they say as [`TunnelMetadata`](super::TunnelMetadata)
//! and strip them.
//!
//! The one idea: [`parse`] is a pure function of the frame's bytes that
//! either names the inner frame and the metadata or says why not, with the
//! wire layer's views doing every length check; [`pop`] only moves the
//! start of the frame. So the fuzz target exercises exactly the code that
//! reads peer bytes.

use super::{
    TlvMap, TunnelDrop, TunnelKind, TUN_CSUM, TUN_DONT_FRAGMENT, TUN_KEY, TUN_OAM, TUN_PRESENT,
};
use crate::exec::ExecSink;
use crate::flow::key::TUN_MD_BYTES;
use crate::packet::{Offload, Packet};
use crate::wire::ethernet::{self, ether_type};
use crate::wire::Error;
use crate::wire::{checksum as csum, geneve, gre, ip::protocol, ipv4, ipv6, udp, vxlan, walk};
use crate::PortNo;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// What [`parse`] found: where the inner frame is, and the metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decap {
    /// The inner Ethernet frame (Ethernet padding of the outer frame is
    /// excluded).
    pub inner: Range<usize>,
    pub flags: u16,
    pub id: u64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub tos: u8,
    pub ttl: u8,
    pub tp_src: u16,
    pub tp_dst: u16,
    /// The GENEVE options the TLV map named (see [`TlvMap::decode`]).
    pub md_present: u64,
    pub md: [u8; TUN_MD_BYTES],
}

/// GRE bits a receiver must not ignore (RFC 2784 section 2.3: routing,
/// strict source route, recursion control) and the version.
const GRE_UNSUPPORTED: u16 = gre::FLAG_R | 0x0800 | 0x0700 | gre::VERSION_MASK;

fn ip_err(e: Error) -> TunnelDrop {
    match e {
        Error::Truncated => TunnelDrop::Truncated,
        Error::Malformed => TunnelDrop::IpHeader,
    }
}

fn short(_: Error) -> TunnelDrop {
    TunnelDrop::Truncated
}

/// Validate the outer headers of `frame` as a `kind` tunnel packet, with
/// an empty TLV map (every critical GENEVE option is unknown).
pub fn parse(frame: &[u8], kind: TunnelKind) -> Result<Decap, TunnelDrop> {
    parse_with(frame, kind, false, &TlvMap::default())
}

/// [`parse`], with `l4_partial` saying the outer UDP or GRE checksum is
/// still partial (a local stack's `CHECKSUM_PARTIAL`, announced by the
/// receiving port's offload state): its sum is not verified, as Linux
/// does not verify it either, because nothing between that stack and
/// here could have corrupted the packet; and GENEVE options mapped
/// through `tlv`.
pub fn parse_with(
    frame: &[u8],
    kind: TunnelKind,
    l4_partial: bool,
    tlv: &TlvMap,
) -> Result<Decap, TunnelDrop> {
    let want = match kind {
        TunnelKind::Vxlan | TunnelKind::Geneve => protocol::UDP,
        TunnelKind::Gre | TunnelKind::Erspan => protocol::GRE,
    };
    let walked = walk::headers(frame);
    let l3 = walked.l3();
    let rest = frame.get(l3..).ok_or(TunnelDrop::Truncated)?;
    let mut d = Decap {
        inner: 0..0,
        flags: TUN_PRESENT,
        id: 0,
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        tos: 0,
        ttl: 0,
        tp_src: 0,
        tp_dst: 0,
        md_present: 0,
        md: [0; TUN_MD_BYTES],
    };
    let (l4, end, pseudo) = match walked.eth_type {
        ether_type::IPV4 => {
            let ip = ipv4::Packet::new_checked(rest).map_err(ip_err)?;
            if usize::from(ip.total_len()) > rest.len() {
                return Err(TunnelDrop::Truncated);
            }
            if !ip.verify_checksum() {
                return Err(TunnelDrop::Checksum);
            }
            if ip.is_fragment() {
                return Err(TunnelDrop::Fragment);
            }
            if ip.protocol() != want {
                return Err(TunnelDrop::Protocol);
            }
            if ip.flags_frag() & ipv4::DONT_FRAGMENT != 0 {
                d.flags |= TUN_DONT_FRAGMENT;
            }
            d.src = IpAddr::V4(Ipv4Addr::from(ip.src_addr()));
            d.dst = IpAddr::V4(Ipv4Addr::from(ip.dst_addr()));
            d.tos = ip.tos();
            d.ttl = ip.ttl();
            let l4 = l3 + ip.header_len();
            let end = l3 + usize::from(ip.total_len());
            let a = &frame[l3 + ipv4::field::SRC_ADDR.start..l3 + ipv4::field::DST_ADDR.end];
            (l4, end, csum::pseudo_v4(&a[..4], &a[4..], want, end - l4))
        }
        ether_type::IPV6 => {
            let ip = ipv6::Packet::new_checked(rest).map_err(ip_err)?;
            let end = l3 + ipv6::HEADER_LEN + usize::from(ip.payload_len());
            if end > frame.len() {
                return Err(TunnelDrop::Truncated);
            }
            if ip.next_header() != want {
                return Err(TunnelDrop::Protocol);
            }
            let (s, t) = (ip.src_addr(), ip.dst_addr());
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src.copy_from_slice(s);
            dst.copy_from_slice(t);
            d.src = IpAddr::V6(Ipv6Addr::from(src));
            d.dst = IpAddr::V6(Ipv6Addr::from(dst));
            d.tos = ip.traffic_class();
            d.ttl = ip.hop_limit();
            let l4 = l3 + ipv6::HEADER_LEN;
            (l4, end, csum::pseudo_v6(&src, &dst, want, end - l4))
        }
        _ => return Err(TunnelDrop::NotIp),
    };
    let seg = &frame[l4..end];
    let inner_start = match kind {
        // switchd sends ERSPAN (remote mirroring), it does not terminate it.
        TunnelKind::Erspan => return Err(TunnelDrop::PayloadType),
        TunnelKind::Vxlan | TunnelKind::Geneve => {
            let u = udp::Packet::new_checked(seg).map_err(short)?;
            if usize::from(u.length()) != seg.len() {
                return Err(TunnelDrop::Length);
            }
            if u.checksum() != udp::CHECKSUM_NONE {
                if !l4_partial && csum::fold(csum::sum(pseudo, seg)) != 0xffff {
                    return Err(TunnelDrop::Checksum);
                }
                d.flags |= TUN_CSUM;
            }
            d.tp_src = u.src_port();
            d.tp_dst = u.dst_port();
            let after = l4 + udp::HEADER_LEN;
            let payload = u.payload();
            if kind == TunnelKind::Vxlan {
                let v = vxlan::Packet::new_checked(payload).map_err(short)?;
                let r = vxlan::Repr::parse(&v).map_err(|_| TunnelDrop::VxlanFlags)?;
                d.id = u64::from(r.vni);
                d.flags |= TUN_KEY;
                after + vxlan::HEADER_LEN
            } else {
                let g = geneve::Packet::new_checked(payload).map_err(short)?;
                let r = geneve::Repr::parse(&g).map_err(|_| TunnelDrop::GeneveHeader)?;
                if r.protocol != ether_type::TEB {
                    return Err(TunnelDrop::PayloadType);
                }
                tlv.decode(r.options(), &mut d.md_present, &mut d.md)?;
                d.id = u64::from(r.vni);
                d.flags |= TUN_KEY;
                if r.oam {
                    d.flags |= TUN_OAM;
                }
                after + g.header_len()
            }
        }
        TunnelKind::Gre => {
            let g = gre::Packet::new_checked(seg).map_err(short)?;
            if g.flags_ver() & GRE_UNSUPPORTED != 0 {
                return Err(TunnelDrop::GreFlags);
            }
            let r = gre::Repr::parse(&g).map_err(|_| TunnelDrop::GreFlags)?;
            if r.protocol != ether_type::TEB {
                return Err(TunnelDrop::PayloadType);
            }
            if r.checksum.is_some() {
                if !l4_partial && csum::fold(csum::sum(0, seg)) != 0xffff {
                    return Err(TunnelDrop::Checksum);
                }
                d.flags |= TUN_CSUM;
            }
            if let Some(k) = r.key {
                d.id = u64::from(k);
                d.flags |= TUN_KEY;
            }
            l4 + g.header_len()
        }
    };
    if end < inner_start + ethernet::HEADER_LEN {
        return Err(TunnelDrop::Truncated);
    }
    d.inner = inner_start..end;
    Ok(d)
}

/// Decapsulate `packet` in place: on success the frame is the inner
/// Ethernet frame, `packet.tunnel` holds the metadata and only the inner
/// packet's offload state is kept; on error the packet is unchanged.
pub fn pop(packet: &mut Packet, kind: TunnelKind, tlv: &TlvMap) -> Result<(), TunnelDrop> {
    let partial = packet.offload.csum_partial.is_some();
    let d = parse_with(packet.data(), kind, partial, tlv)?;
    let t = &mut packet.tunnel;
    t.flags = d.flags;
    t.id = d.id;
    t.src = d.src;
    t.dst = d.dst;
    t.tos = d.tos;
    t.ttl = d.ttl;
    t.tp_src = d.tp_src;
    t.tp_dst = d.tp_dst;
    t.md_present = d.md_present;
    t.md = d.md;
    packet.truncate(d.inner.end);
    packet.remove_bytes(0, d.inner.start);
    packet.offload = inner_offload(&packet.offload, d.inner.start);
    Ok(())
}

/// What is left of the offload state once the outer `outer_len` bytes are
/// gone: a partial checksum of the outer UDP or GRE header is done with,
/// one of the inner packet (a local stack's VXLAN with checksum offload
/// computes the outer sum and leaves the inner one partial) moves with the
/// inner packet, and so does a segmentation request.
fn inner_offload(o: &Offload, outer_len: usize) -> Offload {
    let Ok(outer) = u16::try_from(outer_len) else {
        return Offload::default();
    };
    let csum_partial = o.csum_partial.filter(|c| c.start >= outer).map(|mut c| {
        c.start -= outer;
        c
    });
    let gso = o
        .gso
        .filter(|g| csum_partial.is_some() && g.hdr_len >= outer)
        .map(|mut g| {
            g.hdr_len -= outer;
            g
        });
    Offload { csum_partial, gso }
}

/// The `TunnelPop` action: decapsulate and recirculate (id 0) as if
/// received on `port`, or count the drop and free the packet.
pub(crate) fn pop_and_recirculate(
    mut packet: Packet,
    kind: TunnelKind,
    tlv: &TlvMap,
    port: PortNo,
    sink: &mut dyn ExecSink,
) {
    match pop(&mut packet, kind, tlv) {
        Ok(()) => {
            packet.in_port = port;
            sink.recirculate(packet, 0);
        }
        Err(r) => {
            sink.tunnel_drop(r);
            sink.free(packet);
        }
    }
}

//! The one walk over a frame's header chain.
//!
//! [`walk`] goes Ethernet -> up to [`MAX_VLAN_TAGS`] VLAN tags -> LLC/SNAP
//! -> MPLS | ARP/RARP | IPv4 | IPv6 (through at most
//! [`ipv6::MAX_EXT_HEADERS`] extension headers) -> TCP | UDP | SCTP | ICMP |
//! ICMPv6 (with the neighbour discovery target and link-layer address
//! options). Flow-key extraction runs it with a [`Visitor`] that copies
//! fields into the key; action execution, checksum completion and GSO run
//! it with `()` and read only the returned [`Headers`]. Because there is
//! one walk, there is one set of limits and one notion of "this header is
//! there": a field a megaflow matched on is a field set-field can write.
//!
//! The one idea to hold while reading: **parse as far as valid, stop at the
//! first header that is not.** Each layer returns `Option<()>`; a truncated
//! or malformed header returns `None` through `?` *before* it reports that
//! header to the visitor or records it in [`Headers`], so both end up
//! holding every layer that parsed and nothing after. Every header is read
//! through a view built over a fixed array taken out of the frame with one
//! bounds check ([`super::header`]), so field reads compile to constant
//! indexes and nothing a packet contains can panic here or read outside the
//! frame. The walk never allocates.
//!
//! Edge cases follow Open vSwitch (see `flow::extract` for the list): a
//! third VLAN tag is left as the EtherType, an 802.3 frame takes its type
//! from a zero-OUI SNAP header, nothing past an MPLS stack is parsed,
//! Ethernet padding past the IP length is never L4, a later fragment has
//! no L4, and a malformed ND option list drops the ND fields.

use super::ethernet::{ether_type, snap, vlan};
use super::ip::protocol;
use super::{arp, ethernet, header, icmp, ipv4, ipv6, mpls, nd, sctp, tcp, udp};

/// Most VLAN tags walked (outer + inner, as 802.1ad). One limit for every
/// walk in the datapath.
pub const MAX_VLAN_TAGS: usize = 2;
/// Only this many leading bytes of a frame are parsed, so that every header
/// offset fits the `u16`s of [`Layout`]. Headers always sit near the start;
/// only a 64 KiB GSO frame is longer, and its headers are the same.
pub const MAX_PARSED_LEN: usize = u16::MAX as usize;
/// `eth_type` of an 802.3 frame that has no LLC/SNAP header naming a type
/// (Open vSwitch's `FLOW_DL_TYPE_NONE`, OpenFlow's `OFP_DL_TYPE_NOT_ETH_TYPE`).
pub const ETH_TYPE_NONE: u16 = 0x05ff;
/// `nw_frag`: the packet is an IP fragment (first or later).
pub const FRAG_ANY: u8 = 1;
/// `nw_frag`: the packet is a fragment other than the first.
pub const FRAG_LATER: u8 = 2;

/// Where the headers of a parsed frame start, as byte offsets from the start
/// of the frame (the Ethernet destination address).
///
/// An offset is `None` when the walk did not get that far. One that is
/// `Some` says where a header *starts*; whether it is complete is what the
/// rest of [`Headers`] (or the flow key) says (e.g. `l4` is set for any IP
/// payload, the transport only once its header parsed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Layout {
    /// The MPLS label stack (only when `eth_type` is MPLS and the first
    /// label stack entry is complete). VLAN tags need no offset: they always
    /// start at byte 12.
    pub l2_5: Option<u16>,
    /// What follows the L2 headers (after VLAN tags and any LLC/SNAP header;
    /// for MPLS, after the bottom-of-stack entry, and `None` if the frame
    /// ends first). This is the IPv4/IPv6/ARP header when there is one. Set
    /// whenever the 14-byte Ethernet header is complete.
    pub l3: Option<u16>,
    /// The IP payload: after the IPv4 header and its options, or after the
    /// IPv6 extension headers. Set when the IP header is valid, every
    /// extension header was walked, and the packet is not a later fragment.
    pub l4: Option<u16>,
    /// The TCP, UDP or SCTP payload, set once that transport header parsed
    /// (for TCP: after the options the data offset covers).
    pub l7: Option<u16>,
}

/// The network layer found after the L2 headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Net {
    #[default]
    None,
    /// The top label stack entry is complete (at `layout.l2_5`).
    Mpls,
    /// An Ethernet/IPv4 ARP or RARP packet.
    Arp,
    /// A valid IPv4 header (version, IHL and total length agree).
    Ipv4,
    /// A complete fixed IPv6 header with version 6.
    Ipv6,
}

/// The transport header found after the IP headers (complete: its fixed
/// part, and for TCP its options, lie inside the IP datagram).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Transport {
    #[default]
    None,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmpv6,
}

/// Everything one walk learns about where a frame's headers are.
///
/// Invariants (what users may rely on without re-checking): `net` is not
/// `None` only if the header it names is complete at `layout.l2_5` (MPLS)
/// or `layout.l3`; `transport` is not `None` only if `layout.l4` is set and
/// the transport header is complete before `l3_end`; the ND offsets point
/// at complete fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Headers {
    pub layout: Layout,
    /// VLAN tags walked; tag `i` has its TPID at `12 + 4 * i`.
    pub n_vlan: u8,
    /// The type/length field that names the network layer: after the tags,
    /// or inside the SNAP header of an 802.3 frame. The L2 headers end two
    /// bytes later.
    pub eth_type_off: u16,
    /// The EtherType that field holds (the TPID of a third tag, or
    /// [`ETH_TYPE_NONE`] for 802.3 without SNAP).
    pub eth_type: u16,
    pub net: Net,
    /// End of the IP datagram (IPv4 total length, IPv6 payload length, cut
    /// to the frame); the end of the frame when there is no IP header. The
    /// checksummed L4 region is `l4..l3_end`, never Ethernet padding.
    pub l3_end: usize,
    /// [`FRAG_ANY`] / [`FRAG_LATER`] bits.
    pub frag: u8,
    /// An IPv6 routing header with segments left was walked: the L4
    /// pseudo-header uses the final destination, not the IPv6 destination.
    pub ipv6_routing: bool,
    pub transport: Transport,
    /// Neighbour solicitation/advertisement: offsets of the target address
    /// and of the Ethernet source / target link-layer addresses.
    pub nd_target: Option<u16>,
    pub nd_sll: Option<u16>,
    pub nd_tll: Option<u16>,
}

impl Headers {
    /// Start of the network header (or of whatever follows L2).
    #[inline]
    pub fn l3(&self) -> usize {
        self.layout
            .l3
            .map_or(usize::from(self.eth_type_off) + 2, usize::from)
    }

    /// Start of the transport header; meaningful when `transport` is set.
    #[inline]
    pub fn l4(&self) -> usize {
        self.layout.l4.map_or(self.l3_end, usize::from)
    }

    /// The top MPLS label stack entry; meaningful when `net` is MPLS.
    #[inline]
    pub fn l2_5(&self) -> usize {
        self.layout.l2_5.map_or(self.l3(), usize::from)
    }

    /// Offset of the outer VLAN tag's TCI, if there is a tag.
    #[inline]
    pub fn outer_tci(&self) -> Option<usize> {
        (self.n_vlan > 0).then_some(vlan::FIRST_TAG + vlan::field::TCI.start)
    }

    /// Is there an IP header (v4 or v6)?
    #[inline]
    pub fn is_ip(&self) -> bool {
        matches!(self.net, Net::Ipv4 | Net::Ipv6)
    }

    /// Where the L2 headers end: two bytes after the EtherType that names
    /// the network layer (an MPLS push goes here).
    #[inline]
    pub fn l2_end(&self) -> usize {
        usize::from(self.eth_type_off) + 2
    }

    /// Is the packet any IP fragment?
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.frag & FRAG_ANY != 0
    }
}

/// What a walk reports, header by header, to whoever wants the fields
/// (flow-key extraction). Each method is called once the header it is
/// given is known complete and valid; the defaults ignore it.
pub trait Visitor {
    #[inline(always)]
    fn ethernet(&mut self, _eth: &ethernet::Frame<&[u8; ethernet::HEADER_LEN]>) {}
    /// Tag `n` (0 is the outermost).
    #[inline(always)]
    fn vlan(&mut self, _n: usize, _tag: &vlan::Tag<&[u8; vlan::HEADER_LEN]>) {}
    /// The EtherType after tags and SNAP (or [`ETH_TYPE_NONE`]).
    #[inline(always)]
    fn eth_type(&mut self, _ty: u16) {}
    /// The top label stack entry.
    #[inline(always)]
    fn mpls(&mut self, _top: &mpls::Lse<&[u8; mpls::HEADER_LEN]>) {}
    #[inline(always)]
    fn arp(&mut self, _arp: &arp::Packet<&[u8; arp::HEADER_LEN]>) {}
    /// A valid IPv4 header (only the fixed 20 bytes are in the view).
    #[inline(always)]
    fn ipv4(&mut self, _ip: &ipv4::Packet<&[u8; ipv4::HEADER_LEN]>) {}
    #[inline(always)]
    fn ipv6(&mut self, _ip: &ipv6::Packet<&[u8; ipv6::HEADER_LEN]>) {}
    /// The IPv6 protocol moved on to `proto` (after an extension header).
    #[inline(always)]
    fn nw_proto(&mut self, _proto: u8) {}
    /// Fragment state ([`FRAG_ANY`] / [`FRAG_LATER`] bits).
    #[inline(always)]
    fn nw_frag(&mut self, _frag: u8) {}
    /// TCP/UDP/SCTP ports, or ICMP/ICMPv6 type and code.
    #[inline(always)]
    fn ports(&mut self, _src: u16, _dst: u16) {}
    /// The 12 TCP flag bits.
    #[inline(always)]
    fn tcp_flags(&mut self, _flags: u16) {}
    /// A valid NS/NA: its target and link-layer address options.
    #[inline(always)]
    fn nd(&mut self, _target: &[u8; 16], _sll: Option<&[u8; 6]>, _tll: Option<&[u8; 6]>) {}
}

/// The walk without a visitor: only [`Headers`].
impl Visitor for () {}

/// Walk `frame` (starting at the Ethernet header), reporting each valid
/// header to `v`, and return where the headers are.
#[inline(always)]
pub fn walk<V: Visitor>(frame: &[u8], v: &mut V) -> Headers {
    let mut h = Headers {
        l3_end: frame.len(),
        eth_type_off: ethernet::field::ETHERTYPE.start as u16,
        ..Headers::default()
    };
    let full_len = frame.len();
    let d = frame.get(..MAX_PARSED_LEN).unwrap_or(frame);
    // `None` only means "stopped early": `h` holds what parsed.
    let _ = walk_l2(d, full_len, v, &mut h);
    h
}

/// [`walk`] without a visitor.
#[inline]
pub fn headers(frame: &[u8]) -> Headers {
    walk(frame, &mut ())
}

/// Walk from an IP header at `off` in `frame` (IPv4 or IPv6, as its
/// version nibble says), for a payload whose type no L2 header names (what
/// an MPLS stack carries). `layout.l3` is `off`; the L2 facts are zero.
pub fn walk_ip<V: Visitor>(frame: &[u8], off: usize, v: &mut V) -> Headers {
    let mut h = Headers {
        l3_end: frame.len(),
        ..Headers::default()
    };
    let full_len = frame.len();
    let d = frame.get(..MAX_PARSED_LEN).unwrap_or(frame);
    h.layout.l3 = ofs(off);
    let _ = match d.get(off).map(|b| b >> 4) {
        Some(4) => walk_ipv4(d, off, full_len, v, &mut h),
        Some(6) => walk_ipv6(d, off, full_len, v, &mut h),
        _ => None,
    };
    h
}

/// A header offset as stored in [`Layout`]. The frame is cut to
/// [`MAX_PARSED_LEN`] first, so this only fails on offsets past its end.
#[inline(always)]
fn ofs(off: usize) -> Option<u16> {
    u16::try_from(off).ok()
}

/// Ethernet, VLAN tags, LLC/SNAP, then the network layer by EtherType.
#[inline(always)]
fn walk_l2<V: Visitor>(d: &[u8], full_len: usize, v: &mut V, h: &mut Headers) -> Option<()> {
    let eth = ethernet::Frame::new_unchecked(header::<{ ethernet::HEADER_LEN }>(d, 0)?);
    v.ethernet(&eth);
    let mut ty = eth.ethertype();
    // `off` is where the current type/length field sits.
    let mut off = ethernet::field::ETHERTYPE.start;

    // A tag whose TCI or following type is cut off is not walked, and the
    // EtherType is its TPID.
    for n in 0..MAX_VLAN_TAGS {
        if ty != ether_type::VLAN && ty != ether_type::QINQ {
            break;
        }
        let Some(tag) = header::<{ vlan::HEADER_LEN }>(d, off) else {
            break;
        };
        let tag = vlan::Tag::new_unchecked(tag);
        v.vlan(n, &tag);
        h.n_vlan += 1;
        ty = tag.next_type();
        off += vlan::TAG_LEN;
    }

    if ty < ether_type::MIN {
        // 802.3 length: the type, if any, is in a SNAP header.
        ty = ETH_TYPE_NONE;
        if let Some(snap_ty) = header::<{ snap::HEADER_LEN }>(d, off + 2).and_then(snap::ethertype)
        {
            ty = snap_ty;
            off += 2 + snap::field::ETHERTYPE.start;
        }
    }
    h.eth_type_off = off as u16;
    h.eth_type = ty;
    v.eth_type(ty);
    let off = off + 2;

    match ty {
        ether_type::IPV4 => {
            h.layout.l3 = ofs(off);
            walk_ipv4(d, off, full_len, v, h)
        }
        ether_type::IPV6 => {
            h.layout.l3 = ofs(off);
            walk_ipv6(d, off, full_len, v, h)
        }
        ether_type::ARP | ether_type::RARP => {
            h.layout.l3 = ofs(off);
            walk_arp(d, off, v, h)
        }
        ether_type::MPLS | ether_type::MPLS_MCAST => walk_mpls(d, off, v, h),
        _ => {
            h.layout.l3 = ofs(off);
            Some(())
        }
    }
}

/// MPLS: the top label stack entry, and where the stack ends (for `l3`).
/// Nothing beyond the stack is parsed: what it carries is not described.
#[inline(always)]
fn walk_mpls<V: Visitor>(d: &[u8], off: usize, v: &mut V, h: &mut Headers) -> Option<()> {
    let top = mpls::Lse::new_unchecked(header::<{ mpls::HEADER_LEN }>(d, off)?);
    v.mpls(&top);
    h.layout.l2_5 = ofs(off);
    h.net = Net::Mpls;
    // Walk to the bottom-of-stack bit; bounded by the frame (4 bytes a step).
    let mut p = off;
    loop {
        let lse = mpls::Lse::new_unchecked(header::<{ mpls::HEADER_LEN }>(d, p)?);
        p += mpls::HEADER_LEN;
        if lse.bottom_of_stack() {
            h.layout.l3 = ofs(p);
            return Some(());
        }
    }
}

/// ARP and RARP for Ethernet hardware and IPv4 protocol addresses.
#[inline(always)]
fn walk_arp<V: Visitor>(d: &[u8], off: usize, v: &mut V, h: &mut Headers) -> Option<()> {
    let arp = arp::Packet::new_unchecked(header::<{ arp::HEADER_LEN }>(d, off)?);
    if !arp.is_ethernet_ipv4() {
        return None;
    }
    v.arp(&arp);
    h.net = Net::Arp;
    Some(())
}

/// IPv4: the header, fragment state, then L4 unless this is a later
/// fragment.
#[inline(always)]
fn walk_ipv4<V: Visitor>(
    d: &[u8],
    off: usize,
    full_len: usize,
    v: &mut V,
    h: &mut Headers,
) -> Option<()> {
    let ip = ipv4::Packet::new_unchecked(header::<{ ipv4::HEADER_LEN }>(d, off)?);
    let hlen = ip.header_len();
    if !ip.is_valid_fixed() || d.len() < off + hlen {
        return None;
    }
    v.ipv4(&ip);
    h.net = Net::Ipv4;
    let end = off + usize::from(ip.total_len());
    h.l3_end = end.min(full_len);

    if ip.is_fragment() {
        h.frag = FRAG_ANY;
        if ip.is_later_fragment() {
            h.frag |= FRAG_LATER;
            v.nw_frag(h.frag);
            return Some(());
        }
        v.nw_frag(h.frag);
    }

    let l4 = off + hlen;
    h.layout.l4 = ofs(l4);
    // Bytes past the total length are Ethernet padding, not L4.
    let d = d.get(..end).unwrap_or(d);
    match ip.protocol() {
        protocol::ICMP => {
            let icmp = icmp::Packet::new_unchecked(header::<{ icmp::HEADER_LEN }>(d, l4)?);
            v.ports(u16::from(icmp.msg_type()), u16::from(icmp.msg_code()));
            h.transport = Transport::Icmp;
            Some(())
        }
        proto => walk_transport(d, l4, proto, v, h),
    }
}

/// IPv6: the fixed header, the extension header chain, then L4 unless this
/// is a later fragment.
#[inline(always)]
fn walk_ipv6<V: Visitor>(
    d: &[u8],
    off: usize,
    full_len: usize,
    v: &mut V,
    h: &mut Headers,
) -> Option<()> {
    let ip = ipv6::Packet::new_unchecked(header::<{ ipv6::HEADER_LEN }>(d, off)?);
    if ip.version() != 6 {
        return None;
    }
    v.ipv6(&ip);
    h.net = Net::Ipv6;

    let mut next = ip.next_header();
    let mut p = off + ipv6::HEADER_LEN;
    // Bytes past the payload length are padding. A zero payload length
    // followed by a hop-by-hop header is a jumbogram: it runs to the end.
    let d = if ip.payload_len() == 0 && next == protocol::HOPOPTS {
        d
    } else {
        let end = p + usize::from(ip.payload_len());
        h.l3_end = end.min(full_len);
        d.get(..end).unwrap_or(d)
    };

    let mut walked = 0;
    while ipv6::is_ext_header(next) {
        let ext = ipv6::ExtHeader::new_unchecked(header::<{ ipv6::EXT_HEADER_LEN }>(d, p)?, next);
        let len = ext.header_len();
        if walked == ipv6::MAX_EXT_HEADERS || d.len() < p + len {
            return None;
        }
        walked += 1;
        if ext.segments_left() != 0 {
            h.ipv6_routing = true;
        }
        if next == protocol::FRAGMENT {
            h.frag = FRAG_ANY;
            if ext.is_later_fragment() {
                h.frag |= FRAG_LATER;
                v.nw_frag(h.frag);
                v.nw_proto(ext.next_header());
                return Some(());
            }
            v.nw_frag(h.frag);
        }
        next = ext.next_header();
        v.nw_proto(next);
        p += len;
    }

    h.layout.l4 = ofs(p);
    match next {
        protocol::ICMPV6 => walk_icmpv6(d, p, v, h),
        proto => walk_transport(d, p, proto, v, h),
    }
}

/// TCP, UDP and SCTP, shared by IPv4 and IPv6. `d` ends where the IP
/// payload ends.
#[inline(always)]
fn walk_transport<V: Visitor>(
    d: &[u8],
    off: usize,
    proto: u8,
    v: &mut V,
    h: &mut Headers,
) -> Option<()> {
    match proto {
        protocol::TCP => {
            let tcp = tcp::Packet::new_unchecked(header::<{ tcp::HEADER_LEN }>(d, off)?);
            let hlen = tcp.header_len();
            if hlen < tcp::HEADER_LEN || d.len() < off + hlen {
                return None;
            }
            v.ports(tcp.src_port(), tcp.dst_port());
            v.tcp_flags(tcp.flags());
            h.transport = Transport::Tcp;
            h.layout.l7 = ofs(off + hlen);
        }
        protocol::UDP => {
            let udp = udp::Packet::new_unchecked(header::<{ udp::HEADER_LEN }>(d, off)?);
            v.ports(udp.src_port(), udp.dst_port());
            h.transport = Transport::Udp;
            h.layout.l7 = ofs(off + udp::HEADER_LEN);
        }
        protocol::SCTP => {
            let sctp = sctp::Packet::new_unchecked(header::<{ sctp::HEADER_LEN }>(d, off)?);
            v.ports(sctp.src_port(), sctp.dst_port());
            h.transport = Transport::Sctp;
            h.layout.l7 = ofs(off + sctp::HEADER_LEN);
        }
        _ => {}
    }
    Some(())
}

/// ICMPv6 type and code; for a neighbour solicitation or advertisement
/// also the target and the link-layer address options.
#[inline(always)]
fn walk_icmpv6<V: Visitor>(d: &[u8], off: usize, v: &mut V, h: &mut Headers) -> Option<()> {
    let icmp = icmp::Packet::new_unchecked(header::<{ icmp::HEADER_LEN }>(d, off)?);
    let (ty, code) = (icmp.msg_type(), icmp.msg_code());
    v.ports(u16::from(ty), u16::from(code));
    h.transport = Transport::Icmpv6;
    if !nd::is_ns_na(ty, code) {
        return Some(());
    }
    let msg = d.get(off..)?;
    let opts = nd::link_layer_options(msg)?;
    let target = header::<16>(msg, nd::field::TARGET.start)?;
    let addr =
        |opt: Option<usize>| opt.and_then(|o| header::<6>(msg, o + nd::opt_field::LL_ADDR.start));
    v.nd(target, addr(opts.sll), addr(opts.tll));
    let at = |o: usize| ofs(off + o);
    h.nd_target = at(nd::field::TARGET.start);
    h.nd_sll = opts.sll.and_then(|o| at(o + nd::opt_field::LL_ADDR.start));
    h.nd_tll = opts.tll.and_then(|o| at(o + nd::opt_field::LL_ADDR.start));
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(tags: &[u16], ty: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for &t in tags {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0, 5]);
        }
        f.extend_from_slice(&ty.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    #[test]
    fn short_frames_have_no_headers() {
        for n in 0..20 {
            let h = headers(&vec![0x81; n]);
            assert_eq!(h.net, Net::None);
            assert_eq!(h.l3_end, n);
        }
    }

    #[test]
    fn two_vlans_then_mpls() {
        let f = eth(&[0x88a8, 0x8100], 0x8847, &[0, 0, 0x11, 64]);
        let h = headers(&f);
        assert_eq!((h.n_vlan, h.eth_type_off, h.net), (2, 20, Net::Mpls));
        assert_eq!((h.l2_5(), h.l2_end(), h.layout.l3), (22, 22, Some(26)));
        assert_eq!(h.outer_tci(), Some(14));
    }

    #[test]
    fn ipv4_later_fragment_has_no_l4() {
        let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0x00, 0x10, 64, 6, 0, 0];
        ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        ip.extend_from_slice(&[0; 8]);
        let h = headers(&eth(&[], 0x0800, &ip));
        assert_eq!(h.net, Net::Ipv4);
        assert!(h.is_fragment());
        assert_eq!(h.transport, Transport::None);
        assert_eq!(h.layout.l4, None);
    }

    #[test]
    fn ipv6_through_extension_headers() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 24, 0, 64];
        ip.extend_from_slice(&[0; 32]);
        // Hop-by-hop (8 bytes) -> routing, segments left 1 (8 bytes) -> UDP.
        ip.extend_from_slice(&[43, 0, 0, 0, 0, 0, 0, 0]);
        ip.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 0]);
        ip.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let h = headers(&eth(&[], 0x86dd, &ip));
        assert_eq!(h.net, Net::Ipv6);
        assert_eq!(h.transport, Transport::Udp);
        assert_eq!(h.l4(), 14 + 56);
        assert_eq!(h.l3_end, 14 + 64);
        assert!(h.ipv6_routing);
    }

    /// What users of [`Headers`] rely on without re-checking.
    fn invariants_hold(f: &[u8]) -> Result<(), String> {
        let h = headers(f);
        let len = f.len();
        let l = h.layout;
        let offs = [l.l2_5, l.l3, l.l4, l.l7];
        let mut prev = 0;
        for o in offs.into_iter().flatten().map(usize::from) {
            if o > len || o < prev {
                return Err(format!("offsets {l:?} in a {len}-byte frame"));
            }
            prev = o;
        }
        if h.l3_end > len {
            return Err(format!("l3_end {} past {len}", h.l3_end));
        }
        let need = match h.transport {
            Transport::None => 0,
            Transport::Tcp => tcp::HEADER_LEN,
            Transport::Udp => udp::HEADER_LEN,
            Transport::Sctp => sctp::HEADER_LEN,
            Transport::Icmp | Transport::Icmpv6 => icmp::HEADER_LEN,
        };
        if need > 0 && (l.l4.is_none() || h.l4() + need > h.l3_end) {
            return Err(format!("{:?} not complete: {h:?}", h.transport));
        }
        if h.net == Net::Mpls && h.l2_5() + mpls::HEADER_LEN > len {
            return Err("MPLS entry not complete".into());
        }
        for (o, n) in [(h.nd_target, 16), (h.nd_sll, 6), (h.nd_tll, 6)] {
            if o.is_some_and(|o| usize::from(o) + n > len) {
                return Err(format!("ND field not complete: {h:?}"));
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn headers_are_complete_where_they_say(
            ty in proptest::sample::select(vec![0x0800u16, 0x86dd, 0x0806, 0x8847, 0x8100, 0x0040]),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..120),
        ) {
            let f = eth(&[], ty, &body);
            proptest::prop_assert_eq!(invariants_hold(&f), Ok(()));
        }
    }

    #[test]
    fn ip_after_an_mpls_stack() {
        let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0];
        ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        ip.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let f = eth(&[], 0x8847, &[&[0, 0, 0x11, 64][..], &ip].concat());
        let h = headers(&f);
        let inner = walk_ip(&f, usize::from(h.layout.l3.unwrap()), &mut ());
        assert_eq!(
            (inner.net, inner.transport, inner.l4()),
            (Net::Ipv4, Transport::Udp, 38)
        );
        assert_eq!(walk_ip(&f, 14, &mut ()).net, Net::None);
    }
}

//! Set-field: a masked write of one header field, with every checksum that
//! covers the field kept correct.
//!
//! Each [`Field`] resolves to a *target*: a byte range of the frame (the
//! header's offset from the walk's [`Headers`] plus the field's named range
//! from [`crate::wire`]), the value and mask shifted into their wire
//! position, and the checksums that cover that range. The write itself is
//! the same for every field: `new = value & mask | old & !mask`, byte by
//! byte. The one idea: the checksum work is done from the *difference*
//! between the old and the new bytes, summed where they sit in 16-bit words
//! (RFC 1624), so it costs the same for a 64-byte and a 9000-byte
//! packet, and an unchanged field touches no checksum at all. The one
//! exception is SCTP, whose CRC32c cannot be updated that way and is
//! recomputed over the SCTP packet.
//!
//! A packet whose checksum is partial (offloaded, see
//! [`crate::packet::CsumPartial`]) holds only the pseudo-header sum in its
//! L4 checksum field: an address change updates that sum (uncomplemented),
//! and a change inside the L4 header touches nothing, because the port or
//! [`crate::offload::complete_csum`] sums those bytes later.
//!
//! A field whose header the packet does not have is not written, and
//! nothing is counted: translation only emits a set-field after matching on
//! the header's presence, so this is the packet having been changed under
//! it (a pop) or a malformed header, and OpenFlow says to skip.

use super::csum;
use crate::actions::{Field, FieldValue};
use crate::packet::Packet;
use crate::wire::walk::{Headers, Net, Transport};
use crate::wire::{self, arp, ethernet, icmp, ipv4, ipv6, mpls, nd, sctp, tcp, udp};

/// Which checksums cover a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cover {
    /// No checksum (Ethernet, VLAN, MPLS, ARP, IPv6 header fields other
    /// than the addresses).
    None,
    /// The IPv4 header checksum.
    Ipv4Header,
    /// An IPv4 address: the header checksum and the L4 pseudo-header.
    Ipv4Addr,
    /// An IPv6 source or destination address: the L4 pseudo-header.
    Ipv6Addr { dst: bool },
    /// The transport header's own checksum (or SCTP's CRC).
    L4,
}

/// Where and what to write.
#[derive(Clone, Copy, Debug)]
struct Target {
    off: usize,
    len: usize,
    value: FieldValue,
    mask: FieldValue,
    cover: Cover,
}

/// Does writing `field` possibly change the [`Headers`] of the packet?
pub(crate) fn changes_layout(field: Field) -> bool {
    matches!(
        field,
        Field::EthType | Field::Icmpv6Type | Field::Icmpv6Code
    )
}

/// Write `value` under `mask` into `field` of `packet`. Returns true if the
/// packet has the field (whether or not its bytes changed).
pub(crate) fn set_field(
    packet: &mut Packet,
    layout: &Headers,
    field: Field,
    value: &FieldValue,
    mask: &FieldValue,
) -> bool {
    if field == Field::PktMark {
        let (v, m) = (value.as_u128() as u32, mask.as_u128() as u32);
        packet.mark = (packet.mark & !m) | (v & m);
        return true;
    }
    let Some(t) = target(layout, field, value, mask) else {
        return false;
    };
    if t.off + t.len > packet.len() {
        return false;
    }
    write(packet, layout, &t);
    true
}

/// Raise the drop precedence of an Assured Forwarding DSCP (AFxy, RFC 2597:
/// DSCP = 8x + 2y, x = 1..=4, y = 1..=3) by `levels`, at most to 3. Other
/// DSCPs are left alone: they carry no drop precedence to raise.
pub(crate) fn remark_dscp(packet: &mut Packet, layout: &Headers, levels: u8) {
    let data = packet.data();
    let l3 = layout.l3();
    let dscp = match layout.net {
        Net::Ipv4 => match data.get(l3 + ipv4::field::DSCP_ECN) {
            Some(tos) => tos >> 2,
            None => return,
        },
        Net::Ipv6 => match wire::header::<2>(data, l3) {
            // Traffic class: the low nibble of byte 0, the high of byte 1.
            Some(w) => ((w[0] & 0x0f) << 2) | (w[1] >> 6),
            None => return,
        },
        _ => return,
    };
    let (class, prec) = (dscp >> 3, (dscp >> 1) & 3);
    if !(1..=4).contains(&class) || prec == 0 || dscp & 1 != 0 {
        return;
    }
    let new = (class << 3) | (prec.saturating_add(levels).min(3) << 1);
    if new != dscp {
        set_field(
            packet,
            layout,
            Field::IpDscp,
            &FieldValue::from_u128(new as u128),
            &FieldValue::ones(1),
        );
    }
}

/// Shift a sub-field value and mask into position inside a wider word.
#[inline]
fn shifted(
    value: &FieldValue,
    mask: &FieldValue,
    bits: u128,
    shift: u32,
) -> (FieldValue, FieldValue) {
    (
        FieldValue::from_u128((value.as_u128() & bits) << shift),
        FieldValue::from_u128((mask.as_u128() & bits) << shift),
    )
}

/// Resolve `field` against the layout; `None` if the packet lacks it.
fn target(l: &Headers, field: Field, value: &FieldValue, mask: &FieldValue) -> Option<Target> {
    use Field::*;
    let whole = |off: usize, len: usize, cover: Cover| Target {
        off,
        len,
        value: *value,
        mask: *mask,
        cover,
    };
    let bits = |off: usize, len: usize, width: u128, shift: u32, cover: Cover| {
        let (value, mask) = shifted(value, mask, width, shift);
        Target {
            off,
            len,
            value,
            mask,
            cover,
        }
    };
    // A whole field of the header at `base`.
    let at = |base: usize, f: wire::Field, cover: Cover| whole(base + f.start, f.len(), cover);
    let (v4, v6) = (l.net == Net::Ipv4, l.net == Net::Ipv6);
    let l4_is = |t: Transport| l.transport == t;
    let (l3, l4, lse) = (l.l3(), l.l4(), l.l2_5());
    let l2 = l3 <= l.l3_end;
    let nd_at = |off: Option<u16>, len: usize| off.map(|o| whole(usize::from(o), len, Cover::L4));
    let (tci, ttl4, tos4) = (l.outer_tci(), ipv4::field::TTL, ipv4::field::DSCP_ECN);
    let t = match field {
        EthDst if l2 => at(0, ethernet::field::DESTINATION, Cover::None),
        EthSrc if l2 => at(0, ethernet::field::SOURCE, Cover::None),
        EthType if l2 => whole(usize::from(l.eth_type_off), 2, Cover::None),
        VlanVid => bits(tci?, 2, 0x0fff, 0, Cover::None),
        VlanPcp => bits(tci?, 2, 0x7, 13, Cover::None),
        VlanTci => whole(tci?, 2, Cover::None),
        MplsLabel if l.net == Net::Mpls => bits(lse, 4, 0xf_ffff, mpls::LABEL_SHIFT, Cover::None),
        MplsTc if l.net == Net::Mpls => bits(lse, 4, 0x7, mpls::TC_SHIFT, Cover::None),
        MplsBos if l.net == Net::Mpls => bits(lse, 4, 0x1, mpls::BOS_SHIFT, Cover::None),
        MplsTtl if l.net == Net::Mpls => bits(lse, 4, 0xff, 0, Cover::None),
        Ipv4Src if v4 => at(l3, ipv4::field::SRC_ADDR, Cover::Ipv4Addr),
        Ipv4Dst if v4 => at(l3, ipv4::field::DST_ADDR, Cover::Ipv4Addr),
        IpDscp if v4 => bits(l3 + tos4, 1, 0x3f, 2, Cover::Ipv4Header),
        IpDscp if v6 => bits(l3, 4, 0x3f, ipv6::TC_SHIFT + 2, Cover::None),
        IpEcn if v4 => bits(l3 + tos4, 1, 0x3, 0, Cover::Ipv4Header),
        IpEcn if v6 => bits(l3, 4, 0x3, ipv6::TC_SHIFT, Cover::None),
        IpTtl if v4 => whole(l3 + ttl4, 1, Cover::Ipv4Header),
        IpTtl if v6 => whole(l3 + ipv6::field::HOP_LIMIT, 1, Cover::None),
        Ipv6Src if v6 => at(l3, ipv6::field::SRC_ADDR, Cover::Ipv6Addr { dst: false }),
        Ipv6Dst if v6 => at(l3, ipv6::field::DST_ADDR, Cover::Ipv6Addr { dst: true }),
        Ipv6Label if v6 => bits(l3, 4, 0xf_ffff, 0, Cover::None),
        TcpSrc if l4_is(Transport::Tcp) => at(l4, tcp::field::SRC_PORT, Cover::L4),
        TcpDst if l4_is(Transport::Tcp) => at(l4, tcp::field::DST_PORT, Cover::L4),
        UdpSrc if l4_is(Transport::Udp) => at(l4, udp::field::SRC_PORT, Cover::L4),
        UdpDst if l4_is(Transport::Udp) => at(l4, udp::field::DST_PORT, Cover::L4),
        // The CRC of a fragment covers bytes that are not here: do not
        // write what could not be re-signed.
        SctpSrc if l4_is(Transport::Sctp) && !l.is_fragment() => {
            at(l4, sctp::field::SRC_PORT, Cover::L4)
        }
        SctpDst if l4_is(Transport::Sctp) && !l.is_fragment() => {
            at(l4, sctp::field::DST_PORT, Cover::L4)
        }
        Icmpv4Type if l4_is(Transport::Icmp) => whole(l4 + icmp::field::TYPE, 1, Cover::L4),
        Icmpv4Code if l4_is(Transport::Icmp) => whole(l4 + icmp::field::CODE, 1, Cover::L4),
        Icmpv6Type if l4_is(Transport::Icmpv6) => whole(l4 + icmp::field::TYPE, 1, Cover::L4),
        Icmpv6Code if l4_is(Transport::Icmpv6) => whole(l4 + icmp::field::CODE, 1, Cover::L4),
        ArpOp if l.net == Net::Arp => at(l3, arp::field::OPER, Cover::None),
        ArpSha if l.net == Net::Arp => at(l3, arp::field::SHA, Cover::None),
        ArpSpa if l.net == Net::Arp => at(l3, arp::field::SPA, Cover::None),
        ArpTha if l.net == Net::Arp => at(l3, arp::field::THA, Cover::None),
        ArpTpa if l.net == Net::Arp => at(l3, arp::field::TPA, Cover::None),
        NdTarget => return nd_at(l.nd_target, nd::field::TARGET.len()),
        NdSll => return nd_at(l.nd_sll, nd::opt_field::LL_ADDR.len()),
        NdTll => return nd_at(l.nd_tll, nd::opt_field::LL_ADDR.len()),
        _ => return None,
    };
    Some(t)
}

/// Perform the masked write of `t` and fix the checksums that cover it.
fn write(packet: &mut Packet, l: &Headers, t: &Target) {
    let partial = packet.offload.csum_partial;
    let data = packet.data_mut();
    // Sum the old and the new bytes as they sit in 16-bit words (every
    // checksummed region starts at an even frame offset: a byte at an even
    // offset is a word's high half).
    let (mut old_sum, mut new_sum, mut changed) = (0u64, 0u64, false);
    let (value, mask) = (t.value.tail(t.len), t.mask.tail(t.len));
    let bytes = data[t.off..t.off + t.len].iter_mut().zip(value).zip(mask);
    for (i, ((d, v), m)) in bytes.enumerate() {
        let old = *d;
        let new = (old & !m) | (v & m);
        *d = new;
        let shift = if (t.off + i).is_multiple_of(2) { 8 } else { 0 };
        old_sum += u64::from(old) << shift;
        new_sum += u64::from(new) << shift;
        changed |= old != new;
    }
    if !changed {
        return;
    }
    let delta = u64::from(!csum::fold(old_sum)) + new_sum;
    match t.cover {
        Cover::None => {}
        Cover::Ipv4Header => ipv4_header(data, l, delta),
        Cover::Ipv4Addr => {
            ipv4_header(data, l, delta);
            pseudo_header(data, l, partial, delta);
        }
        Cover::Ipv6Addr { dst } => {
            // With a routing header still to be walked, the pseudo-header
            // carries the final destination, which did not change.
            if !(dst && l.ipv6_routing) {
                pseudo_header(data, l, partial, delta);
            }
        }
        Cover::L4 => {
            if partial.is_none() {
                l4_own(data, l, delta);
            }
        }
    }
}

fn ipv4_header(data: &mut [u8], l: &Headers, delta: u64) {
    let off = l.l3() + ipv4::field::CHECKSUM.start;
    let c = csum::get16(data, off);
    csum::put16(data, off, csum::update(c, delta));
}

/// An address in the pseudo-header changed by `delta`.
fn pseudo_header(
    data: &mut [u8],
    l: &Headers,
    partial: Option<crate::packet::CsumPartial>,
    delta: u64,
) {
    if let Some(p) = partial {
        if matches!(l.transport, Transport::Icmp | Transport::Sctp) {
            // No pseudo-header in what is summed.
            return;
        }
        // The field holds the folded, uncomplemented pseudo-header sum.
        let off = usize::from(p.start) + usize::from(p.offset);
        if off + 2 <= data.len() {
            let c = csum::get16(data, off);
            csum::put16(data, off, csum::update_partial(c, delta));
        }
        return;
    }
    match l.transport {
        Transport::Tcp => l4_own(data, l, delta),
        Transport::Udp => l4_own(data, l, delta),
        Transport::Icmpv6 => l4_own(data, l, delta),
        // ICMPv4 has no pseudo-header; SCTP's CRC does not cover addresses.
        Transport::Icmp | Transport::Sctp | Transport::None => {}
    }
}

/// The transport checksum itself changes by `delta` (or, for SCTP, the
/// CRC is recomputed).
fn l4_own(data: &mut [u8], l: &Headers, delta: u64) {
    match l.transport {
        Transport::Sctp => {
            if let Some(sctp) = data.get_mut(l.l4()..l.l3_end) {
                csum::sctp_recompute(sctp);
            }
        }
        Transport::Udp => {
            let off = l.l4() + udp::field::CHECKSUM.start;
            let c = csum::get16(data, off);
            // Zero means "no checksum" and stays so; a computed zero is
            // sent as all ones.
            if c != 0 {
                let n = csum::update(c, delta);
                csum::put16(data, off, if n == 0 { 0xffff } else { n });
            }
        }
        _ => {
            if let Some(off) = l4_csum_off(l) {
                let c = csum::get16(data, off);
                csum::put16(data, off, csum::update(c, delta));
            }
        }
    }
}

/// Offset of the L4 checksum field for checksummed transports.
fn l4_csum_off(l: &Headers) -> Option<usize> {
    let at = match l.transport {
        Transport::Tcp => tcp::field::CHECKSUM.start,
        Transport::Udp => udp::field::CHECKSUM.start,
        Transport::Icmp | Transport::Icmpv6 => icmp::field::CHECKSUM.start,
        Transport::Sctp | Transport::None => return None,
    };
    Some(l.l4() + at)
}

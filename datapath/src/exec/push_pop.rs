//! Header pushes and pops (VLAN, MPLS) and TTL decrements.
//!
//! Pushes take their bytes from the packet's headroom (see
//! [`crate::packet`]), so they move the Ethernet addresses back by four
//! bytes instead of moving the payload forward. The one thing to remember:
//! offload metadata is expressed as offsets from the start of the frame
//! (`csum_start`, the GSO header length), so every push or pop shifts it by
//! the same four bytes, or a later checksum completion would sum the wrong
//! bytes.
//!
//! TTL decrements are set-fields of `ttl - 1` (so the IPv4 checksum update
//! is the set-field one); a TTL that would reach zero leaves the packet
//! untouched and reports [`Ttl::Expired`], and the caller runs the
//! exception actions.

use super::layout::{Layout, Net, ETH_HLEN, VLAN_HLEN};
use super::set_field::set_field;
use crate::actions::{Field, FieldValue};
use crate::packet::Packet;

/// Clear the CFI/DEI bit of a pushed TCI.
const TCI_CFI: u16 = 0x1000;

/// Outcome of a TTL decrement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ttl {
    /// Decremented.
    Done,
    /// The TTL is 0 or 1: the packet is unchanged.
    Expired,
    /// The packet has no such header: nothing was done.
    Absent,
}

/// Move the frame-relative offload offsets by `delta` bytes after a push
/// (positive) or pop (negative) in front of them. Offsets that would leave
/// the representable range drop the offload they belong to.
pub(crate) fn shift_offload(packet: &mut Packet, delta: isize) {
    let shift = |v: u16| -> Option<u16> {
        let n = isize::try_from(v).ok()?.checked_add(delta)?;
        u16::try_from(n).ok()
    };
    if let Some(p) = packet.offload.csum_partial {
        packet.offload.csum_partial = shift(p.start).map(|start| crate::packet::CsumPartial {
            start,
            offset: p.offset,
        });
    }
    if let Some(g) = packet.offload.gso {
        packet.offload.gso = shift(g.hdr_len).map(|hdr_len| crate::packet::Gso { hdr_len, ..g });
    }
}

/// Push an outermost VLAN tag. Needs the two MAC addresses.
pub(crate) fn push_vlan(packet: &mut Packet, tpid: u16, tci: u16) -> bool {
    if packet.len() < 12 {
        return false;
    }
    let hole = packet.insert_bytes(12, VLAN_HLEN);
    hole[..2].copy_from_slice(&tpid.to_be_bytes());
    hole[2..].copy_from_slice(&(tci & !TCI_CFI).to_be_bytes());
    shift_offload(packet, VLAN_HLEN as isize);
    true
}

/// Pop the outermost VLAN tag, if there is one.
pub(crate) fn pop_vlan(packet: &mut Packet, layout: &Layout) -> bool {
    if layout.n_vlan == 0 || packet.len() < ETH_HLEN + VLAN_HLEN {
        return false;
    }
    packet.remove_bytes(12, VLAN_HLEN);
    shift_offload(packet, -(VLAN_HLEN as isize));
    true
}

/// Push an MPLS label stack entry after the L2 headers (on top of any
/// existing stack) and set the EtherType.
pub(crate) fn push_mpls(packet: &mut Packet, layout: &Layout, ethertype: u16, lse: u32) -> bool {
    if packet.len() < layout.l3 {
        return false;
    }
    let hole = packet.insert_bytes(layout.l3, 4);
    hole.copy_from_slice(&lse.to_be_bytes());
    let off = layout.eth_type_off;
    packet.data_mut()[off..off + 2].copy_from_slice(&ethertype.to_be_bytes());
    shift_offload(packet, 4);
    true
}

/// Pop the top MPLS label stack entry and set the EtherType to `ethertype`.
pub(crate) fn pop_mpls(packet: &mut Packet, layout: &Layout, ethertype: u16) -> bool {
    if layout.net != Net::Mpls {
        return false;
    }
    packet.remove_bytes(layout.l3, 4);
    // Bytes in front of the hole moved forward: the EtherType is still at
    // the same offset from the (new) start of the frame.
    let off = layout.eth_type_off;
    packet.data_mut()[off..off + 2].copy_from_slice(&ethertype.to_be_bytes());
    shift_offload(packet, -4);
    true
}

fn set_byte(packet: &mut Packet, layout: &Layout, field: Field, v: u8) {
    set_field(
        packet,
        layout,
        field,
        &FieldValue::from_u128(u128::from(v)),
        &FieldValue::ones(1),
    );
}

/// Decrement the IPv4 TTL or IPv6 hop limit.
pub(crate) fn dec_ttl(packet: &mut Packet, layout: &Layout) -> Ttl {
    let off = match layout.net {
        Net::Ipv4 => layout.l3 + 8,
        Net::Ipv6 => layout.l3 + 7,
        _ => return Ttl::Absent,
    };
    let Some(&ttl) = packet.data().get(off) else {
        return Ttl::Absent;
    };
    if ttl <= 1 {
        return Ttl::Expired;
    }
    set_byte(packet, layout, Field::IpTtl, ttl - 1);
    Ttl::Done
}

/// Decrement the TTL of the top MPLS label stack entry.
pub(crate) fn dec_mpls_ttl(packet: &mut Packet, layout: &Layout) -> Ttl {
    if layout.net != Net::Mpls {
        return Ttl::Absent;
    }
    let Some(&ttl) = packet.data().get(layout.l3 + 3) else {
        return Ttl::Absent;
    };
    if ttl <= 1 {
        return Ttl::Expired;
    }
    set_byte(packet, layout, Field::MplsTtl, ttl - 1);
    Ttl::Done
}

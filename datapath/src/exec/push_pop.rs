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

use super::set_field::set_field;
use crate::actions::{Field, FieldValue};
use crate::packet::Packet;
use crate::wire::ethernet::{self, vlan};
use crate::wire::walk::{Headers, Net};
use crate::wire::{ipv4, ipv6, mpls};

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
    if packet.len() < vlan::FIRST_TAG {
        return false;
    }
    let hole = packet.insert_bytes(vlan::FIRST_TAG, vlan::TAG_LEN);
    hole[vlan::field::TPID].copy_from_slice(&tpid.to_be_bytes());
    // The DEI bit (OpenFlow's CFI "tag present") is not a wire bit to push.
    hole[vlan::field::TCI].copy_from_slice(&(tci & !vlan::DEI).to_be_bytes());
    shift_offload(packet, vlan::TAG_LEN as isize);
    true
}

/// Pop the outermost VLAN tag, if there is one.
pub(crate) fn pop_vlan(packet: &mut Packet, layout: &Headers) -> bool {
    if layout.n_vlan == 0 || packet.len() < ethernet::HEADER_LEN + vlan::TAG_LEN {
        return false;
    }
    packet.remove_bytes(vlan::FIRST_TAG, vlan::TAG_LEN);
    shift_offload(packet, -(vlan::TAG_LEN as isize));
    true
}

/// Push an MPLS label stack entry after the L2 headers (on top of any
/// existing stack) and set the EtherType.
pub(crate) fn push_mpls(packet: &mut Packet, layout: &Headers, ethertype: u16, lse: u32) -> bool {
    let at = layout.l2_end();
    if packet.len() < at {
        return false;
    }
    let hole = packet.insert_bytes(at, mpls::HEADER_LEN);
    mpls::Lse::new_unchecked(hole).set_raw(lse);
    set_ethertype(packet, layout, ethertype);
    shift_offload(packet, mpls::HEADER_LEN as isize);
    true
}

/// Write the EtherType that names the network layer (the bytes in front
/// of it never move on a push or pop after it).
fn set_ethertype(packet: &mut Packet, layout: &Headers, ethertype: u16) {
    let off = usize::from(layout.eth_type_off);
    if let Some(b) = packet.data_mut().get_mut(off..off + 2) {
        b.copy_from_slice(&ethertype.to_be_bytes());
    }
}

/// Pop the top MPLS label stack entry and set the EtherType to `ethertype`.
pub(crate) fn pop_mpls(packet: &mut Packet, layout: &Headers, ethertype: u16) -> bool {
    if layout.net != Net::Mpls {
        return false;
    }
    packet.remove_bytes(layout.l2_5(), mpls::HEADER_LEN);
    // Bytes in front of the hole moved forward: the EtherType is still at
    // the same offset from the (new) start of the frame.
    set_ethertype(packet, layout, ethertype);
    shift_offload(packet, -(mpls::HEADER_LEN as isize));
    true
}

fn set_byte(packet: &mut Packet, layout: &Headers, field: Field, v: u8) {
    set_field(
        packet,
        layout,
        field,
        &FieldValue::from_u128(u128::from(v)),
        &FieldValue::ones(1),
    );
}

/// Decrement the IPv4 TTL or IPv6 hop limit.
pub(crate) fn dec_ttl(packet: &mut Packet, layout: &Headers) -> Ttl {
    let off = match layout.net {
        Net::Ipv4 => layout.l3() + ipv4::field::TTL,
        Net::Ipv6 => layout.l3() + ipv6::field::HOP_LIMIT,
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
pub(crate) fn dec_mpls_ttl(packet: &mut Packet, layout: &Headers) -> Ttl {
    if layout.net != Net::Mpls {
        return Ttl::Absent;
    }
    let Some(&ttl) = packet.data().get(layout.l2_5() + mpls::field::TTL.start) else {
        return Ttl::Absent;
    };
    if ttl <= 1 {
        return Ttl::Expired;
    }
    set_byte(packet, layout, Field::MplsTtl, ttl - 1);
    Ttl::Done
}

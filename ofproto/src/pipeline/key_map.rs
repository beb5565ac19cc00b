//! Between OpenFlow's OXM fields and the datapath's [`XKey`].
//!
//! A rule's match becomes a `(value, mask)` pair of flow keys, so matching
//! a packet against a rule is the datapath's own word-wise compare, and the
//! bits a translation consulted are plain key bits it can OR into the
//! megaflow mask. A set-field becomes a datapath `Set` action and is also
//! applied to the translator's working key, so later tables match on the
//! rewritten packet.
//!
//! Every OXM field maps onto a key field (see the conventions in
//! `datapath::flow::key`): `VLAN_VID`'s OFPVID_PRESENT bit *is* the key's
//! VLAN_CFI bit; `IP_DSCP`/`IP_ECN` share `nw_tos`; the MPLS fields are bit
//! ranges of `mpls_lse`; ICMP type/code live in `tp_src`/`tp_dst`; ARP and
//! ND addresses share the IPv4 and `arp_sha`/`arp_tha` slots. PBB_ISID and
//! IPV6_EXTHDR have no key field yet: a match on them is refused with
//! BAD_FIELD, and a set-field of them with BAD_SET_TYPE.
//!
//! The Nicira fields map the same way: `reg0`..`reg15` are the
//! translation key's `regs` (see [`super::xkey`]: they never reach the
//! datapath), `tun_src`/`tun_dst` and `tun_ipv6_src`/`tun_ipv6_dst` are
//! the key's fields of those names, `tun_flags`'s
//! `oam` bit is the key's [`TUN_OAM`], `pkt_mark` is `pkt_mark`, `ip_frag`
//! is `nw_frag` (same bits as Open vSwitch), `NXM_OF_VLAN_TCI` is all of
//! `vlan_tci` and `NXM_OF_IN_PORT` the low 16 bits of `in_port`. Registers,
//! metadata and tunnel fields are translation-time state: writing them
//! changes the working key and emits no datapath action; `pkt_mark` is
//! packet metadata the datapath has, so it is committed like a header.
//!
//! NX actions work on bit ranges: [`read_bits`], [`write_bits`] and
//! [`unwildcard_bits`] are the bit-range forms of [`get`], set-field and
//! [`unwildcard`].

use super::xkey::XKey;
use crate::wire::error::{BadAction, BadMatch, NxError, OfError, WireError, WireResult};
use crate::wire::nx::field::reg_index;
use crate::wire::nx::FieldRef;
use crate::wire::oxm::{Match, OxmField, OxmKind};
use datapath::actions::{Action as DpAction, Field};
use datapath::flow::key::TUN_OAM;
use datapath::tunnel::TlvMap;

/// Where an OXM field lives in the key: a bit range of one key field.
#[derive(Clone, Copy, Debug)]
enum Slot {
    InPort,
    Metadata,
    EthDst,
    EthSrc,
    EthType,
    /// `vlan_tci` bits selected by the mask, value shifted left by the shift.
    VlanTci {
        shift: u32,
        mask: u16,
    },
    NwTos {
        shift: u32,
        mask: u8,
    },
    NwProto,
    Ipv4Src,
    Ipv4Dst,
    TpSrc,
    TpDst,
    ArpSha,
    ArpTha,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    NdTarget,
    Mpls {
        shift: u32,
        mask: u32,
    },
    TunId,
    /// `regs[i]`.
    Reg(usize),
    TunSrc,
    TunDst,
    TunIpv6Src,
    TunIpv6Dst,
    /// `tun_flags` bits selected by the mask, value shifted left.
    TunFlags {
        shift: u32,
        mask: u16,
    },
    PktMark,
    NwFrag,
    /// `tun_metadata<index>`: `len` bytes of `tun_md` from `offset`, and
    /// bit `index` of `tun_md_present` (set by any write: a match on the
    /// field, or a set-field of it, means the option is present).
    TunMd {
        index: u8,
        offset: u8,
        len: u8,
    },
}

fn slot(kind: OxmKind, tlv: &TlvMap) -> Option<Slot> {
    use OxmKind as K;
    if let Some(index) = kind.tun_metadata_index() {
        let e = tlv.entry(index)?;
        return Some(Slot::TunMd {
            index,
            offset: e.offset,
            len: e.len,
        });
    }
    Some(match kind {
        K::InPort | K::InPhyPort => Slot::InPort,
        K::Metadata => Slot::Metadata,
        K::EthDst => Slot::EthDst,
        K::EthSrc => Slot::EthSrc,
        K::EthType => Slot::EthType,
        K::VlanVid => Slot::VlanTci {
            shift: 0,
            mask: 0x1fff,
        },
        K::VlanPcp => Slot::VlanTci {
            shift: 13,
            mask: 0xe000,
        },
        K::IpDscp => Slot::NwTos {
            shift: 2,
            mask: 0xfc,
        },
        K::IpEcn => Slot::NwTos {
            shift: 0,
            mask: 0x03,
        },
        K::IpProto | K::ArpOp => Slot::NwProto,
        K::Ipv4Src | K::ArpSpa => Slot::Ipv4Src,
        K::Ipv4Dst | K::ArpTpa => Slot::Ipv4Dst,
        K::TcpSrc | K::UdpSrc | K::SctpSrc | K::Icmpv4Type | K::Icmpv6Type => Slot::TpSrc,
        K::TcpDst | K::UdpDst | K::SctpDst | K::Icmpv4Code | K::Icmpv6Code => Slot::TpDst,
        K::ArpSha | K::Ipv6NdSll => Slot::ArpSha,
        K::ArpTha | K::Ipv6NdTll => Slot::ArpTha,
        K::Ipv6Src => Slot::Ipv6Src,
        K::Ipv6Dst => Slot::Ipv6Dst,
        K::Ipv6Flabel => Slot::Ipv6Label,
        K::Ipv6NdTarget => Slot::NdTarget,
        K::MplsLabel => Slot::Mpls {
            shift: 12,
            mask: 0xffff_f000,
        },
        K::MplsTc => Slot::Mpls {
            shift: 9,
            mask: 0x0000_0e00,
        },
        K::MplsBos => Slot::Mpls {
            shift: 8,
            mask: 0x0000_0100,
        },
        K::TunnelId => Slot::TunId,
        K::PbbIsid | K::Ipv6Exthdr => return None,
        K::NxmInPort => Slot::InPort,
        K::NxmVlanTci => Slot::VlanTci {
            shift: 0,
            mask: 0xffff,
        },
        K::Reg0
        | K::Reg1
        | K::Reg2
        | K::Reg3
        | K::Reg4
        | K::Reg5
        | K::Reg6
        | K::Reg7
        | K::Reg8
        | K::Reg9
        | K::Reg10
        | K::Reg11
        | K::Reg12
        | K::Reg13
        | K::Reg14
        | K::Reg15 => Slot::Reg(reg_index(kind)?),
        K::TunIpv4Src => Slot::TunSrc,
        K::TunIpv4Dst => Slot::TunDst,
        K::TunIpv6Src => Slot::TunIpv6Src,
        K::TunIpv6Dst => Slot::TunIpv6Dst,
        K::TunFlags => Slot::TunFlags {
            shift: TUN_OAM.trailing_zeros(),
            mask: TUN_OAM,
        },
        K::PktMark => Slot::PktMark,
        K::IpFrag => Slot::NwFrag,
        // tun_metadataN, answered above.
        _ => return None,
    })
}

fn mac(v: u128) -> [u8; 6] {
    let b = v.to_be_bytes();
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[10..]);
    m
}

fn mac_u128(m: &[u8; 6]) -> u128 {
    let mut b = [0u8; 16];
    b[10..].copy_from_slice(m);
    u128::from_be_bytes(b)
}

/// Write `value` under `mask` (both in OXM units) into key `k`.
fn put(k: &mut XKey, s: Slot, value: u128, mask: u128) {
    fn blend<T>(old: T, v: T, m: T) -> T
    where
        T: std::ops::BitAnd<Output = T>
            + std::ops::BitOr<Output = T>
            + std::ops::Not<Output = T>
            + Copy,
    {
        (old & !m) | (v & m)
    }
    match s {
        Slot::InPort => k.in_port = blend(k.in_port, value as u32, mask as u32),
        Slot::Metadata => k.metadata = blend(k.metadata, value as u64, mask as u64),
        Slot::EthDst => k.eth_dst = mac(blend(mac_u128(&k.eth_dst), value, mask)),
        Slot::EthSrc => k.eth_src = mac(blend(mac_u128(&k.eth_src), value, mask)),
        Slot::EthType => k.eth_type = blend(k.eth_type, value as u16, mask as u16),
        Slot::VlanTci { shift, mask: m } => {
            let v = ((value as u16) << shift) & m;
            let mm = ((mask as u16) << shift) & m;
            k.vlan_tci = blend(k.vlan_tci, v, mm);
        }
        Slot::NwTos { shift, mask: m } => {
            let v = ((value as u8) << shift) & m;
            let mm = ((mask as u8) << shift) & m;
            k.nw_tos = blend(k.nw_tos, v, mm);
        }
        Slot::NwProto => k.nw_proto = blend(k.nw_proto, value as u8, mask as u8),
        Slot::Ipv4Src => k.ipv4_src = blend(k.ipv4_src, value as u32, mask as u32),
        Slot::Ipv4Dst => k.ipv4_dst = blend(k.ipv4_dst, value as u32, mask as u32),
        Slot::TpSrc => k.tp_src = blend(k.tp_src, value as u16, mask as u16),
        Slot::TpDst => k.tp_dst = blend(k.tp_dst, value as u16, mask as u16),
        Slot::ArpSha => k.arp_sha = mac(blend(mac_u128(&k.arp_sha), value, mask)),
        Slot::ArpTha => k.arp_tha = mac(blend(mac_u128(&k.arp_tha), value, mask)),
        Slot::Ipv6Src => {
            k.ipv6_src = blend(u128::from_be_bytes(k.ipv6_src), value, mask).to_be_bytes()
        }
        Slot::Ipv6Dst => {
            k.ipv6_dst = blend(u128::from_be_bytes(k.ipv6_dst), value, mask).to_be_bytes()
        }
        Slot::NdTarget => {
            k.nd_target = blend(u128::from_be_bytes(k.nd_target), value, mask).to_be_bytes()
        }
        Slot::Ipv6Label => k.ipv6_label = blend(k.ipv6_label, value as u32, mask as u32),
        Slot::Mpls { shift, mask: m } => {
            let v = ((value as u32) << shift) & m;
            let mm = ((mask as u32) << shift) & m;
            k.mpls_lse = blend(k.mpls_lse, v, mm);
        }
        Slot::TunId => k.tun_id = blend(k.tun_id, value as u64, mask as u64),
        Slot::Reg(i) => k.regs[i] = blend(k.regs[i], value as u32, mask as u32),
        Slot::TunSrc => k.tun_src = blend(k.tun_src, value as u32, mask as u32),
        Slot::TunDst => k.tun_dst = blend(k.tun_dst, value as u32, mask as u32),
        Slot::TunIpv6Src => {
            k.tun_ipv6_src = blend(u128::from_be_bytes(k.tun_ipv6_src), value, mask).to_be_bytes()
        }
        Slot::TunIpv6Dst => {
            k.tun_ipv6_dst = blend(u128::from_be_bytes(k.tun_ipv6_dst), value, mask).to_be_bytes()
        }
        Slot::TunFlags { shift, mask: m } => {
            let v = ((value as u16) << shift) & m;
            let mm = ((mask as u16) << shift) & m;
            k.tun_flags = blend(k.tun_flags, v, mm);
        }
        Slot::PktMark => k.pkt_mark = blend(k.pkt_mark, value as u32, mask as u32),
        Slot::NwFrag => k.nw_frag = blend(k.nw_frag, value as u8, mask as u8),
        Slot::TunMd { index, offset, len } => {
            let bytes = &mut k.tun_md[usize::from(offset)..usize::from(offset + len)];
            let new = blend(be(bytes), value, mask);
            bytes.copy_from_slice(&new.to_be_bytes()[16 - bytes.len()..]);
            k.tun_md_present |= 1 << index;
        }
    }
}

/// A big-endian byte string (at most 16 bytes) as a number.
fn be(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0, |a, &b| a << 8 | u128::from(b))
}

/// The bits a slot holds, in OXM units (the value bits of a mapped
/// `tun_metadata` field: its option length).
fn slot_ones(s: Slot) -> u128 {
    match s {
        Slot::TunMd { len, .. } if len < 16 => (1u128 << (8 * u32::from(len))) - 1,
        _ => u128::MAX,
    }
}

/// Read a field's value (in OXM units) out of a key.
pub fn get(k: &XKey, kind: OxmKind, tlv: &TlvMap) -> Option<u128> {
    let s = slot(kind, tlv)?;
    Some(match s {
        Slot::InPort => k.in_port as u128,
        Slot::Metadata => k.metadata as u128,
        Slot::EthDst => mac_u128(&k.eth_dst),
        Slot::EthSrc => mac_u128(&k.eth_src),
        Slot::EthType => k.eth_type as u128,
        Slot::VlanTci { shift, mask } => ((k.vlan_tci & mask) >> shift) as u128,
        Slot::NwTos { shift, mask } => ((k.nw_tos & mask) >> shift) as u128,
        Slot::NwProto => k.nw_proto as u128,
        Slot::Ipv4Src => k.ipv4_src as u128,
        Slot::Ipv4Dst => k.ipv4_dst as u128,
        Slot::TpSrc => k.tp_src as u128,
        Slot::TpDst => k.tp_dst as u128,
        Slot::ArpSha => mac_u128(&k.arp_sha),
        Slot::ArpTha => mac_u128(&k.arp_tha),
        Slot::Ipv6Src => u128::from_be_bytes(k.ipv6_src),
        Slot::Ipv6Dst => u128::from_be_bytes(k.ipv6_dst),
        Slot::NdTarget => u128::from_be_bytes(k.nd_target),
        Slot::Ipv6Label => k.ipv6_label as u128,
        Slot::Mpls { shift, mask } => ((k.mpls_lse & mask) >> shift) as u128,
        Slot::TunId => k.tun_id as u128,
        Slot::Reg(i) => k.regs[i] as u128,
        Slot::TunSrc => k.tun_src as u128,
        Slot::TunDst => k.tun_dst as u128,
        Slot::TunIpv6Src => u128::from_be_bytes(k.tun_ipv6_src),
        Slot::TunIpv6Dst => u128::from_be_bytes(k.tun_ipv6_dst),
        Slot::TunFlags { shift, mask } => ((k.tun_flags & mask) >> shift) as u128,
        Slot::PktMark => k.pkt_mark as u128,
        Slot::NwFrag => k.nw_frag as u128,
        Slot::TunMd { offset, len, .. } => {
            be(&k.tun_md[usize::from(offset)..usize::from(offset + len)])
        }
    })
}

/// Un-wildcard all of field `kind` in `mask`.
pub fn unwildcard(mask: &mut XKey, kind: OxmKind, tlv: &TlvMap) {
    if let Some(s) = slot(kind, tlv) {
        put(mask, s, u128::MAX, u128::MAX);
    }
}

/// A match as (value, mask) flow keys, `tun_metadata` fields placed by
/// `tlv`. Refuses fields with no key slot (BAD_FIELD; an unmapped
/// `tun_metadata` field is Open vSwitch's INVALID_TLV_FIELD) and values
/// wider than their option (BAD_VALUE).
pub fn match_to_key(m: &Match, tlv: &TlvMap) -> WireResult<(XKey, XKey)> {
    let mut key = XKey::default();
    let mut mask = XKey::default();
    for f in m.iter() {
        let kind = f.kind();
        let s = slot(kind, tlv).ok_or_else(|| {
            no_slot(
                kind,
                BadMatch::BAD_FIELD,
                format!("matching on {} is not supported", kind.name()),
            )
        })?;
        let (mut value, fmask) = f.raw();
        let fmask = fmask.unwrap_or(kind.ones()) & slot_ones(s);
        if value & !slot_ones(s) != 0 {
            return Err(WireError::new(
                BadMatch::BAD_VALUE,
                format!("{} value is wider than its option", kind.name()),
            ));
        }
        if matches!(kind, OxmKind::InPort | OxmKind::InPhyPort) && value == 0xffff_fffe
            || kind == OxmKind::NxmInPort && value == 0xfffe
        {
            // OFPP_LOCAL is the datapath's port 0.
            value = 0;
        }
        put(&mut key, s, value & fmask, fmask);
        put(&mut mask, s, fmask, u128::MAX);
    }
    Ok((key.masked(&mask), mask))
}

/// The datapath field a set-field writes, or `None` for metadata-only
/// fields (the translator handles those).
fn dp_field(kind: OxmKind) -> Option<Field> {
    use OxmKind as K;
    Some(match kind {
        K::EthDst => Field::EthDst,
        K::EthSrc => Field::EthSrc,
        K::EthType => Field::EthType,
        K::VlanVid => Field::VlanVid,
        K::VlanPcp => Field::VlanPcp,
        K::IpDscp => Field::IpDscp,
        K::IpEcn => Field::IpEcn,
        K::Ipv4Src => Field::Ipv4Src,
        K::Ipv4Dst => Field::Ipv4Dst,
        K::TcpSrc => Field::TcpSrc,
        K::TcpDst => Field::TcpDst,
        K::UdpSrc => Field::UdpSrc,
        K::UdpDst => Field::UdpDst,
        K::SctpSrc => Field::SctpSrc,
        K::SctpDst => Field::SctpDst,
        K::Icmpv4Type => Field::Icmpv4Type,
        K::Icmpv4Code => Field::Icmpv4Code,
        K::Icmpv6Type => Field::Icmpv6Type,
        K::Icmpv6Code => Field::Icmpv6Code,
        K::ArpOp => Field::ArpOp,
        K::ArpSpa => Field::ArpSpa,
        K::ArpTpa => Field::ArpTpa,
        K::ArpSha => Field::ArpSha,
        K::ArpTha => Field::ArpTha,
        K::Ipv6Src => Field::Ipv6Src,
        K::Ipv6Dst => Field::Ipv6Dst,
        K::Ipv6Flabel => Field::Ipv6Label,
        K::Ipv6NdTarget => Field::NdTarget,
        K::Ipv6NdSll => Field::NdSll,
        K::Ipv6NdTll => Field::NdTll,
        K::MplsLabel => Field::MplsLabel,
        K::MplsTc => Field::MplsTc,
        K::MplsBos => Field::MplsBos,
        K::PktMark => Field::PktMark,
        _ => return None,
    })
}

/// Refuse, at flow-mod time, a set-field that translation could not honour
/// (translation would otherwise drop it silently): a field with no slot in
/// the key (BAD_SET_TYPE), or `ip_proto`, which the datapath cannot rewrite
/// (it would leave the old protocol's header behind; BAD_SET_ARGUMENT, the
/// answer Open vSwitch gives too).
pub fn check_set_field(f: &OxmField, tlv: &TlvMap) -> WireResult<()> {
    let kind = f.kind();
    if kind == OxmKind::IpProto {
        return Err(WireError::new(
            BadAction::BAD_SET_ARGUMENT,
            "set-field of ip_proto is not supported",
        ));
    }
    set_field(&mut XKey::default(), f, tlv).map(|_| ())
}

/// What a set-field (or a masked NXAST_REG_LOAD2) does: the datapath
/// action (if the field is in the packet) and the change to the working
/// key. Fields with no slot are
/// refused with BAD_SET_TYPE.
pub fn set_field(key: &mut XKey, f: &OxmField, tlv: &TlvMap) -> WireResult<Option<DpAction>> {
    let kind = f.kind();
    let s = slot(kind, tlv).ok_or_else(|| {
        no_slot(
            kind,
            BadAction::BAD_SET_TYPE,
            format!("set-field of {} is not supported", kind.name()),
        )
    })?;
    let (value, mask) = f.raw();
    if value & !slot_ones(s) != 0 {
        return Err(WireError::new(
            BadAction::BAD_SET_ARGUMENT,
            format!("{} value is wider than its option", kind.name()),
        ));
    }
    let value = if kind == OxmKind::VlanVid {
        // Setting the VLAN id never changes whether a tag is present.
        (value & 0x0fff) | (key.vlan_tci as u128 & 0x1000)
    } else {
        value
    };
    // OpenFlow 1.3's set-field has no mask; NXAST_REG_LOAD2's may.
    let ones = if kind == OxmKind::VlanVid {
        0x0fff
    } else {
        kind.ones() & slot_ones(s)
    };
    let fmask = mask.unwrap_or(ones) & ones;
    put(key, s, value, fmask);
    let dp_value = value & ones;
    Ok(dp_field(kind).map(|field| {
        if fmask == ones {
            DpAction::set(field, dp_value)
        } else {
            DpAction::set_masked(field, dp_value & fmask, fmask)
        }
    }))
}

/// `(value >> r.ofs)` restricted to `r`'s bits, read from key `k`;
/// `None` for a field with no key slot.
pub fn read_bits(k: &XKey, r: &FieldRef, tlv: &TlvMap) -> Option<u128> {
    let v = get(k, r.kind, tlv)?;
    Some((v & r.mask()) >> r.ofs)
}

/// Write `value` (right-aligned) into `r`'s bits of the working key; the
/// datapath action that does the same to the packet when the field is in
/// the packet (a masked set when `r` is not the whole field).
pub fn write_bits(
    key: &mut XKey,
    r: &FieldRef,
    value: u128,
    tlv: &TlvMap,
) -> WireResult<Option<DpAction>> {
    let kind = r.kind;
    check_write(kind, tlv)?;
    let s = slot(kind, tlv).ok_or_else(|| unsupported(kind))?;
    let mask = r.mask() & kind.ones();
    let v = (value << r.ofs) & mask;
    put(key, s, v, mask);
    let Some(field) = dp_field(kind) else {
        return Ok(None);
    };
    Ok(Some(if mask == kind.ones() {
        DpAction::set(field, v)
    } else {
        DpAction::set_masked(field, v, mask)
    }))
}

/// Un-wildcard `r`'s bits in `mask`.
pub fn unwildcard_bits(mask: &mut XKey, r: &FieldRef, tlv: &TlvMap) {
    if let Some(s) = slot(r.kind, tlv) {
        let bits = r.mask() & r.kind.ones();
        put(mask, s, bits, bits);
    }
}

/// The error for a field with no slot: `code` with `detail`, or for a
/// `tun_metadata` field the TLV map does not name, Open vSwitch's
/// INVALID_TLV_FIELD.
fn no_slot(kind: OxmKind, code: OfError, detail: String) -> WireError {
    match kind.tun_metadata_index() {
        Some(i) => WireError::new(
            NxError::INVALID_TLV_FIELD,
            format!("tun_metadata{i} is not in the TLV map (add-tlv-map first)"),
        ),
        None => WireError::new(code, detail),
    }
}

fn unsupported(kind: OxmKind) -> WireError {
    no_slot(
        kind,
        BadMatch::BAD_FIELD,
        format!("{} is not supported by this switch", kind.name()),
    )
}

/// Refuse, at flow-mod time, an NX action's field that translation could
/// not read (`BadMatch::BAD_FIELD`: no key slot, e.g. `pbb_isid`;
/// INVALID_TLV_FIELD for an unmapped `tun_metadata`).
pub fn check_read(kind: OxmKind, tlv: &TlvMap) -> WireResult<()> {
    slot(kind, tlv).map(|_| ()).ok_or_else(|| unsupported(kind))
}

/// Refuse, at flow-mod time, a bit range beyond what the field holds here:
/// for a `tun_metadata` field, its mapped option length (BAD_SET_LEN, as
/// Open vSwitch answers); other fields were checked against their width
/// when decoded.
pub fn check_bits(r: &FieldRef, tlv: &TlvMap) -> WireResult<()> {
    if let Some(Slot::TunMd { index, len, .. }) = slot(r.kind, tlv) {
        let end = u32::from(r.ofs) + u32::from(r.n_bits);
        if end > 8 * u32::from(len) {
            return Err(WireError::new(
                BadAction::BAD_SET_LEN,
                format!("bits up to {end} of tun_metadata{index}, mapped with {len} bytes"),
            ));
        }
    }
    Ok(())
}

/// Refuse, at flow-mod time, a destination translation could not write:
/// no key slot (BAD_FIELD), a read-only field (`in_port`, `ip_frag`,
/// `NXM_OF_VLAN_TCI`, whose CFI bit is not a header bit) or `ip_proto`
/// (BAD_SET_ARGUMENT).
pub fn check_write(kind: OxmKind, tlv: &TlvMap) -> WireResult<()> {
    check_read(kind, tlv)?;
    let writable = kind.settable() && kind != OxmKind::IpProto || kind == OxmKind::Metadata;
    if !writable {
        return Err(WireError::new(
            BadAction::BAD_SET_ARGUMENT,
            format!("{} is not writable", kind.name()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datapath::flow::FlowKey;
    use datapath::tunnel::TlvMap;
    use std::net::Ipv4Addr;

    #[test]
    fn matches_become_key_and_mask() {
        let m = Match::new()
            .with(OxmField::EthType(0x0800))
            .with(OxmField::Ipv4Dst {
                value: Ipv4Addr::new(10, 0, 0, 7),
                mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
            })
            .with(OxmField::VlanVid {
                value: 0x1000 | 10,
                mask: None,
            })
            .with(OxmField::IpDscp(46))
            .with(OxmField::MplsTc(5));
        let (k, mk) = match_to_key(&m, &TlvMap::default()).unwrap();
        assert_eq!(k.eth_type, 0x0800);
        assert_eq!(k.ipv4_dst, 0x0a00_0000);
        assert_eq!(mk.ipv4_dst, 0xffff_ff00);
        assert_eq!(k.vlan_tci, 0x1000 | 10);
        assert_eq!(mk.vlan_tci, 0x1fff);
        assert_eq!(k.nw_tos, 46 << 2);
        assert_eq!(mk.nw_tos, 0xfc);
        assert_eq!(k.mpls_lse, 5 << 9);
        assert_eq!(get(&k, OxmKind::IpDscp, &TlvMap::default()), Some(46));
        assert_eq!(get(&k, OxmKind::MplsTc, &TlvMap::default()), Some(5));
    }

    #[test]
    fn set_field_changes_the_working_key_and_emits_an_action() {
        let mut k = XKey::from(FlowKey {
            vlan_tci: 0x1000 | 5,
            ..Default::default()
        });
        let a = set_field(
            &mut k,
            &OxmField::VlanVid {
                value: 0x1000 | 20,
                mask: None,
            },
            &TlvMap::default(),
        )
        .unwrap();
        assert_eq!(k.vlan_tci, 0x1000 | 20);
        assert_eq!(a, Some(DpAction::set(Field::VlanVid, 20)));
        let a = set_field(
            &mut k,
            &OxmField::Metadata {
                value: 7,
                mask: None,
            },
            &TlvMap::default(),
        )
        .unwrap();
        assert_eq!(a, None);
        assert_eq!(k.metadata, 7);
    }

    #[test]
    fn set_fields_translation_cannot_honour_are_refused() {
        assert_eq!(
            check_set_field(&OxmField::IpProto(17), &TlvMap::default())
                .unwrap_err()
                .error,
            BadAction::BAD_SET_ARGUMENT
        );
        let isid = OxmField::PbbIsid {
            value: 1,
            mask: None,
        };
        assert_eq!(
            check_set_field(&isid, &TlvMap::default())
                .unwrap_err()
                .error,
            BadAction::BAD_SET_TYPE
        );
        assert!(check_set_field(&OxmField::IpDscp(8), &TlvMap::default()).is_ok());
    }

    #[test]
    fn unsupported_fields_are_refused() {
        let m = Match::new().with(OxmField::PbbIsid {
            value: 1,
            mask: None,
        });
        assert_eq!(
            match_to_key(&m, &TlvMap::default()).unwrap_err().error,
            BadMatch::BAD_FIELD
        );
    }
}

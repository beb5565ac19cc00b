//! Datapath actions: what to do with a packet once its megaflow is known.
//!
//! Actions are a flat list executed in order (see [`crate::exec`]). They are
//! deliberately lower-level than OpenFlow's: translation (ofproto's xlate)
//! turns a walk through many OpenFlow tables into one such list, so the fast
//! path never consults a table twice.
//!
//! Set-field is one generic action: a [`Field`] names a header field, and
//! the value and mask are big-endian bytes right-aligned in 16 bytes, the
//! way OXM writes them. A set-field on an IP or L4 field keeps every
//! checksum that covers it correct.

use crate::tunnel::{TlvMap, TunnelHeader, TunnelKind};
use crate::PortNo;
use std::sync::Arc;

/// A header or metadata field that actions can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    EthDst,
    EthSrc,
    EthType,
    /// The outer VLAN's 12-bit id (tag must be present).
    VlanVid,
    /// The outer VLAN's 3-bit priority.
    VlanPcp,
    /// The whole outer TCI (16 bits, as on the wire).
    VlanTci,
    MplsLabel,
    MplsTc,
    MplsBos,
    MplsTtl,
    Ipv4Src,
    Ipv4Dst,
    /// DSCP, 6 bits (the value is not shifted: 0..=63).
    IpDscp,
    /// ECN, 2 bits.
    IpEcn,
    /// IPv4 TTL or IPv6 hop limit.
    IpTtl,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    TcpSrc,
    TcpDst,
    UdpSrc,
    UdpDst,
    SctpSrc,
    SctpDst,
    Icmpv4Type,
    Icmpv4Code,
    Icmpv6Type,
    Icmpv6Code,
    ArpOp,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
    NdTarget,
    NdSll,
    NdTll,
    /// Packet metadata: the mark.
    PktMark,
}

impl Field {
    /// Width of the field in bytes as carried in a [`FieldValue`].
    pub fn width(self) -> usize {
        use Field::*;
        match self {
            EthDst | EthSrc | ArpSha | ArpTha | NdSll | NdTll => 6,
            Ipv6Src | Ipv6Dst | NdTarget => 16,
            Ipv4Src | Ipv4Dst | ArpSpa | ArpTpa | MplsLabel | Ipv6Label | PktMark => 4,
            EthType | VlanVid | VlanTci | TcpSrc | TcpDst | UdpSrc | UdpDst | SctpSrc | SctpDst
            | ArpOp => 2,
            VlanPcp | MplsTc | MplsBos | MplsTtl | IpDscp | IpEcn | IpTtl | Icmpv4Type
            | Icmpv4Code | Icmpv6Type | Icmpv6Code => 1,
        }
    }
}

/// A field value: big-endian bytes, right-aligned in 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FieldValue(pub [u8; 16]);

impl FieldValue {
    /// From the low `width` bytes of an integer.
    pub fn from_u128(v: u128) -> Self {
        FieldValue(v.to_be_bytes())
    }

    /// From big-endian bytes (at most 16).
    pub fn from_bytes(b: &[u8]) -> Self {
        let mut out = [0u8; 16];
        let n = b.len().min(16);
        out[16 - n..].copy_from_slice(&b[b.len() - n..]);
        FieldValue(out)
    }

    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// The low `n` bytes, big-endian.
    pub fn tail(&self, n: usize) -> &[u8] {
        &self.0[16 - n.min(16)..]
    }

    /// All ones over `width` bytes.
    pub fn ones(width: usize) -> Self {
        let mut out = [0u8; 16];
        out[16 - width.min(16)..].fill(0xff);
        FieldValue(out)
    }
}

/// One datapath action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a copy to a port (the packet itself when this is the last
    /// action that uses it).
    Output(PortNo),
    /// Write `value` into `field` where `mask` has bits set (a full mask is
    /// a plain set-field). Checksums are updated.
    Set {
        field: Field,
        value: FieldValue,
        mask: FieldValue,
    },
    /// Push a VLAN tag (outermost) with this TPID and TCI (the TCI as on the
    /// wire: the CFI/DEI bit is cleared on push).
    PushVlan { tpid: u16, tci: u16 },
    /// Remove the outermost VLAN tag.
    PopVlan,
    /// Push an MPLS label stack entry; `ethertype` is 0x8847 or 0x8848.
    PushMpls { ethertype: u16, lse: u32 },
    /// Pop the top MPLS label; `ethertype` is what the frame becomes.
    PopMpls { ethertype: u16 },
    /// Decrement the IP TTL / hop limit; when it would reach 0, the packet
    /// is not changed and the `on_zero` actions run instead (typically a
    /// userspace action that becomes an INVALID_TTL packet-in).
    DecTtl { on_zero: Arc<[Action]> },
    /// Decrement the MPLS TTL, same contract as `DecTtl`.
    DecMplsTtl { on_zero: Arc<[Action]> },
    /// Cut the packet to at most this many bytes for the following outputs.
    Truncate(u32),
    /// Send the following outputs to this egress queue of their port
    /// (OpenFlow's `set_queue`; see [`crate::qos`]).
    SetQueue(u32),
    /// Run the nested actions on a copy; the packet continues unchanged.
    Clone(Arc<[Action]>),
    /// With probability `probability` / 2^32 (`u32::MAX`: always), run
    /// the nested actions on a copy, as `Clone` does; otherwise nothing.
    /// Each packet is drawn independently (sFlow's random 1-in-N).
    Sample {
        probability: u32,
        actions: Arc<[Action]>,
    },
    /// Look the packet up again under a new recirculation id.
    Recirculate(u32),
    /// Police through a meter; a packet the meter drops stops here.
    Meter(u32),
    /// Hand the packet to the upcall handler (e.g. a packet-in).
    Userspace { userdata: u64 },
    /// Encapsulate in the prebuilt `header` and send to `port` (a copy
    /// unless this is the packet's last use, like `Output`). See
    /// [`crate::tunnel`].
    TunnelPush {
        header: Arc<TunnelHeader>,
        port: PortNo,
        /// The tunnel port's own number, whose egress QoS the packet goes
        /// through on its way to `port` ([`crate::qos`]).
        via: PortNo,
    },
    /// Validate and strip the outer headers of a `kind` tunnel packet to a
    /// local endpoint, keep them as tunnel metadata, and recirculate the
    /// inner frame (recirculation id 0) as if received on `port` (a copy
    /// unless this is the packet's last use). GENEVE options go into the
    /// key as `tlv` names them.
    TunnelPop {
        port: PortNo,
        kind: TunnelKind,
        tlv: Arc<TlvMap>,
    },
    /// Explicit drop (the empty action list also drops).
    Drop,
}

/// An action list as stored in a megaflow (shared, immutable).
pub type Actions = Arc<[Action]>;

impl Action {
    /// Convenience: a full (unmasked) set-field from an integer value.
    pub fn set(field: Field, value: u128) -> Action {
        Action::Set {
            field,
            value: FieldValue::from_u128(value),
            mask: FieldValue::ones(field.width()),
        }
    }

    /// Convenience: a masked set-field.
    pub fn set_masked(field: Field, value: u128, mask: u128) -> Action {
        Action::Set {
            field,
            value: FieldValue::from_u128(value),
            mask: FieldValue::from_u128(mask),
        }
    }
}

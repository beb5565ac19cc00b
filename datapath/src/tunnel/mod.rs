//! Native tunnelling in the datapath: VXLAN, GENEVE and GRE encapsulation
//! ([`push`]) and decapsulation ([`pop`]), as Open vSwitch's userspace
//! datapath does it.
//!
//! The one idea: **the datapath only pushes and pops bytes.** Translation
//! (ofproto) resolves the route and the neighbour of a tunnel output and
//! hands the datapath one [`TunnelHeader`]: the whole outer Ethernet, IP and
//! UDP/GRE header, prebuilt with the wire layer's `Repr`s, inside an
//! `Action::TunnelPush`. Per packet the datapath copies it in front of the
//! frame and patches the few fields that depend on the packet: lengths, the
//! IPv4 header checksum, the UDP source port (a hash of the inner flow), the
//! UDP or GRE checksum and the GRE sequence number.
//!
//! Decapsulation is `Action::TunnelPop { port, kind, tlv }` on a packet that
//! translation found addressed to a local endpoint. The outer headers are
//! validated, stripped, and what they said is kept with the packet as
//! [`TunnelMetadata`] (VNI or GRE key, outer addresses, flags, and the
//! GENEVE options the bridge's [`TlvMap`] names); the inner frame is then recirculated as if received on the
//! tunnel port `port`, with recirculation id 0, and flow extraction copies
//! the metadata into the key's `tun_*` fields.
//!
//! Every packet that cannot be pushed or popped is dropped and counted by
//! reason ([`TunnelDrop`], [`TunnelCounters`]); nothing here panics on any
//! input bytes.

mod header;
mod pop;
mod push;
mod tlv;

#[cfg(test)]
mod tests;

pub use header::{
    Encap, ErspanVersion, HeaderError, OuterIp, TunnelHeader, TunnelKind, TunnelSpec,
};
pub(crate) use pop::pop_and_recirculate;
pub use pop::{parse, parse_with, pop, Decap};
pub(crate) use push::push_and_output;
pub use push::{flow_hash, push, udp_src_port, UDP_SRC_PORT_MAX, UDP_SRC_PORT_MIN};
pub use tlv::{TlvEntry, TlvError, TlvMap, MAX_OPTION_LEN, TUN_MD_FIELDS};

use crate::flow::key::TUN_MD_BYTES;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::flow::key::{TUN_CSUM, TUN_DONT_FRAGMENT, TUN_KEY, TUN_OAM, TUN_PRESENT};

/// What a decapsulation learnt from the outer headers, carried with the
/// inner packet until the next lookup (and beyond, until it leaves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelMetadata {
    /// `TUN_*` bits; zero means "not received through a tunnel".
    pub flags: u16,
    /// VXLAN / GENEVE VNI or GRE key.
    pub id: u64,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Outer TOS / traffic class and TTL / hop limit.
    pub tos: u8,
    pub ttl: u8,
    /// Outer UDP ports (zero for GRE).
    pub tp_src: u16,
    pub tp_dst: u16,
    /// The GENEVE options the pop's TLV map named: bit N set for
    /// `tun_metadata<N>`, values at the map's offsets (see [`tlv`]).
    pub md_present: u64,
    pub md: [u8; TUN_MD_BYTES],
}

impl Default for TunnelMetadata {
    fn default() -> Self {
        TunnelMetadata {
            flags: 0,
            id: 0,
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            tos: 0,
            ttl: 0,
            tp_src: 0,
            tp_dst: 0,
            md_present: 0,
            md: [0; TUN_MD_BYTES],
        }
    }
}

impl TunnelMetadata {
    /// Forget everything (nothing to forget when no pop filled it).
    #[inline]
    pub fn clear(&mut self) {
        if self.flags != 0 {
            *self = TunnelMetadata::default();
        }
    }

    pub fn is_present(&self) -> bool {
        self.flags & TUN_PRESENT != 0
    }
}

/// Why a packet was dropped by a tunnel action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelDrop {
    /// Push: the encapsulated packet exceeds the header's underlay MTU.
    TooBig,
    /// Push: the inner packet's checksum or GSO state could not be completed.
    Offload,
    /// Pop: a header ends before it should.
    Truncated,
    /// Pop: the outer frame is not IPv4 or IPv6.
    NotIp,
    /// Pop: the outer IP header is malformed.
    IpHeader,
    /// Pop: the outer IPv4 packet is a fragment (no reassembly here).
    Fragment,
    /// Pop: the IP protocol is not the tunnel's (UDP or GRE).
    Protocol,
    /// Pop: the UDP length disagrees with the IP length.
    Length,
    /// Pop: an IPv4 header, UDP or GRE checksum does not verify.
    Checksum,
    /// Pop: a VXLAN header without the I flag.
    VxlanFlags,
    /// Pop: a GENEVE version other than 0 or a broken option chain.
    GeneveHeader,
    /// Pop: a GENEVE critical option the TLV map does not name (RFC 8926
    /// 3.5).
    GeneveCritical,
    /// Pop: a GENEVE option the TLV map names, with another length.
    GeneveOptionLength,
    /// Pop: GRE with a version, routing or recursion bit this datapath
    /// does not implement.
    GreFlags,
    /// Pop: GENEVE or GRE carrying something other than Ethernet (0x6558).
    PayloadType,
}

impl TunnelDrop {
    pub const COUNT: usize = 15;
    pub const ALL: [TunnelDrop; Self::COUNT] = [
        Self::TooBig,
        Self::Offload,
        Self::Truncated,
        Self::NotIp,
        Self::IpHeader,
        Self::Fragment,
        Self::Protocol,
        Self::Length,
        Self::Checksum,
        Self::VxlanFlags,
        Self::GeneveHeader,
        Self::GeneveCritical,
        Self::GeneveOptionLength,
        Self::GreFlags,
        Self::PayloadType,
    ];

    /// A short name for counters output.
    pub fn name(self) -> &'static str {
        match self {
            Self::TooBig => "push_too_big",
            Self::Offload => "push_offload",
            Self::Truncated => "pop_truncated",
            Self::NotIp => "pop_not_ip",
            Self::IpHeader => "pop_ip_header",
            Self::Fragment => "pop_fragment",
            Self::Protocol => "pop_protocol",
            Self::Length => "pop_length",
            Self::Checksum => "pop_checksum",
            Self::VxlanFlags => "pop_vxlan_flags",
            Self::GeneveHeader => "pop_geneve_header",
            Self::GeneveCritical => "pop_geneve_critical",
            Self::GeneveOptionLength => "pop_geneve_option_length",
            Self::GreFlags => "pop_gre_flags",
            Self::PayloadType => "pop_payload_type",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }
}

/// Per-worker drop counters by reason (monotonic, relaxed).
#[derive(Debug, Default)]
pub struct TunnelCounters {
    drops: [AtomicU64; TunnelDrop::COUNT],
}

impl TunnelCounters {
    pub fn count(&self, reason: TunnelDrop) {
        self.drops[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> TunnelDrops {
        let mut out = TunnelDrops::default();
        for (o, c) in out.0.iter_mut().zip(&self.drops) {
            *o = c.load(Ordering::Relaxed);
        }
        out
    }
}

/// A snapshot of [`TunnelCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunnelDrops(pub [u64; TunnelDrop::COUNT]);

impl TunnelDrops {
    pub fn get(&self, reason: TunnelDrop) -> u64 {
        self.0[reason.index()]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `(name, count)` for every reason.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        TunnelDrop::ALL.iter().map(|&r| (r.name(), self.get(r)))
    }
}

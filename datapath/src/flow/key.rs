//! [`FlowKey`]: the parsed headers and metadata of one packet, laid out as
//! [`FLOW_WORDS`] 64-bit words.
//!
//! The named fields are for the code that fills and reads keys (extraction,
//! translation, actions). The word view is for the caches: masking a key is a
//! word-wise AND, hashing it is a fold over the words a mask cares about, and
//! comparing it is a word compare. `bytemuck` proves the two views are the
//! same memory, so none of this needs `unsafe`.
//!
//! Conventions (as in Open vSwitch, so translation maps one to one):
//! * multi-byte numbers are stored as host integers holding the network
//!   value (`ipv4_src = 0x0a000001` is 10.0.0.1); addresses as byte arrays;
//! * `vlan_tci` has [`VLAN_CFI`] set when a tag is present, so "no VLAN" and
//!   "VLAN 0" differ; the outer tag is `vlan_*`, the inner one `inner_vlan_*`;
//! * `eth_type` is the type after any VLAN tags (0x8847 for MPLS);
//! * `nw_proto` also holds the low 8 bits of the ARP opcode; `tp_src` /
//!   `tp_dst` hold the ICMP type / code for ICMPv4 and ICMPv6;
//! * `arp_sha`/`arp_tha` double as the IPv6 ND source / target link-layer
//!   addresses, `ipv4_src`/`ipv4_dst` as ARP SPA/TPA;
//! * the tunnel words (0..9) are zero unless a tunnel pop filled them; GENEVE
//!   options sit in `tun_md` where the bridge's TLV map puts them
//!   (`crate::tunnel::TlvMap`).
//!
//! What only the OpenFlow pipeline uses (registers, metadata) is not here:
//! ofproto's translation key extends this one.

use bytemuck::{Pod, Zeroable};

/// Number of 64-bit words in a [`FlowKey`].
pub const FLOW_WORDS: usize = 25;

/// Bytes of GENEVE option data a key holds ([`FlowKey::tun_md`]): the
/// values of the options a bridge's TLV map names, packed in map order.
pub const TUN_MD_BYTES: usize = 16;

/// "A VLAN tag is present" bit in `vlan_tci` / `inner_vlan_tci`.
pub const VLAN_CFI: u16 = 0x1000;
/// VLAN id bits of a TCI.
pub const VLAN_VID_MASK: u16 = 0x0fff;
/// Priority (PCP) bits of a TCI.
pub const VLAN_PCP_MASK: u16 = 0xe000;

/// `nw_frag` bits, as the header walk reports them.
pub use crate::wire::walk::{FRAG_ANY, FRAG_LATER};

/// Tunnel flag: the key carries tunnel metadata.
pub const TUN_PRESENT: u16 = 1;
/// Tunnel flags: the outer IPv4 header had "don't fragment" set.
pub const TUN_DONT_FRAGMENT: u16 = 1 << 1;
/// Tunnel flags: the outer UDP or GRE checksum was present (and verified).
pub const TUN_CSUM: u16 = 1 << 2;
/// Tunnel flags: `tun_id` holds a VNI or a GRE key.
pub const TUN_KEY: u16 = 1 << 3;
/// Tunnel flags: a GENEVE OAM (control) packet.
pub const TUN_OAM: u16 = 1 << 4;

/// The flow key. Field order is the word layout; change it only together
/// with [`FLOW_WORDS`] (a compile-time assertion checks the size).
#[repr(C, align(8))]
#[derive(Clone, Copy, Pod, Zeroable, PartialEq, Eq, Hash, Default, Debug)]
pub struct FlowKey {
    // --- tunnel (words 0..8) ---
    pub tun_id: u64,
    /// Outer IPv4 addresses (zero for an IPv6 underlay).
    pub tun_src: u32,
    pub tun_dst: u32,
    /// Outer IPv6 addresses (zero for an IPv4 underlay).
    pub tun_ipv6_src: [u8; 16],
    pub tun_ipv6_dst: [u8; 16],
    /// Which `tun_metadata<N>` fields the packet carried (bit N), and
    /// their values at the offsets the bridge's TLV map gives them.
    pub tun_md_present: u64,
    pub tun_md: [u8; TUN_MD_BYTES],
    // --- packet metadata (words 9..10) ---
    pub in_port: u32,
    pub recirc_id: u32,
    pub pkt_mark: u32,
    pub dp_hash: u32,
    // --- L2 (words 11..14) ---
    pub eth_dst: [u8; 6],
    pub eth_type: u16,
    pub eth_src: [u8; 6],
    pub vlan_tci: u16,
    pub vlan_tpid: u16,
    pub inner_vlan_tci: u16,
    pub inner_vlan_tpid: u16,
    pub tun_flags: u16,
    /// Top MPLS label stack entry, as on the wire (label:20 tc:3 bos:1 ttl:8).
    pub mpls_lse: u32,
    /// IPv6 flow label (20 bits).
    pub ipv6_label: u32,
    // --- L3 (words 15..23) ---
    pub ipv4_src: u32,
    pub ipv4_dst: u32,
    pub ipv6_src: [u8; 16],
    pub ipv6_dst: [u8; 16],
    pub nd_target: [u8; 16],
    pub arp_sha: [u8; 6],
    pub nw_proto: u8,
    /// DSCP (high 6 bits) and ECN (low 2 bits).
    pub nw_tos: u8,
    pub arp_tha: [u8; 6],
    pub nw_ttl: u8,
    pub nw_frag: u8,
    // --- L4 (word 24) ---
    pub tp_src: u16,
    pub tp_dst: u16,
    pub tcp_flags: u16,
    pub _pad: u16,
}

const _: () = assert!(std::mem::size_of::<FlowKey>() == FLOW_WORDS * 8);

/// The words before `in_port`: the tunnel fields.
const TUNNEL_WORDS: usize = 9;
const _: () = assert!(std::mem::offset_of!(FlowKey, in_port) == TUNNEL_WORDS * 8);

/// A mask over flow keys: a set bit means the bit of the key matters.
pub type Mask = FlowKey;

impl FlowKey {
    /// The key as words (same memory).
    #[inline]
    pub fn words(&self) -> &[u64; FLOW_WORDS] {
        bytemuck::cast_ref(self)
    }

    /// The key as mutable words (same memory).
    #[inline]
    pub fn words_mut(&mut self) -> &mut [u64; FLOW_WORDS] {
        bytemuck::cast_mut(self)
    }

    /// A mask with every bit set (an exact match).
    pub fn exact() -> Mask {
        let mut m = FlowKey::default();
        m.words_mut().fill(u64::MAX);
        m._pad = 0;
        m
    }

    /// `self & mask`, word by word.
    #[inline]
    pub fn masked(&self, mask: &Mask) -> FlowKey {
        let mut out = FlowKey::default();
        let (a, m) = (self.words(), mask.words());
        for (o, (a, m)) in out.words_mut().iter_mut().zip(a.iter().zip(m.iter())) {
            *o = a & m;
        }
        out
    }

    /// True if `self` and `other` agree on every bit of `mask`.
    #[inline]
    pub fn matches(&self, other: &FlowKey, mask: &Mask) -> bool {
        let (a, b, m) = (self.words(), other.words(), mask.words());
        (0..FLOW_WORDS).all(|i| (a[i] ^ b[i]) & m[i] == 0)
    }

    /// Hash of the key (the exact-match cache's hash, once per packet).
    /// A key without tunnel metadata has every tunnel word zero
    /// (extraction writes them only from what a tunnel pop left), so its
    /// hash skips them: the common packet pays nothing for the tunnel
    /// fields. The choice depends only on the key, so equal keys hash
    /// equal.
    #[inline]
    pub fn hash(&self) -> u32 {
        let from = if self.tun_flags == 0 { TUNNEL_WORDS } else { 0 };
        let mut h = HashState::new(0);
        for &w in &self.words()[from..] {
            h.add(w);
        }
        h.finish()
    }

    /// Bitwise OR of two masks (used to widen a megaflow's mask with what a
    /// translation consulted).
    pub fn union(&self, other: &Mask) -> Mask {
        let mut out = *self;
        for (o, b) in out.words_mut().iter_mut().zip(other.words().iter()) {
            *o |= *b;
        }
        out
    }

    /// True if no bit is set.
    pub fn is_zero(&self) -> bool {
        self.words().iter().all(|&w| w == 0)
    }

    /// The IPv4/IPv6 destination or ARP TPA is an L3 packet? Helpers for
    /// readers of keys.
    pub fn is_ip(&self) -> bool {
        self.eth_type == ETH_TYPE_IPV4 || self.eth_type == ETH_TYPE_IPV6
    }
}

// The key's names for the wire layer's numbers (one definition each).
pub use crate::wire::ethernet::ether_type::{
    ARP as ETH_TYPE_ARP, IPV4 as ETH_TYPE_IPV4, IPV6 as ETH_TYPE_IPV6, MPLS as ETH_TYPE_MPLS,
    MPLS_MCAST as ETH_TYPE_MPLS_MCAST, QINQ as ETH_TYPE_QINQ, VLAN as ETH_TYPE_VLAN,
};
pub use crate::wire::ip::protocol::{
    ICMP as IPPROTO_ICMP, ICMPV6 as IPPROTO_ICMPV6, SCTP as IPPROTO_SCTP, TCP as IPPROTO_TCP,
    UDP as IPPROTO_UDP,
};

/// A small, fast, well-mixing word hash (multiply-rotate per word, a final
/// avalanche). Not cryptographic: the caches bound chain lengths anyway.
#[derive(Clone, Copy, Debug)]
pub struct HashState(u64);

impl HashState {
    #[inline]
    pub fn new(basis: u64) -> Self {
        HashState(basis ^ 0x9e37_79b9_7f4a_7c15)
    }

    #[inline]
    pub fn add(&mut self, w: u64) {
        self.0 = (self.0 ^ w)
            .wrapping_mul(0xff51_afd7_ed55_8ccd)
            .rotate_left(29);
    }

    #[inline]
    pub fn finish(self) -> u32 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^= x >> 33;
        x as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_fields_are_the_same_memory() {
        let mut k = FlowKey::default();
        k.tun_id = 0x1122_3344_5566_7788;
        assert_eq!(k.words()[0], 0x1122_3344_5566_7788);
        k.words_mut()[24] = 0;
        k.tp_src = 80;
        assert_ne!(k.words()[24], 0);
    }

    #[test]
    fn masking_and_matching_agree() {
        let mut a = FlowKey::default();
        a.ipv4_src = 0x0a00_0001;
        a.tp_dst = 80;
        let mut b = a;
        b.tp_dst = 443;
        let mut mask = FlowKey::default();
        mask.ipv4_src = u32::MAX;
        assert!(a.matches(&b, &mask));
        assert_eq!(a.masked(&mask), b.masked(&mask));
        mask.tp_dst = u16::MAX;
        assert!(!a.matches(&b, &mask));
    }
}

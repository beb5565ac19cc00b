//! [`TunnelHeader`]: the outer header of one tunnel output, built once by
//! translation with the wire layer's `Repr`s and shared by every packet of
//! the megaflow.
//!
//! The one idea: everything per-tunnel is decided here, at build time
//! (addresses, TTL, DF, VNI or key, options, whether to checksum), so the
//! per-packet work in [`super::push`] is a copy and a handful of patches.

use crate::wire::ethernet::{self, ether_type, Address};
use crate::wire::{geneve, gre, ip::protocol, ipv4, ipv6, udp, vxlan};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

/// The encapsulation of a tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    Vxlan,
    Geneve,
    Gre,
    /// ERSPAN type II or III over GRE: transmit only (remote mirroring).
    Erspan,
}

/// GRE protocol numbers of ERSPAN type II and type III.
pub const GRE_PROTO_ERSPAN2: u16 = 0x88be;
pub const GRE_PROTO_ERSPAN3: u16 = 0x22eb;
/// ERSPAN header lengths after the GRE header.
pub const ERSPAN2_LEN: usize = 8;
pub const ERSPAN3_LEN: usize = 12;

/// An ERSPAN version and its version-specific fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErspanVersion {
    /// Type II (header version 1): a 20-bit port index.
    V1 { index: u32 },
    /// Type III (header version 2): direction (true: egress) and a 6-bit
    /// hardware id; each packet gets a timestamp in 100-microsecond units.
    V2 { egress: bool, hwid: u8 },
}

/// The outer IP header's per-tunnel fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OuterIp {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        tos: u8,
        ttl: u8,
        /// Set "don't fragment" (the default of Open vSwitch tunnels).
        df: bool,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        traffic_class: u8,
        hop_limit: u8,
        flow_label: u32,
    },
}

/// The encapsulation header's per-tunnel fields.
#[derive(Clone, Debug)]
pub enum Encap<'a> {
    Vxlan {
        vni: u32,
        dst_port: u16,
        /// Compute the UDP checksum (always done over IPv6).
        csum: bool,
    },
    Geneve {
        vni: u32,
        dst_port: u16,
        csum: bool,
        oam: bool,
        /// A TLV chain built with `wire::geneve::GeneveOption::emit`.
        options: &'a [u8],
    },
    Gre {
        key: Option<u32>,
        csum: bool,
        /// Send sequence numbers from this counter (owned by the tunnel
        /// port on the control side, so it survives re-translation).
        seq: Option<Arc<AtomicU32>>,
    },
    /// GRE with a sequence number (always present) and an ERSPAN header.
    Erspan {
        /// The 10-bit session id.
        session: u16,
        version: ErspanVersion,
        seq: Arc<AtomicU32>,
    },
}

/// Everything translation supplies for one tunnel output.
#[derive(Clone, Debug)]
pub struct TunnelSpec<'a> {
    /// The next hop's MAC (from the neighbour cache) and the underlay
    /// port's MAC.
    pub eth_dst: Address,
    pub eth_src: Address,
    pub ip: OuterIp,
    pub encap: Encap<'a>,
    /// The underlay port's L3 MTU (largest outer IP packet); 0: no limit.
    pub mtu: u16,
}

/// Why a header could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("VNI {0:#x} does not fit 24 bits")]
    VniTooLarge(u32),
    #[error("GENEVE options are not a chain of TLVs of at most 252 bytes")]
    BadGeneveOptions,
    #[error("ERSPAN session {0} does not fit 10 bits, or an index or hwid its field")]
    BadErspan(u16),
}

/// A prebuilt outer header (see the module essay).
#[derive(Debug)]
pub struct TunnelHeader {
    kind: TunnelKind,
    /// Ethernet + IP + UDP + VXLAN/GENEVE, or Ethernet + IP + GRE, with
    /// every length, checksum and the UDP source port zero.
    bytes: Box<[u8]>,
    v6: bool,
    /// Start of the UDP or GRE header.
    l4: usize,
    udp_csum: bool,
    gre_csum: bool,
    /// Where the GRE sequence number goes, and its counter.
    gre_seq: Option<(usize, Arc<AtomicU32>)>,
    /// Where an ERSPAN type III timestamp goes.
    erspan_ts: Option<usize>,
    mtu: u16,
}

/// Two headers are equal when they write the same bytes the same way (a
/// GRE sequence counter compares by identity).
impl PartialEq for TunnelHeader {
    fn eq(&self, o: &Self) -> bool {
        let seq_eq = match (&self.gre_seq, &o.gre_seq) {
            (None, None) => true,
            (Some((a, x)), Some((b, y))) => a == b && Arc::ptr_eq(x, y),
            _ => false,
        };
        self.kind == o.kind
            && self.bytes == o.bytes
            && self.udp_csum == o.udp_csum
            && self.gre_csum == o.gre_csum
            && self.erspan_ts == o.erspan_ts
            && self.mtu == o.mtu
            && seq_eq
    }
}

impl Eq for TunnelHeader {}

impl TunnelHeader {
    /// Build the header for `spec`.
    pub fn new(spec: TunnelSpec<'_>) -> Result<Self, HeaderError> {
        let (kind, proto, encap_len) = match &spec.encap {
            Encap::Vxlan { vni, .. } => {
                check_vni(*vni)?;
                (
                    TunnelKind::Vxlan,
                    protocol::UDP,
                    udp::HEADER_LEN + vxlan::HEADER_LEN,
                )
            }
            Encap::Geneve { vni, options, .. } => {
                check_vni(*vni)?;
                if options.len() > geneve::MAX_OPTIONS_LEN || options.len() % 4 != 0 {
                    return Err(HeaderError::BadGeneveOptions);
                }
                let n = udp::HEADER_LEN + geneve::HEADER_LEN + options.len();
                (TunnelKind::Geneve, protocol::UDP, n)
            }
            Encap::Gre { key, csum, seq } => {
                let r = gre_repr(*key, *csum, seq.is_some());
                (TunnelKind::Gre, protocol::GRE, r.buffer_len())
            }
            Encap::Erspan {
                session, version, ..
            } => {
                let fits = match version {
                    ErspanVersion::V1 { index } => *index < 1 << 20,
                    ErspanVersion::V2 { hwid, .. } => *hwid < 1 << 6,
                };
                if *session >= 1 << 10 || !fits {
                    return Err(HeaderError::BadErspan(*session));
                }
                let (proto, len) = erspan_proto(version);
                let r = gre::Repr {
                    protocol: proto,
                    ..gre_repr(None, false, true)
                };
                (TunnelKind::Erspan, protocol::GRE, r.buffer_len() + len)
            }
        };
        let v6 = matches!(spec.ip, OuterIp::V6 { .. });
        let l3 = ethernet::HEADER_LEN;
        let l4 = l3
            + if v6 {
                ipv6::HEADER_LEN
            } else {
                ipv4::HEADER_LEN
            };
        let mut b = vec![0u8; l4 + encap_len];
        ethernet::Repr {
            dst: spec.eth_dst,
            src: spec.eth_src,
            ethertype: if v6 {
                ether_type::IPV6
            } else {
                ether_type::IPV4
            },
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut b[..l3]));
        match spec.ip {
            OuterIp::V4 {
                src,
                dst,
                tos,
                ttl,
                df,
            } => ipv4::Repr {
                tos,
                ident: 0,
                flags_frag: if df { ipv4::DONT_FRAGMENT } else { 0 },
                ttl,
                protocol: proto,
                src: src.into(),
                dst: dst.into(),
                payload_len: 0,
            }
            .emit(&mut ipv4::Packet::new_unchecked(&mut b[l3..l4])),
            OuterIp::V6 {
                src,
                dst,
                traffic_class,
                hop_limit,
                flow_label,
            } => ipv6::Repr {
                traffic_class,
                flow_label,
                next_header: proto,
                hop_limit,
                src: src.octets(),
                dst: dst.octets(),
                payload_len: 0,
            }
            .emit(&mut ipv6::Packet::new_unchecked(&mut b[l3..l4])),
        }
        let mut udp_csum = false;
        let mut gre_csum = false;
        let mut gre_seq = None;
        let mut erspan_ts = None;
        let after_udp = l4 + udp::HEADER_LEN;
        match spec.encap {
            Encap::Vxlan {
                vni,
                dst_port,
                csum,
            } => {
                udp_csum = csum || v6;
                emit_udp(&mut b[l4..], dst_port);
                vxlan::Repr { vni }.emit(&mut vxlan::Packet::new_unchecked(&mut b[after_udp..]));
            }
            Encap::Geneve {
                vni,
                dst_port,
                csum,
                oam,
                options,
            } => {
                udp_csum = csum || v6;
                emit_udp(&mut b[l4..], dst_port);
                let r = geneve::Repr {
                    oam,
                    critical: false,
                    protocol: ether_type::TEB,
                    vni,
                    options,
                };
                // Let the wire layer check the chain, then set C if any
                // option is critical (RFC 8926 3.4).
                let mut tmp = vec![0u8; r.buffer_len()];
                r.emit(&mut geneve::Packet::new_unchecked(&mut tmp[..]));
                let view = geneve::Packet::new_checked(&tmp[..])
                    .map_err(|_| HeaderError::BadGeneveOptions)?;
                let parsed =
                    geneve::Repr::parse(&view).map_err(|_| HeaderError::BadGeneveOptions)?;
                let critical = parsed
                    .options()
                    .any(|o| o.opt_type & geneve::OPTION_TYPE_CRITICAL != 0);
                geneve::Repr { critical, ..r }
                    .emit(&mut geneve::Packet::new_unchecked(&mut b[after_udp..]));
            }
            Encap::Gre { key, csum, seq } => {
                let r = gre_repr(key, csum, seq.is_some());
                r.emit(&mut gre::Packet::new_unchecked(&mut b[l4..]));
                gre_csum = csum;
                gre_seq = seq.map(|s| (b.len() - 4, s));
            }
            Encap::Erspan {
                session,
                version,
                seq,
            } => {
                let (proto, len) = erspan_proto(&version);
                let r = gre::Repr {
                    protocol: proto,
                    ..gre_repr(None, false, true)
                };
                r.emit(&mut gre::Packet::new_unchecked(&mut b[l4..]));
                let at = l4 + r.buffer_len();
                gre_seq = Some((at - 4, seq));
                let e = &mut b[at..at + len];
                match version {
                    ErspanVersion::V1 { index } => {
                        // Ver 1, VLAN 0 | COS 0, En 0, T 0, session | index.
                        e[0..2].copy_from_slice(&0x1000u16.to_be_bytes());
                        e[2..4].copy_from_slice(&session.to_be_bytes());
                        e[4..8].copy_from_slice(&index.to_be_bytes());
                    }
                    ErspanVersion::V2 { egress, hwid } => {
                        // Ver 2, VLAN 0 | COS, BSO, T, session | timestamp
                        // (per packet) | SGT | P 1 (an Ethernet frame
                        // follows, as Linux sets it), FT 0, HW ID, D,
                        // Gra 00 (100 us), O.
                        e[0..2].copy_from_slice(&0x2000u16.to_be_bytes());
                        e[2..4].copy_from_slice(&session.to_be_bytes());
                        let low = 0x8000 | (u16::from(hwid) << 4) | (u16::from(egress) << 3);
                        e[10..12].copy_from_slice(&low.to_be_bytes());
                        erspan_ts = Some(at + 4);
                    }
                }
            }
        }
        Ok(TunnelHeader {
            kind,
            bytes: b.into_boxed_slice(),
            v6,
            l4,
            udp_csum,
            gre_csum,
            gre_seq,
            erspan_ts,
            mtu: spec.mtu,
        })
    }

    pub fn kind(&self) -> TunnelKind {
        self.kind
    }

    /// The prebuilt bytes (lengths, checksums and source port zero).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn is_v6(&self) -> bool {
        self.v6
    }

    pub(crate) fn l4(&self) -> usize {
        self.l4
    }

    pub(crate) fn udp_csum(&self) -> bool {
        self.udp_csum
    }

    pub(crate) fn gre_csum(&self) -> bool {
        self.gre_csum
    }

    pub(crate) fn gre_seq(&self) -> Option<&(usize, Arc<AtomicU32>)> {
        self.gre_seq.as_ref()
    }

    pub(crate) fn erspan_ts(&self) -> Option<usize> {
        self.erspan_ts
    }

    /// The underlay L3 MTU (0: no limit).
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// Bytes the header adds to the outer IP packet (everything but the
    /// outer Ethernet header).
    pub fn ip_overhead(&self) -> usize {
        self.bytes.len() - ethernet::HEADER_LEN
    }
}

fn check_vni(vni: u32) -> Result<(), HeaderError> {
    if vni > vxlan::VNI_MAX {
        return Err(HeaderError::VniTooLarge(vni));
    }
    Ok(())
}

/// The GRE protocol and header length of an ERSPAN version.
fn erspan_proto(v: &ErspanVersion) -> (u16, usize) {
    match v {
        ErspanVersion::V1 { .. } => (GRE_PROTO_ERSPAN2, ERSPAN2_LEN),
        ErspanVersion::V2 { .. } => (GRE_PROTO_ERSPAN3, ERSPAN3_LEN),
    }
}

fn gre_repr(key: Option<u32>, csum: bool, seq: bool) -> gre::Repr {
    gre::Repr {
        protocol: ether_type::TEB,
        checksum: csum.then_some(0),
        key,
        seq: seq.then_some(0),
    }
}

fn emit_udp(b: &mut [u8], dst_port: u16) {
    udp::Repr {
        src_port: 0,
        dst_port,
        payload_len: 0,
    }
    .emit(&mut udp::Packet::new_unchecked(b));
}

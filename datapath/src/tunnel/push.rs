//! Encapsulation: the prebuilt header in front of the frame, then the
//! per-packet patches.
//!
//! The one idea: an inner packet with offload work left (a partial
//! checksum, a GSO request) is finished *before* it is encapsulated, since
//! once inside the tunnel its offsets no longer describe the frame; the
//! result of a push therefore never carries offload state.

use super::{TunnelDrop, TunnelHeader, TunnelKind};
use crate::exec::ExecSink;
use crate::flow::key::HashState;
use crate::flow::FlowKey;
use crate::packet::{Offload, Packet};
use crate::wire::walk;
use crate::wire::{checksum as csum, ethernet, ip::protocol, ipv4, ipv6, udp, write32};
use crate::{offload, PortNo};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The UDP source port range (Linux's default ephemeral range, as Open
/// vSwitch uses): the outer source port is a hash of the inner flow mapped
/// onto it, so ECMP in the underlay spreads flows and keeps each in order.
pub const UDP_SRC_PORT_MIN: u16 = 32768;
pub const UDP_SRC_PORT_MAX: u16 = 61000;

/// The inner flow's hash: addresses, protocol and ports of the key the
/// packet was looked up with (stable for every packet of a flow, and for
/// every segment of a GSO packet).
pub fn flow_hash(key: &FlowKey) -> u32 {
    let mut h = HashState::new(0);
    let w = key.words();
    // L2 (words 7..11), L3 addresses and protocol (11..19), ports (20).
    for &word in &w[7..9] {
        h.add(word);
    }
    for &word in &w[11..17] {
        h.add(word);
    }
    h.add(u64::from(key.nw_proto));
    h.add(u64::from(key.tp_src) << 16 | u64::from(key.tp_dst));
    h.finish()
}

/// Map a hash onto [`UDP_SRC_PORT_MIN`]..[`UDP_SRC_PORT_MAX`] (a multiply,
/// not a modulo, so every bit of the hash counts).
pub fn udp_src_port(hash: u32) -> u16 {
    let range = u64::from(UDP_SRC_PORT_MAX - UDP_SRC_PORT_MIN);
    ((u64::from(hash) * range) >> 32) as u16 + UDP_SRC_PORT_MIN
}

/// An ERSPAN type III timestamp: a free-running count of 100-microsecond
/// ticks (granularity 00) since the first one was taken.
fn erspan_timestamp() -> u32 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = EPOCH.get_or_init(std::time::Instant::now);
    (epoch.elapsed().as_micros() / 100) as u32
}

/// Encapsulate `packet` (which must carry no offload state) in `h`, with
/// `hash` as the inner flow's hash. On error the packet is unchanged.
pub fn push(packet: &mut Packet, h: &TunnelHeader, hash: u32) -> Result<(), TunnelDrop> {
    let l3 = ethernet::HEADER_LEN;
    let ip_len = h.ip_overhead() + packet.len();
    let ip_max = if h.is_v6() {
        0xffff + ipv6::HEADER_LEN
    } else {
        0xffff
    };
    if ip_len > ip_max || (h.mtu() != 0 && ip_len > usize::from(h.mtu())) {
        return Err(TunnelDrop::TooBig);
    }
    packet
        .insert_bytes(0, h.bytes().len())
        .copy_from_slice(h.bytes());
    let d = packet.data_mut();
    let l4 = h.l4();
    let l4_len = d.len() - l4;
    if h.is_v6() {
        let mut ip = ipv6::Packet::new_unchecked(&mut d[l3..l4]);
        ip.set_payload_len((ip_len - ipv6::HEADER_LEN) as u16);
    } else {
        let mut ip = ipv4::Packet::new_unchecked(&mut d[l3..l4]);
        ip.set_total_len(ip_len as u16);
        ip.fill_checksum();
    }
    match h.kind() {
        TunnelKind::Vxlan | TunnelKind::Geneve => {
            let mut u = udp::Packet::new_unchecked(&mut d[l4..]);
            u.set_src_port(udp_src_port(hash));
            u.set_length(l4_len as u16);
            if h.udp_csum() {
                let ps = if h.is_v6() {
                    csum::pseudo_v6(
                        &d[l3 + 8..l3 + 24],
                        &d[l3 + 24..l3 + 40],
                        protocol::UDP,
                        l4_len,
                    )
                } else {
                    csum::pseudo_v4(
                        &d[l3 + 12..l3 + 16],
                        &d[l3 + 16..l3 + 20],
                        protocol::UDP,
                        l4_len,
                    )
                };
                let c = csum::finish(csum::sum(ps, &d[l4..]));
                let c = if c == 0 { 0xffff } else { c };
                udp::Packet::new_unchecked(&mut d[l4..]).set_checksum(c);
            }
        }
        TunnelKind::Gre | TunnelKind::Erspan => {
            if let Some((at, seq)) = h.gre_seq() {
                write32(d, *at, seq.fetch_add(1, Ordering::Relaxed));
            }
            if let Some(at) = h.erspan_ts() {
                write32(d, at, erspan_timestamp());
            }
            if h.gre_csum() {
                let c = csum::finish(csum::sum(0, &d[l4..]));
                crate::wire::write16(d, l4 + crate::wire::gre::field::OPTIONAL, c);
            }
        }
    }
    packet.offload = Offload::default();
    Ok(())
}

/// The `TunnelPush` action: finish the inner packet's offloads, encapsulate
/// it (or each of its segments) and hand it to `port` through tunnel port
/// `via` (`to` = (port, via)); failures are counted through `sink` and the
/// packet is freed.
pub(crate) fn push_and_output(
    mut packet: Packet,
    h: &Arc<TunnelHeader>,
    to: (PortNo, PortNo),
    hash: u32,
    sink: &mut dyn ExecSink,
) {
    if packet.offload.gso.is_some() {
        // Cut the inner packet so every encapsulated segment fits the
        // underlay MTU (segment() takes the inner IP packet's limit).
        let inner_l2 = walk::headers(packet.data()).l3();
        let mtu = if h.mtu() == 0 {
            0
        } else {
            let m = usize::from(h.mtu()).saturating_sub(h.ip_overhead() + inner_l2);
            if m == 0 {
                sink.tunnel_drop(TunnelDrop::TooBig);
                sink.free(packet);
                return;
            }
            m
        };
        let mut segments = Vec::new();
        let result = offload::segment(&packet, mtu, &mut segments, &mut || sink.alloc());
        sink.free(packet);
        if result.is_err() {
            sink.tunnel_drop(TunnelDrop::Offload);
            for s in segments {
                sink.free(s);
            }
            return;
        }
        for s in segments {
            push_one(s, h, to, hash, sink);
        }
        return;
    }
    if offload::complete_csum(&mut packet).is_err() {
        sink.tunnel_drop(TunnelDrop::Offload);
        sink.free(packet);
        return;
    }
    push_one(packet, h, to, hash, sink);
}

fn push_one(
    mut packet: Packet,
    h: &TunnelHeader,
    (port, via): (PortNo, PortNo),
    hash: u32,
    sink: &mut dyn ExecSink,
) {
    packet.offload = Offload::default();
    match push(&mut packet, h, hash) {
        Ok(()) => sink.output_via(via, port, packet),
        Err(r) => {
            sink.tunnel_drop(r);
            sink.free(packet);
        }
    }
}

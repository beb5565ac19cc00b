//! Action execution: running a megaflow's [`Action`] list on one packet.
//!
//! The list is executed in order on the packet's bytes. Header offsets come
//! from a walk of the frame itself ([`crate::wire::walk`], the same walk
//! flow-key extraction does, so the same limits: a field a megaflow matched
//! is a field a set-field finds), not from the flow key: the key describes
//! the packet as it was received, and after a push, a pop or a set-field it
//! is stale. The walk is redone only after an action that can move headers.
//!
//! The one idea to hold: **the packet is handed over, not copied, at its
//! last use.** Before running the list, [`execute`] finds the last action
//! that still needs the packet (an output, a clone, a meter, a userspace
//! action, an exception path of a TTL decrement). An output before that
//! point sends a copy made in a buffer from [`ExecSink::alloc`]; the output
//! *at* that point sends the packet itself. So the common `output:N` costs
//! no copy, and `output:1,set,output:2` costs exactly one.
//!
//! Other contracts:
//! * `Truncate(n)` makes every later output (in this list and in nested
//!   clones) send at most `n` bytes. The packet itself stays whole for later
//!   actions; a truncated copy loses its offload state (a partial checksum
//!   or a GSO request no longer describes the bytes).
//! * `Clone(list)` runs `list` on a copy; the original continues. When the
//!   clone is the last use, the list runs on the packet itself. `Sample`
//!   is a `Clone` taken with a probability (a per-thread xorshift draw;
//!   the packets it does not take cost that draw only). A clone of only
//!   userspace actions (a sampler's) reads the packet without copying it.
//! * `DecTtl` / `DecMplsTtl` on a TTL of 0 or 1 leaves the packet unchanged,
//!   runs the `on_zero` list on it, and ends the processing (as the Linux
//!   datapath does). On a packet without that header they do nothing.
//! * `TunnelPush` is an output through a tunnel, `TunnelPop` a
//!   recirculation of the decapsulated frame; both are uses of the packet
//!   like `Output` (see [`crate::tunnel`]).
//! * `Recirculate` hands the packet to the sink and ends the processing;
//!   `Meter` returning false drops it; `Drop` drops it. A packet still held
//!   at the end of the list goes back through [`ExecSink::free`].
//! * Nothing here allocates on the set-field and output paths, and nothing
//!   panics on any packet bytes. Nesting deeper than [`MAX_DEPTH`] drops the
//!   packet instead of recursing further.

/// The Internet checksum arithmetic lives with the headers it covers.
pub(crate) use crate::wire::checksum as csum;
mod push_pop;
mod set_field;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use crate::wire::testing as verify;

use crate::actions::Action;
use crate::flow::FlowKey;
use crate::meter::MeterVerdict;
use crate::packet::{Offload, Packet};
use crate::wire::walk::{self, Headers};
use crate::PortNo;
use push_pop::Ttl;

/// How deeply `Clone` and TTL exception lists may nest.
pub const MAX_DEPTH: usize = 16;

/// What executing actions needs from its surroundings (the worker implements
/// it; tests use a recording sink).
pub trait ExecSink {
    /// Queue `packet` for transmission on `port` (the worker batches per port
    /// and applies offload fix-ups for the port's capabilities at flush).
    fn output(&mut self, port: PortNo, packet: Packet);
    /// Queue `packet` for `port` through the egress QoS of tunnel port
    /// `via`, if it has one (the worker's does; by default a plain output).
    fn output_via(&mut self, via: PortNo, port: PortNo, packet: Packet) {
        let _ = via;
        self.output(port, packet);
    }
    /// A `Userspace` action fired.
    fn userspace(&mut self, packet: &Packet, key: &FlowKey, userdata: u64);
    /// Look the packet up again with `packet.recirc_id` = `recirc_id`.
    fn recirculate(&mut self, packet: Packet, recirc_id: u32);
    /// Police `len` bytes through meter `meter_id`.
    fn meter(&mut self, meter_id: u32, len: usize) -> MeterVerdict;
    /// A packet buffer for a copy (from the worker's pool).
    fn alloc(&mut self) -> Packet;
    /// Give back a buffer that is no longer needed.
    fn free(&mut self, packet: Packet);
    /// A tunnel action dropped a packet (the packet itself goes through
    /// [`ExecSink::free`]).
    fn tunnel_drop(&mut self, _reason: crate::tunnel::TunnelDrop) {}
}

/// A uniformly distributed 32-bit number from this thread's xorshift64*
/// generator (seeded from the clock and the thread's stack address).
fn random_u32() -> u32 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            let here = &t as *const u64 as u64;
            (t ^ here.rotate_left(32)) | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    })
}

/// Execute `actions` on `packet`, whose parsed key is `key`.
pub fn execute(actions: &[Action], packet: Packet, key: &FlowKey, sink: &mut dyn ExecSink) {
    run(actions, packet, key, sink, None, 0);
}

/// Does `action` look at the packet after everything before it ran (so an
/// output before it must send a copy)?
fn uses_packet(action: &Action) -> bool {
    match action {
        Action::Output(_)
        | Action::Clone(_)
        | Action::Sample { .. }
        | Action::Recirculate(_)
        | Action::Meter(_)
        | Action::Userspace { .. }
        | Action::TunnelPush { .. }
        | Action::TunnelPop { .. } => true,
        Action::DecTtl { on_zero } | Action::DecMplsTtl { on_zero } => !on_zero.is_empty(),
        Action::Set { .. }
        | Action::PushVlan { .. }
        | Action::PopVlan
        | Action::PushMpls { .. }
        | Action::PopMpls { .. }
        | Action::Truncate(_)
        | Action::SetQueue(_)
        | Action::Drop => false,
    }
}

/// The state of one run over one list.
struct Run<'a> {
    key: &'a FlowKey,
    /// Truncation for outputs (`None`: whole packet).
    trunc: Option<usize>,
    /// The walk of the current bytes (`None`: must be redone).
    layout: Option<Headers>,
    depth: usize,
}

impl Run<'_> {
    /// The walk of the packet's current bytes (walked now if stale).
    #[inline]
    fn layout(&mut self, packet: &Packet) -> &Headers {
        self.layout
            .get_or_insert_with(|| walk::headers(packet.data()))
    }
}

fn run(
    actions: &[Action],
    mut packet: Packet,
    key: &FlowKey,
    sink: &mut dyn ExecSink,
    trunc: Option<usize>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        sink.free(packet);
        return;
    }
    let last_use = actions.iter().rposition(uses_packet);
    let mut st = Run {
        key,
        trunc,
        layout: None,
        depth,
    };
    for (i, action) in actions.iter().enumerate() {
        let last = last_use == Some(i);
        match action {
            Action::Output(port) => {
                if last {
                    apply_trunc(&mut packet, st.trunc);
                    sink.output(*port, packet);
                    return;
                }
                let copy = copy_for_output(&packet, st.trunc, sink);
                sink.output(*port, copy);
            }
            Action::Set { field, value, mask } => {
                let layout = st.layout(&packet);
                set_field::set_field(&mut packet, layout, *field, value, mask);
                if set_field::changes_layout(*field) {
                    st.layout = None;
                }
            }
            Action::PushVlan { tpid, tci } => {
                push_pop::push_vlan(&mut packet, *tpid, *tci);
                st.layout = None;
            }
            Action::PopVlan => {
                let layout = st.layout(&packet);
                push_pop::pop_vlan(&mut packet, layout);
                st.layout = None;
            }
            Action::PushMpls { ethertype, lse } => {
                let layout = st.layout(&packet);
                push_pop::push_mpls(&mut packet, layout, *ethertype, *lse);
                st.layout = None;
            }
            Action::PopMpls { ethertype } => {
                let layout = st.layout(&packet);
                push_pop::pop_mpls(&mut packet, layout, *ethertype);
                st.layout = None;
            }
            Action::DecTtl { on_zero } | Action::DecMplsTtl { on_zero } => {
                let layout = st.layout(&packet);
                let outcome = if matches!(action, Action::DecTtl { .. }) {
                    push_pop::dec_ttl(&mut packet, layout)
                } else {
                    push_pop::dec_mpls_ttl(&mut packet, layout)
                };
                if outcome == Ttl::Expired {
                    run(on_zero, packet, st.key, sink, st.trunc, st.depth + 1);
                    return;
                }
            }
            Action::Truncate(n) => {
                let n = *n as usize;
                st.trunc = Some(st.trunc.map_or(n, |t| t.min(n)));
            }
            Action::SetQueue(q) => packet.queue = Some(*q),
            Action::Clone(nested)
            | Action::Sample {
                actions: nested, ..
            } => {
                if let Action::Sample { probability, .. } = action {
                    if *probability != u32::MAX && random_u32() >= *probability {
                        continue;
                    }
                }
                // Only userspace actions (a sampler's): they read the
                // packet, so it needs no copy.
                if nested.iter().all(|a| matches!(a, Action::Userspace { .. })) {
                    for a in nested.iter() {
                        if let Action::Userspace { userdata } = a {
                            sink.userspace(&packet, st.key, *userdata);
                        }
                    }
                    continue;
                }
                if last {
                    run(nested, packet, st.key, sink, st.trunc, st.depth + 1);
                    return;
                }
                let mut copy = sink.alloc();
                copy.copy_from(&packet);
                run(nested, copy, st.key, sink, st.trunc, st.depth + 1);
            }
            Action::Recirculate(id) => {
                packet.recirc_id = *id;
                sink.recirculate(packet, *id);
                return;
            }
            Action::Meter(id) => match sink.meter(*id, packet.len()) {
                MeterVerdict::Pass => {}
                MeterVerdict::Drop => {
                    sink.free(packet);
                    return;
                }
                MeterVerdict::RemarkDscp(levels) => {
                    let layout = st.layout(&packet);
                    set_field::remark_dscp(&mut packet, layout, levels);
                }
            },
            Action::Userspace { userdata } => sink.userspace(&packet, st.key, *userdata),
            Action::TunnelPush { header, port, via } => {
                let hash = crate::tunnel::flow_hash(st.key);
                let to = (*port, *via);
                if last {
                    apply_trunc(&mut packet, st.trunc);
                    crate::tunnel::push_and_output(packet, header, to, hash, sink);
                    return;
                }
                let copy = copy_for_output(&packet, st.trunc, sink);
                crate::tunnel::push_and_output(copy, header, to, hash, sink);
            }
            Action::TunnelPop { port, kind, tlv } => {
                if last {
                    crate::tunnel::pop_and_recirculate(packet, *kind, tlv, *port, sink);
                    return;
                }
                let mut copy = sink.alloc();
                copy.copy_from(&packet);
                crate::tunnel::pop_and_recirculate(copy, *kind, tlv, *port, sink);
            }
            Action::Drop => break,
        }
    }
    sink.free(packet);
}

/// Cut `packet` to the truncation length; a cut packet loses its offloads.
#[inline]
fn apply_trunc(packet: &mut Packet, trunc: Option<usize>) {
    if let Some(n) = trunc {
        if n < packet.len() {
            packet.truncate(n);
            packet.offload = Offload::default();
        }
    }
}

/// A copy of `packet` for an output that is not its last use, cut to the
/// truncation length (only the bytes that will be sent are copied).
#[inline]
fn copy_for_output(packet: &Packet, trunc: Option<usize>, sink: &mut dyn ExecSink) -> Packet {
    let mut copy = sink.alloc();
    match trunc {
        Some(n) if n < packet.len() => {
            copy.set_frame(&packet.data()[..n]);
            copy.in_port = packet.in_port;
            copy.mark = packet.mark;
            copy.recirc_id = packet.recirc_id;
            copy.tunnel.clone_from(&packet.tunnel);
            copy.offload = Offload::default();
        }
        _ => copy.copy_from(packet),
    }
    copy
}

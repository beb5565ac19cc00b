//! Port mirroring, in Open vSwitch's model: copies of selected packets to
//! an analyzer port (SPAN) or, tagged with a VLAN, to every other port
//! (RSPAN).
//!
//! A [`Mirror`] selects a packet when it selects everything, when the
//! packet came in on one of its source ports, or when translation sends it
//! out of one of its destination ports; when it lists VLANs, the packet
//! must also be in one of them (untagged is VLAN 0). Mirroring is a last
//! step of translation ([`apply`]): it reads the finished datapath actions
//! and inserts, per selected mirror, one `Clone` of the packet to the
//! mirror's output, where the packet is as the selecting port sees it: at
//! the front for a source port or `select_all` (the packet as received),
//! just before the first output to a destination port (the packet as that
//! port gets it). A clone leaves the packet itself unchanged for the
//! actions after it, and the copy can be cut to a snap length.
//!
//! So the datapath sees ordinary megaflows, and the mask widens only with
//! what mirroring consulted (the VLAN, when a mirror selects by it).
//! Mirrored packets are never mirrored again: a mirror's output port takes
//! no part in forwarding (packets received on it are dropped, NORMAL never
//! floods to it), and the copies are not looked at by other mirrors. Two
//! mirrors with the same output send one copy. Counters are credited like
//! rule counters, from the megaflows' stats, by the revalidator.

use datapath::actions::{Action as Dp, Field, FieldValue};
use datapath::flow::key::{VLAN_CFI, VLAN_VID_MASK};
use datapath::flow::FlowKey;
use datapath::PortNo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where a mirror sends its copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorOutput {
    /// SPAN: to this port.
    Port(PortNo),
    /// RSPAN: tagged with this VLAN, to every port but the ingress port
    /// (and other mirrors' output ports).
    Vlan(u16),
}

/// One mirror of a bridge (immutable; replaced as a whole on change).
#[derive(Debug)]
pub struct Mirror {
    pub name: String,
    pub select_all: bool,
    pub select_src: Vec<PortNo>,
    pub select_dst: Vec<PortNo>,
    /// Only packets in these VLANs (empty: any).
    pub select_vlan: Vec<u16>,
    pub output: MirrorOutput,
    /// Bytes kept of each copy (0: all).
    pub snaplen: u32,
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
}

impl Mirror {
    pub fn new(
        name: &str,
        select_all: bool,
        select_src: Vec<PortNo>,
        select_dst: Vec<PortNo>,
        select_vlan: Vec<u16>,
        output: MirrorOutput,
        snaplen: u32,
    ) -> Mirror {
        Mirror {
            name: name.to_string(),
            select_all,
            select_src,
            select_dst,
            select_vlan,
            output,
            snaplen,
            tx_packets: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
        }
    }

    /// Count traffic the megaflows of a mirrored translation carried.
    pub fn credit(&self, packets: u64, bytes: u64) {
        self.tx_packets.fetch_add(packets, Ordering::Relaxed);
        self.tx_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The output port of any mirror of `mirrors` (no part in forwarding).
pub fn is_output_port(mirrors: &[Arc<Mirror>], port: PortNo) -> bool {
    mirrors.iter().any(|m| m.output == MirrorOutput::Port(port))
}

fn dst_of(a: &Dp) -> Option<PortNo> {
    match a {
        Dp::Output(p) => Some(*p),
        Dp::TunnelPush { port, .. } => Some(*port),
        _ => None,
    }
}

/// The packet's VLAN as mirrors select by it (0: untagged).
fn vlan_of(key: &FlowKey) -> u16 {
    if key.vlan_tci & VLAN_CFI != 0 {
        key.vlan_tci & VLAN_VID_MASK
    } else {
        0
    }
}

/// Insert the copies `mirrors` make of a packet with `key` into its
/// translated `actions`; `ports` are the bridge's ports (for RSPAN) and
/// `output` emits an output to a port (a tunnel port becomes a push).
/// Returns the mirrors that selected the packet (for their counters).
pub fn apply(
    mirrors: &[Arc<Mirror>],
    key: &FlowKey,
    wc: &mut FlowKey,
    actions: &mut Vec<Dp>,
    ports: &[PortNo],
    output: &mut dyn FnMut(PortNo, &mut FlowKey, &mut Vec<Dp>),
) -> Vec<Arc<Mirror>> {
    let mut selected = Vec::new();
    // (position in `actions`, the copy) in the order found.
    let mut copies: Vec<(usize, Vec<Dp>)> = Vec::new();
    let mut sent_to: Vec<MirrorOutput> = Vec::new();
    for m in mirrors {
        if !m.select_vlan.is_empty() {
            wc.vlan_tci |= VLAN_CFI | VLAN_VID_MASK;
            if !m.select_vlan.contains(&vlan_of(key)) {
                continue;
            }
        }
        let at = if m.select_all || m.select_src.contains(&key.in_port) {
            Some(0)
        } else {
            actions
                .iter()
                .position(|a| dst_of(a).is_some_and(|p| m.select_dst.contains(&p)))
        };
        let Some(at) = at else {
            continue;
        };
        selected.push(m.clone());
        if sent_to.contains(&m.output) {
            continue;
        }
        sent_to.push(m.output);
        let mut copy = Vec::new();
        if m.snaplen > 0 {
            copy.push(Dp::Truncate(m.snaplen));
        }
        match m.output {
            MirrorOutput::Port(p) => {
                // The port already gets the packet itself.
                if actions.iter().any(|a| dst_of(a) == Some(p)) || p == key.in_port {
                    selected.pop();
                    continue;
                }
                output(p, wc, &mut copy);
            }
            MirrorOutput::Vlan(vid) => {
                wc.vlan_tci |= VLAN_CFI | VLAN_VID_MASK;
                if key.vlan_tci & VLAN_CFI != 0 {
                    copy.push(Dp::Set {
                        field: Field::VlanVid,
                        value: FieldValue::from_u128(u128::from(vid)),
                        mask: FieldValue::from_u128(u128::from(VLAN_VID_MASK)),
                    });
                } else {
                    copy.push(Dp::PushVlan {
                        tpid: 0x8100,
                        tci: vid,
                    });
                }
                for &p in ports {
                    if p != key.in_port && !is_output_port(mirrors, p) {
                        output(p, wc, &mut copy);
                    }
                }
            }
        }
        copies.push((at, copy));
    }
    // Insert from the back so earlier positions stay valid; copies at the
    // same position keep their mirrors' order.
    copies.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, copy) in copies {
        actions.insert(at, Dp::Clone(copy.into()));
    }
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(in_port: PortNo, vlan: Option<u16>) -> FlowKey {
        FlowKey {
            in_port,
            vlan_tci: vlan.map(|v| v | VLAN_CFI).unwrap_or(0),
            ..Default::default()
        }
    }

    fn run(mirrors: &[Arc<Mirror>], k: &FlowKey, actions: Vec<Dp>) -> (Vec<Dp>, FlowKey, usize) {
        let mut wc = FlowKey::default();
        let mut actions = actions;
        let sel = apply(
            mirrors,
            k,
            &mut wc,
            &mut actions,
            &[1, 2, 3, 4],
            &mut |p, _, out| out.push(Dp::Output(p)),
        );
        (actions, wc, sel.len())
    }

    fn span(src: Vec<PortNo>, dst: Vec<PortNo>, vlans: Vec<u16>, out: PortNo) -> Arc<Mirror> {
        Arc::new(Mirror::new(
            "m",
            false,
            src,
            dst,
            vlans,
            MirrorOutput::Port(out),
            0,
        ))
    }

    fn clone_of(actions: &[Dp]) -> Vec<Dp> {
        actions
            .iter()
            .find_map(|a| match a {
                Dp::Clone(c) => Some(c.to_vec()),
                _ => None,
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_source_port_is_copied_first_a_destination_before_its_output() {
        let m = [span(vec![1], vec![], vec![], 4)];
        let (a, wc, n) = run(&m, &key(1, None), vec![Dp::Output(2)]);
        assert_eq!(n, 1);
        assert!(matches!(&a[0], Dp::Clone(_)));
        assert_eq!(clone_of(&a), vec![Dp::Output(4)]);
        assert_eq!(a[1], Dp::Output(2));
        assert_eq!(wc, FlowKey::default(), "nothing consulted beyond in_port");

        let m = [span(vec![], vec![3], vec![], 4)];
        let set = Dp::Set {
            field: Field::EthDst,
            value: FieldValue::from_bytes(&[2; 6]),
            mask: FieldValue::from_bytes(&[0xff; 6]),
        };
        let (a, _, _) = run(
            &m,
            &key(1, None),
            vec![Dp::Output(2), set.clone(), Dp::Output(3)],
        );
        assert_eq!(a[0], Dp::Output(2));
        assert_eq!(a[1], set);
        assert!(matches!(&a[2], Dp::Clone(_)), "{a:?}");
        assert_eq!(a[3], Dp::Output(3));
        // Not selected: neither from 2 nor to 3.
        let (a, _, n) = run(&m, &key(2, None), vec![Dp::Output(1)]);
        assert_eq!((a, n), (vec![Dp::Output(1)], 0));
    }

    #[test]
    fn vlans_filter_and_widen_the_mask_rspan_tags_and_floods() {
        let m = [span(vec![1], vec![], vec![10], 4)];
        let (a, wc, n) = run(&m, &key(1, None), vec![Dp::Output(2)]);
        assert_eq!((a.len(), n), (1, 0), "untagged is VLAN 0, not 10");
        assert_eq!(wc.vlan_tci, VLAN_CFI | VLAN_VID_MASK);
        let (_, _, n) = run(&m, &key(1, Some(10)), vec![Dp::Output(2)]);
        assert_eq!(n, 1);

        let r = [Arc::new(Mirror::new(
            "r",
            true,
            vec![],
            vec![],
            vec![],
            MirrorOutput::Vlan(20),
            64,
        ))];
        let (a, _, _) = run(&r, &key(2, None), vec![Dp::Output(1)]);
        assert_eq!(
            clone_of(&a),
            vec![
                Dp::Truncate(64),
                Dp::PushVlan {
                    tpid: 0x8100,
                    tci: 20
                },
                Dp::Output(1),
                Dp::Output(3),
                Dp::Output(4),
            ]
        );
    }

    #[test]
    fn one_copy_per_output_and_none_to_a_port_that_gets_the_packet() {
        let m = [
            span(vec![1], vec![], vec![], 4),
            span(vec![], vec![2], vec![], 4),
        ];
        let (a, _, n) = run(&m, &key(1, None), vec![Dp::Output(2)]);
        assert_eq!(n, 2, "both mirrors count the packet");
        assert_eq!(a.iter().filter(|x| matches!(x, Dp::Clone(_))).count(), 1);
        let (a, _, _) = run(&m[..1], &key(1, None), vec![Dp::Output(4)]);
        assert_eq!(a, vec![Dp::Output(4)]);
        assert!(is_output_port(&m, 4) && !is_output_port(&m, 2));
    }
}

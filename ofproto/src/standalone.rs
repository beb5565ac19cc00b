//! The standalone bridge: a learning switch as an upcall handler.
//!
//! With no controller (fail-mode standalone), a bridge behaves as the NORMAL
//! action does: learn which port each source MAC lives behind (per VLAN),
//! send a frame to the port its destination was learned on, flood it to every
//! other port when the destination is unknown or a group address.
//!
//! The decision depends on the input port, both MACs and the VLAN id, and on
//! nothing else, so the megaflow mask un-wildcards exactly those: every
//! micro-flow between two stations shares one megaflow. When learning changes
//! a decision (a new station appears, a station moves, ages out, or a port
//! goes), the megaflows that encoded the old decision are invalidated through
//! the [`Invalidator`] the bridge was given.

use crate::mac_learning::{is_multicast, Learned, MacTable};
use arc_swap::ArcSwap;
use datapath::actions::Action;
use datapath::flow::key::{VLAN_CFI, VLAN_VID_MASK};
use datapath::flow::FlowKey;
use datapath::packet::Packet;
use datapath::upcall::{UpcallHandler, UpcallReply};
use datapath::PortNo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Which cached decisions to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidate {
    /// Megaflows whose key has this destination MAC on this VLAN.
    Destination { vlan: u16, mac: [u8; 6] },
    /// Every megaflow.
    All,
}

/// Called when learning changes a forwarding decision.
pub type Invalidator = Box<dyn Fn(Invalidate) + Send + Sync>;

/// Counters of the learning bridge.
#[derive(Debug, Default)]
pub struct BridgeCounters {
    pub upcalls: AtomicU64,
    pub flooded: AtomicU64,
    pub forwarded: AtomicU64,
    pub dropped_hairpin: AtomicU64,
    pub invalidations: AtomicU64,
}

/// A learning switch over the bridge's ports.
pub struct LearningBridge {
    ports: ArcSwap<Vec<PortNo>>,
    macs: Mutex<MacTable>,
    invalidator: OnceLock<Invalidator>,
    pub counters: BridgeCounters,
}

impl std::fmt::Debug for LearningBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearningBridge")
            .field("ports", &self.ports.load())
            .field("counters", &self.counters)
            .finish()
    }
}

/// The VLAN id a key is on (0 when untagged).
fn vlan_of(key: &FlowKey) -> u16 {
    if key.vlan_tci & VLAN_CFI != 0 {
        key.vlan_tci & VLAN_VID_MASK
    } else {
        0
    }
}

impl LearningBridge {
    pub fn new(table: MacTable) -> Self {
        LearningBridge {
            ports: ArcSwap::from_pointee(Vec::new()),
            macs: Mutex::new(table),
            invalidator: OnceLock::new(),
            counters: BridgeCounters::default(),
        }
    }

    /// Set the hook that drops cached decisions (once).
    pub fn set_invalidator(&self, f: Invalidator) {
        let _ = self.invalidator.set(f);
    }

    fn invalidate(&self, what: Invalidate) {
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        if let Some(f) = self.invalidator.get() {
            f(what);
        }
    }

    /// The bridge's ports changed: flood sets and learned ports are stale.
    pub fn set_ports(&self, mut ports: Vec<PortNo>) {
        ports.sort_unstable();
        let old = self.ports.swap(Arc::new(ports.clone()));
        if let Ok(mut macs) = self.macs.lock() {
            for gone in old.iter().filter(|p| !ports.contains(p)) {
                macs.flush_port(*gone);
            }
        }
        self.invalidate(Invalidate::All);
    }

    /// Age out stations; call periodically.
    pub fn run_aging(&self, now: Instant) {
        let expired = match self.macs.lock() {
            Ok(mut m) => m.expire(now),
            Err(_) => return,
        };
        for (vlan, mac) in expired {
            self.invalidate(Invalidate::Destination { vlan, mac });
        }
    }

    /// The learned stations: (vlan, mac, port, age in seconds).
    pub fn mac_entries(&self) -> Vec<(u16, [u8; 6], PortNo, u64)> {
        let now = Instant::now();
        self.macs
            .lock()
            .map(|m| {
                m.entries(now)
                    .into_iter()
                    .map(|(v, mac, p, age)| (v, mac, p, age.as_secs()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Decide the output ports for a frame and learn its source.
    fn decide(&self, key: &FlowKey) -> Vec<Action> {
        let now = Instant::now();
        let vlan = vlan_of(key);
        let (learned, evicted, dst_port) = match self.macs.lock() {
            Ok(mut macs) => {
                let (learned, evicted) = macs.learn(vlan, key.eth_src, key.in_port, now);
                let dst = if is_multicast(&key.eth_dst) {
                    None
                } else {
                    macs.lookup(vlan, &key.eth_dst, now)
                };
                (learned, evicted, dst)
            }
            Err(_) => (None, None, None),
        };
        if matches!(learned, Some(Learned::New) | Some(Learned::Moved { .. })) {
            self.invalidate(Invalidate::Destination {
                vlan,
                mac: key.eth_src,
            });
        }
        if let Some((vlan, mac)) = evicted {
            self.invalidate(Invalidate::Destination { vlan, mac });
        }
        match dst_port {
            Some(p) if p == key.in_port => {
                self.counters
                    .dropped_hairpin
                    .fetch_add(1, Ordering::Relaxed);
                Vec::new()
            }
            Some(p) => {
                self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
                vec![Action::Output(p)]
            }
            None => {
                self.counters.flooded.fetch_add(1, Ordering::Relaxed);
                self.ports
                    .load()
                    .iter()
                    .filter(|&&p| p != key.in_port)
                    .map(|&p| Action::Output(p))
                    .collect()
            }
        }
    }
}

impl UpcallHandler for LearningBridge {
    fn miss(&self, _packet: &Packet, key: &FlowKey) -> Option<UpcallReply> {
        self.counters.upcalls.fetch_add(1, Ordering::Relaxed);
        let actions = self.decide(key);
        let mask = FlowKey {
            in_port: u32::MAX,
            recirc_id: u32::MAX,
            eth_src: [0xff; 6],
            eth_dst: [0xff; 6],
            vlan_tci: VLAN_CFI | VLAN_VID_MASK,
            ..Default::default()
        };
        Some(UpcallReply {
            actions: Arc::from(actions),
            mask,
            install: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    fn key(in_port: PortNo, src: u8, dst: [u8; 6]) -> FlowKey {
        FlowKey {
            in_port,
            eth_src: [2, 0, 0, 0, 0, src],
            eth_dst: dst,
            eth_type: 0x0800,
            ..Default::default()
        }
    }

    #[test]
    fn floods_unknown_then_forwards_learned_and_invalidates() {
        let bridge = LearningBridge::new(MacTable::default());
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let s = seen.clone();
        bridge.set_invalidator(Box::new(move |w| s.lock().unwrap().push(w)));
        bridge.set_ports(vec![1, 2, 3]);
        let p = Packet::default();

        // 1 -> 2 unknown: flood to 2 and 3.
        let r = bridge.miss(&p, &key(1, 1, [2, 0, 0, 0, 0, 2])).unwrap();
        assert_eq!(&*r.actions, &[Action::Output(2), Action::Output(3)]);
        assert_eq!(r.mask.tp_src, 0);
        assert_eq!(r.mask.in_port, u32::MAX);
        // 2 -> 1: known now.
        let r = bridge.miss(&p, &key(2, 2, [2, 0, 0, 0, 0, 1])).unwrap();
        assert_eq!(&*r.actions, &[Action::Output(1)]);
        // Learning station 2 invalidated the flood toward it.
        assert!(seen.lock().unwrap().contains(&Invalidate::Destination {
            vlan: 0,
            mac: [2, 0, 0, 0, 0, 2]
        }));
        // Broadcast floods.
        let r = bridge.miss(&p, &key(3, 3, [0xff; 6])).unwrap();
        assert_eq!(&*r.actions, &[Action::Output(1), Action::Output(2)]);
        // Hairpin: destination behind the input port is dropped.
        let r = bridge.miss(&p, &key(1, 9, [2, 0, 0, 0, 0, 1])).unwrap();
        assert!(r.actions.is_empty());
        // Removing port 1 forgets station 1.
        bridge.set_ports(vec![2, 3]);
        let r = bridge.miss(&p, &key(2, 2, [2, 0, 0, 0, 0, 1])).unwrap();
        assert_eq!(&*r.actions, &[Action::Output(3)]);
    }

    #[test]
    fn vlans_learn_separately() {
        let bridge = LearningBridge::new(MacTable::default());
        bridge.set_ports(vec![1, 2, 3]);
        let p = Packet::default();
        let mut k = key(1, 1, [0xff; 6]);
        k.vlan_tci = VLAN_CFI | 10;
        bridge.miss(&p, &k);
        let mut back = key(2, 2, [2, 0, 0, 0, 0, 1]);
        back.vlan_tci = VLAN_CFI | 20;
        let r = bridge.miss(&p, &back).unwrap();
        assert_eq!(r.actions.len(), 2, "station 1 is unknown on VLAN 20");
    }
}

//! The MAC learning table behind the NORMAL action.
//!
//! Keyed by (VLAN id, MAC): the same MAC on two VLANs is two stations. An
//! entry remembers the port and when the station was last seen; entries
//! older than the aging time are forgotten. The table is bounded: when full,
//! the least recently seen entry makes room (and is reported, so cached
//! forwarding decisions that depend on it can be revalidated).

use datapath::PortNo;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Default aging time, as in Open vSwitch.
pub const DEFAULT_AGING: Duration = Duration::from_secs(300);
/// Default capacity, as in Open vSwitch.
pub const DEFAULT_MAX_ENTRIES: usize = 8192;

#[derive(Debug, Clone, Copy)]
struct Station {
    port: PortNo,
    seen: Instant,
}

/// What learning a station changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// Already known on this port; only the time was refreshed.
    Refreshed,
    /// A new station.
    New,
    /// The station moved from this port.
    Moved { from: PortNo },
}

/// VLAN-aware MAC learning table.
#[derive(Debug)]
pub struct MacTable {
    stations: HashMap<(u16, [u8; 6]), Station>,
    aging: Duration,
    max_entries: usize,
}

impl Default for MacTable {
    fn default() -> Self {
        Self::new(DEFAULT_AGING, DEFAULT_MAX_ENTRIES)
    }
}

/// True for group (multicast and broadcast) addresses.
pub fn is_multicast(mac: &[u8; 6]) -> bool {
    mac[0] & 1 != 0
}

impl MacTable {
    pub fn new(aging: Duration, max_entries: usize) -> Self {
        MacTable {
            stations: HashMap::new(),
            aging,
            max_entries: max_entries.max(1),
        }
    }

    /// Learn that `mac` on `vlan` was seen on `port` at `now`. Group
    /// addresses are never learned. When full, the stalest entry goes and
    /// is returned beside the outcome.
    pub fn learn(
        &mut self,
        vlan: u16,
        mac: [u8; 6],
        port: PortNo,
        now: Instant,
    ) -> (Option<Learned>, Option<(u16, [u8; 6])>) {
        if is_multicast(&mac) {
            return (None, None);
        }
        if let Some(s) = self.stations.get_mut(&(vlan, mac)) {
            let from = s.port;
            s.seen = now;
            s.port = port;
            return if from == port {
                (Some(Learned::Refreshed), None)
            } else {
                (Some(Learned::Moved { from }), None)
            };
        }
        let mut evicted = None;
        if self.stations.len() >= self.max_entries {
            if let Some((&k, _)) = self.stations.iter().min_by_key(|(_, s)| s.seen) {
                self.stations.remove(&k);
                evicted = Some(k);
            }
        }
        self.stations
            .insert((vlan, mac), Station { port, seen: now });
        (Some(Learned::New), evicted)
    }

    /// The port `mac` on `vlan` was last seen on, if not aged out.
    pub fn lookup(&self, vlan: u16, mac: &[u8; 6], now: Instant) -> Option<PortNo> {
        let s = self.stations.get(&(vlan, *mac))?;
        (now.duration_since(s.seen) < self.aging).then_some(s.port)
    }

    /// Forget stations not seen for the aging time; returns them.
    pub fn expire(&mut self, now: Instant) -> Vec<(u16, [u8; 6])> {
        let aging = self.aging;
        let old: Vec<_> = self
            .stations
            .iter()
            .filter(|(_, s)| now.duration_since(s.seen) >= aging)
            .map(|(k, _)| *k)
            .collect();
        for k in &old {
            self.stations.remove(k);
        }
        old
    }

    /// Forget every station learned on `port` (the port went away).
    pub fn flush_port(&mut self, port: PortNo) -> Vec<(u16, [u8; 6])> {
        let gone: Vec<_> = self
            .stations
            .iter()
            .filter(|(_, s)| s.port == port)
            .map(|(k, _)| *k)
            .collect();
        for k in &gone {
            self.stations.remove(k);
        }
        gone
    }

    /// Every station: (vlan, mac, port, age).
    pub fn entries(&self, now: Instant) -> Vec<(u16, [u8; 6], PortNo, Duration)> {
        let mut v: Vec<_> = self
            .stations
            .iter()
            .map(|(&(vlan, mac), s)| (vlan, mac, s.port, now.duration_since(s.seen)))
            .collect();
        v.sort_by_key(|e| (e.0, e.1));
        v
    }

    pub fn len(&self) -> usize {
        self.stations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stations.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    #[test]
    fn learn_move_age_and_vlans() {
        let mut t = MacTable::new(Duration::from_secs(10), 100);
        let t0 = Instant::now();
        assert_eq!(t.learn(0, A, 1, t0).0, Some(Learned::New));
        assert_eq!(t.learn(0, A, 1, t0).0, Some(Learned::Refreshed));
        assert_eq!(t.learn(0, A, 2, t0).0, Some(Learned::Moved { from: 1 }));
        assert_eq!(t.lookup(0, &A, t0), Some(2));
        assert_eq!(t.lookup(10, &A, t0), None, "VLANs are separate");
        assert_eq!(
            t.learn(0, [0xff; 6], 1, t0).0,
            None,
            "broadcast not learned"
        );
        let later = t0 + Duration::from_secs(11);
        assert_eq!(t.lookup(0, &A, later), None);
        assert_eq!(t.expire(later), vec![(0, A)]);
        assert!(t.is_empty());
    }

    #[test]
    fn full_table_evicts_the_stalest() {
        let mut t = MacTable::new(Duration::from_secs(10), 1);
        let t0 = Instant::now();
        t.learn(0, A, 1, t0);
        let (_, evicted) = t.learn(0, B, 2, t0 + Duration::from_secs(1));
        assert_eq!(evicted, Some((0, A)));
        assert_eq!(t.len(), 1);
        assert_eq!(t.flush_port(2), vec![(0, B)]);
    }
}

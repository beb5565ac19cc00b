//! Collector sets: where the OpenFlow `sample` action sends its flow
//! samples (Open vSwitch's Flow_Sample_Collector_Set).
//!
//! A controller writes `sample(probability=P, collector_set_id=C,
//! obs_domain_id=D, obs_point_id=O)` in a flow; translation turns it into
//! the datapath's `Sample { P/65535, [Userspace(userdata)] }` where the
//! user data is [`FLOW_SAMPLE_USERDATA`] and the number this module gave
//! (C, D, O). A taken packet comes back through the bridge's upcall
//! handler to [`CollectorSets::sample`], which finds set C's IPFIX
//! exporter ([`crate::ipfix`]) and records the packet there under domain D
//! and point O.
//!
//! Sets are configured by id and looked up when a sample arrives, so
//! adding or removing one changes no translation. A sample for a set that
//! is not configured is dropped and counted in `unconfigured`, as Open
//! vSwitch drops it.

use crate::intern::Interner;
use crate::ipfix::{Ipfix, IpfixConfig};
use crate::xlate::FlowSample;
use arc_swap::ArcSwap;
use datapath::flow::FlowKey;
use datapath::packet::Packet;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Userdata bit that marks a `Userspace` action as a flow sample; the
/// low bits are the sample's number.
pub const FLOW_SAMPLE_USERDATA: u64 = 1 << 61;
/// Most distinct (set, domain, point) triples numbered; past it a
/// `sample` action is left out of the translation.
const MAX_FLOW_SAMPLES: usize = 1 << 16;

/// A bridge's collector sets.
#[derive(Debug)]
pub struct CollectorSets {
    sets: ArcSwap<BTreeMap<u32, Arc<Ipfix>>>,
    samples: Interner<FlowSample>,
    /// Samples for a set that is not configured.
    pub unconfigured: AtomicU64,
}

impl Default for CollectorSets {
    fn default() -> Self {
        CollectorSets {
            sets: ArcSwap::from_pointee(BTreeMap::new()),
            samples: Interner::new(MAX_FLOW_SAMPLES),
            unconfigured: AtomicU64::new(0),
        }
    }
}

impl CollectorSets {
    /// Start (or replace, or with `None` stop) collector set `id`. A
    /// replaced or stopped exporter sends what it holds as it goes.
    pub fn set(&self, id: u32, config: Option<IpfixConfig>) -> std::io::Result<()> {
        let exporter = config.map(Ipfix::start).transpose()?.map(Arc::new);
        let mut sets = BTreeMap::clone(&self.sets.load());
        match exporter {
            Some(e) => sets.insert(id, e),
            None => sets.remove(&id),
        };
        self.sets.store(Arc::new(sets));
        Ok(())
    }

    /// The running sets, by id.
    pub fn all(&self) -> Arc<BTreeMap<u32, Arc<Ipfix>>> {
        self.sets.load_full()
    }

    /// The user data for `sample`'s `Userspace` action.
    pub fn userdata(&self, sample: FlowSample) -> Option<u64> {
        let i = self.samples.intern(&sample)?;
        Some(FLOW_SAMPLE_USERDATA | i as u64)
    }

    /// If `userdata` is a flow sample's, record the packet in its set
    /// and return true.
    pub fn sample(&self, packet: &Packet, key: &FlowKey, userdata: u64) -> bool {
        if userdata & FLOW_SAMPLE_USERDATA == 0 {
            return false;
        }
        let index = (userdata & !FLOW_SAMPLE_USERDATA) as usize;
        let Some(s) = self.samples.get(index) else {
            return true;
        };
        match self.sets.load().get(&s.collector_set_id) {
            Some(set) => set.flow_sample(packet, key, s.obs_domain_id, s.obs_point_id),
            None => {
                self.unconfigured.fetch_add(1, Ordering::Relaxed);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    /// (observation domain, observation point of each v4 record) of the
    /// next message with data records.
    fn next_records(collector: &UdpSocket) -> (u32, Vec<u32>) {
        let mut buf = [0u8; 2048];
        loop {
            let (n, _) = collector.recv_from(&mut buf).unwrap();
            let m = &buf[..n];
            let domain = u32::from_be_bytes(m[12..16].try_into().unwrap());
            let (mut at, mut points) = (16, Vec::new());
            while at + 4 <= n {
                let id = u16::from_be_bytes([m[at], m[at + 1]]);
                let len = usize::from(u16::from_be_bytes([m[at + 2], m[at + 3]]));
                if id == 256 {
                    // IPv4 records are 68 bytes; the point is last.
                    for r in m[at + 4..at + len].chunks_exact(68) {
                        points.push(u32::from_be_bytes(r[64..68].try_into().unwrap()));
                    }
                }
                at += len.max(4);
            }
            if !points.is_empty() {
                return (domain, points);
            }
        }
    }

    #[test]
    fn samples_reach_their_set_under_their_domain_and_point() {
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let sets = CollectorSets::default();
        sets.set(
            5,
            Some(IpfixConfig {
                targets: vec![collector.local_addr().unwrap()],
                sampling: 1,
                obs_domain_id: 0,
                obs_point_id: 0,
                active_timeout: 60,
                idle_timeout: 1,
                template_interval: 60,
            }),
        )
        .unwrap();
        let sample = |set, domain, point| FlowSample {
            collector_set_id: set,
            obs_domain_id: domain,
            obs_point_id: point,
        };
        let a = sets.userdata(sample(5, 77, 88)).unwrap();
        let b = sets.userdata(sample(5, 99, 1)).unwrap();
        let none = sets.userdata(sample(6, 77, 88)).unwrap();
        assert_eq!(sets.userdata(sample(5, 77, 88)), Some(a), "numbered once");
        assert_ne!(a & FLOW_SAMPLE_USERDATA, 0);
        let key = FlowKey {
            eth_type: 0x0800,
            ipv4_src: 0x0a00_0001,
            ipv4_dst: 0x0a00_0002,
            nw_proto: 1,
            ..Default::default()
        };
        let p = Packet::from_bytes(&[0u8; 98]);
        assert!(sets.sample(&p, &key, a));
        assert!(sets.sample(&p, &key, a));
        assert!(sets.sample(&p, &key, b));
        assert!(sets.sample(&p, &key, none));
        assert!(!sets.sample(&p, &key, 3), "a packet-in's userdata");
        assert_eq!(sets.unconfigured.load(Ordering::Relaxed), 1);
        // One message per domain, each record with its point.
        let mut got = [next_records(&collector), next_records(&collector)];
        got.sort();
        assert_eq!(got, [(77, vec![88]), (99, vec![1])]);
        sets.set(5, None).unwrap();
        assert!(sets.all().is_empty());
    }
}

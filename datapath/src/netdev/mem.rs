//! An in-memory port: frames are injected into its receive queue and
//! collected from its transmit side. It exists for tests and benchmarks of
//! everything above the kernel boundary (caches, workers, the OpenFlow
//! bridge); it is never configured by users.

use super::{Port, PortCaps, PortStats};
use crate::packet::{Batch, Packet, PacketPool, BATCH_SIZE};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A port backed by two queues in memory.
#[derive(Debug, Default)]
pub struct MemPort {
    name: String,
    mac: [u8; 6],
    rx: Mutex<VecDeque<Vec<u8>>>,
    tx: Mutex<Vec<Vec<u8>>>,
    rx_packets: AtomicU64,
    tx_packets: AtomicU64,
}

impl MemPort {
    pub fn new(name: &str) -> Arc<MemPort> {
        let h = name
            .bytes()
            .fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
        Arc::new(MemPort {
            name: name.to_string(),
            mac: [2, 0, 0, 0, 0xee, h],
            ..Default::default()
        })
    }

    /// Queue a frame for the datapath to receive.
    pub fn inject(&self, frame: &[u8]) {
        if let Ok(mut rx) = self.rx.lock() {
            rx.push_back(frame.to_vec());
        }
    }

    /// How many frames the datapath sent out of this port.
    pub fn sent(&self) -> usize {
        self.tx.lock().map(|t| t.len()).unwrap_or(0)
    }

    /// Take the frames sent so far.
    pub fn take_sent(&self) -> Vec<Vec<u8>> {
        self.tx
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
    }
}

impl Port for MemPort {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "memory"
    }
    fn caps(&self) -> PortCaps {
        PortCaps {
            tx_csum_partial: true,
            tx_tso: true,
            mtu: 1500,
        }
    }
    fn rx_batch(&self, _rxq: usize, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        let Ok(mut rx) = self.rx.lock() else { return 0 };
        let mut n = 0;
        while batch.len() < BATCH_SIZE {
            let Some(f) = rx.pop_front() else { break };
            let mut p = pool.get();
            p.set_frame(&f);
            batch.push(p);
            n += 1;
        }
        self.rx_packets.fetch_add(n as u64, Ordering::Relaxed);
        n
    }
    fn tx_batch(&self, _txq: usize, packets: &mut Vec<Packet>, pool: &mut PacketPool) {
        let n = packets.len() as u64;
        if let Ok(mut tx) = self.tx.lock() {
            for p in packets.drain(..) {
                tx.push(p.data().to_vec());
                pool.put(p);
            }
        }
        self.tx_packets.fetch_add(n, Ordering::Relaxed);
    }
    fn stats(&self) -> PortStats {
        PortStats {
            rx_packets: self.rx_packets.load(Ordering::Relaxed),
            tx_packets: self.tx_packets.load(Ordering::Relaxed),
            ..Default::default()
        }
    }
    fn rx_fd(&self, _rxq: usize) -> Option<RawFd> {
        None
    }
    fn mac(&self) -> Option<[u8; 6]> {
        Some(self.mac)
    }
}

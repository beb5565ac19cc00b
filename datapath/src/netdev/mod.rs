//! Ports: where packets enter and leave the datapath.
//!
//! Every kind of port (AF_XDP socket, AF_PACKET ring, tap device,
//! vhost-user in its own crate, the links that join bridges and the
//! virtual ports that number tunnels) sits behind the one small [`Port`] trait: receive
//! a batch from a queue, send a batch to a queue, say what offloads it can
//! take, report counters, and give the worker a file descriptor to sleep on.
//!
//! Concurrency contract: a receive queue is polled by exactly one worker at
//! a time (the worker owns the assignment); transmit may be called by any
//! worker, each on its own transmit queue index `worker % n_txq`, and a port
//! with fewer transmit queues than workers serialises internally (a lock per
//! *batch*, never per packet).

pub mod addr;
pub mod afpacket;
pub mod afxdp;
pub mod ethtool;
pub mod link;
pub mod mem;
pub mod tap;

use crate::packet::{Batch, Packet, PacketPool};
use std::os::fd::RawFd;

/// Errors from ports.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("interface {0} does not exist")]
    NoSuchInterface(String),
    #[error("{op} on {port}")]
    Io {
        op: &'static str,
        port: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not supported here")]
    Unsupported(String),
    #[error("invalid port configuration: {0}")]
    Config(String),
}

impl PortError {
    /// An I/O error from the last OS call.
    pub fn last_os(op: &'static str, port: &str) -> Self {
        PortError::Io {
            op,
            port: port.to_string(),
            source: std::io::Error::last_os_error(),
        }
    }
}

/// What a port can take on transmit without the datapath's help.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCaps {
    /// Takes packets whose L4 checksum is still partial.
    pub tx_csum_partial: bool,
    /// Takes oversized TCP packets and segments them itself (TSO).
    pub tx_tso: bool,
    /// The interface's L3 MTU (the largest IP packet, as `ip link` shows
    /// it; 0 = no limit). Software segmentation cuts segments to fit it.
    pub mtu: u32,
}

/// Per-port counters (all monotonic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_dropped: u64,
    pub rx_errors: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_dropped: u64,
    pub tx_errors: u64,
}

/// A datapath port.
pub trait Port: Send + Sync + std::fmt::Debug {
    /// The interface or device name.
    fn name(&self) -> &str;

    /// The port type as the configuration spells it ("afxdp", "afpacket",
    /// "internal", ...).
    fn kind(&self) -> &'static str;

    /// Number of receive queues (each polled by one worker).
    fn n_rxq(&self) -> usize {
        1
    }

    /// Number of transmit queues.
    fn n_txq(&self) -> usize {
        1
    }

    /// Offloads the port takes on transmit.
    fn caps(&self) -> PortCaps;

    /// Receive up to `BATCH_SIZE - batch.len()` packets from queue `rxq`
    /// into `batch`, taking buffers from `pool`. Returns how many arrived.
    fn rx_batch(&self, rxq: usize, batch: &mut Batch, pool: &mut PacketPool) -> usize;

    /// Send the packets on transmit queue `txq`. The port drains `packets`
    /// (every packet is sent or counted as dropped) and gives the buffers
    /// back to `pool`.
    fn tx_batch(&self, txq: usize, packets: &mut Vec<Packet>, pool: &mut PacketPool);

    /// Counters.
    fn stats(&self) -> PortStats;

    /// A file descriptor that becomes readable when queue `rxq` has packets,
    /// for workers that sleep in epoll when idle. `None`: the port must be
    /// polled.
    fn rx_fd(&self, rxq: usize) -> Option<RawFd>;

    /// Called before the worker polling queue `rxq` sleeps on
    /// [`Port::rx_fd`]: re-arm whatever makes the fd readable (a guest's
    /// kicks are kept off while the queue is polled). Returns true when
    /// packets are already waiting, so the worker must not sleep.
    fn prepare_sleep(&self, _rxq: usize) -> bool {
        false
    }

    /// The interface's MAC address, if it has one.
    fn mac(&self) -> Option<[u8; 6]> {
        None
    }

    /// Link state: true when the carrier is up.
    fn link_up(&self) -> bool {
        true
    }

    /// Speed, duplex and medium as the interface's driver reports them;
    /// `None` for a port with no driver to ask (vhost-user) or a driver
    /// that does not say. OpenFlow then reports the documented fixed value
    /// for virtual ports (ofproto's `PortDesc`).
    fn link_speed(&self) -> Option<ethtool::LinkSpeed> {
        None
    }

    /// Counters particular to this kind of port, by name (Open vSwitch's
    /// "custom stats"): e.g. a vhost-user port's guest faults.
    fn custom_stats(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

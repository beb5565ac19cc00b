//! AF_XDP ports: the fast way in and out of a Linux network interface.
//!
//! An AF_XDP port puts a tiny XDP program on the interface that redirects
//! every received frame of queue *q* into an AF_XDP socket bound to queue
//! *q*; the socket's rings, shared with the kernel, carry frames in and out
//! of a packet memory area (the UMEM) without a system call per packet.
//! Everything is done by hand over `libc`, in submodules by concept:
//!
//! * [`bpf`]: the `bpf(2)` syscalls, the XSKMAP, the hand-assembled redirect
//!   program (named `switchd_xsk`) and its attachment through a BPF link;
//! * [`netlink`]: finding and removing a `switchd_xsk` program left attached
//!   the legacy (netlink) way;
//! * [`umem`]: the UMEM, its frame pools, the fill and completion rings;
//! * [`ring`]: the shared rings and their memory ordering;
//! * [`socket`]: one AF_XDP socket per queue, its receive and transmit paths;
//! * [`iface`]: MTU, MAC and link state.
//!
//! The one idea: **the port owns everything it puts in the kernel through
//! file descriptors**. The program is attached through a BPF link whose fd
//! lives in the port, so dropping the port, or the death of switchd, however
//! abrupt, detaches the program and frees the sockets and UMEM. Nothing an
//! AF_XDP port does survives its process (the only exception is a program an
//! older build attached through netlink, which `open` cleans up).
//!
//! Limits worth knowing: AF_XDP carries no offload metadata, so the port
//! takes neither partial checksums nor TSO (the datapath completes and
//! segments before sending); a frame must fit in one UMEM frame (no
//! multi-buffer), so the usable MTU is about the frame size minus 256 bytes
//! of XDP headroom on receive; queues of the interface beyond `n_rxq` are
//! not redirected and their traffic goes to the kernel stack.

#![allow(unsafe_code)]

mod bpf;
mod iface;
mod netlink;
mod ring;
mod socket;
mod umem;

#[cfg(test)]
mod tests;

pub use bpf::PROG_NAME;
pub use socket::XdpStatistics;

use super::{Port, PortCaps, PortError, PortStats};
use crate::packet::{Batch, Packet, PacketPool, BATCH_SIZE};
use bpf::{XdpLink, XdpProgram, XskMap, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
use iface::Iface;
use socket::{SocketConfig, XskSocket};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

/// Ethernet header plus one VLAN tag: frame bytes beyond the MTU.
const L2_OVERHEAD: u32 = 18;

/// Where the redirect program runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// Native (driver) XDP when the driver has it, generic otherwise.
    #[default]
    Auto,
    /// Native XDP (`XDP_FLAGS_DRV_MODE`); fail if the driver lacks it.
    Native,
    /// Generic XDP on the skb path (`XDP_FLAGS_SKB_MODE`): works on any
    /// interface, slower.
    Generic,
}

/// How to open an AF_XDP port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AfXdpOptions {
    /// Receive queues to serve (queues 0..n_rxq), one socket each. Also the
    /// number of transmit queues.
    pub n_rxq: usize,
    pub mode: XdpMode,
    /// Try `XDP_ZEROCOPY` first, falling back to copy mode when the driver
    /// cannot (veth is copy-only).
    pub prefer_zero_copy: bool,
    /// Use `XDP_USE_NEED_WAKEUP` (fewer syscalls) when the kernel has it.
    pub need_wakeup: bool,
    /// UMEM frame size: 2048 or 4096.
    pub frame_size: u32,
    /// UMEM frames per queue, split evenly between receive and transmit.
    pub frames_per_queue: u32,
    /// Rx ring entries (power of two).
    pub rx_ring_size: u32,
    /// Tx ring entries (power of two).
    pub tx_ring_size: u32,
}

impl Default for AfXdpOptions {
    /// One queue, auto mode, zero-copy preferred, need-wakeup, and a UMEM of
    /// 2048 frames x 4096 bytes = 8 MiB per queue.
    fn default() -> Self {
        AfXdpOptions {
            n_rxq: 1,
            mode: XdpMode::Auto,
            prefer_zero_copy: true,
            need_wakeup: true,
            frame_size: 4096,
            frames_per_queue: 2048,
            rx_ring_size: 1024,
            tx_ring_size: 1024,
        }
    }
}

impl AfXdpOptions {
    fn validate(&self) -> Result<(), String> {
        if self.n_rxq == 0 || self.n_rxq > 256 {
            return Err(format!("n_rxq must be 1..=256, not {}", self.n_rxq));
        }
        if self.frame_size != 2048 && self.frame_size != 4096 {
            return Err(format!(
                "frame_size must be 2048 or 4096, not {}",
                self.frame_size
            ));
        }
        if self.frames_per_queue < 64 || self.frames_per_queue > 1 << 20 {
            return Err(format!(
                "frames_per_queue must be 64..=1048576, not {}",
                self.frames_per_queue
            ));
        }
        for (what, v) in [
            ("rx_ring_size", self.rx_ring_size),
            ("tx_ring_size", self.tx_ring_size),
        ] {
            if !v.is_power_of_two() || !(32..=1 << 16).contains(&v) {
                return Err(format!(
                    "{what} must be a power of two in 32..=65536, not {v}"
                ));
            }
        }
        Ok(())
    }
}

/// Counters kept by one queue (updated once per batch).
#[derive(Debug, Default)]
struct Counters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_errors: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_dropped: AtomicU64,
    tx_errors: AtomicU64,
}

#[derive(Debug)]
struct Queue {
    xsk: XskSocket,
    counters: Counters,
}

/// An AF_XDP port. Field order is drop order: the link goes first (the
/// program stops redirecting), then the program and the map, then the
/// sockets with their rings and UMEMs.
#[derive(Debug)]
pub struct AfXdpPort {
    _link: XdpLink,
    _prog: XdpProgram,
    _map: XskMap,
    queues: Vec<Queue>,
    iface: Iface,
    name: String,
    ifindex: u32,
    mode: XdpMode,
    max_frame: u32,
    mtu_at_open: u32,
}

impl AfXdpPort {
    /// Open interface `name`: clean up a stale `switchd_xsk` program, bind
    /// one socket per queue, load the redirect program and attach it.
    pub fn open(name: &str, opts: AfXdpOptions) -> Result<AfXdpPort, PortError> {
        opts.validate()
            .map_err(|e| PortError::Config(format!("{name}: {e}")))?;
        let ifindex =
            iface::ifindex(name).ok_or_else(|| PortError::NoSuchInterface(name.to_string()))?;
        let io = |op: &'static str| {
            move |source: std::io::Error| PortError::Io {
                op,
                port: name.to_string(),
                source,
            }
        };
        let iface = Iface::new(name).map_err(io("control socket"))?;
        clear_stale_program(name, ifindex)?;

        let mut queues = Vec::with_capacity(opts.n_rxq);
        for q in 0..opts.n_rxq {
            let cfg = SocketConfig {
                ifindex,
                queue_id: q as u32,
                n_frames: opts.frames_per_queue,
                frame_size: opts.frame_size,
                rx_ring: opts.rx_ring_size,
                tx_ring: opts.tx_ring_size,
                prefer_zero_copy: opts.prefer_zero_copy,
                need_wakeup: opts.need_wakeup,
            };
            let xsk = XskSocket::open(&cfg).map_err(|e| {
                if e.source.raw_os_error() == Some(libc::EINVAL) && q > 0 {
                    PortError::Config(format!(
                        "{name}: cannot bind queue {q} ({}: {}); does the interface have {} queues?",
                        e.op, e.source, opts.n_rxq
                    ))
                } else {
                    PortError::Io {
                        op: e.op,
                        port: name.to_string(),
                        source: e.source,
                    }
                }
            })?;
            queues.push(Queue {
                xsk,
                counters: Counters::default(),
            });
        }

        let map = XskMap::create(opts.n_rxq as u32).map_err(io("create XSKMAP"))?;
        for (q, queue) in queues.iter().enumerate() {
            map.insert(q as u32, queue.xsk.fd())
                .map_err(io("insert socket in XSKMAP"))?;
        }
        let prog = XdpProgram::load(PROG_NAME, &bpf::redirect_program(map.fd()))
            .map_err(io("load XDP program"))?;

        let tries: &[(XdpMode, u32)] = match opts.mode {
            XdpMode::Native => &[(XdpMode::Native, XDP_FLAGS_DRV_MODE)],
            XdpMode::Generic => &[(XdpMode::Generic, XDP_FLAGS_SKB_MODE)],
            XdpMode::Auto => &[
                (XdpMode::Native, XDP_FLAGS_DRV_MODE),
                (XdpMode::Generic, XDP_FLAGS_SKB_MODE),
            ],
        };
        let mut attached = None;
        let mut last_err = None;
        for &(mode, flags) in tries {
            match XdpLink::attach(&prog, ifindex, flags) {
                Ok(link) => {
                    attached = Some((link, mode));
                    break;
                }
                Err(e) => {
                    tracing::debug!(port = name, ?mode, error = %e, "XDP attach failed");
                    last_err = Some(e);
                }
            }
        }
        let (link, mode) = match (attached, last_err) {
            (Some(a), _) => a,
            (None, Some(e)) => return Err(io("attach XDP program (BPF link)")(e)),
            (None, None) => return Err(PortError::Config(format!("{name}: no XDP mode to try"))),
        };

        let mtu_at_open = iface.mtu().map_err(io("SIOCGIFMTU"))?;
        let port = AfXdpPort {
            _link: link,
            _prog: prog,
            _map: map,
            queues,
            iface,
            name: name.to_string(),
            ifindex,
            mode,
            max_frame: opts.frame_size,
            mtu_at_open,
        };
        tracing::info!(
            port = name,
            ?mode,
            zero_copy = port.zero_copy(),
            need_wakeup = port.queues[0].xsk.need_wakeup(),
            queues = opts.n_rxq,
            umem_bytes_per_queue = u64::from(opts.frames_per_queue) * u64::from(opts.frame_size),
            "AF_XDP port open"
        );
        Ok(port)
    }

    /// The mode the program actually runs in (never `Auto`).
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    /// True when the sockets run in zero-copy mode.
    pub fn zero_copy(&self) -> bool {
        self.queues.iter().all(|q| q.xsk.zero_copy())
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The kernel's AF_XDP counters of queue `q`.
    pub fn xdp_statistics(&self, q: usize) -> Option<XdpStatistics> {
        self.queues.get(q).and_then(|q| q.xsk.statistics().ok())
    }
}

/// Remove a `switchd_xsk` program attached through netlink (left by an older
/// build or a crashed tool); refuse to touch anyone else's program.
fn clear_stale_program(name: &str, ifindex: u32) -> Result<(), PortError> {
    let io = |op: &'static str| {
        move |source: std::io::Error| PortError::Io {
            op,
            port: name.to_string(),
            source,
        }
    };
    let attached = netlink::attached_programs(ifindex).map_err(io("RTM_GETLINK"))?;
    let mut stale = Vec::new();
    for p in attached {
        let prog = XdpProgram::from_id(p.id).map_err(io("BPF_PROG_GET_FD_BY_ID"))?;
        let prog_name = prog.name().map_err(io("BPF_OBJ_GET_INFO_BY_FD"))?;
        if prog_name != PROG_NAME {
            return Err(PortError::Config(format!(
                "{name} already has XDP program {prog_name:?} (id {}, {:?} mode) attached; \
                 switchd does not replace a program it does not own",
                p.id, p.mode
            )));
        }
        stale.push((p, prog));
    }
    for (p, prog) in stale {
        match netlink::detach_legacy(ifindex, p.mode, prog.fd()) {
            Ok(()) => tracing::warn!(
                port = name,
                prog_id = p.id,
                mode = ?p.mode,
                "removed a stale {PROG_NAME} XDP program attached through netlink"
            ),
            // EBUSY (the message may carry the kernel's extended ack, so
            // match on the kind, not the raw errno).
            Err(e) if e.kind() == std::io::ErrorKind::ResourceBusy => {
                return Err(PortError::Config(format!(
                    "{name}: {PROG_NAME} (id {}) is attached through a live BPF link; \
                     another switchd process owns this interface",
                    p.id
                )))
            }
            Err(e) => return Err(io("detach stale XDP program (RTM_SETLINK)")(e)),
        }
    }
    Ok(())
}

impl Port for AfXdpPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "afxdp"
    }

    fn n_rxq(&self) -> usize {
        self.queues.len()
    }

    fn n_txq(&self) -> usize {
        self.queues.len()
    }

    /// No offloads (AF_XDP descriptors carry no metadata); the MTU is the
    /// interface's, capped by what fits in a UMEM frame.
    fn caps(&self) -> PortCaps {
        let mtu = self.iface.mtu().unwrap_or(self.mtu_at_open);
        PortCaps {
            tx_csum_partial: false,
            tx_tso: false,
            mtu: mtu.min(self.max_frame - L2_OVERHEAD),
        }
    }

    fn rx_batch(&self, rxq: usize, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        let Some(q) = self.queues.get(rxq) else {
            return 0;
        };
        let room = BATCH_SIZE.saturating_sub(batch.len());
        if room == 0 {
            return 0;
        }
        let out = q.xsk.receive(batch, pool, room);
        let c = &q.counters;
        if out.packets > 0 {
            c.rx_packets.fetch_add(out.packets, Ordering::Relaxed);
            c.rx_bytes.fetch_add(out.bytes, Ordering::Relaxed);
        }
        if out.invalid > 0 {
            c.rx_errors.fetch_add(out.invalid, Ordering::Relaxed);
        }
        out.packets as usize
    }

    fn tx_batch(&self, txq: usize, packets: &mut Vec<Packet>, pool: &mut PacketPool) {
        let q = &self.queues[txq % self.queues.len()];
        let out = q.xsk.transmit(packets, pool);
        let c = &q.counters;
        for (counter, v) in [
            (&c.tx_packets, out.packets),
            (&c.tx_bytes, out.bytes),
            (&c.tx_dropped, out.dropped),
            (&c.tx_errors, out.errors),
        ] {
            if v > 0 {
                counter.fetch_add(v, Ordering::Relaxed);
            }
        }
    }

    /// Our counters plus the kernel's socket counters: frames the kernel
    /// dropped (no fill frame, rx ring full) count as rx_dropped, invalid
    /// descriptors as errors.
    fn stats(&self) -> PortStats {
        let mut s = PortStats::default();
        for q in &self.queues {
            let c = &q.counters;
            s.rx_packets += c.rx_packets.load(Ordering::Relaxed);
            s.rx_bytes += c.rx_bytes.load(Ordering::Relaxed);
            s.rx_errors += c.rx_errors.load(Ordering::Relaxed);
            s.tx_packets += c.tx_packets.load(Ordering::Relaxed);
            s.tx_bytes += c.tx_bytes.load(Ordering::Relaxed);
            s.tx_dropped += c.tx_dropped.load(Ordering::Relaxed);
            s.tx_errors += c.tx_errors.load(Ordering::Relaxed);
            if let Ok(k) = q.xsk.statistics() {
                s.rx_dropped += k.rx_dropped + k.rx_ring_full;
                s.rx_errors += k.rx_invalid_descs;
                s.tx_errors += k.tx_invalid_descs;
            }
        }
        s
    }

    fn rx_fd(&self, rxq: usize) -> Option<RawFd> {
        self.queues.get(rxq).map(|q| q.xsk.fd())
    }

    fn mac(&self) -> Option<[u8; 6]> {
        self.iface.mac().ok()
    }

    fn link_up(&self) -> bool {
        self.iface.running().unwrap_or(false)
    }

    fn link_speed(&self) -> Option<super::ethtool::LinkSpeed> {
        super::ethtool::link_speed(self.iface.control(), &self.name)
    }
}

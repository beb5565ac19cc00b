//! AF_PACKET ports: any Linux network interface, through a packet socket.
//!
//! This is the port of last resort and of first convenience: it works on
//! every interface (veth, physical NICs, bonds) without an XDP program, at
//! the price of one copy per packet in each direction.
//!
//! Receive uses a `TPACKET_V3` ring ([`ring`]): the kernel packs packets
//! into blocks of shared memory and the port copies them out a batch at a
//! time, without a system call per packet. Transmit uses `sendmmsg(2)`: one
//! system call per batch, `MSG_DONTWAIT`, with `PACKET_QDISC_BYPASS` so the
//! packets go straight to the driver.
//!
//! The one idea: the socket runs with `PACKET_VNET_HDR`, so offload state
//! crosses the boundary intact in both directions. A TCP segment that a
//! local socket (or a veth peer) sent with a partial checksum, or as a
//! 64 KiB GSO super-packet, arrives with a virtio-net header saying so; it
//! becomes `packet.offload` ([`vnet`]), and the datapath completes or
//! segments it only if the output port cannot. On transmit the port writes
//! the header back, so the kernel finishes the checksum or segments for us:
//! the port advertises `tx_csum_partial` and `tx_tso`.
//!
//! Two kernel habits are undone on receive so the datapath sees the packet
//! as it was on the wire: the VLAN tag the kernel moved into metadata is put
//! back into the frame (and the offload offsets move with it), and packets
//! this host *sent* out of the interface are ignored
//! (`PACKET_IGNORE_OUTGOING`, with a `sll_pkttype` check as a fallback).
//!
//! Several receive queues (`n_rxq > 1`) are several sockets joined in one
//! `PACKET_FANOUT_HASH` group: the kernel spreads flows across them.
#![allow(unsafe_code)]

pub(crate) mod ifreq;
mod ring;
pub mod vnet;

#[cfg(test)]
pub(crate) mod testns;
#[cfg(test)]
mod tests;

use super::{Port, PortCaps, PortError, PortStats};
use crate::packet::{Batch, Packet, PacketPool, BATCH_SIZE};
use crate::wire::ethernet::vlan;
use ring::{RingGeometry, RxRing};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use vnet::VNET_HDR_LEN;

/// How to open an AF_PACKET port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AfPacketOptions {
    /// Receive queues: one socket and ring each, in one fanout group when
    /// more than one.
    pub n_rxq: usize,
    /// Bytes per ring block (a power of two, at least a page). A block must
    /// hold the largest packet: 64 KiB GSO packets need 128 KiB or more;
    /// larger packets are truncated by the kernel and dropped here.
    pub block_size: usize,
    /// Blocks per ring (per receive queue).
    pub block_count: usize,
    /// Milliseconds after which a partly filled block is handed over: the
    /// worst-case receive latency at low rates.
    pub block_timeout_ms: u32,
    /// Receive frames for every destination MAC (`PACKET_MR_PROMISC`).
    pub promiscuous: bool,
}

impl Default for AfPacketOptions {
    fn default() -> Self {
        AfPacketOptions {
            n_rxq: 1,
            block_size: 256 * 1024,
            block_count: 16,
            block_timeout_ms: 1,
            promiscuous: true,
        }
    }
}

/// The largest number of receive queues (fanout group members) accepted.
const MAX_RXQ: usize = 64;

/// `SO_SNDBUF` asked for, so a batch of GSO packets fits.
const SNDBUF: libc::c_int = 4 << 20;

/// Monotonic counters, shared by the workers that use the port.
#[derive(Debug, Default)]
struct Counters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_errors: AtomicU64,
    /// Drops the kernel reported (ring full), accumulated: reading
    /// `PACKET_STATISTICS` resets the kernel's counters.
    rx_kernel_drops: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_dropped: AtomicU64,
    tx_errors: AtomicU64,
}

/// One receive queue: a packet socket and its ring.
#[derive(Debug)]
struct Queue {
    ring: Mutex<RxRing>,
    sock: OwnedFd,
}

/// An AF_PACKET port bound to one interface.
#[derive(Debug)]
pub struct AfPacketPort {
    name: String,
    ifindex: i32,
    /// Read at open and refreshed by `stats()` (control path), so `caps()`
    /// costs no system call.
    mtu: AtomicU32,
    queues: Vec<Queue>,
    counters: Counters,
}

fn setsockopt<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    opt: libc::c_int,
    val: &T,
    op: &'static str,
    port: &str,
) -> Result<(), PortError> {
    // SAFETY: `val` points to a live `T` of the length passed; every option
    // set through this helper takes exactly that type.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (val as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(PortError::last_os(op, port));
    }
    Ok(())
}

fn packet_socket(port: &str) -> Result<OwnedFd, PortError> {
    // Protocol 0: the socket receives nothing until `bind`, after the ring
    // is in place.
    // SAFETY: plain socket(2) call; no pointers.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(PortError::last_os("socket(AF_PACKET)", port));
    }
    // SAFETY: `fd` was just returned by socket(2) and has no other owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ETH_P_ALL` in network byte order, as packet sockets want it.
fn eth_p_all_be() -> u16 {
    (libc::ETH_P_ALL as u16).to_be()
}

impl AfPacketPort {
    /// Open interface `name` (in the calling thread's network namespace).
    pub fn open(name: &str, opts: AfPacketOptions) -> Result<Self, PortError> {
        if opts.n_rxq == 0 || opts.n_rxq > MAX_RXQ {
            return Err(PortError::Config(format!(
                "AF_PACKET n_rxq {} out of range 1..={MAX_RXQ}",
                opts.n_rxq
            )));
        }
        let geometry = RingGeometry {
            block_size: opts.block_size,
            block_count: opts.block_count,
            retire_ms: opts.block_timeout_ms.max(1),
        };
        let first = Self::open_queue(name, None, geometry, &opts)?;
        let ifindex = first.1;
        let mut queues = vec![first.0];
        if opts.n_rxq > 1 {
            let group = join_fanout(queues[0].sock.as_fd(), None, name)?;
            for _ in 1..opts.n_rxq {
                let (q, _) = Self::open_queue(name, Some(ifindex), geometry, &opts)?;
                join_fanout(q.sock.as_fd(), Some(group), name)?;
                queues.push(q);
            }
        }
        let sock = queues[0].sock.as_fd();
        let mtu = ifreq::mtu(sock, name)?;
        // Transmitting needs the interface up; bring it up like OVS does.
        if let Err(e) = ifreq::set_up(sock, name) {
            tracing::warn!(port = name, error = %e, "cannot bring the interface up");
        }
        tracing::debug!(
            port = name,
            ifindex,
            mtu,
            n_rxq = opts.n_rxq,
            "AF_PACKET port open"
        );
        Ok(AfPacketPort {
            name: name.to_string(),
            ifindex,
            mtu: AtomicU32::new(mtu),
            queues,
            counters: Counters::default(),
        })
    }

    /// One socket with its ring, bound to the interface.
    fn open_queue(
        name: &str,
        ifindex: Option<i32>,
        geometry: RingGeometry,
        opts: &AfPacketOptions,
    ) -> Result<(Queue, i32), PortError> {
        let sock = packet_socket(name)?;
        let fd = sock.as_fd();
        let ifindex = match ifindex {
            Some(i) => i,
            None => ifreq::ifindex(fd, name)?,
        };
        // Order matters: the version and the virtio-net header must be set
        // before the ring exists (the kernel refuses both afterwards).
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &version,
            "PACKET_VERSION",
            name,
        )?;
        let on: libc::c_int = 1;
        setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_VNET_HDR,
            &on,
            "PACKET_VNET_HDR",
            name,
        )?;
        if let Err(e) = setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            &on,
            "PACKET_IGNORE_OUTGOING",
            name,
        ) {
            // Linux < 4.20: rx filters on sll_pkttype instead.
            tracing::debug!(port = name, error = %e, "no PACKET_IGNORE_OUTGOING");
        }
        if let Err(e) = setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            &on,
            "PACKET_QDISC_BYPASS",
            name,
        ) {
            tracing::debug!(port = name, error = %e, "no PACKET_QDISC_BYPASS");
        }
        if setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            &SNDBUF,
            "SO_SNDBUFFORCE",
            name,
        )
        .is_err()
        {
            // Not privileged: take what the sysctl limit allows.
            let _ = setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                &SNDBUF,
                "SO_SNDBUF",
                name,
            );
        }
        let ring = RxRing::new(fd, geometry, VNET_HDR_LEN, name)?;

        // SAFETY: `sockaddr_ll` is plain integers and bytes; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = eth_p_all_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a valid `sockaddr_ll` and the length matches it.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENODEV) {
                return Err(PortError::NoSuchInterface(name.to_string()));
            }
            return Err(PortError::Io {
                op: "bind(AF_PACKET)",
                port: name.to_string(),
                source: err,
            });
        }
        if opts.promiscuous {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
                "PACKET_MR_PROMISC",
                name,
            )?;
        }
        Ok((
            Queue {
                ring: Mutex::new(ring),
                sock,
            },
            ifindex,
        ))
    }

    /// The interface index.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    fn queue(&self, i: usize) -> &Queue {
        &self.queues[i % self.queues.len()]
    }

    /// Send `packets` (at most [`BATCH_SIZE`]) with one `sendmmsg`, retrying
    /// after partial sends. Returns (sent, sent bytes, dropped, errors).
    fn send_chunk(&self, fd: RawFd, packets: &[Packet]) -> (u64, u64, u64, u64) {
        debug_assert!(packets.len() <= BATCH_SIZE);
        let n = packets.len();
        let mut hdrs = [[0u8; VNET_HDR_LEN]; BATCH_SIZE];
        let mut iovs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 2 * BATCH_SIZE];
        // SAFETY: `mmsghdr` is plain integers and pointers; all-zero (null
        // pointers, zero lengths) is a valid value.
        let mut msgs: [libc::mmsghdr; BATCH_SIZE] = unsafe { std::mem::zeroed() };
        for (i, p) in packets.iter().enumerate() {
            hdrs[i] = vnet::encode(&p.offload);
        }
        for (i, p) in packets.iter().enumerate() {
            // The kernel only reads through these pointers (sendmsg), so
            // casting away const is sound.
            iovs[2 * i] = libc::iovec {
                iov_base: hdrs[i].as_ptr() as *mut libc::c_void,
                iov_len: VNET_HDR_LEN,
            };
            iovs[2 * i + 1] = libc::iovec {
                iov_base: p.data().as_ptr() as *mut libc::c_void,
                iov_len: p.len(),
            };
            msgs[i].msg_hdr.msg_iov = &mut iovs[2 * i];
            msgs[i].msg_hdr.msg_iovlen = 2;
        }
        let (mut sent, mut bytes, mut dropped, mut errors) = (0u64, 0u64, 0u64, 0u64);
        let mut i = 0;
        while i < n {
            // SAFETY: `msgs[i..n]` are initialised message headers whose iovecs
            // point into `hdrs`, `iovs` and the packets, all alive and
            // unmoved for the duration of the call.
            let rc = unsafe {
                libc::sendmmsg(
                    fd,
                    msgs[i..].as_mut_ptr(),
                    (n - i) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if rc > 0 {
                let done = rc as usize;
                sent += done as u64;
                bytes += packets[i..i + done]
                    .iter()
                    .map(|p| p.len() as u64)
                    .sum::<u64>();
                i += done;
                continue;
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::EAGAIN) | Some(libc::ENOBUFS) => {
                    // Socket buffer or device queue full: the rest of the
                    // batch would meet the same fate.
                    dropped += (n - i) as u64;
                    break;
                }
                _ => {
                    // This packet is bad (too long, bad offload header):
                    // skip it, send the rest.
                    tracing::trace!(port = %self.name, error = %err, len = packets[i].len(), "AF_PACKET tx error");
                    errors += 1;
                    i += 1;
                }
            }
        }
        (sent, bytes, dropped, errors)
    }

    /// Read the kernel's drop counters (which resets them) into ours.
    fn collect_kernel_drops(&self) {
        for q in &self.queues {
            // SAFETY: all-zero is a valid `tpacket_stats_v3`.
            let mut st: libc::tpacket_stats_v3 = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
            // SAFETY: PACKET_STATISTICS on a TPACKET_V3 socket writes at most
            // `len` bytes of a `tpacket_stats_v3` into `st`.
            let rc = unsafe {
                libc::getsockopt(
                    q.sock.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_STATISTICS,
                    (&mut st as *mut libc::tpacket_stats_v3).cast(),
                    &mut len,
                )
            };
            if rc == 0 {
                self.counters
                    .rx_kernel_drops
                    .fetch_add(u64::from(st.tp_drops), Relaxed);
            }
        }
    }
}

/// Join `fd` to a hash fanout group: a new one with a kernel-chosen id when
/// `group` is `None`. Returns the group id.
fn join_fanout(fd: BorrowedFd<'_>, group: Option<u16>, port: &str) -> Result<u16, PortError> {
    let kind = libc::PACKET_FANOUT_HASH;
    let (id, flags) = match group {
        Some(id) => (u32::from(id), 0),
        None => (0, libc::PACKET_FANOUT_FLAG_UNIQUEID),
    };
    // Members of a group must agree on type and flags, so try with the
    // outgoing filter first and without it (older kernels) second.
    let with_ignore =
        (id | (kind | flags | libc::PACKET_FANOUT_FLAG_IGNORE_OUTGOING) << 16) as libc::c_int;
    let without = (id | (kind | flags) << 16) as libc::c_int;
    if setsockopt(
        fd,
        libc::SOL_PACKET,
        libc::PACKET_FANOUT,
        &with_ignore,
        "PACKET_FANOUT",
        port,
    )
    .is_err()
    {
        setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_FANOUT,
            &without,
            "PACKET_FANOUT",
            port,
        )?;
    }
    if let Some(id) = group {
        return Ok(id);
    }
    let mut val: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: PACKET_FANOUT reads back as one int; `val` is one, `len` says so.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_FANOUT,
            (&mut val as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(PortError::last_os("getsockopt(PACKET_FANOUT)", port));
    }
    Ok((val & 0xffff) as u16)
}

impl Port for AfPacketPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "afpacket"
    }

    fn n_rxq(&self) -> usize {
        self.queues.len()
    }

    fn n_txq(&self) -> usize {
        self.queues.len()
    }

    fn caps(&self) -> PortCaps {
        PortCaps {
            tx_csum_partial: true,
            tx_tso: true,
            mtu: self.mtu.load(Relaxed),
        }
    }

    fn rx_batch(&self, rxq: usize, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        let room = BATCH_SIZE.saturating_sub(batch.len());
        if room == 0 {
            return 0;
        }
        let q = self.queue(rxq);
        let mut ring = q.ring.lock().unwrap_or_else(|e| e.into_inner());
        let (mut bytes, mut errors, mut malformed) = (0u64, 0u64, 0u64);
        let got = ring.poll(room, &mut malformed, |frame| {
            if frame.pkttype == libc::PACKET_OUTGOING {
                return false;
            }
            if frame.data.len() < frame.wire_len || frame.data.len() < 14 {
                // Truncated to fit the block, or a runt: unusable.
                errors += 1;
                return false;
            }
            let mut offload = match vnet::decode(frame.vnet) {
                Ok(o) => o,
                Err(e) => {
                    tracing::trace!(port = %self.name, error = %e, "AF_PACKET rx: bad virtio-net header");
                    errors += 1;
                    return false;
                }
            };
            let mut p = pool.get();
            let data = frame.data;
            match frame.vlan {
                Some((tpid, tci)) => {
                    // The kernel took the outer tag out: put it back at
                    // byte 12 (the frame is at least 14 bytes, see above).
                    let (at, len) = (vlan::FIRST_TAG, vlan::TAG_LEN);
                    let out = p.frame_for_write(data.len() + len);
                    out[..at].copy_from_slice(&data[..at]);
                    let mut tag = vlan::Tag::new_unchecked(&mut out[at..]);
                    tag.set_tpid(tpid);
                    tag.set_tci(tci);
                    out[at + len..].copy_from_slice(&data[at..]);
                    vnet::shift_offload(&mut offload, len as u16);
                }
                None => p.frame_for_write(data.len()).copy_from_slice(data),
            }
            p.offload = offload;
            bytes += p.len() as u64;
            batch.push(p);
            true
        });
        drop(ring);
        let c = &self.counters;
        if got > 0 {
            c.rx_packets.fetch_add(got as u64, Relaxed);
            c.rx_bytes.fetch_add(bytes, Relaxed);
        }
        if errors + malformed > 0 {
            c.rx_errors.fetch_add(errors + malformed, Relaxed);
        }
        got
    }

    fn tx_batch(&self, txq: usize, packets: &mut Vec<Packet>, pool: &mut PacketPool) {
        let fd = self.queue(txq).sock.as_raw_fd();
        let (mut sent, mut bytes, mut dropped, mut errors) = (0, 0, 0, 0);
        for chunk in packets.chunks(BATCH_SIZE) {
            let (s, b, d, e) = self.send_chunk(fd, chunk);
            sent += s;
            bytes += b;
            dropped += d;
            errors += e;
        }
        pool.put_all(packets);
        let c = &self.counters;
        c.tx_packets.fetch_add(sent, Relaxed);
        c.tx_bytes.fetch_add(bytes, Relaxed);
        if dropped > 0 {
            c.tx_dropped.fetch_add(dropped, Relaxed);
        }
        if errors > 0 {
            c.tx_errors.fetch_add(errors, Relaxed);
        }
    }

    fn stats(&self) -> PortStats {
        self.collect_kernel_drops();
        if let Ok(mtu) = ifreq::mtu(self.queues[0].sock.as_fd(), &self.name) {
            self.mtu.store(mtu, Relaxed);
        }
        let c = &self.counters;
        PortStats {
            rx_packets: c.rx_packets.load(Relaxed),
            rx_bytes: c.rx_bytes.load(Relaxed),
            rx_dropped: c.rx_kernel_drops.load(Relaxed),
            rx_errors: c.rx_errors.load(Relaxed),
            tx_packets: c.tx_packets.load(Relaxed),
            tx_bytes: c.tx_bytes.load(Relaxed),
            tx_dropped: c.tx_dropped.load(Relaxed),
            tx_errors: c.tx_errors.load(Relaxed),
        }
    }

    fn rx_fd(&self, rxq: usize) -> Option<RawFd> {
        self.queues.get(rxq).map(|q| q.sock.as_raw_fd())
    }

    fn mac(&self) -> Option<[u8; 6]> {
        ifreq::mac(self.queues[0].sock.as_fd(), &self.name).ok()
    }

    fn link_up(&self) -> bool {
        ifreq::link_up(self.queues[0].sock.as_fd(), &self.name)
    }

    fn link_speed(&self) -> Option<super::ethtool::LinkSpeed> {
        super::ethtool::link_speed(self.queues[0].sock.as_fd(), &self.name)
    }
}

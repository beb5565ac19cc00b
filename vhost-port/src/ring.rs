//! Moving packets through a guest's split virtqueues.
//!
//! Two directions, no I/O: [`GuestTx::pop`] turns the descriptor chains a
//! guest made available on its transmit queue into datapath [`Packet`]s,
//! and [`GuestRx::push`] copies a packet into the buffers the guest made
//! available on its receive queue (several of them with `MRG_RXBUF`,
//! `num_buffers` saying how many). Both take a `virtio_queue::Queue` (the
//! ring addresses and indexes vhost-user set up) and a `GuestMemory`, so
//! unit tests drive them with a fake guest built in an anonymous mapping.
//!
//! The one idea: the guest is not trusted. Every descriptor is read and
//! every buffer reached through vm-memory's checked accessors, a chain is
//! walked with a budget (the queue size, or the indirect table's length)
//! so a loop ends as an error instead of a hang, and the available index
//! may not run more than a queue size ahead of us. Such faults are
//! [`GuestError`]s: the caller stops the port. A packet that is merely
//! unusable (a header the datapath cannot represent, a runt) is dropped and
//! counted, and the ring goes on.

use crate::net::NetFeatures;
use datapath::netdev::afpacket::vnet;
use datapath::packet::{Batch, Packet, PacketPool};
use std::num::Wrapping;
use std::sync::atomic::Ordering;
use virtio_queue::desc::split::Descriptor;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Address, Bytes, GuestAddress, GuestMemory, GuestMemoryBackend};

/// Largest frame a guest may send: a 64 KiB IP packet plus link headers.
pub const MAX_TX_FRAME: usize = 65535 + 14 + 8;
/// Smallest frame accepted from a guest (an Ethernet header).
pub const MIN_TX_FRAME: usize = 14;
/// Size of a split-ring descriptor.
const DESC_SIZE: u64 = 16;

/// A guest broke the virtqueue contract; its port must be stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    #[error("available index jumped from {next} to {avail} on a queue of {size}")]
    IndexJump { next: u16, avail: u16, size: u16 },
    #[error("descriptor index {index} outside a table of {size}")]
    DescIndex { index: u16, size: u16 },
    #[error("buffer of {len} bytes at {addr:#x} is outside guest memory")]
    OutOfMemory { addr: u64, len: u32 },
    #[error("descriptor chain from head {head} is longer than {limit} (a loop?)")]
    ChainTooLong { head: u16, limit: u16 },
    #[error("invalid indirect descriptor table of {len} bytes at {addr:#x}")]
    BadIndirect { addr: u64, len: u32 },
    #[error("{0} descriptor in a chain that must be {1}")]
    Direction(&'static str, &'static str),
    #[error("ring structure at {0:#x} is outside guest memory")]
    Ring(u64),
    #[error("control command without {0}")]
    Control(&'static str),
    #[error(
        "memory region {index} maps {size} bytes at offset {offset} of a file of {file_size} bytes"
    )]
    MemoryRegion {
        index: usize,
        size: u64,
        offset: u64,
        file_size: u64,
    },
    #[error("memory region {index} is backed by a {kind}, not a regular file")]
    MemoryFile { index: usize, kind: String },
}

/// One guest buffer of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub addr: GuestAddress,
    pub len: u32,
    /// Device-writable (the device fills it) rather than device-readable.
    pub writable: bool,
}

/// The directions a chain's buffers must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Every buffer device-readable (a transmit chain).
    Readable,
    /// Every buffer device-writable (a receive chain).
    Writable,
    /// Readable buffers, then writable ones (a control command and its
    /// acknowledgement): a readable buffer may not follow a writable one.
    ReadThenWrite,
}

/// Walk the chain starting at `head`, checking every descriptor, and
/// collect its buffers into `segs` (cleared first). `shape` is the
/// direction the device needs of the buffers. Returns the total number of
/// bytes.
pub fn walk_chain<M: GuestMemory>(
    mem: &M,
    table: GuestAddress,
    queue_size: u16,
    head: u16,
    shape: Shape,
    segs: &mut Vec<Segment>,
) -> Result<u64, GuestError> {
    segs.clear();
    if head >= queue_size {
        return Err(GuestError::DescIndex {
            index: head,
            size: queue_size,
        });
    }
    let (mut table, mut size, mut index) = (table, queue_size, head);
    let mut indirect = false;
    // Descriptors that may still be visited in the current table: a chain
    // can never be longer than its table without repeating an entry.
    let mut budget = queue_size;
    let mut total = 0u64;
    loop {
        let at = table
            .checked_add(u64::from(index) * DESC_SIZE)
            .ok_or(GuestError::Ring(table.raw_value()))?;
        let d: Descriptor = mem
            .read_obj(at)
            .map_err(|_| GuestError::Ring(at.raw_value()))?;
        if d.refers_to_indirect_table() {
            let bad = GuestError::BadIndirect {
                addr: d.addr().raw_value(),
                len: d.len(),
            };
            // One level only, never mixed with NEXT, whole descriptors.
            if indirect || d.has_next() || d.len() == 0 || u64::from(d.len()) % DESC_SIZE != 0 {
                return Err(bad);
            }
            let n = u64::from(d.len()) / DESC_SIZE;
            if n > u64::from(u16::MAX) {
                return Err(bad);
            }
            table = d.addr();
            size = n as u16;
            index = 0;
            budget = size;
            indirect = true;
            continue;
        }
        let writable = d.is_write_only();
        let after_writable = segs.last().is_some_and(|s| s.writable);
        match shape {
            Shape::Readable if writable => {
                return Err(GuestError::Direction(
                    "a device-writable",
                    "device-readable",
                ))
            }
            Shape::Writable if !writable => {
                return Err(GuestError::Direction(
                    "a device-readable",
                    "device-writable",
                ))
            }
            Shape::ReadThenWrite if after_writable && !writable => {
                return Err(GuestError::Direction(
                    "a device-readable",
                    "device-writable after its first writable buffer",
                ))
            }
            _ => {}
        }
        if d.len() > 0 {
            if !mem.check_range(d.addr(), d.len() as usize, permission(writable)) {
                return Err(GuestError::OutOfMemory {
                    addr: d.addr().raw_value(),
                    len: d.len(),
                });
            }
            segs.push(Segment {
                addr: d.addr(),
                len: d.len(),
                writable,
            });
            total += u64::from(d.len());
        }
        budget -= 1;
        if !d.has_next() {
            return Ok(total);
        }
        if budget == 0 {
            return Err(GuestError::ChainTooLong {
                head,
                limit: if indirect { size } else { queue_size },
            });
        }
        index = d.next();
        if index >= size {
            return Err(GuestError::DescIndex { index, size });
        }
    }
}

fn permission(writable: bool) -> vm_memory::Permissions {
    if writable {
        vm_memory::Permissions::Write
    } else {
        vm_memory::Permissions::Read
    }
}

/// Chains the guest has made available and we have not taken: checks the
/// available index against the queue size (a jump is a guest error).
pub(crate) fn pending<M: GuestMemory>(q: &Queue, mem: &M) -> Result<u16, GuestError> {
    let avail = q
        .avail_idx(mem, Ordering::Acquire)
        .map_err(|_| GuestError::Ring(q.avail_ring()))?;
    let next = Wrapping(q.next_avail());
    let n = (avail - next).0;
    if n > q.size() {
        return Err(GuestError::IndexJump {
            next: next.0,
            avail: avail.0,
            size: q.size(),
        });
    }
    Ok(n)
}

/// The head of the `nth` chain after `next_avail` in the available ring.
pub(crate) fn avail_head<M: GuestMemory>(q: &Queue, mem: &M, nth: u16) -> Result<u16, GuestError> {
    let slot = (Wrapping(q.next_avail()) + Wrapping(nth)).0 % q.size().max(1);
    let addr = GuestAddress(q.avail_ring())
        .checked_add(4 + 2 * u64::from(slot))
        .ok_or(GuestError::Ring(q.avail_ring()))?;
    mem.load::<u16>(addr, Ordering::Acquire)
        .map(u16::from_le)
        .map_err(|_| GuestError::Ring(addr.raw_value()))
}

/// The heads of the next `n` chains after `next_avail`, read from the
/// available ring in one or two pieces (it wraps).
fn avail_heads<M: GuestMemory>(
    q: &Queue,
    mem: &M,
    n: u16,
    heads: &mut Vec<u16>,
) -> Result<(), GuestError> {
    heads.clear();
    let size = q.size().max(1);
    let first = q.next_avail() % size;
    let mut raw = [0u8; 2 * 256];
    let mut done = 0u16;
    while done < n {
        let slot = (first + done) % size;
        let count = (n - done).min(size - slot).min(256);
        let at = GuestAddress(q.avail_ring())
            .checked_add(4 + 2 * u64::from(slot))
            .ok_or(GuestError::Ring(q.avail_ring()))?;
        let bytes = &mut raw[..2 * usize::from(count)];
        mem.read_slice(bytes, at)
            .map_err(|_| GuestError::Ring(at.raw_value()))?;
        heads.extend(
            bytes
                .chunks_exact(2)
                .map(|h| u16::from_le_bytes([h[0], h[1]])),
        );
        done += count;
    }
    Ok(())
}

/// Write `bytes` at `addr` through one translated slice (piecewise when
/// the range spans two memory regions). The range was checked when the
/// chain was walked, so a failure here is the guest's memory table
/// changing under us: a fault like any out-of-memory buffer.
fn write_guest<M: GuestMemoryBackend>(
    mem: &M,
    addr: GuestAddress,
    bytes: &[u8],
) -> Result<(), GuestError> {
    let fault = || GuestError::OutOfMemory {
        addr: addr.raw_value(),
        len: bytes.len() as u32,
    };
    match mem.get_slice(addr, bytes.len()) {
        Ok(buf) => {
            buf.copy_from(bytes);
            Ok(())
        }
        Err(_) => mem.write_slice(bytes, addr).map_err(|_| fault()),
    }
}

/// Line the queue up with the used ring the driver sees, when a new
/// connection takes over rings that were in use: DPDK's virtio-user in
/// server mode reconnects with a base of 0 while its rings are thousands
/// of entries in (DPDK's own vhost library resynchronises the same way).
/// Returns the (old, new) position when it moved.
pub fn resume_at_used<M: GuestMemory>(q: &mut Queue, mem: &M) -> Option<(u16, u16)> {
    let used = q.used_idx(mem, Ordering::Acquire).ok()?.0;
    // (The backend framework may already have moved next_used there.)
    let was = q.next_avail();
    if used == was && used == q.next_used() {
        return None;
    }
    q.set_next_avail(used);
    q.set_next_used(used);
    Some((was, used))
}

/// Bytes of a used-ring element (id, len).
const USED_ELEM_SIZE: u64 = 8;
/// `VRING_AVAIL_F_NO_INTERRUPT`: the driver asks for no used-buffer
/// notifications (without `EVENT_IDX`).
const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Put `entries` (head, bytes written) on the used ring at once: the
/// elements first, then one release store of the used index, so a driver
/// never sees part of a packet that spans several buffers (DPDK's
/// virtio PMD counts such a packet as an error and drops it).
pub(crate) fn publish_used<M: GuestMemory>(
    q: &mut Queue,
    mem: &M,
    entries: &[(u16, u32)],
) -> Result<(), GuestError> {
    if entries.is_empty() {
        return Ok(());
    }
    let ring = GuestAddress(q.used_ring());
    let size = q.size().max(1);
    let mut next = Wrapping(q.next_used());
    for &(head, len) in entries {
        if head >= q.size() {
            return Err(GuestError::DescIndex {
                index: head,
                size: q.size(),
            });
        }
        let at = ring
            .checked_add(4 + u64::from(next.0 % size) * USED_ELEM_SIZE)
            .ok_or(GuestError::Ring(ring.raw_value()))?;
        let mut elem = [0u8; USED_ELEM_SIZE as usize];
        elem[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..].copy_from_slice(&len.to_le_bytes());
        mem.write_slice(&elem, at)
            .map_err(|_| GuestError::Ring(at.raw_value()))?;
        next += Wrapping(1);
    }
    q.set_next_used(next.0);
    let idx = ring
        .checked_add(2)
        .ok_or(GuestError::Ring(ring.raw_value()))?;
    mem.store(next.0.to_le(), idx, Ordering::Release)
        .map_err(|_| GuestError::Ring(idx.raw_value()))
}

/// Whether the driver wants a used-buffer notification for what was put
/// on the used ring since its index was `old`: with `EVENT_IDX`, when its
/// `used_event` lies in `old..next_used`; without, unless it set
/// `VRING_AVAIL_F_NO_INTERRUPT` (DPDK's PMD does, as it polls).
pub fn should_notify<M: GuestMemory>(q: &Queue, mem: &M, old: u16) -> bool {
    let new = Wrapping(q.next_used());
    if new.0 == old {
        return false;
    }
    // The used index must be visible before the driver's hint is read.
    std::sync::atomic::fence(Ordering::SeqCst);
    let avail = GuestAddress(q.avail_ring());
    if q.event_idx_enabled() {
        let at = avail.checked_add(4 + 2 * u64::from(q.size()));
        let Some(event) = at.and_then(|a| mem.load::<u16>(a, Ordering::Relaxed).ok()) else {
            return true;
        };
        let event = Wrapping(u16::from_le(event));
        return new - event - Wrapping(1) < new - Wrapping(old);
    }
    mem.load::<u16>(avail, Ordering::Relaxed)
        .map(|f| u16::from_le(f) & VRING_AVAIL_F_NO_INTERRUPT == 0)
        .unwrap_or(true)
}

/// What one pass over the transmit queue did (besides the packets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxTally {
    /// Chains consumed (packets plus drops).
    pub chains: u32,
    pub packets: u32,
    pub bytes: u64,
    /// Chains dropped: bad header, runt or oversized frame.
    pub dropped: u32,
}

/// The guest's transmit queue, seen from the device.
#[derive(Debug, Default)]
pub struct GuestTx {
    segs: Vec<Segment>,
    /// Heads of the chains taken in this pass.
    heads: Vec<u16>,
    /// Chains consumed in this pass, returned to the used ring together.
    used: Vec<(u16, u32)>,
}

impl GuestTx {
    pub fn new() -> Self {
        GuestTx {
            segs: Vec::with_capacity(64),
            heads: Vec::with_capacity(64),
            used: Vec::with_capacity(64),
        }
    }

    /// Take up to `max` chains off the available ring, append the packets
    /// to `batch` and return every chain to the used ring.
    pub fn pop<M: GuestMemoryBackend>(
        &mut self,
        q: &mut Queue,
        mem: &M,
        features: NetFeatures,
        max: usize,
        batch: &mut Batch,
        pool: &mut PacketPool,
    ) -> Result<TxTally, GuestError> {
        self.used.clear();
        let result = self.take(q, mem, features, max, batch, pool);
        // What was consumed goes back even when a later chain was bad.
        publish_used(q, mem, &self.used)?;
        result
    }

    fn take<M: GuestMemoryBackend>(
        &mut self,
        q: &mut Queue,
        mem: &M,
        features: NetFeatures,
        max: usize,
        batch: &mut Batch,
        pool: &mut PacketPool,
    ) -> Result<TxTally, GuestError> {
        let mut tally = TxTally::default();
        let n = pending(q, mem)?.min(max.min(u16::MAX as usize) as u16);
        avail_heads(q, mem, n, &mut self.heads)?;
        for i in 0..self.heads.len() {
            let head = self.heads[i];
            let total = walk_chain(
                mem,
                GuestAddress(q.desc_table()),
                q.size(),
                head,
                Shape::Readable,
                &mut self.segs,
            )?;
            q.set_next_avail(q.next_avail().wrapping_add(1));
            tally.chains += 1;
            let mut p = pool.get();
            match self.copy_out(mem, features, total, &mut p) {
                Ok(()) => {
                    tally.packets += 1;
                    tally.bytes += p.len() as u64;
                    batch.push(p);
                }
                Err(why) => {
                    tracing::trace!(head, why, "guest packet dropped");
                    tally.dropped += 1;
                    pool.put(p);
                }
            }
            self.used.push((head, 0));
        }
        Ok(tally)
    }

    /// Copy the chain in `self.segs` (header, then frame) into `p`.
    fn copy_out<M: GuestMemoryBackend>(
        &self,
        mem: &M,
        features: NetFeatures,
        total: u64,
        p: &mut Packet,
    ) -> Result<(), &'static str> {
        let hdr_len = features.hdr_len as u64;
        if total < hdr_len + MIN_TX_FRAME as u64 {
            return Err("runt");
        }
        if total - hdr_len > MAX_TX_FRAME as u64 {
            return Err("oversized");
        }
        let mut hdr = [0u8; vnet::VNET_HDR_LEN + 2];
        let frame_len = (total - hdr_len) as usize;
        let frame = p.frame_for_write(frame_len);
        let mut off = 0usize; // position in the header+frame stream
        for s in &self.segs {
            let len = s.len as usize;
            // One translation per buffer; one that spans two memory regions
            // (no single slice) is read piece by piece.
            let whole = mem.get_slice(s.addr, len).ok();
            let read = |pos: usize, dst: &mut [u8]| match &whole {
                Some(buf) => buf
                    .subslice(pos, dst.len())
                    .map(|part| {
                        part.copy_to(dst);
                    })
                    .map_err(|_| "unreadable"),
                None => mem
                    .read_slice(dst, s.addr.unchecked_add(pos as u64))
                    .map_err(|_| "unreadable"),
            };
            let mut pos = 0usize;
            if off < features.hdr_len {
                let n = len.min(features.hdr_len - off);
                read(0, &mut hdr[off..off + n])?;
                off += n;
                pos = n;
            }
            if pos < len {
                let n = len - pos;
                let at = off - features.hdr_len;
                read(pos, &mut frame[at..at + n])?;
                off += n;
            }
        }
        let offload = vnet::decode(&hdr).map_err(|_| "unsupported virtio-net header")?;
        if offload.gso.is_some() || (offload.csum_partial.is_some() && !features.csum) {
            // Not offered (no HOST_TSO), or not acked: the guest made it up.
            return Err("offload the guest did not negotiate");
        }
        p.offload = offload;
        Ok(())
    }
}

/// What [`GuestRx::push`] did with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// In the guest's buffers, using this many of them.
    Delivered(u16),
    /// The guest has not made enough buffers available.
    NoBuffers,
    /// Larger than the buffer the guest gave (without `MRG_RXBUF`).
    TooBig,
}

/// The guest's receive queue, seen from the device.
#[derive(Debug, Default)]
pub struct GuestRx {
    segs: Vec<Segment>,
    /// Used elements of the batch in flight.
    batch: Vec<(u16, u32)>,
    /// Chains taken for the packet in flight: head, bytes written.
    used: Vec<(u16, u32)>,
    /// The first chain's buffers (where the header goes).
    first: Vec<Segment>,
}

impl GuestRx {
    pub fn new() -> Self {
        GuestRx {
            segs: Vec::with_capacity(16),
            batch: Vec::with_capacity(64),
            used: Vec::with_capacity(16),
            first: Vec::with_capacity(16),
        }
    }

    /// Copy `p` (with its virtio-net header) into the guest's receive
    /// buffers and publish them. Nothing is published unless the whole
    /// packet fits.
    pub fn push<M: GuestMemoryBackend>(
        &mut self,
        q: &mut Queue,
        mem: &M,
        features: NetFeatures,
        p: &Packet,
    ) -> Result<Delivery, GuestError> {
        let avail = pending(q, mem)?;
        let d = self.place(q, mem, features, p, avail, 0)?;
        if let Delivery::Delivered(n) = d {
            q.set_next_avail(q.next_avail().wrapping_add(n));
            publish_used(q, mem, &self.used)?;
        }
        Ok(d)
    }

    /// Deliver `packets` in order: the available index is read once and
    /// the used ring published once, after the last packet. `tally` counts
    /// what happened, also when a guest fault cut the batch short.
    pub fn push_batch<M: GuestMemoryBackend>(
        &mut self,
        q: &mut Queue,
        mem: &M,
        features: NetFeatures,
        packets: &[Packet],
        tally: &mut RxTally,
    ) -> Result<(), GuestError> {
        let avail = pending(q, mem)?;
        self.batch.clear();
        let mut taken = 0u16;
        let mut result = Ok(());
        for p in packets {
            match self.place(q, mem, features, p, avail - taken, taken) {
                Ok(Delivery::Delivered(n)) => {
                    taken += n;
                    self.batch.extend_from_slice(&self.used);
                    tally.delivered += 1;
                    tally.bytes += p.len() as u64;
                }
                Ok(Delivery::NoBuffers | Delivery::TooBig) => tally.dropped += 1,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // What was delivered is published even when a later packet hit a
        // fault (the port is reset right after, but the guest keeps it).
        q.set_next_avail(q.next_avail().wrapping_add(taken));
        publish_used(q, mem, &self.batch)?;
        result
    }

    /// Write `p` into the chains after the first `skip` available ones
    /// (`avail` more are there), the header last; leave the chains used in
    /// `self.used`. Publishes nothing.
    fn place<M: GuestMemoryBackend>(
        &mut self,
        q: &Queue,
        mem: &M,
        features: NetFeatures,
        p: &Packet,
        avail: u16,
        skip: u16,
    ) -> Result<Delivery, GuestError> {
        let hdr_len = features.hdr_len;
        let need = hdr_len + p.len();
        let frame = p.data();
        self.used.clear();
        let mut written = 0usize; // position in the header+frame stream
        while written < need {
            let taken = self.used.len();
            if taken >= avail as usize || taken >= u16::MAX as usize {
                return Ok(Delivery::NoBuffers);
            }
            let head = avail_head(q, mem, skip.wrapping_add(taken as u16))?;
            walk_chain(
                mem,
                GuestAddress(q.desc_table()),
                q.size(),
                head,
                Shape::Writable,
                &mut self.segs,
            )?;
            let mut chain_len = 0u32;
            for s in &self.segs {
                if written >= need {
                    break;
                }
                // The header is written last, once num_buffers is known.
                let mut addr = s.addr;
                let mut room = s.len as usize;
                if written < hdr_len {
                    let n = room.min(hdr_len - written);
                    written += n;
                    room -= n;
                    chain_len += n as u32;
                    addr = addr.unchecked_add(n as u64);
                }
                let n = room.min(need - written);
                if n > 0 {
                    let at = written - hdr_len;
                    write_guest(mem, addr, &frame[at..at + n])?;
                    written += n;
                    chain_len += n as u32;
                }
            }
            if taken == 0 {
                self.first.clear();
                self.first.extend_from_slice(&self.segs);
            }
            self.used.push((head, chain_len));
            if written < need && !features.mrg_rxbuf {
                return Ok(Delivery::TooBig);
            }
        }
        // The header, with num_buffers, into the first chain.
        let mut hdr = [0u8; vnet::VNET_HDR_LEN + 2];
        let mut offload = p.offload;
        if !features.guest_csum {
            offload.csum_partial = None;
        }
        hdr[..vnet::VNET_HDR_LEN].copy_from_slice(&vnet::encode(&offload));
        let n_bufs = self.used.len() as u16;
        hdr[vnet::VNET_HDR_LEN..].copy_from_slice(&n_bufs.to_le_bytes());
        let mut off = 0usize;
        for s in &self.first {
            if off >= hdr_len {
                break;
            }
            let n = (s.len as usize).min(hdr_len - off);
            write_guest(mem, s.addr, &hdr[off..off + n])?;
            off += n;
        }
        Ok(Delivery::Delivered(n_bufs))
    }
}

/// What [`GuestRx::push_batch`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxTally {
    pub delivered: u64,
    pub bytes: u64,
    /// No buffers, or too big without `MRG_RXBUF`.
    pub dropped: u64,
}

#[cfg(test)]
mod tests;

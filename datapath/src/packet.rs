//! Packet buffers, batches and the per-worker buffer pool.
//!
//! A [`Packet`] owns a byte buffer with *headroom* in front of the frame, so
//! pushing a VLAN tag, an MPLS label or a tunnel header moves the start of the
//! frame back instead of shifting the whole payload. Buffers are recycled
//! through a [`PacketPool`]: once a worker has warmed up, the hit path never
//! allocates (a buffer that once grew for a 64 KiB GSO frame keeps its
//! capacity).
//!
//! A [`Batch`] is up to [`BATCH_SIZE`] packets: ports receive into batches,
//! caches look up whole batches, actions execute on batches and ports send
//! batches.

use crate::tunnel::TunnelMetadata;
use crate::PortNo;

/// The largest number of packets handled together.
pub const BATCH_SIZE: usize = 32;

/// Bytes reserved in front of every frame for pushed headers.
pub const HEADROOM: usize = 128;

/// Default buffer capacity (headroom + a 9000-byte jumbo frame + slack).
pub const DEFAULT_CAPACITY: usize = HEADROOM + 9216;

/// Offload state that arrives with a packet from a port that reports it
/// (AF_PACKET with `PACKET_VNET_HDR`, vhost-user with the virtio-net header),
/// in the vocabulary of the virtio-net header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offload {
    /// The L4 checksum is partial: the sender wrote only the pseudo-header
    /// sum at `csum_start + csum_offset` and expects it to be completed.
    pub csum_partial: Option<CsumPartial>,
    /// The packet is larger than the MTU and must be segmented into
    /// `gso_size`-byte payloads before it leaves through a port that
    /// cannot do it.
    pub gso: Option<Gso>,
}

/// Where a partial checksum lives (offsets from the start of the frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsumPartial {
    pub start: u16,
    pub offset: u16,
}

/// Segmentation request carried with an oversized packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gso {
    pub kind: GsoKind,
    /// Payload bytes per segment (the MSS for TCP).
    pub size: u16,
    /// Length of all headers (Ethernet through L4) as reported by the sender.
    pub hdr_len: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoKind {
    TcpV4,
    TcpV6,
    Udp,
}

/// One packet: a frame inside a reusable buffer, plus the metadata the
/// pipeline carries with it.
#[derive(Clone, Debug)]
pub struct Packet {
    buf: Vec<u8>,
    head: usize,
    len: usize,
    /// The port it arrived on.
    pub in_port: PortNo,
    /// Offload state from the receiving port.
    pub offload: Offload,
    /// Packet mark (skb mark in Linux terms), settable by actions.
    pub mark: u32,
    /// Recirculation id the packet is being looked up under (0 = first pass).
    pub recirc_id: u32,
    /// The egress queue a `SetQueue` action chose (see [`crate::qos`]).
    pub queue: Option<u32>,
    /// The port a packet queued behind a tunnel port's QoS leaves by (its
    /// underlay link); `None` for a packet batched for the port it leaves by.
    pub egress: Option<PortNo>,
    /// What a tunnel pop learnt from the outer headers (empty otherwise).
    pub tunnel: TunnelMetadata,
}

impl Default for Packet {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Packet {
    /// An empty packet whose buffer holds `capacity` bytes including headroom.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(HEADROOM + 64);
        Packet {
            buf: vec![0; capacity],
            head: HEADROOM,
            len: 0,
            in_port: 0,
            offload: Offload::default(),
            mark: 0,
            recirc_id: 0,
            queue: None,
            egress: None,
            tunnel: TunnelMetadata::default(),
        }
    }

    /// A packet holding a copy of `frame` (tests, packet-out, copies).
    pub fn from_bytes(frame: &[u8]) -> Self {
        let mut p = Self::with_capacity(HEADROOM + frame.len().max(DEFAULT_CAPACITY - HEADROOM));
        p.set_frame(frame);
        p
    }

    /// Forget the frame and the metadata, keep the buffer.
    pub fn reset(&mut self) {
        self.head = HEADROOM;
        self.len = 0;
        self.in_port = 0;
        self.offload = Offload::default();
        self.mark = 0;
        self.recirc_id = 0;
        self.queue = None;
        self.egress = None;
        self.tunnel.clear();
    }

    /// Replace the frame with a copy of `frame`, growing the buffer if needed.
    pub fn set_frame(&mut self, frame: &[u8]) {
        self.head = HEADROOM;
        self.ensure_tail(frame.len());
        self.buf[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
        self.len = frame.len();
    }

    /// Make room for a frame of `len` bytes after the headroom and return the
    /// writable slice; the caller fills it (ports receive straight into it).
    pub fn frame_for_write(&mut self, len: usize) -> &mut [u8] {
        self.head = HEADROOM;
        self.ensure_tail(len);
        self.len = len;
        &mut self.buf[HEADROOM..HEADROOM + len]
    }

    fn ensure_tail(&mut self, len: usize) {
        let need = self.head + len;
        if need > self.buf.len() {
            self.buf.resize(need.next_power_of_two(), 0);
        }
    }

    /// The frame, starting at the Ethernet header.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.head..self.head + self.len]
    }

    /// The frame, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.head..self.head + self.len]
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Insert `n` zero bytes at `offset` from the start of the frame (used to
    /// push headers), taking them from the headroom when there is any.
    pub fn insert_bytes(&mut self, offset: usize, n: usize) -> &mut [u8] {
        let offset = offset.min(self.len);
        if self.head >= n {
            let old = self.head;
            self.head -= n;
            self.buf.copy_within(old..old + offset, self.head);
        } else {
            self.ensure_tail(self.len + n);
            let start = self.head + offset;
            self.buf.copy_within(start..self.head + self.len, start + n);
        }
        self.len += n;
        let start = self.head + offset;
        let hole = &mut self.buf[start..start + n];
        hole.fill(0);
        hole
    }

    /// Remove `n` bytes at `offset` from the start of the frame (pop headers).
    pub fn remove_bytes(&mut self, offset: usize, n: usize) {
        let offset = offset.min(self.len);
        let n = n.min(self.len - offset);
        // Move the bytes before the hole forward: cheaper for headers.
        self.buf
            .copy_within(self.head..self.head + offset, self.head + n);
        self.head += n;
        self.len -= n;
    }

    /// Cut the frame to at most `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Append bytes at the end of the frame.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let end = self.head + self.len;
        self.ensure_tail(self.len + bytes.len());
        self.buf[end..end + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Copy frame and metadata from `other` into this packet's buffer
    /// (no allocation once the buffer is large enough).
    pub fn copy_from(&mut self, other: &Packet) {
        self.set_frame(other.data());
        self.in_port = other.in_port;
        self.offload = other.offload;
        self.mark = other.mark;
        self.recirc_id = other.recirc_id;
        self.queue = other.queue;
        self.egress = other.egress;
        self.tunnel.clone_from(&other.tunnel);
    }
}

/// Up to [`BATCH_SIZE`] packets handled together.
#[derive(Debug, Default)]
pub struct Batch {
    pub packets: Vec<Packet>,
}

impl Batch {
    pub fn new() -> Self {
        Batch {
            packets: Vec::with_capacity(BATCH_SIZE),
        }
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_SIZE
    }

    pub fn push(&mut self, p: Packet) {
        self.packets.push(p);
    }
}

/// A free list of packet buffers owned by one worker.
#[derive(Debug, Default)]
pub struct PacketPool {
    free: Vec<Packet>,
    allocated: u64,
}

impl PacketPool {
    pub fn new() -> Self {
        PacketPool {
            free: Vec::with_capacity(4 * BATCH_SIZE),
            allocated: 0,
        }
    }

    /// A reset packet, recycled if possible.
    #[inline]
    pub fn get(&mut self) -> Packet {
        match self.free.pop() {
            Some(mut p) => {
                p.reset();
                p
            }
            None => {
                self.allocated += 1;
                Packet::default()
            }
        }
    }

    /// Give a packet back for reuse.
    #[inline]
    pub fn put(&mut self, p: Packet) {
        if self.free.len() < 16 * BATCH_SIZE {
            self.free.push(p);
        }
    }

    /// Return every packet of a batch to the pool.
    pub fn put_all(&mut self, packets: &mut Vec<Packet>) {
        for p in packets.drain(..) {
            self.put(p);
        }
    }

    /// How many buffers this pool ever allocated (a steady state stops
    /// growing: that is the "no allocation on the hit path" check).
    pub fn allocated(&self) -> u64 {
        self.allocated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_pop_headers_round_trip() {
        let frame: Vec<u8> = (0..64u8).collect();
        let mut p = Packet::from_bytes(&frame);
        p.insert_bytes(12, 4).copy_from_slice(&[0x81, 0, 0, 5]);
        assert_eq!(p.len(), 68);
        assert_eq!(&p.data()[..12], &frame[..12]);
        assert_eq!(&p.data()[12..16], &[0x81, 0, 0, 5]);
        assert_eq!(&p.data()[16..], &frame[12..]);
        p.remove_bytes(12, 4);
        assert_eq!(p.data(), &frame[..]);
    }

    #[test]
    fn insert_without_headroom_grows_the_tail() {
        let frame = vec![7u8; 100];
        let mut p = Packet::from_bytes(&frame);
        p.insert_bytes(0, HEADROOM);
        p.insert_bytes(14, 8).fill(1);
        assert_eq!(p.len(), 100 + HEADROOM + 8);
        assert_eq!(&p.data()[14..22], &[1; 8]);
        assert_eq!(&p.data()[HEADROOM + 8..], &frame[..]);
    }

    #[test]
    fn pool_recycles() {
        let mut pool = PacketPool::new();
        let a = pool.get();
        pool.put(a);
        let _b = pool.get();
        assert_eq!(pool.allocated(), 1);
    }
}

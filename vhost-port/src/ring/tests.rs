//! Ring tests against a fake guest: an anonymous mapping as guest memory,
//! descriptor tables and rings written by hand.

use super::*;
use crate::net::VIRTIO_NET_F_MRG_RXBUF;
use crate::net::{NetFeatures, VIRTIO_F_VERSION_1, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM};
use datapath::packet::{CsumPartial, Offload};
use vm_memory::GuestMemoryMmap;

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const F_INDIRECT: u16 = 4;

const MEM_SIZE: u64 = 0x10_0000;
const DESC: u64 = 0x1000;
const AVAIL: u64 = 0x2000;
const USED: u64 = 0x3000;
const QSIZE: u16 = 16;

/// A guest: memory, a queue as the vhost-user handler would set it up,
/// and the driver's view of the next available slot.
struct Guest {
    mem: GuestMemoryMmap,
    q: Queue,
    avail_idx: u16,
}

impl Guest {
    fn new() -> Self {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), MEM_SIZE as usize)]).unwrap();
        let mut q = Queue::new(256).unwrap();
        q.set_size(QSIZE);
        q.try_set_desc_table_address(GuestAddress(DESC)).unwrap();
        q.try_set_avail_ring_address(GuestAddress(AVAIL)).unwrap();
        q.try_set_used_ring_address(GuestAddress(USED)).unwrap();
        q.set_ready(true);
        Guest {
            mem,
            q,
            avail_idx: 0,
        }
    }

    fn desc(&self, table: u64, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        self.mem
            .write_obj(
                Descriptor::new(addr, len, flags, next),
                GuestAddress(table + u64::from(i) * 16),
            )
            .unwrap();
    }

    /// Offer the chain starting at `head`.
    fn offer(&mut self, head: u16) {
        let slot = self.avail_idx % QSIZE;
        self.mem
            .write_obj(head, GuestAddress(AVAIL + 4 + 2 * u64::from(slot)))
            .unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.set_avail_idx(self.avail_idx);
    }

    fn set_avail_idx(&self, idx: u16) {
        self.mem.write_obj(idx, GuestAddress(AVAIL + 2)).unwrap();
    }

    fn used_idx(&self) -> u16 {
        self.mem.read_obj(GuestAddress(USED + 2)).unwrap()
    }

    fn used(&self, i: u16) -> (u32, u32) {
        let at = USED + 4 + 8 * u64::from(i % QSIZE);
        (
            self.mem.read_obj(GuestAddress(at)).unwrap(),
            self.mem.read_obj(GuestAddress(at + 4)).unwrap(),
        )
    }

    fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.mem.read_slice(&mut v, GuestAddress(addr)).unwrap();
        v
    }

    fn write(&self, addr: u64, bytes: &[u8]) {
        self.mem.write_slice(bytes, GuestAddress(addr)).unwrap();
    }
}

fn modern() -> NetFeatures {
    NetFeatures::from_acked(
        1 << VIRTIO_F_VERSION_1
            | 1 << VIRTIO_NET_F_MRG_RXBUF
            | 1 << VIRTIO_NET_F_CSUM
            | 1 << VIRTIO_NET_F_GUEST_CSUM,
    )
}

fn frame(len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f
}

fn pop(g: &mut Guest) -> (Result<TxTally, GuestError>, Batch) {
    let mut batch = Batch::new();
    let mut pool = PacketPool::new();
    let r = GuestTx::new().pop(&mut g.q, &g.mem, modern(), 32, &mut batch, &mut pool);
    (r, batch)
}

#[test]
fn tx_chain_becomes_a_packet_with_its_offload() {
    let mut g = Guest::new();
    // Header alone, then the frame split over two buffers.
    let mut hdr = [0u8; 12];
    hdr[0] = vnet::F_NEEDS_CSUM;
    hdr[6..8].copy_from_slice(&34u16.to_le_bytes());
    hdr[8..10].copy_from_slice(&16u16.to_le_bytes());
    let f = frame(100);
    g.write(0x10000, &hdr);
    g.write(0x11000, &f[..40]);
    g.write(0x12000, &f[40..]);
    g.desc(DESC, 0, 0x10000, 12, F_NEXT, 5);
    g.desc(DESC, 5, 0x11000, 40, F_NEXT, 3);
    g.desc(DESC, 3, 0x12000, 60, 0, 0);
    g.offer(0);
    let (r, batch) = pop(&mut g);
    let tally = r.unwrap();
    assert_eq!((tally.chains, tally.packets, tally.dropped), (1, 1, 0));
    assert_eq!(tally.bytes, 100);
    let p = &batch.packets[0];
    assert_eq!(p.data(), &f[..]);
    assert_eq!(
        p.offload,
        Offload {
            csum_partial: Some(CsumPartial {
                start: 34,
                offset: 16
            }),
            gso: None
        }
    );
    assert_eq!(g.used_idx(), 1);
    assert_eq!(g.used(0), (0, 0));
    assert_eq!(g.q.next_avail(), 1);
}

#[test]
fn tx_through_an_indirect_table_with_header_and_frame_together() {
    let mut g = Guest::new();
    let f = frame(64);
    let mut buf = vec![0u8; 12];
    buf.extend_from_slice(&f);
    g.write(0x20000, &buf[..30]);
    g.write(0x21000, &buf[30..]);
    g.desc(0x8000, 0, 0x20000, 30, F_NEXT, 1);
    g.desc(0x8000, 1, 0x21000, (buf.len() - 30) as u32, 0, 0);
    g.desc(DESC, 2, 0x8000, 32, F_INDIRECT, 0);
    g.offer(2);
    let (r, batch) = pop(&mut g);
    assert_eq!(r.unwrap().packets, 1);
    assert_eq!(batch.packets[0].data(), &f[..]);
    assert_eq!(batch.packets[0].offload, Offload::default());
    assert_eq!(g.used(0), (2, 0));
}

#[test]
fn tx_runt_and_bad_header_are_dropped_not_fatal() {
    let mut g = Guest::new();
    g.desc(DESC, 0, 0x10000, 12 + 10, 0, 0); // a 10-byte "frame"
    let mut hdr = [0u8; 12];
    hdr[1] = vnet::GSO_UDP; // UFO: never negotiated
    hdr[4] = 1;
    g.write(0x11000, &hdr);
    g.write(0x1100c, &frame(60));
    g.desc(DESC, 1, 0x11000, 72, 0, 0);
    g.offer(0);
    g.offer(1);
    let (r, batch) = pop(&mut g);
    let t = r.unwrap();
    assert_eq!((t.chains, t.packets, t.dropped), (2, 0, 2));
    assert!(batch.is_empty());
    assert_eq!(g.used_idx(), 2, "dropped chains still go back to the guest");
}

#[test]
fn rx_fills_mergeable_buffers_and_counts_them() {
    let mut g = Guest::new();
    for i in 0..4u16 {
        g.desc(DESC, i, 0x30000 + u64::from(i) * 0x1000, 64, F_WRITE, 0);
        g.offer(i);
    }
    let f = frame(150);
    let mut p = Packet::from_bytes(&f);
    p.offload.csum_partial = Some(CsumPartial {
        start: 34,
        offset: 6,
    });
    let d = GuestRx::new().push(&mut g.q, &g.mem, modern(), &p).unwrap();
    assert_eq!(d, Delivery::Delivered(3));
    assert_eq!(g.used_idx(), 3);
    assert_eq!(g.used(0), (0, 64));
    assert_eq!(g.used(1), (1, 64));
    assert_eq!(g.used(2), (2, 162 - 128));
    let hdr = g.read(0x30000, 12);
    assert_eq!(hdr[0], vnet::F_NEEDS_CSUM);
    assert_eq!(u16::from_le_bytes([hdr[6], hdr[7]]), 34);
    assert_eq!(u16::from_le_bytes([hdr[10], hdr[11]]), 3, "num_buffers");
    let mut got = g.read(0x30000 + 12, 52);
    got.extend(g.read(0x31000, 64));
    got.extend(g.read(0x32000, 34));
    assert_eq!(got, f);
    assert_eq!(g.q.next_avail(), 3);
}

#[test]
fn rx_without_guest_csum_sends_no_partial_checksum_flag() {
    let mut g = Guest::new();
    g.desc(DESC, 0, 0x30000, 2048, F_WRITE, 0);
    g.offer(0);
    let mut p = Packet::from_bytes(&frame(60));
    p.offload.csum_partial = Some(CsumPartial {
        start: 34,
        offset: 6,
    });
    let feats = NetFeatures::from_acked(1 << VIRTIO_F_VERSION_1);
    let d = GuestRx::new().push(&mut g.q, &g.mem, feats, &p).unwrap();
    assert_eq!(d, Delivery::Delivered(1));
    assert_eq!(g.read(0x30000, 12), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
}

#[test]
fn rx_without_enough_buffers_publishes_nothing() {
    let mut g = Guest::new();
    g.desc(DESC, 0, 0x30000, 64, F_WRITE, 0);
    g.offer(0);
    let p = Packet::from_bytes(&frame(100));
    let mut rx = GuestRx::new();
    assert_eq!(
        rx.push(&mut g.q, &g.mem, modern(), &p).unwrap(),
        Delivery::NoBuffers
    );
    assert_eq!((g.used_idx(), g.q.next_avail()), (0, 0));
    // Without MRG_RXBUF one buffer must hold it all.
    let legacy = NetFeatures::from_acked(1 << VIRTIO_F_VERSION_1);
    assert_eq!(
        rx.push(&mut g.q, &g.mem, legacy, &p).unwrap(),
        Delivery::TooBig
    );
    assert_eq!((g.used_idx(), g.q.next_avail()), (0, 0));
}

#[test]
fn descriptor_outside_guest_memory_is_refused() {
    let mut g = Guest::new();
    g.desc(DESC, 0, MEM_SIZE - 10, 100, 0, 0);
    g.offer(0);
    let (r, batch) = pop(&mut g);
    assert_eq!(
        r,
        Err(GuestError::OutOfMemory {
            addr: MEM_SIZE - 10,
            len: 100
        })
    );
    assert!(batch.is_empty());
    // The receive direction checks the same way.
    let mut g = Guest::new();
    g.desc(DESC, 0, u64::MAX - 8, 64, F_WRITE, 0);
    g.offer(0);
    let p = Packet::from_bytes(&frame(60));
    assert!(matches!(
        GuestRx::new().push(&mut g.q, &g.mem, modern(), &p),
        Err(GuestError::OutOfMemory { .. })
    ));
}

#[test]
fn descriptor_loop_is_refused() {
    let mut g = Guest::new();
    g.desc(DESC, 0, 0x10000, 40, F_NEXT, 1);
    g.desc(DESC, 1, 0x11000, 40, F_NEXT, 0);
    g.offer(0);
    assert_eq!(
        pop(&mut g).0,
        Err(GuestError::ChainTooLong {
            head: 0,
            limit: QSIZE
        })
    );
}

#[test]
fn indirect_loop_and_nesting_are_refused() {
    let mut g = Guest::new();
    g.desc(0x8000, 0, 0x10000, 40, F_NEXT, 1);
    g.desc(0x8000, 1, 0x10000, 40, F_NEXT, 0);
    g.desc(DESC, 0, 0x8000, 32, F_INDIRECT, 0);
    g.offer(0);
    assert_eq!(
        pop(&mut g).0,
        Err(GuestError::ChainTooLong { head: 0, limit: 2 })
    );
    let mut g = Guest::new();
    g.desc(0x8000, 0, 0x9000, 16, F_INDIRECT, 0);
    g.desc(DESC, 0, 0x8000, 16, F_INDIRECT, 0);
    g.offer(0);
    assert!(matches!(pop(&mut g).0, Err(GuestError::BadIndirect { .. })));
}

#[test]
fn ring_index_jump_and_bad_head_are_refused() {
    let mut g = Guest::new();
    g.set_avail_idx(QSIZE + 1);
    assert_eq!(
        pop(&mut g).0,
        Err(GuestError::IndexJump {
            next: 0,
            avail: QSIZE + 1,
            size: QSIZE
        })
    );
    let mut g = Guest::new();
    g.offer(QSIZE + 3);
    assert_eq!(
        pop(&mut g).0,
        Err(GuestError::DescIndex {
            index: QSIZE + 3,
            size: QSIZE
        })
    );
}

#[test]
fn writable_buffer_in_a_transmit_chain_is_refused() {
    let mut g = Guest::new();
    g.desc(DESC, 0, 0x10000, 80, F_WRITE, 0);
    g.offer(0);
    assert!(matches!(pop(&mut g).0, Err(GuestError::Direction(..))));
}

/// Serve the control queue; returns (result, pair counts applied).
fn serve_ctrl(g: &mut Guest, max_pairs: u16) -> (Result<u32, GuestError>, Vec<Command>) {
    let mut seen = Vec::new();
    let r = GuestCtrl::default().serve(&mut g.q, &g.mem, max_pairs, |c| seen.push(c));
    (r, seen)
}

use crate::ctrl::{Command, GuestCtrl, CTRL_ERR, CTRL_OK};

#[test]
fn control_queue_sets_pairs_and_acks() {
    let mut g = Guest::new();
    // Header and data in separate buffers, then the ack byte.
    g.write(0x10000, &[4, 0]);
    g.write(0x10100, &2u16.to_le_bytes());
    g.write(0x10200, &[0xee]);
    g.desc(DESC, 0, 0x10000, 2, F_NEXT, 1);
    g.desc(DESC, 1, 0x10100, 2, F_NEXT, 2);
    g.desc(DESC, 2, 0x10200, 1, F_WRITE, 0);
    g.offer(0);
    // An unsupported command (VIRTIO_NET_CTRL_RX promisc) and a pair
    // count above the maximum are refused with VIRTIO_NET_ERR.
    g.write(0x11000, &[0, 0, 1]);
    g.desc(DESC, 3, 0x11000, 3, F_NEXT, 4);
    g.desc(DESC, 4, 0x11100, 1, F_WRITE, 0);
    g.offer(3);
    g.write(0x12000, &[4, 0, 9, 0]);
    g.desc(DESC, 5, 0x12000, 4, F_NEXT, 6);
    g.desc(DESC, 6, 0x12100, 1, F_WRITE, 0);
    g.offer(5);
    let (r, seen) = serve_ctrl(&mut g, 4);
    assert_eq!(r, Ok(3));
    assert_eq!(
        seen,
        vec![
            Command::SetPairs(2),
            Command::Unsupported(0, 0),
            Command::BadPairs(9)
        ]
    );
    assert_eq!(g.read(0x10200, 1), vec![CTRL_OK]);
    assert_eq!(g.read(0x11100, 1), vec![CTRL_ERR]);
    assert_eq!(g.read(0x12100, 1), vec![CTRL_ERR]);
    assert_eq!(g.used_idx(), 3);
    assert_eq!(g.used(0), (0, 1));
    assert_eq!(g.used(2), (5, 1));
}

#[test]
fn control_command_without_ack_or_out_of_order_is_refused() {
    let mut g = Guest::new();
    g.write(0x10000, &[4, 0, 1, 0]);
    g.desc(DESC, 0, 0x10000, 4, 0, 0);
    g.offer(0);
    assert_eq!(
        serve_ctrl(&mut g, 2).0,
        Err(GuestError::Control("a device-writable ack byte"))
    );

    let mut g = Guest::new();
    g.desc(DESC, 0, 0x10200, 1, F_WRITE | F_NEXT, 1);
    g.desc(DESC, 1, 0x10000, 4, 0, 0);
    g.offer(0);
    assert!(matches!(
        serve_ctrl(&mut g, 2).0,
        Err(GuestError::Direction(..))
    ));
}

#[test]
fn notification_follows_the_drivers_hints() {
    let mut g = Guest::new();
    let f = frame(60);
    let mut pool = PacketPool::new();
    let mut p = pool.get();
    p.frame_for_write(f.len()).copy_from_slice(&f);
    let deliver = |g: &mut Guest| {
        g.desc(DESC, 0, 0x10000, 2048, F_WRITE, 0);
        g.offer(0);
        let old = g.q.next_used();
        let d = GuestRx::new().push(&mut g.q, &g.mem, modern(), &p);
        assert_eq!(d, Ok(Delivery::Delivered(1)));
        should_notify(&g.q, &g.mem, old)
    };
    // No hints: notify.
    assert!(deliver(&mut g));
    // VRING_AVAIL_F_NO_INTERRUPT (a polling driver): stay quiet.
    g.mem.write_obj(1u16, GuestAddress(AVAIL)).unwrap();
    assert!(!deliver(&mut g));
    // EVENT_IDX: notify only when used_event is crossed.
    g.q.set_event_idx(true);
    let used_event = AVAIL + 4 + 2 * u64::from(QSIZE);
    g.mem.write_obj(10u16, GuestAddress(used_event)).unwrap();
    assert!(!deliver(&mut g)); // used 2 -> 3
    g.mem.write_obj(3u16, GuestAddress(used_event)).unwrap();
    assert!(deliver(&mut g)); // used 3 -> 4 crosses 3
                              // Nothing published: nothing to say.
    assert!(!should_notify(&g.q, &g.mem, g.q.next_used()));
}

#[test]
fn a_resumed_ring_starts_at_the_drivers_used_index() {
    let mut g = Guest::new();
    // A previous device got to 40; the frontend says base 0.
    g.mem.write_obj(40u16, GuestAddress(USED + 2)).unwrap();
    assert_eq!(resume_at_used(&mut g.q, &g.mem), Some((0, 40)));
    assert_eq!((g.q.next_avail(), g.q.next_used()), (40, 40));
    // In line already: nothing to do.
    assert_eq!(resume_at_used(&mut g.q, &g.mem), None);
    // The next chain offered (avail 41) is taken, not an index jump.
    g.avail_idx = 40;
    g.desc(DESC, 0, 0x10000, 12 + 60, 0, 0);
    g.write(0x10000 + 12, &frame(60));
    g.offer(0);
    let (r, batch) = pop(&mut g);
    assert_eq!(r.map(|t| t.packets), Ok(1));
    assert_eq!(batch.len(), 1);
    assert_eq!(g.used_idx(), 41);
}

#[test]
fn a_batch_is_published_once_and_runs_out_of_buffers_cleanly() {
    let mut g = Guest::new();
    let mut pool = PacketPool::new();
    let packets: Vec<Packet> = (0..3)
        .map(|i| {
            let mut p = pool.get();
            let f = frame(60 + i);
            p.frame_for_write(f.len()).copy_from_slice(&f);
            p
        })
        .collect();
    // Two buffers for three packets.
    g.desc(DESC, 0, 0x10000, 2048, F_WRITE, 0);
    g.desc(DESC, 1, 0x11000, 2048, F_WRITE, 0);
    g.offer(0);
    g.offer(1);
    let mut tally = RxTally::default();
    let r = GuestRx::new().push_batch(&mut g.q, &g.mem, modern(), &packets, &mut tally);
    assert_eq!(r, Ok(()));
    assert_eq!((tally.delivered, tally.dropped), (2, 1));
    assert_eq!(tally.bytes, 60 + 61);
    assert_eq!(g.used_idx(), 2);
    assert_eq!(g.used(0), (0, 12 + 60));
    assert_eq!(g.used(1), (1, 12 + 61));
    assert_eq!(g.read(0x11000 + 12, 61), frame(61));
}

#[test]
fn heads_are_read_across_the_ring_wrap() {
    let mut g = Guest::new();
    let f = frame(60);
    for i in 0..QSIZE {
        let at = 0x10000 + u64::from(i) * 0x100;
        g.write(at + 12, &f);
        g.desc(DESC, i, at, 12 + 60, 0, 0);
    }
    // 10 chains, taken; then 12 more, which wrap past slot 15.
    for i in 0..10 {
        g.offer(i);
    }
    assert_eq!(pop(&mut g).0.map(|t| t.packets), Ok(10));
    for i in 0..12 {
        g.offer((10 + i) % QSIZE);
    }
    let (r, batch) = pop(&mut g);
    assert_eq!(r.map(|t| t.packets), Ok(12));
    assert_eq!(batch.len(), 12);
    assert_eq!(g.used_idx(), 22);
    // The used ring names the heads in the order they were offered.
    let heads: Vec<u32> = (10..22).map(|i| g.used(i).0).collect();
    let expected: Vec<u32> = (10..22).map(|i| u32::from(i % QSIZE)).collect();
    assert_eq!(heads, expected);
}

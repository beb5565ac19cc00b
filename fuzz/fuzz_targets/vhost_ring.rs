//! Fuzz target: a guest's virtqueues as arbitrary bytes.
//!
//! The guest owns its memory: descriptor tables, rings, indexes and
//! buffers can hold anything. Whatever they hold, switchd's ring code must
//! return packets or a `GuestError`, never panic, hang or touch memory
//! outside the guest's. The input's first bytes pick the queue's shape
//! (size, where the tables are, the next index, negotiated features); the
//! rest is the guest memory. Every operation a port performs runs on it:
//! resuming at the used index, taking the guest's transmit chains,
//! delivering packets into its receive buffers, answering control commands,
//! and the notification decision.
#![no_main]

use datapath::packet::{Batch, PacketPool};
use libfuzzer_sys::fuzz_target;
use vhost_port::ctrl::GuestCtrl;
use vhost_port::net::{
    NetFeatures, VIRTIO_F_VERSION_1, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM,
    VIRTIO_NET_F_MRG_RXBUF,
};
use vhost_port::ring::{resume_at_used, should_notify, GuestRx, GuestTx, RxTally, MAX_TX_FRAME};
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const MEM: usize = 0x4000;
const HEADER: usize = 12;

fn queue(cfg: &[u8]) -> Queue {
    let mut q = Queue::new(256).expect("max size");
    // A size of 1..=256, ring structures anywhere in (and around the end
    // of) guest memory.
    q.set_size(1 << (cfg[0] % 9));
    let at = |i: usize| u64::from(u16::from_le_bytes([cfg[i], cfg[i + 1]])) & !1;
    let _ = q.try_set_desc_table_address(GuestAddress(at(1) & !15));
    let _ = q.try_set_avail_ring_address(GuestAddress(at(3)));
    let _ = q.try_set_used_ring_address(GuestAddress(at(5) & !3));
    q.set_event_idx(cfg[7] & 1 != 0);
    q.set_next_avail(u16::from_le_bytes([cfg[8], cfg[9]]));
    q.set_next_used(u16::from_le_bytes([cfg[8], cfg[9]]));
    q.set_ready(true);
    q
}

fn features(bits: u8) -> NetFeatures {
    let mut acked = 0u64;
    for (i, bit) in [
        VIRTIO_F_VERSION_1,
        VIRTIO_NET_F_MRG_RXBUF,
        VIRTIO_NET_F_CSUM,
        VIRTIO_NET_F_GUEST_CSUM,
    ]
    .into_iter()
    .enumerate()
    {
        if bits & (1 << i) != 0 {
            acked |= 1 << bit;
        }
    }
    NetFeatures::from_acked(acked)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER {
        return;
    }
    let (cfg, body) = data.split_at(HEADER);
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEM)]).expect("memory");
    mem.write_slice(&body[..body.len().min(MEM)], GuestAddress(0))
        .expect("in range");
    let features = features(cfg[10]);
    let mut pool = PacketPool::new();

    // Transmit: chains become packets, each a sane frame.
    let mut q = queue(cfg);
    let _ = resume_at_used(&mut q, &mem);
    let old = q.next_used();
    let mut batch = Batch::new();
    if let Ok(t) = GuestTx::new().pop(&mut q, &mem, features, 32, &mut batch, &mut pool) {
        assert_eq!(t.packets as usize, batch.len());
        assert_eq!(t.chains, t.packets + t.dropped);
        for p in &batch.packets {
            assert!(
                p.len() >= 14 && p.len() <= MAX_TX_FRAME,
                "frame of {}",
                p.len()
            );
        }
    }
    let _ = should_notify(&q, &mem, old);

    // Receive: deliver what came out (or a small frame) into the same
    // memory seen as a receive queue.
    if batch.is_empty() {
        let mut p = pool.get();
        p.frame_for_write(60 + usize::from(cfg[11])).fill(0xab);
        batch.push(p);
    }
    let mut q = queue(cfg);
    let mut tally = RxTally::default();
    let n = batch.len() as u64;
    if GuestRx::new()
        .push_batch(&mut q, &mem, features, &batch.packets, &mut tally)
        .is_ok()
    {
        assert_eq!(tally.delivered + tally.dropped, n);
    }
    pool.put_all(&mut batch.packets);

    // Control queue.
    let mut q = queue(cfg);
    let _ = GuestCtrl::default().serve(&mut q, &mem, 4, |_| {});
});

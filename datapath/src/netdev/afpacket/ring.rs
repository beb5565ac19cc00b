//! The TPACKET_V3 receive ring: blocks of packets shared with the kernel.
//!
//! With `PACKET_RX_RING` the socket's receive queue is a memory area mapped
//! into both the kernel and this process, cut into equal *blocks*. The kernel
//! fills one block at a time with as many packets as fit, each preceded by a
//! `tpacket3_hdr` (and, with `PACKET_VNET_HDR`, by a virtio-net header right
//! in front of the frame). When the block is full, or when the retire timer
//! (`tp_retire_blk_tov`) fires on a block that holds at least one packet, the
//! kernel flips the block's status word to `TP_STATUS_USER`: from then on
//! the block belongs to userspace, which reads every packet and hands it back
//! by writing `TP_STATUS_KERNEL`.
//!
//! The one idea: the status word is the only thing shared concurrently. It is
//! read with acquire ordering (after it says "user", the kernel's writes to
//! the block are visible and the kernel will not touch the block again) and
//! written with release ordering (our reads of the block happen before the
//! kernel may reuse it). Between those two points the block is plain memory
//! owned by this side, read here through a byte slice with bounds-checked
//! accessors, so a confused kernel or a geometry bug drops packets instead of
//! reading out of bounds.
#![allow(unsafe_code)]

use super::super::PortError;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// Offsets inside `struct tpacket_block_desc` (the block header).
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;

/// Offsets inside `struct tpacket3_hdr` (the per-packet header).
const PKT_NEXT_OFFSET: usize = 0;
const PKT_SNAPLEN: usize = 12;
const PKT_LEN: usize = 16;
const PKT_STATUS: usize = 20;
const PKT_MAC: usize = 24;
const PKT_VLAN_TCI: usize = 32;
const PKT_VLAN_TPID: usize = 36;
/// The `sockaddr_ll` follows the header at `TPACKET_ALIGN(sizeof(tpacket3_hdr))`;
/// its `sll_pkttype` byte sits at offset 10 inside it.
const PKT_SLL_PKTTYPE: usize = 48 + 10;

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(
        offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, block_status)
            == BLOCK_STATUS
    );
    assert!(
        offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, num_pkts)
            == BLOCK_NUM_PKTS
    );
    assert!(
        offset_of!(libc::tpacket_block_desc, hdr)
            + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt)
            == BLOCK_FIRST_PKT
    );
    assert!(offset_of!(libc::tpacket3_hdr, tp_next_offset) == PKT_NEXT_OFFSET);
    assert!(offset_of!(libc::tpacket3_hdr, tp_snaplen) == PKT_SNAPLEN);
    assert!(offset_of!(libc::tpacket3_hdr, tp_len) == PKT_LEN);
    assert!(offset_of!(libc::tpacket3_hdr, tp_status) == PKT_STATUS);
    assert!(offset_of!(libc::tpacket3_hdr, tp_mac) == PKT_MAC);
    assert!(
        offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tci)
            == PKT_VLAN_TCI
    );
    assert!(
        offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid)
            == PKT_VLAN_TPID
    );
    assert!(size_of::<libc::tpacket3_hdr>() == 48);
    assert!(offset_of!(libc::sockaddr_ll, sll_pkttype) == 10);
};

/// Shape of a receive ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RingGeometry {
    /// Bytes per block: a power of two, a multiple of the page size, and
    /// larger than the largest packet (64 KiB GSO frames plus headers).
    pub block_size: usize,
    /// Number of blocks.
    pub block_count: usize,
    /// Milliseconds after which the kernel hands over a partly filled block.
    pub retire_ms: u32,
}

/// Nominal frame size passed to the kernel. TPACKET_V3 packs packets of any
/// length into a block; the frame size only has to divide the block and
/// hold a header.
const FRAME_SIZE: usize = 2048;

impl RingGeometry {
    fn check(&self) -> Result<(), PortError> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let bs = self.block_size;
        if !bs.is_power_of_two() || bs < page.max(FRAME_SIZE) || bs > (1 << 30) {
            return Err(PortError::Config(format!(
                "AF_PACKET block size {bs} must be a power of two of at least one page"
            )));
        }
        if self.block_count == 0 || bs.saturating_mul(self.block_count) > (1 << 31) {
            return Err(PortError::Config(format!(
                "AF_PACKET ring of {} blocks of {bs} bytes is out of range",
                self.block_count
            )));
        }
        Ok(())
    }
}

/// One received packet, borrowed from the ring.
#[derive(Debug)]
pub(crate) struct RxFrame<'a> {
    /// `sll_pkttype` (`PACKET_HOST`, `PACKET_OUTGOING`, ...).
    pub pkttype: u8,
    /// The original length on the wire; larger than `data.len()` when the
    /// kernel had to truncate the packet to fit the block.
    pub wire_len: usize,
    /// The VLAN tag the kernel stripped on receive: (TPID, TCI).
    pub vlan: Option<(u16, u16)>,
    /// The virtio-net header the kernel wrote in front of the frame.
    pub vnet: &'a [u8],
    /// The frame from its Ethernet header.
    pub data: &'a [u8],
}

/// A mapped TPACKET_V3 receive ring and the reader's position in it.
#[derive(Debug)]
pub(crate) struct RxRing {
    map: NonNull<u8>,
    geometry: RingGeometry,
    /// Block the reader is on (or waits for).
    block: usize,
    /// Position inside `block` when it is owned by us: packets left and the
    /// offset of the next one. `None` while waiting for the kernel.
    cursor: Option<(u32, usize)>,
    /// Length of the virtio-net header in front of each frame.
    vnet_len: usize,
}

// SAFETY: the mapping is owned by this value alone (nothing else holds the
// pointer) and the kernel side is synchronised through the status words, so
// moving the reader to another thread is sound. It is not `Sync`: callers
// wrap it in a mutex.
unsafe impl Send for RxRing {}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

impl RxRing {
    /// Configure `PACKET_RX_RING` on `fd` (which must already have
    /// `PACKET_VERSION = TPACKET_V3` and, if wanted, `PACKET_VNET_HDR`) and
    /// map it.
    pub(crate) fn new(
        fd: BorrowedFd<'_>,
        geometry: RingGeometry,
        vnet_len: usize,
        port: &str,
    ) -> Result<Self, PortError> {
        geometry.check()?;
        let to_uint = |v: usize| libc::c_uint::try_from(v).unwrap_or(libc::c_uint::MAX);
        let req = libc::tpacket_req3 {
            tp_block_size: to_uint(geometry.block_size),
            tp_block_nr: to_uint(geometry.block_count),
            tp_frame_size: to_uint(FRAME_SIZE),
            tp_frame_nr: to_uint(geometry.block_size / FRAME_SIZE * geometry.block_count),
            tp_retire_blk_tov: geometry.retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        // SAFETY: PACKET_RX_RING reads a `tpacket_req3` of the given length
        // for TPACKET_V3 sockets; `req` is one and outlives the call.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_RX_RING,
                (&req as *const libc::tpacket_req3).cast(),
                std::mem::size_of::<libc::tpacket_req3>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(PortError::last_os("PACKET_RX_RING", port));
        }
        let len = geometry.block_size * geometry.block_count;
        // SAFETY: mapping the ring the kernel just allocated for this socket;
        // a fresh shared mapping aliases no Rust object.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(PortError::last_os("mmap(PACKET_RX_RING)", port));
        }
        let map = NonNull::new(addr.cast::<u8>())
            .ok_or_else(|| PortError::Config("mmap returned NULL".into()))?;
        Ok(RxRing {
            map,
            geometry,
            block: 0,
            cursor: None,
            vnet_len,
        })
    }

    /// The status word of block `i`.
    fn status(&self, i: usize) -> &AtomicU32 {
        let offset = i * self.geometry.block_size + BLOCK_STATUS;
        // SAFETY: `i < block_count`, so the word lies inside the mapping,
        // which lives as long as `self`; it is 4-byte aligned (blocks are
        // page aligned, the offset is 8) and the kernel accesses it only
        // with atomic-width stores and loads.
        unsafe { AtomicU32::from_ptr(self.map.as_ptr().add(offset).cast::<u32>()) }
    }

    /// Block `i` as bytes. Only called while the block is owned by us
    /// (its status said `TP_STATUS_USER`), when the kernel does not write it.
    fn block_bytes(&self, i: usize) -> &[u8] {
        let bs = self.geometry.block_size;
        // SAFETY: the range is inside the mapping (i < block_count), the
        // mapping outlives the borrow of `self`, and the kernel does not
        // write a block while its status is TP_STATUS_USER; we give it back
        // only in `release`, after every borrow of the block has ended.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(i * bs), bs) }
    }

    /// Give the current block back to the kernel and move to the next one.
    fn release(&mut self) {
        self.status(self.block)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.block = (self.block + 1) % self.geometry.block_count;
        self.cursor = None;
    }

    /// Hand up to `max` ready packets to `each`, which returns whether it
    /// kept the packet (kept packets count against `max`; skipped ones do
    /// not). Returns the number kept. Malformed ring contents end the block
    /// early and are counted in `*malformed`.
    pub(crate) fn poll(
        &mut self,
        max: usize,
        malformed: &mut u64,
        mut each: impl FnMut(RxFrame<'_>) -> bool,
    ) -> usize {
        let mut kept = 0;
        // Bound the work of one call: at most every block once.
        let mut blocks_seen = 0;
        while kept < max {
            let (left, offset) = match self.cursor {
                Some(c) => c,
                None => {
                    if blocks_seen == self.geometry.block_count {
                        break;
                    }
                    let status = self.status(self.block).load(Ordering::Acquire);
                    if status & libc::TP_STATUS_USER == 0 {
                        break;
                    }
                    blocks_seen += 1;
                    let block = self.block_bytes(self.block);
                    match (
                        read_u32(block, BLOCK_NUM_PKTS),
                        read_u32(block, BLOCK_FIRST_PKT),
                    ) {
                        (Some(n), Some(first)) => (n, first as usize),
                        _ => (0, 0),
                    }
                }
            };
            if left == 0 {
                self.release();
                continue;
            }
            let block = self.block_bytes(self.block);
            match parse_frame(block, offset, self.vnet_len) {
                Some((frame, next)) => {
                    if each(frame) {
                        kept += 1;
                    }
                    match next {
                        Some(next) if left > 1 => self.cursor = Some((left - 1, next)),
                        _ if left > 1 => {
                            *malformed += 1;
                            self.release();
                        }
                        _ => self.release(),
                    }
                }
                None => {
                    *malformed += 1;
                    self.release();
                }
            }
        }
        kept
    }
}

/// Parse the packet whose header starts at `at` in `block`. Returns the
/// frame and the offset of the next packet's header (if the link is sane).
fn parse_frame(block: &[u8], at: usize, vnet_len: usize) -> Option<(RxFrame<'_>, Option<usize>)> {
    let hdr = block.get(at..)?;
    let next = read_u32(hdr, PKT_NEXT_OFFSET)? as usize;
    let snaplen = read_u32(hdr, PKT_SNAPLEN)? as usize;
    let wire_len = read_u32(hdr, PKT_LEN)? as usize;
    let status = read_u32(hdr, PKT_STATUS)?;
    let mac = usize::from(read_u16(hdr, PKT_MAC)?);
    let tci = read_u32(hdr, PKT_VLAN_TCI)?;
    let tpid = read_u16(hdr, PKT_VLAN_TPID)?;
    let pkttype = *hdr.get(PKT_SLL_PKTTYPE)?;
    let vnet = hdr.get(mac.checked_sub(vnet_len)?..mac)?;
    let data = hdr.get(mac..mac.checked_add(snaplen)?)?;
    let vlan = (status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
        let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
            tpid
        } else {
            0x8100
        };
        (tpid, tci as u16)
    });
    let next = (next != 0)
        .then(|| at.checked_add(next))
        .flatten()
        .filter(|&n| n < block.len());
    Some((
        RxFrame {
            pkttype,
            wire_len,
            vlan,
            vnet,
            data,
        },
        next,
    ))
}

impl Drop for RxRing {
    fn drop(&mut self) {
        let len = self.geometry.block_size * self.geometry.block_count;
        // SAFETY: unmapping exactly the mapping made in `new`; no borrow of
        // it can outlive `self`.
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built block with two packets, the second VLAN-tagged.
    #[test]
    fn parses_a_block() {
        let mut block = vec![0u8; 4096];
        let put32 =
            |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        let put16 =
            |b: &mut [u8], at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_ne_bytes());
        let first = 48;
        put32(&mut block, first + PKT_NEXT_OFFSET, 256);
        put32(&mut block, first + PKT_SNAPLEN, 60);
        put32(&mut block, first + PKT_LEN, 60);
        put16(&mut block, first + PKT_MAC, 92);
        block[first + PKT_SLL_PKTTYPE] = 0;
        block[first + 82] = 1; // vnet flags
        block[first + 92] = 0xaa;
        let (f, next) = parse_frame(&block, first, 10).unwrap();
        assert_eq!(
            (f.data.len(), f.data[0], f.vnet[0], f.vlan),
            (60, 0xaa, 1, None)
        );
        let second = next.unwrap();
        assert_eq!(second, first + 256);
        put32(&mut block, second + PKT_SNAPLEN, 100);
        put32(&mut block, second + PKT_LEN, 1500);
        put32(&mut block, second + PKT_STATUS, libc::TP_STATUS_VLAN_VALID);
        put32(&mut block, second + PKT_VLAN_TCI, 100);
        put16(&mut block, second + PKT_MAC, 92);
        block[second + PKT_SLL_PKTTYPE] = libc::PACKET_OUTGOING;
        let (f, next) = parse_frame(&block, second, 10).unwrap();
        assert_eq!(
            (f.wire_len, f.vlan, f.pkttype, next),
            (1500, Some((0x8100, 100)), 4, None)
        );
    }

    #[test]
    fn rejects_out_of_block_frames() {
        let mut block = vec![0u8; 512];
        block[48 + PKT_SNAPLEN..48 + PKT_SNAPLEN + 4].copy_from_slice(&1000u32.to_ne_bytes());
        block[48 + PKT_MAC..48 + PKT_MAC + 2].copy_from_slice(&92u16.to_ne_bytes());
        assert!(parse_frame(&block, 48, 10).is_none());
        assert!(parse_frame(&block, 500, 10).is_none());
        // tp_mac in front of the room for the virtio-net header.
        block[48 + PKT_SNAPLEN..48 + PKT_SNAPLEN + 4].copy_from_slice(&10u32.to_ne_bytes());
        block[48 + PKT_MAC..48 + PKT_MAC + 2].copy_from_slice(&4u16.to_ne_bytes());
        assert!(parse_frame(&block, 48, 10).is_none());
    }
}

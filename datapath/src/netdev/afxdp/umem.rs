//! The UMEM: the packet memory an AF_XDP socket shares with the kernel, cut
//! into equal frames, with the fill and completion rings that pass frames
//! between us and the kernel.
//!
//! The one idea: every frame is owned by exactly one party at a time, and
//! the rings are how ownership moves. Frames `[0, n_rx)` serve receive:
//! they sit in our rx free list, in the **fill** ring (lent to the kernel to
//! receive into), or come back on the rx ring with a packet. Frames
//! `[n_rx, n)` serve transmit: our tx free list, the tx ring (lent to the
//! kernel to send), and back on the **completion** ring once sent. Because
//! the two sets are disjoint and a frame is touched only by its current
//! owner, the receive side (one worker) and the transmit side (any worker,
//! under the tx lock) can copy in and out of the same mapping without
//! further synchronisation.
//!
//! The area is anonymous memory mapped by us; `XDP_UMEM_REG` pins it. The
//! kernel accounts it to the memory cgroup, not to `RLIMIT_MEMLOCK`, so a
//! UMEM larger than the 8 MiB memlock limit registers fine on current
//! kernels; the default per queue is still a modest 8 MiB.

#![allow(unsafe_code)]

use super::ring::Ring;
use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;

/// The UMEM area.
#[derive(Debug)]
pub struct Umem {
    area: NonNull<u8>,
    len: usize,
    frame_size: u32,
}

// SAFETY: the area is plain memory; the frame ownership discipline in the
// module documentation guarantees that two threads never access the same
// frame at once, and all access goes through raw copies (no Rust reference
// to the area is ever formed).
unsafe impl Send for Umem {}
// SAFETY: as for Send: `read_frame`/`write_frame` touch only the frame the
// caller owns.
unsafe impl Sync for Umem {}

impl Umem {
    /// Map `n_frames` frames of `frame_size` bytes (a power of two, 2048 or
    /// 4096).
    pub fn new(n_frames: u32, frame_size: u32) -> io::Result<Self> {
        if !frame_size.is_power_of_two() || n_frames == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let len = n_frames as usize * frame_size as usize;
        // SAFETY: a fresh anonymous private mapping; checked against
        // MAP_FAILED below.
        let area = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if area == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Umem {
            // SAFETY: mmap succeeded, so the pointer is not null.
            area: unsafe { NonNull::new_unchecked(area as *mut u8) },
            len,
            frame_size,
        })
    }

    /// Register the area with socket `fd` (`XDP_UMEM_REG`).
    pub fn register(&self, fd: RawFd) -> io::Result<()> {
        let reg = libc::xdp_umem_reg {
            addr: self.area.as_ptr() as u64,
            len: self.len as u64,
            chunk_size: self.frame_size,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        super::socket::setsockopt(fd, libc::XDP_UMEM_REG, &reg)
    }

    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }

    /// Size of the area in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The start of the frame that contains `addr` (aligned mode: the
    /// kernel may hand back an address inside the frame, past headroom).
    pub fn frame_of(&self, addr: u64) -> u64 {
        addr & !(u64::from(self.frame_size) - 1)
    }

    /// True when `[addr, addr + len)` lies within one frame of the area.
    pub fn in_one_frame(&self, addr: u64, len: usize) -> bool {
        let end = addr.saturating_add(len as u64);
        end <= self.len as u64 && end <= self.frame_of(addr) + u64::from(self.frame_size)
    }

    /// Copy `out.len()` bytes from `addr` into `out`. False (nothing
    /// copied) when the range is not inside one frame. The caller owns the
    /// frame.
    pub fn read_frame(&self, addr: u64, out: &mut [u8]) -> bool {
        if !self.in_one_frame(addr, out.len()) {
            return false;
        }
        // SAFETY: the range is inside the area (checked above); the frame
        // is owned by the caller, so the kernel is not writing it; `out` is
        // a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.area.as_ptr().add(addr as usize),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        true
    }

    /// Copy `data` to `addr`. False (nothing copied) when it does not fit
    /// in the frame. The caller owns the frame.
    pub fn write_frame(&self, addr: u64, data: &[u8]) -> bool {
        if !self.in_one_frame(addr, data.len()) {
            return false;
        }
        // SAFETY: the range is inside the area (checked above) and the frame
        // is owned by the caller: no one else reads or writes it now.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.area.as_ptr().add(addr as usize),
                data.len(),
            )
        };
        true
    }
}

impl Drop for Umem {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping created in `new`; the socket that
        // registered it is closed before (field order in the socket), and
        // even if not, the kernel holds its own page pins.
        unsafe { libc::munmap(self.area.as_ptr() as *mut libc::c_void, self.len) };
    }
}

/// A stack of free frame addresses.
#[derive(Debug, Default)]
pub struct FramePool {
    free: Vec<u64>,
}

impl FramePool {
    /// Frames `first .. first + count` of `frame_size` bytes.
    pub fn new(first: u32, count: u32, frame_size: u32) -> Self {
        FramePool {
            free: (first..first + count)
                .map(|i| u64::from(i) * u64::from(frame_size))
                .collect(),
        }
    }

    pub fn get(&mut self) -> Option<u64> {
        self.free.pop()
    }

    pub fn put(&mut self, addr: u64) {
        self.free.push(addr);
    }

    pub fn len(&self) -> usize {
        self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }
}

/// The fill ring and the receive frames not lent to the kernel.
#[derive(Debug)]
pub struct FillQueue {
    ring: Ring<u64>,
    free: FramePool,
}

impl FillQueue {
    pub fn new(mut ring: Ring<u64>, free: FramePool) -> Self {
        ring.sync_as_producer();
        let mut q = FillQueue { ring, free };
        q.refill();
        q
    }

    /// A receive frame came back from the rx ring: keep it for the next
    /// refill.
    pub fn recycle(&mut self, frame: u64) {
        self.free.put(frame);
    }

    /// Lend every free receive frame that fits to the kernel. Returns how
    /// many were added.
    pub fn refill(&mut self) -> u32 {
        if self.free.is_empty() {
            return 0;
        }
        let n = self.ring.prod_free(self.free.len() as u32);
        for _ in 0..n {
            match self.free.get() {
                Some(addr) => self.ring.push(addr),
                None => break,
            }
        }
        if n > 0 {
            self.ring.submit();
        }
        n
    }

    pub fn needs_wakeup(&self) -> bool {
        self.ring.needs_wakeup()
    }
}

/// The completion ring: frames the kernel has finished sending.
#[derive(Debug)]
pub struct CompletionQueue {
    ring: Ring<u64>,
}

impl CompletionQueue {
    pub fn new(mut ring: Ring<u64>) -> Self {
        ring.sync_as_consumer();
        CompletionQueue { ring }
    }

    /// Move every completed frame back to `pool`. Returns how many.
    pub fn reap(&mut self, umem: &Umem, pool: &mut FramePool) -> u32 {
        let n = self.ring.cons_ready(self.ring.size());
        for i in 0..n {
            pool.put(umem.frame_of(self.ring.peek(i)));
        }
        if n > 0 {
            self.ring.release(n);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_bounds() {
        let u = Umem::new(4, 2048).expect("mmap");
        assert_eq!(u.len(), 8192);
        assert_eq!(u.frame_of(2048 + 256), 2048);
        let mut b = [0u8; 64];
        assert!(u.write_frame(2048 + 256, &[7; 64]));
        assert!(u.read_frame(2048 + 256, &mut b));
        assert_eq!(b, [7; 64]);
        // Crosses into the next frame.
        assert!(!u.write_frame(2048 - 10, &[0; 64]));
        // Past the end of the area.
        assert!(!u.read_frame(8192, &mut b));
        assert!(!u.read_frame(u64::MAX - 3, &mut b));
    }

    #[test]
    fn pools_are_disjoint_ranges() {
        let mut rx = FramePool::new(0, 2, 4096);
        let mut tx = FramePool::new(2, 2, 4096);
        let mut all = vec![];
        while let Some(a) = rx.get() {
            all.push(a);
        }
        while let Some(a) = tx.get() {
            all.push(a);
        }
        all.sort();
        assert_eq!(all, vec![0, 4096, 8192, 12288]);
    }
}

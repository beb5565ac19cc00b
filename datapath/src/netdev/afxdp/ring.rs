//! The four single-producer/single-consumer rings an AF_XDP socket shares
//! with the kernel, and the memory ordering that makes them safe.
//!
//! Each ring is a power-of-two array of descriptors plus two free-running
//! `u32` indices, `producer` and `consumer`, in memory mapped from the
//! socket. One side only ever writes `producer`, the other only `consumer`;
//! an index is reduced modulo the size when used. For us:
//!
//! * **fill** (we produce frame addresses for the kernel to receive into),
//! * **rx** (the kernel produces received descriptors, we consume),
//! * **tx** (we produce descriptors to send),
//! * **completion** (the kernel produces addresses of sent frames).
//!
//! The one idea, the ordering contract (the kernel's side is
//! `smp_load_acquire` / `smp_store_release` in `net/xdp/xsk_queue.h`):
//!
//! * A producer writes descriptors, then publishes them with a **Release**
//!   store of `producer`, so the descriptors are visible before the index.
//! * A consumer reads `producer` with an **Acquire** load before reading the
//!   descriptors it covers, so it never reads a slot before it was written.
//! * A consumer is done with slots (for fill/rx: has copied the frame) before
//!   it **Release**-stores `consumer`; a producer **Acquire**-loads
//!   `consumer` before overwriting slots, so it never overwrites a slot the
//!   other side is still reading.
//!
//! Each side keeps a cached copy of the other side's index and only goes to
//! shared memory when the cache says the ring is empty (consumer) or full
//! (producer), which keeps cache-line traffic to one load per batch.
//!
//! The `flags` word carries `XDP_RING_NEED_WAKEUP`: the kernel sets it when
//! it stopped polling the ring and needs a syscall to look again. It is read
//! after a SeqCst fence that follows the producer publish, so the check
//! cannot be ordered before the publish (missing a wakeup would stall the
//! queue until the next batch).

#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, Ordering};

/// A ring mapping: `size` slots of `T` shared with the kernel.
#[derive(Debug)]
pub struct Ring<T: Copy> {
    map: NonNull<libc::c_void>,
    map_len: usize,
    producer: NonNull<AtomicU32>,
    consumer: NonNull<AtomicU32>,
    flags: NonNull<AtomicU32>,
    descs: NonNull<T>,
    mask: u32,
    size: u32,
    /// Our copy of the other side's index (consumer rings: the producer's;
    /// producer rings: the consumer's, plus `size`).
    cached_other: u32,
    /// Our own index (the value we last stored, or are about to).
    local: u32,
}

// SAFETY: the ring is a plain mapping plus indices; all access to the shared
// words goes through atomics and the struct is used by one thread at a time
// (the port keeps each ring behind a Mutex), so moving it between threads is
// sound.
unsafe impl<T: Copy + Send> Send for Ring<T> {}

impl<T: Copy> Ring<T> {
    /// Map the ring at page offset `pgoff` of socket `fd`, with the offsets
    /// the kernel reported for it (`XDP_MMAP_OFFSETS`).
    pub fn map(
        fd: RawFd,
        pgoff: libc::off_t,
        off: &libc::xdp_ring_offset,
        size: u32,
    ) -> io::Result<Self> {
        if !size.is_power_of_two() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let map_len = off.desc as usize + size as usize * std::mem::size_of::<T>();
        // SAFETY: a fresh shared mapping of the ring the kernel allocated
        // for this socket; the result is checked against MAP_FAILED.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                pgoff,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = map as *mut u8;
        let at = |o: u64| -> NonNull<u8> {
            // SAFETY: the kernel's offsets lie inside the `map_len` bytes
            // just mapped (they describe this very mapping), and `base` is
            // not null (mmap succeeded).
            unsafe { NonNull::new_unchecked(base.add(o as usize)) }
        };
        Ok(Ring {
            // SAFETY: mmap succeeded, so `map` is not null.
            map: unsafe { NonNull::new_unchecked(map) },
            map_len,
            producer: at(off.producer).cast(),
            consumer: at(off.consumer).cast(),
            flags: at(off.flags).cast(),
            descs: at(off.desc).cast(),
            mask: size - 1,
            size,
            cached_other: 0,
            local: 0,
        })
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: points into our live mapping at a 4-byte aligned u32 that
        // the kernel and we only access atomically.
        unsafe { self.producer.as_ref() }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { self.consumer.as_ref() }
    }

    /// True when the kernel asked for a wakeup syscall. Call after
    /// [`Ring::submit`] (producer rings) or when the ring looks stuck.
    pub fn needs_wakeup(&self) -> bool {
        fence(Ordering::SeqCst);
        // SAFETY: as for `producer`.
        let flags = unsafe { self.flags.as_ref() };
        flags.load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    fn slot(&self, idx: u32) -> *mut T {
        // SAFETY: `idx & mask` < size, and the mapping holds `size` slots
        // of T after `descs`.
        unsafe { self.descs.as_ptr().add((idx & self.mask) as usize) }
    }

    // --- producer side (fill, tx)

    /// How many slots are free for us to produce into, at most `want`.
    pub fn prod_free(&mut self, want: u32) -> u32 {
        let free = self.cached_other.wrapping_sub(self.local);
        if free >= want {
            return want;
        }
        // Acquire: the kernel has finished with the slots it released.
        self.cached_other = self
            .consumer()
            .load(Ordering::Acquire)
            .wrapping_add(self.size);
        self.cached_other.wrapping_sub(self.local).min(want)
    }

    /// Write `value` into the next slot. The caller checked [`Ring::prod_free`].
    pub fn push(&mut self, value: T) {
        debug_assert!(self.cached_other.wrapping_sub(self.local) > 0);
        // SAFETY: the slot is ours (prod_free said so: the kernel consumed
        // it), and `slot` stays inside the mapping.
        unsafe { self.slot(self.local).write_volatile(value) };
        self.local = self.local.wrapping_add(1);
    }

    /// Publish everything pushed since the last submit.
    pub fn submit(&mut self) {
        // Release: descriptors written above are visible before the index.
        self.producer().store(self.local, Ordering::Release);
    }

    /// Slots published but not yet consumed by the kernel.
    pub fn prod_outstanding(&self) -> u32 {
        self.local
            .wrapping_sub(self.consumer().load(Ordering::Acquire))
    }

    // --- consumer side (rx, completion)

    /// How many entries are ready for us, at most `max`.
    pub fn cons_ready(&mut self, max: u32) -> u32 {
        let mut ready = self.cached_other.wrapping_sub(self.local);
        if ready == 0 {
            // Acquire: the entries the index covers were written before it.
            self.cached_other = self.producer().load(Ordering::Acquire);
            ready = self.cached_other.wrapping_sub(self.local);
        }
        ready.min(max)
    }

    /// The `i`-th ready entry. The caller checked `i < cons_ready(..)`.
    pub fn peek(&self, i: u32) -> T {
        // SAFETY: entry `local + i` was published by the kernel (acquire
        // load in cons_ready) and not released yet, so it is stable.
        unsafe { self.slot(self.local.wrapping_add(i)).read_volatile() }
    }

    /// Give `n` consumed entries back to the kernel.
    pub fn release(&mut self, n: u32) {
        self.local = self.local.wrapping_add(n);
        // Release: our reads of the entries happen before the kernel may
        // reuse their slots.
        self.consumer().store(self.local, Ordering::Release);
    }

    /// Initialise our cached indices from shared memory (just after map).
    pub fn sync_as_producer(&mut self) {
        self.local = self.producer().load(Ordering::Relaxed);
        self.cached_other = self
            .consumer()
            .load(Ordering::Acquire)
            .wrapping_add(self.size);
    }

    /// Initialise our cached indices from shared memory (just after map).
    pub fn sync_as_consumer(&mut self) {
        self.local = self.consumer().load(Ordering::Relaxed);
        self.cached_other = self.producer().load(Ordering::Acquire);
    }
}

impl<T: Copy> Drop for Ring<T> {
    fn drop(&mut self) {
        // SAFETY: `map`/`map_len` are exactly the mapping created in `map`,
        // and no reference into it outlives `self`.
        unsafe { libc::munmap(self.map.as_ptr(), self.map_len) };
    }
}

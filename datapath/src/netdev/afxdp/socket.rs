//! One AF_XDP socket: its own UMEM, its four rings, the bind to one queue of
//! one interface, and the receive and transmit paths that copy between the
//! UMEM and [`Packet`] buffers.
//!
//! The one idea: the socket is split into a receive half (rx ring + fill
//! ring + receive frames) and a transmit half (tx ring + completion ring +
//! transmit frames), each behind its own lock, sharing only the immutable
//! UMEM mapping and the fd. One worker polls the receive half; any worker
//! may send through the transmit half, holding the lock for a whole batch.
//!
//! Receive copies each frame into a pooled [`Packet`] and hands the frame
//! straight back to the fill ring, so the kernel never starves for frames
//! while the pipeline holds packets. Transmit reaps completions, copies each
//! packet into a free transmit frame, publishes the batch on the tx ring and
//! kicks the kernel with `sendto(MSG_DONTWAIT)`: always in copy mode (the
//! kernel only transmits copy-mode frames from that syscall), otherwise only
//! when the ring's need-wakeup flag asks for it.

#![allow(unsafe_code)]

use super::ring::Ring;
use super::umem::{CompletionQueue, FillQueue, FramePool, Umem};
use crate::packet::{Batch, Packet, PacketPool};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long to retry a bind that fails with EBUSY (the previous socket on
/// the queue is released asynchronously after close).
const BIND_RETRY_FOR: Duration = Duration::from_secs(3);

/// Most `sendto` kicks per transmit batch (copy mode sends up to 32
/// descriptors per call and answers EAGAIN when more are left).
const MAX_TX_KICKS: usize = 8;

/// What a socket needs to know to open.
#[derive(Clone, Copy, Debug)]
pub struct SocketConfig {
    pub ifindex: u32,
    pub queue_id: u32,
    pub n_frames: u32,
    pub frame_size: u32,
    pub rx_ring: u32,
    pub tx_ring: u32,
    pub prefer_zero_copy: bool,
    pub need_wakeup: bool,
}

/// A failed system call during setup, named.
#[derive(Debug)]
pub struct SetupError {
    pub op: &'static str,
    pub source: io::Error,
}

trait Named<T> {
    fn op(self, op: &'static str) -> Result<T, SetupError>;
}

impl<T> Named<T> for io::Result<T> {
    fn op(self, op: &'static str) -> Result<T, SetupError> {
        self.map_err(|source| SetupError { op, source })
    }
}

/// `setsockopt(fd, SOL_XDP, opt, value)`.
pub fn setsockopt<T>(fd: RawFd, opt: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a live T and its exact size is passed; the kernel
    // only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            opt,
            value as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `getsockopt(fd, SOL_XDP, opt)` into a zeroed T; returns the value and the
/// length the kernel wrote.
fn getsockopt<T: bytemuck::Zeroable>(fd: RawFd, opt: libc::c_int) -> io::Result<(T, usize)> {
    let mut value = T::zeroed();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a live, writable T and `len` says its size; the
    // kernel writes at most `len` bytes and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_XDP,
            opt,
            &mut value as *mut T as *mut libc::c_void,
            &mut len,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok((value, len as usize))
    }
}

/// `struct xdp_mmap_offsets` (with the flags word, Linux >= 5.4).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Zeroable)]
struct MmapOffsets {
    rx: RingOffset,
    tx: RingOffset,
    fr: RingOffset,
    cr: RingOffset,
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Zeroable)]
struct RingOffset {
    producer: u64,
    consumer: u64,
    desc: u64,
    flags: u64,
}

impl RingOffset {
    fn to_libc(self) -> libc::xdp_ring_offset {
        libc::xdp_ring_offset {
            producer: self.producer,
            consumer: self.consumer,
            desc: self.desc,
            flags: self.flags,
        }
    }
}

/// The kernel's socket counters (`XDP_STATISTICS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Zeroable)]
pub struct XdpStatistics {
    /// Dropped for lack of a fill frame or other reasons.
    pub rx_dropped: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
    /// Dropped because our rx ring was full.
    pub rx_ring_full: u64,
    /// Times the kernel found the fill ring empty.
    pub rx_fill_ring_empty_descs: u64,
    /// Times the kernel found the tx ring empty.
    pub tx_ring_empty_descs: u64,
}

/// The receive half.
#[derive(Debug)]
pub struct RxHalf {
    rx: Ring<libc::xdp_desc>,
    fill: FillQueue,
}

/// The transmit half.
#[derive(Debug)]
pub struct TxHalf {
    tx: Ring<libc::xdp_desc>,
    comp: CompletionQueue,
    free: FramePool,
}

/// What one receive call did.
#[derive(Clone, Copy, Debug, Default)]
pub struct RxOutcome {
    pub packets: u64,
    pub bytes: u64,
    /// Descriptors that did not describe a frame of our UMEM.
    pub invalid: u64,
}

/// What one transmit call did.
#[derive(Clone, Copy, Debug, Default)]
pub struct TxOutcome {
    pub packets: u64,
    pub bytes: u64,
    /// No free frame or no room on the tx ring.
    pub dropped: u64,
    /// Empty, or larger than a frame.
    pub errors: u64,
}

/// An AF_XDP socket bound to one queue. Field order is drop order: rings
/// are unmapped, then the socket is closed, then the UMEM is unmapped.
#[derive(Debug)]
pub struct XskSocket {
    rx: Mutex<RxHalf>,
    tx: Mutex<TxHalf>,
    fd: OwnedFd,
    umem: Umem,
    zero_copy: bool,
    need_wakeup: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the rings inconsistent
    // with the kernel in a way that matters more than stopping traffic, so
    // poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl XskSocket {
    /// Create, set up and bind a socket for `cfg.queue_id`.
    pub fn open(cfg: &SocketConfig) -> Result<Self, SetupError> {
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error()).op("socket(AF_XDP)");
        }
        // SAFETY: `raw` is a new socket nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let fd_raw = fd.as_raw_fd();

        let umem = Umem::new(cfg.n_frames, cfg.frame_size).op("mmap UMEM")?;
        umem.register(fd_raw).op("XDP_UMEM_REG")?;

        let rx_frames = cfg.n_frames / 2;
        let tx_frames = cfg.n_frames - rx_frames;
        let fill_size = rx_frames.next_power_of_two();
        let comp_size = tx_frames.next_power_of_two();
        setsockopt(fd_raw, libc::XDP_UMEM_FILL_RING, &fill_size).op("XDP_UMEM_FILL_RING")?;
        setsockopt(fd_raw, libc::XDP_UMEM_COMPLETION_RING, &comp_size)
            .op("XDP_UMEM_COMPLETION_RING")?;
        setsockopt(fd_raw, libc::XDP_RX_RING, &cfg.rx_ring).op("XDP_RX_RING")?;
        setsockopt(fd_raw, libc::XDP_TX_RING, &cfg.tx_ring).op("XDP_TX_RING")?;

        let (off, len) =
            getsockopt::<MmapOffsets>(fd_raw, libc::XDP_MMAP_OFFSETS).op("XDP_MMAP_OFFSETS")?;
        if len < std::mem::size_of::<MmapOffsets>() {
            // Pre-5.4 layout without the flags word: need_wakeup is absent
            // there too, and this code does not support it.
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
                .op("XDP_MMAP_OFFSETS (kernel older than 5.4)");
        }
        let fill = Ring::<u64>::map(
            fd_raw,
            libc::XDP_UMEM_PGOFF_FILL_RING as libc::off_t,
            &off.fr.to_libc(),
            fill_size,
        )
        .op("mmap fill ring")?;
        let comp = Ring::<u64>::map(
            fd_raw,
            libc::XDP_UMEM_PGOFF_COMPLETION_RING as libc::off_t,
            &off.cr.to_libc(),
            comp_size,
        )
        .op("mmap completion ring")?;
        let mut rx = Ring::<libc::xdp_desc>::map(
            fd_raw,
            libc::XDP_PGOFF_RX_RING,
            &off.rx.to_libc(),
            cfg.rx_ring,
        )
        .op("mmap rx ring")?;
        let mut tx = Ring::<libc::xdp_desc>::map(
            fd_raw,
            libc::XDP_PGOFF_TX_RING,
            &off.tx.to_libc(),
            cfg.tx_ring,
        )
        .op("mmap tx ring")?;
        rx.sync_as_consumer();
        tx.sync_as_producer();

        let fs = cfg.frame_size;
        let fill = FillQueue::new(fill, FramePool::new(0, rx_frames, fs));
        let comp = CompletionQueue::new(comp);
        let (zero_copy, need_wakeup) = bind(fd_raw, cfg).op("bind AF_XDP")?;

        Ok(XskSocket {
            rx: Mutex::new(RxHalf { rx, fill }),
            tx: Mutex::new(TxHalf {
                tx,
                comp,
                free: FramePool::new(rx_frames, tx_frames, fs),
            }),
            fd,
            umem,
            zero_copy,
            need_wakeup,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    pub fn need_wakeup(&self) -> bool {
        self.need_wakeup
    }

    /// Receive up to `max` frames into `batch`.
    pub fn receive(&self, batch: &mut Batch, pool: &mut PacketPool, max: usize) -> RxOutcome {
        let mut half = lock(&self.rx);
        let RxHalf { rx, fill } = &mut *half;
        let mut out = RxOutcome::default();
        let n = rx.cons_ready(max as u32);
        for i in 0..n {
            let desc = rx.peek(i);
            let len = desc.len as usize;
            // The bounds check comes before sizing the packet, so a bad
            // length can neither grow a buffer nor read outside the UMEM.
            if self.umem.in_one_frame(desc.addr, len) {
                let mut pkt = pool.get();
                self.umem.read_frame(desc.addr, pkt.frame_for_write(len));
                out.packets += 1;
                out.bytes += len as u64;
                batch.push(pkt);
            } else {
                out.invalid += 1;
            }
            if desc.addr < self.umem.len() as u64 {
                fill.recycle(self.umem.frame_of(desc.addr));
            }
        }
        if n > 0 {
            rx.release(n);
        }
        fill.refill();
        if self.need_wakeup && fill.needs_wakeup() {
            self.kick_rx();
        }
        out
    }

    /// Send every packet of `packets` (or count it), giving buffers back to
    /// `pool`.
    pub fn transmit(&self, packets: &mut Vec<Packet>, pool: &mut PacketPool) -> TxOutcome {
        let mut out = TxOutcome::default();
        if packets.is_empty() {
            return out;
        }
        let mut half = lock(&self.tx);
        let TxHalf { tx, comp, free } = &mut *half;
        comp.reap(&self.umem, free);
        let mut room = tx.prod_free(packets.len() as u32);
        let mut queued = 0u32;
        for pkt in packets.drain(..) {
            let len = pkt.len();
            if len == 0 || len > self.umem.frame_size() as usize {
                out.errors += 1;
            } else if room == 0 {
                out.dropped += 1;
            } else if let Some(addr) = free.get() {
                if !self.umem.write_frame(addr, pkt.data()) {
                    // Cannot happen: our frames are aligned and `len` fits.
                    free.put(addr);
                    out.errors += 1;
                    pool.put(pkt);
                    continue;
                }
                tx.push(libc::xdp_desc {
                    addr,
                    len: len as u32,
                    options: 0,
                });
                room -= 1;
                queued += 1;
                out.packets += 1;
                out.bytes += len as u64;
            } else {
                out.dropped += 1;
            }
            pool.put(pkt);
        }
        if queued > 0 {
            tx.submit();
        }
        let must_kick = !self.zero_copy || !self.need_wakeup || tx.needs_wakeup();
        if must_kick && tx.prod_outstanding() > 0 {
            for _ in 0..MAX_TX_KICKS {
                match self.kick_tx() {
                    Ok(()) => break,
                    Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                        // More left than one call sends, or the completion
                        // ring is full: make room and go again.
                        comp.reap(&self.umem, free);
                        if tx.prod_outstanding() == 0 {
                            break;
                        }
                    }
                    // ENOBUFS, EBUSY, ENETDOWN, ENXIO: the descriptors stay
                    // on the ring and go with the next kick.
                    Err(_) => break,
                }
            }
        }
        comp.reap(&self.umem, free);
        out
    }

    fn kick_tx(&self) -> io::Result<()> {
        // SAFETY: a zero-length sendto with no buffer and no address is the
        // documented AF_XDP transmit kick; nothing is read from user memory.
        let rc = unsafe {
            libc::sendto(
                self.fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn kick_rx(&self) {
        // SAFETY: a zero-length recvfrom with no buffer and no address is
        // the documented AF_XDP receive wakeup; nothing is written to user
        // memory. Errors only mean "nothing to do now".
        unsafe {
            libc::recvfrom(
                self.fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
    }

    /// The kernel's counters for this socket.
    pub fn statistics(&self) -> io::Result<XdpStatistics> {
        getsockopt::<XdpStatistics>(self.fd(), libc::XDP_STATISTICS).map(|(s, _)| s)
    }
}

/// Bind, falling back from zero-copy to copy and from need-wakeup to none,
/// and retrying EBUSY for a while. Returns (zero_copy, need_wakeup).
fn bind(fd: RawFd, cfg: &SocketConfig) -> io::Result<(bool, bool)> {
    let mut zero_copy = cfg.prefer_zero_copy;
    let mut need_wakeup = cfg.need_wakeup;
    let deadline = Instant::now() + BIND_RETRY_FOR;
    let mut backoff = Duration::from_millis(10);
    loop {
        let mut flags = if zero_copy {
            libc::XDP_ZEROCOPY
        } else {
            libc::XDP_COPY
        };
        if need_wakeup {
            flags |= libc::XDP_USE_NEED_WAKEUP;
        }
        let addr = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: flags,
            sxdp_ifindex: cfg.ifindex,
            sxdp_queue_id: cfg.queue_id,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: `addr` is a live sockaddr_xdp and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd,
                &addr as *const libc::sockaddr_xdp as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return Ok((zero_copy, need_wakeup));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EOPNOTSUPP) if zero_copy => {
                tracing::debug!(
                    queue = cfg.queue_id,
                    "AF_XDP zero-copy unsupported, using copy mode"
                );
                zero_copy = false;
            }
            Some(libc::EINVAL) if need_wakeup => need_wakeup = false,
            Some(libc::EBUSY) if Instant::now() < deadline => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(250));
            }
            _ => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<MmapOffsets>(), 128);
        assert_eq!(std::mem::size_of::<XdpStatistics>(), 48);
        assert_eq!(std::mem::size_of::<libc::xdp_desc>(), 16);
    }
}

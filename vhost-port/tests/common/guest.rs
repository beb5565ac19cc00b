//! A minimal virtio-net driver that reaches a port the way QEMU does.
//!
//! [`Guest::connect`] plays the VMM's vhost-user frontend (rust-vmm's
//! `vhost::vhost_user::Frontend`): it negotiates features, shares a memfd
//! as the guest's whole memory, lays out split rings for queue 0 (the
//! guest's receive queue) and queue 1 (its transmit queue), hands over the
//! kick and call eventfds and enables both queues. It then drives those
//! rings through its own mapping of the memfd, with vm-memory's checked
//! accessors: the device sees exactly what a guest driver would have
//! written, and a test can just as well write what a broken driver would.
//!
//! The one idea: descriptor `i` of queue `q` always points at the same
//! buffer ([`buffer`]), so a well-behaved guest only moves indexes around,
//! and a test that wants to misbehave overwrites descriptors or indexes
//! with [`Guest::write_desc`], [`Guest::offer`] and
//! [`Guest::set_avail_idx`]. A few descriptors per queue are never posted
//! by the well-behaved paths ([`RESERVE`]): they are the free slots a fault
//! injection takes with [`Guest::take_free`].

use std::fs::File;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;
use vhost::vhost_user::message::{
    VhostUserHeaderFlag, VhostUserProtocolFeatures, VhostUserVirtioFeatures,
};
use vhost::vhost_user::{Frontend, VhostUserFrontend};
use vhost::{VhostBackend, VhostUserMemoryRegionInfo, VringConfigData};
use vhost_port::net::{VIRTIO_F_VERSION_1, VIRTIO_RING_F_INDIRECT_DESC};
use virtio_queue::desc::split::Descriptor;
use vm_memory::{Bytes, FileOffset, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// Size of guest memory (one region at guest physical address 0).
pub const MEM_SIZE: u64 = 1 << 20;
/// Ring size the guest chooses.
pub const QSIZE: u16 = 32;
/// The guest's receive queue (the device's transmit direction).
pub const RX: usize = 0;
/// The guest's transmit queue (the device's receive direction).
pub const TX: usize = 1;
/// virtio-net header with `VERSION_1` (num_buffers included).
pub const HDR_LEN: usize = 12;
/// Bytes behind every descriptor.
pub const BUF_SIZE: u32 = 2048;
/// Free guest memory for whatever a test wants to build (indirect tables).
pub const SCRATCH: u64 = 0x8_0000;
/// Descriptors per queue the well-behaved paths leave alone.
pub const RESERVE: usize = 4;

/// Descriptor flags (virtio 1.x, 2.7.5).
pub const F_NEXT: u16 = 1;
pub const F_WRITE: u16 = 2;
pub const F_INDIRECT: u16 = 4;

/// How long a request to the device may take before the test calls it a hang.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Guest physical address of queue `q`'s descriptor table.
pub fn desc_table(q: usize) -> u64 {
    0x1000 + q as u64 * 0x4000
}

fn avail_ring(q: usize) -> u64 {
    desc_table(q) + 0x1000
}

fn used_ring(q: usize) -> u64 {
    desc_table(q) + 0x2000
}

/// The buffer behind descriptor `i` of queue `q`.
pub fn buffer(q: usize, i: u16) -> u64 {
    0x2_0000
        + q as u64 * (u64::from(QSIZE) * u64::from(BUF_SIZE))
        + u64::from(i) * u64::from(BUF_SIZE)
}

/// Why connecting a guest failed.
#[derive(Debug)]
pub enum ConnectError {
    Io(std::io::Error),
    Vhost(&'static str, vhost::Error),
    Memory(String),
}

/// The driver's side of one virtqueue.
#[derive(Debug)]
struct Vq {
    /// Next available index the driver publishes.
    avail_idx: u16,
    /// Used entries consumed so far.
    used_seen: u16,
    /// Descriptors not in flight.
    free: Vec<u16>,
}

impl Vq {
    fn new() -> Self {
        Vq {
            avail_idx: 0,
            used_seen: 0,
            free: (0..QSIZE).rev().collect(),
        }
    }
}

/// A connected guest.
pub struct Guest {
    fe: Frontend,
    mem: GuestMemoryMmap,
    /// Where the VMM has guest memory mapped (ring addresses travel as
    /// VMM virtual addresses).
    uaddr_base: u64,
    vqs: [Vq; 2],
    kicks: [EventFd; 2],
    _calls: [EventFd; 2],
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest")
            .field("vqs", &self.vqs)
            .finish_non_exhaustive()
    }
}

impl Guest {
    /// Connect to a port's socket and bring queues 0 and 1 up, as a VMM
    /// does before the guest driver starts.
    pub fn connect(sock: &Path) -> Result<Guest, ConnectError> {
        Self::connect_claiming(sock, MEM_SIZE)
    }

    /// [`Guest::connect`], but the memory table tells the device that the
    /// region is `claimed` bytes long, whatever the memfd behind it holds
    /// (a hostile VMM).
    pub fn connect_claiming(sock: &Path, claimed: u64) -> Result<Guest, ConnectError> {
        let v = |what| move |e| ConnectError::Vhost(what, e);
        let mem = guest_memory()?;
        let region = mem
            .iter()
            .next()
            .ok_or_else(|| ConnectError::Memory("no region".into()))?;
        let mut info = VhostUserMemoryRegionInfo::from_guest_region(region).map_err(v("region"))?;
        info.memory_size = claimed;
        let uaddr_base = info.userspace_addr;

        let stream = UnixStream::connect(sock).map_err(ConnectError::Io)?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(ConnectError::Io)?;
        let mut fe = Frontend::from_stream(stream, 2);
        fe.set_owner().map_err(v("set_owner"))?;
        let offered = fe.get_features().map_err(v("get_features"))?;
        let wanted = (1u64 << VIRTIO_F_VERSION_1)
            | (1u64 << VIRTIO_RING_F_INDIRECT_DESC)
            | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits();
        if offered & wanted != wanted {
            return Err(ConnectError::Memory(format!(
                "device offers {offered:#x}, guest needs {wanted:#x}"
            )));
        }
        let proto = fe
            .get_protocol_features()
            .map_err(v("get_protocol_features"))?;
        // REPLY_ACK: every request is acknowledged, so a request the
        // device refuses fails here, not somewhere later.
        let reply_ack = VhostUserProtocolFeatures::REPLY_ACK;
        fe.set_protocol_features(proto & (VhostUserProtocolFeatures::MQ | reply_ack))
            .map_err(v("set_protocol_features"))?;
        if proto.contains(reply_ack) {
            fe.set_hdr_flags(VhostUserHeaderFlag::NEED_REPLY);
        }
        // However many queues the device has, this guest uses 0 and 1.
        let queues = fe.get_queue_num().map_err(v("get_queue_num"))?;
        if queues < 2 {
            return Err(ConnectError::Memory(format!("{queues} queues")));
        }
        fe.set_features(wanted).map_err(v("set_features"))?;
        fe.set_mem_table(&[info]).map_err(v("set_mem_table"))?;

        let ev = || EventFd::new(EFD_NONBLOCK).map_err(ConnectError::Io);
        let kicks = [ev()?, ev()?];
        let calls = [ev()?, ev()?];
        for q in [RX, TX] {
            fe.set_vring_num(q, QSIZE).map_err(v("set_vring_num"))?;
            fe.set_vring_addr(q, &vring_addrs(uaddr_base, q, avail_ring(q)))
                .map_err(v("set_vring_addr"))?;
            fe.set_vring_base(q, 0).map_err(v("set_vring_base"))?;
            fe.set_vring_call(q, &calls[q])
                .map_err(v("set_vring_call"))?;
            fe.set_vring_kick(q, &kicks[q])
                .map_err(v("set_vring_kick"))?;
            fe.set_vring_enable(q, true)
                .map_err(v("set_vring_enable"))?;
        }
        let mut g = Guest {
            fe,
            mem,
            uaddr_base,
            vqs: [Vq::new(), Vq::new()],
            kicks,
            _calls: calls,
        };
        g.fill_rx();
        g.kick(TX);
        Ok(g)
    }

    /// Whether the device has closed the connection: a request fails
    /// because the socket hung up (not because the device stopped
    /// answering, which panics: that is a hang).
    pub fn closed_by_device(&self) -> bool {
        use vhost::vhost_user::Error as E;
        match self.fe.get_features() {
            Ok(_) => false,
            // A send cut short (PartialMessage) is the socket closing under
            // it too: the device's end goes through a relay, whose two
            // halves close a moment apart.
            Err(vhost::Error::VhostUserProtocol(
                E::Disconnected | E::SocketBroken(_) | E::PartialMessage,
            )) => true,
            Err(e) => panic!("the device neither answered nor hung up: {e}"),
        }
    }

    /// Tell the device that queue `q`'s available ring now lives at
    /// `avail` (a VMM sending the ring addresses again, wherever it likes).
    pub fn move_avail_ring(&self, q: usize, avail: u64) -> Result<(), vhost::Error> {
        self.fe
            .set_vring_addr(q, &vring_addrs(self.uaddr_base, q, avail))
    }

    /// Notify the device about queue `q`.
    pub fn kick(&self, q: usize) {
        let _ = self.kicks[q].write(1);
    }

    /// Write descriptor `i` of the table at `table`.
    pub fn write_desc(&self, table: u64, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        self.mem
            .write_obj(
                Descriptor::new(addr, len, flags, next),
                GuestAddress(table + u64::from(i) * 16),
            )
            .expect("descriptor inside guest memory");
    }

    /// Write `bytes` into guest memory.
    pub fn write(&self, gpa: u64, bytes: &[u8]) {
        self.mem
            .write_slice(bytes, GuestAddress(gpa))
            .expect("write inside guest memory");
    }

    /// A descriptor of queue `q` nobody uses (the well-behaved paths keep
    /// [`RESERVE`] of them).
    pub fn take_free(&mut self, q: usize) -> u16 {
        self.vqs[q].free.pop().expect("a free descriptor")
    }

    /// Make the chain at `head` available on queue `q` (no kick).
    pub fn offer(&mut self, q: usize, head: u16) {
        let vq = &mut self.vqs[q];
        let slot = u64::from(vq.avail_idx % QSIZE);
        self.mem
            .write_obj(head, GuestAddress(avail_ring(q) + 4 + 2 * slot))
            .expect("avail ring inside guest memory");
        vq.avail_idx = vq.avail_idx.wrapping_add(1);
        let idx = vq.avail_idx;
        self.set_avail_idx(q, idx);
    }

    /// The available index the driver published last on queue `q`.
    pub fn avail_idx(&self, q: usize) -> u16 {
        self.vqs[q].avail_idx
    }

    /// Publish `idx` as queue `q`'s available index, whatever it means.
    pub fn set_avail_idx(&self, q: usize, idx: u16) {
        self.mem
            .store(idx, GuestAddress(avail_ring(q) + 2), Ordering::Release)
            .expect("avail ring inside guest memory");
    }

    /// Used entries of queue `q` not consumed yet: (descriptor id, length).
    fn take_used(&mut self, q: usize) -> Vec<(u16, u32)> {
        let used = self
            .mem
            .load::<u16>(GuestAddress(used_ring(q) + 2), Ordering::Acquire)
            .expect("used ring inside guest memory");
        let vq = &mut self.vqs[q];
        let mut out = Vec::new();
        while vq.used_seen != used {
            let at = used_ring(q) + 4 + 8 * u64::from(vq.used_seen % QSIZE);
            let id: u32 = self.mem.read_obj(GuestAddress(at)).expect("used entry");
            let len: u32 = self.mem.read_obj(GuestAddress(at + 4)).expect("used entry");
            vq.used_seen = vq.used_seen.wrapping_add(1);
            let id = u16::try_from(id).expect("used id fits a descriptor index");
            assert!(id < QSIZE, "device returned descriptor {id}");
            vq.free.push(id);
            out.push((id, len));
        }
        out
    }

    /// Take back the transmit buffers the device is done with.
    pub fn reap_tx(&mut self) -> usize {
        self.take_used(TX).len()
    }

    /// Whether the device has returned every transmit buffer.
    pub fn tx_idle(&mut self) -> bool {
        self.reap_tx();
        self.vqs[TX].free.len() == usize::from(QSIZE)
    }

    /// Queue `frame` for transmission and kick. False when the ring is full.
    pub fn send(&mut self, frame: &[u8]) -> bool {
        self.reap_tx();
        if self.vqs[TX].free.len() <= RESERVE {
            return false;
        }
        let i = self.take_free(TX);
        let at = buffer(TX, i);
        self.write(at, &[0u8; HDR_LEN]);
        self.write(at + HDR_LEN as u64, frame);
        self.write_desc(desc_table(TX), i, at, (HDR_LEN + frame.len()) as u32, 0, 0);
        self.offer(TX, i);
        self.kick(TX);
        true
    }

    /// Post every free receive buffer (but the reserve).
    pub fn fill_rx(&mut self) {
        let mut posted = false;
        while self.vqs[RX].free.len() > RESERVE {
            let i = self.take_free(RX);
            self.write_desc(desc_table(RX), i, buffer(RX, i), BUF_SIZE, F_WRITE, 0);
            self.offer(RX, i);
            posted = true;
        }
        if posted {
            self.kick(RX);
        }
    }

    /// Frames the device delivered (headers stripped); the buffers are
    /// posted again.
    pub fn recv(&mut self) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        for (id, len) in self.take_used(RX) {
            let len = (len as usize).min(BUF_SIZE as usize);
            let mut buf = vec![0u8; len];
            self.mem
                .read_slice(&mut buf, GuestAddress(buffer(RX, id)))
                .expect("receive buffer inside guest memory");
            assert!(len >= HDR_LEN, "used length {len} shorter than the header");
            let num_buffers = u16::from_le_bytes([buf[10], buf[11]]);
            assert_eq!(num_buffers, 1, "num_buffers without MRG_RXBUF");
            frames.push(buf.split_off(HDR_LEN));
        }
        self.fill_rx();
        frames
    }
}

/// SET_VRING_ADDR for queue `q` of the standard layout, but for the
/// available ring at `avail`.
fn vring_addrs(uaddr_base: u64, q: usize, avail: u64) -> VringConfigData {
    VringConfigData {
        queue_max_size: QSIZE,
        queue_size: QSIZE,
        flags: 0,
        desc_table_addr: uaddr_base + desc_table(q),
        used_ring_addr: uaddr_base + used_ring(q),
        avail_ring_addr: uaddr_base + avail,
        log_addr: None,
    }
}

/// The guest's RAM: a memfd, mapped shared here and by the device.
fn guest_memory() -> Result<GuestMemoryMmap, ConnectError> {
    let fd = rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| ConnectError::Io(e.into()))?;
    let file = File::from(fd);
    file.set_len(MEM_SIZE).map_err(ConnectError::Io)?;
    GuestMemoryMmap::from_ranges_with_files([(
        GuestAddress(0),
        MEM_SIZE as usize,
        Some(FileOffset::new(file, 0)),
    )])
    .map_err(|e| ConnectError::Memory(e.to_string()))
}

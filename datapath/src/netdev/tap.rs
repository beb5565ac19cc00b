//! Tap ports: the bridge's own interface into the host's network stack.
//!
//! A bridge's LOCAL ("internal") port is a tap device this port creates:
//! what the datapath sends to the port comes out of the tap interface into
//! the kernel's stack (so the host can talk through the bridge, take an IP
//! address on it, run DHCP on it), and what the kernel routes out of the tap
//! interface arrives here.
//!
//! The one idea: the device runs with `IFF_VNET_HDR` and offloads switched
//! on (`TUNSETOFFLOAD`), so the kernel hands over TCP segments with partial
//! checksums and 64 KiB TSO super-packets instead of finishing them in
//! software, and takes them back the same way. Every read and write starts
//! with the 10-byte virtio-net header (`TUNSETVNETHDRSZ` 10, the kernel's
//! default and the same header AF_PACKET uses, translated by the shared
//! [`vnet`](super::afpacket::vnet) codec).
//!
//! Reads are non-blocking, one `readv` per packet until `EAGAIN`. A frame
//! normally lands straight in the packet buffer; a GSO super-packet larger
//! than the buffer spills into a per-port overflow area and is appended.
//! The device is not persistent: dropping the port closes the file
//! descriptor and the kernel deletes the interface.
#![allow(unsafe_code)]

use super::afpacket::{ifreq, vnet};
use super::{Port, PortCaps, PortError, PortStats};
use crate::packet::{Batch, Packet, PacketPool, DEFAULT_CAPACITY, HEADROOM};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use vnet::VNET_HDR_LEN;

/// Bytes of a frame that go straight into a default packet buffer.
const DIRECT: usize = DEFAULT_CAPACITY - HEADROOM;

/// Largest frame read: a 64 KiB GSO packet plus a VLAN tag and slack.
const MAX_FRAME: usize = 65536 + 1024;

#[derive(Debug, Default)]
struct Counters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_errors: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_dropped: AtomicU64,
    tx_errors: AtomicU64,
}

/// A tap device owned by the datapath (port kind "internal").
#[derive(Debug)]
pub struct TapPort {
    name: String,
    /// The `/dev/net/tun` file descriptor bound to the device.
    tun: OwnedFd,
    /// A socket in the device's namespace for interface ioctls.
    ctl: OwnedFd,
    /// Read at open and refreshed by `stats()`.
    mtu: AtomicU32,
    /// Where the tail of a frame larger than [`DIRECT`] is read.
    overflow: Mutex<Vec<u8>>,
    /// Polls left to skip after a read found nothing (see [`IDLE_SKIP`]).
    idle_skip: AtomicU32,
    counters: Counters,
}

/// After a read finds the device empty, this many of the worker's next
/// polls skip the `readv` (a system call each, the dearest thing a busy
/// worker did for an idle LOCAL port). It delays a LOCAL packet by at most
/// that many loops of a busy worker (microseconds); an idle worker sleeps
/// on the device's descriptor and [`Port::prepare_sleep`] clears the skip.
const IDLE_SKIP: u32 = 16;

/// Issue a tun ioctl taking a pointer argument.
fn tun_ioctl<T>(
    fd: RawFd,
    req: libc::c_ulong,
    arg: *mut T,
    op: &'static str,
    name: &str,
) -> Result<(), PortError> {
    // SAFETY: callers pass the request's documented argument type: a valid
    // pointer to a live `T` the kernel may read and write for the call.
    let rc = unsafe { libc::ioctl(fd, req as _, arg) };
    if rc < 0 {
        return Err(PortError::last_os(op, name));
    }
    Ok(())
}

impl TapPort {
    /// Create (or attach to, if it exists and is a tap) device `name`, in
    /// the calling thread's network namespace, and bring it up.
    pub fn open(name: &str) -> Result<Self, PortError> {
        let mut ifr = ifreq::request(name)?;
        // SAFETY: path is a NUL-terminated literal; plain open(2).
        let fd = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(PortError::last_os("open(/dev/net/tun)", name));
        }
        // SAFETY: `fd` was just returned by open(2) and has no other owner.
        let tun = unsafe { OwnedFd::from_raw_fd(fd) };
        ifr.ifr_ifru.ifru_flags =
            (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short;
        tun_ioctl(
            tun.as_raw_fd(),
            libc::TUNSETIFF as _,
            &mut ifr,
            "TUNSETIFF",
            name,
        )
        .map_err(|e| match e {
            // The name is taken by a device someone else holds: two
            // switches (or switchd and Open vSwitch) with the same bridge
            // name in one network namespace.
            PortError::Io { ref source, .. } if source.raw_os_error() == Some(libc::EBUSY) => {
                PortError::Config(format!(
                    "an interface named {name} already exists and is in use (another switchd, \
                     or Open vSwitch, on this host?): give this bridge another name, or run \
                     each switchd in its own network namespace"
                ))
            }
            e => e,
        })?;
        let name = ifreq::name_of(&ifr);

        let mut hdr_len = VNET_HDR_LEN as libc::c_int;
        tun_ioctl(
            tun.as_raw_fd(),
            libc::TUNSETVNETHDRSZ as _,
            &mut hdr_len,
            "TUNSETVNETHDRSZ",
            &name,
        )?;
        // No TUN_F_TSO_ECN: the datapath does not carry the ECN GSO bit, so
        // the kernel segments CWR-marked super-packets itself.
        let tso = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6;
        let uso = libc::TUN_F_USO4 | libc::TUN_F_USO6;
        // TUNSETOFFLOAD takes its flags by value, not through a pointer.
        // SAFETY: plain integer-argument ioctl on our tun descriptor.
        let rc = unsafe {
            libc::ioctl(
                tun.as_raw_fd(),
                libc::TUNSETOFFLOAD as _,
                (tso | uso) as libc::c_ulong,
            )
        };
        if rc < 0 {
            // Linux < 6.2 has no UDP segmentation offload on tap.
            // SAFETY: as above.
            let rc = unsafe {
                libc::ioctl(
                    tun.as_raw_fd(),
                    libc::TUNSETOFFLOAD as _,
                    tso as libc::c_ulong,
                )
            };
            if rc < 0 {
                return Err(PortError::last_os("TUNSETOFFLOAD", &name));
            }
        }
        let ctl = ifreq::control_socket(&name)?;
        ifreq::set_up(ctl.as_fd(), &name)?;
        let mtu = ifreq::mtu(ctl.as_fd(), &name)?;
        tracing::debug!(port = %name, mtu, "tap port open");
        Ok(TapPort {
            name,
            tun,
            ctl,
            mtu: AtomicU32::new(mtu),
            overflow: Mutex::new(vec![0; MAX_FRAME - DIRECT]),
            idle_skip: AtomicU32::new(0),
            counters: Counters::default(),
        })
    }

    /// Read one packet. `Ok(None)`: nothing to read now.
    fn read_one(&self, p: &mut Packet, overflow: &mut [u8]) -> Result<Option<()>, std::io::Error> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        let direct = p.frame_for_write(DIRECT);
        let mut iov = [
            libc::iovec {
                iov_base: hdr.as_mut_ptr().cast(),
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: direct.as_mut_ptr().cast(),
                iov_len: direct.len(),
            },
            libc::iovec {
                iov_base: overflow.as_mut_ptr().cast(),
                iov_len: overflow.len(),
            },
        ];
        // SAFETY: the three iovecs describe live, exclusively borrowed
        // buffers of the given lengths.
        let n = unsafe {
            libc::readv(
                self.tun.as_raw_fd(),
                iov.as_mut_ptr(),
                iov.len() as libc::c_int,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EAGAIN) => Ok(None),
                _ => Err(err),
            };
        }
        let n = n as usize;
        if n < VNET_HDR_LEN + 14 {
            p.truncate(0);
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("short read of {n} bytes"),
            ));
        }
        let frame_len = n - VNET_HDR_LEN;
        p.offload = vnet::decode(&hdr)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if frame_len <= DIRECT {
            p.truncate(frame_len);
        } else {
            p.extend_from_slice(&overflow[..frame_len - DIRECT]);
        }
        Ok(Some(()))
    }

    fn write_one(&self, p: &Packet) -> Result<(), std::io::Error> {
        let hdr = vnet::encode(&p.offload);
        // The kernel only reads through these pointers (writev).
        let iov = [
            libc::iovec {
                iov_base: hdr.as_ptr() as *mut libc::c_void,
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: p.data().as_ptr() as *mut libc::c_void,
                iov_len: p.len(),
            },
        ];
        loop {
            // SAFETY: both iovecs describe live buffers of the given lengths.
            let n = unsafe {
                libc::writev(self.tun.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int)
            };
            if n >= 0 {
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(err);
            }
        }
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "internal"
    }

    fn caps(&self) -> PortCaps {
        PortCaps {
            tx_csum_partial: true,
            tx_tso: true,
            mtu: self.mtu.load(Relaxed),
        }
    }

    fn rx_batch(&self, _rxq: usize, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        let skip = self.idle_skip.load(Relaxed);
        if skip > 0 {
            self.idle_skip.store(skip - 1, Relaxed);
            return 0;
        }
        let mut overflow = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        let (mut got, mut bytes, mut errors) = (0usize, 0u64, 0u64);
        while !batch.is_full() {
            let mut p = pool.get();
            match self.read_one(&mut p, &mut overflow) {
                Ok(Some(())) => {
                    got += 1;
                    bytes += p.len() as u64;
                    batch.push(p);
                }
                Ok(None) => {
                    pool.put(p);
                    break;
                }
                Err(e) => {
                    tracing::trace!(port = %self.name, error = %e, "tap rx error");
                    errors += 1;
                    pool.put(p);
                    if e.kind() != std::io::ErrorKind::InvalidData {
                        // A device error (it went away): stop for now.
                        break;
                    }
                }
            }
        }
        let c = &self.counters;
        if got > 0 {
            c.rx_packets.fetch_add(got as u64, Relaxed);
            c.rx_bytes.fetch_add(bytes, Relaxed);
        }
        if errors > 0 {
            c.rx_errors.fetch_add(errors, Relaxed);
        }
        if got == 0 {
            self.idle_skip.store(IDLE_SKIP, Relaxed);
        }
        got
    }

    fn tx_batch(&self, _txq: usize, packets: &mut Vec<Packet>, pool: &mut PacketPool) {
        let (mut sent, mut bytes, mut dropped, mut errors) = (0u64, 0u64, 0u64, 0u64);
        for p in packets.iter() {
            match self.write_one(p) {
                Ok(()) => {
                    sent += 1;
                    bytes += p.len() as u64;
                }
                // Device down (EIO) or queue full: the packet is lost, not bad.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EAGAIN | libc::EIO | libc::ENOBUFS)
                    ) =>
                {
                    dropped += 1;
                }
                Err(e) => {
                    tracing::trace!(port = %self.name, error = %e, len = p.len(), "tap tx error");
                    errors += 1;
                }
            }
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
        if let Ok(mtu) = ifreq::mtu(self.ctl.as_fd(), &self.name) {
            self.mtu.store(mtu, Relaxed);
        }
        let c = &self.counters;
        PortStats {
            rx_packets: c.rx_packets.load(Relaxed),
            rx_bytes: c.rx_bytes.load(Relaxed),
            rx_dropped: 0,
            rx_errors: c.rx_errors.load(Relaxed),
            tx_packets: c.tx_packets.load(Relaxed),
            tx_bytes: c.tx_bytes.load(Relaxed),
            tx_dropped: c.tx_dropped.load(Relaxed),
            tx_errors: c.tx_errors.load(Relaxed),
        }
    }

    fn rx_fd(&self, _rxq: usize) -> Option<RawFd> {
        Some(self.tun.as_raw_fd())
    }

    /// The worker sleeps on the device's descriptor: when it wakes, the
    /// next poll reads.
    fn prepare_sleep(&self, _rxq: usize) -> bool {
        self.idle_skip.store(0, Relaxed);
        false
    }

    fn mac(&self) -> Option<[u8; 6]> {
        ifreq::mac(self.ctl.as_fd(), &self.name).ok()
    }

    fn link_up(&self) -> bool {
        ifreq::link_up(self.ctl.as_fd(), &self.name)
    }

    fn link_speed(&self) -> Option<super::ethtool::LinkSpeed> {
        super::ethtool::link_speed(self.ctl.as_fd(), &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netdev::afpacket::testns::{can_run, frame, udp_frame, NetNs, RawSocket};
    use crate::packet::{CsumPartial, Gso, GsoKind, Offload};
    use std::time::{Duration, Instant};

    /// Poll `port` until a packet accepted by `want` arrives.
    fn rx_until(
        port: &TapPort,
        timeout: Duration,
        want: impl Fn(&Packet) -> bool,
    ) -> Option<Packet> {
        let mut pool = PacketPool::new();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let mut batch = Batch::new();
            port.rx_batch(0, &mut batch, &mut pool);
            for p in batch.packets.drain(..) {
                if want(&p) {
                    return Some(p);
                }
                pool.put(p);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    }

    #[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
    #[test]
    fn h4_tap_tx_and_rx() {
        if !can_run("h4_tap_tx_and_rx") {
            return;
        }
        let pid = std::process::id();
        let ns = NetNs::new(&format!("h4t{pid}tap"));
        let name = format!("h4{pid}tap");
        let (port, sock) = ns.enter(|| {
            let port = TapPort::open(&name).expect("open tap");
            let sock = RawSocket::bind(&name);
            (port, sock)
        });
        assert_eq!((port.name(), port.kind()), (name.as_str(), "internal"));
        assert!(port.link_up(), "tap is up with carrier");
        assert!(port.mac().is_some_and(|m| m != [0; 6]));
        let caps = port.caps();
        assert!(caps.tx_csum_partial && caps.tx_tso);
        assert_eq!(caps.mtu, 1500);

        // tx: what the datapath writes comes out on the kernel side.
        let out = frame([0xff; 6], [2, 0, 0, 0, 4, 9], 0x88b5, b"h4 tap tx");
        port.tx_batch(
            0,
            &mut vec![Packet::from_bytes(&out)],
            &mut PacketPool::new(),
        );
        assert!(sock
            .recv_matching(Duration::from_secs(3), |f| f == out.as_slice())
            .is_some());

        // rx: what the kernel sends out of the tap arrives at rx_batch.
        let inbound = frame([0xff; 6], [2, 0, 0, 0, 4, 10], 0x88b5, b"h4 tap rx");
        sock.send(&inbound);
        let p = rx_until(&port, Duration::from_secs(3), |p| {
            p.data() == inbound.as_slice()
        });
        assert!(p.is_some_and(|p| p.offload == Default::default()));
        let st = port.stats();
        assert_eq!((st.tx_packets, st.tx_errors), (1, 0));
        assert!(st.rx_packets >= 1);

        // Not persistent: closing the port deletes the device.
        drop(port);
        let gone = std::process::Command::new("ip")
            .args(["netns", "exec", &ns.name, "ip", "link", "show", &name])
            .output()
            .expect("ip");
        assert!(!gone.status.success(), "tap device removed on drop");
    }

    #[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
    #[test]
    fn h4_tap_tcp_syn_has_partial_checksum() {
        if !can_run("h4_tap_tcp_syn_has_partial_checksum") {
            return;
        }
        if std::process::Command::new("python3")
            .arg("-V")
            .output()
            .is_err()
        {
            eprintln!("h4_tap_tcp_syn_has_partial_checksum: skipped (no python3)");
            return;
        }
        let pid = std::process::id();
        let ns = NetNs::new(&format!("h4t{pid}tcs"));
        let name = format!("h4{pid}tcs");
        let port = ns.enter(|| TapPort::open(&name)).expect("open tap");
        ns.exec(&["ip", "addr", "add", "10.204.8.1/24", "dev", &name]);
        ns.exec(&[
            "ip",
            "neigh",
            "add",
            "10.204.8.2",
            "lladdr",
            "02:00:00:00:04:01",
            "dev",
            &name,
            "nud",
            "permanent",
        ]);
        let script =
            "import socket; s=socket.socket(); s.settimeout(1); s.connect_ex(('10.204.8.2', 9))";
        let mut child = std::process::Command::new("ip")
            .args(["netns", "exec", &ns.name, "python3", "-c", script])
            .spawn()
            .expect("python3");
        let syn = rx_until(&port, Duration::from_secs(3), |p| {
            let d = p.data();
            d.len() >= 54 && d[12..14] == [8, 0] && d[23] == 6 && d[30..34] == [10, 204, 8, 2]
        });
        let _ = child.kill();
        let _ = child.wait();
        let syn = syn.expect("SYN out of the tap");
        assert_eq!(
            syn.offload.csum_partial,
            Some(CsumPartial {
                start: 34,
                offset: 16
            })
        );
    }

    /// A UDP GSO super-packet written into the tap is segmented by the
    /// kernel and delivered as separate datagrams.
    #[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
    #[test]
    fn h4_tap_tx_udp_gso_is_segmented() {
        if !can_run("h4_tap_tx_udp_gso_is_segmented") {
            return;
        }
        let pid = std::process::id();
        let ns = NetNs::new(&format!("h4t{pid}tgs"));
        let name = format!("h4{pid}tgs");
        let port = ns.enter(|| TapPort::open(&name)).expect("open tap");
        ns.exec(&["ip", "addr", "add", "10.204.9.1/24", "dev", &name]);
        let mac = port.mac().expect("tap mac");
        let payload: Vec<u8> = (0..2500u32).map(|i| (i % 253) as u8).collect();
        let mut p = Packet::from_bytes(&udp_frame(
            mac,
            [10, 204, 9, 2],
            [10, 204, 9, 1],
            40000,
            4790,
            &payload,
        ));
        p.offload = Offload {
            csum_partial: Some(CsumPartial {
                start: 34,
                offset: 6,
            }),
            gso: Some(Gso {
                kind: GsoKind::Udp,
                size: 1000,
                hdr_len: 42,
            }),
        };
        let sock = ns
            .enter(|| std::net::UdpSocket::bind("10.204.9.1:4790"))
            .expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        port.tx_batch(0, &mut vec![p], &mut PacketPool::new());
        assert_eq!(port.stats().tx_errors, 0);
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut buf = [0u8; 4096];
        while got.len() < 3 && Instant::now() < deadline {
            if let Ok(n) = sock.recv(&mut buf) {
                got.push(buf[..n].to_vec());
            }
        }
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        assert_eq!(got.concat(), payload);
    }
}

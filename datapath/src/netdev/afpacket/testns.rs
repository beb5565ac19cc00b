//! Test harness for ports: network namespaces, veth pairs and raw sockets
//! that clean up after themselves.
//!
//! Tests create everything under unique names (a prefix plus the process
//! id), and every object is owned by a guard whose `Drop` deletes it, so a
//! failing assertion does not leave namespaces or interfaces behind. Work
//! that must happen *inside* a namespace runs on a scoped thread that
//! `setns()`es into it: a thread's network namespace is its own, so the rest
//! of the test process is unaffected.
#![allow(unsafe_code)]

use super::ifreq;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// True when the tests that need namespaces can run (root and `ip`).
pub(crate) fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if !root || !ip {
        eprintln!("{test}: skipped (needs root and iproute2)");
    }
    root && ip
}

/// Run a command, panicking with its output if it fails.
pub(crate) fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub(crate) struct NetNs {
    pub name: String,
}

impl NetNs {
    pub(crate) fn new(name: &str) -> NetNs {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        run(&["ip", "netns", "add", name]);
        let ns = NetNs {
            name: name.to_string(),
        };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        ns
    }

    /// Run a command inside the namespace, panicking if it fails.
    pub(crate) fn exec(&self, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Run `f` on a thread that lives in this namespace.
    pub(crate) fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                // SAFETY: setns on a namespace file descriptor we hold open;
                // it affects only the calling (scoped) thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// An interface in the root namespace, deleted on drop (deleting one end
/// of a veth pair deletes both).
#[derive(Debug)]
pub(crate) struct Link {
    pub name: String,
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
    }
}

/// A veth pair: `root` stays in the root namespace with no address (IPv6
/// off, so it stays quiet), `peer` lives in `ns` with address `peer_ip`/24.
#[derive(Debug)]
pub(crate) struct VethNs {
    // Field order is drop order: the namespace (and the peer in it) first.
    pub ns: NetNs,
    pub root: Link,
    pub peer: String,
}

impl VethNs {
    /// `tag` keeps names unique between tests of one process.
    pub(crate) fn new(tag: &str, peer_ip: &str) -> VethNs {
        let pid = std::process::id();
        let root = Link {
            name: format!("h4{pid}{tag}r"),
        };
        let peer = format!("h4{pid}{tag}p");
        let ns = NetNs::new(&format!("h4t{pid}{tag}"));
        let _ = Command::new("ip")
            .args(["link", "del", &root.name])
            .output();
        run(&[
            "ip", "link", "add", &root.name, "type", "veth", "peer", "name", &peer,
        ]);
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", root.name),
            "1",
        );
        run(&["ip", "link", "set", &peer, "netns", &ns.name]);
        run(&["ip", "link", "set", &root.name, "up"]);
        ns.exec(&["ip", "addr", "add", &format!("{peer_ip}/24"), "dev", &peer]);
        ns.exec(&["ip", "link", "set", &peer, "up"]);
        VethNs { ns, root, peer }
    }

    /// The peer's MAC address.
    pub(crate) fn peer_mac(&self) -> [u8; 6] {
        let peer = self.peer.clone();
        self.ns.enter(move || {
            let sock = ifreq::control_socket(&peer).expect("control socket");
            ifreq::mac(sock.as_fd(), &peer).expect("peer mac")
        })
    }
}

/// A plain AF_PACKET socket (no ring, no virtio-net header) bound to one
/// interface, for tests to inject and observe frames.
#[derive(Debug)]
pub(crate) struct RawSocket {
    fd: OwnedFd,
}

impl RawSocket {
    /// Bind to `ifname` in the calling thread's namespace.
    pub(crate) fn bind(ifname: &str) -> RawSocket {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2) call.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(proto),
            )
        };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: `fd` is fresh from socket(2) and owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let ifindex = ifreq::ifindex(fd.as_fd(), ifname).expect("ifindex");
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a valid sockaddr_ll of the given length.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        // SAFETY: SO_RCVTIMEO reads one timeval.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        assert_eq!(rc, 0);
        RawSocket { fd }
    }

    pub(crate) fn send(&self, frame: &[u8]) {
        // SAFETY: `frame` is a live buffer of the given length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            n,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Wait up to `timeout` for an incoming (not outgoing) frame accepted
    /// by `want`.
    pub(crate) fn recv_matching(
        &self,
        timeout: Duration,
        want: impl Fn(&[u8]) -> bool,
    ) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536 + 256];
        while Instant::now() < deadline {
            // SAFETY: all-zero is a valid sockaddr_ll.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: `buf` and `sll` are live, exclusively borrowed buffers
            // of the lengths passed.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n <= 0 || sll.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let frame = &buf[..n as usize];
            if want(frame) {
                return Some(frame.to_vec());
            }
        }
        None
    }
}

/// An Ethernet frame of at least 60 bytes: `dst`, `src`, `ethertype`, body.
pub(crate) fn frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60.max(14 + body.len()));
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(body);
    f.resize(f.len().max(60), 0);
    f
}

/// Source MAC of test frames.
pub(crate) const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x04, 0x01];

/// Ones-complement sum of `data` folded to 16 bits (not inverted).
pub(crate) fn fold_sum(mut sum: u32, data: &[u8]) -> u16 {
    for pair in data.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        let lo = pair.get(1).map_or(0, |&b| u32::from(b));
        sum += hi | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The IPv4 pseudo-header sum for an L4 segment of `len` bytes.
pub(crate) fn pseudo_sum(src: [u8; 4], dst: [u8; 4], proto: u8, len: usize) -> u16 {
    let mut ph = Vec::with_capacity(12);
    ph.extend_from_slice(&src);
    ph.extend_from_slice(&dst);
    ph.extend_from_slice(&[0, proto]);
    ph.extend_from_slice(&(len as u16).to_be_bytes());
    fold_sum(0, &ph)
}

/// An Ethernet + IPv4 + UDP frame with a correct IP header checksum and
/// the pseudo-header sum in the UDP checksum field (as for CHECKSUM_PARTIAL).
pub(crate) fn udp_frame(
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let csum = !fold_sum(0, &ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());
    let mut body = ip;
    body.extend_from_slice(&sport.to_be_bytes());
    body.extend_from_slice(&dport.to_be_bytes());
    body.extend_from_slice(&(udp_len as u16).to_be_bytes());
    body.extend_from_slice(&pseudo_sum(src, dst, 17, udp_len).to_be_bytes());
    body.extend_from_slice(payload);
    frame(dst_mac, OUR_MAC, 0x0800, &body)
}

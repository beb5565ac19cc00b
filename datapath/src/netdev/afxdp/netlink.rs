//! Just enough rtnetlink to see and clear XDP programs attached the legacy
//! way (`IFLA_XDP` on `RTM_SETLINK`).
//!
//! switchd itself attaches through a BPF link, which the kernel removes when
//! the owning process dies. A program attached through netlink, however,
//! stays on the interface until someone removes it: an older build, a crash
//! between two steps of a tool, or a test harness can leave one behind. On
//! open, the port asks `RTM_GETLINK` which programs are attached (per mode:
//! native, generic, offloaded), and removes any named `switchd_xsk` with
//! `IFLA_XDP_FD = -1`. The removal uses `XDP_FLAGS_REPLACE` with the stale
//! program as the expected one, so it can never remove a program that was
//! swapped in meanwhile. A program attached through a live BPF link cannot be
//! removed this way: the kernel answers `EBUSY`, which is the right answer
//! (its owner is alive).
//!
//! The one idea: a netlink request is a header, a fixed struct, then
//! type-length-value attributes padded to 4 bytes, some nested; the answer to
//! a request with `NLM_F_ACK` is an `NLMSG_ERROR` whose error is 0 on success.

#![allow(unsafe_code)]

use super::bpf::{XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_REPLACE, XDP_FLAGS_SKB_MODE};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = 0x3fff;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;
/// `NLM_F_ACK_TLVS`: the error message carries extended-ack attributes.
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;

const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_FLAGS: u16 = 3;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;
const IFLA_XDP_HW_PROG_ID: u16 = 7;
const IFLA_XDP_EXPECTED_FD: u16 = 8;

/// Where an XDP program runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver (native XDP).
    Driver,
    /// On the generic skb path.
    Skb,
    /// Offloaded to the NIC.
    Hardware,
}

impl AttachMode {
    /// The `XDP_FLAGS_*` bit naming this mode.
    pub fn flag(self) -> u32 {
        match self {
            AttachMode::Driver => XDP_FLAGS_DRV_MODE,
            AttachMode::Skb => XDP_FLAGS_SKB_MODE,
            AttachMode::Hardware => XDP_FLAGS_HW_MODE,
        }
    }
}

/// A program attached to an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachedProg {
    pub mode: AttachMode,
    pub id: u32,
}

static SEQ: AtomicU32 = AtomicU32::new(1);

/// A route netlink socket.
struct Rtnl {
    fd: OwnedFd,
}

impl Rtnl {
    fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new socket nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        for opt in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: `one` is a live c_int and its size is passed. Failure
            // only loses error detail, so the result is ignored.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    SOL_NETLINK,
                    opt,
                    &one as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        // The kernel answers at once; a bounded wait turns a protocol slip
        // into an error instead of a hung port open.
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: `tv` is a live timeval and its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Rtnl { fd })
    }

    /// Send `msg` (a complete message whose sequence number is `seq`) and
    /// collect the payloads of the replies of type `want`, until the ack.
    fn request(&self, msg: &[u8], seq: u32, want: u16) -> io::Result<Vec<Vec<u8>>> {
        // SAFETY: `msg` is a live buffer of `msg.len()` bytes; the kernel
        // is the destination (netlink sockets default to pid 0).
        let rc = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
                0,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut rest = &buf[..n as usize];
            while rest.len() >= NLMSG_HDRLEN {
                let len = u32_at(rest, 0) as usize;
                if len < NLMSG_HDRLEN || len > rest.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    ));
                }
                let ty = u16_at(rest, 4);
                let flags = u16_at(rest, 6);
                let mseq = u32_at(rest, 8);
                let payload = &rest[NLMSG_HDRLEN..len];
                rest = &rest[align4(len).min(rest.len())..];
                if mseq != seq {
                    continue;
                }
                match ty {
                    NLMSG_ERROR => return ack_result(payload, flags).map(|()| out),
                    NLMSG_DONE => return Ok(out),
                    t if t == want => out.push(payload.to_vec()),
                    _ => {}
                }
            }
        }
    }
}

/// Interpret an `NLMSG_ERROR` payload: errno 0 is the ack.
fn ack_result(payload: &[u8], flags: u16) -> io::Result<()> {
    if payload.len() < 4 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "short netlink ack",
        ));
    }
    let errno = -(u32_at(payload, 0) as i32);
    if errno == 0 {
        return Ok(());
    }
    let err = io::Error::from_raw_os_error(errno);
    // With NETLINK_CAP_ACK the echoed request is only its 16-byte header.
    if flags & NLM_F_ACK_TLVS != 0 && payload.len() > 4 + NLMSG_HDRLEN {
        for (ty, val) in Attrs(&payload[4 + NLMSG_HDRLEN..]) {
            if ty == NLMSGERR_ATTR_MSG {
                let end = val.iter().position(|&b| b == 0).unwrap_or(val.len());
                let text = String::from_utf8_lossy(&val[..end]);
                return Err(io::Error::new(err.kind(), format!("{err}: {text}")));
            }
        }
    }
    Err(err)
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Iterator over the (type, value) attributes of a netlink attribute area.
/// Stops at the first malformed attribute.
struct Attrs<'a>(&'a [u8]);

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.len() < 4 {
            return None;
        }
        let len = u16_at(self.0, 0) as usize;
        let ty = u16_at(self.0, 2) & NLA_TYPE_MASK;
        if len < 4 || len > self.0.len() {
            self.0 = &[];
            return None;
        }
        let val = &self.0[4..len];
        self.0 = &self.0[align4(len).min(self.0.len())..];
        Some((ty, val))
    }
}

/// A netlink message under construction.
struct MsgBuilder {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl MsgBuilder {
    /// Header + `ifinfomsg` for `ifindex`.
    fn link(ty: u16, flags: u16, seq: u32, ifindex: u32) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: kernel
                                                    // struct ifinfomsg
        buf.push(libc::AF_UNSPEC as u8);
        buf.push(0);
        buf.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
        buf.extend_from_slice(&(ifindex as i32).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // ifi_flags
        buf.extend_from_slice(&0u32.to_ne_bytes()); // ifi_change
        debug_assert_eq!(buf.len(), NLMSG_HDRLEN + IFINFOMSG_LEN);
        MsgBuilder {
            buf,
            nests: Vec::new(),
        }
    }

    fn attr(&mut self, ty: u16, val: &[u8]) -> &mut Self {
        let len = 4 + val.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(val);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    fn begin_nest(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        self
    }

    fn end_nest(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// The XDP programs attached to `ifindex`, one per mode in use.
pub fn attached_programs(ifindex: u32) -> io::Result<Vec<AttachedProg>> {
    let nl = Rtnl::open()?;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    // With NLM_F_ACK the reply is followed by an ack, which ends the read
    // (a non-dump GET has no NLMSG_DONE).
    let msg = MsgBuilder::link(RTM_GETLINK, NLM_F_ACK, seq, ifindex).finish();
    let replies = nl.request(&msg, seq, RTM_NEWLINK)?;
    let mut out = Vec::new();
    for reply in &replies {
        let Some(attrs) = reply.get(IFINFOMSG_LEN..) else {
            continue;
        };
        for (ty, val) in Attrs(attrs) {
            if ty != IFLA_XDP {
                continue;
            }
            for (xty, xval) in Attrs(val) {
                let mode = match xty {
                    IFLA_XDP_DRV_PROG_ID => AttachMode::Driver,
                    IFLA_XDP_SKB_PROG_ID => AttachMode::Skb,
                    IFLA_XDP_HW_PROG_ID => AttachMode::Hardware,
                    _ => continue,
                };
                if xval.len() >= 4 {
                    let id = u32_at(xval, 0);
                    if id != 0 {
                        out.push(AttachedProg { mode, id });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Detach the program attached the legacy way in `mode`, but only if it is
/// still the program `expected_fd` refers to.
pub fn detach_legacy(ifindex: u32, mode: AttachMode, expected_fd: RawFd) -> io::Result<()> {
    set_xdp(
        ifindex,
        -1,
        mode.flag() | XDP_FLAGS_REPLACE,
        Some(expected_fd),
    )
}

/// Attach `prog_fd` the legacy way (tests use it to simulate a program left
/// behind by a crashed process).
#[cfg(test)]
pub fn attach_legacy(ifindex: u32, mode: AttachMode, prog_fd: RawFd) -> io::Result<()> {
    set_xdp(ifindex, prog_fd, mode.flag(), None)
}

fn set_xdp(ifindex: u32, fd: RawFd, flags: u32, expected_fd: Option<RawFd>) -> io::Result<()> {
    let nl = Rtnl::open()?;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut b = MsgBuilder::link(RTM_SETLINK, NLM_F_ACK, seq, ifindex);
    b.begin_nest(IFLA_XDP)
        .attr(IFLA_XDP_FD, &fd.to_ne_bytes())
        .attr(IFLA_XDP_FLAGS, &flags.to_ne_bytes());
    if let Some(e) = expected_fd {
        b.attr(IFLA_XDP_EXPECTED_FD, &e.to_ne_bytes());
    }
    b.end_nest();
    nl.request(&b.finish(), seq, 0).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_lays_out_nested_attributes() {
        let mut b = MsgBuilder::link(RTM_SETLINK, NLM_F_ACK, 9, 3);
        b.begin_nest(IFLA_XDP)
            .attr(IFLA_XDP_FD, &(-1i32).to_ne_bytes())
            .attr(IFLA_XDP_FLAGS, &2u32.to_ne_bytes())
            .end_nest();
        let m = b.finish();
        assert_eq!(u32_at(&m, 0) as usize, m.len());
        assert_eq!(m.len(), 16 + 16 + 4 + 8 + 8);
        let attrs: Vec<_> = Attrs(&m[32..]).collect();
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].0, IFLA_XDP);
        let inner: Vec<_> = Attrs(attrs[0].1).collect();
        assert_eq!(inner[0], (IFLA_XDP_FD, &(-1i32).to_ne_bytes()[..]));
        assert_eq!(inner[1], (IFLA_XDP_FLAGS, &2u32.to_ne_bytes()[..]));
    }

    #[test]
    fn malformed_attributes_stop_iteration() {
        assert_eq!(Attrs(&[8, 0, 1, 0, 0]).count(), 0);
        assert_eq!(Attrs(&[2, 0, 1, 0]).count(), 0);
        assert_eq!(Attrs(&[5, 0, 1, 0, 9, 0, 0, 0]).count(), 1);
    }

    #[test]
    fn loopback_has_no_xdp() {
        // Reading link attributes needs no privilege.
        let progs = attached_programs(1).expect("RTM_GETLINK lo");
        assert!(progs.is_empty());
    }
}

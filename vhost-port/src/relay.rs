//! The relay in front of the vhost-user handler: early ring enables.
//!
//! Two frontends in the field send `SET_VRING_ENABLE` before
//! `SET_FEATURES`, which the specification allows only once
//! `VHOST_USER_F_PROTOCOL_FEATURES` was acked: QEMU 7.2 enables its rings
//! during the handshake and never again after negotiating, and DPDK's
//! virtio-user in server mode disables its queues first thing when switchd
//! reconnects. rust-vmm's request handler refuses the message and drops the
//! connection (QEMU then retries forever, DPDK gives up); Open vSwitch's
//! DPDK vhost library applies it.
//!
//! The one idea: a relay thread pair sits between the guest's socket and
//! the rust-vmm handler and forwards every message verbatim, file
//! descriptors included, except a `SET_VRING_ENABLE` that comes before
//! `SET_FEATURES`: that one is acknowledged here (when the frontend asks
//! for a reply), remembered per ring, and replayed to the handler right
//! after `SET_FEATURES`, when it is legal, if the negotiated features have
//! `PROTOCOL_FEATURES` (without them the handler enables every ring
//! itself). The relay carries only the control channel; packets never
//! pass through it.
//!
//! Being the only path from a guest's socket to the handler, the relay is
//! also where a memory table is checked against the files behind it
//! ([`mem_table`](crate::mem_table)) before rust-vmm maps them: a table
//! that claims bytes its files do not have is a guest fault, reported to
//! the port and answered by closing the connection.

use crate::ring::GuestError;
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use std::collections::BTreeMap;
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// `VHOST_USER_SET_FEATURES`.
const SET_FEATURES: u32 = 2;
/// `VHOST_USER_SET_VRING_ENABLE`.
const SET_VRING_ENABLE: u32 = 18;
/// `VHOST_USER_F_PROTOCOL_FEATURES` in the feature word.
const PROTOCOL_FEATURES: u64 = 1 << 30;
/// Header flags: protocol version 1, a reply, a reply is wanted.
const FLAG_VERSION: u32 = 0x1;
const FLAG_REPLY: u32 = 0x4;
const FLAG_NEED_REPLY: u32 = 0x8;
const HDR_LEN: usize = 12;
/// Largest message body relayed (vhost-user's are at most a few KiB).
const MAX_BODY: usize = 64 * 1024;
/// Most file descriptors one message carries (a memory table: 8, or the
/// slot count with CONFIGURE_MEM_SLOTS, sent one at a time).
const MAX_FDS: usize = 32;

/// One vhost-user message.
struct Message {
    hdr: [u8; HDR_LEN],
    body: Vec<u8>,
    fds: Vec<OwnedFd>,
}

impl Message {
    fn request(&self) -> u32 {
        u32::from_le_bytes([self.hdr[0], self.hdr[1], self.hdr[2], self.hdr[3]])
    }

    fn flags(&self) -> u32 {
        u32::from_le_bytes([self.hdr[4], self.hdr[5], self.hdr[6], self.hdr[7]])
    }

    fn set_flags(&mut self, flags: u32) {
        self.hdr[4..8].copy_from_slice(&flags.to_le_bytes());
    }

    /// The body's first u64 (a feature word) or u32 (a ring index).
    fn u64_arg(&self) -> Option<u64> {
        Some(u64::from_le_bytes(self.body.get(..8)?.try_into().ok()?))
    }

    fn u32_arg(&self) -> Option<u32> {
        Some(u32::from_le_bytes(self.body.get(..4)?.try_into().ok()?))
    }
}

/// Read one message; `None` at a clean end of stream.
fn recv(sock: &UnixStream) -> std::io::Result<Option<Message>> {
    let mut hdr = [0u8; HDR_LEN];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = recvmsg(
        sock,
        &mut [IoSliceMut::new(&mut hdr)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?
    .bytes;
    if got == 0 {
        return Ok(None);
    }
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = msg {
            fds.extend(rights);
        }
    }
    let mut rest = sock;
    rest.read_exact(&mut hdr[got..])?;
    let size = u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]) as usize;
    if size > MAX_BODY {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("vhost-user message of {size} bytes"),
        ));
    }
    let mut body = vec![0u8; size];
    rest.read_exact(&mut body)?;
    Ok(Some(Message { hdr, body, fds }))
}

/// Write one message, its descriptors with the first byte.
fn send(sock: &UnixStream, m: &Message) -> std::io::Result<()> {
    let borrowed: Vec<_> = m.fds.iter().map(|f| f.as_fd()).collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !borrowed.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
        return Err(std::io::Error::other("too many descriptors to relay"));
    }
    let iov = [IoSlice::new(&m.hdr), IoSlice::new(&m.body)];
    let sent = sendmsg(sock, &iov, &mut control, SendFlags::NOSIGNAL)?;
    // A short write (rare on a Unix socket) finishes without descriptors.
    let mut rest = sock;
    if sent < HDR_LEN {
        rest.write_all(&m.hdr[sent..])?;
        rest.write_all(&m.body)
    } else {
        rest.write_all(&m.body[(sent - HDR_LEN).min(m.body.len())..])
    }
}

/// The acknowledgement of a request the relay answers itself (success).
fn ack(request: u32) -> Message {
    let mut hdr = [0u8; HDR_LEN];
    hdr[..4].copy_from_slice(&request.to_le_bytes());
    hdr[4..8].copy_from_slice(&(FLAG_VERSION | FLAG_REPLY).to_le_bytes());
    hdr[8..].copy_from_slice(&8u32.to_le_bytes());
    Message {
        hdr,
        body: 0u64.to_le_bytes().to_vec(),
        fds: Vec::new(),
    }
}

/// Where the relay reports a guest fault it found (the port counts and
/// logs it); the relay closes the connection itself.
pub type FaultSink = Box<dyn Fn(&GuestError) + Send>;

/// Start relaying `guest` (a connected socket) to a fresh abstract socket;
/// returns its listener, which the rust-vmm daemon accepts the relayed
/// connection from.
pub fn start(port: &str, guest: UnixStream, on_fault: FaultSink) -> std::io::Result<UnixListener> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "switchd-vhost-relay-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Relaxed)
    );
    let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    let listener = UnixListener::bind_addr(&addr)?;
    let handler = UnixStream::connect_addr(&addr)?;
    let guest_w = Arc::new(Mutex::new(guest.try_clone()?));
    let handler_r = handler.try_clone()?;
    let (guest_r, handler_w) = (guest, handler);
    let spawn =
        |name: String, f: Box<dyn FnOnce() + Send>| std::thread::Builder::new().name(name).spawn(f);
    let port_up = port.to_string();
    {
        let guest_w = guest_w.clone();
        let (guest_r, handler_w) = (guest_r.try_clone()?, handler_w.try_clone()?);
        spawn(
            format!("vrelay-{port}"),
            Box::new(move || {
                let r = upstream(&port_up, &guest_r, &handler_w, &guest_w, &on_fault);
                if let Err(e) = r {
                    tracing::debug!(port = %port_up, error = %e, "vhost-user relay (guest side) ended");
                }
                let _ = guest_r.shutdown(std::net::Shutdown::Both);
                let _ = handler_w.shutdown(std::net::Shutdown::Both);
            }),
        )?;
    }
    let port_down = port.to_string();
    spawn(
        format!("vrelay-{port}"),
        Box::new(move || {
            let r = downstream(&handler_r, &guest_w);
            if let Err(e) = r {
                tracing::debug!(port = %port_down, error = %e, "vhost-user relay (device side) ended");
            }
            let _ = handler_r.shutdown(std::net::Shutdown::Both);
            if let Ok(g) = guest_w.lock() {
                let _ = g.shutdown(std::net::Shutdown::Both);
            }
        }),
    )?;
    Ok(listener)
}

/// Guest to device, holding early `SET_VRING_ENABLE`s until
/// `SET_FEATURES` has gone through, and refusing memory tables whose files
/// are shorter than the regions they claim.
fn upstream(
    port: &str,
    guest: &UnixStream,
    handler: &UnixStream,
    guest_w: &Mutex<UnixStream>,
    on_fault: &FaultSink,
) -> std::io::Result<()> {
    let mut negotiated = false;
    // The last early enable of each ring.
    let mut early: BTreeMap<u32, Message> = BTreeMap::new();
    while let Some(mut m) = recv(guest)? {
        match crate::mem_table::check(m.request(), &m.body, &m.fds) {
            Ok(c) if c.unsealed > 0 => tracing::debug!(
                port,
                regions = c.regions,
                unsealed = c.unsealed,
                "guest memory files can still be shrunk by the frontend"
            ),
            Ok(_) => {}
            Err(e) => {
                on_fault(&e);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    e.to_string(),
                ));
            }
        }
        match m.request() {
            SET_VRING_ENABLE if !negotiated => {
                tracing::debug!(ring = ?m.u32_arg(), "early SET_VRING_ENABLE held by the relay");
                if m.flags() & FLAG_NEED_REPLY != 0 {
                    let g = guest_w
                        .lock()
                        .map_err(|_| std::io::Error::other("poisoned"))?;
                    send(&g, &ack(SET_VRING_ENABLE))?;
                    m.set_flags(m.flags() & !FLAG_NEED_REPLY);
                }
                if let Some(ring) = m.u32_arg() {
                    early.insert(ring, m);
                }
                continue;
            }
            SET_FEATURES => {
                let protocol = m.u64_arg().unwrap_or(0) & PROTOCOL_FEATURES != 0;
                send(handler, &m)?;
                negotiated = true;
                for (_, held) in std::mem::take(&mut early) {
                    if protocol {
                        send(handler, &held)?;
                    }
                }
                continue;
            }
            _ => {}
        }
        send(handler, &m)?;
    }
    Ok(())
}

/// Device to guest, verbatim.
fn downstream(handler: &UnixStream, guest_w: &Mutex<UnixStream>) -> std::io::Result<()> {
    while let Some(m) = recv(handler)? {
        let g = guest_w
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        send(&g, &m)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(request: u32, flags: u32, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&request.to_le_bytes());
        v.extend_from_slice(&(FLAG_VERSION | flags).to_le_bytes());
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn early_vring_enables_are_held_until_features_are_set() {
        let (mut guest, ours) = UnixStream::pair().unwrap();
        let listener = start("t", ours, Box::new(|_| {})).unwrap();
        let (mut device, _) = listener.accept().unwrap();
        let ring = |i: u32, on: u32| [i.to_le_bytes(), on.to_le_bytes()].concat();
        // Early: acked here when asked, not forwarded yet; the last one
        // per ring wins.
        guest
            .write_all(&msg(SET_VRING_ENABLE, FLAG_NEED_REPLY, &ring(0, 0)))
            .unwrap();
        let mut reply = [0u8; HDR_LEN + 8];
        guest.read_exact(&mut reply).unwrap();
        assert_eq!(&reply[..4], &SET_VRING_ENABLE.to_le_bytes());
        assert_eq!(&reply[HDR_LEN..], &[0; 8]);
        guest
            .write_all(&msg(SET_VRING_ENABLE, 0, &ring(0, 1)))
            .unwrap();
        guest
            .write_all(&msg(SET_VRING_ENABLE, 0, &ring(1, 1)))
            .unwrap();
        // SET_FEATURES with PROTOCOL_FEATURES: forwarded, then the held
        // enables (without NEED_REPLY), then everything else as it comes.
        let features = msg(SET_FEATURES, 0, &PROTOCOL_FEATURES.to_le_bytes());
        let later = msg(SET_VRING_ENABLE, 0, &ring(1, 0));
        guest.write_all(&features).unwrap();
        guest.write_all(&later).unwrap();
        let expected = [
            features,
            msg(SET_VRING_ENABLE, 0, &ring(0, 1)),
            msg(SET_VRING_ENABLE, 0, &ring(1, 1)),
            later,
        ]
        .concat();
        let mut got = vec![0u8; expected.len()];
        device.read_exact(&mut got).unwrap();
        assert_eq!(got, expected);
        // Replies flow back verbatim.
        let r = msg(1, FLAG_REPLY, &7u64.to_le_bytes());
        device.write_all(&r).unwrap();
        let mut back = vec![0u8; r.len()];
        guest.read_exact(&mut back).unwrap();
        assert_eq!(back, r);
        // The guest hanging up closes the device side.
        drop(guest);
        let mut rest = Vec::new();
        assert_eq!(device.read_to_end(&mut rest).unwrap(), 0);
    }

    #[test]
    fn early_enables_are_dropped_without_protocol_features() {
        let (mut guest, ours) = UnixStream::pair().unwrap();
        let listener = start("t", ours, Box::new(|_| {})).unwrap();
        let (mut device, _) = listener.accept().unwrap();
        let state = [0u8, 0, 0, 0, 1, 0, 0, 0];
        guest.write_all(&msg(SET_VRING_ENABLE, 0, &state)).unwrap();
        let features = msg(SET_FEATURES, 0, &1u64.to_le_bytes());
        guest.write_all(&features).unwrap();
        drop(guest);
        let mut got = Vec::new();
        device.read_to_end(&mut got).unwrap();
        assert_eq!(got, features);
    }

    #[test]
    fn a_memory_table_larger_than_its_file_is_a_fault_and_never_reaches_the_device() {
        use rustix::fs::{memfd_create, MemfdFlags};
        let (guest, ours) = UnixStream::pair().unwrap();
        let faults = Arc::new(Mutex::new(Vec::new()));
        let sink = faults.clone();
        let listener = start(
            "t",
            ours,
            Box::new(move |e| sink.lock().unwrap().push(e.to_string())),
        )
        .unwrap();
        let (mut device, _) = listener.accept().unwrap();
        let file = std::fs::File::from(memfd_create("t", MemfdFlags::CLOEXEC).unwrap());
        file.set_len(2 << 20).unwrap();
        // One region: 1 GiB claimed at offset 0 of a 2 MiB memfd.
        let mut body = 1u32.to_le_bytes().to_vec();
        body.extend_from_slice(&[0; 4]);
        for v in [0u64, 1 << 30, 0x7f00_0000_0000, 0] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        let m = Message {
            hdr: msg(crate::mem_table::SET_MEM_TABLE, 0, &body)[..HDR_LEN]
                .try_into()
                .unwrap(),
            body,
            fds: vec![OwnedFd::from(file)],
        };
        send(&guest, &m).unwrap();
        // Nothing reaches the device; the connection closes.
        let mut got = Vec::new();
        assert_eq!(device.read_to_end(&mut got).unwrap(), 0);
        let faults = faults.lock().unwrap();
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert!(faults[0].contains("memory region 0"), "{faults:?}");
    }
}

//! Live capture: copies of what a port receives and sends, for `swctl capture`.
//!
//! An AF_XDP or vhost-user port is invisible to the host's tcpdump, so the
//! datapath taps its own ports. The seam is two calls in the worker: after
//! a port's receive batch (`rx`, the frames as they came off the port) and
//! just before a transmit batch (`tx`, the frames as they go onto it, after
//! offloads were completed). Both start with one relaxed load of
//! [`Taps::active`]: with no capture running, that branch is the whole cost.
//!
//! A capture is a [`Session`]: a port, the directions, an optional filter
//! (a flow key and mask, matched on the key extracted from the copy, so it
//! costs nothing to packets of other ports), a snap length and an optional
//! packet count. A selected packet is copied (never held: the original goes
//! on as if nothing happened) into a bounded channel; when the reader is
//! slower than the traffic the channel is full and the copy is dropped and
//! counted in `lost`, so a slow reader never slows forwarding. Several
//! sessions can watch the same port; each gets its own copies.
//!
//! The reader holds a [`Capture`]; dropping it ends the session (the tap
//! forgets it at once), so a reader that goes away costs nothing after.

use crate::flow::{extract, FlowKey, Mask};
use crate::packet::Packet;
use crate::PortNo;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Copies a session may have waiting for its reader before it loses some.
pub const CAPTURE_BACKLOG: usize = 4096;
/// How long a reader sleeps when no copy is waiting.
const READER_POLL: Duration = Duration::from_millis(1);

/// Which way a captured packet crossed the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from the port.
    Rx,
    /// Sent to the port.
    Tx,
}

/// What to capture.
#[derive(Debug, Clone)]
pub struct CaptureSpec {
    pub port: PortNo,
    pub rx: bool,
    pub tx: bool,
    /// Bytes kept of each packet (0: all).
    pub snaplen: u32,
    /// Stop after this many packets (None: until the reader goes away).
    pub count: Option<u64>,
    /// Only packets whose key matches (key, mask).
    pub filter: Option<(FlowKey, Mask)>,
}

/// One captured packet.
#[derive(Debug, Clone)]
pub struct Captured {
    pub port: PortNo,
    pub direction: Direction,
    /// Wall-clock time of the batch the packet was in.
    pub time: Duration,
    /// The packet's length on the wire.
    pub orig_len: u32,
    /// The first `snaplen` bytes.
    pub data: Vec<u8>,
}

/// A session's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Copies handed to the reader.
    pub captured: u64,
    /// Copies dropped because the reader was behind.
    pub lost: u64,
    /// Packets of the port and direction the filter did not select.
    pub filtered: u64,
}

/// One running capture, as the tap sees it.
#[derive(Debug)]
struct Session {
    spec: CaptureSpec,
    tx: SyncSender<Captured>,
    captured: AtomicU64,
    lost: AtomicU64,
    filtered: AtomicU64,
    /// The count was reached: select nothing more.
    done: AtomicBool,
}

impl Session {
    fn wants(&self, port: PortNo, dir: Direction) -> bool {
        self.spec.port == port
            && match dir {
                Direction::Rx => self.spec.rx,
                Direction::Tx => self.spec.tx,
            }
            && !self.done.load(Ordering::Relaxed)
    }

    fn offer(&self, p: &Packet, dir: Direction, time: Duration, key: &mut Option<FlowKey>) {
        if let Some((fkey, mask)) = &self.spec.filter {
            let k = key.get_or_insert_with(|| {
                let mut k = FlowKey::default();
                extract(p, &mut k);
                k
            });
            if !k.matches(fkey, mask) {
                self.filtered.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        // Claim a place in the count before copying, so several workers
        // together never deliver more than asked.
        if let Some(limit) = self.spec.count {
            let n = self.captured.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= limit {
                self.done.store(true, Ordering::Relaxed);
            }
            if n > limit {
                self.captured.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        }
        let data = p.data();
        let keep = match self.spec.snaplen {
            0 => data.len(),
            s => data.len().min(s as usize),
        };
        let copy = Captured {
            port: self.spec.port,
            direction: dir,
            time,
            orig_len: data.len() as u32,
            data: data[..keep].to_vec(),
        };
        match self.tx.try_send(copy) {
            Ok(()) => {
                if self.spec.count.is_none() {
                    self.captured.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                if self.spec.count.is_some() {
                    self.captured.fetch_sub(1, Ordering::Relaxed);
                    self.done.store(false, Ordering::Relaxed);
                }
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn stats(&self) -> CaptureStats {
        CaptureStats {
            captured: self.captured.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
        }
    }
}

/// The datapath's capture taps: every running session.
#[derive(Debug, Default)]
pub(crate) struct Taps {
    active: AtomicBool,
    sessions: ArcSwap<Vec<Arc<Session>>>,
    /// Serialises session changes (the tap itself never takes it).
    change: std::sync::Mutex<()>,
}

impl Taps {
    /// Is any capture running? (The one branch the hot path pays.)
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Offer the packets of one batch that crossed `port` in `dir`.
    pub(crate) fn offer(&self, port: PortNo, dir: Direction, packets: &[Packet]) {
        let sessions = self.sessions.load();
        let mut time = None;
        for s in sessions.iter().filter(|s| s.wants(port, dir)) {
            let time = *time.get_or_insert_with(wall_clock);
            for p in packets {
                let mut key = None;
                s.offer(p, dir, time, &mut key);
            }
        }
    }

    /// Start a session (the dpif checks the port first).
    pub(crate) fn start(self: &Arc<Self>, spec: CaptureSpec) -> Capture {
        let (tx, rx) = mpsc::sync_channel(CAPTURE_BACKLOG);
        let session = Arc::new(Session {
            spec,
            tx,
            captured: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            done: AtomicBool::new(false),
        });
        self.update(|v| v.push(session.clone()));
        Capture {
            taps: self.clone(),
            session,
            rx,
        }
    }

    fn stop(&self, session: &Arc<Session>) {
        self.update(|v| v.retain(|s| !Arc::ptr_eq(s, session)));
    }

    fn update(&self, f: impl FnOnce(&mut Vec<Arc<Session>>)) {
        let _g = self.change.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = (**self.sessions.load()).clone();
        f(&mut v);
        self.active.store(!v.is_empty(), Ordering::Relaxed);
        self.sessions.store(Arc::new(v));
    }
}

fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A running capture, held by its reader. Dropping it ends the capture.
#[derive(Debug)]
pub struct Capture {
    taps: Arc<Taps>,
    session: Arc<Session>,
    rx: Receiver<Captured>,
}

/// What [`Capture::next`] found.
#[derive(Debug)]
pub enum Next {
    Packet(Captured),
    /// Nothing within the timeout; the capture goes on.
    Idle,
    /// The count was reached and every copy was read.
    Done,
}

impl Capture {
    /// The next copy, waiting at most `timeout`. The reader polls rather
    /// than sleeping on the channel: a parked reader would make the worker
    /// pay a wake-up system call for every copy it sends.
    pub fn next(&self, timeout: Duration) -> Next {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.rx.try_recv() {
                Ok(c) => return Next::Packet(c),
                // The session holds the sender: cannot happen while we live.
                Err(TryRecvError::Disconnected) => return Next::Done,
                Err(TryRecvError::Empty) => {}
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return if self.session.done.load(Ordering::Relaxed) {
                    Next::Done
                } else {
                    Next::Idle
                };
            }
            std::thread::sleep(READER_POLL.min(deadline - now));
        }
    }

    pub fn spec(&self) -> &CaptureSpec {
        &self.session.spec
    }

    pub fn stats(&self) -> CaptureStats {
        self.session.stats()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.taps.stop(&self.session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tp_dst: u16) -> Packet {
        // Ethernet + IPv4 + UDP to tp_dst.
        let mut f = vec![0u8; 60];
        f[12] = 0x08;
        f[14] = 0x45;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        f[22] = 64;
        f[23] = 17;
        f[36..38].copy_from_slice(&tp_dst.to_be_bytes());
        f[38..40].copy_from_slice(&26u16.to_be_bytes());
        let mut p = Packet::from_bytes(&f);
        p.in_port = 3;
        p
    }

    fn spec() -> CaptureSpec {
        CaptureSpec {
            port: 3,
            rx: true,
            tx: false,
            snaplen: 0,
            count: None,
            filter: None,
        }
    }

    #[test]
    fn idle_taps_are_inactive_and_a_dropped_capture_leaves() {
        let taps = Arc::new(Taps::default());
        assert!(!taps.active());
        let c = taps.start(spec());
        assert!(taps.active());
        drop(c);
        assert!(!taps.active());
        assert!(taps.sessions.load().is_empty());
    }

    #[test]
    fn selects_by_port_direction_and_filter_and_snaps() {
        let taps = Arc::new(Taps::default());
        let mut key = FlowKey::default();
        key.tp_dst = 80;
        let mut mask = FlowKey::default();
        mask.tp_dst = 0xffff;
        let c = taps.start(CaptureSpec {
            snaplen: 20,
            filter: Some((key, mask)),
            ..spec()
        });
        let all = taps.start(spec());
        taps.offer(3, Direction::Rx, &[frame(80), frame(53)]);
        taps.offer(3, Direction::Tx, &[frame(80)]);
        taps.offer(4, Direction::Rx, &[frame(80)]);
        let Next::Packet(p) = c.next(Duration::ZERO) else {
            panic!("nothing captured")
        };
        assert_eq!(
            (p.port, p.direction, p.orig_len, p.data.len()),
            (3, Direction::Rx, 60, 20)
        );
        assert!(matches!(c.next(Duration::ZERO), Next::Idle));
        assert_eq!(
            c.stats(),
            CaptureStats {
                captured: 1,
                lost: 0,
                filtered: 1
            }
        );
        assert_eq!(all.stats().captured, 2);
    }

    #[test]
    fn stops_at_count_and_counts_what_a_slow_reader_loses() {
        let taps = Arc::new(Taps::default());
        let c = taps.start(CaptureSpec {
            count: Some(2),
            ..spec()
        });
        taps.offer(3, Direction::Rx, &[frame(1), frame(2), frame(3)]);
        assert!(matches!(c.next(Duration::ZERO), Next::Packet(_)));
        assert!(matches!(c.next(Duration::ZERO), Next::Packet(_)));
        assert!(matches!(c.next(Duration::ZERO), Next::Done));
        assert_eq!(c.stats().captured, 2);

        let slow = taps.start(spec());
        let many: Vec<Packet> = (0..CAPTURE_BACKLOG + 10).map(|_| frame(9)).collect();
        taps.offer(3, Direction::Rx, &many);
        let s = slow.stats();
        assert_eq!((s.captured, s.lost), (CAPTURE_BACKLOG as u64, 10));
    }
}

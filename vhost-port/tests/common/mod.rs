//! The switch side of the guest-fault tests: a datapath worker polling
//! real vhost-user ports, the log it writes, and the panics of the
//! threads the ports run.
//!
//! The one idea: the worker is what a switchd datapath thread does with a
//! port and nothing more. It polls every port's receive queue in batches
//! and floods what arrives out of every port, the source included, so a
//! guest's frames reach its own receive queue and the other guest's, and
//! both directions of both rings are exercised all the time. A guest fault
//! is therefore found the way it is in switchd: while polling, on the
//! worker's thread, which is also where the port logs why it stopped.

#![allow(dead_code)] // each test binary uses its own part

pub mod guest;

use datapath::netdev::{Port, PortStats};
use datapath::packet::{Batch, Packet, PacketPool};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vhost_port::VhostUserPort;

/// Longest wait for anything the tests expect to happen.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// What the worker logged (tracing's fmt output, no colours).
#[derive(Clone, Debug, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A datapath worker thread flooding between `ports`.
#[derive(Debug)]
pub struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub log: Log,
}

impl Worker {
    pub fn spawn(name: &str, ports: Vec<Arc<VhostUserPort>>) -> Worker {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Log::default();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn({
                let stop = stop.clone();
                let log = log.clone();
                move || {
                    let subscriber = tracing_subscriber::fmt()
                        .with_writer(move || log.clone())
                        .with_ansi(false)
                        .with_max_level(tracing::Level::INFO)
                        .finish();
                    tracing::subscriber::with_default(subscriber, || run(&ports, &stop));
                }
            })
            .expect("spawn worker");
        Worker {
            stop,
            thread: Some(thread),
            log,
        }
    }

    /// Stop the worker; Err if it panicked.
    pub fn finish(mut self) -> std::thread::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(Ok(()), |t| t.join())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(ports: &[Arc<VhostUserPort>], stop: &AtomicBool) {
    let mut pool = PacketPool::new();
    let mut out: Vec<Packet> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut idle = true;
        for port in ports {
            let mut batch = Batch::new();
            if port.rx_batch(0, &mut batch, &mut pool) == 0 {
                continue;
            }
            idle = false;
            for dst in ports {
                out.extend(batch.packets.iter().map(|p| {
                    let mut c = pool.get();
                    c.copy_from(p);
                    c
                }));
                dst.tx_batch(0, &mut out, &mut pool);
            }
            pool.put_all(&mut batch.packets);
        }
        if idle {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Record every panic with its thread's name (the ports' threads swallow
/// theirs when joined, so this is how a test sees them).
static PANICS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

pub fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current().name().unwrap_or("?").to_string();
            PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((thread, info.to_string()));
            previous(info);
        }));
    });
}

/// Panics on threads of the device (any port's ring threads, or threads
/// whose name contains `tag`: this test's ports and worker).
pub fn device_panics(tag: &str) -> Vec<(String, String)> {
    PANICS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(t, _)| t.contains(tag) || t == "vring_worker")
        .cloned()
        .collect()
}

/// A broadcast frame of 60 bytes from the guest `src`, numbered `seq`.
pub fn frame(src: u8, seq: u32) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, src]);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes()); // local experimental
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    f
}

/// Whether `f` is a frame [`frame`] made, unharmed.
pub fn is_test_frame(f: &[u8]) -> bool {
    f.len() == 60
        && f[..6] == [0xff; 6]
        && f[12..14] == [0x88, 0xb5]
        && f[18..].iter().all(|&b| b == 0)
}

/// A guest that keeps traffic going: sends a frame per step and takes in
/// what arrived, checking every frame.
#[derive(Debug)]
pub struct Chatter {
    pub guest: guest::Guest,
    src: u8,
    seq: u32,
    /// Frames received so far.
    pub received: u64,
}

impl Chatter {
    pub fn new(guest: guest::Guest, src: u8) -> Self {
        Chatter {
            guest,
            src,
            seq: 0,
            received: 0,
        }
    }

    /// Frames queued for transmission so far.
    pub fn sent(&self) -> u64 {
        u64::from(self.seq)
    }

    pub fn step(&mut self) {
        if self.guest.send(&frame(self.src, self.seq)) {
            self.seq += 1;
        }
        for f in self.guest.recv() {
            assert!(
                is_test_frame(&f),
                "guest {} got a mangled frame {f:02x?}",
                self.src
            );
            self.received += 1;
        }
    }
}

/// Step the chatting guests until `done` (shown them) holds; panics with
/// `what` after [`DEADLINE`].
pub fn pump(
    guests: &mut [&mut Chatter],
    what: &str,
    mut done: impl FnMut(&[&mut Chatter]) -> bool,
) {
    let start = Instant::now();
    loop {
        for g in guests.iter_mut() {
            g.step();
        }
        if done(guests) {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Both directions of `now` ahead of `then`.
pub fn moved(then: &PortStats, now: &PortStats) -> bool {
    now.rx_packets > then.rx_packets && now.tx_packets > then.tx_packets
}

/// A fresh directory for sockets, removed on drop.
pub fn sockets_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("vhost-faults-")
        .tempdir()
        .expect("temporary directory")
}

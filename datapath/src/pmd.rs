//! PMD threads: the threads that run workers, shared by datapaths.
//!
//! Every bridge has its own datapath, and each datapath its workers (own
//! caches, own queues). A [`PmdPool`] lets the datapaths of one switch run
//! their workers on the same threads: worker `i` of every datapath runs on
//! the pool's thread `i`, one turn each in a round. So a switch with two
//! bridges and one worker each polls with one thread, not two spinning
//! ones, and a packet handed from one bridge to another over a link
//! (tunnels) is picked up in the same round by the same thread, with no
//! wake-up and no context switch.
//!
//! A thread adopts workers through its inbox (a datapath starting), drops
//! the ones whose datapath stopped (and says so, so the dpif can wait),
//! and sleeps in epoll on the queues of all its workers after
//! [`IDLE_POLLS_BEFORE_SLEEP`] empty rounds. A datapath started without a
//! pool gets a private one, as many threads as workers.

use crate::worker::{RxqRef, WorkerLoop};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Consecutive empty rounds before a PMD thread goes to sleep.
const IDLE_POLLS_BEFORE_SLEEP: u32 = 2000;
/// Longest sleep: periodic work (ranking, sweeping) still happens.
const MAX_SLEEP: Duration = Duration::from_millis(100);
const WAKER: Token = Token(usize::MAX);

/// What a PMD thread shares with the pool.
struct Inbox {
    adopt: Mutex<Vec<WorkerLoop>>,
    stop: AtomicBool,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

/// One PMD thread, as the pool holds it.
#[derive(Debug)]
pub(crate) struct PmdThread {
    inbox: Arc<Inbox>,
    waker: Arc<Waker>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PmdThread {
    fn spawn(id: usize) -> std::io::Result<PmdThread> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let inbox = Arc::new(Inbox {
            adopt: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let i = inbox.clone();
        let thread = std::thread::Builder::new()
            .name(format!("pmd{id}"))
            .spawn(move || Runner::new(i, poll).run())?;
        Ok(PmdThread {
            inbox,
            waker,
            thread: Some(thread),
        })
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Hand a worker to this thread.
    pub(crate) fn adopt(&self, worker: WorkerLoop) {
        self.inbox
            .adopt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(worker);
        if let Err(e) = self.waker.wake() {
            tracing::warn!("cannot wake a PMD thread: {e}");
        }
    }
}

/// The PMD threads of one switch (see the module essay).
#[derive(Debug, Default)]
pub struct PmdPool {
    threads: Mutex<Vec<PmdThread>>,
}

/// A handle on thread `i` of a pool (valid while the pool lives).
pub(crate) struct PmdRef<'a> {
    pool: &'a PmdPool,
    i: usize,
}

impl PmdRef<'_> {
    pub(crate) fn waker(&self) -> Arc<Waker> {
        let t = self.pool.threads.lock().unwrap_or_else(|e| e.into_inner());
        t[self.i].waker()
    }
    pub(crate) fn adopt(&self, worker: WorkerLoop) {
        let t = self.pool.threads.lock().unwrap_or_else(|e| e.into_inner());
        t[self.i].adopt(worker);
    }
}

impl PmdPool {
    pub fn new() -> Arc<PmdPool> {
        Arc::new(PmdPool::default())
    }

    /// Thread `i`, started (with any before it) if it is not running yet.
    pub(crate) fn thread(&self, i: usize) -> std::io::Result<PmdRef<'_>> {
        let mut t = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        while t.len() <= i {
            let id = t.len();
            t.push(PmdThread::spawn(id)?);
        }
        Ok(PmdRef { pool: self, i })
    }

    /// How many threads run.
    pub fn len(&self) -> usize {
        self.threads.lock().map(|t| t.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for PmdPool {
    fn drop(&mut self) {
        let mut threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in &threads {
            t.inbox.stop.store(true, Ordering::Release);
            let _ = t.waker.wake();
        }
        for t in &mut threads {
            if let Some(h) = t.thread.take() {
                let _ = h.join();
            }
        }
    }
}

/// The loop of one PMD thread.
struct Runner {
    inbox: Arc<Inbox>,
    poll: Poll,
    workers: Vec<WorkerLoop>,
    /// File descriptors registered for sleeping, and for which assignments.
    registered: Vec<RawFd>,
    seen: Vec<usize>,
}

impl Runner {
    fn new(inbox: Arc<Inbox>, poll: Poll) -> Runner {
        Runner {
            inbox,
            poll,
            workers: Vec::new(),
            registered: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let mut idle = 0u32;
        while !self.inbox.stop.load(Ordering::Acquire) {
            self.update_workers();
            let mut got = 0;
            for w in self.workers.iter_mut() {
                got += w.poll_once();
            }
            if got > 0 {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle >= IDLE_POLLS_BEFORE_SLEEP {
                self.sleep(&mut events);
                idle = 0;
            } else {
                std::hint::spin_loop();
            }
        }
        self.update_workers();
        for w in self.workers.drain(..) {
            w.retire();
        }
    }

    /// Adopt new workers; drop (retire) those whose datapath stopped.
    fn update_workers(&mut self) {
        {
            let mut inbox = self.inbox.adopt.lock().unwrap_or_else(|e| e.into_inner());
            self.workers.append(&mut inbox);
        }
        if self.workers.iter().any(WorkerLoop::stopped) {
            let (stopped, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.workers)
                .into_iter()
                .partition(WorkerLoop::stopped);
            self.workers = running;
            for w in stopped {
                w.retire();
            }
        }
    }

    /// Sleep until a queue of any worker has packets, the waker fires (a
    /// command, a new worker, a stop), or the timeout.
    fn sleep(&mut self, events: &mut Events) {
        let assignments: Vec<Arc<Vec<RxqRef>>> =
            self.workers.iter().map(WorkerLoop::assignment).collect();
        let keys: Vec<usize> = assignments
            .iter()
            .map(|a| Arc::as_ptr(a) as usize)
            .collect();
        if keys != self.seen {
            for fd in self.registered.drain(..) {
                let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
            }
            for (i, q) in assignments.iter().flat_map(|a| a.iter()).enumerate() {
                if let Some(fd) = q.port.rx_fd(q.rxq) {
                    if self.registered.contains(&fd) {
                        continue;
                    }
                    match self.poll.registry().register(
                        &mut SourceFd(&fd),
                        Token(i),
                        Interest::READABLE,
                    ) {
                        Ok(()) => self.registered.push(fd),
                        Err(e) => tracing::warn!("cannot sleep on {}: {e}", q.port.name()),
                    }
                }
            }
            self.seen = keys;
        }
        // Ports that keep wake-ups off while polled re-arm them now; one
        // with packets already waiting means no sleep at all.
        let mut waiting = false;
        for q in assignments.iter().flat_map(|a| a.iter()) {
            waiting |= q.port.prepare_sleep(q.rxq);
        }
        if waiting {
            return;
        }
        // A queue without a file descriptor must be polled: nap briefly.
        let all_pollable = assignments
            .iter()
            .flat_map(|a| a.iter())
            .all(|q| q.port.rx_fd(q.rxq).is_some());
        let timeout = if all_pollable {
            MAX_SLEEP
        } else {
            Duration::from_millis(1)
        };
        for w in &self.workers {
            w.note_sleep();
        }
        if let Err(e) = self.poll.poll(events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                tracing::warn!("epoll: {e}");
            }
        }
    }
}

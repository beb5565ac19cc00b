//! Background processes owned by a test.
//!
//! A [`Daemon`] is a child process that dies with the value that owns it: on
//! drop it gets SIGTERM, then SIGKILL if it is still alive after a grace
//! period, and is reaped. The one idea: processes are only ever signalled by
//! the PID the harness itself got from `spawn`, never found by name, so a test
//! cannot kill anything it did not start.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use crate::{Error, Result};

/// How long a daemon gets to exit after SIGTERM before it is SIGKILLed.
pub const TERM_GRACE: Duration = Duration::from_secs(3);

/// A child process killed by PID when dropped.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Option<Child>,
}

impl Daemon {
    /// Takes ownership of `child`; `name` is used in messages.
    pub fn new(name: impl Into<String>, child: Child) -> Self {
        Self {
            name: name.into(),
            child: Some(child),
        }
    }

    /// Starts `cmd` with no input and its output (stdout and stderr) in
    /// the file `log`, as a daemon named `name`.
    pub fn spawn_logged(name: impl Into<String>, mut cmd: Command, log: &Path) -> Result<Self> {
        let io = |what: &str| {
            let what = format!("{what} {}", log.display());
            move |source| Error::Io { what, source }
        };
        let out = File::create(log).map_err(io("creating"))?;
        let err = out
            .try_clone()
            .map_err(io("duplicating the descriptor of"))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            command: format!("{cmd:?}"),
            source,
        })?;
        Ok(Daemon::new(name, child))
    }

    /// The process ID, or `None` once the process was reaped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        child.try_wait().map_err(|source| Error::Io {
            what: format!("waiting for {}", self.name),
            source,
        })
    }

    /// Sends `signal` (by PID) if the process is still running.
    pub fn signal(&mut self, signal: Signal) -> Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        let Some(child) = self.child.as_ref() else {
            return Ok(());
        };
        let pid = Pid::from_child(child);
        kill_process(pid, signal).map_err(|errno| Error::Io {
            what: format!("signalling {} (pid {})", self.name, pid.as_raw_nonzero()),
            source: errno.into(),
        })
    }

    /// Waits up to `timeout` for the process to exit; `None` if it did not.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then SIGKILL after [`TERM_GRACE`]; waits for the exit.
    ///
    /// Returns the exit status and whether SIGKILL was needed.
    pub fn terminate(&mut self) -> Result<(ExitStatus, bool)> {
        self.signal(Signal::TERM)?;
        if let Some(status) = self.wait_timeout(TERM_GRACE)? {
            return Ok((status, false));
        }
        Ok((self.kill()?, true))
    }

    /// SIGKILL and wait for the exit.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        self.signal(Signal::KILL)?;
        self.wait_timeout(Duration::from_secs(10))?
            .ok_or_else(|| Error::Timeout(format!("{} to die after SIGKILL", self.name)))
    }

    /// Waits, without a deadline, for the process to exit by itself.
    pub fn wait(&mut self) -> Result<Option<ExitStatus>> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        child.wait().map(Some).map_err(|source| Error::Io {
            what: format!("waiting for {}", self.name),
            source,
        })
    }

    /// Takes the child out, so that it is no longer killed on drop.
    pub fn into_child(mut self) -> Option<Child> {
        self.child.take()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Taken out by `into_child`: not ours to stop (and `try_wait`
        // would say "running" forever).
        if self.child.is_none() {
            return;
        }
        if let Err(e) = self.terminate() {
            eprintln!("switchd-integration: stopping {}: {e}", self.name);
        }
    }
}

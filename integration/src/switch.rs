//! The switch under test: a real `switchd` process.
//!
//! [`Switch::start`] writes the configuration into a fresh state directory,
//! runs `switchd --config FILE --state-dir DIR` with its output going to
//! `DIR/switchd.log`, and returns once switchd says it forwards, which it does
//! by writing `DIR/switchd.pid`. The one idea: the log is the test's black box
//! recorder. It is printed when the `Switch` is dropped; test runners capture
//! that output and show it only for failing tests, so a failure always comes
//! with the switch's side of the story.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use tempfile::TempDir;

use crate::daemon::Daemon;
use crate::netns::wait_until;
use crate::run::describe;
use crate::topo::base36_pid;
use crate::{Error, Result, PREFIX_FAMILY};

/// How long switchd may take to bring its ports up.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// At most this much of the log's tail is printed on drop.
const LOG_TAIL_BYTES: usize = 64 * 1024;

/// A running switchd; stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Switch {
    daemon: Daemon,
    log_path: PathBuf,
    /// Whether the log was already handed out in an error.
    log_reported: bool,
    /// The command-line arguments after `--config FILE --state-dir DIR`,
    /// kept for [`Switch::restart`].
    extra_args: Vec<String>,
    /// The network namespace switchd runs in (`None`: the test's own).
    netns: Option<String>,
    state_dir: TempDir,
}

impl Switch {
    /// Starts switchd with `config_toml` and waits until it forwards.
    pub fn start(config_toml: &str) -> Result<Self> {
        Self::start_with_args(config_toml, &[])
    }

    /// Like [`Switch::start`], with extra command-line arguments.
    pub fn start_with_args(config_toml: &str, extra_args: &[&str]) -> Result<Self> {
        Self::start_full(config_toml, extra_args, None)
    }

    /// Like [`Switch::start`], inside network namespace `netns` (a
    /// hypervisor of its own: its interfaces, routes and loopback). The
    /// process is still the test's child, stopped by PID.
    pub fn start_in(netns: &str, config_toml: &str) -> Result<Self> {
        Self::start_full(config_toml, &[], Some(netns.to_string()))
    }

    fn start_full(config_toml: &str, extra_args: &[&str], netns: Option<String>) -> Result<Self> {
        let io = |what: String| move |source| Error::Io { what, source };
        // The owner PID in the directory name lets cleanup_stale find a
        // switchd whose test process died without stopping it.
        let state_dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX_FAMILY}{}-switchd-", base36_pid()))
            .tempdir()
            .map_err(io("creating a state directory".into()))?;
        let config_path = state_dir.path().join("switchd.toml");
        std::fs::write(&config_path, config_toml)
            .map_err(io(format!("writing {}", config_path.display())))?;
        let log_path = state_dir.path().join("switchd.log");
        let extra_args: Vec<String> = extra_args.iter().map(|&a| a.to_owned()).collect();
        let child = spawn(
            state_dir.path(),
            &log_path,
            &extra_args,
            netns.as_deref(),
            false,
        )?;
        let mut switch = Self {
            daemon: Daemon::new("switchd", child),
            log_path,
            log_reported: false,
            extra_args,
            netns,
            state_dir,
        };
        switch.wait_ready()?;
        Ok(switch)
    }

    /// Stops switchd like [`Switch::terminate`], then starts a new switchd
    /// on the same state directory (so the same configuration store, and
    /// `vhostuser` sockets at the same paths) with the same arguments, and
    /// waits until it forwards. Its output is appended to the same log.
    ///
    /// Returns how the old process ended (exit status, whether SIGKILL was
    /// needed) and the instant just before the new process was spawned.
    pub fn restart(&mut self) -> Result<(ExitStatus, bool, Instant)> {
        let (status, killed) = self.daemon.terminate()?;
        // A pid file left by a killed switchd must not pass for readiness.
        let _ = std::fs::remove_file(self.pid_file());
        let spawned_at = Instant::now();
        let child = spawn(
            self.state_dir.path(),
            &self.log_path,
            &self.extra_args,
            self.netns.as_deref(),
            true,
        )?;
        // The old Daemon has been reaped; dropping it signals nothing.
        self.daemon = Daemon::new("switchd", child);
        self.wait_ready()?;
        Ok((status, killed, spawned_at))
    }

    fn wait_ready(&mut self) -> Result<()> {
        let pid_file = self.pid_file();
        let mut exited = None;
        let ready = wait_until(READY_TIMEOUT, || {
            if let Ok(Some(status)) = self.daemon.try_wait() {
                exited = Some(status);
                return true;
            }
            std::fs::metadata(&pid_file).is_ok_and(|m| m.len() > 0)
        });
        let reason = match (ready, exited) {
            (true, None) => return Ok(()),
            (_, Some(status)) => format!("switchd exited during start-up: {status}"),
            (false, None) => format!("no {} after {READY_TIMEOUT:?}", pid_file.display()),
        };
        self.log_reported = true;
        Err(Error::SwitchdNotReady {
            reason,
            log: self.log(),
        })
    }

    /// The switchd process ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// The state directory passed as `--state-dir`.
    pub fn state_dir(&self) -> &Path {
        self.state_dir.path()
    }

    /// Where a `vhostuser` port of this switchd listens
    /// (`STATE_DIR/vhost-user/NAME.sock`).
    pub fn vhost_socket(&self, port: &str) -> PathBuf {
        self.state_dir()
            .join("vhost-user")
            .join(format!("{port}.sock"))
    }

    /// Where switchd writes its PID once it forwards.
    pub fn pid_file(&self) -> PathBuf {
        self.state_dir.path().join("switchd.pid")
    }

    /// switchd's stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.daemon.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits up to 3 s for a clean exit, then SIGKILL.
    /// Returns the exit status and whether SIGKILL was needed.
    pub fn terminate(&mut self) -> Result<(ExitStatus, bool)> {
        self.daemon.terminate()
    }

    /// Sends SIGKILL and waits for the process to die.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        self.daemon.kill()
    }

    /// Sends any signal (e.g. SIGHUP) without waiting.
    pub fn signal(&mut self, signal: Signal) -> Result<()> {
        self.daemon.signal(signal)
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Err(e) = self.daemon.terminate() {
            eprintln!("switchd-integration: stopping switchd: {e}");
        }
        if self.log_reported {
            return;
        }
        let log = self.log();
        let tail = match log.len().checked_sub(LOG_TAIL_BYTES) {
            Some(start) => log.get(start..).unwrap_or(&log),
            None => &log,
        };
        eprintln!(
            "---- switchd log ({}) ----\n{tail}---- end of switchd log ----",
            self.log_path.display()
        );
    }
}

/// Starts `switchd --config DIR/switchd.toml --state-dir DIR EXTRA...` with
/// stdout and stderr going to `log_path` (appended to when `append`).
fn spawn(
    state_dir: &Path,
    log_path: &Path,
    extra_args: &[String],
    netns: Option<&str>,
    append: bool,
) -> Result<Child> {
    let binary = switchd_binary()?;
    let io = |what: String| move |source| Error::Io { what, source };
    let log = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(log_path)
        .map_err(io(format!("creating {}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(io("duplicating the log fd".into()))?;
    // `ip netns exec` execs the program: the child's PID is switchd's.
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(&binary);
            c
        }
        None => Command::new(&binary),
    };
    cmd.arg("--config")
        .arg(state_dir.join("switchd.toml"))
        .arg("--state-dir")
        .arg(state_dir)
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    cmd.spawn().map_err(|source| Error::Spawn {
        command: describe(&cmd),
        source,
    })
}

/// Finds the switchd binary: `$SWITCHD_BIN`, else next to the running test
/// binary (same target directory and profile), else `target/{debug,release}`
/// under `$CARGO_TARGET_DIR` or the workspace root.
pub fn switchd_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("SWITCHD_BIN") {
        return Ok(PathBuf::from(path));
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // Test binaries live in <target>/<profile>/deps/.
        if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
            candidates.push(profile_dir.join("switchd"));
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let targets = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([workspace.join("target")]);
    for target in targets {
        candidates.push(target.join("debug/switchd"));
        candidates.push(target.join("release/switchd"));
    }
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or(Error::SwitchdMissing { looked: candidates })
}

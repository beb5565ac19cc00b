//! Virtual machines: QEMU guests whose only NIC is a vhost-user port of the
//! switch under test.
//!
//! A [`Vm`] is a `qemu-system-x86_64` process (TCG, no KVM needed) booting a
//! stock Debian kernel with a tiny busybox initramfs (built and cached by
//! `integration/vm/build-image.sh`, see [`image`]). The guest's `eth0` is a
//! virtio-net device whose backend is switchd: QEMU either connects to a
//! socket switchd listens on (switchd port type `vhostuser`,
//! [`VhostUser::Connect`]) or listens itself and switchd connects
//! (`vhostuserclient`, [`VhostUser::Listen`]).
//!
//! The one idea: **the serial console is the remote shell.** QEMU's serial
//! port is its stdin and stdout; the guest runs a shell on it that neither
//! echoes nor prompts. [`Vm::run`] writes a command framed by two `echo`s
//! carrying a per-command id and the command's exit status, and a reader
//! thread timestamps every console line as it arrives, so a test gets a
//! command's output, its status and *when* each line appeared (which is how
//! an outage is measured from the outside: see [`ConsoleLine::at`]).
//!
//! Ownership follows the rest of the harness: QEMU is killed by the PID the
//! harness got from `spawn` when the [`Vm`] is dropped, its directory
//! (console log, QEMU's stderr, a listening socket) is named after the test
//! process and removed with it, and the console log is printed on drop so a
//! failing test shows the guest's side. VMs are slow under TCG on two cores,
//! so tests that boot them hold a machine-wide [`VmSlot`] to run one at a
//! time.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};
use tempfile::TempDir;

use crate::daemon::Daemon;
use crate::run::{describe, find_in_path};
use crate::topo::{base36_pid, owner_pid};
use crate::{Error, Result, PREFIX_FAMILY};

/// The QEMU binary.
const QEMU: &str = "qemu-system-x86_64";

/// What the guest prints once its shell reads commands.
const READY_MARKER: &str = "SWITCHD-VM-READY";

/// How long a guest may take to boot (TCG on a busy two-core machine).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// Guest RAM in MiB; also the size of the shared memfd backend.
const MEMORY_MIB: u32 = 128;

/// At most this much of the console log's tail is printed on drop.
const LOG_TAIL_BYTES: usize = 16 * 1024;

/// Set (to anything) to make [`image_or_skip`] fail instead of skipping.
pub const REQUIRE_ENV: &str = "SWITCHD_IT_REQUIRE_VM";

/// The guest kernel and initramfs.
#[derive(Debug, Clone)]
pub struct VmImage {
    /// The kernel (`vmlinuz`).
    pub kernel: PathBuf,
    /// The initramfs (`initramfs.cpio.gz`).
    pub initrd: PathBuf,
}

/// Where the cached image lives: `$SWITCHD_VM_IMAGE_DIR`, else
/// `switchd-test-vm` in the cargo target directory the test runs from.
pub fn image_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SWITCHD_VM_IMAGE_DIR") {
        return PathBuf::from(dir);
    }
    // Test binaries live in <target>/<profile>/deps/.
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf))?
    });
    let target = from_exe
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("switchd-test-vm")
}

/// The guest image, built on first use in this process by
/// `integration/vm/build-image.sh` (which itself does nothing when its
/// cache in [`image_dir`] is current). The error is the script's message.
pub fn image() -> Result<VmImage, String> {
    static IMAGE: OnceLock<Result<VmImage, String>> = OnceLock::new();
    IMAGE.get_or_init(build_image).clone()
}

fn build_image() -> Result<VmImage, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/build-image.sh");
    let dir = image_dir();
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(&dir);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", describe(&cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(VmImage {
        kernel: dir.join("vmlinuz"),
        initrd: dir.join("initramfs.cpio.gz"),
    })
}

/// Why VM tests cannot run here, if they cannot: the reasons of
/// [`crate::unavailable`], no QEMU (Debian package `qemu-system-x86`), or
/// the guest image cannot be built.
pub fn unavailable() -> Option<String> {
    if let Some(reason) = crate::unavailable() {
        return Some(reason.to_owned());
    }
    if find_in_path(QEMU).is_none() {
        return Some(format!(
            "{QEMU} is not installed (Debian package qemu-system-x86)"
        ));
    }
    image()
        .err()
        .map(|e| format!("cannot build the guest image: {e}"))
}

/// The image, or `Ok(None)` after printing why VM tests cannot run here.
/// With [`REQUIRE_ENV`] set, "cannot run" is an error instead (for CI,
/// where a silently skipped test would hide a broken environment).
pub fn image_or_skip() -> Result<Option<VmImage>> {
    match unavailable() {
        None => image().map(Some).map_err(|e| Error::Io {
            what: e,
            source: std::io::Error::other("guest image"),
        }),
        Some(reason) if std::env::var_os(REQUIRE_ENV).is_some() => Err(Error::Io {
            what: format!("VM tests cannot run: {reason}"),
            source: std::io::Error::other(format!("{REQUIRE_ENV} is set")),
        }),
        Some(reason) => {
            eprintln!("skipping: {reason}");
            Ok(None)
        }
    }
}

/// A machine-wide lock held by a test while its VMs run, so that VM tests
/// (each booting guests under TCG) run one at a time whatever the test
/// runner's parallelism. Released when dropped.
#[derive(Debug)]
pub struct VmSlot {
    _file: File,
}

impl VmSlot {
    /// Waits for the lock (there is no deadline: the holder is a test with
    /// its own timeouts).
    pub fn acquire() -> Result<Self> {
        let path = std::env::temp_dir().join("switchd-integration-vm.lock");
        let io = |source| Error::Io {
            what: format!("locking {}", path.display()),
            source,
        };
        let file = File::create(&path).map_err(io)?;
        file.lock().map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// How the guest's NIC reaches switchd.
#[derive(Debug, Clone)]
pub enum VhostUser {
    /// QEMU connects to `path`, where switchd listens (port type
    /// `vhostuser`), and reconnects every second when the connection drops.
    Connect(PathBuf),
    /// QEMU listens on a socket in the VM's directory ([`Vm::socket`]) and
    /// switchd connects (port type `vhostuserclient`). QEMU does not start
    /// the guest until the first connection.
    Listen,
}

/// What to boot.
#[derive(Debug, Clone)]
pub struct VmSpec {
    /// Short name: lowercase letters and digits.
    pub name: String,
    /// `eth0`'s address, e.g. `10.0.0.1/24`.
    pub ip_cidr: String,
    /// `eth0`'s MAC, e.g. `52:54:00:00:00:01`.
    pub mac: String,
    /// The NIC's backend.
    pub vhost_user: VhostUser,
}

impl VmSpec {
    /// A guest `name` with `eth0` at `ip_cidr`/`mac` on `vhost_user`.
    pub fn new(name: &str, ip_cidr: &str, mac: &str, vhost_user: VhostUser) -> Self {
        Self {
            name: name.to_owned(),
            ip_cidr: ip_cidr.to_owned(),
            mac: mac.to_owned(),
            vhost_user,
        }
    }
}

/// One line the guest printed on its console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleLine {
    /// When the harness read the line's end from QEMU.
    pub at: Instant,
    /// The line, without its line ending.
    pub text: String,
}

/// What a command run in the guest printed, and how it ended.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// The shell's `$?` after the command.
    pub status: i32,
    /// stdout and stderr, line by line, interleaved as the guest wrote them.
    pub lines: Vec<ConsoleLine>,
}

impl CommandOutput {
    /// The output as text, one `\n` after each line.
    pub fn text(&self) -> String {
        self.lines.iter().map(|l| format!("{}\n", l.text)).collect()
    }

    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// The console as lines, fed by the reader thread.
#[derive(Debug, Default)]
struct ConsoleState {
    lines: Vec<ConsoleLine>,
    partial: Vec<u8>,
    /// QEMU's stdout is closed: nothing more will come.
    closed: bool,
}

#[derive(Debug, Default)]
struct Console {
    state: Mutex<ConsoleState>,
    changed: Condvar,
}

impl Console {
    fn lock(&self) -> MutexGuard<'_, ConsoleState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn feed(&self, bytes: &[u8]) {
        let now = Instant::now();
        let mut state = self.lock();
        for &b in bytes {
            if b == b'\n' {
                let raw = std::mem::take(&mut state.partial);
                let text = String::from_utf8_lossy(&raw).replace('\r', "");
                state.lines.push(ConsoleLine { at: now, text });
            } else {
                state.partial.push(b);
            }
        }
        drop(state);
        self.changed.notify_all();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Calls `check` on all lines whenever they change until it returns
    /// `Some`, the deadline passes or the console closes (`None`).
    fn wait_for<T>(
        &self,
        deadline: Instant,
        mut check: impl FnMut(&[ConsoleLine]) -> Option<T>,
    ) -> Option<T> {
        let mut state = self.lock();
        loop {
            if let Some(found) = check(&state.lines) {
                return Some(found);
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A running guest; QEMU is killed (by PID) when dropped.
#[derive(Debug)]
pub struct Vm {
    name: String,
    qemu: Daemon,
    stdin: Mutex<ChildStdin>,
    console: Arc<Console>,
    reader: Option<JoinHandle<()>>,
    next_id: AtomicU64,
    socket: Option<PathBuf>,
    dir: TempDir,
}

/// A command started with [`Vm::start`] and not yet finished.
#[derive(Debug)]
pub struct Running<'a> {
    vm: &'a Vm,
    id: u64,
    command: String,
    /// Console lines before this index predate the command.
    from: usize,
}

impl Vm {
    /// Starts QEMU for `spec` and returns at once; see [`Vm::wait_ready`].
    pub fn spawn(image: &VmImage, spec: &VmSpec) -> Result<Self> {
        static CLEANUP: Once = Once::new();
        CLEANUP.call_once(cleanup_stale_vms);
        let valid_name = !spec.name.is_empty()
            && spec.name.len() <= 16
            && spec
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid_name {
            return Err(Error::Invalid {
                what: "VM name (up to 16 lowercase letters and digits)",
                value: spec.name.clone(),
            });
        }
        let io = |what: String| move |source| Error::Io { what, source };
        // Named like the harness's other objects, so the owner's PID can be
        // read back (see cleanup_stale_vms).
        let qemu_name = format!("{PREFIX_FAMILY}{}-vm-{}", base36_pid(), spec.name);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{qemu_name}-"))
            .tempdir()
            .map_err(io("creating a VM directory".into()))?;
        let console_log = dir.path().join("console.log");
        let mut log = File::create(&console_log)
            .map_err(io(format!("creating {}", console_log.display())))?;
        let qemu_err = dir.path().join("qemu.err");
        let err_file =
            File::create(&qemu_err).map_err(io(format!("creating {}", qemu_err.display())))?;

        let (chardev, socket) = match &spec.vhost_user {
            VhostUser::Connect(path) => (
                format!("socket,id=vu0,path={},reconnect=1", path.display()),
                None,
            ),
            VhostUser::Listen => {
                let path = dir.path().join("vhost.sock");
                let chardev = format!("socket,id=vu0,path={},server=on,wait=off", path.display());
                (chardev, Some(path))
            }
        };
        let mut cmd = Command::new(QEMU);
        cmd.args(["-name", &qemu_name])
            .args(["-machine", "pc", "-accel", "tcg", "-smp", "1"])
            .args(["-m", &format!("{MEMORY_MIB}M")])
            // vhost-user needs guest RAM the backend can map: a shared memfd.
            .args([
                "-object",
                &format!("memory-backend-memfd,id=mem0,size={MEMORY_MIB}M,share=on"),
                "-numa",
                "node,memdev=mem0",
            ])
            .args(["-nodefaults", "-no-user-config", "-nographic", "-no-reboot"])
            .args(["-monitor", "none", "-serial", "stdio"])
            .arg("-kernel")
            .arg(&image.kernel)
            .arg("-initrd")
            .arg(&image.initrd)
            .args([
                "-append",
                &format!(
                    "console=ttyS0 panic=-1 quiet sw.name={} sw.ip={}",
                    spec.name, spec.ip_cidr
                ),
            ])
            .args([
                "-chardev",
                &chardev,
                "-netdev",
                "vhost-user,id=net0,chardev=vu0",
            ])
            // vectors=0: QEMU 7.2 under TCG crashes setting up MSI-X
            // notifiers for vhost-user; INTx works. romfile=: no iPXE ROM.
            .args([
                "-device",
                &format!(
                    "virtio-net-pci,netdev=net0,mac={},vectors=0,romfile=",
                    spec.mac
                ),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err_file);
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            command: describe(&cmd),
            source,
        })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let qemu = Daemon::new(format!("qemu {}", spec.name), child);
        let (Some(stdin), Some(mut stdout)) = (stdin, stdout) else {
            return Err(Error::Io {
                what: format!("QEMU {} has no stdin/stdout pipe", spec.name),
                source: std::io::Error::other("missing pipe"),
            });
        };

        let console = Arc::new(Console::default());
        let feed = console.clone();
        let reader = std::thread::Builder::new()
            .name(format!("vm-{}-console", spec.name))
            .spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match stdout.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let bytes = &buf[..n];
                            let _ = log.write_all(bytes);
                            feed.feed(bytes);
                        }
                    }
                }
                feed.close();
            })
            .map_err(io("starting a console reader thread".into()))?;
        Ok(Self {
            name: spec.name.clone(),
            qemu,
            stdin: Mutex::new(stdin),
            console,
            reader: Some(reader),
            next_id: AtomicU64::new(1),
            socket,
            dir,
        })
    }

    /// Spawns all of `specs` at once (they boot in parallel) and waits
    /// until every one is ready. Only for guests whose vhost-user peer is
    /// already there: a [`VhostUser::Listen`] guest waits for switchd.
    pub fn boot_all(image: &VmImage, specs: &[VmSpec]) -> Result<Vec<Self>> {
        let vms = specs
            .iter()
            .map(|spec| Self::spawn(image, spec))
            .collect::<Result<Vec<_>>>()?;
        for vm in &vms {
            vm.wait_ready(BOOT_TIMEOUT)?;
        }
        Ok(vms)
    }

    /// Waits until the guest's shell reads commands. Returns the boot time
    /// (since this call; use right after spawning).
    pub fn wait_ready(&self, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        let ready = self.console.wait_for(start + timeout, |lines| {
            lines
                .iter()
                .any(|l| l.text.contains(READY_MARKER))
                .then_some(())
        });
        match ready {
            Some(()) => Ok(start.elapsed()),
            None => Err(Error::Timeout(format!(
                "VM {} to boot within {timeout:?} (no console output at all means QEMU \
                 still waits for its vhost-user peer){}",
                self.name,
                self.diagnostics()
            ))),
        }
    }

    /// The guest's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The QEMU process ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.qemu.pid()
    }

    /// The socket QEMU listens on ([`VhostUser::Listen`]), to give switchd
    /// as `vhost-server-path`.
    pub fn socket(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// The directory holding `console.log` and `qemu.err`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a one-line shell `command` in the guest and waits up to
    /// `timeout` for it to finish.
    pub fn run(&self, command: &str, timeout: Duration) -> Result<CommandOutput> {
        self.start(command)?.wait(timeout)
    }

    /// Like [`Vm::run`], but fails unless the command exits with status 0.
    pub fn run_ok(&self, command: &str, timeout: Duration) -> Result<CommandOutput> {
        let out = self.run(command, timeout)?;
        if !out.success() {
            return Err(Error::Parse {
                what: "guest command",
                output: format!(
                    "`{command}` in VM {} exited with {}:\n{}",
                    self.name,
                    out.status,
                    out.text()
                ),
            });
        }
        Ok(out)
    }

    /// Writes a one-line shell `command` to the guest's shell and returns
    /// without waiting. The command must not read stdin (the shell reads
    /// the next command from the same console).
    pub fn start(&self, command: &str) -> Result<Running<'_>> {
        if command.contains('\n') {
            return Err(Error::Invalid {
                what: "guest command (one line)",
                value: command.to_owned(),
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let from = self.console.lock().lines.len();
        // The quotes split the markers so that, were the console to echo
        // input, the echoed line would not look like the marker.
        let script = format!("echo '@@BEG''IN:{id}'\n{command}\necho \"@@E\"\"ND:{id}:$?\"\n");
        self.write_console(script.as_bytes())?;
        Ok(Running {
            vm: self,
            id,
            command: command.to_owned(),
            from,
        })
    }

    /// Sends Ctrl-C: SIGINT to the guest's foreground command.
    pub fn interrupt(&self) -> Result<()> {
        self.write_console(b"\x03")
    }

    fn write_console(&self, bytes: &[u8]) -> Result<()> {
        let mut stdin = self.stdin.lock().unwrap_or_else(PoisonError::into_inner);
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .map_err(|source| Error::Io {
                what: format!("writing to VM {}'s console", self.name),
                source,
            })
    }

    /// Everything the guest printed so far.
    pub fn console_log(&self) -> String {
        std::fs::read(self.dir.path().join("console.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The tails of the console log and QEMU's stderr, for error messages.
    fn diagnostics(&self) -> String {
        let console = self.console_log();
        let qemu_err = std::fs::read(self.dir.path().join("qemu.err"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        format!(
            "\n---- VM {} console (tail) ----\n{}\n---- QEMU stderr ----\n{}",
            self.name,
            tail(&console, LOG_TAIL_BYTES),
            tail(&qemu_err, LOG_TAIL_BYTES)
        )
    }
}

impl Running<'_> {
    /// The command's output lines so far (from its start marker on).
    pub fn lines(&self) -> Vec<ConsoleLine> {
        let state = self.vm.console.lock();
        let (lines, _) = self.frame(&state.lines);
        lines.to_vec()
    }

    /// Waits up to `timeout` until `check` holds for the output so far;
    /// returns whether it did.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[ConsoleLine]) -> bool,
    ) -> bool {
        self.vm
            .console
            .wait_for(Instant::now() + timeout, |lines| {
                check(self.frame(lines).0).then_some(())
            })
            .is_some()
    }

    /// Waits up to `timeout` for the command to finish.
    pub fn wait(self, timeout: Duration) -> Result<CommandOutput> {
        let done =
            self.vm
                .console
                .wait_for(Instant::now() + timeout, |lines| match self.frame(lines) {
                    (output, Some(status)) => Some(CommandOutput {
                        status,
                        lines: output.to_vec(),
                    }),
                    (_, None) => None,
                });
        done.ok_or_else(|| {
            Error::Timeout(format!(
                "`{}` in VM {} to finish within {timeout:?}{}",
                self.command,
                self.vm.name,
                self.vm.diagnostics()
            ))
        })
    }

    /// This command's frame in the console lines after its start.
    fn frame<'l>(&self, lines: &'l [ConsoleLine]) -> (&'l [ConsoleLine], Option<i32>) {
        command_frame(lines.get(self.from..).unwrap_or_default(), self.id)
    }
}

/// The output lines between command `id`'s markers in `lines` (as far as
/// they arrived), and its exit status once its end marker arrived.
fn command_frame(lines: &[ConsoleLine], id: u64) -> (&[ConsoleLine], Option<i32>) {
    let begin = format!("@@BEGIN:{id}");
    let Some(start) = lines
        .iter()
        .position(|l| marker_at(&l.text, &begin).is_some())
    else {
        return (&[], None);
    };
    let output = &lines[start + 1..];
    let end = format!("@@END:{id}:");
    for (i, line) in output.iter().enumerate() {
        if let Some(at) = line.text.find(&end) {
            let rest = &line.text[at + end.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(status) = digits.parse() {
                return (&output[..i], Some(status));
            }
        }
    }
    (output, None)
}

/// The position of `marker` in `text` when not followed by another digit
/// (so `@@BEGIN:1` does not match `@@BEGIN:12`).
fn marker_at(text: &str, marker: &str) -> Option<usize> {
    let at = text.find(marker)?;
    let next = text[at + marker.len()..].chars().next();
    (!next.is_some_and(|c| c.is_ascii_digit())).then_some(at)
}

/// The last `max` bytes of `text` (on a character boundary).
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Err(e) = self.qemu.terminate() {
            eprintln!("switchd-integration: stopping QEMU {}: {e}", self.name);
        }
        // QEMU is gone, so its stdout is closed and the reader ends.
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        eprintln!("{}\n---- end of VM {} ----", self.diagnostics(), self.name);
    }
}

/// Kills QEMUs that a test process which no longer exists started (their
/// `-name` is a harness name carrying the owner's PID); their directories
/// go with [`crate::cleanup_stale`]. Called once per process before the
/// first VM starts.
pub fn cleanup_stale_vms() {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let is_qemu = args.first().is_some_and(|a| a.ends_with(QEMU.as_bytes()));
        let name = args
            .windows(2)
            .find(|w| w[0] == b"-name")
            .and_then(|w| std::str::from_utf8(w[1]).ok());
        let stale = name.is_some_and(|n| {
            n.contains("-vm-")
                && owner_pid(PREFIX_FAMILY, n)
                    .is_some_and(|owner| !Path::new("/proc").join(owner.to_string()).exists())
        });
        if is_qemu && stale {
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = kill_process(pid, Signal::KILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> ConsoleLine {
        ConsoleLine {
            at: Instant::now(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn console_splits_lines_and_drops_carriage_returns() {
        let console = Console::default();
        console.feed(b"boot\r\nhal");
        console.feed(b"f\r\n");
        let state = console.lock();
        let texts: Vec<&str> = state.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["boot", "half"]);
        assert!(state.partial.is_empty());
    }

    #[test]
    fn markers_do_not_match_longer_ids() {
        assert_eq!(marker_at("@@BEGIN:1", "@@BEGIN:1"), Some(0));
        assert_eq!(marker_at("@@BEGIN:12", "@@BEGIN:1"), None);
        assert_eq!(marker_at("# @@BEGIN:1 ", "@@BEGIN:1"), Some(2));
    }

    #[test]
    fn tail_keeps_char_boundaries() {
        assert_eq!(tail("abc", 10), "abc");
        assert_eq!(tail("abcdé", 1), "");
        assert_eq!(tail("abcdé", 2), "é");
    }

    #[test]
    fn frame_finds_output_and_status() {
        let lines = [
            line("noise"),
            line("@@BEGIN:3"),
            line("out 1"),
            line("out 2"),
            line("@@END:3:7"),
            line("@@BEGIN:4"),
        ];
        let texts = |l: &[ConsoleLine]| l.iter().map(|l| l.text.clone()).collect::<Vec<_>>();
        let (output, status) = command_frame(&lines, 3);
        assert_eq!(texts(output), ["out 1", "out 2"]);
        assert_eq!(status, Some(7));
        let (output, status) = command_frame(&lines, 4);
        assert!(output.is_empty());
        assert_eq!(status, None);
    }
}

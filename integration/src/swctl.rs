//! swctl, the operator's CLI, pointed at one switchd of a test.
//!
//! Helpers for tests: a verb that must succeed returns its output (or its
//! `--json` parsed), one that must fail returns its message; either way a
//! surprise panics with the whole exchange, as a test assertion does.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::switch::{switchd_binary, Switch};

/// The swctl binary: `$SWCTL_BIN`, else next to switchd.
pub fn swctl_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SWCTL_BIN") {
        return PathBuf::from(p);
    }
    let switchd = switchd_binary().expect("switchd binary (build the workspace first)");
    let swctl = switchd.with_file_name("swctl");
    assert!(
        swctl.is_file(),
        "{} not found; run `cargo build -p switchd-ctl` or set SWCTL_BIN",
        swctl.display()
    );
    swctl
}

/// swctl pointed at one switchd.
#[derive(Debug)]
pub struct Swctl {
    pub bin: PathBuf,
    pub socket: PathBuf,
}

impl Swctl {
    /// swctl for `switch` (its API socket in its state directory).
    pub fn for_switch(switch: &Switch) -> Swctl {
        Swctl {
            bin: swctl_binary(),
            socket: switch.state_dir().join("switchd.sock"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--server")
            .arg(&self.socket)
            .args(args)
            .env_remove("SWITCHD_SOCKET")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running swctl")
    }

    /// Runs a verb that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "swctl {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `swctl --json ARGS`, parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("swctl {args:?}: {e}: {text}"))
    }

    /// Runs a verb that must fail with `code`; returns its stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "swctl {args:?} should exit {code}; stdout:\n{}stderr:\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        // swctl's own messages start "swctl: ", clap's usage errors "error: ".
        assert!(
            stderr.starts_with("swctl: ") || stderr.starts_with("error: "),
            "{stderr}"
        );
        stderr
    }

    /// `tnl/show`'s counters (translation's and the datapath's tunnel
    /// drops, by reason).
    pub fn tunnel_counters(&self) -> Value {
        self.json(&["tnl/show"])["counters"].clone()
    }

    /// Wait up to 5 s until counter `reason` is above its value in
    /// `before` (a packet just sent was counted); panics if it is not.
    pub fn wait_tunnel_count_above(&self, reason: &str, before: &Value) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = self.tunnel_counters();
            if now[reason].as_u64() > before[reason].as_u64() {
                return;
            }
            assert!(Instant::now() < deadline, "{reason} not counted: {now}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

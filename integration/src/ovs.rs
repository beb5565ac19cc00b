//! Open vSwitch as a peer: ovsdb-server and ovs-vswitchd with the userspace
//! (`netdev`) datapath, inside a host's namespace, in a private directory.
//!
//! The one idea: Open vSwitch is the reference the tests compare switchd
//! with (the far end of a GENEVE or GRE tunnel, which this kernel cannot
//! be), so it runs exactly as its users run it, but owns nothing outside
//! its temporary directory and namespace: both daemons are children of
//! the test, killed by PID when [`Ovs`] is dropped, their sockets and
//! database in the directory, their interfaces in the namespace.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::daemon::Daemon;
use crate::host::Host;
use crate::netns::wait_until;
use crate::run::checked;
use crate::{Error, Result};

const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// Whether Open vSwitch's daemons and schema are installed.
pub fn ovs_available() -> bool {
    Path::new(SCHEMA).exists()
        && crate::run::find_in_path("ovs-vswitchd").is_some()
        && crate::run::find_in_path("ovsdb-server").is_some()
}

/// A running Open vSwitch in a host's namespace.
#[derive(Debug)]
pub struct Ovs {
    // Dropped first: the switch before its database.
    _vswitchd: Daemon,
    _ovsdb: Daemon,
    dir: TempDir,
}

impl Ovs {
    /// Start ovsdb-server and ovs-vswitchd inside `host`.
    pub fn start(host: &Host) -> Result<Ovs> {
        let dir = tempfile::Builder::new()
            .prefix("switchd-ovs-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating Open vSwitch's directory".into(),
                source,
            })?;
        let d = dir.path();
        let db = d.join("conf.db");
        checked(
            Command::new("ovsdb-tool")
                .arg("create")
                .arg(&db)
                .arg(SCHEMA),
        )?;
        let sock = d.join("db.sock");
        let ovsdb = spawn(
            host,
            d,
            &[
                "ovsdb-server",
                &db.to_string_lossy(),
                &format!("--remote=punix:{}", sock.display()),
                &format!("--unixctl={}", d.join("ovsdb.ctl").display()),
                &format!("--log-file={}", d.join("ovsdb.log").display()),
                "-vconsole:off",
            ],
        )?;
        if !wait_until(Duration::from_secs(10), || sock.exists()) {
            return Err(Error::Invalid {
                what: "ovsdb-server socket",
                value: sock.display().to_string(),
            });
        }
        let ovs = |args: &[&str]| -> Result<String> {
            let mut cmd = Command::new("ovs-vsctl");
            cmd.arg(format!("--db=unix:{}", sock.display()))
                .arg("--no-wait")
                .args(args);
            checked(&mut cmd)
        };
        ovs(&["init"])?;
        let vswitchd = spawn(
            host,
            d,
            &[
                "ovs-vswitchd",
                &format!("unix:{}", sock.display()),
                &format!("--unixctl={}", d.join("vswitchd.ctl").display()),
                &format!("--log-file={}", d.join("vswitchd.log").display()),
                "-vconsole:off",
            ],
        )?;
        let ctl = d.join("vswitchd.ctl");
        if !wait_until(Duration::from_secs(10), || ctl.exists()) {
            return Err(Error::Invalid {
                what: "ovs-vswitchd control socket",
                value: ctl.display().to_string(),
            });
        }
        Ok(Ovs {
            _vswitchd: vswitchd,
            _ovsdb: ovsdb,
            dir,
        })
    }

    /// Run `ovs-vsctl ARGS` (waiting for ovs-vswitchd to apply them).
    pub fn vsctl(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new("ovs-vsctl");
        cmd.arg(format!(
            "--db=unix:{}",
            self.dir.path().join("db.sock").display()
        ))
        .arg("--timeout=20")
        .args(args);
        checked(&mut cmd)
    }

    /// Run `ovs-appctl ARGS` against ovs-vswitchd.
    pub fn appctl(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new("ovs-appctl");
        cmd.arg("-t")
            .arg(self.dir.path().join("vswitchd.ctl"))
            .args(args);
        checked(&mut cmd)
    }

    /// An ovs-ofctl client of `bridge` (its management socket).
    pub fn ofctl(&self, bridge: &str) -> Result<crate::ofctl::Ofctl> {
        crate::ofctl::Ofctl::unix(&self.dir.path().join(format!("{bridge}.mgmt")))
    }

    /// ovs-vswitchd's log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vswitchd.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// Start `argv` inside `host` with Open vSwitch's directories set to `dir`.
fn spawn(host: &Host, dir: &Path, argv: &[&str]) -> Result<Daemon> {
    let mut cmd = host.command(argv);
    for var in ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"] {
        cmd.env(var, dir);
    }
    host.spawn_command(cmd, argv[0])
}

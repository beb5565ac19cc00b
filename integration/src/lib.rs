//! End-to-end test harness for switchd, in the spirit of Mininet.
//!
//! A test builds a small network out of real kernel objects and a real
//! switch process:
//!
//! * a **host** is a network namespace with one interface, `eth0`, holding an
//!   IPv4 address;
//! * a **link** is a veth pair: one end is the host's `eth0`, the other stays in
//!   the root namespace and becomes a switch port;
//! * the **switch** is the `switchd` binary, started with a TOML configuration
//!   that names those root-namespace ports.
//!
//! Everything is created by shelling out to `ip` (iproute2), so a failing test
//! can be reproduced by hand with the same commands, and nothing here needs
//! `unsafe`.
//!
//! The one idea to understand: **every kernel object is named after the process
//! that made it.** A [`Topo`] gets a prefix such as `swt00a1b2` (the family
//! [`PREFIX_FAMILY`], the creating PID in base 36, a per-process counter), and all
//! its namespaces, interfaces and state directories carry it. Two tests never
//! collide, even when run in parallel by different processes, and
//! [`cleanup_stale`] can remove what a crashed run left behind by checking
//! whether the PID in the name is still alive, without ever touching anything a
//! live test owns. Normal cleanup is RAII: dropping a [`Topo`], a [`Switch`] or a
//! [`Daemon`] removes what it made, also while a test is panicking.
//!
//! A typical test:
//!
//! ```no_run
//! use switchd_integration::{BridgeConfig, PortType, Switch, Topo};
//!
//! # fn main() -> Result<(), switchd_integration::Error> {
//! let Some(mut topo) = Topo::new_or_skip()? else { return Ok(()) };
//! let a = topo.add_host("a", "10.0.0.1/24")?;
//! let b = topo.add_host("b", "10.0.0.2/24")?;
//! let config = BridgeConfig::new("br0").ports([&a, &b], PortType::AfPacket);
//! let _switch = Switch::start(&config.to_toml())?;
//! assert!(a.ping(b.ip(), 3)?.all_received());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod capture;
mod config;
pub mod craft;
mod daemon;
mod host;
mod iperf;
mod netns;
pub mod ofctl;
pub mod ovs;
mod run;
pub mod swctl;
mod switch;
mod topo;
pub mod vm;

use std::path::PathBuf;

pub use capture::{raw_frames, tshark_fields, Capture};
pub use config::{BridgeConfig, FailMode, PortConfig, PortType};
pub use daemon::{Daemon, TERM_GRACE};
pub use host::{ping_all, Host, PairPing, PingRtt, PingStats};
pub use iperf::{IperfServer, IPERF3_PORT};
pub use netns::{cleanup_stale, link_exists, xdp_attached};
pub use run::ip;
pub use switch::{switchd_binary, Switch};
pub use topo::{Topo, PREFIX_FAMILY};

/// Why a harness operation failed.
///
/// Its `Debug` form is its message plus the chain of causes, because that is
/// what the test runner prints when a test returns `Err`.
#[derive(thiserror::Error)]
pub enum Error {
    /// A command could not be started at all (missing binary, bad path).
    #[error("cannot run `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    /// A command ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    /// A file-system or process operation failed.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A host name or address the harness cannot use.
    #[error("invalid {what}: {value:?}")]
    Invalid { what: &'static str, value: String },
    /// The `switchd` binary was not found.
    #[error("switchd binary not found (looked at {looked:?}); run `cargo build -p switchd-ctl` or set SWITCHD_BIN")]
    SwitchdMissing { looked: Vec<PathBuf> },
    /// switchd did not become ready; `log` holds its output so far.
    #[error("switchd not ready: {reason}\n---- switchd log ----\n{log}")]
    SwitchdNotReady { reason: String, log: String },
    /// A tool printed output the harness could not understand.
    #[error("cannot parse {what} output: {output}")]
    Parse { what: &'static str, output: String },
    /// Something did not happen within its deadline.
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Shorthand for results of harness operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why these tests cannot run on this machine, if they cannot: they need root
/// (namespaces, veths, XDP) and iproute2's `ip`.
pub fn unavailable() -> Option<&'static str> {
    if !rustix::process::geteuid().is_root() {
        return Some("not running as root");
    }
    if run::find_in_path("ip").is_none() {
        return Some("`ip` (iproute2) is not installed");
    }
    None
}

//! vhost-user virtio-net ports: how virtual machines attach to the switch.
//!
//! A VM's QEMU (or any virtio-net driver, DPDK's virtio-user included)
//! shares its memory with switchd over a vhost-user Unix socket and hands
//! over its virtqueues; switchd then plays the virtio-net *device*: it
//! takes the frames the guest queued for transmission and fills the
//! buffers the guest offered for reception, directly in guest memory.
//!
//! The crate is three layers, each testable alone:
//! - [`net`] and [`ring`]: the device logic, without I/O. Feature bits,
//!   the virtio-net header (shared with AF_PACKET and tap through
//!   `datapath::netdev::afpacket::vnet`), and the split-ring walk that
//!   turns descriptor chains into datapath packets and back, checking every
//!   guest address (a misbehaving guest is an error value, never a panic).
//! - [`backend`] and [`conn`]: the vhost-user protocol, run by the rust-vmm
//!   `vhost-user-backend` framework on one connection thread per port (plus
//!   the framework's ring thread, which only forwards kicks).
//! - [`port`]: the datapath [`Port`](datapath::netdev::Port). The
//!   datapath's workers poll the guest's rings in batches, like any other
//!   port's queues, and sleep on an eventfd the kicks poke.
//!
//! The one idea: guest memory and rings belong to a connection, not to the
//! port. The port outlives any number of guests (restarts, reconnects,
//! faults), and each connection starts from a clean device.
//!
//! Both socket roles exist: [`VhostUserPort::server`] (Open vSwitch's
//! `dpdkvhostuser`, switchd listens) and [`VhostUserPort::client`]
//! (`dpdkvhostuserclient`: the guest's QEMU listens, switchd connects and
//! reconnects).

#![forbid(unsafe_code)]

pub mod backend;
pub mod conn;
pub mod ctrl;
pub mod mem_table;
pub mod net;
pub mod port;
pub mod relay;
pub mod ring;
pub mod socket_file;

pub use port::VhostUserPort;
pub use ring::GuestError;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors opening a vhost-user port.
#[derive(Debug, thiserror::Error)]
pub enum VhostError {
    #[error("cannot listen on {path}")]
    Listen {
        path: PathBuf,
        #[source]
        source: vhost::vhost_user::Error,
    },
    #[error("cannot set up port {port}")]
    Setup {
        port: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid option: {0}")]
    Option(String),
    #[error(transparent)]
    SocketPath(#[from] socket_file::SocketPathError),
}

/// Device settings of a vhost-user port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VhostUserOptions {
    /// The MAC address the guest is told (None: derived from the name).
    pub mac: Option<[u8; 6]>,
    /// The MTU the guest is told.
    pub mtu: u16,
    /// Queue pairs offered (1..=[`port::MAX_QUEUE_PAIRS`]); the datapath
    /// polls one receive queue per pair.
    pub queue_pairs: u16,
}

impl Default for VhostUserOptions {
    fn default() -> Self {
        VhostUserOptions {
            mac: None,
            mtu: 1500,
            queue_pairs: 1,
        }
    }
}

impl VhostUserOptions {
    /// Parse "aa:bb:cc:dd:ee:ff".
    pub fn parse_mac(s: &str) -> Result<[u8; 6], VhostError> {
        let bad = || VhostError::Option(format!("mac {s}"));
        let mut mac = [0u8; 6];
        let mut parts = s.split(':');
        for b in mac.iter_mut() {
            *b = u8::from_str_radix(parts.next().ok_or_else(bad)?, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(mac)
    }
}

impl VhostUserPort {
    /// A port whose socket switchd listens on (`type=vhostuser`). A stale
    /// socket at `socket_path` is replaced; anything else there is refused
    /// and left alone. The socket file goes with the port.
    pub fn server(
        name: &str,
        socket_path: &Path,
        opts: VhostUserOptions,
    ) -> Result<VhostUserPort, VhostError> {
        socket_file::make_room(socket_path)?;
        let listener = vhost::vhost_user::Listener::new(socket_path, false).map_err(|source| {
            VhostError::Listen {
                path: socket_path.to_path_buf(),
                source,
            }
        })?;
        let file = socket_file::SocketFile::bound(socket_path)?;
        tracing::info!(port = name, socket = %socket_path.display(), "vhost-user server port listening");
        let mut port = Self::start(name, opts, "vhostuser", conn::Role::Server(listener))?;
        port.socket = Some(file);
        Ok(port)
    }

    /// A port that connects to the guest's socket (`type=vhostuserclient`)
    /// and reconnects whenever the connection is lost.
    pub fn client(
        name: &str,
        server_path: &Path,
        opts: VhostUserOptions,
    ) -> Result<VhostUserPort, VhostError> {
        Self::start(
            name,
            opts,
            "vhostuserclient",
            conn::Role::Client(server_path.to_path_buf()),
        )
    }

    fn start(
        name: &str,
        opts: VhostUserOptions,
        kind: &'static str,
        role: conn::Role,
    ) -> Result<VhostUserPort, VhostError> {
        let setup = |source| VhostError::Setup {
            port: name.to_string(),
            source,
        };
        let mac = opts.mac.unwrap_or_else(|| net::mac_from_name(name));
        if !(1..=port::MAX_QUEUE_PAIRS).contains(&opts.queue_pairs) {
            return Err(VhostError::Option(format!(
                "queue pairs {} (1..={})",
                opts.queue_pairs,
                port::MAX_QUEUE_PAIRS
            )));
        }
        let shared =
            Arc::new(port::Shared::new(name, mac, opts.mtu, opts.queue_pairs).map_err(setup)?);
        let thread = std::thread::Builder::new()
            .name(format!("vhost-{name}"))
            .spawn({
                let shared = shared.clone();
                move || conn::run(shared, role)
            })
            .map_err(setup)?;
        Ok(VhostUserPort {
            shared,
            kind,
            thread: Some(thread),
            socket: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_option_parses() {
        assert_eq!(
            VhostUserOptions::parse_mac("02:aa:00:00:00:0f").unwrap(),
            [2, 0xaa, 0, 0, 0, 15]
        );
        assert!(VhostUserOptions::parse_mac("02:aa:00").is_err());
        assert!(VhostUserOptions::parse_mac("02:aa:00:00:00:0f:01").is_err());
        assert!(VhostUserOptions::parse_mac("zz:aa:00:00:00:0f").is_err());
    }
}

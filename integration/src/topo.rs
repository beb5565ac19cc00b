//! Topologies: a set of hosts, each wired to one root-namespace port.
//!
//! A [`Topo`] owns every namespace and veth pair it creates and removes them
//! when dropped. Its prefix names them all: namespace `<prefix>-<host>`, switch
//! port `<prefix><host>` (at most 15 bytes, the kernel's limit). The prefix is
//! [`PREFIX_FAMILY`] + the test process's PID in five base-36 digits + one
//! per-process counter digit, so the owner of any leftover can be read back
//! from its name (see [`crate::cleanup_stale`]).
//!
//! A `Topo` also holds one of a few machine-wide *slots* (lock files) for its
//! lifetime, so that however the tests are run (threads of one `cargo test`
//! binary, processes of `cargo nextest`, or both), at most
//! `SWITCHD_IT_JOBS` (default 2) topologies exist at once on this machine.

use std::fs::File;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::Duration;

use crate::host::Host;
use crate::run::ip;
use crate::{netns, unavailable, Error, Result};

/// The first letters of every kernel object the harness names.
pub const PREFIX_FAMILY: &str = "swt";

/// Base-36 digits used for the owner PID in a prefix.
const PID_DIGITS: usize = 5;

/// How long a topology waits for a free machine-wide slot.
const SLOT_TIMEOUT: Duration = Duration::from_secs(600);

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// A test network: hosts in namespaces, their switch-side veth ends in the
/// root namespace. Dropping it deletes all of them.
#[derive(Debug)]
pub struct Topo {
    prefix: String,
    namespaces: Vec<String>,
    links: Vec<String>,
    _slot: File,
}

impl Topo {
    /// A fresh, empty topology with a prefix unique on this machine.
    ///
    /// The first call in a process removes stale leftovers of crashed runs.
    pub fn new() -> Result<Self> {
        static CLEANUP: Once = Once::new();
        CLEANUP.call_once(|| {
            let removed = netns::cleanup_stale(PREFIX_FAMILY);
            if removed > 0 {
                eprintln!("switchd-integration: removed {removed} stale objects");
            }
        });
        let slot = acquire_slot()?;
        Ok(Self {
            prefix: unique_prefix()?,
            namespaces: Vec::new(),
            links: Vec::new(),
            _slot: slot,
        })
    }

    /// Like [`Topo::new`], but `Ok(None)` (after printing why) when this
    /// machine cannot run namespace tests: not root, or no iproute2.
    pub fn new_or_skip() -> Result<Option<Self>> {
        if let Some(reason) = unavailable() {
            eprintln!("skipping: {reason}");
            return Ok(None);
        }
        Self::new().map(Some)
    }

    /// The prefix of every object this topology names, e.g. `swt00a1b2`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Adds host `name` with address `ip_cidr` (e.g. `10.0.0.1/24`) on its
    /// `eth0`, linked to a new root-namespace port `<prefix><name>`.
    /// Both ends are up; offloads and MTU are the kernel's defaults.
    pub fn add_host(&mut self, name: &str, ip_cidr: &str) -> Result<Host> {
        let port = format!("{}{name}", self.prefix);
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid_name || port.len() > IFNAME_MAX {
            return Err(Error::Invalid {
                what: "host name (lowercase letters and digits, short enough for the port name)",
                value: name.to_owned(),
            });
        }
        let (addr, prefix_len) = parse_cidr(ip_cidr)?;
        let ns = format!("{}-{name}", self.prefix);

        netns::create(&ns)?;
        self.namespaces.push(ns.clone());
        // The host end is born inside the namespace as `eth0`, so no
        // temporary name in the root namespace can clash.
        ip(&[
            "link", "add", "name", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ])?;
        self.links.push(port.clone());
        ip(&["-n", &ns, "addr", "add", ip_cidr, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "dev", "eth0", "up"])?;
        ip(&["link", "set", "dev", &port, "up"])?;
        Ok(Host::new(name, ns, port, addr, prefix_len))
    }

    /// Adds hosts `h1`..`h<count>` numbered into `subnet` (e.g. `10.0.0.0/24`
    /// gives `h1` 10.0.0.1/24, `h2` 10.0.0.2/24, ...).
    pub fn add_hosts(&mut self, count: u8, subnet: &str) -> Result<Vec<Host>> {
        let (base, len) = parse_cidr(subnet)?;
        (1..=count)
            .map(|i| {
                let addr = Ipv4Addr::from(u32::from(base).wrapping_add(u32::from(i)));
                self.add_host(&format!("h{i}"), &format!("{addr}/{len}"))
            })
            .collect()
    }

    /// Joins the ports of `hosts` with a Linux kernel bridge named
    /// `<prefix>kbr` instead of switchd: a reference to compare the switch
    /// against, and a check of the harness itself.
    pub fn add_kernel_bridge<'a>(
        &mut self,
        hosts: impl IntoIterator<Item = &'a Host>,
    ) -> Result<String> {
        let bridge = format!("{}kbr", self.prefix);
        ip(&["link", "add", "name", &bridge, "type", "bridge"])?;
        self.links.push(bridge.clone());
        for host in hosts {
            ip(&["link", "set", "dev", host.port(), "master", &bridge])?;
        }
        ip(&["link", "set", "dev", &bridge, "up"])?;
        Ok(bridge)
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        for ns in self.namespaces.drain(..).rev() {
            netns::delete(&ns);
        }
        for link in self.links.drain(..) {
            if netns::link_exists(&link) {
                netns::delete_link(&link);
            }
        }
    }
}

/// Parses `a.b.c.d/len`.
fn parse_cidr(cidr: &str) -> Result<(Ipv4Addr, u8)> {
    let invalid = || Error::Invalid {
        what: "IPv4 address/prefix",
        value: cidr.to_owned(),
    };
    let (addr, len) = cidr.split_once('/').ok_or_else(invalid)?;
    let addr = addr.parse().map_err(|_| invalid())?;
    let len = len.parse().ok().filter(|&l| l <= 32).ok_or_else(invalid)?;
    Ok((addr, len))
}

/// Writes `value` in base 36, lowercase, zero-padded to `width` digits.
fn base36(mut value: u32, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        let d = (value % 36) as u8;
        *slot = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        value /= 36;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// This process's PID as it appears in harness names.
pub(crate) fn base36_pid() -> String {
    base36(std::process::id(), PID_DIGITS)
}

/// A prefix no live object uses: family + owner PID + counter digit.
fn unique_prefix() -> Result<String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let owner = base36_pid();
    let existing = netns::list();
    for _ in 0..36 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) % 36;
        let prefix = format!("{PREFIX_FAMILY}{owner}{}", base36(n, 1));
        let taken = existing.iter().any(|ns| ns.starts_with(&prefix))
            || netns::list_links()?.iter().any(|l| l.starts_with(&prefix));
        if !taken {
            return Ok(prefix);
        }
    }
    Err(Error::Timeout("a free topology prefix (36 in use)".into()))
}

/// The PID that created the object `name`, if `name` is a harness name of
/// `family`.
pub(crate) fn owner_pid(family: &str, name: &str) -> Option<u32> {
    let digits = name.strip_prefix(family)?.get(..PID_DIGITS)?;
    u32::from_str_radix(digits, 36).ok()
}

/// Takes one of `SWITCHD_IT_JOBS` machine-wide lock files, waiting for one to
/// free up. The lock is released when the returned file is closed.
fn acquire_slot() -> Result<File> {
    let jobs: usize = std::env::var("SWITCHD_IT_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2);
    let dir = std::env::temp_dir();
    let deadline = std::time::Instant::now() + SLOT_TIMEOUT;
    loop {
        for i in 0..jobs {
            let path = dir.join(format!("switchd-integration-slot-{i}.lock"));
            let file = File::create(&path).map_err(|source| Error::Io {
                what: format!("creating {}", path.display()),
                source,
            })?;
            if file.try_lock().is_ok() {
                return Ok(file);
            }
        }
        if std::time::Instant::now() >= deadline {
            return Err(Error::Timeout(format!(
                "one of {jobs} topology slots (SWITCHD_IT_JOBS); does this test hold two topologies?"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_round_trips_through_a_prefix() {
        let prefix = format!("{PREFIX_FAMILY}{}7", base36(4_194_304, PID_DIGITS));
        assert_eq!(prefix.len(), 9);
        assert_eq!(owner_pid(PREFIX_FAMILY, &prefix), Some(4_194_304));
        assert_eq!(
            owner_pid(PREFIX_FAMILY, &format!("{prefix}-a")),
            Some(4_194_304)
        );
        assert_eq!(owner_pid(PREFIX_FAMILY, "eth0"), None);
        assert_eq!(owner_pid(PREFIX_FAMILY, "swt!!"), None);
    }

    #[test]
    fn cidr_parsing() {
        assert_eq!(
            parse_cidr("10.0.0.1/24").ok(),
            Some((Ipv4Addr::new(10, 0, 0, 1), 24))
        );
        assert!(parse_cidr("10.0.0.1").is_err());
        assert!(parse_cidr("10.0.0.1/33").is_err());
    }
}

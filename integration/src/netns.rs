//! Network namespaces and links, through iproute2.
//!
//! This is the thin layer over `ip`: create and delete namespaces and veth
//! pairs, list what exists, and ask whether an XDP program sits on an
//! interface. The one idea: deleting a namespace first kills, by PID, every
//! process still inside it (`ip netns pids`), because a process keeps its
//! namespace alive and a leftover `iperf3 -s` would otherwise outlive the test.

use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use crate::run::{ip, ip_quiet};
use crate::topo::owner_pid;
use crate::Result;

/// Where iproute2 keeps named network namespaces.
const NETNS_DIR: &str = "/var/run/netns";

/// Creates the named namespace and brings its loopback up.
pub(crate) fn create(ns: &str) -> Result<()> {
    ip(&["netns", "add", ns])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    Ok(())
}

/// Kills every process in `ns` and deletes it; best effort, never fails.
pub(crate) fn delete(ns: &str) {
    if let Ok(pids) = ip(&["netns", "pids", ns]) {
        for pid in pids.split_whitespace().filter_map(|p| p.parse().ok()) {
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = kill_process(pid, Signal::KILL);
            }
        }
    }
    ip_quiet(&["netns", "del", ns]);
}

/// Deletes a root-namespace link (and so its veth peer); best effort.
pub(crate) fn delete_link(name: &str) {
    ip_quiet(&["link", "del", "dev", name]);
}

/// Names of all named network namespaces.
pub(crate) fn list() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Names of all links in the root namespace.
pub(crate) fn list_links() -> Result<Vec<String>> {
    let out = ip(&["-o", "link", "show"])?;
    // Lines look like `12: name@peer: <FLAGS> ...`.
    Ok(out
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_owned())
        .collect())
}

/// Whether a link of that name exists in the root namespace.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Whether an XDP program is attached to the root-namespace interface `name`
/// (any mode: native, generic, offload), as `ip link show` reports it.
pub fn xdp_attached(name: &str) -> Result<bool> {
    let out = ip(&["-o", "link", "show", "dev", name])?;
    Ok(out
        .split_whitespace()
        .any(|token| token.starts_with("xdp") || token.starts_with("prog/xdp")))
}

/// Waits until `pred` holds, polling every 50 ms, for at most `timeout`.
pub(crate) fn wait_until(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pred() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes what crashed earlier runs left behind: switchd processes,
/// namespaces, root-namespace links and state directories whose names start
/// with `family` and whose owning test process (the PID encoded in the name)
/// no longer exists.
///
/// Objects of live test processes are never touched, so this is safe to call
/// while other tests run. Returns how many objects were removed.
pub fn cleanup_stale(family: &str) -> usize {
    let stale = |name: &str| match owner_pid(family, name) {
        Some(pid) => !Path::new("/proc").join(pid.to_string()).exists(),
        None => false,
    };
    let mut removed = 0;
    for pid in stale_switchd_pids(family, &stale) {
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = kill_process(pid, Signal::KILL);
            removed += 1;
        }
    }
    for ns in list().into_iter().filter(|ns| stale(ns)) {
        delete(&ns);
        removed += 1;
    }
    for link in list_links().unwrap_or_default() {
        if stale(&link) {
            delete_link(&link);
            removed += 1;
        }
    }
    // switchd state directories (config, log) of dead test processes.
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            if name
                .to_str()
                .is_some_and(|n| n.starts_with(family) && stale(n))
                && std::fs::remove_dir_all(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// PIDs of processes started with `--state-dir DIR` where DIR's file name is
/// a stale harness name (switchd instances a killed test could not stop).
fn stale_switchd_pids(family: &str, stale: &dyn Fn(&str) -> bool) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let state_dir = args
            .windows(2)
            .find(|w| w[0] == b"--state-dir")
            .and_then(|w| std::str::from_utf8(w[1]).ok());
        let Some(dir_name) = state_dir
            .and_then(|d| Path::new(d).file_name())
            .and_then(|n| n.to_str())
        else {
            continue;
        };
        if dir_name.starts_with(family) && stale(dir_name) {
            pids.push(pid);
        }
    }
    pids
}

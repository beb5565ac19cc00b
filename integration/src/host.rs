//! Hosts: network namespaces with one interface, and what a test does in them.
//!
//! A [`Host`] is a cheap handle (names and an address); the namespace itself
//! belongs to the [`crate::Topo`] that made it. Commands run inside with
//! `ip netns exec`, which `exec`s the program in place, so the PID a
//! [`Daemon`] holds is the program's own and killing it by PID works.

use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::Daemon;
use crate::run::{checked, describe, ip, output};
use crate::{Error, Result};

/// One end host of a topology.
#[derive(Debug, Clone)]
pub struct Host {
    name: String,
    netns: String,
    port: String,
    ip: Ipv4Addr,
    prefix_len: u8,
}

/// What `ping` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingStats {
    /// Echo requests sent.
    pub transmitted: u32,
    /// Echo replies received.
    pub received: u32,
}

/// What `ping` reported, with round trips in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PingRtt {
    pub stats: PingStats,
    pub avg_ms: f64,
    pub max_ms: f64,
}

impl PingStats {
    /// Every request got its reply (and at least one was sent).
    pub fn all_received(&self) -> bool {
        self.transmitted > 0 && self.received == self.transmitted
    }

    /// Lost requests in percent, 0 to 100.
    pub fn loss_percent(&self) -> f64 {
        if self.transmitted == 0 {
            return 100.0;
        }
        100.0 * f64::from(self.transmitted - self.received.min(self.transmitted))
            / f64::from(self.transmitted)
    }
}

impl Host {
    pub(crate) fn new(name: &str, netns: String, port: String, ip: Ipv4Addr, len: u8) -> Self {
        Self {
            name: name.to_owned(),
            netns,
            port,
            ip,
            prefix_len: len,
        }
    }

    /// The short name given to [`crate::Topo::add_host`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The network namespace, `<prefix>-<name>`.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The switch-side interface in the root namespace, `<prefix><name>`:
    /// the name to put in a switch configuration.
    pub fn port(&self) -> &str {
        &self.port
    }

    /// The address of `eth0`.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The prefix length of `eth0`'s address.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// A command that runs `argv` inside this host, not yet started.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns]).args(argv);
        cmd
    }

    /// Runs `argv` inside this host and returns its output, whatever its exit
    /// status.
    pub fn exec(&self, argv: &[&str]) -> Result<Output> {
        output(&mut self.command(argv))
    }

    /// Runs `argv` inside this host; fails unless it succeeds. Returns stdout.
    pub fn exec_ok(&self, argv: &[&str]) -> Result<String> {
        checked(&mut self.command(argv))
    }

    /// Starts `argv` inside this host in the background, output discarded.
    /// The process is killed by PID when the returned [`Daemon`] is dropped.
    pub fn spawn(&self, argv: &[&str]) -> Result<Daemon> {
        self.spawn_command(self.command(argv), &argv.join(" "))
    }

    /// Starts `cmd` (from [`Host::command`], perhaps with its environment
    /// set) in the background, output discarded, killed by PID on drop.
    pub fn spawn_command(&self, mut cmd: Command, what: &str) -> Result<Daemon> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            command: describe(&cmd),
            source,
        })?;
        Ok(Daemon::new(format!("`{what}` in {}", self.name), child))
    }

    /// Sends `count` echo requests 0.2 s apart and reports what came back.
    pub fn ping(&self, dst: Ipv4Addr, count: u32) -> Result<PingStats> {
        let dst = dst.to_string();
        let count = count.to_string();
        let out = self.exec(&[
            "ping", "-n", "-q", "-c", &count, "-i", "0.2", "-W", "1", &dst,
        ])?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        parse_ping(&stdout).ok_or_else(|| Error::Parse {
            what: "ping",
            output: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
        })
    }

    /// Sends `count` echo requests `interval` seconds apart with TOS byte
    /// `tos` (`"0xb8"` for DSCP EF, `"0"` for none) and reports what came
    /// back and the round trips (`f64::MAX` when none did).
    pub fn ping_rtt(
        &self,
        dst: Ipv4Addr,
        count: u32,
        interval: &str,
        tos: &str,
    ) -> Result<PingRtt> {
        let (dst, count) = (dst.to_string(), count.to_string());
        let out = self.exec(&[
            "ping", "-n", "-q", "-Q", tos, "-c", &count, "-i", interval, "-W", "1", &dst,
        ])?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stats = parse_ping(&stdout).ok_or_else(|| Error::Parse {
            what: "ping",
            output: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
        })?;
        // "rtt min/avg/max/mdev = 0.051/0.145/1.971/0.336 ms"
        let rtt: Vec<f64> = stdout
            .lines()
            .find(|l| l.starts_with("rtt "))
            .and_then(|l| l.split(" = ").nth(1))
            .map(|v| {
                v.trim_end_matches(" ms")
                    .split('/')
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        Ok(PingRtt {
            stats,
            avg_ms: rtt.get(1).copied().unwrap_or(f64::MAX),
            max_ms: rtt.get(2).copied().unwrap_or(f64::MAX),
        })
    }

    /// Pings `dst` once a second until one reply comes back or `timeout`
    /// passes: a warm-up that lets ARP and MAC learning settle.
    pub fn wait_reachable(&self, dst: Ipv4Addr, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let dst = dst.to_string();
        while Instant::now() < deadline {
            let out = self.exec(&["ping", "-n", "-q", "-c", "1", "-W", "1", &dst])?;
            if out.status.success() {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(false)
    }

    /// Turns transmit checksum offload (and with it TSO) on or off on `eth0`,
    /// as `ethtool -K eth0 tx on|off`.
    pub fn set_tx_offload(&self, on: bool) -> Result<()> {
        let state = if on { "on" } else { "off" };
        self.exec_ok(&["ethtool", "-K", "eth0", "tx", state])?;
        Ok(())
    }

    /// Sets the MTU on both ends of this host's link.
    pub fn set_mtu(&self, mtu: u32) -> Result<()> {
        let mtu = mtu.to_string();
        ip(&["-n", &self.netns, "link", "set", "dev", "eth0", "mtu", &mtu])?;
        ip(&["link", "set", "dev", &self.port, "mtu", &mtu])?;
        Ok(())
    }

    /// The MAC address of `eth0`, as `aa:bb:cc:dd:ee:ff`.
    pub fn mac(&self) -> Result<String> {
        let out = ip(&["-n", &self.netns, "-o", "link", "show", "dev", "eth0"])?;
        ether_in(&out).map(str::to_owned).ok_or(Error::Parse {
            what: "ip link",
            output: out.clone(),
        })
    }
}

/// The address after `link/ether` in `ip -o link show` output.
pub(crate) fn ether_in(out: &str) -> Option<&str> {
    let mut tokens = out.split_whitespace();
    tokens.find(|&t| t == "link/ether").and(tokens.next())
}

/// The outcome of pinging from one host to another.
#[derive(Debug, Clone)]
pub struct PairPing {
    /// Name of the pinging host.
    pub from: String,
    /// Name of the pinged host.
    pub to: String,
    /// What came back.
    pub stats: PingStats,
}

/// Mininet's `pingall`: for every ordered pair of distinct hosts, a warm-up
/// ping (up to `warm_up` until one reply) and then `count` pings 0.2 s apart.
/// Returns every pair's result, in order.
pub fn ping_all(hosts: &[Host], count: u32, warm_up: Duration) -> Result<Vec<PairPing>> {
    let mut results = Vec::new();
    for from in hosts {
        for to in hosts.iter().filter(|to| to.netns != from.netns) {
            from.wait_reachable(to.ip, warm_up)?;
            results.push(PairPing {
                from: from.name.clone(),
                to: to.name.clone(),
                stats: from.ping(to.ip, count)?,
            });
        }
    }
    Ok(results)
}

/// Extracts transmitted/received from ping's summary line
/// (`3 packets transmitted, 3 received, 0% packet loss, time 402ms`).
fn parse_ping(stdout: &str) -> Option<PingStats> {
    let line = stdout.lines().find(|l| l.contains("packets transmitted"))?;
    let mut parts = line.split(',');
    let number = |part: Option<&str>| part?.split_whitespace().next()?.parse().ok();
    Some(PingStats {
        transmitted: number(parts.next())?,
        received: number(parts.next())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_summary_is_parsed() {
        let out =
            "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n\n--- 10.0.0.2 ping statistics ---\n\
                   3 packets transmitted, 2 received, 33.3333% packet loss, time 402ms\n";
        let stats = parse_ping(out).expect("parses");
        assert_eq!(
            stats,
            PingStats {
                transmitted: 3,
                received: 2
            }
        );
        assert!(!stats.all_received());
        assert!((stats.loss_percent() - 33.33).abs() < 0.01);
        let errors = "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms";
        assert_eq!(parse_ping(errors).map(|s| s.received), Some(0));
        assert_eq!(parse_ping("connect: Network is unreachable"), None);
    }
}

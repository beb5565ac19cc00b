//! TCP throughput between hosts with iperf3.
//!
//! The one idea: the server must be listening before the client starts, and a
//! broken datapath must fail the test, not hang it. So the server is polled
//! with `ss` until its socket is in LISTEN, and the client runs under
//! coreutils' `timeout` with a connect timeout of its own; the rate comes from
//! iperf3's JSON report (`-J`), never from its human-readable output.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::daemon::Daemon;
use crate::host::Host;
use crate::netns::wait_until;
use crate::{Error, Result};

/// The TCP port iperf3 listens on unless told otherwise.
pub const IPERF3_PORT: u16 = 5201;

/// A running `iperf3 -s` inside a host; stopped when dropped.
#[derive(Debug)]
pub struct IperfServer {
    ip: Ipv4Addr,
    port: u16,
    _daemon: Daemon,
}

impl IperfServer {
    /// The address clients connect to.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The TCP port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Host {
    /// Starts `iperf3 -s` on this host's address and waits until it listens.
    pub fn iperf3_server(&self) -> Result<IperfServer> {
        let port = IPERF3_PORT;
        let ip = self.ip().to_string();
        let port_arg = port.to_string();
        let daemon = self.spawn(&["iperf3", "-s", "-B", &ip, "-p", &port_arg])?;
        let filter = format!("sport = :{port}");
        let listening = wait_until(Duration::from_secs(5), || {
            self.exec_ok(&["ss", "-H", "-l", "-t", "-n", &filter])
                .is_ok_and(|out| !out.trim().is_empty())
        });
        if !listening {
            return Err(Error::Timeout(format!(
                "iperf3 -s to listen in {}",
                self.name()
            )));
        }
        Ok(IperfServer {
            ip: self.ip(),
            port,
            _daemon: daemon,
        })
    }

    /// Runs a TCP iperf3 client for `seconds` against `server` and returns the
    /// receiver's rate in Gbit/s.
    pub fn iperf3_client(&self, server: &IperfServer, seconds: u32) -> Result<f64> {
        let limit = (seconds + 20).to_string();
        let out = self.exec(&[
            "timeout",
            "-k",
            "2",
            &limit,
            "iperf3",
            "-J",
            "--connect-timeout",
            "3000",
            "-c",
            &server.ip().to_string(),
            "-p",
            &server.port().to_string(),
            "-t",
            &seconds.to_string(),
        ])?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let rate = parse_iperf3_json(&stdout);
        if !out.status.success() || rate.is_err() {
            return Err(Error::Parse {
                what: "iperf3 -J",
                output: format!(
                    "exit {}: {}{}",
                    out.status,
                    stdout,
                    String::from_utf8_lossy(&out.stderr)
                ),
            });
        }
        rate
    }
}

/// The receiver's rate in Gbit/s from an `iperf3 -J` TCP report.
fn parse_iperf3_json(json: &str) -> Result<f64> {
    let parse_error = || Error::Parse {
        what: "iperf3 -J",
        output: json.to_owned(),
    };
    let report: serde_json::Value = serde_json::from_str(json).map_err(|_| parse_error())?;
    if let Some(err) = report.get("error").and_then(|e| e.as_str()) {
        return Err(Error::Parse {
            what: "iperf3 -J (error reported)",
            output: err.to_owned(),
        });
    }
    report
        .pointer("/end/sum_received/bits_per_second")
        .and_then(|v| v.as_f64())
        .map(|bps| bps / 1e9)
        .ok_or_else(parse_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_comes_from_sum_received() {
        let json = r#"{"start":{},"intervals":[],"end":{
            "sum_sent":{"bits_per_second":2.5e9,"retransmits":3},
            "sum_received":{"bits_per_second":2.4e9}}}"#;
        let rate = parse_iperf3_json(json).expect("parses");
        assert!((rate - 2.4).abs() < 1e-9);
    }

    #[test]
    fn reported_errors_surface() {
        let json = r#"{"start":{},"intervals":[],"end":{},
            "error":"unable to connect to server: Connection refused"}"#;
        let err = parse_iperf3_json(json).expect_err("must fail");
        assert!(err.to_string().contains("Connection refused"));
        assert!(parse_iperf3_json("not json").is_err());
    }
}

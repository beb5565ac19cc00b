//! Controller targets: the `tcp:`, `ssl:`, `ptcp:` and `pssl:` strings that
//! say where the switch finds its controllers.
//!
//! The syntax is Open vSwitch's, so configurations carry over unchanged:
//!
//! - `tcp:HOST[:PORT]`, `ssl:HOST[:PORT]`: the switch connects out (active).
//!   HOST is a name or an address; an IPv6 address goes in brackets
//!   (`tcp:[::1]:6653`).
//! - `ptcp:[PORT][:IP]`, `pssl:[PORT][:IP]`: the switch listens (passive),
//!   on every address unless IP is given (`ptcp:6653:127.0.0.1`).
//!
//! PORT defaults to 6653, the IANA port for OpenFlow. Port 0 on a passive
//! target asks the kernel for an ephemeral port (tests use it; the bound
//! address shows in [`Controllers::status`](super::Controllers::status)).
//!
//! The one idea: a [`Target`] is a value (hashable, comparable, printable
//! back to the same string), so changing the controller list at run time is
//! a set difference: targets present in both lists keep their connections.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The IANA port for OpenFlow (both plain and TLS).
pub const DEFAULT_PORT: u16 = 6653;

/// Where to find a controller.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `tcp:HOST:PORT`: connect out over plain TCP.
    Tcp { host: String, port: u16 },
    /// `ssl:HOST:PORT`: connect out over TLS with mutual authentication.
    Ssl { host: String, port: u16 },
    /// `ptcp:PORT:IP`: listen for controllers over plain TCP.
    PTcp { port: u16, ip: IpAddr },
    /// `pssl:PORT:IP`: listen for controllers over TLS.
    PSsl { port: u16, ip: IpAddr },
}

impl Target {
    /// Whether the switch listens (`ptcp`, `pssl`) rather than connects.
    pub fn is_passive(&self) -> bool {
        matches!(self, Target::PTcp { .. } | Target::PSsl { .. })
    }

    /// Whether the transport is TLS (`ssl`, `pssl`).
    pub fn is_tls(&self) -> bool {
        matches!(self, Target::Ssl { .. } | Target::PSsl { .. })
    }
}

/// Why a target string did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("unknown controller target method in {0:?} (expected tcp:, ssl:, ptcp: or pssl:)")]
    Method(String),
    #[error("missing host in controller target {0:?}")]
    MissingHost(String),
    #[error("bad port {port:?} in controller target {target:?}")]
    Port { target: String, port: String },
    #[error("bad IP address {ip:?} in controller target {target:?}")]
    Ip { target: String, ip: String },
    #[error("unterminated '[' in controller target {0:?}")]
    Bracket(String),
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Target, TargetError> {
        let (method, rest) = s
            .split_once(':')
            .ok_or_else(|| TargetError::Method(s.to_string()))?;
        match method {
            "tcp" | "ssl" => {
                let (host, port) = split_host(s, rest)?;
                if host.is_empty() {
                    return Err(TargetError::MissingHost(s.to_string()));
                }
                let port = parse_port(s, port)?;
                Ok(if method == "tcp" {
                    Target::Tcp { host, port }
                } else {
                    Target::Ssl { host, port }
                })
            }
            "ptcp" | "pssl" => {
                let (port, ip) = match rest.split_once(':') {
                    Some((port, ip)) => (port, Some(ip)),
                    None => (rest, None),
                };
                let port = parse_port(s, (!port.is_empty()).then_some(port))?;
                let ip = match ip {
                    None | Some("") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    Some(ip) => parse_ip(s, ip)?,
                };
                Ok(if method == "ptcp" {
                    Target::PTcp { port, ip }
                } else {
                    Target::PSsl { port, ip }
                })
            }
            _ => Err(TargetError::Method(s.to_string())),
        }
    }
}

/// Split `HOST[:PORT]` where HOST may be a bracketed IPv6 address.
fn split_host<'a>(target: &str, rest: &'a str) -> Result<(String, Option<&'a str>), TargetError> {
    if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| TargetError::Bracket(target.to_string()))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| TargetError::Port {
                target: target.to_string(),
                port: p.to_string(),
            })?),
        };
        return Ok((host.to_string(), port));
    }
    Ok(match rest.split_once(':') {
        Some((host, port)) => (host.to_string(), Some(port)),
        None => (rest.to_string(), None),
    })
}

fn parse_port(target: &str, port: Option<&str>) -> Result<u16, TargetError> {
    match port {
        None => Ok(DEFAULT_PORT),
        Some(p) => p.parse().map_err(|_| TargetError::Port {
            target: target.to_string(),
            port: p.to_string(),
        }),
    }
}

fn parse_ip(target: &str, ip: &str) -> Result<IpAddr, TargetError> {
    let bare = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    bare.parse().map_err(|_| TargetError::Ip {
        target: target.to_string(),
        ip: ip.to_string(),
    })
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn host(h: &str) -> String {
            if h.parse::<Ipv6Addr>().is_ok() {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        }
        fn ip(ip: &IpAddr) -> String {
            match ip {
                IpAddr::V4(a) => a.to_string(),
                IpAddr::V6(a) => format!("[{a}]"),
            }
        }
        match self {
            Target::Tcp { host: h, port } => write!(f, "tcp:{}:{port}", host(h)),
            Target::Ssl { host: h, port } => write!(f, "ssl:{}:{port}", host(h)),
            Target::PTcp { port, ip: a } => write!(f, "ptcp:{port}:{}", ip(a)),
            Target::PSsl { port, ip: a } => write!(f, "pssl:{port}:{}", ip(a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        s.parse().unwrap()
    }

    #[test]
    fn active_targets() {
        assert_eq!(
            t("tcp:10.0.0.1:6633"),
            Target::Tcp {
                host: "10.0.0.1".into(),
                port: 6633
            }
        );
        assert_eq!(
            t("tcp:ctl.example"),
            Target::Tcp {
                host: "ctl.example".into(),
                port: DEFAULT_PORT
            }
        );
        assert_eq!(
            t("ssl:[::1]:7000"),
            Target::Ssl {
                host: "::1".into(),
                port: 7000
            }
        );
        assert_eq!(
            t("ssl:[fe80::1]"),
            Target::Ssl {
                host: "fe80::1".into(),
                port: DEFAULT_PORT
            }
        );
        assert!(!t("tcp:a").is_passive());
        assert!(t("ssl:a").is_tls());
    }

    #[test]
    fn passive_targets() {
        assert_eq!(
            t("ptcp:"),
            Target::PTcp {
                port: DEFAULT_PORT,
                ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }
        );
        assert_eq!(
            t("ptcp:6653:127.0.0.1"),
            Target::PTcp {
                port: 6653,
                ip: "127.0.0.1".parse().unwrap()
            }
        );
        assert_eq!(
            t("pssl:0:[::1]"),
            Target::PSsl {
                port: 0,
                ip: "::1".parse().unwrap()
            }
        );
        assert_eq!(
            t("pssl::::1"),
            Target::PSsl {
                port: DEFAULT_PORT,
                ip: "::1".parse().unwrap()
            }
        );
        assert!(t("ptcp:1").is_passive());
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "tcp:10.0.0.1:6633",
            "ssl:[::1]:6653",
            "tcp:ctl.example:6653",
            "ptcp:6653:0.0.0.0",
            "pssl:7:[::1]",
        ] {
            assert_eq!(t(s).to_string(), s);
            assert_eq!(t(&t(s).to_string()), t(s));
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(
            "udp:1.2.3.4".parse::<Target>(),
            Err(TargetError::Method(_))
        ));
        assert!(matches!(
            "tcp".parse::<Target>(),
            Err(TargetError::Method(_))
        ));
        assert!(matches!(
            "tcp:".parse::<Target>(),
            Err(TargetError::MissingHost(_))
        ));
        assert!(matches!(
            "tcp:h:70000".parse::<Target>(),
            Err(TargetError::Port { .. })
        ));
        assert!(matches!(
            "ptcp:x".parse::<Target>(),
            Err(TargetError::Port { .. })
        ));
        assert!(matches!(
            "ptcp:1:300.1.1.1".parse::<Target>(),
            Err(TargetError::Ip { .. })
        ));
        assert!(matches!(
            "tcp:[::1".parse::<Target>(),
            Err(TargetError::Bracket(_))
        ));
        assert!(matches!(
            "tcp:[::1]x".parse::<Target>(),
            Err(TargetError::Port { .. })
        ));
    }
}

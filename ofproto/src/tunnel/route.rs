//! switchd's route table for tunnel endpoints (Open vSwitch's
//! `ovs/route`): which bridge a far endpoint is reached through, by which
//! gateway, from which source address.
//!
//! Two kinds of entry: the kernel's (seeded from `/proc/net/route` and
//! `/proc/net/ipv6_route` of switchd's namespace, re-read periodically)
//! and the operator's (`swctl route/add`), which win over a kernel route
//! of the same prefix. A lookup is a longest-prefix match, then the
//! lowest metric.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Kernel,
    User,
}

/// One route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The network address (host bits zero).
    pub prefix: IpAddr,
    pub len: u8,
    /// The interface the route goes out of (for tunnels: a bridge name).
    pub dev: String,
    pub gateway: Option<IpAddr>,
    /// The preferred source address, if the route names one.
    pub src: Option<IpAddr>,
    pub metric: u32,
    pub origin: Origin,
}

impl Route {
    fn contains(&self, ip: IpAddr) -> bool {
        network(ip, self.len) == Some(self.prefix)
    }
}

/// `ip` with its host bits cleared; `None` when the families differ or
/// `len` is too long.
pub fn network(ip: IpAddr, len: u8) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(a) if len <= 32 => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from(a) & m)))
        }
        IpAddr::V6(a) if len <= 128 => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            Some(IpAddr::V6(Ipv6Addr::from(u128::from(a) & m)))
        }
        _ => None,
    }
}

/// Parse `10.0.0.0/24` (a bare address is a host route); the host bits
/// must be zero.
pub fn parse_prefix(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = a
        .parse()
        .map_err(|_| format!("{s:?} is not an address/length"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match l {
        None => max,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| format!("prefix length of {s:?} is not 0..={max}"))?,
    };
    if network(ip, len) != Some(ip) {
        return Err(format!("{s:?} has host bits set"));
    }
    Ok((ip, len))
}

/// The operator's and the kernel's routes.
#[derive(Debug, Default, Clone)]
pub struct RouteTable {
    user: Vec<Route>,
    kernel: Vec<Route>,
}

impl RouteTable {
    /// The route for `dst`: longest prefix, then user before kernel, then
    /// lowest metric.
    pub fn lookup(&self, dst: IpAddr) -> Option<&Route> {
        self.user
            .iter()
            .chain(&self.kernel)
            .filter(|r| r.contains(dst))
            .min_by_key(|r| (u8::MAX - r.len, r.origin == Origin::Kernel, r.metric))
    }

    /// Add (or replace) an operator route.
    pub fn add(&mut self, r: Route) -> Result<(), String> {
        if network(r.prefix, r.len) != Some(r.prefix) {
            return Err(format!("{}/{} has host bits set", r.prefix, r.len));
        }
        for a in [r.gateway, r.src].into_iter().flatten() {
            if a.is_ipv4() != r.prefix.is_ipv4() {
                return Err(format!("{a} is not of the family of {}", r.prefix));
            }
        }
        if r.dev.is_empty() {
            return Err("a route needs an output bridge".into());
        }
        self.user.retain(|u| (u.prefix, u.len) != (r.prefix, r.len));
        self.user.push(Route {
            origin: Origin::User,
            ..r
        });
        Ok(())
    }

    /// Remove an operator route; false when there was none.
    pub fn del(&mut self, prefix: IpAddr, len: u8) -> bool {
        let before = self.user.len();
        self.user.retain(|u| (u.prefix, u.len) != (prefix, len));
        self.user.len() != before
    }

    /// Replace the kernel's routes; true when they changed.
    pub fn set_kernel(&mut self, routes: Vec<Route>) -> bool {
        if routes == self.kernel {
            return false;
        }
        self.kernel = routes;
        true
    }

    /// Every route, operator's first, each sorted by prefix.
    pub fn all(&self) -> Vec<Route> {
        let mut u = self.user.clone();
        u.sort_by_key(|r| (r.prefix, r.len));
        let mut k = self.kernel.clone();
        k.sort_by_key(|r| (r.prefix, r.len, r.metric));
        u.extend(k);
        u
    }
}

/// The kernel's routes in switchd's namespace (main table).
pub fn kernel_routes() -> Vec<Route> {
    let mut v = std::fs::read_to_string("/proc/net/route")
        .map(|t| parse_proc_route(&t))
        .unwrap_or_default();
    if let Ok(t) = std::fs::read_to_string("/proc/net/ipv6_route") {
        v.extend(parse_proc_ipv6_route(&t));
    }
    v
}

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;
const RTF_REJECT: u32 = 0x200;

/// `/proc/net/route`: addresses are hex in host byte order.
pub fn parse_proc_route(text: &str) -> Vec<Route> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    // The kernel prints the address's bytes read as a native-endian u32.
    let v4 = |s: &str| hex(s).map(|n| Ipv4Addr::from(n.to_ne_bytes()));
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let flags = hex(f[3])?;
            if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
                return None;
            }
            let dst = v4(f[1])?;
            let gw = v4(f[2])?;
            let mask = u32::from(v4(f[7])?);
            let len = mask.count_ones() as u8;
            Some(Route {
                prefix: network(IpAddr::V4(dst), len)?,
                len,
                dev: f[0].to_string(),
                gateway: (flags & RTF_GATEWAY != 0).then_some(IpAddr::V4(gw)),
                src: None,
                metric: f[6].parse().unwrap_or(0),
                origin: Origin::Kernel,
            })
        })
        .collect()
}

/// `/proc/net/ipv6_route`: dst, dst len, src, src len, next hop, metric,
/// refcnt, use, flags, device.
pub fn parse_proc_ipv6_route(text: &str) -> Vec<Route> {
    let v6 = |s: &str| u128::from_str_radix(s, 16).ok().map(Ipv6Addr::from);
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 || f[9] == "lo" {
                return None;
            }
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
                return None;
            }
            let len = u8::from_str_radix(f[1], 16).ok().filter(|&n| n <= 128)?;
            let hop = v6(f[4])?;
            let dst = v6(f[0])?;
            if dst.segments()[0] & 0xff00 == 0xff00 {
                return None; // multicast
            }
            Some(Route {
                prefix: network(IpAddr::V6(dst), len)?,
                len,
                dev: f[9].to_string(),
                gateway: (flags & RTF_GATEWAY != 0 && !hop.is_unspecified())
                    .then_some(IpAddr::V6(hop)),
                src: None,
                metric: u32::from_str_radix(f[5], 16).unwrap_or(0),
                origin: Origin::Kernel,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_kernels_tables_parse() {
        let v4 =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                  br-phy\t0012A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                  down0\t0013A8C0\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let r = parse_proc_route(v4);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].prefix, ip("0.0.0.0"));
        assert_eq!(r[0].gateway, Some(ip("192.168.0.1")));
        assert_eq!(r[0].metric, 100);
        assert_eq!(
            (r[1].prefix, r[1].len, r[1].dev.as_str()),
            (ip("192.168.18.0"), 24, "br-phy")
        );
        assert_eq!(r[1].gateway, None);

        let v6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   br-phy\n\
                  00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n\
                  ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   br-phy\n\
                  00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 80200001       lo\n";
        let r = parse_proc_ipv6_route(v6);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].prefix, r[0].len, r[0].metric),
            (ip("fd00::"), 64, 256)
        );
        assert_eq!(r[1].gateway, Some(ip("fe80::1")));
    }

    #[test]
    fn longest_prefix_wins_then_the_operator_then_the_metric() {
        let mut t = RouteTable::default();
        let k = |p: &str, len, dev: &str, metric| Route {
            prefix: ip(p),
            len,
            dev: dev.into(),
            gateway: None,
            src: None,
            metric,
            origin: Origin::Kernel,
        };
        assert!(t.set_kernel(vec![
            k("0.0.0.0", 0, "eth0", 100),
            k("10.1.0.0", 16, "br-a", 10),
            k("10.1.0.0", 16, "br-b", 5),
        ]));
        assert!(!t.set_kernel(t.kernel.clone()));
        assert_eq!(t.lookup(ip("8.8.8.8")).unwrap().dev, "eth0");
        assert_eq!(t.lookup(ip("10.1.2.3")).unwrap().dev, "br-b");
        t.add(Route {
            origin: Origin::User,
            ..k("10.1.0.0", 16, "br-user", 50)
        })
        .unwrap();
        assert_eq!(t.lookup(ip("10.1.2.3")).unwrap().dev, "br-user");
        t.add(k("10.1.2.0", 24, "br-c", 0)).unwrap();
        assert_eq!(t.lookup(ip("10.1.2.3")).unwrap().dev, "br-c");
        assert!(t.lookup(ip("fd00::1")).is_none());
        assert!(t.del(ip("10.1.2.0"), 24));
        assert!(!t.del(ip("10.1.2.0"), 24));
        assert_eq!(t.lookup(ip("10.1.2.3")).unwrap().dev, "br-user");
        assert!(t
            .add(k("10.1.2.1", 24, "x", 0))
            .unwrap_err()
            .contains("host bits"));
        assert!(t
            .add(Route {
                gateway: Some(ip("fd00::1")),
                ..k("10.2.0.0", 16, "x", 0)
            })
            .unwrap_err()
            .contains("family"));
    }

    #[test]
    fn prefixes_parse_strictly() {
        assert_eq!(parse_prefix("10.0.0.0/8").unwrap(), (ip("10.0.0.0"), 8));
        assert_eq!(parse_prefix("10.0.0.1").unwrap(), (ip("10.0.0.1"), 32));
        assert_eq!(parse_prefix("fd00::/64").unwrap(), (ip("fd00::"), 64));
        assert!(parse_prefix("10.0.0.1/8").is_err());
        assert!(parse_prefix("10.0.0.0/33").is_err());
        assert!(parse_prefix("ten/8").is_err());
    }
}

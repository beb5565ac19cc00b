//! Tunnel changes: the operator's routes; and what the tunnel plane shows
//! (routes, neighbours, tunnel ports, counters).
//!
//! The one idea: an operator route lives in two places, the store
//! (`[[route]]`, so that it comes back at start) and the tunnel plane's
//! route table (what translation looks up). The store is written first and
//! the plane changed only once the write succeeded, so a route the plane
//! uses is always one that survives a restart, and a failed write changes
//! nothing. At start [`Switch::install_routes`] puts every stored route
//! into the plane before the bridges forward. Both checks of a route (the
//! store's and the plane's) are [`RouteConfig::to_route`], so a route the
//! store accepts the plane accepts too.
//!
//! A route's `dev` need not be a bridge: as in Open vSwitch, a route may
//! be added before its underlay bridge exists. Such a route is kept and
//! the answer carries a warning; translation counts tunnel packets that
//! find it (`route_not_a_bridge`) until the bridge is there. Neighbours
//! are learnt by snooping and age out; they are not stored, and flushing
//! them only empties the cache.

use super::{Inner, Switch, SwitchError, SwitchResult};
use crate::config::RouteConfig;
use ofproto::bridge::dp_to_of;
use ofproto::tunnel::{
    kind_name, parse_prefix, FromFlow, Inherit, NeighbourEntry, Origin, Route, TunnelConfig,
};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What adding a route did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAdded {
    /// The route as installed.
    pub route: Route,
    /// An operator route for the same prefix was replaced.
    pub replaced: bool,
    /// Why the route cannot carry tunnel traffic yet (empty: it can).
    pub warnings: Vec<String>,
}

/// A tunnel port, as `tnl/ports/show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelPortView {
    pub bridge: String,
    pub name: String,
    /// OpenFlow port number.
    pub ofport: u32,
    /// `vxlan`, `geneve` or `gre`.
    pub kind: &'static str,
    /// The options in effect, defaults included, in ovs-vsctl's names.
    pub options: BTreeMap<String, String>,
}

impl Switch {
    /// Install the stored routes into the tunnel plane (at start).
    pub fn install_routes(&self, inner: &Inner) {
        for r in &inner.store.config().route {
            // The store validated every route with the plane's checks.
            let installed = r.to_route().and_then(|route| self.tunnels.add_route(route));
            match installed {
                Ok(()) => tracing::info!(prefix = %r.prefix, dev = %r.dev, "route restored"),
                Err(e) => tracing::error!(prefix = %r.prefix, "route not restored: {e}"),
            }
        }
    }

    /// Add (or replace) the operator route for `r.prefix`: stored, then
    /// installed.
    pub fn add_route(&self, inner: &mut Inner, r: RouteConfig) -> SwitchResult<RouteAdded> {
        let route = r.to_route().map_err(SwitchError::Invalid)?;
        let stored = RouteConfig {
            // One spelling per prefix in the store.
            prefix: format!("{}/{}", route.prefix, route.len),
            ..r
        };
        let old = inner.store.config().clone();
        let mut config = old.clone();
        let same = |s: &RouteConfig| s.network() == Ok((route.prefix, route.len));
        let replaced = match config.route.iter_mut().find(|s| same(s)) {
            Some(s) => {
                *s = stored;
                true
            }
            None => {
                config.route.push(stored);
                false
            }
        };
        config
            .validate()
            .map_err(|e| SwitchError::Invalid(e.to_string()))?;
        inner
            .persist(config)
            .map_err(|e| SwitchError::Internal(format!("{e}; the route was not added")))?;
        if let Err(e) = self.tunnels.add_route(route.clone()) {
            // Not expected: the store checked the route as the plane does.
            let undone = match inner.persist(old) {
                Ok(()) => "the store was restored".to_string(),
                Err(u) => format!("restoring the store failed too: {u}"),
            };
            return Err(SwitchError::Internal(format!(
                "installing route {}/{}: {e}; {undone}",
                route.prefix, route.len
            )));
        }
        let warnings = reach_warnings(inner, &route.dev);
        tracing::info!(prefix = %format!("{}/{}", route.prefix, route.len), dev = %route.dev, replaced, "route added");
        Ok(RouteAdded {
            route,
            replaced,
            warnings,
        })
    }

    /// Delete the operator route for `prefix`: unstored, then removed.
    pub fn del_route(&self, inner: &mut Inner, prefix: &str) -> SwitchResult<()> {
        let (ip, len) = parse_prefix(prefix).map_err(SwitchError::Invalid)?;
        let mut config = inner.store.config().clone();
        let before = config.route.len();
        config.route.retain(|s| s.network() != Ok((ip, len)));
        if config.route.len() == before {
            let kernel = self
                .tunnels
                .routes()
                .iter()
                .any(|r| r.origin == Origin::Kernel && (r.prefix, r.len) == (ip, len));
            return Err(SwitchError::NotFound(if kernel {
                format!("{ip}/{len} is a kernel route; only operator routes can be deleted")
            } else {
                format!("no operator route for {ip}/{len}")
            }));
        }
        inner
            .persist(config)
            .map_err(|e| SwitchError::Internal(format!("{e}; the route was not deleted")))?;
        self.tunnels.del_route(ip, len);
        tracing::info!(prefix = %format!("{ip}/{len}"), "route deleted");
        Ok(())
    }

    /// Every route: the operator's, then the kernel's.
    pub fn routes(&self) -> Vec<Route> {
        self.tunnels.routes()
    }

    /// The neighbour cache of every underlay bridge.
    pub fn neighbours(&self) -> Vec<NeighbourEntry> {
        let mut v = self.tunnels.neighbours();
        v.sort_by(|a, b| (&a.bridge, a.ip).cmp(&(&b.bridge, b.ip)));
        v
    }

    /// Forget every learnt neighbour.
    pub fn flush_neighbours(&self) {
        self.tunnels.flush_neighbours();
        tracing::info!("neighbour cache flushed");
    }

    /// The tunnel ports of every bridge, by bridge and port number.
    pub fn tunnel_ports(&self) -> Vec<TunnelPortView> {
        self.tunnels
            .tunnels()
            .into_iter()
            .map(|(bridge, port, name, config)| TunnelPortView {
                bridge,
                name,
                ofport: dp_to_of(port),
                kind: kind_name(config.kind),
                options: tunnel_options(&config),
            })
            .collect()
    }

    /// Tunnel drops by reason, in a fixed order: translation's (the
    /// plane's: no route, unresolved neighbour, unknown key, ...) then the
    /// datapath's (`push_*`/`pop_*`: malformed or unsupported outer
    /// headers), summed over every bridge's workers.
    pub fn tunnel_counters(&self, inner: &Inner) -> Vec<(&'static str, u64)> {
        use datapath::tunnel::TunnelDrop;
        let mut drops = [0u64; TunnelDrop::COUNT];
        for b in inner.bridges.values() {
            for w in b.dpif.worker_stats() {
                for (sum, reason) in drops.iter_mut().zip(TunnelDrop::ALL) {
                    *sum += w.tunnel_drops.get(reason);
                }
            }
        }
        let mut all = self.tunnels.counter_list();
        all.extend(TunnelDrop::ALL.iter().map(|r| r.name()).zip(drops));
        all
    }
}

/// Why a route leaving by `dev` cannot carry tunnel traffic yet.
fn reach_warnings(inner: &Inner, dev: &str) -> Vec<String> {
    match inner.store.config().bridge.iter().find(|b| b.name == dev) {
        None => vec![format!(
            "{dev} is not a bridge (yet): tunnels use this route once a bridge \
             named {dev} with a local port exists"
        )],
        Some(b) if !b.local_port => vec![format!(
            "bridge {dev} has no local port: tunnels cannot leave by it"
        )],
        Some(_) => Vec::new(),
    }
}

/// A tunnel port's configuration as ovs-vsctl options, defaults included.
pub fn tunnel_options(c: &TunnelConfig) -> BTreeMap<String, String> {
    fn ip(v: FromFlow<IpAddr>) -> String {
        match v {
            FromFlow::Fixed(a) => a.to_string(),
            FromFlow::Flow => "flow".into(),
        }
    }
    fn inherit(v: Inherit) -> String {
        match v {
            Inherit::Fixed(n) => n.to_string(),
            Inherit::Inherit => "inherit".into(),
        }
    }
    let mut o = BTreeMap::new();
    o.insert("remote_ip".into(), ip(c.remote_ip));
    if let Some(l) = c.local_ip {
        o.insert("local_ip".into(), ip(l));
    }
    let key = match c.key {
        FromFlow::Fixed(k) => k.to_string(),
        FromFlow::Flow => "flow".into(),
    };
    o.insert("key".into(), key);
    if c.dst_port != 0 {
        o.insert("dst_port".into(), c.dst_port.to_string());
    }
    o.insert("tos".into(), inherit(c.tos));
    o.insert("ttl".into(), inherit(c.ttl));
    o.insert("csum".into(), c.csum.to_string());
    o.insert("df_default".into(), c.df_default.to_string());
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::{Store, STORE_FILE};
    use datapath::tunnel::TunnelKind;
    use std::sync::Arc;

    /// A switch with no bridges on a store in `dir`.
    fn switch(dir: &std::path::Path, rt: &tokio::runtime::Runtime) -> Arc<Switch> {
        let (store, _) = Store::open(dir, || Ok(Config::default())).unwrap();
        Switch::start(store, rt.handle().clone(), dir).unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    fn route(prefix: &str, dev: &str) -> RouteConfig {
        RouteConfig {
            prefix: prefix.into(),
            dev: dev.into(),
            gateway: None,
            src: None,
        }
    }

    fn user_routes(sw: &Switch) -> Vec<(String, String)> {
        sw.routes()
            .into_iter()
            .filter(|r| r.origin == Origin::User)
            .map(|r| (format!("{}/{}", r.prefix, r.len), r.dev))
            .collect()
    }

    #[test]
    fn a_route_is_stored_then_installed_and_comes_back_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let sw = switch(dir.path(), &rt);
        let added = sw
            .add_route(
                &mut sw.lock(),
                RouteConfig {
                    gateway: Some("192.0.2.1".parse().unwrap()),
                    src: Some("192.0.2.10".parse().unwrap()),
                    ..route("10.99.0.0/16", "br-phy")
                },
            )
            .unwrap();
        assert!(!added.replaced);
        assert_eq!(added.route.gateway, Some("192.0.2.1".parse().unwrap()));
        // No such bridge: kept, with a warning that says so.
        assert_eq!(added.warnings.len(), 1, "{:?}", added.warnings);
        assert!(added.warnings[0].contains("br-phy is not a bridge"));
        assert_eq!(
            user_routes(&sw),
            [("10.99.0.0/16".to_string(), "br-phy".to_string())]
        );
        // The same prefix again replaces it; the store keeps one entry,
        // spelt one way.
        let again = sw
            .add_route(&mut sw.lock(), route("fd00:0::/64", "br-a"))
            .unwrap();
        assert!(!again.replaced);
        let again = sw
            .add_route(&mut sw.lock(), route("fd00::/64", "br-b"))
            .unwrap();
        assert!(again.replaced);
        let stored = sw.lock().store.config().route.clone();
        assert_eq!(stored.len(), 2);
        assert_eq!(
            (stored[1].prefix.as_str(), stored[1].dev.as_str()),
            ("fd00::/64", "br-b")
        );
        sw.shutdown();
        drop(sw);

        // A new switchd on the same store installs both.
        let sw = switch(dir.path(), &rt);
        let routes = user_routes(&sw);
        assert_eq!(routes.len(), 2, "{routes:?}");
        let r = sw
            .routes()
            .into_iter()
            .find(|r| r.origin == Origin::User && r.len == 16)
            .unwrap();
        assert_eq!(r.src, Some("192.0.2.10".parse().unwrap()));

        sw.del_route(&mut sw.lock(), "10.99.0.0/16").unwrap();
        assert_eq!(
            user_routes(&sw),
            [("fd00::/64".to_string(), "br-b".to_string())]
        );
        assert_eq!(sw.lock().store.config().route.len(), 1);
        let e = sw.del_route(&mut sw.lock(), "10.99.0.0/16").unwrap_err();
        assert!(matches!(e, SwitchError::NotFound(_)), "{e}");
        assert!(e.to_string().contains("10.99.0.0/16"), "{e}");
    }

    #[test]
    fn a_bad_route_changes_nothing_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let sw = switch(dir.path(), &rt);
        let before = std::fs::read(dir.path().join(STORE_FILE)).unwrap();
        for (r, needle) in [
            (route("10.0.0.1/24", "br0"), "host bits"),
            (route("10.0.0.0/40", "br0"), "0..=32"),
            (route("10.0.0.0/8", "no/such"), "dev"),
            (
                RouteConfig {
                    gateway: Some("fd00::1".parse().unwrap()),
                    ..route("10.0.0.0/8", "br0")
                },
                "family",
            ),
        ] {
            let e = sw.add_route(&mut sw.lock(), r).unwrap_err();
            assert!(matches!(e, SwitchError::Invalid(_)), "{e}");
            assert!(e.to_string().contains(needle), "{e} should say {needle}");
        }
        let e = sw.del_route(&mut sw.lock(), "10.0.0.1/24").unwrap_err();
        assert!(matches!(e, SwitchError::Invalid(_)), "{e}");
        assert!(user_routes(&sw).is_empty());
        assert_eq!(std::fs::read(dir.path().join(STORE_FILE)).unwrap(), before);
    }

    #[test]
    fn a_failed_store_write_leaves_the_plane_alone() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let sw = switch(dir.path(), &rt);
        sw.add_route(&mut sw.lock(), route("10.98.0.0/16", "br0"))
            .unwrap();
        // The store's file cannot be replaced (a directory in its place
        // stops the rename even for root).
        let path = dir.path().join(STORE_FILE);
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let e = sw
            .add_route(&mut sw.lock(), route("10.97.0.0/16", "br0"))
            .unwrap_err();
        assert!(matches!(e, SwitchError::Internal(_)), "{e}");
        assert!(e.to_string().contains("the route was not added"), "{e}");
        let e = sw.del_route(&mut sw.lock(), "10.98.0.0/16").unwrap_err();
        assert!(e.to_string().contains("the route was not deleted"), "{e}");
        assert_eq!(
            user_routes(&sw),
            [("10.98.0.0/16".to_string(), "br0".to_string())]
        );
        assert_eq!(sw.lock().store.config().route.len(), 1);
    }

    #[test]
    fn a_fresh_switch_has_no_neighbours_and_no_tunnel_ports() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let sw = switch(dir.path(), &rt);
        assert!(sw.neighbours().is_empty());
        sw.flush_neighbours();
        assert!(sw.tunnel_ports().is_empty());
        let counters = sw.tunnel_counters(&sw.lock());
        assert!(counters.iter().any(|(n, _)| *n == "no_route"));
        assert!(counters.iter().any(|(n, _)| *n == "pop_geneve_critical"));
        assert!(counters.iter().all(|(_, v)| *v == 0), "{counters:?}");
    }

    #[test]
    fn tunnel_options_show_the_defaults_in_ovs_names() {
        let opts = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let c = TunnelConfig::parse(
            TunnelKind::Vxlan,
            &opts(&[("remote_ip", "192.0.2.2"), ("key", "flow")]),
        )
        .unwrap();
        assert_eq!(
            tunnel_options(&c),
            opts(&[
                ("csum", "false"),
                ("df_default", "true"),
                ("dst_port", "4789"),
                ("key", "flow"),
                ("remote_ip", "192.0.2.2"),
                ("tos", "0"),
                ("ttl", "64"),
            ])
        );
        // GRE has no UDP port; options given come back as given.
        let g = TunnelConfig::parse(
            TunnelKind::Gre,
            &opts(&[
                ("remote_ip", "flow"),
                ("local_ip", "fd00::1"),
                ("key", "7"),
                ("tos", "inherit"),
            ]),
        )
        .unwrap();
        let o = tunnel_options(&g);
        assert!(!o.contains_key("dst_port"), "{o:?}");
        assert_eq!(o["remote_ip"], "flow");
        assert_eq!(o["local_ip"], "fd00::1");
        assert_eq!(o["key"], "7");
        assert_eq!(o["tos"], "inherit");
        // Every key is an option a tunnel port takes.
        for k in o.keys() {
            assert!(ofproto::tunnel::OPTIONS.iter().any(|(n, _)| n == k), "{k}");
        }
    }
}

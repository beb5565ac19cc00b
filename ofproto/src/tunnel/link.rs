//! The links between bridges: one per (bridge with tunnel ports, bridge
//! with a LOCAL port) pair, made and removed as bridges and tunnel ports
//! come and go (see the module essay of [`super`]).

use super::{lock, write, LinkEnd, TunnelPlane};
use datapath::dpif::Dpif;
use datapath::netdev::link::LinkPort;
use datapath::PortNo;
use std::sync::Arc;

impl TunnelPlane {
    /// Make the links match the bridges: one per (bridge with tunnels,
    /// bridge with LOCAL) pair, none otherwise. Datapath ports are added
    /// and removed without holding the bridge map (a worker translating a
    /// packet reads it, and removing a port waits for the workers).
    pub(super) fn reconcile_links(&self) {
        let _one_at_a_time = lock(&self.reconciling);
        let mut stale = Vec::new();
        let mut missing = Vec::new();
        {
            let mut bridges = write(&self.bridges);
            let overlays: Vec<String> = bridges
                .iter()
                .filter(|(_, b)| !b.tunnels.is_empty())
                .map(|(n, _)| n.clone())
                .collect();
            let underlays: Vec<String> = bridges
                .iter()
                .filter(|(_, b)| b.local)
                .map(|(n, _)| n.clone())
                .collect();
            let names: Vec<String> = bridges.keys().cloned().collect();
            for o in &names {
                let gone: Vec<String> = bridges[o]
                    .uplinks
                    .keys()
                    .filter(|u| !overlays.contains(o) || !underlays.contains(u))
                    .cloned()
                    .collect();
                for u in gone {
                    if let Some(up) = bridges.get_mut(o).and_then(|b| b.uplinks.remove(&u)) {
                        stale.push((bridges[o].dpif.clone(), up.port));
                    }
                    if let Some(ub) = bridges.get_mut(&u) {
                        if let Some(down) = ub.downlinks.remove(o) {
                            stale.push((ub.dpif.clone(), down.port));
                        }
                    }
                }
            }
            for o in &overlays {
                for u in &underlays {
                    if !bridges[o].uplinks.contains_key(u) {
                        missing.push((
                            o.clone(),
                            u.clone(),
                            bridges[o].dpif.clone(),
                            bridges[u].dpif.clone(),
                        ));
                    }
                }
            }
        }
        for (dpif, port) in stale {
            if let Some(d) = dpif.upgrade() {
                let _ = d.remove_port(port);
            }
        }
        for (o, u, od, ud) in missing {
            let (Some(od), Some(ud)) = (od.upgrade(), ud.upgrade()) else {
                continue;
            };
            match add_link(&od, &ud, &o, &u) {
                Ok((up, down)) => {
                    let mut bridges = write(&self.bridges);
                    if let Some(b) = bridges.get_mut(&o) {
                        b.uplinks.insert(u.clone(), up);
                    }
                    if let Some(b) = bridges.get_mut(&u) {
                        b.downlinks.insert(o.clone(), down);
                    }
                }
                Err(e) => tracing::warn!("cannot link bridge {o} to underlay {u}: {e}"),
            }
        }
    }
}

/// Make one link between overlay bridge `o` and underlay bridge `u`:
/// ends numbered from the top of each datapath's port space.
fn add_link(
    od: &Arc<Dpif>,
    ud: &Arc<Dpif>,
    o: &str,
    u: &str,
) -> Result<(LinkEnd, LinkEnd), String> {
    let (up, down) =
        LinkPort::pair(&format!("tnl>{u}"), &format!("tnl<{o}")).map_err(|e| e.to_string())?;
    let top = |d: &Arc<Dpif>| -> Option<PortNo> {
        let t = d.ports();
        (1..d.config().max_ports as PortNo)
            .rev()
            .find(|&n| t.get(n).is_none())
    };
    let up_no = top(od).ok_or("no free port number")?;
    let up_no = od
        .add_port(up.clone(), Some(up_no))
        .map_err(|e| e.to_string())?;
    let down_no = match top(ud).and_then(|n| ud.add_port(down.clone(), Some(n)).ok()) {
        Some(n) => n,
        None => {
            let _ = od.remove_port(up_no);
            return Err("no free port number in the underlay".into());
        }
    };
    Ok((
        LinkEnd {
            port: up_no,
            end: up,
        },
        LinkEnd {
            port: down_no,
            end: down,
        },
    ))
}

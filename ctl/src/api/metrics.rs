//! The opt-in Prometheus endpoint (`switchd --metrics-addr 127.0.0.1:9100`).
//!
//! The text exposition format is simple enough to write by hand, and the
//! endpoint needs one route, so this is a few dozen lines on a tokio
//! listener rather than an HTTP framework or a metrics crate: every
//! request (any path) gets the current counters, gathered under the
//! switch lock on a blocking thread. Families: per port
//! (`switchd_port_*{bridge,port}`), per table (`switchd_table_*{bridge,table}`),
//! per worker (`switchd_worker_*{bridge,worker}`), per bridge datapath
//! and OpenFlow counters (`switchd_bridge_*{bridge}`), and tunnel drops by
//! reason (`switchd_tunnel_drops_total{reason}`).

use crate::switch::{Inner, Switch};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Gathers samples family by family (HELP/TYPE once per family).
#[derive(Default)]
struct Families {
    order: Vec<&'static str>,
    fams: std::collections::HashMap<&'static str, (&'static str, &'static str, Vec<String>)>,
}

impl Families {
    fn add(
        &mut self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        labels: &str,
        v: f64,
    ) {
        let e = self.fams.entry(name).or_insert_with(|| {
            self.order.push(name);
            (kind, help, Vec::new())
        });
        e.2.push(format!("{name}{{{labels}}} {v}"));
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for name in &self.order {
            let (kind, help, samples) = &self.fams[name];
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for s in samples {
                let _ = writeln!(out, "{s}");
            }
        }
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text for every bridge, and the tunnel drops.
pub fn render(sw: &Switch, inner: &Inner) -> String {
    let mut f = Families::default();
    for (reason, v) in sw.tunnel_counters(inner) {
        let (name, help) = if reason == "requests_sent" || reason == "neighbours_learnt" {
            (
                "switchd_tunnel_neighbour_events_total",
                "Tunnel underlay neighbour events: requests sent, entries learnt.",
            )
        } else {
            (
                "switchd_tunnel_drops_total",
                "Tunnel packets dropped, by reason (translation's and the datapath's).",
            )
        };
        f.add(
            name,
            "counter",
            help,
            &format!("reason=\"{reason}\""),
            v as f64,
        );
    }
    for (name, b) in &inner.bridges {
        let bl = format!("bridge=\"{}\"", esc(name));
        for p in b.ofbridge.ports().iter() {
            let s = b.dpif.port_stats(p.port_no).unwrap_or_default();
            let l = format!("{bl},port=\"{}\"", esc(&p.name));
            for (n, h, v) in [
                (
                    "switchd_port_rx_packets_total",
                    "Packets received on the port.",
                    s.rx_packets,
                ),
                (
                    "switchd_port_rx_bytes_total",
                    "Bytes received on the port.",
                    s.rx_bytes,
                ),
                (
                    "switchd_port_rx_dropped_total",
                    "Received packets dropped.",
                    s.rx_dropped,
                ),
                (
                    "switchd_port_rx_errors_total",
                    "Receive errors.",
                    s.rx_errors,
                ),
                (
                    "switchd_port_tx_packets_total",
                    "Packets sent on the port.",
                    s.tx_packets,
                ),
                (
                    "switchd_port_tx_bytes_total",
                    "Bytes sent on the port.",
                    s.tx_bytes,
                ),
                (
                    "switchd_port_tx_dropped_total",
                    "Packets dropped on transmit.",
                    s.tx_dropped,
                ),
                (
                    "switchd_port_tx_errors_total",
                    "Transmit errors.",
                    s.tx_errors,
                ),
            ] {
                f.add(n, "counter", h, &l, v as f64);
            }
            for (stat, v) in p.port.custom_stats() {
                f.add(
                    "switchd_port_custom_stat_total",
                    "counter",
                    "Counters particular to a kind of port (guest faults, ...).",
                    &format!("{l},stat=\"{stat}\""),
                    v as f64,
                );
            }
            f.add(
                "switchd_port_link_up",
                "gauge",
                "1 if the port's link is up.",
                &l,
                f64::from(u8::from(p.port.link_up())),
            );
        }
        let snap = b.ofbridge.store.snapshot();
        for (i, t) in snap.tables.iter().enumerate() {
            let (lookups, matched) = (t.lookups.load(Relaxed), t.matched.load(Relaxed));
            if t.is_empty() && lookups == 0 {
                continue;
            }
            let l = format!("{bl},table=\"{i}\"");
            f.add(
                "switchd_table_flows",
                "gauge",
                "OpenFlow flows in the table.",
                &l,
                t.len() as f64,
            );
            f.add(
                "switchd_table_lookups_total",
                "counter",
                "Lookups in the table.",
                &l,
                lookups as f64,
            );
            f.add(
                "switchd_table_matched_total",
                "counter",
                "Lookups that matched a flow.",
                &l,
                matched as f64,
            );
        }
        let mut megaflows = 0u64;
        for w in b.dpif.worker_stats() {
            let l = format!("{bl},worker=\"{}\"", w.worker);
            megaflows += w.megaflows as u64;
            for (n, h, v) in [
                (
                    "switchd_worker_rx_packets_total",
                    "Packets the worker received.",
                    w.rx_packets,
                ),
                (
                    "switchd_worker_tx_packets_total",
                    "Packets the worker sent.",
                    w.tx_packets,
                ),
                (
                    "switchd_worker_dropped_total",
                    "Packets the worker dropped.",
                    w.dropped,
                ),
                (
                    "switchd_worker_emc_hits_total",
                    "Exact-match cache hits.",
                    w.emc_hits,
                ),
                (
                    "switchd_worker_megaflow_hits_total",
                    "Megaflow cache hits.",
                    w.megaflow_hits,
                ),
                (
                    "switchd_worker_misses_total",
                    "Cache misses (upcalls).",
                    w.misses,
                ),
                (
                    "switchd_worker_lost_upcalls_total",
                    "Upcalls dropped by the rate limit.",
                    w.lost_upcalls,
                ),
                (
                    "switchd_worker_idle_sleeps_total",
                    "Times the worker slept idle.",
                    w.idle_sleeps,
                ),
            ] {
                f.add(n, "counter", h, &l, v as f64);
            }
            f.add(
                "switchd_worker_megaflows",
                "gauge",
                "Megaflows installed in the worker.",
                &l,
                w.megaflows as f64,
            );
            f.add(
                "switchd_worker_ns_per_packet",
                "gauge",
                "Busy nanoseconds per received packet.",
                &l,
                w.ns_per_packet,
            );
        }
        let c = &b.ofbridge.counters;
        f.add(
            "switchd_bridge_megaflows",
            "gauge",
            "Megaflows installed, all workers.",
            &bl,
            megaflows as f64,
        );
        for (n, h, v) in [
            (
                "switchd_bridge_upcalls_total",
                "Misses translated through the OpenFlow tables.",
                c.upcalls.load(Relaxed),
            ),
            (
                "switchd_bridge_packet_ins_total",
                "PACKET_INs sent to controllers.",
                c.packet_ins.load(Relaxed),
            ),
            (
                "switchd_bridge_packet_outs_total",
                "PACKET_OUTs executed.",
                c.packet_outs.load(Relaxed),
            ),
            (
                "switchd_bridge_flow_mods_total",
                "FLOW_MODs applied, from controllers and the API.",
                c.flow_mods.load(Relaxed),
            ),
            (
                "switchd_bridge_revalidated_total",
                "Megaflows re-translated.",
                c.revalidated.load(Relaxed),
            ),
            (
                "switchd_bridge_megaflows_deleted_total",
                "Megaflows deleted by revalidation.",
                c.megaflows_deleted.load(Relaxed),
            ),
        ] {
            f.add(n, "counter", h, &bl, v as f64);
        }
        f.add(
            "switchd_bridge_flows",
            "gauge",
            "OpenFlow flows, all tables.",
            &bl,
            snap.rules().count() as f64,
        );
        let connected = b.controllers.as_ref().map_or(0, |c| c.connected());
        f.add(
            "switchd_bridge_controllers_connected",
            "gauge",
            "Negotiated controller connections.",
            &bl,
            connected as f64,
        );
        let limited = b.controllers.as_ref().map_or(0, |c| c.rate_limited());
        f.add(
            "switchd_bridge_packet_ins_rate_limited_total",
            "counter",
            "PACKET_INs not sent: a connection's controller_rate_limit was spent.",
            &bl,
            limited as f64,
        );
        let refused = b.controllers.as_ref().map_or(0, |c| c.refused());
        f.add(
            "switchd_bridge_controller_connections_refused_total",
            "counter",
            "OpenFlow connections closed at accept: past the total or per-source cap.",
            &bl,
            refused as f64,
        );
    }
    f.render()
}

/// Serve the metrics on `listener` until the runtime stops.
pub async fn serve(listener: TcpListener, switch: Arc<Switch>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let sw = switch.clone();
        tokio::spawn(async move {
            // Read the request head (bounded); the path does not matter.
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            while n < buf.len() {
                match tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    sock.read(&mut buf[n..]),
                )
                .await
                {
                    Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
                    Ok(Ok(k)) => {
                        n += k;
                        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                }
            }
            let body = tokio::task::spawn_blocking(move || render(&sw, &sw.lock()))
                .await
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

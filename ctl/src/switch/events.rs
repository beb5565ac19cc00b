//! The switch's event fan-out: what happens on the bridges, as one stream.
//!
//! Each bridge broadcasts the asynchronous messages it would send a
//! controller (PORT_STATUS, FLOW_REMOVED) and its controller count through
//! `crate::bridge`'s notices; the switch turns them into `v1::Event`s on one
//! switch-wide broadcast, next to its own bridge created/changed/deleted
//! events. Watchers (the API's EventService) subscribe to that broadcast.
//! The one idea: the broadcast is bounded and never waits; a watcher too
//! slow to keep up skips events, the switch never slows down for it.

use super::Switch;
use crate::bridge::{Bridge, BridgeNotice};
use crate::syntax::flow::format_match;
use ofproto::wire::message::Message;
use ofproto::wire::packet::FlowRemovedReason;
use ofproto::wire::port::{port_config, port_state, PortReason};
use proto::v1;
use tokio::sync::broadcast;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The OFPPC_* bits as protobuf.
pub fn config_bits(c: u32) -> v1::PortConfigBits {
    v1::PortConfigBits {
        port_down: c & port_config::PORT_DOWN != 0,
        no_recv: c & port_config::NO_RECV != 0,
        no_fwd: c & port_config::NO_FWD != 0,
        no_packet_in: c & port_config::NO_PACKET_IN != 0,
        no_flood: c & (1 << 4) != 0,
    }
}

/// An asynchronous OpenFlow message as an event (None for others).
pub fn from_async(m: &Message) -> Option<v1::event::Kind> {
    match m {
        Message::PortStatus(ps) => Some(v1::event::Kind::PortStatus(v1::PortStatusEvent {
            reason: match ps.reason {
                PortReason::Add => "add",
                PortReason::Delete => "delete",
                _ => "modify",
            }
            .into(),
            port: ps.desc.name.clone(),
            ofport: ps.desc.port_no,
            link_up: ps.desc.state & port_state::LINK_DOWN == 0,
            config: Some(config_bits(ps.desc.config)),
        })),
        Message::FlowRemoved(fr) => Some(v1::event::Kind::FlowRemoved(v1::FlowRemovedEvent {
            reason: match fr.reason {
                FlowRemovedReason::IdleTimeout => "idle_timeout",
                FlowRemovedReason::HardTimeout => "hard_timeout",
                FlowRemovedReason::Delete => "delete",
                FlowRemovedReason::GroupDelete => "group_delete",
                _ => "meter_delete",
            }
            .into(),
            table: u32::from(fr.table_id),
            priority: u32::from(fr.priority),
            cookie: fr.cookie,
            r#match: format_match(&fr.r#match),
            packets: fr.packet_count,
            bytes: fr.byte_count,
            duration_secs: f64::from(fr.duration_sec) + f64::from(fr.duration_nsec) / 1e9,
        })),
        _ => None,
    }
}

impl Switch {
    /// Subscribe to the event stream.
    pub fn subscribe(&self) -> broadcast::Receiver<v1::Event> {
        self.events.subscribe()
    }

    /// Send an event to watchers.
    pub fn emit(&self, bridge: &str, kind: v1::event::Kind) {
        let _ = self.events.send(v1::Event {
            bridge: bridge.to_string(),
            time_ms: now_ms(),
            kind: Some(kind),
        });
    }

    /// Forward a bridge's notices to the event stream until it stops.
    pub(super) fn forward_notices(&self, bridge: &Bridge) {
        let mut rx = bridge.notices.subscribe();
        let events = self.events.clone();
        let name = bridge.name.clone();
        self.runtime.spawn(async move {
            loop {
                let n = match rx.recv().await {
                    Ok(n) => n,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let kind = match n {
                    BridgeNotice::Controllers(c) => {
                        Some(v1::event::Kind::Controller(v1::ControllerEvent {
                            connected: c as u32,
                        }))
                    }
                    BridgeNotice::Async(m) => from_async(&m),
                };
                if let Some(kind) = kind {
                    let _ = events.send(v1::Event {
                        bridge: name.clone(),
                        time_ms: now_ms(),
                        kind: Some(kind),
                    });
                }
            }
        });
    }
}

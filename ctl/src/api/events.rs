//! EventService: a server-streaming watch of what happens on the bridges.
//!
//! Each bridge broadcasts the asynchronous messages it would send a
//! controller (PORT_STATUS, FLOW_REMOVED) and its controller count through
//! a fan-out in `crate::bridge`; [`Switch`] turns them into `v1::Event`s on
//! one switch-wide broadcast, next to its own bridge created/changed/
//! deleted events. A watcher subscribes to that broadcast; the first
//! message it gets is `ready`, sent after the subscription exists, so a
//! client that waits for it misses nothing that happens afterwards. A
//! watcher too slow to keep up skips events (the broadcast is bounded) and
//! the stream goes on.

use super::ports::config_bits;
use super::switch::{now_ms, Switch};
use super::syntax::flow::format_match;
use ofproto::bridge::OfBridge;
use ofproto::wire::message::Message;
use ofproto::wire::packet::FlowRemovedReason;
use ofproto::wire::port::{port_state, PortReason};
use proto::v1;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

/// The EventService implementation.
#[derive(Debug)]
pub struct Events(pub Arc<Switch>);

/// An asynchronous OpenFlow message as an event (None for others).
pub fn from_async(m: &Message, _bridge: Option<&OfBridge>) -> Option<v1::event::Kind> {
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

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::Event, Status>> + Send>>;

#[tonic::async_trait]
impl v1::event_service_server::EventService for Events {
    type WatchStream = EventStream;

    async fn watch(&self, req: Request<v1::WatchRequest>) -> Result<Response<EventStream>, Status> {
        let bridges = req.into_inner().bridges;
        let check = bridges.clone();
        self.0
            .run(move |_, inner| {
                for b in &check {
                    inner.bridge(b)?;
                }
                Ok(())
            })
            .await?;
        let rx = self.0.subscribe();
        let ready = v1::Event {
            bridge: String::new(),
            time_ms: now_ms(),
            kind: Some(v1::event::Kind::Ready(v1::Empty {})),
        };
        let events = BroadcastStream::new(rx).filter_map(move |e| match e {
            Ok(ev) if bridges.is_empty() || bridges.contains(&ev.bridge) => Some(Ok(ev)),
            // Lagged: the watcher skipped events; keep going.
            _ => None,
        });
        let stream = tokio_stream::once(Ok(ready)).chain(events);
        Ok(Response::new(Box::pin(stream)))
    }
}

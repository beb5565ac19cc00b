//! EventService: a server-streaming watch of what happens on the bridges.
//!
//! The switch's core fans the bridges' events out on one broadcast
//! (`crate::switch::events`); a watcher subscribes to it. The first
//! message it gets is `ready`, sent after the subscription exists, so a
//! client that waits for it misses nothing that happens afterwards. A
//! watcher too slow to keep up skips events (the broadcast is bounded) and
//! the stream goes on.

use crate::switch::events::now_ms;
use crate::switch::Switch;
use proto::v1;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

/// The EventService implementation.
#[derive(Debug)]
pub struct Events(pub Arc<Switch>);

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::Event, Status>> + Send>>;

#[tonic::async_trait]
impl v1::event_service_server::EventService for Events {
    type WatchStream = EventStream;

    async fn watch(&self, req: Request<v1::WatchRequest>) -> Result<Response<EventStream>, Status> {
        let bridges = req.into_inner().bridges;
        let check = bridges.clone();
        self.0
            .call(move |_, inner| {
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

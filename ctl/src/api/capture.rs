//! CaptureService: live capture on any port, streamed to the client.
//!
//! The request names a port switch-wide; the bridge holding it starts a
//! datapath capture session ([`datapath::capture`]) with the directions,
//! snap length, count and the match filter, translated to a datapath key
//! and mask as `trace` does. A pump thread moves the session's copies to
//! the gRPC stream: it blocks on the session and on the stream's bounded
//! buffer, never on the datapath, which drops (and counts) copies the
//! client is too slow for. Stats go out about once a second and once at
//! the end; the session ends, and the tap forgets it, when the client
//! cancels, goes away, or `count` packets were delivered.
//!
//! Tunnel ports are refused: their packets cross the underlay port, which
//! is where to capture them (outer headers included).

use super::trace::dp_match;
use crate::switch::{Inner, Switch, SwitchError, SwitchResult};
use datapath::capture::{Capture, CaptureSpec, Direction, Next};
use ofproto::bridge::dp_to_of;
use proto::v1;
use proto::v1::capture_event::Kind;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// The CaptureService implementation.
#[derive(Debug)]
pub struct Captures(pub Arc<Switch>);

type CaptureStream = Pin<Box<dyn Stream<Item = Result<v1::CaptureEvent, Status>> + Send>>;

/// How often the pump sends stats and checks that the client is there.
const STATS_EVERY: Duration = Duration::from_secs(1);
/// Messages the stream buffers before the pump waits for the client.
const STREAM_BUFFER: usize = 1024;

/// Start the session the request describes.
fn start(inner: &Inner, r: &v1::CaptureRequest) -> SwitchResult<(v1::CaptureStarted, Capture)> {
    let (bridge, cfg) = inner
        .bridges
        .values()
        .find_map(|b| {
            let cfg = inner.bridge(&b.name).ok()?.1;
            b.ports().contains_key(&r.port).then_some((b, cfg))
        })
        .ok_or_else(|| SwitchError::NotFound(format!("no port named {:?}", r.port)))?;
    if let Some(p) = cfg.port.iter().find(|p| p.name == r.port) {
        if crate::port_type::by_kind(p.kind).tunnel.is_some() {
            return Err(SwitchError::Invalid(format!(
                "{} is a tunnel port: its packets cross the underlay port; capture there",
                r.port
            )));
        }
    }
    let port_no = bridge.ports()[&r.port];
    let filter = if r.r#match.trim().is_empty() {
        None
    } else {
        let (key, mask, _) = dp_match(bridge, &r.r#match)?;
        Some((key, mask))
    };
    let both = !r.rx && !r.tx;
    let spec = CaptureSpec {
        port: port_no,
        rx: r.rx || both,
        tx: r.tx || both,
        snaplen: r.snaplen,
        count: (r.count > 0).then_some(r.count),
        filter,
    };
    let mac = bridge
        .dpif
        .ports()
        .get(port_no)
        .and_then(|e| e.port.mac())
        .map(|m| m.to_vec())
        .unwrap_or_default();
    let capture = bridge
        .dpif
        .capture(spec)
        .map_err(|e| SwitchError::NotFound(e.to_string()))?;
    let started = v1::CaptureStarted {
        bridge: bridge.name.clone(),
        port: r.port.clone(),
        ofport: dp_to_of(port_no),
        mac,
        snaplen: r.snaplen,
    };
    Ok((started, capture))
}

fn stats(c: &Capture) -> v1::CaptureEvent {
    let s = c.stats();
    v1::CaptureEvent {
        kind: Some(Kind::Stats(v1::CaptureStats {
            captured: s.captured,
            lost: s.lost,
            filtered: s.filtered,
        })),
    }
}

/// Move the session's copies to the stream until the client goes away or
/// the count is reached.
fn pump(
    capture: Capture,
    started: v1::CaptureStarted,
    out: mpsc::Sender<Result<v1::CaptureEvent, Status>>,
) {
    let send = |e: v1::CaptureEvent| out.blocking_send(Ok(e)).is_ok();
    if !send(v1::CaptureEvent {
        kind: Some(Kind::Started(started)),
    }) {
        return;
    }
    let mut last_stats = Instant::now();
    loop {
        match capture.next(Duration::from_millis(100)) {
            Next::Packet(c) => {
                let packet = v1::CapturedPacket {
                    direction: match c.direction {
                        Direction::Rx => "rx",
                        Direction::Tx => "tx",
                    }
                    .into(),
                    time_ns: c.time.as_nanos() as u64,
                    orig_len: c.orig_len,
                    data: c.data,
                };
                if !send(v1::CaptureEvent {
                    kind: Some(Kind::Packet(packet)),
                }) {
                    return;
                }
            }
            Next::Idle if out.is_closed() => return,
            Next::Idle => {}
            Next::Done => break,
        }
        if last_stats.elapsed() >= STATS_EVERY {
            last_stats = Instant::now();
            if !send(stats(&capture)) {
                return;
            }
        }
    }
    send(stats(&capture));
}

#[tonic::async_trait]
impl v1::capture_service_server::CaptureService for Captures {
    type CaptureStream = CaptureStream;

    async fn capture(
        &self,
        req: Request<v1::CaptureRequest>,
    ) -> Result<Response<CaptureStream>, Status> {
        let r = req.into_inner();
        let (started, capture) = self.0.call(move |_, inner| start(inner, &r)).await?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || pump(capture, started, tx))
            .map_err(|e| Status::internal(format!("starting the capture: {e}")))?;
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

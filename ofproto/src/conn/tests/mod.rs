//! Socket tests of the controller layer: a fake controller (a few lines of
//! tokio over the real codec) against [`Controllers`] on 127.0.0.1 with
//! ephemeral ports, plus TLS with rcgen-made certificates and, when it is
//! installed, `ovs-ofctl` as a real client.

mod ofctl;
mod tcp;
mod tls;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::*;
use crate::wire::error::BadRequest;
use crate::wire::header::Header;
use crate::wire::multipart::{
    MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody,
};
use crate::wire::port::PortDesc;
use crate::wire::switch::{FeaturesReply, Hello, SwitchConfig};
use crate::wire::{decode, encode, frame_len};

pub(super) const DPID: u64 = 0x0000_00aa_bbcc_ddee;
/// Upper bound for anything a test waits for.
pub(super) const WAIT: Duration = Duration::from_secs(10);

/// A minimal switch: features, port description, config, barrier; counts
/// the flow mods that reach it.
#[derive(Default)]
pub(super) struct TestSwitch {
    pub flow_mods: AtomicUsize,
}

impl RequestHandler for TestSwitch {
    fn handle(&self, _conn: ConnInfo, xid: u32, msg: Message) -> Vec<Message> {
        match msg {
            Message::FeaturesRequest => vec![Message::FeaturesReply(FeaturesReply {
                datapath_id: DPID,
                n_buffers: 0,
                n_tables: 254,
                auxiliary_id: 0,
                capabilities: 0x4f,
            })],
            Message::GetConfigRequest => vec![Message::GetConfigReply(SwitchConfig {
                flags: 0,
                miss_send_len: 128,
            })],
            Message::BarrierRequest => vec![Message::BarrierReply],
            Message::FlowMod(_) => {
                self.flow_mods.fetch_add(1, Ordering::SeqCst);
                Vec::new()
            }
            Message::MultipartRequest(MultipartRequest {
                body: MultipartRequestBody::PortDesc,
                ..
            }) => MultipartReplyBody::PortDesc(vec![PortDesc {
                port_no: 1,
                hw_addr: [2, 0, 0, 0, 0, 1],
                name: "p1".into(),
                curr_speed: 10_000_000,
                max_speed: 10_000_000,
                ..PortDesc::default()
            }])
            .into_replies(65535)
            .into_iter()
            .map(Message::MultipartReply)
            .collect(),
            other => vec![error_reply(BadRequest::BAD_TYPE, xid, &other)],
        }
    }
}

pub(super) fn test_options() -> Options {
    Options {
        inactivity_probe: Duration::from_secs(30),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        io_timeout: Duration::from_secs(5),
        queue_len: 64,
        ..Options::default()
    }
}

pub(super) fn start(targets: &[&str], options: Options) -> (Controllers, Arc<TestSwitch>) {
    let switch = Arc::new(TestSwitch::default());
    let targets = targets.iter().map(|t| t.parse().unwrap()).collect();
    let c = Controllers::start_with(
        targets,
        None,
        switch.clone(),
        &tokio::runtime::Handle::current(),
        options,
    )
    .unwrap();
    (c, switch)
}

/// The bound address of the first passive target, once listening.
pub(super) async fn listen_addr(c: &Controllers) -> std::net::SocketAddr {
    wait_for(|| c.status().iter().find_map(|t| t.local_addr)).await
}

/// Poll `f` every 10 ms until it gives `Some`, for at most [`WAIT`].
pub(super) async fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A scripted controller speaking raw OpenFlow over any stream.
pub(super) struct FakeController<S> {
    pub stream: S,
    rx: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> FakeController<S> {
    pub fn new(stream: S) -> Self {
        FakeController {
            stream,
            rx: Vec::new(),
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    pub async fn send(&mut self, xid: u32, msg: &Message) {
        self.send_raw(&encode(xid, msg)).await;
    }

    /// The next whole frame, `None` on EOF or a read error.
    pub async fn recv_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(len) = frame_len(&self.rx) {
                if self.rx.len() >= len {
                    return Some(self.rx.drain(..len).collect());
                }
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("read timed out")
                .ok()?;
            if n == 0 {
                return None;
            }
            self.rx.extend_from_slice(&buf[..n]);
        }
    }

    pub async fn recv(&mut self) -> (Header, Message) {
        let frame = self.recv_frame().await.expect("connection closed");
        decode(&frame).unwrap()
    }

    /// Exchange HELLOs offering 1.3.
    pub async fn handshake(&mut self) {
        self.send(1, &Message::Hello(Hello::with_versions(&[4])))
            .await;
        let (h, msg) = self.recv().await;
        assert_eq!(h.version, 4);
        assert!(matches!(msg, Message::Hello(_)), "{msg:?}");
    }

    /// Send `msg` and return the first reply (skipping echo requests).
    pub async fn request(&mut self, xid: u32, msg: &Message) -> (Header, Message) {
        self.send(xid, msg).await;
        loop {
            let (h, m) = self.recv().await;
            if !matches!(m, Message::EchoRequest(_)) {
                return (h, m);
            }
        }
    }

    /// Wait until the switch closes the connection.
    pub async fn expect_closed(&mut self) {
        while self.recv_frame().await.is_some() {}
    }
}

pub(super) fn features_request_reply_ok(h: &Header, msg: &Message, xid: u32) {
    assert_eq!(h.xid, xid);
    match msg {
        Message::FeaturesReply(f) => assert_eq!(f.datapath_id, DPID),
        other => panic!("expected FEATURES_REPLY, got {other:?}"),
    }
}

/// The (type, code) of an OFPT_ERROR.
pub(super) fn error_of(msg: &Message) -> crate::wire::error::OfError {
    match msg {
        Message::Error(crate::wire::switch::ErrorMsg::Standard { error, .. }) => *error,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[allow(dead_code)]
pub(super) fn multipart_reply(msg: &Message) -> &MultipartReply {
    match msg {
        Message::MultipartReply(r) => r,
        other => panic!("expected a multipart reply, got {other:?}"),
    }
}

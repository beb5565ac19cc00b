//! Plain-TCP sessions: passive and active targets, negotiation, keepalive,
//! reconnection, roles across two controllers, async filtering.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::wire::error::{HelloFailed, RoleRequestFailed};
use crate::wire::flow_mod::FlowMod;
use crate::wire::packet::{PacketIn, PacketInReason};
use crate::wire::port::{PortReason, PortStatus};
use crate::wire::switch::{AsyncConfig, ControllerRole, RoleMsg};

type Tcp = FakeController<TcpStream>;

async fn connect(addr: std::net::SocketAddr) -> Tcp {
    FakeController::new(TcpStream::connect(addr).await.unwrap())
}

fn role(role: ControllerRole, generation_id: u64) -> Message {
    Message::RoleRequest(RoleMsg {
        role,
        generation_id,
    })
}

fn packet_in(reason: PacketInReason) -> Message {
    Message::PacketIn(PacketIn {
        buffer_id: u32::MAX,
        total_len: 4,
        reason,
        table_id: 0,
        cookie: 0,
        r#match: Default::default(),
        data: vec![1, 2, 3, 4],
    })
}

/// Wait until nothing accepts on `addr` any more (listener tasks end
/// asynchronously, at their next poll).
async fn listener_closed(addr: std::net::SocketAddr) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "listener still open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn port_status() -> Message {
    Message::PortStatus(PortStatus {
        reason: PortReason::Modify,
        desc: PortDesc::default(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ptcp_features_request_gets_handler_reply() {
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], test_options());
    let addr = listen_addr(&c).await;
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    let mut watch = c.watch_connected();
    assert_eq!(c.connected(), 0);

    let mut ctl = connect(addr).await;
    ctl.handshake().await;
    let (h, msg) = ctl.request(7, &Message::FeaturesRequest).await;
    features_request_reply_ok(&h, &msg, 7);
    tokio::time::timeout(WAIT, watch.wait_for(|n| *n == 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.connected(), 1);

    // Echo is answered by the layer itself.
    let (h, msg) = ctl.request(8, &Message::EchoRequest(b"hi".to_vec())).await;
    assert_eq!((h.xid, msg), (8, Message::EchoReply(b"hi".to_vec())));

    // A malformed message gets an error and the session goes on.
    ctl.send_raw(&[4, 99, 0, 8, 0, 0, 0, 9]).await;
    let (h, msg) = ctl.recv().await;
    assert_eq!((h.xid, error_of(&msg)), (9, BadRequest::BAD_TYPE));
    let (h, msg) = ctl.request(10, &Message::BarrierRequest).await;
    assert_eq!((h.xid, msg), (10, Message::BarrierReply));

    let status = c.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].state, TargetState::Listening);
    assert_eq!(status[0].connections.len(), 1);
    assert!(status[0].connections[0].negotiated);
    assert_eq!(status[0].connections[0].role, ControllerRole::Equal);

    drop(ctl);
    tokio::time::timeout(WAIT, watch.wait_for(|n| *n == 0))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openflow_1_0_hello_gets_hello_failed() {
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], test_options());
    let mut ctl = connect(listen_addr(&c).await).await;
    // An OpenFlow 1.0 HELLO: version 1, no elements.
    ctl.send_raw(&[1, 0, 0, 8, 0, 0, 0, 5]).await;
    let ours = ctl.recv_frame().await.unwrap();
    assert_eq!(ours[1], 0, "our HELLO comes first");
    let mut err = ctl.recv_frame().await.unwrap();
    assert_eq!(err[0], 1, "error in the peer's version");
    err[0] = 4;
    let (h, msg) = decode(&err).unwrap();
    assert_eq!((h.xid, error_of(&msg)), (5, HelloFailed::INCOMPATIBLE));
    ctl.expect_closed().await;
    assert_eq!(c.connected(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_keepalive_closes_idle_connection() {
    let mut opts = test_options();
    opts.inactivity_probe = Duration::from_millis(200);
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], opts);
    let mut ctl = connect(listen_addr(&c).await).await;
    ctl.handshake().await;
    let started = tokio::time::Instant::now();
    // The switch probes after 200 ms of silence; we never answer.
    let (_, msg) = ctl.recv().await;
    assert!(matches!(msg, Message::EchoRequest(_)), "{msg:?}");
    ctl.expect_closed().await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(350), "{elapsed:?}");
    wait_for(|| (c.connected() == 0).then_some(())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_keepalive_keeps_responsive_connection() {
    let mut opts = test_options();
    opts.inactivity_probe = Duration::from_millis(100);
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], opts);
    let mut ctl = connect(listen_addr(&c).await).await;
    ctl.handshake().await;
    for _ in 0..4 {
        let (h, msg) = ctl.recv().await;
        assert!(matches!(msg, Message::EchoRequest(_)));
        ctl.send(h.xid, &Message::EchoReply(Vec::new())).await;
    }
    assert_eq!(c.connected(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_tcp_reconnects_after_controller_restart() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (c, _sw) = start(&[&format!("tcp:{addr}")], test_options());

    let (sock, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut ctl = FakeController::new(sock);
    ctl.handshake().await;
    let (h, msg) = ctl.request(3, &Message::FeaturesRequest).await;
    features_request_reply_ok(&h, &msg, 3);
    wait_for(|| (c.status()[0].state == TargetState::Connected).then_some(())).await;

    // The controller goes away entirely.
    drop(ctl);
    drop(listener);
    wait_for(|| (c.connected() == 0).then_some(())).await;
    // Attempts fail (connection refused) and back off.
    wait_for(|| c.status()[0].last_error.clone()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // It comes back on the same port; the switch reconnects by itself.
    let listener = TcpListener::bind(addr).await.unwrap();
    let (sock, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut ctl = FakeController::new(sock);
    ctl.handshake().await;
    let (h, msg) = ctl.request(4, &Message::FeaturesRequest).await;
    features_request_reply_ok(&h, &msg, 4);
    wait_for(|| (c.connected() == 1).then_some(())).await;
    let status = &c.status()[0];
    assert_eq!(status.state, TargetState::Connected);
    assert_eq!(status.last_error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_slave_arbitration_and_is_slave() {
    let (c, sw) = start(&["ptcp:0:127.0.0.1"], test_options());
    let addr = listen_addr(&c).await;
    let mut a = connect(addr).await;
    a.handshake().await;
    let mut b = connect(addr).await;
    b.handshake().await;

    // A becomes master with generation 1.
    let (h, msg) = a.request(1, &role(ControllerRole::Master, 1)).await;
    assert_eq!(h.xid, 1);
    assert_eq!(
        msg,
        Message::RoleReply(RoleMsg {
            role: ControllerRole::Master,
            generation_id: 1
        })
    );
    // B is still EQUAL: its flow mod reaches the switch.
    b.send(2, &Message::FlowMod(FlowMod::default())).await;
    let (h, msg) = b.request(3, &Message::BarrierRequest).await;
    assert_eq!((h.xid, msg), (3, Message::BarrierReply));
    assert_eq!(sw.flow_mods.load(Ordering::SeqCst), 1);

    // B becomes slave: state-changing messages are refused with IS_SLAVE,
    // carrying B's xid and the start of the offending message.
    let (_, msg) = b.request(4, &role(ControllerRole::Slave, 1)).await;
    assert!(matches!(msg, Message::RoleReply(r) if r.role == ControllerRole::Slave));
    let (h, msg) = b.request(5, &Message::FlowMod(FlowMod::default())).await;
    assert_eq!((h.xid, error_of(&msg)), (5, BadRequest::IS_SLAVE));
    if let Message::Error(crate::wire::switch::ErrorMsg::Standard { data, .. }) = &msg {
        let sent = encode(5, &Message::FlowMod(FlowMod::default()));
        assert_eq!(data[..], sent[..sent.len().min(64)]);
    }
    assert_eq!(sw.flow_mods.load(Ordering::SeqCst), 1);
    // Reads still work for a slave.
    let (h, msg) = b.request(6, &Message::FeaturesRequest).await;
    features_request_reply_ok(&h, &msg, 6);

    // A stale generation id is refused.
    let (h, msg) = b.request(7, &role(ControllerRole::Master, 0)).await;
    assert_eq!((h.xid, error_of(&msg)), (7, RoleRequestFailed::STALE));

    // B takes over with a newer generation: A is demoted silently.
    let (_, msg) = b.request(8, &role(ControllerRole::Master, 2)).await;
    assert!(
        matches!(msg, Message::RoleReply(r) if r.role == ControllerRole::Master && r.generation_id == 2)
    );
    let (_, msg) = a.request(9, &role(ControllerRole::NoChange, 0)).await;
    assert_eq!(
        msg,
        Message::RoleReply(RoleMsg {
            role: ControllerRole::Slave,
            generation_id: 2
        })
    );
    let (h, msg) = a.request(10, &Message::FlowMod(FlowMod::default())).await;
    assert_eq!((h.xid, error_of(&msg)), (10, BadRequest::IS_SLAVE));

    let roles: Vec<ControllerRole> = c.status()[0].connections.iter().map(|c| c.role).collect();
    assert_eq!(roles, vec![ControllerRole::Slave, ControllerRole::Master]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_async_follows_role_and_async_config() {
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], test_options());
    let addr = listen_addr(&c).await;
    let mut a = connect(addr).await;
    a.handshake().await;
    let mut b = connect(addr).await;
    b.handshake().await;
    a.request(1, &role(ControllerRole::Master, 1)).await;
    b.request(1, &role(ControllerRole::Slave, 1)).await;
    let ids: Vec<ConnId> = c.status()[0].connections.iter().map(|c| c.id).collect();
    let (id_a, id_b) = (ids[0], ids[1]);
    assert_eq!(c.role(id_a), Some(ControllerRole::Master));

    // Packet-in: master only. Port status: both.
    assert_eq!(c.send_async(packet_in(PacketInReason::NoMatch)), 1);
    assert_eq!(c.send_async(port_status()), 2);
    // INVALID_TTL packet-ins are off by default.
    assert_eq!(c.send_async(packet_in(PacketInReason::InvalidTtl)), 0);
    let (h, msg) = a.recv().await;
    assert_eq!(h.xid, 0);
    assert!(matches!(msg, Message::PacketIn(_)), "{msg:?}");
    assert!(matches!(a.recv().await.1, Message::PortStatus(_)));
    // B got the port status and nothing before it.
    assert!(matches!(b.recv().await.1, Message::PortStatus(_)));

    // B asks for NO_MATCH packet-ins as a slave too, and no port status.
    let cfg = AsyncConfig {
        packet_in_mask: [0b11, 0b01],
        port_status_mask: [0b111, 0],
        flow_removed_mask: [0b1111, 0],
    };
    b.send(2, &Message::SetAsync(cfg)).await;
    let (h, msg) = b.request(3, &Message::GetAsyncRequest).await;
    assert_eq!((h.xid, msg), (3, Message::GetAsyncReply(cfg)));
    assert_eq!(c.send_async(packet_in(PacketInReason::NoMatch)), 2);
    assert_eq!(c.send_async(port_status()), 1);
    assert!(matches!(b.recv().await.1, Message::PacketIn(_)));
    // Prove B received nothing else: a direct message arrives next.
    assert!(c.send_to(id_b, 77, Message::EchoRequest(Vec::new())));
    let (h, msg) = b.recv().await;
    assert_eq!((h.xid, msg), (77, Message::EchoRequest(Vec::new())));
    assert!(!c.send_to(ConnId(9999), 1, Message::BarrierReply));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_targets_closes_removed_and_keeps_kept() {
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], test_options());
    let addr = listen_addr(&c).await;
    let kept: Target = "ptcp:0:127.0.0.1".parse().unwrap();
    let mut ctl = connect(addr).await;
    ctl.handshake().await;
    wait_for(|| (c.connected() == 1).then_some(())).await;

    // Adding a target keeps the existing one (and its session).
    let extra: Target = "ptcp:0:[::1]".parse().unwrap();
    c.set_targets(vec![kept.clone(), extra.clone()]).unwrap();
    let (h, msg) = ctl.request(2, &Message::FeaturesRequest).await;
    features_request_reply_ok(&h, &msg, 2);
    assert_eq!(c.status().len(), 2);

    // Removing it closes the session.
    c.set_targets(vec![extra]).unwrap();
    ctl.expect_closed().await;
    wait_for(|| (c.connected() == 0).then_some(())).await;
    listener_closed(addr).await;

    // TLS targets need TLS files.
    assert!(matches!(
        c.set_targets(vec!["pssl:0:127.0.0.1".parse().unwrap()]),
        Err(ConnError::TlsRequired(_))
    ));
    assert_eq!(c.status().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_closes_everything() {
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], test_options());
    let addr = listen_addr(&c).await;
    let mut ctl = connect(addr).await;
    ctl.handshake().await;
    let watch = c.watch_connected();
    drop(c);
    ctl.expect_closed().await;
    let mut watch = watch;
    tokio::time::timeout(WAIT, watch.wait_for(|n| *n == 0))
        .await
        .unwrap()
        .ok();
    listener_closed(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_bind_failure_backs_off_and_reports() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    // SO_REUSEADDR does not allow two listeners on one port.
    let (c, _sw) = start(&[&format!("ptcp:{port}:127.0.0.1")], test_options());
    let err = wait_for(|| c.status()[0].last_error.clone()).await;
    assert!(err.contains("bind"), "{err}");
    assert_eq!(c.status()[0].state, TargetState::Backoff);
    drop(taken);
    let addr = listen_addr(&c).await;
    assert_eq!(addr.port(), port);
    let mut ctl = connect(addr).await;
    ctl.handshake().await;
}

/// A connection from `ip` (a loopback address) to `addr`.
async fn connect_from(ip: [u8; 4], addr: std::net::SocketAddr) -> Tcp {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind((std::net::Ipv4Addr::from(ip), 0).into()).unwrap();
    FakeController::new(sock.connect(addr).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_caps_are_refused_and_counted() {
    let mut opts = test_options();
    opts.max_connections = 3;
    opts.max_per_source = 2;
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], opts);
    let addr = listen_addr(&c).await;
    let mut a = connect_from([127, 0, 0, 1], addr).await;
    let mut b = connect_from([127, 0, 0, 1], addr).await;
    a.handshake().await;
    b.handshake().await;
    // A third from the same source: closed at once, counted.
    let mut refused = connect_from([127, 0, 0, 1], addr).await;
    refused.expect_closed().await;
    assert_eq!(c.refused(), 1);
    // Another source still gets in, up to the total.
    let mut d = connect_from([127, 0, 0, 2], addr).await;
    d.handshake().await;
    let mut over = connect_from([127, 0, 0, 3], addr).await;
    over.expect_closed().await;
    assert_eq!(c.refused(), 2);
    wait_for(|| (c.connected() == 3).then_some(())).await;
    // A place freed is a place taken again.
    assert_eq!(c.accepted(), 3);
    drop(a);
    wait_for(|| (c.accepted() == 2).then_some(())).await;
    let mut again = connect_from([127, 0, 0, 1], addr).await;
    again.handshake().await;
    assert_eq!(c.refused(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_ins_past_a_connections_budget_are_counted_not_sent() {
    let mut opts = test_options();
    opts.packet_in_limit = Some(crate::conn::limit::PacketInRate { rate: 1, burst: 5 });
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], opts);
    let mut a = connect(listen_addr(&c).await).await;
    a.handshake().await;
    wait_for(|| (c.connected() == 1).then_some(())).await;
    let sent: usize = (0..20)
        .map(|_| c.send_async(packet_in(PacketInReason::NoMatch)))
        .sum();
    assert_eq!(sent, 5, "the burst");
    assert_eq!(c.rate_limited(), 15);
    // Other asynchronous messages are not limited.
    assert_eq!(c.send_async(port_status()), 1);
    for _ in 0..5 {
        assert!(matches!(a.recv().await.1, Message::PacketIn(_)));
    }
    assert!(matches!(a.recv().await.1, Message::PortStatus(_)));
}

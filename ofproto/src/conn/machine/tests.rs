//! Unit tests of the connection state machine: byte fixtures in, bytes and
//! events out, time passed by hand.

use super::*;
use crate::wire::error::{BadRequest, HelloFailed};
use crate::wire::flow_mod::FlowMod;
use crate::wire::header::MsgType;
use crate::wire::packet::PacketIn;
use crate::wire::switch::{FeaturesReply, Hello};
use crate::wire::{decode, encode};

const PROBE: Duration = Duration::from_secs(5);

fn cfg() -> Config {
    Config {
        inactivity_probe: PROBE,
    }
}

/// Decode every message in `bytes` (which must be whole messages).
fn messages(bytes: &[u8]) -> Vec<(Header, Message)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(len) = frame_len(rest) {
        let (frame, tail) = rest.split_at(len);
        match decode(frame) {
            Ok(m) => out.push(m),
            // Tests read our own output, which must always decode...
            // except HELLO_FAILED errors sent with an older version byte.
            Err(_) => {
                let mut patched = frame.to_vec();
                patched[0] = OFP_VERSION;
                out.push(decode(&patched).unwrap());
            }
        }
        rest = tail;
    }
    assert!(rest.is_empty(), "partial message in output");
    out
}

fn drain(c: &mut Connection) -> Vec<(Header, Message)> {
    c.poll_transmit().map(|b| messages(&b)).unwrap_or_default()
}

fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// A HELLO with the given header version and bitmap.
fn hello_bytes(version: u8, bitmap: Option<&[u8]>, xid: u32) -> Vec<u8> {
    let hello = match bitmap {
        Some(v) => Hello::with_versions(v),
        None => Hello::default(),
    };
    let mut b = encode(xid, &Message::Hello(hello));
    b[0] = version;
    b
}

/// A connection past negotiation, with its output drained.
fn connected(now: Instant) -> Connection {
    let mut c = Connection::new(now, cfg());
    c.handle_input(&hello_bytes(4, Some(&[1, 4]), 1), now);
    assert!(c.is_connected());
    drain(&mut c);
    assert_eq!(events(&mut c), vec![Event::Connected { version: 4 }]);
    c
}

#[test]
fn sends_hello_with_only_1_3_in_bitmap() {
    let now = Instant::now();
    let mut c = Connection::new(now, cfg());
    assert_eq!(c.state(), State::HelloWait);
    let out = drain(&mut c);
    assert_eq!(out.len(), 1);
    let (h, msg) = &out[0];
    assert_eq!(h.version, 4);
    let Message::Hello(hello) = msg else {
        panic!("not a hello: {msg:?}")
    };
    assert_eq!(hello.version_bitmap(), Some(&[1u32 << 4][..]));
    assert!(events(&mut c).is_empty());
}

#[test]
fn negotiates_with_bitmap_including_1_3() {
    let now = Instant::now();
    let mut c = Connection::new(now, cfg());
    drain(&mut c);
    c.handle_input(&hello_bytes(6, Some(&[1, 4, 6]), 9), now);
    assert!(c.is_connected());
    assert_eq!(events(&mut c), vec![Event::Connected { version: 4 }]);
    assert!(c.poll_transmit().is_none());
}

#[test]
fn negotiates_without_bitmap_when_header_version_at_least_4() {
    let now = Instant::now();
    for v in [4u8, 5] {
        let mut c = Connection::new(now, cfg());
        c.handle_input(&hello_bytes(v, None, 1), now);
        assert!(c.is_connected(), "header version {v}");
    }
}

#[test]
fn only_1_0_gets_hello_failed() {
    let now = Instant::now();
    for (version, bitmap) in [
        (1u8, None),
        (1, Some(&[1u8][..])),
        (6, Some(&[1, 5, 6][..])),
    ] {
        let mut c = Connection::new(now, cfg());
        drain(&mut c);
        let hello = hello_bytes(version, bitmap, 0x42);
        c.handle_input(&hello, now);
        assert!(c.is_closed());
        let raw = c.poll_transmit().unwrap();
        // The error speaks the peer's (older) version, or ours.
        assert_eq!(raw[0], version.min(4));
        let out = messages(&raw);
        assert_eq!(out.len(), 1);
        let (h, Message::Error(ErrorMsg::Standard { error, data })) = &out[0] else {
            panic!("not an error: {out:?}")
        };
        assert_eq!(h.xid, 0x42);
        assert_eq!(*error, HelloFailed::INCOMPATIBLE);
        let text = std::str::from_utf8(data).unwrap();
        assert!(text.is_ascii() && text.contains("1.3"), "{text}");
        let ev = events(&mut c);
        assert!(matches!(
            ev[..],
            [Event::Closed(CloseReason::HelloFailed(_))]
        ));
    }
}

#[test]
fn non_hello_first_is_refused() {
    let now = Instant::now();
    let mut c = Connection::new(now, cfg());
    drain(&mut c);
    c.handle_input(&encode(3, &Message::FeaturesRequest), now);
    assert!(c.is_closed());
    let out = drain(&mut c);
    assert!(matches!(
        &out[0].1,
        Message::Error(ErrorMsg::Standard { error, .. }) if *error == HelloFailed::INCOMPATIBLE
    ));
}

#[test]
fn peer_error_during_hello_closes() {
    let now = Instant::now();
    let mut c = Connection::new(now, cfg());
    drain(&mut c);
    let err = Message::Error(ErrorMsg::Standard {
        error: HelloFailed::INCOMPATIBLE,
        data: b"no".to_vec(),
    });
    let mut bytes = encode(1, &err);
    bytes[0] = 1; // an OpenFlow 1.0 peer refusing us
    c.handle_input(&bytes, now);
    assert!(c.is_closed());
    assert!(c.poll_transmit().is_none());
    assert!(matches!(
        events(&mut c).last(),
        Some(Event::Closed(CloseReason::PeerHelloFailed(_)))
    ));
}

#[test]
fn requests_surface_in_order_across_split_input() {
    let now = Instant::now();
    let mut c = connected(now);
    let mut stream = Vec::new();
    stream.extend(encode(10, &Message::FeaturesRequest));
    stream.extend(encode(11, &Message::FlowMod(FlowMod::default())));
    stream.extend(encode(12, &Message::BarrierRequest));
    // Feed one byte at a time: framing must reassemble.
    for b in &stream {
        c.handle_input(std::slice::from_ref(b), now);
    }
    let ev = events(&mut c);
    assert_eq!(
        ev,
        vec![
            Event::Request {
                xid: 10,
                msg: Message::FeaturesRequest
            },
            Event::Request {
                xid: 11,
                msg: Message::FlowMod(FlowMod::default())
            },
            Event::Request {
                xid: 12,
                msg: Message::BarrierRequest
            },
        ]
    );
    // Replies go out with the owner's xids, in call order.
    assert!(c.send(10, &Message::FeaturesReply(FeaturesReply::default())));
    assert!(c.send(12, &Message::BarrierReply));
    let out = drain(&mut c);
    assert_eq!(out[0].0.xid, 10);
    assert_eq!(out[1].0.xid, 12);
    assert_eq!(out[1].1, Message::BarrierReply);
}

#[test]
fn hello_and_requests_in_one_read() {
    let now = Instant::now();
    let mut c = Connection::new(now, cfg());
    let mut bytes = hello_bytes(4, Some(&[4]), 1);
    bytes.extend(encode(2, &Message::FeaturesRequest));
    c.handle_input(&bytes, now);
    assert_eq!(
        events(&mut c),
        vec![
            Event::Connected { version: 4 },
            Event::Request {
                xid: 2,
                msg: Message::FeaturesRequest
            }
        ]
    );
}

#[test]
fn malformed_message_gets_error_and_connection_goes_on() {
    let now = Instant::now();
    let mut c = connected(now);
    // A FLOW_MOD cut short: the header says 16 bytes, the body is garbage.
    let mut bad = vec![4, u8::from(MsgType::FlowMod), 0, 80, 0, 0, 0, 77];
    bad.extend([0xab; 72]);
    c.handle_input(&bad, now);
    let out = drain(&mut c);
    assert_eq!(out.len(), 1);
    let (h, Message::Error(ErrorMsg::Standard { data, .. })) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(h.xid, 77);
    assert_eq!(data[..], bad[..64]);
    assert!(c.is_connected());
    // Unknown type and wrong version: errors, still connected.
    c.handle_input(&[4, 99, 0, 8, 0, 0, 0, 5], now);
    c.handle_input(&[5, 5, 0, 8, 0, 0, 0, 6], now);
    let out = drain(&mut c);
    let codes: Vec<_> = out
        .iter()
        .map(|(h, m)| match m {
            Message::Error(ErrorMsg::Standard { error, .. }) => (h.xid, *error),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        vec![(5, BadRequest::BAD_TYPE), (6, BadRequest::BAD_VERSION)]
    );
    c.handle_input(&encode(8, &Message::FeaturesRequest), now);
    assert_eq!(events(&mut c).len(), 1);
}

#[test]
fn switch_to_controller_messages_are_bad_type() {
    let now = Instant::now();
    let mut c = connected(now);
    let pin = Message::PacketIn(PacketIn {
        buffer_id: u32::MAX,
        total_len: 0,
        reason: 0.into(),
        table_id: 0,
        cookie: 0,
        r#match: Default::default(),
        data: Vec::new(),
    });
    c.handle_input(&encode(4, &pin), now);
    c.handle_input(&encode(5, &Message::BarrierReply), now);
    let out = drain(&mut c);
    assert_eq!(out.len(), 2);
    for (h, m) in &out {
        assert!(
            matches!(m, Message::Error(ErrorMsg::Standard { error, .. }) if *error == BadRequest::BAD_TYPE),
            "{h:?} {m:?}"
        );
    }
    assert!(events(&mut c).is_empty());
}

#[test]
fn header_length_below_8_closes() {
    let now = Instant::now();
    let mut c = connected(now);
    c.handle_input(&[4, 5, 0, 4, 0, 0, 0, 9, 1, 2, 3], now);
    assert!(c.is_closed());
    let out = drain(&mut c);
    assert!(matches!(
        &out[..],
        [(h, Message::Error(ErrorMsg::Standard { error, .. }))]
            if h.xid == 9 && *error == BadRequest::BAD_LEN
    ));
    assert!(matches!(
        events(&mut c)[..],
        [Event::Closed(CloseReason::FramingLost(4))]
    ));
    // Nothing more is taken or sent.
    c.handle_input(&encode(1, &Message::FeaturesRequest), now);
    assert!(events(&mut c).is_empty());
    assert!(!c.send(1, &Message::BarrierReply));
}

#[test]
fn answers_echo_request_with_same_payload_and_xid() {
    let now = Instant::now();
    let mut c = connected(now);
    c.handle_input(&encode(33, &Message::EchoRequest(b"ping".to_vec())), now);
    let out = drain(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.xid, 33);
    assert_eq!(out[0].1, Message::EchoReply(b"ping".to_vec()));
    assert!(events(&mut c).is_empty());
}

#[test]
fn echo_probe_then_timeout() {
    let t0 = Instant::now();
    let mut c = connected(t0);
    assert_eq!(c.poll_timeout(), Some(t0 + PROBE));
    c.handle_timeout(t0 + PROBE - Duration::from_millis(1));
    assert!(c.poll_transmit().is_none());
    c.handle_timeout(t0 + PROBE);
    let out = drain(&mut c);
    assert!(matches!(out[..], [(_, Message::EchoRequest(_))]));
    assert_eq!(c.poll_timeout(), Some(t0 + PROBE * 2));
    c.handle_timeout(t0 + PROBE * 2);
    assert!(c.is_closed());
    assert!(matches!(
        events(&mut c)[..],
        [Event::Closed(CloseReason::ProbeTimeout(_))]
    ));
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn any_input_answers_the_probe() {
    let t0 = Instant::now();
    let mut c = connected(t0);
    c.handle_timeout(t0 + PROBE);
    let out = drain(&mut c);
    let (probe_header, _) = out[0];
    // The controller answers with a reply (or any message at all).
    let t1 = t0 + PROBE + Duration::from_secs(1);
    c.handle_input(&encode(probe_header.xid, &Message::EchoReply(vec![])), t1);
    assert!(c.is_connected());
    assert_eq!(c.poll_timeout(), Some(t1 + PROBE));
    c.handle_timeout(t0 + PROBE * 2);
    assert!(c.is_connected());
}

#[test]
fn hello_timeout() {
    let t0 = Instant::now();
    let mut c = Connection::new(t0, cfg());
    assert_eq!(c.poll_timeout(), Some(t0 + PROBE * 2));
    c.handle_timeout(t0 + PROBE * 2);
    assert!(c.is_closed());
    assert!(matches!(
        events(&mut c)[..],
        [Event::Closed(CloseReason::HelloTimeout(_))]
    ));
}

#[test]
fn zero_probe_disables_keepalive() {
    let t0 = Instant::now();
    let mut c = Connection::new(
        t0,
        Config {
            inactivity_probe: Duration::ZERO,
        },
    );
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(t0 + Duration::from_secs(3600));
    assert!(!c.is_closed());
}

#[test]
fn peer_errors_are_events() {
    let now = Instant::now();
    let mut c = connected(now);
    let err = ErrorMsg::Standard {
        error: BadRequest::BAD_TYPE,
        data: vec![1, 2],
    };
    c.handle_input(&encode(3, &Message::Error(err.clone())), now);
    assert_eq!(
        events(&mut c),
        vec![Event::PeerError { xid: 3, error: err }]
    );
    assert!(c.is_connected());
}

#[test]
fn eof_and_local_close_emit_one_closed_event() {
    let now = Instant::now();
    let mut c = connected(now);
    c.handle_eof();
    c.close_locally("again");
    assert_eq!(events(&mut c), vec![Event::Closed(CloseReason::PeerClosed)]);
}

#[test]
fn xids_skip_zero_on_wrap() {
    let mut c = Connection::new(Instant::now(), cfg());
    c.next_xid = u32::MAX;
    assert_eq!(c.next_xid(), u32::MAX);
    assert_eq!(c.next_xid(), 1);
}

#[test]
fn garbage_never_panics() {
    // A cheap deterministic fuzz: random bytes after negotiation.
    let now = Instant::now();
    let mut seed = 0x1234_5678_u32;
    for _ in 0..200 {
        let mut c = connected(now);
        let mut buf = Vec::new();
        for _ in 0..300 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            buf.push(seed as u8);
        }
        // Keep the version byte plausible half the time.
        if seed & 1 == 0 {
            buf[0] = 4;
        }
        c.handle_input(&buf, now);
        let _ = c.poll_transmit();
        let _ = events(&mut c);
    }
}

#[test]
fn oversize_message_is_dropped_not_garbled() {
    let now = Instant::now();
    let mut c = connected(now);
    assert!(!c.send(1, &Message::EchoReply(vec![0; 70_000])));
    assert!(c.poll_transmit().is_none());
    assert!(c.send(2, &Message::EchoReply(vec![0; 65_535 - 8])));
    let out = drain(&mut c);
    assert_eq!(out[0].0.length, 65_535);
    assert!(c.is_connected());
}

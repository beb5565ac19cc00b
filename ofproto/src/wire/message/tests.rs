//! Tests for the message codec: byte fixtures (OpenFlow 1.3 hex dumps from
//! Open vSwitch's tests/ofp-print.at; where OVS only has an OF1.1/1.2 dump
//! of a layout that OF1.3 kept unchanged, the version byte is changed to
//! 0x04 and noted), the error-code rules, and property tests.

mod fixtures;
mod props;

use super::*;
use crate::wire::error::OfError;

/// Bytes from a hex dump, ignoring whitespace.
pub(super) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_hexdigit())
        .map(|b| (b as char).to_digit(16).unwrap() as u8)
        .collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// Decode a canonical fixture, check it re-encodes to the same bytes, and
/// return the message.
pub(super) fn canonical(s: &str) -> (Header, Message) {
    let bytes = hex(s);
    let (h, m) = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(encode(h.xid, &m), bytes, "re-encoding {m:?}");
    (h, m)
}

fn rejected(bytes: &[u8]) -> (u32, OfError, Vec<u8>) {
    match decode(bytes) {
        Err(DecodeFailure::Rejected {
            header,
            error,
            data,
        }) => (header.xid, error.error, data),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn short_buffers_are_incomplete() {
    for n in 0..8 {
        let b = vec![4u8; n];
        assert_eq!(decode(&b), Err(DecodeFailure::Incomplete { have: n }));
        assert_eq!(frame_len(&b), None);
    }
}

#[test]
fn frame_len_reads_the_header_and_never_returns_less_than_8() {
    assert_eq!(frame_len(&hex("04 00 00 10 00 00 00 01")), Some(16));
    assert_eq!(frame_len(&hex("04 00 00 03 00 00 00 01")), Some(8));
    assert_eq!(frame_len(&hex("04 00 ff ff 00 00 00 01 02")), Some(65535));
}

#[test]
fn length_below_8_is_bad_len() {
    let (xid, e, data) = rejected(&hex("04 02 00 04 12 34 56 78"));
    assert_eq!((xid, e), (0x1234_5678, BadRequest::BAD_LEN));
    assert_eq!(data, hex("04 02 00 04 12 34 56 78"));
}

#[test]
fn length_different_from_buffer_is_bad_len() {
    let (_, e, _) = rejected(&hex("04 02 00 0c 00 00 00 01 aa bb"));
    assert_eq!(e, BadRequest::BAD_LEN);
    let (_, e, _) = rejected(&hex("04 02 00 08 00 00 00 01 aa bb"));
    assert_eq!(e, BadRequest::BAD_LEN);
}

#[test]
fn wrong_version_is_bad_version_except_hello() {
    let (xid, e, _) = rejected(&hex("01 05 00 08 00 00 00 09"));
    assert_eq!((xid, e), (9, BadRequest::BAD_VERSION));
    let (_, e, _) = rejected(&hex("05 02 00 08 00 00 00 09"));
    assert_eq!(e, BadRequest::BAD_VERSION);
    for v in [1u8, 3, 5, 6, 0x3f] {
        let (h, m) = decode(&[v, 0, 0, 8, 0, 0, 0, 1]).unwrap();
        assert_eq!(h.version, v);
        assert_eq!(m, Message::Hello(Hello::default()));
    }
}

#[test]
fn unknown_type_is_bad_type() {
    for t in [30u8, 31, 0x80, 0xff] {
        let (xid, e, _) = rejected(&[4, t, 0, 8, 0, 0, 0, 0x42]);
        assert_eq!((xid, e), (0x42, BadRequest::BAD_TYPE));
    }
}

#[test]
fn trailing_bytes_after_a_fixed_body_are_bad_len() {
    let (_, e, _) = rejected(&hex("04 05 00 09 00 00 00 01 00"));
    assert_eq!(e, BadRequest::BAD_LEN);
    let (_, e, _) = rejected(&hex("04 09 00 0e 00 00 00 01 00 00 00 80 00 00"));
    assert_eq!(e, BadRequest::BAD_LEN);
    let (_, e, _) = rejected(&hex("04 09 00 0a 00 00 00 01 00 00"));
    assert_eq!(e, BadRequest::BAD_LEN);
}

#[test]
fn experimenter_multipart_request_is_bad_experimenter() {
    let (xid, e, _) = rejected(&hex(
        "04 12 00 18 00 00 00 09 ff ff 00 00 00 00 00 00 00 00 23 20 00 00 00 01",
    ));
    assert_eq!((xid, e), (9, BadRequest::BAD_EXPERIMENTER));
}

#[test]
fn unknown_multipart_type_is_bad_multipart() {
    for t in ["00 0e", "00 0f", "ff fe"] {
        let (_, e, _) = rejected(&hex(&format!(
            "04 12 00 10 00 00 00 09 {t} 00 00 00 00 00 00"
        )));
        assert_eq!(e, BadRequest::BAD_MULTIPART);
        let (_, e, _) = rejected(&hex(&format!(
            "04 13 00 10 00 00 00 09 {t} 00 00 00 00 00 00"
        )));
        assert_eq!(e, BadRequest::BAD_MULTIPART);
    }
}

#[test]
fn error_data_is_the_first_64_bytes_and_error_reply_answers_it() {
    let mut bytes = hex("04 1f 00 64 00 00 00 77");
    bytes.resize(100, 0xab);
    let f = decode(&bytes).unwrap_err();
    assert_eq!(f.xid(), Some(0x77));
    let (xid, reply) = f.error_reply().unwrap();
    assert_eq!(xid, 0x77);
    let Message::Error(ErrorMsg::Standard { error, data }) = &reply else {
        panic!("{reply:?}")
    };
    assert_eq!(*error, BadRequest::BAD_TYPE);
    assert_eq!(data[..], bytes[..64]);
    // The reply itself encodes to a valid OFPT_ERROR: 12 + 64 bytes.
    let out = encode(xid, &reply);
    assert_eq!(out.len(), 76);
    assert_eq!(&out[..12], &hex("04 01 00 4c 00 00 00 77 00 01 00 01")[..]);
    assert_eq!(decode(&out).unwrap().1, reply);
    assert_eq!(DecodeFailure::Incomplete { have: 3 }.error_reply(), None);
}

#[test]
fn nicira_set_packet_in_format_decodes_as_experimenter() {
    let (h, m) = canonical("04 04 00 14 00 00 00 02 00 00 23 20 00 00 00 10 00 00 00 01");
    assert_eq!(h.xid, 2);
    assert_eq!(
        m,
        Message::Experimenter(Experimenter {
            experimenter: crate::wire::switch::NX_EXPERIMENTER_ID,
            exp_type: crate::wire::switch::NXT_SET_PACKET_IN_FORMAT,
            data: vec![0, 0, 0, 1],
        })
    );
    // Shorter than an experimenter header: BAD_LEN, still with its xid.
    let (xid, e, _) = rejected(&hex("04 04 00 0c 00 00 00 05 00 00 23 20"));
    assert_eq!((xid, e), (5, BadRequest::BAD_LEN));
}

#[test]
fn big_multipart_replies_split_with_reply_more() {
    use crate::wire::multipart::{MultipartReplyBody, PortStats, OFPMPF_REPLY_MORE};
    let ports: Vec<PortStats> = (0..1000)
        .map(|i| PortStats {
            port_no: i,
            ..PortStats::default()
        })
        .collect();
    let replies = MultipartReplyBody::PortStats(ports.clone()).into_replies(65535);
    assert!(replies.len() > 1);
    let mut again = Vec::new();
    for (i, r) in replies.iter().enumerate() {
        let more = i + 1 < replies.len();
        assert_eq!(r.flags == OFPMPF_REPLY_MORE, more);
        let bytes = encode(1, &Message::MultipartReply(r.clone()));
        assert!(bytes.len() <= 65535);
        let (_, m) = decode(&bytes).unwrap();
        let Message::MultipartReply(MultipartReply {
            body: MultipartReplyBody::PortStats(v),
            ..
        }) = m
        else {
            panic!()
        };
        again.extend(v);
    }
    assert_eq!(again, ports);
    let one = MultipartReplyBody::PortStats(Vec::new()).into_replies(65535);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].flags, 0);
}

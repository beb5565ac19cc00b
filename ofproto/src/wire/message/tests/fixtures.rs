//! Byte fixtures, one or more per message type. Hex from Open vSwitch's
//! tests/ofp-print.at unless marked "hand-written"; "(from OF1.x)" marks a
//! dump whose layout OF1.3 kept, with the version byte set to 0x04.

use super::{canonical, hex};
use crate::wire::error::{BadRequest, OfError};
use crate::wire::group::{GroupModCommand, GroupType};
use crate::wire::message::{decode, encode, Message};
use crate::wire::meter::{MeterBand, MeterModCommand};
use crate::wire::multipart::table_features::prop_type;
use crate::wire::multipart::{
    MultipartReply, MultipartReplyBody as Rep, MultipartRequest, MultipartRequestBody as Req,
    TableFeatureProp,
};
use crate::wire::packet::{FlowRemovedReason, PacketInReason, OFP_NO_BUFFER};
use crate::wire::port::{port_no, PortReason};
use crate::wire::queue::QueueProp;
use crate::wire::switch::{ControllerRole, ErrorMsg, HelloElement};

fn reply(s: &str) -> (u16, Rep) {
    match canonical(s).1 {
        Message::MultipartReply(MultipartReply { flags, body }) => (flags, body),
        m => panic!("{m:?}"),
    }
}

fn request(s: &str) -> (u16, Req) {
    match canonical(s).1 {
        Message::MultipartRequest(MultipartRequest { flags, body }) => (flags, body),
        m => panic!("{m:?}"),
    }
}

#[test]
fn hello() {
    // OF1.0 header, bitmap for 1.3..1.6.
    let b = hex("01 00 00 10 00 00 00 00 00 01 00 08 00 00 00 f0");
    let (h, Message::Hello(hello)) = decode(&b).unwrap() else {
        panic!()
    };
    assert_eq!(h.version, 1);
    assert_eq!(hello.version_bitmap(), Some(&[0xf0u32][..]));
    assert_eq!(hello.negotiate(h.version, &[4]), Some(4));
    // Bitmap element with 12-byte length (padded to 16), versions odd only.
    let b = hex("3f 00 00 18 00 00 00 00 00 01 00 0c aa aa aa aa aa aa aa aa 00 00 00 00");
    let (h, Message::Hello(hello)) = decode(&b).unwrap() else {
        panic!()
    };
    assert_eq!(
        hello.version_bitmap(),
        Some(&[0xaaaa_aaaa, 0xaaaa_aaaa][..])
    );
    assert_eq!(hello.negotiate(h.version, &[4]), None);
    assert_eq!(hello.negotiate(h.version, &[3, 4, 5]), Some(5));
    // An unknown element before the bitmap, and 3 stray bytes after it.
    let b = hex("01 00 00 1b 00 00 00 00 ff ff 00 06 01 02 00 00 00 01 00 08 00 00 00 f0 61 62 63");
    let (_, Message::Hello(hello)) = decode(&b).unwrap() else {
        panic!()
    };
    assert_eq!(
        hello.elements,
        vec![
            HelloElement::Unknown {
                kind: 0xffff,
                data: vec![1, 2]
            },
            HelloElement::VersionBitmap(vec![0xf0]),
        ]
    );
    // Garbage body ("extra data\n"): still a HELLO, with no elements.
    let b = hex("01 00 00 13 00 00 00 00 65 78 74 72 61 20 64 61 74 61 0a");
    let (h, Message::Hello(hello)) = decode(&b).unwrap() else {
        panic!()
    };
    assert!(hello.elements.is_empty());
    assert_eq!(hello.negotiate(h.version, &[4]), None);
    // Ours (hand-written): version 4 with a bitmap for 1.3 only.
    let (_, m) = canonical("04 00 00 10 00 00 00 07 00 01 00 08 00 00 00 10");
    assert_eq!(
        m,
        Message::Hello(crate::wire::switch::Hello::with_versions(&[4]))
    );
}

#[test]
fn error() {
    // Hand-written: BAD_REQUEST/BAD_TYPE carrying the offending header.
    let (h, m) = canonical("04 01 00 14 00 00 00 05 00 01 00 01 04 1f 00 08 00 00 00 05");
    assert_eq!(h.xid, 5);
    assert_eq!(
        m,
        Message::Error(ErrorMsg::Standard {
            error: BadRequest::BAD_TYPE,
            data: hex("04 1f 00 08 00 00 00 05"),
        })
    );
    // Hand-written: HELLO_FAILED/INCOMPATIBLE with ASCII data.
    let (_, m) = canonical("04 01 00 10 00 00 00 00 00 00 00 00 6e 6f 70 65");
    assert_eq!(
        m,
        Message::Error(ErrorMsg::Standard {
            error: OfError { kind: 0, code: 0 },
            data: b"nope".to_vec(),
        })
    );
    // Hand-written: OFPET_EXPERIMENTER form.
    let (_, m) = canonical("04 01 00 14 00 00 00 07 ff ff 00 05 00 00 23 20 de ad be ef");
    assert_eq!(
        m,
        Message::Error(ErrorMsg::Experimenter {
            exp_type: 5,
            experimenter: 0x2320,
            data: hex("de ad be ef"),
        })
    );
}

#[test]
fn echo() {
    // (from OF1.0)
    let (h, m) = canonical("04 02 00 0d 00 00 00 01 25 53 54 1a 9d");
    assert_eq!(h.xid, 1);
    assert_eq!(m, Message::EchoRequest(hex("25 53 54 1a 9d")));
    let (_, m) = canonical("04 03 00 08 00 00 00 01");
    assert_eq!(m, Message::EchoReply(Vec::new()));
    let (_, m) = canonical("04 03 00 0d 00 00 00 0b a3 30 ef af 9e");
    assert_eq!(m, Message::EchoReply(hex("a3 30 ef af 9e")));
}

#[test]
fn features() {
    let (_, m) = canonical("04 05 00 08 00 00 00 01");
    assert_eq!(m, Message::FeaturesRequest);
    let (_, Message::FeaturesReply(f)) = canonical(
        "04 06 00 20 00 00 00 01 00 00 50 54 00 00 00 01 \
         00 00 01 00 ff 01 00 00 00 00 01 77 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(f.datapath_id, 0x5054_0000_0001);
    assert_eq!(f.n_buffers, 256);
    assert_eq!(f.n_tables, 255);
    assert_eq!(f.auxiliary_id, 1);
    assert_eq!(f.capabilities, 0x177);
}

#[test]
fn config() {
    let (_, m) = canonical("04 07 00 08 00 00 00 01");
    assert_eq!(m, Message::GetConfigRequest);
    // (from OF1.0)
    let (_, Message::GetConfigReply(c)) = canonical("04 08 00 0c 00 00 00 03 00 02 00 ff") else {
        panic!()
    };
    assert_eq!((c.flags, c.miss_send_len), (2, 255));
    // Hand-written.
    let (_, Message::SetConfig(c)) = canonical("04 09 00 0c 00 00 00 03 00 00 ff ff") else {
        panic!()
    };
    assert_eq!((c.flags, c.miss_send_len), (0, 0xffff));
}

#[test]
fn packet_in() {
    let (_, Message::PacketIn(p)) = canonical(
        "04 0a 00 54 00 00 00 00 ff ff ff 00 00 2a 00 00 \
         01 02 03 04 05 06 07 08 00 01 00 0c 80 00 00 04 \
         ff ff ff fe 00 00 00 00 00 00 ff ff ff ff ff ff \
         00 23 20 83 c1 5f 80 35 00 01 08 00 06 04 00 03 \
         00 23 20 83 c1 5f 00 00 00 00 00 23 20 83 c1 5f \
         00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(p.buffer_id, 0xffff_ff00);
    assert_eq!(p.total_len, 42);
    assert_eq!(p.reason, PacketInReason::NoMatch);
    assert_eq!(p.table_id, 0);
    assert_eq!(p.cookie, 0x0102_0304_0506_0708);
    assert_eq!(p.r#match.fields.len(), 1);
    assert_eq!(p.data.len(), 42);
    assert_eq!(&p.data[..6], &[0xff; 6]);
}

#[test]
fn flow_removed() {
    let (_, Message::FlowRemoved(f)) = canonical(
        "04 0b 00 40 00 00 00 00 fe dc ba 98 76 54 32 10 \
         80 00 01 05 00 00 00 01 00 98 96 80 00 3c 00 78 \
         00 00 00 00 00 12 d6 87 00 00 00 00 6f 68 ba 66 \
         00 01 00 0a 80 00 0c 02 10 09 00 00 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(f.cookie, 0xfedc_ba98_7654_3210);
    assert_eq!(f.priority, 0x8000);
    assert_eq!(f.reason, FlowRemovedReason::HardTimeout);
    assert_eq!(f.table_id, 5);
    assert_eq!((f.duration_sec, f.duration_nsec), (1, 10_000_000));
    assert_eq!((f.idle_timeout, f.hard_timeout), (60, 120));
    assert_eq!((f.packet_count, f.byte_count), (1_234_567, 1_869_134_438));
    assert_eq!(f.r#match.fields.len(), 1);
}

#[test]
fn port_status() {
    // (from OF1.1)
    let (_, Message::PortStatus(s)) = canonical(
        "04 0c 00 50 00 00 00 00 02 00 00 00 00 00 00 00 \
         00 00 00 03 00 00 00 00 50 54 00 00 00 01 00 00 \
         65 74 68 30 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 20 08 00 00 28 0f \
         00 00 28 0f 00 00 00 00 00 01 86 a0 00 01 86 a0",
    ) else {
        panic!()
    };
    assert_eq!(s.reason, PortReason::Modify);
    assert_eq!(s.desc.port_no, 3);
    assert_eq!(s.desc.hw_addr, [0x50, 0x54, 0, 0, 0, 1]);
    assert_eq!(s.desc.name, "eth0");
    assert_eq!((s.desc.config, s.desc.state), (0, 0));
    assert_eq!(s.desc.curr, 0x2008);
    assert_eq!(
        (s.desc.advertised, s.desc.supported, s.desc.peer),
        (0x280f, 0x280f, 0)
    );
    assert_eq!((s.desc.curr_speed, s.desc.max_speed), (100_000, 100_000));
}

#[test]
fn packet_out() {
    // (from OF1.2) output:FLOOD, buffered.
    let (h, Message::PacketOut(p)) = canonical(
        "04 0d 00 28 88 58 df c5 ff ff ff 00 ff ff ff fe \
         00 10 00 00 00 00 00 00 00 00 00 10 ff ff ff fb \
         05 dc 00 00 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(h.xid, 0x8858_dfc5);
    assert_eq!(p.buffer_id, 0xffff_ff00);
    assert_eq!(p.in_port, port_no::LOCAL);
    assert_eq!(p.actions.len(), 1);
    assert!(p.data.is_empty());
    // (from OF1.2) with a 60-byte frame.
    let (_, Message::PacketOut(p)) = canonical(
        "04 0d 00 64 88 58 df c5 ff ff ff ff ff ff ff fe \
         00 10 00 00 00 00 00 00 00 00 00 10 ff ff ff fb \
         05 dc 00 00 00 00 00 00 50 54 00 00 00 05 50 54 \
         00 00 00 06 08 00 45 00 00 28 00 00 40 00 40 06 \
         b9 7c c0 a8 00 02 c0 a8 00 01 00 00 2b 60 00 00 \
         00 00 6a 4f 2b 58 50 14 00 00 6d 75 00 00 00 00 \
         00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(p.buffer_id, OFP_NO_BUFFER);
    assert_eq!(p.data.len(), 60);
    // actions_len running past the message.
    let b = hex("04 0d 00 18 00 00 00 01 ff ff ff ff ff ff ff fe 00 10 00 00 00 00 00 00");
    assert_eq!(super::rejected(&b).1, BadRequest::BAD_LEN);
}

#[test]
fn port_mod() {
    let (_, Message::PortMod(p)) = canonical(
        "04 10 00 28 00 00 00 03 00 00 00 03 00 00 00 00 \
         50 54 00 00 00 01 00 00 00 00 00 01 00 00 00 01 \
         00 00 00 00 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(p.port_no, 3);
    assert_eq!(p.hw_addr, [0x50, 0x54, 0, 0, 0, 1]);
    assert_eq!((p.config, p.mask, p.advertise), (1, 1, 0));
}

#[test]
fn table_mod() {
    let (_, Message::TableMod(t)) = canonical("04 11 00 10 00 00 00 02 02 00 00 00 00 00 00 00")
    else {
        panic!()
    };
    assert_eq!((t.table_id, t.config), (2, 0));
}

#[test]
fn group_mod() {
    // (from OF1.1) select group with three weighted buckets.
    let (h, Message::GroupMod(g)) = canonical(
        "04 0f 00 70 11 22 33 44 00 00 01 00 87 65 43 21 \
         00 20 00 64 00 00 00 01 ff ff ff ff 00 00 00 00 \
         00 00 00 10 00 00 00 01 00 00 00 00 00 00 00 00 \
         00 20 00 c8 00 00 00 02 ff ff ff ff 00 00 00 00 \
         00 00 00 10 00 00 00 02 00 00 00 00 00 00 00 00 \
         00 20 00 c8 00 00 00 03 ff ff ff ff 00 00 00 00 \
         00 00 00 10 00 00 00 03 00 00 00 00 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(h.xid, 0x1122_3344);
    assert_eq!(g.command, GroupModCommand::Add);
    assert_eq!(g.group_type, GroupType::Select);
    assert_eq!(g.group_id, 0x8765_4321);
    assert_eq!(g.buckets.len(), 3);
    assert_eq!(g.buckets[1].weight, 200);
    assert_eq!(g.buckets[1].watch_port, 2);
    assert_eq!(g.buckets[1].watch_group, 0xffff_ffff);
    assert_eq!(g.buckets[1].actions.len(), 1);
    // A bucket shorter than its fixed part.
    let b = hex("04 0f 00 18 00 00 00 01 00 00 01 00 00 00 00 01 00 08 00 64 00 00 00 01");
    assert_eq!(
        super::rejected(&b).1,
        crate::wire::error::GroupModFailed::BAD_BUCKET
    );
}

#[test]
fn meter_mod() {
    let (_, Message::MeterMod(m)) = canonical(
        "04 1d 00 20 00 00 00 02 00 00 00 0d 00 00 00 05 \
         00 01 00 10 00 00 04 00 00 00 00 80 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(m.command, MeterModCommand::Add);
    assert_eq!(m.flags, 0x0d);
    assert_eq!(m.meter_id, 5);
    assert_eq!(
        m.bands,
        vec![MeterBand::Drop {
            rate: 1024,
            burst_size: 128
        }]
    );
    // Unknown band type.
    let b = hex("04 1d 00 20 00 00 00 02 00 00 00 0d 00 00 00 05 00 07 00 10 00 00 04 00 00 00 00 80 00 00 00 00");
    assert_eq!(
        super::rejected(&b).1,
        crate::wire::error::MeterModFailed::BAD_BAND
    );
}

#[test]
fn barrier_and_async_and_role() {
    assert_eq!(
        canonical("04 14 00 08 00 00 00 01").1,
        Message::BarrierRequest
    );
    assert_eq!(
        canonical("04 15 00 08 00 00 00 01").1,
        Message::BarrierReply
    );
    assert_eq!(
        canonical("04 1a 00 08 00 00 00 01").1,
        Message::GetAsyncRequest
    );
    let (_, Message::SetAsync(a)) = canonical(
        "04 1c 00 20 00 00 00 00 00 00 10 05 00 00 10 07 \
         00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03",
    ) else {
        panic!()
    };
    assert_eq!(a.packet_in_mask, [0x1005, 0x1007]);
    assert_eq!(a.port_status_mask, [3, 7]);
    assert_eq!(a.flow_removed_mask, [0, 3]);
    // Hand-written GET_ASYNC_REPLY with the same masks.
    let (_, Message::GetAsyncReply(b)) = canonical(
        "04 1b 00 20 00 00 00 01 00 00 10 05 00 00 10 07 \
         00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03",
    ) else {
        panic!()
    };
    assert_eq!(a, b);
    // (from OF1.2)
    let (_, Message::RoleRequest(r)) =
        canonical("04 18 00 18 00 00 00 02 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00 03")
    else {
        panic!()
    };
    assert_eq!((r.role, r.generation_id), (ControllerRole::Master, 3));
    let (_, Message::RoleReply(r)) =
        canonical("04 19 00 18 00 00 00 02 00 00 00 03 00 00 00 00 12 34 56 78 ab cd ef 90")
    else {
        panic!()
    };
    assert_eq!(
        (r.role, r.generation_id),
        (ControllerRole::Slave, 0x1234_5678_abcd_ef90)
    );
}

#[test]
fn queue_get_config() {
    // (from OF1.2)
    let (_, Message::QueueGetConfigRequest(q)) =
        canonical("04 16 00 10 00 00 00 01 00 00 00 01 00 00 00 00")
    else {
        panic!()
    };
    assert_eq!(q.port, 1);
    let (_, Message::QueueGetConfigReply(q)) = canonical(
        "04 17 00 50 00 00 00 01 \
         00 00 00 01 00 00 00 00 \
         00 00 55 55 00 00 00 01 00 30 00 00 00 00 00 00 \
         00 01 00 10 00 00 00 00 01 f4 00 00 00 00 00 00 \
         00 02 00 10 00 00 00 00 02 ee 00 00 00 00 00 00 \
         00 00 44 44 00 08 00 01 00 10 00 00 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(q.port, 1);
    assert_eq!(q.queues.len(), 2);
    assert_eq!(q.queues[0].queue_id, 0x5555);
    assert_eq!(
        q.queues[0].properties,
        vec![QueueProp::MinRate(500), QueueProp::MaxRate(750)]
    );
    // (OVS's dump really has port 0x00080001 here.)
    assert_eq!(
        (q.queues[1].queue_id, q.queues[1].port),
        (0x4444, 0x0008_0001)
    );
    assert!(q.queues[1].properties.is_empty());
}

#[test]
fn multipart_desc() {
    assert_eq!(
        request("04 12 00 10 00 00 00 01 00 00 00 00 00 00 00 00"),
        (0, Req::Desc)
    );
    // Hand-assembled from the OF1.0 dump's strings.
    let desc = crate::wire::multipart::Desc {
        mfr_desc: "Nicira, Inc.".into(),
        hw_desc: "Open vSwitch".into(),
        sw_desc: "1.1.0pre2".into(),
        serial_num: "None".into(),
        dp_desc: "None".into(),
    };
    let mut b = hex("04 13 04 30 00 00 00 01 00 00 00 00 00 00 00 00");
    for (s, n) in [
        ("Nicira, Inc.", 256),
        ("Open vSwitch", 256),
        ("1.1.0pre2", 256),
        ("None", 32),
        ("None", 256),
    ] {
        let mut f = s.as_bytes().to_vec();
        f.resize(n, 0);
        b.extend(f);
    }
    let (_, m) = decode(&b).unwrap();
    assert_eq!(
        m,
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: Rep::Desc(desc)
        })
    );
    assert_eq!(encode(1, &m), b);
}

#[test]
fn multipart_flow_and_aggregate() {
    let flow_req = "04 12 00 38 00 00 00 02 00 01 00 00 00 00 00 00 \
                    ff 00 00 00 ff ff ff ff ff ff ff ff 00 00 00 00 \
                    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
                    00 01 00 04 00 00 00 00";
    let (_, Req::Flow(f)) = request(flow_req) else {
        panic!()
    };
    assert_eq!(
        (f.table_id, f.out_port, f.out_group),
        (0xff, 0xffff_ffff, 0xffff_ffff)
    );
    assert_eq!((f.cookie, f.cookie_mask), (0, 0));
    assert!(f.r#match.fields.is_empty());
    let (_, Req::Aggregate(a)) =
        request(&flow_req.replacen("00 01 00 00 00 00", "00 02 00 00 00 00", 1))
    else {
        panic!()
    };
    assert_eq!(a, f);
    // (from OF1.2; OF1.3 turned a pad into `flags`, zero here)
    let (_, Rep::Flow(v)) = reply(
        "04 13 01 78 00 00 00 02 00 01 00 00 00 00 00 00 \
         00 78 00 00 00 00 00 03 01 5e f3 c0 80 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 62 \
         00 01 00 2d 80 00 00 04 00 00 00 02 80 00 06 06 \
         ca da ad d6 0d 37 80 00 0a 02 08 00 80 00 10 01 \
         00 80 00 04 08 00 00 00 00 00 00 00 00 00 00 00 \
         00 04 00 18 00 00 00 00 00 00 00 10 00 00 00 02 \
         05 dc 00 00 00 00 00 00 00 78 00 00 00 00 00 04 \
         20 7c 0a 40 80 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 \
         00 00 00 00 00 00 00 8c 00 01 00 2d 80 00 00 04 \
         00 00 00 02 80 00 06 06 52 54 00 c3 00 89 80 00 \
         0a 02 08 00 80 00 10 01 00 80 00 04 08 00 00 00 \
         00 00 00 00 00 00 00 00 00 04 00 18 00 00 00 00 \
         00 00 00 10 00 00 00 02 05 dc 00 00 00 00 00 00 \
         00 78 00 00 00 00 00 04 20 a9 d1 00 80 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 2a \
         00 01 00 2d 80 00 00 04 00 00 00 02 80 00 06 06 \
         52 54 00 97 00 69 80 00 0a 02 08 00 80 00 10 01 \
         00 80 00 04 08 00 00 00 00 00 00 00 00 00 00 00 \
         00 04 00 18 00 00 00 00 00 00 00 10 00 00 00 02 \
         05 dc 00 00 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(v.len(), 3);
    assert_eq!((v[0].duration_sec, v[0].duration_nsec), (3, 23_000_000));
    assert_eq!(v[0].priority, 0x8000);
    assert_eq!((v[0].packet_count, v[0].byte_count), (1, 98));
    assert_eq!(v[0].r#match.fields.len(), 5);
    assert_eq!(v[0].instructions.len(), 1);
    assert_eq!((v[1].packet_count, v[1].byte_count), (2, 140));
    let (_, Rep::Aggregate(a)) = reply(
        "04 13 00 28 00 00 00 02 00 02 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 79 00 00 00 00 00 00 4b 4f \
         00 00 00 03 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(
        (a.packet_count, a.byte_count, a.flow_count),
        (121, 19279, 3)
    );
}

#[test]
fn multipart_table_and_port_and_queue() {
    assert_eq!(
        request("04 12 00 10 00 00 00 02 00 03 00 00 00 00 00 00"),
        (0, Req::Table)
    );
    let (_, Rep::Table(t)) = reply(
        "04 13 00 40 00 00 00 01 00 03 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 0b 00 00 00 00 00 00 02 00 \
         00 00 00 00 00 00 01 00 01 00 00 00 00 00 00 0c \
         00 00 00 00 00 00 02 01 00 00 00 00 00 00 01 01",
    ) else {
        panic!()
    };
    assert_eq!(t.len(), 2);
    assert_eq!(
        (
            t[1].table_id,
            t[1].active_count,
            t[1].lookup_count,
            t[1].matched_count
        ),
        (1, 12, 513, 257)
    );
    assert_eq!(
        request("04 12 00 18 00 00 00 02 00 04 00 00 00 00 00 00 ff ff ff ff 00 00 00 00"),
        (
            0,
            Req::PortStats {
                port_no: port_no::ANY
            }
        )
    );
    let (_, Rep::PortStats(p)) = reply(
        "04 13 01 60 00 00 00 02 00 04 00 00 00 00 00 00 \
         00 00 00 02 00 00 00 00 00 00 00 00 00 01 95 56 \
         00 00 00 00 00 00 00 88 00 00 00 00 02 5d 08 98 \
         00 00 00 00 00 00 2c f8 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 01 00 0f 42 40 \
         ff ff ff fe 00 00 00 00 \
         00 00 00 00 00 00 00 44 00 00 00 00 00 00 9d 2c \
         00 00 00 00 00 00 16 7c 00 00 00 00 01 1e 36 44 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         ff ff ff ff ff ff ff ff \
         00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 44 \
         00 00 00 00 00 00 9d 2c 00 00 00 00 00 00 16 7c \
         00 00 00 00 01 1e 36 44 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 07 54 d4 c0",
    ) else {
        panic!()
    };
    assert_eq!(p.len(), 3);
    assert_eq!(
        (p[0].port_no, p[0].rx_packets, p[0].tx_packets),
        (2, 103_766, 136)
    );
    assert_eq!((p[0].rx_bytes, p[0].tx_bytes), (39_651_480, 11_512));
    assert_eq!((p[0].duration_sec, p[0].duration_nsec), (1, 1_000_000));
    assert_eq!(p[1].port_no, port_no::LOCAL);
    assert_eq!(
        (p[1].duration_sec, p[1].duration_nsec),
        (u32::MAX, u32::MAX)
    );
    assert_eq!((p[2].duration_sec, p[2].duration_nsec), (0, 123_000_000));
    assert_eq!(
        request("04 12 00 18 00 00 00 02 00 05 00 00 00 00 00 00 ff ff ff ff ff ff ff ff"),
        (
            0,
            Req::Queue {
                port_no: port_no::ANY,
                queue_id: 0xffff_ffff
            }
        )
    );
    let (_, Rep::Queue(q)) = reply(
        "04 13 01 00 00 00 00 01 00 05 00 00 00 00 00 00 \
         00 00 00 03 00 00 00 01 00 00 00 00 00 00 01 2e \
         00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 \
         00 00 00 64 1d cd 65 00 \
         00 00 00 03 00 00 00 02 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 64 1d cd 65 00 \
         00 00 00 02 00 00 00 01 00 00 00 00 00 00 08 34 \
         00 00 00 00 00 00 00 14 00 00 00 00 00 00 00 00 \
         00 00 00 64 1d cd 65 00 \
         00 00 00 02 00 00 00 02 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 64 1d cd 65 00 \
         00 00 00 01 00 00 00 01 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 64 1d cd 65 00 \
         00 00 00 01 00 00 00 02 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         ff ff ff ff ff ff ff ff",
    ) else {
        panic!()
    };
    assert_eq!(q.len(), 6);
    assert_eq!(
        (q[0].port_no, q[0].queue_id, q[0].tx_bytes, q[0].tx_packets),
        (3, 1, 302, 1)
    );
    assert_eq!((q[0].duration_sec, q[0].duration_nsec), (100, 500_000_000));
    assert_eq!((q[2].tx_bytes, q[2].tx_packets), (2100, 20));
    // A port-stats body that is not a whole number of entries.
    let mut b = hex("04 13 00 20 00 00 00 02 00 04 00 00 00 00 00 00");
    b.extend([0u8; 16]);
    assert_eq!(super::rejected(&b).1, BadRequest::BAD_LEN);
}

#[test]
fn multipart_group() {
    // (from OF1.1)
    assert_eq!(
        request("04 12 00 18 00 00 00 02 00 06 00 00 00 00 00 00 ff ff ff ff 00 00 00 00"),
        (
            0,
            Req::Group {
                group_id: 0xffff_ffff
            }
        )
    );
    let (_, Rep::Group(g)) = reply(
        "04 13 00 b0 00 00 00 02 00 06 00 00 00 00 00 00 \
         00 58 00 00 87 65 43 21 00 00 00 04 00 00 00 00 \
         00 00 00 00 00 00 88 88 00 00 00 00 00 77 77 77 \
         00 00 00 12 1d cd 65 00 \
         00 00 00 00 00 00 11 11 00 00 00 00 00 22 22 22 \
         00 00 00 00 00 00 11 11 00 00 00 00 00 22 22 22 \
         00 00 00 00 00 00 66 66 00 00 00 00 00 33 33 33 \
         00 48 00 00 00 00 00 05 00 00 00 02 00 00 00 00 \
         00 00 00 00 00 00 88 88 00 00 00 00 00 77 77 77 \
         00 00 00 10 1d cd 65 00 \
         00 00 00 00 00 00 11 11 00 00 00 00 00 22 22 22 \
         00 00 00 00 00 00 11 11 00 00 00 00 00 22 22 22",
    ) else {
        panic!()
    };
    assert_eq!(g.len(), 2);
    assert_eq!((g[0].group_id, g[0].ref_count), (0x8765_4321, 4));
    assert_eq!((g[0].packet_count, g[0].byte_count), (0x8888, 0x77_7777));
    assert_eq!((g[0].duration_sec, g[0].duration_nsec), (18, 500_000_000));
    assert_eq!(g[0].bucket_stats.len(), 3);
    assert_eq!(g[0].bucket_stats[2].packet_count, 0x6666);
    assert_eq!(g[1].bucket_stats.len(), 2);
    // (from OF1.1)
    assert_eq!(
        request("04 12 00 10 00 00 00 02 00 07 00 00 00 00 00 00"),
        (0, Req::GroupDesc)
    );
    let (_, Rep::GroupDesc(d)) = reply(
        "04 13 00 78 00 00 00 02 00 07 00 00 00 00 00 00 \
         00 68 01 00 00 00 20 00 \
         00 20 00 64 00 00 00 01 ff ff ff ff 00 00 00 00 \
         00 00 00 10 00 00 00 01 00 00 00 00 00 00 00 00 \
         00 20 00 c8 00 00 00 02 ff ff ff ff 00 00 00 00 \
         00 00 00 10 00 00 00 02 00 00 00 00 00 00 00 00 \
         00 20 00 c8 00 00 00 03 ff ff ff ff 00 00 00 00 \
         00 00 00 10 00 00 00 03 00 00 00 00 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].group_type, d[0].group_id), (GroupType::Select, 8192));
    assert_eq!(d[0].buckets.len(), 3);
    // (from OF1.2)
    assert_eq!(
        request("04 12 00 10 00 00 00 02 00 08 00 00 00 00 00 00"),
        (0, Req::GroupFeatures)
    );
    let (_, Rep::GroupFeatures(f)) = reply(
        "04 13 00 38 00 00 00 02 00 08 00 00 00 00 00 00 \
         00 00 00 0f 00 00 00 0f \
         00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 \
         00 00 00 01 00 00 00 03 00 00 00 07 00 00 00 0f",
    ) else {
        panic!()
    };
    assert_eq!((f.types, f.capabilities), (0xf, 0xf));
    assert_eq!(f.max_groups, [1, 2, 3, 4]);
    assert_eq!(f.actions, [1, 3, 7, 15]);
}

#[test]
fn multipart_meter() {
    assert_eq!(
        request("04 12 00 18 00 00 00 02 00 09 00 00 00 00 00 00 00 00 00 01 00 00 00 00"),
        (0, Req::Meter { meter_id: 1 })
    );
    assert_eq!(
        request("04 12 00 18 00 00 00 02 00 0a 00 00 00 00 00 00 00 00 00 01 00 00 00 00"),
        (0, Req::MeterConfig { meter_id: 1 })
    );
    assert_eq!(
        request("04 12 00 10 00 00 00 02 00 0b 00 00 00 00 00 00"),
        (0, Req::MeterFeatures)
    );
    let (_, Rep::MeterFeatures(f)) = canonical_lower(
        "04 13 00 20 00 00 00 02 00 0b 00 00 00 00 00 00 \
         00 01 00 00 00 00 00 06 00 00 00 0F 10 02 00 00",
    ) else {
        panic!()
    };
    assert_eq!((f.max_meter, f.band_types, f.capabilities), (65536, 6, 15));
    assert_eq!((f.max_bands, f.max_color), (16, 2));
    let (_, Rep::MeterConfig(c)) = reply(
        "04 13 00 50 00 00 00 02 00 0a 00 00 00 00 00 00 \
         00 28 00 05 00 00 00 01 \
         00 01 00 10 00 01 00 00 00 00 05 00 00 00 00 00 \
         00 02 00 10 00 10 00 00 00 00 f0 00 00 00 00 00 \
         00 18 00 09 00 00 00 02 \
         00 01 00 10 00 02 00 00 00 00 00 00 00 00 00 00",
    ) else {
        panic!()
    };
    assert_eq!(c.len(), 2);
    assert_eq!((c[0].flags, c[0].meter_id), (5, 1));
    assert_eq!(
        c[0].bands,
        vec![
            MeterBand::Drop {
                rate: 65536,
                burst_size: 1280
            },
            MeterBand::DscpRemark {
                rate: 0x10_0000,
                burst_size: 61440,
                prec_level: 0
            }
        ]
    );
    assert_eq!((c[1].flags, c[1].meter_id, c[1].bands.len()), (9, 2, 1));
    let (_, Rep::Meter(m)) = reply(
        "04 13 00 90 00 00 00 02 00 09 00 00 00 00 00 00 \
         00 00 00 01 00 48 00 00 00 00 00 00 00 00 00 05 \
         00 00 00 00 00 00 10 00 00 00 00 00 00 02 30 00 \
         00 00 01 8a 0a 6e 23 44 \
         00 00 00 00 00 00 00 7e 00 00 00 00 00 00 34 33 \
         00 00 00 00 00 00 00 e7 00 00 00 00 00 00 94 2e \
         00 00 00 02 00 38 00 00 00 00 00 00 00 00 00 02 \
         00 00 00 00 00 00 02 00 00 00 00 00 00 00 30 00 \
         00 00 01 87 0a 23 6e 44 \
         00 00 00 00 00 00 00 2a 00 00 00 00 00 00 04 33",
    ) else {
        panic!()
    };
    assert_eq!(m.len(), 2);
    assert_eq!((m[0].meter_id, m[0].flow_count), (1, 5));
    assert_eq!((m[0].packet_in_count, m[0].byte_in_count), (4096, 143_360));
    assert_eq!((m[0].duration_sec, m[0].duration_nsec), (394, 174_990_148));
    assert_eq!(m[0].band_stats.len(), 2);
    assert_eq!(m[0].band_stats[1].packet_band_count, 231);
    assert_eq!(m[1].band_stats.len(), 1);
}

/// `canonical` for a reply, tolerating upper-case hex in the dump.
fn canonical_lower(s: &str) -> (u16, Rep) {
    reply(&s.to_ascii_lowercase())
}

#[test]
fn multipart_port_desc() {
    assert_eq!(
        request("04 12 00 10 00 00 00 01 00 0d 00 00 00 00 00 00"),
        (0, Req::PortDesc)
    );
    // (ofp_port from the OF1.1 PORT_STATUS dump)
    let (_, Rep::PortDesc(p)) = reply(
        "04 13 00 50 00 00 00 00 00 0d 00 00 00 00 00 00 \
         00 00 00 03 00 00 00 00 50 54 00 00 00 01 00 00 \
         65 74 68 30 00 00 00 00 00 00 00 00 00 00 00 00 \
         00 00 00 00 00 00 00 00 00 00 20 08 00 00 28 0f \
         00 00 28 0f 00 00 00 00 00 01 86 a0 00 01 86 a0",
    ) else {
        panic!()
    };
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].port_no, p[0].name.as_str()), (3, "eth0"));
}

#[test]
fn multipart_experimenter_reply() {
    // Hand-written.
    let (_, Rep::Experimenter(e)) =
        reply("04 13 00 1a 00 00 00 01 ff ff 00 00 00 00 00 00 00 00 23 20 00 00 00 07 ab cd")
    else {
        panic!()
    };
    assert_eq!(
        (e.experimenter, e.exp_type, e.data),
        (0x2320, 7, vec![0xab, 0xcd])
    );
}

/// Open vSwitch's table-features reply for table 0 (with REPLY_MORE).
const TABLE_FEATURES_REPLY: &str = "\
04 13 09 40 00 00 00 d5 00 0c 00 01 00 00 00 00 \
09 30 00 00 00 00 00 00 74 61 62 6c 65 30 00 00 \
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
00 00 00 00 00 00 00 00 ff ff ff ff ff ff ff ff \
ff ff ff ff ff ff ff ff 00 00 00 03 00 0f 42 40 \
00 00 00 2c 00 01 00 08 00 00 00 00 00 02 00 08 \
00 00 00 00 00 03 00 08 00 00 00 00 00 04 00 08 \
00 00 00 00 00 05 00 08 00 00 00 00 00 00 00 00 \
00 01 00 2c 00 01 00 08 00 00 00 00 00 02 00 08 \
00 00 00 00 00 03 00 08 00 00 00 00 00 04 00 08 \
00 00 00 00 00 05 00 08 00 00 00 00 00 00 00 00 \
00 02 01 01 01 02 03 04 05 06 07 08 09 0a 0b 0c \
0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c \
1d 1e 1f 20 21 22 23 24 25 26 27 28 29 2a 2b 2c \
2d 2e 2f 30 31 32 33 34 35 36 37 38 39 3a 3b 3c \
3d 3e 3f 40 41 42 43 44 45 46 47 48 49 4a 4b 4c \
4d 4e 4f 50 51 52 53 54 55 56 57 58 59 5a 5b 5c \
5d 5e 5f 60 61 62 63 64 65 66 67 68 69 6a 6b 6c \
6d 6e 6f 70 71 72 73 74 75 76 77 78 79 7a 7b 7c \
7d 7e 7f 80 81 82 83 84 85 86 87 88 89 8a 8b 8c \
8d 8e 8f 90 91 92 93 94 95 96 97 98 99 9a 9b 9c \
9d 9e 9f a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac \
ad ae af b0 b1 b2 b3 b4 b5 b6 b7 b8 b9 ba bb bc \
bd be bf c0 c1 c2 c3 c4 c5 c6 c7 c8 c9 ca cb cc \
cd ce cf d0 d1 d2 d3 d4 d5 d6 d7 d8 d9 da db dc \
dd de df e0 e1 e2 e3 e4 e5 e6 e7 e8 e9 ea eb ec \
ed ee ef f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa fb fc \
fd 00 00 00 00 00 00 00 00 03 01 01 01 02 03 04 \
05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 \
15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21 22 23 24 \
25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 \
35 36 37 38 39 3a 3b 3c 3d 3e 3f 40 41 42 43 44 \
45 46 47 48 49 4a 4b 4c 4d 4e 4f 50 51 52 53 54 \
55 56 57 58 59 5a 5b 5c 5d 5e 5f 60 61 62 63 64 \
65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 71 72 73 74 \
75 76 77 78 79 7a 7b 7c 7d 7e 7f 80 81 82 83 84 \
85 86 87 88 89 8a 8b 8c 8d 8e 8f 90 91 92 93 94 \
95 96 97 98 99 9a 9b 9c 9d 9e 9f a0 a1 a2 a3 a4 \
a5 a6 a7 a8 a9 aa ab ac ad ae af b0 b1 b2 b3 b4 \
b5 b6 b7 b8 b9 ba bb bc bd be bf c0 c1 c2 c3 c4 \
c5 c6 c7 c8 c9 ca cb cc cd ce cf d0 d1 d2 d3 d4 \
d5 d6 d7 d8 d9 da db dc dd de df e0 e1 e2 e3 e4 \
e5 e6 e7 e8 e9 ea eb ec ed ee ef f0 f1 f2 f3 f4 \
f5 f6 f7 f8 f9 fa fb fc fd 00 00 00 00 00 00 00 \
00 04 00 84 00 00 00 08 00 00 00 00 00 0b 00 08 \
00 00 00 00 00 0c 00 08 00 00 00 00 00 0f 00 08 \
00 00 00 00 00 10 00 08 00 00 00 00 00 11 00 08 \
00 00 00 00 00 12 00 08 00 00 00 00 00 13 00 08 \
00 00 00 00 00 14 00 08 00 00 00 00 00 15 00 08 \
00 00 00 00 00 16 00 08 00 00 00 00 00 17 00 08 \
00 00 00 00 00 18 00 08 00 00 00 00 00 19 00 08 \
00 00 00 00 00 1a 00 08 00 00 00 00 00 1b 00 08 \
00 00 00 00 00 00 00 00 00 05 00 84 00 00 00 08 \
00 00 00 00 00 0b 00 08 00 00 00 00 00 0c 00 08 \
00 00 00 00 00 0f 00 08 00 00 00 00 00 10 00 08 \
00 00 00 00 00 11 00 08 00 00 00 00 00 12 00 08 \
00 00 00 00 00 13 00 08 00 00 00 00 00 14 00 08 \
00 00 00 00 00 15 00 08 00 00 00 00 00 16 00 08 \
00 00 00 00 00 17 00 08 00 00 00 00 00 18 00 08 \
00 00 00 00 00 19 00 08 00 00 00 00 00 1a 00 08 \
00 00 00 00 00 1b 00 08 00 00 00 00 00 00 00 00 \
00 06 00 84 00 00 00 08 00 00 00 00 00 0b 00 08 \
00 00 00 00 00 0c 00 08 00 00 00 00 00 0f 00 08 \
00 00 00 00 00 10 00 08 00 00 00 00 00 11 00 08 \
00 00 00 00 00 12 00 08 00 00 00 00 00 13 00 08 \
00 00 00 00 00 14 00 08 00 00 00 00 00 15 00 08 \
00 00 00 00 00 16 00 08 00 00 00 00 00 17 00 08 \
00 00 00 00 00 18 00 08 00 00 00 00 00 19 00 08 \
00 00 00 00 00 1a 00 08 00 00 00 00 00 1b 00 08 \
00 00 00 00 00 00 00 00 00 07 00 84 00 00 00 08 \
00 00 00 00 00 0b 00 08 00 00 00 00 00 0c 00 08 \
00 00 00 00 00 0f 00 08 00 00 00 00 00 10 00 08 \
00 00 00 00 00 11 00 08 00 00 00 00 00 12 00 08 \
00 00 00 00 00 13 00 08 00 00 00 00 00 14 00 08 \
00 00 00 00 00 15 00 08 00 00 00 00 00 16 00 08 \
00 00 00 00 00 17 00 08 00 00 00 00 00 18 00 08 \
00 00 00 00 00 19 00 08 00 00 00 00 00 1a 00 08 \
00 00 00 00 00 1b 00 08 00 00 00 00 00 00 00 00 \
00 08 00 dc 80 00 4c 08 00 01 3e 04 00 01 40 04 \
80 00 04 08 00 00 00 02 80 00 00 04 00 01 42 04 \
00 01 00 04 00 01 02 04 00 01 04 04 00 01 06 04 \
00 01 08 04 00 01 0a 04 00 01 0c 04 00 01 0e 04 \
80 00 08 06 80 00 06 06 80 00 0a 02 00 00 08 02 \
80 00 0c 02 80 00 0e 01 80 00 44 04 80 00 46 01 \
80 00 48 01 80 00 16 04 80 00 18 04 80 00 34 10 \
80 00 36 10 80 00 38 04 80 00 14 01 00 00 0a 01 \
80 00 10 01 80 00 12 01 00 01 3a 01 00 01 34 01 \
80 00 2a 02 80 00 2c 04 80 00 2e 04 80 00 30 06 \
80 00 32 06 80 00 1a 02 80 00 1c 02 00 01 44 02 \
80 00 1e 02 80 00 20 02 80 00 22 02 80 00 24 02 \
80 00 26 01 80 00 28 01 80 00 3a 01 80 00 3c 01 \
80 00 3e 10 80 00 40 06 80 00 42 06 00 00 00 00 \
00 0a 00 dc 80 00 4c 08 00 01 3e 04 00 01 40 04 \
80 00 04 08 00 00 00 02 80 00 00 04 00 01 42 04 \
00 01 00 04 00 01 02 04 00 01 04 04 00 01 06 04 \
00 01 08 04 00 01 0a 04 00 01 0c 04 00 01 0e 04 \
80 00 08 06 80 00 06 06 80 00 0a 02 00 00 08 02 \
80 00 0c 02 80 00 0e 01 80 00 44 04 80 00 46 01 \
80 00 48 01 80 00 16 04 80 00 18 04 80 00 34 10 \
80 00 36 10 80 00 38 04 80 00 14 01 00 00 0a 01 \
80 00 10 01 80 00 12 01 00 01 3a 01 00 01 34 01 \
80 00 2a 02 80 00 2c 04 80 00 2e 04 80 00 30 06 \
80 00 32 06 80 00 1a 02 80 00 1c 02 00 01 44 02 \
80 00 1e 02 80 00 20 02 80 00 22 02 80 00 24 02 \
80 00 26 01 80 00 28 01 80 00 3a 01 80 00 3c 01 \
80 00 3e 10 80 00 40 06 80 00 42 06 00 00 00 00 \
00 0c 00 a8 80 00 4c 08 00 01 3e 04 00 01 40 04 \
80 00 04 08 00 00 00 02 80 00 00 04 00 01 42 04 \
00 01 00 04 00 01 02 04 00 01 04 04 00 01 06 04 \
00 01 08 04 00 01 0a 04 00 01 0c 04 00 01 0e 04 \
80 00 08 06 80 00 06 06 00 00 08 02 80 00 0c 02 \
80 00 0e 01 80 00 44 04 80 00 46 01 80 00 16 04 \
80 00 18 04 80 00 34 10 80 00 36 10 00 00 0a 01 \
80 00 10 01 80 00 12 01 00 01 3a 01 80 00 2a 02 \
80 00 2c 04 80 00 2e 04 80 00 30 06 80 00 32 06 \
80 00 1a 02 80 00 1c 02 80 00 1e 02 80 00 20 02 \
80 00 22 02 80 00 24 02 00 0d 00 a8 80 00 4c 08 \
00 01 3e 04 00 01 40 04 80 00 04 08 00 00 00 02 \
80 00 00 04 00 01 42 04 00 01 00 04 00 01 02 04 \
00 01 04 04 00 01 06 04 00 01 08 04 00 01 0a 04 \
00 01 0c 04 00 01 0e 04 80 00 08 06 80 00 06 06 \
00 00 08 02 80 00 0c 02 80 00 0e 01 80 00 44 04 \
80 00 46 01 80 00 16 04 80 00 18 04 80 00 34 10 \
80 00 36 10 00 00 0a 01 80 00 10 01 80 00 12 01 \
00 01 3a 01 80 00 2a 02 80 00 2c 04 80 00 2e 04 \
80 00 30 06 80 00 32 06 80 00 1a 02 80 00 1c 02 \
80 00 1e 02 80 00 20 02 80 00 22 02 80 00 24 02 \
00 0e 00 a8 80 00 4c 08 00 01 3e 04 00 01 40 04 \
80 00 04 08 00 00 00 02 80 00 00 04 00 01 42 04 \
00 01 00 04 00 01 02 04 00 01 04 04 00 01 06 04 \
00 01 08 04 00 01 0a 04 00 01 0c 04 00 01 0e 04 \
80 00 08 06 80 00 06 06 00 00 08 02 80 00 0c 02 \
80 00 0e 01 80 00 44 04 80 00 46 01 80 00 16 04 \
80 00 18 04 80 00 34 10 80 00 36 10 00 00 0a 01 \
80 00 10 01 80 00 12 01 00 01 3a 01 80 00 2a 02 \
80 00 2c 04 80 00 2e 04 80 00 30 06 80 00 32 06 \
80 00 1a 02 80 00 1c 02 80 00 1e 02 80 00 20 02 \
80 00 22 02 80 00 24 02 00 0f 00 a8 80 00 4c 08 \
00 01 3e 04 00 01 40 04 80 00 04 08 00 00 00 02 \
80 00 00 04 00 01 42 04 00 01 00 04 00 01 02 04 \
00 01 04 04 00 01 06 04 00 01 08 04 00 01 0a 04 \
00 01 0c 04 00 01 0e 04 80 00 08 06 80 00 06 06 \
00 00 08 02 80 00 0c 02 80 00 0e 01 80 00 44 04 \
80 00 46 01 80 00 16 04 80 00 18 04 80 00 34 10 \
80 00 36 10 00 00 0a 01 80 00 10 01 80 00 12 01 \
00 01 3a 01 80 00 2a 02 80 00 2c 04 80 00 2e 04 \
80 00 30 06 80 00 32 06 80 00 1a 02 80 00 1c 02 \
80 00 1e 02 80 00 20 02 80 00 22 02 80 00 24 02";

#[test]
fn multipart_table_features() {
    let (flags, Rep::TableFeatures(t)) = reply(TABLE_FEATURES_REPLY) else {
        panic!()
    };
    assert_eq!(flags, crate::wire::multipart::OFPMPF_REPLY_MORE);
    assert_eq!(t.len(), 1);
    let t = &t[0];
    assert_eq!((t.table_id, t.name.as_str()), (0, "table0"));
    assert_eq!((t.metadata_match, t.metadata_write), (u64::MAX, u64::MAX));
    assert_eq!((t.config, t.max_entries), (3, 1_000_000));
    let kinds: Vec<u16> = t.properties.iter().map(TableFeatureProp::kind).collect();
    use prop_type::*;
    assert_eq!(
        kinds,
        vec![
            INSTRUCTIONS,
            INSTRUCTIONS_MISS,
            NEXT_TABLES,
            NEXT_TABLES_MISS,
            WRITE_ACTIONS,
            WRITE_ACTIONS_MISS,
            APPLY_ACTIONS,
            APPLY_ACTIONS_MISS,
            MATCH,
            WILDCARDS,
            WRITE_SETFIELD,
            WRITE_SETFIELD_MISS,
            APPLY_SETFIELD,
            APPLY_SETFIELD_MISS,
        ]
    );
    let TableFeatureProp::Instructions { miss: false, ids } = &t.properties[0] else {
        panic!()
    };
    assert_eq!(
        ids.iter().map(|i| i.kind).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let TableFeatureProp::NextTables {
        miss: false,
        tables,
    } = &t.properties[2]
    else {
        panic!()
    };
    assert_eq!(tables.len(), 253);
    assert_eq!((tables[0], tables[252]), (1, 253));
    let TableFeatureProp::WriteActions { ids, .. } = &t.properties[4] else {
        panic!()
    };
    assert_eq!(ids.len(), 16);
    let TableFeatureProp::Match(ids) = &t.properties[8] else {
        panic!()
    };
    assert_eq!(ids.len(), 54);
    assert_eq!(ids[0].header, 0x8000_4c08);
    assert_eq!(ids[1].class(), 1);
    // A table-features *request* with the same table replaces the features.
    let mut req = hex(TABLE_FEATURES_REPLY);
    req[1] = 0x12;
    let (_, Message::MultipartRequest(r)) = decode(&req).unwrap() else {
        panic!()
    };
    assert!(matches!(&r.body, Req::TableFeatures(v) if v.len() == 1));
    assert_eq!(encode(0xd5, &Message::MultipartRequest(r)), req);
    // The empty request reads them.
    assert_eq!(
        request("04 12 00 10 00 00 00 01 00 0c 00 00 00 00 00 00"),
        (0, Req::TableFeatures(Vec::new()))
    );
    // An unknown property type.
    let mut bad = hex("04 12 00 58 00 00 00 01 00 0c 00 00 00 00 00 00 00 48 00 00 00 00 00 00");
    bad.extend([0u8; 56]);
    bad.extend(hex("00 09 00 04 00 00 00 00"));
    assert_eq!(
        super::rejected(&bad).1,
        crate::wire::error::TableFeaturesFailed::BAD_TYPE
    );
}

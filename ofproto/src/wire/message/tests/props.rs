//! Property tests: every generated message round-trips byte-exactly, and
//! no input (random, or a valid message with bytes flipped) panics the
//! decoder; whatever decodes re-encodes to something that decodes the same.

use crate::wire::action::Action;
use crate::wire::error::OfError;
use crate::wire::flow_mod::FlowMod;
use crate::wire::group::{Bucket, GroupMod};
use crate::wire::instruction::Instruction;
use crate::wire::message::{decode, encode, Message};
use crate::wire::meter::{MeterBand, MeterMod};
use crate::wire::multipart::*;
use crate::wire::oxm::Match;
use crate::wire::packet::{FlowRemoved, PacketIn, PacketOut};
use crate::wire::port::{PortDesc, PortMod, PortStatus};
use crate::wire::queue::{PacketQueue, QueueGetConfigReply, QueueGetConfigRequest, QueueProp};
use crate::wire::switch::*;
use crate::wire::table::TableMod;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn name(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9_.:-]{{0,{max}}}")).unwrap()
}

fn a_match() -> impl Strategy<Value = Match> {
    Just(Match::default())
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (1u32..0xffff_ff00, any::<u16>())
            .prop_map(|(port, max_len)| Action::Output { port, max_len }),
        (0u32..=0xffff_ff00).prop_map(Action::Group),
        any::<u32>().prop_map(Action::SetQueue),
        Just(Action::DecNwTtl),
        Just(Action::PopVlan),
    ]
}

fn actions() -> impl Strategy<Value = Vec<Action>> {
    vec(action(), 0..4)
}

fn instructions() -> impl Strategy<Value = Vec<Instruction>> {
    (
        proptest::option::of(actions()),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(apply, goto, clear, meter)| {
            let mut v = Vec::new();
            v.extend(meter.map(Instruction::Meter));
            v.extend(apply.map(Instruction::ApplyActions));
            if clear {
                v.push(Instruction::ClearActions);
            }
            v.extend(goto.map(Instruction::GotoTable));
            v
        })
}

fn port_desc() -> impl Strategy<Value = PortDesc> {
    (any::<u32>(), any::<[u8; 6]>(), name(15), any::<[u32; 8]>()).prop_map(|(p, hw, n, v)| {
        PortDesc {
            port_no: p,
            hw_addr: hw,
            name: n,
            config: v[0],
            state: v[1],
            curr: v[2],
            advertised: v[3],
            supported: v[4],
            peer: v[5],
            curr_speed: v[6],
            max_speed: v[7],
        }
    })
}

fn bucket() -> impl Strategy<Value = Bucket> {
    (any::<u16>(), any::<u32>(), any::<u32>(), actions()).prop_map(|(w, p, g, a)| Bucket {
        weight: w,
        watch_port: p,
        watch_group: g,
        actions: a,
    })
}

fn band() -> impl Strategy<Value = MeterBand> {
    prop_oneof![
        (any::<u32>(), any::<u32>())
            .prop_map(|(rate, burst_size)| MeterBand::Drop { rate, burst_size }),
        (any::<u32>(), any::<u32>(), any::<u8>()).prop_map(|(rate, burst_size, prec_level)| {
            MeterBand::DscpRemark {
                rate,
                burst_size,
                prec_level,
            }
        }),
        (any::<u32>(), any::<u32>(), any::<u32>(), bytes(16)).prop_map(|(r, b, e, d)| {
            MeterBand::Experimenter {
                rate: r,
                burst_size: b,
                experimenter: e,
                data: d,
            }
        }),
    ]
}

fn experimenter() -> impl Strategy<Value = Experimenter> {
    (any::<u32>(), any::<u32>(), bytes(32)).prop_map(|(e, t, d)| Experimenter {
        experimenter: e,
        exp_type: t,
        data: d,
    })
}

fn oxm_id() -> impl Strategy<Value = OxmId> {
    prop_oneof![
        (0u32..0xffff_0000).prop_map(|header| OxmId {
            header,
            experimenter: None
        }),
        (any::<u16>(), any::<u32>()).prop_map(|(low, e)| OxmId {
            header: 0xffff_0000 | u32::from(low),
            experimenter: Some(e)
        }),
    ]
}

fn feature_ids() -> impl Strategy<Value = Vec<FeatureId>> {
    vec(
        (any::<u16>(), bytes(8)).prop_map(|(kind, data)| FeatureId { kind, data }),
        0..5,
    )
}

fn table_prop() -> impl Strategy<Value = TableFeatureProp> {
    use TableFeatureProp as P;
    prop_oneof![
        (any::<bool>(), feature_ids()).prop_map(|(miss, ids)| P::Instructions { miss, ids }),
        (any::<bool>(), bytes(20)).prop_map(|(miss, tables)| P::NextTables { miss, tables }),
        (any::<bool>(), feature_ids()).prop_map(|(miss, ids)| P::WriteActions { miss, ids }),
        (any::<bool>(), feature_ids()).prop_map(|(miss, ids)| P::ApplyActions { miss, ids }),
        vec(oxm_id(), 0..6).prop_map(P::Match),
        vec(oxm_id(), 0..6).prop_map(P::Wildcards),
        (any::<bool>(), vec(oxm_id(), 0..6)).prop_map(|(miss, ids)| P::WriteSetfield { miss, ids }),
        (any::<bool>(), vec(oxm_id(), 0..6)).prop_map(|(miss, ids)| P::ApplySetfield { miss, ids }),
        (any::<bool>(), any::<u32>(), any::<u32>(), bytes(12)).prop_map(|(miss, e, t, d)| {
            P::Experimenter {
                miss,
                experimenter: e,
                exp_type: t,
                data: d,
            }
        }),
    ]
}

fn table_features() -> impl Strategy<Value = TableFeatures> {
    (
        any::<u8>(),
        name(31),
        any::<[u64; 2]>(),
        any::<[u32; 2]>(),
        vec(table_prop(), 0..5),
    )
        .prop_map(|(id, n, m, c, p)| TableFeatures {
            table_id: id,
            name: n,
            metadata_match: m[0],
            metadata_write: m[1],
            config: c[0],
            max_entries: c[1],
            properties: p,
        })
}

fn flow_stats_request() -> impl Strategy<Value = FlowStatsRequest> {
    (any::<u8>(), any::<[u32; 2]>(), any::<[u64; 2]>(), a_match()).prop_map(|(t, p, c, m)| {
        FlowStatsRequest {
            table_id: t,
            out_port: p[0],
            out_group: p[1],
            cookie: c[0],
            cookie_mask: c[1],
            r#match: m,
        }
    })
}

fn request_body() -> BoxedStrategy<MultipartRequestBody> {
    use MultipartRequestBody as B;
    prop_oneof![
        Just(B::Desc),
        flow_stats_request().prop_map(B::Flow),
        flow_stats_request().prop_map(B::Aggregate),
        Just(B::Table),
        any::<u32>().prop_map(|port_no| B::PortStats { port_no }),
        any::<[u32; 2]>().prop_map(|v| B::Queue {
            port_no: v[0],
            queue_id: v[1]
        }),
        any::<u32>().prop_map(|group_id| B::Group { group_id }),
        Just(B::GroupDesc),
        Just(B::GroupFeatures),
        any::<u32>().prop_map(|meter_id| B::Meter { meter_id }),
        any::<u32>().prop_map(|meter_id| B::MeterConfig { meter_id }),
        Just(B::MeterFeatures),
        vec(table_features(), 0..3).prop_map(B::TableFeatures),
        Just(B::PortDesc),
    ]
    .boxed()
}

fn reply_body() -> BoxedStrategy<MultipartReplyBody> {
    use MultipartReplyBody as B;
    let desc = (name(255), name(255), name(255), name(31), name(255)).prop_map(|s| Desc {
        mfr_desc: s.0,
        hw_desc: s.1,
        sw_desc: s.2,
        serial_num: s.3,
        dp_desc: s.4,
    });
    let flow = (
        any::<u8>(),
        any::<[u32; 2]>(),
        any::<[u16; 4]>(),
        any::<[u64; 3]>(),
        a_match(),
        instructions(),
    )
        .prop_map(|(t, d, p, c, m, i)| FlowStats {
            table_id: t,
            duration_sec: d[0],
            duration_nsec: d[1],
            priority: p[0],
            idle_timeout: p[1],
            hard_timeout: p[2],
            flags: p[3],
            cookie: c[0],
            packet_count: c[1],
            byte_count: c[2],
            r#match: m,
            instructions: i,
        });
    let table = (any::<u8>(), any::<u32>(), any::<[u64; 2]>()).prop_map(|(t, a, c)| TableStats {
        table_id: t,
        active_count: a,
        lookup_count: c[0],
        matched_count: c[1],
    });
    let port =
        (any::<u32>(), any::<[u64; 12]>(), any::<[u32; 2]>()).prop_map(|(p, c, d)| PortStats {
            port_no: p,
            rx_packets: c[0],
            tx_packets: c[1],
            rx_bytes: c[2],
            tx_bytes: c[3],
            rx_dropped: c[4],
            tx_dropped: c[5],
            rx_errors: c[6],
            tx_errors: c[7],
            rx_frame_err: c[8],
            rx_over_err: c[9],
            rx_crc_err: c[10],
            collisions: c[11],
            duration_sec: d[0],
            duration_nsec: d[1],
        });
    let queue = (any::<[u32; 4]>(), any::<[u64; 3]>()).prop_map(|(a, c)| QueueStats {
        port_no: a[0],
        queue_id: a[1],
        tx_bytes: c[0],
        tx_packets: c[1],
        tx_errors: c[2],
        duration_sec: a[2],
        duration_nsec: a[3],
    });
    let counter = any::<[u64; 2]>().prop_map(|c| BucketCounter {
        packet_count: c[0],
        byte_count: c[1],
    });
    let group = (any::<[u32; 4]>(), any::<[u64; 2]>(), vec(counter, 0..4)).prop_map(|(a, c, b)| {
        GroupStats {
            group_id: a[0],
            ref_count: a[1],
            packet_count: c[0],
            byte_count: c[1],
            duration_sec: a[2],
            duration_nsec: a[3],
            bucket_stats: b,
        }
    });
    let group_desc =
        (any::<u8>(), any::<u32>(), vec(bucket(), 0..3)).prop_map(|(t, g, b)| GroupDesc {
            group_type: t.into(),
            group_id: g,
            buckets: b,
        });
    let group_features =
        (any::<[u32; 2]>(), any::<[u32; 4]>(), any::<[u32; 4]>()).prop_map(|(a, m, ac)| {
            GroupFeatures {
                types: a[0],
                capabilities: a[1],
                max_groups: m,
                actions: ac,
            }
        });
    let band_stats = any::<[u64; 2]>().prop_map(|c| MeterBandStats {
        packet_band_count: c[0],
        byte_band_count: c[1],
    });
    let meter =
        (any::<[u32; 4]>(), any::<[u64; 2]>(), vec(band_stats, 0..4)).prop_map(|(a, c, b)| {
            MeterStats {
                meter_id: a[0],
                flow_count: a[1],
                packet_in_count: c[0],
                byte_in_count: c[1],
                duration_sec: a[2],
                duration_nsec: a[3],
                band_stats: b,
            }
        });
    let meter_config =
        (any::<u16>(), any::<u32>(), vec(band(), 0..3)).prop_map(|(f, m, b)| MeterConfig {
            flags: f,
            meter_id: m,
            bands: b,
        });
    let meter_features = (any::<[u32; 3]>(), any::<[u8; 2]>()).prop_map(|(a, b)| MeterFeatures {
        max_meter: a[0],
        band_types: a[1],
        capabilities: a[2],
        max_bands: b[0],
        max_color: b[1],
    });
    let aggregate = (any::<[u64; 2]>(), any::<u32>()).prop_map(|(c, f)| AggregateStats {
        packet_count: c[0],
        byte_count: c[1],
        flow_count: f,
    });
    Union::new(vec![
        desc.prop_map(B::Desc).boxed(),
        vec(flow, 0..3).prop_map(B::Flow).boxed(),
        aggregate.prop_map(B::Aggregate).boxed(),
        vec(table, 0..4).prop_map(B::Table).boxed(),
        vec(port, 0..3).prop_map(B::PortStats).boxed(),
        vec(queue, 0..3).prop_map(B::Queue).boxed(),
        vec(group, 0..3).prop_map(B::Group).boxed(),
        vec(group_desc, 0..3).prop_map(B::GroupDesc).boxed(),
        group_features.prop_map(B::GroupFeatures).boxed(),
        vec(meter, 0..3).prop_map(B::Meter).boxed(),
        vec(meter_config, 0..3).prop_map(B::MeterConfig).boxed(),
        meter_features.prop_map(B::MeterFeatures).boxed(),
        vec(table_features(), 0..3)
            .prop_map(B::TableFeatures)
            .boxed(),
        vec(port_desc(), 0..3).prop_map(B::PortDesc).boxed(),
        experimenter().prop_map(B::Experimenter).boxed(),
    ])
    .boxed()
}

fn hello() -> impl Strategy<Value = Hello> {
    let element = prop_oneof![
        vec(any::<u32>(), 0..3).prop_map(HelloElement::VersionBitmap),
        (2u16.., bytes(12)).prop_map(|(kind, data)| HelloElement::Unknown { kind, data }),
        (1u16..2, bytes(12))
            .prop_filter("bitmaps are multiples of 4", |(_, d)| d.len() % 4 != 0)
            .prop_map(|(kind, data)| HelloElement::Unknown { kind, data }),
        (0u16..1, bytes(12)).prop_map(|(kind, data)| HelloElement::Unknown { kind, data }),
    ];
    vec(element, 0..3).prop_map(|elements| Hello { elements })
}

fn error_msg() -> impl Strategy<Value = ErrorMsg> {
    prop_oneof![
        (0u16..0xffff, any::<u16>(), bytes(64)).prop_map(|(kind, code, data)| {
            ErrorMsg::Standard {
                error: OfError { kind, code },
                data,
            }
        }),
        (any::<u16>(), any::<u32>(), bytes(64)).prop_map(|(t, e, data)| {
            ErrorMsg::Experimenter {
                exp_type: t,
                experimenter: e,
                data,
            }
        }),
    ]
}

fn async_config() -> impl Strategy<Value = AsyncConfig> {
    any::<[u32; 6]>().prop_map(|m| AsyncConfig {
        packet_in_mask: [m[0], m[1]],
        port_status_mask: [m[2], m[3]],
        flow_removed_mask: [m[4], m[5]],
    })
}

fn role() -> impl Strategy<Value = RoleMsg> {
    (any::<u32>(), any::<u64>()).prop_map(|(r, g)| RoleMsg {
        role: r.into(),
        generation_id: g,
    })
}

fn config() -> impl Strategy<Value = SwitchConfig> {
    (any::<u16>(), any::<u16>()).prop_map(|(flags, miss_send_len)| SwitchConfig {
        flags,
        miss_send_len,
    })
}

/// Every message type except FLOW_MOD (its bodies are tested in flow_mod).
pub(crate) fn message() -> BoxedStrategy<Message> {
    use Message as M;
    let features =
        (any::<u64>(), any::<u32>(), any::<[u8; 2]>(), any::<u32>()).prop_map(|(d, b, t, c)| {
            FeaturesReply {
                datapath_id: d,
                n_buffers: b,
                n_tables: t[0],
                auxiliary_id: t[1],
                capabilities: c,
            }
        });
    let packet_in = (
        any::<u32>(),
        any::<u16>(),
        any::<[u8; 2]>(),
        any::<u64>(),
        a_match(),
        bytes(80),
    )
        .prop_map(|(b, t, rt, c, m, d)| PacketIn {
            buffer_id: b,
            total_len: t,
            reason: rt[0].into(),
            table_id: rt[1],
            cookie: c,
            r#match: m,
            data: d,
        });
    let flow_removed = (
        any::<u64>(),
        any::<u16>(),
        any::<[u8; 2]>(),
        any::<[u32; 2]>(),
        any::<[u16; 2]>(),
        any::<[u64; 2]>(),
        a_match(),
    )
        .prop_map(|(c, p, rt, d, t, n, m)| FlowRemoved {
            cookie: c,
            priority: p,
            reason: rt[0].into(),
            table_id: rt[1],
            duration_sec: d[0],
            duration_nsec: d[1],
            idle_timeout: t[0],
            hard_timeout: t[1],
            packet_count: n[0],
            byte_count: n[1],
            r#match: m,
        });
    let packet_out = (any::<[u32; 2]>(), actions(), bytes(80)).prop_map(|(a, ac, d)| PacketOut {
        buffer_id: a[0],
        in_port: a[1],
        actions: ac,
        data: d,
    });
    let port_status = (any::<u8>(), port_desc()).prop_map(|(r, desc)| PortStatus {
        reason: r.into(),
        desc,
    });
    let port_mod =
        (any::<u32>(), any::<[u8; 6]>(), any::<[u32; 3]>()).prop_map(|(p, h, v)| PortMod {
            port_no: p,
            hw_addr: h,
            config: v[0],
            mask: v[1],
            advertise: v[2],
        });
    let group_mod =
        (any::<u16>(), any::<u8>(), any::<u32>(), vec(bucket(), 0..3)).prop_map(|(c, t, g, b)| {
            GroupMod {
                command: c.into(),
                group_type: t.into(),
                group_id: g,
                buckets: b,
            }
        });
    let meter_mod =
        (any::<u16>(), any::<u16>(), any::<u32>(), vec(band(), 0..3)).prop_map(|(c, f, m, b)| {
            MeterMod {
                command: c.into(),
                flags: f,
                meter_id: m,
                bands: b,
            }
        });
    let queue_prop = prop_oneof![
        any::<u16>().prop_map(QueueProp::MinRate),
        any::<u16>().prop_map(QueueProp::MaxRate),
        (any::<u32>(), bytes(16))
            .prop_map(|(experimenter, data)| QueueProp::Experimenter { experimenter, data }),
        (3u16..0xffff, bytes(16)).prop_map(|(kind, data)| QueueProp::Unknown { kind, data }),
    ];
    let queue = (any::<[u32; 2]>(), vec(queue_prop, 0..3)).prop_map(|(a, p)| PacketQueue {
        queue_id: a[0],
        port: a[1],
        properties: p,
    });
    Union::new(vec![
        hello().prop_map(M::Hello).boxed(),
        error_msg().prop_map(M::Error).boxed(),
        bytes(64).prop_map(M::EchoRequest).boxed(),
        bytes(64).prop_map(M::EchoReply).boxed(),
        experimenter().prop_map(M::Experimenter).boxed(),
        Just(M::FeaturesRequest).boxed(),
        features.prop_map(M::FeaturesReply).boxed(),
        Just(M::GetConfigRequest).boxed(),
        config().prop_map(M::GetConfigReply).boxed(),
        config().prop_map(M::SetConfig).boxed(),
        packet_in.prop_map(M::PacketIn).boxed(),
        flow_removed.prop_map(M::FlowRemoved).boxed(),
        port_status.prop_map(M::PortStatus).boxed(),
        packet_out.prop_map(M::PacketOut).boxed(),
        group_mod.prop_map(M::GroupMod).boxed(),
        port_mod.prop_map(M::PortMod).boxed(),
        (any::<u8>(), any::<u32>())
            .prop_map(|(table_id, config)| M::TableMod(TableMod { table_id, config }))
            .boxed(),
        (any::<u16>(), request_body())
            .prop_map(|(flags, body)| M::MultipartRequest(MultipartRequest { flags, body }))
            .boxed(),
        (any::<u16>(), reply_body())
            .prop_map(|(flags, body)| M::MultipartReply(MultipartReply { flags, body }))
            .boxed(),
        Just(M::BarrierRequest).boxed(),
        Just(M::BarrierReply).boxed(),
        any::<u32>()
            .prop_map(|port| M::QueueGetConfigRequest(QueueGetConfigRequest { port }))
            .boxed(),
        (any::<u32>(), vec(queue, 0..3))
            .prop_map(|(port, queues)| M::QueueGetConfigReply(QueueGetConfigReply { port, queues }))
            .boxed(),
        role().prop_map(M::RoleRequest).boxed(),
        role().prop_map(M::RoleReply).boxed(),
        Just(M::GetAsyncRequest).boxed(),
        async_config().prop_map(M::GetAsyncReply).boxed(),
        async_config().prop_map(M::SetAsync).boxed(),
        meter_mod.prop_map(M::MeterMod).boxed(),
        Just(M::FlowMod(FlowMod::default())).boxed(),
    ])
    .boxed()
}

/// The fuzz property: if `bytes` decodes, its re-encoding decodes to the
/// same message (and is canonical: encoding that again is the same bytes).
fn check_stable(bytes: &[u8]) {
    if let Ok((h, m)) = decode(bytes) {
        let again = encode(h.xid, &m);
        let (h2, m2) = decode(&again).unwrap_or_else(|e| panic!("{m:?} re-decoded to {e}"));
        assert_eq!(m2, m);
        assert_eq!(h2.xid, h.xid);
        assert_eq!(encode(h.xid, &m2), again);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_message_round_trips(xid in any::<u32>(), m in message()) {
        let bytes = encode(xid, &m);
        prop_assert_eq!(usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), bytes.len());
        let (h, back) = decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(h.xid, xid);
        prop_assert_eq!(h.version, 4);
        prop_assert_eq!(h.msg_type, m.msg_type());
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(encode(xid, &back), bytes);
    }

    #[test]
    fn random_bytes_never_panic(b in vec(any::<u8>(), 0..300)) {
        check_stable(&b);
    }

    #[test]
    fn random_bodies_with_valid_headers_never_panic(
        t in 0u8..32,
        xid in any::<u32>(),
        body in vec(any::<u8>(), 0..300),
    ) {
        let mut b = vec![4, t];
        b.extend(u16::try_from(body.len() + 8).unwrap().to_be_bytes());
        b.extend(xid.to_be_bytes());
        b.extend(body);
        check_stable(&b);
    }

    #[test]
    fn mutated_messages_never_panic(
        m in message(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut b = encode(7, &m);
        for (i, v) in flips {
            let i = 8 + i.index(b.len().saturating_sub(8).max(1));
            if i < b.len() {
                b[i] = v;
            }
        }
        if truncate {
            let n = cut.index(b.len() + 1).max(8);
            b.truncate(n);
            let len = u16::try_from(b.len()).unwrap().to_be_bytes();
            b[2..4].copy_from_slice(&len);
        }
        check_stable(&b);
    }
}

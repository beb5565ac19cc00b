//! The OpenFlow bridge over a real datapath with in-memory ports.

use super::*;
use crate::wire::action::Action;
use crate::wire::error::BadAction;
use crate::wire::flow_mod::{FlowMod, FlowModCommand, FlowModFlags};
use crate::wire::instruction::Instruction;
use crate::wire::multipart::{
    FlowStatsRequest, MultipartReplyBody, MultipartRequest, MultipartRequestBody,
};
use crate::wire::packet::PacketOut;
use crate::wire::switch::ErrorMsg;
use datapath::dpif::DpifConfig;
use datapath::netdev::mem::MemPort;
use std::time::Duration;

struct Rig {
    bridge: Arc<OfBridge>,
    dpif: Arc<Dpif>,
    ports: Vec<Arc<MemPort>>,
    sent: Arc<Mutex<Vec<Message>>>,
}

fn rig(fail_mode: FailMode, n: u32) -> Rig {
    let bridge = OfBridge::new("br", 1, fail_mode, MacTable::default());
    let dpif = Arc::new(
        Dpif::new(
            DpifConfig {
                emc_insert_inv_prob: 1,
                ..Default::default()
            },
            bridge.clone(),
            Some(bridge.store.meters.clone()),
        )
        .unwrap(),
    );
    bridge.attach(&dpif);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s = sent.clone();
    bridge.set_async_sink(Box::new(move |m| s.lock().unwrap().push(m)));
    let mut ports = Vec::new();
    for i in 1..=n {
        let p = MemPort::new(&format!("p{i}"));
        let no = dpif.add_port(p.clone(), Some(i)).unwrap();
        bridge.port_added(no, p.clone());
        ports.push(p);
    }
    Rig {
        bridge,
        dpif,
        ports,
        sent,
    }
}

fn frame(src: u8, dst: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, src]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, src]);
    f[30..34].copy_from_slice(&[10, 0, 0, dst[5]]);
    f
}

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn flow(table: u8, priority: u16, m: Match, actions: Vec<Action>) -> Message {
    Message::FlowMod(FlowMod {
        table_id: table,
        priority,
        match_: m,
        instructions: vec![Instruction::ApplyActions(actions)],
        command: FlowModCommand::Add,
        ..Default::default()
    })
}

fn out(port: u32) -> Action {
    Action::Output { port, max_len: 0 }
}

#[test]
fn standalone_without_controller_is_a_learning_switch() {
    let r = rig(FailMode::Standalone, 3);
    r.ports[0].inject(&frame(1, mac(2)));
    wait_until("flood", || r.ports[1].sent() == 1 && r.ports[2].sent() == 1);
    r.ports[1].inject(&frame(2, mac(1)));
    wait_until("reply to port 1", || r.ports[0].sent() == 1);
    assert_eq!(r.ports[2].sent(), 1, "the reply is not flooded");
    // Now 1 -> 2 is known: no more flooding.
    r.dpif.sync(Duration::from_secs(2)).unwrap();
    r.ports[0].inject(&frame(1, mac(2)));
    wait_until("unicast", || r.ports[1].sent() == 2);
    r.dpif.sync(Duration::from_secs(2)).unwrap();
    assert_eq!(r.ports[2].sent(), 1);
    assert_eq!(r.bridge.mac_entries().len(), 2);
}

#[test]
fn flow_table_decides_and_counters_come_back() {
    let r = rig(FailMode::Secure, 3);
    assert!(r
        .bridge
        .handle_request(
            1,
            flow(0, 10, Match::new().with(OxmField::InPort(1)), vec![out(2)])
        )
        .is_empty());
    for i in 0..10 {
        r.ports[0].inject(&frame(i, mac(2)));
    }
    wait_until("10 on port 2", || r.ports[1].sent() == 10);
    // Unmatched traffic is dropped (table miss).
    r.ports[2].inject(&frame(3, mac(1)));
    r.bridge.revalidate(Duration::from_secs(10));
    let reply = r.bridge.handle_request(
        2,
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::Flow(FlowStatsRequest {
                table_id: 0xff,
                out_port: crate::wire::action::port_no::ANY,
                out_group: crate::wire::action::group_no::ANY,
                cookie: 0,
                cookie_mask: 0,
                r#match: Match::new(),
            }),
        }),
    );
    let Message::MultipartReply(m) = &reply[0] else {
        panic!("{reply:?}")
    };
    let MultipartReplyBody::Flow(stats) = &m.body else {
        panic!()
    };
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].packet_count, 10);
    assert_eq!(stats[0].byte_count, 600);
    assert_eq!(
        r.ports[0].sent(),
        0,
        "table miss dropped the reverse packet"
    );
}

#[test]
fn changing_a_flow_revalidates_cached_megaflows() {
    let r = rig(FailMode::Secure, 3);
    r.bridge.handle_request(
        1,
        flow(0, 10, Match::new().with(OxmField::InPort(1)), vec![out(2)]),
    );
    r.ports[0].inject(&frame(1, mac(2)));
    wait_until("to port 2", || r.ports[1].sent() == 1);
    let mut modify = FlowMod {
        table_id: 0,
        priority: 10,
        match_: Match::new().with(OxmField::InPort(1)),
        instructions: vec![Instruction::ApplyActions(vec![out(3)])],
        command: FlowModCommand::ModifyStrict,
        ..Default::default()
    };
    r.bridge.handle_request(2, Message::FlowMod(modify.clone()));
    let st = r.bridge.revalidate(Duration::from_secs(10));
    assert_eq!(st.deleted_stale, 1, "{st:?}");
    r.dpif.sync(Duration::from_secs(2)).unwrap();
    r.ports[0].inject(&frame(1, mac(2)));
    wait_until("to port 3", || r.ports[2].sent() == 1);
    assert_eq!(r.ports[1].sent(), 1);
    // A flow-mod that changes nothing for this megaflow keeps it.
    modify.match_ = Match::new().with(OxmField::InPort(3));
    modify.command = FlowModCommand::Add;
    r.bridge.handle_request(3, Message::FlowMod(modify));
    let st = r.bridge.revalidate(Duration::from_secs(10));
    assert_eq!((st.retranslated, st.deleted_stale), (1, 0), "{st:?}");
}

#[test]
fn a_barrier_brings_cached_megaflows_up_to_date() {
    // No revalidator thread here: only the barrier can fix the cache.
    let r = rig(FailMode::Secure, 3);
    r.bridge.handle_request(
        1,
        flow(0, 10, Match::new().with(OxmField::InPort(1)), vec![out(2)]),
    );
    r.ports[0].inject(&frame(1, mac(2)));
    wait_until("to port 2", || r.ports[1].sent() == 1);
    let modify = FlowMod {
        table_id: 0,
        priority: 10,
        match_: Match::new().with(OxmField::InPort(1)),
        instructions: vec![Instruction::ApplyActions(vec![out(3)])],
        command: FlowModCommand::ModifyStrict,
        ..Default::default()
    };
    r.bridge.handle_request(2, Message::FlowMod(modify));
    assert_eq!(
        r.bridge.handle_request(3, Message::BarrierRequest),
        vec![Message::BarrierReply]
    );
    r.ports[0].inject(&frame(1, mac(2)));
    wait_until("to port 3", || r.ports[2].sent() == 1);
    assert_eq!(r.ports[1].sent(), 1, "the stale megaflow was used");
    // Nothing changed since: the next barrier keeps the new megaflow.
    r.bridge.handle_request(4, Message::BarrierRequest);
    assert_eq!(r.bridge.sync_to_pipeline(), 0);
}

#[test]
fn table_miss_to_controller_becomes_a_packet_in() {
    let r = rig(FailMode::Secure, 2);
    r.bridge.set_controller_connected(true);
    r.bridge.handle_request(
        1,
        flow(
            0,
            0,
            Match::new(),
            vec![Action::Output {
                port: crate::wire::action::port_no::CONTROLLER,
                max_len: 0xffff,
            }],
        ),
    );
    r.ports[1].inject(&frame(7, mac(1)));
    wait_until("packet-in", || {
        r.sent
            .lock()
            .unwrap()
            .iter()
            .any(|m| matches!(m, Message::PacketIn(_)))
    });
    let sent = r.sent.lock().unwrap();
    let Some(Message::PacketIn(pi)) = sent.iter().find(|m| matches!(m, Message::PacketIn(_)))
    else {
        unreachable!()
    };
    assert_eq!(pi.reason, PacketInReason::NoMatch);
    assert_eq!(
        pi.r#match.get(crate::wire::oxm::OxmKind::InPort),
        Some(&OxmField::InPort(2))
    );
    assert_eq!(pi.data, frame(7, mac(1)));
    assert_eq!(pi.total_len, 60);
}

#[test]
fn idle_timeout_sends_flow_removed_and_packet_out_sends() {
    let r = rig(FailMode::Secure, 2);
    r.bridge.handle_request(
        1,
        Message::FlowMod(FlowMod {
            priority: 5,
            idle_timeout: 1,
            flags: FlowModFlags::SEND_FLOW_REM,
            instructions: vec![Instruction::ApplyActions(vec![out(2)])],
            ..Default::default()
        }),
    );
    std::thread::sleep(Duration::from_millis(1100));
    r.bridge.revalidate(Duration::from_secs(10));
    assert!(r
        .sent
        .lock()
        .unwrap()
        .iter()
        .any(|m| matches!(m, Message::FlowRemoved(f) if f.priority == 5)));
    assert_eq!(r.bridge.store.snapshot().rules().count(), 0);

    r.bridge.handle_request(
        2,
        Message::PacketOut(PacketOut {
            buffer_id: crate::wire::flow_mod::OFP_NO_BUFFER,
            in_port: crate::wire::action::port_no::CONTROLLER,
            actions: vec![out(2)],
            data: frame(1, mac(2)),
        }),
    );
    assert_eq!(r.ports[1].take_sent(), vec![frame(1, mac(2))]);
}

#[test]
fn a_bad_flow_mod_is_refused_and_changes_nothing() {
    let r = rig(FailMode::Secure, 2);
    let reply = r
        .bridge
        .handle_request(9, flow(0, 1, Match::new(), vec![Action::Group(42)]));
    match &reply[..] {
        [Message::Error(ErrorMsg::Standard { error, data })] => {
            assert_eq!(*error, BadAction::BAD_OUT_GROUP);
            assert!(!data.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.bridge.store.snapshot().rules().count(), 0);
}

#[test]
fn port_features_follow_the_link() {
    use crate::wire::port::port_features as f;
    use datapath::netdev::ethtool::{LinkSpeed, Medium};
    let link = |mbps, full_duplex, medium| {
        Some(LinkSpeed {
            mbps,
            full_duplex,
            medium,
        })
    };
    assert_eq!(super::features(None), f::F_10GB_FD, "virtual ports");
    assert_eq!(
        super::features(link(1000, true, Medium::Copper)),
        f::F_1GB_FD | f::COPPER
    );
    assert_eq!(
        super::features(link(100_000, true, Medium::Fiber)),
        f::F_100GB_FD | f::FIBER
    );
    assert_eq!(super::features(link(25_000, true, Medium::Other)), f::OTHER);
    assert_eq!(
        super::features(link(10, false, Medium::Copper)),
        f::F_10MB_HD | f::COPPER
    );
}

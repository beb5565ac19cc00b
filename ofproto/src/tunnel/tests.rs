//! Two hypervisors in one process: each a tenant bridge with a VXLAN port
//! over an underlay bridge whose uplink is an in-memory port; the test
//! carries frames between the two uplinks as the wire would.

use super::*;
use crate::bridge::{FailMode, OfBridge};
use crate::mac_learning::MacTable;
use datapath::dpif::DpifConfig;
use datapath::netdev::mem::MemPort;
use datapath::wire::{ethernet, ipv4, udp, vxlan};
use std::collections::BTreeMap;

struct Hypervisor {
    plane: Arc<TunnelPlane>,
    tenant: Arc<MemPort>,
    uplink: Arc<MemPort>,
    local: Arc<MemPort>,
    _bridges: Vec<(Arc<OfBridge>, Arc<Dpif>)>,
}

fn bridge(name: &str, plane: &Arc<TunnelPlane>, local: bool) -> (Arc<OfBridge>, Arc<Dpif>) {
    let b = OfBridge::new(name, 1, FailMode::Standalone, MacTable::default());
    let d = Arc::new(
        Dpif::new(
            DpifConfig {
                emc_insert_inv_prob: 1,
                ..Default::default()
            },
            b.clone(),
            None,
        )
        .unwrap(),
    );
    b.attach(&d);
    b.set_tunnels(plane.clone());
    plane.add_bridge(name, &d, local);
    (b, d)
}

fn add(b: &(Arc<OfBridge>, Arc<Dpif>), port: Arc<dyn datapath::netdev::Port>, no: PortNo) {
    let no = b.1.add_port(port.clone(), Some(no)).unwrap();
    b.0.port_added(no, port);
}

const MAC_X: [u8; 6] = [2, 0, 0, 0, 1, 1];
const MAC_Y: [u8; 6] = [2, 0, 0, 0, 2, 2];

fn hypervisor(tag: &str, mac: [u8; 6], me: Ipv4Addr, remote: &str, key: &str) -> Hypervisor {
    let plane = TunnelPlane::new();
    let int = bridge(&format!("int{tag}"), &plane, false);
    let phy_name = format!("phy{tag}");
    let phy = bridge(&phy_name, &plane, true);
    let tenant = MemPort::new(&format!("t{tag}"));
    let uplink = MemPort::new(&format!("u{tag}"));
    let local = MemPort::new(&phy_name);
    add(&int, tenant.clone(), 1);
    let vx = virtual_port(&format!("vx{tag}"));
    add(&int, vx, 2);
    add(&phy, local.clone(), LOCAL_DP_PORT);
    add(&phy, uplink.clone(), 1);
    plane.set_local_info(
        &phy_name,
        InterfaceInfo {
            addresses: vec![IpAddr::V4(me)],
            mtu: 1500,
            mac: Some(mac),
        },
    );
    plane
        .add_route(Route {
            prefix: "192.0.2.0".parse().unwrap(),
            len: 24,
            dev: phy_name.clone(),
            gateway: None,
            src: None,
            metric: 0,
            origin: Origin::User,
        })
        .unwrap();
    let opts: BTreeMap<String, String> = [("remote_ip", remote), ("key", key)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cfg = TunnelConfig::parse(TunnelKind::Vxlan, &opts).unwrap();
    plane.add_tunnel(&format!("int{tag}"), 2, &format!("vx{tag}"), cfg);
    Hypervisor {
        plane,
        tenant,
        uplink,
        local,
        _bridges: vec![int, phy],
    }
}

fn virtual_port(name: &str) -> Arc<dyn datapath::netdev::Port> {
    Arc::new(datapath::netdev::link::VirtualPort::new(name, "vxlan").unwrap())
}

/// A UDP frame between two tenant hosts.
fn tenant_frame(src: u8, dst: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0x10, dst]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0x10, src]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, src]);
    f[30..34].copy_from_slice(&[10, 0, 0, dst]);
    f
}

fn arp_reply(sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let mut f = arp_request(sha, spa, tpa);
    f[..6].copy_from_slice(&tha);
    f[21] = 2;
    f[32..38].copy_from_slice(&tha);
    f
}

fn wait_for(what: &str, port: &MemPort, mut want: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(f) = port.take_sent().into_iter().find(|f| want(f)) {
            return f;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn vni_of(f: &[u8]) -> Option<u32> {
    let eth = ethernet::Frame::new_checked(f).ok()?;
    let ip = ipv4::Packet::new_checked(eth.payload()).ok()?;
    let u = udp::Packet::new_checked(ip.payload()).ok()?;
    (u.dst_port() == 4789).then(|| {
        vxlan::Packet::new_checked(u.payload())
            .ok()
            .map(|v| v.vni())
    })?
}

#[test]
fn a_frame_crosses_a_vxlan_tunnel_after_the_far_endpoint_is_resolved() {
    let x_ip = Ipv4Addr::new(192, 0, 2, 1);
    let y_ip = Ipv4Addr::new(192, 0, 2, 2);
    let x = hypervisor("x", MAC_X, x_ip, "192.0.2.2", "5");
    let y = hypervisor("y", MAC_Y, y_ip, "192.0.2.1", "5");
    assert!(x.plane.involves("intx") && x.plane.involves("phyx"));

    // No neighbour yet: the frame is dropped and an ARP request for the
    // far endpoint leaves the underlay uplink, from the LOCAL address.
    let frame = tenant_frame(1, 2);
    x.tenant.inject(&frame);
    let req = wait_for("an ARP request", &x.uplink, |f| f[12..14] == [0x08, 0x06]);
    assert_eq!(&req[6..12], &MAC_X);
    assert_eq!(&req[28..32], &x_ip.octets());
    assert_eq!(&req[38..42], &y_ip.octets());
    assert!(x.plane.counters.neighbour_miss.load(Relaxed) >= 1);

    // The far end answers; the reply reaches LOCAL and is snooped.
    x.uplink.inject(&arp_reply(MAC_Y, y_ip, MAC_X, x_ip));
    wait_for("the ARP reply at LOCAL", &x.local, |f| {
        f[12..14] == [0x08, 0x06]
    });
    assert_eq!(x.plane.neighbours().len(), 1);
    assert_eq!(x.plane.neighbours()[0].mac, MAC_Y);

    // Now the frame goes out encapsulated, to the resolved MAC.
    x.tenant.inject(&frame);
    let outer = wait_for("a VXLAN frame", &x.uplink, |f| vni_of(f).is_some());
    assert_eq!(vni_of(&outer), Some(5));
    assert_eq!(&outer[..6], &MAC_Y);
    assert_eq!(&outer[6..12], &MAC_X);
    assert_eq!(&outer[26..30], &x_ip.octets());
    assert_eq!(&outer[30..34], &y_ip.octets());
    assert_eq!(&outer[50..], &frame[..]);

    // On the far side the underlay bridge hands it to the tenant bridge,
    // which pops it: the tenant gets the inner frame, LOCAL nothing.
    y.uplink.inject(&outer);
    let inner = wait_for("the inner frame", &y.tenant, |_| true);
    assert_eq!(inner, frame);
    assert!(y.local.take_sent().iter().all(|f| vni_of(f).is_none()));

    // Another VNI is not this port's: dropped and counted.
    let mut other = outer.clone();
    other[46] = 6; // the VNI's low byte
    y.uplink.inject(&other);
    let deadline = Instant::now() + Duration::from_secs(5);
    while y.plane.counters.unknown_key.load(Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the wrong VNI was not counted");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(y.tenant.take_sent().is_empty());
}

#[test]
fn a_tunnel_packet_for_an_address_that_is_not_local_stays_a_plain_packet() {
    let y = hypervisor("z", MAC_Y, Ipv4Addr::new(192, 0, 2, 2), "192.0.2.1", "5");
    let x = hypervisor("w", MAC_X, Ipv4Addr::new(192, 0, 2, 1), "192.0.2.2", "5");
    x.plane
        .add_route(Route {
            prefix: "192.0.2.0".parse().unwrap(),
            len: 24,
            dev: "phyw".into(),
            gateway: None,
            src: None,
            metric: 0,
            origin: Origin::User,
        })
        .unwrap();
    x.tenant.inject(&tenant_frame(1, 2));
    wait_for("an ARP request", &x.uplink, |f| f[12..14] == [0x08, 0x06]);
    x.uplink.inject(&arp_reply(
        MAC_Y,
        Ipv4Addr::new(192, 0, 2, 2),
        MAC_X,
        Ipv4Addr::new(192, 0, 2, 1),
    ));
    wait_for("the ARP reply at LOCAL", &x.local, |f| {
        f[12..14] == [0x08, 0x06]
    });
    x.tenant.inject(&tenant_frame(1, 2));
    let mut outer = wait_for("a VXLAN frame", &x.uplink, |f| vni_of(f).is_some());
    // Re-address it to 192.0.2.9, which is not y's: y's LOCAL gets it
    // as any IP packet, the tenant bridge never sees it.
    outer[33] = 9;
    let mut ip = ipv4::Packet::new_checked(&mut outer[14..]).unwrap();
    ip.fill_checksum();
    y.uplink.inject(&outer);
    wait_for("the packet at LOCAL", &y.local, |f| vni_of(f).is_some());
    assert!(y.tenant.take_sent().is_empty());
}

#[test]
fn a_bridge_that_is_nobodys_underlay_neither_snoops_nor_terminates() {
    let plane = TunnelPlane::new();
    let br = bridge("lonely", &plane, true);
    add(&br, MemPort::new("lonely"), LOCAL_DP_PORT);
    let mut key = FlowKey::default();
    datapath::flow::extract(
        &Packet::from_bytes(&arp_request(
            MAC_X,
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
        )),
        &mut key,
    );
    let (mut wc, mut out, mut verdict) = (FlowKey::default(), Vec::new(), Verdict::default());
    assert!(!plane.output(
        "lonely",
        &TlvMap::default(),
        LOCAL_DP_PORT,
        &key,
        &mut wc,
        &mut out,
        &mut verdict
    ));
    assert!(
        !verdict.slow,
        "ARP to a plain bridge's LOCAL must stay cacheable"
    );
    assert!(plane.neighbours().is_empty());
    assert_eq!(wc, FlowKey::default());
    // Its megaflows never depend on the plane, so they are not dropped
    // when routes or neighbours change.
    assert!(!plane.involves("lonely"));
}

/// The options that shape the outer header: TOS and TTL inherited from
/// the inner packet, DF left clear, the UDP checksum filled.
#[test]
fn tos_ttl_df_and_csum_options_shape_the_outer_header() {
    let plane = TunnelPlane::new();
    let int = bridge("into", &plane, false);
    let phy = bridge("phyo", &plane, true);
    add(&int, MemPort::new("to"), 1);
    add(&int, virtual_port("vxo"), 2);
    add(&phy, MemPort::new("phyo"), LOCAL_DP_PORT);
    let me = Ipv4Addr::new(192, 0, 2, 1);
    let far = Ipv4Addr::new(192, 0, 2, 2);
    plane.set_local_info(
        "phyo",
        InterfaceInfo {
            addresses: vec![IpAddr::V4(me)],
            mtu: 1500,
            mac: Some(MAC_X),
        },
    );
    plane
        .add_route(Route {
            prefix: "192.0.2.0".parse().unwrap(),
            len: 24,
            dev: "phyo".into(),
            gateway: None,
            src: None,
            metric: 0,
            origin: Origin::User,
        })
        .unwrap();
    let opts: BTreeMap<String, String> = [
        ("remote_ip", "192.0.2.2"),
        ("key", "7"),
        ("tos", "inherit"),
        ("ttl", "inherit"),
        ("df_default", "false"),
        ("csum", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    plane.add_tunnel(
        "into",
        2,
        "vxo",
        TunnelConfig::parse(TunnelKind::Vxlan, &opts).unwrap(),
    );

    // The far end's ARP reply, snooped on its way to LOCAL.
    let mut arp = FlowKey::default();
    datapath::flow::extract(
        &Packet::from_bytes(&arp_reply(MAC_Y, far, MAC_X, me)),
        &mut arp,
    );
    let mut v = Verdict::default();
    plane.output(
        "phyo",
        &TlvMap::default(),
        LOCAL_DP_PORT,
        &arp,
        &mut FlowKey::default(),
        &mut Vec::new(),
        &mut v,
    );
    assert!(v.slow, "snooping must not be cached");

    let inner = tenant_frame(1, 2);
    let mut key = FlowKey::default();
    datapath::flow::extract(&Packet::from_bytes(&inner), &mut key);
    key.in_port = 1;
    key.nw_ttl = 33;
    key.nw_tos = 0xb8;
    let (mut wc, mut out, mut v) = (FlowKey::default(), Vec::new(), Verdict::default());
    assert!(plane.output(
        "into",
        &TlvMap::default(),
        2,
        &key,
        &mut wc,
        &mut out,
        &mut v
    ));
    assert!(!v.slow);
    // Inherited fields are part of the megaflow.
    assert_eq!((wc.nw_ttl, wc.nw_tos), (u8::MAX, u8::MAX));
    let Some(Dp::TunnelPush { header, .. }) = out.first() else {
        panic!("no push: {out:?}");
    };
    let mut p = Packet::from_bytes(&inner);
    datapath::tunnel::push(&mut p, header, 1).unwrap();
    let f = p.data();
    assert_eq!(&f[..6], &MAC_Y);
    assert_eq!(f[15], 0xb8, "TOS inherited");
    assert_eq!(f[22], 33, "TTL inherited");
    assert_eq!(f[20] & 0x40, 0, "DF clear");
    assert_ne!(&f[40..42], &[0, 0], "UDP checksum filled");
    assert_eq!(vni_of(f), Some(7));
}

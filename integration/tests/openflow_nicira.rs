//! `ovs-ofctl -O OpenFlow13` programming switchd with Open vSwitch's
//! Nicira extensions: NXM fields in matches, `resubmit`, `load`,
//! `set_field` on registers, `move`, `output:<register>` and `note`.
//!
//! The one idea: `ovs-ofctl` encodes the extensions itself (the NXM
//! headers, the NXAST layouts), so a flow it adds, dumps back in its own
//! words and that forwards a ping is evidence the codec and the pipeline
//! agree with Open vSwitch. One topology (two hosts) serves every check.

use std::time::Duration;

use switchd_integration::ofctl::{free_tcp_port, ofctl_available, Ofctl};
use switchd_integration::{BridgeConfig, Error, FailMode, PortType, Switch, Topo};

const WARM_UP: Duration = Duration::from_secs(4);

/// The OpenFlow port number `ovs-ofctl show` lists for port `name`
/// (` 1(h1-eth0): addr:...`).
fn port_number(show: &str, name: &str) -> Option<u16> {
    let needle = format!("({name})");
    show.lines().find_map(|l| {
        let l = l.trim();
        let at = l.find(&needle)?;
        l[..at].parse().ok()
    })
}

#[test]
fn ofctl_nicira_fields_and_actions_program_a_forwarding_pipeline() -> Result<(), Error> {
    if !ofctl_available() {
        eprintln!("skipping: ovs-ofctl (openvswitch-common) is not installed");
        return Ok(());
    }
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(2, "10.0.71.0/24")?;
    let port = free_tcp_port()?;
    let config = BridgeConfig::new("br0")
        .fail_mode(FailMode::Secure)
        .set("controller", &format!("[\"ptcp:{port}:127.0.0.1\"]"))
        .ports(&hosts, PortType::AfPacket);
    let mut switch = Switch::start(&config.to_toml())?;
    let ofctl = Ofctl::new(port)?;
    ofctl.wait_listening(Duration::from_secs(10))?;

    let show = ofctl.run("show", &[])?;
    let (p1, p2) = (hosts[0].port(), hosts[1].port());
    let n1 = port_number(&show, p1).expect("port 1 in show");
    let n2 = port_number(&show, p2).expect("port 2 in show");

    // GENEVE options become fields through the TLV map.
    ofctl.run(
        "add-tlv-map",
        &["{class=0xffff,type=0x80,len=4}->tun_metadata0"],
    )?;
    let map = ofctl.run("dump-tlv-map", &[])?;
    assert!(
        map.contains("0xffff") && map.contains("0x80") && map.contains("tun_metadata0"),
        "{map}"
    );
    let again = ofctl.output(
        "add-tlv-map",
        &["{class=0xffff,type=0x80,len=4}->tun_metadata0"],
    )?;
    assert!(
        !again.status.success()
            && String::from_utf8_lossy(&again.stderr).contains("NXTTMFC_ALREADY_MAPPED"),
        "{again:?}"
    );
    let unmapped = ofctl.output("add-flow", &["table=9,tun_metadata5=1,actions=drop"])?;
    assert!(
        String::from_utf8_lossy(&unmapped.stderr).contains("NXFMFC_INVALID_TLV_FIELD"),
        "{unmapped:?}"
    );

    // Every field, in a table no packet reaches (table 9): accepted, and
    // dumped back as Open vSwitch prints it.
    let fields = [
        ("reg0=0x5", "reg0=0x5"),
        ("reg3=0x10/0xf0", "reg3=0x10/0xf0"),
        ("reg15=0xffffffff", "reg15=0xffffffff"),
        ("reg9=0x1/0x1", "reg9=0x1/0x1"),
        ("tun_id=0x64", "tun_id=0x64"),
        ("tun_src=10.1.1.1", "tun_src=10.1.1.1"),
        ("tun_dst=10.1.2.0/24", "tun_dst=10.1.2.0/24"),
        ("tun_ipv6_src=2001:db8::1", "tun_ipv6_src=2001:db8::1"),
        ("tun_ipv6_dst=2001:db8::/64", "tun_ipv6_dst=2001:db8::/64"),
        ("tun_flags=+oam", "tun_flags=+oam"),
        ("tun_metadata0=0xa/0xf", "tun_metadata0=0xa/0xf"),
        ("pkt_mark=0x2a", "pkt_mark=0x2a"),
        ("ip,ip_frag=later", "ip,nw_frag=later"),
        ("tcp,tp_dst=0x1000/0xf000", "tcp,tp_dst=0x1000/0xf000"),
    ];
    for (i, (flow, _)) in fields.iter().enumerate() {
        ofctl.add_flow(&format!("table=9,priority={},{flow},actions=drop", 100 + i))?;
    }
    let resubmit_port = format!("resubmit:{p1}");
    let actions = [
        resubmit_port.as_str(),
        "resubmit(,2)",
        "load:0x3->NXM_NX_REG1[]",
        "load:0x1->NXM_NX_REG2[4..7]",
        "set_field:0x7->reg0",
        "load:0x2a->NXM_NX_REG12[]",
        "set_field:2001:db8::2->tun_ipv6_dst",
        "set_field:0xb->tun_metadata0",
        "load:0x7->tun_metadata0[0..15]",
        "move:NXM_OF_ETH_SRC[0..15]->NXM_NX_REG3[0..15]",
        "output:NXM_NX_REG1[0..15]",
        "note:01.02.03.04.05.06",
    ];
    for (i, a) in actions.iter().enumerate() {
        ofctl.add_flow(&format!(
            "table=8,priority={},reg0={i},actions={a}",
            100 + i
        ))?;
    }
    let flows = ofctl.dump_flows(None)?;
    for (i, (_, shown)) in fields.iter().enumerate() {
        let f = flows
            .iter()
            .find(|f| f.table == 9 && f.priority == 100 + i as u16)
            .unwrap_or_else(|| panic!("field flow {shown} missing: {flows:#?}"));
        for part in shown.split(',') {
            assert!(f.matching.contains(part), "{shown}: dumped as {f:?}");
        }
    }
    for (i, a) in actions.iter().enumerate() {
        let f = flows
            .iter()
            .find(|f| f.table == 8 && f.priority == 100 + i as u16)
            .unwrap_or_else(|| panic!("action flow {a} missing: {flows:#?}"));
        let want = match *a {
            // With --names, ovs-ofctl prints switchd's table names.
            "resubmit(,2)" => "resubmit(,table2)",
            // A partial load of a variable-length field goes as
            // NXAST_REG_LOAD2, which ovs-ofctl prints as a masked set_field.
            "load:0x7->tun_metadata0[0..15]" => "set_field:0x7/0xffff->tun_metadata0",
            other => other,
        };
        assert!(f.actions.contains(want), "{a}: dumped as {:?}", f.actions);
    }
    // A mapping flows use cannot go.
    let busy = ofctl.output("del-tlv-map", &[])?;
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("NXTTMFC_INVALID_TLV_DEL"),
        "{busy:?}"
    );

    // A field switchd has no place for is refused, with Open vSwitch's
    // error, and leaves the tables as they were.
    let out = ofctl.output("add-flow", &["table=9,tun_gbp_id=1,actions=drop"])?;
    assert!(!out.status.success(), "tun_gbp_id accepted");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("OFPBMC_BAD_FIELD"),
        "{out:?}"
    );

    // A pipeline built of the extensions forwards a ping: table 0 loads
    // the output port into reg13 by input port and resubmits to table 1,
    // which outputs to the port in reg13.
    ofctl.run("del-flows", &["table=8"])?;
    for (from, to) in [(p1, n2), (p2, n1)] {
        ofctl.add_flow(&format!(
            "table=0,priority=10,in_port={from},actions=load:{to}->NXM_NX_REG13[],resubmit(,1)"
        ))?;
    }
    ofctl.add_flow("table=1,priority=10,actions=note:aa.bb,output:NXM_NX_REG13[0..15]")?;
    let (a, b) = (&hosts[0], &hosts[1]);
    assert!(
        a.wait_reachable(b.ip(), WARM_UP)? && a.ping(b.ip(), 3)?.all_received(),
        "ping through resubmit + load + output:reg"
    );
    assert!(switch.is_running());
    Ok(())
}

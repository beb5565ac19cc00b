//! Checks of the harness itself, with the kernel bridge standing in for
//! switchd: if these fail, the switch tests' failures mean nothing.

use std::time::Duration;

use switchd_integration::{cleanup_stale, link_exists, Error, Topo, PREFIX_FAMILY};

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn hosts_talk_through_a_kernel_bridge_and_vanish_on_drop() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let a = topo.add_host("a", "10.9.0.1/24")?;
    let b = topo.add_host("b", "10.9.0.2/24")?;
    assert_eq!(a.port(), format!("{}a", topo.prefix()));
    assert!(a.port().len() <= 15);
    b.set_mtu(1400)?;
    a.set_mtu(1400)?;
    a.set_tx_offload(false)?;
    topo.add_kernel_bridge([&a, &b])?;

    assert!(a.wait_reachable(b.ip(), Duration::from_secs(5))?);
    let stats = a.ping(b.ip(), 3)?;
    assert!(stats.all_received(), "{stats:?}");
    assert_ne!(a.mac()?, b.mac()?);

    let server = b.iperf3_server()?;
    let gbps = a.iperf3_client(&server, 1)?;
    println!("kernel bridge: {gbps:.2} Gbit/s");
    assert!(gbps > 0.0);

    let sleeper = b.spawn(&["sleep", "600"])?;
    assert!(sleeper.pid().is_some());

    let (ns, port) = (a.netns().to_owned(), a.port().to_owned());
    drop(sleeper);
    drop(server);
    drop(topo);
    assert!(!link_exists(&port), "{port} survived the topology");
    assert!(!std::path::Path::new("/var/run/netns").join(ns).exists());
    Ok(())
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn stale_objects_of_dead_test_processes_are_removed() -> Result<(), Error> {
    if switchd_integration::unavailable().is_some() {
        eprintln!("skipping: not root or no iproute2");
        return Ok(());
    }
    // "zzzzz" in base 36 is 60466175, above Linux's maximum PID (2^22), so no
    // live process can own it.
    let ns = format!("{PREFIX_FAMILY}zzzzz0-x");
    let link = format!("{PREFIX_FAMILY}zzzzz0x");
    let ip = |args: &[&str]| {
        std::process::Command::new("ip")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
    };
    let _ = ip(&["netns", "del", &ns]);
    let _ = ip(&["link", "del", &link]);
    assert_eq!(ip(&["netns", "add", &ns]).ok(), Some(true));
    assert_eq!(
        ip(&["link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &ns]).ok(),
        Some(true)
    );
    // A live topology of this process must survive the sweep.
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let live = topo.add_host("l", "10.9.1.1/24")?;

    // The first topology of a process already swept (and another test may be
    // sweeping concurrently), so only the outcome is checked.
    cleanup_stale(PREFIX_FAMILY);
    assert!(!link_exists(&link));
    assert!(!std::path::Path::new("/var/run/netns").join(&ns).exists());
    assert!(link_exists(live.port()));
    Ok(())
}

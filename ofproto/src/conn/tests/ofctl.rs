//! `ovs-ofctl` (Open vSwitch's own OpenFlow client) against a `ptcp:`
//! listener: a real, independent implementation of the other side.
//! Skipped when the binary is not installed
//! (`apt-get install openvswitch-common`).

use std::process::Command;

use super::*;

fn ovs_ofctl() -> Option<&'static str> {
    let path = "ovs-ofctl";
    Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| path)
}

async fn ofctl(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::new("ovs-ofctl")
            .args(&args)
            .env("OVS_RUNDIR", std::env::temp_dir())
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovs_ofctl_show() {
    if ovs_ofctl().is_none() {
        eprintln!("skipping: ovs-ofctl not installed");
        return;
    }
    let (c, _sw) = start(&["ptcp:0:127.0.0.1"], test_options());
    let addr = listen_addr(&c).await;
    let out = ofctl(vec![
        "-O".into(),
        "OpenFlow13".into(),
        "-t".into(),
        "10".into(),
        "show".into(),
        format!("tcp:{addr}"),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    eprintln!("ovs-ofctl show:\n{stdout}");
    assert!(stdout.contains("OFPT_FEATURES_REPLY"), "{stdout}");
    assert!(stdout.contains(&format!("dpid:{DPID:016x}")), "{stdout}");
    assert!(stdout.contains("n_tables:254"), "{stdout}");
    assert!(stdout.contains("1(p1)"), "{stdout}");
    assert!(stdout.contains("OFPT_GET_CONFIG_REPLY"), "{stdout}");

    // An OpenFlow 1.0-only client is refused during negotiation.
    let out = ofctl(vec![
        "-O".into(),
        "OpenFlow10".into(),
        "-t".into(),
        "10".into(),
        "show".into(),
        format!("tcp:{addr}"),
    ])
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("ovs-ofctl -O OpenFlow10 show:\n{stderr}");
    assert!(stderr.contains("version negotiation failed"), "{stderr}");
}

//! Live capture on an AF_XDP port, which the host's tcpdump cannot see
//! (the frames never reach the kernel's stack on the switch's side).
//!
//! One topology serves every assertion: two hosts on AF_XDP (native) ports
//! and a VXLAN port on the same bridge. While a ping crosses the switch,
//! three captures run at once on the receiving host's port: one filtered to
//! ICMP into a pcapng file, one of the received direction piped into
//! `tshark -r -`, one whose match selects nothing. The evidence is read by
//! tshark: the file names the port and each packet's direction, its frames
//! are byte for byte the frames tcpdump saw inside the receiving host, the
//! pipe delivers live, the empty match counts what it skipped. Then the bad
//! input: unknown ports, tunnel ports and bad matches are refused with the
//! API's exit code and leave no file, and a reader that goes away ends its
//! capture without disturbing forwarding.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use switchd_integration::swctl::Swctl;
use switchd_integration::{
    raw_frames, tshark_fields, BridgeConfig, Capture, Daemon, Error, PortConfig, PortType, Switch,
    Topo,
};

/// Waits (up to 5 s) for `path` to exist: swctl creates its file once the
/// daemon accepted the capture.
fn wait_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a capture process, stopped by PID if the test fails first (a
/// pipeline's later stages end once switchd, and so swctl, is gone).
fn spawn(cmd: &mut Command, what: &str) -> Daemon {
    Daemon::new(what, cmd.spawn().expect("starting a capture"))
}

/// Waits (up to 10 s) for a capture process to end; its output.
fn finish(mut capture: Daemon, what: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(10);
    while capture.try_wait().expect("polling swctl").is_none() {
        assert!(Instant::now() < deadline, "{what} did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    let child = capture.into_child().expect("the capture's process");
    child.wait_with_output().expect("reading swctl's output")
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn captures_on_an_afxdp_port_equal_what_the_host_saw() -> Result<(), Error> {
    let Some(mut topo) = Topo::new_or_skip()? else {
        return Ok(());
    };
    let hosts = topo.add_hosts(2, "10.0.0.0/24")?;
    for host in &hosts {
        host.set_tx_offload(false)?;
    }
    let config = BridgeConfig::new("br0")
        .ports(&hosts, PortType::AfXdp)
        .option_on_all_ports("xdp_mode", "native")
        .port(
            PortConfig::new("vx0", PortType::Vxlan)
                .option("remote_ip", "flow")
                .option("key", "flow"),
        );
    let switch = Switch::start(&config.to_toml())?;
    let swctl = Swctl::for_switch(&switch);
    assert!(hosts[0].wait_reachable(hosts[1].ip(), Duration::from_secs(5))?);
    let port = hosts[1].port();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("icmp.pcapng");
    let file_s = file.to_string_lossy().into_owned();

    // The host's own view of the same traffic, inside its namespace.
    let mut seen = Capture::start(&hosts[1], "eth0")?;
    let icmp = spawn(
        swctl
            .command(&[
                "capture", port, "--match", "icmp", "--count", "10", "-w", &file_s,
            ])
            .stderr(Stdio::piped()),
        "swctl capture",
    );
    let piped = spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "'{}' --server '{}' capture {port} --rx --match icmp --count 5 -w - \
             | tshark -r - -n -T fields -e frame.interface_name -e frame.packet_flags_direction",
                swctl.bin.display(),
                swctl.socket.display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "swctl capture | tshark",
    );
    let nothing = spawn(
        swctl
            .command(&[
                "capture",
                port,
                "--match",
                "tcp,tp_dst=80",
                "--duration",
                "4",
                "-w",
                "-",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "swctl capture",
    );
    wait_file(&file);
    std::thread::sleep(Duration::from_millis(300));
    let ping = hosts[0].ping(hosts[1].ip(), 5)?;
    assert!(ping.all_received(), "{ping:?}");

    let icmp = finish(icmp, "the ICMP capture");
    let piped = finish(piped, "the piped capture");
    let nothing = finish(nothing, "the empty capture");
    seen.stop()?;
    assert!(
        icmp.status.success(),
        "{}",
        String::from_utf8_lossy(&icmp.stderr)
    );

    // The file: every packet on this port, with its direction.
    let fields = tshark_fields(
        &file,
        "",
        &[
            "frame.interface_name",
            "frame.packet_flags_direction",
            "icmp.type",
        ],
    )?;
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 10, "ten ICMP packets:\n{fields}");
    assert!(
        rows.iter().all(|r| r[0] == port),
        "interface {port}:\n{fields}"
    );
    // Echo requests were sent to the port (outbound), replies came from it.
    let dir_of = |ty: &str| {
        rows.iter()
            .filter(|r| r[2] == ty)
            .map(|r| r[1])
            .collect::<Vec<_>>()
    };
    // (pcapng epb_flags direction: 01 inbound, 10 outbound.)
    const INBOUND: &str = "0x00000001";
    const OUTBOUND: &str = "0x00000002";
    assert_eq!(
        dir_of("8"),
        vec![OUTBOUND; 5],
        "requests outbound:\n{fields}"
    );
    assert_eq!(dir_of("0"), vec![INBOUND; 5], "replies inbound:\n{fields}");
    // Byte for byte what the host saw.
    let mut ours = raw_frames(&file, "")?;
    let mut theirs = seen.frames("icmp")?;
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "captured frames equal the host's");
    let summary = String::from_utf8_lossy(&icmp.stderr);
    assert!(summary.contains("10 packets captured, 0 lost"), "{summary}");

    // The pipe: tshark read the five replies live from stdout.
    let lines = String::from_utf8_lossy(&piped.stdout);
    let expected = format!("{port}\t{INBOUND}\n").repeat(5);
    assert_eq!(
        lines,
        expected,
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );

    // The match that selects nothing: an empty capture, the skipped counted.
    let summary = String::from_utf8_lossy(&nothing.stderr);
    assert!(summary.contains("0 packets captured, 0 lost"), "{summary}");
    let skipped: u64 = summary
        .split(", ")
        .find_map(|p| p.strip_suffix(" not matching\n"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(skipped >= 10, "the ping was seen and skipped: {summary}");
    let empty = dir.path().join("empty.pcapng");
    std::fs::write(&empty, &nothing.stdout).expect("writing the empty capture");
    assert_eq!(tshark_fields(&empty, "", &["frame.number"])?.trim(), "");

    // Bad input: refused with the API's exit code (1), no file left.
    let bad = dir.path().join("bad.pcapng");
    let bad_s = bad.to_string_lossy().into_owned();
    let why = swctl.fails(&["capture", "nosuch", "-w", &bad_s], 1);
    assert!(why.contains("no port named \"nosuch\""), "{why}");
    let why = swctl.fails(&["capture", "vx0", "-w", &bad_s], 1);
    assert!(why.contains("tunnel port"), "{why}");
    let why = swctl.fails(
        &["capture", port, "--match", "tcp,tp_dst=http", "-w", &bad_s],
        1,
    );
    assert!(why.contains("tp_dst"), "{why}");
    assert!(!bad.exists(), "a refused capture leaves no file");

    // A reader that goes away: swctl ends, the switch forwards on.
    let gone = spawn(
        Command::new("sh").arg("-c").arg(format!(
            "'{}' --server '{}' capture {port} -w - | head -c 200 >/dev/null",
            swctl.bin.display(),
            swctl.socket.display()
        )),
        "swctl capture | head",
    );
    std::thread::sleep(Duration::from_millis(300));
    let ping = hosts[0].ping(hosts[1].ip(), 3)?;
    assert!(ping.all_received(), "{ping:?}");
    let gone = finish(gone, "the capture whose reader went away");
    assert!(gone.status.success());
    let ping = hosts[0].ping(hosts[1].ip(), 3)?;
    assert!(
        ping.all_received(),
        "forwarding after the reader left: {ping:?}"
    );
    Ok(())
}

//! OpenFlow 1.3 conformance, a representative subset: os-ken's switch test
//! tool drives switchd (the target) and an Open vSwitch netdev bridge (the
//! tester) through `integration/conformance/run.sh`, over the case files in
//! `integration/conformance/subset.txt` (match, action, group and meter
//! families; the group and meter throughput cases shortened to 5 s).
//!
//! The one idea: the tool's verdicts are a ratchet, not a pass/fail. Some
//! cases fail for reasons that are known and recorded in
//! `docs/CONFORMANCE.md` (PBB, copy-TTL, IPv6 extension-header matching...),
//! so the test asserts that every file still passes at least as many cases
//! as were measured when the floor was set (less a small allowance for the
//! tool's timeouts on a busy machine). A fix raises the count (raise the
//! floor with it); a regression lowers it and fails here, with the failing
//! cases and the tool's reasons in the message.
//!
//! Skips (prints why and passes) when not root, or when os-ken, Open
//! vSwitch or the JSON cases (fetched from PyPI into a cache on first use)
//! are not available: `run.sh` exits with status 2 for those.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use switchd_integration::switchd_binary;

/// Cases each file passes (2026-11-25, switchd with barrier-synchronous
/// revalidation and MPLS recirculation). The cases these files still fail
/// are the PBB ones (refused: BAD_TYPE), push_mpls on ARP (MPLS TTL) and
/// the group's throughput, which the tool's Python sender cannot reach on
/// a loaded 2-core machine (Open vSwitch fails it the same way).
const FLOORS: &[(&str, u32)] = &[
    ("match/00_IN_PORT.json", 9),
    ("match/02_METADATA_Mask.json", 9),
    ("match/03_ETH_DST_Mask.json", 9),
    ("match/06_VLAN_VID.json", 9),
    ("match/08_IP_DSCP_IPv4.json", 9),
    ("match/11_IPV4_SRC_Mask.json", 9),
    ("match/14_TCP_DST_IPv6.json", 9),
    ("match/21_ARP_OP.json", 9),
    ("match/27_IPV6_DST_Mask.json", 9),
    ("match/34_MPLS_LABEL.json", 9),
    ("action/00_OUTPUT.json", 3),
    ("action/17_PUSH_VLAN.json", 3),
    ("action/18_POP_VLAN.json", 3),
    ("action/24_DEC_NW_TTL_IPv4.json", 3),
    ("action/19_PUSH_MPLS.json", 2),
    ("action/25_SET_FIELD/03_ETH_DST.json", 3),
    ("action/25_SET_FIELD/11_IPV4_SRC.json", 3),
    ("action/25_SET_FIELD/15_UDP_SRC_IPv6.json", 3),
    ("group/00_ALL.json", 0),
    ("meter/01_DROP_01_PKTPS_00_100.json", 3),
];

/// Cases below the floors tolerated in one run. The tool gives each step
/// 3 s; on a busy 2-core CI box a packet-in now and then arrives late
/// ("Receiving timeout: increment in rx_packets in tester"), which says
/// nothing about switchd. A real regression fails whole groups of cases.
const FLAKE_ALLOWANCE: u32 = 3;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// `results.tsv`: file, ok, error (plus a TOTAL row).
fn read_results(path: &Path) -> BTreeMap<String, (u32, u32)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let file = cols.next()?.to_string();
            let ok = cols.next()?.parse().ok()?;
            let err = cols.next()?.parse().ok()?;
            Some((file, (ok, err)))
        })
        .collect()
}

#[cfg_attr(switchd_not_root, ignore = "needs root (namespaces, XDP, tap devices)")]
#[test]
fn os_ken_switch_tests_subset_does_not_regress() {
    if rustix::process::geteuid().as_raw() != 0 {
        println!("SKIP: not root");
        return;
    }
    let switchd = match switchd_binary() {
        Ok(path) => path,
        Err(e) => {
            println!("SKIP: {e}");
            return;
        }
    };
    let dir = conformance_dir();
    let out = tempfile::tempdir().expect("temp dir");
    let status = Command::new(dir.join("run.sh"))
        .arg("--switchd")
        .arg(&switchd)
        .arg("--list")
        .arg(dir.join("subset.txt"))
        .args(["--duration", "5"])
        .arg("--out")
        .arg(out.path())
        .status()
        .expect("running conformance/run.sh");
    if status.code() == Some(2) {
        println!("SKIP: run.sh reports a missing prerequisite (see above)");
        return;
    }
    assert!(status.success(), "run.sh failed: {status}");

    let results = read_results(&out.path().join("results.tsv"));
    let cases = std::fs::read_to_string(out.path().join("cases.tsv")).unwrap_or_default();
    let mut regressions = Vec::new();
    let mut missing = 0;
    for &(file, floor) in FLOORS {
        let (ok, _) = results.get(file).copied().unwrap_or((0, 0));
        if ok < floor {
            missing += floor - ok;
            let failing: Vec<&str> = cases
                .lines()
                .filter(|l| l.starts_with(file) && l.contains("\tERROR\t"))
                .collect();
            regressions.push(format!(
                "{file}: {ok} OK, floor {floor}\n    {}",
                failing.join("\n    ")
            ));
        }
    }
    let total_floor: u32 = FLOORS.iter().map(|&(_, n)| n).sum();
    let total_ok = results.get("TOTAL").map_or(0, |&(ok, _)| ok);
    println!("conformance subset: {total_ok} OK (floor {total_floor})");
    if !regressions.is_empty() {
        println!("below the floors:\n{}", regressions.join("\n"));
    }
    assert!(
        missing <= FLAKE_ALLOWANCE,
        "{missing} fewer os-ken cases pass than before (allowance {FLAKE_ALLOWANCE}):\n{}",
        regressions.join("\n")
    );
}

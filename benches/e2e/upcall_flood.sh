#!/usr/bin/env bash
# upcall_flood.sh: how much of an established TCP flow's throughput an
# upcall flood leaves it, against the same packet rate with no new flows.
#
# Three namespace hosts on AF_XDP (native) ports of one secure bridge with
# NORMAL plus a rule on UDP source port 1 (so each UDP source port is its
# own megaflow). h3 sends UDP to h2 (integration/tools/udp_flood.py) from
# one fixed source port (the control) or from random ones (an upcall
# flood), RATE frames a second, while h1 runs iperf3 TCP to h2 for
# DURATION seconds; phases alternate ROUNDS times. Reports each phase's
# throughput and random/fixed.
#
# Needs root, iproute2, ethtool, iperf3, python3. Everything it creates is
# named uf-* and removed on exit, however it exits.
#
# Usage: sudo benches/e2e/upcall_flood.sh [--rate N] [--rounds N] [--duration S] [--no-build]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
RATE=20000 ROUNDS=3 DURATION=5 BUILD=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --rate) RATE=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

source "$SCRIPT_DIR/lib.sh"
e2e_require ip ethtool iperf3 python3
TMP=$(mktemp -d /tmp/upcall-flood.XXXXXX)
trap e2e_cleanup EXIT INT TERM
e2e_binaries $BUILD "$REPO"
e2e_hosts uf-h ufh 10.82.0 3
cat >"$TMP/switchd.toml" <<CONFIG
[[bridge]]
name = "ufbr"
fail_mode = "secure"
local_port = false
flows = ["priority=0,actions=NORMAL", "priority=10,udp,tp_src=1,actions=drop"]
CONFIG
for p in ufh1 ufh2 ufh3; do
    printf '[[bridge.port]]\nname = "%s"\ntype = "afxdp"\noptions = { xdp_mode = "native" }\n' \
        "$p" >>"$TMP/switchd.toml"
done
e2e_switchd "$SWITCHD" "$TMP/switchd.toml"
ip netns exec uf-h1 ping -c 3 -i 0.2 -W 2 10.82.0.2 >/dev/null || die "h1 cannot reach h2"
ip netns exec uf-h3 ping -c 1 -W 2 10.82.0.2 >/dev/null || true
ip netns exec uf-h2 iperf3 -s -B 10.82.0.2 -p 5501 >/dev/null 2>&1 &
e2e_track $!
sleep 0.5
MAC2=$(ip netns exec uf-h2 cat /sys/class/net/eth0/address)
MAC3=$(ip netns exec uf-h3 cat /sys/class/net/eth0/address)
tcp() {
    ip netns exec uf-h1 iperf3 -J -c 10.82.0.2 -p 5501 -t "$DURATION" | python3 -c '
import json, sys
print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'
}
: >"$TMP/records.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
    for mode in fixed random; do
        arg=""; [[ $mode == fixed ]] && arg=fixed
        ip netns exec uf-h3 python3 "$REPO/integration/tools/udp_flood.py" eth0 "$MAC2" "$MAC3" \
            10.82.0.3 10.82.0.2 "$RATE" $((DURATION + 2)) $arg >/dev/null &
        fp=$!
        sleep 1
        got=$(tcp)
        wait "$fp"
        printf '%s\t%s\n' "$mode" "$got" >>"$TMP/records.tsv"
        log "$mode: $got bit/s"
    done
done
python3 - "$TMP/records.tsv" <<'REPORT'
import statistics, sys
by = {}
for line in open(sys.argv[1]).read().split("\n"):
    if line:
        mode, got = line.split("\t")
        by.setdefault(mode, []).append(float(got))
f, r = sum(by["fixed"]), sum(by["random"])
print("| flood | TCP h1 -> h2 (mean) |")
print("|---|---|")
for mode in ("fixed", "random"):
    print(f"| {mode} source port | {statistics.mean(by[mode]) / 1e9:.2f} Gbit/s |")
print(f"\nrandom / fixed: {100 * r / f:.1f}%")
REPORT

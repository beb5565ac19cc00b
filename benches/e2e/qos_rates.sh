#!/usr/bin/env bash
# qos_rates.sh: how close switchd's HTB shaper holds a port to its
# configured rate, from 10 Mbit/s to the highest rate the machine reaches.
#
# Two namespace hosts (h1 10.79.0.1, h2 10.79.0.2) on AF_XDP (native) ports
# of one switchd learning bridge, host tx offload off. First h1 sends an
# iperf3 TCP flow to h2 with no QoS: the machine's ceiling. Then, for each
# RATE, h2's port gets `swctl set-qos type=htb max-rate=RATE` and the same
# flow runs again. The rate HTB counts is the frames' (1,514 bytes per
# 1,448 of TCP payload), so the measured figure is iperf3's receiver
# goodput scaled by 1514/1448; the error is measured vs configured. Each
# measurement is the median of ROUNDS runs of DURATION seconds.
#
# Needs root, iproute2, ethtool, iperf3, python3. Everything it creates is
# named qr-* and removed on exit, however it exits.
#
# Usage: sudo benches/e2e/qos_rates.sh [--rates "10000000 100000000 ..."] [--rounds N] [--duration S] [--no-build]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
RATES="10000000 100000000 1000000000 2000000000"
ROUNDS=3
DURATION=5
BUILD=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --rates) RATES=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

source "$SCRIPT_DIR/lib.sh"
e2e_require ip ethtool iperf3 python3
TMP=$(mktemp -d /tmp/qos-rates.XXXXXX)
trap e2e_cleanup EXIT INT TERM

e2e_binaries $BUILD "$REPO"
e2e_hosts qr-h qrh 10.79.0 2
e2e_afxdp_bridge qrbr qrh1 qrh2
ip netns exec qr-h1 ping -c 3 -i 0.2 -W 2 10.79.0.2 >/dev/null || die "h1 cannot reach h2"
ip netns exec qr-h2 iperf3 -s -B 10.79.0.2 -p 5401 >/dev/null 2>&1 &
e2e_track $!
sleep 0.5

# Frame bit/s of one TCP run.
run() {
    ip netns exec qr-h1 iperf3 -J -c 10.79.0.2 -p 5401 -t "$DURATION" 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] * 1514 / 1448)'
}

: >"$TMP/records.tsv"
for rate in none $RATES; do
    if [[ $rate != none ]]; then
        sw set-qos qrh2 type=htb max-rate="$rate"
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        got=$(run)
        printf '%s\t%s\n' "$rate" "$got" >>"$TMP/records.tsv"
        log "$rate: $got bit/s of frames"
    done
    if [[ $rate != none ]]; then
        sw clear-qos qrh2
    fi
done

python3 - "$TMP/records.tsv" <<'REPORT'
import statistics, sys
by = {}
for line in open(sys.argv[1]).read().split("\n"):
    if line:
        rate, got = line.split("\t")
        by.setdefault(rate, []).append(float(got))
ceiling = statistics.median(by.pop("none"))
print(f"Machine ceiling (no QoS): {ceiling / 1e6:.1f} Mbit/s of frames\n")
print("| configured | measured (median) | error |")
print("|---|---|---|")
for rate, got in by.items():
    want, m = float(rate), statistics.median(got)
    note = " (above the ceiling)" if want > ceiling else ""
    print(f"| {want / 1e6:g} Mbit/s | {m / 1e6:.2f} Mbit/s | {100 * (m - want) / want:+.2f}%{note} |")
REPORT

#!/usr/bin/env bash
# feature_cost.sh: what switchd's probes and traffic control cost the
# forwarding path, all conditions measured in one run on one topology.
#
# Two namespace hosts (h1 10.78.0.1, h2 10.78.0.2) on AF_XDP (native) ports
# of one switchd learning bridge, host tx offload off. h1 sends iperf3 UDP
# (64-byte payloads, unlimited rate) to h2 for DURATION seconds per phase;
# the phases alternate ROUNDS times so a drift in machine load hits all:
#   none     nothing configured
#   nomatch  a live capture on h2's port whose match selects nothing
#            (swctl capture --match udp,tp_dst=9 -w /dev/null)
#   all      a live capture of everything on h2's port to /dev/null
#            (informational: its cost is the copies)
#   span     a SPAN mirror of h1's port to a third host's port (h3)
#   sflow    sFlow sampling 1 in 1000, polling 10 s, to a UDP sink on
#            loopback
#   ipfix    IPFIX of every packet (the default: exact flow records), to
#            the same sink
#   qos      an HTB on h2's port (10 Gbit/s, queue 1 guaranteed 1 Gbit/s):
#            configured but uncongested
#   police   ingress policing on h1's port at 10 Gbit/s: never exceeded
#   shape    an HTB on h2's port at 50 Mbit/s: the scheduler at work
#            (queueing, tail drops; received pps is the shaped rate)
# For each phase it reports the worker's busy nanoseconds per received
# packet (from `swctl pmd-stats`: the cost on the switch's core, the figure
# the targets are about) and the packets per second h2 received (iperf3's
# server count less its losses: what the generator and switch sharing 2
# cores achieved; under `shape`, the shaped rate).
#
# Needs root, iproute2, ethtool, iperf3, python3. Everything it creates is
# named pc-* and removed on exit, however it exits.
#
# Usage: sudo benches/e2e/feature_cost.sh [--rounds N] [--duration S] [--phases "none ..."] [--no-build]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
ROUNDS=3
DURATION=5
BUILD=1
PHASES="none nomatch all span sflow ipfix qos police shape"
while [[ $# -gt 0 ]]; do
    case $1 in
        --phases) PHASES=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

source "$SCRIPT_DIR/lib.sh"
e2e_require ip ethtool iperf3 python3

NS1=pc-h1 NS2=pc-h2 P1=pch1 P2=pch2 P3=pch3
TMP=$(mktemp -d /tmp/feature-cost.XXXXXX)
IPERF_PID="" CAPTURE_PID=""
cleanup() {
    stop_pid "$CAPTURE_PID"
    stop_pid "$IPERF_PID"
    e2e_cleanup
}
trap cleanup EXIT INT TERM

e2e_binaries $BUILD "$REPO"
e2e_hosts pc-h pch 10.78.0 3
e2e_afxdp_bridge pcbr $P1 $P2 $P3
ip netns exec $NS1 ping -c 3 -i 0.2 -W 2 10.78.0.2 >/dev/null || die "h1 cannot reach h2"
# The sFlow collector: a UDP sink on loopback.
python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 16343))
while True:
    s.recv(65535)' &
e2e_track $!

# Busy ns and rx packets summed over the workers.
busy() {
    sw --json pmd-stats | python3 -c '
import json, sys
ws = [w for b in json.load(sys.stdin)["bridges"] for w in b["workers"]]
print(int(sum(w["ns_per_packet"] * w["rx_packets"] for w in ws)), sum(w["rx_packets"] for w in ws))'
}

phase() {
    local name=$1 before after pps
    case $name in
        # swctl itself in the background (not a function's subshell), so
        # the SIGTERM below reaches it and it ends the capture cleanly.
        nomatch) "$SWCTL" --server "$SOCK" capture $P2 --match udp,tp_dst=9 -w /dev/null \
                     2>>"$TMP/capture.log" & CAPTURE_PID=$! ;;
        all) "$SWCTL" --server "$SOCK" capture $P2 -w /dev/null 2>>"$TMP/capture.log" &
             CAPTURE_PID=$! ;;
        span) sw add-mirror pcbr span select-src-port=$P1 output-port=$P3 ;;
        sflow) sw set-sflow pcbr agent=127.0.0.1 targets=127.0.0.1:16343 sampling=1000 polling=10 ;;
        ipfix) sw set-ipfix pcbr targets=127.0.0.1:16343 >/dev/null ;;
        qos) sw set-qos $P2 type=htb max-rate=10000000000 queue=1:min-rate=1000000000 ;;
        police) sw set-policing $P1 rate=10000000 ;;
        shape) sw set-qos $P2 type=htb max-rate=50000000 ;;
    esac
    sleep 0.5
    ip netns exec $NS2 iperf3 -s -1 -p 5301 -J >"$TMP/server.json" 2>/dev/null &
    IPERF_PID=$!
    sleep 0.3
    read -r b0 r0 < <(busy)
    ip netns exec $NS1 iperf3 -c 10.78.0.2 -p 5301 -u -b 0 -l 64 -t "$DURATION" >/dev/null 2>&1 || true
    read -r b1 r1 < <(busy)
    wait "$IPERF_PID" 2>/dev/null || true
    IPERF_PID=""
    if [[ -n $CAPTURE_PID ]]; then
        kill -TERM "$CAPTURE_PID" 2>/dev/null || true
        wait "$CAPTURE_PID" 2>/dev/null || true
        CAPTURE_PID=""
    fi
    case $name in
        span) log "  $(sw list-mirrors pcbr | tail -1)"; sw del-mirror pcbr span ;;
        sflow) log "  $(sw sflow-show pcbr | tail -1)"; sw clear-sflow pcbr ;;
        ipfix) log "  $(sw ipfix-show pcbr | tail -1)"; sw clear-ipfix pcbr ;;
        qos|shape) log "  $(sw qos-stats $P2 | tail -1)"; sw clear-qos $P2 ;;
        police) log "  $(sw qos-stats $P1 | tail -1)"; sw clear-policing $P1 ;;
    esac
    pps=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = d["end"]["sum"]
print(round((s["packets"] - s.get("lost_packets", 0)) / s["seconds"]) if s.get("seconds") else 0)' "$TMP/server.json" 2>/dev/null || echo 0)
    printf '%s\t%s\t%s\n' "$name" "$(( (b1 - b0) / ( (r1 - r0) > 0 ? (r1 - r0) : 1 ) ))" "$pps" >>"$TMP/records.tsv"
    log "$name: $(tail -1 "$TMP/records.tsv" | cut -f2) ns/packet, $pps pps received"
    if [[ $name == nomatch || $name == all ]]; then
        log "  $(tail -1 "$TMP/capture.log")"
    fi
}

: >"$TMP/records.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
    for p in $PHASES; do phase $p; done
done

python3 - "$TMP/records.tsv" <<'EOF'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
by = {}
for name, ns, pps in rows:
    by.setdefault(name, []).append((int(ns), int(pps)))
base_ns = statistics.median(n for n, _ in by["none"])
base_pps = statistics.median(p for _, p in by["none"])
print("| condition | worker ns/packet (median) | vs none | received pps (median) | vs none |")
print("|---|---|---|---|---|")
order = ("none", "nomatch", "all", "span", "sflow", "ipfix", "qos", "police", "shape")
for name in [n for n in order if n in by]:
    ns = statistics.median(n for n, _ in by[name])
    pps = statistics.median(p for _, p in by[name])
    print(f"| {name} | {ns:.0f} ({min(n for n,_ in by[name])}-{max(n for n,_ in by[name])}) "
          f"| {100*(ns-base_ns)/base_ns:+.1f}% | {pps:.0f} | {100*(pps-base_pps)/base_pps:+.1f}% |")
EOF

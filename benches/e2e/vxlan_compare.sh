#!/usr/bin/env bash
# vxlan_compare.sh: two switches joined by a VXLAN tunnel, a host behind
# each; switchd and Open vSwitch 3.1 (userspace "netdev" datapath, native
# tunnelling) side by side on the same topology, in the same run, with the
# ratio.
#
#   ns vxb-h1 10.90.0.1 -- ns vxb-hv1: [brint: h1, vx0 vxlan key 100]
#                                      [brphy: up, LOCAL 192.168.90.1] -- veth --
#   ns vxb-h2 10.90.0.2 -- ns vxb-hv2: [brint: h2, vx0 vxlan key 100]
#                                      [brphy: up, LOCAL 192.168.90.2]
#
# Each packet crosses one encapsulation (hv1) and one decapsulation (hv2).
# For each port type (MODES: afpacket = Open vSwitch's "system" ports in a
# netdev bridge; afxdp = AF_XDP in native mode on both) both switches run
# with the same host settings (MTU 1450, tx offload off in the hosts, as
# Open vSwitch needs without userspace TSO); each switch gets a fresh
# topology. Per switch: iperf3 TCP (RUNS runs, median) and a UDP
# packet rate with 18-byte payloads (64-byte frames on the hosts' link):
# the rate h2 receives while h1 sends as fast as iperf3 can. The CPU the
# switch processes used is read from /proc for each TCP run.
#
# Needs root, iproute2, ethtool, iperf3, python3 and Open vSwitch 3.1.
# Everything it creates is named vxb* and removed on exit.
#
# Usage: benches/e2e/vxlan_compare.sh [--runs N] [--duration S] [--modes "afpacket afxdp"]
#                                     [--switches "switchd ovs"] [--no-build]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
RUNS=3
DURATION=5
SWITCHES="switchd ovs"
MODES="afpacket afxdp"
BUILD=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) RUNS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --switches) SWITCHES=$2; shift 2 ;;
        --modes) MODES=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root"
for tool in ip ethtool iperf3 python3 ovsdb-server ovs-vswitchd ovs-vsctl ovsdb-tool; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

TMP=$(mktemp -d /tmp/vxlan-compare.XXXXXX)
RECORDS=$TMP/records.tsv
: >"$RECORDS"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.5
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    for ns in vxb-h1 vxb-h2 vxb-hv1 vxb-hv2; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap 'cleanup; rm -rf "$TMP"' EXIT

if ((BUILD)); then
    (cd "$REPO" && cargo build --release -p switchd-ctl --bin switchd >&2)
fi
SWITCHD=$REPO/target/release/switchd
[[ -x $SWITCHD ]] || die "$SWITCHD not built"

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

topo_up() {
    cleanup
    local n
    for ns in vxb-h1 vxb-h2 vxb-hv1 vxb-hv2; do ip netns add "$ns"; done
    for n in 1 2; do
        ip link add name eth0 netns "vxb-h$n" type veth peer name "h$n" netns "vxb-hv$n"
        in_ns "vxb-h$n" ip addr add "10.90.0.$n/24" dev eth0
        in_ns "vxb-h$n" ip link set dev eth0 mtu 1450 up
        in_ns "vxb-h$n" ethtool -K eth0 tx off >/dev/null
        in_ns "vxb-hv$n" ip link set dev "h$n" up
        in_ns "vxb-h$n" ip link set dev lo up
    done
    ip link add name up netns vxb-hv1 type veth peer name up netns vxb-hv2
    for n in 1 2; do in_ns "vxb-hv$n" ip link set dev up up; done
}

# The endpoint address on the underlay bridge's LOCAL port.
vtep_up() {
    local n=$1 dev=$2
    in_ns "vxb-hv$n" ip addr add "192.168.90.$n/24" dev "$dev"
    in_ns "vxb-hv$n" ip link set dev "$dev" up
}

start_switchd() {
    local mode=$1 n remote
    for n in 1 2; do
        remote=192.168.90.$((3 - n))
        mkdir -p "$TMP/sw$n"
        cat >"$TMP/sw$n/switchd.toml" <<EOF
[[bridge]]
name = "brint"
[[bridge.port]]
name = "h$n"
type = "$mode"
[[bridge.port]]
name = "vx0"
type = "vxlan"
[bridge.port.options]
remote_ip = "$remote"
key = "100"

[[bridge]]
name = "brphy"
local_port = true
[[bridge.port]]
name = "up"
type = "$mode"
EOF
        # Not through a shell function: $! must be switchd's own PID.
        ip netns exec "vxb-hv$n" "$SWITCHD" --config "$TMP/sw$n/switchd.toml" --state-dir "$TMP/sw$n" \
            --log warn >"$TMP/sw$n/log" 2>&1 &
        PIDS+=($!)
        for _ in $(seq 100); do [[ -s $TMP/sw$n/switchd.pid ]] && break; sleep 0.1; done
        [[ -s $TMP/sw$n/switchd.pid ]] || { cat "$TMP/sw$n/log" >&2; die "switchd $n did not start"; }
        vtep_up "$n" brphy
    done
}

start_ovs() {
    local mode=$1 n d remote port_opts=()
    [[ $mode == afxdp ]] && port_opts=(type=afxdp options:xdp-mode=native)
    for n in 1 2; do
        d=$TMP/ovs$n
        remote=192.168.90.$((3 - n))
        rm -rf "$d"; mkdir -p "$d"
        ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
        OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d ip netns exec "vxb-hv$n" ovsdb-server "$d/conf.db" \
            --remote="punix:$d/db.sock" --unixctl="$d/ovsdb.ctl" --log-file="$d/ovsdb.log" -vconsole:off &
        PIDS+=($!)
        for _ in $(seq 100); do [[ -S $d/db.sock ]] && break; sleep 0.1; done
        local vsctl=(ovs-vsctl "--db=unix:$d/db.sock" --timeout=20)
        "${vsctl[@]}" --no-wait init
        OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d ip netns exec "vxb-hv$n" ovs-vswitchd "unix:$d/db.sock" \
            --unixctl="$d/vswitchd.ctl" --log-file="$d/vswitchd.log" -vconsole:off &
        PIDS+=($!)
        for _ in $(seq 100); do [[ -S $d/vswitchd.ctl ]] && break; sleep 0.1; done
        "${vsctl[@]}" add-br brint -- set bridge brint datapath_type=netdev
        "${vsctl[@]}" add-br brphy -- set bridge brphy datapath_type=netdev
        if ((${#port_opts[@]})); then
            "${vsctl[@]}" add-port brint "h$n" -- set interface "h$n" "${port_opts[@]}"
        else
            "${vsctl[@]}" add-port brint "h$n"
        fi
        "${vsctl[@]}" add-port brint vx0 -- set interface vx0 type=vxlan \
            "options:remote_ip=$remote" options:key=100
        if ((${#port_opts[@]})); then
            "${vsctl[@]}" add-port brphy up -- set interface up "${port_opts[@]}"
        else
            "${vsctl[@]}" add-port brphy up
        fi
        vtep_up "$n" brphy
    done
}

cpu_ticks() {
    local total=0 pid stat rest f
    for pid in "${PIDS[@]}"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        rest=${stat##*) }
        read -ra f <<<"$rest"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

measure() {
    local sw=$1 run c0 c1 gbps pps
    for _ in $(seq 30); do
        in_ns vxb-h1 ping -c 1 -W 1 10.90.0.2 >/dev/null 2>&1 && break
    done
    in_ns vxb-h1 ping -c 1 -W 1 10.90.0.2 >/dev/null 2>&1 || { log "$sw: h1 cannot reach h2"; return 0; }
    in_ns vxb-h2 iperf3 -s -D -1 --pidfile "$TMP/iperf.pid" >/dev/null 2>&1 || true
    for run in $(seq "$RUNS"); do
        in_ns vxb-h2 iperf3 -s -D -1 --pidfile "$TMP/iperf.pid" >/dev/null 2>&1 || true
        sleep 0.3
        c0=$(cpu_ticks)
        in_ns vxb-h1 iperf3 -J -c 10.90.0.2 -t "$DURATION" >"$TMP/tcp.json" 2>/dev/null || true
        c1=$(cpu_ticks)
        gbps=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["end"]["sum_received"]["bits_per_second"]/1e9)' "$TMP/tcp.json" 2>/dev/null || echo 0)
        printf 'tcp\t%s\t%s\t%s\t%s\n' "$sw" "$run" "$gbps" "$((c1 - c0))" >>"$RECORDS"
        log "$sw: TCP run $run: $gbps Gbit/s, $((c1 - c0)) CPU ticks"
    done
    in_ns vxb-h2 iperf3 -s -D -1 --pidfile "$TMP/iperf.pid" >/dev/null 2>&1 || true
    sleep 0.3
    in_ns vxb-h1 iperf3 -J -u -b 0 -l 18 -c 10.90.0.2 -t "$DURATION" >"$TMP/udp.json" 2>/dev/null || true
    pps=$(python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))["end"]["sum"]
sent=r["packets"]; lost=r["lost_packets"]; secs=r["seconds"]
print("%d %d" % ((sent-lost)/secs, sent/secs))' "$TMP/udp.json" 2>/dev/null || echo "0 0")
    printf 'udp\t%s\t%s\n' "$sw" "$pps" >>"$RECORDS"
    log "$sw: 64 B UDP: received/offered pps $pps"
}

for mode in $MODES; do
    for sw in $SWITCHES; do
        topo_up
        case $sw in
            switchd) start_switchd "$mode" ;;
            ovs) start_ovs "$mode" ;;
            *) die "unknown switch $sw" ;;
        esac
        measure "$mode/$sw"
        cleanup
    done
done

python3 - "$RECORDS" "$(nproc)" <<'EOF'
import statistics, sys
tcp, udp = {}, {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if f[0] == "tcp":
        tcp.setdefault(f[1], []).append((float(f[3]), int(f[4])))
    elif f[0] == "udp":
        rx, offered = f[2].split()
        udp[f[1]] = (int(rx), int(offered))
print(f"VXLAN, one encapsulation + one decapsulation, {sys.argv[2]} cores")
print(f"{'ports/switch':18} {'TCP Gbit/s (median)':>20} {'runs':>20} {'CPU ticks/run':>14} {'64B rx pps':>11} {'offered':>9}")
for key in tcp:
    runs = [g for g, _ in tcp[key]]
    ticks = statistics.median(t for _, t in tcp[key])
    rx, off = udp.get(key, (0, 0))
    print(f"{key:18} {statistics.median(runs):20.2f} {' '.join(f'{g:.2f}' for g in runs):>20} {ticks:14.0f} {rx:11d} {off:9d}")
for mode in sorted({k.split("/")[0] for k in tcp}):
    s, o = tcp.get(mode + "/switchd"), tcp.get(mode + "/ovs")
    if s and o:
        sm, om = statistics.median(g for g, _ in s), statistics.median(g for g, _ in o)
        print(f"{mode}: TCP switchd/OVS {sm / om:.2f}x" if om else f"{mode}: OVS carried no TCP")
        su, ou = udp.get(mode + "/switchd", (0, 0))[0], udp.get(mode + "/ovs", (0, 0))[0]
        if ou:
            print(f"{mode}: 64 B switchd/OVS {su / ou:.2f}x")
EOF

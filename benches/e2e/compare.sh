#!/usr/bin/env bash
# compare.sh: switchd and Open vSwitch 3.1 (userspace "netdev" datapath) side
# by side, on the same two-host topology, in the same run, with the ratio.
#
# For each mode (port type x host offloads) it builds two namespace hosts,
# h1 10.77.0.1/24 and h2 10.77.0.2/24, each wired by a veth pair to the root
# namespace, and bridges the two root ends with a learning switch: first
# switchd, then Open vSwitch (and, where host offloads are on, Open vSwitch
# again with userspace TSO, its best configuration there). Each switch gets a
# fresh topology. It measures ping latency (ping -c 50 -i 0.01, average rtt)
# and iperf3 TCP throughput (RUNS runs of DURATION seconds, median), and the
# CPU the switch process used during each iperf3 run (utime+stime of every
# thread, from /proc/PID/stat), then prints one table.
#
# Needs root, iproute2, ethtool, iperf3, python3, and Open vSwitch 3.1
# (`apt-get install openvswitch-switch`; the system service is not used: the
# daemons run by hand in a private directory). Everything it creates is named
# e2e* and removed on exit, however it exits.
#
# Usage: benches/e2e/compare.sh [options]   (see --help)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

RUNS=3
DURATION=5
PINGS=50
ROUNDS=1
MODES="afpacket-on afpacket-txoff afxdp-native"
SWITCHES="switchd ovs ovs-tso"
SWITCHD=""
BUILD=1
OUT=""

usage() {
    cat <<EOF
usage: $0 [--runs N] [--duration SECONDS] [--pings N] [--rounds N]
          [--modes "afpacket-on afpacket-txoff afxdp-native"]
          [--switchd PATH | --no-build] [--records FILE]

  --runs N        iperf3 runs per switch and mode (default $RUNS); the median is reported
  --duration S    seconds per iperf3 run (default $DURATION)
  --pings N       pings for the latency figure, 10 ms apart (default $PINGS)
  --rounds N      repeat the switchd/OVS sequence N times per mode, alternating,
                  so that a drift in machine load hits both switches (default $ROUNDS)
  --modes LIST    which modes to run (default: all three)
  --switches LIST which switches to run (default: "$SWITCHES"; ovs-tso, Open
                  vSwitch with userspace-tso-enable=true, runs only in afpacket-on)
  --switchd PATH  use this switchd binary instead of building one
  --no-build      use the existing release binary without running cargo
  --records FILE  keep the raw measurements (tab-separated) in FILE

Modes: afpacket-on    AF_PACKET ports, host offloads left on
       afpacket-txoff AF_PACKET ports, host tx offload off
       afxdp-native   AF_XDP ports in native XDP mode, host tx offload off
Open vSwitch's AF_PACKET ports are its "system" ports in a netdev bridge;
its AF_XDP ports are type=afxdp, options:xdp-mode=native.
EOF
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) RUNS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --pings) PINGS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --modes) MODES=$2; shift 2 ;;
        --switches) SWITCHES=$2; shift 2 ;;
        --switchd) SWITCHD=$2; BUILD=0; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --records) OUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for mode in $MODES; do
    case $mode in
        afpacket-on|afpacket-txoff|afxdp-native) ;;
        *) echo "unknown mode: $mode" >&2; exit 2 ;;
    esac
done
for sw in $SWITCHES; do
    case $sw in
        switchd|ovs|ovs-tso) ;;
        *) echo "unknown switch: $sw" >&2; exit 2 ;;
    esac
done

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it creates namespaces and attaches XDP programs)"
for tool in ip ethtool iperf3 ping python3 ss ovsdb-server ovs-vswitchd ovs-vsctl ovs-appctl ovsdb-tool; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install iproute2 ethtool iperf3 iputils-ping python3 openvswitch-switch)"
done
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
[[ -r $OVS_SCHEMA ]] || die "$OVS_SCHEMA not found (apt-get install openvswitch-switch)"

# --- names ---------------------------------------------------------------
NS1=e2e-h1 NS2=e2e-h2          # host namespaces
P1=e2eh1 P2=e2eh2              # their veth ends in the root namespace
SUBNET=10.77.0                 # h1 is .1, h2 is .2 (/24)
IP2=$SUBNET.2
SW_BRIDGE=e2esw                # switchd's bridge (no local port)
OVS_BRIDGE=e2eovs              # OVS's bridge (its netdev internal port is a tap of this name)
IPERF_PORT=5201
LOCK=/run/switchd-e2e-compare.lock
CLK_TCK=$(getconf CLK_TCK)

# One run at a time on this machine: the names above are fixed.
exec 9>"$LOCK"
flock -n 9 || die "another compare.sh holds $LOCK"

TMP=$(mktemp -d /tmp/e2e-compare.XXXXXX)
RECORDS=$TMP/records.tsv
: >"$RECORDS"

# PIDs this script started and must stop.
SWITCHD_PID=""
IPERF_PID=""
export OVS_RUNDIR=$TMP/ovs OVS_LOGDIR=$TMP/ovs OVS_DBDIR=$TMP/ovs OVS_SYSCONFDIR=$TMP/ovs

# --- cleanup -------------------------------------------------------------
# Stop a PID we started: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    local what
    what=$(cat "/proc/$pid/comm" 2>/dev/null) || what="?"
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "$what (pid $pid) still runs 10 s after SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

stop_ovs() {
    local name pid
    [[ -d $OVS_RUNDIR ]] || return 0
    # exit --cleanup deletes the datapath, closing the ports (and detaching
    # their XDP programs); the pid files then name what to stop if it hangs.
    if [[ -f $OVS_RUNDIR/ovs-vswitchd.pid ]]; then
        timeout 10 ovs-appctl -t "$OVS_RUNDIR/ovs-vswitchd.$(<"$OVS_RUNDIR/ovs-vswitchd.pid").ctl" \
            exit --cleanup >/dev/null 2>&1 || true
    fi
    for name in ovs-vswitchd ovsdb-server; do
        if [[ -f $OVS_RUNDIR/$name.pid ]]; then
            pid=$(<"$OVS_RUNDIR/$name.pid")
            stop_pid "$pid"
            rm -f "$OVS_RUNDIR/$name.pid"
        fi
    done
    ip link del "$OVS_BRIDGE" 2>/dev/null || true
}

stop_switchd() {
    stop_pid "$SWITCHD_PID"
    SWITCHD_PID=""
}

topo_down() {
    local dev ns pid
    stop_pid "$IPERF_PID"
    IPERF_PID=""
    # Anything still running inside our namespaces (a killed run's iperf3
    # server) would keep them alive after `ip netns del`.
    for ns in "$NS1" "$NS2"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            stop_pid "$pid"
        done
    done
    for dev in "$P1" "$P2"; do
        if ip link show dev "$dev" >/dev/null 2>&1; then
            ip link set dev "$dev" xdp off 2>/dev/null || true
            ip link set dev "$dev" xdpgeneric off 2>/dev/null || true
        fi
    done
    ip netns del "$NS1" 2>/dev/null || true   # takes the veth pair with it
    ip netns del "$NS2" 2>/dev/null || true
    ip link del "$P1" 2>/dev/null || true
    ip link del "$P2" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    stop_switchd
    stop_ovs
    topo_down
    if [[ -n $OUT && -f $RECORDS ]]; then cp "$RECORDS" "$OUT"; fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Leftovers of a killed run (we hold the lock, so they are not live).
topo_down
ip link del "$OVS_BRIDGE" 2>/dev/null || true

# --- topology ------------------------------------------------------------
# topo_up on|off: the two hosts, their tx checksum offload as given.
topo_up() {
    local tx=$1 i ns port addr
    for i in 1 2; do
        ns=e2e-h$i port=e2eh$i addr=$SUBNET.$i
        ip netns add "$ns"
        ip link add name "$port" type veth peer name eth0 netns "$ns"
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set dev lo up
        ip -n "$ns" link set dev eth0 up
        # No router solicitations or DAD from the switch side.
        sysctl -qw "net.ipv6.conf.$port.disable_ipv6=1"
        ip link set dev "$port" up
        if [[ $tx == off ]]; then
            ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
        fi
    done
    # The server listens before any switch exists; clients reach it later.
    ip netns exec "$NS2" iperf3 -s -B "$IP2" -p "$IPERF_PORT" >"$TMP/iperf3-server.log" 2>&1 &
    IPERF_PID=$!
    for ((i = 0; i < 50; i++)); do
        [[ -n $(ip netns exec "$NS2" ss -H -l -t -n "sport = :$IPERF_PORT") ]] && return 0
        sleep 0.1
    done
    die "iperf3 server did not listen"
}

# --- switchd -------------------------------------------------------------
start_switchd() {
    local mode=$1 kind options="" i
    case $mode in
        afpacket-*) kind=afpacket ;;
        afxdp-native) kind=afxdp; options=$'[bridge.port.options]\nxdp_mode = "native"' ;;
    esac
    cat >"$TMP/switchd.toml" <<EOF
[[bridge]]
name = "$SW_BRIDGE"
fail_mode = "standalone"
local_port = false

[[bridge.port]]
name = "$P1"
type = "$kind"
$options

[[bridge.port]]
name = "$P2"
type = "$kind"
$options
EOF
    rm -rf "$TMP/switchd-state"
    "$SWITCHD" --config "$TMP/switchd.toml" --state-dir "$TMP/switchd-state" --log warn \
        >"$TMP/switchd.log" 2>&1 &
    SWITCHD_PID=$!
    # It writes its pid file once every bridge and port is up.
    for ((i = 0; i < 200; i++)); do
        [[ -s $TMP/switchd-state/switchd.pid ]] && { SWITCH_PID=$SWITCHD_PID; return 0; }
        kill -0 "$SWITCHD_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TMP/switchd.log" >&2
    return 1
}

# --- Open vSwitch --------------------------------------------------------
# start_ovs MODE TSO(true|false)
start_ovs() {
    local mode=$1 tso=$2 port i
    rm -rf "$OVS_RUNDIR"
    mkdir -p "$OVS_RUNDIR"
    ovsdb-tool create "$OVS_DBDIR/conf.db" "$OVS_SCHEMA"
    ovsdb-server "$OVS_DBDIR/conf.db" --remote="punix:$OVS_RUNDIR/db.sock" \
        --pidfile --detach --log-file --no-chdir -vconsole:off 2>>"$OVS_LOGDIR/console.log"
    ovs-vsctl --no-wait init
    # Read once at start-up: set before ovs-vswitchd runs.
    ovs-vsctl --no-wait set Open_vSwitch . "other_config:userspace-tso-enable=$tso"
    ovs-vswitchd "unix:$OVS_RUNDIR/db.sock" --pidfile --detach --log-file --no-chdir -vconsole:off \
        2>>"$OVS_LOGDIR/console.log"
    ovs-vsctl --timeout=20 add-br "$OVS_BRIDGE" -- set bridge "$OVS_BRIDGE" \
        datapath_type=netdev fail_mode=standalone
    for port in "$P1" "$P2"; do
        case $mode in
            afpacket-*) ovs-vsctl --timeout=20 add-port "$OVS_BRIDGE" "$port" ;;
            afxdp-native)
                ovs-vsctl --timeout=20 add-port "$OVS_BRIDGE" "$port" -- \
                    set interface "$port" type=afxdp options:xdp-mode=native ;;
        esac
    done
    for port in "$P1" "$P2"; do
        for ((i = 0; i < 100; i++)); do
            [[ $(ovs-vsctl get interface "$port" ofport) =~ ^[1-9] ]] && break
            sleep 0.1
        done
        [[ $(ovs-vsctl get interface "$port" ofport) =~ ^[1-9] ]] || {
            ovs-vsctl get interface "$port" error >&2
            return 1
        }
    done
    SWITCH_PID=$(<"$OVS_RUNDIR/ovs-vswitchd.pid")
}

# --- measurement ---------------------------------------------------------
cpu_ticks() {
    local stat rest f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return 0; }
    rest=${stat##*) }            # after "(comm) ": field 3 onwards
    read -ra f <<<"$rest"
    echo $((f[11] + f[12]))      # utime (14) + stime (15)
}

# measure MODE SWITCH: ping and iperf3 through the running switch
# (SWITCH_PID), appending records.
measure() {
    local mode=$1 sw=$2 i run t0 t1 c0 c1 gbps stats
    read -r l1 l5 l15 _ </proc/loadavg
    printf 'load\t%s\t%s\t%s\n' "$mode" "$sw" "$l1 $l5 $l15" >>"$RECORDS"
    # Reachability (ARP, MAC learning, first flows) before anything timed.
    for ((i = 0; i < 20; i++)); do
        ip netns exec "$NS1" ping -c 1 -W 1 "$IP2" >/dev/null 2>&1 && break
    done
    if ((i == 20)); then
        printf 'fail\t%s\t%s\t%s\n' "$mode" "$sw" "h1 cannot ping h2" >>"$RECORDS"
        log "$mode $sw: h1 cannot ping h2"
        return 0
    fi
    ip netns exec "$NS1" ping -q -c 10 -i 0.01 "$IP2" >/dev/null 2>&1 || true
    ip netns exec "$NS1" ping -q -c "$PINGS" -i 0.01 -W 1 "$IP2" >"$TMP/ping.txt" 2>&1 || true
    if stats=$(python3 "$SCRIPT_DIR/report.py" ping "$TMP/ping.txt"); then
        printf 'rtt\t%s\t%s\t%s\t%s\n' "$mode" "$sw" "${stats% *}" "${stats#* }" >>"$RECORDS"
        log "$mode $sw: rtt avg ${stats% *} ms, loss ${stats#* }%"
    fi
    for ((run = 1; run <= RUNS; run++)); do
        if ! kill -0 "$SWITCH_PID" 2>/dev/null; then
            printf 'fail\t%s\t%s\t%s\n' "$mode" "$sw" "the switch process died" >>"$RECORDS"
            log "$mode $sw: the switch process died"
            return 0
        fi
        c0=$(cpu_ticks "$SWITCH_PID")
        t0=$(date +%s%N)
        ip netns exec "$NS1" timeout -k 2 $((DURATION + 20)) iperf3 -J --connect-timeout 3000 \
            -c "$IP2" -p "$IPERF_PORT" -t "$DURATION" >"$TMP/iperf3.json" 2>"$TMP/iperf3.err" || true
        t1=$(date +%s%N)
        c1=$(cpu_ticks "$SWITCH_PID")
        if ! gbps=$(python3 "$SCRIPT_DIR/report.py" iperf "$TMP/iperf3.json" 2>"$TMP/iperf3.why"); then
            gbps=""
            printf 'fail\t%s\t%s\t%s\n' "$mode" "$sw" "iperf3: $(head -c 200 "$TMP/iperf3.why")" >>"$RECORDS"
        fi
        # CPU ticks and wall nanoseconds over the client's life; report.py divides.
        printf 'tcp\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$sw" "$run" "$gbps" \
            "$((c1 - c0))/$CLK_TCK" "$(((t1 - t0) / 1000000))/1000" >>"$RECORDS"
        log "$mode $sw: run $run: ${gbps:-FAILED} Gbit/s, $((c1 - c0)) CPU ticks in $(((t1 - t0) / 1000000)) ms"
        sleep 1
    done
}

# run_one MODE SWITCH: fresh topology, start SWITCH, measure, stop.
run_one() {
    local mode=$1 sw=$2 tx=off
    [[ $mode == afpacket-on ]] && tx=on
    topo_up "$tx"
    case $sw in
        switchd)
            if start_switchd "$mode"; then
                measure "$mode" "$sw"
            else
                printf 'fail\t%s\t%s\t%s\n' "$mode" "$sw" "switchd did not start" >>"$RECORDS"
            fi
            stop_switchd ;;
        ovs|ovs-tso)
            local tso=false
            [[ $sw == ovs-tso ]] && tso=true
            if start_ovs "$mode" "$tso"; then
                measure "$mode" "$sw"
            else
                printf 'fail\t%s\t%s\t%s\n' "$mode" "$sw" "ovs did not start" >>"$RECORDS"
                tail -20 "$OVS_LOGDIR/ovs-vswitchd.log" >&2 || true
            fi
            stop_ovs ;;
    esac
    topo_down
}

# --- main ----------------------------------------------------------------
if [[ -z $SWITCHD ]]; then
    SWITCHD=${CARGO_TARGET_DIR:-$REPO/target}/release/switchd
    if ((BUILD)); then
        log "building switchd (release)"
        (cd "$REPO" && cargo build --release -p switchd-ctl) >&2
    fi
fi
[[ -x $SWITCHD ]] || die "$SWITCHD not found (build it: cargo build --release -p switchd-ctl)"

{
    printf 'meta\tdate\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'meta\tmachine\t%s CPUs, Linux %s\n' "$(nproc)" "$(uname -r)"
    printf 'meta\topenvswitch\t%s\n' "$(ovs-vswitchd --version | head -1)"
    printf 'meta\tswitchd\t%s\n' "$SWITCHD"
    printf 'meta\tparameters\t%s\n' "runs=$RUNS duration=${DURATION}s pings=$PINGS rounds=$ROUNDS"
    printf 'meta\tload at start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$RECORDS"

for mode in $MODES; do
    for ((round = 1; round <= ROUNDS; round++)); do
        for sw in $SWITCHES; do
            [[ $sw == ovs-tso && $mode != afpacket-on ]] && continue
            log "== $mode: $sw (round $round/$ROUNDS)"
            run_one "$mode" "$sw"
        done
    done
done
printf 'meta\tload at end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RECORDS"

python3 "$SCRIPT_DIR/report.py" table "$RECORDS"

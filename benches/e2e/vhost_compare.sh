#!/usr/bin/env bash
# vhost_compare.sh: the vhost-user VM-to-VM benchmark, switchd and Open
# vSwitch 3.1's DPDK datapath side by side in the same run, with the ratio,
# and the machine's own vhost-user ceiling (dpdk-testpmd as the switch)
# measured alongside so the figures can be read against it.
#
# Topology, the same for every switch: ONE dpdk-testpmd "guest" process
# with two virtio-user ports (server=1: the guest owns the sockets, the
# switch connects, as Open vSwitch's dpdkvhostuserclient ports do) loops
# packets through the switch in io forwarding: whatever arrives on one
# port leaves on the other. --tx-first injects one burst of 32 frames on
# each port, so 64 frames circulate; the switch forwards in_port=1 ->
# output:2 and in_port=2 -> output:1. The rate is what the guest received
# on both ports per second (testpmd's own Rx-pps, --stats-period=1),
# averaged over a steady window after a warm-up.
#
# Switches (each with exactly one core, CPU 0; the guest has CPU 1):
#   switchd  release build, one bridge (fail_mode secure, the two flows in
#            the config file), two vhostuserclient ports, [bridge.datapath]
#            workers = 1; the whole process under taskset -c 0.
#   ovs      ovs-vswitchd-dpdk (Debian openvswitch-switch-dpdk), run by hand
#            in a private directory: dpdk-init, pmd-cpu-mask=0x1, bridge
#            datapath_type=netdev fail_mode=secure, two dpdkvhostuserclient
#            ports, the same two flows; the whole process under taskset -c 0.
#   testpmd  a second dpdk-testpmd with two vhost PMD ports (client=1) in io
#            forwarding, its lcores on CPU 0: the ceiling for this topology.
# Before and after, a regime probe: virtio-user txonly -> vhost PMD rxonly,
# 64-byte frames, one core each (the ~17 Mpps figure of ENVIRONMENT.md; the
# same machine sometimes gives ~5 Mpps when the host moves the vCPUs).
#
# The DPDK processes use 2 MiB hugepages: the script reserves them at run
# time (adds to the kernel's count), mounts a private hugetlbfs, and undoes
# both on exit however it exits. Processes it started are stopped by PID.
#
# Needs root, dpdk-testpmd (apt-get install dpdk), python3 and
# `apt-get install openvswitch-switch-dpdk` (its ovs-vswitchd-dpdk is run by
# path: the system's ovs-vswitchd alternative is left alone).
#
# Usage: benches/e2e/vhost_compare.sh [options]   (see --help)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

SIZES="64 1500"
SWITCHES="switchd ovs testpmd"
WARMUP=3
DURATION=10
ROUNDS=1
BURSTS=1
HUGEPAGES=768
SWITCHD=${SWITCHD:-}
BUILD=1
[[ -n $SWITCHD ]] && BUILD=0
OUT=""
OVS_VSWITCHD_DPDK=${OVS_VSWITCHD_DPDK:-/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk}
SWITCH_CPU=0
GUEST_CPU=1

usage() {
    cat <<EOF
usage: $0 [--sizes "64 1500"] [--switches "switchd ovs testpmd"]
          [--warmup S] [--duration S] [--rounds N] [--bursts N] [--hugepages N]
          [--switchd PATH | --no-build] [--records FILE]

  --sizes LIST     frame sizes in bytes, testpmd --txpkts (default "$SIZES")
  --switches LIST  which switches (default "$SWITCHES"; testpmd = the ceiling)
  --warmup S       seconds of forwarding before the window (default $WARMUP)
  --duration S     seconds in the averaged window (default $DURATION)
  --rounds N       repeat the switch sequence N times per size, alternating,
                   so that a drift in machine load hits every switch (default $ROUNDS)
  --bursts N       bursts of 32 frames injected per guest port at the start
                   (default $BURSTS, as --tx-first; the loop carries 64 x N frames)
  --hugepages N    2 MiB pages to add for the run (default $HUGEPAGES)
  --switchd PATH   use this switchd binary (also: SWITCHD=PATH in the environment)
  --no-build       use \${CARGO_TARGET_DIR:-target}/release/switchd without running cargo
  --records FILE   keep the raw measurements (tab-separated) in FILE

Environment: SWITCHD (switchd binary), OVS_VSWITCHD_DPDK (default
$OVS_VSWITCHD_DPDK), CARGO_TARGET_DIR (where the build goes).
EOF
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --sizes) SIZES=$2; shift 2 ;;
        --switches) SWITCHES=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --bursts) BURSTS=$2; shift 2 ;;
        --hugepages) HUGEPAGES=$2; shift 2 ;;
        --switchd) SWITCHD=$2; BUILD=0; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --records) OUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for sw in $SWITCHES; do
    case $sw in
        switchd|ovs|testpmd) ;;
        *) echo "unknown switch: $sw" >&2; exit 2 ;;
    esac
done
for size in $SIZES; do
    # 2176-byte mbufs (testpmd's default 2048 data room): one segment up to 2048.
    if ! [[ $size =~ ^[0-9]+$ ]] || ((size < 60 || size > 2048)); then
        echo "frame size $size: 60..2048" >&2
        exit 2
    fi
done

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (hugepages, hugetlbfs mount, vhost-user sockets)"
for tool in dpdk-testpmd python3 taskset mount umount; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install dpdk python3 util-linux)"
done
if [[ " $SWITCHES " == *" ovs "* ]]; then
    for tool in ovsdb-server ovsdb-tool ovs-vsctl ovs-appctl ovs-ofctl; do
        command -v "$tool" >/dev/null || die "$tool not found (apt-get install openvswitch-switch-dpdk)"
    done
    [[ -x $OVS_VSWITCHD_DPDK ]] || die "$OVS_VSWITCHD_DPDK not found (apt-get install openvswitch-switch-dpdk)"
fi
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
NPROC=$(nproc)
((NPROC >= 2)) || die "needs 2 CPUs (one for the switch, one for the guest)"

# --- names ---------------------------------------------------------------
LOCK=/run/switchd-e2e-vhost.lock
PREFIX=vhcmp$$                 # DPDK --file-prefix stem (runtime dirs, hugepage files)
SW_BRIDGE=vhcmpsw
OVS_BRIDGE=vhcmpovs
NR_HUGE=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages

exec 9>"$LOCK"
flock -n 9 || die "another vhost_compare.sh holds $LOCK"

TMP=$(mktemp -d /tmp/e2e-vhost.XXXXXX)
RECORDS=$TMP/records.tsv
: >"$RECORDS"
HUGE=$TMP/huge
S0=$TMP/guest0.sock            # the guest's sockets (virtio-user server=1)
S1=$TMP/guest1.sock
export OVS_RUNDIR=$TMP/ovs OVS_LOGDIR=$TMP/ovs OVS_DBDIR=$TMP/ovs OVS_SYSCONFDIR=$TMP/ovs
OVS_CTL=$OVS_RUNDIR/ovs-vswitchd.ctl

# What this script started or changed, for the cleanup.
SWITCHD_PID=""
GUEST_PID=""
PEER_PID=""                    # the testpmd acting as switch (ceiling, probe)
HUGE_ADDED=0
HUGE_MOUNTED=0

# --- cleanup -------------------------------------------------------------
stop_pid() {
    local pid=$1 sig=${2:-TERM} i what
    [[ -n $pid ]] || return 0
    what=$(cat "/proc/$pid/comm" 2>/dev/null) || what="?"
    kill -"$sig" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    log "$what (pid $pid) still runs 10 s after SIG$sig; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_testpmds() {
    # The interactive guest quits at the end of its input (fd 7, if open);
    # SIGINT: testpmd stops forwarding, prints its totals and exits cleanly.
    { exec 7>&-; } 2>/dev/null || true
    stop_pid "$GUEST_PID" INT
    GUEST_PID=""
    stop_pid "$PEER_PID" INT
    PEER_PID=""
}

stop_switchd() {
    stop_pid "$SWITCHD_PID"
    SWITCHD_PID=""
}

stop_ovs() {
    local vswitchd="" dbserver=""
    [[ -d $OVS_RUNDIR ]] || return 0
    # Read the PIDs first: ovs-vswitchd removes its pid file as soon as it
    # starts exiting, long before a DPDK process is gone.
    [[ -f $OVS_RUNDIR/ovs-vswitchd.pid ]] && vswitchd=$(<"$OVS_RUNDIR/ovs-vswitchd.pid")
    [[ -f $OVS_RUNDIR/ovsdb-server.pid ]] && dbserver=$(<"$OVS_RUNDIR/ovsdb-server.pid")
    if [[ -n $vswitchd ]]; then
        timeout 20 ovs-appctl -t "$OVS_CTL" exit --cleanup >/dev/null 2>&1 || true
    fi
    stop_pid "$vswitchd"
    stop_pid "$dbserver"
    rm -f "$OVS_RUNDIR"/*.pid
}

huge_release() {
    local now
    if ((HUGE_MOUNTED)); then
        umount "$HUGE" 2>/dev/null || log "could not unmount $HUGE"
        HUGE_MOUNTED=0
    fi
    if ((HUGE_ADDED > 0)); then
        # Relative: another user may have changed the count meanwhile.
        now=$(<"$NR_HUGE")
        echo $((now > HUGE_ADDED ? now - HUGE_ADDED : 0)) >"$NR_HUGE"
        HUGE_ADDED=0
    fi
}

cleanup() {
    local rc=$?
    set +e
    stop_testpmds
    stop_switchd
    stop_ovs
    huge_release
    rm -rf /var/run/dpdk/"$PREFIX"*
    if [[ -n $OUT && -f $RECORDS ]]; then cp "$RECORDS" "$OUT"; fi
    if ((rc != 0)) && [[ -d $TMP ]]; then
        mkdir -p /tmp/e2e-vhost-failed
        cp -r "$TMP"/*.log "$TMP"/ovs/*.log /tmp/e2e-vhost-failed/ 2>/dev/null
        log "logs kept in /tmp/e2e-vhost-failed"
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- hugepages -----------------------------------------------------------
huge_reserve() {
    local before after
    before=$(<"$NR_HUGE")
    echo $((before + HUGEPAGES)) >"$NR_HUGE"
    after=$(<"$NR_HUGE")
    HUGE_ADDED=$((after - before))
    ((HUGE_ADDED >= HUGEPAGES * 3 / 4)) ||
        die "asked for $HUGEPAGES 2 MiB pages, the kernel gave $HUGE_ADDED"
    mkdir -p "$HUGE"
    mount -t hugetlbfs -o pagesize=2M,mode=0700 nodev "$HUGE"
    HUGE_MOUNTED=1
    log "hugepages: $HUGE_ADDED x 2 MiB added (now $after), mounted at $HUGE"
}

# --- testpmd -------------------------------------------------------------
# Common EAL arguments: no PCI, our hugetlbfs, a private file prefix.
eal() { echo "--no-pci --huge-dir=$HUGE --file-prefix=$PREFIX$1 --log-level=lib.eal:warning"; }

# Both lcores (main: sleeps between stats; forwarding: busy) on one CPU.
lcores_on() { echo "--lcores=0@$1,1@$1"; }

# The guest is dpdk-testpmd with virtio-user ports (server=1) on CPU 1. It
# blocks in accept() until the switch has connected every socket.
guest_vdevs() {
    local v="--vdev net_virtio_user0,path=$S0,server=1,queues=1"
    (($1 == 2)) && v+=" --vdev net_virtio_user1,path=$S1,server=1,queues=1"
    echo "$v"
}

# start_probe_guest: one port, txonly 64 B, forwarding from the start.
start_probe_guest() {
    rm -f "$S0" "$S1"
    # shellcheck disable=SC2046,SC2086
    dpdk-testpmd $(lcores_on "$GUEST_CPU") $(eal g) -m 256 --single-file-segments $(guest_vdevs 1) -- \
        --forward-mode=txonly --txpkts=64 --nb-cores=1 \
        --total-num-mbufs=16384 --stats-period=1 </dev/null >"$TMP/guest.log" 2>&1 &
    GUEST_PID=$!
}

# start_loop_guest SIZE: two ports, io forwarding, interactive, driven
# through a FIFO on fd 7: forwarding starts only when the script says
# "start tx_first" (once the switch is ready, so that the injected bursts
# are not dropped by a half-connected switch: the loop has no other source
# of packets), and the script asks for "show port stats all" once a second.
start_loop_guest() {
    local size=$1
    rm -f "$S0" "$S1" "$TMP/guest.fifo"
    mkfifo "$TMP/guest.fifo"
    # shellcheck disable=SC2046,SC2086
    dpdk-testpmd $(lcores_on "$GUEST_CPU") $(eal g) -m 256 --single-file-segments $(guest_vdevs 2) -- \
        -i --forward-mode=io --txpkts="$size" --nb-cores=1 \
        --total-num-mbufs=16384 <"$TMP/guest.fifo" >"$TMP/guest.log" 2>&1 &
    GUEST_PID=$!
    exec 7>"$TMP/guest.fifo"
}

guest_cmd() { echo "$*" >&7; }

# The guest's totals since forwarding started (printed by "stop").
guest_totals() {
    sed -n '/Accumulated forward statistics/,/####/p' "$TMP/guest.log" |
        grep -E 'RX-packets|TX-packets' | tr -s ' ' | tr '\n' ' ' || true
}

# wait_prompt: until the interactive guest has probed its ports and prompts.
wait_prompt() {
    local i
    for ((i = 0; i < 300; i++)); do
        grep -q 'testpmd>' "$TMP/guest.log" 2>/dev/null && return 0
        kill -0 "$GUEST_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wait_switch_ready SWITCH: both ports of the switch are up on its side.
wait_switch_ready() {
    local sw=$1 i
    for ((i = 0; i < 100; i++)); do
        case $sw in
            switchd)
                (($(sed 's/\x1b\[[0-9;]*m//g' "$TMP/switchd.log" | grep -c 'guest queues up') >= 2)) && return 0 ;;
            ovs)
                [[ $(ovs-vsctl get interface vhcmp0 link_state) == up &&
                    $(ovs-vsctl get interface vhcmp1 link_state) == up ]] && return 0 ;;
            testpmd)
                (($(grep -c 'virtio is now ready for processing' "$TMP/peer.log") >= 2)) && return 0 ;;
        esac
        sleep 0.1
    done
    log "$sw: ports not reported ready after 10 s; starting anyway"
}

# start_peer MODE NPORTS: testpmd as the switch (vhost PMD, client=1), CPU 0.
start_peer() {
    local mode=$1 nports=$2 vdevs
    vdevs="--vdev net_vhost0,iface=$S0,client=1,queues=1"
    ((nports == 2)) && vdevs+=" --vdev net_vhost1,iface=$S1,client=1,queues=1"
    # shellcheck disable=SC2046,SC2086
    dpdk-testpmd $(lcores_on "$SWITCH_CPU") $(eal p) -m 256 $vdevs -- \
        --forward-mode="$mode" --nb-cores=1 --total-num-mbufs=16384 \
        --stats-period=1 </dev/null >"$TMP/peer.log" 2>&1 &
    PEER_PID=$!
}

# wait_reports LOG N PID: until LOG holds N periodic reports (or PID dies).
wait_reports() {
    local logf=$1 n=$2 pid=$3 limit=$(($2 + 30)) i have
    for ((i = 0; i < limit * 10; i++)); do
        have=$(grep -c 'NIC statistics for port 0' "$logf" 2>/dev/null || true)
        ((have >= n)) && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# --- switchd -------------------------------------------------------------
start_switchd() {
    local i
    cat >"$TMP/switchd.toml" <<EOF
[[bridge]]
name = "$SW_BRIDGE"
fail_mode = "secure"
flows = ["in_port=1,actions=output:2", "in_port=2,actions=output:1"]

[bridge.datapath]
workers = 1

[[bridge.port]]
name = "vhcmp0"
type = "vhostuserclient"
ofport = 1
options = { vhost-server-path = "$S0" }

[[bridge.port]]
name = "vhcmp1"
type = "vhostuserclient"
ofport = 2
options = { vhost-server-path = "$S1" }
EOF
    rm -rf "$TMP/switchd-state"
    taskset -c "$SWITCH_CPU" "$SWITCHD" --config "$TMP/switchd.toml" \
        --state-dir "$TMP/switchd-state" --log info >"$TMP/switchd.log" 2>&1 &
    SWITCHD_PID=$!
    for ((i = 0; i < 200; i++)); do
        [[ -s $TMP/switchd-state/switchd.pid ]] && return 0
        kill -0 "$SWITCHD_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TMP/switchd.log" >&2
    return 1
}

# The "port stats" lines switchd logs when it stops, ANSI colours removed.
switchd_port_stats() {
    sed 's/\x1b\[[0-9;]*m//g' "$TMP/switchd.log" | grep 'port stats' |
        sed -E 's/.*port=([^ ]+) port_no=[0-9]+ /\1: /' | tr '\n' ';' || true
}

# --- Open vSwitch DPDK ----------------------------------------------------
start_ovs() {
    local port i ofport
    rm -rf "$OVS_RUNDIR"
    mkdir -p "$OVS_RUNDIR"
    ovsdb-tool create "$OVS_DBDIR/conf.db" "$OVS_SCHEMA"
    ovsdb-server "$OVS_DBDIR/conf.db" --remote="punix:$OVS_RUNDIR/db.sock" \
        --pidfile --detach --log-file --no-chdir -vconsole:off 2>>"$OVS_LOGDIR/console.log"
    ovs-vsctl --no-wait init
    # Read at start-up: set before ovs-vswitchd runs. One PMD on CPU 0;
    # 512 MiB at start, at most 1 GiB, from our private hugetlbfs.
    ovs-vsctl --no-wait set Open_vSwitch . \
        other_config:dpdk-init=true \
        other_config:dpdk-socket-mem=512 \
        other_config:dpdk-socket-limit=1024 \
        other_config:dpdk-hugepage-dir="$HUGE" \
        other_config:pmd-cpu-mask=$((1 << SWITCH_CPU)) \
        other_config:dpdk-extra="--no-pci --file-prefix=${PREFIX}o"
    # Named explicitly: by default the pid file and control socket take the
    # program's name, ovs-vswitchd-dpdk, where ovs-appctl would not look.
    taskset -c "$SWITCH_CPU" "$OVS_VSWITCHD_DPDK" "unix:$OVS_RUNDIR/db.sock" \
        --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" --unixctl="$OVS_CTL" \
        --log-file="$OVS_LOGDIR/ovs-vswitchd.log" --detach --no-chdir -vconsole:off \
        2>>"$OVS_LOGDIR/console.log"
    for ((i = 0; i < 300; i++)); do
        [[ $(ovs-vsctl get Open_vSwitch . dpdk_initialized) == true ]] && break
        sleep 0.1
    done
    [[ $(ovs-vsctl get Open_vSwitch . dpdk_initialized) == true ]] || {
        log "ovs: DPDK did not initialise"
        return 1
    }
    ovs-vsctl --timeout=30 add-br "$OVS_BRIDGE" -- set bridge "$OVS_BRIDGE" \
        datapath_type=netdev fail_mode=secure
    # The flows go in before the ports exist (ofport_request pins the
    # numbers), as switchd has them from its config at start.
    ovs-ofctl -O OpenFlow13 del-flows "$OVS_BRIDGE"
    ovs-ofctl -O OpenFlow13 add-flow "$OVS_BRIDGE" in_port=1,actions=output:2
    ovs-ofctl -O OpenFlow13 add-flow "$OVS_BRIDGE" in_port=2,actions=output:1
    ovs-vsctl --timeout=30 \
        add-port "$OVS_BRIDGE" vhcmp0 -- set interface vhcmp0 type=dpdkvhostuserclient \
            options:vhost-server-path="$S0" ofport_request=1 -- \
        add-port "$OVS_BRIDGE" vhcmp1 -- set interface vhcmp1 type=dpdkvhostuserclient \
            options:vhost-server-path="$S1" ofport_request=2
    for port in vhcmp0 vhcmp1; do
        for ((i = 0; i < 100; i++)); do
            ofport=$(ovs-vsctl get interface "$port" ofport)
            [[ $ofport =~ ^[1-9] ]] && break
            sleep 0.1
        done
        [[ $ofport =~ ^[1-9] ]] || {
            ovs-vsctl get interface "$port" error >&2
            return 1
        }
    done
}

ovs_port_stats() {
    local port key out=""
    for port in vhcmp0 vhcmp1; do
        out+="$port:"
        for key in rx_packets rx_dropped tx_packets tx_dropped ovs_tx_failure_drops ovs_tx_retries; do
            out+=" $key=$(ovs-vsctl get interface "$port" "statistics:$key" 2>/dev/null || echo '?')"
        done
        out+="; "
    done
    out+="pmd: $(ovs-appctl -t "$OVS_CTL" dpif-netdev/pmd-stats-show 2>/dev/null |
        grep -E 'idle cycles|avg processing cycles' | tr -s ' ' | tr '\n' ';')"
    echo "$out"
}

# The switch's process: its threads' CPU and context switches are sampled
# over the window (where a switch spends its core, and who preempts whom).
switch_pid() {
    case $1 in
        switchd) echo "$SWITCHD_PID" ;;
        ovs) cat "$OVS_RUNDIR/ovs-vswitchd.pid" 2>/dev/null ;;
        testpmd) echo "$PEER_PID" ;;
    esac
}

# thread_snap PID: a sample of its threads' CPU and context switches.
thread_snap() { [[ -z $1 ]] || python3 "$SCRIPT_DIR/vhost_report.py" snap "$1"; }

# --- one measurement -----------------------------------------------------
# measure SWITCH SIZE ROUND: start the switch and the guest, average the
# window, stop everything, append records.
measure() {
    local sw=$1 size=$2 round=$3 got ok=1 i stats=""
    read -r l1 l5 l15 _ </proc/loadavg
    printf 'load\t%s\t%s\t%s\n' "$sw" "$size" "$l1 $l5 $l15" >>"$RECORDS"
    case $sw in
        switchd) start_switchd || ok=0 ;;
        ovs) start_ovs || ok=0 ;;
        testpmd) start_peer io 2 ;;
    esac
    if ((!ok)); then
        printf 'fail\t%s\t%s\t%s\n' "$sw" "$size" "the switch did not start" >>"$RECORDS"
        log "$sw $size B: the switch did not start"
        [[ $sw == ovs ]] && tail -20 "$OVS_LOGDIR/ovs-vswitchd.log" >&2
        return 0
    fi
    start_loop_guest "$size"
    if wait_prompt; then
        wait_switch_ready "$sw"
        sleep 1
        guest_cmd "start tx_first $BURSTS"
        # One report with no rate yet, WARMUP skipped, DURATION averaged.
        for ((i = 0; i <= WARMUP + DURATION; i++)); do
            guest_cmd "show port stats all"
            ((i == WARMUP)) && thread_snap "$(switch_pid "$sw")" >"$TMP/threads.0"
            sleep 1
        done
        thread_snap "$(switch_pid "$sw")" >"$TMP/threads.1"
        stats=$(python3 "$SCRIPT_DIR/vhost_report.py" threads "$TMP/threads.0" "$TMP/threads.1" || true)
        [[ -n $stats ]] && printf 'stats\t%s\t%s\t%s\n' "$sw" "$size" "threads over the window: $stats" >>"$RECORDS"
        stats=""
        guest_cmd "stop"
        sleep 1
        guest_cmd "quit"
    else
        printf 'fail\t%s\t%s\t%s\n' "$sw" "$size" "testpmd did not come up" >>"$RECORDS"
        log "$sw $size B: testpmd did not come up"
        tail -20 "$TMP/guest.log" >&2
        ok=0
    fi
    case $sw in
        ovs) stats=$(ovs_port_stats) ;;
    esac
    exec 7>&-
    stop_testpmds
    printf 'stats\t%s\t%s\t%s\n' "$sw" "$size" "guest: $(guest_totals)" >>"$RECORDS"
    case $sw in
        switchd) stop_switchd; stats=$(switchd_port_stats) ;;
        ovs) stop_ovs ;;
    esac
    [[ -n $stats ]] && printf 'stats\t%s\t%s\t%s\n' "$sw" "$size" "$stats" >>"$RECORDS"
    ((ok)) || return 0
    if got=$(python3 "$SCRIPT_DIR/vhost_report.py" pps "$TMP/guest.log" "$WARMUP" "$DURATION" 2>"$TMP/why"); then
        read -r total p0 p1 _ lo hi <<<"$got"
        printf 'rate\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sw" "$size" "$round" "$total" "$p0" "$p1" "$lo" "$hi" >>"$RECORDS"
        log "$sw $size B: $total Mpps (port 0 $p0, port 1 $p1; seconds $lo-$hi)"
    else
        printf 'fail\t%s\t%s\t%s\n' "$sw" "$size" "$(head -c 200 "$TMP/why")" >>"$RECORDS"
        log "$sw $size B: $(cat "$TMP/why")"
    fi
}

# probe WHEN: virtio-user txonly -> vhost PMD rxonly, 64 B, one core each.
probe() {
    local when=$1 got="" mpps=""
    start_peer rxonly 1
    start_probe_guest
    if wait_reports "$TMP/peer.log" $((1 + 2 + 5)) "$PEER_PID" &&
        got=$(python3 "$SCRIPT_DIR/vhost_report.py" pps "$TMP/peer.log" 2 5 2>"$TMP/why"); then
        mpps=${got%% *}
    fi
    stop_testpmds
    printf 'probe\t%s\t%s\n' "$when" "$mpps" >>"$RECORDS"
    log "regime probe ($when): ${mpps:-FAILED} Mpps"
}

# --- main ----------------------------------------------------------------
if [[ " $SWITCHES " == *" switchd "* ]]; then
    if [[ -z $SWITCHD ]]; then
        SWITCHD=${CARGO_TARGET_DIR:-$REPO/target}/release/switchd
        if ((BUILD)); then
            log "building switchd (release)"
            (cd "$REPO" && cargo build --release -p switchd-ctl --bin switchd) >&2
        fi
    fi
    [[ -x $SWITCHD ]] || die "$SWITCHD not found (cargo build --release -p switchd-ctl --bin switchd)"
fi

huge_reserve
{
    printf 'meta\tdate\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'meta\tmachine\t%s CPUs, Linux %s\n' "$NPROC" "$(uname -r)"
    printf 'meta\tdpdk\t%s\n' "$(dpkg-query -W -f '${Version}' dpdk 2>/dev/null || echo '?')"
    [[ " $SWITCHES " == *" ovs "* ]] &&
        printf 'meta\topenvswitch\t%s\n' "$("$OVS_VSWITCHD_DPDK" --version | head -1)"
    [[ -n $SWITCHD ]] && printf 'meta\tswitchd\t%s\n' "$SWITCHD"
    printf 'meta\tparameters\t%s\n' "sizes=$SIZES warmup=${WARMUP}s window=${DURATION}s rounds=$ROUNDS bursts=$BURSTS (frames in flight $((64 * BURSTS))); switch on CPU $SWITCH_CPU, guest on CPU $GUEST_CPU"
    printf 'meta\tload at start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$RECORDS"

probe before
for size in $SIZES; do
    for ((round = 1; round <= ROUNDS; round++)); do
        for sw in $SWITCHES; do
            log "== $size B: $sw (round $round/$ROUNDS)"
            measure "$sw" "$size" "$round"
        done
    done
done
probe after
printf 'meta\tload at end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RECORDS"

python3 "$SCRIPT_DIR/vhost_report.py" table "$RECORDS"

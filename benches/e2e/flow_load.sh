#!/usr/bin/env bash
# Flow-table load, switchd vs Open vSwitch, same machine, same run:
#   sudo benches/e2e/flow_load.sh [N ...]        (default: 2000 16000 100000)
#
# For each N, a file of N distinct flows (in_port + ip dst, priorities
# 1..8, as an ACL-like controller would write them) is loaded with
#   ovs-ofctl -O OpenFlow13 add-flows tcp:127.0.0.1:PORT FILE
# into switchd (an OpenFlow listener on a bridge without ports) and into
# Open vSwitch 3.1 (a netdev bridge in a private run dir), and with
#   swctl add-flows BRIDGE FILE
# into switchd. Each load starts from an empty table; the wall time of the
# client command is reported, with the ratio to Open vSwitch, and each
# process's resident memory with N flows loaded through ovs-ofctl (VmRSS;
# the growth over the empty start divided by N, per flow: an upper bound,
# as freed memory of earlier, smaller loads may be reused or not).
# Needs root (switchd's bridge has an internal tap port), ovs-ofctl and
# ovs-vswitchd (openvswitch-switch). Everything it starts is stopped by PID
# on exit, and its temporary directory removed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

SIZES=("$@")
((${#SIZES[@]})) || SIZES=(2000 16000 100000)
TMP=$(mktemp -d /tmp/flowload.XXXXXX)
BR=fl$$
BR=${BR:0:12}
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -f $TMP/ovs/ovs-vswitchd.pid ]] && kill "$(<"$TMP/ovs/ovs-vswitchd.pid")" 2>/dev/null || true
    [[ -f $TMP/ovs/ovsdb-server.pid ]] && kill "$(<"$TMP/ovs/ovsdb-server.pid")" 2>/dev/null || true
    sleep 0.3
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

cargo build --release -q -p switchd-ctl --bin switchd --bin swctl
SWITCHD=target/release/switchd
SWCTL=target/release/swctl

# --- switchd --------------------------------------------------------------
SW_PORT=$(free_port)
mkdir -p "$TMP/sw"
cat >"$TMP/sw.toml" <<TOML
[[bridge]]
name = "$BR"
fail_mode = "secure"
controller = ["ptcp:$SW_PORT:127.0.0.1"]
TOML
"$SWITCHD" --config "$TMP/sw.toml" --state-dir "$TMP/sw" --log warn >"$TMP/switchd.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do [[ -s $TMP/sw/switchd.pid ]] && break; sleep 0.1; done
export SWITCHD_SOCKET=$TMP/sw/switchd.sock

# --- Open vSwitch ---------------------------------------------------------
OVS_PORT=$(free_port)
export OVS_RUNDIR=$TMP/ovs OVS_LOGDIR=$TMP/ovs OVS_DBDIR=$TMP/ovs OVS_SYSCONFDIR=$TMP/ovs
mkdir -p "$OVS_RUNDIR"
ovsdb-tool create "$OVS_DBDIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server "$OVS_DBDIR/conf.db" --remote="punix:$OVS_RUNDIR/db.sock" \
    --pidfile --detach --log-file --no-chdir -vconsole:off
ovs-vsctl --no-wait init
ovs-vswitchd "unix:$OVS_RUNDIR/db.sock" --pidfile --detach --log-file --no-chdir -vconsole:off
ovs-vsctl --timeout=20 add-br "o$BR" -- set bridge "o$BR" datapath_type=netdev \
    fail_mode=secure -- set-controller "o$BR" "ptcp:$OVS_PORT:127.0.0.1"
for ((i = 0; i < 100; i++)); do
    ovs-ofctl -O OpenFlow13 show "tcp:127.0.0.1:$OVS_PORT" >/dev/null 2>&1 && break
    sleep 0.1
done

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
SW_PID=${PIDS[0]}
OVS_PID=$(<"$OVS_RUNDIR/ovs-vswitchd.pid")
SW_BASE=$(rss_kb "$SW_PID")
OVS_BASE=$(rss_kb "$OVS_PID")

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
count() { ovs-ofctl -O OpenFlow13 dump-aggregate "$1" | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p'; }

printf '%-8s %14s %14s %14s %10s %10s %16s %16s\n' flows "ovs (s)" "switchd (s)" "swctl (s)" ratio "swctl/ovs" \
    "ovs RSS MB (B/f)" "sw RSS MB (B/f)"
for n in "${SIZES[@]}"; do
    python3 - "$n" >"$TMP/flows.$n" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    print(f"table=0,priority={1 + i % 8},ip,in_port={1 + i % 4},"
          f"nw_dst=10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255},actions=drop")
PY
    ovs-ofctl -O OpenFlow13 del-flows "tcp:127.0.0.1:$OVS_PORT"
    ovs-ofctl -O OpenFlow13 del-flows "tcp:127.0.0.1:$SW_PORT"
    t_ovs=$(secs ovs-ofctl -O OpenFlow13 --no-names add-flows "tcp:127.0.0.1:$OVS_PORT" "$TMP/flows.$n")
    t_sw=$(secs ovs-ofctl -O OpenFlow13 --no-names add-flows "tcp:127.0.0.1:$SW_PORT" "$TMP/flows.$n")
    c_ovs=$(count "tcp:127.0.0.1:$OVS_PORT")
    c_sw=$(count "tcp:127.0.0.1:$SW_PORT")
    # Memory with N flows loaded the same way into both (streamed flow
    # mods), before swctl's one large batch can inflate switchd's heap.
    r_ovs=$(rss_kb "$OVS_PID")
    r_sw=$(rss_kb "$SW_PID")
    ovs-ofctl -O OpenFlow13 del-flows "tcp:127.0.0.1:$SW_PORT"
    # A million flows in one batch takes longer than swctl's 10 s default deadline.
    t_swctl=$(secs "$SWCTL" --timeout 600 add-flows "$BR" "$TMP/flows.$n" || echo nan)
    c_swctl=$(count "tcp:127.0.0.1:$SW_PORT")
    [[ $c_ovs == "$n" && $c_sw == "$n" ]] || echo "WARNING: loaded ovs=$c_ovs switchd=$c_sw of $n" >&2
    [[ $c_swctl == "$n" ]] || echo "WARNING: swctl loaded $c_swctl of $n" >&2
    printf '%-8s %14.3f %14.3f %14s %10.2f %10s %10.1f (%3d) %10.1f (%3d)\n' "$n" "$t_ovs" "$t_sw" "$t_swctl" \
        "$(echo "$t_sw / $t_ovs" | bc -l)" \
        "$( [[ $t_swctl == nan ]] && echo nan || printf '%.2f' "$(echo "$t_swctl / $t_ovs" | bc -l)")" \
        "$(echo "$r_ovs / 1024" | bc -l)" "$(( (r_ovs - OVS_BASE) * 1024 / n ))" \
        "$(echo "$r_sw / 1024" | bc -l)" "$(( (r_sw - SW_BASE) * 1024 / n ))"
done

#!/usr/bin/env bash
# OpenFlow 1.3 conformance: os-ken's switch test tool against switchd (or
# Open vSwitch, for the side-by-side column).
#
#   run.sh [--target switchd|ovs] [--list FILE] [--duration S] [--no-throughput]
#          [--out DIR] [--switchd PATH] [--keep] [CASE...]
#
# CASE is a file under os_ken/tests/switch/of13/ ("match/00_IN_PORT.json"),
# a family ("match", "action", "group", "meter") or "all" (the default).
# --list reads more CASEs from a file (one per line, '#' comments).
# --duration S shortens the throughput cases (all group and meter cases send
# packets for 30 s each) to S seconds; --no-throughput drops them.
#
# Everything lives in one network namespace made for the run: three veth
# pairs, an Open vSwitch netdev bridge as the tester (dpid 2), the target
# (switchd or a second OVS bridge, dpid 1) and osken-manager running the
# tester app, all on the namespace's own loopback. Wiring (os-ken defaults):
#   tester port 1 -> target port 1, target port 2 -> tester port 2,
#   target port 3 -> tester port 3.
# On exit (also on error or Ctrl-C) it stops what it started, by PID, and
# deletes the namespace.
#
# Output: OUT/tool.log (the tool's log), OUT/results.tsv (file, ok, error),
# OUT/cases.tsv (every case with its result and error detail); the per-file
# table and the totals are printed. Exit status 0 when the run completed
# (whatever the counts), 2 when a prerequisite is missing (os-ken, Open
# vSwitch, pip, root), 1 on other failures.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OSKEN_VERSION=4.2.2
CACHE="${SWITCHD_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchd-conformance}"
OF13="$CACHE/os-ken-$OSKEN_VERSION/os_ken/tests/switch/of13"
OF_PORT=6633

target=switchd
out=""
keep=0
duration=""
no_throughput=0
switchd_bin="${SWITCHD_BIN:-}"
cases=()

die() { echo "run.sh: $*" >&2; exit 1; }
missing() { echo "run.sh: SKIP: $*" >&2; exit 2; }

while (($#)); do
    case "$1" in
        --target) target="$2"; shift 2 ;;
        --list) while read -r line; do
                    line="${line%%#*}"; line="${line//[[:space:]]/}"
                    [[ -n "$line" ]] && cases+=("$line")
                done <"$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --no-throughput) no_throughput=1; shift ;;
        --out) out="$2"; shift 2 ;;
        --switchd) switchd_bin="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) cases+=("$1"); shift ;;
    esac
done
[[ "$target" == switchd || "$target" == ovs ]] || die "--target is switchd or ovs"

# --- prerequisites ---------------------------------------------------------
[[ $(id -u) -eq 0 ]] || missing "needs root (network namespace, veths)"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
for tool in osken-manager ovsdb-server ovs-vswitchd ovs-vsctl ovsdb-tool ip; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || missing "$tool not found"
done
export PATH="$PATH:/usr/sbin:/sbin"
TESTER_APP="$($PY -c 'import os, os_ken.tests.switch.tester as t; print(os.path.abspath(t.__file__))' 2>/dev/null)" \
    || missing "python3-os-ken (os_ken.tests.switch.tester) not importable by $PY"
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
[[ -f $SCHEMA ]] || missing "$SCHEMA not found"

if [[ $target == switchd ]]; then
    if [[ -z "$switchd_bin" ]]; then
        for c in "${CARGO_TARGET_DIR:-$ROOT/target}/debug/switchd" "${CARGO_TARGET_DIR:-$ROOT/target}/release/switchd" \
                 "$ROOT/target/debug/switchd" "$ROOT/target/release/switchd"; do
            [[ -x "$c" ]] && { switchd_bin="$c"; break; }
        done
    fi
    [[ -x "$switchd_bin" ]] || die "switchd binary not found (build it: cargo build -p switchd-ctl, or pass --switchd / SWITCHD_BIN)"
fi

# The JSON cases ship only in the PyPI wheel (not in Debian's python3-os-ken).
if [[ ! -d "$OF13" ]]; then
    echo "fetching os-ken==$OSKEN_VERSION test cases into $CACHE"
    mkdir -p "$CACHE"
    dl="$(mktemp -d "$CACHE/dl.XXXXXX")"
    if ! $PY -m pip download --quiet --no-deps --dest "$dl" "os-ken==$OSKEN_VERSION" >&2; then
        rm -rf "$dl"
        missing "pip download os-ken==$OSKEN_VERSION failed (no pip or no PyPI)"
    fi
    $PY - "$dl" "$CACHE/os-ken-$OSKEN_VERSION" <<'EOF'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("os_ken/tests/switch/of13/") and name.endswith(".json"):
            z.extract(name, sys.argv[2])
EOF
    rm -rf "$dl"
    [[ -d "$OF13" ]] || die "no of13 cases in the wheel"
fi

# --- workspace and cleanup -------------------------------------------------
NS="swconf-$$"
work="$(mktemp -d /tmp/swconf.XXXXXX)"
# Results outlive the run (the work dir does not).
[[ -n "$out" ]] || out="$(mktemp -d /tmp/swconf-results.XXXXXX)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
pids=()

cleanup() {
    local rc=$?
    set +e
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null
    done
    for _ in $(seq 30); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    if ((keep)); then echo "kept work dir $work" >&2; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Namespaces left by runs that died without cleaning up (their PID is gone).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^swconf-[0-9]*$' || true); do
    kill -0 "${ns#swconf-}" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
done

# --- select the cases ------------------------------------------------------
sel_args=()
[[ -n "$duration" ]] && sel_args+=(--duration "$duration")
((no_throughput)) && sel_args+=(--no-throughput)
$PY "$HERE/cases.py" select "$OF13" "$work/cases" "${sel_args[@]}" "${cases[@]}"
ncases=$(awk -F'\t' '{n += $3} END {print n + 0}' "$work/index.tsv")
((ncases > 0)) || die "no cases selected"
nthroughput=$(grep -c . <(grep -l '"packets"' "$work"/cases/*.json 2>/dev/null) || true)

# --- network ---------------------------------------------------------------
nsx() { ip netns exec "$NS" "$@"; }
ip netns add "$NS"
nsx ip link set lo up
# No IPv6 on the test links: router solicitations and DAD probes would reach
# the switches and be taken for test traffic.
nsx sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6' \
    2>/dev/null || true
# tester port 1 -> target port 1, target port 2/3 -> tester port 2/3
for n in 1 2 3; do
    nsx ip link add "te$n" type veth peer name "ta$n"
    for dev in "te$n" "ta$n"; do
        nsx ip link set "$dev" up
        nsx ethtool -K "$dev" tx off >/dev/null 2>&1 || true
    done
done

# --- controller: osken-manager running the tester app ----------------------
ip netns exec "$NS" osken-manager --ofp-listen-host 127.0.0.1 --ofp-tcp-listen-port "$OF_PORT" \
    --test-switch-dir "$work/cases" \
    --test-switch-target 0000000000000001 --test-switch-tester 0000000000000002 \
    "$TESTER_APP" >"$out/tool.log" 2>&1 &
osken_pid=$!
pids+=("$osken_pid")
for _ in $(seq 100); do
    nsx bash -c "exec 3<>/dev/tcp/127.0.0.1/$OF_PORT" 2>/dev/null && break
    kill -0 "$osken_pid" 2>/dev/null || { cat "$out/tool.log" >&2; die "osken-manager exited"; }
    sleep 0.2
done

# --- Open vSwitch (tester bridge, and the target bridge with --target ovs) --
ovs="$work/ovs"
mkdir -p "$ovs"
export OVS_RUNDIR="$ovs" OVS_LOGDIR="$ovs" OVS_DBDIR="$ovs" OVS_SYSCONFDIR="$ovs"
ovsdb-tool create "$ovs/conf.db" "$SCHEMA"
ip netns exec "$NS" ovsdb-server "$ovs/conf.db" --remote="punix:$ovs/db.sock" --pidfile="$ovs/ovsdb-server.pid" \
    --unixctl="$ovs/ovsdb-server.ctl" --log-file="$ovs/ovsdb-server.log" >/dev/null 2>&1 &
pids+=($!)
vsctl() { ovs-vsctl --db="unix:$ovs/db.sock" --timeout=20 "$@"; }
for _ in $(seq 50); do [[ -S "$ovs/db.sock" ]] && break; sleep 0.1; done
vsctl --no-wait init
ip netns exec "$NS" ovs-vswitchd "unix:$ovs/db.sock" --pidfile="$ovs/ovs-vswitchd.pid" \
    --unixctl="$ovs/ovs-vswitchd.ctl" --log-file="$ovs/ovs-vswitchd.log" >/dev/null 2>&1 &
pids+=($!)

ovs_bridge() { # name dpid port1 port2 port3
    # One transaction, controller last: the tool starts testing as soon as
    # both switches connect, so the ports must exist by then.
    local br=$1 dpid=$2 args=() n=1
    args+=(add-br "$br" -- set bridge "$br" datapath_type=netdev
        other-config:datapath-id="$dpid" other-config:disable-in-band=true
        protocols=OpenFlow13 fail-mode=secure)
    for port in "$3" "$4" "$5"; do
        args+=(-- add-port "$br" "$port" -- set interface "$port" ofport_request=$n)
        n=$((n + 1))
    done
    args+=(-- set-controller "$br" "tcp:127.0.0.1:$OF_PORT")
    vsctl "${args[@]}"
}
ovs_bridge tb 0000000000000002 te1 te2 te3

# --- target ----------------------------------------------------------------
if [[ $target == ovs ]]; then
    ovs_bridge xb 0000000000000001 ta1 ta2 ta3
else
    cat >"$work/switchd.toml" <<EOF
[[bridge]]
name = "cbr0"
fail_mode = "secure"
datapath_id = "0000000000000001"
controller = ["tcp:127.0.0.1:$OF_PORT"]

[bridge.datapath]
workers = 1

[[bridge.port]]
name = "ta1"
type = "afpacket"
ofport = 1

[[bridge.port]]
name = "ta2"
type = "afpacket"
ofport = 2

[[bridge.port]]
name = "ta3"
type = "afpacket"
ofport = 3
EOF
    RUST_LOG="${RUST_LOG:-info}" ip netns exec "$NS" "$switchd_bin" --config "$work/switchd.toml" \
        --state-dir "$work/switchd" >"$out/switchd.log" 2>&1 &
    pids+=($!)
fi

# --- run -------------------------------------------------------------------
# Budget: ~15 s per ordinary case (the tool waits up to 3 s per step), the
# throughput duration plus 30 s per throughput case, plus start-up.
per_tp=$(( ${duration:-30} + 30 ))
budget=$(( 120 + ncases * 15 + nthroughput * 3 * per_tp ))
echo "running $ncases cases against $target (budget ${budget}s); log: $out/tool.log"
start=$SECONDS
while kill -0 "$osken_pid" 2>/dev/null; do
    if ((SECONDS - start > budget)); then
        echo "run.sh: budget exceeded, stopping the tool" >&2
        kill -TERM "$osken_pid" 2>/dev/null || true
        break
    fi
    # The tool hangs when a case dies inside it (an internal error), so a
    # log that stops growing for 3 minutes ends the run too.
    size=$(stat -c %s "$out/tool.log" 2>/dev/null || echo 0)
    if [[ "$size" != "${last_size:-}" ]]; then last_size=$size; last_growth=$SECONDS; fi
    if ((SECONDS - ${last_growth:-$SECONDS} > 180)); then
        echo "run.sh: no progress for 180 s, stopping the tool" >&2
        kill -TERM "$osken_pid" 2>/dev/null || true
        break
    fi
    if [[ $target == switchd ]] && ! kill -0 "${pids[-1]}" 2>/dev/null; then
        echo "run.sh: switchd died; see $out/switchd.log" >&2
        kill -TERM "$osken_pid" 2>/dev/null || true
        break
    fi
    sleep 1
done
wait "$osken_pid" 2>/dev/null || true
cp "$work/index.tsv" "$out/index.tsv"
[[ -f "$ovs/ovs-vswitchd.log" ]] && cp "$ovs/ovs-vswitchd.log" "$out/" || true
echo "finished in $((SECONDS - start))s"
$PY "$HERE/cases.py" score "$out/index.tsv" "$out/tool.log" "$out"
echo "results: $out/results.tsv, cases: $out/cases.tsv"

# lib.sh: what the switchd-only end-to-end scripts share (sourced, not run).
#
# A topology of namespace hosts on veth pairs whose outer ends are
# switchd's ports, one switchd started on a configuration, and swctl on
# its socket. The caller sets TMP (a scratch directory) and calls
# e2e_cleanup from its exit trap; everything created is remembered here
# and removed there, however the script exits.

E2E_NS=() E2E_PORTS=() E2E_PIDS=()
SWITCHD_PID="" SOCK=""

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# e2e_require TOOL...: root, and every TOOL on the PATH.
e2e_require() {
    local tool
    [[ $(id -u) -eq 0 ]] || die "must run as root"
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
}

# Stop a process: TERM, up to 10 s, then KILL.
stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# e2e_hosts NS_PREFIX PORT_PREFIX SUBNET N: hosts NS_PREFIX1.. with eth0 at
# SUBNET.i/24 (tx offload off), their peers PORT_PREFIX1.. up outside.
e2e_hosts() {
    local nsp=$1 pp=$2 subnet=$3 n=$4 i
    for ((i = 1; i <= n; i++)); do
        ip netns add "$nsp$i"
        E2E_NS+=("$nsp$i")
        ip link add "$pp$i" type veth peer name eth0 netns "$nsp$i"
        E2E_PORTS+=("$pp$i")
        ip -n "$nsp$i" addr add "$subnet.$i/24" dev eth0
        ip -n "$nsp$i" link set eth0 up
        ip -n "$nsp$i" link set lo up
        ip netns exec "$nsp$i" ethtool -K eth0 tx off >/dev/null 2>&1 || true
        ip link set "$pp$i" up
    done
}

# e2e_binaries BUILD REPO: the release switchd and swctl (SWITCHD, SWCTL),
# built first when BUILD is 1.
e2e_binaries() {
    if [[ $1 -eq 1 ]]; then
        log "building switchd and swctl (release)"
        (cd "$2" && cargo build --release -q -p switchd-ctl --bins)
    fi
    SWITCHD=$2/target/release/switchd
    SWCTL=$2/target/release/swctl
    [[ -x $SWITCHD && -x $SWCTL ]] || die "no release binaries (drop --no-build)"
}

# e2e_afxdp_bridge NAME PORT...: start switchd ($SWITCHD) with one
# standalone learning bridge NAME over AF_XDP (native) ports PORT...
e2e_afxdp_bridge() {
    local name=$1 p
    shift
    printf '[[bridge]]\nname = "%s"\nfail_mode = "standalone"\nlocal_port = false\n' \
        "$name" >"$TMP/switchd.toml"
    for p in "$@"; do
        printf '[[bridge.port]]\nname = "%s"\ntype = "afxdp"\noptions = { xdp_mode = "native" }\n' \
            "$p" >>"$TMP/switchd.toml"
    done
    e2e_switchd "$SWITCHD" "$TMP/switchd.toml"
}

# swctl on the started switchd's socket.
sw() { "$SWCTL" --server "$SOCK" "$@"; }

# e2e_switchd BINARY CONFIG: start switchd with its state in $TMP/state
# and wait for its API socket (SOCK).
e2e_switchd() {
    "$1" --config "$2" --state-dir "$TMP/state" >"$TMP/switchd.log" 2>&1 &
    SWITCHD_PID=$!
    SOCK=$TMP/state/switchd.sock
    for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
    [[ -S $SOCK ]] || die "switchd did not start: $(tail -5 "$TMP/switchd.log")"
}

# A background process to stop at cleanup.
e2e_track() { E2E_PIDS+=("$1"); }

e2e_cleanup() {
    local p
    for p in "${E2E_PIDS[@]}"; do stop_pid "$p"; done
    stop_pid "$SWITCHD_PID"
    for p in "${E2E_NS[@]}"; do ip netns del "$p" 2>/dev/null || true; done
    for p in "${E2E_PORTS[@]}"; do ip link del "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}

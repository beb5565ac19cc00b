#!/usr/bin/env bash
# The project's test command: ./integration/run-tests.sh
#
# On a fresh Debian 12 machine, as root, it installs the system packages the
# tests need (only those missing), then checks formatting and lints, builds
# the workspace (so the switchd binary exists for the integration tests) and
# runs every test. CI runs exactly this through .ci/run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

# ---------------------------------------------------------------------------
# System packages. Add what later tests need to EXTRA_PACKAGES, e.g.
#   openvswitch-switch      (Open vSwitch as a reference switch / ovs-ofctl)
#   python3-os-ken          (OpenFlow controller and switch test tool)
#   dpdk                    (dpdk-testpmd as a virtio-user guest)
#   qemu-system-x86         (vhost-user guests)
#   mininet, iperf          (Mininet on switchd: integration/mininet/)
# ---------------------------------------------------------------------------
BASE_PACKAGES=(iproute2 iputils-ping iperf3 ethtool tcpdump python3)
EXTRA_PACKAGES=(python3-yaml python3-os-ken openvswitch-switch python3-pip openvswitch-common dpdk dpdk-dev qemu-system-x86 busybox-static tshark mininet iperf pmacct nfdump)

section "system packages"
missing=()
for pkg in "${BASE_PACKAGES[@]}" "${EXTRA_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]} == 0)); then
    echo "all present: ${BASE_PACKAGES[*]} ${EXTRA_PACKAGES[*]}"
elif [[ $(id -u) -ne 0 ]]; then
    echo "WARNING: not root, cannot install missing packages: ${missing[*]}" >&2
else
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

section "cargo fmt --all --check"
cargo fmt --all --check

section "cargo deny check licenses (Apache-2.0 compatible dependencies)"
if ! command -v cargo-deny >/dev/null 2>&1; then
    cargo install cargo-deny --locked
fi
cargo deny check licenses

section "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# As root (CI), the QEMU tests must run, not skip: a missing image or
# QEMU is a failure. (integration/vm/build-image.sh downloads the guest
# kernel with apt-get.)
if [[ $(id -u) -eq 0 ]]; then
    export SWITCHD_IT_REQUIRE_VM=1
fi

section "cargo build --workspace"
cargo build --workspace

if cargo nextest --version >/dev/null 2>&1; then
    section "cargo nextest run --workspace"
    cargo nextest run --workspace --no-fail-fast
    # nextest does not run doctests.
    section "cargo test --workspace --doc"
    cargo test --workspace --doc --no-fail-fast
else
    section "cargo test --workspace"
    cargo test --workspace --no-fail-fast
fi

section "all checks passed"

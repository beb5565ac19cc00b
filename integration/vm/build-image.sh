#!/usr/bin/env bash
# integration/vm/build-image.sh OUTDIR
#
# Builds the guest image the vhost-user end-to-end tests boot under QEMU
# (TCG): OUTDIR/vmlinuz, a stock Debian 6.1 kernel, and
# OUTDIR/initramfs.cpio.gz, a static busybox plus the virtio-net modules of
# that same kernel and an /init that brings up eth0 and hands the serial
# console to a shell.
#
# Guest kernel command line (besides console=ttyS0):
#   sw.ip=A.B.C.D/LEN     address for eth0 (required for networking)
#   sw.mac=XX:XX:...      MAC for eth0 (optional; QEMU's -device mac= also works)
#   sw.name=NAME          hostname (optional)
# The guest prints SWITCHD-VM-READY on the console once its shell reads
# commands; the shell does not echo its input and has an empty prompt.
#
# Idempotent and cached: OUTDIR/stamp records the kernel package, its version
# and this script's checksum; when they match, nothing is done. The only
# thing fetched is packages through `apt-get download` (no installation):
# the newest linux-image-6.1.0-N-amd64 (override: SWITCHD_VM_KERNEL_PKG) and,
# when no static busybox is installed, busybox-static. Concurrent runs on the
# same OUTDIR serialise on OUTDIR/.lock.
#
# Needs: apt-get/apt-cache, dpkg-deb, tar, gzip, flock; xz/zstd only if the
# kernel's modules are compressed. Exit status 0 on success (paths printed),
# non-zero with a message on stderr otherwise.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 64
fi
OUTDIR=$1
SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")

# Load order matters: each module needs the ones before it.
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
         failover net_failover virtio_net)

die() {
    echo "build-image.sh: $*" >&2
    exit 1
}

mkdir -p "$OUTDIR"
OUTDIR=$(readlink -f "$OUTDIR")
exec 9>"$OUTDIR/.lock"
flock 9

script_sum=$(sha256sum "$SCRIPT" | cut -d' ' -f1)

complete() {
    [[ -s $OUTDIR/vmlinuz && -s $OUTDIR/initramfs.cpio.gz && -s $OUTDIR/stamp ]]
}

done_ok() {
    echo "$OUTDIR/vmlinuz"
    echo "$OUTDIR/initramfs.cpio.gz"
    exit 0
}

# Fast path (apt-cache is slow): built by this script, and apt's package
# lists have not changed since, so the newest kernel cannot have changed.
if [[ -z ${SWITCHD_VM_KERNEL_PKG:-} ]] && complete &&
    [[ $(cut -d' ' -f3 "$OUTDIR/stamp") == "$script_sum" ]] &&
    [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -newer "$OUTDIR/stamp" 2>/dev/null | head -n 1) ]]; then
    done_ok
fi

# --- which kernel --------------------------------------------------------
kernel_pkg=${SWITCHD_VM_KERNEL_PKG:-}
if [[ -z $kernel_pkg ]]; then
    kernel_pkg=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
        grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -n 1 || true)
fi
kernel_ver=
if [[ -n $kernel_pkg ]]; then
    kernel_ver=$(apt-cache show --no-all-versions "$kernel_pkg" 2>/dev/null |
        sed -n 's/^Version: //p' | head -n 1 || true)
fi
stamp="$kernel_pkg $kernel_ver $script_sum"

if complete; then
    if [[ $(cat "$OUTDIR/stamp") == "$stamp" ]]; then
        touch "$OUTDIR/stamp"
        done_ok
    fi
    if [[ -z $kernel_ver ]]; then
        echo "build-image.sh: apt knows no linux-image-6.1.0-*-amd64; reusing $(cat "$OUTDIR/stamp")" >&2
        done_ok
    fi
fi
[[ -n $kernel_ver ]] ||
    die "no linux-image-6.1.0-*-amd64 package known to apt (run apt-get update?)"

# --- fetch and unpack ----------------------------------------------------
work=$(mktemp -d "$OUTDIR/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "build-image.sh: downloading $kernel_pkg $kernel_ver" >&2
apt-get download -q "$kernel_pkg=$kernel_ver" >/dev/null 2>apt.err ||
    die "apt-get download $kernel_pkg failed: $(cat apt.err)"
deb=$(ls ./*.deb)
mkdir kernel
patterns=('*/vmlinuz-*')
for m in "${MODULES[@]}"; do
    patterns+=("*/$m.ko" "*/$m.ko.*")
done
# Only the members named: the kernel and the eight modules. Patterns that
# match nothing (a module this kernel builds in) only warn.
dpkg-deb --fsys-tarfile "$deb" |
    tar -x -C kernel --wildcards --no-anchored "${patterns[@]}" 2>tar.err || true
rm -f "$deb"
vmlinuz=$(find kernel -name 'vmlinuz-*' -type f | head -n 1)
[[ -n $vmlinuz ]] || die "no vmlinuz in $kernel_pkg: $(cat tar.err)"

# A static busybox: the installed one if it is static, else busybox-static's.
busybox=
for candidate in /bin/busybox /usr/bin/busybox; do
    if [[ -x $candidate ]] && ! ldd "$candidate" >/dev/null 2>&1; then
        busybox=$candidate
        break
    fi
done
if [[ -z $busybox ]]; then
    echo "build-image.sh: no static busybox installed, downloading busybox-static" >&2
    apt-get download -q busybox-static >/dev/null 2>apt.err ||
        die "apt-get download busybox-static failed: $(cat apt.err)"
    mkdir bb
    dpkg-deb -x ./busybox-static_*.deb bb
    busybox=$work/bb/bin/busybox
    [[ -x $busybox ]] || die "busybox-static has no bin/busybox"
fi

# --- initramfs tree ------------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,lib/modules}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"

: >"$root/etc/modules.load"
for m in "${MODULES[@]}"; do
    ko=$(find kernel -name "$m.ko" -o -name "$m.ko.*" | head -n 1)
    if [[ -z $ko ]]; then
        echo "build-image.sh: $kernel_pkg has no module $m (built in?), skipping" >&2
        continue
    fi
    case $ko in
    *.ko) cp "$ko" "$root/lib/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$ko" >"$root/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$ko" >"$root/lib/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$ko" >"$root/lib/modules/$m.ko" ;;
    *) die "unknown module compression: $ko" ;;
    esac
    echo "$m" >>"$root/etc/modules.load"
done
grep -qx virtio_net "$root/etc/modules.load" || die "$kernel_pkg lacks virtio_net"

# Read by the interactive shell (ash reads $ENV): no line editing, no echo,
# no prompt, so that the console carries only what commands print; noflsh
# keeps the input queued behind a command interrupted with Ctrl-C.
cat >"$root/etc/shrc" <<'EOF'
set +o emacs 2>/dev/null
set +o vi 2>/dev/null
stty -echo noflsh 2>/dev/null
PS1=''
PS2=''
cd /root
echo SWITCHD-VM-READY
EOF

cat >"$root/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1

for w in $(cat /proc/cmdline); do
    case $w in
    sw.ip=*) IP=${w#sw.ip=} ;;
    sw.mac=*) MAC=${w#sw.mac=} ;;
    sw.name=*) hostname "${w#sw.name=}" ;;
    esac
done

while read -r m; do
    insmod "/lib/modules/$m.ko" || echo "init: insmod $m failed"
done </etc/modules.load

ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if [ -e /sys/class/net/eth0 ]; then
    [ -n "$MAC" ] && ip link set dev eth0 address "$MAC"
    [ -n "$IP" ] && ip addr add "$IP" dev eth0
    ip link set dev eth0 up
else
    echo "init: no eth0"
    dmesg | tail -n 20
fi
# From here on, only warnings and worse reach the console.
echo 4 >/proc/sys/kernel/printk

export ENV=/etc/shrc HOME=/root
while :; do
    setsid cttyhack sh -i
    echo "init: shell exited, restarting"
done
EOF
chmod 755 "$root/init"

(cd "$root" && find . | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -6 >initramfs.cpio.gz
cp "$vmlinuz" vmlinuz

# --- publish -------------------------------------------------------------
mv -f vmlinuz "$OUTDIR/vmlinuz"
mv -f initramfs.cpio.gz "$OUTDIR/initramfs.cpio.gz"
echo "$stamp" >"$OUTDIR/stamp"
done_ok

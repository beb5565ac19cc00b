#!/usr/bin/env python3
"""Parsing and reporting for compare.sh (standard library only).

compare.sh measures; this file only reads what it measured:

  report.py iperf FILE      print the receiver's rate of an `iperf3 -J` report
                            in Gbit/s, or nothing (exit 1) if the run failed
  report.py ping FILE       print "AVG_MS LOSS_PERCENT" from `ping -q` output,
                            or nothing (exit 1) if no reply came back
  report.py table FILE      print the comparison tables from compare.sh's
                            records (tab-separated, one measurement a line)

The one idea: every figure in the table is a median over the runs of one
switch on one mode, and the ratio is taken between those medians, so one
slow run (the machine is shared) cannot move it; the spread is printed next
to it so a noisy run shows.
"""

import json
import re
import statistics
import sys

# Display names, in table order.
MODES = {
    "afpacket-on": "AF_PACKET, host offloads on",
    "afpacket-txoff": "AF_PACKET, host tx off",
    "afxdp-native": "AF_XDP native, host tx off",
}
SWITCHES = {
    "switchd": "switchd",
    "ovs": "OVS 3.1 netdev",
    "ovs-tso": "OVS 3.1 netdev, userspace-tso-enable=true",
}


def iperf_gbps(path):
    """The receiver's rate in Gbit/s, or None after saying why on stderr."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        if report.get("error"):
            sys.stderr.write(str(report["error"]))
            return None
        bps = report["end"]["sum_received"]["bits_per_second"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.stderr.write(f"no iperf3 report ({e.__class__.__name__}: {e})")
        return None
    if bps <= 0:
        sys.stderr.write("nothing received")
        return None
    return bps / 1e9


def ping_stats(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    rtt = re.search(r"= [\d.]+/([\d.]+)/[\d.]+/[\d.]+ ms", text)
    loss = re.search(r"([\d.]+)% packet loss", text)
    if not rtt:
        return None
    return float(rtt.group(1)), float(loss.group(1)) if loss else 0.0


class Result:
    """What one switch measured on one mode."""

    def __init__(self):
        self.gbps = []  # per run
        self.cpu_per_gbit = []  # per run: CPU seconds / Gbit carried
        self.failed_runs = 0
        self.rtts = []  # per round: (avg ms, loss %)
        self.loads = []  # per round: the load average when it started
        self.failure = None

    def median_gbps(self):
        return statistics.median(self.gbps) if self.gbps else None

    def median_cpu(self):
        return statistics.median(self.cpu_per_gbit) if self.cpu_per_gbit else None

    def rtt(self):
        """Median of the rounds' average rtt, and the worst loss."""
        if not self.rtts:
            return None
        return (statistics.median(a for a, _ in self.rtts), max(l for _, l in self.rtts))


def fraction(text):
    """'N/D' (integers, as the shell writes them) as a float."""
    num, _, den = text.partition("/")
    return float(num) / float(den or 1)


def load_records(path):
    results = {}
    meta = {}

    def get(mode, switch):
        return results.setdefault((mode, switch), Result())

    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            kind = fields[0]
            if kind == "meta":
                meta[fields[1]] = fields[2]
            elif kind == "tcp":
                _, mode, switch, _run, gbps, cpu_s, wall_s = fields
                r = get(mode, switch)
                if gbps == "":
                    r.failed_runs += 1
                    continue
                g = float(gbps)
                r.gbps.append(g)
                # CPU and wall time cover the client's whole life (connect,
                # test, teardown), the rate only the test: so divide the
                # cores the switch kept busy by the rate, not CPU by volume.
                cores = fraction(cpu_s) / fraction(wall_s)
                r.cpu_per_gbit.append(cores / g)
            elif kind == "rtt":
                _, mode, switch, avg, loss = fields
                get(mode, switch).rtts.append((float(avg), float(loss)))
            elif kind == "load":
                _, mode, switch, load = fields
                get(mode, switch).loads.append(load)
            elif kind == "fail":
                _, mode, switch, reason = fields
                get(mode, switch).failure = reason
    return meta, results


def fmt_gbps(r):
    if r is None:
        return "-"
    if not r.gbps:
        return "no TCP" if r.failure is None else "failed"
    text = f"{r.median_gbps():.2f}"
    if len(r.gbps) > 1:
        text += f" ({min(r.gbps):.2f}-{max(r.gbps):.2f})"
    if r.failed_runs:
        text += f" [{r.failed_runs} failed]"
    return text


def fmt_rtt(r):
    if r is None or r.rtt() is None:
        return "-"
    avg, loss = r.rtt()
    return f"{avg:.3f} ms" + (f" ({loss:g}% lost)" if loss else "")


def fmt_cpu(r):
    if r is None or r.median_cpu() is None:
        return "-"
    return f"{r.median_cpu():.2f}"


def ratio(a, b):
    if a is None or b is None or a.median_gbps() is None or b.median_gbps() is None:
        return "-"
    return f"{a.median_gbps() / b.median_gbps():.2f}x"


def table(path):
    meta, results = load_records(path)
    modes = [m for m in MODES if any(k[0] == m for k in results)]
    print("| mode | OVS config | switchd Gbit/s | OVS Gbit/s | ratio | switchd rtt | OVS rtt "
          "| switchd CPU-s/Gbit | OVS CPU-s/Gbit |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in modes:
        sw = results.get((mode, "switchd"))
        peers = [p for p in ("ovs", "ovs-tso") if (mode, p) in results] or ["ovs"]
        for peer in peers:
            ovs = results.get((mode, peer))
            config = "userspace TSO" if peer == "ovs-tso" else "default"
            print(f"| {MODES[mode]} | {config} | {fmt_gbps(sw)} | {fmt_gbps(ovs)} "
                  f"| {ratio(sw, ovs)} | {fmt_rtt(sw)} | {fmt_rtt(ovs)} "
                  f"| {fmt_cpu(sw)} | {fmt_cpu(ovs)} |")
    print()
    print("Gbit/s: median of the runs (min-max); ratio = switchd / OVS medians;")
    print("rtt: ping average; CPU-s/Gbit: CPU seconds (user+system, all threads) the")
    print("switch process used per Gbit carried, median over the runs.")
    for key in sorted(results):
        r = results[key]
        notes = []
        if r.loads:
            notes.append(f"load average {', '.join(r.loads)}")
        if r.failure:
            notes.append(f"FAILED: {r.failure}")
        print(f"  {key[0]:15} {key[1]:8} runs: "
              + (", ".join(f"{g:.2f}" for g in r.gbps) or "none")
              + (f"; {'; '.join(notes)}" if notes else ""))
    for k, v in sorted(meta.items()):
        print(f"  {k}: {v}")


def main(argv):
    if len(argv) != 3 or argv[1] not in ("iperf", "ping", "table"):
        sys.stderr.write(__doc__)
        return 2
    cmd, path = argv[1], argv[2]
    if cmd == "iperf":
        g = iperf_gbps(path)
        if g is None:
            return 1
        print(f"{g:.4f}")
    elif cmd == "ping":
        p = ping_stats(path)
        if p is None:
            return 1
        print(f"{p[0]} {p[1]}")
    else:
        table(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Parsing and reporting for vhost_compare.sh (standard library only).

vhost_compare.sh measures; this file only reads what it measured:

  vhost_report.py pps LOG SKIP WINDOW
        the packet rate a dpdk-testpmd run saw, from its once-a-second
        statistics (--stats-period=1, or "show port stats all" sent once a
        second): skip the first SKIP reports (warm-up), average the next
        WINDOW ones, and print "TOTAL PORT0 PORT1 PERIODS MIN MAX" in Mpps
        (Rx-pps summed over the ports; MIN and MAX of the per-second
        totals, to show stalls), or say why on stderr and exit 1
  vhost_report.py snap PID
        sample PID's threads: a "time SECONDS" line (monotonic clock), then
        "TID COMM UTIME STIME VCS NVCS" per thread (CPU in clock ticks,
        context switches from /proc/PID/task/TID/status)
  vhost_report.py threads BEFORE AFTER
        from two samples, for each thread that ran: its share of a core and
        its context switches per second, voluntary (it slept, e.g. woke on
        an eventfd) and involuntary (it was preempted)
  vhost_report.py table FILE
        print the comparison table from vhost_compare.sh's records
        (tab-separated, one measurement a line)

The one idea: testpmd's "Rx-pps" is computed by testpmd itself from its TSC
over the interval since its previous report, so averaging the per-second
reports of a steady window gives the rate without trusting the shell's
clock; the rate of a switch is the sum over the two guest ports of what
they received, i.e. everything the switch delivered in both directions.
Every figure in the table is a median over rounds, and the ratio is taken
between medians, so one slow round (the machine is shared) cannot move it.
"""

import re
import statistics
import sys

SWITCHES = {
    "switchd": "switchd",
    "ovs": "OVS 3.1 DPDK",
    "testpmd": "testpmd vhost PMD (ceiling)",
}

BLOCK = re.compile(r"NIC statistics for port (\d+)\s+#+(.*?)#{20,}", re.S)
RX_PPS = re.compile(r"Rx-pps:\s+(\d+)")


def periodic_rates(text):
    """[(port -> Rx-pps)] per periodic report, in order."""
    reports = []
    current = {}
    for m in BLOCK.finditer(text):
        port = int(m.group(1))
        pps = RX_PPS.search(m.group(2))
        if pps is None:
            continue
        if port in current:  # a port repeats: the next report began
            reports.append(current)
            current = {}
        current[port] = int(pps.group(1))
    if current:
        reports.append(current)
    return reports


def window_pps(path, skip, window):
    """(total, per-port list, periods, min, max) in packets per second, or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        sys.stderr.write(f"cannot read {path}: {e}")
        return None
    # The first report's rates are since "ever" (zero): testpmd prints it
    # before it has a previous sample, so it is always among the skipped.
    reports = periodic_rates(text)[1 + skip:1 + skip + window]
    if len(reports) < window:
        sys.stderr.write(f"only {len(reports)} of {window} steady reports in {path}")
        return None
    ports = sorted({p for r in reports for p in r})
    per_port = [statistics.mean(r.get(p, 0) for r in reports) for p in ports]
    totals = [sum(r.values()) for r in reports]
    return sum(per_port), per_port, len(reports), min(totals), max(totals)


def snap(pid):
    """Print one sample of PID's threads (see the module doc)."""
    import os
    import time

    print(f"time {time.monotonic():.6f}")
    base = f"/proc/{pid}/task"
    for tid in sorted(os.listdir(base), key=int):
        try:
            with open(f"{base}/{tid}/stat", encoding="utf-8") as f:
                stat = f.read()
            with open(f"{base}/{tid}/status", encoding="utf-8") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # the thread ended
        comm = stat[stat.index("(") + 1:stat.rindex(")")].replace(" ", "_")
        fields = stat[stat.rindex(")") + 2:].split()
        utime, stime = fields[11], fields[12]  # stat fields 14 and 15
        vcs = status["voluntary_ctxt_switches"].strip()
        nvcs = status["nonvoluntary_ctxt_switches"].strip()
        print(f"{tid} {comm} {utime} {stime} {vcs} {nvcs}")


def thread_use(before, after):
    """'comm: N% core (user U%), V vol/s, I invol/s; ...' for threads that ran."""
    import os

    clk_tck = os.sysconf("SC_CLK_TCK")

    def read(path):
        rows, when = {}, None
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "time":
                    when = float(parts[1])
                elif len(parts) == 6:
                    rows[parts[0]] = (parts[1], *map(int, parts[2:]))
        return rows, when

    (a, t0), (b, t1) = read(before), read(after)
    if t0 is None or t1 is None or t1 <= t0:
        return ""
    seconds = t1 - t0
    out = []
    for tid, (comm, ut, st, vcs, nvcs) in b.items():
        if tid not in a:
            continue
        _, ut0, st0, vcs0, nvcs0 = a[tid]
        cpu = (ut - ut0 + st - st0) / clk_tck / seconds * 100
        vol, invol = (vcs - vcs0) / seconds, (nvcs - nvcs0) / seconds
        if cpu < 0.5 and vol < 10 and invol < 10:
            continue
        user = (ut - ut0) / clk_tck / seconds * 100
        out.append(f"{comm}: {cpu:.0f}% core (user {user:.0f}%), "
                   f"{vol:.0f} vol/s, {invol:.0f} invol/s")
    return "; ".join(out)


class Result:
    """What one switch measured at one packet size."""

    def __init__(self):
        self.mpps = []  # per round
        self.spans = []  # per round: (slowest second, fastest second)
        self.loads = []
        self.failures = []
        self.stats = []  # switchd's port counters, per round

    def median(self):
        return statistics.median(self.mpps) if self.mpps else None


def load_records(path):
    results = {}
    meta = {}
    probes = []

    def get(switch, size):
        return results.setdefault((switch, int(size)), Result())

    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            kind = fields[0]
            if kind == "meta":
                meta[fields[1]] = fields[2]
            elif kind == "probe":
                _, when, mpps = fields[:3]
                probes.append((when, float(mpps) if mpps else None))
            elif kind == "rate":
                _, switch, size, _round, mpps = fields[:5]
                r = get(switch, size)
                r.mpps.append(float(mpps))
                if len(fields) >= 9:
                    r.spans.append((float(fields[7]), float(fields[8])))
            elif kind == "load":
                _, switch, size, load = fields
                get(switch, size).loads.append(load)
            elif kind == "fail":
                _, switch, size, reason = fields
                get(switch, size).failures.append(reason)
            elif kind == "stats":
                _, switch, size, text = fields
                get(switch, size).stats.append(text)
    return meta, results, probes


def regime(mpps):
    """Which of the machine's two vhost-user regimes a probe rate is in."""
    if mpps is None:
        return "unknown"
    if mpps >= 10:
        return "~17 Mpps regime"
    if mpps >= 3:
        return "~5 Mpps regime (the host moved the vCPUs)"
    return "below both regimes: the cores are shared with other load"


def fmt(r):
    if r is None:
        return "-"
    if not r.mpps:
        return "failed" if r.failures else "-"
    text = f"{r.median():.3f}"
    if len(r.mpps) > 1:
        text += f" ({min(r.mpps):.3f}-{max(r.mpps):.3f})"
    return text


def ratio(a, b):
    if a is None or b is None or a.median() is None or not b.median():
        return "-"
    return f"{a.median() / b.median():.2f}x"


def table(path):
    meta, results, probes = load_records(path)
    sizes = sorted({k[1] for k in results})
    print("| frame | switchd Mpps | OVS 3.1 DPDK Mpps | switchd / OVS "
          "| testpmd vhost (ceiling) Mpps | switchd / ceiling |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        sw = results.get(("switchd", size))
        ovs = results.get(("ovs", size))
        top = results.get(("testpmd", size))
        print(f"| {size} B | {fmt(sw)} | {fmt(ovs)} | {ratio(sw, ovs)} "
              f"| {fmt(top)} | {ratio(sw, top)} |")
    print()
    print("Mpps: packets the switch delivered per second, both directions summed")
    print("(testpmd Rx-pps of the two guest ports), median over rounds (min-max).")
    for when, mpps in probes:
        shown = f"{mpps:.2f} Mpps" if mpps is not None else "failed"
        print(f"  regime probe ({when}): virtio-user txonly -> vhost PMD rxonly, "
              f"64 B, one core each: {shown}: {regime(mpps)}")
    for key in sorted(results):
        r = results[key]
        notes = []
        if r.loads:
            notes.append(f"load average {', '.join(r.loads)}")
        for f in r.failures:
            notes.append(f"FAILED: {f}")
        rounds = [f"{m:.3f}" + (f" [seconds {s[0]:.3f}-{s[1]:.3f}]" if s else "")
                  for m, s in zip(r.mpps, r.spans + [None] * len(r.mpps))]
        print(f"  {key[0]:8} {key[1]:5} B rounds: "
              + (", ".join(rounds) or "none")
              + (f"; {'; '.join(notes)}" if notes else ""))
        for s in r.stats:
            print(f"           {s}")
    for k, v in sorted(meta.items()):
        print(f"  {k}: {v}")


def main(argv):
    if len(argv) == 5 and argv[1] == "pps":
        got = window_pps(argv[2], int(argv[3]), int(argv[4]))
        if got is None:
            return 1
        total, per_port, n, lo, hi = got
        print(f"{total / 1e6:.4f} " + " ".join(f"{p / 1e6:.4f}" for p in per_port)
              + f" {n} {lo / 1e6:.4f} {hi / 1e6:.4f}")
        return 0
    if len(argv) == 4 and argv[1] == "threads":
        print(thread_use(argv[2], argv[3]))
        return 0
    if len(argv) == 3 and argv[1] == "snap":
        snap(argv[2])
        return 0
    if len(argv) == 3 and argv[1] == "table":
        table(argv[2])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

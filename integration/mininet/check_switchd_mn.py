"""Mininet on switchd: the scenarios of the Mininet issue, through Mininet's
Python API (never `mn -c`, whose cleanup kills processes by name).

Run as root with Debian's Python (Mininet is a Debian package):

    /usr/bin/python3 integration/mininet/check_switchd_mn.py

Each scenario builds a network on `SwitchdSwitch`, checks it, and stops it
with `net.stop()`; after each one nothing of it may be left: no switchd,
no state directory, no interface of its switches or hosts. An os-ken
learning switch (integration/osken/learning_switch.py) is the remote
controller where one is used; it is started here and stopped by PID.
Exit status 0 when every check passed; each failure is printed.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from mininet.log import setLogLevel  # noqa: E402
from mininet.net import Mininet  # noqa: E402
from mininet.node import RemoteController  # noqa: E402
from mininet.topo import LinearTopo, SingleSwitchTopo  # noqa: E402
from mininet.topolib import TreeTopo  # noqa: E402

from switchd_mn import SwitchdDaemon, SwitchdSwitch, free_port, stop_process  # noqa: E402

APP = os.path.join(os.path.dirname(HERE), "osken", "learning_switch.py")
FAILURES = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)


class OsKen:
    """osken-manager with the learning-switch app, stopped by PID."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="switchd-mn-osken-")
        manager = shutil.which("osken-manager") or "/usr/bin/osken-manager"
        log = open(os.path.join(self.dir, "osken.log"), "w")
        self.proc = subprocess.Popen(
            [manager, "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port",
             str(self.port), APP],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("os-ken did not listen on %d" % self.port)

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def links():
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def leftovers(names):
    """Interfaces of these nodes still in the root namespace."""
    pattern = re.compile(r"^\d+: (%s)(-eth\d+)?[@:]" % "|".join(map(re.escape, names)))
    return [l.split(":")[1].strip() for l in links().splitlines() if pattern.match(l)]


def run(name, net, body):
    """Start `net`, run `body(net)`, stop it, and check nothing is left."""
    nodes = [n.name for n in net.hosts + net.switches]
    all_nodes = list(net.hosts + net.switches)
    daemon = None
    try:
        net.start()
        daemon = SwitchdDaemon.current
        check(daemon is not None and daemon.proc.poll() is None, name + ": one switchd runs")
        body(net)
    except Exception as e:  # a broken scenario must not stop the others
        check(False, "%s: %s: %s" % (name, type(e).__name__, e))
    finally:
        net.stop()
    if daemon is not None:
        check(daemon.proc.poll() is not None, name + ": switchd stopped with the network")
        check(not os.path.exists(daemon.dir), name + ": its state directory is gone")
    left = leftovers(nodes)
    check(not left, name + ": no interfaces left (%s)" % ", ".join(left))
    # Each host's shell held its network namespace; none may survive.
    alive = [n.name for n in all_nodes if n.shell is not None and n.shell.poll() is None]
    check(not alive, name + ": no node process left (%s)" % ", ".join(alive))


def iperf_tcp(client, server, seconds):
    """TCP Mbit/s from `client` to `server` with iperf 2. Not `net.iperf`:
    Mininet 2.3.0 waits there for two '/sec' lines of server output, and
    iperf 2.1 (Debian 12) prints one, so it waits forever on any switch."""
    srv = server.popen(["iperf", "-s", "-p", "5001"])
    try:
        time.sleep(0.5)
        out = client.cmd("timeout %d iperf -c %s -p 5001 -t %d" % (seconds + 10, server.IP(), seconds))
    finally:
        stop_process(srv)
    m = re.search(r"([\d.]+) ([MG])bits/sec", out)
    if not m:
        return 0.0
    return float(m.group(1)) * (1000 if m.group(2) == "G" else 1)


def wait_connected(net, name):
    check(net.waitConnected(timeout=30), name + ": every switch connected to the controller")


def ping_all(net, name):
    loss = net.pingAll(timeout=2)
    if loss:
        # A first ping may be lost to ARP and learning; once more.
        loss = net.pingAll(timeout=2)
    check(loss == 0, "%s: pingAll %s%% loss" % (name, loss))


def tree_with_controller(osken):
    net = Mininet(topo=TreeTopo(depth=2, fanout=2), switch=SwitchdSwitch,
                  controller=None, autoSetMacs=True)
    net.addController("c0", controller=RemoteController, ip="127.0.0.1", port=osken.port)

    def body(net):
        wait_connected(net, "tree")
        dpids = sorted(s.dpid for s in net.switches)
        check(dpids == ["%016x" % i for i in (1, 2, 3)], "tree: Mininet's datapath ids %s" % dpids)
        s1 = net.get("s1")
        ports = s1.daemon.show()["bridges"]
        ofports = {p["name"]: p["ofport"] for b in ports if b["name"] == "s1" for p in b["ports"]}
        check(all(ofports.get(str(i)) == n for i, n in s1.ports.items() if n),
              "tree: ports numbered as Mininet numbers them %s" % ofports)
        ping_all(net, "tree")
        flows = s1.dpctl("dump-flows")
        check("priority=0 actions=CONTROLLER" in flows.replace("  ", " ") or "CONTROLLER" in flows,
              "tree: dpctl dump-flows shows the controller's flows")

    run("tree", net, body)


def linear_with_controller(osken):
    net = Mininet(topo=LinearTopo(k=4, n=1), switch=SwitchdSwitch, controller=None)
    net.addController("c0", controller=RemoteController, ip="127.0.0.1", port=osken.port)

    def body(net):
        wait_connected(net, "linear")
        ping_all(net, "linear")

    run("linear", net, body)


def standalone_without_controller():
    net = Mininet(topo=TreeTopo(depth=2, fanout=2), controller=None,
                  switch=lambda name, **kw: SwitchdSwitch(name, failMode="standalone", **kw))

    def body(net):
        check(all(s.connected() for s in net.switches), "standalone: switches count as ready")
        ping_all(net, "standalone")

    run("standalone", net, body)


def link_added_at_run_time():
    net = Mininet(topo=SingleSwitchTopo(k=2), controller=None,
                  switch=lambda name, **kw: SwitchdSwitch(name, failMode="standalone", **kw))

    def body(net):
        s1, h1 = net.get("s1"), net.get("h1")
        h3 = net.addHost("h3")
        link = net.addLink(h3, s1)
        s1.attach(link.intf2)
        h3.configDefault()
        check(s1.ports[link.intf2] == 3, "run-time link: the new port is port 3")
        ping_all(net, "run-time link")
        mbits = iperf_tcp(h1, h3, seconds=3)
        check(mbits > 50, "run-time link: iperf h1-h3 %.0f Mbit/s" % mbits)
        s1.detach(link.intf2)
        check(h1.cmd("ping -c1 -W1 %s" % h3.IP()).find(" 0% packet loss") < 0,
              "run-time link: detached port carries nothing")

    run("run-time link", net, body)


def main():
    setLogLevel(os.environ.get("MN_LOG", "warning"))
    osken = OsKen()
    try:
        tree_with_controller(osken)
        linear_with_controller(osken)
    finally:
        osken.stop()
    standalone_without_controller()
    link_added_at_run_time()
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all Mininet checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

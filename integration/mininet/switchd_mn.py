"""switchd as a Mininet switch class.

    mn --custom integration/mininet/switchd_mn.py --switch switchd \\
       --controller remote,ip=127.0.0.1,port=6653 --topo tree,depth=2,fanout=2

or, in a script:

    from switchd_mn import SwitchdSwitch
    net = Mininet(topo, switch=SwitchdSwitch, controller=RemoteController)

The one idea: a Mininet network is one switchd process with one bridge per
Mininet switch, driven through `swctl` as Open vSwitch's class drives
`ovs-vsctl`. The daemon is started by the first switch that starts (with a
private state directory and API socket, so it never meets a system
switchd), and stopped, by PID, when the last bridge is gone; it is also
told to exit if the Python process that started it dies (PR_SET_PDEATHSIG),
so a crashed script leaves no switch running. Bridges get Mininet's datapath
ids and fail mode; ports are Mininet's veths (AF_PACKET) with Mininet's port
numbers (`ofport_request`); `dpctl` runs `ovs-ofctl` against a passive
OpenFlow listener each bridge has on 127.0.0.1 (`listenPort`, or a free
port).

Binaries: $SWITCHD_BIN and $SWCTL_BIN, else `switchd`/`swctl` on $PATH,
else this checkout's target/release or target/debug.
"""

import ctypes
import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from mininet.log import debug, error, info
from mininet.node import Switch

# `mn --custom` exec()s this file without a __file__; its code object still
# knows the path it was compiled from.
HERE = os.path.dirname(os.path.abspath(inspect.currentframe().f_code.co_filename))
REPO = os.path.dirname(os.path.dirname(HERE))


def _binary(name, env):
    path = os.environ.get(env) or shutil.which(name)
    if path:
        return path
    for profile in ("release", "debug"):
        candidate = os.path.join(REPO, "target", profile, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "%s not found: set %s, put it on PATH or build it (cargo build)" % (name, env)
    )


def _die_with_parent():
    """In the child, before exec: SIGTERM when the parent process dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_process(proc, grace=10):
    """SIGTERM `proc` (a Popen: by its PID), SIGKILL it after `grace` s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port():
    """A TCP port on 127.0.0.1 that is free now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SwitchdDaemon:
    """One switchd for the switches of this Python process."""

    current = None

    def __init__(self):
        self.switchd = _binary("switchd", "SWITCHD_BIN")
        self.swctl_bin = _binary("swctl", "SWCTL_BIN")
        self.dir = tempfile.mkdtemp(prefix="switchd-mn-")
        self.socket = os.path.join(self.dir, "switchd.sock")
        config = os.path.join(self.dir, "empty.toml")
        with open(config, "w") as f:
            f.write("# Mininet adds the bridges through swctl.\n")
        self.log_path = os.path.join(self.dir, "switchd.log")
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.switchd, "--config", config, "--state-dir",
             os.path.join(self.dir, "state"), "--socket", self.socket, "--log", "warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self.bridges = set()
        deadline = time.time() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("switchd exited at start: " + self.log())
            if os.path.exists(self.socket) and self._try("list-br") is not None:
                break
            if time.time() > deadline:
                self.stop()
                raise RuntimeError("switchd did not answer within 20 s: " + self.log())
            time.sleep(0.1)
        debug("switchd pid %d, state in %s\n" % (self.proc.pid, self.dir))

    @classmethod
    def get(cls):
        if cls.current is None or cls.current.proc.poll() is not None:
            cls.current = SwitchdDaemon()
        return cls.current

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def _try(self, *args):
        r = subprocess.run([self.swctl_bin, "--server", self.socket] + list(args),
                           capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None

    def swctl(self, *args):
        """Run swctl against this daemon; raise with its message on failure."""
        cmd = [self.swctl_bin, "--server", self.socket] + [str(a) for a in args]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(cmd[3:]), (r.stderr or r.stdout).strip()))
        return r.stdout

    def show(self):
        return json.loads(self.swctl("--json", "show"))

    def release(self, bridge):
        """`bridge` is gone; stop the daemon after the last one."""
        self.bridges.discard(bridge)
        if not self.bridges:
            self.stop()

    def stop(self):
        """Stop switchd (by PID) and remove its directory."""
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
        if SwitchdDaemon.current is self:
            SwitchdDaemon.current = None


class SwitchdSwitch(Switch):
    """A Mininet switch that is a bridge of a shared switchd."""

    def __init__(self, name, failMode="secure", protocols=None, batch=False,
                 portType="afpacket", reconnectms=1000, **params):
        """failMode: secure|standalone (what the bridge does with no controller)
           protocols: as for OVSSwitch; must include OpenFlow13 (the
                      version switchd speaks)
           batch: start in batchStartup (Mininet sets it for classes that have one)
           portType: switchd port type for the veths (afpacket or afxdp)"""
        Switch.__init__(self, name, **params)
        if failMode not in ("secure", "standalone"):
            raise ValueError("failMode must be secure or standalone, not %r" % failMode)
        if protocols and "OpenFlow13" not in protocols.split(","):
            raise ValueError("switchd speaks OpenFlow13, not only %s" % protocols)
        self.failMode = failMode
        self.protocols = protocols
        self.batch = batch
        self.portType = portType
        self.daemon = None
        self.pending = None
        if not self.listenPort:
            self.listenPort = free_port()

    @classmethod
    def setup(cls):
        _binary("switchd", "SWITCHD_BIN")
        _binary("swctl", "SWCTL_BIN")

    def _ports(self):
        return [i for i in self.intfList() if self.ports[i] and not i.IP()]

    def start(self, controllers):
        if self.inNamespace:
            raise Exception("SwitchdSwitch runs in the root namespace (inNamespace=False)")
        args = ["add-br", self.name, "--datapath-id", self.dpid, "--fail-mode", self.failMode]
        for c in controllers:
            args += ["--controller", "%s:%s:%d" % (c.protocol, c.IP(), c.port)]
        args += ["--controller", "ptcp:%d:127.0.0.1" % self.listenPort]
        self.pending = args
        if not self.batch:
            self._create()

    def _create(self):
        self.daemon = SwitchdDaemon.get()
        # A bridge of the same name left by an earlier network of this
        # daemon goes first, as OVSSwitch's `--if-exists del-br` does.
        if self.name in self.daemon._try("list-br").split():
            self.daemon.swctl("del-br", self.name)
        self.daemon.swctl(*self.pending)
        self.daemon.bridges.add(self.name)
        for intf in self._ports():
            self.attach(intf)
        self.pending = None

    @classmethod
    def batchStartup(cls, switches, run=None):
        for s in switches:
            if s.pending:
                s._create()
            s.batch = False
        return switches

    def attach(self, intf):
        """Add a data port, numbered as Mininet numbers it."""
        self.daemon.swctl("add-port", self.name, intf, "type=%s" % self.portType,
                          "ofport_request=%d" % self.ports[intf])
        self.cmd("ip", "link", "set", "dev", intf, "up")

    def detach(self, intf):
        self.daemon.swctl("del-port", self.name, intf)

    def dpctl(self, *args):
        """ovs-ofctl against this bridge: `dpctl('dump-flows')`."""
        target = "tcp:127.0.0.1:%d" % self.listenPort
        return self.cmd("ovs-ofctl", "-O", "OpenFlow13", args[0], target, *args[1:])

    def connected(self):
        if self.failMode == "standalone":
            return True
        if not self.daemon:
            return False
        for b in self.daemon.show().get("bridges", []):
            if b.get("name") == self.name:
                return any(c.get("state") == "connected"
                           for c in b.get("controller_status", []))
        return False

    def _delete(self):
        if not self.daemon:
            return
        try:
            self.daemon.swctl("del-br", self.name)
        except RuntimeError as e:
            error("*** %s: %s\n" % (self.name, e))
        self.daemon.release(self.name)
        self.daemon = None

    def stop(self, deleteIntfs=True):
        self._delete()
        super().stop(deleteIntfs)

    @classmethod
    def batchShutdown(cls, switches, run=None):
        for s in switches:
            s._delete()
        return switches


# `mn --custom switchd_mn.py --switch switchd[,failMode=standalone,...]`
switches = {"switchd": SwitchdSwitch}

"""Multi-host test bed on one machine: K "hosts" as Linux network namespaces
(README, Cluster use), used by tests/multihost/*.py and bench_multihost.sh.

    with Cluster(2, work) as c:          # or Cluster(3, work): with a bridge
        rc, out, err, secs = c.mpirun(["--data", c.data("train.h5"), ...])

Each host i = 1..K is a namespace named dnnmh<PID>c<N>h<i> (N counts the
clusters of this process), with loopback, one interface eth0 holding
10.213.0.<i>/24 and its own hostname (the namespace name, set by
mhhost.sh in a UTS namespace).  Two hosts are joined by one veth pair; three
or more by veth pairs into a Linux bridge in a namespace of its own
(dnnmh<PID>c<N>br).  The subnet exists only inside these namespaces, so no
packet can leave them.  Every host sees its own files at the same path
(Cluster.data(name)): a per-host folder bind-mounted in the host's mount
namespace, as nodes of a cluster have their own disks.

Ranks are started through the project's own launch/multinode/run.sh, run on
host 1, with a hostfile of the addresses, mhhost.sh as Open MPI's rsh agent
and the MCA settings of README, Cluster use (TCP only, the test subnet for both the
MPI and the runtime's traffic, ranks that yield when idle).

Everything made is removed on exit: Cluster.close() (also from the context
manager, atexit and SIGINT/SIGTERM handlers) deletes the namespaces, and
sweep() -- called for every new cluster -- deletes namespaces of this prefix
whose owning process is gone (a run killed with SIGKILL).
"""
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
RUN_SH = os.path.join(ROOT, "launch", "multinode", "run.sh")
AGENT = os.path.join(HERE, "mhhost.sh")
RSH_AGENT = os.path.join(HERE, "rsh-agent")
SUBNET = "10.213.0.0/24"
PREFIX = "dnnmh"
NAME_RE = re.compile(r"^%s(\d+)c\d+(h\d+|br)$" % PREFIX)
SKIP = 77  # ctest SKIP_RETURN_CODE: only when not root

_live = []  # clusters to close at exit
_count = [0]


class SetupError(Exception):
    """The test bed could not be made (as root this is a failure, not a skip)."""


def require_root():
    """Exit 77 (a ctest skip) when not root: namespaces need CAP_SYS_ADMIN."""
    if os.geteuid() != 0:
        print("SKIP: the multi-host test bed needs root (network namespaces)", flush=True)
        sys.exit(SKIP)


def sh(*cmd, check=True, timeout=30):
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout)
    if check and p.returncode != 0:
        raise SetupError("%s failed (exit %d): %s" % (" ".join(cmd), p.returncode,
                                                      (p.stderr or p.stdout).strip()))
    return p


def netns_list():
    """Names from `ip netns list` (first word of each line)."""
    out = sh("ip", "netns", "list", check=False).stdout
    return [l.split()[0] for l in out.splitlines() if l.strip()]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep():
    """Delete namespaces of this prefix left by processes that no longer exist."""
    gone = []
    for name in netns_list():
        m = NAME_RE.match(name)
        if m and not pid_alive(int(m.group(1))):
            sh("ip", "netns", "del", name, check=False)
            gone.append(name)
    return gone


def mine(pid=None):
    """Namespaces of this prefix owned by pid (default: this process)."""
    pid = os.getpid() if pid is None else pid
    return [n for n in netns_list() if NAME_RE.match(n) and int(NAME_RE.match(n).group(1)) == pid]


def _close_all(*_):
    for c in list(_live):
        c.close()


def _on_signal(sig, _frame):
    _close_all()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)


atexit.register(_close_all)
for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, _on_signal)


class Cluster:
    def __init__(self, k, work, slots=1, shape=None):
        """k hosts, `slots` ranks each; shape: tc arguments for every host's
        egress (e.g. "netem delay 50us rate 10gbit"), or None."""
        if k < 1 or k > 200:
            raise ValueError("1..200 hosts")
        sweep()
        _count[0] += 1
        self.tag = "%s%dc%d" % (PREFIX, os.getpid(), _count[0])
        self.k, self.slots, self.work = k, slots, work
        self.hosts = ["%sh%d" % (self.tag, i) for i in range(1, k + 1)]
        self.addrs = ["10.213.0.%d" % i for i in range(1, k + 1)]
        self.bridge = self.tag + "br" if k > 2 else None
        self.made = []
        self.root = os.path.join(work, self.tag)
        self.mnt = os.path.join(self.root, "data")  # the same path on every host
        self.map = os.path.join(self.root, "hosts.map")
        self.shape_note = None
        _live.append(self)
        try:
            self._make(shape)
        except BaseException:
            self.close()
            raise

    # ---- making and removing ----
    def _ns(self, name):
        sh("ip", "netns", "add", name)
        self.made.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def _make(self, shape):
        os.makedirs(self.mnt)
        for h in self.hosts:
            os.makedirs(os.path.join(self.root, h))
        for h in self.hosts:
            self._ns(h)
        if self.bridge:
            self._ns(self.bridge)
            sh("ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge")
            sh("ip", "-n", self.bridge, "link", "set", "br0", "up")
            for i, h in enumerate(self.hosts, 1):
                port = "p%d" % i
                sh("ip", "-n", self.bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                   "netns", h)
                sh("ip", "-n", self.bridge, "link", "set", port, "master", "br0")
                sh("ip", "-n", self.bridge, "link", "set", port, "up")
        elif self.k == 2:
            sh("ip", "-n", self.hosts[0], "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
               "netns", self.hosts[1])
        for h, a in zip(self.hosts, self.addrs):
            if self.k > 1:
                sh("ip", "-n", h, "addr", "add", a + "/24", "dev", "eth0")
                sh("ip", "-n", h, "link", "set", "eth0", "up")
            else:  # one host: the address on one end of a veth pair (no dummy driver here)
                sh("ip", "-n", h, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
                sh("ip", "-n", h, "addr", "add", a + "/24", "dev", "eth0")
                sh("ip", "-n", h, "link", "set", "eth1", "up")
                sh("ip", "-n", h, "link", "set", "eth0", "up")
        if shape and self.k > 1:
            self.shape_note = self._shape(shape)
        with open(self.map, "w") as f:
            for h, a in zip(self.hosts, self.addrs):
                f.write("%s %s %s %s %s\n" % (a, h, h, os.path.join(self.root, h), self.mnt))
        self.hostfile = self.write_hostfile("hostfile", self.addrs)

    def _shape(self, spec):
        """tc qdisc on every host's eth0; returns None or the error text."""
        for h in self.hosts:
            p = sh("ip", "netns", "exec", h, "tc", "qdisc", "add", "dev", "eth0", "root", *spec.split(),
                   check=False)
            if p.returncode != 0:
                return "tc qdisc add dev eth0 root %s: %s (exit %d)" % (spec, p.stderr.strip(), p.returncode)
        return None

    def close(self):
        for name in reversed(self.made):
            sh("ip", "netns", "del", name, check=False)
        self.made = []
        if self in _live:
            _live.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- files ----
    def write_hostfile(self, name, addrs, slots=None):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            for a in addrs:
                f.write("%s slots=%d\n" % (a, self.slots if slots is None else slots))
        return path

    def data(self, name):
        """The path every host uses for its own copy of `name`."""
        return os.path.join(self.mnt, name)

    def put(self, src, name, hosts=None):
        """Give hosts (default all; 1-based numbers) their own copy of src as `name`."""
        for i in hosts or range(1, self.k + 1):
            dst = os.path.join(self.root, self.hosts[i - 1], name)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)

    def set_link(self, i, state):
        sh("ip", "-n", self.hosts[i - 1], "link", "set", "eth0", state)

    def netns_inode(self, i):
        return os.stat("/run/netns/" + self.hosts[i - 1]).st_ino

    # ---- running ----
    def env(self, extra_mpirun=()):
        env = dict(os.environ)
        env.update({
            "DNN_MH_MAP": self.map,
            "DNN_NET": SUBNET,
            "DNN_BIND": "none",  # the "hosts" share this machine's cores
            "DNN_THREADS": env.get("DNN_THREADS", "1"),
            "DNN_MPIRUN_ARGS": " ".join([
                "--mca", "plm_rsh_agent", RSH_AGENT,
                "--mca", "btl", "tcp,self",
                "--mca", "mpi_yield_when_idle", "1",
            ] + list(extra_mpirun)),
        })
        return env

    def launch(self, args, hostfile=None, np=None, extra_mpirun=(), bin_dir=None, **popen):
        """Start launch/multinode/run.sh HOSTFILE ARGS on host 1; returns the Popen."""
        env = self.env(extra_mpirun)
        if bin_dir:
            env["DNN_BIN"] = bin_dir
        if np is not None:
            env["DNN_NP"] = str(np)
        cmd = [AGENT, "enter", self.addrs[0], RUN_SH, hostfile or self.hostfile] + [str(a) for a in args]
        return subprocess.Popen(cmd, env=env, universal_newlines=True, **popen)

    def mpirun(self, args, timeout=120, **kw):
        """run.sh to the end under a timeout: (rc, stdout, stderr, seconds).
        rc 124 = the time ran out (the whole process group is killed)."""
        t0 = time.monotonic()
        p = self.launch(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kw)
        try:
            out, err = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            kill_group(p)
            out, err = p.communicate()
            rc = 124
        return rc, out, err, time.monotonic() - t0


def kill_group(p, sig=signal.SIGKILL):
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass


def main(argv):
    """mh.py run K [--slots S] [--shape "TC ARGS"] -- CMD...: CMD runs with a
    K-host cluster up (and removed afterwards), with DNN_MH_HOSTFILE,
    DNN_MH_MAP, DNN_MH_ENTER (mhhost.sh enter ADDRESS_OF_HOST_1) and run.sh's
    settings (DNN_NET, DNN_BIND, DNN_MPIRUN_ARGS) in its environment, so that
    `$DNN_MH_ENTER launch/multinode/run.sh $DNN_MH_HOSTFILE ...` trains on it."""
    import argparse
    import tempfile
    p = argparse.ArgumentParser(prog="mh.py", description=main.__doc__)
    p.add_argument("verb", choices=["run"])
    p.add_argument("k", type=int)
    p.add_argument("--slots", type=int, default=1)
    p.add_argument("--shape", help='tc qdisc for every host, e.g. "netem delay 50us rate 10gbit"')
    if "--" not in argv:
        p.error("no command after --")
    cut = argv.index("--")
    a, cmd = p.parse_args(argv[:cut]), argv[cut + 1:]
    if not cmd:
        p.error("no command after --")
    require_root()
    work = tempfile.mkdtemp(prefix="dnn-mh-")
    try:
        with Cluster(a.k, work, slots=a.slots, shape=a.shape) as c:
            if a.shape:
                print("mh.py: shaping %s: %s" % (a.shape, c.shape_note or "applied"), file=sys.stderr)
            env = c.env()
            env.update(DNN_MH_HOSTFILE=c.hostfile, DNN_MH_ENTER="%s enter %s" % (AGENT, c.addrs[0]),
                       DNN_MH_DATA=c.mnt, DNN_MH_SHAPED="0" if (not a.shape or c.shape_note) else "1")
            for i in range(1, c.k + 1):  # the command's files are visible on every host
                env["DNN_MH_HOST%d" % i] = os.path.join(c.root, c.hosts[i - 1])
            return subprocess.call(cmd, env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""Multi-host tests: ranks on 2 or 3 "hosts" (network namespaces, mh.py)
started through launch/multinode/run.sh over TCP (README, Data-parallel training and determinism; Cluster use).

    multihost.py --train BUILD/dnn-train --case NAME [--keep]

Cases (one ctest each, label multihost):
  consistency    2 hosts (veth) and 3 hosts (bridge), one rank each: the final
                 W/b equal a single process's bitwise with --deterministic
                 (full batch and --batch-size 64; --comm-overlap thread, test
                 and off), within 1e-6 (max |diff| / max |W|) without it;
                 --comm-precision bf16 within 2e-2 but not within 1e-6 (it
                 is used), and refused with --deterministic; every rank ran
                 on its own host (a wrapper records each rank's hostname and
                 network namespace)
  kill_resume    SIGKILL of rank 1 -- the dnn-train process in host 2's
                 namespace -- mid-run: the whole job ends within 30 s, non-zero,
                 and mpirun's message names the killed rank's node; --resume
                 from the checkpoint on another host count (3 -> 2, 2 -> 3)
                 ends bitwise equal to an uninterrupted single-process run
                 (--deterministic)
  unreachable    a host that cannot be reached at start ends the job within
                 30 s with a message naming it: an address of the subnet with
                 no host behind it, a host whose link is down, and a host whose
                 bridge port is down (3 hosts)
  missing_data   the data path exists on hosts 1 and 3 but not on host 2 (each
                 host has its own files at the same path): exit 1 within 30 s,
                 stderr names rank 1, host 2 and the path
  cleanup        a harness run that fails, one stopped by SIGTERM and one by
                 SIGINT leave no namespace behind; after a SIGKILL the next
                 run's sweep removes the orphans
Exit: 0 all passed, 1 a case failed, 77 not root (the only skip: as root a
test bed that cannot be made is a failure).
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mpi"))
import mh  # noqa: E402
from dnnt import make_binary, params_sha, ckpt_params, rel_diff, final_line, tail  # noqa: E402

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--train", required=True)
p.add_argument("--case", required=True)
p.add_argument("--keep", action="store_true")
A = p.parse_args()
mh.require_root()
TRAIN = os.path.abspath(A.train)
WORK = tempfile.mkdtemp(prefix="dnn-mh-")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1")
results = {"pass": 0, "fail": []}


class Fail(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise Fail(msg)


def case(name, fn, *a):
    t0 = time.monotonic()
    try:
        fn(*a)
    except (Fail, mh.SetupError) as e:
        results["fail"].append(name)
        print("FAIL %s (%.1f s): %s" % (name, time.monotonic() - t0, e), flush=True)
        return
    except Exception as e:  # a bug of the test: still a failure
        results["fail"].append(name)
        print("FAIL %s (%.1f s): %s: %s" % (name, time.monotonic() - t0, type(e).__name__, e), flush=True)
        return
    results["pass"] += 1
    print("PASS %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)


def path(name):
    return os.path.join(WORK, name)


def bin_wrapper():
    """A folder whose dnn-train records 'rank hostname netns' per rank, then
    runs the real one (run.sh takes DNN_BIN)."""
    d = path("bin")
    if not os.path.isdir(d):
        os.makedirs(d)
        w = os.path.join(d, "dnn-train")
        with open(w, "w") as f:
            f.write('#!/bin/sh\necho "${OMPI_COMM_WORLD_RANK:-?} $(hostname) $(readlink /proc/self/ns/net)" '
                    '>> "$DNN_MH_PLACEMENT"\nexec %s "$@"\n' % TRAIN)
        os.chmod(w, 0o755)
    return d


def single(args, timeout=120):
    """The reference: one plain process on this machine."""
    p = subprocess.run(["timeout", "-k", "5", str(timeout), TRAIN] + [str(a) for a in args], env=ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    require(p.returncode == 0, "single-process run exited %d: %s" % (p.returncode, tail(p.stderr)))
    return p.stdout


def placement_check(c, log, np):
    with open(log) as f:
        rows = [l.split() for l in f if l.strip()]
    require(len(rows) == np, "placement log has %d rows, expected %d ranks" % (len(rows), np))
    for rank, host, ns in rows:
        i = int(rank) // c.slots  # by slot: ranks 0..slots-1 on host 1
        want = "net:[%d]" % c.netns_inode(i + 1)
        require(host == c.hosts[i] and ns == want,
                "rank %s ran on %s (%s), expected host %s (%s)" % (rank, host, ns, c.hosts[i], want))


def cluster_run(c, args, timeout=120, **kw):
    """run.sh on the cluster; must succeed; every rank on its expected host."""
    log = path("placement-%s.log" % c.tag)
    if os.path.exists(log):
        os.remove(log)
    os.environ["DNN_MH_PLACEMENT"] = log
    rc, out, err, secs = c.mpirun(args, timeout=timeout, bin_dir=bin_wrapper(), **kw)
    require(rc == 0, "run.sh on %d hosts exited %d after %.1f s: %s" % (c.k, rc, secs, tail(err)))
    placement_check(c, log, kw.get("np") or c.k * c.slots)
    return out, secs


# ---------------------------------------------------------------- consistency
CONFIGS = [  # name, options, bitwise
    ("det_full", ["--deterministic"], True),
    ("det_mini", ["--deterministic", "--batch-size", "64"], True),
    ("default_full", [], False),
    ("default_mini", ["--batch-size", "64"], False),
    # the reduction's progress modes (the default is --comm-overlap thread)
    ("det_mini_test", ["--deterministic", "--batch-size", "64", "--comm-overlap", "test"], True),
    ("det_mini_off", ["--deterministic", "--batch-size", "64", "--comm-overlap", "off"], True),
    ("default_mini_off", ["--batch-size", "64", "--comm-overlap", "off"], False),
    # bfloat16 on the wire: the trajectory differs a little from float32's
    ("bf16_mini", ["--batch-size", "64", "--comm-precision", "bf16"], "bf16"),
]


def consistency():
    data = path("cons.h5")
    make_binary(data, 1000, 20, seed=11, dtype="float32")
    base = ["--layers", "16,8", "--lr", "0.1", "--iterations", "60", "--seed", "5", "--quiet"]
    ref = {}
    for name, opts, _ in CONFIGS:
        ck = path("ref_%s.h5" % name)
        single(["--data", data] + base + opts + ["--checkpoint", ck])
        ref[name] = ck
    errors = []
    for k in (2, 3):
        with mh.Cluster(k, WORK) as c:
            c.put(data, "cons.h5")
            for name, opts, bitwise in CONFIGS:
                ck = path("k%d_%s.h5" % (k, name))
                cluster_run(c, ["--data", c.data("cons.h5")] + base + opts + ["--checkpoint", ck])
                a, b = params_sha(ck), params_sha(ref[name])
                d = rel_diff(ckpt_params(ck), ckpt_params(ref[name]))
                print("  %d hosts %-13s sha %s (single %s) max rel diff %.3g" % (k, name, a[:12], b[:12], d))
                if bitwise == "bf16":  # gradients rounded to 8 significant bits: near, not equal
                    if not 1e-6 < d <= 2e-2:
                        errors.append("%d hosts %s: rel diff %.3g not in (1e-6, 2e-2]" % (k, name, d))
                elif bitwise and a != b:
                    errors.append("%d hosts %s: W/b differ from the single process (rel diff %.3g)" % (k, name, d))
                elif not bitwise and not d <= 1e-6:
                    errors.append("%d hosts %s: rel diff %.3g > 1e-6" % (k, name, d))
        require(not mh.mine(), "namespaces left after the %d-host cluster: %s" % (k, mh.mine()))
    # bf16 on the wire is refused where the sums are exact
    p = subprocess.run([TRAIN, "--data", data] + base + ["--deterministic", "--comm-precision", "bf16"], env=ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    if p.returncode != 1 or "--comm-precision bf16" not in p.stderr:
        errors.append("--comm-precision bf16 --deterministic: exit %d, %s" % (p.returncode, tail(p.stderr)))
    require(not errors, "; ".join(errors))


# ---------------------------------------------------------------- kill and resume
KILL_ITER = 3000


def kill_args(data, ck):
    return ["--data", data, "--layers", "64,32", "--batch-size", "100", "--lr", "0.05",
            "--iterations", str(KILL_ITER), "--deterministic", "--print-every", "250", "--quiet",
            "--checkpoint", ck]


def find_rank(c, host, rank, marker):
    """pid of the dnn-train of `rank` running in host's network namespace."""
    want = "net:[%d]" % c.netns_inode(host)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % pid) as f:
                if f.read().strip() != "dnn-train":
                    continue
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() not in f.read():
                    continue
            if os.readlink("/proc/%s/ns/net" % pid) != want:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
            if ("OMPI_COMM_WORLD_RANK=%d" % rank).encode() in env:
                return int(pid)
        except OSError:
            continue
    return None


def kill_resume(k_first, k_resume, ref_ck, data):
    ck = path("kill_%d_%d.h5" % (k_first, k_resume))
    with mh.Cluster(k_first, WORK) as c:
        c.put(data, "kill.h5")
        args = kill_args(c.data("kill.h5"), ck) + ["--checkpoint-every", "200"]
        job = c.launch(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        t0 = time.monotonic()
        victim = None
        while job.poll() is None and time.monotonic() - t0 < 60:
            if os.path.exists(ck):
                victim = find_rank(c, 2, 1, c.data("kill.h5"))
                if victim:
                    break
            time.sleep(0.05)
        if victim is None:
            mh.kill_group(job)
            out, err = job.communicate()
            raise Fail("rank 1 on host 2 not found while the job ran (exit %s): %s" % (job.returncode, tail(err)))
        tk = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        try:
            out, err = job.communicate(timeout=30)
            rc = job.returncode
        except subprocess.TimeoutExpired:
            mh.kill_group(job)
            out, err = job.communicate()
            rc = None
        secs = time.monotonic() - tk
        print("  %d hosts: killed rank 1 (pid %d, host %s) %.1f s after the start; the job ended %.1f s later, "
              "exit %s" % (k_first, victim, c.hosts[1], tk - t0, secs, rc))
        msg = [l for l in err.splitlines() if "signal 9" in l or "Killed" in l]
        print("  message: %s" % (msg[0].strip() if msg else tail(err)))
        require(rc is not None, "the job still ran 30 s after rank 1 was killed")
        require(rc != 0, "the job exited 0 after a rank was killed")
        require(msg and ("10.213.0.2" in msg[0] or c.hosts[1] in msg[0]) and "rank 1" in msg[0],
                "no message naming rank 1 and its node (%s): %s" % (c.hosts[1], tail(err)))
        left = [pid for i in range(1, c.k + 1) for r in range(c.k)
                if (pid := find_rank(c, i, r, c.data("kill.h5")))]
        require(not left, "dnn-train still running after the job ended (pid %s)" % left)
    with mh.Cluster(k_resume, WORK) as c:
        c.put(data, "kill.h5")
        out, secs = cluster_run(c, kill_args(c.data("kill.h5"), ck) + ["--resume"])
        print("  resumed on %d hosts: %.1f s; %s" % (k_resume, secs, [l for l in out.splitlines()
                                                                    if l.startswith("final")]))
    a, b = params_sha(ck), params_sha(ref_ck)
    require(a == b, "resumed on %d hosts: W/b sha %s != uninterrupted %s (rel diff %.3g)" % (
        k_resume, a[:12], b[:12], rel_diff(ckpt_params(ck), ckpt_params(ref_ck))))


def kill_cases():
    data = path("kill.h5")
    make_binary(data, 2000, 50, seed=3, dtype="float32")
    ref = path("kill_ref.h5")
    t0 = time.monotonic()
    single(kill_args(data, ref))
    print("  uninterrupted single process: %.1f s" % (time.monotonic() - t0))
    case("kill_3hosts_resume_2hosts", kill_resume, 3, 2, ref, data)
    case("kill_2hosts_resume_3hosts", kill_resume, 2, 3, ref, data)


# ---------------------------------------------------------------- unreachable hosts
def expect_start_failure(c, hostfile, must, limit=30):
    data_args = ["--data", c.data("u.h5"), "--layers", "8", "--iterations", "20", "--quiet"]
    rc, out, err, secs = c.mpirun(data_args, hostfile=hostfile, timeout=limit + 30)
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith(("run.sh:", "---", "*", "  "))]
    print("  exit %d after %.1f s: %s" % (rc, secs, " | ".join(lines[:4])))
    require(rc != 124, "still waiting after %d s (hang)" % (limit + 30))
    require(rc != 0, "the job exited 0")
    require(secs <= limit, "the error took %.1f s (> %d s)" % (secs, limit))
    for m in must:
        require(re.search(m, err), "stderr does not match /%s/: %s" % (m, tail(err)))


def unreachable_cases():
    data = path("u.h5")
    make_binary(data, 300, 8, seed=1, dtype="float32")

    def no_host():
        with mh.Cluster(2, WORK) as c:
            c.put(data, "u.h5")
            hf = c.write_hostfile("hf_nohost", c.addrs + ["10.213.0.77"])
            expect_start_failure(c, hf, [r"10\.213\.0\.77", r"unable to reliably start"])

    def link_down():
        with mh.Cluster(2, WORK) as c:
            c.put(data, "u.h5")
            c.set_link(2, "down")
            expect_start_failure(c, c.hostfile, [re.escape(c.hosts[1]), r"unable to reliably start"])

    def port_down():
        with mh.Cluster(3, WORK) as c:
            c.put(data, "u.h5")
            mh.sh("ip", "-n", c.bridge, "link", "set", "p3", "down")
            expect_start_failure(c, c.hostfile, [r"unable to reliably start|10\.213\.0\.3|%s" % c.hosts[2]])

    case("unreachable_address_without_host", no_host)
    case("unreachable_link_down", link_down)
    case("unreachable_bridge_port_down", port_down)


# ---------------------------------------------------------------- missing data on one host
def missing_data():
    data = path("md.h5")
    make_binary(data, 900, 10, seed=2, dtype="float32")
    with mh.Cluster(3, WORK) as c:
        c.put(data, "md.h5", hosts=[1, 3])
        rc, out, err, secs = c.mpirun(["--data", c.data("md.h5"), "--layers", "8", "--iterations", "20",
                                       "--quiet"], timeout=60)
        lines = [l for l in err.splitlines() if l.startswith("dnn-train")]
        print("  exit %d after %.1f s: %s" % (rc, secs, " | ".join(lines)))
        require(rc != 124, "hang: still running after 60 s")
        require(rc == 1, "exit %d, expected 1" % rc)
        require(secs <= 30, "took %.1f s" % secs)
        require(len(lines) == 1, "expected one dnn-train message line, got %d: %s" % (len(lines), tail(err)))
        for m in ("rank 1", c.hosts[1], c.data("md.h5")):
            require(m in lines[0], "the message does not name %r: %s" % (m, lines[0]))
        for h in (c.hosts[0], c.hosts[2]):
            require(h not in lines[0], "the message names host %s, which has the file: %s" % (h, lines[0]))


# ---------------------------------------------------------------- cleanup
def selftest(kind):
    """Child modes of the cleanup case: make a cluster, then fail or wait."""
    c = mh.Cluster(3, WORK)
    print("READY %s %s" % (WORK, " ".join(c.hosts + [c.bridge])), flush=True)
    if kind == "fail":  # a real harness run that fails: a bad option is expected to train
        case("selftest_fail", cluster_run, c, ["--no-such-option"])
        return
    time.sleep(120)


def cleanup_cases():
    def child(kind, sig):
        p = subprocess.Popen([sys.executable, __file__, "--train", TRAIN, "--case", "selftest_" + kind],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        line = p.stdout.readline()
        require(line.startswith("READY "), "child did not make its cluster: %s" % line)
        cwork, names = line.split()[1], line.split()[2:]
        present = set(mh.netns_list())
        require(all(n in present for n in names), "the child's namespaces %s are not listed" % names)
        if sig:
            os.kill(p.pid, sig)
        rest = p.communicate(timeout=60)[0]
        shutil.rmtree(cwork, ignore_errors=True)  # its work folder (left by SIGKILL)
        left = [n for n in mh.netns_list() if n in names]
        print("  child %-5s %-8s exit %d, namespaces %s left: %s" % (
            kind, signal.Signals(sig).name if sig else "", p.returncode, len(left), left))
        return p, names, left, rest

    def failing():
        p, names, left, rest = child("fail", None)
        require(p.returncode == 1 and "FAIL" in rest, "the deliberately failing run exited %d: %s" % (
            p.returncode, tail(rest)))
        require(not left, "a failing run left %s" % left)

    def by_signal(sig):
        p, names, left, _ = child("wait", sig)
        require(p.returncode == -sig, "the child exited %d, expected death by signal %d" % (p.returncode, sig))
        require(not left, "a run stopped by %s left %s" % (signal.Signals(sig).name, left))

    def sigkill_then_sweep():
        p, names, left, _ = child("wait", signal.SIGKILL)
        gone = mh.sweep()  # first, so that nothing stays even when the next check fails
        require(sorted(left) == sorted(names),
                "after SIGKILL the namespaces were expected to stay until a sweep: %s" % left)
        left = [n for n in mh.netns_list() if n in names]
        require(not left and set(names) <= set(gone), "the sweep left %s" % left)

    case("cleanup_failing_run", failing)
    case("cleanup_sigterm", by_signal, signal.SIGTERM)
    case("cleanup_sigint", by_signal, signal.SIGINT)
    case("cleanup_sigkill_sweep", sigkill_then_sweep)


try:
    if A.case.startswith("selftest_"):
        selftest(A.case[len("selftest_"):])
    elif A.case == "consistency":
        case("consistency", consistency)
    elif A.case == "kill_resume":
        kill_cases()
    elif A.case == "unreachable":
        unreachable_cases()
    elif A.case == "missing_data":
        case("missing_data", missing_data)
    elif A.case == "cleanup":
        cleanup_cases()
    else:
        print("unknown --case %s" % A.case)
        sys.exit(2)
    mh._close_all()
    left = mh.mine()
    if left:
        results["fail"].append("no_leak")
        print("FAIL no_leak: namespaces left: %s" % left)
finally:
    if A.keep:
        print("work folder kept: " + WORK)
    else:
        shutil.rmtree(WORK, ignore_errors=True)
print("%d passed, %d failed%s" % (results["pass"], len(results["fail"]),
                                  (": " + ", ".join(results["fail"])) if results["fail"] else ""))
sys.exit(1 if results["fail"] else 0)

#!/usr/bin/python3
"""Seeded random mutation run: one-line mutants drawn from every file in src/.

  sample.py [--seed S] [--per-file N] [--total T] [--only-file PATTERN]...
            [--list] [--report FILE] [--keep] [--no-baseline] [--timeout SECS]
            [--skip-test NAME]... [--part K/N] [--reverse] [--sanitize]
            [--jsonl FILE] [--pick N,N,...] [--sample-tree DIR]
  sample.py [--seed S] --merge JSONL...

Every C file in src/ (.c and .h) is scanned for mutation sites outside
comments and string literals, of five kinds:
  rel     a relational operator swapped (< <=, > >=, == !=, both ways)
  arith   an arithmetic operator swapped (+ -, * /, += -=, *= /=)
  const   an integer constant off by one (+1 or -1, seeded)
  drop    a one-line statement (an assignment or a call) dropped, or a
          call's result dropped (x = f(...);  ->  (void)(f(...));)
  logic   && and || swapped
random.Random(S) shuffles each file's sites; the first N of every file are
taken (all of them when a file has fewer), then more are drawn from the rest
until T in all.  A mutant that does not build as CI builds (-Werror: an error
or a warning) is "invalid" and is replaced by the next site of the same file
(invalid ones are not counted).

The project is copied (git's tracked and unignored files) into a temporary
folder with its own build folder -- the real tree is never touched -- and
built once.  --no-baseline skips running the selected tests on the unmutated
copy first (they must pass there).  For each mutant: apply it, rebuild
everything, run the tests that cover its file (tests/mutation/coverage.txt,
in order, stopping at the first failure; the whole suite for a file it does
not list), restore the file.  With --sanitize a survivor is also rebuilt in
a DNN_SANITIZE=ON copy and run against the tests of its selection that CI's
third stage runs under ASan+UBSan (SANITIZED below).  Results:
  killed      a test failed or timed out ("sanitizer:TEST" under --sanitize)
  survived    every test passed
  equivalent  it survived and tests/mutation/equivalent.txt gives the reason
              it cannot be caught (FILE @@ LINE @@ MUTATED LINE @@ REASON)
  moved       (--sample-tree) its original line is no longer in the file
The report (stdout and --report FILE) lists every mutant, then the counts,
the kill rate among the non-equivalent ones, the time and every survivor;
--jsonl FILE appends each result as it comes, and --merge makes the report
of such files (a later result of the same mutant wins: re-checks with --pick
replace first results).  --list prints the sample (with the numbers --pick
takes) without building anything.  --part K/N takes only every N-th file
from the K-th (0-based): N such runs side by side (each has its own copy and
build) cover the whole sample.  Exit 0 when no mutant survived (equivalents
aside), 1 otherwise, 2 when the run could not start.  Not part of ctest or
CI: a sample of 184 takes about 25 minutes on 2 idle cores as two halves
(see tests/mutation/README.md).
"""
import argparse
import fnmatch
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OPS = ["<<=", ">>=", "...", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "*=",
       "/=", "%=", "&=", "|=", "^="]
REL = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
ARITH = {"+": "-", "-": "+", "*": "/", "/": "*", "+=": "-=", "-=": "+=", "*=": "/=", "/=": "*="}
LOGIC = {"&&": "||", "||": "&&"}
KEYWORDS = {"return", "if", "else", "for", "while", "do", "switch", "case", "default", "break", "continue", "goto",
            "sizeof", "typedef", "struct", "union", "enum", "static", "const", "extern", "inline", "volatile",
            "register", "_Noreturn", "_Static_assert"}
NUM = re.compile(r"(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)$")


def tokens(line, in_comment):
    """Code tokens of one line as (start, end, text); comments and string or
    character literals are left out.  Returns (tokens, in_comment after)."""
    out, i, n = [], 0, len(line)
    while i < n:
        if in_comment:
            j = line.find("*/", i)
            if j < 0:
                return out, True
            i, in_comment = j + 2, False
            continue
        c = line[i]
        if line.startswith("/*", i):
            in_comment, i = True, i + 2
        elif line.startswith("//", i):
            break
        elif c in "\"'":
            j = i + 1
            while j < n and line[j] != c:
                j += 2 if line[j] == "\\" else 1
            out.append((i, min(j + 1, n), "<str>"))
            i = j + 1
        elif c.isspace():
            i += 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (line[j].isalnum() or line[j] == "_"):
                j += 1
            out.append((i, j, line[i:j]))
            i = j
        elif c.isdigit() or (c == "." and i + 1 < n and line[i + 1].isdigit()):
            j = i
            while j < n and (line[j].isalnum() or line[j] in "._" or (line[j] in "+-" and line[j - 1] in "eEpP"
                                                                      and not line[i:j].startswith(("0x", "0X")))):
                j += 1
            out.append((i, j, line[i:j]))
            i = j
        else:
            op = next((o for o in OPS if line.startswith(o, i)), c)
            out.append((i, i + len(op), op))
            i += len(op)
    return out, in_comment


def operand_end(t):
    """A token that can end an operand (so a following + - * / is binary)."""
    return t[2][0].isalnum() or t[2][0] in "_)]" or t[2] == "<str>"


def is_decl(toks):
    """A declaration: `type name ...`, `type *name ...` or a leading keyword like static/const."""
    if not toks:
        return True
    w = [t[2] for t in toks]
    if w[0] in KEYWORDS and w[0] not in ("sizeof",):
        return True
    if len(w) > 1 and re.match(r"[A-Za-z_]", w[0]) and (re.match(r"[A-Za-z_]", w[1]) or
                                                         (w[1] == "*" and len(w) > 2 and re.match(r"[A-Za-z_]", w[2]))):
        return True
    return False


def sites_of_line(path, no, line, toks):
    """Every mutant of one line: dicts with kind, col, old, new, text (the mutated line)."""
    out = []
    stripped = line.strip()
    pre = stripped.startswith("#")
    define = pre and re.match(r"#\s*define\s", stripped) is not None

    def add(kind, a, b, new):
        out.append(dict(file=path, line=no, kind=kind, col=a, old=line[a:b], new=new,
                        text=line[:a] + new + line[b:]))
    for k, (a, b, t) in enumerate(toks):
        prev = toks[k - 1] if k else None
        if t in REL and not pre:
            add("rel", a, b, REL[t])
        elif t in LOGIC and (not pre or define):
            add("logic", a, b, LOGIC[t])
        elif t in ARITH and not pre:
            if len(t) == 2 or (prev is not None and operand_end(prev) and prev[2] not in KEYWORDS and k + 1 < len(toks)):
                if t == "*" and k + 1 < len(toks) and toks[k + 1][2] in (")", ",", "*"):
                    continue  # a pointer type in a cast or a parameter list
                if t == "*" and re.match(r"[A-Za-z_]", prev[2]) and (k < 2 or toks[k - 2][2] in (
                        "(", ",", "{", ";", "const", "struct", "static", "unsigned") or
                        re.match(r"[A-Za-z_]", toks[k - 2][2])):
                    continue  # `type *name`: a declaration
                add("arith", a, b, ARITH[t])
        m = NUM.match(t) if (not pre or define) else None
        if m and re.match(r"0\d", t):
            m = None  # octal (file modes): left alone
        if m and t[0].isdigit() and not (prev and prev[2] in ("[",) and k + 1 < len(toks) and
                                         toks[k + 1][2] == "]" and is_decl(toks)):
            v = int(m.group(1), 0)
            for d in (1, -1):
                if v + d >= 0:
                    s = (hex(v + d) if m.group(1).lower().startswith("0x") else str(v + d)) + m.group(2)
                    add("const%+d" % d, a, b, s)
    if not pre and stripped.endswith(";") and toks and not is_decl(toks) and toks[-1][2] == ";":
        depth = 0
        for t in toks:
            depth += t[2] in "([{" and len(t[2]) == 1
            depth -= t[2] in ")]}" and len(t[2]) == 1
            if depth < 0:
                break
        w = [t[2] for t in toks]
        if depth == 0 and w[0] not in KEYWORDS and "?" not in w[:1]:
            ind = line[:len(line) - len(line.lstrip())]
            a0, b0 = toks[0][0], toks[-1][1]
            out.append(dict(file=path, line=no, kind="drop", col=a0, old=line[a0:b0], new=";",
                            text=ind + ";" + line[b0:]))
            assign = [i for i, t in enumerate(w) if t == "="]
            if assign and len(w) > assign[0] + 2 and re.match(r"[A-Za-z_]\w*$", w[assign[0] + 1]) and \
                    w[assign[0] + 2] == "(" and w[-2] == ")":
                ca, cb = toks[assign[0] + 1][0], toks[-1][0]
                out.append(dict(file=path, line=no, kind="drop-result", col=a0, old=line[a0:b0],
                                new="(void)(" + line[ca:cb] + ");",
                                text=ind + "(void)(" + line[ca:cb] + ");" + line[b0:]))
    # drop the duplicates a line can give (e.g. const-1 of 1 and +1 of 0 differ; keep distinct texts)
    seen, uniq = set(), []
    for s in out:
        if s["text"] not in seen and s["text"] != line:
            seen.add(s["text"])
            uniq.append(s)
    return uniq


def sites(tree, rel):
    with open(os.path.join(tree, rel)) as f:
        lines = f.read().split("\n")
    out, in_comment = [], False
    for no, line in enumerate(lines, 1):
        toks, in_comment_after = tokens(line, in_comment)
        if toks and not line.lstrip().startswith(("#include", "#pragma", "#if", "#endif", "#else", "#undef")):
            out += sites_of_line(rel, no, line, toks)
        in_comment = in_comment_after
    return out


def src_files(tree, only):
    files = sorted("src/" + f for f in os.listdir(os.path.join(tree, "src")) if f.endswith((".c", ".h")))
    return [f for f in files if not only or any(fnmatch.fnmatch(f, p) for p in only)]


def read_sep(path, nfields):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            if line.strip() and not line.lstrip().startswith("#"):
                parts = [x.strip() for x in line.rstrip("\n").split(" @@ ")]
                if len(parts) == nfields:
                    rows.append(parts)
                else:
                    sys.exit("sample.py: %s: expected %d fields: %r" % (path, nfields, line))
    return rows


def draw(tree, seed, per_file, total, only):
    rng = random.Random(seed)
    files = src_files(tree, only)
    queues, chosen = {}, []
    for f in files:
        s = sites(tree, f)
        rng.shuffle(s)
        queues[f] = s
        chosen += s[:per_file]
        queues[f] = s[per_file:]
    rest = [s for f in files for s in queues[f]]
    rng.shuffle(rest)
    extra = rest[:max(0, total - len(chosen))]
    for s in extra:
        queues[s["file"]].remove(s)
    return files, chosen + extra, queues


# the tests .ci/run's third stage runs under AddressSanitizer + UBSan (its -R pattern)
SANITIZED = re.compile(r"^(unit_|mpi_|e2e_numpy|ckpt_resume|reliability_bad_input_np1|audit_sample$|sweep_grid_local$|"
                       r"bn_train_checks$|ref_bn_numpy$|course3_report$|course3_transfer$)")


def sh(cmd, cwd=None, timeout=None, log=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                           universal_newlines=True)
        rc, out = p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        rc, out = 124, (e.output or b"").decode("utf-8", "replace") if isinstance(e.output, bytes) else (e.output or "")
    if log:
        with open(log, "a") as f:
            f.write("$ %s\n%s\n" % (" ".join(cmd), out))
    return rc, out, time.monotonic() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--per-file", type=int, default=4)
    p.add_argument("--total", type=int, default=0, help="at least this many in all (default: per-file x files)")
    p.add_argument("--only-file", action="append", default=[], help="shell pattern of src/ files to sample")
    p.add_argument("--list", action="store_true")
    p.add_argument("--report")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--timeout", type=int, default=300, help="per test (seconds)")
    p.add_argument("--reverse", action="store_true", help="the sample from its end (a second run of the same part)")
    p.add_argument("--part", default="0/1", help="K/N: only the files i with i %% N == K (N runs in parallel)")
    p.add_argument("--skip-test", action="append", default=[],
                   help="leave this test out of every selection (one that fails on the unmutated tree)")
    p.add_argument("--sample-tree", default=ROOT,
                   help="draw the sample from this tree's src/ (a checkout of the commit a sample was drawn on, to "
                        "re-check its mutants after src/ moved on: each is applied where its original line is now)")
    p.add_argument("--sanitize", action="store_true",
                   help="a survivor is built again with DNN_SANITIZE=ON and the tests of its selection that CI's "
                        "third stage runs under ASan+UBSan (SANITIZED below) run there too")
    p.add_argument("--jsonl", help="append each result to this file as it comes (one JSON object a line)")
    p.add_argument("--pick", action="append", default=[],
                   help="only these mutants: numbers of --list (comma-separated; to re-check survivors)")
    p.add_argument("--merge", nargs="+", metavar="JSONL",
                   help="no run: the report of these --jsonl files (a later line for the same mutant wins, so a "
                        "re-check replaces the first result); equivalent.txt is applied again")
    a = p.parse_args()

    files, sample, queues = draw(a.sample_tree, a.seed, a.per_file, a.total, a.only_file)
    for n, s in enumerate(sample):
        s["n"] = n
        with open(os.path.join(a.sample_tree, s["file"])) as f:
            s["orig"] = f.read().split("\n")[s["line"] - 1]
    if a.merge:
        return merge(a, files, sample)
    if a.pick:
        want = {int(x) for v in a.pick for x in v.split(",") if x}
        sample = [s for s in sample if s["n"] in want]
    k, n = (int(x) for x in a.part.split("/"))
    files = [f for i, f in enumerate(files) if i % n == k]
    sample = [s for s in sample if s["file"] in files]
    if a.reverse:
        sample.reverse()
    if a.list:
        for i, s in enumerate(sample):
            print("%3d %s:%d %-11s %s" % (s["n"], s["file"], s["line"], s["kind"], s["text"].strip()))
        print("%d mutants from %d files (seed %d)" % (len(sample), len(files), a.seed))
        return 0

    cover = read_sep(os.path.join(HERE, "coverage.txt"), 2)
    equiv = {(r[0], r[1], r[2]): r[3] for r in read_sep(os.path.join(HERE, "equivalent.txt"), 4)}
    work = tempfile.mkdtemp(prefix="dnn-mutation-sample-")
    os.chmod(work, 0o755)
    tree, build, logs = os.path.join(work, "tree"), os.path.join(work, "build"), os.path.join(work, "logs")
    os.makedirs(tree)
    os.makedirs(logs)
    t_start = time.monotonic()
    say = lambda m: print("sample: " + m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        files_cmd = "git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -C '%s' -xf -" % tree
        if subprocess.run(files_cmd, shell=True, cwd=ROOT).returncode != 0:
            say("copying the tree failed")
            return 2
        def build_copy(folder, flags, tag):
            """Configure and build the unmutated copy into folder, as CI does (-Werror)."""
            rc = sh(["cmake", "-S", tree, "-B", folder, "-DDNN_WERROR=ON"] + flags,
                    log=os.path.join(logs, "configure%s.log" % tag))[0]
            return rc or sh(["cmake", "--build", folder, "-j2"], log=os.path.join(logs, "build%s.log" % tag))[0]

        asan = os.path.join(work, "build-sanitize")
        for folder, flags, tag, on in ((build, ["-DCMAKE_BUILD_TYPE=Release"], "", True),
                                       (asan, ["-DDNN_SANITIZE=ON"], "-sanitize", a.sanitize)):
            if on and build_copy(folder, flags, tag):
                say("the unmutated copy does not configure or build%s (see %s)" % (
                    " with DNN_SANITIZE=ON" if tag else "", logs))
                a.keep = True
                return 2
        rc, out, _ = sh(["ctest", "-N"], cwd=build)
        all_tests = re.findall(r"Test\s+#\d+: (\S+)", out)

        def tests_for(f):
            for pat, names in cover:
                if fnmatch.fnmatch(f, pat):
                    return [t for t in names.split() if t in all_tests and t not in a.skip_test] or all_tests
            return [t for t in all_tests if t not in a.skip_test]

        def run_tests(names, tag, where=build):
            """Runs names in order; returns the first failing test or None."""
            for t in names:
                rc, out, _ = sh(["ctest", "-R", "^%s$" % re.escape(t), "--timeout", str(a.timeout),
                                 "--no-tests=error"], cwd=where, log=os.path.join(logs, tag + ".log"))
                if rc != 0:
                    return t
            return None

        os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=0")  # as launch/test.sh runs the sanitizer stage
        os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")

        if not a.no_baseline:
            union = []
            for f in files:
                union += [t for t in tests_for(f) if t not in union]
            bad = [t for t in union if run_tests([t], "baseline")]
            if bad:
                say("the unmutated copy fails %s; fix them or leave them out of coverage.txt" % bad)
                a.keep = True
                return 2
            say("baseline: %d tests pass, %.0f s with the build" % (len(union), time.monotonic() - t_start))

        results, todo, i = [], list(sample), 0
        while i < len(todo):
            s = todo[i]
            i += 1
            path = os.path.join(tree, s["file"])
            with open(path) as f:
                orig = f.read()
            lines = orig.split("\n")
            at = [k for k, l in enumerate(lines) if l == s["orig"]]  # where the sampled line is now
            if not at:
                results.append(dict(s, status="moved", by="-", secs=0.0, orig=s["orig"].strip()))
                say("%3d moved: %s:%d no longer has the line %r" % (len(results), s["file"], s["line"], s["orig"]))
                continue
            lines[min(at, key=lambda k: abs(k + 1 - s["line"]))] = s["text"]
            with open(path, "w") as f:
                f.write("\n".join(lines))
            t0 = time.monotonic()
            tag = "m%03d" % len(results)
            try:
                names = tests_for(s["file"])
                # everything the mutated file goes into (a test may run a program its
                # command line does not name), built as CI builds it (-Werror)
                rc, out, _ = sh(["cmake", "--build", build, "-j2"], log=os.path.join(logs, tag + ".build.log"))
                if rc != 0:
                    status, by = "invalid", "-"
                    if queues[s["file"]]:  # a replacement from the same file
                        nxt = queues[s["file"]].pop(0)
                        with open(os.path.join(a.sample_tree, nxt["file"])) as f:
                            nxt["orig"] = f.read().split("\n")[nxt["line"] - 1]
                        todo.insert(i, nxt)
                else:
                    by = run_tests(names, tag)
                    san = [t for t in names if SANITIZED.match(t)]
                    if not by and a.sanitize and san:
                        rc, out, _ = sh(["cmake", "--build", asan, "-j2"], log=os.path.join(logs, tag + ".asan.log"))
                        by = run_tests(san, tag + ".asan", asan) if rc == 0 else "(sanitizer build failed)"
                        by = by and "sanitizer:" + by
                    status = "killed" if by else "survived"
                    key = (s["file"], s["orig"].strip(), s["text"].strip())
                    if status == "survived" and key in equiv:
                        status, by = "equivalent", equiv[key]
            finally:
                with open(path, "w") as f:
                    f.write(orig)
            r = dict(s, status=status, by=by or "-", secs=time.monotonic() - t0, orig=s["orig"].strip())
            results.append(r)
            if a.jsonl:
                with open(a.jsonl, "a") as f:
                    f.write(json.dumps(r) + "\n")
            say("%3d %-10s %5.0fs %s:%d %s: %s  [%s]" % (len(results), status, r["secs"], s["file"], s["line"],
                                                        s["kind"], s["text"].strip(), r["by"]))
        sh(["cmake", "--build", build, "-j2"], log=os.path.join(logs, "final-build.log"))
        return report(a, results, files, time.monotonic() - t_start)
    finally:
        if a.keep:
            say("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def merge(a, files, sample):
    """The report of earlier runs' --jsonl lines: the latest result of each
    mutant (by file, line and mutated text) wins, so a re-check with --pick
    replaces the first result; equivalent.txt is applied again."""
    equiv = {(r[0], r[1], r[2]): r[3] for r in read_sep(os.path.join(HERE, "equivalent.txt"), 4)}
    latest, secs = {}, 0.0
    for path in a.merge:
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    latest[(r["file"], r["line"], r["text"])] = r
                    secs += r["secs"]
    order = {(s["file"], s["line"], s["text"]): s["n"] for s in sample}
    results = []
    for k, r in sorted(latest.items(), key=lambda kv: (order.get(kv[0], 10 ** 6), kv[0])):
        if r["status"] == "equivalent":  # judged again against today's equivalent.txt
            r = dict(r, status="survived", by="-")
        if r["status"] == "survived" and (r["file"], r["orig"], r["text"].strip()) in equiv:
            r = dict(r, status="equivalent", by=equiv[(r["file"], r["orig"], r["text"].strip())])
        results.append(r)
    rc = report(a, results, files, secs)
    missing = [str(s["n"]) for s in sample if (s["file"], s["line"], s["text"]) not in latest]
    if missing:
        print("not run (%d of the sample): %s" % (len(missing), " ".join(missing)))
    return rc


def report(a, results, files, secs):
    valid = [r for r in results if r["status"] not in ("invalid", "moved")]
    count = {k: sum(r["status"] == k for r in valid) for k in ("killed", "survived", "equivalent")}
    per_file = {f: sum(r["file"] == f for r in valid) for f in files}
    judged = count["killed"] + count["survived"]
    lines = ["mutation sample: seed %d, %d per file, part %s, %s%s" % (
        a.seed, a.per_file, a.part, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "; tests left out: " + " ".join(a.skip_test) if a.skip_test else ""),
             "%-4s %-28s %-11s %-10s %6s  %s" % ("#", "file:line", "kind", "result", "secs", "mutated line / killed by")]
    for n, r in enumerate(results):
        lines.append("%-4d %-28s %-11s %-10s %6.0f  %s" % (n, "%s:%d" % (r["file"], r["line"]), r["kind"],
                                                          r["status"], r["secs"], r["text"].strip()))
        lines.append("%-4s %-28s %-11s %-10s %6s  was: %s  [%s]" % ("", "", "", "", "", r["orig"], r["by"]))
    lines.append("%d mutants (%d invalid, not counted): %d killed, %d survived, %d equivalent; killed %.1f%% of the "
                 "non-equivalent ones; %.0f s" % (len(valid), len(results) - len(valid), count["killed"],
                                                  count["survived"], count["equivalent"],
                                                  100.0 * count["killed"] / judged if judged else 0, secs))
    few = [f for f in files if per_file[f] < a.per_file] if not a.pick else []
    if few:
        lines.append("files with fewer than %d valid mutants (fewer sites): %s" % (
            a.per_file, ", ".join("%s (%d)" % (f, per_file[f]) for f in few)))
    surv = [r for r in valid if r["status"] == "survived"]
    lines.append("survivors:" if surv else "no survivor")
    for r in surv:
        lines.append("  %s:%d %s: %s  (was: %s)" % (r["file"], r["line"], r["kind"], r["text"].strip(), r["orig"]))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.report:
        with open(a.report, "w") as f:
            f.write(text)
    return 1 if surv else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""install_manpages: every program's man page is its --help, rendered.

For each program the build made (dnn-train, dnn-predict, dnn-export,
dnn-sweep, dnn-planar, dnn-fashion-mnist), from a fresh
`cmake --install BUILD --prefix P`:
  - `man -l P/share/man/man1/PROG.1` exits 0, prints the page, and groff
    gives no warning (`man --warnings`);
  - every option line of `PROG --help` ("  --opt ARG   text") is an entry of
    the page: the option and its argument start a line of the rendered
    page, and the option's whole description text follows it;
  - every --option named anywhere in the help appears in the page;
  - the page equals what launch/lib/manpage.sh makes from the current
    --help now (the build regenerates it whenever the program changes).
"""
import os
import re
import shutil
import subprocess

import itest
from itest import require

R = itest.Runner(__doc__)
PREFIX = R.path("prefix")
PROGRAMS = ["dnn-train", "dnn-predict", "dnn-export", "dnn-sweep", "dnn-planar", "dnn-fashion-mnist"]
OPT_LINE = re.compile(r"^ {1,6}(-[-\w]+(?:, --[-\w]+)?)(?: (?! )(\S+))?(?: +(.*))?$")


def norm(s):
    return " ".join(s.split())


def exe(prog):
    for d in ("", "datasets"):
        p = os.path.join(R.args.build, d, prog)
        if os.access(p, os.X_OK):
            return p
    return None


def install():
    if not shutil.which("man"):
        raise itest.Skip("no man command (Debian man-db); it is in launch/lib/deps.sh")
    R.run(["cmake", "--install", R.args.build, "--prefix", PREFIX], what="cmake --install")


def help_options(text):
    """[(option, arg, description)] of the option lines, continuation lines joined."""
    opts, examples = [], False
    for line in text.splitlines():
        if re.match(r"^[Ee]xamples?:", line):
            examples = True  # indented lines from here on are example commands
        elif line.strip() and not line.startswith(" "):
            examples = False
        m = None if examples else OPT_LINE.match(line)
        if m:
            opts.append([m.group(1), m.group(2) or "", m.group(3) or ""])
        elif opts and opts[-1] and re.match(r"^ {7,}\S", line) and not examples:
            opts[-1][2] += " " + line.strip()
        elif not line.strip() or not line.startswith(" "):
            opts.append(None)  # a blank or unindented line ends an option's text
    return [o for o in opts if o]


def check_page(prog):
    path = exe(prog)
    page = os.path.join(PREFIX, "share", "man", "man1", prog + ".1")
    require(os.path.exists(page), "not installed: " + page)
    env = dict(R.env, LC_ALL="C", MANWIDTH="2000", MANPAGER="cat", PAGER="cat")
    p = subprocess.run(["man", "--warnings", "-l", page], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, universal_newlines=True, timeout=60)
    require(p.returncode == 0 and p.stdout.strip(), "man -l %s exited %d: %s" % (page, p.returncode, p.stderr))
    require(not p.stderr.strip(), "man --warnings -l %s: %s" % (page, itest.tail(p.stderr)))
    rendered = p.stdout
    require(prog.upper() in rendered and "SYNOPSIS" in rendered and "DESCRIPTION" in rendered,
            "the rendered page lacks its title, SYNOPSIS or DESCRIPTION")
    helptext = R.run([path, "--help"], what=prog + " --help")
    opts = help_options(helptext)
    require(opts, "no option lines found in %s --help" % prog)
    lines = rendered.splitlines()
    flat = norm(rendered)
    bad = []
    for opt, arg, desc in opts:
        head = norm(opt + (" " + arg if arg else ""))
        at = [i for i, l in enumerate(lines) if norm(l).startswith(head + " ") or norm(l) == head]
        if not at:
            bad.append("%s: no entry line starts with %r" % (opt, head))
            continue
        entry = norm(" ".join(lines[at[0]:at[0] + 12]))
        if norm(desc) and norm(desc) not in entry:
            bad.append("%s: description %r not found after the entry" % (opt, desc[:50]))
    named = sorted(set(re.findall(r"(?<![\w-])--[a-z][\w-]*", helptext)))
    bad += ["%s is named in --help but not in the page" % o for o in named if o not in flat]
    require(not bad, "%d problem(s): %s" % (len(bad), "; ".join(bad[:6])))
    # the page is what the generator makes from today's --help
    fresh = R.path(prog + ".fresh.1")
    R.run(["sh", os.path.join(R.args.source, "launch", "lib", "manpage.sh"), path, prog,
           version(), fresh], what="manpage.sh")
    with open(fresh) as a, open(page) as b:
        require(a.read() == b.read(), "the installed %s.1 differs from what its --help makes now" % prog)
    print("# %s: %d option entries, %d options named, page of %d lines" % (prog, len(opts), len(named), len(lines)))


def version():
    with open(os.path.join(R.args.source, "CMakeLists.txt")) as f:
        return re.search(r"project\(dnn VERSION ([\d.]+)", f.read()).group(1)


R.case("install", install)
if R.skipped == 0 and R.failed == 0:
    for prog in PROGRAMS:
        if exe(prog):
            R.case("manpage_" + prog, check_page, prog)
R.finish()

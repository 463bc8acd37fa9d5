#!/usr/bin/python3
"""Reads tests/mutation/mutants.txt and applies one mutant to a copy of the tree.

  mutants.py check LIST TREE       every mutant's pattern occurs exactly once in
                                   TREE/FILE; prints "ID<TAB>FILE<TAB>SELECTION<TAB>WHAT"
                                   per mutant; exit 1 (naming them) when not
  mutants.py apply LIST TREE ID    replaces the pattern of mutant ID in TREE/FILE

LIST format: one mutant per line, six fields separated by " @@ ":
  ID @@ FILE @@ PATTERN @@ REPLACEMENT @@ WHAT IT BREAKS @@ CTEST -R SELECTION
Blank lines and lines starting with '#' are ignored.  Surrounding blanks of a
field are dropped; PATTERN and REPLACEMENT are otherwise exact text (no
regular expression); "\\n" in them stands for a newline.
"""
import os
import sys

SEP = " @@ "


def parse(path):
    mutants, errors, seen = [], [], set()
    with open(path) as f:
        for no, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = [x.strip() for x in line.rstrip("\n").split(SEP)]
            if len(fields) != 6:
                errors.append("%s:%d: %d fields, expected 6 separated by '%s'" % (path, no, len(fields), SEP.strip()))
                continue
            mid, file, pat, rep, what, sel = fields
            pat, rep = pat.replace("\\n", "\n"), rep.replace("\\n", "\n")
            if not mid or mid in seen:
                errors.append("%s:%d: empty or repeated id %r" % (path, no, mid))
            if not pat or pat == rep or not sel:
                errors.append("%s:%d: %s: empty pattern or selection, or replacement == pattern" % (path, no, mid))
            seen.add(mid)
            mutants.append(dict(id=mid, file=file, pattern=pat, replacement=rep, what=what, sel=sel, line=no))
    return mutants, errors


def check(mutants, errors, tree):
    for m in mutants:
        p = os.path.join(tree, m["file"])
        try:
            with open(p) as f:
                n = f.read().count(m["pattern"])
        except OSError as e:
            errors.append("line %d: %s: cannot read %s: %s" % (m["line"], m["id"], m["file"], e.strerror))
            continue
        if n != 1:
            errors.append("line %d: %s: the pattern occurs %d times in %s (must be exactly once): %r" % (
                m["line"], m["id"], n, m["file"], m["pattern"]))
    return errors


def main(argv):
    if len(argv) < 4 or argv[1] not in ("check", "apply") or (argv[1] == "apply") != (len(argv) == 5):
        print(__doc__, file=sys.stderr)
        return 2
    mutants, errors = parse(argv[2])
    tree = argv[3]
    if argv[1] == "check":
        errors = check(mutants, errors, tree)
        for e in errors:
            print("mutants.py: " + e, file=sys.stderr)
        if errors:
            return 1
        for m in mutants:
            print("\t".join((m["id"], m["file"], m["sel"], m["what"])))
        return 0
    want = [m for m in mutants if m["id"] == argv[4]]
    if not want:
        print("mutants.py: no mutant %r in %s" % (argv[4], argv[2]), file=sys.stderr)
        return 1
    m = want[0]
    p = os.path.join(tree, m["file"])
    with open(p) as f:
        text = f.read()
    if text.count(m["pattern"]) != 1:
        print("mutants.py: %s: the pattern occurs %d times in %s" % (m["id"], text.count(m["pattern"]), p),
              file=sys.stderr)
        return 1
    with open(p, "w") as f:
        f.write(text.replace(m["pattern"], m["replacement"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

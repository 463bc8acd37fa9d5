#!/usr/bin/python3
"""Lists the tests that ctest reported as skipped in its JUnit file.

  ctest_skips.py JUNIT.xml      one line per skipped test: NAME (MESSAGE)

ctest (3.21+) writes --output-junit with a <skipped> element for every test
that ended with its SKIP_RETURN_CODE (or was otherwise not run).  Exit 0
after listing (possibly nothing), 2 when the file cannot be parsed.
"""
import sys
import xml.etree.ElementTree as ET


def main(argv):
    if len(argv) != 2:
        print("usage: ctest_skips.py JUNIT.xml", file=sys.stderr)
        return 2
    try:
        root = ET.parse(argv[1]).getroot()
    except (OSError, ET.ParseError) as e:
        print("ctest_skips.py: cannot read %s: %s" % (argv[1], e), file=sys.stderr)
        return 2
    for tc in root.iter("testcase"):
        s = tc.find("skipped")
        if s is not None:
            print("%s (%s)" % (tc.get("name"), s.get("message", "")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""include/dnn/exact.h (the --deterministic sums) against exact arithmetic.

  check_exact.py PATH/exact_sum

The documented format: a term x (|x| < 2^38, finite) becomes
hi = trunc(x 2^24), lo = trunc((x 2^24 - hi) 2^40), i.e. x truncated toward
zero to a multiple of 2^-64; the parts add as integers; the value is
hi 2^-24 + lo 2^-64 rounded once to float64 (to nearest, ties to even).

This script computes each sum with fractions.Fraction from that definition
alone -- the integer parts HI and LO, and the exactly summed quantized terms
rounded once (Python's int / int is correctly rounded) -- and requires the
driver's HI, LO and result bits to be equal.  Out-of-range terms (|x| >=
2^38, inf, NaN) must be refused.  The sums stay where the format promises a
single rounding: fewer than 2^13 terms and |HI| < 2^53 (|sum| below about
2^29), so both integer-to-double conversions are exact.

Cases: random magnitudes over 130 binades, tiny sums where only the low word
holds anything, cancellations, negative fractions (truncation toward zero,
not floor), subnormals and signed zeros, terms below 2^-64, final-rounding
ties (to even), 8191 terms, float32 inputs.  Guards: the set must tell the
format from its near misses -- the low word dropped, rounding to nearest
instead of truncating, floor instead of truncation, a float64 running sum --
in many sums each, or it could not catch them.
Prints a summary and `N passed, M failed`; exit 1 on any mismatch.
"""
import math
import random
import struct
import subprocess
import sys
from fractions import Fraction

TWO24, TWO40, TWO64 = 1 << 24, 1 << 40, 1 << 64
MAX = 2.0 ** 38


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def parts(x):
    t = Fraction(x) * TWO24
    h = math.trunc(t)
    return h, math.trunc((t - h) * TWO40)


def expected(xs):
    """('range',) or (bits, HI, LO) from the definition."""
    if any(not math.isfinite(x) or abs(x) >= MAX for x in xs):
        return ("range",)
    HI = LO = 0
    for x in xs:
        h, l = parts(x)
        HI += h
        LO += l
    value = Fraction(HI, TWO24) + Fraction(LO, TWO64)
    return (bits(float(value)) if value else bits(0.0), HI, LO)


def near_misses(xs):
    """Results of the format's near misses, to show the cases can tell them apart."""
    HI = sum(parts(x)[0] for x in xs)
    nearest = sum(round(Fraction(x) * TWO64) for x in xs)
    floor = sum(math.floor(Fraction(x) * TWO64) for x in xs)
    running = 0.0
    for x in xs:
        running += x
    return {"low word dropped": bits(float(Fraction(HI, TWO24))),
            "round to nearest": bits(float(Fraction(nearest, TWO64))),
            "floor": bits(float(Fraction(floor, TWO64))),
            "float64 running sum": bits(running)}


def rand_term(rng, lo_e, hi_e):
    return rng.choice((-1.0, 1.0)) * math.ldexp(1.0 + rng.random(), rng.randint(lo_e, hi_e))


def cases():
    rng = random.Random(20261201)
    out = []
    for n in (1, 2, 3, 5, 17, 64, 256, 1000):
        for _ in range(40):
            out.append(("d", [rand_term(rng, -110, 18) for _ in range(n)]))
    for _ in range(80):  # only the low word: every term below 2^-24
        out.append(("d", [rand_term(rng, -90, -26) for _ in range(rng.randint(1, 300))]))
    for _ in range(60):  # cancellation: x and -x(1 + small), and a tiny rest
        base = [rand_term(rng, -20, 20) for _ in range(rng.randint(1, 50))]
        xs = base + [-v * (1 + math.ldexp(rng.random(), -40)) for v in base]
        xs.append(rand_term(rng, -75, -50))
        rng.shuffle(xs)
        out.append(("d", xs))
    for _ in range(40):  # negative terms with fractional parts: trunc, not floor
        out.append(("d", [-abs(rand_term(rng, -70, 5)) for _ in range(rng.randint(1, 40))]))
    tiny = [5e-324, -5e-324, 2.2250738585072014e-308, 0.0, -0.0, math.ldexp(1.0, -65),
            -math.ldexp(1.0, -65), math.ldexp(1.0, -64), -math.ldexp(1.0, -64),
            math.ldexp(3.0, -66), -math.ldexp(3.0, -66)]
    out += [("d", [v]) for v in tiny] + [("d", tiny), ("d", [-0.0, -0.0])]
    # final-rounding ties (ulp(2^10) = 2^-42): 2^10 + 2^-43 -> 2^10 (even);
    # 2^10 + 3 2^-43 -> 2^10 + 2^-41; and one with the tie split over many terms
    for k in range(1, 8):
        out.append(("d", [1024.0, math.ldexp(k, -43)]))
        out.append(("d", [-1024.0, -math.ldexp(k, -43)]))
    out.append(("d", [1024.0] + [math.ldexp(1.0, -51)] * 256))
    out.append(("d", [rand_term(rng, -60, 14) for _ in range(8191)]))
    out.append(("d", [math.nextafter(MAX, 0.0)]))
    for _ in range(60):  # float32 inputs, as --precision single sums them
        out.append(("f", [f32(rand_term(rng, -100, 18)) for _ in range(rng.randint(1, 256))]))
    # refused terms
    for bad in (MAX, -MAX, math.inf, -math.inf, math.nan, 1e300):
        out.append(("d", [1.0, bad, 2.0]))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cs = cases()
    text = "".join("%s %d %s\n" % (k, len(xs), " ".join("%016x" % bits(x) for x in xs))
                   for k, xs in cs)
    p = subprocess.run([sys.argv[1]], input=text, capture_output=True, text=True, timeout=120)
    got = p.stdout.splitlines()
    if p.returncode != 0 or len(got) != len(cs):
        print("FAIL driver exit %d, %d lines for %d sums: %s"
              % (p.returncode, len(got), len(cs), p.stderr.strip()[-500:]))
        print("0 passed, 1 failed")
        return 1
    failed = 0
    told = {}
    for (kind, xs), line in zip(cs, got):
        want = expected(xs)
        fields = line.split()
        if want == ("range",):
            ok = fields == ["range"]
        else:
            ok = len(fields) == 3 and (int(fields[0], 16), int(fields[1]), int(fields[2])) == want
            for k, v in near_misses(xs).items():
                told[k] = told.get(k, 0) + (v != want[0])
        if not ok:
            failed += 1
            if failed <= 5:
                print("FAIL %s sum of %d terms (first %r): driver %s, exact %s"
                      % (kind, len(xs), xs[0], line,
                         want if want == ("range",) else "%016x %d %d" % want))
    print("%d sums (%d terms); the definition's near misses differ from it in: %s"
          % (len(cs), sum(len(xs) for _, xs in cs),
             ", ".join("%s %d" % kv for kv in sorted(told.items()))))
    for k, v in told.items():
        if v < 10:
            print("FAIL guard: only %d sums tell '%s' from the format" % (v, k))
            failed += 1
    print("%d passed, %d failed" % (len(cs) - min(failed, len(cs)), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

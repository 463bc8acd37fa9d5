#!/usr/bin/python3
"""dnn's default generator and mini-batch permutation, in Python integers.

Written from the published algorithms, not from dnn's C:
  - SplitMix64 (Steele, Lea, Flood 2014; Vigna's splitmix64.c):
      x += 0x9e3779b97f4a7c15; z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
      z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
      return z ^ (z >> 31)                       (all mod 2^64)
  - xoshiro256** (Blackman, Vigna 2018; xoshiro256starstar.c):
      result = rotl(s1 * 5, 7) * 9; t = s1 << 17;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 45)
    seeded, as dnn documents, with four successive SplitMix64 outputs.
  - the per-epoch permutation of README, Data-parallel training and determinism, as dnn defines it (include/dnn/rng.h):
      key = seed * 0x9e3779b97f4a7c15 ^ (epoch + 0x632be59bd9b4e019)  (mod 2^64)
      state = xoshiro seeded from key; perm = 0..m-1;
      for i = m, m-1, ..., 2: j = (next() * i) >> 64  (Lemire's multiply-shift)
                              swap perm[i-1], perm[j]

  ref_rng.py selfcheck     the published vectors below; exit 0 when all match
  ref_rng.py perm M SEED EPOCH   print the permutation
"""
import sys

MASK = (1 << 64) - 1

# Published vectors (used by the self-check and quoted by tests/test_rng.c):
# SplitMix64 from seed 1234567: the Rosetta Code task "Pseudo-random
# numbers/Splitmix64"; from seed 0: the first outputs of splitmix64.c.
SPLITMIX_1234567 = [6457827717110365317, 3203168211198807973, 9817491932198370423,
                    4593380528125082431, 16408922859458223821]
SPLITMIX_0 = [0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f]
# xoshiro256** from the state {1, 2, 3, 4}: the first ten outputs of the
# reference xoshiro256starstar.c (as the rand_xoshiro crate's test records them).
XOSHIRO_1234 = [11520, 0, 1509978240, 1215971899390074240, 1216172134540287360,
                607988272756665600, 16172922978634559625, 8476171486693032832,
                10595114339597558777, 2904607092377533576]


class SplitMix64:
    def __init__(self, seed):
        self.x = seed & MASK

    def next(self):
        self.x = (self.x + 0x9e3779b97f4a7c15) & MASK
        z = self.x
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK
        return z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro256ss:
    def __init__(self, state):
        self.s = [v & MASK for v in state]

    @classmethod
    def seeded(cls, seed):
        sm = SplitMix64(seed)
        return cls([sm.next() for _ in range(4)])

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def epoch_key(seed, epoch):
    return ((seed * 0x9e3779b97f4a7c15) & MASK) ^ ((epoch + 0x632be59bd9b4e019) & MASK)


def permutation(m, seed, epoch):
    g = Xoshiro256ss.seeded(epoch_key(seed, epoch))
    perm = list(range(m))
    for i in range(m, 1, -1):
        j = (g.next() * i) >> 64
        perm[i - 1], perm[j] = perm[j], perm[i - 1]
    return perm


def splitmix_finalizer(z):
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK
    return z ^ (z >> 31)


def held_out(seed, g, frac):
    """--validation-split F: example g is in the dev set, by the definition in
    the README's "Extensions": z = ((seed ^ 0xD1B54A32D192ED03) *
    0x9E3779B97F4A7C15 + g) mod 2^64, SplitMix64's finalizer, then
    (z >> 11) / 2^53 < F."""
    z = ((((seed & MASK) ^ 0xD1B54A32D192ED03) * 0x9E3779B97F4A7C15) + g) & MASK
    return (splitmix_finalizer(z) >> 11) / 9007199254740992.0 < frac


def dropout_uniforms(seed, step, layer, examples, units):
    """U(seed, k, l, g, i) of include/dnn/rng.h's counter-based generator for
    the units 0..units-1 (rows) of the global examples g (columns), with
    numpy uint64 arithmetic (mod 2^64):
      mix = splitmix64's finalizer
      c = mix(mix(mix(mix(seed ^ 0x243f6a8885a308d3) ^ k) ^ l) ^ g)
      x = mix(c ^ ((i + 1) * 0x9e3779b97f4a7c15));  U = (x >> 11) 2^-53"""
    import numpy as np
    with np.errstate(over="ignore"):
        def mix(z):
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
            return z ^ (z >> np.uint64(31))
        c = mix(np.uint64((seed & MASK) ^ 0x243f6a8885a308d3))
        c = mix(c ^ np.uint64(step & MASK))
        c = mix(c ^ np.uint64(layer & MASK))
        c = mix(c ^ np.asarray(examples, dtype=np.uint64))          # (m,)
        w = (np.arange(1, units + 1, dtype=np.uint64)
             * np.uint64(0x9e3779b97f4a7c15))[:, None]               # (units, 1)
        x = mix(c[None, :] ^ w)
        return (x >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def selfcheck():
    """0 when the implementations reproduce the published vectors."""
    bad = 0
    sm = SplitMix64(1234567)
    got = [sm.next() for _ in SPLITMIX_1234567]
    bad += got != SPLITMIX_1234567
    sm = SplitMix64(0)
    got0 = [sm.next() for _ in SPLITMIX_0]
    bad += got0 != SPLITMIX_0
    g = Xoshiro256ss([1, 2, 3, 4])
    gx = [g.next() for _ in XOSHIRO_1234]
    bad += gx != XOSHIRO_1234
    for m in (0, 1, 2, 5, 17):
        p = permutation(m, 7, 3)
        bad += sorted(p) != list(range(m))
    print("splitmix64(1234567) %s\nsplitmix64(0) %s\nxoshiro256**{1,2,3,4} %s\n%s"
          % (got, [hex(v) for v in got0], gx, "ok" if not bad else "FAIL"))
    return bad


def main(argv):
    if len(argv) == 2 and argv[1] == "selfcheck":
        return 1 if selfcheck() else 0
    if len(argv) == 5 and argv[1] == "perm":
        print(" ".join(str(v) for v in permutation(int(argv[2]), int(argv[3]), int(argv[4]))))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

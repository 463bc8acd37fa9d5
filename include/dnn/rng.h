/*
 * rng.h - random numbers: numpy's legacy generator, bit for bit, and a fast default.
 *
 * DNN_RNG_NUMPY reproduces np.random.seed(S) followed by np.random.randn(...):
 * MT19937 seeded by init_genrand(S), 53-bit doubles from two 32-bit draws and
 * normals by the Marsaglia polar method with numpy's cached second value.
 * DNN_RNG_DEFAULT is xoshiro256** seeded through splitmix64, with the same
 * polar method; it is faster and has no relation to numpy's stream.
 */
#ifndef DNN_RNG_H
#define DNN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DNN_RNG_DEFAULT = 0, DNN_RNG_NUMPY = 1 } dnn_rng_kind_t;

typedef struct {
    dnn_rng_kind_t kind;
    uint32_t mt[624]; /* MT19937 state (numpy kind) */
    int pos;
    uint64_t s[4]; /* xoshiro256** state (default kind) */
    int has_gauss; /* polar method keeps its second normal */
    double gauss;
} dnn_rng_t;

/* Seed a generator; numpy kind takes the low 32 bits of seed, as numpy does. */
void dnn_rng_init(dnn_rng_t *r, dnn_rng_kind_t kind, uint64_t seed);

/* Next raw 32 bits. */
uint32_t dnn_rng_next32(dnn_rng_t *r);

/* Uniform double in [0, 1) with 53 random bits (numpy's random_sample). */
double dnn_rng_uniform(dnn_rng_t *r);

/* Standard normal (numpy's legacy gauss: polar method). */
double dnn_rng_normal(dnn_rng_t *r);

/*
 * perm[0..m) = a permutation of 0..m-1 that depends only on (seed, epoch):
 * Fisher-Yates driven by a xoshiro256** stream keyed by both.  Every rank
 * computes the same permutation without communication.
 */
void dnn_rng_permutation(uint64_t *perm, uint64_t m, uint64_t seed, uint64_t epoch);

/*
 * numpy's legacy np.random.seed(seed); perm = np.random.permutation(m), bit
 * for bit: MT19937 seeded by init_genrand(seed), then a Fisher-Yates shuffle
 * of 0..m-1 from the last index down; for i = m-1 .. 1, j is uniform in
 * [0, i] by masked rejection (mask = the smallest 2^k - 1 >= i; draw 32 raw
 * bits, AND the mask, redraw while > i), and perm[i], perm[j] are swapped.
 */
void dnn_rng_numpy_permutation(uint64_t *perm, uint64_t m, uint32_t seed);

/*
 * The mini-batch order of epoch e (0-based) for the seed S (README, The course's mini-batch order):
 * DNN_RNG_NUMPY gives the course's random_mini_batches order, numpy's
 * permutation seeded by (S + e + 1) mod 2^32 (the course's epochs count from 1);
 * DNN_RNG_DEFAULT gives dnn_rng_permutation(perm, m, S, e).
 */
void dnn_rng_epoch_order(uint64_t *perm, uint64_t m, dnn_rng_kind_t kind, uint64_t seed, uint64_t epoch);

/*
 * Counter-based uniforms (dropout masks, README, Course 2: optimizers, regularization, schedules, dev sets): U is a pure function of
 * its key (seed, step k, layer l, global example g, unit i), so a value never
 * depends on a stream position, hence not on the rank, the block split or a
 * resume.  Exact definition, all arithmetic modulo 2^64 (numpy: np.uint64):
 *
 *   mix(z):  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
 *            z = (z ^ (z >> 27)) * 0x94d049bb133111eb
 *            return z ^ (z >> 31)                 (splitmix64's finalizer)
 *   c = mix(mix(mix(mix(seed ^ 0x243f6a8885a308d3) ^ k) ^ l) ^ g)   column key
 *   x = mix(c ^ ((i + 1) * 0x9e3779b97f4a7c15))
 *   U = (x >> 11) * 2^-53                         (53 bits, in [0, 1))
 *
 * Each stage z -> mix(z ^ w) is a bijection of w, so changing any one key
 * word always changes the column key; the unit counter enters through a Weyl
 * sequence XORed in, so two columns never share a shifted run of units.  The
 * column key is computed once per (k, l, g) and costs one mix per unit after
 * that (vectorizable: the unit loop has no carried state).
 */
uint64_t dnn_rng_mix64(uint64_t z);

/* c(seed, k, l, g) above. */
uint64_t dnn_rng_key(uint64_t seed, uint64_t step, uint64_t layer, uint64_t example);

/* U for unit i of a column key c. */
double dnn_rng_keyed_uniform(uint64_t c, uint64_t i);

/* The whole definition: U(seed, k, l, g, i). */
double dnn_rng_counter_uniform(uint64_t seed, uint64_t step, uint64_t layer, uint64_t example, uint64_t unit);

/* mask[i] = (U(c, i) < p) for i in [0, n): a dropout mask column D. */
void dnn_rng_keyed_mask(uint8_t *mask, uint64_t c, size_t n, double p);

#endif

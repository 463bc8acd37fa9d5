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

#endif

/*
 * rng.c - MT19937 as numpy's legacy RandomState uses it, and xoshiro256**.
 *
 * Facts relied on (README, Data-parallel training and determinism): init_genrand key[i] = 1812433253 *
 * (key[i-1] ^ (key[i-1] >> 30)) + i; doubles (a*2^26 + b) / 2^53 with
 * a = next32 >> 5, b = next32 >> 6; polar normals return f*x2 and keep f*x1.
 */
#include "dnn/rng.h"

#include <math.h>

#define MT_N 624
#define MT_M 397

static void mt_seed(dnn_rng_t *r, uint32_t s)
{
    r->mt[0] = s;
    for (int i = 1; i < MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->pos = MT_N;
}

static void mt_refill(dnn_rng_t *r)
{
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    uint32_t *mt = r->mt, y;
    int k;
    for (k = 0; k < MT_N - MT_M; k++) {
        y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
        mt[k] = mt[k + MT_M] ^ (y >> 1) ^ mag01[y & 1];
    }
    for (; k < MT_N - 1; k++) {
        y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
        mt[k] = mt[k + (MT_M - MT_N)] ^ (y >> 1) ^ mag01[y & 1];
    }
    y = (mt[MT_N - 1] & 0x80000000u) | (mt[0] & 0x7fffffffu);
    mt[MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1];
    r->pos = 0;
}

static uint32_t mt_next(dnn_rng_t *r)
{
    if (r->pos >= MT_N)
        mt_refill(r);
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

#define WEYL 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio */

static inline uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x) { return mix(*x += WEYL); }

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void xoshiro_seed(uint64_t s[4], uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&x);
}

void dnn_rng_init(dnn_rng_t *r, dnn_rng_kind_t kind, uint64_t seed)
{
    r->kind = kind;
    r->has_gauss = 0;
    r->gauss = 0.0;
    if (kind == DNN_RNG_NUMPY)
        mt_seed(r, (uint32_t)seed);
    else
        xoshiro_seed(r->s, seed);
}

uint32_t dnn_rng_next32(dnn_rng_t *r)
{
    return r->kind == DNN_RNG_NUMPY ? mt_next(r) : (uint32_t)(xoshiro_next(r->s) >> 32);
}

double dnn_rng_uniform(dnn_rng_t *r)
{
    if (r->kind == DNN_RNG_NUMPY) {
        uint32_t a = mt_next(r) >> 5, b = mt_next(r) >> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }
    return (double)(xoshiro_next(r->s) >> 11) * 0x1.0p-53;
}

double dnn_rng_normal(dnn_rng_t *r)
{
    if (r->has_gauss) {
        r->has_gauss = 0;
        return r->gauss;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * dnn_rng_uniform(r) - 1.0;
        x2 = 2.0 * dnn_rng_uniform(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    r->gauss = f * x1;
    r->has_gauss = 1;
    return f * x2;
}

void dnn_rng_permutation(uint64_t *perm, uint64_t m, uint64_t seed, uint64_t epoch)
{
    uint64_t s[4], key = seed * 0x9e3779b97f4a7c15ull ^ (epoch + 0x632be59bd9b4e019ull);
    xoshiro_seed(s, key);
    for (uint64_t i = 0; i < m; i++)
        perm[i] = i;
    for (uint64_t i = m; i > 1; i--) {
        /* Lemire's multiply-shift gives j uniform in [0, i) without a division. */
        uint64_t j = (uint64_t)(((unsigned __int128)xoshiro_next(s) * i) >> 64);
        uint64_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

/* numpy's random_interval: j uniform in [0, max] by masked rejection on raw
 * 32-bit draws (64-bit draws, high word first, above 2^32 - 1). */
static uint64_t mt_interval(dnn_rng_t *r, uint64_t max)
{
    uint64_t mask = max, v;
    for (int sh = 1; sh < 64; sh <<= 1)
        mask |= mask >> sh;
    if (max <= 0xffffffffull) {
        do
            v = mt_next(r) & mask;
        while (v > max);
    } else {
        do {
            uint64_t hi = mt_next(r);
            v = (hi << 32 | mt_next(r)) & mask;
        } while (v > max);
    }
    return v;
}

void dnn_rng_numpy_permutation(uint64_t *perm, uint64_t m, uint32_t seed)
{
    dnn_rng_t r;
    dnn_rng_init(&r, DNN_RNG_NUMPY, seed);
    for (uint64_t i = 0; i < m; i++)
        perm[i] = i;
    for (uint64_t i = m > 0 ? m - 1 : 0; i > 0; i--) {
        uint64_t j = mt_interval(&r, i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void dnn_rng_epoch_order(uint64_t *perm, uint64_t m, dnn_rng_kind_t kind, uint64_t seed, uint64_t epoch)
{
    if (kind == DNN_RNG_NUMPY)
        dnn_rng_numpy_permutation(perm, m, (uint32_t)(seed + epoch + 1));
    else
        dnn_rng_permutation(perm, m, seed, epoch);
}

/* ---- counter-based uniforms (definition in rng.h) ---- */

uint64_t dnn_rng_mix64(uint64_t z) { return mix(z); }

uint64_t dnn_rng_key(uint64_t seed, uint64_t step, uint64_t layer, uint64_t example)
{
    return mix(mix(mix(mix(seed ^ 0x243f6a8885a308d3ull) ^ step) ^ layer) ^ example);
}

/* (int64_t) of a 53-bit value is exact and converts in one vector instruction */
static inline double unit_uniform(uint64_t c, uint64_t i)
{
    return (double)(int64_t)(mix(c ^ ((i + 1) * WEYL)) >> 11) * 0x1.0p-53;
}

double dnn_rng_keyed_uniform(uint64_t c, uint64_t i) { return unit_uniform(c, i); }

double dnn_rng_counter_uniform(uint64_t seed, uint64_t step, uint64_t layer, uint64_t example, uint64_t unit)
{
    return dnn_rng_keyed_uniform(dnn_rng_key(seed, step, layer, example), unit);
}

void dnn_rng_keyed_mask(uint8_t *mask, uint64_t c, size_t n, double p)
{
    for (size_t i = 0; i < n; i++)
        mask[i] = unit_uniform(c, i) < p;
}

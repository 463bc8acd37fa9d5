/*
 * perm_dump.c - write dnn's mini-batch order of one epoch as raw uint64.
 *
 *   perm_dump numpy|default S E M OUT.bin
 *
 * OUT.bin holds the M native-endian uint64 of the order dnn-train uses in
 * epoch E (counted from 1, as the course counts) with --shuffle-seed S, so
 * tests/ref/check_perm.py can compare it with np.random.permutation.
 */
#include "dnn/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int number(const char *s, unsigned long long max, unsigned long long *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno || *end || !*s || s[0] == '-' || *v > max;
}

int main(int argc, char **argv)
{
    unsigned long long S, E, M;
    if (argc != 6 || (strcmp(argv[1], "numpy") && strcmp(argv[1], "default"))) {
        fprintf(stderr, "usage: perm_dump numpy|default S E M OUT.bin\n");
        return 1;
    }
    if (number(argv[2], 0xffffffffull, &S) || number(argv[3], 0xffffffffull, &E) || E < 1 ||
        number(argv[4], 100000000ull, &M)) {
        fprintf(stderr, "perm_dump: bad S, E (>= 1) or M: '%s' '%s' '%s'\n", argv[2], argv[3], argv[4]);
        return 1;
    }
    uint64_t *p = malloc((M ? M : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "perm_dump: out of memory\n");
        return 1;
    }
    dnn_rng_epoch_order(p, M, strcmp(argv[1], "numpy") ? DNN_RNG_DEFAULT : DNN_RNG_NUMPY, S, E - 1);
    FILE *f = fopen(argv[5], "wb");
    if (!f || fwrite(p, sizeof *p, M, f) != M || fclose(f) != 0) {
        fprintf(stderr, "perm_dump: cannot write '%s': %s\n", argv[5], strerror(errno));
        free(p);
        return 1;
    }
    free(p);
    return 0;
}

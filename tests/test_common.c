/*
 * test_common.c - dnn_alloc's promise (common.h): 64-byte alignment, whole
 * 64-byte lines (one at least, also for 0 bytes), NULL on overflow; the sizes
 * are worked out here, the usable size is glibc's malloc_usable_size.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/common.h"
#include "dnn_test.h"

static void test_alloc_lines(void)
{
    static const size_t sizes[] = {1, 3, 4, 8};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t n = 0; n <= 300; n++) {
            size_t want = (n * sizes[s] + 63) / 64 * 64;
            want = want ? want : 64;
            unsigned char *p = dnn_alloc(n, sizes[s]);
            int ok = p && (uintptr_t)p % 64 == 0 && malloc_usable_size(p) >= want;
            if (!ok)
                fprintf(stderr, "\n  dnn_alloc(%zu, %zu): %p, usable %zu bytes, want 64-byte aligned and %zu\n", n,
                        sizes[s], (void *)p, p ? malloc_usable_size(p) : 0, want);
            CU_ASSERT(ok);
            if (p)
                memset(p, 0xa5, want); /* the whole lines are ours (ASan would see otherwise) */
            free(p);
        }
}

static void test_alloc_overflow(void)
{
    CU_ASSERT(dnn_alloc(SIZE_MAX / 2 + 1, 2) == NULL);
    CU_ASSERT(dnn_alloc(2, SIZE_MAX / 2 + 1) == NULL);
    CU_ASSERT(dnn_alloc(SIZE_MAX - 10, 1) == NULL); /* fits, but its rounding to 64 does not */
    CU_ASSERT(dnn_alloc(1, SIZE_MAX - 62) == NULL);
}

static void test_fail_message(void)
{
    char msg[DNN_MSG_LEN];
    CU_ASSERT(dnn_fail(msg, DNN_EDATA, "bad '%s' %d", "x.h5", 7) == DNN_EDATA);
    CU_ASSERT_STRING_EQUAL(msg, "bad 'x.h5' 7");
    CU_ASSERT(dnn_fail(NULL, DNN_EIO, "ignored %d", 1) == DNN_EIO);
}

int main(void)
{
    static const dnn_test_t tests[] = {
        DNN_TEST(test_alloc_lines),
        DNN_TEST(test_alloc_overflow),
        DNN_TEST(test_fail_message),
    };
    return dnn_test_run("test_common", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}

/*
 * dnn_test.h - the runner shared by the CUnit suites (tests only).
 *
 * dnn_test_run registers one suite with its tests, runs it verbosely and
 * returns the process status: 0 when every assertion held, 1 when any test
 * (or the suite's set-up or clean-up) failed, 2 on a CUnit error.
 * dnn_test_rmtree removes a suite's scratch folder (with _GNU_SOURCE).
 */
#ifndef DNN_TEST_H
#define DNN_TEST_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *name;
    CU_TestFunc fn;
} dnn_test_t;

#define DNN_TEST(fn) {#fn, fn}

static inline int dnn_test_run(const char *suite_name, CU_InitializeFunc init, CU_CleanupFunc clean,
                               const dnn_test_t *tests, size_t n)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite(suite_name, init, clean);
    if (!suite)
        goto registry_error;
    for (size_t i = 0; i < n; i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            goto registry_error;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_basic_run_tests() != CUE_SUCCESS)
        goto registry_error;
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failures != 0;
registry_error:
    fprintf(stderr, "%s: CUnit error: %s\n", suite_name, CU_get_error_msg());
    CU_cleanup_registry();
    return 2;
}

#ifdef _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS: suites with a scratch folder define it first */
#include <ftw.h>

static inline int dnn_test_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Remove a folder and everything in it. */
static inline int dnn_test_rmtree(const char *dir)
{
    return nftw(dir, dnn_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
#endif

#endif

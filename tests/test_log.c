/*
 * test_log.c - the progress line's ETA (README, Progress): hours and minutes
 * above an hour, minutes and seconds above a minute, seconds below; the
 * values are written out by hand here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnn/log.h"
#include "dnn_test.h"

/* The plain (not tty) progress line of a record with this ETA, into buf. */
static void progress_line(double eta_s, char *buf, size_t len)
{
    dnn_log_t g;
    setenv("DNN_PROGRESS", "plain", 1);
    dnn_log_init(&g, "test_log", 0, 0, 0);
    FILE *t = tmpfile();
    CU_ASSERT_FATAL(t != NULL);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    CU_ASSERT_FATAL(saved >= 0 && dup2(fileno(t), STDOUT_FILENO) >= 0);
    dnn_log_progress(&g, 5, 100, 0, 0.5, 0.75, 1000, eta_s, 1, NULL);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    rewind(t);
    size_t n = fread(buf, 1, len - 1, t);
    buf[n] = 0;
    fclose(t);
}

static void test_log_eta(void)
{
    static const struct {
        double s;
        const char *eta;
    } cases[] = {
        {0, "0s"},         {59.4, "59s"},      {60, "1m00s"},      {125, "2m05s"},     {3599, "59m59s"},
        {3600, "1h00m"},   {3725, "1h02m"},    {3659, "1h00m"},    {7199, "1h59m"},    {5405, "1h30m"},
        {86399, "23h59m"}, {-1, "?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[512], want[64];
        progress_line(cases[i].s, line, sizeof line);
        snprintf(want, sizeof want, " eta %s\n", cases[i].eta);
        size_t n = strlen(line), w = strlen(want);
        int ok = n >= w && strcmp(line + n - w, want) == 0;
        if (!ok)
            fprintf(stderr, "\n  ETA of %g s: expected '...%s', got '%s' (above an hour the minutes are the "
                    "seconds / 60 mod 60)\n", cases[i].s, cases[i].eta, line);
        CU_ASSERT(ok);
    }
}

int main(void)
{
    static const dnn_test_t tests[] = {
        DNN_TEST(test_log_eta),
    };
    return dnn_test_run("test_log", NULL, NULL, tests, sizeof tests / sizeof tests[0]);
}

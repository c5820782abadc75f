/*
 * test_misuse_rates.c -- Go's concurrent-misuse detection with two real
 * threads (gomap.h "Threads", "Concurrent misuse"), each run in a forked
 * child (tests/misuse_race.h): two writers on one map, one thread
 * iterating while another writes, one reading while another writes.
 *
 * Detection is best effort, so the test counts runs and asserts with a wide
 * margin: for write vs write and iterate vs write, at least one of RUNS
 * runs (each NOPS operations a thread) must end with the scenario's
 * message (measured on a 2-core machine: nearly every run does), both with
 * a handler that exits and with the default handler (message on stderr,
 * then SIGABRT).  No run may end with a message of another scenario.
 * Runs that crash without a message (a race can corrupt the map before the
 * flag check sees it) and runs that finish without one are reported, not
 * asserted.  Read vs write is measured and reported only: a reader checks
 * the flag once, at the start of a lookup, so most races go unseen there.
 * No assertion depends on timing.
 *
 * The races are real data races: under ThreadSanitizer this test skips
 * itself (77), and it is not labelled "threads".
 */
#include "gomap.h"
#include "misuse_race.h"
#include "testutil.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MR_UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(MR_UNDER_TSAN)
#define MR_UNDER_TSAN 1
#endif
#ifndef MR_UNDER_TSAN
#define MR_UNDER_TSAN 0
#endif

enum { RUNS = 20 };

static long nops;

static void report(const char *what, const mr_result *r) {
    char kinds[256];
    mr_crash_kinds(r, kinds, sizeof kinds);
    fprintf(stderr,
            "\n    %-18s %6ld ops x %d runs: detected %d, other message %d, crashed %d%s%s%s, "
            "silent %d, silent and wrong %d",
            what, nops, r->runs, r->detected, r->other_message, r->crashed, r->crashed ? " (" : "",
            kinds, r->crashed ? ")" : "", r->silent, r->wrong);
    if (r->crashed) fprintf(stderr, "\n    first crash said:\n%s", r->first_crash);
}

static void check_detected(enum mr_scenario sc, enum mr_handler h) {
    mr_result r;
    mr_run(&r, sc, nops, RUNS, h);
    report(mr_scenario_names[sc], &r);
    CHECK_EQ(r.runs, RUNS);
    CHECK_EQ(r.setup_failed, 0);
    CHECK_EQ(r.other_message, 0);
    CHECK(r.detected >= 1);
}

static void test_write_write(void) { check_detected(MR_WRITE_WRITE, MR_HANDLER_EXIT); }
static void test_write_write_default_handler(void) { check_detected(MR_WRITE_WRITE, MR_HANDLER_DEFAULT); }
static void test_iter_write(void) { check_detected(MR_ITER_WRITE, MR_HANDLER_EXIT); }
static void test_iter_write_default_handler(void) { check_detected(MR_ITER_WRITE, MR_HANDLER_DEFAULT); }

static void test_read_write_measured(void) {
    mr_result r;
    mr_run(&r, MR_READ_WRITE, nops, RUNS, MR_HANDLER_EXIT);
    report(mr_scenario_names[MR_READ_WRITE], &r);
    CHECK_EQ(r.runs, RUNS);
    CHECK_EQ(r.setup_failed, 0);
    CHECK_EQ(r.other_message, 0);
}

/* The checks themselves: the same runs with the two threads one after the
   other (no race) end clean, every one. */
static void test_serial_is_clean(void) {
    mr_serial = true;
    for (int sc = 0; sc < MR_NSCENARIOS; sc++) {
        mr_result r;
        mr_run(&r, (enum mr_scenario)sc, nops / 10, 2, MR_HANDLER_EXIT);
        CHECK_EQ(r.silent, 2);
    }
    mr_serial = false;
}

int main(void) {
    if (MR_UNDER_TSAN) {
        printf("test_misuse_rates: skipped under ThreadSanitizer (the races are the point)\n");
        return 77;
    }
    nops = tu_scaled(100000, 100000); /* not fewer under "small": fewer overlap less */
    RUN(test_serial_is_clean);
    RUN(test_write_write);
    RUN(test_write_write_default_handler);
    RUN(test_iter_write);
    RUN(test_iter_write_default_handler);
    RUN(test_read_write_measured);
    return tu_finish();
}

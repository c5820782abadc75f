/*
 * testutil.h -- what every test program shares: CHECK macros that survive
 * NDEBUG, a deterministic random generator, and a counting allocator that can
 * be told to fail its Nth allocation.
 */
#ifndef GOMAP_TESTUTIL_H
#define GOMAP_TESTUTIL_H

#include "gomap.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_failures;

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            tu_failures++;                                                         \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                             \
    do {                                                                           \
        long long tu_a_ = (long long)(a), tu_b_ = (long long)(b);                  \
        if (tu_a_ != tu_b_) {                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n",   \
                    __FILE__, __LINE__, #a, #b, tu_a_, tu_b_);                     \
            tu_failures++;                                                         \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

/* gomap_check() must pass; print the broken invariant otherwise. */
#define CHECK_MAP(m)                                                               \
    do {                                                                           \
        char tu_msg_[256];                                                         \
        int tu_inv_ = gomap_check((m), tu_msg_, sizeof tu_msg_);                   \
        if (tu_inv_ != 0) {                                                        \
            fprintf(stderr, "%s:%d: invariant I%d broken: %s\n", __FILE__,         \
                    __LINE__, tu_inv_, tu_msg_);                                   \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

/*
 * How much work the randomized and stress tests do, from GOMAP_TEST_SCALE:
 *   unset   the default run (`make test`): every test in seconds
 *   small   a tenth of it (the sanitizer builds)
 *   long    ten times it: the soak (`make test-long`)
 */
static inline bool tu_scale_is(const char *name) {
    const char *s = getenv("GOMAP_TEST_SCALE");
    return s && strcmp(s, name) == 0;
}
/* 10 under GOMAP_TEST_SCALE=small, else 1. */
static inline long tu_scale_div(void) { return tu_scale_is("small") ? 10 : 1; }
/* 10 under GOMAP_TEST_SCALE=long, else 1. */
static inline long tu_scale_mul(void) { return tu_scale_is("long") ? 10 : 1; }
/* n scaled for the run: divided for small runs (never below lo),
   multiplied for long ones. */
static inline long tu_scaled(long n, long lo) {
    long v = n / tu_scale_div() * tu_scale_mul();
    return v < lo ? lo : v;
}

#ifdef GOMAP_SYNC_H
/* gomap_sync_check() must pass (include gomap_sync.h first). */
#define CHECK_SYNC(m)                                                               \
    do {                                                                            \
        char msg_[256];                                                             \
        int inv_ = gomap_sync_check((m), msg_, sizeof msg_);                        \
        if (inv_ != 0) {                                                            \
            fprintf(stderr, "%s:%d: invariant S%d broken: %s\n", __FILE__, __LINE__, \
                    inv_, msg_);                                                    \
            exit(1);                                                                \
        }                                                                           \
    } while (0)
#endif

/* Run a named test function and say so. */
#define RUN(fn)                                                                    \
    do {                                                                           \
        fprintf(stderr, "  %-40s", #fn);                                           \
        fn();                                                                      \
        fprintf(stderr, " ok\n");                                                  \
        tu_passed++;                                                               \
    } while (0)
static int tu_passed;

/* xorshift64*: deterministic per seed. */
static uint64_t tu_rng_state = 0x9E3779B97F4A7C15ull;
static inline void tu_seed(uint64_t s) { tu_rng_state = s ? s : 1; }
static inline uint64_t tu_rand(void) {
    uint64_t x = tu_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tu_rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* ---- the counting, failing allocator ------------------------------------ */

typedef struct tu_alloc {
    long long calls;        /* allocations attempted */
    long long fail_at;      /* fail the allocation with this index (0-based), -1: never */
    long long fail_every;   /* >0: fail every Nth allocation too */
    long long failed;       /* allocations refused */
    long long live;         /* outstanding allocations */
    long long live_bytes;
} tu_alloc;

static void *tu_alloc_fn(void *ctx, size_t size) {
    tu_alloc *a = (tu_alloc *)ctx;
    long long n = a->calls++;
    if (n == a->fail_at || (a->fail_every > 0 && n % a->fail_every == a->fail_every - 1)) {
        a->failed++;
        return NULL;
    }
    void *p = malloc(size ? size : 1);
    if (p) {
        a->live++;
        a->live_bytes += (long long)size;
    }
    return p;
}

static void tu_free_fn(void *ctx, void *p, size_t size) {
    tu_alloc *a = (tu_alloc *)ctx;
    if (!p) return;
    a->live--;
    a->live_bytes -= (long long)size;
    free(p);
}

static inline gomap_allocator tu_allocator(tu_alloc *a) {
    a->fail_at = -1;
    gomap_allocator g = {tu_alloc_fn, tu_free_fn, a};
    return g;
}

/* The closing line ctest-free runners understand: "N passed, N failed". */
static inline int tu_finish(void) {
    printf("%d passed, %d failed\n", tu_passed, tu_failures);
    return tu_failures ? 1 : 0;
}

#endif

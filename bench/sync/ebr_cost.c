/*
 * ebr_cost.c -- what a read-side section costs: gomap_sync's built-in EBR
 * (src/ebr.h) against liburcu's membarrier flavour (urcu-memb), one thread,
 * with one relaxed load inside each section standing for the read.  Also a
 * whole gomap_sync_load() hit and miss.  Best of 5 runs of 10^8 sections.
 *
 *   build-bench/bench/sync/bench_sync_ebr_cost
 *   GOMAP_EBR=fence build-bench/bench/sync/bench_sync_ebr_cost   (fence mode)
 */
#include "ebr.h"
#include "gomap_sync.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(SB_HAVE_URCU)
#define _LGPL_SOURCE 1
#include <urcu/urcu-memb.h>
#endif

static _Atomic uint64_t g_word;
static uint64_t g_sink;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef void (*loop_fn)(long n);

static void loop_baseline(long n) {
    uint64_t s = 0;
    for (long i = 0; i < n; i++) {
        s += atomic_load_explicit(&g_word, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    }
    g_sink += s;
}

static void loop_ebr(long n) {
    uint64_t s = 0;
    for (long i = 0; i < n; i++) {
        gm_ebr_rec *r = gm_ebr_self();
        gm_ebr_enter(r);
        s += atomic_load_explicit(&g_word, memory_order_relaxed);
        gm_ebr_exit(r);
    }
    g_sink += s;
}

static void loop_fence(long n) { /* what the read side costs without membarrier */
    uint64_t s = 0;
    static _Atomic uint64_t local;
    for (long i = 0; i < n; i++) {
        atomic_store_explicit(&local, 3, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        s += atomic_load_explicit(&g_word, memory_order_relaxed);
        atomic_store_explicit(&local, 0, memory_order_release);
    }
    g_sink += s;
}

#if defined(SB_HAVE_URCU)
static void loop_urcu(long n) {
    uint64_t s = 0;
    for (long i = 0; i < n; i++) {
        urcu_memb_read_lock();
        s += atomic_load_explicit(&g_word, memory_order_relaxed);
        urcu_memb_read_unlock();
    }
    g_sink += s;
}
#endif

static gomap_sync *g_map;

static void loop_load_hit(long n) {
    uint64_t s = 0, v;
    for (long i = 0; i < n; i++) {
        uint64_t k = (uint64_t)i & 1023;
        if (gomap_sync_load(g_map, &k, &v) == 1) s += v;
    }
    g_sink += s;
}

static void loop_load_miss(long n) {
    uint64_t s = 0, v;
    for (long i = 0; i < n; i++) {
        uint64_t k = ((uint64_t)i & 1023) + 1000000;
        if (gomap_sync_load(g_map, &k, &v) == 1) s += v;
    }
    g_sink += s;
}

static double best_of(loop_fn f, long n) {
    double best = 1e30;
    f(n / 10); /* warm up */
    for (int r = 0; r < 5; r++) {
        double t0 = now_ns();
        f(n);
        double t = (now_ns() - t0) / (double)n;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000000L;
    if (n < 1000) n = 1000;
    gomap_type t = GOMAP_TYPE_U64_U64;
    if (gomap_sync_create(&g_map, &t, NULL) != GOMAP_OK) return 1;
    for (uint64_t k = 0; k < 1024; k++) gomap_sync_store(g_map, &k, &k);
    gomap_sync_stats st;
    gomap_sync_stats_get(g_map, &st);
    double base = best_of(loop_baseline, n);
    double ebr = best_of(loop_ebr, n);
    double fence = best_of(loop_fence, n);
    printf("read side (ns per section, one relaxed load inside; the empty loop is subtracted)\n");
    printf("  loop alone                         %6.2f ns\n", base);
    printf("  gomap EBR enter+exit (%s)   %6.2f ns\n",
           st.membarrier ? "membarrier" : "fence     ", ebr - base);
    printf("  store + seq_cst fence + store      %6.2f ns\n", fence - base);
#if defined(SB_HAVE_URCU)
    urcu_memb_register_thread();
    double urcu = best_of(loop_urcu, n);
    urcu_memb_unregister_thread();
    printf("  liburcu urcu-memb lock+unlock      %6.2f ns\n", urcu - base);
#else
    printf("  liburcu urcu-memb lock+unlock      (liburcu not found)\n");
#endif
    printf("whole calls (ns per call, 1024 keys, u64 -> u64)\n");
    printf("  gomap_sync_load hit                %6.2f ns\n", best_of(loop_load_hit, n / 10));
    printf("  gomap_sync_load miss               %6.2f ns\n", best_of(loop_load_miss, n / 10));
    gomap_sync_free(g_map);
    gomap_sync_barrier();
    return g_sink == 42 ? 2 : 0;
}

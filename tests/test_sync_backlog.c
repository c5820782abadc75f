/*
 * test_sync_backlog.c -- the retired-node backlog is bounded by the threads
 * registered now, not by every thread that ever called a map.
 *
 * Writers that seal a retirement batch while the sealed backlog is over
 * L = 2048 + 512 x T nodes (T: threads registered now, see "Memory" in
 * gomap_sync.h) wait for lagging readers.  The test:
 *
 *   1. 32 threads call the map at the same time, then exit: while they run
 *      T counts them (and the main thread); once they are joined it is 1,
 *      and 0 once the main thread detaches.
 *   2. 3 threads churn one map; one of them now and then stalls inside a
 *      call (its key equality blocks), holding back every epoch advance,
 *      and returns only once the backlog is over L and the other two have
 *      stopped making progress -- they wait for it in the throttle.  The
 *      sampled peak must stay within the documented bound for 3 threads:
 *      L + 128 x (3 + the waits that ran out).  With the limit sized by
 *      every thread that ever registered (33 here), writers would not wait
 *      below ~19,000 nodes, and the peak reached 19,100.
 *
 * The stall ends on an event (no churner progressed across one of the
 * staller's short sleeps), not after a time; the work is bounded by
 * counting.
 */
#include "gomap_sync.h"
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define BATCH 128                   /* GM_EBR_BAG_CAP */
#define LIMIT_BASE (16 * BATCH)     /* GM_EBR_BACKLOG_BASE */
#define LIMIT_PER_THREAD (4 * BATCH) /* GM_EBR_BACKLOG_PER_THREAD */
#define NKEYS 4000
#define STALL_KEY ((uint64_t)1 << 40) /* never churned */

static gomap_sync_stats process_stats(void) {
    gomap_sync_stats st;
    gomap_sync_stats_get(NULL, &st); /* NULL: does not register the caller */
    return st;
}
static size_t process_retired(void) { return process_stats().retired_process; }

/* The limit and the thread count it is sized by, as the stats report them. */
static void check_threads(unsigned n) {
    gomap_sync_stats st = process_stats();
    CHECK_EQ(st.threads, n);
    CHECK_EQ(st.retired_limit, LIMIT_BASE + (size_t)n * LIMIT_PER_THREAD);
}

static uint64_t hash_u64(const void *k, uint64_t seed) {
    uint64_t x;
    memcpy(&x, k, 8);
    return gomap_hash_u64(x, seed);
}

/* ---- part 1: threads that register and exit ------------------------------ */

enum { NPAST = 32 };
static pthread_barrier_t g_all_in;

typedef struct past {
    gomap_sync *m;
    uint64_t key;
} past;

static void *past_thread(void *p) {
    past *a = (past *)p;
    uint64_t v = 1;
    CHECK_EQ(gomap_sync_store(a->m, &a->key, &v), 1); /* registers */
    CHECK_EQ(gomap_sync_delete(a->m, &a->key), 1);
    pthread_barrier_wait(&g_all_in); /* all NPAST registered at once */
    pthread_barrier_wait(&g_all_in); /* main has looked */
    return NULL;
}

static void run_past_threads(gomap_sync *m) {
    pthread_t th[NPAST];
    past args[NPAST];
    CHECK_EQ(pthread_barrier_init(&g_all_in, NULL, NPAST + 1), 0);
    for (int i = 0; i < NPAST; i++) {
        args[i].m = m;
        args[i].key = NKEYS + (uint64_t)i;
        CHECK_EQ(pthread_create(&th[i], NULL, past_thread, &args[i]), 0);
    }
    pthread_barrier_wait(&g_all_in);
    check_threads(NPAST + 1); /* they and main */
    pthread_barrier_wait(&g_all_in);
    for (int i = 0; i < NPAST; i++) CHECK_EQ(pthread_join(th[i], NULL), 0);
    check_threads(1); /* thread exit released their records */
    CHECK_EQ(pthread_barrier_destroy(&g_all_in), 0);
}

/* ---- part 2: churn with one thread stalling inside calls ------------------- */

enum { NCHURN = 2 }; /* plus the staller, which churns too: 3 threads */
static _Atomic long long g_progress[NCHURN];
static _Atomic int g_stop;
static _Atomic size_t g_peak;
static _Atomic long g_stalls, g_overruns;
static _Thread_local bool t_stall;

static void sample_peak(void) {
    size_t r = process_retired();
    size_t p = atomic_load(&g_peak);
    while (r > p && !atomic_compare_exchange_weak(&g_peak, &p, r)) {
    }
}

static long long progress_sum(void) {
    long long s = 0;
    for (int i = 0; i < NCHURN; i++) s += atomic_load(&g_progress[i]);
    return s;
}

/* Churner work allowed during one stall before it is called an overrun: the
   churners retire ~2 nodes in 3 ops, so this is several times any bound. */
#define STALL_CAP 200000

/* The staller's key equality: inside gomap_sync_load, in a read-side
   section, it waits until the backlog is over the limit and the churners
   have stopped progressing (they wait for it in the throttle), then
   returns. */
static bool eq_stall(const void *a, const void *b) {
    if (t_stall) {
        t_stall = false;
        long long start = progress_sum(), last = start;
        for (;;) {
            /* a short sleep, not a yield: a yield hands the CPU to whatever
               else runs there for a whole time slice, longer than writers
               wait; a thread waking from a sleep gets the CPU back soon */
            struct timespec ts = {0, 10000};
            nanosleep(&ts, NULL);
            sample_peak();
            long long now = progress_sum();
            gomap_sync_stats st = process_stats();
            if (now == last && st.retired_process > st.retired_limit) break;
            if (now - start > STALL_CAP) {
                atomic_fetch_add(&g_overruns, 1);
                break;
            }
            last = now;
        }
        atomic_fetch_add(&g_stalls, 1);
    }
    return memcmp(a, b, 8) == 0;
}

static void churn(gomap_sync *m, uint64_t i) {
    uint64_t k = (i * 0x9E3779B97F4A7C15ull >> 20) % NKEYS, v = i;
    if (i % 3 == 0)
        gomap_sync_delete(m, &k);
    else
        gomap_sync_store(m, &k, &v);
}

typedef struct worker {
    gomap_sync *m;
    int id;
    long stalls; /* staller only */
} worker;

static pthread_barrier_t g_start, g_end;

static void *churner(void *p) {
    worker *w = (worker *)p;
    uint64_t base = (uint64_t)w->id * 1000003u;
    churn(w->m, base); /* registers */
    pthread_barrier_wait(&g_start);
    for (uint64_t i = 1; !atomic_load(&g_stop); i++) {
        churn(w->m, base + i);
        atomic_fetch_add(&g_progress[w->id], 1);
        sample_peak();
    }
    pthread_barrier_wait(&g_end); /* no exit seals a batch while others sample */
    return NULL;
}

static void *staller(void *p) {
    worker *w = (worker *)p;
    uint64_t base = 7777777u, i = 0;
    churn(w->m, base + i++); /* registers */
    pthread_barrier_wait(&g_start);
    check_threads(NCHURN + 1); /* every thread has registered, main has not */
    for (long s = 0; s < w->stalls; s++) {
        for (int j = 0; j < 500; j++) churn(w->m, base + i++);
        uint64_t k = STALL_KEY, v = 0;
        t_stall = true;
        CHECK_EQ(gomap_sync_load(w->m, &k, &v), 1);
        CHECK_EQ(v, STALL_KEY);
    }
    atomic_store(&g_stop, 1);
    pthread_barrier_wait(&g_end);
    return NULL;
}

static void test_dead_threads_leave_the_bound(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_BYTES, 8, 8, 8);
    t.kind = GOMAP_KEY_CUSTOM;
    t.hash = hash_u64;
    t.equal = eq_stall;
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, NULL), GOMAP_OK);
    uint64_t sk = STALL_KEY;
    CHECK_EQ(gomap_sync_store(m, &sk, &sk), 1);
    for (uint64_t k = 0; k < NKEYS; k++) CHECK_EQ(gomap_sync_store(m, &k, &k), 1);

    run_past_threads(m);
    CHECK_EQ(gomap_sync_thread_detach(), GOMAP_OK); /* main is not one of the 3 */
    check_threads(0);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(process_retired(), 0);

    enum { NT = NCHURN + 1 };
    worker ws[NT];
    pthread_t th[NT];
    CHECK_EQ(pthread_barrier_init(&g_start, NULL, NT), 0);
    CHECK_EQ(pthread_barrier_init(&g_end, NULL, NT), 0);
    uint64_t timeouts = process_stats().throttle_timeouts;
    for (int i = 0; i < NT; i++) {
        ws[i].m = m;
        ws[i].id = i;
        ws[i].stalls = tu_scaled(40, 6);
        CHECK_EQ(pthread_create(&th[i], NULL, i < NCHURN ? churner : staller, &ws[i]), 0);
    }
    for (int i = 0; i < NT; i++) CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK_EQ(pthread_barrier_destroy(&g_start), 0);
    CHECK_EQ(pthread_barrier_destroy(&g_end), 0);
    timeouts = process_stats().throttle_timeouts - timeouts;

    /* The documented bound: the limit for NT threads, plus one batch per
       thread sealed before it waits, plus one per wait that ran out (a
       machine so busy that the staller got no CPU for a whole wait). */
    size_t peak = atomic_load(&g_peak);
    size_t bound = LIMIT_BASE + (size_t)NT * LIMIT_PER_THREAD + ((size_t)NT + timeouts) * BATCH;
    fprintf(stderr, "[peak %zu sealed, bound %zu (%llu waits ran out), %ld stalls, %lld churn ops] ",
            peak, bound, (unsigned long long)timeouts, atomic_load(&g_stalls), progress_sum());
    CHECK_EQ(atomic_load(&g_stalls), ws[NCHURN].stalls);
    CHECK_EQ(atomic_load(&g_overruns), 0);
    /* the stalls held the epoch until the backlog passed the limit */
    CHECK(peak > LIMIT_BASE + (size_t)NT * LIMIT_PER_THREAD);
    CHECK(peak <= bound);

    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(process_retired(), 0);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
}

int main(void) {
    RUN(test_dead_threads_leave_the_bound);
    return tu_finish();
}

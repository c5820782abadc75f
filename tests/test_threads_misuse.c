/*
 * test_threads_misuse.c -- many readers at once are not misuse (gomap.h
 * "Threads"): several threads look keys up,
 * iterate (to the end and abandoned early), take len, stats, check and
 * clones of the same maps at the same time, with no writer.  The fatal
 * handler must never be called, every read must see the right data, and
 * under ThreadSanitizer (make test-tsan runs this file) no race may be
 * reported.  The maps are left in the middle of a grow, so that readers
 * and iterators also take the old-bucket paths.  A second test lets the
 * readers free memory that was kept for an iterator parked on an old array.
 */
#include "gomap.h"
#include "refmodel.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>

enum { NTHREADS = 4 };

static atomic_int fatal_calls;
static void count_fatal(const char *msg) {
    (void)msg;
    atomic_fetch_add(&fatal_calls, 1);
}

static gomap *map_u64, *map_str;
static size_t n_u64, n_str;
static char (*strs)[48];
static long rounds;
static atomic_int failures;

#define T_CHECK(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: thread check failed: %s\n", __FILE__, __LINE__, #cond); \
            atomic_fetch_add(&failures, 1);                                             \
            return NULL;                                                                \
        }                                                                               \
    } while (0)

static uint64_t u64_key(size_t i) { return (uint64_t)i * 0x9E3779B97F4A7C15ull; }

static void *reader(void *arg) {
    size_t self = (size_t)(uintptr_t)arg;
    unsigned char *seen = (unsigned char *)calloc(n_u64 > n_str ? n_u64 : n_str, 1);
    T_CHECK(seen != NULL);
    uint64_t rng = 0x1234567ull + self;
    for (long r = 0; r < rounds; r++) {
        /* lookups, hits and misses */
        for (size_t i = self; i < n_u64; i += 3) {
            uint64_t k = u64_key(i);
            uint64_t *v = (uint64_t *)gomap_get(map_u64, &k);
            T_CHECK(v != NULL && *v == i);
            k = u64_key(i + n_u64);
            T_CHECK(gomap_get(map_u64, &k) == NULL);
        }
        for (size_t i = 0; i < n_str; i += 2) {
            gomap_str s = {strs[i], strlen(strs[i])};
            const void *sk = NULL;
            uint64_t *v = (uint64_t *)gomap_get_key(map_str, &s, &sk);
            T_CHECK(v != NULL && *v == i && sk != NULL);
        }
        T_CHECK(gomap_len(map_u64) == n_u64);
        gomap_stats s;
        gomap_stats_get(map_u64, &s);
        T_CHECK(s.count == n_u64);
        /* a full iteration: every entry once */
        memset(seen, 0, n_u64);
        gomap_iter it;
        size_t cnt = 0;
        gomap_iter_init(&it, map_u64);
        while (gomap_iter_next(&it)) {
            uint64_t v;
            memcpy(&v, it.val, 8);
            T_CHECK(v < n_u64 && !seen[v]);
            uint64_t k;
            memcpy(&k, it.key, 8);
            T_CHECK(k == u64_key(v));
            seen[v] = 1;
            cnt++;
        }
        T_CHECK(cnt == n_u64);
        /* string map, abandoned early at a random point */
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t stop = (size_t)(rng >> 33) % (n_str + 1);
        memset(seen, 0, n_str);
        gomap_iter_init(&it, map_str);
        cnt = 0;
        bool more = true;
        while (cnt < stop && (more = gomap_iter_next(&it))) {
            uint64_t v;
            memcpy(&v, it.val, 8);
            T_CHECK(v < n_str && !seen[v]);
            seen[v] = 1;
            cnt++;
        }
        if (more) gomap_iter_done(&it);
        /* now and then: the checker and a clone */
        if (r % 8 == (long)self % 8) {
            char msg[128];
            T_CHECK(gomap_check(map_u64, msg, sizeof msg) == 0);
            T_CHECK(gomap_check(map_str, msg, sizeof msg) == 0);
            gomap *c = gomap_clone(map_str);
            T_CHECK(c != NULL);
            T_CHECK(gomap_len(c) == n_str);
            gomap_free(c);
        }
    }
    free(seen);
    return NULL;
}

/* Fill to the load limit of 2^B buckets and one more, and on until a grow
   is in progress. */
static void build(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    map_u64 = gomap_new(&t, 6656);
    CHECK(map_u64 != NULL);
    gomap_stats s;
    for (n_u64 = 0;;) {
        uint64_t k = u64_key(n_u64), v = n_u64;
        CHECK_EQ(gomap_put(map_u64, &k, &v), 1);
        n_u64++;
        gomap_stats_get(map_u64, &s);
        if (s.growing) break;
        CHECK(n_u64 < 6657 + 64);
    }
    CHECK(n_u64 >= 6657); /* 6.5 * 1024 + 1 */

    t = GOMAP_TYPE_STR_U64;
    n_str = 833; /* 6.5 * 128 + 1 */
    strs = (char(*)[48])calloc(n_str, sizeof *strs);
    CHECK(strs != NULL);
    map_str = gomap_new(&t, 832);
    CHECK(map_str != NULL);
    for (size_t i = 0; i < n_str; i++) {
        snprintf(strs[i], sizeof strs[i], "key-%zu-%zu", i, i * 7919);
        gomap_str k = {strs[i], strlen(strs[i])};
        uint64_t v = i;
        CHECK_EQ(gomap_put(map_str, &k, &v), 1);
    }
    gomap_stats_get(map_str, &s);
    CHECK(s.growing);
}

static void test_concurrent_readers(void) {
    build();
    pthread_t th[NTHREADS];
    for (size_t i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)i) == 0);
    for (size_t i = 0; i < NTHREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    CHECK_EQ(atomic_load(&failures), 0);
    CHECK_EQ(atomic_load(&fatal_calls), 0);
    gomap_stats s;
    gomap_stats_get(map_u64, &s);
    CHECK_EQ(s.live_iterators, 0);
    CHECK(s.growing); /* readers did no growth work */
    gomap_stats_get(map_str, &s);
    CHECK_EQ(s.live_iterators, 0);
    CHECK_MAP(map_u64);
    CHECK_MAP(map_str);
    /* and a writer afterwards is fine */
    uint64_t k = 1, v = 2;
    CHECK(gomap_put(map_u64, &k, &v) >= 0);
    CHECK_EQ(atomic_load(&fatal_calls), 0);
    gomap_free(map_u64);
    gomap_free(map_str);
    free(strs);
}

/* ---- memory released by readers ------------------------------------------------ */

/*
 * An iterator parked on an old array keeps retired memory; when it is done
 * while other threads iterate, the memory is freed by whichever reader
 * finishes last (gomap.h: "in that call ... or at the next write").  Those
 * frees must not overlap each other (the allocator is never called from two
 * threads at once for one map), nor race with readers.  The allocator counts
 * with atomics and flags overlapping calls.
 */
static atomic_int alloc_inside, alloc_overlaps;
static atomic_llong alloc_live, alloc_live_bytes;

static void *checking_alloc(void *ctx, size_t size) {
    (void)ctx;
    if (atomic_exchange(&alloc_inside, 1)) atomic_fetch_add(&alloc_overlaps, 1);
    void *p = malloc(size ? size : 1);
    if (p) {
        atomic_fetch_add(&alloc_live, 1);
        atomic_fetch_add(&alloc_live_bytes, (long long)size);
    }
    atomic_store(&alloc_inside, 0);
    return p;
}

static void checking_free(void *ctx, void *p, size_t size) {
    (void)ctx;
    if (!p) return;
    if (atomic_exchange(&alloc_inside, 1)) atomic_fetch_add(&alloc_overlaps, 1);
    atomic_fetch_sub(&alloc_live, 1);
    atomic_fetch_sub(&alloc_live_bytes, (long long)size);
    free(p);
    atomic_store(&alloc_inside, 0);
}

static gomap *map_rel;
static size_t n_rel;
static atomic_int readers_started;

static void *release_reader(void *arg) {
    (void)arg;
    atomic_fetch_add(&readers_started, 1);
    for (long r = 0; r < rounds; r++) {
        gomap_iter it;
        size_t cnt = 0;
        gomap_iter_init(&it, map_rel);
        while (gomap_iter_next(&it)) {
            uint64_t v;
            memcpy(&v, it.val, 8);
            T_CHECK(v < n_rel);
            /* stop early now and then: gomap_iter_done does the release */
            if (++cnt == (size_t)r * 37 % n_rel + 1 && r % 3 == 0) {
                gomap_iter_done(&it);
                break;
            }
        }
        if (r % 3 != 0) T_CHECK(cnt == n_rel);
        uint64_t k = u64_key((size_t)r % n_rel);
        uint64_t *v = (uint64_t *)gomap_get(map_rel, &k);
        T_CHECK(v != NULL && *v == (size_t)r % n_rel);
        gomap_stats s;
        gomap_stats_get(map_rel, &s);
        T_CHECK(s.count == n_rel);
        T_CHECK(gomap_len(map_rel) == n_rel);
    }
    return NULL;
}

static void test_concurrent_release(void) {
    for (int rep = 0; rep < 4; rep++) {
        gomap_allocator al = {checking_alloc, checking_free, NULL};
        gomap_type t = GOMAP_TYPE_U64_U64;
        map_rel = gomap_new_with(&t, 0, &al);
        CHECK(map_rel != NULL);
        for (size_t i = 0; i < 100; i++) {
            uint64_t k = u64_key(i), v = i;
            CHECK_EQ(gomap_put(map_rel, &k, &v), 1);
        }
        /* park an iterator, then grow: the old arrays are kept for it */
        gomap_iter parked;
        gomap_iter_init(&parked, map_rel);
        CHECK(gomap_iter_next(&parked));
        n_rel = 5000;
        for (size_t i = 100; i < n_rel; i++) {
            uint64_t k = u64_key(i), v = i;
            CHECK_EQ(gomap_put(map_rel, &k, &v), 1);
        }
        gomap_stats s;
        gomap_stats_get(map_rel, &s);
        CHECK(s.retired_blocks > 0);
        atomic_store(&readers_started, 0);
        pthread_t th[NTHREADS];
        for (size_t i = 0; i < NTHREADS; i++) CHECK(pthread_create(&th[i], NULL, release_reader, NULL) == 0);
        while (atomic_load(&readers_started) < NTHREADS) {
        }
        gomap_iter_done(&parked); /* from now on, some reader may free */
        for (size_t i = 0; i < NTHREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
        CHECK_EQ(atomic_load(&failures), 0);
        CHECK_EQ(atomic_load(&fatal_calls), 0);
        CHECK_EQ(atomic_load(&alloc_overlaps), 0);
        gomap_stats_get(map_rel, &s);
        CHECK_EQ(s.live_iterators, 0);
        /* freed by the last reader, or at the latest by the next write */
        uint64_t k = u64_key(0), v = 0;
        CHECK_EQ(gomap_put(map_rel, &k, &v), 0);
        gomap_stats_get(map_rel, &s);
        CHECK_EQ(s.retired_blocks, 0);
        CHECK_EQ(s.bytes, atomic_load(&alloc_live_bytes));
        CHECK_MAP(map_rel);
        gomap_free(map_rel);
        CHECK_EQ(atomic_load(&alloc_live), 0);
    }
}

int main(void) {
    rounds = tu_scaled(300, 30);
    gomap_set_fatal_handler(count_fatal);
    RUN(test_concurrent_readers);
    RUN(test_concurrent_release);
    gomap_set_fatal_handler(NULL);
    return tu_finish();
}

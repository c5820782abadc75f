/*
 * test_map_work.c -- the work counters (gomap_set_counting): what lookups,
 * writes, iteration and clear visit, counted exactly, and Go's rule that
 * iterating or clearing a map that grew and then emptied costs one pass
 * over its buckets, no more.
 */
#include "testutil.h"

static gomap *new_u64(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m);
    return m;
}

static uint64_t key(uint64_t i) { return i * 0x9E3779B97F4A7C15ull + 1; }

static void put(gomap *m, uint64_t k) { CHECK(gomap_put(m, &k, &k) >= 0); }

static void work(const gomap *m, uint64_t *buckets, uint64_t *slots) {
    gomap_stats s;
    gomap_stats_get(m, &s);
    *buckets = s.visited_buckets;
    *slots = s.visited_slots;
}

/* Buckets a full walk reads: every chain, overflow buckets included. */
static uint64_t all_buckets(const gomap *m) {
    gomap_stats s;
    gomap_stats_get(m, &s);
    CHECK(!s.growing);
    return s.buckets + s.overflow_buckets;
}

static void finish_grow(gomap *m) {
    gomap_stats s;
    uint64_t absent = (uint64_t)1 << 63;
    for (gomap_stats_get(m, &s); s.growing; gomap_stats_get(m, &s)) CHECK_EQ(gomap_delete(m, &absent), 0);
}

static void test_off_counts_nothing(void) {
    gomap *m = new_u64();
    for (uint64_t i = 0; i < 1000; i++) put(m, key(i));
    uint64_t k = key(5);
    CHECK(gomap_get(m, &k));
    gomap_iter it;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it)) {}
    uint64_t b, s;
    work(m, &b, &s);
    CHECK_EQ(b, 0);
    CHECK_EQ(s, 0);
    gomap_stats st;
    gomap_stats_get(m, &st);
    CHECK(!st.counting);
    CHECK(!gomap_set_counting(m, true));
    CHECK(gomap_set_counting(m, true));
    CHECK(!gomap_set_counting(NULL, true));
    gomap_free(m);
}

/* One entry: a hit reads one bucket and compares one key; a write too. */
static void test_single_entry(void) {
    gomap *m = new_u64();
    gomap_set_counting(m, true);
    uint64_t k = key(1), b, s;
    put(m, k);
    work(m, &b, &s);
    CHECK_EQ(b, 1); /* the insert read the (empty) bucket */
    CHECK_EQ(s, 0);
    CHECK(gomap_get(m, &k));
    work(m, &b, &s);
    CHECK_EQ(b, 2);
    CHECK_EQ(s, 1);
    CHECK_EQ(gomap_put(m, &k, &k), 0); /* an update */
    work(m, &b, &s);
    CHECK_EQ(b, 3);
    CHECK_EQ(s, 2);
    CHECK_EQ(gomap_delete(m, &k), 1);
    work(m, &b, &s);
    CHECK_EQ(b, 4);
    CHECK_EQ(s, 3);
    /* an empty map answers without hashing or reading a bucket */
    CHECK(!gomap_get(m, &k));
    CHECK_EQ(gomap_delete(m, &k), 0);
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    work(m, &b, &s);
    CHECK_EQ(b, 4);
    CHECK_EQ(s, 3);
    gomap_free(m);
}

/* Hits and misses of a full map read about one bucket each (chains are
   short at 6.5 per bucket) and compare about one key per hit. */
static void test_lookups(void) {
    gomap *m = new_u64();
    const uint64_t n = (uint64_t)tu_scaled(100000, 20000);
    for (uint64_t i = 0; i < n; i++) put(m, key(i));
    finish_grow(m);
    gomap_set_counting(m, true);
    uint64_t b0, s0, b1, s1, b2, s2;
    work(m, &b0, &s0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = key(i);
        CHECK(gomap_get(m, &k));
    }
    work(m, &b1, &s1);
    CHECK(b1 - b0 >= n);
    CHECK((b1 - b0) * 10 <= n * 12); /* at most 1.2 buckets per hit */
    CHECK(s1 - s0 >= n);
    CHECK((s1 - s0) * 100 <= n * 105); /* tophash false matches are rare */
    for (uint64_t i = n; i < 2 * n; i++) {
        uint64_t k = key(i);
        CHECK(!gomap_get(m, &k));
    }
    work(m, &b2, &s2);
    CHECK(b2 - b1 >= n);
    CHECK((b2 - b1) * 10 <= n * 13);
    CHECK((s2 - s1) * 100 <= n * 5);
    gomap_free(m);
}

/* Iterating reads every chain once and examines every entry once; the
   batch walk counts the same. */
static void test_iteration(void) {
    gomap *m = new_u64();
    const uint64_t n = (uint64_t)tu_scaled(50000, 10000);
    for (uint64_t i = 0; i < n; i++) put(m, key(i));
    finish_grow(m);
    gomap_set_counting(m, true);
    for (int bulk = 0; bulk < 2; bulk++) {
        uint64_t b0, s0, b1, s1;
        work(m, &b0, &s0);
        gomap_iter it;
        gomap_iter_init(&it, m);
        size_t got = 0;
        if (bulk) {
            const void *ks[64];
            size_t c;
            while ((c = gomap_iter_next_n(&it, ks, NULL, 64)) > 0) got += c;
        } else {
            while (gomap_iter_next(&it)) got++;
        }
        CHECK_EQ(got, n);
        work(m, &b1, &s1);
        CHECK_EQ(b1 - b0, all_buckets(m));
        CHECK_EQ(s1 - s0, n);
    }
    gomap_free(m);
}

/* Go's classic map never shrinks: a map that grew to n entries and was
   emptied still has its buckets.  Iterating it costs one read of each
   chain and no slot -- linear in the buckets, not quadratic, however many
   times it is done -- and clearing it costs nothing (no entry: no walk);
   with one entry left, a clear walks each chain once. */
static void test_grown_then_emptied(void) {
    gomap *m = new_u64();
    const uint64_t n = (uint64_t)tu_scaled(100000, 20000);
    for (uint64_t i = 0; i < n; i++) put(m, key(i));
    finish_grow(m);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = key(i);
        CHECK_EQ(gomap_delete(m, &k), 1);
    }
    CHECK_EQ(gomap_len(m), 0);
    const uint64_t chains = all_buckets(m);
    CHECK(chains >= n / 8);
    gomap_set_counting(m, true);
    uint64_t b0, s0, b1, s1;
    work(m, &b0, &s0);
    const int rounds = 5;
    for (int r = 0; r < rounds; r++) {
        gomap_iter it;
        gomap_iter_init(&it, m); /* an empty map: exhausted at once */
        CHECK(!gomap_iter_next(&it));
    }
    work(m, &b1, &s1);
    CHECK_EQ(b1 - b0, 0);
    /* one entry: each iteration reads every chain once */
    put(m, key(7));
    work(m, &b0, &s0);
    for (int r = 0; r < rounds; r++) {
        gomap_iter it;
        gomap_iter_init(&it, m);
        CHECK(gomap_iter_next(&it));
        CHECK(!gomap_iter_next(&it));
    }
    work(m, &b1, &s1);
    CHECK_EQ(b1 - b0, (uint64_t)rounds * chains);
    CHECK_EQ(s1 - s0, (uint64_t)rounds);
    /* clear walks every chain once, releasing the one entry */
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    work(m, &b0, &s0);
    CHECK_EQ(b0 - b1, chains);
    CHECK_EQ(s0 - s1, 1);
    /* and a clear of the empty map does nothing */
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    work(m, &b1, &s1);
    CHECK_EQ(b1, b0);
    CHECK_EQ(s1, s0);
    CHECK_MAP(m);
    gomap_free(m);
}

int main(void) {
    RUN(test_off_counts_nothing);
    RUN(test_single_entry);
    RUN(test_lookups);
    RUN(test_iteration);
    RUN(test_grown_then_emptied);
    return tu_finish();
}

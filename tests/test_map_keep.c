/*
 * test_map_keep.c -- what a live iterator keeps alive (I14), and the bound
 * on it when an iterator is never finished.
 *
 * An iterator holds the array that was current when it started (and the
 * old one, if the map was growing then).  When a held array dies, it is
 * kept, and so is what its evacuated slots name when those keys are
 * released: copied string bytes, out-of-line keys, destructor calls.
 * Nothing else waits for the iterator.  So a forgotten iterator --
 * `while (gomap_iter_next(&it)) if (x) break;` with no gomap_iter_done --
 * costs at most two arrays and one key per slot of them.
 */
#include "testutil.h"

#include <stdbool.h>

static gomap_str key_of(char *buf, size_t cap, uint64_t i) {
    int n = snprintf(buf, cap, "key-%llu", (unsigned long long)i);
    gomap_str s = {buf, (size_t)n};
    return s;
}

static void put_str(gomap *m, uint64_t i) {
    char buf[32];
    gomap_str k = key_of(buf, sizeof buf, i);
    CHECK(gomap_put(m, &k, &i) >= 0);
}

static int del_str(gomap *m, uint64_t i) {
    char buf[32];
    gomap_str k = key_of(buf, sizeof buf, i);
    return gomap_delete(m, &k);
}

static gomap *new_str_copy(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_STR_COPY, 0, 8, 8);
    gomap *m = gomap_new(&t, 0);
    CHECK(m);
    return m;
}

/* Slots (with their overflow buckets) of an array of 2^B buckets, at most:
   what a held array can name. */
static size_t slots_of(unsigned B, size_t overflow) { return (((size_t)1 << B) + overflow) * 8; }

/* Rounds of n inserts and n deletes of STR_COPY keys, leaving one entry, on
   a map with a forgotten iterator and on a twin without: the first keeps
   only what its iterator's arrays name, however many rounds. */
static void test_forgotten_iterator_bounded(void) {
    const uint64_t n = (uint64_t)tu_scaled(100000, 10000);
    for (int mid_grow = 0; mid_grow < 2; mid_grow++) {
        gomap *m = new_str_copy(), *twin = new_str_copy();
        /* 10 entries: B = 1; the 27th starts a grow from 4 buckets to 8 */
        uint64_t first = mid_grow ? 27 : 10;
        for (uint64_t i = 0; i < first; i++) {
            put_str(m, i);
            put_str(twin, i);
        }
        gomap_stats s0;
        gomap_stats_get(m, &s0);
        CHECK_EQ(s0.growing, mid_grow == 1);
        gomap_iter it;
        gomap_iter_init(&it, m);
        CHECK(gomap_iter_next(&it)); /* ... and then the caller breaks out */
        /* at most: the current array and the old one, with overflow */
        size_t bound = slots_of(s0.B, s0.overflow_buckets) +
                       (s0.growing ? slots_of((unsigned)(s0.B - 1), 0) : 0);
        for (int round = 0; round < 5; round++) {
            uint64_t base = 1000 + (uint64_t)round * n;
            for (uint64_t i = base; i < base + n; i++) {
                put_str(m, i);
                put_str(twin, i);
            }
            for (uint64_t i = 0; i < first; i++) { /* the first keys too */
                del_str(m, i);
                del_str(twin, i);
            }
            for (uint64_t i = base; i < base + n - (round == 4 ? 1 : 0); i++) {
                CHECK_EQ(del_str(m, i), 1);
                CHECK_EQ(del_str(twin, i), 1);
            }
            gomap_stats s, t;
            gomap_stats_get(m, &s);
            gomap_stats_get(twin, &t);
            CHECK_EQ(s.live_iterators, 1);
            /* kept: the held arrays (1 or 2) and at most one key per slot */
            CHECK(s.retired_blocks <= bound + 2);
            /* the twin's memory, give or take its own overflow buckets
               (another seed, other chains): without the bound the kept
               keys came to several times the whole map */
            CHECK(s.bytes <= t.bytes + t.bytes / 20 + bound * 64);
            CHECK_MAP(m);
        }
        CHECK_EQ(gomap_len(m), 1);
        gomap_iter_done(&it);
        /* what the iterator held is freed by the next write */
        CHECK_EQ(del_str(m, UINT64_MAX), 0);
        gomap_stats s, t;
        gomap_stats_get(m, &s);
        gomap_stats_get(twin, &t);
        CHECK_EQ(s.retired_blocks, 0);
        CHECK_EQ(s.live_iterators, 0);
        CHECK_MAP(m);
        gomap_free(m);
        gomap_free(twin);
    }
}

/* Destructors: a key released while a kept array names it is destroyed
   when the iterator is done; every other one at once. */
static int destroyed;
static uint64_t hash_u64(const void *k, uint64_t seed) { return gomap_hash_u64(*(const uint64_t *)k, seed); }
static bool eq_u64(const void *a, const void *b) { return *(const uint64_t *)a == *(const uint64_t *)b; }
static void destroy_key(void *k) {
    (void)k;
    destroyed++;
}

static void test_forgotten_iterator_destructors(void) {
    gomap_type t = {8, 8, 8, 8, GOMAP_KEY_CUSTOM, 0, hash_u64, eq_u64, destroy_key, NULL};
    gomap *m = gomap_new(&t, 0);
    CHECK(m);
    for (uint64_t i = 0; i < 10; i++) CHECK_EQ(gomap_put(m, &i, &i), 1);
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it));
    destroyed = 0;
    const uint64_t n = (uint64_t)tu_scaled(50000, 5000);
    for (int round = 0; round < 3; round++) {
        for (uint64_t i = 100; i < 100 + n; i++) CHECK_EQ(gomap_put(m, &i, &i), 1);
        for (uint64_t i = 100; i < 100 + n; i++) CHECK_EQ(gomap_delete(m, &i), 1);
    }
    /* The iterator's array (2 buckets) took keys 100..102 before it grew
       at the 14th entry: their first release waits for the iterator.
       Every other key -- those three again in later rounds too: the same
       bytes, other keys -- is destroyed at once. */
    CHECK_EQ(destroyed, (int)(3 * n - 3));
    for (uint64_t i = 0; i < 10; i++) CHECK_EQ(gomap_delete(m, &i), 1);
    /* keys 0..9 sit in evacuated slots of the kept array: they wait */
    CHECK_EQ(destroyed, (int)(3 * n - 3));
    gomap_stats s;
    gomap_stats_get(m, &s);
    CHECK(s.retired_blocks >= 1);
    gomap_iter_done(&it);
    CHECK_EQ(destroyed, (int)(3 * n - 3)); /* the next write runs them */
    uint64_t absent = UINT64_MAX;
    CHECK_EQ(gomap_put(m, &absent, &absent), 1);
    CHECK_EQ(destroyed, (int)(3 * n + 10));
    gomap_stats_get(m, &s);
    CHECK_EQ(s.retired_blocks, 0);
    gomap_free(m);
}

/* What is kept is enough: an iterator over string keys, parked while the
   map grows several times and most of its keys are deleted, still
   produces exactly the survivors (AddressSanitizer checks every byte it
   reads is alive). */
static void test_kept_keys_are_read(void) {
    for (uint64_t seed = 1; seed <= 20; seed++) {
        tu_seed(seed);
        gomap *m = new_str_copy();
        const uint64_t n0 = 50 + tu_rand() % 200;
        for (uint64_t i = 0; i < n0; i++) put_str(m, i);
        gomap_iter it;
        gomap_iter_init(&it, m);
        bool *seen = calloc(n0, 1);
        CHECK(seen);
        size_t steps = tu_rand() % 20;
        for (size_t j = 0; j < steps && gomap_iter_next(&it); j++) {
            uint64_t v = *(const uint64_t *)it.val;
            CHECK(v < n0 && !seen[v]);
            seen[v] = true;
        }
        /* grow several times over, then delete most original keys */
        for (uint64_t i = 1000000; i < 1000000 + 20 * n0; i++) put_str(m, i);
        bool *deleted = calloc(n0, 1);
        CHECK(deleted);
        for (uint64_t i = 0; i < n0; i++)
            if (tu_rand() % 4 != 0) {
                CHECK_EQ(del_str(m, i), 1);
                deleted[i] = true;
            }
        CHECK_MAP(m);
        while (gomap_iter_next(&it)) {
            const gomap_str *k = it.key;
            uint64_t v = *(const uint64_t *)it.val;
            char buf[32];
            gomap_str want = key_of(buf, sizeof buf, v);
            CHECK(k->len == want.len && memcmp(k->ptr, want.ptr, want.len) == 0);
            if (v >= 1000000) continue; /* inserted during iteration: may appear */
            CHECK(v < n0 && !seen[v] && !deleted[v]);
            seen[v] = true;
        }
        for (uint64_t i = 0; i < n0; i++)
            if (!deleted[i]) CHECK(seen[i]); /* every survivor, exactly once */
        free(seen);
        free(deleted);
        gomap_free(m);
    }
}

int main(void) {
    RUN(test_forgotten_iterator_bounded);
    RUN(test_forgotten_iterator_destructors);
    RUN(test_kept_keys_are_read);
    return tu_finish();
}

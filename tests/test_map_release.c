/*
 * test_map_release.c -- dead bucket arrays go back to the OS a bounded
 * amount per write (GOMAP_RELEASE_PER_WRITE), never all at once; a big new
 * array is faulted in a bounded amount per write (GOMAP_PREFAULT_PER_WRITE)
 * in the writes before its grow is due, without delaying the grow (I13);
 * and a grow starts without touching the new
 * array (I7: buckets are zeroed as their old buckets are evacuated, or were
 * zero from the OS).  Work is counted through gomap_stats, never timed.
 */
#include "testutil.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Whether this kernel faults pages in on request (MADV_POPULATE_WRITE,
   Linux 5.14); without it a grow starts at once and nothing is faulted in
   ahead. */
static bool kernel_prefaults(void) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    size_t len = 1 << 16;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    bool ok = madvise(p, len, MADV_POPULATE_WRITE) == 0;
    munmap(p, len);
    return ok;
#else
    return false;
#endif
}

static void put(gomap *m, uint64_t k) {
    uint64_t v = k;
    CHECK(gomap_put(m, &k, &v) >= 0);
}

/* Grow a default-allocator map past 128 KB arrays and watch the old ones
   drain: each write may shrink pending_release by at most the bound. */
static void test_release_bounded_per_write(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    gomap_stats s, prev;
    gomap_stats_get(m, &prev);
    size_t max_step = 0, saw_pending = 0, writes = 0;
    for (uint64_t k = 1; k <= 400000; k++) {
        put(m, k * 0x9E3779B97F4A7C15ull);
        writes++;
        gomap_stats_get(m, &s);
        if (s.pending_release) saw_pending++;
        if (prev.pending_release > s.pending_release) {
            size_t step = prev.pending_release - s.pending_release;
            if (step > max_step) max_step = step;
        }
        prev = s;
        if (k % 4096 == 0) CHECK_MAP(m);
    }
    /* Old arrays of B = 10 .. 15 (147 KB .. 4.7 MB) were mmap'ed; each
       drains over size / GOMAP_RELEASE_PER_WRITE writes (more than 30). */
    CHECK(saw_pending >= 30);
    CHECK(max_step > 0);
    CHECK(max_step <= GOMAP_RELEASE_PER_WRITE);
    /* Keep writing (deletes of absent keys are writes too) until all is back. */
    for (int i = 0; i < 100000 && s.pending_release; i++) {
        uint64_t absent = 1;
        CHECK_EQ(gomap_delete(m, &absent), 0);
        gomap_stats_get(m, &s);
    }
    CHECK_EQ(s.pending_release, 0);
    CHECK_MAP(m);
    gomap_free(m);
}

/* Starting a grow allocates the new array and moves nothing; the bytes the
   map reports grow by the array's size, but no entry moves until the next
   writes (at most GOMAP_EVACUATE_PER_WRITE old buckets each). */
static void test_grow_start_moves_nothing(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    gomap_stats s0, s;
    uint64_t k = 1;
    for (;; k++) {
        gomap_stats_get(m, &s0);
        put(m, k);
        gomap_stats_get(m, &s);
        if (s.grows > s0.grows && s.B >= 12) break;
    }
    CHECK(s.growing);
    CHECK(s.evacuated - s0.evacuated <= GOMAP_EVACUATE_PER_WRITE);
    CHECK(s.nevacuate <= GOMAP_EVACUATE_PER_WRITE + GOMAP_EVACUATE_SCAN_CAP);
    CHECK_MAP(m);
    gomap_free(m);
}

/* The buckets of an mmap'ed array are not zeroed again at evacuation (the
   OS zeroed them, I7 says nothing wrote them): grow mmap'ed arrays with
   deletes, re-inserts and a clear in the middle of a grow, and check every
   entry and every invariant along the way. */
static void test_mapped_growth_contents(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    const uint64_t odd = 0x9E3779B97F4A7C15ull;
    gomap_stats s;
    bool cleared = false;
    uint64_t grows_at_clear = 0;
    uint64_t lo = 1, hi = 1; /* live keys: ids [lo, hi) with id % 3 != 0 */
    for (; hi <= 300000; hi++) {
        put(m, hi * odd);
        if (hi % 3 == 0) CHECK_EQ(gomap_delete(m, &(uint64_t){hi * odd}), 1);
        gomap_stats_get(m, &s);
        if (!cleared && s.growing && s.B >= 12 && s.nevacuate > 100) {
            CHECK_EQ(gomap_clear(m), GOMAP_OK); /* mid-grow: the array is zeroed whole */
            cleared = true;
            grows_at_clear = s.grows;
            lo = hi + 1;
        }
        if (hi % 8192 == 0) CHECK_MAP(m);
    }
    CHECK(cleared);
    CHECK(s.grows >= grows_at_clear + 2); /* and grew again, on mmap'ed arrays */
    CHECK(s.B >= 15);
    size_t live = 0;
    for (uint64_t id = 1; id < hi; id++) {
        uint64_t k = id * odd;
        const uint64_t *v = (const uint64_t *)gomap_get(m, &k);
        bool want = id >= lo && id % 3 != 0;
        CHECK_EQ(v != NULL, want);
        if (v) CHECK_EQ(*v, k);
        live += want;
    }
    CHECK_EQ(gomap_len(m), live);
    CHECK_MAP(m);
    gomap_free(m);
}

/* Grow a default-allocator map by single inserts past 128 KB arrays: the
   next array is faulted in at most GOMAP_PREFAULT_PER_WRITE bytes per write,
   every byte of it before its grow starts (I13), in the inserts just before
   the load limit: the map never holds more than 6.5 entries per bucket
   while it waits, and each grow starts on the insert that passes 6.5. */
static void test_prefault_bounded_per_write(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    bool prefaults = kernel_prefaults();
    gomap_stats s, prev;
    gomap_stats_get(m, &prev);
    size_t max_step = 0, pending_writes = 0, big_grows = 0, over_load = 0;
    for (uint64_t k = 1; k <= 400000; k++) {
        put(m, k * 0x9E3779B97F4A7C15ull);
        gomap_stats_get(m, &s);
        if (s.prefault_pending) {
            pending_writes++;
            CHECK(!s.growing);
            /* Faulting its array in, the map is not past 6.5 per bucket. */
            if (s.count * 2 > 13 * s.buckets) over_load++;
        }
        if (prev.prefault_pending > s.prefault_pending) {
            size_t step = prev.prefault_pending - s.prefault_pending;
            if (step > max_step) max_step = step;
        }
        /* Go's trigger: the insert that takes count past 6.5 per bucket. */
        CHECK_EQ(s.grows > prev.grows, prev.count * 2 >= 13 * prev.buckets && prev.count >= 8);
        if (s.grows > prev.grows && s.B >= 11) {
            big_grows++;
            CHECK_EQ(s.prefault_pending, 0);
            CHECK_EQ(prev.prefault_pending, 0); /* every page was in already */
            CHECK_EQ(s.evacuated - prev.evacuated <= GOMAP_EVACUATE_PER_WRITE, 1);
        }
        prev = s;
        if (k % 4096 == 0) CHECK_MAP(m);
    }
    CHECK(big_grows >= 5); /* B = 11 .. 16: arrays of 295 KB .. 9.4 MB */
    if (prefaults) {
        /* The arrays of B = 11 .. 16 take at least 2 + 4 + ... + 72 writes. */
        CHECK(pending_writes >= 140);
        CHECK(max_step > 0);
        CHECK(max_step <= GOMAP_PREFAULT_PER_WRITE);
    } else {
        CHECK_EQ(pending_writes, 0);
    }
    CHECK_EQ(over_load, 0);
    CHECK_MAP(m);
    gomap_free(m);
}

/* Maps with big buckets do not fault ahead: 56-byte values make 528-byte
   buckets, whose 128 KB steps would be more than one write in
   GM_PREFAULT_RARITY (1000); their grows start at once, as Go's do. */
static void test_no_prefault_for_big_buckets(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_U64, 8, 56, 8);
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    gomap_stats s, prev;
    gomap_stats_get(m, &prev);
    size_t big_grows = 0;
    unsigned char v[56] = {0};
    for (uint64_t k = 1; k <= 200000; k++) {
        uint64_t key = k * 0x9E3779B97F4A7C15ull;
        CHECK(gomap_put(m, &key, v) == 1);
        gomap_stats_get(m, &s);
        CHECK_EQ(s.prefault_pending, 0);
        /* the insert that passes 6.5 per bucket starts the grow */
        if (!prev.growing && prev.count * 2 >= 13 * prev.buckets && prev.count > 8)
            CHECK_EQ(s.grows, prev.grows + 1);
        if (s.grows > prev.grows && s.B >= 9) big_grows++;
        prev = s;
    }
    CHECK(big_grows >= 4); /* arrays of 270 KB .. 4.3 MB, all mmap'ed */
    CHECK_MAP(m);
    gomap_free(m);
}

/* A next array being faulted in survives deletes and lookups, is dropped by
   a clear (its bytes with it, I12), and by gomap_free. */
static void test_prefault_interrupted(void) {
    if (!kernel_prefaults()) return;
    gomap_type t = GOMAP_TYPE_U64_U64;
    const uint64_t odd = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 2; round++) {
        gomap *m = gomap_new(&t, 0);
        CHECK(m != NULL);
        gomap_stats s;
        uint64_t k = 1;
        for (;; k++) {
            put(m, k * odd);
            gomap_stats_get(m, &s);
            if (s.prefault_pending && s.B >= 13) break;
        }
        CHECK_MAP(m);
        /* Deletes are writes: they fault pages in too. */
        size_t before = s.prefault_pending;
        for (uint64_t id = 1; id <= 3; id++) CHECK_EQ(gomap_delete(m, &(uint64_t){id * odd}), 1);
        gomap_stats_get(m, &s);
        CHECK(s.prefault_pending < before);
        CHECK(!s.growing);
        CHECK_MAP(m);
        if (round == 0) {
            CHECK_EQ(gomap_clear(m), GOMAP_OK);
            gomap_stats_get(m, &s);
            CHECK_EQ(s.prefault_pending, 0);
            CHECK_MAP(m); /* I12: the dropped array's bytes are gone */
            for (uint64_t id = 1; id <= 1000; id++) put(m, id * odd);
            CHECK_EQ(gomap_len(m), 1000);
        } else {
            /* Finish faulting in, grow, and find every key. */
            for (uint64_t id = k + 1; id <= k + 100000; id++) put(m, id * odd);
            for (uint64_t id = 1; id <= k + 100000; id++) {
                const uint64_t *v = (const uint64_t *)gomap_get(m, &(uint64_t){id * odd});
                CHECK_EQ(v != NULL, id > 3);
            }
        }
        CHECK_MAP(m);
        gomap_free(m); /* round 0 drops nothing pending; round 1 may */
    }
}

int main(void) {
    RUN(test_release_bounded_per_write);
    RUN(test_prefault_bounded_per_write);
    RUN(test_prefault_interrupted);
    RUN(test_no_prefault_for_big_buckets);
    RUN(test_mapped_growth_contents);
    RUN(test_grow_start_moves_nothing);
    return tu_finish();
}

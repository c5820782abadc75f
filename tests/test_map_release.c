/*
 * test_map_release.c -- dead bucket arrays go back to the OS a bounded
 * amount per write (GOMAP_RELEASE_PER_WRITE), never all at once; and a grow
 * starts without touching the new array (I7: buckets are zeroed as their
 * old buckets are evacuated, or were zero from the OS).  Work is counted through gomap_stats, never
 * timed.
 */
#include "testutil.h"

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

int main(void) {
    RUN(test_release_bounded_per_write);
    RUN(test_mapped_growth_contents);
    RUN(test_grow_start_moves_nothing);
    return tu_finish();
}

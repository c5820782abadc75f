/*
 * test_map_bounds.c -- the work bounds, counted through gomap_stats (never
 * timed): no write evacuates more than GOMAP_EVACUATE_PER_WRITE old buckets,
 * reads evacuate nothing, the nevacuate scan skips at most
 * GOMAP_EVACUATE_SCAN_CAP evacuated buckets per advance;
 * growth is incremental (the insert that starts a grow moves almost
 * nothing); a same-size grow happens when deletes leave sparse overflow
 * chains; freed slots are reused.  Keys with an
 * identity hash (refmodel.h) put entries in chosen buckets.
 */
#include "gomap.h"
#include "refmodel.h"
#include "testutil.h"

static void stats(const gomap *m, gomap_stats *s) { gomap_stats_get(m, s); }

static gomap *new_ident(int64_t hint) {
    gomap_type t = rm_ident_type(8, 8);
    gomap *m = gomap_new(&t, hint);
    CHECK(m != NULL);
    return m;
}

static int put(gomap *m, uint64_t k, uint64_t v) { return gomap_put(m, &k, &v); }
static int del(gomap *m, uint64_t k) { return gomap_delete(m, &k); }

/* Check one write's evacuation work from the stats before and after. */
static void check_write_work(const gomap_stats *b, const gomap_stats *a) {
    CHECK(a->evacuated - b->evacuated <= GOMAP_EVACUATE_PER_WRITE);
    CHECK(a->max_evacuated_per_op <= GOMAP_EVACUATE_PER_WRITE);
    CHECK(a->max_scan_per_op <= GOMAP_EVACUATE_SCAN_CAP);
    if (a->growing && b->growing && a->old_buckets == b->old_buckets) {
        /* nevacuate moves by at most 2 evacuations plus the scan cap */
        CHECK(a->nevacuate >= b->nevacuate);
        CHECK(a->nevacuate - b->nevacuate <= GOMAP_EVACUATE_PER_WRITE + GOMAP_EVACUATE_SCAN_CAP);
    }
}

/* Heavy random insert/delete/update mixes over built-in keys, with every
   write's work counted, and reads that must do none. */
static void test_write_work_random(void) {
    long ops = tu_scaled(400000, 40000);
    tu_seed(77);
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    uint64_t space = 100;
    uint64_t grows_seen = 0;
    for (long i = 0; i < ops; i++) {
        if (i % 20000 == 0) space = 16 + tu_rand() % 60000;
        gomap_stats b, a;
        stats(m, &b);
        uint64_t k = tu_rand() % space;
        unsigned x = (unsigned)(tu_rand() % 100);
        bool write = true;
        if (x < 50) {
            CHECK(put(m, k, (uint64_t)i) >= 0);
        } else if (x < 80) {
            CHECK(del(m, k) >= 0);
        } else {
            (void)gomap_get(m, &k);
            write = false;
        }
        stats(m, &a);
        if (write) {
            check_write_work(&b, &a);
        } else {
            CHECK_EQ(a.evacuated, b.evacuated);
            CHECK_EQ(a.nevacuate, b.nevacuate);
        }
        if (i % 4096 == 0) CHECK_MAP(m);
        grows_seen = a.grows;
    }
    CHECK(grows_seen >= 8);
    gomap_stats s;
    stats(m, &s);
    CHECK(s.evacuated > 0);
    CHECK_EQ(s.max_evacuated_per_op, GOMAP_EVACUATE_PER_WRITE); /* the bound was reached */
    CHECK_MAP(m);
    gomap_free(m);
}

/* Insert new key k0 (tagged k % mod + 5) into a map at its load limit: as
   in Go, that insert starts a grow (I13: faulting the new array in never
   delays it), moving at most 2 old buckets.  *s is the stats after. */
static void put_until_growing(gomap *m, uint64_t k0, uint64_t mod, gomap_stats *s) {
    stats(m, s);
    uint64_t ev0 = s->evacuated, k = k0;
    CHECK(!s->growing);
    CHECK_EQ(put(m, k | ((k % mod + 5) << 56), k), 1);
    stats(m, s);
    CHECK(s->growing);
    CHECK(s->evacuated - ev0 <= GOMAP_EVACUATE_PER_WRITE);
}

/* The insert that starts a grow moves at most 2 old buckets; the grow then
   takes about old_buckets / 2 more writes, each moving at most 2. */
static void test_growth_is_incremental(void) {
    gomap *m = new_ident(6656); /* B = 10, 1024 buckets, 6656 entries fit */
    gomap_stats s, b;
    stats(m, &s);
    CHECK_EQ(s.B, 10);
    /* keys 0..6655 spread 6 or 7 per bucket: no overflow bucket needed */
    for (uint64_t k = 0; k < 6656; k++) CHECK_EQ(put(m, k | ((k % 200 + 5) << 56), k), 1);
    stats(m, &s);
    CHECK(!s.growing);
    CHECK_EQ(s.grows, 0);
    CHECK_EQ(s.overflow_buckets, 0);
    uint64_t ev0 = s.evacuated;
    /* the next insert starts a doubling */
    put_until_growing(m, 7000, 200, &s);
    CHECK(!s.same_size);
    CHECK_EQ(s.B, 11);
    CHECK_EQ(s.old_buckets, 1024);
    CHECK(s.nevacuate <= 2);
    CHECK(s.evacuated - ev0 <= 2);
    CHECK_EQ(s.grows, 1);
    CHECK_MAP(m);
    /* updates also do growth work, at most 2 per write */
    size_t writes = 0;
    while (s.growing) {
        b = s;
        uint64_t k = (writes * 7) % 6656;
        CHECK_EQ(put(m, k | ((k % 200 + 5) << 56), 2), 0);
        stats(m, &s);
        check_write_work(&b, &s);
        CHECK(s.evacuated - b.evacuated >= 1); /* progress is guaranteed */
        writes++;
        CHECK(writes <= 1024);
    }
    CHECK(writes >= 1024 / 2 - 1);
    CHECK_EQ(s.evacuated - ev0, 1024);
    CHECK_EQ(s.old_buckets, 0);
    CHECK_MAP(m);
    gomap_free(m);
}

/* The nevacuate scan: evacuate a run of 1100 old buckets out of order (by
   writing to keys that hash there), then let nevacuate reach the run: one
   advance may skip at most 1024 of them. */
static void test_scan_cap(void) {
    const unsigned oldB = 13;
    const uint64_t nold = (uint64_t)1 << oldB; /* 8192 old buckets */
    const uint64_t full = nold * 13 / 2;      /* 53248 entries: the load limit */
    gomap *m = new_ident((int64_t)full);
    gomap_stats s, b;
    stats(m, &s);
    CHECK_EQ(s.B, oldB);
    /* stored keys have bit 63 clear; probes (absent) have it set */
    for (uint64_t i = 0; i < full; i++) CHECK_EQ(put(m, i | ((i % 113 + 5) << 56), i), 1);
    stats(m, &s);
    CHECK(!s.growing);
    put_until_growing(m, full, 113, &s); /* starts the grow */
    CHECK_EQ(s.old_buckets, nold);
    const uint64_t run_lo = 4001, run_hi = 5101; /* 1100 buckets */
    const uint64_t probe = (uint64_t)1 << 63;
    /* evacuate the run, highest first; each delete also moves nevacuate */
    for (uint64_t ob = run_hi; ob-- > run_lo;) {
        b = s;
        CHECK_EQ(del(m, probe | ob), 0);
        stats(m, &s);
        check_write_work(&b, &s);
    }
    CHECK(s.nevacuate < run_lo - 1);
    CHECK_MAP(m);
    /* now writes to bucket 0 (long evacuated) just advance nevacuate */
    size_t guard = 0;
    while (s.nevacuate <= run_lo - 1) {
        b = s;
        CHECK_EQ(del(m, probe | 0), 0);
        stats(m, &s);
        check_write_work(&b, &s);
        CHECK(++guard < nold);
    }
    /* the write that evacuated bucket 4000 skipped into the run, capped */
    CHECK(s.growing);
    CHECK(s.nevacuate <= run_lo + GOMAP_EVACUATE_SCAN_CAP);
    CHECK(s.nevacuate >= run_lo + GOMAP_EVACUATE_SCAN_CAP - 2);
    CHECK(s.max_scan_per_op <= GOMAP_EVACUATE_SCAN_CAP);
    CHECK(s.max_scan_per_op >= GOMAP_EVACUATE_SCAN_CAP - 2);
    CHECK_MAP(m);
    /* and the grow still finishes, every old bucket evacuated exactly once */
    guard = 0;
    while (s.growing) {
        b = s;
        CHECK_EQ(del(m, probe | 1), 0);
        stats(m, &s);
        check_write_work(&b, &s);
        CHECK(++guard < nold);
    }
    CHECK_EQ(s.evacuated, nold);
    CHECK_EQ(gomap_len(m), full + 1);
    CHECK_MAP(m);
    gomap_free(m);
}

/* A same-size grow: chains that filled and emptied leave overflow buckets
   behind until there are as many as buckets (2^B); the next insert then
   rebuilds at the same B, and the chains come out compact. */
static void test_same_size_grow(void) {
    gomap *m = new_ident(52); /* B = 3 */
    gomap_stats s;
    uint64_t serial = 1;
    for (uint64_t bkt = 0; bkt < 8; bkt++) {
        uint64_t ks[9];
        for (int j = 0; j < 9; j++) {
            ks[j] = rm_ident_key(bkt, serial++, 3, (uint8_t)(5 + j));
            CHECK_EQ(put(m, ks[j], 1), 1);
        }
        for (int j = 0; j < 9; j++) CHECK_EQ(del(m, ks[j]), 1);
        stats(m, &s);
        CHECK(!s.growing);
        CHECK_EQ(s.overflow_buckets, bkt + 1);
        CHECK_EQ(s.noverflow, bkt + 1);
        CHECK_MAP(m);
    }
    CHECK_EQ(gomap_len(m), 0);
    CHECK_EQ(s.grows, 0);
    /* the next insert of a new key starts a same-size grow */
    CHECK_EQ(put(m, rm_ident_key(0, serial++, 3, 77), 0), 1);
    stats(m, &s);
    CHECK(s.growing);
    CHECK(s.same_size);
    CHECK_EQ(s.B, 3);
    CHECK_EQ(s.old_buckets, 8);
    CHECK_EQ(s.same_size_grows, 1);
    CHECK_EQ(s.grows, 1);
    CHECK_MAP(m);
    /* more entries, one per bucket, while it runs */
    for (uint64_t bkt = 1; bkt < 8; bkt++) {
        CHECK_EQ(put(m, rm_ident_key(bkt, serial++, 3, 77), bkt), 1);
        stats(m, &s);
        CHECK_EQ(s.same_size_grows, 1); /* no second grow */
    }
    CHECK_MAP(m);
    /* finish it */
    size_t guard = 0;
    while (s.growing) {
        CHECK_EQ(del(m, rm_ident_key(0, 999999, 3, 9)), 0);
        stats(m, &s);
        CHECK(++guard < 16);
    }
    CHECK(!s.same_size);
    CHECK_EQ(s.B, 3);
    CHECK_EQ(s.overflow_buckets, 0);
    CHECK_EQ(s.noverflow, 0);
    CHECK_EQ(gomap_len(m), 8);
    CHECK_MAP(m);
    gomap_free(m);
}

/* Same-size grows under churn of colliding keys: the 64 most recent keys
   are live, and the bucket new keys go to moves every 50 inserts, so each
   chain in turn grows long and then empties, leaving its overflow buckets.
   The bounds hold throughout and same-size grows happen. */
static void test_same_size_churn(void) {
    long rounds = tu_scaled(4000, 800);
    gomap *m = new_ident(0);
    gomap_stats s, b;
    tu_seed(99);
    uint64_t live[64];
    size_t nlive = 0, oldest = 0;
    for (long r = 0; r < rounds; r++) {
        uint64_t bkt = (uint64_t)(r / 50) % 8;
        uint64_t k = (bkt | ((uint64_t)(r + 1) << 20)) & ((1ull << 56) - 1);
        k |= (uint64_t)(5 + tu_rand() % 250) << 56;
        stats(m, &b);
        CHECK_EQ(put(m, k, 1), 1);
        stats(m, &s);
        check_write_work(&b, &s);
        if (nlive < 64) {
            live[nlive++] = k;
        } else {
            stats(m, &b);
            CHECK_EQ(del(m, live[oldest]), 1);
            stats(m, &s);
            check_write_work(&b, &s);
            live[oldest] = k;
            oldest = (oldest + 1) % 64;
        }
        if (r % 64 == 0) CHECK_MAP(m);
    }
    stats(m, &s);
    CHECK(s.same_size_grows > 0);
    CHECK_EQ(s.count, 64);
    CHECK_MAP(m);
    gomap_free(m);
}

/* Slot reuse: an insert takes the first freed slot of its chain. */
static void test_slot_reuse(void) {
    gomap *m = new_ident(0);
    gomap_stats s0, s;
    uint64_t a = rm_ident_key(0, 1, 0, 10), b2 = rm_ident_key(0, 2, 0, 11), c = rm_ident_key(0, 3, 0, 12);
    CHECK_EQ(put(m, a, 1), 1);
    CHECK_EQ(put(m, b2, 2), 1);
    stats(m, &s0);
    CHECK_EQ(s0.slot_reuses, 0); /* fresh slots are not reuses */
    CHECK_EQ(del(m, a), 1);      /* slot 0 becomes a tombstone (slot 1 is live) */
    CHECK_EQ(put(m, c, 3), 1);   /* takes slot 0 again */
    stats(m, &s);
    CHECK_EQ(s.slot_reuses, s0.slot_reuses + 1);
    /* an update is not a reuse */
    CHECK_EQ(put(m, c, 4), 0);
    stats(m, &s0);
    CHECK_EQ(s0.slot_reuses, s.slot_reuses);
    /* many: fill a bucket, delete every other, refill */
    gomap *m2 = new_ident(0);
    uint64_t k[8];
    for (int i = 0; i < 8; i++) {
        k[i] = rm_ident_key(0, (uint64_t)i + 10, 0, (uint8_t)(20 + i));
        CHECK_EQ(put(m2, k[i], 0), 1);
    }
    for (int i = 0; i < 8; i += 2) CHECK_EQ(del(m2, k[i]), 1);
    stats(m2, &s0);
    for (int i = 0; i < 4; i++) CHECK_EQ(put(m2, rm_ident_key(0, (uint64_t)i + 100, 0, 30), 0), 1);
    stats(m2, &s);
    CHECK_EQ(s.slot_reuses - s0.slot_reuses, 4);
    CHECK_EQ(s.overflow_buckets, 0); /* no new bucket was needed */
    CHECK_MAP(m2);
    gomap_free(m2);
    gomap_free(m);
}

int main(void) {
    RUN(test_write_work_random);
    RUN(test_growth_is_incremental);
    RUN(test_scan_cap);
    RUN(test_same_size_grow);
    RUN(test_same_size_churn);
    RUN(test_slot_reuse);
    return tu_finish();
}

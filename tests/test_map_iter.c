/*
 * test_map_iter.c -- iteration as Go's `for k, v := range m` (and Go
 * 1.24's rule for a clear during iteration): each entry at most once,
 * surviving entries exactly once, deleted-before-reached never, updated
 * values seen latest, random order; Go's hard cases by name
 * (TestIterGrowAndDelete, TestIterGrowWithGC, TestMapIterDuplicate,
 * TestMapSparseIterOrder, TestMapIterOrder, TestMapIterDeleteReplace, issues
 * 59411 and 70189), iterators started mid-grow and across same-size grows,
 * parked iterators holding old arrays (clean under ASan), iterator release.
 */
#include "gomap.h"
#include "refmodel.h"
#include "testutil.h"

static gomap *new_u64(int64_t hint) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, hint);
    CHECK(m != NULL);
    return m;
}

static void put(gomap *m, uint64_t k, uint64_t v) {
    int r = gomap_put(m, &k, &v);
    CHECK(r == 0 || r == 1);
}
static int del(gomap *m, uint64_t k) { return gomap_delete(m, &k); }
static uint64_t key_of(const gomap_iter *it) {
    uint64_t k;
    memcpy(&k, it->key, 8);
    return k;
}
static uint64_t val_of(const gomap_iter *it) {
    uint64_t v;
    memcpy(&v, it->val, 8);
    return v;
}

static void stats(const gomap *m, gomap_stats *s) { gomap_stats_get(m, s); }

/* Once the last iterator is done, the memory kept for iterators is freed by
   the next write (an iterator, being a reader, may not free: readers run in
   parallel and the allocator is never called from two threads at once). */
static void check_released_after_write(gomap *m, uint64_t absent) {
    gomap_stats s;
    stats(m, &s);
    CHECK_EQ(s.live_iterators, 0);
    CHECK(gomap_delete(m, &absent) == 0);
    stats(m, &s);
    CHECK_EQ(s.retired_blocks, 0);
}

/* Drive a grow in progress to its end with deletes of an absent key (each
   write evacuates at least one old bucket). */
static void finish_growing(gomap *m, uint64_t absent) {
    gomap_stats s;
    stats(m, &s);
    size_t guard = s.old_buckets + 2;
    while (s.growing) {
        CHECK_EQ(del(m, absent), 0);
        stats(m, &s);
        CHECK(guard-- > 0);
    }
}

/* ---- Go's named cases --------------------------------------------------------- */

/* TestIterGrowAndDelete: grow the map and delete every odd key at the first
   step; no odd key may come out afterwards. */
static void test_iter_grow_and_delete(void) {
    long rounds = tu_scaled(200, 20);
    for (long r = 0; r < rounds; r++) {
        gomap *m = new_u64(4);
        for (uint64_t i = 0; i < 100; i++) put(m, i, i);
        bool grow = true;
        unsigned char seen[1000] = {0};
        gomap_iter it;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            uint64_t k = key_of(&it);
            CHECK(k < 1000);
            CHECK_EQ(val_of(&it), k);
            CHECK(!seen[k]);
            seen[k] = 1;
            if (grow) {
                for (uint64_t i = 100; i < 1000; i++) put(m, i, i);
                for (uint64_t i = 1; i < 1000; i += 2) del(m, i);
                grow = false;
                CHECK_MAP(m);
            } else {
                if (k & 1) RM_FAIL("odd key returned after its deletion");
            }
        }
        /* every even key below 100 (present throughout) came out */
        for (uint64_t i = 0; i < 100; i += 2) CHECK(seen[i]);
        gomap_free(m);
    }
}

/* TestIterGrowWithGC: an iterator parked on an old array while the map grows
   many times and finishes growing; every original key must still come out,
   and the memory kept for it is released when it ends. */
static void test_iter_grow_with_gc(void) {
    long rounds = tu_scaled(100, 10);
    for (long r = 0; r < rounds; r++) {
        tu_alloc a;
        memset(&a, 0, sizeof a);
        gomap_allocator al = tu_allocator(&a);
        gomap_type t = GOMAP_TYPE_U64_U64;
        gomap *m = gomap_new_with(&t, 4, &al);
        CHECK(m != NULL);
        for (uint64_t i = 0; i < 8; i++) put(m, i, i);
        for (uint64_t i = 8; i < 16; i++) *(uint64_t *)gomap_assign(m, &i) += i;
        unsigned bitmask = 0;
        bool grow = true;
        gomap_iter it;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            uint64_t k = key_of(&it);
            if (k < 16) {
                CHECK(!(bitmask & (1u << k)));
                bitmask |= 1u << k;
                CHECK_EQ(val_of(&it), k);
            }
            if (grow) {
                gomap_stats s0, s;
                stats(m, &s0);
                for (uint64_t i = 100; i < 1000; i++) put(m, i, i);
                finish_growing(m, 5000);
                stats(m, &s);
                CHECK(s.grows >= s0.grows + 2);
                CHECK(!s.growing);
                CHECK_EQ(s.live_iterators, 1);
                /* the arrays the iterator may read are kept */
                CHECK(s.retired_blocks > 0);
                CHECK_EQ(s.bytes, a.live_bytes);
                CHECK_MAP(m);
                grow = false;
            }
        }
        CHECK_EQ(bitmask, 0xFFFF);
        gomap_stats s;
        stats(m, &s);
        CHECK_EQ(s.live_iterators, 0);
        check_released_after_write(m, 5000);
        stats(m, &s);
        CHECK_EQ(s.bytes, a.live_bytes);
        gomap_free(m);
        CHECK_EQ(a.live, 0);
    }
}

/* The same with the iterator abandoned early: gomap_iter_done releases. */
static void test_iter_abandoned(void) {
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator al = tu_allocator(&a);
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new_with(&t, 0, &al);
    CHECK(m != NULL);
    for (uint64_t i = 0; i < 20; i++) put(m, i, i);
    gomap_iter it1, it2;
    gomap_iter_init(&it1, m);
    gomap_iter_init(&it2, m);
    CHECK(gomap_iter_next(&it1));
    gomap_stats s;
    stats(m, &s);
    CHECK_EQ(s.live_iterators, 2);
    for (uint64_t i = 100; i < 3000; i++) put(m, i, i);
    finish_growing(m, 99999);
    for (uint64_t i = 100; i < 3000; i += 2) CHECK_EQ(del(m, i), 1);
    stats(m, &s);
    CHECK(s.retired_blocks > 0);
    gomap_iter_done(&it1);
    stats(m, &s);
    CHECK_EQ(s.live_iterators, 1);
    CHECK(gomap_iter_next(&it2));
    gomap_iter_done(&it2);
    check_released_after_write(m, 99999);
    stats(m, &s);
    CHECK_EQ(s.bytes, a.live_bytes);
    /* an iterator on an empty map ends at once and is released */
    gomap *e = gomap_new(&t, 0);
    CHECK(e != NULL);
    gomap_iter_init(&it1, e);
    CHECK(!gomap_iter_next(&it1));
    CHECK(!gomap_iter_next(&it1)); /* and keeps saying so */
    stats(e, &s);
    CHECK_EQ(s.live_iterators, 0);
    gomap_free(e);
    /* an iterator that ran to its end stays ended */
    gomap_iter_init(&it1, m);
    size_t n = 0;
    while (gomap_iter_next(&it1)) n++;
    CHECK_EQ(n, gomap_len(m));
    CHECK(!gomap_iter_next(&it1));
    stats(m, &s);
    CHECK_EQ(s.live_iterators, 0);
    CHECK_MAP(m);
    gomap_free(m);
    CHECK_EQ(a.live, 0);
}

/* TestMapIterDuplicate: 1000 inserted, 980 deleted, 20 come out. */
static void test_iter_duplicate(void) {
    long rounds = tu_scaled(1000, 100);
    for (long r = 0; r < rounds; r++) {
        gomap *m = new_u64(0);
        for (uint64_t i = 0; i < 1000; i++) put(m, i, i);
        for (uint64_t i = 20; i < 1000; i++) CHECK_EQ(del(m, i), 1);
        unsigned seen = 0;
        gomap_iter it;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            uint64_t k = key_of(&it);
            CHECK(k < 20);
            CHECK(!(seen & (1u << k)));
            seen |= 1u << k;
        }
        CHECK_EQ(seen, (1u << 20) - 1);
        gomap_free(m);
    }
}

/* Record the order of one full iteration into keys[]; returns the count. */
static size_t order_of(const gomap *m, uint64_t *keys, size_t cap) {
    gomap_iter it;
    size_t n = 0;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it)) {
        CHECK(n < cap);
        keys[n++] = key_of(&it);
    }
    return n;
}

/* TestMapSparseIterOrder: the order must vary even for a sparse map. */
static void test_sparse_iter_order(void) {
    for (int round = 0; round < 10; round++) {
        gomap *m = new_u64(0);
        for (uint64_t i = 0; i < 1000; i++) put(m, i, i);
        for (uint64_t i = 20; i < 1000; i++) del(m, i);
        uint64_t first[20], next[20];
        CHECK_EQ(order_of(m, first, 20), 20);
        bool varied = false;
        for (int n = 0; n < 800 && !varied; n++) {
            CHECK_EQ(order_of(m, next, 20), 20);
            varied = memcmp(first, next, sizeof first) != 0;
        }
        CHECK(varied);
        gomap_free(m);
    }
}

/* TestMapIterOrder: sizes 3, 7, 9, 15 must show at least two orders; even a
   one-bucket map has 8 in-bucket offsets. */
static void test_iter_order_varies(void) {
    const size_t sizes[] = {3, 7, 9, 15};
    for (size_t si = 0; si < 4; si++) {
        size_t n = sizes[si];
        gomap *m = new_u64(0);
        for (uint64_t i = 0; i < n; i++) put(m, i * 1000003, i);
        uint64_t first[16], next[16];
        CHECK_EQ(order_of(m, first, 16), n);
        bool varied = false;
        for (int tries = 0; tries < 1000 && !varied; tries++) {
            CHECK_EQ(order_of(m, next, 16), n);
            varied = memcmp(first, next, n * sizeof first[0]) != 0;
        }
        if (!varied) fprintf(stderr, "size %zu: one order in 1000 iterations\n", n);
        CHECK(varied);
        /* and the first key produced is not always the same */
        bool first_varied = false;
        for (int tries = 0; tries < 1000 && !first_varied; tries++) {
            CHECK_EQ(order_of(m, next, 16), n);
            first_varied = next[0] != first[0];
        }
        CHECK(first_varied);
        gomap_free(m);
    }
}

/* TestMapIterDeleteReplace: delete and re-insert every key as it comes out;
   every key must come out (be set to true) and the loop must end. */
static void test_iter_delete_replace(void) {
    long step = tu_scale_div() > 1 ? 397 : 37;
    for (uint64_t n = 0; n < 4000; n += (uint64_t)step) {
        gomap *m = new_u64(0);
        for (uint64_t j = 0; j < n; j++) put(m, j, 0);
        gomap_iter it;
        gomap_iter_init(&it, m);
        uint64_t steps = 0;
        while (gomap_iter_next(&it)) {
            uint64_t k = key_of(&it);
            CHECK(k < n);
            CHECK_EQ(del(m, k), 1);
            put(m, k, 1);
            CHECK(++steps <= 10 * n + 16); /* it must end */
        }
        CHECK_EQ(gomap_len(m), n);
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            if (val_of(&it) != 1) {
                fprintf(stderr, "n=%llu key %llu never produced\n", (unsigned long long)n,
                        (unsigned long long)key_of(&it));
                RM_FAIL("key not produced during delete+replace iteration");
            }
        }
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* ---- the contract, with mutations at random points -------------------------------- */

/*
 * A tracker for one iteration over keys 0..n-1 (value = key + tag):
 *   MUST  present at start and never deleted: must come out exactly once;
 *   GONE  deleted before it came out: must never come out (unless re-inserted);
 *   NEW   inserted during the iteration: may come out, at most once;
 *   DONE  came out.
 */
enum { T_ABSENT = 0, T_MUST, T_GONE, T_NEW, T_DONE };

typedef struct tracker {
    size_t n;
    unsigned char *st;
    unsigned char *present;
    uint64_t *val;
    size_t new_entries; /* entries created while iterating */
} tracker;

static void tr_init(tracker *t, size_t n) {
    t->n = n;
    t->st = (unsigned char *)calloc(n, 1);
    t->present = (unsigned char *)calloc(n, 1);
    t->val = (uint64_t *)calloc(n, sizeof(uint64_t));
    t->new_entries = 0;
    CHECK(t->st && t->present && t->val);
}
static void tr_free(tracker *t) {
    free(t->st);
    free(t->present);
    free(t->val);
}
static void tr_put(tracker *t, gomap *m, uint64_t k, uint64_t v, bool iterating) {
    put(m, k, v);
    /* a key (re-)inserted during the iteration is a new entry */
    if (!t->present[k] && iterating) {
        t->st[k] = T_NEW;
        t->new_entries++;
    }
    t->present[k] = 1;
    t->val[k] = v;
}
static void tr_del(tracker *t, gomap *m, uint64_t k, bool iterating) {
    CHECK_EQ(del(m, k), t->present[k] ? 1 : 0);
    if (t->present[k] && iterating && t->st[k] != T_DONE) t->st[k] = T_GONE;
    t->present[k] = 0;
}
static void tr_start(tracker *t) {
    for (size_t k = 0; k < t->n; k++) t->st[k] = t->present[k] ? T_MUST : T_ABSENT;
}
static void tr_produced(tracker *t, const gomap_iter *it) {
    uint64_t k = key_of(it);
    CHECK(k < t->n);
    switch (t->st[k]) {
    case T_MUST:
    case T_NEW:
        break;
    case T_DONE:
        RM_FAIL("entry produced twice");
        break;
    case T_GONE:
        RM_FAIL("entry deleted before it was reached was produced");
        break;
    default:
        RM_FAIL("entry never in the map produced");
    }
    CHECK(t->present[k]);
    CHECK_EQ(val_of(it), t->val[k]); /* the latest value */
    t->st[k] = T_DONE;
}
static void tr_end(const tracker *t) {
    for (size_t k = 0; k < t->n; k++)
        if (t->st[k] == T_MUST) {
            fprintf(stderr, "key %zu present throughout was not produced\n", k);
            RM_FAIL("entry missed");
        }
}

/* count random writes of keys below t->n during an iteration: mode 0
   deletes, 1 inserts, 2 updates present keys, 3 any of these. */
static void tr_random_writes(tracker *t, gomap *m, unsigned mode, unsigned count) {
    for (unsigned w = 0; w < count; w++) {
        uint64_t k = tu_rand() % t->n;
        unsigned op = mode == 3 ? (unsigned)(tu_rand() % 3) : mode;
        if (op == 0) tr_del(t, m, k, true);
        else if (op == 1 || t->present[k]) tr_put(t, m, k, tu_rand(), true);
    }
}

/* A map of random size and fill (keys below 1..600), sometimes made with a
   size hint, and its tracker. */
static gomap *tr_random_map(tracker *t) {
    size_t n = 1 + (size_t)(tu_rand() % 600);
    size_t initial = (size_t)(tu_rand() % (n + 1));
    tr_init(t, n);
    gomap *m = new_u64((int64_t)(tu_rand() % 3 == 0 ? tu_rand() % 200 : 0));
    for (size_t i = 0; i < initial; i++) tr_put(t, m, tu_rand() % n, tu_rand(), false);
    return m;
}

/* Iterate with random writes between steps, over maps of many sizes, with
   and without growth under the iterator. */
static void test_iter_random_mutation(void) {
    long rounds = tu_scaled(3000, 300);
    tu_seed(12345);
    for (long r = 0; r < rounds; r++) {
        tracker t;
        gomap *m = tr_random_map(&t);
        unsigned mode = (unsigned)(tu_rand() % 4); /* 0: deletes, 1: inserts, 2: updates, 3: all */
        tr_start(&t);
        size_t at_start = gomap_len(m);
        gomap_iter it;
        gomap_iter_init(&it, m);
        size_t steps = 0;
        while (gomap_iter_next(&it)) {
            tr_produced(&t, &it);
            tr_random_writes(&t, m, mode, (unsigned)(tu_rand() % 4));
            if (++steps % 16 == 0) CHECK_MAP(m);
            /* each step produced a distinct entry */
            CHECK(steps <= at_start + t.new_entries);
        }
        tr_end(&t);
        CHECK_MAP(m);
        tr_free(&t);
        gomap_free(m);
    }
}

/* Updated before reached: the latest value comes out. */
static void test_iter_update_latest(void) {
    for (int r = 0; r < 200; r++) {
        gomap *m = new_u64(0);
        for (uint64_t i = 0; i < 300; i++) put(m, i, i);
        gomap_iter it;
        gomap_iter_init(&it, m);
        bool first = true;
        uint64_t first_key = 0;
        size_t n = 0;
        while (gomap_iter_next(&it)) {
            uint64_t k = key_of(&it);
            if (first) {
                first_key = k;
                CHECK_EQ(val_of(&it), k);
                for (uint64_t i = 0; i < 300; i++) *(uint64_t *)gomap_assign(m, &i) += 1000000;
                /* the value pointer of the current entry sees it too */
                first = false;
            } else {
                CHECK(k != first_key);
                CHECK_EQ(val_of(&it), k + 1000000);
            }
            n++;
        }
        CHECK_EQ(n, 300);
        gomap_free(m);
    }
}

/* Key updates while an iterator holds an older array: a custom key whose
   equality ignores a serial number, with GOMAP_F_KEY_UPDATE (the stored key
   is replaced by the equal one put) and, in one run, a destructor.  Every
   key is updated once the iterator has started and the map has grown past
   the iterator's array; each entry present throughout must still be
   produced exactly once, and every key ever stored destroyed exactly once
   by the end.  (The iterator looks an entry its evacuated slot names up by
   that slot's key, which must then be the new key, not the destroyed one.) */
typedef struct serial_key {
    uint32_t id, serial;
} serial_key;
static int serial_destroyed;
static uint64_t serial_hash(const void *k, uint64_t seed) {
    return gomap_hash_u32(((const serial_key *)k)->id, seed);
}
static bool serial_equal(const void *a, const void *b) {
    return ((const serial_key *)a)->id == ((const serial_key *)b)->id;
}
static void serial_destroy(void *k) {
    CHECK(((serial_key *)k)->serial != 0);
    ((serial_key *)k)->serial = 0; /* a second call would fail the CHECK */
    serial_destroyed++;
}

static void test_iter_key_update_across_grow(void) {
    for (int with_destroy = 0; with_destroy < 2; with_destroy++) {
        for (int trial = 0; trial < 100; trial++) {
            gomap_type t = {0};
            t.key_size = sizeof(serial_key);
            t.key_align = 4;
            t.val_size = 8;
            t.val_align = 8;
            t.kind = GOMAP_KEY_CUSTOM;
            t.flags = GOMAP_F_KEY_UPDATE;
            t.hash = serial_hash;
            t.equal = serial_equal;
            if (with_destroy) t.key_destroy = serial_destroy;
            serial_destroyed = 0;
            gomap *m = gomap_new(&t, 0);
            CHECK(m);
            uint32_t serial = 1;
            uint64_t v = 1;
            for (uint32_t i = 0; i < 40; i++) {
                serial_key k = {i, serial++};
                CHECK_EQ(gomap_put(m, &k, &v), 1);
            }
            gomap_iter it;
            gomap_iter_init(&it, m);
            int seen[200] = {0};
            CHECK(gomap_iter_next(&it));
            seen[((const serial_key *)it.key)->id]++;
            for (uint32_t i = 0; i < 40; i++) {
                serial_key k = {i, serial++}, k2 = {100 + i, serial++};
                CHECK_EQ(gomap_put(m, &k, &v), 0);   /* an update: replaces the key */
                CHECK_EQ(gomap_put(m, &k2, &v), 1);  /* an insert: the map grows */
            }
            gomap_stats s;
            gomap_stats_get(m, &s);
            CHECK(s.grows >= 1);
            while (gomap_iter_next(&it)) seen[((const serial_key *)it.key)->id]++;
            for (int i = 0; i < 40; i++) CHECK_EQ(seen[i], 1);
            for (int i = 40; i < 200; i++) CHECK(seen[i] <= 1);
            CHECK_MAP(m);
            gomap_free(m);
            if (with_destroy) CHECK_EQ(serial_destroyed, (int)serial - 1);
        }
    }
}

/* An iterator that starts while the map is growing; the grow finishes at a
   chosen step, and keys not yet reached are deleted at another. */
static void test_iter_started_mid_grow(void) {
    for (size_t finish_at = 0; finish_at <= 105; finish_at += 3) {
        for (int rep = 0; rep < 4; rep++) {
            tracker t;
            tr_init(&t, 300);
            gomap *m = new_u64(104);
            for (uint64_t i = 0; i < 105; i++) tr_put(&t, m, i, i + 7, false);
            gomap_stats s;
            stats(m, &s);
            CHECK(s.growing);
            CHECK(!s.same_size);
            tr_start(&t);
            gomap_iter it;
            gomap_iter_init(&it, m);
            size_t step = 0;
            while (gomap_iter_next(&it)) {
                tr_produced(&t, &it);
                if (step == finish_at) {
                    finish_growing(m, 100000);
                    CHECK_MAP(m);
                }
                if (step == finish_at / 2) {
                    /* delete a slice of keys, reached or not */
                    for (uint64_t k = (uint64_t)rep * 20; k < (uint64_t)rep * 20 + 20; k++) tr_del(&t, m, k, true);
                }
                if (step == 50) {
                    for (uint64_t k = 200; k < 230; k++) tr_put(&t, m, k, k, true);
                }
                step++;
            }
            tr_end(&t);
            CHECK_MAP(m);
            tr_free(&t);
            gomap_free(m);
        }
    }
}

/* A same-size grow (too many overflow buckets) that starts under a running
   iterator, with identity-hashed keys that fill chosen buckets. */
static void test_iter_same_size_grow(void) {
    for (int rep = 0; rep < 50; rep++) {
        gomap_type ty = rm_ident_type(8, 8);
        gomap *m = gomap_new(&ty, 52); /* B = 3 */
        CHECK(m != NULL);
        gomap_stats s;
        stats(m, &s);
        CHECK_EQ(s.B, 3);
        /* ids: bucket b, serial j -> key; remember in a small table */
        /* fill each chain with 9 entries (one overflow bucket), then keep
           only the one in the overflow bucket: the count stays far below
           the load factor while the overflow buckets add up to 8 = 2^3 */
        uint64_t keys[8][9];
        for (uint64_t b = 0; b < 8; b++) {
            for (uint64_t j = 0; j < 9; j++) {
                keys[b][j] = rm_ident_key(b, j + 1, 3, (uint8_t)(5 + b * 9 + j));
                put(m, keys[b][j], b * 100 + j);
            }
            for (uint64_t j = 0; j < 8; j++) CHECK_EQ(del(m, keys[b][j]), 1);
        }
        stats(m, &s);
        CHECK(!s.growing);
        CHECK_EQ(s.grows, 0);
        CHECK_EQ(s.overflow_buckets, 8);
        CHECK_EQ(gomap_len(m), 8);
        CHECK_MAP(m);
        unsigned char seen[8] = {0};
        gomap_iter it;
        gomap_iter_init(&it, m);
        int step = 0;
        bool grown = false;
        while (gomap_iter_next(&it)) {
            uint64_t k = key_of(&it);
            uint64_t v = val_of(&it);
            if (v >= 1000) continue; /* inserted during iteration */
            uint64_t b = v / 100;
            CHECK(b < 8 && v % 100 == 8);
            CHECK_EQ(k, keys[b][8]);
            CHECK(!seen[b]);
            seen[b] = 1;
            if (step == rep % 8 && !grown) {
                /* an insert of a new key now starts a same-size grow */
                uint64_t nk = rm_ident_key(rep % 8, 500, 3, 200);
                put(m, nk, 1000);
                stats(m, &s);
                CHECK(s.growing);
                CHECK(s.same_size);
                CHECK_EQ(s.B, 3);
                CHECK_EQ(s.same_size_grows, 1);
                grown = true;
                CHECK_MAP(m);
            }
            step++;
        }
        CHECK(grown);
        for (int b = 0; b < 8; b++) CHECK(seen[b]);
        finish_growing(m, rm_ident_key(0, 999, 3, 99));
        stats(m, &s);
        CHECK_EQ(s.overflow_buckets, 0); /* the chains were compacted */
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* Two iterators on different arrays at once, interleaved with growth. */
static void test_iter_two_generations(void) {
    for (int r = 0; r < 50; r++) {
        tracker t1, t2;
        tr_init(&t1, 5000);
        tr_init(&t2, 5000);
        gomap *m = new_u64(0);
        for (uint64_t i = 0; i < 30; i++) {
            tr_put(&t1, m, i, i, false);
            tr_put(&t2, m, i, i, false);
        }
        gomap_iter a, b;
        tr_start(&t1);
        gomap_iter_init(&a, m);
        CHECK(gomap_iter_next(&a));
        tr_produced(&t1, &a);
        for (uint64_t i = 30; i < 300; i++) {
            tr_put(&t1, m, i, i, true);
            tr_put(&t2, m, i, i, false);
        }
        tr_start(&t2);
        gomap_iter_init(&b, m);
        bool ma = true, mb = true;
        uint64_t next = 300;
        while (ma || mb) {
            if (ma && (ma = gomap_iter_next(&a))) tr_produced(&t1, &a);
            if (mb && (mb = gomap_iter_next(&b))) tr_produced(&t2, &b);
            for (int j = 0; j < 5 && next < 5000; j++, next++) {
                tr_put(&t1, m, next, next, true);
                tr_put(&t2, m, next, next, true);
            }
            uint64_t d = tu_rand() % next;
            tr_del(&t1, m, d, true);
            t2.present[d] = 0;
            if (t2.st[d] != T_DONE) t2.st[d] = T_GONE;
        }
        tr_end(&t1);
        tr_end(&t2);
        gomap_stats s;
        stats(m, &s);
        CHECK_EQ(s.live_iterators, 0);
        check_released_after_write(m, 1u << 30);
        CHECK_MAP(m);
        tr_free(&t1);
        tr_free(&t2);
        gomap_free(m);
    }
}

/* ---- clear during iteration ---------------------------------------------------------- */

/* Clear on the iterator's own array: nothing from before comes out; entries
   inserted after the clear may, once each. */
static void test_clear_during_iteration(void) {
    for (int r = 0; r < 200; r++) {
        gomap *m = new_u64(0);
        for (uint64_t i = 0; i < 100; i++) put(m, i, i);
        gomap_iter it;
        gomap_iter_init(&it, m);
        for (int i = 0; i < r % 50; i++) CHECK(gomap_iter_next(&it));
        CHECK_EQ(gomap_clear(m), GOMAP_OK);
        CHECK_MAP(m);
        if (r % 2 == 0) {
            CHECK(!gomap_iter_next(&it));
        } else {
            /* re-insert some keys with new values: only those may come out */
            for (uint64_t i = 0; i < 100; i += 3) put(m, i, i + 5000);
            unsigned char seen[100] = {0};
            while (gomap_iter_next(&it)) {
                uint64_t k = key_of(&it);
                CHECK(k < 100 && k % 3 == 0);
                CHECK_EQ(val_of(&it), k + 5000);
                CHECK(!seen[k]);
                seen[k] = 1;
            }
        }
        gomap_stats s;
        stats(m, &s);
        CHECK_EQ(s.live_iterators, 0);
        gomap_free(m);
    }
}

static double nan_value(void) {
    uint64_t bits = 0x7FF8000000000001ull;
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* Go issue 70189: 8 NaN keys, start iterating, insert enough to grow (the
   iterator now holds an array that is neither current nor old), clear: the
   next step must produce nothing. */
static void test_clear_older_array_issue70189(void) {
    for (int r = 0; r < 200; r++) {
        gomap_type t = gomap_type_builtin(GOMAP_KEY_F64, 0, 8, 8);
        gomap *m = gomap_new(&t, 0);
        CHECK(m != NULL);
        double nan = nan_value();
        for (uint64_t i = 0; i < 8; i++) CHECK_EQ(gomap_put(m, &nan, &i), 1);
        gomap_iter it;
        gomap_iter_init(&it, m);
        bool start = true;
        while (gomap_iter_next(&it)) {
            if (!start) RM_FAIL("an entry was produced after clear (Go issue 70189)");
            for (uint64_t i = 0; i < 10 + (uint64_t)(r % 40); i++) {
                double k = (double)i;
                CHECK(gomap_put(m, &k, &i) == 1);
            }
            gomap_stats s;
            stats(m, &s);
            CHECK(s.B >= 1);
            CHECK_EQ(gomap_clear(m), GOMAP_OK);
            CHECK_MAP(m);
            start = false;
        }
        CHECK(!start);
        gomap_free(m);
    }
}

/* Go issue 59411: clear in the middle of a grow, while iterating over NaN
   keys: the loop stops. */
static void test_clear_mid_grow_issue59411(void) {
    for (int r = 0; r < 100; r++) {
        gomap_type t = gomap_type_builtin(GOMAP_KEY_F64, 0, 8, 8);
        gomap *m = gomap_new(&t, 0);
        CHECK(m != NULL);
        double nan = nan_value();
        uint64_t v = 0;
        for (int i = 0; i < 104; i++) CHECK_EQ(gomap_put(m, &nan, &v), 1);
        CHECK_EQ(gomap_put(m, &nan, &v), 1); /* starts the grow */
        gomap_stats s;
        stats(m, &s);
        CHECK(s.growing);
        gomap_iter it;
        gomap_iter_init(&it, m);
        int steps = 0;
        while (gomap_iter_next(&it)) {
            if (steps == r % 20) CHECK_EQ(gomap_clear(m), GOMAP_OK);
            else if (steps > r % 20) RM_FAIL("iteration went on after clear (Go issue 59411)");
            steps++;
        }
        CHECK_EQ(gomap_len(m), 0);
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* A parked iterator on an old array, then clear, then the map refilled past
   several grows with the same keys and new values: only new entries may
   come out, each once (re-lookups, not stale data). */
static void test_clear_parked_then_refill(void) {
    for (int r = 0; r < 100; r++) {
        gomap *m = new_u64(0);
        for (uint64_t i = 0; i < 50; i++) put(m, i, i);
        gomap_iter it;
        gomap_iter_init(&it, m);
        CHECK(gomap_iter_next(&it));
        for (uint64_t i = 50; i < 500; i++) put(m, i, i);
        CHECK_EQ(gomap_clear(m), GOMAP_OK);
        for (uint64_t i = 0; i < 2000; i++) put(m, i, i + 1000000);
        unsigned char seen[2000] = {0};
        while (gomap_iter_next(&it)) {
            uint64_t k = key_of(&it);
            CHECK(k < 2000);
            CHECK_EQ(val_of(&it), k + 1000000);
            CHECK(!seen[k]);
            seen[k] = 1;
        }
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* An iterator started before a grow, a clear while that grow is under way,
   then the key whose bytes are all zero (0, the empty string, a zero blob)
   inserted: the iterator may produce it once at most, and must not touch
   memory the clear released.  (Old slots not yet evacuated must not read as
   that key after the clear; out-of-line keys must not be dereferenced.) */
static void test_clear_mid_grow_parked_iterator(void) {
    static char names[1300][16];
    for (int kind = 0; kind < 3; kind++) {
        for (int r = 0; r < 20; r++) {
            gomap_type t = kind == 0   ? GOMAP_TYPE_U64_U64
                           : kind == 1 ? GOMAP_TYPE_STR_U64
                                       : gomap_type_builtin(GOMAP_KEY_BYTES, 200, 8, 8);
            gomap *m = gomap_new(&t, 0);
            CHECK(m != NULL);
            _Alignas(16) unsigned char key[200];
            uint64_t v = 1;
            gomap_iter it;
            gomap_stats s;
            for (size_t i = 1; i < 1300; i++) {
                memset(key, 0, sizeof key);
                if (kind == 1) {
                    snprintf(names[i], sizeof names[i], "k%zu", i);
                    gomap_str ks = {names[i], strlen(names[i])};
                    memcpy(key, &ks, sizeof ks);
                } else {
                    memcpy(key, &i, sizeof i);
                }
                CHECK_EQ(gomap_put(m, key, &v), 1);
                if (i == 100 + (size_t)r) { /* park an iterator, then grow */
                    gomap_iter_init(&it, m);
                    CHECK(gomap_iter_next(&it));
                }
                stats(m, &s);
                if (i > 100 + (size_t)r && s.growing) break;
            }
            CHECK(s.growing);
            CHECK_EQ(gomap_clear(m), GOMAP_OK);
            memset(key, 0, sizeof key); /* 0, {NULL, 0}, 200 zero bytes */
            CHECK_EQ(gomap_put(m, key, &v), 1);
            int n = 0;
            while (gomap_iter_next(&it)) {
                CHECK(memcmp(it.key, key, kind == 0 ? 8 : kind == 1 ? sizeof(gomap_str) : 200) == 0);
                n++;
            }
            if (n > 1) fprintf(stderr, "kind %d: the zero key was produced %d times\n", kind, n);
            CHECK(n <= 1);
            CHECK_MAP(m);
            gomap_free(m);
        }
    }
}

/* Writes that take the iterator's own key pointer (Go's
   `for k := range m { delete(m, k) }`): delete, put and assign through
   it.key, for inline, out-of-line, borrowed and copied keys. */
static void test_writes_through_iter_key(void) {
    const struct {
        enum gomap_key_kind kind;
        size_t ksize;
    } kinds[] = {{GOMAP_KEY_U64, 0}, {GOMAP_KEY_STR, 0}, {GOMAP_KEY_STR_COPY, 0},
                 {GOMAP_KEY_F64, 0}, {GOMAP_KEY_BYTES, 200}, {GOMAP_KEY_BYTES, 24}};
    static char names[400][24];
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        gomap_type t = gomap_type_builtin(kinds[ki].kind, kinds[ki].ksize, 8, 8);
        gomap *m = gomap_new(&t, 0);
        CHECK(m != NULL);
        _Alignas(16) unsigned char key[256];
        for (uint64_t i = 0; i < 400; i++) {
            memset(key, 0, sizeof key);
            switch (kinds[ki].kind) {
            case GOMAP_KEY_STR:
            case GOMAP_KEY_STR_COPY: {
                snprintf(names[i], sizeof names[i], "name-%llu", (unsigned long long)i);
                gomap_str s = {names[i], strlen(names[i])};
                memcpy(key, &s, sizeof s);
                break;
            }
            case GOMAP_KEY_F64: {
                double d = (double)i + 0.5;
                memcpy(key, &d, 8);
                break;
            }
            default:
                memcpy(key, &i, 8);
            }
            CHECK_EQ(gomap_put(m, key, &i), 1);
        }
        /* every third entry deleted through it.key, the others updated */
        size_t deleted = 0, n = 0;
        gomap_iter it;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            uint64_t v = val_of(&it);
            CHECK(v < 400);
            if (v % 3 == 0) {
                CHECK_EQ(gomap_delete(m, it.key), 1);
                deleted++;
            } else if (v % 3 == 1) {
                uint64_t nv = v + 1000;
                CHECK_EQ(gomap_put(m, it.key, &nv), 0);
            } else {
                bool ins = true;
                uint64_t *p = (uint64_t *)gomap_assign2(m, it.key, &ins);
                CHECK(p != NULL && !ins);
                *p += 1000;
            }
            n++;
        }
        CHECK_EQ(n, 400);
        CHECK_EQ(gomap_len(m), 400 - deleted);
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            uint64_t v = val_of(&it);
            CHECK(v >= 1000 && v < 1400 && (v - 1000) % 3 != 0);
        }
        /* and the plain idiom: delete everything as it comes */
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) CHECK_EQ(gomap_delete(m, it.key), 1);
        CHECK_EQ(gomap_len(m), 0);
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* ---- gomap_iter_next_n ---------------------------------------------------- */

/* Random writes between batches: the batch call keeps every guarantee of
   the one-at-a-time call (test_iter_random_mutation's tracker), whatever the
   batch size, and with either output array left out. */
static void test_iter_batch_random_mutation(void) {
    long rounds = tu_scaled(2000, 200);
    tu_seed(777);
    const void *keys[64];
    void *vals[64];
    for (long r = 0; r < rounds; r++) {
        tracker t;
        gomap *m = tr_random_map(&t);
        unsigned mode = (unsigned)(tu_rand() % 5); /* 4: no writes */
        tr_start(&t);
        size_t at_start = gomap_len(m), steps = 0, got;
        gomap_iter it;
        gomap_iter_init(&it, m);
        for (;;) {
            size_t want = 1 + (size_t)(tu_rand() % 64);
            bool with_keys = tu_rand() % 4 != 0;
            got = gomap_iter_next_n(&it, keys, with_keys ? vals : NULL, want);
            CHECK(got <= want);
            if (got == 0) break;
            for (size_t i = 0; i < got; i++) {
                gomap_iter one = {0};
                one.key = keys[i];
                one.val = with_keys ? vals[i] : (void *)(uintptr_t)gomap_get(m, keys[i]);
                tr_produced(&t, &one);
            }
            if (with_keys) CHECK(it.key == keys[got - 1] && it.val == vals[got - 1]);
            steps += got;
            CHECK(steps <= at_start + t.new_entries);
            if (got < want) break; /* fewer than asked: the end */
            if (mode != 4) tr_random_writes(&t, m, mode, (unsigned)(tu_rand() % 6));
        }
        /* finished: released, and further calls produce nothing */
        CHECK_EQ(gomap_iter_next_n(&it, keys, vals, 64), 0);
        CHECK(!gomap_iter_next(&it));
        gomap_stats st;
        stats(m, &st);
        CHECK_EQ(st.live_iterators, 0);
        tr_end(&t);
        if (mode == 4) CHECK_EQ(steps, at_start);
        CHECK_MAP(m);
        tr_free(&t);
        gomap_free(m);
    }
}

/* Start iterator b exactly where a starts (the private fields are the
   random start), as if one iterator were walked twice. */
static void same_start(gomap_iter *b, const gomap_iter *a) {
    b->start_bucket = a->start_bucket;
    b->bucket = a->bucket;
    b->offset = a->offset;
}

/* Same start, same entries in the same order: one at a time, in batches of
   random sizes, and mixing both; over maps with tombstones, overflow chains,
   out-of-line keys and values, and a grow in progress. */
static void check_batch_order(gomap *m, size_t ksize) {
    size_t len = gomap_len(m);
    const void **k1 = (const void **)calloc(len + 1, sizeof *k1);
    void **v1 = (void **)calloc(len + 1, sizeof *v1);
    const void **k2 = (const void **)calloc(len + 64, sizeof *k2);
    void **v2 = (void **)calloc(len + 64, sizeof *v2);
    CHECK(k1 && v1 && k2 && v2);
    gomap_iter a, b;
    gomap_iter_init(&a, m);
    gomap_iter_init(&b, m);
    same_start(&b, &a);
    size_t n1 = 0;
    while (gomap_iter_next(&a)) {
        CHECK(n1 < len);
        k1[n1] = a.key;
        v1[n1++] = a.val;
    }
    CHECK_EQ(n1, len);
    size_t n2 = 0, got;
    do {
        if (tu_rand() % 4 == 0) { /* a single step in between */
            got = gomap_iter_next(&b) ? 1 : 0;
            if (got) {
                k2[n2] = b.key;
                v2[n2] = b.val;
            }
        } else {
            got = gomap_iter_next_n(&b, k2 + n2, v2 + n2, 1 + (size_t)(tu_rand() % 63));
        }
        n2 += got;
        CHECK(n2 <= len);
    } while (got);
    CHECK_EQ(n2, len);
    for (size_t i = 0; i < len; i++) {
        CHECK(memcmp(k1[i], k2[i], ksize) == 0);
        CHECK(v1[i] == v2[i] || memcmp(v1[i], v2[i], 8) == 0);
    }
    free(k1);
    free(v1);
    free(k2);
    free(v2);
}

static void test_iter_batch_order(void) {
    tu_seed(4242);
    /* u64 -> u64, from empty to a few thousand, with deletions */
    const size_t sizes[] = {0, 1, 7, 8, 9, 53, 500, 4000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        gomap *m = new_u64(0);
        for (uint64_t i = 0; i < sizes[si] * 2; i++) put(m, i, i * 3);
        for (uint64_t i = 0; i < sizes[si] * 2; i += 2) CHECK_EQ(del(m, i), 1);
        for (int rep = 0; rep < 8; rep++) check_batch_order(m, 8);
        gomap_free(m);
    }
    /* a grow in progress: insert until one starts, then walk */
    gomap *g = new_u64(0);
    uint64_t k = 0;
    gomap_stats st;
    do {
        put(g, k, k + 1);
        k++;
        stats(g, &st);
    } while (!st.growing || k < 1000);
    for (int rep = 0; rep < 8; rep++) check_batch_order(g, 8);
    gomap_free(g);
    /* arrays big enough for the walks to prefetch (src/iter.c): 144-byte
       buckets (overflow buckets ahead), 528-byte buckets (whole buckets) */
    gomap *p1 = new_u64(0);
    for (uint64_t i = 0; i < 100000; i++) put(p1, i * 7919, i);
    check_batch_order(p1, 8);
    gomap_free(p1);
    gomap_type vt = gomap_type_builtin(GOMAP_KEY_U64, 8, 56, 8);
    gomap *p2 = gomap_new(&vt, 0);
    CHECK(p2 != NULL);
    unsigned char v56[56] = {1};
    for (uint64_t i = 0; i < 5000; i++) CHECK_EQ(gomap_put(p2, &i, v56), 1);
    check_batch_order(p2, 8);
    gomap_free(p2);
    /* 200-byte keys and values: both out of line */
    gomap_type bt = gomap_type_builtin(GOMAP_KEY_BYTES, 200, 200, 8);
    gomap *big = gomap_new(&bt, 0);
    CHECK(big != NULL);
    unsigned char kb[200], vb[200];
    for (int i = 0; i < 300; i++) {
        memset(kb, 0, sizeof kb);
        memcpy(kb, &i, sizeof i);
        memset(vb, i & 0xFF, sizeof vb);
        CHECK_EQ(gomap_put(big, kb, vb), 1);
    }
    for (int rep = 0; rep < 8; rep++) check_batch_order(big, 200);
    gomap_free(big);
}

/* Bad arguments and the edges: NULL iterator, n == 0, an empty or NULL map,
   an abandoned batch iterator released by gomap_iter_done. */
static void test_iter_batch_edges(void) {
    const void *keys[8];
    void *vals[8];
    CHECK_EQ(gomap_iter_next_n(NULL, keys, vals, 8), 0);
    gomap_iter it;
    gomap_iter_init(&it, NULL);
    CHECK_EQ(gomap_iter_next_n(&it, keys, vals, 8), 0);
    gomap *m = new_u64(0);
    gomap_iter_init(&it, m);
    CHECK_EQ(gomap_iter_next_n(&it, keys, vals, 8), 0);
    for (uint64_t i = 0; i < 100; i++) put(m, i, i);
    gomap_iter_init(&it, m);
    CHECK_EQ(gomap_iter_next_n(&it, keys, vals, 0), 0); /* nothing asked */
    CHECK_EQ(gomap_iter_next_n(&it, NULL, NULL, 8), 8); /* counted, not stored */
    CHECK_EQ(gomap_iter_next_n(&it, keys, NULL, 8), 8);
    gomap_stats st;
    stats(m, &st);
    CHECK_EQ(st.live_iterators, 1);
    gomap_iter_done(&it);
    stats(m, &st);
    CHECK_EQ(st.live_iterators, 0);
    CHECK_EQ(gomap_iter_next_n(&it, keys, vals, 8), 0);
    gomap_free(m);
}

int main(void) {
    RUN(test_iter_grow_and_delete);
    RUN(test_iter_grow_with_gc);
    RUN(test_iter_abandoned);
    RUN(test_iter_duplicate);
    RUN(test_sparse_iter_order);
    RUN(test_iter_order_varies);
    RUN(test_iter_delete_replace);
    RUN(test_iter_random_mutation);
    RUN(test_iter_update_latest);
    RUN(test_iter_key_update_across_grow);
    RUN(test_iter_started_mid_grow);
    RUN(test_iter_same_size_grow);
    RUN(test_iter_two_generations);
    RUN(test_clear_during_iteration);
    RUN(test_clear_older_array_issue70189);
    RUN(test_clear_mid_grow_issue59411);
    RUN(test_clear_parked_then_refill);
    RUN(test_writes_through_iter_key);
    RUN(test_clear_mid_grow_parked_iterator);
    RUN(test_iter_batch_random_mutation);
    RUN(test_iter_batch_order);
    RUN(test_iter_batch_edges);
    return tu_finish();
}

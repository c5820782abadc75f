/*
 * test_map_float.c -- Go's float-key semantics: +0 and -0 are one key and an overwrite stores the latest
 * representation (key update), also through growth and iteration; every NaN
 * is a new key that is never found, never deleted, always iterated and
 * removed only by clear; NaN keys survive growth with an iterator live
 * (the low-bit evacuation rule) and scatter over the buckets.
 */
#include "gomap.h"
#include "refmodel.h"
#include "testutil.h"

#include <math.h>

/* -0.0 built from its bits (no libm needed). */
static double negzero(void) {
    uint64_t bits = 0x8000000000000000ull;
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

static int put_f64(gomap *m, double k, uint64_t v) { return gomap_put(m, &k, &v); }

static uint64_t *get_f64(gomap *m, double k) { return (uint64_t *)gomap_get(m, &k); }

/* The stored key for k (which must be present). */
static double stored_f64(gomap *m, double k) {
    const void *sk = NULL;
    CHECK(gomap_get_key(m, &k, &sk) != NULL);
    CHECK(sk != NULL);
    double d;
    memcpy(&d, sk, sizeof d);
    return d;
}

static gomap *new_f64(int64_t hint) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_F64, 0, 8, 8);
    CHECK(t.flags & GOMAP_F_NONREFLEXIVE);
    CHECK(t.flags & GOMAP_F_KEY_UPDATE);
    gomap *m = gomap_new(&t, hint);
    CHECK(m != NULL);
    return m;
}

/* ---- +0 and -0 ------------------------------------------------------------------ */

/* Go's TestNegativeZero, plus get_key and assign. */
static void test_negative_zero(void) {
    for (int order = 0; order < 2; order++) {
        double first = order ? negzero() : 0.0, second = order ? 0.0 : negzero();
        gomap *m = new_f64(0);
        CHECK_EQ(put_f64(m, first, 1), 1);
        CHECK_EQ(put_f64(m, second, 2), 0); /* the same key */
        CHECK_EQ(gomap_len(m), 1);
        CHECK_EQ(*get_f64(m, 0.0), 2);
        CHECK_EQ(*get_f64(m, negzero()), 2);
        /* the stored key is the latest one */
        CHECK_EQ(signbit(stored_f64(m, first)) != 0, signbit(second) != 0);
        gomap_iter it;
        gomap_iter_init(&it, m);
        int n = 0;
        while (gomap_iter_next(&it)) {
            double k;
            memcpy(&k, it.key, 8);
            CHECK(k == 0);
            CHECK_EQ(signbit(k) != 0, signbit(second) != 0);
            n++;
        }
        CHECK_EQ(n, 1);
        /* assign on a hit updates the key too */
        bool ins = true;
        uint64_t *v = (uint64_t *)gomap_assign2(m, &first, &ins);
        CHECK(v != NULL && !ins && *v == 2);
        CHECK_EQ(signbit(stored_f64(m, second)) != 0, signbit(first) != 0);
        CHECK_EQ(gomap_delete(m, &second), 1);
        CHECK_EQ(gomap_len(m), 0);
        CHECK_MAP(m);
        gomap_free(m);
    }
    /* float32 too */
    gomap_type t = gomap_type_builtin(GOMAP_KEY_F32, 0, 8, 8);
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    float pz = 0.0f, nz;
    uint32_t nzbits = 0x80000000u;
    memcpy(&nz, &nzbits, 4);
    uint64_t v = 1;
    CHECK_EQ(gomap_put(m, &pz, &v), 1);
    CHECK_EQ(gomap_put(m, &nz, &v), 0);
    CHECK_EQ(gomap_len(m), 1);
    const void *sk = NULL;
    CHECK(gomap_get_key(m, &pz, &sk) != NULL);
    float s;
    memcpy(&s, sk, 4);
    CHECK(signbit(s));
    gomap_free(m);
}

/* The zero key keeps its latest sign through many grows, and an update while
   its old bucket is not yet evacuated is seen after evacuation. */
static void test_negative_zero_growth(void) {
    for (int round = 0; round < 20; round++) {
        gomap *m = new_f64(0);
        CHECK_EQ(put_f64(m, negzero(), 7), 1);
        for (int i = 1; i <= 3000; i++) {
            CHECK_EQ(put_f64(m, (double)i, (uint64_t)i), 1);
            gomap_stats s;
            gomap_stats_get(m, &s);
            /* flip the sign of zero at various points, also mid-grow */
            if (s.growing && (i + round) % 5 == 0) {
                double z = (i / 5) % 2 ? 0.0 : negzero();
                CHECK_EQ(put_f64(m, z, (uint64_t)i), 0);
                CHECK_EQ(signbit(stored_f64(m, 0.0)) != 0, signbit(z) != 0);
                CHECK_EQ(*get_f64(m, negzero()), (uint64_t)i);
            }
        }
        CHECK_EQ(gomap_len(m), 3001);
        CHECK_MAP(m);
        CHECK_EQ(put_f64(m, 0.0, 1), 0);
        CHECK(!signbit(stored_f64(m, negzero())));
        CHECK_EQ(put_f64(m, negzero(), 1), 0);
        CHECK(signbit(stored_f64(m, 0.0)));
        /* a clone keeps the sign */
        gomap *c = gomap_clone(m);
        CHECK(c != NULL);
        CHECK(signbit(stored_f64(c, 0.0)));
        gomap_free(c);
        gomap_free(m);
    }
}

/* Go's TestGrowWithNegativeZero: a struct key {float64, int}; during
   iteration the map grows and every +0 key is overwritten with -0; the
   entries not yet reached must come out with the -0 key and the new value
   together. */
typedef struct float_int {
    double x;
    int64_t y;
} float_int;

static uint64_t fi_hash(const void *k, uint64_t seed) {
    float_int f;
    memcpy(&f, k, sizeof f);
    uint64_t bits;
    double x = f.x == 0 ? 0.0 : f.x; /* one hash for both zeros */
    memcpy(&bits, &x, 8);
    return gomap_hash_u64(bits ^ gomap_hash_u64((uint64_t)f.y, seed), seed);
}

static bool fi_equal(const void *a, const void *b) {
    float_int x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    return x.x == y.x && x.y == y.y;
}

static void test_grow_with_negative_zero(void) {
    gomap_type t;
    memset(&t, 0, sizeof t);
    t.kind = GOMAP_KEY_CUSTOM;
    t.key_size = sizeof(float_int);
    t.key_align = 8;
    t.val_size = 8;
    t.val_align = 8;
    t.flags = GOMAP_F_NONREFLEXIVE | GOMAP_F_KEY_UPDATE;
    t.hash = fi_hash;
    t.equal = fi_equal;
    for (int round = 0; round < 200; round++) {
        gomap *m = gomap_new(&t, 4);
        CHECK(m != NULL);
        for (int64_t i = 0; i < 4; i++) {
            float_int k = {0.0, i};
            uint64_t v = (uint64_t)1 << i;
            CHECK_EQ(gomap_put(m, &k, &v), 1);
        }
        bool grow = true;
        unsigned s = 0;
        int cnt = 0, negcnt = 0;
        gomap_iter it;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            float_int k;
            uint64_t v;
            memcpy(&k, it.key, sizeof k);
            memcpy(&v, it.val, 8);
            if (v == 0) continue; /* entries added to grow the map */
            cnt++;
            if (signbit(k.x)) {
                CHECK(v & 16); /* key and value updated together */
                negcnt++;
                s |= (unsigned)(v & 15);
            } else {
                CHECK(!(v & 16));
                s |= (unsigned)v;
            }
            if (grow) {
                for (int64_t i = 0; i < 100; i++) {
                    float_int g = {3.0, i};
                    uint64_t z = 0;
                    CHECK_EQ(gomap_put(m, &g, &z), 1);
                }
                for (int64_t i = 0; i < 4; i++) {
                    float_int nk = {negzero(), i};
                    uint64_t nv = ((uint64_t)1 << i) | 16;
                    CHECK_EQ(gomap_put(m, &nk, &nv), 0);
                }
                grow = false;
            }
            CHECK_MAP(m);
        }
        CHECK_EQ(s, 15);
        CHECK_EQ(cnt, 4);
        CHECK_EQ(negcnt, 3);
        gomap_free(m);
    }
}

/* ---- NaN -------------------------------------------------------------------------- */

static double nan_payload(unsigned i) {
    /* quiet NaNs with various payloads and both signs */
    uint64_t bits = 0x7FF8000000000000ull | (uint64_t)(i * 7919u % 0x7FFFFu);
    if (i % 3 == 1) bits |= 0x8000000000000000ull;
    double d;
    memcpy(&d, &bits, 8);
    CHECK(d != d);
    return d;
}

/* Go's testMapNan: three NaN entries with values 1, 2, 4. */
static void check_three_nans(gomap *m) {
    CHECK_EQ(gomap_len(m), 3);
    unsigned s = 0;
    gomap_iter it;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it)) {
        double k;
        uint64_t v;
        memcpy(&k, it.key, 8);
        memcpy(&v, it.val, 8);
        CHECK(k != k);
        CHECK((v & (v - 1)) == 0);
        s |= (unsigned)v;
    }
    CHECK_EQ(s, 7);
}

static void test_nan_basics(void) {
    double nan = NAN;
    /* TestMapAssignmentNan */
    gomap *m = new_f64(0);
    CHECK_EQ(put_f64(m, nan, 1), 1);
    CHECK_EQ(put_f64(m, nan, 2), 1);
    CHECK_EQ(put_f64(m, nan, 4), 1);
    check_three_nans(m);
    CHECK_MAP(m);
    gomap_free(m);
    /* TestMapOperatorAssignmentNan: every assign inserts */
    m = new_f64(0);
    for (uint64_t v = 1; v <= 4; v *= 2) {
        bool ins = false;
        uint64_t *p = (uint64_t *)gomap_assign2(m, &nan, &ins);
        CHECK(p != NULL && ins && *p == 0);
        *p += v;
    }
    check_three_nans(m);
    CHECK_MAP(m);

    /* never found, never deleted, get_key finds nothing */
    const void *sk = NULL;
    CHECK(get_f64(m, nan) == NULL);
    CHECK(gomap_get_key(m, &nan, &sk) == NULL);
    CHECK_EQ(gomap_delete(m, &nan), 0);
    double other = nan_payload(5);
    CHECK_EQ(gomap_delete(m, &other), 0);
    CHECK_EQ(gomap_len(m), 3);
    /* NaN keys produced by the iterator cannot be found or deleted either */
    gomap_iter it;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it)) {
        CHECK(gomap_get(m, it.key) == NULL);
        double k;
        memcpy(&k, it.key, 8);
        CHECK_EQ(gomap_delete(m, &k), 0);
    }
    CHECK_EQ(gomap_len(m), 3);
    /* ordinary keys next to NaNs */
    CHECK_EQ(put_f64(m, 1.0, 10), 1);
    CHECK_EQ(*get_f64(m, 1.0), 10);
    double one = 1.0;
    CHECK_EQ(gomap_delete(m, &one), 1);
    /* clear removes them */
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    CHECK_EQ(gomap_len(m), 0);
    gomap_iter_init(&it, m);
    CHECK(!gomap_iter_next(&it));
    CHECK_MAP(m);
    gomap_free(m);

    /* many payloads, and float32 */
    m = new_f64(0);
    for (unsigned i = 0; i < 100; i++) CHECK_EQ(put_f64(m, nan_payload(i), i), 1);
    CHECK_EQ(gomap_len(m), 100);
    CHECK_MAP(m);
    gomap_free(m);
    gomap_type t = gomap_type_builtin(GOMAP_KEY_F32, 0, 8, 8);
    m = gomap_new(&t, 0);
    CHECK(m != NULL);
    float fn = NAN;
    uint64_t v = 0;
    for (int i = 0; i < 50; i++) CHECK_EQ(gomap_put(m, &fn, &v), 1);
    CHECK(gomap_get(m, &fn) == NULL);
    CHECK_EQ(gomap_delete(m, &fn), 0);
    CHECK_EQ(gomap_len(m), 50);
    CHECK_MAP(m);
    gomap_free(m);
}

/* Go's TestGrowWithNaN. */
static void test_grow_with_nan(void) {
    for (int round = 0; round < 100; round++) {
        gomap *m = new_f64(4);
        double nan = NAN;
        CHECK_EQ(put_f64(m, nan, 1), 1);
        CHECK_EQ(put_f64(m, nan, 2), 1);
        *(uint64_t *)gomap_assign(m, &nan) += 4;
        int cnt = 0;
        unsigned s = 0;
        bool grow = true;
        gomap_iter it;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            if (grow) {
                for (int i = 0; i < 50; i++) put_f64(m, (double)i, (uint64_t)i);
                for (int i = 50; i < 100; i++) {
                    double k = (double)i;
                    *(uint64_t *)gomap_assign(m, &k) += (uint64_t)i;
                }
                grow = false;
            }
            double k;
            memcpy(&k, it.key, 8);
            if (k != k) {
                uint64_t v;
                memcpy(&v, it.val, 8);
                cnt++;
                s |= (unsigned)v;
            }
        }
        CHECK_EQ(cnt, 3);
        CHECK_EQ(s, 7);
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* Go's TestMapNanGrowIterator: the iterator starts during a grow of a map
   full of NaNs, and the grow finishes halfway through the iteration. */
static void test_nan_grow_iterator(void) {
    for (int round = 0; round < 100; round++) {
        gomap *m = new_f64(0);
        const int nbuckets = 16, nkeys = 104; /* 16 * 6.5 */
        double nan = NAN, one = 1.0;
        for (int i = 0; i < nkeys; i++) CHECK_EQ(put_f64(m, nan, (uint64_t)i), 1);
        CHECK_EQ(put_f64(m, 1.0, 1), 1); /* triggers the grow */
        CHECK_EQ(gomap_delete(m, &one), 1);
        gomap_stats s;
        gomap_stats_get(m, &s);
        CHECK(s.growing);
        unsigned char found[104] = {0};
        int nfound = 0;
        gomap_iter it;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            uint64_t v;
            memcpy(&v, it.val, 8);
            CHECK(v < (uint64_t)nkeys);
            if (found[v]) RM_FAIL("a NaN entry was produced twice");
            found[v] = 1;
            nfound++;
            if (nfound == nkeys / 2) {
                for (int i = 0; i < nbuckets; i++) CHECK_EQ(gomap_delete(m, &one), 0);
                gomap_stats_get(m, &s);
                CHECK(!s.growing);
                CHECK_MAP(m);
            }
        }
        CHECK_EQ(nfound, nkeys);
        gomap_free(m);
    }
}

/* NaN entries present when iteration starts are each produced exactly once
   while the map grows several times under the iterator (with iterators
   live, NaNs take X or Y by the low bit of their tophash); new NaNs are
   produced at most once. */
static void test_nan_iterate_while_growing(void) {
    long rounds = tu_scaled(50, 5);
    for (long round = 0; round < rounds; round++) {
        gomap *m = new_f64(0);
        const uint64_t old = 40, extra = 2000;
        for (uint64_t i = 0; i < old; i++) CHECK_EQ(put_f64(m, nan_payload((unsigned)i), i), 1);
        unsigned char *seen = (unsigned char *)calloc(old + extra, 1);
        gomap_iter it, it2;
        gomap_iter_init(&it, m);
        gomap_iter_init(&it2, m); /* a second iterator, parked */
        uint64_t added = 0;
        size_t steps = 0;
        while (gomap_iter_next(&it)) {
            uint64_t v;
            memcpy(&v, it.val, 8);
            CHECK(v < old + extra);
            if (seen[v]) RM_FAIL("NaN entry produced twice");
            seen[v] = 1;
            steps++;
            /* grow a lot between steps */
            for (int j = 0; j < 60 && added < extra; j++, added++)
                CHECK_EQ(put_f64(m, nan_payload((unsigned)(old + added)), old + added), 1);
            if (steps % 7 == 0) CHECK_MAP(m);
        }
        for (uint64_t i = 0; i < old; i++) CHECK(seen[i]);
        /* the parked iterator, from the first array, still sees every old NaN once */
        memset(seen, 0, old + extra);
        while (gomap_iter_next(&it2)) {
            uint64_t v;
            memcpy(&v, it2.val, 8);
            CHECK(v < old + extra);
            if (seen[v]) RM_FAIL("NaN entry produced twice by the parked iterator");
            seen[v] = 1;
        }
        for (uint64_t i = 0; i < old; i++) CHECK(seen[i]);
        gomap_stats s;
        gomap_stats_get(m, &s);
        CHECK_EQ(s.live_iterators, 0);
        CHECK_EQ(s.count, old + added);
        CHECK_MAP(m);
        free(seen);
        gomap_free(m);
    }
}

/* NaN hashes are random: many NaNs spread over the buckets instead of
   making one chain (Go's test/maplinear.go, counted instead of timed). */
static void test_nan_scatter(void) {
    gomap *m = new_f64(0);
    double nan = NAN;
    for (uint64_t i = 0; i < 20000; i++) CHECK_EQ(put_f64(m, nan, i), 1);
    gomap_stats s;
    gomap_stats_get(m, &s);
    CHECK_EQ(s.count, 20000);
    /* one chain would need 2500 overflow buckets */
    CHECK(s.overflow_buckets < s.buckets);
    CHECK(s.B >= 11);
    CHECK_MAP(m);
    gomap_free(m);
}

int main(void) {
    RUN(test_negative_zero);
    RUN(test_negative_zero_growth);
    RUN(test_grow_with_negative_zero);
    RUN(test_nan_basics);
    RUN(test_grow_with_nan);
    RUN(test_nan_grow_iterator);
    RUN(test_nan_iterate_while_growing);
    RUN(test_nan_scatter);
    return tu_finish();
}

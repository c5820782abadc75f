/*
 * test_typed.c -- the typed layer (gomap_typed.h): every generated function
 * on maps of u64 -> u64, u32 -> double, gomap_str -> u64 (borrowed and
 * copied bytes), u64 -> a struct, a padding-free struct key (bytes), float
 * keys (f64) and bool keys (u8): return values, nil handles, iteration
 * (each entry once, also while deleting), the batch calls across their
 * internal chunks, descriptors, clone, and out of memory through a failing
 * allocator (the map unchanged, nothing leaked).  That wrong key types do
 * not compile is checked by the typed_wrong_key tests (tests/CMakeLists.txt).
 */
#include "gomap_typed.h"
#include "testutil.h"

#include <math.h>

typedef struct point {
    int32_t x, y;
    double weight;
    char label[12];
} point;

typedef struct pair_key { /* no padding: fit for the bytes kind */
    uint32_t a, b;
} pair_key;

GOMAP_DECLARE(u64map, uint64_t, uint64_t, u64);
GOMAP_DECLARE(u32dbl, uint32_t, double, u32);
GOMAP_DECLARE(strmap, gomap_str, uint64_t, str);
GOMAP_DECLARE(strcopy, gomap_str, uint64_t, str_copy);
GOMAP_DECLARE(pointmap, uint64_t, point, u64);
GOMAP_DECLARE(pairmap, pair_key, int, bytes);
GOMAP_DECLARE(f64map, double, int, f64);
GOMAP_DECLARE(boolmap, bool, int, u8);
GOMAP_DECLARE(ptrmap, const int *, int, u64);

/* ---- u64 -> u64: every call, one by one -------------------------------------- */

static void test_u64_basic(void) {
    u64map m;
    CHECK_EQ(u64map_new(&m), GOMAP_OK);
    CHECK(m.map != NULL);
    CHECK_EQ(u64map_len(&m), 0);
    CHECK(u64map_get(&m, 1) == NULL);
    CHECK(!u64map_contains(&m, 1));

    CHECK_EQ(u64map_put(&m, 1, 10), 1); /* inserted */
    CHECK_EQ(u64map_put(&m, 2, 20), 1);
    CHECK_EQ(u64map_put(&m, 1, 11), 0); /* updated */
    CHECK_EQ(u64map_len(&m), 2);
    CHECK_EQ(*u64map_get(&m, 1), 11);
    CHECK(u64map_contains(&m, 2));

    uint64_t v = 99;
    CHECK(u64map_get2(&m, 2, &v));
    CHECK_EQ(v, 20);
    v = 99;
    CHECK(!u64map_get2(&m, 3, &v));
    CHECK_EQ(v, 99); /* untouched on a miss */
    CHECK(u64map_get2(&m, 2, NULL));
    CHECK_EQ(u64map_get_or(&m, 2, 7), 20);
    CHECK_EQ(u64map_get_or(&m, 3, 7), 7);

    /* m[k]++ through assign: zeroed when new */
    bool inserted = false;
    uint64_t *slot = u64map_assign2(&m, 3, &inserted);
    CHECK(slot && inserted && *slot == 0);
    ++*slot;
    slot = u64map_assign2(&m, 3, &inserted);
    CHECK(slot && !inserted && *slot == 1);
    ++*u64map_assign(&m, 3);
    CHECK_EQ(*u64map_get(&m, 3), 2);
    CHECK(u64map_assign2(&m, 4, NULL) != NULL);
    CHECK_EQ(u64map_len(&m), 4);

    /* m[k2] = m[k1], with the pointer into the map handed back */
    CHECK_EQ(u64map_put(&m, 5, *u64map_get(&m, 1)), 1);
    CHECK_EQ(*u64map_get(&m, 5), 11);

    CHECK_EQ(u64map_delete(&m, 4), 1);
    CHECK_EQ(u64map_delete(&m, 4), 0);
    CHECK(!u64map_contains(&m, 4));
    CHECK_EQ(u64map_len(&m), 4);

    CHECK_EQ(u64map_clear(&m), GOMAP_OK);
    CHECK_EQ(u64map_len(&m), 0);
    CHECK(u64map_get(&m, 1) == NULL);
    CHECK_EQ(u64map_put(&m, 1, 1), 1);
    CHECK_MAP(m.map);

    u64map_free(&m);
    CHECK(m.map == NULL);
    u64map_free(&m); /* a nil map: no-op */
    u64map_free(NULL);
}

/* A handle whose map is NULL is Go's nil map; a NULL handle pointer too. */
static void test_nil_handles(void) {
    u64map nil = {0};
    CHECK_EQ(u64map_len(&nil), 0);
    CHECK(u64map_get(&nil, 1) == NULL);
    CHECK(!u64map_contains(&nil, 1));
    CHECK(!u64map_get2(&nil, 1, NULL));
    CHECK_EQ(u64map_get_or(&nil, 1, 5), 5);
    CHECK_EQ(u64map_put(&nil, 1, 1), GOMAP_EINVAL);
    CHECK(u64map_assign(&nil, 1) == NULL);
    CHECK_EQ(u64map_delete(&nil, 1), GOMAP_EINVAL);
    CHECK_EQ(u64map_clear(&nil), GOMAP_EINVAL);
    u64map_iter it;
    u64map_iter_init(&it, &nil);
    CHECK(!u64map_iter_next(&it));

    CHECK_EQ(u64map_len(NULL), 0);
    CHECK(u64map_get(NULL, 1) == NULL);
    CHECK_EQ(u64map_put(NULL, 1, 1), GOMAP_EINVAL);
    CHECK_EQ(u64map_delete(NULL, 1), GOMAP_EINVAL);
    CHECK_EQ(u64map_new(NULL), GOMAP_EINVAL);
    CHECK_EQ(u64map_clone(NULL, &nil), GOMAP_EINVAL);

    u64map c;
    CHECK_EQ(u64map_clone(&c, &nil), GOMAP_EINVAL);
    CHECK(c.map == NULL);
    u64map_iter_init(&it, NULL);
    CHECK(!u64map_iter_next(&it));
}

/* ---- u32 -> double: growth, iteration, deleting while iterating --------------- */

static void test_u32_iterate(void) {
    enum { N = 5000 };
    static unsigned char seen[N];
    u32dbl m;
    CHECK_EQ(u32dbl_new_hint(&m, 16), GOMAP_OK);
    for (uint32_t i = 0; i < N; i++) CHECK_EQ(u32dbl_put(&m, i, i * 0.5), 1);
    CHECK_EQ(u32dbl_len(&m), N);
    CHECK_MAP(m.map);

    memset(seen, 0, sizeof seen);
    size_t n = 0;
    u32dbl_iter it;
    u32dbl_iter_init(&it, &m);
    while (u32dbl_iter_next(&it)) {
        uint32_t k = *it.key;
        CHECK(k < N);
        CHECK(!seen[k]);
        seen[k] = 1;
        CHECK(*it.val == k * 0.5);
        *it.val += 1.0; /* values are writable in place */
        n++;
    }
    CHECK_EQ(n, N);
    CHECK(*u32dbl_get(&m, 7) == 4.5);

    /* delete the odd keys while iterating: each entry still produced once,
       the deleted ones never after their deletion */
    memset(seen, 0, sizeof seen);
    n = 0;
    u32dbl_iter_init(&it, &m);
    while (u32dbl_iter_next(&it)) {
        uint32_t k = *it.key;
        CHECK(!seen[k]);
        seen[k] = 1;
        n++;
        if (k % 2 == 1) CHECK(!seen[k - 1]); /* else it was deleted before */
        if (k % 2 == 0 && k + 1 < N) CHECK_EQ(u32dbl_delete(&m, k + 1), 1);
    }
    CHECK(n <= N);
    for (uint32_t k = 0; k < N; k++) CHECK_EQ(u32dbl_contains(&m, k), k % 2 == 0);
    CHECK_EQ(u32dbl_len(&m), N / 2);

    /* an iterator abandoned early is released */
    u32dbl_iter_init(&it, &m);
    CHECK(u32dbl_iter_next(&it));
    gomap_stats s;
    gomap_stats_get(m.map, &s);
    CHECK_EQ(s.live_iterators, 1);
    u32dbl_iter_done(&it);
    gomap_stats_get(m.map, &s);
    CHECK_EQ(s.live_iterators, 0);
    CHECK_MAP(m.map);
    u32dbl_free(&m);
}

/* ---- gomap_str -> u64: borrowed bytes and copied bytes ------------------------- */

static gomap_str S(const char *s) {
    gomap_str r = {s, strlen(s)};
    return r;
}

static void test_str_keys(void) {
    static const char *words[] = {"alpha", "beta", "gamma", "delta", "", "alpha2"};
    strmap m;
    CHECK_EQ(strmap_new(&m), GOMAP_OK);
    for (uint64_t i = 0; i < 6; i++) CHECK_EQ(strmap_put(&m, S(words[i]), i), 1);
    CHECK_EQ(strmap_put(&m, S("beta"), 100), 0);
    CHECK_EQ(strmap_len(&m), 6);
    CHECK_EQ(*strmap_get(&m, S("beta")), 100);
    CHECK_EQ(*strmap_get(&m, S("")), 4);
    gomap_str empty = {NULL, 0};
    CHECK_EQ(*strmap_get(&m, empty), 4);
    CHECK(!strmap_contains(&m, S("alph")));
    CHECK_EQ(strmap_delete(&m, S("gamma")), 1);

    size_t n = 0;
    uint64_t sum = 0;
    strmap_iter it;
    strmap_iter_init(&it, &m);
    while (strmap_iter_next(&it)) {
        const gomap_str *k = it.key;
        CHECK(k->len <= 6);
        sum += *it.val;
        n++;
    }
    CHECK_EQ(n, 5);
    CHECK_EQ(sum, 0 + 100 + 3 + 4 + 5);
    strmap_free(&m);

    /* str_copy: the caller's buffer may change after the call */
    strcopy c;
    CHECK_EQ(strcopy_new(&c), GOMAP_OK);
    char buf[16];
    for (uint64_t i = 0; i < 100; i++) {
        int len = snprintf(buf, sizeof buf, "key-%llu", (unsigned long long)i);
        gomap_str k = {buf, (size_t)len};
        CHECK_EQ(strcopy_put(&c, k, i * i), 1);
    }
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(strcopy_len(&c), 100);
    CHECK_EQ(strcopy_get_or(&c, S("key-9"), 0), 81);
    CHECK_EQ(strcopy_get_or(&c, S("key-99"), 0), 99 * 99);
    CHECK(!strcopy_contains(&c, S("xxxxxxx")));
    CHECK_MAP(c.map);
    strcopy_free(&c);
}

/* ---- a struct value; a struct key; float and bool keys ------------------------- */

static void test_struct_values(void) {
    pointmap m;
    CHECK_EQ(pointmap_new(&m), GOMAP_OK);
    for (uint64_t i = 0; i < 300; i++) {
        point p = {(int32_t)i, -(int32_t)i, (double)i / 4, {0}};
        snprintf(p.label, sizeof p.label, "p%llu", (unsigned long long)i);
        CHECK_EQ(pointmap_put(&m, i, p), 1);
    }
    point p;
    CHECK(pointmap_get2(&m, 42, &p));
    CHECK(p.x == 42 && p.y == -42 && p.weight == 10.5 && strcmp(p.label, "p42") == 0);
    point *q = pointmap_assign(&m, 1000); /* zeroed */
    CHECK(q && q->x == 0 && q->y == 0 && q->weight == 0 && q->label[0] == '\0');
    q->x = 7;
    CHECK_EQ(pointmap_get(&m, 1000)->x, 7);
    point dflt = {-1, -1, -1, "none"};
    CHECK_EQ(pointmap_get_or(&m, 5000, dflt).x, -1);
    CHECK_EQ(pointmap_len(&m), 301);

    pointmap_iter it;
    pointmap_iter_init(&it, &m);
    size_t n = 0;
    while (pointmap_iter_next(&it)) {
        if (*it.key < 300) CHECK_EQ(it.val->x, (int32_t)*it.key);
        n++;
    }
    CHECK_EQ(n, 301);
    pointmap_free(&m);
}

static void test_other_keys(void) {
    pairmap pm;
    CHECK_EQ(pairmap_new(&pm), GOMAP_OK);
    for (uint32_t a = 0; a < 20; a++)
        for (uint32_t b = 0; b < 20; b++) {
            pair_key k = {a, b};
            CHECK_EQ(pairmap_put(&pm, k, (int)(a * 100 + b)), 1);
        }
    pair_key k = {3, 17};
    CHECK_EQ(*pairmap_get(&pm, k), 317);
    k.a = 20;
    CHECK(!pairmap_contains(&pm, k));
    CHECK_EQ(pairmap_len(&pm), 400);
    pairmap_free(&pm);

    /* Go's float keys: +0 == -0; NaN is never found and each put adds one */
    f64map fm;
    CHECK_EQ(f64map_new(&fm), GOMAP_OK);
    CHECK_EQ(f64map_put(&fm, 0.0, 1), 1);
    CHECK_EQ(f64map_put(&fm, -0.0, 2), 0);
    CHECK_EQ(*f64map_get(&fm, 0.0), 2);
    CHECK_EQ(f64map_put(&fm, NAN, 3), 1);
    CHECK_EQ(f64map_put(&fm, NAN, 4), 1);
    CHECK(!f64map_contains(&fm, NAN));
    CHECK_EQ(f64map_delete(&fm, NAN), 0);
    CHECK_EQ(f64map_len(&fm), 3);
    CHECK_EQ(f64map_clear(&fm), GOMAP_OK);
    CHECK_EQ(f64map_len(&fm), 0);
    f64map_free(&fm);

    boolmap bm;
    CHECK_EQ(boolmap_new(&bm), GOMAP_OK);
    CHECK_EQ(boolmap_put(&bm, true, 1), 1);
    CHECK_EQ(boolmap_put(&bm, false, 2), 1);
    CHECK_EQ(boolmap_put(&bm, true, 3), 0);
    CHECK_EQ(boolmap_len(&bm), 2);
    CHECK_EQ(*boolmap_get(&bm, true), 3);
    boolmap_free(&bm);

    /* pointer identity keys */
    static const int cells[4] = {0};
    ptrmap xm;
    CHECK_EQ(ptrmap_new(&xm), GOMAP_OK);
    for (int i = 0; i < 4; i++) CHECK_EQ(ptrmap_put(&xm, &cells[i], i), 1);
    CHECK_EQ(*ptrmap_get(&xm, &cells[2]), 2);
    ptrmap_iter it;
    ptrmap_iter_init(&it, &xm);
    while (ptrmap_iter_next(&it)) CHECK(*it.key == &cells[*it.val]);
    ptrmap_free(&xm);
}

/* ---- batches, over several of the header's chunks ------------------------------ */

static void test_batches(void) {
    enum { N = 3 * GOMAP_TYPED_BATCH + 17 };
    static uint64_t keys[N], vals[N];
    static uint64_t *got[N];
    static const uint64_t *kp[N];
    u64map m;
    CHECK_EQ(u64map_new(&m), GOMAP_OK);
    for (size_t i = 0; i < N; i++) {
        keys[i] = i * 7919 + 1;
        vals[i] = i;
    }
    size_t done = 0;
    CHECK_EQ(u64map_put_many(&m, keys, vals, N, &done), GOMAP_OK);
    CHECK_EQ(done, N);
    CHECK_EQ(u64map_len(&m), N);

    keys[5] = 2; /* one miss */
    CHECK_EQ(u64map_get_many(&m, keys, N, got), N - 1);
    for (size_t i = 0; i < N; i++) {
        if (i == 5) {
            CHECK(got[i] == NULL);
            continue;
        }
        CHECK(got[i] != NULL);
        CHECK_EQ(*got[i], i);
    }
    CHECK_EQ(u64map_get_many(&m, NULL, N, got), 0);
    CHECK(got[0] == NULL && got[N - 1] == NULL);
    CHECK_EQ(u64map_get_many(&m, keys, N, NULL), 0);
    keys[5] = 5 * 7919 + 1;

    /* iter_next_n: batches of several chunks, then the tail */
    size_t n = 0, calls = 0;
    uint64_t sum = 0;
    u64map_iter it;
    u64map_iter_init(&it, &m);
    for (;;) {
        size_t k = u64map_iter_next_n(&it, kp, got, 2 * GOMAP_TYPED_BATCH + 3);
        calls++;
        for (size_t i = 0; i < k; i++) {
            CHECK_EQ((*kp[i] - 1) / 7919, *got[i]);
            sum += *got[i];
        }
        n += k;
        if (k > 0) CHECK(it.key == kp[k - 1] && it.val == got[k - 1]);
        if (k < 2 * GOMAP_TYPED_BATCH + 3) break;
    }
    CHECK_EQ(n, N);
    CHECK_EQ(sum, (uint64_t)N * (N - 1) / 2);
    CHECK(calls >= 2);
    /* keys or values alone */
    u64map_iter_init(&it, &m);
    CHECK_EQ(u64map_iter_next_n(&it, NULL, got, N + 10), N);
    u64map_iter_init(&it, &m);
    CHECK_EQ(u64map_iter_next_n(&it, kp, NULL, 10), 10);
    u64map_iter_done(&it);

    CHECK_EQ(u64map_delete_many(&m, keys, N / 2, &done), GOMAP_OK);
    CHECK_EQ(done, N / 2);
    CHECK_EQ(u64map_len(&m), N - N / 2);
    CHECK(!u64map_contains(&m, keys[0]));
    CHECK(u64map_contains(&m, keys[N - 1]));
    CHECK_EQ(u64map_put_many(&m, NULL, vals, 1, NULL), GOMAP_EINVAL);
    CHECK_MAP(m.map);
    u64map_free(&m);
}

/* ---- descriptors, creation, clone ------------------------------------------------ */

static void test_descriptors(void) {
    gomap_type t = u64map_type();
    CHECK_EQ(t.kind, GOMAP_KEY_U64);
    CHECK_EQ(t.key_size, 8);
    CHECK_EQ(t.val_size, 8);
    CHECK_EQ(gomap_type_check(&t), GOMAP_OK);
    t = pointmap_type();
    CHECK_EQ(t.val_size, sizeof(point));
    CHECK_EQ(t.val_align, _Alignof(point));
    CHECK_EQ(gomap_type_check(&t), GOMAP_OK);
    t = strcopy_type();
    CHECK_EQ(t.kind, GOMAP_KEY_STR_COPY);
    CHECK_EQ(t.key_size, sizeof(gomap_str));
    CHECK_EQ(gomap_type_check(&t), GOMAP_OK);

    /* a descriptor of the same shape is taken; another shape is refused */
    u64map m;
    gomap_type same = GOMAP_TYPE_U64_U64;
    CHECK_EQ(u64map_create(&m, &same, 100, NULL), GOMAP_OK);
    CHECK_EQ(u64map_put(&m, 1, 2), 1);
    u64map_free(&m);
    gomap_type other = GOMAP_TYPE_STR_U64;
    CHECK_EQ(u64map_create(&m, &other, 0, NULL), GOMAP_EINVAL);
    CHECK(m.map == NULL);
    gomap_type small_val = gomap_type_builtin(GOMAP_KEY_U64, 8, 4, 4);
    CHECK_EQ(u64map_create(&m, &small_val, 0, NULL), GOMAP_EINVAL);
    gomap_type loose = pointmap_type();
    loose.val_align = 1;
    pointmap pm;
    CHECK_EQ(pointmap_create(&pm, &loose, 0, NULL), GOMAP_EINVAL);
    CHECK(pm.map == NULL);
    gomap_type bad_kind = u64map_type();
    bad_kind.kind = (enum gomap_key_kind)99;
    CHECK_EQ(u64map_create(&m, &bad_kind, 0, NULL), GOMAP_EINVAL);
    CHECK(m.map == NULL);

    /* the typed handle over a map the untyped API made, and clone */
    m.map = gomap_new(&same, 0);
    CHECK(m.map != NULL);
    uint64_t k = 9, v = 81;
    CHECK_EQ(gomap_put(m.map, &k, &v), 1);
    CHECK_EQ(*u64map_get(&m, 9), 81);
    u64map c;
    CHECK_EQ(u64map_clone(&c, &m), GOMAP_OK);
    CHECK_EQ(u64map_put(&m, 9, 0), 0);
    CHECK_EQ(*u64map_get(&c, 9), 81);
    CHECK_EQ(u64map_len(&c), 1);
    u64map_free(&c);
    u64map_free(&m);
}

/* ---- out of memory ------------------------------------------------------------------ */

static void test_enomem(void) {
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator al = tu_allocator(&a);

    /* creation: the first allocation refused */
    u64map m;
    a.fail_at = 0;
    CHECK_EQ(u64map_new_with(&m, 1000, &al), GOMAP_ENOMEM);
    CHECK(m.map == NULL);
    CHECK_EQ(a.live, 0);

    /* Every allocation a run of inserts makes, refused in turn: the call
       that meets the refusal reports it and leaves the map as it was. */
    enum { N = 200 };
    long long total = -1, reported = 0;
    for (long long fail = 0;; fail++) {
        memset(&a, 0, sizeof a);
        al = tu_allocator(&a);
        CHECK_EQ(u64map_new_with(&m, 0, &al), GOMAP_OK);
        a.fail_at = a.calls + fail;
        bool refused = false;
        for (uint64_t i = 0; i < N && !refused; i++) {
            long long failed = a.failed;
            int st;
            if (i % 2) {
                st = u64map_put(&m, i, i + 1);
            } else {
                uint64_t *slot = u64map_assign(&m, i);
                st = slot ? 1 : GOMAP_ENOMEM;
                if (slot) *slot = i + 1;
            }
            if (st == GOMAP_ENOMEM) {
                refused = true;
                reported++;
                CHECK(a.failed > failed);
                CHECK_EQ(u64map_len(&m), i);
                CHECK(!u64map_contains(&m, i));
                CHECK_MAP(m.map);
            } else {
                CHECK_EQ(st, 1); /* no refusal, or one the call got around */
            }
        }
        for (uint64_t i = 0; i < u64map_len(&m); i++) CHECK_EQ(u64map_get_or(&m, i, 0), i + 1);
        /* after a refusal, the map works again */
        a.fail_at = -1;
        CHECK(u64map_put(&m, N, 1) >= 0);
        u64map_free(&m);
        CHECK_EQ(a.live, 0);
        if (a.failed == 0) { /* the inserts made fewer allocations */
            total = fail;
            break;
        }
    }
    CHECK(total > 2);    /* the inserts allocated, */
    CHECK(reported > 0); /* and a refusal was reported */

    /* clone under a refused allocation */
    memset(&a, 0, sizeof a);
    al = tu_allocator(&a);
    CHECK_EQ(u64map_new_with(&m, 0, &al), GOMAP_OK);
    for (uint64_t i = 0; i < 100; i++) CHECK_EQ(u64map_put(&m, i, i), 1);
    u64map c;
    a.fail_at = a.calls;
    CHECK_EQ(u64map_clone(&c, &m), GOMAP_ENOMEM);
    CHECK(c.map == NULL);
    a.fail_at = -1;
    u64map_free(&m);
    CHECK_EQ(a.live, 0);

    /* put_many stops at the failed pair, with the pairs before it applied */
    enum { M = 1000 };
    static uint64_t keys[M], vals[M];
    for (size_t i = 0; i < M; i++) keys[i] = vals[i] = i;
    reported = 0;
    for (long long fail = 0; fail < 8; fail++) {
        memset(&a, 0, sizeof a);
        al = tu_allocator(&a);
        CHECK_EQ(u64map_new_with(&m, 0, &al), GOMAP_OK);
        a.fail_at = a.calls + fail;
        size_t done = 0;
        int st = u64map_put_many(&m, keys, vals, M, &done);
        if (st == GOMAP_ENOMEM) {
            reported++;
            CHECK(done < M);
            CHECK_EQ(u64map_len(&m), done);
            CHECK(!u64map_contains(&m, keys[done]));
            if (done > 0) CHECK(u64map_contains(&m, keys[done - 1]));
        } else {
            CHECK_EQ(st, GOMAP_OK);
            CHECK_EQ(done, M);
        }
        u64map_free(&m);
        CHECK_EQ(a.live, 0);
    }
    CHECK(reported > 0);
}

int main(void) {
    RUN(test_u64_basic);
    RUN(test_nil_handles);
    RUN(test_u32_iterate);
    RUN(test_str_keys);
    RUN(test_struct_values);
    RUN(test_other_keys);
    RUN(test_batches);
    RUN(test_descriptors);
    RUN(test_enomem);
    return tu_finish();
}

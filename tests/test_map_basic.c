/*
 * test_map_basic.c -- the map's operations one by one, for every key kind:
 * put/assign/get/delete/clear/clone return values and semantics, bad input
 * (NULLs, impossible descriptors), sizing from hints (Go's makemap),
 * zero-size and out-of-line keys and values, delete then increment (Go
 * issue 25936), string keys in a single bucket (Go's mapaccess1_faststr),
 * re-seeding (when a map empties, and at clear) and byte accounting.
 */
#include "gomap.h"
#include "refmodel.h"
#include "testutil.h"

#include <limits.h>

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t get_u64(gomap *m, uint64_t k, int *found) {
    uint64_t *v = (uint64_t *)gomap_get(m, &k);
    *found = v != NULL;
    return v ? *v : 0;
}

static int put_u64(gomap *m, uint64_t k, uint64_t v) { return gomap_put(m, &k, &v); }

/* Count the entries an iteration produces. */
static size_t iter_count(const gomap *m) {
    gomap_iter it;
    size_t n = 0;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it)) n++;
    return n;
}

static bool all_zero(const void *p, size_t n) {
    const unsigned char *c = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (c[i]) return false;
    return true;
}

/* ---- status names ---------------------------------------------------------------- */

static void test_strerror(void) {
    const int codes[] = {GOMAP_OK, GOMAP_ENOMEM, GOMAP_EINVAL, GOMAP_ECONCURRENT};
    for (size_t i = 0; i < 4; i++) {
        CHECK(gomap_strerror(codes[i]) != NULL);
        CHECK(gomap_strerror(codes[i])[0] != '\0');
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(gomap_strerror(codes[i]), gomap_strerror(codes[j])) != 0);
    }
    CHECK(gomap_strerror(-1000) != NULL);
}

/* ---- type descriptors -------------------------------------------------------------- */

static bool dummy_equal(const void *a, const void *b) {
    (void)a;
    (void)b;
    return true;
}
static uint64_t dummy_hash(const void *k, uint64_t seed) {
    (void)k;
    return seed;
}

static gomap_type custom_type(size_t ks, size_t ka, size_t vs, size_t va) {
    gomap_type t;
    memset(&t, 0, sizeof t);
    t.kind = GOMAP_KEY_CUSTOM;
    t.key_size = ks;
    t.key_align = ka;
    t.val_size = vs;
    t.val_align = va;
    t.hash = dummy_hash;
    t.equal = dummy_equal;
    return t;
}

static void expect_rejected(const gomap_type *t, int line) {
    if (gomap_type_check(t) != GOMAP_EINVAL) {
        fprintf(stderr, "descriptor from line %d accepted\n", line);
        RM_FAIL("descriptor accepted");
    }
    CHECK(gomap_new(t, 0) == NULL);
    gomap *out = (gomap *)(uintptr_t)&out; /* garbage that must be replaced by NULL */
    CHECK_EQ(gomap_create(&out, t, 0, NULL), GOMAP_EINVAL);
    CHECK(out == NULL);
}
#define REJECT(t) expect_rejected(&(t), __LINE__)

static void expect_accepted(const gomap_type *t, int line) {
    if (gomap_type_check(t) != GOMAP_OK) {
        fprintf(stderr, "descriptor from line %d rejected\n", line);
        RM_FAIL("descriptor rejected");
    }
    gomap *m = gomap_new(t, 0);
    CHECK(m != NULL);
    CHECK_MAP(m);
    gomap_free(m);
}
#define ACCEPT(t) expect_accepted(&(t), __LINE__)

static void test_type_check(void) {
    gomap_type t;
    CHECK_EQ(gomap_type_check(NULL), GOMAP_EINVAL);
    CHECK(gomap_new(NULL, 0) == NULL);

    /* alignments: powers of two up to 16, 0 meaning 1 */
    t = custom_type(8, 3, 8, 8);
    REJECT(t);
    t = custom_type(32, 32, 8, 8);
    REJECT(t);
    t = custom_type(8, 8, 8, 6);
    REJECT(t);
    t = custom_type(8, 8, 64, 64);
    REJECT(t);
    /* sizes are multiples of their alignment */
    t = custom_type(6, 4, 8, 8);
    REJECT(t);
    t = custom_type(8, 8, 12, 8);
    REJECT(t);
    /* CUSTOM needs hash and equal */
    t = custom_type(8, 8, 8, 8);
    t.hash = NULL;
    REJECT(t);
    t = custom_type(8, 8, 8, 8);
    t.equal = NULL;
    REJECT(t);
    /* built-in kinds need their own key size */
    t = gomap_type_builtin(GOMAP_KEY_U64, 0, 8, 8);
    t.key_size = 4;
    t.key_align = 4;
    REJECT(t);
    t = gomap_type_builtin(GOMAP_KEY_U32, 0, 8, 8);
    t.key_size = 8;
    t.key_align = 8;
    REJECT(t);
    t = gomap_type_builtin(GOMAP_KEY_F64, 0, 8, 8);
    t.key_size = 4;
    t.key_align = 4;
    REJECT(t);
    t = gomap_type_builtin(GOMAP_KEY_STR, 0, 8, 8);
    t.key_size = 8;
    t.key_align = 8;
    REJECT(t);
    t = gomap_type_builtin(GOMAP_KEY_U16, 0, 8, 8);
    t.key_size = 1;
    t.key_align = 1;
    REJECT(t);
    t = gomap_type_builtin(GOMAP_KEY_U8, 0, 8, 8);
    t.key_size = 2;
    t.key_align = 2;
    REJECT(t);
    /* a kind that does not exist */
    t = custom_type(8, 8, 8, 8);
    t.kind = (enum gomap_key_kind)99;
    REJECT(t);
    /* invalid combinations given to gomap_type_builtin */
    t = gomap_type_builtin(GOMAP_KEY_U64, 0, 12, 8);
    REJECT(t);
    t = gomap_type_builtin(GOMAP_KEY_U64, 0, 8, 3);
    REJECT(t);

    /* accepted descriptors */
    t = custom_type(0, 0, 0, 0);
    ACCEPT(t);
    t = custom_type(3, 0, 5, 0);
    ACCEPT(t);
    t = custom_type(32, 16, 48, 16);
    ACCEPT(t);
    t = custom_type(24, 8, 0, 1);
    ACCEPT(t);
    t = custom_type(300, 4, 1000, 8);
    ACCEPT(t);
    const enum gomap_key_kind kinds[] = {GOMAP_KEY_U8,  GOMAP_KEY_U16, GOMAP_KEY_U32,
                                         GOMAP_KEY_U64, GOMAP_KEY_F32, GOMAP_KEY_F64,
                                         GOMAP_KEY_STR, GOMAP_KEY_STR_COPY};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        t = gomap_type_builtin(kinds[i], 0, 8, 8);
        ACCEPT(t);
        t = gomap_type_builtin(kinds[i], 0, 0, 0);
        ACCEPT(t);
    }
    t = gomap_type_builtin(GOMAP_KEY_BYTES, 0, 4, 4);
    ACCEPT(t);
    t = gomap_type_builtin(GOMAP_KEY_BYTES, 3, 1, 1);
    ACCEPT(t);
    t = gomap_type_builtin(GOMAP_KEY_BYTES, 200, 150, 2);
    ACCEPT(t);
}

/* ---- bad input ------------------------------------------------------------------------ */

static void test_null_inputs(void) {
    uint64_t k = 1, v = 2;
    const void *sk = NULL;
    bool ins = true;
    gomap_stats s;
    char msg[64];

    /* NULL map: reads behave as on an empty map, writes are EINVAL */
    CHECK_EQ(gomap_len(NULL), 0);
    CHECK(gomap_get(NULL, &k) == NULL);
    CHECK(gomap_get_key(NULL, &k, &sk) == NULL);
    CHECK(gomap_assign(NULL, &k) == NULL);
    CHECK(gomap_assign2(NULL, &k, &ins) == NULL);
    CHECK_EQ(gomap_put(NULL, &k, &v), GOMAP_EINVAL);
    CHECK_EQ(gomap_delete(NULL, &k), GOMAP_EINVAL);
    CHECK_EQ(gomap_clear(NULL), GOMAP_EINVAL);
    CHECK(gomap_clone(NULL) == NULL);
    CHECK_EQ(gomap_check(NULL, msg, sizeof msg), 0);
    memset(&s, 0xAB, sizeof s);
    gomap_stats_get(NULL, &s);
    CHECK_EQ(s.count, 0);
    CHECK_EQ(s.B, 0);
    CHECK_EQ(s.bytes, 0);
    CHECK_EQ(s.grows, 0);
    CHECK_EQ(s.live_iterators, 0);
    CHECK(!s.growing);
    gomap_free(NULL);
    gomap_iter it;
    gomap_iter_init(&it, NULL);
    CHECK(!gomap_iter_next(&it));
    uint64_t keys[3] = {1, 2, 3};
    void *vals[3] = {&k, &k, &k};
    CHECK_EQ(gomap_get_many(NULL, keys, 3, vals), 0);
    CHECK(vals[0] == NULL && vals[1] == NULL && vals[2] == NULL);
    CHECK_EQ(gomap_get_many(NULL, keys, 3, NULL), 0);
    size_t done = 7;
    CHECK_EQ(gomap_put_many(NULL, keys, keys, 3, &done), GOMAP_EINVAL);
    CHECK_EQ(done, 0);
    done = 7;
    CHECK_EQ(gomap_delete_many(NULL, keys, 3, &done), GOMAP_EINVAL);
    CHECK_EQ(done, 0);

    /* NULL out / NULL type for create */
    gomap_type t = GOMAP_TYPE_U64_U64;
    CHECK_EQ(gomap_create(NULL, &t, 0, NULL), GOMAP_EINVAL);
    gomap *out = (gomap *)(uintptr_t)&out;
    CHECK_EQ(gomap_create(&out, NULL, 0, NULL), GOMAP_EINVAL);
    CHECK(out == NULL);

    /* NULL key / value / output on a real map */
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    CHECK_EQ(put_u64(m, 1, 10), 1);
    CHECK(gomap_get(m, NULL) == NULL);
    CHECK(gomap_get_key(m, NULL, &sk) == NULL);
    CHECK(gomap_assign(m, NULL) == NULL);
    CHECK(gomap_assign2(m, NULL, &ins) == NULL);
    CHECK_EQ(gomap_put(m, NULL, &v), GOMAP_EINVAL);
    CHECK_EQ(gomap_put(m, &k, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_delete(m, NULL), GOMAP_EINVAL);
    gomap_stats_get(m, NULL); /* must not crash */
    CHECK_EQ(gomap_check(m, NULL, 0), 0);
    vals[0] = vals[1] = vals[2] = &k;
    CHECK_EQ(gomap_get_many(m, NULL, 3, vals), 0); /* NULL keys: nothing found */
    CHECK(vals[0] == NULL && vals[1] == NULL && vals[2] == NULL);
    CHECK_EQ(gomap_get_many(m, keys, 3, NULL), 0);
    vals[0] = &k;
    CHECK_EQ(gomap_get_many(m, keys, 0, vals), 0); /* n == 0 touches nothing */
    CHECK(vals[0] == &k);
    CHECK_EQ(gomap_get_many(m, keys, 3, vals), 1);
    CHECK(vals[0] != NULL && *(uint64_t *)vals[0] == 10 && vals[1] == NULL && vals[2] == NULL);

    /* batch writes: bad arguments change nothing; n == 0 is a no-op */
    uint64_t bvals[3] = {11, 20, 30};
    CHECK_EQ(gomap_put_many(m, NULL, bvals, 3, &done), GOMAP_EINVAL);
    CHECK_EQ(gomap_put_many(m, keys, NULL, 3, &done), GOMAP_EINVAL);
    CHECK_EQ(gomap_delete_many(m, NULL, 3, &done), GOMAP_EINVAL);
    CHECK_EQ(done, 0);
    CHECK_EQ(gomap_put_many(m, NULL, NULL, 0, &done), GOMAP_OK);
    CHECK_EQ(gomap_delete_many(m, NULL, 0, NULL), GOMAP_OK);
    CHECK_EQ(gomap_len(m), 1);
    /* an update, two inserts, in order; done may be NULL */
    CHECK_EQ(gomap_put_many(m, keys, bvals, 3, &done), GOMAP_OK);
    CHECK_EQ(done, 3);
    CHECK_EQ(gomap_len(m), 3);
    CHECK_EQ(*(uint64_t *)gomap_get(m, &keys[0]), 11);
    CHECK_EQ(*(uint64_t *)gomap_get(m, &keys[2]), 30);
    uint64_t rep_keys[3] = {2, 2, 9}, rep_vals[3] = {21, 22, 90};
    CHECK_EQ(gomap_put_many(m, rep_keys, rep_vals, 3, NULL), GOMAP_OK);
    CHECK_EQ(*(uint64_t *)gomap_get(m, &rep_keys[0]), 22); /* the last value wins */
    CHECK_EQ(gomap_len(m), 4);
    /* deletes: present, absent and repeated keys; then the map is empty */
    uint64_t del_keys[5] = {9, 2, 7, 2, 1};
    CHECK_EQ(gomap_delete_many(m, del_keys, 5, &done), GOMAP_OK);
    CHECK_EQ(done, 5);
    CHECK_EQ(gomap_len(m), 1);
    CHECK(gomap_get(m, &keys[2]) != NULL);
    CHECK_EQ(gomap_delete_many(m, keys, 3, &done), GOMAP_OK);
    CHECK_EQ(done, 3);
    CHECK_EQ(gomap_len(m), 0);
    CHECK_EQ(gomap_delete_many(m, keys, 3, &done), GOMAP_OK); /* empty map */
    CHECK_EQ(done, 3);
    CHECK_EQ(put_u64(m, 1, 10), 1);
    CHECK_EQ(gomap_len(m), 1);
    int found;
    CHECK_EQ(get_u64(m, 1, &found), 10);
    CHECK(found);
    CHECK_MAP(m);
    gomap_free(m);
}

/* gomap_get_key with a NULL stored_key output: the header's convention
   ("a NULL output pointer ... is reported as GOMAP_EINVAL (or NULL)"; unlike
   assign2's inserted, stored_key is not documented as optional). */
static void test_null_output_get_key(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    uint64_t k = 1, v = 10;
    CHECK_EQ(gomap_put(m, &k, &v), 1);
    CHECK(gomap_get_key(m, &k, NULL) == NULL);
    gomap_free(m);
}

/* ---- operations on uint64 keys ----------------------------------------------------------- */

static void test_ops_u64(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    CHECK_EQ(gomap_len(m), 0);
    int found;
    get_u64(m, 5, &found);
    CHECK(!found);
    CHECK_EQ(gomap_delete(m, &(uint64_t){5}), 0);

    const uint64_t n = 5000;
    for (uint64_t i = 0; i < n; i++) {
        CHECK_EQ(put_u64(m, i * 7919, i), 1);
        CHECK_EQ(gomap_len(m), i + 1);
        if (i % 97 == 0) CHECK_MAP(m);
    }
    CHECK_MAP(m);
    for (uint64_t i = 0; i < n; i++) {
        CHECK_EQ(get_u64(m, i * 7919, &found), i);
        CHECK(found);
        get_u64(m, i * 7919 + 1, &found);
        CHECK(!found);
    }
    /* update: returns 0, len unchanged */
    for (uint64_t i = 0; i < n; i += 2) CHECK_EQ(put_u64(m, i * 7919, i + 1000000), 0);
    CHECK_EQ(gomap_len(m), n);
    /* assign on hit returns the existing value */
    for (uint64_t i = 0; i < n; i++) {
        bool ins = true;
        uint64_t k = i * 7919;
        uint64_t *v = (uint64_t *)gomap_assign2(m, &k, &ins);
        CHECK(v != NULL);
        CHECK(!ins);
        CHECK_EQ(*v, (i % 2 == 0) ? i + 1000000 : i);
        *v = i * 3;
    }
    /* get_key returns the stored key */
    for (uint64_t i = 0; i < n; i += 13) {
        const void *sk = NULL;
        uint64_t k = i * 7919;
        uint64_t *v = (uint64_t *)gomap_get_key(m, &k, &sk);
        CHECK(v != NULL && sk != NULL);
        CHECK(sk != (const void *)&k);
        CHECK_EQ(*(const uint64_t *)sk, k);
        CHECK_EQ(*v, i * 3);
    }
    /* delete a third */
    size_t left = n;
    for (uint64_t i = 0; i < n; i += 3) {
        uint64_t k = i * 7919;
        CHECK_EQ(gomap_delete(m, &k), 1);
        CHECK_EQ(gomap_delete(m, &k), 0);
        left--;
        CHECK_EQ(gomap_len(m), left);
    }
    CHECK_MAP(m);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = get_u64(m, i * 7919, &found);
        CHECK_EQ(found, i % 3 != 0);
        if (found) CHECK_EQ(v, i * 3);
    }
    CHECK_EQ(iter_count(m), left);
    /* assign inserts a zeroed value; ++ counts */
    for (uint64_t i = 0; i < 100; i++) {
        uint64_t k = 1000000007ull + i;
        bool ins = false;
        uint64_t *v = (uint64_t *)gomap_assign2(m, &k, &ins);
        CHECK(v != NULL);
        CHECK(ins);
        CHECK_EQ(*v, 0);
        ++*(uint64_t *)gomap_assign(m, &k);
        ++*(uint64_t *)gomap_assign(m, &k);
        CHECK_EQ(get_u64(m, k, &found), 2);
    }
    CHECK_EQ(gomap_len(m), left + 100);
    gomap_stats s;
    gomap_stats_get(m, &s);
    CHECK_EQ(s.count, left + 100);
    CHECK_EQ(s.buckets, (size_t)1 << s.B);
    CHECK(s.grows > 0);
    CHECK_EQ(s.live_iterators, 0);
    CHECK_MAP(m);

    /* clear: empty, B kept, map usable */
    unsigned B = s.B;
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    CHECK_EQ(gomap_len(m), 0);
    CHECK_EQ(iter_count(m), 0);
    gomap_stats_get(m, &s);
    CHECK_EQ(s.B, B);
    CHECK_EQ(s.count, 0);
    CHECK(!s.growing);
    CHECK_MAP(m);
    for (uint64_t i = 0; i < n; i++) {
        get_u64(m, i * 7919, &found);
        CHECK(!found);
    }
    CHECK_EQ(gomap_clear(m), GOMAP_OK); /* clear of an empty map */
    CHECK_EQ(put_u64(m, 42, 43), 1);
    CHECK_EQ(get_u64(m, 42, &found), 43);
    CHECK_MAP(m);
    gomap_free(m);
}

/* ---- every key kind through the same motions ------------------------------------------- */

enum { KIND_KEYBUF = 256 };

/* Writes key number i (distinct for distinct i < n) into buf; strings point
   into store, which outlives the map. */
static void make_key(enum gomap_key_kind kind, size_t ksize, size_t i, void *buf,
                     char (*store)[48]) {
    switch (kind) {
    case GOMAP_KEY_U8: {
        uint8_t k = (uint8_t)(i * 37 + 11);
        memcpy(buf, &k, 1);
        break;
    }
    case GOMAP_KEY_U16: {
        uint16_t k = (uint16_t)(i * 40503u);
        memcpy(buf, &k, 2);
        break;
    }
    case GOMAP_KEY_U32: {
        uint32_t k = (uint32_t)(i * 2654435761u);
        memcpy(buf, &k, 4);
        break;
    }
    case GOMAP_KEY_U64: {
        uint64_t k = (uint64_t)i * 0x9E3779B97F4A7C15ull;
        memcpy(buf, &k, 8);
        break;
    }
    case GOMAP_KEY_F32: {
        float k = (float)i * 0.25f - 100.0f; /* includes 0 exactly once */
        memcpy(buf, &k, 4);
        break;
    }
    case GOMAP_KEY_F64: {
        double k = (double)i * -1.5 + 3000.0;
        memcpy(buf, &k, 8);
        break;
    }
    case GOMAP_KEY_STR:
    case GOMAP_KEY_STR_COPY: {
        /* "<i>-" padded with letters to i % 41 bytes: short and long (>= 32)
           keys; key 0 is the empty string given as {NULL, 0} */
        char *s = store[i];
        int head = snprintf(s, sizeof store[i], "%zu-", i);
        size_t len = i % 41;
        if (len < (size_t)head) len = (size_t)head;
        for (size_t j = (size_t)head; j < len; j++) s[j] = (char)('a' + (i + j) % 26);
        gomap_str k = {s, len};
        if (i == 0) {
            k.ptr = NULL;
            k.len = 0;
        }
        memcpy(buf, &k, sizeof k);
        break;
    }
    case GOMAP_KEY_BYTES: {
        unsigned char *p = (unsigned char *)buf;
        for (size_t j = 0; j < ksize; j++) p[j] = (unsigned char)(j * 31 + 7);
        size_t x = i;
        for (size_t j = 0; j < ksize && j < sizeof x; j++) p[ksize - 1 - j] = (unsigned char)(x >> (8 * j));
        break;
    }
    default:
        RM_FAIL("kind");
    }
}

static void kind_motions(enum gomap_key_kind kind, size_t ksize, size_t n) {
    static char store[1100][48];
    CHECK(n <= 1100);
    gomap_type t = gomap_type_builtin(kind, ksize, 8, 8);
    CHECK_EQ(gomap_type_check(&t), GOMAP_OK);
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    _Alignas(16) unsigned char kb[KIND_KEYBUF];
    _Alignas(16) unsigned char kb2[KIND_KEYBUF];
    for (size_t i = 0; i < n; i++) {
        make_key(kind, ksize, i, kb, store);
        uint64_t v = i + 1;
        CHECK_EQ(gomap_put(m, kb, &v), 1);
        CHECK_EQ(gomap_put(m, kb, &v), 0);
        if (i % 50 == 0) CHECK_MAP(m);
    }
    CHECK_EQ(gomap_len(m), n);
    CHECK_MAP(m);
    for (size_t i = 0; i < n; i++) {
        make_key(kind, ksize, i, kb, store);
        /* the key in a different buffer, bytewise equal, must be found too */
        memcpy(kb2, kb, sizeof kb);
        const void *sk = NULL;
        uint64_t *v = (uint64_t *)gomap_get_key(m, kb2, &sk);
        CHECK(v != NULL);
        CHECK_EQ(*v, i + 1);
        CHECK(sk != NULL);
    }
    /* iteration produces every key once */
    {
        unsigned char *seen = (unsigned char *)calloc(n, 1);
        gomap_iter it;
        size_t cnt = 0;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it)) {
            uint64_t v;
            memcpy(&v, it.val, 8);
            CHECK(v >= 1 && v <= n);
            CHECK(!seen[v - 1]);
            seen[v - 1] = 1;
            cnt++;
            /* the key produced looks up to the same value */
            uint64_t *w = (uint64_t *)gomap_get(m, it.key);
            CHECK(w != NULL && *w == v);
        }
        CHECK_EQ(cnt, n);
        free(seen);
    }
    for (size_t i = 0; i < n; i += 2) {
        make_key(kind, ksize, i, kb, store);
        CHECK_EQ(gomap_delete(m, kb), 1);
        CHECK_EQ(gomap_delete(m, kb), 0);
    }
    CHECK_MAP(m);
    CHECK_EQ(gomap_len(m), n / 2);
    for (size_t i = 0; i < n; i++) {
        make_key(kind, ksize, i, kb, store);
        uint64_t *v = (uint64_t *)gomap_get(m, kb);
        if (i % 2 == 0) {
            CHECK(v == NULL);
        } else {
            CHECK(v != NULL);
            CHECK_EQ(*v, i + 1);
        }
    }
    gomap *c = gomap_clone(m);
    CHECK(c != NULL);
    CHECK_EQ(gomap_len(c), n / 2);
    CHECK_MAP(c);
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    CHECK_EQ(gomap_len(m), 0);
    for (size_t i = 1; i < n; i += 2) {
        make_key(kind, ksize, i, kb, store);
        CHECK(gomap_get(m, kb) == NULL);
        uint64_t *v = (uint64_t *)gomap_get(c, kb);
        CHECK(v != NULL);
        CHECK_EQ(*v, i + 1);
    }
    gomap_free(m);
    CHECK_MAP(c);
    gomap_free(c);
}

static void test_all_kinds(void) {
    kind_motions(GOMAP_KEY_U8, 0, 256);
    kind_motions(GOMAP_KEY_U16, 0, 1100);
    kind_motions(GOMAP_KEY_U32, 0, 1100);
    kind_motions(GOMAP_KEY_U64, 0, 1100);
    kind_motions(GOMAP_KEY_F32, 0, 1100);
    kind_motions(GOMAP_KEY_F64, 0, 1100);
    kind_motions(GOMAP_KEY_STR, 0, 1100);
    kind_motions(GOMAP_KEY_STR_COPY, 0, 1100);
    kind_motions(GOMAP_KEY_BYTES, 3, 1100);
    kind_motions(GOMAP_KEY_BYTES, 16, 1100);
    kind_motions(GOMAP_KEY_BYTES, 128, 700); /* the largest inline key */
    kind_motions(GOMAP_KEY_BYTES, 129, 700); /* the smallest out-of-line key */
    kind_motions(GOMAP_KEY_BYTES, 200, 700);
}

/* U8 keys: all 256 values, and then the 257th put is an update. */
static void test_u8_full(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_U8, 0, 1, 1);
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    for (unsigned i = 0; i < 256; i++) {
        uint8_t k = (uint8_t)i, v = (uint8_t)(255 - i);
        CHECK_EQ(gomap_put(m, &k, &v), 1);
    }
    uint8_t k = 7, v = 1;
    CHECK_EQ(gomap_put(m, &k, &v), 0);
    CHECK_EQ(gomap_len(m), 256);
    for (unsigned i = 0; i < 256; i++) {
        uint8_t kk = (uint8_t)i;
        uint8_t *p = (uint8_t *)gomap_get(m, &kk);
        CHECK(p != NULL);
        CHECK_EQ(*p, i == 7 ? 1 : 255 - i);
    }
    CHECK_MAP(m);
    gomap_free(m);
}

/* ---- sizing from hints (Go's makemap) ----------------------------------------------- */

static void check_hint(int64_t hint, unsigned wantB) {
    tu_alloc a0, a;
    memset(&a0, 0, sizeof a0);
    memset(&a, 0, sizeof a);
    gomap_allocator al0 = tu_allocator(&a0), al = tu_allocator(&a);
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m0 = NULL, *m = NULL;
    CHECK_EQ(gomap_create(&m0, &t, 0, &al0), GOMAP_OK);
    CHECK_EQ(gomap_create(&m, &t, hint, &al), GOMAP_OK);
    CHECK(m0 != NULL && m != NULL);
    gomap_stats s0, s;
    gomap_stats_get(m0, &s0);
    gomap_stats_get(m, &s);
    if (s.B != wantB) {
        fprintf(stderr, "hint %lld: B=%u, want %u\n", (long long)hint, s.B, wantB);
        CHECK_EQ(s.B, wantB);
    }
    CHECK_EQ(s.buckets, (size_t)1 << wantB);
    CHECK_EQ(s.count, 0);
    CHECK(!s.growing);
    /* every byte held is counted */
    CHECK_EQ(s.bytes, a.live_bytes);
    CHECK_EQ(s0.bytes, a0.live_bytes);
    if (wantB == 0) {
        /* no bucket allocated: same memory as a map made without a hint */
        CHECK_EQ(s.bytes, s0.bytes);
        CHECK_EQ(a.live, a0.live);
        long long before = a.live;
        CHECK_EQ(put_u64(m, 1, 1), 1); /* the first insert allocates the bucket */
        CHECK(a.live > before);
        gomap_stats_get(m, &s);
        CHECK_EQ(s.bytes, a.live_bytes);
        CHECK_EQ(s.B, 0);
    } else {
        /* the array is allocated at once */
        CHECK(s.bytes > s0.bytes);
        CHECK(a.live > a0.live);
        /* hint entries fit without growing */
        size_t n = hint > 0 && hint < 100000 ? (size_t)hint : 0;
        for (size_t i = 0; i < n; i++) CHECK_EQ(put_u64(m, i * 0x9E3779B97F4A7C15ull, i), 1);
        gomap_stats_get(m, &s);
        CHECK_EQ(s.B, wantB);
        CHECK_EQ(s.grows, 0);
        CHECK_MAP(m);
    }
    gomap_free(m0);
    gomap_free(m);
    CHECK_EQ(a.live, 0);
    CHECK_EQ(a0.live, 0);
    CHECK_EQ(a.live_bytes, 0);
}

static void test_hints(void) {
    static const struct {
        int64_t hint;
        unsigned B;
    } table[] = {
        {0, 0},    {1, 0},    {8, 0},     {9, 1},     {13, 1},    {14, 2},   {26, 2},
        {27, 3},   {52, 3},   {53, 4},    {104, 4},   {105, 5},   {208, 5},  {209, 6},
        {416, 6},  {417, 7},  {6656, 10}, {6657, 11}, {-1, 0},    {-1000, 0},
        {INT64_MIN, 0}, {(int64_t)1 << 62, 0},  {INT64_MAX, 0},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) check_hint(table[i].hint, table[i].B);
}

/* Without a hint the map grows when the 9th, 14th, 27th, 53rd, 105th entry
   arrives (more than 8 and more than 6.5 per bucket). */
static void test_growth_points(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    static const struct {
        size_t count;
        unsigned B;
    } pts[] = {{8, 0}, {9, 1}, {13, 1}, {14, 2}, {26, 2}, {27, 3}, {52, 3}, {53, 4}, {104, 4}, {105, 5}};
    size_t n = 0;
    for (size_t p = 0; p < sizeof pts / sizeof pts[0]; p++) {
        while (n < pts[p].count) {
            CHECK_EQ(put_u64(m, n * 0x9E3779B97F4A7C15ull + 3, n), 1);
            n++;
        }
        gomap_stats s;
        gomap_stats_get(m, &s);
        if (s.B != pts[p].B) fprintf(stderr, "count %zu: B=%u want %u\n", n, s.B, pts[p].B);
        CHECK_EQ(s.B, pts[p].B);
        CHECK_MAP(m);
    }
    gomap_free(m);
}

/* ---- zero-size keys and values ----------------------------------------- */

static void test_zero_size(void) {
    /* map[struct{}]int: one key at most; a NULL key is fine */
    gomap_type t = gomap_type_builtin(GOMAP_KEY_BYTES, 0, 8, 8);
    CHECK_EQ(gomap_type_check(&t), GOMAP_OK);
    gomap *m = gomap_new(&t, 4);
    CHECK(m != NULL);
    uint64_t v = 0;
    CHECK(gomap_get(m, NULL) == NULL);
    CHECK_EQ(gomap_put(m, NULL, &v), 1);
    v = 1;
    CHECK_EQ(gomap_put(m, "anything", &v), 0);
    CHECK_EQ(gomap_len(m), 1);
    uint64_t *p = (uint64_t *)gomap_get(m, NULL);
    CHECK(p != NULL && *p == 1);
    ++*(uint64_t *)gomap_assign(m, NULL);
    CHECK_EQ(*(uint64_t *)gomap_get(m, "x"), 2);
    CHECK_EQ(iter_count(m), 1);
    void *vals[4] = {NULL, NULL, NULL, NULL};
    CHECK_EQ(gomap_get_many(m, NULL, 4, vals), 4); /* the one key, four times */
    CHECK(vals[0] == p && vals[3] == p);
    uint64_t many[3] = {5, 6, 7};
    size_t done = 0;
    CHECK_EQ(gomap_put_many(m, NULL, many, 3, &done), GOMAP_OK); /* the one key, 3 puts */
    CHECK_EQ(done, 3);
    CHECK_EQ(gomap_len(m), 1);
    CHECK_EQ(*(uint64_t *)gomap_get(m, NULL), 7);
    CHECK_EQ(gomap_delete_many(m, NULL, 2, &done), GOMAP_OK);
    CHECK_EQ(done, 2);
    CHECK_EQ(gomap_len(m), 0);
    CHECK_EQ(put_u64(m, 0, 2), 1);
    p = (uint64_t *)gomap_get(m, NULL);
    CHECK_MAP(m);
    CHECK_EQ(gomap_delete(m, NULL), 1);
    CHECK_EQ(gomap_delete(m, NULL), 0);
    CHECK_EQ(gomap_len(m), 0);
    bool ins = false;
    p = (uint64_t *)gomap_assign2(m, NULL, &ins);
    CHECK(p != NULL && ins && *p == 0);
    CHECK_MAP(m);
    gomap_free(m);

    /* map[int]struct{}: a set; get returns non-NULL on a hit */
    t = gomap_type_builtin(GOMAP_KEY_U64, 0, 0, 1);
    m = gomap_new(&t, 4);
    CHECK(m != NULL);
    for (uint64_t k = 0; k < 500; k++) CHECK_EQ(gomap_put(m, &k, NULL), 1);
    for (uint64_t k = 0; k < 500; k++) CHECK_EQ(gomap_put(m, &k, NULL), 0);
    CHECK_EQ(gomap_len(m), 500);
    for (uint64_t k = 0; k < 1000; k++) CHECK_EQ(gomap_get(m, &k) != NULL, k < 500);
    CHECK_EQ(iter_count(m), 500);
    for (uint64_t k = 0; k < 500; k += 2) CHECK_EQ(gomap_delete(m, &k), 1);
    CHECK_EQ(gomap_len(m), 250);
    uint64_t k7 = 7;
    CHECK(gomap_assign(m, &k7) != NULL);
    CHECK_MAP(m);
    gomap_free(m);

    /* map[struct{}]struct{} */
    t = gomap_type_builtin(GOMAP_KEY_BYTES, 0, 0, 0);
    m = gomap_new(&t, 0);
    CHECK(m != NULL);
    CHECK_EQ(gomap_put(m, NULL, NULL), 1);
    CHECK_EQ(gomap_put(m, NULL, NULL), 0);
    CHECK_EQ(gomap_len(m), 1);
    CHECK(gomap_get(m, NULL) != NULL);
    CHECK_EQ(iter_count(m), 1);
    CHECK_MAP(m);
    gomap *c = gomap_clone(m);
    CHECK(c != NULL);
    CHECK_EQ(gomap_len(c), 1);
    CHECK_MAP(c);
    gomap_free(c);
    gomap_free(m);
}

/* ---- big keys and values (out of line above 128 bytes) ------------------------------------ */

typedef struct big_key {
    char s[256];
} big_key;
typedef struct big_val {
    unsigned char b[4000];
} big_val;

static void test_big_items(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_BYTES, sizeof(big_key), sizeof(big_val), 8);
    CHECK_EQ(gomap_type_check(&t), GOMAP_OK);
    gomap *m = gomap_new(&t, 4);
    CHECK(m != NULL);
    static big_key k;
    static big_val v;
    memset(&k, 'f', sizeof k);
    for (int i = 0; i < 100; i++) {
        snprintf(k.s + 37, 16, "string%02d", i);
        memset(v.b, i + 1, sizeof v.b);
        CHECK_EQ(gomap_put(m, &k, &v), 1);
    }
    CHECK_MAP(m);
    unsigned seen[100] = {0};
    gomap_iter it;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it)) {
        const big_key *kk = (const big_key *)it.key;
        const big_val *vv = (const big_val *)it.val;
        int i = atoi(kk->s + 37 + 6);
        CHECK(i >= 0 && i < 100);
        seen[i]++;
        for (size_t j = 0; j < sizeof vv->b; j++) CHECK_EQ(vv->b[j], i + 1);
    }
    for (int i = 0; i < 100; i++) CHECK_EQ(seen[i], 1);
    /* a fresh entry's value is 4000 zero bytes */
    snprintf(k.s + 37, 16, "fresh");
    bool ins = false;
    big_val *p = (big_val *)gomap_assign2(m, &k, &ins);
    CHECK(p != NULL && ins);
    CHECK(all_zero(p->b, sizeof p->b));
    memset(p->b, 0xEE, sizeof p->b);
    CHECK_EQ(gomap_delete(m, &k), 1);
    p = (big_val *)gomap_assign2(m, &k, &ins);
    CHECK(p != NULL && ins);
    CHECK(all_zero(p->b, sizeof p->b));
    CHECK_MAP(m);
    gomap *c = gomap_clone(m);
    CHECK(c != NULL);
    gomap_free(m);
    CHECK_EQ(gomap_len(c), 101);
    snprintf(k.s + 37, 16, "string%02d", 42);
    p = (big_val *)gomap_get(c, &k);
    CHECK(p != NULL && p->b[3999] == 43);
    CHECK_MAP(c);
    gomap_free(c);

    /* values of exactly 128 (inline) and 129..136 (out of line) bytes */
    for (size_t vs = 120; vs <= 136; vs += 8) {
        gomap_type tv = gomap_type_builtin(GOMAP_KEY_U32, 0, vs, 8);
        m = gomap_new(&tv, 0);
        CHECK(m != NULL);
        unsigned char buf[136];
        for (uint32_t i = 0; i < 300; i++) {
            memset(buf, (int)(i & 0xFF), sizeof buf);
            CHECK_EQ(gomap_put(m, &i, buf), 1);
        }
        for (uint32_t i = 0; i < 300; i++) {
            unsigned char *q = (unsigned char *)gomap_get(m, &i);
            CHECK(q != NULL);
            CHECK_EQ(q[0], i & 0xFF);
            CHECK_EQ(q[vs - 1], i & 0xFF);
        }
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* ---- delete then increment (Go issue 25936) ------------------------------------------------- */

static void test_increment_after_delete(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    CHECK_EQ(put_u64(m, 12, 99), 1);
    uint64_t k12 = 12, k13 = 13;
    CHECK_EQ(gomap_delete(m, &k12), 1);
    ++*(uint64_t *)gomap_assign(m, &k13);
    int found;
    CHECK_EQ(get_u64(m, 13, &found), 1);
    gomap_free(m);

    /* 4-byte values */
    t = gomap_type_builtin(GOMAP_KEY_U64, 0, 4, 4);
    m = gomap_new(&t, 0);
    CHECK(m != NULL);
    uint32_t v99 = 99;
    CHECK_EQ(gomap_put(m, &k12, &v99), 1);
    CHECK_EQ(gomap_delete(m, &k12), 1);
    ++*(uint32_t *)gomap_assign(m, &k13);
    CHECK_EQ(*(uint32_t *)gomap_get(m, &k13), 1);
    gomap_free(m);

    /* string keys "" then "x" */
    t = gomap_type_builtin(GOMAP_KEY_STR, 0, 8, 8);
    m = gomap_new(&t, 0);
    CHECK(m != NULL);
    gomap_str e = {"", 0}, x = {"x", 1};
    uint64_t v = 99;
    CHECK_EQ(gomap_put(m, &e, &v), 1);
    CHECK_EQ(gomap_delete(m, &e), 1);
    *(uint64_t *)gomap_assign(m, &x) += 1;
    CHECK_EQ(*(uint64_t *)gomap_get(m, &x), 1);
    gomap_free(m);

    /* every slot of a grown map: fill, delete all, re-add with ++ */
    t = GOMAP_TYPE_U64_U64;
    m = gomap_new(&t, 0);
    CHECK(m != NULL);
    for (uint64_t i = 0; i < 1000; i++) CHECK_EQ(put_u64(m, i, 0xDEADBEEF), 1);
    for (uint64_t i = 0; i < 1000; i++) CHECK_EQ(gomap_delete(m, &i), 1);
    for (uint64_t i = 1000; i < 2000; i++) {
        ++*(uint64_t *)gomap_assign(m, &i);
        CHECK_EQ(get_u64(m, i, &found), 1);
    }
    CHECK_MAP(m);
    gomap_free(m);

    /* out-of-line values */
    t = gomap_type_builtin(GOMAP_KEY_U64, 0, 200, 8);
    m = gomap_new(&t, 0);
    CHECK(m != NULL);
    unsigned char big[200];
    memset(big, 0x5A, sizeof big);
    CHECK_EQ(gomap_put(m, &k12, big), 1);
    CHECK_EQ(gomap_delete(m, &k12), 1);
    unsigned char *q = (unsigned char *)gomap_assign(m, &k13);
    CHECK(q != NULL && all_zero(q, 200));
    gomap_free(m);
}

/* ---- string keys in one bucket (Go's faststr paths) -------------------------------- */

static void string_lookups(enum gomap_key_kind kind, const char *const *keys, size_t n) {
    gomap_type t = gomap_type_builtin(kind, 0, 8, 8);
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    for (size_t i = 0; i < n; i++) {
        gomap_str k = {keys[i], strlen(keys[i])};
        uint64_t v = i + 100;
        CHECK_EQ(gomap_put(m, &k, &v), 1);
    }
    gomap_stats s;
    gomap_stats_get(m, &s);
    CHECK_EQ(s.B, 0); /* one bucket */
    CHECK_EQ(gomap_len(m), n);
    char buf[200];
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(keys[i]);
        /* same pointer */
        gomap_str k = {keys[i], len};
        uint64_t *v = (uint64_t *)gomap_get(m, &k);
        CHECK(v != NULL && *v == i + 100);
        /* other pointer, same bytes */
        memcpy(buf, keys[i], len + 1);
        gomap_str k2 = {buf, len};
        v = (uint64_t *)gomap_get(m, &k2);
        CHECK(v != NULL && *v == i + 100);
        const void *sk = NULL;
        v = (uint64_t *)gomap_get_key(m, &k2, &sk);
        CHECK(v != NULL && sk != NULL);
        const gomap_str *st = (const gomap_str *)sk;
        CHECK_EQ(st->len, len);
        CHECK(len == 0 || memcmp(st->ptr, keys[i], len) == 0);
        /* a prefix of the key (same pointer, shorter) is another key */
        if (len > 0) {
            bool other = false;
            for (size_t j = 0; j < n; j++)
                if (strlen(keys[j]) == len - 1 && memcmp(keys[j], keys[i], len - 1) == 0) other = true;
            gomap_str k3 = {keys[i], len - 1};
            if (!other) CHECK(gomap_get(m, &k3) == NULL);
        }
        /* one byte changed in the middle, at the start, at the end */
        if (len > 0) {
            size_t pos[3] = {0, len / 2, len - 1};
            for (int p = 0; p < 3; p++) {
                memcpy(buf, keys[i], len + 1);
                buf[pos[p]] = (char)(buf[pos[p]] ^ 0x20);
                bool exists = false;
                for (size_t j = 0; j < n; j++)
                    if (strlen(keys[j]) == len && memcmp(keys[j], buf, len) == 0) exists = true;
                gomap_str k4 = {buf, len};
                if (!exists) CHECK(gomap_get(m, &k4) == NULL);
            }
        }
    }
    CHECK_MAP(m);
    /* delete each and check the others stay */
    for (size_t i = 0; i < n; i++) {
        gomap_str k = {keys[i], strlen(keys[i])};
        CHECK_EQ(gomap_delete(m, &k), 1);
        for (size_t j = i + 1; j < n; j++) {
            gomap_str kj = {keys[j], strlen(keys[j])};
            uint64_t *v = (uint64_t *)gomap_get(m, &kj);
            CHECK(v != NULL && *v == j + 100);
        }
        CHECK(gomap_get(m, &k) == NULL);
        CHECK_MAP(m);
    }
    gomap_free(m);
}

static void test_single_bucket_strings(void) {
    static char x128[129], y128[129];
    memset(x128, 'x', 128);
    memset(y128, 'y', 128);
    /* Go's TestSingleBucketMapStringKeys_DupLen */
    const char *const dup[] = {"x", "xx", "foo", "bar", "xxxx", x128, y128};
    /* Go's TestSingleBucketMapStringKeys_NoDupLen */
    const char *const nodup[] = {"x", "xx", "foo", "xxxx", "xxxxx", "xxxxxx", x128};
    /* long keys (>= 32 bytes) with equal length, first 4 and last 4 bytes:
       the quick filter passes several candidates */
    const char *const longs[] = {
        "AAAA0000000000000000000000000000000000ZZZZ",
        "AAAA1111111111111111111111111111111111ZZZZ",
        "AAAA0000000000000000000000000000000001ZZZZ",
        "AAAA1000000000000000000000000000000000ZZZZ",
        "AAAA00000000000000000000000000000000000ZZZZ", /* one longer */
        "AAAA000000000000000000000000000000000ZZZZ",   /* one shorter */
        "",
        "AAAA",
    };
    /* short keys of one length differing in one byte */
    const char *const shorts[] = {"abcdefgh", "abcdefgi", "bbcdefgh", "abcdxfgh", "abcdefg", "abcdefghi", "a", "b"};
    const enum gomap_key_kind kinds[] = {GOMAP_KEY_STR, GOMAP_KEY_STR_COPY};
    for (int k = 0; k < 2; k++) {
        string_lookups(kinds[k], dup, 7);
        string_lookups(kinds[k], nodup, 7);
        string_lookups(kinds[k], longs, 8);
        string_lookups(kinds[k], shorts, 8);
    }
    /* the empty string: {NULL, 0} and {"", 0} are the same key */
    gomap_type t = GOMAP_TYPE_STR_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    gomap_str e1 = {NULL, 0}, e2 = {"", 0}, e3 = {"abc", 0};
    uint64_t v = 1;
    CHECK_EQ(gomap_put(m, &e1, &v), 1);
    v = 2;
    CHECK_EQ(gomap_put(m, &e2, &v), 0);
    CHECK_EQ(*(uint64_t *)gomap_get(m, &e3), 2);
    CHECK_EQ(gomap_len(m), 1);
    gomap_free(m);
}

/* ---- STR key update and STR_COPY ownership ---------------------------------------------------- */

static void test_string_ownership(void) {
    /* STR: the map keeps the caller's view; an overwrite stores the new view */
    gomap_type t = GOMAP_TYPE_STR_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    char a[] = "hello world", b[] = "hello world";
    gomap_str ka = {a, 11}, kb = {b, 11};
    uint64_t v = 1;
    CHECK_EQ(gomap_put(m, &ka, &v), 1);
    const void *sk = NULL;
    CHECK(gomap_get_key(m, &kb, &sk) != NULL);
    CHECK(((const gomap_str *)sk)->ptr == a);
    v = 2;
    CHECK_EQ(gomap_put(m, &kb, &v), 0);
    CHECK(gomap_get_key(m, &ka, &sk) != NULL);
    CHECK(((const gomap_str *)sk)->ptr == b); /* the stored view is the latest */
    CHECK(gomap_assign(m, &ka) != NULL);
    CHECK(gomap_get_key(m, &kb, &sk) != NULL);
    CHECK(((const gomap_str *)sk)->ptr == a);
    gomap_free(m);

    /* STR_COPY: the map copies; the caller's bytes can change afterwards */
    t = gomap_type_builtin(GOMAP_KEY_STR_COPY, 0, 8, 8);
    m = gomap_new(&t, 0);
    CHECK(m != NULL);
    char buf[64];
    for (int i = 0; i < 200; i++) {
        int len = snprintf(buf, sizeof buf, "key-%d-%0*d", i, i % 40, 0);
        gomap_str k = {buf, (size_t)len};
        v = (uint64_t)i;
        CHECK_EQ(gomap_put(m, &k, &v), 1);
        const void *st = NULL;
        CHECK(gomap_get_key(m, &k, &st) != NULL);
        CHECK(((const gomap_str *)st)->ptr != buf);
        memset(buf, '#', sizeof buf);
    }
    for (int i = 0; i < 200; i++) {
        int len = snprintf(buf, sizeof buf, "key-%d-%0*d", i, i % 40, 0);
        gomap_str k = {buf, (size_t)len};
        uint64_t *p = (uint64_t *)gomap_get(m, &k);
        CHECK(p != NULL && *p == (uint64_t)i);
    }
    CHECK_MAP(m);
    /* a clone owns its own copies */
    gomap *c = gomap_clone(m);
    CHECK(c != NULL);
    int len = snprintf(buf, sizeof buf, "key-%d-%0*d", 5, 5, 0);
    gomap_str k5 = {buf, (size_t)len};
    const void *s1 = NULL, *s2 = NULL;
    CHECK(gomap_get_key(m, &k5, &s1) != NULL);
    CHECK(gomap_get_key(c, &k5, &s2) != NULL);
    CHECK(((const gomap_str *)s1)->ptr != ((const gomap_str *)s2)->ptr);
    gomap_free(m);
    CHECK(gomap_get(c, &k5) != NULL);
    CHECK_MAP(c);
    gomap_free(c);
}

/* ---- re-seeding (delete of the last entry, clear) ----------------------------------------------------- */

static void test_reseed(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    gomap_stats s1, s2;
    CHECK_EQ(put_u64(m, 1, 1), 1);
    CHECK_EQ(put_u64(m, 2, 2), 1);
    gomap_stats_get(m, &s1);
    uint64_t k = 1;
    CHECK_EQ(gomap_delete(m, &k), 1);
    gomap_stats_get(m, &s2);
    CHECK(s1.seed == s2.seed); /* not empty yet: same seed */
    k = 2;
    CHECK_EQ(gomap_delete(m, &k), 1);
    gomap_stats_get(m, &s2);
    CHECK(s1.seed != s2.seed); /* emptied by delete: new seed */
    for (uint64_t i = 0; i < 100; i++) CHECK_EQ(put_u64(m, i, i), 1);
    gomap_stats_get(m, &s1);
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    gomap_stats_get(m, &s2);
    CHECK(s1.seed != s2.seed); /* clear: new seed */
    CHECK_EQ(s1.B, s2.B);     /* clear does not shrink */
    for (uint64_t i = 0; i < 100; i++) CHECK_EQ(put_u64(m, i, i), 1);
    CHECK_MAP(m);
    gomap_free(m);
}

/* ---- clear in the middle of a grow ---------------------------------------------------- */

/* An allocator that hands out garbage-filled memory, as malloc may. */
static void *dirty_alloc(void *ctx, size_t size) {
    void *p = tu_alloc_fn(ctx, size);
    if (p) memset(p, 0xBE, size);
    return p;
}
static void dirty_free(void *ctx, void *p, size_t size) {
    if (p) memset(p, 0xEF, size);
    tu_free_fn(ctx, p, size);
}

/* Clear while a doubling is under way and the new array already has an
   overflow bucket in a chain that comes after buckets not yet filled in:
   nothing of the new array's unfilled buckets may be read. */
static void test_clear_mid_grow(void) {
    for (int with_iter = 0; with_iter < 2; with_iter++) {
        tu_alloc a;
        memset(&a, 0, sizeof a);
        gomap_allocator al = tu_allocator(&a);
        al.alloc = dirty_alloc;
        al.free = dirty_free;
        gomap_type t = rm_ident_type(8, 8);
        gomap *m = gomap_new_with(&t, 26, &al); /* B = 2 */
        CHECK(m != NULL);
        uint64_t v = 0, n = 0;
        /* 17 keys in bucket 3 (3 chained buckets), all staying in bucket 3
           after the doubling (bit 2 clear), and 9 keys in buckets 0..2 */
        for (uint64_t i = 0; i < 17; i++, n++) CHECK_EQ(gomap_put(m, &(uint64_t){3 | ((i + 1) << 3)}, &v), 1);
        for (uint64_t i = 0; n < 26; i++, n++) CHECK_EQ(gomap_put(m, &(uint64_t){(i % 3) | ((i + 100) << 3)}, &v), 1);
        gomap_iter it;
        if (with_iter) {
            gomap_iter_init(&it, m);
            CHECK(gomap_iter_next(&it));
        }
        /* the 27th key, into bucket 3, starts a doubling: old buckets 3 and
           0 are evacuated, new buckets 1, 2, 5, 6 are not filled in yet */
        CHECK_EQ(gomap_put(m, &(uint64_t){3 | (999 << 3)}, &v), 1);
        gomap_stats s;
        gomap_stats_get(m, &s);
        CHECK(s.growing);
        CHECK_EQ(s.B, 3);
        CHECK(s.overflow_buckets > 0);
        CHECK_MAP(m);
        CHECK_EQ(gomap_clear(m), GOMAP_OK);
        CHECK_EQ(gomap_len(m), 0);
        CHECK_MAP(m);
        if (with_iter) CHECK(!gomap_iter_next(&it));
        for (uint64_t i = 0; i < 40; i++) CHECK_EQ(gomap_put(m, &i, &i), 1);
        CHECK_EQ(gomap_len(m), 40);
        CHECK_MAP(m);
        gomap_free(m);
        CHECK_EQ(a.live, 0);
    }
}

/* ---- clone -------------------------------------------------------------------------------------- */

static void test_clone(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    gomap *c = gomap_clone(m); /* empty */
    CHECK(c != NULL);
    CHECK_EQ(gomap_len(c), 0);
    CHECK_MAP(c);
    gomap_free(c);

    /* clone in the middle of a grow: entries in old buckets not yet
       evacuated must be copied too */
    gomap_free(m);
    m = gomap_new(&t, 104);
    CHECK(m != NULL);
    for (uint64_t i = 0; i < 105; i++) CHECK_EQ(put_u64(m, i, i * 2), 1);
    gomap_stats s;
    gomap_stats_get(m, &s);
    CHECK(s.growing);
    c = gomap_clone(m);
    CHECK(c != NULL);
    CHECK_MAP(c);
    CHECK_EQ(gomap_len(c), 105);
    gomap_stats sc;
    gomap_stats_get(c, &sc);
    CHECK(sc.seed == s.seed);
    int found;
    for (uint64_t i = 0; i < 105; i++) {
        CHECK_EQ(get_u64(c, i, &found), i * 2);
        CHECK(found);
    }
    /* independent: writes to one do not show in the other */
    CHECK_EQ(put_u64(c, 1, 777), 0);
    CHECK_EQ(put_u64(c, 1000, 1), 1);
    uint64_t k = 2;
    CHECK_EQ(gomap_delete(c, &k), 1);
    CHECK_EQ(get_u64(m, 1, &found), 2);
    get_u64(m, 1000, &found);
    CHECK(!found);
    CHECK_EQ(get_u64(m, 2, &found), 4);
    CHECK(found);
    CHECK_EQ(gomap_len(m), 105);
    CHECK_MAP(m);
    CHECK_MAP(c);
    gomap_free(m);
    CHECK_EQ(get_u64(c, 1, &found), 777);
    gomap_free(c);
}

/* ---- accounting ----------------------------------------------------------------------------------- */

static void test_bytes_accounting(void) {
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator al = tu_allocator(&a);
    gomap_type t = gomap_type_builtin(GOMAP_KEY_STR_COPY, 0, 200, 8);
    gomap *m = gomap_new_with(&t, 0, &al);
    CHECK(m != NULL);
    char buf[80];
    gomap_stats s;
    unsigned char val[200];
    memset(val, 1, sizeof val);
    for (int i = 0; i < 3000; i++) {
        int len = snprintf(buf, sizeof buf, "some-key-%d-%.*s", i, i % 50,
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        gomap_str k = {buf, (size_t)len};
        CHECK_EQ(gomap_put(m, &k, val), 1);
        if (i % 7 == 0) {
            gomap_stats_get(m, &s);
            CHECK_EQ(s.bytes, a.live_bytes);
        }
        if (i % 3 == 0) CHECK_EQ(gomap_delete(m, &k), 1);
    }
    gomap_stats_get(m, &s);
    CHECK_EQ(s.bytes, a.live_bytes);
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    gomap_stats_get(m, &s);
    CHECK_EQ(s.bytes, a.live_bytes);
    gomap_free(m);
    CHECK_EQ(a.live, 0);
    CHECK_EQ(a.live_bytes, 0);
    CHECK_EQ(a.failed, 0);
}

/* GOMAP_KEY_STR with GOMAP_F_KEY_UPDATE cleared: an overwrite keeps the
   view stored first, as the descriptor asks (the built-in descriptor sets
   the flag, and an overwrite stores the new view, as Go does). */
static void test_str_key_update_flag(void) {
    static const char first[] = "same bytes", second[] = "same bytes";
    for (int upd = 0; upd < 2; upd++) {
        gomap_type t = GOMAP_TYPE_STR_U64;
        CHECK(t.flags & GOMAP_F_KEY_UPDATE);
        if (!upd) t.flags &= ~GOMAP_F_KEY_UPDATE;
        gomap *m = gomap_new(&t, 0);
        CHECK(m);
        gomap_str a = {first, sizeof first - 1}, b = {second, sizeof second - 1};
        uint64_t v = 1;
        CHECK_EQ(gomap_put(m, &a, &v), 1);
        CHECK_EQ(gomap_put(m, &b, &v), 0);
        const void *sk = NULL;
        CHECK(gomap_get_key(m, &a, &sk));
        CHECK(((const gomap_str *)sk)->ptr == (upd ? second : first));
        gomap_free(m);
    }
}

int main(void) {
    RUN(test_strerror);
    RUN(test_str_key_update_flag);
    RUN(test_type_check);
    RUN(test_null_inputs);
    RUN(test_ops_u64);
    RUN(test_all_kinds);
    RUN(test_u8_full);
    RUN(test_hints);
    RUN(test_growth_points);
    RUN(test_zero_size);
    RUN(test_big_items);
    RUN(test_increment_after_delete);
    RUN(test_single_bucket_strings);
    RUN(test_string_ownership);
    RUN(test_reseed);
    RUN(test_clone);
    RUN(test_bytes_accounting);
    RUN(test_null_output_get_key);
    RUN(test_clear_mid_grow);
    return tu_finish();
}

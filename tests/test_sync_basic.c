/*
 * test_sync_basic.c -- the concurrent map, one thread at a time: every
 * operation against a reference model, collisions (expand, chains, pruning),
 * every key kind, range's guarantees, bad input, a failing allocator at every
 * allocation point (map unchanged, no leak), the pool, detach,
 * fork.
 */
#include "gomap_sync.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------- */



static gomap_sync *new_u64(const gomap_allocator *a) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, a), GOMAP_OK);
    CHECK(m != NULL);
    return m;
}

/* A custom key whose hash is chosen by the test: identity, or masked. */
static uint64_t g_hash_mask = ~(uint64_t)0;
static uint64_t hash_ident(const void *k, uint64_t seed) {
    (void)seed;
    uint64_t x;
    memcpy(&x, k, 8);
    return x & g_hash_mask;
}
static bool eq_u64(const void *a, const void *b) { return memcmp(a, b, 8) == 0; }
static gomap_sync *new_ident(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_BYTES, 8, 8, 8);
    t.kind = GOMAP_KEY_CUSTOM;
    t.hash = hash_ident;
    t.equal = eq_u64;
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, NULL), GOMAP_OK);
    return m;
}

/* ---- a snapshot of a u64 -> u64 map through range --------------------------------- */

#define SNAP_MAX 4096
typedef struct snap {
    size_t n;
    uint64_t k[SNAP_MAX], v[SNAP_MAX];
    bool dup;
} snap;

static bool snap_fn(const void *key, const void *val, void *ctx) {
    snap *s = (snap *)ctx;
    uint64_t k, v;
    memcpy(&k, key, 8);
    memcpy(&v, val, 8);
    for (size_t i = 0; i < s->n; i++)
        if (s->k[i] == k) s->dup = true;
    CHECK(s->n < SNAP_MAX);
    s->k[s->n] = k;
    s->v[s->n] = v;
    s->n++;
    return true;
}

static void take_snap(const gomap_sync *m, snap *s) {
    s->n = 0;
    s->dup = false;
    CHECK_EQ(gomap_sync_range(m, snap_fn, s), GOMAP_OK);
    CHECK(!s->dup);
}

static bool snap_equal(const snap *a, const snap *b) {
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++) /* range order is hash order: stable */
        if (a->k[i] != b->k[i] || a->v[i] != b->v[i]) return false;
    return true;
}

/* ---- the reference model ------------------------------------------------------------- */

#define NKEYS 512
typedef struct model {
    bool present[NKEYS];
    uint64_t val[NKEYS];
    size_t count;
} model;

static void model_check(const gomap_sync *m, const model *ref) {
    static snap s;
    take_snap(m, &s);
    CHECK_EQ(s.n, ref->count);
    CHECK_EQ(gomap_sync_len(m), ref->count);
    for (size_t i = 0; i < s.n; i++) {
        CHECK(s.k[i] < NKEYS);
        CHECK(ref->present[s.k[i]]);
        CHECK_EQ(s.v[i], ref->val[s.k[i]]);
    }
    for (uint64_t k = 0; k < NKEYS; k++) {
        uint64_t v = 0;
        int r = gomap_sync_load(m, &k, &v);
        CHECK_EQ(r, ref->present[k] ? 1 : 0);
        if (r == 1) CHECK_EQ(v, ref->val[k]);
    }
    CHECK_SYNC(m);
}

/* While set, a call may return GOMAP_ENOMEM: random_op then returns -1
   without touching the model. */
static bool g_enomem_ok;
#define MAYFAIL(r)                                                  \
    do {                                                            \
        if ((r) == GOMAP_ENOMEM && g_enomem_ok) return -1;          \
    } while (0)

/* One random operation on map and model; returns the op number. */
static int random_op(gomap_sync *m, model *ref, uint64_t k, uint64_t v) {
    int op = (int)(tu_rand() % 10);
    uint64_t out = 0xdead, old;
    int r;
    switch (op) {
    case 0:
        r = gomap_sync_load(m, &k, &out);
        MAYFAIL(r);
        CHECK_EQ(r, ref->present[k]);
        if (r) CHECK_EQ(out, ref->val[k]);
        break;
    case 1:
        r = gomap_sync_store(m, &k, &v);
        MAYFAIL(r);
        CHECK_EQ(r, !ref->present[k]);
        if (!ref->present[k]) ref->count++;
        ref->present[k] = true;
        ref->val[k] = v;
        break;
    case 2:
        r = gomap_sync_load_or_store(m, &k, &v, &out);
        MAYFAIL(r);
        CHECK_EQ(r, ref->present[k]);
        CHECK_EQ(out, ref->present[k] ? ref->val[k] : v);
        if (!ref->present[k]) {
            ref->present[k] = true;
            ref->val[k] = v;
            ref->count++;
        }
        break;
    case 3:
        r = gomap_sync_load_and_delete(m, &k, &out);
        MAYFAIL(r);
        CHECK_EQ(r, ref->present[k]);
        if (r) {
            CHECK_EQ(out, ref->val[k]);
            ref->present[k] = false;
            ref->count--;
        }
        break;
    case 4:
        r = gomap_sync_delete(m, &k);
        MAYFAIL(r);
        CHECK_EQ(r, ref->present[k]);
        if (r) {
            ref->present[k] = false;
            ref->count--;
        }
        break;
    case 5:
        r = gomap_sync_swap(m, &k, &v, &out);
        MAYFAIL(r);
        CHECK_EQ(r, ref->present[k]);
        if (r) CHECK_EQ(out, ref->val[k]);
        else ref->count++;
        ref->present[k] = true;
        ref->val[k] = v;
        break;
    case 6: /* CAS with the right old value half of the time */
        old = (tu_rand() & 1) && ref->present[k] ? ref->val[k] : v ^ 1;
        r = gomap_sync_compare_and_swap(m, &k, &old, &v);
        MAYFAIL(r);
        CHECK_EQ(r, ref->present[k] && ref->val[k] == old);
        if (r) ref->val[k] = v;
        break;
    case 7:
        old = (tu_rand() & 1) && ref->present[k] ? ref->val[k] : v ^ 1;
        r = gomap_sync_compare_and_delete(m, &k, &old);
        MAYFAIL(r);
        CHECK_EQ(r, ref->present[k] && ref->val[k] == old);
        if (r) {
            ref->present[k] = false;
            ref->count--;
        }
        break;
    case 8:
        CHECK_EQ(gomap_sync_len(m), ref->count);
        break;
    default:
        if (tu_rand() % 64 == 0) {
            r = gomap_sync_clear(m);
            MAYFAIL(r);
            CHECK_EQ(r, GOMAP_OK);
            memset(ref, 0, sizeof *ref);
        }
        break;
    }
    return op;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_empty(void) {
    gomap_sync *m = new_u64(NULL);
    uint64_t k = 7, v = 1;
    CHECK_EQ(gomap_sync_len(m), 0);
    CHECK_EQ(gomap_sync_load(m, &k, &v), 0);
    CHECK_EQ(gomap_sync_delete(m, &k), 0);
    CHECK_EQ(gomap_sync_compare_and_swap(m, &k, &v, &v), 0);
    CHECK_EQ(gomap_sync_compare_and_delete(m, &k, &v), 0);
    CHECK_EQ(gomap_sync_clear(m), GOMAP_OK);
    CHECK_SYNC(m);
    gomap_sync_stats st;
    gomap_sync_stats_get(m, &st);
    CHECK_EQ(st.entries, 0);
    CHECK_EQ(st.inodes, 1);
    gomap_sync_free(m);
}

static void test_model(void) {
    tu_seed(42);
    gomap_sync *m = new_u64(NULL);
    static model ref;
    memset(&ref, 0, sizeof ref);
    long n = tu_scaled(200000, 20000);
    for (long i = 0; i < n; i++) {
        uint64_t k = tu_rand() % NKEYS, v = tu_rand();
        random_op(m, &ref, k, v);
        if (i % 997 == 0) model_check(m, &ref);
    }
    model_check(m, &ref);
    gomap_sync_free(m);
}

/* Same, with a hash of 3 bits only: long chains and expand at every level. */
static void test_model_collisions(void) {
    tu_seed(7);
    g_hash_mask = 0x7000000000000001ull; /* top nibble + bit 0: chains of ~64 */
    gomap_sync *m = new_ident();
    static model ref;
    memset(&ref, 0, sizeof ref);
    long n = tu_scaled(60000, 6000);
    for (long i = 0; i < n; i++) {
        uint64_t k = tu_rand() % NKEYS, v = tu_rand();
        random_op(m, &ref, k, v);
        if (i % 499 == 0) model_check(m, &ref);
    }
    model_check(m, &ref);
    gomap_sync_free(m);
    g_hash_mask = ~(uint64_t)0;
}

/* Keys with chosen hashes: expand to the last level, full collisions, prune. */
static void test_expand_prune(void) {
    gomap_sync *m = new_ident();
    gomap_sync_stats st;
    /* Differ only in the last nibble: 16 levels deep. */
    uint64_t a = 0x123456789abcdef0ull, b = a | 1, c = a ^ 0x100;
    uint64_t va = 1, vb = 2, vc = 3, out;
    CHECK_EQ(gomap_sync_store(m, &a, &va), 1);
    gomap_sync_stats_get(m, &st);
    CHECK_EQ(st.max_depth, 1);
    CHECK_EQ(gomap_sync_store(m, &b, &vb), 1);
    gomap_sync_stats_get(m, &st);
    CHECK_EQ(st.max_depth, 16);
    CHECK_EQ(st.inodes, 16);
    CHECK_SYNC(m);
    CHECK_EQ(gomap_sync_store(m, &c, &vc), 1);
    CHECK_SYNC(m);
    CHECK_EQ(gomap_sync_load(m, &b, &out), 1);
    CHECK_EQ(out, 2);
    /* Delete all: pruned back to the root alone. */
    CHECK_EQ(gomap_sync_delete(m, &a), 1);
    CHECK_SYNC(m);
    CHECK_EQ(gomap_sync_delete(m, &b), 1);
    CHECK_SYNC(m);
    CHECK_EQ(gomap_sync_delete(m, &c), 1);
    CHECK_SYNC(m);
    gomap_sync_stats_get(m, &st);
    CHECK_EQ(st.inodes, 1);
    CHECK_EQ(st.entries, 0);

    /* Full collisions: one chain (Go's "bad hash" map). */
    g_hash_mask = 0;
    gomap_sync *z = new_ident();
    for (uint64_t k = 0; k < 300; k++) CHECK_EQ(gomap_sync_store(z, &k, &k), 1);
    gomap_sync_stats_get(z, &st);
    CHECK_EQ(st.max_chain, 300);
    CHECK_EQ(st.max_depth, 1);
    CHECK_SYNC(z);
    for (uint64_t k = 0; k < 300; k++) {
        CHECK_EQ(gomap_sync_load(z, &k, &out), 1);
        CHECK_EQ(out, k);
    }
    /* Replace in the middle of the chain, CAS, delete every other one. */
    for (uint64_t k = 0; k < 300; k += 3) {
        uint64_t nv = k + 1000;
        CHECK_EQ(gomap_sync_swap(z, &k, &nv, &out), 1);
        CHECK_EQ(out, k);
        uint64_t nv2 = k + 2000;
        CHECK_EQ(gomap_sync_compare_and_swap(z, &k, &nv, &nv2), 1);
        CHECK_EQ(gomap_sync_compare_and_swap(z, &k, &nv, &nv2), 0);
    }
    for (uint64_t k = 0; k < 300; k += 2) CHECK_EQ(gomap_sync_delete(z, &k), 1);
    CHECK_SYNC(z);
    CHECK_EQ(gomap_sync_len(z), 150);
    for (uint64_t k = 0; k < 300; k++) {
        int r = gomap_sync_load(z, &k, &out);
        CHECK_EQ(r, k % 2 == 1);
        if (r) CHECK_EQ(out, k % 3 == 0 ? k + 2000 : k);
    }
    gomap_sync_free(z);
    g_hash_mask = ~(uint64_t)0;
    gomap_sync_free(m);
}

/* Range: no duplicates, every entry once, early stop, callbacks that write. */
typedef struct rctx {
    gomap_sync *m;
    uint8_t *seen;
    size_t cap, calls, stop_after;
    int mode; /* 0 read, 1 delete what is seen + insert new keys */
} rctx;

static bool range_fn(const void *key, const void *val, void *ctx) {
    rctx *c = (rctx *)ctx;
    uint64_t k, v;
    memcpy(&k, key, 8);
    memcpy(&v, val, 8);
    CHECK(k < c->cap);
    CHECK_EQ(c->seen[k], 0);
    c->seen[k] = 1;
    CHECK_EQ(v, k * 3);
    c->calls++;
    if (c->mode == 1) {
        CHECK_EQ(gomap_sync_delete(c->m, &k), 1);
        uint64_t nk = k + c->cap / 2, nv = nk * 3; /* may or may not be seen */
        if (nk < c->cap) gomap_sync_store(c->m, &nk, &nv);
        /* re-store a seen key: must not be yielded again */
        gomap_sync_store(c->m, &k, &v);
    }
    return c->stop_after == 0 || c->calls < c->stop_after;
}

static void test_range(void) {
    gomap_sync *m = new_u64(NULL);
    size_t n = (size_t)tu_scaled(20000, 5000);
    rctx c = {m, (uint8_t *)calloc(2 * n, 1), 2 * n, 0, 0, 0};
    for (uint64_t k = 0; k < n; k++) {
        uint64_t v = k * 3;
        CHECK_EQ(gomap_sync_store(m, &k, &v), 1);
    }
    CHECK_EQ(gomap_sync_range(m, range_fn, &c), GOMAP_OK);
    CHECK_EQ(c.calls, n);
    memset(c.seen, 0, 2 * n);
    c.calls = 0;
    c.stop_after = 10;
    CHECK_EQ(gomap_sync_range(m, range_fn, &c), GOMAP_OK);
    CHECK_EQ(c.calls, 10);
    /* The callback deletes, re-stores and inserts: still no key twice, and
       every key present throughout (the odd ones of the first half... all of
       the original keys are re-stored at once) is seen. */
    memset(c.seen, 0, 2 * n);
    c.calls = 0;
    c.stop_after = 0;
    c.mode = 1;
    CHECK_EQ(gomap_sync_range(m, range_fn, &c), GOMAP_OK);
    for (uint64_t k = 0; k < n; k++) CHECK_EQ(c.seen[k], 1);
    CHECK_SYNC(m);
    free(c.seen);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_range(NULL, range_fn, &c), GOMAP_EINVAL);
}

/* Big values and long chains: range must grow its buffer. */
typedef struct big {
    unsigned char b[5000];
} big;

static bool big_fn(const void *key, const void *val, void *ctx) {
    uint64_t k;
    memcpy(&k, key, 8);
    const unsigned char *v = (const unsigned char *)val;
    CHECK_EQ(v[0], (unsigned char)k);
    CHECK_EQ(v[4999], (unsigned char)(k + 1));
    (*(size_t *)ctx)++;
    return true;
}

static void test_big_values(void) {
    g_hash_mask = 0; /* everything in one chain: 40 x 5 KiB */
    gomap_type t = gomap_type_builtin(GOMAP_KEY_BYTES, 8, sizeof(big), 1);
    t.kind = GOMAP_KEY_CUSTOM;
    t.hash = hash_ident;
    t.equal = eq_u64;
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, NULL), GOMAP_OK);
    static big v, out;
    for (uint64_t k = 0; k < 40; k++) {
        memset(&v, 0, sizeof v);
        v.b[0] = (unsigned char)k;
        v.b[4999] = (unsigned char)(k + 1);
        CHECK_EQ(gomap_sync_store(m, &k, &v), 1);
    }
    uint64_t k = 17;
    CHECK_EQ(gomap_sync_load(m, &k, &out), 1);
    CHECK_EQ(out.b[0], 17);
    size_t count = 0;
    CHECK_EQ(gomap_sync_range(m, big_fn, &count), GOMAP_OK);
    CHECK_EQ(count, 40);
    /* The same under an allocator that refuses the big buffer. */
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator ga = tu_allocator(&a);
    gomap_sync *m2 = NULL;
    CHECK_EQ(gomap_sync_create(&m2, &t, &ga), GOMAP_OK);
    for (uint64_t i = 0; i < 3; i++) CHECK_EQ(gomap_sync_store(m2, &i, &v), 1);
    a.fail_at = a.calls;
    count = 0;
    CHECK_EQ(gomap_sync_range(m2, big_fn, &count), GOMAP_ENOMEM);
    CHECK_EQ(count, 0);
    gomap_sync_free(m2);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);
    g_hash_mask = ~(uint64_t)0;
}

/* Strings: borrowed views and copied bytes. */
typedef struct sctx {
    size_t n;
    bool bad;
} sctx;

static bool str_fn(const void *key, const void *val, void *ctx) {
    gomap_str s;
    uint64_t v;
    memcpy(&s, key, sizeof s);
    memcpy(&v, val, 8);
    char buf[64];
    snprintf(buf, sizeof buf, "key-%llu", (unsigned long long)v);
    if (s.len != strlen(buf) || memcmp(s.ptr, buf, s.len) != 0) ((sctx *)ctx)->bad = true;
    ((sctx *)ctx)->n++;
    return true;
}

static void test_strings(void) {
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator ga = tu_allocator(&a);
    gomap_type t = gomap_type_builtin(GOMAP_KEY_STR_COPY, 0, 8, 8);
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, &ga), GOMAP_OK);
    char buf[64];
    for (uint64_t i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "key-%llu", (unsigned long long)i);
        gomap_str s = {buf, strlen(buf)};
        CHECK_EQ(gomap_sync_store(m, &s, &i), 1);
        memset(buf, 'x', sizeof buf); /* the map kept its own copy */
    }
    for (uint64_t i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "key-%llu", (unsigned long long)i);
        gomap_str s = {buf, strlen(buf)};
        uint64_t v;
        CHECK_EQ(gomap_sync_load(m, &s, &v), 1);
        CHECK_EQ(v, i);
    }
    gomap_str empty = {NULL, 0};
    uint64_t ev = 1000000;
    CHECK_EQ(gomap_sync_store(m, &empty, &ev), 1);
    CHECK_EQ(gomap_sync_delete(m, &empty), 1);
    sctx c = {0, false};
    CHECK_EQ(gomap_sync_range(m, str_fn, &c), GOMAP_OK);
    CHECK_EQ(c.n, 1000);
    CHECK(!c.bad);
    for (uint64_t i = 0; i < 1000; i += 2) {
        snprintf(buf, sizeof buf, "key-%llu", (unsigned long long)i);
        gomap_str s = {buf, strlen(buf)};
        CHECK_EQ(gomap_sync_delete(m, &s), 1);
    }
    CHECK_SYNC(m);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);

    /* Borrowed views: the caller's bytes. */
    static const char *words[] = {"alpha", "beta", "gamma", "delta", ""};
    gomap_type tb = GOMAP_TYPE_STR_U64;
    CHECK_EQ(gomap_sync_create(&m, &tb, NULL), GOMAP_OK);
    for (uint64_t i = 0; i < 5; i++) {
        gomap_str s = {words[i], strlen(words[i])};
        CHECK_EQ(gomap_sync_store(m, &s, &i), 1);
    }
    char probe[] = "gamma";
    gomap_str ps = {probe, 5};
    uint64_t v;
    CHECK_EQ(gomap_sync_load(m, &ps, &v), 1);
    CHECK_EQ(v, 2);
    CHECK_SYNC(m);
    gomap_sync_free(m);
}

/* Floats: +0 == -0; NaN never found, each store a new entry. */
static size_t count_fn_n;
static bool count_fn(const void *key, const void *val, void *ctx) {
    (void)key;
    (void)val;
    (void)ctx;
    count_fn_n++;
    return true;
}

static void test_floats(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_F64, 8, 8, 8);
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, NULL), GOMAP_OK);
    double pz = 0.0, nz = -0.0, nan = NAN;
    uint64_t v1 = 1, v2 = 2, out;
    CHECK_EQ(gomap_sync_store(m, &pz, &v1), 1);
    CHECK_EQ(gomap_sync_store(m, &nz, &v2), 0);
    CHECK_EQ(gomap_sync_load(m, &pz, &out), 1);
    CHECK_EQ(out, 2);
    for (int i = 0; i < 10; i++) CHECK_EQ(gomap_sync_store(m, &nan, &v1), 1);
    CHECK_EQ(gomap_sync_load_or_store(m, &nan, &v1, &out), 0);
    CHECK_EQ(gomap_sync_len(m), 12);
    CHECK_EQ(gomap_sync_load(m, &nan, &out), 0);
    CHECK_EQ(gomap_sync_delete(m, &nan), 0);
    CHECK_EQ(gomap_sync_compare_and_delete(m, &nan, &v1), 0);
    count_fn_n = 0;
    CHECK_EQ(gomap_sync_range(m, count_fn, NULL), GOMAP_OK);
    CHECK_EQ(count_fn_n, 12);
    CHECK_SYNC(m);
    CHECK_EQ(gomap_sync_clear(m), GOMAP_OK);
    CHECK_EQ(gomap_sync_len(m), 0);
    count_fn_n = 0;
    CHECK_EQ(gomap_sync_range(m, count_fn, NULL), GOMAP_OK);
    CHECK_EQ(count_fn_n, 0);
    gomap_sync_free(m);
}

/* Zero-size values (a set), zero-size keys, and a custom value equality. */
static bool veq_low32(const void *a, const void *b) { return memcmp(a, b, 4) == 0; }

static void test_sizes_and_equality(void) {
    gomap_type set = gomap_type_builtin(GOMAP_KEY_U32, 4, 0, 1);
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &set, NULL), GOMAP_OK);
    for (uint32_t k = 0; k < 100; k++) CHECK_EQ(gomap_sync_store(m, &k, NULL), 1);
    uint32_t k5 = 5;
    CHECK_EQ(gomap_sync_load(m, &k5, NULL), 1);
    CHECK_EQ(gomap_sync_compare_and_delete(m, &k5, NULL), 1);
    CHECK_EQ(gomap_sync_len(m), 99);
    CHECK_SYNC(m);
    gomap_sync_free(m);

    gomap_type unit = gomap_type_builtin(GOMAP_KEY_BYTES, 0, 8, 8);
    CHECK_EQ(gomap_sync_create(&m, &unit, NULL), GOMAP_OK);
    uint64_t v = 1, out;
    char dummy = 0;
    CHECK_EQ(gomap_sync_store(m, &dummy, &v), 1);
    CHECK_EQ(gomap_sync_store(m, NULL, &v), 0);
    CHECK_EQ(gomap_sync_load(m, NULL, &out), 1);
    CHECK_EQ(gomap_sync_len(m), 1);
    gomap_sync_free(m);

    gomap_type t = GOMAP_TYPE_U64_U64;
    CHECK_EQ(gomap_sync_create_ex(&m, &t, NULL, veq_low32), GOMAP_OK);
    uint64_t k = 1, a = 0x1111111100000007ull, b = 0x2222222200000007ull, c = 9;
    CHECK_EQ(gomap_sync_store(m, &k, &a), 1);
    CHECK_EQ(gomap_sync_compare_and_swap(m, &k, &b, &c), 1); /* low halves equal */
    CHECK_EQ(gomap_sync_load(m, &k, &out), 1);
    CHECK_EQ(out, 9);
    CHECK_EQ(gomap_sync_compare_and_delete(m, &b, &c), 0);   /* absent key */
    CHECK_EQ(gomap_sync_compare_and_delete(m, &k, &c), 1);
    gomap_sync_free(m);
}

static void test_bad_input(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap_sync *m = NULL;
    uint64_t k = 1, v = 1;
    CHECK_EQ(gomap_sync_create(NULL, &t, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_create(&m, NULL, NULL), GOMAP_EINVAL);
    CHECK(m == NULL);
    gomap_type bad = t;
    bad.val_align = 3;
    CHECK_EQ(gomap_sync_create(&m, &bad, NULL), GOMAP_EINVAL);
    bad = t;
    bad.val_destroy = free;
    CHECK_EQ(gomap_sync_create(&m, &bad, NULL), GOMAP_EINVAL);
    gomap_allocator half = {NULL, NULL, NULL};
    CHECK_EQ(gomap_sync_create(&m, &t, &half), GOMAP_EINVAL);
    CHECK(m == NULL);
    CHECK_EQ(gomap_sync_load(NULL, &k, &v), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_store(NULL, &k, &v), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_clear(NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_len(NULL), 0);
    gomap_sync_free(NULL);
    CHECK_EQ(gomap_sync_check(NULL, NULL, 0), 0);
    m = new_u64(NULL);
    CHECK_EQ(gomap_sync_load(m, NULL, &v), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_store(m, &k, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_store(m, NULL, &v), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_load_or_store(m, &k, NULL, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_swap(m, &k, NULL, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_compare_and_swap(m, &k, NULL, &v), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_compare_and_swap(m, &k, &v, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_compare_and_delete(m, &k, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_delete(m, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_range(m, NULL, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_len(m), 0);
    gomap_sync_free(m);
}

/* Every allocation point fails in turn: GOMAP_ENOMEM, the map unchanged.
   With the pool on, the allocation points are chunks and batches; with it
   off, also every node and entry. */
static void failing_allocator(bool pool) {
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator ga = tu_allocator(&a);
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap_sync *m = NULL;
    /* create: both of its allocations */
    for (long long f = 0;; f++) {
        a.fail_at = a.calls + f;
        int r = gomap_sync_create(&m, &t, &ga);
        if (r == GOMAP_OK) break;
        CHECK_EQ(r, GOMAP_ENOMEM);
        CHECK(m == NULL);
        CHECK_EQ(a.live, 0);
    }
    a.fail_at = -1;
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);

    /* A map with deep keys (identity-like keys through u64 are random, so
       use many keys to get expands at several levels). */
    CHECK_EQ(gomap_sync_create(&m, &t, &ga), GOMAP_OK);
    CHECK_EQ(gomap_sync_set_pool(m, pool), GOMAP_OK);
    static model ref;
    memset(&ref, 0, sizeof ref);
    static snap before, after;
    tu_seed(99);
    long ops = tu_scaled(3000, 600);
    long failures = 0;
    for (long i = 0; i < ops; i++) {
        uint64_t k = tu_rand() % NKEYS, v = tu_rand();
        uint64_t save = tu_rng_state;
        for (long long f = 0;; f++) {
            take_snap(m, &before);
            size_t len0 = gomap_sync_len(m);
            model copy = ref;
            tu_rng_state = save;
            a.fail_at = a.calls + f;
            long long failed0 = a.failed;
            /* Run the op on a scratch model; keep it only if nothing failed. */
            g_enomem_ok = true;
            int op = random_op(m, &copy, k, v);
            g_enomem_ok = false;
            a.fail_at = -1;
            /* ENOMEM exactly when an allocation failed */
            CHECK_EQ(op == -1, a.failed != failed0);
            if (op != -1) {
                ref = copy;
                break;
            }
            failures++;
            take_snap(m, &after);
            CHECK(snap_equal(&before, &after));
            CHECK_EQ(gomap_sync_len(m), len0);
            CHECK_SYNC(m);
        }
    }
    model_check(m, &ref);
    CHECK(failures > 0);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);
}

static void test_failing_allocator(void) {
    failing_allocator(false);
    failing_allocator(true);
}

/* Direct ENOMEM results for each writing call at each allocation point
   (pool off: each node and entry is one). */
static void test_enomem_results(void) {
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator ga = tu_allocator(&a);
    g_hash_mask = 0xff00000000000000ull; /* keys below collide on 8 bits: expand */
    gomap_type t = gomap_type_builtin(GOMAP_KEY_BYTES, 8, 8, 8);
    t.kind = GOMAP_KEY_CUSTOM;
    t.hash = hash_ident;
    t.equal = eq_u64;
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, &ga), GOMAP_OK);
    CHECK_EQ(gomap_sync_set_pool(m, false), GOMAP_OK);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK); /* no open batch of ours */
    static snap before, after;
    for (int op = 0; op < 8; op++) {
        for (long long f = 0;; f++) {
            uint64_t k1 = 0x1100000000000000ull, k2 = 0x1200000000000000ull, v = 5, w = 6, out;
            if (op == 0) gomap_sync_clear(m);
            take_snap(m, &before);
            a.fail_at = a.calls + f;
            int r;
            switch (op) {
            case 0: r = gomap_sync_store(m, &k1, &v); break;          /* empty slot */
            case 1: r = gomap_sync_store(m, &k2, &v); break;          /* expand */
            case 2: r = gomap_sync_swap(m, &k1, &w, &out); break;     /* replace */
            case 3: r = gomap_sync_compare_and_swap(m, &k1, &w, &v); break;
            case 4: r = gomap_sync_load_or_store(m, &k1, &w, &out); break; /* hit */
            case 5: r = gomap_sync_load_and_delete(m, &k2, &out); break;
            case 6: r = gomap_sync_compare_and_delete(m, &k1, &v); break;
            default: r = gomap_sync_clear(m); break;
            }
            a.fail_at = -1;
            if (r != GOMAP_ENOMEM) {
                CHECK(r >= 0);
                break;
            }
            take_snap(m, &after);
            CHECK(snap_equal(&before, &after));
            CHECK_SYNC(m);
            /* drop our open batch so that the next round allocates again */
            CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
        }
        CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    }
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);
    g_hash_mask = ~(uint64_t)0;
}

/* Retired memory is freed by the barrier; the map's allocator gets every
   byte back after free + barrier, also with several maps interleaved. */
static void test_reclaim_and_leaks(void) {
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator ga = tu_allocator(&a);
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap_sync *m1 = NULL, *m2 = NULL;
    CHECK_EQ(gomap_sync_create(&m1, &t, &ga), GOMAP_OK);
    CHECK_EQ(gomap_sync_create(&m2, &t, &ga), GOMAP_OK);
    long n = tu_scaled(50000, 5000);
    for (long i = 0; i < n; i++) {
        uint64_t k = (uint64_t)(i % 1000), v = (uint64_t)i;
        gomap_sync *m = (i & 1) ? m1 : m2;
        gomap_sync_store(m, &k, &v);
        if (i % 3 == 0) gomap_sync_delete(m, &k);
    }
    gomap_sync_stats st;
    gomap_sync_stats_get(m1, &st);
    CHECK(st.retired < 4 * 128); /* single thread: a batch or two in flight */
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    gomap_sync_stats_get(m1, &st);
    CHECK_EQ(st.retired, 0);
    gomap_sync_free(m1);
    CHECK_EQ(gomap_sync_clear(m2), GOMAP_OK);
    gomap_sync_free(m2);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK); /* idempotent */
}

/* ---- pools --------------------------------------------------------------------------------- */

/* Churn: swaps on a few keys (a new entry per call, the old one retired),
   and store/delete of keys that share a long hash prefix (expand + prune:
   trie nodes retired).  Checks every value read back.  Threads that churn
   one map at once pass different bases (disjoint keys). */
static void churn_at(gomap_sync *m, long n, uint64_t base) {
    for (long i = 0; i < n; i++) {
        uint64_t k = base + (uint64_t)(i % 8), v = (uint64_t)i, prev = 0;
        int r = gomap_sync_swap(m, &k, &v, &prev);
        CHECK(r == 0 || r == 1);
        if (r == 1 && i >= 8) CHECK_EQ(prev, (uint64_t)(i - 8));
        uint64_t k2 = base + 1000 + (uint64_t)(i % 64), out = 0;
        CHECK_EQ(gomap_sync_store(m, &k2, &v), 1);
        CHECK_EQ(gomap_sync_load(m, &k2, &out), 1);
        CHECK_EQ(out, v);
        CHECK_EQ(gomap_sync_delete(m, &k2), 1);
    }
}

static void churn(gomap_sync *m, long n) { churn_at(m, n, 0); }

typedef struct pool_arg {
    gomap_sync *m;
    uint64_t base;
} pool_arg;

static void *pool_thread(void *arg) {
    pool_arg *p = (pool_arg *)arg;
    churn_at(p->m, tu_scaled(20000, 2000), p->base);
    return NULL;
}

/* Copied string keys of every length 0..63: up to 32 bytes they come from
   the pool, longer ones from the allocator (and free must find them). */
static void pool_strings(gomap_sync *m, long n) {
    char buf[64];
    for (long i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof buf, "k%ld-%.*s", i % 50, (int)(i % 60),
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        gomap_str k = {buf, (size_t)len};
        uint64_t v = (uint64_t)i, out = 0;
        CHECK(gomap_sync_store(m, &k, &v) >= 0);
        CHECK_EQ(gomap_sync_load(m, &k, &out), 1);
        CHECK_EQ(out, v);
        if (i % 3 == 0) CHECK_EQ(gomap_sync_delete(m, &k), 1);
    }
    CHECK_SYNC(m);
}

/* The pool (src/pool.c): steady churn costs the allocator almost nothing
   and stays within a bounded number of chunks; freed blocks are reused;
   string entries of every size work and nothing leaks; several threads
   share it; with the pool off every entry is an allocator call again. */
static void test_pool(void) {
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator ga = tu_allocator(&a);
    gomap_sync_stats st;
    long n = tu_scaled(50000, 5000);

    /* churn: allocator calls are chunks (and batches), not entries */
    gomap_sync *m = new_u64(&ga);
    churn(m, n / 2);
    CHECK_SYNC(m);
    gomap_sync_stats_get(m, &st);
    size_t bytes1 = st.pool_bytes;
    CHECK(bytes1 > 0);
    long long calls0 = a.calls;
    churn(m, n / 2);
    CHECK_SYNC(m);
    gomap_sync_stats_get(m, &st);
    CHECK(a.calls - calls0 < n / 100);              /* 2.5 allocations per round without the pool */
    CHECK(st.pool_bytes <= bytes1 + 2 * 65536);     /* steady state: no growth but a chunk or two */
    CHECK(st.pool_bytes < 1024 * 1024);
    CHECK_EQ(st.len, 8);
    /* the barrier frees the retired blocks into the pool */
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    gomap_sync_stats_get(m, &st);
    CHECK(st.pool_free > 0);
    CHECK_EQ(st.retired, 0);
    /* the pool covers every node and entry: 144 bytes per node (the root
       excluded), 32 per u64 entry, plus free blocks and chunk tails */
    CHECK(st.pool_bytes >= (st.inodes - 1) * 144 + st.entries * 32 + st.pool_free * 32);
    size_t free0 = st.pool_free;
    for (uint64_t k = 5000; k < 5010; k++) CHECK_EQ(gomap_sync_store(m, &k, &k), 1);
    gomap_sync_stats_get(m, &st);
    CHECK(st.pool_free < free0); /* new entries reused freed blocks */
    CHECK_EQ(gomap_sync_set_pool(m, false), GOMAP_EINVAL); /* too late */
    CHECK_EQ(gomap_sync_set_pool(NULL, true), GOMAP_EINVAL);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);

    /* copied strings: pooled and unpooled entries side by side */
    gomap_type ts = gomap_type_builtin(GOMAP_KEY_STR_COPY, sizeof(gomap_str), 8, 8);
    CHECK_EQ(gomap_sync_create(&m, &ts, &ga), GOMAP_OK);
    pool_strings(m, n / 4);
    CHECK_EQ(gomap_sync_clear(m), GOMAP_OK);
    pool_strings(m, n / 8);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);
    /* a pooled map with only short keys: free takes the chunks, no walk */
    CHECK_EQ(gomap_sync_create(&m, &ts, &ga), GOMAP_OK);
    for (long i = 0; i < 1000; i++) {
        char buf[16];
        int len = snprintf(buf, sizeof buf, "s%ld", i);
        gomap_str k = {buf, (size_t)len};
        uint64_t v = (uint64_t)i;
        CHECK_EQ(gomap_sync_store(m, &k, &v), 1);
    }
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);

    /* threads: each uses its own stripe, blocks move between stripes (the
       default allocator: tu_alloc is not thread-safe; ASan checks leaks) */
    m = new_u64(NULL);
    pthread_t th[3];
    pool_arg pa[3];
    for (int i = 0; i < 3; i++) {
        pa[i].m = m;
        pa[i].base = (uint64_t)(i + 1) << 20;
        CHECK_EQ(pthread_create(&th[i], NULL, pool_thread, &pa[i]), 0);
    }
    churn(m, tu_scaled(20000, 2000));
    for (int i = 0; i < 3; i++) CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK_SYNC(m);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);

    /* pool off: every entry is an allocator call, and memory goes back */
    m = new_u64(&ga);
    CHECK_EQ(gomap_sync_set_pool(m, false), GOMAP_OK);
    calls0 = a.calls;
    churn(m, n);
    gomap_sync_stats_get(m, &st);
    CHECK_EQ(st.pool_bytes, 0);
    CHECK(a.calls - calls0 >= 2 * (long long)n); /* a swap and a store per round */
    for (uint64_t k = 0; k < 8; k++) CHECK_EQ(gomap_sync_delete(m, &k), 1);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK(a.live <= 4); /* header, root, spare batch: nothing per entry */
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);
}

static void *detach_thread(void *arg) {
    gomap_sync *m = (gomap_sync *)arg;
    for (uint64_t k = 0; k < 100; k++) {
        gomap_sync_store(m, &k, &k);
        gomap_sync_delete(m, &k);
    }
    CHECK_EQ(gomap_sync_thread_detach(), GOMAP_OK);
    CHECK_EQ(gomap_sync_thread_detach(), GOMAP_OK);
    uint64_t k = 5; /* re-registers */
    gomap_sync_store(m, &k, &k);
    return NULL;
}

static void test_detach(void) {
    tu_alloc a;
    memset(&a, 0, sizeof a);
    gomap_allocator ga = tu_allocator(&a);
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, &ga), GOMAP_OK);
    for (int i = 0; i < 4; i++) { /* records are reused */
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, detach_thread, m), 0);
        CHECK_EQ(pthread_join(th, NULL), 0);
    }
    CHECK_EQ(gomap_sync_len(m), 1);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(a.live, 0);
}

/* An equality callback that calls the map (a nested section) and tries the
   barrier and detach, which must refuse. */
static gomap_sync *g_nested;
static bool eq_nested(const void *a, const void *b) {
    uint64_t k = 12345, v;
    gomap_sync_load(g_nested, &k, &v);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_EINVAL);
    CHECK_EQ(gomap_sync_thread_detach(), GOMAP_EINVAL);
    return memcmp(a, b, 8) == 0;
}
static uint64_t hash_u64(const void *k, uint64_t seed) {
    uint64_t x;
    memcpy(&x, k, 8);
    return gomap_hash_u64(x, seed);
}

static void test_nested(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_BYTES, 8, 8, 8);
    t.kind = GOMAP_KEY_CUSTOM;
    t.hash = hash_u64;
    t.equal = eq_nested;
    CHECK_EQ(gomap_sync_create(&g_nested, &t, NULL), GOMAP_OK);
    uint64_t k = 1, v = 2, out;
    CHECK_EQ(gomap_sync_store(g_nested, &k, &v), 1);
    CHECK_EQ(gomap_sync_load(g_nested, &k, &out), 1);
    CHECK_EQ(gomap_sync_delete(g_nested, &k), 1);
    gomap_sync_free(g_nested);
}

static void test_fork(void) {
    gomap_sync *m = new_u64(NULL);
    for (uint64_t k = 0; k < 1000; k++) gomap_sync_store(m, &k, &k);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        for (uint64_t k = 0; k < 1000; k++) {
            uint64_t v;
            if (gomap_sync_load(m, &k, &v) != 1 || v != k) _exit(2);
            if (gomap_sync_delete(m, &k) != 1) _exit(3);
        }
        if (gomap_sync_barrier() != GOMAP_OK || gomap_sync_len(m) != 0) _exit(4);
        gomap_sync_free(m);
        _exit(0);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_EQ(gomap_sync_len(m), 1000);
    gomap_sync_free(m);
}

/* An allocator that returns memory aligned to exactly 16 bytes (never 32
   or 64): all gomap_sync.h asks of one.  The header's 64-byte aligned
   members must still be aligned (UBSan checks every access). */
static void *a16_alloc(void *ctx, size_t size) {
    (void)ctx;
    char *p = (char *)aligned_alloc(64, (size + 16 + 63) & ~(size_t)63);
    return p ? p + 16 : NULL;
}
static void a16_free(void *ctx, void *p, size_t size) {
    (void)ctx;
    (void)size;
    if (p) free((char *)p - 16);
}

static void test_allocator_aligned_16(void) {
    gomap_allocator a = {a16_alloc, a16_free, NULL};
    gomap_sync *m = new_u64(&a);
    for (uint64_t k = 0; k < 5000; k++) CHECK_EQ(gomap_sync_store(m, &k, &k), 1); /* inserted */
    for (uint64_t k = 0; k < 5000; k++) {
        uint64_t v = 0;
        CHECK(gomap_sync_load(m, &k, &v));
        CHECK_EQ(v, k);
    }
    CHECK_EQ(gomap_sync_check(m, NULL, 0), 0);
    gomap_sync_free(m);
    gomap_sync_barrier();
}

int main(void) {
    RUN(test_empty);
    RUN(test_allocator_aligned_16);
    RUN(test_model);
    RUN(test_model_collisions);
    RUN(test_expand_prune);
    RUN(test_range);
    RUN(test_big_values);
    RUN(test_strings);
    RUN(test_floats);
    RUN(test_sizes_and_equality);
    RUN(test_bad_input);
    RUN(test_failing_allocator);
    RUN(test_enomem_results);
    RUN(test_reclaim_and_leaks);
    RUN(test_pool);
    RUN(test_detach);
    RUN(test_nested);
    RUN(test_fork);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    return tu_finish();
}

/*
 * test_map_oom.c -- every allocation can fail (gomap.h "Out of memory"):
 * for a scripted sequence of operations, allocation number k is refused, for
 * k = 0, 1, 2, ... until the script runs through without reaching k.  The
 * call that met the refusal must either succeed anyway or return
 * GOMAP_ENOMEM / NULL with the map holding exactly the entries it held
 * before (checked against a reference), gomap_check passing and the byte
 * accounting exact; the map must then go on working (the call is retried);
 * and after gomap_free nothing is left allocated.  No call may report
 * ENOMEM without a refused allocation, and reads never allocate.
 *
 * Scripts cover: create with and without a hint, the first (lazy) bucket,
 * inserts that start grows, inserts that need overflow buckets (fresh and
 * preallocated), assign, STR_COPY key copies, out-of-line keys and values,
 * clone (with and without iterators), clear with a live iterator, deletes
 * while iterators hold old arrays, and keys with destructors whose deletes
 * must be deferred while an iterator is live.
 */
#include "gomap.h"
#include "refmodel.h"
#include "testutil.h"

#define ODD 0x9E3779B97F4A7C15ull
enum { NIDS = 400, BLOB_KEY = 200, BLOB_VAL = 150, MAX_VAL = 160 };

/* ---- key kinds ------------------------------------------------------------------ */

typedef struct kind {
    const char *name;
    gomap_type type;
    void (*make)(size_t id, void *out);
    size_t (*decode)(const void *stored);
    bool owned; /* rm_owned_key / rm_owned_val instances */
} kind;

static uint64_t odd_inv;

static void u64_make(size_t id, void *out) {
    uint64_t k = (uint64_t)id * ODD;
    memcpy(out, &k, 8);
}
static size_t u64_decode(const void *stored) {
    uint64_t k;
    memcpy(&k, stored, 8);
    uint64_t id = k * odd_inv;
    CHECK(id < NIDS);
    return (size_t)id;
}

static char scratch[64];
static void str_make(size_t id, void *out) {
    int n = snprintf(scratch, sizeof scratch, "%zu:%.*s", id, (int)(id % 40),
                     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
    gomap_str s = {scratch, (size_t)n};
    memcpy(out, &s, sizeof s);
}
static size_t str_decode(const void *stored) {
    gomap_str s;
    memcpy(&s, stored, sizeof s);
    CHECK(s.ptr != scratch);
    size_t id = 0, i = 0;
    while (i < s.len && s.ptr[i] != ':') id = id * 10 + (size_t)(s.ptr[i++] - '0');
    CHECK(id < NIDS);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%zu:%.*s", id, (int)(id % 40),
                     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
    CHECK_EQ(s.len, (size_t)n);
    CHECK(memcmp(s.ptr, buf, s.len) == 0);
    return id;
}

static void blob_make(size_t id, void *out) {
    unsigned char *p = (unsigned char *)out;
    u64_make(id, p);
    for (size_t i = 8; i < BLOB_KEY; i++) p[i] = (unsigned char)(id + i);
}
static size_t blob_decode(const void *stored) {
    size_t id = u64_decode(stored);
    unsigned char want[BLOB_KEY];
    blob_make(id, want);
    CHECK(memcmp(stored, want, BLOB_KEY) == 0);
    return id;
}

/* identity hash: every id in bucket 0 (for B <= 20) */
static void ident_make(size_t id, void *out) {
    uint64_t k = ((uint64_t)id << 20) | ((uint64_t)(5 + id % 200) << 56);
    memcpy(out, &k, 8);
}
static size_t ident_decode(const void *stored) {
    uint64_t k;
    memcpy(&k, stored, 8);
    size_t id = (size_t)((k & ((1ull << 56) - 1)) >> 20);
    CHECK(id < NIDS);
    return id;
}

/* owned {id, gen} keys; make() takes a fresh generation each time */
static uint64_t last_gen;
static void owned_make(size_t id, void *out) {
    rm_owned_key k = {id, rm_new_gen()};
    last_gen = k.gen;
    memcpy(out, &k, sizeof k);
}
static size_t owned_decode(const void *stored) {
    rm_owned_key k;
    memcpy(&k, stored, sizeof k);
    CHECK(k.id < NIDS);
    CHECK_EQ(rm_inst[k.gen], RM_IN_MAP);
    return (size_t)k.id;
}

/* ---- the environment of one script run ----------------------------------------------- */

typedef struct env {
    const kind *k;
    size_t vsize;
    tu_alloc a;
    gomap_allocator al;
    gomap *m;
    rm_map ref;
    uint64_t key_gen[NIDS]; /* owned kinds: the key instance in the map */
    uint64_t tag;
    gomap_iter its[2];
    bool it_live[2];
    _Alignas(16) unsigned char key[256];
    _Alignas(16) unsigned char val[MAX_VAL];
    long long fail_at;
    int refused_errors;    /* calls that reported ENOMEM */
    int refused_absorbed;  /* refusals the call got around */
} env;

static void val_fill(env *e, void *out, uint64_t tag) {
    unsigned char *p = (unsigned char *)out;
    if (e->k->owned) {
        rm_owned_val v = {rm_new_gen(), tag};
        memcpy(out, &v, sizeof v);
        return;
    }
    memcpy(p, &tag, 8);
    for (size_t i = 8; i < e->vsize; i++) p[i] = (unsigned char)(tag + i);
}
static uint64_t val_tag(env *e, const void *v) {
    const unsigned char *p = (const unsigned char *)v;
    if (e->k->owned) {
        rm_owned_val ov;
        memcpy(&ov, v, sizeof ov);
        return ov.tag;
    }
    uint64_t tag;
    memcpy(&tag, p, 8);
    for (size_t i = 8; i < e->vsize; i++) CHECK_EQ(p[i], (unsigned char)(tag + i));
    return tag;
}
static uint64_t val_gen(env *e, const void *v) {
    (void)e;
    rm_owned_val ov;
    memcpy(&ov, v, sizeof ov);
    return ov.gen;
}

/* The map holds exactly the reference's entries. */
static void verify(env *e) {
    CHECK_MAP(e->m);
    CHECK_EQ(gomap_len(e->m), e->ref.count);
    gomap_stats s;
    gomap_stats_get(e->m, &s);
    CHECK_EQ(s.count, e->ref.count);
    CHECK_EQ(s.bytes, e->a.live_bytes);
    unsigned char seen[NIDS] = {0};
    size_t n = 0;
    gomap_iter it;
    long long calls = e->a.calls;
    gomap_iter_init(&it, e->m);
    while (gomap_iter_next(&it)) {
        size_t id = e->k->decode(it.key);
        CHECK(rm_has(&e->ref, id));
        CHECK(!seen[id]);
        seen[id] = 1;
        n++;
        CHECK_EQ(val_tag(e, it.val), e->ref.val[id]);
    }
    CHECK_EQ(n, e->ref.count);
    for (size_t id = 0; id < NIDS; id++) {
        if (e->k->owned) {
            rm_owned_key k = {id, 0};
            memcpy(e->key, &k, sizeof k);
        } else {
            e->k->make(id, e->key);
        }
        void *v = gomap_get(e->m, e->key);
        CHECK_EQ(v != NULL, rm_has(&e->ref, id));
        if (v) CHECK_EQ(val_tag(e, v), e->ref.val[id]);
    }
    CHECK_EQ(e->a.calls, calls); /* reads and iteration never allocate */
}

/* Did this call meet the refused allocation?  Then check what it reported. */
static bool refused_in(env *e, long long failed_before, bool reported) {
    bool refused = e->a.failed > failed_before;
    if (reported) {
        if (!refused) RM_FAIL("ENOMEM reported although no allocation was refused");
        e->refused_errors++;
    } else if (refused) {
        e->refused_absorbed++;
    }
    return reported;
}

/* ---- operations, each checked for the failure contract ------------------------------- */

static void op_create(env *e, int64_t hint) {
    long long f = e->a.failed;
    gomap *m = (gomap *)(uintptr_t)&m;
    int rc = gomap_create(&m, &e->k->type, hint, &e->al);
    if (refused_in(e, f, rc == GOMAP_ENOMEM)) {
        CHECK(m == NULL);
        CHECK_EQ(e->a.live, 0);
        rc = gomap_create(&m, &e->k->type, hint, &e->al);
    }
    CHECK_EQ(rc, GOMAP_OK);
    CHECK(m != NULL);
    e->m = m;
    verify(e);
}

static void note_key(env *e, size_t id, bool inserted) {
    if (!e->k->owned) return;
    if (inserted) {
        rm_inst[last_gen] = RM_IN_MAP;
        e->key_gen[id] = last_gen;
    }
    /* on a hit the map does not keep the key (no GOMAP_F_KEY_UPDATE) */
}

static void op_put(env *e, size_t id) {
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 2);
        e->k->make(id, e->key);
        uint64_t tag = ++e->tag;
        val_fill(e, e->val, tag);
        bool had = rm_has(&e->ref, id);
        uint64_t old_vgen = 0;
        if (e->k->owned && had) {
            /* the old value may be destroyed by this put */
            void *ov = gomap_get(e->m, e->key);
            CHECK(ov != NULL);
            old_vgen = val_gen(e, ov);
            rm_inst[old_vgen] = RM_RELEASED;
        }
        if (e->k->owned) rm_inst[val_gen(e, e->val)] = RM_IN_MAP;
        long long f = e->a.failed;
        int rc = gomap_put(e->m, e->key, e->val);
        memset(scratch, '#', sizeof scratch);
        if (refused_in(e, f, rc == GOMAP_ENOMEM)) {
            if (e->k->owned) {
                if (old_vgen) {
                    CHECK_EQ(rm_inst[old_vgen], RM_RELEASED); /* not destroyed */
                    rm_inst[old_vgen] = RM_IN_MAP;
                }
                rm_inst[val_gen(e, e->val)] = RM_UNUSED;
            }
            verify(e);
            continue;
        }
        CHECK_EQ(rc, had ? 0 : 1);
        if (old_vgen) CHECK_EQ(rm_inst[old_vgen], RM_DESTROYED); /* put destroyed the old value */
        note_key(e, id, !had);
        rm_put(&e->ref, id, tag, 0);
        return;
    }
}

static void op_assign(env *e, size_t id) {
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 2);
        e->k->make(id, e->key);
        bool had = rm_has(&e->ref, id), ins = !had;
        long long f = e->a.failed;
        void *v = gomap_assign2(e->m, e->key, &ins);
        memset(scratch, '#', sizeof scratch);
        if (refused_in(e, f, v == NULL)) {
            verify(e);
            continue;
        }
        CHECK(v != NULL);
        CHECK_EQ(ins, !had);
        note_key(e, id, ins);
        uint64_t tag = ++e->tag;
        if (e->k->owned) {
            /* the test overwrites the old value itself: it is gone */
            if (had) rm_inst[val_gen(e, v)] = RM_DESTROYED;
        } else if (!ins) {
            CHECK_EQ(val_tag(e, v), e->ref.val[id]);
        }
        val_fill(e, e->val, tag);
        memcpy(v, e->val, e->vsize);
        if (e->k->owned) rm_inst[val_gen(e, v)] = RM_IN_MAP;
        rm_put(&e->ref, id, tag, 0);
        return;
    }
}

static void op_delete(env *e, size_t id) {
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 2);
        if (e->k->owned) {
            rm_owned_key k = {id, 0};
            memcpy(e->key, &k, sizeof k);
        } else {
            e->k->make(id, e->key);
        }
        bool had = rm_has(&e->ref, id);
        uint64_t kgen = 0, vgen = 0;
        if (e->k->owned && had) {
            kgen = e->key_gen[id];
            vgen = val_gen(e, gomap_get(e->m, e->key));
            rm_inst[kgen] = RM_RELEASED;
            rm_inst[vgen] = RM_RELEASED;
        }
        long long f = e->a.failed;
        int rc = gomap_delete(e->m, e->key);
        memset(scratch, '#', sizeof scratch);
        if (refused_in(e, f, rc == GOMAP_ENOMEM)) {
            if (kgen) {
                CHECK_EQ(rm_inst[kgen], RM_RELEASED);
                CHECK_EQ(rm_inst[vgen], RM_RELEASED);
                rm_inst[kgen] = RM_IN_MAP;
                rm_inst[vgen] = RM_IN_MAP;
            }
            verify(e);
            continue;
        }
        CHECK_EQ(rc, had ? 1 : 0);
        rm_del(&e->ref, id);
        return;
    }
}

/* The keys (and values) of a batch: ids first, first + step, ... (mod NIDS);
   copied strings get bytes of their own (str_make reuses one buffer). */
enum { BATCH_MAX = 48 };
typedef struct batch {
    size_t n, ids[BATCH_MAX];
    uint64_t tags[BATCH_MAX];
    unsigned char keys[BATCH_MAX * BLOB_KEY];
    _Alignas(16) unsigned char vals[BATCH_MAX * MAX_VAL];
    char strs[BATCH_MAX][64];
} batch;

static void batch_make(env *e, batch *b, size_t first, size_t n, size_t step) {
    CHECK(n <= BATCH_MAX);
    CHECK(!e->k->owned);
    const size_t ks = e->k->type.key_size;
    b->n = n;
    for (size_t j = 0; j < n; j++) {
        b->ids[j] = (first + j * step) % NIDS;
        unsigned char *key = b->keys + j * ks;
        e->k->make(b->ids[j], key);
        if (e->k->type.kind == GOMAP_KEY_STR_COPY) {
            gomap_str str;
            memcpy(&str, key, sizeof str);
            memcpy(b->strs[j], str.ptr, str.len);
            str.ptr = b->strs[j];
            memcpy(key, &str, sizeof str);
        }
        b->tags[j] = ++e->tag;
        val_fill(e, b->vals + j * e->vsize, b->tags[j]);
    }
}

/* gomap_put_many: on a refusal, pairs [0, done) are in and the map holds
   exactly those on top of what it held; the rest is then retried. */
static void op_put_many(env *e, size_t first, size_t n, size_t step) {
    batch *b = (batch *)malloc(sizeof *b);
    CHECK(b != NULL);
    batch_make(e, b, first, n, step);
    const size_t ks = e->k->type.key_size, vs = e->vsize;
    size_t at = 0;
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 2);
        long long f = e->a.failed;
        size_t done = SIZE_MAX;
        int rc = gomap_put_many(e->m, b->keys + at * ks, b->vals + at * vs, n - at, &done);
        memset(scratch, '#', sizeof scratch);
        CHECK(done <= n - at);
        for (size_t j = at; j < at + done; j++) rm_put(&e->ref, b->ids[j], b->tags[j], 0);
        at += done;
        if (refused_in(e, f, rc == GOMAP_ENOMEM)) {
            CHECK(at < n);
            verify(e);
            continue;
        }
        CHECK_EQ(rc, GOMAP_OK);
        CHECK_EQ(at, n);
        break;
    }
    verify(e);
    free(b);
}

static void op_delete_many(env *e, size_t first, size_t n, size_t step) {
    batch *b = (batch *)malloc(sizeof *b);
    CHECK(b != NULL);
    batch_make(e, b, first, n, step);
    long long f = e->a.failed;
    size_t done = SIZE_MAX;
    int rc = gomap_delete_many(e->m, b->keys, n, &done);
    refused_in(e, f, rc == GOMAP_ENOMEM); /* a grow's allocation may be refused and absorbed */
    CHECK_EQ(rc, GOMAP_OK);
    CHECK_EQ(done, n);
    for (size_t j = 0; j < n; j++) rm_del(&e->ref, b->ids[j]);
    verify(e);
    free(b);
}

static void op_clear(env *e) {
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 2);
        if (e->k->owned) {
            for (size_t id = 0; id < NIDS; id++)
                if (rm_has(&e->ref, id)) {
                    rm_owned_key k = {id, 0};
                    rm_inst[e->key_gen[id]] = RM_RELEASED;
                    rm_inst[val_gen(e, gomap_get(e->m, &k))] = RM_RELEASED;
                }
        }
        long long f = e->a.failed;
        int rc = gomap_clear(e->m);
        if (refused_in(e, f, rc == GOMAP_ENOMEM)) {
            if (e->k->owned) {
                for (size_t id = 0; id < NIDS; id++)
                    if (rm_has(&e->ref, id)) {
                        rm_owned_key k = {id, 0};
                        CHECK_EQ(rm_inst[e->key_gen[id]], RM_RELEASED);
                        rm_inst[e->key_gen[id]] = RM_IN_MAP;
                        uint64_t vg = val_gen(e, gomap_get(e->m, &k));
                        CHECK_EQ(rm_inst[vg], RM_RELEASED);
                        rm_inst[vg] = RM_IN_MAP;
                    }
            }
            verify(e);
            continue;
        }
        CHECK_EQ(rc, GOMAP_OK);
        rm_clear(&e->ref);
        return;
    }
}

static void op_clone(env *e) {
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 2);
        long long f = e->a.failed, live = e->a.live, bytes = e->a.live_bytes;
        gomap *c = gomap_clone(e->m);
        if (refused_in(e, f, c == NULL)) {
            CHECK_EQ(e->a.live, live); /* nothing of the partial clone is left */
            CHECK_EQ(e->a.live_bytes, bytes);
            verify(e);
            continue;
        }
        CHECK(c != NULL);
        /* the clone holds the same entries */
        gomap *orig = e->m;
        e->m = c;
        long long lb = e->a.live_bytes;
        gomap_stats so, sc;
        gomap_stats_get(orig, &so);
        gomap_stats_get(c, &sc);
        CHECK_EQ(so.bytes + sc.bytes, lb);
        e->a.live_bytes -= (long long)so.bytes; /* verify() compares with the clone's bytes */
        verify(e);
        e->a.live_bytes = lb;
        e->m = orig;
        gomap_free(c);
        CHECK_EQ(e->a.live, live);
        return;
    }
}

static void op_get_all(env *e) { verify(e); }

static void op_iter_start(env *e, int i) {
    CHECK(!e->it_live[i]);
    long long calls = e->a.calls;
    gomap_iter_init(&e->its[i], e->m);
    CHECK_EQ(e->a.calls, calls);
    e->it_live[i] = true;
}

/* Step an iterator n times; what it produces must be in the map now. */
static void op_iter_step(env *e, int i, int n) {
    if (!e->it_live[i]) return;
    long long calls = e->a.calls;
    for (int j = 0; j < n; j++) {
        if (!gomap_iter_next(&e->its[i])) {
            e->it_live[i] = false;
            break;
        }
        size_t id = e->k->decode(e->its[i].key);
        CHECK(rm_has(&e->ref, id));
        CHECK_EQ(val_tag(e, e->its[i].val), e->ref.val[id]);
    }
    CHECK_EQ(e->a.calls, calls);
}

static void op_iter_done(env *e, int i) {
    if (!e->it_live[i]) return;
    gomap_iter_done(&e->its[i]);
    e->it_live[i] = false;
}

/* ---- scripts --------------------------------------------------------------------------- */

/* u64: lazy first bucket, grows, assign, iterators over grows, deletes,
   clone with an iterator live, clear with an iterator live. */
static void script_growth(env *e, int64_t hint) {
    op_create(e, hint);
    for (size_t i = 0; i < 60; i++) {
        if (i % 3 == 0) op_assign(e, i);
        else op_put(e, i);
    }
    op_iter_start(e, 0);
    op_iter_step(e, 0, 5);
    for (size_t i = 60; i < 150; i++) op_put(e, i);
    op_put_many(e, 150, 48, 1); /* grows, over an iterator */
    op_put_many(e, 198, 2, 1);
    op_iter_start(e, 1);
    for (size_t i = 0; i < 200; i += 2) op_delete(e, i);
    op_iter_step(e, 0, 7);
    for (size_t i = 0; i < 10; i++) op_put(e, i * 3); /* updates and inserts */
    op_clone(e);
    op_iter_step(e, 1, 3);
    op_clear(e); /* iterators live */
    op_iter_step(e, 0, 1000);
    for (size_t i = 0; i < 40; i++) op_put(e, i * 7 % NIDS);
    op_iter_step(e, 1, 1000);
    op_iter_done(e, 0);
    op_iter_done(e, 1);
    for (size_t i = 0; i < 40; i += 3) op_delete(e, i * 7 % NIDS);
    op_clone(e);
    op_clear(e); /* no iterator */
    op_put(e, 1);
    op_get_all(e);
}

static void script_growth_nohint(env *e) { script_growth(e, 0); }
static void script_growth_hint(env *e) { script_growth(e, 300); }

/* Overflow buckets: 13 keys in one bucket of a B=1 map (fresh overflow
   buckets), then 200 keys in one bucket of a B=8 map (the 16 preallocated
   overflow buckets, then fresh ones). */
static void script_overflow(env *e) {
    op_create(e, 13);
    for (size_t i = 0; i < 13; i++) op_put(e, i);
    op_iter_start(e, 0);
    op_iter_step(e, 0, 9);
    for (size_t i = 0; i < 13; i += 2) op_delete(e, i);
    for (size_t i = 20; i < 26; i++) op_put(e, i);
    op_clone(e);
    op_iter_done(e, 0);
    op_get_all(e);
}

static void script_overflow_prealloc(env *e) {
    op_create(e, 1000);
    for (size_t i = 0; i < 200; i++) op_put(e, i);
    op_clone(e);
    for (size_t i = 0; i < 200; i += 4) op_delete(e, i);
    op_clear(e);
    for (size_t i = 0; i < 150; i++) op_assign(e, i);
    op_get_all(e);
}

/* Keys or values stored out of line, and copied strings: an insert makes
   extra allocations besides buckets. */
static void script_entries(env *e) {
    op_create(e, 0);
    for (size_t i = 0; i < 40; i++) op_put(e, i);
    op_iter_start(e, 0);
    op_iter_step(e, 0, 3);
    for (size_t i = 40; i < 120; i++) {
        if (i % 2) op_put(e, i);
        else op_assign(e, i);
    }
    for (size_t i = 0; i < 60; i += 3) op_delete(e, i);
    op_delete_many(e, 60, 20, 3);
    op_put_many(e, 120, 40, 7); /* new keys and updates */
    op_clone(e);
    op_iter_step(e, 0, 1000);
    for (size_t i = 0; i < 30; i++) op_put(e, i); /* re-inserts and updates */
    op_iter_start(e, 1);
    op_iter_step(e, 1, 2);
    op_clear(e);
    op_iter_done(e, 1);
    for (size_t i = 200; i < 230; i++) op_put(e, i);
    op_clone(e);
    op_get_all(e);
}

/* Keys with destructors: deletes and clears while an iterator is live must
   keep the keys (one allocation) -- the documented ENOMEM of delete. */
static void script_owned(env *e) {
    op_create(e, 0);
    for (size_t i = 0; i < 50; i++) op_put(e, i);
    op_delete(e, 3); /* no iterator: no allocation needed */
    op_iter_start(e, 0);
    op_iter_step(e, 0, 4);
    for (size_t i = 0; i < 50; i += 2) op_delete(e, i);
    for (size_t i = 0; i < 10; i++) op_put(e, i); /* re-inserts, updates */
    op_assign(e, 1);
    op_iter_step(e, 0, 5);
    op_clear(e);
    for (size_t i = 60; i < 100; i++) op_put(e, i);
    op_iter_step(e, 0, 1000);
    op_delete(e, 61); /* iterator done: the deferred work can run */
    op_put(e, 61);
    op_iter_start(e, 1);
    op_delete(e, 62);
    op_iter_done(e, 1);
    op_get_all(e);
}

/* ---- the driver -------------------------------------------------------------------------- */

static void run_script(const char *name, const kind *k, void (*script)(env *)) {
    long long k_at = 0;
    int errors = 0, absorbed = 0;
    long long total_calls = -1;
    for (;; k_at++) {
        env *e = (env *)calloc(1, sizeof *e);
        CHECK(e != NULL);
        e->k = k;
        e->vsize = k->type.val_size;
        CHECK(e->vsize <= MAX_VAL);
        e->al = tu_allocator(&e->a);
        e->a.fail_at = k_at;
        rm_init(&e->ref, NIDS);
        script(e);
        bool reached = e->a.failed > 0;
        errors += e->refused_errors;
        absorbed += e->refused_absorbed;
        if (reached) CHECK_EQ(e->refused_errors + e->refused_absorbed, 1);
        op_iter_done(e, 0);
        op_iter_done(e, 1);
        rm_freeing = true;
        gomap_free(e->m);
        rm_freeing = false;
        CHECK_EQ(e->a.live, 0); /* nothing leaked */
        CHECK_EQ(e->a.live_bytes, 0);
        if (k->owned) CHECK(rm_all_destroyed());
        rm_destroy(&e->ref);
        if (!reached) total_calls = e->a.calls;
        free(e);
        if (!reached) break;
    }
    fprintf(stderr, "\n    %-24s %-9s %5lld allocations, %4d refusals reported as ENOMEM, %3d absorbed", name,
            k->name, total_calls, errors, absorbed);
    CHECK(total_calls > 0);
    CHECK_EQ(errors + absorbed, k_at);
    CHECK(errors > 0);
}

static kind kinds[5];

static void test_growth_u64(void) {
    run_script("growth, no hint", &kinds[0], script_growth_nohint);
    run_script("growth, hint 300", &kinds[0], script_growth_hint);
}
static void test_overflow(void) {
    run_script("overflow (fresh)", &kinds[3], script_overflow);
    run_script("overflow (preallocated)", &kinds[3], script_overflow_prealloc);
}
static void test_entries_str_copy(void) { run_script("entries", &kinds[1], script_entries); }
static void test_entries_out_of_line(void) { run_script("entries", &kinds[2], script_entries); }
static void test_entries_u64(void) { run_script("entries", &kinds[0], script_entries); }
static void test_owned(void) { run_script("owned, iterators", &kinds[4], script_owned); }

int main(void) {
    odd_inv = ODD;
    for (int i = 0; i < 6; i++) odd_inv *= 2 - ODD * odd_inv;
    kinds[0] = (kind){"u64", gomap_type_builtin(GOMAP_KEY_U64, 0, 8, 8), u64_make, u64_decode, false};
    kinds[1] = (kind){"str_copy", gomap_type_builtin(GOMAP_KEY_STR_COPY, 0, 8, 8), str_make, str_decode, false};
    kinds[2] = (kind){"blob200", gomap_type_builtin(GOMAP_KEY_BYTES, BLOB_KEY, BLOB_VAL, 2), blob_make,
                      blob_decode, false};
    kinds[3] = (kind){"ident", rm_ident_type(8, 8), ident_make, ident_decode, false};
    kinds[4] = (kind){"owned", rm_owned_type(0), owned_make, owned_decode, true};
    RUN(test_growth_u64);
    RUN(test_overflow);
    RUN(test_entries_u64);
    RUN(test_entries_str_copy);
    RUN(test_entries_out_of_line);
    RUN(test_owned);
    return tu_finish();
}

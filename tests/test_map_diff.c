/*
 * test_map_diff.c -- the differential test: millions of random operations
 * (put, assign, delete, lookup, batch lookup, clear, clone, and iterators
 * that run interleaved with all of them) against the trivial reference map of
 * refmodel.h, for several key kinds, with gomap_check() after every
 * operation.  Key spaces are resized epoch by epoch so that maps cross many
 * growth boundaries, are drained, cleared and re-created with random hints.
 *
 * Checked after every operation: the result against the reference, len and
 * stats.count, gomap_check, the bytes accounting (stats.bytes equals what
 * the allocator has handed out), the live-iterator count, and the work
 * bounds: a write evacuates at most GOMAP_EVACUATE_PER_WRITE old buckets, a
 * read evacuates none (include/gomap.h).  Iterators are checked for Go's
 * guarantees (include/gomap.h, gomap_iter): an entry produced is in the map with
 * its latest value and key representation; no entry twice; every entry
 * present throughout is produced; an entry deleted before it was reached is
 * not.
 *
 * Key kinds: uint64; borrowed strings (two buffers per key: the stored view
 * must be the latest one written, GOMAP_F_KEY_UPDATE); copied strings (the
 * caller's buffer is scribbled after every call); 200-byte blobs with
 * 150-byte values (both stored out of line); float64 without NaN (+0 and -0
 * are one key, the stored sign is the latest); a CUSTOM key whose hash has
 * only 3 values (long overflow chains; "clustered" epochs fill and drain
 * one chain after another, which forces same-size grows, asserted); a
 * uint32 set (zero-size values).  Clears are also made likely in the middle
 * of a grow, with iterators parked on older arrays.
 *
 * The maps get their memory from an allocator that fills it with garbage
 * and scribbles over it before freeing it.
 *
 * The default run does 770,000 operations in all (seconds); under
 * GOMAP_TEST_SCALE=small the counts are divided by 10 (the weak hash's are
 * not: it needs many epochs to see same-size grows), under
 * GOMAP_TEST_SCALE=long multiplied by 10 (the soak, `make test-long`).
 * GOMAP_TEST_SEED=<n> changes the random seed; naming kinds on the command
 * line (test_map_diff u64 f64) runs those alone.
 */
#include "gomap.h"
#include "refmodel.h"
#include "testutil.h"

#include <inttypes.h>

/* ---- key kinds ----------------------------------------------------------------- */

#define ODD 0x9E3779B97F4A7C15ull
static uint64_t odd_inv; /* ODD * odd_inv == 1 (mod 2^64) */

enum { MAX_IDS = 3400, STR_MAX = 72, BLOB_KEY = 200, BLOB_VAL = 150 };

typedef struct kind {
    const char *name;
    gomap_type type;
    size_t max_ids;     /* largest key space used */
    long ops;           /* operations at default scale */
    bool same_size;     /* same-size grows must happen (weak hash) */
    /* write the key for id (and representation variant) into out */
    void (*make)(size_t id, int variant, void *out);
    /* the id and variant of a stored key; fails the test if malformed */
    size_t (*decode)(const void *stored, int *variant);
    /* how many representations id has (1 or 2) */
    int (*nvariants)(size_t id);
} kind;

static int one_variant(size_t id) {
    (void)id;
    return 1;
}

/* uint64 */
static void u64_make(size_t id, int variant, void *out) {
    (void)variant;
    uint64_t k = (uint64_t)id * ODD;
    memcpy(out, &k, 8);
}
static size_t u64_decode(const void *stored, int *variant) {
    uint64_t k;
    memcpy(&k, stored, 8);
    uint64_t id = k * odd_inv;
    CHECK(id < MAX_IDS);
    *variant = 0;
    return (size_t)id;
}

/* uint32 (the set) */
static void u32_make(size_t id, int variant, void *out) {
    (void)variant;
    uint32_t k = (uint32_t)id * 2654435761u;
    memcpy(out, &k, 4);
}
static size_t u32_decode(const void *stored, int *variant) {
    uint32_t k;
    memcpy(&k, stored, 4);
    /* 2654435761 * 244002641 == 1 (mod 2^32) */
    uint32_t id = k * 244002641u;
    CHECK(id < MAX_IDS);
    *variant = 0;
    return id;
}

/* strings: "<id>-" followed by letters, 0..71 bytes; id 0 is "" */
static char str_store[2][MAX_IDS][STR_MAX];
static size_t str_len[MAX_IDS];
static char scratch[STR_MAX + 8]; /* STR_COPY keys are built here */

static void str_init(void) {
    for (size_t id = 0; id < MAX_IDS; id++) {
        char tmp[STR_MAX];
        size_t len = 0;
        if (id > 0) {
            int head = snprintf(tmp, sizeof tmp, "%zu-", id);
            len = (id * 13) % STR_MAX;
            if (len < (size_t)head) len = (size_t)head;
            for (size_t j = (size_t)head; j < len; j++) tmp[j] = (char)('a' + (id * 7 + j) % 26);
        }
        str_len[id] = len;
        memcpy(str_store[0][id], tmp, len);
        memcpy(str_store[1][id], tmp, len);
    }
}
static size_t str_parse(const gomap_str *s) {
    if (s->len == 0) return 0;
    CHECK(s->ptr != NULL);
    size_t id = 0, i = 0;
    while (i < s->len && s->ptr[i] >= '0' && s->ptr[i] <= '9') id = id * 10 + (size_t)(s->ptr[i++] - '0');
    CHECK(i < s->len && s->ptr[i] == '-');
    CHECK(id > 0 && id < MAX_IDS);
    CHECK_EQ(s->len, str_len[id]);
    CHECK(memcmp(s->ptr, str_store[0][id], s->len) == 0);
    return id;
}
static void strb_make(size_t id, int variant, void *out) {
    gomap_str s = {str_store[variant][id], str_len[id]};
    if (id == 0 && variant == 0) s.ptr = NULL; /* {NULL, 0} and {"", 0} are one key */
    memcpy(out, &s, sizeof s);
}
static size_t strb_decode(const void *stored, int *variant) {
    gomap_str s;
    memcpy(&s, stored, sizeof s);
    size_t id = str_parse(&s);
    if (id == 0 && s.ptr == NULL) {
        *variant = 0;
    } else if (s.ptr == str_store[0][id] && id != 0) {
        *variant = 0;
    } else if (s.ptr == str_store[1][id]) {
        *variant = 1;
    } else {
        RM_FAIL("a borrowed string key does not point at a caller's buffer");
    }
    return id;
}
static int two_variants(size_t id) {
    (void)id;
    return 2;
}
static void strc_make(size_t id, int variant, void *out) {
    (void)variant;
    memcpy(scratch, str_store[0][id], str_len[id]);
    gomap_str s = {scratch, str_len[id]};
    memcpy(out, &s, sizeof s);
}
static size_t strc_decode(const void *stored, int *variant) {
    gomap_str s;
    memcpy(&s, stored, sizeof s);
    /* the map's own copy, never the caller's buffer */
    if (s.len > 0) CHECK(s.ptr != scratch);
    *variant = 0;
    return str_parse(&s);
}

/* 200-byte blobs */
static void blob_make(size_t id, int variant, void *out) {
    (void)variant;
    unsigned char *p = (unsigned char *)out;
    uint64_t k = (uint64_t)id * ODD;
    memcpy(p, &k, 8);
    for (size_t i = 8; i < BLOB_KEY; i++) p[i] = (unsigned char)(id * 31 + i * 7);
}
static size_t blob_decode(const void *stored, int *variant) {
    size_t id = u64_decode(stored, variant);
    unsigned char want[BLOB_KEY];
    blob_make(id, 0, want);
    CHECK(memcmp(stored, want, BLOB_KEY) == 0);
    return id;
}

/* float64: id 0 is +0 (variant 0) or -0 (variant 1); others +-1.25*id */
static void f64_make(size_t id, int variant, void *out) {
    double d;
    if (id == 0) {
        uint64_t bits = variant ? 0x8000000000000000ull : 0;
        memcpy(&d, &bits, 8);
    } else {
        d = (id % 2 ? -1.25 : 1.25) * (double)id;
    }
    memcpy(out, &d, 8);
}
static size_t f64_decode(const void *stored, int *variant) {
    double d;
    memcpy(&d, stored, 8);
    CHECK(d == d);
    if (d == 0) {
        uint64_t bits;
        memcpy(&bits, stored, 8);
        *variant = bits >> 63 ? 1 : 0;
        return 0;
    }
    double a = d < 0 ? -d : d;
    size_t id = (size_t)(a / 1.25 + 0.5);
    CHECK(id > 0 && id < MAX_IDS);
    double back;
    f64_make(id, 0, &back);
    CHECK(back == d);
    *variant = 0;
    return id;
}
static int f64_nvariants(size_t id) { return id == 0 ? 2 : 1; }

/* CUSTOM with a weak hash: three hash values, independent of the seed */
static uint64_t weak_hash(const void *key, uint64_t seed) {
    static const uint64_t h[3] = {0x0600000000000000ull, 0x9100000000000001ull,
                                  0xF700000000000002ull};
    uint64_t k;
    (void)seed;
    memcpy(&k, key, 8);
    return h[(k * odd_inv) % 3];
}

/* ---- values --------------------------------------------------------------------------- */

/* value bytes for a tag: 8 bytes of tag, then a pattern of it */
static void val_fill(void *out, size_t vsize, uint64_t tag) {
    unsigned char *p = (unsigned char *)out;
    if (vsize == 0) return;
    memcpy(p, &tag, vsize < 8 ? vsize : 8);
    for (size_t i = 8; i < vsize; i++) p[i] = (unsigned char)(tag * 131 + i);
}
static void val_check(const void *v, size_t vsize, uint64_t tag) {
    if (vsize == 0) return;
    CHECK(v != NULL);
    unsigned char want[BLOB_VAL];
    val_fill(want, vsize, tag);
    if (memcmp(v, want, vsize) != 0) {
        uint64_t got = 0;
        memcpy(&got, v, 8);
        fprintf(stderr, "value mismatch: tag %" PRIu64 " wanted, first word %" PRIu64 "\n", tag, got);
        RM_FAIL("value differs from the reference");
    }
}
static bool val_zero(const void *v, size_t vsize) {
    const unsigned char *p = (const unsigned char *)v;
    for (size_t i = 0; i < vsize; i++)
        if (p[i]) return false;
    return true;
}

/* ---- a dirty allocator --------------------------------------------------------------- */

/* Counts like tu_alloc, but hands out memory full of garbage and scribbles
   over memory before freeing it, so that reading uninitialised or freed map
   memory goes wrong in plain builds too, not only under ASan. */
static void *dirty_alloc(void *ctx, size_t size) {
    void *p = tu_alloc_fn(ctx, size);
    if (p) memset(p, 0xBE, size);
    return p;
}
static void dirty_free(void *ctx, void *p, size_t size) {
    if (p) memset(p, 0xEF, size);
    tu_free_fn(ctx, p, size);
}

/* ---- the run ------------------------------------------------------------------------------ */

enum { T_ABSENT = 0, T_MUST, T_GONE, T_NEW, T_DONE };
enum { NITER = 2 };

typedef struct iter_slot {
    bool live;
    bool counted; /* the map counts it in stats.live_iterators */
    gomap_iter it;
    unsigned char *st; /* per id, T_* */
    size_t at_start, new_entries, steps;
} iter_slot;

typedef struct run {
    const kind *k;
    size_t vsize;
    gomap *m;
    rm_map ref;
    tu_alloc alloc;
    gomap_allocator al;
    size_t K;            /* ids used in this epoch: 0..K-1 */
    int cluster;         /* -1, or the residue mod 3 all ids have now */
    uint64_t tag;
    iter_slot its[NITER];
    _Alignas(16) unsigned char key[256];
    _Alignas(16) unsigned char val[BLOB_VAL];
    /* what happened, for the summary */
    uint64_t n_ops, n_iters_done, n_produced, n_clears, n_clones, n_recreates;
    unsigned max_B, max_evac, max_scan;
    uint64_t grows, same_size_grows; /* over all maps of the run */
} run;

/* Iterators the map should count as live.  An iterator started on an empty
   map may end at once (Go's mapiterinit), so it need not be counted. */
static unsigned live_iters(const run *r) {
    unsigned n = 0;
    for (int i = 0; i < NITER; i++) n += r->its[i].live && r->its[i].counted;
    return n;
}

static void scribble(void) { memset(scratch, 0xA5, sizeof scratch); }

/* the reference changed: tell the live iterators */
static void note_insert(run *r, size_t id) {
    for (int i = 0; i < NITER; i++)
        if (r->its[i].live) {
            r->its[i].st[id] = T_NEW;
            r->its[i].new_entries++;
        }
}
static void note_delete(run *r, size_t id) {
    for (int i = 0; i < NITER; i++)
        if (r->its[i].live && r->its[i].st[id] != T_DONE) r->its[i].st[id] = T_GONE;
}

/* After an operation that made `writes` writes (a batch makes many). */
static void check_after(run *r, const gomap_stats *before, size_t writes) {
    gomap_stats s;
    CHECK_MAP(r->m);
    gomap_stats_get(r->m, &s);
    CHECK_EQ(gomap_len(r->m), r->ref.count);
    CHECK_EQ(s.count, r->ref.count);
    CHECK_EQ(s.buckets, (size_t)1 << s.B);
    CHECK_EQ(s.live_iterators, live_iters(r));
    CHECK_EQ(s.bytes, r->alloc.live_bytes);
    uint64_t evac = s.evacuated - before->evacuated;
    if (writes) {
        CHECK(evac <= GOMAP_EVACUATE_PER_WRITE * writes);
    } else {
        CHECK_EQ(evac, 0);
        CHECK_EQ(s.nevacuate, before->nevacuate);
        CHECK_EQ(s.growing, before->growing);
    }
    if (s.growing) CHECK(s.nevacuate < s.old_buckets);
    CHECK(s.max_evacuated_per_op <= GOMAP_EVACUATE_PER_WRITE);
    CHECK(s.max_scan_per_op <= GOMAP_EVACUATE_SCAN_CAP);
    if (s.B > r->max_B) r->max_B = s.B;
}

/* Compare the whole map with the reference (lookups and a fresh iteration). */
static void full_compare(run *r, const gomap *m) {
    size_t seen_count = 0;
    unsigned char *seen = (unsigned char *)calloc(r->ref.cap, 1);
    CHECK(seen != NULL);
    gomap_iter it;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it)) {
        int variant;
        size_t id = r->k->decode(it.key, &variant);
        CHECK(id < r->ref.cap);
        CHECK(rm_has(&r->ref, id));
        CHECK(!seen[id]);
        seen[id] = 1;
        seen_count++;
        CHECK_EQ(variant, r->ref.variant[id]);
        val_check(it.val, r->vsize, r->ref.val[id]);
    }
    CHECK_EQ(seen_count, r->ref.count);
    for (size_t id = 0; id < r->ref.cap; id++) {
        r->k->make(id, 0, r->key);
        const void *sk = NULL;
        void *v = gomap_get_key(m, r->key, &sk);
        scribble();
        CHECK_EQ(v != NULL, rm_has(&r->ref, id));
        if (v) {
            int variant;
            CHECK_EQ(r->k->decode(sk, &variant), id);
            CHECK_EQ(variant, r->ref.variant[id]);
            val_check(v, r->vsize, r->ref.val[id]);
        }
    }
    free(seen);
}

static void iter_start(run *r, int i) {
    iter_slot *s = &r->its[i];
    CHECK(!s->live);
    for (size_t id = 0; id < r->ref.cap; id++) s->st[id] = rm_has(&r->ref, id) ? T_MUST : T_ABSENT;
    s->at_start = r->ref.count;
    s->new_entries = 0;
    s->steps = 0;
    gomap_stats before, after;
    gomap_stats_get(r->m, &before);
    gomap_iter_init(&s->it, r->m);
    gomap_stats_get(r->m, &after);
    s->live = true;
    s->counted = after.live_iterators == before.live_iterators + 1;
    if (r->ref.count > 0) CHECK(s->counted);
    else CHECK(after.live_iterators == before.live_iterators || s->counted);
}

static void iter_end_check(run *r, iter_slot *s) {
    for (size_t id = 0; id < r->ref.cap; id++)
        if (s->st[id] == T_MUST) {
            fprintf(stderr, "[%s] id %zu present throughout an iteration was not produced\n",
                    r->k->name, id);
            RM_FAIL("iteration missed an entry");
        }
    r->n_iters_done++;
}

static void iter_step(run *r, int i) {
    iter_slot *s = &r->its[i];
    CHECK(s->live);
    if (!gomap_iter_next(&s->it)) {
        s->live = false;
        iter_end_check(r, s);
        return;
    }
    s->steps++;
    r->n_produced++;
    CHECK(s->steps <= s->at_start + s->new_entries);
    int variant;
    size_t id = r->k->decode(s->it.key, &variant);
    CHECK(id < r->ref.cap);
    switch (s->st[id]) {
    case T_MUST:
    case T_NEW:
        break;
    case T_DONE:
        fprintf(stderr, "[%s] id %zu produced twice\n", r->k->name, id);
        RM_FAIL("entry produced twice");
        break;
    case T_GONE:
        fprintf(stderr, "[%s] id %zu deleted before it was reached, then produced\n", r->k->name, id);
        RM_FAIL("deleted entry produced");
        break;
    default:
        fprintf(stderr, "[%s] id %zu produced but never inserted\n", r->k->name, id);
        RM_FAIL("unknown entry produced");
    }
    CHECK(rm_has(&r->ref, id));
    CHECK_EQ(variant, r->ref.variant[id]);
    val_check(s->it.val, r->vsize, r->ref.val[id]);
    s->st[id] = T_DONE;
}

static void end_iterators(run *r) {
    for (int i = 0; i < NITER; i++)
        if (r->its[i].live) {
            gomap_iter_done(&r->its[i].it);
            r->its[i].live = false;
        }
}

/* Add the map's work counters to the run's totals. */
static void account(run *r) {
    gomap_stats s;
    gomap_stats_get(r->m, &s);
    r->grows += s.grows;
    r->same_size_grows += s.same_size_grows;
    if (s.max_evacuated_per_op > r->max_evac) r->max_evac = s.max_evacuated_per_op;
    if (s.max_scan_per_op > r->max_scan) r->max_scan = s.max_scan_per_op;
}

static void new_map(run *r) {
    end_iterators(r);
    if (r->m) {
        account(r);
        gomap_free(r->m);
    }
    CHECK_EQ(r->alloc.live, 0);
    int64_t hint = 0;
    switch (tu_rand() % 4) {
    case 0: hint = 0; break;
    case 1: hint = (int64_t)(tu_rand() % 16); break;
    case 2: hint = (int64_t)(tu_rand() % (r->k->max_ids + 1)); break;
    default: hint = -1; break;
    }
    CHECK_EQ(gomap_create(&r->m, &r->k->type, hint, &r->al), GOMAP_OK);
    rm_clear(&r->ref);
    r->n_recreates++;
}

static void op_put(run *r, size_t id) {
    int variant = (int)(tu_rand() % (uint64_t)r->k->nvariants(id));
    r->k->make(id, variant, r->key);
    uint64_t tag = ++r->tag;
    val_fill(r->val, r->vsize, tag);
    int ret = gomap_put(r->m, r->key, r->vsize ? r->val : NULL);
    scribble();
    CHECK_EQ(ret, rm_has(&r->ref, id) ? 0 : 1);
    if (ret == 1) note_insert(r, id);
    rm_put(&r->ref, id, tag, (uint8_t)variant);
}

static void op_assign(run *r, size_t id) {
    int variant = (int)(tu_rand() % (uint64_t)r->k->nvariants(id));
    r->k->make(id, variant, r->key);
    bool ins = false;
    void *v = gomap_assign2(r->m, r->key, &ins);
    scribble();
    CHECK(v != NULL);
    CHECK_EQ(ins, !rm_has(&r->ref, id));
    uint64_t tag;
    if (ins) {
        CHECK(val_zero(v, r->vsize)); /* a new entry's value is zero */
        note_insert(r, id);
        tag = 0;
    } else {
        val_check(v, r->vsize, r->ref.val[id]);
        tag = r->ref.val[id];
    }
    if (r->vsize == 8) {
        ++*(uint64_t *)v; /* m[k]++ */
        tag++;
    } else if (r->vsize > 0) {
        tag = ++r->tag;
        val_fill(v, r->vsize, tag);
    }
    rm_put(&r->ref, id, tag, (uint8_t)variant);
}

static void op_delete(run *r, size_t id) {
    r->k->make(id, (int)(tu_rand() % (uint64_t)r->k->nvariants(id)), r->key);
    int ret = gomap_delete(r->m, r->key);
    scribble();
    CHECK_EQ(ret, rm_has(&r->ref, id) ? 1 : 0);
    if (ret == 1) note_delete(r, id);
    rm_del(&r->ref, id);
}

static void op_get(run *r, size_t id) {
    r->k->make(id, (int)(tu_rand() % (uint64_t)r->k->nvariants(id)), r->key);
    const void *sk = NULL;
    bool with_key = tu_rand() % 2;
    void *v = with_key ? gomap_get_key(r->m, r->key, &sk) : gomap_get(r->m, r->key);
    scribble();
    CHECK_EQ(v != NULL, rm_has(&r->ref, id));
    if (!v) return;
    val_check(v, r->vsize, r->ref.val[id]);
    if (with_key) {
        int variant;
        CHECK(sk != NULL);
        CHECK_EQ(r->k->decode(sk, &variant), id);
        CHECK_EQ(variant, r->ref.variant[id]);
    }
}

/* gomap_get_many on a batch of random ids (hits and misses, repeats
   allowed, 0..MANY_MAX keys): each result as gomap_get would give it. */
enum { MANY_MAX = 40 };
static void op_get_many(run *r) {
    static unsigned char keys[MANY_MAX * BLOB_KEY];
    size_t ids[MANY_MAX];
    void *vals[MANY_MAX];
    const size_t ks = r->k->type.key_size;
    size_t n = (size_t)(tu_rand() % (MANY_MAX + 1)), want = 0;
    for (size_t j = 0; j < n; j++) {
        ids[j] = (size_t)(tu_rand() % r->ref.cap);
        unsigned char *key = keys + j * ks;
        r->k->make(ids[j], (int)(tu_rand() % (uint64_t)r->k->nvariants(ids[j])), key);
        if (r->k->type.kind == GOMAP_KEY_STR_COPY) {
            /* strc_make builds every key in one scratch buffer */
            gomap_str s = {str_store[0][ids[j]], str_len[ids[j]]};
            memcpy(key, &s, sizeof s);
        }
        want += rm_has(&r->ref, ids[j]);
    }
    CHECK_EQ(gomap_get_many(r->m, keys, n, vals), want);
    scribble();
    for (size_t j = 0; j < n; j++) {
        CHECK_EQ(vals[j] != NULL, rm_has(&r->ref, ids[j]));
        if (vals[j]) val_check(vals[j], r->vsize, r->ref.val[ids[j]]);
    }
}

/* Key j of a batch: random ids (repeats allowed), their bytes packed
   key_size apart in keys.  Returns the variant. */
static int many_key(run *r, unsigned char *keys, size_t j, size_t id) {
    int variant = (int)(tu_rand() % (uint64_t)r->k->nvariants(id));
    unsigned char *key = keys + j * r->k->type.key_size;
    r->k->make(id, variant, key);
    if (r->k->type.kind == GOMAP_KEY_STR_COPY) { /* see op_get_many */
        gomap_str s = {str_store[0][id], str_len[id]};
        memcpy(key, &s, sizeof s);
    }
    return variant;
}

/* gomap_put_many of 0..MANY_MAX pairs (repeated keys allowed): the same as
   that many gomap_put calls in order. */
static size_t op_put_many(run *r) {
    static unsigned char keys[MANY_MAX * BLOB_KEY];
    static _Alignas(16) unsigned char vals[MANY_MAX * BLOB_VAL];
    size_t ids[MANY_MAX], done = 12345;
    int variants[MANY_MAX];
    uint64_t tags[MANY_MAX];
    size_t n = (size_t)(tu_rand() % (MANY_MAX + 1));
    for (size_t j = 0; j < n; j++) {
        ids[j] = (size_t)(tu_rand() % r->ref.cap);
        variants[j] = many_key(r, keys, j, ids[j]);
        tags[j] = ++r->tag;
        val_fill(vals + j * r->vsize, r->vsize, tags[j]);
    }
    CHECK_EQ(gomap_put_many(r->m, keys, r->vsize ? vals : NULL, n, &done), GOMAP_OK);
    scribble();
    CHECK_EQ(done, n);
    for (size_t j = 0; j < n; j++) {
        if (!rm_has(&r->ref, ids[j])) note_insert(r, ids[j]);
        rm_put(&r->ref, ids[j], tags[j], (uint8_t)variants[j]);
    }
    return n;
}

/* gomap_delete_many of 0..MANY_MAX keys: that many gomap_delete calls. */
static size_t op_delete_many(run *r) {
    static unsigned char keys[MANY_MAX * BLOB_KEY];
    size_t ids[MANY_MAX], done = 12345;
    size_t n = (size_t)(tu_rand() % (MANY_MAX + 1));
    for (size_t j = 0; j < n; j++) {
        ids[j] = (size_t)(tu_rand() % r->ref.cap);
        many_key(r, keys, j, ids[j]);
    }
    CHECK_EQ(gomap_delete_many(r->m, keys, n, &done), GOMAP_OK);
    scribble();
    CHECK_EQ(done, n);
    for (size_t j = 0; j < n; j++)
        if (rm_del(&r->ref, ids[j])) note_delete(r, ids[j]);
    return n;
}

static void op_clear(run *r) {
    CHECK_EQ(gomap_clear(r->m), GOMAP_OK);
    for (size_t id = 0; id < r->ref.cap; id++)
        if (rm_has(&r->ref, id)) note_delete(r, id);
    rm_clear(&r->ref);
    r->n_clears++;
}

static void op_clone(run *r) {
    gomap *c = gomap_clone(r->m);
    CHECK(c != NULL);
    CHECK_MAP(c);
    gomap_stats sm, sc;
    gomap_stats_get(r->m, &sm);
    gomap_stats_get(c, &sc);
    CHECK(sm.seed == sc.seed);
    CHECK_EQ(sm.bytes + sc.bytes, r->alloc.live_bytes);
    CHECK_EQ(sc.live_iterators, 0);
    full_compare(r, c);
    gomap_free(c);
    r->n_clones++;
}

static void one_op(run *r, unsigned p_ins, unsigned p_del) {
    gomap_stats before;
    gomap_stats_get(r->m, &before);
    size_t id = (size_t)(tu_rand() % r->K);
    if (r->cluster >= 0) {
        /* ids of one residue class mod 3 (one chain of the weak hash) */
        size_t n3 = r->K / 3 ? r->K / 3 : 1;
        id = 3 * (size_t)(tu_rand() % n3) + (size_t)r->cluster;
        if (id >= r->ref.cap) id = (size_t)r->cluster;
    }
    unsigned x = (unsigned)(tu_rand() % 1000);
    size_t write = 1;
    if (before.growing && tu_rand() % 128 == 0) {
        op_clear(r); /* clears are rare, but more likely in the middle of a grow */
    } else if (x < p_ins) {
        unsigned y = (unsigned)(tu_rand() % 48);
        if (y == 0) write = op_put_many(r);
        else if (y % 3) op_put(r, id);
        else op_assign(r, id);
    } else if (x < p_ins + p_del) {
        if (tu_rand() % 48) op_delete(r, id);
        else write = op_delete_many(r);
    } else if (x < 960) {
        if (tu_rand() % 8) op_get(r, id);
        else op_get_many(r);
        write = 0;
    } else if (x < 990) {
        /* iterators: start one, or step them */
        int i = (int)(tu_rand() % NITER);
        if (!r->its[i].live) {
            if (tu_rand() % 4 == 0) iter_start(r, i);
        } else {
            unsigned steps = (unsigned)(1 + tu_rand() % 8);
            for (unsigned j = 0; j < steps && r->its[i].live; j++) iter_step(r, i);
        }
        write = 0;
    } else if (x < 992) {
        int i = (int)(tu_rand() % NITER);
        if (r->its[i].live && tu_rand() % 4 == 0) {
            gomap_iter_done(&r->its[i].it);
            r->its[i].live = false;
        }
        write = 0;
    } else if (x < 993) {
        if (tu_rand() % 8 == 0) op_clear(r);
    } else if (x < 994) {
        if (tu_rand() % 16 == 0) {
            op_clone(r);
        }
        write = 0;
    } else {
        op_get(r, (size_t)(tu_rand() % r->ref.cap)); /* outside the epoch's ids too */
        write = 0;
    }
    check_after(r, &before, write);
    r->n_ops++;
}

/* Key-space sizes at and just past growth points.  The cost of checking
   after every operation grows with the map, so sizes are drawn with weight
   1/K: every size gets about the same share of the operations (an epoch
   lasts about 4K operations), and a few epochs reach the largest size. */
static size_t pick_K(const kind *k) {
    static const size_t sizes[] = {1,   8,   9,   13,  14,  26,  27,  52,   53,
                                   104, 105, 208, 209, 416, 417, 833, 1700, 3400};
    size_t n = sizeof sizes / sizeof sizes[0];
    double w[sizeof sizes / sizeof sizes[0]], total = 0;
    for (size_t i = 0; i < n; i++) {
        double K = (double)sizes[i];
        w[i] = sizes[i] <= k->max_ids ? 1.0 / K : 0.0;
        total += w[i];
    }
    double x = (double)(tu_rand() >> 11) / 9007199254740992.0 * total;
    for (size_t i = 0; i < n; i++) {
        if (x < w[i]) return sizes[i];
        x -= w[i];
    }
    return sizes[0];
}

static void run_kind(const kind *k, uint64_t seed) {
    run *r = (run *)calloc(1, sizeof *r);
    CHECK(r != NULL);
    r->k = k;
    r->vsize = k->type.val_size;
    CHECK(r->vsize == 0 || r->vsize == 8 || r->vsize == BLOB_VAL);
    CHECK(k->max_ids <= MAX_IDS);
    memset(&r->alloc, 0, sizeof r->alloc);
    r->al = tu_allocator(&r->alloc);
    r->al.alloc = dirty_alloc;
    r->al.free = dirty_free;
    rm_init(&r->ref, k->max_ids);
    for (int i = 0; i < NITER; i++) {
        r->its[i].st = (unsigned char *)calloc(k->max_ids, 1);
        CHECK(r->its[i].st != NULL);
    }
    CHECK_EQ(gomap_type_check(&k->type), GOMAP_OK);
    tu_seed(seed);
    r->K = 8;
    r->cluster = -1;
    new_map(r);
    /* the weak hash runs in full even when small: it needs many epochs to
       see same-size grows, and its maps are small */
    long total = tu_scaled(k->ops, k->same_size ? k->ops : 2000);
    long next_full = 0;
    while ((long)r->n_ops < total) {
        /* An epoch: fill, churn, drain, churn.  A clustered epoch instead
           fills and drains the ids of one residue mod 3 per quarter, in
           turn (for the weak hash: one chain after the other, which leaves
           overflow buckets behind and forces same-size grows). */
        if (tu_rand() % 4 == 0) new_map(r);
        r->K = pick_K(k);
        bool clustered = tu_rand() % 3 == 0 || (k->same_size && tu_rand() % 2);
        long len = 4 * (long)r->K + 64;
        for (long q = 0; q < 4; q++) {
            static const unsigned ins[4] = {600, 350, 100, 350}, dels[4] = {100, 350, 600, 350};
            r->cluster = clustered ? (int)(q % 3) : -1;
            for (long j = 0; j < len / 4; j++) {
                if (clustered) one_op(r, j < len / 8 ? 700 : 100, j < len / 8 ? 100 : 700);
                else one_op(r, ins[q], dels[q]);
            }
            /* let live iterators run to their end now and then */
            if (tu_rand() % 4 == 0)
                for (int i = 0; i < NITER; i++)
                    while (r->its[i].live) iter_step(r, i);
        }
        if ((long)r->n_ops >= next_full) {
            full_compare(r, r->m);
            next_full = (long)r->n_ops + 20000;
        }
    }
    full_compare(r, r->m);
    account(r);
    fprintf(stderr,
            "\n    %-9s %7" PRIu64 " ops, %4" PRIu64 " maps, max B %2u, %5" PRIu64 " iterations (%6" PRIu64
            " entries), %3" PRIu64 " clears, %3" PRIu64 " clones, %5" PRIu64 " grows (%4" PRIu64
            " same-size), max evacuated/op %u, max scan %u",
            k->name, r->n_ops, r->n_recreates, r->max_B, r->n_iters_done, r->n_produced, r->n_clears,
            r->n_clones, r->grows, r->same_size_grows, r->max_evac, r->max_scan);
    CHECK(r->n_iters_done > 0);
    CHECK(r->max_B >= 3);
    CHECK(r->grows > 0);
    CHECK(r->max_evac <= GOMAP_EVACUATE_PER_WRITE);
    CHECK(r->max_scan <= GOMAP_EVACUATE_SCAN_CAP);
    if (k->same_size) CHECK(r->same_size_grows > 0);
    end_iterators(r);
    gomap_free(r->m);
    CHECK_EQ(r->alloc.live, 0);
    CHECK_EQ(r->alloc.live_bytes, 0);
    for (int i = 0; i < NITER; i++) free(r->its[i].st);
    rm_destroy(&r->ref);
    free(r);
}

/* With three hash values, same-size grows come from chains that fill and
   empty one after another: overflow buckets stay behind in each chain while
   the count (and so B) stays put.  The hash ignores the seed, so this is
   deterministic. */
static void weak_same_size(const gomap_type *t) {
    gomap *m = gomap_new(t, 0);
    CHECK(m != NULL);
    gomap_stats s;
    for (uint64_t round = 0; round < 6; round++) {
        uint64_t c = round % 3;
        for (uint64_t j = 0; j < 300; j++) {
            uint64_t k = (3 * (round * 300 + j) + c) * ODD, v = j;
            CHECK_EQ(gomap_put(m, &k, &v), 1);
        }
        CHECK_MAP(m);
        for (uint64_t j = 0; j < 300; j++) {
            uint64_t k = (3 * (round * 300 + j) + c) * ODD;
            CHECK_EQ(gomap_delete(m, &k), 1);
        }
        CHECK_MAP(m);
    }
    gomap_stats_get(m, &s);
    fprintf(stderr, "\n    weak-hash churn: B %u, %" PRIu64 " grows, %" PRIu64 " same-size", s.B, s.grows,
            s.same_size_grows);
    CHECK(s.same_size_grows > 0);
    gomap_free(m);
}

/* Whether the command line asks for the kind name (none named: all). */
static bool selected(int argc, char **argv, const char *name) {
    if (argc < 2) return true;
    for (int a = 1; a < argc; a++)
        if (strcmp(argv[a], name) == 0) return true;
    return false;
}

int main(int argc, char **argv) {
    odd_inv = ODD;
    for (int i = 0; i < 6; i++) odd_inv *= 2 - ODD * odd_inv;
    CHECK(ODD * odd_inv == 1);
    str_init();
    uint64_t seed = 0x5EED5EED1234ull;
    const char *env = getenv("GOMAP_TEST_SEED");
    if (env) seed = strtoull(env, NULL, 0);
    fprintf(stderr, "  seed %" PRIu64 " (GOMAP_TEST_SEED)\n", seed);

    gomap_type weak;
    memset(&weak, 0, sizeof weak);
    weak.kind = GOMAP_KEY_CUSTOM;
    weak.key_size = 8;
    weak.key_align = 8;
    weak.val_size = 8;
    weak.val_align = 8;
    weak.hash = weak_hash;
    weak.equal = rm_u64_equal;

    /* Operations per kind in the default run: the cost of an operation
       grows with the kind's largest key space (the checks walk the map). */
    const kind kinds[] = {
        {"u64", gomap_type_builtin(GOMAP_KEY_U64, 0, 8, 8), 3400, 200000, false, u64_make, u64_decode,
         one_variant},
        {"str", gomap_type_builtin(GOMAP_KEY_STR, 0, 8, 8), 1700, 100000, false, strb_make, strb_decode,
         two_variants},
        {"str_copy", gomap_type_builtin(GOMAP_KEY_STR_COPY, 0, 8, 8), 1700, 80000, false, strc_make,
         strc_decode, one_variant},
        {"blob200", gomap_type_builtin(GOMAP_KEY_BYTES, BLOB_KEY, BLOB_VAL, 2), 833, 60000,
         false, blob_make, blob_decode, one_variant},
        {"f64", gomap_type_builtin(GOMAP_KEY_F64, 0, 8, 8), 1700, 100000, false, f64_make, f64_decode,
         f64_nvariants},
        {"weak3", weak, 209, 150000, true, u64_make, u64_decode, one_variant},
        {"u32set", gomap_type_builtin(GOMAP_KEY_U32, 0, 0, 0), 3400, 80000, false, u32_make, u32_decode,
         one_variant},
    };
    size_t nkinds = sizeof kinds / sizeof kinds[0];
    for (int a = 1; a < argc; a++) {
        bool known = strcmp(argv[a], "weak_same_size") == 0;
        for (size_t i = 0; i < nkinds; i++) known |= strcmp(argv[a], kinds[i].name) == 0;
        if (!known) {
            fprintf(stderr, "test_map_diff: unknown kind %s\n", argv[a]);
            return 2;
        }
    }
    for (size_t i = 0; i < nkinds; i++) {
        if (!selected(argc, argv, kinds[i].name)) continue;
        fprintf(stderr, "  %-40s", kinds[i].name);
        run_kind(&kinds[i], seed + i);
        fprintf(stderr, " ok\n");
        tu_passed++;
    }
    if (selected(argc, argv, "weak_same_size")) {
        fprintf(stderr, "  %-40s", "weak_same_size");
        weak_same_size(&weak);
        fprintf(stderr, " ok\n");
        tu_passed++;
    }
    return tu_finish();
}

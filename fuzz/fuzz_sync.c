/*
 * fuzz_sync.c -- libFuzzer target for the concurrent map (gomap_sync.h).
 *
 * The first four bytes choose the key kind (u64, u32, u16, f64 with NaN
 * keys, borrowed and copied strings, fixed blobs, CUSTOM with colliding
 * hashes), the pool, the allocator, the value equality and the mode:
 *
 *   single-threaded: every call of gomap_sync.h against a model, with
 *     gomap_sync_check after every step and a failing allocator told by the
 *     input when to fail (a failed call leaves the map as it was);
 *   multi-threaded: two to four threads each run the ops the input gives
 *     them on keys of their own range (so each thread's model is exact),
 *     read the other threads' keys (any value found must be one that thread
 *     stored) and range over the map (their own keys exactly as their model
 *     says, no key twice); after every join the map equals the union of the
 *     models, len and stats agree, and gomap_sync_check passes.
 *
 * At the end the map is freed and gomap_sync_barrier() must give every byte
 * back to the allocator.  Build and run: fuzz/run.sh (see fuzz/README).
 */
#include "gomap_sync.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fs_fail(int line, const char *what) {
    fprintf(stderr, "fuzz_sync.c:%d: check failed: %s\n", line, what);
    abort();
}
#define FS_REQ(cond)                            \
    do {                                        \
        if (!(cond)) fs_fail(__LINE__, #cond);  \
    } while (0)

/* ---- a thread-safe allocator that counts bytes and fails on demand --------------- */

static atomic_size_t fs_live_bytes;
static atomic_int fs_skip, fs_fail_n; /* fail fs_fail_n allocations after fs_skip */

/* Memory aligned to exactly 16 bytes (and not 32 or 64): all that
   gomap_sync.h asks of an allocator. */
#define FS_HDR 16
static void *fs_alloc(void *ctx, size_t size) {
    (void)ctx;
    if (atomic_load_explicit(&fs_fail_n, memory_order_relaxed) > 0) { /* one thread arms it */
        if (atomic_load(&fs_skip) > 0) {
            atomic_fetch_sub(&fs_skip, 1);
        } else {
            atomic_fetch_sub(&fs_fail_n, 1);
            return NULL;
        }
    }
    char *p = (char *)aligned_alloc(64, (size + FS_HDR + 63) & ~(size_t)63);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    atomic_fetch_add(&fs_live_bytes, size);
    return p + FS_HDR;
}
static void fs_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    if (!ptr) return;
    char *p = (char *)ptr - FS_HDR;
    size_t asked;
    memcpy(&asked, p, sizeof asked);
    FS_REQ(asked == size);
    atomic_fetch_sub(&fs_live_bytes, size);
    free(p);
}
static void fs_arm(int skip, int n) {
    atomic_store(&fs_fail_n, 0);
    atomic_store(&fs_skip, skip);
    atomic_store(&fs_fail_n, n);
}

/* ---- keys and values ---------------------------------------------------------------- */

enum { K_U64, K_U32, K_U16, K_F64, K_STR, K_STR_COPY, K_BYTES, K_CUSTOM, K_NKINDS };
#define NKEYS 256
#define NAN_IDX 1
#define STRMAX 40

typedef union fs_key {
    uint64_t u64;
    double f64;
    gomap_str s;
    unsigned char bytes[16];
} fs_key;

typedef struct fs_val {
    uint64_t payload; /* (key number << 32) | sequence: any value names its key */
    uint64_t tag;     /* ignored by the custom value equality */
} fs_val;

static int fs_kind;
static unsigned fs_hash_mode;
static int fs_custom_eq; /* created with a value equality (payload only) */
static gomap_type fs_t;
static char fs_strs[NKEYS][STRMAX];
static size_t fs_strlen[NKEYS];
static _Thread_local char fs_scratch[64][STRMAX];
static _Thread_local unsigned fs_scratch_next;
static _Thread_local int fs_in_probe; /* CUSTOM equal: try barrier/detach */

static uint64_t fs_hash(const void *key, uint64_t seed) {
    uint32_t id;
    memcpy(&id, key, 4);
    switch (fs_hash_mode) {
    case 0: return gomap_hash_u32(id, seed);
    case 1: return gomap_hash_u64(id & 3u, seed); /* full 64-bit collisions */
    case 2: return gomap_hash_bytes(&id, 4, seed) & 0xffff; /* deep trie paths */
    default: return gomap_hash_u64(id, seed) | 0xffffffffull << 16;
    }
}
static bool fs_equal(const void *a, const void *b) {
    if (fs_in_probe) {
        fs_in_probe = 0;
        /* from inside a map call, these would wait for themselves */
        FS_REQ(gomap_sync_barrier() == GOMAP_EINVAL);
        FS_REQ(gomap_sync_thread_detach() == GOMAP_EINVAL);
    }
    return memcmp(a, b, 4) == 0;
}
static bool fs_val_eq(const void *stored, const void *given) {
    return ((const fs_val *)stored)->payload == ((const fs_val *)given)->payload;
}

static void fs_make_key(fs_key *k, size_t idx, unsigned var, uint32_t nan_serial) {
    memset(k, 0, sizeof *k);
    uint32_t i = (uint32_t)idx;
    switch (fs_kind) {
    case K_U64: k->u64 = (uint64_t)i * 0x9e3779b97f4a7c15ull; break;
    case K_U32: {
        uint32_t x = i * 0x9e3779b9u;
        memcpy(k->bytes, &x, 4);
        break;
    }
    case K_U16: {
        uint16_t x = (uint16_t)(i * 0x9e37u);
        memcpy(k->bytes, &x, 2);
        break;
    }
    case K_F64:
        if (i == 0) k->f64 = (var & 1) ? -0.0 : 0.0;
        else if (i == NAN_IDX) {
            uint64_t bits = 0x7ff8000000000000ull | nan_serial;
            memcpy(&k->f64, &bits, 8);
        } else k->f64 = (double)i * ((i & 1) ? -0.5 : 0.5);
        break;
    case K_STR:
        k->s.ptr = fs_strs[i];
        k->s.len = fs_strlen[i];
        break;
    case K_STR_COPY: {
        char *s = fs_scratch[fs_scratch_next++ % 64];
        memcpy(s, fs_strs[i], STRMAX);
        k->s.ptr = s;
        k->s.len = fs_strlen[i];
        break;
    }
    case K_BYTES:
        memcpy(k->bytes, &i, 4);
        for (unsigned j = 4; j < 12; j++) k->bytes[j] = (unsigned char)(i ^ j);
        break;
    default: memcpy(k->bytes, &i, 4); break;
    }
}

/* The key number of a key the map handed out; -1 for a NaN. */
static long fs_key_index(const void *key) {
    const unsigned char *b = (const unsigned char *)key;
    switch (fs_kind) {
    case K_U64: {
        uint64_t x;
        memcpy(&x, b, 8);
        uint64_t i = x * 0xf1de83e19937733dull; /* the inverse multiplier */
        return i < NKEYS ? (long)i : -2;
    }
    case K_U32: {
        uint32_t x;
        memcpy(&x, b, 4);
        uint32_t i = x * 0x144cbc89u;
        return i < NKEYS ? (long)i : -2;
    }
    case K_U16: {
        uint16_t x;
        memcpy(&x, b, 2);
        for (uint32_t i = 0; i < NKEYS; i++)
            if ((uint16_t)(i * 0x9e37u) == x) return (long)i;
        return -2;
    }
    case K_F64: {
        double d;
        memcpy(&d, b, 8);
        if (d != d) return -1;
        if (d == 0) return 0;
        long i = (long)(d < 0 ? -d * 2 : d * 2);
        return i > 1 && i < NKEYS && ((i & 1) != 0) == (d < 0) ? i : -2;
    }
    case K_STR:
    case K_STR_COPY: {
        const gomap_str *s = (const gomap_str *)key;
        if (s->len == 0) return 0;
        long i = 0;
        for (size_t j = 1; j < s->len && s->ptr[j] >= '0' && s->ptr[j] <= '9'; j++) i = i * 10 + (s->ptr[j] - '0');
        return i > 0 && i < NKEYS && s->len == fs_strlen[i] && memcmp(s->ptr, fs_strs[i], s->len) == 0 ? i : -2;
    }
    default: {
        uint32_t i;
        memcpy(&i, b, 4);
        return i < NKEYS ? (long)i : -2;
    }
    }
}

/* ---- the model (one per thread in the threaded mode) ----------------------------------- */

typedef struct fs_model {
    unsigned char present[NKEYS];
    fs_val val[NKEYS];
    size_t count, nnan;
} fs_model;

static int fs_val_same(const fs_val *a, const fs_val *b) {
    return fs_custom_eq ? a->payload == b->payload : memcmp(a, b, sizeof *a) == 0;
}

/* ---- range ------------------------------------------------------------------------------ */

typedef struct fs_range {
    unsigned char seen[NKEYS];
    size_t nans, calls, stop_after;
    size_t lo, hi;       /* key numbers whose model is exact during the range */
    const fs_model *md;  /* NULL: any value naming its key is fine */
    gomap_sync *m;       /* mutate: store into this map from the callback */
    fs_model *mut;
    unsigned char touched[NKEYS];
    uint64_t seq;
} fs_range;

static bool fs_range_fn(const void *key, const void *val, void *ctx) {
    fs_range *r = (fs_range *)ctx;
    r->calls++;
    long i = fs_key_index(key);
    FS_REQ(i >= -1);
    fs_val v;
    memcpy(&v, val, sizeof v);
    if (i == -1) {
        r->nans++;
    } else {
        FS_REQ(!r->seen[i]); /* no key twice */
        r->seen[i] = 1;
        FS_REQ((v.payload >> 32) == (uint64_t)i);
        if (r->md && (size_t)i >= r->lo && (size_t)i < r->hi && !r->touched[i]) {
            FS_REQ(r->md->present[i]);
            FS_REQ(fs_val_same(&v, &r->md->val[i]));
        }
    }
    if (r->m) { /* a write from inside the callback */
        size_t j = (r->calls * 37 + r->seq) % NKEYS;
        if (fs_kind == K_F64 && j == NAN_IDX) j = 0;
        fs_key k;
        fs_make_key(&k, j, 0, 0);
        fs_val nv = {((uint64_t)j << 32) | (r->seq + r->calls), r->calls};
        int rc = (r->calls & 1) ? gomap_sync_store(r->m, &k, &nv) : gomap_sync_delete(r->m, &k);
        FS_REQ(rc >= 0);
        r->touched[j] = 1;
        if (r->calls & 1) {
            FS_REQ(rc == !r->mut->present[j]);
            if (rc) r->mut->count++;
            r->mut->present[j] = 1;
            r->mut->val[j] = nv;
        } else {
            FS_REQ(rc == r->mut->present[j]);
            if (rc) r->mut->count--;
            r->mut->present[j] = 0;
        }
    }
    return r->calls != r->stop_after;
}

static void fs_check(const gomap_sync *m) {
    char msg[200];
    int inv = gomap_sync_check(m, msg, sizeof msg);
    if (inv) {
        fprintf(stderr, "invariant S%d broken: %s\n", inv, msg);
        abort();
    }
}

/* The map holds exactly what md says (at a quiescent point). */
static void fs_compare(gomap_sync *m, const fs_model *md) {
    fs_check(m);
    FS_REQ(gomap_sync_len(m) == md->count + md->nnan);
    static fs_range r;
    memset(&r, 0, sizeof r);
    r.md = md;
    r.lo = 0;
    r.hi = NKEYS;
    FS_REQ(gomap_sync_range(m, fs_range_fn, &r) == GOMAP_OK);
    FS_REQ(r.nans == md->nnan);
    for (size_t i = 0; i < NKEYS; i++) FS_REQ(r.seen[i] == md->present[i]);
    for (size_t i = 0; i < NKEYS; i++) {
        if (fs_kind == K_F64 && i == NAN_IDX) continue;
        fs_key k;
        fs_make_key(&k, i, 1, 0);
        fs_val v;
        int rc = gomap_sync_load(m, &k, &v);
        FS_REQ(rc == md->present[i]);
        if (rc) FS_REQ(memcmp(&v, &md->val[i], sizeof v) == 0);
    }
    gomap_sync_stats st;
    gomap_sync_stats_get(m, &st);
    FS_REQ(st.len == md->count + md->nnan && st.entries == st.len);
}

/* ---- one operation on key idx of model md ---------------------------------------------- */

enum { OP_LOAD, OP_STORE, OP_LOAD_OR_STORE, OP_LOAD_AND_DELETE, OP_DELETE, OP_SWAP, OP_CAS,
       OP_CAD, OP_RANGE, OP_FOREIGN, OP_NTHREAD, /* the ops a thread runs end here */
       OP_CLEAR = OP_NTHREAD, OP_LEN, OP_STATS, OP_FAIL, OP_BARRIER, OP_DETACH, OP_COMPARE,
       OP_BAD, OP_NAN, OP_PROBE, OP_COUNT };

/* Run op on key idx; md is exact for keys [lo, hi).  Returns the status. */
static int fs_op(gomap_sync *m, fs_model *md, unsigned op, size_t idx, const uint8_t *d, uint64_t seq,
                 size_t lo, size_t hi) {
    fs_key k;
    unsigned var = d[3] & 1;
    fs_make_key(&k, idx, var, 0);
    fs_val v = {((uint64_t)idx << 32) | (seq & 0xffffffffu), d[3] & 6u}, out, want;
    memset(&out, 0xaa, sizeof out);
    int p = md->present[idx];
    int rc = 0;
    switch (op) {
    case OP_LOAD:
        rc = gomap_sync_load(m, &k, (d[3] & 2) ? NULL : &out);
        if (rc < 0) break;
        FS_REQ(rc == p);
        if (rc && !(d[3] & 2)) FS_REQ(memcmp(&out, &md->val[idx], sizeof out) == 0);
        break;
    case OP_STORE:
        rc = gomap_sync_store(m, &k, &v);
        if (rc < 0) break;
        FS_REQ(rc == !p);
        md->count += (size_t)rc;
        md->present[idx] = 1;
        md->val[idx] = v;
        break;
    case OP_LOAD_OR_STORE:
        rc = gomap_sync_load_or_store(m, &k, &v, (d[3] & 2) ? NULL : &out);
        if (rc < 0) break;
        FS_REQ(rc == p);
        want = p ? md->val[idx] : v;
        if (!(d[3] & 2)) FS_REQ(memcmp(&out, &want, sizeof out) == 0);
        if (!p) {
            md->count++;
            md->present[idx] = 1;
            md->val[idx] = v;
        }
        break;
    case OP_LOAD_AND_DELETE:
    case OP_DELETE:
        rc = op == OP_DELETE ? gomap_sync_delete(m, &k)
                             : gomap_sync_load_and_delete(m, &k, (d[3] & 2) ? NULL : &out);
        if (rc < 0) break;
        FS_REQ(rc == p);
        if (rc && op == OP_LOAD_AND_DELETE && !(d[3] & 2))
            FS_REQ(memcmp(&out, &md->val[idx], sizeof out) == 0);
        md->count -= (size_t)rc;
        md->present[idx] = 0;
        break;
    case OP_SWAP:
        rc = gomap_sync_swap(m, &k, &v, (d[3] & 2) ? NULL : &out);
        if (rc < 0) break;
        FS_REQ(rc == p);
        if (rc && !(d[3] & 2)) FS_REQ(memcmp(&out, &md->val[idx], sizeof out) == 0);
        md->count += (size_t)!p;
        md->present[idx] = 1;
        md->val[idx] = v;
        break;
    case OP_CAS:
    case OP_CAD: {
        /* old: the current value, or one that differs in tag only, or not */
        fs_val old = p ? md->val[idx] : v;
        if (d[2] & 1) old.tag ^= 1;
        if (d[2] & 2) old.payload ^= 1;
        int match = p && fs_val_same(&md->val[idx], &old);
        rc = op == OP_CAS ? gomap_sync_compare_and_swap(m, &k, &old, &v)
                          : gomap_sync_compare_and_delete(m, &k, &old);
        if (rc < 0) break;
        FS_REQ(rc == match);
        if (rc && op == OP_CAS) md->val[idx] = v;
        if (rc && op == OP_CAD) {
            md->present[idx] = 0;
            md->count--;
        }
        break;
    }
    case OP_RANGE: {
        fs_range *r = (fs_range *)calloc(1, sizeof *r);
        FS_REQ(r != NULL);
        r->md = md;
        r->lo = lo;
        r->hi = hi;
        r->stop_after = (d[2] & 3) == 0 ? 1 + d[1] % 16 : 0;
        rc = gomap_sync_range(m, fs_range_fn, r);
        if (rc == GOMAP_OK && !r->stop_after)
            for (size_t i = lo; i < hi; i++) FS_REQ(r->seen[i] == md->present[i]);
        if (r->stop_after) FS_REQ(r->calls <= r->stop_after);
        free(r);
        break;
    }
    case OP_FOREIGN: { /* another thread's key: any value it holds names it */
        size_t j = (idx * 7 + 3) % NKEYS;
        if (fs_kind == K_F64 && j == NAN_IDX) j = 0;
        fs_make_key(&k, j, 0, 0);
        rc = gomap_sync_load(m, &k, &out);
        if (rc == 1) FS_REQ((out.payload >> 32) == (uint64_t)j);
        if (rc == 1 && j >= lo && j < hi) FS_REQ(md->present[j] && memcmp(&out, &md->val[j], sizeof out) == 0);
        if (rc == 0 && j >= lo && j < hi) FS_REQ(!md->present[j]);
        break;
    }
    default: break;
    }
    if (rc < 0) FS_REQ(rc == GOMAP_ENOMEM);
    return rc;
}

/* ---- the threaded mode ------------------------------------------------------------------- */

#define MAXT 4
typedef struct fs_thread {
    gomap_sync *m;
    fs_model md;
    const uint8_t *ops;
    size_t nops, stride, lo, hi;
    int detach;
    uint64_t seq;
} fs_thread;

static void *fs_thread_main(void *arg) {
    fs_thread *t = (fs_thread *)arg;
    for (size_t s = 0; s < t->nops; s++) {
        const uint8_t *d = t->ops + s * t->stride * 4;
        size_t idx = t->lo + ((size_t)d[1] | (size_t)d[2] << 8) % (t->hi - t->lo);
        if (fs_kind == K_F64 && idx == NAN_IDX) idx = 0;
        fs_op(t->m, &t->md, d[0] % OP_NTHREAD, idx, d, t->seq++, t->lo, t->hi);
    }
    if (t->detach) FS_REQ(gomap_sync_thread_detach() == GOMAP_OK);
    return NULL;
}

static void fs_threaded(gomap_sync *m, const uint8_t *data, size_t size, unsigned nt) {
    static fs_thread th[MAXT];
    memset(th, 0, sizeof th);
    size_t range = NKEYS / nt;
    for (unsigned j = 0; j < nt; j++) {
        th[j].m = m;
        th[j].lo = j * range;
        th[j].hi = (j + 1) * range;
        th[j].stride = nt;
        th[j].seq = (uint64_t)j << 24;
    }
    size_t nsteps = size / 4, phase_len = 48 * nt, pos = 0;
    fs_model all;
    while (pos < nsteps) {
        size_t n = nsteps - pos < phase_len ? nsteps - pos : phase_len;
        pthread_t tid[MAXT];
        int started[MAXT] = {0};
        for (unsigned j = 0; j < nt; j++) {
            th[j].ops = data + (pos + j) * 4;
            th[j].nops = n > j ? (n - j + nt - 1) / nt : 0;
            th[j].detach = data[pos * 4] >> 7 & (j == 0);
            started[j] = pthread_create(&tid[j], NULL, fs_thread_main, &th[j]) == 0;
            if (!started[j]) fs_thread_main(&th[j]);
        }
        for (unsigned j = 0; j < nt; j++)
            if (started[j]) pthread_join(tid[j], NULL);
        /* quiescent: the map is the union of the models */
        memset(&all, 0, sizeof all);
        for (unsigned j = 0; j < nt; j++) {
            for (size_t i = th[j].lo; i < th[j].hi; i++) {
                all.present[i] = th[j].md.present[i];
                all.val[i] = th[j].md.val[i];
            }
            all.count += th[j].md.count;
        }
        fs_compare(m, &all);
        pos += n;
        if ((data[(pos - 1) * 4] & 0x0f) == 0) { /* sometimes: clear between phases */
            if (gomap_sync_clear(m) == GOMAP_OK)
                for (unsigned j = 0; j < nt; j++) memset(&th[j].md, 0, sizeof th[j].md);
        }
    }
}

/* ---- the target --------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    static int ready;
    if (!ready) {
        for (size_t i = 1; i < NKEYS; i++) {
            size_t n = (size_t)snprintf(fs_strs[i], STRMAX, "k%zu", i);
            for (; n < (i * 5) % 37 && n < STRMAX - 1; n++) fs_strs[i][n] = (char)('a' + n % 26);
            fs_strlen[i] = n;
        }
        ready = 1;
    }
    fs_arm(0, 0);
    fs_kind = data[0] % K_NKINDS;
    fs_hash_mode = data[2] % 4u;
    static const enum gomap_key_kind kinds[K_NKINDS] = {GOMAP_KEY_U64, GOMAP_KEY_U32, GOMAP_KEY_U16,
        GOMAP_KEY_F64, GOMAP_KEY_STR, GOMAP_KEY_STR_COPY, GOMAP_KEY_BYTES, GOMAP_KEY_CUSTOM};
    fs_t = gomap_type_builtin(kinds[fs_kind], 12, sizeof(fs_val), 8);
    if (fs_kind == K_CUSTOM) {
        fs_t.key_size = 4;
        fs_t.key_align = 4;
        fs_t.hash = fs_hash;
        fs_t.equal = fs_equal;
    }
    FS_REQ(gomap_type_check(&fs_t) == GOMAP_OK);
    gomap_allocator a = {fs_alloc, fs_free, NULL};
    int own = !(data[1] & 8);
    fs_custom_eq = (data[1] & 4) != 0;

    /* descriptors with destructors and allocators without free are refused */
    gomap_sync *bad = (gomap_sync *)&a;
    gomap_type td = fs_t;
    td.val_destroy = free;
    FS_REQ(gomap_sync_create(&bad, &td, NULL) == GOMAP_EINVAL && bad == NULL);
    gomap_allocator half = {fs_alloc, NULL, NULL};
    FS_REQ(gomap_sync_create(&bad, &fs_t, &half) == GOMAP_EINVAL);
    FS_REQ(gomap_sync_create(NULL, &fs_t, NULL) == GOMAP_EINVAL);
    if (own && (data[3] & 0x80)) { /* making the map fails, leaving nothing */
        fs_arm(data[3] >> 6 & 1, 1);
        int rc = gomap_sync_create(&bad, &fs_t, &a);
        FS_REQ(rc == GOMAP_OK || (rc == GOMAP_ENOMEM && bad == NULL));
        gomap_sync_free(bad);
        fs_arm(0, 0);
        FS_REQ(gomap_sync_barrier() == GOMAP_OK);
        FS_REQ(atomic_load(&fs_live_bytes) == 0);
    }
    gomap_sync *m = NULL;
    int rc = fs_custom_eq ? gomap_sync_create_ex(&m, &fs_t, own ? &a : NULL, fs_val_eq)
                          : gomap_sync_create(&m, &fs_t, own ? &a : NULL);
    FS_REQ(rc == GOMAP_OK && m != NULL);
    if (data[1] & 2) FS_REQ(gomap_sync_set_pool(m, false) == GOMAP_OK);

    static fs_model md;
    memset(&md, 0, sizeof md);
    if (data[1] & 1) {
        fs_threaded(m, data + 4, size - 4, 2 + data[2] / 64u % 3u);
    } else {
        uint32_t nan_serial = 1;
        for (size_t p = 4; p + 4 <= size; p += 4) {
            const uint8_t *d = data + p;
            size_t idx = ((size_t)d[1] | (size_t)d[2] << 8) % NKEYS;
            if (fs_kind == K_F64 && idx == NAN_IDX) idx = 0;
            unsigned op = d[0] % OP_COUNT;
            fs_key k;
            fs_make_key(&k, idx, 0, 0);
            switch (op) {
            case OP_CLEAR:
                if (d[1] & 3) break;
                rc = gomap_sync_clear(m);
                if (rc == GOMAP_OK) memset(&md, 0, sizeof md);
                else FS_REQ(rc == GOMAP_ENOMEM);
                break;
            case OP_LEN: FS_REQ(gomap_sync_len(m) == md.count + md.nnan); break;
            case OP_STATS: {
                gomap_sync_stats st;
                gomap_sync_stats_get(m, &st);
                FS_REQ(st.len == md.count + md.nnan && st.entries == st.len);
                FS_REQ(st.inodes >= 1 && st.retired_limit >= 2048);
                FS_REQ(st.max_chain >= (st.entries > 0));
                break;
            }
            case OP_FAIL:
                if (own) fs_arm(d[1] % 6, 1 + d[2] % 3);
                continue; /* armed for the next step */
            case OP_BARRIER: FS_REQ(gomap_sync_barrier() == GOMAP_OK); break;
            case OP_DETACH: FS_REQ(gomap_sync_thread_detach() == GOMAP_OK); break;
            case OP_COMPARE: fs_compare(m, &md); break;
            case OP_BAD: {
                fs_val v = {0, 0};
                FS_REQ(gomap_sync_set_pool(NULL, true) == GOMAP_EINVAL);
                if (md.count || md.nnan) FS_REQ(gomap_sync_set_pool(m, true) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_load(NULL, &k, &v) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_load(m, NULL, &v) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_store(m, &k, NULL) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_store(NULL, &k, &v) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_swap(m, NULL, &v, NULL) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_load_or_store(m, &k, NULL, NULL) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_delete(m, NULL) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_load_and_delete(NULL, &k, NULL) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_compare_and_swap(m, &k, NULL, &v) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_compare_and_delete(m, &k, NULL) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_range(m, NULL, NULL) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_clear(NULL) == GOMAP_EINVAL);
                FS_REQ(gomap_sync_len(NULL) == 0);
                FS_REQ(gomap_sync_check(NULL, NULL, 0) == 0);
                gomap_sync_stats st;
                gomap_sync_stats_get(NULL, &st);
                FS_REQ(st.len == 0 && st.entries == 0);
                gomap_sync_free(NULL);
                break;
            }
            case OP_NAN: {
                if (fs_kind != K_F64) break;
                fs_make_key(&k, NAN_IDX, 0, nan_serial++);
                fs_val v = {0xffffffffull << 32, 0}, out;
                if (d[3] & 1) {
                    FS_REQ(gomap_sync_load(m, &k, &out) == 0);
                    FS_REQ(gomap_sync_delete(m, &k) == 0);
                    break;
                }
                rc = gomap_sync_store(m, &k, &v);
                if (rc < 0) break;
                FS_REQ(rc == 1); /* every NaN is a new key */
                md.nnan++;
                break;
            }
            case OP_PROBE: /* a CUSTOM equality callback calls barrier and detach */
                if (fs_kind == K_CUSTOM && md.present[idx]) {
                    fs_val out;
                    fs_in_probe = 1;
                    FS_REQ(gomap_sync_load(m, &k, &out) == 1);
                    fs_in_probe = 0;
                }
                break;
            case OP_RANGE:
                if (d[3] & 8) { /* writes from inside the callback */
                    fs_range *r = (fs_range *)calloc(1, sizeof *r);
                    FS_REQ(r != NULL);
                    fs_arm(0, 0);
                    fs_model start = md;
                    r->m = m;
                    r->mut = &md;
                    r->seq = (uint64_t)p << 8;
                    FS_REQ(gomap_sync_range(m, fs_range_fn, r) == GOMAP_OK);
                    /* untouched keys: visited exactly when present */
                    for (size_t i = 0; i < NKEYS; i++)
                        if (!r->touched[i]) FS_REQ(r->seen[i] == start.present[i]);
                    free(r);
                    break;
                }
                /* fall through */
            default:
                rc = fs_op(m, &md, op, idx, d, (uint64_t)p, 0, NKEYS);
                if (rc < 0) {
                    fs_arm(0, 0);
                    fs_compare(m, &md); /* the failed call changed nothing */
                }
                break;
            }
            fs_arm(0, 0);
            if (fs_kind == K_STR_COPY) memset(fs_scratch, '#', sizeof fs_scratch);
            fs_check(m);
            FS_REQ(gomap_sync_len(m) == md.count + md.nnan);
        }
        fs_arm(0, 0);
        fs_compare(m, &md);
    }
    fs_arm(0, 0);
    gomap_sync_free(m);
    FS_REQ(gomap_sync_barrier() == GOMAP_OK);
    if (own) FS_REQ(atomic_load(&fs_live_bytes) == 0); /* every byte is back */
    return 0;
}

/*
 * fuzz_map.c -- libFuzzer target for the plain map (gomap.h).
 *
 * The input is a configuration followed by a program of map operations.
 * The first four bytes choose the key kind (every built-in kind, and a
 * CUSTOM kind whose key and value destructors count their calls), the value
 * size (8 bytes, none, out of line), the flags, the hint and the way the map
 * is made (gomap_new, gomap_new_with, gomap_create).  Then every four bytes
 * are one step: every public call of gomap.h, run against a model (an array
 * indexed by a small key number), with gomap_check after every step.
 *
 * What is checked, beyond "the map answers as the model does":
 *   - a failing allocator, told by the input when to fail: a call that
 *     fails leaves the map exactly as it was (compared with the model in
 *     full), and nothing leaks (every byte is back after gomap_free);
 *   - up to two iterators live at once, stepped by gomap_iter_next or
 *     gomap_iter_next_n between writes of any kind: each entry is produced
 *     at most once, with its current value, never after it was deleted or
 *     cleared, and every entry present for the whole iteration is produced;
 *   - destructors: every key and value the map took is destroyed exactly
 *     once, never one the map did not take, and, once no iterator holds
 *     anything back, exactly the ones no longer in the map;
 *   - key update (floats' -0/+0, string views, custom keys): gomap_get_key
 *     returns the key the last write stored, per the type's flags;
 *   - NaN keys: always inserted, never found, produced by iteration, removed
 *     by clear only;
 *   - bad arguments, type descriptors, hints, stats, work counting, clone,
 *     and Go's misuse detection (a read from inside a write's callback).
 *
 * Build and run: fuzz/run.sh (see fuzz/README).  By hand:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *         -D_GNU_SOURCE fuzz/fuzz_map.c src/[!s]*.c -o fuzz_map && ./fuzz_map
 *
 * (src/[!s]*.c: the map's sources, without the concurrent map.)
 * tests/test_map_fuzz.c includes this file and runs it on random inputs,
 * so it must compile cleanly under the test build's warnings too.
 */
#include "gomap.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- failures ------------------------------------------------------------- */

static void fz_fail(int line, const char *what) {
    fprintf(stderr, "fuzz_map.c:%d: check failed: %s\n", line, what);
    abort();
}
#define FZ_REQ(cond)                                    \
    do {                                                \
        if (!(cond)) fz_fail(__LINE__, #cond);          \
    } while (0)

/* ---- the allocator: counts bytes, fails when the input says ------------------ */

typedef struct fz_alloc {
    unsigned skip;     /* allocations still to succeed before failing */
    unsigned fail;     /* then this many fail */
    size_t live_bytes; /* bytes handed out and not freed */
    size_t live_blocks;
    size_t failed;     /* allocations refused */
} fz_alloc;

#define FZ_HDR 16 /* a header keeps the size, so that free's size is checked */

static void *fz_alloc_fn(void *ctx, size_t size) {
    fz_alloc *a = (fz_alloc *)ctx;
    if (a->fail) {
        if (a->skip) {
            a->skip--;
        } else {
            a->fail--;
            a->failed++;
            return NULL;
        }
    }
    char *p = (char *)malloc(size + FZ_HDR);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    a->live_bytes += size;
    a->live_blocks++;
    return p + FZ_HDR;
}

static void fz_free_fn(void *ctx, void *ptr, size_t size) {
    fz_alloc *a = (fz_alloc *)ctx;
    if (!ptr) return;
    char *p = (char *)ptr - FZ_HDR;
    size_t asked;
    memcpy(&asked, p, sizeof asked);
    FZ_REQ(asked == size); /* free gets the size that was asked for */
    FZ_REQ(a->live_bytes >= size && a->live_blocks > 0);
    a->live_bytes -= size;
    a->live_blocks--;
    free(p);
}

/* ---- key kinds ---------------------------------------------------------------- */

enum {
    FZ_U32, FZ_U64, FZ_U8, FZ_U16, FZ_F32, FZ_F64, FZ_STR, FZ_STR_COPY,
    FZ_BYTES, FZ_BYTES_BIG, FZ_BYTES_ZERO, FZ_CUSTOM, FZ_NKINDS
};

#define FZ_MAXK 512        /* key numbers 0 .. FZ_MAXK - 1 */
#define FZ_NAN_IDX 1       /* float kinds: key number 1 is "a new NaN" */
#define FZ_MAXNAN 1024     /* NaN keys per program (their payload is a serial) */
#define FZ_MAXSER 65536    /* custom keys and values given out per program */
#define FZ_BIG_KEY 136     /* out of line (> GOMAP_MAX_INLINE) */
#define FZ_BIG_VAL 144
#define FZ_STRMAX 48

typedef struct fz_ckey { /* CUSTOM key: equal by id; serial names the resource */
    uint32_t id, serial;
} fz_ckey;
typedef struct fz_cval { /* CUSTOM value */
    uint64_t payload, serial;
} fz_cval;

/* A key as the caller builds it: big enough and aligned for every kind. */
typedef union fz_key {
    uint64_t u64;
    double f64;
    gomap_str s;
    fz_ckey c;
    unsigned char bytes[FZ_BIG_KEY];
} fz_key;

typedef union fz_val {
    uint64_t u64;
    fz_cval c;
    unsigned char bytes[FZ_BIG_VAL];
} fz_val;

/* The state of one program; static: the target is not re-entered. */
static struct fz {
    int kind;
    gomap_type t;
    size_t nkeys;
    int vmode; /* 0: 8-byte values, 1: none, 2: out of line; CUSTOM: fz_cval */
    gomap *m;
    fz_alloc fa;
    int own_alloc; /* made with our allocator: failures can be injected */

    /* the model */
    unsigned char present[FZ_MAXK];
    unsigned char kvar[FZ_MAXK]; /* which variant of the key is stored */
    uint64_t val[FZ_MAXK];
    uint32_t kser[FZ_MAXK], vser[FZ_MAXK];
    size_t count;                /* entries other than NaN keys */
    unsigned char nan_live[FZ_MAXNAN];
    uint64_t nan_val[FZ_MAXNAN];
    size_t nnan, nan_next;

    /* CUSTOM resources: 0 the caller's, 1 the map's, 2 destroyed */
    unsigned char ser_state[FZ_MAXSER];
    uint32_t ser_next;
    size_t owned;
    unsigned hash_mode;

    int counting;
    uint64_t visited_buckets;
    size_t abandoned; /* iterators left without gomap_iter_done */
    const char *fatal_msg;
    gomap *probe;     /* CUSTOM equal: read this map from inside a write */
    int probe_fired;
    int tracing;      /* fz_tracer is installed */
    unsigned long events;
} F;

/* String keys: two views of the same bytes at different addresses, so that
   a test can tell which view the map stored; view 1 of the empty string is
   (NULL, 0). */
static char fz_strpool[2][FZ_MAXK][FZ_STRMAX];
static size_t fz_strlen[FZ_MAXK];
static int fz_strpool_ready;
#define FZ_NSCRATCH 64
static char fz_scratch[FZ_NSCRATCH][FZ_STRMAX];
static size_t fz_scratch_next;

static void fz_strpool_init(void) {
    if (fz_strpool_ready) return;
    for (size_t i = 0; i < FZ_MAXK; i++) {
        char *s = fz_strpool[0][i];
        size_t n = 0;
        if (i) {
            n = (size_t)snprintf(s, FZ_STRMAX, "k%zu", i);
            size_t pad = (i * 7) % 37; /* lengths spread from 2 to 40 */
            for (size_t j = 0; j < pad && n < FZ_STRMAX - 1; j++) s[n++] = (char)('a' + (j + i) % 26);
        }
        fz_strlen[i] = n;
        memcpy(fz_strpool[1][i], s, FZ_STRMAX);
    }
    fz_strpool_ready = 1;
}

static uint64_t fz_custom_hash(const void *key, uint64_t seed) {
    uint32_t id = ((const fz_ckey *)key)->id;
    switch (F.hash_mode) {
    case 0: return gomap_hash_u32(id, seed);
    case 1: return gomap_hash_u64(id, seed);
    case 2: return gomap_hash_bytes(&id, sizeof id, seed);
    case 3: return gomap_hash_u32(id & 7u, seed);   /* full-hash collisions */
    case 4: return gomap_hash_u64(id % 3u, seed);
    default: return seed;                           /* one hash for all */
    }
}

static void fz_fatal(const char *msg) { F.fatal_msg = msg; }

static bool fz_custom_equal(const void *a, const void *b) {
    if (F.probe) {
        /* Go's misuse check: a read from inside a write is "concurrent".  The
           handler returns, so the read fails and the write goes on. */
        gomap *pm = F.probe;
        F.probe = NULL;
        F.fatal_msg = NULL;
        gomap_fatal_fn prev = gomap_set_fatal_handler(fz_fatal);
        void *r = gomap_get(pm, a);
        gomap_set_fatal_handler(prev);
        FZ_REQ(r == NULL);
        FZ_REQ(F.fatal_msg && strcmp(F.fatal_msg, "concurrent map read and map write") == 0);
        F.probe_fired = 1;
    }
    return ((const fz_ckey *)a)->id == ((const fz_ckey *)b)->id;
}

static void fz_release(uint64_t serial) {
    if (serial == 0) return; /* a zeroed value (gomap_assign's insert) */
    FZ_REQ(serial < FZ_MAXSER && F.ser_state[serial] == 1);
    F.ser_state[serial] = 2;
    F.owned--;
}
static void fz_key_destroy(void *obj) { fz_release(((fz_ckey *)obj)->serial); }
static void fz_val_destroy(void *obj) { fz_release(((fz_cval *)obj)->serial); }

static void fz_take(uint32_t serial) {
    if (serial == 0 || !F.t.key_destroy) return;
    FZ_REQ(F.ser_state[serial] == 0);
    F.ser_state[serial] = 1;
    F.owned++;
}

static uint32_t fz_serial(void) {
    if (F.ser_next >= FZ_MAXSER) return 0;
    return F.ser_next++;
}

/* Build key number idx, variant var.  NaN keys (float kinds, idx 1) carry
   nan_serial in their payload. */
static void fz_make_key(fz_key *k, size_t idx, unsigned var, uint32_t serial) {
    memset(k, 0, sizeof *k);
    uint32_t i = (uint32_t)idx;
    switch (F.kind) {
    case FZ_U32: {
        uint32_t x = i ^ 0xa5a50000u;
        memcpy(k->bytes, &x, 4);
        break;
    }
    case FZ_U64: k->u64 = ((uint64_t)(i * 2654435761u) << 32) | i; break;
    case FZ_U8: k->bytes[0] = (unsigned char)i; break;
    case FZ_U16: {
        uint16_t x = (uint16_t)(i ^ 0x5a5au);
        memcpy(k->bytes, &x, 2);
        break;
    }
    case FZ_F32:
    case FZ_F64: {
        double d;
        if (i == 0) d = (var & 1) ? -0.0 : 0.0;
        else if (i == 2) d = INFINITY;
        else if (i == 3) d = -INFINITY;
        else d = (double)(i - 3) * ((i & 1) ? -0.25 : 0.25);
        if (F.kind == FZ_F64) {
            if (i == FZ_NAN_IDX) {
                uint64_t bits = 0x7ff8000000000000ull | serial;
                memcpy(&d, &bits, 8);
            }
            memcpy(k->bytes, &d, 8);
        } else {
            float f = (float)d;
            if (i == FZ_NAN_IDX) {
                uint32_t bits = 0x7fc00000u | serial;
                memcpy(&f, &bits, 4);
            }
            memcpy(k->bytes, &f, 4);
        }
        break;
    }
    case FZ_STR:
        k->s.len = fz_strlen[i];
        k->s.ptr = (i == 0 && (var & 1)) ? NULL : fz_strpool[var & 1][i];
        break;
    case FZ_STR_COPY: {
        /* bytes the caller owns only during the call: a scratch buffer,
           scribbled over after every step */
        char *s = fz_scratch[fz_scratch_next++ % FZ_NSCRATCH];
        memcpy(s, fz_strpool[0][i], FZ_STRMAX);
        k->s.len = fz_strlen[i];
        k->s.ptr = (i == 0 && (var & 1)) ? NULL : s;
        break;
    }
    case FZ_BYTES:
    case FZ_BYTES_BIG: {
        memcpy(k->bytes, &i, 4);
        for (size_t j = 4; j < F.t.key_size; j++) k->bytes[j] = (unsigned char)(i * 31u + j);
        break;
    }
    case FZ_BYTES_ZERO: break;
    default:
        k->c.id = i * 0x9e3779b9u;
        k->c.serial = serial;
        break;
    }
}

/* The key number of a stored key; -1 for a NaN key (serial in *nan). */
static long fz_key_index(const void *key, uint32_t *nan) {
    const unsigned char *b = (const unsigned char *)key;
    switch (F.kind) {
    case FZ_U32: {
        uint32_t x;
        memcpy(&x, b, 4);
        x ^= 0xa5a50000u;
        return x < F.nkeys ? (long)x : -2;
    }
    case FZ_U64: {
        uint64_t x;
        memcpy(&x, b, 8);
        uint32_t i = (uint32_t)x;
        if (i >= F.nkeys || (x >> 32) != (uint32_t)(i * 2654435761u)) return -2;
        return (long)i;
    }
    case FZ_U8: return b[0];
    case FZ_U16: {
        uint16_t x;
        memcpy(&x, b, 2);
        x = (uint16_t)(x ^ 0x5a5au);
        return x < F.nkeys ? (long)x : -2;
    }
    case FZ_F32:
    case FZ_F64: {
        double d;
        if (F.kind == FZ_F64) {
            memcpy(&d, b, 8);
            if (d != d) {
                uint64_t bits;
                memcpy(&bits, b, 8);
                *nan = (uint32_t)(bits & 0xfffffu);
                return -1;
            }
        } else {
            float f;
            memcpy(&f, b, 4);
            if (f != f) {
                uint32_t bits;
                memcpy(&bits, b, 4);
                *nan = bits & 0xfffffu;
                return -1;
            }
            d = f;
        }
        if (d == 0) return 0;
        if (d == INFINITY) return 2;
        if (d == -INFINITY) return 3;
        long q = (long)(fabs(d) * 4.0);
        long i = q + 3;
        if (i < 4 || i >= (long)F.nkeys || ((i & 1) != 0) != (d < 0)) return -2;
        return i;
    }
    case FZ_STR:
    case FZ_STR_COPY: {
        const gomap_str *s = (const gomap_str *)key;
        if (s->len == 0) return 0;
        if (s->len < 2 || s->ptr[0] != 'k') return -2;
        long i = 0;
        for (size_t j = 1; j < s->len && s->ptr[j] >= '0' && s->ptr[j] <= '9'; j++)
            i = i * 10 + (s->ptr[j] - '0');
        if (i <= 0 || i >= (long)F.nkeys || fz_strlen[i] != s->len ||
            memcmp(fz_strpool[0][i], s->ptr, s->len) != 0)
            return -2;
        return i;
    }
    case FZ_BYTES:
    case FZ_BYTES_BIG: {
        uint32_t i;
        memcpy(&i, b, 4);
        if (i >= F.nkeys) return -2;
        for (size_t j = 4; j < F.t.key_size; j++)
            if (b[j] != (unsigned char)(i * 31u + j)) return -2;
        return (long)i;
    }
    case FZ_BYTES_ZERO: return 0;
    default: {
        uint32_t id = ((const fz_ckey *)key)->id;
        uint32_t i = id * 0x144cbc89u; /* the inverse of 0x9e3779b9 mod 2^32 */
        return i < F.nkeys ? (long)i : -2;
    }
    }
}

static size_t fz_vsize(void) {
    if (F.kind == FZ_CUSTOM) return sizeof(fz_cval);
    return F.vmode == 0 ? 8 : F.vmode == 1 ? 0 : FZ_BIG_VAL;
}

static void fz_make_val(fz_val *v, uint64_t payload, uint32_t serial) {
    memset(v, 0, sizeof *v);
    if (F.kind == FZ_CUSTOM) {
        v->c.payload = payload;
        v->c.serial = serial;
        return;
    }
    v->u64 = payload;
    if (F.vmode == 2)
        for (size_t j = 8; j < FZ_BIG_VAL; j++) v->bytes[j] = (unsigned char)(payload * 7u + j);
}

/* A value inside the map against the model's payload (and serial). */
#define FZ_ZERO UINT64_MAX /* the payload of an all-zero value (gomap_assign) */

static void fz_check_val(const void *got, uint64_t payload, uint32_t serial) {
    FZ_REQ(got != NULL);
    if (payload == FZ_ZERO) {
        static const unsigned char zero[FZ_BIG_VAL];
        FZ_REQ(serial == 0 && memcmp(got, zero, fz_vsize()) == 0);
        return;
    }
    if (F.kind == FZ_CUSTOM) {
        fz_cval c;
        memcpy(&c, got, sizeof c);
        FZ_REQ(c.payload == payload && c.serial == serial);
        return;
    }
    if (F.vmode == 1) return;
    fz_val want;
    fz_make_val(&want, payload, 0);
    FZ_REQ(memcmp(got, &want, fz_vsize()) == 0);
}

/* ---- iterators ------------------------------------------------------------ */

typedef struct fz_it {
    int active, counted; /* counted: gomap_stats counts it live */
    gomap_iter it;
    unsigned char seen[FZ_MAXK], stable[FZ_MAXK];
    unsigned char nan_seen[FZ_MAXNAN], nan_stable[FZ_MAXNAN];
} fz_it;
static fz_it fz_iters[2];

static void fz_iter_start(fz_it *x) {
    memset(x->seen, 0, sizeof x->seen);
    memcpy(x->stable, F.present, sizeof x->stable);
    memset(x->nan_seen, 0, sizeof x->nan_seen);
    memcpy(x->nan_stable, F.nan_live, sizeof x->nan_stable);
    gomap_stats a, b;
    gomap_stats_get(F.m, &a);
    gomap_iter_init(&x->it, F.m);
    gomap_stats_get(F.m, &b);
    FZ_REQ(b.live_iterators == a.live_iterators + (F.count + F.nnan > 0));
    x->counted = F.count + F.nnan > 0;
    x->active = 1;
}

/* One produced entry: current, with its current value, not seen before. */
static void fz_iter_entry(fz_it *x, const void *key, const void *val) {
    FZ_REQ(key != NULL);
    uint32_t ns = 0;
    long i = fz_key_index(key, &ns);
    FZ_REQ(i >= -1);
    if (i == -1) {
        FZ_REQ(ns < FZ_MAXNAN && F.nan_live[ns] && !x->nan_seen[ns]);
        x->nan_seen[ns] = 1;
        if (val) fz_check_val(val, F.nan_val[ns], 0);
        return;
    }
    FZ_REQ(F.present[i]);  /* never a deleted or cleared entry */
    FZ_REQ(!x->seen[i]);   /* at most once */
    x->seen[i] = 1;
    if (val) fz_check_val(val, F.val[i], F.vser[i]);
}

/* The end: every entry present all along was produced. */
static void fz_iter_end(fz_it *x) {
    for (size_t i = 0; i < F.nkeys; i++) FZ_REQ(!x->stable[i] || x->seen[i]);
    for (size_t i = 0; i < FZ_MAXNAN; i++) FZ_REQ(!x->nan_stable[i] || x->nan_seen[i]);
    x->active = 0;
}

/* A deleted key that comes back is a new entry, which an iterator may
   produce even if it produced the old one. */
static void fz_iters_deleted(size_t idx) {
    for (int j = 0; j < 2; j++) fz_iters[j].stable[idx] = fz_iters[j].seen[idx] = 0;
}
static void fz_iters_clear(void) {
    for (int j = 0; j < 2; j++) {
        memset(fz_iters[j].stable, 0, sizeof fz_iters[j].stable);
        memset(fz_iters[j].seen, 0, sizeof fz_iters[j].seen);
        memset(fz_iters[j].nan_stable, 0, sizeof fz_iters[j].nan_stable);
    }
}

/* ---- whole-map checks ---------------------------------------------------------- */

static void fz_check_inv(const gomap *m) {
    char msg[200];
    int inv = gomap_check(m, msg, sizeof msg);
    if (inv) {
        fprintf(stderr, "invariant I%d broken: %s\n", inv, msg);
        abort();
    }
}

static size_t fz_live_iters(void) {
    size_t n = F.abandoned;
    for (int j = 0; j < 2; j++) n += (size_t)(fz_iters[j].active && fz_iters[j].counted);
    return n;
}

/* Destructors: with nothing held back for iterators, the map owns exactly
   the keys and values the model holds. */
static void fz_check_owned(void) {
    if (F.kind != FZ_CUSTOM || !F.t.key_destroy) return;
    gomap_stats st;
    gomap_stats_get(F.m, &st);
    if (st.live_iterators || st.retired_blocks) return;
    size_t want = 0;
    for (size_t i = 0; i < F.nkeys; i++)
        if (F.present[i]) want += (F.kser[i] != 0) + (F.vser[i] != 0);
    FZ_REQ(F.owned == want);
}

/* m (the map or a clone) holds exactly what the model holds. */
static void fz_compare(const gomap *m, int deep) {
    FZ_REQ(gomap_len(m) == F.count + F.nnan);
    fz_check_inv(m);
    if (!deep) return;
    for (size_t i = 0; i < F.nkeys; i++) {
        if (i == FZ_NAN_IDX && (F.kind == FZ_F32 || F.kind == FZ_F64)) continue;
        fz_key k;
        fz_make_key(&k, i, 0, 0);
        const void *sk = NULL;
        void *v = gomap_get_key(m, &k, &sk);
        FZ_REQ((v != NULL) == (F.present[i] != 0));
        if (v) {
            fz_check_val(v, F.val[i], F.vser[i]);
            FZ_REQ(fz_key_index(sk, &(uint32_t){0}) == (long)i);
        } else {
            FZ_REQ(sk == NULL);
        }
    }
    fz_it *x = (fz_it *)malloc(sizeof *x);
    FZ_REQ(x != NULL);
    memset(x->seen, 0, sizeof x->seen);
    memcpy(x->stable, F.present, sizeof x->stable);
    memset(x->nan_seen, 0, sizeof x->nan_seen);
    memcpy(x->nan_stable, F.nan_live, sizeof x->nan_stable);
    gomap_iter_init(&x->it, m);
    size_t n = 0;
    while (gomap_iter_next(&x->it)) {
        /* a clone's entries are checked against the model too */
        fz_iter_entry(x, x->it.key, x->it.val);
        n++;
    }
    FZ_REQ(n == F.count + F.nnan);
    fz_iter_end(x);
    free(x);
}

/* ---- model updates ------------------------------------------------------------- */

/* The model after a successful store of key (idx, var, kser) -> (payload,
   vser); inserted tells which it was. */
static void fz_model_key(size_t idx, unsigned var, uint32_t ks, int inserted) {
    if (inserted) {
        F.present[idx] = 1;
        F.count++;
        F.kvar[idx] = (unsigned char)var;
        F.kser[idx] = ks;
        fz_take(ks);
    } else if (F.t.flags & GOMAP_F_KEY_UPDATE) {
        F.kvar[idx] = (unsigned char)var;
        F.kser[idx] = ks;
        fz_take(ks);
    }
}

static void fz_model_store(size_t idx, unsigned var, uint32_t ks, uint64_t payload, uint32_t vs,
                           int inserted) {
    fz_model_key(idx, var, ks, inserted);
    F.val[idx] = payload;
    F.vser[idx] = vs;
    fz_take(vs);
}

static void fz_model_delete(size_t idx) {
    if (!F.present[idx]) return;
    F.present[idx] = 0;
    F.count--;
    fz_iters_deleted(idx);
}

static void fz_model_clear(void) {
    memset(F.present, 0, sizeof F.present);
    memset(F.nan_live, 0, sizeof F.nan_live);
    F.count = 0;
    F.nnan = 0;
    fz_iters_clear();
}

static int fz_is_nan_key(size_t idx) {
    return (F.kind == FZ_F32 || F.kind == FZ_F64) && idx == FZ_NAN_IDX;
}

/* After a call that failed: the map is as it was. */
static void fz_after_failure(int status) {
    const char *s = gomap_strerror(status);
    FZ_REQ(s && *s);
    fz_compare(F.m, 1);
}

/* ---- the program ------------------------------------------------------------------ */

static const int64_t fz_hints[8] = {0, -5, 1, 8, 9, 14, 200, INT64_MAX};

static unsigned fz_expected_B(int64_t hint) {
    if (hint < 0 || hint == INT64_MAX) return 0;
    unsigned B = 0;
    while (hint > 8 && (uint64_t)hint > 13u * ((uint64_t)1 << B) / 2) B++;
    return B;
}

/* A random descriptor: gomap_type_check and gomap_new agree, and break no
   rule of gomap.h. */
static void fz_type_probe(const uint8_t *d) {
    gomap_type t;
    memset(&t, 0, sizeof t);
    t.kind = (enum gomap_key_kind)(d[0] % 11);
    t.key_size = d[1] % 40;
    t.key_align = (size_t)1 << (d[2] % 6) >> 1; /* 0, 1, 2, ... 16 */
    t.val_size = d[3] % 40;
    t.val_align = d[2] & 0x40 ? 3 : (size_t)1 << (d[3] % 5);
    t.flags = d[0] & 0x80 ? 4u : d[0] >> 5 & 3u;
    if (d[1] & 0x80) t.hash = fz_custom_hash;
    if (d[1] & 0x40) t.equal = fz_custom_equal;
    int ok = gomap_type_check(&t);
    FZ_REQ(ok == GOMAP_OK || ok == GOMAP_EINVAL);
    size_t ka = t.key_align ? t.key_align : 1, va = t.val_align ? t.val_align : 1;
    if ((ka & (ka - 1)) || ka > 16 || t.key_size % ka || (va & (va - 1)) || va > 16 ||
        t.val_size % va || t.flags > 3 || (t.kind == GOMAP_KEY_CUSTOM && (!t.hash || !t.equal)))
        FZ_REQ(ok == GOMAP_EINVAL);
    gomap *m = NULL;
    int r = gomap_create(&m, &t, 0, NULL);
    FZ_REQ(r == ok && (m != NULL) == (ok == GOMAP_OK));
    gomap_free(m);
    /* gomap_type_builtin: its descriptors are valid for the right sizes */
    gomap_type b = gomap_type_builtin((enum gomap_key_kind)(1 + d[0] % 9), 12, 8, 8);
    FZ_REQ(gomap_type_check(&b) == GOMAP_OK);
}

/* Arguments gomap.h calls bad: each is refused and changes nothing. */
static void fz_bad_args(void) {
    gomap *m = F.m;
    size_t len = gomap_len(m), done = 7;
    fz_val v;
    fz_make_val(&v, 1, 0);
    int key_needed = F.t.key_size != 0;
    FZ_REQ(gomap_len(NULL) == 0);
    FZ_REQ(gomap_get(NULL, &v) == NULL);
    FZ_REQ(gomap_put(NULL, &v, &v) == GOMAP_EINVAL);
    FZ_REQ(gomap_delete(NULL, &v) == GOMAP_EINVAL);
    FZ_REQ(gomap_assign(NULL, &v) == NULL);
    FZ_REQ(gomap_clear(NULL) == GOMAP_EINVAL);
    FZ_REQ(gomap_clone(NULL) == NULL);
    FZ_REQ(gomap_check(NULL, NULL, 0) == 0);
    FZ_REQ(gomap_set_counting(NULL, true) == false);
    FZ_REQ(gomap_put_many(NULL, &v, &v, 1, &done) == GOMAP_EINVAL);
    FZ_REQ(gomap_delete_many(NULL, &v, 1, &done) == GOMAP_EINVAL);
    void *vals[1] = {&v};
    FZ_REQ(gomap_get_many(NULL, &v, 1, vals) == 0 && vals[0] == NULL);
    gomap_stats st;
    memset(&st, 0xff, sizeof st);
    gomap_stats_get(NULL, &st);
    FZ_REQ(st.count == 0 && st.B == 0 && st.bytes == 0);
    gomap_free(NULL);
    gomap_iter it;
    gomap_iter_init(&it, NULL);
    FZ_REQ(!gomap_iter_next(&it));
    FZ_REQ(gomap_iter_next_n(&it, NULL, NULL, 4) == 0);
    gomap_iter_done(&it);
    const void *sk = &v;
    fz_key k;
    fz_make_key(&k, 2 % F.nkeys, 0, 0);
    FZ_REQ(gomap_get_key(m, &k, NULL) == NULL);
    if (key_needed) {
        FZ_REQ(gomap_get(m, NULL) == NULL);
        FZ_REQ(gomap_get_key(m, NULL, &sk) == NULL);
        FZ_REQ(gomap_put(m, NULL, &v) == GOMAP_EINVAL);
        FZ_REQ(gomap_delete(m, NULL) == GOMAP_EINVAL);
        FZ_REQ(gomap_assign(m, NULL) == NULL);
        FZ_REQ(gomap_assign2(m, NULL, NULL) == NULL);
        FZ_REQ(gomap_put_many(m, NULL, &v, 1, &done) == GOMAP_EINVAL);
        FZ_REQ(gomap_delete_many(m, NULL, 1, &done) == GOMAP_EINVAL);
        vals[0] = &v;
        FZ_REQ(gomap_get_many(m, NULL, 1, vals) == 0 && vals[0] == NULL);
    }
    if (fz_vsize()) FZ_REQ(gomap_put(m, &k, NULL) == GOMAP_EINVAL);
    if (fz_vsize()) FZ_REQ(gomap_put_many(m, &k, NULL, 1, &done) == GOMAP_EINVAL);
    FZ_REQ(gomap_get_many(m, &k, 1, NULL) == 0);
    FZ_REQ(gomap_put_many(m, &k, &v, 0, &done) == GOMAP_OK && done == 0);
    FZ_REQ(gomap_delete_many(m, &k, 0, NULL) == GOMAP_OK);
    FZ_REQ(gomap_get_many(m, &k, 0, vals) == 0);
    FZ_REQ(gomap_create(NULL, &F.t, 0, NULL) == GOMAP_EINVAL);
    FZ_REQ(gomap_new(NULL, 0) == NULL);
    FZ_REQ(gomap_type_check(NULL) == GOMAP_EINVAL);
    FZ_REQ(gomap_len(m) == len);
    FZ_REQ(strcmp(gomap_strerror(GOMAP_OK), gomap_strerror(1)) == 0);
    FZ_REQ(*gomap_strerror(-99) != 0);
}

/* Allocation failures: after skip more allocations, fail n. */
static void fz_arm(unsigned skip, unsigned n) {
    if (!F.own_alloc) return;
    F.fa.skip = skip;
    F.fa.fail = n;
}

static void fz_step(const uint8_t *d, size_t pos);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    fz_strpool_init();
    memset(&F, 0, sizeof F);
    memset(fz_iters, 0, sizeof fz_iters);
    F.ser_next = 1;
    F.nan_next = 1;

    /* The hash choice may only change while no map exists: choose the one
       in use again (the test runs this under both). */
    FZ_REQ(gomap_hash_select(strcmp(gomap_hash_name(), "aes") == 0 ? GOMAP_HASH_AES
                                                                  : GOMAP_HASH_PORTABLE) == GOMAP_OK);
    FZ_REQ(gomap_hash_select((enum gomap_hash_impl)7) == GOMAP_EINVAL);
    FZ_REQ(gomap_hash_u64(12345, 99) == gomap_hash_u64(12345, 99));
    FZ_REQ(gomap_hash_u32(12345, 99) == gomap_hash_u32(12345, 99));

    F.kind = data[0] % FZ_NKINDS;
    F.vmode = data[1] & 3;
    if (F.vmode == 3) F.vmode = 0;
    F.hash_mode = data[2] % 6;
    F.nkeys = F.kind == FZ_U8 ? 256 : F.kind == FZ_BYTES_ZERO ? 1 : FZ_MAXK;
    size_t vsize = F.vmode == 0 ? 8 : F.vmode == 1 ? 0 : FZ_BIG_VAL;
    static const enum gomap_key_kind kinds[FZ_NKINDS] = {
        GOMAP_KEY_U32, GOMAP_KEY_U64, GOMAP_KEY_U8, GOMAP_KEY_U16, GOMAP_KEY_F32, GOMAP_KEY_F64,
        GOMAP_KEY_STR, GOMAP_KEY_STR_COPY, GOMAP_KEY_BYTES, GOMAP_KEY_BYTES, GOMAP_KEY_BYTES,
        GOMAP_KEY_CUSTOM};
    size_t bytes_size = F.kind == FZ_BYTES ? 12 : F.kind == FZ_BYTES_BIG ? FZ_BIG_KEY : 0;
    if (F.kind == FZ_CUSTOM) {
        memset(&F.t, 0, sizeof F.t);
        F.t.key_size = sizeof(fz_ckey);
        F.t.key_align = 4;
        F.t.val_size = sizeof(fz_cval);
        F.t.val_align = 8;
        F.t.kind = GOMAP_KEY_CUSTOM;
        F.t.hash = fz_custom_hash;
        F.t.equal = fz_custom_equal;
        if (!(data[2] & 0x80)) { /* destructors (else clone works) */
            F.t.key_destroy = fz_key_destroy;
            F.t.val_destroy = fz_val_destroy;
        }
    } else if (F.kind == FZ_U64 && (data[1] & 0x80)) {
        F.t = GOMAP_TYPE_U64_U64;
        F.vmode = 0;
    } else {
        F.t = gomap_type_builtin(kinds[F.kind], bytes_size, vsize, vsize ? 8 : 0);
    }
    if (data[1] & 4) F.t.flags ^= GOMAP_F_KEY_UPDATE;
    FZ_REQ(gomap_type_check(&F.t) == GOMAP_OK);

    gomap_allocator a = {fz_alloc_fn, fz_free_fn, &F.fa};
    int64_t hint = fz_hints[data[1] >> 4 & 7];
    int how = data[3] & 3;
    F.own_alloc = how != 2;
    if (F.own_alloc && (data[3] & 0x80)) {
        /* making the map fails: nothing is left behind */
        fz_arm((data[3] >> 2) & 1, 1);
        gomap *m = (gomap *)&a;
        int r = gomap_create(&m, &F.t, hint, &a);
        FZ_REQ(r == GOMAP_OK || (r == GOMAP_ENOMEM && m == NULL));
        gomap_free(m);
        FZ_REQ(F.fa.live_bytes == 0);
        fz_arm(0, 0);
    }
    if (how == 1) FZ_REQ(gomap_create(&F.m, &F.t, hint, &a) == GOMAP_OK);
    else if (how == 2) F.m = gomap_new(&F.t, hint);
    else F.m = gomap_new_with(&F.t, hint, &a);
    FZ_REQ(F.m != NULL);
    {
        gomap_stats st;
        gomap_stats_get(F.m, &st);
        FZ_REQ(st.count == 0 && st.B == fz_expected_B(hint) && st.buckets == (size_t)1 << st.B);
    }

    for (size_t p = 4; p + 4 <= size; p += 4) {
        fz_step(data + p, p);
        fz_check_inv(F.m);
        FZ_REQ(gomap_len(F.m) == F.count + F.nnan);
        fz_check_owned();
        if (F.ser_next >= FZ_MAXSER - 64 || F.nan_next >= FZ_MAXNAN) break;
    }

    /* Finish the iterators that are still running, or leave them. */
    for (int j = 0; j < 2; j++) {
        fz_it *x = &fz_iters[j];
        if (!x->active) continue;
        if (size & 1) {
            while (gomap_iter_next(&x->it)) fz_iter_entry(x, x->it.key, x->it.val);
            fz_iter_end(x);
        } else {
            gomap_iter_done(&x->it);
            x->active = 0;
        }
    }
    fz_compare(F.m, 1);
    gomap_free(F.m);
    F.m = NULL;
    if (F.t.key_destroy) FZ_REQ(F.owned == 0); /* every destructor ran, once */
    if (F.own_alloc) FZ_REQ(F.fa.live_bytes == 0 && F.fa.live_blocks == 0);
    return 0;
}

enum {
    OP_PUT, OP_PUT2, OP_GET, OP_GET_KEY, OP_ASSIGN, OP_ASSIGN2, OP_DELETE, OP_DELETE2,
    OP_PUT_MANY, OP_GET_MANY, OP_DELETE_MANY, OP_CLEAR, OP_CLONE, OP_ITER_START,
    OP_ITER_STEP, OP_ITER_STEP2, OP_ITER_NEXT_N, OP_ITER_DONE, OP_FAIL, OP_STATS,
    OP_COUNTING, OP_COMPARE, OP_ALIAS, OP_BAD_ARGS, OP_TYPES, OP_PROBE, OP_NAN, OP_COUNT
};

/* ---- observing the map: chains, probe counters, the picture, tracers ---------- */

static void fz_tracer(void *ctx, const gomap_event *ev) {
    (void)ctx;
    const char *name = gomap_event_name(ev->kind);
    FZ_REQ(name && strcmp(name, "unknown") != 0);
    F.events++;
}

/* Bits of sel choose: the chain histogram's size (always), the HTML picture
   (0x10), our tracer on or off from now on (0x20), a trace file for one
   recorded event (0xC0). */
static void fz_observe(gomap *m, unsigned sel) {
    size_t hist[9], n = 1 + sel % 9, chains = 0;
    FZ_REQ(gomap_stats_chains(m, hist, n) == GOMAP_OK);
    for (size_t i = 0; i < n; i++) chains += hist[i];
    gomap_stats st;
    gomap_stats_get(m, &st);
    if (!st.growing && gomap_len(m) > 0) FZ_REQ(chains == st.buckets);
    FZ_REQ(gomap_stats_chains(m, NULL, 4) == GOMAP_EINVAL);
    gomap_probe_stats ps;
    gomap_probe_stats_get(m, &ps);
    FZ_REQ(ps.ops == ps.hits + ps.misses);
    FZ_REQ(ps.false_matches <= ps.hit_slots + ps.miss_slots);
    if (sel & 0x10) {
        FILE *f = tmpfile();
        if (f) {
            FZ_REQ(gomap_render_html(m, f) == GOMAP_OK);
            FZ_REQ(ftell(f) > 0);
            fclose(f);
        }
    }
    if (sel & 0x20) {
        F.tracing = !F.tracing;
        FZ_REQ(gomap_set_tracer(m, F.tracing ? fz_tracer : NULL, NULL) == GOMAP_OK);
    }
    if ((sel & 0xC0) == 0xC0) {
        char path[512];
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_map_trace_%ld.json", dir && *dir ? dir : P_tmpdir,
                 (long)getpid());
        gomap_trace_file *tf = gomap_trace_open(path);
        if (tf) {
            FZ_REQ(gomap_trace_attach(m, tf) == GOMAP_OK);
            gomap_event ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = GOMAP_EV_CLEAR;
            ev.map = m;
            gomap_trace_record(tf, &ev);
            uint64_t written = 0, seen = 0;
            FZ_REQ(gomap_trace_counts(tf, &written, &seen) == GOMAP_OK);
            FZ_REQ(seen >= 1 && written <= seen);
            FZ_REQ(gomap_set_tracer(m, F.tracing ? fz_tracer : NULL, NULL) == GOMAP_OK);
            FZ_REQ(gomap_trace_close(tf) == GOMAP_OK);
            remove(path);
        }
    }
}

static void fz_step(const uint8_t *d, size_t pos) {
    size_t idx = ((size_t)d[1] | (size_t)d[2] << 8) % F.nkeys;
    unsigned var = d[3] & 1;
    uint64_t payload = ((uint64_t)pos << 16) | idx;
    unsigned op = d[0] % OP_COUNT;
    /* the NaN key number: a new NaN, inserted by OP_NAN only */
    if (fz_is_nan_key(idx)) idx = 0;
    gomap *m = F.m;
    fz_key k;
    fz_val v;
    switch (op) {
    case OP_PUT:
    case OP_PUT2: {
        uint32_t ks = F.kind == FZ_CUSTOM ? fz_serial() : 0;
        uint32_t vs = F.kind == FZ_CUSTOM ? fz_serial() : 0;
        fz_make_key(&k, idx, var, ks);
        fz_make_val(&v, payload, vs);
        int r = gomap_put(m, &k, fz_vsize() == 0 && (d[3] & 2) ? NULL : &v);
        if (r < 0) {
            FZ_REQ(r == GOMAP_ENOMEM);
            fz_after_failure(r);
            break;
        }
        FZ_REQ(r == !F.present[idx]);
        fz_model_store(idx, var, ks, payload, vs, r);
        break;
    }
    case OP_GET: {
        fz_make_key(&k, idx, var, 0);
        void *got = gomap_get(m, &k);
        FZ_REQ((got != NULL) == (F.present[idx] != 0));
        if (got) fz_check_val(got, F.val[idx], F.vser[idx]);
        break;
    }
    case OP_GET_KEY: {
        fz_make_key(&k, idx, var, 0);
        const void *sk = &k;
        void *got = gomap_get_key(m, &k, &sk);
        FZ_REQ((got != NULL) == (F.present[idx] != 0));
        if (!got) {
            FZ_REQ(sk == NULL);
            break;
        }
        fz_check_val(got, F.val[idx], F.vser[idx]);
        FZ_REQ(fz_key_index(sk, &(uint32_t){0}) == (long)idx);
        /* the stored key is the one the last write stored */
        if ((F.kind == FZ_F32 || F.kind == FZ_F64) && idx == 0) {
            int neg = F.kind == FZ_F64 ? signbit(*(const double *)sk) != 0
                                       : signbit(*(const float *)sk) != 0;
            FZ_REQ(neg == F.kvar[0]);
        } else if (F.kind == FZ_STR) {
            const gomap_str *s = (const gomap_str *)sk;
            const char *want = (idx == 0 && F.kvar[0]) ? NULL : fz_strpool[F.kvar[idx]][idx];
            FZ_REQ(s->ptr == want);
        } else if (F.kind == FZ_STR_COPY) {
            const gomap_str *s = (const gomap_str *)sk;
            FZ_REQ(s->len == 0 || s->ptr < fz_scratch[0] || s->ptr > fz_scratch[FZ_NSCRATCH - 1]);
        } else if (F.kind == FZ_CUSTOM) {
            FZ_REQ(((const fz_ckey *)sk)->serial == F.kser[idx]);
        }
        break;
    }
    case OP_ASSIGN:
    case OP_ASSIGN2: {
        uint32_t ks = F.kind == FZ_CUSTOM ? fz_serial() : 0;
        fz_make_key(&k, idx, var, ks);
        bool ins = false;
        void *slot = op == OP_ASSIGN ? gomap_assign(m, &k) : gomap_assign2(m, &k, (d[3] & 2) ? NULL : &ins);
        if (!slot) {
            fz_after_failure(GOMAP_ENOMEM);
            break;
        }
        int inserted = !F.present[idx];
        if (op == OP_ASSIGN2 && !(d[3] & 2)) FZ_REQ(ins == (inserted != 0));
        if (inserted) { /* a zeroed value */
            fz_val zero;
            memset(&zero, 0, sizeof zero);
            FZ_REQ(memcmp(slot, &zero, fz_vsize()) == 0);
        } else {
            fz_check_val(slot, F.val[idx], F.vser[idx]);
        }
        if (d[3] & 4) { /* leave the value as it is */
            if (inserted) fz_model_store(idx, var, ks, FZ_ZERO, 0, 1);
            else fz_model_key(idx, var, ks, 0);
            break;
        }
        /* write through the pointer; the value we overwrite is ours to destroy */
        uint32_t vs = F.kind == FZ_CUSTOM ? fz_serial() : 0;
        if (!inserted && F.t.val_destroy) fz_release(F.vser[idx]);
        fz_make_val(&v, payload, vs);
        memcpy(slot, &v, fz_vsize());
        fz_model_store(idx, var, ks, payload, vs, inserted);
        break;
    }
    case OP_DELETE:
    case OP_DELETE2: {
        fz_make_key(&k, idx, var, 0);
        int r = gomap_delete(m, &k);
        if (r < 0) {
            FZ_REQ(r == GOMAP_ENOMEM && F.t.key_destroy != NULL);
            fz_after_failure(r);
            break;
        }
        FZ_REQ(r == F.present[idx]);
        fz_model_delete(idx);
        break;
    }
    case OP_PUT_MANY:
    case OP_DELETE_MANY:
    case OP_GET_MANY: {
        enum { NB = 40 };
        static fz_key keys[NB];
        static fz_val vals[NB];
        static size_t ids[NB];
        static uint32_t kss[NB], vss[NB];
        static unsigned vars[NB];
        size_t n = d[3] % NB, stride = (size_t)(d[3] >> 5) + (F.nkeys > 1);
        size_t ksz = F.t.key_size, vsz = fz_vsize();
        /* packed arrays of keys and values, key_size and val_size apart */
        static unsigned char kbuf[NB * FZ_BIG_KEY], vbuf[NB * FZ_BIG_VAL];
        for (size_t j = 0; j < n; j++) {
            ids[j] = (idx + j * stride) % F.nkeys;
            if (fz_is_nan_key(ids[j])) ids[j] = 0;
            vars[j] = (unsigned)(j & var);
            kss[j] = F.kind == FZ_CUSTOM && op == OP_PUT_MANY ? fz_serial() : 0;
            vss[j] = F.kind == FZ_CUSTOM && op == OP_PUT_MANY ? fz_serial() : 0;
            fz_make_key(&keys[j], ids[j], vars[j], kss[j]);
            fz_make_val(&vals[j], payload + (j << 8), vss[j]);
            memcpy(kbuf + j * ksz, &keys[j], ksz);
            memcpy(vbuf + j * vsz, &vals[j], vsz);
        }
        if (op == OP_GET_MANY) {
            void *got[NB];
            size_t found = gomap_get_many(m, ksz ? (const void *)kbuf : NULL, n, got), want = 0;
            for (size_t j = 0; j < n; j++) {
                FZ_REQ((got[j] != NULL) == (F.present[ids[j]] != 0));
                if (got[j]) {
                    want++;
                    fz_check_val(got[j], F.val[ids[j]], F.vser[ids[j]]);
                }
            }
            FZ_REQ(found == want);
            break;
        }
        size_t done = 12345;
        int no_done = (d[2] & 0x80) && !F.t.key_destroy;
        int r = op == OP_PUT_MANY ? gomap_put_many(m, kbuf, vbuf, n, no_done ? NULL : &done)
                                  : gomap_delete_many(m, kbuf, n, no_done ? NULL : &done);
        if (no_done) done = r == GOMAP_OK ? n : 12345;
        if (r == GOMAP_OK) FZ_REQ(done == n);
        else FZ_REQ(r == GOMAP_ENOMEM);
        if (r != GOMAP_OK && no_done) {
            /* how many pairs were applied is unknown: apply the whole batch
               again (the same final state), with no failure this time */
            fz_arm(0, 0);
            r = op == OP_PUT_MANY ? gomap_put_many(m, kbuf, vbuf, n, &done)
                                  : gomap_delete_many(m, kbuf, n, &done);
            FZ_REQ(r == GOMAP_OK && done == n);
        }
        FZ_REQ(done <= n);
        for (size_t j = 0; j < done; j++) {
            if (op == OP_PUT_MANY) fz_model_store(ids[j], vars[j], kss[j], payload + (j << 8), vss[j], !F.present[ids[j]]);
            else fz_model_delete(ids[j]);
        }
        if (r != GOMAP_OK) fz_after_failure(r);
        break;
    }
    case OP_CLEAR: {
        if ((d[1] & 3) != 0) break; /* rarely */
        int r = gomap_clear(m);
        if (r < 0) {
            FZ_REQ(r == GOMAP_ENOMEM && F.t.key_destroy != NULL);
            fz_after_failure(r);
            break;
        }
        FZ_REQ(r == GOMAP_OK);
        fz_model_clear();
        break;
    }
    case OP_CLONE: {
        gomap *c = gomap_clone(m);
        if (F.t.key_destroy || F.t.val_destroy) {
            FZ_REQ(c == NULL);
            break;
        }
        if (!c) {
            FZ_REQ(F.own_alloc && F.fa.failed);
            break;
        }
        fz_compare(c, 1);
        gomap_stats a, b;
        gomap_stats_get(m, &a);
        gomap_stats_get(c, &b);
        FZ_REQ(a.seed == b.seed && b.count == a.count);
        if (d[3] & 2) { /* the clone is a map of its own */
            fz_make_key(&k, idx, 0, 0);
            gomap_delete(c, &k);
            fz_check_inv(c);
        }
        gomap_free(c);
        break;
    }
    case OP_ITER_START: {
        fz_it *x = &fz_iters[d[3] & 1];
        if (x->active) {
            if (d[3] & 2) {
                gomap_iter_done(&x->it);
            } else {
                F.abandoned += (size_t)x->counted; /* left: the map keeps what it holds */
            }
            x->active = 0;
        }
        fz_iter_start(x);
        break;
    }
    case OP_ITER_STEP:
    case OP_ITER_STEP2: {
        fz_it *x = &fz_iters[d[3] & 1];
        if (!x->active) {
            fz_iter_start(x);
            break;
        }
        size_t steps = 1 + d[1] % 8;
        for (size_t s = 0; s < steps; s++) {
            if (!gomap_iter_next(&x->it)) {
                FZ_REQ(!gomap_iter_next(&x->it)); /* stays at the end */
                fz_iter_end(x);
                break;
            }
            fz_iter_entry(x, x->it.key, x->it.val);
        }
        break;
    }
    case OP_ITER_NEXT_N: {
        fz_it *x = &fz_iters[d[3] & 1];
        if (!x->active) fz_iter_start(x);
        const void *keys[72];
        void *vals[72];
        size_t n = (size_t)d[1] % 72;
        int want_vals = !(d[3] & 2);
        size_t got = gomap_iter_next_n(&x->it, keys, want_vals ? vals : NULL, n);
        FZ_REQ(got <= n);
        for (size_t j = 0; j < got; j++) fz_iter_entry(x, keys[j], want_vals ? vals[j] : NULL);
        if (got) FZ_REQ(x->it.key == keys[got - 1]);
        if (got < n) {
            fz_iter_end(x);
            FZ_REQ(gomap_iter_next_n(&x->it, keys, vals, 4) == 0);
        }
        break;
    }
    case OP_ITER_DONE: {
        fz_it *x = &fz_iters[d[3] & 1];
        if (!x->active) break;
        gomap_iter_done(&x->it);
        gomap_iter_done(&x->it); /* twice is harmless */
        x->active = 0;
        FZ_REQ(!gomap_iter_next(&x->it));
        break;
    }
    case OP_FAIL:
        fz_arm(d[1] % 8, 1 + d[2] % 3);
        return; /* armed for the next step */
    case OP_STATS: {
        fz_observe(m, d[3]);
        gomap_stats st;
        gomap_stats_get(m, &st);
        FZ_REQ(st.count == gomap_len(m));
        FZ_REQ(st.buckets == (size_t)1 << st.B);
        FZ_REQ(st.growing || st.old_buckets == 0);
        FZ_REQ(!st.growing || (st.nevacuate <= st.old_buckets && st.old_buckets));
        FZ_REQ(!st.same_size || st.growing);
        FZ_REQ(st.same_size_grows <= st.grows);
        FZ_REQ(st.max_evacuated_per_op <= GOMAP_EVACUATE_PER_WRITE);
        FZ_REQ(st.live_iterators == fz_live_iters());
        FZ_REQ(st.counting == (F.counting != 0));
        if (F.own_alloc) FZ_REQ(st.bytes == F.fa.live_bytes);
        break;
    }
    case OP_COUNTING: {
        gomap_stats st;
        gomap_stats_get(m, &st);
        FZ_REQ(st.visited_buckets >= F.visited_buckets);
        if (F.counting && gomap_len(m) > 0) {
            /* a lookup on a non-empty map visits a bucket */
            fz_make_key(&k, idx, 0, 0);
            (void)gomap_get(m, &k);
            gomap_stats st2;
            gomap_stats_get(m, &st2);
            FZ_REQ(st2.visited_buckets > st.visited_buckets);
            st = st2;
        }
        F.visited_buckets = st.visited_buckets;
        bool on = d[1] & 1;
        FZ_REQ(gomap_set_counting(m, on) == (F.counting != 0));
        F.counting = on;
        break;
    }
    case OP_COMPARE:
        fz_compare(m, 1);
        break;
    case OP_ALIAS: {
        /* Go's m[k2] = m[k1]: a value pointer into the map handed back to
           a write, and the stored key handed back as the key. */
        if (F.kind == FZ_CUSTOM) break; /* resources would be shared */
        size_t src = ((size_t)d[3] * 7) % F.nkeys;
        if (fz_is_nan_key(src)) src = 0;
        fz_key ks;
        fz_make_key(&ks, src, 0, 0);
        const void *sk = NULL;
        void *sv = gomap_get_key(m, &ks, &sk);
        if (!sv) break;
        uint64_t pv = F.val[src];
        if (d[1] & 1) { /* the stored key itself as the key: an update */
            int r = gomap_put(m, sk, sv);
            if (r < 0) {
                fz_after_failure(r);
                break;
            }
            FZ_REQ(r == 0);
            break;
        }
        fz_make_key(&k, idx, var, 0);
        int r = gomap_put(m, &k, sv);
        if (r < 0) {
            fz_after_failure(r);
            break;
        }
        FZ_REQ(r == !F.present[idx]);
        fz_model_store(idx, var, 0, pv, 0, r);
        break;
    }
    case OP_BAD_ARGS:
        fz_bad_args();
        break;
    case OP_TYPES:
        fz_type_probe(d);
        break;
    case OP_PROBE: {
        /* a write whose equality callback reads the map: misuse detected */
        if (F.kind != FZ_CUSTOM || !F.present[idx]) break;
        uint32_t ks = fz_serial(), vs = fz_serial();
        fz_make_key(&k, idx, var, ks);
        fz_make_val(&v, payload, vs);
        F.probe = m;
        F.probe_fired = 0;
        int r = gomap_put(m, &k, &v);
        F.probe = NULL;
        if (r < 0) {
            fz_after_failure(r);
            break;
        }
        FZ_REQ(r == 0);
        fz_model_store(idx, var, ks, payload, vs, 0);
        break;
    }
    case OP_NAN: {
        if (F.kind != FZ_F32 && F.kind != FZ_F64) break;
        uint32_t s = (uint32_t)F.nan_next++;
        fz_make_key(&k, FZ_NAN_IDX, 0, s);
        fz_make_val(&v, payload, 0);
        if (d[3] & 2) { /* never found, never deleted */
            FZ_REQ(gomap_get(m, &k) == NULL);
            FZ_REQ(gomap_delete(m, &k) == 0);
            break;
        }
        int r = gomap_put(m, &k, &v);
        if (r < 0) {
            fz_after_failure(r);
            break;
        }
        FZ_REQ(r == 1); /* a NaN is always a new key */
        F.nan_live[s] = 1;
        F.nan_val[s] = payload;
        F.nnan++;
        break;
    }
    default:
        break;
    }
    fz_arm(0, 0);
    if (F.kind == FZ_STR_COPY) memset(fz_scratch, '#', sizeof fz_scratch);
}

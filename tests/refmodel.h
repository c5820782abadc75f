/*
 * refmodel.h -- what the map tests share beyond testutil.h: the test scale,
 * a trivial reference map for differential tests, and a CUSTOM key type whose
 * hash is the key itself, so that a test can place keys in chosen buckets
 * (bucket = hash & (2^B - 1), tophash = top byte).
 *
 * The reference map is deliberately dumb: keys are small integer ids
 * 0..cap-1, so it is a pair of arrays indexed by id.  Each test maps ids to
 * real keys (integers, strings, floats, blobs) itself.
 */
#ifndef GOMAP_TEST_REFMODEL_H
#define GOMAP_TEST_REFMODEL_H

#include "gomap.h"
#include "testutil.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fail the test with a message (uses testutil.h's CHECK at the call site). */
#define RM_FAIL(msg)                                                          \
    do {                                                                      \
        fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, (msg));             \
        CHECK(0);                                                             \
    } while (0)

/* ---- the reference map ---------------------------------------------------- */

typedef struct rm_map {
    size_t cap;        /* ids are 0..cap-1 */
    size_t count;      /* ids present */
    uint8_t *present;  /* 1 when the id is in the map */
    uint8_t *variant;  /* which representation of the key was stored last */
    uint64_t *val;     /* the value's tag */
} rm_map;

static inline void rm_init(rm_map *r, size_t cap) {
    r->cap = cap;
    r->count = 0;
    r->present = (uint8_t *)calloc(cap ? cap : 1, 1);
    r->variant = (uint8_t *)calloc(cap ? cap : 1, 1);
    r->val = (uint64_t *)calloc(cap ? cap : 1, sizeof(uint64_t));
    if (!r->present || !r->variant || !r->val) abort();
}

static inline void rm_destroy(rm_map *r) {
    free(r->present);
    free(r->variant);
    free(r->val);
    memset(r, 0, sizeof *r);
}

/* Store id -> val with the given key variant; true when id was new. */
static inline bool rm_put(rm_map *r, size_t id, uint64_t val, uint8_t variant) {
    bool fresh = !r->present[id];
    if (fresh) r->count++;
    r->present[id] = 1;
    r->val[id] = val;
    r->variant[id] = variant;
    return fresh;
}

static inline bool rm_has(const rm_map *r, size_t id) { return r->present[id] != 0; }

/* Remove id; true when it was present. */
static inline bool rm_del(rm_map *r, size_t id) {
    if (!r->present[id]) return false;
    r->present[id] = 0;
    r->count--;
    return true;
}

static inline void rm_clear(rm_map *r) {
    memset(r->present, 0, r->cap);
    r->count = 0;
}

static inline void rm_copy(rm_map *dst, const rm_map *src) {
    rm_init(dst, src->cap);
    memcpy(dst->present, src->present, src->cap);
    memcpy(dst->variant, src->variant, src->cap);
    memcpy(dst->val, src->val, src->cap * sizeof(uint64_t));
    dst->count = src->count;
}

/* ---- a key whose hash is itself ----------------------------------------------- */

static inline uint64_t rm_ident_hash(const void *key, uint64_t seed) {
    uint64_t k;
    (void)seed;
    memcpy(&k, key, 8);
    return k;
}

static inline bool rm_u64_equal(const void *a, const void *b) {
    return memcmp(a, b, 8) == 0;
}

/* uint64_t keys hashed to themselves, values of val_size bytes. */
static inline gomap_type rm_ident_type(size_t val_size, size_t val_align) {
    gomap_type t;
    memset(&t, 0, sizeof t);
    t.kind = GOMAP_KEY_CUSTOM;
    t.key_size = 8;
    t.key_align = 8;
    t.val_size = val_size;
    t.val_align = val_align ? val_align : 1;
    t.hash = rm_ident_hash;
    t.equal = rm_u64_equal;
    return t;
}

/* A key that lands in bucket b of a 2^B array (b < 2^B), with tophash byte
   top (>= 5 to be stored as is), made unique by serial in between. */
static inline uint64_t rm_ident_key(uint64_t b, uint64_t serial, unsigned B, uint8_t top) {
    uint64_t k = b | (serial << B);
    k &= (((uint64_t)1 << 56) - 1);
    return k | ((uint64_t)top << 56);
}

/* ---- keys and values that own something ------------------------------------ */

/*
 * An "owned" key or value is one instance, numbered by a generation, that
 * the test tracks from creation to destruction.  Keys are {id, gen}: hash
 * and equality look at id only, so two instances of one key differ in gen.
 * The destructors check that an instance is destroyed once, and only after
 * the test released it (or while the map is being freed).
 */
enum { RM_INST_MAX = 1 << 24 }; /* instances per process: the long soak makes millions */
enum {
    RM_UNUSED = 0,   /* not given to the map, or the map did not keep it */
    RM_IN_MAP = 1,   /* stored in the map */
    RM_RELEASED = 2, /* removed from the map: may be destroyed from now on */
    RM_DESTROYED = 3,
};

typedef struct rm_owned_key {
    uint64_t id, gen;
} rm_owned_key;

typedef struct rm_owned_val {
    uint64_t gen;
    uint64_t tag;
} rm_owned_val;

static unsigned char rm_inst[RM_INST_MAX]; /* RM_* by generation */
static uint64_t rm_next_gen = 1;
static bool rm_freeing;                    /* gomap_free is running */
static uint64_t rm_key_destroys, rm_val_destroys;

static inline uint64_t rm_new_gen(void) {
    if (rm_next_gen >= RM_INST_MAX) abort();
    rm_inst[rm_next_gen] = RM_UNUSED;
    return rm_next_gen++;
}

static inline void rm_destroyed(uint64_t gen) {
    if (gen == 0 || gen >= rm_next_gen) {
        fprintf(stderr, "destructor called on unknown instance %llu\n", (unsigned long long)gen);
        abort();
    }
    unsigned char st = rm_inst[gen];
    if (!(st == RM_RELEASED || (st == RM_IN_MAP && rm_freeing))) {
        fprintf(stderr, "destructor called on instance %llu in state %u%s\n", (unsigned long long)gen,
                st, st == RM_DESTROYED ? " (destroyed twice)" : st == RM_IN_MAP ? " (still in the map)" : "");
        abort();
    }
    rm_inst[gen] = RM_DESTROYED;
}

static inline void rm_key_destroy(void *k) {
    rm_owned_key key;
    memcpy(&key, k, sizeof key);
    rm_key_destroys++;
    rm_destroyed(key.gen);
}

static inline void rm_val_destroy(void *v) {
    rm_owned_val val;
    memcpy(&val, v, sizeof val);
    rm_val_destroys++;
    if (val.gen == 0) return; /* a value never written (zeroed by assign) */
    rm_destroyed(val.gen);
}

/* A destroyed key must never be hashed or compared again (gen 0 marks a
   probe key made by the test, not an instance). */
static inline void rm_owned_alive(const rm_owned_key *k) {
    if (k->gen != 0 && k->gen < RM_INST_MAX && rm_inst[k->gen] == RM_DESTROYED) {
        fprintf(stderr, "key instance %llu used after its destructor ran\n", (unsigned long long)k->gen);
        abort();
    }
}

static inline uint64_t rm_owned_hash(const void *k, uint64_t seed) {
    rm_owned_key key;
    memcpy(&key, k, sizeof key);
    rm_owned_alive(&key);
    return gomap_hash_u64(key.id, seed);
}

static inline bool rm_owned_equal(const void *a, const void *b) {
    rm_owned_key x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    rm_owned_alive(&x);
    rm_owned_alive(&y);
    return x.id == y.id;
}

/* {id, gen} keys with rm_owned_val values and both destructors; flags may
   add GOMAP_F_KEY_UPDATE.  Keys and values may be made larger (padding after
   the tracked fields), e.g. beyond GOMAP_MAX_INLINE to go out of line. */
static inline gomap_type rm_owned_type_sized(unsigned flags, size_t key_size, size_t val_size) {
    gomap_type t;
    memset(&t, 0, sizeof t);
    t.kind = GOMAP_KEY_CUSTOM;
    t.key_size = key_size;
    t.key_align = 8;
    t.val_size = val_size;
    t.val_align = 8;
    t.flags = flags;
    t.hash = rm_owned_hash;
    t.equal = rm_owned_equal;
    t.key_destroy = rm_key_destroy;
    t.val_destroy = rm_val_destroy;
    return t;
}

static inline gomap_type rm_owned_type(unsigned flags) {
    return rm_owned_type_sized(flags, sizeof(rm_owned_key), sizeof(rm_owned_val));
}

/* Every instance that was ever in a map has been destroyed. */
static inline bool rm_all_destroyed(void) {
    for (uint64_t g = 1; g < rm_next_gen; g++)
        if (rm_inst[g] == RM_IN_MAP || rm_inst[g] == RM_RELEASED) {
            fprintf(stderr, "instance %llu (state %u) was never destroyed\n", (unsigned long long)g,
                    rm_inst[g]);
            return false;
        }
    return true;
}

#endif

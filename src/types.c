/*
 * types.c -- type descriptors: the built-in key kinds, their hash and
 * equality (Go's semantics for floats and strings), and descriptor checks.
 */
#include "internal.h"

#include <math.h>

/* Go's float hash constants (runtime/alg.go): zero of either sign hashes to
   c1 * (c0 ^ seed), so +0 and -0, which are equal, hash equal. */
#define GM_F_C0 33054211828000289ull
#define GM_F_C1 23344194077549503ull

static uint64_t gm_hash_f64(double x, uint64_t seed) {
    if (x == 0) return GM_F_C1 * (GM_F_C0 ^ seed);
    /* Every NaN is a new key: hash it to a random place, so that many NaN
       keys spread over the buckets instead of forming one long chain. */
    if (x != x) return GM_F_C1 * (GM_F_C0 ^ seed ^ gm_rand64());
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return gm_hash_u64(bits, seed);
}

static uint64_t gm_hash_f32(float x, uint64_t seed) {
    if (x == 0) return GM_F_C1 * (GM_F_C0 ^ seed);
    if (x != x) return GM_F_C1 * (GM_F_C0 ^ seed ^ gm_rand64());
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return gm_hash_u32(bits, seed);
}

uint64_t gm_key_hash(const gomap_type *t, const void *key, uint64_t seed) {
    switch (t->kind) {
    case GOMAP_KEY_U32: {
        uint32_t k;
        memcpy(&k, key, 4);
        return gm_hash_u32(k, seed);
    }
    case GOMAP_KEY_U64: {
        uint64_t k;
        memcpy(&k, key, 8);
        return gm_hash_u64(k, seed);
    }
    case GOMAP_KEY_F32: {
        float f;
        memcpy(&f, key, 4);
        return gm_hash_f32(f, seed);
    }
    case GOMAP_KEY_F64: {
        double d;
        memcpy(&d, key, 8);
        return gm_hash_f64(d, seed);
    }
    case GOMAP_KEY_STR:
    case GOMAP_KEY_STR_COPY: {
        const gomap_str *s = (const gomap_str *)key;
        return gm_hash_bytes(s->ptr, s->len, seed);
    }
    case GOMAP_KEY_U8:
    case GOMAP_KEY_U16:
    case GOMAP_KEY_BYTES:
        return gm_hash_bytes(key, t->key_size, seed);
    case GOMAP_KEY_CUSTOM:
    default:
        return t->hash(key, seed);
    }
}

bool gm_key_equal(const gomap_type *t, const void *a, const void *b) {
    switch (t->kind) {
    case GOMAP_KEY_F32: {
        float x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x == y;
    }
    case GOMAP_KEY_F64: {
        double x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x == y;
    }
    case GOMAP_KEY_STR:
    case GOMAP_KEY_STR_COPY: {
        const gomap_str *x = (const gomap_str *)a, *y = (const gomap_str *)b;
        return x->len == y->len && (x->ptr == y->ptr || x->len == 0 ||
                                    memcmp(x->ptr, y->ptr, x->len) == 0);
    }
    case GOMAP_KEY_CUSTOM:
        return t->equal(a, b);
    default:
        return t->key_size == 0 || memcmp(a, b, t->key_size) == 0;
    }
}

/* The key size each built-in kind requires (BYTES and CUSTOM: any). */
static size_t gm_kind_size(enum gomap_key_kind kind, size_t key_size) {
    switch (kind) {
    case GOMAP_KEY_U8: return 1;
    case GOMAP_KEY_U16: return 2;
    case GOMAP_KEY_U32:
    case GOMAP_KEY_F32: return 4;
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64: return 8;
    case GOMAP_KEY_STR:
    case GOMAP_KEY_STR_COPY: return sizeof(gomap_str);
    default: return key_size;
    }
}

gomap_type gomap_type_builtin(enum gomap_key_kind kind, size_t key_size, size_t val_size,
                              size_t val_align) {
    gomap_type t;
    memset(&t, 0, sizeof t);
    t.kind = kind;
    t.key_size = gm_kind_size(kind, key_size);
    t.key_align = 1;
    while (t.key_align < 8 && t.key_align * 2 <= t.key_size && t.key_size % (t.key_align * 2) == 0)
        t.key_align *= 2;
    t.val_size = val_size;
    t.val_align = val_align ? val_align : 1;
    if (kind == GOMAP_KEY_F32 || kind == GOMAP_KEY_F64)
        t.flags = GOMAP_F_NONREFLEXIVE | GOMAP_F_KEY_UPDATE;
    else if (kind == GOMAP_KEY_STR)
        t.flags = GOMAP_F_KEY_UPDATE;
    return t;
}

static bool gm_align_ok(size_t size, size_t align) {
    if (align == 0) align = 1;
    return align <= 16 && (align & (align - 1)) == 0 && size % align == 0;
}

int gomap_type_check(const gomap_type *t) {
    if (!t) return GOMAP_EINVAL;
    if (!gm_align_ok(t->key_size, t->key_align) || !gm_align_ok(t->val_size, t->val_align))
        return GOMAP_EINVAL;
    if ((size_t)t->kind > (size_t)GOMAP_KEY_BYTES) return GOMAP_EINVAL;
    if (t->flags & ~(GOMAP_F_NONREFLEXIVE | GOMAP_F_KEY_UPDATE)) return GOMAP_EINVAL;
    if (t->kind == GOMAP_KEY_CUSTOM && (!t->hash || !t->equal)) return GOMAP_EINVAL;
    if (t->key_size != gm_kind_size(t->kind, t->key_size)) return GOMAP_EINVAL;
    /* The map owns and frees STR_COPY bytes itself. */
    if (t->kind == GOMAP_KEY_STR_COPY && t->key_destroy) return GOMAP_EINVAL;
    /* Sizes so large that a bucket's size would overflow are impossible. */
    if (t->key_size > ((size_t)1 << 40) || t->val_size > ((size_t)1 << 40)) return GOMAP_EINVAL;
    return GOMAP_OK;
}

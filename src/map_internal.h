/*
 * map_internal.h -- the map's data structures, constants and small helpers,
 * shared by map.c (operations), grow.c (arrays and growth), mem.c (memory),
 * iter.c (iteration) and check.c (stats and the invariant checker).  The design essay is at the top
 * of map.c, with the invariants I1..I15 that check.c verifies.
 */
#ifndef GOMAP_MAP_INTERNAL_H
#define GOMAP_MAP_INTERNAL_H

#include "internal.h"

#include <stdatomic.h>

/* ---- constants (Go's runtime/map.go) --------------------------------------- */

enum {
    GM_BUCKET_BITS = 3,
    GM_BUCKET_SLOTS = 1 << GM_BUCKET_BITS, /* slots per bucket */
    GM_LOAD_NUM = 13,                       /* load factor 13/2 = 6.5 */
    GM_LOAD_DEN = 2,
};

/* Slot states kept in the tophash byte.  Values >= GM_MIN_TOPHASH mean the
   slot is live and hold the top 8 bits of the key's hash. */
enum {
    GM_EMPTY_REST = 0,      /* empty, and so is every later slot of the chain */
    GM_EMPTY_ONE = 1,       /* empty (a tombstone: later slots may be live) */
    GM_EVACUATED_X = 2,     /* live when evacuated; moved to the X (low) half */
    GM_EVACUATED_Y = 3,     /* live when evacuated; moved to the Y (high) half */
    GM_EVACUATED_EMPTY = 4, /* empty when its bucket was evacuated */
    GM_MIN_TOPHASH = 5,     /* smallest tophash of a live slot */
};
_Static_assert(GM_EVACUATED_Y == GM_EVACUATED_X + 1, "Y must follow X");
_Static_assert((GM_EVACUATED_X ^ 1) == GM_EVACUATED_Y, "X and Y differ in the low bit");
_Static_assert(GM_EMPTY_REST == 0, "a zeroed bucket must read as all emptyRest");

/* Map flags (gomap.flags, an atomic byte: iterators set theirs concurrently). */
enum {
    GM_ITERATOR = 1,     /* an iterator may be using the current array */
    GM_OLD_ITERATOR = 2, /* an iterator may be using the old array */
    GM_WRITING = 4,      /* a writer is inside a write operation */
    GM_SAME_SIZE = 8,    /* the grow in progress keeps the same B */
};

/* Key handling selected once per map from the descriptor's kind. */
enum gm_path {
    GM_PATH_U32,     /* 4-byte keys compared as integers, inline hash */
    GM_PATH_U64,     /* 8-byte keys compared as integers, inline hash */
    GM_PATH_STR,     /* gomap_str keys: length, then pointer, then bytes */
    GM_PATH_GENERIC, /* everything else: gm_key_hash / gm_key_equal */
    GM_PATH_COUNTED, /* GENERIC, counting the work (gomap_set_counting) */
};

/* The iterator's "no bucket filter" marker (Go's noCheck). */
#define GM_NO_CHECK SIZE_MAX

/* ---- memory blocks ---------------------------------------------------------- */

/*
 * Every allocation the map makes (bucket arrays, standalone overflow buckets,
 * out-of-line keys and values, copied string bytes) starts with this header.
 * It lets a block be "retired" -- queued on the map's graveyard instead of
 * freed while an iterator may still read it -- without allocating.
 */
typedef struct gm_block {
    struct gm_block *next;
    size_t size; /* bytes asked of the allocator, header included */
} gm_block;
#define GM_BLOCK_HDR ((size_t)16)
_Static_assert(sizeof(gm_block) <= GM_BLOCK_HDR, "header fits its slot");

/* A key destructor call that must wait for live iterators: the keys are kept
   bytewise in the block after this header. */
typedef struct gm_deferred {
    gm_block blk;
    size_t nkeys;
} gm_deferred;

/* ---- bucket arrays ------------------------------------------------------------ */

/*
 * A bucket is split in two.  Its record -- the 8 tophash bytes and the
 * overflow link, 16 bytes -- sits in a dense array of records, one per
 * bucket of the array (preallocated overflow buckets included), so that
 * the records of a whole array are a small fraction of its memory and stay
 * in cache while the keys and values do not.  Its slots -- 8 keys, then 8
 * values -- sit in a second array at the same index.  A standalone overflow
 * bucket (allocated when the preallocated ones run out) is one block: the
 * record, then the slots.  A bucket is named by its record (gm_rec *);
 * gm_slots finds the slots.
 */
typedef struct gm_rec {
    uint8_t top[8];      /* tophash / slot state of each slot */
    struct gm_rec *next; /* the next bucket of the chain, or NULL */
} gm_rec;
_Static_assert(sizeof(gm_rec) == 16, "a record is 16 bytes: four to a cache line");

/*
 * One bucket array ("table"): 2^B buckets, followed by 2^(B-4) preallocated
 * overflow buckets when B >= 4.  The header is a small block of its own;
 * the memory `mem` holds the records, then (64-byte aligned) the slots, and
 * comes from the map's allocator, or, for the default allocator and arrays
 * of GM_MAP_MIN bytes or more, straight from mmap (fresh pages are
 * zero-filled by the OS on first touch, and can be given back a piece at a
 * time, see gm_release_some).  Buckets are NOT zeroed when the array is
 * allocated: a bucket of a new array is zeroed when the old bucket that
 * feeds it is evacuated (I7).
 */
typedef struct gm_table {
    gm_block blk;        /* the header's own block; links dead tables */
    unsigned B;
    size_t nbuckets;     /* 2^B */
    gm_rec *recs;        /* the records: main buckets, then preallocated overflow */
    char *slots;         /* the slots, bucket i's at slots + i * bsize */
    size_t recs_size;    /* bytes of records, main and preallocated */
    char *mem;           /* the bucket memory */
    size_t mem_size;
    bool mapped;         /* mem is an mmap region */
    gm_rec *pre_next;    /* next unused preallocated overflow bucket */
    gm_rec *pre_end;     /* end of the preallocated overflow buckets */
    gm_block *spare;     /* standalone overflow buckets reserved, not yet used */
    size_t standalone;   /* standalone overflow buckets linked into chains */
    size_t n_overflow;   /* overflow buckets linked into chains (exact) */
    atomic_size_t iter_refs; /* live iterators that may read this array */
} gm_table;

/* Arrays at least this large are mmap'ed when the map uses the default
   allocator, so that they can be returned to the OS incrementally. */
#define GM_MAP_MIN ((size_t)128 << 10)
/* Dead mmap'ed memory given back to the OS per write, at most: munmap costs
   about 75 us per MB of touched memory here, so a 128 MB array freed at once
   is a 15 ms pause (measured with a throwaway malloc/memset/free loop). */
#define GM_RELEASE_PER_WRITE ((size_t)GOMAP_RELEASE_PER_WRITE)
/* Bytes of the next array faulted in per write before its grow starts:
   about 60 us here (a fresh page costs 1.7-2 us whether touched or
   populated by madvise), and few enough calls that they stay out of the
   slowest 0.1% of inserts (docs/DESIGN.md, "What sets the slow inserts"). */
#define GM_PREFAULT_PER_WRITE ((size_t)GOMAP_PREFAULT_PER_WRITE)
/* Fault the next array in ahead only when its steps number at most one per
   this many inserts since the map last doubled (grow.c). */
#define GM_PREFAULT_RARITY 1000

/* A dead mmap region waiting to be unmapped; the node lives in the region's
   last page, which is unmapped last. */
typedef struct gm_region {
    struct gm_region *next;
    char *base;
    size_t size, done;
} gm_region;

/* ---- the map ------------------------------------------------------------------ */

struct gomap {
    size_t count;            /* live entries */
    atomic_uchar flags;      /* GM_ITERATOR | GM_OLD_ITERATOR | GM_WRITING | GM_SAME_SIZE */
    uint8_t path;            /* enum gm_path: what the calls dispatch on */
    uint8_t fast_path;       /* the kind's own path, while counting is on */
    uint8_t tracing;         /* a tracer is installed (GM_TRACING; sits in
                                what was padding, beside the hot fields) */
    uint16_t noverflow;      /* approximate overflow-bucket count (Go's) */
    unsigned B;              /* log2 of the number of buckets */
    uint64_t seed;           /* per-map hash seed */
    gm_table *buckets;       /* current array; NULL until the first insert if B == 0 */
    gm_table *oldbuckets;    /* array being evacuated; NULL when not growing */
    size_t nevacuate;        /* old buckets below this index are evacuated */
    uint64_t clear_seq;      /* bumped by every clear; iterators compare it */

    /* bucket layout, from the type */
    size_t ksz, vsz;         /* bytes per key / value slot (pointer if indirect) */
    size_t kstride, vstride; /* bytes from one slot's key / value to the next */
    size_t voff;             /* offset of the first value in a bucket's slots
                                (the first key: 0); see gm_layout */
    size_t bsize;            /* bytes of a bucket's slots (its record aside) */
    bool key_indirect;      /* keys stored out of line */
    bool val_indirect;              /* values stored out of line */
    bool key_update;         /* GOMAP_F_KEY_UPDATE (strings, floats) */
    bool reflexive;          /* every key equals itself (no NaN-like keys) */
    bool str_copy;           /* GOMAP_KEY_STR_COPY: the map owns string bytes */
    bool plain_keys;         /* dropping a key is just zeroing its slot */
    bool plain_vals;         /* dropping a value is just zeroing its slot */
    uint8_t prefetch_lines;  /* lines of a bucket's slots to prefetch
                                (gm_prefetch_slots); 0 while the array is
                                small enough to be cached (gm_cached) */
    gomap_type t;
    gomap_allocator a;

    /* memory kept for iterators (I14) */
    atomic_size_t live_iters; /* iterators initialised and not yet done */
    gm_block *graveyard;      /* released key blocks that a kept array still
                                 names; freed when no array is kept */
    gm_table *dead_tables;    /* kept arrays: dead, but live iterators may read
                                 them (iter_refs > 0) */
    gm_region *releasing;     /* dead mmap regions being unmapped bit by bit */
    gm_table *next;           /* the array the next grow will use, while its
                                 pages are faulted in (I13); else NULL */
    size_t next_faulted;      /* bytes of next's buckets faulted in so far */
    size_t prefault_at;       /* count at which an insert allocates next and
                                 starts faulting it in; SIZE_MAX: never */
    gm_deferred *deferred;    /* key destructor calls waiting for iterators */
    gm_table *dying;          /* arrays and overflow buckets that this write */
    gm_block *dying_blocks;   /* let go of, freed when it returns (gm_arg) */
    atomic_size_t retired;    /* blocks on the graveyard + deferred + kept arrays */
    atomic_bool reap;         /* an iterator let go of an array: the next
                                 write frees what no iterator holds */

    /* accounting and work counters (reported by gomap_stats_get) */
    atomic_size_t bytes;      /* atomic: the last iterator's done may free */
    uint64_t grows, same_size_grows, evacuated, slot_reuses;
    atomic_uint_least64_t visited_buckets, visited_slots; /* atomic: readers count too */
    unsigned op_evacuated, max_evacuated_per_op, max_scan_per_op;

    /* probe counters (gomap_probe_stats), counted with visited_* */
    atomic_uint_least64_t probe_hits, probe_misses, hit_buckets, hit_slots, miss_buckets,
        miss_slots, false_matches, overflow_walked;

    /* the tracer (events.c): tracing is set while one is installed */
    gomap_tracer_fn tracer;
    void *tracer_ctx;
    atomic_uint_least64_t trace_seq; /* events so far (readers emit too) */
    uint64_t trace_seed;      /* the seed the tracer last saw */
    uint64_t trace_reuses;    /* slot_reuses the tracer last saw */
    unsigned trace_old_B;     /* the grow the tracer saw start */
    bool trace_growing, trace_same;
};

/* ---- small helpers ------------------------------------------------------------ */

/* bytes and retired change in writers and in the gomap_iter_done that frees
   the graveyard; readers (stats) may look at any time. */
GM_INLINE void gm_count_add(atomic_size_t *c, size_t d) {
    atomic_fetch_add_explicit(c, d, memory_order_relaxed);
}
GM_INLINE void gm_count_sub(atomic_size_t *c, size_t d) {
    atomic_fetch_sub_explicit(c, d, memory_order_relaxed);
}
GM_INLINE size_t gm_count(const atomic_size_t *c) {
    return atomic_load_explicit((atomic_size_t *)(uintptr_t)c, memory_order_relaxed);
}

GM_INLINE unsigned gm_flags(const gomap *m) {
    return atomic_load_explicit(&((gomap *)m)->flags, memory_order_relaxed);
}
GM_INLINE void gm_set_flags(gomap *m, unsigned f) {
    atomic_store_explicit(&m->flags, (unsigned char)f, memory_order_relaxed);
}

GM_INLINE size_t gm_mask(unsigned B) { return ((size_t)1 << B) - 1; }

/* Top 8 bits of the hash, moved past the reserved marks. */
GM_INLINE uint8_t gm_tophash(uint64_t hash) {
    uint8_t top = (uint8_t)(hash >> 56);
    return top < GM_MIN_TOPHASH ? (uint8_t)(top + GM_MIN_TOPHASH) : top;
}
GM_INLINE bool gm_is_empty(uint8_t th) { return th <= GM_EMPTY_ONE; }

/* Load factor check: more than 8 entries and more than 6.5 per bucket. */
GM_INLINE bool gm_over_load(size_t count, unsigned B) {
    if (count <= GM_BUCKET_SLOTS) return false;
    if (B >= 58) return false;
    return count > (size_t)GM_LOAD_NUM * (((size_t)1 << B) / GM_LOAD_DEN);
}

/* "About as many overflow buckets as regular buckets" (capped at 2^15). */
GM_INLINE bool gm_too_many_overflow(uint16_t noverflow, unsigned B) {
    unsigned b = B > 15 ? 15 : B;
    return noverflow >= (1u << b);
}

GM_INLINE uint8_t *gm_tophashes(const gm_rec *b) { return (uint8_t *)(uintptr_t)b->top; }
GM_INLINE gm_rec *gm_bucket(const gm_table *t, size_t i) { return t->recs + i; }
GM_INLINE gm_rec *gm_overflow(const gm_rec *b) { return b->next; }

/* The slots of bucket b of array t: at the same index in the slot array,
   or, for a standalone overflow bucket, right after its record. */
GM_INLINE char *gm_slots(const gomap *m, const gm_table *t, const gm_rec *b);

/* Ask for the cache lines of the slots s of a bucket at once (the lines of
   s + 64 * j for j < prefetch_lines): the key compared and the value
   returned then arrive in about one memory latency, in parallel with the
   record.  prefetch_lines is 0 when the array is small enough to stay
   cached (prefetching would be wasted instructions), else the number of
   lines the slots span, at most 4. */
GM_INLINE void gm_prefetch_slots(const gomap *m, const char *s) {
    unsigned n = m->prefetch_lines;
    if (n) {
        GM_PREFETCH(s);
        if (n > 1) GM_PREFETCH(s + 64);
        if (n > 2) GM_PREFETCH(s + 128);
        if (n > 3) GM_PREFETCH(s + 192);
    }
}

/* Copy / zero n bytes, inline for the common small sizes (the variable-size
   library call costs more than the copy itself). */
GM_INLINE void gm_copy(void *d, const void *s, size_t n) {
    if (n == 8) {
        uint64_t x;
        memcpy(&x, s, 8);
        memcpy(d, &x, 8);
    } else if (n == 4) {
        uint32_t x;
        memcpy(&x, s, 4);
        memcpy(d, &x, 4);
    } else if (n == 16) {
        uint64_t x[2];
        memcpy(x, s, 16);
        memcpy(d, x, 16);
    } else if (n) {
        memcpy(d, s, n);
    }
}
GM_INLINE void gm_zero(void *d, size_t n) {
    static const uint64_t z[2];
    if (n == 8 || n == 4 || n == 16) gm_copy(d, z, n);
    else if (n) memset(d, 0, n);
}
/* The key / value slot i of a bucket whose slots are at s (the slot
   itself, not what it points to). */
GM_INLINE char *gm_kslot(const gomap *m, const char *s, size_t i) {
    return (char *)(uintptr_t)s + i * m->kstride;
}
GM_INLINE char *gm_vslot(const gomap *m, const char *s, size_t i) {
    return (char *)(uintptr_t)s + m->voff + i * m->vstride;
}
/* The key / value itself: through the pointer when stored out of line. */
GM_INLINE char *gm_deref(char *slot, bool indirect) {
    if (indirect) {
        char *p;
        memcpy(&p, slot, sizeof p);
        return p;
    }
    return slot;
}
GM_INLINE char *gm_key(const gomap *m, const char *s, size_t i) {
    return gm_deref(gm_kslot(m, s, i), m->key_indirect);
}
GM_INLINE char *gm_val(const gomap *m, const char *s, size_t i) {
    return gm_deref(gm_vslot(m, s, i), m->val_indirect);
}
/* The key slot for a fast path (keys never out of line there; see
   gm_select_path). */
GM_INLINE char *gm_key_at(const gomap *m, const char *s, size_t i, int path) {
    if (path == GM_PATH_U64 || path == GM_PATH_U32 || path == GM_PATH_STR) return gm_kslot(m, s, i);
    return gm_key(m, s, i);
}

GM_INLINE char *gm_slots(const gomap *m, const gm_table *t, const gm_rec *b) {
    size_t off = (size_t)((uintptr_t)b - (uintptr_t)t->recs);
    if (GM_LIKELY(off < t->recs_size)) return t->slots + off / sizeof(gm_rec) * m->bsize;
    return (char *)(uintptr_t)(b + 1);
}

/* A bucket is evacuated when its first slot carries an evacuation mark. */
GM_INLINE bool gm_evacuated(const gm_rec *b) {
    uint8_t th = b->top[0];
    return th > GM_EMPTY_ONE && th < GM_MIN_TOPHASH;
}

GM_INLINE size_t gm_old_nbuckets(const gomap *m) { return m->oldbuckets->nbuckets; }

/* Is old bucket i evacuated?  Below nevacuate it is, without reading it
   (that memory may already be given back to the OS). */
GM_INLINE bool gm_old_evacuated(const gomap *m, size_t i) {
    return i < m->nevacuate || gm_evacuated(gm_bucket(m->oldbuckets, i));
}

/* Is bucket i of the current array filled in?  While growing, a new bucket
   is valid only once the old bucket feeding it has been evacuated (I7). */
GM_INLINE bool gm_new_bucket_ready(const gomap *m, size_t i) {
    if (!m->oldbuckets) return true;
    return gm_old_evacuated(m, i & (m->oldbuckets->nbuckets - 1));
}

/* Exact byte match of the 8 tophash bytes against top: bit 7 of byte i is
   set iff tophash[i] == top (no false positives). */
GM_INLINE uint64_t gm_match_byte(uint64_t word, uint8_t top) {
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full;
    uint64_t x = word ^ (0x0101010101010101ull * top);
    uint64_t y = (x & lo7) + lo7;
    return ~(y | x | lo7);
}
/* Bit i set when slot i holds something an iterator must look at: a live
   entry or an evacuatedX/Y mark (not emptyRest, emptyOne, evacuatedEmpty).
   The multiply gathers bit 7 of each byte into one byte (no carries: each
   product bit has one source). */
GM_INLINE unsigned gm_iter_slots(uint64_t w) {
    uint64_t skip = gm_match_byte(w, GM_EMPTY_REST) | gm_match_byte(w, GM_EMPTY_ONE) |
                    gm_match_byte(w, GM_EVACUATED_EMPTY);
    uint64_t full = (~skip & 0x8080808080808080ull) >> 7;
    return (unsigned)((full * 0x0102040810204080ull) >> 56);
}
/* The 8 tophash bytes as one word, byte i in bits 8i..8i+7 on any host. */
GM_INLINE uint64_t gm_tophash_word(const gm_rec *b) {
    uint64_t w;
    memcpy(&w, b->top, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Work counting (gomap_set_counting): buckets whose tophash bytes an
   operation read, and slots whose key it compared or whose entry it
   produced or released.  While counting is on, the map dispatches every
   call to GM_PATH_COUNTED, the generic code with the counting compiled in;
   the other paths have none of it, so counting costs nothing when off. */
GM_HIDDEN void gm_work_add(const gomap *m, size_t buckets, size_t slots);
GM_INLINE bool gm_counting(const gomap *m) { return m->path == GM_PATH_COUNTED; }
GM_INLINE void gm_work(const gomap *m, size_t buckets, size_t slots, int path) {
    if (path == GM_PATH_COUNTED) gm_work_add(m, buckets, slots);
}

/* Probe counting (gomap_probe_stats): a probe's buckets and slots, and
   whether it found its key; with the work counters, in the COUNTED path
   only.  buckets == 0: no chain was searched (an early failure). */
GM_HIDDEN void gm_probe_add(const gomap *m, size_t buckets, size_t slots, bool hit);
GM_INLINE void gm_work_probe(const gomap *m, size_t buckets, size_t slots, bool hit, int path) {
    if (path == GM_PATH_COUNTED) {
        gm_work_add(m, buckets, slots);
        gm_probe_add(m, buckets, slots, hit);
    }
}

/* ---- trace events (events.c) ------------------------------------------------ */

/* GOMAP_TRACE (CMake option, default ON) compiles the event sites in.  A
   site is `if (GM_TRACING(m)) gm_ev_...(...)`: with no tracer, one
   predictable branch on a byte of the map's first cache line; the event is
   built in the (never inlined) gm_ev_ function.  Off, the sites vanish. */
#ifndef GOMAP_TRACE
#define GOMAP_TRACE 1
#endif
#if GOMAP_TRACE
#define GM_TRACING(m) GM_UNLIKELY((m)->tracing != 0)
#else
#define GM_TRACING(m) 0
#endif
GM_HIDDEN GM_NOINLINE void gm_ev_grow_start(gomap *m);
GM_HIDDEN GM_NOINLINE void gm_ev_grow_done(gomap *m);
GM_HIDDEN GM_NOINLINE void gm_ev_evacuated(gomap *m, size_t oldbucket);
GM_HIDDEN GM_NOINLINE void gm_ev_overflow(gomap *m, const gm_table *t, size_t bucket);
GM_HIDDEN GM_NOINLINE void gm_ev_inserted(gomap *m, const gm_table *t, size_t bucket,
                                          const gm_rec *b, size_t slot);
GM_HIDDEN GM_NOINLINE void gm_ev_deleted(gomap *m, const gm_table *t, const gm_rec *head,
                                         const gm_rec *b, size_t slot);
GM_HIDDEN GM_NOINLINE void gm_ev_cleared(gomap *m, size_t removed);
GM_HIDDEN GM_NOINLINE void gm_ev_iter(const gomap *m, const void *it, bool start, size_t bucket);

/* ---- hashing a key ------------------------------------------------------------ */

GM_INLINE uint64_t gm_hash_key(const gomap *m, const void *key, int path) {
    if (path == GM_PATH_U64) {
        uint64_t k;
        memcpy(&k, key, 8);
        return gm_hash_u64(k, m->seed);
    }
    if (path == GM_PATH_U32) {
        uint32_t k;
        memcpy(&k, key, 4);
        return gm_hash_u32(k, m->seed);
    }
    if (path == GM_PATH_STR) {
        const gomap_str *s = (const gomap_str *)key;
        return gm_hash_bytes(s->ptr, s->len, m->seed);
    }
    return gm_key_hash(&m->t, key, m->seed);
}

/* Are the key argument and a stored key (already dereferenced) equal? */
GM_INLINE bool gm_keys_equal(const gomap *m, const void *key, const char *stored, int path) {
    if (path == GM_PATH_U64) {
        uint64_t a, b;
        memcpy(&a, key, 8);
        memcpy(&b, stored, 8);
        return a == b;
    }
    if (path == GM_PATH_U32) {
        uint32_t a, b;
        memcpy(&a, key, 4);
        memcpy(&b, stored, 4);
        return a == b;
    }
    if (path == GM_PATH_STR) {
        const gomap_str *a = (const gomap_str *)key;
        gomap_str b;
        memcpy(&b, stored, sizeof b);
        return a->len == b.len &&
               (a->ptr == b.ptr || a->len == 0 || memcmp(a->ptr, b.ptr, a->len) == 0);
    }
    return gm_key_equal(&m->t, key, stored);
}

/* ---- debug mode (GOMAP_DEBUG, src/debug.c) ------------------------------------ */

#ifndef GOMAP_DEBUG
#define GOMAP_DEBUG 0
#endif
/* An iterator's magic while initialised (gomap_iter_init); anything else in
   a debug build is an iterator that was never initialised. */
#define GM_ITER_MAGIC 0x676d6974u
#if GOMAP_DEBUG
GM_HIDDEN bool gm_debug_register(const gomap *m);
GM_HIDDEN bool gm_debug_unregister(const gomap *m);
GM_HIDDEN bool gm_debug_live(const gomap *m, const char *msg);
/* At the top of a call taking map m: a map that is not live (freed, or
   never created) is a fatal error; the call then returns `fail`. */
#define GM_DEBUG_MAP(m, call, fail)                                                          \
    do {                                                                                     \
        if ((m) && !gm_debug_live((m), call ": map used after gomap_free (or never created)")) \
            return fail;                                                                     \
    } while (0)
/* At the end of a read of map m: a write that started meanwhile is Go's
   "concurrent map read and map write" (the check at the start missed it). */
#define GM_DEBUG_READ_END(m)                                                                 \
    do {                                                                                     \
        if (gm_flags(m) & GM_WRITING) gm_fatal("concurrent map read and map write");         \
    } while (0)
#else
#define GM_DEBUG_MAP(m, call, fail) ((void)0)
#define GM_DEBUG_READ_END(m) ((void)0)
#endif
#if GOMAP_DEBUG
/* At the top of an iterator call: the iterator must have been initialised,
   and its map (once it started walking one) must still be live. */
#define GM_DEBUG_ITER(it, call, fail)                                                        \
    do {                                                                                     \
        if ((it) && (it)->magic != GM_ITER_MAGIC) {                                          \
            gm_fatal(call ": iterator not initialised with gomap_iter_init");               \
            return fail;                                                                     \
        }                                                                                    \
        if ((it) && (it)->live &&                                                            \
            !gm_debug_live((it)->map, call ": iterator used after its map was freed"))        \
            return fail;                                                                     \
    } while (0)
/* Before an iterator step returns an entry: a write that started meanwhile. */
#define GM_DEBUG_ITER_END(m)                                                                 \
    do {                                                                                     \
        if (gm_flags(m) & GM_WRITING) gm_fatal("concurrent map iteration and map write");    \
    } while (0)
#else
#define GM_DEBUG_ITER(it, call, fail) ((void)0)
#define GM_DEBUG_ITER_END(m) ((void)0)
#endif

/* ---- shared between the map's files ------------------------------------------ */

/* Does a live iterator hold array t (iter_refs)? */
GM_INLINE bool gm_table_held(const gm_table *t) {
    return atomic_load_explicit(&((gm_table *)(uintptr_t)t)->iter_refs, memory_order_acquire) != 0;
}

/* memory (mem.c) */
GM_HIDDEN void *gm_block_alloc(gomap *m, size_t payload);
GM_HIDDEN void gm_block_free(gomap *m, gm_block *blk);
GM_HIDDEN bool gm_mem_alloc(gomap *m, gm_table *t, size_t size);
GM_HIDDEN void gm_mem_free(gomap *m, gm_table *t);
GM_HIDDEN void gm_release_some(gomap *m, size_t budget);
GM_HIDDEN size_t gm_prefault_pending(const gomap *m);
GM_HIDDEN void gm_prefault_some(gomap *m);
GM_HIDDEN size_t gm_prefault_threshold(const gomap *m);
GM_HIDDEN void gm_prefault_begin(gomap *m);
GM_HIDDEN void gm_next_drop(gomap *m);

/* memory kept for iterators, and freed when a write returns (map.c) */
GM_HIDDEN void gm_reap(gomap *m);
GM_HIDDEN void gm_dying_block(gomap *m, gm_block *blk);
GM_HIDDEN void gm_free_dying(gomap *m);
GM_HIDDEN void gm_set_current(gomap *m, gm_table *t);

/* lookup for the iterator: key and value pointers of key's entry, or NULL */
GM_HIDDEN char *gm_lookup_kv(const gomap *m, const void *key, char **val_out);

/* arrays and growth (grow.c) */
GM_HIDDEN size_t gm_table_mem_size(const gomap *m, unsigned B);
GM_HIDDEN gm_table *gm_table_new(gomap *m, unsigned B);
GM_HIDDEN void gm_table_zero(gomap *m, gm_table *t);
GM_HIDDEN void gm_table_retire(gomap *m, gm_table *t);
GM_HIDDEN void gm_table_free(gomap *m, gm_table *t);
GM_HIDDEN gm_rec *gm_new_overflow(gomap *m, gm_table *t, gm_rec *b);
GM_HIDDEN int gm_hash_grow(gomap *m);
GM_HIDDEN int gm_grow_work(gomap *m, size_t bucket);

/* walking every live entry (map.c): fn(ctx, record, slots, slot) for
   bucket b with slots s; returns the number of buckets walked */
typedef void (*gm_entry_fn)(void *ctx, gm_rec *b, char *s, size_t i);
GM_HIDDEN size_t gm_for_each(const gomap *m, gm_entry_fn fn, void *ctx);

#endif

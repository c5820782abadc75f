/**
 * @file
 * gomap.h -- the Go runtime's classic map, as a C11 library.
 *
 * A gomap is a hash map of fixed-size keys to fixed-size values, laid out and
 * grown exactly as Go's runtime map (Go 1.0-1.23): buckets of 8 slots with a
 * tophash byte per slot, overflow chains, load factor 6.5, and growth that is
 * done incrementally, at most GOMAP_EVACUATE_PER_WRITE old buckets per write.
 *
 * ------------------------------------------------------------------------
 * Conventions that hold for every function below
 * ------------------------------------------------------------------------
 *
 * Errors.  Functions that can fail return an int status: GOMAP_OK (0) or a
 * positive count on success, a negative GOMAP_E* code on failure.  Functions
 * returning a pointer return NULL on failure.  gomap_strerror() names a code.
 *
 * Out of memory.  Every allocation goes through the map's allocator and may
 * fail.  The library never aborts or exits on a failed allocation: the call
 * returns GOMAP_ENOMEM (or NULL) and the map holds exactly the entries it held
 * before, with every invariant intact.  (Incremental growth work that the
 * call did before the failure -- moving entries from the old bucket array to
 * the new one -- may remain done; it is invisible except through
 * gomap_stats_get().)
 *
 * Bad input.  A NULL map, a NULL key (for a key of non-zero size), a NULL
 * output pointer or an impossible type descriptor is reported as GOMAP_EINVAL
 * (or NULL); it never crashes.  Read-only calls on a NULL map behave as on an
 * empty map, as Go's nil map does: gomap_len() is 0, gomap_get() is NULL.
 * Hints that are negative or too large are treated as 0, as in Go.
 *
 * Pointers into the map.  gomap_get() and gomap_assign() return a pointer to
 * the value stored inside the map.  It stays valid until the next call that
 * writes to the map (assign, put, delete, clear, free); then it is stale.
 * Iterators stay valid across writes (see gomap_iter).  Such a pointer may
 * be handed back to any write on the same map as its key or value argument:
 * gomap_put(m, &k2, gomap_get(m, &k1)) is Go's m[k2] = m[k1], and works.
 * Every write copies its key and value arguments before it moves anything
 * (keys and values over GOMAP_MAX_INLINE bytes need no copy: they are
 * stored out of line, where growth never moves or frees them); the batch
 * writes copy each pair when they hash it, before the writes ahead of it.
 *
 * Threads.  A map may be read (get, len, iterate, clone, stats, check) from
 * many threads at once.  A write (assign, put, delete, clear) must not run at
 * the same time as any other call on the same map.  gomap detects such misuse
 * cheaply, as Go does, and calls the fatal handler with one of Go's three
 * messages: "concurrent map writes", "concurrent map read and map write",
 * "concurrent map iteration and map write".  Detection is best effort.
 * For a map that many threads write, use the concurrent map (gomap_sync.h).
 */
#ifndef GOMAP_H
#define GOMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* FILE, for gomap_render_html */

#ifdef __cplusplus
extern "C" {
#endif

/** Marks the library's exported functions (default visibility while the
    library itself is built; empty for its users). */
#if defined(GOMAP_BUILDING) && defined(__GNUC__)
#define GOMAP_API __attribute__((visibility("default")))
#else
#define GOMAP_API
#endif

#define GOMAP_VERSION_MAJOR 0 /**< the library's version: major */
#define GOMAP_VERSION_MINOR 1 /**< minor */
#define GOMAP_VERSION_PATCH 0 /**< patch */

/* ---------------------------------------------------------------------- */
/* Status codes                                                            */
/* ---------------------------------------------------------------------- */

/** Status codes: GOMAP_OK, or a negative error (see "Errors" above). */
enum {
    GOMAP_OK = 0,             /**< success */
    GOMAP_ENOMEM = -1,        /**< an allocation failed; the map is unchanged */
    GOMAP_EINVAL = -2,        /**< a bad argument; nothing was done */
    GOMAP_ECONCURRENT = -3,   /**< concurrent misuse detected and the fatal
                                 handler returned; the map may be corrupt */
    GOMAP_ENOTSUP = -4,       /**< not in this build (for example tracing,
                                 compiled out with GOMAP_TRACE=OFF) */
    GOMAP_EIO = -5,           /**< a file could not be opened or written */
};

/** A static, human-readable name for a status code ("out of memory", ...). */
GOMAP_API const char *gomap_strerror(int status);

/* ---------------------------------------------------------------------- */
/* Allocator                                                               */
/* ---------------------------------------------------------------------- */

/**
 * malloc/free with a context pointer.  alloc must return memory aligned to at
 * least 16 bytes (as malloc does), or NULL.  free receives the size that was
 * asked for.  A map calls its allocator only from inside gomap calls on that
 * map, never from two threads at once for the same map.
 */
typedef struct gomap_allocator {
    void *(*alloc)(void *ctx, size_t size);          /**< malloc, with ctx */
    void (*free)(void *ctx, void *ptr, size_t size); /**< free, with ctx and the size */
    void *ctx;                                       /**< passed to both */
} gomap_allocator;

/* ---------------------------------------------------------------------- */
/* Type descriptors                                                        */
/* ---------------------------------------------------------------------- */

/** hash(key, seed): any good 64-bit hash of the key's bytes mixed with seed.
   Keys that are equal must hash equal for the same seed. */
typedef uint64_t (*gomap_hash_fn)(const void *key, uint64_t seed);
/** equal(a, b): true when the two keys are the same key. */
typedef bool (*gomap_equal_fn)(const void *a, const void *b);
/** destroy(obj): release what a stored key or value owns.  Called by delete,
   clear, free, and by put (old value) and key update (old key). */
typedef void (*gomap_destroy_fn)(void *obj);

/** Key kinds.  A kind other than CUSTOM selects a built-in hash, equality and,
   for U32, U64 and STR, a fast path without indirect calls. */
enum gomap_key_kind {
    GOMAP_KEY_CUSTOM = 0, /**< hash and equal from the descriptor */
    GOMAP_KEY_U32,        /**< uint32_t / int32_t (any 4-byte plain key) */
    GOMAP_KEY_U64,        /**< uint64_t / int64_t (any 8-byte plain key) */
    GOMAP_KEY_U8,         /**< uint8_t / int8_t / bool */
    GOMAP_KEY_U16,        /**< uint16_t / int16_t */
    GOMAP_KEY_F32,        /**< float, Go semantics: +0 == -0, NaN != NaN */
    GOMAP_KEY_F64,        /**< double, Go semantics */
    GOMAP_KEY_STR,        /**< gomap_str, bytes borrowed from the caller */
    GOMAP_KEY_STR_COPY,   /**< gomap_str, bytes copied into and owned by the map */
    GOMAP_KEY_BYTES,      /**< fixed-size blob of key_size bytes, memcmp */
};

/** Type flags. */
#define GOMAP_F_NONREFLEXIVE 0x1u /**< a key may be unequal to itself (NaN) */
#define GOMAP_F_KEY_UPDATE   0x2u /**< overwrite replaces the stored key (set by
                                         gomap_type_builtin for STR, F32, F64) */

/**
 * A string key: a view of len bytes at ptr.  With GOMAP_KEY_STR the map stores
 * the view only: the bytes must stay valid and unchanged while the key is in
 * the map (as Go, an overwrite stores the new view: GOMAP_F_KEY_UPDATE).  With
 * GOMAP_KEY_STR_COPY the map copies the bytes on insert and frees its copy on
 * delete, clear and free; the caller's bytes are needed only during the call.
 * ptr may be NULL when len is 0.
 */
typedef struct gomap_str {
    const char *ptr; /**< the first byte (NULL allowed when len is 0) */
    size_t len;      /**< the number of bytes */
} gomap_str;

/**
 * What the map needs to know about keys and values.  gomap_new() copies the
 * descriptor, so it may live on the stack.  Rules, else GOMAP_EINVAL:
 *   - alignments are powers of two no larger than 16 (0 means 1);
 *   - sizes are multiples of their alignment (a size may be 0: a set is a map
 *     with zero-size values; a zero-size key type has exactly one key);
 *   - CUSTOM keys need hash and equal;
 *   - built-in kinds need the matching key_size (BYTES: any size).
 * Keys or values larger than GOMAP_MAX_INLINE bytes are stored out of line
 * (the slot holds a pointer to a separate allocation), as Go does.
 */
typedef struct gomap_type {
    /** @{ */
    /** Sizes and alignments of a key and of a value (rules above). */
    size_t key_size, key_align;
    size_t val_size, val_align;
    /** @} */
    enum gomap_key_kind kind;  /**< the key kind */
    unsigned flags;            /**< GOMAP_F_* */
    gomap_hash_fn hash;        /**< CUSTOM only (built-in kinds ignore it) */
    gomap_equal_fn equal;      /**< CUSTOM only (built-in kinds ignore it) */
    gomap_destroy_fn key_destroy; /**< optional */
    gomap_destroy_fn val_destroy; /**< optional */
} gomap_type;

#define GOMAP_MAX_INLINE 128 /**< larger keys and values are stored out of line */

/**
 * A descriptor for a built-in key kind with values of val_size bytes aligned
 * to val_align.  key_size is used by GOMAP_KEY_BYTES only (ignored otherwise).
 * Invalid combinations give a descriptor that gomap_new() rejects.
 */
GOMAP_API gomap_type gomap_type_builtin(enum gomap_key_kind kind, size_t key_size,
                                        size_t val_size, size_t val_align);

/** @{ */
/** Convenience: uint64_t -> uint64_t, and gomap_str -> uint64_t. */
#define GOMAP_TYPE_U64_U64 gomap_type_builtin(GOMAP_KEY_U64, 8, 8, 8)
#define GOMAP_TYPE_STR_U64 gomap_type_builtin(GOMAP_KEY_STR, 0, 8, 8)
/** @} */

/** Check a descriptor without creating a map: GOMAP_OK or GOMAP_EINVAL. */
GOMAP_API int gomap_type_check(const gomap_type *t);

/* ---------------------------------------------------------------------- */
/* Hashing                                                                 */
/* ---------------------------------------------------------------------- */

/** @{ */
/**
 * The hash used by the built-in kinds, for building custom hash functions.
 * Seeded twice: by a per-process random key (mixed in internally) and by the
 * seed argument (gomap passes the per-map seed).  Uses the CPU's AES
 * instructions when present (checked at run time), else a portable
 * multiply-mix hash.  Equal inputs hash equal within one process.
 */
GOMAP_API uint64_t gomap_hash_bytes(const void *p, size_t n, uint64_t seed);
GOMAP_API uint64_t gomap_hash_u32(uint32_t x, uint64_t seed);
GOMAP_API uint64_t gomap_hash_u64(uint64_t x, uint64_t seed);
/** @} */

/** The hash implementations, for gomap_hash_select(). */
enum gomap_hash_impl {
    GOMAP_HASH_AUTO = 0,     /**< AES if the CPU has it, else portable */
    GOMAP_HASH_AES = 1,      /**< the CPU's AES instructions */
    GOMAP_HASH_PORTABLE = 2, /**< the portable multiply-mix hash */
};

/**
 * Choose the hash implementation for the whole process.  Must be called
 * before any map is created (maps hash with whatever was active when they
 * were filled).  The environment variable GOMAP_HASH=portable does the same
 * at start-up.  Returns GOMAP_OK, or GOMAP_EINVAL if AES was asked for and
 * the CPU lacks it.
 */
GOMAP_API int gomap_hash_select(enum gomap_hash_impl impl);
/** "aes" or "portable": the implementation in use. */
GOMAP_API const char *gomap_hash_name(void);

/* ---------------------------------------------------------------------- */
/* The map                                                                 */
/* ---------------------------------------------------------------------- */

/** A map (opaque): gomap_create() makes one, gomap_free() frees it. */
typedef struct gomap gomap;

/**
 * Create a map sized for about hint entries (Go's make(map[K]V, hint)): the
 * smallest B with hint <= 6.5 * 2^B; no bucket is allocated while B is 0.
 * A negative or absurd hint counts as 0.  alloc may be NULL (malloc/free);
 * it is copied.  Returns GOMAP_OK and sets *out, or GOMAP_EINVAL (bad type,
 * NULL out) or GOMAP_ENOMEM, leaving *out NULL.
 */
GOMAP_API int gomap_create(gomap **out, const gomap_type *t, int64_t hint,
                           const gomap_allocator *alloc);
/** @{ */
/** Shorthands for gomap_create(): NULL on any error. */
GOMAP_API gomap *gomap_new(const gomap_type *t, int64_t hint);
GOMAP_API gomap *gomap_new_with(const gomap_type *t, int64_t hint,
                                const gomap_allocator *alloc);
/** @} */

/** Free the map and everything it owns (calling the destructors).  NULL is a
   no-op.  No iterator may be used after this. */
GOMAP_API void gomap_free(gomap *m);

/** Number of entries (NaN keys included).  O(1).  NULL: 0. */
GOMAP_API size_t gomap_len(const gomap *m);

/**
 * Look key up.  Returns a pointer to its value inside the map, or NULL when
 * absent (or m or key is NULL).  For zero-size values a non-NULL pointer to
 * no bytes is returned on a hit.  Never changes the map; never allocates.
 */
GOMAP_API void *gomap_get(const gomap *m, const void *key);
/** As gomap_get, and also sets *stored_key to the stored key (which may
   differ in bytes from key: -0.0 vs +0.0, another string view), or to NULL
   on a miss.  stored_key must not be NULL (else NULL is returned). */
GOMAP_API void *gomap_get_key(const gomap *m, const void *key, const void **stored_key);

/**
 * Look up n keys at once: vals[i] = gomap_get(m, key i), where key i is at
 * (const char *)keys + i * key_size (an array of keys).  A software
 * pipeline: each key is hashed and its bucket prefetched 16 keys ahead of
 * its probe, so that the cache misses of many lookups overlap; about twice
 * as fast as n calls on a map larger than the cache.  Returns the number
 * of keys found, or 0 with every vals[i] NULL if m, keys (n > 0,
 * key_size > 0) or vals is NULL.  Never changes the map.
 */
GOMAP_API size_t gomap_get_many(const gomap *m, const void *keys, size_t n, void **vals);

/**
 * Go's m[key] as an lvalue: find key, inserting it with a zeroed value when
 * absent, and return a pointer to its value slot, so that
 *     ++*(int *)gomap_assign(m, &k);
 * counts.  NULL on GOMAP_ENOMEM/GOMAP_EINVAL (the map unchanged).  The
 * pointer is valid until the next write to the map.  An insert may start a
 * grow (and any write may move at most GOMAP_EVACUATE_PER_WRITE old buckets).
 * On a hit with GOMAP_F_KEY_UPDATE the stored key is replaced by key (the old
 * one destroyed).  On insert the map takes ownership of the key's contents
 * (key_destroy will be called on it); on a hit without key update it does
 * not.
 */
GOMAP_API void *gomap_assign(gomap *m, const void *key);
/** As gomap_assign; *inserted (may be NULL) tells whether the key was new. */
GOMAP_API void *gomap_assign2(gomap *m, const void *key, bool *inserted);

/**
 * Store key -> *val (val_size bytes; val may be NULL when val_size is 0).
 * An existing value is destroyed (val_destroy) and overwritten.  Returns 1
 * when the key was inserted, 0 when updated, or GOMAP_ENOMEM / GOMAP_EINVAL.
 */
GOMAP_API int gomap_put(gomap *m, const void *key, const void *val);

/**
 * Remove key.  Returns 1 when removed, 0 when absent (including any NaN key),
 * GOMAP_EINVAL, or GOMAP_ENOMEM in one case only: the key type has a
 * key_destroy and a live iterator may still read the key, so the key must be
 * kept in a small allocation until the iterators are done, and that failed.
 * Even a delete of an absent key advances a grow in progress, as in Go.
 * When the map becomes empty it gets a new random seed.
 */
GOMAP_API int gomap_delete(gomap *m, const void *key);

/** @{ */
/**
 * Batch writes: the same as n calls of gomap_put(m, key i, value i) or
 * gomap_delete(m, key i), in order, where key i is at (const char *)keys +
 * i * key_size and value i at (const char *)vals + i * val_size.  Like
 * gomap_get_many they hash each key and prefetch its bucket 16 keys ahead
 * of its write, so that on a map larger than the cache the misses of many
 * writes overlap (see the README's figures).  Each write is a single write:
 * it does the same bounded share of a grow, and a key repeated in the batch
 * is handled in order (the last value wins).
 *
 * Returns GOMAP_OK after all n, else the error of the first write that
 * failed (GOMAP_ENOMEM, or GOMAP_ECONCURRENT from the misuse check): pairs
 * 0 .. *done - 1 were applied, the failed one left the map as it was, and
 * the rest were not tried.  done may be NULL; *done is n on success.  How
 * many keys were new or removed: the change in gomap_len().
 * GOMAP_EINVAL (nothing done) when m is NULL, or n > 0 and keys is NULL
 * (key_size > 0), or vals is NULL (put, val_size > 0).  With key_size 0
 * keys may be NULL: there is one key.
 */
GOMAP_API int gomap_put_many(gomap *m, const void *keys, const void *vals, size_t n,
                             size_t *done);
GOMAP_API int gomap_delete_many(gomap *m, const void *keys, size_t n, size_t *done);
/** @} */

/**
 * Remove every entry, NaN keys included, keeping the bucket array (clear does
 * not shrink, as in Go).  Gives the map a new random seed.  Iterators running
 * on the map stop returning pre-clear entries (Go 1.24's clearSeq rule).
 * Returns GOMAP_OK, GOMAP_EINVAL, or GOMAP_ENOMEM in one case only: the key
 * type has a key_destroy, iterators are live, and the block that keeps the
 * keys until they are done could not be allocated (the map is unchanged).
 * Iterators may then still produce entries inserted after the clear.
 */
GOMAP_API int gomap_clear(gomap *m);

/**
 * A new map with the same type, allocator, seed and entries (maps.Clone).
 * Keys and values are copied bytewise; GOMAP_KEY_STR_COPY keys and
 * out-of-line keys and values get copies of their own.  Returns NULL when
 * memory runs out (nothing leaks), when m is NULL, and when the type has a
 * key_destroy or val_destroy: a bytewise copy would make both maps destroy
 * the same resources, so such maps must be copied by the caller.  The clone
 * uses m's allocator: clones made from several threads at once call it from
 * those threads at once.
 */
GOMAP_API gomap *gomap_clone(const gomap *m);

/* ---------------------------------------------------------------------- */
/* Iteration                                                               */
/* ---------------------------------------------------------------------- */

/**
 * Iteration exactly as Go's `for k, v := range m`:
 *   - the order is random: a random start bucket and in-bucket offset;
 *   - each entry is produced at most once, even while the map grows;
 *   - an entry deleted before it is reached is not produced;
 *   - an entry inserted during iteration may or may not be produced;
 *   - a value updated before it is reached is produced with its latest value;
 *   - after gomap_clear(), no entry from before the clear is produced.
 * Writes to the map between gomap_iter_next() calls are allowed (from the
 * same thread).
 *
 *     gomap_iter it;
 *     gomap_iter_init(&it, m);
 *     while (gomap_iter_next(&it)) use(it.key, it.val);
 *
 * gomap_iter_next() returns false at the end and then releases the iterator.
 * key and val point into the map and are valid until the next write (also
 * across the end of the iteration and gomap_iter_done(): what a released
 * iterator held is freed by the next write).
 *
 * Memory.  An iterator holds the bucket array that was current when it
 * started, and the old one if the map was growing then.  When the map grows
 * past or clears a held array, the array stays allocated until the iterator
 * is released, and so does what each key it names owns if that key is
 * deleted meanwhile (copied string bytes, an out-of-line key, the key
 * destructor call, which then runs when the iterator is released): at most
 * one key per slot of the held arrays.  Nothing else waits for iterators.
 * An iterator abandoned early should be released with gomap_iter_done().
 * One that never is -- `while (gomap_iter_next(&it)) if (x) break;` --
 * keeps exactly that much (at most two arrays, as they were when it
 * started, and one key per slot of them) until the map is freed, however
 * much the map is written meanwhile.  retired_blocks of gomap_stats counts
 * what is kept.
 */
typedef struct gomap_iter {
    const void *key; /**< the current key (after gomap_iter_next() is true) */
    void *val;       /**< the current value */
    /* private */
    /** @cond GOMAP_PRIVATE */
    const gomap *map;
    const void *table, *old_table;
    const void *bptr, *btable; /* the bucket being walked, and its array */
    const char *bslots;        /* that bucket's slots */
    uint64_t clear_seq, step_seq;
    size_t start_bucket, bucket, check_bucket;
    uint8_t B, offset, todo, wrapped, live, pad[3];
    uint32_t magic; /* set by gomap_iter_init; checked in debug builds */
    /** @endcond */
} gomap_iter;

/** Start an iteration of m (a NULL or empty m: one that is at its end). */
GOMAP_API void gomap_iter_init(gomap_iter *it, const gomap *m);
/** Produce the next entry: true with it->key and it->val set, or false at the
    end, where the iterator is released. */
GOMAP_API bool gomap_iter_next(gomap_iter *it);
/** Release an iterator abandoned before the end; a no-op on a released one. */
GOMAP_API void gomap_iter_done(gomap_iter *it);

/**
 * Up to n entries at once: the same entries, in the same order, as up to n
 * gomap_iter_next() calls, with the key and value pointers of the i-th in
 * keys[i] and vals[i] (either array may be NULL when not wanted).  Returns
 * how many were produced; fewer than n only at the end of the iteration,
 * where the iterator is released as by gomap_iter_next().  keys[0..n) and
 * vals[0..n) may all be written, beyond the count too.  Walking whole
 * buckets at a time, it spends no mispredicted branch per bucket, so it is
 * the fast way to visit a large map (n = 64 or more).  Returns 0 for a NULL
 * or finished iterator or n == 0.  it->key / it->val are left at the last
 * entry produced (when the matching array was given).
 */
GOMAP_API size_t gomap_iter_next_n(gomap_iter *it, const void **keys, void **vals, size_t n);

/* ---------------------------------------------------------------------- */
/* Introspection                                                           */
/* ---------------------------------------------------------------------- */

/** Named bounds on incremental work (see src/map.c). */
#define GOMAP_EVACUATE_PER_WRITE 2  /**< old buckets moved by one write, at most */
#define GOMAP_EVACUATE_SCAN_CAP 1024 /**< extra evacuated buckets skipped per advance */
#define GOMAP_RELEASE_PER_WRITE (256u << 10) /**< dead array bytes unmapped per write */
#define GOMAP_PREFAULT_PER_WRITE (128u << 10) /**< next array bytes faulted in per write */

/** What gomap_stats_get() reports: the map's shape and its work counters. */
typedef struct gomap_stats {
    size_t count;            /**< entries */
    unsigned B;              /**< log2 of the bucket count */
    size_t buckets;          /**< 2^B */
    size_t overflow_buckets; /**< overflow buckets linked in the current array */
    size_t noverflow;        /**< Go's approximate counter (growth trigger) */
    bool growing;            /**< an old array is being evacuated */
    bool same_size;          /**< the current grow keeps B */
    size_t old_buckets;      /**< buckets in the old array (0 when not growing) */
    size_t nevacuate;        /**< old buckets below this index are evacuated */
    size_t bytes;            /**< bytes held from the allocator, all included */
    uint64_t seed;           /**< the per-map hash seed */
    /* work counters since creation, for tests and benchmarks */
    uint64_t grows;              /**< grows started (doubling + same-size) */
    uint64_t same_size_grows;    /**< of those, same-size grows */
    uint64_t evacuated;          /**< old buckets evacuated in total */
    unsigned max_evacuated_per_op; /**< most old buckets one write evacuated */
    unsigned max_scan_per_op;    /**< most extra buckets one advance skipped */
    uint64_t slot_reuses;        /**< inserts that took a freed (emptyOne) slot */
    size_t live_iterators;       /**< iterators not yet done */
    size_t retired_blocks;       /**< arrays, key blocks and destructor batches
                                    kept for live iterators (see gomap_iter) */
    size_t pending_release;      /**< bytes of dead arrays not yet given back
                                    to the OS (default allocator, arrays of
                                    128 KB or more): at most
                                    GOMAP_RELEASE_PER_WRITE go per write */
    size_t prefault_pending; /**< bytes of the array the next grow will use
                                still to be faulted in (at most
                                GOMAP_PREFAULT_PER_WRITE per write) */
    /* Work visited, counted only while gomap_set_counting() is on: */
    bool counting;               /**< counting is on */
    uint64_t visited_buckets;    /**< buckets (main, overflow, old) whose tophash
                                    bytes a lookup, write, iteration step or
                                    clear read */
    uint64_t visited_slots;      /**< slots whose key a lookup or write compared
                                    (a tophash match), or whose entry an
                                    iteration step examined or a clear
                                    released */
} gomap_stats;

/** Fill *out.  m NULL: all zero. */
GOMAP_API void gomap_stats_get(const gomap *m, gomap_stats *out);

/**
 * Turn work counting on or off (off when a map is made); returns whether it
 * was on (false for a NULL map).  While on, every lookup, write, iteration
 * step and clear adds what it visited to visited_buckets and visited_slots
 * of gomap_stats, so that tests and users can bound the work of operations
 * by counting it (for example: iterating an emptied map of 2^B buckets
 * visits 2^B buckets plus their overflow buckets and no slot).  Growth work
 * is counted apart (evacuated).  Off, counting costs one predictable branch
 * per call; on, concurrent readers share two atomic counters.  Counts are
 * kept when counting is turned off.  A write: not concurrently with other
 * calls on the map.
 */
GOMAP_API bool gomap_set_counting(gomap *m, bool on);

/**
 * The invariant checker: walks every bucket and verifies the numbered
 * invariants I1..I15 of the design essay in src/map.c.  Returns 0 when all
 * hold, else the number n of the first invariant found broken, with a
 * message in msg (if msg is not NULL and msglen > 0).  O(size of the map);
 * calls the key's hash function.  I15 (no two stored keys are equal) is
 * checked, for CUSTOM keys, for 16 keys spread over the map, each against
 * every key: it catches a hash that disagrees with the equality.  NULL
 * map: 0.
 */
GOMAP_API int gomap_check(const gomap *m, char *msg, size_t msglen);

/**
 * Chains by length, from a walk of the map (O(size of the map); stats_get
 * stays O(1)).  The chains walked are those that hold the map's entries:
 * every chain of the current array that is filled in, and, while the map
 * grows, every old chain not yet evacuated.  hist[k - 1] is set to the
 * number of chains of k buckets (the main bucket and k - 1 overflow
 * buckets) for k < n, and hist[n - 1] to the number of chains of n buckets
 * or more; so with n = 8, hist[0..6] count chains of 1..7 buckets and
 * hist[7] those of 8 or more.  Empty chains count as chains of 1.  Returns
 * GOMAP_OK, or GOMAP_EINVAL (nothing written) when hist is NULL or n is 0.
 * A NULL map has no chains (hist all zero).  A read: concurrent reads are
 * fine, a concurrent write is not.
 */
GOMAP_API int gomap_stats_chains(const gomap *m, size_t *hist, size_t n);

/**
 * Probe counters, kept while gomap_set_counting() is on, beside
 * visited_buckets and visited_slots.  A probe is one search of a chain for
 * a key: a lookup (gomap_get, gomap_get_key, gomap_get_many, and the
 * lookups an iterator makes for entries that moved), an insert or update
 * (assign, put) or a delete.  It is a hit when the key was there, else a
 * miss.  Its buckets are those whose tophash bytes it read, its slots
 * those whose key it compared (a tophash match); a false match is a slot
 * whose tophash byte matched but whose key differed; its overflow buckets
 * are the buckets it read after the first of a chain.  An insert that
 * starts a grow searches its chain again afterwards: both walks count,
 * as one probe.  So buckets per hit is hit_buckets / hits, and so on.
 */
typedef struct gomap_probe_stats {
    uint64_t ops;             /**< probes: hits + misses */
    /** @{ */
    uint64_t hits, misses;    /**< probes that found the key, and not */
    /** @} */ /** @{ */
    uint64_t hit_buckets, hit_slots;   /**< buckets and slots read by hits */
    /** @} */ /** @{ */
    uint64_t miss_buckets, miss_slots; /**< ... and by misses */
    /** @} */
    uint64_t false_matches;   /**< same tophash byte, another key */
    uint64_t overflow_walked; /**< overflow buckets read */
} gomap_probe_stats;

/** Fill *out with the probe counters (all zero for a NULL map; out NULL:
   nothing).  O(1).  Counts are kept when counting is turned off. */
GOMAP_API void gomap_probe_stats_get(const gomap *m, gomap_probe_stats *out);

/* ---------------------------------------------------------------------- */
/* Trace events                                                            */
/* ---------------------------------------------------------------------- */

/**
 * A map can report what happens inside it to a function of the caller's,
 * the tracer: a grow starting and finishing, each old bucket evacuated,
 * each overflow bucket added, a freed slot reused, tombstones collapsed,
 * the seed changing, a clear, an iterator starting and finishing.  With no
 * tracer installed each place that could report costs one predictable
 * branch on a byte the operation reads anyway; a build with the CMake
 * option GOMAP_TRACE=OFF has no such places at all.  src/trace.c has a
 * ready-made tracer that writes a Perfetto / chrome://tracing file
 * (gomap_trace_open below).
 */
enum gomap_event_kind {
    GOMAP_EV_GROW_START = 1, /**< a grow started (old_B -> B, same_size) */
    GOMAP_EV_EVACUATE,       /**< old bucket `bucket` evacuated: to_x, to_y */
    GOMAP_EV_GROW_DONE,      /**< the last old bucket was evacuated, or a
                                clear dropped the old array (cleared) */
    GOMAP_EV_OVERFLOW,       /**< an overflow bucket was linked into chain
                                `bucket`, now chain_len buckets long */
    GOMAP_EV_SLOT_REUSE,     /**< an insert took a freed (emptyOne) slot of
                                chain `bucket` */
    GOMAP_EV_COLLAPSE,       /**< a delete turned `marked` slots of chain
                                `bucket` into emptyRest */
    GOMAP_EV_SEED,           /**< the hash seed changed (reason) */
    GOMAP_EV_CLEAR,          /**< gomap_clear removed `removed` entries */
    GOMAP_EV_ITER_START,     /**< an iterator started (iter, bucket: its
                                random start bucket) */
    GOMAP_EV_ITER_DONE,      /**< an iterator finished or was released */
};
#define GOMAP_EV_KINDS 11 /**< one more than the largest kind */

/** Why the hash seed changed (gomap_event.reason of GOMAP_EV_SEED). */
enum gomap_seed_reason {
    GOMAP_SEED_EMPTIED = 1, /**< a delete removed the last entry */
    GOMAP_SEED_CLEAR = 2,   /**< gomap_clear */
};

/**
 * One event.  The first fields describe the map just after the event; the
 * rest are set for the kinds named beside them and zero otherwise.  A
 * chain is named by the index of its main bucket in its array: the
 * current array, except for EVACUATE (an old bucket).
 */
typedef struct gomap_event {
    enum gomap_event_kind kind; /**< what happened */
    uint64_t seq;             /**< this map's events so far, from 0 */
    const gomap *map;         /**< the map */
    size_t count;             /**< entries */
    unsigned B;               /**< log2 of the current array's buckets */
    size_t overflow_buckets;  /**< overflow buckets in the current array */
    size_t bytes;             /**< bytes held (gomap_stats.bytes) */
    size_t old_buckets;       /**< buckets of the old array (0: not growing) */
    size_t nevacuate;         /**< old buckets below this are evacuated */
    /* per kind */
    unsigned old_B;           /**< GROW_START, GROW_DONE: B of the old array */
    bool same_size;           /**< GROW_START, GROW_DONE: not a doubling */
    bool cleared;             /**< GROW_DONE: ended by a clear */
    bool evacuating;          /**< OVERFLOW: added by an evacuation */
    size_t old_overflow;      /**< GROW_START: overflow buckets of the old array */
    size_t bucket;            /**< EVACUATE, OVERFLOW, SLOT_REUSE, COLLAPSE,
                                 ITER_START: see the kinds */
    /** @{ */
    size_t to_x, to_y;        /**< EVACUATE: entries sent to new bucket
                                 `bucket` (X) and `bucket` + old_buckets (Y);
                                 a same-size grow sends all to X */
    /** @} */
    size_t chain_len;         /**< OVERFLOW: buckets in the chain now */
    unsigned slot;            /**< SLOT_REUSE: slot 0..7 of the chain's
                                 bucket chain_pos */
    size_t chain_pos;         /**< SLOT_REUSE: 0 the main bucket, 1 the first
                                 overflow bucket, ... */
    size_t marked;            /**< COLLAPSE: slots marked emptyRest */
    enum gomap_seed_reason reason; /**< SEED */
    /** @{ */
    uint64_t old_seed, new_seed;   /**< SEED */
    /** @} */
    size_t removed;           /**< CLEAR: entries removed */
    const void *iter;         /**< ITER_START, ITER_DONE: the gomap_iter */
} gomap_event;

/**
 * The tracer: called with each event, on the thread that caused it, while
 * the operation is under way (during a write, after its change is made).
 * The event lives only for the call.  It may call gomap_stats_get() and
 * gomap_len() on the map, and nothing else of gomap on that map (the map
 * may be mid-write).  Iterator events come from readers: a tracer of a map
 * that several threads iterate is called from those threads at once.
 */
typedef void (*gomap_tracer_fn)(void *ctx, const gomap_event *ev);

/**
 * Install fn (with ctx) as m's tracer, replacing any other; fn NULL
 * removes it.  A write: not concurrently with other calls on the map.
 * Returns GOMAP_OK, GOMAP_EINVAL (m NULL), or GOMAP_ENOTSUP when the
 * library was built with GOMAP_TRACE=OFF and fn is not NULL.
 */
GOMAP_API int gomap_set_tracer(gomap *m, gomap_tracer_fn fn, void *ctx);

/** A static name for an event kind ("grow_start", ...; "unknown"). */
GOMAP_API const char *gomap_event_name(enum gomap_event_kind kind);

/** @{ */
/**
 * Trace files (src/trace.c): a tracer that writes the Chrome Trace Event
 * JSON format, which ui.perfetto.dev and chrome://tracing open.  Each map
 * attached is a track of its own: each grow a span with its evacuations
 * inside; overflow buckets, slot reuses, collapses, seed changes and
 * clears as instant events; iterators as async spans; the entries, B,
 * overflow buckets and bytes as counter tracks.  Large runs are sampled:
 * the first GOMAP_TRACE_FULL events of each kind are written, then one in
 * 2, one in 4, ... (the stride doubles after each further
 * GOMAP_TRACE_FULL written), grow starts and ends, seeds and clears
 * always; how many of each kind were seen and written is recorded in the
 * file's metadata ("otherData").  Counter samples are written with the
 * written events, at most one per GOMAP_TRACE_COUNTER_US microseconds,
 * and always at grow starts and ends and clears.
 *
 * A trace file may serve several maps, and be called from several threads
 * (it locks).  Writing errors are remembered: gomap_trace_close() reports
 * them.  Nothing here aborts.
 */
#define GOMAP_TRACE_FULL 10000
#define GOMAP_TRACE_COUNTER_US 100
typedef struct gomap_trace_file gomap_trace_file;
/** @} */

/** Create (truncate) path and start the JSON.  NULL when path is NULL, the
   file cannot be created (errno says why) or memory runs out. */
GOMAP_API gomap_trace_file *gomap_trace_open(const char *path);
/** Make tf m's tracer (gomap_set_tracer(m, gomap_trace_record, tf)) and name
   its track after the order of attachment ("map 1", ...).  Returns GOMAP_OK,
   GOMAP_EINVAL (NULL argument), GOMAP_ENOMEM (the map's track could not be
   added; nothing attached) or GOMAP_ENOTSUP (GOMAP_TRACE=OFF). */
GOMAP_API int gomap_trace_attach(gomap *m, gomap_trace_file *tf);
/** The tracer itself (ctx: a gomap_trace_file), for callers that chain it
   behind a tracer of their own. */
GOMAP_API void gomap_trace_record(void *ctx, const gomap_event *ev);
/** Events written and seen so far, of every kind (either pointer may be
   NULL).  GOMAP_OK or GOMAP_EINVAL (tf NULL). */
GOMAP_API int gomap_trace_counts(gomap_trace_file *tf, uint64_t *written, uint64_t *seen);
/**
 * Finish the JSON (metadata included), close the file and free tf.  Detach
 * the maps first (gomap_set_tracer(m, NULL, NULL)) or free them: a map
 * still attached would call freed memory.  Returns GOMAP_OK, or GOMAP_EIO
 * when some write or the close failed (the file is then incomplete);
 * NULL: GOMAP_EINVAL.
 */
GOMAP_API int gomap_trace_close(gomap_trace_file *tf);

/* ---------------------------------------------------------------------- */
/* A picture of the map                                                    */
/* ---------------------------------------------------------------------- */

/** @{ */
/**
 * Write one self-contained HTML page (inline SVG and CSS, nothing fetched)
 * drawing m: every bucket with its overflow chain, each slot coloured by
 * its state, with SVG class names "slot live", "slot empty-one", "slot
 * empty-rest", "slot evac-x", "slot evac-y", "slot evac-empty" (and "slot
 * unready" for new buckets a grow has not filled in yet), the tophash byte
 * in each slot's tooltip; while growing, the old array beside the new one
 * with nevacuate marked; and the stats.  Arrays of more than
 * GOMAP_RENDER_FULL_BUCKETS buckets are summarised: a heat strip of each
 * bucket's fill and chain length, and the first GOMAP_RENDER_FULL_BUCKETS
 * buckets drawn in full, as the page says.  Every slot drawn is counted in
 * the page's data-* attributes (data-live, ...).  A read of the map.
 * Returns GOMAP_OK, GOMAP_EINVAL (NULL out) or GOMAP_EIO (a write
 * failed).  A NULL map draws an empty page.
 */
#define GOMAP_RENDER_FULL_BUCKETS 256
GOMAP_API int gomap_render_html(const gomap *m, FILE *out);
/** @} */

/* ---------------------------------------------------------------------- */
/* Concurrent misuse                                                       */
/* ---------------------------------------------------------------------- */

/** @{ */
/**
 * Called with one of Go's messages when concurrent misuse is detected.
 * The default prints "gomap: fatal error: <message>" to stderr and aborts.
 * If a handler returns, the call that detected the misuse returns
 * GOMAP_ECONCURRENT (or NULL / false); the map may then be corrupt.
 * Returns the previous handler; NULL restores the default.  Process-wide.
 */
typedef void (*gomap_fatal_fn)(const char *message);
GOMAP_API gomap_fatal_fn gomap_set_fatal_handler(gomap_fatal_fn handler);
/** @} */

#ifdef __cplusplus
}
#endif
#endif /* GOMAP_H */

/**
 * @file
 * gomap_sync.h -- a concurrent map: Go 1.24's HashTrieMap (the engine of
 * sync.Map) in C, with safe memory reclamation built in.
 *
 * Any number of threads may call any function on the same map at the same
 * time, with no locking and no set-up of their own: a thread just calls.
 * Loads take no lock and write nothing shared; a write locks only the one
 * trie node it changes.  Memory that a write unlinks is freed later, once no
 * thread can still be reading it (epoch-based reclamation; see "Memory"
 * below and src/ebr.c).
 *
 * ------------------------------------------------------------------------
 * Conventions that hold for every function below
 * ------------------------------------------------------------------------
 *
 * Types.  Keys and values are described by the same gomap_type as the plain
 * map (gomap.h): u32/u64/u8/u16 keys, floats with Go's semantics, strings
 * (GOMAP_KEY_STR: borrowed view; GOMAP_KEY_STR_COPY: the bytes are copied
 * into the entry), fixed-size blobs, or CUSTOM hash and equality.  Values are
 * val_size bytes, copied in and out.  Descriptors with key_destroy or
 * val_destroy are refused (GOMAP_EINVAL): a value copied out by one thread
 * may outlive its entry, so the map cannot know when owned memory is dead;
 * store a pointer to a reference-counted object instead.
 *
 * Float keys follow Go: +0.0 and -0.0 are the same key, and every NaN is a
 * new key (a store of NaN always inserts; load/delete of NaN never find
 * anything; range and clear see them).
 *
 * Results.  Calls return an int: 1 or 0 as documented (found / not found,
 * swapped / not swapped, ...), or a negative GOMAP_E* code.  GOMAP_EINVAL: a
 * NULL map, a NULL key (for a key of non-zero size), a NULL value pointer
 * (for values of non-zero size) where one is read.  Output pointers (val_out,
 * prev_out, actual_out) may be NULL when the caller does not want the value.
 *
 * Out of memory.  Every allocation goes through the map's allocator and may
 * fail; the call then returns GOMAP_ENOMEM and the map is unchanged (new
 * entries and nodes are allocated before anything is published).  A thread's
 * first call also claims a per-thread record; the first 64 live threads use
 * a static pool, more are malloc'ed, and if that fails the call returns
 * GOMAP_ENOMEM.
 *
 * The allocator of a concurrent map must be thread-safe: it is called from
 * any thread that calls the map, and memory retired by one thread may be
 * freed by another.  It must return memory aligned to at least 16 bytes.
 *
 * Atomicity.  Every operation is atomic with respect to every other on the
 * same key (load, store, swap, load_or_store, load_and_delete, delete,
 * compare_and_swap, compare_and_delete).  As in Go, a write "synchronizes
 * before" any read that observes it: data written before a store is visible
 * to the thread whose load returns the stored value.  Values are immutable
 * inside the map: a swap or CAS publishes a new entry (Go reverted the
 * mutable-value optimisation because it broke CAS vs compare-and-delete
 * atomicity: Go issue 70970).  range and len are weaker, see each.
 *
 * Memory.  Nothing is required of a thread.  Optional calls:
 * gomap_sync_thread_detach() releases the calling thread's record early
 * (thread exit does it automatically), and gomap_sync_barrier() frees
 * everything retired so far (for shutdown and leak checkers).
 *
 * What is retired but not yet freed, counted in items (a trie node or an
 * entry; a whole trie dropped by gomap_sync_clear counts as one):
 *   - each thread's open batch: at most 128 items or 256 KiB;
 *   - sealed batches, process-wide (retired_process in the stats).  A
 *     writer that seals a batch while they exceed
 *         L = 2048 + 512 * T          (retired_limit in the stats)
 *     waits for lagging readers, retrying, for at most ~1 ms (4 yields,
 *     then 20 sleeps of 50 us).  T is the number of threads registered now
 *     (threads in the stats): those that have called a function of this
 *     header and have neither exited nor called gomap_sync_thread_detach()
 *     since.  A thread that has exited or detached no longer counts, however
 *     many threads once ran.  So the sealed batches hold at most
 *         L + 128 * (T + X)
 *     items, where X is the number of those waits that ran out with the
 *     backlog still over L (throttle_timeouts in the stats): every writer
 *     may seal one batch past L before it waits, and one more per wait that
 *     runs out.  X stays 0 while a lagging reader (a thread preempted inside
 *     a call) gets a CPU within a writer's wait.  Besides, a thread that
 *     exits or detaches, and gomap_sync_free, seal open batches without
 *     waiting (they were counted as open batches before).
 * A thread stalled *inside* a map call (blocked in a user equality
 * function, say) makes X grow: nothing retired anywhere is freed until that
 * call returns, and every writer that seals a batch meanwhile waits ~1 ms
 * for it first.  A thread that sleeps between calls costs nothing.  Details:
 * src/ebr.c.
 *
 * Pools.  Each map keeps its trie nodes and entries in a pool of its own:
 * chunks taken from its allocator (1 KiB first, doubling to 64 KiB), cut into
 * blocks of the node's and the entry's size with no per-block header, and freed
 * blocks reused for the next nodes and entries.  Chunks go back to the
 * allocator only when the map is freed, so a map keeps the memory of its
 * largest size; gomap_sync_stats_get() shows it (pool_bytes, pool_free).  A map
 * that should give memory back as it shrinks, or an allocator that should see
 * every node (statistics, failure injection), can turn the pool off with
 * gomap_sync_set_pool() before the first write.  Copied string keys longer than
 * 32 bytes and entries over 4 KiB never come from the pool.
 *
 * Fork.  A child of fork() may use the maps if no other thread was inside a
 * map call at the time of the fork.
 */
#ifndef GOMAP_SYNC_H
#define GOMAP_SYNC_H

#include "gomap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A concurrent map (opaque): gomap_sync_create() makes one, gomap_sync_free()
    frees it. */
typedef struct gomap_sync gomap_sync;

/** Value equality for compare_and_swap / compare_and_delete: true when the
   stored value (first argument) equals the given one.  Default: memcmp of
   val_size bytes (so padding bytes count; pass a function when they do not
   or when values are structs with float members). */
typedef bool (*gomap_val_equal_fn)(const void *stored, const void *given);

/**
 * Create an empty map.  alloc may be NULL (malloc/free); it is copied.  The
 * descriptor is copied, so it may live on the stack.  The map gets a random
 * hash seed.  Returns GOMAP_OK and sets *out, or GOMAP_EINVAL (NULL out, bad
 * descriptor, destroy functions present, allocator without alloc or free) or
 * GOMAP_ENOMEM, leaving *out NULL.  Allocates the map header and the root
 * node (about 2 KiB together: the root carries the length counter, striped
 * over 16 cache lines, and the header the pool's 8 stripes).
 */
GOMAP_API int gomap_sync_create(gomap_sync **out, const gomap_type *t,
                                const gomap_allocator *alloc);
/** As gomap_sync_create, with a value equality for the compare calls (NULL:
   memcmp). */
GOMAP_API int gomap_sync_create_ex(gomap_sync **out, const gomap_type *t,
                                   const gomap_allocator *alloc,
                                   gomap_val_equal_fn val_equal);

/**
 * Pool on (the default) or off (see "Pools" above).  Only before the map's
 * first write: GOMAP_EINVAL for a NULL map or once the map has allocated a
 * node or an entry (the pool can no longer be changed); GOMAP_OK otherwise.
 * Not safe against concurrent calls on the map: call it right after create.
 */
GOMAP_API int gomap_sync_set_pool(gomap_sync *m, bool on);

/**
 * Free the map: no other call on it may be running or start.  The trie is
 * freed at once; nodes that writers retired earlier are freed as reclamation
 * proceeds, and the map header with them (it holds the allocator).  With a
 * custom allocator, call gomap_sync_barrier() after this before destroying
 * the allocator: then every byte is back.  NULL: no-op.
 */
GOMAP_API void gomap_sync_free(gomap_sync *m);

/** Load: copy key's value to val_out.  1 found, 0 absent, GOMAP_EINVAL,
   GOMAP_ENOMEM (first call of a thread only).  Lock-free; never allocates
   after the thread's first call. */
GOMAP_API int gomap_sync_load(const gomap_sync *m, const void *key, void *val_out);

/** Store key -> *val, replacing any value.  1 when the key was new, 0 when a
   value was replaced, or GOMAP_ENOMEM / GOMAP_EINVAL (map unchanged).
   Always locks one node; allocates one entry (and up to 15 trie nodes when
   it must split a slot). */
GOMAP_API int gomap_sync_store(gomap_sync *m, const void *key, const void *val);

/** If key is present, copy its value to actual_out and return 1 ("loaded",
   lock-free).  Otherwise store *val, copy *val to actual_out and return 0.
   GOMAP_ENOMEM / GOMAP_EINVAL: map unchanged.  Exactly one of many
   concurrent callers with the same absent key stores. */
GOMAP_API int gomap_sync_load_or_store(gomap_sync *m, const void *key, const void *val,
                                       void *actual_out);

/** Delete key, copying its value to val_out.  1 deleted, 0 absent (a lock-free
   miss), GOMAP_ENOMEM (a retirement batch could not be allocated; map
   unchanged), GOMAP_EINVAL.  Prunes trie nodes that become empty. */
GOMAP_API int gomap_sync_load_and_delete(gomap_sync *m, const void *key, void *val_out);
/** gomap_sync_load_and_delete without the value. */
GOMAP_API int gomap_sync_delete(gomap_sync *m, const void *key);

/** Store key -> *val, copying the previous value to prev_out.  1 when there
   was a previous value ("loaded"), 0 when the key was new; GOMAP_ENOMEM /
   GOMAP_EINVAL: map unchanged. */
GOMAP_API int gomap_sync_swap(gomap_sync *m, const void *key, const void *val, void *prev_out);

/** If key's value equals *old (val_equal, default memcmp), replace it by *new
   and return 1; else 0 (no lock is taken when a lock-free look already fails).
   GOMAP_ENOMEM / GOMAP_EINVAL: map unchanged. */
GOMAP_API int gomap_sync_compare_and_swap(gomap_sync *m, const void *key, const void *old,
                                          const void *new_val);

/** If key's value equals *old, delete it and return 1; else 0 (also when the
   key is absent).  GOMAP_ENOMEM / GOMAP_EINVAL: map unchanged. */
GOMAP_API int gomap_sync_compare_and_delete(gomap_sync *m, const void *key, const void *old);

/** @{ */
/**
 * Call fn(key, val, ctx) for the entries, until fn returns false.  Go's
 * documented weak semantics: no consistent snapshot; no key is visited twice;
 * a key stored or deleted during the call may or may not be visited, with any
 * value it had during the call; fn may call any function on this map (and
 * on others).  key and val point to copies valid only during the callback
 * (for GOMAP_KEY_STR_COPY the gomap_str's bytes are copied too).  Order: by
 * hash, fixed for a map.  Entries are copied in batches inside a read-side
 * section, which is left before fn runs, so a slow fn never holds back
 * reclamation.  Returns GOMAP_OK, GOMAP_EINVAL, or GOMAP_ENOMEM (a single
 * chain of full-hash collisions did not fit the 4 KiB stack buffer and a
 * larger buffer could not be allocated; the iteration stopped there).
 */
typedef bool (*gomap_sync_range_fn)(const void *key, const void *val, void *ctx);
GOMAP_API int gomap_sync_range(const gomap_sync *m, gomap_sync_range_fn fn, void *ctx);
/** @} */

/** Remove every entry (NaN keys included): a new empty root replaces the old
   trie in one atomic step; the old trie is freed after a grace period, as a
   whole, by the thread that next reclaims (O(its size) in that call).
   Writes that raced with the clear and landed in the old trie are lost, as
   if ordered before it.  Allocates the new root (~1.2 KiB).  GOMAP_OK,
   GOMAP_ENOMEM (map unchanged), GOMAP_EINVAL. */
GOMAP_API int gomap_sync_clear(gomap_sync *m);

/**
 * Number of entries, from a counter striped over 16 cache lines (writers add
 * to their own stripe): O(16), no walk.  Exact when no write is in flight;
 * while writes run it is the sum of stripes read at slightly different
 * moments (it may count a write that has not completed, or miss one that
 * has), never negative.  NULL map: 0.  Also 0 if the calling thread could not
 * be registered (see "Out of memory").
 */
GOMAP_API size_t gomap_sync_len(const gomap_sync *m);

/* ---------------------------------------------------------------------- */
/* Reclamation controls (optional)                                         */
/* ---------------------------------------------------------------------- */

/** Release the calling thread's record now (thread exit does it anyway).
   The thread may call maps again later (it re-registers).  GOMAP_OK, or
   GOMAP_EINVAL when called from inside a map call (an equality callback). */
GOMAP_API int gomap_sync_thread_detach(void);

/**
 * Free everything retired so far, by every thread, in every map: seals every
 * thread's pending batch and waits (yielding) until no thread can still read
 * any of it.  For shutdown and leak checkers; after gomap_sync_free() it
 * returns the freed map's last bytes to its allocator.  Blocks while a thread
 * stays inside a map call.  GOMAP_OK, or GOMAP_EINVAL when called from inside
 * a map call (an equality callback: it would wait for itself).
 */
GOMAP_API int gomap_sync_barrier(void);

/* ---------------------------------------------------------------------- */
/* Introspection                                                           */
/* ---------------------------------------------------------------------- */

/** Depths a trie can have: 64 hash bits, 4 per level. */
#define GOMAP_SYNC_DEPTHS 16

/** What gomap_sync_stats_get() reports: the trie's shape and the state of
    reclamation. */
typedef struct gomap_sync_stats {
    size_t len;             /**< gomap_sync_len() */
    size_t entries;         /**< entries reachable in the trie (walk) */
    size_t inodes;          /**< indirect (internal) nodes, the root included */
    unsigned max_depth;     /**< deepest level holding an entry (root slots: 1) */
    size_t max_chain;       /**< longest chain of full 64-bit hash collisions */
    size_t bytes;           /**< bytes of the trie and the map header */
    size_t retired;         /**< this map: items retired in sealed batches, not
                               yet freed (each thread may hold up to 128 more
                               in its open batch) */
    size_t retired_process; /**< the same over every map of the process */
    uint64_t epoch;         /**< the global reclamation epoch */
    bool membarrier;        /**< readers skip their fence (membarrier in use) */
    uint64_t seed;          /**< the map's hash seed */
    size_t pool_bytes;      /**< this map: bytes of its pool's chunks (nodes,
                               entries and free blocks; see "Pools") */
    size_t pool_free;       /**< this map: freed blocks waiting in the pool */
    unsigned threads;       /**< threads registered now (see "Memory"), read
                               before this call registers the caller */
    size_t retired_limit;   /**< the sealed backlog above which writers wait:
                               2048 + 512 * threads (see "Memory") */
    uint64_t throttle_timeouts; /**< process, since start: writer waits that
                               ran out with the backlog still over the
                               limit (see "Memory") */
    size_t depth_entries[GOMAP_SYNC_DEPTHS]; /**< entries by depth: [d - 1]
                               counts the entries whose slot is at depth d
                               (root slots: 1, as max_depth), collision
                               chains included; they add up to entries */
} gomap_sync_stats;

/** Fill *out (walks the trie: O(n)).  NULL map: zeros, except the process-wide
   fields. */
GOMAP_API void gomap_sync_stats_get(const gomap_sync *m, gomap_sync_stats *out);

/**
 * The invariant checker: walks the trie and verifies the numbered invariants
 * S1..S8 of the design essay in src/sync_map.c.  Returns 0 when all hold,
 * else the number n of the first broken invariant Sn with a message in msg
 * (when msg is non-NULL and msglen > 0).  Exact only when no write is in
 * flight (run it at quiescent points).  Calls the key hash.  NULL map: 0.
 */
GOMAP_API int gomap_sync_check(const gomap_sync *m, char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif
#endif /* GOMAP_SYNC_H */

/*
 * sync_map.c -- the concurrent map: Go 1.24's HashTrieMap (the engine of
 * sync.Map, internal/sync/hashtriemap.go) with built-in reclamation (ebr.c).
 *
 * ------------------------------------------------------------------------
 * Structure
 * ------------------------------------------------------------------------
 * A trie over the 64-bit hash, consumed from the top, 4 bits per level: the
 * root's slot for hash h is (h >> 60) & 15, the next level's (h >> 56) & 15,
 * and so on, so at most 16 levels (Go: 16 children is the sweet spot for
 * loads; 8 loses half the speed, 32 gains ~1%).  A slot holds one of
 *
 *   0                     empty;
 *   an indirect node      16 slots, a lock, a `dead` flag, a parent pointer;
 *   an entry (tag bit 1)  the head of a chain of entries whose hashes are
 *                         equal in all 64 bits (the chain exists only for
 *                         full-hash collisions; usually it is one entry).
 *
 * An entry holds the hash (cached: expand and the checker never rehash),
 * the next pointer of its chain (`overflow`, tagged like a slot), the key and
 * the value, and for GOMAP_KEY_STR_COPY the key's bytes after the value.
 * Entries are immutable once published: a swap or CAS publishes a new entry
 * that takes over the old one's place and chain link (copy-on-write; Go's
 * mutable-value variant was reverted, Go issue 70970).  The root is an indirect
 * node followed by the length counter, striped over 16 cache lines; it is
 * replaced as a whole by clear, so writes racing with a clear count into the
 * old root's counter and are lost with it, consistently.
 *
 * ------------------------------------------------------------------------
 * Locking protocol (Go's, unchanged)
 * ------------------------------------------------------------------------
 * Readers take no lock: acquire loads down the trie and along the chain.
 * A writer descends lock-free to the first slot that is empty or holds a
 * chain, locks the indirect node owning that slot, and re-checks: if the
 * node is dead or the slot now holds an indirect node, it unlocks and starts
 * over from the root.  Under the lock it owns the slot and every entry of the
 * chain in it (their overflow links).  Then:
 *   insert into an empty slot   store the new entry (release);
 *   insert where a chain is     equal full hash: the new entry becomes the
 *                               chain head; else `expand`: build fresh
 *                               indirect nodes down to the first level where
 *                               the two hashes differ, put both there, and
 *                               publish the subtree with one store (readers
 *                               never see the old entry missing);
 *   replace (swap, CAS)         new entry takes the old one's overflow link,
 *                               then one store into the link pointing at the
 *                               old one;
 *   remove                      the link pointing at it gets its overflow;
 *                               if the slot became empty, prune: while the
 *                               node is not the root and is empty, lock its
 *                               parent (locks go child -> parent only, so no
 *                               deadlock), mark the node dead, empty the
 *                               parent's slot, unlock the node, go up.
 * Every allocation (entry, expand nodes, retirement batch) happens before the
 * lock and before anything is published, so GOMAP_ENOMEM leaves the map
 * unchanged.  Lock: 4 bytes, CAS to take, spin briefly, then futex wait.
 *
 * ------------------------------------------------------------------------
 * Reclamation
 * ------------------------------------------------------------------------
 * Every call runs inside a read-side section of ebr.c (a plain store and a
 * compiler barrier each way).  What a write unlinks -- the replaced or
 * removed entry, pruned nodes, a cleared trie as a whole -- is retired into
 * the thread's batch and freed after a grace period by whichever writer next
 * seals a batch; see ebr.c for the protocol and the memory bound.  Keys are
 * hashed before entering the section (a custom hash may be slow); equality
 * functions run inside it.
 *
 * Pools.  Trie nodes and entries come from the map's pool (pool.c): blocks
 * of four sizes (the node; the entry, and for GOMAP_KEY_STR_COPY the entry
 * with up to 32 bytes of key) carved from chunks of 1 to 64 KiB, with free
 * lists for reuse, in GM_POOL_STRIPES locked stripes picked by the thread's
 * record.  A block costs its size rounded to 16 and no header, and an
 * allocation is one uncontended lock, a pop or a bump, and an unlock.
 * Expired blocks go back to the free lists, and chunks go back to the
 * allocator only when the map is freed: the map keeps its peak memory
 * (gomap_sync_set_pool(m, false) before the first write turns the pool off:
 * every block then comes from, and returns to, the allocator).  Entries too
 * big for a class come from the allocator and set m->unpooled, which makes
 * gomap_sync_free walk the trie to free them; otherwise freeing a map frees
 * only its chunks.  Allocation still happens before the lock and before
 * publication, so ENOMEM leaves the map unchanged.
 *
 * range copies entries into a buffer inside the section, leaves it, calls
 * the user's function, and re-enters to continue from a saved position.  The
 * walk visits slots 0..15 depth first, which is increasing hash order, so
 * the position is just the last hash delivered: the next batch yields only
 * chains with a greater hash.  A key's hash never changes (the seed is fixed
 * for the map's life), a chain is copied whole in one batch, and one walk
 * reads each slot once, so no key can be delivered twice.
 *
 * ------------------------------------------------------------------------
 * Costs
 * ------------------------------------------------------------------------
 * A trie without path compression has, for n random hashes, about
 * sum over levels d of 16^d * P(at least 2 of n hashes share a 4d-bit
 * prefix) indirect nodes: for 10^6 u64 keys gomap_sync_stats reports 359,292
 * of them (0.36 per entry), depth 5-6 for most keys and 10 at most, 84 bytes
 * per entry in all (144 per node, 32 per entry, as the pool lays them out).  A load walks one cache line
 * per level: in cache (Go's benchmarks use 1024 keys) that is ~3 levels and
 * a load costs about as much as a locked bucket table's; far out of cache it
 * is ~6 misses against 1-2 for a bucket table (bench/sync/REPORT.md, YCSB
 * rows).  That is the price of Go's design: no resize, no global lock, reads
 * that never wait.
 *
 * ------------------------------------------------------------------------
 * Invariants (checked by gomap_sync_check at quiescent points)
 * ------------------------------------------------------------------------
 * S1  The root exists, has no parent and is not dead.
 * S2  An indirect node reached through a slot of node P has parent P and is
 *     not dead; no indirect node hangs below the last level (shift 0).
 * S3  An entry in a slot at path p0 p1 ... pk has a hash whose top nibbles
 *     are p0 ... pk (its position is its hash prefix).
 * S4  Every entry of a chain has the same hash, and for keys equal to
 *     themselves that hash is the key's hash under the map's seed.
 * S5  No key appears twice (checked within chains; S3/S4 place equal keys in
 *     the same chain).
 * S6  No indirect node other than the root is empty (pruning).
 * S7  The length counter equals the number of entries.
 * S8  No node is locked.
 */
#include "ebr.h"
#include "gomap_sync.h"
#include "internal.h"
#include "pool.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* ---- constants ----------------------------------------------------------- */

#define GM_S_LOG2 4                       /* hash bits per level */
#define GM_S_FAN (1u << GM_S_LOG2)        /* children per indirect node */
#define GM_S_MASK (GM_S_FAN - 1)
#define GM_S_LEVELS (64 / GM_S_LOG2)      /* levels at most: 16 */
_Static_assert(GM_S_LEVELS == GOMAP_SYNC_DEPTHS, "depth_entries has a row per level");
#define GM_S_STRIPES 16                   /* length counter stripes */
#define GM_S_TAG_ENTRY ((uintptr_t)1)     /* slot/overflow value is an entry */
#define GM_S_TAG_TREE ((uintptr_t)2)      /* retired item is a whole trie */
#define GM_S_RETIRE_MAX (1 + GM_S_LEVELS - 1) /* an entry + pruned nodes */
#define GM_S_SPIN 64                      /* lock spins before futex wait */
#define GM_S_RANGE_BUF 4096               /* range's stack buffer, bytes */
#define GM_S_CLASS_NODE 0                 /* pool class of indirect nodes */
#define GM_S_CLASS_ENTRY 1                /* pool classes 1..3: entries, +16 bytes each */

_Static_assert(GM_S_RETIRE_MAX <= GM_EBR_RESERVE_MAX, "one op fits a batch reservation");

/* ---- layout -------------------------------------------------------------- */

typedef struct gm_inode {
    _Atomic uint32_t lock;           /* 0 free, 1 locked, 2 locked + waiters */
    _Atomic uint32_t dead;           /* unlinked by pruning; set under lock */
    struct gm_inode *parent;         /* NULL for a root */
    _Atomic uintptr_t child[GM_S_FAN];
} gm_inode;

typedef struct gm_stripe {
    _Atomic int64_t n;
    char pad[64 - sizeof(int64_t)];
} gm_stripe;

typedef struct gm_root {
    gm_inode node; /* first: a root is an indirect node */
    gm_stripe count[GM_S_STRIPES];
} gm_root;

typedef struct gm_entry {
    uint64_t hash;
    _Atomic uintptr_t overflow; /* next entry of the chain (tagged) or 0 */
    /* key at m->koff, value at m->voff, STR_COPY bytes at m->esize */
} gm_entry;

struct gomap_sync {
    /* read-mostly */
    _Atomic(gm_root *) root;
    void *raw; /* what the allocator returned for this header (gm_s_header_new) */
    uint64_t seed;
    size_t koff, voff, esize; /* entry layout */
    size_t r_voff, r_size;    /* range's copy layout (fixed-size keys) */
    gomap_val_equal_fn val_equal;
    gomap_type t;
    gomap_allocator a;
    bool pooled;            /* nodes and entries come from `pool` */
    _Atomic bool allocated; /* a node or entry was ever allocated */
    _Atomic bool unpooled;  /* a pooled map allocated an entry outside the pool */
    char pad[64];
    /* written by reclamation */
    gm_ebr_domain dom;
    /* written by writers (striped locks) */
    gm_pool pool;
};

#define GM_S_OF(d) ((gomap_sync *)(void *)((char *)(d) - offsetof(gomap_sync, dom)))

/* ---- small helpers ---------------------------------------------------------- */

GM_INLINE bool gm_is_entry(uintptr_t c) { return (c & GM_S_TAG_ENTRY) != 0; }
GM_INLINE gm_entry *gm_entry_of(uintptr_t c) { return (gm_entry *)(c & ~GM_S_TAG_ENTRY); }
GM_INLINE uintptr_t gm_tag(const gm_entry *e) { return (uintptr_t)e | GM_S_TAG_ENTRY; }
GM_INLINE void *gm_e_key(const gomap_sync *m, const gm_entry *e) { return (char *)e + m->koff; }
GM_INLINE void *gm_e_val(const gomap_sync *m, const gm_entry *e) { return (char *)e + m->voff; }
GM_INLINE unsigned gm_nib(uint64_t h, unsigned shift) { return (unsigned)(h >> shift) & GM_S_MASK; }
static size_t gm_align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

/* The header holds 64-byte aligned members (the pool's stripes, each on a
   cache line of its own), but an allocator promises only 16 bytes of
   alignment: ask for 48 bytes more and align the header inside. */
#define GM_S_HEADER_SIZE (sizeof(gomap_sync) + 64 - 16)
_Static_assert(_Alignof(gomap_sync) <= 64, "the header aligns itself to 64 bytes at most");

static void *gm_s_alloc(const gomap_sync *m, size_t n) { return m->a.alloc(m->a.ctx, n); }
static void gm_s_free(const gomap_sync *m, void *p, size_t n) { m->a.free(m->a.ctx, p, n); }

/* Trie nodes and entries: from the pool in class cls, or from the allocator
   when the map is not pooled or cls < 0 (an entry too big for the pool).
   The pool locks its stripes itself, so a const map may use it. */
GM_INLINE gm_pool *gm_s_pool(const gomap_sync *m) { return (gm_pool *)&m->pool; }

/* The pool class of an entry of size bytes, or -1. */
GM_INLINE int gm_s_entry_class(const gomap_sync *m, size_t size) {
    if (!m->pooled || size > GM_POOL_BLOCK_MAX) return -1;
    size_t i = ((size + GM_POOL_ALIGN - 1) / GM_POOL_ALIGN * GM_POOL_ALIGN - m->pool.size[GM_S_CLASS_ENTRY]) /
               GM_POOL_ALIGN;
    unsigned c = GM_S_CLASS_ENTRY + (unsigned)i;
    return c < GM_POOL_CLASSES && m->pool.size[c] ? (int)c : -1;
}

static void *gm_s_node_alloc(const gomap_sync *m, gm_ebr_rec *rec, int cls, size_t n) {
    if (GM_UNLIKELY(!atomic_load_explicit(&m->allocated, memory_order_relaxed)))
        atomic_store_explicit(&((gomap_sync *)m)->allocated, true, memory_order_relaxed);
    if (cls >= 0) return gm_pool_alloc(gm_s_pool(m), rec->index, (unsigned)cls);
    if (m->pooled && !atomic_load_explicit(&m->unpooled, memory_order_relaxed))
        atomic_store_explicit(&((gomap_sync *)m)->unpooled, true, memory_order_relaxed);
    return gm_s_alloc(m, n);
}

/* Free a node or entry nobody can reach (cls, n: as it was allocated). */
static void gm_s_node_free(const gomap_sync *m, int cls, void *p, size_t n) {
    if (cls < 0) {
        gm_s_free(m, p, n);
        return;
    }
    gm_ebr_rec *self = gm_ebr_tls; /* any stripe will do; ours is likely warm */
    gm_pool_free(gm_s_pool(m), self ? self->index : 0, (unsigned)cls, p);
}

GM_INLINE int gm_s_node_class(const gomap_sync *m) { return m->pooled ? GM_S_CLASS_NODE : -1; }

/* The hash, with the u64 fast path spelled out (no switch). */
GM_INLINE uint64_t gm_s_hash(const gomap_sync *m, const void *key) {
    if (GM_LIKELY(m->t.kind == GOMAP_KEY_U64)) {
        uint64_t k;
        memcpy(&k, key, 8);
        return gm_hash_u64(k, m->seed);
    }
    return gm_key_hash(&m->t, key, m->seed);
}

/* Does entry e hold key (whose hash is h)? */
GM_INLINE bool gm_s_keq(const gomap_sync *m, const gm_entry *e, uint64_t h, const void *key) {
    if (e->hash != h) return false;
    switch (m->t.kind) {
    case GOMAP_KEY_U64: return memcmp(gm_e_key(m, e), key, 8) == 0;
    case GOMAP_KEY_U32: return memcmp(gm_e_key(m, e), key, 4) == 0;
    default: return gm_key_equal(&m->t, gm_e_key(m, e), key);
    }
}

static bool gm_s_veq(const gomap_sync *m, const gm_entry *e, const void *old) {
    if (m->val_equal) return m->val_equal(gm_e_val(m, e), old);
    if (m->t.val_size == 8) { /* the common case, without a call */
        uint64_t a, b;
        memcpy(&a, gm_e_val(m, e), 8);
        memcpy(&b, old, 8);
        return a == b;
    }
    return m->t.val_size == 0 || memcmp(gm_e_val(m, e), old, m->t.val_size) == 0;
}

/* Copy n bytes, with the 8-byte case inlined. */
GM_INLINE void gm_s_copy(void *dst, const void *src, size_t n) {
    if (n == 8)
        memcpy(dst, src, 8);
    else if (n)
        memcpy(dst, src, n);
}

static size_t gm_e_size(const gomap_sync *m, const gm_entry *e) {
    if (m->t.kind != GOMAP_KEY_STR_COPY) return m->esize;
    gomap_str s;
    memcpy(&s, gm_e_key(m, e), sizeof s);
    return m->esize + s.len;
}

/* ---- the node lock ------------------------------------------------------------ */

static void gm_s_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void gm_s_futex_wait(_Atomic uint32_t *w, uint32_t val) {
#if defined(__linux__) && defined(SYS_futex)
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
#else
    (void)w;
    (void)val;
    sched_yield();
#endif
}

static void gm_s_futex_wake(_Atomic uint32_t *w) {
#if defined(__linux__) && defined(SYS_futex)
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
    (void)w;
#endif
}

static GM_NOINLINE void gm_s_lock_slow(_Atomic uint32_t *w) {
    for (int i = 0; i < GM_S_SPIN; i++) {
        gm_s_cpu_relax();
        uint32_t z = 0;
        if (atomic_load_explicit(w, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(w, &z, 1, memory_order_acquire, memory_order_relaxed))
            return;
    }
    /* Drepper's mutex: 2 means "locked, maybe waiters". */
    while (atomic_exchange_explicit(w, 2, memory_order_acquire) != 0) gm_s_futex_wait(w, 2);
}

GM_INLINE void gm_s_lock(_Atomic uint32_t *w) {
    uint32_t z = 0;
    if (GM_LIKELY(atomic_compare_exchange_strong_explicit(w, &z, 1, memory_order_acquire,
                                                          memory_order_relaxed)))
        return;
    gm_s_lock_slow(w);
}

GM_INLINE void gm_s_unlock(_Atomic uint32_t *w) {
    if (GM_UNLIKELY(atomic_exchange_explicit(w, 0, memory_order_release) == 2)) gm_s_futex_wake(w);
}

/* ---- allocation ------------------------------------------------------------------ */

static void gm_inode_init(gm_inode *n, gm_inode *parent) {
    atomic_init(&n->lock, 0);
    atomic_init(&n->dead, 0);
    n->parent = parent;
    for (unsigned i = 0; i < GM_S_FAN; i++) atomic_init(&n->child[i], 0);
}

static gm_inode *gm_inode_new(const gomap_sync *m, gm_ebr_rec *rec) {
    gm_inode *n = (gm_inode *)gm_s_node_alloc(m, rec, gm_s_node_class(m), sizeof *n);
    if (n) gm_inode_init(n, NULL);
    return n;
}

static gm_root *gm_root_new(const gomap_sync *m) {
    gm_root *r = (gm_root *)gm_s_alloc(m, sizeof *r);
    if (!r) return NULL;
    gm_inode_init(&r->node, NULL);
    for (unsigned i = 0; i < GM_S_STRIPES; i++) atomic_init(&r->count[i].n, 0);
    return r;
}

/* A new, unpublished entry for key -> val with hash h. */
static gm_entry *gm_entry_new(const gomap_sync *m, gm_ebr_rec *rec, const void *key,
                              const void *val, uint64_t h) {
    size_t size = m->esize;
    gomap_str s = {NULL, 0};
    if (m->t.kind == GOMAP_KEY_STR_COPY) {
        memcpy(&s, key, sizeof s);
        if (s.len > SIZE_MAX - size) return NULL;
        size += s.len;
    }
    gm_entry *e = (gm_entry *)gm_s_node_alloc(m, rec, gm_s_entry_class(m, size), size);
    if (!e) return NULL;
    e->hash = h;
    atomic_init(&e->overflow, 0);
    if (m->t.kind == GOMAP_KEY_STR_COPY) {
        char *bytes = (char *)e + m->esize;
        if (s.len) memcpy(bytes, s.ptr, s.len);
        s.ptr = bytes;
        memcpy(gm_e_key(m, e), &s, sizeof s);
    } else {
        gm_s_copy(gm_e_key(m, e), key, m->t.key_size);
    }
    gm_s_copy(gm_e_val(m, e), val, m->t.val_size);
    return e;
}

static void gm_entry_free(const gomap_sync *m, gm_entry *e) {
    size_t size = gm_e_size(m, e);
    gm_s_node_free(m, gm_s_entry_class(m, size), e, size);
}

static void gm_inode_free(const gomap_sync *m, gm_inode *n) {
    gm_s_node_free(m, gm_s_node_class(m), n, sizeof *n);
}

/* Free a subtree that no thread can reach any more. */
static void gm_subtree_free(const gomap_sync *m, gm_inode *n) {
    for (unsigned i = 0; i < GM_S_FAN; i++) {
        uintptr_t c = atomic_load_explicit(&n->child[i], memory_order_relaxed);
        if (!c) continue;
        if (gm_is_entry(c)) {
            while (c) {
                gm_entry *e = gm_entry_of(c);
                c = atomic_load_explicit(&e->overflow, memory_order_relaxed);
                gm_entry_free(m, e);
            }
        } else {
            gm_subtree_free(m, (gm_inode *)c);
            gm_inode_free(m, (gm_inode *)c);
        }
    }
}

static void gm_tree_free(const gomap_sync *m, gm_root *r) {
    gm_subtree_free(m, &r->node);
    gm_s_free(m, r, sizeof *r);
}

/* ---- the reclamation domain (ebr.c callbacks) ------------------------------------------ */

static void gm_s_free_item(gm_ebr_domain *d, uintptr_t item) {
    gomap_sync *m = GM_S_OF(d);
    if (item & GM_S_TAG_TREE)
        gm_tree_free(m, (gm_root *)(item & ~GM_S_TAG_TREE));
    else if (item & GM_S_TAG_ENTRY)
        gm_entry_free(m, gm_entry_of(item));
    else
        gm_inode_free(m, (gm_inode *)item);
}

static void gm_s_release(gm_ebr_domain *d) {
    gomap_sync *m = GM_S_OF(d);
    gm_ebr_bag *spare = atomic_exchange_explicit(&d->spare, NULL, memory_order_acquire);
    if (spare) gm_s_free(m, spare, sizeof *spare);
    gm_pool_release(&m->pool); /* every pooled node and entry */
    gomap_allocator a = m->a;
    a.free(a.ctx, m->raw, GM_S_HEADER_SIZE);
}

static void *gm_s_mem_alloc(gm_ebr_domain *d, size_t n) { return gm_s_alloc(GM_S_OF(d), n); }
static void gm_s_mem_free(gm_ebr_domain *d, void *p, size_t n) { gm_s_free(GM_S_OF(d), p, n); }

/* ---- create / free ------------------------------------------------------------------- */


static gomap_sync *gm_s_header_new(const gomap_allocator *a) {
    void *raw = a->alloc(a->ctx, GM_S_HEADER_SIZE);
    if (!raw) return NULL;
    gomap_sync *m = (gomap_sync *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    memset(m, 0, sizeof *m);
    m->raw = raw;
    return m;
}

int gomap_sync_create_ex(gomap_sync **out, const gomap_type *t, const gomap_allocator *alloc,
                         gomap_val_equal_fn val_equal) {
    if (!out) return GOMAP_EINVAL;
    *out = NULL;
    if (gomap_type_check(t) != GOMAP_OK || t->key_destroy || t->val_destroy) return GOMAP_EINVAL;
    const gomap_allocator *a = alloc ? alloc : &gm_default_allocator;
    if (!a->alloc || !a->free) return GOMAP_EINVAL;
    gomap_sync *m = gm_s_header_new(a);
    if (!m) return GOMAP_ENOMEM;
    m->t = *t;
    m->a = *a;
    m->val_equal = val_equal;
    size_t ka = t->key_align ? t->key_align : 1, va = t->val_align ? t->val_align : 1;
    m->koff = gm_align_up(sizeof(gm_entry), ka);
    m->voff = gm_align_up(m->koff + t->key_size, va);
    m->esize = m->voff + t->val_size;
    m->pooled = true;
    atomic_init(&m->allocated, false);
    atomic_init(&m->unpooled, false);
    uint32_t sizes[GM_POOL_CLASSES] = {0};
    sizes[GM_S_CLASS_NODE] = (uint32_t)gm_align_up(sizeof(gm_inode), GM_POOL_ALIGN);
    for (unsigned c = GM_S_CLASS_ENTRY; c < GM_POOL_CLASSES; c++) {
        size_t e = gm_align_up(m->esize, GM_POOL_ALIGN) + (c - GM_S_CLASS_ENTRY) * GM_POOL_ALIGN;
        if (e <= GM_POOL_BLOCK_MAX && (c == GM_S_CLASS_ENTRY || t->kind == GOMAP_KEY_STR_COPY))
            sizes[c] = (uint32_t)e;
    }
    gm_pool_init(&m->pool, a, sizes);
    m->r_voff = gm_align_up(t->key_size, 16);
    m->r_size = m->r_voff + gm_align_up(t->val_size, 16);
    m->seed = gm_rand64();
    gm_root *r = gm_root_new(m);
    if (!r) {
        a->free(a->ctx, m->raw, GM_S_HEADER_SIZE);
        return GOMAP_ENOMEM;
    }
    atomic_init(&m->root, r);
    gm_ebr_domain_init(&m->dom);
    m->dom.free_item = gm_s_free_item;
    m->dom.release = gm_s_release;
    m->dom.mem_alloc = gm_s_mem_alloc;
    m->dom.mem_free = gm_s_mem_free;
    *out = m;
    return GOMAP_OK;
}

int gomap_sync_create(gomap_sync **out, const gomap_type *t, const gomap_allocator *alloc) {
    return gomap_sync_create_ex(out, t, alloc, NULL);
}

int gomap_sync_set_pool(gomap_sync *m, bool on) {
    if (!m || atomic_load_explicit(&m->allocated, memory_order_relaxed)) return GOMAP_EINVAL;
    m->pooled = on;
    return GOMAP_OK;
}

void gomap_sync_free(gomap_sync *m) {
    if (!m) return;
    gm_root *r = atomic_exchange_explicit(&m->root, NULL, memory_order_acq_rel);
    if (r && (!m->pooled || atomic_load_explicit(&m->unpooled, memory_order_relaxed)))
        gm_subtree_free(m, &r->node); /* else the pool's chunks take everything */
    if (r) gm_s_free(m, r, sizeof *r);
    gm_ebr_flush();                 /* hand back every open batch */
    gm_ebr_domain_unref(&m->dom);   /* the header goes with the last batch */
}

/* ---- descent ---------------------------------------------------------------------------- */

/* Where a writer's descent stopped: node owns slot, which held head. */
typedef struct gm_pos {
    gm_root *root;
    gm_inode *node;
    _Atomic uintptr_t *slot;
    uintptr_t head; /* 0 or a tagged entry */
    unsigned shift; /* the slot's index is gm_nib(h, shift) */
} gm_pos;

static void gm_s_corrupt(void) {
    gm_fatal("gomap_sync: ran out of hash bits (the map is corrupt)");
    abort();
}

/* Lock-free descent to the first slot for h that is empty or holds a chain. */
static void gm_descend(const gomap_sync *m, uint64_t h, gm_pos *p) {
    gm_root *root = atomic_load_explicit(&((gomap_sync *)m)->root, memory_order_acquire);
    gm_inode *n = &root->node;
    unsigned shift = 64;
    for (;;) {
        shift -= GM_S_LOG2;
        _Atomic uintptr_t *slot = &n->child[gm_nib(h, shift)];
        uintptr_t c = atomic_load_explicit(slot, memory_order_acquire);
        if (c == 0 || gm_is_entry(c)) {
            p->root = root;
            p->node = n;
            p->slot = slot;
            p->head = c;
            p->shift = shift;
            return;
        }
        if (GM_UNLIKELY(shift == 0)) gm_s_corrupt();
        n = (gm_inode *)c;
    }
}

/* Lock p->node and confirm the descent: true (locked) when the node is alive
   and the slot still holds nothing or a chain (p->head is refreshed); else
   unlocked and false: start over. */
static bool gm_lock_confirm(gm_pos *p) {
    gm_s_lock(&p->node->lock);
    if (!atomic_load_explicit(&p->node->dead, memory_order_relaxed)) {
        uintptr_t c = atomic_load_explicit(p->slot, memory_order_relaxed);
        if (c == 0 || gm_is_entry(c)) {
            p->head = c;
            return true;
        }
    }
    gm_s_unlock(&p->node->lock);
    return false;
}

/* Find key in the chain starting at head (which was read from slot).  *link
   gets the location that points at the entry found. */
static gm_entry *gm_chain_find(const gomap_sync *m, uintptr_t head, _Atomic uintptr_t *slot,
                               uint64_t h, const void *key, _Atomic uintptr_t **link) {
    _Atomic uintptr_t *at = slot;
    uintptr_t c = head;
    while (c) {
        gm_entry *e = gm_entry_of(c);
        if (gm_s_keq(m, e, h, key)) {
            if (link) *link = at;
            return e;
        }
        at = &e->overflow;
        c = atomic_load_explicit(at, memory_order_acquire);
    }
    return NULL;
}

/* ---- write context: everything allocated before locking ------------------------------------ */

typedef struct gm_wctx {
    gm_ebr_rec *rec;
    gm_ebr_bag *bag;             /* retirement batch, once taken */
    gm_entry *ne;                /* the new entry, until published */
    gm_inode *fresh[GM_S_LEVELS]; /* new nodes for expand */
    unsigned nfresh;
} gm_wctx;

/* Start a write: the fresh array is left uninitialised (nfresh counts the
   valid slots; zeroing it cost more than the whole lock-free path). */
#define GM_W_INIT(w)                 \
    do {                             \
        (w).rec = gm_ebr_self();     \
        (w).bag = NULL;              \
        (w).ne = NULL;               \
        (w).nfresh = 0;              \
    } while (0)

/* Indirect nodes expand needs to separate hashes ho and h that share every
   nibble down to the slot at shift (0 when they are equal: a chain). */
static unsigned gm_expand_need(uint64_t ho, uint64_t h, unsigned shift) {
    if (ho == h) return 0;
    unsigned top = 63u - (unsigned)__builtin_clzll(ho ^ h);
    unsigned at = top & ~(GM_S_LOG2 - 1u); /* shift of the first differing level */
    return (shift - at) / GM_S_LOG2;
}

static int gm_w_inodes(const gomap_sync *m, gm_wctx *w, unsigned k) {
    while (w->nfresh < k) {
        gm_inode *n = gm_inode_new(m, w->rec);
        if (!n) return GOMAP_ENOMEM;
        w->fresh[w->nfresh++] = n;
    }
    return GOMAP_OK;
}

static int gm_w_bag(gomap_sync *m, gm_wctx *w) {
    if (!w->bag) {
        w->bag = gm_ebr_take(w->rec, &m->dom, GM_S_RETIRE_MAX);
        if (!w->bag) return GOMAP_ENOMEM;
    }
    return GOMAP_OK;
}

/* After gm_ebr_exit(): free what was not published, return the batch. */
static void gm_w_finish(const gomap_sync *m, gm_wctx *w) {
    while (w->nfresh) gm_inode_free(m, w->fresh[--w->nfresh]);
    if (w->ne) gm_entry_free(m, w->ne);
    w->ne = NULL;
    if (w->bag) gm_ebr_put(w->rec, w->bag);
    w->bag = NULL;
}

/* Build the subtree that holds the chain oldc (hash ho) and w->ne (hash h),
   both belonging to the slot at shift in parent.  Unpublished until the
   caller stores the result. */
static uintptr_t gm_expand(gm_wctx *w, uintptr_t oldc, uint64_t ho, uint64_t h, unsigned shift,
                           gm_inode *parent) {
    if (ho == h) {
        atomic_store_explicit(&w->ne->overflow, oldc, memory_order_relaxed);
        return gm_tag(w->ne);
    }
    gm_inode *top = w->fresh[--w->nfresh], *n = top;
    top->parent = parent;
    for (;;) {
        shift -= GM_S_LOG2;
        unsigned oi = gm_nib(ho, shift), ni = gm_nib(h, shift);
        if (oi != ni) {
            atomic_store_explicit(&n->child[oi], oldc, memory_order_relaxed);
            atomic_store_explicit(&n->child[ni], gm_tag(w->ne), memory_order_relaxed);
            return (uintptr_t)top;
        }
        gm_inode *next = w->fresh[--w->nfresh];
        next->parent = n;
        atomic_store_explicit(&n->child[oi], (uintptr_t)next, memory_order_relaxed);
        n = next;
    }
}

/* Under the lock: insert w->ne (hash h, key absent) at p.  False when expand
   needs more nodes than were allocated (unlock, allocate, start over). */
static bool gm_insert_locked(gm_wctx *w, gm_pos *p, uint64_t h) {
    if (!p->head) {
        atomic_store_explicit(p->slot, gm_tag(w->ne), memory_order_release);
        w->ne = NULL;
        return true;
    }
    uint64_t ho = gm_entry_of(p->head)->hash;
    if (gm_expand_need(ho, h, p->shift) > w->nfresh) return false;
    uintptr_t sub = gm_expand(w, p->head, ho, h, p->shift, p->node);
    atomic_store_explicit(p->slot, sub, memory_order_release); /* publish last */
    w->ne = NULL;
    return true;
}

/* Under the lock: w->ne replaces old, which link points at. */
static void gm_replace_locked(const gomap_sync *m, gm_wctx *w, gm_entry *old,
                              _Atomic uintptr_t *link) {
    uintptr_t next = atomic_load_explicit(&old->overflow, memory_order_relaxed);
    atomic_store_explicit(&w->ne->overflow, next, memory_order_relaxed);
    atomic_store_explicit(link, gm_tag(w->ne), memory_order_release);
    gm_ebr_retire(w->bag, gm_tag(old), gm_e_size(m, old));
    w->ne = NULL;
}

static void gm_count(gm_root *root, const gm_ebr_rec *rec, int64_t d) {
    atomic_fetch_add_explicit(&root->count[rec->index % GM_S_STRIPES].n, d, memory_order_relaxed);
}

static bool gm_inode_empty(gm_inode *n) {
    for (unsigned i = 0; i < GM_S_FAN; i++)
        if (atomic_load_explicit(&n->child[i], memory_order_relaxed)) return false;
    return true;
}

/* Under n's lock, n's slot for h at shift just became empty: remove empty
   nodes bottom-up.  Returns the node that is still locked. */
static gm_inode *gm_prune_locked(gm_ebr_bag *bag, gm_inode *n, uint64_t h, unsigned shift) {
    while (n->parent && gm_inode_empty(n)) {
        gm_inode *parent = n->parent;
        shift += GM_S_LOG2;
        gm_s_lock(&parent->lock);
        atomic_store_explicit(&n->dead, 1, memory_order_relaxed);
        atomic_store_explicit(&parent->child[gm_nib(h, shift)], 0, memory_order_release);
        gm_s_unlock(&n->lock);
        gm_ebr_retire(bag, (uintptr_t)n, sizeof *n);
        n = parent;
    }
    return n;
}

#define GM_S_CHECK_KEY(m, key) \
    if (GM_UNLIKELY(!(m) || (!(key) && (m)->t.key_size))) return GOMAP_EINVAL
#define GM_S_CHECK_VAL(m, v) \
    if (GM_UNLIKELY(!(v) && (m)->t.val_size)) return GOMAP_EINVAL

/* ---- load ---------------------------------------------------------------------------------- */

int gomap_sync_load(const gomap_sync *m, const void *key, void *val_out) {
    GM_S_CHECK_KEY(m, key);
    uint64_t h = gm_s_hash(m, key);
    gm_ebr_rec *r = gm_ebr_self();
    if (GM_UNLIKELY(!r)) return GOMAP_ENOMEM;
    int found = 0;
    gm_ebr_enter(r);
    const gm_inode *n = &atomic_load_explicit(&((gomap_sync *)m)->root, memory_order_acquire)->node;
    for (unsigned shift = 64 - GM_S_LOG2;; shift -= GM_S_LOG2) {
        uintptr_t c = atomic_load_explicit(&((gm_inode *)n)->child[gm_nib(h, shift)],
                                           memory_order_acquire);
        if (!c) break;
        if (gm_is_entry(c)) {
            do {
                const gm_entry *e = gm_entry_of(c);
                if (gm_s_keq(m, e, h, key)) {
                    if (val_out) gm_s_copy(val_out, gm_e_val(m, e), m->t.val_size);
                    found = 1;
                    break;
                }
                c = atomic_load_explicit(&((gm_entry *)e)->overflow, memory_order_acquire);
            } while (c);
            break;
        }
        if (GM_UNLIKELY(shift == 0)) gm_s_corrupt();
        n = (const gm_inode *)c;
    }
    gm_ebr_exit(r);
    return found;
}

/* ---- load_or_store ---------------------------------------------------------------------------- */

int gomap_sync_load_or_store(gomap_sync *m, const void *key, const void *val, void *actual_out) {
    GM_S_CHECK_KEY(m, key);
    GM_S_CHECK_VAL(m, val);
    uint64_t h = gm_s_hash(m, key);
    gm_wctx w;
    GM_W_INIT(w);
    if (GM_UNLIKELY(!w.rec)) return GOMAP_ENOMEM;
    size_t vs = m->t.val_size;
    int ret;
    gm_ebr_enter(w.rec);
    for (;;) {
        gm_pos p;
        gm_descend(m, h, &p);
        gm_entry *e = p.head ? gm_chain_find(m, p.head, p.slot, h, key, NULL) : NULL;
        if (e) { /* the common hit: no lock */
            if (actual_out) gm_s_copy(actual_out, gm_e_val(m, e), vs);
            ret = 1;
            break;
        }
        if (!w.ne && !(w.ne = gm_entry_new(m, w.rec, key, val, h))) {
            ret = GOMAP_ENOMEM;
            break;
        }
        if (p.head &&
            gm_w_inodes(m, &w, gm_expand_need(gm_entry_of(p.head)->hash, h, p.shift)) != GOMAP_OK) {
            ret = GOMAP_ENOMEM;
            break;
        }
        if (!gm_lock_confirm(&p)) continue;
        e = p.head ? gm_chain_find(m, p.head, p.slot, h, key, NULL) : NULL;
        if (e) {
            if (actual_out) gm_s_copy(actual_out, gm_e_val(m, e), vs);
            gm_s_unlock(&p.node->lock);
            ret = 1;
            break;
        }
        if (!gm_insert_locked(&w, &p, h)) {
            gm_s_unlock(&p.node->lock);
            continue;
        }
        gm_s_unlock(&p.node->lock);
        gm_count(p.root, w.rec, 1);
        if (actual_out && vs) memmove(actual_out, val, vs);
        ret = 0;
        break;
    }
    gm_ebr_exit(w.rec);
    gm_w_finish(m, &w);
    return ret;
}

/* ---- swap / store ----------------------------------------------------------------------------- */

int gomap_sync_swap(gomap_sync *m, const void *key, const void *val, void *prev_out) {
    GM_S_CHECK_KEY(m, key);
    GM_S_CHECK_VAL(m, val);
    uint64_t h = gm_s_hash(m, key);
    gm_wctx w;
    GM_W_INIT(w);
    if (GM_UNLIKELY(!w.rec)) return GOMAP_ENOMEM;
    w.ne = gm_entry_new(m, w.rec, key, val, h);
    if (!w.ne) return GOMAP_ENOMEM;
    int ret;
    gm_ebr_enter(w.rec);
    for (;;) {
        gm_pos p;
        gm_descend(m, h, &p);
        gm_entry *e = p.head ? gm_chain_find(m, p.head, p.slot, h, key, NULL) : NULL;
        if (e ? gm_w_bag(m, &w) != GOMAP_OK
              : p.head && gm_w_inodes(m, &w, gm_expand_need(gm_entry_of(p.head)->hash, h,
                                                            p.shift)) != GOMAP_OK) {
            ret = GOMAP_ENOMEM;
            break;
        }
        if (!gm_lock_confirm(&p)) continue;
        _Atomic uintptr_t *link = NULL;
        e = p.head ? gm_chain_find(m, p.head, p.slot, h, key, &link) : NULL;
        if (e) {
            if (!w.bag) { /* appeared since the look: get a batch unlocked */
                gm_s_unlock(&p.node->lock);
                if (gm_w_bag(m, &w) != GOMAP_OK) {
                    ret = GOMAP_ENOMEM;
                    break;
                }
                continue;
            }
            if (prev_out) gm_s_copy(prev_out, gm_e_val(m, e), m->t.val_size);
            gm_replace_locked(m, &w, e, link);
            gm_s_unlock(&p.node->lock);
            ret = 1;
            break;
        }
        if (!gm_insert_locked(&w, &p, h)) {
            gm_s_unlock(&p.node->lock);
            continue;
        }
        gm_s_unlock(&p.node->lock);
        gm_count(p.root, w.rec, 1);
        ret = 0;
        break;
    }
    gm_ebr_exit(w.rec);
    gm_w_finish(m, &w);
    return ret;
}

int gomap_sync_store(gomap_sync *m, const void *key, const void *val) {
    int r = gomap_sync_swap(m, key, val, NULL);
    return r < 0 ? r : !r;
}

/* ---- compare_and_swap ------------------------------------------------------------------------- */

int gomap_sync_compare_and_swap(gomap_sync *m, const void *key, const void *old,
                                const void *new_val) {
    GM_S_CHECK_KEY(m, key);
    GM_S_CHECK_VAL(m, old);
    GM_S_CHECK_VAL(m, new_val);
    uint64_t h = gm_s_hash(m, key);
    gm_wctx w;
    GM_W_INIT(w);
    if (GM_UNLIKELY(!w.rec)) return GOMAP_ENOMEM;
    int ret;
    gm_ebr_enter(w.rec);
    for (;;) {
        gm_pos p;
        gm_descend(m, h, &p);
        gm_entry *e = p.head ? gm_chain_find(m, p.head, p.slot, h, key, NULL) : NULL;
        if (!e || !gm_s_veq(m, e, old)) { /* lock-free failure */
            ret = 0;
            break;
        }
        if ((!w.ne && !(w.ne = gm_entry_new(m, w.rec, key, new_val, h))) || gm_w_bag(m, &w) != GOMAP_OK) {
            ret = GOMAP_ENOMEM;
            break;
        }
        if (!gm_lock_confirm(&p)) continue;
        _Atomic uintptr_t *link = NULL;
        e = p.head ? gm_chain_find(m, p.head, p.slot, h, key, &link) : NULL;
        if (!e || !gm_s_veq(m, e, old)) {
            gm_s_unlock(&p.node->lock);
            ret = 0;
            break;
        }
        gm_replace_locked(m, &w, e, link);
        gm_s_unlock(&p.node->lock);
        ret = 1;
        break;
    }
    gm_ebr_exit(w.rec);
    gm_w_finish(m, &w);
    return ret;
}

/* ---- deletes ------------------------------------------------------------------------------------ */

/* Delete key (if old is given, only while its value equals *old). */
static int gm_delete(gomap_sync *m, const void *key, bool cmp, const void *old, void *val_out) {
    uint64_t h = gm_s_hash(m, key);
    gm_wctx w;
    GM_W_INIT(w);
    if (GM_UNLIKELY(!w.rec)) return GOMAP_ENOMEM;
    int ret;
    gm_ebr_enter(w.rec);
    for (;;) {
        gm_pos p;
        gm_descend(m, h, &p);
        gm_entry *e = p.head ? gm_chain_find(m, p.head, p.slot, h, key, NULL) : NULL;
        if (!e || (cmp && !gm_s_veq(m, e, old))) {
            ret = 0;
            break;
        }
        if (gm_w_bag(m, &w) != GOMAP_OK) {
            ret = GOMAP_ENOMEM;
            break;
        }
        if (!gm_lock_confirm(&p)) continue;
        _Atomic uintptr_t *link = NULL;
        e = p.head ? gm_chain_find(m, p.head, p.slot, h, key, &link) : NULL;
        if (!e || (cmp && !gm_s_veq(m, e, old))) {
            gm_s_unlock(&p.node->lock);
            ret = 0;
            break;
        }
        if (val_out) gm_s_copy(val_out, gm_e_val(m, e), m->t.val_size);
        uintptr_t next = atomic_load_explicit(&e->overflow, memory_order_relaxed);
        atomic_store_explicit(link, next, memory_order_release);
        gm_ebr_retire(w.bag, gm_tag(e), gm_e_size(m, e));
        gm_inode *locked = p.node;
        if (link == p.slot && next == 0) locked = gm_prune_locked(w.bag, p.node, h, p.shift);
        gm_s_unlock(&locked->lock);
        gm_count(p.root, w.rec, -1);
        ret = 1;
        break;
    }
    gm_ebr_exit(w.rec);
    gm_w_finish(m, &w);
    return ret;
}

int gomap_sync_load_and_delete(gomap_sync *m, const void *key, void *val_out) {
    GM_S_CHECK_KEY(m, key);
    return gm_delete(m, key, false, NULL, val_out);
}

int gomap_sync_delete(gomap_sync *m, const void *key) {
    GM_S_CHECK_KEY(m, key);
    return gm_delete(m, key, false, NULL, NULL);
}

int gomap_sync_compare_and_delete(gomap_sync *m, const void *key, const void *old) {
    GM_S_CHECK_KEY(m, key);
    GM_S_CHECK_VAL(m, old);
    return gm_delete(m, key, true, old, NULL);
}

/* ---- clear and len -------------------------------------------------------------------------------- */

int gomap_sync_clear(gomap_sync *m) {
    if (!m) return GOMAP_EINVAL;
    gm_ebr_rec *r = gm_ebr_self();
    if (!r) return GOMAP_ENOMEM;
    gm_root *fresh = gm_root_new(m);
    if (!fresh) return GOMAP_ENOMEM;
    gm_ebr_bag *bag = gm_ebr_take(r, &m->dom, 1);
    if (!bag) {
        gm_s_free(m, fresh, sizeof *fresh);
        return GOMAP_ENOMEM;
    }
    gm_root *old = atomic_exchange_explicit(&m->root, fresh, memory_order_acq_rel);
    gm_ebr_retire(bag, (uintptr_t)old | GM_S_TAG_TREE, SIZE_MAX / 2); /* seal now */
    gm_ebr_put(r, bag);
    return GOMAP_OK;
}

size_t gomap_sync_len(const gomap_sync *m) {
    if (!m) return 0;
    gm_ebr_rec *r = gm_ebr_self();
    if (!r) return 0;
    int64_t sum = 0;
    gm_ebr_enter(r);
    gm_root *root = atomic_load_explicit(&((gomap_sync *)m)->root, memory_order_acquire);
    for (unsigned i = 0; i < GM_S_STRIPES; i++)
        sum += atomic_load_explicit(&root->count[i].n, memory_order_relaxed);
    gm_ebr_exit(r);
    return sum < 0 ? 0 : (size_t)sum;
}

/* ---- range ------------------------------------------------------------------------------------------- */

/* A batch of copied entries: items of [key copy | STR_COPY bytes][value],
   each part padded to 16 bytes. */
typedef struct gm_rbuf {
    unsigned char *p;
    size_t cap, used, items;
    size_t need; /* bytes the first chain needed when it did not fit */
} gm_rbuf;

enum { GM_R_DONE, GM_R_FULL };

static size_t gm_r_keybytes(const gomap_sync *m, const gm_entry *e) {
    size_t n = m->t.key_size;
    if (m->t.kind == GOMAP_KEY_STR_COPY) {
        gomap_str s;
        memcpy(&s, gm_e_key(m, e), sizeof s);
        n += s.len;
    }
    return n;
}

static size_t gm_r_itemsize(const gomap_sync *m, const gm_entry *e) {
    if (m->t.kind != GOMAP_KEY_STR_COPY) return m->r_size;
    return gm_align_up(gm_r_keybytes(m, e), 16) + gm_align_up(m->t.val_size, 16);
}

GM_INLINE void gm_r_copy(const gomap_sync *m, const gm_entry *e, unsigned char *dst) {
    if (m->t.kind != GOMAP_KEY_STR_COPY) {
        gm_s_copy(dst, gm_e_key(m, e), m->t.key_size);
        gm_s_copy(dst + m->r_voff, gm_e_val(m, e), m->t.val_size);
        return;
    }
    size_t kb = gm_r_keybytes(m, e);
    {
        gomap_str s;
        memcpy(&s, gm_e_key(m, e), sizeof s);
        if (s.len) memcpy(dst + sizeof s, s.ptr, s.len);
        s.ptr = (const char *)dst + sizeof s;
        memcpy(dst, &s, sizeof s);
    }
    if (m->t.val_size) memcpy(dst + gm_align_up(kb, 16), gm_e_val(m, e), m->t.val_size);
}

/* Copy chains with hash > lb (all chains when !bounded) below n, whose slots
   are at shift, in hash order, until the buffer is full.  *last gets the
   hash of the last chain copied.  Chains are never split. */
static int gm_range_walk(const gomap_sync *m, gm_inode *n, unsigned shift, uint64_t lb,
                         bool bounded, gm_rbuf *b, uint64_t *last) {
    unsigned start = bounded ? gm_nib(lb, shift) : 0;
    for (unsigned i = start; i < GM_S_FAN; i++) {
        uintptr_t c = atomic_load_explicit(&n->child[i], memory_order_acquire);
        if (!c) continue;
        bool edge = bounded && i == start; /* still on lb's path */
        if (!gm_is_entry(c)) {
            if (GM_UNLIKELY(shift == 0)) gm_s_corrupt();
            if (gm_range_walk(m, (gm_inode *)c, shift - GM_S_LOG2, lb, edge, b, last) == GM_R_FULL)
                return GM_R_FULL;
            continue;
        }
        const gm_entry *e0 = gm_entry_of(c);
        uint64_t hh = e0->hash;
        if (edge && hh <= lb) continue;
        if (GM_LIKELY(m->t.kind != GOMAP_KEY_STR_COPY) &&
            !atomic_load_explicit(&((gm_entry *)e0)->overflow, memory_order_relaxed) &&
            m->r_size <= b->cap - b->used) { /* the common case: one fixed-size entry */
            gm_r_copy(m, e0, b->p + b->used);
            b->used += m->r_size;
            b->items++;
            *last = hh;
            continue;
        }
        size_t mark = b->used, mark_items = b->items;
        for (uintptr_t x = c; x;) {
            const gm_entry *e = gm_entry_of(x);
            size_t sz = gm_r_itemsize(m, e);
            if (sz > b->cap - b->used) {
                if (mark_items == 0) { /* even alone it does not fit: say how much */
                    size_t total = (b->used - mark) + sz;
                    for (x = atomic_load_explicit(&((gm_entry *)e)->overflow, memory_order_acquire); x;
                         x = atomic_load_explicit(&gm_entry_of(x)->overflow, memory_order_acquire))
                        total += gm_r_itemsize(m, gm_entry_of(x));
                    b->need = total;
                }
                b->used = mark;
                b->items = mark_items;
                return GM_R_FULL;
            }
            gm_r_copy(m, e, b->p + b->used);
            b->used += sz;
            b->items++;
            x = atomic_load_explicit(&((gm_entry *)e)->overflow, memory_order_acquire);
        }
        *last = hh;
    }
    return GM_R_DONE;
}

int gomap_sync_range(const gomap_sync *m, gomap_sync_range_fn fn, void *ctx) {
    if (!m || !fn) return GOMAP_EINVAL;
    gm_ebr_rec *r = gm_ebr_self();
    if (!r) return GOMAP_ENOMEM;
    _Alignas(16) unsigned char stack[GM_S_RANGE_BUF];
    unsigned char *heap = NULL;
    gm_rbuf b = {stack, sizeof stack, 0, 0, 0};
    uint64_t lb = 0;
    bool bounded = false;
    int ret = GOMAP_OK;
    for (;;) {
        b.used = b.items = b.need = 0;
        uint64_t last = lb;
        gm_ebr_enter(r);
        gm_root *root = atomic_load_explicit(&((gomap_sync *)m)->root, memory_order_acquire);
        int st = gm_range_walk(m, &root->node, 64 - GM_S_LOG2, lb, bounded, &b, &last);
        gm_ebr_exit(r);
        if (st == GM_R_FULL && b.items == 0) { /* one chain exceeds the buffer: grow */
            size_t cap = b.need > SIZE_MAX / 2 ? b.need : b.need * 2;
            unsigned char *p = (unsigned char *)gm_s_alloc(m, cap);
            if (!p) {
                ret = GOMAP_ENOMEM;
                break;
            }
            if (heap) gm_s_free(m, heap, b.cap);
            heap = b.p = p;
            b.cap = cap;
            continue;
        }
        bool stop = false;
        for (size_t off = 0, i = 0; i < b.items && !stop; i++) {
            unsigned char *item = b.p + off;
            size_t voff = m->r_voff;
            if (m->t.kind == GOMAP_KEY_STR_COPY) {
                gomap_str s;
                memcpy(&s, item, sizeof s);
                voff = gm_align_up(m->t.key_size + s.len, 16);
            }
            stop = !fn(item, item + voff, ctx);
            off += voff + gm_align_up(m->t.val_size, 16);
        }
        if (stop || st == GM_R_DONE) break;
        lb = last;
        bounded = true;
    }
    if (heap) gm_s_free(m, heap, b.cap);
    return ret;
}

/* ---- reclamation controls ------------------------------------------------------------------------------- */

int gomap_sync_thread_detach(void) { return gm_ebr_detach(); }

int gomap_sync_barrier(void) { return gm_ebr_barrier(); }

/* ---- stats and the checker -------------------------------------------------------------------------------- */

typedef struct gm_walk {
    const gomap_sync *m;
    gomap_sync_stats *st;
    int bad;
    char *msg;
    size_t msglen;
} gm_walk;

static void gm_walk_fail(gm_walk *w, int inv, const char *what, uint64_t detail) {
    if (w->bad) return;
    w->bad = inv;
    if (w->msg && w->msglen) snprintf(w->msg, w->msglen, "%s (0x%llx)", what, (unsigned long long)detail);
}

/* path: the hash prefix of n's slots, in the bits above shift + 4. */
static void gm_walk_node(gm_walk *w, gm_inode *n, unsigned shift, uint64_t path, unsigned depth) {
    const gomap_sync *m = w->m;
    gomap_sync_stats *st = w->st;
    st->inodes++;
    st->bytes += n->parent ? sizeof(gm_inode) : sizeof(gm_root);
    if (atomic_load_explicit(&n->lock, memory_order_relaxed)) gm_walk_fail(w, 8, "a node is locked", path);
    bool empty = true;
    for (unsigned i = 0; i < GM_S_FAN; i++) {
        uintptr_t c = atomic_load_explicit(&n->child[i], memory_order_acquire);
        if (!c) continue;
        empty = false;
        uint64_t p = path | ((uint64_t)i << shift);
        if (!gm_is_entry(c)) {
            gm_inode *k = (gm_inode *)c;
            if (k->parent != n) gm_walk_fail(w, 2, "an indirect node's parent is wrong", p);
            if (atomic_load_explicit(&k->dead, memory_order_relaxed))
                gm_walk_fail(w, 2, "a dead node is reachable", p);
            if (shift == 0) {
                gm_walk_fail(w, 2, "an indirect node below the last level", p);
                continue;
            }
            gm_walk_node(w, k, shift - GM_S_LOG2, p, depth + 1);
            continue;
        }
        uint64_t mask = ~(uint64_t)0 << shift; /* the bits of the path */
        uint64_t h0 = gm_entry_of(c)->hash;
        size_t chain = 0;
        if (depth + 1 > st->max_depth) st->max_depth = depth + 1;
        size_t *at_depth = &st->depth_entries[depth < GOMAP_SYNC_DEPTHS ? depth : GOMAP_SYNC_DEPTHS - 1];
        for (uintptr_t x = c; x; x = atomic_load_explicit(&gm_entry_of(x)->overflow, memory_order_acquire)) {
            const gm_entry *e = gm_entry_of(x);
            chain++;
            st->entries++;
            ++*at_depth;
            st->bytes += gm_e_size(m, e);
            if ((e->hash & mask) != p) gm_walk_fail(w, 3, "an entry's hash disagrees with its path", e->hash);
            if (e->hash != h0) gm_walk_fail(w, 4, "a chain mixes hashes", e->hash);
            const void *k = gm_e_key(m, e);
            if (gm_key_equal(&m->t, k, k)) {
                if (gm_key_hash(&m->t, k, m->seed) != e->hash)
                    gm_walk_fail(w, 4, "an entry's cached hash is not its key's hash", e->hash);
                for (uintptr_t y = atomic_load_explicit(&((gm_entry *)e)->overflow, memory_order_acquire); y;
                     y = atomic_load_explicit(&gm_entry_of(y)->overflow, memory_order_acquire))
                    if (gm_key_equal(&m->t, k, gm_e_key(m, gm_entry_of(y))))
                        gm_walk_fail(w, 5, "a key appears twice in a chain", e->hash);
            }
        }
        if (chain > st->max_chain) st->max_chain = chain;
    }
    if (empty && n->parent) gm_walk_fail(w, 6, "an empty indirect node was not pruned", path);
}

static int gm_walk_all(const gomap_sync *m, gomap_sync_stats *st, char *msg, size_t msglen) {
    memset(st, 0, sizeof *st);
    st->retired_process = gm_ebr_pending();
    st->epoch = atomic_load_explicit(&gm_ebr_epoch, memory_order_relaxed);
    st->membarrier = gm_ebr_light != 0 && !GM_TSAN;
    st->threads = gm_ebr_threads();
    st->retired_limit = gm_ebr_backlog_limit();
    st->throttle_timeouts = gm_ebr_throttle_timeouts();
    if (msg && msglen) msg[0] = 0;
    if (!m) return 0;
    gm_ebr_rec *r = gm_ebr_self();
    if (!r) return 0;
    gm_walk w = {m, st, 0, msg, msglen};
    st->len = gomap_sync_len(m);
    st->seed = m->seed;
    st->retired = atomic_load_explicit(&((gomap_sync *)m)->dom.pending, memory_order_relaxed);
    st->bytes = GM_S_HEADER_SIZE;
    st->pool_bytes = atomic_load_explicit(&m->pool.bytes, memory_order_relaxed);
    st->pool_free = gm_pool_free_blocks(gm_s_pool(m));
    gm_ebr_enter(r);
    gm_root *root = atomic_load_explicit(&((gomap_sync *)m)->root, memory_order_acquire);
    if (!root || root->node.parent || atomic_load_explicit(&root->node.dead, memory_order_relaxed))
        gm_walk_fail(&w, 1, "the root is missing, has a parent or is dead", 0);
    else
        gm_walk_node(&w, &root->node, 64 - GM_S_LOG2, 0, 0);
    gm_ebr_exit(r);
    if (!w.bad && st->len != st->entries)
        gm_walk_fail(&w, 7, "the length counter disagrees with the entries", st->len);
    return w.bad;
}

void gomap_sync_stats_get(const gomap_sync *m, gomap_sync_stats *out) {
    if (!out) return;
    gm_walk_all(m, out, NULL, 0);
}

int gomap_sync_check(const gomap_sync *m, char *msg, size_t msglen) {
    gomap_sync_stats st;
    return gm_walk_all(m, &st, msg, msglen);
}

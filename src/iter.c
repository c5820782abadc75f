/*
 * iter.c -- iteration, exactly as Go's mapiterinit/mapiternext
 * (runtime/map.go) with Go 1.24's clearSeq rule (an iterator returns no
 * entry from before a clear).
 *
 * The iterator walks a snapshot of the bucket array taken at init, starting
 * at a random bucket and, inside every bucket, at a random slot offset.
 * Whatever the map does meanwhile:
 *   - if the map has grown since, the snapshot is an old array; a slot marked
 *     evacuatedX/Y is looked up again in the live map (deleted: skipped;
 *     updated: the new value);
 *   - if the iterator started during a grow and visits a new bucket whose
 *     old bucket is not yet evacuated, it walks that old bucket instead,
 *     keeping only the entries that will move to the bucket it is visiting;
 *   - if the map was cleared since init, every entry is looked up again.
 * The iterator holds its snapshot array, and the old array if the map was
 * growing when it started: what they reach stays allocated while it is
 * live (I14, see map.c).
 */
#include "map_internal.h"

void gomap_iter_init(gomap_iter *it, const gomap *m) {
    if (!it) return;
    GM_DEBUG_MAP(m, "gomap_iter_init", );
    memset(it, 0, sizeof *it);
    it->magic = GM_ITER_MAGIC;
    it->map = m;
    if (!m || m->count == 0 || !m->buckets) return; /* exhausted at once */
    if (gm_flags(m) & GM_WRITING) {
        gm_fatal("concurrent map iteration and map write");
        return;
    }
    gomap *mm = (gomap *)(uintptr_t)m; /* the iterator bits are atomic */
    atomic_fetch_add_explicit(&mm->live_iters, 1, memory_order_acq_rel);
    const unsigned both = GM_ITERATOR | GM_OLD_ITERATOR;
    if ((gm_flags(m) & both) != both)
        atomic_fetch_or_explicit(&mm->flags, (unsigned char)both, memory_order_relaxed);

    /* Hold the arrays this iterator may read (I14). */
    gm_table *t = mm->buckets;
    atomic_fetch_add_explicit(&t->iter_refs, 1, memory_order_acq_rel);
    if (mm->oldbuckets) {
        it->old_table = mm->oldbuckets;
        atomic_fetch_add_explicit(&mm->oldbuckets->iter_refs, 1, memory_order_acq_rel);
    }
    uint64_t r = gm_rand64();
    it->table = t;
    it->B = (uint8_t)t->B;
    it->start_bucket = (size_t)(r & gm_mask(t->B));
    it->offset = (uint8_t)((r >> t->B) & (GM_BUCKET_SLOTS - 1));
    it->bucket = it->start_bucket;
    it->clear_seq = it->step_seq = m->clear_seq;
    it->check_bucket = GM_NO_CHECK;
    it->live = 1;
    if (GM_TRACING(m)) gm_ev_iter(m, it, true, it->start_bucket);
}

/* Let go of array t; true when no iterator holds it any more. */
static bool gm_iter_unhold(const void *t) {
    gm_table *tt = (gm_table *)(uintptr_t)t;
    return atomic_fetch_sub_explicit(&tt->iter_refs, 1, memory_order_acq_rel) == 1;
}

void gomap_iter_done(gomap_iter *it) {
    GM_DEBUG_ITER(it, "gomap_iter_done", );
    if (!it || !it->live) return;
    it->live = 0;
    gomap *mm = (gomap *)(uintptr_t)it->map;
    if (GM_TRACING(mm)) gm_ev_iter(mm, it, false, 0);
    bool freed = gm_iter_unhold(it->table);
    if (it->old_table) freed |= gm_iter_unhold(it->old_table);
    atomic_fetch_sub_explicit(&mm->live_iters, 1, memory_order_acq_rel);
    /* What no iterator holds now is freed by the next write, not here: the
       entries this iterator produced last (a NaN from a dead array, a whole
       gomap_iter_next_n batch) stay valid until a write, as promised, and
       the allocator is never called by readers, which run in parallel. */
    if (freed) atomic_store_explicit(&mm->reap, true, memory_order_relaxed);
}

/* During a doubling, does the old-bucket entry with key k and tophash th
   belong to the new bucket `check` that the iterator is visiting? */
static bool gm_iter_keep(const gomap *m, const gomap_iter *it, const char *k, uint8_t th) {
    if (m->reflexive || gm_key_equal(&m->t, k, k))
        return (gm_key_hash(&m->t, k, m->seed) & gm_mask(it->B)) == it->check_bucket;
    /* A NaN: evacuation sends it by the low bit of its tophash (grow.c). */
    return (it->check_bucket >> (it->B - 1)) == (size_t)(th & 1);
}

/* Pick the chain to walk for it->bucket (its array in it->btable), then
   advance the bucket counter. */
static const gm_rec *gm_iter_pick_chain(const gomap *m, gomap_iter *it) {
    const gm_table *t = (const gm_table *)it->table;
    const gm_rec *b = gm_bucket(t, it->bucket);
    it->btable = t;
    it->check_bucket = GM_NO_CHECK;
    if (m->oldbuckets && it->table == m->buckets) {
        /* Started during this grow: until the old bucket is evacuated, the
           new bucket is not filled in; walk the old one and filter.  (Go
           tests it.B == h.B; comparing the arrays is the same test made
           exact: after a clear and same-size grows, another array of the
           same B may be current.) */
        const gm_table *o = m->oldbuckets;
        size_t oi = it->bucket & (o->nbuckets - 1);
        if (!gm_old_evacuated(m, oi)) {
            b = gm_bucket(o, oi);
            it->btable = o;
            it->check_bucket = it->bucket;
        }
    }
    if (++it->bucket == ((size_t)1 << it->B)) {
        it->bucket = 0;
        it->wrapped = 1;
    }
    return b;
}

/* A slot mask (bit i: slot i) in the iterator's rotated order: bit i
   stands for slot (i + offset) & 7. */
GM_INLINE unsigned gm_iter_rotate(const gomap_iter *it, unsigned live) {
    unsigned off = it->offset;
    return ((live >> off) | (live << (GM_BUCKET_SLOTS - off))) & 0xFFu;
}
/* The slots of bucket b still to visit, rotated: live entries and marks. */
static unsigned gm_iter_todo(const gomap_iter *it, const gm_rec *b) {
    return gm_iter_rotate(it, gm_iter_slots(gm_tophash_word(b)));
}

/*
 * mapiternext -- a hot loop, the general case: changing chains and bucket
 * indexes, filtering old buckets, moved entries, clears.  Produces the next
 * entry in it->key / it->val, or returns false (and releases the iterator).
 */
static GM_NOINLINE bool gm_iter_next_slow(gomap_iter *it, const gomap *m) {
    const gm_rec *b = (const gm_rec *)it->bptr;
    unsigned todo = it->todo;
    if (GM_UNLIKELY(it->step_seq != m->clear_seq)) {
        /* A clear since the last step.  The chain we were in may be stale
           memory (dropped overflow buckets) or be refilled with entries that
           another chain will produce: leave it.  What it held after the clear
           was inserted during iteration, which Go lets us skip. */
        it->step_seq = m->clear_seq;
        b = NULL;
    }
    for (;;) {
        if (!b) {                                      /* start the next bucket index */
            if (it->bucket == it->start_bucket && it->wrapped) break;
            b = gm_iter_pick_chain(m, it);
            todo = gm_iter_todo(it, b);
            gm_work(m, 1, 0, m->path);
        }
        for (; todo; todo &= todo - 1) {
            size_t slot = ((unsigned)__builtin_ctz(todo) + it->offset) & (GM_BUCKET_SLOTS - 1);
            gm_work(m, 0, 1, m->path);
            uint8_t th = gm_tophashes(b)[slot];
            if (gm_is_empty(th) || th == GM_EVACUATED_EMPTY) continue; /* emptied since */
            const char *s = gm_slots(m, (const gm_table *)it->btable, b);
            const char *k = gm_key(m, s, slot);
            if (it->check_bucket != GM_NO_CHECK && !(gm_flags(m) & GM_SAME_SIZE) &&
                !gm_iter_keep(m, it, k, th))
                continue;                              /* goes to another new bucket */
            bool moved = th == GM_EVACUATED_X || th == GM_EVACUATED_Y;
            if (GM_LIKELY(it->clear_seq == m->clear_seq) &&
                (!moved || (!m->reflexive && !gm_key_equal(&m->t, k, k)))) {
                /* Golden data: this slot is the entry (a NaN cannot have been
                   deleted or updated, so its old copy is still right). */
                it->key = k;
                it->val = gm_val(m, s, slot);
            } else {
                /* The entry moved (or the map was cleared): ask the live map. */
                char *v;
                const char *rk = gm_lookup_kv(m, k, &v);
                if (!rk) continue;                     /* deleted meanwhile */
                it->key = rk;
                it->val = v;
            }
            it->todo = (uint8_t)(todo & (todo - 1));
            it->bptr = b;
            it->bslots = s;
            GM_DEBUG_ITER_END(m);
            return true;
        }
        b = gm_overflow(b);                            /* rest of the chain */
        if (b) {
            todo = gm_iter_todo(it, b);
            gm_work(m, 1, 0, m->path);
        }
    }
    it->bptr = NULL;
    gomap_iter_done(it);
    return false;
}

/*
 * Prefetch for walks of the current array (gomap_iter_next's common step and
 * gomap_iter_next_n), once per bucket index, when the array is too big to
 * stay cached:
 *   - buckets of GM_ITER_PREFETCH_BSIZE bytes or more (u64 -> 56-byte values:
 *     528), which the walk reads only in part, outrun the hardware
 *     prefetcher: prefetching the whole bucket GM_ITER_PREFETCH_AHEAD indexes
 *     ahead took 10^6 entries from 12-14 to 7-8 ns per entry;
 *   - smaller buckets (144 bytes for u64 -> u64) are streamed well by the
 *     hardware (software prefetches of them made the walk 10% slower), but
 *     the overflow buckets they lead to are elsewhere: prefetching the one of
 *     the bucket GM_ITER_OVERFLOW_AHEAD indexes ahead took 10^7 entries
 *     (6% of buckets overflow) from 4.2-4.4 to 3.2 ns per entry (6 ahead:
 *     3.4-3.5), and left 10^6 unchanged.
 */
#define GM_ITER_PREFETCH_BSIZE ((size_t)256)
#define GM_ITER_PREFETCH_AHEAD ((size_t)2)
#define GM_ITER_OVERFLOW_AHEAD ((size_t)12)
#define GM_ITER_PREFETCH_ARRAY ((size_t)512 << 10)

/* Should a walk of the current array prefetch? */
GM_INLINE bool gm_iter_prefetching(const gomap *m) {
    return m->buckets && m->buckets->mem_size >= GM_ITER_PREFETCH_ARRAY;
}

/* The walk is entering main bucket i of the current array. */
GM_INLINE void gm_iter_prefetch(const gomap *m, size_t i) {
    const gm_table *t = m->buckets;
    if (m->bsize >= GM_ITER_PREFETCH_BSIZE) {
        size_t a = i + GM_ITER_PREFETCH_AHEAD;
        if (a >= t->nbuckets) return;
        const char *p = t->slots + a * m->bsize, *stop = p + m->bsize;
        for (; p < stop; p += 64) GM_PREFETCH(p);
    } else {
        size_t a = i + GM_ITER_OVERFLOW_AHEAD;
        const gm_rec *o = a < t->nbuckets ? gm_overflow(gm_bucket(t, a)) : NULL;
        if (o) {
            GM_PREFETCH(o);
            GM_PREFETCH(gm_slots(m, t, o));
        }
    }
}

/* gm_iter_todo for a chain of the current array while no grow is in
   progress: that array holds no evacuation marks (I5), so the slots to visit
   are exactly those with tophash >= GM_MIN_TOPHASH.  Per byte, bit 7 of
   (byte | 0x80) - 5 is set iff the byte's low 7 bits are >= 5 (no borrow
   crosses a byte), and bit 7 of the byte itself covers the rest. */
GM_INLINE unsigned gm_iter_todo_current(const gomap_iter *it, const gm_rec *b) {
    const uint64_t hi = 0x8080808080808080ull;
    uint64_t w = gm_tophash_word(b);
    uint64_t live = ((((w | hi) - 0x0101010101010101ull * GM_MIN_TOPHASH) | w) & hi) >> 7;
    return gm_iter_rotate(it, (unsigned)((live * 0x0102040810204080ull) >> 56));
}

/* The next chain of the current array after the one the iterator is in:
   its overflow bucket, or the bucket at the next index (*next_index set);
   NULL at the end of the walk.  The iterator does not move. */
GM_INLINE const gm_rec *gm_iter_peek_chain(const gomap_iter *it, const gomap *m, bool *next_index) {
    const gm_rec *o = it->bptr ? gm_overflow((const gm_rec *)it->bptr) : NULL;
    *next_index = o == NULL;
    if (o) return o;
    if (it->bucket == it->start_bucket && it->wrapped) return NULL;
    return gm_bucket(m->buckets, it->bucket);
}

/* Make chain o (from gm_iter_peek_chain) the one the iterator is in, and
   prefetch ahead when asked to. */
GM_INLINE void gm_iter_enter_chain(gomap_iter *it, const gomap *m, const gm_rec *o, bool next_index,
                                   bool prefetch) {
    if (next_index) {
        if (prefetch) gm_iter_prefetch(m, it->bucket);
        if (++it->bucket == ((size_t)1 << it->B)) {
            it->bucket = 0;
            it->wrapped = 1;
        }
    }
    it->bptr = o;
    it->btable = m->buckets;
    it->bslots = gm_slots(m, m->buckets, o);
    it->todo = 0;
}

bool gomap_iter_next(gomap_iter *it) {
    GM_DEBUG_ITER(it, "gomap_iter_next", false);
    if (!it || !it->live) return false;
    const gomap *m = it->map;
    if (GM_UNLIKELY(gm_flags(m) & GM_WRITING)) {
        gm_fatal("concurrent map iteration and map write");
        return false;
    }
    /* The common case, a hot loop: no clear since init, no filtered old
       bucket, no work counting (gm_counting).  The next live slot of the chain we are in is golden data; and
       while the walked array is the current one with no grow in progress, the
       next chain is the next overflow bucket or the next bucket index. */
    if (GM_UNLIKELY(it->check_bucket != GM_NO_CHECK || it->clear_seq != m->clear_seq ||
                    gm_counting(m)))
        return gm_iter_next_slow(it, m);
    const gm_rec *b = (const gm_rec *)it->bptr;
    unsigned todo = it->todo;
    for (;;) {
        if (todo) {
            size_t slot = ((unsigned)__builtin_ctz(todo) + it->offset) & (GM_BUCKET_SLOTS - 1);
            if (GM_UNLIKELY(gm_tophashes(b)[slot] < GM_MIN_TOPHASH)) break; /* a mark */
            it->key = gm_key(m, it->bslots, slot);      /* a live entry */
            it->val = gm_val(m, it->bslots, slot);
            it->todo = (uint8_t)(todo & (todo - 1));
            it->bptr = b;
            GM_DEBUG_ITER_END(m);
            return true;
        }
        if (m->oldbuckets || it->table != m->buckets) break; /* growth: slow */
        bool next_index;                                /* the next chain */
        it->bptr = b;
        const gm_rec *o = gm_iter_peek_chain(it, m, &next_index);
        if (!o) break;                                  /* the end */
        gm_iter_enter_chain(it, m, o, next_index, gm_iter_prefetching(m));
        b = o;
        todo = gm_iter_todo_current(it, b);
    }
    it->bptr = b;
    it->todo = (uint8_t)todo;
    return gm_iter_next_slow(it, m);
}

/* Where the key and value of each slot sit in a bucket, in an iterator's
   rotated order (entry j: slot (j + offset) & 7), worked out once per
   gomap_iter_next_n call. */
typedef struct gm_slot_offsets {
    size_t k[GM_BUCKET_SLOTS], v[GM_BUCKET_SLOTS];
    bool kind, vind; /* keys / values out of line */
} gm_slot_offsets;

static void gm_slot_offsets_init(gm_slot_offsets *so, const gomap *m, unsigned off) {
    for (unsigned j = 0; j < GM_BUCKET_SLOTS; j++) {
        size_t slot = (j + off) & (GM_BUCKET_SLOTS - 1);
        so->k[j] = slot * m->kstride;
        so->v[j] = m->voff + slot * m->vstride;
    }
    so->kind = m->key_indirect;
    so->vind = m->val_indirect;
}

/*
 * The bulk step of gomap_iter_next_n, a hot loop: write the key and value
 * pointers of the live slots of the bucket whose slots are at s (bit j of todo: entry j of so) to ko /
 * vo (either may be NULL) and return how many.  All 8 slots are written,
 * the output advancing by one for live slots only: no branch depends on
 * which slots are live, so the random fill of the buckets costs no
 * mispredictions.  ko and vo need room for 8.
 */
GM_INLINE size_t gm_iter_write_slots(const gm_slot_offsets *so, const char *s, unsigned todo,
                                     const void **ko, void **vo) {
    char *base = (char *)(uintptr_t)s;
    size_t c = 0;
    for (unsigned j = 0; j < GM_BUCKET_SLOTS; j++) {
        if (ko) ko[c] = gm_deref(base + so->k[j], so->kind); /* written for every slot, */
        if (vo) vo[c] = gm_deref(base + so->v[j], so->vind);
        c += (todo >> j) & 1;                                /* kept for live ones */
    }
    return c;
}

/* The last few outputs of a batch: a whole chain through scratch arrays,
   if its entries fit in room (< 8); SIZE_MAX, the iterator unmoved, if
   not or at the end. */
static GM_NOINLINE size_t gm_iter_bulk_tail(gomap_iter *it, const gomap *m,
                                            const gm_slot_offsets *so, const void **keys,
                                            void **vals, size_t room) {
    bool next_index;
    const gm_rec *o = gm_iter_peek_chain(it, m, &next_index);
    if (!o) return SIZE_MAX;
    unsigned todo = gm_iter_todo_current(it, o);
    unsigned live = todo - ((todo >> 1) & 0x55u);      /* popcount of a byte */
    live = (live & 0x33u) + ((live >> 2) & 0x33u);
    live = (live + (live >> 4)) & 0x0Fu;
    if (live > room) return SIZE_MAX;
    gm_iter_enter_chain(it, m, o, next_index, false);
    const void *ks[GM_BUCKET_SLOTS];
    void *vs[GM_BUCKET_SLOTS];
    size_t c = gm_iter_write_slots(so, it->bslots, todo, keys ? ks : NULL, vals ? vs : NULL);
    if (keys) memcpy(keys, ks, c * sizeof *keys);
    if (vals) memcpy(vals, vs, c * sizeof *vals);
    return c;
}

size_t gomap_iter_next_n(gomap_iter *it, const void **keys, void **vals, size_t n) {
    GM_DEBUG_ITER(it, "gomap_iter_next_n", 0);
    if (!it || !it->live || n == 0) return 0;
    const gomap *m = it->map;
    if (GM_UNLIKELY(gm_flags(m) & GM_WRITING)) {
        gm_fatal("concurrent map iteration and map write");
        return 0;
    }
    gm_slot_offsets so;
    gm_slot_offsets_init(&so, m, it->offset);
    bool prefetch = gm_iter_prefetching(m);
    size_t c = 0;
    while (c < n) {
        /* Whole chains while the walk is in the simple state (the chain we
           are in finished, the current array, no grow, clear or filter);
           otherwise one gomap_iter_next step. */
        if (it->todo == 0 && it->check_bucket == GM_NO_CHECK && it->clear_seq == m->clear_seq &&
            !m->oldbuckets && it->table == m->buckets && !gm_counting(m)) {
            size_t got;
            if (n - c >= GM_BUCKET_SLOTS) {
                bool next_index;
                const gm_rec *o = gm_iter_peek_chain(it, m, &next_index);
                if (o) {
                    gm_iter_enter_chain(it, m, o, next_index, prefetch);
                    c += gm_iter_write_slots(&so, it->bslots, gm_iter_todo_current(it, o),
                                             keys ? keys + c : NULL, vals ? vals + c : NULL);
                    continue;
                }
            } else if ((got = gm_iter_bulk_tail(it, m, &so, keys ? keys + c : NULL,
                                                vals ? vals + c : NULL, n - c)) != SIZE_MAX) {
                c += got;
                continue;
            }
        }
        if (!gomap_iter_next(it)) break;
        if (keys) keys[c] = it->key;
        if (vals) vals[c] = it->val;
        c++;
    }
    if (c) {
        if (keys) it->key = keys[c - 1];
        if (vals) it->val = vals[c - 1];
    }
    return c;
}

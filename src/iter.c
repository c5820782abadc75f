/*
 * iter.c -- iteration, exactly as Go's mapiterinit/mapiternext (SPEC.md
 * section 9) with Go 1.24's clearSeq rule (section 10).
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
 * The snapshot array and every block it reaches stay allocated while the
 * iterator is live (the map's graveyard, see map.c).
 */
#include "map_internal.h"

void gomap_iter_init(gomap_iter *it, const gomap *m) {
    if (!it) return;
    memset(it, 0, sizeof *it);
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

    const gm_table *t = m->buckets;
    uint64_t r = gm_rand64();
    it->table = t;
    it->B = (uint8_t)t->B;
    it->start_bucket = (size_t)(r & gm_mask(t->B));
    it->offset = (uint8_t)((r >> t->B) & (GM_BUCKET_SLOTS - 1));
    it->bucket = it->start_bucket;
    it->clear_seq = it->step_seq = m->clear_seq;
    it->check_bucket = GM_NO_CHECK;
    it->live = 1;
}

void gomap_iter_done(gomap_iter *it) {
    if (!it || !it->live) return;
    it->live = 0;
    gomap *mm = (gomap *)(uintptr_t)it->map;
    if (atomic_fetch_sub_explicit(&mm->live_iters, 1, memory_order_acq_rel) == 1)
        gm_drain_after_iteration(mm); /* the last one frees what it kept */
}

/* During a doubling, does the old-bucket entry with key k and tophash th
   belong to the new bucket `check` that the iterator is visiting? */
static bool gm_iter_keep(const gomap *m, const gomap_iter *it, const char *k, uint8_t th) {
    if (m->reflexive || gm_key_equal(&m->t, k, k))
        return (gm_key_hash(&m->t, k, m->seed) & gm_mask(it->B)) == it->check_bucket;
    /* A NaN: evacuation sends it by the low bit of its tophash (grow.c). */
    return (it->check_bucket >> (it->B - 1)) == (size_t)(th & 1);
}

/* Pick the chain to walk for it->bucket, then advance the bucket counter. */
static const char *gm_iter_pick_chain(const gomap *m, gomap_iter *it) {
    const gm_table *t = (const gm_table *)it->table;
    const char *b = gm_bucket(t, it->bucket, m->bsize);
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
            b = gm_bucket(o, oi, m->bsize);
            it->check_bucket = it->bucket;
        }
    }
    if (++it->bucket == ((size_t)1 << it->B)) {
        it->bucket = 0;
        it->wrapped = 1;
    }
    return b;
}

/* The slots of bucket b still to visit, in the iterator's rotated order:
   bit i stands for slot (i + offset) & 7. */
static unsigned gm_iter_todo(const gomap_iter *it, const char *b) {
    unsigned live = gm_iter_slots(gm_tophash_word(b)), off = it->offset;
    return ((live >> off) | (live << (GM_BUCKET_SLOTS - off))) & 0xFFu;
}

/*
 * mapiternext -- a hot loop, the general case: changing chains and bucket
 * indexes, filtering old buckets, moved entries, clears.  Produces the next
 * entry in it->key / it->val, or returns false (and releases the iterator).
 */
static GM_NOINLINE bool gm_iter_next_slow(gomap_iter *it, const gomap *m) {
    const char *b = it->bptr;
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
        }
        for (; todo; todo &= todo - 1) {
            size_t slot = ((unsigned)__builtin_ctz(todo) + it->offset) & (GM_BUCKET_SLOTS - 1);
            uint8_t th = gm_tophashes(b)[slot];
            if (gm_is_empty(th) || th == GM_EVACUATED_EMPTY) continue; /* emptied since */
            const char *k = gm_key(m, b, slot);
            if (it->check_bucket != GM_NO_CHECK && !(gm_flags(m) & GM_SAME_SIZE) &&
                !gm_iter_keep(m, it, k, th))
                continue;                              /* goes to another new bucket */
            bool moved = th == GM_EVACUATED_X || th == GM_EVACUATED_Y;
            if (GM_LIKELY(it->clear_seq == m->clear_seq) &&
                (!moved || (!m->reflexive && !gm_key_equal(&m->t, k, k)))) {
                /* Golden data: this slot is the entry (a NaN cannot have been
                   deleted or updated, so its old copy is still right). */
                it->key = k;
                it->val = gm_val(m, b, slot);
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
            return true;
        }
        b = gm_overflow(m, b);                         /* rest of the chain */
        if (b) todo = gm_iter_todo(it, b);
    }
    it->bptr = NULL;
    gomap_iter_done(it);
    return false;
}

bool gomap_iter_next(gomap_iter *it) {
    if (!it || !it->live) return false;
    const gomap *m = it->map;
    if (GM_UNLIKELY(gm_flags(m) & GM_WRITING)) {
        gm_fatal("concurrent map iteration and map write");
        return false;
    }
    /* The common step: the next slot of the chain we are in holds a live
       entry of the array we walk, with no clear, filter or move involved. */
    unsigned todo = it->todo;
    if (GM_LIKELY(todo != 0 && it->check_bucket == GM_NO_CHECK && it->clear_seq == m->clear_seq)) {
        const char *b = it->bptr;
        size_t slot = ((unsigned)__builtin_ctz(todo) + it->offset) & (GM_BUCKET_SLOTS - 1);
        if (GM_LIKELY(gm_tophashes(b)[slot] >= GM_MIN_TOPHASH)) {
            it->key = gm_key(m, b, slot);
            it->val = gm_val(m, b, slot);
            it->todo = (uint8_t)(todo & (todo - 1));
            return true;
        }
    }
    return gm_iter_next_slow(it, m);
}

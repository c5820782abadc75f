/*
 * grow.c -- bucket arrays and incremental growth.
 *
 * A grow never moves data when it starts (gm_hash_grow only allocates the new
 * array); the entries move one old bucket at a time, in gm_grow_work, which
 * every write calls while a grow is in progress.  Each write evacuates at
 * most GOMAP_EVACUATE_PER_WRITE old buckets (the one feeding the bucket the
 * write is about to use, and the one at nevacuate), and each advance of
 * nevacuate skips at most GOMAP_EVACUATE_SCAN_CAP already-evacuated buckets.
 * Both bounds are counted in the map's stats and asserted by the tests.
 *
 * The same machinery serves both directions of a rebuild: an old array of
 * 2^oldB buckets is drained bucket by bucket into a new array, entry by entry
 * placed by its hash.  Doubling uses the X/Y split; same-size growth keeps
 * every entry in its bucket index, compacting overflow chains.
 *
 * Allocation failure: evacuating an old bucket may need overflow buckets in
 * the new array.  They are reserved before the first entry moves, so an
 * evacuation either fails with nothing moved or completes.
 */
#include "map_internal.h"

_Static_assert(GOMAP_EVACUATE_PER_WRITE == 2, "growWork evacuates two buckets");

/* ---- bucket arrays -------------------------------------------------------- */

/* Buckets (main and preallocated overflow) of an array of 2^B buckets. */
static size_t gm_table_nrecs(unsigned B) {
    size_t n = (size_t)1 << B;
    return n + (B >= 4 ? n >> 4 : 0);
}

/* Where things sit in an array's memory, from its 64-byte aligned start:
   the records, then (64-byte aligned) the slots. */
static size_t gm_slots_offset(size_t nrecs) {
    return (nrecs * sizeof(gm_rec) + 63) & ~(size_t)63;
}

/* Bytes of memory an array of 2^B buckets asks for; 0 if too many. */
size_t gm_table_mem_size(const gomap *m, unsigned B) {
    size_t nrecs = gm_table_nrecs(B);
    if (B >= 8 * sizeof(size_t) - 8 || nrecs > (SIZE_MAX / 2 - 128) / (sizeof(gm_rec) + m->bsize))
        return 0;
    return 64 + gm_slots_offset(nrecs) + nrecs * m->bsize;
}

/* Allocate an array of 2^B buckets (+ 2^(B-4) preallocated overflow buckets
   when B >= 4).  The buckets are not zeroed: see gm_table_zero and I7. */
gm_table *gm_table_new(gomap *m, unsigned B) {
    size_t n = (size_t)1 << B, nrecs = gm_table_nrecs(B);
    size_t size = gm_table_mem_size(m, B);
    if (!size) return NULL;
    char *hp = (char *)gm_block_alloc(m, sizeof(gm_table) - GM_BLOCK_HDR);
    if (!hp) return NULL;
    gm_table *t = (gm_table *)(void *)(hp - GM_BLOCK_HDR);
    size_t hdr_size = t->blk.size;
    memset(t, 0, sizeof *t);
    atomic_init(&t->iter_refs, 0);
    t->blk.size = hdr_size;
    if (!gm_mem_alloc(m, t, size)) {
        gm_block_free(m, &t->blk);
        return NULL;
    }
    t->B = B;
    t->nbuckets = n;
    char *base = (char *)(uintptr_t)(((uintptr_t)t->mem + 63) & ~(uintptr_t)63);
    t->recs = (gm_rec *)(void *)base;
    t->recs_size = nrecs * sizeof(gm_rec);
    t->slots = base + gm_slots_offset(nrecs);
    t->pre_next = t->recs + n;
    t->pre_end = t->recs + nrecs;
    return t;
}

static bool gm_is_standalone(const gm_table *t, const gm_rec *b) {
    return (size_t)((uintptr_t)b - (uintptr_t)t->recs) >= t->recs_size;
}

/* The block of a standalone overflow bucket: its header, then the record,
   then the slots. */
static gm_block *gm_standalone_block(gm_rec *b) {
    return (gm_block *)(void *)((char *)b - GM_BLOCK_HDR);
}

/* Drop the standalone overflow buckets of the chain at b (they are not part
   of t's memory) through `drop`, and unlink them.  Returns how many. */
static size_t gm_drop_chain_overflow(gomap *m, gm_table *t, gm_rec *b, void (*drop)(gomap *, gm_block *)) {
    size_t n = 0;
    gm_rec *o = b->next;
    b->next = NULL;
    while (o) {
        gm_rec *next = o->next;
        if (gm_is_standalone(t, o)) {
            drop(m, gm_standalone_block(o));
            n++;
        }
        o = next;
    }
    return n;
}

/* Drop every standalone overflow bucket linked into t's chains.  `ready`
   says which chains are valid (a new array's unready buckets hold garbage);
   NULL means all.  Cheap when t has none (the usual case after a grow, which
   frees them chain by chain as it evacuates). */
static void gm_drop_all_overflow(gomap *m, gm_table *t, bool (*ready)(const gomap *, size_t),
                                 void (*drop)(gomap *, gm_block *)) {
    for (size_t i = 0; i < t->nbuckets && t->standalone; i++) {
        if (ready && !ready(m, i)) continue;
        t->standalone -= gm_drop_chain_overflow(m, t, gm_bucket(t, i), drop);
    }
    t->standalone = 0;
}

static void gm_drop_spares(gomap *m, gm_table *t, void (*drop)(gomap *, gm_block *)) {
    while (t->spare) {
        gm_block *b = t->spare;
        t->spare = b->next;
        drop(m, b);
    }
}

/* Zero every main bucket and free the overflow buckets.  t is the current
   array; while growing only its ready chains are walked.  An iterator
   inside one of these chains notices the clear (clear_seq) before it reads
   its chain again, so nothing needs to be kept for it. */
void gm_table_zero(gomap *m, gm_table *t) {
    gm_drop_all_overflow(m, t, m->oldbuckets ? gm_new_bucket_ready : NULL, gm_block_free);
    memset(t->recs, 0, t->nbuckets * sizeof(gm_rec));
    memset(t->slots, 0, t->nbuckets * m->bsize);
    t->pre_next = t->recs + t->nbuckets;
    t->n_overflow = 0;
}

/* Retire an array that is no longer the current or old one: free it now, or
   keep it for the iterators that hold it (I14). */
void gm_table_retire(gomap *m, gm_table *t) {
    if (!gm_table_held(t)) { /* freed when the write returns (map.c, gm_arg) */
        t->blk.next = (gm_block *)m->dying;
        m->dying = t;
        return;
    }
    t->blk.next = (gm_block *)m->dead_tables;
    m->dead_tables = t;
    gm_count_add(&m->retired, 1);
}

/* Free an array and everything it owns.  Its chains must all be valid,
   unless t is the current array of a grow in progress. */
void gm_table_free(gomap *m, gm_table *t) {
    bool partial = t == m->buckets && m->oldbuckets;
    gm_drop_all_overflow(m, t, partial ? gm_new_bucket_ready : NULL, gm_block_free);
    gm_drop_spares(m, t, gm_block_free);
    gm_mem_free(m, t);
    gm_block_free(m, &t->blk);
}

/* ---- overflow buckets ----------------------------------------------------- */

/* Overflow buckets available to t without calling the allocator. */
static size_t gm_overflow_available(const gm_table *t, size_t want) {
    size_t n = (size_t)(t->pre_end - t->pre_next);
    for (gm_block *s = t->spare; s && n < want; s = s->next) n++;
    return n;
}

/* Make sure t can hand out `want` overflow buckets without allocating.
   Reserved buckets are kept on t->spare (and freed with t) even if unused. */
static int gm_reserve_overflow(gomap *m, gm_table *t, size_t want) {
    size_t have = gm_overflow_available(t, want);
    while (have < want) {
        char *p = (char *)gm_block_alloc(m, sizeof(gm_rec) + m->bsize);
        if (!p) return GOMAP_ENOMEM;
        gm_block *blk = (gm_block *)(void *)(p - GM_BLOCK_HDR);
        blk->next = t->spare;
        t->spare = blk;
        have++;
    }
    return GOMAP_OK;
}

/* Go's incrnoverflow: exact below B = 16, then probabilistic, so that the
   16-bit counter can still approximate 2^B overflow buckets. */
static void gm_count_overflow(gomap *m) {
    if (m->B < 16) {
        m->noverflow++;
        return;
    }
    uint64_t mask = ((uint64_t)1 << (m->B - 15)) - 1;
    if ((gm_rand64() & mask) == 0) m->noverflow++;
}

/* Link a fresh, zeroed overflow bucket after b (a bucket of table t) and
   return it; NULL if memory ran out (then nothing changed).  Takes a
   preallocated bucket, else a reserved one, else allocates. */
gm_rec *gm_new_overflow(gomap *m, gm_table *t, gm_rec *b) {
    gm_rec *ovf;
    if (t->pre_next < t->pre_end) {
        ovf = t->pre_next++;
    } else {
        gm_block *blk = t->spare;
        if (blk) {
            t->spare = blk->next;
        } else {
            char *p = (char *)gm_block_alloc(m, sizeof(gm_rec) + m->bsize);
            if (!p) return NULL;
            blk = (gm_block *)(void *)(p - GM_BLOCK_HDR);
        }
        blk->next = NULL;
        t->standalone++;
        ovf = (gm_rec *)(void *)((char *)blk + GM_BLOCK_HDR);
    }
    memset(ovf, 0, sizeof *ovf);
    memset(gm_slots(m, t, ovf), 0, m->bsize);
    t->n_overflow++;
    if (t == m->buckets) gm_count_overflow(m);
    b->next = ovf;
    return ovf;
}

/* ---- starting a grow -------------------------------------------------------- */

/* The array for a grow to B: the one faulted in for it, or a fresh one. */
static gm_table *gm_next_array(gomap *m, unsigned B) {
    if (m->next && m->next->B != B) gm_next_drop(m);
    if (!m->next) return gm_table_new(m, B);
    gm_table *nt = m->next;
    m->next = NULL;
    m->next_faulted = 0;
    return nt;
}

/*
 * hashGrow: allocate the new array and make the current one old.  Doubles B,
 * unless the map is not over its load factor, in which case the grow was
 * triggered by too many overflow buckets and rebuilds at the same size.
 * Moves no entry.  On failure nothing changed.
 */
int gm_hash_grow(gomap *m) {
    unsigned bigger = gm_over_load(m->count + 1, m->B) ? 1 : 0;
    gm_table *nt = gm_next_array(m, m->B + bigger);
    if (!nt) return GOMAP_ENOMEM;
    unsigned f = gm_flags(m) & ~(unsigned)(GM_ITERATOR | GM_OLD_ITERATOR | GM_SAME_SIZE);
    if (gm_flags(m) & GM_ITERATOR) f |= GM_OLD_ITERATOR;
    if (!bigger) f |= GM_SAME_SIZE;
    gm_set_flags(m, f);
    m->oldbuckets = m->buckets;
    m->B += bigger;
    gm_set_current(m, nt);
    m->nevacuate = 0;
    m->noverflow = 0;
    m->grows++;
    if (!bigger) m->same_size_grows++;
    if (GM_TRACING(m)) gm_ev_grow_start(m);
    return GOMAP_OK;
}

/* ---- evacuation ------------------------------------------------------------- */

/* Where evacuated entries of one old bucket go: X (same index) or Y
   (index + number of old buckets, doubling only). */
typedef struct gm_dest {
    gm_rec *b; /* current destination bucket */
    char *s;   /* its slots */
    size_t i;  /* next free slot in b */
} gm_dest;

/* Number of buckets in the chain starting at b. */
static size_t gm_chain_len(const gm_rec *b) {
    size_t n = 0;
    for (; b; b = gm_overflow(b)) n++;
    return n;
}

/* Start filling new bucket i (I7): zero it, unless the array is mmap'ed:
   then it is still as the OS handed it out, zero, since nothing writes a
   bucket before this (I7) and gm_table_zero zeroes all of it. */
static void gm_dest_init(const gomap *m, gm_table *nt, gm_dest *d, size_t i) {
    d->b = gm_bucket(nt, i);
    d->s = gm_slots(m, nt, d->b);
    d->i = 0;
    if (!nt->mapped) {
        memset(d->b, 0, sizeof *d->b);
        memset(d->s, 0, m->bsize);
    }
}

/* Finish the grow: the old array is no longer needed. */
static void gm_grow_done(gomap *m) {
    if (GM_TRACING(m)) gm_ev_grow_done(m);
    gm_table_retire(m, m->oldbuckets);
    m->oldbuckets = NULL;
    gm_set_flags(m, gm_flags(m) & ~(unsigned)GM_SAME_SIZE);
}

/* advanceEvacuationMark: step nevacuate past old buckets that are evacuated,
   at most GOMAP_EVACUATE_SCAN_CAP steps beyond the first. */
static void gm_advance_mark(gomap *m, size_t newbit) {
    m->nevacuate++;
    size_t stop = m->nevacuate + GOMAP_EVACUATE_SCAN_CAP;
    if (stop > newbit) stop = newbit;
    unsigned scanned = 0;
    while (m->nevacuate != stop && gm_old_evacuated(m, m->nevacuate)) {
        m->nevacuate++;
        scanned++;
    }
    if (scanned > m->max_scan_per_op) m->max_scan_per_op = scanned;
    if (m->nevacuate == newbit) gm_grow_done(m);
}

/*
 * Evacuate old bucket `oldbucket` (and its overflow chain) into the new
 * array.  This is one of the map's hot loops, so it is written out in full.
 */
static int gm_evacuate(gomap *m, size_t oldbucket) {
    gm_table *old = m->oldbuckets, *nt = m->buckets;
    size_t newbit = old->nbuckets;
    gm_rec *ob = gm_bucket(old, oldbucket);
    bool same = (gm_flags(m) & GM_SAME_SIZE) != 0;

    if (!gm_old_evacuated(m, oldbucket)) {
        /* An old chain of n buckets holds at most 8n entries, which fill at
           most n - 1 overflow buckets across X and Y (see the design essay):
           reserve them first so that nothing below can fail. */
        if (gm_reserve_overflow(m, nt, gm_chain_len(ob) - 1) != GOMAP_OK)
            return GOMAP_ENOMEM;

        /* The destination buckets are filled in only now (I7). */
        gm_dest d[2];
        gm_dest_init(m, nt, &d[0], oldbucket);
        if (!same) gm_dest_init(m, nt, &d[1], oldbucket + newbit);
        bool nan_rule = (gm_flags(m) & GM_ITERATOR) && !m->reflexive;

        for (gm_rec *b = ob; b; b = gm_overflow(b)) {
            uint8_t *th = gm_tophashes(b);
            char *s = gm_slots(m, old, b);
            for (size_t i = 0; i < GM_BUCKET_SLOTS; i++) {
                uint8_t top = th[i];
                if (gm_is_empty(top)) {            /* nothing to move */
                    th[i] = GM_EVACUATED_EMPTY;
                    continue;
                }
                size_t useY = 0;
                if (!same) {
                    /* Recompute the hash to decide between X and Y. */
                    const char *k = gm_key(m, s, i);
                    uint64_t hash = gm_hash_key(m, k, m->path);
                    if (nan_rule && !gm_key_equal(&m->t, k, k)) {
                        /* A key unequal to itself (NaN) hashes differently
                           every time; an iterator must still be able to tell
                           where it went, so the low bit of its old tophash
                           decides, and it gets a fresh tophash. */
                        useY = top & 1;
                        top = gm_tophash(hash);
                    } else {
                        useY = (hash & newbit) != 0;
                    }
                }
                th[i] = (uint8_t)(GM_EVACUATED_X + useY); /* mark the old slot */
                gm_dest *dst = &d[useY];
                if (dst->i == GM_BUCKET_SLOTS) {           /* destination full */
                    dst->b = gm_new_overflow(m, nt, dst->b); /* reserved: cannot fail */
                    dst->s = gm_slots(m, nt, dst->b);
                    dst->i = 0;
                }
                /* Copy tophash, key slot and value slot (pointers when out of line). */
                gm_tophashes(dst->b)[dst->i] = top;
                memcpy(gm_kslot(m, dst->s, dst->i), gm_kslot(m, s, i), m->ksz);
                memcpy(gm_vslot(m, dst->s, dst->i), gm_vslot(m, s, i), m->vsz);
                dst->i++;
            }
        }
        /* Nobody reads an evacuated chain again unless an iterator holds
           the old array: then its overflow buckets stay with it. */
        if (!gm_table_held(old))
            old->standalone -= gm_drop_chain_overflow(m, old, ob, gm_dying_block);
        m->evacuated++;
        m->op_evacuated++;
        if (GM_TRACING(m)) gm_ev_evacuated(m, oldbucket);
    }
    if (oldbucket == m->nevacuate) gm_advance_mark(m, newbit);
    return GOMAP_OK;
}

/*
 * growWork: called by every write while growing, with the index of the new
 * bucket the write is about to use.  Evacuates the old bucket feeding it,
 * then one more at nevacuate so that the grow always makes progress.
 */
int gm_grow_work(gomap *m, size_t bucket) {
    int rc = gm_evacuate(m, bucket & (gm_old_nbuckets(m) - 1));
    if (rc == GOMAP_OK && m->oldbuckets) rc = gm_evacuate(m, m->nevacuate);
    if (m->op_evacuated > m->max_evacuated_per_op) m->max_evacuated_per_op = m->op_evacuated;
    return rc;
}

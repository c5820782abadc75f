/*
 * map.c -- gomap: Go's classic runtime map, in C.
 *
 * This file holds the design essay, the map's life cycle and its four
 * operations (lookup, assign, delete, clear).  Growth lives in grow.c,
 * iteration in iter.c, stats and the invariant checker in check.c.
 *
 * ========================================================================
 * Design
 * ========================================================================
 *
 * A map is an array of 2^B buckets.  A key's hash picks its bucket with the
 * low B bits; the top 8 bits, the "tophash", are kept per slot so that most
 * non-matching slots are rejected without touching the key.
 *
 * A bucket holds 8 slots.  Go's bucket (runtime/map.go's bmap) is one
 * block:
 *
 *     tophash[8] | key[8] | value[8] | overflow pointer
 *
 * Here the same bytes are split in two, and only where they live differs:
 *
 *     record (16 bytes):  tophash[8] | overflow pointer
 *     slots:              key[8] | value[8]
 *
 * The records of an array are one dense array of their own, the slots a
 * second array beside it, bucket i at index i of both (gm_slots).  A miss,
 * and the first probe of every insert and delete, reads only the record,
 * and the records of a map of 10^6 u64 entries take 4 MB where its
 * buckets take 33: they stay in the cache far better than the slots do.  Where a key and a value can
 * sit side by side without padding (u64 -> u64, string -> u64), the slots
 * interleave them, key, value, key, value..., so that an insert, a hit or
 * a delete touches one line of slots, not a line of keys and another of
 * values; otherwise keys are packed together, then values, as in Go, which
 * avoids padding between a key and its value (uint64 keys with uint8
 * values waste nothing).  A key or a value larger than
 * GOMAP_MAX_INLINE (128) bytes is stored out of line: the slot holds a
 * pointer to a block of its own.  When a bucket's 8 slots are full, an
 * overflow bucket is chained after it; arrays of B >= 4 come with 2^(B-4)
 * preallocated overflow buckets (records and slots in the same two
 * arrays); beyond those, an overflow bucket is one block, record then
 * slots.  The chain of a bucket is the bucket followed by its overflow
 * buckets.  docs/DESIGN.md says what this layout bought and what else was
 * tried.
 *
 * The tophash byte doubles as the slot's state.  0..4 are reserved marks
 * (see map_internal.h for one line each): emptyRest, emptyOne, evacuatedX,
 * evacuatedY, evacuatedEmpty.  A live slot's tophash is the hash's top byte,
 * moved up by 5 when it would collide with a mark.  emptyRest (0) means "this
 * slot and every later slot of the chain are empty", so a zeroed bucket is an
 * empty one and a search stops at the first emptyRest.  emptyOne (1) is a
 * tombstone: the slot is free but later slots may be live.  Delete writes
 * emptyOne and then turns a trailing run of emptyOne into emptyRest (I4).
 * Insert takes the first free slot of the chain, so freed slots are reused.
 *
 * Load factor.  The map grows when an insert would make the average load
 * exceed 6.5 entries per bucket (13/2, ~81% of the slots), or when there are
 * about as many overflow buckets as buckets (2^min(B,15)): then it rebuilds
 * at the same size, which compacts chains left sparse by deletes.  Go chose
 * 6.5 from a measured table of overflow percentage, bytes per entry and
 * probes per hit and miss; docs/DESIGN.md has our own regenerated table.
 *
 * Incremental growth.  A grow allocates the new array (twice as large, or the
 * same size) and keeps the old one in oldbuckets; no entry moves at that
 * point.  Every later write first evacuates the old bucket that feeds the
 * bucket it is about to touch, then the old bucket at nevacuate, so that no
 * single write moves more than GOMAP_EVACUATE_PER_WRITE (2) old buckets, and
 * the grow finishes after at most 2^oldB writes.  nevacuate then skips
 * over old buckets that were already evacuated, at most
 * GOMAP_EVACUATE_SCAN_CAP (1024) of them per write.  When a doubling
 * evacuates old bucket i, each entry goes either to new bucket i ("X") or
 * i + 2^oldB ("Y"), by bit oldB of its hash; the old slot keeps a mark
 * evacuatedX/evacuatedY saying where it went.  Reads never move anything:
 * a lookup during a grow reads the old bucket if it is not yet evacuated,
 * else the new one.  The new array is not zeroed when allocated: a new
 * bucket is zeroed just before its old bucket's entries are copied in (I7),
 * so even a grow to 10^7 entries costs nothing up front.
 *
 * Evacuation cannot half-fail.  An old chain of n buckets holds at most 8n
 * entries, which fill at most n - 1 overflow buckets across X and Y
 * (ceil(x/8) - 1 + ceil(y/8) - 1 <= (x + y + 14)/8 - 2 < n with x + y <= 8n),
 * so they are reserved before the first entry moves.
 *
 * Keys unequal to themselves.  A NaN key hashes to a random value each time;
 * it can never be found, updated or deleted, only iterated and cleared.  When
 * a NaN is evacuated while an iterator may be running, the low bit of its old
 * tophash picks X or Y, so that the iterator can apply the same rule.
 *
 * Iteration (iter.c) starts at a random bucket and a random slot offset, and
 * walks its snapshot of the bucket array.  If the map has grown since, an
 * evacuated slot's key is looked up again in the live map, so an entry that
 * was deleted is skipped and an updated value is seen fresh.  If the
 * iterator started during a grow, it walks not-yet-evacuated old buckets in
 * place of new ones, keeping only the entries that will land in the new
 * bucket it is visiting.  A clear bumps clear_seq; an iterator that sees a
 * different clear_seq trusts nothing it holds and looks every key up again.
 *
 * Giving memory back.  A dead array of a default-allocator map is unmapped
 * at most GOMAP_RELEASE_PER_WRITE bytes per write, and the overflow buckets
 * of an old chain are freed as soon as it is evacuated, so that finishing a
 * grow frees nothing large (grow.c).
 *
 * Taking memory.  Go's grow allocates and zeroes the whole new array in one
 * insert.  Here a big array comes from mmap, already zero.  For a map with
 * small buckets it is allocated a few writes before the grow is due and
 * faulted in at most GOMAP_PREFAULT_PER_WRITE bytes per write meanwhile
 * (I13); the grow still starts on the very insert that starts Go's.
 * Faulting the pages in as evacuation first writes them would spread about
 * 2 us faults over one insert in a hundred while the map grows.
 *
 * Memory while iterating.  Go's garbage collector keeps an old bucket array
 * alive while an iterator holds it, and with it whatever its slots point
 * to.  Here an iterator holds (counts a reference on) the array that was
 * current when it started, and the old one if the map was growing then.
 * A held array that dies is kept until the iterator is done; when a key
 * that one of its evacuated slots names is released, what the key owns
 * (an out-of-line block, copied string bytes, its destructor call) is kept
 * too, on the map's graveyard, since the iterator will look that key up
 * again.  A key replaced by an equal one (GOMAP_F_KEY_UPDATE) is not
 * kept: the slots that name it are made to name the new key.  Nothing
 * else waits: a forgotten iterator keeps at most two arrays and one key
 * per slot of them (I14).  Every block the map allocates carries a small
 * header, so keeping one needs no allocation.
 *
 * Concurrent misuse.  A writer toggles GM_WRITING on entry and checks it is
 * still set on exit; readers and iterators check that it is clear.  This is
 * Go's cheap, best-effort detection, with Go's three messages.
 *
 * Batches.  Go has no batch operations; gomap adds gomap_get_many,
 * gomap_put_many and gomap_delete_many because on a map bigger than the
 * cache an operation is one to three memory round trips, and a loop of
 * single calls cannot keep many of them in flight.  Each is a pipeline over
 * the single-key operation: hash a key and prefetch its bucket some keys
 * ahead, then do the ordinary lookup or write with that hash.  So a batch
 * changes no invariant and no bound below; it is n operations in order.
 *
 * ------------------------------------------------------------------------
 * Invariants (checked by gomap_check in check.c; tests name them)
 * ------------------------------------------------------------------------
 *
 *  I1  count is the number of live slots: in every chain of the current
 *      array that is ready (I7), plus in every old chain not yet evacuated.
 *  I2  Placement: every live key that equals itself sits in the chain its
 *      hash selects -- hash & (2^B - 1) in the current array, hash &
 *      (2^oldB - 1) in the old one.
 *  I3  Tophash: every live slot's tophash is >= 5 and, for a key equal to
 *      itself, equals tophash(hash(key)).
 *  I4  Tombstones: along every chain, an emptyRest slot
 *      is followed only by emptyRest slots, and the last slot that is not
 *      emptyRest is never emptyOne.
 *  I5  Evacuation marks appear only in the old array, and an old chain is
 *      either wholly marked (every slot 2, 3 or 4) or not marked at all.
 *  I6  Growth state: growing iff oldbuckets != NULL; every old bucket below
 *      nevacuate is evacuated and nevacuate < 2^oldB; a doubling has
 *      B == oldB + 1, a same-size grow B == oldB and GM_SAME_SIZE, which is
 *      clear when not growing; B equals the current array's B.
 *  I7  Readiness: while growing, a bucket of the new array is read or
 *      written only once the old bucket feeding it is evacuated (it is
 *      zeroed at that moment); when not growing, every bucket is ready.
 *  I8  Overflow accounting: the overflow buckets linked into the current
 *      array's chains number n_overflow, those of them allocated on their
 *      own (not preallocated) number standalone, and noverflow equals
 *      n_overflow while B < 16 (above, noverflow is a sampled estimate).
 *  I9  Uniqueness: looking up any live key that equals itself finds that
 *      very slot.
 *  I10 Flags: outside a write, GM_WRITING is clear.
 *  I11 Empty slots hold zero value bytes, so a reused slot hands out a
 *      zeroed value (Go issue 25936: delete, then increment).
 *  I12 Accounting: bytes equals the sum of the sizes of every block the map
 *      holds (map, arrays, overflow buckets, out-of-line keys and values,
 *      copied strings, graveyard, the next array).
 *  I13 Next array: while one is being faulted in, the map is not growing,
 *      the array's B is B + 1, it is mmap'ed, nothing points into it, and
 *      at most its buckets are faulted in.  It does not delay the grow:
 *      the insert that takes count past the load factor starts the grow
 *      with it, faulted in or not.
 *  I14 Kept memory: dead arrays are kept (dead_tables) only while an
 *      iterator holds them, and key blocks or destructor calls only while
 *      some array is kept -- or until the next write, after an iterator let
 *      go (reap); each kept key was named by an evacuated slot of a held
 *      array, which then became evacuatedEmpty.  retired counts the kept
 *      arrays, blocks and destructor batches.
 *  I15 Distinct keys: no two live keys are equal (checked on a sample,
 *      for CUSTOM keys: a key hash that disagrees with the equality breaks
 *      it and nothing else).
 */
#include "map_internal.h"

#include <stdalign.h>
#include <stddef.h>

/*
 * What live iterators keep (I14).  An iterator reads the array that was
 * current when it started and, if the map was growing then, the old one:
 * it holds both (iter_refs).  A held array that dies -- its grow finished,
 * or a clear dropped it -- is kept on dead_tables instead of freed.  Its
 * evacuated slots still name keys that now live in the current array, and
 * the iterator looks those keys up again when it reaches them, so what such
 * a key owns (an out-of-line block, copied string bytes, its destructor
 * call) must outlive the key's release: gm_key_kept finds out, per key.
 * Everything else is freed at once, as with no iterator.  A slot that
 * named a released key is marked evacuatedEmpty, so it names nothing
 * more: an iterator never finished keeps at most its two arrays and one
 * key per slot of them, however long the map lives on.
 */

/* Is some array other than the current one held by an iterator? */
static bool gm_keeping(const gomap *m) {
    return m->dead_tables || (m->oldbuckets && gm_table_held(m->oldbuckets));
}

/* Does an array t that an iterator may still read name the key in kslot
   (whose hash is hash) in an evacuated slot?  Only t's chain for hash can,
   and evacuation copied the key slot bytewise: the same out-of-line
   pointer, the same string pointer, the same key bytes.  When the key is
   being released, each such slot becomes evacuatedEmpty: the iterator
   would not find the key in the map anyway (or would find a key inserted
   since, which Go lets an iterator skip), and a later key with the same
   bytes is another key that this slot never named.  When the key is being
   replaced by an equal one (rename, a key update), each such slot names
   the new key instead: the entry is still there, and the iterator finds
   it by the new key. */
static bool gm_table_claims_key(const gomap *m, gm_table *t, const char *kslot, uint64_t hash,
                                const void *rename) {
    bool found = false;
    for (gm_rec *b = gm_bucket(t, hash & gm_mask(t->B)); b; b = gm_overflow(b)) {
        uint8_t *th = gm_tophashes(b);
        char *s = gm_slots(m, t, b);
        for (size_t i = 0; i < GM_BUCKET_SLOTS; i++)
            if ((th[i] == GM_EVACUATED_X || th[i] == GM_EVACUATED_Y) &&
                memcmp(gm_kslot(m, s, i), kslot, m->ksz) == 0) {
                if (rename)
                    memcpy(gm_kslot(m, s, i), rename, m->ksz);
                else
                    th[i] = GM_EVACUATED_EMPTY;
                found = true;
            }
    }
    return found;
}

/* Must what the key in kslot owns be kept for an iterator (see above)?
   A write only (it marks the kept arrays' slots).  A key unequal to itself
   cannot be found by its hash: kept whenever any array is. */
static bool gm_key_kept(gomap *m, const char *kslot, uint64_t hash) {
    if (!gm_keeping(m)) return false;
    if (!m->reflexive) return true;
    bool kept = false;
    for (gm_table *t = m->dead_tables; t; t = (gm_table *)(void *)t->blk.next)
        kept |= gm_table_claims_key(m, t, kslot, hash, NULL);
    if (m->oldbuckets && gm_table_held(m->oldbuckets))
        kept |= gm_table_claims_key(m, m->oldbuckets, kslot, hash, NULL);
    return kept;
}

/* The key in kslot (whose hash is hash) is being replaced by the equal
   key newk, stored inline: the kept arrays' slots that name it name newk
   from now on (see gm_table_claims_key), so nothing needs the old key. */
static void gm_kept_rename_key(gomap *m, const char *kslot, const void *newk, uint64_t hash) {
    if (!gm_keeping(m)) return;
    for (gm_table *t = m->dead_tables; t; t = (gm_table *)(void *)t->blk.next)
        gm_table_claims_key(m, t, kslot, hash, newk);
    if (m->oldbuckets && gm_table_held(m->oldbuckets))
        gm_table_claims_key(m, m->oldbuckets, kslot, hash, newk);
}

/* Queue a released key block until no array is kept. */
static void gm_keep_block(gomap *m, gm_block *blk) {
    blk->next = m->graveyard;
    m->graveyard = blk;
    gm_count_add(&m->retired, 1);
}

/* Memory the running write let go of, freed when it returns (gm_arg). */
void gm_dying_block(gomap *m, gm_block *blk) {
    blk->next = m->dying_blocks;
    m->dying_blocks = blk;
}

void gm_free_dying(gomap *m) {
    while (m->dying) {
        gm_table *t = m->dying;
        m->dying = (gm_table *)(void *)t->blk.next;
        gm_table_free(m, t);
    }
    while (m->dying_blocks) {
        gm_block *b = m->dying_blocks;
        m->dying_blocks = b->next;
        gm_block_free(m, b);
    }
}

/* Free the graveyard and run the deferred key destructors. */
static void gm_free_kept_keys(gomap *m) {
    while (m->graveyard) {
        gm_block *b = m->graveyard;
        m->graveyard = b->next;
        gm_block_free(m, b);
        gm_count_sub(&m->retired, 1);
    }
    while (m->deferred) {
        gm_deferred *d = m->deferred;
        m->deferred = (gm_deferred *)(void *)d->blk.next;
        char *keys = (char *)d + sizeof *d;
        for (size_t i = 0; i < d->nkeys; i++) m->t.key_destroy(keys + i * m->t.key_size);
        gm_block_free(m, &d->blk);
        gm_count_sub(&m->retired, 1);
    }
}

/* Free everything kept, held or not (gomap_free). */
static void gm_drain_all(gomap *m) {
    while (m->dead_tables) {
        gm_table *t = m->dead_tables;
        m->dead_tables = (gm_table *)(void *)t->blk.next;
        gm_table_free(m, t);
    }
    gm_free_kept_keys(m);
    atomic_store_explicit(&m->retired, 0, memory_order_relaxed);
}

/* Free the kept arrays no iterator holds any more, and the kept keys once
   no array is kept.  Run by a write (gm_writer_housekeeping, when a
   finishing iterator set reap) and by gomap_free. */
void gm_reap(gomap *m) {
    atomic_store_explicit(&m->reap, false, memory_order_relaxed);
    for (gm_table **pp = &m->dead_tables; *pp;) {
        gm_table *t = *pp;
        if (gm_table_held(t)) {
            pp = (gm_table **)(void *)&t->blk.next;
            continue;
        }
        *pp = (gm_table *)(void *)t->blk.next;
        gm_table_free(m, t);
        gm_count_sub(&m->retired, 1);
    }
    if (!gm_keeping(m)) gm_free_kept_keys(m);
}


/* Room for n key copies whose destructor must wait for the iterators. */
static gm_deferred *gm_deferred_new(gomap *m, size_t n) {
    if (n > (SIZE_MAX - sizeof(gm_deferred)) / (m->t.key_size ? m->t.key_size : 1)) return NULL;
    char *p = (char *)gm_block_alloc(m, sizeof(gm_deferred) - GM_BLOCK_HDR + n * m->t.key_size);
    if (!p) return NULL;
    gm_deferred *d = (gm_deferred *)(void *)(p - GM_BLOCK_HDR);
    d->nkeys = 0;
    return d;
}

static void gm_deferred_commit(gomap *m, gm_deferred *d) {
    if (!d) return;
    if (d->nkeys == 0) {
        gm_block_free(m, &d->blk);
        return;
    }
    d->blk.next = (gm_block *)m->deferred;
    m->deferred = d;
    gm_count_add(&m->retired, 1);
}

/* May dropping a key now need a deferred destructor call (and so memory)? */
static bool gm_need_defer(const gomap *m) {
    return m->t.key_destroy && gm_keeping(m);
}

/* ========================================================================
 * Releasing what an entry owns
 * ======================================================================== */

static gm_block *gm_payload_block(const void *payload) {
    return (gm_block *)(void *)((char *)(uintptr_t)payload - GM_BLOCK_HDR);
}

/* Drop the key in slot kslot: its destructor, its out-of-line block, its
   copied bytes -- now, or, when kept for an iterator (gm_key_kept), the
   destructor call into d (never NULL then: gm_need_defer) and the blocks
   onto the graveyard.  Zeroes the slot. */
static void gm_release_key(gomap *m, char *kslot, gm_deferred *d, bool kept) {
    char *key = gm_deref(kslot, m->key_indirect);
    if (m->t.key_destroy) {
        if (kept && d)
            memcpy((char *)d + sizeof *d + d->nkeys++ * m->t.key_size, key, m->t.key_size);
        else
            m->t.key_destroy(key);
    }
    gm_block *blk = NULL;
    if (m->key_indirect) {
        blk = gm_payload_block(key);
    } else if (m->str_copy) {
        gomap_str s;
        memcpy(&s, kslot, sizeof s);
        if (s.ptr) blk = gm_payload_block(s.ptr);
    }
    if (blk && kept)
        gm_keep_block(m, blk);
    else if (blk)
        gm_block_free(m, blk);
    memset(kslot, 0, m->ksz);
}

/* Drop the value in slot vslot (destructor, out-of-line block); zeroes it. */
static void gm_release_val(gomap *m, char *vslot) {
    char *val = gm_deref(vslot, m->val_indirect);
    if (m->t.val_destroy) m->t.val_destroy(val);
    if (m->val_indirect) gm_block_free(m, gm_payload_block(val));
    memset(vslot, 0, m->vsz);
}

/* ========================================================================
 * Creation and destruction
 * ======================================================================== */

static size_t gm_round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

/* Work out the bucket layout of the type (see the essay). */
static void gm_layout(gomap *m) {
    const gomap_type *t = &m->t;
    size_t kal = t->key_align ? t->key_align : 1, val = t->val_align ? t->val_align : 1;
    m->key_indirect = t->key_size > GOMAP_MAX_INLINE;
    m->val_indirect = t->val_size > GOMAP_MAX_INLINE;
    if (m->key_indirect) kal = alignof(void *);
    if (m->val_indirect) val = alignof(void *);
    m->ksz = m->key_indirect ? sizeof(void *) : t->key_size;
    m->vsz = m->val_indirect ? sizeof(void *) : t->val_size;
    size_t pair = m->ksz + m->vsz;
    if (m->vsz && m->ksz % val == 0 && pair % kal == 0) {
        /* Interleaved: key, value, key, value... needs no padding. */
        m->kstride = m->vstride = pair;
        m->voff = m->ksz;
        m->bsize = GM_BUCKET_SLOTS * pair;
    } else {
        /* Go's order: 8 keys, then 8 values. */
        m->kstride = m->ksz;
        m->vstride = m->vsz;
        m->voff = gm_round_up(GM_BUCKET_SLOTS * m->ksz, val);
        m->bsize = gm_round_up(m->voff + GM_BUCKET_SLOTS * m->vsz, kal > val ? kal : val);
    }
}

/* The fast path and semantics that a key kind selects. */
static void gm_select_path(gomap *m) {
    enum gomap_key_kind k = m->t.kind;
    m->path = k == GOMAP_KEY_U32   ? GM_PATH_U32
              : k == GOMAP_KEY_U64 ? GM_PATH_U64
              : (k == GOMAP_KEY_STR || k == GOMAP_KEY_STR_COPY) ? GM_PATH_STR
                                                                : GM_PATH_GENERIC;
    bool flt = k == GOMAP_KEY_F32 || k == GOMAP_KEY_F64;
    m->reflexive = !flt && !(m->t.flags & GOMAP_F_NONREFLEXIVE);
    m->key_update = (m->t.flags & GOMAP_F_KEY_UPDATE) != 0; /* as the descriptor says */
    m->str_copy = k == GOMAP_KEY_STR_COPY;
    if (m->str_copy) m->key_update = false; /* the map's own copy is as good */
    m->plain_keys = !m->key_indirect && !m->str_copy && !m->t.key_destroy;
    m->plain_vals = !m->val_indirect && !m->t.val_destroy;
    /* The fast paths hard-code the key size (gm_key_at). */
    if (m->key_indirect) m->path = GM_PATH_GENERIC;
}

/* Bucket arrays at least this large are assumed not to stay in cache:
   lookups prefetch every line of the bucket they probe. */
#define GM_PREFETCH_MIN ((size_t)512 << 10)

/* Is the current array small enough to stay in cache? */
static bool gm_cached(const gomap *m) { return m->buckets->mem_size < GM_PREFETCH_MIN; }

/* Make t the current array. */
void gm_set_current(gomap *m, gm_table *t) {
    m->buckets = t;
    m->prefault_at = gm_prefault_threshold(m);
    /* A bucket's slots start at a multiple of g = gcd(bsize, 64) from a
       64-byte aligned base, so at most 64 - g bytes into a line: they span
       at most 1 + (64 - g + bsize - 1) / 64 lines. */
    size_t g = m->bsize & (~m->bsize + 1);
    if (g > 64 || g == 0) g = 64;
    size_t lines = m->bsize ? 1 + (64 - g + m->bsize - 1) / 64 : 1;
    m->prefetch_lines = gm_cached(m) ? 0 : (uint8_t)(lines > 4 ? 4 : lines);
}

/* Go's makemap: the smallest B with hint <= 6.5 * 2^B; bogus hints are 0. */
static unsigned gm_hint_to_B(const gomap *m, int64_t hint) {
    const int64_t max_bytes = (int64_t)1 << 46;
    if (hint < 0 || hint > max_bytes / (int64_t)(sizeof(gm_rec) + m->bsize)) hint = 0;
    unsigned B = 0;
    while (gm_over_load((size_t)hint, B)) B++;
    return B;
}

int gomap_create(gomap **out, const gomap_type *t, int64_t hint, const gomap_allocator *alloc) {
    if (!out) return GOMAP_EINVAL;
    *out = NULL;
    if (gomap_type_check(t) != GOMAP_OK) return GOMAP_EINVAL;
    if (alloc && (!alloc->alloc || !alloc->free)) return GOMAP_EINVAL;
    gomap_allocator a = alloc ? *alloc : gm_default_allocator;
    gomap *m = (gomap *)a.alloc(a.ctx, sizeof *m);
    if (!m) return GOMAP_ENOMEM;
    memset(m, 0, sizeof *m);
    atomic_init(&m->flags, 0);
    atomic_init(&m->live_iters, 0);
    atomic_init(&m->retired, 0);
    atomic_init(&m->reap, false);
    atomic_init(&m->bytes, sizeof *m);
    m->a = a;
    m->t = *t;
    gm_layout(m);
    gm_select_path(m);
    m->seed = gm_rand64();
    m->B = gm_hint_to_B(m, hint);
    if (m->B > 0) {
        /* Allocated now, as Go does; B == 0 waits for the first insert. */
        gm_table *tab = gm_table_new(m, m->B);
        if (!tab) {
            a.free(a.ctx, m, sizeof *m);
            return GOMAP_ENOMEM;
        }
        gm_set_current(m, tab);
        gm_table_zero(m, tab);
    }
#if GOMAP_DEBUG
    if (!gm_debug_register(m)) {
        if (m->buckets) gm_table_free(m, m->buckets);
        a.free(a.ctx, m, sizeof *m);
        return GOMAP_ENOMEM;
    }
#endif
    *out = m;
    return GOMAP_OK;
}

gomap *gomap_new(const gomap_type *t, int64_t hint) {
    gomap *m;
    return gomap_create(&m, t, hint, NULL) == GOMAP_OK ? m : NULL;
}

gomap *gomap_new_with(const gomap_type *t, int64_t hint, const gomap_allocator *alloc) {
    gomap *m;
    return gomap_create(&m, t, hint, alloc) == GOMAP_OK ? m : NULL;
}

/* ========================================================================
 * Walking every entry (clear, clone, free, the checker)
 * ======================================================================== */

static size_t gm_walk_chain(const gomap *m, const gm_table *t, size_t index, gm_entry_fn fn,
                            void *ctx) {
    size_t n = 0;
    for (gm_rec *b = gm_bucket(t, index); b; b = gm_overflow(b), n++)
        for (size_t i = 0; i < GM_BUCKET_SLOTS; i++)
            if (gm_tophashes(b)[i] >= GM_MIN_TOPHASH) fn(ctx, b, gm_slots(m, t, b), i);
    return n;
}

/* Call fn on (bucket, slot) of every live entry: the ready chains of the
   current array (I7), then the old chains not yet evacuated.  Returns the
   number of buckets walked. */
size_t gm_for_each(const gomap *m, gm_entry_fn fn, void *ctx) {
    size_t n = 0;
    if (!m->buckets) return 0;
    for (size_t i = 0; i < m->buckets->nbuckets; i++)
        if (gm_new_bucket_ready(m, i)) n += gm_walk_chain(m, m->buckets, i, fn, ctx);
    if (m->oldbuckets)
        for (size_t i = 0; i < m->oldbuckets->nbuckets; i++)
            if (!gm_old_evacuated(m, i)) n += gm_walk_chain(m, m->oldbuckets, i, fn, ctx);
    return n;
}

/* gm_for_each callback context for dropping every entry. */
typedef struct gm_release_ctx {
    gomap *m;
    gm_deferred *d;
    bool keeping; /* some array is kept for an iterator (gm_keeping) */
} gm_release_ctx;

static void gm_release_entry(void *ctx, gm_rec *b, char *s, size_t i) {
    gm_release_ctx *c = (gm_release_ctx *)ctx;
    gomap *m = c->m;
    char *kslot = gm_kslot(m, s, i);
    bool kept = c->keeping && !m->plain_keys &&
                gm_key_kept(m, kslot, gm_hash_key(m, gm_key(m, s, i), m->path));
    gm_release_key(m, kslot, c->d, kept);
    gm_release_val(m, gm_vslot(m, s, i));
    /* An iterator may still walk this (old) chain: the slot is empty now,
       not a live slot holding a zeroed key. */
    gm_tophashes(b)[i] = GM_EMPTY_ONE;
}

void gomap_free(gomap *m) {
    if (!m) return;
#if GOMAP_DEBUG
    if (!gm_debug_unregister(m)) {
        gm_fatal("gomap_free: map freed twice (or never created)");
        return;
    }
#endif
    /* Live iterators are the caller's error here; ignore them. */
    atomic_store(&m->live_iters, 0);
    gm_release_ctx c = {m, NULL, false};
    gm_for_each(m, gm_release_entry, &c);
    if (m->buckets) gm_table_free(m, m->buckets); /* first: it asks the old one */
    if (m->oldbuckets) gm_table_free(m, m->oldbuckets);
    m->buckets = m->oldbuckets = NULL;
    gm_next_drop(m);
    gm_drain_all(m);
    gm_release_some(m, SIZE_MAX);
    gomap_allocator a = m->a;
    a.free(a.ctx, m, sizeof *m);
}

size_t gomap_len(const gomap *m) {
    GM_DEBUG_MAP(m, "gomap_len", 0);
    return m ? m->count : 0;
}

/* Work counting (gomap_set_counting), called from GM_PATH_COUNTED code. */
void gm_work_add(const gomap *m, size_t buckets, size_t slots) {
    gomap *mm = (gomap *)(uintptr_t)m; /* readers count too: atomic */
    if (buckets) atomic_fetch_add_explicit(&mm->visited_buckets, buckets, memory_order_relaxed);
    if (slots) atomic_fetch_add_explicit(&mm->visited_slots, slots, memory_order_relaxed);
}

/* ========================================================================
 * Writers: entry and exit (Go's concurrent-misuse detection)
 * ======================================================================== */

/* Housekeeping deferred to the start of a write: memory kept for
   iterators that are gone, dead arrays still being unmapped, the next
   array still being faulted in. */
static GM_NOINLINE void gm_writer_housekeeping(gomap *m) {
    if (atomic_load_explicit(&m->reap, memory_order_relaxed)) gm_reap(m);
    if (m->releasing) gm_release_some(m, GM_RELEASE_PER_WRITE);
    if (m->next) gm_prefault_some(m);
}

GM_INLINE bool gm_writer_begin(gomap *m) {
    unsigned f = gm_flags(m);
    if (GM_UNLIKELY(f & GM_WRITING)) {
        gm_fatal("concurrent map writes");
        return false;
    }
    gm_set_flags(m, f ^ GM_WRITING);
    if (GM_UNLIKELY(atomic_load_explicit(&m->reap, memory_order_relaxed) || m->releasing != NULL ||
                    m->next != NULL))
        gm_writer_housekeeping(m);
    m->op_evacuated = 0;
    return true;
}

GM_INLINE bool gm_writer_end(gomap *m) {
    if (GM_UNLIKELY(m->dying != NULL || m->dying_blocks != NULL)) gm_free_dying(m);
    unsigned f = gm_flags(m);
    if (GM_UNLIKELY(!(f & GM_WRITING))) {
        gm_fatal("concurrent map writes");
        return false;
    }
    gm_set_flags(m, f & ~(unsigned)GM_WRITING);
    return true;
}

/* ========================================================================
 * Lookup -- a hot loop
 * ======================================================================== */

/* Walking the bits of a gm_match_byte result: the slot of the lowest one,
   and the result without it. */
#define GM_SLOT_OF(bits) ((size_t)__builtin_ctzll(bits) >> 3)
#define GM_CLEAR_SLOT(bits) ((bits) & ((bits)-1))

/* The chain to search for hash, the array it belongs to (*tp) and the
   slots of its first bucket (*sp): the old bucket while it is not
   evacuated (it is authoritative until then), else the current one. */
GM_INLINE gm_rec *gm_chain_for(const gomap *m, uint64_t hash, const gm_table **tp, char **sp) {
    const gm_table *t = m->buckets;
    size_t i = hash & gm_mask(m->B);
    if (GM_UNLIKELY(m->oldbuckets != NULL)) {
        size_t oi = hash & (m->oldbuckets->nbuckets - 1);
        if (!gm_old_evacuated(m, oi)) {
            t = m->oldbuckets;
            i = oi;
        }
    }
    *tp = t;
    *sp = t->slots + i * m->bsize;
    return gm_bucket(t, i);
}

/*
 * Find key (with hash) and return the slots of its bucket, setting *slot;
 * NULL when absent.  `path` is a constant at every call site, so each key
 * kind gets its own copy of this loop with the comparison inlined.
 *
 * The slot lines are prefetched with the record: a hit then waits for
 * about one memory latency, not for the record and then the slot.  (Not
 * prefetching them made misses cheaper -- 36 against 45 ns at 10^6 u64
 * entries -- and hits twice as slow, 203 against 115 ns.)
 */
GM_INLINE char *gm_find(const gomap *m, const void *key, uint64_t hash, int path, size_t *slot) {
    uint8_t top = gm_tophash(hash);
    const gm_table *t;
    char *s;
    gm_rec *b = gm_chain_for(m, hash, &t, &s);         /* the chain's record and slots, */
    gm_prefetch_slots(m, s);                            /* asked for at once */
    size_t nb = 0, ns = 0;                              /* work, for gm_work */
    for (;;) {
        nb++;
        uint64_t w = gm_tophash_word(b);               /* the 8 tophash bytes */
        for (uint64_t bits = gm_match_byte(w, top); bits; bits = GM_CLEAR_SLOT(bits)) {
            size_t i = GM_SLOT_OF(bits);                /* a slot whose tophash matches */
            ns++;
            if (gm_keys_equal(m, key, gm_key_at(m, s, i, path), path)) {
                *slot = i;
                gm_work_probe(m, nb, ns, true, path);
                return s;
            }
        }
        if (gm_match_byte(w, GM_EMPTY_REST)) break;     /* nothing after emptyRest */
        if (!(b = gm_overflow(b))) break;               /* next bucket of the chain */
        s = gm_slots(m, t, b);
    }
    gm_work_probe(m, nb, ns, false, path);
    return NULL;
}

/* Shared front half of the readers: NULL map, empty map, misuse. */
GM_INLINE bool gm_reader_ok(const gomap *m, const void *key) {
    if (!m || m->count == 0) return false; /* no hashing for an empty map */
    if (!key && m->t.key_size) return false;
    if (GM_UNLIKELY(gm_flags(m) & GM_WRITING)) {
        gm_fatal("concurrent map read and map write");
        return false;
    }
    return true;
}

GM_INLINE char *gm_get_path(const gomap *m, const void *key, int path, char **kout) {
    size_t i;
    char *s = gm_find(m, key, gm_hash_key(m, key, path), path, &i);
    if (!s) return NULL;
    if (kout) *kout = gm_key_at(m, s, i, path);
    return gm_val(m, s, i);
}

static char gm_zero_key[1];

/* One function per key path, so that each gets its own (small) register
   allocation; gomap_get tail-calls the right one. */
static GM_NOINLINE void *gm_get_u64(const gomap *m, const void *key) {
    return gm_get_path(m, key, GM_PATH_U64, NULL);
}
static GM_NOINLINE void *gm_get_u32(const gomap *m, const void *key) {
    return gm_get_path(m, key, GM_PATH_U32, NULL);
}
static GM_NOINLINE void *gm_get_str(const gomap *m, const void *key) {
    return gm_get_path(m, key, GM_PATH_STR, NULL);
}
static GM_NOINLINE void *gm_get_generic(const gomap *m, const void *key) {
    return gm_get_path(m, key, GM_PATH_GENERIC, NULL);
}
static GM_NOINLINE void *gm_get_counted(const gomap *m, const void *key) {
    return gm_get_path(m, key, GM_PATH_COUNTED, NULL);
}

GM_INLINE void *gm_get_dispatch(const gomap *m, const void *key) {
    switch (m->path) {
    case GM_PATH_U64: return gm_get_u64(m, key);
    case GM_PATH_U32: return gm_get_u32(m, key);
    case GM_PATH_STR: return gm_get_str(m, key);
    case GM_PATH_COUNTED: return gm_get_counted(m, key ? key : gm_zero_key);
    default: return gm_get_generic(m, key ? key : gm_zero_key);
    }
}

void *gomap_get(const gomap *m, const void *key) {
    GM_DEBUG_MAP(m, "gomap_get", NULL);
    if (!gm_reader_ok(m, key)) return NULL;
#if GOMAP_DEBUG
    void *v = gm_get_dispatch(m, key);
    GM_DEBUG_READ_END(m);
    return v;
#else
    return gm_get_dispatch(m, key); /* a tail call */
#endif
}

void *gomap_get_key(const gomap *m, const void *key, const void **stored_key) {
    char *k = NULL;
    void *v = NULL;
    GM_DEBUG_MAP(m, "gomap_get_key", NULL);
    if (stored_key && gm_reader_ok(m, key)) {
        if (!key) key = gm_zero_key;
        v = gm_counting(m) ? gm_get_path(m, key, GM_PATH_COUNTED, &k)
                           : gm_get_path(m, key, GM_PATH_GENERIC, &k);
        GM_DEBUG_READ_END(m);
    }
    if (stored_key) *stored_key = v ? k : NULL;
    return v;
}

/*
 * gomap_get_many is a software pipeline over the keys, so that the memory
 * accesses of many lookups overlap (a lone lookup of a big map waits for
 * one DRAM round trip after another): GM_AHEAD keys ahead of the probe, a
 * key is hashed and every line of its chain's first bucket is prefetched;
 * the probe (gm_find) then finds them in cache.  GM_AHEAD is far enough
 * for the lines to arrive (~200 ns here, ~16 lookups' work) and close
 * enough that they fit the core's miss buffers and are not evicted before
 * use.  For an array small enough to stay cached (no prefetching, see
 * gm_set_current) the pipeline would only add work: plain probes.
 * (A three-stage variant that read the tophash bytes first and prefetched
 * only the matching key's and value's lines was no faster at 10^6-10^7
 * and 15-20% slower at 10^5.)
 */
#define GM_AHEAD 16
#define GM_RING 32 /* power of two > GM_AHEAD: the hashes in flight */
_Static_assert((GM_RING & (GM_RING - 1)) == 0 && GM_RING > GM_AHEAD, "ring size");

GM_INLINE size_t gm_get_many_path(const gomap *m, const char *keys, size_t n, void **vals, int path) {
    const size_t ks = m->t.key_size;
    size_t found = 0, i;
    if (gm_cached(m)) { /* plain probes */
        for (size_t q = 0; q < n; q++) {
            const char *key = keys + q * ks;
            char *s = gm_find(m, key, gm_hash_key(m, key, path), path, &i);
            vals[q] = s ? gm_val(m, s, i) : NULL;
            found += s != NULL;
        }
        return found;
    }
    uint64_t hashes[GM_RING]; /* by key index mod GM_RING */
    for (size_t j = 0; j < n + GM_AHEAD; j++) {
        if (j < n) { /* stage 1 for key j: hash, prefetch the chain's head */
            uint64_t h = gm_hash_key(m, keys + j * ks, path);
            const gm_table *t;
            char *s;
            GM_PREFETCH(gm_chain_for(m, h, &t, &s));
            gm_prefetch_slots(m, s);
            hashes[j % GM_RING] = h;
        }
        if (j >= GM_AHEAD) { /* stage 2 for key j - GM_AHEAD: probe */
            size_t q = j - GM_AHEAD;
            char *s = gm_find(m, keys + q * ks, hashes[q % GM_RING], path, &i);
            vals[q] = s ? gm_val(m, s, i) : NULL;
            found += s != NULL;
        }
    }
    return found;
}

size_t gomap_get_many(const gomap *m, const void *keys, size_t n, void **vals) {
    GM_DEBUG_MAP(m, "gomap_get_many", 0);
    if (!vals) return 0;
    for (size_t i = 0; i < n; i++) vals[i] = NULL;
    if (!m || m->count == 0 || n == 0) return 0;
    if (m->t.key_size == 0) { /* a zero-size key type has one key */
        void *v = gomap_get(m, NULL);
        for (size_t i = 0; i < n; i++) vals[i] = v;
        return v ? n : 0;
    }
    if (!keys) return 0;
    if (GM_UNLIKELY(gm_flags(m) & GM_WRITING)) {
        gm_fatal("concurrent map read and map write");
        return 0;
    }
    size_t found;
    switch (m->path) {
    case GM_PATH_U64: found = gm_get_many_path(m, keys, n, vals, GM_PATH_U64); break;
    case GM_PATH_U32: found = gm_get_many_path(m, keys, n, vals, GM_PATH_U32); break;
    case GM_PATH_STR: found = gm_get_many_path(m, keys, n, vals, GM_PATH_STR); break;
    case GM_PATH_COUNTED: found = gm_get_many_path(m, keys, n, vals, GM_PATH_COUNTED); break;
    default: found = gm_get_many_path(m, keys, n, vals, GM_PATH_GENERIC); break;
    }
    GM_DEBUG_READ_END(m);
    return found;
}

/* Go's mapaccessK, for the iterator: no misuse check (the iterator did it). */
char *gm_lookup_kv(const gomap *m, const void *key, char **val_out) {
    char *k = NULL;
    if (m->count == 0) return NULL;
    char *v = gm_counting(m) ? gm_get_path(m, key, GM_PATH_COUNTED, &k)
                             : gm_get_path(m, key, GM_PATH_GENERIC, &k);
    if (!v) return NULL;
    *val_out = v;
    return k;
}

/* ========================================================================
 * Assign -- a hot loop
 * ======================================================================== */

/*
 * Arguments that point into the map.  Go's m[k2] = m[k1] is, in C,
 * gomap_put(m, &k2, gomap_get(m, &k1)): the value argument points into a
 * bucket, and the write's growth work may finish a grow and so free the
 * array holding it before the value is read.  So the memory a write lets go
 * of -- the old array when its grow finishes, an evacuated chain's overflow
 * buckets -- is freed when the write returns (m->dying, gm_writer_end), and
 * a put stores its value before that.  Nothing else a write frees can hold
 * an argument: growth never moves or frees an out-of-line key or value, and
 * a delete frees its own entry's blocks after the last read of its key.
 *
 * A batch reads its key i and value i GM_AHEAD writes before it writes
 * them, so earlier writes of the batch could free what they point to: a
 * batch copies each pair when it hashes it (gm_arg).  The first GM_AHEAD
 * pairs are copied before any write, which covers arrays inside a bucket
 * (8 pairs at most).  Keys and values over GOMAP_MAX_INLINE bytes are not
 * copied: they live out of line.
 */
typedef union gm_arg {
    max_align_t align;
    unsigned char bytes[GOMAP_MAX_INLINE];
} gm_arg;

GM_INLINE const void *gm_arg_copy(gm_arg *buf, const void *p, size_t n) {
    if (n > GOMAP_MAX_INLINE) return p;
    gm_copy(buf->bytes, p, n);
    return buf->bytes;
}

/* What an insert must allocate before it changes anything. */
typedef struct gm_newkey {
    char *kblk; /* out-of-line key block */
    char *sblk; /* copied string bytes */
    char *vblk; /* out-of-line value block */
} gm_newkey;

static int gm_newkey_alloc(gomap *m, const void *key, gm_newkey *nk) {
    memset(nk, 0, sizeof *nk);
    if (m->key_indirect && !(nk->kblk = (char *)gm_block_alloc(m, m->t.key_size))) goto fail;
    if (m->str_copy) {
        const gomap_str *s = (const gomap_str *)key;
        if (s->len && !(nk->sblk = (char *)gm_block_alloc(m, s->len))) goto fail;
    }
    if (m->val_indirect) {
        if (!(nk->vblk = (char *)gm_block_alloc(m, m->t.val_size))) goto fail;
        memset(nk->vblk, 0, m->t.val_size);
    }
    return GOMAP_OK;
fail:
    if (nk->kblk) gm_block_free(m, gm_payload_block(nk->kblk));
    if (nk->sblk) gm_block_free(m, gm_payload_block(nk->sblk));
    return GOMAP_ENOMEM;
}

static void gm_newkey_free(gomap *m, gm_newkey *nk) {
    if (nk->kblk) gm_block_free(m, gm_payload_block(nk->kblk));
    if (nk->sblk) gm_block_free(m, gm_payload_block(nk->sblk));
    if (nk->vblk) gm_block_free(m, gm_payload_block(nk->vblk));
}

/* Store a new key (and an out-of-line value block) into slot i of the
   bucket whose slots are at s. */
GM_INLINE void gm_store_new(gomap *m, char *s, size_t i, const void *key, const gm_newkey *nk, int path) {
    char *kslot = gm_kslot(m, s, i);
    if (path < GM_PATH_GENERIC && m->plain_keys) { /* the fast paths: one copy */
        gm_copy(gm_key_at(m, s, i, path), key, path == GM_PATH_U64 ? 8 : path == GM_PATH_U32 ? 4 : sizeof(gomap_str));
    } else if (m->key_indirect) {
        memcpy(nk->kblk, key, m->t.key_size);
        memcpy(kslot, &nk->kblk, sizeof nk->kblk);
    } else if (m->str_copy) {
        gomap_str str = *(const gomap_str *)key;
        if (str.len) memcpy(nk->sblk, str.ptr, str.len);
        str.ptr = str.len ? nk->sblk : NULL;
        memcpy(kslot, &str, sizeof str);
    } else {
        gm_copy(kslot, key, m->ksz);
    }
    if (m->val_indirect) memcpy(gm_vslot(m, s, i), &nk->vblk, sizeof nk->vblk);
}

/* Overwrite a stored key with an equal one (floats: -0 for +0; borrowed
   strings: the new view) and run the old key's destructor.  An iterator
   holding an older array looks the entry up by the key its evacuated slot
   names: such slots are made to name the new key (an out-of-line key is
   overwritten in its own block, which they point to already). */
static void gm_key_update(gomap *m, char *s, size_t i, const void *key, uint64_t hash) {
    char *stored = gm_key(m, s, i);
    if (stored == key) return; /* the stored key itself */
    if (!m->key_indirect) gm_kept_rename_key(m, stored, key, hash);
    if (m->t.key_destroy) m->t.key_destroy(stored);
    memcpy(stored, key, m->t.key_size);
}

/* A put's value: store *src into the value slot of an entry (destroying
   the old value of an update).  orig is the caller's own pointer (src may
   be a batch's copy of it): a value put onto itself changes nothing. */
static void gm_store_val(gomap *m, char *slot, bool inserted, const void *src, const void *orig) {
    if (!inserted && slot == orig) return;
    if (!inserted && m->t.val_destroy) m->t.val_destroy(slot);
    gm_copy(slot, src, m->t.val_size);
}

/*
 * Go's mapassign.  Returns the value slot for key, inserting it (zeroed)
 * when absent; NULL with *err set on failure, the map's entries unchanged.
 */
GM_INLINE char *gm_assign(gomap *m, const void *key, uint64_t hash, bool *inserted, int *err,
                          int path, const void *src, const void *orig) {
    if (!gm_writer_begin(m)) {
        *err = GOMAP_ECONCURRENT;
        return NULL;
    }
    char *val = NULL;
    size_t nb = 0, ns = 0;                          /* work, for gm_work */
    *err = GOMAP_ENOMEM;
    if (GM_UNLIKELY(!m->buckets)) {                 /* first insert, B == 0 */
        gm_table *t0 = gm_table_new(m, 0);
        if (!t0) goto out;
        gm_set_current(m, t0);
        gm_table_zero(m, t0);
    }
    uint8_t top = gm_tophash(hash);
again:;
    size_t bucket = hash & gm_mask(m->B);
    if (m->oldbuckets && gm_grow_work(m, bucket) != GOMAP_OK) goto out;
    gm_table *t = m->buckets;
    gm_rec *b = gm_bucket(t, bucket), *last = b;    /* the chain's record */
    char *s = t->slots + bucket * m->bsize;         /* and its slots, */
    gm_prefetch_slots(m, s);                        /* asked for at once */
    gm_rec *ins_b = NULL;                           /* first free slot seen */
    char *ins_s = NULL;
    size_t ins_i = 0;
    for (;;) {
        uint64_t w = gm_tophash_word(b);
        nb++;
        for (uint64_t bits = gm_match_byte(w, top); bits; bits = GM_CLEAR_SLOT(bits)) {
            size_t i = GM_SLOT_OF(bits);            /* tophash matches: compare keys */
            ns++;
            if (!gm_keys_equal(m, key, gm_key_at(m, s, i, path), path)) continue;
            if (m->key_update) gm_key_update(m, s, i, key, hash);
            val = gm_val(m, s, i);                  /* an update */
            *inserted = false;
            goto out;
        }
        uint64_t rest = gm_match_byte(w, GM_EMPTY_REST);
        if (!ins_b) {                               /* remember the first free slot */
            uint64_t free_slots = rest | gm_match_byte(w, GM_EMPTY_ONE);
            if (free_slots) {
                ins_b = b;
                ins_s = s;
                ins_i = GM_SLOT_OF(free_slots);
            }
        }
        if (rest) break;                            /* the rest of the chain is empty */
        last = b;
        if (!(b = gm_overflow(b))) break;           /* next bucket of the chain */
        s = gm_slots(m, t, b);
    }

    /* The key is absent.  Start a grow if this insert would overload the map
       (not while growing, and not if this write already evacuated buckets:
       the bound of GOMAP_EVACUATE_PER_WRITE holds per write).  A little
       before that, start faulting the next array in (I13). */
    if (!m->oldbuckets && m->op_evacuated == 0 &&
        (gm_over_load(m->count + 1, m->B) || gm_too_many_overflow(m->noverflow, m->B))) {
        if (gm_hash_grow(m) != GOMAP_OK) goto out;
        goto again;
    }
    if (GM_UNLIKELY(m->count >= m->prefault_at) && !m->next && !m->oldbuckets)
        gm_prefault_begin(m);
    gm_newkey nk = {NULL, NULL, NULL};
    if (!(m->plain_keys && !m->val_indirect) && gm_newkey_alloc(m, key, &nk) != GOMAP_OK) goto out;
    if (!ins_b) {                                   /* chain full: add a bucket */
        if (!(ins_b = gm_new_overflow(m, t, last))) {
            gm_newkey_free(m, &nk);
            goto out;
        }
        ins_s = gm_slots(m, t, ins_b);
        ins_i = 0;
        if (GM_TRACING(m)) gm_ev_overflow(m, t, bucket);
    }
    uint8_t *th = gm_tophashes(ins_b);
    if (th[ins_i] == GM_EMPTY_ONE) m->slot_reuses++;
    gm_store_new(m, ins_s, ins_i, key, &nk, path);
    th[ins_i] = top;
    m->count++;
    if (GM_TRACING(m)) gm_ev_inserted(m, t, bucket, ins_b, ins_i);
    val = gm_val(m, ins_s, ins_i);
    *inserted = true;
out:
    gm_work_probe(m, nb, ns, val && !*inserted, path);
    if (val) *err = GOMAP_OK;
    if (val && src) gm_store_val(m, val, *inserted, src, orig);
    if (!gm_writer_end(m)) {
        *err = GOMAP_ECONCURRENT;
        return NULL;
    }
    return val;
}

static char *gm_assign_any(gomap *m, const void *key, bool *inserted, int *err, const void *src) {
    *err = GOMAP_EINVAL;
    GM_DEBUG_MAP(m, "gomap write", NULL);
    if (!m || (!key && m->t.key_size)) {
        *err = GOMAP_EINVAL;
        return NULL;
    }
    if (!key) key = gm_zero_key;
    /* The hash is computed before the write starts (a user hash function
       that panics leaves no write half-done). */
#define GM_ASSIGN(path) gm_assign(m, key, gm_hash_key(m, key, path), inserted, err, path, src, src)
    switch (m->path) {
    case GM_PATH_U64: return GM_ASSIGN(GM_PATH_U64);
    case GM_PATH_U32: return GM_ASSIGN(GM_PATH_U32);
    case GM_PATH_STR: return GM_ASSIGN(GM_PATH_STR);
    case GM_PATH_COUNTED: return GM_ASSIGN(GM_PATH_COUNTED);
    default: return GM_ASSIGN(GM_PATH_GENERIC);
    }
#undef GM_ASSIGN
}

void *gomap_assign(gomap *m, const void *key) {
    bool ins;
    int err;
    return gm_assign_any(m, key, &ins, &err, NULL);
}

void *gomap_assign2(gomap *m, const void *key, bool *inserted) {
    bool ins = false;
    int err;
    void *v = gm_assign_any(m, key, &ins, &err, NULL);
    if (inserted) *inserted = v && ins;
    return v;
}

int gomap_put(gomap *m, const void *key, const void *val) {
    if (m && m->t.val_size && !val) return GOMAP_EINVAL;
    bool ins = false;
    int err;
    char *slot = gm_assign_any(m, key, &ins, &err, val ? val : gm_zero_key);
    if (!slot) return err;
    return ins ? 1 : 0;
}

/* ========================================================================
 * Delete
 * ======================================================================== */

/* After slot i of b became emptyOne: if nothing live follows it in the
   chain, turn the trailing run of emptyOne into emptyRest, walking back
   towards the chain head (I4). */
static void gm_collapse_tombstones(gm_rec *head, gm_rec *b, size_t i) {
    if (i == GM_BUCKET_SLOTS - 1) {
        gm_rec *o = gm_overflow(b);
        if (o && gm_tophashes(o)[0] != GM_EMPTY_REST) return;
    } else if (gm_tophashes(b)[i + 1] != GM_EMPTY_REST) {
        return;
    }
    for (;;) {
        gm_tophashes(b)[i] = GM_EMPTY_REST;
        if (i == 0) {
            if (b == head) return;                  /* reached the chain head */
            gm_rec *c = b;                          /* find the previous bucket */
            for (b = head; gm_overflow(b) != c; b = gm_overflow(b)) {}
            i = GM_BUCKET_SLOTS - 1;
        } else {
            i--;
        }
        if (gm_tophashes(b)[i] != GM_EMPTY_ONE) return;
    }
}

/* Go's mapdelete; `path` is a constant at each call site. */
GM_INLINE int gm_delete(gomap *m, const void *key, uint64_t hash, int path) {
    if (!gm_writer_begin(m)) return GOMAP_ECONCURRENT;
    int rc = 0;
    size_t nb = 0, ns = 0; /* work, for gm_work */
    gm_deferred *d = NULL;
    if (GM_UNLIKELY(gm_need_defer(m)) && !(d = gm_deferred_new(m, 1))) {
        rc = GOMAP_ENOMEM;
        goto out;
    }
    /* Even an absent key makes a grow progress.  If that needs memory that
       is not there, delete in place in the unevacuated old bucket instead. */
    if (m->oldbuckets) (void)gm_grow_work(m, hash & gm_mask(m->B));
    const gm_table *t;
    char *s;
    gm_rec *head = gm_chain_for(m, hash, &t, &s);
    gm_prefetch_slots(m, s);
    uint8_t top = gm_tophash(hash);
    for (gm_rec *b = head;;) {
        uint64_t w = gm_tophash_word(b);
        nb++;
        for (uint64_t bits = gm_match_byte(w, top); bits; bits = GM_CLEAR_SLOT(bits)) {
            size_t i = GM_SLOT_OF(bits);
            ns++;
            if (!gm_keys_equal(m, key, gm_key_at(m, s, i, path), path)) continue;
            if (m->plain_keys)
                gm_zero(gm_kslot(m, s, i), m->ksz);
            else
                gm_release_key(m, gm_kslot(m, s, i), d, gm_key_kept(m, gm_kslot(m, s, i), hash));
            if (m->plain_vals)
                gm_zero(gm_vslot(m, s, i), m->vsz);
            else
                gm_release_val(m, gm_vslot(m, s, i));
            gm_tophashes(b)[i] = GM_EMPTY_ONE;
            gm_collapse_tombstones(head, b, i);
            if (--m->count == 0) m->seed = gm_rand64(); /* Go issue 25237 */
            if (GM_TRACING(m)) gm_ev_deleted(m, t, head, b, i);
            rc = 1;
            goto out;
        }
        if (gm_match_byte(w, GM_EMPTY_REST)) break;
        if (!(b = gm_overflow(b))) break;
        s = gm_slots(m, t, b);
    }
out:
    gm_work_probe(m, nb, ns, rc == 1, path);
    if (GM_UNLIKELY(d != NULL)) gm_deferred_commit(m, d);
    if (!gm_writer_end(m)) return GOMAP_ECONCURRENT;
    return rc;
}

int gomap_delete(gomap *m, const void *key) {
    GM_DEBUG_MAP(m, "gomap_delete", GOMAP_EINVAL);
    if (!m || (!key && m->t.key_size)) return GOMAP_EINVAL;
    if (m->count == 0) return 0;
    if (!key) key = gm_zero_key;
#define GM_DELETE(path) gm_delete(m, key, gm_hash_key(m, key, path), path)
    switch (m->path) {
    case GM_PATH_U64: return GM_DELETE(GM_PATH_U64);
    case GM_PATH_U32: return GM_DELETE(GM_PATH_U32);
    case GM_PATH_STR: return GM_DELETE(GM_PATH_STR);
    case GM_PATH_COUNTED: return GM_DELETE(GM_PATH_COUNTED);
    default: return GM_DELETE(GM_PATH_GENERIC);
    }
#undef GM_DELETE
}

/* ========================================================================
 * Batch writes -- the write pipelines
 * ======================================================================== */

/*
 * gomap_put_many and gomap_delete_many run gomap_get_many's pipeline over
 * writes: GM_AHEAD keys ahead of its write, a key is hashed and the bucket
 * its write will read is prefetched (every line of its current bucket, and
 * the head of its old one while the map grows, which the write's evacuation
 * reads).  The writes themselves are the single-key ones (gm_assign,
 * gm_delete) with that hash passed in, so every invariant and every bound
 * on incremental work holds per key, and a batch is exactly n single writes
 * in order.  A prefetch is a hint: if a grow starts or ends between the
 * prefetch and the write, the write is still right, only slower.  A hash
 * stays right because the seed changes only when a delete empties the map
 * (the delete pipeline stops there: every later key is absent) and at
 * clear.  Whether to prefetch is decided per key, so a batch that grows an
 * empty map past the cache starts prefetching when it gets there.
 */
GM_INLINE uint64_t gm_write_ahead(const gomap *m, const void *key, int path) {
    uint64_t h = gm_hash_key(m, key, path);
    if (m->buckets && !gm_cached(m)) {
        gm_rec *b = gm_bucket(m->buckets, h & gm_mask(m->B));
        GM_PREFETCH(b);
        gm_prefetch_slots(m, gm_slots(m, m->buckets, b));
        if (m->oldbuckets) GM_PREFETCH(gm_bucket(m->oldbuckets, h & (gm_old_nbuckets(m) - 1)));
    }
    return h;
}

/* The batch writes copy each key and value when they hash it, GM_AHEAD
   writes before its own: the arrays may point into the map (see gm_arg),
   and the writes in between may free what they point to. */
GM_INLINE int gm_put_many_path(gomap *m, const char *keys, const char *vals, size_t n, size_t *done,
                               int path) {
    const size_t ks = m->t.key_size, vs = m->t.val_size;
    uint64_t hashes[GM_RING]; /* by key index mod GM_RING */
    gm_arg kbuf[GM_RING], vbuf[GM_RING];
    const void *kp[GM_RING], *vp[GM_RING];
    for (size_t j = 0; j < n + GM_AHEAD; j++) {
        if (j < n) {
            size_t r = j % GM_RING;
            hashes[r] = gm_write_ahead(m, keys + j * ks, path);
            kp[r] = gm_arg_copy(&kbuf[r], keys + j * ks, ks);
            vp[r] = vs ? gm_arg_copy(&vbuf[r], vals + j * vs, vs) : gm_zero_key;
        }
        if (j >= GM_AHEAD) {
            size_t q = j - GM_AHEAD, r = q % GM_RING;
            bool ins = false;
            int err;
            char *slot = gm_assign(m, kp[r], hashes[r], &ins, &err, path, vp[r],
                                   vs ? vals + q * vs : NULL);
            int rc = slot ? (ins ? 1 : 0) : err;
            if (rc < 0) {
                *done = q;
                return rc;
            }
        }
    }
    *done = n;
    return GOMAP_OK;
}

GM_INLINE int gm_delete_many_path(gomap *m, const char *keys, size_t n, size_t *done, int path) {
    const size_t ks = m->t.key_size;
    uint64_t hashes[GM_RING];
    gm_arg kbuf[GM_RING];
    const void *kp[GM_RING];
    for (size_t j = 0; j < n + GM_AHEAD; j++) {
        if (j < n) {
            size_t r = j % GM_RING;
            hashes[r] = gm_write_ahead(m, keys + j * ks, path);
            kp[r] = gm_arg_copy(&kbuf[r], keys + j * ks, ks);
        }
        if (j >= GM_AHEAD) {
            size_t q = j - GM_AHEAD;
            if (m->count == 0) break; /* the rest are absent (and the seed may be new) */
            int rc = gm_delete(m, kp[q % GM_RING], hashes[q % GM_RING], path);
            if (rc < 0) {
                *done = q;
                return rc;
            }
        }
    }
    *done = n;
    return GOMAP_OK;
}

int gomap_put_many(gomap *m, const void *keys, const void *vals, size_t n, size_t *done) {
    GM_DEBUG_MAP(m, "gomap_put_many", GOMAP_EINVAL);
    size_t dummy;
    if (!done) done = &dummy;
    *done = 0;
    if (!m || (n && ((m->t.key_size && !keys) || (m->t.val_size && !vals)))) return GOMAP_EINVAL;
    if (m->t.key_size == 0) { /* one key (keys may be NULL): n puts of it */
        for (; *done < n; ++*done) {
            int rc = gomap_put(m, NULL, vals ? (const char *)vals + *done * m->t.val_size : NULL);
            if (rc < 0) return rc;
        }
        return GOMAP_OK;
    }
    switch (m->path) {
    case GM_PATH_U64: return gm_put_many_path(m, keys, vals, n, done, GM_PATH_U64);
    case GM_PATH_U32: return gm_put_many_path(m, keys, vals, n, done, GM_PATH_U32);
    case GM_PATH_STR: return gm_put_many_path(m, keys, vals, n, done, GM_PATH_STR);
    case GM_PATH_COUNTED: return gm_put_many_path(m, keys, vals, n, done, GM_PATH_COUNTED);
    default: return gm_put_many_path(m, keys, vals, n, done, GM_PATH_GENERIC);
    }
}

int gomap_delete_many(gomap *m, const void *keys, size_t n, size_t *done) {
    GM_DEBUG_MAP(m, "gomap_delete_many", GOMAP_EINVAL);
    size_t dummy;
    if (!done) done = &dummy;
    *done = 0;
    if (!m || (n && m->t.key_size && !keys)) return GOMAP_EINVAL;
    if (n == 0) return GOMAP_OK;
    if (m->t.key_size == 0) { /* one key (keys may be NULL): one delete does it */
        int rc = gomap_delete(m, NULL);
        if (rc < 0) return rc;
    }
    if (m->t.key_size == 0 || m->count == 0) {
        *done = n;
        return GOMAP_OK;
    }
    switch (m->path) {
    case GM_PATH_U64: return gm_delete_many_path(m, keys, n, done, GM_PATH_U64);
    case GM_PATH_U32: return gm_delete_many_path(m, keys, n, done, GM_PATH_U32);
    case GM_PATH_STR: return gm_delete_many_path(m, keys, n, done, GM_PATH_STR);
    case GM_PATH_COUNTED: return gm_delete_many_path(m, keys, n, done, GM_PATH_COUNTED);
    default: return gm_delete_many_path(m, keys, n, done, GM_PATH_GENERIC);
    }
}

/* ========================================================================
 * Clear and clone
 * ======================================================================== */

int gomap_clear(gomap *m) {
    GM_DEBUG_MAP(m, "gomap_clear", GOMAP_EINVAL);
    if (!m) return GOMAP_EINVAL;
    if (m->count == 0) return GOMAP_OK;
    if (!gm_writer_begin(m)) return GOMAP_ECONCURRENT;
    const size_t removed = m->count; /* for the trace */
    gm_release_ctx c = {m, NULL, gm_keeping(m)};
    if (gm_need_defer(m) && !(c.d = gm_deferred_new(m, m->count))) {
        gm_writer_end(m);
        return GOMAP_ENOMEM;
    }
    size_t walked = gm_for_each(m, gm_release_entry, &c);
    if (gm_counting(m)) gm_work_add(m, walked, m->count);
    gm_deferred_commit(m, c.d);
    gm_table_zero(m, m->buckets); /* first: it asks the old array what is ready */
    if (m->oldbuckets) gm_table_retire(m, m->oldbuckets);
    m->oldbuckets = NULL;
    gm_next_drop(m);
    gm_set_flags(m, gm_flags(m) & ~(unsigned)GM_SAME_SIZE);
    m->nevacuate = 0;
    m->noverflow = 0;
    m->count = 0;
    m->seed = gm_rand64();
    m->clear_seq++; /* iterators: trust nothing from before (Go issue 70189) */
    if (GM_TRACING(m)) gm_ev_cleared(m, removed);
    if (!gm_writer_end(m)) return GOMAP_ECONCURRENT;
    return GOMAP_OK;
}

typedef struct gm_clone_ctx {
    const gomap *src;
    gomap *dst;
    bool failed;
} gm_clone_ctx;

static void gm_clone_entry(void *ctx, gm_rec *b, char *s, size_t i) {
    gm_clone_ctx *c = (gm_clone_ctx *)ctx;
    if (c->failed) return;
    bool ins;
    int err;
    const gomap *sm = c->src;
    (void)b;
    char *kslot = gm_kslot(sm, s, i), *vslot = gm_vslot(sm, s, i);
    char *v = gm_assign_any(c->dst, gm_deref(kslot, sm->key_indirect), &ins, &err, NULL);
    if (!v) {
        c->failed = true;
        return;
    }
    memcpy(v, gm_deref(vslot, sm->val_indirect), sm->t.val_size);
}

gomap *gomap_clone(const gomap *m) {
    GM_DEBUG_MAP(m, "gomap_clone", NULL);
    if (!m || m->t.key_destroy || m->t.val_destroy) return NULL;
    if (gm_flags(m) & GM_WRITING) {
        gm_fatal("concurrent map clone and map write");
        return NULL;
    }
    /* Size for the entries, but no more than the source's own array holds
       at its load factor (Go issue 69110). */
    size_t hint = m->count;
    if (gm_over_load(hint, m->B)) hint = (size_t)GM_LOAD_NUM * (((size_t)1 << m->B) / GM_LOAD_DEN);
    gomap *dst;
    if (gomap_create(&dst, &m->t, (int64_t)hint, &m->a) != GOMAP_OK) return NULL;
    dst->seed = m->seed;
    gm_clone_ctx c = {m, dst, false};
    gm_for_each(m, gm_clone_entry, &c);
    if (c.failed) {
        gomap_free(dst);
        return NULL;
    }
    return dst;
}

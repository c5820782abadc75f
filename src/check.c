/*
 * check.c -- stats, the work-counting switch, and the invariant checker.
 *
 * gomap_check() verifies the invariants I1..I15 stated in the design essay
 * at the top of map.c and returns the number of the first one it finds
 * broken.  It reads the whole map, so it is a debugging and testing tool.
 */
#include "map_internal.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- stats ------------------------------------------------------------------- */

void gomap_stats_get(const gomap *m, gomap_stats *out) {
    GM_DEBUG_MAP(m, "gomap_stats_get", );
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!m) return;
    out->count = m->count;
    out->B = m->B;
    out->buckets = (size_t)1 << m->B;
    out->overflow_buckets = m->buckets ? m->buckets->n_overflow : 0;
    out->noverflow = m->noverflow;
    out->growing = m->oldbuckets != NULL;
    out->same_size = (gm_flags(m) & GM_SAME_SIZE) != 0;
    out->old_buckets = m->oldbuckets ? m->oldbuckets->nbuckets : 0;
    out->nevacuate = m->nevacuate;
    out->bytes = gm_count(&m->bytes);
    out->seed = m->seed;
    out->grows = m->grows;
    out->same_size_grows = m->same_size_grows;
    out->evacuated = m->evacuated;
    out->max_evacuated_per_op = m->max_evacuated_per_op;
    out->max_scan_per_op = m->max_scan_per_op;
    out->slot_reuses = m->slot_reuses;
    out->live_iterators = atomic_load(&((gomap *)(uintptr_t)m)->live_iters);
    out->retired_blocks = gm_count(&m->retired);
    for (const gm_region *r = m->releasing; r; r = r->next) out->pending_release += r->size - r->done;
    out->prefault_pending = gm_prefault_pending(m);
    out->counting = gm_counting(m);
    out->visited_buckets = atomic_load_explicit(&((gomap *)(uintptr_t)m)->visited_buckets, memory_order_relaxed);
    out->visited_slots = atomic_load_explicit(&((gomap *)(uintptr_t)m)->visited_slots, memory_order_relaxed);
}

bool gomap_set_counting(gomap *m, bool on) {
    GM_DEBUG_MAP(m, "gomap_set_counting", false);
    if (!m) return false;
    bool was = gm_counting(m);
    if (on && !was) m->fast_path = m->path;
    if (on != was) m->path = on ? (uint8_t)GM_PATH_COUNTED : m->fast_path;
    return was;
}

/* ---- the checker ------------------------------------------------------------- */

typedef struct gm_checker {
    const gomap *m;
    char *msg;
    size_t msglen;
    int broken; /* first broken invariant, 0 if none */
    size_t live;
    size_t bytes; /* I12: blocks found */
} gm_checker;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void gm_fail(gm_checker *c, int inv, const char *fmt, ...) {
    if (c->broken) return;
    c->broken = inv;
    if (c->msg && c->msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->msg, c->msglen, fmt, ap);
        va_end(ap);
    }
}

static bool gm_self_equal(const gomap *m, const char *k) {
    return m->reflexive || gm_key_equal(&m->t, k, k);
}

/* I3, I2, I9, I12 for one live slot found in chain `index` of table t. */
static void gm_check_slot(gm_checker *c, const gm_table *t, size_t index, const gm_rec *b,
                          size_t i) {
    const gomap *m = c->m;
    uint8_t th = gm_tophashes(b)[i];
    const char *k = gm_key(m, gm_slots(m, t, b), i);
    c->live++;
    if (m->key_indirect) c->bytes += GM_BLOCK_HDR + m->t.key_size;
    if (m->val_indirect) c->bytes += GM_BLOCK_HDR + m->t.val_size;
    if (m->str_copy) {
        gomap_str s;
        memcpy(&s, k, sizeof s);
        if (s.len) c->bytes += GM_BLOCK_HDR + s.len;
        if ((s.len == 0) != (s.ptr == NULL)) gm_fail(c, 12, "copied string with len %zu", s.len);
    }
    if (!gm_self_equal(m, k)) return; /* a NaN: random hash, anywhere */
    uint64_t hash = gm_key_hash(&m->t, k, m->seed);
    if ((hash & (t->nbuckets - 1)) != index)
        gm_fail(c, 2, "key in chain %zu belongs to chain %zu (B=%u)", index,
                (size_t)(hash & (t->nbuckets - 1)), t->B);
    if (th != gm_tophash(hash))
        gm_fail(c, 3, "tophash %u, expected %u (chain %zu slot %zu)", th, gm_tophash(hash), index, i);
    char *v;
    const char *found = gm_lookup_kv(m, k, &v);
    if (found != k) gm_fail(c, 9, "lookup of a live key (chain %zu) finds another slot", index);
}

/* Check one chain: I4 (tombstones), I5 (marks), I11 (zero values), and the
   live slots.  `old` says whether it is an old chain (marks allowed). */
static void gm_check_chain(gm_checker *c, const gm_table *t, size_t index, bool old) {
    const gomap *m = c->m;
    const gm_rec *b = gm_bucket(t, index);
    bool marked = old && gm_evacuated(b);
    bool seen_rest = false;
    uint8_t prev = GM_MIN_TOPHASH; /* the previous slot that is not emptyRest */
    for (; b; b = gm_overflow(b)) {
        for (size_t i = 0; i < GM_BUCKET_SLOTS; i++) {
            uint8_t th = gm_tophashes(b)[i];
            bool mark = th > GM_EMPTY_ONE && th < GM_MIN_TOPHASH;
            if (marked) {
                if (!mark) gm_fail(c, 5, "evacuated chain %zu has unmarked slot (%u)", index, th);
                continue;
            }
            if (mark) {
                gm_fail(c, 5, "%s chain %zu: mark %u in a live chain", old ? "old" : "new", index, th);
                continue;
            }
            if (th == GM_EMPTY_REST) {
                seen_rest = true;
            } else {
                if (seen_rest) gm_fail(c, 4, "chain %zu: slot after emptyRest is %u", index, th);
                prev = th;
            }
            if (gm_is_empty(th)) {
                const char *v = gm_vslot(m, gm_slots(m, t, b), i);
                for (size_t j = 0; j < m->vsz; j++)
                    if (v[j]) {
                        gm_fail(c, 11, "chain %zu: empty slot with non-zero value", index);
                        break;
                    }
            } else {
                gm_check_slot(c, t, index, b, i);
            }
        }
    }
    if (!marked && prev == GM_EMPTY_ONE) gm_fail(c, 4, "chain %zu ends with emptyOne", index);
}

/* Bytes held by a table: header, bucket memory, spare and linked
   standalone overflow buckets. */
static size_t gm_table_bytes(const gomap *m, const gm_table *t) {
    size_t bytes = t->blk.size + t->mem_size + t->standalone * (GM_BLOCK_HDR + sizeof(gm_rec) + m->bsize);
    for (const gm_block *b = t->spare; b; b = b->next) bytes += b->size;
    return bytes;
}

/* I8: overflow buckets linked into the current array's chains. */
static void gm_check_overflow(gm_checker *c) {
    const gomap *m = c->m;
    const gm_table *t = m->buckets;
    size_t linked = 0, standalone = 0;
    for (size_t i = 0; i < t->nbuckets; i++) {
        if (!gm_new_bucket_ready(m, i)) continue;
        for (const gm_rec *b = gm_overflow(gm_bucket(t, i)); b; b = gm_overflow(b)) {
            linked++;
            standalone += (size_t)((uintptr_t)b - (uintptr_t)t->recs) >= t->recs_size;
        }
    }
    if (standalone != t->standalone)
        gm_fail(c, 8, "%zu standalone overflow buckets linked, counted %zu", standalone, t->standalone);
    if (linked != t->n_overflow)
        gm_fail(c, 8, "%zu overflow buckets linked, n_overflow says %zu", linked, t->n_overflow);
    if (m->B < 16 && m->noverflow != t->n_overflow)
        gm_fail(c, 8, "noverflow %u != %zu overflow buckets", m->noverflow, t->n_overflow);
}

/* I6: the growth state. */
static void gm_check_growth(gm_checker *c) {
    const gomap *m = c->m;
    unsigned f = gm_flags(m);
    if (m->buckets && m->buckets->B != m->B) gm_fail(c, 6, "B %u but array B %u", m->B, m->buckets->B);
    if (!m->oldbuckets) {
        if (f & GM_SAME_SIZE) gm_fail(c, 6, "same-size flag while not growing");
        return;
    }
    const gm_table *o = m->oldbuckets;
    if (m->nevacuate >= o->nbuckets) gm_fail(c, 6, "nevacuate %zu >= %zu", m->nevacuate, o->nbuckets);
    for (size_t i = 0; i < m->nevacuate && i < o->nbuckets; i++)
        if (!gm_evacuated(gm_bucket(o, i))) gm_fail(c, 6, "old bucket %zu < nevacuate not evacuated", i);
    bool same = (f & GM_SAME_SIZE) != 0;
    if (m->B != o->B + (same ? 0u : 1u)) gm_fail(c, 6, "B %u vs old B %u (same=%d)", m->B, o->B, same);
}

/* I7: while growing, a new bucket whose old bucket is not yet evacuated has
   not been written.  Only an mmap'ed array shows it: it came zeroed and
   nothing may write a bucket of it before that bucket's evacuation (a
   malloc'ed one holds whatever the allocator left there). */
static void gm_check_ready(gm_checker *c) {
    const gomap *m = c->m;
    if (!m->oldbuckets || !m->buckets || !m->buckets->mapped) return;
    for (size_t i = 0; i < m->buckets->nbuckets; i++) {
        if (gm_new_bucket_ready(m, i)) continue;
        const gm_rec *b = gm_bucket(m->buckets, i);
        const char *s = gm_slots(m, m->buckets, b);
        bool written = b->next != NULL;
        for (size_t j = 0; j < GM_BUCKET_SLOTS; j++) written |= b->top[j] != 0;
        for (size_t j = 0; j < m->bsize; j++) written |= s[j] != 0;
        if (written) {
            gm_fail(c, 7, "new bucket %zu written before its old bucket was evacuated", i);
            return;
        }
    }
}

/* I13: the array being faulted in for the next grow. */
static void gm_check_next(gm_checker *c) {
    const gomap *m = c->m;
    const gm_table *n = m->next;
    if (!n) {
        if (m->next_faulted) gm_fail(c, 13, "next_faulted %zu with no next array", m->next_faulted);
        return;
    }
    if (m->oldbuckets) gm_fail(c, 13, "a next array while growing");
    if (n->B != m->B + 1) gm_fail(c, 13, "next array B %u with B %u", n->B, m->B);
    if (!n->mapped) gm_fail(c, 13, "next array not mmap'ed");
    if (n->standalone || n->n_overflow || n->spare) gm_fail(c, 13, "next array has overflow buckets");
    if (m->next_faulted > (size_t)(n->slots - n->mem) + (size_t)(n->pre_end - n->recs) * m->bsize)
        gm_fail(c, 13, "next_faulted %zu past the buckets", m->next_faulted);
    c->bytes += gm_table_bytes(m, n);
}

/* I14: memory kept for iterators (kept: graveyard blocks and destructor
   batches, counted by the caller).  A finishing iterator leaves reap set
   and frees nothing: until the next write, a dead array may be unheld and
   kept keys may outlive their arrays. */
static void gm_check_kept(gm_checker *c, size_t kept) {
    const gomap *m = c->m;
    bool reap = atomic_load_explicit(&((gomap *)(uintptr_t)m)->reap, memory_order_relaxed);
    size_t tables = 0;
    bool held = m->oldbuckets && gm_table_held(m->oldbuckets);
    for (const gm_table *t = m->dead_tables; t; t = (const gm_table *)(const void *)t->blk.next) {
        tables++;
        if (!gm_table_held(t) && !reap) gm_fail(c, 14, "a dead array no iterator holds is kept");
        held = true;
    }
    if (kept && !held && !reap) gm_fail(c, 14, "%zu key blocks kept with no array kept", kept);
    if (gm_count(&m->retired) != tables + kept)
        gm_fail(c, 14, "retired %zu but %zu arrays and %zu blocks kept", gm_count(&m->retired), tables, kept);
}

/* I15: no two live keys are equal.  A key hash that disagrees with the
   key equality (a CUSTOM hash reading a field that equality ignores) stores
   equal keys in different chains, each found by its own hash; nothing else
   shows it.  Checked for CUSTOM keys (the built-in kinds' hash and
   equality agree by construction), for up to GM_CHECK_SAMPLES keys spread
   over the map, each against every live key: O(samples * count). */
#define GM_CHECK_SAMPLES 16

typedef struct gm_dup_ctx {
    const gomap *m;
    const char *sample[GM_CHECK_SAMPLES];
    size_t nsample, every, seen;
    gm_checker *c;
} gm_dup_ctx;

static void gm_dup_collect(void *ctx, gm_rec *b, char *s, size_t i) {
    gm_dup_ctx *d = (gm_dup_ctx *)ctx;
    (void)b;
    const char *k = gm_key(d->m, s, i);
    if (d->seen++ % d->every == 0 && d->nsample < GM_CHECK_SAMPLES && gm_self_equal(d->m, k))
        d->sample[d->nsample++] = k;
}

static void gm_dup_compare(void *ctx, gm_rec *b, char *s, size_t i) {
    gm_dup_ctx *d = (gm_dup_ctx *)ctx;
    (void)b;
    const char *k = gm_key(d->m, s, i);
    for (size_t j = 0; j < d->nsample; j++)
        if (d->sample[j] != k && gm_key_equal(&d->m->t, d->sample[j], k))
            gm_fail(d->c, 15, "two stored keys are equal: the key hash disagrees with the key equality");
}

static void gm_check_duplicates(gm_checker *c) {
    if (c->m->t.kind != GOMAP_KEY_CUSTOM) return;
    gm_dup_ctx d = {c->m, {0}, 0, c->m->count / GM_CHECK_SAMPLES + 1, 0, c};
    gm_for_each(c->m, gm_dup_collect, &d);
    if (d.nsample > 0) gm_for_each(c->m, gm_dup_compare, &d);
}

int gomap_check(const gomap *m, char *msg, size_t msglen) {
    GM_DEBUG_MAP(m, "gomap_check", 0);
    if (msg && msglen) msg[0] = 0;
    if (!m) return 0;
    gm_checker c = {m, msg, msglen, 0, 0, sizeof *m};
    if (gm_flags(m) & GM_WRITING) gm_fail(&c, 10, "writing flag set outside a write");
    gm_check_growth(&c);
    gm_check_ready(&c);
    gm_check_next(&c);
    if (m->buckets) {
        const gm_table *t = m->buckets;
        for (size_t i = 0; i < t->nbuckets; i++)
            if (gm_new_bucket_ready(m, i)) gm_check_chain(&c, t, i, false);
        gm_check_overflow(&c);
        c.bytes += gm_table_bytes(m, t);
    } else if (m->count) {
        gm_fail(&c, 1, "count %zu with no buckets", m->count);
    }
    if (m->oldbuckets) {
        const gm_table *o = m->oldbuckets;
        for (size_t i = 0; i < o->nbuckets; i++) gm_check_chain(&c, o, i, true);
        c.bytes += gm_table_bytes(m, o);
    }
    if (c.live != m->count) gm_fail(&c, 1, "count %zu but %zu live slots", m->count, c.live);
    if (!c.broken) gm_check_duplicates(&c);
    size_t kept = 0;
    for (const gm_block *b = m->graveyard; b; b = b->next, kept++) c.bytes += b->size;
    for (const gm_deferred *d = m->deferred; d; d = (const gm_deferred *)(const void *)d->blk.next, kept++)
        c.bytes += d->blk.size;
    gm_check_kept(&c, kept);
    for (const gm_table *t = m->dead_tables; t; t = (const gm_table *)(const void *)t->blk.next)
        c.bytes += gm_table_bytes(m, t);
    for (const gm_region *r = m->releasing; r; r = r->next) c.bytes += r->size - r->done;
    size_t bytes = gm_count(&m->bytes);
    if (c.bytes != bytes) gm_fail(&c, 12, "bytes %zu but blocks add up to %zu", bytes, c.bytes);
    return c.broken;
}

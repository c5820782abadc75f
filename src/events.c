/*
 * events.c -- trace events (gomap_set_tracer) and the probe counters
 * (gomap_probe_stats_get).
 *
 * The map's operations report events from a few places each, always as
 * `if (GM_TRACING(m)) gm_ev_...(...)`: the test reads a byte of the map's
 * first cache line, which every operation reads anyway, and is predicted
 * not taken; everything else -- building the event, walking a chain to
 * count what the event reports -- happens here, in functions that are
 * never inlined into the operations.  A site passes what it has at hand
 * and the function works out the rest from the map, so that a site is one
 * line that changes nothing around it.
 *
 * What a site cannot see any more (the seed before a delete emptied the
 * map, whether an insert took a freed slot, the grow a clear cut short)
 * is remembered here, in the map's trace_* fields, from the events seen
 * so far and from the map when the tracer was installed.
 */
#include "map_internal.h"

/* ---- the probe counters ----------------------------------------------------- */

GM_INLINE void gm_add64(const atomic_uint_least64_t *c, uint64_t d) {
    if (d) atomic_fetch_add_explicit((atomic_uint_least64_t *)(uintptr_t)c, d, memory_order_relaxed);
}
GM_INLINE uint64_t gm_load64(const atomic_uint_least64_t *c) {
    return atomic_load_explicit((atomic_uint_least64_t *)(uintptr_t)c, memory_order_relaxed);
}

void gm_probe_add(const gomap *m, size_t buckets, size_t slots, bool hit) {
    if (buckets == 0) return; /* no chain searched */
    if (hit) {
        gm_add64(&m->probe_hits, 1);
        gm_add64(&m->hit_buckets, buckets);
        gm_add64(&m->hit_slots, slots);
        gm_add64(&m->false_matches, slots ? slots - 1 : 0); /* the last compare matched */
    } else {
        gm_add64(&m->probe_misses, 1);
        gm_add64(&m->miss_buckets, buckets);
        gm_add64(&m->miss_slots, slots);
        gm_add64(&m->false_matches, slots);
    }
    gm_add64(&m->overflow_walked, buckets - 1);
}

void gomap_probe_stats_get(const gomap *m, gomap_probe_stats *out) {
    GM_DEBUG_MAP(m, "gomap_probe_stats_get", );
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!m) return;
    out->hits = gm_load64(&m->probe_hits);
    out->misses = gm_load64(&m->probe_misses);
    out->ops = out->hits + out->misses;
    out->hit_buckets = gm_load64(&m->hit_buckets);
    out->hit_slots = gm_load64(&m->hit_slots);
    out->miss_buckets = gm_load64(&m->miss_buckets);
    out->miss_slots = gm_load64(&m->miss_slots);
    out->false_matches = gm_load64(&m->false_matches);
    out->overflow_walked = gm_load64(&m->overflow_walked);
}

/* ---- chains by length ---------------------------------------------------------- */

static void gm_chain_hist(const gomap *m, const gm_table *t, size_t i, size_t *hist, size_t n) {
    (void)m;
    size_t len = 0;
    for (const gm_rec *b = gm_bucket(t, i); b; b = gm_overflow(b)) len++;
    hist[(len < n ? len : n) - 1]++;
}

int gomap_stats_chains(const gomap *m, size_t *hist, size_t n) {
    GM_DEBUG_MAP(m, "gomap_stats_chains", GOMAP_EINVAL);
    if (!hist || n == 0) return GOMAP_EINVAL;
    memset(hist, 0, n * sizeof *hist);
    if (!m || !m->buckets) return GOMAP_OK;
    for (size_t i = 0; i < m->buckets->nbuckets; i++)
        if (gm_new_bucket_ready(m, i)) gm_chain_hist(m, m->buckets, i, hist, n);
    if (m->oldbuckets)
        for (size_t i = 0; i < m->oldbuckets->nbuckets; i++)
            if (!gm_old_evacuated(m, i)) gm_chain_hist(m, m->oldbuckets, i, hist, n);
    return GOMAP_OK;
}

/* ---- installing a tracer ------------------------------------------------------ */

int gomap_set_tracer(gomap *m, gomap_tracer_fn fn, void *ctx) {
    GM_DEBUG_MAP(m, "gomap_set_tracer", GOMAP_EINVAL);
    if (!m) return GOMAP_EINVAL;
#if !GOMAP_TRACE
    if (fn) return GOMAP_ENOTSUP;
#endif
    m->tracer = fn;
    m->tracer_ctx = fn ? ctx : NULL;
    m->tracing = fn != NULL;
    /* What the events to come are told relative to. */
    m->trace_seed = m->seed;
    m->trace_reuses = m->slot_reuses;
    m->trace_growing = m->oldbuckets != NULL;
    m->trace_same = (gm_flags(m) & GM_SAME_SIZE) != 0;
    m->trace_old_B = m->oldbuckets ? m->oldbuckets->B : 0;
    return GOMAP_OK;
}

const char *gomap_event_name(enum gomap_event_kind kind) {
    switch (kind) {
    case GOMAP_EV_GROW_START: return "grow_start";
    case GOMAP_EV_EVACUATE: return "evacuate";
    case GOMAP_EV_GROW_DONE: return "grow_done";
    case GOMAP_EV_OVERFLOW: return "overflow";
    case GOMAP_EV_SLOT_REUSE: return "slot_reuse";
    case GOMAP_EV_COLLAPSE: return "collapse";
    case GOMAP_EV_SEED: return "seed";
    case GOMAP_EV_CLEAR: return "clear";
    case GOMAP_EV_ITER_START: return "iter_start";
    case GOMAP_EV_ITER_DONE: return "iter_done";
    }
    return "unknown";
}

/* ---- building and sending an event ------------------------------------------ */

/* An event of kind k with the map's state filled in. */
static void gm_ev_init(const gomap *m, gomap_event *ev, enum gomap_event_kind k) {
    memset(ev, 0, sizeof *ev);
    ev->kind = k;
    ev->map = m;
    ev->count = m->count;
    ev->B = m->B;
    ev->overflow_buckets = m->buckets ? m->buckets->n_overflow : 0;
    ev->bytes = gm_count(&m->bytes);
    ev->old_buckets = m->oldbuckets ? m->oldbuckets->nbuckets : 0;
    ev->nevacuate = m->oldbuckets ? m->nevacuate : 0;
}

static void gm_ev_send(const gomap *m, gomap_event *ev) {
    gomap_tracer_fn fn = m->tracer;
    if (!fn) return;
    gomap *mm = (gomap *)(uintptr_t)m; /* readers send events too: atomic */
    ev->seq = atomic_fetch_add_explicit(&mm->trace_seq, 1, memory_order_relaxed);
    fn(m->tracer_ctx, ev);
}

static size_t gm_chain_length(const gm_table *t, size_t i) {
    size_t n = 0;
    for (const gm_rec *b = gm_bucket(t, i); b; b = gm_overflow(b)) n++;
    return n;
}

static size_t gm_chain_live(const gm_table *t, size_t i) {
    size_t n = 0;
    for (const gm_rec *b = gm_bucket(t, i); b; b = gm_overflow(b))
        for (size_t j = 0; j < GM_BUCKET_SLOTS; j++) n += b->top[j] >= GM_MIN_TOPHASH;
    return n;
}

/* gm_hash_grow has made the current array old and installed the new one. */
void gm_ev_grow_start(gomap *m) {
    gomap_event ev;
    gm_ev_init(m, &ev, GOMAP_EV_GROW_START);
    ev.old_B = m->oldbuckets->B;
    ev.same_size = (gm_flags(m) & GM_SAME_SIZE) != 0;
    ev.old_overflow = m->oldbuckets->n_overflow;
    m->trace_growing = true;
    m->trace_same = ev.same_size;
    m->trace_old_B = ev.old_B;
    gm_ev_send(m, &ev);
}

/* gm_grow_done is about to drop the old array: the event tells the map as
   it is once it has. */
void gm_ev_grow_done(gomap *m) {
    gomap_event ev;
    gm_ev_init(m, &ev, GOMAP_EV_GROW_DONE);
    ev.old_B = m->oldbuckets ? m->oldbuckets->B : m->trace_old_B;
    ev.same_size = (gm_flags(m) & GM_SAME_SIZE) != 0;
    ev.old_buckets = 0;
    ev.nevacuate = 0;
    m->trace_growing = false;
    gm_ev_send(m, &ev);
}

/* Old bucket oldbucket was just evacuated into new buckets X = oldbucket
   and (doubling) Y = oldbucket + 2^oldB, which it alone filled: their
   chains are all its entries, and each overflow bucket in them was added
   by this evacuation (reported first, in the order they were linked). */
void gm_ev_evacuated(gomap *m, size_t oldbucket) {
    const gm_table *nt = m->buckets;
    size_t newbit = m->oldbuckets->nbuckets;
    bool same = (gm_flags(m) & GM_SAME_SIZE) != 0;
    size_t dest[2] = {oldbucket, oldbucket + newbit};
    size_t live[2] = {0, 0};
    for (int d = 0; d < (same ? 1 : 2); d++) {
        live[d] = gm_chain_live(nt, dest[d]);
        size_t len = gm_chain_length(nt, dest[d]);
        for (size_t l = 2; l <= len; l++) {
            gomap_event ov;
            gm_ev_init(m, &ov, GOMAP_EV_OVERFLOW);
            ov.bucket = dest[d];
            ov.chain_len = l;
            ov.evacuating = true;
            gm_ev_send(m, &ov);
        }
    }
    gomap_event ev;
    gm_ev_init(m, &ev, GOMAP_EV_EVACUATE);
    ev.bucket = oldbucket;
    ev.to_x = live[0];
    ev.to_y = live[1];
    ev.same_size = same;
    gm_ev_send(m, &ev);
}

/* An insert linked an overflow bucket to chain `bucket` of t. */
void gm_ev_overflow(gomap *m, const gm_table *t, size_t bucket) {
    gomap_event ev;
    gm_ev_init(m, &ev, GOMAP_EV_OVERFLOW);
    ev.bucket = bucket;
    ev.chain_len = gm_chain_length(t, bucket);
    gm_ev_send(m, &ev);
}

/* An insert stored its key into slot `slot` of bucket b of chain `bucket`
   of t.  It reused a freed slot when slot_reuses moved. */
void gm_ev_inserted(gomap *m, const gm_table *t, size_t bucket, const gm_rec *b, size_t slot) {
    if (m->slot_reuses == m->trace_reuses) return;
    m->trace_reuses = m->slot_reuses;
    gomap_event ev;
    gm_ev_init(m, &ev, GOMAP_EV_SLOT_REUSE);
    ev.bucket = bucket;
    ev.slot = (unsigned)slot;
    for (const gm_rec *c = gm_bucket(t, bucket); c && c != b; c = gm_overflow(c)) ev.chain_pos++;
    gm_ev_send(m, &ev);
}

/* A delete emptied slot `slot` of bucket b of the chain at head (of t),
   then collapsed tombstones and, when the map became empty, took a new
   seed.  The slot was live, so by I4 no slot before it was emptyRest: if
   it is emptyRest now, the collapse marked it and every emptyRest slot
   before it. */
void gm_ev_deleted(gomap *m, const gm_table *t, const gm_rec *head, const gm_rec *b, size_t slot) {
    if (b->top[slot] == GM_EMPTY_REST) {
        gomap_event ev;
        gm_ev_init(m, &ev, GOMAP_EV_COLLAPSE);
        ev.bucket = (size_t)(head - t->recs);
        for (const gm_rec *c = head; c; c = gm_overflow(c)) {
            size_t stop = c == b ? slot + 1 : GM_BUCKET_SLOTS;
            for (size_t j = 0; j < stop; j++) ev.marked += c->top[j] == GM_EMPTY_REST;
            if (c == b) break;
        }
        gm_ev_send(m, &ev);
    }
    if (m->seed != m->trace_seed) {
        gomap_event ev;
        gm_ev_init(m, &ev, GOMAP_EV_SEED);
        ev.reason = GOMAP_SEED_EMPTIED;
        ev.old_seed = m->trace_seed;
        ev.new_seed = m->seed;
        m->trace_seed = m->seed;
        gm_ev_send(m, &ev);
    }
}

/* gomap_clear removed `removed` entries, dropped the old array (ending a
   grow in progress) and took a new seed. */
void gm_ev_cleared(gomap *m, size_t removed) {
    gomap_event ev;
    if (m->trace_growing) {
        gm_ev_init(m, &ev, GOMAP_EV_GROW_DONE);
        ev.old_B = m->trace_old_B;
        ev.same_size = m->trace_same;
        ev.cleared = true;
        m->trace_growing = false;
        gm_ev_send(m, &ev);
    }
    gm_ev_init(m, &ev, GOMAP_EV_CLEAR);
    ev.removed = removed;
    gm_ev_send(m, &ev);
    gm_ev_init(m, &ev, GOMAP_EV_SEED);
    ev.reason = GOMAP_SEED_CLEAR;
    ev.old_seed = m->trace_seed;
    ev.new_seed = m->seed;
    m->trace_seed = m->seed;
    gm_ev_send(m, &ev);
}

/* An iterator started (at start bucket `bucket`) or finished. */
void gm_ev_iter(const gomap *m, const void *it, bool start, size_t bucket) {
    gomap_event ev;
    gm_ev_init(m, &ev, start ? GOMAP_EV_ITER_START : GOMAP_EV_ITER_DONE);
    ev.iter = it;
    ev.bucket = start ? bucket : 0;
    gm_ev_send(m, &ev);
}

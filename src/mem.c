/*
 * mem.c -- all of the map's memory: the default allocator, the blocks every
 * allocation is made of, the bucket memory of arrays (mmap'ed and given
 * back a piece at a time when it is big), and faulting the next array in
 * before its grow.  What is allocated where, and when, is decided by the
 * map (map.c) and by growth (grow.c); this file does the asking.
 */
#include "map_internal.h"

#include <stdlib.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define GM_HAVE_MMAP 1
#endif

/* ---- the default allocator --------------------------------------------------- */

static void *gm_malloc(void *ctx, size_t size) {
    (void)ctx;
    return malloc(size ? size : 1);
}

static void gm_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    (void)size;
    free(ptr);
}

const gomap_allocator gm_default_allocator = {gm_malloc, gm_free, NULL};

/* ---- blocks -------------------------------------------------------------------- */

/* Allocate a block with a retire header; returns the payload or NULL. */
void *gm_block_alloc(gomap *m, size_t payload) {
    if (payload > SIZE_MAX - GM_BLOCK_HDR) return NULL;
    size_t size = GM_BLOCK_HDR + payload;
    gm_block *blk = (gm_block *)m->a.alloc(m->a.ctx, size);
    if (!blk) return NULL;
    blk->next = NULL;
    blk->size = size;
    gm_count_add(&m->bytes, size);
    return (char *)blk + GM_BLOCK_HDR;
}

void gm_block_free(gomap *m, gm_block *blk) {
    gm_count_sub(&m->bytes, blk->size);
    m->a.free(m->a.ctx, blk, blk->size);
}


/* ---- bucket memory ------------------------------------------------------- */

static size_t gm_page_size(void) {
#if defined(GM_HAVE_MMAP)
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
#else
    return 4096;
#endif
}

/* Get the bucket memory of t: mmap for big arrays of default-allocator maps,
   else the map's allocator. */
bool gm_mem_alloc(gomap *m, gm_table *t, size_t size) {
#if defined(GM_HAVE_MMAP)
    if (size >= GM_MAP_MIN && m->a.alloc == gm_default_allocator.alloc) {
        size_t page = gm_page_size();
        size = (size + page - 1) & ~(page - 1);
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return false;
        t->mem = (char *)p;
        t->mem_size = size;
        t->mapped = true;
        gm_count_add(&m->bytes, size);
        return true;
    }
#endif
    t->mem = (char *)m->a.alloc(m->a.ctx, size);
    if (!t->mem) return false;
    t->mem_size = size;
    t->mapped = false;
    gm_count_add(&m->bytes, size);
    return true;
}

/* Give dead bucket memory back: through the allocator at once, or, for an
   mmap region, onto the release queue that gm_release_some drains a bounded
   amount per write. */
void gm_mem_free(gomap *m, gm_table *t) {
#if defined(GM_HAVE_MMAP)
    if (t->mapped) {
        size_t page = gm_page_size();
        gm_region *r = (gm_region *)(void *)(t->mem + t->mem_size - page);
        r->base = t->mem;
        r->size = t->mem_size;
        r->done = 0;
        r->next = m->releasing;
        m->releasing = r;
        return;
    }
#endif
    gm_count_sub(&m->bytes, t->mem_size);
    m->a.free(m->a.ctx, t->mem, t->mem_size);
}

/* Give up to `budget` bytes of dead regions back (SIZE_MAX: all of them).
   Pieces are dropped with madvise(MADV_DONTNEED), which leaves the mapping
   whole (unmapping a piece would split it, which costs more); the mapping
   itself, by then holding at most a page, goes last. */
void gm_release_some(gomap *m, size_t budget) {
#if defined(GM_HAVE_MMAP)
    size_t page = gm_page_size();
    while (m->releasing && budget) {
        gm_region *r = m->releasing;
        size_t left = r->size - r->done;
        if (left <= page) { /* only the page holding the node is left */
            m->releasing = r->next;
            munmap(r->base, r->size);
            gm_count_sub(&m->bytes, left);
            budget = budget > left ? budget - left : 0;
            continue;
        }
        size_t step = left - page;
        if (step > budget) step = budget < page ? page : budget & ~(page - 1);
        if (budget == SIZE_MAX || madvise(r->base + r->done, step, MADV_DONTNEED) != 0) {
            /* Freeing everything (gomap_free), or madvise refused: unmap. */
            m->releasing = r->next;
            munmap(r->base, r->size);
            gm_count_sub(&m->bytes, left);
            continue;
        }
        r->done += step;
        gm_count_sub(&m->bytes, step);
        budget -= step;
    }
#else
    (void)m;
    (void)budget;
#endif
}

/* ---- faulting the next array in ------------------------------------------
 *
 * A fresh page costs about 2 us to fault in here.  Evacuation writes the new
 * array in random order, so without this about one insert in a hundred
 * faults while a map grows, and those set p99 and p99.9.  So when a grow
 * will want an mmap'ed array, that array is allocated a little before the
 * grow is due and faulted in GM_PREFAULT_PER_WRITE bytes per write with
 * madvise(MADV_POPULATE_WRITE), starting when the count is within two
 * writes per step of the load limit (prefault_at).  The grow itself starts
 * exactly where Go's does -- on the insert that takes the count past 6.5
 * per bucket -- with that array, and whatever is not yet faulted in (a map
 * made with a hint right at its limit, deletes in between) is faulted in
 * by evacuation as it first writes each page (I13).  Where the kernel
 * refuses (before Linux 5.14) nothing is faulted in ahead.
 *
 * Each step is itself a slow write (about 60 us), so this is only done when
 * the steps are rarer than one write in GM_PREFAULT_RARITY since the map
 * last doubled (count / 2 inserts): true of buckets up to about 200 bytes
 * (u64 -> u64: 144), not of bigger ones, whose steps would outnumber the
 * faulting inserts they replace in the slowest 0.1%.  Those keep taking
 * their faults as evacuation first writes each page. */

#if defined(GM_HAVE_MMAP) && defined(MADV_POPULATE_WRITE)
#define GM_HAVE_PREFAULT 1
#endif

/* Bytes of t's buckets (records and slots, main and preallocated
   overflow), from the start of its memory. */
static size_t gm_prefault_size(const gomap *m, const gm_table *t) {
    return (size_t)(t->slots - t->mem) + (size_t)(t->pre_end - t->recs) * m->bsize;
}

size_t gm_prefault_pending(const gomap *m) {
    return m->next ? gm_prefault_size(m, m->next) - m->next_faulted : 0;
}

/* The count at which an insert starts faulting in the array of the next
   doubling (see above), or SIZE_MAX when that array is not faulted in
   ahead.  Worked out whenever the current array changes. */
size_t gm_prefault_threshold(const gomap *m) {
#if defined(GM_HAVE_PREFAULT)
    if (m->B >= 40 || m->a.alloc != gm_default_allocator.alloc) return SIZE_MAX;
    size_t size = gm_table_mem_size(m, m->B + 1);
    size_t limit = (size_t)GM_LOAD_NUM * (((size_t)1 << m->B) / GM_LOAD_DEN);
    size_t steps = (size + GM_PREFAULT_PER_WRITE - 1) / GM_PREFAULT_PER_WRITE;
    if (size < GM_MAP_MIN || steps < 2 || steps > limit / 2 / GM_PREFAULT_RARITY) return SIZE_MAX;
    return limit - 2 * steps;
#else
    (void)m;
    return SIZE_MAX;
#endif
}

/* Fault in the next GM_PREFAULT_PER_WRITE bytes of m->next. */
void gm_prefault_some(gomap *m) {
    size_t left = gm_prefault_pending(m);
    if (!left) return;
#if defined(GM_HAVE_PREFAULT)
    size_t step = left < GM_PREFAULT_PER_WRITE ? left : GM_PREFAULT_PER_WRITE;
    if (madvise(m->next->mem + m->next_faulted, step, MADV_POPULATE_WRITE) == 0) {
        m->next_faulted += step;
        return;
    }
#endif
    m->next_faulted += left; /* refused: evacuation will fault it in */
}

/* Called by an insert once the count reaches prefault_at: allocate the
   array of the next doubling and fault its first piece in.  Nothing
   changes if memory is short (the grow will ask again). */
void gm_prefault_begin(gomap *m) {
    gm_table *nt = gm_table_new(m, m->B + 1);
    if (!nt) return;
    if (!nt->mapped) { /* cannot happen with the threshold's checks */
        gm_table_free(m, nt);
        m->prefault_at = SIZE_MAX;
        return;
    }
    m->next = nt;
    m->next_faulted = 0;
    gm_prefault_some(m);
}

/* Give the next array back (a clear, a same-size grow, gomap_free). */
void gm_next_drop(gomap *m) {
    if (!m->next) return;
    gm_table_free(m, m->next);
    m->next = NULL;
    m->next_faulted = 0;
}


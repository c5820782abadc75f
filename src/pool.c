/*
 * pool.c -- per-map block pools (see pool.h for what and why).
 *
 * A chunk is [header | blocks...]: the header links the stripe's chunks and
 * records the chunk's size for the allocator's free.  A stripe allocates by
 * popping its free list of the class, else by cutting the block off the
 * unused tail of its newest chunk (bump, end), else by taking a new chunk
 * from the allocator -- with the lock dropped, since a user's allocator may
 * be slow -- twice the size of the previous one, from GM_POOL_CHUNK_MIN up
 * to GM_POOL_CHUNK_MAX, so that a map of ten keys costs one small chunk and a
 * map of millions one allocator call per 64 KiB.  The tail left in the old
 * chunk (less than one block) is not used again.
 *
 * Under AddressSanitizer a chunk's blocks are poisoned until handed out and
 * again when freed, so a read of a freed node is reported as it would be for
 * a malloc'ed one, until the block is reused.
 */
#include "pool.h"

#include <sched.h>

#if defined(__SANITIZE_ADDRESS__)
#define GM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GM_ASAN 1
#endif
#endif

#ifdef GM_ASAN
#include <sanitizer/asan_interface.h>
#define GM_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define GM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define GM_POISON(p, n) ((void)(p), (void)(n))
#define GM_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

typedef struct gm_chunk {
    struct gm_chunk *next;
    size_t size;
} gm_chunk;

_Static_assert(sizeof(gm_chunk) % GM_POOL_ALIGN == 0, "blocks after the header stay aligned");

#define GM_POOL_SPIN 64 /* lock attempts before yielding the CPU */

static void gm_pool_lock(gm_pool_stripe *s) {
    for (unsigned i = 0;; i++) {
        if (!atomic_exchange_explicit(&s->lock, 1, memory_order_acquire)) return;
        while (atomic_load_explicit(&s->lock, memory_order_relaxed)) {
            if (++i >= GM_POOL_SPIN) {
                sched_yield(); /* the holder was preempted: let it run */
                i = 0;
            }
        }
    }
}

static void gm_pool_unlock(gm_pool_stripe *s) { atomic_store_explicit(&s->lock, 0, memory_order_release); }

void gm_pool_init(gm_pool *p, const gomap_allocator *a, const uint32_t size[GM_POOL_CLASSES]) {
    memset(p, 0, sizeof *p);
    p->a = *a;
    for (unsigned c = 0; c < GM_POOL_CLASSES; c++) p->size[c] = size[c];
    for (unsigned i = 0; i < GM_POOL_STRIPES; i++) {
        atomic_init(&p->stripe[i].lock, 0);
        p->stripe[i].chunk_next = GM_POOL_CHUNK_MIN;
    }
    atomic_init(&p->bytes, 0);
}

/* Under s's lock: a block of n bytes from the free list of cls or the
   newest chunk's tail, or NULL. */
static void *gm_pool_take(gm_pool_stripe *s, unsigned cls, size_t n) {
    void *b = s->free[cls];
    if (b) {
        GM_UNPOISON(b, n);
        memcpy(&s->free[cls], b, sizeof(void *));
        return b;
    }
    if ((size_t)(s->end - s->bump) < n) return NULL;
    b = s->bump;
    s->bump += n;
    GM_UNPOISON(b, n);
    return b;
}

void *gm_pool_alloc(gm_pool *p, unsigned stripe, unsigned cls) {
    gm_pool_stripe *s = &p->stripe[stripe % GM_POOL_STRIPES];
    size_t n = p->size[cls];
    gm_pool_lock(s);
    void *b = gm_pool_take(s, cls, n);
    size_t csize = s->chunk_next;
    gm_pool_unlock(s);
    if (GM_LIKELY(b != NULL)) return b;

    gm_chunk *c = (gm_chunk *)p->a.alloc(p->a.ctx, csize);
    if (!c) return NULL;
    c->size = csize;
    GM_POISON(c + 1, csize - sizeof *c);
    gm_pool_lock(s);
    b = gm_pool_take(s, cls, n); /* someone sharing the stripe may have refilled it */
    if (!b) {
        c->next = (gm_chunk *)s->chunks;
        s->chunks = c;
        s->bump = (char *)(c + 1);
        s->end = (char *)c + csize;
        if (s->chunk_next < GM_POOL_CHUNK_MAX) s->chunk_next *= 2;
        atomic_fetch_add_explicit(&p->bytes, csize, memory_order_relaxed);
        b = gm_pool_take(s, cls, n);
        c = NULL;
    }
    gm_pool_unlock(s);
    if (c) {
        GM_UNPOISON(c + 1, csize - sizeof *c);
        p->a.free(p->a.ctx, c, csize);
    }
    return b;
}

void gm_pool_free(gm_pool *p, unsigned stripe, unsigned cls, void *b) {
    gm_pool_stripe *s = &p->stripe[stripe % GM_POOL_STRIPES];
    gm_pool_lock(s);
    memcpy(b, &s->free[cls], sizeof(void *));
    s->free[cls] = b;
    GM_POISON(b, p->size[cls]);
    gm_pool_unlock(s);
}

void gm_pool_release(gm_pool *p) {
    for (unsigned i = 0; i < GM_POOL_STRIPES; i++) {
        gm_pool_stripe *s = &p->stripe[i];
        for (gm_chunk *c = (gm_chunk *)s->chunks, *next; c; c = next) {
            next = c->next;
            size_t csize = c->size;
            GM_UNPOISON(c + 1, csize - sizeof *c);
            p->a.free(p->a.ctx, c, csize);
        }
        memset(s->free, 0, sizeof s->free);
        s->chunks = NULL;
        s->bump = s->end = NULL;
        s->chunk_next = GM_POOL_CHUNK_MIN;
    }
    atomic_store_explicit(&p->bytes, 0, memory_order_relaxed);
}

size_t gm_pool_free_blocks(gm_pool *p) {
    size_t k = 0;
    for (unsigned i = 0; i < GM_POOL_STRIPES; i++) {
        gm_pool_stripe *s = &p->stripe[i];
        gm_pool_lock(s);
        for (unsigned c = 0; c < GM_POOL_CLASSES; c++) {
            for (void *b = s->free[c]; b;) {
                k++;
                GM_UNPOISON(b, sizeof(void *));
                void *next;
                memcpy(&next, b, sizeof next);
                GM_POISON(b, sizeof(void *));
                b = next;
            }
        }
        gm_pool_unlock(s);
    }
    return k;
}

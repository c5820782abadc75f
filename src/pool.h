/*
 * pool.h -- per-map block pools for the concurrent map's trie nodes and
 * entries (src/pool.c).  Nothing here is public.
 *
 * A pool hands out blocks of a few fixed sizes (its classes), carved from
 * chunks that it takes from the map's allocator, and takes freed blocks back
 * on per-class free lists for reuse.  It returns chunks to the allocator only
 * when the map goes away (gm_pool_release), so it needs no per-block header
 * and a map holds its peak memory until it is freed.  Why it exists: a
 * concurrent map allocates one entry per update and one 144-byte node per
 * expand, and malloc added 16 bytes to each block and a quarter of the time
 * of an insert (bench/sync/REPORT.md, "Pools").
 *
 * Striping: the pool is split into GM_POOL_STRIPES stripes, each with its
 * own lock, free lists and chunks; a thread uses the stripe of its
 * reclamation record (index % GM_POOL_STRIPES), so threads rarely meet on a
 * lock.  A block may be freed into any stripe (of the same pool): freeing
 * happens wherever a grace period ends.
 */
#ifndef GOMAP_POOL_H
#define GOMAP_POOL_H

#include "internal.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define GM_POOL_CLASSES 4          /* block sizes a pool serves */
#define GM_POOL_STRIPES 8          /* independently locked parts of a pool */
#define GM_POOL_CHUNK_MIN 1024u    /* a stripe's first chunk, bytes ... */
#define GM_POOL_CHUNK_MAX 65536u   /* ... doubling up to this */
#define GM_POOL_BLOCK_MAX 4096u    /* larger blocks are not pooled */
#define GM_POOL_ALIGN 16u          /* block sizes and addresses are multiples */

typedef struct gm_pool_stripe {
    _Alignas(64) _Atomic uint32_t lock; /* 0 free, 1 held (held for a few loads and stores) */
    uint32_t chunk_next;                /* size of this stripe's next chunk */
    char *bump, *end;                   /* the unused tail of the newest chunk */
    void *free[GM_POOL_CLASSES];        /* freed blocks; each block's first word links the next */
    void *chunks;                       /* this stripe's chunks, linked through their headers */
} gm_pool_stripe;

typedef struct gm_pool {
    gm_pool_stripe stripe[GM_POOL_STRIPES];
    gomap_allocator a;
    uint32_t size[GM_POOL_CLASSES]; /* block size of each class; 0: class unused */
    _Atomic size_t bytes;           /* bytes of all chunks */
} gm_pool;

/* An empty pool drawing on allocator a, with class sizes size[] (multiples
   of GM_POOL_ALIGN, at most GM_POOL_BLOCK_MAX, or 0). */
GM_HIDDEN void gm_pool_init(gm_pool *p, const gomap_allocator *a, const uint32_t size[GM_POOL_CLASSES]);

/* A block of class cls, or NULL when the allocator failed (the pool is
   unchanged).  stripe: any number; the caller's record index. */
GM_HIDDEN void *gm_pool_alloc(gm_pool *p, unsigned stripe, unsigned cls);

/* Give back block b of class cls (from this pool, unreachable by anyone). */
GM_HIDDEN void gm_pool_free(gm_pool *p, unsigned stripe, unsigned cls, void *b);

/* Return every chunk to the allocator; every block is gone with them. */
GM_HIDDEN void gm_pool_release(gm_pool *p);

/* Blocks on the free lists now (locks each stripe in turn). */
GM_HIDDEN size_t gm_pool_free_blocks(gm_pool *p);

#endif

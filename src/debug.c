/*
 * debug.c -- debug mode (GOMAP_DEBUG): which maps are live.
 *
 * A registry of the maps created and not yet freed, so that a call can tell
 * a live map from a freed one (double free, use after free, an iterator
 * outliving its map) without reading the freed memory, which may belong to
 * someone else by then.  An open-addressing set of pointers behind one
 * mutex, in memory from malloc (never from a map's allocator: the registry
 * outlives them all).  A map created at the address of a freed one is live
 * again: such a use is not caught.
 *
 * Release builds compile none of this and pay nothing.
 */
#include "map_internal.h"

#if GOMAP_DEBUG

#include <pthread.h>
#include <stdlib.h>

static pthread_mutex_t gm_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const gomap **gm_reg;  /* the set; NULL slots are free, gm_reg_gone deleted */
static size_t gm_reg_cap, gm_reg_used; /* slots, and slots not free */
static const char gm_reg_tomb; /* its address marks a deleted slot */
#define gm_reg_gone ((const gomap *)(const void *)&gm_reg_tomb)

static size_t gm_reg_slot(const gomap *m) {
    uintptr_t x = (uintptr_t)m;
    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & (gm_reg_cap - 1);
}

/* Where m is, or NULL. */
static const gomap **gm_reg_find(const gomap *m) {
    if (!gm_reg_cap) return NULL;
    for (size_t i = gm_reg_slot(m);; i = (i + 1) & (gm_reg_cap - 1)) {
        if (gm_reg[i] == m) return &gm_reg[i];
        if (!gm_reg[i]) return NULL;
    }
}

static bool gm_reg_grow(void) {
    size_t cap = gm_reg_cap ? gm_reg_cap * 2 : 64;
    const gomap **old = gm_reg, **nr = (const gomap **)calloc(cap, sizeof *nr);
    if (!nr) return false;
    size_t oldcap = gm_reg_cap;
    gm_reg = nr;
    gm_reg_cap = cap;
    gm_reg_used = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i] || old[i] == gm_reg_gone) continue;
        size_t j = gm_reg_slot(old[i]);
        while (gm_reg[j]) j = (j + 1) & (cap - 1);
        gm_reg[j] = old[i];
        gm_reg_used++;
    }
    free(old);
    return true;
}

bool gm_debug_register(const gomap *m) {
    pthread_mutex_lock(&gm_reg_lock);
    bool ok = true;
    if ((gm_reg_used + 1) * 2 > gm_reg_cap) ok = gm_reg_grow();
    if (ok) {
        size_t i = gm_reg_slot(m);
        while (gm_reg[i] && gm_reg[i] != gm_reg_gone) i = (i + 1) & (gm_reg_cap - 1);
        if (!gm_reg[i]) gm_reg_used++;
        gm_reg[i] = m;
    }
    pthread_mutex_unlock(&gm_reg_lock);
    return ok;
}

bool gm_debug_unregister(const gomap *m) {
    pthread_mutex_lock(&gm_reg_lock);
    const gomap **p = gm_reg_find(m);
    if (p) *p = gm_reg_gone;
    pthread_mutex_unlock(&gm_reg_lock);
    return p != NULL;
}

bool gm_debug_live(const gomap *m, const char *msg) {
    pthread_mutex_lock(&gm_reg_lock);
    bool live = gm_reg_find(m) != NULL;
    pthread_mutex_unlock(&gm_reg_lock);
    if (!live) gm_fatal(msg);
    return live;
}

#else
typedef int gm_debug_unused; /* ISO C wants something in a translation unit */
#endif

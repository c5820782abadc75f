/* map_gomap_sync.c -- the benchmark adapter for gomap_sync (u64 -> u64). */
#include "gomap_sync.h"
#include "sync_bench.h"

#include <stdlib.h>
#include <string.h>

static sb_map *gs_create(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap_sync *m = NULL;
    if (gomap_sync_create(&m, &t, NULL) != GOMAP_OK) abort();
    return (sb_map *)m;
}
static void gs_destroy(sb_map *m) {
    gomap_sync_free((gomap_sync *)m);
    gomap_sync_barrier();
}
static bool gs_load(sb_map *m, uint64_t k, uint64_t *v) { return gomap_sync_load((gomap_sync *)m, &k, v) == 1; }
static void gs_store(sb_map *m, uint64_t k, uint64_t v) { gomap_sync_store((gomap_sync *)m, &k, &v); }
static bool gs_los(sb_map *m, uint64_t k, uint64_t v, uint64_t *a) {
    return gomap_sync_load_or_store((gomap_sync *)m, &k, &v, a) == 1;
}
static bool gs_lad(sb_map *m, uint64_t k, uint64_t *v) {
    return gomap_sync_load_and_delete((gomap_sync *)m, &k, v) == 1;
}
static void gs_del(sb_map *m, uint64_t k) { gomap_sync_delete((gomap_sync *)m, &k); }
static bool gs_swap(sb_map *m, uint64_t k, uint64_t v, uint64_t *p) {
    return gomap_sync_swap((gomap_sync *)m, &k, &v, p) == 1;
}
static bool gs_cas(sb_map *m, uint64_t k, uint64_t o, uint64_t n) {
    return gomap_sync_compare_and_swap((gomap_sync *)m, &k, &o, &n) == 1;
}
static bool gs_cad(sb_map *m, uint64_t k, uint64_t o) {
    return gomap_sync_compare_and_delete((gomap_sync *)m, &k, &o) == 1;
}

typedef struct gs_rctx {
    sb_range_cb fn;
    void *ctx;
} gs_rctx;

static bool gs_range_fn(const void *key, const void *val, void *ctx) {
    gs_rctx *c = (gs_rctx *)ctx;
    uint64_t k, v;
    memcpy(&k, key, 8);
    memcpy(&v, val, 8);
    return c->fn(k, v, c->ctx);
}
static void gs_range(sb_map *m, sb_range_cb fn, void *ctx) {
    gs_rctx c = {fn, ctx};
    gomap_sync_range((gomap_sync *)m, gs_range_fn, &c);
}
static void gs_leave(void) { gomap_sync_thread_detach(); }

const sb_ops sb_gomap_sync_ops = {
    "gomap_sync", 0, gs_create, gs_destroy, NULL, gs_leave, gs_load, gs_store, gs_los,
    gs_lad, gs_del, gs_swap, gs_cas, gs_cad, gs_range,
};

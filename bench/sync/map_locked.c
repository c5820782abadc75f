/*
 * map_locked.c -- two lock-based baselines built from gomap's plain map:
 *   shard64  64 shards, each a gomap behind its own pthread mutex, the shard
 *            chosen by a hash of the key (the classic "striped" map);
 *   mutex    one gomap behind one pthread mutex.
 * range copies a shard's entries under its lock and calls the function with
 * the lock released (as Go's RWMutexMap in sync's tests does), so the
 * function may call the map.
 */
#include "gomap.h"
#include "sync_bench.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct lk_shard {
    pthread_mutex_t mu;
    gomap *m;
    char pad[64];
} lk_shard;

struct sb_map {
    unsigned nshards;
    lk_shard *s;
};

static sb_map *lk_create_n(unsigned n) {
    sb_map *m = (sb_map *)calloc(1, sizeof *m);
    if (!m) abort();
    m->nshards = n;
    m->s = (lk_shard *)calloc(n, sizeof(lk_shard));
    if (!m->s) abort();
    gomap_type t = GOMAP_TYPE_U64_U64;
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_init(&m->s[i].mu, NULL);
        m->s[i].m = gomap_new(&t, 0);
        if (!m->s[i].m) abort();
    }
    return m;
}
static sb_map *lk_create64(void) { return lk_create_n(64); }
static sb_map *lk_create1(void) { return lk_create_n(1); }

static void lk_destroy(sb_map *m) {
    for (unsigned i = 0; i < m->nshards; i++) {
        gomap_free(m->s[i].m);
        pthread_mutex_destroy(&m->s[i].mu);
    }
    free(m->s);
    free(m);
}

static lk_shard *lk_shard_of(sb_map *m, uint64_t k) {
    return m->nshards == 1 ? &m->s[0] : &m->s[sb_mix64(k) >> 58];
}

static bool lk_load(sb_map *m, uint64_t k, uint64_t *v) {
    lk_shard *s = lk_shard_of(m, k);
    pthread_mutex_lock(&s->mu);
    const uint64_t *p = (const uint64_t *)gomap_get(s->m, &k);
    if (p) *v = *p;
    pthread_mutex_unlock(&s->mu);
    return p != NULL;
}

static void lk_store(sb_map *m, uint64_t k, uint64_t v) {
    lk_shard *s = lk_shard_of(m, k);
    pthread_mutex_lock(&s->mu);
    gomap_put(s->m, &k, &v);
    pthread_mutex_unlock(&s->mu);
}

static bool lk_los(sb_map *m, uint64_t k, uint64_t v, uint64_t *actual) {
    lk_shard *s = lk_shard_of(m, k);
    bool inserted = false;
    pthread_mutex_lock(&s->mu);
    uint64_t *p = (uint64_t *)gomap_assign2(s->m, &k, &inserted);
    if (inserted) *p = v;
    *actual = *p;
    pthread_mutex_unlock(&s->mu);
    return !inserted;
}

static bool lk_lad(sb_map *m, uint64_t k, uint64_t *v) {
    lk_shard *s = lk_shard_of(m, k);
    pthread_mutex_lock(&s->mu);
    const uint64_t *p = (const uint64_t *)gomap_get(s->m, &k);
    if (p) {
        *v = *p;
        gomap_delete(s->m, &k);
    }
    pthread_mutex_unlock(&s->mu);
    return p != NULL;
}

static void lk_del(sb_map *m, uint64_t k) {
    lk_shard *s = lk_shard_of(m, k);
    pthread_mutex_lock(&s->mu);
    gomap_delete(s->m, &k);
    pthread_mutex_unlock(&s->mu);
}

static bool lk_swap(sb_map *m, uint64_t k, uint64_t v, uint64_t *prev) {
    lk_shard *s = lk_shard_of(m, k);
    bool inserted = false;
    pthread_mutex_lock(&s->mu);
    uint64_t *p = (uint64_t *)gomap_assign2(s->m, &k, &inserted);
    *prev = *p;
    *p = v;
    pthread_mutex_unlock(&s->mu);
    return !inserted;
}

static bool lk_cas(sb_map *m, uint64_t k, uint64_t old, uint64_t nv) {
    lk_shard *s = lk_shard_of(m, k);
    pthread_mutex_lock(&s->mu);
    uint64_t *p = (uint64_t *)gomap_get(s->m, &k);
    bool ok = p && *p == old;
    if (ok) *p = nv;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static bool lk_cad(sb_map *m, uint64_t k, uint64_t old) {
    lk_shard *s = lk_shard_of(m, k);
    pthread_mutex_lock(&s->mu);
    const uint64_t *p = (const uint64_t *)gomap_get(s->m, &k);
    bool ok = p && *p == old;
    if (ok) gomap_delete(s->m, &k);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void lk_range(sb_map *m, sb_range_cb fn, void *ctx) {
    size_t cap = 0;
    uint64_t *buf = NULL;
    for (unsigned i = 0; i < m->nshards; i++) {
        lk_shard *s = &m->s[i];
        pthread_mutex_lock(&s->mu);
        size_t n = gomap_len(s->m);
        if (2 * n > cap) {
            cap = 2 * n + 64;
            free(buf);
            buf = (uint64_t *)malloc(cap * sizeof *buf);
            if (!buf) abort();
        }
        size_t j = 0;
        gomap_iter it;
        gomap_iter_init(&it, s->m);
        while (gomap_iter_next(&it)) {
            memcpy(&buf[j], it.key, 8);
            memcpy(&buf[j + 1], it.val, 8);
            j += 2;
        }
        pthread_mutex_unlock(&s->mu);
        for (size_t x = 0; x < j; x += 2)
            if (!fn(buf[x], buf[x + 1], ctx)) {
                free(buf);
                return;
            }
    }
    free(buf);
}

const sb_ops sb_shard64_ops = {
    "shard64", 0, lk_create64, lk_destroy, NULL, NULL, lk_load, lk_store, lk_los,
    lk_lad, lk_del, lk_swap, lk_cas, lk_cad, lk_range,
};

const sb_ops sb_mutex_ops = {
    "mutex", 0, lk_create1, lk_destroy, NULL, NULL, lk_load, lk_store, lk_los,
    lk_lad, lk_del, lk_swap, lk_cas, lk_cad, lk_range,
};

/*
 * map_ck.c -- Concurrency Kit's ck_ht (direct mode: 64-bit keys and values
 * stored in the table).  ck_ht is single-writer / many-reader: reads are
 * lock-free, writes are serialised here by one mutex.  Tables replaced by a
 * grow are handed to free() with defer = true (readers may still use them);
 * this adapter keeps them until the map is destroyed (ck_epoch would be the
 * production answer).  Keys 0 and ~0 are reserved, so keys are stored + 1.
 * range copies the entries under the writer lock and calls the function
 * after releasing it.
 */
#include "sync_bench.h"

#include <ck_ht.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct ck_deferred {
    struct ck_deferred *next;
} ck_deferred;

struct sb_map {
    ck_ht_t ht;
    pthread_mutex_t wmu;
};

static pthread_mutex_t g_defer_mu = PTHREAD_MUTEX_INITIALIZER;
static ck_deferred *g_deferred;

static void *ck_m(size_t n) { return malloc(n); }
static void *ck_r(void *p, size_t old, size_t n, bool defer) {
    (void)old;
    (void)defer;
    return realloc(p, n);
}
static void ck_f(void *p, size_t n, bool defer) {
    if (!p) return;
    if (defer && n >= sizeof(ck_deferred)) { /* readers may still be in it */
        pthread_mutex_lock(&g_defer_mu);
        ((ck_deferred *)p)->next = g_deferred;
        g_deferred = (ck_deferred *)p;
        pthread_mutex_unlock(&g_defer_mu);
        return;
    }
    free(p);
}
static struct ck_malloc g_ck_alloc = {ck_m, ck_r, ck_f};

static void ck_hash_cb(ck_ht_hash_t *h, const void *key, size_t len, uint64_t seed) {
    uint64_t k;
    (void)len;
    memcpy(&k, key, 8);
    h->value = sb_mix64(k ^ seed);
}

static sb_map *ck_create(void) {
    sb_map *m = (sb_map *)malloc(sizeof *m);
    if (!m) abort();
    pthread_mutex_init(&m->wmu, NULL);
    if (!ck_ht_init(&m->ht, CK_HT_MODE_DIRECT, ck_hash_cb, &g_ck_alloc, 1024, 0x9E3779B97F4A7C15ull))
        abort();
    return m;
}

static void ck_destroy(sb_map *m) {
    ck_ht_destroy(&m->ht);
    pthread_mutex_destroy(&m->wmu);
    free(m);
    pthread_mutex_lock(&g_defer_mu);
    while (g_deferred) {
        ck_deferred *d = g_deferred;
        g_deferred = d->next;
        free(d);
    }
    pthread_mutex_unlock(&g_defer_mu);
}

/* lock-free read */
static bool ck_get(sb_map *m, uintptr_t key, ck_ht_hash_t h, uint64_t *v) {
    ck_ht_entry_t e;
    ck_ht_entry_key_set_direct(&e, key);
    if (!ck_ht_get_spmc(&m->ht, h, &e)) return false;
    if (v) *v = ck_ht_entry_value_direct(&e);
    return true;
}

static bool ck_load(sb_map *m, uint64_t k, uint64_t *v) {
    ck_ht_hash_t h;
    ck_ht_hash_direct(&h, &m->ht, (uintptr_t)(k + 1));
    return ck_get(m, (uintptr_t)(k + 1), h, v);
}

static void ck_set_locked(sb_map *m, uintptr_t key, ck_ht_hash_t h, uint64_t v) {
    ck_ht_entry_t e;
    ck_ht_entry_set_direct(&e, h, key, (uintptr_t)v);
    if (!ck_ht_set_spmc(&m->ht, h, &e)) abort();
}

static void ck_store(sb_map *m, uint64_t k, uint64_t v) {
    ck_ht_hash_t h;
    ck_ht_hash_direct(&h, &m->ht, (uintptr_t)(k + 1));
    pthread_mutex_lock(&m->wmu);
    ck_set_locked(m, (uintptr_t)(k + 1), h, v);
    pthread_mutex_unlock(&m->wmu);
}

static bool ck_los(sb_map *m, uint64_t k, uint64_t v, uint64_t *actual) {
    ck_ht_hash_t h;
    uintptr_t key = (uintptr_t)(k + 1);
    ck_ht_hash_direct(&h, &m->ht, key);
    if (ck_get(m, key, h, actual)) return true;
    pthread_mutex_lock(&m->wmu);
    bool loaded = ck_get(m, key, h, actual);
    if (!loaded) {
        ck_set_locked(m, key, h, v);
        *actual = v;
    }
    pthread_mutex_unlock(&m->wmu);
    return loaded;
}

static bool ck_lad(sb_map *m, uint64_t k, uint64_t *v) {
    ck_ht_hash_t h;
    uintptr_t key = (uintptr_t)(k + 1);
    ck_ht_hash_direct(&h, &m->ht, key);
    if (!ck_get(m, key, h, NULL)) return false; /* lock-free miss */
    ck_ht_entry_t e;
    ck_ht_entry_key_set_direct(&e, key);
    pthread_mutex_lock(&m->wmu);
    bool ok = ck_ht_remove_spmc(&m->ht, h, &e);
    pthread_mutex_unlock(&m->wmu);
    if (ok && v) *v = ck_ht_entry_value_direct(&e);
    return ok;
}

static void ck_del(sb_map *m, uint64_t k) { ck_lad(m, k, NULL); }

static bool ck_swap(sb_map *m, uint64_t k, uint64_t v, uint64_t *prev) {
    ck_ht_hash_t h;
    uintptr_t key = (uintptr_t)(k + 1);
    ck_ht_hash_direct(&h, &m->ht, key);
    pthread_mutex_lock(&m->wmu);
    bool had = ck_get(m, key, h, prev);
    ck_set_locked(m, key, h, v);
    pthread_mutex_unlock(&m->wmu);
    return had;
}

static bool ck_cas(sb_map *m, uint64_t k, uint64_t old, uint64_t nv) {
    ck_ht_hash_t h;
    uintptr_t key = (uintptr_t)(k + 1);
    uint64_t cur;
    ck_ht_hash_direct(&h, &m->ht, key);
    if (!ck_get(m, key, h, &cur) || cur != old) return false; /* lock-free fail */
    pthread_mutex_lock(&m->wmu);
    bool ok = ck_get(m, key, h, &cur) && cur == old;
    if (ok) ck_set_locked(m, key, h, nv);
    pthread_mutex_unlock(&m->wmu);
    return ok;
}

static bool ck_cad(sb_map *m, uint64_t k, uint64_t old) {
    ck_ht_hash_t h;
    uintptr_t key = (uintptr_t)(k + 1);
    uint64_t cur;
    ck_ht_hash_direct(&h, &m->ht, key);
    if (!ck_get(m, key, h, &cur) || cur != old) return false;
    pthread_mutex_lock(&m->wmu);
    bool ok = ck_get(m, key, h, &cur) && cur == old;
    if (ok) {
        ck_ht_entry_t e;
        ck_ht_entry_key_set_direct(&e, key);
        ok = ck_ht_remove_spmc(&m->ht, h, &e);
    }
    pthread_mutex_unlock(&m->wmu);
    return ok;
}

static void ck_range(sb_map *m, sb_range_cb fn, void *ctx) {
    pthread_mutex_lock(&m->wmu);
    size_t n = (size_t)ck_ht_count(&m->ht), j = 0;
    uint64_t *buf = (uint64_t *)malloc((2 * n + 2) * sizeof *buf);
    if (!buf) abort();
    ck_ht_iterator_t it = CK_HT_ITERATOR_INITIALIZER;
    ck_ht_entry_t *e;
    while (j < 2 * n && ck_ht_next(&m->ht, &it, &e)) {
        buf[j++] = (uint64_t)ck_ht_entry_key_direct(e) - 1;
        buf[j++] = (uint64_t)ck_ht_entry_value_direct(e);
    }
    pthread_mutex_unlock(&m->wmu);
    for (size_t x = 0; x < j; x += 2)
        if (!fn(buf[x], buf[x + 1], ctx)) break;
    free(buf);
}

const sb_ops sb_ck_ops = {
    "ck_ht", 0, ck_create, ck_destroy, NULL, NULL, ck_load, ck_store, ck_los,
    ck_lad, ck_del, ck_swap, ck_cas, ck_cad, ck_range,
};

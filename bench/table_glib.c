/*
 * table_glib.c -- the GLib GHashTable row.
 *
 * The idiomatic fast forms: u64 keys and u64 values live in the pointers
 * themselves (g_direct_hash / g_direct_equal, a 64-bit gpointer); string keys
 * are borrowed pointers to the harness's NUL-terminated bytes (g_str_hash /
 * g_str_equal); 56-byte values are separate allocations owned by the table
 * (freed by its value destroy function).  GHashTable has no reserve, so the
 * "insert after reserve" column is empty, and no byte accounting (RSS only).
 */
#include <glib.h>

#include "tables.h"

#include <string.h>

/* ---- u64 -> u64 ----------------------------------------------------------- */

typedef GHashTable u64_tbl;

static inline u64_tbl *u64_new(size_t reserve, int counted)
{
    (void)reserve;
    (void)counted;
    return g_hash_table_new(g_direct_hash, g_direct_equal);
}
static inline int u64_can_reserve(void) { return 0; }
static inline void u64_free(u64_tbl *t) { g_hash_table_destroy(t); }
static inline int u64_insert(u64_tbl *t, uint64_t k, const uint64_t *v)
{
    g_hash_table_insert(t, GSIZE_TO_POINTER(k), GSIZE_TO_POINTER(*v));
    return 0;
}
static inline uint64_t u64_lookup(u64_tbl *t, uint64_t k)
{
    return GPOINTER_TO_SIZE(g_hash_table_lookup(t, GSIZE_TO_POINTER(k)));
}
static inline int u64_erase(u64_tbl *t, uint64_t k)
{
    return g_hash_table_remove(t, GSIZE_TO_POINTER(k)) ? 1 : 0;
}
static inline uint64_t u64_iterate(u64_tbl *t)
{
    GHashTableIter it;
    gpointer k, v;
    uint64_t sum = 0;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &k, &v))
        sum += GPOINTER_TO_SIZE(v);
    return sum;
}
static inline long long u64_bytes(u64_tbl *t) { (void)t; return -1; }
static inline long long u64_peak_bytes(u64_tbl *t) { (void)t; return -1; }

#define BENCH_K(name) u64_##name
#define BENCH_KIND_ID BENCH_KIND_U64
#include "driver.h"

/* ---- 16-byte string -> u64 ----------------------------------------------- */

typedef GHashTable str_tbl;

static inline str_tbl *str_new(size_t reserve, int counted)
{
    (void)reserve;
    (void)counted;
    return g_hash_table_new(g_str_hash, g_str_equal);
}
static inline int str_can_reserve(void) { return 0; }
static inline void str_free(str_tbl *t) { g_hash_table_destroy(t); }
static inline int str_insert(str_tbl *t, const char *k, const uint64_t *v)
{
    g_hash_table_insert(t, (gpointer)(uintptr_t)k, GSIZE_TO_POINTER(*v));
    return 0;
}
static inline uint64_t str_lookup(str_tbl *t, const char *k)
{
    return GPOINTER_TO_SIZE(g_hash_table_lookup(t, k));
}
static inline int str_erase(str_tbl *t, const char *k)
{
    return g_hash_table_remove(t, k) ? 1 : 0;
}
static inline uint64_t str_iterate(str_tbl *t) { return u64_iterate(t); }
static inline long long str_bytes(str_tbl *t) { (void)t; return -1; }
static inline long long str_peak_bytes(str_tbl *t) { (void)t; return -1; }

#define BENCH_K(name) str_##name
#define BENCH_KIND_ID BENCH_KIND_STR
#include "driver.h"

/* ---- u64 -> 56-byte value ------------------------------------------------ */

typedef GHashTable big_tbl;

static inline big_tbl *big_new(size_t reserve, int counted)
{
    (void)reserve;
    (void)counted;
    return g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
}
static inline int big_can_reserve(void) { return 0; }
static inline void big_free(big_tbl *t) { g_hash_table_destroy(t); }
static inline int big_insert(big_tbl *t, uint64_t k, const bench_val56 *v)
{
    bench_val56 *copy = g_new(bench_val56, 1);
    *copy = *v;
    g_hash_table_insert(t, GSIZE_TO_POINTER(k), copy);
    return 0;
}
static inline uint64_t big_lookup(big_tbl *t, uint64_t k)
{
    const bench_val56 *v = (const bench_val56 *)g_hash_table_lookup(t, GSIZE_TO_POINTER(k));
    return v ? v->w[0] : 0;
}
static inline int big_erase(big_tbl *t, uint64_t k)
{
    return g_hash_table_remove(t, GSIZE_TO_POINTER(k)) ? 1 : 0;
}
static inline uint64_t big_iterate(big_tbl *t)
{
    GHashTableIter it;
    gpointer k, v;
    uint64_t sum = 0;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &k, &v))
        sum += ((const bench_val56 *)v)->w[0];
    return sum;
}
static inline long long big_bytes(big_tbl *t) { (void)t; return -1; }
static inline long long big_peak_bytes(big_tbl *t) { (void)t; return -1; }

#define BENCH_K(name) big_##name
#define BENCH_KIND_ID BENCH_KIND_BIG
#include "driver.h"

int bench_run_glib(const bench_cfg *cfg, bench_result *res)
{
    switch (cfg->kind) {
    case BENCH_U64:
        return u64_run(cfg, res);
    case BENCH_STR:
        return str_run(cfg, res);
    case BENCH_BIG:
        return big_run(cfg, res);
    }
    return -1;
}

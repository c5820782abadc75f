/*
 * table_gomap.c -- the gomap row: the adapters driver.h needs, per kind.
 *
 * Inserts use gomap_assign() and store the value through the returned
 * pointer (Go's m[k] = v); lookups gomap_get(); erase gomap_delete();
 * iteration gomap_iter_*; the batch columns gomap_get_many(),
 * gomap_iter_next_n(), gomap_put_many() and gomap_delete_many().  Reserve
 * is gomap_new(&type, n), Go's make(map, n).
 * Byte accounting: gomap_stats_get().bytes for the live figure, and a counting
 * allocator (gomap_new_with) for the peak, in the memory pass only; the timed
 * passes use the default allocator.
 */
#include "gomap.h"
#include "tables.h"

#include <stdlib.h>
#include <string.h>

/* ---- counting allocator (memory pass only) ------------------------------ */

static long long count_now, count_peak;

static void *count_alloc(void *ctx, size_t size)
{
    (void)ctx;
    void *p = malloc(size);
    if (p) {
        count_now += (long long)size;
        if (count_now > count_peak)
            count_peak = count_now;
    }
    return p;
}

static void count_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    if (p)
        count_now -= (long long)size;
    free(p);
}

static const gomap_allocator counting = {count_alloc, count_free, NULL};

static gomap *gm_open(const gomap_type *t, size_t reserve, int counted)
{
    if (counted) {
        count_now = count_peak = 0;
        return gomap_new_with(t, (int64_t)reserve, &counting);
    }
    return gomap_new(t, (int64_t)reserve);
}

static long long gm_bytes(gomap *m)
{
    gomap_stats st;
    gomap_stats_get(m, &st);
    return (long long)st.bytes;
}

static long long gm_peak(gomap *m)
{
    (void)m;
    return count_peak;
}

/* ---- u64 -> u64 ----------------------------------------------------------- */

typedef gomap u64_tbl;

static inline u64_tbl *u64_new(size_t reserve, int counted)
{
    gomap_type t = GOMAP_TYPE_U64_U64;
    return gm_open(&t, reserve, counted);
}
static inline int u64_can_reserve(void) { return 1; }
static inline void u64_free(u64_tbl *m) { gomap_free(m); }
static inline int u64_insert(u64_tbl *m, uint64_t k, const uint64_t *v)
{
    uint64_t *slot = (uint64_t *)gomap_assign(m, &k);
    if (!slot)
        return -1;
    *slot = *v;
    return 0;
}
static inline uint64_t u64_lookup(u64_tbl *m, uint64_t k)
{
    const uint64_t *v = (const uint64_t *)gomap_get(m, &k);
    return v ? *v : 0;
}
static inline int u64_erase(u64_tbl *m, uint64_t k) { return gomap_delete(m, &k) == 1; }
static inline uint64_t u64_iterate(u64_tbl *m)
{
    uint64_t sum = 0;
    gomap_iter it;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it))
        sum += *(const uint64_t *)it.val;
    return sum;
}
/*
 * Batch iteration (the "iterate_batch" column): gomap_iter_next_n hands out
 * BENCH_ITER_BATCH value pointers per call, then the loop sums them.
 * WORD reads the value's first word.
 */
#define BENCH_ITER_BATCH 256
#define GM_ITER_BATCH_LOOP(WORD)                                                \
    void *vals[BENCH_ITER_BATCH];                                               \
    uint64_t sum = 0;                                                           \
    size_t c;                                                                   \
    gomap_iter it;                                                              \
    gomap_iter_init(&it, m);                                                    \
    while ((c = gomap_iter_next_n(&it, NULL, vals, BENCH_ITER_BATCH)) != 0)     \
        for (size_t j = 0; j < c; j++)                                          \
            sum += WORD(vals[j]);                                               \
    return sum
#define GM_ITER_WORD_U64(p) (*(const uint64_t *)(p))

static inline uint64_t u64_iterate_batch(u64_tbl *m) { GM_ITER_BATCH_LOOP(GM_ITER_WORD_U64); }
static inline long long u64_bytes(u64_tbl *m) { return gm_bytes(m); }
static inline long long u64_peak_bytes(u64_tbl *m) { return gm_peak(m); }

/*
 * The batch columns: driver.h gathers up to BENCH_KEY_BATCH keys (and
 * values) into arrays and hands them to gomap_put_many(), gomap_get_many()
 * and gomap_delete_many().
 */
static inline int u64_insert_batch(u64_tbl *m, const uint64_t *k, const uint64_t *v, size_t c)
{
    return gomap_put_many(m, k, v, c, NULL) == GOMAP_OK ? 0 : -1;
}
/* Sum of value word 0 over the hits. */
#define GM_SUM_MANY(WORD)                                                       \
    void *vals[BENCH_KEY_BATCH];                                                \
    uint64_t sum = 0;                                                           \
    gomap_get_many(m, k, c, vals);                                              \
    for (size_t j = 0; j < c; j++)                                              \
        sum += vals[j] ? WORD(vals[j]) : 0;                                     \
    return sum
#define GM_WORD_U64(p) (*(const uint64_t *)(p))
#define GM_WORD_BIG(p) (((const bench_val56 *)(p))->w[0])
static inline uint64_t u64_lookup_batch(u64_tbl *m, const uint64_t *k, size_t c)
{
    GM_SUM_MANY(GM_WORD_U64);
}
static inline uint64_t u64_erase_batch(u64_tbl *m, const uint64_t *k, size_t c)
{
    size_t before = gomap_len(m);
    gomap_delete_many(m, k, c, NULL);
    return before - gomap_len(m);
}

#define BENCH_K_HAVE_BATCH 1
#define BENCH_K_HAVE_ITER_BATCH 1
#define BENCH_K(name) u64_##name
#define BENCH_KIND_ID BENCH_KIND_U64
#include "driver.h"

/* ---- 16-byte string -> u64 ----------------------------------------------- */

typedef gomap str_tbl;

static inline str_tbl *str_new(size_t reserve, int counted)
{
    gomap_type t = GOMAP_TYPE_STR_U64;
    return gm_open(&t, reserve, counted);
}
static inline int str_can_reserve(void) { return 1; }
static inline void str_free(str_tbl *m) { gomap_free(m); }
static inline int str_insert(str_tbl *m, const char *k, const uint64_t *v)
{
    gomap_str s = {k, BENCH_STR_LEN};
    uint64_t *slot = (uint64_t *)gomap_assign(m, &s);
    if (!slot)
        return -1;
    *slot = *v;
    return 0;
}
static inline uint64_t str_lookup(str_tbl *m, const char *k)
{
    gomap_str s = {k, BENCH_STR_LEN};
    const uint64_t *v = (const uint64_t *)gomap_get(m, &s);
    return v ? *v : 0;
}
static inline int str_erase(str_tbl *m, const char *k)
{
    gomap_str s = {k, BENCH_STR_LEN};
    return gomap_delete(m, &s) == 1;
}
static inline uint64_t str_iterate(str_tbl *m) { return u64_iterate(m); }
static inline uint64_t str_iterate_batch(str_tbl *m) { return u64_iterate_batch(m); }
static inline long long str_bytes(str_tbl *m) { return gm_bytes(m); }
static inline long long str_peak_bytes(str_tbl *m) { return gm_peak(m); }

/* The keys as gomap_str views, for the batch calls. */
static inline void str_views(gomap_str *s, const char *const *k, size_t c)
{
    for (size_t j = 0; j < c; j++) {
        s[j].ptr = k[j];
        s[j].len = BENCH_STR_LEN;
    }
}
static inline int str_insert_batch(str_tbl *m, const char *const *k, const uint64_t *v, size_t c)
{
    gomap_str s[BENCH_KEY_BATCH];
    str_views(s, k, c);
    return gomap_put_many(m, s, v, c, NULL) == GOMAP_OK ? 0 : -1;
}
static inline uint64_t str_lookup_batch(str_tbl *m, const char *const *keys, size_t c)
{
    gomap_str k[BENCH_KEY_BATCH];
    str_views(k, keys, c);
    GM_SUM_MANY(GM_WORD_U64);
}
static inline uint64_t str_erase_batch(str_tbl *m, const char *const *k, size_t c)
{
    gomap_str s[BENCH_KEY_BATCH];
    str_views(s, k, c);
    size_t before = gomap_len(m);
    gomap_delete_many(m, s, c, NULL);
    return before - gomap_len(m);
}

#define BENCH_K_HAVE_BATCH 1
#define BENCH_K_HAVE_ITER_BATCH 1
#define BENCH_K(name) str_##name
#define BENCH_KIND_ID BENCH_KIND_STR
#include "driver.h"

/* ---- u64 -> 56-byte value ------------------------------------------------ */

typedef gomap big_tbl;

static inline big_tbl *big_new(size_t reserve, int counted)
{
    gomap_type t = gomap_type_builtin(GOMAP_KEY_U64, 8, sizeof(bench_val56), 8);
    return gm_open(&t, reserve, counted);
}
static inline int big_can_reserve(void) { return 1; }
static inline void big_free(big_tbl *m) { gomap_free(m); }
static inline int big_insert(big_tbl *m, uint64_t k, const bench_val56 *v)
{
    bench_val56 *slot = (bench_val56 *)gomap_assign(m, &k);
    if (!slot)
        return -1;
    *slot = *v;
    return 0;
}
static inline uint64_t big_lookup(big_tbl *m, uint64_t k)
{
    const bench_val56 *v = (const bench_val56 *)gomap_get(m, &k);
    return v ? v->w[0] : 0;
}
static inline int big_erase(big_tbl *m, uint64_t k) { return gomap_delete(m, &k) == 1; }
static inline uint64_t big_iterate(big_tbl *m)
{
    uint64_t sum = 0;
    gomap_iter it;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it))
        sum += ((const bench_val56 *)it.val)->w[0];
    return sum;
}
#define GM_ITER_WORD_BIG(p) (((const bench_val56 *)(p))->w[0])
static inline uint64_t big_iterate_batch(big_tbl *m) { GM_ITER_BATCH_LOOP(GM_ITER_WORD_BIG); }
static inline long long big_bytes(big_tbl *m) { return gm_bytes(m); }
static inline long long big_peak_bytes(big_tbl *m) { return gm_peak(m); }

static inline int big_insert_batch(big_tbl *m, const uint64_t *k, const bench_val56 *v, size_t c)
{
    return gomap_put_many(m, k, v, c, NULL) == GOMAP_OK ? 0 : -1;
}
static inline uint64_t big_lookup_batch(big_tbl *m, const uint64_t *k, size_t c)
{
    GM_SUM_MANY(GM_WORD_BIG);
}
static inline uint64_t big_erase_batch(big_tbl *m, const uint64_t *k, size_t c)
{
    return u64_erase_batch(m, k, c);
}

#define BENCH_K_HAVE_BATCH 1
#define BENCH_K_HAVE_ITER_BATCH 1
#define BENCH_K(name) big_##name
#define BENCH_KIND_ID BENCH_KIND_BIG
#include "driver.h"

/* ---- entry point ----------------------------------------------------------- */

int bench_run_gomap(const bench_cfg *cfg, bench_result *res)
{
    int rc;
    switch (cfg->kind) {
    case BENCH_U64:
        rc = u64_run(cfg, res);
        break;
    case BENCH_STR:
        rc = str_run(cfg, res);
        break;
    case BENCH_BIG:
        rc = big_run(cfg, res);
        break;
    default:
        return -1;
    }
    if (rc == 0 && cfg->n > 0) {
        res->extra_names[0] = "hash_aes";
        res->extra[0] = strcmp(gomap_hash_name(), "aes") == 0 ? 1.0 : 0.0;
    }
    return rc;
}

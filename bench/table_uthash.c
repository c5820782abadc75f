/*
 * table_uthash.c -- the uthash row.
 *
 * uthash is intrusive: each entry is a separate allocation holding the key,
 * the value and a UT_hash_handle (56 bytes on 64-bit); the table links them.
 * That is how uthash is used, so this row pays one malloc per insert and one
 * free per erase.  String keys are borrowed pointers (HASH_ADD_KEYPTR).
 * uthash has no reserve (the "insert after reserve" column is empty) and no
 * byte accounting (RSS only).  Its default hash (Jenkins) is used.
 */
#include <stdlib.h>
#include <uthash.h>

#include "tables.h"

#define UH_TABLE(prefix, entry_t)                                                \
    typedef struct prefix##_tbl {                                                \
        entry_t *head;                                                           \
    } prefix##_tbl;                                                              \
    static inline prefix##_tbl *prefix##_new(size_t reserve, int counted)        \
    {                                                                            \
        (void)reserve;                                                           \
        (void)counted;                                                           \
        return (prefix##_tbl *)calloc(1, sizeof(prefix##_tbl));                  \
    }                                                                            \
    static inline int prefix##_can_reserve(void) { return 0; }                   \
    static inline void prefix##_free(prefix##_tbl *t)                            \
    {                                                                            \
        entry_t *e = t->head, *next;                                             \
        HASH_CLEAR(hh, t->head);                                                 \
        for (; e; e = next) {                                                    \
            next = (entry_t *)e->hh.next;                                        \
            free(e);                                                             \
        }                                                                        \
        free(t);                                                                 \
    }                                                                            \
    static inline long long prefix##_bytes(prefix##_tbl *t)                      \
    {                                                                            \
        (void)t;                                                                 \
        return -1;                                                               \
    }                                                                            \
    static inline long long prefix##_peak_bytes(prefix##_tbl *t)                 \
    {                                                                            \
        (void)t;                                                                 \
        return -1;                                                               \
    }

/* ---- u64 -> u64 ----------------------------------------------------------- */

typedef struct u64_entry {
    uint64_t key;
    uint64_t val;
    UT_hash_handle hh;
} u64_entry;

UH_TABLE(u64, u64_entry)

static inline int u64_insert(u64_tbl *t, uint64_t k, const uint64_t *v)
{
    u64_entry *e = (u64_entry *)malloc(sizeof *e);
    if (!e)
        return -1;
    e->key = k;
    e->val = *v;
    HASH_ADD(hh, t->head, key, sizeof(uint64_t), e);
    return 0;
}
static inline uint64_t u64_lookup(u64_tbl *t, uint64_t k)
{
    u64_entry *e;
    HASH_FIND(hh, t->head, &k, sizeof(uint64_t), e);
    return e ? e->val : 0;
}
static inline int u64_erase(u64_tbl *t, uint64_t k)
{
    u64_entry *e;
    HASH_FIND(hh, t->head, &k, sizeof(uint64_t), e);
    if (!e)
        return 0;
    HASH_DEL(t->head, e);
    free(e);
    return 1;
}
static inline uint64_t u64_iterate(u64_tbl *t)
{
    uint64_t sum = 0;
    for (const u64_entry *e = t->head; e; e = (const u64_entry *)e->hh.next)
        sum += e->val;
    return sum;
}

#define BENCH_K(name) u64_##name
#define BENCH_KIND_ID BENCH_KIND_U64
#include "driver.h"

/* ---- 16-byte string -> u64 ----------------------------------------------- */

typedef struct str_entry {
    const char *key;
    uint64_t val;
    UT_hash_handle hh;
} str_entry;

UH_TABLE(str, str_entry)

static inline int str_insert(str_tbl *t, const char *k, const uint64_t *v)
{
    str_entry *e = (str_entry *)malloc(sizeof *e);
    if (!e)
        return -1;
    e->key = k;
    e->val = *v;
    HASH_ADD_KEYPTR(hh, t->head, e->key, BENCH_STR_LEN, e);
    return 0;
}
static inline uint64_t str_lookup(str_tbl *t, const char *k)
{
    str_entry *e;
    HASH_FIND(hh, t->head, k, BENCH_STR_LEN, e);
    return e ? e->val : 0;
}
static inline int str_erase(str_tbl *t, const char *k)
{
    str_entry *e;
    HASH_FIND(hh, t->head, k, BENCH_STR_LEN, e);
    if (!e)
        return 0;
    HASH_DEL(t->head, e);
    free(e);
    return 1;
}
static inline uint64_t str_iterate(str_tbl *t)
{
    uint64_t sum = 0;
    for (const str_entry *e = t->head; e; e = (const str_entry *)e->hh.next)
        sum += e->val;
    return sum;
}

#define BENCH_K(name) str_##name
#define BENCH_KIND_ID BENCH_KIND_STR
#include "driver.h"

/* ---- u64 -> 56-byte value ------------------------------------------------ */

typedef struct big_entry {
    uint64_t key;
    bench_val56 val;
    UT_hash_handle hh;
} big_entry;

UH_TABLE(big, big_entry)

static inline int big_insert(big_tbl *t, uint64_t k, const bench_val56 *v)
{
    big_entry *e = (big_entry *)malloc(sizeof *e);
    if (!e)
        return -1;
    e->key = k;
    e->val = *v;
    HASH_ADD(hh, t->head, key, sizeof(uint64_t), e);
    return 0;
}
static inline uint64_t big_lookup(big_tbl *t, uint64_t k)
{
    big_entry *e;
    HASH_FIND(hh, t->head, &k, sizeof(uint64_t), e);
    return e ? e->val.w[0] : 0;
}
static inline int big_erase(big_tbl *t, uint64_t k)
{
    big_entry *e;
    HASH_FIND(hh, t->head, &k, sizeof(uint64_t), e);
    if (!e)
        return 0;
    HASH_DEL(t->head, e);
    free(e);
    return 1;
}
static inline uint64_t big_iterate(big_tbl *t)
{
    uint64_t sum = 0;
    for (const big_entry *e = t->head; e; e = (const big_entry *)e->hh.next)
        sum += e->val.w[0];
    return sum;
}

#define BENCH_K(name) big_##name
#define BENCH_KIND_ID BENCH_KIND_BIG
#include "driver.h"

int bench_run_uthash(const bench_cfg *cfg, bench_result *res)
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

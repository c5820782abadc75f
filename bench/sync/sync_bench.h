/*
 * sync_bench.h -- the interface every concurrent map of the benchmark
 * implements (u64 keys and values), one adapter per file: map_gomap_sync.c,
 * map_locked.c (64 shards of gomap + mutex; one gomap + one mutex),
 * map_urcu.c (liburcu rculfhash), map_ck.c (Concurrency Kit ck_ht),
 * map_tbb.cc (tbb::concurrent_hash_map).
 */
#ifndef SYNC_BENCH_H
#define SYNC_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sb_map sb_map;
typedef bool (*sb_range_cb)(uint64_t k, uint64_t v, void *ctx);

/* range must not be called while other threads write (tbb, ck_ht). */
#define SB_RANGE_NOT_CONCURRENT 0x1u

typedef struct sb_ops {
    const char *name;
    unsigned flags;
    sb_map *(*create)(void);
    void (*destroy)(sb_map *m);
    void (*thread_enter)(void); /* each worker thread, before its first call */
    void (*thread_leave)(void);
    bool (*load)(sb_map *m, uint64_t k, uint64_t *v);
    void (*store)(sb_map *m, uint64_t k, uint64_t v);
    /* true: loaded (the key was there; *actual gets its value) */
    bool (*load_or_store)(sb_map *m, uint64_t k, uint64_t v, uint64_t *actual);
    bool (*load_and_delete)(sb_map *m, uint64_t k, uint64_t *v);
    void (*del)(sb_map *m, uint64_t k);
    bool (*swap)(sb_map *m, uint64_t k, uint64_t v, uint64_t *prev);
    bool (*cas)(sb_map *m, uint64_t k, uint64_t old, uint64_t nv);
    bool (*cad)(sb_map *m, uint64_t k, uint64_t old);
    /* calls fn until it returns false; fn may call the map */
    void (*range)(sb_map *m, sb_range_cb fn, void *ctx);
} sb_ops;

extern const sb_ops sb_gomap_sync_ops;
extern const sb_ops sb_shard64_ops;
extern const sb_ops sb_mutex_ops;
#if defined(SB_HAVE_URCU)
extern const sb_ops sb_urcu_ops;
#endif
#if defined(SB_HAVE_CK)
extern const sb_ops sb_ck_ops;
#endif
#if defined(SB_HAVE_TBB)
extern const sb_ops sb_tbb_ops;
#endif

/* A 64-bit mixer shared by the adapters that need a hash (murmur3 fmix64). */
static inline uint64_t sb_mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

#ifdef __cplusplus
}
#endif
#endif

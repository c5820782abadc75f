/*
 * table_mlp.c -- the "memory-level-parallelism limit" row.
 *
 * Not a hash table: the machine's random-access limit over the same working
 * set as gomap.  The working set is the bytes a gomap holding the run's n
 * keys of the run's kind occupies (gomap_stats_get().bytes); over that many
 * bytes of 64-byte nodes we chase independent random chains: 1 chain (each
 * access waits for the previous one: the latency of a cache or DRAM miss),
 * 16 and 32 chains (accesses overlap as far as the memory system allows:
 * the throughput floor a batch lookup could approach).  The row's lookup
 * columns show the best of 16 and 32 chains, in ns per access; the JSON's
 * extra fields hold all three, and the best of 16 and 32 chains again with
 * 3-line (192-byte) nodes, every line read: the floor for a lookup that,
 * like one in Go's bucket layout, reads three lines (the tophash bytes, the
 * key's line and the value's line, which for 8-byte keys and values are 64
 * bytes apart).
 */
#include "gomap.h"
#include "tables.h"

#include <math.h>
#include <stdlib.h>

static long long gomap_bytes_for(const bench_cfg *cfg)
{
    gomap_type t;
    switch (cfg->kind) {
    case BENCH_STR:
        t = GOMAP_TYPE_STR_U64;
        break;
    case BENCH_BIG:
        t = gomap_type_builtin(GOMAP_KEY_U64, 8, sizeof(bench_val56), 8);
        break;
    default:
        t = GOMAP_TYPE_U64_U64;
        break;
    }
    gomap *m = gomap_new(&t, 0);
    if (!m)
        return -1;
    /* Keys: the stream's first n values; strings need stable bytes. */
    char *strs = NULL;
    if (cfg->kind == BENCH_STR) {
        strs = malloc(cfg->n * BENCH_STR_LEN);
        if (!strs) {
            gomap_free(m);
            return -1;
        }
    }
    for (size_t i = 0; i < cfg->n; i++) {
        uint64_t k = bench_stream(BENCH_SEED_KEYS, i);
        void *slot;
        if (strs) {
            char *p = strs + i * BENCH_STR_LEN;
            for (int j = 0; j < BENCH_STR_LEN; j++)
                p[j] = "0123456789abcdef"[(k >> (60 - 4 * j)) & 15u];
            gomap_str s = {p, BENCH_STR_LEN};
            slot = gomap_assign(m, &s);
        } else {
            slot = gomap_assign(m, &k);
        }
        if (!slot) {
            gomap_free(m);
            free(strs);
            return -1;
        }
    }
    gomap_stats st;
    gomap_stats_get(m, &st);
    gomap_free(m);
    free(strs);
    return (long long)st.bytes;
}

int bench_run_mlp(const bench_cfg *cfg, bench_result *res)
{
    long long ws = gomap_bytes_for(cfg);
    if (ws <= 0)
        return -1;
    uint64_t accesses = 2 * (uint64_t)cfg->n;
    if (accesses < (1u << 22))
        accesses = 1u << 22;
    double c1 = bench_chase((size_t)ws, 1, accesses / 4, 1);
    double c16 = bench_chase((size_t)ws, 16, accesses, 1);
    double c32 = bench_chase((size_t)ws, 32, accesses, 1);
    double best = fmin(c16, c32);
    double l3 = fmin(bench_chase((size_t)ws, 16, accesses, 3), bench_chase((size_t)ws, 32, accesses, 3));
    res->have[OP_LOOKUP_HIT] = 1;
    res->ns[OP_LOOKUP_HIT] = best;
    res->ops[OP_LOOKUP_HIT] = accesses;
    res->have[OP_LOOKUP_MISS] = 1;
    res->ns[OP_LOOKUP_MISS] = best;
    res->ops[OP_LOOKUP_MISS] = accesses;
    res->live_acct = ws;
    res->extra_names[0] = "chase1";
    res->extra[0] = c1;
    res->extra_names[1] = "chase16";
    res->extra[1] = c16;
    res->extra_names[2] = "chase32";
    res->extra[2] = c32;
    res->extra_names[3] = "ws_bytes";
    res->extra[3] = (double)ws;
    res->extra_names[4] = "chase3lines";
    res->extra[4] = l3;
    res->note = "pointer chase over gomap's working set, not a table";
    return 0;
}

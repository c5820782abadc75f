/*
 * cmd_bench.c -- `gomap bench`: time gomap alone on a default workload and
 * print a table; `--with-peers` hands over to the full comparison
 * (bench/run.py in the source tree: gomap, Go's map, Abseil, Boost, std,
 * GLib, uthash).
 *
 * Only the library's public API and the timing code of timing.c are used,
 * so the tool builds and installs with the library alone.  The workload is
 * the one the side-by-side benchmark defines (bench/common.h): the same key
 * stream, probe order, churn and figures, so the numbers are comparable
 * with the gomap row of bench/REPORT.md.
 *
 * Key index space, one splitmix64 stream (every key distinct):
 *   [0, n)            the keys inserted
 *   [n, 2n)           keys looked up and never present (lookup miss)
 *   [2n, 2n + steps)  the new keys of the churn
 * The value stored for key index i is i + 1 (never zero).  Each run checks
 * what it can of the results (every hit found, no miss found, every erase
 * removing its key, iteration summing every value, the batch calls agreeing
 * with the single-key ones) and fails when one is wrong.
 *
 * Each run is a separate child process (fork), so that the memory figures
 * (RSS) of one run are not disturbed by the last.
 */
#include "commands.h"
#include "gomap.h"
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LIST 8
#define MAX_RUNS 25
#define KEY_BATCH 64   /* keys per call of the batch columns */
#define ITER_BATCH 256 /* entries per gomap_iter_next_n call */
#define LAT_TRIES 3    /* latency passes at most, while the OS preempts them */
#define STR_LEN 16     /* bytes of a string key */
#define STR_STRIDE 17  /* bytes per stored string: 16 and a NUL */

#define SEED_KEYS 0x676f6d6170626e31ull  /* the key stream */
#define SEED_PERM 0x676f6d6170626e32ull  /* the probe order */
#define SEED_CHURN 0x676f6d6170626e33ull /* the churn's lookup picks */

enum kind { K_U64, K_STR, K_BIG, K_COUNT };
static const char *const kind_names[K_COUNT] = {"u64", "str", "big"};
static const char *const kind_titles[K_COUNT] = {"u64 -> u64", "16-byte string -> u64",
                                                 "u64 -> 56-byte value"};

/* The operations, in the order of the table. */
enum op {
    OP_INSERT,             /* n keys into an empty map */
    OP_INSERT_RESERVED,    /* the same into gomap_new(&type, n) */
    OP_LOOKUP_HIT,         /* every key, in a shuffled order */
    OP_LOOKUP_MISS,        /* n absent keys */
    OP_ERASE,              /* every key, in the shuffled order */
    OP_ITERATE,            /* every entry (ns per entry) */
    OP_CHURN,              /* steady size: insert new, look up live, erase oldest */
    OP_INSERT_BATCH,       /* the same operations through the batch calls */
    OP_INSERT_RESERVED_BATCH,
    OP_LOOKUP_BATCH,
    OP_LOOKUP_MISS_BATCH,
    OP_ERASE_BATCH,
    OP_ITERATE_BATCH,
    OP_CHURN_BATCH,
    OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "insert",       "insert_reserved",       "lookup_hit",   "lookup_miss",
    "erase",        "iterate",               "churn",        "insert_batch",
    "insert_reserved_batch", "lookup_batch", "lookup_miss_batch", "erase_batch",
    "iterate_batch", "churn_batch",
};

#define HAS(ops, op) (((ops) >> (op)) & 1u)

typedef struct bench_opts {
    size_t sizes[MAX_LIST];
    int nsizes;
    int kinds[MAX_LIST];
    int nkinds;
    int runs;
    unsigned ops;
    int json;
    int with_peers;
    int sizes_given, kinds_given, runs_given;
    uint64_t min_ops, lat_min_ops;
} bench_opts;

/* What one run measured; plain data, sent whole from the child. */
typedef struct result {
    int have[OP_COUNT];
    double ns[OP_COUNT];       /* ns per operation */
    uint64_t check[OP_COUNT];  /* the sums the checks compare */
    tm_lat lat, floor;         /* single inserts; an empty operation timed alike */
    long long live_rss, peak_rss, live_acct, peak_acct; /* bytes, -1 unknown */
    char error[96];            /* why the run failed, "" if it did not */
} result;

/* ---- the workload ---------------------------------------------------------- */

typedef struct workload {
    enum kind kind;
    size_t n, steps;
    size_t ksize, vsize;    /* bytes of a key in the arrays, of a value */
    gomap_type type;
    void *keys;             /* 2n + steps keys: uint64_t or gomap_str views */
    void *probes;           /* the first n keys again (str: views of copies) */
    char *text;             /* str: the bytes, STR_STRIDE per key, copies after */
    uint32_t *perm;         /* a random permutation of [0, n) */
    uint32_t *pick;         /* churn: offset in [0, n] of the key looked up */
    uint64_t reps;          /* repetitions of n per timed operation */
    uint64_t lat_reps;      /* fresh maps filled with single timed inserts */
} workload;

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The i-th output of the splitmix64 stream seeded with seed. */
static uint64_t stream(uint64_t seed, uint64_t i)
{
    return mix(seed + (i + 1) * 0x9e3779b97f4a7c15ull);
}

/* Key index of position q of the churn's FIFO (skips the miss keys). */
static size_t churn_index(size_t n, size_t q)
{
    return q < n ? q : q + n;
}

static const void *key_at(const workload *w, size_t i)
{
    return (const char *)w->keys + i * w->ksize;
}

static const void *probe_at(const workload *w, size_t i)
{
    return (const char *)w->probes + i * w->ksize;
}

/* Store the value of key index i into a value slot. */
static void put_val(const workload *w, void *slot, size_t i)
{
    uint64_t *p = (uint64_t *)slot;
    p[0] = (uint64_t)i + 1;
    for (size_t j = 1; j < w->vsize / 8; j++)
        p[j] = (uint64_t)i + 1 + j;
}

static uint64_t first_word(const void *val)
{
    return val ? *(const uint64_t *)val : 0;
}

static void workload_free(workload *w)
{
    if (w->probes != w->keys)
        free(w->probes);
    free(w->keys);
    free(w->text);
    free(w->perm);
    free(w->pick);
    memset(w, 0, sizeof *w);
}

static uint64_t reps_for(size_t n, uint64_t min_ops)
{
    uint64_t r = (min_ops + n - 1) / n;
    return r ? r : 1;
}

static int workload_make(workload *w, enum kind kind, size_t n, unsigned ops,
                         uint64_t min_ops, uint64_t lat_min_ops)
{
    memset(w, 0, sizeof *w);
    w->kind = kind;
    w->n = n;
    w->reps = reps_for(n, min_ops);
    w->lat_reps = reps_for(n, lat_min_ops);
    w->steps = HAS(ops, OP_CHURN) || HAS(ops, OP_CHURN_BATCH) ? (size_t)(w->reps * n) : 0;
    w->ksize = kind == K_STR ? sizeof(gomap_str) : sizeof(uint64_t);
    w->vsize = kind == K_BIG ? 56 : 8;
    w->type = kind == K_STR ? GOMAP_TYPE_STR_U64
                            : gomap_type_builtin(GOMAP_KEY_U64, 8, w->vsize, 8);
    size_t total = 2 * n + w->steps;
    w->keys = malloc(total * w->ksize);
    w->perm = malloc(n * sizeof *w->perm);
    w->pick = malloc((w->steps ? w->steps : 1) * sizeof *w->pick);
    if (!w->keys || !w->perm || !w->pick)
        goto fail;
    if (kind == K_STR) {
        static const char hex[] = "0123456789abcdef";
        w->text = malloc((total + n) * STR_STRIDE);
        w->probes = malloc(n * w->ksize);
        if (!w->text || !w->probes)
            goto fail;
        gomap_str *k = w->keys, *p = w->probes;
        for (size_t i = 0; i < total; i++) {
            char *s = w->text + i * STR_STRIDE;
            uint64_t x = stream(SEED_KEYS, i);
            for (int d = STR_LEN - 1; d >= 0; d--, x >>= 4)
                s[d] = hex[x & 15u];
            s[STR_LEN] = '\0';
            k[i].ptr = s;
            k[i].len = STR_LEN;
        }
        /* Lookups use a second copy of the bytes: no win on pointer equality. */
        memcpy(w->text + total * STR_STRIDE, w->text, n * STR_STRIDE);
        for (size_t i = 0; i < n; i++) {
            p[i].ptr = w->text + (total + i) * STR_STRIDE;
            p[i].len = STR_LEN;
        }
    } else {
        uint64_t *k = w->keys;
        for (size_t i = 0; i < total; i++)
            k[i] = stream(SEED_KEYS, i);
        w->probes = w->keys;
    }
    /* Fisher-Yates, high index first. */
    for (size_t i = 0; i < n; i++)
        w->perm[i] = (uint32_t)i;
    uint64_t c = 0;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(stream(SEED_PERM, c++) % (i + 1));
        uint32_t t = w->perm[i];
        w->perm[i] = w->perm[j];
        w->perm[j] = t;
    }
    for (size_t j = 0; j < w->steps; j++)
        w->pick[j] = (uint32_t)(stream(SEED_CHURN, j) % (n + 1));
    return 0;
fail:
    workload_free(w);
    return -1;
}

/* ---- a counting allocator (the memory pass) ------------------------------------ */

typedef struct counter {
    long long now, peak;
} counter;

static void *count_alloc(void *ctx, size_t size)
{
    counter *c = (counter *)ctx;
    void *p = malloc(size);
    if (p) {
        c->now += (long long)size;
        if (c->now > c->peak)
            c->peak = c->now;
    }
    return p;
}

static void count_free(void *ctx, void *p, size_t size)
{
    counter *c = (counter *)ctx;
    if (p)
        c->now -= (long long)size;
    free(p);
}

/* ---- the timed operations ---------------------------------------------------------- */

static int fail(result *res, const char *what)
{
    snprintf(res->error, sizeof res->error, "%s", what);
    return -1;
}

static void set(result *res, enum op op, uint64_t ns, uint64_t ops, uint64_t check)
{
    res->have[op] = 1;
    res->ns[op] = (double)ns / (double)(ops ? ops : 1);
    res->check[op] = check;
}

/* Insert keys [0, n), one gomap_assign each, or KEY_BATCH per gomap_put_many. */
static int fill(const workload *w, gomap *m, int batch)
{
    if (!batch) {
        for (size_t i = 0; i < w->n; i++) {
            void *slot = gomap_assign(m, key_at(w, i));
            if (!slot)
                return -1;
            put_val(w, slot, i);
        }
        return 0;
    }
    _Alignas(8) unsigned char vals[KEY_BATCH * 56];
    for (size_t i = 0; i < w->n; i += KEY_BATCH) {
        size_t c = w->n - i < KEY_BATCH ? w->n - i : KEY_BATCH;
        for (size_t j = 0; j < c; j++)
            put_val(w, vals + j * w->vsize, i + j);
        if (gomap_put_many(m, key_at(w, i), vals, c, NULL) != GOMAP_OK)
            return -1;
    }
    return 0;
}

static gomap *filled(const workload *w)
{
    gomap *m = gomap_new(&w->type, 0);
    if (m && fill(w, m, 0) != 0) {
        gomap_free(m);
        m = NULL;
    }
    return m;
}

/* Copy c probe keys (in the shuffled order from position i) into buf. */
static void gather_probes(const workload *w, unsigned char *buf, size_t i, size_t c)
{
    for (size_t j = 0; j < c; j++)
        memcpy(buf + j * w->ksize, probe_at(w, w->perm[i + j]), w->ksize);
}

/* The sum of the values of the keys gomap_get_many finds. */
static uint64_t get_many_sum(const gomap *m, const void *keys, size_t c)
{
    void *vals[KEY_BATCH];
    uint64_t sum = 0;
    gomap_get_many(m, keys, c, vals);
    for (size_t j = 0; j < c; j++)
        sum += first_word(vals[j]);
    return sum;
}

static int time_insert(const workload *w, result *res, enum op op)
{
    int reserve = op == OP_INSERT_RESERVED || op == OP_INSERT_RESERVED_BATCH;
    int batch = op == OP_INSERT_BATCH || op == OP_INSERT_RESERVED_BATCH;
    uint64_t ns = 0, check = 0;
    for (uint64_t r = 0; r < w->reps; r++) {
        gomap *m = gomap_new(&w->type, reserve ? (int64_t)w->n : 0);
        if (!m)
            return fail(res, "out of memory");
        uint64_t t0 = tm_now_ns();
        int rc = fill(w, m, batch);
        ns += tm_now_ns() - t0;
        if (r == 0)
            check = first_word(gomap_get(m, probe_at(w, w->n - 1)));
        size_t len = gomap_len(m);
        gomap_free(m);
        if (rc != 0)
            return fail(res, "an insert failed");
        if (len != w->n)
            return fail(res, "the map does not hold every key inserted");
    }
    if (check != w->n)
        return fail(res, "the last key inserted has the wrong value");
    set(res, op, ns, w->reps * w->n, check);
    return 0;
}

static int time_erase(const workload *w, result *res, enum op op)
{
    uint64_t ns = 0, check = 0;
    _Alignas(16) unsigned char keys[KEY_BATCH * sizeof(gomap_str)];
    for (uint64_t r = 0; r < w->reps; r++) {
        gomap *m = filled(w);
        if (!m)
            return fail(res, "out of memory");
        uint64_t removed = 0;
        uint64_t t0 = tm_now_ns();
        if (op == OP_ERASE_BATCH) {
            for (size_t i = 0; i < w->n; i += KEY_BATCH) {
                size_t c = w->n - i < KEY_BATCH ? w->n - i : KEY_BATCH;
                gather_probes(w, keys, i, c);
                gomap_delete_many(m, keys, c, NULL);
            }
            removed = w->n - gomap_len(m);
        } else {
            for (size_t i = 0; i < w->n; i++)
                removed += gomap_delete(m, probe_at(w, w->perm[i])) == 1;
        }
        ns += tm_now_ns() - t0;
        gomap_free(m);
        if (r == 0)
            check = removed;
        if (removed != w->n)
            return fail(res, "an erase did not find its key");
    }
    set(res, op, ns, w->reps * w->n, check);
    return 0;
}

/* One pass over all n keys for a lookup or iteration column; the sum of
   the values seen. */
static uint64_t pass(const workload *w, const gomap *m, enum op op)
{
    _Alignas(16) unsigned char keys[KEY_BATCH * sizeof(gomap_str)];
    uint64_t sum = 0;
    size_t n = w->n;
    switch (op) {
    case OP_LOOKUP_HIT:
        for (size_t i = 0; i < n; i++)
            sum += first_word(gomap_get(m, probe_at(w, w->perm[i])));
        break;
    case OP_LOOKUP_BATCH:
        for (size_t i = 0; i < n; i += KEY_BATCH) {
            size_t c = n - i < KEY_BATCH ? n - i : KEY_BATCH;
            gather_probes(w, keys, i, c);
            sum += get_many_sum(m, keys, c);
        }
        break;
    case OP_LOOKUP_MISS:
        for (size_t i = 0; i < n; i++)
            sum += gomap_get(m, key_at(w, n + i)) != NULL;
        break;
    case OP_LOOKUP_MISS_BATCH:
        for (size_t i = 0; i < n; i += KEY_BATCH) {
            size_t c = n - i < KEY_BATCH ? n - i : KEY_BATCH;
            sum += get_many_sum(m, key_at(w, n + i), c);
        }
        break;
    case OP_ITERATE: {
        gomap_iter it;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it))
            sum += first_word(it.val);
        break;
    }
    case OP_ITERATE_BATCH: {
        void *vals[ITER_BATCH];
        size_t c;
        gomap_iter it;
        gomap_iter_init(&it, m);
        while ((c = gomap_iter_next_n(&it, NULL, vals, ITER_BATCH)) != 0)
            for (size_t j = 0; j < c; j++)
                sum += first_word(vals[j]);
        break;
    }
    default:
        break;
    }
    return sum;
}

static int time_passes(const workload *w, const gomap *m, result *res, enum op op)
{
    uint64_t sum = 0, first = 0;
    uint64_t t0 = tm_now_ns();
    for (uint64_t r = 0; r < w->reps; r++) {
        sum += pass(w, m, op);
        if (r == 0)
            first = sum;
    }
    uint64_t t1 = tm_now_ns();
    tm_sink += sum;
    int miss = op == OP_LOOKUP_MISS || op == OP_LOOKUP_MISS_BATCH;
    uint64_t want = miss ? 0 : (uint64_t)w->n * (w->n + 1) / 2;
    if (first != want)
        return fail(res, miss ? "a lookup found an absent key"
                              : "a lookup or the iteration missed a value");
    set(res, op, t1 - t0, w->reps * w->n, first);
    return 0;
}

/* The churn: a FIFO window of n live keys; each step inserts the next new
   key, looks up a random live key and erases the oldest.  The batch form
   does KEY_BATCH steps at a time: their inserts, their lookups (every key
   looked up is still live), their erases. */
static int time_churn(const workload *w, result *res, enum op op)
{
    size_t n = w->n, steps = w->steps;
    uint64_t sum = 0, t0, t1;
    int failed = 0;
    gomap *m = filled(w);
    if (!m)
        return fail(res, "out of memory");
    if (op == OP_CHURN) {
        t0 = tm_now_ns();
        for (size_t j = 0; j < steps; j++) {
            size_t in = churn_index(n, n + j);
            void *slot = gomap_assign(m, key_at(w, in));
            if (slot)
                put_val(w, slot, in);
            failed |= !slot;
            sum += first_word(gomap_get(m, key_at(w, churn_index(n, j + w->pick[j]))));
            gomap_delete(m, key_at(w, churn_index(n, j)));
        }
        t1 = tm_now_ns();
    } else {
        _Alignas(16) unsigned char keys[KEY_BATCH * sizeof(gomap_str)];
        _Alignas(8) unsigned char vals[KEY_BATCH * 56];
        t0 = tm_now_ns();
        for (size_t j0 = 0; j0 < steps; j0 += KEY_BATCH) {
            size_t c = steps - j0 < KEY_BATCH ? steps - j0 : KEY_BATCH;
            for (size_t j = 0; j < c; j++) {
                size_t in = churn_index(n, n + j0 + j);
                memcpy(keys + j * w->ksize, key_at(w, in), w->ksize);
                put_val(w, vals + j * w->vsize, in);
            }
            failed |= gomap_put_many(m, keys, vals, c, NULL) != GOMAP_OK;
            for (size_t j = 0; j < c; j++)
                memcpy(keys + j * w->ksize,
                       key_at(w, churn_index(n, j0 + j + w->pick[j0 + j])), w->ksize);
            sum += get_many_sum(m, keys, c);
            for (size_t j = 0; j < c; j++)
                memcpy(keys + j * w->ksize, key_at(w, churn_index(n, j0 + j)), w->ksize);
            gomap_delete_many(m, keys, c, NULL);
        }
        t1 = tm_now_ns();
    }
    size_t len = gomap_len(m);
    gomap_free(m);
    if (failed)
        return fail(res, "a churn insert failed");
    if (len != n)
        return fail(res, "the churn changed the map's size");
    tm_sink += sum;
    set(res, op, t1 - t0, 3 * (uint64_t)steps, sum);
    return 0;
}

/* Live and peak bytes while n keys go into an empty map. */
static int memory(const workload *w, result *res)
{
    counter cnt = {0, 0};
    gomap_allocator al = {count_alloc, count_free, &cnt};
    int hwm_ok = tm_hwm_reset() == 0;
    long long rss0 = tm_rss_bytes();
    gomap *m = gomap_new_with(&w->type, 0, &al);
    if (!m || fill(w, m, 0) != 0) {
        gomap_free(m);
        return fail(res, "out of memory");
    }
    long long rss1 = tm_rss_bytes(), hwm = tm_hwm_bytes();
    res->live_rss = rss0 >= 0 && rss1 >= 0 ? rss1 - rss0 : -1;
    res->peak_rss = hwm_ok && rss0 >= 0 && hwm >= 0 ? hwm - rss0 : -1;
    gomap_stats st;
    gomap_stats_get(m, &st);
    res->live_acct = (long long)st.bytes;
    res->peak_acct = cnt.peak;
    gomap_free(m);
    return 0;
}

/* Inserts timed one at a time into lat_reps fresh maps, into ticks; *pre:
   the preemptions meanwhile, *span: the ticks the insert loops took. */
static int latency_pass(const workload *w, uint32_t *ticks, long long *pre, uint64_t *span)
{
    long long total = 0;
    *span = 0;
    for (uint64_t r = 0; r < w->lat_reps; r++) {
        gomap *m = gomap_new(&w->type, 0);
        uint32_t *out = ticks + r * w->n;
        if (!m)
            return -1;
        long long p0 = tm_preemptions();
        uint64_t start = tm_tick();
        for (size_t i = 0; i < w->n; i++) {
            uint64_t t0 = tm_tick();
            void *slot = gomap_assign(m, key_at(w, i));
            uint64_t t1 = tm_tick();
            if (!slot) {
                gomap_free(m);
                return -1;
            }
            put_val(w, slot, i);
            out[i] = tm_dt32(t0, t1);
        }
        *span += tm_tick() - start;
        long long p1 = tm_preemptions();
        total = p0 < 0 || p1 < 0 || total < 0 ? -1 : total + (p1 - p0);
        gomap_free(m);
    }
    *pre = total;
    return 0;
}

/* The timer's floor: the same two ticks around nothing, for as many
   samples and at least as long as the inserts took (the worst an empty
   operation meets grows with the time watched).  The preemptions meanwhile. */
static long long floor_pass(uint32_t *ticks, size_t total, uint64_t span, uint32_t *worst)
{
    uint32_t max = 0;
    long long p0 = tm_preemptions();
    uint64_t start = tm_tick(), now = start;
    for (size_t i = 0; i < total || now - start < span; i++) {
        uint64_t t0 = tm_tick();
        uint64_t t1 = tm_tick();
        uint32_t d = tm_dt32(t0, t1);
        ticks[i % total] = d;
        max = d > max ? d : max;
        now = t1;
    }
    long long p1 = tm_preemptions();
    *worst = max;
    return p0 < 0 || p1 < 0 ? -1 : p1 - p0;
}

/* A pass the OS preempted is run again, up to LAT_TRIES passes in all (the
   last counts): a preemption puts someone else's time slice into a sample. */
static int latency(const workload *w, result *res)
{
    size_t total = (size_t)w->lat_reps * w->n;
    uint32_t *ticks = malloc(total * sizeof *ticks);
    uint64_t span = 0;
    uint32_t worst = 0;
    long long pre = -1;
    if (!ticks)
        return fail(res, "out of memory");
    for (int tries = 0; tries < LAT_TRIES && pre != 0; tries++)
        if (latency_pass(w, ticks, &pre, &span) != 0) {
            free(ticks);
            return fail(res, "an insert failed");
        }
    tm_summarize(ticks, total, &res->lat);
    res->lat.preempted = pre;
    pre = -1;
    for (int tries = 0; tries < LAT_TRIES && pre != 0; tries++)
        pre = floor_pass(ticks, total, span, &worst);
    tm_summarize(ticks, total, &res->floor);
    res->floor.max = tm_ticks_to_ns(worst);
    res->floor.preempted = pre;
    free(ticks);
    return 0;
}

/* One run of every operation asked for, on one kind and size. */
static int run_workload(enum kind kind, size_t n, const bench_opts *o, result *res)
{
    workload w;
    memset(res, 0, sizeof *res);
    res->live_rss = res->peak_rss = res->live_acct = res->peak_acct = -1;
    if (workload_make(&w, kind, n, o->ops, o->min_ops, o->lat_min_ops) != 0)
        return fail(res, "out of memory");
    int rc = memory(&w, res);
    if (rc == 0)
        rc = latency(&w, res);
    static const enum op inserts[] = {OP_INSERT, OP_INSERT_RESERVED, OP_INSERT_BATCH,
                                      OP_INSERT_RESERVED_BATCH};
    for (size_t i = 0; rc == 0 && i < sizeof inserts / sizeof inserts[0]; i++)
        if (HAS(o->ops, inserts[i]))
            rc = time_insert(&w, res, inserts[i]);
    if (rc == 0) {
        static const enum op reads[] = {OP_LOOKUP_HIT,  OP_LOOKUP_BATCH, OP_LOOKUP_MISS,
                                        OP_LOOKUP_MISS_BATCH, OP_ITERATE, OP_ITERATE_BATCH};
        gomap *m = filled(&w);
        if (!m)
            rc = fail(res, "out of memory");
        for (size_t i = 0; rc == 0 && i < sizeof reads / sizeof reads[0]; i++)
            if (HAS(o->ops, reads[i]))
                rc = time_passes(&w, m, res, reads[i]);
        gomap_free(m);
    }
    if (rc == 0 && HAS(o->ops, OP_CHURN))
        rc = time_churn(&w, res, OP_CHURN);
    static const enum op erases[] = {OP_ERASE, OP_ERASE_BATCH};
    for (size_t i = 0; rc == 0 && i < sizeof erases / sizeof erases[0]; i++)
        if (HAS(o->ops, erases[i]))
            rc = time_erase(&w, res, erases[i]);
    if (rc == 0 && HAS(o->ops, OP_CHURN_BATCH))
        rc = time_churn(&w, res, OP_CHURN_BATCH);
    if (rc == 0 && res->have[OP_CHURN] && res->have[OP_CHURN_BATCH] &&
        res->check[OP_CHURN] != res->check[OP_CHURN_BATCH])
        rc = fail(res, "the batch churn found other values than the single-key churn");
    workload_free(&w);
    return rc;
}

/* Run in a child process; the result comes back through a pipe. */
static int run_one(enum kind kind, size_t n, const bench_opts *o, result *res)
{
    int fd[2];
    if (pipe(fd) != 0)
        return run_workload(kind, n, o, res);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return run_workload(kind, n, o, res);
    }
    if (pid == 0) {
        close(fd[0]);
        run_workload(kind, n, o, res);
        const char *p = (const char *)res;
        size_t left = sizeof *res;
        while (left > 0) {
            ssize_t wr = write(fd[1], p, left);
            if (wr <= 0)
                _exit(3);
            p += wr;
            left -= (size_t)wr;
        }
        _exit(0);
    }
    close(fd[1]);
    size_t got = 0;
    while (got < sizeof *res) {
        ssize_t r = read(fd[0], (char *)res + got, sizeof *res - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof *res || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        memset(res, 0, sizeof *res);
        return fail(res, "the run's process died");
    }
    res->error[sizeof res->error - 1] = '\0';
    return res->error[0] ? -1 : 0;
}

/* ---- output ------------------------------------------------------------------ */

static void json_lat(const char *name, const tm_lat *l)
{
    printf("\"%s\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"preempted\":%lld}",
           name, l->p50, l->p99, l->p999, l->max, l->preempted);
}

static void print_json(enum kind kind, size_t n, int run, const result *res)
{
    printf("{\"table\":\"gomap\",\"kind\":\"%s\",\"n\":%zu,\"run\":%d,\"ns\":{", kind_names[kind],
           n, run);
    const char *sep = "";
    for (int op = 0; op < OP_COUNT; op++)
        if (res->have[op]) {
            printf("%s\"%s\":%.3f", sep, op_names[op], res->ns[op]);
            sep = ",";
        }
    printf("},\"check\":{");
    sep = "";
    for (int op = 0; op < OP_COUNT; op++)
        if (res->have[op]) {
            printf("%s\"%s\":%llu", sep, op_names[op], (unsigned long long)res->check[op]);
            sep = ",";
        }
    printf("},");
    json_lat("lat", &res->lat);
    printf(",");
    json_lat("floor", &res->floor);
    printf(",\"mem\":{\"live_rss\":%lld,\"peak_rss\":%lld,\"live_acct\":%lld,\"peak_acct\":%lld},"
           "\"hash\":\"%s\",\"timer\":\"%s\",\"ticks_per_ns\":%.4f}\n",
           res->live_rss, res->peak_rss, res->live_acct, res->peak_acct, gomap_hash_name(),
           tm_timer_name(), tm_ticks_per_ns());
    fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "median (min-max)" of n values. */
static void cell(char *buf, size_t len, double *v, int n, int decimals)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    if (v[0] < 0)
        snprintf(buf, len, "n/a");
    else if (n == 1)
        snprintf(buf, len, "%.*f", decimals, med);
    else
        snprintf(buf, len, "%.*f (%.*f-%.*f)", decimals, med, decimals, v[0], decimals,
                 v[n - 1]);
}

typedef double (*field_fn)(const result *r, size_t n);
static double f_p50(const result *r, size_t n) { (void)n; return r->lat.p50; }
static double f_p99(const result *r, size_t n) { (void)n; return r->lat.p99; }
static double f_p999(const result *r, size_t n) { (void)n; return r->lat.p999; }
static double f_max(const result *r, size_t n) { (void)n; return r->lat.max; }
static double f_pre(const result *r, size_t n) { (void)n; return (double)r->lat.preempted; }
static double f_floor50(const result *r, size_t n) { (void)n; return r->floor.p50; }
static double f_floormax(const result *r, size_t n) { (void)n; return r->floor.max; }
static double per_entry(long long bytes, size_t n)
{
    return bytes < 0 ? -1 : (double)bytes / (double)n;
}
static double f_live_acct(const result *r, size_t n) { return per_entry(r->live_acct, n); }
static double f_peak_acct(const result *r, size_t n) { return per_entry(r->peak_acct, n); }
static double f_live_rss(const result *r, size_t n) { return per_entry(r->live_rss, n); }
static double f_peak_rss(const result *r, size_t n) { return per_entry(r->peak_rss, n); }

static const struct {
    const char *label;
    field_fn fn;
    int decimals;
} extra_rows[] = {
    {"insert latency p50 (ns)", f_p50, 0},
    {"insert latency p99 (ns)", f_p99, 0},
    {"insert latency p99.9 (ns)", f_p999, 0},
    {"worst single insert (ns)", f_max, 0},
    {"  preempted while timing", f_pre, 0},
    {"timer floor p50 (ns)", f_floor50, 0},
    {"timer floor worst (ns)", f_floormax, 0},
    {"bytes/entry live (gomap)", f_live_acct, 1},
    {"bytes/entry peak (gomap)", f_peak_acct, 1},
    {"bytes/entry live (RSS)", f_live_rss, 1},
    {"bytes/entry peak (RSS)", f_peak_rss, 1},
};

static void print_table(const bench_opts *o, int kind, result (*res)[MAX_RUNS], const int *ok)
{
    char buf[64];
    double v[MAX_RUNS];
    int width = o->runs > 1 ? 24 : 12;
    printf("\n%s: ns per operation, ", kind_titles[kind]);
    if (o->runs > 1)
        printf("median of %d runs (min-max)\n", o->runs);
    else
        printf("1 run\n");
    printf("%-27s", "operation");
    for (int s = 0; s < o->nsizes; s++) {
        snprintf(buf, sizeof buf, "n=%zu", o->sizes[s]);
        printf(" %-*s", width, buf);
    }
    printf("\n");
    for (int op = 0; op < OP_COUNT; op++) {
        if (!HAS(o->ops, op))
            continue;
        printf("%-27s", op_names[op]);
        for (int s = 0; s < o->nsizes; s++) {
            if (!ok[s]) {
                printf(" %-*s", width, "-");
                continue;
            }
            for (int r = 0; r < o->runs; r++)
                v[r] = res[s][r].ns[op];
            cell(buf, sizeof buf, v, o->runs, 1);
            printf(" %-*s", width, buf);
        }
        printf("\n");
    }
    for (size_t e = 0; e < sizeof extra_rows / sizeof extra_rows[0]; e++) {
        printf("%-27s", extra_rows[e].label);
        for (int s = 0; s < o->nsizes; s++) {
            if (!ok[s]) {
                printf(" %-*s", width, "-");
                continue;
            }
            for (int r = 0; r < o->runs; r++)
                v[r] = extra_rows[e].fn(&res[s][r], o->sizes[s]);
            cell(buf, sizeof buf, v, o->runs, extra_rows[e].decimals);
            printf(" %-*s", width, buf);
        }
        printf("\n");
    }
    fflush(stdout);
}

/* ---- --with-peers: hand over to bench/run.py ------------------------------------ */

static int run_peers(const bench_opts *o)
{
#ifdef GOMAP_SOURCE_DIR
    char script[4096], sizes[256] = "", kinds[64] = "", runs[16];
    snprintf(script, sizeof script, "%s/bench/run.py", GOMAP_SOURCE_DIR);
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "gomap bench --with-peers: %s is gone; the full comparison needs "
                        "gomap's source tree\n", script);
        return 1;
    }
    for (int i = 0; i < o->nsizes; i++) {
        size_t len = strlen(sizes);
        snprintf(sizes + len, sizeof sizes - len, "%s%zu", i ? "," : "", o->sizes[i]);
    }
    for (int i = 0; i < o->nkinds; i++) {
        size_t len = strlen(kinds);
        snprintf(kinds + len, sizeof kinds - len, "%s%s", i ? "," : "", kind_names[o->kinds[i]]);
    }
    snprintf(runs, sizeof runs, "%d", o->runs);
    char py[] = "python3", sz[] = "--sizes", kd[] = "--kinds", rn[] = "--runs";
    char *argv[16];
    int argc = 0;
    argv[argc++] = py;
    argv[argc++] = script;
#ifdef GOMAP_BENCH_BUILD_DIR
    /* This build has the benchmark's rows: run.py reuses it. */
    char bd[] = "--build-dir", bdv[] = GOMAP_BENCH_BUILD_DIR;
    argv[argc++] = bd;
    argv[argc++] = bdv;
#endif
    if (o->sizes_given) {
        argv[argc++] = sz;
        argv[argc++] = sizes;
    }
    if (o->kinds_given) {
        argv[argc++] = kd;
        argv[argc++] = kinds;
    }
    if (o->runs_given) {
        argv[argc++] = rn;
        argv[argc++] = runs;
    }
    argv[argc] = NULL;
    fflush(stdout);
    execvp(argv[0], argv);
    perror("gomap bench --with-peers: cannot run python3");
    return 1;
#else
    (void)o;
    fprintf(stderr, "gomap bench --with-peers: this build does not know gomap's source "
                    "tree; run bench/run.py there\n");
    return 1;
#endif
}

/* ---- the command line ----------------------------------------------------------------- */

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: gomap bench [--size N[,N...]] [--runs R] [--kind u64|str|big[,...]]\n"
            "                   [--ops LIST] [--min-ops N] [--lat-min-ops N] [--json]\n"
            "                   [--with-peers]\n"
            "\n"
            "Times gomap on the benchmark's workload and prints a table: ns per\n"
            "operation (median of the runs, min-max), the latency of single inserts\n"
            "(p50, p99, p99.9, worst) next to the timer's floor, and bytes per entry.\n"
            "Default: u64->u64 at 1e5 and 1e6 entries, all operations, 3 runs.\n"
            "\n"
            "  --size N[,N]     entries (numbers like 1e6 accepted)\n"
            "  --runs R         runs per workload (each in its own process)\n"
            "  --kind K[,K]     u64 (u64->u64), str (16-byte string->u64), big (u64->56 B)\n"
            "  --ops LIST       insert,insert_reserved,lookup_hit,lookup_miss,erase,\n"
            "                   iterate,churn, and the batch calls: insert_batch,\n"
            "                   insert_reserved_batch,lookup_batch,lookup_miss_batch,\n"
            "                   erase_batch,iterate_batch,churn_batch (default: all)\n"
            "  --min-ops N      operations per timed measurement, at least (default 1e6)\n"
            "  --lat-min-ops N  single inserts timed for the latency rows, at least\n"
            "                   (default 2e5)\n"
            "  --json           print one JSON line per run instead of the table\n"
            "  --with-peers     run the full comparison (bench/run.py, in gomap's source\n"
            "                   tree) with every installed peer; writes REPORT.md and\n"
            "                   report.html (bench/install-peers.sh installs the peers)\n");
}

/* A comma-separated list: parse each item with one(), 0 or -1. */
static int parse_list(const char *s, int (*one)(const char *item, bench_opts *o), bench_opts *o)
{
    char buf[64];
    while (*s) {
        size_t len = strcspn(s, ",");
        if (len == 0 || len >= sizeof buf)
            return -1;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (one(buf, o) != 0)
            return -1;
        s += len;
        if (*s == ',')
            s++;
    }
    return 0;
}

static int parse_count(const char *s, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end || !(d >= lo && d <= hi))
        return -1;
    *out = d;
    return 0;
}

static int one_size(const char *item, bench_opts *o)
{
    double d;
    if (o->nsizes == MAX_LIST || parse_count(item, 1, 2e9, &d) != 0)
        return -1;
    o->sizes[o->nsizes++] = (size_t)d;
    return 0;
}

static int one_kind(const char *item, bench_opts *o)
{
    for (int k = 0; k < K_COUNT; k++)
        if (strcmp(item, kind_names[k]) == 0 && o->nkinds < MAX_LIST) {
            o->kinds[o->nkinds++] = k;
            return 0;
        }
    return -1;
}

static int one_op(const char *item, bench_opts *o)
{
    if (strcmp(item, "all") == 0) {
        o->ops = (1u << OP_COUNT) - 1;
        return 0;
    }
    for (int op = 0; op < OP_COUNT; op++)
        if (strcmp(item, op_names[op]) == 0) {
            o->ops |= 1u << op;
            return 0;
        }
    return -1;
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o;
    memset(&o, 0, sizeof o);
    o.sizes[0] = 100000;
    o.sizes[1] = 1000000;
    o.nsizes = 2;
    o.kinds[0] = K_U64;
    o.nkinds = 1;
    o.runs = 3;
    o.ops = (1u << OP_COUNT) - 1;
    o.min_ops = 1000000;
    o.lat_min_ops = 200000;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            bench_usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            o.json = 1;
            continue;
        } else if (strcmp(a, "--with-peers") == 0) {
            o.with_peers = 1;
            continue;
        } else if (!v) {
            fprintf(stderr, "gomap bench: %s needs a value or is unknown\n", a);
            bench_usage(stderr);
            return 2;
        } else if (strcmp(a, "--size") == 0 || strcmp(a, "--sizes") == 0) {
            o.nsizes = 0;
            bad = parse_list(v, one_size, &o) != 0 || o.nsizes == 0;
            o.sizes_given = 1;
        } else if (strcmp(a, "--kind") == 0 || strcmp(a, "--kinds") == 0) {
            o.nkinds = 0;
            bad = parse_list(v, one_kind, &o) != 0 || o.nkinds == 0;
            o.kinds_given = 1;
        } else if (strcmp(a, "--ops") == 0) {
            o.ops = 0;
            bad = parse_list(v, one_op, &o) != 0 || o.ops == 0;
        } else if (strcmp(a, "--runs") == 0) {
            bad = parse_count(v, 1, MAX_RUNS, &d) != 0;
            o.runs = (int)d;
            o.runs_given = 1;
        } else if (strcmp(a, "--min-ops") == 0) {
            bad = parse_count(v, 1, 1e12, &d) != 0;
            o.min_ops = (uint64_t)d;
        } else if (strcmp(a, "--lat-min-ops") == 0) {
            bad = parse_count(v, 1, 1e9, &d) != 0;
            o.lat_min_ops = (uint64_t)d;
        } else {
            fprintf(stderr, "gomap bench: unknown option %s\n", a);
            bench_usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "gomap bench: bad %s '%s'\n", a, v);
            return 2;
        }
        i++;
    }
    if (o.with_peers)
        return run_peers(&o);

    tm_init();
    int progress = !o.json && isatty(2);
    if (!o.json) {
        printf("gomap %d.%d.%d bench: hash %s, timer %s (%.3f ticks/ns)\n", GOMAP_VERSION_MAJOR,
               GOMAP_VERSION_MINOR, GOMAP_VERSION_PATCH, gomap_hash_name(), tm_timer_name(),
               tm_ticks_per_ns());
        fflush(stdout);
    }
    static result res[MAX_LIST][MAX_RUNS];
    int failures = 0;
    for (int k = 0; k < o.nkinds; k++) {
        int ok[MAX_LIST];
        for (int s = 0; s < o.nsizes; s++) {
            ok[s] = 1;
            for (int r = 0; r < o.runs; r++) {
                if (progress) {
                    fprintf(stderr, "\r%s n=%zu run %d/%d ...", kind_names[o.kinds[k]],
                            o.sizes[s], r + 1, o.runs);
                    fflush(stderr);
                }
                if (run_one((enum kind)o.kinds[k], o.sizes[s], &o, &res[s][r]) != 0) {
                    fprintf(stderr, "%sgomap bench: %s n=%zu run %d failed: %s\n",
                            progress ? "\n" : "", kind_names[o.kinds[k]], o.sizes[s], r + 1,
                            res[s][r].error);
                    ok[s] = 0;
                    failures++;
                    break;
                }
                if (o.json)
                    print_json((enum kind)o.kinds[k], o.sizes[s], r + 1, &res[s][r]);
            }
        }
        if (!o.json) {
            if (progress)
                fprintf(stderr, "\r%40s\r", "");
            print_table(&o, o.kinds[k], res, ok);
        }
    }
    if (!o.json)
        printf("\nWith every peer (Go's map, Abseil, Boost, std, GLib, uthash): "
               "gomap bench --with-peers\n");
    return failures ? 1 : 0;
}

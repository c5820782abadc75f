/*
 * bench_sync.c -- Go's sync.Map benchmark set (sync/map_bench_test.go) and
 * YCSB-style mixes, for every concurrent map adapter (sync_bench.h).
 *
 * Each benchmark runs as Go's testing.B.RunParallel does: a fresh map, the
 * setup, then T threads each running the per-goroutine loop with its own
 * starting i (= thread id * N); N operations in total; ns/op = wall time / N
 * (so at 2 threads it measures throughput, as Go's ns/op does).  N is
 * calibrated to ~0.15 s per run; the median of 5 runs is printed as
 *
 *     bench=<name> map=<name> threads=<T> ns_op=<x> n=<N>
 *
 * bench/sync/go/main.go prints the same lines for Go 1.19's sync.Map.
 *
 *   bench_sync [-t 1,2] [-m gomap_sync,urcu_lfht,...] [-b LoadMostlyHits,...]
 *              [-r runs] [-s seconds]
 */
#include "sync_bench.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the maps ---------------------------------------------------------------- */

static const sb_ops *const g_maps[] = {
    &sb_gomap_sync_ops,
#if defined(SB_HAVE_URCU)
    &sb_urcu_ops,
#endif
#if defined(SB_HAVE_TBB)
    &sb_tbb_ops,
#endif
#if defined(SB_HAVE_CK)
    &sb_ck_ops,
#endif
    &sb_shard64_ops,
    &sb_mutex_ops,
};
#define NMAPS (sizeof g_maps / sizeof g_maps[0])

/* ---- YCSB key streams ------------------------------------------------------------ */

#define Y_KEYS 1000000ull      /* records */
#define Y_STREAM (1u << 20)    /* pre-generated operations per thread */
#define Y_MAXT 16

enum { Y_READ, Y_UPDATE, Y_INSERT, Y_DELETE };
typedef struct y_op {
    uint64_t key;
    unsigned kind;
} y_op;

static y_op *g_stream[3][Y_MAXT]; /* per mix, per thread */

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

/* YCSB's zipfian generator (Gray et al.), theta 0.99, scrambled so that the
   hot keys are spread over the key space. */
typedef struct zipf {
    double theta, zetan, alpha, eta, half_pow;
    uint64_t n;
} zipf;

static void zipf_init(zipf *z, uint64_t n, double theta) {
    double zeta2 = 1.0 + pow(0.5, theta), zetan = 0;
    for (uint64_t i = 1; i <= n; i++) zetan += 1.0 / pow((double)i, theta);
    z->n = n;
    z->theta = theta;
    z->zetan = zetan;
    z->alpha = 1.0 / (1.0 - theta);
    z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / zetan);
    z->half_pow = pow(0.5, theta);
}

static uint64_t zipf_next(const zipf *z, uint64_t *s) {
    double u = rng_unit(s), uz = u * z->zetan, r;
    if (uz < 1.0)
        r = 0;
    else if (uz < 1.0 + z->half_pow)
        r = 1;
    else
        r = floor((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
    uint64_t rank = (uint64_t)r;
    if (rank >= z->n) rank = z->n - 1;
    return sb_mix64(rank) % z->n; /* scramble */
}

static void streams_init(int nthreads) {
    static zipf z;
    static int done_for = 0;
    if (done_for >= nthreads) return;
    if (done_for == 0) zipf_init(&z, Y_KEYS, 0.99);
    for (int t = done_for; t < nthreads; t++) {
        uint64_t s = 0x1234567ull * (uint64_t)(t + 1);
        for (int mix = 0; mix < 3; mix++) {
            y_op *ops = (y_op *)malloc(Y_STREAM * sizeof *ops);
            if (!ops) abort();
            for (unsigned i = 0; i < Y_STREAM; i++) {
                unsigned p = (unsigned)(rng_next(&s) % 100);
                if (mix == 0) { /* ycsb-b: 95% read, 5% update, zipfian */
                    ops[i].key = zipf_next(&z, &s);
                    ops[i].kind = p < 95 ? Y_READ : Y_UPDATE;
                } else if (mix == 1) { /* ycsb-a: 50% read, 50% update, zipfian */
                    ops[i].key = zipf_next(&z, &s);
                    ops[i].kind = p < 50 ? Y_READ : Y_UPDATE;
                } else { /* churn: uniform over 2x the records, 50/25/25 */
                    ops[i].key = rng_next(&s) % (2 * Y_KEYS);
                    ops[i].kind = p < 50 ? Y_READ : p < 75 ? Y_INSERT : Y_DELETE;
                }
            }
            g_stream[mix][t] = ops;
        }
    }
    done_for = nthreads;
}

/* ---- benchmark bodies ------------------------------------------------------------- */

typedef struct bctx {
    const sb_ops *o;
    sb_map *m;
    int tid;
    uint64_t sink;
} bctx;

typedef void (*setup_fn)(bctx *c);
typedef void (*perg_fn)(bctx *c, uint64_t i, uint64_t n);

static void setup_hits(bctx *c, uint64_t hits) {
    uint64_t a;
    for (uint64_t i = 0; i < hits; i++) c->o->load_or_store(c->m, i, i, &a);
    for (uint64_t i = 0; i < hits * 2; i++) c->o->load(c->m, i % hits, &a);
}
static void setup_1023(bctx *c) { setup_hits(c, 1023); }
static void setup_1(bctx *c) { setup_hits(c, 1); }
static void setup_128(bctx *c) { setup_hits(c, 128); }
static void setup_zero(bctx *c) {
    uint64_t a;
    c->o->load_or_store(c->m, 0, 0, &a);
}
static void setup_1024_store(bctx *c) {
    for (uint64_t i = 0; i < 1024; i++) c->o->store(c->m, i, i);
}

static void pg_load_mostly_hits(bctx *c, uint64_t i, uint64_t n) {
    uint64_t v, s = 0;
    for (uint64_t e = i + n; i < e; i++)
        if (c->o->load(c->m, i % 1024, &v)) s += v;
    c->sink += s;
}
static void pg_load_or_store_balanced(bctx *c, uint64_t i, uint64_t n) {
    uint64_t a;
    for (uint64_t e = i + n; i < e; i++) {
        uint64_t j = i % 256;
        if (j < 128) {
            if (!c->o->load_or_store(c->m, j, i, &a)) abort(); /* unexpected miss */
        } else if (c->o->load_or_store(c->m, i, i, &a)) {
            abort(); /* failed to store */
        }
    }
}
static void pg_load_or_store_unique(bctx *c, uint64_t i, uint64_t n) {
    uint64_t a;
    for (uint64_t e = i + n; i < e; i++) c->o->load_or_store(c->m, i, i, &a);
}
static void pg_load_or_store_collision(bctx *c, uint64_t i, uint64_t n) {
    uint64_t a;
    for (uint64_t e = i + n; i < e; i++) c->o->load_or_store(c->m, 0, 0, &a);
}
static void pg_load_and_delete_balanced(bctx *c, uint64_t i, uint64_t n) {
    uint64_t v;
    for (uint64_t e = i + n; i < e; i++) {
        uint64_t j = i % 256;
        c->o->load_and_delete(c->m, j < 128 ? j : i, &v);
    }
}
static void pg_delete_collision(bctx *c, uint64_t i, uint64_t n) {
    for (uint64_t e = i + n; i < e; i++) c->o->del(c->m, 0);
}
static void pg_swap_collision(bctx *c, uint64_t i, uint64_t n) {
    uint64_t p;
    for (uint64_t e = i + n; i < e; i++) c->o->swap(c->m, 0, 0, &p);
}
static void pg_cas_collision(bctx *c, uint64_t i, uint64_t n) {
    for (uint64_t e = i + n; i < e; i++)
        if (c->o->cas(c->m, 0, 0, 42)) c->o->cas(c->m, 0, 42, 0);
}
static bool range_all(uint64_t k, uint64_t v, void *ctx) {
    *(uint64_t *)ctx += k ^ v;
    return true;
}
static void pg_range(bctx *c, uint64_t i, uint64_t n) {
    for (uint64_t e = i + n; i < e; i++) c->o->range(c->m, range_all, &c->sink);
}
static void pg_adversarial_alloc(bctx *c, uint64_t i, uint64_t n) {
    uint64_t stores = 0, since = 0, v;
    for (uint64_t e = i + n; i < e; i++) {
        c->o->load(c->m, i, &v);
        if (++since > stores) {
            c->o->load_or_store(c->m, i, stores, &v);
            since = 0;
            stores++;
        }
    }
}
static bool range_delete_first(uint64_t k, uint64_t v, void *ctx) {
    bctx *c = (bctx *)ctx;
    (void)v;
    c->o->del(c->m, k);
    return false;
}
static void pg_adversarial_delete(bctx *c, uint64_t i, uint64_t n) {
    uint64_t v;
    for (uint64_t e = i + n; i < e; i++) {
        c->o->load(c->m, i, &v);
        if (i % 1024 == 0) {
            c->o->range(c->m, range_delete_first, c);
            c->o->store(c->m, i, i);
        }
    }
}

static void setup_ycsb(bctx *c) {
    for (uint64_t k = 0; k < Y_KEYS; k++) c->o->store(c->m, k, k);
}
static void setup_churn(bctx *c) {
    for (uint64_t k = 0; k < Y_KEYS; k++) c->o->store(c->m, 2 * k, k);
}
static void pg_ycsb(bctx *c, int mix, uint64_t i, uint64_t n) {
    const y_op *ops = g_stream[mix][c->tid];
    uint64_t v, s = 0;
    for (uint64_t e = i + n; i < e; i++) {
        const y_op *op = &ops[i & (Y_STREAM - 1)];
        switch (op->kind) {
        case Y_READ:
            if (c->o->load(c->m, op->key, &v)) s += v;
            break;
        case Y_UPDATE: c->o->store(c->m, op->key, i); break;
        case Y_INSERT: c->o->load_or_store(c->m, op->key, i, &v); break;
        default: c->o->del(c->m, op->key); break;
        }
    }
    c->sink += s;
}
static void pg_ycsb_b(bctx *c, uint64_t i, uint64_t n) { pg_ycsb(c, 0, i, n); }
static void pg_ycsb_a(bctx *c, uint64_t i, uint64_t n) { pg_ycsb(c, 1, i, n); }
static void pg_churn(bctx *c, uint64_t i, uint64_t n) { pg_ycsb(c, 2, i, n); }

typedef struct bench_def {
    const char *name;
    setup_fn setup;
    perg_fn perg;
    bool keep_map;          /* YCSB: one preloaded map for all runs */
    bool concurrent_range;  /* needs range safe against concurrent writes */
} bench_def;

static const bench_def g_benches[] = {
    {"LoadMostlyHits", setup_1023, pg_load_mostly_hits, false, false},
    {"LoadMostlyMisses", setup_1, pg_load_mostly_hits, false, false},
    {"LoadOrStoreBalanced", setup_128, pg_load_or_store_balanced, false, false},
    {"LoadOrStoreUnique", NULL, pg_load_or_store_unique, false, false},
    {"LoadOrStoreCollision", setup_zero, pg_load_or_store_collision, false, false},
    {"LoadAndDeleteBalanced", setup_128, pg_load_and_delete_balanced, false, false},
    {"DeleteCollision", setup_zero, pg_delete_collision, false, false},
    {"SwapCollision", setup_zero, pg_swap_collision, false, false},
    {"CompareAndSwapCollision", setup_zero, pg_cas_collision, false, false},
    {"Range", setup_1024_store, pg_range, false, false},
    {"AdversarialAlloc", NULL, pg_adversarial_alloc, false, false},
    {"AdversarialDelete", setup_1024_store, pg_adversarial_delete, false, true},
    {"YCSB-B-95/5-zipf", setup_ycsb, pg_ycsb_b, true, false},
    {"YCSB-A-50/50-zipf", setup_ycsb, pg_ycsb_a, true, false},
    {"Churn-50/25/25-uniform", setup_churn, pg_churn, true, false},
};
#define NBENCH (sizeof g_benches / sizeof g_benches[0])

/* ---- the runner -------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct worker {
    pthread_t th;
    bctx c;
    perg_fn perg;
    uint64_t i0, n;
    double end;
    _Atomic int *ready, *go;
} worker;

static void *worker_main(void *p) {
    worker *w = (worker *)p;
    if (w->c.o->thread_enter) w->c.o->thread_enter();
    atomic_fetch_add(w->ready, 1);
    while (!atomic_load_explicit(w->go, memory_order_acquire)) {
    }
    w->perg(&w->c, w->i0, w->n);
    w->end = now_s();
    if (w->c.o->thread_leave) w->c.o->thread_leave();
    return NULL;
}

static uint64_t g_sink;

/* One timed run of n operations over nthreads threads: seconds. */
static double run_once(const sb_ops *o, const bench_def *b, sb_map *m, int nthreads, uint64_t n) {
    worker w[Y_MAXT];
    _Atomic int ready = 0, go = 0;
    for (int t = 0; t < nthreads; t++) {
        w[t].c.o = o;
        w[t].c.m = m;
        w[t].c.tid = t;
        w[t].c.sink = 0;
        w[t].perg = b->perg;
        w[t].n = n / (uint64_t)nthreads;
        w[t].i0 = (uint64_t)t * n;
        w[t].ready = &ready;
        w[t].go = &go;
        if (pthread_create(&w[t].th, NULL, worker_main, &w[t]) != 0) abort();
    }
    while (atomic_load(&ready) < nthreads) {
    }
    double t0 = now_s(), end = t0;
    atomic_store_explicit(&go, 1, memory_order_release);
    for (int t = 0; t < nthreads; t++) {
        pthread_join(w[t].th, NULL);
        if (w[t].end > end) end = w[t].end;
        g_sink += w[t].c.sink;
    }
    return end - t0;
}

static sb_map *fresh(const sb_ops *o, const bench_def *b) {
    sb_map *m = o->create();
    bctx c = {o, m, 0, 0};
    if (b->setup) b->setup(&c);
    g_sink += c.sink;
    return m;
}

static double timed(const sb_ops *o, const bench_def *b, sb_map **keep, int nthreads, uint64_t n) {
    if (b->keep_map) {
        if (!*keep) *keep = fresh(o, b);
        return run_once(o, b, *keep, nthreads, n);
    }
    sb_map *m = fresh(o, b);
    double t = run_once(o, b, m, nthreads, n);
    o->destroy(m);
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_one(const sb_ops *o, const bench_def *b, int nthreads, int runs, double target) {
    if (b->concurrent_range && (o->flags & SB_RANGE_NOT_CONCURRENT) && nthreads > 1) {
        printf("bench=%s map=%s threads=%d ns_op=nan n=0 note=range-not-thread-safe\n", b->name,
               o->name, nthreads);
        fflush(stdout);
        return;
    }
    sb_map *keep = NULL;
    uint64_t n = 1000;
    for (;;) { /* calibrate: grow n until one run takes target/4 */
        double t = timed(o, b, &keep, nthreads, n);
        if (getenv("SB_DEBUG")) fprintf(stderr, "calib n=%llu t=%.6f\n", (unsigned long long)n, t);
        if (t >= target / 4 || n >= (1ull << 34)) {
            double want = (double)n * target / (t > 1e-6 ? t : 1e-6);
            n = (uint64_t)want;
            break;
        }
        n = t > 0 ? (uint64_t)((double)n * fmin(10.0, target / 2 / t)) + 1 : n * 10;
    }
    n = (n / (uint64_t)nthreads + 1) * (uint64_t)nthreads;
    double ns[16];
    for (int r = 0; r < runs; r++) ns[r] = timed(o, b, &keep, nthreads, n) * 1e9 / (double)n;
    if (keep) o->destroy(keep);
    qsort(ns, (size_t)runs, sizeof ns[0], cmp_double);
    printf("bench=%s map=%s threads=%d ns_op=%.2f n=%llu\n", b->name, o->name, nthreads,
           ns[runs / 2], (unsigned long long)n);
    fflush(stdout);
}

/* ---- memory: peak RSS of one map filled with n u64 -> u64 entries ---------------- */

/* VmRSS or VmHWM of this process, in kB (0 if unreadable). */
static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    long kb = 0;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n)) kb = atol(line + n + 1);
    fclose(f);
    return kb;
}

/* In a child process of its own (so that the numbers are this map's alone):
   create the map, store keys 1..n, and print the growth of the resident set
   and of its peak, per entry. */
static void memory_one(const sb_ops *o, uint64_t n) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return;
    if (pid == 0) {
        if (o->thread_enter) o->thread_enter();
        long rss0 = status_kb("VmRSS:");
        sb_map *m = o->create();
        for (uint64_t k = 1; k <= n; k++) o->store(m, sb_mix64(k), k);
        long rss = status_kb("VmRSS:"), hwm = status_kb("VmHWM:");
        printf("memory map=%s n=%llu live_bytes_per_entry=%.1f peak_bytes_per_entry=%.1f\n", o->name,
               (unsigned long long)n, (double)(rss - rss0) * 1024.0 / (double)n,
               (double)(hwm - rss0) * 1024.0 / (double)n);
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
}

static bool listed(const char *list, const char *name) {
    if (!list) return true;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return true;
    return false;
}

int main(int argc, char **argv) {
    const char *maps = NULL, *benches = NULL, *threads = "1,2";
    int runs = 5;
    double target = 0.15;
    uint64_t mem_n = 0; /* -M N: only the memory measurement, N entries */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-M")) mem_n = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-m")) maps = argv[i + 1];
        else if (!strcmp(argv[i], "-b")) benches = argv[i + 1];
        else if (!strcmp(argv[i], "-t")) threads = argv[i + 1];
        else if (!strcmp(argv[i], "-r")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) target = atof(argv[i + 1]);
    }
    if (mem_n) {
        for (size_t mi = 0; mi < NMAPS; mi++)
            if (listed(maps, g_maps[mi]->name)) memory_one(g_maps[mi], mem_n);
        return 0;
    }
    if (runs < 1) runs = 1;
    if (runs > 16) runs = 16;
    int tlist[8], nt = 0;
    for (const char *p = threads; *p && nt < 8;) {
        int t = atoi(p);
        if (t >= 1 && t <= Y_MAXT) tlist[nt++] = t;
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    int maxt = 1;
    for (int i = 0; i < nt; i++) maxt = tlist[i] > maxt ? tlist[i] : maxt;
    streams_init(maxt);
    for (size_t mi = 0; mi < NMAPS; mi++) {
        const sb_ops *o = g_maps[mi];
        if (!listed(maps, o->name)) continue;
        if (o->thread_enter) o->thread_enter(); /* the main thread runs the setups */
        for (size_t bi = 0; bi < NBENCH; bi++) {
            if (!listed(benches, g_benches[bi].name)) continue;
            for (int ti = 0; ti < nt; ti++) bench_one(o, &g_benches[bi], tlist[ti], runs, target);
        }
        if (o->thread_leave) o->thread_leave();
    }
    return g_sink == 42 ? 1 : 0;
}

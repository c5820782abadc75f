/*
 * lat_causes.c -- what the slow inserts of a growing gomap are doing.
 *
 * The latency pass of the benchmark (driver.h) gives gomap's p99.9 insert
 * while a map grows from empty; this program says why the slowest inserts
 * are slow.  It inserts the benchmark's u64 keys one at a time, timing each
 * with the cycle counter exactly as the benchmark does, and, outside the
 * timed interval, records for each insert:
 *
 *   fault    the process took a page fault during the insert (getrusage
 *            minor + major faults before and after: first touches of a
 *            fresh bucket array)
 *   grow     the map was growing before or after it (the insert evacuated
 *            old buckets, or started a grow and allocated the new array)
 *   release  dead-array bytes were waiting to go back to the OS before it
 *            (the insert called madvise on up to GOMAP_RELEASE_PER_WRITE)
 *
 * It prints the percentiles of all inserts, then for the slowest 1% and
 * 0.1% how many fall in each class and the percentiles of each class, so
 * the class that sets p99.9 can be read off.  The same pass is then run
 * again without the bookkeeping between inserts (the plain figures, to
 * compare with bench/REPORT.md).
 *
 * Two more measurements say how much of what is left is the kernel's:
 *
 *   fresh-page faults  one write to each 4 KB page of a fresh mapping as
 *            large as the map's final array, each timed alone: the mean and
 *            the outliers a first touch costs on this machine
 *   pre-faulted memory the same inserts (no bookkeeping) into maps that get
 *            their memory from a bump allocator over pages faulted in before
 *            the timing (gomap_new_with), so no insert takes a page fault and
 *            no dead array goes back to the OS: the map's own work alone
 *   fill rate  ns per insert of the whole fill through gomap_put_many (64
 *            keys per call, the benchmark's "insert (batch)" column), runs
 *            alternating between the default allocator and the arena
 *
 *   build-bench/bench/lat_causes [n] [runs] [vsize]
 *
 * n default 1000000, runs 3; vsize, the value's bytes, default 8 (u64 ->
 * u64; 56 is the benchmark's big kind, whose 528-byte buckets are not
 * faulted in ahead).
 */
#include "common.h"
#include "gomap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

enum { C_FAULT = 1, C_GROW = 2, C_RELEASE = 4, C_NCLASS = 8 };

static const char *const class_names[C_NCLASS] = {
    "none", "fault", "grow", "grow+fault", "release", "release+fault",
    "release+grow", "release+grow+fault",
};

static long faults_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt + ru.ru_majflt;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of the sorted s[0..n), in ns. */
static double quant(const uint32_t *s, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return bench_ticks_to_ns(s[i]);
}

static size_t vsize = 8;

/* The pre-faulted arena: a bump allocator whose free does nothing; reset
   between maps. */
static struct {
    char *base;
    size_t used, cap;
} arena;

static void *arena_alloc(void *ctx, size_t size)
{
    (void)ctx;
    size = (size + 63) & ~(size_t)63;
    if (size > arena.cap - arena.used)
        return NULL;
    void *p = arena.base + arena.used;
    arena.used += size;
    return p;
}

static void arena_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)p;
    (void)size;
}

/* Map and fault in cap bytes; -1 if the system will not. */
static int arena_init(size_t cap)
{
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(p, 1, cap); /* every page resident (and not the zero page) */
    arena.base = p;
    arena.cap = cap;
    return 0;
}

/* An empty u64 -> vsize-byte map: in the arena (emptied first), or with
   the default allocator. */
static gomap *new_map(bool in_arena)
{
    gomap_type type = gomap_type_builtin(GOMAP_KEY_U64, 8, vsize, 8);
    gomap_allocator a = {arena_alloc, arena_free, NULL};
    arena.used = 0;
    return in_arena ? gomap_new_with(&type, 0, &a) : gomap_new(&type, 0);
}

/* One map grown to n by single inserts; ticks[i] and cls[i] per insert
   (cls NULL: no bookkeeping between inserts).  -1 on failure. */
static int one_pass(const bench_keys *ks, size_t n, uint32_t *ticks, uint8_t *cls, bool in_arena)
{
    gomap *m = new_map(in_arena);
    if (!m)
        return -1;
    gomap_stats st;
    long f0 = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = ks->u64[i], v = i;
        int c = 0;
        if (cls) {
            gomap_stats_get(m, &st);
            c |= st.growing ? C_GROW : 0;
            c |= st.pending_release ? C_RELEASE : 0;
            f0 = faults_now();
        }
        uint64_t t0 = bench_tick();
        uint64_t *slot = (uint64_t *)gomap_assign(m, &k);
        if (slot)
            *slot = v; /* the value's first word, as the benchmark's big kind */
        uint64_t t1 = bench_tick();
        ticks[i] = bench_dt32(t0, t1);
        if (!slot) {
            gomap_free(m);
            return -1;
        }
        if (cls) {
            c |= faults_now() != f0 ? C_FAULT : 0;
            gomap_stats_get(m, &st);
            c |= st.growing ? C_GROW : 0;
            cls[i] = (uint8_t)c;
        }
    }
    gomap_free(m);
    return 0;
}

/* Each 4 KB page of a fresh mapping of size bytes written once, timed
   alone, runs times over. */
static void fault_probe(size_t size, int runs)
{
    size_t pages = size / 4096, total = 0, slow = 0;
    double sum = 0, max = 0;
    for (int r = 0; r < runs; r++) {
        char *p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p == MAP_FAILED)
            return;
        for (size_t i = 0; i < pages; i++) {
            uint64_t t0 = bench_tick();
            p[i * 4096] = 1;
            double ns = bench_ticks_to_ns(bench_tick() - t0);
            sum += ns;
            slow += ns > 50e3;
            max = ns > max ? ns : max;
        }
        total += pages;
        munmap(p, pages * 4096);
    }
    printf("fresh-page faults: %zu first writes, mean %.2f us, %zu over 50 us", total,
           sum / (double)total / 1e3, slow);
    if (slow)
        printf(" (1 in %.0f)", (double)total / (double)slow);
    printf(", max %.0f us\n", max / 1e3);
}

/* The plain pass (no bookkeeping), runs times; prints its percentiles and
   mean.  in_arena: maps in the pre-faulted arena. */
static int plain_passes(const bench_keys *ks, size_t n, int runs, uint32_t *ticks, bool in_arena,
                        const char *what)
{
    size_t total = n * (size_t)runs;
    double sum = 0;
    for (int r = 0; r < runs; r++)
        if (one_pass(ks, n, ticks + (size_t)r * n, NULL, in_arena) != 0)
            return -1;
    for (size_t i = 0; i < total; i++)
        sum += bench_ticks_to_ns(ticks[i]);
    qsort(ticks, total, sizeof *ticks, cmp_u32);
    printf("%s: mean %.1f  p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f ns\n", what,
           sum / (double)total, quant(ticks, total, .5), quant(ticks, total, .99),
           quant(ticks, total, .999), bench_ticks_to_ns(ticks[total - 1]));
    return 0;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ns per insert of one fill of n keys through gomap_put_many; < 0 on
   failure.  vals holds n values of vsize bytes. */
static double fill_once(const bench_keys *ks, size_t n, const char *vals, bool in_arena)
{
    gomap *m = new_map(in_arena);
    if (!m)
        return -1;
    uint64_t t0 = bench_tick();
    for (size_t i = 0; i < n; i += BENCH_KEY_BATCH) {
        size_t c = n - i < BENCH_KEY_BATCH ? n - i : BENCH_KEY_BATCH, done;
        if (gomap_put_many(m, ks->u64 + i, vals + i * vsize, c, &done) != GOMAP_OK) {
            gomap_free(m);
            return -1;
        }
    }
    double ns = bench_ticks_to_ns(bench_tick() - t0) / (double)n;
    gomap_free(m);
    return ns;
}

/* Fill rates, default allocator and arena alternating; medians printed. */
static int fill_rates(const bench_keys *ks, size_t n, int runs)
{
    char *vals = calloc(n, vsize);
    double *t[2] = {malloc((size_t)runs * sizeof(double)), malloc((size_t)runs * sizeof(double))};
    if (!vals || !t[0] || !t[1])
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = i + 1;
        memcpy(vals + i * vsize, &v, 8);
    }
    for (int r = 0; r < runs; r++)
        for (int w = 0; w < 2; w++)
            if ((t[w][r] = fill_once(ks, n, vals, w == 1)) < 0)
                return -1;
    printf("fill rate, gomap_put_many from empty (%d keys per call), ns per insert, median "
           "(min-max) of %d:", BENCH_KEY_BATCH, runs);
    for (int w = 0; w < 2; w++) {
        qsort(t[w], (size_t)runs, sizeof(double), cmp_dbl);
        printf("  %s %.1f (%.1f-%.1f)", w ? "pre-faulted" : "default", t[w][runs / 2], t[w][0],
               t[w][runs - 1]);
    }
    printf("\n");
    free(vals);
    free(t[0]);
    free(t[1]);
    return 0;
}

static void print_dist(const char *name, uint32_t *t, size_t n, size_t total)
{
    qsort(t, n, sizeof *t, cmp_u32);
    printf("  %-20s %9zu %6.2f%%  p50 %7.0f  p99 %7.0f  p99.9 %7.0f  max %8.0f ns\n", name, n,
           100.0 * (double)n / (double)total, quant(t, n, .5), quant(t, n, .99),
           quant(t, n, .999), n ? bench_ticks_to_ns(t[n - 1]) : 0.0);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtod(argv[1], NULL) : 1000000;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    vsize = argc > 3 ? (size_t)atoi(argv[3]) : 8;
    if (n < 1000 || runs < 1 || vsize < 8 || vsize % 8 != 0) {
        fprintf(stderr, "usage: lat_causes [n >= 1000] [runs >= 1] [vsize: 8, 16, 24, ...]\n");
        return 2;
    }
    bench_clock_init();
    bench_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = BENCH_U64;
    cfg.n = n;
    bench_keys ks;
    size_t total = n * (size_t)runs;
    uint32_t *ticks = malloc(total * sizeof *ticks), *sorted = malloc(total * sizeof *ticks);
    uint32_t *sub = malloc(total * sizeof *ticks);
    uint8_t *cls = malloc(total);
    if (!ticks || !sorted || !sub || !cls || bench_keys_make(&ks, &cfg, 0) != 0) {
        fprintf(stderr, "lat_causes: out of memory\n");
        return 1;
    }
    /* Fault the sample arrays in now, not between the inserts. */
    memset(ticks, 0, total * sizeof *ticks);
    memset(cls, 0, total);
    for (int r = 0; r < runs; r++)
        if (one_pass(&ks, n, ticks + (size_t)r * n, cls + (size_t)r * n, false) != 0) {
            fprintf(stderr, "lat_causes: insert failed\n");
            return 1;
        }

    printf("gomap u64->%zu-byte value, %zu inserts into an empty map, %d runs, with bookkeeping\n", vsize, n,
           runs);
    memcpy(sorted, ticks, total * sizeof *ticks);
    qsort(sorted, total, sizeof *sorted, cmp_u32);
    double p99 = quant(sorted, total, .99), p999 = quant(sorted, total, .999);
    printf("  all: p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f ns\n", quant(sorted, total, .5), p99,
           p999, bench_ticks_to_ns(sorted[total - 1]));

    /* Which classes the slowest 1% and 0.1% fall in. */
    const double cut[2] = {p99, p999};
    const char *cut_name[2] = {"slowest 1%", "slowest 0.1%"};
    for (int q = 0; q < 2; q++) {
        size_t count[C_NCLASS] = {0}, in = 0;
        for (size_t i = 0; i < total; i++)
            if (bench_ticks_to_ns(ticks[i]) >= cut[q]) {
                count[cls[i]]++;
                in++;
            }
        printf("  %s (>= %.0f ns, %zu inserts):", cut_name[q], cut[q], in);
        for (int c = 0; c < C_NCLASS; c++)
            if (count[c])
                printf("  %s %.1f%%", class_names[c], 100.0 * (double)count[c] / (double)in);
        printf("\n");
    }
    printf("  per class:\n");
    for (int c = 0; c < C_NCLASS; c++) {
        size_t k = 0;
        for (size_t i = 0; i < total; i++)
            if (cls[i] == c)
                sub[k++] = ticks[i];
        if (k)
            print_dist(class_names[c], sub, k, total);
    }

    if (plain_passes(&ks, n, runs, ticks, false, "without bookkeeping") != 0)
        return 1;
    /* The final array: the smallest 2^B buckets holding n at load 6.5. */
    size_t buckets = 1, bsize = 8 + 8 * (8 + vsize) + 8;
    while ((double)n > 6.5 * (double)buckets)
        buckets *= 2;
    fault_probe(buckets * bsize, runs);
    /* Every array of the map's growth, with room: 4x the final one. */
    if (arena_init(4 * buckets * bsize + ((size_t)64 << 20)) != 0) {
        printf("pre-faulted memory: no room for the arena\n");
    } else {
        if (plain_passes(&ks, n, runs, ticks, true, "pre-faulted memory") != 0 ||
            fill_rates(&ks, n, 2 * runs + 1) != 0)
            return 1;
        munmap(arena.base, arena.cap);
    }
    bench_keys_free(&ks);
    free(ticks);
    free(sorted);
    free(sub);
    free(cls);
    return 0;
}

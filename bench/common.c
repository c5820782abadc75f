/*
 * common.c -- keys, clock, percentiles, memory readings, the pointer chase and
 * the JSON output shared by every C and C++ row of the benchmark.
 * See common.h for the workload's definition.
 */
#include "common.h"

#include <errno.h>
#include <sys/resource.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const bench_op_names[OP_COUNT] = {
    "insert", "insert_reserved", "lookup_hit", "lookup_miss",
    "erase",  "iterate",         "churn",      "lookup_batch", "iterate_batch",
    "insert_batch", "insert_reserved_batch", "erase_batch", "lookup_miss_batch", "churn_batch",
};
const char *const bench_kind_names[3] = {"u64", "str", "big"};

volatile uint64_t bench_sink;

/* ---- keys ---------------------------------------------------------------- */

static void hex16(char *out, uint64_t x)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[x & 15u];
        x >>= 4;
    }
    out[16] = '\0';
}

uint64_t bench_reps(const bench_cfg *cfg, uint64_t min_ops)
{
    uint64_t n = cfg->n ? cfg->n : 1;
    uint64_t r = (min_ops + n - 1) / n;
    return r ? r : 1;
}

int bench_keys_make(bench_keys *k, const bench_cfg *cfg, size_t steps)
{
    size_t n = cfg->n;
    memset(k, 0, sizeof *k);
    k->n = n;
    k->steps = steps;
    k->total = 2 * n + steps;
    k->u64 = malloc(k->total * sizeof *k->u64);
    k->perm = malloc((n ? n : 1) * sizeof *k->perm);
    k->pick = malloc((steps ? steps : 1) * sizeof *k->pick);
    if (!k->u64 || !k->perm || !k->pick)
        goto fail;
    for (size_t i = 0; i < k->total; i++)
        k->u64[i] = bench_stream(BENCH_SEED_KEYS, i);
    if (cfg->kind == BENCH_STR) {
        k->str = malloc(k->total * BENCH_STR_STRIDE);
        k->probe = malloc((n ? n : 1) * BENCH_STR_STRIDE);
        if (!k->str || !k->probe)
            goto fail;
        for (size_t i = 0; i < k->total; i++)
            hex16(k->str + i * BENCH_STR_STRIDE, k->u64[i]);
        memcpy(k->probe, k->str, n * BENCH_STR_STRIDE);
    }
    /* Fisher-Yates, high index first; the Go program does the same. */
    for (size_t i = 0; i < n; i++)
        k->perm[i] = (uint32_t)i;
    uint64_t c = 0;
    for (size_t i = n ? n - 1 : 0; i > 0; i--) {
        size_t j = (size_t)(bench_stream(BENCH_SEED_PERM, c++) % (i + 1));
        uint32_t t = k->perm[i];
        k->perm[i] = k->perm[j];
        k->perm[j] = t;
    }
    for (size_t j = 0; j < steps; j++)
        k->pick[j] = (uint32_t)(bench_stream(BENCH_SEED_CHURN, j) % (n + 1));
    return 0;
fail:
    bench_keys_free(k);
    return -1;
}

void bench_keys_free(bench_keys *k)
{
    free(k->u64);
    free(k->str);
    free(k->probe);
    free(k->perm);
    free(k->pick);
    memset(k, 0, sizeof *k);
}

/* ---- clock --------------------------------------------------------------- */

static double ticks_per_ns = 1.0;

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_clock_init(void)
{
#if BENCH_HAVE_TSC
    uint64_t w0 = bench_now_ns(), t0 = bench_tick(), w1, t1;
    do {
        w1 = bench_now_ns();
    } while (w1 - w0 < 20000000u);
    t1 = bench_tick();
    ticks_per_ns = (double)(t1 - t0) / (double)(w1 - w0);
    if (!(ticks_per_ns > 0.01))
        ticks_per_ns = 1.0;
#endif
}

double bench_ticks_to_ns(uint64_t ticks)
{
    return (double)ticks / ticks_per_ns;
}

double bench_ghz(void)
{
    return ticks_per_ns;
}

const char *bench_timer_name(void)
{
    return BENCH_HAVE_TSC ? "lfence+rdtsc" : "clock_gettime(CLOCK_MONOTONIC)";
}

/* ---- latency ------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double pct(const uint32_t *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    if (i >= n)
        i = n - 1;
    return bench_ticks_to_ns(sorted[i]);
}

long long bench_preemptions(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (long long)ru.ru_nivcsw;
}

void bench_lat_summarize(uint32_t *ticks, size_t n, bench_lat *out)
{
    memset(out, 0, sizeof *out);
    out->preempted = -1;
    if (n == 0)
        return;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)ticks[i];
    qsort(ticks, n, sizeof *ticks, cmp_u32);
    out->samples = n;
    out->p50 = pct(ticks, n, 0.50);
    out->p99 = pct(ticks, n, 0.99);
    out->p999 = pct(ticks, n, 0.999);
    out->max = bench_ticks_to_ns(ticks[n - 1]);
    out->mean = sum / (double)n / ticks_per_ns;
}

int bench_series_make(bench_result *res, const uint32_t *ticks, size_t count,
                      size_t windows)
{
    if (count == 0 || windows == 0)
        return 0;
    if (windows > count)
        windows = count;
    size_t win = (count + windows - 1) / windows;
    size_t nw = (count + win - 1) / win;
    res->series = malloc(nw * sizeof *res->series);
    res->series_mean = malloc(nw * sizeof *res->series_mean);
    if (!res->series || !res->series_mean)
        return -1;
    for (size_t w = 0; w < nw; w++) {
        uint32_t mx = 0;
        double sum = 0;
        size_t lo = w * win, hi = lo + win < count ? lo + win : count;
        for (size_t i = lo; i < hi; i++) {
            if (ticks[i] > mx)
                mx = ticks[i];
            sum += (double)ticks[i];
        }
        res->series[w] = bench_ticks_to_ns(mx);
        res->series_mean[w] = sum / (double)(hi - lo) / ticks_per_ns;
    }
    res->nseries = nw;
    res->window = win;
    return 0;
}

/* ---- memory -------------------------------------------------------------- */

long long bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, rss = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%lld %lld", &size, &rss) != 2)
        rss = -1;
    fclose(f);
    if (rss < 0)
        return -1;
    return rss * (long long)sysconf(_SC_PAGESIZE);
}

long long bench_hwm_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtoll(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

int bench_hwm_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    if (fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* ---- the pointer chase --------------------------------------------------- */

typedef struct chase_node {
    uint64_t next;
    uint64_t pad[7];
} chase_node;

double bench_chase(size_t bytes, unsigned chains, uint64_t accesses, unsigned lines)
{
    enum { MAXC = 64 };
    if (chains < 1)
        chains = 1;
    if (chains > MAXC)
        chains = MAXC;
    if (lines < 1)
        lines = 1;
    /* count nodes of `lines` 64-byte lines each; node k starts at line k*lines */
    size_t count = bytes / (sizeof(chase_node) * lines);
    if (count < (size_t)chains * 8)
        count = (size_t)chains * 8;
    chase_node *nodes = malloc(count * lines * sizeof *nodes);
    size_t *order = malloc(count * sizeof *order);
    if (!nodes || !order) {
        free(nodes);
        free(order);
        return NAN;
    }
    /* One random cycle through every node (a shuffled visiting order). */
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = (size_t)(bench_stream(0x636861736521ull, i) % (i + 1));
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < count; i++) {
        for (unsigned l = 0; l < lines; l++)
            nodes[order[i] * lines + l].pad[0] = i + l;
        nodes[order[i] * lines].next = order[(i + 1) % count] * lines;
    }
    uint64_t pos[MAXC];
    for (unsigned c = 0; c < chains; c++)
        pos[c] = order[(size_t)c * count / chains] * lines;
    free(order);
    uint64_t steps = accesses / chains;
    if (steps < 1)
        steps = 1;
    /* A step loads the node's first line (the link: each step waits for the
       previous one of its chain) and reads one word of each other line of
       the node, off the chain's critical path. */
    uint64_t side = 0;
#define CHASE_STEP(c)                                                           \
    do {                                                                        \
        const chase_node *nd = &nodes[pos[(c)]];                                \
        for (unsigned l = 1; l < lines; l++)                                    \
            side += nd[l].pad[0];                                               \
        pos[(c)] = nd->next;                                                    \
    } while (0)
    /* warm the working set once */
    for (uint64_t s = 0; s < count / chains + 1; s++)
        for (unsigned c = 0; c < chains; c++)
            CHASE_STEP(c);
    uint64_t t0 = bench_now_ns();
    for (uint64_t s = 0; s < steps; s++)
        for (unsigned c = 0; c < chains; c++)
            CHASE_STEP(c);
    uint64_t t1 = bench_now_ns();
#undef CHASE_STEP
    uint64_t sum = side;
    for (unsigned c = 0; c < chains; c++)
        sum += pos[c];
    bench_sink += sum;
    free(nodes);
    return (double)(t1 - t0) / (double)(steps * chains);
}

/* ---- results ------------------------------------------------------------- */

void bench_result_init(bench_result *res)
{
    memset(res, 0, sizeof *res);
    res->live_rss = res->peak_rss = -1;
    res->live_acct = res->peak_acct = -1;
    res->lat.preempted = res->floor.preempted = -1;
}

void bench_result_free(bench_result *res)
{
    free(res->series);
    free(res->series_mean);
    res->series = res->series_mean = NULL;
    res->nseries = 0;
}

static void put_num(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.3f", x);
    else
        fputs("null", f);
}

static void put_lat(FILE *f, const char *name, const bench_lat *l)
{
    fprintf(f, "\"%s\":{\"samples\":%llu,\"p50\":", name, (unsigned long long)l->samples);
    put_num(f, l->p50);
    fputs(",\"p99\":", f);
    put_num(f, l->p99);
    fputs(",\"p999\":", f);
    put_num(f, l->p999);
    fputs(",\"max\":", f);
    put_num(f, l->max);
    fputs(",\"mean\":", f);
    put_num(f, l->mean);
    fprintf(f, ",\"preempted\":%lld,\"tries\":%d}", l->preempted, l->tries);
}

static void put_series(FILE *f, const char *name, const double *s, size_t n)
{
    fprintf(f, ",\"%s\":[", name);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%.0f", i ? "," : "", s[i]);
    fputs("]", f);
}

void bench_result_json(FILE *f, const char *table, const bench_cfg *cfg,
                       const bench_result *res)
{
    fprintf(f, "{\"table\":\"%s\",\"kind\":\"%s\",\"n\":%zu,\"run\":%d,", table,
            bench_kind_names[cfg->kind], cfg->n, cfg->run);
    fputs("\"ns\":{", f);
    int first = 1;
    for (int op = 0; op < OP_COUNT; op++) {
        if (!res->have[op])
            continue;
        fprintf(f, "%s\"%s\":", first ? "" : ",", bench_op_names[op]);
        put_num(f, res->ns[op]);
        first = 0;
    }
    fputs("},\"ops\":{", f);
    first = 1;
    for (int op = 0; op < OP_COUNT; op++) {
        if (!res->have[op])
            continue;
        fprintf(f, "%s\"%s\":%llu", first ? "" : ",", bench_op_names[op],
                (unsigned long long)res->ops[op]);
        first = 0;
    }
    fputs("},\"check\":{", f);
    first = 1;
    for (int op = 0; op < OP_COUNT; op++) {
        if (!res->have[op])
            continue;
        fprintf(f, "%s\"%s\":%llu", first ? "" : ",", bench_op_names[op],
                (unsigned long long)res->check[op]);
        first = 0;
    }
    fputs("},", f);
    put_lat(f, "lat", &res->lat);
    fputs(",", f);
    put_lat(f, "floor", &res->floor);
    fprintf(f, ",\"mem\":{\"live_rss\":%lld,\"peak_rss\":%lld,\"live_acct\":%lld,"
               "\"peak_acct\":%lld}",
            res->live_rss, res->peak_rss, res->live_acct, res->peak_acct);
    fputs(",\"extra\":{", f);
    first = 1;
    for (int i = 0; i < BENCH_EXTRA; i++) {
        if (!res->extra_names[i])
            continue;
        fprintf(f, "%s\"%s\":", first ? "" : ",", res->extra_names[i]);
        put_num(f, res->extra[i]);
        first = 0;
    }
    fprintf(f, "},\"timer\":\"%s\",\"ticks_per_ns\":%.4f", bench_timer_name(), bench_ghz());
    if (res->note)
        fprintf(f, ",\"note\":\"%s\"", res->note);
    if (res->nseries) {
        fprintf(f, ",\"window\":%zu", res->window);
        put_series(f, "series_max", res->series, res->nseries);
        put_series(f, "series_mean", res->series_mean, res->nseries);
    }
    fputs("}\n", f);
    fflush(f);
}

/* ---- command line -------------------------------------------------------- */

void bench_cfg_default(bench_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = BENCH_U64;
    cfg->n = 100000;
    cfg->ops = (1u << OP_COUNT) - 1;
    cfg->run = 1;
    cfg->series = 0;
    cfg->mem = 1;
    cfg->latency = 1;
    cfg->min_ops = 1000000;
    cfg->lat_min_ops = 200000;
    cfg->windows = 1000;
}

int bench_parse_kind(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, bench_kind_names[i]) == 0)
            return i;
    return -1;
}

int bench_parse_ops(const char *s, unsigned *ops)
{
    unsigned mask = 0;
    if (strcmp(s, "all") == 0) {
        *ops = (1u << OP_COUNT) - 1;
        return 0;
    }
    while (*s) {
        size_t len = strcspn(s, ",");
        int found = 0;
        for (int op = 0; op < OP_COUNT; op++) {
            if (strlen(bench_op_names[op]) == len &&
                strncmp(s, bench_op_names[op], len) == 0) {
                mask |= 1u << op;
                found = 1;
            }
        }
        if (!found)
            return -1;
        s += len;
        if (*s == ',')
            s++;
    }
    *ops = mask;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end); /* accepts 1e6 */
    if (errno || end == s || *end || d < 0 || d > 1e15)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--kind u64|str|big] [--size N] [--ops LIST|all] [--run R]\n"
            "          [--series] [--no-mem] [--no-latency] [--min-ops N]\n"
            "          [--lat-min-ops N] [--windows W]\n"
            "Runs one table on one workload and prints one JSON line.\n"
            "ops: insert,insert_reserved,lookup_hit,lookup_miss,erase,iterate,churn,"
            "lookup_batch,iterate_batch\n",
            prog);
}

int bench_parse_args(int argc, char **argv, bench_cfg *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x;
        if (strcmp(a, "--series") == 0) {
            cfg->series = 1;
        } else if (strcmp(a, "--no-mem") == 0) {
            cfg->mem = 0;
        } else if (strcmp(a, "--no-latency") == 0) {
            cfg->latency = 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout, argv[0]);
            return 1;
        } else if (!v) {
            fprintf(stderr, "%s: %s needs a value or is unknown\n", argv[0], a);
            usage(stderr, argv[0]);
            return -1;
        } else if (strcmp(a, "--kind") == 0) {
            int k = bench_parse_kind(v);
            if (k < 0) {
                fprintf(stderr, "%s: unknown kind '%s'\n", argv[0], v);
                return -1;
            }
            cfg->kind = (enum bench_kind)k;
            i++;
        } else if (strcmp(a, "--ops") == 0) {
            if (bench_parse_ops(v, &cfg->ops) != 0) {
                fprintf(stderr, "%s: bad --ops '%s'\n", argv[0], v);
                return -1;
            }
            i++;
        } else if (parse_u64(v, &x) != 0) {
            fprintf(stderr, "%s: bad number '%s' for %s\n", argv[0], v, a);
            return -1;
        } else if (strcmp(a, "--size") == 0 || strcmp(a, "-n") == 0) {
            if (x < 1 || x > 0x7fffffffu) {
                fprintf(stderr, "%s: --size must be in [1, 2^31)\n", argv[0]);
                return -1;
            }
            cfg->n = (size_t)x;
            i++;
        } else if (strcmp(a, "--run") == 0) {
            cfg->run = (int)x;
            i++;
        } else if (strcmp(a, "--min-ops") == 0) {
            cfg->min_ops = x;
            i++;
        } else if (strcmp(a, "--lat-min-ops") == 0) {
            cfg->lat_min_ops = x;
            i++;
        } else if (strcmp(a, "--windows") == 0) {
            cfg->windows = (size_t)x;
            i++;
        } else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], a);
            usage(stderr, argv[0]);
            return -1;
        }
    }
    return 0;
}

int bench_main(int argc, char **argv, const char *table, bench_run_fn run)
{
    bench_cfg cfg;
    bench_result res;
    bench_cfg_default(&cfg);
    int rc = bench_parse_args(argc, argv, &cfg);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    bench_clock_init();
    bench_result_init(&res);
    rc = run(&cfg, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: run failed (%d)\n", table, rc);
        bench_result_free(&res);
        return 1;
    }
    bench_result_json(stdout, table, &cfg, &res);
    bench_result_free(&res);
    return 0;
}

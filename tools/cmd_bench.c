/*
 * cmd_bench.c -- `gomap bench`: time gomap alone on a default workload and
 * print a table; `--with-peers` hands over to the full comparison
 * (bench/run.py: gomap, Go's map, Abseil, Boost, std, GLib, uthash).
 *
 * The workload is the benchmark's own (bench/common.h, bench/driver.h): the
 * same keys, operations and figures as the gomap row of bench/REPORT.md.
 * Each run is a separate child process (fork), so the memory figures (RSS)
 * of one run are not disturbed by the last.
 */
#include "commands.h"
#include "gomap.h"
#include "tables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LIST 8
#define MAX_RUNS 25

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
    uint64_t min_ops;
} bench_opts;

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: gomap bench [--size N[,N...]] [--runs R] [--kind u64|str|big[,...]]\n"
            "                   [--ops LIST] [--min-ops N] [--json] [--with-peers]\n"
            "\n"
            "Times gomap on the benchmark's workload and prints a table: ns per\n"
            "operation (median of the runs, min-max), the latency of single inserts\n"
            "(p50, p99, p99.9, worst) next to the timer's floor, and bytes per entry.\n"
            "Default: u64->u64 at 1e5 and 1e6 entries, all operations, 3 runs.\n"
            "\n"
            "  --size N[,N]   entries (1e3 .. 1e7 accepted as numbers like 1e6)\n"
            "  --runs R       runs per workload (each in its own process)\n"
            "  --kind K[,K]   u64 (u64->u64), str (16-byte string->u64), big (u64->56 B)\n"
            "  --ops LIST     insert,insert_reserved,lookup_hit,lookup_miss,erase,\n"
            "                 iterate,churn, and the batch calls: insert_batch,\n"
            "                 insert_reserved_batch,lookup_batch,lookup_miss_batch,\n"
            "                 erase_batch,iterate_batch,churn_batch (default: all)\n"
            "  --min-ops N    operations per timed measurement, at least (default 1e6)\n"
            "  --json         print one JSON line per run instead of the table\n"
            "  --with-peers   run the full comparison (bench/run.py) with every\n"
            "                 installed peer; writes REPORT.md and report.html in the\n"
            "                 build directory (bench/install-peers.sh installs peers)\n");
}

static int parse_size_list(const char *s, bench_opts *o)
{
    o->nsizes = 0;
    while (*s) {
        char *end;
        double d = strtod(s, &end);
        if (end == s || d < 1 || d > 2e9 || o->nsizes == MAX_LIST)
            return -1;
        o->sizes[o->nsizes++] = (size_t)d;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return o->nsizes ? 0 : -1;
}

static int parse_kind_list(const char *s, bench_opts *o)
{
    char buf[64];
    o->nkinds = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        if (len == 0 || len >= sizeof buf || o->nkinds == MAX_LIST)
            return -1;
        memcpy(buf, s, len);
        buf[len] = '\0';
        int k = bench_parse_kind(buf);
        if (k < 0)
            return -1;
        o->kinds[o->nkinds++] = k;
        s += len;
        if (*s == ',')
            s++;
    }
    return o->nkinds ? 0 : -1;
}

/* ---- --with-peers: hand over to bench/run.py ----------------------------- */

static int run_peers(const bench_opts *o)
{
#if defined(GOMAP_SOURCE_DIR) && defined(GOMAP_BINARY_DIR)
    char script[4096], sizes[256] = "", kinds[64] = "", runs[16];
    snprintf(script, sizeof script, "%s/bench/run.py", GOMAP_SOURCE_DIR);
    for (int i = 0; i < o->nsizes; i++) {
        size_t len = strlen(sizes);
        snprintf(sizes + len, sizeof sizes - len, "%s%zu", i ? "," : "", o->sizes[i]);
    }
    for (int i = 0; i < o->nkinds; i++) {
        size_t len = strlen(kinds);
        snprintf(kinds + len, sizeof kinds - len, "%s%s", i ? "," : "",
                 bench_kind_names[o->kinds[i]]);
    }
    snprintf(runs, sizeof runs, "%d", o->runs);
    char *argv[16];
    int argc = 0;
    char py[] = "python3", bd[] = "--build-dir", bdv[] = GOMAP_BINARY_DIR;
    char sz[] = "--sizes", kd[] = "--kinds", rn[] = "--runs";
    argv[argc++] = py;
    argv[argc++] = script;
    argv[argc++] = bd;
    argv[argc++] = bdv;
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
    fprintf(stderr, "gomap bench --with-peers: this build does not know the source "
                    "directory; run bench/run.py directly\n");
    return 1;
#endif
}

/* ---- one run in a child process -------------------------------------------- */

static int run_one(const bench_cfg *cfg, bench_result *res)
{
    int fd[2];
    bench_result_init(res);
    if (pipe(fd) != 0)
        return bench_run_gomap(cfg, res);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return bench_run_gomap(cfg, res);
    }
    if (pid == 0) {
        close(fd[0]);
        int rc = bench_run_gomap(cfg, res);
        bench_result_free(res); /* no series is asked for; pointers are not sent */
        if (rc == 0) {
            const char *p = (const char *)res;
            size_t left = sizeof *res;
            while (left > 0) {
                ssize_t w = write(fd[1], p, left);
                if (w <= 0)
                    _exit(3);
                p += w;
                left -= (size_t)w;
            }
        }
        close(fd[1]);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fd[1]);
    char *p = (char *)res;
    size_t got = 0;
    while (got < sizeof *res) {
        ssize_t r = read(fd[0], p + got, sizeof *res - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof *res || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bench_result_init(res);
        return -1;
    }
    res->series = res->series_mean = NULL;
    res->nseries = 0;
    res->note = NULL;
    for (int i = 0; i < 4; i++)
        res->extra_names[i] = NULL;
    return 0;
}

/* ---- the table ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median, min, max of n values */
static void mmm(double *v, int n, double out[3])
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out[0] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    out[1] = v[0];
    out[2] = v[n - 1];
}

static void fmt_cell(char *buf, size_t len, const double m[3], int decimals)
{
    snprintf(buf, len, "%.*f (%.*f-%.*f)", decimals, m[0], decimals, m[1], decimals, m[2]);
}

typedef double (*field_fn)(const bench_result *r, size_t n);

static double f_lat_p50(const bench_result *r, size_t n) { (void)n; return r->lat.p50; }
static double f_lat_p99(const bench_result *r, size_t n) { (void)n; return r->lat.p99; }
static double f_lat_p999(const bench_result *r, size_t n) { (void)n; return r->lat.p999; }
static double f_lat_max(const bench_result *r, size_t n) { (void)n; return r->lat.max; }
static double f_lat_pre(const bench_result *r, size_t n)
{
    (void)n;
    return (double)r->lat.preempted;
}
static double f_floor_p50(const bench_result *r, size_t n) { (void)n; return r->floor.p50; }
static double f_floor_max(const bench_result *r, size_t n) { (void)n; return r->floor.max; }
static double f_live_acct(const bench_result *r, size_t n)
{
    return r->live_acct < 0 ? -1 : (double)r->live_acct / (double)n;
}
static double f_peak_acct(const bench_result *r, size_t n)
{
    return r->peak_acct < 0 ? -1 : (double)r->peak_acct / (double)n;
}
static double f_live_rss(const bench_result *r, size_t n)
{
    return r->live_rss < 0 ? -1 : (double)r->live_rss / (double)n;
}
static double f_peak_rss(const bench_result *r, size_t n)
{
    return r->peak_rss < 0 ? -1 : (double)r->peak_rss / (double)n;
}

static const struct {
    const char *label;
    field_fn fn;
    int decimals;
} extra_rows[] = {
    {"insert latency p50 (ns)", f_lat_p50, 0},
    {"insert latency p99 (ns)", f_lat_p99, 0},
    {"insert latency p99.9 (ns)", f_lat_p999, 0},
    {"worst single insert (ns)", f_lat_max, 0},
    {"  preempted while timing", f_lat_pre, 0},
    {"timer floor p50 (ns)", f_floor_p50, 0},
    {"timer floor worst (ns)", f_floor_max, 0},
    {"bytes/entry live (gomap)", f_live_acct, 1},
    {"bytes/entry peak (gomap)", f_peak_acct, 1},
    {"bytes/entry live (RSS)", f_live_rss, 1},
    {"bytes/entry peak (RSS)", f_peak_rss, 1},
};

static void print_table(const bench_opts *o, int kind, bench_result (*res)[MAX_RUNS],
                        const int *ok)
{
    static const char *const kind_titles[3] = {"u64 -> u64", "16-byte string -> u64",
                                               "u64 -> 56-byte value"};
    char cell[64];
    double v[MAX_RUNS], m[3];
    printf("\n%s: ns per operation, median of %d runs (min-max)\n", kind_titles[kind],
           o->runs);
    printf("%-27s", "operation");
    for (int s = 0; s < o->nsizes; s++) {
        char head[32];
        snprintf(head, sizeof head, "n=%zu", o->sizes[s]);
        printf(" %-24s", head);
    }
    printf("\n");
    for (int op = 0; op < OP_COUNT; op++) {
        int any = 0;
        for (int s = 0; s < o->nsizes; s++)
            any |= ok[s] && res[s][0].have[op];
        if (!any)
            continue;
        printf("%-27s", bench_op_names[op]);
        for (int s = 0; s < o->nsizes; s++) {
            if (!ok[s] || !res[s][0].have[op]) {
                printf(" %-24s", "-");
                continue;
            }
            for (int r = 0; r < o->runs; r++)
                v[r] = res[s][r].ns[op];
            mmm(v, o->runs, m);
            fmt_cell(cell, sizeof cell, m, 1);
            printf(" %-24s", cell);
        }
        printf("\n");
    }
    for (size_t e = 0; e < sizeof extra_rows / sizeof extra_rows[0]; e++) {
        printf("%-27s", extra_rows[e].label);
        for (int s = 0; s < o->nsizes; s++) {
            if (!ok[s]) {
                printf(" %-24s", "-");
                continue;
            }
            for (int r = 0; r < o->runs; r++)
                v[r] = extra_rows[e].fn(&res[s][r], o->sizes[s]);
            mmm(v, o->runs, m);
            if (m[1] < 0)
                snprintf(cell, sizeof cell, "n/a");
            else
                fmt_cell(cell, sizeof cell, m, extra_rows[e].decimals);
            printf(" %-24s", cell);
        }
        printf("\n");
    }
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o;
    memset(&o, 0, sizeof o);
    o.sizes[0] = 100000;
    o.sizes[1] = 1000000;
    o.nsizes = 2;
    o.kinds[0] = BENCH_U64;
    o.nkinds = 1;
    o.runs = 3;
    o.ops = (1u << OP_COUNT) - 1;
    o.min_ops = 1000000;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            bench_usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            o.json = 1;
        } else if (strcmp(a, "--with-peers") == 0) {
            o.with_peers = 1;
        } else if (!v) {
            fprintf(stderr, "gomap bench: %s needs a value or is unknown\n", a);
            bench_usage(stderr);
            return 2;
        } else if (strcmp(a, "--size") == 0 || strcmp(a, "--sizes") == 0) {
            if (parse_size_list(v, &o) != 0) {
                fprintf(stderr, "gomap bench: bad --size '%s'\n", v);
                return 2;
            }
            o.sizes_given = 1;
            i++;
        } else if (strcmp(a, "--kind") == 0 || strcmp(a, "--kinds") == 0) {
            if (parse_kind_list(v, &o) != 0) {
                fprintf(stderr, "gomap bench: bad --kind '%s'\n", v);
                return 2;
            }
            o.kinds_given = 1;
            i++;
        } else if (strcmp(a, "--runs") == 0) {
            o.runs = atoi(v);
            if (o.runs < 1 || o.runs > MAX_RUNS) {
                fprintf(stderr, "gomap bench: --runs must be in 1..%d\n", MAX_RUNS);
                return 2;
            }
            o.runs_given = 1;
            i++;
        } else if (strcmp(a, "--ops") == 0) {
            if (bench_parse_ops(v, &o.ops) != 0) {
                fprintf(stderr, "gomap bench: bad --ops '%s'\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--min-ops") == 0) {
            double d = strtod(v, NULL);
            if (d < 1) {
                fprintf(stderr, "gomap bench: bad --min-ops '%s'\n", v);
                return 2;
            }
            o.min_ops = (uint64_t)d;
            i++;
        } else {
            fprintf(stderr, "gomap bench: unknown option %s\n", a);
            bench_usage(stderr);
            return 2;
        }
    }
    if (o.with_peers)
        return run_peers(&o);

    bench_clock_init();
    int progress = !o.json && isatty(2);
    if (!o.json) {
        printf("gomap %d.%d.%d bench: hash %s, timer %s (%.3f ticks/ns)\n",
               GOMAP_VERSION_MAJOR, GOMAP_VERSION_MINOR, GOMAP_VERSION_PATCH,
               gomap_hash_name(), bench_timer_name(), bench_ghz());
        fflush(stdout);
    }
    static bench_result res[MAX_LIST][MAX_RUNS];
    int failures = 0;
    for (int k = 0; k < o.nkinds; k++) {
        int ok[MAX_LIST];
        for (int s = 0; s < o.nsizes; s++) {
            bench_cfg cfg;
            bench_cfg_default(&cfg);
            cfg.kind = (enum bench_kind)o.kinds[k];
            cfg.n = o.sizes[s];
            cfg.ops = o.ops;
            cfg.min_ops = o.min_ops;
            ok[s] = 1;
            for (int r = 0; r < o.runs; r++) {
                cfg.run = r + 1;
                if (progress) {
                    fprintf(stderr, "\r%s n=%zu run %d/%d ...", bench_kind_names[cfg.kind],
                            cfg.n, r + 1, o.runs);
                    fflush(stderr);
                }
                if (run_one(&cfg, &res[s][r]) != 0) {
                    fprintf(stderr, "\ngomap bench: %s n=%zu run %d failed\n",
                            bench_kind_names[cfg.kind], cfg.n, r + 1);
                    ok[s] = 0;
                    failures++;
                    break;
                }
                if (o.json)
                    bench_result_json(stdout, "gomap", &cfg, &res[s][r]);
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

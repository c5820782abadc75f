/*
 * common.h -- the workload driver shared by every row of the benchmark.
 *
 * One harness for all C and C++ rows: the keys (fixed seed, the same keys in
 * the same order for every table, and for the Go program, which generates
 * them with the same splitmix64 stream), the clock, percentiles, memory
 * readings and the JSON line every row prints.  The per-table code lives in
 * table_<name>.c / .cc: a small adapter per key/value kind, compiled together
 * with driver.h so that a header-only table's operations inline into the
 * timed loops exactly as they would in a user's program.
 *
 * Kinds (key -> value):
 *   u64  uint64_t -> uint64_t
 *   str  16-byte string -> uint64_t  (the map holds a view of bytes that the
 *        harness keeps alive, as Go's map[string]uint64 holds string headers;
 *        lookups use a second copy of the bytes so no table can win on
 *        pointer equality)
 *   big  uint64_t -> 56-byte value
 *
 * Key index space, one splitmix64 stream (every key distinct):
 *   [0, n)            the keys inserted
 *   [n, 2n)           keys looked up and never present (lookup miss)
 *   [2n, 2n + steps)  new keys of the churn mix
 * The value stored for key index i is i + 1 (never zero), so every row's
 * checksums must agree; report.py checks that they do.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_TSC 1
#else
#include <time.h>
#define BENCH_HAVE_TSC 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the workload -------------------------------------------------------- */

#define BENCH_SEED_KEYS 0x676f6d6170626e31ull  /* the key stream */
#define BENCH_SEED_PERM 0x676f6d6170626e32ull  /* the probe order */
#define BENCH_SEED_CHURN 0x676f6d6170626e33ull /* churn's lookup picks */
#define BENCH_GAMMA 0x9e3779b97f4a7c15ull
#define BENCH_STR_LEN 16    /* string key bytes */
#define BENCH_STR_STRIDE 17 /* bytes per stored string: 16 + NUL */
#define BENCH_KEY_BATCH 64 /* keys per call in the batch lookup and write columns */

/* The kinds as preprocessor numbers (driver.h selects code with #if). */
#define BENCH_KIND_U64 0
#define BENCH_KIND_STR 1
#define BENCH_KIND_BIG 2
enum bench_kind { BENCH_U64 = BENCH_KIND_U64, BENCH_STR = BENCH_KIND_STR, BENCH_BIG = BENCH_KIND_BIG };

enum bench_op {
    OP_INSERT = 0,       /* n distinct keys into an empty map, no reserve */
    OP_INSERT_RESERVED,  /* the same after reserving n */
    OP_LOOKUP_HIT,       /* every key, in a shuffled order */
    OP_LOOKUP_MISS,      /* n keys that are absent */
    OP_ERASE,            /* every key, in the shuffled order, until empty */
    OP_ITERATE,          /* visit every entry (ns per entry) */
    OP_CHURN,            /* steady size: insert new, lookup live, erase oldest */
    OP_LOOKUP_BATCH,     /* gomap_get_many, where the table has it */
    OP_ITERATE_BATCH,    /* gomap_iter_next_n, where the table has it */
    OP_INSERT_BATCH,     /* OP_INSERT through gomap_put_many, where the table has it */
    OP_INSERT_RESERVED_BATCH, /* OP_INSERT_RESERVED through gomap_put_many */
    OP_ERASE_BATCH,      /* OP_ERASE through gomap_delete_many, where the table has it */
    OP_LOOKUP_MISS_BATCH, /* OP_LOOKUP_MISS through gomap_get_many */
    OP_CHURN_BATCH,      /* OP_CHURN, c steps at a time through the batch calls */
    OP_COUNT
};

/* Names as they appear in the JSON lines and the report. */
extern const char *const bench_op_names[OP_COUNT];
extern const char *const bench_kind_names[3];

typedef struct bench_val56 {
    uint64_t w[7];
} bench_val56;

typedef struct bench_cfg {
    enum bench_kind kind;
    size_t n;            /* entries */
    unsigned ops;        /* bit (1u << op) for each op to run */
    int run;             /* run number (a label only) */
    int series;          /* record insert latency over time (window maxima) */
    int mem;             /* measure memory (live and peak) first */
    int latency;         /* time inserts one at a time */
    uint64_t min_ops;    /* each timed op runs at least this many operations */
    uint64_t lat_min_ops; /* latency samples per run, at least */
    size_t windows;      /* points in the latency-over-time series */
} bench_cfg;

typedef struct bench_keys {
    size_t n, steps, total; /* total = 2n + steps */
    uint64_t *u64;          /* total keys (all kinds: the source of str) */
    char *str;              /* total strings, BENCH_STR_STRIDE apart (str) */
    char *probe;            /* copies of the first n strings (str) */
    uint32_t *perm;         /* a random permutation of [0, n) */
    uint32_t *pick;         /* churn: offset in [0, n] of the key looked up */
} bench_keys;

typedef struct bench_lat {
    uint64_t samples;
    double p50, p99, p999, max, mean; /* ns */
    long long preempted; /* involuntary context switches while timing, -1 unknown */
    int tries;           /* passes run (a preempted pass is run again) */
} bench_lat;

#define BENCH_LAT_TRIES 3 /* latency passes at most, while preempted */

enum { BENCH_EXTRA = 6 }; /* table-specific figures a result can carry */

typedef struct bench_result {
    int have[OP_COUNT];
    double ns[OP_COUNT];     /* ns per operation */
    uint64_t ops[OP_COUNT];  /* operations timed */
    uint64_t check[OP_COUNT]; /* checksums: must agree across tables */
    bench_lat lat;           /* single inserts, timed one at a time */
    bench_lat floor;         /* an empty operation timed the same way */
    long long live_rss, peak_rss;   /* bytes, -1 when unknown */
    long long live_acct, peak_acct; /* the table's own accounting, -1 unknown */
    double *series;          /* max insert latency (ns) per window */
    double *series_mean;     /* mean insert latency (ns) per window */
    size_t nseries, window;  /* windows, inserts per window */
    double extra[BENCH_EXTRA];         /* table-specific figures (see extra_names) */
    const char *extra_names[BENCH_EXTRA];
    const char *note;
} bench_result;

/* ---- keys ---------------------------------------------------------------- */

static inline uint64_t bench_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The i-th output of the splitmix64 stream seeded with seed. */
static inline uint64_t bench_stream(uint64_t seed, uint64_t i)
{
    return bench_mix(seed + (i + 1) * BENCH_GAMMA);
}

/* Key index of the churn FIFO position q (skips the miss keys). */
static inline size_t bench_churn_index(size_t n, size_t q)
{
    return q < n ? q : q + n;
}

/* Generate the keys for cfg; 0 on success, -1 when out of memory. */
int bench_keys_make(bench_keys *k, const bench_cfg *cfg, size_t steps);
void bench_keys_free(bench_keys *k);

/* Operations to time so that at least min_ops are done: repetitions of n. */
uint64_t bench_reps(const bench_cfg *cfg, uint64_t min_ops);

/* ---- clock --------------------------------------------------------------- */

/* A cheap, ordered timestamp: lfence; rdtsc; lfence on x86, else the
   monotonic clock in ns.  bench_tick_ns() converts a difference to ns. */
static inline uint64_t bench_tick(void)
{
#if BENCH_HAVE_TSC
    uint64_t t;
    _mm_lfence();
    t = __rdtsc();
    _mm_lfence();
    return t;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* Calibrate the tick (once per process; about 20 ms). */
void bench_clock_init(void);
double bench_ticks_to_ns(uint64_t ticks);
double bench_ghz(void); /* ticks per ns */
const char *bench_timer_name(void);
/* Wall-clock ns from CLOCK_MONOTONIC (bulk timings). */
uint64_t bench_now_ns(void);

/* Keep a value alive (defeats dead-code elimination). */
extern volatile uint64_t bench_sink;

/* ---- latency ------------------------------------------------------------- */

/* Involuntary context switches of this process so far (-1 unknown): the OS
   took the CPU away; a single timed operation that spans one looks slow. */
long long bench_preemptions(void);
/* Percentiles of n tick samples (sorts them in place). */
void bench_lat_summarize(uint32_t *ticks, size_t n, bench_lat *out);
/* Saturating 32-bit tick difference. */
static inline uint32_t bench_dt32(uint64_t t0, uint64_t t1)
{
    uint64_t d = t1 - t0;
    return d > 0xffffffffu ? 0xffffffffu : (uint32_t)d;
}
/* Window maxima/means of the first count samples into res->series. */
int bench_series_make(bench_result *res, const uint32_t *ticks, size_t count,
                      size_t windows);

/* ---- memory -------------------------------------------------------------- */

long long bench_rss_bytes(void);   /* current resident set */
long long bench_hwm_bytes(void);   /* peak resident set (VmHWM) */
int bench_hwm_reset(void);         /* 0 when the peak could be reset */

/* ---- the pointer chase ("memory-level-parallelism limit") --------------- */

/* ns per access chasing `chains` independent random chains through a
   working set of `bytes` (nodes of `lines` 64-byte lines; each access reads
   every line of its node, the first one being the link), `accesses` in all. */
double bench_chase(size_t bytes, unsigned chains, uint64_t accesses, unsigned lines);

/* ---- results and the command line -------------------------------------- */

void bench_result_init(bench_result *res);
void bench_result_free(bench_result *res);
void bench_result_json(FILE *f, const char *table, const bench_cfg *cfg,
                       const bench_result *res);

typedef int (*bench_run_fn)(const bench_cfg *cfg, bench_result *res);

/* Parse the common options into cfg; returns 0, or -1 after printing why. */
int bench_parse_args(int argc, char **argv, bench_cfg *cfg);
void bench_cfg_default(bench_cfg *cfg);
/* main() of every table's executable: parse, run once, print a JSON line. */
int bench_main(int argc, char **argv, const char *table, bench_run_fn run);
int bench_parse_kind(const char *s);
int bench_parse_ops(const char *s, unsigned *ops);

#ifdef __cplusplus
}
#endif
#endif

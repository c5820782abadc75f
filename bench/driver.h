/*
 * driver.h -- the timed loops, instantiated once per key/value kind.
 *
 * An adapter file includes this header three times, once per kind, after
 * defining:
 *   BENCH_K(name)   the kind's prefix, e.g. u64_##name
 *   BENCH_KIND_ID   BENCH_KIND_U64, BENCH_KIND_STR or BENCH_KIND_BIG
 * and, before each inclusion, these static (inline) functions for the kind:
 *   BENCH_K(tbl) *BENCH_K(new)(size_t reserve, int counted);
 *        an empty table; reserve > 0 asks for room for that many entries
 *        (only called when BENCH_K(can_reserve)() is true); counted != 0 asks
 *        for the table's own byte accounting (memory pass only).  NULL: error.
 *   int  BENCH_K(can_reserve)(void);
 *   void BENCH_K(free)(BENCH_K(tbl) *t);
 *   int  BENCH_K(insert)(BENCH_K(tbl) *t, key, const value *v);  0 or -1
 *   uint64_t BENCH_K(lookup)(BENCH_K(tbl) *t, key);  value word 0, 0: absent
 *   int  BENCH_K(erase)(BENCH_K(tbl) *t, key);       1 removed, 0 absent
 *   uint64_t BENCH_K(iterate)(BENCH_K(tbl) *t);      sum of value word 0
 *   long long BENCH_K(bytes)(BENCH_K(tbl) *t);       own accounting or -1
 *   long long BENCH_K(peak_bytes)(BENCH_K(tbl) *t);  peak accounting or -1
 * where key is uint64_t (u64, big) or const char * to 16 bytes (str), and
 * value is uint64_t (u64, str) or bench_val56 (big).  Optionally, with
 * BENCH_K_HAVE_BATCH defined to 1, the table's batch calls on c <=
 * BENCH_KEY_BATCH keys (the "(batch)" columns):
 *   int  BENCH_K(insert_batch)(BENCH_K(tbl) *t, const key *keys,
 *                              const value *vals, size_t c);  0 or -1
 *   uint64_t BENCH_K(lookup_batch)(BENCH_K(tbl) *t, const key *keys, size_t c);
 *        the sum of value word 0 over the hits
 *   uint64_t BENCH_K(erase_batch)(BENCH_K(tbl) *t, const key *keys, size_t c);
 *        the number removed
 * and with BENCH_K_HAVE_ITER_BATCH defined to 1:
 *   uint64_t BENCH_K(iterate_batch)(BENCH_K(tbl) *t);
 *        iterate through the table's batch interface, same result.
 * A batch column does the same work on the same keys in the same order as
 * its single-key column, gathered BENCH_KEY_BATCH keys at a time.
 *
 * The file is valid C11 and C++ so that the C++ tables share it.
 */
#ifndef BENCH_K
#error "define BENCH_K before including driver.h"
#endif

#if BENCH_KIND_ID == BENCH_KIND_STR
#define BENCH_KEY_T const char *
#define BENCH_KEY_AT(ks, i) ((ks)->str + (size_t)(i) * BENCH_STR_STRIDE)
#define BENCH_PROBE_AT(ks, i) ((ks)->probe + (size_t)(i) * BENCH_STR_STRIDE)
#else
#define BENCH_KEY_T uint64_t
#define BENCH_KEY_AT(ks, i) ((ks)->u64[(i)])
#define BENCH_PROBE_AT(ks, i) ((ks)->u64[(i)])
#endif

#if BENCH_KIND_ID == BENCH_KIND_BIG
#define BENCH_VAL_T bench_val56
static inline void BENCH_K(make_val)(bench_val56 *v, size_t i)
{
    for (int j = 0; j < 7; j++)
        v->w[j] = (uint64_t)i + 1 + (uint64_t)j;
}
#else
#define BENCH_VAL_T uint64_t
static inline void BENCH_K(make_val)(uint64_t *v, size_t i)
{
    *v = (uint64_t)i + 1;
}
#endif

#ifndef BENCH_K_HAVE_BATCH
#define BENCH_K_HAVE_BATCH 0
#endif
#ifndef BENCH_K_HAVE_ITER_BATCH
#define BENCH_K_HAVE_ITER_BATCH 0
#endif

/* Insert keys [0, n) with their values; 0 or -1. */
static int BENCH_K(fill)(BENCH_K(tbl) *t, const bench_keys *ks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        BENCH_VAL_T v;
        BENCH_K(make_val)(&v, i);
        if (BENCH_K(insert)(t, BENCH_KEY_AT(ks, i), &v) != 0)
            return -1;
    }
    return 0;
}

#if BENCH_K_HAVE_BATCH
/* BENCH_K(fill) through the batch call, BENCH_KEY_BATCH keys at a time. */
static int BENCH_K(fill_batch)(BENCH_K(tbl) *t, const bench_keys *ks, size_t n)
{
    BENCH_KEY_T keys[BENCH_KEY_BATCH];
    BENCH_VAL_T vals[BENCH_KEY_BATCH];
    for (size_t i = 0; i < n; i += BENCH_KEY_BATCH) {
        size_t c = n - i < BENCH_KEY_BATCH ? n - i : BENCH_KEY_BATCH;
        for (size_t j = 0; j < c; j++) {
            keys[j] = BENCH_KEY_AT(ks, i + j);
            BENCH_K(make_val)(&vals[j], i + j);
        }
        if (BENCH_K(insert_batch)(t, keys, vals, c) != 0)
            return -1;
    }
    return 0;
}

/* Erase every key in the shuffled order through the batch call. */
static uint64_t BENCH_K(erase_all_batch)(BENCH_K(tbl) *t, const bench_keys *ks, size_t n)
{
    BENCH_KEY_T keys[BENCH_KEY_BATCH];
    uint64_t removed = 0;
    for (size_t i = 0; i < n; i += BENCH_KEY_BATCH) {
        size_t c = n - i < BENCH_KEY_BATCH ? n - i : BENCH_KEY_BATCH;
        for (size_t j = 0; j < c; j++)
            keys[j] = BENCH_PROBE_AT(ks, ks->perm[i + j]);
        removed += BENCH_K(erase_batch)(t, keys, c);
    }
    return removed;
}

/* Look up every key in the shuffled order (hits), or keys [n, 2n)
   (misses), through the batch call; the sum of the values found. */
static uint64_t BENCH_K(lookup_all_batch)(BENCH_K(tbl) *t, const bench_keys *ks, size_t n,
                                          int miss)
{
    BENCH_KEY_T keys[BENCH_KEY_BATCH];
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i += BENCH_KEY_BATCH) {
        size_t c = n - i < BENCH_KEY_BATCH ? n - i : BENCH_KEY_BATCH;
        for (size_t j = 0; j < c; j++)
            keys[j] = miss ? BENCH_KEY_AT(ks, n + i + j) : BENCH_PROBE_AT(ks, ks->perm[i + j]);
        sum += BENCH_K(lookup_batch)(t, keys, c);
    }
    return sum;
}

/* The churn through the batch calls: for a run of c steps, their c inserts,
   then their c lookups, then their c erases.  Every lookup still finds its
   key (it is live from its insert until its erase), so the sum is the same
   as the single-key churn's. */
static int BENCH_K(churn_batch)(BENCH_K(tbl) *t, const bench_keys *ks, size_t steps,
                                uint64_t *sum)
{
    size_t n = ks->n;
    BENCH_KEY_T keys[BENCH_KEY_BATCH];
    BENCH_VAL_T vals[BENCH_KEY_BATCH];
    for (size_t j0 = 0; j0 < steps; j0 += BENCH_KEY_BATCH) {
        size_t c = steps - j0 < BENCH_KEY_BATCH ? steps - j0 : BENCH_KEY_BATCH;
        for (size_t j = 0; j < c; j++) {
            size_t in = bench_churn_index(n, n + j0 + j);
            keys[j] = BENCH_KEY_AT(ks, in);
            BENCH_K(make_val)(&vals[j], in);
        }
        if (BENCH_K(insert_batch)(t, keys, vals, c) != 0)
            return -1;
        for (size_t j = 0; j < c; j++)
            keys[j] = BENCH_KEY_AT(ks, bench_churn_index(n, j0 + j + ks->pick[j0 + j]));
        *sum += BENCH_K(lookup_batch)(t, keys, c);
        for (size_t j = 0; j < c; j++)
            keys[j] = BENCH_KEY_AT(ks, bench_churn_index(n, j0 + j));
        BENCH_K(erase_batch)(t, keys, c);
    }
    return 0;
}
#endif

static void BENCH_K(set)(bench_result *res, enum bench_op op, uint64_t ns,
                         uint64_t ops, uint64_t check)
{
    res->have[op] = 1;
    res->ns[op] = (double)ns / (double)(ops ? ops : 1);
    res->ops[op] = ops;
    res->check[op] = check;
}

/* Memory: live and peak bytes while n keys go into an empty table. */
static int BENCH_K(memory)(const bench_cfg *cfg, const bench_keys *ks, bench_result *res)
{
    int hwm_ok = bench_hwm_reset() == 0;
    long long rss0 = bench_rss_bytes();
    BENCH_K(tbl) *t = BENCH_K(new)(0, 1);
    if (!t || BENCH_K(fill)(t, ks, cfg->n) != 0)
        return -1;
    long long rss1 = bench_rss_bytes(), hwm = bench_hwm_bytes();
    if (rss0 >= 0 && rss1 >= 0)
        res->live_rss = rss1 - rss0;
    if (hwm_ok && rss0 >= 0 && hwm >= 0)
        res->peak_rss = hwm - rss0;
    res->live_acct = BENCH_K(bytes)(t);
    res->peak_acct = BENCH_K(peak_bytes)(t);
    BENCH_K(free)(t);
    return 0;
}

/* One pass of inserts timed one at a time: reps fresh tables of n inserts
   into ticks; *pre gets the involuntary context switches during the timing,
   *span the ticks the insert loops took in all. */
static int BENCH_K(lat_pass)(const bench_cfg *cfg, const bench_keys *ks, uint32_t *ticks,
                             uint64_t reps, bench_result *res, long long *pre, uint64_t *span)
{
    size_t n = cfg->n;
    long long total_pre = 0;
    *span = 0;
    for (uint64_t r = 0; r < reps; r++) {
        BENCH_K(tbl) *t = BENCH_K(new)(0, 0);
        uint32_t *out = ticks + (size_t)r * n;
        if (!t)
            return -1;
        long long p0 = bench_preemptions();
        uint64_t start = bench_tick();
        for (size_t i = 0; i < n; i++) {
            BENCH_VAL_T v;
            BENCH_K(make_val)(&v, i);
            uint64_t t0 = bench_tick();
            int rc = BENCH_K(insert)(t, BENCH_KEY_AT(ks, i), &v);
            uint64_t t1 = bench_tick();
            out[i] = bench_dt32(t0, t1);
            if (rc != 0) {
                BENCH_K(free)(t);
                return -1;
            }
        }
        *span += bench_tick() - start;
        long long p1 = bench_preemptions();
        total_pre = p0 < 0 || p1 < 0 || total_pre < 0 ? -1 : total_pre + (p1 - p0);
        if (r == 0 && cfg->series) {
            bench_result_free(res); /* the series of an earlier try */
            if (bench_series_make(res, out, n, cfg->windows) != 0) {
                BENCH_K(free)(t);
                return -1;
            }
        }
        BENCH_K(free)(t);
    }
    *pre = total_pre;
    return 0;
}

/* The floor: the same loop around an empty operation, for at least total
   samples and at least span ticks, the time the timed inserts took.  The
   worst an empty operation meets grows with the time watched (a timer
   interrupt, the hypervisor taking the CPU), so a floor watched for a
   tenth of the inserts' time would understate the noise their worst
   sample can hold.  ticks keeps the last total samples (the percentiles);
   *worst is the largest of all. */
static long long BENCH_K(floor_pass)(const bench_cfg *cfg, uint32_t *ticks, size_t total,
                                     uint64_t span, uint32_t *worst)
{
    uint64_t sink = 0;
    uint32_t max = 0;
    long long p0 = bench_preemptions();
    uint64_t start = bench_tick(), now = start;
    for (size_t i = 0; i < total || now - start < span; i++) {
        BENCH_VAL_T v;
        BENCH_K(make_val)(&v, i % cfg->n);
        uint64_t t0 = bench_tick();
#if defined(__GNUC__)
        __asm__ __volatile__("" : : "r"(&v) : "memory");
#endif
        uint64_t t1 = bench_tick();
        uint32_t d = bench_dt32(t0, t1);
        ticks[i % total] = d;
        max = d > max ? d : max;
        sink += d;
        now = t1;
    }
    long long p1 = bench_preemptions();
    bench_sink += sink;
    *worst = max;
    return p0 < 0 || p1 < 0 ? -1 : p1 - p0;
}

/* Inserts timed one at a time, and the floor timed the same way for as
   long.  A pass during which the OS preempted the process is run again, up
   to BENCH_LAT_TRIES passes in all (the last one counts): a preemption puts
   a time slice of someone else's work into one sample. */
static int BENCH_K(latency)(const bench_cfg *cfg, const bench_keys *ks, bench_result *res)
{
    uint64_t reps = bench_reps(cfg, cfg->lat_min_ops);
    size_t total = (size_t)reps * cfg->n;
    uint32_t *ticks = (uint32_t *)malloc(total * sizeof *ticks);
    long long pre = -1;
    int tries = 0;
    uint64_t span = 0;
    uint32_t worst = 0;
    if (!ticks)
        return -1;
    do {
        if (BENCH_K(lat_pass)(cfg, ks, ticks, reps, res, &pre, &span) != 0) {
            free(ticks);
            return -1;
        }
    } while (++tries < BENCH_LAT_TRIES && pre > 0);
    bench_lat_summarize(ticks, total, &res->lat);
    res->lat.preempted = pre;
    res->lat.tries = tries;
    tries = 0;
    do
        pre = BENCH_K(floor_pass)(cfg, ticks, total, span, &worst);
    while (++tries < BENCH_LAT_TRIES && pre > 0);
    bench_lat_summarize(ticks, total, &res->floor);
    res->floor.max = bench_ticks_to_ns(worst);
    res->floor.preempted = pre;
    res->floor.tries = tries;
    free(ticks);
    return 0;
}

static int BENCH_K(insert_op)(const bench_cfg *cfg, const bench_keys *ks, bench_result *res,
                              enum bench_op op)
{
    uint64_t reps = bench_reps(cfg, cfg->min_ops), ns = 0, check = 0;
    size_t reserve = op == OP_INSERT_RESERVED || op == OP_INSERT_RESERVED_BATCH ? cfg->n : 0;
    int batch = op == OP_INSERT_BATCH || op == OP_INSERT_RESERVED_BATCH;
#if !BENCH_K_HAVE_BATCH
    if (batch)
        return 0;
#endif
    for (uint64_t r = 0; r < reps; r++) {
        BENCH_K(tbl) *t = BENCH_K(new)(reserve, 0);
        if (!t)
            return -1;
        uint64_t t0 = bench_now_ns();
#if BENCH_K_HAVE_BATCH
        int rc = batch ? BENCH_K(fill_batch)(t, ks, cfg->n) : BENCH_K(fill)(t, ks, cfg->n);
#else
        int rc = BENCH_K(fill)(t, ks, cfg->n);
#endif
        uint64_t t1 = bench_now_ns();
        ns += t1 - t0;
        if (rc != 0) {
            BENCH_K(free)(t);
            return -1;
        }
        if (r == 0)
            check = BENCH_K(lookup)(t, BENCH_PROBE_AT(ks, cfg->n - 1));
        BENCH_K(free)(t);
    }
    BENCH_K(set)(res, op, ns, reps * cfg->n, check);
    return 0;
}

static int BENCH_K(erase_op)(const bench_cfg *cfg, const bench_keys *ks, bench_result *res,
                             enum bench_op op)
{
    uint64_t reps = bench_reps(cfg, cfg->min_ops), ns = 0, check = 0;
    size_t n = cfg->n;
#if !BENCH_K_HAVE_BATCH
    if (op == OP_ERASE_BATCH)
        return 0;
#endif
    for (uint64_t r = 0; r < reps; r++) {
        BENCH_K(tbl) *t = BENCH_K(new)(0, 0);
        if (!t || BENCH_K(fill)(t, ks, n) != 0)
            return -1;
        uint64_t removed = 0;
        uint64_t t0 = bench_now_ns();
#if BENCH_K_HAVE_BATCH
        if (op == OP_ERASE_BATCH)
            removed = BENCH_K(erase_all_batch)(t, ks, n);
        else
#endif
            for (size_t i = 0; i < n; i++)
                removed += (uint64_t)BENCH_K(erase)(t, BENCH_PROBE_AT(ks, ks->perm[i]));
        uint64_t t1 = bench_now_ns();
        ns += t1 - t0;
        if (r == 0)
            check = removed;
        BENCH_K(free)(t);
    }
    BENCH_K(set)(res, op, ns, reps * n, check);
    return 0;
}

#ifndef BENCH_TIME_PASSES
/* Time reps passes of PASS, an expression that visits all n entries once and
   returns a sum; the check is the first pass's sum.  (Inside on_filled.) */
#define BENCH_TIME_PASSES(op, PASS)                                             \
    do {                                                                        \
        if (ops & (1u << (op))) {                                               \
            uint64_t sum_ = 0, first_ = 0;                                      \
            uint64_t t0_ = bench_now_ns();                                      \
            for (uint64_t r_ = 0; r_ < reps; r_++) {                            \
                sum_ += (PASS);                                                 \
                if (r_ == 0)                                                    \
                    first_ = sum_;                                              \
            }                                                                   \
            uint64_t t1_ = bench_now_ns();                                      \
            bench_sink += sum_;                                                 \
            BENCH_K(set)(res, (op), t1_ - t0_, reps * n, first_);               \
        }                                                                       \
    } while (0)
#endif

/* The operations that use one filled table m (keys [0, n)). */
static int BENCH_K(on_filled)(const bench_cfg *cfg, const bench_keys *ks, BENCH_K(tbl) *m,
                              bench_result *res)
{
    size_t n = cfg->n, steps = ks->steps;
    unsigned ops = cfg->ops;
    uint64_t reps = bench_reps(cfg, cfg->min_ops);

    if (ops & (1u << OP_LOOKUP_HIT)) {
        uint64_t sum = 0, first = 0;
        uint64_t t0 = bench_now_ns();
        for (uint64_t r = 0; r < reps; r++) {
            for (size_t i = 0; i < n; i++)
                sum += BENCH_K(lookup)(m, BENCH_PROBE_AT(ks, ks->perm[i]));
            if (r == 0)
                first = sum;
        }
        uint64_t t1 = bench_now_ns();
        bench_sink += sum;
        BENCH_K(set)(res, OP_LOOKUP_HIT, t1 - t0, reps * n, first);
    }
#if BENCH_K_HAVE_BATCH
    BENCH_TIME_PASSES(OP_LOOKUP_BATCH, BENCH_K(lookup_all_batch)(m, ks, n, 0));
#endif
    if (ops & (1u << OP_LOOKUP_MISS)) {
        uint64_t found = 0;
        uint64_t t0 = bench_now_ns();
        for (uint64_t r = 0; r < reps; r++)
            for (size_t i = 0; i < n; i++)
                found += BENCH_K(lookup)(m, BENCH_KEY_AT(ks, n + i)) != 0;
        uint64_t t1 = bench_now_ns();
        bench_sink += found;
        BENCH_K(set)(res, OP_LOOKUP_MISS, t1 - t0, reps * n, found);
    }
#if BENCH_K_HAVE_BATCH
    BENCH_TIME_PASSES(OP_LOOKUP_MISS_BATCH, BENCH_K(lookup_all_batch)(m, ks, n, 1));
#endif
    BENCH_TIME_PASSES(OP_ITERATE, BENCH_K(iterate)(m));
#if BENCH_K_HAVE_ITER_BATCH
    BENCH_TIME_PASSES(OP_ITERATE_BATCH, BENCH_K(iterate_batch)(m));
#endif
    if (ops & (1u << OP_CHURN)) {
        /* FIFO window of n live keys: insert the next new key, look up a
           random live key, erase the oldest. */
        uint64_t sum = 0;
        int failed = 0;
        uint64_t t0 = bench_now_ns();
        for (size_t j = 0; j < steps; j++) {
            size_t in = bench_churn_index(n, n + j);
            BENCH_VAL_T v;
            BENCH_K(make_val)(&v, in);
            failed |= BENCH_K(insert)(m, BENCH_KEY_AT(ks, in), &v);
            sum += BENCH_K(lookup)(m, BENCH_KEY_AT(ks, bench_churn_index(n, j + ks->pick[j])));
            BENCH_K(erase)(m, BENCH_KEY_AT(ks, bench_churn_index(n, j)));
        }
        uint64_t t1 = bench_now_ns();
        if (failed)
            return -1;
        bench_sink += sum;
        BENCH_K(set)(res, OP_CHURN, t1 - t0, 3 * (uint64_t)steps, sum);
    }
    return 0;
}

#if BENCH_K_HAVE_BATCH
/* The churn through the batch calls, on its own filled table (the single-key
   churn has moved the other one's keys on). */
static int BENCH_K(churn_batch_op)(const bench_cfg *cfg, const bench_keys *ks, bench_result *res)
{
    size_t steps = ks->steps;
    uint64_t sum = 0;
    BENCH_K(tbl) *t = BENCH_K(new)(0, 0);
    if (!t || BENCH_K(fill)(t, ks, cfg->n) != 0)
        return -1;
    uint64_t t0 = bench_now_ns();
    int rc = BENCH_K(churn_batch)(t, ks, steps, &sum);
    uint64_t t1 = bench_now_ns();
    BENCH_K(free)(t);
    if (rc != 0)
        return -1;
    bench_sink += sum;
    BENCH_K(set)(res, OP_CHURN_BATCH, t1 - t0, 3 * (uint64_t)steps, sum);
    return 0;
}
#endif

static int BENCH_K(run)(const bench_cfg *cfg, bench_result *res)
{
    size_t n = cfg->n;
    unsigned ops = cfg->ops;
    bench_keys ks;
    size_t steps = (ops & (1u << OP_CHURN | 1u << OP_CHURN_BATCH))
                       ? (size_t)(bench_reps(cfg, cfg->min_ops) * n)
                       : 0;
    int rc = -1;
    BENCH_K(tbl) *m = NULL;
    if (bench_keys_make(&ks, cfg, steps) != 0)
        return -1;

    if (cfg->mem && BENCH_K(memory)(cfg, &ks, res) != 0)
        goto out;
    if (cfg->latency && BENCH_K(latency)(cfg, &ks, res) != 0)
        goto out;
    if ((ops & (1u << OP_INSERT)) && BENCH_K(insert_op)(cfg, &ks, res, OP_INSERT) != 0)
        goto out;
    if ((ops & (1u << OP_INSERT_RESERVED)) && BENCH_K(can_reserve)() &&
        BENCH_K(insert_op)(cfg, &ks, res, OP_INSERT_RESERVED) != 0)
        goto out;
    if ((ops & (1u << OP_INSERT_BATCH)) && BENCH_K(insert_op)(cfg, &ks, res, OP_INSERT_BATCH) != 0)
        goto out;
    if ((ops & (1u << OP_INSERT_RESERVED_BATCH)) && BENCH_K(can_reserve)() &&
        BENCH_K(insert_op)(cfg, &ks, res, OP_INSERT_RESERVED_BATCH) != 0)
        goto out;
    m = BENCH_K(new)(0, 0);
    if (!m || BENCH_K(fill)(m, &ks, n) != 0)
        goto out;
    if (BENCH_K(on_filled)(cfg, &ks, m, res) != 0)
        goto out;
    BENCH_K(free)(m);
    m = NULL;
    if ((ops & (1u << OP_ERASE)) && BENCH_K(erase_op)(cfg, &ks, res, OP_ERASE) != 0)
        goto out;
    if ((ops & (1u << OP_ERASE_BATCH)) && BENCH_K(erase_op)(cfg, &ks, res, OP_ERASE_BATCH) != 0)
        goto out;
#if BENCH_K_HAVE_BATCH
    if ((ops & (1u << OP_CHURN_BATCH)) && BENCH_K(churn_batch_op)(cfg, &ks, res) != 0)
        goto out;
#endif
    rc = 0;
out:
    if (m)
        BENCH_K(free)(m);
    bench_keys_free(&ks);
    return rc;
}

#undef BENCH_KEY_T
#undef BENCH_KEY_AT
#undef BENCH_PROBE_AT
#undef BENCH_VAL_T
#undef BENCH_K_HAVE_BATCH
#undef BENCH_K_HAVE_ITER_BATCH
#undef BENCH_K
#undef BENCH_KIND_ID

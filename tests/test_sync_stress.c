/*
 * test_sync_stress.c -- the concurrent map under 2, 4, 8 and 16 threads on
 * whatever cores there are (oversubscribed on purpose), with invariants
 * checked afterwards:
 *   counters   per-key counters incremented through CAS loops sum exactly;
 *   winners    load_or_store stores exactly once per key, all others load
 *              the winner's value;
 *   exclusive  compare_and_swap and compare_and_delete never both succeed on
 *              the same old value (values are unique; each is consumed at
 *              most once, only after it was produced, and what is left is
 *              exactly what the map holds) -- Go issue 70970;
 *   disjoint   every thread owns a key range and checks it against its own
 *              model; reads of others' keys see well-formed values;
 *   chaos      every operation (clear, range, barrier, detach included) on a
 *              small shared key set, with a normal hash and with hashes that
 *              force chains and 16-level expansions, pruned again and again;
 *   range      no key twice, and keys untouched during the call all seen.
 * Every test ends with gomap_sync_check(), free + barrier and zero bytes
 * outstanding in a thread-safe counting allocator.  Work is counted, never
 * timed.
 */
#include "gomap_sync.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* RUN for a call with arguments. */
#define RUN_N(call)                                                                \
    do {                                                                           \
        fprintf(stderr, "  %-40s", #call);                                         \
        call;                                                                      \
        fprintf(stderr, " ok\n");                                                  \
        tu_passed++;                                                               \
    } while (0)



/* ---- a thread-safe counting allocator ---------------------------------------- */

static _Atomic long long g_live, g_live_bytes;
static void *ts_alloc(void *ctx, size_t n) {
    (void)ctx;
    void *p = malloc(n ? n : 1);
    if (p) {
        atomic_fetch_add(&g_live, 1);
        atomic_fetch_add(&g_live_bytes, (long long)n);
    }
    return p;
}
static void ts_free(void *ctx, void *p, size_t n) {
    (void)ctx;
    if (!p) return;
    atomic_fetch_sub(&g_live, 1);
    atomic_fetch_sub(&g_live_bytes, (long long)n);
    free(p);
}
static const gomap_allocator g_alloc = {ts_alloc, ts_free, NULL};

/* Free the map, reclaim everything, and expect every byte back. */
static void finish_map(gomap_sync *m) {
    CHECK_SYNC(m);
    gomap_sync_free(m);
    CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
    CHECK_EQ(atomic_load(&g_live), 0);
    CHECK_EQ(atomic_load(&g_live_bytes), 0);
}

/* ---- key types -------------------------------------------------------------------- */

/* hash modes for the custom key: 0 a real hash; 1 few distinct hashes
   (long chains); 2 hashes that differ only in the top and bottom nibbles
   (every split expands 16 levels deep). */
static int g_hash_mode;
static uint64_t hash_by_mode(const void *k, uint64_t seed) {
    uint64_t x;
    memcpy(&x, k, 8);
    switch (g_hash_mode) {
    case 1: return (x % 5) << 60 | (x % 3);
    case 2: return (x & 7) << 60 | ((x >> 3) & 15);
    default: return gomap_hash_u64(x, seed);
    }
}
static bool eq_u64(const void *a, const void *b) { return memcmp(a, b, 8) == 0; }

static gomap_sync *new_map(int hash_mode) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    if (hash_mode) {
        t = gomap_type_builtin(GOMAP_KEY_BYTES, 8, 8, 8);
        t.kind = GOMAP_KEY_CUSTOM;
        t.hash = hash_by_mode;
        t.equal = eq_u64;
    }
    g_hash_mode = hash_mode;
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, &g_alloc), GOMAP_OK);
    return m;
}

/* Values carry their key: (key << 32) | tag, so a read can tell a value of
   the wrong key (or freed memory) from a right one. */
static uint64_t mkval(uint64_t key, uint64_t tag) { return key << 32 | (tag & 0xffffffffu); }
static bool val_ok(uint64_t key, uint64_t v) { return v >> 32 == key; }

/* ---- threads ----------------------------------------------------------------------- */

typedef struct targ {
    gomap_sync *m;
    int id, nthreads;
    long ops;
    uint64_t rng;
    pthread_barrier_t *start;
    /* per-test outputs */
    uint64_t *produced, *consumed;
    size_t nproduced, nconsumed;
    long long counter;
} targ;

static uint64_t trand(targ *a) { /* xorshift64*, per thread */
    uint64_t x = a->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    a->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void run_threads(int n, void *(*fn)(void *), targ *args, gomap_sync *m, long ops) {
    pthread_t th[16];
    pthread_barrier_t start;
    CHECK_EQ(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++) {
        args[i].m = m;
        args[i].id = i;
        args[i].nthreads = n;
        args[i].ops = ops;
        args[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) ^ (uint64_t)n;
        args[i].start = &start;
        CHECK_EQ(pthread_create(&th[i], NULL, fn, &args[i]), 0);
    }
    for (int i = 0; i < n; i++) CHECK_EQ(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
}

/* ---- counters: CAS loops sum exactly -------------------------------------------------- */

#define CNT_KEYS 16

static bool range_counters(const void *key, const void *val, void *ctx) {
    uint64_t k;
    memcpy(&k, key, 8);
    uint8_t *seen = (uint8_t *)ctx;
    CHECK(k < CNT_KEYS);
    CHECK_EQ(seen[k], 0);
    seen[k] = 1;
    (void)val;
    return true;
}

static void *counters_thread(void *p) {
    targ *a = (targ *)p;
    pthread_barrier_wait(a->start);
    for (long i = 0; i < a->ops; i++) {
        uint64_t k = trand(a) % CNT_KEYS, v, nv;
        for (;;) {
            CHECK_EQ(gomap_sync_load(a->m, &k, &v), 1);
            nv = v + 1;
            if (gomap_sync_compare_and_swap(a->m, &k, &v, &nv) == 1) break;
        }
        a->counter++;
        if (i % 512 == 0) {
            uint8_t seen[CNT_KEYS] = {0};
            CHECK_EQ(gomap_sync_range(a->m, range_counters, seen), GOMAP_OK);
            for (int j = 0; j < CNT_KEYS; j++) CHECK_EQ(seen[j], 1);
        }
    }
    return NULL;
}

static void test_counters(int n) {
    gomap_sync *m = new_map(0);
    for (uint64_t k = 0; k < CNT_KEYS; k++) {
        uint64_t z = 0;
        CHECK_EQ(gomap_sync_store(m, &k, &z), 1);
    }
    targ args[16];
    memset(args, 0, sizeof args);
    long ops = tu_scaled(160000, 8000) / n;
    run_threads(n, counters_thread, args, m, ops);
    uint64_t sum = 0;
    for (uint64_t k = 0; k < CNT_KEYS; k++) {
        uint64_t v;
        CHECK_EQ(gomap_sync_load(m, &k, &v), 1);
        sum += v;
    }
    CHECK_EQ(sum, (uint64_t)ops * (uint64_t)n);
    CHECK_EQ(gomap_sync_len(m), CNT_KEYS);
    finish_map(m);
}

/* ---- winners: one load_or_store stores per key ---------------------------------------- */

#define WIN_KEYS 1024
static _Atomic int g_winners[WIN_KEYS];
static uint64_t g_winner_val[WIN_KEYS];

static void *winners_thread(void *p) {
    targ *a = (targ *)p;
    pthread_barrier_wait(a->start);
    for (long round = 0; round < a->ops; round++) {
        /* all threads go through the keys in different orders */
        uint64_t off = trand(a) % WIN_KEYS;
        for (uint64_t j = 0; j < WIN_KEYS; j++) {
            uint64_t k = (j + off) % WIN_KEYS + (uint64_t)round * WIN_KEYS;
            uint64_t mine = mkval(k, (uint64_t)a->id), got = 0;
            int r = gomap_sync_load_or_store(a->m, &k, &mine, &got);
            CHECK(r == 0 || r == 1);
            if (r == 0) {
                CHECK_EQ(got, mine);
                atomic_fetch_add(&g_winners[k % WIN_KEYS], 1);
                g_winner_val[k % WIN_KEYS] = mine; /* read after join */
            } else {
                CHECK(val_ok(k, got));
                CHECK((got & 0xffffffffu) < (uint64_t)a->nthreads);
                CHECK(got != mine);
            }
        }
        pthread_barrier_wait(a->start);
        if (a->id == 0) { /* check the round, then clear for the next */
            for (uint64_t j = 0; j < WIN_KEYS; j++) {
                uint64_t k = j + (uint64_t)round * WIN_KEYS, v;
                CHECK_EQ(atomic_load(&g_winners[j]), 1);
                CHECK_EQ(gomap_sync_load(a->m, &k, &v), 1);
                CHECK_EQ(v, g_winner_val[j]);
                atomic_store(&g_winners[j], 0);
            }
            CHECK_EQ(gomap_sync_len(a->m), WIN_KEYS);
            CHECK_SYNC(a->m);
            CHECK_EQ(gomap_sync_clear(a->m), GOMAP_OK);
        }
        pthread_barrier_wait(a->start);
    }
    return NULL;
}

static void test_winners(int n) {
    gomap_sync *m = new_map(0);
    targ args[16];
    memset(args, 0, sizeof args);
    run_threads(n, winners_thread, args, m, tu_scaled(40, 4) / (n > 4 ? 2 : 1));
    finish_map(m);
}

/* ---- exclusive: CAS and compare_and_delete consume a value at most once -------------- */

#define EX_KEYS 8

static void *exclusive_thread(void *p) {
    targ *a = (targ *)p;
    uint64_t seq = 0;
    pthread_barrier_wait(a->start);
    for (long i = 0; i < a->ops; i++) {
        uint64_t k = trand(a) % EX_KEYS, v, nv;
        /* unique: thread id + 1 in bits 40.., a sequence below */
        nv = mkval(k, ((uint64_t)(a->id + 1) << 24) | (seq & 0xffffff));
        int r = gomap_sync_load(a->m, &k, &v);
        if (r == 0) {
            if (gomap_sync_load_or_store(a->m, &k, &nv, NULL) == 0) {
                a->produced[a->nproduced++] = nv;
                seq++;
            }
            continue;
        }
        CHECK(val_ok(k, v));
        if (trand(a) & 1) {
            if (gomap_sync_compare_and_swap(a->m, &k, &v, &nv) == 1) {
                a->consumed[a->nconsumed++] = v;
                a->produced[a->nproduced++] = nv;
                seq++;
            }
        } else if (gomap_sync_compare_and_delete(a->m, &k, &v) == 1) {
            a->consumed[a->nconsumed++] = v;
        }
    }
    return NULL;
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static bool in_sorted(const uint64_t *arr, size_t n, uint64_t v) {
    return bsearch(&v, arr, n, sizeof v, cmp_u64) != NULL;
}

static bool range_collect(const void *key, const void *val, void *ctx) {
    uint64_t *out = (uint64_t *)ctx, v;
    (void)key;
    memcpy(&v, val, 8);
    out[++out[0]] = v;
    return true;
}

static void test_exclusive(int n) {
    gomap_sync *m = new_map(0);
    targ args[16];
    memset(args, 0, sizeof args);
    long ops = tu_scaled(240000, 12000) / n;
    for (int i = 0; i < n; i++) {
        args[i].produced = (uint64_t *)malloc((size_t)ops * 8);
        args[i].consumed = (uint64_t *)malloc((size_t)ops * 8);
        CHECK(args[i].produced && args[i].consumed);
    }
    /* initial values, "produced" by nobody (thread id 0 is never used) */
    uint64_t initial[EX_KEYS];
    for (uint64_t k = 0; k < EX_KEYS; k++) {
        initial[k] = mkval(k, k);
        CHECK_EQ(gomap_sync_store(m, &k, &initial[k]), 1);
    }
    run_threads(n, exclusive_thread, args, m, ops);
    size_t np = EX_KEYS, nc = 0;
    for (int i = 0; i < n; i++) {
        np += args[i].nproduced;
        nc += args[i].nconsumed;
    }
    uint64_t *prod = (uint64_t *)malloc(np * 8), *cons = (uint64_t *)malloc((nc + 1) * 8);
    CHECK(prod && cons);
    size_t ip = 0, ic = 0;
    for (uint64_t k = 0; k < EX_KEYS; k++) prod[ip++] = initial[k];
    for (int i = 0; i < n; i++) {
        memcpy(prod + ip, args[i].produced, args[i].nproduced * 8);
        ip += args[i].nproduced;
        memcpy(cons + ic, args[i].consumed, args[i].nconsumed * 8);
        ic += args[i].nconsumed;
        free(args[i].produced);
        free(args[i].consumed);
    }
    qsort(prod, np, 8, cmp_u64);
    qsort(cons, nc, 8, cmp_u64);
    for (size_t i = 1; i < np; i++) CHECK(prod[i] != prod[i - 1]);
    /* no value consumed twice: CAS and CAD never both won on one old value */
    for (size_t i = 1; i < nc; i++) CHECK(cons[i] != cons[i - 1]);
    for (size_t i = 0; i < nc; i++) CHECK(in_sorted(prod, np, cons[i]));
    /* the survivors are exactly produced minus consumed */
    uint64_t live[EX_KEYS + 1] = {0};
    CHECK_EQ(gomap_sync_range(m, range_collect, live), GOMAP_OK);
    CHECK_EQ(live[0], np - nc);
    CHECK_EQ(gomap_sync_len(m), np - nc);
    for (uint64_t i = 1; i <= live[0]; i++) {
        CHECK(in_sorted(prod, np, live[i]));
        CHECK(!in_sorted(cons, nc, live[i]));
    }
    free(prod);
    free(cons);
    finish_map(m);
}

/* ---- disjoint: own keys against an own model ------------------------------------------ */

#define DJ_KEYS 256

static void *disjoint_thread(void *p) {
    targ *a = (targ *)p;
    uint64_t model[DJ_KEYS];
    bool present[DJ_KEYS] = {false};
    long count = 0;
    uint64_t base = (uint64_t)a->id * DJ_KEYS;
    pthread_barrier_wait(a->start);
    for (long i = 0; i < a->ops; i++) {
        uint64_t j = trand(a) % DJ_KEYS, k = base + j, v = mkval(k, trand(a)), out = 0, old;
        int r;
        switch (trand(a) % 9) {
        case 0:
            r = gomap_sync_load(a->m, &k, &out);
            CHECK_EQ(r, present[j]);
            if (r) CHECK_EQ(out, model[j]);
            break;
        case 1:
            CHECK_EQ(gomap_sync_store(a->m, &k, &v), !present[j]);
            count += !present[j];
            present[j] = true;
            model[j] = v;
            break;
        case 2:
            r = gomap_sync_load_or_store(a->m, &k, &v, &out);
            CHECK_EQ(r, present[j]);
            CHECK_EQ(out, present[j] ? model[j] : v);
            if (!present[j]) count++, present[j] = true, model[j] = v;
            break;
        case 3:
            r = gomap_sync_load_and_delete(a->m, &k, &out);
            CHECK_EQ(r, present[j]);
            if (r) {
                CHECK_EQ(out, model[j]);
                count--;
                present[j] = false;
            }
            break;
        case 4:
            r = gomap_sync_swap(a->m, &k, &v, &out);
            CHECK_EQ(r, present[j]);
            if (r) CHECK_EQ(out, model[j]);
            count += !present[j];
            present[j] = true;
            model[j] = v;
            break;
        case 5:
            old = present[j] && (trand(a) & 1) ? model[j] : v;
            r = gomap_sync_compare_and_swap(a->m, &k, &old, &v);
            CHECK_EQ(r, present[j] && model[j] == old);
            if (r) model[j] = v;
            break;
        case 6:
            old = present[j] && (trand(a) & 1) ? model[j] : v;
            r = gomap_sync_compare_and_delete(a->m, &k, &old);
            CHECK_EQ(r, present[j] && model[j] == old);
            if (r) count--, present[j] = false;
            break;
        case 7:
            r = gomap_sync_delete(a->m, &k);
            CHECK_EQ(r, present[j]);
            if (r) count--, present[j] = false;
            break;
        default: { /* someone else's key: any well-formed value */
            uint64_t ok = trand(a) % ((uint64_t)a->nthreads * DJ_KEYS);
            if (gomap_sync_load(a->m, &ok, &out) == 1) CHECK(val_ok(ok, out));
            break;
        }
        }
    }
    for (uint64_t j = 0; j < DJ_KEYS; j++) {
        uint64_t k = base + j, out;
        int r = gomap_sync_load(a->m, &k, &out);
        CHECK_EQ(r, present[j]);
        if (r) CHECK_EQ(out, model[j]);
    }
    a->counter = count;
    return NULL;
}

static void test_disjoint(int n, int hash_mode) {
    gomap_sync *m = new_map(hash_mode);
    targ args[16];
    memset(args, 0, sizeof args);
    run_threads(n, disjoint_thread, args, m, tu_scaled(240000, 12000) / n);
    long long total = 0;
    for (int i = 0; i < n; i++) total += args[i].counter;
    CHECK_EQ(gomap_sync_len(m), total);
    finish_map(m);
}

/* ---- chaos: everything on a small shared key set --------------------------------------- */

#define CH_KEYS 96

typedef struct rseen {
    uint8_t seen[CH_KEYS];
} rseen;

static bool range_chaos(const void *key, const void *val, void *ctx) {
    uint64_t k, v;
    memcpy(&k, key, 8);
    memcpy(&v, val, 8);
    rseen *s = (rseen *)ctx;
    CHECK(k < CH_KEYS);
    CHECK_EQ(s->seen[k], 0); /* never a key twice */
    s->seen[k] = 1;
    CHECK(val_ok(k, v));
    return true;
}

static void *chaos_thread(void *p) {
    targ *a = (targ *)p;
    pthread_barrier_wait(a->start);
    for (long i = 0; i < a->ops; i++) {
        uint64_t k = trand(a) % CH_KEYS, v = mkval(k, trand(a)), out = 0, old;
        int r;
        unsigned op = (unsigned)(trand(a) % 100);
        if (op < 25) {
            if (gomap_sync_load(a->m, &k, &out) == 1) CHECK(val_ok(k, out));
        } else if (op < 40) {
            CHECK(gomap_sync_store(a->m, &k, &v) >= 0);
        } else if (op < 50) {
            r = gomap_sync_load_or_store(a->m, &k, &v, &out);
            CHECK(r >= 0);
            CHECK(val_ok(k, out));
        } else if (op < 60) {
            if (gomap_sync_load_and_delete(a->m, &k, &out) == 1) CHECK(val_ok(k, out));
        } else if (op < 68) {
            CHECK(gomap_sync_delete(a->m, &k) >= 0);
        } else if (op < 76) {
            if (gomap_sync_swap(a->m, &k, &v, &out) == 1) CHECK(val_ok(k, out));
        } else if (op < 86) {
            if (gomap_sync_load(a->m, &k, &old) == 1) CHECK(gomap_sync_compare_and_swap(a->m, &k, &old, &v) >= 0);
        } else if (op < 95) {
            if (gomap_sync_load(a->m, &k, &old) == 1) CHECK(gomap_sync_compare_and_delete(a->m, &k, &old) >= 0);
        } else if (op < 98) {
            rseen s;
            memset(&s, 0, sizeof s);
            CHECK_EQ(gomap_sync_range(a->m, range_chaos, &s), GOMAP_OK);
        } else if (op < 99) {
            (void)gomap_sync_len(a->m);
        } else {
            unsigned rare = (unsigned)(trand(a) % 64);
            if (rare == 0) CHECK_EQ(gomap_sync_clear(a->m), GOMAP_OK);
            else if (rare == 1) CHECK_EQ(gomap_sync_barrier(), GOMAP_OK);
            else if (rare == 2) CHECK_EQ(gomap_sync_thread_detach(), GOMAP_OK);
        }
    }
    return NULL;
}

static size_t g_count_n;
static bool count_fn(const void *key, const void *val, void *ctx) {
    (void)key;
    (void)val;
    (void)ctx;
    g_count_n++;
    return true;
}

static void test_chaos(int n, int hash_mode) {
    gomap_sync *m = new_map(hash_mode);
    targ args[16];
    memset(args, 0, sizeof args);
    run_threads(n, chaos_thread, args, m, tu_scaled(240000, 12000) / n);
    CHECK_SYNC(m);
    g_count_n = 0;
    CHECK_EQ(gomap_sync_range(m, count_fn, NULL), GOMAP_OK);
    CHECK_EQ(gomap_sync_len(m), g_count_n);
    /* delete everything: the trie prunes back to the root */
    for (uint64_t k = 0; k < CH_KEYS; k++) gomap_sync_delete(m, &k);
    gomap_sync_stats st;
    gomap_sync_stats_get(m, &st);
    CHECK_EQ(st.inodes, 1);
    CHECK_EQ(st.entries, 0);
    finish_map(m);
}

/* ---- range under churn: stable keys always seen, none twice ---------------------------- */

#define RG_KEYS 2048 /* even keys are stable, odd keys churn */

typedef struct rgseen {
    uint8_t seen[RG_KEYS];
} rgseen;

static bool range_rg(const void *key, const void *val, void *ctx) {
    uint64_t k, v;
    memcpy(&k, key, 8);
    memcpy(&v, val, 8);
    rgseen *s = (rgseen *)ctx;
    CHECK(k < RG_KEYS);
    CHECK_EQ(s->seen[k], 0);
    s->seen[k] = 1;
    CHECK(val_ok(k, v));
    if (k % 2 == 0) CHECK_EQ(v, mkval(k, 7));
    return true;
}

static void *range_thread(void *p) {
    targ *a = (targ *)p;
    pthread_barrier_wait(a->start);
    if (a->id == 0) { /* the ranger */
        long rounds = a->ops / 2000 + 1;
        for (long r = 0; r < rounds; r++) {
            rgseen s;
            memset(&s, 0, sizeof s);
            CHECK_EQ(gomap_sync_range(a->m, range_rg, &s), GOMAP_OK);
            for (uint64_t k = 0; k < RG_KEYS; k += 2) CHECK_EQ(s.seen[k], 1);
        }
        return NULL;
    }
    for (long i = 0; i < a->ops; i++) {
        uint64_t k = (trand(a) % (RG_KEYS / 2)) * 2 + 1, v = mkval(k, trand(a));
        if (trand(a) & 1)
            gomap_sync_store(a->m, &k, &v);
        else
            gomap_sync_delete(a->m, &k);
    }
    return NULL;
}

static void test_range_churn(int n) {
    gomap_sync *m = new_map(0);
    for (uint64_t k = 0; k < RG_KEYS; k += 2) {
        uint64_t v = mkval(k, 7);
        CHECK_EQ(gomap_sync_store(m, &k, &v), 1);
    }
    targ args[16];
    memset(args, 0, sizeof args);
    run_threads(n, range_thread, args, m, tu_scaled(160000, 8000) / n);
    finish_map(m);
}

int main(void) {
    static const int counts[] = {2, 4, 8, 16};
    for (int i = 0; i < 4; i++) {
        int n = counts[i];
        fprintf(stderr, "threads: %d\n", n);
        RUN_N(test_counters(n));
        RUN_N(test_winners(n));
        RUN_N(test_exclusive(n));
        RUN_N(test_disjoint(n, 0));
        RUN_N(test_disjoint(n, 2));
        RUN_N(test_chaos(n, 0));
        RUN_N(test_chaos(n, 1));
        RUN_N(test_chaos(n, 2));
        RUN_N(test_range_churn(n));
    }
    return tu_finish();
}

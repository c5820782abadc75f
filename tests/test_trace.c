/*
 * test_trace.c -- trace events (gomap_set_tracer), the probe counters and
 * the chain histogram, counted exactly; and the trace file (trace.c).
 *
 * Public API only: a key's bucket is worked out as the map does it,
 * gomap_hash_u64(key, seed) & (2^B - 1), with the seed from gomap_stats.
 *
 * Run with `--export DIR` it also writes DIR/trace.json through a
 * trace file and DIR/events.txt, one line "seq kind" per event the tracer
 * received; tests/trace_check.py then parses the JSON with python's json
 * module and matches the two.
 *
 * A library built with GOMAP_TRACE=OFF has no events: the test says so
 * and exits 77, which ctest counts as skipped.
 */
#include "testutil.h"

#include <errno.h>
#include <unistd.h>

/* ---- a recording tracer ------------------------------------------------------- */

#define MAX_EVENTS 20000
typedef struct recorder {
    gomap_event ev[MAX_EVENTS];
    size_t n;
    uint64_t next_seq;
    gomap_trace_file *chain; /* also hand every event to this trace file */
} recorder;

static recorder rec;

static void record(void *ctx, const gomap_event *ev) {
    recorder *r = (recorder *)ctx;
    CHECK(ev->seq == r->next_seq); /* numbered in order, none lost */
    r->next_seq++;
    /* The tracer may read the stats. */
    gomap_stats st;
    gomap_stats_get(ev->map, &st);
    CHECK_EQ(st.count, ev->count);
    CHECK_EQ(st.B, ev->B);
    if (r->n < MAX_EVENTS) r->ev[r->n++] = *ev;
    if (r->chain) gomap_trace_record(r->chain, ev);
}

static void rec_reset(void) {
    rec.n = 0;
    rec.chain = NULL;
}

static size_t count_kind(enum gomap_event_kind k) {
    size_t c = 0;
    for (size_t i = 0; i < rec.n; i++) c += rec.ev[i].kind == k;
    return c;
}

static const gomap_event *find_kind(enum gomap_event_kind k, size_t nth) {
    for (size_t i = 0; i < rec.n; i++)
        if (rec.ev[i].kind == k && nth-- == 0) return &rec.ev[i];
    return NULL;
}

static gomap *new_u64(int64_t hint) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, hint);
    CHECK(m);
    rec.next_seq = 0;
    int rc = gomap_set_tracer(m, record, &rec);
    if (rc == GOMAP_ENOTSUP) {
        printf("tracing compiled out (GOMAP_TRACE=OFF): skipped\n");
        gomap_free(m);
        exit(77);
    }
    CHECK_EQ(rc, GOMAP_OK);
    return m;
}

static void put(gomap *m, uint64_t k) { CHECK(gomap_put(m, &k, &k) >= 0); }

static size_t bucket_of(const gomap *m, uint64_t k) {
    gomap_stats st;
    gomap_stats_get(m, &st);
    return (size_t)(gomap_hash_u64(k, st.seed) & (st.buckets - 1));
}

/* The first n keys (from `from` on) that fall into bucket b. */
static void keys_in_bucket(const gomap *m, size_t b, uint64_t from, uint64_t *out, size_t n) {
    for (uint64_t k = from; n; k++)
        if (bucket_of(m, k) == b) {
            *out++ = k;
            n--;
        }
}

/* ---- the events --------------------------------------------------------------- */

static void test_first_grow(void) {
    rec_reset();
    gomap *m = new_u64(0);
    for (uint64_t k = 1; k <= 9; k++) put(m, k);
    CHECK_EQ(count_kind(GOMAP_EV_GROW_START), 1);
    const gomap_event *g = find_kind(GOMAP_EV_GROW_START, 0);
    CHECK_EQ(g->old_B, 0);
    CHECK_EQ(g->B, 1);
    CHECK(!g->same_size);
    CHECK_EQ(g->count, 8); /* the 9th insert starts it, before it stores */
    CHECK_EQ(g->old_buckets, 1);
    CHECK(g->map == m);
    gomap_free(m);
}

static void test_collapse(void) {
    rec_reset();
    gomap *m = new_u64(50); /* B = 3, no grow below 53 entries */
    uint64_t k[3];
    keys_in_bucket(m, 5, 1, k, 3);
    for (int i = 0; i < 3; i++) put(m, k[i]); /* slots 0, 1, 2 of bucket 5 */
    CHECK_EQ(gomap_delete(m, &k[1]), 1);      /* slot 1: a tombstone */
    CHECK_EQ(count_kind(GOMAP_EV_COLLAPSE), 0);
    CHECK_EQ(gomap_delete(m, &k[2]), 1);      /* the last live slot: 2 and 1 collapse */
    CHECK_EQ(count_kind(GOMAP_EV_COLLAPSE), 1);
    const gomap_event *c = find_kind(GOMAP_EV_COLLAPSE, 0);
    CHECK_EQ(c->bucket, 5);
    CHECK_EQ(c->marked, 2);
    CHECK_EQ(c->count, 1);
    CHECK_EQ(gomap_delete(m, &k[0]), 1); /* the chain's last: one slot, and a new seed */
    CHECK_EQ(count_kind(GOMAP_EV_COLLAPSE), 2);
    CHECK_EQ(find_kind(GOMAP_EV_COLLAPSE, 1)->marked, 1);
    CHECK_EQ(count_kind(GOMAP_EV_SEED), 1);
    const gomap_event *s = find_kind(GOMAP_EV_SEED, 0);
    CHECK_EQ(s->reason, GOMAP_SEED_EMPTIED);
    CHECK(s->old_seed != s->new_seed);
    gomap_stats st;
    gomap_stats_get(m, &st);
    CHECK(st.seed == s->new_seed);
    CHECK_MAP(m);
    gomap_free(m);
}

static void test_slot_reuse(void) {
    rec_reset();
    gomap *m = new_u64(50);
    uint64_t k[3];
    keys_in_bucket(m, 2, 1, k, 3);
    put(m, k[0]);
    put(m, k[1]);
    CHECK_EQ(gomap_delete(m, &k[0]), 1); /* slot 0: a tombstone before a live slot */
    CHECK_EQ(count_kind(GOMAP_EV_COLLAPSE), 0);
    CHECK_EQ(count_kind(GOMAP_EV_SLOT_REUSE), 0);
    put(m, k[2]);                        /* takes slot 0 again */
    CHECK_EQ(count_kind(GOMAP_EV_SLOT_REUSE), 1);
    const gomap_event *r = find_kind(GOMAP_EV_SLOT_REUSE, 0);
    CHECK_EQ(r->bucket, 2);
    CHECK_EQ(r->slot, 0);
    CHECK_EQ(r->chain_pos, 0);
    CHECK_EQ(r->count, 2);
    put(m, k[2]); /* an update reuses nothing */
    CHECK_EQ(count_kind(GOMAP_EV_SLOT_REUSE), 1);
    gomap_stats st;
    gomap_stats_get(m, &st);
    CHECK_EQ(st.slot_reuses, 1);
    gomap_free(m);
}

static void test_overflow(void) {
    rec_reset();
    gomap *m = new_u64(50);
    uint64_t k[17];
    keys_in_bucket(m, 0, 1, k, 17);
    for (int i = 0; i < 8; i++) put(m, k[i]);
    CHECK_EQ(count_kind(GOMAP_EV_OVERFLOW), 0);
    put(m, k[8]);
    CHECK_EQ(count_kind(GOMAP_EV_OVERFLOW), 1);
    const gomap_event *o = find_kind(GOMAP_EV_OVERFLOW, 0);
    CHECK_EQ(o->bucket, 0);
    CHECK_EQ(o->chain_len, 2);
    CHECK(!o->evacuating);
    for (int i = 9; i < 17; i++) put(m, k[i]);
    CHECK_EQ(count_kind(GOMAP_EV_OVERFLOW), 2);
    CHECK_EQ(find_kind(GOMAP_EV_OVERFLOW, 1)->chain_len, 3);

    /* The chain histogram: one chain of 3 buckets, seven of 1. */
    size_t hist[8];
    CHECK_EQ(gomap_stats_chains(m, hist, 8), GOMAP_OK);
    CHECK_EQ(hist[0], 7);
    CHECK_EQ(hist[1], 0);
    CHECK_EQ(hist[2], 1);
    size_t two[2];
    CHECK_EQ(gomap_stats_chains(m, two, 2), GOMAP_OK); /* 1, and 2 or more */
    CHECK_EQ(two[0], 7);
    CHECK_EQ(two[1], 1);
    CHECK_EQ(gomap_stats_chains(m, NULL, 8), GOMAP_EINVAL);
    CHECK_EQ(gomap_stats_chains(m, hist, 0), GOMAP_EINVAL);
    CHECK_EQ(gomap_stats_chains(NULL, hist, 8), GOMAP_OK);
    CHECK_EQ(hist[0], 0);
    gomap_free(m);
}

/* Writes during a grow evacuate every old bucket exactly once, and the
   entries they send to X and Y add up to the entries there were. */
static void test_evacuation_covers(void) {
    for (int round = 0; round < 3; round++) {
        rec_reset();
        gomap *m = new_u64(0);
        uint64_t k = 1;
        gomap_stats st;
        for (int i = 0; i < 3 + round; i++) { /* a few grows: 0 -> 1 -> 2 ... */
            size_t before = count_kind(GOMAP_EV_GROW_START);
            while (count_kind(GOMAP_EV_GROW_START) == before) put(m, k++);
            const gomap_event *g = find_kind(GOMAP_EV_GROW_START, before);
            size_t first = (size_t)(g - rec.ev);
            size_t old_n = rec.ev[first].old_buckets, had = rec.ev[first].count;
            for (gomap_stats_get(m, &st); st.growing; gomap_stats_get(m, &st)) put(m, k++);
            CHECK_EQ(count_kind(GOMAP_EV_GROW_DONE), before + 1);
            unsigned char *seen = calloc(old_n, 1);
            CHECK(seen);
            size_t moved = 0;
            for (size_t e = first; e < rec.n; e++) {
                if (rec.ev[e].kind != GOMAP_EV_EVACUATE) continue;
                CHECK(rec.ev[e].bucket < old_n);
                CHECK_EQ(seen[rec.ev[e].bucket], 0);
                seen[rec.ev[e].bucket] = 1;
                moved += rec.ev[e].to_x + rec.ev[e].to_y;
            }
            for (size_t b = 0; b < old_n; b++) CHECK_EQ(seen[b], 1);
            CHECK_EQ(moved, had);
            free(seen);
            const gomap_event *d = find_kind(GOMAP_EV_GROW_DONE, before);
            CHECK(!d->cleared);
            CHECK_EQ(d->old_buckets, 0);
            CHECK_EQ(d->B, d->old_B + 1);
        }
        CHECK_MAP(m);
        gomap_free(m);
    }
}

static void test_clear_and_iterators(void) {
    rec_reset();
    gomap *m = new_u64(0);
    for (uint64_t k = 1; k <= 100; k++) put(m, k);
    gomap_iter it;
    gomap_iter_init(&it, m);
    size_t n = 0;
    while (gomap_iter_next(&it)) n++;
    CHECK_EQ(n, 100);
    CHECK_EQ(count_kind(GOMAP_EV_ITER_START), 1);
    CHECK_EQ(count_kind(GOMAP_EV_ITER_DONE), 1);
    CHECK(find_kind(GOMAP_EV_ITER_START, 0)->iter == &it);
    CHECK(find_kind(GOMAP_EV_ITER_DONE, 0)->iter == &it);
    gomap_iter_done(&it); /* already done: no second event */
    CHECK_EQ(count_kind(GOMAP_EV_ITER_DONE), 1);

    /* Clear in the middle of a grow: the grow ends, then the clear, then
       the seed. */
    gomap_stats st;
    uint64_t k = 1000;
    for (gomap_stats_get(m, &st); !st.growing; gomap_stats_get(m, &st)) put(m, k++);
    size_t count = st.count;
    uint64_t seed = st.seed;
    size_t at = rec.n;
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    CHECK_EQ(rec.n, at + 3);
    CHECK_EQ(rec.ev[at].kind, GOMAP_EV_GROW_DONE);
    CHECK(rec.ev[at].cleared);
    CHECK_EQ(rec.ev[at + 1].kind, GOMAP_EV_CLEAR);
    CHECK_EQ(rec.ev[at + 1].removed, count);
    CHECK_EQ(rec.ev[at + 1].count, 0);
    CHECK_EQ(rec.ev[at + 2].kind, GOMAP_EV_SEED);
    CHECK_EQ(rec.ev[at + 2].reason, GOMAP_SEED_CLEAR);
    CHECK(rec.ev[at + 2].old_seed == seed);
    gomap_stats_get(m, &st);
    CHECK(rec.ev[at + 2].new_seed == st.seed);

    /* No tracer, no events. */
    CHECK_EQ(gomap_set_tracer(m, NULL, NULL), GOMAP_OK);
    at = rec.n;
    for (k = 1; k <= 200; k++) put(m, k);
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    CHECK_EQ(rec.n, at);
    CHECK_EQ(gomap_set_tracer(NULL, record, &rec), GOMAP_EINVAL);
    CHECK(strcmp(gomap_event_name(GOMAP_EV_COLLAPSE), "collapse") == 0);
    CHECK(strcmp(gomap_event_name((enum gomap_event_kind)99), "unknown") == 0);
    gomap_free(m);
}

/* ---- the probe counters --------------------------------------------------------- */

static void test_probe_counters(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 50); /* B = 3: no grow below 53 */
    CHECK(m);
    gomap_probe_stats p;
    for (uint64_t k = 1; k <= 40; k++) put(m, k);
    gomap_probe_stats_get(m, &p);
    CHECK_EQ(p.ops, 0); /* counting is off */
    gomap_set_counting(m, true);
    uint64_t hits = 0, misses = 0;
    for (uint64_t k = 1; k <= 80; k++) {
        if (gomap_get(m, &k)) hits++;
        else misses++;
    }
    CHECK_EQ(hits, 40);
    uint64_t absent = 1000;
    CHECK_EQ(gomap_delete(m, &absent), 0);
    CHECK_EQ(gomap_delete(m, &hits), 1); /* key 40 */
    CHECK_EQ(gomap_put(m, &absent, &absent), 1);
    CHECK_EQ(gomap_put(m, &absent, &absent), 0);
    gomap_probe_stats_get(m, &p);
    CHECK_EQ(p.hits, 40 + 1 + 1);       /* the gets, the delete, the update */
    CHECK_EQ(p.misses, misses + 1 + 1); /* the gets, the delete, the insert */
    CHECK_EQ(p.ops, p.hits + p.misses);
    CHECK(p.hit_buckets >= p.hits && p.miss_buckets >= p.misses);
    CHECK(p.hit_slots >= p.hits); /* a hit compares its own key at least */
    CHECK_EQ(p.false_matches, p.hit_slots - p.hits + p.miss_slots);
    CHECK_EQ(p.overflow_walked, p.hit_buckets + p.miss_buckets - p.ops);
    gomap_stats st;
    gomap_stats_get(m, &st);
    CHECK_EQ(st.visited_buckets, p.hit_buckets + p.miss_buckets);
    CHECK_EQ(st.visited_slots, p.hit_slots + p.miss_slots);

    /* A chain of 3: a miss there reads all three buckets. */
    gomap_set_counting(m, false);
    gomap_clear(m);
    uint64_t k[20];
    keys_in_bucket(m, 4, 1, k, 20);
    for (int i = 0; i < 17; i++) put(m, k[i]);
    gomap_set_counting(m, true);
    gomap_probe_stats q;
    gomap_probe_stats_get(m, &p);
    CHECK(gomap_get(m, &k[16])); /* in the third bucket */
    CHECK(!gomap_get(m, &k[19]));
    gomap_probe_stats_get(m, &q);
    CHECK_EQ(q.hit_buckets - p.hit_buckets, 3);
    CHECK_EQ(q.miss_buckets - p.miss_buckets, 3);
    CHECK_EQ(q.overflow_walked - p.overflow_walked, 4);
    gomap_probe_stats_get(NULL, &q);
    CHECK_EQ(q.ops, 0);
    gomap_probe_stats_get(m, NULL);
    gomap_free(m);
}

/* ---- the trace file ------------------------------------------------------------- */

/* A workload with every kind of event: grows, deletes, reuses, chains,
   iterators, a clear. */
static void workload(gomap *m) {
    uint64_t k;
    for (k = 1; k <= 3000; k++) put(m, k);
    for (k = 1; k <= 3000; k += 3) CHECK_EQ(gomap_delete(m, &k), 1);
    for (k = 5001; k <= 5600; k++) put(m, k);
    gomap_iter it;
    gomap_iter_init(&it, m);
    for (int i = 0; i < 10 && gomap_iter_next(&it); i++) {}
    gomap_iter_done(&it);
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it)) {}
    CHECK_EQ(gomap_clear(m), GOMAP_OK);
    for (k = 1; k <= 100; k++) put(m, k);
    for (k = 1; k <= 100; k++) CHECK_EQ(gomap_delete(m, &k), 1);
}

static void test_trace_file(const char *dir) {
    char path[4096], events[4096];
    snprintf(path, sizeof path, "%s/trace.json", dir ? dir : "/tmp");
    snprintf(events, sizeof events, "%s/events.txt", dir ? dir : "/tmp");
    if (!dir) snprintf(path, sizeof path, "/tmp/gomap_test_trace_%d.json", (int)getpid());
    gomap_trace_file *tf = gomap_trace_open(path);
    CHECK(tf);
    rec_reset();
    gomap *m = new_u64(0);
    rec.chain = tf;
    workload(m);
    /* A second map, attached directly. */
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m2 = gomap_new(&t, 0);
    CHECK(m2);
    CHECK_EQ(gomap_trace_attach(m2, tf), GOMAP_OK);
    for (uint64_t k = 1; k <= 100; k++) put(m2, k);
    uint64_t written, seen;
    CHECK_EQ(gomap_trace_counts(tf, &written, &seen), GOMAP_OK);
    CHECK(written == seen); /* a small run: nothing sampled out */
    CHECK(seen > rec.n);    /* m2's events too */
    gomap_free(m2);         /* detaches it */
    CHECK_EQ(gomap_set_tracer(m, NULL, NULL), GOMAP_OK);
    CHECK_EQ(gomap_trace_close(tf), GOMAP_OK);
    CHECK(rec.n > 100);
    if (dir) {
        FILE *f = fopen(events, "w");
        CHECK(f);
        for (size_t i = 0; i < rec.n; i++)
            fprintf(f, "%llu %s\n", (unsigned long long)rec.ev[i].seq, gomap_event_name(rec.ev[i].kind));
        CHECK(fclose(f) == 0);
    } else {
        remove(path);
    }
    gomap_free(m);

    /* Errors are return codes. */
    CHECK(gomap_trace_open(NULL) == NULL);
    CHECK(gomap_trace_open("/nonexistent-dir/x/trace.json") == NULL);
    CHECK_EQ(gomap_trace_close(NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_trace_attach(NULL, NULL), GOMAP_EINVAL);
    CHECK_EQ(gomap_trace_counts(NULL, NULL, NULL), GOMAP_EINVAL);
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        fclose(full);
        tf = gomap_trace_open("/dev/full");
        CHECK(tf);
        m = gomap_new(&t, 0);
        CHECK(m);
        CHECK_EQ(gomap_trace_attach(m, tf), GOMAP_OK);
        for (uint64_t k = 1; k <= 20000; k++) put(m, k);
        gomap_free(m);
        CHECK_EQ(gomap_trace_close(tf), GOMAP_EIO);
    }
}

/* A long run: the file stays bounded, and says it was sampled. */
static void test_trace_sampling(void) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/gomap_test_sample_%d.json", (int)getpid());
    gomap_trace_file *tf = gomap_trace_open(path);
    CHECK(tf);
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m);
    CHECK_EQ(gomap_trace_attach(m, tf), GOMAP_OK);
    long n = tu_scaled(400000, 100000);
    for (uint64_t k = 1; k <= (uint64_t)n; k++) put(m, k);
    uint64_t written, seen;
    CHECK_EQ(gomap_trace_counts(tf, &written, &seen), GOMAP_OK);
    CHECK(seen > (uint64_t)GOMAP_TRACE_FULL);
    gomap_free(m);
    CHECK_EQ(gomap_trace_close(tf), GOMAP_OK);
    FILE *f = fopen(path, "r");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    remove(path);
    CHECK(size > 0);
    if (seen > 3 * (uint64_t)GOMAP_TRACE_FULL) CHECK(written < seen);
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    if (argc == 3 && strcmp(argv[1], "--export") == 0) dir = argv[2];
    RUN(test_first_grow);
    RUN(test_collapse);
    RUN(test_slot_reuse);
    RUN(test_overflow);
    RUN(test_evacuation_covers);
    RUN(test_clear_and_iterators);
    RUN(test_probe_counters);
    test_trace_file(dir);
    tu_passed++;
    fprintf(stderr, "  %-40s ok\n", "test_trace_file");
    RUN(test_trace_sampling);
    return tu_finish();
}

/*
 * trace.c -- a ready-made tracer (gomap_set_tracer) that writes a trace
 * file for ui.perfetto.dev or chrome://tracing.
 *
 * Format.  The Chrome Trace Event format, as JSON: {"traceEvents": [...],
 * "otherData": {...}}.  Both viewers open it as it is.  Perfetto's own
 * format is protobuf, which is smaller and faster to load, but writing it
 * needs either the protobuf library and Perfetto's schema (neither of
 * which this library may depend on) or a hand-rolled varint encoder kept
 * in step with that schema; and a JSON file can be read, grepped and
 * checked by a test with any JSON parser.  The price is size: about 150
 * bytes an event, which the sampling below bounds.
 *
 * Layout of the trace.  Each map attached is a "process" of its own
 * (pid 1, 2, ... in the order the maps were first seen, named "gomap map
 * N"), with one thread track:
 *   - a grow is a span ("B" at its start, "E" at its end), and each old
 *     bucket evacuated a zero-length slice ("X") inside it, with where its
 *     entries went;
 *   - overflow buckets, slot reuses, tombstone collapses, seed changes and
 *     clears are instant events ("i");
 *   - an iterator is an async span ("b" / "e", id: the iterator's
 *     address), since iterators overlap each other and the grows;
 *   - the entries, B, overflow buckets and bytes are counter tracks ("C").
 * Every event carries the map's event number (args.seq), so that a trace
 * can be matched against what the tracer was told.
 *
 * Sampling.  A map of 10^7 entries evacuates 2^20 old buckets in its last
 * grow alone; at 150 bytes each, every event of a long run would make a
 * file no viewer opens.  So per kind, the first GOMAP_TRACE_FULL events
 * are written, then one in 2, then (after GOMAP_TRACE_FULL more written)
 * one in 4, and so on: a run of n events of a kind writes about
 * GOMAP_TRACE_FULL * log2(n / GOMAP_TRACE_FULL) of them, and every part
 * of the run is represented.  Grow starts and ends, seed changes and
 * clears are always written (they are few, and the spans need both ends).
 * An iterator's end is written when its start was.  Counter samples go
 * with the events written, at most one per GOMAP_TRACE_COUNTER_US per
 * map, and always with grow starts and ends and clears.  The metadata
 * ("otherData") says so, and how many events of each kind were seen and
 * written.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A map the trace has seen: its pid, and its counter and grow state. */
typedef struct gm_trace_map {
    const gomap *m;
    unsigned pid;
    double last_counter_us; /* when counters were last written; < 0: never */
    bool in_grow;           /* a "B" was written and its "E" not yet */
} gm_trace_map;

#define GM_TRACE_OPEN_ITERS 1024 /* iterator spans open at once, at most */

struct gomap_trace_file {
    FILE *f;
    pthread_mutex_t lock;
    bool failed;         /* a write failed: the file is incomplete */
    bool any;            /* an event is written (a comma goes before the next) */
    struct timespec t0;  /* the file's time zero */
    uint64_t seen[GOMAP_EV_KINDS], written[GOMAP_EV_KINDS];
    gm_trace_map *maps;
    size_t nmaps, cap;
    unsigned next_pid;
    const void **iters; /* iterators whose start was written */
    size_t niters;
};

/* ---- writing -------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void gm_tf_printf(gomap_trace_file *tf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(tf->f, fmt, ap) < 0) tf->failed = true;
    va_end(ap);
}

static double gm_tf_now_us(const gomap_trace_file *tf) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - tf->t0.tv_sec) * 1e6 + (double)(t.tv_nsec - tf->t0.tv_nsec) / 1e3;
}

/* Start an event object: the comma, ph, name, cat, ts, pid, tid. */
static void gm_tf_begin(gomap_trace_file *tf, const char *ph, const char *name, const char *cat,
                        double ts, unsigned pid) {
    gm_tf_printf(tf, "%s\n{\"ph\":\"%s\",\"name\":\"%s\",\"cat\":\"%s\",\"ts\":%.3f,\"pid\":%u,\"tid\":1",
                 tf->any ? "," : "", ph, name, cat, ts, pid);
    tf->any = true;
}

gomap_trace_file *gomap_trace_open(const char *path) {
    if (!path) {
        errno = EINVAL;
        return NULL;
    }
    gomap_trace_file *tf = (gomap_trace_file *)calloc(1, sizeof *tf);
    if (!tf) return NULL;
    if (pthread_mutex_init(&tf->lock, NULL) != 0) {
        free(tf);
        return NULL;
    }
    tf->f = fopen(path, "w");
    if (!tf->f) {
        int e = errno;
        pthread_mutex_destroy(&tf->lock);
        free(tf);
        errno = e;
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &tf->t0);
    tf->next_pid = 1;
    gm_tf_printf(tf, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
    return tf;
}

/* The map's entry, added (with its process name) when new; NULL when
   memory ran out (its events are then dropped, and counted as seen). */
static gm_trace_map *gm_tf_map(gomap_trace_file *tf, const gomap *m, bool fresh) {
    for (size_t i = 0; i < tf->nmaps; i++)
        if (tf->maps[i].m == m) {
            if (!fresh) return &tf->maps[i];
            tf->maps[i] = tf->maps[--tf->nmaps]; /* attached again: a new track */
            break;
        }
    if (tf->nmaps == tf->cap) {
        size_t cap = tf->cap ? 2 * tf->cap : 4;
        gm_trace_map *p = (gm_trace_map *)realloc(tf->maps, cap * sizeof *p);
        if (!p) return NULL;
        tf->maps = p;
        tf->cap = cap;
    }
    gm_trace_map *e = &tf->maps[tf->nmaps++];
    e->m = m;
    e->pid = tf->next_pid++;
    e->last_counter_us = -1;
    e->in_grow = false; /* a grow under way when attached has no "B" */
    gm_tf_printf(tf, "%s\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,\"tid\":1,"
                     "\"args\":{\"name\":\"gomap map %u\"}}",
                 tf->any ? "," : "", e->pid, e->pid);
    gm_tf_printf(tf, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":1,"
                     "\"args\":{\"name\":\"operations\"}}",
                 e->pid);
    tf->any = true;
    return e;
}

int gomap_trace_attach(gomap *m, gomap_trace_file *tf) {
    if (!m || !tf) return GOMAP_EINVAL;
    pthread_mutex_lock(&tf->lock);
    gm_trace_map *e = gm_tf_map(tf, m, true);
    pthread_mutex_unlock(&tf->lock);
    if (!e) return GOMAP_ENOMEM;
    return gomap_set_tracer(m, gomap_trace_record, tf);
}

/* Should the event of kind k be written?  (Sampling: see the top.) */
static bool gm_tf_sample(gomap_trace_file *tf, enum gomap_event_kind k) {
    uint64_t index = tf->seen[k]++;
    if (k == GOMAP_EV_GROW_START || k == GOMAP_EV_GROW_DONE || k == GOMAP_EV_SEED ||
        k == GOMAP_EV_CLEAR)
        return true;
    uint64_t w = tf->written[k];
    if (w < GOMAP_TRACE_FULL) return true;
    uint64_t level = 1 + (w - GOMAP_TRACE_FULL) / GOMAP_TRACE_FULL;
    if (level > 62) level = 62;
    return (index & (((uint64_t)1 << level) - 1)) == 0;
}

static void gm_tf_counters(gomap_trace_file *tf, gm_trace_map *e, const gomap_event *ev, double ts,
                           bool always) {
    if (!always && e->last_counter_us >= 0 && ts - e->last_counter_us < GOMAP_TRACE_COUNTER_US)
        return;
    e->last_counter_us = ts;
    static const char *const names[4] = {"entries", "B", "overflow buckets", "bytes"};
    size_t vals[4] = {ev->count, ev->B, ev->overflow_buckets, ev->bytes};
    for (int i = 0; i < 4; i++) {
        gm_tf_begin(tf, "C", names[i], "counters", ts, e->pid);
        gm_tf_printf(tf, ",\"args\":{\"value\":%zu}}", vals[i]);
    }
}

/* Is iterator it's start written (and then forget it)? */
static bool gm_tf_iter_open(gomap_trace_file *tf, const void *it, bool remove) {
    for (size_t i = 0; i < tf->niters; i++)
        if (tf->iters[i] == it) {
            if (remove) tf->iters[i] = tf->iters[--tf->niters];
            return true;
        }
    return false;
}

static bool gm_tf_iter_add(gomap_trace_file *tf, const void *it) {
    if (!tf->iters) {
        tf->iters = (const void **)malloc(GM_TRACE_OPEN_ITERS * sizeof *tf->iters);
        if (!tf->iters) return false;
    }
    if (tf->niters == GM_TRACE_OPEN_ITERS) return false;
    if (!gm_tf_iter_open(tf, it, false)) tf->iters[tf->niters++] = it;
    return true;
}

/* Write one event (the lock held). */
static void gm_tf_event(gomap_trace_file *tf, const gomap_event *ev) {
    enum gomap_event_kind k = ev->kind;
    if ((unsigned)k >= GOMAP_EV_KINDS || k == 0) return;
    gm_trace_map *e = gm_tf_map(tf, ev->map, false);
    if (!e) {
        tf->seen[k]++;
        return;
    }
    bool write = gm_tf_sample(tf, k);
    if (k == GOMAP_EV_ITER_START) write = write && gm_tf_iter_add(tf, ev->iter);
    if (k == GOMAP_EV_ITER_DONE) write = gm_tf_iter_open(tf, ev->iter, true);
    if (!write) return;
    tf->written[k]++;
    double ts = gm_tf_now_us(tf);
    unsigned pid = e->pid;
    unsigned long long seq = (unsigned long long)ev->seq;
    bool always = false;
    switch (k) {
    case GOMAP_EV_GROW_START:
        gm_tf_begin(tf, "B", ev->same_size ? "same-size grow" : "grow", "grow", ts, pid);
        gm_tf_printf(tf, ",\"args\":{\"seq\":%llu,\"old_B\":%u,\"B\":%u,\"same_size\":%s,"
                         "\"count\":%zu,\"old_overflow\":%zu}}",
                     seq, ev->old_B, ev->B, ev->same_size ? "true" : "false", ev->count,
                     ev->old_overflow);
        e->in_grow = true;
        always = true;
        break;
    case GOMAP_EV_GROW_DONE:
        if (e->in_grow) {
            gm_tf_begin(tf, "E", ev->same_size ? "same-size grow" : "grow", "grow", ts, pid);
        } else { /* attached during the grow: no span to close */
            gm_tf_begin(tf, "i", "grow done", "grow", ts, pid);
            gm_tf_printf(tf, ",\"s\":\"t\"");
        }
        gm_tf_printf(tf, ",\"args\":{\"seq\":%llu,\"old_B\":%u,\"B\":%u,\"cleared\":%s}}", seq,
                     ev->old_B, ev->B, ev->cleared ? "true" : "false");
        e->in_grow = false;
        always = true;
        break;
    case GOMAP_EV_EVACUATE:
        gm_tf_begin(tf, "X", "evacuate", "grow", ts, pid);
        gm_tf_printf(tf, ",\"dur\":0,\"args\":{\"seq\":%llu,\"bucket\":%zu,\"to_x\":%zu,\"to_y\":%zu,"
                         "\"nevacuate\":%zu}}",
                     seq, ev->bucket, ev->to_x, ev->to_y, ev->nevacuate);
        break;
    case GOMAP_EV_OVERFLOW:
        gm_tf_begin(tf, "i", "overflow bucket", "chain", ts, pid);
        gm_tf_printf(tf, ",\"s\":\"t\",\"args\":{\"seq\":%llu,\"bucket\":%zu,\"chain_len\":%zu,"
                         "\"evacuating\":%s}}",
                     seq, ev->bucket, ev->chain_len, ev->evacuating ? "true" : "false");
        break;
    case GOMAP_EV_SLOT_REUSE:
        gm_tf_begin(tf, "i", "slot reuse", "chain", ts, pid);
        gm_tf_printf(tf, ",\"s\":\"t\",\"args\":{\"seq\":%llu,\"bucket\":%zu,\"chain_pos\":%zu,"
                         "\"slot\":%u}}",
                     seq, ev->bucket, ev->chain_pos, ev->slot);
        break;
    case GOMAP_EV_COLLAPSE:
        gm_tf_begin(tf, "i", "collapse", "chain", ts, pid);
        gm_tf_printf(tf, ",\"s\":\"t\",\"args\":{\"seq\":%llu,\"bucket\":%zu,\"marked\":%zu}}",
                     seq, ev->bucket, ev->marked);
        break;
    case GOMAP_EV_SEED:
        gm_tf_begin(tf, "i", "seed", "map", ts, pid);
        gm_tf_printf(tf, ",\"s\":\"t\",\"args\":{\"seq\":%llu,\"reason\":\"%s\","
                         "\"old_seed\":\"0x%016llx\",\"new_seed\":\"0x%016llx\"}}",
                     seq, ev->reason == GOMAP_SEED_CLEAR ? "clear" : "emptied",
                     (unsigned long long)ev->old_seed, (unsigned long long)ev->new_seed);
        break;
    case GOMAP_EV_CLEAR:
        gm_tf_begin(tf, "i", "clear", "map", ts, pid);
        gm_tf_printf(tf, ",\"s\":\"t\",\"args\":{\"seq\":%llu,\"removed\":%zu}}", seq, ev->removed);
        always = true;
        break;
    case GOMAP_EV_ITER_START:
    case GOMAP_EV_ITER_DONE:
        gm_tf_begin(tf, k == GOMAP_EV_ITER_START ? "b" : "e", "iterator", "iter", ts, pid);
        gm_tf_printf(tf, ",\"id\":\"0x%llx\",\"args\":{\"seq\":%llu,\"start_bucket\":%zu}}",
                     (unsigned long long)(uintptr_t)ev->iter, seq, ev->bucket);
        break;
    }
    gm_tf_counters(tf, e, ev, ts, always);
}

void gomap_trace_record(void *ctx, const gomap_event *ev) {
    gomap_trace_file *tf = (gomap_trace_file *)ctx;
    if (!tf || !ev) return;
    pthread_mutex_lock(&tf->lock);
    gm_tf_event(tf, ev);
    pthread_mutex_unlock(&tf->lock);
}

int gomap_trace_counts(gomap_trace_file *tf, uint64_t *written, uint64_t *seen) {
    if (!tf) return GOMAP_EINVAL;
    uint64_t w = 0, s = 0;
    pthread_mutex_lock(&tf->lock);
    for (int k = 0; k < GOMAP_EV_KINDS; k++) {
        w += tf->written[k];
        s += tf->seen[k];
    }
    pthread_mutex_unlock(&tf->lock);
    if (written) *written = w;
    if (seen) *seen = s;
    return GOMAP_OK;
}

static void gm_tf_kind_counts(gomap_trace_file *tf, const char *name, const uint64_t *c) {
    gm_tf_printf(tf, ",\"%s\":{", name);
    for (int k = 1; k < GOMAP_EV_KINDS; k++)
        gm_tf_printf(tf, "%s\"%s\":%llu", k > 1 ? "," : "",
                     gomap_event_name((enum gomap_event_kind)k), (unsigned long long)c[k]);
    gm_tf_printf(tf, "}");
}

int gomap_trace_close(gomap_trace_file *tf) {
    if (!tf) return GOMAP_EINVAL;
    pthread_mutex_lock(&tf->lock);
    uint64_t seen = 0, written = 0;
    for (int k = 0; k < GOMAP_EV_KINDS; k++) {
        seen += tf->seen[k];
        written += tf->written[k];
    }
    gm_tf_printf(tf, "\n],\n\"otherData\":{\"generator\":\"gomap %d.%d.%d\",\"sampled\":%s,"
                     "\"sampling\":\"per kind: the first %d events written, then 1 in 2, then "
                     "(after %d more) 1 in 4, and so on; grow starts and ends, seeds and clears "
                     "always; an iterator's end when its start was\","
                     "\"full_per_kind\":%d,\"counter_min_interval_us\":%d,"
                     "\"events_seen\":%llu,\"events_written\":%llu",
                 GOMAP_VERSION_MAJOR, GOMAP_VERSION_MINOR, GOMAP_VERSION_PATCH,
                 seen != written ? "true" : "false", GOMAP_TRACE_FULL, GOMAP_TRACE_FULL,
                 GOMAP_TRACE_FULL, GOMAP_TRACE_COUNTER_US, (unsigned long long)seen,
                 (unsigned long long)written);
    gm_tf_kind_counts(tf, "seen", tf->seen);
    gm_tf_kind_counts(tf, "written", tf->written);
    gm_tf_printf(tf, "}}\n");
    bool failed = tf->failed || ferror(tf->f);
    if (fclose(tf->f) != 0) failed = true;
    pthread_mutex_unlock(&tf->lock);
    pthread_mutex_destroy(&tf->lock);
    free(tf->maps);
    free(tf->iters);
    free(tf);
    return failed ? GOMAP_EIO : GOMAP_OK;
}

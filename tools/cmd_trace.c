/*
 * cmd_trace.c -- `gomap trace`: run a workload on one map with the
 * library's trace-file tracer attached, and write a trace that
 * ui.perfetto.dev or chrome://tracing opens: each grow a span with its
 * evacuations, overflow buckets, slot reuses, collapses, seeds and clears
 * as instants, iterators as async spans, and the entries, B, overflow
 * buckets and bytes as counters.  Public API only.
 */
#include "commands.h"
#include "gomap.h"
#include "workload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: gomap trace [options] -o run.json\n"
            "\n"
            "Run a workload on one map and write its trace events (Chrome's JSON trace\n"
            "format) to run.json.  Open it at ui.perfetto.dev (\"Open trace file\") or in\n"
            "chrome://tracing.  Runs of more than %d events of a kind are sampled; the\n"
            "file's metadata says how.\n"
            "\n"
            "options:\n"
            "  -o, --output F   the trace file to write (required)\n"
            "%s"
            "  -h, --help       this help\n"
            "\n"
            "example: gomap trace --n 1000000 --ops insert=8,lookup=1 --deletes 10 -o run.json\n",
            GOMAP_TRACE_FULL, wl_help);
}

int cmd_trace(int argc, char **argv) {
    wl_opts o;
    wl_defaults(&o);
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = wl_parse_option(&o, argc, argv, &i, "trace");
        if (r < 0) return 2;
        if (r > 0) continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gomap trace: %s needs a file name\n", a);
                return 2;
            }
            out = argv[++i];
            continue;
        }
        fprintf(stderr, "gomap trace: unknown option '%s' (see gomap trace --help)\n", a);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "gomap trace: no output file: give -o run.json (see gomap trace --help)\n");
        return 2;
    }
    gomap *m = wl_new_map(&o);
    if (!m) {
        fprintf(stderr, "gomap trace: out of memory\n");
        return 1;
    }
    gomap_trace_file *tf = gomap_trace_open(out);
    if (!tf) {
        fprintf(stderr, "gomap trace: cannot create %s: %s\n", out, strerror(errno));
        gomap_free(m);
        return 1;
    }
    int rc = gomap_trace_attach(m, tf);
    if (rc != GOMAP_OK) {
        fprintf(stderr, "gomap trace: cannot trace the map: %s\n", gomap_strerror(rc));
        gomap_free(m);
        gomap_trace_close(tf);
        remove(out);
        return 1;
    }
    int64_t done = wl_run(&o, m, NULL, NULL);
    gomap_stats st;
    gomap_stats_get(m, &st);
    gomap_set_tracer(m, NULL, NULL);
    uint64_t written = 0, seen = 0;
    gomap_trace_counts(tf, &written, &seen);
    gomap_free(m);
    rc = gomap_trace_close(tf);
    if (rc != GOMAP_OK) {
        fprintf(stderr, "gomap trace: writing %s failed: %s\n", out, gomap_strerror(rc));
        return 1;
    }
    if (done < 0) return 1;
    printf("%lld operations: %zu entries at the end, B = %u, %llu grows\n", (long long)done,
           st.count, st.B, (unsigned long long)st.grows);
    printf("%llu events, %llu written%s to %s\n", (unsigned long long)seen,
           (unsigned long long)written, written < seen ? " (sampled: see the file's metadata)" : "",
           out);
    printf("open it at https://ui.perfetto.dev (Open trace file) or in chrome://tracing\n");
    return 0;
}

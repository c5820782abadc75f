/*
 * cmd_inspect.c -- `gomap inspect`: run a workload on one map, stop it at a
 * chosen moment (halfway through the K-th grow, or after N operations), and
 * draw the map as one self-contained HTML page (gomap_render_html): every
 * bucket and chain, each slot by state, the old and new arrays side by side
 * during a grow.  Public API only.
 */
#include "commands.h"
#include "gomap.h"
#include "workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: gomap inspect [options] --stop-at WHEN -o map.html\n"
            "\n"
            "Run a workload on one map, stop it at WHEN, and draw the map as an HTML page\n"
            "(inline SVG, nothing fetched: open it in any browser).\n"
            "\n"
            "options:\n"
            "  --stop-at WHEN   grow:K:half  halfway through the K-th grow (K from 1):\n"
            "                                half of the old buckets evacuated\n"
            "                   grow:K:start right after the K-th grow started\n"
            "                   grow:K       the same as grow:K:half\n"
            "                   op:N         after N operations\n"
            "                   (default: the end of the workload)\n"
            "  -o, --output F   the page to write (required)\n"
            "%s"
            "  -h, --help       this help\n"
            "\n"
            "example: gomap inspect --n 1000 --stop-at grow:5:half -o map.html\n",
            wl_help);
}

typedef struct stop_at {
    int kind;      /* 0: the end, 1: a grow, 2: an operation */
    uint64_t k;    /* the grow (1-based) or the operation count */
    int half;      /* grow: halfway, not at its start */
    int reached;
    uint64_t ops;  /* operations done when stopped */
} stop_at;

static int parse_stop(const char *s, stop_at *st) {
    char *end;
    memset(st, 0, sizeof *st);
    if (strncmp(s, "op:", 3) == 0) {
        errno = 0;
        if (s[3] == '-' || !s[3]) return -1;
        st->k = strtoull(s + 3, &end, 10);
        if (errno || *end || st->k == 0) return -1;
        st->kind = 2;
        return 0;
    }
    if (strncmp(s, "grow:", 5) == 0) {
        errno = 0;
        if (s[5] == '-' || !s[5]) return -1;
        st->k = strtoull(s + 5, &end, 10);
        if (errno || st->k == 0) return -1;
        st->kind = 1;
        st->half = 1;
        if (*end == 0 || strcmp(end, ":half") == 0) return 0;
        if (strcmp(end, ":start") == 0) {
            st->half = 0;
            return 0;
        }
    }
    return -1;
}

static bool after_op(void *ctx, uint64_t i, gomap *m) {
    stop_at *st = (stop_at *)ctx;
    if (st->kind == 2) {
        st->reached = i + 1 >= st->k;
    } else if (st->kind == 1) {
        gomap_stats s;
        gomap_stats_get(m, &s);
        if (s.grows > st->k) {
            st->reached = 1; /* the grow finished within one write */
        } else if (s.grows == st->k) {
            if (!s.growing) st->reached = 1;
            else if (!st->half || s.nevacuate >= s.old_buckets / 2) st->reached = 1;
        }
    }
    if (st->reached) st->ops = i + 1;
    return st->reached;
}

int cmd_inspect(int argc, char **argv) {
    wl_opts o;
    wl_defaults(&o);
    o.n = 1000;
    const char *out = NULL;
    stop_at stop;
    memset(&stop, 0, sizeof stop);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = wl_parse_option(&o, argc, argv, &i, "inspect");
        if (r < 0) return 2;
        if (r > 0) continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 || strcmp(a, "--stop-at") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gomap inspect: %s needs a value (see --help)\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (a[2] == 's') {
                if (parse_stop(v, &stop)) {
                    fprintf(stderr, "gomap inspect: bad --stop-at '%s' (grow:K:half, grow:K:start "
                                    "or op:N, K and N from 1)\n", v);
                    return 2;
                }
            } else {
                out = v;
            }
            continue;
        }
        fprintf(stderr, "gomap inspect: unknown option '%s' (see gomap inspect --help)\n", a);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "gomap inspect: no output file: give -o map.html (see gomap inspect --help)\n");
        return 2;
    }
    if (stop.kind == 2 && stop.k > o.n) o.n = stop.k; /* op:N runs N operations */
    if (stop.kind == 1 && o.n == 1000) o.n = (uint64_t)1 << 40; /* until the grow */
    gomap *m = wl_new_map(&o);
    if (!m) {
        fprintf(stderr, "gomap inspect: out of memory\n");
        return 1;
    }
    int64_t done = wl_run(&o, m, stop.kind ? after_op : NULL, &stop);
    if (done < 0) {
        gomap_free(m);
        return 1;
    }
    if (stop.kind && !stop.reached)
        fprintf(stderr, "gomap inspect: the workload ended (%lld operations) before --stop-at; "
                        "drawing the map as it ended\n", (long long)done);
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "gomap inspect: cannot create %s: %s\n", out, strerror(errno));
        gomap_free(m);
        return 1;
    }
    int rc = gomap_render_html(m, f);
    if (fclose(f) != 0 && rc == GOMAP_OK) rc = GOMAP_EIO;
    gomap_stats s;
    gomap_stats_get(m, &s);
    gomap_free(m);
    if (rc != GOMAP_OK) {
        fprintf(stderr, "gomap inspect: writing %s failed: %s\n", out, gomap_strerror(rc));
        return 1;
    }
    printf("stopped after %lld operations: %zu entries, B = %u%s; wrote %s\n", (long long)done,
           s.count, s.B,
           s.growing ? (s.same_size ? ", same-size grow in progress" : ", growing") : "", out);
    return 0;
}

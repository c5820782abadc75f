/*
 * workload.c -- the workload of `gomap trace` and `gomap inspect` (see
 * workload.h).  Public API only.
 */
#include "workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const op_names[WL_NOPS] = {"insert", "lookup", "delete", "iterate", "clear"};

const char wl_help[] =
    "  --kind u64|str   key type: uint64_t, or 16-character strings (default u64)\n"
    "  --n N            operations to run (default 100000)\n"
    "  --ops MIX        the mix, as name[=weight],... of insert, lookup, delete,\n"
    "                   iterate, clear (default insert; e.g. insert=6,lookup=3,delete=1)\n"
    "  --deletes P      make P percent of the operations deletes, the rest in the\n"
    "                   proportions of --ops (0 <= P < 100)\n"
    "  --seed S         seed of the keys and choices (default 1)\n";

void wl_defaults(wl_opts *o) {
    memset(o, 0, sizeof *o);
    o->n = 100000;
    o->weight[WL_INSERT] = 1;
    o->deletes = -1;
    o->seed = 1;
}

static int parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int parse_mix(wl_opts *o, const char *arg) {
    unsigned w[WL_NOPS] = {0};
    char buf[256];
    if (strlen(arg) >= sizeof buf) return -1;
    strcpy(buf, arg);
    unsigned total = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        uint64_t weight = 1;
        if (eq) {
            *eq = 0;
            if (parse_u64(eq + 1, &weight) || weight > 1000000) return -1;
        }
        int k = -1;
        for (int j = 0; j < WL_NOPS; j++)
            if (strcmp(tok, op_names[j]) == 0) k = j;
        if (k < 0) return -1;
        w[k] += (unsigned)weight;
        total += (unsigned)weight;
    }
    if (total == 0) return -1;
    memcpy(o->weight, w, sizeof w);
    return 0;
}

int wl_parse_option(wl_opts *o, int argc, char **argv, int *i, const char *cmd) {
    const char *a = argv[*i];
    static const char *const names[] = {"--kind", "--n", "--ops", "--deletes", "--seed"};
    int which = -1;
    for (int j = 0; j < 5; j++)
        if (strcmp(a, names[j]) == 0) which = j;
    if (which < 0) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "gomap %s: %s needs a value (see --help)\n", cmd, a);
        return -1;
    }
    const char *v = argv[++*i];
    uint64_t x;
    switch (which) {
    case 0:
        if (strcmp(v, "u64") == 0) o->str = 0;
        else if (strcmp(v, "str") == 0) o->str = 1;
        else goto bad;
        return 1;
    case 1:
        if (parse_u64(v, &x) || x == 0 || x > (uint64_t)1 << 40) goto bad;
        o->n = x;
        return 1;
    case 2:
        if (parse_mix(o, v)) goto bad;
        return 1;
    case 3: {
        char *end;
        errno = 0;
        double p = strtod(v, &end);
        if (errno || *end || !(p >= 0 && p < 100)) goto bad;
        o->deletes = p;
        return 1;
    }
    default:
        if (parse_u64(v, &x)) goto bad;
        o->seed = x;
        return 1;
    }
bad:
    fprintf(stderr, "gomap %s: bad value for %s: '%s'", cmd, a, v);
    if (which == 0) fprintf(stderr, " (u64 or str)");
    if (which == 1) fprintf(stderr, " (a count from 1 to 2^40)");
    if (which == 2) fprintf(stderr, " (e.g. insert=6,lookup=3,delete=1; names: insert, lookup, delete, iterate, clear)");
    if (which == 3) fprintf(stderr, " (a percentage, 0 <= P < 100)");
    if (which == 4) fprintf(stderr, " (an unsigned integer)");
    fprintf(stderr, "\n");
    return -1;
}

gomap *wl_new_map(const wl_opts *o) {
    gomap_type t = o->str ? gomap_type_builtin(GOMAP_KEY_STR_COPY, 0, 8, 8) : GOMAP_TYPE_U64_U64;
    return gomap_new(&t, 0);
}

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The key of index j: a u64, or its 16 hex digits. */
typedef struct wl_key {
    uint64_t u;
    char text[17];
    gomap_str s;
} wl_key;

static const void *key_of(const wl_opts *o, wl_key *k, uint64_t j) {
    k->u = mix(o->seed * 0x9e3779b97f4a7c15ull + j + 1);
    if (!o->str) return &k->u;
    static const char hex[] = "0123456789abcdef";
    for (int d = 0; d < 16; d++) k->text[d] = hex[(k->u >> (60 - 4 * d)) & 15];
    k->text[16] = 0;
    k->s.ptr = k->text;
    k->s.len = 16;
    return &k->s;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int64_t wl_run(const wl_opts *o, gomap *m, wl_after_fn after, void *ctx) {
    /* Weights, with --deletes taking its share. */
    double w[WL_NOPS], total = 0;
    for (int j = 0; j < WL_NOPS; j++) total += o->weight[j];
    for (int j = 0; j < WL_NOPS; j++) w[j] = o->weight[j] / total;
    if (o->deletes >= 0) { /* deletes take P%, the others share the rest */
        double p = o->deletes / 100, other = total - o->weight[WL_DELETE];
        for (int j = 0; j < WL_NOPS; j++)
            w[j] = j == WL_DELETE ? p
                   : other > 0    ? o->weight[j] / other * (1 - p)
                   : j == WL_INSERT ? 1 - p
                                    : 0;
    }
    uint64_t cut[WL_NOPS]; /* op j when the draw is below cut[j] */
    double acc = 0;
    for (int j = 0; j < WL_NOPS; j++) {
        acc += w[j];
        cut[j] = acc >= 1 ? UINT64_MAX : (uint64_t)(acc * 18446744073709551615.0);
    }
    uint64_t rng = mix(o->seed ^ 0x676f6d6170776c31ull), inserted = 0;
    double t0 = now_s(), next_progress = t0 + 1;
    bool progress = false;
    uint64_t i;
    for (i = 0; i < o->n; i++) {
        rng = mix(rng + 0x9e3779b97f4a7c15ull);
        int op = 0;
        while (op < WL_NOPS - 1 && rng >= cut[op]) op++;
        wl_key k;
        uint64_t val = i + 1;
        if ((op == WL_LOOKUP || op == WL_DELETE) && inserted == 0) op = WL_INSERT;
        switch (op) {
        case WL_INSERT: {
            int rc = gomap_put(m, key_of(o, &k, inserted++), &val);
            if (rc < 0) {
                fprintf(stderr, "%sgomap: insert failed: %s\n", progress ? "\n" : "", gomap_strerror(rc));
                return -1;
            }
            break;
        }
        case WL_LOOKUP:
            (void)gomap_get(m, key_of(o, &k, mix(rng) % inserted));
            break;
        case WL_DELETE: {
            int rc = gomap_delete(m, key_of(o, &k, mix(rng) % inserted));
            if (rc < 0) {
                fprintf(stderr, "%sgomap: delete failed: %s\n", progress ? "\n" : "", gomap_strerror(rc));
                return -1;
            }
            break;
        }
        case WL_ITERATE: {
            gomap_iter it;
            gomap_iter_init(&it, m);
            while (gomap_iter_next(&it)) {}
            break;
        }
        default:
            if (gomap_clear(m) != GOMAP_OK) {
                fprintf(stderr, "%sgomap: clear failed\n", progress ? "\n" : "");
                return -1;
            }
        }
        if (after && after(ctx, i, m)) {
            i++;
            break;
        }
        if ((i & 4095) == 4095) {
            double t = now_s();
            if (t >= next_progress) {
                fprintf(stderr, "\r  %llu of %llu operations (%.0f%%), %zu entries, %.1f s",
                        (unsigned long long)(i + 1), (unsigned long long)o->n,
                        100.0 * (double)(i + 1) / (double)o->n, gomap_len(m), t - t0);
                fflush(stderr);
                next_progress = t + 0.5;
                progress = true;
            }
        }
    }
    if (progress) fprintf(stderr, "\n");
    return (int64_t)i;
}

/*
 * workload.h -- the workload that `gomap trace` and `gomap inspect` run:
 * a mix of operations on one map, from a seed, through the public API.
 *
 * Options (parsed by wl_parse_option):
 *   --kind u64|str     key type: uint64_t, or 17-byte strings the map copies
 *   --n N              operations to run (default 100000)
 *   --ops MIX          the mix, as name[=weight],...: insert, lookup,
 *                      delete, iterate, clear (default insert)
 *   --deletes P        P percent of the operations are deletes, the rest
 *                      keep the proportions of --ops (default: as --ops)
 *   --seed S           keys and choices (default 1); the same seed, the same
 *                      operations (the map's own hash seed is random)
 * Inserts take new keys; lookups and deletes pick keys inserted before
 * (some of them deleted since: a miss); iterate walks the whole map; clear
 * empties it.
 */
#ifndef GOMAP_TOOL_WORKLOAD_H
#define GOMAP_TOOL_WORKLOAD_H

#include "gomap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wl_op { WL_INSERT, WL_LOOKUP, WL_DELETE, WL_ITERATE, WL_CLEAR, WL_NOPS };

typedef struct wl_opts {
    int str;                 /* string keys */
    uint64_t n;              /* operations */
    unsigned weight[WL_NOPS];
    double deletes;          /* percent, < 0: from --ops */
    uint64_t seed;
} wl_opts;

/* Called after each operation (index i, from 0); returning true stops. */
typedef bool (*wl_after_fn)(void *ctx, uint64_t i, gomap *m);

void wl_defaults(wl_opts *o);
/* If argv[*i] is a workload option, parse it (and its value, advancing
   *i): 1; not one: 0; a bad value: -1 with a message on stderr. */
int wl_parse_option(wl_opts *o, int argc, char **argv, int *i, const char *cmd);
/* The options' lines for a command's --help. */
extern const char wl_help[];
/* A new empty map of the workload's key type; NULL: out of memory. */
gomap *wl_new_map(const wl_opts *o);
/* Run the workload on m; progress on stderr when it runs past a second.
   Returns the operations done, or -1 on an error (said on stderr). */
int64_t wl_run(const wl_opts *o, gomap *m, wl_after_fn after, void *ctx);

#endif

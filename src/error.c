/* error.c -- status names and the concurrent-misuse handler. */
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

const char *gomap_strerror(int status) {
    switch (status) {
    case GOMAP_OK: return "ok";
    case GOMAP_ENOMEM: return "out of memory (the map is unchanged)";
    case GOMAP_EINVAL: return "invalid argument";
    case GOMAP_ECONCURRENT: return "concurrent map misuse";
    case GOMAP_ENOTSUP: return "not supported by this build";
    case GOMAP_EIO: return "a file could not be opened or written";
    default: return status > 0 ? "ok" : "unknown gomap error";
    }
}

static void gm_default_fatal(const char *msg) {
    fprintf(stderr, "gomap: fatal error: %s\n", msg);
    fflush(stderr);
    abort();
}

static _Atomic(gomap_fatal_fn) gm_fatal_handler = gm_default_fatal;

gomap_fatal_fn gomap_set_fatal_handler(gomap_fatal_fn handler) {
    return atomic_exchange(&gm_fatal_handler, handler ? handler : gm_default_fatal);
}

void gm_fatal(const char *msg) {
    atomic_load(&gm_fatal_handler)(msg);
}

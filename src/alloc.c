/* alloc.c -- the default allocator: malloc and free. */
#include "internal.h"

#include <stdlib.h>

static void *gm_malloc(void *ctx, size_t size) {
    (void)ctx;
    return malloc(size ? size : 1);
}

static void gm_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    (void)size;
    free(ptr);
}

const gomap_allocator gm_default_allocator = {gm_malloc, gm_free, NULL};

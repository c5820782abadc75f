/*
 * fuzz_map.c -- libFuzzer target: the input is a program of map operations
 * on small keys (so that collisions, deletes and growth all happen), run
 * against a plain array model, with gomap_check after every operation and a
 * failing allocator driven by the input; single and batch writes.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *         -D_GNU_SOURCE fuzz/fuzz_map.c src/[!s]*.c -o fuzz_map && ./fuzz_map
 *
 * (src/[!s]*.c: the map's sources, without the concurrent map.)
 */
#include "gomap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYS 512

typedef struct fz_alloc {
    unsigned countdown; /* fail when it reaches 0; UINT_MAX: never */
} fz_alloc;

static void *fz_alloc_fn(void *ctx, size_t size) {
    fz_alloc *a = (fz_alloc *)ctx;
    if (a->countdown == 0) return NULL;
    a->countdown--;
    return malloc(size);
}

static void fz_free_fn(void *ctx, void *p, size_t size) {
    (void)ctx;
    (void)size;
    free(p);
}

static void fz_check(const gomap *m) {
    char msg[200];
    int inv = gomap_check(m, msg, sizeof msg);
    if (inv) {
        fprintf(stderr, "invariant I%d broken: %s\n", inv, msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint64_t model[KEYS];
    static unsigned char present[KEYS];
    memset(present, 0, sizeof present);
    fz_alloc fa = {~0u};
    gomap_allocator a = {fz_alloc_fn, fz_free_fn, &fa};
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new_with(&t, 0, &a);
    if (!m) return 0;
    size_t count = 0;
    for (size_t p = 0; p + 2 < size; p += 3) {
        uint64_t k = ((uint64_t)data[p + 1] | (uint64_t)data[p + 2] << 8) % KEYS;
        uint64_t v = k * 31 + p;
        switch (data[p] % 8) {
        case 0: case 1: case 2: {
            int r = gomap_put(m, &k, &v);
            if (r < 0) break; /* allocation failed: nothing changed */
            if ((r == 1) != !present[k]) abort();
            if (r == 1) count++;
            present[k] = 1;
            model[k] = v;
            break;
        }
        case 3: case 4: {
            int r = gomap_delete(m, &k);
            if (r < 0) break;
            if (r != present[k]) abort();
            if (r) count--;
            present[k] = 0;
            break;
        }
        case 5: {
            uint64_t *got = gomap_get(m, &k);
            if ((got != NULL) != present[k] || (got && *got != model[k])) abort();
            break;
        }
        case 6: /* the next allocation(s) fail */
            fa.countdown = data[p + 1] % 4;
            break;
        default: {
            if (data[p + 1] == 0xff) {
                if (gomap_clear(m) == GOMAP_OK) {
                    memset(present, 0, sizeof present);
                    count = 0;
                }
                break;
            }
            if (data[p + 1] >= 0xf0) { /* a batch of up to 47 keys, repeats possible */
                uint64_t keys[48], vals[48];
                size_t n = data[p + 2] % 48, done = 0;
                for (size_t j = 0; j < n; j++) {
                    keys[j] = (data[p + 2] + j * (data[p + 1] & 0x0e)) % KEYS;
                    vals[j] = keys[j] * 31 + p + j;
                }
                if (data[p + 1] & 1) {
                    int r = gomap_put_many(m, keys, vals, n, &done);
                    if ((r == GOMAP_OK) != (done == n)) abort();
                    for (size_t j = 0; j < done; j++) {
                        count += !present[keys[j]];
                        present[keys[j]] = 1;
                        model[keys[j]] = vals[j];
                    }
                } else {
                    int r = gomap_delete_many(m, keys, n, &done);
                    if (r != GOMAP_OK || done != n) abort(); /* plain keys: deletes never fail */
                    for (size_t j = 0; j < n; j++) {
                        count -= present[keys[j]];
                        present[keys[j]] = 0;
                    }
                }
                break;
            }
            unsigned char seen[KEYS] = {0};
            gomap_iter it;
            gomap_iter_init(&it, m);
            while (gomap_iter_next(&it)) {
                uint64_t ik = *(const uint64_t *)it.key;
                if (ik >= KEYS || seen[ik] || !present[ik] || *(uint64_t *)it.val != model[ik]) abort();
                seen[ik] = 1;
            }
            break;
        }
        }
        if (gomap_len(m) != count) abort();
        fz_check(m);
    }
    gomap_free(m);
    return 0;
}

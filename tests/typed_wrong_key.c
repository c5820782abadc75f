/*
 * typed_wrong_key.c -- programs that must not compile: typed maps
 * (gomap_typed.h) given a key, value, handle or iterator of the wrong type,
 * or declared with a key that does not fit its kind.  Compiled, never run,
 * by the typed_wrong_key_* tests (tests/CMakeLists.txt): with WRONG_KEY=0
 * (all calls right) it must compile cleanly under the project's warnings
 * and -Werror; with WRONG_KEY=n, n > 0, it holds one mistake and must fail
 * under -std=c11 -pedantic-errors.
 */
#include "gomap_typed.h"

#include <stdint.h>

#ifndef WRONG_KEY
#define WRONG_KEY 0
#endif

typedef struct point {
    int x, y;
} point;

GOMAP_DECLARE(u64map, uint64_t, uint64_t, u64);
GOMAP_DECLARE(strmap, gomap_str, uint64_t, str);
GOMAP_DECLARE(ptrmap, const long *, int, u64);
GOMAP_DECLARE(pointmap, uint32_t, point, u32);

#if WRONG_KEY == 7
GOMAP_DECLARE(narrow, uint64_t, int, u32); /* 8-byte key, 4-byte kind */
#elif WRONG_KEY == 8
GOMAP_DECLARE(floaty, double, int, u64); /* floating key, integer kind */
#elif WRONG_KEY == 9
GOMAP_DECLARE(notstr, const char *, int, str); /* str keys are gomap_str */
#elif WRONG_KEY == 10
typedef struct wide {
    _Alignas(32) char c;
} wide;
GOMAP_DECLARE(overaligned, uint64_t, wide, u64); /* values up to 16-aligned */
#endif

int main(void) {
    u64map m = {0};
    strmap sm = {0};
    ptrmap pm = {0};
    pointmap ptm = {0};
    gomap_str s = {"key", 3};
    point p = {1, 2};
    long l = 0;
    int r = 0;

    r += u64map_put(&m, 1, 2);
    r += strmap_put(&sm, s, 2);
    r += ptrmap_put(&pm, &l, 2);
    r += pointmap_put(&ptm, 1, p);

#if WRONG_KEY == 1
    r += u64map_put(&m, p, 2); /* a struct key for a uint64_t map */
#elif WRONG_KEY == 2
    r += u64map_put(&m, "key", 2); /* a string literal (char *) for uint64_t */
#elif WRONG_KEY == 3
    r += (u64map_get(&m, s) != NULL); /* a gomap_str for uint64_t */
#elif WRONG_KEY == 4
    r += strmap_delete(&sm, (uint64_t)1); /* a uint64_t for gomap_str */
#elif WRONG_KEY == 5
    int i = 0;
    r += ptrmap_put(&pm, &i, 2); /* an int * for a const long * key */
#elif WRONG_KEY == 6
    r += pointmap_put(&ptm, 1, s); /* a gomap_str value for a point map */
#elif WRONG_KEY == 11
    r += (int)u64map_len(&sm); /* a handle of another map type */
#elif WRONG_KEY == 12
    strmap_iter it;
    u64map_iter_init(&it, &m); /* an iterator of another map type */
#elif WRONG_KEY == 13
    r += u64map_put(m, 1, 2); /* the handle, not its address */
#endif
    return r == 4 ? 0 : 1;
}

/*
 * test_map_misuse.c -- Go's concurrent-misuse detection,
 * provoked deterministically in one thread: a CUSTOM key's equal callback
 * runs during a write's bucket scan, while the writer holds its "writing"
 * mark, and calls back into the same map.  The installed fatal handler
 * records Go's message and returns, so the nested call must report
 * GOMAP_ECONCURRENT / NULL / false.  Nested reads inside a read are fine
 * and must not trip the handler.  A forked child checks the default
 * handler: "gomap: fatal error: <message>" on stderr, then abort.
 */
#include "gomap.h"
#include "refmodel.h"
#include "testutil.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the recording handler ---------------------------------------------------- */

static const char *messages[16];
static int nmessages;

static void record(const char *msg) {
    if (nmessages < 16) messages[nmessages] = msg;
    nmessages++;
}

/* ---- a key whose equal calls back into the map ----------------------------------- */

/* Keys that differ only in their low 8 bits hash the same (full collision),
   so a write scanning for one of them calls equal on the other. */
static uint64_t coll_hash(const void *k, uint64_t seed) {
    uint64_t x;
    memcpy(&x, k, 8);
    return gomap_hash_u64(x >> 8, seed);
}

enum nested {
    N_NONE,
    N_GET,
    N_GET_KEY,
    N_PUT,
    N_ASSIGN,
    N_DELETE,
    N_CLEAR,
    N_ITER_NEXT,
};

static gomap *g_map;
static gomap_iter g_iter;
static enum nested g_nested;
static int g_nested_calls;
static long long g_nested_result; /* what the nested call returned */

static bool nested_equal(const void *a, const void *b) {
    enum nested what = g_nested;
    g_nested = N_NONE; /* once */
    uint64_t k = 0x500, v = 5;
    const void *sk = NULL;
    switch (what) {
    case N_NONE:
        break;
    case N_GET:
        g_nested_result = gomap_get(g_map, &k) != NULL;
        break;
    case N_GET_KEY:
        g_nested_result = gomap_get_key(g_map, &k, &sk) != NULL;
        break;
    case N_PUT:
        g_nested_result = gomap_put(g_map, &k, &v);
        break;
    case N_ASSIGN:
        g_nested_result = gomap_assign(g_map, &k) != NULL;
        break;
    case N_DELETE:
        g_nested_result = gomap_delete(g_map, &k);
        break;
    case N_CLEAR:
        g_nested_result = gomap_clear(g_map);
        break;
    case N_ITER_NEXT:
        g_nested_result = gomap_iter_next(&g_iter);
        break;
    }
    if (what != N_NONE) g_nested_calls++;
    return memcmp(a, b, 8) == 0;
}

static gomap_type coll_type(void) {
    gomap_type t;
    memset(&t, 0, sizeof t);
    t.kind = GOMAP_KEY_CUSTOM;
    t.key_size = 8;
    t.key_align = 8;
    t.val_size = 8;
    t.val_align = 8;
    t.hash = coll_hash;
    t.equal = nested_equal;
    return t;
}

/* A fresh map with keys 0x100 and 0x500 (0x101..0x1FF collide with 0x100). */
static void fresh_map(void) {
    gomap_type t = coll_type();
    g_map = gomap_new(&t, 0);
    CHECK(g_map != NULL);
    uint64_t k = 0x100, v = 1;
    g_nested = N_NONE;
    CHECK_EQ(gomap_put(g_map, &k, &v), 1);
    k = 0x500;
    CHECK_EQ(gomap_put(g_map, &k, &v), 1);
    nmessages = 0;
    g_nested_calls = 0;
}

/* The outer write, during which equal runs on key 0x100. */
enum outer { O_PUT_NEW, O_PUT_HIT, O_ASSIGN, O_DELETE_HIT, O_DELETE_MISS };

static void outer_write(enum outer o) {
    uint64_t v = 9;
    uint64_t hit = 0x100, miss = 0x101; /* same hash as 0x100 */
    switch (o) {
    case O_PUT_NEW: (void)gomap_put(g_map, &miss, &v); break;
    case O_PUT_HIT: (void)gomap_put(g_map, &hit, &v); break;
    case O_ASSIGN: (void)gomap_assign(g_map, &miss); break;
    case O_DELETE_HIT: (void)gomap_delete(g_map, &hit); break;
    case O_DELETE_MISS: (void)gomap_delete(g_map, &miss); break;
    }
}

static void expect(enum nested n, enum outer o, const char *msg, long long want_result) {
    fresh_map();
    if (n == N_ITER_NEXT) {
        gomap_iter_init(&g_iter, g_map);
        CHECK(gomap_iter_next(&g_iter));
    }
    g_nested = n;
    outer_write(o);
    CHECK_EQ(g_nested_calls, 1); /* equal did run during the write */
    if (nmessages < 1 || strcmp(messages[0], msg) != 0) {
        fprintf(stderr, "nested %d in outer %d: got %d message(s), first \"%s\", want \"%s\"\n", (int)n,
                (int)o, nmessages, nmessages ? messages[0] : "", msg);
        RM_FAIL("wrong or missing misuse message");
    }
    CHECK_EQ(g_nested_result, want_result);
    if (n == N_ITER_NEXT) gomap_iter_done(&g_iter);
    gomap_free(g_map); /* the map may be corrupt: only freed */
    g_map = NULL;
}

static void test_nested_writes(void) {
    const enum outer outers[] = {O_PUT_NEW, O_PUT_HIT, O_ASSIGN, O_DELETE_HIT, O_DELETE_MISS};
    for (size_t i = 0; i < sizeof outers / sizeof outers[0]; i++) {
        expect(N_PUT, outers[i], "concurrent map writes", GOMAP_ECONCURRENT);
        expect(N_ASSIGN, outers[i], "concurrent map writes", 0);
        expect(N_DELETE, outers[i], "concurrent map writes", GOMAP_ECONCURRENT);
        expect(N_CLEAR, outers[i], "concurrent map writes", GOMAP_ECONCURRENT);
    }
}

static void test_nested_read_in_write(void) {
    const enum outer outers[] = {O_PUT_NEW, O_PUT_HIT, O_ASSIGN, O_DELETE_HIT, O_DELETE_MISS};
    for (size_t i = 0; i < sizeof outers / sizeof outers[0]; i++) {
        expect(N_GET, outers[i], "concurrent map read and map write", 0);
        expect(N_GET_KEY, outers[i], "concurrent map read and map write", 0);
    }
}

static void test_nested_iteration_in_write(void) {
    const enum outer outers[] = {O_PUT_NEW, O_PUT_HIT, O_ASSIGN, O_DELETE_HIT, O_DELETE_MISS};
    for (size_t i = 0; i < sizeof outers / sizeof outers[0]; i++)
        expect(N_ITER_NEXT, outers[i], "concurrent map iteration and map write", 0);
}

/* Reads inside a read are not misuse: no message, and they work. */
static void test_nested_read_in_read(void) {
    const enum nested inner[] = {N_GET, N_GET_KEY, N_ITER_NEXT};
    for (size_t i = 0; i < 3; i++) {
        fresh_map();
        if (inner[i] == N_ITER_NEXT) gomap_iter_init(&g_iter, g_map);
        g_nested = inner[i];
        uint64_t k = 0x101; /* absent, collides with 0x100: equal runs */
        CHECK(gomap_get(g_map, &k) == NULL);
        CHECK_EQ(g_nested_calls, 1);
        CHECK_EQ(nmessages, 0);
        CHECK_EQ(g_nested_result, 1); /* found 0x500 / produced an entry */
        /* and a present key inside an iteration */
        if (inner[i] == N_ITER_NEXT) gomap_iter_done(&g_iter);
        CHECK_MAP(g_map);
        gomap_free(g_map);
        g_map = NULL;
    }
}

/* After misuse was reported and the handler returned, a later, proper
   write works normally (the nested call changed nothing). */
static void test_no_sticky_state(void) {
    fresh_map();
    g_nested = N_PUT;
    outer_write(O_PUT_NEW);
    CHECK(nmessages >= 1);
    nmessages = 0;
    uint64_t k = 0x900, v = 3;
    CHECK_EQ(gomap_put(g_map, &k, &v), 1);
    CHECK(gomap_get(g_map, &k) != NULL);
    CHECK_EQ(nmessages, 0);
    gomap_free(g_map);
    g_map = NULL;
}

/* gomap_set_fatal_handler returns the previous handler; NULL restores the
   default, which prints and aborts (checked in a child process). */
static void test_default_handler(void) {
    gomap_fatal_fn prev = gomap_set_fatal_handler(record);
    CHECK(prev == record);
    prev = gomap_set_fatal_handler(NULL);
    CHECK(prev == record);
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fresh_map();
        g_nested = N_PUT;
        outer_write(O_PUT_NEW);
        _exit(0); /* not reached: the default handler aborts */
    }
    close(fds[1]);
    char buf[512];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
    buf[n] = '\0';
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(WTERMSIG(status), SIGABRT);
    if (!strstr(buf, "gomap: fatal error: concurrent map writes")) {
        fprintf(stderr, "child stderr: %s\n", buf);
        RM_FAIL("default handler message missing");
    }
    gomap_set_fatal_handler(record);
}

int main(void) {
    gomap_set_fatal_handler(record);
    RUN(test_nested_writes);
    RUN(test_nested_read_in_write);
    RUN(test_nested_iteration_in_write);
    RUN(test_nested_read_in_read);
    RUN(test_no_sticky_state);
    RUN(test_default_handler);
    gomap_set_fatal_handler(NULL);
    return tu_finish();
}

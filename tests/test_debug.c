/*
 * test_debug.c -- what the debug build (GOMAP_DEBUG=ON) turns into a clear
 * fatal message instead of a crash or silent corruption, one case each, in
 * a child process whose fatal handler reports the message; and the checker
 * catching a key hash that disagrees with the equality (I15, every build).
 * The fatal cases are skipped in a release build (GOMAP_DEBUG_BUILD is set
 * by tests/CMakeLists.txt).
 */
#include "gomap.h"
#include "testutil.h"

#include <sys/wait.h>
#include <unistd.h>

#ifndef GOMAP_DEBUG_BUILD
#define GOMAP_DEBUG_BUILD 0
#endif

/* ---- running a misuse in a child ------------------------------------------ */

static int msg_fd = -1;
static void report_fatal(const char *msg) {
    if (write(msg_fd, msg, strlen(msg)) < 0) _exit(4);
    _exit(3);
}

/* Run fn in a child with report_fatal installed; return the fatal message
   ("" when fn returned without one, "<signal N>" when the child died). */
static const char *misuse(void (*fn)(void)) {
    static char buf[256];
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        msg_fd = p[1];
        gomap_set_fatal_handler(report_fatal);
        fn();
        _exit(0);
    }
    close(p[1]);
    ssize_t n = 0, r;
    while ((r = read(p[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0) n += r;
    buf[n > 0 ? n : 0] = 0;
    close(p[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st)) snprintf(buf, sizeof buf, "<signal %d>", WTERMSIG(st));
    else if (WEXITSTATUS(st) == 0) buf[0] = 0;
    return buf;
}

static gomap *new_filled(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m);
    for (uint64_t k = 0; k < 100; k++) CHECK_EQ(gomap_put(m, &k, &k), 1);
    return m;
}

static void do_double_free(void) {
    gomap *m = new_filled();
    gomap_free(m);
    gomap_free(m);
}
static void do_get_after_free(void) {
    gomap *m = new_filled();
    gomap_free(m);
    uint64_t k = 1;
    (void)gomap_get(m, &k);
}
static void do_put_after_free(void) {
    gomap *m = new_filled();
    gomap_free(m);
    uint64_t k = 1;
    (void)gomap_put(m, &k, &k);
}
static void do_len_after_free(void) {
    gomap *m = new_filled();
    gomap_free(m);
    (void)gomap_len(m);
}
static void do_iter_after_map_freed(void) {
    gomap *m = new_filled();
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it));
    gomap_free(m);
    (void)gomap_iter_next(&it);
}
static void do_iter_uninitialised(void) {
    gomap_iter it;
    memset(&it, 0x5A, sizeof it);
    (void)gomap_iter_next(&it);
}
static void do_correct_use(void) {
    gomap *m = new_filled();
    gomap_iter it;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it)) {}
    CHECK(!gomap_iter_next(&it)); /* a finished iterator may be asked again */
    gomap_iter_done(&it);
    gomap_free(m);
}

static void expect(const char *got, const char *want) {
    if (!strstr(got, want)) {
        fprintf(stderr, "expected a message with \"%s\", got \"%s\"\n", want, got);
        CHECK(0);
    }
}

static void test_fatal_messages(void) {
    if (!GOMAP_DEBUG_BUILD) {
        fprintf(stderr, "(release build: needs GOMAP_DEBUG=ON)");
        return;
    }
    expect(misuse(do_double_free), "gomap_free: map freed twice");
    expect(misuse(do_get_after_free), "gomap_get: map used after gomap_free");
    expect(misuse(do_put_after_free), "map used after gomap_free");
    expect(misuse(do_len_after_free), "gomap_len: map used after gomap_free");
    expect(misuse(do_iter_after_map_freed), "gomap_iter_next: iterator used after its map was freed");
    expect(misuse(do_iter_uninitialised), "gomap_iter_next: iterator not initialised");
    CHECK_EQ(strlen(misuse(do_correct_use)), 0);
}

/* ---- I15: a hash that disagrees with the equality ----------------------------- */

typedef struct rec_key {
    uint32_t id, version; /* equality: id only; the bad hash reads both */
} rec_key;
static uint64_t bad_hash(const void *k, uint64_t seed) {
    const rec_key *r = (const rec_key *)k;
    return gomap_hash_u64((uint64_t)r->id << 32 | r->version, seed);
}
static uint64_t good_hash(const void *k, uint64_t seed) {
    return gomap_hash_u32(((const rec_key *)k)->id, seed);
}
static bool id_equal(const void *a, const void *b) {
    return ((const rec_key *)a)->id == ((const rec_key *)b)->id;
}

static void test_hash_equality_disagree(void) {
    for (int bad = 0; bad < 2; bad++) {
        gomap_type t = {0};
        t.key_size = sizeof(rec_key);
        t.key_align = 4;
        t.val_size = 8;
        t.val_align = 8;
        t.kind = GOMAP_KEY_CUSTOM;
        t.hash = bad ? bad_hash : good_hash;
        t.equal = id_equal;
        gomap *m = gomap_new(&t, 0);
        CHECK(m);
        /* 2000 puts over 100 ids, each with another version */
        for (uint32_t i = 0; i < 2000; i++) {
            rec_key k = {i % 100, i};
            uint64_t v = i;
            CHECK(gomap_put(m, &k, &v) >= 0);
        }
        char msg[200];
        int inv = gomap_check(m, msg, sizeof msg);
        if (bad) {
            CHECK(gomap_len(m) > 100); /* the duplicates the check must see */
            CHECK_EQ(inv, 15);
            CHECK(strstr(msg, "hash disagrees"));
        } else {
            CHECK_EQ(gomap_len(m), 100);
            CHECK_EQ(inv, 0);
        }
        gomap_free(m);
    }
}

int main(void) {
    RUN(test_fatal_messages);
    RUN(test_hash_equality_disagree);
    return tu_finish();
}

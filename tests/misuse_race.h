/*
 * misuse_race.h -- concurrent misuse provoked with two real threads, each
 * run in a forked child so that whatever the race does (the fatal handler,
 * a crash, a hang, wrong data) is contained and counted by the parent.
 * Shared by tests/test_misuse_rates.c (which asserts on the counts) and
 * bench/misuse_rates.c (which prints them as a table).
 *
 * Scenarios, on one map of u64 -> u64 (value = mr_val(key)) holding
 * MR_STABLE keys that no thread writes:
 *   MR_WRITE_WRITE  two writers, each doing nops writes of its own keys
 *                   (three inserts, then a delete of the third, repeated:
 *                   the map grows through every size up to ~nops);
 *   MR_ITER_WRITE   one writer as above, and one thread iterating the map
 *                   over and over, checking that every entry it sees has
 *                   its key's value;
 *   MR_READ_WRITE   one writer as above, and one thread doing lookups,
 *                   alternately a stable key (must be found, with its
 *                   value) and a key that is never inserted (must miss).
 * Each thread does at least nops operations (writes, iterator steps or
 * lookups) and goes on until the other has done its nops too: a count, not
 * a duration, so that the two overlap however they are scheduled (on one
 * CPU, the thread that runs first is still at it when the other runs).
 * The two threads start together (a spin barrier).  When both finish with
 * no misuse detected, the child checks what it can: the readers' results,
 * and for the writes the final contents (every key of each writer present
 * or absent as its sequence says, the length, gomap_check).
 *
 * The child's fatal handler (MR_HANDLER_EXIT) exits the child at once with
 * a code naming the message; with MR_HANDLER_DEFAULT the library's default
 * handler prints "gomap: fatal error: <message>" and aborts, and the parent
 * finds the message in the child's stderr.  A child dying of SIGSEGV and
 * the like prints the faulting address and a backtrace (glibc) to its
 * stderr first; the parent keeps the first such report of each batch.  A
 * child that runs past MR_HANG_S seconds dies of SIGALRM and counts as a
 * crash (a hang guard, never a measurement).
 *
 * Nothing here depends on timing: every count is of runs, every run does a
 * fixed number of operations.
 */
#ifndef GOMAP_MISUSE_RACE_H
#define GOMAP_MISUSE_RACE_H

#include "gomap.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <execinfo.h>
#endif

enum mr_scenario { MR_WRITE_WRITE, MR_ITER_WRITE, MR_READ_WRITE, MR_NSCENARIOS };
enum mr_handler { MR_HANDLER_EXIT, MR_HANDLER_DEFAULT };

enum {
    MR_STABLE = 64,     /* keys in the map before the threads start */
    MR_HANG_S = 60,     /* a child still running after this is killed */
    MR_EXIT_CLEAN = 0,  /* finished, no message, every result right */
    MR_EXIT_WRONG = 3,  /* finished, no message, some result wrong */
    MR_EXIT_SETUP = 4,  /* could not set up (out of memory, no thread) */
    MR_EXIT_MSG = 10,   /* + the message's index: the handler was called */
    MR_NMESSAGES = 4,   /* Go's three messages, and any other */
    MR_REPORT_MAX = 4096,
};

static const char *const mr_messages[MR_NMESSAGES] = {
    "concurrent map writes",
    "concurrent map iteration and map write",
    "concurrent map read and map write",
    "(another message)",
};

static const char *const mr_scenario_names[MR_NSCENARIOS] = {
    "write vs write",
    "iterate vs write",
    "read vs write",
};

/* The message each scenario should end with (an index into mr_messages). */
static inline int mr_expected_message(enum mr_scenario sc) { return (int)sc; }

/* What a batch of runs came to. */
typedef struct mr_result {
    int runs;
    int detected;           /* ended by the scenario's message */
    int other_message;      /* ended by another of the messages */
    int crashed;            /* died without a message: a signal, or an unexpected exit */
    int silent;             /* finished without a message, every result right */
    int wrong;              /* finished without a message, some result wrong */
    int setup_failed;       /* the child could not start its threads */
    int by_signal[65];      /* crashes by signal number (SIGALRM: the hang guard) */
    int by_exit;            /* crashes by an unexpected exit status (a sanitizer's) */
    char first_crash[MR_REPORT_MAX]; /* what the first crash said (its stderr) */
} mr_result;

/* ---- keys ------------------------------------------------------------------------ */

static inline uint64_t mr_mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
/* Key spaces: 0 the stable keys, 1 and 2 the writers', 3 never inserted. */
static inline uint64_t mr_key(unsigned space, uint64_t i) { return mr_mix(((uint64_t)space << 56) | i); }
static inline uint64_t mr_val(uint64_t key) { return key * 0x2545F4914F6CDD1Dull + 1; }

/* ---- the child ------------------------------------------------------------------- */

typedef struct mr_child {
    gomap *m;
    long nops;
    enum mr_scenario sc;
    atomic_int ready;
    atomic_int done[2];  /* thread i has done its nops operations */
    atomic_long ops[2];  /* operations thread i did in all */
    atomic_long wrong;   /* results found wrong by the threads */
} mr_child;

static void mr_exit_handler(const char *msg) {
    int i = 0;
    while (i < MR_NMESSAGES - 1 && strcmp(msg, mr_messages[i]) != 0) i++;
    _exit(MR_EXIT_MSG + i);
}

static void mr_crash_report(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    char line[160];
    int n = snprintf(line, sizeof line, "misuse_race: signal %d (%s), fault address %p; backtrace:\n",
                     sig, strsignal(sig), si ? si->si_addr : NULL);
    if (n > 0) {
        ssize_t w = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }
#ifdef __GLIBC__
    void *frames[48];
    int nf = backtrace(frames, 48);
    backtrace_symbols_fd(frames, nf, 2);
#endif
    raise(sig); /* the handler was reset: die of the signal */
}

/* Set (before mr_run) to run the two threads one after the other: no race,
   so every run must end clean -- a check of the checks. */
static bool mr_serial;

static void mr_barrier(mr_child *c) {
    if (mr_serial) return;
    atomic_fetch_add(&c->ready, 1);
    while (atomic_load(&c->ready) < 2) sched_yield();
}

/* Whether thread self goes on after ops operations: until it has done
   nops, and then until the other thread has too. */
static bool mr_more(mr_child *c, int self, long ops) {
    if (ops < c->nops) return true;
    if (mr_serial) return false;
    if (!atomic_load(&c->done[self])) atomic_store(&c->done[self], 1);
    return !atomic_load(&c->done[1 - self]);
}

/* Writer w's op j: keys j % 4 in {0, 1, 2} are inserted, op j % 4 == 3
   deletes the key of op j - 1.  What stays: keys with j % 4 in {0, 1}. */
static void mr_write_ops(mr_child *c, int self, unsigned space) {
    long j;
    for (j = 0; mr_more(c, self, j); j++) {
        if (j % 4 == 3) {
            uint64_t k = mr_key(space, (uint64_t)(j - 1));
            if (gomap_delete(c->m, &k) != 1) atomic_fetch_add(&c->wrong, 1);
        } else {
            uint64_t k = mr_key(space, (uint64_t)j), v = mr_val(k);
            if (gomap_put(c->m, &k, &v) != 1) atomic_fetch_add(&c->wrong, 1);
        }
    }
    atomic_store(&c->ops[self], j);
}

static long mr_write_check(mr_child *c, int self, unsigned space) {
    long bad = 0, left = 0, n = atomic_load(&c->ops[self]);
    for (long j = 0; j < n; j++) {
        uint64_t k = mr_key(space, (uint64_t)j);
        const uint64_t *v = (const uint64_t *)gomap_get(c->m, &k);
        bool stays = j % 4 < 2 || (j % 4 == 2 && j + 1 >= n);
        if (stays) {
            left++;
            if (!v || *v != mr_val(k)) bad++;
        } else if (v) {
            bad++;
        }
    }
    return bad ? -1 : left;
}

static void *mr_writer(void *arg) {
    mr_child *c = (mr_child *)arg;
    mr_barrier(c);
    mr_write_ops(c, 0, 1);
    return NULL;
}

static void *mr_other(void *arg) {
    mr_child *c = (mr_child *)arg;
    mr_barrier(c);
    long bad = 0;
    switch (c->sc) {
    case MR_WRITE_WRITE:
        mr_write_ops(c, 1, 2);
        break;
    case MR_ITER_WRITE:
        for (long ops = 0; mr_more(c, 1, ops);) {
            gomap_iter it;
            gomap_iter_init(&it, c->m);
            ops++;
            bool more = true;
            while (mr_more(c, 1, ops) && (more = gomap_iter_next(&it))) {
                uint64_t k, v;
                memcpy(&k, it.key, 8);
                memcpy(&v, it.val, 8);
                if (v != mr_val(k)) bad++;
                ops++;
            }
            if (more) gomap_iter_done(&it);
        }
        break;
    case MR_READ_WRITE:
        for (long j = 0; mr_more(c, 1, j); j++) {
            if (j % 2 == 0) {
                uint64_t k = mr_key(0, (uint64_t)(j / 2) % MR_STABLE);
                const uint64_t *v = (const uint64_t *)gomap_get(c->m, &k);
                if (!v || *v != mr_val(k)) bad++;
            } else {
                uint64_t k = mr_key(3, (uint64_t)j);
                if (gomap_get(c->m, &k) != NULL) bad++;
            }
        }
        break;
    default:
        break;
    }
    atomic_fetch_add(&c->wrong, bad);
    return NULL;
}

static void mr_child_main(enum mr_scenario sc, long nops, enum mr_handler handler) {
    alarm(MR_HANG_S);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = mr_crash_report;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
        sigaction(crash_signals[i], &sa, NULL);
#ifdef __GLIBC__
    void *warm[1];
    (void)backtrace(warm, 1); /* loads the unwinder now, not in the handler */
#endif
    gomap_set_fatal_handler(handler == MR_HANDLER_EXIT ? mr_exit_handler : NULL);

    static mr_child c;
    gomap_type t = GOMAP_TYPE_U64_U64;
    c.m = gomap_new(&t, 0);
    c.nops = nops;
    c.sc = sc;
    if (!c.m) _exit(MR_EXIT_SETUP);
    for (uint64_t i = 0; i < MR_STABLE; i++) {
        uint64_t k = mr_key(0, i), v = mr_val(k);
        if (gomap_put(c.m, &k, &v) != 1) _exit(MR_EXIT_SETUP);
    }
    pthread_t a, b;
    if (pthread_create(&a, NULL, mr_writer, &c) != 0) _exit(MR_EXIT_SETUP);
    if (mr_serial) pthread_join(a, NULL);
    if (pthread_create(&b, NULL, mr_other, &c) != 0) _exit(MR_EXIT_SETUP);
    if (!mr_serial) pthread_join(a, NULL);
    pthread_join(b, NULL);

    /* No message: were the results right? */
    long bad = atomic_load(&c.wrong);
    long left1 = mr_write_check(&c, 0, 1);
    long left2 = sc == MR_WRITE_WRITE ? mr_write_check(&c, 1, 2) : 0;
    if (left1 < 0 || left2 < 0) bad++;
    else if (gomap_len(c.m) != (size_t)(MR_STABLE + left1 + left2)) bad++;
    for (uint64_t i = 0; i < MR_STABLE; i++) {
        uint64_t k = mr_key(0, i);
        const uint64_t *v = (const uint64_t *)gomap_get(c.m, &k);
        if (!v || *v != mr_val(k)) bad++;
    }
    char msg[128];
    if (gomap_check(c.m, msg, sizeof msg) != 0) bad++;
    _exit(bad ? MR_EXIT_WRONG : MR_EXIT_CLEAN);
}

/* ---- the parent ------------------------------------------------------------------ */

/* Read all of fd (the child's stderr) into buf, keeping the first cap-1 bytes. */
static size_t mr_drain(int fd, char *buf, size_t cap) {
    size_t len = 0;
    char scratch[512];
    for (;;) {
        char *dst = len + 1 < cap ? buf + len : scratch;
        size_t room = len + 1 < cap ? cap - 1 - len : sizeof scratch;
        ssize_t n = read(fd, dst, room);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (dst != scratch) len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* One forked run: the message index it ended with (>= 0), or -1 clean,
   -2 wrong, -3 crashed (*sig the signal, 0 for an exit), -4 setup failed. */
static int mr_run_one(enum mr_scenario sc, long nops, enum mr_handler handler, int *sig, char *err,
                      size_t errcap) {
    int fds[2];
    *sig = 0;
    err[0] = '\0';
    fflush(NULL);
    if (pipe(fds) != 0) return -4;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -4;
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        mr_child_main(sc, nops, handler);
        _exit(MR_EXIT_SETUP);
    }
    close(fds[1]);
    mr_drain(fds[0], err, errcap);
    close(fds[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -4;
    if (WIFEXITED(st)) {
        int code = WEXITSTATUS(st);
        if (code == MR_EXIT_CLEAN) return -1;
        if (code == MR_EXIT_WRONG) return -2;
        if (code == MR_EXIT_SETUP) return -4;
        if (code >= MR_EXIT_MSG && code < MR_EXIT_MSG + MR_NMESSAGES) return code - MR_EXIT_MSG;
        return -3;
    }
    if (WIFSIGNALED(st)) {
        *sig = WTERMSIG(st);
        /* the default handler: its message on stderr, then abort */
        const char *p = *sig == SIGABRT ? strstr(err, "gomap: fatal error: ") : NULL;
        if (p) {
            p += strlen("gomap: fatal error: ");
            for (int i = 0; i < MR_NMESSAGES - 1; i++) {
                size_t n = strlen(mr_messages[i]);
                if (strncmp(p, mr_messages[i], n) == 0 && (p[n] == '\n' || p[n] == '\0')) return i;
            }
            return MR_NMESSAGES - 1;
        }
    }
    return -3;
}

/* runs forked runs of scenario sc, nops operations a thread in each. */
static void mr_run(mr_result *r, enum mr_scenario sc, long nops, int runs, enum mr_handler handler) {
    memset(r, 0, sizeof *r);
    static char err[MR_REPORT_MAX];
    for (int i = 0; i < runs; i++) {
        int sig;
        int o = mr_run_one(sc, nops, handler, &sig, err, sizeof err);
        r->runs++;
        if (o == mr_expected_message(sc)) r->detected++;
        else if (o >= 0) r->other_message++;
        else if (o == -1) r->silent++;
        else if (o == -2) r->wrong++;
        else if (o == -4) r->setup_failed++;
        else {
            r->crashed++;
            if (sig > 0 && sig < 65) r->by_signal[sig]++;
            else r->by_exit++;
            if (r->crashed == 1) snprintf(r->first_crash, sizeof r->first_crash, "%s", err);
        }
    }
}

/* "SIGSEGV x3, SIGALRM (hung) x1, exit x2" into buf. */
static inline void mr_crash_kinds(const mr_result *r, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int s = 1; s < 65; s++) {
        if (!r->by_signal[s] || len >= cap) continue;
        int n = snprintf(buf + len, cap - len, "%s%s%s x%d", len ? ", " : "", strsignal(s),
                         s == SIGALRM ? " (hung)" : "", r->by_signal[s]);
        if (n > 0) len += (size_t)n;
    }
    if (r->by_exit && len < cap)
        snprintf(buf + len, cap - len, "%sunexpected exit x%d", len ? ", " : "", r->by_exit);
}

#endif /* GOMAP_MISUSE_RACE_H */

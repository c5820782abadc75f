/*
 * rand.c -- randomness: bytes from the operating system, and a fast
 * per-thread generator for the per-map seeds, iteration start points and
 * NaN hashes.
 *
 * gm_os_random() never fails: it asks getrandom(), then /dev/urandom, and as
 * a last resort mixes clocks, addresses and a counter (weak, but a map still
 * works; only the resistance to chosen-key attacks suffers).
 *
 * gm_rand64() is splitmix64 on a _Thread_local state, seeded from the OS the
 * first time each thread calls it.  After fork() the child must not replay
 * the parent's numbers (two processes would then pick the same map seeds):
 * a pthread_atfork child handler bumps a global epoch, and a thread whose
 * state belongs to an older epoch re-seeds before its next number.  Cost per
 * call: one relaxed atomic load, a compare, and splitmix64 (~1 ns).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define GM_HAVE_GETRANDOM 1
#endif
#endif
#ifndef GM_HAVE_GETRANDOM
#define GM_HAVE_GETRANDOM 0
#endif


/* ---- the OS source ------------------------------------------------------- */

/* splitmix64's output function: a bijective 64-bit finaliser. */
static uint64_t gm_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fill buf from getrandom(); false if the call is missing or refuses
   (no entropy yet at early boot, seccomp, old kernel). */
static bool gm_getrandom(unsigned char *buf, size_t n) {
#if GM_HAVE_GETRANDOM
    while (n > 0) {
        ssize_t got = getrandom(buf, n, GRND_NONBLOCK);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        buf += got;
        n -= (size_t)got;
    }
    return true;
#else
    (void)buf;
    (void)n;
    return false;
#endif
}

/* Fill buf from /dev/urandom; false if it cannot be opened or read. */
static bool gm_urandom(unsigned char *buf, size_t n) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    while (n > 0) {
        ssize_t got = read(fd, buf, n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        buf += got;
        n -= (size_t)got;
    }
    close(fd);
    return n == 0;
}

/* Last resort: whatever differs between processes and calls -- clocks, the
   pid, stack/data/code addresses (ASLR) and a process-wide counter -- run
   through the finaliser.  Not secret, but never the same twice. */
static void gm_weak_random(unsigned char *buf, size_t n) {
    static _Atomic uint64_t counter;
    struct timespec rt = {0, 0}, mono = {0, 0};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    uint64_t h = gm_mix64((uint64_t)rt.tv_sec * 1000000007u ^ (uint64_t)rt.tv_nsec);
    h = gm_mix64(h ^ (uint64_t)mono.tv_nsec ^ ((uint64_t)mono.tv_sec << 32));
    h = gm_mix64(h ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&rt);
    h = gm_mix64(h ^ (uint64_t)(uintptr_t)&counter ^ (uint64_t)(uintptr_t)buf);
    h ^= (uint64_t)(uintptr_t)&gm_weak_random;
    while (n > 0) {
        h = gm_mix64(h + atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) +
                     0x9e3779b97f4a7c15ull);
        size_t k = n < sizeof h ? n : sizeof h;
        memcpy(buf, &h, k);
        buf += k;
        n -= k;
    }
}

void gm_os_random(void *buf, size_t n) {
    unsigned char *b = (unsigned char *)buf;
    if (gm_getrandom(b, n) || gm_urandom(b, n)) return;
    gm_weak_random(b, n);
}

/* ---- the per-thread generator -------------------------------------------- */

/* Epoch of the process image: starts at 1, +1 in every child after fork.
   A thread's state is valid only for the epoch it was seeded in. */
static _Atomic uint64_t gm_rand_epoch = 1;
/* Set if pthread_atfork() could not register the handler: then every call
   compares getpid() instead (a system call, but only in that rare case). */
static atomic_bool gm_rand_check_pid;
static pthread_once_t gm_rand_once = PTHREAD_ONCE_INIT;

static _Thread_local uint64_t gm_rand_state;
static _Thread_local uint64_t gm_rand_seen; /* 0: never seeded */
static _Thread_local pid_t gm_rand_pid;

static void gm_rand_after_fork(void) {
    atomic_fetch_add_explicit(&gm_rand_epoch, 1, memory_order_relaxed);
}

static void gm_rand_register(void) {
    if (pthread_atfork(NULL, NULL, gm_rand_after_fork) != 0)
        atomic_store_explicit(&gm_rand_check_pid, true, memory_order_relaxed);
}

static GM_NOINLINE void gm_rand_reseed(uint64_t epoch) {
    pthread_once(&gm_rand_once, gm_rand_register);
    uint64_t s;
    gm_os_random(&s, sizeof s);
    /* The state's address is unique per thread: even the weak fallback
       gives every thread its own sequence. */
    gm_rand_state = s ^ gm_mix64((uint64_t)(uintptr_t)&gm_rand_state);
    gm_rand_seen = epoch;
    if (atomic_load_explicit(&gm_rand_check_pid, memory_order_relaxed)) gm_rand_pid = getpid();
}

uint64_t gm_rand64(void) {
    uint64_t epoch = atomic_load_explicit(&gm_rand_epoch, memory_order_relaxed);
    if (GM_UNLIKELY(gm_rand_seen != epoch)) {
        gm_rand_reseed(epoch);
    } else if (GM_UNLIKELY(atomic_load_explicit(&gm_rand_check_pid, memory_order_relaxed)) &&
               gm_rand_pid != getpid()) {
        gm_rand_reseed(epoch);
    }
    /* splitmix64: a Weyl sequence through the finaliser; period 2^64. */
    gm_rand_state += 0x9e3779b97f4a7c15ull;
    return gm_mix64(gm_rand_state);
}

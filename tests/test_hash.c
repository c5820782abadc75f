/*
 * test_hash.c -- the built-in hash, both implementations (AES-NI where the
 * CPU has it, and the portable one), and the random source gm_rand64().
 *
 * Every property is checked for each implementation, chosen with
 * gomap_hash_select() before any hashing of that round.  No map is created.
 * Statistical bounds are set so that a good hash fails them with
 * probability below ~1e-9 per check, while a weak one (identity, a plain
 * multiply, too few rounds) fails them outright.
 *
 * The program re-runs itself (/proc/self/exe --child ...) to check what
 * differs between processes: the per-process key and the GOMAP_HASH
 * environment variable.
 */
#include "testutil.h"

#include "../src/internal.h" /* gm_rand64 (hidden; linked statically) */

#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int g_scale = 1; /* 10 under GOMAP_TEST_SCALE=small */
static bool g_has_aes;  /* the CPU can run the AES hash */

/* sqrt and fabs without libm (the tests are not linked with -lm). */
static double t_sqrt(double x) {
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 64; i++) r = 0.5 * (r + x / r);
    return r;
}
static double t_abs(double x) { return x < 0 ? -x : x; }

static uint64_t hb(const void *p, size_t n, uint64_t seed) { return gomap_hash_bytes(p, n, seed); }

static void fill_random(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)tu_rand();
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* true if the n values are pairwise distinct (sorts them). */
static bool all_distinct(uint64_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_u64);
    for (size_t i = 1; i < n; i++)
        if (v[i] == v[i - 1]) return false;
    return true;
}

/* ---- child processes -------------------------------------------------------- */

/* What a child prints: the hash of the empty input with seed 0 under the
   implementation named by mode ("aes", "portable", or "env": whatever
   GOMAP_HASH chose), then the implementation's name. */
static int child_main(const char *mode) {
    if (strcmp(mode, "aes") == 0 && gomap_hash_select(GOMAP_HASH_AES) != GOMAP_OK) return 2;
    if (strcmp(mode, "portable") == 0 && gomap_hash_select(GOMAP_HASH_PORTABLE) != GOMAP_OK)
        return 2;
    printf("%016llx %s\n", (unsigned long long)gomap_hash_bytes("", 0, 0), gomap_hash_name());
    return 0;
}

/* Run this program as "--child mode" with GOMAP_HASH set to env (NULL:
   unset); put the first line of its output in out. */
static void run_child(const char *mode, const char *env, char *out, size_t outlen) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (env) setenv("GOMAP_HASH", env, 1);
        else unsetenv("GOMAP_HASH");
        char arg0[] = "test_hash", arg1[] = "--child", arg2[32];
        snprintf(arg2, sizeof arg2, "%s", mode);
        char *argv[] = {arg0, arg1, arg2, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < outlen && (r = read(fds[0], out + got, outlen - 1 - got)) > 0) got += (size_t)r;
    out[got] = '\0';
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *nl = strchr(out, '\n');
    if (nl) *nl = '\0';
}

/* ---- selection ---------------------------------------------------------------- */

static void test_select(void) {
    CHECK_EQ(gomap_hash_select(GOMAP_HASH_AES), g_has_aes ? GOMAP_OK : GOMAP_EINVAL);
    CHECK_EQ(gomap_hash_select(GOMAP_HASH_PORTABLE), GOMAP_OK);
    CHECK(strcmp(gomap_hash_name(), "portable") == 0);
    CHECK_EQ(gomap_hash_select((enum gomap_hash_impl)99), GOMAP_EINVAL);
    CHECK(strcmp(gomap_hash_name(), "portable") == 0); /* unchanged */
    CHECK_EQ(gomap_hash_select(GOMAP_HASH_AUTO), GOMAP_OK);
    CHECK(strcmp(gomap_hash_name(), g_has_aes ? "aes" : "portable") == 0);
    if (g_has_aes) {
        CHECK_EQ(gomap_hash_select(GOMAP_HASH_AES), GOMAP_OK);
        CHECK(strcmp(gomap_hash_name(), "aes") == 0);
    }
}

/* GOMAP_HASH=portable picks the portable hash at first use; without it the
   CPU decides. */
static void test_env_selects(void) {
    char out[128];
    run_child("env", "portable", out, sizeof out);
    CHECK(strstr(out, " portable") != NULL);
    run_child("env", NULL, out, sizeof out);
    CHECK(strstr(out, g_has_aes ? " aes" : " portable") != NULL);
    run_child("env", "something-else", out, sizeof out);
    CHECK(strstr(out, g_has_aes ? " aes" : " portable") != NULL);
}

/* ---- properties, run for each implementation ---------------------------------- */

static const char *g_impl; /* "aes" or "portable": the one under test */

/* The map hashes 4- and 8-byte keys with the u32/u64 entry points and other
   keys with hash_bytes: they must agree on the same bytes. */
static void test_int_equals_bytes(void) {
    uint8_t buf[24] = {0};
    int n = 20000 / g_scale;
    for (int i = 0; i < n; i++) {
        uint64_t x = tu_rand(), seed = i < 8 ? (uint64_t)i : tu_rand();
        if (i % 4 == 1) x &= 0xff; /* small keys too */
        uint32_t y = (uint32_t)x;
        CHECK(gomap_hash_u64(x, seed) == hb(&x, 8, seed));
        CHECK(gomap_hash_u32(y, seed) == hb(&y, 4, seed));
        size_t off = (size_t)i % 16; /* unaligned copies */
        memcpy(buf + off, &x, 8);
        CHECK(gomap_hash_u64(x, seed) == hb(buf + off, 8, seed));
        memcpy(buf + off, &y, 4);
        CHECK(gomap_hash_u32(y, seed) == hb(buf + off, 4, seed));
    }
}

/* Same bytes, same seed: same hash, wherever the bytes are; every length
   0..300 works. */
static void test_deterministic(void) {
    uint8_t data[301], copy[301 + 16];
    fill_random(data, sizeof data);
    for (size_t n = 0; n <= 300; n++) {
        uint64_t seed = tu_rand();
        uint64_t h = hb(data, n, seed);
        CHECK(hb(data, n, seed) == h);
        for (size_t off = 1; off < 16; off++) {
            memcpy(copy + off, data, n);
            CHECK(hb(copy + off, n, seed) == h);
        }
    }
    CHECK(hb(NULL, 0, 7) == hb("", 0, 7));
}

/* The length is part of the hash: 0..300 zero bytes (and 0xff bytes) all
   hash differently; so do inputs that differ in one byte anywhere. */
static void test_lengths_and_positions(void) {
    uint8_t zeros[301] = {0}, ones[301];
    memset(ones, 0xff, sizeof ones);
    uint64_t h[301 + 300];
    for (size_t n = 0; n <= 300; n++) h[n] = hb(zeros, n, 1);
    for (size_t n = 1; n <= 300; n++) h[300 + n] = hb(ones, n, 1);
    CHECK(all_distinct(h, 301 + 300));
    /* One byte set at each position of a 300-byte input. */
    uint8_t buf[300] = {0};
    for (size_t len = 1; len <= 300; len += len < 40 ? 1 : 37) {
        uint64_t v[301];
        for (size_t i = 0; i < len; i++) {
            buf[i] = 1;
            v[i] = hb(buf, len, 5);
            buf[i] = 0;
        }
        v[len] = hb(buf, len, 5);
        CHECK(all_distinct(v, len + 1));
    }
}

/* Different seeds (the per-map seed) give different hashes, for every length
   and for the integer entry points. */
static void test_seeds_differ(void) {
    uint8_t data[301];
    fill_random(data, sizeof data);
    const uint64_t seeds[] = {0, 1, 2, 1ull << 32, 1ull << 63, 0xffffffffffffffffull,
                              0x0123456789abcdefull};
    enum { NS = sizeof seeds / sizeof seeds[0] };
    for (size_t n = 0; n <= 300; n++) {
        uint64_t v[NS];
        for (size_t s = 0; s < NS; s++) v[s] = hb(data, n, seeds[s]);
        CHECK(all_distinct(v, NS));
    }
    for (int i = 0; i < 1000; i++) {
        uint64_t x = tu_rand() >> (i % 64), v[NS], w[NS];
        for (size_t s = 0; s < NS; s++) {
            v[s] = gomap_hash_u64(x, seeds[s]);
            w[s] = gomap_hash_u32((uint32_t)x, seeds[s]);
        }
        CHECK(all_distinct(v, NS));
        CHECK(all_distinct(w, NS));
    }
}

/* Inputs that start or end exactly at a page guarded by PROT_NONE: a read
   outside [p, p+n) faults (and ASan would flag one on the heap). */
static void test_page_boundaries(void) {
    long ps = sysconf(_SC_PAGESIZE);
    CHECK(ps >= 4096);
    size_t page = (size_t)ps;
    uint8_t *base = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(base != MAP_FAILED);
    uint8_t *mid = base + page;
    CHECK(mprotect(base, page, PROT_NONE) == 0);
    CHECK(mprotect(mid + page, page, PROT_NONE) == 0);
    fill_random(mid, page);
    uint8_t copy[301];
    for (size_t n = 0; n <= 300; n++) {
        uint64_t seed = tu_rand();
        const uint8_t *end = mid + page - n; /* ends right before the guard */
        memcpy(copy, end, n);
        CHECK(hb(end, n, seed) == hb(copy, n, seed));
        memcpy(copy, mid, n); /* starts right after the other guard */
        CHECK(hb(mid, n, seed) == hb(copy, n, seed));
    }
    uint64_t x;
    memcpy(&x, mid + page - 8, 8);
    CHECK(gomap_hash_u64(x, 3) == hb(mid + page - 8, 8, 3));
    munmap(base, 3 * page);
}

/* ---- quality ---------------------------------------------------------------------- */

/* Avalanche: flipping one input bit (or one seed bit) flips each output bit
   with probability ~1/2.  Checks the mean number of flipped bits (bound
   +-1.5 around 32, which a good hash misses by >10 standard deviations) and
   the worst (input bit, output bit) pair (each must flip half of the time,
   within 7 standard deviations).  The lengths cover every path of both
   implementations. */
static void avalanche_at(size_t len, int samples) {
    enum { MAXBITS = 64 };
    /* Zeroed although only len bytes are hashed: gcc 12 at -O2 and above
       cannot see that fill_random() wrote them (-Wmaybe-uninitialized). */
    uint8_t buf[300] = {0};
    size_t bits = len * 8 < MAXBITS ? len * 8 : MAXBITS; /* input bits probed */
    static unsigned flips[MAXBITS + 64][64];
    memset(flips, 0, sizeof flips);
    double total = 0, count = 0;
    for (int s = 0; s < samples; s++) {
        fill_random(buf, len);
        uint64_t seed = tu_rand();
        uint64_t h = hb(buf, len, seed);
        for (size_t b = 0; b < bits + 64; b++) {
            uint64_t h2;
            /* Probe bits spread over the whole input, and the 64 seed bits. */
            size_t bit = b * (len * 8) / bits;
            if (b < bits) {
                buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                h2 = hb(buf, len, seed);
                buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            } else {
                h2 = hb(buf, len, seed ^ (1ull << (b - bits)));
            }
            uint64_t d = h ^ h2;
            total += __builtin_popcountll(d);
            count += 1;
            for (int o = 0; o < 64; o++) flips[b][o] += (unsigned)(d >> o) & 1;
        }
    }
    double mean = total / count;
    /* 7 standard deviations of a fair coin's frequency, at least 0.05. */
    double tol = 3.5 / t_sqrt((double)samples);
    if (tol < 0.05) tol = 0.05;
    if (mean < 30.5 || mean > 33.5) fprintf(stderr, "\n    len %zu: mean flips %.2f\n", len, mean);
    CHECK(mean >= 30.5 && mean <= 33.5);
    for (size_t b = 0; b < bits + 64; b++)
        for (int o = 0; o < 64; o++) {
            double p = flips[b][o] / (double)samples;
            if (t_abs(p - 0.5) > tol)
                fprintf(stderr, "\n    len %zu: input bit %zu -> output bit %d flips %.3f\n", len,
                        b, o, p);
            CHECK(t_abs(p - 0.5) <= tol);
        }
}

static void test_avalanche(void) {
    static const size_t lens[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33,
                                  48, 49, 64, 65, 100, 128, 129, 200, 256, 257, 300};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) avalanche_at(lens[i], 2000 / g_scale);
}

/* The same for the integer entry points, bit by bit over all input bits. */
static void test_avalanche_ints(void) {
    int samples = 4000 / g_scale;
    double total = 0;
    unsigned worst_lo = ~0u, worst_hi = 0;
    static unsigned flips[96][64];
    memset(flips, 0, sizeof flips);
    for (int s = 0; s < samples; s++) {
        uint64_t x = tu_rand(), seed = tu_rand();
        uint64_t h64 = gomap_hash_u64(x, seed), h32 = gomap_hash_u32((uint32_t)x, seed);
        for (int b = 0; b < 96; b++) {
            uint64_t d = b < 64 ? h64 ^ gomap_hash_u64(x ^ (1ull << b), seed)
                                : h32 ^ gomap_hash_u32((uint32_t)x ^ (1u << (b - 64)), seed);
            total += __builtin_popcountll(d);
            for (int o = 0; o < 64; o++) flips[b][o] += (unsigned)(d >> o) & 1;
        }
    }
    for (int b = 0; b < 96; b++)
        for (int o = 0; o < 64; o++) {
            if (flips[b][o] < worst_lo) worst_lo = flips[b][o];
            if (flips[b][o] > worst_hi) worst_hi = flips[b][o];
        }
    double mean = total / (samples * 96.0);
    CHECK(mean >= 31.0 && mean <= 33.0);
    CHECK(worst_lo >= (unsigned)(samples * 0.3) && worst_hi <= (unsigned)(samples * 0.7));
}

/* Chi-square bound that an ideal hash exceeds with probability ~1e-10
   (Wilson-Hilferty: z = 6.4). */
static double chi2_bound(double df) {
    double a = 2.0 / (9.0 * df);
    double c = 1.0 - a + 6.4 * t_sqrt(a);
    return df * c * c * c;
}

static double chi2(const uint32_t *cnt, size_t buckets, double expect) {
    double x = 0;
    for (size_t i = 0; i < buckets; i++) {
        double d = cnt[i] - expect;
        x += d * d / expect;
    }
    return x;
}

/* Structured key families that break weak hashes: sequential integers,
   integers with only high bits varying, one varying word inside longer
   inputs, decimal strings. */
enum { FAM_SEQ64, FAM_SHL20, FAM_SHL40, FAM_BSWAP, FAM_SEQ32, FAM_SHL14_32, FAM_STR,
       FAM_B16_HI, FAM_B24, FAM_B40, FAM_B100, FAM_B200, FAM_COUNT };

static uint64_t family_hash(int fam, uint64_t i, uint64_t seed) {
    uint8_t buf[200] = {0};
    switch (fam) {
    case FAM_SEQ64: return gomap_hash_u64(i, seed);
    case FAM_SHL20: return gomap_hash_u64(i << 20, seed);
    case FAM_SHL40: return gomap_hash_u64(i << 40, seed);
    case FAM_BSWAP: return gomap_hash_u64(__builtin_bswap64(i), seed);
    case FAM_SEQ32: return gomap_hash_u32((uint32_t)i, seed);
    case FAM_SHL14_32: return gomap_hash_u32((uint32_t)(i << 14), seed);
    case FAM_STR: {
        char s[32];
        int n = snprintf(s, sizeof s, "key%llu", (unsigned long long)i);
        return hb(s, (size_t)n, seed);
    }
    case FAM_B16_HI: memcpy(buf + 8, &i, 8); return hb(buf, 16, seed);
    case FAM_B24: memcpy(buf + 12, &i, 8); return hb(buf, 24, seed);
    case FAM_B40: memcpy(buf + 20, &i, 8); return hb(buf, 40, seed);
    case FAM_B100: memcpy(buf + 50, &i, 8); return hb(buf, 100, seed);
    default: memcpy(buf + 130, &i, 8); return hb(buf, 200, seed);
    }
}

/* The map uses the low B bits for the bucket and the top 8 bits for the
   tophash: both must spread structured keys evenly. */
static void test_distribution(void) {
    static uint32_t low[1u << 12], top[256];
    const unsigned ks[] = {4, 8, 12};
    for (int fam = 0; fam < FAM_COUNT; fam++) {
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            unsigned k = ks[ki];
            size_t buckets = (size_t)1 << k;
            size_t n = buckets * (g_scale > 1 ? 16 : 64);
            if (n < 256 * 16) n = 256 * 16;
            uint64_t seed = tu_rand();
            memset(low, 0, sizeof low);
            memset(top, 0, sizeof top);
            for (uint64_t i = 0; i < n; i++) {
                uint64_t h = family_hash(fam, i, seed);
                low[h & (buckets - 1)]++;
                top[h >> 56]++;
            }
            double cl = chi2(low, buckets, (double)n / (double)buckets);
            double ct = chi2(top, 256, (double)n / 256.0);
            if (cl > chi2_bound((double)(buckets - 1)) || ct > chi2_bound(255))
                fprintf(stderr, "\n    family %d, 2^%u buckets: chi2 low %.1f (bound %.1f), top %.1f\n",
                        fam, k, cl, chi2_bound((double)(buckets - 1)), ct);
            CHECK(cl <= chi2_bound((double)(buckets - 1)));
            CHECK(ct <= chi2_bound(255));
        }
    }
}

/* Go's TestMemHashGlobalSeed: the per-process key differs between processes,
   so the empty input with seed 0 does not hash the same in 3 of them. */
static void test_process_key(void) {
    char a[128], b[128], c[128];
    run_child(g_impl, NULL, a, sizeof a);
    run_child(g_impl, NULL, b, sizeof b);
    run_child(g_impl, NULL, c, sizeof c);
    CHECK(strstr(a, g_impl) != NULL);
    CHECK(!(strcmp(a, b) == 0 && strcmp(b, c) == 0));
}

static void run_impl(enum gomap_hash_impl impl, const char *name) {
    CHECK_EQ(gomap_hash_select(impl), GOMAP_OK);
    CHECK(strcmp(gomap_hash_name(), name) == 0);
    g_impl = name;
    fprintf(stderr, "  [%s]\n", name);
    RUN(test_int_equals_bytes);
    RUN(test_deterministic);
    RUN(test_lengths_and_positions);
    RUN(test_seeds_differ);
    RUN(test_page_boundaries);
    RUN(test_avalanche);
    RUN(test_avalanche_ints);
    RUN(test_distribution);
    RUN(test_process_key);
}

/* ---- gm_rand64 ------------------------------------------------------------------ */

static void test_rand_basic(void) {
    enum { N = 4096 };
    static uint64_t v[N];
    double bits = 0;
    for (int i = 0; i < N; i++) {
        v[i] = gm_rand64();
        bits += __builtin_popcountll(v[i]);
    }
    bits /= N;
    CHECK(bits > 31.0 && bits < 33.0);
    CHECK(all_distinct(v, N));
}

/* After fork the child must not replay the parent's numbers. */
static void test_rand_fork(void) {
    (void)gm_rand64(); /* the parent's state is seeded */
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        uint64_t w[4];
        for (int i = 0; i < 4; i++) w[i] = gm_rand64();
        ssize_t wr = write(fds[1], w, sizeof w);
        _exit(wr == (ssize_t)sizeof w ? 0 : 1);
    }
    close(fds[1]);
    uint64_t mine[4], theirs[4];
    for (int i = 0; i < 4; i++) mine[i] = gm_rand64();
    size_t got = 0;
    ssize_t r;
    while (got < sizeof theirs && (r = read(fds[0], (char *)theirs + got, sizeof theirs - got)) > 0)
        got += (size_t)r;
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(got, sizeof theirs);
    CHECK(memcmp(mine, theirs, sizeof mine) != 0);
    for (int i = 0; i < 4; i++) CHECK(mine[i] != theirs[i]);
}

static void *rand_thread(void *arg) {
    uint64_t *out = (uint64_t *)arg;
    for (int i = 0; i < 64; i++) out[i] = gm_rand64();
    return NULL;
}

/* Each thread has its own sequence. */
static void test_rand_threads(void) {
    static uint64_t v[3][64];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, rand_thread, v[i]) == 0);
    rand_thread(v[2]);
    for (int i = 0; i < 2; i++) CHECK(pthread_join(t[i], NULL) == 0);
    static uint64_t all[3 * 64];
    memcpy(all, v, sizeof all);
    CHECK(all_distinct(all, 3 * 64));
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--child") == 0) return child_main(argv[2]);
    const char *scale = getenv("GOMAP_TEST_SCALE");
    if (scale && strcmp(scale, "small") == 0) g_scale = 10;
#if defined(__x86_64__)
    __builtin_cpu_init();
    g_has_aes = __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1") &&
                __builtin_cpu_supports("ssse3");
#endif
    tu_seed(0x5eed0001u);
    RUN(test_select);
    RUN(test_env_selects);
    if (g_has_aes) run_impl(GOMAP_HASH_AES, "aes");
    else fprintf(stderr, "  [aes] skipped: the CPU lacks AES-NI\n");
    run_impl(GOMAP_HASH_PORTABLE, "portable");
    RUN(test_rand_basic);
    RUN(test_rand_fork);
    RUN(test_rand_threads);
    gomap_hash_select(GOMAP_HASH_AUTO);
    return tu_finish();
}

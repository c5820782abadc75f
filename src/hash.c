/*
 * hash.c -- the built-in hash: AES-NI where the CPU has it, else a portable
 * multiply-mix hash; both keyed per process and per map.
 *
 * Why two.  A map's speed is mostly its hash's speed on short keys, and its
 * safety against chosen keys (hash flooding) needs a secret per process.  On
 * x86-64 with AES-NI, a few AES rounds under secret round keys give both: a
 * round is ~4 cycles, two rounds already make every output byte depend on
 * every input byte, and the key is unknown to whoever chooses the keys.
 * Elsewhere (or with GOMAP_HASH=portable) a wyhash-style hash does the job
 * with 64x64->128-bit multiplies.  These follow the ideas of Go's runtime
 * (aeshash in runtime/asm_amd64.s, memhashFallback in runtime/hash64.go);
 * the code is ours.
 *
 * Seeding.  gm_hash_key holds 128 random bytes drawn once per process from
 * the OS (gm_os_random: getrandom, /dev/urandom, last resort clocks and
 * addresses).  The AES hash uses them as eight 16-byte round keys K0..K7; the
 * portable hash uses the first four 64-bit words.  The seed argument (the
 * per-map seed) and the input length are mixed in on every call, so maps do
 * not share collisions and "ab" never collides structurally with "ab\0".
 *
 * AES hash, by length n (the state is one 128-bit block per lane):
 *   lane seed  S_i = AESENC([seed | n] ^ K_i, K_(i+1)%8)   (one round)
 *   finish(x)  = three AESENC rounds with K2, K3, K4
 *   0..16      finish(zero-padded input ^ S_0), low 64 bits.  The padded
 *              block is assembled with loads that never leave the input.
 *   17..128    2, 4 or 8 lanes: the first half read the start of the input,
 *              the second half its end (overlapping if n % 16 != 0); the
 *              result is the xor of finish(data_i ^ S_i).
 *   129..      8 lanes absorb the last 128 bytes, then every full 128-byte
 *              block from the start; two rounds per 16 bytes per lane.
 *   gm_hash_u64(x) is the 0..16 case with the block [x, 0] and n = 8, so it
 *   equals gm_hash_bytes(&x, 8) by construction (likewise u32 with n = 4):
 *   4 AESENC in all, one of which depends only on the seed.
 *
 * Portable hash (mix(a, b) = high ^ low half of the 128-bit product a*b):
 *   seed ^= key[0]; read two words a, b from the input by length (1..3: three
 *   bytes; 4..16: first and last 4 or 8 bytes; 17..: fold the input 16 bytes
 *   at a time into seed, over three lanes of 48-byte blocks when n > 48, then
 *   take the last 16 bytes); result = mix(C ^ n, mix(a ^ key[1], b ^ seed)).
 *   Unlike Go, n = 0 also goes through the final mix (a = b = 0).
 *
 * Selection.  gm_hash_impl is 0 until the first hash or gomap_hash_select()
 * call, which runs gm_hash_init once (pthread_once): draw the key, check the
 * CPU, read GOMAP_HASH (only "portable" means anything; other values leave
 * the CPU's choice).  The hot path is an acquire load (a plain mov on
 * x86-64), a well-predicted branch and a direct tail call: no function
 * pointer.  The acquire pairs with the release that publishes the choice
 * after the key is written.
 *
 * Cost (AMD EPYC, gcc 12 -O2, best of 5 x 2e7 calls through gomap_hash_*;
 * throughput with independent inputs / latency with each hash feeding the
 * next): AES u64 1.9 / 5.7 ns, 16 bytes 2.7 / 7.1 ns, 64 KiB 36 GB/s;
 * portable u64 2.1 / 3.0 ns, 16 bytes 2.2 / 5.5 ns, 64 KiB 24 GB/s.
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define GM_HASH_HAVE_AES 1
#include <immintrin.h>
#else
#define GM_HASH_HAVE_AES 0
#endif

/* ---- state ---------------------------------------------------------------- */

enum {
    GM_IMPL_UNSET = 0,    /* not initialised yet */
    GM_IMPL_AES = 1,      /* the AES-NI hash */
    GM_IMPL_PORTABLE = 2, /* the multiply-mix hash */
};

/* The per-process key: 8 AES round keys, or 4 words for the portable hash.
   Written once by gm_hash_init, before gm_hash_impl is published. */
static _Alignas(16) uint64_t gm_hash_key[16];
static _Atomic int gm_hash_impl;
static pthread_once_t gm_hash_once = PTHREAD_ONCE_INIT;
static bool gm_cpu_aes; /* set by gm_hash_init */

/* Unaligned native-endian reads. */
static inline uint64_t gm_r8(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline uint64_t gm_r4(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---- the AES hash --------------------------------------------------------- */

#if GM_HASH_HAVE_AES
#define GM_AES_TARGET __attribute__((target("aes,sse4.1,ssse3")))

static inline GM_AES_TARGET __m128i gm_aes_key(int i) {
    return _mm_load_si128((const __m128i *)(const void *)&gm_hash_key[2 * i]);
}

static inline GM_AES_TARGET __m128i gm_aes_lane_seed(__m128i base, int i) {
    return _mm_aesenc_si128(_mm_xor_si128(base, gm_aes_key(i)), gm_aes_key((i + 1) & 7));
}

/* Three keyed rounds: every output bit depends on every input bit after two;
   the third gives full avalanche.  A bijection of the 128-bit block. */
static inline GM_AES_TARGET __m128i gm_aes_finish(__m128i x) {
    x = _mm_aesenc_si128(x, gm_aes_key(2));
    x = _mm_aesenc_si128(x, gm_aes_key(3));
    return _mm_aesenc_si128(x, gm_aes_key(4));
}

static inline GM_AES_TARGET __m128i gm_aes_load(const uint8_t *p) {
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

static inline GM_AES_TARGET __m128i gm_aes_base(size_t n, uint64_t seed) {
    return _mm_set_epi64x((long long)n, (long long)seed);
}

/* The hash of one zero-padded block of n <= 16 bytes. */
static inline GM_AES_TARGET uint64_t gm_aes_block(__m128i block, size_t n, uint64_t seed) {
    __m128i x = _mm_xor_si128(block, gm_aes_lane_seed(gm_aes_base(n, seed), 0));
    return (uint64_t)_mm_cvtsi128_si64(gm_aes_finish(x));
}

/* The n <= 16 input bytes at p, zero-padded to 16 (little-endian: x86 only).
   Overlapping loads that stay inside [p, p+n), so no page can fault. */
static inline GM_AES_TARGET __m128i gm_aes_load_short(const uint8_t *p, size_t n) {
    uint64_t lo = 0, hi = 0;
    if (n >= 8) {
        lo = gm_r8(p);
        if (n > 8) hi = gm_r8(p + n - 8) >> (8 * (16 - n)); /* bytes 8..n-1 */
    } else if (n >= 4) {
        lo = gm_r4(p) | gm_r4(p + n - 4) << (8 * (n - 4));
    } else if (n > 0) {
        lo = (uint64_t)p[0] | (uint64_t)p[n >> 1] << (8 * (n >> 1)) |
             (uint64_t)p[n - 1] << (8 * (n - 1));
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* 17..128 bytes: 2, 4 or 8 lanes over the first and last 16*half bytes. */
static GM_AES_TARGET uint64_t gm_aes_mid(const uint8_t *p, size_t n, uint64_t seed) {
    __m128i base = gm_aes_base(n, seed);
    int half = n <= 32 ? 1 : n <= 64 ? 2 : 4;
    const uint8_t *tail = p + n - 16 * (size_t)half;
    __m128i acc = _mm_setzero_si128();
#pragma GCC unroll 4
    for (int i = 0; i < half; i++) {
        __m128i x = _mm_xor_si128(gm_aes_load(p + 16 * i), gm_aes_lane_seed(base, i));
        __m128i y = _mm_xor_si128(gm_aes_load(tail + 16 * i), gm_aes_lane_seed(base, i + half));
        acc = _mm_xor_si128(acc, _mm_xor_si128(gm_aes_finish(x), gm_aes_finish(y)));
    }
    return (uint64_t)_mm_cvtsi128_si64(acc);
}

/* Absorb 128 bytes into 8 lanes: xor in 16 bytes, then two keyed rounds, so
   that what came before is mixed before the next block lands on it (and the
   order of blocks matters).  The lanes are independent: they run in
   parallel in the AES unit. */
static inline GM_AES_TARGET void gm_aes_absorb(__m128i s[8], const uint8_t *p, __m128i k5,
                                                __m128i k6) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        __m128i t = _mm_xor_si128(s[i], gm_aes_load(p + 16 * i));
        s[i] = _mm_aesenc_si128(_mm_aesenc_si128(t, k5), k6);
    }
}

/* 129 bytes and more. */
static GM_AES_TARGET uint64_t gm_aes_long(const uint8_t *p, size_t n, uint64_t seed) {
    __m128i base = gm_aes_base(n, seed);
    __m128i k5 = gm_aes_key(5), k6 = gm_aes_key(6);
    __m128i s[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) s[i] = gm_aes_lane_seed(base, i);
    gm_aes_absorb(s, p + n - 128, k5, k6); /* the last (maybe overlapping) block first */
    for (size_t blocks = (n - 1) / 128; blocks > 0; blocks--, p += 128) gm_aes_absorb(s, p, k5, k6);
    __m128i acc = gm_aes_finish(s[0]);
#pragma GCC unroll 8
    for (int i = 1; i < 8; i++) acc = _mm_xor_si128(acc, gm_aes_finish(s[i]));
    return (uint64_t)_mm_cvtsi128_si64(acc);
}

static GM_AES_TARGET uint64_t gm_aes_bytes(const void *data, size_t n, uint64_t seed) {
    const uint8_t *p = (const uint8_t *)data;
    if (n < 16) return gm_aes_block(gm_aes_load_short(p, n), n, seed);
    if (n == 16) return gm_aes_block(gm_aes_load(p), 16, seed);
    if (n <= 128) return gm_aes_mid(p, n, seed);
    return gm_aes_long(p, n, seed);
}

static GM_AES_TARGET uint64_t gm_aes_u64(uint64_t x, uint64_t seed) {
    return gm_aes_block(_mm_set_epi64x(0, (long long)x), 8, seed);
}

static GM_AES_TARGET uint64_t gm_aes_u32(uint32_t x, uint64_t seed) {
    return gm_aes_block(_mm_set_epi64x(0, (long long)x), 4, seed);
}

static bool gm_cpu_has_aes(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1") &&
           __builtin_cpu_supports("ssse3");
}
#else
static bool gm_cpu_has_aes(void) { return false; }
#endif /* GM_HASH_HAVE_AES */

/* ---- the portable hash ----------------------------------------------------- */

/* Mixed into the final step with the length (an odd constant). */
#define GM_WY_C 0x1d8e4e27c47d124full

/* high ^ low of the 128-bit product: every output bit depends on most input
   bits of both factors. */
static inline uint64_t gm_wy_mix(uint64_t a, uint64_t b) {
#if defined(__SIZEOF_INT128__) && !defined(GM_HASH_NO_INT128)
    __extension__ typedef unsigned __int128 gm_u128;
    gm_u128 r = (gm_u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    /* Schoolbook product of 32-bit halves. */
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    uint64_t lo = (mid << 32) | (ll & 0xffffffffu);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

static inline uint64_t gm_wy_final(uint64_t a, uint64_t b, uint64_t seed, size_t n) {
    return gm_wy_mix(GM_WY_C ^ (uint64_t)n, gm_wy_mix(a ^ gm_hash_key[1], b ^ seed));
}

/* More than 16 bytes. seed already holds key[0]. */
static uint64_t gm_wy_long(const uint8_t *p, size_t n, uint64_t seed) {
    const uint64_t k1 = gm_hash_key[1], k2 = gm_hash_key[2], k3 = gm_hash_key[3];
    size_t left = n;
    if (left > 48) {
        /* Three independent lanes (different keys) so the multiplies of one
           48-byte block overlap in the pipeline. */
        uint64_t s1 = seed, s2 = seed;
        do {
            seed = gm_wy_mix(gm_r8(p) ^ k1, gm_r8(p + 8) ^ seed);
            s1 = gm_wy_mix(gm_r8(p + 16) ^ k2, gm_r8(p + 24) ^ s1);
            s2 = gm_wy_mix(gm_r8(p + 32) ^ k3, gm_r8(p + 40) ^ s2);
            p += 48;
            left -= 48;
        } while (left > 48);
        seed ^= s1 ^ s2;
    }
    for (; left > 16; left -= 16, p += 16) seed = gm_wy_mix(gm_r8(p) ^ k1, gm_r8(p + 8) ^ seed);
    /* The last 16 bytes (they may overlap bytes already folded in). */
    return gm_wy_final(gm_r8(p + left - 16), gm_r8(p + left - 8), seed, n);
}

static uint64_t gm_wy_bytes(const void *data, size_t n, uint64_t seed) {
    const uint8_t *p = (const uint8_t *)data;
    uint64_t a = 0, b = 0;
    seed ^= gm_hash_key[0];
    if (n > 16) return gm_wy_long(p, n, seed);
    if (n >= 8) {
        a = gm_r8(p);
        b = gm_r8(p + n - 8);
    } else if (n >= 4) {
        a = gm_r4(p);
        b = gm_r4(p + n - 4);
    } else if (n > 0) {
        a = (uint64_t)p[0] | (uint64_t)p[n >> 1] << 8 | (uint64_t)p[n - 1] << 16;
    }
    return gm_wy_final(a, b, seed, n);
}

static inline uint64_t gm_wy_u64(uint64_t x, uint64_t seed) {
    return gm_wy_final(x, x, seed ^ gm_hash_key[0], 8);
}

static inline uint64_t gm_wy_u32(uint32_t x, uint64_t seed) {
    return gm_wy_final(x, x, seed ^ gm_hash_key[0], 4);
}

/* ---- selection ------------------------------------------------------------- */

static void gm_hash_init(void) {
    gm_os_random(gm_hash_key, sizeof gm_hash_key);
    gm_cpu_aes = gm_cpu_has_aes();
    const char *env = getenv("GOMAP_HASH");
    int impl = gm_cpu_aes ? GM_IMPL_AES : GM_IMPL_PORTABLE;
    if (env && strcmp(env, "portable") == 0) impl = GM_IMPL_PORTABLE;
    atomic_store_explicit(&gm_hash_impl, impl, memory_order_release);
}

static GM_NOINLINE int gm_hash_impl_slow(void) {
    pthread_once(&gm_hash_once, gm_hash_init);
    return atomic_load_explicit(&gm_hash_impl, memory_order_acquire);
}

/* The implementation in use, initialising on first call.  Acquire pairs
   with the release in gm_hash_init: a thread that sees the choice also sees
   the key. */
GM_INLINE int gm_hash_impl_get(void) {
    int impl = atomic_load_explicit(&gm_hash_impl, memory_order_acquire);
    return GM_LIKELY(impl != GM_IMPL_UNSET) ? impl : gm_hash_impl_slow();
}

int gomap_hash_select(enum gomap_hash_impl impl) {
    gm_hash_impl_slow(); /* the key and the CPU check, once */
    int chosen;
    switch (impl) {
    case GOMAP_HASH_AUTO: chosen = gm_cpu_aes ? GM_IMPL_AES : GM_IMPL_PORTABLE; break;
    case GOMAP_HASH_AES:
        if (!gm_cpu_aes) return GOMAP_EINVAL;
        chosen = GM_IMPL_AES;
        break;
    case GOMAP_HASH_PORTABLE: chosen = GM_IMPL_PORTABLE; break;
    default: return GOMAP_EINVAL;
    }
    atomic_store_explicit(&gm_hash_impl, chosen, memory_order_release);
    return GOMAP_OK;
}

const char *gomap_hash_name(void) {
    return gm_hash_impl_get() == GM_IMPL_AES ? "aes" : "portable";
}

/* ---- entry points: one predictable branch, then a direct call -------------- */

/* The first call in the process lands here (via a tail call, so that the hot
   path saves no registers): initialise, then start over. */
static GM_NOINLINE uint64_t gm_hash_bytes_first(const void *p, size_t n, uint64_t seed) {
    gm_hash_impl_slow();
    return gm_hash_bytes(p, n, seed);
}
static GM_NOINLINE uint64_t gm_hash_u32_first(uint32_t x, uint64_t seed) {
    gm_hash_impl_slow();
    return gm_hash_u32(x, seed);
}
static GM_NOINLINE uint64_t gm_hash_u64_first(uint64_t x, uint64_t seed) {
    gm_hash_impl_slow();
    return gm_hash_u64(x, seed);
}

uint64_t gm_hash_bytes(const void *p, size_t n, uint64_t seed) {
    int impl = atomic_load_explicit(&gm_hash_impl, memory_order_acquire);
#if GM_HASH_HAVE_AES
    if (GM_LIKELY(impl == GM_IMPL_AES)) return gm_aes_bytes(p, n, seed);
#endif
    if (GM_UNLIKELY(impl == GM_IMPL_UNSET)) return gm_hash_bytes_first(p, n, seed);
    return gm_wy_bytes(p, n, seed);
}

uint64_t gm_hash_u32(uint32_t x, uint64_t seed) {
    int impl = atomic_load_explicit(&gm_hash_impl, memory_order_acquire);
#if GM_HASH_HAVE_AES
    if (GM_LIKELY(impl == GM_IMPL_AES)) return gm_aes_u32(x, seed);
#endif
    if (GM_UNLIKELY(impl == GM_IMPL_UNSET)) return gm_hash_u32_first(x, seed);
    return gm_wy_u32(x, seed);
}

uint64_t gm_hash_u64(uint64_t x, uint64_t seed) {
    int impl = atomic_load_explicit(&gm_hash_impl, memory_order_acquire);
#if GM_HASH_HAVE_AES
    if (GM_LIKELY(impl == GM_IMPL_AES)) return gm_aes_u64(x, seed);
#endif
    if (GM_UNLIKELY(impl == GM_IMPL_UNSET)) return gm_hash_u64_first(x, seed);
    return gm_wy_u64(x, seed);
}

uint64_t gomap_hash_bytes(const void *p, size_t n, uint64_t seed) { return gm_hash_bytes(p, n, seed); }
uint64_t gomap_hash_u32(uint32_t x, uint64_t seed) { return gm_hash_u32(x, seed); }
uint64_t gomap_hash_u64(uint64_t x, uint64_t seed) { return gm_hash_u64(x, seed); }

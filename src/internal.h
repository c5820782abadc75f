/*
 * internal.h -- pieces shared by the map, the concurrent map and the hash.
 * Nothing here is public; every symbol is static or hidden.
 */
#ifndef GOMAP_INTERNAL_H
#define GOMAP_INTERNAL_H

#include "gomap.h"

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define GM_LIKELY(x) __builtin_expect(!!(x), 1)
#define GM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GM_INLINE static inline __attribute__((always_inline))
#define GM_NOINLINE __attribute__((noinline))
#define GM_HIDDEN __attribute__((visibility("hidden")))
#define GM_PREFETCH(p) __builtin_prefetch(p)
#else
#define GM_LIKELY(x) (x)
#define GM_UNLIKELY(x) (x)
#define GM_INLINE static inline
#define GM_NOINLINE
#define GM_HIDDEN
#define GM_PREFETCH(p) ((void)(p))
#endif

/* ---- allocation (src/alloc.c) ------------------------------------------ */

/* The allocator used when the caller gives none: malloc/free. */
GM_HIDDEN extern const gomap_allocator gm_default_allocator;

/* ---- randomness (src/rand.c) --------------------------------------------- */

/* A random 64-bit number from a per-thread generator seeded from the OS
   (getrandom), re-seeded in a child after fork.  Not for cryptography. */
GM_HIDDEN uint64_t gm_rand64(void);

/* Fill buf with n bytes from the OS (getrandom, /dev/urandom, or as a last
   resort a mix of clocks and addresses).  Never fails. */
GM_HIDDEN void gm_os_random(void *buf, size_t n);

/* ---- hashing (src/hash.c) ------------------------------------------------ */

/* The built-in hash functions, as selected by gomap_hash_select().  These are
   the same functions as gomap_hash_bytes/u32/u64; the map calls them directly
   (no indirect call) on its fast paths. */
GM_HIDDEN uint64_t gm_hash_bytes(const void *p, size_t n, uint64_t seed);
GM_HIDDEN uint64_t gm_hash_u32(uint32_t x, uint64_t seed);
GM_HIDDEN uint64_t gm_hash_u64(uint64_t x, uint64_t seed);

/* ---- built-in key kinds (src/types.c) ----------------------------------- */

/* Hash and equality for any descriptor that passed gomap_type_check(): the
   built-in kinds are dispatched with a switch, CUSTOM calls t->hash/t->equal. */
GM_HIDDEN uint64_t gm_key_hash(const gomap_type *t, const void *key, uint64_t seed);
GM_HIDDEN bool gm_key_equal(const gomap_type *t, const void *a, const void *b);

/* ---- misuse (src/error.c) ------------------------------------------------ */

/* Report concurrent misuse through the installed handler (default: print
   "gomap: fatal error: <msg>" and abort).  Returns if the handler returns. */
GM_HIDDEN void gm_fatal(const char *msg);

#endif

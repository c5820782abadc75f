/*
 * loadfactor.c -- regenerate the table behind gomap's load factor of 6.5.
 *
 * For each candidate load factor, fill 2^16 buckets of 8 slots with exactly
 * that many entries per bucket (the worst moment: just before a grow), using
 * gomap's own hash on random 64-bit keys, and report what a u64 -> u64 map
 * would pay (docs/DESIGN.md shows the table): the share of overflow buckets, bytes per entry (keys and values
 * included), buckets visited and key comparisons per hit and per miss.
 */
#include <gomap.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B 16
#define NB (1u << B)
#define BUCKET_BYTES 144.0 /* record 16 (tophash 8 + overflow 8) + keys 64 + values 64 */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static uint8_t tophash(uint64_t h) {
    uint8_t t = (uint8_t)(h >> 56);
    return t < 5 ? (uint8_t)(t + 5) : t;
}

int main(void) {
    const uint64_t seed = 42;
    static uint8_t tops[NB][64]; /* tophashes per chain, in insertion order */
    static unsigned cnt[NB];
    printf("| load factor | overflow %% | bytes/entry | buckets/hit | compares/hit | buckets/miss | compares/miss |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (double lf = 4.0; lf <= 8.01; lf += 0.5) {
        memset(cnt, 0, sizeof cnt);
        size_t n = (size_t)(lf * NB);
        double hit_b = 0, hit_c = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t h = gomap_hash_u64(next(), seed);
            unsigned b = (unsigned)(h & (NB - 1));
            if (cnt[b] == 64) continue;
            uint8_t t = tophash(h);
            unsigned same = 0;
            for (unsigned j = 0; j < cnt[b]; j++) same += tops[b][j] == t;
            tops[b][cnt[b]] = t;
            hit_b += cnt[b] / 8 + 1; /* bucket holding the entry */
            hit_c += same + 1;       /* earlier tophash matches, then the key */
            cnt[b]++;
        }
        size_t ovf = 0;
        for (unsigned b = 0; b < NB; b++) ovf += cnt[b] > 8 ? (cnt[b] - 1) / 8 : 0;
        double miss_b = 0, miss_c = 0;
        const unsigned probes = 1u << 20;
        for (unsigned i = 0; i < probes; i++) {
            uint64_t h = gomap_hash_u64(next(), seed);
            unsigned b = (unsigned)(h & (NB - 1)), c = cnt[b];
            uint8_t t = tophash(h);
            for (unsigned j = 0; j < c; j++) miss_c += tops[b][j] == t;
            miss_b += c ? (c + 7) / 8 : 1;
        }
        double dn = (double)n, dovf = (double)ovf;
        printf("| %.1f | %.1f | %.1f | %.3f | %.3f | %.3f | %.4f |\n", lf, 100.0 * dovf / NB,
               BUCKET_BYTES * (NB + dovf) / dn, hit_b / dn, hit_c / dn, miss_b / probes, miss_c / probes);
    }
    return 0;
}

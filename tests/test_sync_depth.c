/*
 * test_sync_depth.c -- gomap_sync_stats.depth_entries: the trie's entries
 * by depth, exactly for keys whose hashes are chosen, and consistent with
 * entries and max_depth for random keys.
 */
#include "gomap_sync.h"
#include "testutil.h"

/* The identity hash: a key's nibbles, from the top, are its path. */
static uint64_t hash_ident(const void *k, uint64_t seed) {
    (void)seed;
    uint64_t x;
    memcpy(&x, k, 8);
    return x;
}
static bool eq_u64(const void *a, const void *b) { return memcmp(a, b, 8) == 0; }

static void store(gomap_sync *m, uint64_t k) { CHECK_EQ(gomap_sync_store(m, &k, &k), 1); }

static void test_chosen_depths(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_BYTES, 8, 8, 8);
    t.kind = GOMAP_KEY_CUSTOM;
    t.hash = hash_ident;
    t.equal = eq_u64;
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, NULL), GOMAP_OK);
    store(m, 0x1000000000000000ull); /* root slots 1 and 2: depth 1 */
    store(m, 0x2000000000000000ull);
    store(m, 0x3100000000000000ull); /* share nibble 3: depth 2 */
    store(m, 0x3200000000000000ull);
    store(m, 0xA23456789abcdef0ull); /* differ in the last nibble: depth 16 */
    store(m, 0xA23456789abcdef1ull);
    gomap_sync_stats st;
    gomap_sync_stats_get(m, &st);
    CHECK_EQ(st.entries, 6);
    CHECK_EQ(st.max_depth, 16);
    for (int d = 0; d < GOMAP_SYNC_DEPTHS; d++)
        CHECK_EQ(st.depth_entries[d], d == 0 || d == 1 || d == 15 ? 2 : 0);
    CHECK_SYNC(m);
    gomap_sync_free(m);
}

static void test_random_keys(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap_sync *m = NULL;
    CHECK_EQ(gomap_sync_create(&m, &t, NULL), GOMAP_OK);
    tu_seed(7);
    for (int i = 0; i < 20000; i++) {
        uint64_t k = tu_rand();
        CHECK(gomap_sync_store(m, &k, &k) >= 0);
    }
    gomap_sync_stats st;
    gomap_sync_stats_get(m, &st);
    size_t sum = 0;
    int deepest = 0;
    for (int d = 0; d < GOMAP_SYNC_DEPTHS; d++) {
        sum += st.depth_entries[d];
        if (st.depth_entries[d]) deepest = d + 1;
    }
    CHECK_EQ(sum, st.entries);
    CHECK_EQ(deepest, st.max_depth);
    CHECK_EQ(st.depth_entries[0], 0); /* 20000 entries do not fit 16 root slots */
    gomap_sync_free(m);
    gomap_sync_stats_get(NULL, &st);
    for (int d = 0; d < GOMAP_SYNC_DEPTHS; d++) CHECK_EQ(st.depth_entries[d], 0);
}

int main(void) {
    RUN(test_chosen_depths);
    RUN(test_random_keys);
    return tu_finish();
}

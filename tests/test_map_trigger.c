/*
 * test_map_trigger.c -- grows start exactly where Go's do.
 *
 * Go starts a grow on the insert that takes count past 6.5 * 2^B (more
 * than 8 entries and more than 6.5 per bucket); B becomes B + 1 at once.
 * Faulting the next array in ahead (I13) must not move that point.  Every
 * built-in key kind, plus a CUSTOM one, is filled one key at a time with
 * the default allocator (whose big arrays are the ones faulted in ahead),
 * and every insert is checked against the rule; then maps made with a hint
 * right at a load limit grow on the next insert.
 */
#include "testutil.h"

#include <stdbool.h>

/* Would Go grow on the insert that finds the map in state b? */
static bool go_grows(const gomap_stats *b) {
    size_t n = b->count + 1;
    return !b->growing && n > 8 && n * 2 > 13 * b->buckets;
}

/* Insert one new key and check the grow rule; true if it grew. */
static bool insert_checked(gomap *m, const void *key) {
    gomap_stats b, a;
    gomap_stats_get(m, &b);
    uint64_t v = b.count;
    CHECK_EQ(gomap_put(m, key, &v), 1);
    gomap_stats_get(m, &a);
    bool grew = go_grows(&b);
    CHECK_EQ(a.grows, b.grows + (grew ? 1 : 0));
    CHECK_EQ(a.same_size_grows, 0);
    CHECK_EQ(a.B, b.B + (grew ? 1u : 0u));
    if (grew && b.B >= 2) CHECK(a.growing); /* 2 buckets moved of 4 or more */
    return grew;
}

typedef struct custom_key {
    uint32_t id;
    uint32_t pad; /* always zero */
} custom_key;
static uint64_t custom_hash(const void *k, uint64_t seed) {
    return gomap_hash_u64(((const custom_key *)k)->id, seed);
}
static bool custom_equal(const void *a, const void *b) {
    return ((const custom_key *)a)->id == ((const custom_key *)b)->id;
}

enum { STR_LEN = 12 };

/* Key number i of the given kind in buf (strings: their bytes in text). */
static const void *make_key(enum gomap_key_kind kind, uint64_t i, void *buf, char *text) {
    switch (kind) {
    case GOMAP_KEY_U8: *(uint8_t *)buf = (uint8_t)i; break;
    case GOMAP_KEY_U16: *(uint16_t *)buf = (uint16_t)i; break;
    case GOMAP_KEY_U32: *(uint32_t *)buf = (uint32_t)(i * 2654435761u); break;
    case GOMAP_KEY_U64: *(uint64_t *)buf = i * 0x9E3779B97F4A7C15ull; break;
    case GOMAP_KEY_F32: *(float *)buf = (float)i + 0.5f; break;
    case GOMAP_KEY_F64: *(double *)buf = (double)i * 1.25; break;
    case GOMAP_KEY_STR:
    case GOMAP_KEY_STR_COPY: {
        snprintf(text, STR_LEN + 1, "k%011llu", (unsigned long long)(i % 100000000000ull));
        gomap_str s = {text, STR_LEN};
        memcpy(buf, &s, sizeof s);
        break;
    }
    case GOMAP_KEY_BYTES: {
        uint64_t w[2] = {i, ~i};
        memcpy(buf, w, sizeof w);
        break;
    }
    case GOMAP_KEY_CUSTOM: {
        custom_key k = {(uint32_t)i, 0};
        memcpy(buf, &k, sizeof k);
        break;
    }
    }
    return buf;
}

static gomap_type type_of(enum gomap_key_kind kind) {
    if (kind == GOMAP_KEY_CUSTOM) {
        gomap_type t = {sizeof(custom_key), 4, 8, 8, GOMAP_KEY_CUSTOM, 0, custom_hash,
                        custom_equal, NULL, NULL};
        return t;
    }
    return gomap_type_builtin(kind, kind == GOMAP_KEY_BYTES ? 16 : 0, 8, 8);
}

/* Fill a map of the given kind with n distinct keys, checking every insert. */
static void fill_checked(enum gomap_key_kind kind, uint64_t n, unsigned want_grows) {
    gomap_type t = type_of(kind);
    gomap *m = gomap_new(&t, 0);
    CHECK(m);
    /* borrowed strings must outlive the map */
    char *texts = kind == GOMAP_KEY_STR ? malloc((size_t)n * (STR_LEN + 1)) : NULL;
    char scratch[STR_LEN + 1];
    unsigned grows = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t buf[2];
        char *text = texts ? texts + i * (STR_LEN + 1) : scratch;
        grows += insert_checked(m, make_key(kind, i, buf, text));
        if ((i & 8191) == 0) CHECK_MAP(m);
    }
    CHECK_EQ(gomap_len(m), n);
    CHECK(grows >= want_grows);
    CHECK_MAP(m);
    gomap_free(m);
    free(texts);
}

/* Enough entries that the arrays of the last grows are mmap'ed and faulted
   in ahead (u64 -> u64 from B = 11, 6656 entries on). */
static uint64_t big_n(void) { return (uint64_t)tu_scaled(120000, 30000); }

static void test_u8(void) { fill_checked(GOMAP_KEY_U8, 256, 6); }
static void test_u16(void) { fill_checked(GOMAP_KEY_U16, 65536, 13); }
static void test_u32(void) { fill_checked(GOMAP_KEY_U32, big_n(), 13); }
static void test_u64(void) { fill_checked(GOMAP_KEY_U64, big_n(), 13); }
static void test_f32(void) { fill_checked(GOMAP_KEY_F32, big_n(), 13); }
static void test_f64(void) { fill_checked(GOMAP_KEY_F64, big_n(), 13); }
static void test_str(void) { fill_checked(GOMAP_KEY_STR, big_n(), 13); }
static void test_str_copy(void) { fill_checked(GOMAP_KEY_STR_COPY, big_n(), 13); }
static void test_bytes(void) { fill_checked(GOMAP_KEY_BYTES, big_n(), 13); }
static void test_custom(void) { fill_checked(GOMAP_KEY_CUSTOM, big_n(), 13); }

/* make(map, hint) with hint at 6.5 * 2^B: B as asked, no grow through hint
   inserts, and the next insert starts one (Go's makemap + mapassign). */
static void test_hints(void) {
    static const unsigned Bs[] = {1, 3, 10, 11, 13, 14};
    static const enum gomap_key_kind kinds[] = {GOMAP_KEY_U64, GOMAP_KEY_STR_COPY};
    for (size_t ki = 0; ki < 2; ki++) {
        for (size_t bi = 0; bi < sizeof Bs / sizeof Bs[0]; bi++) {
            unsigned B = Bs[bi];
            uint64_t hint = (uint64_t)13 << (B - 1); /* 6.5 * 2^B */
            gomap_type t = type_of(kinds[ki]);
            gomap *m = gomap_new(&t, (int64_t)hint);
            CHECK(m);
            gomap_stats s;
            gomap_stats_get(m, &s);
            CHECK_EQ(s.B, B);
            char text[STR_LEN + 1];
            for (uint64_t i = 0; i < hint; i++) {
                uint64_t buf[2];
                CHECK(!insert_checked(m, make_key(kinds[ki], i, buf, text)));
            }
            gomap_stats_get(m, &s);
            CHECK_EQ(s.B, B);
            CHECK_EQ(s.grows, 0);
            uint64_t buf[2];
            CHECK(insert_checked(m, make_key(kinds[ki], hint, buf, text)));
            gomap_stats_get(m, &s);
            CHECK_EQ(s.B, B + 1);
            CHECK_MAP(m);
            gomap_free(m);
            /* one more in the hint: B + 1 from the start */
            m = gomap_new(&t, (int64_t)hint + 1);
            CHECK(m);
            gomap_stats_get(m, &s);
            CHECK_EQ(s.B, B + 1);
            gomap_free(m);
        }
    }
}

int main(void) {
    RUN(test_u8);
    RUN(test_u16);
    RUN(test_u32);
    RUN(test_u64);
    RUN(test_f32);
    RUN(test_f64);
    RUN(test_str);
    RUN(test_str_copy);
    RUN(test_bytes);
    RUN(test_custom);
    RUN(test_hints);
    return tu_finish();
}

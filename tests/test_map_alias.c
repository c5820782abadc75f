/*
 * test_map_alias.c -- writes whose key or value argument points into the
 * same map: Go's m[k2] = m[k1], spelled gomap_put(m, &k2, gomap_get(m, &k1)).
 *
 * Each case sets up a map whose grow has exactly one old bucket left to
 * evacuate, takes a pointer into that bucket (a value from gomap_get, a key
 * from gomap_get_key), and hands it to a write: the write evacuates that
 * bucket, which finishes the grow and frees the old array, so the argument
 * points into freed memory unless the call copied it first.  The allocator
 * fills freed memory with a poison pattern, so a late read shows up as a
 * wrong key or value even without AddressSanitizer (which the sanitizer
 * build adds).
 */
#include "testutil.h"

#include <stdbool.h>

/* ---- a poisoning allocator ------------------------------------------------- */

static void *poison_alloc(void *ctx, size_t size) {
    (void)ctx;
    return malloc(size ? size : 1);
}
static void poison_free(void *ctx, void *p, size_t size) {
    (void)ctx;
    /* volatile: a memset right before free is a dead store to the compiler */
    volatile unsigned char *q = (volatile unsigned char *)p;
    for (size_t i = 0; p && i < size; i++) q[i] = 0xA5;
    free(p);
}
static const gomap_allocator poison = {poison_alloc, poison_free, NULL};

/* ---- setting up the last evacuation ----------------------------------------- */

/* Values have the top bit set, keys never (test_batch_later_pairs_aliased). */
static uint64_t val_of(uint64_t k) { return k | (uint64_t)1 << 63; }

/* Evacuated old buckets of the grow in progress. */
static size_t evacuated_now(const gomap *m, uint64_t at_start) {
    gomap_stats s;
    gomap_stats_get(m, &s);
    return (size_t)(s.evacuated - at_start);
}

/*
 * A u64 -> u64 map (keys 1..n, value val_of(k)) in the middle of a doubling
 * with exactly one old bucket not yet evacuated; *key is a key stored in that
 * bucket.  Every later write finishes the grow.  Deletes of absent keys move
 * the grow along without changing the entries.  NULL when the seed left that
 * bucket empty.
 */
static gomap *try_one_bucket_left(size_t n, uint64_t *key) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new_with(&t, 0, &poison);
    CHECK(m);
    gomap_stats s;
    uint64_t ev0 = 0;
    for (uint64_t k = 1;; k++) {
        gomap_stats_get(m, &s);
        ev0 = s.evacuated;
        uint64_t v = val_of(k);
        CHECK_EQ(gomap_put(m, &k, &v), 1);
        gomap_stats_get(m, &s);
        if (k >= n && s.growing) break;
    }
    /* The inserting write may have evacuated some buckets already. */
    uint64_t absent = (uint64_t)1 << 62;
    for (;;) {
        gomap_stats_get(m, &s);
        CHECK(s.growing);
        if (s.old_buckets - evacuated_now(m, ev0) == 1) break;
        /* A delete evacuates the old bucket of its key, then the one at
           nevacuate: pick an absent key whose old bucket is already
           evacuated (below nevacuate, which the first write of a grow
           always moves past 0), so that this write moves exactly one. */
        CHECK(s.nevacuate > 0);
        uint64_t k;
        for (k = absent;; k++)
            if ((gomap_hash_u64(k, s.seed) & (s.old_buckets - 1)) < s.nevacuate) break;
        absent = k + 1;
        CHECK_EQ(gomap_delete(m, &k), 0);
    }
    CHECK_MAP(m);
    gomap_stats_get(m, &s);
    for (uint64_t k = 1; gomap_get(m, &k); k++) {
        if ((gomap_hash_u64(k, s.seed) & (s.old_buckets - 1)) == s.nevacuate) {
            *key = k;
            return m;
        }
    }
    /* The seed left that bucket empty (an old bucket of ~6.5 keys is empty
       about once in 700): try again with a fresh map and seed. */
    gomap_free(m);
    return NULL;
}

static gomap *map_one_bucket_left(size_t n, uint64_t *key) {
    for (int tries = 0; tries < 100; tries++) {
        gomap *m = try_one_bucket_left(n, key);
        if (m) return m;
    }
    fprintf(stderr, "no seed put a key in the last old bucket\n");
    exit(1);
}

static void expect_grow_done(const gomap *m) {
    gomap_stats s;
    gomap_stats_get(m, &s);
    CHECK(!s.growing);
    CHECK_MAP(m);
}

/* ---- each write call ---------------------------------------------------------- */

/* Old-array sizes: 1 bucket (the grow starts and ends in one insert) up to
   arrays of 64 buckets. */
static const size_t sizes[] = {9, 14, 27, 53, 105, 209, 417};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void test_put_value_from_map(void) {
    for (size_t z = 0; z < NSIZES; z++) {
        uint64_t k1;
        gomap *m = map_one_bucket_left(sizes[z], &k1);
        uint64_t k2 = 1000000 + z; /* new key */
        size_t len = gomap_len(m);
        CHECK_EQ(gomap_put(m, &k2, gomap_get(m, &k1)), 1);
        expect_grow_done(m);
        CHECK_EQ(gomap_len(m), len + 1);
        CHECK_EQ(*(uint64_t *)gomap_get(m, &k2), val_of(k1));
        gomap_free(m);
    }
}

static void test_put_value_to_existing(void) {
    for (size_t z = 0; z < NSIZES; z++) {
        uint64_t k1;
        gomap *m = map_one_bucket_left(sizes[z], &k1);
        uint64_t k2 = k1 == 1 ? 2 : 1; /* an existing key */
        CHECK_EQ(gomap_put(m, &k2, gomap_get(m, &k1)), 0);
        expect_grow_done(m);
        CHECK_EQ(*(uint64_t *)gomap_get(m, &k2), val_of(k1));
        /* A value put onto itself. */
        CHECK_EQ(gomap_put(m, &k1, gomap_get(m, &k1)), 0);
        CHECK_EQ(*(uint64_t *)gomap_get(m, &k1), val_of(k1));
        gomap_free(m);
    }
}

static const void *stored_key(const gomap *m, uint64_t k) {
    const void *sk = NULL;
    CHECK(gomap_get_key(m, &k, &sk));
    CHECK(sk);
    return sk;
}

static void test_put_key_from_map(void) {
    for (size_t z = 0; z < NSIZES; z++) {
        uint64_t k1;
        gomap *m = map_one_bucket_left(sizes[z], &k1);
        size_t len = gomap_len(m);
        uint64_t v = 99;
        CHECK_EQ(gomap_put(m, stored_key(m, k1), &v), 0);
        expect_grow_done(m);
        CHECK_EQ(gomap_len(m), len);
        CHECK_EQ(*(uint64_t *)gomap_get(m, &k1), 99);
        gomap_free(m);
    }
}

static void test_assign_key_from_map(void) {
    for (size_t z = 0; z < NSIZES; z++) {
        for (int two = 0; two < 2; two++) {
            uint64_t k1;
            gomap *m = map_one_bucket_left(sizes[z], &k1);
            size_t len = gomap_len(m);
            bool inserted = true;
            uint64_t *v = two ? gomap_assign2(m, stored_key(m, k1), &inserted)
                              : gomap_assign(m, stored_key(m, k1));
            CHECK(v);
            CHECK_EQ(*v, val_of(k1));
            if (two) CHECK(!inserted);
            expect_grow_done(m);
            CHECK_EQ(gomap_len(m), len);
            gomap_free(m);
        }
    }
}

static void test_delete_key_from_map(void) {
    for (size_t z = 0; z < NSIZES; z++) {
        uint64_t k1;
        gomap *m = map_one_bucket_left(sizes[z], &k1);
        size_t len = gomap_len(m);
        CHECK_EQ(gomap_delete(m, stored_key(m, k1)), 1);
        expect_grow_done(m);
        CHECK_EQ(gomap_len(m), len - 1);
        CHECK(!gomap_get(m, &k1));
        gomap_free(m);
    }
}

static void test_batches_from_map(void) {
    for (size_t z = 0; z < NSIZES; z++) {
        uint64_t k1;
        /* put_many: a stored key and its own value, then a new key. */
        gomap *m = map_one_bucket_left(sizes[z], &k1);
        size_t len = gomap_len(m), done = 0;
        CHECK_EQ(gomap_put_many(m, stored_key(m, k1), gomap_get(m, &k1), 1, &done), GOMAP_OK);
        CHECK_EQ(done, 1);
        expect_grow_done(m);
        CHECK_EQ(gomap_len(m), len);
        CHECK_EQ(*(uint64_t *)gomap_get(m, &k1), val_of(k1));
        gomap_free(m);

        m = map_one_bucket_left(sizes[z], &k1);
        len = gomap_len(m);
        uint64_t k2 = 2000000 + z;
        /* Several pairs, the aliased one last: the writes before it finish
           the grow while its key and value are still waiting. */
        uint64_t keys[4] = {k2, k2 + 1, k2 + 2, 0};
        uint64_t vals[4] = {1, 2, 3, 0};
        CHECK_EQ(gomap_put_many(m, keys, vals, 3, &done), GOMAP_OK);
        expect_grow_done(m);
        gomap_free(m);

        m = map_one_bucket_left(sizes[z], &k1);
        len = gomap_len(m);
        CHECK_EQ(gomap_put_many(m, &k2, gomap_get(m, &k1), 1, &done), GOMAP_OK);
        expect_grow_done(m);
        CHECK_EQ(*(uint64_t *)gomap_get(m, &k2), val_of(k1));
        CHECK_EQ(gomap_len(m), len + 1);
        gomap_free(m);

        m = map_one_bucket_left(sizes[z], &k1);
        len = gomap_len(m);
        CHECK_EQ(gomap_delete_many(m, stored_key(m, k1), 1, &done), GOMAP_OK);
        expect_grow_done(m);
        CHECK_EQ(gomap_len(m), len - 1);
        CHECK(!gomap_get(m, &k1));
        gomap_free(m);
    }
}

/* A batch whose later pairs point into the map while its first write
   finishes the grow: keys and vals are the key and value arrays of the
   last old bucket itself, from k1's slot to the end of the bucket (the
   keys of a u64 -> u64 bucket are contiguous, and so are its values).
   Values have their top bit set and keys do not, so the run of keys from
   k1's slot on ends where the first value (slot 0's, never empty: no key
   was deleted) begins. */
static void test_batch_later_pairs_aliased(void) {
    for (size_t z = 0; z < NSIZES; z++) {
        uint64_t k1;
        gomap *m = map_one_bucket_left(sizes[z], &k1);
        const uint64_t *ks = stored_key(m, k1);
        const uint64_t *vs = gomap_get(m, &k1);
        CHECK(vs);
        uint64_t want_k[8], want_v[8];
        size_t n = 0;
        while (n < 8 && !(ks[n] >> 63)) {
            want_k[n] = ks[n];
            want_v[n] = vs[n];
            n++;
        }
        CHECK(n >= 1);
        size_t len = gomap_len(m), done = 0, fresh = 0;
        for (size_t j = 0; j < n; j++) {
            bool seen = false;
            for (size_t i = 0; i < j; i++) seen |= want_k[i] == want_k[j];
            if (!seen && !gomap_get(m, &want_k[j])) fresh++;
        }
        CHECK_EQ(gomap_put_many(m, ks, vs, n, &done), GOMAP_OK);
        CHECK_EQ(done, n);
        expect_grow_done(m);
        CHECK_EQ(gomap_len(m), len + fresh);
        for (size_t j = 0; j < n; j++) {
            uint64_t last = want_v[j];
            for (size_t i = j + 1; i < n; i++)
                if (want_k[i] == want_k[j]) last = want_v[i];
            CHECK_EQ(*(uint64_t *)gomap_get(m, &want_k[j]), last);
        }
        gomap_free(m);
    }
}

/* String keys that the map owns: a stored key handed back as the key of a
   put and of a delete, on the write that finishes a grow. */
static void test_str_copy_key_from_map(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_STR_COPY, 0, 8, 8);
    for (int round = 0; round < 40; round++) {
        gomap *m = gomap_new_with(&t, 0, &poison);
        CHECK(m);
        char buf[32];
        gomap_stats s;
        int n = 0;
        do { /* fill until a grow is in progress */
            int len = snprintf(buf, sizeof buf, "key-%d-%d", round, n);
            gomap_str k = {buf, (size_t)len};
            uint64_t v = (uint64_t)n++;
            CHECK_EQ(gomap_put(m, &k, &v), 1);
            gomap_stats_get(m, &s);
        } while (!s.growing || n < 9 + round);
        while (s.growing) {
            /* Re-put every key through its stored copy until the grow ends. */
            gomap_iter it;
            gomap_iter_init(&it, m);
            CHECK(gomap_iter_next(&it));
            gomap_str sk = *(const gomap_str *)it.key;
            gomap_iter_done(&it);
            uint64_t v = 5;
            const void *stored = NULL;
            CHECK(gomap_get_key(m, &sk, &stored));
            CHECK_EQ(gomap_put(m, stored, &v), 0);
            CHECK_EQ(*(uint64_t *)gomap_get(m, &sk), 5);
            gomap_stats_get(m, &s);
        }
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* `test_map_alias NAME` runs only the test called NAME. */
static const char *only;
#define RUN_ONE(fn)                                  \
    do {                                             \
        if (!only || strcmp(only, #fn) == 0) RUN(fn); \
    } while (0)

int main(int argc, char **argv) {
    only = argc > 1 ? argv[1] : NULL;
    RUN_ONE(test_put_value_from_map);
    RUN_ONE(test_put_value_to_existing);
    RUN_ONE(test_put_key_from_map);
    RUN_ONE(test_assign_key_from_map);
    RUN_ONE(test_delete_key_from_map);
    RUN_ONE(test_batches_from_map);
    RUN_ONE(test_batch_later_pairs_aliased);
    RUN_ONE(test_str_copy_key_from_map);
    return tu_finish();
}

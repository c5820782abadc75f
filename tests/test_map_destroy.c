/*
 * test_map_destroy.c -- key and value destructors (gomap.h, gomap_type):
 * called exactly once per stored instance, by delete, clear, free, put
 * (the old value) and key update (the old key); never for an entry still in
 * the map, never for a key the map did not keep (a hit without key update);
 * with iterators live, a deleted key stays intact (and is never destroyed
 * while an iterator may still hash it) until the iterators are done.  Every
 * key and value instance is numbered and tracked (refmodel.h, rm_owned_*):
 * the destructors abort on a second call, on an instance still in the map,
 * and hash/equal abort on a destroyed key.  Inline and out-of-line (> 128
 * bytes) keys and values.
 */
#include "gomap.h"
#include "refmodel.h"
#include "testutil.h"

enum { NIDS = 2000 };

typedef struct dmap {
    gomap *m;
    gomap_type t;
    bool key_update;
    uint64_t key_gen[NIDS]; /* the key instance stored for id (0: absent) */
    uint64_t val_gen[NIDS];
    _Alignas(16) unsigned char key[256];
    _Alignas(16) unsigned char val[256];
    unsigned live_iters;
} dmap;

static dmap *d_new(unsigned flags, size_t ks, size_t vs, int64_t hint) {
    dmap *d = (dmap *)calloc(1, sizeof *d);
    CHECK(d != NULL);
    CHECK(ks <= sizeof d->key && vs <= sizeof d->val);
    d->t = rm_owned_type_sized(flags, ks, vs);
    d->key_update = (flags & GOMAP_F_KEY_UPDATE) != 0;
    CHECK_EQ(gomap_type_check(&d->t), GOMAP_OK);
    d->m = gomap_new(&d->t, hint);
    CHECK(d->m != NULL);
    return d;
}

static void d_free(dmap *d) {
    rm_freeing = true;
    gomap_free(d->m);
    rm_freeing = false;
    for (size_t id = 0; id < NIDS; id++) {
        if (d->key_gen[id]) CHECK_EQ(rm_inst[d->key_gen[id]], RM_DESTROYED);
        if (d->val_gen[id]) CHECK_EQ(rm_inst[d->val_gen[id]], RM_DESTROYED);
    }
    CHECK(rm_all_destroyed());
    free(d);
}

static bool present(const dmap *d, size_t id) { return d->key_gen[id] != 0; }

/* key bytes {id, gen} (gen 0: a probe that is never stored) */
static void *mk_key(dmap *d, size_t id, uint64_t gen) {
    memset(d->key, 0xEE, sizeof d->key);
    rm_owned_key k = {id, gen};
    memcpy(d->key, &k, sizeof k);
    return d->key;
}
static void *mk_val(dmap *d, uint64_t gen, uint64_t tag) {
    memset(d->val, 0xDD, sizeof d->val);
    rm_owned_val v = {gen, tag};
    memcpy(d->val, &v, sizeof v);
    return d->val;
}

/* put: an insert stores both instances; a hit destroys the old value now,
   and with key update also the old key (the new one is stored). */
static void d_put(dmap *d, size_t id) {
    uint64_t kg = rm_new_gen(), vg = rm_new_gen();
    bool had = present(d, id);
    uint64_t old_k = d->key_gen[id], old_v = d->val_gen[id];
    if (had) {
        rm_inst[old_v] = RM_RELEASED;
        if (d->key_update) rm_inst[old_k] = RM_RELEASED;
    }
    rm_inst[vg] = RM_IN_MAP;
    if (!had || d->key_update) rm_inst[kg] = RM_IN_MAP;
    uint64_t kd = rm_key_destroys, vd = rm_val_destroys;
    int rc = gomap_put(d->m, mk_key(d, id, kg), mk_val(d, vg, id));
    CHECK_EQ(rc, had ? 0 : 1);
    if (had) {
        CHECK_EQ(rm_inst[old_v], RM_DESTROYED);
        CHECK_EQ(rm_val_destroys, vd + 1);
        if (d->key_update) {
            /* the old key goes now, unless an iterator might still need it */
            if (d->live_iters == 0) CHECK_EQ(rm_inst[old_k], RM_DESTROYED);
            d->key_gen[id] = kg;
        } else {
            CHECK_EQ(rm_key_destroys, kd); /* the map did not keep the new key */
        }
    } else {
        CHECK_EQ(rm_key_destroys, kd);
        CHECK_EQ(rm_val_destroys, vd);
        d->key_gen[id] = kg;
    }
    d->val_gen[id] = vg;
}

/* assign: a hit destroys nothing (the caller then owns what it writes), but
   with key update the old key is replaced and destroyed. */
static void d_assign(dmap *d, size_t id) {
    uint64_t kg = rm_new_gen(), vg = rm_new_gen();
    bool had = present(d, id);
    uint64_t old_k = d->key_gen[id], old_v = d->val_gen[id];
    if (had && d->key_update) rm_inst[old_k] = RM_RELEASED;
    if (!had || d->key_update) rm_inst[kg] = RM_IN_MAP;
    uint64_t vd = rm_val_destroys;
    bool ins = false;
    void *v = gomap_assign2(d->m, mk_key(d, id, kg), &ins);
    CHECK(v != NULL);
    CHECK_EQ(ins, !had);
    CHECK_EQ(rm_val_destroys, vd);
    if (had) {
        /* the test replaces the value itself: the old one is its to drop */
        rm_owned_val ov;
        memcpy(&ov, v, sizeof ov);
        CHECK_EQ(ov.gen, old_v);
        rm_inst[old_v] = RM_DESTROYED;
        if (d->key_update) {
            if (d->live_iters == 0) CHECK_EQ(rm_inst[old_k], RM_DESTROYED);
            d->key_gen[id] = kg;
        }
    } else {
        d->key_gen[id] = kg;
    }
    rm_inst[vg] = RM_IN_MAP;
    memcpy(v, mk_val(d, vg, id), d->t.val_size);
    d->val_gen[id] = vg;
}

static void d_delete(dmap *d, size_t id) {
    bool had = present(d, id);
    uint64_t kd = rm_key_destroys, vd = rm_val_destroys;
    if (had) {
        rm_inst[d->key_gen[id]] = RM_RELEASED;
        rm_inst[d->val_gen[id]] = RM_RELEASED;
    }
    int rc = gomap_delete(d->m, mk_key(d, id, 0));
    CHECK_EQ(rc, had ? 1 : 0);
    if (!had) {
        CHECK_EQ(rm_key_destroys, kd);
        CHECK_EQ(rm_val_destroys, vd);
        return;
    }
    if (d->live_iters == 0) {
        CHECK_EQ(rm_inst[d->key_gen[id]], RM_DESTROYED);
        CHECK_EQ(rm_inst[d->val_gen[id]], RM_DESTROYED);
        CHECK_EQ(rm_key_destroys, kd + 1);
        CHECK_EQ(rm_val_destroys, vd + 1);
    }
    d->key_gen[id] = 0;
    d->val_gen[id] = 0;
}

static void d_clear(dmap *d) {
    size_t n = 0;
    for (size_t id = 0; id < NIDS; id++)
        if (present(d, id)) {
            rm_inst[d->key_gen[id]] = RM_RELEASED;
            rm_inst[d->val_gen[id]] = RM_RELEASED;
            n++;
        }
    uint64_t kd = rm_key_destroys, vd = rm_val_destroys;
    CHECK_EQ(gomap_clear(d->m), GOMAP_OK);
    CHECK_EQ(gomap_len(d->m), 0);
    if (d->live_iters == 0) CHECK_EQ(rm_key_destroys, kd + n);
    if (d->live_iters == 0) CHECK_EQ(rm_val_destroys, vd + n);
    for (size_t id = 0; id < NIDS; id++) {
        if (present(d, id) && d->live_iters == 0) {
            CHECK_EQ(rm_inst[d->key_gen[id]], RM_DESTROYED);
            CHECK_EQ(rm_inst[d->val_gen[id]], RM_DESTROYED);
        }
        d->key_gen[id] = 0;
        d->val_gen[id] = 0;
    }
}

/* Everything present is intact: found, with its own key and value. */
static void d_verify(dmap *d) {
    CHECK_MAP(d->m);
    size_t n = 0;
    for (size_t id = 0; id < NIDS; id++) {
        const void *sk = NULL;
        void *v = gomap_get_key(d->m, mk_key(d, id, 0), &sk);
        CHECK_EQ(v != NULL, present(d, id));
        if (!v) continue;
        n++;
        rm_owned_key k;
        rm_owned_val val;
        memcpy(&k, sk, sizeof k);
        memcpy(&val, v, sizeof val);
        CHECK_EQ(k.id, id);
        CHECK_EQ(k.gen, d->key_gen[id]);
        CHECK_EQ(val.gen, d->val_gen[id]);
        CHECK_EQ(rm_inst[k.gen], RM_IN_MAP);
        CHECK_EQ(rm_inst[val.gen], RM_IN_MAP);
        /* the padding after the tracked fields was copied too */
        const unsigned char *kb = (const unsigned char *)sk, *vb = (const unsigned char *)v;
        for (size_t i = sizeof k; i < d->t.key_size; i++) CHECK_EQ(kb[i], 0xEE);
        for (size_t i = sizeof val; i < d->t.val_size; i++) CHECK_EQ(vb[i], 0xDD);
    }
    CHECK_EQ(gomap_len(d->m), n);
}

static const struct {
    size_t ks, vs;
} shapes[] = {{16, 16}, {16, 200}, {200, 16}, {200, 256}, {128, 128}};

/* ---- the tests -------------------------------------------------------------------- */

/* Each operation on its own, no iterators. */
static void test_each_operation(void) {
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int ku = 0; ku < 2; ku++) {
            dmap *d = d_new(ku ? GOMAP_F_KEY_UPDATE : 0, shapes[sh].ks, shapes[sh].vs, 0);
            for (size_t id = 0; id < 300; id++) d_put(d, id); /* grows: nothing destroyed */
            d_verify(d);
            for (size_t id = 0; id < 300; id += 3) d_put(d, id); /* overwrite */
            for (size_t id = 1; id < 300; id += 3) d_assign(d, id); /* hit */
            for (size_t id = 300; id < 350; id++) d_assign(d, id); /* insert */
            d_verify(d);
            for (size_t id = 0; id < 350; id += 2) d_delete(d, id);
            d_delete(d, 0); /* absent: nothing */
            d_delete(d, 1999);
            d_verify(d);
            d_clear(d);
            d_verify(d);
            for (size_t id = 0; id < 100; id++) d_put(d, id);
            d_verify(d);
            d_free(d); /* destroys the 100 left */
        }
}

/* Random operations with a check after each. */
static void test_random(void) {
    long ops = tu_scaled(100000, 10000);
    tu_seed(4242);
    dmap *d = d_new(GOMAP_F_KEY_UPDATE, 16, 16, 0);
    for (long i = 0; i < ops; i++) {
        size_t id = (size_t)(tu_rand() % 500);
        unsigned x = (unsigned)(tu_rand() % 100);
        if (x < 40) d_put(d, id);
        else if (x < 55) d_assign(d, id);
        else if (x < 95) d_delete(d, id);
        else if (x == 95 && tu_rand() % 20 == 0) d_clear(d);
        if (i % 1000 == 0) d_verify(d);
    }
    d_verify(d);
    d_free(d);
}

/* With iterators live: deletes, overwrites with key update and clears keep
   the old keys intact for the iterator (hash/equal would abort on a
   destroyed key), and everything is destroyed once by the end. */
static void test_with_iterators(void) {
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int round = 0; round < 20; round++) {
            dmap *d = d_new(GOMAP_F_KEY_UPDATE, shapes[sh].ks, shapes[sh].vs, 0);
            for (size_t id = 0; id < 60; id++) d_put(d, id);
            gomap_iter it, it2;
            gomap_iter_init(&it, d->m);
            d->live_iters = 1;
            size_t steps = 0;
            bool second = false;
            while (gomap_iter_next(&it)) {
                rm_owned_key k;
                memcpy(&k, it.key, sizeof k);
                CHECK(k.id < NIDS);
                CHECK_EQ(rm_inst[k.gen], RM_IN_MAP); /* produced keys are the live instance */
                CHECK_EQ(k.gen, d->key_gen[k.id]);
                switch (steps++ % 5) {
                case 0: /* grow under the iterator */
                    for (size_t j = 0; j < 40; j++) d_put(d, 100 + (steps * 40 + j) % 1800);
                    break;
                case 1: /* delete keys not yet reached, and the current one */
                    for (size_t j = 0; j < 10; j++) d_delete(d, (steps * 7 + j) % 60);
                    d_delete(d, k.id);
                    break;
                case 2: /* replace keys (key update destroys the old one) */
                    for (size_t j = 0; j < 10; j++) d_put(d, (steps * 11 + j) % 60);
                    break;
                case 3:
                    if (!second) {
                        gomap_iter_init(&it2, d->m);
                        d->live_iters = 2;
                        second = true;
                        CHECK(gomap_iter_next(&it2));
                    }
                    for (size_t j = 0; j < 5; j++) d_assign(d, (steps * 13 + j) % 60);
                    break;
                default:
                    if (round % 4 == 0 && steps > 30) d_clear(d);
                    break;
                }
            }
            d->live_iters = second ? 1 : 0;
            if (second) {
                while (gomap_iter_next(&it2)) {
                    rm_owned_key k;
                    memcpy(&k, it2.key, sizeof k);
                    CHECK_EQ(rm_inst[k.gen], RM_IN_MAP);
                }
                d->live_iters = 0;
            }
            /* no iterator now: the next write runs the deferred destructors
               (an insert and a delete of a fresh key: a write even when a
               clear emptied the map) */
            uint64_t kg = rm_new_gen(), vg = rm_new_gen();
            rm_inst[kg] = rm_inst[vg] = RM_IN_MAP;
            CHECK_EQ(gomap_put(d->m, mk_key(d, 1999, kg), mk_val(d, vg, 1999)), 1);
            rm_inst[kg] = rm_inst[vg] = RM_RELEASED;
            CHECK_EQ(gomap_delete(d->m, mk_key(d, 1999, 0)), 1);
            for (uint64_t g = 1; g < rm_next_gen; g++) CHECK(rm_inst[g] != RM_RELEASED);
            d_verify(d);
            d_free(d);
        }
}

/* An abandoned iterator (gomap_iter_done) also lets the deferred work run;
   and a map freed while an iterator is parked on it destroys everything. */
static void test_abandoned_iterator(void) {
    dmap *d = d_new(0, 16, 16, 0);
    for (size_t id = 0; id < 100; id++) d_put(d, id);
    gomap_iter it;
    gomap_iter_init(&it, d->m);
    CHECK(gomap_iter_next(&it));
    d->live_iters = 1;
    for (size_t id = 0; id < 100; id += 2) d_delete(d, id);
    for (size_t id = 100; id < 400; id++) d_put(d, id);
    gomap_iter_done(&it);
    d->live_iters = 0;
    d_delete(d, 1); /* a write with no iterator live */
    for (uint64_t g = 1; g < rm_next_gen; g++) CHECK(rm_inst[g] != RM_RELEASED);
    d_verify(d);
    /* parked iterator at free time: free must still destroy everything once */
    gomap_iter_init(&it, d->m);
    CHECK(gomap_iter_next(&it));
    d->live_iters = 1;
    for (size_t id = 3; id < 100; id += 2) d_delete(d, id);
    d_free(d); /* the iterator is not used again */
}

/* Only destructors that are set are called; a map without destructors
   works as usual (no calls at all). */
static void test_only_one_destructor(void) {
    gomap_type t = rm_owned_type(0);
    t.key_destroy = NULL;
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    uint64_t kd = rm_key_destroys, vd = rm_val_destroys;
    uint64_t gens[50];
    for (uint64_t id = 0; id < 50; id++) {
        rm_owned_key k = {id, rm_new_gen()};
        rm_owned_val v = {rm_new_gen(), id};
        gens[id] = v.gen;
        rm_inst[v.gen] = RM_IN_MAP;
        CHECK_EQ(gomap_put(m, &k, &v), 1);
    }
    for (uint64_t id = 0; id < 50; id += 2) {
        rm_owned_key k = {id, 0};
        rm_inst[gens[id]] = RM_RELEASED;
        CHECK_EQ(gomap_delete(m, &k), 1);
        CHECK_EQ(rm_inst[gens[id]], RM_DESTROYED);
    }
    CHECK_EQ(rm_key_destroys, kd);
    CHECK_EQ(rm_val_destroys, vd + 25);
    rm_freeing = true;
    gomap_free(m);
    rm_freeing = false;
    CHECK_EQ(rm_key_destroys, kd);
    CHECK_EQ(rm_val_destroys, vd + 50);
}

/* gomap_clone of a map with destructors: gomap.h says keys and values are
   copied bytewise and the destructors are shared, so each map destroys its
   own copies.  Counted with plain counters (no ownership). */
static unsigned long clone_kd, clone_vd;
static void count_key(void *k) {
    (void)k;
    clone_kd++;
}
static void count_val(void *v) {
    (void)v;
    clone_vd++;
}

/* Clone refuses a type with destructors: a bytewise copy would make both
   maps destroy the same resources (gomap.h, gomap_clone). */
static void test_clone_with_destructors(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    t.key_destroy = count_key;
    t.val_destroy = count_val;
    CHECK_EQ(gomap_type_check(&t), GOMAP_OK);
    gomap *m = gomap_new(&t, 0);
    CHECK(m != NULL);
    for (uint64_t k = 0; k < 100; k++) CHECK_EQ(gomap_put(m, &k, &k), 1);
    CHECK(gomap_clone(m) == NULL);
    CHECK_EQ(clone_kd, 0);
    CHECK_EQ(gomap_len(m), 100);
    CHECK_MAP(m);
    gomap_free(m);
    CHECK_EQ(clone_kd, 100);
    CHECK_EQ(clone_vd, 100);
}

int main(void) {
    RUN(test_each_operation);
    RUN(test_random);
    RUN(test_with_iterators);
    RUN(test_abandoned_iterator);
    RUN(test_only_one_destructor);
    RUN(test_clone_with_destructors);
    return tu_finish();
}

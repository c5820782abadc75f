/*
 * map_urcu.c -- liburcu's lock-free resizable hash table (rculfhash) with
 * the membarrier flavour (urcu-memb), as its documentation recommends using
 * it: every operation inside a read-side critical section, one node per
 * entry (values immutable: updates publish a new node with
 * cds_lfht_add_replace / cds_lfht_replace), unlinked nodes freed through
 * call_rcu (liburcu's background thread).  Worker threads register.
 */
#define _LGPL_SOURCE 1
#include "sync_bench.h"

#include <stddef.h>
#include <stdlib.h>
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

typedef struct ur_node {
    struct cds_lfht_node node;
    uint64_t key, val;
    struct rcu_head rcu;
} ur_node;

struct sb_map {
    struct cds_lfht *ht;
};

#define UR_OF(n) ((ur_node *)(void *)((char *)(n) - offsetof(ur_node, node)))

static int ur_match(struct cds_lfht_node *n, const void *key) {
    return UR_OF(n)->key == *(const uint64_t *)key;
}

static ur_node *ur_new(uint64_t k, uint64_t v) {
    ur_node *n = (ur_node *)malloc(sizeof *n);
    if (!n) abort();
    cds_lfht_node_init(&n->node);
    n->key = k;
    n->val = v;
    return n;
}

static void ur_free_cb(struct rcu_head *h) {
    free((char *)h - offsetof(ur_node, rcu));
}

static void ur_retire(struct cds_lfht_node *n) { urcu_memb_call_rcu(&UR_OF(n)->rcu, ur_free_cb); }

static sb_map *ur_create(void) {
    sb_map *m = (sb_map *)malloc(sizeof *m);
    if (!m) abort();
    m->ht = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
                                &urcu_memb_flavor, NULL);
    if (!m->ht) abort();
    return m;
}

static void ur_destroy(sb_map *m) {
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;
    urcu_memb_read_lock();
    cds_lfht_for_each(m->ht, &it, n) {
        if (cds_lfht_del(m->ht, n) == 0) ur_retire(n);
    }
    urcu_memb_read_unlock();
    urcu_memb_barrier(); /* every call_rcu callback has run */
    cds_lfht_destroy(m->ht, NULL);
    free(m);
}

static unsigned long ur_hash(uint64_t k) { return (unsigned long)sb_mix64(k); }

static bool ur_load(sb_map *m, uint64_t k, uint64_t *v) {
    struct cds_lfht_iter it;
    urcu_memb_read_lock();
    cds_lfht_lookup(m->ht, ur_hash(k), ur_match, &k, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (n) *v = UR_OF(n)->val;
    urcu_memb_read_unlock();
    return n != NULL;
}

static void ur_store(sb_map *m, uint64_t k, uint64_t v) {
    ur_node *nn = ur_new(k, v);
    urcu_memb_read_lock();
    struct cds_lfht_node *old = cds_lfht_add_replace(m->ht, ur_hash(k), ur_match, &k, &nn->node);
    if (old) ur_retire(old);
    urcu_memb_read_unlock();
}

static bool ur_los(sb_map *m, uint64_t k, uint64_t v, uint64_t *actual) {
    if (ur_load(m, k, actual)) return true;
    ur_node *nn = ur_new(k, v);
    urcu_memb_read_lock();
    struct cds_lfht_node *got = cds_lfht_add_unique(m->ht, ur_hash(k), ur_match, &k, &nn->node);
    bool loaded = got != &nn->node;
    *actual = UR_OF(got)->val;
    urcu_memb_read_unlock();
    if (loaded) free(nn);
    return loaded;
}

static bool ur_lad(sb_map *m, uint64_t k, uint64_t *v) {
    struct cds_lfht_iter it;
    bool done = false;
    urcu_memb_read_lock();
    for (;;) {
        cds_lfht_lookup(m->ht, ur_hash(k), ur_match, &k, &it);
        struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
        if (!n) break;
        if (cds_lfht_del(m->ht, n) == 0) {
            if (v) *v = UR_OF(n)->val;
            ur_retire(n);
            done = true;
            break;
        }
    }
    urcu_memb_read_unlock();
    return done;
}

static void ur_del(sb_map *m, uint64_t k) { ur_lad(m, k, NULL); }

static bool ur_swap(sb_map *m, uint64_t k, uint64_t v, uint64_t *prev) {
    ur_node *nn = ur_new(k, v);
    urcu_memb_read_lock();
    struct cds_lfht_node *old = cds_lfht_add_replace(m->ht, ur_hash(k), ur_match, &k, &nn->node);
    if (old) {
        *prev = UR_OF(old)->val;
        ur_retire(old);
    }
    urcu_memb_read_unlock();
    return old != NULL;
}

static bool ur_cas(sb_map *m, uint64_t k, uint64_t old, uint64_t nv) {
    struct cds_lfht_iter it;
    ur_node *nn = NULL;
    bool done = false;
    urcu_memb_read_lock();
    for (;;) {
        cds_lfht_lookup(m->ht, ur_hash(k), ur_match, &k, &it);
        struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
        if (!n || UR_OF(n)->val != old) break;
        if (!nn) nn = ur_new(k, nv);
        if (cds_lfht_replace(m->ht, &it, ur_hash(k), ur_match, &k, &nn->node) == 0) {
            ur_retire(n);
            nn = NULL;
            done = true;
            break;
        }
    }
    urcu_memb_read_unlock();
    free(nn);
    return done;
}

static bool ur_cad(sb_map *m, uint64_t k, uint64_t old) {
    struct cds_lfht_iter it;
    bool done = false;
    urcu_memb_read_lock();
    for (;;) {
        cds_lfht_lookup(m->ht, ur_hash(k), ur_match, &k, &it);
        struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
        if (!n || UR_OF(n)->val != old) break;
        if (cds_lfht_del(m->ht, n) == 0) {
            ur_retire(n);
            done = true;
            break;
        }
    }
    urcu_memb_read_unlock();
    return done;
}

static void ur_range(sb_map *m, sb_range_cb fn, void *ctx) {
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;
    urcu_memb_read_lock();
    cds_lfht_for_each(m->ht, &it, n) {
        if (!fn(UR_OF(n)->key, UR_OF(n)->val, ctx)) break;
    }
    urcu_memb_read_unlock();
}

static void ur_enter(void) { urcu_memb_register_thread(); }
static void ur_leave(void) { urcu_memb_unregister_thread(); }

const sb_ops sb_urcu_ops = {
    "urcu_lfht", 0, ur_create, ur_destroy, ur_enter, ur_leave, ur_load, ur_store, ur_los,
    ur_lad, ur_del, ur_swap, ur_cas, ur_cad, ur_range,
};
